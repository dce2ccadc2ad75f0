// SPDX-License-Identifier: MIT
//! The JSON lines export (`emotiondetect ! emotionpublish location=`): one line per frame, the last ones
//! included (flushed at EOS), the same faces as the bus messages, boxes in pixels and
//! normalised that agree, `source` = the file's URI, unwritable paths refused at NULL->READY,
//! and `-` for stdout.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use emotiondetect_core::frame_report::FrameReport;
use gst::prelude::*;
use serde_json::Value;

const MEGAMIND_FRAMES: usize = 270;

/// What a run of a pipeline with an `emotiondetect name=ed` gave.
struct Export {
    /// The PTS (ns) of each buffer leaving the element.
    pts: Vec<u64>,
    /// The ROI metas of each buffer leaving the element.
    metas: Vec<Vec<MetaFace>>,
    /// The `emotiondetect` bus messages.
    messages: Vec<FrameMsg>,
    /// The metadata file as it was when the EOS message arrived, before the state change to
    /// NULL (which flushes and closes it as well).
    at_eos: String,
}

/// Runs `desc` to EOS, recording the element's output PTS and reading `file` at EOS.
fn run_export(desc: &str, file: &Path) -> Export {
    init();
    let pipeline = gst::parse::launch(desc).unwrap_or_else(|e| panic!("cannot build `{desc}`: {e}")).downcast::<gst::Pipeline>().unwrap();
    let pts = Arc::new(Mutex::new(Vec::new()));
    let metas = Arc::new(Mutex::new(Vec::new()));
    let ed = pipeline.by_name("ed").expect("an emotiondetect named ed");
    let (p, m) = (pts.clone(), metas.clone());
    ed.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(b) = info.buffer() {
            p.lock().unwrap().extend(b.pts().map(|t| t.nseconds()));
            m.lock().unwrap().push(meta_faces(b));
        }
        gst::PadProbeReturn::Ok
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| panic!("`{desc}` cannot start: {e:?}: {}", first_error(&bus)));
    let start = Instant::now();
    let mut messages = Vec::new();
    loop {
        let msg = bus.timed_pop(gst::ClockTime::from_seconds(1));
        assert!(start.elapsed() < Duration::from_secs(300), "`{desc}` did not finish");
        let Some(msg) = msg else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                let _ = pipeline.set_state(gst::State::Null);
                panic!("`{desc}` failed: {} ({:?})", e.error(), e.debug());
            }
            gst::MessageView::Warning(w) => panic!("warning: {} ({:?})", w.error(), w.debug()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    messages.push(parse_message(s));
                }
            }
            _ => {}
        }
    }
    let at_eos = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    pipeline.set_state(gst::State::Null).unwrap();
    let pts = std::mem::take(&mut *pts.lock().unwrap());
    let metas = std::mem::take(&mut *metas.lock().unwrap());
    Export { pts, metas, messages, at_eos }
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines().enumerate().map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1))).collect()
}

