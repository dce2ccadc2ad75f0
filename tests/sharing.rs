// SPDX-License-Identifier: MIT
//! `model-instance-id`: elements with the same id share one loaded detector and classifier
//! (counted through `emotiondetect_core::instances`), their faces share classifier calls, each
//! stream's results equal those of a private element, one stream stopping does not disturb the
//! others, and joining with other model settings fails. Also `active-device`.
//!
//! Real models, Megamind.avi (270 frames, one or two faces a frame).

mod common;

use std::time::Duration;

use common::*;
use emotiondetect_core::instances;
use gst::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(300);

fn megamind_desc(extra: &str) -> String {
    format!("filesrc location={} ! decodebin ! videoconvert ! emotiondetect {extra} ! fakesink", megamind().display())
}

/// What a stream reported, frame by frame: the timestamp and the faces (boxes, labels, scores).
fn results(run: &Run) -> Vec<(u64, Vec<MsgFace>)> {
    run.messages.iter().map(|m| (m.timestamp, m.faces.clone())).collect()
}

/// Megamind through a private element: the reference every shared run must equal.
fn private_reference() -> Vec<(u64, Vec<MsgFace>)> {
    static REFERENCE: std::sync::OnceLock<Vec<(u64, Vec<MsgFace>)>> = std::sync::OnceLock::new();
    REFERENCE
        .get_or_init(|| {
            let run = run_pipeline(&megamind_desc(""), TIMEOUT);
            assert!(run.warnings.is_empty(), "{:?}", run.warnings);
            let r = results(&run);
            assert!(r.len() >= 269, "one message per frame, got {}", r.len());
            assert!(r.iter().filter(|(_, f)| !f.is_empty()).count() > 200, "Megamind has faces in most frames");
            r
        })
        .clone()
}

/// Runs the pipelines of `descs` at the same time, each in its own thread.
fn run_concurrently(descs: &[String]) -> Vec<Run> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = descs.iter().map(|d| scope.spawn(move || run_pipeline(d, TIMEOUT))).collect();
        handles.into_iter().map(|h| h.join().expect("pipeline thread")).collect()
    })
}

fn assert_same_results(stream: &str, run: &Run, reference: &[(u64, Vec<MsgFace>)]) {
    assert!(run.warnings.is_empty(), "{stream}: warnings {:?}", run.warnings);
    let got = results(run);
    assert_eq!(got.len(), reference.len(), "{stream}: one message per frame");
    for (i, (g, r)) in got.iter().zip(reference).enumerate() {
        assert_eq!(g, r, "{stream}: frame {i} differs from the private element's");
    }
}

#[test]
fn two_streams_share_one_detector_and_one_classifier_and_get_private_results() {
    let reference = private_reference();
    let id = "sharing-two";
    let desc = megamind_desc(&format!("model-instance-id={id}"));
    let runs = run_concurrently(&[desc.clone(), desc]);
    assert_eq!(instances::sessions_loaded(id), 2, "one detector and one classifier session for both elements");
    assert_eq!(instances::holders(id), 0, "the instance is freed when the last element goes to NULL");
    for (i, run) in runs.iter().enumerate() {
        assert_same_results(&format!("stream {i}"), run, &reference);
    }
    let stats = instances::batch_stats(id);
    println!("{id}: {stats:?}");
    let faces: usize = reference.iter().map(|(_, f)| f.len()).sum();
    assert_eq!(stats.items, 2 * faces as u64, "every face of both streams went through the shared classifier");
}

/// The classroom photo (about 50 faces) as a 20-frame stream: classification dominates.
fn classroom_desc(extra: &str) -> String {
    format!(
        "filesrc location={} ! jpegdec ! imagefreeze num-buffers=20 ! videoconvert ! emotiondetect {extra} ! fakesink",
        group_photo("1.jpg").display()
    )
}

/// Flat combining serves together the requests that queue while the classifier runs. With
/// Megamind (one or two faces a frame) the shared detector is the bottleneck and the classifier
/// is rarely contended; with the classroom photo classification dominates, so with three
/// streams two wait behind the third and their faces share calls. Each stream still gets
/// exactly the private element's results.
#[test]
fn faces_of_several_streams_share_classifier_calls() {
    let reference = run_pipeline(&classroom_desc(""), TIMEOUT);
    let reference = results(&reference);
    assert_eq!(reference.len(), 20);
    assert!(reference.iter().all(|(_, f)| f.len() > 30), "the classroom has more than 30 faces");
    let id = "sharing-batches";
    let desc = classroom_desc(&format!("model-instance-id={id}"));
    let runs = run_concurrently(&[desc.clone(), desc.clone(), desc]);
    for (i, run) in runs.iter().enumerate() {
        assert_same_results(&format!("stream {i}"), run, &reference);
    }
    let stats = instances::batch_stats(id);
    println!("{id}: {stats:?}");
    assert_eq!(instances::sessions_loaded(id), 2);
    assert!(stats.multi_stream_batches > 0 && stats.max_streams_per_batch >= 2, "no classifier call held faces of two streams: {stats:?}");
}

