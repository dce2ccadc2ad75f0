// SPDX-License-Identifier: MIT
//! The front of the core: [`ModelSettings`] (the model properties of one element) loaded into an
//! [`Engine`], which hands out [`Analyser`]s. Callers never touch ONNX Runtime, the device or
//! the instance registry themselves.

use std::path::PathBuf;
use std::sync::Arc;

use crate::analyser::Analyser;
use crate::backend::EngineKind;
use crate::classification::DEFAULT_EMOTION_MODEL_FILE;
use crate::error::Result;
use crate::inference::Device;
use crate::instances::{self, ModelKey, Models};
use crate::runtime::{self, Logger};

/// The installed default face detector (YuNet, OpenCV Zoo 2023mar).
pub const DEFAULT_FACE_MODEL_FILE: &str = "face_detection_yunet.onnx";

/// What to load: the element's `face-model`, `emotion-model`, `emotion-model-proc`, `engine`, `device`,
/// `inference-threads`, `inference-spinning` and `model-instance-id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSettings {
    /// `None`: the installed [`DEFAULT_FACE_MODEL_FILE`].
    pub face_model: Option<PathBuf>,
    /// `None`: the installed [`DEFAULT_EMOTION_MODEL_FILE`].
    pub emotion_model: Option<PathBuf>,
    /// The classifier's JSON spec; `None`: beside the model, else the shipped one.
    pub emotion_model_proc: Option<PathBuf>,
    /// `onnxruntime` (the default) or `openvino`.
    pub engine: String,
    /// `cpu`, `cuda`, `cuda:N` or `auto` (ONNX Runtime); `cpu`, `gpu`, `npu` or `auto` (OpenVINO).
    pub device: String,
    /// Inference threads per model (ONNX Runtime's intra-op, OpenVINO's CPU threads); 0 = one
    /// per physical core.
    pub threads: usize,
    /// Whether idle ONNX Runtime threads spin-wait.
    pub spinning: bool,
    /// Engines loaded with the same id share one loaded detector and classifier.
    pub instance_id: Option<String>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            face_model: None,
            emotion_model: None,
            emotion_model_proc: None,
            engine: EngineKind::default().name().into(),
            device: "cpu".into(),
            threads: 0,
            spinning: false,
            instance_id: None,
        }
    }
}

impl ModelSettings {
    /// The face model's path, the installed default when unset.
    pub fn face_model_path(&self) -> PathBuf {
        self.face_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_FACE_MODEL_FILE))
    }

    /// The emotion model's path, the installed default when unset.
    pub fn emotion_model_path(&self) -> PathBuf {
        self.emotion_model.clone().unwrap_or_else(|| runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE))
    }

    /// Errors: the engine or device does not parse, or the engine has no such device.
    fn key(&self) -> Result<ModelKey> {
        let engine = EngineKind::parse(&self.engine)?;
        let device = Device::parse(&self.device)?;
        device.check_engine(engine)?;
        Ok(ModelKey {
            engine,
            face_model: self.face_model_path(),
            emotion_model: self.emotion_model_path(),
            emotion_model_proc: self.emotion_model_proc.clone(),
            device,
            threads: self.threads,
            spinning: self.spinning,
        })
    }
}

/// Loaded models (private, or shared under [`ModelSettings::instance_id`]), freed with the last
/// engine and analyser that holds them.
pub struct Engine {
    models: Arc<Models>,
    instance_id: Option<String>,
}

impl Engine {
    /// Loads ONNX Runtime (once per process, its log going to `log`) and both models, checking
    /// their inputs and outputs, or joins the instance shared under `settings.instance_id`.
    ///
    /// Errors: [`crate::error::Error::InvalidSetting`] (device), [`crate::error::Error::Runtime`]
    /// (ONNX Runtime cannot be loaded), [`crate::error::Error::Model`],
    /// [`crate::error::Error::Spec`] or [`crate::error::Error::NoSpec`] (a model or spec missing,
    /// invalid or of unexpected shape), [`crate::error::Error::SharedInstance`] (the id is held
    /// with other settings); with an id, a loading error comes in an
    /// [`crate::error::Error::Instance`] naming it.
    pub fn load(settings: &ModelSettings, log: Logger) -> Result<Engine> {
        let key = settings.key()?;
        let env = runtime::environment(log)?;
        let models = instances::acquire(env, settings.instance_id.as_deref(), &key)?;
        Ok(Engine { models, instance_id: settings.instance_id.clone() })
    }

    /// A new stream's analysis over these models (its own tracker and tensors).
    pub fn analyser(&self) -> Analyser {
        Analyser::new(self.models.clone())
    }

    /// Where the models run (`cpu`, `cuda:N`, `gpu` or `npu`, `auto` resolved).
    pub fn device_name(&self) -> String {
        self.models.device.name()
    }

    /// Which engine runs the models.
    pub fn engine(&self) -> EngineKind {
        self.models.engine
    }

    /// One line for the log: the models, their family, device and sharing.
    pub fn describe(&self) -> String {
        let m = &self.models;
        let sharing = self
            .instance_id
            .as_deref()
            .map_or("private".to_string(), |id| format!("model-instance-id '{id}', {} holders", instances::holders(id)));
        format!(
            "face model {} ({:?}) and emotion model {} (spec {}: {}) run in {} on {} ({sharing})",
            m.face_model.display(),
            m.family,
            m.emotion_model.display(),
            m.spec.name,
            m.spec_source,
            self.engine().name(),
            m.device.name()
        )
    }
}
