// SPDX-License-Identifier: MIT
//! `engine=openvino` against the default ONNX Runtime engine, on the 24 real group photos with
//! the default models: the same faces (F1 >= 0.99 at IoU 0.5; every pair of matched boxes at
//! IoU >= 0.99), probabilities within 0.02; and the errors of a device or engine that does not
//! fit. The OpenVINO libraries come from `./setup.sh` (the PyPI wheel `openvino==2026.4.0`).

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;

/// One face: its box (normalised), detector confidence and classifier scores.
struct Face {
    rect: Rect,
    confidence: f64,
    scores: Vec<f64>,
}

/// The faces of one frame, from its ROI metas.
fn buffer_faces(buffer: &gst::BufferRef) -> Vec<Face> {
    meta_faces(buffer)
        .into_iter()
        .map(|f| {
            let [x0, y0, x1, y1, confidence] = f.detection;
            Face { rect: Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, confidence, scores: f.scores }
        })
        .collect()
}

fn rects(faces: &[Face]) -> Vec<Rect> {
    faces.iter().map(|f| f.rect).collect()
}

fn faces(image: &std::path::Path, engine: &str) -> Vec<Face> {
    let desc = format!(
        "filesrc location={} ! jpegdec ! videoconvert ! emotiondetect engine={engine} draw=false ! appsink name=sink",
        image.display()
    );
    let run = run_pipeline(&desc, Duration::from_secs(120));
    assert_eq!(run.samples.len(), 1, "engine={engine}: one frame of {}", image.display());
    buffer_faces(run.samples[0].buffer().expect("a buffer"))
}

#[test]
fn openvino_finds_the_same_faces_and_emotions_as_onnx_runtime() {
    init();
    let photos: Vec<String> =
        (1..=27).map(|n| format!("{n}.jpg")).filter(|n| shared_dir().join("media/group-photos").join(n).is_file()).collect();
    assert!(photos.len() >= 20, "the group photos live in ../shared/media/group-photos");
    let (mut ort_total, mut ov_total, mut matched) = (0usize, 0usize, 0usize);
    let (mut worst_iou, mut worst_score, mut worst_confidence) = (1.0f64, 0.0f64, 0.0f64);
    for name in &photos {
        let photo = group_photo(name);
        let (a, b) = (faces(&photo, "onnxruntime"), faces(&photo, "openvino"));
        ort_total += a.len();
        ov_total += b.len();
        for (i, j, iou) in greedy_match(&rects(&a), &rects(&b), 0.5) {
            matched += 1;
            worst_iou = worst_iou.min(iou);
            worst_confidence = worst_confidence.max((a[i].confidence - b[j].confidence).abs());
            assert_eq!(a[i].scores.len(), b[j].scores.len(), "{name}: as many scores");
            for (x, y) in a[i].scores.iter().zip(&b[j].scores) {
                worst_score = worst_score.max((x - y).abs());
            }
        }
    }
    let f1 = 2.0 * matched as f64 / (ort_total + ov_total) as f64;
    eprintln!(
        "{} photos: {ort_total} faces with ONNX Runtime, {ov_total} with OpenVINO, {matched} matched (F1 {f1:.4}); \
         worst IoU {worst_iou:.4}, confidence difference {worst_confidence:.4}, score difference {worst_score:.4}",
        photos.len()
    );
    assert!(ort_total > 100, "{ort_total} faces");
    assert!(f1 >= 0.99, "F1 {f1}");
    assert!(worst_iou >= 0.99, "worst IoU {worst_iou}");
    assert!(worst_score <= 0.02, "score difference {worst_score}");
}

/// CUDA is ONNX Runtime's and `gpu`/`npu` OpenVINO's: the other engine refuses them at
/// NULL->READY naming both; an absent OpenVINO device is refused naming the devices there are.
#[test]
fn devices_of_the_other_engine_or_absent_ones_fail_clearly() {
    init();
    let e = ready_error(&element(&[("engine", "openvino"), ("device", "cuda")])).to_string();
    assert!(e.contains("device 'cuda:0': not a device of engine openvino") && e.contains("engine=onnxruntime"), "{e}");
    let e = ready_error(&element(&[("device", "gpu")])).to_string();
    assert!(e.contains("device 'gpu': not a device of engine onnxruntime") && e.contains("engine=openvino"), "{e}");
    let e = ready_error(&element(&[("engine", "tensorrt")])).to_string();
    assert!(e.contains("engine 'tensorrt': not an engine; expected onnxruntime or openvino"), "{e}");
    // This machine has no Intel NPU: OpenVINO lists what it has.
    let e = ready_error(&element(&[("engine", "openvino"), ("device", "npu")])).to_string();
    assert!(e.contains("OpenVINO has no NPU device here (it has: CPU"), "{e}");
}

/// `active-device` and the log line say where and in what the models run.
#[test]
fn the_openvino_engine_reports_its_device() {
    init();
    let e = element(&[("engine", "openvino"), ("device", "auto")]);
    e.set_state(gst::State::Ready).expect("NULL->READY with engine=openvino");
    assert_eq!(e.property::<String>("active-device"), "cpu");
    assert_eq!(e.property::<String>("engine"), "openvino");
    e.set_state(gst::State::Null).unwrap();
}

/// The faces of every frame at each appsink of `desc` (named `a` and `b`), in order.
fn faces_per_sink(desc: &str) -> [Vec<Vec<Face>>; 2] {
    init();
    let pipeline = gst::parse::launch(desc).unwrap_or_else(|e| panic!("{desc}: {e}")).downcast::<gst::Pipeline>().unwrap();
    let sinks = ["a", "b"].map(|n| pipeline.by_name(n).unwrap().downcast::<gst_app::AppSink>().unwrap());
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let out = sinks.map(|sink| {
        let mut frames = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            frames.push(buffer_faces(sample.buffer().unwrap()));
        }
        frames
    });
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// Two streams of other sizes sharing one OpenVINO detector (`model-instance-id`), so that it
/// switches between the two compiled input shapes, get the faces ONNX Runtime finds in each.
#[test]
fn a_shared_openvino_detector_serves_two_frame_sizes() {
    let branch = |photo: &str, size: &str, sink: &str, engine: &str| {
        format!(
            "filesrc location={} ! jpegdec ! videoconvert ! videoscale ! video/x-raw,{size} ! imagefreeze num-buffers=6 ! \
             emotiondetect engine={engine} model-instance-id=sizes-{engine} draw=false ! appsink name={sink} sync=false ",
            group_photo(photo).display()
        )
    };
    let desc = |engine: &str| branch("1.jpg", "width=640,height=360", "a", engine) + &branch("2.jpg", "width=480,height=480", "b", engine);
    let (ort, ov) = (faces_per_sink(&desc("onnxruntime")), faces_per_sink(&desc("openvino")));
    for (sink, (a, b)) in ort.iter().zip(&ov).enumerate() {
        assert_eq!(a.len(), 6, "sink {sink}: six frames");
        assert_eq!(a.len(), b.len(), "sink {sink}: as many frames");
        for (fa, fb) in a.iter().zip(b) {
            assert!(!fa.is_empty(), "sink {sink}: faces in every frame");
            assert_eq!(fa.len(), fb.len(), "sink {sink}: as many faces");
            for (x, y) in fa.iter().zip(fb) {
                assert!(x.rect.iou(&y.rect) >= 0.99, "sink {sink}: {:?} against {:?}", x.rect, y.rect);
            }
        }
    }
}
