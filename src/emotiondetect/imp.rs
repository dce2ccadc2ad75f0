// The emotiondetect element: in-place GstVideoFilter. Models are loaded at NULL->READY; each
// buffer is analysed, annotated with ROI metas, reported on the bus and drawn on.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::{VideoFormat, VideoFrameRef, VideoInfo};

use crate::classification::{Emotion, OutputKind, DEFAULT_EMOTION_MODEL_FILE};
use crate::detection::{self, Face};
use crate::export::{self, ExportFace, MetadataWriter};
use crate::inference::{self, DetectParams, Device, FaceCrop, FaceDetector};
use crate::instances::{self, AcquireError, ModelKey, Models};
use crate::overlay::{self, Overlay};
use crate::preprocess::{Image, PixelLayout, YuvSpec};
use crate::runtime;
use crate::tracking::{Track, Tracker, TrackerParams};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("emotiondetect", gst::DebugColorFlags::empty(), Some("Facial emotion detector")));

const DEFAULT_FACE_MODEL_FILE: &str = "face_detection_yunet.onnx";
const DEFAULT_DEVICE: &str = "cpu";
const DEFAULT_THRESHOLD: f64 = 0.6;
const DEFAULT_NMS_THRESHOLD: f64 = 0.3;
const DEFAULT_MIN_FACE_SIZE: u32 = 0;
const DEFAULT_MAX_FACES: u32 = 0;
const DEFAULT_BATCH_SIZE: u32 = 32;
const DEFAULT_DRAW: bool = true;
const DEFAULT_POST_MESSAGES: bool = true;
const DEFAULT_DETECTOR_SIZE: u32 = 640;
const DEFAULT_CROP_MARGIN: f64 = 0.1;
const DEFAULT_INFERENCE_INTERVAL: u32 = 1;
const DEFAULT_RECLASSIFY_INTERVAL: u32 = 1;
const DEFAULT_TRACK_MAX_MISSES: u32 = 5;
const DEFAULT_EMOTION_SMOOTHING: f64 = 0.5;
const DEFAULT_INFERENCE_THREADS: u32 = 0;
const DEFAULT_INFERENCE_SPINNING: bool = false;
const DEFAULT_PIPELINING: bool = false;
/// Minimum IoU between a track's predicted box and a detection to continue the track.
const TRACK_IOU_THRESHOLD: f32 = 0.3;

/// The formats accepted in and out, listed once.
const FORMATS: [VideoFormat; 12] = [
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Argb,
    VideoFormat::Abgr,
    VideoFormat::I420,
    VideoFormat::Nv12,
];

/// Where the channels of each accepted format live, and for YUV how they map to RGB.
fn pixel_layout(info: &VideoInfo) -> Option<PixelLayout> {
    let c = info.colorimetry();
    let yuv =
        YuvSpec::from_colorimetry(c.matrix() == gst_video::VideoColorMatrix::Bt709, c.range() == gst_video::VideoColorRange::Range0_255);
    let packed = |bpp, r, g, b| Some(PixelLayout::Packed { bpp, r, g, b });
    match info.format() {
        VideoFormat::Rgb => packed(3, 0, 1, 2),
        VideoFormat::Bgr => packed(3, 2, 1, 0),
        VideoFormat::Rgbx | VideoFormat::Rgba => packed(4, 0, 1, 2),
        VideoFormat::Bgrx | VideoFormat::Bgra => packed(4, 2, 1, 0),
        VideoFormat::Xrgb | VideoFormat::Argb => packed(4, 1, 2, 3),
        VideoFormat::Xbgr | VideoFormat::Abgr => packed(4, 3, 2, 1),
        VideoFormat::I420 => Some(PixelLayout::I420(yuv)),
        VideoFormat::Nv12 => Some(PixelLayout::Nv12(yuv)),
        _ => None,
    }
}

