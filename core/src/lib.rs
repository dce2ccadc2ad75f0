// SPDX-License-Identifier: MIT
//! The GStreamer-free core of emotiondetect: the analysis of one frame ([`analyser`]: face
//! detection, tracking, batched emotion classification, drawing) into the [`frame_report`] that
//! every output is built from, and the outputs that need no GStreamer ([`export`]: JSON lines,
//! [`publish`]: MQTT). [`Engine`] loads the models; the `emotiondetect` and `emotionpublish`
//! elements, the tools and the web app use this crate's API, not its internals.
#![deny(dead_code)]
#![allow(clippy::too_many_arguments)]

pub mod analyser;
pub mod backend;
pub mod classification;
pub mod detection;
mod engine;
pub mod error;
pub mod events;
pub mod export;
pub mod files;
pub mod frame_report;
pub mod inference;
pub mod instances;
pub mod kafka;
pub mod overlay;
pub mod preprocess;
pub mod publish;
pub mod redact;
mod resize;
pub mod runtime;
pub mod stages;
pub mod tracking;

pub use engine::{Engine, ModelSettings, DEFAULT_FACE_MODEL_FILE};
