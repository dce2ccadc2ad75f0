// SPDX-License-Identifier: MIT
//! Drawing boxes and labels into a frame, in every supported pixel layout (packed RGB variants,
//! and the Y and UV planes of I420 and NV12). Text is rendered with `ab_glyph` from DejaVu Sans
//! Bold, embedded in the binary by the `dejavu` crate.

use std::collections::HashMap;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

use crate::preprocess::{Image, PixelLayout};

/// One colour per FER2013 emotion, in label order (angry, disgust, fear, happy, sad, surprise,
/// neutral); other labels cycle through the same list.
pub const EMOTION_COLOURS: [[u8; 3]; 7] =
    [[230, 40, 40], [60, 160, 40], [150, 70, 200], [250, 210, 0], [40, 110, 240], [255, 140, 0], [200, 200, 200]];

/// Colour for an emotion label, by its common name (see
/// [`crate::classification::canonical_emotion`]) so every model draws happy in the same colour;
/// contempt and unknown labels are grey-blue.
pub fn label_colour(label: &str) -> [u8; 3] {
    let order = crate::classification::FER2013_LABELS;
    match crate::classification::canonical_emotion(label).and_then(|c| order.iter().position(|l| *l == c)) {
        Some(i) => EMOTION_COLOURS[i],
        None => [120, 140, 170],
    }
}

/// Colour for label index `i` in FER2013 order.
pub fn emotion_colour(i: usize) -> [u8; 3] {
    EMOTION_COLOURS[i % EMOTION_COLOURS.len()]
}

/// A colour in both RGB and YUV, so YUV frames do not convert per pixel.
#[derive(Clone, Copy, Debug)]
struct Paint {
    rgb: [u8; 3],
    yuv: [u8; 3],
}

impl Paint {
    fn new(rgb: [u8; 3], layout: PixelLayout) -> Paint {
        let yuv = match layout {
            PixelLayout::I420(spec) | PixelLayout::Nv12(spec) => spec.from_rgb(rgb),
            PixelLayout::Packed { .. } => [0; 3],
        };
        Paint { rgb, yuv }
    }
}

#[inline]
fn mix(dst: &mut u8, src: u8, alpha: f32) {
    if alpha >= 1.0 {
        *dst = src;
        return;
    }
    // + 0.5 and truncation rounds these non-negative values without a libm `roundf` call.
    *dst = (*dst as f32 + (src as f32 - *dst as f32) * alpha + 0.5) as u8;
}

impl<P: AsMut<[u8]> + AsRef<[u8]>> Image<P> {
    /// Blends `paint` into pixel (x, y) with coverage `alpha` (0..1). Out-of-frame pixels are
    /// ignored. On YUV frames each chroma sample takes a quarter of the coverage of each of
    /// its four luma pixels.
    fn blend(&mut self, x: i64, y: i64, paint: Paint, alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height || alpha <= 0.0 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        match self.layout {
            PixelLayout::Packed { bpp, r, g, b } => {
                let i = y * self.strides[0] + x * bpp;
                let p = &mut self.planes[0].as_mut()[i..i + bpp];
                for (c, v) in [(r, paint.rgb[0]), (g, paint.rgb[1]), (b, paint.rgb[2])] {
                    mix(&mut p[c], v, alpha);
                }
            }
            PixelLayout::I420(_) => {
                mix(&mut self.planes[0].as_mut()[y * self.strides[0] + x], paint.yuv[0], alpha);
                let ci = (y / 2) * self.strides[1] + x / 2;
                mix(&mut self.planes[1].as_mut()[ci], paint.yuv[1], alpha * 0.25);
                let ci = (y / 2) * self.strides[2] + x / 2;
                mix(&mut self.planes[2].as_mut()[ci], paint.yuv[2], alpha * 0.25);
            }
            PixelLayout::Nv12(_) => {
                mix(&mut self.planes[0].as_mut()[y * self.strides[0] + x], paint.yuv[0], alpha);
                let ci = (y / 2) * self.strides[1] + (x / 2) * 2;
                let uv = &mut self.planes[1].as_mut()[ci..ci + 2];
                mix(&mut uv[0], paint.yuv[1], alpha * 0.25);
                mix(&mut uv[1], paint.yuv[2], alpha * 0.25);
            }
        }
    }

