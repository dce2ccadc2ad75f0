// SPDX-License-Identifier: MIT
//! Sample photos for the Photo tab: a first try needs no photo of one's own. They are read once
//! at start-up from `--samples DIR` (default: `samples/` of the data directory, which
//! `./setup.sh` fills from the project's media), and served from memory by name: no path from
//! a request ever reaches the file system.

use std::path::{Path, PathBuf};

/// Samples offered at most (the first, by name).
pub const MAX_SAMPLES: usize = 12;

/// One sample photo.
pub struct Sample {
    /// Its file name (letters, digits, `-`, `_`, `.`), also its URL's last part.
    pub name: String,
    pub mime: &'static str,
    pub bytes: bytes::Bytes,
}

/// The default directory: `samples/` of the first data directory that has one.
pub fn default_dir() -> Option<PathBuf> {
    emotiondetect_core::runtime::data_dirs().into_iter().map(|d| d.join("samples")).find(|d| d.is_dir())
}

/// The JPEG and PNG files of `dir` of at most `max_bytes`, by name, at most [`MAX_SAMPLES`];
/// other files are skipped.
///
/// Errors: `dir` cannot be read (its path and the OS reason).
pub fn load(dir: &Path, max_bytes: usize) -> Result<Vec<Sample>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("--samples {}: {e}", dir.display()))?;
    let mut names: Vec<(String, &'static str)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !n.starts_with('.'))
        .filter_map(|n| mime(&n).map(|m| (n, m)))
        .collect();
    names.sort_by_key(|(n, _)| natural(n));
    let mut samples = Vec::new();
    for (name, mime) in names {
        if samples.len() == MAX_SAMPLES {
            break;
        }
        match std::fs::read(dir.join(&name)) {
            Ok(bytes) if !bytes.is_empty() && bytes.len() <= max_bytes => samples.push(Sample { name, mime, bytes: bytes.into() }),
            _ => {}
        }
    }
    Ok(samples)
}

/// The content type of a sample by its extension.
fn mime(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        _ => None,
    }
}

/// "2.jpg" before "10.jpg": numbers in names compare by value.
fn natural(name: &str) -> (u64, String) {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u64::MAX), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_pictures_with_plain_names_are_kept_in_natural_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in [("10.jpg", 3), ("2.JPG", 3), ("a b.jpg", 3), ("x.txt", 3), ("big.png", 99), (".h.png", 3), ("e.png", 0)] {
            std::fs::write(dir.path().join(name), vec![1u8; len]).unwrap();
        }
        std::fs::create_dir(dir.path().join("d.jpg")).unwrap();
        let names: Vec<String> = load(dir.path(), 10).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["2.JPG", "10.jpg"]);
        assert!(load(&dir.path().join("none"), 10).err().is_some_and(|e| e.contains("none")), "a missing directory is named");
    }
}
