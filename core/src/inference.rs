// SPDX-License-Identifier: MIT
//! The face detector and the emotion classifier, in ONNX Runtime or OpenVINO
//! ([`crate::backend`]): loading and checking a model, building its input tensor from a frame,
//! running it and decoding its output.
//!
//! Errors ([`Error`]) name the model file and what was expected; the element turns them
//! into GStreamer error or warning messages.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;

use crate::backend::{run_error, EngineKind, ModelSession, Outlet, Outputs};

use crate::classification::{to_probabilities, Alignment, ClassifierSpec};
use crate::detection::{self, Face, YunetLevel, YUNET_OUTPUTS, YUNET_STRIDES};
use crate::error::{Error, Interface, ModelProblem, ModelRole, Result};
use crate::preprocess::{similarity_transform, ColourOrder, Image, Normalisation, TensorLayout, TensorTarget};

/// Where inference runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    /// CUDA device N; fails when CUDA cannot register, never falls back silently.
    Cuda(i32),
    /// CUDA device 0 when it registers, else CPU (with OpenVINO: CPU).
    Auto,
    /// An Intel GPU (OpenVINO only).
    Gpu,
    /// An Intel NPU (OpenVINO only).
    Npu,
}

impl Device {
    /// Parses `cpu`, `cuda`, `cuda:N`, `auto`, `gpu` or `npu` (which engine takes which is
    /// checked by [`Device::check_engine`]).
    ///
    /// Errors: [`Error::InvalidSetting`] naming `device`, the text and the accepted values.
    pub fn parse(s: &str) -> Result<Device> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => Ok(Device::Auto),
            "cuda" => Ok(Device::Cuda(0)),
            "gpu" => Ok(Device::Gpu),
            "npu" => Ok(Device::Npu),
            other => {
                other.strip_prefix("cuda:").and_then(|n| n.parse::<i32>().ok()).filter(|n| *n >= 0).map(Device::Cuda).ok_or_else(|| {
                    Error::InvalidSetting {
                        setting: "device".into(),
                        value: s.to_string(),
                        problem: "not a device".into(),
                        expected: "one of cpu, cuda, cuda:N, auto, gpu, npu".into(),
                    }
                })
            }
        }
    }

    /// The device as the `device` property writes it: `cpu`, `cuda:N`, `auto`, `gpu` or `npu`.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Cuda(n) => format!("cuda:{n}"),
            Device::Auto => "auto".into(),
            Device::Gpu => "gpu".into(),
            Device::Npu => "npu".into(),
        }
    }

    /// Checks that `engine` has this device: CUDA runs on ONNX Runtime, `gpu` and `npu` on
    /// OpenVINO; `cpu` and `auto` on both.
    ///
    /// Errors: [`Error::InvalidSetting`] naming `device`, its value and what the engine takes.
    pub fn check_engine(&self, engine: EngineKind) -> Result<()> {
        let fits = match engine {
            EngineKind::OnnxRuntime => !matches!(self, Device::Gpu | Device::Npu),
            EngineKind::OpenVino => !matches!(self, Device::Cuda(_)),
        };
        if fits {
            return Ok(());
        }
        let expected = match engine {
            EngineKind::OnnxRuntime => "cpu, cuda, cuda:N or auto with engine=onnxruntime (gpu and npu need engine=openvino)",
            EngineKind::OpenVino => "cpu, gpu, npu or auto with engine=openvino (CUDA needs engine=onnxruntime)",
        };
        Err(Error::InvalidSetting {
            setting: "device".into(),
            value: self.name(),
            problem: format!("not a device of engine {}", engine.name()),
            expected: expected.into(),
        })
    }
}

/// How a session is created: the engine, where it runs and the CPU threading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    pub engine: EngineKind,
    pub device: Device,
    /// Intra-op threads (OpenVINO: inference threads on CPU); 0 = the engine's default (one
    /// per physical core; ONNX Runtime: the process's shared pool, unless `spinning`).
    pub threads: usize,
    /// ONNX Runtime only. `false`: intra-op threads spin between the operators of a call and
    /// sleep as soon as it returns (`session.force_spinning_stop`), leaving the cores to
    /// decoding and pre-processing between calls. `true`: they keep spinning after a call
    /// (ONNX Runtime's default; the session gets its own pool so others are not kept awake).
    pub spinning: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { engine: EngineKind::OnnxRuntime, device: Device::Cpu, threads: 0, spinning: true }
    }
}

