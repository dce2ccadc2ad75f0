// SPDX-License-Identifier: MIT
//! Cameras that drop (issue 24): `pipelines/rtsp-in.sh` against a real RTSP server (the
//! `rtsp-server` example serving Megamind.avi in a loop on 127.0.0.1) that is killed and
//! started again on the same port, that hangs (SIGSTOP), or that is not there at all. The
//! script must reconnect with its backoff, say how long the camera was away and how many frames
//! were lost, keep its memory, keep the JSON lines of every connection in one file, and stop on
//! Ctrl-C/SIGTERM instead of reconnecting. Each test has a watchdog.

mod camera;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camera::*;
use common::*;

/// How long the killed server stays down.
const DOWN: Duration = Duration::from_secs(5);

/// Where the script's frames are seen: JSON lines in a file, or messages on stdout.
enum Output<'a> {
    Jsonl(&'a Path),
    Messages(Lines),
}

impl Output<'_> {
    /// Frames seen so far.
    fn frames(&self) -> usize {
        match self {
            Output::Jsonl(path) => std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0),
            Output::Messages(lines) => lines.count("(element): emotiondetect, "),
        }
    }

    /// Waits up to `timeout` for more than `n` frames; when they came.
    fn beyond(&self, n: usize, timeout: Duration) -> Option<Instant> {
        wait_until(timeout, || (self.frames() > n).then(Instant::now))
    }
}

/// `rtsp-in.sh URL draw=false` headless, with `JSONL=jsonl`, else `MESSAGES=1`, in its own
/// process group (so that a Ctrl-C can be sent to it as a terminal sends it); its stderr and
/// its stdout (gst-launch-1.0's own lines, and with MESSAGES=1 the frames) collected.
fn start_script<'a>(gst: &ChildGst, url: &str, jsonl: Option<&'a Path>) -> (Child, Lines, Lines, Output<'a>) {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_dir().join("pipelines/rtsp-in.sh")).arg(url).arg("draw=false");
    cmd.env("SINK", "fakesink").stdout(Stdio::piped()).stderr(Stdio::piped());
    as_from_a_terminal(&mut cmd);
    match jsonl {
        Some(path) => cmd.env("JSONL", path),
        None => cmd.env("MESSAGES", "1"),
    };
    let mut child = gst.apply(&mut cmd, 0).spawn().expect("bash pipelines/rtsp-in.sh");
    let log = Lines::collect(child.stderr.take().expect("stderr"), "rtsp-in.sh");
    let stdout = Lines::collect(child.stdout.take().expect("stdout"), "");
    let output = jsonl.map_or(Output::Messages(stdout.clone()), Output::Jsonl);
    (child, log, stdout, output)
}

/// Megamind served in a loop by a camera on a free port, and `rtsp-in.sh` on it writing its
/// JSON lines to a file; started once more than `frames` frames have come.
struct Streaming {
    // first: the script is killed before its directory goes
    script: KillOnDrop,
    log: Lines,
    stdout: Lines,
    cam: Camera,
    jsonl: PathBuf,
    _dir: TempDir,
    _gst: ChildGst,
}

impl Streaming {
    fn start(tag: &str, frames: usize) -> Streaming {
        let (gst, dir) = (ChildGst::new(), TempDir::new(tag));
        let jsonl = dir.path().join("frames.jsonl");
        let cam = Camera::start(free_port(), &megamind());
        let (script, log, stdout, out) = start_script(&gst, &cam.url(), Some(&jsonl));
        let script = KillOnDrop(script);
        assert!(out.beyond(frames, Duration::from_secs(40)).is_some(), "fewer than {frames} frames in 40 s:\n{}", log.text());
        Streaming { script, log, stdout, cam, jsonl, _dir: dir, _gst: gst }
    }

    fn out(&self) -> Output<'_> {
        Output::Jsonl(&self.jsonl)
    }
}

