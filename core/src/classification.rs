// SPDX-License-Identifier: MIT
//! Emotion classification: the classifier's input spec, softmax and top-1.
//!
//! Running the ONNX session is in [`crate::inference`].

use std::path::Path;
use std::sync::Arc;

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;

use crate::error::{Error, Result, SpecError};
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
const BUILTIN_SPECS: [(&str, &str); 8] = [
    ("emotion_fer2013_mini_xception.onnx", include_str!("../../models/specs/fer2013_mini_xception.json")),
    ("emotion_fer2013_vggbn.onnx", include_str!("../../models/specs/fer2013_vggbn.json")),
    ("emotion_fer2013_vggbn_fast.onnx", include_str!("../../models/specs/fer2013_vggbn_fast.json")),
    ("emotion_fer2013_vggbn_fp32.onnx", include_str!("../../models/specs/fer2013_vggbn_fp32.json")),
    ("emotion_fer2013_ensemble.onnx", include_str!("../../models/specs/fer2013_ensemble.json")),
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
    /// Errors: [`Error::Spec`] naming the path: the file cannot be read or is not a valid spec
    /// (the field, what it must be and what it is).
    pub fn load(path: &Path) -> Result<Self> {
        let spec_error = |problem| Error::Spec { path: Some(path.to_path_buf()), problem };
        let text = crate::files::read_regular_to_string(path).map_err(|e| spec_error(SpecError::Unreadable { source: Arc::new(e) }))?;
        Self::parse(&text).map_err(spec_error)
    }

    /// The spec of the model at `model`: `explicit` when given, else `<model stem>.json` beside
    /// the model, else the shipped spec for its file name. Returns the spec and where it came from.
    ///
    /// Errors: the explicit or beside-the-model spec is invalid ([`Error::Spec`]), or there is
    /// no spec at all ([`Error::NoSpec`]).
    pub fn resolve(model: &Path, explicit: Option<&Path>) -> Result<(Self, String)> {
        if let Some(p) = explicit {
            return Self::load(p).map(|s| (s, p.display().to_string()));
        }
        let beside = model.with_extension("json");
        if beside.is_file() {
            return Self::load(&beside).map(|s| (s, beside.display().to_string()));
        }
        let file = model.file_name().and_then(|f| f.to_str()).unwrap_or_default();
        Self::builtin(file)
            .map(|s| (s, format!("built-in spec for {file}")))
            .ok_or_else(|| Error::NoSpec { model: model.to_path_buf(), expected: beside })
    }

    /// Parses a spec from its JSON text (format: `models/specs/README.md`).
    ///
    /// Errors: [`Error::Spec`] (without a path): a missing or invalid field, named.
    pub fn from_json(text: &str) -> Result<Self> {
        Self::parse(text).map_err(|problem| Error::Spec { path: None, problem })
    }

    /// Reads the JSON into [`SpecFile`], then checks each field in a fixed order (the sections
    /// first, so that a file that is not a spec at all says so).
    fn parse(text: &str) -> std::result::Result<Self, SpecError> {
        let file: Field<SpecFile> = serde_json::from_str(text).map_err(|e| SpecError::Json { source: Arc::new(e) })?;
        let file = match file.parsed {
            Some(f) if file.value.is_object() => f,
            _ => return Err(SpecError::NotAnObject { found: shown(&file.value) }),
        };
        let input = section(&file.input, "input")?;
        let output = section(&file.output, "output")?;
        let name = required(&file.name, "name", "a string")?.clone();
        let input_name = optional(&input.name, "input.name", "a string")?.cloned();
        let size = |f: &Field<u64>, field: &'static str| -> std::result::Result<usize, SpecError> {
            let n = *required(f, field, "a positive integer")?;
            match usize::try_from(n) {
                Ok(n @ 1..=4096) => Ok(n),
                _ => Err(invalid(f, field, "a positive integer up to 4096")),
            }
        };
        let (width, height) = (size(&input.width, "input.width")?, size(&input.height, "input.height")?);
        let layout = match required(&input.layout, "input.layout", "NCHW or NHWC")?.to_ascii_uppercase().as_str() {
            "NCHW" => TensorLayout::Nchw,
            "NHWC" => TensorLayout::Nhwc,
            _ => return Err(invalid(&input.layout, "input.layout", "NCHW or NHWC")),
        };
        let order = match required(&input.colour, "input.colour", "grey, rgb or bgr")?.to_ascii_lowercase().as_str() {
            "grey" | "gray" => ColourOrder::Grey,
            "rgb" => ColourOrder::Rgb,
            "bgr" => ColourOrder::Bgr,
            _ => return Err(invalid(&input.colour, "input.colour", "grey, rgb or bgr")),
        };
        let norm = normalisation(input, order.channels())?;
        let alignment = alignment(&input.alignment)?;
        let output_name = optional(&output.name, "output.name", "a string")?.cloned();
        let kind = match required(&output.kind, "output.kind", "logits or probabilities")?.as_str() {
            "logits" => OutputKind::Logits,
            "probabilities" => OutputKind::Probabilities,
            _ => return Err(invalid(&output.kind, "output.kind", "logits or probabilities")),
        };
        let labels = required(&file.labels, "labels", "a non-empty list of strings")?;
        if labels.is_empty() {
            return Err(invalid(&file.labels, "labels", "a non-empty list of strings"));
        }
        Ok(ClassifierSpec {
            name,
            input_name,
            output_name,
            width,
            height,
            layout,
            order,
            norm,
            alignment,
            output: kind,
            labels: labels.clone(),
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

// ------------------------------------------------------------------------------------------
// The spec file as written

/// A spec file (`models/specs/README.md`). Keys it does not name (`schema`, `model`, `comment`,
/// DL Streamer's own) are ignored, as they always were. Every value is a [`Field`], read
/// whatever its type, so that the checks of [`ClassifierSpec::parse`] report a wrong one
/// naming its path, what it must be and what it is, rather than serde's first type error
/// without the field's path.
#[derive(Default, Deserialize)]
#[serde(default)]
struct SpecFile {
    name: Field<String>,
    input: Field<InputSection>,
    output: Field<OutputSection>,
    labels: Field<Vec<String>>,
}

/// `input`: the tensor one face becomes.
#[derive(Default, Deserialize)]
#[serde(default)]
struct InputSection {
    name: Field<String>,
    layout: Field<String>,
    width: Field<u64>,
    height: Field<u64>,
    colour: Field<String>,
    scale: Field<f64>,
    mean: Field<Vec<f32>>,
    std: Field<Vec<f32>>,
    alignment: Field<AlignmentSection>,
}

/// `input.alignment`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct AlignmentSection {
    kind: Field<String>,
    template: Field<[[f32; 2]; 5]>,
}

/// `output`: what the scores are.
#[derive(Default, Deserialize)]
#[serde(default)]
struct OutputSection {
    name: Field<String>,
    kind: Field<String>,
}

/// One value of the spec: its JSON as written (`null` when absent), and the value as `T`
/// when it has `T`'s type.
struct Field<T> {
    value: serde_json::Value,
    parsed: Option<T>,
}

impl<T> Default for Field<T> {
    fn default() -> Self {
        Field { value: serde_json::Value::Null, parsed: None }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let parsed = T::deserialize(&value).ok();
        Ok(Field { value, parsed })
    }
}

/// The JSON of a value for a message, shortened to 60 characters.
fn shown(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn invalid<T>(f: &Field<T>, field: &'static str, expected: impl Into<String>) -> SpecError {
    SpecError::Invalid { field, found: shown(&f.value), expected: expected.into() }
}

/// The value of a field that may be absent (or `null`).
fn optional<'a, T>(f: &'a Field<T>, field: &'static str, expected: &'static str) -> std::result::Result<Option<&'a T>, SpecError> {
    match (&f.value, &f.parsed) {
        (serde_json::Value::Null, _) => Ok(None),
        (_, Some(v)) => Ok(Some(v)),
        (_, None) => Err(invalid(f, field, expected)),
    }
}

fn required<'a, T>(f: &'a Field<T>, field: &'static str, expected: &'static str) -> std::result::Result<&'a T, SpecError> {
    optional(f, field, expected)?.ok_or(SpecError::Missing { field, expected })
}

