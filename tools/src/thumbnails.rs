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

use gstemotiondetect::thumbnail::{crop, Rect};
pub use gstemotiondetect::thumbnail::{jpeg, THUMBNAIL_SIZE};
/// Input buffers held, waiting for their analysed twin (the element works in place: 1 is enough).
const HELD: usize = 4;
/// People with a thumbnail at most: about 27 KiB each, so memory stays bounded on any video.
pub const MAX_THUMBNAILS: usize = 4096;

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
