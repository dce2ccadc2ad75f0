// SPDX-License-Identifier: MIT
//! Helpers of the emotiondetect-web tests: the server started on a free 127.0.0.1 port, an HTTP
//! client, test media made from Megamind.avi, chromedriver + headless Chromium. Nothing is
//! skipped: a missing chromium, model or file fails with how to get it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// A running `emotiondetect-web` (killed when dropped).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Its private temporary directory.
    pub temp: PathBuf,
}

impl Server {
    /// Starts the server with `args` on 127.0.0.1, port 0, and waits for its "listening" line.
    pub fn start(args: &[&str]) -> Server {
        common::init(); // the installed models and ONNX Runtime, with a message if missing
        let mut child = Command::new(env!("CARGO_BIN_EXE_emotiondetect-web"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting emotiondetect-web");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                eprintln!("[server] {line}");
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            let status = child.try_wait().ok().flatten();
            panic!("emotiondetect-web did not say where it listens within 60 s (exit status {status:?}; see its stderr above)")
        });
        let base = line.split("http://").nth(1).and_then(|r| r.split('/').next()).map(|a| format!("http://{a}"));
        let temp = line.split("temporary files in ").nth(1).map(|t| PathBuf::from(t.trim_end_matches(')')));
        match (base, temp) {
            (Some(base), Some(temp)) => Server { child, base, temp },
            _ => panic!("unexpected first line from emotiondetect-web: {line}"),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Server {
    /// SIGTERM, so that the server removes its temporary directory; SIGKILL after 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        while self.alive() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns every status as a response (4xx/5xx included).
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(300))).build().into()
}

/// POSTs `body` to `url`: (status, body bytes, elapsed).
pub fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>, Duration) {
    let t = Instant::now();
    let mut r = http().post(url).header("Content-Type", content_type).send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let bytes = r.body_mut().with_config().limit(512 << 20).read_to_vec().expect("reading the response");
    (r.status().as_u16(), bytes, t.elapsed())
}

/// POSTs `body` over a plain TCP connection, with a Content-Length or chunked, and returns the
/// status. Every write must succeed even when the server answers early (413): it discards the
/// rest of the body before it closes (a lingering close), so the client never sees a reset.
pub fn post_raw(url: &str, body: &[u8], content_length: bool) -> u16 {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(addr).expect("connecting");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let framing = if content_length { format!("Content-Length: {}", body.len()) } else { "Transfer-Encoding: chunked".into() };
    write!(s, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{framing}\r\n\r\n").expect("writing the headers");
    for chunk in body.chunks(16 * 1024) {
        let sent = if content_length {
            s.write_all(chunk)
        } else {
            write!(s, "{:x}\r\n", chunk.len()).and_then(|_| s.write_all(chunk)).and_then(|_| s.write_all(b"\r\n"))
        };
        sent.unwrap_or_else(|e| panic!("POST {url}: writing the body: {e}"));
    }
    if !content_length {
        s.write_all(b"0\r\n\r\n").unwrap_or_else(|e| panic!("POST {url}: the last chunk: {e}"));
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("a status line");
    String::from_utf8_lossy(&head[9..12]).parse().expect("a status code")
}

/// GETs `url`: (status, body).
pub fn get(url: &str) -> (u16, Vec<u8>) {
    let mut r = http().get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let bytes = r.body_mut().with_config().limit(512 << 20).read_to_vec().expect("reading the response");
    (r.status().as_u16(), bytes)
}

/// GETs `url` as JSON.
pub fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e})"))
}

/// The faces the element finds in `photo` run on its own (not through the server).
pub fn element_faces(photo: &Path) -> usize {
    element_faces_classified(photo).0
}

/// The faces the element finds in `photo`, and how many of them it classifies (the others are
/// under `min-emotion-face-size`: `unknown`).
pub fn element_faces_classified(photo: &Path) -> (usize, usize) {
    let run = common::run_pipeline(
        &format!("filesrc location=\"{}\" ! decodebin ! videoconvert ! emotiondetect ! fakesink", photo.display()),
        Duration::from_secs(120),
    );
    assert_eq!(run.messages.len(), 1, "one message for a photo");
    let faces = &run.messages[0].faces;
    (faces.len(), faces.iter().filter(|f| f.emotion != "unknown").count())
}

/// A temporary directory removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("emotiondetect-web-test-").tempdir().expect("a temporary directory")
}

/// Runs a gst-launch style `desc` to EOS (test media; an error fails the test).
fn make_media(desc: &str) {
    common::run_pipeline(desc, Duration::from_secs(120));
}

