// SPDX-License-Identifier: MIT
//! The output files of one `emotiondetect-video` run: each is written to a hidden
//! `DIR/.<file>.<pid>.partial` and renamed into place when every output is complete, so a
//! reader never sees half a file. Dropped without [`Outputs::commit`], the partial files are
//! removed. A run killed outright (SIGKILL, power loss) cannot clean up: the next run for the
//! same name removes the partial files whose process is gone ([`Outputs::new`]).
//!
//! Names are `OsString`s: a file name need not be UTF-8.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The outputs: their final paths, the `.partial` names they are written to, and cleanup.
pub struct Outputs {
    dir: PathBuf,
    created_dir: bool,
    name: OsString,
    /// Final paths, one per suffix given to [`Outputs::new`].
    files: Vec<PathBuf>,
    committed: bool,
    /// Stale partial files removed when this run started.
    pub removed_stale: Vec<PathBuf>,
}

/// `name` followed by `suffix`, as an OS string.
fn joined(name: &OsStr, suffix: &str) -> OsString {
    let mut s = name.to_os_string();
    s.push(suffix);
    s
}

impl Outputs {
    /// The outputs `DIR/<name><suffix>` for each of `suffixes`; creates DIR if needed and
    /// removes the stale partial files of `<name>` with any of `all_suffixes` (those of every
    /// kind of input, since an earlier run may have been of another kind).
    ///
    /// Errors: DIR cannot be created (the path and the OS reason).
    pub fn new(dir: &Path, name: &OsStr, suffixes: &[&str], all_suffixes: &[&str]) -> Result<Outputs, String> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the output directory {}: {e}", dir.display()))?;
        let files = suffixes.iter().map(|suffix| dir.join(joined(name, suffix))).collect();
        let finals: Vec<OsString> = all_suffixes.iter().map(|s| joined(name, s)).collect();
        let removed_stale = remove_stale_partials(dir, &finals);
        Ok(Outputs { dir: dir.to_path_buf(), created_dir, name: name.to_os_string(), files, committed: false, removed_stale })
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name the outputs start with.
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// The final paths, in the order of the suffixes.
    pub fn finals(&self) -> &[PathBuf] {
        &self.files
    }

    /// The final file name (no directory) of the output `<name><suffix>`.
    pub fn final_name(&self, suffix: &str) -> OsString {
        joined(&self.name, suffix)
    }

    /// The `.partial` path of the output `<name><suffix>`, where it is written until complete.
    pub fn partial_of(&self, suffix: &str) -> PathBuf {
        partial(&self.dir.join(joined(&self.name, suffix)))
    }

    /// Renames every partial file that exists to its final name; those not written (an
    /// interrupted run that kept only some outputs) are left out. Returns the final paths moved.
    ///
    /// Errors: a rename failed (the path and the OS reason).
    pub fn commit(&mut self) -> Result<Vec<PathBuf>, String> {
        let mut moved = Vec::new();
        for path in &self.files {
            let from = partial(path);
            if !from.exists() {
                continue;
            }
            std::fs::rename(&from, path).map_err(|e| format!("cannot move {} into place: {e}", path.display()))?;
            moved.push(path.clone());
        }
        self.committed = true;
        Ok(moved)
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for path in &self.files {
            let _ = std::fs::remove_file(partial(path));
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir); // only if empty
        }
    }
}

/// `DIR/.<file>.<pid>.partial`, where `path` is written by this process until it is complete.
pub fn partial(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.partial", std::process::id()));
    path.with_file_name(name)
}

/// Removes `DIR/.<final>.partial` (the old naming) and `DIR/.<final>.<pid>.partial` whose
/// process is no longer an emotiondetect tool, for each of `finals`. Returns what was removed.
fn remove_stale_partials(dir: &Path, finals: &[OsString]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        if finals.iter().any(|f| is_stale_partial_of(file.as_bytes(), f.as_bytes())) && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
}

/// Whether `file` is `.<final>.partial` or `.<final>.<pid>.partial` with `pid` gone.
fn is_stale_partial_of(file: &[u8], final_name: &[u8]) -> bool {
    let Some(rest) = file.strip_prefix(b".").and_then(|r| r.strip_prefix(final_name)).and_then(|r| r.strip_suffix(b".partial")) else {
        return false;
    };
    match rest {
        [] => true,
        [b'.', pid @ ..] => std::str::from_utf8(pid).ok().and_then(|p| p.parse::<u32>().ok()).is_some_and(|pid| !tool_is_running(pid)),
        _ => false,
    }
}

/// Whether process `pid` is running and is one of the tools (its name starts `emotiondetect`):
/// a partial file of a live run is left alone.
fn tool_is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with("emotiondetect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_carry_the_pid_and_stale_ones_are_recognised() {
        let me = std::process::id();
        assert_eq!(partial(Path::new("/d/x.csv")), PathBuf::from(format!("/d/.x.csv.{me}.partial")));
        assert!(is_stale_partial_of(b".x.csv.partial", b"x.csv"), "the old naming");
        assert!(is_stale_partial_of(b".x.csv.4000000000.partial", b"x.csv"), "no such process");
        assert!(!is_stale_partial_of(format!(".x.csv.{me}.partial").as_bytes(), b"x.csv"), "this run's own");
        assert!(!is_stale_partial_of(b".x.csv.abc.partial", b"x.csv") && !is_stale_partial_of(b".y.csv.partial", b"x.csv"));
    }

    #[test]
    fn non_utf8_names_and_stale_partials_of_a_killed_run() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-outputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let name = OsStr::from_bytes(b"caf\xe9");
        let stale = dir.join(OsStr::from_bytes(b".caf\xe9-people.csv.4000000000.partial"));
        std::fs::write(&stale, "left by a killed run").unwrap();
        let other = dir.join(".other.csv.partial");
        std::fs::write(&other, "not ours").unwrap();
        let mut out = Outputs::new(&dir, name, &[".jsonl", "-people.csv"], &[".jsonl", "-people.csv", "-frames.csv"]).unwrap();
        assert_eq!(out.removed_stale, vec![stale.clone()]);
        assert!(!stale.exists() && other.exists());
        std::fs::write(out.partial_of(".jsonl"), "{}\n").unwrap();
        let moved = out.commit().unwrap();
        assert_eq!(moved, vec![dir.join(OsStr::from_bytes(b"caf\xe9.jsonl"))], "only what was written");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