/// Opens `path` in `config.engine` with `config`. Returns the session and the device it
/// actually runs on (`auto` resolves to CPU or CUDA).
///
/// Errors: [`Error::Model`] naming `role` and the path: the file is missing or not a valid ONNX
/// model, or the device cannot be used (CUDA cannot register, OpenVINO has no such device);
/// [`Error::OpenVinoLibrary`] when OpenVINO cannot be loaded.
pub fn open_session(env: &Environment, role: ModelRole, path: &Path, config: &SessionConfig) -> Result<(ModelSession, Device)> {
    // Opened here first: ONNX Runtime would block on a FIFO and call any failure "not a valid model".
    let problem = match crate::files::open_regular(path) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(ModelProblem::Missing { hint: crate::runtime::missing_model_hint(path) })
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Some(ModelProblem::NotAFile { source: Arc::new(e) }),
        Err(e) => Some(ModelProblem::Unreadable { source: Arc::new(e) }),
    };
    if let Some(problem) = problem {
        return Err(Error::model(role, path, problem));
    }
    config.device.check_engine(config.engine)?;
    if config.engine == EngineKind::OpenVino {
        // OpenVINO's C API gives each port one of its tensor names, not always the ONNX name
        // (YuNet's cls_8 is also "291"); ONNX Runtime lists the ONNX names in the same order.
        let onnx = build(env, path, None, &SessionConfig { threads: 1, ..*config }).map_err(|p| Error::model(role, path, p))?;
        return ModelSession::open_openvino(role, path, config, &ModelSession::from_ort(onnx));
    }
    match config.device {
        Device::Cpu => build(env, path, None, config).map(|s| (s, Device::Cpu)),
        Device::Cuda(n) => build(env, path, Some(n), config).map(|s| (s, Device::Cuda(n))),
        Device::Auto => build(env, path, Some(0), config)
            .map(|s| (s, Device::Cuda(0)))
            .or_else(|_| build(env, path, None, config).map(|s| (s, Device::Cpu))),
        Device::Gpu | Device::Npu => unreachable!("check_engine refuses them"),
    }
    .map(|(s, d)| (ModelSession::from_ort(s), d))
    .map_err(|problem| Error::model(role, path, problem))
}

fn build(env: &Environment, path: &Path, cuda: Option<i32>, config: &SessionConfig) -> std::result::Result<Session, ModelProblem> {
    let session = |e: ort::Error| ModelProblem::Session { source: Arc::new(e) };
    let mut builder = Session::builder(env)
        .map_err(session)?
        .with_log_level(ort::logging::LogLevel::Warning)
        .map_err(|e| session(e.into()))?
        .with_intra_op_spinning(true)
        .map_err(|e| session(e.into()))?;
    if !config.spinning {
        builder = builder.with_config_entry("session.force_spinning_stop", "1").map_err(|e| session(e.into()))?;
    }
    // Measured on 2 cores (docs/performance.md, "Spinning within a call"): one stream 1.24x, four
    // private-model streams on the shared pool within the noise of their own pools.
    if config.threads > 0 || config.spinning {
        builder = builder.with_independent_thread_pool().map_err(|e| session(e.into()))?;
    }
    if config.threads > 0 {
        builder = builder.with_intra_threads(config.threads).map_err(|e| session(e.into()))?;
    }
    if let Some(n) = cuda {
        let ep = ort::ep::CUDA::default().with_device_id(n).build().error_on_failure();
        builder = builder.with_execution_providers([ep]).map_err(|e| ModelProblem::Cuda { device: n, source: Arc::new(e.into()) })?;
    }
    builder.commit_from_file(path).map_err(|e| ModelProblem::NotOnnx { text_file: starts_like_text(path), source: Arc::new(e) })
}

/// Whether the file starts like text, for example an HTML error page saved as .onnx; ONNX
/// protobufs start with a binary field tag.
fn starts_like_text(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
    n > 0 && head[..n].iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

fn shape_matches(actual: &[i64], expected: &[i64]) -> bool {
    actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| *e < 0 || *a < 0 || a == e)
}

/// "name [shape], ..." of a session's inputs or outputs, for error messages.
fn outlets(list: &[Outlet]) -> String {
    list.iter().map(|o| format!("{} {:?}", o.name, o.shape.clone().unwrap_or_default())).collect::<Vec<_>>().join(", ")
}

