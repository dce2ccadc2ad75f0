// SPDX-License-Identifier: MIT
//! Events instead of frames (`emotionpublish mode=events`): per tracked face a `new` message
//! when it becomes a person, `update` when its dominant emotion changes (or every
//! `event-interval`), `end` when it is gone, each with the track's state `before` and `after`,
//! as Frigate's `frigate/events` does. An integrator acts on these, not on 25 frames a second.
//!
//! The rules, on stream time (the frames' `timestamp`, ns):
//! - a track becomes a person (`new`) once [`PersonLimits`] admits it (the limits of
//!   `emotiondetect-video`'s people): on screen long enough (its frames × their duration, gaps
//!   not counted) and, when its faces were classified, with a high enough mean detector
//!   confidence; shorter or doubtful tracks never send anything;
//! - its dominant emotion is the most frequent reported label over the last
//!   [`DOMINANT_WINDOW_NS`]; a change is sent at most once per [`CHANGE_HOLD_NS`] per track, so a
//!   label that flickers between two emotions does not become a message storm;
//! - it ends when not seen for [`END_AFTER_NS`], or when the stream ends ([`EventTracker::finish`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::frame_report::{FaceReport, FrameReport, UNKNOWN_EMOTION};

/// The version of [`Event`]'s layout, raised when a field changes meaning or goes.
pub const EVENT_SCHEMA_VERSION: u32 = 1;
/// The window of the dominant emotion, ns.
pub const DOMINANT_WINDOW_NS: u64 = 2_000_000_000;
/// The shortest time between two change updates of one track, ns.
pub const CHANGE_HOLD_NS: u64 = 2_000_000_000;
/// A track not seen for longer than this has ended, ns.
pub const END_AFTER_NS: u64 = 1_000_000_000;
/// Tracks followed at once at most; a frame with more new ids drops the oldest pending ones.
pub const MAX_TRACKS: usize = 4096;

/// What happened to a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    New,
    Update,
    End,
}

/// A track's state in an event (Frigate's `before`/`after`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackState {
    pub track_id: u64,
    /// Wall-clock time of the first and last frame with the face (RFC 3339, the frames'
    /// `timestamp_utc`); `end_time` is set in the `end` event only.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Stream time of the first and the latest frame with the face, ns.
    pub start_timestamp: Option<u64>,
    pub last_timestamp: Option<u64>,
    /// Seconds from the first to the latest frame with the face.
    pub duration: f64,
    /// Frames with the face.
    pub frames: u64,
    /// The most frequent reported label over the last [`DOMINANT_WINDOW_NS`] (`unknown`: no
    /// face large enough to classify in it).
    pub dominant_emotion: String,
    /// Each label's (and `unknown`'s) fraction 0..1 of the track's frames.
    pub shares: BTreeMap<String, f64>,
    /// The detector's highest confidence 0..1 for the face, and its box then (frame pixels:
    /// left, top, width, height).
    pub best_confidence: f32,
    pub best_box: [u32; 4],
    /// The latest box, frame pixels.
    #[serde(rename = "box")]
    pub last_box: [u32; 4],
    /// A JPEG of the best face, base64 (`event-thumbnails=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

/// One message of `mode=events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub schema_version: u32,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub source_id: String,
    pub track_id: u64,
    /// The wall-clock time and stream time (ns) of the frame that caused the event.
    pub timestamp_utc: Option<String>,
    pub timestamp: Option<u64>,
    /// The state last sent (for `new`: the same as `after`).
    pub before: TrackState,
    pub after: TrackState,
}

impl Event {
    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an event back.
    ///
    /// Errors: not JSON of an event (serde's message).
    pub fn from_json(line: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// Which tracks are people, for `emotiondetect-video`'s people and `emotionpublish
/// mode=events` alike: a track seen for less than `min_seconds` is brief (a one-off
/// detection); one whose faces were classified is uncertain when the detector's mean confidence
/// 0..1 over its frames is below `min_confidence` (a face large enough to classify that the
/// detector doubts is rarely a face; small faces score lower and are not judged). The defaults
/// come from Megamind.avi and vtest.avi (docs/video-tool.md, "Who counts as a person").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PersonLimits {
    pub min_seconds: f64,
    pub min_confidence: f64,
}

impl PersonLimits {
    pub const DEFAULT: PersonLimits = PersonLimits { min_seconds: 0.5, min_confidence: 0.8 };

