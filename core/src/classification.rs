// SPDX-License-Identifier: MIT
//! Emotion classification: the classifier's input spec, softmax and top-1.
//!
//! Running the ONNX session is in [`crate::inference`].

use crate::error::{Error, Result};
use crate::preprocess::{ColourOrder, Normalisation, TensorLayout, TensorTarget};

/// File name of the emotion model the element uses when `emotion-model` is not set.
pub const DEFAULT_EMOTION_MODEL_FILE: &str = "emotion_fer2013_vggbn.onnx";

/// The seven FER2013 classes in the order the FER2013 mini-Xception outputs them.
pub const FER2013_LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

/// Whether the classifier's output row is already a probability vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Probabilities,
    /// Raw scores: softmax is applied.
    Logits,
}

/// How a face is cut out of the frame for the classifier.
#[derive(Clone, Debug, PartialEq)]
pub enum Alignment {
    /// The detector box plus `crop-margin`, scaled to the input size (aspect not kept).
    Box,
    /// A similarity transform (rotation, uniform scale, shift) that maps the detector's five
    /// landmarks (YuNet order) onto `template`, in input pixels, as ArcFace-style models expect.
    /// Faces without landmarks fall back to [`Alignment::Box`].
    FivePoint { template: [[f32; 2]; 5] },
}

/// What a classifier takes and gives: one image of `width` x `height` in `order`, laid out as
/// `layout`, normalised by `norm`, and one score per label out. Read from a model spec (JSON, see
/// `models/specs/README.md`), in the spirit of DL Streamer's model-proc files.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierSpec {
    pub name: String,
    /// Input tensor name; `None` = the model's only input.
    pub input_name: Option<String>,
    /// Output tensor name; `None` = the model's first output.
    pub output_name: Option<String>,
    pub width: usize,
    pub height: usize,
    pub layout: TensorLayout,
    pub order: ColourOrder,
    pub norm: Normalisation,
    pub alignment: Alignment,
    pub output: OutputKind,
    pub labels: Vec<String>,
}

/// The specs shipped in `models/specs/`, with the model file name each belongs to.
const BUILTIN_SPECS: [(&str, &str); 7] = [
    ("emotion_fer2013_mini_xception.onnx", include_str!("../../models/specs/fer2013_mini_xception.json")),
    ("emotion_fer2013_vggbn.onnx", include_str!("../../models/specs/fer2013_vggbn.json")),
    ("emotion_fer2013_vggbn_fast.onnx", include_str!("../../models/specs/fer2013_vggbn_fast.json")),
    ("emotion_fer2013_vggbn_fp32.onnx", include_str!("../../models/specs/fer2013_vggbn_fp32.json")),
    ("emotion-ferplus-8.onnx", include_str!("../../models/specs/emotion_ferplus_8.json")),
    ("enet_b0_8_best_afew.onnx", include_str!("../../models/specs/hsemotion_enet_b0_8.json")),
    ("facial_expression_recognition_mobilefacenet_2022july.onnx", include_str!("../../models/specs/mobilefacenet_fer.json")),
];

impl ClassifierSpec {
    /// The shipped spec for a model file name (for example `emotion-ferplus-8.onnx`), if any.
    pub fn builtin(file_name: &str) -> Option<Self> {
        BUILTIN_SPECS.iter().find(|(f, _)| *f == file_name).map(|(_, json)| Self::from_json(json).expect("the shipped specs parse"))
    }