/// The face detector families we decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectorFamily {
    /// YuNet: input `[1, 3, H, W]` BGR 0..255, H and W multiples of 32; outputs
    /// `cls_s`, `obj_s`, `bbox_s`, `kps_s` for strides 8, 16, 32.
    Yunet,
    /// UltraFace RFB-320/640: input `[1, 3, H, W]` fixed, RGB `(x - 127) / 128`; outputs
    /// `scores` `[1, N, 2]` and `boxes` `[1, N, 4]`.
    UltraFace { width: usize, height: usize },
}

/// Settings of one detection pass.
#[derive(Clone, Copy, Debug)]
pub struct DetectParams {
    /// Face confidence threshold, 0..1.
    pub threshold: f32,
    /// NMS IoU threshold, 0..1.
    pub nms_threshold: f32,
    /// Long side of the detector input in pixels (YuNet only; 0 = frame size).
    pub detector_size: usize,
}

/// A loaded face detector with its reusable input tensor.
pub struct FaceDetector {
    session: ModelSession,
    input_name: String,
    pub family: DetectorFamily,
    pub path: PathBuf,
    pub device: Device,
    /// How long the last ONNX Runtime call took.
    last_run: Duration,
    /// Decoded faces before NMS, NMS's order and its survivors: reused from frame to frame.
    candidates: Vec<Face>,
    order: Vec<(f32, u32)>,
    kept: Vec<Face>,
}

impl FaceDetector {
    /// Loads a YuNet or UltraFace model; the family is recognised from its outputs.
    ///
    /// Errors: missing or invalid file, or inputs/outputs that match neither family (the
    /// message lists what the model has and what is expected).
    pub fn load(env: &Environment, path: &Path, config: &SessionConfig) -> Result<FaceDetector> {
        let (session, device) = open_session(env, ModelRole::Face, path, config)?;
        let family = detector_family(&session).map_err(|expected| {
            let (inputs, outputs) = (outlets(session.inputs()), outlets(session.outputs()));
            Error::model(ModelRole::Face, path, ModelProblem::Interface { expected, inputs, outputs })
        })?;
        let input_name = session.inputs()[0].name.clone();
        Ok(FaceDetector {
            session,
            input_name,
            family,
            path: path.to_path_buf(),
            device,
            last_run: Duration::ZERO,
            candidates: Vec::new(),
            order: Vec::new(),
            kept: Vec::new(),
        })
    }

    /// Builds the input of a `family` detector from `image` into `tensor` (reused storage), apart
    /// from the session: a shared detector is locked only to run it ([`Self::detect_prepared`]).
    pub fn prepare<P: AsRef<[u8]> + Sync>(
        family: DetectorFamily,
        image: &Image<P>,
        params: &DetectParams,
        mut tensor: Vec<f32>,
    ) -> DetectorInput {
        let (w, h) = (image.width, image.height);
        let (target, scale) = match family {
            DetectorFamily::Yunet => {
                let ((cw, ch), (tw, th)) = detection::detector_geometry(w, h, params.detector_size, 32);
                let target = input_target(tw, th, cw, ch, ColourOrder::Bgr, Normalisation::IDENTITY);
                (target, (w as f32 / cw as f32, h as f32 / ch as f32))
            }
            DetectorFamily::UltraFace { width, height } => {
                let norm = Normalisation { scale: 1.0, mean: [127.0; 3], std: [128.0; 3] };
                (input_target(width, height, width, height, ColourOrder::Rgb, norm), (w as f32, h as f32))
            }
        };
        tensor.resize(target.len(), 0.0);
        image.to_tensor((0.0, 0.0, w as f32, h as f32), &target, &mut tensor);
        DetectorInput { tensor, target, scale, threshold: params.threshold, nms_threshold: params.nms_threshold }
    }

    /// Runs the detector on an input from [`Self::prepare`] (for this detector's family).
    /// Returns the faces in frame pixels, after NMS, best first: the one allocation of a
    /// steady stream here (the decoding and NMS buffers are reused).
    ///
    /// Errors: ONNX Runtime failed on this frame, or returned outputs of an unexpected size.
    pub fn detect_prepared(&mut self, input: &DetectorInput) -> Result<Vec<Face>> {
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        let decoded = match self.family {
            DetectorFamily::Yunet => self.run_yunet(&input.tensor, &input.target, input.threshold, &mut candidates),
            DetectorFamily::UltraFace { .. } => self.run_ultraface(&input.tensor, &input.target, input.threshold, &mut candidates),
        };
        let (sx, sy) = input.scale;
        candidates.iter_mut().for_each(|f| f.scale(sx, sy));
        detection::nms_into(&candidates, input.nms_threshold, 5000, &mut self.order, &mut self.kept);
        self.candidates = candidates;
        decoded?;
        Ok(self.kept.clone())
    }

