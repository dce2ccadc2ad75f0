// SPDX-License-Identifier: MIT
//! Pre-processing: views over raw video planes, bilinear scaling and colour conversion straight
//! into the float tensors the detector and the classifier take.
//!
//! Sampling follows OpenCV's `cv::resize(INTER_LINEAR)` (pixel centres aligned, edges clamped)
//! so that our tensors match what the OpenCV-based peer feeds the same models. YUV input follows
//! the stream's colorimetry: BT.601 or BT.709 matrix, limited or full range.

/// Where the colour channels of a frame live.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PixelLayout {
    /// One plane, `bpp` bytes per pixel, with R, G and B at the given byte offsets.
    Packed { bpp: usize, r: usize, g: usize, b: usize },
    /// Three planes: Y full size, U and V at half width and half height.
    I420(YuvSpec),
    /// Two planes: Y full size, interleaved UV at half width and half height.
    Nv12(YuvSpec),
    /// One plane of packed 4:2:2 (YUY2, UYVY, YVYU): each 4-byte group holds two pixels,
    /// the first pixel's Y at byte `y` and the second's at `y + 2`, their shared U at `u`
    /// and V at `v`.
    Yuv422 { spec: YuvSpec, y: usize, u: usize, v: usize },
}

impl PixelLayout {
    /// The YUV-to-RGB conversion of a YUV layout; `None` for RGB.
    pub fn yuv_spec(&self) -> Option<YuvSpec> {
        match *self {
            PixelLayout::I420(spec) | PixelLayout::Nv12(spec) | PixelLayout::Yuv422 { spec, .. } => Some(spec),
            PixelLayout::Packed { .. } => None,
        }
    }
}

/// How 8-bit YUV maps to RGB: the matrix's luma weights (Kr, Kb) and the range (limited:
/// Y 16..235, U/V 16..240; full: 0..255). Formulas from ITU-R BT.601 / BT.709.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct YuvSpec {
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    kr: f32,
    kb: f32,
}

impl YuvSpec {
    /// BT.601 limited range, what decoders of SD and most web video give.
    pub const BT601_LIMITED: YuvSpec = YuvSpec::new(0.299, 0.114, false);

    /// `bt709` picks the BT.709 matrix (else BT.601); `full_range` the 0..255 range.
    pub fn from_colorimetry(bt709: bool, full_range: bool) -> YuvSpec {
        if bt709 {
            YuvSpec::new(0.2126, 0.0722, full_range)
        } else {
            YuvSpec::new(0.299, 0.114, full_range)
        }
    }

    const fn new(kr: f32, kb: f32, full_range: bool) -> YuvSpec {
        if full_range {
            YuvSpec { y_offset: 0.0, y_scale: 1.0, c_scale: 1.0, kr, kb }
        } else {
            YuvSpec { y_offset: 16.0, y_scale: 255.0 / 219.0, c_scale: 255.0 / 224.0, kr, kb }
        }
    }

    /// Whether Y and U/V use the full 0..255 range (else limited: Y 16..235, U/V 16..240).
    pub fn full_range(&self) -> bool {
        self.y_offset == 0.0
    }

    /// The matrix's luma weights of R and B (Kr, Kb).
    pub fn weights(&self) -> (f32, f32) {
        (self.kr, self.kb)
    }

    /// YUV (0..255 floats) to RGB, clamped to 0..255.
    #[inline(always)]
    pub fn to_rgb(&self, [y, u, v]: [f32; 3]) -> [f32; 3] {
        let kg = 1.0 - self.kr - self.kb;
        let y = (y - self.y_offset) * self.y_scale;
        let u = (u - 128.0) * self.c_scale;
        let v = (v - 128.0) * self.c_scale;
        let r = y + 2.0 * (1.0 - self.kr) * v;
        let b = y + 2.0 * (1.0 - self.kb) * u;
        let g = y - (2.0 * self.kb * (1.0 - self.kb) * u + 2.0 * self.kr * (1.0 - self.kr) * v) / kg;
        [r, g, b].map(|c| c.clamp(0.0, 255.0))
    }

    /// [`YuvSpec::to_rgb`] over three channel rows in place: Y, U, V in, R, G, B out. One
    /// straight loop without branches, so the compiler vectorises it.
    pub fn rows_to_rgb(&self, c0: &mut [f32], c1: &mut [f32], c2: &mut [f32]) {
        for ((a, b), c) in c0.iter_mut().zip(c1.iter_mut()).zip(c2.iter_mut()) {
            [*a, *b, *c] = self.to_rgb([*a, *b, *c]);
        }
    }

    /// RGB to YUV, rounded to bytes.
    pub fn from_rgb(&self, rgb: [u8; 3]) -> [u8; 3] {
        let [r, g, b] = rgb.map(|v| v as f32);
        let kg = 1.0 - self.kr - self.kb;
        let luma = self.kr * r + kg * g + self.kb * b;
        let y = self.y_offset + luma / self.y_scale;
        let u = 128.0 + (b - luma) / (2.0 * (1.0 - self.kb)) / self.c_scale;
        let v = 128.0 + (r - luma) / (2.0 * (1.0 - self.kr)) / self.c_scale;
        [y, u, v].map(|c| c.round().clamp(0.0, 255.0) as u8)
    }
}

/// A frame as planes of bytes: `P` is `&[u8]` to read or `&mut [u8]` to draw.
///
/// `planes[i]` starts at the first pixel of plane `i`, rows are `strides[i]` bytes apart.
/// Unused planes are empty.
pub struct Image<P> {
    pub layout: PixelLayout,
    pub width: usize,
    pub height: usize,
    pub planes: [P; 3],
    pub strides: [usize; 3],
}

/// Channel order of a tensor built from a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourOrder {
    Rgb,
    Bgr,
    /// One channel, luma as OpenCV's `COLOR_BGR2GRAY` computes it (0.299 R + 0.587 G + 0.114 B).
    Grey,
}

