// SPDX-License-Identifier: MIT
//! Latency on a live source the element cannot keep up with: a real group photo made into a
//! live 1920x1080 30 fps stream, the detector at full resolution (`detector-size=0`, about 150 ms
//! a frame on a 2-core machine, several frame intervals). The measurement is
//! `examples/latency.rs` (`bench/latency.sh` prints the full figures); here it runs a few seconds
//! per pipeline and asserts that
//!
//! - with `queue leaky=downstream max-size-buffers=1` before the element, latency stays bounded
//!   and the frames the element has no time for are dropped, not queued;
//! - with an unlimited queue instead (what a network source such as rtspsrc amounts to: every
//!   frame is kept), latency grows with the run, without bound;
//! - with a sink that sends QoS events (`qos=true`, as display sinks do), the element drops the
//!   late frames itself (its `qos` property is true by default) and latency stays bounded even
//!   behind the unlimited queue.

mod common;

#[path = "../examples/latency.rs"]
mod bench;

use std::time::Duration;

use bench::{Config, Preset, Report, Source};
use common::*;
use gst::prelude::*;

const FPS: u32 = 30;
const INTERVAL: f64 = 1.0 / FPS as f64;

fn run(preset: Preset, seconds: f64) -> Report {
    run_with(preset, seconds, false)
}

/// `rtsp`: the camera is served by an RTSP server in this process (127.0.0.1, H.264) and the
/// measured pipeline is a client reading it with `rtspsrc latency=100 ! decodebin`.
fn run_with(preset: Preset, seconds: f64, rtsp: bool) -> Report {
    init();
    let cfg = Config {
        preset,
        source: Source::Photo(group_photo("1.jpg")),
        width: 1920,
        height: 1080,
        fps: FPS,
        duration: Duration::from_secs_f64(seconds),
        props: Vec::new(),
        deadline: Duration::from_millis(500),
        rtsp,
    };
    let report = bench::measure(&cfg).unwrap_or_else(|e| panic!("{}: {e}", preset.name()));
    report.print(preset, FPS);
    report
}

/// The latency a pipeline that drops what it cannot process may reach: a frame waits at most
/// for the frame being processed (one processing time P), is processed (P) and may have waited
/// one frame interval in the queue: 2P + 1/fps, plus scheduling slack. With P about 150 ms on
/// the 2-core development machine that is about 0.35 s; the bound is 1 s, or 3P + 0.1 s on a
/// machine slow enough (P > 0.3 s) for that to be larger. Without dropping, latency passes 1 s
/// within a few seconds and keeps growing (see `unlimited_queue_latency_grows`).
fn bound(r: &Report) -> f64 {
    f64::max(1.0, 3.0 * r.processing_p95() + 0.1)
}

/// Whether the element is slower than the source on this machine (else nothing needs dropping).
fn element_is_slower(r: &Report) -> bool {
    let p = r.processing_median();
    if p < 1.5 * INTERVAL {
        eprintln!(
            "note: the element takes {:.0} ms a frame here, not much more than the {:.0} ms frame interval: nothing to drop",
            p * 1000.0,
            INTERVAL * 1000.0
        );
        return false;
    }
    true
}

#[test]
fn element_handles_qos_by_default() {
    let e = element(&[]);
    assert!(e.property::<bool>("qos"), "emotiondetect's qos property (GstBaseTransform) should default to true");
}

#[test]
fn leaky_queue_keeps_latency_bounded_and_drops_frames() {
    let r = run(Preset::Leaky, 6.0);
    // the leaky queue decouples the live source: it keeps producing every frame in real time
    assert!(r.frames_source as f64 >= 0.8 * FPS as f64 * r.ran, "the source produced {} frames in {:.1} s", r.frames_source, r.ran);
    assert!(r.rendered.len() >= 5, "only {} frames rendered", r.rendered.len());
    assert!(r.messages_with_faces * 10 >= r.messages * 9, "faces in {} of {} frames of a group photo", r.messages_with_faces, r.messages);
    let (max, bound) = (r.latency_max(), bound(&r));
    assert!(max < bound, "leaky queue: max latency {:.0} ms, bound {:.0} ms", max * 1000.0, bound * 1000.0);
    // no growth: the last frames are no later than the first ones, give or take one processing time
    let early = r.latency_at(3.0).expect("a frame rendered in the first 3 s");
    let last = r.rendered.last().unwrap().latency;
    assert!(last < early + r.processing_p95() + 0.1, "latency grew from {early:.3} s to {last:.3} s");
    if element_is_slower(&r) {
        // everything the element had no time for was dropped by the queue, not kept: at its median
        // processing time p it takes INTERVAL / p of the frames, so about 1 - INTERVAL / p are dropped
        let dropped = r.frames_source.saturating_sub(r.frames_element + r.queued_at_end);
        let share = 1.0 - INTERVAL / r.processing_median();
        assert!(
            dropped as f64 >= 0.75 * share * r.frames_source as f64,
            "the leaky queue dropped {dropped} of {} frames, expected about {:.0} % of them",
            r.frames_source,
            share * 100.0
        );
        assert!(r.queued_at_end <= 1, "{} frames queued", r.queued_at_end);
    }
}

