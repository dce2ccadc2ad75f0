// SPDX-License-Identifier: MIT
//! Heap allocations per frame in steady state, counted by a global allocator around the core's
//! per-frame calls, on a real group photo (122 faces) with the real models, on ONNX Runtime and
//! on OpenVINO.
//!
//! Once a stream is warm, nothing in the frame's work allocates: building the detector input
//! (it made about 1,000 allocations a frame with `fast_image_resize`, which computes its filter
//! weights on every call), the model calls (ONNX Runtime writes into the outputs it returned
//! for the same input the first time), decoding and NMS, tracking, face crops, the shared
//! classifier's batching, and drawing. What remains is the frame's result, which outlives
//! the call: the detections handed to the tracker (one block) and the [`FrameReport`]
//! (its face list, and each face's label and score rows). Counted on our side of the engines'
//! C APIs only: their own allocations (ONNX Runtime's CPU arena) are not Rust's.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use emotiondetect_core::analyser::FrameParams;
use emotiondetect_core::frame_report::{EmotionReport, FrameReport};
use emotiondetect_core::inference::{DetectParams, DetectorFamily, FaceDetector};
use emotiondetect_core::preprocess::{Image, PixelLayout, YuvSpec};
use emotiondetect_core::{Engine, ModelSettings};

/// The system allocator, counting allocations and reallocations while `ON` is set.
struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `f`'s result and the allocations it made. Tests run one at a time here (one test), so no
/// other thread's allocations are counted.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    let out = f();
    ON.store(false, Ordering::SeqCst);
    (out, COUNT.load(Ordering::SeqCst))
}

/// The photo (`w` x `h` packed RGB) as I420 (BT.601 limited), cropped to even size, converted
/// per pixel; each chroma sample is the pixel at its top left.
fn i420(rgb: &[u8], w: usize, h: usize) -> [Vec<u8>; 3] {
    let spec = YuvSpec::BT601_LIMITED;
    let yuv = |x: usize, y: usize| {
        let p = &rgb[(y * w + x) * 3..];
        spec.from_rgb([p[0], p[1], p[2]])
    };
    let (w2, h2) = (w / 2, h / 2);
    let y_plane = (0..2 * h2).flat_map(|y| (0..2 * w2).map(move |x| (x, y))).map(|(x, y)| yuv(x, y)[0]).collect();
    let (u, v) = (0..h2).flat_map(|y| (0..w2).map(move |x| (x, y))).map(|(x, y)| yuv(2 * x, 2 * y)).map(|c| (c[1], c[2])).unzip();
    [y_plane, u, v]
}

/// The heap blocks a report holds: its list of faces, and each face's label and two rows of
/// scores (none for an empty one).
fn report_blocks(report: &FrameReport) -> u64 {
    let face = |e: &EmotionReport| {
        [e.label.capacity(), e.scores.capacity(), e.smoothed_scores.capacity()].iter().filter(|&&c| c > 0).count() as u64
    };
    u64::from(report.objects.capacity() > 0) + report.objects.iter().map(|f| face(&f.emotion)).sum::<u64>()
}

#[test]
fn steady_state_frames_allocate_only_their_results() {
    require_installed();
    let photo = image::open(group_photo("17.jpg")).expect("group photo 17 decodes").to_rgb8();
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let rgb = photo.into_raw();
    let [py, pu, pv] = i420(&rgb, w, h);
    let packed = Image {
        layout: PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 },
        width: w,
        height: h,
        planes: [&rgb[..], &[][..], &[][..]],
        strides: [w * 3, 0, 0],
    };
    let planar = Image {
        layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
        width: w & !1,
        height: h & !1,
        planes: [&py[..], &pu[..], &pv[..]],
        strides: [w & !1, w / 2, w / 2],
    };
    let params = DetectParams { threshold: 0.6, nms_threshold: 0.3, detector_size: 640 };
    for image in [&packed, &planar] {
        let mut tensor = Vec::new();
        let mut counts = Vec::new();
        for _ in 0..4 {
            let (input, n) = counted(|| FaceDetector::prepare(DetectorFamily::Yunet, image, &params, std::mem::take(&mut tensor)));
            tensor = input.tensor;
            counts.push(n);
        }
        println!("{:?}: allocations to prepare each frame {counts:?}", image.layout);
        assert!(counts[1..].iter().all(|&n| n == 0), "{:?}: the detector input allocated {counts:?} after the first frame", image.layout);
    }

    for engine in ["onnxruntime", "openvino"] {
        analyse_steadily(engine, &rgb, w, h);
    }
}

/// Five frames of `rgb` (`w` x `h`) through detection and analysis with `engine`; from the third
/// on, detection allocates its list of faces and analysis its report, nothing else.
fn analyse_steadily(engine: &str, rgb: &[u8], w: usize, h: usize) {
    let settings = ModelSettings { engine: engine.into(), ..ModelSettings::default() };
    let loaded = Engine::load(&settings, Arc::new(|_, _| {})).unwrap_or_else(|e| panic!("engine={engine}: the models load: {e}"));
    let mut analyser = loaded.analyser();
    let frame = FrameParams::default();
    let mut bytes = rgb.to_vec();
    for round in 0..5 {
        bytes.copy_from_slice(rgb);
        let mut image = Image {
            layout: PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 },
            width: w,
            height: h,
            planes: [&mut bytes[..], &mut [][..], &mut [][..]],
            strides: [w * 3, 0, 0],
        };
        let (faces, n_detect) = counted(|| analyser.detect(&image, &frame).expect("detection runs"));
        let found = faces.len();
        let (report, n_analyse) = counted(|| analyser.analyse(&mut image, Some(faces), &frame).expect("classification runs"));
        let own = report_blocks(&report);
        println!("{engine}, frame {round}: {found} faces, allocations: detect {n_detect}, analyse {n_analyse}, the report's own {own}");
        assert!(found >= 100, "the group photo's faces: {found}");
        assert_eq!(report.objects.len(), found, "one report entry a face");
        let classified = report.objects.iter().filter(|f| !f.emotion.is_unknown()).count();
        assert!(classified >= 60, "the faces of 25 px or more were classified: {classified}");
        // The first frames fill the buffers (at 2026-12-07: 48 and 2590, then 1 and 341).
        if round >= 2 {
            assert_eq!(n_detect, 1, "{engine}: detection allocated more than the list of faces it returns");
            assert_eq!(n_analyse, own, "{engine}: analysis (tracking, crops, classification, drawing) allocated more than its report");
        }
    }
}