impl ColourOrder {
    /// The tensor channels of R, G and B (for the three-channel orders).
    pub(crate) fn rgb_channels(self) -> [usize; 3] {
        match self {
            ColourOrder::Bgr => [2, 1, 0],
            _ => [0, 1, 2],
        }
    }

    /// Number of tensor channels.
    pub fn channels(self) -> usize {
        match self {
            ColourOrder::Grey => 1,
            _ => 3,
        }
    }
}

/// Memory layout of an image tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[N, C, H, W]`
    Nchw,
    /// `[N, H, W, C]`
    Nhwc,
}

/// Per-channel affine normalisation: `value = (pixel * scale - mean[c]) / std[c]`, with pixel in 0..255.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalisation {
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalisation {
    /// Raw 0..255 values (YuNet).
    pub const IDENTITY: Normalisation = Normalisation { scale: 1.0, mean: [0.0; 3], std: [1.0; 3] };

    fn apply(&self, v: f32, c: usize) -> f32 {
        (v * self.scale - self.mean[c]) / self.std[c]
    }

    /// `[a, b]` such that [`Normalisation::apply`] of channel `c` is `v * a - b`, for loops that
    /// must not divide per value.
    pub(crate) fn affine(&self, c: usize) -> [f32; 2] {
        [self.scale / self.std[c], self.mean[c] / self.std[c]]
    }

    /// [`Normalisation::apply`] of a row of channel `c` into `out`.
    fn apply_row(&self, row: &[f32], c: usize, out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = self.apply(v, c);
        }
    }
}

/// Where to write a converted image: a `width` x `height` tensor of `order.channels()` channels.
/// Pixels outside `content_w` x `content_h` (the scaled frame) are zero padding.
#[derive(Clone, Copy, Debug)]
pub struct TensorTarget {
    pub width: usize,
    pub height: usize,
    pub content_w: usize,
    pub content_h: usize,
    pub layout: TensorLayout,
    pub order: ColourOrder,
    pub norm: Normalisation,
}

impl TensorTarget {
    /// Writes pixel `pos` (row * width + x) of `out` from its RGB (0..255): converted to this
    /// target's channel order, normalised, at this layout's indices.
    #[inline]
    fn store(&self, out: &mut [f32], pos: usize, rgb: [f32; 3]) {
        let px = match self.order {
            ColourOrder::Grey => [grey(rgb), 0.0, 0.0],
            ColourOrder::Rgb => rgb,
            ColourOrder::Bgr => [rgb[2], rgb[1], rgb[0]],
        };
        let (nc, plane) = (self.order.channels(), self.width * self.height);
        for (c, &v) in px.iter().enumerate().take(nc) {
            let i = match self.layout {
                TensorLayout::Nchw => c * plane + pos,
                TensorLayout::Nhwc => pos * nc + c,
            };
            out[i] = self.norm.apply(v, c);
        }
    }

    /// Floats one image takes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.width * self.height * self.order.channels()
    }
}

/// OpenCV's grey from RGB.
fn grey(rgb: [f32; 3]) -> f32 {
    0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
}

impl<P: AsRef<[u8]> + Sync> Image<P> {
    /// RGB of pixel (x, y), which must be inside the image.
    #[inline]
    pub fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        match self.layout {
            PixelLayout::Packed { bpp, r, g, b } => {
                let p = &self.planes[0].as_ref()[y * self.strides[0] + x * bpp..];
                [p[r] as f32, p[g] as f32, p[b] as f32]
            }
            PixelLayout::I420(spec) => {
                let yy = self.planes[0].as_ref()[y * self.strides[0] + x];
                let u = self.planes[1].as_ref()[(y / 2) * self.strides[1] + x / 2];
                let v = self.planes[2].as_ref()[(y / 2) * self.strides[2] + x / 2];
                spec.to_rgb([yy, u, v].map(f32::from))
            }
            PixelLayout::Nv12(spec) => {
                let yy = self.planes[0].as_ref()[y * self.strides[0] + x];
                let uv = &self.planes[1].as_ref()[(y / 2) * self.strides[1] + (x / 2) * 2..];
                spec.to_rgb([yy, uv[0], uv[1]].map(f32::from))
            }
            PixelLayout::Yuv422 { spec, y: yo, u, v } => {
                let p = &self.planes[0].as_ref()[y * self.strides[0] + (x / 2) * 4..];
                spec.to_rgb([p[yo + (x & 1) * 2], p[u], p[v]].map(f32::from))
            }
        }
    }

    /// Grey value of pixel (x, y) in 0..255, as OpenCV's `COLOR_BGR2GRAY` of its RGB.
    #[inline]
    pub fn grey(&self, x: usize, y: usize) -> f32 {
        grey(self.rgb(x, y))
    }

    /// Scales the region `src` = (x0, y0, x1, y1) of this image (frame pixels, may extend past
    /// the edges, which are clamped) to `target.content_w` x `target.content_h` with bilinear
    /// interpolation, converts and normalises it into `out` (`target.len()` floats), and zeroes
    /// the padding. Panics if `out` is shorter than `target.len()`.
    pub fn to_tensor(&self, src: (f32, f32, f32, f32), target: &TensorTarget, out: &mut [f32]) {
        let out = &mut out[..target.len()];
        // Writes every pixel, padding included.
        if crate::resize::applies(self, src, target) && crate::resize::frame_to_planar(self, target, out) {
            return;
        }
        if target.content_w < target.width || target.content_h < target.height {
            out.fill(0.0);
        }
        if self.width == 0 || self.height == 0 {
            return;
        }
        if target.layout == TensorLayout::Nchw && target.order != ColourOrder::Grey {
            self.to_planar_rgb(src, target, out);
        } else {
            self.to_tensor_separable(src, target, out);
        }
    }

    /// The per-pixel reference path, for any layout and order: the fast paths must equal it.
    #[cfg(test)]
    pub(crate) fn to_tensor_generic(&self, src: (f32, f32, f32, f32), target: &TensorTarget, out: &mut [f32]) {
        // One monomorphised loop per layout: the per-pixel work has no format branch.
        match self.layout {
            PixelLayout::Packed { bpp, r, g, b } => {
                let s = PackedSampler { data: self.planes[0].as_ref(), stride: self.strides[0], bpp, r, g, b };
                resample(&s, self.width, self.height, src, target, out)
            }
            PixelLayout::I420(spec) => {
                let s = I420Sampler {
                    spec,
                    planes: [self.planes[0].as_ref(), self.planes[1].as_ref(), self.planes[2].as_ref()],
                    strides: self.strides,
                };
                resample(&s, self.width, self.height, src, target, out)
            }
            PixelLayout::Nv12(spec) => {
                let s = Nv12Sampler { spec, y: self.planes[0].as_ref(), uv: self.planes[1].as_ref(), strides: self.strides };
                resample(&s, self.width, self.height, src, target, out)
            }
            PixelLayout::Yuv422 { .. } => resample(&Yuv422Sampler(self), self.width, self.height, src, target, out),
        }
    }
}

