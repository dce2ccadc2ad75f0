// SPDX-License-Identifier: MIT
//! End-to-end latency of emotiondetect on a live source it cannot keep up with.
//!
//! ```text
//! cargo run --release --example latency -- [--seconds 15] [--source photo|ball] [--photo FILE]
//!     [--width 1920] [--height 1080] [--fps 30] [--deadline 500] [--rtsp] [CONFIG ...] [PROP=VALUE ...]
//! ```
//! (`bench/latency.sh` runs it with the defaults.)
//!
//! The source is live at 30 fps, 1920x1080: by default a real group photo frozen into a live
//! stream (`filesrc ! jpegdec ! videoscale ! imagefreeze is-live=true`), or `videotestsrc
//! is-live=true pattern=ball` with `--source ball`. The detector runs at full resolution
//! (`detector-size=0`), so the element needs longer than a frame interval per frame. The sink is an
//! appsink with `sync=true`; for each rendered frame it records
//!
//! ```text
//! latency = clock time at render - (base time + running time of the buffer)
//! ```
//!
//! i.e. how long after the camera "took" the frame the viewer sees it. CONFIG picks the
//! pipelines to compare (default: all of them, one after the other):
//!
//! - `none`:      `src ! emotiondetect ! sink` (imagefreeze skips frames when it is late,
//!   videotestsrc does not)
//! - `queue`:     `src ! queue (no limits) ! emotiondetect ! sink`: a source that never waits for
//!   the element, like an RTSP/UDP stream (rtspsrc's jitterbuffer keeps every packet)
//! - `leaky`:     `src ! queue leaky=downstream max-size-buffers=1 ! emotiondetect ! sink`
//! - `qos`:       `none` with `qos=true` on the sink: it sends QoS events upstream and the
//!   element (`qos=true` by default, as every GstVideoFilter) skips frames that are already late
//! - `queue-qos`: `queue` with `qos=true` on the sink
//! - `queue-qos-off`: `queue-qos` with `qos=false` on the element
//! - `leaky-qos`: `leaky` with `qos=true` on the sink
//! - `display`:   `leaky` with a display sink's defaults (`qos=true max-lateness=20000000`)
//! - `display-deadline`: `display` plus `processing-deadline` on the sink (`--deadline`, 500 ms)
//!   and a `queue` between the element and the sink (else the sink, holding each frame until its
//!   deadline, would hold the element too)
//!
//! With `--rtsp` the camera is served by an RTSP server in this process (127.0.0.1, a free
//! port, `x264enc tune=zerolatency ! rtph264pay`) and the measured pipeline is the client:
//! `rtspsrc latency=100 ! decodebin ! identity name=src ! [queue] ! emotiondetect ! appsink`.
//! Latency then counts from the frame's arrival at the client, as rtspsrc's jitterbuffer
//! timestamps it: it includes the 100 ms jitterbuffer, not the server's encoding or the network.
//!
//! Printed per configuration: frames out of the source, into the element, out at the sink (the
//! rest were dropped: by the leaky queue, by the element on QoS, or by the sink as too late),
//! the element's processing time per frame, and latency median / p95 / max, plus latency over
//! the run (one line per second), which shows whether it stays bounded or grows.
//!
//! The element is registered from the crate this example is built with (no installed plugin
//! needed); ONNX Runtime and the models come from ./setup.sh. `tests/latency.rs` includes this
//! file as a module and asserts on [`measure`]'s report.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

/// Which pipeline to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// `src ! emotiondetect ! sink`: what happens depends on the source.
    None,
    /// `src ! queue (no limits) ! emotiondetect ! sink`: a source that never waits for the
    /// element, as an RTSP/UDP stream (rtspsrc's jitterbuffer keeps every packet).
    Queue,
    /// `src ! queue leaky=downstream max-size-buffers=1 ! emotiondetect ! sink`.
    Leaky,
    /// `src ! emotiondetect ! sink qos=true`: the sink sends QoS events, and the element (qos=true
    /// by default, as every GstVideoFilter) skips the frames that are already late.
    Qos,
    /// `Queue` with `qos=true` on the sink.
    QueueQos,
    /// `QueueQos` with `qos=false` on the element: the sink's QoS events are ignored.
    QueueQosOff,
    /// `Leaky` with `qos=true` on the sink.
    LeakyQos,
    /// `Leaky` with a display sink's defaults: `qos=true max-lateness=20ms`.
    Display,
    /// `Display` plus `processing-deadline` on the sink (`--deadline`, 500 ms by default) and a
    /// queue between the element and the sink.
    DisplayDeadline,
}

