//! The `emotiondetect` element: an in-place video filter that detects faces, classifies their
//! emotion, attaches one `GstVideoRegionOfInterestMeta` per face, posts one `emotiondetect`
//! element message per frame and draws boxes and labels.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct EmotionDetect(ObjectSubclass<imp::EmotionDetect>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "emotiondetect", gst::Rank::NONE, EmotionDetect::static_type())
}
