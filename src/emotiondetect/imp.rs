// SPDX-License-Identifier: MIT
// The emotiondetect element: GStreamer glue around `crate::analyser`. Models are loaded at
// NULL->READY; each buffer is mapped once, analysed into a `FrameReport`, and after the map and
// the state lock are released the report becomes ROI metas, a bus message and a JSON line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::VideoInfo;

use super::frames::{Analysed, Conversion, FORMATS};
use super::outputs;
use crate::analyser::{Analyser, Detections, FrameDetector, FrameParams};
use crate::classification::DEFAULT_EMOTION_MODEL_FILE;
use crate::error::{Error, Result};
use crate::export::MetadataWriter;
use crate::frame_report::FrameReport;
use crate::inference::Device;
use crate::instances::{self, ModelKey};
use crate::publish::{MqttTarget, Notice, PublishOptions, Publisher};
use crate::runtime;
use crate::worker::Worker;

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("emotiondetect", gst::DebugColorFlags::empty(), Some("Facial emotion detector")));

const DEFAULT_FACE_MODEL_FILE: &str = "face_detection_yunet.onnx";
const DEFAULT_DEVICE: &str = "cpu";
const DEFAULT_THRESHOLD: f64 = FrameParams::DEFAULT.threshold;
const DEFAULT_NMS_THRESHOLD: f64 = FrameParams::DEFAULT.nms_threshold;
const DEFAULT_MIN_FACE_SIZE: u32 = FrameParams::DEFAULT.min_face_size;
const DEFAULT_MIN_EMOTION_FACE_SIZE: u32 = FrameParams::DEFAULT.min_emotion_face_size;
const DEFAULT_MAX_FACES: u32 = FrameParams::DEFAULT.max_faces;
const DEFAULT_BATCH_SIZE: u32 = FrameParams::DEFAULT.batch_size;
const DEFAULT_DRAW: bool = FrameParams::DEFAULT.draw;
const DEFAULT_LABEL_SIZE: u32 = FrameParams::DEFAULT.label_size;
const DEFAULT_POST_MESSAGES: bool = true;
const DEFAULT_DETECTOR_SIZE: u32 = FrameParams::DEFAULT.detector_size;
const DEFAULT_CROP_MARGIN: f64 = FrameParams::DEFAULT.crop_margin;
const DEFAULT_INFERENCE_INTERVAL: u32 = FrameParams::DEFAULT.inference_interval;
const DEFAULT_RECLASSIFY_INTERVAL: u32 = FrameParams::DEFAULT.reclassify_interval;
const DEFAULT_TRACK_MAX_MISSES: u32 = FrameParams::DEFAULT.track_max_misses;
const DEFAULT_EMOTION_SMOOTHING: f64 = FrameParams::DEFAULT.emotion_smoothing;
const DEFAULT_INFERENCE_THREADS: u32 = 0;
const DEFAULT_INFERENCE_SPINNING: bool = false;
const DEFAULT_PIPELINING: bool = false;
const DEFAULT_PUBLISH_QOS: u32 = 1;
/// About five seconds of frames at 30 fps.
const DEFAULT_PUBLISH_QUEUE_SIZE: u32 = 150;
/// How long EOS waits for queued MQTT messages to be delivered.
const PUBLISH_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The property values.
#[derive(Clone, Debug)]
struct Settings {
    /// Read at NULL->READY; set later, they take effect at the next NULL->READY.
    ready: ReadySettings,
    /// Copied once per frame.
    params: FrameParams,
    post_messages: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { ready: ReadySettings::default(), params: FrameParams::DEFAULT, post_messages: DEFAULT_POST_MESSAGES }
    }
}

/// The properties read at NULL->READY (`mutable_ready`).
#[derive(Clone, Debug)]
struct ReadySettings {
    face_model: Option<PathBuf>,
    emotion_model: Option<PathBuf>,
    emotion_model_proc: Option<PathBuf>,
    device: String,
    metadata_file: Option<PathBuf>,
    inference_threads: u32,
    inference_spinning: bool,
    pipelining: bool,
    model_instance_id: Option<String>,
    publish: Option<String>,
    publish_qos: u32,
    publish_queue_size: u32,
    source_id: Option<String>,
}

impl Default for ReadySettings {
    fn default() -> Self {
        ReadySettings {
            face_model: None,
            emotion_model: None,
            emotion_model_proc: None,
            device: DEFAULT_DEVICE.into(),
            metadata_file: None,
            inference_threads: DEFAULT_INFERENCE_THREADS,
            inference_spinning: DEFAULT_INFERENCE_SPINNING,
            pipelining: DEFAULT_PIPELINING,
            model_instance_id: None,
            publish: None,
            publish_qos: DEFAULT_PUBLISH_QOS,
            publish_queue_size: DEFAULT_PUBLISH_QUEUE_SIZE,
            source_id: None,
        }
    }
}

