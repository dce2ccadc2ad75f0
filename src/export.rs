//! JSON lines export: one object per frame, in the shape of DL Streamer's `gvametaconvert`
//! (see `docs/conventions.md`), written to a file or to stdout.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{json, Value};

/// One face, in frame pixels, as the export needs it.
pub struct ExportFace<'a> {
    /// Track id.
    pub id: u64,
    /// Box in pixels: x0, y0, x1, y1.
    pub bbox: (f32, f32, f32, f32),
    /// Detector confidence, 0..1.
    pub confidence: f32,
    pub label: &'a str,
    pub label_id: usize,
    /// Top-1 probability of the reported (smoothed) label.
    pub emotion_confidence: f32,
    /// The smoothed probabilities, in label order.
    pub scores: &'a [f32],
}

/// The JSON object of one frame: `resolution`, `timestamp` (pts in ns, `null` when unknown),
/// `source`, and `objects`, one per face, with boxes in pixels (`x`, `y`, `w`, `h`) and
/// normalised 0..1 (`detection.bounding_box`).
pub fn frame_json(width: u32, height: u32, pts_ns: Option<u64>, source: &str, model: &str, faces: &[ExportFace<'_>]) -> Value {
    let (w, h) = (width.max(1) as f64, height.max(1) as f64);
    let objects: Vec<Value> = faces
        .iter()
        .enumerate()
        .map(|(region, f)| {
            let (x0, y0, x1, y1) = (f.bbox.0 as f64, f.bbox.1 as f64, f.bbox.2 as f64, f.bbox.3 as f64);
            json!({
                "x": x0.round() as i64, "y": y0.round() as i64,
                "w": (x1 - x0).round() as i64, "h": (y1 - y0).round() as i64,
                "region_id": region, "id": f.id, "roi_type": "face",
                "detection": {
                    "bounding_box": {"x_min": x0 / w, "y_min": y0 / h, "x_max": x1 / w, "y_max": y1 / h},
                    "confidence": f.confidence, "label": "face", "label_id": 0
                },
                "emotion": {
                    "label": f.label, "label_id": f.label_id, "confidence": f.emotion_confidence,
                    "scores": f.scores, "model": {"name": model}
                }
            })
        })
        .collect();
    json!({
        "resolution": {"width": width, "height": height},
        "timestamp": pts_ns,
        "source": source,
        "objects": objects,
    })
}

/// Where the lines go: a buffered file, or stdout for `-`.
pub struct MetadataWriter {
    out: Box<dyn Write + Send>,
}

impl MetadataWriter {
    /// Creates (truncates) `path`, or writes to stdout when it is `-`.
    ///
    /// Errors: the file cannot be created, with the path and the OS reason.
    pub fn create(path: &Path) -> Result<MetadataWriter, String> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            let file = File::create(path).map_err(|e| format!("metadata file {}: cannot be written: {e}", path.display()))?;
            Box::new(BufWriter::new(file))
        };
        Ok(MetadataWriter { out })
    }

    /// Writes one frame as one line.
    pub fn write_frame(&mut self, frame: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, frame)?;
        self.out.write_all(b"\n")
    }

    /// Pushes buffered lines to the file (at EOS and when stopping).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_json_has_the_gvametaconvert_shape() {
        let scores = [0.0, 0.0, 0.0, 0.91, 0.0, 0.0, 0.09];
        let face = ExportFace {
            id: 7,
            bbox: (10.0, 20.0, 110.0, 220.0),
            confidence: 0.95,
            label: "happy",
            label_id: 3,
            emotion_confidence: 0.91,
            scores: &scores,
        };
        let v = frame_json(200, 400, Some(40_000_000), "file:///a.avi", "fer2013_mini_xception", &[face]);
        assert_eq!(v["resolution"]["width"], 200);
        assert_eq!(v["timestamp"], 40_000_000u64);
        let o = &v["objects"][0];
        assert_eq!((o["x"].as_i64(), o["y"].as_i64(), o["w"].as_i64(), o["h"].as_i64()), (Some(10), Some(20), Some(100), Some(200)));
        assert_eq!(o["id"], 7);
        assert_eq!(o["roi_type"], "face");
        assert_eq!(o["detection"]["bounding_box"]["x_max"], 0.55);
        assert_eq!(o["detection"]["bounding_box"]["y_min"], 0.05);
        assert_eq!(o["emotion"]["label"], "happy");
        assert_eq!(o["emotion"]["model"]["name"], "fer2013_mini_xception");
        assert_eq!(frame_json(1, 1, None, "", "m", &[])["timestamp"], Value::Null);
    }

    #[test]
    fn writer_writes_one_line_per_frame_and_reports_unwritable_paths() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("frames.jsonl");
        let mut w = MetadataWriter::create(&path).unwrap();
        w.write_frame(&json!({"a": 1})).unwrap();
        w.write_frame(&json!({"a": 2})).unwrap();
        w.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"a\":2}\n");
        let err = MetadataWriter::create(&dir.join("missing-dir/x.jsonl")).err().unwrap();
        assert!(err.contains("missing-dir/x.jsonl") && err.contains("cannot be written"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
