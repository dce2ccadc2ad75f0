// SPDX-License-Identifier: MIT
//! Drawing boxes and labels into a frame, in every supported pixel layout (packed RGB variants,
//! and the Y and UV planes of I420 and NV12). Text is rendered with `ab_glyph` from DejaVu Sans
//! Bold, embedded in the binary by the `dejavu` crate.
//!
//! [`Overlay::sprites`] draws the same marks into BGRA tiles for formats the element cannot draw
//! in place (it blends them with `VideoOverlayComposition`); in place stays the fast path, as
//! sprites cost 24 % of the fps on a 145-face 1080p clip (measured in the element's `frames.rs`).

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

/// A colour in both RGB and YUV, so YUV frames do not convert per pixel.
#[derive(Clone, Copy, Debug)]
struct Paint {
    rgb: [u8; 3],
    yuv: [u8; 3],
}

impl Paint {
    fn new(rgb: [u8; 3], layout: PixelLayout) -> Paint {
        let yuv = layout.yuv_spec().map_or([0; 3], |spec| spec.from_rgb(rgb));
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
            PixelLayout::Yuv422 { y: yo, u, v, .. } => {
                let i = y * self.strides[0] + (x / 2) * 4;
                let group = &mut self.planes[0].as_mut()[i..i + 4];
                mix(&mut group[yo + (x & 1) * 2], paint.yuv[0], alpha);
                mix(&mut group[u], paint.yuv[1], alpha * 0.5);
                mix(&mut group[v], paint.yuv[2], alpha * 0.5);
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
            PixelLayout::Yuv422 { .. } => {
                for y in y0..y1 {
                    self.fill_422_row(y, x0, x1, paint);
                }
            }
        }
    }