/// The first `frames` frames of Megamind.avi as a `width` x `height` Y4M file (Chromium's
/// fake camera).
pub fn megamind_y4m(dir: &Path, frames: u32, width: u32, height: u32) -> PathBuf {
    let out = dir.join("camera.y4m");
    make_media(&format!(
        "filesrc location=\"{}\" ! decodebin ! videorate ! videoconvert ! videoscale \
         ! video/x-raw,format=I420,width={width},height={height},framerate=30/1,pixel-aspect-ratio=1/1 \
         ! identity eos-after={frames} ! y4menc ! filesink location=\"{}\"",
        common::megamind().display(),
        out.display()
    ));
    assert!(out.metadata().map(|m| m.len() > 100_000).unwrap_or(false), "{} was not written", out.display());
    out
}

/// The first `frames` frames of Megamind.avi as an MJPEG AVI (a short clip to upload).
pub fn megamind_clip(dir: &Path, frames: u32) -> PathBuf {
    let out = dir.join("clip.avi");
    make_media(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! identity eos-after={frames} ! jpegenc ! avimux ! filesink location=\"{}\"",
        common::megamind().display(),
        out.display()
    ));
    assert!(out.metadata().map(|m| m.len() > 10_000).unwrap_or(false), "{} was not written", out.display());
    out
}

/// `frames` frames of Megamind.avi (from frame 0, every `step`th) as JPEG images.
pub fn megamind_jpegs(frames: usize, step: usize) -> Vec<Vec<u8>> {
    let run = common::run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! identity eos-after={} ! jpegenc ! appsink name=sink",
            common::megamind().display(),
            frames * step
        ),
        Duration::from_secs(120),
    );
    run.samples.iter().step_by(step).take(frames).map(|s| s.buffer().expect("buffer").map_readable().expect("map").to_vec()).collect()
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could take it first,
/// which fails the test visibly).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

const BROWSER_HOW: &str = "the browser tests need Debian's chromium and chromium-driver: \
                           `sudo apt-get install chromium chromium-driver` (scripts/test.sh installs them on first use)";

/// chromedriver on 127.0.0.1 and a headless Chromium session (its fake camera fed from
/// `camera`, when given); both end when dropped.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    /// Chromium's profile and temporary files (its TMPDIR), removed when dropped.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a session.
    pub async fn start(camera: Option<&Path>) -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).is_file());
        let chromium = chromium.unwrap_or_else(|| panic!("chromium not found: {BROWSER_HOW}"));
        let port = free_port();
        let profile = temp_dir();
        // Its own process group: Chromium, its child, goes with it even when a test panics.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .env("TMPDIR", profile.path())
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run chromedriver ({e}): {BROWSER_HOW}"));
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(), // as root in CI containers
            "--disable-dev-shm-usage".into(),
            "--disable-gpu".into(),
            "--window-size=1280,760".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            format!("--user-data-dir={}", profile.path().join("profile").display()),
        ];
        if let Some(camera) = camera {
            args.push("--use-fake-device-for-media-stream".into());
            args.push("--use-fake-ui-for-media-stream".into());
            args.push(format!("--use-file-for-fake-video-capture={}", camera.display()));
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match fantoccini::ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if started.elapsed() > Duration::from_secs(30) => panic!("no WebDriver session from chromedriver at {url}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser { client, driver, _profile: profile }
    }

    /// Runs `script` (a function body returning a value) in the page.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns a truthy value, for at most `timeout`; returns it.
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let v = self.eval(script).await;
            let truthy = !matches!(&v, serde_json::Value::Null | serde_json::Value::Bool(false))
                && v != serde_json::json!(0)
                && v != serde_json::json!("");
            if truthy {
                return v;
            }
            if started.elapsed() > timeout {
                let shown = "return [...document.querySelectorAll('.error, .stat')].map(e => e.id + ': ' + e.textContent).join(' | ')";
                let shown = self.eval(shown).await;
                let shot = std::env::temp_dir().join(format!("emotiondetect-web-failure-{}.png", std::process::id()));
                if let Ok(png) = self.client.screenshot().await {
                    let _ = std::fs::write(&shot, png);
                }
                panic!(
                    "{what}: not within {} s (the page's errors and status lines: {shown}; screenshot {})",
                    timeout.as_secs(),
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Saves a screenshot to `docs/<name>` when EMOTIONDETECT_SCREENSHOTS=1 (docs/web.md's).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("EMOTIONDETECT_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        let path = common::repo_dir().join("docs").join(name);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Ends the session, then chromedriver and Chromium (when dropped).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Kills chromedriver's process group (chromedriver and the Chromium it started).
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.wait();
    }
}

/// The tag the page writes per face: "#3 happy 0.91".
pub fn is_face_tag(text: &str) -> bool {
    let parts: Vec<&str> = text.split(' ').collect();
    let labels = common::FER_LABELS;
    parts.len() == 3
        && parts[0].strip_prefix('#').is_some_and(|id| id.parse::<u64>().is_ok())
        && labels.contains(&parts[1])
        && parts[2].parse::<f64>().is_ok_and(|p| (0.0..=1.0).contains(&p))
}