impl<P: AsRef<[u8]> + Sync> Image<P> {
    /// Where channel `c` (R, G, B for packed layouts; Y, U, V for YUV) of source row `y` lives:
    /// the plane, the byte offset of the row, and for column `x` the byte offset in that row.
    #[inline]
    fn channel_row(&self, c: usize, y: usize) -> (&[u8], usize) {
        match self.layout {
            PixelLayout::Packed { .. } | PixelLayout::Yuv422 { .. } => (self.planes[0].as_ref(), y * self.strides[0]),
            PixelLayout::I420(_) if c == 0 => (self.planes[0].as_ref(), y * self.strides[0]),
            PixelLayout::I420(_) => (self.planes[c].as_ref(), (y / 2) * self.strides[c]),
            PixelLayout::Nv12(_) if c == 0 => (self.planes[0].as_ref(), y * self.strides[0]),
            PixelLayout::Nv12(_) => (self.planes[1].as_ref(), (y / 2) * self.strides[1]),
        }
    }

    /// For each channel and each of `n` output columns: the byte offsets of the two source
    /// samples in a row of that channel, and the weight of the second.
    /// Fills `taps` (reused: no allocation once they have grown) for `n` destination columns.
    fn column_taps(&self, origin: f32, step: f32, n: usize, taps: &mut Taps) {
        for (c, channel) in taps.iter_mut().enumerate() {
            channel.clear();
            channel.extend((0..n).map(|i| {
                let (x0, x1, w) = tap(origin, step, i, self.width);
                (self.column_offset(c, x0), self.column_offset(c, x1), w)
            }));
        }
    }

    fn column_offset(&self, c: usize, x: usize) -> usize {
        match self.layout {
            PixelLayout::Packed { bpp, r, g, b } => x * bpp + [r, g, b][c],
            PixelLayout::I420(_) => {
                if c == 0 {
                    x
                } else {
                    x / 2
                }
            }
            PixelLayout::Nv12(_) => {
                if c == 0 {
                    x
                } else {
                    (x / 2) * 2 + c - 1
                }
            }
            PixelLayout::Yuv422 { y, u, v, .. } => (x / 2) * 4 + [y + (x & 1) * 2, u, v][c],
        }
    }

    /// The detector's fast path: separable bilinear scaling (each source row is scaled
    /// horizontally once, then pairs of rows are blended), colour conversion at the output
    /// resolution, and contiguous writes into the three planes of an NCHW tensor. Same result
    /// as the generic path: both interpolate the native channels, then convert. Large frames
    /// are split into two bands of rows converted on two threads.
    fn to_planar_rgb(&self, src: (f32, f32, f32, f32), target: &TensorTarget, out: &mut [f32])
    where
        P: Sync,
    {
        let (cw, ch) = (target.content_w, target.content_h);
        let sx = (src.2 - src.0) / cw.max(1) as f32;
        let sy = (src.3 - src.1) / ch.max(1) as f32;
        TAPS.with_borrow_mut(|offsets| {
            self.column_taps(src.0, sx, cw, offsets);
            self.planar_bands(src.1, sy, offsets, target, out);
        });
    }

    /// The rows of [`Image::to_planar_rgb`], in two bands on two threads for large tensors.
    fn planar_bands(&self, origin_y: f32, sy: f32, offsets: &Taps, target: &TensorTarget, out: &mut [f32]) {
        let (cw, ch) = (target.content_w, target.content_h);
        let plane = target.width * target.height;
        let (p0, rest) = out.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        // Band boundaries at whole tensor rows; below ~64k pixels a thread costs more than it saves.
        let split = if cw * ch >= 65_536 { ch / 2 } else { ch };
        let cut = split * target.width;
        let (top0, bottom0) = p0.split_at_mut(cut);
        let (top1, bottom1) = p1.split_at_mut(cut);
        let (top2, bottom2) = p2.split_at_mut(cut);
        let band = |rows: std::ops::Range<usize>, planes: [&mut [f32]; 3]| self.planar_band(origin_y, sy, rows, offsets, target, planes);
        if split == ch {
            band(0..ch, [top0, top1, top2]);
        } else {
            // rayon's pool threads persist, so their scratch rows are reused frame after frame.
            rayon::join(|| band(0..split, [top0, top1, top2]), || band(split..ch, [bottom0, bottom1, bottom2]));
        }
    }

    /// Scales tensor rows `rows` and hands each row's R, G and B (0..255, `cw` values each) to
    /// `store(band_row, [r, g, b])`.
    fn separable_band<F: FnMut(usize, [&[f32]; 3])>(
        &self,
        origin_y: f32,
        sy: f32,
        rows: std::ops::Range<usize>,
        offsets: &Taps,
        cw: usize,
        store: F,
    ) {
        ROWS.with_borrow_mut(|scratch| self.separable_band_in(scratch, origin_y, sy, rows, offsets, cw, store));
    }

