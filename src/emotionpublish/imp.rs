// SPDX-License-Identifier: MIT
// The emotionpublish element: each buffer's `ReportMeta` serialised once and handed to a
// `LineSender` (file), `Publisher` (MQTT) or `KafkaPublisher`, which queue and send on their
// own threads.
//
// Locks: `settings` and `sink` are each held only to copy a value (the settings, the sink's
// `Arc`), never together, never across a send, a flush or a wait. `dropped` is read from the
// sink's own counters, so an application reading it during EOS never waits for the flush.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use base64::Engine as _;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use crate::errors::error_message;
use crate::report_meta::ReportMeta;
use emotiondetect_core::error::{Error, Result};
use emotiondetect_core::events::{EventOptions, EventTracker, PersonLimits};
use emotiondetect_core::export::LineSender;
use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::kafka::{KafkaOptions, KafkaPublisher, KafkaTarget};
use emotiondetect_core::publish::{MqttTarget, Notice, PublishOptions, Publisher};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("emotionpublish", gst::DebugColorFlags::empty(), Some("Emotion report publisher")));

const DEFAULT_QOS: u32 = 1;
/// About five seconds of frames at 30 fps.
const DEFAULT_QUEUE_SIZE: u32 = 150;
/// How long EOS waits for the queue to be delivered, ms.
const DEFAULT_FLUSH_TIMEOUT: u32 = 5000;
/// `mode=events`: seconds between the updates of a person whose emotion does not change.
const DEFAULT_EVENT_INTERVAL: u32 = 10;
/// `mode=events`: the limits of a person, as `emotiondetect-video`'s (docs/video-tool.md).
const DEFAULT_MIN_TRACK_SECONDS: f64 = PersonLimits::DEFAULT.min_seconds;
const DEFAULT_MIN_TRACK_CONFIDENCE: f64 = PersonLimits::DEFAULT.min_confidence;

/// The property values, read at NULL->READY.
#[derive(Clone, Debug)]
struct Settings {
    location: Option<PathBuf>,
    uri: Option<String>,
    qos: u32,
    queue_size: u32,
    source_id: Option<String>,
    flush_timeout: u32,
    mode: super::PublishMode,
    event_interval: u32,
    event_thumbnails: bool,
    min_track_seconds: f64,
    min_track_confidence: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            location: None,
            uri: None,
            qos: DEFAULT_QOS,
            queue_size: DEFAULT_QUEUE_SIZE,
            source_id: None,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            mode: super::PublishMode::Frames,
            event_interval: DEFAULT_EVENT_INTERVAL,
            event_thumbnails: false,
            min_track_seconds: DEFAULT_MIN_TRACK_SECONDS,
            min_track_confidence: DEFAULT_MIN_TRACK_CONFIDENCE,
        }
    }
}

/// Where the reports go.
enum Sink {
    File { sender: LineSender, path: PathBuf },
    Mqtt(Publisher),
    Kafka(KafkaPublisher),
}

impl Sink {
    /// Queues one line (Kafka: keyed by `source_id`); never blocks.
    ///
    /// Errors: the file's write error, once writing has failed.
    fn send(&self, json: String, source_id: &str) -> Result<()> {
        match self {
            Sink::File { sender, .. } => return sender.send(json),
            Sink::Mqtt(p) => p.publish(json.into_bytes()),
            Sink::Kafka(p) => p.publish(source_id, json.as_bytes()),
        }
        Ok(())
    }

    fn dropped(&self) -> u64 {
        match self {
            Sink::File { sender, .. } => sender.dropped(),
            Sink::Mqtt(p) => p.dropped(),
            Sink::Kafka(p) => p.dropped(),
        }
    }

    fn delivered(&self) -> u64 {
        match self {
            Sink::File { sender, .. } => sender.delivered(),
            Sink::Mqtt(p) => p.delivered(),
            Sink::Kafka(p) => p.delivered(),
        }
    }

    /// Waits at most `timeout`. Returns the messages left then that were counted in `dropped`
    /// (MQTT: written off), and the lines left that `close` writes (file).
    fn flush(&self, timeout: Duration) -> (u64, u64) {
        match self {
            Sink::File { sender, .. } => (0, sender.flush(timeout)),
            Sink::Mqtt(p) => (p.flush(timeout), 0),
            Sink::Kafka(p) => (p.flush(timeout), 0),
        }
    }

