// SPDX-License-Identifier: MIT
//! The one place where the core's [`Error`]s get their GStreamer error domain.

use emotiondetect_core::error::Error;

/// The GStreamer error of `e`: its domain chosen by the kind of error (under the
/// `model-instance-id` wrapper, [`Error::innermost`]), its message the error's own text, which
/// includes its cause.
pub(crate) fn error_message(e: &Error) -> gst::ErrorMessage {
    match e.innermost() {
        Error::InvalidSetting { .. } | Error::OneOf { .. } | Error::EnvFile { .. } | Error::Tls { .. } | Error::SharedInstance { .. } => {
            gst::error_msg!(gst::LibraryError::Settings, ("{e}"))
        }
        Error::Runtime { .. } | Error::OpenVinoLibrary { .. } => gst::error_msg!(gst::LibraryError::Init, ("{e}")),
        Error::Model { .. } | Error::Spec { .. } | Error::NoSpec { .. } => gst::error_msg!(gst::ResourceError::OpenRead, ("{e}")),
        Error::Create { .. } => gst::error_msg!(gst::ResourceError::OpenWrite, ("{e}")),
        Error::Write { .. } => gst::error_msg!(gst::ResourceError::Write, ("{e}")),
        Error::Inference { .. }
        | Error::OpenVinoInference { .. }
        | Error::OutputType { .. }
        | Error::InputShape { .. }
        | Error::OutputMissing { .. }
        | Error::OutputSize { .. }
        | Error::NonFinite { .. }
        | Error::BatchResults { .. }
        | Error::Panicked { .. }
        | Error::ThreadStart { .. }
        | Error::ThreadStopped { .. }
        | Error::Frame { .. }
        // Not reached: innermost() is never an Instance.
        | Error::Instance { .. } => gst::error_msg!(gst::StreamError::Failed, ("{e}")),
    }
}
