// SPDX-License-Identifier: MIT
//! Publishing to a real MQTT broker (`publish=mqtt://...`): Debian's mosquitto, started here on
//! 127.0.0.1 at a free port (scripts/test.sh installs it). Every frame arrives, in order, as a
//! `FrameReport`; a broker restart mid-stream never stalls the video and what went missing is
//! exactly what the element counts as dropped; four processes publish to one broker; a bad URI
//! fails NULL->READY and an unreachable broker is only a warning.

mod camera;
mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camera::{as_from_a_terminal, ctrl_c, exited, signal_pid, wait_until, Camera, KillOnDrop, Lines, Watchdog};
use common::*;
use emotiondetect_core::frame_report::FrameReport;
use gst::prelude::*;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const MEGAMIND_FRAMES: usize = 270;

fn mosquitto() -> PathBuf {
    require_file(
        Path::new("/usr/sbin/mosquitto"),
        "the mosquitto broker",
        "apt-get install mosquitto mosquitto-clients (scripts/test.sh installs them on first use)",
    )
}

/// Started as root (CI), mosquitto would switch to the `mosquitto` user, which cannot read the
/// test's files; as another user the setting is ignored.
const KEEP_USER: &str = "user root\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A mosquitto on 127.0.0.1:`port`, persisting sessions in `dir` (so a restart keeps the
/// subscriber's session and the messages queued for it).
struct Broker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    fn start(port: u16, dir: &Path) -> Broker {
        let conf = dir.join("mosquitto.conf");
        let text = format!(
            "{KEEP_USER}listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
            dir.display()
        );
        std::fs::write(&conf, text).unwrap();
        let child =
            Command::new(mosquitto()).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("mosquitto starts");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "mosquitto does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child: Some(child), port, dir: dir.to_path_buf() }
    }

    /// SIGTERM, as a service manager stops it (mosquitto saves its sessions then).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        *self = Broker::start(self.port, &self.dir.clone());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A subscriber with a persistent session (QoS 1) collecting every payload.