    /// The wall-clock time of the last ONNX Runtime call ([`Self::detect_prepared`] less the
    /// decoding of its outputs).
    pub fn last_run(&self) -> Duration {
        self.last_run
    }

    fn run_yunet(&mut self, tensor: &[f32], target: &TensorTarget, threshold: f32, faces: &mut Vec<Face>) -> Result<()> {
        let path = &self.path;
        let start = Instant::now();
        let outputs = run_batch(&mut self.session, ModelRole::Face, path, &self.input_name, [1, 3, target.height, target.width], tensor)?;
        self.last_run = start.elapsed();
        let level = |k: usize| -> Result<YunetLevel<'_>> {
            let (s, names) = (YUNET_STRIDES[k], &YUNET_OUTPUTS[k]);
            let get = |name: &str| output(&outputs, ModelRole::Face, path, name);
            let level = YunetLevel { stride: s, cls: get(names[0])?, obj: get(names[1])?, bbox: get(names[2])?, kps: get(names[3])? };
            let cells = (target.width / s) * (target.height / s);
            if level.cls.len() != cells {
                return Err(Error::OutputSize {
                    role: ModelRole::Face,
                    path: path.clone(),
                    output: names[0].to_string(),
                    found: level.cls.len(),
                    expected: cells,
                    meaning: format!("one per cell of stride {s} on a {}x{} input", target.width, target.height),
                });
            }
            for (name, values) in names.iter().zip([level.cls, level.obj, level.bbox, level.kps]) {
                check_finite(values, ModelRole::Face, path, format_args!("output {name}"))?;
            }
            Ok(level)
        };
        let levels = [level(0)?, level(1)?, level(2)?];
        detection::decode_yunet_into(&levels, target.width, threshold, faces);
        Ok(())
    }

    fn run_ultraface(&mut self, tensor: &[f32], target: &TensorTarget, threshold: f32, faces: &mut Vec<Face>) -> Result<()> {
        let path = &self.path;
        let start = Instant::now();
        let outputs = run_batch(&mut self.session, ModelRole::Face, path, &self.input_name, [1, 3, target.height, target.width], tensor)?;
        self.last_run = start.elapsed();
        let get = |name: &str| output(&outputs, ModelRole::Face, path, name);
        let (scores, boxes) = (get("scores")?, get("boxes")?);
        check_finite(scores, ModelRole::Face, path, "output scores")?;
        check_finite(boxes, ModelRole::Face, path, "output boxes")?;
        detection::decode_ultraface_into(scores, boxes, threshold, faces);
        Ok(())
    }
}

/// A frame's detector input (see [`FaceDetector::prepare`]): the tensor, and how the faces map
/// back to frame pixels.
pub struct DetectorInput {
    /// The input tensor; take it back for reuse.
    pub tensor: Vec<f32>,
    target: TensorTarget,
    /// Frame pixels per output unit, x and y.
    scale: (f32, f32),
    threshold: f32,
    nms_threshold: f32,
}

fn input_target(width: usize, height: usize, cw: usize, ch: usize, order: ColourOrder, norm: Normalisation) -> TensorTarget {
    TensorTarget { width, height, content_w: cw, content_h: ch, layout: TensorLayout::Nchw, order, norm }
}

/// Recognises the detector family from the session's input and outputs.
///
/// Errors: the interface expected, of the input or of the outputs.
fn detector_family(session: &ModelSession) -> std::result::Result<DetectorFamily, Box<Interface>> {
    let inputs = session.inputs();
    let input = inputs.first().and_then(|i| i.shape.clone()).unwrap_or_default();
    if inputs.len() != 1 || !shape_matches(&input, &[1, 3, -1, -1]) {
        return Err(Box::new(Interface::DetectorInput));
    }
    let names: Vec<&str> = session.outputs().iter().map(|o| o.name.as_str()).collect();
    let yunet = YUNET_STRIDES.iter().all(|s| ["cls", "obj", "bbox", "kps"].iter().all(|k| names.contains(&format!("{k}_{s}").as_str())));
    if yunet {
        return Ok(DetectorFamily::Yunet);
    }
    if names.contains(&"scores") && names.contains(&"boxes") && input[2] > 0 && input[3] > 0 {
        return Ok(DetectorFamily::UltraFace { width: input[3] as usize, height: input[2] as usize });
    }
    Err(Box::new(Interface::DetectorOutputs))
}

