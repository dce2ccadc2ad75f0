// SPDX-License-Identifier: MIT
/**
 * element-emotiondetect:
 *
 * An in-place video filter that finds faces (YuNet or UltraFace), classifies each face's
 * emotion with ONNX Runtime (all faces of a frame in batched calls; CUDA or CPU), attaches one
 * `GstVideoRegionOfInterestMeta` per face (DL Streamer's `detection`, `emotion`, `object_id` and
 * `landmarks` parameters) and one `GstEmotionReportMeta` (the whole frame report, which
 * `emotionpublish` sends), posts one `emotiondetect` element message per frame, and draws boxes
 * and labels. See `docs/conventions.md` for the metas, the message and the JSON schema.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 v4l2src ! emotiondetect ! autovideosink
 * gst-launch-1.0 -m filesrc location=Megamind.avi ! decodebin ! emotiondetect ! emotionpublish location=faces.jsonl ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod frames;
mod imp;
mod outputs;
mod pipelining;

glib::wrapper! {
    pub struct EmotionDetect(ObjectSubclass<imp::EmotionDetect>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// How faces are drawn (the `draw-mode` property); the metadata carries everything in every mode.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstEmotionDetectDrawMode")]
pub enum DrawMode {
    #[default]
    #[enum_value(name = "A box and an '#id label 0.91' tag per face", nick = "labels")]
    Labels = 0,
    #[enum_value(name = "A box per face, no text", nick = "boxes")]
    Boxes = 1,
    #[enum_value(name = "Faces pixelated, no box or text (privacy)", nick = "blur")]
    Blur = 2,
}

impl From<DrawMode> for emotiondetect_core::overlay::DrawMode {
    fn from(m: DrawMode) -> Self {
        match m {
            DrawMode::Labels => Self::Labels,
            DrawMode::Boxes => Self::Boxes,
            DrawMode::Blur => Self::Blur,
        }
    }
}

impl From<emotiondetect_core::overlay::DrawMode> for DrawMode {
    fn from(m: emotiondetect_core::overlay::DrawMode) -> Self {
        match m {
            emotiondetect_core::overlay::DrawMode::Labels => Self::Labels,
            emotiondetect_core::overlay::DrawMode::Boxes => Self::Boxes,
            emotiondetect_core::overlay::DrawMode::Blur => Self::Blur,
        }
    }
}

/// Registers the element with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    DrawMode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "emotiondetect", gst::Rank::NONE, EmotionDetect::static_type())
}
