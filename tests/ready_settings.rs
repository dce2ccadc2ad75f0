// SPDX-License-Identifier: MIT
//! Properties read at NULL->READY (`pipelining`, emotionpublish's `location`, ...) set while PLAYING change
//! nothing mid-stream: every frame still comes out, analysed, and the change takes effect at the
//! next NULL->READY.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;

const MEGAMIND_FRAMES: usize = 270;

/// Runs Megamind.avi through `ed` to EOS, calling `during` once after 30 messages. Returns the
/// buffers that reached the sink and the element messages.
fn run(pipeline: &gst::Pipeline, during: impl FnOnce()) -> (usize, usize) {
    let buffers = Arc::new(AtomicUsize::new(0));
    let b = buffers.clone();
    let sink = pipeline.by_name("sink").unwrap().static_pad("sink").unwrap();
    let probe = sink
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            b.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        })
        .unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| panic!("cannot start: {e:?}: {}", first_error(&bus)));
    let (start, mut messages, mut during) = (Instant::now(), 0, Some(during));
    loop {
        assert!(start.elapsed() < Duration::from_secs(300), "no EOS");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Element(e) if e.structure().is_some_and(|s| s.name() == "emotiondetect") => {
                messages += 1;
                if messages == 30 {
                    during.take().unwrap()();
                }
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    sink.remove_probe(probe);
    (buffers.load(Ordering::Relaxed), messages)
}

#[test]
fn ready_only_properties_set_while_playing_wait_for_the_next_ready() {
    init();
    let dir = TempDir::new("ready-settings");
    let later = dir.path().join("later.jsonl");
    // decodebin linked by hand: gst-launch's delayed linking would not link again on a second run.
    let first = dir.path().join("first.jsonl");
    let desc = format!(
        "filesrc location={} ! decodebin name=dec  emotiondetect name=ed ! emotionpublish name=ep location={} ! fakesink name=sink",
        megamind().display(),
        first.display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let ed = pipeline.by_name("ed").unwrap();
    let ep = pipeline.by_name("ep").unwrap();
    let ed_sink = ed.static_pad("sink").unwrap();
    pipeline.by_name("dec").unwrap().connect_pad_added(move |_, pad| {
        let _ = pad.link(&ed_sink);
    });

    let (buffers, messages) = run(&pipeline, || {
        ed.set_property("pipelining", true);
        ep.set_property("location", later.to_str().unwrap());
    });
    assert_eq!((buffers, messages), (MEGAMIND_FRAMES, MEGAMIND_FRAMES), "every frame out and analysed, none lost");
    assert!(!later.exists(), "location set while PLAYING is not opened mid-stream");
    assert_eq!(std::fs::read_to_string(&first).unwrap().lines().count(), MEGAMIND_FRAMES, "the first file has every frame");
    assert!(ed.property::<bool>("pipelining"), "the value is kept for the next start");

    // The next start reads them: pipelined, and the lines written.
    let (buffers, messages) = run(&pipeline, || {
        ed.set_property("pipelining", false);
    });
    assert_eq!((buffers, messages), (MEGAMIND_FRAMES, MEGAMIND_FRAMES), "pipelined run");
    let lines = std::fs::read_to_string(&later).unwrap().lines().count();
    assert_eq!(lines, MEGAMIND_FRAMES, "location opened at the next NULL->READY");
}