    /// Fills the rectangle [x0, x1) x [y0, y1) (clipped to the frame) with an opaque colour,
    /// row by row. On YUV frames a chroma sample takes the share of its 2x2 luma block that
    /// the rectangle covers, so edges on odd pixels blend rather than bleed.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, rgb: [u8; 3]) {
        let paint = Paint::new(rgb, self.layout);
        let (x0, x1) = (x0.max(0) as usize, x1.clamp(0, self.width as i64) as usize);
        let (y0, y1) = (y0.max(0) as usize, y1.clamp(0, self.height as i64) as usize);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        match self.layout {
            PixelLayout::Packed { bpp, r, g, b } => {
                let stride = self.strides[0];
                let plane = self.planes[0].as_mut();
                for y in y0..y1 {
                    for px in plane[y * stride + x0 * bpp..y * stride + x1 * bpp].chunks_exact_mut(bpp) {
                        (px[r], px[g], px[b]) = (rgb[0], rgb[1], rgb[2]);
                    }
                }
            }
            PixelLayout::I420(_) | PixelLayout::Nv12(_) => {
                let stride = self.strides[0];
                for y in y0..y1 {
                    self.planes[0].as_mut()[y * stride + x0..y * stride + x1].fill(paint.yuv[0]);
                }
                self.fill_chroma(x0, y0, x1, y1, paint);
            }
        }
    }

    fn fill_chroma(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, paint: Paint) {
        let covered = |c: usize, lo: usize, hi: usize| (2 * c + 2).min(hi).saturating_sub((2 * c).max(lo));
        for cy in y0 / 2..y1.div_ceil(2) {
            for cx in x0 / 2..x1.div_ceil(2) {
                let alpha = (covered(cx, x0, x1) * covered(cy, y0, y1)) as f32 / 4.0;
                match self.layout {
                    PixelLayout::I420(_) => {
                        mix(&mut self.planes[1].as_mut()[cy * self.strides[1] + cx], paint.yuv[1], alpha);
                        mix(&mut self.planes[2].as_mut()[cy * self.strides[2] + cx], paint.yuv[2], alpha);
                    }
                    PixelLayout::Nv12(_) => {
                        let i = cy * self.strides[1] + cx * 2;
                        let uv = &mut self.planes[1].as_mut()[i..i + 2];
                        mix(&mut uv[0], paint.yuv[1], alpha);
                        mix(&mut uv[1], paint.yuv[2], alpha);
                    }
                    PixelLayout::Packed { .. } => {}
                }
            }
        }
    }

    /// Draws the outline of [x0, x1) x [y0, y1) with lines `thickness` pixels wide, inside the box.
    pub fn draw_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, thickness: i64, rgb: [u8; 3]) {
        let t = thickness.max(1);
        self.fill_rect(x0, y0, x1, (y0 + t).min(y1), rgb);
        self.fill_rect(x0, (y1 - t).max(y0), x1, y1, rgb);
        self.fill_rect(x0, y0, (x0 + t).min(x1), y1, rgb);
        self.fill_rect((x1 - t).max(x0), y0, x1, y1, rgb);
    }
}

/// A glyph's coverage, rasterised once per (character, size).
struct Glyph {
    left: i64,
    top: i64,
    width: usize,
    coverage: Vec<f32>,
    advance: f32,
}

/// Draws face boxes and "label 0.91" tags, caching rasterised glyphs between frames.
pub struct Overlay {
    font: FontRef<'static>,
    glyphs: HashMap<(char, u32), Glyph>,
}

impl Default for Overlay {
    fn default() -> Self {
        Self::new()
    }
}

