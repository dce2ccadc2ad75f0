// SPDX-License-Identifier: MIT
//! Video jobs: an uploaded video analysed by `emotiondetect_tools::video::run` (the report of
//! `emotiondetect-video`) in a directory of the server's private temporary directory. The
//! upload is deleted once analysed; the reports of the last few jobs are kept for download and
//! everything goes when the server stops. Paths come from job numbers, never from the client.

use std::collections::VecDeque;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use emotiondetect_tools::video::{self, Progress};
use serde::Serialize;

/// The report files of a job: (the name in the URL, the suffix `video::run` gives the file
/// after the input's stem [`INPUT_STEM`], the content type). The files are also served under
/// their names on disk (`video-people.csv`), which the report page's relative links use.
pub const FILES: [(&str, &str, &str); 7] = [
    ("emotions.mp4", "-emotions.mp4", "video/mp4"),
    ("report.html", "-report.html", "text/html; charset=utf-8"),
    ("people.csv", "-people.csv", "text/csv; charset=utf-8"),
    ("people.json", "-people.json", "application/json"),
    ("frames.csv", "-frames.csv", "text/csv; charset=utf-8"),
    ("timeline.png", "-timeline.png", "image/png"),
    ("frames.jsonl", ".jsonl", "application/x-ndjson"),
];
/// The uploaded file's name inside its job directory (so the outputs are `video-...`).
const INPUT_STEM: &str = "video";

/// Where a job is.
#[derive(Clone, Debug, Serialize)]
pub struct JobStatus {
    /// `analysing`, `done` or `failed`.
    pub state: &'static str,
    /// 0..1 of the video's duration analysed (0 until the duration is known).
    pub progress: f64,
    /// The analysis' one-line status (position, frames, fps) or its summary when done.
    pub message: String,
    /// Why it failed.
    pub error: Option<String>,
    /// The URLs of the report files, when done: name -> URL.
    pub files: Vec<(String, String)>,
}

/// One video job.
pub struct Job {
    pub id: u64,
    dir: PathBuf,
    status: Mutex<JobStatus>,
    duration_ns: AtomicU64,
    /// Stop requests for `video::run` (server shutdown).
    stop: AtomicUsize,
}

impl Job {
    fn lock(&self) -> MutexGuard<'_, JobStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the job's status.
    pub fn status(&self) -> JobStatus {
        self.lock().clone()
    }

    /// Where the upload is written (a name of the server's choosing).
    pub fn input_path(&self) -> PathBuf {
        self.dir.join(INPUT_STEM)
    }

    /// The path of report file `name` (one of [`FILES`]) once the job is done.
    pub fn file(&self, name: &str) -> Option<(PathBuf, &'static str)> {
        if self.lock().state != "done" {
            return None;
        }
        let on_disk = |suffix: &str| name.strip_prefix(INPUT_STEM) == Some(suffix);
        let (_, suffix, mime) = FILES.iter().find(|(n, s, _)| *n == name || on_disk(s))?;
        Some((self.dir.join("out").join(format!("{INPUT_STEM}{suffix}")), mime))
    }

    /// Analyses the upload (blocking: seconds to minutes), then deletes it. `max_pixels`: the
    /// largest frame analysed ([`video::Args::max_pixels`]).
    pub fn run(self: &Arc<Self>, max_pixels: Option<u64>) {
        let args = video::Args {
            input: self.input_path(),
            out_dir: self.dir.join("out"),
            props: vec![("model-instance-id".into(), crate::engine::MODEL_INSTANCE_ID.into())],
            audio: video::Audio::Aac,
            min_track_seconds: video::MIN_TRACK_SECONDS,
            min_track_confidence: video::MIN_TRACK_CONFIDENCE,
            plot_people: emotiondetect_tools::report::DEFAULT_MAX_PEOPLE,
            grace: video::EOS_GRACE,
            max_pixels,
        };
        let result = video::run(&args, self.as_ref(), &self.stop);
        let _ = std::fs::remove_file(self.input_path());
        let mut s = self.lock();
        match result {
            Ok(done) => {
                s.state = "done";
                s.progress = 1.0;
                // "INPUT: 63 frames (2.6 s) in 3.3 s (19.2 fps), 2 people; wrote ... into DIR"
                let what = done.summary.split_once(": ").map_or(done.summary.as_str(), |(_, w)| w);
                s.message = what.split("; wrote").next().unwrap_or(what).to_string();
                s.files = FILES.iter().map(|(n, _, _)| (n.to_string(), format!("/api/video/{}/{n}", self.id))).collect();
            }
            Err(f) => {
                s.state = "failed";
                // The job's directory means nothing to the client.
                s.error = Some(f.message.replace(&self.input_path().display().to_string(), "the video"));
            }
        }
    }
}