    /// Stops the sink (a file writes what is queued first); what an MQTT queue still holds is
    /// counted. Returns the final `dropped`.
    fn close(&self) -> u64 {
        match self {
            Sink::File { sender, .. } => sender.close(),
            Sink::Mqtt(p) => p.close(),
            Sink::Kafka(p) => p.close(),
        }
    }

    /// The file or the broker and topic (without credentials).
    fn describe(&self) -> String {
        match self {
            Sink::File { path, .. } => path.display().to_string(),
            Sink::Mqtt(p) => p.target().to_string(),
            Sink::Kafka(p) => p.target().to_string(),
        }
    }
}

/// What a running element sends with.
struct Running {
    sink: Sink,
    source_id: Option<String>,
    flush_timeout: Duration,
    /// `mode=events`: the tracks, fed by the streaming thread (and finished at EOS or stop).
    events: Option<Mutex<EventTracker>>,
    thumbnails: bool,
}

#[derive(Default)]
pub struct EmotionPublish {
    settings: Mutex<Settings>,
    running: Mutex<Option<Arc<Running>>>,
    /// `dropped` and `delivered` of the last run, kept from READY->NULL until the next
    /// NULL->READY, so that an application can read the totals after the pipeline stopped.
    last_dropped: AtomicU64,
    last_delivered: AtomicU64,
    /// The raw video format of the buffers, for event thumbnails (`None`: not raw video).
    video_info: Mutex<Option<gst_video::VideoInfo>>,
}

