// SPDX-License-Identifier: MIT
//! Faces too small to classify (`min-emotion-face-size`) on vtest.avi, whose pedestrians have
//! faces of about 10x13 pixels: by default they are reported as faces with emotion `unknown`,
//! no scores and no tag drawn; with `min-emotion-face-size=0` the same faces are classified.

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

/// Frames of vtest.avi analysed per run (of 794): enough for dozens of faces.
const FRAMES: u32 = 300;

/// vtest.avi's first [`FRAMES`] frames as RGB (drawn pixels compare exactly) through the element
/// with `props`.
fn vtest(props: &str) -> Run {
    let path = require_file(
        &shared_dir().join("media/videos/vtest.avi"),
        "vtest.avi",
        "the test data lives in ../shared/media/videos beside the checkout",
    );
    let desc = format!(
        "filesrc location={} ! decodebin ! identity eos-after={} ! videoconvert ! video/x-raw,format=RGB ! \
         emotiondetect {props} ! appsink name=sink",
        path.display(),
        FRAMES
    );
    let mut run = run_pipeline(&desc, Duration::from_secs(300));
    assert!(run.warnings.is_empty(), "warnings: {:?}", run.warnings);
    // identity's EOS races the buffers around it: a frame more or less reaches the element.
    assert!(run.messages.len().abs_diff(FRAMES as usize) <= 2, "one message per frame: {}", run.messages.len());
    assert_eq!(run.messages.len(), run.samples.len(), "one message per buffer");
    // The same frames in every run.
    run.messages.truncate(FRAMES as usize - 2);
    run.samples.truncate(FRAMES as usize - 2);
    run
}

/// The frames of `run` with the frame of `plain` of the same PTS and `run`'s message: the
/// last frame before `eos-after` can differ from run to run (the decoder's threads).
fn same_frames<'a>(run: &'a Run, plain: &'a Run) -> impl Iterator<Item = (&'a gst::Sample, &'a gst::Sample, &'a FrameMsg)> {
    let pts = |s: &gst::Sample| s.buffer().and_then(|b| b.pts());
    run.samples.iter().filter_map(move |d| {
        let m = run.messages.iter().find(|m| Some(m.timestamp) == pts(d).map(|t| t.nseconds()))?;
        plain.samples.iter().find(|p| pts(p) == pts(d)).map(|p| (d, p, m))
    })
}

fn faces(run: &Run) -> Vec<&MsgFace> {
    run.messages.iter().flat_map(|m| &m.faces).collect()
}

/// Pixels of `drawn` that differ from `plain` and lie outside every face box of the frame.
fn changed_outside_boxes(plain: &gst::Sample, drawn: &gst::Sample, msg: &FrameMsg) -> usize {
    let info = video_info(plain);
    let (a, b) = (visible_bytes(plain.buffer().unwrap(), &info), visible_bytes(drawn.buffer().unwrap(), &info));
    let width = info.width() as usize;
    let inside = |x: u32, y: u32| msg.faces.iter().any(|f| x >= f.x && x < f.x + f.width && y >= f.y && y < f.y + f.height);
    (0..a.len() / 3)
        .filter(|&p| a[3 * p..3 * p + 3] != b[3 * p..3 * p + 3])
        .filter(|&p| !inside((p % width) as u32, (p / width) as u32))
        .count()
}

#[test]
fn small_faces_are_reported_unknown_by_default_and_classified_with_zero() {
    let default = vtest("");
    let all = vtest("min-emotion-face-size=0");
    let plain = vtest("draw=false");
    let (small, every) = (faces(&default), faces(&all));
    println!("{} faces in {FRAMES} frames", small.len());
    assert!(small.len() >= 20, "vtest.avi has faces: {}", small.len());
    assert_eq!(small.len(), every.len(), "the same faces are reported either way");
    assert!(small.iter().all(|f| f.width.min(f.height) < 25), "vtest's faces are all small: {small:?}");
    for f in &small {
        assert_eq!(f.emotion, "unknown", "{f:?}");
        assert!(f.scores.is_empty() && f.smoothed_scores.is_empty() && f.emotion_confidence == 0.0, "{f:?}");
    }
    for f in &every {
        assert!(FER_LABELS.contains(&f.emotion.as_str()), "{f:?}");
        assert_eq!((f.scores.len(), f.smoothed_scores.len()), (7, 7), "{f:?}");
    }
    // The ROI metas say the same: label "unknown", label_id -1, no scores.
    for (sample, _, msg) in same_frames(&default, &default) {
        let metas = meta_faces(sample.buffer().unwrap());
        assert_eq!(metas.len(), msg.faces.len());
        for m in metas {
            assert_eq!((m.emotion.as_str(), m.emotion_id, m.emotion_confidence), ("unknown", -1, 0.0), "{m:?}");
            assert!(m.scores.is_empty() && m.smoothed_scores.is_empty() && m.model_name == "fer2013_vggbn", "{m:?}");
            assert_eq!((m.detection_label.as_str(), m.roi_type.as_str()), ("face", "face"));
        }
    }
    // Drawing: an unknown face gets its box only, so nothing is drawn outside the boxes; a
    // classified face gets its "#id label 0.91" tag, outside or over the box's edge.
    let outside = |run: &Run| -> usize { same_frames(run, &plain).map(|(d, p, m)| changed_outside_boxes(p, d, m)).sum() };
    let (untagged, tagged) = (outside(&default), outside(&all));
    println!("pixels drawn outside the face boxes: {untagged} by default, {tagged} with min-emotion-face-size=0");
    assert_eq!(untagged, 0, "no tag on unknown faces");
    assert!(tagged > 100 * every.len() / 2, "tags are drawn on classified faces: {tagged} pixels");
    let inside_changed = same_frames(&default, &plain)
        .filter(|(d, p, _)| visible_bytes(d.buffer().unwrap(), &video_info(d)) != visible_bytes(p.buffer().unwrap(), &video_info(p)))
        .count();
    assert!(inside_changed > 0, "unknown faces still get their box");
}

/// The property's default is the documented one, and it can be set while PLAYING (the
/// docs/element.md's table and `gst-inspect-1.0` say so).
#[test]
fn min_emotion_face_size_defaults_to_the_measured_size() {
    let e = element(&[]);
    assert_eq!(e.property::<u32>("min-emotion-face-size"), 25);
    let spec = e.find_property("min-emotion-face-size").unwrap();
    assert!(spec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING) && spec.blurb().unwrap().contains("default: 25"));
    e.set_property("min-emotion-face-size", 0u32);
    assert_eq!(e.property::<u32>("min-emotion-face-size"), 0);
}
