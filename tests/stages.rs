// SPDX-License-Identifier: MIT
//! The `emotiondetect-stages` debug category on real video: one line of stage times per frame
//! at DEBUG, the medians over the stream at INFO on EOS (what bench/stages.sh reads).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const STAGES: [&str; 10] = ["map", "prepare", "detector_run", "decode", "track", "crop", "classifier_run", "report", "draw", "message"];

/// The `name=value` pairs of a log line.
fn fields(line: &str) -> BTreeMap<String, f64> {
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?))).collect()
}

#[test]
fn every_frame_and_the_medians_are_logged_with_each_stage() {
    init();
    let lines: Arc<Mutex<Vec<(gst::DebugLevel, String)>>> = Arc::default();
    let sink = lines.clone();
    gst::log::set_active(true);
    gst::log::set_threshold_for_name("emotiondetect-stages", gst::DebugLevel::Debug);
    gst::log::add_log_function(move |cat, level, _file, _function, _line, _object, message| {
        if cat.name() == "emotiondetect-stages" {
            sink.lock().unwrap().push((level, message.get().map(|m| m.to_string()).unwrap_or_default()));
        }
    });
    let frames = 40;
    let desc = format!("filesrc location={} ! decodebin ! identity eos-after={frames} ! emotiondetect ! fakesink", megamind().display());
    run_pipeline(&desc, Duration::from_secs(120));
    let lines = lines.lock().unwrap().clone();

    let per_frame: Vec<BTreeMap<String, f64>> =
        lines.iter().filter(|(l, m)| *l == gst::DebugLevel::Debug && m.starts_with("frame ")).map(|(_, m)| fields(m)).collect();
    assert!(per_frame.len() >= frames as usize - 2, "{} frame lines for {frames} frames", per_frame.len());
    for f in &per_frame {
        let sum: f64 = STAGES.iter().map(|s| f.get(*s).copied().unwrap_or_else(|| panic!("no {s} in {f:?}"))).sum();
        // Each figure is printed rounded to a microsecond.
        assert!((sum - f["total"]).abs() < 0.01, "the stages add up to the total: {f:?}");
        let outside = f["total"] - f["detector_run"] - f["classifier_run"];
        assert!((outside - f["outside_inference"]).abs() < 0.01, "{f:?}");
        assert!(f["prepare"] > 0.0 && f["detector_run"] > 0.0, "the detector ran on every frame: {f:?}");
    }
    assert!(per_frame.iter().any(|f| f["classifier_run"] > 0.0 && f["crop"] > 0.0), "Megamind's faces were classified");

    let summaries: Vec<BTreeMap<String, f64>> =
        lines.iter().filter(|(l, m)| *l == gst::DebugLevel::Info && m.starts_with("stage medians")).map(|(_, m)| fields(m)).collect();
    assert_eq!(summaries.len(), 1, "one summary at EOS (and none again at stop): {lines:?}");
    let s = &summaries[0];
    assert_eq!(s["frames"] as usize, per_frame.len(), "{s:?}");
    let mut runs: Vec<f64> = per_frame.iter().map(|f| f["detector_run"]).collect();
    runs.sort_by(f64::total_cmp);
    let n = runs.len();
    let median = if n % 2 == 1 { runs[n / 2] } else { (runs[n / 2 - 1] + runs[n / 2]) / 2.0 };
    assert!((s["detector_run"] - median).abs() < 0.002, "the median detector run: {} vs {median}", s["detector_run"]);
}
