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

use clap::Parser;
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
    /// ONNX classifier (default: the installed default model)
    #[arg(long, value_name = "PATH", default_value_os_t = runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE),
          allow_hyphen_values = true)]
    model: PathBuf,
    /// Its model spec [default: <model>.json beside it, else the shipped spec]
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    spec: Option<PathBuf>,
    /// Faces per inference call (0 counts as 1)
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch: usize,
    /// cpu, cuda, cuda:N or auto
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
    // --batch 0 counts as 1.
    let batch = args.batch.max(1).min(classifier.max_batch);
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
        assert_eq!(a.model, runtime::default_model_path(DEFAULT_EMOTION_MODEL_FILE));
        assert_eq!((a.batch, a.threads, a.limit, a.min_emotion_face_size), (32, 0, 0, 0));
        assert_eq!(a.device, Device::Cpu);
        assert!(a.spec.is_none() && a.png.is_none() && a.face_sizes.is_empty());
        let a = args(&["--face-size", "8, 12", "data", "--face-size=16", "--device", "cuda:1", "--batch", "0"]).unwrap();
        assert_eq!(a.face_sizes, [8, 12, 16]);
        assert_eq!(a.device, Device::Cuda(1));
        assert_eq!(a.batch, 0, "counts as 1 when run");
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
            &["data", "--device", "gpu"],
            &["data", "--model"],
        ] {
            assert_eq!(args(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let err = args(&["data", "--face-size", "8,5000"]).unwrap_err().to_string();
        assert!(err.contains("`5000` is not a size 1..4096 in pixels"), "{err}");
        assert_eq!(args(&["--help"]).unwrap_err().exit_code(), 0);
    }
}