impl Progress for Job {
    fn set_length(&self, duration_ns: u64) {
        self.duration_ns.store(duration_ns, Ordering::Relaxed);
    }
    fn update(&self, position_ns: u64, message: &str) {
        let d = self.duration_ns.load(Ordering::Relaxed);
        let mut s = self.lock();
        if d > 0 {
            s.progress = (position_ns as f64 / d as f64).clamp(0.0, 1.0);
        }
        s.message = message.replace(&self.input_path().display().to_string(), "the video");
    }
    fn note(&self, text: &str) {
        eprintln!("emotiondetect-web: video job {}: {text}", self.id);
    }
    fn finish(&self) {}
}

/// All jobs, in a private temporary directory removed when the server stops.
pub struct Jobs {
    root: tempfile::TempDir,
    next: AtomicU64,
    jobs: Mutex<VecDeque<Arc<Job>>>,
    max_kept: usize,
}

impl Jobs {
    /// Creates the temporary directory (mode 0700, in `$TMPDIR`). Everything below it is the
    /// server's alone: directories 0700, files 0600, whatever the umask (the server runs with
    /// umask 077, see `main`).
    ///
    /// Errors: it cannot be created (the OS reason).
    pub fn new(max_kept: usize) -> Result<Jobs, String> {
        let root = tempfile::Builder::new()
            .prefix("emotiondetect-web-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory in {}: {e}", std::env::temp_dir().display()))?;
        Ok(Jobs { root, next: AtomicU64::new(1), jobs: Mutex::new(VecDeque::new()), max_kept })
    }

    /// The temporary directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new job with its directory; the oldest finished jobs past `max_kept` are deleted.
    ///
    /// Errors: the directory cannot be created.
    pub fn create(&self) -> Result<Arc<Job>, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.root.path().join(format!("job-{id}"));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| format!("cannot create job directory {id}: {e}"))?;
        let status = JobStatus { state: "analysing", progress: 0.0, message: "uploading".into(), error: None, files: Vec::new() };
        let job = Arc::new(Job { id, dir, status: Mutex::new(status), duration_ns: AtomicU64::new(0), stop: AtomicUsize::new(0) });
        let mut jobs = self.lock();
        jobs.push_back(job.clone());
        while jobs.len() > self.max_kept {
            let Some(i) = jobs.iter().position(|j| j.lock().state != "analysing") else { break };
            if let Some(old) = jobs.remove(i) {
                let _ = std::fs::remove_dir_all(&old.dir);
            }
        }
        Ok(job)
    }

    /// Forgets job `id` and deletes its directory (a refused or abandoned upload).
    pub fn remove(&self, id: u64) {
        let mut jobs = self.lock();
        if let Some(i) = jobs.iter().position(|j| j.id == id) {
            if let Some(job) = jobs.remove(i) {
                let _ = std::fs::remove_dir_all(&job.dir);
            }
        }
    }

    /// Job `id`, if it is kept.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.lock().iter().find(|j| j.id == id).cloned()
    }

    /// Asks every running analysis to stop at once (server shutdown).
    pub fn stop_all(&self) {
        for job in self.lock().iter() {
            job.stop.store(2, Ordering::SeqCst);
        }
    }
}
