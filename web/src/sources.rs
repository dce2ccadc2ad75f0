// SPDX-License-Identifier: MIT
//! The live sources of `--source NAME=URI`: one pipeline each, `uridecodebin ! videorate !
//! videoconvert ! emotiondetect ! videoconvert ! jpegenc ! appsink`, looped at the end of a file
//! and restarted after an error (a camera that goes away). The latest JPEG goes into a `watch`
//! channel (MJPEG clients each take the newest frame when they are ready: a slow one skips
//! frames, never holds the others) and each FrameReport into a bounded `broadcast` channel
//! (SSE clients that fall behind skip reports).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use gst::prelude::*;
use tokio::sync::{broadcast, watch};

use emotiondetect_core::redact;

use crate::config::SourceArg;
use crate::engine::{self, error_text, first_error, make};

/// Reports kept for SSE clients that are momentarily behind.
const REPORT_BACKLOG: usize = 32;
/// Wait before restarting a source after an error.
const RESTART_DELAY: Duration = Duration::from_secs(2);
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
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the source thread shares with the server.
struct Outputs {
    jpeg: watch::Sender<Option<Bytes>>,
    reports: broadcast::Sender<Arc<str>>,
    frames: Arc<AtomicU64>,
    latest: Arc<Mutex<Option<Arc<str>>>>,
    last_error: Arc<Mutex<Option<String>>>,
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

    /// The source for `GET /api/sources`: name, URI, frames analysed, last error, the latest
    /// report and the URLs of its streams.
    pub fn status(&self) -> serde_json::Value {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let latest: serde_json::Value = latest.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
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

/// The source thread: runs the pipeline, restarting it after errors, until `stop`.
fn run(name: &str, uri: &str, out: &Outputs) {
    while !out.stop.load(Ordering::SeqCst) {
        let result = build(uri, out).and_then(|p| {
            let r = play(&p, out);
            let _ = p.set_state(gst::State::Null);
            r
        });
        if let Err(e) = result {
            let e = shown_error(name, uri, &e);
            eprintln!("emotiondetect-web: source {name}: {e}; restarting in {} s", RESTART_DELAY.as_secs());
            *out.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            for _ in 0..20 {
                if out.stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(RESTART_DELAY / 20);
            }
        }
    }
}

/// The source's pipeline, with the appsink feeding `out.jpeg`.
fn build(uri: &str, out: &Outputs) -> Result<gst::Pipeline, String> {
    let pipeline = gst::Pipeline::new();
    let decode = gst::ElementFactory::make("uridecodebin").property("uri", uri).build().map_err(|e| e.to_string())?;
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
    decode.connect_pad_added(move |_, pad| {
        let video = pad.current_caps().and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/"))).unwrap_or(false);
        if video && !head.is_linked() {
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
    Ok(pipeline)
}

/// Plays `pipeline` until `out.stop` (Ok) or an error; loops at the end of a file.
fn play(pipeline: &gst::Pipeline, out: &Outputs) -> Result<(), String> {
    let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(first_error(&bus).unwrap_or_else(|| "the pipeline refused to start".into()));
    }
    while !out.stop.load(Ordering::SeqCst) {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else { continue };
        match msg.view() {
            gst::MessageView::Element(_) => {
                if let Some(Ok(mut report)) = engine::report_of(&msg) {
                    report.source_id.clone_from(&out.name);
                    report.source.clone_from(&out.shown_uri);
                    let json: Arc<str> = report.to_json().into();
                    out.frames.fetch_add(1, Ordering::Relaxed);
                    *out.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(json.clone());
                    *out.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    let _ = out.reports.send(json); // no SSE client: nothing to do
                }
            }
            // A file: from the start again. A live source that ended: rebuild it.
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
}
