// SPDX-License-Identifier: MIT
//! `emotiondetect-eval DATASET [OPTIONS]`: measures an emotion classifier on a folder-per-class
//! dataset (`DATASET/<label>/*.jpg|png`), through exactly the pre-processing and inference code
//! the element runs (`inference::face_tensor` and `EmotionClassifier::classify_tensor`). Each image is the
//! face: it is scaled whole to the model's input (or aligned, for models that need landmarks,
//! which a dataset of crops does not have: those fall back to the whole image).
//!
//! Prints `accuracy=`, `macro_f1=`, `worst_recall=`, per-class precision, recall and F1, the
//! confusion matrix, `skipped=` (images that cannot be read or decoded: each is named on stderr
//! and left out, the run goes on), `images_per_s=` (decode + pre-processing + inference) and
//! `ms_per_face=` (inference alone), and writes the confusion matrix as a PNG.
//!
//! With `--face-size 8,12,...` each image is first shrunk to N x N pixels (as a camera delivers
//! a small face) and the element's path scales it back up to the model's input: it prints one
//! `face_size=N accuracy= macro_f1=` line per size and draws the curve as the PNG.
//!
//! `--predictions OUT.csv` writes one row per image (path, true class, predicted label, every
//! probability); `--json OUT.json` the metrics as JSON; several `--model`s are evaluated in turn
//! and compared in one table at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use emotiondetect_core::backend::EngineKind;
use emotiondetect_core::classification::{top1, DEFAULT_EMOTION_MODEL_FILE};
use emotiondetect_core::inference::{face_tensor, Device, EmotionClassifier, FaceCrop, SessionConfig};
use emotiondetect_core::preprocess::{Image, PixelLayout};
use emotiondetect_core::runtime;
use emotiondetect_tools::evaluation::{min_reliable_size, render_size_curve, Confusion, SizePoint};
use indicatif::{ProgressBar, ProgressStyle};

/// `--help`: what the tool does and prints.
const LONG_ABOUT: &str = "\
Classifies every image of DATASET/<class>/ (jpg or png) with the emotion model and prints \
accuracy, per-class precision/recall/F1, macro-F1, the confusion matrix and the speed, and \
writes the confusion matrix as a PNG. Class folders are matched to the model's labels by name, \
with synonyms (happy/happiness, angry/anger, fear/fearful, ...). Images that cannot be read are \
named on stderr, counted as skipped= and left out.

With --face-size, each image is first shrunk to N x N pixels and the element's path scales it \
back up: one face_size=N line per size, and the accuracy-by-size curve as the PNG.

--predictions writes one CSV row per image (path, true class, predicted label, every \
probability), --json the metrics as JSON. Several --model options are evaluated one after the \
other and compared in one table at the end.

Exit status: 0 done, 1 an error, 2 a bad command line.";

