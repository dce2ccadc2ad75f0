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

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use emotiondetect_core::classification::{top1, DEFAULT_EMOTION_MODEL_FILE};
use emotiondetect_core::inference::{face_tensor, Device, EmotionClassifier, FaceCrop, SessionConfig};
use emotiondetect_core::preprocess::{Image, PixelLayout};
use emotiondetect_core::runtime;
use emotiondetect_tools::evaluation::{min_reliable_size, render_size_curve, Confusion, SizePoint};
use indicatif::{ProgressBar, ProgressStyle};

const USAGE: &str = "\
usage: emotiondetect-eval DATASET [--model PATH] [--spec PATH] [--batch N] [--device D]
                          [--threads N] [--png PATH] [--limit N]
                          [--face-size N[,N...]] [--min-emotion-face-size N]

Classifies every image of DATASET/<class>/ (jpg or png) with the emotion model and prints
accuracy, per-class precision/recall/F1, macro-F1, the confusion matrix and the speed.
Class folders are matched to the model's labels by name, with synonyms (happy/happiness,
angry/anger, fear/fearful, ...).

  --model PATH   ONNX classifier (default: the installed default model)
  --spec PATH    its model spec (default: <model>.json beside it, else the shipped spec)
  --batch N      faces per inference call (default 32)
  --device D     cpu, cuda, cuda:N or auto (default cpu)
  --threads N    ONNX Runtime intra-op threads (default 0 = one per core)
  --png PATH     where to write the confusion matrix (default <model name>-confusion.png)
  --limit N      at most N images per class (default: all)
  --face-size N[,N...]
                 shrink each image to N x N pixels first (bilinear, area-averaging), then
                 run the element's crop-and-resize path; one line per size and, as the
                 PNG, accuracy and macro-F1 against the size (repeatable)
  --min-emotion-face-size N
                 as the element's property: images smaller than N pixels get no emotion
                 (unknown, counted as wrong) (default 0: classify all)";

struct Args {
    dataset: PathBuf,
    model: PathBuf,
    spec: Option<PathBuf>,
    batch: usize,
    device: Device,
    threads: usize,
    png: Option<PathBuf>,
    limit: usize,
    /// Face sizes to shrink the images to, pixels; empty: as they are.
    face_sizes: Vec<u32>,
    min_emotion_face_size: u32,
}

/// Parses the command line as the OS gives it: paths need not be UTF-8, options and numbers are.
fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args_os().skip(1);
    let mut args = Args {
        dataset: PathBuf::new(),
        model: runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE),
        spec: None,
        batch: 32,
        device: Device::Cpu,
        threads: 0,
        png: None,
        limit: 0,
        face_sizes: Vec::new(),
        min_emotion_face_size: 0,
    };
    let number = |v: Option<std::ffi::OsString>, what: &str| -> Result<usize, String> {
        v.as_deref().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).ok_or(format!("{what} needs a whole number"))
    };
    while let Some(a) = it.next() {
        match a.to_str().unwrap_or_default() {
            "-h" | "--help" => return Err(String::new()),
            "--model" => args.model = it.next().ok_or("--model needs a path")?.into(),
            "--spec" => args.spec = Some(it.next().ok_or("--spec needs a path")?.into()),
            "--png" => args.png = Some(it.next().ok_or("--png needs a path")?.into()),
            "--batch" => args.batch = number(it.next(), "--batch")?.max(1),
            "--threads" => args.threads = number(it.next(), "--threads")?,
            "--limit" => args.limit = number(it.next(), "--limit")?,
            "--face-size" => args.face_sizes.extend(sizes(it.next().and_then(|v| v.into_string().ok()))?),
            "--min-emotion-face-size" => args.min_emotion_face_size = number(it.next(), "--min-emotion-face-size")? as u32,
            "--device" => {
                let d = it.next().and_then(|d| d.into_string().ok()).ok_or("--device needs a value")?;
                args.device = Device::parse(&d)?
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ if args.dataset.as_os_str().is_empty() => args.dataset = a.into(),
            _ => return Err(format!("unexpected argument {}", a.to_string_lossy())),
        }
    }
    if args.dataset.as_os_str().is_empty() {
        return Err("DATASET is missing".into());
    }
    Ok(args)
}

