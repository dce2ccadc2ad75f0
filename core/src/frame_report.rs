// SPDX-License-Identifier: MIT
//! [`FrameReport`]: one frame's results, the one type every output is built from: the ROI metas
//! and the bus message (`emotiondetect/outputs.rs`), the JSON lines of `emotionpublish`
//! ([`crate::export`]), and what the tools read back.
//!
//! Serialised, it is the JSON object of DL Streamer's `gvametaconvert` (field names kept, see
//! `docs/conventions.md`) with our fields beside them. The schema, version
//! [`SCHEMA_VERSION`], is documented in `docs/frame-report.schema.json`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Version of the JSON schema, written as `schema_version` in every line. 2: a face smaller
/// than `min-emotion-face-size` has the emotion [`UNKNOWN_EMOTION`] ([`EmotionReport::unknown`]:
/// `label_id` null, confidence 0, no scores); version 1 had no such face.
pub const SCHEMA_VERSION: u32 = 2;

/// The emotion label of a face too small to classify (`min-emotion-face-size`).
pub const UNKNOWN_EMOTION: &str = "unknown";

/// One analysed frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameReport {
    /// [`SCHEMA_VERSION`] of the writer.
    #[serde(default)]
    pub schema_version: u32,
    /// Frame size in pixels.
    pub resolution: Resolution,
    /// Presentation timestamp, ns; `None` (JSON `null`) when the buffer has none.
    pub timestamp: Option<u64>,
    /// Stream time of the PTS in the current segment, ns.
    #[serde(default)]
    pub stream_time: Option<u64>,
    /// Running time of the PTS in the current segment, ns.
    #[serde(default)]
    pub running_time: Option<u64>,
    /// Buffer duration, ns.
    #[serde(default)]
    pub duration: Option<u64>,
    /// URI of the stream when upstream answers the URI query (filesrc, rtspsrc...), else empty.
    #[serde(default)]
    pub source: String,
    /// `emotionpublish`'s `source-id`: a stable camera or stream name (default: the stream's URI,
    /// else the element's name).
    #[serde(default)]
    pub source_id: String,
    /// Wall-clock time of the frame, RFC 3339 UTC: the capture time when the buffer carries a
    /// `timestamp/x-unix` reference timestamp, else the pipeline clock's time for the frame
    /// mapped to the system's real-time clock, else (before PLAYING) the time it was analysed.
    #[serde(default)]
    pub timestamp_utc: Option<String>,
    /// The faces, in the order the tracker keeps them.
    pub objects: Vec<FaceReport>,
}

/// Frame size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

/// One face of a frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceReport {
    /// Box left edge, pixels (rounded).
    pub x: u32,
    /// Box top edge, pixels (rounded).
    pub y: u32,
    /// Box width, pixels (rounded).
    pub w: u32,
    /// Box height, pixels (rounded).
    pub h: u32,
    /// Index of the face in this frame.
    pub region_id: usize,
    /// Track id: stable while the person stays in view, never reused.
    pub id: u64,
    /// Always `"face"`.
    pub roi_type: Cow<'static, str>,
    pub detection: DetectionReport,
    /// The five detector landmarks, normalised 0..1 as `[x, y]`, in YuNet order: right eye,
    /// left eye, nose tip, right and left mouth corners; absent for detectors without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landmarks: Option<[[f64; 2]; 5]>,
    pub emotion: EmotionReport,
}

/// The detector's part of a face.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectionReport {
    /// The box normalised 0..1 (not rounded).
    pub bounding_box: BoundingBox,
    /// Detector confidence 0..1.
    pub confidence: f32,
    /// Always `"face"`.
    pub label: Cow<'static, str>,
    /// Always 0.
    pub label_id: u32,
}

/// A box in coordinates normalised 0..1 by the frame's width and height.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
}

/// The classifier's part of a face; for a face too small to classify,
/// [`EmotionReport::unknown`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmotionReport {
    /// The reported emotion: the top-1 of `smoothed_scores`, or [`UNKNOWN_EMOTION`].
    pub label: String,
    /// Index of `label` in `labels`; `None` (JSON `null`) for [`UNKNOWN_EMOTION`].
    pub label_id: Option<usize>,
    /// Its smoothed probability 0..1 (0 for [`UNKNOWN_EMOTION`]).
    pub confidence: f32,
    pub model: ModelRef,
    /// The classifier's labels, in output order: the names of `scores` and `smoothed_scores`.
    pub labels: Arc<[String]>,
    /// The classifier's last output for this face (this frame's, or the cached one with
    /// `reclassify-interval`): probabilities in label order; empty for [`UNKNOWN_EMOTION`].
    pub scores: Vec<f32>,
    /// The moving average of `scores` over the track (`emotion-smoothing`); empty for
    /// [`UNKNOWN_EMOTION`].
    pub smoothed_scores: Vec<f32>,
}