    /// Seen for less than `min_seconds`.
    pub fn brief(&self, seconds_seen: f64) -> bool {
        seconds_seen + 1e-9 < self.min_seconds
    }

    /// Classified, with a mean detector confidence below `min_confidence`.
    pub fn uncertain(&self, classified: bool, mean_confidence: f64) -> bool {
        classified && mean_confidence < self.min_confidence
    }
}

/// The limits of [`EventTracker`], from the element's properties.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventOptions {
    /// Also send an `update` every this many ns (0: only on changes).
    pub interval_ns: u64,
    /// Which tracks are people (get a `new`).
    pub person: PersonLimits,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions { interval_ns: 10_000_000_000, person: PersonLimits::DEFAULT }
    }
}

struct Track {
    state: TrackState,
    /// The state last sent; `None` while the track is not yet a person.
    sent: Option<TrackState>,
    last_message: u64,
    /// Wall-clock time of the latest frame with the face: the `end_time` once it ends.
    last_utc: Option<String>,
    recent: VecDeque<(u64, Option<usize>)>,
    /// The most frequent label in `recent`; `dominant_emotion` and `shares` of `state` are only
    /// filled in ([`Track::fill`]) when an event is sent.
    dominant: Option<usize>,
    counts: Vec<u64>,
    unknown: u64,
    confidence_sum: f64,
    classified: u64,
    /// Time on screen: the frames with the face × their duration, ns (gaps not counted, as
    /// `emotiondetect-video`'s `seconds_seen`).
    seen_ns: u64,
}

/// Turns frame reports into [`Event`]s; see the module docs.
pub struct EventTracker {
    options: EventOptions,
    tracks: BTreeMap<u64, Track>,
    labels: Arc<[String]>,
    source_id: String,
}

impl EventTracker {
    pub fn new(options: EventOptions) -> EventTracker {
        EventTracker { options, tracks: BTreeMap::new(), labels: Arc::from(Vec::new()), source_id: String::new() }
    }

    /// Feeds one frame. `thumbnail(id, box)` is called when a face is its track's most confident
    /// so far, and returns that face's JPEG (base64) or `None`. Returns the events the frame
    /// causes, in track order.
    pub fn push(&mut self, frame: &FrameReport, thumbnail: &mut dyn FnMut(u64, [u32; 4]) -> Option<String>) -> Vec<Event> {
        let now = frame.timestamp.unwrap_or_else(|| self.latest());
        self.source_id.clone_from(&frame.source_id);
        if let Some(face) = frame.objects.iter().find(|o| !o.emotion.labels.is_empty()) {
            if face.emotion.labels[..] != self.labels[..] {
                self.labels = face.emotion.labels.clone();
            }
        }
        let mut events = Vec::new();
        for face in &frame.objects {
            self.observe(face, frame, now, thumbnail);
            if let Some(event) = self.decide(face.id, frame, now) {
                events.push(event);
            }
        }
        self.forget_oldest_pending();
        let gone: Vec<u64> = self
            .tracks
            .iter()
            .filter(|(_, t)| now.saturating_sub(t.state.last_timestamp.unwrap_or(now)) > END_AFTER_NS)
            .map(|(id, _)| *id)
            .collect();
        events.extend(gone.into_iter().filter_map(|id| self.end(id, frame.timestamp_utc.clone(), Some(now))));
        events
    }

    /// The stream ended: an `end` for every person still in view.
    pub fn finish(&mut self) -> Vec<Event> {
        let ids: Vec<u64> = self.tracks.keys().copied().collect();
        ids.into_iter().filter_map(|id| self.end(id, None, None)).collect()
    }

    fn latest(&self) -> u64 {
        self.tracks.values().filter_map(|t| t.state.last_timestamp).max().unwrap_or(0)
    }

