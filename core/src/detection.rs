// SPDX-License-Identifier: MIT
//! Face detection: YuNet and UltraFace output decoding, NMS, and mapping boxes back to the frame.
//!
//! The maths here is plain and unit-tested; running the ONNX session is in [`crate::inference`].

/// A face in pixel coordinates of some image (detector input or frame, as documented at
/// each use). `x1`/`y1` are exclusive corners: width = `x1 - x0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Face {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    /// Detector confidence, 0..1.
    pub score: f32,
    /// Five landmarks in YuNet order (right eye, left eye, nose tip, right mouth corner,
    /// left mouth corner), in the same coordinates as the box. `None` for UltraFace.
    pub landmarks: Option<[[f32; 2]; 5]>,
}

impl Face {
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }

    /// Whether the box, the score and the landmarks are all finite numbers.
    pub fn is_finite(&self) -> bool {
        let landmarks = self.landmarks.iter().flatten().flatten();
        [self.x0, self.y0, self.x1, self.y1, self.score].iter().chain(landmarks).all(|v| v.is_finite())
    }

    fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Intersection over union with `other`, 0..1.
    pub fn iou(&self, other: &Face) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Scales every coordinate by (`sx`, `sy`).
    pub fn scaled(mut self, sx: f32, sy: f32) -> Face {
        self.scale(sx, sy);
        self
    }

    /// Scales every coordinate by (`sx`, `sy`) in place.
    pub fn scale(&mut self, sx: f32, sy: f32) {
        self.x0 *= sx;
        self.x1 *= sx;
        self.y0 *= sy;
        self.y1 *= sy;
        if let Some(l) = self.landmarks.as_mut() {
            for p in l.iter_mut() {
                p[0] *= sx;
                p[1] *= sy;
            }
        }
    }
}

/// Greedy non-maximum suppression as OpenCV's `cv::dnn::NMSBoxes`: keeps at most `top_k`
/// candidates by descending score (0 = all), then drops any box whose IoU with an already kept
/// box exceeds `iou_threshold`. Returns the kept faces, best first.
pub fn nms(faces: Vec<Face>, iou_threshold: f32, top_k: usize) -> Vec<Face> {
    let mut kept = Vec::new();
    nms_into(&faces, iou_threshold, top_k, &mut Vec::new(), &mut kept);
    kept
}

/// [`nms`] of `faces` into `kept` (cleared first), with `order` as scratch: both are reused
/// from frame to frame, so a steady stream allocates nothing here. Equal scores keep their
/// input order (a stable sort, as OpenCV's).
pub fn nms_into(faces: &[Face], iou_threshold: f32, top_k: usize, order: &mut Vec<(f32, u32)>, kept: &mut Vec<Face>) {
    order.clear();
    order.extend(faces.iter().enumerate().map(|(i, f)| (f.score, i as u32)));
    order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    if top_k > 0 {
        order.truncate(top_k);
    }
    kept.clear();
    for &(_, i) in order.iter() {
        let f = &faces[i as usize];
        if kept.iter().all(|k| k.iou(f) <= iou_threshold) {
            kept.push(f.clone());
        }
    }
}

/// YuNet strides, in the order of its outputs.
pub const YUNET_STRIDES: [usize; 3] = [8, 16, 32];

/// YuNet's output names per stride of [`YUNET_STRIDES`]: class score, objectness, box, landmarks.
pub const YUNET_OUTPUTS: [[&str; 4]; 3] =
    [["cls_8", "obj_8", "bbox_8", "kps_8"], ["cls_16", "obj_16", "bbox_16", "kps_16"], ["cls_32", "obj_32", "bbox_32", "kps_32"]];

/// The outputs of YuNet for one stride, for a padded input of `input_w` pixels wide: one row per
/// grid cell, row-major with `input_w / stride` columns. `cls` and `obj` are `[N]`, `bbox` is
/// `[N, 4]` (dx, dy, log w, log h) and `kps` is `[N, 10]`.
pub struct YunetLevel<'a> {
    pub stride: usize,
    pub cls: &'a [f32],
    pub obj: &'a [f32],
    pub bbox: &'a [f32],
    pub kps: &'a [f32],
}

