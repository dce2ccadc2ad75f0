// SPDX-License-Identifier: MIT
//! `pipelining=true`: faces are detected in frame N+1 on a worker thread while the streaming
//! thread classifies and draws frame N, so each frame leaves one frame later.
//!
//! The states, GStreamer-free and unit-tested: [`Overlap::push`] hands a frame to the worker and
//! finishes the one before (frame in, frame out one call later); [`Overlap::drain`] finishes the
//! frame left (before EOS, caps, a segment or any serialized event, which must follow it);
//! [`Overlap::discard`] drops it (flush). The element's `submit_input_buffer`/`generate_output`
//! overrides and its latency answer call these and [`frame_delay`].

use emotiondetect_core::error::Result;

use crate::worker::Worker;

/// One frame in flight on the worker and the frame done by it, waiting for its second half.
pub(super) struct Overlap<I, O> {
    worker: Worker<I, O>,
    pending: Option<O>,
}

impl<I: Send + 'static, O: Send + 'static> Overlap<I, O> {
    /// Starts the worker thread `name` running `first_half` on each frame.
    ///
    /// Errors: the OS cannot start a thread.
    pub(super) fn spawn(name: &str, first_half: impl FnMut(I) -> O + Send + 'static) -> std::io::Result<Self> {
        Ok(Overlap { worker: Worker::spawn(name, first_half)?, pending: None })
    }

    /// Hands `frame` to the worker; while it runs, `second_half` finishes the previous frame,
    /// whose result is returned (`None` for the first frame after a drain).
    ///
    /// Errors: the worker panicked on `frame` or stopped; the previous frame is still returned
    /// through `second_half` first, so nothing already analysed is lost.
    pub(super) fn push<R>(&mut self, frame: I, second_half: impl FnOnce(O) -> R) -> (Option<R>, Result<()>) {
        self.worker.submit(frame);
        let finished = self.pending.take().map(second_half);
        match self.worker.result() {
            Ok(done) => {
                self.pending = Some(done);
                (finished, Ok(()))
            }
            Err(e) => (finished, Err(e)),
        }
    }

    /// Finishes the frame left, if any.
    pub(super) fn drain<R>(&mut self, second_half: impl FnOnce(O) -> R) -> Option<R> {
        self.pending.take().map(second_half)
    }

    /// Drops the frame left (flushing).
    pub(super) fn discard(&mut self) {
        self.pending = None;
    }
}

/// The latency pipelining adds: one frame at `fps_n/fps_d`, ns; 0 for a variable or unknown
/// rate (`fps_n` 0).
pub(super) fn frame_delay(fps_n: i32, fps_d: i32) -> u64 {
    if fps_n <= 0 || fps_d <= 0 {
        return 0;
    }
    (1_000_000_000u128 * fps_d as u128 / fps_n as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap() -> Overlap<u32, (u32, std::thread::ThreadId)> {
        Overlap::spawn("test-overlap", |n: u32| {
            assert!(n != 13, "unlucky");
            (n * 10, std::thread::current().id())
        })
        .unwrap()
    }

    #[test]
    fn a_frame_comes_out_one_push_later_and_drains_at_the_end() {
        let mut o = overlap();
        let mut out = Vec::new();
        for n in 1..=3 {
            let (finished, ok) = o.push(n, |(v, t)| (v + 1, t));
            ok.unwrap();
            out.extend(finished);
        }
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), [11, 21], "frame in, the frame before out");
        assert_ne!(out[0].1, std::thread::current().id(), "the first half runs on the worker");
        assert_eq!(o.drain(|(v, _)| v + 1), Some(31), "EOS or caps: the last frame is finished");
        assert_eq!(o.drain(|(v, _)| v), None, "once");
        let (finished, ok) = o.push(4, |(v, _)| v);
        assert!(finished.is_none() && ok.is_ok(), "after a drain the next frame starts over");
    }

    #[test]
    fn a_flush_discards_the_frame_left_and_a_failure_keeps_the_one_before() {
        let mut o = overlap();
        o.push(1, |_| ()).1.unwrap();
        o.discard();
        assert_eq!(o.drain(|(v, _)| v), None, "flushed");
        o.push(2, |_| 0).1.unwrap();
        let (finished, result) = o.push(13, |(v, _)| v);
        assert_eq!(finished, Some(20), "the frame before the failure is finished");
        assert!(result.unwrap_err().to_string().contains("panicked"));
        assert_eq!(o.drain(|(v, _)| v), None);
        o.push(5, |_| 0).1.unwrap();
        assert_eq!(o.drain(|(v, _)| v), Some(50), "the worker survives");
    }

    #[test]
    fn the_delay_is_one_frame() {
        assert_eq!(frame_delay(25, 1), 40_000_000);
        assert_eq!(frame_delay(24000, 1001), 41_708_333);
        assert_eq!(frame_delay(0, 1), 0, "variable rate");
    }
}
