// SPDX-License-Identifier: MIT
//! The errors of every layer below the element (runtime, models, specs, analysis, output files).
//! The element maps them to GStreamer error domains in one place (`emotiondetect/imp.rs`,
//! `error_message`); the tools print them.

use std::path::{Path, PathBuf};

/// What went wrong, with the file, value or model named in the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A setting has a value that is not accepted (for example `device=gpu`).
    #[error("{0}")]
    Settings(String),
    /// ONNX Runtime's library cannot be found, loaded or initialised.
    #[error("{0}")]
    Runtime(String),
    /// A model file is missing, unreadable, not ONNX, or not of the expected inputs and outputs.
    /// `what` names its role ("face model", "emotion model", with the shared instance if any).
    #[error("{what} {}: {reason}", path.display())]
    Model { what: String, path: PathBuf, reason: String },
    /// A classifier spec is missing or invalid (the message names the file and the field).
    #[error("{0}")]
    Spec(String),
    /// `model-instance-id` is held with other model settings (the message names both).
    #[error("{0}")]
    SharedInstance(String),
    /// ONNX Runtime failed on one frame, or gave outputs of an unexpected size.
    #[error("{0}")]
    Inference(String),
    /// A frame cannot be analysed (format, mapping).
    #[error("{0}")]
    Frame(String),
    /// A worker thread panicked on a job or has stopped.
    #[error("{0}")]
    Thread(String),
    /// The metadata file cannot be created.
    #[error("metadata file {}: cannot be written: {reason}", path.display())]
    Create { path: PathBuf, reason: String },
    /// Writing to the metadata file failed.
    #[error("metadata file {}: write failed: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

/// The result type of the modules below the element.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Model`] for the model `what` at `path`.
    pub fn model(what: &str, path: &Path, reason: impl Into<String>) -> Error {
        Error::Model { what: what.to_string(), path: path.to_path_buf(), reason: reason.into() }
    }

    /// The same error with `prefix` (for example "model-instance-id 'a': ") before its message.
    pub fn prefixed(self, prefix: &str) -> Error {
        match self {
            Error::Model { what, path, reason } => Error::Model { what: format!("{prefix}{what}"), path, reason },
            Error::Settings(m) => Error::Settings(format!("{prefix}{m}")),
            Error::Runtime(m) => Error::Runtime(format!("{prefix}{m}")),
            Error::Spec(m) => Error::Spec(format!("{prefix}{m}")),
            Error::SharedInstance(m) => Error::SharedInstance(format!("{prefix}{m}")),
            Error::Inference(m) => Error::Inference(format!("{prefix}{m}")),
            Error::Frame(m) => Error::Frame(format!("{prefix}{m}")),
            Error::Thread(m) => Error::Thread(format!("{prefix}{m}")),
            e @ (Error::Create { .. } | Error::Write { .. }) => e,
        }
    }
}

/// The message, for callers (the tools) that report errors as text.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_keep_a_prefix() {
        let e = Error::model("face model", Path::new("/m/f.onnx"), "no such file");
        assert_eq!(e.to_string(), "face model /m/f.onnx: no such file");
        assert_eq!(e.prefixed("model-instance-id 'a': ").to_string(), "model-instance-id 'a': face model /m/f.onnx: no such file");
        let e = Error::Create { path: "/x/y.jsonl".into(), reason: "Permission denied (os error 13)".into() };
        assert_eq!(e.to_string(), "metadata file /x/y.jsonl: cannot be written: Permission denied (os error 13)");
    }
}