/// Decodes YuNet (libfacedetection.train, 2023 generation) as OpenCV's `FaceDetectorYN` does:
/// score = sqrt(clamp(cls) * clamp(obj)); centre = (cell + offset) * stride;
/// size = exp(log size) * stride; landmarks = (cell + offset) * stride.
/// Returns faces above `score_threshold` in detector-input pixels, before NMS.
pub fn decode_yunet(levels: &[YunetLevel<'_>], input_w: usize, score_threshold: f32) -> Vec<Face> {
    let mut faces = Vec::new();
    decode_yunet_into(levels, input_w, score_threshold, &mut faces);
    faces
}

/// [`decode_yunet`], appending to `faces` (reused from frame to frame).
pub fn decode_yunet_into(levels: &[YunetLevel<'_>], input_w: usize, score_threshold: f32, faces: &mut Vec<Face>) {
    for level in levels {
        let s = level.stride as f32;
        let cols = (input_w / level.stride).max(1);
        let n = level.cls.len().min(level.obj.len()).min(level.bbox.len() / 4).min(level.kps.len() / 10);
        for i in 0..n {
            let score = (level.cls[i].clamp(0.0, 1.0) * level.obj[i].clamp(0.0, 1.0)).sqrt();
            // Not `score <= threshold`, which is false for NaN: a NaN score is no face.
            if score.partial_cmp(&score_threshold) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let (col, row) = ((i % cols) as f32, (i / cols) as f32);
            let b = &level.bbox[i * 4..i * 4 + 4];
            let cx = (col + b[0]) * s;
            let cy = (row + b[1]) * s;
            let w = b[2].exp() * s;
            let h = b[3].exp() * s;
            let k = &level.kps[i * 10..i * 10 + 10];
            let landmarks: [[f32; 2]; 5] = std::array::from_fn(|j| [(col + k[2 * j]) * s, (row + k[2 * j + 1]) * s]);
            let face = Face { x0: cx - w / 2.0, y0: cy - h / 2.0, x1: cx + w / 2.0, y1: cy + h / 2.0, score, landmarks: Some(landmarks) };
            // exp() of a large log size overflows: such a box is no face.
            if face.is_finite() {
                faces.push(face);
            }
        }
    }
}

/// Decodes UltraFace (Ultra-Light-Fast-Generic-Face-Detector-1MB) as its reference script
/// does: `scores` is `[N, 2]` (background, face; already softmaxed), `boxes` is `[N, 4]`
/// (x0, y0, x1, y1 normalised 0..1, already decoded from the priors). Returns faces above
/// `score_threshold` with boxes normalised 0..1, before NMS.
pub fn decode_ultraface(scores: &[f32], boxes: &[f32], score_threshold: f32) -> Vec<Face> {
    let mut faces = Vec::new();
    decode_ultraface_into(scores, boxes, score_threshold, &mut faces);
    faces
}

/// [`decode_ultraface`], appending to `faces` (reused from frame to frame).
pub fn decode_ultraface_into(scores: &[f32], boxes: &[f32], score_threshold: f32, faces: &mut Vec<Face>) {
    let n = (scores.len() / 2).min(boxes.len() / 4);
    let found = (0..n)
        .filter(|&i| scores[2 * i + 1] > score_threshold && scores[2 * i + 1] <= 1.0)
        .map(|i| {
            let b = &boxes[4 * i..4 * i + 4];
            Face { x0: b[0], y0: b[1], x1: b[2], y1: b[3], score: scores[2 * i + 1], landmarks: None }
        })
        .filter(Face::is_finite);
    faces.extend(found);
}

/// Clips faces to a `width` x `height` frame and keeps those whose shorter side is at least
/// `min_size` pixels, at most `max_faces` of them (0 = no limit), best first.
pub fn filter_faces(faces: Vec<Face>, width: f32, height: f32, min_size: f32, max_faces: usize) -> Vec<Face> {
    let mut out: Vec<Face> = faces
        .into_iter()
        .map(|mut f| {
            f.x0 = f.x0.clamp(0.0, width);
            f.x1 = f.x1.clamp(0.0, width);
            f.y0 = f.y0.clamp(0.0, height);
            f.y1 = f.y1.clamp(0.0, height);
            f
        })
        .filter(|f| f.width() >= min_size.max(1.0) && f.height() >= min_size.max(1.0))
        .collect();
    if max_faces > 0 {
        out.truncate(max_faces);
    }
    out
}

/// The face box grown by `margin` (a fraction of its width and height on each side), as the
/// (x0, y0, x1, y1) region to crop for the classifier. It may extend past the frame; the crop
/// clamps at the edges.
pub fn crop_region(face: &Face, margin: f32) -> (f32, f32, f32, f32) {
    let mx = face.width() * margin;
    let my = face.height() * margin;
    (face.x0 - mx, face.y0 - my, face.x1 + mx, face.y1 + my)
}

/// Detector input size for a `width` x `height` frame and a requested long side
/// (`0` = the frame's own size; frames are never upscaled). Returns the scaled content size
/// and the padded tensor size (multiples of `align`).
pub fn detector_geometry(width: usize, height: usize, long_side: usize, align: usize) -> ((usize, usize), (usize, usize)) {
    let long = width.max(height).max(1);
    let scale = if long_side == 0 { 1.0 } else { (long_side as f64 / long as f64).min(1.0) };
    let cw = ((width as f64 * scale).round() as usize).max(1);
    let ch = ((height as f64 * scale).round() as usize).max(1);
    let pad = |v: usize| v.div_ceil(align) * align;
    ((cw, ch), (pad(cw), pad(ch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Face {
        Face { x0, y0, x1, y1, score, landmarks: None }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = face(0.0, 0.0, 10.0, 10.0, 1.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&face(20.0, 20.0, 30.0, 30.0, 1.0)), 0.0);
        let b = face(5.0, 0.0, 15.0, 10.0, 1.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_all_disjoint_ones() {
        let faces = vec![
            face(0.0, 0.0, 10.0, 10.0, 0.7),
            face(1.0, 1.0, 11.0, 11.0, 0.9),
            face(50.0, 50.0, 60.0, 60.0, 0.8),
            face(5.0, 0.0, 15.0, 10.0, 0.6), // IoU 0.33 with the first: kept at threshold 0.4
        ];
        let kept = nms(faces.clone(), 0.3, 0);
        assert_eq!(kept.iter().map(|f| f.score).collect::<Vec<_>>(), vec![0.9, 0.8]);
        let kept = nms(faces.clone(), 0.4, 0);
        assert_eq!(kept.len(), 3);
        assert_eq!(nms(faces, 0.3, 1).len(), 1);
    }

    #[test]
    fn yunet_decoding_places_cells_and_scales_by_stride() {
        // 64 px wide input: stride 32 has 2 columns; the face is in cell (col 1, row 1).
        let cls = [0.0, 0.0, 0.0, 0.81];
        let obj = [0.0, 0.0, 0.0, 1.0];
        let mut bbox = [0.0f32; 16];
        bbox[12..16].copy_from_slice(&[0.5, 0.25, 0.0, 1.0f32.ln()]);
        let mut kps = [0.0f32; 40];
        kps[30] = 0.25; // right eye x offset
        let level = YunetLevel { stride: 32, cls: &cls, obj: &obj, bbox: &bbox, kps: &kps };
        let faces = decode_yunet(&[level], 64, 0.5);
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        assert!((f.score - 0.9).abs() < 1e-6);
        // centre (48, 40), size 32 x 32
        assert_eq!((f.x0, f.y0, f.x1, f.y1), (32.0, 24.0, 64.0, 56.0));
        assert_eq!(f.landmarks.unwrap()[0], [40.0, 32.0]);
    }

    #[test]
    fn yunet_scores_are_clamped_before_the_square_root() {
        let level = YunetLevel { stride: 8, cls: &[1.5], obj: &[-0.2], bbox: &[0.0; 4], kps: &[0.0; 10] };
        assert!(decode_yunet(&[level], 8, 0.0).is_empty());
    }

    #[test]
    fn non_finite_detector_outputs_give_no_faces() {
        // NaN scores passed `score <= threshold` (false for NaN) as ~1,000 faces a frame.
        let n = 4;
        let (cls, obj) = (vec![f32::NAN; n], vec![1.0; n]);
        let level = YunetLevel { stride: 32, cls: &cls, obj: &obj, bbox: &[0.0; 16], kps: &[0.0; 40] };
        assert!(decode_yunet(&[level], 64, 0.0).is_empty(), "NaN scores");
        let bbox: Vec<f32> = [0.0, 0.0, f32::INFINITY, 200.0].repeat(n);
        let level = YunetLevel { stride: 32, cls: &[1.0; 4], obj: &[1.0; 4], bbox: &bbox, kps: &[0.0; 40] };
        assert!(decode_yunet(&[level], 64, 0.0).is_empty(), "infinite and overflowing sizes");
        let kps = [f32::NAN; 40];
        let level = YunetLevel { stride: 32, cls: &[1.0; 4], obj: &[1.0; 4], bbox: &[0.0; 16], kps: &kps };
        assert!(decode_yunet(&[level], 64, 0.0).is_empty(), "NaN landmarks");
        assert!(decode_ultraface(&[0.0, f32::NAN, 0.0, 0.9], &[0.0, 0.0, f32::INFINITY, 1.0, 0.0, 0.0, 0.5, 0.5], 0.0).len() == 1);
        assert!(decode_ultraface(&[0.0, f32::INFINITY], &[0.0, 0.0, 0.5, 0.5], 0.0).is_empty());
    }

    #[test]
    fn ultraface_decoding_keeps_face_scores_above_threshold() {
        let scores = [0.9, 0.1, 0.2, 0.8];
        let boxes = [0.0, 0.0, 0.1, 0.1, 0.5, 0.5, 0.75, 1.0];
        let faces = decode_ultraface(&scores, &boxes, 0.7);
        assert_eq!(faces, vec![face(0.5, 0.5, 0.75, 1.0, 0.8)]);
    }

    #[test]
    fn boxes_map_back_clip_and_filter_by_size() {
        let f = face(10.0, 10.0, 30.0, 40.0, 0.9).scaled(2.0, 2.0);
        assert_eq!((f.x0, f.y0, f.x1, f.y1), (20.0, 20.0, 60.0, 80.0));
        let faces = vec![face(-5.0, -5.0, 25.0, 25.0, 0.9), face(0.0, 0.0, 5.0, 5.0, 0.8), face(30.0, 30.0, 60.0, 60.0, 0.7)];
        let kept = filter_faces(faces, 50.0, 50.0, 10.0, 0);
        assert_eq!(kept, vec![face(0.0, 0.0, 25.0, 25.0, 0.9), face(30.0, 30.0, 50.0, 50.0, 0.7)]);
        let faces = vec![face(0.0, 0.0, 20.0, 20.0, 0.9), face(20.0, 20.0, 40.0, 40.0, 0.8)];
        assert_eq!(filter_faces(faces, 50.0, 50.0, 0.0, 1).len(), 1);
    }

    #[test]
    fn crop_region_adds_margin_on_each_side() {
        assert_eq!(crop_region(&face(10.0, 20.0, 30.0, 60.0, 1.0), 0.1), (8.0, 16.0, 32.0, 64.0));
    }

    #[test]
    fn detector_geometry_scales_the_long_side_and_pads() {
        assert_eq!(detector_geometry(720, 528, 640, 32), ((640, 469), (640, 480)));
        assert_eq!(detector_geometry(1920, 1080, 640, 32), ((640, 360), (640, 384)));
        assert_eq!(detector_geometry(320, 240, 640, 32), ((320, 240), (320, 256)));
        assert_eq!(detector_geometry(1, 1, 640, 32), ((1, 1), (32, 32)));
        assert_eq!(detector_geometry(33, 17, 0, 32), ((33, 17), (64, 32)));
    }
}