/// The server is killed mid-stream and started again 5 s later on the same port: frames come
/// back within 10 s of the restart, the warning gives the gap (>= 5 s) and the frames lost at
/// Megamind's 23.976 fps, RSS stays within 50 MB, the JSON lines of both connections are in the
/// one file, and Ctrl-C then stops the script (gst-launch's EOS, exit 0) without a reconnection.
#[test]
fn rtsp_in_comes_back_after_the_server_is_killed_and_restarted() {
    let _watchdog = Watchdog::new("rtsp_in_comes_back_after_the_server_is_killed_and_restarted", Duration::from_secs(120));
    init();
    let mut s = Streaming::start("rtsp-reconnect", 48);
    std::thread::sleep(Duration::from_secs(1));
    let rss_before = rss_tree_mb(s.script.0.id());
    let first_line = std::fs::read_to_string(&s.jsonl).unwrap().lines().next().unwrap().to_string();

    s.cam.kill();
    let killed = Instant::now();
    let before = s.out().frames();
    std::thread::sleep(DOWN);
    assert!(s.script.0.try_wait().unwrap().is_none(), "rtsp-in.sh ended when the camera went away:\n{}", s.log.text());
    let restarted = Instant::now();
    let _cam = Camera::start(s.cam.port, &megamind());
    let back = s.out().beyond(before + 1, Duration::from_secs(10));
    let back = back.unwrap_or_else(|| panic!("no frame within 10 s of the restart:\n{}", s.log.text()));
    eprintln!(
        "frames back {:.1} s after the restart, {:.1} s after the kill",
        (back - restarted).as_secs_f64(),
        (back - killed).as_secs_f64()
    );

    let (_, warning) = s.log.wait_for("came back after", Duration::from_secs(5)).expect("an outage warning on stderr");
    let w = parse_outage(&warning).unwrap_or_else(|| panic!("cannot read the warning {warning:?}"));
    eprintln!("warning: {warning}");
    check_outage(&w, DOWN, back - killed);
    assert!(
        s.log.find("reconnecting in 1 s").is_some() && s.log.find("reconnecting in 2 s").is_some(),
        "backoff 1 s, 2 s:\n{}",
        s.log.text()
    );

    assert!(s.out().beyond(before + 48, Duration::from_secs(20)).is_some(), "frames stopped again");
    let rss_after = rss_tree_mb(s.script.0.id());
    eprintln!("RSS of rtsp-in.sh and its children: {rss_before:.1} MB before the outage, {rss_after:.1} MB after");
    assert!(rss_after < rss_before + 50.0, "RSS grew from {rss_before:.1} to {rss_after:.1} MB");
    let text = std::fs::read_to_string(&s.jsonl).unwrap();
    assert_eq!(text.lines().next(), Some(first_line.as_str()), "the JSON-lines file was started again at the reconnection");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    // Ctrl-C: the terminal sends SIGINT to the foreground process group
    let lines_at_stop = s.log.text().lines().count();
    let t = Instant::now();
    ctrl_c(&s.script.0);
    let status = exited(&mut s.script.0, Duration::from_secs(10)).expect("rtsp-in.sh still running 10 s after Ctrl-C");
    eprintln!("Ctrl-C: stopped in {:.2} s, {status}", t.elapsed().as_secs_f64());
    let (stderr, stdout) = (s.log.all_text(), s.stdout.all_text());
    assert_eq!(status.code(), Some(0), "gst-launch-1.0 -e ends with EOS on Ctrl-C:\n{stderr}\nstdout:\n{stdout}");
    let after_stop: Vec<String> = stderr.lines().skip(lines_at_stop).map(String::from).collect();
    assert!(after_stop.iter().all(|l| !l.contains("reconnecting")), "reconnected after Ctrl-C: {after_stop:?}");
}

/// The camera dies just before Ctrl-C: whichever rtspsrc notices first, the exit status is 0
/// exactly when gst-launch-1.0's EOS went through ("EOS received" on its stdout). When rtspsrc
/// then fails to PAUSE the dead camera (gst-launch-1.0 exits 1), the script says so and exits 0.
#[test]
fn ctrl_c_just_after_the_camera_dies_exits_0_when_the_eos_went_through() {
    let _watchdog = Watchdog::new("ctrl_c_just_after_the_camera_dies_exits_0_when_the_eos_went_through", Duration::from_secs(90));
    init();
    let mut s = Streaming::start("rtsp-ctrl-c", 96);

    // Ctrl-C, and the camera killed a moment later: mostly while the EOS drains or the pipeline
    // stops, sometimes before gst-launch-1.0 has its SIGINT.
    ctrl_c(&s.script.0);
    s.cam.kill();
    let status = exited(&mut s.script.0, Duration::from_secs(10)).expect("rtsp-in.sh still running 10 s after Ctrl-C");
    let (stderr, stdout) = (s.log.all_text(), s.stdout.all_text());
    let eos = stdout.contains("EOS received");
    let teardown_failed = eos && stdout.contains("An error happened");
    eprintln!("{status}; EOS went through: {eos}; errors after it: {teardown_failed}");
    let what = format!("stderr:\n{stderr}\nstdout:\n{stdout}");
    assert_eq!(status.code() == Some(0), eos, "exit status 0 exactly when the EOS went through ({status}):\n{what}");
    if teardown_failed {
        assert!(stderr.contains("stopped: the EOS went through"), "the errors after the EOS not explained:\n{what}");
    }
    assert!(!stderr.contains("reconnecting"), "reconnected after Ctrl-C:\n{what}");
}

