// SPDX-License-Identifier: MIT
//! Who is who: one thumbnail per person (track id), the face crop of their most confident
//! detection, for the timeline and the HTML report of `emotiondetect-video`.
//!
//! The element draws its boxes into the frame it analyses, so the crop is taken from the frame
//! as it entered the element: a probe on the element's sink pad holds the last few input buffers
//! (a held reference makes the element draw into a copy), a probe on its src pad reads the face
//! ROI metas (`GstVideoRegionOfInterestMeta`, `detection` confidence, `object_id`) of the same
//! timestamp and crops a new best face with GStreamer's `VideoConverter` (crop, scale and
//! conversion to RGB in one pass).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

/// The long side of a thumbnail, pixels.
pub const THUMBNAIL_SIZE: u32 = 96;
/// Input buffers held, waiting for their analysed twin (the element works in place: 1 is enough).
const HELD: usize = 4;
/// People with a thumbnail at most: about 27 KiB each, so memory stays bounded on any video.
pub const MAX_THUMBNAILS: usize = 4096;
/// Margin around the face box, as a fraction of its size on each side (hair and chin).
const MARGIN: f64 = 0.2;

/// One person's thumbnail.
#[derive(Clone, Debug)]
pub struct Thumbnail {
    /// The detector's confidence 0..1 of the face it was cropped from.
    pub confidence: f64,
    /// The crop, RGB, long side [`THUMBNAIL_SIZE`] pixels.
    pub image: image::RgbImage,
}

#[derive(Default)]
struct Inner {
    held: VecDeque<gst::Buffer>,
    info: Option<gst_video::VideoInfo>,
    best: HashMap<u64, Thumbnail>,
}

/// Collects the thumbnails of the faces `emotiondetect` finds; see the module docs.
#[derive(Default)]
pub struct Thumbnails {
    inner: Mutex<Inner>,
}

