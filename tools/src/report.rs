// SPDX-License-Identifier: MIT
//! Per-person reports of a video analysed by `emotiondetect`: reads the element's JSON lines
//! (`emotionpublish location=`, see `emotiondetect_core::export`), groups the faces by track id into one
//! [`PersonSummary`] per person, writes them as CSV and draws an emotion timeline as a PNG.
//!
//! The label of a face is the one the element reported (the top of its smoothed
//! probabilities, `emotion-smoothing`); the timeline's lines are those smoothed probabilities.
//! Times are in seconds from the first frame's timestamp; shares are fractions 0..1.
//! Labels are the classifier's, in its output order (its spec's `labels`): the JSON lines carry
//! each face's label and its `scores` in that order, not the list itself.
//! A face too small to classify (`min-emotion-face-size`, label `unknown`, no scores) counts
//! as a frame of its person, in no emotion: `share_unknown` in the CSV, grey in the timeline.
//! `emotiondetect-video` (src/bin) uses this module; it needs no GStreamer.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::sync::OnceLock;

use emotiondetect_core::events::PersonLimits;
use emotiondetect_core::frame_report::{FrameReport, UNKNOWN_EMOTION};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use emotiondetect_core::overlay::label_colour;

/// One face of one frame, as the element reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceSample {
    /// Track id: the same person keeps it while in view.
    pub id: u64,
    /// Index in the classifier's labels of the reported (smoothed) label; `None`: `unknown`
    /// (the face was too small to classify).
    pub label_id: Option<usize>,
    /// The smoothed probabilities, 0..1 in label order; empty when the line has none.
    pub scores: Vec<f32>,
    /// The box in frame pixels: left, top, width, height (the line's `x`, `y`, `w`, `h`).
    pub bbox: [u32; 4],
    /// The detector's confidence 0..1 (`detection.confidence`).
    pub confidence: f32,
}

/// One frame (one JSON line).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameRecord {
    /// Presentation timestamp in seconds, from the first frame's (so the first frame is at 0).
    pub time: f64,
    pub faces: Vec<FaceSample>,
}

/// What one person (one track id) did over the video.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonSummary {
    /// Track id.
    pub id: u64,
    /// Time of the first frame with this face, seconds.
    pub first_seen: f64,
    /// Time of the last frame with this face (its start), seconds.
    pub last_seen: f64,
    /// Frames with this face.
    pub frames: usize,
    /// Time on screen: `frames` × the frame interval, seconds (gaps are not counted).
    pub seconds_seen: f64,
    /// Index in the labels of the most frequent reported label (ties: the first in label order);
    /// `None` when every frame of this person was `unknown`.
    pub dominant: Option<usize>,
    /// Fraction 0..1 of this person's frames with each reported label, in label order; with
    /// `unknown` they sum to 1. Frames are evenly spaced (the tool runs `videorate`), so this is
    /// also the share of time.
    pub shares: Vec<f64>,
    /// Fraction 0..1 of this person's frames whose face was too small to classify (`unknown`).
    pub unknown: f64,
    /// Time with an emotion: the frames not `unknown` × the frame interval, seconds.
    pub seconds_classified: f64,
    /// The detector's mean and lowest confidence 0..1 over this person's frames: a track whose
    /// faces the detector was never sure of is often not a face (a poster, a pattern).
    pub mean_confidence: f64,
    pub min_confidence: f64,
}

impl PersonSummary {
    /// Each label's share (its index, its name, the fraction 0..1), in label order, then
    /// `unknown`'s (no index): the parts that sum to 1.
    pub fn labelled_shares<'a>(&'a self, labels: &'a [String]) -> impl Iterator<Item = (Option<usize>, &'a str, f64)> + 'a {
        let classified = self.shares.iter().enumerate().map(|(i, s)| (Some(i), label_name(labels, Some(i)), *s));
        classified.chain(std::iter::once((None, UNKNOWN_EMOTION, self.unknown)))
    }
}

