// SPDX-License-Identifier: MIT
//! Bad configuration and bad data: NULL->READY fails with an error message that names the file
//! (or value) and what was expected, nothing panics, and a bad frame is passed through with a
//! warning while the stream goes on.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use common::*;
use gst::prelude::*;

fn assert_contains(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "`{text}` should contain `{p}`");
    }
}

#[test]
fn missing_model_files() {
    // An explicit path is checked, not blamed on a missing installation.
    let path = "/nonexistent/dir/face_detection_yunet.onnx";
    let err = ready_error(&element(&[("face-model", path)]));
    assert!(err.matches(gst::ResourceError::OpenRead), "{err}");
    assert_contains(err.message(), &["face model", path, "no such file", "check the path"]);
    assert!(!err.message().contains("setup.sh"), "{err}");

    let path = "/nonexistent/emotion.onnx";
    let err = ready_error(&element(&[("emotion-model", path)]));
    assert_contains(err.message(), &["emotion model", path, "no such file", "check the path"]);
    assert!(!err.message().contains("setup.sh"), "{err}");
}

/// EMOTIONDETECT_DATA_DIR set to a directory without the models: the element says so, naming
/// it, instead of falling back to another installation.
#[test]
fn data_dir_without_models_is_named() {
    let dir = TempDir::new("empty-data-dir");
    let previous = std::env::var_os("EMOTIONDETECT_DATA_DIR");
    std::env::set_var("EMOTIONDETECT_DATA_DIR", dir.path());
    let e = element(&[]);
    let face_model: String = e.property("face-model");
    let err = ready_error(&e);
    match previous {
        Some(p) => std::env::set_var("EMOTIONDETECT_DATA_DIR", p),
        None => std::env::remove_var("EMOTIONDETECT_DATA_DIR"),
    }
    assert_eq!(Path::new(&face_model), dir.path().join("models/face_detection_yunet.onnx"), "no fall-back");
    let d = dir.path().to_str().unwrap();
    assert_contains(err.message(), &["face model", &face_model, "no such file", "EMOTIONDETECT_DATA_DIR is set to", d, "fetch.py --dest"]);
}

#[test]
fn truncated_model() {
    let dir = TempDir::new("truncated");
    let yunet = std::fs::read(shared_model("face_detection_yunet.onnx")).unwrap();
    let path = dir.path().join("truncated.onnx");
    std::fs::write(&path, &yunet[..1000]).unwrap();
    let err = ready_error(&element(&[("face-model", path.to_str().unwrap())]));
    assert!(err.matches(gst::ResourceError::OpenRead), "{err}");
    assert_contains(err.message(), &["face model", path.to_str().unwrap(), "not a valid ONNX model"]);

    let err = ready_error(&element(&[("emotion-model", path.to_str().unwrap())]));
    assert_contains(err.message(), &["emotion model", path.to_str().unwrap(), "not a valid ONNX model"]);
}

#[test]
fn text_file_named_onnx() {
    let dir = TempDir::new("text");
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, "this is not a model\n").unwrap();
    let err = ready_error(&element(&[("face-model", path.to_str().unwrap())]));
    assert_contains(err.message(), &["face model", path.to_str().unwrap(), "not a valid ONNX model"]);
}

#[test]
fn an_empty_directory_is_not_a_model() {
    let dir = TempDir::new("dir");
    let err = ready_error(&element(&[("face-model", dir.path().to_str().unwrap())]));
    assert_contains(err.message(), &["face model", dir.path().to_str().unwrap(), "is a directory, expected a regular file"]);
}

/// Real ONNX models in the wrong role: the message says what the model has and what the
/// element expects.
#[test]
fn models_with_the_wrong_shapes() {
    let yunet = shared_model("face_detection_yunet.onnx");
    let fer = shared_model("emotion_fer2013_mini_xception.onnx");

    // The face detector given as the classifier: with no spec it is refused for that, and with
    // the mini-Xception's spec the shapes are compared.
    let err = ready_error(&element(&[("emotion-model", yunet.to_str().unwrap())]));
    assert!(err.matches(gst::ResourceError::OpenRead), "{err}");
    assert_contains(err.message(), &["emotion model", yunet.to_str().unwrap(), "no model spec", "emotion-model-proc"]);
    let spec = repo_dir().join("models/specs/fer2013_mini_xception.json");
    let err = ready_error(&element(&[("emotion-model", yunet.to_str().unwrap()), ("emotion-model-proc", spec.to_str().unwrap())]));
    assert!(err.matches(gst::ResourceError::OpenRead), "{err}");
    assert_contains(
        err.message(),
        &[
            "emotion model",
            yunet.to_str().unwrap(),
            "expects input",
            "[-1, 64, 64, 1]",
            "[-1, 7]",
            "the model has inputs [input [1, 3, -1, -1]]",
        ],
    );

    // The classifier given as the face detector.
    let err = ready_error(&element(&[("face-model", fer.to_str().unwrap())]));
    assert_contains(err.message(), &["face model", fer.to_str().unwrap(), "expected one float input [1, 3, H, W]", "64, 64, 1"]);

    // UltraFace is a face detector, not a classifier.
    let ultraface = shared_model("ultraface_rfb_320.onnx");
    let err = ready_error(&element(&[("emotion-model", ultraface.to_str().unwrap()), ("emotion-model-proc", spec.to_str().unwrap())]));
    assert_contains(err.message(), &["emotion model", ultraface.to_str().unwrap(), "expects input", "the model has inputs"]);
}

