// SPDX-License-Identifier: MIT
//! Smoke test of the training recipe (models/train_fer.py): one short epoch on a few hundred
//! real FER2013 images on CPU, then the exported ONNX model and its spec evaluated by
//! `emotiondetect-eval`, i.e. loaded and run by the element's own code at batch 32.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
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
    let data = fer2013();
    let out = scratch("train");

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
    // The recipe's val accuracy of the exported model (PIL decoding, numpy normalisation) and ours
    // (image crate, our pre-processing) on the same 416 images: the same up to a few decoding flips.
    let (ours, text) = eval_accuracy(&model, &spec, "60", &out.join("c.png"));
    assert!((ours - acc).abs() <= 0.02, "recipe {acc}, emotiondetect-eval {ours}\n{text}");
    std::fs::remove_dir_all(out).unwrap();
}

/// The FER2013 folder-per-class dataset of ../shared.
fn fer2013() -> PathBuf {
    let data = shared_dir().join("datasets/fer2013");
    assert!(data.join("train/happy").is_dir(), "FER2013 not found at {}: the datasets live in ../shared/datasets", data.display());
    data
}

/// An empty folder for one test's outputs.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emotiondetect-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The installed float32 classifier (run 6's flip-averaged export).
fn installed_fp32() -> PathBuf {
    require_file(&data_dir().join("models/emotion_fer2013_vggbn_fp32.onnx"), "the float32 classifier", "run ./setup.sh")
}

/// emotiondetect-eval's accuracy for `model` (with `spec`) on the first `limit` val images of
/// each class, and its output; panics when it fails.
fn eval_accuracy(model: &Path, spec: &Path, limit: &str, png: &Path) -> (f64, String) {
    let eval = Command::new(EVAL)
        .arg(fer2013().join("val"))
        .args(["--model", model.to_str().unwrap(), "--spec", spec.to_str().unwrap()])
        .args(["--limit", limit, "--batch", "32", "--png", png.to_str().unwrap()])
        .output()
        .expect("emotiondetect-eval runs");
    let text = String::from_utf8_lossy(&eval.stdout).to_string();
    assert!(eval.status.success(), "{text}\n{}", String::from_utf8_lossy(&eval.stderr));
    let acc = text.lines().find_map(|l| l.strip_prefix("accuracy=")).unwrap().parse().unwrap();
    (acc, text)
}