/// A required object (`input`, `output`): serde would take an array for a struct, too.
fn section<'a, T>(f: &'a Field<T>, field: &'static str) -> std::result::Result<&'a T, SpecError> {
    let s = required(f, field, "an object")?;
    if f.value.is_object() {
        Ok(s)
    } else {
        Err(invalid(f, field, "an object"))
    }
}

/// `scale` (default 1) and per-channel `mean` (default 0) and `std` (default 1), one value for
/// all channels or one per channel.
fn normalisation(input: &InputSection, channels: usize) -> std::result::Result<Normalisation, SpecError> {
    let scale = optional(&input.scale, "input.scale", "a number")?.copied().unwrap_or(1.0) as f32;
    let expected = if channels == 3 { "1 or 3 numbers (one per channel)" } else { "1 number" };
    let per_channel = |f: &Field<Vec<f32>>, field, default: f32| -> std::result::Result<[f32; 3], SpecError> {
        match optional(f, field, expected)?.map(Vec::as_slice) {
            None => Ok([default; 3]),
            Some(&[v]) => Ok([v; 3]),
            Some(&[r, g, b]) if channels == 3 => Ok([r, g, b]),
            Some(_) => Err(invalid(f, field, expected)),
        }
    };
    let std = per_channel(&input.std, "input.std", 1.0)?;
    if std.contains(&0.0) {
        return Err(invalid(&input.std, "input.std", "numbers other than 0"));
    }
    Ok(Normalisation { scale, mean: per_channel(&input.mean, "input.mean", 0.0)?, std })
}

