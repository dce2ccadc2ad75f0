// SPDX-License-Identifier: MIT
//! `emotiondetect-eval` on the real FER2013 validation split (`../shared/datasets/fer2013/val`)
//! with the real classifiers, and the element's model spec handling.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use gst::prelude::*;

const EVAL: &str = env!("CARGO_BIN_EXE_emotiondetect-eval");

fn fer_val() -> PathBuf {
    let dir = shared_dir().join("datasets/fer2013/val");
    assert!(
        dir.join("happy").is_dir(),
        "FER2013 val not found at {}: the datasets live in ../shared/datasets beside the checkout",
        dir.display()
    );
    dir
}

/// Runs the tool; returns (exit code, stdout, stderr).
fn eval(args: &[&str]) -> (i32, String, String) {
    eval_in(&std::env::temp_dir(), args)
}

/// Runs the tool in `dir` (where its default PNG names land).
fn eval_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    require_installed();
    let out = Command::new(EVAL).args(args).current_dir(dir).output().expect("emotiondetect-eval runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn value(stdout: &str, key: &str) -> f64 {
    let line = stdout.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in:\n{stdout}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emotiondetect-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn mini_xception_reproduces_its_fer2013_val_accuracy() {
    let dir = temp_dir("mx");
    let png = dir.join("confusion.png");
    let model = shared_model("emotion_fer2013_mini_xception.onnx");
    let (code, out, err) = eval(&[fer_val().to_str().unwrap(), "--model", model.to_str().unwrap(), "--png", png.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    // OpenCV's pipeline (cv2.imread grey, cv2.resize to 64, the same model) gives 0.5837 on these
    // 3589 images; the issue quotes about 58.5 %.
    let acc = value(&out, "accuracy");
    assert!((0.575..=0.595).contains(&acc), "accuracy {acc}\n{out}");
    let f1 = value(&out, "macro_f1");
    assert!(f1 > 0.45 && f1 < acc, "macro-F1 {f1}");
    assert!(out.contains("images=3589"), "{out}");
    for class in ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"] {
        assert!(out.lines().any(|l| l.starts_with(class)), "no row for {class}:\n{out}");
    }
    assert!(value(&out, "images_per_s") > 0.0 && value(&out, "ms_per_face") > 0.0);
    let bytes = std::fs::read(&png).expect("the confusion PNG is written");
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a valid PNG");
    assert!(reader.info().width > 500 && reader.info().height > 500);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dataset_folders_match_labels_by_synonym() {
    // "happiness" and "anger" folders (links to FER2013's happy and angry) match the model's
    // happy and angry; an unknown class is reported and counts as wrong.
    let dir = temp_dir("synonyms");
    let val = fer_val();
    std::os::unix::fs::symlink(val.join("happy"), dir.join("happiness")).unwrap();
    std::os::unix::fs::symlink(val.join("angry"), dir.join("anger")).unwrap();
    std::os::unix::fs::symlink(val.join("sad"), dir.join("bored")).unwrap();
    let model = shared_model("emotion_fer2013_mini_xception.onnx");
    let (code, out, err) =
        eval(&[dir.to_str().unwrap(), "--model", model.to_str().unwrap(), "--limit", "100", "--png", dir.join("c.png").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("class `bored` has no label in the model"), "{err}");
    let row = |name: &str| out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row:\n{out}")).to_string();
    let recall = |name: &str| row(name).split_whitespace().nth(2).unwrap().parse::<f64>().unwrap();
    assert!(recall("happiness") > 0.6 && recall("anger") > 0.3, "{out}");
    assert_eq!(recall("bored"), 0.0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_spec_that_does_not_fit_the_model_is_an_error_naming_both() {
    let dir = temp_dir("badspec");
    let spec = dir.join("wrong.json");
    // mini-Xception is NHWC 64x64 grey with 7 outputs; this spec says NCHW 48x48.
    let text = std::fs::read_to_string(repo_dir().join("models/specs/fer2013_vggbn.json")).unwrap();
    std::fs::write(&spec, text.replace("\"logits\"", "\"probabilities\"")).unwrap();
    let model = shared_model("emotion_fer2013_mini_xception.onnx");
    let (code, out, err) = eval(&[fer_val().to_str().unwrap(), "--model", model.to_str().unwrap(), "--spec", spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("emotion_fer2013_mini_xception.onnx") && err.contains("fer2013_vggbn") && err.contains("[-1, 1, 48, 48]"),
        "{err}"
    );
    std::fs::write(&spec, "{\"name\": 1}").unwrap();
    let (code, _, err) = eval(&[fer_val().to_str().unwrap(), "--model", model.to_str().unwrap(), "--spec", spec.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains(spec.to_str().unwrap()) && err.contains("missing `input`"), "{err}");
    let (code, _, err) = eval(&["/nonexistent-dataset"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent-dataset"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The element reads `emotion-model-proc`, else `<model>.json` beside the model: a spec that
/// does not fit fails NULL->READY naming it.
#[test]
fn element_uses_the_spec_beside_the_model_and_the_property() {
    init();
    let dir = temp_dir("element");
    let model = dir.join("mine.onnx");
    std::fs::copy(shared_model("emotion_fer2013_mini_xception.onnx"), &model).unwrap();
    // No spec at all: refused, naming the file it looked for.
    let e = element(&[("emotion-model", model.to_str().unwrap())]);
    let err = ready_error(&e).to_string();
    assert!(err.contains("mine.json") && err.contains("emotion-model-proc"), "{err}");
    // The shipped spec copied beside it: loads.
    let shipped = repo_dir().join("models/specs/fer2013_mini_xception.json");
    std::fs::copy(&shipped, dir.join("mine.json")).unwrap();
    let e = element(&[("emotion-model", model.to_str().unwrap())]);
    e.set_state(gst::State::Ready).expect("loads with the spec beside it");
    e.set_state(gst::State::Null).unwrap();
    // A property spec that does not fit this model wins over the one beside it, and fails.
    let wrong = repo_dir().join("models/specs/emotion_ferplus_8.json");
    let e = element(&[("emotion-model", model.to_str().unwrap()), ("emotion-model-proc", wrong.to_str().unwrap())]);
    let err = ready_error(&e).to_string();
    assert!(err.contains("emotion_ferplus_8") && err.contains("Input3"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The classifier we trained (models/train_fer.py) is the default and beats mini-Xception on val.
#[test]
fn our_default_classifier_beats_mini_xception_on_fer2013_val() {
    let dir = temp_dir("ours");
    let png = dir.join("confusion.png");
    // No --model: the installed default, with its shipped spec.
    let (code, out, err) = eval(&[fer_val().to_str().unwrap(), "--png", png.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("emotion_fer2013_vggbn.onnx") && out.contains("built-in spec"), "{out}");
    let acc = value(&out, "accuracy");
    // Measured 0.6857 (docs/models.md, Accuracy; 7-bit weights, the same on CPUs with and without
    // VNNI), the target is 0.68; mini-Xception gets 0.5834 on the same images.
    assert!(acc >= 0.68, "accuracy {acc}\n{out}");
    assert!(value(&out, "worst_recall") >= 0.45, "{out}");
    diagonal_is_the_recall(&out);
    std::fs::remove_dir_all(dir).unwrap();
}

/// OpenVINO runs the default classifier to the same accuracy as ONNX Runtime on FER2013 val
/// (within 0.2 point), and 99 % of the probabilities agree within 0.025 (0.0196 measured; the
/// model's weights and activations are int8, which the two engines quantize in their own ways:
/// the largest difference was 0.058; 2026-12-07, on top of 7b4c76b).
#[test]
fn openvino_keeps_the_default_classifiers_accuracy() {
    let dir = temp_dir("openvino");
    let run = |engine: &str| {
        let (csv, png) = (dir.join(format!("{engine}.csv")), dir.join(format!("{engine}.png")));
        let val = fer_val();
        let args = [val.to_str().unwrap(), "--engine", engine, "--png", png.to_str().unwrap(), "--predictions", csv.to_str().unwrap()];
        let (code, out, err) = eval(&args);
        assert_eq!(code, 0, "--engine {engine}: {out}\n{err}\n(OpenVINO's libraries come from ./setup.sh)");
        assert!(out.contains(&format!("engine={engine}")), "{out}");
        (value(&out, "accuracy"), std::fs::read_to_string(csv).unwrap())
    };
    let ((ort_acc, ort_rows), (ov_acc, ov_rows)) = (run("onnxruntime"), run("openvino"));
    assert!((ort_acc - ov_acc).abs() <= 0.002, "accuracy {ort_acc} with ONNX Runtime, {ov_acc} with OpenVINO");
    let probabilities = |row: &str| -> Vec<f64> { row.split(',').skip(3).map(|v| v.parse().unwrap()).collect() };
    let mut differences = Vec::new();
    for (a, b) in ort_rows.lines().zip(ov_rows.lines()).skip(1) {
        assert_eq!(a.split(',').next(), b.split(',').next(), "the same image in both files");
        differences.extend(probabilities(a).iter().zip(probabilities(b)).map(|(x, y)| (x - y).abs()));
    }
    differences.sort_by(f64::total_cmp);
    let (p99, worst) = (differences[differences.len() * 99 / 100], differences[differences.len() - 1]);
    let mean = differences.iter().sum::<f64>() / differences.len() as f64;
    eprintln!(
        "FER2013 val: accuracy {ort_acc:.4} (ONNX Runtime) and {ov_acc:.4} (OpenVINO); probability differences over {} values: \
         mean {mean:.5}, 99th percentile {p99:.5}, largest {worst:.5}",
        differences.len()
    );
    assert!(differences.len() > 3000 * 7 && p99 <= 0.025 && mean <= 0.005, "mean {mean}, 99th percentile {p99}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The printed confusion matrix has its rows in its columns' order (the model's labels), so each
/// diagonal cell over its row's sum is the recall printed for that class.
fn diagonal_is_the_recall(out: &str) {
    let matrix: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    let columns = &matrix[0];
    assert_eq!(columns.len(), 7, "{out}");
    for (i, row) in matrix[1..].iter().enumerate() {
        assert_eq!(row[0], columns[i], "row {i} is the class of column {i}:\n{out}");
        let counts: Vec<u64> = row[1..].iter().map(|n| n.parse().unwrap()).collect();
        let recall = counts[i] as f64 / counts.iter().sum::<u64>() as f64;
        let printed = out.lines().find(|l| l.split_whitespace().next() == Some(row[0])).unwrap();
        let printed: f64 = printed.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!((recall - printed).abs() < 5e-5, "{}: diagonal gives {recall}, printed recall {printed}\n{out}", row[0]);
    }
}

/// The other two exports of our classifier, by their shipped specs: the int8 net without flip
/// averaging (for crowds) and the float32 flip-averaged graph (for GPUs).
#[test]
fn our_fast_and_float32_exports_keep_the_accuracy() {
    let dir = temp_dir("variants");
    // (file, accuracy, worst recall at least): measured 0.6634 / 0.448 and 0.6857 / 0.486
    // (docs/models.md, Accuracy). The fast export lost 0.6 point to its 7-bit weights
    // (models/reduce_range.py), which keep it exact on CPUs without VNNI.
    for (file, min_acc, min_recall) in [("emotion_fer2013_vggbn_fast.onnx", 0.66, 0.44), ("emotion_fer2013_vggbn_fp32.onnx", 0.68, 0.45)] {
        let model = require_file(
            &data_dir().join("models").join(file),
            &format!("installed model {file}"),
            "run ./setup.sh (models/fetch.py installs it from models/trained)",
        );
        let png = dir.join("c.png");
        let (code, out, err) = eval(&[fer_val().to_str().unwrap(), "--model", model.to_str().unwrap(), "--png", png.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains(&format!("built-in spec for {file}")), "{out}");
        let acc = value(&out, "accuracy");
        assert!(acc >= min_acc, "{file}: accuracy {acc}\n{out}");
        assert!(value(&out, "worst_recall") >= min_recall, "{file}: {out}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--face-size` shrinks the faces before the element's crop-and-resize: 8 px faces are
/// classified far worse than the full 48 px ones (docs/models.md, Small faces: 22 % and 68.5 % on the
/// whole split), and with `--min-emotion-face-size` faces under it get no emotion and count as
/// wrong.
#[test]
fn shrunk_faces_lose_accuracy_and_too_small_ones_are_unknown() {
    let dir = temp_dir("sizes");
    let png = dir.join("curve.png");
    let val = fer_val();
    let (code, out, err) = eval(&[val.to_str().unwrap(), "--limit", "60", "--face-size", "8,48", "--png", png.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let at = |out: &str, size: u32| -> (f64, f64, u64) {
        let line =
            out.lines().find(|l| l.starts_with(&format!("face_size={size} "))).unwrap_or_else(|| panic!("no {size} px line:\n{out}"));
        let field = |k: &str| line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).unwrap().to_string();
        (field("accuracy").parse().unwrap(), field("macro_f1").parse().unwrap(), field("unknown").parse().unwrap())
    };
    let ((small, small_f1, _), (full, full_f1, _)) = (at(&out, 8), at(&out, 48));
    println!("8 px: {small} ({small_f1}), 48 px: {full} ({full_f1})");
    assert!(full > 0.6 && small < full - 0.25 && small_f1 < full_f1 - 0.25, "{out}");
    assert!(out.contains("min_reliable_size=48"), "8 px is under 50 %, 48 px over it:\n{out}");
    let reader = png::Decoder::new(std::io::Cursor::new(std::fs::read(&png).expect("the curve PNG"))).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (720, 420));
    // 16 px faces under a 25 px minimum: none classified, all wrong; 48 px faces all classified.
    let args = [val.to_str().unwrap(), "--limit", "20", "--min-emotion-face-size", "25", "--face-size", "16,48"];
    let (code, out, err) = eval(&[&args[..], &["--png", png.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(at(&out, 16), (0.0, 0.0, 140), "{out}");
    assert!(at(&out, 48).0 > 0.5 && at(&out, 48).2 == 0, "{out}");
    let (code, _, err) = eval(&[val.to_str().unwrap(), "--face-size", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--face-size") && err.contains("`0` is not a size 1..4096"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--predictions` gives one row per image with every probability, `--json` the printed metrics,
/// and two `--model`s one comparison table.
#[test]
fn predictions_json_and_a_comparison_of_two_models() {
    let dir = temp_dir("outputs");
    let (csv, json) = (dir.join("p.csv"), dir.join("m.json"));
    let val = fer_val();
    let fast = require_file(
        &data_dir().join("models/emotion_fer2013_vggbn_fast.onnx"),
        "installed model emotion_fer2013_vggbn_fast.onnx",
        "run ./setup.sh (models/fetch.py installs it from models/trained)",
    );
    let png = dir.join("c.png");
    let common = [val.to_str().unwrap(), "--limit", "20", "--png", png.to_str().unwrap()];
    let (code, out, err) = eval(&[&common[..], &["--predictions", csv.to_str().unwrap(), "--json", json.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&csv).unwrap().lines().map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows[0][..3], ["path", "true_class", "predicted"]);
    assert_eq!(rows[0].len(), 3 + 7, "a column per label");
    assert_eq!(rows.len(), 1 + 7 * 20, "a row per image");
    let correct = rows[1..].iter().filter(|r| r[1] == r[2]).count() as f64 / 140.0;
    assert!((correct - value(&out, "accuracy")).abs() < 1e-4, "the rows give the printed accuracy: {correct}");
    for r in &rows[1..] {
        let p: Vec<f64> = r[3..].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3, "probabilities: {r:?}");
        let best = p.iter().cloned().enumerate().fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a }).0;
        assert_eq!(r[2], rows[0][3 + best], "the predicted label is the most probable: {r:?}");
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!((m["accuracy"].as_f64().unwrap() - value(&out, "accuracy")).abs() < 1e-4, "{m}");
    assert!((m["macro_f1"].as_f64().unwrap() - value(&out, "macro_f1")).abs() < 1e-4);
    assert_eq!(m["images"], 140);
    assert_eq!(m["per_class"].as_array().unwrap().len(), 7);

    let two = [val.to_str().unwrap(), "--limit", "20", "--model", fast.to_str().unwrap(), "--model", fast.to_str().unwrap()];
    let (code, out, err) = eval_in(&dir, &[&two[..], &["--json", json.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    let table = out.split("comparison:").nth(1).unwrap_or_else(|| panic!("no comparison table:\n{out}"));
    assert_eq!(table.lines().filter(|l| l.starts_with("emotion_fer2013_vggbn_fast.onnx")).count(), 2, "{table}");
    let both: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(both.as_array().map(|a| a.len()), Some(2), "one object per model");
    assert_eq!(both[0]["accuracy"], both[1]["accuracy"], "the same model twice");
    let (code, _, err) = eval(&[val.to_str().unwrap(), "--model", "a.onnx", "--model", "b.onnx", "--png", "x.png"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--png names one model's file"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
