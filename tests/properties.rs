// SPDX-License-Identifier: MIT
//! Property tests (proptest) of the pure modules, on generated inputs that include NaN, +-Inf,
//! subnormals, zero and huge sizes, and empty and huge face lists: YuNet and UltraFace decoding,
//! NMS, face filtering, detector geometry, pre-processing (sizes, strides, formats, regions),
//! tracking, the FrameReport JSON round trip and model spec parsing. (Report rendering is in
//! `tools/tests/properties.rs`.)
//!
//! About 100,000 cases in all in a normal `cargo test --release`; `PROPTEST_CASES=N` sets the
//! total (shared out in the same proportions), e.g. `scripts/proptest.sh 2000000`.

use emotiondetect_core::classification::{probabilities, softmax, ClassifierSpec, OutputKind};
use emotiondetect_core::detection::{decode_ultraface, decode_yunet, detector_geometry, filter_faces, nms, Face, YunetLevel};
use emotiondetect_core::frame_report::{face_box, DetectionReport, EmotionReport, FaceReport, FrameReport, ModelRef, Resolution};
use emotiondetect_core::inference::{face_tensor, FaceCrop};
use emotiondetect_core::preprocess::{ColourOrder, Image, Normalisation, PixelLayout, TensorLayout, TensorTarget, YuvSpec};
use emotiondetect_core::tracking::{Tracker, TrackerParams};
use proptest::prelude::*;

/// The cases for a property with `weight` of the total (`PROPTEST_CASES`, default 100,000).
fn cases(weight: f64) -> ProptestConfig {
    let total: f64 = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000.0);
    ProptestConfig { cases: ((total * weight) as u32).max(1), failure_persistence: None, ..ProptestConfig::default() }
}

/// Any f32, weighted towards the hostile ones.
fn hostile_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => -2.0f32..2.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MIN_POSITIVE / 4.0), // subnormal
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => prop_oneof![Just(f32::MAX), Just(f32::MIN), Just(1e30f32), Just(-1e30f32)],
        2 => any::<f32>(),
    ]
}

/// Any finite f32: huge, subnormal and zero included.
fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -2.0f32..2.0,
        1 => Just(f32::MIN_POSITIVE / 4.0),
        1 => Just(0.0f32),
        1 => prop_oneof![Just(1e30f32), Just(-1e30f32), Just(1e35f32)],
        1 => any::<f32>().prop_filter("finite after x100", |v| v.is_finite() && v.abs() < 1e36),
    ]
}

fn face() -> impl Strategy<Value = Face> {
    (hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32(), proptest::option::of(prop::array::uniform10(hostile_f32())))
        .prop_map(|(x0, y0, w, h, score, l)| Face {
            x0: x0 * 500.0,
            y0: y0 * 500.0,
            x1: x0 * 500.0 + w.abs() * 300.0,
            y1: y0 * 500.0 + h.abs() * 300.0,
            score,
            landmarks: l.map(|l| std::array::from_fn(|i| [l[2 * i], l[2 * i + 1]])),
        })
}

/// Face lists from empty to huge (up to 2,000).
fn faces() -> impl Strategy<Value = Vec<Face>> {
    prop_oneof![300 => prop::collection::vec(face(), 0..40), 1 => prop::collection::vec(face(), 1000..2000)]
}

fn finite(f: &Face) -> bool {
    f.is_finite()
}

/// Equality by bits (NaN equals NaN).
fn same(a: &Face, b: &Face) -> bool {
    let bits = |f: &Face| {
        (
            f.x0.to_bits(),
            f.y0.to_bits(),
            f.x1.to_bits(),
            f.y1.to_bits(),
            f.score.to_bits(),
            f.landmarks.map(|l| l.map(|p| p.map(f32::to_bits))),
        )
    };
    bits(a) == bits(b)
}

