// SPDX-License-Identifier: MIT
//! The live sources of `--source NAME=URI`: one pipeline each, `uridecodebin ! videorate !
//! videoconvert ! emotiondetect ! videoconvert ! jpegenc ! appsink`, looped at the end of a file
//! and rebuilt after an error, the end of a live stream, or [`STALL`] without a frame (a camera
//! that goes away), after 1 s, then 2, 4, ... up to 30 s ([`Backoff`]). A rebuilt pipeline has a
//! new element: face tracks start again after the gap. When frames come back, a warning says
//! how long the camera was away and about how many frames were lost. The latest JPEG goes into a `watch`
//! channel (MJPEG clients each take the newest frame when they are ready: a slow one skips
//! frames, never holds the others) and each FrameReport into a bounded `broadcast` channel
//! (SSE clients that fall behind skip reports).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gst::prelude::*;
use tokio::sync::{broadcast, watch};

use emotiondetect_core::redact;

use crate::config::SourceArg;
use crate::engine::{self, error_text, first_error, make};

/// Reports kept for SSE clients that are momentarily behind.
const REPORT_BACKLOG: usize = 32;
/// First wait before rebuilding a source's pipeline; it doubles after each failure.
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A run that delivered frames this long starts the delays again from [`FIRST_DELAY`].
const HEALTHY: Duration = Duration::from_secs(10);
/// A live source without a frame this long is rebuilt. rtspsrc alone notices a server that
/// stops answering (no FIN, no RST) only by its RTCP timeout, about 25 s later.
const STALL: Duration = Duration::from_secs(5);
/// What a live source's first frame may take (connection, negotiation, model loading).
const FIRST_FRAME: Duration = Duration::from_secs(20);
/// rtspsrc's `tcp-timeout` in µs (default 20 s): how long a server that accepts the connection
/// but does not answer holds each attempt.
const RTSP_TCP_TIMEOUT_US: u64 = 5_000_000;
/// Frames per second a source is analysed at, at most (the CPU is shared with the other
/// clients; a camera at 30 fps does not need 30 analyses a second to be followed).
const MAX_FPS: i32 = 10;

/// One live source and what its pipeline produced last.
pub struct Source {
    pub name: String,
    /// The URI for display: without any user:password@; a file only by its name (the server's
    /// directories are nobody's business).
    pub shown_uri: String,
    jpeg: watch::Receiver<Option<Bytes>>,
    reports: broadcast::Sender<Arc<str>>,
    frames: Arc<AtomicU64>,
    latest: Arc<Mutex<Option<Arc<str>>>>,
    last_error: Arc<Mutex<Option<String>>>,
    outages: Arc<Mutex<Outages>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The outages of a source that came back, for `GET /api/sources`.
#[derive(Default)]
struct Outages {
    count: u64,
    last: Option<Outage>,
    /// `last`'s message, as shown.
    warning: Option<String>,
}

/// One gap in a source's frames: from the last frame before the failure to the first after.
#[derive(Clone, Debug, PartialEq)]
struct Outage {
    /// Seconds without frames.
    away_s: f64,
    /// The stream's frame rate (from its caps), when it has one.
    fps: Option<f64>,
    /// `away_s` times `fps`, rounded.
    frames_lost: Option<u64>,
}

impl Outage {
    fn new(away: Duration, fps: Option<f64>) -> Outage {
        let away_s = away.as_secs_f64();
        Outage { away_s, fps, frames_lost: fps.map(|f| (away_s * f).round() as u64) }
    }