struct Subscriber {
    received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Subscriber {
    fn start(port: u16, topic: &str) -> Subscriber {
        let mut opts = MqttOptions::new(format!("test-sub-{}-{port}", std::process::id()), "127.0.0.1", port);
        opts.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_max_packet_size(16 << 20, 16 << 20);
        let (client, mut connection) = Client::new(opts, 64);
        let (received, stop, subscribed) =
            (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (r, s, sub, topic) = (received.clone(), stop.clone(), subscribed.clone(), topic.to_string());
        std::thread::spawn(move || {
            for event in connection.iter() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => client.subscribe(&topic, QoS::AtLeastOnce).unwrap(),
                    Ok(Event::Incoming(Packet::SubAck(_))) => sub.store(true, Ordering::Release),
                    Ok(Event::Incoming(Packet::Publish(p))) => r.lock().unwrap().push(String::from_utf8(p.payload.to_vec()).unwrap()),
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let start = Instant::now();
        while !subscribed.load(Ordering::Acquire) {
            assert!(start.elapsed() < Duration::from_secs(10), "the subscriber did not subscribe");
            std::thread::sleep(Duration::from_millis(20));
        }
        Subscriber { received, stop }
    }

    /// The payloads, once `n` have arrived or nothing more came for 2 s (at most `timeout`).
    fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let (start, mut last, mut count) = (Instant::now(), Instant::now(), 0);
        loop {
            let now = self.received.lock().unwrap().len();
            if now != count {
                (count, last) = (now, Instant::now());
            }
            if count >= n || last.elapsed() > Duration::from_secs(2) || start.elapsed() > timeout {
                return self.received.lock().unwrap().clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn reports(payloads: &[String]) -> Vec<FrameReport> {
    payloads.iter().map(|p| FrameReport::from_json(p).unwrap_or_else(|e| panic!("not a FrameReport: {e}: {p}"))).collect()
}

/// [`run_publishing`] without `delivered`.
fn run(props: &str, sync: bool, during: impl FnMut(Duration)) -> (Vec<Instant>, Vec<String>, u64) {
    let r = run_publishing(props, sync, during);
    (r.arrivals, r.warnings, r.dropped)
}

#[test]
fn every_frame_reaches_the_broker_in_order_as_a_frame_report() {
    let dir = TempDir::new("mqtt-all");
    let broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/megamind");
    let props = format!("uri=mqtt://127.0.0.1:{}/cams/megamind source-id=megamind", broker.port);
    let (arrivals, warnings, dropped) = run(&props, false, |_| {});
    assert_eq!((arrivals.len(), dropped), (MEGAMIND_FRAMES, 0));
    assert!(warnings.is_empty(), "{warnings:?}");
    let got = reports(&sub.wait_for(MEGAMIND_FRAMES, Duration::from_secs(30)));
    assert_eq!(got.len(), MEGAMIND_FRAMES, "one message per frame");
    let times: Vec<u64> = got.iter().map(|r| r.timestamp.expect("a PTS")).collect();
    let bad: Vec<_> = times.windows(2).enumerate().filter(|(_, w)| w[0] >= w[1]).map(|(i, w)| (i, w[0], w[1])).take(5).collect();
    assert!(bad.is_empty(), "in order: {bad:?}");
    let now = std::time::SystemTime::now();
    for r in &got {
        assert_eq!(r.source_id, "megamind");
        let utc = humantime::parse_rfc3339(r.timestamp_utc.as_deref().expect("timestamp_utc")).expect("RFC 3339");
        let age = now.duration_since(utc).unwrap_or_default();
        assert!(age < Duration::from_secs(120), "wall-clock time of the frame: {:?}", r.timestamp_utc);
    }
    let faces: usize = got.iter().map(|r| r.objects.len()).sum();
    assert!(faces > 200, "faces {faces}");
}

#[test]
fn a_broker_restart_never_stalls_the_video_and_drops_are_counted() {
    let dir = TempDir::new("mqtt-restart");
    let mut broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/restart");
    // Real time (11 s): the broker is stopped at 3 s and back at 5.5 s; the queue holds 1 s.
    let props = format!("uri=mqtt://127.0.0.1:{}/cams/restart queue-size=24", broker.port);
    let (mut stopped, mut restarted) = (false, false);
    let (arrivals, warnings, dropped) = run(&props, true, |t| {
        if !stopped && t > Duration::from_secs(3) {
            broker.stop();
            stopped = true;
        }
        if stopped && !restarted && t > Duration::from_millis(5500) {
            broker.restart();
            restarted = true;
        }
    });
    assert!(restarted, "the broker was restarted mid-stream");
    assert_eq!(arrivals.len(), MEGAMIND_FRAMES);
    let gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    println!("largest gap between frames at the sink: {gap:?}; dropped {dropped}; warnings {warnings:?}");
    assert!(gap < Duration::from_millis(500), "the pipeline stalled for {gap:?}");
    let got = reports(&sub.wait_for(MEGAMIND_FRAMES, Duration::from_secs(30)));
    let mut times: Vec<u64> = got.iter().map(|r| r.timestamp.unwrap()).collect();
    times.sort_unstable();
    times.dedup();
    println!("received {} messages, {} distinct frames", got.len(), times.len());
    assert!(dropped > 0, "a 2.5 s outage with a 1 s queue drops messages");
    assert_eq!(times.len() as u64 + dropped, MEGAMIND_FRAMES as u64, "what went missing is what was counted as dropped");
    assert!(*times.last().unwrap() > 10_000_000_000, "messages resumed after the restart");
    assert!(warnings.iter().any(|w| w.contains("was away for") && w.contains(&format!("{dropped} messages dropped"))), "{warnings:?}");
}

#[test]
fn four_processes_publish_to_one_broker() {
    let dir = TempDir::new("mqtt-four");
    let broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/+");
    let gst = ChildGst::new();
    let children: Vec<Child> = (0..4)
        .map(|i| {
            let location = format!("location={}", megamind().display());
            let uri = format!("uri=mqtt://127.0.0.1:{}/cams/cam{i}", broker.port);
            let mut cmd = Command::new("gst-launch-1.0");
            cmd.args(["-q", "filesrc", &location, "!", "decodebin", "!", "videorate", "!", "emotiondetect", "draw=false"]).args([
                "post-messages=false",
                "!",
                "emotionpublish",
                &uri,
                &format!("source-id=cam{i}"),
                "!",
                "fakesink",
            ]);
            gst.apply(&mut cmd, i).stdout(Stdio::null()).spawn().expect("gst-launch-1.0 (apt package gstreamer1.0-tools)")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a publishing process failed");
    }
    let got = reports(&sub.wait_for(4 * MEGAMIND_FRAMES, Duration::from_secs(30)));
    for i in 0..4 {
        let mine: Vec<u64> = got.iter().filter(|r| r.source_id == format!("cam{i}")).map(|r| r.timestamp.unwrap()).collect();
        assert_eq!(mine.len(), MEGAMIND_FRAMES, "cam{i}: every frame");
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "cam{i}: in order");
    }
    assert_eq!(got.len(), 4 * MEGAMIND_FRAMES);
}

#[test]
fn a_bad_uri_fails_at_ready_and_an_unreachable_broker_is_a_warning() {
    init();
    for (uri, why) in [("http://127.0.0.1/t", "scheme 'http'"), ("mqtt://127.0.0.1:1883", "no /TOPIC"), ("mqtt://h:70000/t", "port")] {
        let err = ready_error(&publisher(&[("uri", uri)]));
        assert!(err.matches(gst::LibraryError::Settings), "{uri}: {err}");
        assert!(err.message().contains(&format!("uri '{uri}'")) && err.message().contains(why), "{uri}: {}", err.message());
    }
    // Nothing listens there: the video runs to EOS, with a warning, and no long wait at EOS.
    let start = Instant::now();
    let (arrivals, warnings, dropped) = run(&format!("uri=mqtt://127.0.0.1:{}/t queue-size=10", free_port()), false, |_| {});
    assert_eq!(arrivals.len(), MEGAMIND_FRAMES);
    assert!(warnings.iter().any(|w| w.contains("unreachable")), "{warnings:?}");
    assert_eq!(dropped, MEGAMIND_FRAMES as u64, "all dropped: the newest 10 still queued at EOS count too");
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
}

/// `mqtts://` to a mosquitto TLS listener with a certificate made here (openssl), whose CA is
/// trusted through `EMOTIONDETECT_MQTT_CA_FILE`; the subscriber reads the same broker's plain listener.
#[test]
fn mqtts_publishes_over_tls() {
    let dir = TempDir::new("mqtt-tls");
    let d = dir.path();
    // A test CA, and a server certificate for localhost signed by it.
    std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=emotiondetect-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr"],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "cert.pem",
        ],
    ];
    for args in steps {
        let ok =
            Command::new("openssl").args(args).current_dir(d).stderr(Stdio::null()).status().expect("openssl (Debian's openssl package)");
        assert!(ok.success(), "openssl {args:?}");
    }
    let (plain, tls) = (free_port(), free_port());
    let conf = d.join("mosquitto.conf");
    let text = format!(
        "{KEEP_USER}per_listener_settings false\nallow_anonymous true\nlistener {plain} 127.0.0.1\nlistener {tls} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
        d.join("cert.pem").display(),
        d.join("key.pem").display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(mosquitto()).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let _broker = Broker { child: Some(child), port: plain, dir: d.to_path_buf() };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", tls)).is_err() || TcpStream::connect(("127.0.0.1", plain)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "mosquitto does not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sub = Subscriber::start(plain, "cams/tls");
    // The variable is read when the element starts (NULL->READY), in this process only.
    std::env::set_var(emotiondetect_core::publish::CA_FILE_ENV, d.join("ca.pem"));
    let (arrivals, warnings, dropped) = run(&format!("uri=mqtts://localhost:{tls}/cams/tls"), false, |_| {});
    std::env::remove_var(emotiondetect_core::publish::CA_FILE_ENV);
    assert_eq!((arrivals.len(), dropped), (MEGAMIND_FRAMES, 0), "{warnings:?}");
    assert_eq!(reports(&sub.wait_for(MEGAMIND_FRAMES, Duration::from_secs(30))).len(), MEGAMIND_FRAMES, "every frame over TLS");
}

/// A broker that accepts TCP connections and never answers (no CONNACK): the video runs at
/// its own pace, `dropped` answers at once while EOS waits, and NULL comes within
/// `flush-timeout` + 1 s.
#[test]
fn a_silent_broker_never_stalls_the_video_nor_the_application() {
    init();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    // Accepts and keeps every connection open, reading nothing.
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            h.lock().unwrap().push(c);
        }
    });
    let flush_timeout = Duration::from_millis(2000);
    let desc = format!(
        "filesrc location={} ! decodebin ! videorate ! emotiondetect ! emotionpublish name=ep uri=mqtt://127.0.0.1:{port}/t \
         queue-size=10 flush-timeout={} ! fakesink name=sink sync=false",
        megamind().display(),
        flush_timeout.as_millis()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let arrivals = record_arrivals(&pipeline, "sink");
    // Another thread reads `dropped` all along, timing each read; EOS is while it reads.
    let ep = pipeline.by_name("ep").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (s, e) = (stop.clone(), ep.clone());
    let reader = std::thread::spawn(move || {
        let mut slowest = Duration::ZERO;
        let mut reads = 0u64;
        while !s.load(Ordering::Relaxed) {
            let t = Instant::now();
            let _: u64 = e.property("dropped");
            slowest = slowest.max(t.elapsed());
            reads += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        (slowest, reads)
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(120), "no EOS");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            _ => {}
        }
    }
    let to_null = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    let to_null = to_null.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (slowest, reads) = reader.join().unwrap();
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    let gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    let dropped: u64 = ep.property("dropped");
    println!(
        "{} frames, largest gap {gap:?}; {reads} reads of dropped, slowest {slowest:?}; to NULL {to_null:?}; dropped {dropped}; {} connections",
        arrivals.len(),
        held.lock().unwrap().len()
    );
    assert_eq!(arrivals.len(), MEGAMIND_FRAMES);
    assert!(!held.lock().unwrap().is_empty(), "the client connected");
    assert!(gap < Duration::from_millis(100), "the video waited {gap:?} for the broker");
    assert!(reads > 10 && slowest < Duration::from_millis(50), "reading dropped took {slowest:?}");
    assert!(to_null < flush_timeout + Duration::from_secs(1), "NULL took {to_null:?}");
    assert_eq!(dropped, MEGAMIND_FRAMES as u64, "all dropped: the newest 10 still queued at EOS count too");
}

// ---------------------------------------------------------------------------------------------
// `dropped` counts every message not delivered: the figure of the EOS warning, read after EOS
// and after NULL, until the next NULL->READY.

/// What one run says about the messages it did not deliver.
#[derive(Debug)]
struct Losses {
    /// Buffers that reached the sink, each with a report to publish.
    sent: u64,
    /// The figure that the "N messages not delivered" warning starts with (0 without one).
    warned: u64,
    at_eos: u64,
    after_null: u64,
    /// Read at READY after NULL (a new run).
    after_ready: u64,
    /// `delivered` at EOS: acknowledged by the broker (QoS 1).
    delivered: u64,
}

/// `filesrc Megamind.avi ! ... ! emotiondetect ! emotionpublish name=ep PROPS ! fakesink
/// name=sink sync=false`, and the count of buffers reaching `counted_at`'s sink pad.
fn publishing_pipeline(props: &str, counted_at: &str) -> (gst::Pipeline, Arc<std::sync::atomic::AtomicU64>) {
    init();
    let desc = format!(
        "filesrc location={} ! decodebin ! videorate ! emotiondetect ! emotionpublish name=ep {props} ! fakesink name=sink sync=false",
        megamind().display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = sent.clone();
    pipeline.by_name(counted_at).unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        s.fetch_add(1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
    (pipeline, sent)
}

/// Runs Megamind.avi through `emotiondetect ! emotionpublish name=ep PROPS` (sync=false) to EOS,
/// then to NULL, then to READY and NULL again; `during(frames so far)` is called from the bus loop.
fn run_losses(props: &str, mut during: impl FnMut(u64)) -> Losses {
    let (pipeline, sent) = publishing_pipeline(props, "sink");
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| panic!("emotionpublish {props} cannot start: {e:?}: {}", first_error(&bus)));
    let (start, mut warned) = (Instant::now(), Vec::new());
    loop {
        assert!(start.elapsed() < Duration::from_secs(180), "no EOS");
        during(sent.load(Ordering::Relaxed));
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Warning(w) if w.error().message().contains("not delivered") => warned.push(w.error().message().to_string()),
            _ => {}
        }
    }
    assert!(warned.len() <= 1, "one warning at EOS: {warned:?}");
    let warned = warned.first().map_or(0, |w| {
        w.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("the warning starts with its figure: {w}"))
    });
    let ep = pipeline.by_name("ep").unwrap();
    let at_eos: u64 = ep.property("dropped");
    let delivered: u64 = ep.property("delivered");
    pipeline.set_state(gst::State::Null).unwrap();
    let after_null: u64 = ep.property("dropped");
    pipeline.set_state(gst::State::Ready).unwrap();
    let after_ready: u64 = ep.property("dropped");
    pipeline.set_state(gst::State::Null).unwrap();
    Losses { sent: sent.load(Ordering::Relaxed), warned, at_eos, after_null, after_ready, delivered }
}

/// The same count everywhere, reset by the next NULL->READY.
fn assert_one_figure(l: &Losses, what: &str) {
    assert_eq!(l.sent, MEGAMIND_FRAMES as u64, "{what}: every frame passed");
    assert_eq!(l.warned, l.at_eos, "{what}: the EOS warning's figure is `dropped` at EOS: {l:?}");
    assert_eq!(l.at_eos, l.after_null, "{what}: `dropped` after NULL is the figure at EOS: {l:?}");
    assert_eq!(l.after_ready, 0, "{what}: a new NULL->READY starts from 0: {l:?}");
}

/// A broker that accepts the connection and never answers: nothing is delivered, so every
/// message, dropped from the full queue or still queued at EOS, counts.
/// A TCP listener on 127.0.0.1 that accepts and keeps every connection, answering nothing.
/// Returns its port and the connections.
fn silent_broker() -> (u16, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            h.lock().unwrap().push(c);
        }
    });
    (port, held)
}

