// SPDX-License-Identifier: MIT
// The emotiondetect element: GStreamer glue around `emotiondetect_core::Analyser`. Models are
// loaded at NULL->READY; each buffer is mapped once and analysed into a `FrameReport`, which
// becomes ROI metas, a `GstEmotionReportMeta` (read by emotionpublish) and a bus message.
//
// Locks: `settings` and `active_device` are each held only to copy a value, never two at once
// and never across I/O or a wait. `state` is an AtomicRefCell: it is built and dropped in the
// NULL<->READY changes, while no streaming thread runs, and otherwise touched only from the
// streaming thread. What other threads read (the latency query) is in atomics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use atomic_refcell::{AtomicRefCell, AtomicRefMut};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::VideoInfo;

use super::frames::{Analysed, Conversion, FORMATS};
use super::outputs;
use super::pipelining::{self, Overlap};
use crate::errors::error_message;
use crate::ratelimit::RateLimiter;
use crate::report_meta::ReportMeta;
use emotiondetect_core::analyser::{Analyser, Detections, FrameDetector, FrameParams, PreparedFrame};
use emotiondetect_core::backend::EngineKind;
use emotiondetect_core::classification::DEFAULT_EMOTION_MODEL_FILE;
use emotiondetect_core::error::{Error, Result};
use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_core::runtime::LogLevel;
use emotiondetect_core::stages::{Laps, Stage, StageStats, StageTimes};
use emotiondetect_core::{Engine, ModelSettings};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("emotiondetect", gst::DebugColorFlags::empty(), Some("Facial emotion detector")));
/// Where each frame's time goes (`emotiondetect_core::stages`): per frame at DEBUG, the medians
/// at INFO on EOS and stop.
static CAT_STAGES: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("emotiondetect-stages", gst::DebugColorFlags::empty(), Some("Time per stage of each frame's analysis"))
});

const DEFAULT_FACE_MODEL_FILE: &str = emotiondetect_core::DEFAULT_FACE_MODEL_FILE;
const DEFAULT_DEVICE: &str = "cpu";
const DEFAULT_ENGINE: &str = EngineKind::OnnxRuntime.name();
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

/// The property values.
#[derive(Clone, Debug)]
struct Settings {
    /// Read at NULL->READY (`mutable_ready`); set later, they take effect at the next NULL->READY.
    models: ModelSettings,
    /// Read at NULL->READY, like `models`.
    pipelining: bool,
    /// Copied once per frame.
    params: FrameParams,
    post_messages: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            models: ModelSettings { device: DEFAULT_DEVICE.into(), ..ModelSettings::default() },
            pipelining: DEFAULT_PIPELINING,
            params: FrameParams::DEFAULT,
            post_messages: DEFAULT_POST_MESSAGES,
        }
    }
}

/// Streaming data: built at NULL->READY, dropped at READY->NULL.
struct State {
    analyser: Analyser,
    info: Option<VideoInfo>,
    /// For formats without a fast path: the conversion for the analysis.
    conversion: Option<Conversion>,
    /// With `pipelining` (as it was at NULL->READY): the detection thread and its frames.
    pipeline: Option<Pipeline>,
    /// Pipelined: the finished frame that `generate_output` hands downstream.
    output: Option<gst::Buffer>,
    /// The stream's URI once asked (upstream's answer to the URI query), else empty.
    source: Option<String>,
    /// Skipped frames: one warning, then at most one per interval (with the count held back).
    frame_warnings: RateLimiter,
    /// The frames' stage times, while `emotiondetect-stages` logs at INFO or more.
    stages: StageStats,
}

/// What the detector gave for one frame: `None` when it did not run (inference-interval).
type Detection = Result<Option<Detections>>;

/// A frame to detect faces in on the worker thread, its detector input already built.
struct DetectJob {
    buffer: gst::Buffer,
    analysed: Analysed,
    /// `Ok(None)`: the detector skips this frame (`inference-interval`); `Err`: it could not be read.
    input: Result<Option<PreparedFrame>>,
    params: FrameParams,
    /// The frame's stage times so far (prepare).
    times: StageTimes,
}

/// A frame whose detection is done, waiting for the rest of its analysis.
struct Detected {
    buffer: gst::Buffer,
    analysed: Analysed,
    detection: Detection,
    /// The detector input, for reuse.
    input: Option<PreparedFrame>,
    /// The frame's stage times up to here, the detector's taken on the worker.
    times: StageTimes,
}

