// SPDX-License-Identifier: MIT
//! Finding and loading ONNX Runtime and the installed models.
//!
//! ONNX Runtime is loaded at run time (ort's `load-dynamic`) from `libonnxruntime.so.1.31.1`,
//! the library shipped in the PyPI wheel `onnxruntime==1.31.1`. Search order:
//! 1. `ORT_DYLIB_PATH`, when set (and then only that file);
//! 2. `<data dir>/lib/libonnxruntime.so.1.31.1` for each data directory of [`data_dirs`].
//!
//! ort allows one environment per process, so it lives in a process-wide cell.
//!
//! For CUDA, `setup.sh --gpu` installs the `onnxruntime-gpu==1.31.1` build of that library and
//! links the CUDA 13 and cuDNN 9 libraries of its `[cuda,cudnn]` extras into `<lib>/cuda`; they
//! are loaded process-wide before ONNX Runtime (as the wheel's own `preload_dlls()` does), so
//! its CUDA provider finds them with no `LD_LIBRARY_PATH`. The driver (`libcuda.so.1`) comes
//! from the system.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use ort::environment::{Environment, GlobalThreadPoolOptions};
/// The severity of an ONNX Runtime log message ([`Logger`]).
pub use ort::logging::LogLevel;

use crate::error::{Error, RuntimeAttempt, RuntimeFailure};

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

/// What to do about the model file `path` that does not exist: for a file in a data directory's
/// `models/` (where the defaults live), how to install the models, naming
/// `$EMOTIONDETECT_DATA_DIR` when the path is in it; for any other path (given explicitly, e.g.
/// `face-model=/path/typo.onnx`), to check the path: running setup would not create it.
pub fn missing_model_hint(path: &Path) -> String {
    let in_models = |d: &Path| path.parent() == Some(d.join("models").as_path());
    if let Some(d) = std::env::var_os("EMOTIONDETECT_DATA_DIR").map(PathBuf::from).filter(|d| in_models(d)) {
        return format!(
            "EMOTIONDETECT_DATA_DIR is set to {}, which has no models/{}: unset it to use the installed models, or install them there with models/fetch.py --dest {}/models",
            d.display(),
            path.file_name().unwrap_or_default().to_string_lossy(),
            d.display()
        );
    }
    if data_dirs().iter().any(|d| in_models(d)) {
        MODEL_HINT.to_string()
    } else {
        "check the path: a model path given as a property is used as it is".to_string()
    }
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

/// The installed model `file` (for example `face_detection_yunet.onnx`): with
/// `$EMOTIONDETECT_DATA_DIR` set, `$EMOTIONDETECT_DATA_DIR/models/<file>`, whether or not it
/// exists (no silent fall-back to another installation: the error names that path); else the
/// first `<data dir>/models/<file>` that exists, else the path where `setup.sh` would put it (so
/// that the error message names it).
pub fn default_model_path(file: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("EMOTIONDETECT_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("models").join(file);
    }
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

/// Loads every `*.so*` file of `dir` with `RTLD_NOW | RTLD_GLOBAL` and keeps it loaded, so that
/// libraries loaded later find them by soname. The files depend on each other, so failures are
/// retried until a round loads nothing new. Returns how many loaded and, for each that did not,
/// its error.
pub fn preload_libraries(dir: &Path) -> (usize, Vec<String>) {
    let mut pending: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten().map(|e| e.path()).filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".so"))).collect()
        })
        .unwrap_or_default();
    pending.sort();
    let mut loaded = 0;
    loop {
        let mut errors = Vec::new();
        let before = pending.len();
        pending.retain(|p| {
            // SAFETY: these are the CUDA/cuDNN libraries setup.sh linked here; their initialisers
            // only register themselves, as when ONNX Runtime's provider loads them.
            match unsafe {
                libloading::os::unix::Library::open(Some(p), libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL)
            } {
                Ok(lib) => {
                    std::mem::forget(lib); // kept for the life of the process
                    false
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", p.display()));
                    true
                }
            }
        });
        loaded += before - pending.len();
        if pending.is_empty() || pending.len() == before {
            return (loaded, errors);
        }
    }
}

/// A message from ONNX Runtime's log, passed to `log` (the element routes it into GStreamer's
/// debug log instead of stderr).
pub type Logger = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// Errors: [`Error::Runtime`] listing each path tried and why it failed (its message adds
/// [`SETUP_HINT`]). `once_cell`'s `get_or_try_init` (not stable in std's `OnceLock`) keeps a
/// failed load retryable.
pub fn environment(log: Logger) -> crate::error::Result<&'static Environment> {
    ENVIRONMENT.get_or_try_init(|| {
        let mut tried = Vec::new();
        for path in library_candidates() {
            match load(&path, log.clone()) {
                Ok(env) => return Ok(env),
                Err(failure) => tried.push(RuntimeAttempt { path, failure }),
            }
        }
        Err(Error::Runtime { library: ORT_LIBRARY, tried })
    })
}

fn load(path: &Path, log: Logger) -> Result<Environment, RuntimeFailure> {
    match crate::files::check_regular(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RuntimeFailure::Missing),
        Err(e) => return Err(RuntimeFailure::File(Arc::new(e))),
        Ok(_) => {}
    }
    if let Some(cuda) = path.parent().map(|d| d.join("cuda")).filter(|d| d.is_dir()) {
        let (loaded, failed) = preload_libraries(&cuda);
        let level = if failed.is_empty() { ort::logging::LogLevel::Info } else { ort::logging::LogLevel::Warning };
        log(
            level,
            &format!(
                "CUDA libraries in {}: {loaded} loaded{}",
                cuda.display(),
                failed.iter().map(|f| format!("; {f}")).collect::<String>()
            ),
        );
    }
    let builder = ort::init_from(path).map_err(|e| RuntimeFailure::Load(Arc::new(e)))?;
    // One intra-op pool for the process's default sessions (see `inference::build`): streams
    // and models take turns on the cores instead of each bringing its own threads.
    let pool = GlobalThreadPoolOptions::default()
        .with_intra_threads(0)
        .and_then(|p| p.with_spin_control(true))
        .map_err(|e| RuntimeFailure::Init(Arc::new(e)))?;
    builder
        .with_name("emotiondetect")
        .with_global_thread_pool(pool)
        .with_telemetry(false)
        .with_logger(Arc::new(move |level, _category, _id, _location, message| log(level, message)))
        .build()
        .map_err(|e| RuntimeFailure::Init(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preloading_loads_libraries_and_reports_the_rest() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-preload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/lib/x86_64-linux-gnu/libz.so.1", dir.join("libz.so.1")).unwrap();
        std::fs::write(dir.join("libbroken.so.1"), "not an ELF file").unwrap();
        std::fs::write(dir.join("README"), "ignored").unwrap();
        let (loaded, failed) = preload_libraries(&dir);
        assert_eq!(loaded, 1);
        assert!(failed.len() == 1 && failed[0].contains("libbroken.so.1"), "{failed:?}");
        assert_eq!(preload_libraries(&dir.join("missing")), (0, vec![]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