#[test]
fn dropped_counts_every_message_a_silent_broker_never_got() {
    let (port, held) = silent_broker();
    for queue in [150, 1] {
        let l = run_losses(&format!("uri=mqtt://127.0.0.1:{port}/t queue-size={queue} flush-timeout=500"), |_| {});
        println!("silent broker, queue-size={queue}: {l:?}");
        assert_one_figure(&l, &format!("queue-size={queue}"));
        assert_eq!(l.at_eos, l.sent, "queue-size={queue}: nothing was delivered, everything counts");
    }
    assert!(!held.lock().unwrap().is_empty(), "the client connected");
}

/// A real broker stopped after 100 frames and started again after NULL (its persisted session
/// then gives the subscriber what the broker had acknowledged): delivered + dropped = sent, and
/// the subscriber gets every acknowledged message. It may get a few more: a message the broker
/// stored as it stopped, whose acknowledgement never came back, is counted as dropped (not
/// confirmed), as docs/surveillance.md says.
#[test]
fn delivered_plus_dropped_is_every_frame_when_the_broker_goes_away() {
    for queue in [150, 1] {
        let dir = TempDir::new(&format!("mqtt-dropped-{queue}"));
        let mut broker = Broker::start(free_port(), dir.path());
        let sub = Subscriber::start(broker.port, "cams/dropped");
        let mut stopped = false;
        let l = run_losses(&format!("uri=mqtt://127.0.0.1:{}/cams/dropped queue-size={queue} flush-timeout=500", broker.port), |n| {
            if !stopped && n >= 100 {
                broker.stop();
                stopped = true;
            }
        });
        assert!(stopped, "the broker was stopped mid-stream");
        broker.restart();
        let mut times: Vec<u64> =
            reports(&sub.wait_for(MEGAMIND_FRAMES, Duration::from_secs(30))).iter().map(|r| r.timestamp.unwrap()).collect();
        times.sort_unstable();
        times.dedup();
        println!("broker stopped at frame 100, queue-size={queue}: {l:?}; {} frames delivered", times.len());
        assert_one_figure(&l, &format!("queue-size={queue}"));
        assert!(l.at_eos > 0 && !times.is_empty(), "queue-size={queue}: some delivered, some not: {l:?}");
        assert_eq!(l.delivered + l.at_eos, l.sent, "queue-size={queue}: delivered + dropped = sent: {l:?}");
        let received = times.len() as u64;
        assert!(received >= l.delivered, "queue-size={queue}: every acknowledged message reached the subscriber: {l:?}");
        assert!(received <= l.delivered + 5, "queue-size={queue}: at most the unacknowledged few more: {received}, {l:?}");
    }
}