    /// "camera cam came back after 6.2 s away: about 155 frames lost (25 fps)"
    fn message(&self, name: &str) -> String {
        let head = format!("camera {name} came back after {:.1} s away", self.away_s);
        match (self.frames_lost, self.fps) {
            (Some(n), Some(f)) => {
                format!("{head}: about {n} frames lost ({} fps)", format!("{f:.2}").trim_end_matches('0').trim_end_matches('.'))
            }
            _ => format!("{head} (no frame rate in the caps: frames lost not counted)"),
        }
    }
}

/// What the source thread shares with the server.
struct Outputs {
    jpeg: watch::Sender<Option<Bytes>>,
    reports: broadcast::Sender<Arc<str>>,
    frames: Arc<AtomicU64>,
    latest: Arc<Mutex<Option<Arc<str>>>>,
    last_error: Arc<Mutex<Option<String>>>,
    outages: Arc<Mutex<Outages>>,
    stop: Arc<AtomicBool>,
    /// The source's name, each report's `source_id`.
    name: String,
    /// [`Source::shown_uri`], each report's `source`.
    shown_uri: String,
}

impl Source {
    /// Starts the source's thread (which builds the pipeline; errors show in [`Self::status`]).
    pub fn start(arg: &SourceArg) -> Arc<Source> {
        let (jpeg_tx, jpeg) = watch::channel(None);
        let (reports, _) = broadcast::channel(REPORT_BACKLOG);
        let out = Outputs {
            jpeg: jpeg_tx,
            reports: reports.clone(),
            frames: Arc::default(),
            latest: Arc::default(),
            last_error: Arc::default(),
            outages: Arc::default(),
            stop: Arc::default(),
            name: arg.name.clone(),
            shown_uri: shown_uri(&arg.uri),
        };
        let source = Arc::new(Source {
            name: arg.name.clone(),
            shown_uri: shown_uri(&arg.uri),
            jpeg,
            reports,
            frames: out.frames.clone(),
            latest: out.latest.clone(),
            last_error: out.last_error.clone(),
            outages: out.outages.clone(),
            stop: out.stop.clone(),
            thread: Mutex::new(None),
        });
        let (name, uri) = (arg.name.clone(), arg.uri.clone());
        let thread = std::thread::Builder::new().name(format!("source-{name}")).spawn(move || run(&name, &uri, &out));
        match thread {
            Ok(t) => *source.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(t),
            Err(e) => *source.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("cannot start a thread: {e}")),
        }
        source
    }

    /// A receiver of the latest annotated JPEG frames.
    pub fn frames(&self) -> watch::Receiver<Option<Bytes>> {
        self.jpeg.clone()
    }

    /// A receiver of the FrameReport JSON of each analysed frame.
    pub fn reports(&self) -> broadcast::Receiver<Arc<str>> {
        self.reports.subscribe()
    }

    /// The source for `GET /api/sources`: name, URI, frames analysed, last error, the outages
    /// it came back from (`outages`: how many; `warning`: the last one's message;
    /// `last_outage`: `away_s` in seconds, `frames_lost`, `fps`, null without caps' frame
    /// rate), the latest report and the URLs of its streams.
    pub fn status(&self) -> serde_json::Value {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let latest: serde_json::Value = latest.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or(serde_json::Value::Null);
        let outages = self.outages.lock().unwrap_or_else(|p| p.into_inner());
        let last = outages.last.as_ref();
        serde_json::json!({
            "outages": outages.count,
            "warning": outages.warning,
            "last_outage": last.map(|o| serde_json::json!({"away_s": o.away_s, "frames_lost": o.frames_lost, "fps": o.fps})),
            "name": self.name,
            "uri": self.shown_uri,
            "frames": self.frames.load(Ordering::Relaxed),
            "error": *self.last_error.lock().unwrap_or_else(|p| p.into_inner()),
            "mjpeg": format!("/api/sources/{}/mjpeg", self.name),
            "events": format!("/api/sources/{}/events", self.name),
            "latest": latest,
        })
    }

