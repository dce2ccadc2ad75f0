// SPDX-License-Identifier: MIT
//! The `emotiondetect-video` command-line tool, run as a child process the way a user runs it:
//! on Megamind.avi it writes the annotated MP4, the JSON lines, the per-person CSV and the
//! timeline PNG; on corrupt, truncated or audio-only input and on bad properties it fails with
//! a clear message and leaves nothing behind.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use emotiondetect_tools::report;
use serde_json::Value;

const MEGAMIND_FRAMES: usize = 270;
const TOOL: &str = env!("CARGO_BIN_EXE_emotiondetect-video");

/// Runs the tool with `args`; stdout and stderr are pipes, so no progress bar is drawn.
fn run_tool(args: &[&str]) -> Output {
    require_installed();
    let out = Command::new(TOOL).args(args).output().unwrap_or_else(|e| panic!("running {TOOL}: {e}"));
    println!(
        "$ emotiondetect-video {}\n-> {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every entry of `dir`, hidden ones (the `.partial` files) included, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gst-discoverer-1.0 FILE`'s description of the streams.
fn discover(file: &Path) -> String {
    let out = Command::new("gst-discoverer-1.0")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("gst-discoverer-1.0 (apt package gstreamer1.0-plugins-base-apps, ./setup.sh installs it): {e}"));
    assert!(out.status.success(), "gst-discoverer-1.0 {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn megamind_gives_video_json_csv_and_plot() {
    let video = megamind();
    let dir = TempDir::new("cli-megamind");
    let out_dir = dir.path().join("results"); // created by the tool
    let out = run_tool(&[s(&video), "-o", s(&out_dir)]);
    assert!(out.status.success(), "exit status {}: {}", out.status, stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("270 frames") && summary.contains("Megamind-emotions.mp4"), "summary line: {summary}");
    assert_eq!(
        entries(&out_dir),
        [
            "Megamind-emotions.mp4",
            "Megamind-frames.csv",
            "Megamind-people.csv",
            "Megamind-people.json",
            "Megamind-report.html",
            "Megamind-timeline.png",
            "Megamind.jsonl"
        ],
        "the seven outputs and nothing else (no partial files)"
    );
    // Megamind.avi's AC-3 audio, which browsers cannot play from an MP4, is encoded to AAC.
    assert!(summary.contains("audio encoded to AAC"), "{summary}");
    let streams = discover(&out_dir.join("Megamind-emotions.mp4"));
    assert!(streams.contains("audio #") && streams.contains("AAC") && !streams.contains("AC-3"), "AAC audio:\n{streams}");

    // The MP4 decodes back to every frame, at the input size.
    let mp4 = out_dir.join("Megamind-emotions.mp4");
    let desc = format!("filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! appsink name=sink", mp4.display());
    let run = run_pipeline(&desc, Duration::from_secs(120));
    assert_eq!(run.samples.len(), MEGAMIND_FRAMES, "frames in the MP4");
    let info = video_info(&run.samples[0]);
    assert_eq!((info.width(), info.height()), (720, 528));

    // One JSON object per frame in the gvametaconvert shape.
    let jsonl = std::fs::read_to_string(out_dir.join("Megamind.jsonl")).unwrap();
    let frames: Vec<Value> =
        jsonl.lines().enumerate().map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1))).collect();
    assert_eq!(frames.len(), MEGAMIND_FRAMES, "one line per frame");
    let uri = gst::glib::filename_to_uri(&video, None).unwrap();
    let mut per_id: BTreeMap<u64, Vec<(f64, String, f64)>> = BTreeMap::new();
    let t0 = frames[0]["timestamp"].as_u64().unwrap();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["resolution"]["width"], 720, "line {}", i + 1);
        assert_eq!(f["resolution"]["height"], 528);
        assert_eq!(f["source"], uri.as_str());
        let ts = f["timestamp"].as_u64().unwrap_or_else(|| panic!("line {}: timestamp {}", i + 1, f["timestamp"]));
        for o in f["objects"].as_array().expect("objects") {
            assert_eq!(o["roi_type"], "face");
            for k in ["x", "y", "w", "h", "region_id", "id"] {
                assert!(o[k].is_u64(), "line {}: `{k}` in {o}", i + 1);
            }
            let bb = &o["detection"]["bounding_box"];
            for k in ["x_min", "y_min", "x_max", "y_max"] {
                assert!(bb[k].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "line {}: {k} in {o}", i + 1);
            }
            assert_eq!((&o["detection"]["label"], &o["detection"]["label_id"]), (&Value::from("face"), &Value::from(0)));
            assert!(o["detection"]["confidence"].as_f64().unwrap() > 0.0);
            let label = o["emotion"]["label"].as_str().unwrap();
            assert!(FER_LABELS.contains(&label), "{label}");
            assert_eq!(FER_LABELS[o["emotion"]["label_id"].as_u64().unwrap() as usize], label);
            assert!(o["emotion"]["confidence"].as_f64().unwrap() > 0.0);
            assert!(o["emotion"]["model"]["name"].is_string());
            let confidence = o["detection"]["confidence"].as_f64().unwrap();
            per_id.entry(o["id"].as_u64().unwrap()).or_default().push(((ts - t0) as f64 / 1e9, label.to_string(), confidence));
        }
    }
    assert!(!per_id.is_empty(), "faces were found");

    // The per-frame CSV: one row per face of the JSON lines, a probability column per label.
    let mut csv = csv::Reader::from_path(out_dir.join("Megamind-frames.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let mut expected: Vec<String> = ["time_s", "track_id", "x", "y", "w", "h", "label"].iter().map(|h| h.to_string()).collect();
    expected.extend(FER_LABELS.iter().map(|l| l.to_string()));
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let faces: Vec<&Value> = frames.iter().flat_map(|f| f["objects"].as_array().unwrap()).collect();
    assert_eq!(rows.len(), faces.len(), "one row per face in the JSON lines");
    assert!(rows.len() > 300, "{} faces", rows.len());
    for (r, o) in rows.iter().zip(&faces) {
        assert_eq!(r[1], o["id"].to_string(), "{r:?}");
        for (i, k) in ["x", "y", "w", "h"].iter().enumerate() {
            assert_eq!(r[2 + i], o[*k].to_string(), "{k} of {r:?}");
        }
        assert_eq!(&r[6], o["emotion"]["label"].as_str().unwrap());
        for (l, p) in o["emotion"]["smoothed_scores"].as_array().unwrap().iter().enumerate() {
            assert!((r[7 + l].parse::<f64>().unwrap() - p.as_f64().unwrap()).abs() < 1e-4, "{} of {r:?}", FER_LABELS[l]);
        }
    }

    // The CSV: one row per track id of the JSON lines, consistent with them.
    let mut csv = csv::Reader::from_path(out_dir.join("Megamind-people.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let mut expected: Vec<String> = [
        "track_id",
        "first_seen_s",
        "last_seen_s",
        "seconds_seen",
        "frames",
        "seconds_classified",
        "mean_confidence",
        "min_confidence",
        "dominant_emotion",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    expected.extend(FER_LABELS.iter().map(|l| format!("share_{l}")));
    expected.push("share_unknown".into());
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let ids: BTreeSet<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "one row per track id");
    // People: the tracks seen for 0.5 s or more (--min-track-seconds) that the detector was on
    // average at least 0.8 sure of (--min-track-confidence). Megamind's 3 characters appear in
    // 5 shots, each a new track; a box on the background (mean confidence about 0.74) is not one.
    let interval = 1.0 / (2997.0 / 125.0);
    let counted = |seen: &Vec<(f64, String, f64)>| {
        let mean = seen.iter().map(|s| s.2).sum::<f64>() / seen.len() as f64;
        seen.len() as f64 * interval + 1e-6 >= 0.5 && mean >= 0.8
    };
    let people: BTreeSet<u64> = per_id.iter().filter(|(_, seen)| counted(seen)).map(|(id, _)| *id).collect();
    assert_eq!(ids, people, "the CSV's people are the JSON lines' long and confident tracks");
    assert_eq!(ids.len(), 5, "5 people (3 characters in 5 shots)");
    let uncertain = per_id.len() - ids.len();
    assert!(uncertain >= 1, "the background box is a track in the JSON lines");
    assert!(summary.contains(&format!("{} people", ids.len())) && summary.contains("not counted"), "{summary}");
    let mut plotted = 0;
    for r in &rows {
        let f = |i: usize| -> f64 { r[i].parse().unwrap_or_else(|e| panic!("column {i} of {r:?}: {e}")) };
        let seen = &per_id[&r[0].parse::<u64>().unwrap()];
        let (first, last, seconds, frames) = (f(1), f(2), f(3), f(4) as usize);
        assert!(first <= last, "first seen {first} > last seen {last}");
        assert!((first - seen[0].0).abs() < 1e-3 && (last - seen[seen.len() - 1].0).abs() < 1e-3, "{r:?}");
        assert_eq!(frames, seen.len(), "frames of {r:?}");
        let (classified, mean, min) = (f(5), f(6), f(7));
        assert!(classified <= seconds + 1e-9, "classified {classified} s of {seconds} s: {r:?}");
        assert!((0.6..=1.0).contains(&min) && min <= mean + 1e-9 && mean <= 1.0, "detection confidence of {r:?} (threshold 0.6)");
        let shares: Vec<f64> = (9..16).map(f).collect();
        assert!(shares.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-3, "shares of {r:?} sum to 1");
        for (l, label) in FER_LABELS.iter().enumerate() {
            let n = seen.iter().filter(|(_, s, _)| s == label).count();
            assert!((shares[l] - n as f64 / frames as f64).abs() < 1e-4, "share of {label} in {r:?}");
        }
        let top = shares.iter().cloned().fold(0.0, f64::max);
        assert_eq!(shares[FER_LABELS.iter().position(|l| *l == &r[8]).unwrap()], top, "dominant emotion of {r:?}");
        if seconds >= 1.0 {
            plotted += 1;
        }
    }
    println!("{}", std::fs::read_to_string(out_dir.join("Megamind-people.csv")).unwrap());

    // The people JSON: the CSV's people with the limits and what they left out.
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("Megamind-people.json")).unwrap()).unwrap();
    let json_ids: BTreeSet<u64> = json["people"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(json_ids, ids);
    assert_eq!((json["min_track_seconds"].as_f64(), json["min_track_confidence"].as_f64()), (Some(0.5), Some(0.8)));
    assert_eq!(json["brief_tracks"].as_u64().unwrap() + json["uncertain_tracks"].as_u64().unwrap(), uncertain as u64);
    for p in json["people"].as_array().unwrap() {
        assert!(p["mean_confidence"].as_f64().unwrap() >= 0.8 && FER_LABELS.contains(&p["dominant_emotion"].as_str().unwrap()), "{p}");
        let shares: f64 = p["shares"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((shares - 1.0).abs() < 1e-6, "{p}");
    }
    // The report page: a row and a thumbnail per person (opened in a browser: web/tests/browser.rs).
    let html = std::fs::read_to_string(out_dir.join("Megamind-report.html")).unwrap();
    for id in &ids {
        assert!(html.contains(&format!("<tr id=\"person-{id}\">")), "person #{id} in the report");
    }
    assert_eq!(html.matches("<img class=\"face\"").count(), ids.len(), "a thumbnail per person");
    assert!(html.contains("src=\"Megamind-emotions.mp4\"") && html.contains("href=\"Megamind-people.csv\""));

    // --audio copy keeps the AC-3 track as it is (mp4mux takes it).
    let copy_dir = dir.path().join("copy");
    let out = run_tool(&[s(&video), "-o", s(&copy_dir), "--audio", "copy", "threshold=0.9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audio copied (audio/x-ac3)"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(discover(&copy_dir.join("Megamind-emotions.mp4")).contains("AC-3"));

    // The PNG decodes; one panel per person seen for 1 s or more, under the header, and the
    // emotion colours are in it.
    let png = std::fs::read(out_dir.join("Megamind-timeline.png")).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png)).read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    assert_eq!(
        (info.width, info.height),
        (1200, report::HEADER_HEIGHT + report::AUDIENCE_HEIGHT + report::PANEL_HEIGHT * plotted.max(1) as u32),
        "{plotted} people plotted"
    );
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let colours = emotiondetect_core::overlay::EMOTION_COLOURS;
    let used = colours.iter().filter(|c| pixels.chunks(3).any(|p| p == &c[..])).count();
    assert_eq!(used, colours.len(), "every emotion colour appears (at least in the legend)");
}

/// A text file named .mp4, the first 100 KB of Megamind.avi, an audio-only file and a
/// Matroska file cut in half: non-zero exit, a message naming the file and the problem, and no
/// file left in DIR (nor DIR itself when the tool created it).
#[test]
fn corrupt_truncated_and_audio_only_inputs_fail_cleanly() {
    let dir = TempDir::new("cli-bad");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();

    let text = inputs.join("x.mp4");
    std::fs::write(&text, "this is a text file, not a video\n").unwrap();

    let truncated = inputs.join("Megamind-truncated.avi");
    std::fs::write(&truncated, &std::fs::read(megamind()).unwrap()[..100_000]).unwrap();

    let audio = inputs.join("tone.wav");
    run_pipeline(
        &format!("audiotestsrc num-buffers=20 ! audioconvert ! wavenc ! filesink location={}", audio.display()),
        Duration::from_secs(30),
    );

    let mkv = inputs.join("full.mkv");
    run_pipeline(
        &format!(
            "videotestsrc num-buffers=100 ! video/x-raw,width=160,height=120,framerate=25/1 ! x264enc ! h264parse ! matroskamux ! filesink location={}",
            mkv.display()
        ),
        Duration::from_secs(60),
    );
    let cut = inputs.join("cut.mkv");
    let bytes = std::fs::read(&mkv).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    let cases: [(&Path, &[&str]); 4] = [
        (&text, &["Could not determine type of stream"]),
        (&truncated, &["truncated", "declares 1189270 bytes", "has 100000"]),
        (&audio, &["no video stream", "audio/x-raw"]),
        (&cut, &["truncated or damaged", "declares 4.0 s"]),
    ];
    for (input, expected) in cases {
        // An existing, empty DIR stays empty.
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = run_tool(&[s(input), "-o", s(&out_dir)]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", input.display());
        assert!(err.contains(s(input)), "the message names the input: {err}");
        for e in expected {
            assert!(err.contains(e), "`{err}` should contain `{e}`");
        }
        assert!(err.starts_with("emotiondetect-video: error while "), "says what the tool was doing: {err}");
        assert_eq!(entries(&out_dir), Vec::<String>::new(), "{}: nothing left in DIR", input.display());
        assert!(out.stdout.is_empty(), "no summary line on failure");

        // A DIR the tool creates is removed again.
        let new_dir = dir.path().join("new");
        let out = run_tool(&[s(input), "-o", s(&new_dir)]);
        assert!(!out.status.success());
        assert!(!new_dir.exists(), "{} left behind", new_dir.display());
    }
}

#[test]
fn bad_properties_are_rejected_before_anything_runs() {
    let video = megamind();
    let dir = TempDir::new("cli-props");
    let out_dir: PathBuf = dir.path().join("out");
    let out = run_tool(&[s(&video), "-o", s(&out_dir), "threshold=0.5", "no-such-property=1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no property `no-such-property`"), "{err}");
    assert!(!err.contains("did you mean"), "nothing is near no-such-property: {err}");
    for p in ["threshold", "face-model", "inference-interval", "emotion-smoothing", "draw"] {
        assert!(err.contains(p), "the element's properties are listed: {err}");
    }
    assert!(!err.contains("active-device"), "read-only properties are not offered: {err}");
    assert!(!err.contains("metadata-file"), "the tool's own property is not offered: {err}");
    assert!(!out_dir.exists(), "nothing is created");

    // Typos get the nearest property name.
    for (typo, meant) in
        [("treshold", "threshold"), ("inference-intervall", "inference-interval"), ("max_faces", "max-faces"), ("drw", "draw")]
    {
        let out = run_tool(&[s(&video), "-o", s(&out_dir), &format!("{typo}=1")]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("no property `{typo}` (did you mean {meant}?)")), "{typo}: {err}");
        assert!(!out_dir.exists());
    }
    for (arg, expected) in [
        ("threshold=2", "out of range 0..1"),
        ("threshold=high", "not a valid gdouble"),
        ("draw=maybe", "not a valid gboolean"),
        ("metadata-file=x.jsonl", "set by emotiondetect-video"),
        ("threshold", "expected PROP=VALUE"),
    ] {
        let out = run_tool(&[s(&video), "-o", s(&out_dir), arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(stderr(&out).contains(expected), "{arg}: {}", stderr(&out));
        assert!(!out_dir.exists());
    }
}

/// PROP=VALUE reaches the element (max-faces=1 on a photo of two faces).
#[test]
fn properties_reach_the_element() {
    let photo = group_photo("13.jpg");
    let dir = TempDir::new("cli-photo");
    // (frames in the JSON lines, faces in them, rows of the frames CSV)
    let analyse = |props: &[&str]| -> (usize, usize, usize) {
        let mut args = vec![s(&photo), "-o", s(dir.path())];
        args.extend_from_slice(props);
        let out = run_tool(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let jsonl = std::fs::read_to_string(dir.path().join("13.jsonl")).unwrap();
        let frames: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let faces = frames.iter().map(|f| f["objects"].as_array().unwrap().len()).sum();
        let rows = csv::Reader::from_path(dir.path().join("13-frames.csv")).unwrap().records().count();
        (frames.len(), faces, rows)
    };
    assert_eq!(analyse(&[]), (1, 2, 2), "13.jpg: one frame, two faces");
    // The second run replaces the first one's outputs.
    assert_eq!(analyse(&["max-faces=1", "draw=false"]), (1, 1, 1), "max-faces=1");
    assert_eq!(entries(dir.path()), ["13-annotated.png", "13-frames.csv", "13-probabilities.png", "13.jsonl"]);
}

fn decode_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info, pixels)
}

/// A still image gives the annotated picture (the element's overlay, at the photo's size), a
/// bar chart per face, the JSON line and the frames CSV; no MP4 and no timeline.
#[test]
fn a_photo_gives_an_annotated_png_and_bar_charts() {
    let photo = group_photo("13.jpg");
    let dir = TempDir::new("cli-still");
    let out = run_tool(&[s(&photo), "-o", s(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("image, 2 faces") && summary.contains("13-annotated.png"), "{summary}");
    assert_eq!(entries(dir.path()), ["13-annotated.png", "13-frames.csv", "13-probabilities.png", "13.jsonl"]);
    let frame: Value = serde_json::from_str(std::fs::read_to_string(dir.path().join("13.jsonl")).unwrap().trim()).unwrap();
    let faces = frame["objects"].as_array().unwrap();
    assert_eq!(faces.len(), 2);

    // The annotated PNG is the photo, with the overlay: each face's box in its emotion's colour.
    let (w, h) = (frame["resolution"]["width"].as_u64().unwrap() as u32, frame["resolution"]["height"].as_u64().unwrap() as u32);
    let (info, pixels) = decode_png(&dir.path().join("13-annotated.png"));
    assert_eq!((info.width, info.height), (w, h));
    let original = image::open(&photo).unwrap().to_rgb8();
    let bpp = info.color_type.samples();
    let colours = emotiondetect_core::overlay::EMOTION_COLOURS;
    for f in faces {
        let colour = colours[f["emotion"]["label_id"].as_u64().unwrap() as usize];
        let (x, y, fh) = ["x", "y", "h"].map(|k| f[k].as_u64().unwrap() as usize).into();
        // Along the box's left edge (below the tag) the pixels moved towards the label's colour,
        // away from the photo's own (the overlay is drawn on the decoder's I420 and converted
        // back to RGB, so the colour is not exact).
        let dist = |p: &[u8]| p.iter().zip(colour).map(|(&a, b)| (a as i32 - b as i32).abs()).sum::<i32>();
        let on_edge = (y + fh / 3..y + fh).filter(|&row| {
            (x.saturating_sub(1)..x + 2).any(|col| {
                let i = (row * w as usize + col) * bpp;
                let before = original.get_pixel(col as u32, row as u32).0;
                dist(&pixels[i..i + 3]) + 60 < dist(&before)
            })
        });
        assert!(on_edge.count() > fh / 2, "box of face {f} drawn");
    }

    // One bar chart per face, side by side, with the emotion colours.
    let (info, pixels) = decode_png(&dir.path().join("13-probabilities.png"));
    assert_eq!((info.width, info.height), (2 * report::BARS_WIDTH, report::BARS_HEADER + report::BARS_HEIGHT));
    let used = colours.iter().filter(|c| pixels.chunks(3).any(|p| p == &c[..])).count();
    assert!(used >= 5, "bars in the emotion colours ({used} of {})", colours.len());

    let rows = csv::Reader::from_path(dir.path().join("13-frames.csv")).unwrap().records().count();
    assert_eq!(rows, 2);
}

/// The reports name the classifier's own labels: a spec (`emotion-model-proc`) that calls the
/// default model's classes by their synonyms gives those names in the JSON lines and the CSV.
#[test]
fn reports_use_the_labels_of_the_classifier_spec() {
    let photo = group_photo("13.jpg");
    let dir = TempDir::new("cli-labels");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_dir().join("models/specs/fer2013_vggbn.json")).unwrap()).unwrap();
    let synonyms = ["anger", "disgusted", "fearful", "happiness", "sadness", "surprised", "calm"];
    spec["labels"] = serde_json::json!(synonyms);
    let spec_path = dir.path().join("synonyms.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let proc = format!("emotion-model-proc={}", s(&spec_path));
    let out = run_tool(&[s(&photo), "-o", s(dir.path()), &proc]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("13-frames.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(&synonyms.join(",")), "{header}");
    let jsonl = std::fs::read_to_string(dir.path().join("13.jsonl")).unwrap();
    let frame: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    for face in frame["objects"].as_array().unwrap() {
        let label = face["emotion"]["label"].as_str().unwrap();
        assert!(synonyms.contains(&label), "{label}");
        let listed = csv.lines().skip(1).any(|row| row.split(',').nth(6) == Some(label));
        assert!(listed, "{label} is a face's label in\n{csv}");
    }
}

/// The input's audio goes into the annotated MP4: Vorbis (which MP4 does not take) is encoded
/// to AAC; `--no-audio` leaves it out. (Megamind.avi's AC-3: see the first test.)
#[test]
fn audio_is_kept_unless_no_audio() {
    let dir = TempDir::new("cli-audio");
    let clip = dir.path().join("talk.mkv");
    // Megamind's MPEG-4 video as it is, with 11 s of a Vorbis tone, in Matroska.
    run_pipeline(
        &format!(
            "filesrc location={} ! avidemux name=d d.video_0 ! queue ! mux. \
             audiotestsrc num-buffers=480 ! audioconvert ! vorbisenc ! queue ! mux. \
             matroskamux name=mux ! filesink location={}",
            megamind().display(),
            clip.display()
        ),
        Duration::from_secs(60),
    );
    let input = discover(&clip);
    assert!(input.contains("Vorbis"), "the clip has Vorbis audio:\n{input}");

    let out = run_tool(&[s(&clip), "-o", s(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("audio encoded to AAC"), "{summary}");
    let mp4 = dir.path().join("talk-emotions.mp4");
    let streams = discover(&mp4);
    assert!(streams.contains("video #") && streams.contains("audio #") && streams.contains("AAC"), "video and AAC audio:\n{streams}");
    // The audio lasts as long as the tone.
    let run = run_pipeline(
        &format!("filesrc location={} ! qtdemux ! aacparse ! avdec_aac ! appsink name=sink", mp4.display()),
        Duration::from_secs(60),
    );
    let secs: f64 = run.samples.iter().filter_map(|s| s.buffer().and_then(|b| b.duration())).map(|d| d.nseconds() as f64 / 1e9).sum();
    assert!((secs - 480.0 * 1024.0 / 44100.0).abs() < 0.2, "{secs} s of audio");

    let out = run_tool(&[s(&clip), "-o", s(dir.path()), "--no-audio"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audio left out (--audio none)"));
    let streams = discover(&mp4);
    assert!(streams.contains("video #") && !streams.contains("audio #"), "no audio with --no-audio:\n{streams}");
}

/// `jpeg` with the SOF0 (8-bit, 3 components) width and height of every frame set to 30000.
fn declaring_30000(mut data: Vec<u8>) -> Vec<u8> {
    let sofs: Vec<usize> = data.windows(5).enumerate().filter(|(_, w)| *w == [0xFF, 0xC0, 0, 17, 8]).map(|(i, _)| i).collect();
    assert!(!sofs.is_empty(), "no SOF0");
    for sof in sofs {
        data[sof + 5..sof + 9].copy_from_slice(&[0x75, 0x30, 0x75, 0x30]);
    }
    data
}

#[test]
fn cut_and_oversized_pictures_are_refused_before_decoding() {
    let dir = TempDir::new("cli-pixels");
    let photo = std::fs::read(group_photo("13.jpg")).unwrap();
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &photo[..1000]).unwrap();
    let big = dir.path().join("big.jpg");
    std::fs::write(&big, declaring_30000(photo.clone())).unwrap();
    // A 64x48 MJPEG AVI: analysed within the default limit, refused from the demuxer's caps
    // (before any decoder) under --max-pixels 3000.
    let avi = dir.path().join("big.avi");
    run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! video/x-raw,width=64,height=48 ! identity eos-after=3 \
             ! jpegenc ! avimux ! filesink location=\"{}\"",
            megamind().display(),
            avi.display()
        ),
        Duration::from_secs(60),
    );
    let wide = dir.path().join("wide.avi");
    std::fs::copy(&avi, &wide).unwrap();
    let cases: [(&Path, &[&str], &[&str]); 4] = [
        (&cut, &[], &["cut short", "no end-of-image marker"]),
        (&big, &[], &["30000x30000 (900.0 MP)", "--max-pixels"]),
        (&wide, &["--max-pixels", "3000"], &["64x48", "over the limit of 3000 pixels"]),
        (&avi, &[], &[]),
    ];
    for (input, extra, expected) in cases {
        let out_dir = dir.path().join("out");
        let mut args = vec![s(input), "-o", s(&out_dir)];
        args.extend_from_slice(extra);
        let out = run_tool(&args);
        let err = stderr(&out);
        if expected.is_empty() {
            assert_eq!(out.status.code(), Some(0), "a 64x48 clip within the default limit: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{}: {err}", input.display());
        for e in expected {
            assert!(err.contains(e), "`{err}` should contain `{e}`");
        }
        assert!(!out_dir.exists() || entries(&out_dir).is_empty(), "nothing written for {}", input.display());
    }
}

/// vtest.avi's pedestrians are all under `min-emotion-face-size`: the summary and the timeline
/// say so, and how to classify them anyway; the people CSV gives 0 s classified.
#[test]
fn a_video_whose_faces_are_all_too_small_says_why_nothing_was_classified() {
    let video = shared_dir().join("media/videos/vtest.avi");
    let video = require_file(&video, "vtest.avi", "expected in ../shared/media/videos beside the checkout");
    let dir = std::env::temp_dir().join(format!("emotiondetect-video-small-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_tool(&[video.to_str().unwrap(), "-o", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = stdout.split("; 0 of ").nth(1).unwrap_or_else(|| panic!("no '0 of N faces' sentence: {stdout}"));
    let faces: usize = said.split_whitespace().next().unwrap().parse().unwrap();
    assert!(faces > 50, "{stdout}");
    assert!(
        said.contains(
            "faces were large enough to classify (min-emotion-face-size=25 px); set min-emotion-face-size=0 to classify them anyway"
        ),
        "{stdout}"
    );
    let mut csv = csv::Reader::from_path(dir.join("vtest-people.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| &r[5] == "0.000" && &r[8] == "unknown"), "nobody classified: {rows:?}");
    let png = std::fs::read(dir.join("vtest-timeline.png")).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png)).read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("PNG pixels");
    let header = &pixels[..(info.width * report::HEADER_HEIGHT * 3) as usize];
    assert!(header.chunks(3).filter(|p| p == &[170, 20, 20]).count() > 50, "the red sentence in the timeline's header");
    std::fs::remove_dir_all(dir).unwrap();
}
