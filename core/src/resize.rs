// SPDX-License-Identifier: MIT
//! The detector's input from a whole frame, through two SIMD crates: the `yuv` crate converts
//! YUV frames to packed RGB bytes, `pic-scale` scales them with a bilinear (triangle) filter
//! (pixel centres aligned, edges clamped; downscaling widens the filter, so every source pixel
//! counts), then the bytes are spread into the tensor's float planes. Its plans (the filter
//! weights of one source and target size) are kept per thread, so a stream's frames are scaled
//! without allocating.
//!
//! This is the order OpenCV-based pipelines work in (decode to BGR bytes, `cv::resize`, then
//! `blobFromImage`), so values are rounded to bytes twice, as theirs are; the separable path in
//! [`crate::preprocess`] interpolates before converting and stays for face crops, where a
//! sub-pixel region is sampled. Measured on Megamind's 720x528 I420 frames to a 640x469 content
//! (2026-12-06, 2-core AVX2 EPYC, `examples/preprocess_bench.rs`): see docs/performance.md.

use std::cell::RefCell;
use std::sync::Arc;

use pic_scale::{ImageSize, ImageStore, ImageStoreMut, Resampling, ResamplingFunction, Scaler};
use yuv::{
    BufferStoreMut, YuvBiPlanarImage, YuvConversionMode, YuvPackedImage, YuvPlanarImage, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};

use crate::preprocess::{ColourOrder, Image, PixelLayout, TensorLayout, TensorTarget, YuvSpec};

/// Tensors of fewer content pixels (face crops) keep the separable path.
const MIN_PIXELS: usize = 65_536;

/// Buffers reused from frame to frame on each thread: no allocation once grown.
#[derive(Default)]
struct Scratch {
    /// The frame as packed RGB(A) bytes (YUV converted, or RGB with padded rows).
    rgb: Vec<u8>,
    /// Packed 4:2:2 frames unpacked to Y, U and V planes.
    yuv422: [Vec<u8>; 3],
    /// The scaled frame, packed.
    scaled: Vec<u8>,
    plans: Plans,
    /// The plans' memory between their vertical and horizontal passes.
    between: Vec<u8>,
}

/// The last scaling plan for 3- and 4-byte pixels, with the sizes (from, to) it was made for.
#[derive(Default)]
struct Plans {
    rgb: Option<(Sizes, Arc<Resampling<u8, 3>>)>,
    rgba: Option<(Sizes, Arc<Resampling<u8, 4>>)>,
}

type Sizes = ((usize, usize), (usize, usize));

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Whether [`frame_to_planar`] handles this call: the whole of a non-empty frame into a planar
/// RGB or BGR tensor of at least [`MIN_PIXELS`] content pixels.
pub(crate) fn applies<P>(image: &Image<P>, src: (f32, f32, f32, f32), target: &TensorTarget) -> bool {
    let whole = src == (0.0, 0.0, image.width as f32, image.height as f32);
    image.width > 0
        && image.height > 0
        && whole
        && target.layout == TensorLayout::Nchw
        && target.order != ColourOrder::Grey
        && target.content_w * target.content_h >= MIN_PIXELS
        && target.content_w <= target.width
        && target.content_h <= target.height
}

/// Scales the whole of `image` to `target`'s content and writes it, normalised, into the
/// planes of `out` (`target.len()` floats, NCHW), the padding right and below it zeroed. Returns `false`,
/// writing nothing, when a crate refuses the frame (planes shorter than their strides say):
/// the caller then takes the separable path.
pub(crate) fn frame_to_planar<P: AsRef<[u8]>>(image: &Image<P>, target: &TensorTarget, out: &mut [f32]) -> bool {
    // The crates check sizes and return errors; a panic in one still must not cross the element
    // boundary: the frame then takes the separable path.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| convert_scale_spread(image, target, out))).unwrap_or(false)
}