#[derive(Clone, Debug)]
struct Settings {
    face_model: Option<PathBuf>,
    emotion_model: Option<PathBuf>,
    emotion_model_proc: Option<PathBuf>,
    device: String,
    threshold: f64,
    nms_threshold: f64,
    min_face_size: u32,
    max_faces: u32,
    batch_size: u32,
    draw: bool,
    post_messages: bool,
    detector_size: u32,
    crop_margin: f64,
    inference_interval: u32,
    reclassify_interval: u32,
    track_max_misses: u32,
    emotion_smoothing: f64,
    metadata_file: Option<PathBuf>,
    inference_threads: u32,
    inference_spinning: bool,
    pipelining: bool,
    model_instance_id: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            face_model: None,
            emotion_model: None,
            emotion_model_proc: None,
            device: DEFAULT_DEVICE.into(),
            threshold: DEFAULT_THRESHOLD,
            nms_threshold: DEFAULT_NMS_THRESHOLD,
            min_face_size: DEFAULT_MIN_FACE_SIZE,
            max_faces: DEFAULT_MAX_FACES,
            batch_size: DEFAULT_BATCH_SIZE,
            draw: DEFAULT_DRAW,
            post_messages: DEFAULT_POST_MESSAGES,
            detector_size: DEFAULT_DETECTOR_SIZE,
            crop_margin: DEFAULT_CROP_MARGIN,
            inference_interval: DEFAULT_INFERENCE_INTERVAL,
            reclassify_interval: DEFAULT_RECLASSIFY_INTERVAL,
            track_max_misses: DEFAULT_TRACK_MAX_MISSES,
            emotion_smoothing: DEFAULT_EMOTION_SMOOTHING,
            metadata_file: None,
            inference_threads: DEFAULT_INFERENCE_THREADS,
            inference_spinning: DEFAULT_INFERENCE_SPINNING,
            pipelining: DEFAULT_PIPELINING,
            model_instance_id: None,
        }
    }
}

impl Settings {
    fn face_model_path(&self) -> PathBuf {
        self.face_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_FACE_MODEL_FILE))
    }

    fn emotion_model_path(&self) -> PathBuf {
        self.emotion_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE))
    }

    /// What must match for elements to share models.
    ///
    /// Errors: the device does not parse.
    fn model_key(&self) -> Result<ModelKey, String> {
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
    analysis: Analysis,
    /// The detector input, reused from frame to frame (built outside the detector's lock).
    detector_tensor: Vec<f32>,
    /// Frames seen since READY, for the inference interval.
    frame_count: u64,
    info: Option<VideoInfo>,
    /// Pipelined: the frame whose detection ran last, waiting for the rest of its analysis.
    pending: Option<Pending>,
    /// Pipelined: the finished frame that `generate_output` hands downstream.
    ready: Option<gst::Buffer>,
}

impl State {
    /// Whether the detector runs on the next frame (every `inference-interval` frames).
    fn next_runs_detector(&mut self, settings: &Settings) -> bool {
        let run = self.frame_count.is_multiple_of(settings.inference_interval.max(1) as u64);
        self.frame_count += 1;
        run
    }
}

/// The models and everything after detection: tracking, classification, drawing and output.
struct Analysis {
    /// Private, or shared with the elements of the same `model-instance-id`.
    models: Arc<Models>,
    /// This element's stream, as the shared classifier counts it.
    owner: u64,
    /// The classifier input, reused from frame to frame.
    tensor: Vec<f32>,
    overlay: Overlay,
    tracker: Tracker,
    /// JSON lines output, with the stream's URI once known.
    writer: Option<MetadataWriter>,
    source: Option<String>,
}

/// What the detector gave for one frame: `None` when it did not run (inference-interval).
type Detection = Result<Option<Vec<Face>>, String>;

/// A frame whose detection is done, waiting for the rest of its analysis.
struct Pending {
    buffer: gst::Buffer,
    detection: Detection,
}

/// One face's result.
struct FaceResult {
    /// Track id, stable across frames.
    id: u64,
    face: Face,
    /// The last classifier output for this face (this frame's, or cached).
    raw: Emotion,
    /// The smoothed probabilities: the label reported and drawn.
    smoothed: Emotion,
}

/// The result of a visible track, once it has been classified.
fn face_result(track: &Track) -> Option<FaceResult> {
    // Scores are stored as probabilities (softmax already applied), so both rows are read as such.
    let raw = Emotion::from_row(track.raw_scores.clone()?, OutputKind::Probabilities)?;
    let smoothed = Emotion::from_row(track.smoothed.clone()?, OutputKind::Probabilities)?;
    Some(FaceResult { id: track.id, face: track.face.clone(), raw, smoothed })
}

