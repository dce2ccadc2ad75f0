// SPDX-License-Identifier: MIT
//! The element attacked as a hostile user or a broken deployment would (issue 14): models whose
//! outputs are NaN or infinite, paths that are FIFOs or symbolic link loops, a caps change to
//! another size between two detector runs, and a metadata file on a full disk. Each test is of a
//! class of failure that was found, with real models, photos and video.

mod common;
#[path = "common/onnx.rs"]
mod onnx;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use gst::prelude::*;

fn assert_contains(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "`{text}` should contain `{p}`");
    }
}

/// The warnings waiting on `bus`, as text, and the number of `emotiondetect` messages (read
/// together: popping one type discards the others).
fn warnings_and_messages(bus: &gst::Bus) -> (Vec<String>, usize) {
    let (mut warnings, mut messages) = (Vec::new(), 0);
    while let Some(m) = bus.pop() {
        match m.view() {
            gst::MessageView::Warning(w) => warnings.push(w.error().message().to_string()),
            gst::MessageView::Element(e) if e.structure().is_some_and(|s| s.name() == "emotiondetect") => messages += 1,
            _ => {}
        }
    }
    (warnings, messages)
}

/// Pushes the photo 13.jpg (two faces) `n` times through `e`; returns the faces per frame, the
/// warnings and the number of result messages.
fn push_photo(e: &gst::Element, n: usize) -> (Vec<usize>, Vec<String>, usize) {
    let photo = decode_photo(&group_photo("13.jpg"), "RGB");
    let (mut h, bus) = harness(e);
    h.set_src_caps(photo.caps().unwrap().to_owned());
    let faces = (0..n).map(|_| meta_faces(&h.push_and_pull(photo.buffer_owned().unwrap()).expect("the frame comes out")).len()).collect();
    let (warnings, messages) = warnings_and_messages(&bus);
    (faces, warnings, messages)
}

// ---------------------------------------------------------------------------------------------
// Class 2: non-finite model outputs never reach the metadata

#[test]
fn a_detector_giving_nan_scores_finds_no_face_and_warns_once_naming_it() {
    let dir = TempDir::new("nan-detector");
    let model = dir.path().join("nan_yunet.onnx");
    onnx::yunet_like(&model, f32::NAN);
    let e = element(&[("face-model", model.to_str().unwrap())]);
    // NaN passed `score <= threshold` (false for NaN): about 5,000 "faces" a frame.
    let (faces, warnings, messages) = push_photo(&e, 4);
    assert_eq!(faces, [0; 4], "no face from NaN scores");
    assert_eq!(messages, 0, "the frames are rejected: no report");
    assert_eq!(warnings.len(), 1, "one warning, rate-limited, not one per frame: {warnings:?}");
    assert_contains(&warnings[0], &["face model", model.to_str().unwrap(), "cls_8", "non-finite", "NaN"]);
}