fn convert_scale_spread<P: AsRef<[u8]>>(image: &Image<P>, target: &TensorTarget, out: &mut [f32]) -> bool {
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { rgb, yuv422, scaled, plans, between } = scratch;
        let [py, pu, pv] = yuv422;
        let Some((bpp, offsets)) = packed_rgb(image, rgb, [py, pu, pv]) else { return false };
        let bytes: &[u8] = if rgb.is_empty() { image.planes[0].as_ref() } else { rgb };
        let sizes = ((image.width, image.height), (target.content_w, target.content_h));
        if scale(plans, bytes, sizes, bpp, (scaled, between)).is_none() {
            return false;
        }
        spread(scaled, bpp, offsets, target, out);
        true
    })
}

/// The frame as packed RGB(A) bytes: its own plane when it already is (contiguous rows of 3 or 4
/// bytes; `rgb` is then left empty), else converted or copied into `rgb`. Returns the bytes per
/// pixel and where R, G and B are in each.
fn packed_rgb<P: AsRef<[u8]>>(image: &Image<P>, rgb: &mut Vec<u8>, yuv422: [&mut Vec<u8>; 3]) -> Option<(usize, [usize; 3])> {
    let (w, h) = (image.width, image.height);
    let planes = [image.planes[0].as_ref(), image.planes[1].as_ref(), image.planes[2].as_ref()];
    let strides = image.strides.map(|s| s as u32);
    rgb.clear();
    if let PixelLayout::Packed { bpp, r, g, b } = image.layout {
        if bpp != 3 && bpp != 4 {
            return None;
        }
        let contiguous = image.strides[0] == w * bpp;
        if !contiguous {
            for row in planes[0].chunks(image.strides[0].max(1)).take(h) {
                rgb.extend_from_slice(row.get(..w * bpp)?);
            }
        }
        let len = if contiguous { planes[0].len() } else { rgb.len() };
        return (len >= w * h * bpp).then_some((bpp, [r, g, b]));
    }
    // RGBA rather than RGB: pic-scale scales 4-byte pixels faster (720x528 to 640x469: 0.37
    // against 0.53 ms here), and they spread faster.
    rgb.resize(w * h * 4, 0);
    let (w32, h32, rgb_stride) = (w as u32, h as u32, w as u32 * 4);
    let converted = match image.layout {
        PixelLayout::I420(spec) => yuv::yuv420_to_rgba(&planar(planes, strides, w32, h32), rgb, rgb_stride, range(spec), matrix(spec)),
        PixelLayout::Nv12(spec) => {
            let bi = YuvBiPlanarImage {
                y_plane: planes[0],
                y_stride: strides[0],
                uv_plane: planes[1],
                uv_stride: strides[1],
                width: w32,
                height: h32,
            };
            yuv::yuv_nv12_to_rgba(&bi, rgb, rgb_stride, range(spec), matrix(spec), YuvConversionMode::Balanced)
        }
        PixelLayout::Yuv422 { spec, y, u, v } => {
            // Unpacked to planes first: the crate's packed 4:2:2 conversion rounds coarser (6-bit
            // coefficients) than its planar one, and a webcam's YUY2 must give the faces its
            // I420 gives (tests/formats.rs).
            let packed = YuvPackedImage { yuy: planes[0], yuy_stride: strides[0], width: w32, height: h32 };
            let cw = w.div_ceil(2);
            let [py, pu, pv] = yuv422;
            py.resize(w * h, 0);
            pu.resize(cw * h, 0);
            pv.resize(cw * h, 0);
            let mut unpacked_planes = YuvPlanarImageMut {
                y_plane: BufferStoreMut::Borrowed(py),
                y_stride: w32,
                u_plane: BufferStoreMut::Borrowed(pu),
                u_stride: cw as u32,
                v_plane: BufferStoreMut::Borrowed(pv),
                v_stride: cw as u32,
                width: w32,
                height: h32,
            };
            let unpacked = match (y, u, v) {
                (0, 1, 3) => yuv::yuyv422_to_yuv422(&mut unpacked_planes, &packed),
                (1, 0, 2) => yuv::uyvy422_to_yuv422(&mut unpacked_planes, &packed),
                (0, 3, 1) => yuv::yvyu422_to_yuv422(&mut unpacked_planes, &packed),
                _ => return None,
            };
            unpacked.ok()?;
            let cw = cw as u32;
            yuv::yuv422_to_rgba(&planar([py, pu, pv], [w32, cw, cw], w32, h32), rgb, rgb_stride, range(spec), matrix(spec))
        }
        PixelLayout::Packed { .. } => unreachable!("handled above"),
    };
    converted.ok().map(|()| (4, [0, 1, 2]))
}