fn alignment(a: &Field<AlignmentSection>) -> std::result::Result<Alignment, SpecError> {
    const KINDS: &str = "\"box\" or \"five-point\"";
    let Some(a) = optional(a, "input.alignment", "an object")? else { return Ok(Alignment::Box) };
    match required(&a.kind, "input.alignment.kind", KINDS)?.as_str() {
        "box" => Ok(Alignment::Box),
        "five-point" => {
            let template = required(&a.template, "input.alignment.template", "five [x, y] points in input pixels")?;
            Ok(Alignment::FivePoint { template: *template })
        }
        _ => Err(invalid(&a.kind, "input.alignment.kind", KINDS)),
    }
}

/// The common name of an emotion label, so that datasets and models that spell them differently
/// (happy / happiness, angry / anger, fearful, surprised, ...) can be matched. `None` for a label
/// that is not one of the eight FER+/AffectNet emotions.
pub fn canonical_emotion(label: &str) -> Option<&'static str> {
    // Compared without lowering a copy: this runs for every face drawn.
    let l = label.trim();
    EMOTION_ALIASES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(l)).map(|&(_, name)| name)
}

/// Label spellings of the models we read, and their common names.
const EMOTION_ALIASES: [(&str, &str); 20] = [
    ("angry", "angry"),
    ("anger", "angry"),
    ("mad", "angry"),
    ("disgust", "disgust"),
    ("disgusted", "disgust"),
    ("disgusting", "disgust"),
    ("fear", "fear"),
    ("fearful", "fear"),
    ("afraid", "fear"),
    ("scared", "fear"),
    ("happy", "happy"),
    ("happiness", "happy"),
    ("joy", "happy"),
    ("sad", "sad"),
    ("sadness", "sad"),
    ("surprise", "surprise"),
    ("surprised", "surprise"),
    ("neutral", "neutral"),
    ("calm", "neutral"),
    ("contempt", "contempt"),
];

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
    to_probabilities(&mut row, kind);
    row
}