impl EmotionReport {
    /// The emotion of a face too small to classify: [`UNKNOWN_EMOTION`], no `label_id`,
    /// confidence 0, no scores; `model` and `labels` are still the classifier's.
    pub fn unknown(model: ModelRef, labels: Arc<[String]>) -> EmotionReport {
        EmotionReport {
            label: UNKNOWN_EMOTION.into(),
            label_id: None,
            confidence: 0.0,
            model,
            labels,
            scores: Vec::new(),
            smoothed_scores: Vec::new(),
        }
    }

    /// Whether the face was left unclassified ([`Self::unknown`]).
    pub fn is_unknown(&self) -> bool {
        self.label_id.is_none()
    }
}

/// The model that gave a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    /// The classifier spec's `name`.
    pub name: Arc<str>,
}

impl FrameReport {
    /// An empty report for a `width` x `height` frame, times unknown.
    pub fn new(width: u32, height: u32) -> FrameReport {
        FrameReport {
            schema_version: SCHEMA_VERSION,
            resolution: Resolution { width, height },
            timestamp: None,
            stream_time: None,
            running_time: None,
            duration: None,
            source: String::new(),
            source_id: String::new(),
            timestamp_utc: None,
            objects: Vec::new(),
        }
    }

    /// The report as one JSON line (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a FrameReport always serialises")
    }

    /// Parses one JSON line written by [`Self::to_json`] (or by an older writer without the
    /// optional fields).
    ///
    /// Errors: not JSON, or a field missing or of the wrong type (serde's message).
    pub fn from_json(line: &str) -> Result<FrameReport, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// The box of a face given in frame pixels (`x0, y0, x1, y1`) as [`FaceReport`] reports it:
