// SPDX-License-Identifier: MIT
//! Property tests (proptest) of the report code of `emotiondetect-video`: JSON lines of any
//! content never make the reader panic, and generated people and frames (from none to hundreds
//! of people, with NaN and infinite probabilities) always render a timeline PNG of the size
//! the number of plotted people gives, and a bar chart of at most `MAX_BAR_FACES` faces.
//! `PROPTEST_CASES=N` scales the cases (default 100,000 for the whole tier, of which this file
//! takes a small share: each render is milliseconds).

use emotiondetect_tools::report::{self, FaceSample, FrameRecord, TimelineOptions};
use proptest::prelude::*;

fn cases(weight: f64) -> ProptestConfig {
    let total: f64 = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000.0);
    ProptestConfig { cases: ((total * weight) as u32).max(1), failure_persistence: None, ..ProptestConfig::default() }
}

fn labels() -> Vec<String> {
    ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"].iter().map(|l| l.to_string()).collect()
}

fn score() -> impl Strategy<Value = f32> {
    prop_oneof![6 => 0.0f32..1.0, 1 => Just(f32::NAN), 1 => Just(f32::INFINITY), 1 => Just(1e38f32), 1 => Just(f32::MIN_POSITIVE / 4.0)]
}

/// Frames 1/25 s apart (with gaps), each with some of `people` people.
fn frames() -> impl Strategy<Value = Vec<FrameRecord>> {
    let face = (0u64..300, prop::option::weighted(0.9, 0usize..7), prop::collection::vec(score(), 0..8), any::<[u32; 4]>(), score())
        .prop_map(|(id, label_id, scores, bbox, confidence)| FaceSample { id, label_id, scores, bbox, confidence });
    let frame = (0u32..3, prop::collection::vec(face, 0..20));
    prop::collection::vec(frame, 0..40).prop_map(|fs| {
        let mut t = 0.0;
        fs.into_iter()
            .map(|(gap, faces)| {
                t += 0.04 * (1 + gap) as f64;
                FrameRecord { time: t, faces }
            })
            .collect()
    })
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG");
    (reader.info().width, reader.info().height)
}

proptest! {
    #![proptest_config(cases(0.0003))]
    #[test]
    fn timelines_render_with_the_height_of_the_plotted_people(
        frames in frames(),
        min_seconds in prop_oneof![Just(0.0), 0.0f64..2.0, Just(f64::NAN)],
        max_people in prop_oneof![Just(0usize), 1usize..12],
        width in prop_oneof![Just(0u32), 100u32..1300],
    ) {
        let people = report::summarize(&frames, 7);
        let opts = TimelineOptions { title: "t\u{e9}st".into(), min_seconds, max_people, width, note: None, ..Default::default() };
        let png = report::render_timeline(&frames, &people, &labels(), &opts).unwrap();
        let plotted = report::plotted_people(&people, min_seconds, max_people).0.len();
        prop_assert!(plotted <= max_people);
        let (w, h) = png_size(&png);
        prop_assert_eq!(w, width.max(400));
        prop_assert_eq!(h, report::HEADER_HEIGHT + report::AUDIENCE_HEIGHT + report::PANEL_HEIGHT * plotted.max(1) as u32);
    }

    #[test]
    fn bar_charts_render_at_most_the_maximum_of_faces(frames in frames()) {
        let faces: Vec<FaceSample> = frames.into_iter().flat_map(|f| f.faces).collect();
        let png = report::render_probabilities(&faces, &labels(), "x.jpg").unwrap();
        let n = faces.len().min(report::MAX_BAR_FACES);
        let rows = n.div_ceil(report::bar_columns(n)).max(1) as u32;
        prop_assert_eq!(png_size(&png).1, report::BARS_HEADER + report::BARS_HEIGHT * rows);
    }
}

proptest! {
    #![proptest_config(cases(0.02))]
    #[test]
    fn json_lines_of_any_content_are_read_or_refused_without_panic(
        lines in prop::collection::vec(prop_oneof![
            "\\PC{0,80}",
            Just(r#"{"resolution":{"width":1,"height":1},"timestamp":null,"objects":[]}"#.to_string()),
            Just(r#"{"resolution":{"width":1,"height":1},"timestamp":18446744073709551615,"objects":[]}"#.to_string()),
            Just(r#"{"resolution":{"width":1,"height":1},"timestamp":0,"objects":[{"x":1}]}"#.to_string()),
        ], 0..20),
    ) {
        let text = lines.join("\n");
        if let Ok(frames) = report::read_jsonl(text.as_bytes(), &labels()) {
            prop_assert!(frames.iter().all(|f| f.time.is_finite()));
            let people = report::summarize(&frames, 7);
            prop_assert!(people.iter().all(|p| (p.shares.iter().sum::<f64>() + p.unknown - 1.0).abs() < 1e-9));
        }
    }
}