/// The command line of `emotiondetect-eval`, as the OS gives it: paths need not be UTF-8,
/// options and numbers are.
#[derive(Parser, Debug)]
#[command(
    name = "emotiondetect-eval",
    version,
    about = "Measures an emotion classifier (accuracy, P/R/F1, confusion matrix, speed) on a \
             folder-per-class dataset",
    long_about = LONG_ABOUT
)]
struct Args {
    /// The dataset: one folder of images (jpg or png) per class, DATASET/<class>/*.jpg
    #[arg(value_name = "DATASET")]
    dataset: PathBuf,
    /// ONNX classifier (repeatable: each is evaluated, then all are compared in one table)
    /// [default: the installed default model]
    #[arg(long = "model", value_name = "PATH", allow_hyphen_values = true)]
    models: Vec<PathBuf>,
    /// Its model spec (one --model only) [default: <model>.json beside it, else the shipped spec]
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    spec: Option<PathBuf>,
    /// Faces per inference call (0 counts as 1)
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch: usize,
    /// The inference engine: onnxruntime or openvino
    #[arg(long, value_name = "E", default_value = "onnxruntime", value_parser = engine)]
    engine: EngineKind,
    /// cpu, cuda, cuda:N or auto (onnxruntime); cpu, gpu, npu or auto (openvino)
    #[arg(long, value_name = "D", default_value = "cpu", value_parser = device)]
    device: Device,
    /// ONNX Runtime intra-op threads (0: one per core)
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Where to write the confusion matrix (or the --face-size curve) [default: <model
    /// name>-confusion.png, <model name>-face-size.png]
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    png: Option<PathBuf>,
    /// At most N images per class (0: all)
    #[arg(long, value_name = "N", default_value_t = 0)]
    limit: usize,
    /// Shrink each image to N x N pixels first (bilinear, area-averaging), then run the
    /// element's crop-and-resize path; one line per size and, as the PNG, accuracy and macro-F1
    /// against the size (comma-separated, repeatable; 1..4096)
    #[arg(long = "face-size", value_name = "N[,N...]", value_delimiter = ',', value_parser = face_size)]
    face_sizes: Vec<u32>,
    /// As the element's property: images smaller than N pixels get no emotion (unknown, counted
    /// as wrong) (0: classify all)
    #[arg(long, value_name = "N", default_value_t = 0)]
    min_emotion_face_size: u32,
    /// Write one CSV row per image: path, true class, predicted label (unknown below
    /// --min-emotion-face-size), then every label's probability (one --model only)
    #[arg(long, value_name = "OUT.csv", allow_hyphen_values = true)]
    predictions: Option<PathBuf>,
    /// Write the metrics as JSON (with several --model: a list, one object per model)
    #[arg(long, value_name = "OUT.json", allow_hyphen_values = true)]
    json: Option<PathBuf>,
}

impl Args {
    /// The models to evaluate: those given, else the installed default.
    fn models(&self) -> Vec<PathBuf> {
        if self.models.is_empty() {
            vec![runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE)]
        } else {
            self.models.clone()
        }
    }

    /// Options that name one output for one model, and the outputs --face-size has not.
    fn check(&self) -> Result<(), String> {
        if self.models.len() > 1 {
            for (given, option) in
                [(self.spec.is_some(), "--spec"), (self.png.is_some(), "--png"), (self.predictions.is_some(), "--predictions")]
            {
                if given {
                    return Err(format!("{option} names one model's file: give one --model with it"));
                }
            }
        }
        if !self.face_sizes.is_empty() && (self.predictions.is_some() || self.json.is_some()) {
            return Err("--predictions and --json are for a plain evaluation, not --face-size".into());
        }
        Ok(())
    }
}

/// `--engine`: as the element's `engine` property.
fn engine(v: &str) -> Result<EngineKind, String> {
    EngineKind::parse(v).map_err(|e| e.to_string())
}

/// `--device`: as the element's `device` property.
fn device(v: &str) -> Result<Device, String> {
    Device::parse(v).map_err(|e| e.to_string())
}

/// One size of `--face-size 8,12,16`: a whole number of pixels, 1..=4096.
fn face_size(v: &str) -> Result<u32, String> {
    let s = v.trim();
    s.parse::<u32>().ok().filter(|n| (1..=4096).contains(n)).ok_or(format!("`{s}` is not a size 1..4096 in pixels"))
}