/// One stream set to NULL mid-stream: the other keeps the shared models and reaches EOS with a
/// result for every frame, equal to the private element's.
#[test]
fn stopping_one_stream_leaves_the_other_running() {
    let reference = private_reference();
    let id = "sharing-stop";
    let desc = megamind_desc(&format!("model-instance-id={id}"));
    init();
    let stopped = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let bus = stopped.bus().unwrap();
    std::thread::scope(|scope| {
        let survivor = scope.spawn(|| run_pipeline(&desc, TIMEOUT));
        stopped.set_state(gst::State::Playing).expect("second pipeline plays");
        let mut frames = 0;
        while frames < 20 {
            let msg = bus.timed_pop(gst::ClockTime::from_seconds(60)).expect("the second pipeline posts messages");
            match msg.view() {
                gst::MessageView::Element(e) if e.structure().is_some_and(|s| s.name() == "emotiondetect") => frames += 1,
                gst::MessageView::Error(e) => panic!("second pipeline: {}", e.error()),
                gst::MessageView::Eos(_) => panic!("second pipeline reached EOS before it was stopped"),
                _ => {}
            }
        }
        assert_eq!(instances::holders(id), 2, "both elements hold the instance");
        stopped.set_state(gst::State::Null).expect("second pipeline to NULL");
        assert!(!survivor.is_finished(), "the first pipeline was still running when the second stopped");
        assert_eq!(instances::holders(id), 1, "the running element keeps the instance");
        let run = survivor.join().expect("first pipeline thread");
        assert_same_results("the surviving stream", &run, &reference);
    });
    assert_eq!(instances::holders(id), 0);
    assert_eq!(instances::sessions_loaded(id), 2);
}

/// Ready (models loaded) or the error it posted.
fn to_ready(e: &gst::Element) {
    e.set_state(gst::State::Ready).unwrap_or_else(|err| panic!("{} to READY: {err:?}", e.name()));
}

#[test]
fn joining_with_other_model_settings_fails_naming_the_id_and_the_setting() {
    let id = "sharing-mismatch";
    let first = element(&[("model-instance-id", id)]);
    to_ready(&first);
    assert_eq!(instances::holders(id), 1);

    // Another emotion model path (the same model, copied): a different setting all the same.
    let dir = TempDir::new("mismatch");
    let copy = dir.path().join("emotion_fer2013_mini_xception.onnx");
    std::fs::copy(data_dir().join("models/emotion_fer2013_mini_xception.onnx"), &copy).unwrap();
    let err = ready_error(&element(&[("model-instance-id", id), ("emotion-model", copy.to_str().unwrap())]));
    assert!(err.matches(gst::LibraryError::Settings), "{err}");
    for part in [id, "emotion-model", copy.to_str().unwrap()] {
        assert!(err.message().contains(part), "`{}` should name `{part}`", err.message());
    }
    let err = ready_error(&element(&[("model-instance-id", id), ("device", "auto")]));
    for part in [id, "device is auto here but cpu"] {
        assert!(err.message().contains(part), "`{}` should name `{part}`", err.message());
    }
    let err = ready_error(&element(&[("model-instance-id", id), ("inference-threads", "1")]));
    assert!(err.message().contains(id) && err.message().contains("inference-threads"), "{}", err.message());
    assert_eq!(instances::holders(id), 1, "failed joiners hold nothing");

    // The same settings join; the instance lives until the last holder goes to NULL.
    let second = element(&[("model-instance-id", id)]);
    to_ready(&second);
    assert_eq!((instances::holders(id), instances::sessions_loaded(id)), (2, 2));
    first.set_state(gst::State::Null).unwrap();
    assert_eq!(instances::holders(id), 1);
    second.set_state(gst::State::Null).unwrap();
    assert_eq!(instances::holders(id), 0);

    // Freed: the id may now be loaded with other settings.
    let other = element(&[("model-instance-id", id), ("emotion-model", copy.to_str().unwrap())]);
    to_ready(&other);
    assert_eq!(instances::sessions_loaded(id), 4);
    other.set_state(gst::State::Null).unwrap();
}

#[test]
fn active_device_says_where_the_models_run() {
    for device in ["cpu", "auto"] {
        let e = element(&[("device", device)]);
        assert_eq!(e.property::<String>("active-device"), "", "device={device}: empty before READY");
        to_ready(&e);
        assert_eq!(e.property::<String>("active-device"), "cpu", "device={device}: no GPU on this machine");
        e.set_state(gst::State::Null).unwrap();
        assert_eq!(e.property::<String>("active-device"), "", "device={device}: empty again at NULL");
    }
    let shared = element(&[("device", "auto"), ("model-instance-id", "sharing-device")]);
    to_ready(&shared);
    assert_eq!(shared.property::<String>("active-device"), "cpu");
    shared.set_state(gst::State::Null).unwrap();

    let e = element(&[("device", "cuda")]);
    let err = ready_error(&e);
    assert!(err.message().contains("CUDA"), "device=cuda fails with the reason: {}", err.message());
    assert_eq!(e.property::<String>("active-device"), "");
    let pspec = e.find_property("active-device").unwrap();
    assert!(!pspec.flags().contains(gst::glib::ParamFlags::WRITABLE), "active-device is read-only");
}