/// The sizes of `--face-size 8,12,16`: whole numbers of pixels, 1..=4096.
fn sizes(v: Option<String>) -> Result<Vec<u32>, String> {
    let list = v.ok_or("--face-size needs sizes in pixels, e.g. 8,12,16")?;
    list.split(',')
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=4096).contains(n))
                .ok_or(format!("--face-size: `{s}` is not a size 1..4096 in pixels"))
        })
        .collect()
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

/// Classifies every image, filling `confusion`.
fn evaluate(
    classifier: &mut EmotionClassifier,
    dataset: &[(String, Vec<PathBuf>)],
    batch: usize,
    how: Presentation,
    confusion: &mut Confusion,
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
        let mut rows = Vec::with_capacity(chunk.len());
        for (row, path) in chunk {
            match decode(path, how.face_size) {
                Ok(image) if image.width.min(image.height) < how.min_emotion_face_size as usize => confusion.add_unknown(*row),
                Ok(image) => {
                    let whole = FaceCrop { region: (0.0, 0.0, image.width as f32, image.height as f32), landmarks: None };
                    face_tensor(&classifier.spec, &image, &whole, &mut tensor[rows.len() * per..(rows.len() + 1) * per]);
                    rows.push(*row);
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
        for (class, e) in rows.iter().zip(&results) {
            confusion.add(*class, top1(e).map_or(0, |(label, _)| label));
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
    let dataset = list_dataset(&args.dataset, args.limit)?;
    let env = runtime::environment(std::sync::Arc::new(|_, _| {}))?;
    let config = SessionConfig { device: args.device, threads: args.threads, spinning: false };
    let (mut classifier, spec_source) = EmotionClassifier::open(env, &args.model, args.spec.as_deref(), &config)?;
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
        "model={} spec=\"{spec_source}\" device={:?} dataset={} images={}\n",
        args.model.display(),
        classifier.device,
        args.dataset.display(),
        dataset.iter().map(|(_, f)| f.len()).sum::<usize>()
    ))?;
    let batch = args.batch.min(classifier.max_batch);
    if !args.face_sizes.is_empty() {
        return size_curve(&args, &mut classifier, &dataset, batch, confusion);
    }
    let how = Presentation { face_size: None, min_emotion_face_size: args.min_emotion_face_size };
    let timing = evaluate(&mut classifier, &dataset, batch, how, &mut confusion)?;
    let secs = timing.total.as_secs_f64().max(1e-9);
    emit(&format!(
        "{}\nskipped={}{}\nimages_per_s={:.1}\nms_per_face={:.3} (inference alone, batch {batch}; {} images in {:.2} s in all)\n",
        confusion.report(),
        timing.skipped.len(),
        if timing.skipped.is_empty() {
            String::new()
        } else {
            " (unreadable images, left out of the scores; listed on stderr)".to_string()
        },
        timing.images as f64 / secs,
        timing.inference.as_secs_f64() * 1e3 / timing.images.max(1) as f64,
        timing.images,
        secs
    ))?;
    let name = &classifier.spec.name;
    let png_path = args.png.unwrap_or_else(|| PathBuf::from(format!("{name}-confusion.png")));
    let title = format!("{name} on {}", args.dataset.display());
    let png = confusion.render_png(&title)?;
    std::fs::write(&png_path, png).map_err(|e| format!("{}: {e}", png_path.display()))?;
    emit(&format!("confusion_png={}\n", png_path.display()))?;
    Ok(())
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
        let timing = evaluate(classifier, dataset, batch, how, &mut confusion)?;
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
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("emotiondetect-eval: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emotiondetect-eval: {e}");
            ExitCode::FAILURE
        }
    }
}
