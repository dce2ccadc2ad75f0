// SPDX-License-Identifier: MIT
//! A persistent worker thread that runs one job at a time: `pipelining` detects faces in the
//! next frame on it while the streaming thread finishes the current one, without starting a
//! thread per frame.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use emotiondetect_core::error::{panic_message, Error, Result};

/// A thread that applies one function to the jobs it is given, in order.
pub struct Worker<I, O> {
    jobs: Option<Sender<I>>,
    /// In a mutex only so that the worker is `Sync` (the element's state must be); one
    /// thread collects results, so it is never contended.
    results: Mutex<Receiver<std::thread::Result<O>>>,
    thread: Option<JoinHandle<()>>,
    /// The thread's name, for errors.
    name: String,
}

impl<I: Send + 'static, O: Send + 'static> Worker<I, O> {
    /// Starts a thread named `name` that runs `work` on each job.
    ///
    /// Errors: the OS cannot start a thread.
    pub fn spawn(name: &str, mut work: impl FnMut(I) -> O + Send + 'static) -> std::io::Result<Worker<I, O>> {
        let (jobs, inbox) = mpsc::channel::<I>();
        let (outbox, results) = mpsc::channel();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            for job in inbox {
                // A panic is handed back as a result, so the caller reports it and the thread goes on.
                if outbox.send(std::panic::catch_unwind(AssertUnwindSafe(|| work(job)))).is_err() {
                    break;
                }
            }
        })?;
        Ok(Worker { jobs: Some(jobs), results: Mutex::new(results), thread: Some(thread), name: name.to_string() })
    }

    /// Hands `job` to the thread; its result comes from [`Self::result`].
    pub fn submit(&self, job: I) {
        // The thread only ends when `jobs` is dropped (in `drop`), so sending cannot fail here.
        let _ = self.jobs.as_ref().map(|j| j.send(job));
    }

    /// Waits for the result of the oldest job submitted and not yet collected (call it once
    /// per [`Self::submit`]).
    ///
    /// Errors: [`Error::Panicked`] when the job panicked, [`Error::ThreadStopped`] when the
    /// thread has stopped; both name the thread.
    pub fn result(&self) -> Result<O> {
        match self.results.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(payload)) => {
                Err(Error::Panicked { what: format!("a job on the worker thread {}", self.name), message: panic_message(payload.as_ref()) })
            }
            Err(_) => Err(Error::ThreadStopped { thread: self.name.clone() }),
        }
    }
}

impl<I, O> Drop for Worker<I, O> {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_on_one_thread_and_panics_are_reported() {
        let w = Worker::spawn("test-worker", |n: u32| {
            assert!(n != 3, "three");
            (n * 2, std::thread::current().id())
        })
        .unwrap();
        let mut threads = Vec::new();
        for n in [1, 2] {
            w.submit(n);
            let (v, t) = w.result().unwrap();
            assert_eq!(v, n * 2);
            threads.push(t);
        }
        assert_eq!(threads[0], threads[1], "one persistent thread");
        assert_ne!(threads[0], std::thread::current().id());
        w.submit(3);
        assert_eq!(w.result().unwrap_err().to_string(), "a job on the worker thread test-worker panicked: three");
        w.submit(4);
        assert_eq!(w.result().unwrap().0, 8, "the thread survives a panicking job");
    }
}
