// SPDX-License-Identifier: MIT
//! ONNX Runtime runs on a tensor it has seen before write into the outputs it returned the first
//! time (`core/src/backend.rs`, `KeptRuns`): the results must follow the tensor's new contents,
//! exactly as a new session's do, on real FER2013 faces with the installed classifier.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fer;

use std::sync::Arc;

use common::*;
use emotiondetect_core::inference::{face_tensor, EmotionClassifier, FaceCrop, SessionConfig};
use emotiondetect_core::preprocess::Image;
use emotiondetect_core::runtime;
use fer::fer_val_face;

/// The first image of each of `classes` in FER2013 val, as packed RGB.
fn faces(classes: &[&str]) -> Vec<Image<Vec<u8>>> {
    classes.iter().map(|class| fer_val_face(class)).collect()
}

#[test]
fn kept_outputs_follow_the_input_tensor() {
    require_installed();
    let env = runtime::environment(Arc::new(|_, _| {})).expect("ONNX Runtime loads");
    let model = data_dir().join("models").join(emotiondetect_core::classification::DEFAULT_EMOTION_MODEL_FILE);
    let open = || EmotionClassifier::open(env, &model, None, &SessionConfig::default()).expect("the classifier loads").0;
    let mut kept = open();
    let per = kept.spec.target().len();
    let mut tensor = vec![0.0f32; 2 * per];
    let mut previous: Option<Vec<f32>> = None;
    for pair in [["happy", "sad"], ["surprise", "angry"], ["happy", "sad"], ["fear", "neutral"]] {
        for (image, out) in faces(&pair).iter().zip(tensor.chunks_mut(per)) {
            let whole = FaceCrop { region: (0.0, 0.0, image.width as f32, image.height as f32), landmarks: None };
            face_tensor(&kept.spec, image, &whole, out);
        }
        let mut out = Vec::new();
        kept.classify_tensor(&tensor, 2, &mut out).expect("the kept session runs");
        let mut reference = Vec::new();
        open().classify_tensor(&tensor.clone(), 2, &mut reference).expect("a new session runs");
        assert_eq!(out, reference, "{pair:?}: the same tensor in a new session");
        assert_eq!(out.len(), 2 * kept.spec.labels.len());
        assert_ne!(previous.as_ref(), Some(&out), "{pair:?}: other faces, other probabilities");
        previous = Some(out);
    }
}
