// SPDX-License-Identifier: MIT
//! JSON lines output (`emotionpublish location=`): one [`FrameReport`] per frame per line (the
//! `gvametaconvert` shape, see [`crate::frame_report`]), written to a file or to stdout, by
//! [`MetadataWriter`] in the caller's thread or by [`LineSender`] on a thread of its own.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// Whole lines not yet written, and how many.
    pending: Vec<u8>,
    pending_lines: u64,
    /// Lines written to the file (or stdout) so far.
    lines_written: u64,
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
            let file = crate::files::create_regular(path).map_err(|e| Error::Create { path: path.to_path_buf(), source: Arc::new(e) })?;
            Sink::File { file, written: 0 }
        };
        Ok(MetadataWriter { out, path: path.to_path_buf(), pending: Vec::new(), pending_lines: 0, lines_written: 0, failed: None })
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
        self.pending_lines += 1;
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

    /// Lines in the file so far (gathered ones not counted until written; the lines a failed
    /// write lost never are).
    pub fn lines_written(&self) -> u64 {
        self.lines_written
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
        if result.is_ok() {
            self.lines_written += std::mem::take(&mut self.pending_lines);
        }
        self.pending_lines = 0;
        result.map_err(|e| {
            let e = Error::Write { path: self.path.clone(), source: Arc::new(e) };
            self.failed = Some(e.clone());
            e
        })
    }
}