/// Y, U and V planes of `width` x `height` pixels, rows `strides` bytes apart.
fn planar<'a>(planes: [&'a [u8]; 3], strides: [u32; 3], width: u32, height: u32) -> YuvPlanarImage<'a, u8> {
    let [y_plane, u_plane, v_plane] = planes;
    let [y_stride, u_stride, v_stride] = strides;
    YuvPlanarImage { y_plane, y_stride, u_plane, u_stride, v_plane, v_stride, width, height }
}

fn range(spec: YuvSpec) -> YuvRange {
    if spec.full_range() {
        YuvRange::Full
    } else {
        YuvRange::Limited
    }
}

fn matrix(spec: YuvSpec) -> YuvStandardMatrix {
    let (kr, kb) = spec.weights();
    YuvStandardMatrix::Custom(kr, kb)
}

/// Scales packed `bytes` (`sizes.0` pixels of `bpp` bytes, 3 or 4) to `sizes.1` pixels into
/// `scaled`, with the plan for these sizes (made on the first frame and after a size change) and
/// `between` as its intermediate image.
fn scale(plans: &mut Plans, bytes: &[u8], sizes: Sizes, bpp: usize, (scaled, between): (&mut Vec<u8>, &mut Vec<u8>)) -> Option<()> {
    let ((w, h), (tw, th)) = sizes;
    scaled.resize(tw * th * bpp, 0);
    let scaler = Scaler::new(ResamplingFunction::Bilinear);
    let (from, to) = (ImageSize::new(w, h), ImageSize::new(tw, th));
    if bpp == 3 {
        let plan = planned(&mut plans.rgb, sizes, || scaler.plan_rgb_resampling(from, to).ok())?;
        resample(plan.as_ref(), bytes, sizes, (scaled, between))
    } else {
        // Alpha is padding here (BGRx...): no premultiplication.
        let plan = planned(&mut plans.rgba, sizes, || scaler.plan_rgba_resampling(from, to, false).ok())?;
        resample(plan.as_ref(), bytes, sizes, (scaled, between))
    }
}

/// The plan in `slot` when it was made for `sizes`, else a new one from `make`.
fn planned<P>(slot: &mut Option<(Sizes, Arc<P>)>, sizes: Sizes, make: impl FnOnce() -> Option<Arc<P>>) -> Option<&Arc<P>>
where
    P: ?Sized,
{
    if slot.as_ref().is_none_or(|(made_for, _)| *made_for != sizes) {
        *slot = Some((sizes, make()?));
    }
    slot.as_ref().map(|(_, plan)| plan)
}

/// Runs `plan` on `bytes` into `scaled`, both contiguous rows of `N`-byte pixels.
fn resample<const N: usize>(
    plan: &Resampling<u8, N>,
    bytes: &[u8],
    ((w, h), (tw, th)): Sizes,
    (scaled, between): (&mut [u8], &mut Vec<u8>),
) -> Option<()> {
    let src = ImageStore::<u8, N>::borrow(bytes, w, h).ok()?;
    let mut dst = ImageStoreMut::<u8, N>::borrow(scaled, tw, th).ok()?;
    between.resize(plan.scratch_size(), 0);
    plan.resample_with_scratch(&src, &mut dst, between).ok()
}