    /// One row of [`Image::fill_rect`] on packed 4:2:2: a chroma pair takes the share of its
    /// two pixels that the rectangle covers.
    fn fill_422_row(&mut self, y: usize, x0: usize, x1: usize, paint: Paint) {
        let PixelLayout::Yuv422 { y: yo, u, v, .. } = self.layout else { return };
        let row = &mut self.planes[0].as_mut()[y * self.strides[0]..];
        for g in x0 / 2..x1.div_ceil(2) {
            let group = &mut row[g * 4..g * 4 + 4];
            let (first, second) = (2 * g >= x0, 2 * g + 1 < x1);
            if first {
                group[yo] = paint.yuv[0];
            }
            if second {
                group[yo + 2] = paint.yuv[0];
            }
            let alpha = if first && second { 1.0 } else { 0.5 };
            mix(&mut group[u], paint.yuv[1], alpha);
            mix(&mut group[v], paint.yuv[2], alpha);
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
                    PixelLayout::Packed { .. } | PixelLayout::Yuv422 { .. } => {}
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
    /// The tags placed so far by [`Overlay::layout_into`], and the texts of the last layout's
    /// tags for the next one's: reused from frame to frame.
    tags: Vec<Rect>,
    texts: Vec<String>,
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
        Overlay { font, glyphs: HashMap::new(), tags: Vec::new(), texts: Vec::new() }
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

    /// Where each face's marks go in a `width` x `height` frame, for `mode`. With
    /// [`DrawMode::Labels`] each tag is placed outside its box (above, else below, else beside),
    /// clipped to the frame, at the first spot that covers no face and no earlier tag; in a
    /// crowd with no such spot, where it covers the least, and left out if that is more than
    /// 15 % of a face (the metadata still has the label).
    /// `label_size` is the text height in pixels, 0 for one scaled to each face (see
    /// [`Overlay::auto_text_size`]).
    pub fn layout(&mut self, faces: &[FaceMark], width: usize, height: usize, mode: DrawMode, label_size: u32) -> Vec<Mark> {
        let mut marks = Vec::with_capacity(faces.len() * 2);
        self.layout_into(faces, width, height, mode, label_size, &mut marks);
        marks
    }

    /// [`Overlay::layout`] into `marks` (replaced), reusing its buffers and those of the last
    /// call: a steady stream allocates nothing here.
    pub fn layout_into(&mut self, faces: &[FaceMark], width: usize, height: usize, mode: DrawMode, label_size: u32, marks: &mut Vec<Mark>) {
        let thickness = Self::line_width(height);
        for m in marks.drain(..) {
            if let Mark::Tag { text, .. } = m {
                self.texts.push(text);
            }
        }
        self.tags.clear();
        for f in faces {
            match mode {
                DrawMode::Blur => marks.push(Mark::Pixelate { rect: f.rect, block: pixel_block(f.rect) }),
                DrawMode::Boxes | DrawMode::Labels => marks.push(Mark::Outline { rect: f.rect, thickness, rgb: f.rgb }),
            }
            let Some(text) = f.text.as_deref().filter(|_| mode == DrawMode::Labels) else { continue };
            let size = if label_size > 0 { label_size.min(MAX_LABEL_SIZE) } else { Self::auto_text_size(f.rect, height) };
            let pad = (size as i64 / 5).max(1);
            let (w, h) = (self.text_width(text, size) + 2 * pad, size as i64 + 2 * pad);
            let Some(rect) = place_tag(f.rect, (w, h), (width as i64, height as i64), faces, &self.tags) else { continue };
            self.tags.push(rect);
            let luma = 0.299 * f.rgb[0] as f32 + 0.587 * f.rgb[1] as f32 + 0.114 * f.rgb[2] as f32;
            let ink = if luma > 140.0 { [0, 0, 0] } else { [255, 255, 255] };
            let mut owned = self.texts.pop().unwrap_or_default();
            owned.clear();
            owned.push_str(text);
            marks.push(Mark::Tag { rect, text: owned, size, pad, rgb: f.rgb, ink });
        }
    }

    /// Text height for a face's tag: a third of the face's height, at least 10 px and at most
    /// the frame-based [`Overlay::text_size`].
    pub fn auto_text_size(face: Rect, frame_height: usize) -> u32 {
        let face_h = (face.3 - face.1).max(0) as u32;
        (face_h / 3).clamp(10, Self::text_size(frame_height))
    }

    /// Draws `marks` into `image` in place.
    pub fn draw<P: AsMut<[u8]> + AsRef<[u8]> + Sync>(&mut self, image: &mut Image<P>, marks: &[Mark]) {
        for m in marks {
            match m {
                &Mark::Outline { rect: (x0, y0, x1, y1), thickness, rgb } => image.draw_rect(x0, y0, x1, y1, thickness, rgb),
                Mark::Tag { rect, text, size, pad, rgb, ink } => {
                    image.fill_rect(rect.0, rect.1, rect.2, rect.3, *rgb);
                    self.draw_text(image, rect.0 + pad, rect.1 + pad, text, *size, *ink);
                }
                &Mark::Pixelate { rect, block } => {
                    for (cell, rgb) in pixel_cells(image, rect, block) {
                        image.fill_rect(cell.0, cell.1, cell.2, cell.3, rgb);
                    }
                }
            }
        }
    }

    /// The same marks as opaque BGRA pictures to blend over the frame (formats drawn with
    /// GStreamer's overlay composition); `source` is the frame's picture the pixelation
    /// averages, of the same size. Clipped to the frame; empty ones are left out.
    pub fn sprites<P: AsRef<[u8]> + Sync>(&mut self, source: &Image<P>, marks: &[Mark]) -> Vec<Sprite> {
        let frame = (source.width as i64, source.height as i64);
        let mut out = Vec::new();
        for m in marks {
            match m {
                &Mark::Outline { rect: (x0, y0, x1, y1), thickness: t, rgb } => {
                    let t = t.max(1);
                    for edge in [(x0, y0, x1, y0 + t), (x0, y1 - t, x1, y1), (x0, y0, x0 + t, y1), (x1 - t, y0, x1, y1)] {
                        out.extend(Sprite::new(edge, frame).map(|s| s.fill(rgb)));
                    }
                }
                Mark::Tag { rect, text, size, pad, rgb, ink } => {
                    let Some(mut s) = Sprite::new(*rect, frame) else { continue };
                    s = s.fill(*rgb);
                    let (dx, dy) = (rect.0 - s.x, rect.1 - s.y);
                    self.draw_text(&mut s.image(), dx + pad, dy + pad, text, *size, *ink);
                    out.push(s);
                }
                &Mark::Pixelate { rect, block } => {
                    let Some(mut s) = Sprite::new(rect, frame) else { continue };
                    let (ox, oy) = (s.x, s.y);
                    let cells = pixel_cells(source, rect, block);
                    let mut img = s.image();
                    for (c, rgb) in cells {
                        img.fill_rect(c.0 - ox, c.1 - oy, c.2 - ox, c.3 - oy, rgb);
                    }
                    out.push(s);
                }
            }
        }
        out
    }
}

/// Largest `label-size`, pixels.
pub const MAX_LABEL_SIZE: u32 = 200;

/// A rectangle [x0, x1) x [y0, y1) in frame pixels.
pub type Rect = (i64, i64, i64, i64);

/// How faces are drawn (the element's `draw-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DrawMode {
    /// The box and a "#id label 0.91" tag.
    #[default]
    Labels,
    /// The box only.
    Boxes,
    /// The face pixelated, no text (privacy).
    Blur,
}

/// One face to draw: its box, its tag's text (`None`: no tag), its colour.
#[derive(Clone, Debug)]
pub struct FaceMark {
    pub rect: Rect,
    pub text: Option<String>,
    pub rgb: [u8; 3],
}

/// What [`Overlay::layout`] places.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A box outline `thickness` pixels wide, inside `rect`.
    Outline { rect: Rect, thickness: i64, rgb: [u8; 3] },
    /// A filled tag with `text` `size` pixels high in `ink`, `pad` pixels from its edges.
    Tag { rect: Rect, text: String, size: u32, pad: i64, rgb: [u8; 3], ink: [u8; 3] },
    /// `rect` replaced by the mean colours of `block` x `block` cells.
    Pixelate { rect: Rect, block: i64 },
}

