// SPDX-License-Identifier: MIT
//! The analysis of one frame, without GStreamer: face detection, tracking, batched emotion
//! classification, drawing, and the [`FrameReport`] every output is built from.
//!
//! The element (`emotiondetect/imp.rs`) maps a buffer once, writable, as an [`Image`] and calls
//! [`Analyser::process`] (or, pipelined, [`Analyser::prepare_detection`] and [`Analyser::analyse`]
//! on the streaming thread and [`FrameDetector::detect_prepared`] on a worker thread); the tests
//! and benches call the same.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use crate::classification::top1;
use crate::detection::{self, Face};
use crate::error::Result;
use crate::frame_report::{self, DetectionReport, EmotionReport, FaceReport, FrameReport, ModelRef, Resolution};
use crate::inference::{self, DetectParams, DetectorInput, FaceCrop, FaceDetector};
use crate::instances::Models;
use crate::overlay::{self, DrawMode, FaceMark, Mark, Overlay, Sprite};
use crate::preprocess::Image;
use crate::stages::{Laps, Stage, StageTimes};
use crate::tracking::{Track, Tracker, TrackerParams};

/// Minimum IoU between a track's predicted box and a detection to continue the track.
const TRACK_IOU_THRESHOLD: f32 = 0.3;

/// Default `min-emotion-face-size`, pixels: on FER2013 val shrunk to N x N pixels before the
/// element's crop-and-resize, accuracy is 46.5 % at 24 px and 53.1 % at 25 px (docs/models.md, Small
/// faces): below 25 px an emotion is wrong more often than right.
pub const DEFAULT_MIN_EMOTION_FACE_SIZE: u32 = 25;

/// Whether `face` is too small to classify under `min_size` pixels (its width or height is
/// below it; 0 = never).
pub fn too_small_for_emotion(face: &Face, min_size: u32) -> bool {
    (face.x1 - face.x0).min(face.y1 - face.y0) < min_size as f32
}

/// The per-frame settings (the element's properties that may change while PLAYING), copied
/// once per frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameParams {
    /// Minimum face confidence, 0..1.
    pub threshold: f64,
    /// IoU above which NMS merges two faces, 0..1.
    pub nms_threshold: f64,
    /// Faces narrower or shorter than this many frame pixels are dropped.
    pub min_face_size: u32,
    /// Faces narrower or shorter than this many frame pixels are reported without an emotion
    /// ([`EmotionReport::unknown`]) and not classified; 0 = classify every face.
    pub min_emotion_face_size: u32,
    /// At most this many faces per frame, the most confident first; 0 = no limit.
    pub max_faces: u32,
    /// Long side of the YuNet input, pixels (0 = the frame's).
    pub detector_size: u32,
    /// Faces per classifier call.
    pub batch_size: u32,
    /// Margin around each face before classification, a fraction of its size.
    pub crop_margin: f64,
    /// Run the detector every N frames (tracked boxes are carried in between).
    pub inference_interval: u32,
    /// Classify a tracked face every N frames (new faces at once).
    pub reclassify_interval: u32,
    /// Detector runs a track survives unmatched.
    pub track_max_misses: u32,
    /// Weight of the past in the moving average of the probabilities, 0..0.99.
    pub emotion_smoothing: f64,
    /// Draw on the frame (how: `draw_mode`).
    pub draw: bool,
    /// Boxes and tags, boxes only, or faces pixelated.
    pub draw_mode: DrawMode,
    /// Tag text height, pixels; 0 scales it to each face.
    pub label_size: u32,
}

impl FrameParams {
    /// The element's defaults (its properties' documented defaults).
    pub const DEFAULT: FrameParams = FrameParams {
        threshold: 0.6,
        nms_threshold: 0.3,
        min_face_size: 0,
        min_emotion_face_size: DEFAULT_MIN_EMOTION_FACE_SIZE,
        max_faces: 0,
        detector_size: 640,
        batch_size: 32,
        crop_margin: 0.1,
        inference_interval: 1,
        reclassify_interval: 1,
        track_max_misses: 5,
        emotion_smoothing: 0.5,
        draw: true,
        draw_mode: DrawMode::Labels,
        label_size: 0,
    };

    fn tracker(&self) -> TrackerParams {
        TrackerParams { iou_threshold: TRACK_IOU_THRESHOLD, max_misses: self.track_max_misses, smoothing: self.emotion_smoothing as f32 }
    }
}