#[test]
fn a_classifier_giving_nan_or_infinite_logits_is_rejected_per_frame() {
    let dir = TempDir::new("nan-classifier");
    let inf = f32::INFINITY;
    for (name, logits) in [("nan", [f32::NAN; 7]), ("inf", [inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), ("neg-inf", [-inf; 7])] {
        let model = dir.path().join(format!("{name}.onnx"));
        onnx::classifier_like(&model, logits);
        let e = element(&[("emotion-model", model.to_str().unwrap())]);
        let (faces, warnings, messages) = push_photo(&e, 3);
        e.set_state(gst::State::Null).unwrap();
        assert_eq!((faces, messages), (vec![0; 3], 0), "{name}: no face with non-finite scores reaches the metas or messages");
        assert_eq!(warnings.len(), 1, "{name}: one warning: {warnings:?}");
        assert_contains(&warnings[0], &["emotion model", model.to_str().unwrap(), "non-finite"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Class 3: paths that are not regular files

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "mkfifo {}: {ok:?}", path.display());
}

/// [`ready_error`], failing instead of hanging when NULL->READY blocks (on a FIFO).
fn ready_error_within(props: Vec<(String, String)>, limit: Duration) -> gst::glib::Error {
    ready_error_of_within("emotiondetect", props, limit)
}

/// [`ready_error_within`] for a `factory` element.
fn ready_error_of_within(factory: &'static str, props: Vec<(String, String)>, limit: Duration) -> gst::glib::Error {
    let (tx, rx) = mpsc::channel();
    let what = format!("{props:?}");
    std::thread::spawn(move || {
        let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let _ = tx.send(ready_error(&make_with(factory, &props)).message().to_string());
    });
    let message = rx.recv_timeout(limit).unwrap_or_else(|_| panic!("NULL->READY with {what} hung for {limit:?}"));
    gst::glib::Error::new(gst::ResourceError::Failed, &message)
}

#[test]
fn fifos_and_symlink_loops_are_refused_at_once_with_what_they_are() {
    let dir = TempDir::new("fifos");
    let fifo = dir.path().join("pipe.onnx");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap().to_string();
    let spec_fifo = dir.path().join("spec.json");
    mkfifo(&spec_fifo);
    let (a, b) = (dir.path().join("loop-a.onnx"), dir.path().join("loop-b.onnx"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let p = |k: &str, v: &Path| (k.to_string(), v.to_str().unwrap().to_string());
    let limit = Duration::from_secs(20);

    let err = ready_error_within(vec![p("emotion-model-proc", &spec_fifo)], limit);
    assert_contains(err.message(), &["model spec", spec_fifo.to_str().unwrap(), "is a FIFO"]);
    let err = ready_error_of_within("emotionpublish", vec![p("location", &fifo)], limit);
    assert_contains(err.message(), &["metadata file", &f, "is a FIFO"]);
    let err = ready_error_within(vec![p("face-model", &fifo)], limit);
    assert_contains(err.message(), &["face model", &f, "is a FIFO"]);
    let err = ready_error_within(vec![p("emotion-model", &a)], limit);
    assert_contains(err.message(), &["emotion model", a.to_str().unwrap(), "Too many levels of symbolic links"]);
    assert!(!err.message().contains("no such file"), "a link loop is not a missing file: {err}");
    let err = ready_error_of_within("emotionpublish", vec![p("location", Path::new("/dev/full"))], limit);
    assert_contains(err.message(), &["metadata file", "/dev/full", "character device"]);
}

// ---------------------------------------------------------------------------------------------
// Class 4: a caps change to another size resets the tracks

/// 13.jpg decoded as RGB at `width` x `height` (videoscale).
fn photo_at(width: u32, height: u32) -> gst::Sample {
    let desc = format!(
        "filesrc location={} ! jpegdec ! videoconvert ! videoscale ! video/x-raw,format=RGB,width={width},height={height} ! appsink name=sink",
        group_photo("13.jpg").display()
    );
    let mut run = run_pipeline(&desc, Duration::from_secs(30));
    run.samples.pop().expect("one decoded frame")
}

#[test]
fn a_smaller_frame_between_detector_runs_carries_no_old_box() {
    let big = decode_photo(&group_photo("13.jpg"), "RGB");
    let info = video_info(&big);
    let (w, h) = (info.width() / 3, info.height() / 3);
    let small = photo_at(w, h);
    let e = element(&[("inference-interval", "5")]);
    let (mut harness, _bus) = harness(&e);
    harness.set_src_caps(big.caps().unwrap().to_owned());
    let before: Vec<MetaFace> = meta_faces(&harness.push_and_pull(big.buffer_owned().unwrap()).unwrap());
    assert!(
        before.iter().any(|f| f.rect.0 + f.rect.2 > w || f.rect.1 + f.rect.3 > h),
        "the test needs a face outside the small frame: {:?}",
        before.iter().map(|f| f.rect).collect::<Vec<_>>()
    );
    harness.push_and_pull(big.buffer_owned().unwrap()).unwrap();
    // Frames 2..=4 are between detector runs: the tracks would be carried at the old size.
    harness.set_src_caps(small.caps().unwrap().to_owned());
    for n in 2..7 {
        let faces = meta_faces(&harness.push_and_pull(small.buffer_owned().unwrap()).unwrap());
        for f in &faces {
            let (x, y, fw, fh) = f.rect;
            assert!(x + fw <= w && y + fh <= h, "frame {n}: box {:?} outside the {w}x{h} frame", f.rect);
            assert!(f.detection[2] <= 1.0 && f.detection[3] <= 1.0, "frame {n}: normalised box past 1: {:?}", f.detection);
        }
        if n < 5 {
            assert!(faces.is_empty(), "frame {n}: before the next detector run, no track survives the size change");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Class 6: a full disk stops the stream with an element error and keeps whole lines

#[test]
fn a_full_disk_is_an_element_error_and_the_file_keeps_whole_lines() {
    let fs = Tmpfs::mount("160k");
    let jsonl: PathBuf = fs.0.path().join("frames.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin ! videoconvert ! emotiondetect name=ed ! emotionpublish name=ep location={} ! fakesink",
        megamind().display(),
        jsonl.display()
    );
    init();
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let (mut errors, mut write_warnings, mut eos, mut frames) = (Vec::new(), 0, false, 0);
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(120)) {
        let from_ep = msg.src().is_some_and(|s| s.name() == "ep");
        match msg.view() {
            gst::MessageView::Eos(_) => {
                eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                errors.push((from_ep, e.error()));
                break;
            }
            gst::MessageView::Warning(w) if w.error().matches(gst::ResourceError::Write) => write_warnings += 1,
            gst::MessageView::Element(e) if e.structure().is_some_and(|s| s.name() == "emotiondetect") => frames += 1,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    println!("frames {frames}, errors {errors:?}, write warnings {write_warnings}, eos {eos}");
    assert!(!eos && write_warnings == 0, "the stream stops at the first write error, not after a warning per frame");
    let (from_ep, err) = errors.first().expect("an error message");
    assert!(*from_ep && err.matches(gst::ResourceError::Write), "an element error from emotionpublish: {err}");
    assert_contains(err.message(), &[jsonl.to_str().unwrap(), "No space left on device"]);
    assert!(frames < 270, "the pipeline stopped ({frames} frames)");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(!text.is_empty() && text.ends_with('\n'), "whole lines only ({} bytes)", text.len());
    for (n, line) in text.lines().enumerate() {
        emotiondetect_core::frame_report::FrameReport::from_json(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
    }
}