/// An opaque BGRA picture (rows `4 * width` bytes) at (x, y) in frame pixels.
#[derive(Clone, Debug)]
pub struct Sprite {
    pub x: i64,
    pub y: i64,
    pub width: usize,
    pub height: usize,
    pub bgra: Vec<u8>,
}

impl Sprite {
    /// A black opaque sprite over `rect` clipped to a `frame` (width, height); `None` if empty.
    fn new(rect: Rect, frame: (i64, i64)) -> Option<Sprite> {
        let (x0, y0) = (rect.0.max(0), rect.1.max(0));
        let (x1, y1) = (rect.2.min(frame.0), rect.3.min(frame.1));
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        let (width, height) = ((x1 - x0) as usize, (y1 - y0) as usize);
        Some(Sprite { x: x0, y: y0, width, height, bgra: [0, 0, 0, 255].repeat(width * height) })
    }

    fn fill(mut self, rgb: [u8; 3]) -> Sprite {
        for px in self.bgra.chunks_exact_mut(4) {
            px.copy_from_slice(&[rgb[2], rgb[1], rgb[0], 255]);
        }
        self
    }

    /// The sprite as an image to draw into (alpha stays opaque).
    fn image(&mut self) -> Image<&mut [u8]> {
        Image {
            layout: PixelLayout::Packed { bpp: 4, r: 2, g: 1, b: 0 },
            width: self.width,
            height: self.height,
            planes: [&mut self.bgra[..], &mut [][..], &mut [][..]],
            strides: [self.width * 4, 0, 0],
        }
    }
}

/// Cell size of the pixelation: about 8 cells across the face, at least 2 px.
fn pixel_block(rect: Rect) -> i64 {
    ((rect.2 - rect.0).max(rect.3 - rect.1) / 8).max(2)
}

/// The cells of `rect` (clipped to the frame) with their mean colour.
fn pixel_cells<P: AsRef<[u8]> + Sync>(image: &Image<P>, rect: Rect, block: i64) -> Vec<(Rect, [u8; 3])> {
    let (x0, y0) = (rect.0.max(0), rect.1.max(0));
    let (x1, y1) = (rect.2.min(image.width as i64), rect.3.min(image.height as i64));
    let mut cells = Vec::new();
    let block = block.max(1);
    for cy in (y0..y1).step_by(block as usize) {
        for cx in (x0..x1).step_by(block as usize) {
            let cell = (cx, cy, (cx + block).min(x1), (cy + block).min(y1));
            let mut sum = [0f32; 3];
            for y in cell.1..cell.3 {
                for x in cell.0..cell.2 {
                    let p = image.rgb(x as usize, y as usize);
                    (0..3).for_each(|c| sum[c] += p[c]);
                }
            }
            let n = ((cell.2 - cell.0) * (cell.3 - cell.1)).max(1) as f32;
            cells.push((cell, sum.map(|v| (v / n).round().clamp(0.0, 255.0) as u8)));
        }
    }
    cells
}