#[derive(Default)]
pub struct EmotionDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// `active-device`: kept apart from `state` so that reading it never waits for a frame.
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
        let mut s = self.settings.lock().unwrap();
        let path = |v: &glib::Value| v.get::<Option<String>>().ok().flatten().filter(|p| !p.is_empty()).map(PathBuf::from);
        match pspec.name() {
            "face-model" => s.face_model = path(value),
            "emotion-model" => s.emotion_model = path(value),
            "emotion-model-proc" => s.emotion_model_proc = path(value),
            "device" => s.device = value.get::<Option<String>>().ok().flatten().unwrap_or_else(|| DEFAULT_DEVICE.into()),
            "threshold" => s.threshold = value.get().expect("type checked upstream"),
            "nms-threshold" => s.nms_threshold = value.get().expect("type checked upstream"),
            "min-face-size" => s.min_face_size = value.get().expect("type checked upstream"),
            "max-faces" => s.max_faces = value.get().expect("type checked upstream"),
            "batch-size" => s.batch_size = value.get().expect("type checked upstream"),
            "draw" => s.draw = value.get().expect("type checked upstream"),
            "post-messages" => s.post_messages = value.get().expect("type checked upstream"),
            "detector-size" => s.detector_size = value.get().expect("type checked upstream"),
            "crop-margin" => s.crop_margin = value.get().expect("type checked upstream"),
            "inference-interval" => s.inference_interval = value.get().expect("type checked upstream"),
            "reclassify-interval" => s.reclassify_interval = value.get().expect("type checked upstream"),
            "track-max-misses" => s.track_max_misses = value.get().expect("type checked upstream"),
            "emotion-smoothing" => s.emotion_smoothing = value.get().expect("type checked upstream"),
            "metadata-file" => s.metadata_file = path(value),
            "inference-threads" => s.inference_threads = value.get().expect("type checked upstream"),
            "inference-spinning" => s.inference_spinning = value.get().expect("type checked upstream"),
            "pipelining" => s.pipelining = value.get().expect("type checked upstream"),
            "model-instance-id" => s.model_instance_id = value.get::<Option<String>>().ok().flatten().filter(|id| !id.is_empty()),
            other => unimplemented!("property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "face-model" => s.face_model_path().to_string_lossy().to_value(),
            "emotion-model" => s.emotion_model_path().to_string_lossy().to_value(),
            "emotion-model-proc" => s.emotion_model_proc.as_ref().map(|p| p.to_string_lossy().into_owned()).to_value(),
            "device" => s.device.to_value(),
            "threshold" => s.threshold.to_value(),
            "nms-threshold" => s.nms_threshold.to_value(),
            "min-face-size" => s.min_face_size.to_value(),
            "max-faces" => s.max_faces.to_value(),
            "batch-size" => s.batch_size.to_value(),
            "draw" => s.draw.to_value(),
            "post-messages" => s.post_messages.to_value(),
            "detector-size" => s.detector_size.to_value(),
            "crop-margin" => s.crop_margin.to_value(),
            "inference-interval" => s.inference_interval.to_value(),
            "reclassify-interval" => s.reclassify_interval.to_value(),
            "track-max-misses" => s.track_max_misses.to_value(),
            "emotion-smoothing" => s.emotion_smoothing.to_value(),
            "inference-threads" => s.inference_threads.to_value(),
            "inference-spinning" => s.inference_spinning.to_value(),
            "pipelining" => s.pipelining.to_value(),
            "metadata-file" => s.metadata_file.as_ref().map(|p| p.to_string_lossy().to_string()).to_value(),
            "model-instance-id" => s.model_instance_id.to_value(),
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

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            let state = self.load().map_err(|msg| {
                self.post_error_message(msg);
                gst::StateChangeError
            })?;
            *self.state.lock().unwrap() = Some(state);
        }
        if transition == gst::StateChange::ReadyToNull {
            self.flush_metadata();
        }
        let result = self.parent_change_state(transition);
        if transition == gst::StateChange::ReadyToNull || (result.is_err() && transition == gst::StateChange::NullToReady) {
            // Drops this element's hold on the models: shared ones are freed with the last holder.
            *self.state.lock().unwrap() = None;
            self.active_device.lock().unwrap().clear();
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

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().clone();
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let detection = if state.next_runs_detector(&settings) {
            detect_buffer(&state.analysis.models, &mut state.detector_tensor, buf, &info, &settings).map(Some)
        } else {
            Ok(None)
        };
        self.finish(&mut state.analysis, buf, &info, &settings, detection);
        Ok(gst::FlowSuccess::Ok)
    }

    fn submit_input_buffer(&self, is_discont: bool, inbuf: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().clone();
        if !settings.pipelining {
            return self.parent_submit_input_buffer(is_discont, inbuf);
        }
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let run = state.next_runs_detector(&settings);
        let previous = state.pending.take();
        let State { analysis, detector_tensor, .. } = state;
        let models = analysis.models.clone();
        // Detection of this frame overlaps the rest of the previous frame's analysis.
        let (detection, finished) = std::thread::scope(|scope| {
            let worker =
                scope.spawn(|| if run { detect_buffer(&models, detector_tensor, &inbuf, &info, &settings).map(Some) } else { Ok(None) });
            let finished = previous.map(|p| self.finish_pending(analysis, p, &info, &settings));
            let detection = worker.join().unwrap_or_else(|_| Err("the detector thread panicked".into()));
            (detection, finished)
        });
        state.pending = Some(Pending { buffer: inbuf, detection });
        state.ready = finished;
        Ok(gst::FlowSuccess::Ok)
    }

    fn generate_output(&self) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        if !self.settings.lock().unwrap().pipelining {
            return self.parent_generate_output();
        }
        let ready = self.state.lock().unwrap().as_mut().and_then(|s| s.ready.take());
        Ok(ready.map_or(GenerateOutputSuccess::NoOutput, GenerateOutputSuccess::Buffer))
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
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
    ) -> Result<(), gst::LoggableError> {
        if pixel_layout(in_info).is_none() {
            return Err(gst::loggable_error!(CAT, "unsupported format {:?}", in_info.format()));
        }
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(in_info.clone());
        }
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}