#[test]
fn one_line_per_frame_flushed_at_eos_matching_the_messages() {
    let video = megamind();
    let dir = TempDir::new("json-megamind");
    let file = dir.path().join("frames.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin ! videorate ! emotiondetect name=ed ! emotionpublish location={} ! fakesink",
        video.display(),
        file.display()
    );
    let run = run_export(&desc, &file);
    assert_eq!(run.pts.len(), MEGAMIND_FRAMES, "buffers through the element");
    assert!(run.at_eos.ends_with('\n'), "the last line is complete");
    let lines = parse_lines(&run.at_eos);
    assert_eq!(lines.len(), MEGAMIND_FRAMES, "one line per frame, written out by EOS");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), run.at_eos, "nothing more after EOS");
    assert_eq!(lines.last().unwrap()["timestamp"].as_u64(), run.pts.last().copied(), "the last line is the last buffer");
    assert_eq!(run.messages.len(), MEGAMIND_FRAMES);

    let uri = gst::glib::filename_to_uri(&video, None).unwrap();
    let mut faces = 0;
    for (i, ((line, pts), msg)) in lines.iter().zip(&run.pts).zip(&run.messages).enumerate() {
        assert_eq!(line["timestamp"].as_u64(), Some(*pts), "line {}: the buffer's PTS", i + 1);
        assert_eq!(msg.timestamp, *pts);
        assert_eq!(line["source"], uri.as_str(), "source is the file's URI");
        assert_eq!((line["resolution"]["width"].as_f64(), line["resolution"]["height"].as_f64()), (Some(720.0), Some(528.0)));
        let objects = line["objects"].as_array().unwrap();
        assert_eq!(objects.len(), msg.faces.len(), "line {}: the message's faces", i + 1);
        for (region, (o, f)) in objects.iter().zip(&msg.faces).enumerate() {
            faces += 1;
            // The same face as the message: id, box in pixels, label, confidences.
            assert_eq!(o["region_id"], region);
            assert_eq!(o["id"].as_i64(), Some(f.id as i64));
            let px = |k: &str| o[k].as_f64().unwrap();
            assert_eq!((px("x"), px("y"), px("w"), px("h")), (f.x as f64, f.y as f64, f.width as f64, f.height as f64), "line {}", i + 1);
            assert_eq!(o["emotion"]["label"], f.emotion.as_str());
            assert!((o["emotion"]["confidence"].as_f64().unwrap() - f.emotion_confidence).abs() < 1e-6);
            assert!((o["detection"]["confidence"].as_f64().unwrap() - f.confidence).abs() < 1e-6);
            // Pixels and normalised coordinates agree (to the pixel rounding).
            let bb = &o["detection"]["bounding_box"];
            let n = |k: &str| bb[k].as_f64().unwrap();
            assert!(0.0 <= n("x_min") && n("x_min") < n("x_max") && n("x_max") <= 1.0, "{bb}");
            assert!(0.0 <= n("y_min") && n("y_min") < n("y_max") && n("y_max") <= 1.0, "{bb}");
            assert!((px("x") - n("x_min") * 720.0).abs() <= 0.5, "x {} vs x_min {}", px("x"), n("x_min"));
            assert!((px("y") - n("y_min") * 528.0).abs() <= 0.5, "y {} vs y_min {}", px("y"), n("y_min"));
            assert!((px("w") - (n("x_max") - n("x_min")) * 720.0).abs() <= 0.5 + 1e-6, "w {} vs {bb}", px("w"));
            assert!((px("h") - (n("y_max") - n("y_min")) * 528.0).abs() <= 0.5 + 1e-6, "h {} vs {bb}", px("h"));
        }
    }
    println!("{} lines, {faces} faces; last timestamp {}", lines.len(), run.pts.last().unwrap());
    assert!(faces > 200, "faces found: {faces}");
}

/// The three outputs of every frame of Megamind.avi (JSON line, ROI metas, bus message) carry
/// the same faces: box, label, raw and smoothed scores. With `reclassify-interval=3` the raw
/// scores are cached between classifications and differ from the smoothed ones, so a mix-up
/// between the two shows.
#[test]
fn json_metas_and_messages_carry_the_same_faces() {
    let dir = TempDir::new("json-agree");
    let file = dir.path().join("frames.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! emotiondetect name=ed reclassify-interval=3 ! emotionpublish location={} ! fakesink",
        megamind().display(),
        file.display()
    );
    let run = run_export(&desc, &file);
    let reports: Vec<FrameReport> =
        run.at_eos.lines().enumerate().map(|(i, l)| FrameReport::from_json(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))).collect();
    assert_eq!((reports.len(), run.metas.len(), run.messages.len()), (MEGAMIND_FRAMES, MEGAMIND_FRAMES, MEGAMIND_FRAMES));
    let (mut faces, mut raw_differs) = (0, 0);
    for (i, ((report, metas), msg)) in reports.iter().zip(&run.metas).zip(&run.messages).enumerate() {
        let frame = format!("frame {i}");
        assert_eq!(report.timestamp, Some(msg.timestamp), "{frame}");
        assert_eq!((report.objects.len(), metas.len()), (msg.faces.len(), msg.faces.len()), "{frame}: face counts");
        for ((o, m), f) in report.objects.iter().zip(metas).zip(&msg.faces) {
            faces += 1;
            let e = &o.emotion;
            let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
            assert_eq!((o.id as i32, m.id, m.object_id), (f.id, f.id, f.id), "{frame}: track id");
            assert_eq!((o.x, o.y, o.w, o.h), m.rect, "{frame}: box in the meta");
            assert_eq!((o.x, o.y, o.w, o.h), (f.x, f.y, f.width, f.height), "{frame}: box in the message");
            let b = &o.detection.bounding_box;
            assert_eq!([b.x_min, b.y_min, b.x_max, b.y_max], m.detection[..4], "{frame}: normalised box");
            assert_eq!(
                (o.detection.confidence, m.detection[4] as f32, f.confidence as f32),
                (o.detection.confidence, o.detection.confidence, o.detection.confidence)
            );
            assert_eq!(
                (e.label.as_str(), m.emotion.as_str(), f.emotion.as_str()),
                (e.label.as_str(), e.label.as_str(), e.label.as_str()),
                "{frame}: label"
            );
            let label_id = e.label_id.unwrap_or_else(|| panic!("{frame}: Megamind's faces are large enough to classify: {o:?}"));
            assert_eq!((label_id as i32, e.labels[label_id].as_str()), (m.emotion_id, e.label.as_str()), "{frame}: label id");
            assert_eq!((m.emotion_confidence as f32, f.emotion_confidence as f32), (e.confidence, e.confidence), "{frame}: confidence");
            assert_eq!((f32s(&m.scores), f32s(&f.scores)), (e.scores.clone(), e.scores.clone()), "{frame}: raw scores");
            assert_eq!(
                (f32s(&m.smoothed_scores), f32s(&f.smoothed_scores)),
                (e.smoothed_scores.clone(), e.smoothed_scores.clone()),
                "{frame}: smoothed scores"
            );
            assert_eq!(e.labels.len(), e.scores.len(), "{frame}: one label per score");
            let landmarks = o.landmarks.expect("YuNet gives landmarks").concat();
            assert_eq!(m.landmarks.map(|l| l.to_vec()), Some(landmarks), "{frame}: landmarks");
            raw_differs += usize::from(e.scores != e.smoothed_scores);
        }
    }
    println!("{faces} faces agree over {MEGAMIND_FRAMES} frames; raw and smoothed scores differ on {raw_differs}");
    assert!(faces > 200 && raw_differs > faces / 2, "faces {faces}, raw != smoothed on {raw_differs}");
}

