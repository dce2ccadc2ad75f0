// SPDX-License-Identifier: MIT
//! Face tracking: stable ids across frames by IoU matching with constant-velocity prediction,
//! plus the per-track emotion cache and exponential smoothing of the probabilities.
//!
//! Matching is greedy on IoU between each track's predicted box and the frame's detections
//! (highest IoU first), the SORT idea without the Kalman filter: faces in video move little
//! between frames, and greedy matching equals Hungarian assignment whenever the IoU matrix has
//! one clear best pair per face, which is the common case for faces (they rarely overlap).

use crate::detection::Face;

/// Tracker settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackerParams {
    /// Minimum IoU between a predicted track box and a detection to match them, 0..1.
    pub iou_threshold: f32,
    /// Frames a track survives without a matching detection before it ends.
    pub max_misses: u32,
    /// Weight of the previous smoothed probabilities in the exponential moving average, 0..1
    /// (0 = off: the smoothed scores are the latest ones).
    pub smoothing: f32,
}

impl Default for TrackerParams {
    fn default() -> Self {
        TrackerParams { iou_threshold: 0.3, max_misses: 10, smoothing: 0.0 }
    }
}

/// One tracked face.
#[derive(Clone, Debug)]
pub struct Track {
    /// Stable id, starting at 1, never reused within a tracker.
    pub id: u64,
    /// The current box (the last detection, or the prediction on frames without one).
    pub face: Face,
    /// Box centre velocity in pixels per frame.
    velocity: (f32, f32),
    /// Frames since the last matching detection (0 = detected on this frame).
    pub misses: u32,
    /// Frames since the face was last classified (0 = on this frame); `None` = never.
    pub since_classified: Option<u32>,
    /// The last raw classifier output for this face.
    pub raw_scores: Option<Vec<f32>>,
    /// Exponentially smoothed probabilities (see [`TrackerParams::smoothing`]).
    pub smoothed: Option<Vec<f32>>,
}

impl Track {
    /// Whether the face should be classified on this frame, given a reclassify interval of
    /// `interval` frames (1 = every frame). New tracks are always classified at once.
    pub fn needs_classification(&self, interval: u32) -> bool {
        self.since_classified.is_none_or(|n| n >= interval.max(1))
    }

    /// Records a fresh classifier output and folds it into the smoothed probabilities, in the
    /// track's own buffers (allocated at its first classification).
    pub fn set_scores(&mut self, scores: &[f32], smoothing: f32) {
        let a = smoothing.clamp(0.0, 0.99);
        match self.smoothed.as_mut() {
            Some(prev) if prev.len() == scores.len() && a > 0.0 => {
                prev.iter_mut().zip(scores).for_each(|(p, s)| *p = a * *p + (1.0 - a) * s)
            }
            _ => copy_into(&mut self.smoothed, scores),
        }
        copy_into(&mut self.raw_scores, scores);
        self.since_classified = Some(0);
    }

    fn predicted(&self) -> Face {
        let mut f = self.face.clone();
        let (dx, dy) = self.velocity;
        f.x0 += dx;
        f.x1 += dx;
        f.y0 += dy;
        f.y1 += dy;
        if let Some(l) = f.landmarks.as_mut() {
            l.iter_mut().for_each(|p| {
                p[0] += dx;
                p[1] += dy;
            });
        }
        f
    }
}

/// Sets `slot` to `values`, reusing its buffer.
fn copy_into(slot: &mut Option<Vec<f32>>, values: &[f32]) {
    let v = slot.get_or_insert_with(Vec::new);
    v.clear();
    v.extend_from_slice(values);
}

fn centre(f: &Face) -> (f32, f32) {
    ((f.x0 + f.x1) / 2.0, (f.y0 + f.y1) / 2.0)
}

/// Tracks faces across frames.
#[derive(Debug, Default)]
pub struct Tracker {
    tracks: Vec<Track>,
    next_id: u64,
    /// Buffers of [`Tracker::update`], reused from frame to frame.
    scratch: Scratch,
}