/// Parses one JSON line that `emotionpublish location=` wrote (a [`FrameReport`]), written with a
/// classifier whose labels are `labels`. `time` is the raw `timestamp` in seconds (`None` when
/// it is `null`).
///
/// Errors: not a frame report (serde's message), a label not in `labels`, a face whose labels
/// differ from `labels`, or `smoothed_scores` of another length than `labels`.
pub fn parse_frame(line: &str, labels: &[String]) -> Result<(Option<f64>, Vec<FaceSample>), String> {
    let frame = FrameReport::from_json(line).map_err(|e| format!("not JSON of a frame report: {e}"))?;
    let faces = frame
        .objects
        .iter()
        .map(|o| {
            let (id, e) = (o.id, &o.emotion);
            let label_id = match e.is_unknown() {
                true => None,
                false => Some(
                    labels
                        .iter()
                        .position(|l| *l == e.label)
                        .ok_or_else(|| format!("face #{id}: unknown emotion `{}` (expected one of {})", e.label, labels.join(", ")))?,
                ),
            };
            if e.labels[..] != labels[..] {
                return Err(format!("face #{id}: labels [{}], expected [{}]", e.labels.join(", "), labels.join(", ")));
            }
            if !e.smoothed_scores.is_empty() && e.smoothed_scores.len() != labels.len() {
                return Err(format!("face #{id}: {} scores, expected {} (one per label)", e.smoothed_scores.len(), labels.len()));
            }
            Ok(FaceSample {
                id,
                label_id,
                scores: e.smoothed_scores.clone(),
                bbox: [o.x, o.y, o.w, o.h],
                confidence: o.detection.confidence,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((frame.timestamp.map(|t| t as f64 / 1e9), faces))
}

/// The classifier labels named in JSON lines (those of the first face), or `None` when no line
/// has a face. Lines that do not parse are left to [`read_jsonl`] to report.
///
/// Errors: the reader fails.
pub fn labels_in(reader: impl BufRead) -> Result<Option<Vec<String>>, String> {
    for line in reader.lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(face) = FrameReport::from_json(&line).ok().and_then(|f| f.objects.into_iter().next()) {
            return Ok(Some(face.emotion.labels.to_vec()));
        }
    }
    Ok(None)
}

/// Reads JSON lines (one frame each; blank lines are skipped). Times become seconds from the
/// first frame's timestamp; a frame with a `null` timestamp gets the previous frame's time plus
/// the previous interval. `labels` as in [`parse_frame`]. Errors name the line number.
pub fn read_jsonl(reader: impl BufRead, labels: &[String]) -> Result<Vec<FrameRecord>, String> {
    let mut frames: Vec<FrameRecord> = Vec::new();
    let mut origin = None;
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let (time, faces) = parse_frame(&line, labels).map_err(|e| format!("line {}: {e}", n + 1))?;
        let time = match time {
            Some(t) => t - *origin.get_or_insert(t),
            None => match frames.as_slice() {
                [.., a, b] => b.time + (b.time - a.time),
                [b] => b.time,
                [] => 0.0,
            },
        };
        frames.push(FrameRecord { time, faces });
    }
    Ok(frames)
}

/// The typical time between frames: the median of the positive differences between
/// consecutive frame times, seconds; 0 with fewer than two frames.
pub fn frame_interval(frames: &[FrameRecord]) -> f64 {
    let mut d: Vec<f64> = frames.windows(2).map(|w| w[1].time - w[0].time).filter(|d| *d > 0.0).collect();
    if d.is_empty() {
        return 0.0;
    }
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}

/// The end of the video: the last frame's time plus one frame interval, seconds.
pub fn video_end(frames: &[FrameRecord]) -> f64 {
    frames.last().map_or(0.0, |f| f.time + frame_interval(frames))
}

/// One summary per track id seen in `frames` (read with `labels` labels), sorted by id.
pub fn summarize(frames: &[FrameRecord], labels: usize) -> Vec<PersonSummary> {
    struct Acc {
        first: f64,
        last: f64,
        frames: usize,
        counts: Vec<usize>,
        unknown: usize,
        confidence_sum: f64,
        confidence_min: f64,
    }
    let labels = labels.max(1);
    let mut people: BTreeMap<u64, Acc> = BTreeMap::new();
    for frame in frames {
        for face in &frame.faces {
            let acc = people.entry(face.id).or_insert(Acc {
                first: frame.time,
                last: frame.time,
                frames: 0,
                counts: vec![0; labels],
                unknown: 0,
                confidence_sum: 0.0,
                confidence_min: f64::INFINITY,
            });
            // A NaN confidence (a hostile line) counts as 0, never poisons the mean.
            let confidence = if face.confidence.is_finite() { f64::from(face.confidence.clamp(0.0, 1.0)) } else { 0.0 };
            acc.confidence_sum += confidence;
            acc.confidence_min = acc.confidence_min.min(confidence);
            acc.first = acc.first.min(frame.time);
            acc.last = acc.last.max(frame.time);
            acc.frames += 1;
            match face.label_id {
                Some(l) => acc.counts[l.min(labels - 1)] += 1,
                None => acc.unknown += 1,
            }
        }
    }
    let interval = frame_interval(frames);
    people
        .into_iter()
        .map(|(id, a)| {
            // max_by_key keeps the last maximum: search from the end for the first in label order.
            let dominant = (0..labels).rev().max_by_key(|&i| a.counts[i]).filter(|&i| a.counts[i] > 0);
            PersonSummary {
                id,
                first_seen: a.first,
                last_seen: a.last,
                frames: a.frames,
                seconds_seen: a.frames as f64 * interval,
                dominant,
                shares: a.counts.iter().map(|&c| c as f64 / a.frames.max(1) as f64).collect(),
                unknown: a.unknown as f64 / a.frames.max(1) as f64,
                seconds_classified: (a.frames - a.unknown) as f64 * interval,
                mean_confidence: a.confidence_sum / a.frames.max(1) as f64,
                min_confidence: if a.frames > 0 { a.confidence_min } else { 0.0 },
            }
        })
        .collect()
}

/// Faces in `frames` (one per face per frame), and how many of them were `unknown` (too small
/// to classify).
pub fn face_counts(frames: &[FrameRecord]) -> (usize, usize) {
    let faces = frames.iter().map(|f| f.faces.len()).sum();
    let unknown = frames.iter().flat_map(|f| &f.faces).filter(|f| f.label_id.is_none()).count();
    (faces, unknown)
}

/// The CSV header: `track_id, first_seen_s, last_seen_s, seconds_seen, frames,
/// seconds_classified, mean_confidence, min_confidence, dominant_emotion`, then `share_<label>`
/// for each label, then `share_unknown` (frames whose face was too small to classify).
pub fn csv_header(labels: &[String]) -> Vec<String> {
    let mut h: Vec<String> = [
        "track_id",
        "first_seen_s",
        "last_seen_s",
        "seconds_seen",
        "frames",
        "seconds_classified",
        "mean_confidence",
        "min_confidence",
        "dominant_emotion",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend(labels.iter().map(|l| format!("share_{l}")));
    h.push(format!("share_{UNKNOWN_EMOTION}"));
    h
}

/// The name of label `label_id` (`None`: [`UNKNOWN_EMOTION`]).
pub fn label_name(labels: &[String], label_id: Option<usize>) -> &str {
    label_id.and_then(|l| labels.get(l)).map_or(UNKNOWN_EMOTION, String::as_str)
}

/// Writes `people` as CSV ([`csv_header`], then one row per person; times in seconds with
/// 3 decimals, shares 0..1 with 4).
pub fn write_csv<W: Write>(out: W, people: &[PersonSummary], labels: &[String]) -> Result<(), String> {
    let mut w = csv::Writer::from_writer(out);
    let err = |e: csv::Error| format!("writing CSV: {e}");
    w.write_record(csv_header(labels)).map_err(err)?;
    for p in people {
        let mut row = vec![
            p.id.to_string(),
            format!("{:.3}", p.first_seen),
            format!("{:.3}", p.last_seen),
            format!("{:.3}", p.seconds_seen),
            p.frames.to_string(),
            format!("{:.3}", p.seconds_classified),
            format!("{:.3}", p.mean_confidence),
            format!("{:.3}", p.min_confidence),
            label_name(labels, p.dominant).to_string(),
        ];
        row.extend(p.shares.iter().map(|s| format!("{s:.4}")));
        row.push(format!("{:.4}", p.unknown));
        w.write_record(&row).map_err(err)?;
    }
    w.flush().map_err(|e| format!("writing CSV: {e}"))
}

/// The version of [`people_json`]'s layout, raised when a field changes meaning or goes.
pub const PEOPLE_JSON_VERSION: u32 = 1;

/// `people` as the JSON of `<name>-people.json`: `schema_version` ([`PEOPLE_JSON_VERSION`]),
/// `labels` (the classifier's, in order), `min_track_seconds` and `min_track_confidence` (the
/// `limits` of [`split_tracks`]), `brief_tracks` and `uncertain_tracks` (how many tracks they left
/// out; those are in the JSON lines and frames CSV), and `people`: per person the
/// fields of the people CSV, `dominant_emotion` by name and `shares` as an object from each label
/// (and `unknown`) to its fraction 0..1 of the person's frames. Times in seconds.
pub fn people_json(people: &[PersonSummary], labels: &[String], limits: &PersonLimits, left_out: (usize, usize)) -> serde_json::Value {
    let person = |p: &PersonSummary| {
        let shares: serde_json::Map<String, serde_json::Value> =
            p.labelled_shares(labels).map(|(_, l, s)| (l.to_string(), s.into())).collect();
        serde_json::json!({
            "id": p.id,
            "first_seen": p.first_seen,
            "last_seen": p.last_seen,
            "seconds_seen": p.seconds_seen,
            "frames": p.frames,
            "seconds_classified": p.seconds_classified,
            "mean_confidence": p.mean_confidence,
            "min_confidence": p.min_confidence,
            "dominant_emotion": label_name(labels, p.dominant),
            "shares": shares,
        })
    };
    serde_json::json!({
        "schema_version": PEOPLE_JSON_VERSION,
        "labels": labels,
        "min_track_seconds": limits.min_seconds,
        "min_track_confidence": limits.min_confidence,
        "brief_tracks": left_out.0,
        "uncertain_tracks": left_out.1,
        "people": people.iter().map(person).collect::<Vec<_>>(),
    })
}

/// Which tracks count as people ([`PersonLimits`]). Returns (people, brief, uncertain).
pub fn split_tracks(people: Vec<PersonSummary>, limits: &PersonLimits) -> [Vec<PersonSummary>; 3] {
    let (brief, long): (Vec<_>, Vec<_>) = people.into_iter().partition(|p| limits.brief(p.seconds_seen));
    let (uncertain, sure) = long.into_iter().partition(|p| limits.uncertain(p.seconds_classified > 0.0, p.mean_confidence));
    [sure, brief, uncertain]
}

/// The per-frame CSV header: `time_s, track_id, x, y, w, h, label`, then one column per label
/// (its smoothed probability), named by the label, as the Python `fer` library's users expect.
pub fn frames_csv_header(labels: &[String]) -> Vec<String> {
    let mut h: Vec<String> = ["time_s", "track_id", "x", "y", "w", "h", "label"].iter().map(|s| s.to_string()).collect();
    h.extend(labels.iter().cloned());
    h
}

/// Writes one CSV row per face per frame ([`frames_csv_header`]): the frame's time (seconds from
/// the first frame, 3 decimals), the track id, the box in pixels, the reported label and the
/// smoothed probabilities 0..1 (4 decimals; empty cells when the line has none). Frames without
/// faces have no row.
///
/// Errors: the writer fails (the message says so, with the OS reason).
pub fn write_frames_csv<W: Write>(out: W, frames: &[FrameRecord], labels: &[String]) -> Result<(), String> {
    let mut w = csv::Writer::from_writer(out);
    let err = |e: csv::Error| format!("writing CSV: {e}");
    w.write_record(frames_csv_header(labels)).map_err(err)?;
    for frame in frames {
        for face in &frame.faces {
            let [x, y, bw, bh] = face.bbox;
            let mut row =
                vec![format!("{:.3}", frame.time), face.id.to_string(), x.to_string(), y.to_string(), bw.to_string(), bh.to_string()];
            row.push(label_name(labels, face.label_id).to_string());
            row.extend((0..labels.len()).map(|i| face.scores.get(i).map(|p| format!("{p:.4}")).unwrap_or_default()));
            w.write_record(&row).map_err(err)?;
        }
    }
    w.flush().map_err(|e| format!("writing CSV: {e}"))
}

/// The whole audience's emotions over time: for each frame with at least one face within
/// `window` seconds (centred), the share 0..1 of each label among all the faces reported in
/// those frames (reported labels, so the shares sum to 1; `unknown` faces are left out). Returns
/// (time, shares) per frame; frames with no classified face in their window are left out (gaps).
pub fn audience_shares(frames: &[FrameRecord], labels: usize, window: f64) -> Vec<(f64, Vec<f64>)> {
    let labels = labels.max(1);
    let half = window.max(0.0) / 2.0;
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut counts = vec![0usize; labels];
    let mut total = 0usize;
    let mut out = Vec::new();
    for frame in frames {
        // Slide [lo, hi) over the frames within `half` of this one (times are increasing).
        while hi < frames.len() && frames[hi].time <= frame.time + half + 1e-9 {
            for l in frames[hi].faces.iter().filter_map(|f| f.label_id) {
                counts[l.min(labels - 1)] += 1;
                total += 1;
            }
            hi += 1;
        }
        while lo < hi && frames[lo].time < frame.time - half - 1e-9 {
            for l in frames[lo].faces.iter().filter_map(|f| f.label_id) {
                counts[l.min(labels - 1)] -= 1;
                total -= 1;
            }
            lo += 1;
        }
        if total > 0 {
            out.push((frame.time, counts.iter().map(|&c| c as f64 / total as f64).collect()));
        }
    }
    out
}

/// Splits `people` into those plotted and the others: of those seen for at least `min_seconds`,
/// the `max_people` seen longest (ties: the lower track id), in track id order; the others in
/// their order in `people`. The picture grows with the plotted people only, so its memory is
/// bounded whatever the number of people.
pub fn plotted_people(people: &[PersonSummary], min_seconds: f64, max_people: usize) -> (Vec<&PersonSummary>, Vec<&PersonSummary>) {
    let mut long: Vec<&PersonSummary> = people.iter().filter(|p| p.seconds_seen + 1e-9 >= min_seconds).collect();
    long.sort_by(|a, b| b.seconds_seen.total_cmp(&a.seconds_seen).then(a.id.cmp(&b.id)));
    long.truncate(max_people);
    long.sort_by_key(|p| p.id);
    let shown: std::collections::HashSet<u64> = long.iter().map(|p| p.id).collect();
    let skipped = people.iter().filter(|p| !shown.contains(&p.id)).collect();
    (long, skipped)
}

/// The byte size of an RGB picture of `width` x `height` pixels, checked: counts from the input
/// (people, faces) must not wrap a size computation.
///
/// Errors: the size overflows, or exceeds [`MAX_PICTURE_BYTES`] (the message gives both sizes).
pub fn rgb_bytes(width: u32, height: u32) -> Result<usize, String> {
    (width as usize)
        .checked_mul(height as usize)
        .and_then(|px| px.checked_mul(3))
        .filter(|&b| b <= MAX_PICTURE_BYTES)
        .ok_or_else(|| format!("a picture of {width} x {height} pixels is larger than {} MiB", MAX_PICTURE_BYTES >> 20))
}

/// The height of a picture of `header` pixels and `panels` panels of `panel` pixels, checked.
///
/// Errors: it does not fit in a `u32`.
fn stacked_height(header: u32, panel: u32, panels: usize) -> Result<u32, String> {
    u32::try_from(panels)
        .ok()
        .and_then(|n| panel.checked_mul(n))
        .and_then(|h| h.checked_add(header))
        .ok_or_else(|| format!("{panels} panels of {panel} pixels do not fit in one picture"))
}

/// How the timeline looks.
#[derive(Clone, Debug)]
pub struct TimelineOptions {
    /// First line of the picture, e.g. the input's file name.
    pub title: String,
    /// People on screen for less than this many seconds are left out (and listed as such).
    pub min_seconds: f64,
    /// At most this many people are plotted, those seen longest; the others are summed up in
    /// one line (all are in the CSV).
    pub max_people: usize,
    /// Picture width in pixels; the height follows from the number of people.
    pub width: u32,
    /// A sentence shown in red under the legend, in place of how to read the bands (e.g. that
    /// no face was large enough to classify).
    pub note: Option<String>,
    /// Each person's thumbnail by track id (at most [`crate::thumbnails::THUMBNAIL_SIZE`]
    /// pixels a side), drawn left of their band.
    pub thumbnails: HashMap<u64, image::RgbImage>,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions {
            title: String::new(),
            min_seconds: 1.0,
            max_people: DEFAULT_MAX_PEOPLE,
            width: 1200,
            note: None,
            thumbnails: HashMap::new(),
        }
    }
}

/// People plotted in the timeline by default ([`TimelineOptions::max_people`]).
pub const DEFAULT_MAX_PEOPLE: usize = 20;
/// The largest picture drawn, bytes of RGB (256 MiB: 20 panels of 1200 pixels take 15 MiB).
pub const MAX_PICTURE_BYTES: usize = 256 << 20;
/// Faces given a bar chart by [`render_probabilities`], the most confident first.
pub const MAX_BAR_FACES: usize = 48;
/// Height of the timeline's title and legend, pixels.
pub const HEADER_HEIGHT: u32 = 112;
/// Height of one person's panel in the timeline, pixels.
pub const PANEL_HEIGHT: u32 = 104;
/// Height of the whole-audience panel at the top of the timeline, pixels.
pub const AUDIENCE_HEIGHT: u32 = 200;
/// The audience panel's moving window, seconds.
pub const AUDIENCE_WINDOW: f64 = 0.5;
pub(crate) const FONT: &str = "sans-serif";

/// Registers DejaVu Sans (embedded by the `dejavu` crate) as plotters' `sans-serif`, so no
/// system font is needed.
pub(crate) fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded DejaVu font cannot be read".into())
    }
}