#[test]
fn unwritable_paths_fail_at_ready_naming_the_path() {
    let dir = TempDir::new("json-unwritable");
    let in_missing_dir = dir.path().join("no-such-dir/frames.jsonl");
    let a_directory = dir.path().to_path_buf();
    for path in [&in_missing_dir, &a_directory] {
        let e = publisher(&[("location", path.to_str().unwrap())]);
        let err = ready_error(&e);
        assert!(err.matches(gst::ResourceError::OpenWrite), "{path:?}: {err}");
        assert!(err.message().contains(path.to_str().unwrap()), "the message names {}: {}", path.display(), err.message());
        assert!(err.message().contains("cannot be written"), "{}", err.message());
    }
    assert!(!in_missing_dir.parent().unwrap().exists(), "no directory is created");

    // Fixed, the same element starts.
    let e = publisher(&[("location", in_missing_dir.to_str().unwrap())]);
    ready_error(&e);
    let ok = dir.path().join("frames.jsonl");
    e.set_property("location", ok.to_str().unwrap());
    e.set_state(gst::State::Ready).expect("READY with a writable path");
    e.set_state(gst::State::Null).unwrap();
    assert!(ok.is_file(), "created at NULL->READY");
}

/// `location=-`: the lines go to stdout, where nothing else is written (gst-launch-1.0 -q,
/// in a child process using the plugin this test run built).
#[test]
fn dash_writes_the_lines_to_stdout() {
    let photo = group_photo("13.jpg");
    let gst = ChildGst::new();
    let location = format!("location={}", photo.display());
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.args(["-q", "filesrc", &location, "!", "jpegdec", "!", "imagefreeze", "num-buffers=3", "!", "videoconvert", "!"]).args([
        "emotiondetect",
        "!",
        "emotionpublish",
        "location=-",
        "!",
        "fakesink",
    ]);
    let out = gst.apply(&mut cmd, 0).output().expect("gst-launch-1.0 (apt package gstreamer1.0-tools; ./setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{}\nstdout:\n{stdout}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "gst-launch-1.0 failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines = parse_lines(&stdout);
    assert_eq!(lines.len(), 3, "one line per frame and nothing else on stdout");
    let times: Vec<u64> = lines.iter().map(|l| l["timestamp"].as_u64().expect("a timestamp")).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "timestamps increase: {times:?}");
    for l in &lines {
        assert!(l["resolution"]["width"].as_u64().unwrap() > 0);
        let objects = l["objects"].as_array().unwrap();
        assert_eq!(objects.len(), 2, "13.jpg has two faces");
        for o in objects {
            assert!(FER_LABELS.contains(&o["emotion"]["label"].as_str().unwrap()));
        }
    }
}
