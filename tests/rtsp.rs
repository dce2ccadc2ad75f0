// SPDX-License-Identifier: MIT
//! RTSP loopback: a gst-rtsp-server in this process serves Megamind.avi annotated by emotiondetect
//! (H.264 over RTP), and a client pipeline, as a surveillance integrator would write it, reads it
//! back with rtspsrc and runs emotiondetect again on the decoded stream:
//!
//! ```text
//! server: filesrc ! decodebin ! videorate ! emotiondetect ! videoconvert ! x264enc ! rtph264pay
//! client: rtspsrc location=rtsp://127.0.0.1:PORT/emotions latency=100 ! decodebin ! emotiondetect ! fakesink
//! ```
//!
//! Everything stays on 127.0.0.1 (the server binds a free port on the loopback address only).
//! Each test has a hard time limit enforced by a watchdog thread, sets every pipeline to NULL and
//! quits the server's main loop on every path, so it can fail but never hang.

mod camera;
mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camera::Watchdog;
use common::*;
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

const MOUNT: &str = "/emotions";

// ------------------------------------------------------------------------------------------
// Server

/// What the server's media pipelines reported.
#[derive(Default)]
struct ServerLog {
    /// `emotiondetect` messages of the server's element, from the media pipeline's bus.
    messages: Vec<FrameMsg>,
    /// Error and warning messages of the media pipeline.
    problems: Vec<String>,
    medias_configured: usize,
}

/// An RTSP server on 127.0.0.1 with its own main context, run by a main loop in a thread.
struct Server {
    port: u16,
    server: gst_rtsp_server::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    source: Option<glib::SourceId>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<ServerLog>>,
    /// One message per media that has been unprepared (its pipeline set to NULL).
    unprepared: mpsc::Receiver<()>,
}