/// The overlay's colour of label `label_id` (an emotion's colour does not depend on the model;
/// `None`, unknown: the overlay's grey).
fn colour(labels: &[String], label_id: impl Into<Option<usize>>) -> RGBColor {
    let [r, g, b] = label_colour(label_name(labels, label_id.into()));
    RGBColor(r, g, b)
}

/// Draws the emotion timeline. At the top, the whole audience: the share of each emotion among
/// all the faces in view ([`audience_shares`] over [`AUDIENCE_WINDOW`]), as stacked areas, left
/// blank where nobody is in view. Below, one panel per person seen for at least `min_seconds`,
/// sharing the time axis (seconds). Each panel has the person's thumbnail
/// ([`TimelineOptions::thumbnails`]), a band coloured by the reported label frame by frame (blank
/// where the person is out of view) and a bar of each emotion's share of their frames, labelled
/// in percent. Colours are the overlay's ([`label_colour`]). Returns the PNG
/// file's bytes (RGB, `width` × ([`HEADER_HEIGHT`] + [`AUDIENCE_HEIGHT`] + [`PANEL_HEIGHT`] per
/// plotted person, at least one) pixels).
///
/// Errors: the embedded font cannot be read, or drawing or encoding failed.
pub fn render_timeline(
    frames: &[FrameRecord],
    people: &[PersonSummary],
    labels: &[String],
    opts: &TimelineOptions,
) -> Result<Vec<u8>, String> {
    register_font()?;
    let (shown, skipped) = plotted_people(people, opts.min_seconds, opts.max_people);
    let (w, h) = (opts.width.max(400), stacked_height(HEADER_HEIGHT + AUDIENCE_HEIGHT, PANEL_HEIGHT, shown.len().max(1))?);
    let mut rgb = vec![255u8; rgb_bytes(w, h)?];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_timeline(&root, frames, &shown, &skipped, labels, opts).map_err(|e| format!("drawing the timeline: {e}"))?;
        root.present().map_err(|e| format!("drawing the timeline: {e}"))?;
    }
    blit_thumbnails(&mut rgb, w, &shown, &opts.thumbnails);
    encode_png(&rgb, w, h).map_err(|e| format!("encoding the timeline PNG: {e}"))
}