/// [`probabilities`] in place.
pub fn to_probabilities(row: &mut [f32], kind: OutputKind) {
    if kind == OutputKind::Logits {
        softmax(row);
    }
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
    fn spec_errors_say_what_the_field_is_and_must_be() {
        let base = r#"{"name":"m","input":{"layout":"NCHW","width":48,"height":48,"colour":"grey"},"output":{"kind":"logits"},"labels":["happy"]}"#;
        let bad = |from: &str, to: &str| ClassifierSpec::from_json(&base.replace(from, to)).unwrap_err().to_string();
        assert_eq!(bad("NCHW", "CHW"), "model spec: `input.layout` is \"CHW\", expected NCHW or NHWC");
        assert_eq!(bad("\"width\":48", "\"width\":\"48\""), "model spec: `input.width` is \"48\", expected a positive integer");
        assert_eq!(bad("\"width\":48", "\"width\":5000"), "model spec: `input.width` is 5000, expected a positive integer up to 4096");
        assert_eq!(bad("\"width\":48,", ""), "model spec: missing `input.width` (a positive integer)");
        assert_eq!(bad("\"colour\":\"grey\"", "\"colour\":null"), "model spec: missing `input.colour` (grey, rgb or bgr)");
        assert_eq!(bad("[\"happy\"]", "[\"happy\",3]"), "model spec: `labels` is [\"happy\",3], expected a non-empty list of strings");
        assert_eq!(bad("\"name\":\"m\"", "\"name\":7"), "model spec: `name` is 7, expected a string");
        assert_eq!(bad("{\"kind\":\"logits\"}", "[\"logits\"]"), "model spec: `output` is [\"logits\"], expected an object");
        assert_eq!(
            bad("\"colour\":\"grey\"", "\"colour\":\"grey\",\"mean\":[1,2,3]"),
            "model spec: `input.mean` is [1,2,3], expected 1 number"
        );
        assert_eq!(
            bad("\"colour\":\"grey\"", "\"colour\":\"grey\",\"alignment\":{\"kind\":\"affine\"}"),
            "model spec: `input.alignment.kind` is \"affine\", expected \"box\" or \"five-point\""
        );
        // Case and unknown keys are accepted as before; a long value is shortened.
        assert!(ClassifierSpec::from_json(&base.replace("NCHW", "nchw").replace("\"name\":\"m\"", "\"name\":\"m\",\"comment\":1")).is_ok());
        let long = format!("[{}]", vec!["1"; 100].join(","));
        let e = bad("\"colour\":\"grey\"", &format!("\"colour\":\"grey\",\"std\":{long}"));
        assert!(e.ends_with("…, expected 1 number") && e.len() < 140, "{e}");
        // A JSON file that is not a spec names the first section it lacks.
        assert_eq!(ClassifierSpec::from_json(r#"{"name": 1}"#).unwrap_err().to_string(), "model spec: missing `input` (an object)");
        assert_eq!(ClassifierSpec::from_json("[1]").unwrap_err().to_string(), "model spec: the spec is [1], expected a JSON object");
        // Not JSON: serde_json's error with the line and column.
        let e = ClassifierSpec::from_json("{\n  \"name\": \"m\",\n  oops\n}").unwrap_err();
        let Error::Spec { path: None, problem: SpecError::Json { source } } = &e else { panic!("{e:?}") };
        assert_eq!((source.line(), source.column()), (3, 3));
        assert!(e.to_string().starts_with("model spec: not valid JSON: key must be a string at line 3 column 3"), "{e}");
    }

    #[test]
    fn a_spec_file_is_named_in_its_errors() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mine.json");
        std::fs::write(&path, r#"{"name": "m", "input": {"layout": "NCHW"}, "output": {}}"#).unwrap();
        let e = ClassifierSpec::load(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Spec { path: Some(p), problem: SpecError::Missing { field: "input.width", .. } } if *p == path),
            "{e:?}"
        );
        assert_eq!(e.to_string(), format!("model spec {}: missing `input.width` (a positive integer)", path.display()));
        let e = ClassifierSpec::load(&dir.join("absent.json")).unwrap_err();
        let Error::Spec { problem: SpecError::Unreadable { source }, .. } = &e else { panic!("{e:?}") };
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with(&format!("model spec {}: No such file", dir.join("absent.json").display())), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
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