    #[allow(clippy::too_many_arguments)]
    fn separable_band_in<F: FnMut(usize, [&[f32]; 3])>(
        &self,
        scratch: &mut RowScratch,
        origin_y: f32,
        sy: f32,
        rows: std::ops::Range<usize>,
        offsets: &Taps,
        cw: usize,
        mut store: F,
    ) {
        // Two cached horizontally scaled rows, channel-major: [c][x].
        let RowScratch { cache, px } = scratch;
        for row in cache.iter_mut() {
            row.0 = usize::MAX;
            row.1.resize(3 * cw, 0.0);
        }
        px.resize(3 * cw, 0.0);
        for (band_row, ty) in rows.enumerate() {
            let (y0, y1, wy) = tap(origin_y, sy, ty, self.height);
            let slot0 = self.cached_row(cache, y0, None, offsets, cw);
            let slot1 = self.cached_row(cache, y1, Some(slot0), offsets, cw);
            let (a, b) = (&cache[slot0].1, &cache[slot1].1);
            for ((p, &a), &b) in px.iter_mut().zip(a).zip(b) {
                *p = a + (b - a) * wy;
            }
            let (n0, rest) = px.split_at_mut(cw);
            let (n1, n2) = rest.split_at_mut(cw);
            if let Some(spec) = self.layout.yuv_spec() {
                spec.rows_to_rgb(n0, n1, n2);
            }
            store(band_row, [n0, n1, n2]);
        }
    }

    /// Tensor rows `rows` of [`Image::to_planar_rgb`]; `planes` are the three channel planes
    /// from the band's first row on.
    fn planar_band(
        &self,
        origin_y: f32,
        sy: f32,
        rows: std::ops::Range<usize>,
        offsets: &Taps,
        target: &TensorTarget,
        planes: [&mut [f32]; 3],
    ) {
        let [p0, p1, p2] = planes;
        let [ri, _, bi] = target.order.rgb_channels();
        let (norm, width, cw) = (target.norm, target.width, target.content_w);
        let mut outs = [p0, p1, p2];
        self.separable_band(origin_y, sy, rows, offsets, cw, |row, [r, g, b]| {
            let i = row * width;
            norm.apply_row(r, ri, &mut outs[ri][i..i + cw]);
            norm.apply_row(g, 1, &mut outs[1][i..i + cw]);
            norm.apply_row(b, bi, &mut outs[bi][i..i + cw]);
        });
    }

    /// The same separable scaling for the other tensors (grey, or NHWC): one thread, as these
    /// are face crops of a few thousand pixels.
    fn to_tensor_separable(&self, src: (f32, f32, f32, f32), target: &TensorTarget, out: &mut [f32]) {
        let (cw, ch) = (target.content_w, target.content_h);
        let sx = (src.2 - src.0) / cw.max(1) as f32;
        let sy = (src.3 - src.1) / ch.max(1) as f32;
        TAPS.with_borrow_mut(|offsets| {
            self.column_taps(src.0, sx, cw, offsets);
            self.separable_band(src.1, sy, 0..ch, offsets, cw, |row, [r, g, b]| {
                for x in 0..cw {
                    target.store(out, row * target.width + x, [r[x], g[x], b[x]]);
                }
            });
        });
    }

    /// Index of the cache slot holding source row `y` scaled horizontally, computing it into a
    /// slot other than `keep` when it is not cached.
    fn cached_row(&self, rows: &mut [(usize, Vec<f32>); 2], y: usize, keep: Option<usize>, offsets: &Taps, cw: usize) -> usize {
        if let Some(i) = rows.iter().position(|r| r.0 == y) {
            return i;
        }
        let slot = match keep {
            Some(k) => 1 - k,
            None => 0,
        };
        let row = &mut rows[slot];
        row.0 = y;
        for (c, taps) in offsets.iter().enumerate() {
            let (data, start) = self.channel_row(c, y);
            let line = &data[start..];
            for (o, &(i0, i1, w)) in row.1[c * cw..(c + 1) * cw].iter_mut().zip(taps) {
                let (a, b) = (line[i0] as f32, line[i1] as f32);
                *o = a + (b - a) * w;
            }
        }
        slot
    }
}

/// Reads the native channels of a pixel (RGB for packed formats, YUV for planar ones) and
/// converts interpolated native values to RGB and grey. Interpolating before the conversion is
/// exact for YUV (the conversion is affine) and converts once per output pixel instead of four.
#[cfg(test)]
trait Sampler {
    fn native(&self, x: usize, y: usize) -> [f32; 3];
    fn to_rgb(&self, native: [f32; 3]) -> [f32; 3];
}

#[cfg(test)]
struct PackedSampler<'a> {
    data: &'a [u8],
    stride: usize,
    bpp: usize,
    r: usize,
    g: usize,
    b: usize,
}

#[cfg(test)]
impl Sampler for PackedSampler<'_> {
    #[inline(always)]
    fn native(&self, x: usize, y: usize) -> [f32; 3] {
        let i = y * self.stride + x * self.bpp;
        [self.data[i + self.r] as f32, self.data[i + self.g] as f32, self.data[i + self.b] as f32]
    }
    #[inline(always)]
    fn to_rgb(&self, native: [f32; 3]) -> [f32; 3] {
        native
    }
}

#[cfg(test)]
struct I420Sampler<'a> {
    spec: YuvSpec,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
}

#[cfg(test)]
impl Sampler for I420Sampler<'_> {
    #[inline(always)]
    fn native(&self, x: usize, y: usize) -> [f32; 3] {
        let c = (y / 2, x / 2);
        [
            self.planes[0][y * self.strides[0] + x] as f32,
            self.planes[1][c.0 * self.strides[1] + c.1] as f32,
            self.planes[2][c.0 * self.strides[2] + c.1] as f32,
        ]
    }
    #[inline(always)]
    fn to_rgb(&self, native: [f32; 3]) -> [f32; 3] {
        self.spec.to_rgb(native)
    }
}