#[test]
fn unlimited_queue_latency_grows() {
    let r = run(Preset::Queue, 5.0);
    if !element_is_slower(&r) {
        return;
    }
    let early = r.latency_at(2.0).expect("a frame rendered in the first 2 s");
    let last = r.rendered.last().unwrap();
    // the backlog grows by (1 - interval / P) seconds of video each second: by ~0.8 s/s for P = 150 ms
    let p = r.processing_median();
    let expected_growth = (last.at - 2.0) * (1.0 - INTERVAL / p);
    assert!(
        last.latency - early > 0.5 * expected_growth,
        "latency went from {early:.2} s (2 s) to {:.2} s ({:.1} s): expected it to grow by about {expected_growth:.2} s",
        last.latency,
        last.at
    );
    assert!(
        r.queued_at_end as f64 > 0.3 * r.frames_source as f64,
        "only {} of {} frames were still queued",
        r.queued_at_end,
        r.frames_source
    );
    assert!(last.latency > 2.0, "the last frame's latency {:.2} s", last.latency);
}

#[test]
fn sink_qos_makes_the_element_drop_late_frames() {
    let r = run(Preset::QueueQos, 5.0);
    if !element_is_slower(&r) {
        return;
    }
    assert!(r.element_qos_dropped > 0, "the element dropped no frame on QoS");
    assert!(r.frames_analysed < r.frames_element, "the element analysed all of its {} frames", r.frames_element);
    // the first frame may wait for the first QoS event; after it, latency stays bounded
    let (max, bound) = (r.latency_max_after(2.0), bound(&r));
    assert!(max < bound, "QoS: max latency after 2 s {:.0} ms, bound {:.0} ms", max * 1000.0, bound * 1000.0);
}

/// Over RTSP without a queue before the element: the element blocks the decoder, which blocks
/// rtspsrc's jitterbuffer, which keeps every packet arriving from the network: latency grows.
#[test]
fn rtsp_client_without_queue_latency_grows() {
    let r = run_with(Preset::None, 6.0, true);
    if !element_is_slower(&r) {
        return;
    }
    let early = r.latency_at(2.0).expect("a frame rendered in the first 2 s");
    let last = r.rendered.last().unwrap();
    let expected_growth = (last.at - 2.0) * (1.0 - INTERVAL / r.processing_median());
    assert!(
        last.latency - early > 0.5 * expected_growth,
        "RTSP client: latency went from {early:.2} s (2 s) to {:.2} s ({:.1} s): expected it to grow by about {expected_growth:.2} s",
        last.latency,
        last.at
    );
    assert!(last.latency > 2.0, "the last frame's latency {:.2} s", last.latency);
}

/// Over RTSP with `queue leaky=downstream max-size-buffers=1` after the decoder: the decoder
/// keeps up with the stream, the element takes the newest frame, latency stays bounded.
#[test]
fn rtsp_client_leaky_queue_keeps_latency_bounded() {
    let r = run_with(Preset::Leaky, 6.0, true);
    assert!(r.rendered.len() >= 5, "only {} frames rendered", r.rendered.len());
    assert!(r.messages_with_faces * 10 >= r.messages * 9, "faces in {} of {} frames", r.messages_with_faces, r.messages);
    let (max, bound) = (r.latency_max_after(2.0), bound(&r));
    assert!(max < bound, "RTSP client with a leaky queue: max latency after 2 s {:.0} ms, bound {:.0} ms", max * 1000.0, bound * 1000.0);
    if element_is_slower(&r) {
        let dropped = r.frames_source.saturating_sub(r.frames_element + r.queued_at_end);
        assert!(dropped * 2 >= r.frames_source, "the leaky queue dropped {dropped} of {} decoded frames", r.frames_source);
    }
}
