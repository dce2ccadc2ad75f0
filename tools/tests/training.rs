// SPDX-License-Identifier: MIT
//! Smoke test of the training recipe (models/train_fer.py): one short epoch on a few hundred
//! real FER2013 images on CPU, then the exported ONNX model and its spec evaluated by
//! `emotiondetect-eval`, i.e. loaded and run by the element's own code at batch 32.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::*;

const EVAL: &str = env!("CARGO_BIN_EXE_emotiondetect-eval");

#[test]
fn the_recipe_trains_exports_and_its_model_runs_in_our_stack() {
    let python = repo_dir().join(".venv-train/bin/python");
    require_file(
        &python,
        "the training venv",
        "run scripts/test.sh (it creates .venv-train from models/requirements-train.txt) or ./setup.sh --train",
    );
    let data = shared_dir().join("datasets/fer2013");
    assert!(data.join("train/happy").is_dir(), "FER2013 not found at {}: the datasets live in ../shared/datasets", data.display());
    let out = std::env::temp_dir().join(format!("emotiondetect-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);

    let run = Command::new(&python)
        .arg(repo_dir().join("models/train_fer.py"))
        .args(["--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--epochs", "1", "--limit", "60", "--threads", "2"])
        .output()
        .expect("python runs");
    let log = format!("{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "train_fer.py failed:\n{log}");
    assert!(log.contains("train 420 images, val 416"), "7 classes x 60 images each (val has 56 disgust):\n{log}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("training.json")).unwrap()).unwrap();
    assert_eq!(summary["best_epoch"], 1);
    assert!(summary["seed"].is_u64() && summary["command"].as_str().unwrap().contains("train_fer.py"));
    assert_eq!(summary["exported"]["flip_averaged"], true, "the default export is flip-averaged");
    assert_eq!(summary["exported"]["int8"], true, "the default export is int8");
    // The prior correction is -log of the loss's class weights: 60 images of each class weigh the
    // same, so nothing is shifted (the full set shifts disgust, the rarest class, by -1.16).
    let shift: Vec<f64> =
        summary["exported"]["logit_shift"].as_array().expect("logit_shift recorded").iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(shift.len(), 7);
    assert!(shift.iter().all(|v| v.abs() < 1e-3), "balanced classes need no correction: {shift:?}");
    // What ONNX Runtime in Python measured on the exported (flip-averaged, int8) model.
    let acc = summary["exported_val_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));

    let model = out.join("best.onnx");
    let spec = out.join("best.json");
    let spec_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    assert_eq!(spec_json["output"], serde_json::json!({"name": "probabilities", "kind": "probabilities"}));
    let eval = Command::new(EVAL)
        .args([data.join("val").to_str().unwrap(), "--model", model.to_str().unwrap(), "--spec", spec.to_str().unwrap()])
        .args(["--limit", "60", "--batch", "32", "--png", out.join("c.png").to_str().unwrap()])
        .output()
        .expect("emotiondetect-eval runs");
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(eval.status.success(), "{text}\n{}", String::from_utf8_lossy(&eval.stderr));
    // The recipe's val accuracy of the exported model (PIL decoding, numpy normalisation) and ours
    // (image crate, our pre-processing) on the same 416 images: the same up to a few decoding flips.
    let ours: f64 = text.lines().find_map(|l| l.strip_prefix("accuracy=")).unwrap().parse().unwrap();
    assert!((ours - acc).abs() <= 0.02, "recipe {acc}, emotiondetect-eval {ours}\n{text}");
    std::fs::remove_dir_all(out).unwrap();
}
