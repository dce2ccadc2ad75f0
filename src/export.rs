// SPDX-License-Identifier: MIT
//! JSON lines output (`metadata-file`): one [`FrameReport`] per frame per line (the
//! `gvametaconvert` shape, see [`crate::frame_report`]), written to a file or to stdout.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::frame_report::FrameReport;

/// Where the lines go: a buffered file, or stdout for `-`.
pub struct MetadataWriter {
    out: Box<dyn Write + Send>,
    path: PathBuf,
}

impl MetadataWriter {
    /// Creates (truncates) `path`, or writes to stdout when it is `-`.
    ///
    /// Errors: [`Error::Create`] with the path and the OS reason.
    pub fn create(path: &Path) -> Result<MetadataWriter> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            let file = File::create(path).map_err(|e| Error::Create { path: path.to_path_buf(), reason: e.to_string() })?;
            Box::new(BufWriter::new(file))
        };
        Ok(MetadataWriter { out, path: path.to_path_buf() })
    }

    /// Writes one frame as one line.
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason.
    pub fn write_frame(&mut self, frame: &FrameReport) -> Result<()> {
        self.write_json(&frame.to_json())
    }

    /// Writes one frame already serialised by [`FrameReport::to_json`] (no newline) as one line.
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason.
    pub fn write_json(&mut self, json: &str) -> Result<()> {
        self.out.write_all(json.as_bytes()).and_then(|()| self.out.write_all(b"\n")).map_err(|e| self.write_error(e))
    }

    /// Pushes buffered lines to the file (at EOS and when stopping).
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.write_error(e))
    }

    fn write_error(&self, e: std::io::Error) -> Error {
        Error::Write { path: self.path.clone(), reason: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_writes_one_line_per_frame_and_reports_unwritable_paths() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("frames.jsonl");
        let mut w = MetadataWriter::create(&path).unwrap();
        let (a, b) = (FrameReport::new(2, 1), FrameReport { timestamp: Some(5), ..FrameReport::new(2, 1) });
        w.write_frame(&a).unwrap();
        w.write_frame(&b).unwrap();
        w.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<FrameReport> = text.lines().map(|l| FrameReport::from_json(l).unwrap()).collect();
        assert_eq!(lines, vec![a, b]);
        assert!(text.ends_with('\n'));
        let err = MetadataWriter::create(&dir.join("missing-dir/x.jsonl")).err().unwrap().to_string();
        assert!(err.contains("missing-dir/x.jsonl") && err.contains("cannot be written"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