/// A [`MetadataWriter`] on its own thread behind a bounded queue, so the caller (a streaming
/// thread) never waits on the disk: [`LineSender::send`] only queues; when `queue_size` lines
/// wait already, the oldest is dropped and counted, as [`crate::publish::Publisher`] does.
/// The first write error ends the writing: `on_error` is called once with it (from the
/// sender's thread), and later sends return it. [`LineSender::dropped`] counts every line that
/// does not reach the file: dropped from the full queue, lost with a write error, or refused
/// after one. Lines still queued when [`LineSender::flush`] times out are not lost: closing
/// writes them.
pub struct LineSender {
    shared: Arc<LineQueue>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct LineQueue {
    state: Mutex<Lines>,
    changed: Condvar,
    dropped: AtomicU64,
    /// Lines in the file so far.
    delivered: AtomicU64,
    queue_size: usize,
}

#[derive(Default)]
struct Lines {
    waiting: VecDeque<String>,
    /// Lines taken by the thread and not yet in the file.
    writing: usize,
    failed: Option<Error>,
    stop: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LineSender {
    /// Creates `path` ([`MetadataWriter::create`]) now, so a bad path fails here, and starts
    /// the writing thread; `queue_size` is at least 1.
    ///
    /// Errors: [`Error::Create`] with the path and the OS reason; [`Error::ThreadStart`] when
    /// the thread cannot start.
    pub fn start(path: &Path, queue_size: usize, on_error: impl Fn(&Error) + Send + 'static) -> Result<LineSender> {
        let writer = MetadataWriter::create(path)?;
        let shared = Arc::new(LineQueue {
            state: Mutex::default(),
            changed: Condvar::new(),
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            queue_size: queue_size.max(1),
        });
        let s = shared.clone();
        let thread =
            std::thread::Builder::new().name("emotiondetect-jsonl".into()).spawn(move || write_lines(&s, writer, on_error)).map_err(
                |e| Error::ThreadStart { purpose: path.display().to_string(), thread: "emotiondetect-jsonl".into(), source: Arc::new(e) },
            )?;
        Ok(LineSender { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Queues one line (a [`FrameReport::to_json`], no newline); never blocks.
    ///
    /// Errors: the write error that ended the writing.
    pub fn send(&self, line: String) -> Result<()> {
        let mut lines = lock(&self.shared.state);
        if let Some(e) = &lines.failed {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(e.clone());
        }
        if push_newest(&mut lines.waiting, line, self.shared.queue_size) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(lines);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Lines not in the file so far (see [`LineSender`]); never waits on the disk.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines written to the file (or stdout) so far.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }

    /// Waits, at most `timeout`, until every queued line is in the file. Returns the lines not
    /// written by then: they stay queued, and [`LineSender::close`] writes them (0 once the
    /// writing has failed: the lost lines are in [`LineSender::dropped`]).
    pub fn flush(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut lines = lock(&self.shared.state);
        loop {
            let left = (lines.waiting.len() + lines.writing) as u64;
            let now = Instant::now();
            if left == 0 || lines.failed.is_some() || now >= deadline {
                return if lines.failed.is_some() { 0 } else { left };
            }
            lines = self.shared.changed.wait_timeout(lines, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Writes what is queued and ends the thread (waiting for the disk). Returns
    /// [`LineSender::dropped`], final from now on. Dropping closes too.
    pub fn close(&self) -> u64 {
        lock(&self.shared.state).stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        self.dropped()
    }
}

impl Drop for LineSender {
    fn drop(&mut self) {
        self.close();
    }
}

/// Appends `line`, dropping the oldest when `size` lines wait already; returns whether one was.
fn push_newest(waiting: &mut VecDeque<String>, line: String, size: usize) -> bool {
    let full = waiting.len() >= size;
    if full {
        waiting.pop_front();
    }
    waiting.push_back(line);
    full
}

/// The sender's thread: takes the waiting lines in one go, writes them, pushes them to the file
/// once nothing more waits.
fn write_lines(shared: &LineQueue, mut writer: MetadataWriter, on_error: impl Fn(&Error)) {
    let mut lines = lock(&shared.state);
    loop {
        while lines.waiting.is_empty() && !lines.stop {
            lines = shared.changed.wait(lines).unwrap_or_else(PoisonError::into_inner);
        }
        if lines.waiting.is_empty() {
            return;
        }
        let batch: Vec<String> = lines.waiting.drain(..).collect();
        lines.writing = batch.len();
        drop(lines);
        let before = writer.lines_written();
        let written = batch.iter().try_for_each(|l| writer.write_json(l)).and_then(|()| writer.flush());
        shared.delivered.fetch_add(writer.lines_written() - before, Ordering::Relaxed);
        lines = lock(&shared.state);
        lines.writing = 0;
        if let Err(e) = written {
            // The batch's lines not in the file, and those queued meanwhile.
            let lost = batch.len() as u64 - (writer.lines_written() - before) + lines.waiting.len() as u64;
            shared.dropped.fetch_add(lost, Ordering::Relaxed);
            lines.waiting.clear();
            lines.failed = Some(e.clone());
            drop(lines);
            shared.changed.notify_all();
            on_error(&e);
            return;
        }
        shared.changed.notify_all();
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

    #[test]
    fn the_sender_writes_every_line_in_order_off_the_callers_thread_and_reports_a_full_disk() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-sender-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("frames.jsonl");
        let sender = LineSender::start(&path, 1000, |_| panic!("no error expected")).unwrap();
        let frames: Vec<FrameReport> = (0..300).map(|t| FrameReport { timestamp: Some(t), ..FrameReport::new(4, 3) }).collect();
        for f in &frames {
            sender.send(f.to_json()).unwrap();
        }
        assert_eq!(sender.flush(Duration::from_secs(10)), 0);
        assert_eq!(sender.dropped(), 0);
        let text = std::fs::read_to_string(&path).unwrap();
        let back: Vec<FrameReport> = text.lines().map(|l| FrameReport::from_json(l).unwrap()).collect();
        assert_eq!(back, frames, "every line, in order, already in the file");
        drop(sender);

        let errors = Arc::new(Mutex::new(Vec::new()));
        let e2 = errors.clone();
        let full = LineSender::start(Path::new("/dev/full"), 10, move |e| e2.lock().unwrap().push(e.to_string()));
        // /dev/full is not a regular file: refused when it is opened, before any thread.
        assert!(full.err().unwrap().to_string().contains("/dev/full"));
        assert!(errors.lock().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let mut q = VecDeque::new();
        let dropped: Vec<bool> = ["a", "b", "c", "d"].iter().map(|l| push_newest(&mut q, l.to_string(), 2)).collect();
        assert_eq!(dropped, [false, false, true, true]);
        assert_eq!(q, ["c", "d"], "the newest are kept");
    }
}