#[cfg(test)]
struct Nv12Sampler<'a> {
    spec: YuvSpec,
    y: &'a [u8],
    uv: &'a [u8],
    strides: [usize; 3],
}

#[cfg(test)]
impl Sampler for Nv12Sampler<'_> {
    #[inline(always)]
    fn native(&self, x: usize, y: usize) -> [f32; 3] {
        let ci = (y / 2) * self.strides[1] + (x / 2) * 2;
        [self.y[y * self.strides[0] + x] as f32, self.uv[ci] as f32, self.uv[ci + 1] as f32]
    }
    #[inline(always)]
    fn to_rgb(&self, native: [f32; 3]) -> [f32; 3] {
        self.spec.to_rgb(native)
    }
}

/// Packed 4:2:2 through [`Image::rgb`]'s addressing, converting after interpolation.
#[cfg(test)]
struct Yuv422Sampler<'a, P>(&'a Image<P>);

#[cfg(test)]
impl<P: AsRef<[u8]>> Sampler for Yuv422Sampler<'_, P> {
    #[inline(always)]
    fn native(&self, x: usize, y: usize) -> [f32; 3] {
        let PixelLayout::Yuv422 { y: yo, u, v, .. } = self.0.layout else { unreachable!("a Yuv422 image") };
        let p = &self.0.planes[0].as_ref()[y * self.0.strides[0] + (x / 2) * 4..];
        [p[yo + (x & 1) * 2], p[u], p[v]].map(f32::from)
    }
    #[inline(always)]
    fn to_rgb(&self, native: [f32; 3]) -> [f32; 3] {
        self.0.layout.yuv_spec().map_or(native, |s| s.to_rgb(native))
    }
}

/// The per-pixel reference resampling loop shared by every layout (see [`Image::to_tensor`]).
#[cfg(test)]
fn resample<S: Sampler>(s: &S, width: usize, height: usize, src: (f32, f32, f32, f32), target: &TensorTarget, out: &mut [f32]) {
    let sx = (src.2 - src.0) / target.content_w.max(1) as f32;
    let sy = (src.3 - src.1) / target.content_h.max(1) as f32;
    let xs = axis_taps(src.0, sx, target.content_w, width);
    for ty in 0..target.content_h {
        let (y0, y1, wy) = tap(src.1, sy, ty, height);
        for (tx, &(x0, x1, wx)) in xs.iter().enumerate() {
            let (a, b, c, d) = (s.native(x0, y0), s.native(x1, y0), s.native(x0, y1), s.native(x1, y1));
            let v: [f32; 3] = std::array::from_fn(|ch| {
                let top = a[ch] + (b[ch] - a[ch]) * wx;
                let bottom = c[ch] + (d[ch] - c[ch]) * wx;
                top + (bottom - top) * wy
            });
            target.store(out, ty * target.width + tx, s.to_rgb(v));
        }
    }
}

