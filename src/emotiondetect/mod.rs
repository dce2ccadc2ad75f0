// SPDX-License-Identifier: MIT
/**
 * element-emotiondetect:
 *
 * An in-place video filter that finds faces (YuNet or UltraFace), classifies each face's
 * emotion with ONNX Runtime (all faces of a frame in batched calls; CUDA or CPU), attaches one
 * `GstVideoRegionOfInterestMeta` per face (DL Streamer's `detection`, `emotion`, `object_id` and
 * `landmarks` parameters), posts one `emotiondetect` element message per frame, can write one
 * JSON line per frame (`metadata-file`), and draws boxes and labels.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 v4l2src ! videoconvert ! emotiondetect ! videoconvert ! autovideosink
 * gst-launch-1.0 -m filesrc location=Megamind.avi ! decodebin ! emotiondetect metadata-file=faces.jsonl ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;
mod outputs;

glib::wrapper! {
    pub struct EmotionDetect(ObjectSubclass<imp::EmotionDetect>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "emotiondetect", gst::Rank::NONE, EmotionDetect::static_type())
}