    /// Reads a spec file.
    ///
    /// Errors: the file cannot be read or is not a valid spec (the path and the field are named).
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = crate::files::read_regular_to_string(path).map_err(|e| Error::Spec(format!("model spec {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Error::Spec(format!("model spec {}: {e}", path.display())))
    }

    /// The spec of the model at `model`: `explicit` when given, else `<model stem>.json` beside
    /// the model, else the shipped spec for its file name. Returns the spec and where it came from.
    ///
    /// Errors: the explicit or beside-the-model spec is invalid, or there is no spec at all.
    pub fn resolve(model: &std::path::Path, explicit: Option<&std::path::Path>) -> Result<(Self, String)> {
        if let Some(p) = explicit {
            return Self::load(p).map(|s| (s, p.display().to_string()));
        }
        let beside = model.with_extension("json");
        if beside.is_file() {
            return Self::load(&beside).map(|s| (s, beside.display().to_string()));
        }
        let file = model.file_name().and_then(|f| f.to_str()).unwrap_or_default();
        Self::builtin(file).map(|s| (s, format!("built-in spec for {file}"))).ok_or_else(|| {
            Error::Spec(format!(
                "emotion model {}: no model spec: expected {} beside it or the emotion-model-proc property \
                 (the format and examples are in models/specs/)",
                model.display(),
                beside.display()
            ))
        })
    }

    /// Parses a spec from its JSON text (format: `models/specs/README.md`).
    ///
    /// Errors: a missing or invalid field, named.
    pub fn from_json(text: &str) -> Result<Self> {
        Self::parse(text).map_err(Error::Spec)
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let input = v.get("input").ok_or("missing `input`")?;
        let output = v.get("output").ok_or("missing `output`")?;
        let str_of = |o: &serde_json::Value, k: &str| o.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let size = |k: &str| {
            input
                .get(k)
                .and_then(|x| x.as_u64())
                .filter(|&n| n > 0 && n <= 4096)
                .map(|n| n as usize)
                .ok_or(format!("`input.{k}` must be a positive integer"))
        };
        let layout = match str_of(input, "layout").unwrap_or_default().to_ascii_uppercase().as_str() {
            "NCHW" => TensorLayout::Nchw,
            "NHWC" => TensorLayout::Nhwc,
            other => return Err(format!("`input.layout` is `{other}`, expected NCHW or NHWC")),
        };
        let order = match str_of(input, "colour").unwrap_or_default().to_ascii_lowercase().as_str() {
            "grey" | "gray" => ColourOrder::Grey,
            "rgb" => ColourOrder::Rgb,
            "bgr" => ColourOrder::Bgr,
            other => return Err(format!("`input.colour` is `{other}`, expected grey, rgb or bgr")),
        };
        let norm = normalisation(input, order.channels())?;
        let alignment = alignment(input)?;
        let kind = match str_of(output, "kind").unwrap_or_default().as_str() {
            "logits" => OutputKind::Logits,
            "probabilities" => OutputKind::Probabilities,
            other => return Err(format!("`output.kind` is `{other}`, expected logits or probabilities")),
        };
        let labels: Vec<String> = v
            .get("labels")
            .and_then(|l| l.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if labels.is_empty() {
            return Err("`labels` must be a non-empty list of strings".into());
        }
        Ok(ClassifierSpec {
            name: str_of(&v, "name").ok_or("missing `name`")?,
            input_name: str_of(input, "name"),
            output_name: str_of(output, "name"),
            width: size("width")?,
            height: size("height")?,
            layout,
            order,
            norm,
            alignment,
            output: kind,
            labels,
        })
    }

    /// The tensor one face becomes: the whole input, no padding.
    pub fn target(&self) -> TensorTarget {
        TensorTarget {
            width: self.width,
            height: self.height,
            content_w: self.width,
            content_h: self.height,
            layout: self.layout,
            order: self.order,
            norm: self.norm,
        }
    }

    /// The input shape one batch of `n` takes, in the model's layout.
    pub fn input_shape(&self, n: usize) -> [usize; 4] {
        let c = self.order.channels();
        match self.layout {
            TensorLayout::Nhwc => [n, self.height, self.width, c],
            TensorLayout::Nchw => [n, c, self.height, self.width],
        }
    }
}

/// `scale` (default 1) and per-channel `mean` (default 0) and `std` (default 1), one value for
/// all channels or one per channel.
fn normalisation(input: &serde_json::Value, channels: usize) -> std::result::Result<Normalisation, String> {
    let scale = input.get("scale").map(|x| x.as_f64().ok_or("`input.scale` must be a number")).transpose()?.unwrap_or(1.0) as f32;
    let per_channel = |k: &str, default: f32| -> std::result::Result<[f32; 3], String> {
        let Some(x) = input.get(k) else { return Ok([default; 3]) };
        let vals: Vec<f32> = x
            .as_array()
            .ok_or(format!("`input.{k}` must be a list of numbers"))?
            .iter()
            .map(|n| n.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()
            .ok_or(format!("`input.{k}` must be a list of numbers"))?;
        match vals.len() {
            1 => Ok([vals[0]; 3]),
            n if n == channels && n == 3 => Ok([vals[0], vals[1], vals[2]]),
            n => Err(format!("`input.{k}` has {n} values, expected 1 or {channels}")),
        }
    };
    let std = per_channel("std", 1.0)?;
    if std.contains(&0.0) {
        return Err("`input.std` must not be 0".into());
    }
    Ok(Normalisation { scale, mean: per_channel("mean", 0.0)?, std })
}

fn alignment(input: &serde_json::Value) -> std::result::Result<Alignment, String> {
    let Some(a) = input.get("alignment") else { return Ok(Alignment::Box) };
    match a.get("kind").and_then(|k| k.as_str()) {
        Some("box") => Ok(Alignment::Box),
        Some("five-point") => {
            let pts: Option<Vec<[f32; 2]>> = a.get("template").and_then(|t| t.as_array()).map(|t| {
                t.iter()
                    .filter_map(|p| {
                        p.as_array().filter(|p| p.len() == 2).and_then(|p| Some([p[0].as_f64()? as f32, p[1].as_f64()? as f32]))
                    })
                    .collect()
            });
            match pts {
                Some(p) if p.len() == 5 => Ok(Alignment::FivePoint { template: [p[0], p[1], p[2], p[3], p[4]] }),
                _ => Err("`input.alignment.template` must be five [x, y] points in input pixels".into()),
            }
        }
        other => Err(format!("`input.alignment.kind` is {other:?}, expected \"box\" or \"five-point\"")),
    }
}

/// The common name of an emotion label, so that datasets and models that spell them differently
/// (happy / happiness, angry / anger, fearful, surprised, ...) can be matched. `None` for a label
/// that is not one of the eight FER+/AffectNet emotions.
pub fn canonical_emotion(label: &str) -> Option<&'static str> {
    let l = label.trim().to_ascii_lowercase();
    Some(match l.as_str() {
        "angry" | "anger" | "mad" => "angry",
        "disgust" | "disgusted" | "disgusting" => "disgust",
        "fear" | "fearful" | "afraid" | "scared" => "fear",
        "happy" | "happiness" | "joy" => "happy",
        "sad" | "sadness" => "sad",
        "surprise" | "surprised" => "surprise",
        "neutral" | "calm" => "neutral",
        "contempt" => "contempt",
        _ => return None,
    })
}

/// In-place softmax over one row of logits (numerically stable: the max is subtracted first).
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// Index and value of the highest score (the first one on ties). `None` for an empty row.
pub fn top1(row: &[f32]) -> Option<(usize, f32)> {
    row.iter().copied().enumerate().fold(None, |best, (i, v)| match best {
        Some((_, b)) if b >= v => best,
        _ => Some((i, v)),
    })
}

/// One classifier output row as probabilities in label order: softmax applied for logits,
/// kept as it is for probabilities.
pub fn probabilities(mut row: Vec<f32>, kind: OutputKind) -> Vec<f32> {
    if kind == OutputKind::Logits {
        softmax(&mut row);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row = vec![1001.0, 1002.0, 1003.0, 1010.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[3] > 0.99 && row[0] < row[1] && row[1] < row[2]);
        let mut row = vec![0.0, 0.0];
        softmax(&mut row);
        assert_eq!(row, vec![0.5, 0.5]);
    }

    #[test]
    fn top1_picks_the_first_maximum() {
        assert_eq!(top1(&[0.1, 0.7, 0.7, 0.2]), Some((1, 0.7)));
        assert_eq!(top1(&[]), None);
    }

    #[test]
    fn logits_get_softmax_and_probabilities_are_kept() {
        let p = probabilities(vec![0.0, 2.0f32.ln()], OutputKind::Logits);
        assert_eq!(top1(&p).map(|t| t.0), Some(1));
        assert!((p[1] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(probabilities(vec![0.2, 0.5, 0.3], OutputKind::Probabilities), vec![0.2, 0.5, 0.3]);
    }

    #[test]
    fn mini_xception_spec_is_nhwc_grey_minus_one_to_one() {
        // FER2013 mini-Xception (Arriaga et al. 2017, `fer` 25.10.3): [N, 64, 64, 1] NHWC grey,
        // x / 255 then (x - 0.5) * 2, [N, 7] probabilities in FER2013 order.
        let spec = ClassifierSpec::builtin("emotion_fer2013_mini_xception.onnx").unwrap();
        assert_eq!(spec.input_shape(8), [8, 64, 64, 1]);
        let n = spec.norm;
        assert_eq!((0.0 * n.scale - n.mean[0]) / n.std[0], -1.0);
        assert!(((255.0 * n.scale - n.mean[0]) / n.std[0] - 1.0).abs() < 1e-6);
        assert_eq!(spec.labels[3], "happy");
        assert_eq!((spec.output, spec.alignment.clone()), (OutputKind::Probabilities, Alignment::Box));
    }

    #[test]
    fn every_shipped_spec_parses_and_names_known_emotions() {
        for (file, _) in BUILTIN_SPECS {
            let spec = ClassifierSpec::builtin(file).unwrap();
            assert!(spec.labels.iter().all(|l| canonical_emotion(l).is_some()), "{file}: {:?}", spec.labels);
            let (resolved, from) = ClassifierSpec::resolve(std::path::Path::new(&format!("/nowhere/{file}")), None).unwrap();
            assert_eq!((resolved, from), (spec, format!("built-in spec for {file}")));
        }
    }

    #[test]
    fn ferplus_spec_is_nchw_grey_raw_with_eight_logits() {
        let spec = ClassifierSpec::builtin("emotion-ferplus-8.onnx").unwrap();
        assert_eq!(spec.input_shape(4), [4, 1, 64, 64]);
        assert_eq!((spec.input_name.as_deref(), spec.output), (Some("Input3"), OutputKind::Logits));
        assert_eq!(spec.norm, Normalisation::IDENTITY);
        assert_eq!(spec.labels.len(), 8);
        assert_eq!(spec.labels[7], "contempt");
    }

    #[test]
    fn hsemotion_spec_is_rgb_224_with_imagenet_statistics() {
        let spec = ClassifierSpec::builtin("enet_b0_8_best_afew.onnx").unwrap();
        assert_eq!(spec.input_shape(2), [2, 3, 224, 224]);
        assert_eq!((spec.order, spec.input_name.clone()), (ColourOrder::Rgb, None));
        let n = spec.norm;
        // pure red 255: R channel (1 - 0.485) / 0.229, G (0 - 0.456) / 0.224
        assert!(((255.0 * n.scale - n.mean[0]) / n.std[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!(((0.0 * n.scale - n.mean[1]) / n.std[1] + 0.456 / 0.224).abs() < 1e-5);
    }

    #[test]
    fn mobilefacenet_spec_aligns_five_points_to_112() {
        let spec = ClassifierSpec::builtin("facial_expression_recognition_mobilefacenet_2022july.onnx").unwrap();
        assert_eq!(spec.input_shape(1), [1, 3, 112, 112]);
        let Alignment::FivePoint { template } = spec.alignment else { panic!("not aligned") };
        assert_eq!(template[2], [56.0252, 71.7366]);
    }

    #[test]
    fn invalid_specs_are_refused_with_the_field_named() {
        let base = r#"{"name":"m","input":{"layout":"NCHW","width":48,"height":48,"colour":"grey"},"output":{"kind":"logits"},"labels":["happy"]}"#;
        assert!(ClassifierSpec::from_json(base).is_ok());
        let bad = |from: &str, to: &str| ClassifierSpec::from_json(&base.replace(from, to)).unwrap_err().to_string();
        assert!(bad("NCHW", "CHW").contains("input.layout"));
        assert!(bad("\"grey\"", "\"cmyk\"").contains("input.colour"));
        assert!(bad("\"width\":48", "\"width\":0").contains("input.width"));
        assert!(bad("logits", "scores").contains("output.kind"));
        assert!(bad("[\"happy\"]", "[]").contains("labels"));
        assert!(bad("\"colour\":\"grey\"", "\"colour\":\"grey\",\"std\":[0]").contains("input.std"));
        assert!(bad("\"colour\":\"grey\"", "\"colour\":\"rgb\",\"mean\":[1,2]").contains("input.mean"));
        assert!(bad("\"colour\":\"grey\"", "\"colour\":\"grey\",\"alignment\":{\"kind\":\"five-point\",\"template\":[[1,2]]}")
            .contains("template"));
        assert!(ClassifierSpec::from_json("{").unwrap_err().to_string().contains("not valid JSON"));
    }

    #[test]
    fn a_model_without_a_spec_is_an_error_naming_the_expected_file() {
        let e = ClassifierSpec::resolve(std::path::Path::new("/nowhere/mine.onnx"), None).unwrap_err().to_string();
        assert!(e.contains("/nowhere/mine.json") && e.contains("emotion-model-proc"), "{e}");
        let e = ClassifierSpec::resolve(std::path::Path::new("/nowhere/mine.onnx"), Some(std::path::Path::new("/nowhere/spec.json")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nowhere/spec.json"), "{e}");
    }

    #[test]
    fn emotion_synonyms_share_one_name() {
        for (a, b) in [
            ("happiness", "happy"),
            ("Anger", "angry"),
            ("fearful", "fear"),
            ("surprised", "surprise"),
            ("sadness", "sad"),
            ("disgusted", "disgust"),
        ] {
            assert_eq!(canonical_emotion(a), canonical_emotion(b), "{a}");
        }
        assert_eq!(canonical_emotion("contempt"), Some("contempt"));
        assert_eq!(canonical_emotion("bored"), None);
    }
}
