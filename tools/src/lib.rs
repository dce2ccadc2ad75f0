// SPDX-License-Identifier: MIT
//! The tools around the `emotiondetect` element, kept out of the plugin's dependency graph:
//! [`report`] (per-person CSV and emotion timeline of `emotiondetect-video`) and [`evaluation`]
//! (accuracy, P/R/F1 and confusion matrix of `emotiondetect-eval`), [`outputs`] (the output
//! files of `emotiondetect-video`, written whole or not at all). Neither needs GStreamer; the
//! binaries in `src/bin` run the element.

pub mod evaluation;
pub mod outputs;
pub mod report;
