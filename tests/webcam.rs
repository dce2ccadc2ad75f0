// SPDX-License-Identifier: MIT
//! The design line on what a webcam gives: `pipelines/webcam.sh` (`SOURCE ! emotiondetect !
//! autovideosink`, no converter) under Xvfb, on a YUY2 640x480 version of Megamind.avi and on a
//! source offering YUY2 in several sizes, as v4l2src does: faces found, to EOS, in a window.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// An Xvfb server on a free display, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        for n in 90..130 {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
            {
                continue;
            }
            let display = format!(":{n}");
            let mut child = Command::new("Xvfb")
                .args([display.as_str(), "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (apt package xvfb; scripts/test.sh installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Xvfb { child, display };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("Xvfb {display} did not start in 10 s");
        }
        panic!("no free X display in :90..:130");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs pipelines/webcam.sh with `source` on the Xvfb display, the built plugin and messages on;
/// returns the output, asserting it ran to EOS.
fn webcam_sh(x: &Xvfb, source: &str) -> String {
    let gst = ChildGst::new();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_dir().join("pipelines/webcam.sh")).env("SOURCE", source).env("MESSAGES", "1").env("DISPLAY", &x.display);
    let out = gst.apply(&mut cmd, 0).output().expect("bash");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "webcam.sh SOURCE={source}: {}\n{}", out.status, tail(&text));
    assert!(text.contains("Got EOS from element"), "webcam.sh SOURCE={source}: no EOS\n{}", tail(&text));
    assert!(!text.contains("ERROR"), "{}", tail(&text));
    text
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The frames the element skipped on QoS (late at the display sink, as every GstVideoFilter
/// does by default): the `dropped` count of its last QoS message, 0 if it posted none.
fn qos_dropped(text: &str) -> usize {
    text.lines()
        .filter(|l| l.contains("\"emotiondetect0\" (qos)"))
        .filter_map(|l| l.split("dropped=(guint64)").nth(1))
        .filter_map(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// The element messages in gst-launch -m output, and how many of them have a face.
fn frames_and_faces(text: &str) -> (usize, usize) {
    let messages: Vec<&str> = text.lines().filter(|l| l.contains("emotiondetect, timestamp=")).collect();
    // Each face structure has a `label-id` field (escaped inside the faces list; the JSON's is `label_id`).
    let with_faces = messages.iter().filter(|l| l.contains("label-id")).count();
    (messages.len(), with_faces)
}

#[test]
fn the_webcam_line_runs_on_yuy2_in_a_window_under_xvfb() {
    let x = Xvfb::start();
    // A YUY2 640x480 file, as a UVC camera delivers frames.
    let dir = TempDir::new("webcam");
    let clip = dir.path().join("megamind-yuy2.avi");
    let status = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "filesrc",
            &format!("location={}", megamind().display()),
            "!",
            "decodebin",
            "!",
            "videoconvert",
            "!",
            "videoscale",
            "!",
        ])
        .args(["video/x-raw,format=YUY2,width=640,height=480", "!", "avimux", "!", "filesink", &format!("location={}", clip.display())])
        .status()
        .expect("gst-launch-1.0");
    assert!(status.success(), "making the YUY2 clip");
    let text = webcam_sh(&x, &format!("filesrc location={} ! avidemux", clip.display()));
    // No converter in the line: the element takes the clip's YUY2 as it comes.
    let (frames, faces) = frames_and_faces(&text);
    let skipped = qos_dropped(&text);
    println!("YUY2 640x480 Megamind: {frames} frames analysed, {skipped} skipped on QoS, {faces} with faces");
    // Every frame is either analysed (one message) or skipped late on QoS, and skips stay rare.
    assert_eq!(frames + skipped, 270, "{frames} messages + {skipped} QoS drops:\n{}", tail(&text));
    assert!(frames >= 200 && faces * 10 >= frames * 8, "{frames} frames, {faces} with faces");

    // A source that offers several sizes, as v4l2src does: negotiation picks one, no converter.
    let sizes = "video/x-raw,format=YUY2,width=640,height=480,framerate=30/1;video/x-raw,format=YUY2,width=1280,height=720,framerate=10/1;video/x-raw,format=YUY2,width=320,height=240,framerate=30/1";
    let text = webcam_sh(&x, &format!("videotestsrc num-buffers=30 ! capsfilter caps=\"{sizes}\""));
    let (frames, skipped) = (frames_and_faces(&text).0, qos_dropped(&text));
    assert_eq!(frames + skipped, 30, "one message per frame not skipped on QoS ({skipped}):\n{}", tail(&text));
    assert!(frames >= 15, "{frames} of 30 frames analysed");
}
