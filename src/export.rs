// SPDX-License-Identifier: MIT
//! JSON lines output (`metadata-file`): one [`FrameReport`] per frame per line (the
//! `gvametaconvert` shape, see [`crate::frame_report`]), written to a file or to stdout.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::frame_report::FrameReport;

/// Lines are gathered up to this many bytes before one write to the file.
const BUFFER_BYTES: usize = 64 * 1024;

/// Where the lines go: a file, or stdout for `-`. Only whole lines reach the file: lines are
/// gathered in memory and written together; when a write fails (disk full, file too large, I/O
/// error) the file is cut back to the end of the last whole line and the writer refuses further
/// lines, so the caller stops at the first error, as `filesink` does.
pub struct MetadataWriter {
    out: Sink,
    path: PathBuf,
    /// Whole lines not yet written.
    pending: Vec<u8>,
    /// The first write error: later writes return it again without touching the file.
    failed: Option<Error>,
}

enum Sink {
    Stdout(std::io::Stdout),
    /// The file and the length of its whole lines written so far, bytes.
    File {
        file: File,
        written: u64,
    },
}

impl MetadataWriter {
    /// Creates (truncates) `path`, or writes to stdout when it is `-`. A path that exists must be
    /// a regular file ([`crate::files::create_regular`]: a FIFO would block until a reader comes).
    ///
    /// Errors: [`Error::Create`] with the path and the OS reason.
    pub fn create(path: &Path) -> Result<MetadataWriter> {
        let out = if path.as_os_str() == "-" {
            Sink::Stdout(std::io::stdout())
        } else {
            let file = crate::files::create_regular(path).map_err(|e| Error::Create { path: path.to_path_buf(), reason: e.to_string() })?;
            Sink::File { file, written: 0 }
        };
        Ok(MetadataWriter { out, path: path.to_path_buf(), pending: Vec::new(), failed: None })
    }

    /// Writes one frame as one line.
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason.
    pub fn write_frame(&mut self, frame: &FrameReport) -> Result<()> {
        self.write_json(&frame.to_json())
    }

    /// Writes one frame already serialised by [`FrameReport::to_json`] (no newline) as one line.
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason; after one, every call returns it.
    pub fn write_json(&mut self, json: &str) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.pending.extend_from_slice(json.as_bytes());
        self.pending.push(b'\n');
        if self.pending.len() >= BUFFER_BYTES || matches!(self.out, Sink::Stdout(_)) {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Pushes the gathered lines to the file (at EOS and when stopping).
    ///
    /// Errors: [`Error::Write`] with the path and the OS reason.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.write_pending()
    }

    /// The path written to (`-` for stdout).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_pending(&mut self) -> Result<()> {
        let result = match &mut self.out {
            Sink::Stdout(out) => out.write_all(&self.pending).and_then(|()| out.flush()),
            Sink::File { file, written } => match file.write_all(&self.pending) {
                Ok(()) => {
                    *written += self.pending.len() as u64;
                    Ok(())
                }
                // A partial write leaves a cut line: cut the file back to its whole lines.
                Err(e) => Err(match file.set_len(*written) {
                    Ok(()) => e,
                    Err(t) => std::io::Error::new(e.kind(), format!("{e}; cutting it back to its last whole line failed too: {t}")),
                }),
            },
        };
        self.pending.clear();
        result.map_err(|e| {
            let e = Error::Write { path: self.path.clone(), reason: e.to_string() };
            self.failed = Some(e.clone());
            e
        })
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
