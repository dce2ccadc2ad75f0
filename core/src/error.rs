// SPDX-License-Identifier: MIT
//! The errors of every layer below the element (runtime, models, specs, analysis, output files).
//! The element maps them to GStreamer error domains in one place (`src/errors.rs`,
//! `error_message`); the tools print them.
//!
//! Each variant carries what the message names (the path, the model's role, the setting and its
//! value, what was expected and what was found) as fields, and the error it comes from
//! (`ort::Error`, `std::io::Error`, ...) as its [`std::error::Error::source`], shared in an
//! [`Arc`] so that an error can be cloned (a failed batch fails every request in it, a failed
//! write is returned again by each later write).
//!
//! How causes are shown: every message is complete, its cause's text included ("face model
//! /m/f.onnx: not a valid ONNX model: Protobuf parsing failed."), so callers print
//! `to_string()` and nothing else; `source()` is there for callers that inspect the cause (an
//! `io::Error`'s kind, an `ort::Error`'s code), not for printing. (A printer that walks the
//! chain anyway, as [`crate::files::error_chain`] does, leaves out the texts already shown.)
//! A cause kept in an `Arc` is that `Arc` as a source: downcast to `Arc<io::Error>`,
//! `Arc<ort::Error>`, ...; the error inside an [`Error::Instance`] downcasts to `Box<Error>`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runtime::SETUP_HINT;