/// The area of the intersection of two rectangles.
pub fn overlap(a: Rect, b: Rect) -> i64 {
    let w = a.2.min(b.2) - a.0.max(b.0);
    let h = a.3.min(b.3) - a.1.max(b.1);
    if w > 0 && h > 0 {
        w * h
    } else {
        0
    }
}

/// Largest share of a face's box a tag may cover when no spot covers none (dense crowds).
const MAX_FACE_COVER: f64 = 0.15;

/// The first of the candidate spots for a `size` tag of `face` (above, then below, from
/// left-aligned to right-aligned with the box; then beside it) that covers no face and no placed
/// tag. Else the spot covering the least of the faces, then of the placed tags, if it covers at
/// most [`MAX_FACE_COVER`] of any face; else `None`.
fn place_tag(face: Rect, size: (i64, i64), frame: (i64, i64), faces: &[FaceMark], tags: &[Rect]) -> Option<Rect> {
    let (w, h) = size;
    let (x0, y0, x1, y1) = face;
    // Five horizontal positions from left- to right-aligned, for the spots above and below.
    let xs = (0..5).map(|i| x0 + (x1 - w - x0) * i / 4);
    let above_below = xs.flat_map(|x| [(x, y0 - h), (x, y1)]);
    let beside = [(x1, y0), (x0 - w, y0), (x1, y1 - h), (x0 - w, y1 - h)];
    let clip = |(x, y): (i64, i64)| {
        let (x, y) = (x.min(frame.0 - w).max(0), y.min(frame.1 - h).max(0));
        (x, y, x + w, y + h)
    };
    let mut best: Option<((i64, i64), f64, Rect)> = None;
    for rect in above_below.chain(beside).map(clip) {
        let on_faces: i64 = faces.iter().map(|f| overlap(rect, f.rect)).sum();
        let on_tags: i64 = tags.iter().map(|&t| overlap(rect, t)).sum();
        if (on_faces, on_tags) == (0, 0) {
            return Some(rect);
        }
        let worst = faces.iter().map(|f| overlap(rect, f.rect) as f64 / area(f.rect).max(1) as f64).fold(0.0, f64::max);
        if best.is_none_or(|(c, _, _)| (on_faces, on_tags) < c) {
            best = Some(((on_faces, on_tags), worst, rect));
        }
    }
    best.filter(|&(_, worst, _)| worst <= MAX_FACE_COVER).map(|(_, _, r)| r)
}