impl Server {
    /// Serves `launch` (an RTSPMediaFactory launch line, with a `pay0`) at `MOUNT`.
    fn start(launch: &str) -> Server {
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0"); // any free port; bound_port() says which
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(launch);
        factory.set_shared(false);
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let (unprepared_tx, unprepared) = mpsc::channel();
        let unprepared_tx = Mutex::new(unprepared_tx);
        let l = log.clone();
        factory.connect_media_configure(move |_, media| {
            l.lock().unwrap().medias_configured += 1;
            // "handle-message" (GStreamer 1.22): every message of the media pipeline's bus, in
            // the server's context. Connected by name: the crate's typed binding needs v1_22.
            let l = l.clone();
            media.connect("handle-message", false, move |args| {
                let msg = args[1].get::<gst::Message>().expect("handle-message carries a GstMessage");
                match msg.view() {
                    gst::MessageView::Element(e) => {
                        if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                            l.lock().unwrap().messages.push(parse_message(s));
                        }
                    }
                    gst::MessageView::Error(e) => l.lock().unwrap().problems.push(format!("error: {} ({:?})", e.error(), e.debug())),
                    gst::MessageView::Warning(w) => l.lock().unwrap().problems.push(format!("warning: {} ({:?})", w.error(), w.debug())),
                    _ => {}
                }
                // not handled here: the media's own handler runs as usual
                Some(false.to_value())
            });
            let tx = unprepared_tx.lock().unwrap().clone();
            media.connect_unprepared(move |_| {
                let _ = tx.send(());
            });
        });
        server.mount_points().expect("the server's mount points").add_factory(MOUNT, factory);
        let source = server.attach(Some(&context)).expect("the RTSP server cannot listen on 127.0.0.1");
        let port = u16::try_from(server.bound_port()).expect("a bound port");
        assert!(port > 0, "the RTSP server has no port");
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new().name("rtsp-server".into()).spawn(move || ml.run()).expect("server thread");
        Server { port, server, context, main_loop, source: Some(source), thread: Some(thread), log, unprepared }
    }

    fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{MOUNT}", self.port)
    }

    /// Waits (up to `timeout`) for a media to be unprepared, i.e. its pipeline back to NULL.
    fn wait_unprepared(&self, timeout: Duration) -> bool {
        self.unprepared.recv_timeout(timeout).is_ok()
    }

    /// Closes the clients' connections, stops listening and quits the main loop; idempotent.
    fn stop(&mut self) {
        if let Some(source) = self.source.take() {
            // kick any client still connected (their media are unprepared with them)
            self.server.client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
            // the listening source lives in our context, not the default one: destroy it there
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

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets a pipeline to NULL when dropped (also when the test panics).
struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// The server's media: Megamind.avi annotated by emotiondetect, as H.264 over RTP.
fn megamind_launch() -> String {
    format!(
        "( filesrc location=\"{}\" ! decodebin ! videorate ! emotiondetect name=ed ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 config-interval=1 )",
        megamind().display()
    )
}

/// What the client saw.
struct ClientRun {
    messages: Vec<FrameMsg>,
    eos: bool,
    elapsed: Duration,
}

/// Runs `client` (gst-launch syntax) until EOS, `frames` emotiondetect messages, or `timeout`
/// (an error or a timeout fails the test); the pipeline is set to NULL before returning.
fn run_client(client: &str, frames: usize, timeout: Duration) -> ClientRun {
    let pipeline = gst::parse::launch(client).unwrap_or_else(|e| panic!("cannot build `{client}`: {e}"));
    let pipeline = NullOnDrop(pipeline.downcast::<gst::Pipeline>().expect("a pipeline"));
    let bus = pipeline.0.bus().unwrap();
    let start = Instant::now();
    if let Err(e) = pipeline.0.set_state(gst::State::Playing) {
        panic!("`{client}` cannot start: {e:?}: {}", first_error(&bus));
    }
    let mut messages = Vec::new();
    let mut eos = false;
    while messages.len() < frames {
        let left = timeout.saturating_sub(start.elapsed());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            panic!("`{client}`: {} emotiondetect messages within {timeout:?}, expected {frames} (or EOS)", messages.len());
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                eos = true;
                break;
            }
            gst::MessageView::Error(e) => panic!(
                "`{client}` failed after {} frames: {} from {} ({:?})",
                messages.len(),
                e.error(),
                msg.src().map(|s| s.path_string().to_string()).unwrap_or_default(),
                e.debug()
            ),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    messages.push(parse_message(s));
                }
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    // rtspsrc sends TEARDOWN on the way down; the server then unprepares the media
    let t = Instant::now();
    pipeline.0.set_state(gst::State::Null).expect("client to NULL");
    assert!(t.elapsed() < Duration::from_secs(10), "the client took {:?} to stop", t.elapsed());
    ClientRun { messages, eos, elapsed }
}

/// Checks the values of one `emotiondetect` message beyond their types (which `parse_message`
/// asserts): labels, probabilities, boxes inside a `width`x`height` frame.
fn check_message(m: &FrameMsg, width: u32, height: u32, threshold: f64) {
    assert_ne!(m.timestamp, u64::MAX, "a frame without a timestamp: {m:?}");
    assert_ne!(m.running_time, u64::MAX, "a frame without a running time: {m:?}");
    for f in &m.faces {
        assert!(FER_LABELS.contains(&f.emotion.as_str()), "unknown emotion {:?}", f.emotion);
        assert!(f.confidence >= threshold - 1e-6 && f.confidence <= 1.0 + 1e-6, "face confidence {}", f.confidence);
        assert!((0.0..=1.0 + 1e-6).contains(&f.emotion_confidence), "emotion confidence {}", f.emotion_confidence);
        for scores in [&f.scores, &f.smoothed_scores] {
            assert_eq!(scores.len(), 7, "7 emotion probabilities: {scores:?}");
            let sum: f64 = scores.iter().sum();
            assert!((sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}: {scores:?}");
        }
        let top = f.smoothed_scores.iter().cloned().fold(f64::MIN, f64::max);
        assert!(
            (top - f.emotion_confidence).abs() < 1e-6,
            "emotion-confidence {} is not the top smoothed score {top}",
            f.emotion_confidence
        );
        assert!(f.width > 0 && f.height > 0, "empty box {f:?}");
        assert!(f.x + f.width <= width + 1 && f.y + f.height <= height + 1, "box outside the {width}x{height} frame: {f:?}");
    }
}

/// The client as a surveillance integrator writes it: the annotated stream in, emotiondetect's
/// messages read on the client's bus. `protocols` picks the RTP transport.
fn client_launch(url: &str, protocols: &str) -> String {
    format!("rtspsrc location={url} latency=100 protocols={protocols} ! decodebin ! emotiondetect ! fakesink sync=false")
}

/// Serves Megamind.avi, reads it with `client_launch(.., protocols)`, and checks both sides.
fn loopback(test: &'static str, protocols: &str, frames: usize, min_frames: usize) {
    init();
    let _watchdog = Watchdog::new(test, Duration::from_secs(120));
    let mut server = Server::start(&megamind_launch());
    let client = client_launch(&server.url(), protocols);
    // Megamind.avi: 270 frames at 23.976 fps (11.3 s), served in real time
    let run = run_client(&client, frames, Duration::from_secs(60));
    let unprepared = server.wait_unprepared(Duration::from_secs(10));
    server.stop();

    let log = server.log.lock().unwrap();
    let n = run.messages.len();
    eprintln!(
        "{test}: client: {n} frames in {:.1} s ({}), {} with faces; server: {} frames analysed, {} with faces; media unprepared: {unprepared}",
        run.elapsed.as_secs_f64(),
        if run.eos { "EOS" } else { "stopped" },
        run.messages.iter().filter(|m| !m.faces.is_empty()).count(),
        log.messages.len(),
        log.messages.iter().filter(|m| !m.faces.is_empty()).count()
    );
    assert!(log.problems.iter().all(|p| !p.starts_with("error")), "the server's media pipeline failed: {:?}", log.problems);
    assert_eq!(log.medias_configured, 1, "one media for one client");
    assert!(unprepared, "the server did not unprepare the media within 10 s of the client's TEARDOWN");

    // the client: enough frames, faces in most of them (the drawn boxes and labels must not hide
    // the faces from the client's detector), every message complete and consistent
    assert!(n >= min_frames, "the client got {n} frames, expected at least {min_frames}");
    let with_faces = run.messages.iter().filter(|m| !m.faces.is_empty()).count();
    assert!(with_faces * 10 >= n * 8, "faces in only {with_faces} of {n} frames received over RTSP (expected >= 80 %)");
    for m in &run.messages {
        check_message(m, 720, 528, 0.6);
    }
    for w in run.messages.windows(2) {
        assert!(w[1].running_time > w[0].running_time, "running time does not increase: {} then {}", w[0].running_time, w[1].running_time);
    }
    // every frame of the main character's shots keeps one track id most of the time
    let ids: std::collections::HashSet<i32> = run.messages.iter().flat_map(|m| m.faces.iter().map(|f| f.id)).collect();
    assert!(ids.len() <= n / 5 + 2, "{} track ids over {n} frames: tracking does not hold over RTSP", ids.len());

    // the server side: its element ran on every frame it sent, and its messages reached the
    // media pipeline's bus
    assert!(log.messages.len() >= n, "the server analysed {} frames, fewer than the {n} the client got", log.messages.len());
    let server_faces = log.messages.iter().filter(|m| !m.faces.is_empty()).count();
    assert!(server_faces * 10 >= log.messages.len() * 9, "server: faces in only {server_faces} of {} frames", log.messages.len());
    for m in &log.messages {
        check_message(m, 720, 528, 0.6);
    }
}

/// RTP over UDP (rtspsrc's default, what IP cameras use on a LAN).
#[test]
fn rtsp_loopback_udp_client_detects_faces() {
    loopback("rtsp_loopback_udp_client_detects_faces", "udp", 120, 60);
}

/// RTP interleaved in the RTSP TCP connection (through NAT and firewalls).
#[test]
fn rtsp_loopback_tcp_client_detects_faces() {
    loopback("rtsp_loopback_tcp_client_detects_faces", "tcp", 60, 60);
}

/// A client asking for a mount that does not exist gets an error quickly, not a hang, and the
/// server stays up.
#[test]
fn rtsp_unknown_mount_fails_fast() {
    init();
    let _watchdog = Watchdog::new("rtsp_unknown_mount_fails_fast", Duration::from_secs(60));
    let mut server = Server::start(&megamind_launch());
    let url = format!("rtsp://127.0.0.1:{}/nothing-here", server.port);
    let client = format!("rtspsrc location={url} latency=100 ! decodebin ! emotiondetect ! fakesink");
    let pipeline = NullOnDrop(gst::parse::launch(&client).unwrap().downcast::<gst::Pipeline>().unwrap());
    let bus = pipeline.0.bus().unwrap();
    let start = Instant::now();
    let _ = pipeline.0.set_state(gst::State::Playing);
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Error, gst::MessageType::Eos]);
    let elapsed = start.elapsed();
    drop(pipeline);
    server.stop();
    let msg = msg.expect("no error within 20 s for a mount that does not exist");
    match msg.view() {
        gst::MessageView::Error(e) => {
            let text = format!("{} {:?}", e.error(), e.debug());
            assert!(text.contains("404") || text.to_lowercase().contains("not found"), "unexpected error: {text}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(10), "the error took {elapsed:?}");
    assert_eq!(server.log.lock().unwrap().medias_configured, 0, "no media for an unknown mount");
}

/// `rtsp-server --loop` (the example that pipelines/rtsp-serve.sh runs) serves a file for ever:
/// a 1 s clip gives a client more than three clips' worth of frames, with increasing timestamps.
#[test]
fn rtsp_server_loops_a_file() {
    let _watchdog = Watchdog::new("rtsp_server_loops_a_file", Duration::from_secs(120));
    init();
    let dir = TempDir::new("rtsp-loop");
    let clip = dir.path().join("clip.mp4");
    let made = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=25", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!"])
        .args(["x264enc", "!", "mp4mux", "!", "filesink", &format!("location={}", clip.display())])
        .status()
        .expect("gst-launch-1.0");
    assert!(made.success(), "making the 1 s clip");
    let exe = std::env::current_exe().unwrap();
    let server_exe = exe.parent().unwrap().join("../examples/rtsp-server");
    let server_exe = require_file(&server_exe, "the rtsp-server example", "cargo builds it with the tests (scripts/test.sh)");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut server = std::process::Command::new(server_exe)
        .args(["--address", "127.0.0.1", "--port", &port, "--loop"])
        .arg(&clip)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rtsp-server starts");
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("stream ready at") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "rtsp-server exited before serving");
    }
    let url = format!("rtsp://127.0.0.1:{port}/emotions");
    let client = format!("rtspsrc location={url} latency=100 ! decodebin ! videoconvert ! emotiondetect draw=false ! fakesink");
    let run = run_client(&client, 80, Duration::from_secs(40));
    let _ = server.kill();
    let _ = server.wait();
    assert!(!run.eos, "a looped file never ends");
    let pts: Vec<u64> = run.messages.iter().map(|m| m.timestamp).collect();
    println!("{} frames from a 25-frame clip", pts.len());
    assert!(pts.len() >= 80, "looped: {} frames from a 25-frame clip", pts.len());
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "timestamps increase across the loops");
}