/// An error from outside the core (GStreamer's, for a frame), shared so that [`Error`] stays
/// `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// What went wrong, with the file, value or model named in the message (see the module).
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The setting `setting` has the value `value`, which is not accepted: `problem` says why
    /// and `expected` what is (for example `device 'gpu'`, or a `uri` without a topic).
    #[error("{setting} '{value}': {problem}; expected {expected}")]
    InvalidSetting { setting: String, value: String, problem: String, expected: String },
    /// Exactly one of a choice of settings must be set on `element`: `usage` shows each as it is
    /// written (`location=PATH`), `set` names those that are set (none, or more than one).
    #[error("{}", one_of_text(element, usage, set))]
    OneOf { element: String, usage: Vec<String>, set: Vec<String> },
    /// The file `path` named by the environment variable `variable` cannot be read.
    #[error("{variable}={}: {source}", path.display())]
    EnvFile {
        variable: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// TLS cannot be set up for publishing (`mqtts://`).
    #[error("publish: TLS: {source}")]
    Tls {
        #[source]
        source: Arc<rustls::Error>,
    },
    /// `model-instance-id` `id` is held with other model settings: `difference` is the first
    /// that differs.
    #[error("model-instance-id '{id}': {difference}; elements sharing an instance need the same model settings")]
    SharedInstance { id: String, difference: SettingDifference },
    /// Loading the models shared as `model-instance-id` `id` failed with `source`.
    #[error("model-instance-id '{id}': {source}")]
    Instance {
        id: String,
        #[source]
        source: Box<Error>,
    },
    /// ONNX Runtime's library (`library`, a file name) cannot be found, loaded or initialised:
    /// `tried` holds each path tried and why it failed (the message adds how to install it).
    #[error("could not load ONNX Runtime ({library}); tried {}; {SETUP_HINT}", attempts_text(tried))]
    Runtime { library: &'static str, tried: Vec<RuntimeAttempt> },
    /// OpenVINO (`engine=openvino`) cannot be loaded: `tried` gives each directory searched and
    /// why it failed (the message adds how to install it).
    #[error("could not load OpenVINO; tried {}; {}", tried.join("; "), crate::backend::OPENVINO_HINT)]
    OpenVinoLibrary { tried: Vec<String> },
    /// The model file at `path`, used as `role`, is missing, unreadable, not ONNX, cannot run on
    /// the device, or does not have the expected inputs and outputs (`problem`).
    #[error("{role} {}: {problem}", path.display())]
    Model {
        role: ModelRole,
        path: PathBuf,
        #[source]
        problem: ModelProblem,
    },
    /// The classifier spec at `path` (`None`: given as text) cannot be read or is invalid:
    /// `problem` names the field, what it must be and what it is.
    #[error("{}: {problem}", spec_text(path))]
    Spec {
        path: Option<PathBuf>,
        #[source]
        problem: SpecError,
    },
    /// The emotion model `model` has no spec: none given, none at `expected` beside it, and
    /// none shipped for its file name.
    #[error(
        "emotion model {}: no model spec: expected {} beside it or the emotion-model-proc property \
         (the format and examples are in models/specs/)",
        model.display(),
        expected.display()
    )]
    NoSpec { model: PathBuf, expected: PathBuf },
    /// ONNX Runtime failed running the `role` model at `path` on a frame or batch.
    #[error("{role} {}: ONNX Runtime failed: {source}", path.display())]
    Inference {
        role: ModelRole,
        path: PathBuf,
        #[source]
        source: Arc<ort::Error>,
    },
    /// OpenVINO failed running the `role` model at `path` on a frame or batch (`message`: its own).
    #[error("{role} {}: OpenVINO failed: {message}", path.display())]
    OpenVinoInference { role: ModelRole, path: PathBuf, message: String },
    /// The `role` model's output `output` cannot be read as float32 (`message`: the engine's).
    #[error("{role} {}: output {output} is not a float tensor: {message}", path.display())]
    OutputType { role: ModelRole, path: PathBuf, output: String, message: String },
    /// The input of `floats` floats handed to the `role` model does not have `shape`'s size.
    #[error("{role} {}: an input tensor of {floats} floats for shape {shape:?}: {source}", path.display())]
    InputShape {
        role: ModelRole,
        path: PathBuf,
        shape: [usize; 4],
        floats: usize,
        #[source]
        source: ndarray::ShapeError,
    },
    /// The `role` model at `path` gave no output named `output`.
    #[error("{role} {}: output {output} missing", path.display())]
    OutputMissing { role: ModelRole, path: PathBuf, output: String },
    /// The `role` model's output `output` has `found` values where `expected` were due
    /// (`meaning` says what they count, for example "2 faces x 7 labels").
    #[error("{role} {}: output {output} has {found} values, expected {expected} ({meaning})", path.display())]
    OutputSize { role: ModelRole, path: PathBuf, output: String, found: usize, expected: usize, meaning: String },
    /// `what` (an output of the `role` model at `path`, or the softmax of its logits) holds
    /// `count` NaN or infinite values of `total`, the first at `index` (`value`): the frame is
    /// rejected, as such values must never reach the metadata.
    #[error(
        "{role} {}: {what} has {count} non-finite values of {total} (value {index} is {value}): frame rejected",
        path.display()
    )]
    NonFinite { role: ModelRole, path: PathBuf, what: String, count: usize, total: usize, index: usize, value: f32 },
    /// A classifier batch of `faces` faces gave `results` results.
    #[error("the classifier gave {results} results for {faces} faces")]
    BatchResults { faces: usize, results: usize },
    /// `what` (the classifier, a worker thread) panicked, with the panic's `message`.
    #[error("{what} panicked: {message}")]
    Panicked { what: String, message: String },
    /// The thread `thread` (for `purpose`, for example "pipelining") cannot start.
    #[error("{purpose}: cannot start the thread {thread}: {source}")]
    ThreadStart {
        purpose: String,
        thread: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// The worker thread `thread` has stopped: its jobs get no result.
    #[error("the thread {thread} has stopped")]
    ThreadStopped { thread: String },
    /// A frame of `format` (GStreamer's name, `NV12`) cannot be analysed or drawn on: `action`
    /// says what failed, `source` GStreamer's reason, when it gave one.
    #[error("{}", frame_text(action, format, source))]
    Frame {
        action: FrameAction,
        format: String,
        #[source]
        source: Option<Cause>,
    },
    /// The metadata file `path` cannot be created.
    #[error("metadata file {}: cannot be written: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// Writing to the metadata file `path` failed.
    #[error("metadata file {}: write failed: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
}

/// The result type of the modules below the element.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Model`] for the `role` model at `path`.
    pub fn model(role: ModelRole, path: &Path, problem: ModelProblem) -> Error {
        Error::Model { role, path: path.to_path_buf(), problem }
    }

    /// The error under the [`Error::Instance`] wrappers, which only add the instance's id: the
    /// one whose kind says what went wrong (the element picks the GStreamer error domain by it).
    pub fn innermost(&self) -> &Error {
        match self {
            Error::Instance { source, .. } => source.innermost(),
            e => e,
        }
    }
}

/// The message, for callers (the tools) that report errors as text.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// The role a model file is loaded for, named in its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelRole {
    /// The face detector (`face-model`).
    Face,
    /// The emotion classifier (`emotion-model`).
    Emotion,
}

impl fmt::Display for ModelRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelRole::Face => "face model",
            ModelRole::Emotion => "emotion model",
        })
    }
}