/// One face to classify: the detector box with margin (x0, y0, x1, y1 in frame pixels) and,
/// when the detector gave them, the five landmarks (frame pixels, YuNet order) that
/// landmark-aligned models ([`Alignment::FivePoint`]) use instead of the box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceCrop {
    pub region: (f32, f32, f32, f32),
    pub landmarks: Option<[[f32; 2]; 5]>,
}

/// Writes one face of `image` into `out` (`spec.target().len()` floats) in the model's layout,
/// colour and normalisation: aligned on its landmarks when the spec asks for it and the
/// detector gave them, else scaled from its box.
///
/// A region or alignment that is not finite (or so large that sampling overflows) gives an all-zero
/// tensor: non-finite values never reach the model.
pub fn face_tensor<P: AsRef<[u8]> + Sync>(spec: &ClassifierSpec, image: &Image<P>, face: &FaceCrop, out: &mut [f32]) {
    let target = spec.target();
    let (x0, y0, x1, y1) = face.region;
    let sane = |v: f32| v.is_finite() && v.abs() < 1e7;
    match (&spec.alignment, face.landmarks) {
        (Alignment::FivePoint { template }, Some(landmarks)) if landmarks.iter().flatten().all(|v| sane(*v)) => {
            image.to_tensor_affine(similarity_transform(template, &landmarks), &target, out)
        }
        _ if [x0, y0, x1, y1].iter().all(|v| sane(*v)) => image.to_tensor(face.region, &target, out),
        _ => out[..target.len()].fill(0.0),
    }
    if out[..target.len()].iter().any(|v| !v.is_finite()) {
        out[..target.len()].fill(0.0);
    }
}

/// A loaded emotion classifier. Faces are converted by [`face_tensor`] into the caller's batch
/// tensor and run by [`EmotionClassifier::classify_tensor`].
pub struct EmotionClassifier {
    session: ModelSession,
    input_name: String,
    output_name: String,
    /// Largest batch the model takes: its fixed batch dimension, or `usize::MAX` when dynamic.
    pub max_batch: usize,
    pub spec: ClassifierSpec,
    pub path: PathBuf,
    pub device: Device,
}

impl EmotionClassifier {
    /// Loads a classifier and its spec ([`ClassifierSpec::resolve`]: `explicit`, else the
    /// `.json` beside the model, else the shipped one). The model file is opened first, so a
    /// missing or broken file is reported as such rather than as a missing spec. Returns the
    /// classifier and where its spec came from.
    ///
    /// The model is checked against the spec: a float input (named as in the spec, or the only
    /// one) of `spec.input_shape(N)` and an output `[N, labels]`.
    ///
    /// Errors: missing or invalid file, no valid spec, or names or shapes that differ from the
    /// spec (both are named).
    pub fn open(env: &Environment, path: &Path, explicit: Option<&Path>, config: &SessionConfig) -> Result<(EmotionClassifier, String)> {
        let (session, device) = open_session(env, ModelRole::Emotion, path, config)?;
        let (spec, source) = ClassifierSpec::resolve(path, explicit)?;
        Ok((Self::with_spec(session, device, path, spec)?, source))
    }

