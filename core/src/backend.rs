// SPDX-License-Identifier: MIT
//! The inference engines behind one model session, both reading the same ONNX files:
//! ONNX Runtime (the default; CPU or CUDA) and OpenVINO (Intel's runtime, DL Streamer's engine;
//! CPU, or an Intel GPU or NPU where present).
//!
//! OpenVINO is loaded at run time (the `openvino` crate's `runtime-linking`) from the
//! libraries of the PyPI wheel `openvino==2026.4.0`, which `setup.sh` copies into
//! `<data dir>/lib/openvino`; `OPENVINO_LIB_DIR` names another directory (the wheel's
//! `openvino/libs`). Its libraries find each other and their device plugins through their
//! `$ORIGIN` RPATH, so no `LD_LIBRARY_PATH` is needed.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use once_cell::sync::OnceCell;
use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, Model, Node, PartialShape, RwPropertyKey, Shape, Tensor};
use ort::memory::MemoryInfo;
use ort::session::Session;
use ort::value::{DynValue, TensorElementType, TensorRefMut, ValueType};
use ort::AsPointer;

use crate::error::{Error, ModelProblem, ModelRole, Result};
use crate::inference::{Device, SessionConfig};

/// How to install OpenVINO.
pub const OPENVINO_HINT: &str = "run ./setup.sh from the emotiondetect source tree (it copies the libraries of the PyPI wheel \
                                 openvino==2026.4.0 into the data directory), or set OPENVINO_LIB_DIR to that wheel's openvino/libs";

/// Which runtime runs the models: the element's `engine` property.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// ONNX Runtime (`onnxruntime`): CPU, or CUDA with `setup.sh --gpu`.
    #[default]
    OnnxRuntime,
    /// OpenVINO (`openvino`): CPU, or `gpu`/`npu` where Intel's devices and drivers are present.
    OpenVino,
}

impl EngineKind {
    /// Parses `onnxruntime` or `openvino`.
    ///
    /// Errors: [`Error::InvalidSetting`] naming `engine`, the text and the accepted values.
    pub fn parse(s: &str) -> Result<EngineKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "onnxruntime" | "ort" => Ok(EngineKind::OnnxRuntime),
            "openvino" => Ok(EngineKind::OpenVino),
            _ => Err(Error::InvalidSetting {
                setting: "engine".into(),
                value: s.to_string(),
                problem: "not an engine".into(),
                expected: "onnxruntime or openvino".into(),
            }),
        }
    }

    /// The name as the `engine` property writes it.
    pub const fn name(&self) -> &'static str {
        match self {
            EngineKind::OnnxRuntime => "onnxruntime",
            EngineKind::OpenVino => "openvino",
        }
    }
}

/// A model input or output: its name and, for a float32 tensor, its shape (-1: dynamic).
#[derive(Clone, Debug)]
pub struct Outlet {
    pub name: String,
    /// `None` for a tensor of another element type.
    pub shape: Option<Vec<i64>>,
}

/// A loaded model in one engine, with its inputs and outputs read once.
pub enum ModelSession {
    Ort { session: Session, inputs: Vec<Outlet>, outputs: Vec<Outlet>, kept: Box<KeptRuns> },
    OpenVino(Box<OvSession>),
}

/// An OpenVINO model compiled for a device, with its one inference request.
pub struct OvSession {
    request: InferRequest,
    _compiled: CompiledModel,
    /// The face detector's model and device, compiled again for each new input shape (YuNet with
    /// its dynamic size: 10.7 ms against 10.1 static, median of 4 pairs). `None` for the
    /// classifier, whose batch changes from frame to frame.
    reshape: Option<(Model, String)>,
    /// The input shape `request` runs (`None`: the model's own, dynamic).
    compiled_for: Option<[i64; 4]>,
    /// Other shapes' compiled models and requests, the most recent last (streams of several
    /// sizes sharing one detector switch between them without compiling again).
    other_shapes: Vec<([i64; 4], CompiledModel, InferRequest)>,
    inputs: Vec<Outlet>,
    outputs: Vec<Outlet>,
    /// The last input tensor and its shape, reused while the shape stays.
    input: Option<([i64; 4], Tensor)>,
    /// The last run's output tensors, in the order of `outputs` (the vector is reused).
    results: Vec<Tensor>,
}

