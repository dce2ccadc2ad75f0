// SPDX-License-Identifier: MIT
//! Runs one GStreamer pipeline to EOS and prints its throughput, for `bench/run`.
//!
//!     cargo run --release --example bench-pipeline -- 'filesrc location=a.avi ! decodebin ! emotiondetect ! fakesink'
//!
//! The clock starts when the prerolled pipeline goes to PLAYING (models are loaded and the first
//! frame is analysed before), so start-up is excluded, as the peer excludes its own. Frames are
//! the buffers reaching the pipeline's sinks (all of them: several streams add up). Prints
//! `frames=N seconds=S fps=F peak_rss_mb=M faces=K`, and for each `model-instance-id` in the
//! pipeline `instance=ID sessions=S classifier_calls=C multi_stream_calls=M max_streams_per_call=X`.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gst::prelude::*;

fn main() -> Result<(), String> {
    let desc = std::env::args().nth(1).ok_or("usage: bench-pipeline 'PIPELINE'")?;
    gst::init().map_err(|e| e.to_string())?;
    gstemotiondetect::plugin_register_static().map_err(|e| e.to_string())?;
    let pipeline =
        gst::parse::launch(&desc).map_err(|e| format!("{desc}: {e}"))?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let frames = Arc::new(AtomicU64::new(0));
    for sink in pipeline.iterate_sinks().into_iter().flatten() {
        let frames = frames.clone();
        let pad = sink.static_pad("sink").ok_or("a sink without a sink pad")?;
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            frames.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    let bus = pipeline.bus().ok_or("no bus")?;
    pipeline.set_state(gst::State::Paused).map_err(|e| format!("{e:?}"))?;
    wait(&bus, gst::MessageType::AsyncDone)?;
    let prerolled = frames.load(Ordering::Relaxed);
    let start = Instant::now();
    pipeline.set_state(gst::State::Playing).map_err(|e| format!("{e:?}"))?;
    let faces = wait(&bus, gst::MessageType::Eos)?;
    let seconds = start.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).map_err(|e| format!("{e:?}"))?;
    let n = frames.load(Ordering::Relaxed) - prerolled;
    // writeln!, not println!: a closed stdout (`| head -1`) is an error to report, not a panic.
    let mut out = std::io::stdout().lock();
    let written = |e: std::io::Error| format!("writing the result: {e}");
    writeln!(out, "frames={n} seconds={seconds:.3} fps={:.1} peak_rss_mb={:.1} faces={faces}", n as f64 / seconds, peak_rss_mb())
        .map_err(written)?;
    for id in instance_ids(&pipeline) {
        let s = emotiondetect_core::instances::batch_stats(&id);
        writeln!(
            out,
            "instance={id} sessions={} classifier_calls={} multi_stream_calls={} max_streams_per_call={}",
            emotiondetect_core::instances::sessions_loaded(&id),
            s.batches,
            s.multi_stream_batches,
            s.max_streams_per_batch
        )
        .map_err(written)?;
    }
    Ok(())
}

/// The distinct `model-instance-id`s of the pipeline's emotiondetect elements.
fn instance_ids(pipeline: &gst::Pipeline) -> Vec<String> {
    let mut ids: Vec<String> = pipeline
        .iterate_recurse()
        .into_iter()
        .flatten()
        .filter(|e| e.factory().is_some_and(|f| f.name() == "emotiondetect"))
        .filter_map(|e| e.property::<Option<String>>("model-instance-id"))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Waits for a message of type `until`, failing on an error; returns the faces counted in the
/// `emotiondetect` messages seen meanwhile.
fn wait(bus: &gst::Bus, until: gst::MessageType) -> Result<u64, String> {
    let mut faces = 0;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Error(e) => return Err(format!("{}: {:?}", e.error(), e.debug())),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    faces += s.get::<gst::List>("faces").map(|l| l.len() as u64).unwrap_or(0);
                }
            }
            _ if msg.type_() == until => return Ok(faces),
            _ => {}
        }
    }
    Err("the bus closed".into())
}

/// Peak resident set size of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
