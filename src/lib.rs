// SPDX-License-Identifier: MIT
//! GStreamer plugin `emotiondetect`: finds faces in raw video, classifies each face's emotion
//! with ONNX Runtime, attaches the results as metadata and draws them.
#![allow(clippy::too_many_arguments)]

use gst::glib;

pub mod analyser;
pub mod classification;
pub mod detection;
mod emotiondetect;
pub mod error;
pub mod export;
pub mod files;
pub mod frame_report;
pub mod inference;
pub mod instances;
pub mod overlay;
pub mod preprocess;
pub mod publish;
pub mod ratelimit;
pub mod runtime;
pub mod tracking;
pub mod worker;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    if let Some(file) = plugin.filename() {
        runtime::set_plugin_file(file);
    }
    emotiondetect::register(plugin)
}

gst::plugin_define!(
    emotiondetect,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("EMOTIONDETECT_ORIGIN"),
    env!("BUILD_REL_DATE")
);