    fn observe(&mut self, face: &FaceReport, frame: &FrameReport, now: u64, thumbnail: &mut dyn FnMut(u64, [u32; 4]) -> Option<String>) {
        let labels = self.labels.len();
        let track = self.tracks.entry(face.id).or_insert_with(|| Track::new(face.id, frame, now, labels));
        let b = [face.x, face.y, face.w, face.h];
        let confidence = if face.detection.confidence.is_finite() { face.detection.confidence.clamp(0.0, 1.0) } else { 0.0 };
        if confidence > track.state.best_confidence || track.state.frames == 0 {
            track.state.best_confidence = confidence;
            track.state.best_box = b;
            if let Some(jpeg) = thumbnail(face.id, b) {
                track.state.thumbnail = Some(jpeg);
            }
        }
        let label = face.emotion.label_id.filter(|&l| l < labels);
        track.seen_ns += frame.duration.unwrap_or(0);
        track.add(label, confidence, now, b, frame.timestamp_utc.as_deref());
    }

    /// `new` once the track is a person; then `update` on a held change or the interval.
    fn decide(&mut self, id: u64, frame: &FrameReport, now: u64) -> Option<Event> {
        let options = self.options;
        let track = self.tracks.get_mut(&id)?;
        let kind = match &track.sent {
            None if track.is_person(&options.person) => EventType::New,
            None => return None,
            Some(sent) => {
                let since = now.saturating_sub(track.last_message);
                let changed = sent.dominant_emotion != track.dominant_name(&self.labels) && since >= CHANGE_HOLD_NS;
                let due = options.interval_ns > 0 && since >= options.interval_ns;
                if !(changed || due) {
                    return None;
                }
                EventType::Update
            }
        };
        track.fill(&self.labels);
        let before = track.sent.clone().unwrap_or_else(|| track.state.clone());
        track.sent = Some(track.state.clone());
        track.last_message = now;
        Some(self.event(kind, before, id, frame.timestamp_utc.clone(), frame.timestamp))
    }

    /// Removes track `id`: an `end` event when it was a person.
    fn end(&mut self, id: u64, utc: Option<String>, now: Option<u64>) -> Option<Event> {
        let mut track = self.tracks.remove(&id)?;
        let before = track.sent.take()?;
        track.fill(&self.labels);
        let mut after = track.state;
        after.end_time = track.last_utc.or_else(|| after.start_time.clone());
        Some(Event {
            schema_version: EVENT_SCHEMA_VERSION,
            kind: EventType::End,
            source_id: self.source_id.clone(),
            track_id: id,
            timestamp_utc: utc.or_else(|| after.end_time.clone()),
            timestamp: now.or(after.last_timestamp),
            before,
            after,
        })
    }

    fn event(&self, kind: EventType, before: TrackState, id: u64, utc: Option<String>, timestamp: Option<u64>) -> Event {
        let after = self.tracks[&id].state.clone();
        Event {
            schema_version: EVENT_SCHEMA_VERSION,
            kind,
            source_id: self.source_id.clone(),
            track_id: id,
            timestamp_utc: utc,
            timestamp,
            before,
            after,
        }
    }

    /// Bounds memory against a stream of one-off ids: the oldest tracks not yet people go first.
    fn forget_oldest_pending(&mut self) {
        while self.tracks.len() > MAX_TRACKS {
            let oldest = self.tracks.iter().filter(|(_, t)| t.sent.is_none()).map(|(id, _)| *id).next();
            match oldest {
                Some(id) => self.tracks.remove(&id),
                None => break,
            };
        }
    }
}

impl Track {
    fn new(id: u64, frame: &FrameReport, now: u64, labels: usize) -> Track {
        let state = TrackState {
            track_id: id,
            start_time: frame.timestamp_utc.clone(),
            end_time: None,
            start_timestamp: Some(now),
            last_timestamp: Some(now),
            duration: 0.0,
            frames: 0,
            dominant_emotion: UNKNOWN_EMOTION.to_string(),
            shares: BTreeMap::new(),
            best_confidence: 0.0,
            best_box: [0; 4],
            last_box: [0; 4],
            thumbnail: None,
        };
        Track {
            state,
            sent: None,
            last_message: now,
            last_utc: None,
            recent: VecDeque::new(),
            dominant: None,
            counts: vec![0; labels],
            unknown: 0,
            confidence_sum: 0.0,
            classified: 0,
            seen_ns: 0,
        }
    }

