// SPDX-License-Identifier: MIT
//! Where a frame's time goes: the wall-clock time of each stage of the analysis, per frame,
//! and their medians over a stream. The element logs them in its `emotiondetect-stages` debug
//! category (per frame at DEBUG, medians at INFO on EOS and stop); `bench/stages.sh` turns
//! them into the table of docs/performance.md.
//!
//! The time outside inference is a frame's total less its two ONNX Runtime calls (detector and
//! classifier): what the element adds to the inference-only bound (`examples/inference_bound.rs`).

use std::fmt;
use std::time::{Duration, Instant};

/// A stage of one frame's analysis, in the order the element runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Mapping the buffer, and for formats without a fast path, GStreamer's conversion.
    Map,
    /// Conversion and scaling of the frame into the detector's input tensor.
    Prepare,
    /// The detector's ONNX Runtime call (and the wait for a model shared under
    /// `model-instance-id`).
    DetectorRun,
    /// Decoding the detector's outputs into faces, NMS, the size and count limits.
    Decode,
    /// Matching faces to tracks.
    Track,
    /// Cropping, aligning and scaling faces into the classifier's batch tensor.
    Crop,
    /// The classifier's ONNX Runtime calls and softmax (and, shared, the wait for the batch).
    ClassifierRun,
    /// Building the frame report.
    Report,
    /// Drawing boxes and labels.
    Draw,
    /// The ROI and report metas and the bus message.
    Message,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 10] = [
        Stage::Map,
        Stage::Prepare,
        Stage::DetectorRun,
        Stage::Decode,
        Stage::Track,
        Stage::Crop,
        Stage::ClassifierRun,
        Stage::Report,
        Stage::Draw,
        Stage::Message,
    ];

    /// The name in log lines and tables.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Map => "map",
            Stage::Prepare => "prepare",
            Stage::DetectorRun => "detector_run",
            Stage::Decode => "decode",
            Stage::Track => "track",
            Stage::Crop => "crop",
            Stage::ClassifierRun => "classifier_run",
            Stage::Report => "report",
            Stage::Draw => "draw",
            Stage::Message => "message",
        }
    }

    fn is_inference(self) -> bool {
        matches!(self, Stage::DetectorRun | Stage::ClassifierRun)
    }
}

/// One frame's time in each stage, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    ns: [u64; Stage::ALL.len()],
}

impl StageTimes {
    /// Adds `d` to `stage`.
    pub fn add(&mut self, stage: Stage, d: Duration) {
        let slot = &mut self.ns[stage as usize];
        *slot = slot.saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    }

    /// The time spent in `stage`.
    pub fn get(&self, stage: Stage) -> Duration {
        Duration::from_nanos(self.ns[stage as usize])
    }

    /// Adds each of `other`'s stages to this one's.
    pub fn merge(&mut self, other: &StageTimes) {
        for s in Stage::ALL {
            self.add(s, other.get(s));
        }
    }

    /// The sum of every stage.
    pub fn total(&self) -> Duration {
        Stage::ALL.iter().map(|&s| self.get(s)).sum()
    }

    /// The sum of every stage but the two ONNX Runtime calls.
    pub fn outside_inference(&self) -> Duration {
        Stage::ALL.iter().filter(|s| !s.is_inference()).map(|&s| self.get(s)).sum()
    }
}

/// `name=ms` pairs of every stage, then `total` and `outside_inference`, milliseconds with three
/// decimals.
impl fmt::Display for StageTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_pairs(f, Stage::ALL.map(|s| self.get(s)), self.total(), self.outside_inference())
    }
}

/// `name=ms` pairs of `stages` (in [`Stage::ALL`] order), then `total` and `outside_inference`.
fn write_pairs(f: &mut fmt::Formatter<'_>, stages: [Duration; Stage::ALL.len()], total: Duration, outside: Duration) -> fmt::Result {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (s, d) in Stage::ALL.iter().zip(stages) {
        write!(f, "{}={:.3} ", s.name(), ms(d))?;
    }
    write!(f, "total={:.3} outside_inference={:.3}", ms(total), ms(outside))
}

/// A stopwatch that charges the time since its last lap to a stage.
#[derive(Clone, Copy, Debug)]
pub struct Laps {
    last: Instant,
}

impl Laps {
    /// Starts timing now.
    pub fn start() -> Laps {
        Laps { last: Instant::now() }
    }

    /// Starts over now, charging the time since the last lap to no stage (one timed apart).
    pub fn restart(&mut self) {
        self.last = Instant::now();
    }

    /// Adds the time since the start or the last lap to `stage` in `times`.
    pub fn lap(&mut self, times: &mut StageTimes, stage: Stage) {
        times.add(stage, self.split());
    }

    /// The time since the start or the last lap, for a caller that divides it among stages
    /// itself; starts the next lap.
    pub fn split(&mut self) -> Duration {
        let now = Instant::now();
        let d = now - self.last;
        self.last = now;
        d
    }
}