fn area(r: Rect) -> i64 {
    (r.2 - r.0).max(0) * (r.3 - r.1).max(0)
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
        let face = FaceMark { rect: (-5, -5, 5, 5), text: Some("surprise 0.99".into()), rgb: [0, 0, 255] };
        let marks = ov.layout(&[face], 8, 8, DrawMode::Labels, 0);
        ov.draw(&mut img, &marks);
        assert!(img.planes[0].iter().any(|&v| v > 0));
        assert!(ov
            .sprites(&img, &marks)
            .iter()
            .all(|s| s.x >= 0 && s.y >= 0 && s.x as usize + s.width <= 8 && s.y as usize + s.height <= 8));
    }

    #[test]
    fn tags_go_outside_every_face_or_not_at_all() {
        let mut ov = Overlay::new();
        let face = |x: i64, y: i64| FaceMark { rect: (x, y, x + 40, y + 40), text: Some("#1 happy 0.91".into()), rgb: [250, 210, 0] };
        // A row of faces with room above and below; one face alone at the top edge.
        let faces = [face(0, 100), face(45, 100), face(90, 100), face(300, 0)];
        let marks = ov.layout(&faces, 400, 300, DrawMode::Labels, 0);
        let tags: Vec<Rect> = marks.iter().filter_map(|m| if let Mark::Tag { rect, .. } = m { Some(*rect) } else { None }).collect();
        assert_eq!(tags.len(), 4, "{marks:?}");
        for t in &tags {
            assert!(faces.iter().all(|f| overlap(*t, f.rect) == 0), "{t:?} covers a face");
            assert!(t.0 >= 0 && t.1 >= 0 && t.2 <= 400 && t.3 <= 300, "{t:?} leaves the frame");
        }
        assert!(tags[3].1 >= 40, "the face at the top edge gets its tag below: {:?}", tags[3]);
        // Boxed in on every side: no tag covers more than 15 % of a face (most are left out).
        let crowd: Vec<FaceMark> = (0..5).flat_map(|r| (0..5).map(move |c| face(c * 40, r * 40))).collect();
        let marks = ov.layout(&crowd, 200, 200, DrawMode::Labels, 0);
        let covers = |t: Rect| crowd.iter().map(|f| overlap(t, f.rect) as f64 / 1600.0).fold(0.0, f64::max);
        assert!(marks.iter().all(|m| !matches!(m, Mark::Tag { rect, .. } if covers(*rect) > MAX_FACE_COVER)), "{marks:?}");
        assert!(marks.iter().filter(|m| matches!(m, Mark::Tag { .. })).count() < crowd.len());
        assert_eq!(ov.layout(&faces, 400, 300, DrawMode::Boxes, 0).len(), 4, "boxes: outlines only");
        assert!(ov.layout(&faces, 400, 300, DrawMode::Blur, 0).iter().all(|m| matches!(m, Mark::Pixelate { .. })));
    }

    #[test]
    fn pixelation_replaces_the_face_with_cell_means_in_place_and_as_sprites() {
        let (w, h) = (16, 16);
        let mut img = rgbx(w, h);
        for (i, px) in img.planes[0].chunks_exact_mut(4).enumerate() {
            px[0] = if i % 2 == 0 { 200 } else { 100 };
        }
        let mut ov = Overlay::new();
        let marks = [Mark::Pixelate { rect: (0, 0, 8, 8), block: 4 }];
        let sprites = ov.sprites(&img, &marks);
        assert_eq!((sprites.len(), sprites[0].width, sprites[0].height), (1, 8, 8));
        assert!(sprites[0].bgra.chunks_exact(4).all(|p| p == [0, 0, 150, 255]), "mean of 200 and 100, opaque");
        ov.draw(&mut img, &marks);
        assert!((0..8).all(|x| img.planes[0][x * 4] == 150), "pixelated in place");
        assert_eq!(img.planes[0][8 * 4], 200, "outside the face untouched");
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
    fn yuy2_fill_writes_luma_per_pixel_and_blends_half_covered_chroma() {
        let spec = YuvSpec::BT601_LIMITED;
        let mut img = Image {
            layout: PixelLayout::Yuv422 { spec, y: 0, u: 1, v: 3 },
            width: 6,
            height: 2,
            planes: [[16, 128, 16, 128].repeat(6), vec![], vec![]],
            strides: [12, 0, 0],
        };
        // Pixels 1..4 of row 1: group 0 half covered, group 1 whole.
        img.fill_rect(1, 1, 4, 2, [255, 0, 0]);
        let red = spec.from_rgb([255, 0, 0]);
        assert_eq!(&img.planes[0][..12], &[16, 128, 16, 128].repeat(3)[..], "row 0 untouched");
        let row = &img.planes[0][12..];
        assert_eq!((row[0], row[2], row[4], row[6], row[8]), (16, red[0], red[0], red[0], 16));
        assert_eq!((row[5], row[7]), (red[1], red[2]), "whole group: the colour's chroma");
        let half = |c: u8| (128.0 + (c as f32 - 128.0) * 0.5 + 0.5) as u8;
        assert_eq!((row[1], row[3]), (half(red[1]), half(red[2])), "half-covered group: half the colour's chroma");
        let mut ov = Overlay::new();
        ov.draw_text(&mut img, 0, 0, "x", 10, [255, 0, 0]);
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