/// What is wrong with a model file ([`Error::Model`]).
#[derive(Clone, Debug, thiserror::Error)]
pub enum ModelProblem {
    /// The file does not exist; `hint` says what to do (install the models, check the path).
    #[error("no such file ({hint})")]
    Missing { hint: String },
    /// The path is not a regular file (a directory, a FIFO, a device).
    #[error("{source}, an .onnx model file")]
    NotAFile {
        #[source]
        source: Arc<io::Error>,
    },
    /// The file cannot be opened or read.
    #[error("cannot be read: {source}")]
    Unreadable {
        #[source]
        source: Arc<io::Error>,
    },
    /// ONNX Runtime refused the session's options (log level, threads, spinning).
    #[error("cannot set up an ONNX Runtime session: {source}")]
    Session {
        #[source]
        source: Arc<ort::Error>,
    },
    /// CUDA device `device` was asked for and cannot be used.
    #[error(
        "CUDA device {device} is not usable: {source} (CUDA needs the onnxruntime-gpu==1.31.1 library, an NVIDIA GPU and driver >= 580)"
    )]
    Cuda {
        device: i32,
        #[source]
        source: Arc<ort::Error>,
    },
    /// ONNX Runtime cannot load the file as a model; `text_file`: it starts like text (an HTML
    /// error page saved as .onnx, say).
    #[error("not a valid ONNX model{}: {source}", if *text_file { TEXT_FILE_HINT } else { "" })]
    NotOnnx {
        text_file: bool,
        #[source]
        source: Arc<ort::Error>,
    },
    /// OpenVINO cannot read or compile the file (`message` says which step and OpenVINO's reason).
    #[error("OpenVINO cannot load it: {message}")]
    OpenVino { message: String },
    /// The `engine` has no `device` here; `available` lists the devices it has.
    #[error("{engine} has no {device} device here (it has: {available})")]
    DeviceAbsent { engine: &'static str, device: String, available: String },
    /// The model's inputs or outputs are not the `expected` ones (boxed: a spec's is large);
    /// `inputs` and `outputs` list what it has (`"name [shape], ..."`).
    #[error("{expected}; the model has inputs [{inputs}] and outputs [{outputs}]")]
    Interface { expected: Box<Interface>, inputs: String, outputs: String },
}

/// Said after "not a valid ONNX model" of a file that starts like text.
const TEXT_FILE_HINT: &str = " (it is a text file, perhaps an HTML page saved as .onnx; fetch it again with models/fetch.py)";

/// The inputs and outputs a model must have ([`ModelProblem::Interface`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interface {
    /// A face detector's input: one float tensor `[1, 3, H, W]`.
    DetectorInput,
    /// A face detector's outputs: YuNet's or UltraFace's.
    DetectorOutputs,
    /// What the classifier's spec `spec` says: the input `input` (`None`: the only one) of
    /// `input_shape` (-1 = the batch), the output `output` (`None`: the first) of
    /// `output_shape`, one score per label of `labels`.
    Spec { spec: String, input: Option<String>, input_shape: Vec<i64>, output: Option<String>, output_shape: Vec<i64>, labels: Vec<String> },
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interface::DetectorInput => f.write_str("expected one float input [1, 3, H, W]"),
            Interface::DetectorOutputs => f.write_str(
                "expected YuNet outputs (cls_8, obj_8, bbox_8, kps_8, and the same for strides 16 and 32) \
                 or UltraFace outputs (scores [1, N, 2], boxes [1, N, 4]) with a fixed input size",
            ),
            Interface::Spec { spec, input, input_shape, output, output_shape, labels } => write!(
                f,
                "its spec {spec} expects input {} of shape {input_shape:?} (N = batch) and output {} {output_shape:?} ({})",
                input.as_deref().unwrap_or("(the only one)"),
                output.as_deref().unwrap_or("(the first)"),
                labels.join(", "),
            ),
        }
    }
}

