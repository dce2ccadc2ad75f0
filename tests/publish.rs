// SPDX-License-Identifier: MIT
//! `emotionpublish`: the JSON lines of `emotiondetect ! emotionpublish location=` on Megamind.avi
//! are the frames' reports (the same JSON as each frame's bus message), every frame and face;
//! buffers without a report pass through; a missing or double target fails at NULL->READY.

mod common;

use common::*;
use emotiondetect_core::frame_report::FrameReport;
use gst::prelude::*;

const MEGAMIND_FRAMES: usize = 270;
/// Faces in Megamind.avi at the default settings (YuNet, 640 px, threshold 0.6). 408 before
/// d3d12c0; the detector input built by the yuv crate and a scaling crate (bytes rounded as
/// OpenCV rounds them; fast_image_resize, then pic-scale) leaves two borderline faces under the
/// threshold.
const MEGAMIND_FACES: usize = 406;

/// Runs `desc` to EOS; returns the `json` of each `emotiondetect` message.
fn run_to_eos(desc: &str) -> Vec<String> {
    init();
    let pipeline = gst::parse::launch(desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| panic!("`{desc}` cannot start: {e:?}: {}", first_error(&bus)));
    let mut messages = Vec::new();
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    messages.push(s.get::<String>("json").expect("json"));
                }
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    messages
}

#[test]
fn megamind_gives_one_line_per_frame_equal_to_its_report() {
    let dir = TempDir::new("publish-megamind");
    let out = dir.path().join("out.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin ! videoconvert ! emotiondetect ! emotionpublish location={} ! fakesink",
        megamind().display(),
        out.display()
    );
    let messages = run_to_eos(&desc);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let faces: usize = lines.iter().map(|l| FrameReport::from_json(l).expect("a FrameReport").objects.len()).sum();
    println!("{} lines, {faces} faces, {} messages", lines.len(), messages.len());
    assert_eq!(lines.len(), MEGAMIND_FRAMES, "one line per frame");
    assert_eq!(faces, MEGAMIND_FACES);
    assert_eq!(lines, messages, "each line is the frame's report, as its bus message carries it");
    let first = FrameReport::from_json(lines[0]).unwrap();
    assert!(first.source.starts_with("file://") && first.source_id == first.source, "source {:?} id {:?}", first.source, first.source_id);
}

#[test]
fn source_id_replaces_the_default_and_buffers_without_a_report_pass_through() {
    let dir = TempDir::new("publish-source-id");
    let out = dir.path().join("out.jsonl");
    let desc = format!(
        "filesrc location={} ! jpegdec ! imagefreeze num-buffers=3 ! videoconvert ! emotiondetect ! emotionpublish location={} source-id=door ! fakesink",
        group_photo("13.jpg").display(),
        out.display()
    );
    run_to_eos(&desc);
    let lines: Vec<FrameReport> = std::fs::read_to_string(&out).unwrap().lines().map(|l| FrameReport::from_json(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().all(|r| r.source_id == "door" && r.objects.len() == 2),
        "{:?}",
        lines.iter().map(|r| &r.source_id).collect::<Vec<_>>()
    );

    // No emotiondetect upstream: every buffer passes, nothing is written.
    let bare = dir.path().join("bare.jsonl");
    let desc = format!("videotestsrc num-buffers=5 ! emotionpublish location={} ! fakesink name=sink", bare.display());
    init();
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let passed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let p = passed.clone();
    pipeline.by_name("sink").unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        p.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Eos, gst::MessageType::Error]).expect("EOS");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(passed.load(std::sync::atomic::Ordering::Relaxed), 5, "every buffer passes");
    assert_eq!(std::fs::read_to_string(&bare).unwrap(), "", "nothing to publish");
}

#[test]
fn no_target_or_two_targets_fail_at_ready() {
    let err = ready_error(&publisher(&[]));
    assert!(err.matches(gst::LibraryError::Settings), "{err}");
    assert!(err.message().contains("location=") && err.message().contains("uri="), "{}", err.message());
    let err = ready_error(&publisher(&[("location", "/tmp/x.jsonl"), ("uri", "mqtt://127.0.0.1/t")]));
    assert!(err.message().contains("not both"), "{}", err.message());
}

/// The disk fills mid-stream: the lines that a failed write lost, and the reports refused after
/// it, count in `dropped` (read after NULL), so lines in the file + dropped = reports sent.
#[test]
fn on_a_full_disk_lines_in_the_file_plus_dropped_are_the_reports_sent() {
    let fs = Tmpfs::mount("160k");
    let out = fs.0.path().join("frames.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin ! videoconvert ! emotiondetect ! emotionpublish name=ep location={} ! fakesink",
        megamind().display(),
        out.display()
    );
    init();
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let ep = pipeline.by_name("ep").unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = sent.clone();
    ep.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(120), &[gst::MessageType::Eos, gst::MessageType::Error]).expect("an end");
    assert!(matches!(msg.view(), gst::MessageView::Error(_)), "the disk filled: {msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
    let (sent, dropped): (u64, u64) = (sent.load(std::sync::atomic::Ordering::Relaxed), ep.property("dropped"));
    let lines = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    println!("sent {sent}, lines in the file {lines}, dropped {dropped}");
    assert!(lines > 0 && dropped > 0, "some lines written, some lost");
    assert_eq!(lines + dropped, sent, "every report is in the file or counted");
}
