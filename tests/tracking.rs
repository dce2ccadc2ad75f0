// SPDX-License-Identifier: MIT
//! Tracking on real video: stable ids, interval-based inference and smoothing on Megamind.avi
//! (270 frames, 720x528, one or two faces per frame, 8 shots).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

/// Runs Megamind.avi through the element with `props` into an appsink; returns one message per
/// frame and the buffers.
fn megamind(props: &str) -> Run {
    let desc =
        format!("filesrc location={} ! decodebin ! emotiondetect draw=false {props} ! appsink name=sink", common::megamind().display());
    let run = run_pipeline(&desc, Duration::from_secs(300));
    assert!(run.warnings.is_empty(), "warnings: {:?}", run.warnings);
    assert_eq!(run.messages.len(), 270, "one message per frame");
    run
}

fn largest(m: &FrameMsg) -> Option<&MsgFace> {
    m.faces.iter().max_by_key(|f| f.width * f.height)
}

/// Share of the face-frames of `base` whose face is found in `other` (IoU >= 0.5) with the same
/// label, and the share found at all.
fn agreement(base: &[FrameMsg], other: &[FrameMsg]) -> (f64, f64) {
    let (mut total, mut matched, mut same) = (0, 0, 0);
    for (a, b) in base.iter().zip(other) {
        let ra: Vec<Rect> = a.faces.iter().map(|f| f.rect()).collect();
        let rb: Vec<Rect> = b.faces.iter().map(|f| f.rect()).collect();
        total += a.faces.len();
        for (i, j, _) in greedy_match(&ra, &rb, 0.5) {
            matched += 1;
            same += (a.faces[i].emotion == b.faces[j].emotion) as usize;
        }
    }
    (same as f64 / total as f64, matched as f64 / total as f64)
}

/// Label changes of the same track id between consecutive frames.
fn label_changes(msgs: &[FrameMsg]) -> usize {
    msgs.windows(2).map(|w| w[1].faces.iter().filter(|f| w[0].faces.iter().any(|p| p.id == f.id && p.emotion != f.emotion)).count()).sum()
}

/// The main character is the largest face of each frame. Between two consecutive frames whose
/// largest faces overlap (IoU >= 0.3: same person, no cut) the id must not change; a change
/// there is an id switch. Across cuts a new id is expected (no re-identification).
#[test]
fn megamind_main_character_keeps_its_id_within_each_shot() {
    let run = megamind("");
    let (mut continued, mut switches, mut cuts) = (0, 0, 0);
    for w in run.messages.windows(2) {
        match (largest(&w[0]), largest(&w[1])) {
            (Some(a), Some(b)) if a.rect().iou(&b.rect()) >= 0.3 => {
                continued += 1;
                switches += (a.id != b.id) as usize;
            }
            _ => cuts += 1,
        }
    }
    let ids: BTreeSet<i32> = run.messages.iter().flat_map(|m| m.faces.iter().map(|f| f.id)).collect();
    println!("Megamind: {continued} frame pairs continue the main face, {switches} id switches, {cuts} cuts, {} distinct ids", ids.len());
    assert!(continued >= 250, "the main face continues over most frame pairs: {continued}");
    assert_eq!(switches, 0, "id switches of the main character within shots");
    assert!(ids.len() <= 12, "one id per person per shot, not per frame: {} ids", ids.len());
}

/// Why 65 %: a reused result is older than a fresh one, and the per-frame labels of this clip
/// change often: an interval-1 face has the same label as itself 1, 2, 3 and 4 frames earlier
/// only 77, 71, 66 and 63 % of the time (measured). With results reused for up to 4 frames and
/// boxes carried for up to 2, about 70-75 % agreement is the most one can expect; 65 % leaves
/// room for small numeric changes while still failing if carried results were wrong or stale.
#[test]
fn intervals_agree_with_per_frame_inference() {
    let every = megamind("");
    let sparse = megamind("inference-interval=3 reclassify-interval=5");
    let (same, found) = agreement(&every.messages, &sparse.messages);
    println!("inference-interval=3 reclassify-interval=5 vs 1/1: {:.1} % same label, {:.1} % of faces found", 100.0 * same, 100.0 * found);
    assert!(found >= 0.95, "carried boxes still cover the faces: {found}");
    assert!(same >= 0.65, "label agreement {same}");
}

#[test]
fn smoothing_reduces_label_flicker() {
    let raw = label_changes(&megamind("emotion-smoothing=0").messages);
    let smooth = label_changes(&megamind("emotion-smoothing=0.7").messages);
    println!("label changes within tracks: {raw} without smoothing, {smooth} with emotion-smoothing=0.7");
    assert!((smooth as f64) <= 0.75 * raw as f64, "{smooth} vs {raw}");
}

/// On frames where the detector does not run, faces are carried with the complete metadata:
/// `detection`, `emotion`, `landmarks` and `object_id` (meta_faces() asserts each is present),
/// the same ids as the last detector frame, and the message agrees with the metas.
#[test]
fn carried_faces_keep_complete_metadata() {
    let run = megamind("inference-interval=3");
    assert_eq!(run.samples.len(), 270);
    let mut carried = 0;
    for (k, (sample, msg)) in run.samples.iter().zip(&run.messages).enumerate() {
        let metas = meta_faces(sample.buffer().unwrap());
        assert_eq!(metas.len(), msg.faces.len(), "frame {k}");
        for (m, f) in metas.iter().zip(&msg.faces) {
            assert_eq!((m.id, m.object_id), (f.id, f.id), "frame {k}: meta id, object_id and message id agree");
            assert!(m.landmarks.is_some(), "frame {k}: landmarks carried");
            assert_eq!(m.emotion, f.emotion);
            assert_eq!(m.scores.len(), 7);
        }
        if k % 3 != 0 {
            let ids = |m: &FrameMsg| m.faces.iter().map(|f| f.id).collect::<Vec<_>>();
            assert_eq!(ids(msg), ids(&run.messages[k - k % 3]), "frame {k} carries the faces of frame {}", k - k % 3);
            carried += metas.len();
        }
    }
    println!("{carried} faces carried without detection");
    assert!(carried > 200, "{carried}");
}

/// `pipelining=true` detects frame N+1 while frame N is finished: the same results, in the
/// same order, with the last frame drained at EOS.
#[test]
fn pipelining_gives_the_same_results_and_drains_at_eos() {
    let plain = megamind("pipelining=false");
    let piped = megamind("pipelining=true");
    assert_eq!(piped.samples.len(), 270, "every frame comes out, the last one at EOS");
    for (k, (a, b)) in plain.messages.iter().zip(&piped.messages).enumerate() {
        assert_eq!(a.timestamp, b.timestamp, "frame {k}: order kept");
        assert_eq!(a.faces, b.faces, "frame {k}: same faces, ids and emotions");
    }
    for (a, b) in plain.samples.iter().zip(&piped.samples) {
        assert_eq!(a.buffer().unwrap().pts(), b.buffer().unwrap().pts());
        assert_eq!(meta_faces(a.buffer().unwrap()).len(), meta_faces(b.buffer().unwrap()).len());
    }
}