impl Overlay {
    pub fn new() -> Overlay {
        // The font is compiled in, so parsing it cannot fail at run time.
        let font = FontRef::try_from_slice(dejavu::sans::bold()).expect("embedded DejaVu Sans Bold parses");
        Overlay { font, glyphs: HashMap::new() }
    }

    /// Text height in pixels for a frame `height` pixels high: 1/28 of it, 10 to 48 px.
    pub fn text_size(height: usize) -> u32 {
        (height as u32 / 28).clamp(10, 48)
    }

    /// Box line width in pixels for a frame `height` pixels high.
    pub fn line_width(height: usize) -> i64 {
        (height as i64 / 240).clamp(1, 6)
    }

    /// Width in pixels of `text` at `size`.
    pub fn text_width(&mut self, text: &str, size: u32) -> i64 {
        text.chars().map(|c| self.glyph(c, size).advance).sum::<f32>().ceil() as i64
    }

    fn glyph(&mut self, c: char, size: u32) -> &Glyph {
        let font = &self.font;
        self.glyphs.entry((c, size)).or_insert_with(|| rasterise(font, c, size))
    }

    /// Draws `text` with its top-left corner at (x, y), `size` pixels high, in `rgb`.
    pub fn draw_text<P: AsMut<[u8]> + AsRef<[u8]>>(&mut self, image: &mut Image<P>, x: i64, y: i64, text: &str, size: u32, rgb: [u8; 3]) {
        let paint = Paint::new(rgb, image.layout);
        let ascent = self.font.as_scaled(PxScale::from(size as f32)).ascent();
        let baseline = y + ascent.round() as i64;
        let mut pen = x as f32;
        for c in text.chars() {
            let g = self.glyph(c, size);
            let gx = pen.round() as i64 + g.left;
            for (i, &a) in g.coverage.iter().enumerate() {
                let (dx, dy) = ((i % g.width.max(1)) as i64, (i / g.width.max(1)) as i64);
                image.blend(gx + dx, baseline + g.top + dy, paint, a);
            }
            pen += g.advance;
        }
    }

    /// Draws one face: its box in `rgb` and, above it (or inside when at the top edge), a
    /// filled tag with `label` in black or white, whichever reads better on `rgb`.
    pub fn draw_face<P: AsMut<[u8]> + AsRef<[u8]>>(&mut self, image: &mut Image<P>, bbox: (i64, i64, i64, i64), label: &str, rgb: [u8; 3]) {
        let (x0, y0, x1, y1) = bbox;
        image.draw_rect(x0, y0, x1, y1, Self::line_width(image.height), rgb);
        let size = Self::text_size(image.height);
        let pad = (size as i64 / 5).max(1);
        let tag_h = size as i64 + 2 * pad;
        let tag_w = self.text_width(label, size) + 2 * pad;
        let ty = if y0 - tag_h >= 0 { y0 - tag_h } else { y0 };
        let tx = x0.min(image.width as i64 - tag_w).max(0);
        image.fill_rect(tx, ty, tx + tag_w, ty + tag_h, rgb);
        let luma = 0.299 * rgb[0] as f32 + 0.587 * rgb[1] as f32 + 0.114 * rgb[2] as f32;
        let ink = if luma > 140.0 { [0, 0, 0] } else { [255, 255, 255] };
        self.draw_text(image, tx + pad, ty + pad, label, size, ink);
    }
}