impl Preset {
    pub const ALL: [Preset; 9] = [
        Preset::None,
        Preset::Queue,
        Preset::Leaky,
        Preset::Qos,
        Preset::QueueQos,
        Preset::QueueQosOff,
        Preset::LeakyQos,
        Preset::Display,
        Preset::DisplayDeadline,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::None => "none",
            Preset::Queue => "queue",
            Preset::Leaky => "leaky",
            Preset::Qos => "qos",
            Preset::QueueQos => "queue-qos",
            Preset::QueueQosOff => "queue-qos-off",
            Preset::LeakyQos => "leaky-qos",
            Preset::Display => "display",
            Preset::DisplayDeadline => "display-deadline",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The queue before the element, if any.
    fn queue(self) -> &'static str {
        match self {
            Preset::None | Preset::Qos => "",
            Preset::Queue | Preset::QueueQos | Preset::QueueQosOff => " ! queue name=q max-size-buffers=0 max-size-bytes=0 max-size-time=0",
            _ => " ! queue name=q leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0",
        }
    }

    /// Between the element and the sink. With `processing-deadline`, the sink holds each frame
    /// until its time comes (capture + deadline); a queue lets the element go on meanwhile, else
    /// it would wait for the sink and analyse only one frame per deadline.
    fn after_element(self) -> &'static str {
        match self {
            Preset::DisplayDeadline => " ! queue max-size-buffers=3 max-size-bytes=0 max-size-time=0",
            _ => "",
        }
    }

    /// Whether the element's `qos` property is set to false (it is true by default).
    fn element_qos_off(self) -> bool {
        self == Preset::QueueQosOff
    }

    /// The appsink's properties after `sync=true`.
    fn sink_props(self, deadline: Duration) -> String {
        match self {
            Preset::None | Preset::Queue | Preset::Leaky => "qos=false max-lateness=-1".into(),
            Preset::Qos | Preset::QueueQos | Preset::QueueQosOff | Preset::LeakyQos => "qos=true max-lateness=-1".into(),
            // xvimagesink, glimagesink, waylandsink... : qos=true, max-lateness=20 ms
            Preset::Display => "qos=true max-lateness=20000000".into(),
            Preset::DisplayDeadline => format!("qos=true max-lateness=20000000 processing-deadline={}", deadline.as_nanos()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Source {
    /// A still photo made into a live stream with imagefreeze.
    Photo(std::path::PathBuf),
    /// videotestsrc pattern=ball.
    Ball,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub preset: Preset,
    pub source: Source,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// How long to run, from PLAYING.
    pub duration: Duration,
    /// emotiondetect properties (gst-launch syntax), after `detector-size=0`.
    pub props: Vec<String>,
    /// The sink's `processing-deadline` in `display-deadline`.
    pub deadline: Duration,
    /// Serve the camera with an in-process RTSP server on 127.0.0.1 (H.264) and measure the
    /// pipeline of a client that reads it with rtspsrc.
    pub rtsp: bool,
}

/// rtspsrc's `latency` (jitterbuffer, ms) with `--rtsp`.
pub const RTSP_LATENCY_MS: u32 = 100;

impl Config {
    /// The live camera: raw video at the configured size and rate, its source named `src` when
    /// `named`.
    fn camera(&self, named: bool) -> String {
        let name = if named { " name=src" } else { "" };
        match &self.source {
            Source::Photo(p) => format!(
                "filesrc location=\"{}\" ! jpegdec ! videoconvert ! videoscale ! video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1 ! \
                 imagefreeze is-live=true{name} ! video/x-raw,framerate={f}/1",
                p.display(),
                w = self.width,
                h = self.height,
                f = self.fps
            ),
            Source::Ball => format!(
                "videotestsrc is-live=true pattern=ball{name} ! video/x-raw,format=I420,width={},height={},framerate={}/1",
                self.width, self.height, self.fps
            ),
        }
    }

    /// The RTSP server's media (`--rtsp`): the camera, H.264 over RTP.
    pub fn server_launch(&self) -> String {
        format!(
            "( {} ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 config-interval=1 )",
            self.camera(false)
        )
    }

    /// The measured pipeline; with `rtsp_url`, the camera is read from that RTSP server.
    pub fn launch_line(&self, rtsp_url: Option<&str>) -> String {
        let src = match rtsp_url {
            Some(url) => format!("rtspsrc location={url} latency={RTSP_LATENCY_MS} ! decodebin ! identity name=src"),
            None => self.camera(true),
        };
        let queue = self.preset.queue();
        let qos = if self.preset.element_qos_off() { " qos=false" } else { "" };
        let props: String = self.props.iter().map(|p| format!(" {p}")).collect();
        format!(
            "{src}{queue} ! emotiondetect name=ed detector-size=0{qos}{props}{} ! appsink name=sink sync=true {} emit-signals=false",
            self.preset.after_element(),
            self.preset.sink_props(self.deadline)
        )
    }
}

/// One frame rendered at the sink.
#[derive(Clone, Copy, Debug)]
pub struct Rendered {
    /// Running time of the clock when it was rendered (seconds since PLAYING).
    pub at: f64,
    /// Its latency, seconds.
    pub latency: f64,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub launch: String,
    /// Buffers out of the live source.
    pub frames_source: u64,
    /// Buffers into emotiondetect.
    pub frames_element: u64,
    /// Buffers out of emotiondetect (fewer than in when it drops late frames on QoS).
    pub frames_analysed: u64,
    /// `emotiondetect` messages (one per analysed frame).
    pub messages: u64,
    /// Messages with at least one face.
    pub messages_with_faces: u64,
    /// Frames rendered by the sink.
    pub rendered: Vec<Rendered>,
    /// The element's processing time per frame (sink pad in -> src pad out), seconds.
    pub processing: Vec<f64>,
    /// Frames the element dropped on QoS, from its QoS messages.
    pub element_qos_dropped: u64,
    /// Frames the sink dropped as too late, from its QoS messages.
    pub sink_dropped: u64,
    /// Frames other elements dropped on QoS (a video decoder upstream), from their QoS messages.
    pub upstream_qos_dropped: u64,
    /// Buffers still waiting in the queue before the element when the run stopped.
    pub queued_at_end: u64,
    /// The pipeline latency that was configured (seconds).
    pub pipeline_latency: f64,
    /// Seconds the pipeline ran.
    pub ran: f64,
    /// Whether the camera came over RTSP (`frames_source` are then the frames the client decoded).
    pub rtsp: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(v: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.into_iter().collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

impl Report {
    pub fn latencies(&self) -> Vec<f64> {
        sorted(self.rendered.iter().map(|r| r.latency))
    }

    pub fn latency_median(&self) -> f64 {
        percentile(&self.latencies(), 0.5)
    }

    pub fn latency_p95(&self) -> f64 {
        percentile(&self.latencies(), 0.95)
    }

    pub fn latency_max(&self) -> f64 {
        self.latencies().last().copied().unwrap_or(f64::NAN)
    }

    /// The largest latency of the frames rendered at or after `from` seconds.
    pub fn latency_max_after(&self, from: f64) -> f64 {
        self.rendered.iter().filter(|r| r.at >= from).map(|r| r.latency).fold(f64::NAN, f64::max)
    }

    /// The latency of the last frame rendered before `t` seconds.
    pub fn latency_at(&self, t: f64) -> Option<f64> {
        self.rendered.iter().rev().find(|r| r.at <= t).map(|r| r.latency)
    }

    pub fn processing_median(&self) -> f64 {
        percentile(&sorted(self.processing.iter().copied()), 0.5)
    }

    pub fn processing_p95(&self) -> f64 {
        percentile(&sorted(self.processing.iter().copied()), 0.95)
    }

    /// Frames the camera took (`fps` x run time); over RTSP, the frames the client received
    /// (decoded, or dropped by the decoder on QoS).
    pub fn camera_frames(&self, fps: u32) -> u64 {
        if self.rtsp {
            self.frames_source + self.upstream_qos_dropped
        } else {
            (self.ran * fps as f64).round() as u64
        }
    }

    /// Frames dropped somewhere (skipped by the source, dropped by a queue, the element or the
    /// sink): taken but neither rendered nor still waiting in the queue at the end.
    pub fn dropped(&self, fps: u32) -> u64 {
        self.camera_frames(fps).saturating_sub(self.rendered.len() as u64 + self.queued_at_end)
    }

    pub fn print(&self, preset: Preset, fps: u32) {
        let ms = |s: f64| s * 1000.0;
        let camera = self.camera_frames(fps);
        println!("== {} ==", preset.name());
        println!("   {}", self.launch);
        println!(
            "   ran {:.1} s ({} frames at {} fps); frames: out of the source {}, into the element {}, analysed {} ({:.1} fps), rendered {} ({:.1} fps)",
            self.ran,
            camera,
            fps,
            self.frames_source,
            self.frames_element,
            self.frames_analysed,
            self.frames_analysed as f64 / self.ran,
            self.rendered.len(),
            self.rendered.len() as f64 / self.ran,
        );
        println!(
            "   not rendered: {} by the source (skipped), {} by the decoder on QoS, {} by the leaky queue, {} by the element on QoS, {} by the sink (too late), {} still queued at the end",
            camera.saturating_sub(self.frames_source + self.upstream_qos_dropped),
            self.upstream_qos_dropped,
            if self.launch.contains("leaky=") { self.frames_source.saturating_sub(self.frames_element + self.queued_at_end) } else { 0 },
            self.element_qos_dropped,
            self.sink_dropped,
            self.queued_at_end
        );
        println!(
            "   element processing per frame: median {:.0} ms, p95 {:.0} ms (frame interval {:.1} ms); messages {} ({} with faces)",
            ms(self.processing_median()),
            ms(self.processing_p95()),
            1000.0 / fps as f64,
            self.messages,
            self.messages_with_faces
        );
        println!(
            "   latency: median {:.0} ms, p95 {:.0} ms, max {:.0} ms (max after the first 2 s: {:.0} ms); pipeline latency {:.0} ms",
            ms(self.latency_median()),
            ms(self.latency_p95()),
            ms(self.latency_max()),
            ms(self.latency_max_after(2.0)),
            ms(self.pipeline_latency)
        );
        let mut line = String::from("   latency over the run (s: ms):");
        for s in 1..=self.ran.floor() as u32 {
            let v = self.latency_at(s as f64).map_or("-".to_string(), |l| format!("{:.0}", ms(l)));
            line.push_str(&format!(" {s}:{v}"));
        }
        println!("{line}");
    }
}

/// Runs `cfg` for `cfg.duration` and measures it. GStreamer must be initialised and the
/// element registered.
pub fn measure(cfg: &Config) -> Result<Report, String> {
    let server = if cfg.rtsp { Some(RtspServe::start(&cfg.server_launch())?) } else { None };
    let launch = cfg.launch_line(server.as_ref().map(|s| s.url.as_str()));
    let pipeline = gst::parse::launch(&launch).map_err(|e| format!("cannot build `{launch}`: {e}"))?;
    let pipeline = pipeline.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline".to_string())?;
    let report = Arc::new(Mutex::new(Report { launch: launch.clone(), ..Default::default() }));

    let src = pipeline.by_name("src").ok_or("no element named src")?;
    let ed = pipeline.by_name("ed").ok_or("no element named ed")?;
    let sink = pipeline.by_name("sink").ok_or("no element named sink")?;
    let sink = sink.downcast::<gst_app::AppSink>().map_err(|_| "sink is not an appsink".to_string())?;

    // frames out of the source
    let r = report.clone();
    src.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        r.lock().unwrap().frames_source += 1;
        gst::PadProbeReturn::Ok
    });
    // processing time: the element's sink pad (in) to its src pad (out), by PTS
    let entered: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let (r, e) = (report.clone(), entered.clone());
    ed.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
            let mut e = e.lock().unwrap();
            // frames dropped on QoS never come out: forget entries older than a few seconds
            if e.len() > 1000 {
                e.clear();
            }
            e.insert(pts.nseconds(), Instant::now());
        }
        r.lock().unwrap().frames_element += 1;
        gst::PadProbeReturn::Ok
    });
    let (r, e) = (report.clone(), entered.clone());
    ed.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let t = info.buffer().and_then(|b| b.pts()).and_then(|pts| e.lock().unwrap().remove(&pts.nseconds()));
        let mut r = r.lock().unwrap();
        r.frames_analysed += 1;
        if let Some(t) = t {
            r.processing.push(t.elapsed().as_secs_f64());
        }
        gst::PadProbeReturn::Ok
    });
    // latency at render time (appsink calls new_sample from render, after synchronising)
    let r = report.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let (Some(clock), Some(base)) = (sink.clock(), sink.base_time()) else { return Ok(gst::FlowSuccess::Ok) };
                let now = clock.time();
                let running = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned())
                    .zip(sample.buffer().and_then(|b| b.pts()))
                    .and_then(|(seg, pts)| seg.to_running_time(pts));
                if let Some(running) = running {
                    let latency = now.nseconds() as f64 - (base.nseconds() + running.nseconds()) as f64;
                    let at = now.saturating_sub(base).nseconds() as f64 / 1e9;
                    r.lock().unwrap().rendered.push(Rendered { at, latency: latency / 1e9 });
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );

    let bus = pipeline.bus().unwrap();
    let stop = |p: &gst::Pipeline| {
        let _ = p.set_state(gst::State::Null);
    };
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        let err = bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
            .map(|m| format!("{m:?}"))
            .unwrap_or_default();
        stop(&pipeline);
        return Err(format!("`{launch}` cannot start: {e:?} {err}"));
    }
    let start = Instant::now();
    let mut result = Ok(());
    while start.elapsed() < cfg.duration {
        let left = cfg.duration.saturating_sub(start.elapsed());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { break };
        match msg.view() {
            gst::MessageView::Error(e) => {
                result = Err(format!("`{launch}` failed: {} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Eos(_) => {
                result = Err(format!("`{launch}`: unexpected EOS"));
                break;
            }
            gst::MessageView::Qos(q) => {
                // cumulative counts: keep the last of each element
                let (_, dropped) = q.stats();
                let dropped = match dropped {
                    gst::GenericFormattedValue::Buffers(Some(n)) => *n,
                    _ => 0,
                };
                let from = |e: &gst::Element| msg.src().is_some_and(|s| s == e.upcast_ref::<gst::Object>());
                let mut r = report.lock().unwrap();
                if from(&ed) {
                    r.element_qos_dropped = r.element_qos_dropped.max(dropped);
                } else if from(sink.upcast_ref()) {
                    r.sink_dropped = r.sink_dropped.max(dropped);
                } else {
                    // one decoder upstream (over RTSP)
                    r.upstream_qos_dropped = r.upstream_qos_dropped.max(dropped);
                }
            }
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    let faces = s.get::<gst::List>("faces").map(|l| l.len()).unwrap_or(0);
                    let mut r = report.lock().unwrap();
                    r.messages += 1;
                    if faces > 0 {
                        r.messages_with_faces += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let ran = start.elapsed().as_secs_f64();
    let queued_at_end = pipeline.by_name("q").map_or(0, |q| q.property::<u32>("current-level-buffers") as u64);
    let mut query = gst::query::Latency::new();
    let pipeline_latency = if pipeline.query(&mut query) { query.result().1.nseconds() as f64 / 1e9 } else { f64::NAN };
    stop(&pipeline);
    result?;
    let mut r = report.lock().unwrap().clone();
    r.ran = ran;
    r.queued_at_end = queued_at_end;
    r.rtsp = cfg.rtsp;
    drop(server);
    r.pipeline_latency = pipeline_latency;
    Ok(r)
}

/// An RTSP server on 127.0.0.1 (a free port) in this process, run by a main loop in its own
/// thread and main context; stopped on drop.
pub struct RtspServe {
    pub url: String,
    server: gst_rtsp_server::RTSPServer,
    context: gst::glib::MainContext,
    main_loop: gst::glib::MainLoop,
    source: Option<gst::glib::SourceId>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtspServe {
    pub fn start(launch: &str) -> Result<RtspServe, String> {
        use gst_rtsp_server::prelude::*;
        let context = gst::glib::MainContext::new();
        let main_loop = gst::glib::MainLoop::new(Some(&context), false);
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(launch);
        server.mount_points().ok_or("the RTSP server has no mount points")?.add_factory("/camera", factory);
        let source = server.attach(Some(&context)).map_err(|e| format!("the RTSP server cannot listen on 127.0.0.1: {e}"))?;
        let url = format!("rtsp://127.0.0.1:{}/camera", server.bound_port());
        let ml = main_loop.clone();
        let thread = std::thread::spawn(move || ml.run());
        Ok(RtspServe { url, server, context, main_loop, source: Some(source), thread: Some(thread) })
    }
}

impl Drop for RtspServe {
    fn drop(&mut self) {
        use gst_rtsp_server::prelude::*;
        if let Some(source) = self.source.take() {
            self.server.client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
            if let Some(s) = self.context.find_source_by_id(&source) {
                s.destroy();
            }
        }
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The default photo: the shared test data beside the checkout.
pub fn default_photo() -> std::path::PathBuf {
    let shared = std::env::var_os("EMOTIONDETECT_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    shared.join("media/group-photos/1.jpg")
}

const USAGE: &str = "usage: latency [--seconds S] [--source photo|ball] [--photo FILE] [--width W] [--height H] [--fps F]
               [--deadline MS] [--rtsp] [CONFIG ...] [PROP=VALUE ...]
  CONFIG: none, queue, leaky, qos, queue-qos, queue-qos-off, leaky-qos, display, display-deadline
          (default: all)
  --deadline: the sink's processing-deadline in display-deadline (default 500 ms)
  --rtsp: serve the camera over RTSP (H.264, in-process server on 127.0.0.1) and measure a client
          `rtspsrc latency=100 ! decodebin ! [queue] ! emotiondetect ! appsink`
  PROP=VALUE: emotiondetect properties, after detector-size=0 (e.g. inference-interval=3)";

fn main() -> ExitCode {
    let mut seconds = 15.0;
    let mut deadline = 500.0;
    let mut rtsp = false;
    let mut source = None;
    let mut photo = None;
    let (mut width, mut height, mut fps) = (1920, 1080, 30);
    let mut presets = Vec::new();
    let mut props = Vec::new();
    let mut it = std::env::args().skip(1);
    let bad = |m: String| {
        eprintln!("latency: {m}\n{USAGE}");
        ExitCode::from(2)
    };
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |v: Result<String, String>| v.and_then(|v| v.parse::<f64>().map_err(|_| format!("bad number {v:?}")));
        let r: Result<(), String> = match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--seconds" => num(value("--seconds")).map(|v| seconds = v),
            "--deadline" => num(value("--deadline")).map(|v| deadline = v),
            "--source" => value("--source").map(|v| source = Some(v)),
            "--photo" => value("--photo").map(|v| photo = Some(std::path::PathBuf::from(v))),
            "--width" => num(value("--width")).map(|v| width = v as u32),
            "--height" => num(value("--height")).map(|v| height = v as u32),
            "--fps" => num(value("--fps")).map(|v| fps = v as u32),
            "--rtsp" => {
                rtsp = true;
                Ok(())
            }
            _ if a.contains('=') => {
                props.push(a.clone());
                Ok(())
            }
            _ => match Preset::parse(&a) {
                Some(p) => {
                    presets.push(p);
                    Ok(())
                }
                None => Err(format!("unknown argument {a:?}")),
            },
        };
        if let Err(e) = r {
            return bad(e);
        }
    }
    if presets.is_empty() {
        presets = Preset::ALL.to_vec();
    }
    let source = match (source.as_deref(), photo) {
        (Some("ball"), _) => Source::Ball,
        (None | Some("photo"), p) => {
            let p = p.unwrap_or_else(default_photo);
            if !p.is_file() {
                return bad(format!("{}: no such photo (give --photo FILE, or --source ball)", p.display()));
            }
            Source::Photo(p)
        }
        (Some(s), _) => return bad(format!("unknown source {s:?}")),
    };

    if let Err(e) = gst::init() {
        eprintln!("latency: cannot initialise GStreamer: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = gstemotiondetect::plugin_register_static() {
        eprintln!("latency: cannot register emotiondetect: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "live {} {width}x{height} at {fps} fps{}, emotiondetect detector-size=0 {}, appsink sync=true; {seconds} s per configuration",
        match &source {
            Source::Photo(p) => format!("photo {}", p.display()),
            Source::Ball => "videotestsrc pattern=ball".into(),
        },
        if rtsp { " served over RTSP (H.264) and read by rtspsrc latency=100" } else { "" },
        props.join(" ")
    );
    let mut summary = Vec::new();
    for preset in presets {
        let cfg = Config {
            preset,
            source: source.clone(),
            width,
            height,
            fps,
            duration: Duration::from_secs_f64(seconds),
            props: props.clone(),
            deadline: Duration::from_secs_f64(deadline / 1000.0),
            rtsp,
        };
        match measure(&cfg) {
            Ok(r) => {
                r.print(preset, fps);
                summary.push((preset, r));
            }
            Err(e) => {
                eprintln!("latency: {}: {e}", preset.name());
                return ExitCode::FAILURE;
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("| config | analysed fps | rendered fps | dropped | processing median | latency median | p95 | max | last frame |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (p, r) in &summary {
        println!(
            "| {} | {:.1} | {:.1} | {} of {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            p.name(),
            r.frames_analysed as f64 / r.ran,
            r.rendered.len() as f64 / r.ran,
            r.dropped(fps),
            r.camera_frames(fps),
            r.processing_median() * 1000.0,
            r.latency_median() * 1000.0,
            r.latency_p95() * 1000.0,
            r.latency_max() * 1000.0,
            r.rendered.last().map_or(f64::NAN, |x| x.latency * 1000.0)
        );
    }
    ExitCode::SUCCESS
}