#[glib::object_subclass]
impl ObjectSubclass for EmotionPublish {
    const NAME: &'static str = "GstEmotionPublish";
    type Type = super::EmotionPublish;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for EmotionPublish {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("Write one JSON object per frame, per line (DL Streamer gvametaconvert shape) to this file, or to stdout for '-' (default: none)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("uri")
                    .nick("URI")
                    .blurb(
                        "Publish each message to an MQTT broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (port 1883) or \
                         mqtts://... (TLS, 8883), credentials also from EMOTIONDETECT_MQTT_USERNAME/PASSWORD; or to Kafka: \
                         kafka://HOST[:PORT][,HOST[:PORT]...]/TOPIC[?LIBRDKAFKA-PROPERTY=VALUE&...] (port 9092, keyed by \
                         source-id), SASL credentials also from EMOTIONDETECT_KAFKA_USERNAME/PASSWORD (default: none)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("qos")
                    .nick("QoS")
                    .blurb("MQTT QoS of the messages: 0 at most once, 1 at least once (default: 1)")
                    .maximum(1)
                    .default_value(DEFAULT_QOS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("queue-size")
                    .nick("Queue size")
                    .blurb("Messages kept while the file or broker is behind or away; past it the oldest are dropped and counted (default: 150, 5 s at 30 fps)")
                    .minimum(1)
                    .maximum(1_000_000)
                    .default_value(DEFAULT_QUEUE_SIZE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("dropped")
                    .nick("Dropped")
                    .blurb(
                        "Messages not delivered so far: dropped from the full queue, lost with a write error or refused after one \
                         (file), still queued when the EOS flush timed out or the element stopped (MQTT); the figure of the \
                         warning at EOS; kept after the element stops, until the next NULL->READY (read-only)",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("delivered")
                    .nick("Delivered")
                    .blurb(
                        "Messages delivered so far: lines written (file), acknowledged by the broker (MQTT QoS 1, Kafka) or handed \
                         to the connection (MQTT QoS 0); kept after the element stops, until the next NULL->READY (read-only)",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("source-id")
                    .nick("Source id")
                    .blurb("Camera or stream name written as source_id (default: emotiondetect's, the stream's URI, else the emotiondetect element's name)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", super::PublishMode::Frames)
                    .nick("Mode")
                    .blurb(
                        "frames: one message per frame; events: per person a 'new', an 'update' when their dominant emotion \
                         changes or every event-interval, and an 'end' (Frigate's events; docs/surveillance.md) (default: frames)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("event-interval")
                    .nick("Event interval")
                    .blurb("mode=events: also send an update every this many seconds while a person stays; 0 = on changes only (default: 10)")
                    .maximum(86_400)
                    .default_value(DEFAULT_EVENT_INTERVAL)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("event-thumbnails")
                    .nick("Event thumbnails")
                    .blurb("mode=events: add each person's most confident face as a small JPEG (base64) to their events (default: false)")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("min-track-seconds")
                    .nick("Minimum track seconds")
                    .blurb("mode=events: a track becomes a person (a 'new' event) once seen this long, seconds (default: 0.5)")
                    .minimum(0.0)
                    .maximum(3600.0)
                    .default_value(DEFAULT_MIN_TRACK_SECONDS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("min-track-confidence")
                    .nick("Minimum track confidence")
                    .blurb(
                        "mode=events: a track whose faces were classified becomes a person only with a mean detector \
                         confidence of at least this, 0..1 (default: 0.8)",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_MIN_TRACK_CONFIDENCE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("flush-timeout")
                    .nick("Flush timeout")
                    .blurb("At EOS, wait at most this many milliseconds for queued messages to be delivered (default: 5000)")
                    .maximum(3_600_000)
                    .default_value(DEFAULT_FLUSH_TIMEOUT)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let text = |v: &glib::Value| v.get::<Option<String>>().ok().flatten().filter(|s| !s.is_empty());
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location = value.get::<Option<PathBuf>>().ok().flatten().filter(|p| !p.as_os_str().is_empty()),
            "uri" => s.uri = text(value),
            "qos" => s.qos = value.get().expect("type checked upstream"),
            "queue-size" => s.queue_size = value.get().expect("type checked upstream"),
            "source-id" => s.source_id = text(value),
            "flush-timeout" => s.flush_timeout = value.get().expect("type checked upstream"),
            "mode" => s.mode = value.get().expect("type checked upstream"),
            "event-interval" => s.event_interval = value.get().expect("type checked upstream"),
            "event-thumbnails" => s.event_thumbnails = value.get().expect("type checked upstream"),
            "min-track-seconds" => s.min_track_seconds = value.get().expect("type checked upstream"),
            "min-track-confidence" => s.min_track_confidence = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
        drop(s);
        if self.obj().current_state() > gst::State::Null {
            gst::debug!(CAT, imp = self, "{} set while running: it takes effect at the next NULL->READY", pspec.name());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "dropped" {
            let running = self.running.lock().unwrap().clone();
            return running.map_or_else(|| self.last_dropped.load(Ordering::Relaxed), |r| r.sink.dropped()).to_value();
        }
        if pspec.name() == "delivered" {
            let running = self.running.lock().unwrap().clone();
            return running.map_or_else(|| self.last_delivered.load(Ordering::Relaxed), |r| r.sink.delivered()).to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location.to_value(),
            // Never the password.
            "uri" => s.uri.as_deref().map(shown_uri).to_value(),
            "qos" => s.qos.to_value(),
            "queue-size" => s.queue_size.to_value(),
            "source-id" => s.source_id.to_value(),
            "flush-timeout" => s.flush_timeout.to_value(),
            "mode" => s.mode.to_value(),
            "event-interval" => s.event_interval.to_value(),
            "event-thumbnails" => s.event_thumbnails.to_value(),
            "min-track-seconds" => s.min_track_seconds.to_value(),
            "min-track-confidence" => s.min_track_confidence.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for EmotionPublish {}

impl ElementImpl for EmotionPublish {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Emotion report publisher",
                "Filter/Metadata/Video",
                "Sends each frame's emotiondetect report as JSON (DL Streamer gvametaconvert shape) to a JSON lines file \
                 or an MQTT broker, from its own thread through a bounded queue; buffers pass through",
                "emotiondetect developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::new_any();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> std::result::Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            // A new run counts from 0, even when it fails to start.
            self.last_dropped.store(0, Ordering::Relaxed);
            self.last_delivered.store(0, Ordering::Relaxed);
            let running = self.start_sink().map_err(|e| {
                self.post_error_message(error_message(&e));
                gst::StateChangeError
            })?;
            gst::info!(CAT, imp = self, "sending to {} (queue {})", running.sink.describe(), self.settings.lock().unwrap().queue_size);
            *self.running.lock().unwrap() = Some(Arc::new(running));
        }
        let result = self.parent_change_state(transition);
        if transition == gst::StateChange::ReadyToNull || (result.is_err() && transition == gst::StateChange::NullToReady) {
            self.stop_sink();
        }
        result
    }
}

impl BaseTransformImpl for EmotionPublish {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            self.flush_at_eos();
        }
        self.parent_sink_event(event)
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> std::result::Result<(), gst::LoggableError> {
        *self.video_info.lock().unwrap() = gst_video::VideoInfo::from_caps(incaps).ok();
        self.parent_set_caps(incaps, outcaps)
    }

    fn transform_ip_passthrough(&self, buf: &gst::Buffer) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        let Some(meta) = buf.meta::<ReportMeta>() else {
            gst::debug!(CAT, imp = self, "buffer {:?} has no emotion report: passed on", buf.pts());
            return Ok(gst::FlowSuccess::Ok);
        };
        let running = self.running.lock().unwrap().clone().ok_or(gst::FlowError::Flushing)?;
        let report = meta.report();
        let renamed;
        let report: &FrameReport = match &running.source_id {
            Some(id) if *id != report.source_id => {
                let mut r = (**report).clone();
                r.source_id = id.clone();
                renamed = r;
                &renamed
            }
            _ => report,
        };
        let messages = match &running.events {
            None => vec![report.to_json()],
            Some(tracker) => {
                if let Sink::Kafka(p) = &running.sink {
                    p.announce(&report.source_id);
                }
                self.events_of(&running, tracker, report, buf)
            }
        };
        for json in messages {
            if let Err(e) = running.sink.send(json, &report.source_id) {
                // The sender posted the error when it happened; the stream stops, as filesink's does.
                gst::debug!(CAT, imp = self, "not sent: {e}");
                return Err(gst::FlowError::Error);
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl EmotionPublish {
    /// `mode=events`: the events `report` causes, as JSON; thumbnails cropped from `buf`.
    fn events_of(&self, running: &Running, tracker: &Mutex<EventTracker>, report: &FrameReport, buf: &gst::Buffer) -> Vec<String> {
        let info = if running.thumbnails { self.video_info.lock().unwrap().clone() } else { None };
        // A frame that cannot be cropped (not raw video, an odd format) only costs the thumbnail.
        let mut thumbnail = |_id: u64, b: [u32; 4]| -> Option<String> {
            let image = crate::thumbnail::crop(buf, info.as_ref()?, (b[0], b[1], b[2], b[3])).ok()?;
            let jpeg = crate::thumbnail::jpeg(&image).ok()?;
            Some(base64::engine::general_purpose::STANDARD.encode(jpeg))
        };
        tracker.lock().unwrap().push(report, &mut thumbnail).iter().map(|e| e.to_json()).collect()
    }

    /// `mode=events`: queues an `end` for every person still in view (the stream ends or stops).
    /// Returns how many.
    fn finish_events(&self, running: &Running) -> usize {
        let Some(tracker) = &running.events else { return 0 };
        let ends = tracker.lock().unwrap().finish();
        for e in &ends {
            let _ = running.sink.send(e.to_json(), &e.source_id);
        }
        ends.len()
    }

    /// Opens `location` or starts the MQTT or Kafka client for `uri`.
    ///
    /// Errors: neither or both set; the file cannot be created (its path and the OS reason);
    /// the URI does not parse or TLS cannot be set up.
    fn start_sink(&self) -> Result<Running> {
        let s = self.settings.lock().unwrap().clone();
        let sink = match (&s.location, &s.uri) {
            (Some(path), None) => {
                let weak = self.obj().downgrade();
                let sender = LineSender::start(path, s.queue_size as usize, move |e| {
                    if let Some(element) = weak.upgrade() {
                        element.imp().post_error_message(error_message(e));
                    }
                })?;
                Sink::File { sender, path: path.clone() }
            }
            (None, Some(uri)) if uri.starts_with("kafka://") => Sink::Kafka(self.start_kafka(uri, &s)?),
            (None, Some(uri)) => Sink::Mqtt(self.start_publisher(uri, &s)?),
            (location, uri) => {
                let usage = ["location=PATH (JSON lines, - for stdout)", "uri=mqtt://HOST[:PORT]/TOPIC or kafka://HOST[:PORT]/TOPIC"]
                    .map(String::from)
                    .to_vec();
                let set = [location.is_some().then_some("location"), uri.is_some().then_some("uri")]
                    .into_iter()
                    .flatten()
                    .map(String::from)
                    .collect();
                return Err(Error::OneOf { element: "emotionpublish".into(), usage, set });
            }
        };
        let events = (s.mode == super::PublishMode::Events).then(|| {
            Mutex::new(EventTracker::new(EventOptions {
                interval_ns: u64::from(s.event_interval) * 1_000_000_000,
                person: PersonLimits { min_seconds: s.min_track_seconds, min_confidence: s.min_track_confidence },
            }))
        });
        let flush_timeout = Duration::from_millis(s.flush_timeout as u64);
        Ok(Running { sink, source_id: s.source_id, flush_timeout, events, thumbnails: s.event_thumbnails })
    }

    /// Starts publishing to `uri`; the broker's notices become warnings.
    ///
    /// Errors: the URI does not parse (naming the value), or TLS cannot be set up.
    fn start_publisher(&self, uri: &str, s: &Settings) -> Result<Publisher> {
        let target = MqttTarget::parse(uri)?;
        let options = PublishOptions {
            qos: s.qos as u8,
            queue_size: s.queue_size as usize,
            client_id: format!("emotiondetect-{}-{}", std::process::id(), self.obj().name()),
            availability: (s.mode == super::PublishMode::Events).then(|| format!("{}/available", target.topic)),
        };
        Publisher::start(&target, &options, self.warn_notices(format!("MQTT broker {target}"), "keeping the newest messages"))
    }

    /// Starts the Kafka producer for `uri`; its notices become warnings.
    ///
    /// Errors: the URI does not parse, or librdkafka refuses its properties (naming the value).
    fn start_kafka(&self, uri: &str, s: &Settings) -> Result<KafkaPublisher> {
        let target = KafkaTarget::parse(uri)?;
        let options = KafkaOptions {
            queue_size: s.queue_size as usize,
            client_id: format!("emotiondetect-{}-{}", std::process::id(), self.obj().name()),
            availability: (s.mode == super::PublishMode::Events).then(|| format!("{}.available", target.topic)),
        };
        let notify = self.warn_notices(format!("Kafka {target}"), "keeping what the queue holds");
        let publisher = KafkaPublisher::start(&target, &options, notify)?;
        if let Some(id) = &s.source_id {
            publisher.announce(id);
        }
        Ok(publisher)
    }

    /// A publisher's notices as element warnings; `broker` names it, `kept` says what waits.
    fn warn_notices(&self, broker: String, kept: &'static str) -> impl Fn(Notice) + Send + Sync + 'static {
        let weak = self.obj().downgrade();
        move |notice| {
            let Some(element) = weak.upgrade() else { return };
            let imp = element.imp();
            match notice {
                Notice::Unreachable { reason } => {
                    gst::element_imp_warning!(imp, gst::ResourceError::OpenWrite, ("{broker} unreachable ({reason}); retrying, {kept}"))
                }
                Notice::Recovered { seconds, dropped } => gst::element_imp_warning!(
                    imp,
                    gst::ResourceError::Write,
                    ("{broker} was away for {seconds:.1} s: {dropped} messages dropped")
                ),
            }
        }
    }

    /// Closes the sink and keeps its final `dropped` until the next NULL->READY.
    fn stop_sink(&self) {
        // Closed outside the lock (a file sender writes what is still queued first), while
        // `dropped` still reads the live counter; taken out once the total is kept.
        let running = self.running.lock().unwrap().clone();
        if let Some(r) = running {
            // Stopped without EOS: the people still in view end here, and get their flush.
            if self.finish_events(&r) > 0 {
                r.sink.flush(r.flush_timeout);
            }
            self.last_dropped.store(r.sink.close(), Ordering::Relaxed);
            self.last_delivered.store(r.sink.delivered(), Ordering::Relaxed);
        }
        self.running.lock().unwrap().take();
    }

    /// Waits at most `flush-timeout` for the queue (an MQTT queue's rest counts in `dropped`).
    /// Warns with the total not delivered, the figure `dropped` reads from now on, and about the
    /// lines a file still has to write.
    fn flush_at_eos(&self) {
        let Some(running) = self.running.lock().unwrap().clone() else { return };
        self.finish_events(&running);
        let (written_off, pending) = running.sink.flush(running.flush_timeout);
        let total = running.sink.dropped();
        if total > 0 {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Write,
                (
                    "{total} messages not delivered to {}: {written_off} still queued when the stream ended, the others \
                     dropped from the full queue or lost",
                    running.sink.describe()
                )
            );
        }
        if pending > 0 {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Write,
                ("{pending} lines not yet written to {} at the end of the stream: written when the element stops", running.sink.describe())
            );
        }
    }
}

/// The `uri` property as shown: passwords and secret properties masked, even in a URI that
/// does not parse.
fn shown_uri(uri: &str) -> String {
    let shown = if uri.starts_with("kafka://") {
        KafkaTarget::parse(uri).map(|t| t.to_string())
    } else {
        MqttTarget::parse(uri).map(|t| t.to_string())
    };
    shown.unwrap_or_else(|_| emotiondetect_core::redact::uri(uri))
}
