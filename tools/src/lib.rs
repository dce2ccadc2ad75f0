// SPDX-License-Identifier: MIT
//! The tools around the `emotiondetect` element, kept out of the plugin's dependency graph:
//! [`report`] (per-person CSV and emotion timeline of `emotiondetect-video`) and [`evaluation`]
//! (accuracy, P/R/F1 and confusion matrix of `emotiondetect-eval`) and [`outputs`] (the output
//! files of `emotiondetect-video`, written whole or not at all), which need no GStreamer, and
//! [`video`], the analysis of `emotiondetect-video` (runs the element; also used by
//! `emotiondetect-web`), and [`input`], the checks of a picture before it is decoded (pixel limit,
//! a cut JPEG), [`thumbnails`] (each person's face crop) and [`html`] (the self-contained
//! `<name>-report.html`).

pub mod evaluation;
pub mod html;
pub mod input;
pub mod outputs;
pub mod report;
pub mod thumbnails;
pub mod video;
