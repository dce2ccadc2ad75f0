// SPDX-License-Identifier: MIT
//! `pipelining=true`: faces are detected in frame N+1 on a worker thread while the streaming
//! thread finishes frame N, pushes it downstream and receives frame N+2 from upstream, so each
//! frame leaves one frame later.
//!
//! The states, GStreamer-free and unit-tested: [`Overlap::push`] hands a frame to the worker and
//! finishes the one before (frame in, frame out one call later); [`Overlap::drain`] finishes the
//! frame left (before EOS, caps, a segment or any serialized event, which must follow it);
//! [`Overlap::discard`] drops it (flush). The element's `submit_input_buffer`/`generate_output`
//! overrides and its latency answer call these and [`frame_delay`].

use emotiondetect_core::error::Result;

use crate::worker::Worker;

/// The worker and whether a frame is on it, its result not yet collected (at most one).
pub(super) struct Overlap<I, O> {
    worker: Worker<I, O>,
    in_flight: bool,
}

impl<I: Send + 'static, O: Send + 'static> Overlap<I, O> {
    /// Starts the worker thread `name` running `first_half` on each frame.
    ///
    /// Errors: the OS cannot start a thread.
    pub(super) fn spawn(name: &str, first_half: impl FnMut(I) -> O + Send + 'static) -> std::io::Result<Self> {
        Ok(Overlap { worker: Worker::spawn(name, first_half)?, in_flight: false })
    }

    /// Hands `frame` to the worker and returns at once with the previous frame, finished by
    /// `second_half` once its first half is done (`None` for the first frame after a drain).
    /// `frame`'s first half goes on while the caller pushes the result and waits for the next
    /// frame: that is the overlap, so this call never waits for `frame` itself.
    ///
    /// Errors: the previous frame's first half panicked or the worker stopped; that frame is
    /// lost, `frame` is on the worker.
    pub(super) fn push<R>(&mut self, frame: I, second_half: impl FnOnce(O) -> R) -> Result<Option<R>> {
        // Submitted first, so the worker starts on it as soon as the previous one is done.
        self.worker.submit(frame);
        if !std::mem::replace(&mut self.in_flight, true) {
            return Ok(None);
        }
        self.worker.result().map(|done| Some(second_half(done)))
    }

    /// Waits for the frame on the worker, if any, and finishes it.
    ///
    /// Errors: its first half panicked or the worker stopped; the frame is lost.
    pub(super) fn drain<R>(&mut self, second_half: impl FnOnce(O) -> R) -> Result<Option<R>> {
        if !std::mem::take(&mut self.in_flight) {
            return Ok(None);
        }
        self.worker.result().map(|done| Some(second_half(done)))
    }

    /// Drops the frame on the worker (flushing), once its first half is done, so the next
    /// result is the next frame's.
    pub(super) fn discard(&mut self) {
        if std::mem::take(&mut self.in_flight) {
            let _ = self.worker.result();
        }
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
            out.extend(o.push(n, |(v, t)| (v + 1, t)).unwrap());
        }
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), [11, 21], "frame in, the frame before out");
        assert_ne!(out[0].1, std::thread::current().id(), "the first half runs on the worker");
        assert_eq!(o.drain(|(v, _)| v + 1).unwrap(), Some(31), "EOS or caps: the last frame is finished");
        assert_eq!(o.drain(|(v, _)| v).unwrap(), None, "once");
        assert_eq!(o.push(4, |(v, _)| v).unwrap(), None, "after a drain the next frame starts over");
    }

    #[test]
    fn push_returns_while_the_new_frame_is_still_on_the_worker() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate);
        let mut o = Overlap::spawn("test-overlap-gate", move |n: u32| {
            if n == 2 {
                // Bounded, so that a push that waits for this frame fails the test, not hangs it.
                let _ = gate.lock().unwrap().recv_timeout(std::time::Duration::from_secs(5));
            }
            n
        })
        .unwrap();
        o.push(1, |v| v).unwrap();
        // Frame 2 blocks on the worker until released; push must still return frame 1.
        let start = std::time::Instant::now();
        let finished = o.push(2, |v| v).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "push waited for the new frame");
        assert_eq!(finished, Some(1));
        release.send(()).unwrap();
        assert_eq!(o.drain(|v| v).unwrap(), Some(2));
    }

    #[test]
    fn a_flush_discards_the_frame_left_and_a_failure_loses_only_its_frame() {
        let mut o = overlap();
        o.push(1, |_| ()).unwrap();
        o.discard();
        assert_eq!(o.drain(|(v, _)| v).unwrap(), None, "flushed");
        o.push(2, |_| 0).unwrap();
        assert_eq!(o.push(13, |(v, _)| v).unwrap(), Some(20), "the frame before the failure is finished");
        // Frame 13 is lost: the error comes instead of it.
        assert!(o.push(5, |(v, _)| v).unwrap_err().to_string().contains("panicked"));
        assert_eq!(o.drain(|(v, _)| v).unwrap(), Some(50), "the worker survives");
        o.push(6, |_| 0).unwrap();
        o.push(13, |_| 0).unwrap();
        assert!(o.drain(|(v, _)| v).unwrap_err().to_string().contains("panicked"), "a drain reports it too");
    }

    #[test]
    fn the_delay_is_one_frame() {
        assert_eq!(frame_delay(25, 1), 40_000_000);
        assert_eq!(frame_delay(24000, 1001), 41_708_333);
        assert_eq!(frame_delay(0, 1), 0, "variable rate");
    }
}
