// SPDX-License-Identifier: MIT
//! The GStreamer outputs of a [`FrameReport`]: one `GstVideoRegionOfInterestMeta` per face with
//! its `object_id`, `detection`, `emotion` and `landmarks` parameters, and the `emotiondetect`
//! element message (`docs/conventions.md`). The JSON lines come from the same report
//! (`emotiondetect_core::export`).

use emotiondetect_core::frame_report::{EmotionReport, FaceReport, FrameReport};

/// `GST_CLOCK_TIME_NONE` for unknown times, as GStreamer's own messages write it.
fn ns(t: Option<u64>) -> u64 {
    t.unwrap_or(u64::MAX)
}

/// The emotion's label id, -1 for a face too small to classify (label `unknown`, no scores):
/// GStreamer structures have no null.
fn label_id(e: &EmotionReport) -> i32 {
    e.label_id.map_or(-1, |l| l as i32)
}

fn f64_list(values: &[f32]) -> gst::List {
    gst::List::new(values.iter().map(|&v| v as f64))
}

/// Adds one ROI meta per face of `report` to `buf`.
pub fn attach_metas(buf: &mut gst::BufferRef, report: &FrameReport) {
    for f in &report.objects {
        let mut meta = gst_video::VideoRegionOfInterestMeta::add(buf, "face", (f.x, f.y, f.w, f.h));
        meta.set_id(f.id as i32);
        meta.add_param(gst::Structure::builder("object_id").field("id", f.id as i32).build());
        let b = &f.detection.bounding_box;
        meta.add_param(
            gst::Structure::builder("detection")
                .field("x_min", b.x_min)
                .field("y_min", b.y_min)
                .field("x_max", b.x_max)
                .field("y_max", b.y_max)
                .field("confidence", f.detection.confidence as f64)
                .field("label_id", f.detection.label_id as i32)
                .field("label", f.detection.label.as_ref())
                .build(),
        );
        let e = &f.emotion;
        meta.add_param(
            gst::Structure::builder("emotion")
                .field("label", e.label.as_str())
                .field("label_id", label_id(e))
                .field("confidence", e.confidence as f64)
                .field("model_name", e.model.name.as_ref())
                .field("scores", f64_list(&e.scores))
                .field("smoothed_scores", f64_list(&e.smoothed_scores))
                .build(),
        );
        if let Some(points) = f.landmarks {
            let mut s = gst::Structure::builder("landmarks");
            for (k, [x, y]) in points.iter().enumerate() {
                s = s.field(format!("x{k}"), x).field(format!("y{k}"), y);
            }
            meta.add_param(s.build());
        }
    }
}

/// The `emotiondetect` element message of `report`: times in ns, one `face` structure per face,
/// and `json`, the report as JSON (`FrameReport::to_json`, what `emotionpublish` sends): languages
/// whose bindings cannot read GstValueList (PyGObject without python3-gst) read that instead.
pub fn message_structure(report: &FrameReport, json: String) -> gst::Structure {
    gst::Structure::builder("emotiondetect")
        .field("timestamp", ns(report.timestamp))
        .field("stream-time", ns(report.stream_time))
        .field("running-time", ns(report.running_time))
        .field("duration", ns(report.duration))
        .field("faces", gst::List::new(report.objects.iter().map(face_structure)))
        .field("json", json)
        .build()
}

fn face_structure(f: &FaceReport) -> gst::Structure {
    let e = &f.emotion;
    gst::Structure::builder("face")
        .field("id", f.id as i32)
        .field("x", f.x)
        .field("y", f.y)
        .field("width", f.w)
        .field("height", f.h)
        .field("confidence", f.detection.confidence as f64)
        .field("emotion", e.label.as_str())
        .field("label-id", label_id(e))
        .field("emotion-confidence", e.confidence as f64)
        .field("scores", f64_list(&e.scores))
        .field("smoothed-scores", f64_list(&e.smoothed_scores))
        .build()
}
