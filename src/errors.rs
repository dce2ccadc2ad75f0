// SPDX-License-Identifier: MIT
//! The one place where the core's [`Error`]s get their GStreamer error domain.

use emotiondetect_core::error::Error;

/// The GStreamer error of `e`, its message the error's own text.
pub(crate) fn error_message(e: &Error) -> gst::ErrorMessage {
    match e {
        Error::Settings(_) | Error::SharedInstance(_) => gst::error_msg!(gst::LibraryError::Settings, ("{e}")),
        Error::Runtime(_) => gst::error_msg!(gst::LibraryError::Init, ("{e}")),
        Error::Model { .. } | Error::Spec(_) => gst::error_msg!(gst::ResourceError::OpenRead, ("{e}")),
        Error::Create { .. } => gst::error_msg!(gst::ResourceError::OpenWrite, ("{e}")),
        Error::Write { .. } => gst::error_msg!(gst::ResourceError::Write, ("{e}")),
        Error::Inference(_) | Error::Frame(_) | Error::Thread(_) => gst::error_msg!(gst::StreamError::Failed, ("{e}")),
    }
}