/// The outputs of one run, by name (ONNX Runtime's are the session's kept values, borrowed
/// until the next run).
pub enum Outputs<'s> {
    /// The session's outputs and their values, in the same order.
    Ort { names: &'s [Outlet], values: &'s [DynValue] },
    /// The session's outputs and the last run's tensors, in the same order.
    OpenVino { names: &'s [Outlet], tensors: &'s [Tensor] },
}

impl Outputs<'_> {
    /// The float32 data of output `name`: `None` when there is no such output, `Some(Err)` with
    /// the engine's message when it is not float32.
    pub fn get(&self, name: &str) -> Option<std::result::Result<&[f32], String>> {
        match self {
            Outputs::Ort { names, values } => names
                .iter()
                .position(|o| o.name == name)
                .and_then(|i| values.get(i))
                .map(|v| v.try_extract_tensor::<f32>().map(|(_, d)| d).map_err(|e| e.to_string())),
            Outputs::OpenVino { names, tensors } => names
                .iter()
                .position(|o| o.name == name)
                .and_then(|i| tensors.get(i))
                .map(|t| t.get_data::<f32>().map_err(|e| e.to_string())),
        }
    }
}

/// Why a run failed, before it is named with the model ([`run_error`]).
#[derive(Debug)]
pub enum RunError {
    Ort(ort::Error),
    /// OpenVINO's message.
    OpenVino(String),
    /// The tensor's `floats` do not fill `shape`.
    Shape {
        shape: [usize; 4],
        floats: usize,
        source: ndarray::ShapeError,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Ort(e) => write!(f, "ONNX Runtime: {e}"),
            RunError::OpenVino(m) => write!(f, "OpenVINO: {m}"),
            RunError::Shape { shape, floats, source } => write!(f, "an input tensor of {floats} floats for shape {shape:?}: {source}"),
        }
    }
}

impl ModelSession {
    /// Wraps an ONNX Runtime session.
    pub fn from_ort(session: Session) -> ModelSession {
        let outlets = |list: &[ort::value::Outlet]| -> Vec<Outlet> {
            list.iter().map(|o| Outlet { name: o.name().to_string(), shape: ort_float_shape(o.dtype()) }).collect()
        };
        let (inputs, outputs) = (outlets(session.inputs()), outlets(session.outputs()));
        let kept = Box::new(KeptRuns::new(&inputs, &outputs));
        ModelSession::Ort { session, inputs, outputs, kept }
    }

    /// Reads `path` with OpenVINO's ONNX front end and compiles it for `config.device` (`cpu`
    /// and `auto`: CPU; `gpu`, `npu`). The face detector is compiled again, at the first frame
    /// and whenever the input size changes, for that size; the classifier keeps its dynamic
    /// batch. The inputs and outputs take the names of `onnx` (the same file in ONNX Runtime),
    /// in order: OpenVINO answers to each of a tensor's names but lists only one.
    ///
    /// Errors: [`Error::OpenVinoLibrary`] (OpenVINO cannot be loaded), or [`Error::Model`] naming
    /// `role` and `path`: OpenVINO cannot read or compile the file, or the device is absent.
    pub fn open_openvino(role: ModelRole, path: &Path, config: &SessionConfig, onnx: &ModelSession) -> Result<(ModelSession, Device)> {
        let (device, ov_device) = match config.device {
            Device::Cpu | Device::Auto => (Device::Cpu, "CPU"),
            Device::Gpu => (Device::Gpu, "GPU"),
            Device::Npu => (Device::Npu, "NPU"),
            Device::Cuda(_) => unreachable!("ModelSettings refuses CUDA with OpenVINO"),
        };
        let mut core = openvino_core()?.lock().unwrap_or_else(|p| p.into_inner());
        let fixed_input = role == ModelRole::Face;
        let mut session =
            compile(&mut core, path, ov_device, config.threads, fixed_input).map_err(|problem| Error::model(role, path, problem))?;
        for (ours, theirs) in [(&mut session.inputs, onnx.inputs()), (&mut session.outputs, onnx.outputs())] {
            if ours.len() == theirs.len() {
                ours.iter_mut().zip(theirs).for_each(|(o, t)| o.name.clone_from(&t.name));
            }
        }
        Ok((ModelSession::OpenVino(Box::new(session)), device))
    }