impl EmotionDetect {
    /// Loads ONNX Runtime and both models, checking their shapes, or joins the instance
    /// shared under `model-instance-id`.
    fn load(&self) -> Result<State, gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let key = settings.model_key().map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{e}")))?;
        let env = runtime::environment(std::sync::Arc::new(ort_log)).map_err(|e| gst::error_msg!(gst::LibraryError::Init, ("{e}")))?;
        let id = settings.model_instance_id.as_deref();
        let models = instances::acquire(env, id, &key).map_err(|e| match e {
            AcquireError::Mismatch(m) => gst::error_msg!(gst::LibraryError::Settings, ("{m}")),
            AcquireError::Load(m) => gst::error_msg!(gst::ResourceError::OpenRead, ("{m}")),
        })?;
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
        let writer = match &settings.metadata_file {
            Some(path) => Some(MetadataWriter::create(path).map_err(|e| gst::error_msg!(gst::ResourceError::OpenWrite, ("{e}")))?),
            None => None,
        };
        *self.active_device.lock().unwrap() = models.device.name();
        static OWNERS: AtomicU64 = AtomicU64::new(0);
        let owner = OWNERS.fetch_add(1, Ordering::Relaxed);
        let analysis =
            Analysis { models, owner, tensor: Vec::new(), overlay: Overlay::new(), tracker: Tracker::new(), writer, source: None };
        Ok(State { analysis, detector_tensor: Vec::new(), frame_count: 0, info: None, pending: None, ready: None })
    }

    /// Finishes a frame whose detection is done: tracking, classification, drawing, metas,
    /// message and JSON line. A failure posts a warning and leaves the frame untouched.
    fn finish(&self, analysis: &mut Analysis, buf: &mut gst::BufferRef, info: &VideoInfo, settings: &Settings, detection: Detection) {
        let results = match detection.and_then(|faces| self.process_frame(analysis, buf, info, settings, faces)) {
            Ok(results) => results,
            Err(e) => {
                // One bad frame must not stop the stream: warn and pass it through untouched.
                gst::element_imp_warning!(self, gst::StreamError::Failed, ("frame {:?} skipped: {e}", buf.pts()));
                return;
            }
        };
        if analysis.writer.is_some() {
            self.export(analysis, buf.pts(), info, &results);
        }
        let spec = &analysis.models.spec;
        attach_metas(buf, info, &results, &spec.labels, &spec.name);
        if settings.post_messages {
            self.post_results(buf, &results, &spec.labels);
        }
    }

    fn finish_pending(&self, analysis: &mut Analysis, pending: Pending, info: &VideoInfo, settings: &Settings) -> gst::Buffer {
        let mut buffer = pending.buffer;
        self.finish(analysis, buffer.make_mut(), info, settings, pending.detection);
        buffer
    }

    /// Finishes and pushes the pending frame (before an event that must follow it).
    fn drain_pending(&self) {
        let settings = self.settings.lock().unwrap().clone();
        let finished = {
            let mut guard = self.state.lock().unwrap();
            let Some(state) = guard.as_mut() else { return };
            let (Some(pending), Some(info)) = (state.pending.take(), state.info.clone()) else { return };
            self.finish_pending(&mut state.analysis, pending, &info, &settings)
        };
        if let Err(e) = self.obj().src_pad().push(finished) {
            gst::debug!(CAT, imp = self, "pushing the last pending frame: {e:?}");
        }
    }

    fn discard_pending(&self) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.pending = None;
            state.ready = None;
        }
    }

    /// One frame's duration when pipelining (the delay it adds), else zero.
    fn pipelining_delay(&self) -> gst::ClockTime {
        if !self.settings.lock().unwrap().pipelining {
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

    /// Tracks, classifies and (with `draw`) draws, given the frame's detection. Returns the
    /// visible faces in frame pixels.
    fn process_frame(
        &self,
        analysis: &mut Analysis,
        buf: &mut gst::BufferRef,
        info: &VideoInfo,
        settings: &Settings,
        faces: Option<Vec<Face>>,
    ) -> Result<Vec<FaceResult>, String> {
        let layout = pixel_layout(info).ok_or("unsupported format")?;
        let mut frame = VideoFrameRef::from_buffer_ref_writable(buf, info).map_err(|e| format!("cannot map the frame: {e}"))?;
        let strides = frame.plane_stride();
        let strides = [0, 1, 2].map(|i| strides.get(i).copied().unwrap_or(0).max(0) as usize);
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let [p0, p1, p2, _] = frame.planes_data_mut();
        let mut image = Image { layout, width, height, planes: [p0, p1, p2], strides };

        let results = track_and_classify(analysis, &image, settings, faces)?;
        if settings.draw {
            let labels = &analysis.models.spec.labels;
            for r in &results {
                let text = format!("#{} {} {:.2}", r.id, labels[r.smoothed.label_id], r.smoothed.confidence);
                let f = &r.face;
                let bbox = (f.x0.round() as i64, f.y0.round() as i64, f.x1.round() as i64, f.y1.round() as i64);
                analysis.overlay.draw_face(&mut image, bbox, &text, overlay::label_colour(&labels[r.smoothed.label_id]));
            }
        }
        Ok(results)
    }

    /// Appends the frame's JSON line to `metadata-file`; a write error posts a warning.
    fn export(&self, state: &mut Analysis, pts: Option<gst::ClockTime>, info: &VideoInfo, results: &[FaceResult]) {
        if state.source.is_none() {
            // The URI of the stream (filesrc, rtspsrc, ... answer it), asked once.
            let mut query = gst::query::Uri::new();
            let found = self.obj().static_pad("sink").is_some_and(|pad| pad.peer_query(&mut query));
            state.source = Some(if found { query.uri().map(|u| u.to_string()).unwrap_or_default() } else { String::new() });
        }
        let labels = &state.models.spec.labels;
        let faces: Vec<ExportFace> = results
            .iter()
            .map(|r| ExportFace {
                id: r.id,
                bbox: (r.face.x0, r.face.y0, r.face.x1, r.face.y1),
                confidence: r.face.score,
                label: &labels[r.smoothed.label_id],
                label_id: r.smoothed.label_id,
                emotion_confidence: r.smoothed.confidence,
                scores: &r.smoothed.scores,
            })
            .collect();
        let json = export::frame_json(
            info.width(),
            info.height(),
            pts.map(|t| t.nseconds()),
            state.source.as_deref().unwrap_or(""),
            &state.models.spec.name,
            &faces,
        );
        if let Some(Err(e)) = state.writer.as_mut().map(|w| w.write_frame(&json)) {
            gst::element_imp_warning!(self, gst::ResourceError::Write, ("metadata file: {e}"));
        }
    }

    /// Pushes buffered JSON lines out (EOS, stop): the last frames are never lost.
    fn flush_metadata(&self) {
        let mut guard = self.state.lock().unwrap();
        if let Some(Err(e)) = guard.as_mut().and_then(|s| s.analysis.writer.as_mut()).map(|w| w.flush()) {
            gst::element_imp_warning!(self, gst::ResourceError::Write, ("metadata file: {e}"));
        }
    }

    /// Posts the frame's `emotiondetect` element message (see docs/conventions.md).
    fn post_results(&self, buf: &gst::BufferRef, results: &[FaceResult], labels: &[String]) {
        let segment = self.obj().segment();
        let segment = segment.downcast_ref::<gst::ClockTime>();
        let pts = buf.pts();
        let ns = |t: Option<gst::ClockTime>| t.map_or(u64::MAX, |t| t.nseconds());
        let faces = gst::List::new(results.iter().map(|r| {
            let f = &r.face;
            gst::Structure::builder("face")
                .field("id", r.id as i32)
                .field("x", f.x0.round() as u32)
                .field("y", f.y0.round() as u32)
                .field("width", f.width().round() as u32)
                .field("height", f.height().round() as u32)
                .field("confidence", f.score as f64)
                .field("emotion", labels[r.smoothed.label_id].as_str())
                .field("emotion-confidence", r.smoothed.confidence as f64)
                .field("scores", gst::List::new(r.raw.scores.iter().map(|&s| s as f64)))
                .field("smoothed-scores", gst::List::new(r.smoothed.scores.iter().map(|&s| s as f64)))
                .build()
        }));
        let s = gst::Structure::builder("emotiondetect")
            .field("timestamp", ns(pts))
            .field("stream-time", ns(segment.and_then(|s| s.to_stream_time(pts?))))
            .field("running-time", ns(segment.and_then(|s| s.to_running_time(pts?))))
            .field("duration", ns(buf.duration()))
            .field("faces", faces)
            .build();
        let _ = self.obj().post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}

/// Runs the face detector on `buf` and keeps the faces the settings allow, in frame pixels.
/// Only the model run holds the (maybe shared) detector's lock, not the pre-processing.
fn detect_buffer(
    models: &Models,
    tensor: &mut Vec<f32>,
    buf: &gst::BufferRef,
    info: &VideoInfo,
    settings: &Settings,
) -> Result<Vec<Face>, String> {
    let layout = pixel_layout(info).ok_or("unsupported format")?;
    let frame = VideoFrameRef::from_buffer_ref_readable(buf, info).map_err(|e| format!("cannot map the frame: {e}"))?;
    let strides = frame.plane_stride();
    let strides = [0, 1, 2].map(|i| strides.get(i).copied().unwrap_or(0).max(0) as usize);
    let plane = |i: u32| if i < frame.n_planes() { frame.plane_data(i).unwrap_or(&[]) } else { &[] };
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let image = Image { layout, width, height, planes: [plane(0), plane(1), plane(2)], strides };
    let params = DetectParams {
        threshold: settings.threshold as f32,
        nms_threshold: settings.nms_threshold as f32,
        detector_size: settings.detector_size as usize,
    };
    let input = FaceDetector::prepare(models.family, &image, &params, std::mem::take(tensor));
    let faces = models.detector.lock().unwrap_or_else(PoisonError::into_inner).detect_prepared(&input);
    *tensor = input.tensor;
    let faces = faces?;
    Ok(detection::filter_faces(faces, width as f32, height as f32, settings.min_face_size as f32, settings.max_faces as usize))
}

/// Updates the tracks with the frame's detections (or carries them when the detector did not
/// run), and classifies the faces that are new or due (every `reclassify-interval` frames)
/// in batches. Returns the faces matched on the last detector run.
fn track_and_classify<P: AsRef<[u8]> + Sync>(
    analysis: &mut Analysis,
    image: &Image<P>,
    settings: &Settings,
    faces: Option<Vec<Face>>,
) -> Result<Vec<FaceResult>, String> {
    let params = TrackerParams {
        iou_threshold: TRACK_IOU_THRESHOLD,
        max_misses: settings.track_max_misses,
        smoothing: settings.emotion_smoothing as f32,
    };
    let tracker = &mut analysis.tracker;
    tracker.age_classifications();
    match faces {
        Some(faces) => {
            tracker.update(faces, &params);
        }
        None => tracker.predict(),
    }
    // Faces matched on the last detector run are the ones reported; missed tracks wait.
    let visible: Vec<usize> = (0..tracker.tracks().len()).filter(|&i| tracker.tracks()[i].misses == 0).collect();
    let due: Vec<usize> =
        visible.iter().copied().filter(|&i| tracker.tracks()[i].needs_classification(settings.reclassify_interval)).collect();
    let margin = settings.crop_margin as f32;
    let crops: Vec<_> = due
        .iter()
        .map(|&i| {
            let face = &tracker.tracks()[i].face;
            FaceCrop { region: detection::crop_region(face, margin), landmarks: face.landmarks }
        })
        .collect();
    let emotions = classify(&analysis.models, analysis.owner, &mut analysis.tensor, image, &crops, settings.batch_size as usize)?;
    for (&i, e) in due.iter().zip(emotions) {
        tracker.tracks_mut()[i].set_scores(e.scores, params.smoothing);
    }
    Ok(visible.iter().filter_map(|&i| face_result(&tracker.tracks()[i])).collect())
}

/// Classifies `crops` of `image` through the (maybe shared) classifier: this stream's faces may
/// share model calls with other streams' faces. Returns one result per crop, in order.
/// `tensor` is the reused input buffer.
fn classify<P: AsRef<[u8]> + Sync>(
    models: &Models,
    owner: u64,
    tensor: &mut Vec<f32>,
    image: &Image<P>,
    crops: &[FaceCrop],
    batch_size: usize,
) -> Result<Vec<Emotion>, String> {
    if crops.is_empty() {
        return Ok(Vec::new());
    }
    let per = models.spec.target().len();
    let mut input = std::mem::take(tensor);
    input.resize(per * crops.len(), 0.0);
    for (crop, out) in crops.iter().zip(input.chunks_mut(per)) {
        inference::face_tensor(&models.spec, image, crop, out);
    }
    let served = models.classifier.run(owner, input, crops.len(), batch_size);
    *tensor = served.tensor;
    served.results
}

/// Adds one ROI meta per face with its `detection`, `emotion` and `landmarks` parameters.
fn attach_metas(buf: &mut gst::BufferRef, info: &VideoInfo, results: &[FaceResult], labels: &[String], model_name: &str) {
    let (w, h) = (info.width() as f64, info.height() as f64);
    for r in results {
        let f = &r.face;
        let rect = (f.x0.round() as u32, f.y0.round() as u32, f.width().round() as u32, f.height().round() as u32);
        let mut meta = gst_video::VideoRegionOfInterestMeta::add(buf, "face", rect);
        meta.set_id(r.id as i32);
        meta.add_param(gst::Structure::builder("object_id").field("id", r.id as i32).build());
        meta.add_param(
            gst::Structure::builder("detection")
                .field("x_min", f.x0 as f64 / w)
                .field("y_min", f.y0 as f64 / h)
                .field("x_max", f.x1 as f64 / w)
                .field("y_max", f.y1 as f64 / h)
                .field("confidence", f.score as f64)
                .field("label_id", 0i32)
                .field("label", "face")
                .build(),
        );
        meta.add_param(
            gst::Structure::builder("emotion")
                .field("label", labels[r.smoothed.label_id].as_str())
                .field("label_id", r.smoothed.label_id as i32)
                .field("confidence", r.smoothed.confidence as f64)
                .field("model_name", model_name)
                .field("scores", gst::List::new(r.raw.scores.iter().map(|&s| s as f64)))
                .field("smoothed_scores", gst::List::new(r.smoothed.scores.iter().map(|&s| s as f64)))
                .build(),
        );
        if let Some(points) = f.landmarks {
            let mut s = gst::Structure::builder("landmarks");
            for (k, p) in points.iter().enumerate() {
                s = s.field(format!("x{k}"), p[0] as f64 / w).field(format!("y{k}"), p[1] as f64 / h);
            }
            meta.add_param(s.build());
        }
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