/// Stopped without EOS (NULL after 100 frames): what was still queued counts after NULL.
#[test]
fn dropped_after_null_counts_the_queue_a_stop_without_eos_discarded() {
    let (port, _held) = silent_broker();
    let (pipeline, sent) = publishing_pipeline(&format!("uri=mqtt://127.0.0.1:{port}/t"), "ep");
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    while sent.load(Ordering::Relaxed) < 100 {
        assert!(start.elapsed() < Duration::from_secs(60), "100 frames did not pass");
        std::thread::sleep(Duration::from_millis(10));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let ep = pipeline.by_name("ep").unwrap();
    let (sent, dropped): (u64, u64) = (sent.load(Ordering::Relaxed), ep.property("dropped"));
    println!("stopped after {sent} frames: dropped {dropped}");
    assert!(sent < MEGAMIND_FRAMES as u64, "stopped before EOS ({sent} frames)");
    assert_eq!(dropped, sent, "nothing was delivered: the 150 still queued count too");
}

// ---------------------------------------------------------------------------------------------
// pipelines/cameras.sh: the integrator's script shows the element's warnings, names the
// broker (without its password) and says by its exit status whether every message arrived.

/// Runs `pipelines/cameras.sh BROKER cam=file://Megamind.avi` with `env`; its exit status
/// and stderr.
fn mqtt_cameras(broker: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let gst = ChildGst::new();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_dir().join("pipelines/cameras.sh")).arg(broker).arg(format!("cam=file://{}", megamind().display()));
    cmd.env("HOST", "box1").envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = gst.apply(&mut cmd, 0).output().expect("bash pipelines/cameras.sh");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{stderr}");
    (out.status.code(), stderr)
}

