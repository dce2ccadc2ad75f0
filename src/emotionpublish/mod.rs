// SPDX-License-Identifier: MIT
/**
 * element-emotionpublish:
 *
 * Sends each buffer's emotion report (the `GstEmotionReportMeta` that `emotiondetect` attaches)
 * as one JSON object (DL Streamer's gvametaconvert shape, `docs/conventions.md`) to a JSON lines
 * file (`location`, `-` for stdout), an MQTT broker (`uri=mqtt://…` or `mqtts://…`) or Kafka
 * (`uri=kafka://…`, keyed by the source id), as DL Streamer's `gvametapublish` does. Sending runs on its own thread behind a bounded queue
 * (`queue-size`, the oldest dropped and counted in `dropped`): the video never waits on a disk
 * or a broker. At EOS it waits at most `flush-timeout` for the queue and warns about what was
 * not delivered. Buffers pass through unchanged; those without a report are logged (debug).
 * `mode=events` sends per person a `new`, `update` and `end` event instead of every frame
 * (Frigate's `frigate/events`; `emotiondetect_core::events`), and over MQTT keeps
 * `TOPIC/available` at `online`/`offline` (retained; `offline` is also the MQTT will), over Kafka
 * sends them to `TOPIC.available` keyed by the source id.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 filesrc location=Megamind.avi ! decodebin ! videoconvert ! emotiondetect ! emotionpublish location=faces.jsonl ! fakesink
 * gst-launch-1.0 v4l2src ! emotiondetect ! emotionpublish uri=mqtt://127.0.0.1/cameras/door source-id=door ! autovideosink
 * gst-launch-1.0 v4l2src ! emotiondetect ! emotionpublish uri=kafka://127.0.0.1:9092/emotions source-id=door mode=events ! autovideosink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

/// What `emotionpublish` sends (`mode`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstEmotionPublishMode")]
pub enum PublishMode {
    #[default]
    #[enum_value(name = "One message per frame (DL Streamer gvametaconvert shape)", nick = "frames")]
    Frames = 0,
    #[enum_value(name = "Per person: new, update on a change or every event-interval, end (Frigate's events)", nick = "events")]
    Events = 1,
}

glib::wrapper! {
    pub struct EmotionPublish(ObjectSubclass<imp::EmotionPublish>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    PublishMode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "emotionpublish", gst::Rank::NONE, EmotionPublish::static_type())
}
