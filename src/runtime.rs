//! Finding and loading ONNX Runtime and the installed models.
//!
//! ONNX Runtime is loaded at run time (ort's `load-dynamic`) from `libonnxruntime.so.1.31.1`,
//! the library shipped in the PyPI wheel `onnxruntime==1.31.1`. Search order:
//! 1. `ORT_DYLIB_PATH`, when set (and then only that file);
//! 2. `<data dir>/lib/libonnxruntime.so.1.31.1` for each data directory of [`data_dirs`].
//!
//! ort allows one environment per process, so it lives in a process-wide cell.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use ort::environment::Environment;

/// File name of the ONNX Runtime library in the `onnxruntime==1.31.1` wheel.
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.31.1";

/// The command that installs ONNX Runtime and the models.
pub const SETUP_HINT: &str = "run ./setup.sh from the emotiondetect source tree, or set ORT_DYLIB_PATH to libonnxruntime.so.1.31.1 from the PyPI wheel onnxruntime==1.31.1";

/// How to install the models.
pub const MODEL_HINT: &str = "run ./setup.sh from the emotiondetect source tree, or models/fetch.py, to install the models";

static PLUGIN_FILE: OnceCell<PathBuf> = OnceCell::new();
static ENVIRONMENT: OnceCell<Environment> = OnceCell::new();

/// Remembers where the plugin was loaded from, so that files installed beside it are found.
pub fn set_plugin_file(path: PathBuf) {
    let _ = PLUGIN_FILE.set(path);
}

/// Directories searched for `lib/` and `models/`, in order:
/// 1. `$EMOTIONDETECT_DATA_DIR`;
/// 2. `<plugin dir>/../../emotiondetect` (for `~/.local/share/gstreamer-1.0/plugins`, that is
///    `~/.local/share/emotiondetect`, where `setup.sh` installs);
/// 3. `$XDG_DATA_HOME/emotiondetect`, default `~/.local/share/emotiondetect`.
pub fn data_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("EMOTIONDETECT_DATA_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(p) = PLUGIN_FILE.get().and_then(|f| f.parent()).and_then(|d| d.parent()).and_then(|d| d.parent()) {
        dirs.push(p.join("emotiondetect"));
    }
    let xdg = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(x) = xdg {
        dirs.push(x.join("emotiondetect"));
    }
    dirs.dedup();
    dirs
}

/// The installed model `file` (for example `face_detection_yunet.onnx`): the first
/// `<data dir>/models/<file>` that exists, else the path where `setup.sh` would put it
/// (so that the error message names it).
pub fn default_model_path(file: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = data_dirs().into_iter().map(|d| d.join("models").join(file)).collect();
    candidates.iter().find(|p| p.is_file()).or(candidates.last()).cloned().unwrap_or_else(|| PathBuf::from(file))
}

/// Library paths tried, in order.
pub fn library_candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return vec![PathBuf::from(p)];
    }
    data_dirs().into_iter().map(|d| d.join("lib").join(ORT_LIBRARY)).collect()
}

/// A message from ONNX Runtime's log, passed to `log` (the element routes it into GStreamer's
/// debug log instead of stderr).
pub type Logger = Arc<dyn Fn(ort::logging::LogLevel, &str) + Send + Sync>;

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// Errors: a message listing each path tried and why it failed, and [`SETUP_HINT`].
pub fn environment(log: Logger) -> Result<&'static Environment, String> {
    ENVIRONMENT.get_or_try_init(|| {
        let mut tried = Vec::new();
        for path in library_candidates() {
            match load(&path, log.clone()) {
                Ok(env) => return Ok(env),
                Err(e) => tried.push(format!("{}: {e}", path.display())),
            }
        }
        Err(format!("could not load ONNX Runtime ({ORT_LIBRARY}); tried {}; {SETUP_HINT}", tried.join("; ")))
    })
}

fn load(path: &Path, log: Logger) -> Result<Environment, String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    let builder = ort::init_from(path).map_err(|e| e.to_string())?;
    builder
        .with_name("emotiondetect")
        .with_telemetry(false)
        .with_logger(Arc::new(move |level, _category, _id, _location, message| log(level, message)))
        .build()
        .map_err(|e| e.to_string())
}
