// SPDX-License-Identifier: MIT
//! emotiondetect-web against hostile and careless clients and sources (docs/reliability.md):
//! camera passwords and server paths never leave the server (API, SSE, logs), its temporary
//! files are its own whatever the umask, trickling and half-open clients neither hold a slot
//! nor starve the others, and cut or oversized pictures are refused before they are decoded.
//! Real photos, Megamind.avi, the real models, Python's http.server as the camera.

#[path = "../../tests/common/mod.rs"]
mod common;
mod web;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "s3cretpw";
const TOKEN: &str = "t0ps3cret";

/// emotiondetect-web with its stdout and stderr kept (killed when dropped).
struct Logged {
    child: Child,
    base: String,
    temp: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Logged {
    fn start(args: &[&str]) -> Logged {
        common::init();
        let mut child = Command::new(env!("CARGO_BIN_EXE_emotiondetect-web"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting emotiondetect-web");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for (stream, tx) in [(Box::new(out) as Box<dyn Read + Send>, Some(tx)), (Box::new(err), None)] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[server] {line}");
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                    if let Some(tx) = &tx {
                        let _ = tx.send(line);
                    }
                }
            });
        }
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("emotiondetect-web says where it listens within 60 s");
        let base = line.split("http://").nth(1).and_then(|r| r.split('/').next()).map(|a| format!("http://{a}")).expect("an address");
        let temp = line.split("temporary files in ").nth(1).map(|t| PathBuf::from(t.trim_end_matches(')'))).expect("a directory");
        Logged { child, base, temp, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let t = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Python's http.server on 127.0.0.1 serving `dir` (killed when dropped).
struct HttpServer(Child, u16);

impl HttpServer {
    fn start(dir: &Path) -> HttpServer {
        let port = web::free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "python3 -m http.server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        HttpServer(child, port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first `n` events of an SSE stream, as text.
fn sse_events(url: &str, n: usize) -> String {
    let mut r = web::http().get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let mut reader = BufReader::new(r.body_mut().as_reader());
    let (mut text, mut events) = (String::new(), 0);
    while events < n {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        events += usize::from(line.starts_with("event: report"));
        text.push_str(&line);
    }
    text
}

#[test]
fn no_password_or_server_path_leaves_the_api_the_events_or_the_logs() {
    let media = web::temp_dir();
    let hidden = media.path().join("hidden-dir");
    std::fs::create_dir(&hidden).unwrap();
    std::fs::copy(common::megamind(), hidden.join("Megamind.avi")).unwrap();
    let http = HttpServer::start(&hidden);
    let cam = format!("cam=http://admin:{PASSWORD}@127.0.0.1:{}/Megamind.avi?token={TOKEN}", http.1);
    let dead = format!("dead=http://admin:{PASSWORD}@127.0.0.1:1/x.avi?password={TOKEN}");
    let gone = format!("gone=file://{}/small.mp4", hidden.display());
    let server = Logged::start(&["--source", &cam, "--source", &dead, "--source", &gone]);

    let url = format!("{}/api/sources", server.base);
    let started = Instant::now();
    let sources = loop {
        let s = web::get_json(&url);
        let ready = s[0]["latest"].is_object() && s[1]["error"].is_string() && s[2]["error"].is_string();
        if ready {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "sources not ready within 60 s: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let api = sources.to_string();
    let events = sse_events(&format!("{}/api/sources/cam/events", server.base), 3);
    assert!(events.matches("event: report").count() == 3, "3 SSE reports: {events}");
    let log = server.log.lock().unwrap().clone();
    for (what, text) in [("GET /api/sources", &api), ("the SSE events", &events), ("the server's log", &log)] {
        for secret in [PASSWORD, TOKEN, "hidden-dir"] {
            assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
        }
    }
    let shown = format!("http://***@127.0.0.1:{}/Megamind.avi?token=***", http.1);
    assert_eq!(sources[0]["uri"], shown.as_str());
    assert_eq!(sources[0]["latest"]["source"], shown.as_str(), "the report's source is the redacted URI");
    assert!(sources[2]["error"].as_str().unwrap().contains("source gone"), "errors name the source: {}", sources[2]);
    assert!(log.contains("source dead:") && log.contains("source gone:"), "the failures are logged: {log}");
}

#[test]
fn temporary_files_are_private_whatever_the_umask() {
    // SAFETY: umask(2) cannot fail; the server inherits it.
    unsafe { libc::umask(0o022) };
    let media = web::temp_dir();
    let clip = web::megamind_clip(media.path(), 30);
    let server = Logged::start(&[]);
    let root_mode = std::fs::metadata(&server.temp).unwrap().permissions().mode() & 0o777;
    let (status, body, _) = web::post(&format!("{}/api/video", server.base), "video/x-msvideo", &std::fs::read(&clip).unwrap());
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let status_url = format!("{}{}", server.base, job["status"].as_str().unwrap());
    let started = Instant::now();
    while web::get_json(&status_url)["state"] == "analysing" {
        assert!(started.elapsed() < Duration::from_secs(120), "the job did not finish within 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(web::get_json(&status_url)["state"], "done");
    let mut modes = Vec::new();
    walk(&server.temp, &mut modes);
    assert!(modes.iter().filter(|(_, dir, _)| !dir).count() >= 5, "the report files: {modes:?}");
    assert_eq!(root_mode, 0o700, "{}", server.temp.display());
    for (path, dir, mode) in &modes {
        assert_eq!(*mode, if *dir { 0o700 } else { 0o600 }, "{} under umask 022", path.display());
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let meta = entry.metadata().unwrap();
        out.push((entry.path(), meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            walk(&entry.path(), out);
        }
    }
}

/// Whether the server closed `s` (EOF or reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
        if t.elapsed() > limit {
            return false;
        }
    }
}

/// The status of the answer to `head` (request line and headers, no body) on a new connection.
fn status_of_head(addr: &str, head: &str) -> (u16, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    let t = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut status = [0u8; 12];
    s.read_exact(&mut status).expect("a status line");
    (String::from_utf8_lossy(&status[9..12]).parse().unwrap(), t.elapsed())
}

#[test]
fn trickling_half_open_and_idle_clients_neither_hold_a_slot_nor_starve_the_others() {
    let server = Logged::start(&["--header-timeout", "3", "--body-timeout", "3", "--min-body-rate", "16"]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let photo = std::fs::read(common::group_photo("13.jpg")).unwrap();
    let photo_url = format!("{}/api/analyse", server.base);
    let (status, _, alone) = web::post(&photo_url, "image/jpeg", &photo);
    assert_eq!(status, 200);
    let media = web::temp_dir();
    let clip = std::fs::read(web::megamind_clip(media.path(), 20)).unwrap();

    // 50 connections that never finish their headers, an idle keep-alive one, and an upload
    // that trickles 1 byte every 500 ms of its declared 1 MB, holding the only video slot.
    let mut half_open: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(s, "POST /api/video HTTP/1.1\r\nHost: {addr}\r\nContent-Le").unwrap();
            s
        })
        .collect();
    let mut idle = TcpStream::connect(&addr).unwrap();
    write!(idle, "GET /api/info HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let trickle = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            let t = Instant::now();
            write!(s, "POST /api/video HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000000\r\n\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut answer = Vec::new();
            while t.elapsed() < Duration::from_secs(30) {
                if s.write_all(b"x").is_err() {
                    break;
                }
                let mut buf = [0u8; 1024];
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            (String::from_utf8_lossy(&answer).to_string(), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    // Meanwhile: photos are served as fast as alone (within 1 s more), the busy video slot says so.
    let (status, _, busy) = web::post(&photo_url, "image/jpeg", &photo);
    assert_eq!(status, 200);
    assert!(busy < alone + Duration::from_secs(1), "a photo took {busy:?} under attack, {alone:?} alone");
    let status = web::post_raw(&format!("{}/api/video", server.base), &clip, true);
    assert_eq!(status, 503, "the trickle holds the video slot for now");
    // Over-limit bodies are refused from their Content-Length, before any of the body.
    for path in ["/api/analyse", "/api/video"] {
        let (status, took) =
            status_of_head(&addr, &format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100000000000\r\n\r\n"));
        assert_eq!(status, 413, "{path}");
        assert!(took < Duration::from_secs(1), "{path}: 413 after {took:?}");
    }

    // The trickle is cut after --body-timeout (3 s + 1 s per 16 KB) with 408; the slot is free.
    let (answer, took) = trickle.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "the trickling upload's answer after {took:?}: {answer}");
    assert!(took < Duration::from_secs(5), "cut after {took:?}");
    assert!(answer.contains("too slowly"), "{answer}");
    let (status, body, _) = web::post(&format!("{}/api/video", server.base), "video/x-msvideo", &clip);
    assert_eq!(status, 202, "the slot is free again: {}", String::from_utf8_lossy(&body));

    // Half-open and idle connections were closed after --header-timeout (3 s).
    assert!(closed_within(&mut idle, Duration::from_secs(2)), "the idle keep-alive connection is closed");
    let open = half_open.iter_mut().map(|s| closed_within(s, Duration::from_millis(200))).filter(|closed| !closed).count();
    assert_eq!(open, 0, "half-open connections still open after the header timeout");
    let leftovers = std::fs::read_dir(&server.temp).unwrap().count();
    assert!(leftovers <= 1, "only the accepted job's directory: {leftovers}");
}

/// `jpeg` with its SOF0 width and height set to 30000 x 30000.
fn declaring_30000(mut jpeg: Vec<u8>) -> Vec<u8> {
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0x75, 0x30, 0x75, 0x30]);
    jpeg
}

/// A 64x48 MJPEG AVI made to declare 30000 x 30000: the main header (avih), the stream format
/// (strf: BITMAPINFOHEADER) and every frame's SOF0.
fn declaring_30000_avi(mut avi: Vec<u8>) -> Vec<u8> {
    let size = 30000u32.to_le_bytes();
    let at = |avi: &[u8], tag: &[u8]| avi.windows(4).position(|w| w == tag).unwrap_or_else(|| panic!("no {tag:?} chunk"));
    let avih = at(&avi, b"avih") + 8;
    avi[avih + 32..avih + 36].copy_from_slice(&size);
    avi[avih + 36..avih + 40].copy_from_slice(&size);
    let strf = at(&avi, b"strf") + 8;
    avi[strf + 4..strf + 8].copy_from_slice(&size);
    avi[strf + 8..strf + 12].copy_from_slice(&size);
    // SOF0 of an 8-bit, 3-component frame: FF C0, length 17, precision 8.
    let sofs: Vec<usize> = avi.windows(5).enumerate().filter(|(_, w)| *w == [0xFF, 0xC0, 0, 17, 8]).map(|(i, _)| i).collect();
    assert!(sofs.len() >= 3, "one SOF0 a frame: {}", sofs.len());
    for sof in sofs {
        avi[sof + 5..sof + 9].copy_from_slice(&[0x75, 0x30, 0x75, 0x30]);
    }
    avi
}

/// Peak resident memory of process `pid`, in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap();
    kb / 1024.0
}

#[test]
fn cut_and_oversized_pictures_are_refused_before_decoding() {
    let server = Logged::start(&[]);
    let photo = std::fs::read(common::group_photo("13.jpg")).unwrap();
    let url = format!("{}/api/analyse", server.base);
    let cut = &photo[..1000];
    let big = declaring_30000(photo.clone());
    let (status, body, _) = web::post(&url, "image/jpeg", cut);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "a JPEG cut after 1000 bytes: {body}");
    assert!(body.contains("cut short"), "{body}");
    let (status, body, _) = web::post(&url, "image/jpeg", &big[..897]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 413, "897 bytes declaring 30000x30000: {body}");
    assert!(body.contains("30000x30000 (900.0 MP)") && body.contains("--max-pixels"), "{body}");
    let (status, _, _) = web::post(&format!("{url}?annotated=1"), "image/jpeg", &big);
    assert_eq!(status, 413);

    // The webcam socket: both refused, and the session goes on with the next good frame.
    let ws = format!("{}/api/webcam", server.base.replace("http://", "ws://"));
    let replies: Vec<serde_json::Value> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(&ws).await.expect("connecting");
        let mut replies = Vec::new();
        for frame in [cut.to_vec(), big.clone(), photo.clone()] {
            socket.send(Message::Binary(frame.into())).await.unwrap();
            match socket.next().await {
                Some(Ok(Message::Text(t))) => replies.push(serde_json::from_str(&t).unwrap()),
                other => panic!("no reply: {other:?}"),
            }
        }
        replies
    });
    assert!(replies[0]["error"].as_str().is_some_and(|e| e.contains("cut short")), "{}", replies[0]);
    assert!(replies[1]["error"].as_str().is_some_and(|e| e.contains("30000x30000")), "{}", replies[1]);
    assert!(replies[2]["report"]["objects"].as_array().is_some_and(|o| !o.is_empty()), "{}", replies[2]);

    // A 3-frame MJPEG AVI whose header and frames declare 30000x30000: the job fails, nothing
    // is decoded. (avimux refuses such caps: a 64x48 one, patched.)
    let dir = web::temp_dir();
    let avi = dir.path().join("big.avi");
    common::run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! video/x-raw,width=64,height=48 ! identity eos-after=3 \
             ! jpegenc ! avimux ! filesink location=\"{}\"",
            common::megamind().display(),
            avi.display()
        ),
        Duration::from_secs(60),
    );
    let avi = declaring_30000_avi(std::fs::read(&avi).unwrap());
    assert!(avi.len() < 20_000, "a small file: {} bytes", avi.len());
    let (status, body, _) = web::post(&format!("{}/api/video", server.base), "video/x-msvideo", &avi);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let status_url = format!("{}{}", server.base, job["status"].as_str().unwrap());
    let started = Instant::now();
    let job = loop {
        let j = web::get_json(&status_url);
        if j["state"] != "analysing" {
            break j;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the job did not end within 60 s: {j}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().is_some_and(|e| e.contains("30000x30000")), "{job}");
    let rss = peak_rss_mb(server.pid());
    eprintln!("peak RSS of the server after the 30000x30000 cases: {rss:.0} MB");
    assert!(rss < 500.0, "the server's peak RSS is {rss:.0} MB");
}