#[test]
fn mqtt_cameras_sh_says_when_messages_were_not_delivered() {
    let port = free_port();
    let (status, stderr) = mqtt_cameras(&format!("mqtt://user:s3cret@127.0.0.1:{port}/cams"), &[("QUEUE", "10")]);
    assert_eq!(status, Some(3), "an unreachable broker: exit status 3\n{stderr}");
    assert!(stderr.contains(&format!("publishing to mqtt://***@127.0.0.1:{port}/cams/box1/NAME")), "the broker named: {stderr}");
    assert!(!stderr.contains("s3cret"), "the password shown: {stderr}");
    assert!(stderr.contains("unreachable"), "the element's warning shown: {stderr}");
    assert!(stderr.contains(&format!("{MEGAMIND_FRAMES} messages not delivered to mqtt://***@127.0.0.1:{port}/cams")), "{stderr}");

    let dir = TempDir::new("mqtt-cameras");
    let broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/box1/cam");
    let (status, stderr) = mqtt_cameras(&format!("mqtt://127.0.0.1:{}/cams", broker.port), &[]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("every message delivered"), "{stderr}");
    assert_eq!(reports(&sub.wait_for(MEGAMIND_FRAMES, Duration::from_secs(30))).len(), MEGAMIND_FRAMES);
}