/// Spreads the packed scaled pixels into the tensor's three planes, in its channel order,
/// normalised. Compiled for AVX2 too and chosen at run time: the builds target x86-64's SSE2
/// baseline, and this loop (a 640x469 frame, 3.6 MB of floats) took 0.48 ms with SSE2 against
/// 0.13 ms with AVX2 here. No fused multiply-add, so both give the same floats.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn spread(scaled: &[u8], bpp: usize, [r, g, b]: [usize; 3], target: &TensorTarget, out: &mut [f32]) {
    let (cw, width, plane) = (target.content_w, target.width, target.width * target.height);
    let (p0, rest) = out.split_at_mut(plane);
    let (p1, p2) = rest.split_at_mut(plane);
    let channels = target.order.rgb_channels();
    // Tensor plane of R, G and B.
    let [pr, pg, pb] = if channels[0] == 2 { [p2, p1, p0] } else { [p0, p1, p2] };
    let k = channels.map(|c| target.norm.affine(c));
    for plane in [&mut *pr, &mut *pg, &mut *pb] {
        zero_padding(plane, target);
    }
    for (y, row) in scaled.chunks_exact(cw * bpp).enumerate() {
        let o = y * width;
        let outs = [&mut pr[o..o + cw], &mut pg[o..o + cw], &mut pb[o..o + cw]];
        if bpp == 4 {
            spread_row4(row, [r, g, b], k, outs);
        } else {
            spread_row3(row, [r, g, b], k, outs);
        }
    }
}

/// Zeroes what lies right of and below the content in one `width` x `height` plane (only that:
/// the whole tensor is megabytes).
#[inline(always)]
fn zero_padding(plane: &mut [f32], target: &TensorTarget) {
    let (cw, ch, width) = (target.content_w, target.content_h, target.width);
    if cw < width {
        for row in plane.chunks_exact_mut(width).take(ch) {
            row[cw..].fill(0.0);
        }
    }
    plane[ch * width..].fill(0.0);
}

/// One row of 4-byte pixels: each pixel read as one little-endian word and its channels shifted
/// out, so the loop vectorises whatever the byte order.
#[inline(always)]
fn spread_row4(row: &[u8], offsets: [usize; 3], k: [[f32; 2]; 3], [or, og, ob]: [&mut [f32]; 3]) {
    let [sr, sg, sb] = offsets.map(|o| 8 * o as u32);
    let pixels = row.chunks_exact(4).map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
    for (v, ((r, g), b)) in pixels.zip(or.iter_mut().zip(og.iter_mut()).zip(ob.iter_mut())) {
        *r = ((v >> sr) & 0xff) as f32 * k[0][0] - k[0][1];
        *g = ((v >> sg) & 0xff) as f32 * k[1][0] - k[1][1];
        *b = ((v >> sb) & 0xff) as f32 * k[2][0] - k[2][1];
    }
}