/// What is wrong with a classifier spec ([`Error::Spec`]).
#[derive(Clone, Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be opened or read (missing, a FIFO, not UTF-8, ...).
    #[error("{source}")]
    Unreadable {
        #[source]
        source: Arc<io::Error>,
    },
    /// The text is not JSON: serde_json's error, with the line and column.
    #[error("not valid JSON: {source}")]
    Json {
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// The JSON is `found` (shortened), not an object.
    #[error("the spec is {found}, expected a JSON object")]
    NotAnObject { found: String },
    /// The required field `field` (a path: `input.width`) is absent or null; `expected` says
    /// what it must be.
    #[error("missing `{field}` ({expected})")]
    Missing { field: &'static str, expected: &'static str },
    /// The field `field` is `found` (its JSON, shortened), which is not `expected`.
    #[error("`{field}` is {found}, expected {expected}")]
    Invalid { field: &'static str, found: String, expected: String },
}

/// The first model setting that differs between an element and the instance it joins
/// ([`Error::SharedInstance`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingDifference {
    /// The property (`face-model`, `device`, ...).
    pub setting: &'static str,
    /// Its value on the element that joins.
    pub here: String,
    /// Its value in the shared instance.
    pub shared: String,
}

impl fmt::Display for SettingDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {} here but {} in the shared instance", self.setting, self.here, self.shared)
    }
}

/// One path tried for ONNX Runtime's library, and why it failed ([`Error::Runtime`]).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {failure}", path.display())]
pub struct RuntimeAttempt {
    pub path: PathBuf,
    #[source]
    pub failure: RuntimeFailure,
}

/// Why ONNX Runtime could not be loaded from one path.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RuntimeFailure {
    /// There is no file there.
    #[error("no such file")]
    Missing,
    /// The path is not a readable regular file.
    #[error("{0}")]
    File(#[source] Arc<io::Error>),
    /// The library cannot be loaded (`dlopen` failed, wrong version, ...); the loader's reason
    /// is in the message.
    #[error("{}", load_text(.0))]
    Load(#[source] Arc<ort::LoadDynamicError>),
    /// The library loaded but its environment cannot be created.
    #[error("{0}")]
    Init(#[source] Arc<ort::Error>),
}

/// What failed on a frame ([`Error::Frame`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameAction {
    /// Its format has no fast path for the analysis.
    Unsupported,
    /// It cannot be converted to a format the analysis reads.
    Convert,
    /// A frame for the conversion cannot be allocated.
    Allocate,
    /// It cannot be mapped in memory.
    Map,
    /// The overlay drawn on it cannot be built.
    Overlay,
    /// The overlay cannot be blended on it.
    Blend,
}

/// The message of a panic's payload (`panic!` with a text gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

fn one_of_text(element: &str, usage: &[String], set: &[String]) -> String {
    let choices = usage.join(" or ");
    match set {
        [] => format!("{element}: set {choices}"),
        _ => {
            let only = if usage.len() == 2 { "not both" } else { "only one" };
            format!("{element}: {} are set: set {choices}, {only}", set.join(" and "))
        }
    }
}

fn attempts_text(tried: &[RuntimeAttempt]) -> String {
    tried.iter().map(|a| a.to_string()).collect::<Vec<_>>().join("; ")
}

fn spec_text(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("model spec {}", p.display()),
        None => "model spec".to_string(),
    }
}

fn load_text(e: &ort::LoadDynamicError) -> String {
    match e {
        // libloading's own text is only "dlopen failed": the loader's reason is its source.
        ort::LoadDynamicError::Dlopen { error, path } => {
            format!("failed to load from {}: {}", path.display(), crate::files::error_chain(error))
        }
        other => other.to_string(),
    }
}