/// `cameras.sh` on a live camera (the `rtsp-server` example looping Megamind.avi), publishing
/// to its own mosquitto as host `box1`, started as from a terminal; its stderr collected. Fields
/// drop in order: the script first, the broker and its directory last.
struct LiveCameras {
    script: KillOnDrop,
    log: Lines,
    cam: Camera,
    _gst: ChildGst,
    sub: Subscriber,
    broker: Broker,
    _dir: TempDir,
    _watchdog: Watchdog,
}

impl LiveCameras {
    /// Starts it all and waits (up to 60 s) until 24 of its messages have arrived.
    fn start(test: &'static str) -> LiveCameras {
        let watchdog = Watchdog::new(test, Duration::from_secs(150));
        let dir = TempDir::new(test);
        let broker = Broker::start(free_port(), dir.path());
        let sub = Subscriber::start(broker.port, "cams/box1/door");
        let (cam, gst) = (Camera::start(free_port(), &megamind()), ChildGst::new());
        let mut cmd = Command::new("bash");
        cmd.arg(repo_dir().join("pipelines/cameras.sh"));
        cmd.arg(format!("mqtt://127.0.0.1:{}/cams", broker.port)).arg(format!("door={}", cam.url()));
        cmd.env("HOST", "box1").stdout(Stdio::null()).stderr(Stdio::piped());
        as_from_a_terminal(&mut cmd);
        let mut child = gst.apply(&mut cmd, 0).spawn().expect("bash pipelines/cameras.sh");
        let log = Lines::collect(child.stderr.take().expect("stderr"), "cameras.sh");
        let live = LiveCameras { script: KillOnDrop(child), log, cam, _gst: gst, sub, broker, _dir: dir, _watchdog: watchdog };
        let publishing = wait_until(Duration::from_secs(60), || (live.sub.received.lock().unwrap().len() >= 24).then_some(()));
        assert!(publishing.is_some(), "no 24 messages from the camera within 60 s:\n{}", live.log.text());
        live
    }

    /// The exit status (within 20 s) and everything the script wrote on stderr.
    fn exit(&mut self) -> (Option<i32>, String) {
        let status = exited(&mut self.script.0, Duration::from_secs(20));
        let log = self.log.all_text();
        (status.unwrap_or_else(|| panic!("cameras.sh still running 20 s after Ctrl-C:\n{log}")).code(), log)
    }
}