    fn with_spec(session: ModelSession, device: Device, path: &Path, spec: ClassifierSpec) -> Result<EmotionClassifier> {
        let expected_in: Vec<i64> = spec.input_shape(1).iter().map(|&d| d as i64).collect::<Vec<_>>();
        let expected_in = [&[-1i64][..], &expected_in[1..]].concat();
        let expected_out = [-1, spec.labels.len() as i64];
        let input = match &spec.input_name {
            Some(n) => session.inputs().iter().find(|i| i.name == *n),
            None if session.inputs().len() == 1 => session.inputs().first(),
            None => None,
        };
        let output = match &spec.output_name {
            Some(n) => session.outputs().iter().find(|o| o.name == *n),
            None => session.outputs().first(),
        };
        let in_shape = input.and_then(|i| i.shape.clone()).unwrap_or_default();
        let out_shape = output.and_then(|o| o.shape.clone()).unwrap_or_default();
        let fits = shape_matches(&in_shape, &expected_in) && shape_matches(&out_shape, &expected_out);
        let (Some(input), Some(output), true) = (input, output, fits) else {
            let expected = Interface::Spec {
                spec: spec.name.clone(),
                input: spec.input_name.clone(),
                input_shape: expected_in,
                output: spec.output_name.clone(),
                output_shape: expected_out.to_vec(),
                labels: spec.labels.clone(),
            };
            let (inputs, outputs) = (outlets(session.inputs()), outlets(session.outputs()));
            return Err(Error::model(ModelRole::Emotion, path, ModelProblem::Interface { expected: Box::new(expected), inputs, outputs }));
        };
        let (input_name, output_name) = (input.name.clone(), output.name.clone());
        let max_batch = if in_shape[0] > 0 { in_shape[0] as usize } else { usize::MAX };
        Ok(EmotionClassifier { session, input_name, output_name, max_batch, spec, path: path.to_path_buf(), device })
    }

    /// Runs the model on `n` faces already in `tensor` (`n` x `spec.target().len()` floats in
    /// the spec's layout, filled by [`face_tensor`]) and appends one row of probabilities per
    /// face to `results`: `n` x `spec.labels.len()` floats, row-major, in `spec.labels` order,
    /// each row summing to 1 (softmax applied to logits). On an error `results` is unchanged.
    ///
    /// Errors: ONNX Runtime failed, or the output had an unexpected size or non-finite values.
    pub fn classify_tensor(&mut self, tensor: &[f32], n: usize, results: &mut Vec<f32>) -> Result<()> {
        let (spec, path, role) = (&self.spec, &self.path, ModelRole::Emotion);
        let outputs = run_batch(&mut self.session, role, path, &self.input_name, spec.input_shape(n), tensor)?;
        let scores = output(&outputs, role, path, &self.output_name)?;
        let n_labels = spec.labels.len();
        if n_labels == 0 || scores.len() != n_labels * n {
            return Err(Error::OutputSize {
                role,
                path: path.clone(),
                output: self.output_name.clone(),
                found: scores.len(),
                expected: n_labels * n,
                meaning: format!("{n} faces x {n_labels} labels"),
            });
        }
        check_finite(scores, role, path, format_args!("output {}", self.output_name))?;
        let start = results.len();
        results.extend_from_slice(scores);
        results[start..].chunks_mut(n_labels).for_each(|row| to_probabilities(row, spec.output));
        // Softmax of +-Inf logits is NaN: as bad as NaN outputs.
        if let Err(e) = check_finite(&results[start..], role, path, "softmax of its logits") {
            results.truncate(start);
            return Err(e);
        }
        Ok(())
    }
}

/// Runs `session` on one 4-D float input (`shape`: NCHW or NHWC as the model takes it, `tensor`
/// holding exactly its elements in row-major order; ONNX Runtime reads it in place).
///
/// Errors: the tensor does not have `shape`'s size ([`Error::InputShape`]), or the engine
/// failed ([`Error::Inference`], [`Error::OpenVinoInference`]); all name the `role` model at
/// `path`.
fn run_batch<'s>(
    session: &'s mut ModelSession,
    role: ModelRole,
    path: &Path,
    input_name: &str,
    shape: [usize; 4],
    tensor: &[f32],
) -> Result<Outputs<'s>> {
    session.run(input_name, shape, tensor).map_err(|e| run_error(role, path, e))
}

/// The float data of output `name`.
///
/// Errors: [`Error::OutputMissing`], or the engine's failure reading it.
fn output<'o>(outputs: &'o Outputs<'_>, role: ModelRole, path: &Path, name: &str) -> Result<&'o [f32]> {
    match outputs.get(name) {
        None => Err(missing_output(role, path, name)),
        Some(Ok(data)) => Ok(data),
        Some(Err(message)) => Err(Error::OutputType { role, path: path.to_path_buf(), output: name.to_string(), message }),
    }
}

