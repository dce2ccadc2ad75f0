// SPDX-License-Identifier: MIT
//! ONNX Runtime sessions with the default threading (`inference-threads=0`,
//! `inference-spinning=false`) share the process's intra-op pool (`core/src/runtime.rs`), so
//! streams and models take turns on the cores instead of each bringing its own threads; a
//! session with its own thread count, or spinning after calls, gets its own pool. Counted in
//! the process's threads, with real models and a real FER2013 face.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fer;

use std::sync::Arc;

use common::*;
use emotiondetect_core::classification::DEFAULT_EMOTION_MODEL_FILE;
use emotiondetect_core::inference::{face_tensor, EmotionClassifier, FaceCrop, SessionConfig};
use emotiondetect_core::runtime;
use fer::fer_val_face;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("Linux lists a process's threads in /proc/self/task").count()
}

/// The first happy face of FER2013 val, as the input tensor of `classifier`.
fn happy_tensor(classifier: &EmotionClassifier) -> Vec<f32> {
    let image = fer_val_face("happy");
    let mut tensor = vec![0.0f32; classifier.spec.target().len()];
    let whole = FaceCrop { region: (0.0, 0.0, image.width as f32, image.height as f32), landmarks: None };
    face_tensor(&classifier.spec, &image, &whole, &mut tensor);
    tensor
}

#[test]
fn default_sessions_share_one_pool_and_others_bring_their_own() {
    require_installed();
    let env = runtime::environment(Arc::new(|_, _| {})).expect("ONNX Runtime loads");
    let model = data_dir().join("models").join(DEFAULT_EMOTION_MODEL_FILE);
    let open = |config: SessionConfig| EmotionClassifier::open(env, &model, None, &config).expect("the classifier loads").0;
    let default = SessionConfig { spinning: false, ..SessionConfig::default() };

    let before = threads();
    let mut shared: Vec<_> = (0..4).map(|_| open(default)).collect();
    let tensor = happy_tensor(&shared[0]);
    let mut results = Vec::new();
    for classifier in &mut shared {
        let mut out = Vec::new();
        classifier.classify_tensor(&tensor, 1, &mut out).expect("a session on the shared pool runs");
        results.push(out);
    }
    assert_eq!(threads(), before, "four default sessions, run once each, start no thread of their own");

    let mut own = open(SessionConfig { threads: 3, ..default });
    assert_eq!(threads(), before + 2, "inference-threads=3: its own pool, the caller and two threads");
    let mut out = Vec::new();
    own.classify_tensor(&tensor, 1, &mut out).expect("a session with its own pool runs");
    let _spinning = open(SessionConfig { threads: 3, spinning: true, ..default });
    assert_eq!(threads(), before + 4, "inference-spinning=true: its own pool too");

    let happy = shared[0].spec.labels.iter().position(|l| l == "happy").expect("the classifier has a happy class");
    for probabilities in results.iter().chain([&out]) {
        let top = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(top, Some(happy), "the happy face is happy on every pool: {probabilities:?}");
        for (a, b) in probabilities.iter().zip(&results[0]) {
            assert!((a - b).abs() < 1e-4, "same probabilities on either pool: {probabilities:?} against {:?}", results[0]);
        }
    }
}