/// rounded pixels and normalised 0..1, clipped to the frame (a track carried by its velocity may
/// drift past an edge; a NaN coordinate counts as 0), so no report lies outside its frame.
pub fn face_box(x0: f32, y0: f32, x1: f32, y1: f32, resolution: Resolution) -> ((u32, u32, u32, u32), BoundingBox) {
    let (fw, fh) = (resolution.width as f64, resolution.height as f64);
    let clip = |v: f32, max: f64| if v.is_nan() { 0.0 } else { (v as f64).clamp(0.0, max) };
    let (x0, x1, y0, y1) = (clip(x0, fw), clip(x1, fw), clip(y0, fh), clip(y1, fh));
    let px = |v: f64| v.max(0.0).round() as u32;
    let (x, y) = (px(x0), px(y0));
    // The size rounded on its own, then cut so that x + w never passes the frame's edge.
    let rect = (x, y, px(x1 - x0).min(resolution.width.saturating_sub(x)), px(y1 - y0).min(resolution.height.saturating_sub(y)));
    let (w, h) = (fw.max(1.0), fh.max(1.0));
    let norm = BoundingBox { x_min: x0 / w, y_min: y0 / h, x_max: x1 / w, y_max: y1 / h };
    (rect, norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FrameReport {
        let resolution = Resolution { width: 200, height: 400 };
        let ((x, y, w, h), bounding_box) = face_box(10.0, 20.0, 110.0, 220.0, resolution);
        let labels: Arc<[String]> = ["happy", "sad"].map(String::from).into();
        let face = FaceReport {
            x,
            y,
            w,
            h,
            region_id: 0,
            id: 7,
            roi_type: "face".into(),
            detection: DetectionReport { bounding_box, confidence: 0.95, label: "face".into(), label_id: 0 },
            landmarks: Some([[0.1, 0.2]; 5]),
            emotion: EmotionReport {
                label: "happy".into(),
                label_id: Some(0),
                confidence: 0.8,
                model: ModelRef { name: "fer2013_vggbn".into() },
                labels,
                scores: vec![0.9, 0.1],
                smoothed_scores: vec![0.8, 0.2],
            },
        };
        FrameReport {
            timestamp: Some(40_000_000),
            source: "file:///a.avi".into(),
            source_id: "door".into(),
            timestamp_utc: Some("2026-12-01T10:00:00.040Z".into()),
            objects: vec![face],
            ..FrameReport::new(200, 400)
        }
    }

    #[test]
    fn json_has_the_gvametaconvert_shape_and_our_fields() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["resolution"]["width"], 200);
        assert_eq!(v["timestamp"], 40_000_000u64);
        assert_eq!((v["source_id"].as_str(), v["timestamp_utc"].as_str()), (Some("door"), Some("2026-12-01T10:00:00.040Z")));
        let o = &v["objects"][0];
        assert_eq!((o["x"].as_u64(), o["y"].as_u64(), o["w"].as_u64(), o["h"].as_u64()), (Some(10), Some(20), Some(100), Some(200)));
        assert_eq!((o["id"].as_u64(), o["roi_type"].as_str()), (Some(7), Some("face")));
        assert_eq!(o["detection"]["bounding_box"]["x_max"], 0.55);
        assert_eq!(o["detection"]["bounding_box"]["y_min"], 0.05);
        assert_eq!((o["detection"]["label"].as_str(), o["detection"]["label_id"].as_u64()), (Some("face"), Some(0)));
        assert_eq!(o["emotion"]["label"], "happy");
        assert_eq!(o["emotion"]["model"]["name"], "fer2013_vggbn");
        assert_eq!(o["emotion"]["labels"], serde_json::json!(["happy", "sad"]));
        assert_eq!(o["emotion"]["smoothed_scores"].as_array().map(Vec::len), Some(2));
        assert_eq!(o["landmarks"][4], serde_json::json!([0.1, 0.2]));
        let unknown = FrameReport::new(1, 1).to_json();
        assert!(unknown.contains("\"timestamp\":null") && !unknown.contains("landmarks"), "{unknown}");
    }

    #[test]
    fn a_face_too_small_to_classify_has_an_unknown_emotion_without_scores() {
        let mut r = sample();
        let e = &r.objects[0].emotion;
        r.objects[0].emotion = EmotionReport::unknown(e.model.clone(), e.labels.clone());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let e = &v["objects"][0]["emotion"];
        assert_eq!((e["label"].as_str(), e["confidence"].as_f64()), (Some(UNKNOWN_EMOTION), Some(0.0)));
        assert!(e["label_id"].is_null(), "{e}");
        assert_eq!((e["scores"].as_array().map(Vec::len), e["smoothed_scores"].as_array().map(Vec::len)), (Some(0), Some(0)));
        assert_eq!((e["labels"].as_array().map(Vec::len), e["model"]["name"].as_str()), (Some(2), Some("fer2013_vggbn")));
        let back = FrameReport::from_json(&r.to_json()).unwrap();
        assert!(back.objects[0].emotion.is_unknown() && !sample().objects[0].emotion.is_unknown());
        assert_eq!(back, r);
    }

    #[test]
    fn json_reads_back_into_the_same_report() {
        let r = sample();
        assert_eq!(FrameReport::from_json(&r.to_json()).unwrap(), r);
        let no_landmarks = FrameReport { objects: vec![FaceReport { landmarks: None, ..r.objects[0].clone() }], ..r };
        assert_eq!(FrameReport::from_json(&no_landmarks.to_json()).unwrap(), no_landmarks);
        let err = FrameReport::from_json(r#"{"resolution":{"width":1,"height":1},"timestamp":null}"#).unwrap_err();
        assert!(err.to_string().contains("objects"), "{err}");
    }

    /// The documented schema and the writer agree: every field the schema names is written,
    /// every field written is in the schema, and the version is the same.
    #[test]
    fn the_schema_file_documents_what_is_written() {
        let schema: serde_json::Value = serde_json::from_str(include_str!("../../docs/frame-report.schema.json")).unwrap();
        assert_eq!(schema["properties"]["schema_version"]["const"], SCHEMA_VERSION);
        let written: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let face = &schema["$defs"]["face"];
        let levels = [
            (&schema, &written),
            (face, &written["objects"][0]),
            (&face["properties"]["detection"], &written["objects"][0]["detection"]),
            (&face["properties"]["emotion"], &written["objects"][0]["emotion"]),
        ];
        for (doc, value) in levels {
            let documented: Vec<&String> = doc["properties"].as_object().unwrap().keys().collect();
            let present: Vec<&String> = value.as_object().unwrap().keys().collect();
            let mut a = documented.clone();
            let mut b = present.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "documented vs written fields");
            for required in doc["required"].as_array().unwrap() {
                assert!(present.contains(&&required.as_str().unwrap().to_string()), "{required} is written");
            }
        }
    }

    #[test]
    fn boxes_round_to_pixels_and_normalise_by_the_frame() {
        let res = Resolution { width: 640, height: 480 };
        let (rect, norm) = face_box(10.4, 20.6, 110.5, 220.4, res);
        assert_eq!(rect, (10, 21, 100, 200));
        assert_eq!((norm.x_min, norm.y_max), (10.4f32 as f64 / 640.0, 220.4f32 as f64 / 480.0));
        assert_eq!(face_box(-3.0, 0.0, 5.0, 5.0, res).0 .0, 0, "never below 0");
    }
}