    /// The model's inputs.
    pub fn inputs(&self) -> &[Outlet] {
        match self {
            ModelSession::Ort { inputs, .. } => inputs,
            ModelSession::OpenVino(s) => &s.inputs,
        }
    }

    /// The model's outputs.
    pub fn outputs(&self) -> &[Outlet] {
        match self {
            ModelSession::Ort { outputs, .. } => outputs,
            ModelSession::OpenVino(s) => &s.outputs,
        }
    }

    /// Runs the model on one float input `input_name` of `shape` (`tensor`: exactly its
    /// elements, row-major). ONNX Runtime reads `tensor` in place and, from the second run on the
    /// same tensor and shape, writes into the outputs it kept ([`KeptRuns`]); OpenVINO gets a
    /// copy in its own tensor (kept while the shape stays).
    ///
    /// Errors: [`RunError::Shape`] when `tensor` does not fill `shape`, else the engine's failure.
    pub fn run(&mut self, input_name: &str, shape: [usize; 4], tensor: &[f32]) -> std::result::Result<Outputs<'_>, RunError> {
        ndarray::ArrayView4::from_shape(shape, tensor).map_err(|source| RunError::Shape { shape, floats: tensor.len(), source })?;
        match self {
            ModelSession::Ort { session, outputs, kept, .. } => {
                let i = kept.run(session, input_name, shape, tensor).map_err(RunError::Ort)?;
                Ok(Outputs::Ort { names: outputs, values: &kept.runs[i].outputs })
            }
            ModelSession::OpenVino(s) => {
                s.run(input_name, shape, tensor).map_err(RunError::OpenVino)?;
                Ok(Outputs::OpenVino { names: &s.outputs, tensors: &s.results })
            }
        }
    }
}