/// Width of one face's panel in [`render_probabilities`], pixels.
pub const BARS_WIDTH: u32 = 520;
/// Height of one face's panel in [`render_probabilities`], pixels.
pub const BARS_HEIGHT: u32 = 230;
/// Height of [`render_probabilities`]'s title, pixels.
pub const BARS_HEADER: u32 = 44;

/// How many faces' panels [`render_probabilities`] puts side by side for `faces` faces.
pub fn bar_columns(faces: usize) -> usize {
    match faces {
        0..=2 => faces.max(1),
        3..=8 => 2,
        9..=30 => 3,
        _ => 4,
    }
}

/// Draws one bar chart per face (a still image's faces): the smoothed probability 0..1 of each
/// label as a horizontal bar in the label's overlay colour, captioned with the track id, the box
/// (pixels) and the reported label. Panels are [`BARS_WIDTH`] × [`BARS_HEIGHT`] pixels,
/// [`bar_columns`] per row, under a [`BARS_HEADER`] title. At most [`MAX_BAR_FACES`] faces get a
/// chart, the first ones (the element reports the most confident first); the title counts all.
/// Returns the PNG file's bytes (RGB).
///
/// Errors: the embedded font cannot be read, or drawing or encoding failed.
pub fn render_probabilities(faces: &[FaceSample], labels: &[String], title: &str) -> Result<Vec<u8>, String> {
    register_font()?;
    let all = faces.len();
    let faces = &faces[..all.min(MAX_BAR_FACES)];
    let cols = bar_columns(faces.len());
    let rows = faces.len().div_ceil(cols).max(1);
    let (w, h) = (BARS_WIDTH * cols as u32, stacked_height(BARS_HEADER, BARS_HEIGHT, rows)?);
    let mut rgb = vec![255u8; rgb_bytes(w, h)?];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_probabilities(&root, faces, all, labels, title, (rows, cols)).map_err(|e| format!("drawing the probabilities: {e}"))?;
        root.present().map_err(|e| format!("drawing the probabilities: {e}"))?;
    }
    encode_png(&rgb, w, h).map_err(|e| format!("encoding the probabilities PNG: {e}"))
}

fn draw_probabilities(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    faces: &[FaceSample],
    all: usize,
    labels: &[String],
    title: &str,
    (rows, cols): (usize, usize),
) -> DrawResult {
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(BARS_HEADER);
    let heading = match all {
        1 => format!("{title}: 1 face, emotion probabilities"),
        n if n > faces.len() => format!("{title}: {n} faces, emotion probabilities of the first {}", faces.len()),
        n => format!("{title}: {n} faces, emotion probabilities"),
    };
    header.draw_text(&heading, &TextStyle::from((FONT, 20, FontStyle::Bold).into_font()).color(&BLACK), (12, 10))?;
    if faces.is_empty() {
        body.draw_text("No face was found.", &TextStyle::from((FONT, 18).into_font()).color(&BLACK), (12, 40))?;
        return Ok(());
    }
    let n = labels.len().max(1);
    for (area, face) in body.split_evenly((rows, cols)).iter().zip(faces) {
        let [x, y, bw, bh] = face.bbox;
        let label = label_name(labels, face.label_id);
        let p = unit(face.label_id.and_then(|l| face.scores.get(l)).copied().unwrap_or(0.0));
        let caption = format!("#{} at {x},{y} ({bw}x{bh} px): {label} {p:.2}", face.id);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 15, FontStyle::Bold))
            .margin(8)
            .margin_right(20)
            .x_label_area_size(24)
            .y_label_area_size(80)
            // Segments 0..=n-1, the first label at the top.
            .build_cartesian_2d(0.0..1.0, (0..n - 1).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(6)
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style((FONT, 13))
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(j) if *j < n => labels.get(n - 1 - j).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series((0..n).map(|i| {
            let v = unit(face.scores.get(i).copied().unwrap_or(0.0));
            let j = n - 1 - i;
            let mut bar = Rectangle::new([(0.0, SegmentValue::Exact(j)), (v, SegmentValue::Exact(j + 1))], colour(labels, i).filled());
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
    }
    Ok(())
}

/// Encodes 8-bit RGB pixels (`w` × `h`, rows top to bottom) as a PNG file's bytes.
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(png_bytes)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A probability from a JSON line as drawn: clamped to 0..1, NaN as 0. A hostile line's 1e38
/// would otherwise be a bar two billion pixels wide, which takes plotters minutes to clip.
fn unit(p: f32) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        (p as f64).clamp(0.0, 1.0)
    }
}

fn draw_timeline(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    frames: &[FrameRecord],
    shown: &[&PersonSummary],
    skipped: &[&PersonSummary],
    labels: &[String],
    opts: &TimelineOptions,
) -> DrawResult {
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(HEADER_HEIGHT);
    let text = |size: u32| TextStyle::from((FONT, size).into_font()).color(&BLACK);
    let title = if opts.title.is_empty() { "Emotions over time".to_string() } else { format!("{}: emotions over time", opts.title) };
    header.draw_text(&title, &TextStyle::from((FONT, 22, FontStyle::Bold).into_font()).color(&BLACK), (12, 8))?;
    // Legend: one swatch per emotion.
    let mut x = 12;
    for (i, label) in labels.iter().enumerate() {
        header.draw(&Rectangle::new([(x, 40), (x + 22, 52)], colour(labels, i).filled()))?;
        header.draw_text(label, &text(15), (x + 28, 38))?;
        x += 28 + header.estimate_text_size(label, &text(15))?.0 as i32 + 24;
    }
    match &opts.note {
        Some(note) => {
            header.draw_text(note, &TextStyle::from((FONT, 14, FontStyle::Bold).into_font()).color(&RGBColor(170, 20, 20)), (12, 64))?
        }
        None => header.draw_text(
            "Per person: their face, the reported (smoothed) emotion frame by frame, and each emotion's share of their frames.",
            &text(14),
            (12, 64),
        )?,
    }
    // The people left out, in one line: as many as fit.
    let short = skipped.iter().filter(|p| p.seconds_seen + 1e-9 < opts.min_seconds).count();
    let mut note = format!("Not plotted (seen < {:.1} s", opts.min_seconds);
    if short < skipped.len() {
        note.push_str(&format!(", or beyond the {} seen longest", opts.max_people));
    }
    note.push_str("; listed in the CSV): ");
    if skipped.is_empty() {
        note.push_str("none.");
    } else {
        note.push_str(&format!("{} of {} people: ", skipped.len(), skipped.len() + shown.len()));
        let room = header.dim_in_pixel().0 as i64 - 24;
        for (i, p) in skipped.iter().enumerate() {
            let more = format!(" and {} more", skipped.len() - i);
            let item = format!("{}#{} ({:.1} s)", if i == 0 { "" } else { ", " }, p.id, p.seconds_seen);
            let width = |t: &str| header.estimate_text_size(t, &text(14)).map(|(w, _)| w as i64).unwrap_or(i64::MAX);
            if i + 1 < skipped.len() && width(&format!("{note}{item}{more}")) > room || width(&format!("{note}{item}")) > room {
                note.push_str(&more);
                break;
            }
            note.push_str(&item);
        }
    }
    header.draw_text(&note, &text(14), (12, 84))?;

    let end = video_end(frames).max(1e-3);
    let interval = frame_interval(frames);
    let (audience, body) = body.split_vertically(AUDIENCE_HEIGHT);
    draw_audience(&audience, frames, labels, end, interval)?;
    if shown.is_empty() {
        body.draw_text("No person was seen long enough to plot.", &text(18), (12, 80))?;
        return Ok(());
    }
    for (area, person) in body.split_evenly((shown.len(), 1)).iter().zip(shown) {
        draw_person(area, frames, person, labels, end, interval)?;
    }
    Ok(())
}

