// SPDX-License-Identifier: MIT
//! Checked opening of every file the element and the tools read or write (models, specs, the
//! ONNX Runtime library, `emotionpublish location`, images, JSON lines): what the path is is checked
//! first with `std::fs::metadata`, so a FIFO (whose `open` blocks until a writer or reader
//! comes), a directory or a device is refused with a clear message instead of hanging or failing
//! later with a misleading one, and the real OS error (permission denied, too many levels of
//! symbolic links, ...) is reported as it is.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// What a path is, in words, when it is not a regular file ("a FIFO", "a directory", ...).
fn kind(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else {
        Some("not a regular file")
    }
}

/// Checks that `path` is an existing regular file (symbolic links followed).
///
/// Errors: the OS error of `stat` (no such file, permission denied, too many levels of symbolic
/// links, ...), or [`io::ErrorKind::InvalidInput`] saying what the path is instead ("is a FIFO
/// (named pipe), expected a regular file"). The path is not in the message: callers name it.
pub fn check_regular(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::metadata(path)?;
    match kind(&meta) {
        None => Ok(meta),
        Some(k) => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("is {k}, expected a regular file"))),
    }
}

/// Opens the regular file `path` for reading, after [`check_regular`].
///
/// Errors: as [`check_regular`], then the OS error of `open` (permission denied, ...).
pub fn open_regular(path: &Path) -> io::Result<File> {
    check_regular(path)?;
    File::open(path)
}

/// Reads the whole regular file `path` as UTF-8 text, after [`check_regular`].
///
/// Errors: as [`open_regular`], then the read error (invalid UTF-8 included).
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    io::Read::read_to_string(&mut open_regular(path)?, &mut text)?;
    Ok(text)
}

/// Creates (truncates) `path` for writing: a path that exists must be a regular file (a FIFO
/// would block `open` until a reader comes, a device or directory is refused).
///
/// Errors: as [`check_regular`] for an existing path, then the OS error of `create`.
pub fn create_regular(path: &Path) -> io::Result<File> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        // A dangling or looping link, or an existing entry: what it points to must be a file.
        _ => {
            check_regular(path)?;
        }
    }
    File::create(path)
}

/// The error's message with its sources, "a: b: c", for errors (like libloading's "dlopen
/// failed") whose own text leaves the reason to their source.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("emotiondetect-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo").arg(path).status().map(|s| s.success());
        assert!(matches!(ok, Ok(true)), "mkfifo {} failed: {ok:?} (coreutils is needed)", path.display());
    }

    #[test]
    fn fifos_directories_devices_and_link_loops_are_refused_with_what_they_are() {
        let dir = temp("kinds");
        let fifo = dir.join("pipe.onnx");
        mkfifo(&fifo);
        // These return at once: a plain open of the FIFO would block until a writer comes.
        assert!(open_regular(&fifo).unwrap_err().to_string().contains("is a FIFO"));
        assert!(create_regular(&fifo).unwrap_err().to_string().contains("is a FIFO"));
        assert!(read_regular_to_string(&dir).unwrap_err().to_string().contains("is a directory"));
        assert!(open_regular(Path::new("/dev/null")).unwrap_err().to_string().contains("character device"));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = open_regular(&a).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(40), "ELOOP, not 'no such file': {e}");
        assert!(create_regular(&a).unwrap_err().to_string().contains("symbolic links"));
        assert_eq!(open_regular(&dir.join("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
        let file = dir.join("f.txt");
        create_regular(&file).unwrap();
        assert_eq!(read_regular_to_string(&file).unwrap(), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
