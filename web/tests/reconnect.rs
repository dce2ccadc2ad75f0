// SPDX-License-Identifier: MIT
//! Cameras that drop (issue 24), as the web app's live sources meet them: `--source
//! cam=rtsp://…` against a real RTSP server (the `rtsp-server` example serving Megamind.avi in a
//! loop on 127.0.0.1) that is killed and started again on the same port after 5 s. Frames must
//! come back within 10 s of the restart, `GET /api/sources` must give the outage (how long, how
//! many frames lost) and the server's memory must not grow.

#[path = "../../tests/camera/mod.rs"]
mod camera;
#[path = "../../tests/common/mod.rs"]
mod common;
mod web;

use std::time::{Duration, Instant};

use camera::*;

/// How long the killed server stays down.
const DOWN: Duration = Duration::from_secs(5);

/// The source `cam` of `GET /api/sources`.
fn cam_status(base: &str) -> serde_json::Value {
    let sources = web::get_json(&format!("{base}/api/sources"));
    sources.as_array().and_then(|a| a.iter().find(|s| s["name"] == "cam")).cloned().unwrap_or_else(|| panic!("no source cam: {sources}"))
}

fn frames(base: &str) -> u64 {
    cam_status(base)["frames"].as_u64().expect("frames")
}

/// Waits up to `timeout` for more than `n` frames analysed; when they came.
fn beyond(base: &str, n: u64, timeout: Duration) -> Option<Instant> {
    wait_until(timeout, || (frames(base) > n).then(Instant::now))
}

#[test]
fn a_live_source_comes_back_after_the_camera_is_killed_and_restarted() {
    let _watchdog = Watchdog::new("a_live_source_comes_back_after_the_camera_is_killed_and_restarted", Duration::from_secs(150));
    let mut cam = Camera::start(free_port(), &common::megamind());
    let url = cam.url();
    let mut server = web::Server::start(&["--source", &format!("cam={url}")]);
    let base = server.base.clone();
    assert!(beyond(&base, 20, Duration::from_secs(60)).is_some(), "fewer than 20 frames in 60 s: {}", cam_status(&base));
    std::thread::sleep(Duration::from_secs(2));
    let rss_before = rss_tree_mb(server.pid());

    cam.kill();
    let killed = Instant::now();
    std::thread::sleep(DOWN);
    assert!(server.alive(), "the server ended when the camera went away");
    let before = frames(&base);
    let restarted = Instant::now();
    let _cam = Camera::start(cam.port, &common::megamind());
    let back = beyond(&base, before, Duration::from_secs(10));
    let back = back.unwrap_or_else(|| panic!("no frame within 10 s of the restart: {}", cam_status(&base)));
    eprintln!(
        "frames back {:.1} s after the restart, {:.1} s after the kill",
        (back - restarted).as_secs_f64(),
        (back - killed).as_secs_f64()
    );

    let status = cam_status(&base);
    eprintln!(
        "source after the outage: outages {}, warning {}, last_outage {}",
        status["outages"], status["warning"], status["last_outage"]
    );
    assert_eq!(status["outages"], 1, "one outage: {status}");
    let warning = status["warning"].as_str().unwrap_or_else(|| panic!("a warning: {status}"));
    assert!(warning.starts_with("camera cam came back after"), "the warning names the source, not its URI: {warning}");
    let w = parse_outage(warning).unwrap_or_else(|| panic!("cannot read the warning {warning:?}"));
    check_outage(&w, DOWN, back - killed);
    let last = &status["last_outage"];
    assert_eq!(last["frames_lost"].as_u64(), Some(w.frames_lost), "last_outage agrees with the warning: {last}");
    assert!((last["away_s"].as_f64().unwrap() - w.away_s).abs() < 0.05, "{last}");

    assert!(beyond(&base, before + 40, Duration::from_secs(20)).is_some(), "frames stopped again: {}", cam_status(&base));
    let rss_after = rss_tree_mb(server.pid());
    eprintln!("RSS of emotiondetect-web: {rss_before:.1} MB before the outage, {rss_after:.1} MB after");
    assert!(rss_after < rss_before + 50.0, "RSS grew from {rss_before:.1} to {rss_after:.1} MB");
}