/// Runs train_fer.py with `args` on 30 images a class, one thread (the same arithmetic every
/// run); returns its output and panics with it when the run fails.
fn train<S: AsRef<str>>(args: &[S]) -> String {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let python = repo_dir().join(".venv-train/bin/python");
    require_file(
        &python,
        "the training venv",
        "run scripts/test.sh (it creates .venv-train from models/requirements-train.txt) or ./setup.sh --train",
    );
    let run = Command::new(&python).arg(repo_dir().join("models/train_fer.py")).args(&args).output().expect("python runs");
    let log = format!("{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "train_fer.py {args:?} failed:\n{log}");
    log
}

/// train_log.jsonl's epochs without their times.
fn epochs(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("train_log.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn a_stopped_run_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one() {
    let data = fer2013();
    let base = scratch("resume");
    let (whole, split) = (base.join("whole"), base.join("split"));
    let common = [
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "3",
        "--limit",
        "30",
        "--threads",
        "1",
        "--ema",
        "0.99",
        "--no-int8",
        "--widths",
        "8,16,16,32",
    ];
    let with_out = |out: &Path, extra: &[&str]| -> Vec<String> {
        common.iter().chain(&["--out", out.to_str().unwrap()]).chain(extra).map(|s| s.to_string()).collect()
    };
    train(&with_out(&whole, &[]));

    let log = train(&with_out(&split, &["--stop-after", "1"]));
    assert!(log.contains("stopped after epoch 1"), "{log}");
    assert!(
        split.join("checkpoint.pt").is_file() && !split.join("best.onnx").exists(),
        "a stopped run keeps its checkpoint and exports nothing"
    );
    assert_eq!(epochs(&split).len(), 1);
    // A checkpoint written before options were added to the script (teacher 1's was): they take
    // their defaults on resume.
    let older = "import sys, torch; p = sys.argv[1]; c = torch.load(p, weights_only=False); \
                 [c['args'].pop(k) for k in ('teacher', 'distill_weight', 'temperature', 'device')]; torch.save(c, p)";
    let strip = Command::new(repo_dir().join(".venv-train/bin/python"))
        .args(["-c", older, split.join("checkpoint.pt").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(strip.status.success(), "{}", String::from_utf8_lossy(&strip.stderr));
    let log = train(&["--resume", split.to_str().unwrap(), "--threads", "1"]);
    assert!(log.contains("resumed") && log.contains("after epoch 1"), "{log}");

    // The same batches, augmentations, learning rates and EMA: the same losses and accuracies.
    let (a, b) = (epochs(&whole), epochs(&split));
    assert_eq!(a.len(), 3);
    assert_eq!(a, b, "uninterrupted against stopped after epoch 1 and resumed");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(split.join("training.json")).unwrap()).unwrap();
    assert!(summary["command"].as_str().unwrap().contains("--stop-after 1"));
    assert_eq!(summary["resumed"].as_array().unwrap().len(), 1);
    assert_eq!(summary["args"]["widths"], serde_json::json!([8, 16, 16, 32]));
    assert!(split.join("best.onnx").is_file());
    let missing = Command::new(repo_dir().join(".venv-train/bin/python"))
        .arg(repo_dir().join("models/train_fer.py"))
        .args(["--resume", base.join("nothing").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no checkpoint.pt there"), "{}", String::from_utf8_lossy(&missing.stderr));
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn models_join_into_one_ensemble_graph_that_our_stack_runs() {
    let data = fer2013();
    let fp32 = installed_fp32();
    let base = scratch("ensemble");
    // A second member unlike the first: a small net after one epoch on 30 images a class.
    let small = base.join("small");
    let common = ["--data", data.to_str().unwrap(), "--epochs", "1", "--limit", "30", "--threads", "1", "--no-int8"];
    train(&[&common[..], &["--widths", "8,16,16,32", "--out", small.to_str().unwrap()]].concat());

    let out = base.join("ensemble");
    let run = Command::new(repo_dir().join(".venv-train/bin/python"))
        .arg(repo_dir().join("models/ensemble.py"))
        .args(["--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--limit", "40", "--threads", "1"])
        .args([fp32.as_path(), small.join("best.onnx").as_path()])
        .output()
        .expect("python runs");
    let log = format!("{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    // ensemble.py itself fails when the joined graph's output is not its members' mean over the
    // test-time views, each member run alone on views made by torch.
    assert!(run.status.success(), "ensemble.py failed:\n{log}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("ensemble.json")).unwrap()).unwrap();
    assert_eq!(report["views"].as_array().map(Vec::len), Some(7), "{report}");
    assert!(report["val_acc_without_views"].as_f64().is_some(), "{report}");
    let member_acc: Vec<f64> = report["members"].as_array().unwrap().iter().map(|m| m["val_acc"].as_f64().unwrap()).collect();
    assert_eq!(member_acc.len(), 2);
    assert!(member_acc[0] > 0.6, "run 6's float32 classifier on 280 val images: {member_acc:?}");
    let acc = report["val_acc"].as_f64().unwrap();
    assert!(report["ms_per_face_batch32"].as_f64().unwrap() > 0.0);

    // The element's own pre-processing and ONNX Runtime session read the file and its spec.
    let (model, spec) = (out.join("emotion_fer2013_ensemble.onnx"), out.join("fer2013_ensemble.json"));
    let (ours, text) = eval_accuracy(&model, &spec, "40", Path::new("/dev/null"));
    assert!((ours - acc).abs() <= 0.02, "ensemble.py {acc}, emotiondetect-eval {ours}\n{text}");
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn distillation_takes_the_teachers_probabilities_once_per_image_and_keeps_them_on_resume() {
    let data = fer2013();
    let teacher = installed_fp32();
    let out = scratch("distil");
    let (d, o, t) = (data.to_str().unwrap(), out.to_str().unwrap(), teacher.to_str().unwrap());
    let args = ["--data", d, "--out", o, "--epochs", "2", "--limit", "30", "--threads", "1", "--no-int8", "--widths", "8,16,16,32"];
    let log = train(&[&args[..], &["--teacher", t, "--stop-after", "1"]].concat());
    assert!(log.contains("teacher probabilities of 210 train images"), "{log}");
    let log = train(&["--resume", o, "--threads", "1"]);
    assert!(!log.contains("teacher probabilities of"), "a resumed run reads them from its folder:\n{log}");
    assert!(out.join("best.onnx").is_file());

    // What was cached: one distribution per train image, in the images' order (30 a class, in
    // FER2013's class order), from run 6's classifier, which knows most of its own train set.
    let check = "import numpy as np, sys; p = np.load(sys.argv[1]); y = np.repeat(np.arange(7), 30); \
                 print(p.shape, round(float(np.abs(p.sum(1) - 1).max()), 4), round(float((p.argmax(1) == y).mean()), 3))";
    let run = Command::new(repo_dir().join(".venv-train/bin/python"))
        .args(["-c", check, out.join("teacher_probs.npy").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    let fields: Vec<&str> = text.trim().rsplitn(3, ' ').collect();
    assert!(text.starts_with("(210, 7) "), "{text}");
    assert!(fields[1].parse::<f64>().unwrap() < 1e-3, "probabilities sum to 1: {text}");
    assert!(fields[0].parse::<f64>().unwrap() > 0.6, "the teacher's accuracy on these train images: {text}");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn consistent_distillation_runs_the_teacher_on_each_augmented_batch() {
    let data = fer2013();
    let teacher = installed_fp32();
    let base = scratch("consistent");
    let (d, t) = (data.to_str().unwrap(), teacher.to_str().unwrap());
    let common = ["--data", d, "--epochs", "1", "--limit", "30", "--threads", "1", "--no-int8", "--widths", "8,16,16,32"];
    let distil = ["--teacher", t, "--distill-weight", "1"];
    let (offline, consistent) = (base.join("offline"), base.join("consistent"));
    train(&[&common[..], &distil, &["--out", offline.to_str().unwrap()]].concat());
    let log = train(&[&common[..], &distil, &["--consistent", "--out", consistent.to_str().unwrap()]].concat());
    assert!(!log.contains("teacher probabilities of") && !consistent.join("teacher_probs.npy").exists(), "{log}");
    // The same seed, batches and augmentations: only where the targets come from differs.
    let loss = |dir: &Path| epochs(dir)[0]["loss"].as_f64().unwrap();
    assert!((loss(&offline) - loss(&consistent)).abs() > 1e-3, "{} {}", loss(&offline), loss(&consistent));

    // A teacher without `probabilities` (the int8 net without flip averaging gives logits) is refused.
    let fast = require_file(&data_dir().join("models/emotion_fer2013_vggbn_fast.onnx"), "the fast classifier", "run ./setup.sh");
    let out = base.join("refused");
    let run = Command::new(repo_dir().join(".venv-train/bin/python"))
        .arg(repo_dir().join("models/train_fer.py"))
        .args(common)
        .args(["--teacher", fast.to_str().unwrap(), "--consistent", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && stderr.contains("expected one output 'probabilities'"), "{stderr}");
    // `--consistent` without a teacher is a usage error, not a silent run without distillation.
    let run = Command::new(repo_dir().join(".venv-train/bin/python"))
        .arg(repo_dir().join("models/train_fer.py"))
        .args(common)
        .args(["--consistent", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.code() == Some(2) && stderr.contains("--consistent needs at least one --teacher"), "{stderr}");
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn a_float32_export_rebuilds_the_net_that_made_it() {
    let data = fer2013();
    let fp32 = installed_fp32();
    let out = scratch("init-onnx");
    let (d, o, f) = (data.to_str().unwrap(), out.to_str().unwrap(), fp32.to_str().unwrap());
    // Export only: the rebuilt net, exported again, must be the file it was rebuilt from.
    let log = train(&["--data", d, "--out", o, "--epochs", "0", "--init", f, "--limit", "40", "--threads", "1", "--no-int8"]);
    let diff: f64 = log
        .lines()
        .find_map(|l| l.split("largest difference from ONNX Runtime ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no rebuild line:\n{log}"))
        .parse()
        .unwrap();
    assert!(diff < 1e-4, "rebuilt net against the file: {diff}");
    let eval = |model: &Path| eval_accuracy(model, &out.join("best.json"), "40", Path::new("/dev/null")).0;
    assert_eq!(eval(&out.join("best.onnx")), eval(&fp32), "the re-export classifies val as the original does");
    // Another width is refused, naming it.
    let wrong = Command::new(repo_dir().join(".venv-train/bin/python"))
        .arg(repo_dir().join("models/train_fer.py"))
        .args(["--data", d, "--out", o, "--epochs", "0", "--init", f, "--limit", "5", "--widths", "8,16,16,32"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("are not this net's (--widths 8,16,16,32)"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    std::fs::remove_dir_all(out).unwrap();
}