#[test]
fn invalid_device() {
    for device in ["tpu", "cuda:", "cuda:-1", "cuda:x", ""] {
        let e = element(&[]);
        e.set_property("device", device);
        if device.is_empty() {
            // An empty string is not a device either.
            assert_eq!(e.property::<String>("device"), "");
        }
        let err = ready_error(&e);
        assert!(err.matches(gst::LibraryError::Settings), "{device}: {err}");
        assert_contains(err.message(), &[&format!("device '{device}'"), "cpu, cuda, cuda:N, auto, gpu, npu"]);
    }
}

/// The ONNX Runtime library installed by setup.sh is the CPU build: asking for CUDA must fail
/// at NULL->READY, never fall back to the CPU silently.
#[test]
fn cuda_without_a_cuda_runtime_fails() {
    let e = element(&[("device", "cuda:99")]);
    let err = ready_error(&e);
    assert_contains(err.message(), &["CUDA device 99 is not usable", "face model"]);
}

/// After a failed NULL->READY the element is usable again once the setting is fixed.
#[test]
fn a_failed_start_can_be_retried() {
    let e = element(&[("face-model", "/nonexistent/face.onnx")]);
    ready_error(&e);
    e.set_property("face-model", shared_model("face_detection_yunet.onnx").to_str().unwrap());
    e.set_state(gst::State::Ready).expect("READY with a valid model");
    e.set_state(gst::State::Null).unwrap();
}

/// Runs `gst-launch-1.0 videotestsrc num-buffers=1 ! emotiondetect ! fakesink` in a child
/// process with the plugin this test run built, and `ORT_DYLIB_PATH=ort` (ONNX Runtime allows
/// one environment per process, so a missing library can only be tested in a fresh process).
fn launch_with_ort(ort: &Path) -> (std::process::ExitStatus, String) {
    let gst = ChildGst::new();
    let out = gst
        .apply(Command::new("gst-launch-1.0").args(["videotestsrc", "num-buffers=1", "!", "emotiondetect", "!", "fakesink"]), 0)
        .env("ORT_DYLIB_PATH", ort)
        .output()
        .expect("gst-launch-1.0 (apt package gstreamer1.0-tools; ./setup.sh installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("gst-launch-1.0 with ORT_DYLIB_PATH={}: {}\n{text}", ort.display(), out.status);
    (out.status, text)
}

#[test]
fn missing_onnx_runtime_fails_in_a_child_process() {
    let ort = Path::new("/nonexistent/libonnxruntime.so.1.31.1");
    let (status, text) = launch_with_ort(ort);
    assert_eq!(status.signal(), None, "gst-launch-1.0 crashed: {text}");
    assert!(!status.success(), "gst-launch-1.0 must fail: {text}");
    assert!(!text.contains("No such element"), "the built plugin was not found: {text}");
    assert_contains(&text, &["could not load ONNX Runtime", "/nonexistent/libonnxruntime.so.1.31.1", "no such file", "setup.sh"]);
}

#[test]
fn a_file_that_is_not_onnx_runtime_fails_in_a_child_process() {
    let dir = TempDir::new("fake-ort");
    let ort = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&ort, "not a shared library\n").unwrap();
    let (status, text) = launch_with_ort(&ort);
    assert_eq!(status.signal(), None, "gst-launch-1.0 crashed: {text}");
    assert!(!status.success(), "gst-launch-1.0 must fail: {text}");
    assert_contains(&text, &["could not load ONNX Runtime", ort.to_str().unwrap(), "setup.sh"]);
    // The loader's own reason, not only "dlopen failed".
    assert!(text.contains("file too short") || text.contains("invalid ELF header"), "dlopen's reason missing: {text}");
}

/// A buffer too small for the negotiated caps: the frame cannot be mapped, so the element posts
/// a warning and passes the buffer through untouched; the next good frame is analysed.
#[test]
fn a_buffer_too_small_for_its_caps_passes_with_a_warning() {
    let photo = group_photo("13.jpg");
    let good = decode_photo(&photo, "RGB");
    let e = element(&[]);
    let (mut h, bus) = harness(&e);
    h.set_src_caps(good.caps().unwrap().to_owned());

    let small = gst::Buffer::from_mut_slice(vec![7u8; 10]);
    h.push(small).expect("the flow goes on");
    let out = h.pull().expect("the buffer is passed through");
    assert_eq!(out.map_readable().unwrap().as_slice(), &[7u8; 10], "untouched");
    assert!(meta_faces(&out).is_empty(), "no metas on a skipped frame");
    let warning = bus.pop_filtered(&[gst::MessageType::Warning]).expect("a warning message");
    let gst::MessageView::Warning(w) = warning.view() else { unreachable!() };
    println!("warning: {} ({:?})", w.error(), w.debug());
    assert!(w.error().matches(gst::StreamError::Failed), "{}", w.error());
    assert_contains(w.error().message(), &["skipped", "cannot map the frame"]);
    assert!(drain_messages(&bus).is_empty(), "no results message for a skipped frame");
    assert!(bus.pop_filtered(&[gst::MessageType::Error]).is_none(), "no error");

    let out = h.push_and_pull(good.buffer_owned().unwrap()).expect("the next frame");
    assert_eq!(meta_faces(&out).len(), 2, "the next good frame is analysed");
    assert_eq!(drain_messages(&bus).len(), 1);
}
