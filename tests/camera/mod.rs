// SPDX-License-Identifier: MIT
//! A camera that goes away and comes back, for the reconnection tests (tests/rtsp_reconnect.rs,
//! web/tests/reconnect.rs): the `rtsp-server` example serving Megamind.avi in a loop on
//! 127.0.0.1, killed, stopped (SIGSTOP: a hung camera) and started again on the same port;
//! a watchdog; the RSS of a process and its children; the outage warning parsed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Megamind.avi's frame rate (24000/1001, 2997/125 in its caps).
pub const MEGAMIND_FPS: f64 = 23.976;

/// The `rtsp-server` example beside this test binary (`target/<profile>/examples`).
pub fn rtsp_server_exe() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe.parent().expect("target/<profile>/deps").join("../examples/rtsp-server");
    assert!(
        path.is_file(),
        "the rtsp-server example not found at {}: cargo build --release --example rtsp-server (cargo test --release builds it)",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The camera: `rtsp-server --loop Megamind.avi` on 127.0.0.1:`port`, killed on drop.
pub struct Camera {
    child: Child,
    pub port: u16,
}

impl Camera {
    /// Starts the server and waits (up to 60 s) until it listens.
    pub fn start(port: u16, megamind: &std::path::Path) -> Camera {
        let mut child = Command::new(rtsp_server_exe())
            .args(["--address", "127.0.0.1", "--port", &port.to_string(), "--loop"])
            .arg(megamind)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting rtsp-server");
        let (tx, rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if line.starts_with("stream ready at") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("rtsp-server on port {port} did not say 'stream ready' within 60 s (status {:?})", child.try_wait());
        }
        Camera { child, port }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/emotions", self.port)
    }

    /// SIGKILL: the power cut (the kernel closes its sockets).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (e.g. "STOP": a camera that hangs with its connections open; "CONT").
    pub fn signal(&self, signal: &str) {
        signal_pid(self.child.id(), signal);
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal("CONT");
            self.kill();
        }
    }
}

/// `kill -SIGNAL pid`.
pub fn signal_pid(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([&format!("-{signal}"), "--", &pid.to_string()]).status();
}

/// Starts `cmd` as a shell starts a command from a terminal: in its own process group (so that
/// a Ctrl-C can be sent to all of it: `libc::kill(-pid, SIGINT)`) and with SIGINT at its default
/// action. A test run from a background job inherits SIGINT ignored, and bash cannot trap a
/// signal ignored on entry.
pub fn as_from_a_terminal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: signal() is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// Ctrl-C as a terminal sends it: SIGINT to the whole process group of `child`, started by
/// [`as_from_a_terminal`].
pub fn ctrl_c(child: &Child) {
    // SAFETY: kill() with a process group id and a signal number has no memory effects.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
}

/// Waits up to `timeout` for the child to exit.
pub fn exited(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    wait_until(timeout, || child.try_wait().ok().flatten())
}

/// Ends a script started by [`as_from_a_terminal`] and left running by a failed assertion (its
/// process group: gst-launch-1.0 too).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
            let _ = self.0.wait();
        }
    }
}

/// Ends the test process if the test is still running after `limit` (disarmed on drop).
pub struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub fn new(test: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("{test}: still running after {limit:?}: the watchdog ends the test process");
                std::process::exit(101);
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// The lines a child writes to a pipe, each with when it came; echoed to the test's stderr
/// unless their tag is empty.
#[derive(Clone, Default)]
pub struct Lines {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Set when the pipe has closed: every line the child wrote is in `lines`.
    closed: Arc<AtomicBool>,
}

impl Lines {
    pub fn collect(pipe: impl std::io::Read + Send + 'static, tag: &'static str) -> Lines {
        let lines = Lines::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if !tag.is_empty() {
                    eprintln!("[{tag}] {line}");
                }
                l.lines.lock().unwrap().push((Instant::now(), line));
            }
            l.closed.store(true, Ordering::SeqCst);
        });
        lines
    }

    /// All the lines, once the pipe has closed (waiting up to 2 s for that): for a failure
    /// message written when the child has exited, which must not miss its last lines.
    pub fn all_text(&self) -> String {
        wait_until(Duration::from_secs(2), || self.closed.load(Ordering::SeqCst).then_some(()));
        self.text()
    }

    /// The first line containing `text`, and when it came.
    pub fn find(&self, text: &str) -> Option<(Instant, String)> {
        self.lines.lock().unwrap().iter().find(|(_, l)| l.contains(text)).cloned()
    }

    /// Waits up to `timeout` for a line containing `text`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> Option<(Instant, String)> {
        wait_until(timeout, || self.find(text))
    }

    /// How many lines contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|(_, l)| l.contains(text)).count()
    }

    pub fn text(&self) -> String {
        self.lines.lock().unwrap().iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// Polls `f` every 50 ms until it gives Some or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids of `pid`'s children, grandchildren, ... (from /proc/*/stat).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'
        let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)).and_then(|s| s.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((p, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

/// The resident memory of `pid` and its descendants, in MB.
pub fn rss_tree_mb(pid: u32) -> f64 {
    let rss_kb = |p: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
    };
    let pids = std::iter::once(pid).chain(descendants(pid));
    pids.map(rss_kb).sum::<u64>() as f64 / 1024.0
}

/// What an outage warning says: "... came back after 6.2 s away: about 155 frames lost (25 fps)".
#[derive(Debug)]
pub struct OutageWarning {
    pub away_s: f64,
    pub frames_lost: u64,
    pub fps: f64,
}

/// Parses the outage warning in `line`; None when it has no such warning.
pub fn parse_outage(line: &str) -> Option<OutageWarning> {
    let rest = line.split("came back after ").nth(1)?;
    let (away, rest) = rest.split_once(" s away: about ")?;
    let (lost, rest) = rest.split_once(" frames lost (")?;
    let fps = rest.split_once(" fps)")?.0;
    Some(OutageWarning { away_s: away.parse().ok()?, frames_lost: lost.parse().ok()?, fps: fps.parse().ok()? })
}

/// Checks an outage of a server killed and restarted after `down`, whose frames resumed
/// `resumed_after` after the kill: the gap lies between the two (less the frame that may have
/// been on its way), and the frames lost are that gap at Megamind's frame rate.
pub fn check_outage(w: &OutageWarning, down: Duration, resumed_after: Duration) {
    assert!((w.fps - MEGAMIND_FPS).abs() < 0.01, "frame rate {} in the warning, Megamind's caps say {MEGAMIND_FPS}", w.fps);
    assert!(w.away_s >= down.as_secs_f64(), "away {} s, but the server was down {down:?}", w.away_s);
    assert!(w.away_s <= resumed_after.as_secs_f64() + 1.0, "away {} s, but frames resumed {resumed_after:?} after the kill", w.away_s);
    let expected = w.away_s * w.fps;
    // the warning rounds the gap to 0.1 s: up to 0.05 s x 24 fps, and the frame count's rounding
    assert!((w.frames_lost as f64 - expected).abs() <= 2.0, "{} frames lost for {} s at {} fps", w.frames_lost, w.away_s, w.fps);
}