fn rasterise(font: &FontRef<'static>, c: char, size: u32) -> Glyph {
    let scaled = font.as_scaled(PxScale::from(size as f32));
    let id = font.glyph_id(c);
    let advance = scaled.h_advance(id);
    let glyph = id.with_scale_and_position(PxScale::from(size as f32), ab_glyph::point(0.0, 0.0));
    let Some(outline) = font.outline_glyph(glyph) else {
        return Glyph { left: 0, top: 0, width: 0, coverage: Vec::new(), advance };
    };
    let bounds = outline.px_bounds();
    let width = bounds.width() as usize;
    let mut coverage = vec![0.0; width * bounds.height() as usize];
    outline.draw(|x, y, a| {
        if let Some(v) = coverage.get_mut(y as usize * width + x as usize) {
            *v = a.min(1.0);
        }
    });
    Glyph { left: bounds.min.x as i64, top: bounds.min.y as i64, width, coverage, advance }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::YuvSpec;

    fn rgbx(w: usize, h: usize) -> Image<Vec<u8>> {
        Image {
            layout: PixelLayout::Packed { bpp: 4, r: 0, g: 1, b: 2 },
            width: w,
            height: h,
            planes: [vec![0; w * h * 4], vec![], vec![]],
            strides: [w * 4, 0, 0],
        }
    }

    #[test]
    fn rect_outline_colours_the_border_only() {
        let mut img = rgbx(20, 20);
        img.draw_rect(2, 2, 18, 18, 2, [255, 0, 0]);
        let px = |img: &Image<Vec<u8>>, x: usize, y: usize| img.planes[0][y * 80 + x * 4];
        assert_eq!(px(&img, 2, 2), 255);
        assert_eq!(px(&img, 3, 10), 255);
        assert_eq!(px(&img, 10, 10), 0, "inside stays untouched");
        assert_eq!(px(&img, 1, 1), 0, "outside stays untouched");
        assert_eq!(img.planes[0][2 * 80 + 2 * 4 + 3], 0, "padding byte untouched");
    }

    #[test]
    fn drawing_past_the_edges_is_clipped() {
        let mut img = rgbx(8, 8);
        img.draw_rect(-20, -20, 100, 100, 3, [0, 255, 0]);
        let mut ov = Overlay::new();
        ov.draw_face(&mut img, (-5, -5, 50, 50), "surprise 0.99", [0, 0, 255]);
        assert!(img.planes[0].iter().any(|&v| v > 0));
    }

    #[test]
    fn text_leaves_ink_in_the_y_plane_and_tints_chroma_on_i420() {
        let (w, h) = (64, 32);
        let mut img = Image {
            layout: PixelLayout::I420(YuvSpec::BT601_LIMITED),
            width: w,
            height: h,
            planes: [vec![16u8; w * h], vec![128u8; w * h / 4], vec![128u8; w * h / 4]],
            strides: [w, w / 2, w / 2],
        };
        let mut ov = Overlay::new();
        ov.draw_text(&mut img, 2, 2, "happy", 16, [255, 255, 255]);
        let lit = img.planes[0].iter().filter(|&&v| v > 128).count();
        assert!(lit > 40, "only {lit} bright luma pixels");
        img.fill_rect(0, 0, 8, 8, [255, 0, 0]);
        let red = YuvSpec::BT601_LIMITED.from_rgb([255, 0, 0]);
        assert_eq!(img.planes[0][0], red[0]);
        assert_eq!((img.planes[1][0], img.planes[2][0]), (red[1], red[2]));
    }

    #[test]
    fn nv12_fill_writes_interleaved_chroma() {
        let (w, h) = (8, 4);
        let mut img = Image {
            layout: PixelLayout::Nv12(YuvSpec::BT601_LIMITED),
            width: w,
            height: h,
            planes: [vec![0u8; w * h], vec![128u8; w * h / 2], vec![]],
            strides: [w, w, 0],
        };
        img.fill_rect(0, 0, 4, 4, [0, 0, 255]);
        let blue = YuvSpec::BT601_LIMITED.from_rgb([0, 0, 255]);
        assert_eq!(&img.planes[1][0..4], &[blue[1], blue[2], blue[1], blue[2]]);
        assert_eq!(&img.planes[1][4..6], &[128, 128]);
    }

    #[test]
    fn text_width_grows_with_the_text_and_size() {
        let mut ov = Overlay::new();
        let a = ov.text_width("happy", 16);
        assert!(a > 20 && a < 80, "{a}");
        assert!(ov.text_width("happy 0.91", 16) > a);
        assert!(ov.text_width("happy", 32) > a);
    }
}