/// The class folders (sorted) and, per class, its image files (sorted, at most `limit`).
fn list_dataset(root: &Path, limit: usize) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let entries = std::fs::read_dir(root).map_err(|e| format!("dataset {}: {e}", root.display()))?;
    let mut classes: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())
            .map_err(|e| format!("{}: {e}", entry.path().display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().and_then(|x| x.to_str()).is_some_and(|x| ["jpg", "jpeg", "png"].contains(&x.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        if limit > 0 {
            files.truncate(limit);
        }
        if !files.is_empty() {
            classes.push((entry.file_name().to_string_lossy().into_owned(), files));
        }
    }
    classes.sort();
    if classes.is_empty() {
        return Err(format!("dataset {}: no class folders with .jpg or .png images (expected DATASET/<label>/*.jpg)", root.display()));
    }
    Ok(classes)
}

/// Decodes one image to packed RGB, shrunk to `size` x `size` pixels when given (a triangle
/// filter whose support follows the scale: each pixel averages its area, as a sensor does). The
/// file is checked first: a FIFO or device named `.jpg` would block or never end.
///
/// Errors: the file is not a regular file, cannot be read, or does not decode (the OS or
/// decoder's reason; the caller names the file).
fn decode(path: &Path, size: Option<u32>) -> Result<Image<Vec<u8>>, String> {
    let file = emotiondetect_core::files::open_regular(path).map_err(|e| e.to_string())?;
    let reader = image::ImageReader::new(std::io::BufReader::new(file)).with_guessed_format().map_err(|e| e.to_string())?;
    let mut img = reader.decode().map_err(|e| e.to_string())?.to_rgb8();
    if let Some(n) = size {
        img = image::imageops::resize(&img, n, n, image::imageops::FilterType::Triangle);
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok(Image {
        layout: PixelLayout::Packed { bpp: 3, r: 0, g: 1, b: 2 },
        width: w,
        height: h,
        planes: [img.into_raw(), vec![], vec![]],
        strides: [w * 3, 0, 0],
    })
}

struct Timing {
    total: Duration,
    inference: Duration,
    /// Images classified.
    images: usize,
    /// Images that could not be read or decoded, with the reason: left out of the scores.
    skipped: Vec<(PathBuf, String)>,
}

/// How the images are presented: shrunk to `face_size` pixels, and given no emotion below
/// `min_emotion_face_size` pixels (as the element's property).
#[derive(Clone, Copy)]
struct Presentation {
    face_size: Option<u32>,
    min_emotion_face_size: u32,
}

/// One image's result, for `--predictions`: its path, its class (the confusion matrix's row),
/// the predicted label (None: unknown, too small) and the probabilities in label order (empty
/// when unknown).
struct Prediction {
    path: PathBuf,
    class: usize,
    label: Option<usize>,
    probabilities: Vec<f32>,
}

/// Classifies every image, filling `confusion`, and `predictions` when given.
fn evaluate(
    classifier: &mut EmotionClassifier,
    dataset: &[(String, Vec<PathBuf>)],
    batch: usize,
    how: Presentation,
    confusion: &mut Confusion,
    mut predictions: Option<&mut Vec<Prediction>>,
) -> Result<Timing, String> {
    // The matrix has its rows in the model's label order, not the folders' order.
    let mut items: Vec<(usize, &PathBuf)> = Vec::new();
    for (class, files) in dataset {
        let row = confusion.row(class).ok_or_else(|| format!("class `{class}` has no row in the confusion matrix"))?;
        items.extend(files.iter().map(|f| (row, f)));
    }
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(items.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta}").map_err(|e| e.to_string())?);
    let per = classifier.spec.target().len();
    let mut tensor = vec![0.0f32; per * batch];
    let (start, mut inference) = (Instant::now(), Duration::ZERO);
    let mut results = Vec::with_capacity(batch);
    let (mut skipped, mut classified) = (Vec::new(), 0);
    for chunk in items.chunks(batch) {
        // One unreadable image is skipped and counted, not the end of the run.
        let (mut rows, mut paths) = (Vec::with_capacity(chunk.len()), Vec::with_capacity(chunk.len()));
        for (row, path) in chunk {
            match decode(path, how.face_size) {
                Ok(image) if image.width.min(image.height) < how.min_emotion_face_size as usize => {
                    confusion.add_unknown(*row);
                    if let Some(p) = predictions.as_deref_mut() {
                        p.push(Prediction { path: (*path).clone(), class: *row, label: None, probabilities: Vec::new() });
                    }
                }
                Ok(image) => {
                    let whole = FaceCrop { region: (0.0, 0.0, image.width as f32, image.height as f32), landmarks: None };
                    face_tensor(&classifier.spec, &image, &whole, &mut tensor[rows.len() * per..(rows.len() + 1) * per]);
                    rows.push(*row);
                    paths.push(*path);
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("emotiondetect-eval: skipped {}: {e}", path.display()));
                    skipped.push(((*path).clone(), e));
                }
            }
        }
        results.clear();
        if !rows.is_empty() {
            let t = Instant::now();
            classifier.classify_tensor(&tensor[..per * rows.len()], rows.len(), &mut results)?;
            inference += t.elapsed();
        }
        let n_labels = classifier.spec.labels.len().max(1);
        for ((class, e), path) in rows.iter().zip(results.chunks(n_labels)).zip(&paths) {
            let label = top1(e).map_or(0, |(label, _)| label);
            confusion.add(*class, label);
            if let Some(p) = predictions.as_deref_mut() {
                p.push(Prediction { path: (*path).clone(), class: *class, label: Some(label), probabilities: e.to_vec() });
            }
        }
        classified += rows.len();
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if !items.is_empty() && skipped.len() == items.len() {
        let first = skipped.first().map(|(p, e): &(PathBuf, String)| format!(" (the first: {}: {e})", p.display())).unwrap_or_default();
        return Err(format!("none of the {} images could be read{first}", items.len()));
    }
    Ok(Timing { total: start.elapsed(), inference, images: classified, skipped })
}

/// Writes to stdout. A reader that has gone (`| head`) is not an error: the PNG is still written.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

fn run(args: Args) -> Result<(), String> {
    args.check()?;
    let dataset = list_dataset(&args.dataset, args.limit)?;
    let models = args.models();
    let mut summaries = Vec::new();
    for model in &models {
        if let Some(summary) = run_model(&args, model, &dataset)? {
            summaries.push(summary);
        }
    }
    if let Some(path) = &args.json {
        let json = if summaries.len() == 1 { summaries[0].clone() } else { serde_json::Value::from(summaries.clone()) };
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n";
        std::fs::write(path, text).map_err(|e| format!("--json {}: {e}", path.display()))?;
        emit(&format!("json={}\n", path.display()))?;
    }
    if summaries.len() > 1 {
        emit(&comparison(&summaries))?;
    }
    Ok(())
}

/// Evaluates one model: its report on stdout, its PNG, its predictions; returns its metrics as
/// JSON ([`Confusion::to_json`] with the model, speed and skipped images; None with
/// --face-size, which prints its own lines).
fn run_model(args: &Args, model: &Path, dataset: &[(String, Vec<PathBuf>)]) -> Result<Option<serde_json::Value>, String> {
    let env = runtime::environment(std::sync::Arc::new(|_, _| {}))?;
    let config = SessionConfig { engine: args.engine, device: args.device, threads: args.threads, spinning: false };
    let (mut classifier, spec_source) = EmotionClassifier::open(env, model, args.spec.as_deref(), &config)?;
    let classes: Vec<String> = dataset.iter().map(|(c, _)| c.clone()).collect();
    let mut confusion = Confusion::new(classes, classifier.spec.labels.clone());
    for (c, m) in confusion.matched.iter().enumerate() {
        if m.is_none() {
            eprintln!(
                "warning: class `{}` has no label in the model ({}); its images count as errors",
                confusion.classes[c],
                confusion.labels.join(", ")
            );
        }
    }
    emit(&format!(
        "model={} spec=\"{spec_source}\" engine={} device={:?} dataset={} images={}\n",
        model.display(),
        args.engine.name(),
        classifier.device,
        args.dataset.display(),
        dataset.iter().map(|(_, f)| f.len()).sum::<usize>()
    ))?;
    // --batch 0 counts as 1.
    let batch = args.batch.max(1).min(classifier.max_batch);
    if !args.face_sizes.is_empty() {
        size_curve(args, &mut classifier, dataset, batch, confusion)?;
        return Ok(None);
    }
    let how = Presentation { face_size: None, min_emotion_face_size: args.min_emotion_face_size };
    let mut predictions = args.predictions.as_ref().map(|_| Vec::new());
    let timing = evaluate(&mut classifier, dataset, batch, how, &mut confusion, predictions.as_mut())?;
    let secs = timing.total.as_secs_f64().max(1e-9);
    let images_per_s = timing.images as f64 / secs;
    let ms_per_face = timing.inference.as_secs_f64() * 1e3 / timing.images.max(1) as f64;
    let unreadable = if timing.skipped.is_empty() { "" } else { " (unreadable images, left out of the scores; listed on stderr)" };
    emit(&format!(
        "{}\nskipped={}{unreadable}\nimages_per_s={images_per_s:.1}\nms_per_face={ms_per_face:.3} (inference alone, batch {batch}; {} images in {secs:.2} s in all)\n",
        confusion.report(),
        timing.skipped.len(),
        timing.images,
    ))?;
    let name = &classifier.spec.name;
    let png_path = args.png.clone().unwrap_or_else(|| PathBuf::from(format!("{name}-confusion.png")));
    let png = confusion.render_png(&format!("{name} on {}", args.dataset.display()))?;
    std::fs::write(&png_path, png).map_err(|e| format!("{}: {e}", png_path.display()))?;
    emit(&format!("confusion_png={}\n", png_path.display()))?;
    if let (Some(path), Some(rows)) = (&args.predictions, &predictions) {
        write_predictions(path, &confusion, rows)?;
        emit(&format!("predictions={} ({} rows)\n", path.display(), rows.len()))?;
    }
    let mut json = confusion.to_json();
    json["model"] = model.display().to_string().into();
    json["name"] = name.clone().into();
    json["spec"] = spec_source.into();
    json["dataset"] = args.dataset.display().to_string().into();
    json["skipped"] = timing.skipped.len().into();
    json["images_per_s"] = images_per_s.into();
    json["ms_per_face"] = ms_per_face.into();
    json["batch"] = batch.into();
    Ok(Some(json))
}

/// `--predictions`: one row per image, `path,true_class,predicted,<label>...` (probabilities
/// with 6 decimals; empty for an unknown face).
fn write_predictions(path: &Path, confusion: &Confusion, rows: &[Prediction]) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("--predictions {}: {e}", path.display());
    let mut out = csv::Writer::from_path(path).map_err(|e| fail(&e))?;
    let head = ["path", "true_class", "predicted"].into_iter().map(String::from).chain(confusion.labels.iter().cloned());
    out.write_record(head).map_err(|e| fail(&e))?;
    for r in rows {
        let predicted = r.label.map_or("unknown".to_string(), |l| confusion.labels[l].clone());
        let mut record = vec![r.path.to_string_lossy().into_owned(), confusion.classes[r.class].clone(), predicted];
        record.extend((0..confusion.labels.len()).map(|i| r.probabilities.get(i).map_or(String::new(), |p| format!("{p:.6}"))));
        out.write_record(&record).map_err(|e| fail(&e))?;
    }
    out.flush().map_err(|e| fail(&e))
}

/// The table that compares several models: accuracy, macro-F1, worst recall, ms per face.
fn comparison(summaries: &[serde_json::Value]) -> String {
    let mut s =
        format!("\ncomparison:\n{:<40} {:>8}  {:>8}  {:<20} {:>11}\n", "model", "accuracy", "macro_f1", "worst_recall", "ms_per_face");
    for m in summaries {
        let file = Path::new(m["model"].as_str().unwrap_or("")).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let worst =
            format!("{:.4} ({})", m["worst_recall"]["recall"].as_f64().unwrap_or(0.0), m["worst_recall"]["class"].as_str().unwrap_or(""));
        let (acc, f1, ms) =
            (m["accuracy"].as_f64().unwrap_or(0.0), m["macro_f1"].as_f64().unwrap_or(0.0), m["ms_per_face"].as_f64().unwrap_or(0.0));
        s += &format!("{file:<40} {acc:>8.4}  {f1:>8.4}  {worst:<20} {ms:>11.3}\n");
    }
    s
}

/// Accuracy under which a size is too small to report an emotion (the "about 50 %").
const RELIABLE_ACCURACY: f64 = 0.5;

/// `--face-size`: one evaluation per size, one line each, and the curve as the PNG.
fn size_curve(
    args: &Args,
    classifier: &mut EmotionClassifier,
    dataset: &[(String, Vec<PathBuf>)],
    batch: usize,
    empty: Confusion,
) -> Result<(), String> {
    let mut points = Vec::new();
    for &size in &args.face_sizes {
        let mut confusion = empty.clone();
        let how = Presentation { face_size: Some(size), min_emotion_face_size: args.min_emotion_face_size };
        let timing = evaluate(classifier, dataset, batch, how, &mut confusion, None)?;
        let (worst, class) = confusion.worst_recall();
        let unknown: u64 = confusion.unknown.iter().sum();
        emit(&format!(
            "face_size={size} accuracy={:.4} macro_f1={:.4} worst_recall={worst:.4} ({class}) unknown={unknown} images={} in {:.2} s\n",
            confusion.accuracy(),
            confusion.macro_f1(),
            timing.images,
            timing.total.as_secs_f64()
        ))?;
        points.push(SizePoint { size, accuracy: confusion.accuracy(), macro_f1: confusion.macro_f1() });
    }
    let reliable = min_reliable_size(&points, RELIABLE_ACCURACY);
    let text = reliable.map_or("none (every size is under it)".to_string(), |s| s.to_string());
    emit(&format!("min_reliable_size={text} (the smallest size from which on accuracy stays >= {RELIABLE_ACCURACY})\n"))?;
    let name = &classifier.spec.name;
    let png_path = args.png.clone().unwrap_or_else(|| PathBuf::from(format!("{name}-face-size.png")));
    let title = format!("{name}: accuracy by face size, {}", args.dataset.display());
    let png = render_size_curve(&points, &title, RELIABLE_ACCURACY, reliable)?;
    std::fs::write(&png_path, png).map_err(|e| format!("{}: {e}", png_path.display()))?;
    emit(&format!("curve_png={}\n", png_path.display()))
}

fn main() -> ExitCode {
    // A bad command line: clap's message with the usage line, exit status 2; --help: exit 0.
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emotiondetect-eval: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn args(a: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("emotiondetect-eval").chain(a.iter().copied()))
    }

    #[test]
    fn the_command_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_and_options() {
        let a = args(&["data"]).unwrap();
        assert_eq!(a.dataset, PathBuf::from("data"));
        assert_eq!(a.models(), [runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE)]);
        assert!(a.predictions.is_none() && a.json.is_none() && a.check().is_ok());
        assert_eq!((a.batch, a.threads, a.limit, a.min_emotion_face_size), (32, 0, 0, 0));
        assert_eq!(a.device, Device::Cpu);
        assert!(a.spec.is_none() && a.png.is_none() && a.face_sizes.is_empty());
        let a = args(&["--face-size", "8, 12", "data", "--face-size=16", "--device", "cuda:1", "--batch", "0"]).unwrap();
        assert_eq!(a.face_sizes, [8, 12, 16]);
        assert_eq!(a.device, Device::Cuda(1));
        assert_eq!(a.batch, 0, "counts as 1 when run");
        let a = args(&["data", "--model", "a.onnx", "--model", "b.onnx", "--json", "m.json"]).unwrap();
        assert_eq!(a.models(), [PathBuf::from("a.onnx"), PathBuf::from("b.onnx")]);
        assert!(a.check().is_ok(), "--json takes every model");
        for one in ["--png", "--spec", "--predictions"] {
            let a = args(&["data", "--model", "a.onnx", "--model", "b.onnx", one, "x"]).unwrap();
            assert!(a.check().unwrap_err().contains(one), "{one} with two models");
        }
        assert!(args(&["data", "--face-size", "8", "--predictions", "p.csv"]).unwrap().check().is_err());
    }

    #[test]
    fn bad_command_lines_exit_2() {
        for bad in [
            &[][..],
            &["data", "more"],
            &["data", "--bogus"],
            &["data", "--batch", "x"],
            &["data", "--face-size", "0"],
            &["data", "--face-size", "8,x"],
            &["data", "--device", "tpu"],
            &["data", "--engine", "tensorrt"],
            &["data", "--model"],
        ] {
            assert_eq!(args(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let err = args(&["data", "--face-size", "8,5000"]).unwrap_err().to_string();
        assert!(err.contains("`5000` is not a size 1..4096 in pixels"), "{err}");
        assert_eq!(args(&["--help"]).unwrap_err().exit_code(), 0);
    }
}