    fn add(&mut self, label: Option<usize>, confidence: f32, now: u64, b: [u32; 4], utc: Option<&str>) {
        let s = &mut self.state;
        s.frames += 1;
        s.last_timestamp = Some(now);
        s.last_box = b;
        s.duration = now.saturating_sub(s.start_timestamp.unwrap_or(now)) as f64 / 1e9;
        match label {
            Some(l) => {
                if self.counts.len() <= l {
                    self.counts.resize(l + 1, 0);
                }
                self.counts[l] += 1;
                self.classified += 1;
            }
            None => self.unknown += 1,
        }
        self.confidence_sum += f64::from(confidence);
        self.last_utc = utc.map(str::to_string);
        self.recent.push_back((now, label));
        while self.recent.front().is_some_and(|(t, _)| now.saturating_sub(*t) > DOMINANT_WINDOW_NS) {
            self.recent.pop_front();
        }
        let mut window = vec![0u32; self.counts.len()];
        for (_, l) in &self.recent {
            if let Some(c) = l.and_then(|l| window.get_mut(l)) {
                *c += 1;
            }
        }
        // max_by_key keeps the last maximum: search from the end for the first in label order.
        self.dominant = (0..window.len()).rev().max_by_key(|&i| window[i]).filter(|&i| window[i] > 0);
    }