    /// Stops the pipeline and waits for its thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// `rtsp://user:pw@host/x?token=t` -> `rtsp://***@host/x?token=***` (core's redaction),
/// `file:///a/b/c.avi` -> `c.avi (file)`: the page and the API never show credentials or the
/// server's paths.
fn shown_uri(uri: &str) -> String {
    match uri.strip_prefix("file://") {
        Some(path) => format!("{} (file)", path.rsplit('/').next().unwrap_or_default()),
        None => redact::uri(uri),
    }
}

/// An error or log text of source `name` as shown: its URI and, for a file, its path (as
/// given, percent-decoded, and as the OS resolves it) replaced by the source's name, then any
/// other URI redacted.
fn shown_error(name: &str, uri: &str, text: &str) -> String {
    let mut text = text.replace(uri, &format!("source {name}"));
    if let Ok(path) = gst::glib::filename_from_uri(uri).map(|(p, _)| p) {
        let canonical = path.canonicalize().ok();
        for p in [Some(path), canonical].into_iter().flatten() {
            text = text.replace(&*p.to_string_lossy(), &format!("source {name}"));
        }
    }
    redact::text(&text)
}

/// Restart delays: [`FIRST_DELAY`] doubling to [`MAX_DELAY`]; back to the first after a run
/// that delivered frames for [`HEALTHY`] or more.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: FIRST_DELAY }
    }

    /// The wait after a run whose frames spanned `delivered`.
    fn after(&mut self, delivered: Duration) -> Duration {
        if delivered >= HEALTHY {
            self.next = FIRST_DELAY;
        }
        let delay = self.next;
        self.next = (delay * 2).min(MAX_DELAY);
        delay
    }
}

/// The frames of one run of a pipeline, and the gap they end.
#[derive(Default)]
struct Frames {
    first: Option<Instant>,
    last: Option<Instant>,
    /// The last frame of an earlier run that failed: the camera has been away since then.
    away_since: Option<Instant>,
}

impl Frames {
    /// Counts a frame at `now`; the outage it ends, if it is the first after one.
    fn frame(&mut self, now: Instant, fps: Option<f64>) -> Option<Outage> {
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.away_since.take().map(|since| Outage::new(now - since, fps))
    }

    /// How long this run's frames spanned.
    fn delivered(&self) -> Duration {
        self.first.zip(self.last).map_or(Duration::ZERO, |(a, b)| b - a)
    }

    /// The next run's: away since this run's last frame (or still since the earlier one).
    fn next_run(&self) -> Frames {
        Frames { away_since: self.last.or(self.away_since), ..Frames::default() }
    }
}

/// Whether `uri` is a live source (anything but a file, which loops and never goes away).
fn is_live(uri: &str) -> bool {
    !uri.starts_with("file://")
}