/// Left and right margins of the charts, so that every panel shares the time axis.
/// The left margin also holds each person's thumbnail.
const CHART_LEFT: u32 = 6 + crate::thumbnails::THUMBNAIL_SIZE + 8;
const CHART_RIGHT: u32 = 20;

/// A chart of 0..1 values (`y_desc`) over 0..`end` seconds, with the shared margins and mesh.
fn time_chart<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    end: f64,
    y_desc: &str,
) -> Result<
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    Box<dyn std::error::Error>,
> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(6)
        .margin_right(CHART_RIGHT)
        .margin_bottom(4)
        .x_label_area_size(32)
        .y_label_area_size(CHART_LEFT)
        .build_cartesian_2d(0.0..end, 0.0..1.0)?;
    chart
        .configure_mesh()
        .y_labels(3)
        .x_labels(12)
        .max_light_lines(1)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_desc("time (s)")
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()?;
    Ok(chart)
}

fn draw_audience(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    frames: &[FrameRecord],
    labels: &[String],
    end: f64,
    interval: f64,
) -> DrawResult {
    let faces: usize = frames.iter().map(|f| f.faces.len()).sum();
    let (caption, chart_area) = area.split_vertically(40);
    caption.draw_text(
        &format!("Whole audience: share of each emotion among the faces in view ({faces} face-frames, {AUDIENCE_WINDOW} s window)"),
        &TextStyle::from((FONT, 15, FontStyle::Bold).into_font()).color(&BLACK),
        (12, 14),
    )?;
    let mut chart = time_chart(&chart_area, end, "share of faces")?;
    let shares = audience_shares(frames, labels.len(), AUDIENCE_WINDOW);
    let step = if interval > 0.0 { interval } else { end / 100.0 };
    // Runs of consecutive frames with faces; a gap longer than 1.5 frames breaks the areas.
    let mut runs: Vec<&[(f64, Vec<f64>)]> = Vec::new();
    let mut start = 0;
    for i in 1..=shares.len() {
        if i == shares.len() || shares[i].0 - shares[i - 1].0 > 1.5 * step {
            runs.push(&shares[start..i]);
            start = i;
        }
    }
    for run in runs.into_iter().filter(|r| !r.is_empty()) {
        // A lone frame is drawn one frame wide.
        let points: Vec<(f64, &Vec<f64>)> = if run.len() == 1 {
            vec![(run[0].0, &run[0].1), ((run[0].0 + step).min(end), &run[0].1)]
        } else {
            run.iter().map(|(t, v)| (*t, v)).collect()
        };
        let mut below = vec![0.0; points.len()];
        for e in 0..labels.len() {
            let above: Vec<f64> = points.iter().zip(&below).map(|((_, v), b)| b + v.get(e).copied().unwrap_or(0.0)).collect();
            let mut polygon: Vec<(f64, f64)> = points.iter().zip(&above).map(|((t, _), y)| (*t, *y)).collect();
            polygon.extend(points.iter().zip(&below).rev().map(|((t, _), y)| (*t, *y)));
            chart.draw_series(std::iter::once(Polygon::new(polygon, colour(labels, e).filled())))?;
            below = above;
        }
    }
    Ok(())
}

fn draw_person(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    frames: &[FrameRecord],
    p: &PersonSummary,
    labels: &[String],
    end: f64,
    interval: f64,
) -> DrawResult {
    let bold = |size: u32| TextStyle::from((FONT, size, FontStyle::Bold).into_font()).color(&BLACK);
    let (caption, rest) = area.split_vertically(24);
    let (band_area, shares_area) = rest.split_vertically(PANEL_HEIGHT - 24 - SHARES_HEIGHT);
    let dominant = match p.dominant {
        Some(d) => format!("mostly {}", labels[d]),
        None => "no face large enough to classify".to_string(),
    };
    caption.draw_text(
        &format!(
            "Person #{}: {dominant} | seen {:.2}-{:.2} s, {} frames ({:.1} s), detector confidence {:.2} mean, {:.2} min",
            p.id, p.first_seen, p.last_seen, p.frames, p.seconds_seen, p.mean_confidence, p.min_confidence
        ),
        &bold(15),
        (CHART_LEFT as i32 + 6, 6),
    )?;
    let samples: Vec<(f64, &FaceSample)> =
        frames.iter().flat_map(|f| f.faces.iter().filter(|s| s.id == p.id).map(move |s| (f.time, s))).collect();
    let step = if interval > 0.0 { interval } else { end / 100.0 };
    // The band: the reported (smoothed) label frame by frame, on the shared time axis.
    let mut band = ChartBuilder::on(&band_area)
        .margin_left(6)
        .margin_right(CHART_RIGHT)
        .x_label_area_size(22)
        .y_label_area_size(CHART_LEFT)
        .build_cartesian_2d(0.0..end, 0.0..1.0)?;
    band.configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(12)
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 12))
        .x_label_formatter(&|v| format!("{v:.1} s"))
        .draw()?;
    band.plotting_area().fill(&RGBColor(245, 245, 245))?;
    band.draw_series(
        samples.iter().map(|(t, s)| Rectangle::new([(*t, 0.0), ((*t + step).min(end), 1.0)], colour(labels, s.label_id).filled())),
    )?;
    draw_shares(&shares_area, p, labels)
}

/// Height of the share bar under each person's band, pixels.
const SHARES_HEIGHT: u32 = 26;

/// One bar, as wide as the time axis, split into each emotion's share of the person's frames
/// (then the share too small to classify, grey), each part labelled where the text fits.
fn draw_shares(area: &DrawingArea<BitMapBackend<'_>, Shift>, p: &PersonSummary, labels: &[String]) -> DrawResult {
    let (w, _) = area.dim_in_pixel();
    let (left, right) = (CHART_LEFT as i32 + 6, w as i32 - CHART_RIGHT as i32);
    let width = f64::from((right - left).max(1));
    let text = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
    let mut x = f64::from(left);
    for (label_id, name, share) in p.labelled_shares(labels).filter(|(_, _, s)| *s > 0.0) {
        let x1 = (x + share * width).min(f64::from(right));
        area.draw(&Rectangle::new([(x as i32, 2), (x1 as i32, 20)], colour(labels, label_id).filled()))?;
        let name = if label_id.is_some() { name } else { "too small" };
        let tag = format!("{name} {:.0} %", 100.0 * share);
        if area.estimate_text_size(&tag, &text)?.0 as f64 + 6.0 < x1 - x {
            area.draw_text(&tag, &text, (x as i32 + 3, 5))?;
        }
        x = x1;
    }
    Ok(())
}