impl ReadySettings {
    fn face_model_path(&self) -> PathBuf {
        self.face_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_FACE_MODEL_FILE))
    }

    fn emotion_model_path(&self) -> PathBuf {
        self.emotion_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE))
    }

    /// What must match for elements to share models.
    ///
    /// Errors: the device does not parse.
    fn model_key(&self) -> Result<ModelKey> {
        Ok(ModelKey {
            face_model: self.face_model_path(),
            emotion_model: self.emotion_model_path(),
            emotion_model_proc: self.emotion_model_proc.clone(),
            device: Device::parse(&self.device)?,
            threads: self.inference_threads as usize,
            spinning: self.inference_spinning,
        })
    }
}

/// Runtime data: built at NULL->READY, dropped at READY->NULL.
struct State {
    analyser: Analyser,
    info: Option<VideoInfo>,
    /// For formats without a fast path: the conversion for the analysis.
    conversion: Option<Conversion>,
    /// With `pipelining` (as it was at NULL->READY): the detection worker and the frame waiting
    /// for the rest of its analysis.
    pipeline: Option<Pipelined>,
}

/// What the detector gave for one frame: `None` when it did not run (inference-interval).
type Detection = Result<Option<Detections>>;

/// A frame to detect faces in on the worker thread.
struct DetectJob {
    buffer: gst::Buffer,
    analysed: Analysed,
    info: VideoInfo,
    params: FrameParams,
    /// Whether the detector runs on this frame (`inference-interval`).
    run: bool,
}

/// A frame whose detection is done, waiting for the rest of its analysis.
struct Pending {
    buffer: gst::Buffer,
    analysed: Analysed,
    detection: Detection,
}

struct Pipelined {
    worker: Worker<DetectJob, Pending>,
    pending: Option<Pending>,
}

impl Pipelined {
    /// Starts the detection thread with its own detector over the analyser's models.
    fn start(analyser: &Analyser) -> Result<Pipelined> {
        let mut detector: FrameDetector = analyser.detector();
        let worker = Worker::spawn("emotiondetect-detect", move |job: DetectJob| {
            let detection = if job.run {
                job.analysed.read(&job.buffer, &job.info, |image| detector.detect(image, &job.params)).map(Some)
            } else {
                Ok(None)
            };
            Pending { buffer: job.buffer, analysed: job.analysed, detection }
        })
        .map_err(|e| Error::Settings(format!("pipelining: cannot start the detection thread: {e}")))?;
        Ok(Pipelined { worker, pending: None })
    }
}

/// The JSON outputs and the stream's identity, used after the state lock is released.
#[derive(Default)]
struct Output {
    writer: Option<MetadataWriter>,
    publisher: Option<Publisher>,
    /// The URI of the stream once asked (upstream's answer to the URI query).
    source: Option<String>,
    /// `source-id` as set at NULL->READY (`None`: the URI, else the element's name).
    source_id: Option<String>,
}

#[derive(Default)]
pub struct EmotionDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    output: Mutex<Output>,
    /// Pipelined: the finished frame that `generate_output` hands downstream.
    ready: Mutex<Option<gst::Buffer>>,
    /// Whether the running state is pipelined (readable without the state lock).
    pipelined: AtomicBool,
    /// `active-device`: kept apart from `state` so that reading it never waits for a frame.
    active_device: Mutex<String>,
    /// Skipped frames: one warning, then at most one per interval (with the count held back).
    frame_warnings: Mutex<crate::ratelimit::RateLimiter>,
}

