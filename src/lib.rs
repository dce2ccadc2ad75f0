// SPDX-License-Identifier: MIT
//! GStreamer plugin `emotiondetect`: the `emotiondetect` element (faces found, their emotion
//! classified, the results attached as metas and drawn) and the `emotionpublish` element (each
//! frame's report sent to a JSON lines file or an MQTT broker). The work is done by the
//! GStreamer-free `emotiondetect-core` crate; this crate is only the GStreamer glue.
#![allow(clippy::too_many_arguments)]

use gst::glib;

mod emotiondetect;
mod emotionpublish;
mod errors;
mod ratelimit;
mod report_meta;
pub mod thumbnail;
mod worker;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    if let Some(file) = plugin.filename() {
        emotiondetect_core::runtime::set_plugin_file(file);
    }
    report_meta::register();
    emotiondetect::register(plugin)?;
    emotionpublish::register(plugin)
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