impl Default for FrameParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The faces the detector found in one frame, in frame pixels, after NMS and the size and
/// count limits, best first.
pub type Detections = Vec<Face>;

/// The face detector's half of the analysis, with its reusable input tensors. It can run on
/// another thread than the [`Analyser`] it came from ([`Analyser::detector`]); the model is
/// locked only while it runs, not while its input is built. Pipelined, one thread builds a
/// frame's input ([`Self::prepare`]) while another runs the frame before it
/// ([`Self::detect_prepared`]).
pub struct FrameDetector {
    models: Arc<Models>,
    /// Input tensors to reuse, given back by [`Self::recycle`]: one, or two in turn when
    /// pipelined.
    tensors: Vec<Vec<f32>>,
    /// Time in each stage since the last [`Self::take_times`].
    times: StageTimes,
}

/// One frame's detector input ([`FrameDetector::prepare`]): the tensor (YuNet: 1 x 3 x H x W,
/// BGR 0..255, H and W padded to multiples of 32) and how faces map back to the frame.
pub struct PreparedFrame {
    input: DetectorInput,
    /// The frame's size, pixels.
    size: (f32, f32),
}

/// At most this many input tensors are kept for reuse (two frames in flight when pipelined).
const KEPT_TENSORS: usize = 2;

impl FrameDetector {
    /// A detector over `models` (private, or shared under a `model-instance-id`).
    pub fn new(models: Arc<Models>) -> FrameDetector {
        FrameDetector { models, tensors: Vec::new(), times: StageTimes::default() }
    }

    /// Runs the face detector on `image` with `params`' thresholds and limits: [`Self::prepare`]
    /// then [`Self::detect_prepared`].
    ///
    /// Errors: [`Error::Inference`](crate::error::Error::Inference) when ONNX Runtime fails on this frame.
    pub fn detect<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, params: &FrameParams) -> Result<Detections> {
        let frame = self.prepare(image, params);
        let faces = self.detect_prepared(&frame, params);
        self.recycle(frame);
        faces
    }

    /// Builds `image`'s detector input (the prepare stage) in a reused tensor, with `params`'
    /// thresholds and detector size.
    pub fn prepare<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, params: &FrameParams) -> PreparedFrame {
        let detect = DetectParams {
            threshold: params.threshold as f32,
            nms_threshold: params.nms_threshold as f32,
            detector_size: params.detector_size as usize,
        };
        let mut laps = Laps::start();
        let tensor = self.tensors.pop().unwrap_or_default();
        let input = FaceDetector::prepare(self.models.family, image, &detect, tensor);
        laps.lap(&mut self.times, Stage::Prepare);
        PreparedFrame { input, size: (image.width as f32, image.height as f32) }
    }

    /// Runs the face detector on `frame` (prepared by this or another detector over the same
    /// models) and applies `params`' size and count limits; faces in frame pixels, best first.
    ///
    /// Errors: [`Error::Inference`](crate::error::Error::Inference) when ONNX Runtime fails on this frame.
    pub fn detect_prepared(&mut self, frame: &PreparedFrame, params: &FrameParams) -> Result<Detections> {
        let mut laps = Laps::start();
        let mut detector = self.models.detector.lock().unwrap_or_else(PoisonError::into_inner);
        laps.lap(&mut self.times, Stage::DetectorRun);
        let faces = detector.detect_prepared(&frame.input);
        let run = detector.last_run();
        drop(detector);
        let (w, h) = frame.size;
        let faces = faces.map(|f| detection::filter_faces(f, w, h, params.min_face_size as f32, params.max_faces as usize));
        // The model call is timed inside; the rest of detect_prepared decodes its outputs.
        let rest = laps.split().saturating_sub(run);
        self.times.add(Stage::DetectorRun, run);
        self.times.add(Stage::Decode, rest);
        faces
    }

    /// Keeps `frame`'s tensor for a later [`Self::prepare`].
    pub fn recycle(&mut self, frame: PreparedFrame) {
        if self.tensors.len() < KEPT_TENSORS {
            self.tensors.push(frame.input.tensor);
        }
    }

    /// The time this detector spent in each stage since the last call (prepare, detector run,
    /// decode), and starts over.
    pub fn take_times(&mut self) -> StageTimes {
        std::mem::take(&mut self.times)
    }
}