/// The least-squares similarity transform (rotation, uniform scale, shift; no reflection)
/// that maps the points `from` onto `to`, as a 2x3 matrix `[a, -b, tx, b, a, ty]`:
/// `x' = a x - b y + tx`, `y' = b x + a y + ty`. Closed form of Umeyama (1991) for 2-D similarity.
/// Degenerate input (all `from` points equal) gives a pure shift.
pub fn similarity_transform(from: &[[f32; 2]], to: &[[f32; 2]]) -> [f32; 6] {
    let n = from.len().min(to.len()).max(1) as f32;
    let mean = |p: &[[f32; 2]]| p.iter().fold([0.0f32; 2], |m, q| [m[0] + q[0] / n, m[1] + q[1] / n]);
    let (mf, mt) = (mean(from), mean(to));
    let (mut dot, mut cross, mut norm) = (0.0f32, 0.0f32, 0.0f32);
    for (p, q) in from.iter().zip(to) {
        let (px, py, qx, qy) = (p[0] - mf[0], p[1] - mf[1], q[0] - mt[0], q[1] - mt[1]);
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    let (a, b) = if norm > 0.0 { (dot / norm, cross / norm) } else { (1.0, 0.0) };
    [a, -b, mt[0] - (a * mf[0] - b * mf[1]), b, a, mt[1] - (b * mf[0] + a * mf[1])]
}

impl<P: AsRef<[u8]> + Sync> Image<P> {
    /// Fills `out` (`target.len()` floats) like `cv::warpAffine` with `WARP_INVERSE_MAP`: tensor
    /// pixel (u, v) takes the bilinear sample at frame position `m * (u, v, 1)` (pixel centres at
    /// integer coordinates), black outside the frame. Used for landmark-aligned faces, where `m`
    /// is [`similarity_transform`] from the model's template to the detected landmarks.
    pub fn to_tensor_affine(&self, m: [f32; 6], target: &TensorTarget, out: &mut [f32]) {
        let out = &mut out[..target.len()];
        out.fill(0.0);
        for v in 0..target.height {
            for u in 0..target.width {
                let (x, y) = (u as f32, v as f32);
                let sx = m[0] * x + m[1] * y + m[2];
                let sy = m[3] * x + m[4] * y + m[5];
                target.store(out, v * target.width + u, self.bilinear_or_black(sx, sy));
            }
        }
    }

    fn bilinear_or_black(&self, x: f32, y: f32) -> [f32; 3] {
        let (x0, y0) = (x.floor(), y.floor());
        let (wx, wy) = (x - x0, y - y0);
        let px = |xi: f32, yi: f32| {
            if xi < 0.0 || yi < 0.0 || xi >= self.width as f32 || yi >= self.height as f32 {
                [0.0; 3]
            } else {
                self.rgb(xi as usize, yi as usize)
            }
        };
        let (a, b, c, d) = (px(x0, y0), px(x0 + 1.0, y0), px(x0, y0 + 1.0), px(x0 + 1.0, y0 + 1.0));
        std::array::from_fn(|ch| {
            let top = a[ch] + (b[ch] - a[ch]) * wx;
            let bottom = c[ch] + (d[ch] - c[ch]) * wx;
            top + (bottom - top) * wy
        })
    }
}

/// Per channel, for each destination column: the byte offsets of its two source samples in a
/// row of that channel and the weight of the second.
type Taps = [Vec<(usize, usize, f32)>; 3];

/// A band's two cached horizontally scaled rows and its interpolated row.
#[derive(Default)]
struct RowScratch {
    cache: [(usize, Vec<f32>); 2],
    px: Vec<f32>,
}

// Scratch buffers kept per thread and reused by every call, so converting a frame or a face
// allocates nothing once they have grown to the largest size seen.
thread_local! {
    static TAPS: std::cell::RefCell<Taps> = const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    static ROWS: std::cell::RefCell<RowScratch> = std::cell::RefCell::new(RowScratch::default());
}

/// Source taps for every destination column: computed once per call, not per pixel.
#[cfg(test)]
fn axis_taps(origin: f32, step: f32, n: usize, limit: usize) -> Vec<(usize, usize, f32)> {
    (0..n).map(|i| tap(origin, step, i, limit)).collect()
}

/// The two source indices and the weight of the second for destination index `i`,
/// with OpenCV's half-pixel alignment: `src = origin + (i + 0.5) * step - 0.5`.
#[inline]
fn tap(origin: f32, step: f32, i: usize, limit: usize) -> (usize, usize, f32) {
    let s = origin + (i as f32 + 0.5) * step - 0.5;
    let max = (limit - 1) as f32;
    let s = s.clamp(0.0, max);
    let i0 = s.floor();
    let i1 = (i0 + 1.0).min(max);
    (i0 as usize, i1 as usize, s - i0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB: PixelLayout = PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 };

    fn packed(width: usize, height: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Image<Vec<u8>> {
        let mut data = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&f(x, y));
            }
        }
        Image { layout: RGB, width, height, planes: [data, vec![], vec![]], strides: [width * 3, 0, 0] }
    }

    fn target(w: usize, h: usize, cw: usize, ch: usize, order: ColourOrder, layout: TensorLayout) -> TensorTarget {
        TensorTarget { width: w, height: h, content_w: cw, content_h: ch, layout, order, norm: Normalisation::IDENTITY }
    }

    #[test]
    fn identity_scale_copies_pixels_in_bgr_planar_order() {
        let img = packed(4, 2, |x, y| [x as u8 * 10, y as u8 * 20, 7]);
        let t = target(4, 2, 4, 2, ColourOrder::Bgr, TensorLayout::Nchw);
        let mut out = vec![0.0; t.len()];
        img.to_tensor((0.0, 0.0, 4.0, 2.0), &t, &mut out);
        // plane 0 is blue, plane 2 is red
        assert!(out[..8].iter().all(|&v| v == 7.0));
        assert_eq!(&out[16..20], &[0.0, 10.0, 20.0, 30.0]);
        assert_eq!(out[8 + 4], 20.0);
    }

    #[test]
    fn downscale_by_two_averages_pairs_like_opencv() {
        // cv2.resize of [0, 100, 200, 250] to 2 wide with INTER_LINEAR gives [50, 225]
        let img = packed(4, 1, |x, _| [[0, 100, 200, 250][x]; 3]);
        let t = target(2, 1, 2, 1, ColourOrder::Grey, TensorLayout::Nhwc);
        let mut out = vec![0.0; 2];
        img.to_tensor((0.0, 0.0, 4.0, 1.0), &t, &mut out);
        assert!((out[0] - 50.0).abs() < 1e-3 && (out[1] - 225.0).abs() < 1e-3, "{out:?}");
    }

    #[test]
    fn padding_is_zero_and_normalisation_applies() {
        let img = packed(2, 2, |_, _| [255, 255, 255]);
        let mut t = target(4, 4, 2, 2, ColourOrder::Rgb, TensorLayout::Nchw);
        t.norm = Normalisation { scale: 1.0 / 255.0, mean: [0.5; 3], std: [0.5; 3] };
        let mut out = vec![9.0; t.len()];
        img.to_tensor((0.0, 0.0, 2.0, 2.0), &t, &mut out);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[3], 0.0, "padding column");
        assert_eq!(out[12], 0.0, "padding row");
    }

    #[test]
    fn grey_matches_opencv_weights_and_yuv_luma() {
        let img = packed(1, 1, |_, _| [200, 100, 50]);
        assert!((img.grey(0, 0) - (0.299 * 200.0 + 0.587 * 100.0 + 0.114 * 50.0)).abs() < 1e-3);
        let yuv = YuvSpec::BT601_LIMITED.from_rgb([200, 100, 50]);
        let i420 = Image {
            layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
            width: 1,
            height: 1,
            planes: [vec![yuv[0]], vec![yuv[1]], vec![yuv[2]]],
            strides: [1, 1, 1],
        };
        assert!((i420.grey(0, 0) - img.grey(0, 0)).abs() < 2.0);
        let rgb = i420.rgb(0, 0);
        for (a, b) in rgb.iter().zip([200.0, 100.0, 50.0]) {
            assert!((a - b).abs() < 3.0, "{rgb:?}");
        }
    }

    #[test]
    fn yuv_specs_match_the_standard_coefficients_and_round_trip() {
        // BT.601 limited: R = 1.164 (Y - 16) + 1.596 (V - 128)
        let rgb = YuvSpec::BT601_LIMITED.to_rgb([116.0, 128.0, 178.0]);
        assert!((rgb[0] - (1.164_383 * 100.0 + 1.596_027 * 50.0)).abs() < 0.01, "{rgb:?}");
        // BT.709 full: B = Y + 1.8556 (U - 128)
        let bt709_full = YuvSpec::from_colorimetry(true, true);
        let rgb = bt709_full.to_rgb([100.0, 150.0, 128.0]);
        assert!((rgb[2] - (100.0 + 1.8556 * 22.0)).abs() < 0.01, "{rgb:?}");
        for spec in [YuvSpec::BT601_LIMITED, bt709_full, YuvSpec::from_colorimetry(false, true), YuvSpec::from_colorimetry(true, false)] {
            for c in [[200u8, 100, 50], [0, 0, 0], [255, 255, 255], [30, 200, 90]] {
                let back = spec.to_rgb(spec.from_rgb(c).map(f32::from));
                for (a, b) in back.iter().zip(c) {
                    assert!((a - b as f32).abs() <= 3.0, "{spec:?} {c:?} -> {back:?}");
                }
            }
        }
        // full-range grey is the luma itself for BT.601
        let g = Image {
            layout: PixelLayout::I420(YuvSpec::from_colorimetry(false, true)),
            width: 1,
            height: 1,
            planes: [vec![77u8], vec![128], vec![128]],
            strides: [1, 1, 1],
        };
        assert!((g.grey(0, 0) - 77.0).abs() < 1e-3);
    }

    #[test]
    fn nv12_and_i420_agree_with_strides() {
        // 4x2 frame, Y stride 8 and chroma stride 4 (padded rows)
        let ys: Vec<u8> = (0..16).map(|i| 16 + i as u8 * 10).collect();
        let i420 = Image {
            layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
            width: 4,
            height: 2,
            planes: [ys.clone(), vec![90, 160, 0, 0], vec![200, 60, 0, 0]],
            strides: [8, 4, 4],
        };
        let nv12 = Image {
            layout: PixelLayout::Nv12(YuvSpec::BT601_LIMITED),
            width: 4,
            height: 2,
            planes: [ys.clone(), vec![90, 200, 160, 60], vec![]],
            strides: [8, 4, 0],
        };
        // The same samples packed as YUY2 (Y0 U Y1 V) and UYVY (U Y0 V Y1), rows padded to 12 bytes.
        let pack = |order: [usize; 4]| -> Vec<u8> {
            let (u, v) = ([90u8, 160], [200u8, 60]);
            let mut data = vec![0u8; 24];
            for y in 0..2 {
                for g in 0..2 {
                    let group = [ys[y * 8 + 2 * g], u[g], ys[y * 8 + 2 * g + 1], v[g]];
                    for (k, &src) in order.iter().enumerate() {
                        data[y * 12 + g * 4 + k] = group[src];
                    }
                }
            }
            data
        };
        let yuy2 = Image {
            layout: PixelLayout::Yuv422 { spec: YuvSpec::BT601_LIMITED, y: 0, u: 1, v: 3 },
            width: 4,
            height: 2,
            planes: [pack([0, 1, 2, 3]), vec![], vec![]],
            strides: [12, 0, 0],
        };
        let uyvy = Image {
            layout: PixelLayout::Yuv422 { spec: YuvSpec::BT601_LIMITED, y: 1, u: 0, v: 2 },
            width: 4,
            height: 2,
            planes: [pack([1, 0, 3, 2]), vec![], vec![]],
            strides: [12, 0, 0],
        };
        for y in 0..2 {
            for x in 0..4 {
                assert_eq!(i420.rgb(x, y), nv12.rgb(x, y));
                // Both rows carry the 4:2:0 frame's chroma.
                assert_eq!(i420.rgb(x, y), yuy2.rgb(x, y), "({x}, {y})");
                assert_eq!(yuy2.rgb(x, y), uyvy.rgb(x, y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn planar_fast_path_equals_the_per_pixel_path() {
        let (w, h) = (37, 23);
        let bytes = |n: usize, k: usize| -> Vec<u8> { (0..n).map(|i| ((i * k + 11) % 251) as u8).collect() };
        let (y, u, v, uv, packed) = (bytes(w * h, 7), bytes(19 * 12, 3), bytes(19 * 12, 5), bytes(38 * 12, 13), bytes(w * h * 4, 17));
        // 37 pixels wide: 19 groups of 4 bytes, plus row padding.
        let yuv422 = bytes(80 * h, 19);
        let spec = YuvSpec::from_colorimetry(true, false);
        let images = [
            Image { layout: PixelLayout::I420(spec), width: w, height: h, planes: [&y[..], &u[..], &v[..]], strides: [w, 19, 19] },
            Image { layout: PixelLayout::Nv12(spec), width: w, height: h, planes: [&y[..], &uv[..], &[][..]], strides: [w, 38, 0] },
            Image {
                layout: PixelLayout::Packed { bpp: 4, r: 1, g: 2, b: 3 },
                width: w,
                height: h,
                planes: [&packed[..], &[][..], &[][..]],
                strides: [w * 4, 0, 0],
            },
            // YUY2, UYVY, YVYU
            Image {
                layout: PixelLayout::Yuv422 { spec, y: 0, u: 1, v: 3 },
                width: w,
                height: h,
                planes: [&yuv422[..], &[][..], &[][..]],
                strides: [80, 0, 0],
            },
            Image {
                layout: PixelLayout::Yuv422 { spec, y: 1, u: 0, v: 2 },
                width: w,
                height: h,
                planes: [&yuv422[..], &[][..], &[][..]],
                strides: [80, 0, 0],
            },
            Image {
                layout: PixelLayout::Yuv422 { spec, y: 0, u: 3, v: 1 },
                width: w,
                height: h,
                planes: [&yuv422[..], &[][..], &[][..]],
                strides: [80, 0, 0],
            },
        ];
        for img in &images {
            let cases = [
                (ColourOrder::Bgr, TensorLayout::Nchw, 32, 32, (0.0, 0.0, 37.0, 23.0)),
                (ColourOrder::Rgb, TensorLayout::Nchw, 20, 9, (-3.0, 2.5, 30.0, 40.0)),
                (ColourOrder::Grey, TensorLayout::Nhwc, 16, 16, (4.5, 3.0, 20.0, 19.0)),
                (ColourOrder::Rgb, TensorLayout::Nhwc, 12, 7, (0.0, 0.0, 37.0, 23.0)),
            ];
            for (order, layout, tw, th, region) in cases {
                let mut t = target(tw, th, tw.min(29), th.min(17), order, layout);
                t.norm = Normalisation { scale: 1.0 / 255.0, mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] };
                let (mut fast, mut slow) = (vec![1.0; t.len()], vec![2.0; t.len()]);
                img.to_tensor(region, &t, &mut fast);
                img.to_tensor_generic(region, &t, &mut slow);
                if t.content_w < t.width || t.content_h < t.height {
                    slow.iter_mut().zip(&fast).for_each(|(s, f)| {
                        if *s == 2.0 {
                            *s = *f
                        }
                    });
                }
                for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                    assert!((a - b).abs() < 1e-4, "{:?} {order:?} {layout:?} index {i}: {a} vs {b}", img.layout);
                }
            }
        }
    }

    #[test]
    fn two_band_path_and_reused_scratch_equal_the_per_pixel_path() {
        // >= 65,536 tensor pixels of a region (not the whole frame, which crate::resize scales):
        // two bands on two threads; then smaller and larger calls again, reusing each thread's
        // scratch buffers.
        let (w, h) = (64, 48);
        let packed: Vec<u8> = (0..w * h * 3).map(|i| ((i * 31 + 7) % 253) as u8).collect();
        let img = Image { layout: RGB, width: w, height: h, planes: [&packed[..], &[][..], &[][..]], strides: [w * 3, 0, 0] };
        let region = (0.5, 0.0, w as f32, h as f32 - 0.5);
        for (tw, th, cw, ch) in [(320, 256, 320, 240), (40, 30, 40, 30), (480, 384, 480, 360), (16, 16, 16, 16)] {
            let t = target(tw, th, cw, ch, ColourOrder::Bgr, TensorLayout::Nchw);
            let (mut fast, mut slow) = (vec![1.0; t.len()], vec![0.0; t.len()]);
            img.to_tensor(region, &t, &mut fast);
            img.to_tensor_generic(region, &t, &mut slow);
            assert!(fast.iter().zip(&slow).all(|(a, b)| (a - b).abs() < 1e-3), "{tw}x{th}");
        }
    }

    #[test]
    fn crop_outside_the_frame_is_clamped_not_a_panic() {
        let img = packed(3, 3, |x, y| [(x + 3 * y) as u8; 3]);
        let t = target(5, 5, 5, 5, ColourOrder::Grey, TensorLayout::Nhwc);
        let mut out = vec![0.0; t.len()];
        img.to_tensor((-10.0, -10.0, 20.0, 20.0), &t, &mut out);
        assert!(out.iter().all(|v| (0.0..=8.0).contains(v)));
    }

    #[test]
    fn similarity_transform_recovers_rotation_scale_and_shift() {
        let from = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 3.0]];
        // 90 degrees, scale 2, shift (100, 50)
        let to = from.map(|[x, y]| [100.0 - 2.0 * y, 50.0 + 2.0 * x]);
        let m = similarity_transform(&from, &to);
        let expect = [0.0, -2.0, 100.0, 2.0, 0.0, 50.0];
        assert!(m.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-4), "{m:?}");
        assert_eq!(similarity_transform(&[[3.0, 4.0]; 5], &[[1.0, 1.0]; 5]), [1.0, 0.0, -2.0, 0.0, 1.0, -3.0]);
    }

    #[test]
    fn affine_warp_with_identity_copies_and_is_black_outside() {
        let img = packed(4, 3, |x, y| [x as u8 * 10, y as u8 * 20, 5]);
        let t = target(4, 3, 4, 3, ColourOrder::Rgb, TensorLayout::Nhwc);
        let mut out = vec![9.0; t.len()];
        img.to_tensor_affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], &t, &mut out);
        assert_eq!(&out[(2 * 4 + 3) * 3..(2 * 4 + 3) * 3 + 3], &[30.0, 40.0, 5.0]);
        // shifted by two pixels to the left: the last two columns come from outside
        img.to_tensor_affine([1.0, 0.0, 2.0, 0.0, 1.0, 0.0], &t, &mut out);
        assert_eq!(&out[..3], &[20.0, 0.0, 5.0]);
        assert_eq!(&out[3 * 3..3 * 3 + 3], &[0.0; 3]);
        // half a pixel: bilinear between columns 0 and 1
        img.to_tensor_affine([1.0, 0.0, 0.5, 0.0, 1.0, 0.0], &t, &mut out);
        assert_eq!(out[0], 5.0);
    }

    #[test]
    fn aligned_crop_puts_the_landmarks_on_the_template() {
        // A frame with bright dots at five landmark positions of a tilted, scaled face.
        let template = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];
        let (angle, scale, shift) = (0.3f32, 1.7f32, [60.0f32, 40.0f32]);
        let land = template
            .map(|[x, y]| [scale * (angle.cos() * x - angle.sin() * y) + shift[0], scale * (angle.sin() * x + angle.cos() * y) + shift[1]]);
        let img = packed(300, 300, |x, y| {
            let hit = land.iter().any(|p| (p[0] - x as f32).abs() < 1.5 && (p[1] - y as f32).abs() < 1.5);
            if hit {
                [255; 3]
            } else {
                [0; 3]
            }
        });
        let t = target(112, 112, 112, 112, ColourOrder::Grey, TensorLayout::Nchw);
        let mut out = vec![0.0; t.len()];
        img.to_tensor_affine(similarity_transform(&template, &land), &t, &mut out);
        for [x, y] in template {
            let v = out[y.round() as usize * 112 + x.round() as usize];
            assert!(v > 100.0, "landmark at ({x}, {y}) is dark: {v}");
        }
        assert_eq!(out[5 * 112 + 5], 0.0);
    }
}