#[derive(Debug, Default)]
struct Scratch {
    predicted: Vec<Face>,
    /// (IoU, track, detection) of the pairs that may match.
    pairs: Vec<(f32, usize, usize)>,
    track_of: Vec<Option<usize>>,
    track_used: Vec<bool>,
    new_index: Vec<usize>,
    indices: Vec<usize>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker { tracks: Vec::new(), next_id: 1, scratch: Scratch::default() }
    }

    /// The live tracks.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn tracks_mut(&mut self) -> &mut [Track] {
        &mut self.tracks
    }

    /// Updates the tracks with the detections of a new frame. Returns, for each detection in
    /// order, the index of its track in [`Tracker::tracks`]. Tracks without a detection keep
    /// their predicted box and end after `max_misses` frames.
    pub fn update(&mut self, detections: Vec<Face>, params: &TrackerParams) -> &[usize] {
        let Scratch { predicted, pairs, track_of, track_used, .. } = &mut self.scratch;
        predicted.clear();
        predicted.extend(self.tracks.iter().map(Track::predicted));
        pairs.clear();
        for (t, p) in predicted.iter().enumerate() {
            for (d, det) in detections.iter().enumerate() {
                let iou = p.iou(det);
                if iou >= params.iou_threshold {
                    pairs.push((iou, t, d));
                }
            }
        }
        // Highest IoU first; ties in (track, detection) order, as a stable sort would leave them.
        pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        track_of.clear();
        track_of.resize(detections.len(), None);
        track_used.clear();
        track_used.resize(self.tracks.len(), false);
        for &(_, t, d) in pairs.iter() {
            if !track_used[t] && track_of[d].is_none() {
                track_used[t] = true;
                track_of[d] = Some(t);
            }
        }
        for (t, used) in track_used.iter().enumerate() {
            if !used {
                self.tracks[t].face = predicted[t].clone();
                self.tracks[t].misses += 1;
            }
        }
        for (d, det) in detections.into_iter().enumerate() {
            match track_of[d] {
                Some(t) => {
                    let track = &mut self.tracks[t];
                    let (old, new) = (centre(&track.face), centre(&det));
                    // Light smoothing of the velocity keeps detector jitter from becoming motion.
                    track.velocity = (0.5 * track.velocity.0 + 0.5 * (new.0 - old.0), 0.5 * track.velocity.1 + 0.5 * (new.1 - old.1));
                    track.face = det;
                    track.misses = 0;
                }
                None => {
                    track_of[d] = Some(self.tracks.len());
                    self.tracks.push(Track {
                        id: self.next_id,
                        face: det,
                        velocity: (0.0, 0.0),
                        misses: 0,
                        since_classified: None,
                        raw_scores: None,
                        smoothed: None,
                    });
                    self.next_id += 1;
                }
            }
        }
        self.prune(params.max_misses)
    }

    /// Carries every track one frame forward without detections (the detector did not run):
    /// boxes move by their velocity and nothing is counted as a miss.
    pub fn predict(&mut self) {
        for t in &mut self.tracks {
            t.face = t.predicted();
        }
    }

    /// Ends tracks missed too long and remaps the detection-to-track indices.
    fn prune(&mut self, max_misses: u32) -> &[usize] {
        let Scratch { track_of, new_index, indices, .. } = &mut self.scratch;
        new_index.clear();
        let mut kept = 0;
        for t in &self.tracks {
            new_index.push(if t.misses <= max_misses { kept } else { usize::MAX });
            kept += usize::from(t.misses <= max_misses);
        }
        self.tracks.retain(|t| t.misses <= max_misses);
        indices.clear();
        indices.extend(track_of.iter().map(|t| new_index[t.unwrap_or(0)]));
        indices
    }

    /// Ends every track (a new stream geometry: old boxes mean nothing in it); ids go on from
    /// where they were, never reused.
    pub fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Advances every track's classification age by one frame.
    pub fn age_classifications(&mut self) {
        for t in &mut self.tracks {
            if let Some(n) = t.since_classified.as_mut() {
                *n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, size: f32) -> Face {
        Face { x0: x, y0: y, x1: x + size, y1: y + size, score: 0.9, landmarks: None }
    }

    fn ids(tracker: &Tracker, idx: &[usize]) -> Vec<u64> {
        idx.iter().map(|&i| tracker.tracks()[i].id).collect()
    }

    #[test]
    fn a_face_moving_steadily_keeps_its_id() {
        let mut tr = Tracker::new();
        let p = TrackerParams::default();
        let mut seen = Vec::new();
        for k in 0..30 {
            let idx = tr.update(vec![face(10.0 + 4.0 * k as f32, 50.0, 40.0)], &p).to_vec();
            seen.extend(ids(&tr, &idx));
        }
        assert!(seen.iter().all(|&id| id == 1), "{seen:?}");
    }

    #[test]
    fn crossing_paths_keep_their_ids_thanks_to_the_velocity() {
        // Two faces move towards each other on the same row, overlap, and separate.
        let mut tr = Tracker::new();
        let p = TrackerParams::default();
        let mut left_ids = Vec::new();
        for k in 0..40 {
            let a = face(0.0 + 6.0 * k as f32, 100.0, 40.0); // moving right
            let b = face(240.0 - 6.0 * k as f32, 104.0, 40.0); // moving left
            let idx = tr.update(vec![a, b], &p).to_vec();
            left_ids.push(ids(&tr, &idx)[0]);
        }
        assert!(left_ids.iter().all(|&id| id == left_ids[0]), "{left_ids:?}");
    }

    #[test]
    fn an_occluded_face_survives_short_misses_and_ends_after_long_ones() {
        let mut tr = Tracker::new();
        let p = TrackerParams { max_misses: 5, ..Default::default() };
        tr.update(vec![face(100.0, 100.0, 50.0)], &p);
        for _ in 0..4 {
            tr.update(vec![], &p);
        }
        let idx = tr.update(vec![face(102.0, 100.0, 50.0)], &p).to_vec();
        assert_eq!(ids(&tr, &idx), vec![1], "reappears with the same id");
        for _ in 0..6 {
            tr.update(vec![], &p);
        }
        assert!(tr.tracks().is_empty(), "ended after more than 5 misses");
        let idx = tr.update(vec![face(100.0, 100.0, 50.0)], &p).to_vec();
        assert_eq!(ids(&tr, &idx), vec![2], "a new track, ids are not reused");
    }

    #[test]
    fn a_new_person_entering_gets_a_new_id_and_others_keep_theirs() {
        let mut tr = Tracker::new();
        let p = TrackerParams::default();
        tr.update(vec![face(10.0, 10.0, 40.0)], &p);
        let idx = tr.update(vec![face(300.0, 10.0, 40.0), face(12.0, 10.0, 40.0)], &p).to_vec();
        assert_eq!(ids(&tr, &idx), vec![2, 1]);
    }

    #[test]
    fn predict_moves_boxes_by_their_velocity() {
        let mut tr = Tracker::new();
        let p = TrackerParams::default();
        for k in 0..10 {
            tr.update(vec![face(10.0 * k as f32, 0.0, 40.0)], &p);
        }
        let before = tr.tracks()[0].face.x0;
        tr.predict();
        let moved = tr.tracks()[0].face.x0 - before;
        assert!((moved - 10.0).abs() < 0.5, "{moved}");
    }

    #[test]
    fn smoothing_is_an_exponential_moving_average_and_zero_is_off() {
        let mut tr = Tracker::new();
        tr.update(vec![face(0.0, 0.0, 10.0)], &TrackerParams::default());
        let t = &mut tr.tracks_mut()[0];
        assert!(t.needs_classification(5), "new tracks are classified at once");
        t.set_scores(&[1.0, 0.0], 0.75);
        t.set_scores(&[0.0, 1.0], 0.75);
        assert_eq!(t.smoothed.as_deref(), Some(&[0.75, 0.25][..]));
        assert_eq!(t.raw_scores.as_deref(), Some(&[0.0, 1.0][..]));
        t.set_scores(&[0.2, 0.8], 0.0);
        assert_eq!(t.smoothed.as_deref(), Some(&[0.2, 0.8][..]));
    }

    #[test]
    fn reclassification_waits_for_the_interval() {
        let mut tr = Tracker::new();
        tr.update(vec![face(0.0, 0.0, 10.0)], &TrackerParams::default());
        tr.tracks_mut()[0].set_scores(&[1.0], 0.0);
        let mut due = Vec::new();
        for _ in 0..6 {
            tr.age_classifications();
            let t = &mut tr.tracks_mut()[0];
            due.push(t.needs_classification(3));
            if t.needs_classification(3) {
                t.set_scores(&[1.0], 0.0);
            }
        }
        assert_eq!(due, vec![false, false, true, false, false, true]);
    }
}