impl OvSession {
    /// Runs the request on `tensor`; the outputs are then in `self.results`. Tensors are set and
    /// read by index, as the crate's by-name calls copy each name into a C string.
    fn run(&mut self, input_name: &str, shape: [usize; 4], tensor: &[f32]) -> std::result::Result<(), String> {
        let dims = shape.map(|d| d as i64);
        if self.reshape.is_some() && self.compiled_for != Some(dims) {
            self.compile_for(dims)?;
        }
        if self.input.as_ref().is_none_or(|(d, _)| *d != dims) {
            let shape = Shape::new(&dims).map_err(|e| e.to_string())?;
            self.input = Some((dims, Tensor::new(ElementType::F32, &shape).map_err(|e| e.to_string())?));
        }
        let (_, input) = self.input.as_mut().expect("set above");
        // Same length: ModelSession::run checked that `tensor` fills `shape`.
        input.get_data_mut::<f32>().map_err(|e| e.to_string())?.copy_from_slice(tensor);
        let index = (self.inputs.iter().position(|i| i.name == input_name))
            .or((self.inputs.len() == 1).then_some(0))
            .ok_or_else(|| format!("the model has no input {input_name}"))?;
        self.request.set_input_tensor_by_index(index, input).map_err(|e| e.to_string())?;
        self.request.infer().map_err(|e| e.to_string())?;
        self.results.clear();
        for i in 0..self.outputs.len() {
            self.results.push(self.request.get_output_tensor_by_index(i).map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    /// Switches to the model compiled for inputs of `dims`, compiling it when it is not among
    /// the last [`OTHER_SHAPES`] (the core is locked meanwhile: a few hundred ms, once per size).
    fn compile_for(&mut self, dims: [i64; 4]) -> std::result::Result<(), String> {
        let (compiled, request) = match self.other_shapes.iter().position(|(d, _, _)| *d == dims) {
            Some(i) => {
                let (_, compiled, request) = self.other_shapes.remove(i);
                (compiled, request)
            }
            None => {
                let Some((model, device)) = self.reshape.as_mut() else { return Ok(()) };
                let shape = PartialShape::new_static(dims.len() as i64, &dims).map_err(|e| e.to_string())?;
                model.reshape_single_input(&shape).map_err(|e| format!("reshaping it to {dims:?}: {e}"))?;
                let mut core = openvino_core().map_err(|e| e.to_string())?.lock().unwrap_or_else(|p| p.into_inner());
                let target = DeviceType::from(device.as_str());
                let mut compiled = core.compile_model(model, target).map_err(|e| format!("compiling it for {dims:?}: {e}"))?;
                let request = compiled.create_infer_request().map_err(|e| e.to_string())?;
                (compiled, request)
            }
        };
        let old_request = std::mem::replace(&mut self.request, request);
        let old_compiled = std::mem::replace(&mut self._compiled, compiled);
        if let Some(old) = self.compiled_for.replace(dims) {
            self.other_shapes.push((old, old_compiled, old_request));
            if self.other_shapes.len() > OTHER_SHAPES {
                self.other_shapes.remove(0);
            }
        }
        self.input = None;
        Ok(())
    }
}

/// The error of a failed run, naming the `role` model at `path`.
pub fn run_error(role: ModelRole, path: &Path, e: RunError) -> Error {
    match e {
        RunError::Ort(e) => Error::Inference { role, path: path.to_path_buf(), source: Arc::new(e) },
        RunError::OpenVino(message) => Error::OpenVinoInference { role, path: path.to_path_buf(), message },
        RunError::Shape { shape, floats, source } => Error::InputShape { role, path: path.to_path_buf(), shape, floats, source },
    }
}

/// ONNX Runtime runs kept for reuse, so that a steady stream calls the C API with no
/// allocation on our side of it: the input value over the caller's tensor and the output values
/// of the first run on that tensor and shape, which later runs overwrite in place
/// (`OrtApi::Run` with preallocated outputs). ONNX Runtime's own allocations (its CPU arena)
/// are its business.
pub struct KeptRuns {
    /// The inputs' names as C strings.
    input_names: Vec<CString>,
    /// The outputs' names as C strings, in session order; empty when they cannot be kept (more
    /// than [`MAX_KEPT_OUTPUTS`], or a name with a NUL byte).
    output_names: Vec<CString>,
    /// The most recently used last; at most [`KEPT_RUNS`].
    runs: Vec<KeptRun>,
}

struct KeptRun {
    /// The tensor's address and the input shape.
    key: (usize, [usize; 4]),
    /// Points at the tensor: valid while a caller lends that tensor to [`KeptRuns::run`].
    input: TensorRefMut<'static, f32>,
    /// In session output order.
    outputs: Vec<DynValue>,
    /// The outputs' size.
    bytes: usize,
}

/// Runs kept per session: a classifier runs batches of 1..=32 faces (4 bytes x 7 labels each);
/// a detector usually one input size per stream.
const KEPT_RUNS: usize = 40;

/// The most output bytes kept per session (YuNet's outputs for a 640x480 input are 403 KB; for
/// a 1920x1088 frame at `detector-size=0`, 2.7 MB).
const KEPT_BYTES: usize = 64 << 20;

/// The most outputs a kept run passes on the stack (YuNet has 12); a model with more runs
/// through `Session::run` every time.
const MAX_KEPT_OUTPUTS: usize = 16;

impl KeptRuns {
    fn new(inputs: &[Outlet], outputs: &[Outlet]) -> KeptRuns {
        let c = |name: &str| CString::new(name).ok();
        let input_names = inputs.iter().filter_map(|o| c(&o.name)).collect();
        let output_names: Vec<CString> = outputs.iter().filter_map(|o| c(&o.name)).collect();
        let keep = output_names.len() == outputs.len() && outputs.len() <= MAX_KEPT_OUTPUTS;
        let output_names = if keep { output_names } else { Vec::new() };
        KeptRuns { input_names, output_names, runs: Vec::with_capacity(KEPT_RUNS) }
    }

    /// Runs `session` on `tensor` (`shape`, already checked to fill it) as input `input_name`.
    /// Returns the index in `runs` of the outputs.
    fn run(&mut self, session: &mut Session, input_name: &str, shape: [usize; 4], tensor: &[f32]) -> ort::Result<usize> {
        let key = (tensor.as_ptr() as usize, shape);
        if let Some(i) = self.runs.iter().position(|r| r.key == key) {
            self.runs[i..].rotate_left(1);
            let last = self.runs.len() - 1;
            if self.run_kept(session, input_name, last).is_ok() {
                return Ok(last);
            }
            // Outputs of another shape than last time (a model whose output size depends on the
            // data): run it afresh below.
            self.runs.pop();
        }
        // SAFETY: ONNX Runtime only reads an input; the value is used only by runs that borrow
        // `tensor` at this address and length (the key), and dropped with the entry.
        let input = unsafe { TensorRefMut::from_raw(MemoryInfo::default(), tensor.as_ptr() as *mut _, ort::value::Shape::from(shape)) }?;
        let outputs: Vec<DynValue> = session.run(ort::inputs![input_name => &*input])?.into_iter().map(|(_, v)| v).collect();
        let bytes = outputs.iter().map(|v| v.try_extract_tensor::<f32>().map_or(0, |(_, d)| 4 * d.len())).sum();
        while !self.runs.is_empty()
            && (self.runs.len() == KEPT_RUNS || self.runs.iter().map(|r| r.bytes).sum::<usize>() + bytes > KEPT_BYTES)
        {
            self.runs.remove(0);
        }
        self.runs.push(KeptRun { key, input, outputs, bytes });
        Ok(self.runs.len() - 1)
    }

    /// Runs run `i` again through the C API, writing into its kept outputs.
    fn run_kept(&mut self, session: &mut Session, input_name: &str, i: usize) -> ort::Result<()> {
        let n = self.output_names.len();
        let run = &mut self.runs[i];
        let Some(name) = self.input_names.iter().find(|c| c.as_bytes() == input_name.as_bytes()) else {
            return Err(ort::Error::new(format!("no input named {input_name}")));
        };
        if n == 0 || run.outputs.len() != n {
            return Err(ort::Error::new("outputs not kept"));
        }
        let mut names = [std::ptr::null(); MAX_KEPT_OUTPUTS];
        let mut values = [std::ptr::null_mut(); MAX_KEPT_OUTPUTS];
        for (k, (c, v)) in self.output_names.iter().zip(run.outputs.iter_mut()).enumerate() {
            names[k] = c.as_ptr();
            values[k] = v.ptr_mut();
        }
        let input = [run.input.ptr()];
        // SAFETY: every pointer is live for the call; the outputs are the values this session
        // returned for this input shape, which ONNX Runtime fills in place.
        let status = unsafe {
            (ort::api().Run)(session.ptr_mut(), std::ptr::null(), &name.as_ptr(), input.as_ptr(), 1, names.as_ptr(), n, values.as_mut_ptr())
        };
        status_result(status)
    }
}

/// `Ok` for a null status, else the error with its message (the status is released).
fn status_result(status: ort::sys::OrtStatusPtr) -> ort::Result<()> {
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null status from the C API, released once here.
    let message = unsafe {
        let text = std::ffi::CStr::from_ptr((ort::api().GetErrorMessage)(status.0)).to_string_lossy().into_owned();
        (ort::api().ReleaseStatus)(status.0);
        text
    };
    Err(ort::Error::new(message))
}

/// Shape of a float32 ONNX Runtime outlet (-1 for dynamic dimensions), or `None` for other types.
fn ort_float_shape(t: &ValueType) -> Option<Vec<i64>> {
    match t {
        ValueType::Tensor { ty: TensorElementType::Float32, shape, .. } => Some(shape.to_vec()),
        _ => None,
    }
}

static OPENVINO: OnceCell<Mutex<Core>> = OnceCell::new();

/// Input shapes a face detector keeps compiled besides the current one.
const OTHER_SHAPES: usize = 3;

/// The directories searched for OpenVINO's libraries, in order: `OPENVINO_LIB_DIR` when set
/// (and then only it), else `<data dir>/lib/openvino` of each data directory.
pub fn openvino_dirs() -> Vec<PathBuf> {
    if let Some(d) = std::env::var_os("OPENVINO_LIB_DIR") {
        return vec![PathBuf::from(d)];
    }
    crate::runtime::data_dirs().into_iter().map(|d| d.join("lib").join("openvino")).collect()
}

/// The process-wide OpenVINO core, loading the library on first use (a failed load is retried
/// by the next call).
///
/// Errors: [`Error::OpenVinoLibrary`] naming each directory tried and why it failed.
fn openvino_core() -> Result<&'static Mutex<Core>> {
    OPENVINO.get_or_try_init(|| {
        let mut tried = Vec::new();
        for dir in openvino_dirs() {
            match load_openvino(&dir) {
                Ok(core) => return Ok(Mutex::new(core)),
                Err(why) => tried.push(format!("{}: {why}", dir.display())),
            }
        }
        Err(Error::OpenVinoLibrary { tried })
    })
}

fn load_openvino(dir: &Path) -> std::result::Result<Core, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    let library = entries
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libopenvino_c.so")))
        .ok_or("no libopenvino_c.so* there")?;
    // A second directory cannot replace a library already loaded: the crate keeps the first.
    openvino_sys::library::load_from(&library)?;
    Core::new().map_err(|e| e.to_string())
}

/// Reads and compiles `path` for `device`; with `fixed_input`, keeps the model to compile again
/// for each input shape ([`OvSession::compile_for`]).
fn compile(core: &mut Core, path: &Path, device: &str, threads: usize, fixed_input: bool) -> std::result::Result<OvSession, ModelProblem> {
    let problem = |step: &str, e: &dyn std::fmt::Display| ModelProblem::OpenVino { message: format!("{step}: {e}") };
    let available = core.available_devices().map_err(|e| problem("listing its devices", &e))?;
    let names: Vec<String> = available.iter().map(|d| d.as_ref().to_string()).collect();
    if !names.iter().any(|n| n == device || n.starts_with(&format!("{device}."))) {
        return Err(ModelProblem::DeviceAbsent { engine: "OpenVINO", device: device.to_string(), available: names.join(", ") });
    }
    let target = DeviceType::from(device);
    core.set_property(&target, &RwPropertyKey::HintPerformanceMode, "LATENCY").map_err(|e| problem("setting LATENCY", &e))?;
    if device == "CPU" {
        // Its default is bf16 where the CPU has AMX: results must not depend on the CPU model.
        core.set_property(&target, &RwPropertyKey::HintInferencePrecision, "f32").map_err(|e| problem("setting f32", &e))?;
        if threads > 0 {
            core.set_property(&target, &RwPropertyKey::InferenceNumThreads, &threads.to_string())
                .map_err(|e| problem("setting its threads", &e))?;
        }
    }
    let text = path.to_str().ok_or_else(|| problem("reading it", &"the path is not UTF-8"))?;
    let model = core.read_model_from_file(text, "").map_err(|e| problem("reading it", &e))?;
    let mut compiled = core.compile_model(&model, target).map_err(|e| problem(&format!("compiling it for {device}"), &e))?;
    let outlets = |n: usize,
                   get: &dyn Fn(usize) -> std::result::Result<Node, openvino::InferenceError>|
     -> std::result::Result<Vec<Outlet>, ModelProblem> {
        (0..n).map(|i| get(i).and_then(|node| ov_outlet(&node)).map_err(|e| problem("reading its inputs and outputs", &e))).collect()
    };
    let n_in = compiled.get_input_size().map_err(|e| problem("reading its inputs", &e))?;
    let n_out = compiled.get_output_size().map_err(|e| problem("reading its outputs", &e))?;
    let inputs = outlets(n_in, &|i| compiled.get_input_by_index(i))?;
    let outputs = outlets(n_out, &|i| compiled.get_output_by_index(i))?;
    let request = compiled.create_infer_request().map_err(|e| problem("creating its request", &e))?;
    let reshape = fixed_input.then(|| (model, device.to_string()));
    Ok(OvSession {
        request,
        _compiled: compiled,
        reshape,
        compiled_for: None,
        other_shapes: Vec::new(),
        inputs,
        outputs,
        input: None,
        results: Vec::new(),
    })
}

fn ov_outlet(node: &Node) -> std::result::Result<Outlet, openvino::InferenceError> {
    let name = node.get_name()?;
    if node.get_element_type()? != ElementType::F32 {
        return Ok(Outlet { name, shape: None });
    }
    let shape = node.get_partial_shape()?;
    let dims = shape.get_dimensions().iter().map(|d| if d.is_dynamic() { -1 } else { d.get_min() }).collect();
    Ok(Outlet { name, shape: Some(dims) })
}