/// Ctrl-C reaches every process of the script's pipeline, and its `tee` and `grep` must outlive
/// it: what the EOS could not deliver to a hung broker is shown and counted, and the exit status
/// says so (before, they died with the Ctrl-C and the script said "every message delivered").
#[test]
fn ctrl_c_on_cameras_sh_with_a_hung_broker_counts_what_was_not_delivered() {
    let mut live = LiveCameras::start("cameras-hung-broker");
    let broker_pid = live.broker.child.as_ref().expect("running").id();
    signal_pid(broker_pid, "STOP");
    std::thread::sleep(Duration::from_secs(1));
    ctrl_c(&live.script.0);
    let (status, log) = live.exit();
    signal_pid(broker_pid, "CONT");
    let target = format!("mqtt://127.0.0.1:{}/cams", live.broker.port);
    // "WARNING: from element …emotionpublish0: N messages not delivered to …"
    let warned = log.lines().filter(|l| l.starts_with("WARNING")).find_map(|l| l.split_once(" messages not delivered to "));
    let lost: u64 =
        warned.and_then(|(head, _)| head.rsplit(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("the EOS's warning shown:\n{log}"));
    assert!(lost > 0, "{log}");
    assert!(log.contains(&format!("cameras.sh: {lost} messages not delivered to {target}")), "the warning's count at the end:\n{log}");
    assert_eq!(status, Some(3), "{log}");
}

/// Ctrl-C with the rtsp:// camera killed a moment later: rtspsrc may then fail its PAUSE and
/// TEARDOWN while the pipeline stops after a complete EOS, and gst-launch-1.0 exits 1. The script
/// exits 0 exactly when the EOS went through, and says why when errors followed it.
#[test]
fn ctrl_c_on_cameras_sh_as_the_camera_dies_exits_0_when_the_eos_went_through() {
    let mut live = LiveCameras::start("cameras-camera-dies");
    ctrl_c(&live.script.0);
    live.cam.kill();
    let (status, log) = live.exit();
    let eos = log.contains("EOS received");
    assert_eq!(status == Some(0), eos, "status {status:?}: 0 exactly when the EOS went through:\n{log}");
    if eos {
        assert!(log.contains("every message delivered"), "{log}");
        if log.contains("ERROR: from element") {
            assert!(log.contains("cameras.sh: stopped: the EOS went through; errors while the pipeline stopped"), "{log}");
        }
    }
}

/// `mode=events` on Megamind.avi, beside `location=` JSON lines of every frame: per person (a
/// track seen >= 0.5 s that the detector was on average >= 0.8 sure of) exactly one `new` and one
/// `end`, updates only on a change of dominant emotion (the 10 s interval never comes in 11 s),
/// each `end` agreeing with the frames, a decodable JPEG thumbnail, at least 20x fewer messages
/// than frames, and the availability topic `online` before the events, `offline` after them.
#[test]
fn events_mode_sends_each_person_once_new_once_end_and_20x_fewer_messages() {
    use base64::Engine as _;
    use emotiondetect_core::events::{Event as TrackEvent, EventType};
    let dir = TempDir::new("mqtt-events");
    let broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/megamind/#");
    // The consumer example reads the events with the typed reader and prints each person's end.
    let consumer_out = dir.path().join("consumer.txt");
    let exe = std::env::current_exe().unwrap();
    let consumer = require_file(&exe.parent().unwrap().join("../examples/mqtt-consumer"), "the consumer example", "cargo test builds it");
    let mut consumer = Command::new(consumer)
        .arg(format!("mqtt://127.0.0.1:{}/cams", broker.port))
        .stdout(std::fs::File::create(&consumer_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let jsonl = dir.path().join("frames.jsonl");
    let props = format!(
        "location={} ! emotionpublish mode=events event-thumbnails=true uri=mqtt://127.0.0.1:{}/cams/megamind source-id=megamind",
        jsonl.display(),
        broker.port
    );
    let (arrivals, warnings, _) = run(&props, false, |_| {});
    assert_eq!(arrivals.len(), MEGAMIND_FRAMES);
    assert!(warnings.is_empty(), "{warnings:?}");
    let got = sub.wait_for(usize::MAX, Duration::from_secs(20));
    let available: Vec<&str> = got.iter().map(String::as_str).filter(|p| !p.starts_with('{')).collect();
    assert_eq!(available, ["online", "offline"], "availability: {got:?}");
    assert!(got.first().unwrap() == "online" && got.last().unwrap() == "offline", "around the events: {got:?}");
    let events: Vec<TrackEvent> =
        got[1..got.len() - 1].iter().map(|p| TrackEvent::from_json(p).unwrap_or_else(|e| panic!("{e}: {p} in {got:?}"))).collect();
    assert!(events.len() * 20 <= MEGAMIND_FRAMES, "{} events for {MEGAMIND_FRAMES} frames", events.len());

    // What the frames say of each track: its frames, first timestamp, mean confidence, length.
    let frames = reports(&std::fs::read_to_string(&jsonl).unwrap().lines().map(String::from).collect::<Vec<_>>());
    let mut tracks: std::collections::BTreeMap<u64, (u64, u64, f64, u64)> = Default::default();
    for f in &frames {
        for o in &f.objects {
            let t = tracks.entry(o.id).or_insert((0, f.timestamp.unwrap(), 0.0, 0));
            (t.0, t.2, t.3) = (t.0 + 1, t.2 + f64::from(o.detection.confidence), f.timestamp.unwrap() - t.1);
        }
    }
    let people: Vec<u64> = tracks.iter().filter(|(_, t)| t.3 >= 500_000_000 && t.2 / t.0 as f64 >= 0.8).map(|(id, _)| *id).collect();
    assert!(people.len() < tracks.len(), "the doubtful background track is in the frames but not a person");
    for id in &people {
        let mine: Vec<&TrackEvent> = events.iter().filter(|e| e.track_id == *id).collect();
        let kinds: Vec<EventType> = mine.iter().map(|e| e.kind).collect();
        assert_eq!((kinds.first(), kinds.last()), (Some(&EventType::New), Some(&EventType::End)), "track {id}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k != EventType::Update).count(), 2, "track {id}: {kinds:?}");
        for u in mine.iter().filter(|e| e.kind == EventType::Update) {
            assert_ne!(u.before.dominant_emotion, u.after.dominant_emotion, "an update without a change: {u:?}");
        }
        let end = mine.last().unwrap();
        let (n, first, _, _) = tracks[id];
        assert_eq!((end.after.frames, end.after.start_timestamp), (n, Some(first)), "track {id}'s end agrees with the frames");
        assert!(end.source_id == "megamind" && end.after.end_time.is_some() && end.timestamp_utc.is_some());
        let jpeg = base64::engine::general_purpose::STANDARD.decode(end.after.thumbnail.as_deref().expect("a thumbnail")).unwrap();
        let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
        assert!(image.width().max(image.height()) == 96, "{}x{}", image.width(), image.height());
    }
    let ids: std::collections::BTreeSet<u64> = events.iter().map(|e| e.track_id).collect();
    assert_eq!(ids, people.iter().copied().collect(), "events for the people only");
    consumer.kill().unwrap();
    consumer.wait().unwrap();
    let printed = std::fs::read_to_string(&consumer_out).unwrap();
    for id in &people {
        assert!(printed.contains(&format!("megamind         #{id:<4} left after")), "person #{id} leaves in:\n{printed}");
    }
    assert!(printed.contains("camera cams/megamind online") && printed.contains("camera cams/megamind offline"), "{printed}");
}

/// A publisher that dies (SIGKILL) leaves `offline` on the availability topic: the broker sends
/// the MQTT will.
#[test]
fn a_killed_publisher_is_offline_by_its_will() {
    let dir = TempDir::new("mqtt-will");
    let broker = Broker::start(free_port(), dir.path());
    let sub = Subscriber::start(broker.port, "cams/live/available");
    let gst = ChildGst::new();
    let uri = format!("uri=mqtt://127.0.0.1:{}/cams/live", broker.port);
    let mut cmd = Command::new("gst-launch-1.0");
    let mut child = gst
        .apply(&mut cmd, 0)
        .args(["-q", "videotestsrc", "is-live=true", "!", "emotiondetect", "!", "emotionpublish", "mode=events", &uri, "!", "fakesink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 (apt package gstreamer1.0-tools)");
    let online = sub.wait_for(1, Duration::from_secs(30));
    assert_eq!(online, ["online"], "published at connection");
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    let got = sub.wait_for(2, Duration::from_secs(10));
    assert_eq!(got, ["online", "offline"], "the will, {:?} after the kill", start.elapsed());
}