/// The source thread: runs the pipeline, rebuilding it after errors, until `stop`.
fn run(name: &str, uri: &str, out: &Outputs) {
    let mut backoff = Backoff::new();
    let mut frames = Frames::default();
    while !out.stop.load(Ordering::SeqCst) {
        let result = build(uri, out).and_then(|(p, fps)| {
            let r = play(&p, out, is_live(uri), &fps, &mut frames, &|o: &Outage| came_back(name, uri, out, o));
            let _ = p.set_state(gst::State::Null);
            r
        });
        if let Err(e) = result {
            let delay = backoff.after(frames.delivered());
            let e = shown_error(name, uri, &e);
            eprintln!("emotiondetect-web: source {name}: {e}; restarting in {} s", delay.as_secs());
            *out.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if out.stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        frames = frames.next_run();
    }
}

/// Shows an outage that ended: on stderr and in the source's status.
fn came_back(name: &str, uri: &str, out: &Outputs, outage: &Outage) {
    let warning = shown_error(name, uri, &outage.message(name));
    eprintln!("emotiondetect-web: {warning}");
    let mut outages = out.outages.lock().unwrap_or_else(|p| p.into_inner());
    outages.count += 1;
    outages.last = Some(outage.clone());
    outages.warning = Some(warning);
}

/// The frame rate of the decoded stream's caps, once its pad is linked (None: not yet, or
/// the caps have none).
type FrameRate = Arc<Mutex<Option<f64>>>;

/// Frames per second of `caps`' `framerate` (None for 0/1, a variable rate, or none).
fn frame_rate(caps: &gst::CapsRef) -> Option<f64> {
    let rate = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
    (rate.numer() > 0 && rate.denom() > 0).then(|| f64::from(rate.numer()) / f64::from(rate.denom()))
}

/// The source's pipeline, with the appsink feeding `out.jpeg`, and its frame rate.
fn build(uri: &str, out: &Outputs) -> Result<(gst::Pipeline, FrameRate), String> {
    let pipeline = gst::Pipeline::new();
    let decode = gst::ElementFactory::make("uridecodebin").property("uri", uri).build().map_err(|e| e.to_string())?;
    decode.connect("source-setup", false, |args| {
        // A server that accepts but does not answer fails the attempt in 5 s, not 20.
        if let Some(src) = args[1].get::<gst::Element>().ok().filter(|s| s.find_property("tcp-timeout").is_some()) {
            src.set_property("tcp-timeout", RTSP_TCP_TIMEOUT_US);
        }
        None
    });
    let rate = gst::ElementFactory::make("videorate").property("drop-only", true).property("max-rate", MAX_FPS).build();
    let rate = rate.map_err(|_| make("videorate").err().unwrap_or_default())?;
    let element = engine::new_element(true)?;
    let jpegenc = make("jpegenc")?;
    jpegenc.set_property("quality", 80i32);
    let sink = gst_app::AppSink::builder().sync(true).max_buffers(1).drop(true).build();
    let chain = [rate, make("videoconvert")?, element, make("videoconvert")?, jpegenc, sink.clone().upcast()];
    pipeline.add(&decode).map_err(|e| e.to_string())?;
    pipeline.add_many(&chain).map_err(|e| e.to_string())?;
    gst::Element::link_many(&chain).map_err(|e| format!("cannot link the source pipeline: {e}"))?;
    let head = chain[0].static_pad("sink").ok_or("videorate has no sink pad")?;
    let weak = pipeline.downgrade();
    let fps = FrameRate::default();
    let pad_fps = fps.clone();
    decode.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps();
        let video = caps.as_ref().and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/"))).unwrap_or(false);
        if video && !head.is_linked() {
            *pad_fps.lock().unwrap_or_else(|p| p.into_inner()) = caps.as_ref().and_then(|c| frame_rate(c));
            let _ = pad.link(&head);
        } else if let (Some(p), Ok(fake)) = (weak.upgrade(), gst::ElementFactory::make("fakesink").property("sync", false).build()) {
            // Audio and further video streams are not shown.
            if p.add(&fake).is_ok() {
                let _ = fake.sync_state_with_parent();
                if let Some(sink) = fake.static_pad("sink") {
                    let _ = pad.link(&sink);
                }
            }
        }
    });
    let jpeg = out.jpeg.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    jpeg.send_replace(Some(Bytes::copy_from_slice(&map)));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok((pipeline, fps))
}

