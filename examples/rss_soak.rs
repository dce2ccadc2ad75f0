// SPDX-License-Identifier: MIT
//! Memory soak: 10,000 frames of real video through `emotiondetect`, printing the resident set
//! size every 1,000 frames and its growth from frame 1,000 (warm) to the end.
//!
//!     cargo run --release --example rss-soak -- [VIDEO] [FRAMES] [PROP=VALUE ...]
//!
//! VIDEO (default ../shared/media/videos/Megamind.avi) is decoded once into memory as I420 and
//! its frames are pushed again and again through `appsrc ! emotiondetect ! fakesink` with
//! increasing timestamps, so the element sees FRAMES frames (default 10,000) with real faces.
//! Prints `frames=N rss_mb_at_1000=A rss_mb_end=B growth_mb=G`.

use gst::prelude::*;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let video = args.next().unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/media/videos/Megamind.avi").into());
    let total: usize = args.next().map(|n| n.parse().map_err(|_| format!("FRAMES: {n} is not a number"))).transpose()?.unwrap_or(10_000);
    let props: Vec<String> = args.collect();
    gst::init().map_err(|e| e.to_string())?;
    gstemotiondetect::plugin_register_static().map_err(|e| e.to_string())?;

    let (caps, frames) = decode(&video)?;
    eprintln!("{video}: {} frames decoded, {caps}", frames.len());
    let desc = format!("appsrc name=src format=time block=true max-buffers=4 ! emotiondetect {} ! fakesink sync=false", props.join(" "));
    let pipeline =
        gst::parse::launch(&desc).map_err(|e| format!("{desc}: {e}"))?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let src = pipeline.by_name("src").ok_or("no appsrc")?.downcast::<gst_app::AppSrc>().map_err(|_| "not an appsrc")?;
    src.set_caps(Some(&caps));
    pipeline.set_state(gst::State::Playing).map_err(|e| format!("{e:?}"))?;
    let frame_ns = 40_000_000u64;
    let (mut at_1000, bus) = (0.0, pipeline.bus().ok_or("no bus")?);
    for i in 0..total {
        let mut buf = frames[i % frames.len()].copy();
        {
            let b = buf.get_mut().ok_or("buffer not writable")?;
            b.set_pts(gst::ClockTime::from_nseconds(i as u64 * frame_ns));
            b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
        }
        src.push_buffer(buf).map_err(|e| format!("push: {e:?}"))?;
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            return Err(format!("{msg:?}"));
        }
        if (i + 1) % 1000 == 0 {
            let rss = rss_mb();
            eprintln!("frame {:>6}: rss {rss:.1} MB", i + 1);
            if i + 1 == 1000 {
                at_1000 = rss;
            }
        }
    }
    src.end_of_stream().map_err(|e| format!("{e:?}"))?;
    bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos, gst::MessageType::Error]);
    let end = rss_mb();
    pipeline.set_state(gst::State::Null).map_err(|e| format!("{e:?}"))?;
    println!("frames={total} rss_mb_at_1000={at_1000:.1} rss_mb_end={end:.1} growth_mb={:.1}", end - at_1000);
    Ok(())
}

/// Decodes every frame of `path` to I420 in memory.
fn decode(path: &str) -> Result<(gst::Caps, Vec<gst::Buffer>), String> {
    let desc = format!("filesrc location=\"{path}\" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false");
    let pipeline =
        gst::parse::launch(&desc).map_err(|e| format!("{desc}: {e}"))?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let sink = pipeline.by_name("sink").ok_or("no appsink")?.downcast::<gst_app::AppSink>().map_err(|_| "not an appsink")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| format!("{e:?}"))?;
    let (mut caps, mut frames) = (None, Vec::new());
    while let Ok(sample) = sink.pull_sample() {
        caps = caps.or_else(|| sample.caps().map(|c| c.to_owned()));
        frames.extend(sample.buffer_owned());
    }
    pipeline.set_state(gst::State::Null).map_err(|e| format!("{e:?}"))?;
    Ok((caps.ok_or_else(|| format!("{path}: no frame decoded"))?, frames))
}

/// Current resident set size of this process (VmRSS), in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