proptest! {
    #![proptest_config(cases(0.10))]
    #[test]
    fn yunet_decoding_gives_finite_faces_above_the_threshold(
        stride in prop::sample::select(vec![8usize, 16, 32]),
        input_w in prop_oneof![Just(0usize), 1usize..200, Just(usize::MAX / 64)],
        values in prop::collection::vec(hostile_f32(), 0..300),
        threshold in prop_oneof![0.0f32..1.0, Just(f32::NAN), Just(0.0), Just(1.0)],
    ) {
        let n = values.len() / 16;
        let (cls, rest) = values.split_at(n);
        let (obj, rest) = rest.split_at(n);
        let (bbox, kps) = rest.split_at(4 * n);
        let level = YunetLevel { stride, cls, obj, bbox, kps };
        let faces = decode_yunet(&[level], input_w, threshold);
        prop_assert!(faces.len() <= n);
        for f in &faces {
            prop_assert!(finite(f), "{f:?}");
            prop_assert!(f.score > threshold && f.score <= 1.0, "{f:?}");
        }
    }

    #[test]
    fn ultraface_decoding_gives_finite_faces_above_the_threshold(
        scores in prop::collection::vec(hostile_f32(), 0..400),
        boxes in prop::collection::vec(hostile_f32(), 0..800),
        threshold in prop_oneof![0.0f32..1.0, Just(f32::NAN)],
    ) {
        let faces = decode_ultraface(&scores, &boxes, threshold);
        prop_assert!(faces.len() <= (scores.len() / 2).min(boxes.len() / 4));
        for f in &faces {
            prop_assert!(finite(f) && f.score > threshold && f.score <= 1.0, "{f:?}");
        }
    }
}