#[glib::object_subclass]
impl ObjectSubclass for EmotionDetect {
    const NAME: &'static str = "GstEmotionDetect";
    type Type = super::EmotionDetect;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for EmotionDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let playing = |b: glib::ParamSpecDoubleBuilder<'static>| b.mutable_playing().build();
            vec![
                glib::ParamSpecString::builder("face-model")
                    .nick("Face model")
                    .blurb(&format!(
                        "Path of the face detector ONNX model, YuNet or UltraFace (default: the installed {DEFAULT_FACE_MODEL_FILE})"
                    ))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("emotion-model")
                    .nick("Emotion model")
                    .blurb(&format!(
                        "Path of the emotion classifier ONNX model (default: the installed {DEFAULT_EMOTION_MODEL_FILE})"
                    ))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("emotion-model-proc")
                    .nick("Emotion model spec")
                    .blurb(
                        "Path of the emotion model's spec (JSON: input size, layout, colour, normalisation, alignment, \
                         logits or probabilities, labels; see models/specs) (default: <model>.json beside the model, \
                         else the shipped spec for the model's file name)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb("Where inference runs: cpu, cuda, cuda:N or auto (default: cpu)")
                    .default_value(Some(DEFAULT_DEVICE))
                    .mutable_ready()
                    .build(),
                playing(
                    glib::ParamSpecDouble::builder("threshold")
                        .nick("Face threshold")
                        .blurb("Minimum face confidence, 0..1 (default: 0.6)")
                        .minimum(0.0)
                        .maximum(1.0)
                        .default_value(DEFAULT_THRESHOLD),
                ),
                playing(
                    glib::ParamSpecDouble::builder("nms-threshold")
                        .nick("NMS threshold")
                        .blurb("IoU above which overlapping faces are merged by NMS, 0..1 (default: 0.3)")
                        .minimum(0.0)
                        .maximum(1.0)
                        .default_value(DEFAULT_NMS_THRESHOLD),
                ),
                glib::ParamSpecUInt::builder("min-face-size")
                    .nick("Minimum face size")
                    .blurb("Faces whose width or height is below this many pixels of the frame are dropped (default: 0, keep all)")
                    .default_value(DEFAULT_MIN_FACE_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-emotion-face-size")
                    .nick("Minimum emotion face size")
                    .blurb(
                        "Faces whose width or height is below this many pixels of the frame are reported with emotion 'unknown' \
                         and not classified (default: 25, where FER2013 accuracy falls under 50 %; 0 = classify all)",
                    )
                    .default_value(DEFAULT_MIN_EMOTION_FACE_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-faces")
                    .nick("Maximum faces")
                    .blurb("Keep at most this many faces per frame, the most confident first (default: 0, no limit)")
                    .default_value(DEFAULT_MAX_FACES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("batch-size")
                    .nick("Batch size")
                    .blurb("Faces per classifier call; a frame's faces go in batches of this size (default: 32)")
                    .minimum(1)
                    .maximum(1024)
                    .default_value(DEFAULT_BATCH_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("draw")
                    .nick("Draw")
                    .blurb("Draw a box and an emotion label per face on the frame (default: true)")
                    .default_value(DEFAULT_DRAW)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("draw-mode", super::DrawMode::from(FrameParams::DEFAULT.draw_mode))
                    .nick("Draw mode")
                    .blurb("What is drawn per face when draw=true: labels (box and tag), boxes (box only) or blur (face pixelated) (default: labels)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("label-size")
                    .nick("Label size")
                    .blurb("Tag text height in pixels; 0 scales it to each face (default: 0)")
                    .maximum(crate::overlay::MAX_LABEL_SIZE)
                    .default_value(DEFAULT_LABEL_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("post-messages")
                    .nick("Post messages")
                    .blurb("Post one 'emotiondetect' element message per frame on the bus (default: true)")
                    .default_value(DEFAULT_POST_MESSAGES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("detector-size")
                    .nick("Detector input size")
                    .blurb("Long side of the YuNet input in pixels, padded to a multiple of 32; frames are never upscaled; 0 = frame size; UltraFace uses its fixed input (default: 640)")
                    .maximum(8192)
                    .default_value(DEFAULT_DETECTOR_SIZE)
                    .mutable_playing()
                    .build(),
                playing(
                    glib::ParamSpecDouble::builder("crop-margin")
                        .nick("Crop margin")
                        .blurb("Margin added on each side of a face before classification, as a fraction of its width and height (default: 0.1)")
                        .minimum(0.0)
                        .maximum(1.0)
                        .default_value(DEFAULT_CROP_MARGIN),
                ),
                glib::ParamSpecUInt::builder("inference-interval")
                    .nick("Inference interval")
                    .blurb("Run the face detector every N frames and carry the tracked boxes in between (default: 1, every frame)")
                    .minimum(1)
                    .maximum(1000)
                    .default_value(DEFAULT_INFERENCE_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("reclassify-interval")
                    .nick("Reclassify interval")
                    .blurb("Classify a tracked face every N frames and reuse its last result in between; new faces are classified at once (default: 1, every frame)")
                    .minimum(1)
                    .maximum(1000)
                    .default_value(DEFAULT_RECLASSIFY_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("track-max-misses")
                    .nick("Track maximum misses")
                    .blurb("Detector runs a face may go unmatched before its track (and id) ends (default: 5)")
                    .maximum(1000)
                    .default_value(DEFAULT_TRACK_MAX_MISSES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("inference-threads")
                    .nick("Inference threads")
                    .blurb("ONNX Runtime intra-op threads per model; 0 = one per physical core (default: 0)")
                    .maximum(256)
                    .default_value(DEFAULT_INFERENCE_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("inference-spinning")
                    .nick("Inference spinning")
                    .blurb("Let idle ONNX Runtime threads spin-wait for work: lower latency per call, but it takes CPU the rest of the pipeline needs (default: false)")
                    .default_value(DEFAULT_INFERENCE_SPINNING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("pipelining")
                    .nick("Pipelining")
                    .blurb("Detect faces in frame N+1 while frame N is classified and drawn, on two threads; adds one frame of latency (default: false)")
                    .default_value(DEFAULT_PIPELINING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("metadata-file")
                    .nick("Metadata file")
                    .blurb("Write one JSON object per frame, per line (DL Streamer gvametaconvert shape) to this file, or to stdout for '-' (default: none)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-instance-id")
                    .nick("Model instance id")
                    .blurb("Elements with the same id share one loaded face detector and emotion classifier, and their faces share classifier batches; their model settings must be equal (default: none, private models)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("publish")
                    .nick("Publish")
                    .blurb(
                        "Publish each frame's JSON to an MQTT broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC (port 1883) or \
                         mqtts://... (TLS, 8883); credentials also from EMOTIONDETECT_MQTT_USERNAME/PASSWORD (default: none)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("publish-qos")
                    .nick("Publish QoS")
                    .blurb("MQTT QoS of the published messages: 0 at most once, 1 at least once (default: 1)")
                    .maximum(1)
                    .default_value(DEFAULT_PUBLISH_QOS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("publish-queue-size")
                    .nick("Publish queue size")
                    .blurb("Messages kept while the broker is away; past it the oldest are dropped and counted (default: 150, 5 s at 30 fps)")
                    .minimum(1)
                    .maximum(1_000_000)
                    .default_value(DEFAULT_PUBLISH_QUEUE_SIZE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("publish-dropped")
                    .nick("Publish dropped")
                    .blurb("Messages not delivered to the broker so far: dropped from the full queue, or lost with a connection (read-only)")
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("source-id")
                    .nick("Source id")
                    .blurb("Camera or stream name written as source_id in the JSON and MQTT messages (default: the stream's URI, else the element's name)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("active-device")
                    .nick("Active device")
                    .blurb("Where the models run once loaded: cpu or cuda:N (device=auto resolved); empty before READY (read-only)")
                    .default_value(Some(""))
                    .read_only()
                    .build(),
                playing(
                    glib::ParamSpecDouble::builder("emotion-smoothing")
                        .nick("Emotion smoothing")
                        .blurb("Weight of a face's past probabilities in the exponential moving average that gives the reported label, 0..0.99; 0 = off (default: 0.5)")
                        .minimum(0.0)
                        .maximum(0.99)
                        .default_value(DEFAULT_EMOTION_SMOOTHING),
                ),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut guard = self.settings.lock().unwrap();
        // Paths as the OS has them (PathBuf, not String): a non-UTF-8 file name is a valid name.
        let path = |v: &glib::Value| v.get::<Option<PathBuf>>().ok().flatten().filter(|p| !p.as_os_str().is_empty());
        let s = &mut *guard;
        let (r, p) = (&mut s.ready, &mut s.params);
        match pspec.name() {
            "face-model" => r.face_model = path(value),
            "emotion-model" => r.emotion_model = path(value),
            "emotion-model-proc" => r.emotion_model_proc = path(value),
            "device" => r.device = value.get::<Option<String>>().ok().flatten().unwrap_or_else(|| DEFAULT_DEVICE.into()),
            "metadata-file" => r.metadata_file = path(value),
            "inference-threads" => r.inference_threads = value.get().expect("type checked upstream"),
            "inference-spinning" => r.inference_spinning = value.get().expect("type checked upstream"),
            "pipelining" => r.pipelining = value.get().expect("type checked upstream"),
            "model-instance-id" => r.model_instance_id = value.get::<Option<String>>().ok().flatten().filter(|id| !id.is_empty()),
            "publish" => r.publish = value.get::<Option<String>>().ok().flatten().filter(|u| !u.is_empty()),
            "publish-qos" => r.publish_qos = value.get().expect("type checked upstream"),
            "publish-queue-size" => r.publish_queue_size = value.get().expect("type checked upstream"),
            "source-id" => r.source_id = value.get::<Option<String>>().ok().flatten().filter(|id| !id.is_empty()),
            "threshold" => p.threshold = value.get().expect("type checked upstream"),
            "nms-threshold" => p.nms_threshold = value.get().expect("type checked upstream"),
            "min-face-size" => p.min_face_size = value.get().expect("type checked upstream"),
            "min-emotion-face-size" => p.min_emotion_face_size = value.get().expect("type checked upstream"),
            "max-faces" => p.max_faces = value.get().expect("type checked upstream"),
            "batch-size" => p.batch_size = value.get().expect("type checked upstream"),
            "draw" => p.draw = value.get().expect("type checked upstream"),
            "draw-mode" => p.draw_mode = value.get::<super::DrawMode>().expect("type checked upstream").into(),
            "label-size" => p.label_size = value.get().expect("type checked upstream"),
            "post-messages" => s.post_messages = value.get().expect("type checked upstream"),
            "detector-size" => p.detector_size = value.get().expect("type checked upstream"),
            "crop-margin" => p.crop_margin = value.get().expect("type checked upstream"),
            "inference-interval" => p.inference_interval = value.get().expect("type checked upstream"),
            "reclassify-interval" => p.reclassify_interval = value.get().expect("type checked upstream"),
            "track-max-misses" => p.track_max_misses = value.get().expect("type checked upstream"),
            "emotion-smoothing" => p.emotion_smoothing = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
        drop(guard);
        // READY-only settings are read at NULL->READY only: never mid-stream.
        let state = self.obj().current_state();
        if pspec.flags().contains(gst::PARAM_FLAG_MUTABLE_READY) && state > gst::State::Null {
            gst::debug!(CAT, imp = self, "{} set in {state:?}: it takes effect at the next NULL->READY", pspec.name());
        } else {
            gst::debug!(CAT, imp = self, "{} set", pspec.name());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        let (r, p) = (&s.ready, &s.params);
        match pspec.name() {
            "face-model" => r.face_model_path().to_value(),
            "emotion-model" => r.emotion_model_path().to_value(),
            "emotion-model-proc" => r.emotion_model_proc.to_value(),
            "device" => r.device.to_value(),
            "threshold" => p.threshold.to_value(),
            "nms-threshold" => p.nms_threshold.to_value(),
            "min-face-size" => p.min_face_size.to_value(),
            "min-emotion-face-size" => p.min_emotion_face_size.to_value(),
            "max-faces" => p.max_faces.to_value(),
            "batch-size" => p.batch_size.to_value(),
            "draw" => p.draw.to_value(),
            "draw-mode" => super::DrawMode::from(p.draw_mode).to_value(),
            "label-size" => p.label_size.to_value(),
            "post-messages" => s.post_messages.to_value(),
            "detector-size" => p.detector_size.to_value(),
            "crop-margin" => p.crop_margin.to_value(),
            "inference-interval" => p.inference_interval.to_value(),
            "reclassify-interval" => p.reclassify_interval.to_value(),
            "track-max-misses" => p.track_max_misses.to_value(),
            "emotion-smoothing" => p.emotion_smoothing.to_value(),
            "inference-threads" => r.inference_threads.to_value(),
            "inference-spinning" => r.inference_spinning.to_value(),
            "pipelining" => r.pipelining.to_value(),
            "metadata-file" => r.metadata_file.to_value(),
            "model-instance-id" => r.model_instance_id.to_value(),
            "publish" => r.publish.as_deref().map(|u| MqttTarget::parse(u).map_or_else(|_| u.to_string(), |t| t.to_string())).to_value(),
            "publish-qos" => r.publish_qos.to_value(),
            "publish-queue-size" => r.publish_queue_size.to_value(),
            "source-id" => r.source_id.to_value(),
            "publish-dropped" => self.output.lock().unwrap().publisher.as_ref().map_or(0, |p| p.dropped()).to_value(),
            "active-device" => self.active_device.lock().unwrap().to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for EmotionDetect {}

impl ElementImpl for EmotionDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Facial emotion detector",
                "Filter/Analyzer/Video",
                "Detects faces (YuNet or UltraFace) and classifies each face's emotion (FER2013) with ONNX Runtime; \
                 attaches a GstVideoRegionOfInterestMeta per face with detection, emotion and landmarks parameters, \
                 posts an 'emotiondetect' element message per frame and draws boxes and labels",
                "emotiondetect developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new().format_list(FORMATS).build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> std::result::Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            self.load().map_err(|msg| {
                self.post_error_message(msg);
                gst::StateChangeError
            })?;
        }
        if transition == gst::StateChange::ReadyToNull {
            self.flush_metadata();
        }
        let result = self.parent_change_state(transition);
        if transition == gst::StateChange::ReadyToNull || (result.is_err() && transition == gst::StateChange::NullToReady) {
            self.unload();
        }
        result
    }
}

impl BaseTransformImpl for EmotionDetect {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStart(_) | gst::EventView::FlushStop(_) => self.discard_pending(),
            // The pending frame belongs before any later event (caps, segment, EOS, gap...).
            _ if event.is_serialized() => self.drain_pending(),
            _ => {}
        }
        if let gst::EventView::Eos(_) = event.view() {
            self.flush_metadata();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        let (params, post) = self.frame_settings();
        let report = {
            let mut guard = self.state.lock().unwrap();
            let State { analyser, info, conversion, .. } = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let info = info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let analysed = Analysed::new(buf, info, conversion.as_ref());
            analysed.analyse(analyser, buf, info, &params, |analyser, image, params| analyser.process(image, params))
        };
        self.publish(buf, report, post)?;
        Ok(gst::FlowSuccess::Ok)
    }

    fn submit_input_buffer(&self, is_discont: bool, inbuf: gst::Buffer) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        if !self.pipelined.load(Ordering::Acquire) {
            return self.parent_submit_input_buffer(is_discont, inbuf);
        }
        let (params, post) = self.frame_settings();
        let finished = {
            let mut guard = self.state.lock().unwrap();
            let State { analyser, info, pipeline, conversion } = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let info = info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let pipe = pipeline.as_mut().ok_or(gst::FlowError::Flushing)?;
            let run = analyser.next_runs_detector(&params);
            let analysed = Analysed::new(&inbuf, info, conversion.as_ref());
            pipe.worker.submit(DetectJob { buffer: inbuf, analysed, info: info.clone(), params, run });
            // The previous frame's analysis overlaps this frame's detection.
            let finished = pipe.pending.take().map(|p| finish(analyser, p, info, &params));
            match pipe.worker.result() {
                Ok(pending) => pipe.pending = Some(pending),
                Err(e) => {
                    self.post_error_message(error_message(&e.prefixed("face detection: ")));
                    return Err(gst::FlowError::Error);
                }
            }
            finished
        };
        if let Some((mut buffer, report)) = finished {
            self.publish(buffer.make_mut(), report, post)?;
            *self.ready.lock().unwrap() = Some(buffer);
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn generate_output(&self) -> std::result::Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        if !self.pipelined.load(Ordering::Acquire) {
            return self.parent_generate_output();
        }
        let ready = self.ready.lock().unwrap().take();
        Ok(ready.map_or(GenerateOutputSuccess::NoOutput, GenerateOutputSuccess::Buffer))
    }

    fn stop(&self) -> std::result::Result<(), gst::ErrorMessage> {
        self.discard_pending();
        self.parent_stop()
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let ok = BaseTransformImplExt::parent_query(self, direction, query);
        // Pipelined, each frame leaves one frame later: say so to live pipelines.
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let frame = self.pipelining_delay();
            if ok && direction == gst::PadDirection::Src && frame > gst::ClockTime::ZERO {
                let (live, min, max) = q.result();
                q.set(live, min + frame, max.map(|m| m + frame));
            }
        }
        ok
    }
}

impl VideoFilterImpl for EmotionDetect {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &VideoInfo,
        outcaps: &gst::Caps,
        out_info: &VideoInfo,
    ) -> std::result::Result<(), gst::LoggableError> {
        let conversion = Conversion::for_format(in_info).map_err(|e| gst::loggable_error!(CAT, "{e}"))?;
        gst::debug!(
            CAT,
            imp = self,
            "{:?}: {}",
            in_info.format(),
            conversion.as_ref().map_or("fast path".to_string(), |c| format!("converted to {:?} for the analysis", c.format()))
        );
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(in_info.clone());
            state.conversion = conversion;
        }
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}

impl EmotionDetect {
    /// The per-frame settings: a copy, so no lock is held while a frame is analysed.
    fn frame_settings(&self) -> (FrameParams, bool) {
        let s = self.settings.lock().unwrap();
        (s.params, s.post_messages)
    }

    /// Loads ONNX Runtime and both models, checking their shapes, or joins the instance
    /// shared under `model-instance-id`; opens `metadata-file`; starts the detection thread
    /// with `pipelining`.
    fn load(&self) -> std::result::Result<(), gst::ErrorMessage> {
        let ready = self.settings.lock().unwrap().ready.clone();
        let key = ready.model_key().map_err(|e| error_message(&e))?;
        let env = runtime::environment(Arc::new(ort_log)).map_err(|e| error_message(&e))?;
        let id = ready.model_instance_id.as_deref();
        let models = instances::acquire(env, id, &key).map_err(|e| error_message(&e))?;
        gst::debug!(CAT, imp = self, "emotion model spec {}: {}", models.spec.name, models.spec_source);
        let sharing = id.map_or("private".to_string(), |id| format!("model-instance-id '{id}', {} holders", instances::holders(id)));
        gst::info!(
            CAT,
            imp = self,
            "face model {} ({:?}) and emotion model {} run on {} ({sharing})",
            models.face_model.display(),
            models.family,
            models.emotion_model.display(),
            models.device.name()
        );
        let writer = ready.metadata_file.as_deref().map(MetadataWriter::create).transpose().map_err(|e| error_message(&e))?;
        let publisher = ready.publish.as_deref().map(|uri| self.start_publisher(uri, &ready)).transpose().map_err(|e| error_message(&e))?;
        *self.active_device.lock().unwrap() = models.device.name();
        let analyser = Analyser::new(models);
        let pipeline = if ready.pipelining { Some(Pipelined::start(&analyser).map_err(|e| error_message(&e))?) } else { None };
        self.pipelined.store(pipeline.is_some(), Ordering::Release);
        *self.output.lock().unwrap() = Output { writer, publisher, source: None, source_id: ready.source_id.clone() };
        *self.state.lock().unwrap() = Some(State { analyser, info: None, conversion: None, pipeline });
        Ok(())
    }

    /// Drops this element's hold on the models (shared ones are freed with the last holder),
    /// the detection thread and the metadata file.
    fn unload(&self) {
        *self.state.lock().unwrap() = None;
        *self.output.lock().unwrap() = Output::default();
        *self.ready.lock().unwrap() = None;
        self.pipelined.store(false, Ordering::Release);
        self.active_device.lock().unwrap().clear();
    }

    /// The outputs of one analysed frame: ROI metas, the bus message, the JSON line. A failed
    /// analysis posts a warning and leaves the frame untouched.
    ///
    /// Errors: `metadata-file` cannot be written (the element error is posted): the stream stops.
    fn publish(
        &self,
        buf: &mut gst::BufferRef,
        report: Result<FrameReport>,
        post_messages: bool,
    ) -> std::result::Result<(), gst::FlowError> {
        let mut report = match report {
            Ok(report) => report,
            Err(e) => {
                // One bad frame must not stop the stream: warn (rate-limited) and pass it through untouched.
                if let Some(held) = self.frame_warnings.lock().unwrap().allow(std::time::Instant::now()) {
                    let more = if held > 0 { format!(" ({held} more frames skipped since the last warning)") } else { String::new() };
                    gst::element_imp_warning!(self, gst::StreamError::Failed, ("frame {:?} skipped: {e}{more}", buf.pts()));
                }
                return Ok(());
            }
        };
        self.set_times(&mut report, buf);
        let json = self.write_json(&mut report, post_messages)?;
        outputs::attach_metas(buf, &report);
        // `write_json` serialises whenever the message needs the JSON.
        if let (true, Some(json)) = (post_messages, json) {
            let s = outputs::message_structure(&report, json);
            let _ = self.obj().post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
        }
        Ok(())
    }

    /// The buffer's PTS and duration, and the PTS's stream and running time in the segment.
    fn set_times(&self, report: &mut FrameReport, buf: &gst::BufferRef) {
        let segment = self.obj().segment();
        let segment = segment.downcast_ref::<gst::ClockTime>();
        let pts = buf.pts();
        report.timestamp = pts.map(|t| t.nseconds());
        report.duration = buf.duration().map(|t| t.nseconds());
        report.stream_time = segment.and_then(|s| s.to_stream_time(pts?)).map(|t| t.nseconds());
        report.running_time = segment.and_then(|s| s.to_running_time(pts?)).map(|t| t.nseconds());
        report.timestamp_utc = self.wall_clock(buf, report.running_time).map(|t| humantime::format_rfc3339_millis(t).to_string());
    }

    /// The frame's wall-clock time: the capture time of a `timestamp/x-unix` reference
    /// timestamp, else base time + running time on the pipeline clock, mapped to real time, else
    /// (no clock yet) now.
    fn wall_clock(&self, buf: &gst::BufferRef, running_time: Option<u64>) -> Option<std::time::SystemTime> {
        static UNIX: LazyLock<gst::Caps> = LazyLock::new(|| gst::Caps::builder("timestamp/x-unix").build());
        if let Some(m) = buf.iter_meta::<gst::ReferenceTimestampMeta>().find(|m| m.reference().can_intersect(&UNIX)) {
            return Some(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(m.timestamp().nseconds()));
        }
        let element = self.obj();
        let now = std::time::SystemTime::now();
        // Before PLAYING (the preroll frame) there is no clock yet: the time it is analysed.
        let (Some(clock), Some(base), Some(running_time)) = (element.clock(), element.base_time(), running_time) else { return Some(now) };
        let frame = base.nseconds().checked_add(running_time)? as i128;
        let ahead = frame - clock.time().nseconds() as i128;
        let shift = std::time::Duration::from_nanos(ahead.unsigned_abs().min(u64::MAX as u128) as u64);
        if ahead >= 0 {
            now.checked_add(shift)
        } else {
            now.checked_sub(shift)
        }
    }

    /// Fills in the stream's identity, serialises the report once when anything takes JSON
    /// (`metadata-file`, `publish`, the message's `json` field), appends it to `metadata-file`
    /// and queues it for the broker. Returns the JSON.
    ///
    /// Errors: `metadata-file` cannot be written: the element error is posted (as filesink does).
    fn write_json(&self, report: &mut FrameReport, for_message: bool) -> std::result::Result<Option<String>, gst::FlowError> {
        let mut output = self.output.lock().unwrap();
        let Output { writer, publisher, source, source_id } = &mut *output;
        let uri = source.get_or_insert_with(|| self.stream_uri());
        report.source = uri.clone();
        report.source_id = match source_id {
            Some(id) => id.clone(),
            None if !uri.is_empty() => uri.clone(),
            None => self.obj().name().to_string(),
        };
        if writer.is_none() && publisher.is_none() && !for_message {
            return Ok(None);
        }
        let json = report.to_json();
        if let Some(Err(e)) = writer.as_mut().map(|w| w.write_json(&json)) {
            *writer = None; // posted once; the file keeps its whole lines
            self.post_error_message(error_message(&e));
            return Err(gst::FlowError::Error);
        }
        if let Some(p) = publisher {
            p.publish(json.clone().into_bytes());
        }
        Ok(Some(json))
    }

    /// Starts publishing to `uri` (`publish`); the broker's notices become warnings.
    ///
    /// Errors: the URI does not parse (naming the property and the value), or TLS cannot be set up.
    fn start_publisher(&self, uri: &str, ready: &ReadySettings) -> Result<Publisher> {
        let target = MqttTarget::parse(uri)?;
        let name = self.obj().name();
        let options = PublishOptions {
            qos: ready.publish_qos as u8,
            queue_size: ready.publish_queue_size as usize,
            client_id: format!("emotiondetect-{}-{name}", std::process::id()),
        };
        let weak = self.obj().downgrade();
        let broker = target.to_string();
        let publisher = Publisher::start(&target, &options, move |notice| {
            let Some(element) = weak.upgrade() else { return };
            let imp = element.imp();
            match notice {
                Notice::Unreachable { reason } => gst::element_imp_warning!(
                    imp,
                    gst::ResourceError::OpenWrite,
                    ("MQTT broker {broker} unreachable ({reason}); retrying, keeping the newest messages")
                ),
                Notice::Recovered { seconds, dropped } => gst::element_imp_warning!(
                    imp,
                    gst::ResourceError::Write,
                    ("MQTT broker {broker} was away for {seconds:.1} s: {dropped} messages dropped")
                ),
            }
        })?;
        gst::info!(CAT, imp = self, "publishing to {} (QoS {}, queue {})", publisher.target(), options.qos, options.queue_size);
        Ok(publisher)
    }

    /// The URI of the stream (filesrc, rtspsrc, ... answer the URI query), or empty.
    fn stream_uri(&self) -> String {
        let mut query = gst::query::Uri::new();
        let found = self.obj().static_pad("sink").is_some_and(|pad| pad.peer_query(&mut query));
        if found {
            query.uri().map(|u| u.to_string()).unwrap_or_default()
        } else {
            String::new()
        }
    }

    /// Pushes buffered JSON lines out (EOS, stop): the last frames are never lost; waits a
    /// bounded time for queued MQTT messages to be delivered.
    fn flush_metadata(&self) {
        let mut output = self.output.lock().unwrap();
        if let Some(Err(e)) = output.writer.as_mut().map(|w| w.flush()) {
            output.writer = None;
            self.post_error_message(error_message(&e));
        }
        let undelivered = output.publisher.as_ref().map_or(0, |p| p.flush(PUBLISH_FLUSH_TIMEOUT));
        if undelivered > 0 {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Write,
                ("{undelivered} MQTT messages not delivered at the end of the stream")
            );
        }
    }

    /// Finishes and pushes the pending frame (before an event that must follow it).
    fn drain_pending(&self) {
        let (params, post) = self.frame_settings();
        let finished = {
            let mut guard = self.state.lock().unwrap();
            let Some(State { analyser, info: Some(info), pipeline: Some(pipe), .. }) = guard.as_mut() else { return };
            let Some(pending) = pipe.pending.take() else { return };
            finish(analyser, pending, info, &params)
        };
        let (mut buffer, report) = finished;
        if self.publish(buffer.make_mut(), report, post).is_err() {
            return; // the error is posted
        }
        if let Err(e) = self.obj().src_pad().push(buffer) {
            gst::debug!(CAT, imp = self, "pushing the last pending frame: {e:?}");
        }
    }

    fn discard_pending(&self) {
        if let Some(pipe) = self.state.lock().unwrap().as_mut().and_then(|s| s.pipeline.as_mut()) {
            pipe.pending = None;
        }
        *self.ready.lock().unwrap() = None;
    }

    /// One frame's duration when pipelining (the delay it adds), else zero.
    fn pipelining_delay(&self) -> gst::ClockTime {
        if !self.pipelined.load(Ordering::Acquire) {
            return gst::ClockTime::ZERO;
        }
        let fps = self.state.lock().unwrap().as_ref().and_then(|s| s.info.as_ref().map(|i| i.fps()));
        match fps {
            Some(f) if f.numer() > 0 => {
                gst::ClockTime::SECOND.mul_div_floor(f.denom() as u64, f.numer() as u64).unwrap_or(gst::ClockTime::ZERO)
            }
            _ => gst::ClockTime::ZERO,
        }
    }
}

/// The rest of a pipelined frame's analysis, once its detection is done.
fn finish(analyser: &mut Analyser, pending: Pending, info: &VideoInfo, params: &FrameParams) -> (gst::Buffer, Result<FrameReport>) {
    let Pending { mut buffer, analysed, detection } = pending;
    let report = detection.and_then(|d| {
        analysed.analyse(analyser, buffer.make_mut(), info, params, |analyser, image, params| analyser.analyse(image, d, params))
    });
    (buffer, report)
}

/// The GStreamer error of an [`Error`]: the one place where domains are chosen.
fn error_message(e: &Error) -> gst::ErrorMessage {
    match e {
        Error::Settings(_) | Error::SharedInstance(_) => gst::error_msg!(gst::LibraryError::Settings, ("{e}")),
        Error::Runtime(_) => gst::error_msg!(gst::LibraryError::Init, ("{e}")),
        Error::Model { .. } | Error::Spec(_) => gst::error_msg!(gst::ResourceError::OpenRead, ("{e}")),
        Error::Create { .. } => gst::error_msg!(gst::ResourceError::OpenWrite, ("{e}")),
        Error::Write { .. } => gst::error_msg!(gst::ResourceError::Write, ("{e}")),
        Error::Inference(_) | Error::Frame(_) | Error::Thread(_) => gst::error_msg!(gst::StreamError::Failed, ("{e}")),
    }
}

/// Routes ONNX Runtime's log into the `emotiondetect` debug category instead of stderr.
fn ort_log(level: ort::logging::LogLevel, message: &str) {
    use ort::logging::LogLevel;
    match level {
        LogLevel::Verbose => gst::trace!(CAT, "onnxruntime: {message}"),
        LogLevel::Info => gst::debug!(CAT, "onnxruntime: {message}"),
        LogLevel::Warning => gst::warning!(CAT, "onnxruntime: {message}"),
        LogLevel::Error | LogLevel::Fatal => gst::error!(CAT, "onnxruntime: {message}"),
    }
}