/// Copies each plotted person's thumbnail into the timeline's RGB pixels (`width` wide), in
/// the left margin of their panel.
fn blit_thumbnails(rgb: &mut [u8], width: u32, shown: &[&PersonSummary], thumbnails: &HashMap<u64, image::RgbImage>) {
    for (i, p) in shown.iter().enumerate() {
        let Some(thumb) = thumbnails.get(&p.id) else { continue };
        let top = HEADER_HEIGHT + AUDIENCE_HEIGHT + i as u32 * PANEL_HEIGHT + 4;
        for (x, y, px) in thumb.enumerate_pixels() {
            let (x, y) = (6 + x, top + y);
            if x >= CHART_LEFT.min(width) || y >= top - 4 + PANEL_HEIGHT {
                continue;
            }
            let at = (y as usize * width as usize + x as usize) * 3;
            if let Some(dst) = rgb.get_mut(at..at + 3) {
                dst.copy_from_slice(&px.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emotiondetect_core::classification::FER2013_LABELS;
    use emotiondetect_core::frame_report::{face_box, DetectionReport, EmotionReport, FaceReport, ModelRef, Resolution};
    use emotiondetect_core::overlay::EMOTION_COLOURS;

    const EMOTIONS: usize = FER2013_LABELS.len();

    fn fer() -> Vec<String> {
        FER2013_LABELS.iter().map(|l| l.to_string()).collect()
    }

    /// A one-hot probability vector with `p` on `label_id` and the rest spread evenly.
    fn scores(label_id: usize, p: f32) -> Vec<f32> {
        (0..EMOTIONS).map(|i| if i == label_id { p } else { (1.0 - p) / (EMOTIONS - 1) as f32 }).collect()
    }

    /// A face as the element reports it, with `scores` as its raw and smoothed probabilities.
    fn face(id: u64, bbox: (f32, f32, f32, f32), labels: &[String], label_id: usize, scores: &[f32]) -> FaceReport {
        let ((x, y, w, h), bounding_box) = face_box(bbox.0, bbox.1, bbox.2, bbox.3, Resolution { width: 100, height: 100 });
        FaceReport {
            x,
            y,
            w,
            h,
            region_id: 0,
            id,
            roi_type: "face".into(),
            detection: DetectionReport { bounding_box, confidence: 0.9, label: "face".into(), label_id: 0 },
            landmarks: None,
            emotion: EmotionReport {
                label: labels[label_id].clone(),
                label_id: Some(label_id),
                confidence: scores[label_id],
                model: ModelRef { name: "m".into() },
                labels: labels.to_vec().into(),
                scores: scores.to_vec(),
                smoothed_scores: scores.to_vec(),
            },
        }
    }

    /// One JSON line of a frame with `faces`.
    fn line(pts: Option<u64>, faces: Vec<FaceReport>) -> String {
        FrameReport { timestamp: pts, source: "file:///x.avi".into(), objects: faces, ..FrameReport::new(100, 100) }.to_json()
    }

    /// Synthetic JSON lines written by the element's own report type: 25 fps, starting at 2 s.
    /// Person 1 is in every frame (happy for 30, then sad for 20); person 2 appears in frames
    /// 10..20 (angry); frame 25 has nobody.
    fn lines() -> String {
        let mut out = String::new();
        for n in 0..50u64 {
            let mut faces = Vec::new();
            let (l1, s1) = if n < 30 { (3, scores(3, 0.8)) } else { (4, scores(4, 0.7)) };
            let s2 = scores(0, 0.9);
            if n != 25 {
                faces.push(face(1, (10.0, 10.0, 50.0, 60.0), &fer(), l1, &s1));
            }
            if (10..20).contains(&n) {
                faces.push(face(2, (60.0, 10.0, 90.0, 50.0), &fer(), 0, &s2));
            }
            let pts = 2_000_000_000 + n * 40_000_000;
            out.push_str(&line(Some(pts), faces));
            out.push('\n');
        }
        out
    }

    #[test]
    fn reads_the_element_json_lines() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        assert_eq!(frames.len(), 50);
        assert_eq!(frames[0].time, 0.0, "times start at the first frame");
        assert!((frames[49].time - 1.96).abs() < 1e-9);
        assert_eq!(frames[10].faces.len(), 2);
        assert_eq!(
            frames[10].faces[1],
            FaceSample { id: 2, label_id: Some(0), scores: scores(0, 0.9), bbox: [60, 10, 30, 40], confidence: 0.9 }
        );
        assert!(frames[25].faces.is_empty());
        assert!((frame_interval(&frames) - 0.04).abs() < 1e-9);
        assert!((video_end(&frames) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_lines_name_their_labels() {
        assert_eq!(labels_in(lines().as_bytes()).unwrap(), Some(fer()));
        assert_eq!(labels_in(line(Some(0), vec![]).as_bytes()).unwrap(), None, "no face, no labels");
        let mut reordered = fer();
        reordered.swap(0, 1);
        let err = read_jsonl(lines().as_bytes(), &reordered).unwrap_err();
        assert!(err.contains("labels [angry, disgust,") && err.contains("expected [disgust, angry,"), "{err}");
    }

    #[test]
    fn null_timestamps_continue_the_previous_interval() {
        let l = |t: Option<u64>| line(t, vec![]);
        let text = [l(Some(1_000_000_000)), l(Some(1_040_000_000)), l(None), String::new(), l(Some(1_120_000_000))].join("\n");
        let times: Vec<f64> = read_jsonl(text.as_bytes(), &fer()).unwrap().iter().map(|f| f.time).collect();
        assert_eq!(times.len(), 4, "the blank line is skipped");
        for (t, want) in times.iter().zip([0.0, 0.04, 0.08, 0.12]) {
            assert!((t - want).abs() < 1e-9, "{times:?}");
        }
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let good = line(Some(0), vec![]);
        let err = read_jsonl(format!("{good}\nnot json\n").as_bytes(), &fer()).unwrap_err();
        assert!(err.starts_with("line 2: not JSON"), "{err}");
        let mut bored = face(3, (0.0, 0.0, 9.0, 9.0), &fer(), 0, &scores(0, 0.9));
        bored.emotion.label = "bored".into();
        let err = read_jsonl(line(Some(0), vec![bored]).as_bytes(), &fer()).unwrap_err();
        assert!(err.contains("line 1") && err.contains("unknown emotion `bored`"), "{err}");
        let err = read_jsonl(r#"{"resolution":{"width":1,"height":1},"timestamp":0}"#.as_bytes(), &fer()).unwrap_err();
        assert!(err.contains("objects"), "{err}");
    }

    #[test]
    fn summarizes_each_person() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let people = summarize(&frames, EMOTIONS);
        assert_eq!(people.len(), 2);
        let p1 = &people[0];
        assert_eq!((p1.id, p1.frames, p1.dominant), (1, 49, Some(3)));
        assert_eq!((p1.first_seen, p1.last_seen), (0.0, frames[49].time));
        assert!((p1.seconds_seen - 49.0 * 0.04).abs() < 1e-9);
        assert!((p1.shares[3] - 29.0 / 49.0).abs() < 1e-12 && (p1.shares[4] - 20.0 / 49.0).abs() < 1e-12);
        assert!((p1.shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let p2 = &people[1];
        assert_eq!((p2.id, p2.frames, p2.dominant), (2, 10, Some(0)));
        assert!((p2.first_seen - 0.4).abs() < 1e-9 && (p2.last_seen - 0.76).abs() < 1e-9);
        assert_eq!(p2.shares[0], 1.0);
    }

    #[test]
    fn each_person_has_its_detection_confidence_and_classified_time() {
        let face = |label_id, confidence| FaceSample { id: 3, label_id, scores: vec![], bbox: [0; 4], confidence };
        let samples = [(Some(3), 0.9), (None, 0.62), (Some(3), f32::NAN), (Some(4), 0.8)];
        let frames: Vec<FrameRecord> =
            samples.iter().enumerate().map(|(i, &(l, c))| FrameRecord { time: i as f64 * 0.04, faces: vec![face(l, c)] }).collect();
        let p = &summarize(&frames, EMOTIONS)[0];
        assert!((p.mean_confidence - (0.9 + 0.62 + 0.0 + 0.8) / 4.0).abs() < 1e-6, "a NaN confidence counts as 0: {p:?}");
        assert_eq!(p.min_confidence, 0.0);
        assert!((p.seconds_classified - 3.0 * 0.04).abs() < 1e-9 && (p.seconds_seen - 4.0 * 0.04).abs() < 1e-9);
        assert_eq!(face_counts(&frames), (4, 1));
    }

    #[test]
    fn ties_go_to_the_first_label() {
        let face = |label_id| FaceSample { id: 5, label_id: Some(label_id), scores: vec![], bbox: [0; 4], confidence: 0.9 };
        let frames: Vec<FrameRecord> =
            [6, 2, 2, 6].iter().enumerate().map(|(i, &l)| FrameRecord { time: i as f64, faces: vec![face(l)] }).collect();
        let p = &summarize(&frames, EMOTIONS)[0];
        assert_eq!(p.dominant, Some(2), "fear and neutral tie: fear comes first");
        assert_eq!((p.shares[2], p.shares[6]), (0.5, 0.5));
        assert!(summarize(&[], EMOTIONS).is_empty());
    }

    #[test]
    fn csv_has_one_row_per_person() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let mut out = Vec::new();
        write_csv(&mut out, &summarize(&frames, EMOTIONS), &fer()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(
            rows[0],
            "track_id,first_seen_s,last_seen_s,seconds_seen,frames,seconds_classified,mean_confidence,min_confidence,dominant_emotion,share_angry,share_disgust,share_fear,share_happy,share_sad,share_surprise,share_neutral,share_unknown"
        );
        assert_eq!(rows[1], "1,0.000,1.960,1.960,49,1.960,0.900,0.900,happy,0.0000,0.0000,0.0000,0.5918,0.4082,0.0000,0.0000,0.0000");
        assert_eq!(rows[2], "2,0.400,0.760,0.400,10,0.400,0.900,0.900,angry,1.0000,0.0000,0.0000,0.0000,0.0000,0.0000,0.0000,0.0000");
        assert_eq!(rows.len(), 3);
    }

    /// A face too small to classify counts as a frame of its person, in no emotion.
    #[test]
    fn unknown_faces_count_as_frames_without_an_emotion() {
        let labels = fer();
        let mut small = face(3, (0.0, 0.0, 10.0, 13.0), &labels, 0, &scores(0, 0.9));
        small.emotion = EmotionReport::unknown(small.emotion.model.clone(), small.emotion.labels.clone());
        let happy = face(3, (0.0, 0.0, 40.0, 40.0), &labels, 3, &scores(3, 0.8));
        let line = |f: &FaceReport, n: u64| {
            FrameReport { timestamp: Some(n * 100_000_000), objects: vec![f.clone()], ..FrameReport::new(100, 100) }.to_json()
        };
        let text: String = (0..4).map(|n| line(if n == 0 { &happy } else { &small }, n) + "\n").collect();
        let frames = read_jsonl(text.as_bytes(), &labels).unwrap();
        assert_eq!(frames[1].faces[0].label_id, None);
        let p = &summarize(&frames, EMOTIONS)[0];
        assert_eq!((p.frames, p.dominant, p.unknown, p.shares[3]), (4, Some(3), 0.75, 0.25));
        let only_small: Vec<FrameRecord> = frames[1..].to_vec();
        assert_eq!(summarize(&only_small, EMOTIONS)[0].dominant, None);
        let mut csv = Vec::new();
        write_csv(&mut csv, &summarize(&only_small, EMOTIONS), &labels).unwrap();
        let row = String::from_utf8(csv).unwrap().lines().nth(1).unwrap().to_string();
        assert!(row.contains(",unknown,0.0000,") && row.ends_with(",1.0000"), "{row}");
        let mut csv = Vec::new();
        write_frames_csv(&mut csv, &frames, &labels).unwrap();
        let row = String::from_utf8(csv).unwrap().lines().nth(2).unwrap().to_string();
        assert!(row.ends_with(",unknown,,,,,,,"), "{row}");
        // The audience panel counts classified faces only: frame 1's window holds frame 0's
        // happy face and frame 1's unknown one.
        let shares = audience_shares(&frames, EMOTIONS, 0.25);
        assert_eq!(shares[1].1[3], 1.0);
        assert_eq!(shares.len(), 2, "frames 2 and 3 have only unknown faces in their windows");
        let png = render_timeline(
            &frames,
            &summarize(&frames, EMOTIONS),
            &labels,
            &TimelineOptions { min_seconds: 0.0, ..TimelineOptions::default() },
        )
        .unwrap();
        assert!(!png.is_empty());
    }

    #[test]
    fn other_models_labels_name_the_columns_and_colours() {
        // FER+'s 8 labels in its own order: "happiness" is FER2013's happy, "contempt" is new.
        let labels: Vec<String> =
            ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"].iter().map(|l| l.to_string()).collect();
        let s: Vec<f32> = (0..8).map(|i| if i == 7 { 0.65 } else { 0.05 }).collect();
        let happy: Vec<f32> = (0..8).map(|i| if i == 1 { 0.86 } else { 0.02 }).collect();
        let text: Vec<String> = (0..20u64)
            .map(|n| {
                let (label, label_id, scores) = if n < 12 { ("contempt", 7, &s) } else { ("happiness", 1, &happy) };
                let f = face(4, (0.0, 0.0, 9.0, 9.0), &labels, label_id, scores);
                assert_eq!(f.emotion.label, label);
                line(Some(n * 40_000_000), vec![f])
            })
            .collect();
        let frames = read_jsonl(text.join("\n").as_bytes(), &labels).unwrap();
        let people = summarize(&frames, labels.len());
        assert_eq!((people[0].dominant, people[0].shares.len()), (Some(7), 8));
        let mut out = Vec::new();
        write_csv(&mut out, &people, &labels).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(csv.lines().next().unwrap().ends_with("share_fear,share_contempt,share_unknown"), "{csv}");
        assert!(csv.lines().nth(1).unwrap().contains(",contempt,0.0000,0.4000,"), "{csv}");
        let opts = TimelineOptions { min_seconds: 0.1, ..Default::default() };
        let (_, pixels) = decode_png(&render_timeline(&frames, &people, &labels, &opts).unwrap());
        assert!(pixels.chunks(3).any(|p| p == EMOTION_COLOURS[3]), "happiness drawn in happy's colour");
        // FER2013's labels do not read these lines: the label and the score count are checked.
        let err = read_jsonl(text[0].as_bytes(), &fer()).unwrap_err();
        assert!(err.contains("unknown emotion `contempt`"), "{err}");
    }

    #[test]
    fn brief_and_uncertain_tracks_are_not_people() {
        let person = |id, seconds_seen, seconds_classified, mean_confidence| PersonSummary {
            id,
            first_seen: 0.0,
            last_seen: seconds_seen,
            frames: 10,
            seconds_seen,
            dominant: None,
            shares: vec![0.0; EMOTIONS],
            unknown: 0.0,
            seconds_classified,
            mean_confidence,
            min_confidence: mean_confidence,
        };
        let all = vec![person(1, 2.0, 2.0, 0.92), person(2, 0.2, 0.2, 0.95), person(3, 1.8, 1.8, 0.74), person(4, 3.0, 0.0, 0.7)];
        let [people, brief, uncertain] = split_tracks(all, &PersonLimits { min_seconds: 0.5, min_confidence: 0.8 });
        let ids = |v: &[PersonSummary]| v.iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!((ids(&people), ids(&brief), ids(&uncertain)), (vec![1, 4], vec![2], vec![3]), "small unclassified faces stay");
        let json = people_json(&people, &fer(), &PersonLimits::DEFAULT, (1, 1));
        assert_eq!((json["brief_tracks"].as_u64(), json["uncertain_tracks"].as_u64()), (Some(1), Some(1)));
        assert_eq!(json["people"][1]["dominant_emotion"], UNKNOWN_EMOTION);
        assert_eq!(json["people"][0]["shares"].as_object().unwrap().len(), EMOTIONS + 1);
    }

    #[test]
    fn frames_csv_has_one_row_per_face_named_by_label() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let mut out = Vec::new();
        write_frames_csv(&mut out, &frames, &fer()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "time_s,track_id,x,y,w,h,label,angry,disgust,fear,happy,sad,surprise,neutral");
        assert_eq!(rows.len(), 1 + 49 + 10, "one row per face: person 1 in 49 frames, person 2 in 10");
        assert_eq!(rows[1], "0.000,1,10,10,40,50,happy,0.0333,0.0333,0.0333,0.8000,0.0333,0.0333,0.0333");
        // Frame 10 has both people, in the line's order.
        assert!(rows[11].starts_with("0.400,1,") && rows[12].starts_with("0.400,2,60,10,30,40,angry,0.9000,"), "{text}");
    }

    #[test]
    fn audience_shares_count_every_face_in_the_window() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        // No window: each frame alone. Frame 10: person 1 happy, person 2 angry.
        let shares = audience_shares(&frames, EMOTIONS, 0.0);
        assert_eq!(shares.len(), 49, "frame 25 (nobody in view) is a gap");
        assert_eq!(shares[10], (frames[10].time, vec![0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]));
        assert_eq!(shares[0].1[3], 1.0);
        // A 0.1 s window around frame 20 (t = 0.8) holds frames 19..=21: person 2's last frame
        // is 19, so 1 angry face of 4.
        let shares = audience_shares(&frames, EMOTIONS, 0.1);
        let at = shares.iter().find(|(t, _)| (*t - 0.8).abs() < 1e-9).unwrap();
        assert!((at.1[0] - 0.25).abs() < 1e-12 && (at.1[3] - 0.75).abs() < 1e-12, "{at:?}");
        for (_, s) in &shares {
            assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(shares.len(), 50, "frame 25 has faces in its window");
    }

    #[test]
    fn bar_chart_has_one_panel_per_face() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let faces = &frames[10].faces;
        let (info, pixels) = decode_png(&render_probabilities(faces, &fer(), "x.jpg").unwrap());
        assert_eq!((info.width, info.height), (2 * BARS_WIDTH, BARS_HEADER + BARS_HEIGHT));
        for label in [0, 3] {
            assert!(pixels.chunks(3).any(|p| p == EMOTION_COLOURS[label]), "bar of {}", FER2013_LABELS[label]);
        }
        assert_eq!(bar_columns(50), 4);
        let (info, _) = decode_png(&render_probabilities(&[], &fer(), "none.jpg").unwrap());
        assert_eq!((info.width, info.height), (BARS_WIDTH, BARS_HEADER + BARS_HEIGHT));
    }

    #[test]
    fn short_appearances_are_not_plotted() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let people = summarize(&frames, EMOTIONS);
        let (shown, skipped) = plotted_people(&people, 1.0, 20);
        assert_eq!(shown.iter().map(|p| p.id).collect::<Vec<_>>(), [1]);
        assert_eq!(skipped.iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
        assert_eq!(plotted_people(&people, 0.0, 20).0.len(), 2);
        let (shown, skipped) = plotted_people(&people, 0.0, 1);
        assert_eq!((shown[0].id, skipped[0].id), (1, 2), "the one seen longest");
    }

    /// `threshold=0` on vtest.avi gave ~6,000 people: the picture's byte size wrapped in u32 and
    /// plotters panicked after the whole run. Now the 20 seen longest are plotted.
    #[test]
    fn thousands_of_people_plot_the_longest_seen_and_summarise_the_rest() {
        let n_people = 7000u64;
        // Person i is seen in the first 30 + i % 7 frames (25 fps): 1.2..1.44 s.
        let frames: Vec<FrameRecord> = (0..37)
            .map(|f| FrameRecord {
                time: f as f64 * 0.04,
                faces: (0..n_people)
                    .filter(|i| f < 30 + i % 7)
                    .map(|id| FaceSample {
                        id,
                        label_id: Some((id % 7) as usize),
                        scores: scores((id % 7) as usize, 0.9),
                        bbox: [0, 0, 9, 9],
                        confidence: 0.9,
                    })
                    .collect(),
            })
            .collect();
        let people = summarize(&frames, EMOTIONS);
        assert_eq!(people.len(), n_people as usize);
        let opts = TimelineOptions { min_seconds: 1.0, ..Default::default() };
        let (info, pixels) = decode_png(&render_timeline(&frames, &people, &fer(), &opts).unwrap());
        assert_eq!(info.height, HEADER_HEIGHT + AUDIENCE_HEIGHT + DEFAULT_MAX_PEOPLE as u32 * PANEL_HEIGHT, "20 panels");
        assert!(pixels.len() == info.width as usize * info.height as usize * 3);
        let (shown, skipped) = plotted_people(&people, 1.0, DEFAULT_MAX_PEOPLE);
        assert!(shown.iter().all(|p| p.frames == 36) && skipped.len() == 6980, "the 20 seen longest (36 frames: id % 7 == 6)");
        assert!(rgb_bytes(1200, u32::MAX).is_err() && stacked_height(312, 200, 30_000_000).is_err());
        assert_eq!(rgb_bytes(1200, 100), Ok(360_000));
        // A photo's bar charts: at most MAX_BAR_FACES panels however many faces.
        let faces: Vec<FaceSample> = frames[0].faces.iter().take(5000).cloned().collect();
        let (info, _) = decode_png(&render_probabilities(&faces, &fer(), "crowd.jpg").unwrap());
        assert_eq!(info.height, BARS_HEADER + BARS_HEIGHT * (MAX_BAR_FACES / bar_columns(MAX_BAR_FACES)) as u32);
    }

    fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn timeline_is_a_png_with_the_emotion_colours() {
        let frames = read_jsonl(lines().as_bytes(), &fer()).unwrap();
        let people = summarize(&frames, EMOTIONS);
        let opts = TimelineOptions { title: "synthetic.avi".into(), min_seconds: 0.3, width: 800, ..Default::default() };
        let (info, pixels) = decode_png(&render_timeline(&frames, &people, &fer(), &opts).unwrap());
        assert_eq!((info.width, info.height), (800, HEADER_HEIGHT + AUDIENCE_HEIGHT + 2 * PANEL_HEIGHT), "two people plotted");
        let has = |c: [u8; 3]| pixels.chunks(3).any(|p| p == c);
        for label in [0, 3, 4] {
            assert!(has(EMOTION_COLOURS[label]), "colour of {} drawn", FER2013_LABELS[label]);
        }
        // Text is drawn (dark pixels outside the swatches) with the embedded font.
        assert!(pixels.chunks(3).filter(|p| p.iter().all(|&v| v < 60)).count() > 500);

        // With a 1 s minimum, person 2 (0.4 s) is left out; nobody plotted still makes a picture.
        let opts = TimelineOptions { min_seconds: 1.0, ..opts };
        let (info, _) = decode_png(&render_timeline(&frames, &people, &fer(), &opts).unwrap());
        assert_eq!(info.height, HEADER_HEIGHT + AUDIENCE_HEIGHT + PANEL_HEIGHT);
        let (info, _) = decode_png(&render_timeline(&[], &[], &fer(), &opts).unwrap());
        assert_eq!(info.height, HEADER_HEIGHT + AUDIENCE_HEIGHT + PANEL_HEIGHT);
    }
}
