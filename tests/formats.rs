// SPDX-License-Identifier: MIT
//! The formats added for cameras and decoders on real video: Megamind.avi converted upstream by
//! `videoconvert` to each format finds the faces that the fast path holding the same picture
//! finds (the frames converted on by `videoconvert`: to I420 for 4:2:0 and grey, to YUY2 for
//! 4:2:2, itself checked against I420 here, to BGRx for 4:4:4): IoU >= 0.9, the same labels
//! except where the reference face's top two probabilities are within 0.05.
//!
//! Not I420 for all: a 4:2:2 or 4:4:4 picture in I420 loses half its chroma, another picture,
//! on which YuNet moved a box 9 px (frame 58 in YVYU).

mod common;

use std::time::Duration;

use common::*;

/// Each frame is classified on its own (`emotion-smoothing=0`): a label then depends on that
/// frame's pixels only, not on small differences summed over earlier frames.
///
/// Frames of Megamind.avi analysed per format (a third of it: both faces, and a cut).
const FRAMES: u32 = 90;

/// The formats of issue 13, besides the 12 of before (those are compared on photos in
/// tests/element.rs).
/// Each with the fast-path format holding the same picture.
const NEW_FORMATS: [(&str, &str); 11] = [
    ("YUY2", "I420"),
    ("UYVY", "I420"),
    ("YVYU", "YUY2"),
    ("NV21", "I420"),
    ("NV16", "YUY2"),
    ("Y42B", "YUY2"),
    ("Y444", "BGRx"),
    ("GRAY8", "I420"),
    ("GRAY16_LE", "I420"),
    ("P010_10LE", "I420"),
    ("I420_10LE", "I420"),
];

/// The faces of each of the first [`FRAMES`] frames of Megamind in `format`, analysed as
/// `analysed` (the same format, or converted on to it), with their timestamps.
fn faces_per_frame(format: &str, analysed: &str, props: &str) -> Vec<(u64, Vec<MsgFace>)> {
    let desc = format!(
        "filesrc location={} ! decodebin ! identity eos-after={} ! videoconvert ! video/x-raw,format={format} ! videoconvert ! video/x-raw,format={analysed} ! emotiondetect emotion-smoothing=0 {props} ! fakesink",
        megamind().display(),
        FRAMES + 10
    );
    let run = run_pipeline(&desc, Duration::from_secs(300));
    assert!(run.warnings.is_empty(), "{format}: warnings {:?}", run.warnings);
    // identity's EOS races the buffers around it: it is set a few frames later.
    assert!(run.messages.len() >= FRAMES as usize, "{format}: {} messages, one per frame", run.messages.len());
    run.messages.into_iter().take(FRAMES as usize).map(|m| (m.timestamp, m.faces)).collect()
}

#[test]
fn every_format_finds_the_faces_and_labels_of_the_i420_path_on_megamind() {
    let mut failures = Vec::new();
    for (format, fast) in NEW_FORMATS {
        let reference = faces_per_frame(format, fast, "draw=false");
        let total: usize = reference.iter().map(|(_, f)| f.len()).sum();
        assert!(total > FRAMES as usize, "{format}: the {fast} path finds the faces of Megamind: {total} in {FRAMES} frames");
        // Drawing on: the converted formats blend their marks, which must not change the analysis.
        let frames = faces_per_frame(format, format, "");
        let c = compare(format, &frames, &reference);
        println!(
            "{format} vs {fast}: {} faces matched (lowest IoU {:.3}), {} of {} confident labels the same, {} within 0.05 of the second; largest probability change {:.3}",
            c.matched, c.worst_iou, c.same, c.confident, c.unsure, c.max_drift
        );
        if c.same < c.confident {
            failures.push(format!("{format}: {}", c.differ.join("; ")));
        }
    }
    assert!(failures.is_empty(), "labels that differ from the fast path's:\n{}", failures.join("\n"));
}

#[derive(Default)]
struct Comparison {
    matched: usize,
    worst_iou: f64,
    confident: usize,
    same: usize,
    unsure: usize,
    max_drift: f64,
    differ: Vec<String>,
}

/// Matches each frame's faces to the reference's (IoU >= 0.9, asserted) and counts the labels
/// that agree where the reference's top two probabilities are 0.05 or more apart.
fn compare(format: &str, frames: &[(u64, Vec<MsgFace>)], reference: &[(u64, Vec<MsgFace>)]) -> Comparison {
    let mut c = Comparison { worst_iou: 1.0, ..Comparison::default() };
    for (i, ((t, got), (t_ref, want))) in frames.iter().zip(reference).enumerate() {
        assert_eq!(t, t_ref, "{format} frame {i}: timestamps");
        let a: Vec<Rect> = want.iter().map(|f| f.rect()).collect();
        let b: Vec<Rect> = got.iter().map(|f| f.rect()).collect();
        let pairs = greedy_match(&a, &b, 0.9);
        assert_eq!((pairs.len(), got.len()), (want.len(), want.len()), "{format} frame {i}: faces {b:?} vs I420 {a:?}");
        for (r, g, iou) in pairs {
            c.matched += 1;
            c.worst_iou = c.worst_iou.min(iou);
            let drift = got[g].scores.iter().zip(&want[r].scores).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            c.max_drift = c.max_drift.max(drift);
            let mut top = want[r].scores.clone();
            top.sort_by(|x, y| y.total_cmp(x));
            if top[0] - top[1] < 0.05 {
                c.unsure += 1;
                continue;
            }
            c.confident += 1;
            if got[g].emotion == want[r].emotion {
                c.same += 1;
            } else {
                c.differ.push(format!(
                    "frame {i} face {g} {} vs {} ({:?} vs {:?})",
                    got[g].emotion,
                    want[r].emotion,
                    got[g].rect(),
                    want[r].rect()
                ));
            }
        }
    }
    c
}
