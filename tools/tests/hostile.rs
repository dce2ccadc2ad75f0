// SPDX-License-Identifier: MIT
//! Both tools attacked as a hostile user or a broken system would (issue 14, class 5): file
//! names that are not UTF-8, a run killed with SIGKILL (its hidden partial files), Ctrl-C while
//! the video is being finished, and a dataset with images that cannot be read. Run as child
//! processes, on the real photos, video and FER2013 images.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const VIDEO_TOOL: &str = env!("CARGO_BIN_EXE_emotiondetect-video");
const EVAL_TOOL: &str = env!("CARGO_BIN_EXE_emotiondetect-eval");

fn show(what: &str, out: &Output) -> String {
    let text = format!(
        "$ {what}\n-> {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    text
}

/// Runs `tool` with `args`, killing it (and failing) after `limit`.
fn run_within(tool: &str, args: &[&OsStr], limit: Duration) -> Output {
    require_installed();
    let child = Command::new(tool).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the tool starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("waiting for the tool"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{tool} {args:?} hung for {limit:?}");
        }
    }
}

/// The hidden `.partial` files in `dir`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.as_os_str().as_bytes().ends_with(b".partial")).collect())
        .unwrap_or_default();
    found.sort();
    found
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fer_images(class: &str, n: usize) -> Vec<PathBuf> {
    let dir = shared_dir().join("datasets/fer2013/val").join(class);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("FER2013 val at {}: {e}: the datasets live in ../shared/datasets beside the checkout", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.truncate(n);
    files
}

#[test]
fn non_utf8_file_names_work_in_both_tools() {
    let dir = TempDir::new("non-utf8");
    let photo = dir.path().join(OsStr::from_bytes(b"caf\xe9.jpg"));
    std::fs::copy(group_photo("13.jpg"), &photo).unwrap();
    let out_dir = dir.path().join(OsStr::from_bytes(b"out\xff"));
    let out = run_within(VIDEO_TOOL, &[photo.as_os_str(), OsStr::new("-o"), out_dir.as_os_str()], Duration::from_secs(120));
    let text = show("emotiondetect-video caf\\xe9.jpg -o out\\xff", &out);
    assert!(out.status.success(), "{text}");
    for suffix in ["-annotated.png", "-probabilities.png", ".jsonl", "-frames.csv"] {
        let mut name = b"caf\xe9".to_vec();
        name.extend_from_slice(suffix.as_bytes());
        assert!(out_dir.join(OsStr::from_bytes(&name)).is_file(), "{} missing: {text}", String::from_utf8_lossy(&name));
    }

    let dataset = dir.path().join(OsStr::from_bytes(b"data\xe9"));
    std::fs::create_dir_all(dataset.join("happy")).unwrap();
    for (i, f) in fer_images("happy", 3).iter().enumerate() {
        std::fs::copy(f, dataset.join("happy").join(OsStr::from_bytes(format!("\u{e9}{i}.jpg").as_bytes()))).unwrap();
    }
    std::fs::copy(&fer_images("happy", 4)[3], dataset.join("happy").join(OsStr::from_bytes(b"\xe9\xff.jpg"))).unwrap();
    let png = dir.path().join(OsStr::from_bytes(b"m\xe9.png"));
    let out = run_within(EVAL_TOOL, &[dataset.as_os_str(), OsStr::new("--png"), png.as_os_str()], Duration::from_secs(120));
    let text = show("emotiondetect-eval data\\xe9 --png m\\xe9.png", &out);
    assert!(out.status.success() && text.contains("images=4"), "{text}");
    assert!(png.is_file(), "{text}");
}

#[test]
fn the_partial_files_of_a_killed_run_are_removed_by_the_next() {
    require_installed();
    let dir = TempDir::new("killed");
    let out_dir = dir.path().join("out");
    let mut child: Child = Command::new(VIDEO_TOOL)
        .arg(megamind())
        .arg("-o")
        .arg(&out_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tool starts");
    wait_for("the first partial file", Duration::from_secs(60), || !partials(&out_dir).is_empty());
    child.kill().expect("SIGKILL"); // no chance to clean up
    child.wait().unwrap();
    let left = partials(&out_dir);
    assert!(!left.is_empty(), "the killed run left its partial files");
    println!("left by the killed run: {left:?}");

    // The next run for the same name (a photo called Megamind.jpg) cleans them up.
    let photo = dir.path().join("Megamind.jpg");
    std::fs::copy(group_photo("13.jpg"), &photo).unwrap();
    let out = run_within(VIDEO_TOOL, &[photo.as_os_str(), OsStr::new("-o"), out_dir.as_os_str()], Duration::from_secs(120));
    let text = show("emotiondetect-video Megamind.jpg", &out);
    assert!(out.status.success(), "{text}");
    assert_eq!(partials(&out_dir), Vec::<PathBuf>::new(), "stale partial files are removed: {text}");
    assert!(text.contains("left by an earlier run that was killed"), "it says what it removed: {text}");
}

#[test]
fn ctrl_c_while_the_video_is_finished_keeps_the_reports() {
    require_installed();
    let dir = TempDir::new("sigint");
    let out_dir = dir.path().join("out");
    // --grace 0: finishing the video counts as stuck at once (as a slow encoder or disk makes it
    // after the grace period in a real run): the reports must be kept all the same.
    let child = Command::new(VIDEO_TOOL)
        .arg(megamind())
        .args(["-o", out_dir.to_str().unwrap(), "--grace", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    let mp4 = || partials(&out_dir).into_iter().find(|p| p.to_string_lossy().contains("-emotions.mp4"));
    wait_for("100 kB of video", Duration::from_secs(120), || {
        mp4().and_then(|p| std::fs::metadata(p).ok()).is_some_and(|m| m.len() > 100_000)
    });
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let text = show("emotiondetect-video Megamind.avi --grace 0, then SIGINT", &out);
    assert_eq!(out.status.code(), Some(130), "{text}");
    for name in ["Megamind.jsonl", "Megamind-people.csv", "Megamind-frames.csv", "Megamind-timeline.png"] {
        assert!(out_dir.join(name).is_file(), "{name} kept: {text}");
    }
    let lines = std::fs::read_to_string(out_dir.join("Megamind.jsonl")).unwrap().lines().count();
    assert!(lines > 0 && lines < 270, "the part analysed: {lines} frames");
    assert!(!out_dir.join("Megamind-emotions.mp4").exists(), "an unfinished MP4 is not kept: {text}");
    assert!(text.contains("the MP4 was not kept") && text.contains("wrote Megamind.jsonl"), "it says what it kept: {text}");
    assert_eq!(partials(&out_dir), Vec::<PathBuf>::new(), "no partial file left");
}

#[test]
fn unreadable_images_are_skipped_counted_and_reported() {
    let dir = TempDir::new("eval-unreadable");
    let dataset = dir.path().join("data");
    for class in ["happy", "sad"] {
        std::fs::create_dir_all(dataset.join(class)).unwrap();
        for f in fer_images(class, 3) {
            std::fs::copy(&f, dataset.join(class).join(f.file_name().unwrap())).unwrap();
        }
    }
    // Sorted first: a file that is no image, a FIFO (its open would block) and a directory.
    std::fs::write(dataset.join("happy/0-garbage.jpg"), "this is not a JPEG\n").unwrap();
    let fifo = dataset.join("happy/0-fifo.jpg");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success(), "mkfifo");
    std::fs::create_dir(dataset.join("sad/0-folder.jpg")).unwrap();
    let png = dir.path().join("confusion.png");
    let out = run_within(EVAL_TOOL, &[dataset.as_os_str(), OsStr::new("--png"), png.as_os_str()], Duration::from_secs(120));
    let text = show("emotiondetect-eval data (3 unreadable images)", &out);
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("skipped=3"), "{text}");
    for name in ["0-garbage.jpg", "0-fifo.jpg", "0-folder.jpg"] {
        assert!(String::from_utf8_lossy(&out.stderr).contains(name), "{name} named: {text}");
    }
    assert!(png.is_file());
}