/// Plays `pipeline` until `out.stop` (Ok) or an error; loops at the end of a file. A `live`
/// source that ends or goes quiet ([`STALL`], [`FIRST_FRAME`]) is an error too. Each report is
/// counted in `frames`; the first after an outage goes to `came_back`.
fn play(
    pipeline: &gst::Pipeline,
    out: &Outputs,
    live: bool,
    fps: &FrameRate,
    frames: &mut Frames,
    came_back: &dyn Fn(&Outage),
) -> Result<(), String> {
    let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(first_error(&bus).unwrap_or_else(|| "the pipeline refused to start".into()));
    }
    let started = Instant::now();
    while !out.stop.load(Ordering::SeqCst) {
        if live {
            quiet(started, frames)?;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else { continue };
        match msg.view() {
            gst::MessageView::Element(_) => {
                if let Some(Ok(mut report)) = engine::report_of(&msg) {
                    if let Some(outage) = frames.frame(Instant::now(), *fps.lock().unwrap_or_else(|p| p.into_inner())) {
                        came_back(&outage);
                    }
                    report.source_id.clone_from(&out.name);
                    report.source.clone_from(&out.shown_uri);
                    let json: Arc<str> = report.to_json().into();
                    out.frames.fetch_add(1, Ordering::Relaxed);
                    *out.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(json.clone());
                    *out.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    let _ = out.reports.send(json); // no SSE client: nothing to do
                }
            }
            gst::MessageView::Eos(_) if live => return Err("the stream ended".into()),
            // A file: from the start again.
            gst::MessageView::Eos(_)
                if pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO).is_err() =>
            {
                return Err("the stream ended and cannot be rewound".into());
            }
            gst::MessageView::Error(e) => return Err(error_text(&msg, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Err when a live run has had no frame for [`STALL`] (or none at all for [`FIRST_FRAME`]).
fn quiet(started: Instant, frames: &Frames) -> Result<(), String> {
    match frames.last {
        Some(last) if last.elapsed() > STALL => Err(format!("no frame for {} s", STALL.as_secs())),
        None if started.elapsed() > FIRST_FRAME => Err(format!("no frame within {} s of connecting", FIRST_FRAME.as_secs())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_paths_are_never_shown() {
        assert_eq!(shown_uri("rtsp://admin:secret@10.0.0.2:554/live"), "rtsp://***@10.0.0.2:554/live");
        assert_eq!(shown_uri("rtsp://cam/a@b"), "rtsp://cam/a@b");
        assert_eq!(shown_uri("file:///v/a.avi"), "a.avi (file)");
        let e = shown_error("cam", "file:///srv/a%20b/x.mp4", "No such file \"/srv/a b/x.mp4\" (file:///srv/a%20b/x.mp4)");
        assert_eq!(e, "No such file \"source cam\" (source cam)");
        let e = shown_error("cam", "http://u:pw@h/x", "Not found (URL: http://u:pw@h/x, redirect http://u:pw@h/y)");
        assert_eq!(e, "Not found (URL: source cam, redirect http://***@h/y)");
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_after_a_healthy_run() {
        let mut b = Backoff::new();
        let waits: Vec<u64> = (0..7).map(|_| b.after(Duration::ZERO).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.after(Duration::from_secs(9)).as_secs(), 30, "a short run does not reset");
        assert_eq!(b.after(HEALTHY).as_secs(), 1, "a run with frames for 10 s resets");
        assert_eq!(b.after(Duration::ZERO).as_secs(), 2);
    }

    #[test]
    fn an_outage_says_how_long_and_how_many_frames() {
        let o = Outage::new(Duration::from_millis(6200), Some(25.0));
        assert_eq!(o.message("cam"), "camera cam came back after 6.2 s away: about 155 frames lost (25 fps)");
        let o = Outage::new(Duration::from_millis(5000), Some(24000.0 / 1001.0));
        assert_eq!(o.message("cam"), "camera cam came back after 5.0 s away: about 120 frames lost (23.98 fps)");
        assert!(Outage::new(Duration::from_secs(5), None).message("cam").ends_with("(no frame rate in the caps: frames lost not counted)"));
        let t = Instant::now();
        let mut f = Frames::default();
        assert_eq!(f.frame(t, Some(25.0)), None, "the first frame ever ends no outage");
        let mut next = f.next_run();
        assert_eq!(next.frame(t + Duration::from_secs(2), Some(25.0)).map(|o| o.frames_lost), Some(Some(50)));
        assert_eq!(next.frame(t + Duration::from_secs(3), Some(25.0)), None, "only the first frame after the gap");
        let failed_again = Frames { away_since: Some(t), ..Frames::default() }.next_run();
        assert_eq!(failed_again.away_since, Some(t), "a run without frames keeps the gap open");
    }
}
