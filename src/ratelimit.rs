// SPDX-License-Identifier: MIT
//! Rate limiting of repeated warnings: a stream that fails on every frame (a model that gives
//! NaN, a frame that cannot be mapped) must say so once, then at most once per interval with
//! the count of what was not said, not flood the bus with one warning per frame.

use std::time::{Duration, Instant};

/// The default interval between two warnings of the same kind.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Lets the first event through, then at most one per `interval`, counting the others.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(WARNING_INTERVAL)
    }
}

impl RateLimiter {
    /// A limiter letting one event through per `interval`.
    pub fn new(interval: Duration) -> RateLimiter {
        RateLimiter { interval, last: None, suppressed: 0 }
    }

    /// Whether the event at `now` is reported: `Some(n)`, with `n` the events held back since
    /// the last one reported, or `None` (counted, to be reported with the next).
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_interval_with_the_count_of_the_others() {
        let mut limiter = RateLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limiter.allow(t0), Some(0), "the first is reported");
        for s in 1..10 {
            assert_eq!(limiter.allow(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(limiter.allow(t0 + Duration::from_secs(10)), Some(9), "then one with the nine held back");
        assert_eq!(limiter.allow(t0 + Duration::from_secs(11)), None);
        assert_eq!(limiter.allow(t0 + Duration::from_secs(100)), Some(1));
    }
}
