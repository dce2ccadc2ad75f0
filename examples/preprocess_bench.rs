// SPDX-License-Identifier: MIT
//! Times the detector pre-processing (scale + colour conversion into the YuNet tensor) on a
//! synthetic I420 / BGRx frame: `cargo run --release --example preprocess-bench -- [W H]`.

use std::io::Write;
use std::time::Instant;

use emotiondetect_core::detection::detector_geometry;
use emotiondetect_core::preprocess::*;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (w, h) = (args.first().copied().unwrap_or(720), args.get(1).copied().unwrap_or(528));
    let ((cw, ch), (tw, th)) = detector_geometry(w, h, 640, 32);
    let target = TensorTarget {
        width: tw,
        height: th,
        content_w: cw,
        content_h: ch,
        layout: TensorLayout::Nchw,
        order: ColourOrder::Bgr,
        norm: Normalisation::IDENTITY,
    };
    let mut out = vec![0f32; target.len()];
    let y: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
    let u: Vec<u8> = (0..w * h / 4).map(|i| (i * 3 % 253) as u8).collect();
    let i420 = Image {
        layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
        width: w,
        height: h,
        planes: [&y[..], &u[..], &u[..]],
        strides: [w, w / 2, w / 2],
    };
    let bgrx: Vec<u8> = (0..w * h * 4).map(|i| (i * 5 % 255) as u8).collect();
    let packed = Image {
        layout: PixelLayout::Packed { bpp: 4, r: 2, g: 1, b: 0 },
        width: w,
        height: h,
        planes: [&bgrx[..], &[][..], &[][..]],
        strides: [w * 4, 0, 0],
    };
    for (name, img) in [("I420", &i420), ("BGRx", &packed)] {
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            img.to_tensor((0.0, 0.0, w as f32, h as f32), &target, &mut out);
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / n as f64;
        // A closed pipe (| head) ends the run quietly.
        if writeln!(std::io::stdout(), "{name} {w}x{h} -> {cw}x{ch} (tensor {tw}x{th}): {ms:.3} ms").is_err() {
            return;
        }
    }
}