    /// The name of [`Track::dominant`].
    fn dominant_name<'a>(&self, labels: &'a [String]) -> &'a str {
        self.dominant.and_then(|i| labels.get(i)).map_or(UNKNOWN_EMOTION, String::as_str)
    }

    /// Fills in the state's dominant emotion and shares, for an event.
    fn fill(&mut self, labels: &[String]) {
        self.state.dominant_emotion = self.dominant_name(labels).to_string();
        let frames = self.state.frames.max(1) as f64;
        let mut shares: BTreeMap<String, f64> = labels.iter().zip(&self.counts).map(|(l, c)| (l.clone(), *c as f64 / frames)).collect();
        shares.insert(UNKNOWN_EMOTION.to_string(), self.unknown as f64 / frames);
        self.state.shares = shares;
    }

    fn is_person(&self, limits: &PersonLimits) -> bool {
        // Frames without a duration: the time from the first to the latest frame instead.
        let seen = if self.seen_ns > 0 { self.seen_ns as f64 / 1e9 } else { self.state.duration };
        let mean = self.confidence_sum / self.state.frames.max(1) as f64;
        !limits.brief(seen) && !limits.uncertain(self.classified > 0, mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    /// A frame at `ms` with faces (track id, label id or None, detector confidence).
    fn frame(ms: u64, faces: &[(u64, Option<usize>, f32)]) -> FrameReport {
        let objects: Vec<serde_json::Value> = faces
            .iter()
            .map(|&(id, label, confidence)| {
                serde_json::json!({
                    "x": 10, "y": 20, "w": 40, "h": 50, "region_id": 0, "id": id, "roi_type": "face",
                    "detection": {"bounding_box": {"x_min": 0.1, "y_min": 0.1, "x_max": 0.2, "y_max": 0.2},
                                  "confidence": confidence, "label": "face", "label_id": 0},
                    "emotion": {"label": label.map_or(UNKNOWN_EMOTION, |l| LABELS[l]), "label_id": label, "confidence": 0.9,
                                "model": {"name": "m"}, "labels": LABELS, "scores": [], "smoothed_scores": []}
                })
            })
            .collect();
        let line = serde_json::json!({
            "schema_version": 2, "resolution": {"width": 640, "height": 480}, "timestamp": ms * 1_000_000,
            "source": "cam", "source_id": "cam-1", "timestamp_utc": format!("2026-12-06T10:00:{:06.3}Z", ms as f64 / 1000.0),
            "objects": objects
        });
        FrameReport::from_json(&line.to_string()).unwrap()
    }

    fn run(tracker: &mut EventTracker, frames: &[FrameReport]) -> Vec<Event> {
        let mut events: Vec<Event> = frames.iter().flat_map(|f| tracker.push(f, &mut |_, _| None)).collect();
        events.extend(tracker.finish());
        events
    }

    fn kinds(events: &[Event]) -> Vec<(EventType, u64)> {
        events.iter().map(|e| (e.kind, e.track_id)).collect()
    }

    #[test]
    fn a_person_gets_one_new_and_one_end_and_a_one_off_nothing() {
        let mut frames: Vec<FrameReport> = (0..50).map(|i| frame(i * 40, &[(1, Some(3), 0.9)])).collect();
        frames[10] = frame(400, &[(1, Some(3), 0.9), (2, Some(0), 0.95)]); // a one-frame track
        let events = run(&mut EventTracker::new(EventOptions::default()), &frames);
        assert_eq!(kinds(&events), [(EventType::New, 1), (EventType::End, 1)]);
        let (new, end) = (&events[0], &events[1]);
        assert_eq!(new.before, new.after);
        assert_eq!((new.after.dominant_emotion.as_str(), new.timestamp), ("happy", Some(520_000_000)), "new after 0.5 s");
        assert_eq!((end.after.frames, end.after.duration), (50, 1.96));
        assert_eq!(end.after.end_time.as_deref(), Some("2026-12-06T10:00:01.960Z"));
        assert_eq!(end.after.shares["happy"], 1.0);
        assert_eq!(Event::from_json(&end.to_json()).unwrap(), *end, "read back");
    }

    #[test]
    fn doubtful_tracks_are_not_people_but_small_faces_are() {
        let frames: Vec<FrameReport> = (0..40).map(|i| frame(i * 40, &[(1, Some(0), 0.7), (2, None, 0.65)])).collect();
        let events = run(&mut EventTracker::new(EventOptions::default()), &frames);
        assert_eq!(kinds(&events), [(EventType::New, 2), (EventType::End, 2)], "the unsure classified track never becomes a person");
        assert_eq!(events[0].after.dominant_emotion, UNKNOWN_EMOTION);
    }

    #[test]
    fn changes_are_held_and_the_interval_repeats() {
        // Happy for 3 s, then sad for 3 s, flickering to fear every 5th frame.
        let label = |i: u64| {
            if i.is_multiple_of(5) {
                2
            } else if i < 75 {
                3
            } else {
                4
            }
        };
        let frames: Vec<FrameReport> = (0..150).map(|i| frame(i * 40, &[(1, Some(label(i)), 0.9)])).collect();
        let options = EventOptions { interval_ns: 0, ..EventOptions::default() };
        let events = run(&mut EventTracker::new(options), &frames);
        assert_eq!(kinds(&events), [(EventType::New, 1), (EventType::Update, 1), (EventType::End, 1)], "{events:#?}");
        let update = &events[1];
        assert_eq!((update.before.dominant_emotion.as_str(), update.after.dominant_emotion.as_str()), ("happy", "sad"));
        let options = EventOptions { interval_ns: 1_000_000_000, ..EventOptions::default() };
        let events = run(&mut EventTracker::new(options), &frames);
        let updates = events.iter().filter(|e| e.kind == EventType::Update).count();
        assert_eq!(updates, 5, "one a second after the new at 0.5 s, the change among them");
    }

    #[test]
    fn a_track_ends_after_a_second_unseen_and_thumbnails_follow_the_best_face() {
        let mut frames: Vec<FrameReport> = (0..20).map(|i| frame(i * 40, &[(1, Some(6), 0.8 + i as f32 / 100.0)])).collect();
        frames.extend((0..30).map(|i| frame(800 + i * 40, &[])));
        let mut crops = Vec::new();
        let mut tracker = EventTracker::new(EventOptions::default());
        let events: Vec<Event> = frames
            .iter()
            .flat_map(|f| {
                tracker.push(f, &mut |id, b| {
                    crops.push(id);
                    Some(format!("jpeg of {b:?}"))
                })
            })
            .collect();
        assert_eq!(kinds(&events), [(EventType::New, 1), (EventType::End, 1)]);
        assert_eq!(events[1].timestamp, Some(1_800_000_000), "ended once unseen for more than 1 s");
        assert_eq!(crops.len(), 20, "each frame's face beat the last");
        assert_eq!(events[1].after.best_confidence, 0.99);
        assert!(events[1].after.thumbnail.is_some() && tracker.finish().is_empty());
    }
}