impl Thumbnails {
    /// Adds the probes to `element` (an `emotiondetect`).
    pub fn attach(self: &Arc<Self>, element: &gst::Element) {
        let (Some(sink), Some(src)) = (element.static_pad("sink"), element.static_pad("src")) else { return };
        let me = self.clone();
        sink.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let mut inner = me.inner.lock().unwrap();
            match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    inner.held.push_back(buffer.clone());
                    if inner.held.len() > HELD {
                        inner.held.pop_front();
                    }
                }
                Some(gst::PadProbeData::Event(event)) => {
                    if let gst::EventView::Caps(caps) = event.view() {
                        inner.info = gst_video::VideoInfo::from_caps(caps.caps()).ok();
                        inner.held.clear();
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
        let me = self.clone();
        src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                me.analysed(buffer);
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// The thumbnails by track id, taken out.
    pub fn take(&self) -> HashMap<u64, Thumbnail> {
        std::mem::take(&mut self.inner.lock().unwrap().best)
    }

    /// An analysed frame: crops each face that beats its person's best so far.
    fn analysed(&self, analysed: &gst::BufferRef) {
        let (input, info, wanted) = {
            let mut inner = self.inner.lock().unwrap();
            let Some(at) = inner.held.iter().position(|b| b.pts() == analysed.pts()) else { return };
            let input = inner.held.remove(at);
            let Some(info) = inner.info.clone() else { return };
            let wanted = better_faces(analysed, &inner.best);
            (input, info, wanted)
        };
        let (Some(input), false) = (input, wanted.is_empty()) else { return };
        for (id, confidence, rect) in wanted {
            // A frame that cannot be cropped (an odd format) only costs its thumbnail.
            if let Ok(image) = crop(&input, &info, rect) {
                let mut inner = self.inner.lock().unwrap();
                if inner.best.len() < MAX_THUMBNAILS || inner.best.contains_key(&id) {
                    inner.best.insert(id, Thumbnail { confidence, image });
                }
            }
        }
    }
}

/// A box in frame pixels: left, top, width, height.
type Rect = (u32, u32, u32, u32);

/// The faces of `buffer` (track id, detection confidence, box in pixels) more confident than
/// their person's thumbnail in `best`.
fn better_faces(buffer: &gst::BufferRef, best: &HashMap<u64, Thumbnail>) -> Vec<(u64, f64, Rect)> {
    buffer
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == "face" && m.id() >= 0)
        .filter_map(|m| {
            let confidence = m.param("detection")?.get::<f64>("confidence").ok().filter(|c| c.is_finite())?;
            let id = m.id() as u64;
            let better = best.get(&id).is_none_or(|t| confidence > t.confidence);
            better.then_some((id, confidence, m.rect()))
        })
        .collect()
}

/// The face box `rect` (x, y, w, h in frame pixels) of `buffer` with a margin, clamped to the
/// frame, scaled to a long side of [`THUMBNAIL_SIZE`] and converted to RGB.
///
/// Errors: an empty box, or a frame GStreamer cannot map or convert.
fn crop(buffer: &gst::Buffer, info: &gst_video::VideoInfo, rect: Rect) -> Result<image::RgbImage, String> {
    let (x, y, w, h) = with_margin(rect, info.width(), info.height()).ok_or("empty box")?;
    let scale = f64::from(THUMBNAIL_SIZE) / f64::from(w.max(h));
    let (out_w, out_h) = (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
    let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, out_w, out_h)
        .fps(info.fps())
        .interlace_mode(info.interlace_mode())
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = gst_video::VideoConverterConfig::new();
    config.set_src_x(x as i32);
    config.set_src_y(y as i32);
    config.set_src_width(Some(w as i32));
    config.set_src_height(Some(h as i32));
    let converter = gst_video::VideoConverter::new(info, &out_info, Some(config)).map_err(|e| e.to_string())?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).map_err(|e| e.to_string())?;
    let mut out = gst::Buffer::with_size(out_info.size()).map_err(|e| e.to_string())?;
    {
        let out_ref = out.get_mut().ok_or("new buffer not writable")?;
        let mut out_frame = gst_video::VideoFrameRef::from_buffer_ref_writable(out_ref, &out_info).map_err(|e| e.to_string())?;
        converter.frame_ref(&frame, &mut out_frame);
    }
    let map = out.map_readable().map_err(|e| e.to_string())?;
    let stride = out_info.stride()[0] as usize;
    let row = out_w as usize * 3;
    let pixels: Vec<u8> = map.chunks(stride).take(out_h as usize).flat_map(|r| &r[..row]).copied().collect();
    image::RgbImage::from_raw(out_w, out_h, pixels).ok_or_else(|| "short frame".to_string())
}

/// `rect` grown by [`MARGIN`] on each side and clamped to a `width` x `height` frame; `None`
/// when nothing of it is inside.
pub fn with_margin((x, y, w, h): Rect, width: u32, height: u32) -> Option<Rect> {
    let (mx, my) = ((f64::from(w) * MARGIN) as i64, (f64::from(h) * MARGIN) as i64);
    let left = (i64::from(x) - mx).clamp(0, i64::from(width));
    let top = (i64::from(y) - my).clamp(0, i64::from(height));
    let right = (i64::from(x) + i64::from(w) + mx).clamp(0, i64::from(width));
    let bottom = (i64::from(y) + i64::from(h) + my).clamp(0, i64::from(height));
    (right > left && bottom > top).then(|| (left as u32, top as u32, (right - left) as u32, (bottom - top) as u32))
}

/// `image` as a JPEG (quality 85).
///
/// Errors: the encoder's.
pub fn jpeg(image: &image::RgbImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(image).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_stay_in_the_frame() {
        assert_eq!(with_margin((100, 100, 50, 100), 640, 480), Some((90, 80, 70, 140)));
        assert_eq!(with_margin((0, 0, 50, 50), 640, 480), Some((0, 0, 60, 60)), "clamped at the top left");
        assert_eq!(with_margin((620, 470, 50, 50), 640, 480), Some((610, 460, 30, 20)), "clamped at the bottom right");
        assert_eq!(with_margin((700, 10, 5, 5), 640, 480), None, "outside");
        assert_eq!(with_margin((10, 10, 0, 0), 640, 480), None, "empty");
    }
}
