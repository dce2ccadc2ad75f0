// SPDX-License-Identifier: MIT
//! The inference-only bound: the engine calls the element makes, on prepared tensors, without
//! decoding, pre-processing, drawing or GStreamer. `EMOTIONDETECT_ENGINE=openvino` times
//! OpenVINO's (default: ONNX Runtime's).
//!
//!     cargo run --release --example inference-bound -- WIDTH HEIGHT FACES [ITERATIONS]
//!
//! WIDTH x HEIGHT is the padded YuNet input (multiples of 32); FACES the mean faces per frame
//! (may be fractional: the classifier batch is timed at the two whole sizes around it and
//! interpolated). Prints `bound_ms_per_frame=… detector_ms=… classifier_ms=…`.
//!
//! Threading: `EMOTIONDETECT_SPINNING=0` gives the element's default (the process's shared pool,
//! threads spinning only within a call), unset or 1 ONNX Runtime's default (a pool per model,
//! spinning after calls); `EMOTIONDETECT_THREADS=N` a pool of N per model.

use std::time::Instant;

use emotiondetect_core::backend::EngineKind;
use emotiondetect_core::classification::{ClassifierSpec, DEFAULT_EMOTION_MODEL_FILE};
use emotiondetect_core::error::ModelRole;
use emotiondetect_core::inference::{open_session, SessionConfig};
use emotiondetect_core::runtime;

fn main() -> Result<(), String> {
    let args: Vec<f64> = std::env::args().skip(1).map(|a| a.parse().map_err(|e| format!("{a}: {e}"))).collect::<Result<_, _>>()?;
    let [width, height, faces, rest @ ..] = args.as_slice() else {
        return Err("usage: inference-bound WIDTH HEIGHT FACES [ITERATIONS]".into());
    };
    let (width, height, faces) = (&(*width as usize), &(*height as usize), *faces);
    let iterations = rest.first().map_or(100, |&n| n as usize);
    let env = runtime::environment(std::sync::Arc::new(|_, _| {}))?;
    let engine = std::env::var("EMOTIONDETECT_ENGINE").unwrap_or_else(|_| "onnxruntime".into());
    let config = SessionConfig {
        engine: EngineKind::parse(&engine)?,
        threads: std::env::var("EMOTIONDETECT_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(0),
        spinning: std::env::var("EMOTIONDETECT_SPINNING").map(|s| s != "0").unwrap_or(true),
        ..Default::default()
    };
    let (mut detector, _) = open_session(env, ModelRole::Face, &runtime::default_model_path("face_detection_yunet.onnx"), &config)?;
    // The default classifier, fed in the shape and under the input name its spec gives.
    let emotion_model = runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE);
    let (spec, _) = ClassifierSpec::resolve(&emotion_model, None)?;
    let (mut classifier, _) = open_session(env, ModelRole::Emotion, &emotion_model, &config)?;
    let (per_face, input_name) = (spec.target().len(), spec.input_name.clone().unwrap_or_else(|| "input".into()));
    let det_input = vec![0.5f32; 3 * width * height];
    let (lo, hi) = (faces.floor() as usize, faces.ceil() as usize);
    let cls_input = vec![0.1f32; hi.max(1) * per_face];
    let time = |f: &mut dyn FnMut() -> Result<(), String>| -> Result<f64, String> {
        f()?; // warm-up
        let start = Instant::now();
        for _ in 0..iterations {
            f()?;
        }
        Ok(start.elapsed().as_secs_f64() * 1000.0 / iterations as f64)
    };
    let det_ms = time(&mut || detector.run("input", [1, 3, *height, *width], &det_input).map(|_| ()).map_err(|e| e.to_string()))?;
    let mut cls_batch = |n: usize| -> Result<f64, String> {
        if n == 0 {
            return Ok(0.0);
        }
        time(&mut || classifier.run(&input_name, spec.input_shape(n), &cls_input[..n * per_face]).map(|_| ()).map_err(|e| e.to_string()))
    };
    let (ms_lo, ms_hi) = (cls_batch(lo)?, if hi == lo { 0.0 } else { cls_batch(hi)? });
    let cls_ms = if hi == lo { ms_lo } else { ms_lo + (ms_hi - ms_lo) * (faces - lo as f64) };
    println!(
        "bound_ms_per_frame={:.3} detector_ms={det_ms:.3} classifier_ms={cls_ms:.3} input={width}x{height} faces={faces}",
        det_ms + cls_ms
    );
    Ok(())
}