/// A server that hangs (SIGSTOP: its connections stay open, nothing is sent) is given up after
/// 5 s without a frame, not rtspsrc's 25 s RTCP timeout; the camera rebooted (a new server on
/// the same port) is then found again. The frames are read from MESSAGES=1 this time.
#[test]
fn rtsp_in_gives_up_on_a_hung_server_within_seconds() {
    let _watchdog = Watchdog::new("rtsp_in_gives_up_on_a_hung_server_within_seconds", Duration::from_secs(120));
    init();
    let gst = ChildGst::new();
    let mut cam = Camera::start(free_port(), &megamind());
    let (script, log, _, out) = start_script(&gst, &cam.url(), None);
    let _script = KillOnDrop(script);
    assert!(out.beyond(24, Duration::from_secs(40)).is_some(), "fewer than 24 frames in 40 s:\n{}", log.text());

    cam.signal("STOP");
    let hung = Instant::now();
    let (noticed, _) = log.wait_for("no frame for 5 s", Duration::from_secs(9)).unwrap_or_else(|| {
        panic!("the hung server not noticed within 9 s:\n{}", log.text());
    });
    eprintln!("hung server noticed after {:.1} s", (noticed - hung).as_secs_f64());
    cam.kill();
    let before = out.frames();
    let restarted = Instant::now();
    let _cam = Camera::start(cam.port, &megamind());
    let back = out.beyond(before, Duration::from_secs(10));
    let back = back.unwrap_or_else(|| panic!("no frame within 10 s of the restart:\n{}", log.text()));
    eprintln!("frames back {:.1} s after the restart", (back - restarted).as_secs_f64());
    let (_, warning) = log.wait_for("came back after", Duration::from_secs(5)).expect("an outage warning on stderr");
    check_outage(&parse_outage(&warning).expect("a readable warning"), noticed - hung, back - hung);
}

/// No server at all: the script keeps trying, 1 s, 2 s, 4 s apart, and SIGTERM during a wait
/// ends it at once (status 143) with nothing left running.
#[test]
fn rtsp_in_retries_a_missing_camera_with_backoff_until_sigterm() {
    let _watchdog = Watchdog::new("rtsp_in_retries_a_missing_camera_with_backoff_until_sigterm", Duration::from_secs(60));
    init();
    let (gst, dir) = (ChildGst::new(), TempDir::new("rtsp-missing"));
    let url = format!("rtsp://127.0.0.1:{}/emotions", free_port());
    let jsonl = dir.path().join("frames.jsonl");
    let (script, log, _, _) = start_script(&gst, &url, Some(&jsonl));
    let mut script = KillOnDrop(script);
    let (third, _) = log.wait_for("reconnecting in 4 s", Duration::from_secs(30)).unwrap_or_else(|| {
        panic!("no third attempt within 30 s (status {:?}):\n{}", script.0.try_wait(), log.text());
    });
    let (first, _) = log.find("reconnecting in 1 s").expect("a first wait of 1 s");
    let waited = (third - first).as_secs_f64();
    assert!(waited >= 3.0, "the waits of 1 s and 2 s took {waited:.1} s");
    let children = descendants(script.0.id());
    let t = Instant::now();
    signal_pid(script.0.id(), "TERM");
    let status = exited(&mut script.0, Duration::from_secs(3)).expect("rtsp-in.sh still running 3 s after SIGTERM");
    eprintln!("SIGTERM while waiting: stopped in {:.2} s, {status}", t.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(143), "SIGTERM's status");
    std::thread::sleep(Duration::from_millis(200));
    // a zombie (state Z) has ended: only a process still running counts
    let running = |p: &u32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .is_ok_and(|s| !s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')))
    };
    let left: Vec<u32> = children.into_iter().filter(running).collect();
    assert!(left.is_empty(), "processes left after SIGTERM: {left:?}");
}