fn frame_text(action: &FrameAction, format: &str, source: &Option<Cause>) -> String {
    let what = match action {
        FrameAction::Unsupported => format!("unsupported format {format}"),
        FrameAction::Convert => format!("cannot convert {format} for the analysis"),
        FrameAction::Allocate => format!("cannot allocate a {format} frame"),
        FrameAction::Map => format!("cannot map the frame ({format})"),
        FrameAction::Overlay => "cannot build the overlay".to_string(),
        FrameAction::Blend => format!("cannot blend the overlay on {format}"),
    };
    match source {
        Some(s) => format!("{what}: {s}"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn io(kind: io::ErrorKind, text: &str) -> Arc<io::Error> {
        Arc::new(io::Error::new(kind, text.to_string()))
    }

    #[test]
    fn model_errors_name_the_role_the_file_and_the_cause() {
        let e = Error::model(ModelRole::Face, Path::new("/m/f.onnx"), ModelProblem::Missing { hint: "check the path".into() });
        assert_eq!(e.to_string(), "face model /m/f.onnx: no such file (check the path)");
        let e = Error::model(
            ModelRole::Face,
            Path::new("/m/d"),
            ModelProblem::NotAFile { source: io(io::ErrorKind::InvalidInput, "is a directory, expected a regular file") },
        );
        assert_eq!(e.to_string(), "face model /m/d: is a directory, expected a regular file, an .onnx model file");
        // The cause is kept: Model -> ModelProblem -> io::Error.
        let problem = e.source().unwrap();
        assert!(problem.downcast_ref::<ModelProblem>().is_some());
        let io_error = problem.source().unwrap().downcast_ref::<Arc<io::Error>>();
        assert_eq!(io_error.map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
        // ort errors cannot be made without ONNX Runtime loaded: inference.rs tests their chain.
    }

    #[test]
    fn interface_errors_say_what_is_expected_and_what_the_model_has() {
        let problem = ModelProblem::Interface {
            expected: Box::new(Interface::DetectorInput),
            inputs: "input [-1, 64, 64, 1]".into(),
            outputs: "probabilities [-1, 7]".into(),
        };
        let e = Error::model(ModelRole::Face, Path::new("/m/fer.onnx"), problem);
        assert_eq!(
            e.to_string(),
            "face model /m/fer.onnx: expected one float input [1, 3, H, W]; the model has inputs [input [-1, 64, 64, 1]] \
             and outputs [probabilities [-1, 7]]"
        );
        let expected = Interface::Spec {
            spec: "fer".into(),
            input: None,
            input_shape: vec![-1, 1, 48, 48],
            output: Some("logits".into()),
            output_shape: vec![-1, 2],
            labels: vec!["happy".into(), "sad".into()],
        };
        let problem = ModelProblem::Interface { expected: Box::new(expected), inputs: "x [1, 3, -1, -1]".into(), outputs: "y []".into() };
        let e = Error::model(ModelRole::Emotion, Path::new("/m/e.onnx"), problem).to_string();
        assert_eq!(
            e,
            "emotion model /m/e.onnx: its spec fer expects input (the only one) of shape [-1, 1, 48, 48] (N = batch) and output \
             logits [-1, 2] (happy, sad); the model has inputs [x [1, 3, -1, -1]] and outputs [y []]"
        );
    }

    #[test]
    fn an_instance_wraps_the_loading_error_and_keeps_its_kind() {
        let inner = Error::model(ModelRole::Face, Path::new("/m/f.onnx"), ModelProblem::Missing { hint: "check the path".into() });
        let e = Error::Instance { id: "a".into(), source: Box::new(inner) };
        assert_eq!(e.to_string(), "model-instance-id 'a': face model /m/f.onnx: no such file (check the path)");
        assert!(matches!(e.innermost(), Error::Model { role: ModelRole::Face, .. }));
        let source = e.source().unwrap().downcast_ref::<Box<Error>>().map(|b| b.as_ref());
        assert!(matches!(source, Some(Error::Model { .. })), "{source:?}");
        let difference = SettingDifference { setting: "device", here: "auto".into(), shared: "cpu".into() };
        let e = Error::SharedInstance { id: "a".into(), difference };
        assert_eq!(
            e.to_string(),
            "model-instance-id 'a': device is auto here but cpu in the shared instance; \
             elements sharing an instance need the same model settings"
        );
        assert!(matches!(e.innermost(), Error::SharedInstance { .. }));
    }

    #[test]
    fn settings_errors_name_the_setting_its_value_and_what_is_expected() {
        let e = Error::InvalidSetting {
            setting: "device".into(),
            value: "gpu".into(),
            problem: "not a device".into(),
            expected: "one of cpu, cuda, cuda:N, auto".into(),
        };
        assert_eq!(e.to_string(), "device 'gpu': not a device; expected one of cpu, cuda, cuda:N, auto");
        let usage = vec!["location=PATH".to_string(), "uri=mqtt://HOST/TOPIC".to_string()];
        let e = Error::OneOf { element: "emotionpublish".into(), usage: usage.clone(), set: vec![] };
        assert_eq!(e.to_string(), "emotionpublish: set location=PATH or uri=mqtt://HOST/TOPIC");
        let e = Error::OneOf { element: "emotionpublish".into(), usage, set: vec!["location".into(), "uri".into()] };
        assert_eq!(e.to_string(), "emotionpublish: location and uri are set: set location=PATH or uri=mqtt://HOST/TOPIC, not both");
        let e = Error::EnvFile {
            variable: "EMOTIONDETECT_MQTT_CA_FILE",
            path: "/ca.pem".into(),
            source: io(io::ErrorKind::NotFound, "No such file or directory (os error 2)"),
        };
        assert_eq!(e.to_string(), "EMOTIONDETECT_MQTT_CA_FILE=/ca.pem: No such file or directory (os error 2)");
    }

    #[test]
    fn runtime_errors_list_each_path_tried_and_how_to_install() {
        let tried = vec![
            RuntimeAttempt { path: "/a/libonnxruntime.so".into(), failure: RuntimeFailure::Missing },
            RuntimeAttempt {
                path: "/b/libonnxruntime.so".into(),
                failure: RuntimeFailure::File(io(io::ErrorKind::PermissionDenied, "Permission denied (os error 13)")),
            },
        ];
        let e = Error::Runtime { library: "libonnxruntime.so.1.31.1", tried };
        assert_eq!(
            e.to_string(),
            format!(
                "could not load ONNX Runtime (libonnxruntime.so.1.31.1); tried /a/libonnxruntime.so: no such file; \
                 /b/libonnxruntime.so: Permission denied (os error 13); {SETUP_HINT}"
            )
        );
    }

    #[test]
    fn inference_errors_name_the_model_and_the_output() {
        let e = Error::NonFinite {
            role: ModelRole::Face,
            path: "/m/f.onnx".into(),
            what: "output cls_8".into(),
            count: 2,
            total: 100,
            index: 7,
            value: f32::NAN,
        };
        assert_eq!(e.to_string(), "face model /m/f.onnx: output cls_8 has 2 non-finite values of 100 (value 7 is NaN): frame rejected");
        let e = Error::OutputSize {
            role: ModelRole::Emotion,
            path: "/m/e.onnx".into(),
            output: "logits".into(),
            found: 13,
            expected: 14,
            meaning: "2 faces x 7 labels".into(),
        };
        assert_eq!(e.to_string(), "emotion model /m/e.onnx: output logits has 13 values, expected 14 (2 faces x 7 labels)");
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("index out of bounds"));
        let e = Error::Panicked { what: "the classifier".into(), message: panic_message(payload.as_ref()) };
        assert_eq!(e.to_string(), "the classifier panicked: index out of bounds");
        assert_eq!(panic_message(&7u8), "(no message)");
    }

    #[test]
    fn frame_and_file_errors_keep_the_cause() {
        let e = Error::Frame { action: FrameAction::Map, format: "NV12".into(), source: Some(Arc::new(io::Error::other("busy"))) };
        assert_eq!(e.to_string(), "cannot map the frame (NV12): busy");
        let e = Error::Frame { action: FrameAction::Unsupported, format: "v210".into(), source: None };
        assert_eq!(e.to_string(), "unsupported format v210");
        assert!(e.source().is_none());
        let e = Error::Create { path: "/x/y.jsonl".into(), source: io(io::ErrorKind::PermissionDenied, "Permission denied (os error 13)") };
        assert_eq!(e.to_string(), "metadata file /x/y.jsonl: cannot be written: Permission denied (os error 13)");
        let e = Error::Write { path: "/x/y.jsonl".into(), source: io(io::ErrorKind::StorageFull, "No space left on device (os error 28)") };
        assert_eq!(e.to_string(), "metadata file /x/y.jsonl: write failed: No space left on device (os error 28)");
        let source = e.source().unwrap().downcast_ref::<Arc<io::Error>>().map(|s| s.kind());
        assert_eq!(source, Some(io::ErrorKind::StorageFull), "the io::Error is the source");
        // A printer that walks the chain anyway does not repeat the cause.
        assert_eq!(crate::files::error_chain(&e), e.to_string());
    }

    #[test]
    fn spec_errors_name_the_file_and_the_field() {
        let problem = SpecError::Invalid { field: "input.layout", found: "\"CHW\"".into(), expected: "NCHW or NHWC".into() };
        let e = Error::Spec { path: Some("/s/mine.json".into()), problem };
        assert_eq!(e.to_string(), "model spec /s/mine.json: `input.layout` is \"CHW\", expected NCHW or NHWC");
        let e = Error::Spec { path: None, problem: SpecError::Missing { field: "input", expected: "an object" } };
        assert_eq!(e.to_string(), "model spec: missing `input` (an object)");
        let e = Error::NoSpec { model: "/m/mine.onnx".into(), expected: "/m/mine.json".into() };
        assert!(e.to_string().starts_with("emotion model /m/mine.onnx: no model spec: expected /m/mine.json beside it"), "{e}");
    }
}