/// The stage times of a stream's frames, for their medians. Holds at most [`StageStats::CAPACITY`]
/// frames (10 numbers each); later ones are counted but not kept.
#[derive(Clone, Debug, Default)]
pub struct StageStats {
    frames: Vec<StageTimes>,
    dropped: u64,
}

impl StageStats {
    /// The most frames kept: 100,000 (about an hour at 25 fps, 8 MB).
    pub const CAPACITY: usize = 100_000;

    /// Keeps one frame's times.
    pub fn push(&mut self, times: StageTimes) {
        if self.frames.len() < Self::CAPACITY {
            self.frames.push(times);
        } else {
            self.dropped += 1;
        }
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame was kept.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The medians of each stage, of the total and of the time outside inference, over the
    /// frames kept; then forgets them.
    pub fn take_summary(&mut self) -> StageSummary {
        let frames = std::mem::take(&mut self.frames);
        let dropped = std::mem::take(&mut self.dropped);
        let median_of = |f: &dyn Fn(&StageTimes) -> Duration| median(frames.iter().map(f).collect());
        StageSummary {
            frames: frames.len(),
            dropped,
            stages: Stage::ALL.map(|s| median_of(&|t| t.get(s))),
            total: median_of(&|t| t.total()),
            outside_inference: median_of(&|t| t.outside_inference()),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); zero when empty.
fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

/// Per-stage medians over a stream ([`StageStats::take_summary`]). Medians do not add up: the
/// median total is its own figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageSummary {
    /// Frames summarised.
    pub frames: usize,
    /// Frames past [`StageStats::CAPACITY`], not summarised.
    pub dropped: u64,
    /// The median of each stage, in [`Stage::ALL`] order.
    pub stages: [Duration; Stage::ALL.len()],
    /// The median of the frames' totals.
    pub total: Duration,
    /// The median of the frames' time outside the two ONNX Runtime calls.
    pub outside_inference: Duration,
}

/// `frames=N dropped=D` then the medians as `name=ms` pairs (as [`StageTimes`] prints them).
impl fmt::Display for StageSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frames={} dropped={} ", self.frames, self.dropped)?;
        write_pairs(f, self.stages, self.total, self.outside_inference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ms: [u64; 10]) -> StageTimes {
        let mut t = StageTimes::default();
        for (s, v) in Stage::ALL.iter().zip(ms) {
            t.add(*s, Duration::from_millis(v));
        }
        t
    }

    #[test]
    fn outside_inference_is_the_total_less_both_model_calls() {
        let t = frame([1, 2, 30, 3, 4, 5, 60, 6, 7, 8]);
        assert_eq!(t.total(), Duration::from_millis(126));
        assert_eq!(t.outside_inference(), Duration::from_millis(36));
        let mut twice = t;
        twice.merge(&t);
        assert_eq!(twice.total(), Duration::from_millis(252));
        let line = t.to_string();
        assert!(line.starts_with("map=1.000 prepare=2.000 detector_run=30.000 "), "{line}");
        assert!(line.ends_with("total=126.000 outside_inference=36.000"), "{line}");
    }

    #[test]
    fn laps_charge_the_time_between_them() {
        let mut t = StageTimes::default();
        let mut laps = Laps::start();
        std::thread::sleep(Duration::from_millis(5));
        laps.lap(&mut t, Stage::Draw);
        laps.lap(&mut t, Stage::Report);
        std::thread::sleep(Duration::from_millis(5));
        laps.restart();
        laps.lap(&mut t, Stage::Track);
        assert!(t.get(Stage::Track) < Duration::from_millis(5), "restarted");
        assert!(t.get(Stage::Draw) >= Duration::from_millis(5));
        assert!(t.get(Stage::Report) < t.get(Stage::Draw));
        assert_eq!(t.get(Stage::Map), Duration::ZERO);
    }

    #[test]
    fn the_summary_takes_medians_per_stage_and_of_the_totals() {
        let mut stats = StageStats::default();
        stats.push(frame([1, 0, 10, 0, 0, 0, 0, 0, 0, 0]));
        stats.push(frame([3, 0, 50, 0, 0, 0, 0, 0, 0, 0]));
        stats.push(frame([2, 0, 20, 0, 0, 0, 0, 0, 0, 9]));
        let s = stats.take_summary();
        assert_eq!(s.frames, 3);
        assert_eq!(s.stages[Stage::Map as usize], Duration::from_millis(2));
        assert_eq!(s.stages[Stage::DetectorRun as usize], Duration::from_millis(20));
        assert_eq!(s.total, Duration::from_millis(31), "the middle of 11, 53, 31");
        assert_eq!(s.outside_inference, Duration::from_millis(3), "the middle of 1, 3, 11");
        assert!(s.to_string().starts_with("frames=3 dropped=0 map=2.000 "));
        assert!(stats.is_empty(), "taken");
        stats.push(frame([1; 10]));
        stats.push(frame([3; 10]));
        assert_eq!(stats.take_summary().stages[0], Duration::from_millis(2), "even count: the mean of the middle two");
        assert_eq!(stats.take_summary().total, Duration::ZERO, "none");
    }
}