proptest! {
    #![proptest_config(cases(0.10))]
    #[test]
    fn nms_keeps_a_sorted_non_overlapping_subset(faces in faces(), iou in 0.0f32..1.0, top_k in 0usize..100) {
        let n = faces.len();
        let kept = nms(faces.clone(), iou, top_k);
        prop_assert!(kept.len() <= n && (top_k == 0 || kept.len() <= top_k));
        for w in kept.windows(2) {
            prop_assert!(w[0].score.total_cmp(&w[1].score).is_ge());
        }
        for (i, a) in kept.iter().enumerate().take(200) {
            prop_assert!(faces.iter().any(|f| same(f, a)), "kept faces are input faces");
            for b in &kept[i + 1..] {
                prop_assert!(a.iou(b) <= iou, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn filtered_faces_lie_in_the_frame(
        faces in faces(),
        w in prop_oneof![Just(0.0f32), 1.0f32..4000.0],
        h in prop_oneof![Just(0.0f32), 1.0f32..4000.0],
        min in 0.0f32..100.0,
        max in 0usize..10,
    ) {
        let kept = filter_faces(faces, w, h, min, max);
        prop_assert!(max == 0 || kept.len() <= max);
        for f in &kept {
            prop_assert!(f.x0 >= 0.0 && f.x1 <= w && f.y0 >= 0.0 && f.y1 <= h, "{f:?}");
            prop_assert!(f.width() >= min.max(1.0) && f.height() >= min.max(1.0), "{f:?}");
        }
    }

    #[test]
    fn detector_geometry_pads_to_the_alignment(
        width in prop_oneof![Just(0usize), 1usize..10_000, Just(i32::MAX as usize)],
        height in prop_oneof![Just(0usize), 1usize..10_000, Just(i32::MAX as usize)],
        long_side in prop_oneof![Just(0usize), 1usize..8193],
        align in prop::sample::select(vec![1usize, 8, 32]),
    ) {
        let ((cw, ch), (tw, th)) = detector_geometry(width, height, long_side, align);
        prop_assert!(cw >= 1 && ch >= 1 && tw >= cw && th >= ch && tw % align == 0 && th % align == 0);
        prop_assert!(tw - cw < align && th - ch < align);
        if long_side > 0 {
            prop_assert!(cw.max(ch) <= long_side.max(1) || cw.max(ch) <= width.max(height).max(1));
        }
    }

    #[test]
    fn softmax_of_finite_logits_is_a_probability_vector(row in prop::collection::vec(-1e4f32..1e4, 1..12)) {
        let p = probabilities(row, OutputKind::Logits);
        prop_assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
        prop_assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn softmax_never_panics_on_hostile_logits(mut row in prop::collection::vec(hostile_f32(), 0..12)) {
        softmax(&mut row); // non-finite results are refused by inference::check_finite
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-processing: sizes, strides and formats

#[derive(Debug, Clone)]
struct Frame {
    layout: PixelLayout,
    width: usize,
    height: usize,
    padding: usize,
    seed: u8,
}

fn frame() -> impl Strategy<Value = Frame> {
    let yuv = prop_oneof![Just(YuvSpec::from_colorimetry(false, false)), Just(YuvSpec::from_colorimetry(true, true))];
    let packed = (prop::sample::select(vec![3usize, 4]), 0usize..4).prop_map(|(bpp, o)| {
        let (r, b) = if o % 2 == 0 { (0, 2) } else { (2, 0) };
        let shift = if bpp == 4 && o >= 2 { 1 } else { 0 };
        PixelLayout::Packed { bpp, r: r + shift, g: 1 + shift, b: b + shift }
    });
    // Packed 4:2:2 byte offsets of Y (first of the pair), U and V: YUY2, UYVY, YVYU.
    let yuv422 = (yuv.clone(), prop::sample::select(vec![(0usize, 1usize, 3usize), (1, 0, 2), (0, 3, 1)]))
        .prop_map(|(spec, (y, u, v))| PixelLayout::Yuv422 { spec, y, u, v });
    let layout = prop_oneof![
        2 => packed,
        1 => yuv.clone().prop_map(PixelLayout::I420),
        1 => yuv.prop_map(PixelLayout::Nv12),
        1 => yuv422
    ];
    (layout, prop_oneof![Just(1usize), 1usize..70], prop_oneof![Just(1usize), 1usize..70], 0usize..9, any::<u8>())
        .prop_map(|(layout, width, height, padding, seed)| Frame { layout, width, height, padding, seed })
}

/// The frame's planes, with `padding` extra bytes per row (a padded stride).
fn image(f: &Frame) -> Image<Vec<u8>> {
    let fill = |len: usize, k: u8| (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(f.seed ^ k)).collect::<Vec<u8>>();
    let (cw, ch) = (f.width.div_ceil(2), f.height.div_ceil(2));
    let (planes, strides) = match f.layout {
        PixelLayout::Packed { bpp, .. } => {
            let s = f.width * bpp + f.padding;
            ([fill(s * f.height, 0), vec![], vec![]], [s, 0, 0])
        }
        PixelLayout::I420(_) => {
            let (s0, s1) = (f.width + f.padding, cw + f.padding);
            ([fill(s0 * f.height, 0), fill(s1 * ch, 1), fill(s1 * ch, 2)], [s0, s1, s1])
        }
        PixelLayout::Nv12(_) => {
            let (s0, s1) = (f.width + f.padding, 2 * cw + f.padding);
            ([fill(s0 * f.height, 0), fill(s1 * ch, 1), vec![]], [s0, s1, 0])
        }
        PixelLayout::Yuv422 { .. } => {
            let s = 4 * cw + f.padding;
            ([fill(s * f.height, 0), vec![], vec![]], [s, 0, 0])
        }
    };
    Image { layout: f.layout, width: f.width, height: f.height, planes, strides }
}

fn target() -> impl Strategy<Value = TensorTarget> {
    let order = prop::sample::select(vec![ColourOrder::Rgb, ColourOrder::Bgr, ColourOrder::Grey]);
    let layout = prop::sample::select(vec![TensorLayout::Nchw, TensorLayout::Nhwc]);
    (1usize..40, 1usize..40, 0usize..8, 0usize..8, order, layout).prop_map(|(cw, ch, pw, ph, order, layout)| TensorTarget {
        width: cw + pw,
        height: ch + ph,
        content_w: cw,
        content_h: ch,
        layout,
        order,
        norm: Normalisation { scale: 1.0 / 255.0, mean: [0.5; 3], std: [0.25; 3] },
    })
}

proptest! {
    #![proptest_config(cases(0.06))]
    #[test]
    fn tensors_are_finite_and_in_the_normalised_range(
        f in frame(),
        t in target(),
        region in (finite_f32(), finite_f32(), finite_f32(), finite_f32()),
    ) {
        // Regions come from faces, which are finite (the detector's outputs are checked); huge,
        // subnormal, zero-sized and inverted regions are in.
        let img = image(&f);
        let mut out = vec![f32::NAN; t.len() + 3];
        let region = (region.0 * 100.0, region.1 * 100.0, region.2 * 100.0, region.3 * 100.0);
        img.to_tensor(region, &t, &mut out);
        // (v / 255 - 0.5) / 0.25 for v in 0..=255, with a little room for YUV conversion.
        let (lo, hi) = (-2.0 - 1e-3, 2.0 + 1e-3);
        prop_assert!(out[..t.len()].iter().all(|v| v.is_finite() && (lo..=hi).contains(v) || *v == 0.0), "{region:?}");
        prop_assert!(out[t.len()..].iter().all(|v| v.is_nan()), "nothing written past the tensor");
    }

    #[test]
    fn affine_tensors_are_finite(f in frame(), t in target(), m in prop::array::uniform6(-1e4f32..1e4)) {
        let img = image(&f);
        let mut out = vec![f32::NAN; t.len()];
        img.to_tensor_affine(m, &t, &mut out);
        prop_assert!(out.iter().all(|v| v.is_finite()), "{m:?}");
    }

    #[test]
    fn face_tensors_are_finite_whatever_the_face(
        f in frame(),
        region in (hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32()),
        landmarks in proptest::option::of(prop::array::uniform10(hostile_f32())),
        spec in prop::sample::select(vec!["emotion_fer2013_vggbn.onnx", "facial_expression_recognition_mobilefacenet_2022july.onnx"]),
    ) {
        let spec = ClassifierSpec::builtin(spec).unwrap();
        let img = image(&f);
        let scale = |v: f32| v * 100.0;
        let crop = FaceCrop {
            region: (scale(region.0), scale(region.1), scale(region.2), scale(region.3)),
            landmarks: landmarks.map(|l| std::array::from_fn(|i| [scale(l[2 * i]), scale(l[2 * i + 1])])),
        };
        let mut out = vec![f32::NAN; spec.target().len()];
        face_tensor(&spec, &img, &crop, &mut out);
        prop_assert!(out.iter().all(|v| v.is_finite()), "{crop:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tracking

proptest! {
    #![proptest_config(cases(0.08))]
    #[test]
    fn tracks_keep_unique_ids_and_finite_boxes(
        runs in prop::collection::vec(proptest::option::of(prop::collection::vec(face(), 0..25)), 1..12),
        misses in 0u32..4,
        smoothing in 0.0f32..0.99,
    ) {
        let mut tracker = Tracker::new();
        let params = TrackerParams { iou_threshold: 0.3, max_misses: misses, smoothing };
        let mut seen = 0usize;
        for run in runs {
            match run {
                Some(faces) => {
                    let faces: Vec<Face> = faces.into_iter().filter(Face::is_finite).collect();
                    seen += faces.len();
                    tracker.update(faces, &params);
                }
                None => tracker.predict(),
            }
            let ids: std::collections::BTreeSet<u64> = tracker.tracks().iter().map(|t| t.id).collect();
            prop_assert_eq!(ids.len(), tracker.tracks().len(), "unique ids");
            prop_assert!(tracker.tracks().len() <= seen);
            for t in tracker.tracks() {
                prop_assert!(t.face.x0.is_finite() && t.face.y1.is_finite(), "{:?}", t.face);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// FrameReport JSON and specs

fn label() -> impl Strategy<Value = String> {
    prop_oneof![Just("happy".to_string()), "[a-z]{1,8}", "\\PC{0,12}"]
}

fn face_report() -> impl Strategy<Value = FaceReport> {
    let scores = prop::collection::vec(prop_oneof![0.0f32..1.0, Just(f32::MIN_POSITIVE / 8.0), Just(0.0), Just(1.0)], 0..9);
    (any::<[u32; 4]>(), any::<u64>(), label(), scores.clone(), scores, any::<f64>().prop_filter("finite", |v| v.is_finite())).prop_map(
        |([x, y, w, h], id, label, scores, smoothed_scores, v)| FaceReport {
            x,
            y,
            w,
            h,
            region_id: (id % 1000) as usize,
            id,
            roi_type: "face".into(),
            detection: DetectionReport {
                bounding_box: emotiondetect_core::frame_report::BoundingBox { x_min: v, y_min: -v, x_max: v / 3.0, y_max: 0.0 },
                confidence: 0.5,
                label: "face".into(),
                label_id: 0,
            },
            landmarks: if id % 2 == 0 { Some([[v, 0.25]; 5]) } else { None },
            emotion: EmotionReport {
                label: label.clone(),
                label_id: (id % 5 != 4).then_some((id % 7) as usize),
                confidence: scores.first().copied().unwrap_or(0.0),
                model: ModelRef { name: "m\u{e9}".into() },
                labels: vec![label].into(),
                scores,
                smoothed_scores,
            },
        },
    )
}

proptest! {
    #![proptest_config(cases(0.10))]
    #[test]
    fn frame_reports_round_trip_through_json(
        width in any::<u32>(),
        height in any::<u32>(),
        times in any::<[Option<u64>; 4]>(),
        source in "\\PC{0,20}",
        objects in prop_oneof![4 => prop::collection::vec(face_report(), 0..5), 1 => prop::collection::vec(face_report(), 50..200)],
    ) {
        let report = FrameReport {
            timestamp: times[0],
            stream_time: times[1],
            running_time: times[2],
            duration: times[3],
            source: source.clone(),
            source_id: source,
            objects,
            ..FrameReport::new(width, height)
        };
        let json = report.to_json();
        prop_assert!(!json.contains('\n'), "one line");
        prop_assert_eq!(FrameReport::from_json(&json).unwrap(), report);
    }

    #[test]
    fn face_boxes_stay_in_the_frame(
        b in (hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32()),
        width in 0u32..10_000,
        height in 0u32..10_000,
    ) {
        let ((x, y, w, h), bbox) = face_box(b.0 * 1e4, b.1 * 1e4, b.2 * 1e4, b.3 * 1e4, Resolution { width, height });
        prop_assert!(x + w <= width && y + h <= height, "{:?}", (x, y, w, h));
        for v in [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max] {
            prop_assert!((0.0..=1.0).contains(&v), "{bbox:?}");
        }
    }

    #[test]
    fn spec_parsing_never_panics_on_mutated_specs(
        layout in prop_oneof![Just("NCHW".to_string()), Just("NHWC".to_string()), "\\PC{0,6}"],
        colour in prop_oneof![Just("grey".to_string()), Just("rgb".to_string()), "\\PC{0,6}"],
        w in prop_oneof![Just(0i64), 1i64..5000, Just(i64::MAX), Just(-1)],
        h in prop_oneof![Just(48i64), 1i64..5000, Just(u32::MAX as i64 + 1)],
        std in prop_oneof![Just("[0.25]".to_string()), Just("[0]".to_string()), Just("[1e400]".to_string()), Just("[\"x\"]".to_string()), Just("[1,2]".to_string())],
        labels in prop::collection::vec(label(), 0..10),
        cut in 0usize..400,
    ) {
        let labels = serde_json::to_string(&labels).unwrap();
        let text = format!(
            r#"{{"name":"m","input":{{"layout":"{layout}","width":{w},"height":{h},"colour":"{colour}","std":{std}}},"output":{{"kind":"logits"}},"labels":{labels}}}"#,
            layout = layout.replace('"', ""), colour = colour.replace('"', "")
        );
        let whole = ClassifierSpec::from_json(&text);
        if let Ok(spec) = &whole {
            prop_assert!(spec.width > 0 && spec.width <= 4096 && spec.height <= 4096 && !spec.labels.is_empty());
            prop_assert!(spec.norm.std.iter().all(|s| *s != 0.0));
            prop_assert_eq!(spec.target().len(), spec.input_shape(1).iter().product::<usize>());
        }
        let cut = text.char_indices().map(|(i, _)| i).find(|&i| i >= cut).unwrap_or(text.len());
        let _ = ClassifierSpec::from_json(&text[..cut]); // a cut file is an error, never a panic
    }
}