/// One stream's analysis: the models (private or shared), the tracker, the overlay and the
/// reusable tensors.
pub struct Analyser {
    detector: FrameDetector,
    /// This stream, as the shared classifier counts it.
    owner: u64,
    /// The classifier input, `faces` x the spec's tensor size, reused from frame to frame.
    tensor: Vec<f32>,
    tracker: Tracker,
    overlay: Overlay,
    /// Frames seen, for `inference-interval`.
    frames: u64,
    /// The size of the last frame: a change ends the tracks.
    size: Option<(usize, usize)>,
    labels: Arc<[String]>,
    model_name: Arc<str>,
    /// Time in each stage of [`Self::analyse`] since the last [`Self::take_times`].
    times: StageTimes,
    /// Buffers reused from frame to frame, so that a steady stream allocates only its report.
    scratch: Scratch,
}

/// [`Analyser`]'s per-frame buffers.
#[derive(Default)]
struct Scratch {
    /// Indices of the tracks seen on this frame, and of those to classify.
    visible: Vec<usize>,
    due: Vec<usize>,
    /// The classifier's probabilities, `due.len()` x labels.
    results: Vec<f32>,
    faces: Vec<FaceMark>,
    marks: Vec<Mark>,
}

impl Analyser {
    /// An analyser over `models`.
    pub fn new(models: Arc<Models>) -> Analyser {
        static OWNERS: AtomicU64 = AtomicU64::new(0);
        let labels: Arc<[String]> = models.spec.labels.clone().into();
        let model_name: Arc<str> = models.spec.name.as_str().into();
        Analyser {
            detector: FrameDetector::new(models),
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            tensor: Vec::new(),
            tracker: Tracker::new(),
            overlay: Overlay::new(),
            frames: 0,
            size: None,
            labels,
            model_name,
            times: StageTimes::default(),
            scratch: Scratch::default(),
        }
    }

    /// The time spent in each stage since the last call, by [`Self::analyse`] and this
    /// analyser's own detector ([`Self::detect`]), and starts over. A detector on another thread
    /// ([`Self::detector`]) keeps its own ([`FrameDetector::take_times`]).
    pub fn take_times(&mut self) -> StageTimes {
        let mut times = std::mem::take(&mut self.times);
        times.merge(&self.detector.take_times());
        times
    }

    /// The models this analyser runs.
    pub fn models(&self) -> &Arc<Models> {
        &self.detector.models
    }

    /// The classifier's labels, in output order.
    pub fn labels(&self) -> &Arc<[String]> {
        &self.labels
    }

    /// A second detector over the same models, for a worker thread.
    pub fn detector(&self) -> FrameDetector {
        FrameDetector::new(self.detector.models.clone())
    }

    /// Whether the detector runs on the next frame (every `inference_interval` frames); counts
    /// the frame.
    pub fn next_runs_detector(&mut self, params: &FrameParams) -> bool {
        let run = self.frames.is_multiple_of(params.inference_interval.max(1) as u64);
        self.frames += 1;
        run
    }