/// Refuses a frame whose model output holds NaN or infinite values, which must never reach the
/// metadata (a NaN score passes every `<=` threshold test, and JSON writes it as `null`).
///
/// `what` is written out only for the error (pass `format_args!`): a good frame allocates
/// nothing here.
///
/// Errors: [`Error::NonFinite`] naming the model (`role`, `path`), `what` (the output) and the
/// first bad value.
pub fn check_finite(values: &[f32], role: ModelRole, path: &Path, what: impl std::fmt::Display) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite {
            role,
            path: path.to_path_buf(),
            what: what.to_string(),
            count: values.iter().filter(|v| !v.is_finite()).count(),
            total: values.len(),
            index,
            value: values[index],
        }),
    }
}

fn missing_output(role: ModelRole, path: &Path, output: &str) -> Error {
    Error::OutputMissing { role, path: path.to_path_buf(), output: output.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_parsing_accepts_the_documented_values() {
        assert_eq!(Device::parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(Device::parse("CUDA").unwrap(), Device::Cuda(0));
        assert_eq!(Device::parse("cuda:2").unwrap(), Device::Cuda(2));
        assert_eq!(Device::parse("auto").unwrap(), Device::Auto);
        assert_eq!(Device::parse("GPU").unwrap(), Device::Gpu);
        assert_eq!(Device::parse("npu").unwrap(), Device::Npu);
        let e = Device::parse("tpu").unwrap_err();
        assert!(matches!(&e, Error::InvalidSetting { setting, value, .. } if setting == "device" && value == "tpu"), "{e:?}");
        assert_eq!(e.to_string(), "device 'tpu': not a device; expected one of cpu, cuda, cuda:N, auto, gpu, npu");
        assert!(Device::parse("cuda:-1").is_err());
        for d in [Device::Cpu, Device::Cuda(3), Device::Auto, Device::Gpu, Device::Npu] {
            assert_eq!(Device::parse(&d.name()).unwrap(), d, "name() parses back");
        }
    }

    #[test]
    fn each_engine_takes_its_own_devices() {
        for d in [Device::Cpu, Device::Auto] {
            assert!(d.check_engine(EngineKind::OnnxRuntime).is_ok() && d.check_engine(EngineKind::OpenVino).is_ok());
        }
        assert!(Device::Cuda(0).check_engine(EngineKind::OnnxRuntime).is_ok());
        assert!(Device::Gpu.check_engine(EngineKind::OpenVino).is_ok() && Device::Npu.check_engine(EngineKind::OpenVino).is_ok());
        let e = Device::Gpu.check_engine(EngineKind::OnnxRuntime).unwrap_err().to_string();
        assert!(e.starts_with("device 'gpu': not a device of engine onnxruntime;") && e.contains("engine=openvino"), "{e}");
        let e = Device::Cuda(1).check_engine(EngineKind::OpenVino).unwrap_err().to_string();
        assert!(e.starts_with("device 'cuda:1': not a device of engine openvino;") && e.contains("engine=onnxruntime"), "{e}");
    }

    #[test]
    fn an_invalid_model_keeps_the_ort_error_as_its_cause() {
        let Ok(env) = crate::runtime::environment(Arc::new(|_, _| {})) else {
            eprintln!("ONNX Runtime is not installed here: skipped");
            return;
        };
        let path = std::env::temp_dir().join(format!("emotiondetect-page-{}.onnx", std::process::id()));
        std::fs::write(&path, "<html>404 not found</html>\n").unwrap();
        let e = open_session(env, ModelRole::Face, &path, &SessionConfig::default()).err().unwrap();
        std::fs::remove_file(&path).unwrap();
        let Error::Model { role: ModelRole::Face, problem: ModelProblem::NotOnnx { text_file: true, source }, .. } = &e else {
            panic!("{e:?}")
        };
        let text = e.to_string();
        assert!(text.starts_with(&format!("face model {}: not a valid ONNX model (it is a text file", path.display())), "{text}");
        assert!(text.ends_with(source.message()), "the cause's text is in the message: {text}");
        let cause = std::error::Error::source(&e).and_then(|p| p.source()).and_then(|c| c.downcast_ref::<Arc<ort::Error>>());
        assert!(cause.is_some(), "Model -> NotOnnx -> ort::Error");
    }

    #[test]
    fn shapes_match_with_dynamic_dimensions() {
        assert!(shape_matches(&[-1, 64, 64, 1], &[-1, 64, 64, 1]));
        assert!(shape_matches(&[1, 3, 480, 640], &[1, 3, -1, -1]));
        assert!(!shape_matches(&[-1, 1, 64, 64], &[-1, 64, 64, 1]));
        assert!(!shape_matches(&[1, 3, 480], &[1, 3, -1, -1]));
    }

    fn packed(width: usize, height: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Image<Vec<u8>> {
        let f = &f;
        let data = (0..height).flat_map(|y| (0..width).flat_map(move |x| f(x, y))).collect();
        Image {
            layout: crate::preprocess::PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 },
            width,
            height,
            planes: [data, vec![], vec![]],
            strides: [width * 3, 0, 0],
        }
    }

    fn spec(file: &str) -> ClassifierSpec {
        ClassifierSpec::builtin(file).unwrap()
    }

    #[test]
    fn each_family_gets_its_layout_colour_and_normalisation() {
        // A flat orange face: R 200, G 100, B 50; grey = 0.299 * 200 + 0.587 * 100 + 0.114 * 50.
        let img = packed(40, 40, |_, _| [200, 100, 50]);
        let face = FaceCrop { region: (5.0, 5.0, 35.0, 35.0), landmarks: None };
        let grey = 0.299 * 200.0 + 0.587 * 100.0 + 0.114 * 50.0;
        let run = |s: &ClassifierSpec| {
            let mut out = vec![f32::NAN; s.target().len()];
            face_tensor(s, &img, &face, &mut out);
            out
        };
        let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
        // mini-Xception: NHWC grey, (x / 255 - 0.5) * 2
        let out = run(&spec("emotion_fer2013_mini_xception.onnx"));
        assert!(out.len() == 64 * 64 && out.iter().all(|&v| close(v, (grey / 255.0 - 0.5) * 2.0)));
        // ours: NCHW grey 48, (x / 255 - 0.5) / 0.25
        let out = run(&spec("emotion_fer2013_vggbn.onnx"));
        assert!(out.len() == 48 * 48 && out.iter().all(|&v| close(v, (grey / 255.0 - 0.5) / 0.25)));
        // FER+: raw grey 0..255
        let out = run(&spec("emotion-ferplus-8.onnx"));
        assert!(out.iter().all(|&v| close(v, grey)));
        // HSEmotion: NCHW RGB planes with ImageNet statistics
        let out = run(&spec("enet_b0_8_best_afew.onnx"));
        let plane = 224 * 224;
        assert!(close(out[0], (200.0 / 255.0 - 0.485) / 0.229));
        assert!(close(out[plane + 7], (100.0 / 255.0 - 0.456) / 0.224));
        assert!(close(out[2 * plane + 99], (50.0 / 255.0 - 0.406) / 0.225));
        // MobileFaceNet without landmarks: the box, RGB, (x / 255 - 0.5) / 0.5
        let out = run(&spec("facial_expression_recognition_mobilefacenet_2022july.onnx"));
        assert!(close(out[0], (200.0 / 255.0 - 0.5) / 0.5) && close(out[2 * 112 * 112], (50.0 / 255.0 - 0.5) / 0.5));
    }

    #[test]
    fn mobilefacenet_faces_are_aligned_on_their_landmarks() {
        let spec = spec("facial_expression_recognition_mobilefacenet_2022july.onnx");
        let Alignment::FivePoint { template } = spec.alignment else { panic!() };
        // The face's landmarks: the template scaled by 0.5 and shifted to (20, 10). The image is
        // white left of x = 40 and black right of it: so is the aligned tensor left and right of
        // 2 * (40 - 20) = 40.
        let landmarks = template.map(|[x, y]| [20.0 + 0.5 * x, 10.0 + 0.5 * y]);
        let img = packed(100, 100, |x, _| if x < 40 { [255; 3] } else { [0; 3] });
        let face = FaceCrop { region: (0.0, 0.0, 100.0, 100.0), landmarks: Some(landmarks) };
        let mut out = vec![0.0; spec.target().len()];
        face_tensor(&spec, &img, &face, &mut out);
        let red = |x: usize, y: usize| out[y * 112 + x];
        assert!((red(30, 60) - 1.0).abs() < 1e-5 && (red(43, 60) + 1.0).abs() < 1e-5, "{} {}", red(30, 60), red(43, 60));
        // Scaled from the box instead, tensor x = 43 is frame x = 43.5 * 100 / 112 - 0.5 = 38.3: white.
        let boxed = FaceCrop { landmarks: None, ..face };
        face_tensor(&spec, &img, &boxed, &mut out);
        assert!((out[60 * 112 + 43] - 1.0).abs() < 1e-5);
    }
}