type Pipeline = Overlap<DetectJob, Detected>;

/// Starts the detection thread with its own detector over the analyser's models.
fn start_pipeline(analyser: &Analyser) -> Result<Pipeline> {
    let mut detector: FrameDetector = analyser.detector();
    Overlap::spawn("emotiondetect-detect", move |job: DetectJob| {
        let DetectJob { buffer, analysed, input, params, mut times } = job;
        let (detection, input) = match input {
            Ok(Some(frame)) => (detector.detect_prepared(&frame, &params).map(Some), Some(frame)),
            Ok(None) => (Ok(None), None),
            Err(e) => (Err(e), None),
        };
        times.merge(&detector.take_times());
        Detected { buffer, analysed, detection, input, times }
    })
    .map_err(|e| Error::ThreadStart { purpose: "pipelining".into(), thread: "emotiondetect-detect".into(), source: Arc::new(e) })
}

#[derive(Default)]
pub struct EmotionDetect {
    settings: Mutex<Settings>,
    state: AtomicRefCell<Option<State>>,
    /// Whether the running state is pipelined.
    pipelined: AtomicBool,
    /// Pipelined: one frame's duration, ns (the latency it adds); 0 otherwise.
    frame_delay: AtomicU64,
    /// `active-device`: kept apart from `state` so that any thread may read it.
    active_device: Mutex<String>,
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
                glib::ParamSpecString::builder("engine")
                    .nick("Engine")
                    .blurb("The inference engine that runs both models: onnxruntime or openvino (default: onnxruntime)")
                    .default_value(Some(DEFAULT_ENGINE))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("device")
                    .nick("Device")
                    .blurb("Where inference runs: cpu, cuda, cuda:N or auto with engine=onnxruntime; cpu, gpu, npu or auto with engine=openvino (default: cpu)")
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
                    .maximum(emotiondetect_core::overlay::MAX_LABEL_SIZE)
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
                    .blurb("Inference threads per model (ONNX Runtime's intra-op threads, OpenVINO's CPU threads); 0 = one per physical core, with ONNX Runtime in one pool shared by the whole process (default: 0)")
                    .maximum(256)
                    .default_value(DEFAULT_INFERENCE_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("inference-spinning")
                    .nick("Inference spinning")
                    .blurb("Keep ONNX Runtime's threads spinning after a model call (its own default; the model gets its own pool); false: they spin only while a call runs and sleep when it returns, leaving the cores to decoding (default: false)")
                    .default_value(DEFAULT_INFERENCE_SPINNING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("pipelining")
                    .nick("Pipelining")
                    .blurb("Detect faces in frame N+1 on a second thread while frame N is classified, drawn and pushed; adds one frame of latency, and a frame leaves only when the next one or EOS arrives (default: false)")
                    .default_value(DEFAULT_PIPELINING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-instance-id")
                    .nick("Model instance id")
                    .blurb("Elements with the same id share one loaded face detector and emotion classifier, and their faces share classifier batches; their model settings must be equal (default: none, private models)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("active-device")
                    .nick("Active device")
                    .blurb("Where the models run once loaded: cpu, cuda:N, gpu or npu (device=auto resolved); empty before READY (read-only)")
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
        let (m, p) = (&mut s.models, &mut s.params);
        match pspec.name() {
            "face-model" => m.face_model = path(value),
            "emotion-model" => m.emotion_model = path(value),
            "emotion-model-proc" => m.emotion_model_proc = path(value),
            "engine" => m.engine = value.get::<Option<String>>().ok().flatten().unwrap_or_else(|| DEFAULT_ENGINE.into()),
            "device" => m.device = value.get::<Option<String>>().ok().flatten().unwrap_or_else(|| DEFAULT_DEVICE.into()),
            "inference-threads" => m.threads = value.get::<u32>().expect("type checked upstream") as usize,
            "inference-spinning" => m.spinning = value.get().expect("type checked upstream"),
            "model-instance-id" => m.instance_id = value.get::<Option<String>>().ok().flatten().filter(|id| !id.is_empty()),
            "pipelining" => s.pipelining = value.get().expect("type checked upstream"),
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
        if pspec.name() == "active-device" {
            return self.active_device.lock().unwrap().to_value();
        }
        let s = self.settings.lock().unwrap();
        let (m, p) = (&s.models, &s.params);
        match pspec.name() {
            "face-model" => m.face_model_path().to_value(),
            "emotion-model" => m.emotion_model_path().to_value(),
            "emotion-model-proc" => m.emotion_model_proc.to_value(),
            "engine" => m.engine.to_value(),
            "device" => m.device.to_value(),
            "inference-threads" => (m.threads as u32).to_value(),
            "inference-spinning" => m.spinning.to_value(),
            "model-instance-id" => m.instance_id.to_value(),
            "pipelining" => s.pipelining.to_value(),
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
                 attaches a GstVideoRegionOfInterestMeta per face with detection, emotion and landmarks parameters \
                 and the frame's report for emotionpublish, posts an 'emotiondetect' element message per frame and \
                 draws boxes and labels",
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
        // Only serialized events come on the streaming thread, the one that owns `state`.
        match event.view() {
            gst::EventView::FlushStop(_) => self.discard_pending(),
            // The pending frame belongs before any later event (caps, segment, EOS, gap...).
            _ if event.is_serialized() => self.drain_pending(),
            _ => {}
        }
        if let gst::EventView::Eos(_) = event.view() {
            self.log_stage_summary();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        let (params, post) = self.frame_settings();
        let (mut laps, mut times) = (Laps::start(), StageTimes::default());
        let report = {
            let mut guard = self.state()?;
            let State { analyser, info, conversion, .. } = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let info = info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let analysed = Analysed::new(buf, info, conversion.as_ref());
            let report = analysed.analyse(analyser, buf, info, &params, |analyser, image, params| {
                laps.lap(&mut times, Stage::Map);
                let report = analyser.process(image, params);
                // The analyser timed its own stages.
                laps.restart();
                report
            });
            times.merge(&analyser.take_times());
            report
        };
        // For formats without a fast path, what is left is GStreamer's blending.
        laps.lap(&mut times, Stage::Draw);
        self.attach(buf, report, post)?;
        laps.lap(&mut times, Stage::Message);
        self.record_times(buf, times)?;
        Ok(gst::FlowSuccess::Ok)
    }

    fn submit_input_buffer(&self, is_discont: bool, inbuf: gst::Buffer) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        if !self.pipelined.load(Ordering::Acquire) {
            return self.parent_submit_input_buffer(is_discont, inbuf);
        }
        self.submit_pipelined(inbuf)
    }

    fn generate_output(&self) -> std::result::Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        if !self.pipelined.load(Ordering::Acquire) {
            return self.parent_generate_output();
        }
        let output = self.state()?.as_mut().and_then(|s| s.output.take());
        Ok(output.map_or(GenerateOutputSuccess::NoOutput, GenerateOutputSuccess::Buffer))
    }

    fn stop(&self) -> std::result::Result<(), gst::ErrorMessage> {
        self.discard_pending();
        self.log_stage_summary();
        self.parent_stop()
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let ok = BaseTransformImplExt::parent_query(self, direction, query);
        // Pipelined, each frame leaves one frame later: say so to live pipelines.
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let frame = gst::ClockTime::from_nseconds(self.frame_delay.load(Ordering::Acquire));
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
        if let Some(state) = self.state().map_err(|_| gst::loggable_error!(CAT, "state in use"))?.as_mut() {
            state.info = Some(in_info.clone());
            state.conversion = conversion;
        }
        if self.pipelined.load(Ordering::Acquire) {
            let fps = in_info.fps();
            self.frame_delay.store(pipelining::frame_delay(fps.numer(), fps.denom()), Ordering::Release);
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

    /// The streaming state. Only the streaming thread borrows it while PAUSED or PLAYING, so a
    /// second borrow is a bug: it is reported as an error, never a panic.
    fn state(&self) -> std::result::Result<AtomicRefMut<'_, Option<State>>, gst::FlowError> {
        self.state.try_borrow_mut().map_err(|_| {
            gst::error!(CAT, imp = self, "streaming state borrowed twice");
            gst::FlowError::Error
        })
    }

    /// Loads ONNX Runtime and both models, checking their shapes, or joins the instance
    /// shared under `model-instance-id`; starts the detection thread with `pipelining`.
    fn load(&self) -> std::result::Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let engine = Engine::load(&settings.models, Arc::new(ort_log)).map_err(|e| error_message(&e))?;
        gst::info!(CAT, imp = self, "{}", engine.describe());
        *self.active_device.lock().unwrap() = engine.device_name();
        let analyser = engine.analyser();
        let pipeline = if settings.pipelining { Some(start_pipeline(&analyser).map_err(|e| error_message(&e))?) } else { None };
        self.pipelined.store(pipeline.is_some(), Ordering::Release);
        let state = State {
            analyser,
            info: None,
            conversion: None,
            pipeline,
            output: None,
            source: None,
            frame_warnings: RateLimiter::default(),
            stages: StageStats::default(),
        };
        *self.state.try_borrow_mut().map_err(|_| gst::error_msg!(gst::CoreError::StateChange, ("state in use")))? = Some(state);
        Ok(())
    }

    /// Drops this element's hold on the models (shared ones are freed with the last holder)
    /// and the detection thread.
    fn unload(&self) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            *state = None;
        }
        self.pipelined.store(false, Ordering::Release);
        self.frame_delay.store(0, Ordering::Release);
        self.active_device.lock().unwrap().clear();
    }

    /// Attaches the outputs of one analysed frame: ROI metas, the report meta, the bus
    /// message. A failed analysis posts a (rate-limited) warning and leaves the frame untouched.
    fn attach(
        &self,
        buf: &mut gst::BufferRef,
        report: Result<FrameReport>,
        post_messages: bool,
    ) -> std::result::Result<(), gst::FlowError> {
        let mut report = match report {
            Ok(report) => report,
            Err(e) => {
                self.warn_skipped(buf, &e)?;
                return Ok(());
            }
        };
        self.set_times(&mut report, buf);
        self.set_source(&mut report)?;
        outputs::attach_metas(buf, &report);
        let message = post_messages.then(|| outputs::message_structure(&report, report.to_json()));
        ReportMeta::add(buf, Arc::new(report));
        if let Some(s) = message {
            let _ = self.obj().post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
        }
        Ok(())
    }

    /// One bad frame must not stop the stream: warn (rate-limited) and pass it through.
    fn warn_skipped(&self, buf: &gst::BufferRef, e: &Error) -> std::result::Result<(), gst::FlowError> {
        let held = self.state()?.as_mut().and_then(|s| s.frame_warnings.allow(std::time::Instant::now()));
        if let Some(held) = held {
            let more = if held > 0 { format!(" ({held} more frames skipped since the last warning)") } else { String::new() };
            gst::element_imp_warning!(self, gst::StreamError::Failed, ("frame {:?} skipped: {e}{more}", buf.pts()));
        }
        Ok(())
    }

    /// The report's `source` (the stream's URI, asked upstream once, redacted) and default `source_id`
    /// (that URI, else this element's name; emotionpublish's `source-id` replaces it).
    fn set_source(&self, report: &mut FrameReport) -> std::result::Result<(), gst::FlowError> {
        let known = self.state()?.as_ref().and_then(|s| s.source.clone());
        let uri = match known {
            Some(uri) => uri,
            None => {
                // Shown in every output (JSON, MQTT, the web app): never with a password.
                let uri = emotiondetect_core::redact::uri(&self.stream_uri());
                if let Some(s) = self.state()?.as_mut() {
                    s.source = Some(uri.clone());
                }
                uri
            }
        };
        report.source_id = if uri.is_empty() { self.obj().name().to_string() } else { uri.clone() };
        report.source = uri;
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

    /// Pipelined: hands `inbuf` to the detection thread and finishes the frame before it,
    /// which `generate_output` then pushes.
    fn submit_pipelined(&self, inbuf: gst::Buffer) -> std::result::Result<gst::FlowSuccess, gst::FlowError> {
        let (params, post) = self.frame_settings();
        let pushed = {
            let mut guard = self.state()?;
            let State { analyser, info, pipeline, conversion, .. } = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let info = info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let pipe = pipeline.as_mut().ok_or(gst::FlowError::Flushing)?;
            let run = analyser.next_runs_detector(&params);
            let analysed = Analysed::new(&inbuf, info, conversion.as_ref());
            // Built here, not on the worker: the worker's model call is the longer half.
            let input =
                if run { analysed.read(&inbuf, info, |image| Ok(Some(analyser.prepare_detection(image, &params)))) } else { Ok(None) };
            let job = DetectJob { buffer: inbuf, analysed, input, params, times: analyser.take_times() };
            // This frame's detection overlaps the previous frame's analysis, its push downstream
            // and the decoding of the next frame upstream.
            pipe.push(job, |d| finish(analyser, d, info, &params))
        };
        let finished = pushed.map_err(|e| {
            // The error names the detection thread (emotiondetect-detect).
            self.post_error_message(error_message(&e));
            gst::FlowError::Error
        })?;
        if let Some((mut buffer, report, mut times)) = finished {
            let mut laps = Laps::start();
            self.attach(buffer.make_mut(), report, post)?;
            laps.lap(&mut times, Stage::Message);
            self.record_times(&buffer, times)?;
            if let Some(s) = self.state()?.as_mut() {
                s.output = Some(buffer);
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Logs one frame's stage times (DEBUG) and keeps them for the medians (INFO).
    fn record_times(&self, buf: &gst::BufferRef, times: StageTimes) -> std::result::Result<(), gst::FlowError> {
        if !CAT_STAGES.above_threshold(gst::DebugLevel::Info) {
            return Ok(());
        }
        gst::debug!(CAT_STAGES, imp = self, "frame {}: {times}", buf.pts().display());
        if let Some(s) = self.state()?.as_mut() {
            s.stages.push(times);
        }
        Ok(())
    }

    /// Logs the medians of the stage times kept since the last summary (INFO), if any.
    fn log_stage_summary(&self) {
        let Ok(mut guard) = self.state() else { return };
        let Some(stats) = guard.as_mut().map(|s| &mut s.stages).filter(|s| !s.is_empty()) else { return };
        let summary = stats.take_summary();
        drop(guard);
        gst::info!(CAT_STAGES, imp = self, "stage medians (ms): {summary}");
    }

    /// Finishes and pushes the pending frame (before an event that must follow it).
    fn drain_pending(&self) {
        let (params, post) = self.frame_settings();
        let Ok(mut guard) = self.state() else { return };
        let Some(State { analyser, info: Some(info), pipeline: Some(pipe), .. }) = guard.as_mut() else { return };
        let drained = pipe.drain(|d| finish(analyser, d, info, &params));
        drop(guard);
        let (mut buffer, report, _) = match drained {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => return self.post_error_message(error_message(&e)),
        };
        if self.attach(buffer.make_mut(), report, post).is_err() {
            return;
        }
        if let Err(e) = self.obj().src_pad().push(buffer) {
            gst::debug!(CAT, imp = self, "pushing the last pending frame: {e:?}");
        }
    }

    fn discard_pending(&self) {
        if let Ok(mut guard) = self.state() {
            if let Some(s) = guard.as_mut() {
                s.output = None;
                if let Some(pipe) = s.pipeline.as_mut() {
                    pipe.discard();
                }
            }
        }
    }
}

/// The rest of a pipelined frame's analysis, once its detection is done.
/// Returns the frame, its report and its stage times (detection's included; the map is not
/// timed here, as it is split over both threads).
fn finish(
    analyser: &mut Analyser,
    detected: Detected,
    info: &VideoInfo,
    params: &FrameParams,
) -> (gst::Buffer, Result<FrameReport>, StageTimes) {
    let Detected { mut buffer, analysed, detection, input, mut times } = detected;
    if let Some(frame) = input {
        analyser.recycle(frame);
    }
    let report = detection.and_then(|d| {
        analysed.analyse(analyser, buffer.make_mut(), info, params, |analyser, image, params| analyser.analyse(image, d, params))
    });
    times.merge(&analyser.take_times());
    (buffer, report, times)
}

/// Routes ONNX Runtime's log into the `emotiondetect` debug category instead of stderr.
fn ort_log(level: LogLevel, message: &str) {
    match level {
        LogLevel::Verbose => gst::trace!(CAT, "onnxruntime: {message}"),
        LogLevel::Info => gst::debug!(CAT, "onnxruntime: {message}"),
        LogLevel::Warning => gst::warning!(CAT, "onnxruntime: {message}"),
        LogLevel::Error | LogLevel::Fatal => gst::error!(CAT, "onnxruntime: {message}"),
    }
}