    /// Builds `image`'s detector input on this thread, for a [`FrameDetector`] on another
    /// ([`FrameDetector::prepare`]); its time counts in [`Self::take_times`].
    pub fn prepare_detection<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, params: &FrameParams) -> PreparedFrame {
        self.detector.prepare(image, params)
    }

    /// Keeps a finished frame's detector input for reuse ([`FrameDetector::recycle`]).
    pub fn recycle(&mut self, frame: PreparedFrame) {
        self.detector.recycle(frame);
    }

    /// Detects faces in `image` ([`FrameDetector::detect`]).
    ///
    /// Errors: as [`FrameDetector::detect`].
    pub fn detect<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, params: &FrameParams) -> Result<Detections> {
        self.detector.detect(image, params)
    }

    /// The whole analysis of one frame: detection when due ([`Self::next_runs_detector`]),
    /// then [`Self::analyse`].
    ///
    /// Errors: as [`FrameDetector::detect`] and [`Self::analyse`].
    pub fn process<P: AsRef<[u8]> + AsMut<[u8]> + Sync>(&mut self, image: &mut Image<P>, params: &FrameParams) -> Result<FrameReport> {
        let detections = if self.next_runs_detector(params) { Some(self.detect(image, params)?) } else { None };
        self.analyse(image, detections, params)
    }

    /// Tracks `detections` (`None`: the detector did not run on this frame, the tracks are
    /// carried by their velocity), classifies the faces that are new or due
    /// (`reclassify_interval`) in batches, draws them when `params.draw`, and reports the faces
    /// matched on the last detector run. The report's times and source are left for the caller.
    ///
    /// Errors: [`Error::Inference`](crate::error::Error::Inference) when the classifier fails; the tracks are then updated
    /// but nothing is drawn.
    pub fn analyse<P: AsRef<[u8]> + AsMut<[u8]> + Sync>(
        &mut self,
        image: &mut Image<P>,
        detections: Option<Detections>,
        params: &FrameParams,
    ) -> Result<FrameReport> {
        if self.size.replace((image.width, image.height)).is_some_and(|s| s != (image.width, image.height)) {
            self.tracker.clear();
        }
        let mut laps = Laps::start();
        self.track(detections, params);
        let mut visible = std::mem::take(&mut self.scratch.visible);
        visible.clear();
        visible.extend((0..self.tracker.tracks().len()).filter(|&i| self.tracker.tracks()[i].misses == 0));
        laps.lap(&mut self.times, Stage::Track);
        let classified = self.classify_due(image, &visible, params, &mut laps);
        let report = classified.map(|()| self.report(image.width as u32, image.height as u32, &visible, params.min_emotion_face_size));
        self.scratch.visible = visible;
        let report = report?;
        laps.lap(&mut self.times, Stage::Report);
        if params.draw {
            self.draw(image, &report, params);
            laps.lap(&mut self.times, Stage::Draw);
        }
        Ok(report)
    }

    fn track(&mut self, detections: Option<Detections>, params: &FrameParams) {
        self.tracker.age_classifications();
        match detections {
            Some(faces) => {
                self.tracker.update(faces, &params.tracker());
            }
            None => self.tracker.predict(),
        }
    }

    /// Classifies the `visible` tracks that need it, in one request to the (maybe shared)
    /// classifier: this stream's faces may share model calls with other streams' faces.
    fn classify_due<P: AsRef<[u8]> + Sync>(
        &mut self,
        image: &Image<P>,
        visible: &[usize],
        params: &FrameParams,
        laps: &mut Laps,
    ) -> Result<()> {
        let tracks = self.tracker.tracks();
        let min_size = params.min_emotion_face_size;
        let mut due = std::mem::take(&mut self.scratch.due);
        due.clear();
        due.extend(
            visible.iter().copied().filter(|&i| {
                tracks[i].needs_classification(params.reclassify_interval) && !too_small_for_emotion(&tracks[i].face, min_size)
            }),
        );
        let classified = self.classify(image, &due, params, laps);
        self.scratch.due = due;
        classified
    }

    /// Classifies the tracks `due` and records their probabilities.
    fn classify<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, due: &[usize], params: &FrameParams, laps: &mut Laps) -> Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        let tracks = self.tracker.tracks();
        let models = &self.detector.models;
        let per = models.spec.target().len();
        let mut input = std::mem::take(&mut self.tensor);
        input.resize(per * due.len(), 0.0);
        for (&i, out) in due.iter().zip(input.chunks_mut(per)) {
            let face = &tracks[i].face;
            let crop = FaceCrop { region: detection::crop_region(face, params.crop_margin as f32), landmarks: face.landmarks };
            inference::face_tensor(&models.spec, image, &crop, out);
        }
        laps.lap(&mut self.times, Stage::Crop);
        let results = std::mem::take(&mut self.scratch.results);
        let served = models.classifier.run_into(self.owner, input, results, due.len(), params.batch_size as usize);
        laps.lap(&mut self.times, Stage::ClassifierRun);
        self.tensor = served.tensor;
        let results = served.results?;
        let (smoothing, n_labels) = (params.emotion_smoothing as f32, results.len() / due.len());
        for (&i, scores) in due.iter().zip(results.chunks(n_labels.max(1))) {
            self.tracker.tracks_mut()[i].set_scores(scores, smoothing);
        }
        self.scratch.results = results;
        Ok(())
    }

    /// The report of the `visible` tracks that have been classified, and of those too small to
    /// be (under `min_emotion_size` pixels: [`EmotionReport::unknown`]).
    fn report(&self, width: u32, height: u32, visible: &[usize], min_emotion_size: u32) -> FrameReport {
        let resolution = Resolution { width, height };
        let mut report = FrameReport::new(width, height);
        report.objects.reserve_exact(visible.len());
        for &i in visible {
            let t = &self.tracker.tracks()[i];
            let Some(emotion) = self.emotion(t, min_emotion_size) else { continue };
            let f = &t.face;
            let ((x, y, w, h), bounding_box) = frame_report::face_box(f.x0, f.y0, f.x1, f.y1, resolution);
            let (fw, fh) = (width.max(1) as f64, height.max(1) as f64);
            report.objects.push(FaceReport {
                x,
                y,
                w,
                h,
                region_id: report.objects.len(),
                id: t.id,
                roi_type: "face".into(),
                detection: DetectionReport { bounding_box, confidence: f.score, label: "face".into(), label_id: 0 },
                landmarks: f.landmarks.map(|points| points.map(|[px, py]| [px as f64 / fw, py as f64 / fh])),
                emotion,
            });
        }
        report
    }

    /// The emotion of track `t`: unknown when its face is under `min_size` pixels (even if it
    /// was classified while larger), else its classification; `None` when it has none yet.
    fn emotion(&self, t: &Track, min_size: u32) -> Option<EmotionReport> {
        let model = ModelRef { name: self.model_name.clone() };
        if too_small_for_emotion(&t.face, min_size) {
            return Some(EmotionReport::unknown(model, self.labels.clone()));
        }
        let (Some(raw), Some(smoothed)) = (&t.raw_scores, &t.smoothed) else { return None };
        let (label_id, confidence) = top1(smoothed).filter(|(l, _)| *l < self.labels.len())?;
        Some(EmotionReport {
            label: self.labels[label_id].clone(),
            label_id: Some(label_id),
            confidence,
            model,
            labels: self.labels.clone(),
            scores: raw.clone(),
            smoothed_scores: smoothed.clone(),
        })
    }

    /// Draws each reported face in place: its box and a "#id label 0.91" tag in the emotion's
    /// colour, as `params.draw_mode` says.
    fn draw<P: AsMut<[u8]> + AsRef<[u8]> + Sync>(&mut self, image: &mut Image<P>, report: &FrameReport, params: &FrameParams) {
        self.lay_out(report, params);
        self.overlay.draw(image, &self.scratch.marks);
    }

    /// What [`Self::analyse`] draws in place, as opaque BGRA sprites to blend over the frame
    /// instead (formats GStreamer's overlay composition draws on); `image` is the analysed
    /// picture, which the `blur` mode averages.
    pub fn sprites<P: AsRef<[u8]> + Sync>(&mut self, image: &Image<P>, report: &FrameReport, params: &FrameParams) -> Vec<Sprite> {
        self.lay_out(report, params);
        self.overlay.sprites(image, &self.scratch.marks)
    }

    /// Lays out the marks of `report`'s faces into `scratch.marks`, rewriting the tag texts of
    /// the last frame in place.
    fn lay_out(&mut self, report: &FrameReport, params: &FrameParams) {
        let faces = &mut self.scratch.faces;
        faces.truncate(report.objects.len());
        for (i, f) in report.objects.iter().enumerate() {
            if i == faces.len() {
                faces.push(FaceMark { rect: (0, 0, 0, 0), text: None, rgb: [0; 3] });
            }
            let (e, mark) = (&f.emotion, &mut faces[i]);
            mark.rect = (f.x as i64, f.y as i64, (f.x + f.w) as i64, (f.y + f.h) as i64);
            mark.rgb = overlay::label_colour(&e.label);
            // No tag on a face without an emotion: it would be larger than the face, and say nothing.
            if e.is_unknown() {
                mark.text = None;
            } else {
                let text = mark.text.get_or_insert_with(String::new);
                text.clear();
                let _ = write!(text, "#{} {} {:.2}", f.id, e.label, e.confidence);
            }
        }
        let (w, h) = (report.resolution.width as usize, report.resolution.height as usize);
        self.overlay.layout_into(faces, w, h, params.draw_mode, params.label_size, &mut self.scratch.marks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_params_follow_the_frame_params() {
        let p = FrameParams { track_max_misses: 9, emotion_smoothing: 0.25, ..FrameParams::DEFAULT };
        assert_eq!(p.tracker(), TrackerParams { iou_threshold: TRACK_IOU_THRESHOLD, max_misses: 9, smoothing: 0.25 });
    }
}