/// One row of 3-byte pixels (RGB, BGR).
#[inline(always)]
fn spread_row3(row: &[u8], [r, g, b]: [usize; 3], k: [[f32; 2]; 3], [or, og, ob]: [&mut [f32]; 3]) {
    for (p, ((vr, vg), vb)) in row.chunks_exact(3).zip(or.iter_mut().zip(og.iter_mut()).zip(ob.iter_mut())) {
        *vr = p[r] as f32 * k[0][0] - k[0][1];
        *vg = p[g] as f32 * k[1][0] - k[1][1];
        *vb = p[b] as f32 * k[2][0] - k[2][1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::Normalisation;

    fn target(tw: usize, th: usize, cw: usize, ch: usize, order: ColourOrder) -> TensorTarget {
        TensorTarget {
            width: tw,
            height: th,
            content_w: cw,
            content_h: ch,
            layout: TensorLayout::Nchw,
            order,
            norm: Normalisation::IDENTITY,
        }
    }

    /// The largest and the mean absolute difference between this path and the per-pixel
    /// reference (which interpolates in floats, then converts, with each chroma sample over its
    /// pixels; the `yuv` crate rounds to bytes and interpolates 4:2:2 chroma), 0..255 levels.
    /// The reference samples two pixels an axis; `pic-scale` widens its filter when
    /// downscaling, which softens the steps between 4:2:0 chroma samples (up to 5 levels of R or B
    /// at this 0.88 scale, a level on smooth RGB) but not the mean.
    fn differences<P: AsRef<[u8]> + Sync>(img: &Image<P>, t: &TensorTarget) -> (f32, f32) {
        let whole = (0.0, 0.0, img.width as f32, img.height as f32);
        assert!(applies(img, whole, t));
        let (mut fast, mut slow) = (vec![7.0; t.len()], vec![0.0; t.len()]);
        assert!(frame_to_planar(img, t, &mut fast), "{:?}", img.layout);
        img.to_tensor_generic(whole, t, &mut slow);
        let d: Vec<f32> = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).collect();
        (d.iter().cloned().fold(0.0, f32::max), d.iter().sum::<f32>() / d.len() as f32)
    }

    /// Smooth test planes (faces are, mostly): gradients with a gentle ripple, `w` x `h`.
    fn plane(w: usize, h: usize, k: f32) -> Vec<u8> {
        (0..w * h).map(|i| (128.0 + 90.0 * ((i % w) as f32 * k / w as f32 + (i / w) as f32 * 0.01).sin()) as u8).collect()
    }

    /// A 4:2:0 picture (`y` rows `ys` bytes apart, `u` and `v` rows `cs`) as YUY2 with its chroma on
    /// every row; an odd width repeats the last Y. Returns the bytes and their row stride.
    fn yuy2_of(y: &[u8], ys: usize, [u, v]: [&[u8]; 2], cs: usize, w: usize, h: usize) -> (Vec<u8>, usize) {
        let groups = w.div_ceil(2);
        let bytes = (0..h)
            .flat_map(|r| (0..groups).map(move |g| (r, g)))
            .flat_map(|(r, g)| {
                let y1 = if 2 * g + 1 < w { y[r * ys + 2 * g + 1] } else { y[r * ys + 2 * g] };
                [y[r * ys + 2 * g], u[(r / 2) * cs + g], y1, v[(r / 2) * cs + g]]
            })
            .collect();
        (bytes, 4 * groups)
    }

    fn yuy2_image(bytes: &[u8], stride: usize, spec: YuvSpec, w: usize, h: usize) -> Image<&[u8]> {
        Image {
            layout: PixelLayout::Yuv422 { spec, y: 0, u: 1, v: 3 },
            width: w,
            height: h,
            planes: [bytes, &[], &[]],
            strides: [stride, 0, 0],
        }
    }

    #[test]
    fn every_fast_path_layout_is_within_a_few_levels_of_the_reference() {
        let (w, h) = (400, 300);
        let t = target(352, 288, 352, 264, ColourOrder::Bgr);
        let spec = YuvSpec::from_colorimetry(false, false);
        let (y, u, v) = (plane(w, h, 9.0), plane(w / 2, h / 2, 3.0), plane(w / 2, h / 2, 5.0));
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(&a, &b)| [a, b]).collect();
        let i420 =
            Image { layout: PixelLayout::I420(spec), width: w, height: h, planes: [&y[..], &u[..], &v[..]], strides: [w, w / 2, w / 2] };
        let nv12 = Image { layout: PixelLayout::Nv12(spec), width: w, height: h, planes: [&y[..], &uv[..], &[][..]], strides: [w, w, 0] };
        let (packed, ps) = yuy2_of(&y, w, [&u, &v], w / 2, w, h);
        let yuy2 = yuy2_image(&packed, ps, spec, w, h);
        for img in [&i420, &nv12, &yuy2] {
            let (max, mean) = differences(img, &t);
            assert!(max <= 6.0 && mean <= 0.5, "{:?}: max {max} mean {mean}", img.layout);
        }
        // The same picture in 4:2:0 and 4:2:2 gives the same tensor (a webcam's YUY2 finds the
        // faces its I420 does).
        let tensor = |img: &dyn Fn(&mut [f32]) -> bool| {
            let mut out = vec![0.0; t.len()];
            assert!(img(&mut out));
            out
        };
        let from_i420 = tensor(&|out| frame_to_planar(&i420, &t, out));
        assert!(from_i420 == tensor(&|out| frame_to_planar(&yuy2, &t, out)), "YUY2 and I420");
        assert!(from_i420 == tensor(&|out| frame_to_planar(&nv12, &t, out)), "NV12 and I420");
    }

    #[test]
    fn packed_rgb_with_padded_rows_is_within_two_levels_and_the_padding_is_zero() {
        let (w, h) = (300, 250);
        let stride = w * 4 + 16;
        let r = plane(stride, h, 7.0);
        let img = Image {
            layout: PixelLayout::Packed { bpp: 4, r: 2, g: 1, b: 0 },
            width: w,
            height: h,
            planes: [&r[..], &[][..], &[][..]],
            strides: [stride, 0, 0],
        };
        for t in [target(320, 288, 300, 250, ColourOrder::Rgb), target(288, 256, 280, 240, ColourOrder::Bgr)] {
            let (max, _) = differences(&img, &t);
            assert!(max <= 2.0, "{}x{}: {max}", t.content_w, t.content_h);
        }
    }

    #[test]
    fn odd_sizes_with_padded_strides_are_converted_like_the_reference() {
        // 4:2:0 and 4:2:2 of odd width and height, rows padded to 4 bytes as GStreamer lays them.
        let (w, h) = (401usize, 301usize);
        let ch = h.div_ceil(2);
        let (ys, cs) = (404, 204);
        let spec = YuvSpec::from_colorimetry(true, true);
        let (y, u, v) = (plane(ys, h, 9.0), plane(cs, ch, 3.0), plane(cs, ch, 5.0));
        let i420 = Image { layout: PixelLayout::I420(spec), width: w, height: h, planes: [&y[..], &u[..], &v[..]], strides: [ys, cs, cs] };
        let uv: Vec<u8> = (0..ch)
            .flat_map(|r| (0..2 * cs).map(move |x| (r, x)))
            .map(|(r, x)| if x % 2 == 0 { u[r * cs + x / 2] } else { v[r * cs + x / 2] })
            .collect();
        let nv12 =
            Image { layout: PixelLayout::Nv12(spec), width: w, height: h, planes: [&y[..], &uv[..], &[][..]], strides: [ys, 2 * cs, 0] };
        let (packed, ps) = yuy2_of(&y, ys, [&u, &v], cs, w, h);
        let yuy2 = yuy2_image(&packed, ps, spec, w, h);
        let t = target(384, 288, 352, 264, ColourOrder::Rgb);
        for img in [&i420, &nv12, &yuy2] {
            let (max, mean) = differences(img, &t);
            assert!(max <= 6.0 && mean <= 0.5, "{:?}: max {max} mean {mean}", img.layout);
        }
    }

    #[test]
    fn small_tensors_regions_and_short_planes_are_left_to_the_separable_path() {
        let (w, h) = (300, 250);
        let y = plane(w, h, 3.0);
        let img = Image {
            layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
            width: w,
            height: h,
            planes: [&y[..], &y[..10], &y[..10]],
            strides: [w, w / 2, w / 2],
        };
        let whole = (0.0, 0.0, w as f32, h as f32);
        assert!(!applies(&img, whole, &target(64, 64, 64, 64, ColourOrder::Bgr)), "a face crop");
        let t = target(320, 256, 300, 250, ColourOrder::Bgr);
        assert!(!applies(&img, (1.0, 0.0, w as f32, h as f32), &t), "a region");
        let mut out = vec![0.0; t.len()];
        assert!(!frame_to_planar(&img, &t, &mut out), "chroma planes too short: refused, not a panic");
        for layout in [PixelLayout::Yuv422 { spec: YuvSpec::BT601_LIMITED, y: 0, u: 1, v: 3 }, PixelLayout::Nv12(YuvSpec::BT601_LIMITED)] {
            let short = Image { layout, width: w, height: h, planes: [&y[..1000], &y[..1000], &[][..]], strides: [2 * w, w, 0] };
            assert!(!frame_to_planar(&short, &t, &mut out), "{layout:?}: a short plane refused, not a panic");
        }
        let bgrx = Image {
            layout: PixelLayout::Packed { bpp: 4, r: 2, g: 1, b: 0 },
            width: w,
            height: h,
            planes: [&y[..], &[][..], &[][..]],
            strides: [4 * w, 0, 0],
        };
        assert!(!frame_to_planar(&bgrx, &t, &mut out), "a short packed plane refused");
    }
}
