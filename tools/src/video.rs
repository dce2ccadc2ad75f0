// SPDX-License-Identifier: MIT
//! The analysis of `emotiondetect-video` as a library: [`run`] analyses one video (or still
//! image) file into its report files, reporting its progress through [`Progress`], so that the
//! command line tool and the web app (`emotiondetect-web`) produce the same report.
//!
//! Pipeline: `filesrc ! decodebin ! videorate ! videoconvert ! emotiondetect PROPS ! videoconvert
//! ! videocrop ! video/x-raw,format=I420 ! x264enc ! h264parse ! mp4mux ! filesink` (videocrop
//! drops an odd last column or row, which x264 refuses); the first video stream is
//! analysed, the first audio stream goes to `queue ! [audioconvert ! audioresample ! AAC
//! encoder] ! mp4mux`, every other stream (subtitles, more video and audio) to a fakesink. For an
//! image: `filesrc ! decodebin ! videoconvert ! emotiondetect ! videoconvert ! pngenc ! filesink`. Everything is
//! written to hidden `.<file>.<pid>.partial` names in DIR and renamed when all of it is complete;
//! on any error the partial files are removed, and those of a killed run (SIGKILL) are removed by
//! the next run for the same name ([`crate::outputs`]). A first stop request (see [`run`]) sends
//! EOS: the outputs then cover the part analysed so far. When the pipeline then makes no progress
//! towards EOS for [`Args::grace`], it is stopped and the reports built from the JSON lines
//! written so far are kept (the video is not: it cannot be finished); a second stop request stops
//! at once and removes everything. File names need not be UTF-8.
//! The element is registered from this crate, so no installed plugin is needed (ONNX Runtime and
//! the models come from ./setup.sh as for the plugin).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use std::collections::HashMap;
use std::io::Write as _;

use crate::html;
use crate::input;
use crate::outputs::Outputs;
use crate::report;
use crate::thumbnails::Thumbnails;
use emotiondetect_core::classification::ClassifierSpec;
use emotiondetect_core::events::PersonLimits;
use gst::glib;
use gst::prelude::*;

/// The tool's name, in messages.
pub const TOOL: &str = "emotiondetect-video";

/// People on screen for less than this are listed in the CSV but not plotted.
const MIN_PLOT_SECONDS: f64 = 1.0;
/// The progress bar and the Ctrl-C checks run this often.
const TICK: Duration = Duration::from_millis(200);
/// `--min-track-seconds` and `--min-track-confidence` by default: the core's
/// [`PersonLimits::DEFAULT`], shared with `emotionpublish mode=events`.
pub const MIN_TRACK_SECONDS: f64 = PersonLimits::DEFAULT.min_seconds;
pub const MIN_TRACK_CONFIDENCE: f64 = PersonLimits::DEFAULT.min_confidence;
/// After Ctrl-C, how long the pipeline may go without progress towards EOS (default).
pub const EOS_GRACE: Duration = Duration::from_secs(10);

/// A failure: the message to print and the exit status.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, naming the file and the reason.
    pub message: String,
    /// The exit status: 1 an error, 2 a bad argument or property, 130 interrupted.
    pub code: u8,
}

impl Failure {
    /// An error (exit status 1).
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: 1 }
    }
    /// A bad command line: exit status 2, followed by `usage_line`.
    pub fn usage(message: impl Into<String>, usage_line: &str) -> Failure {
        Failure { message: format!("{}\n{usage_line} (--help for more)", message.into()), code: 2 }
    }
    /// A bad PROP=VALUE: exit status 2.
    fn bad_property(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: 2 }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::new(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::new(message)
    }
}

/// What to analyse and how: the parsed command line of `emotiondetect-video`.
#[derive(Debug, PartialEq)]
pub struct Args {
    /// The video (or JPEG/PNG image) file.
    pub input: PathBuf,
    /// Where the outputs go, named after `input`'s file stem (created if needed).
    pub out_dir: PathBuf,
    /// emotiondetect properties as `PROP`, `VALUE` strings (as gst-launch parses them).
    pub props: Vec<(String, String)>,
    /// `--audio`: what the annotated MP4 gets of the input's first audio stream.
    pub audio: Audio,
    /// `--min-track-seconds`: tracks seen for less (one-off detections) are not counted as
    /// people: left out of the people CSV and JSON, the timeline and the report.
    pub min_track_seconds: f64,
    /// `--min-track-confidence`: tracks with classified faces whose mean detector confidence
    /// (0..1) is lower are not counted as people either ([`PersonLimits`]).
    pub min_track_confidence: f64,
    /// `--plot-people`: people plotted in the timeline (the rest summed up in one line).
    pub plot_people: usize,
    /// `--grace`: after a stop request, how long without progress before the video is given up.
    pub grace: Duration,
    /// `--max-pixels`: the largest picture or video frame (width x height, pixels) analysed; a
    /// larger declared size is refused before decoding. `None`: [`input::DEFAULT_MAX_IMAGE_PIXELS`]
    /// for a picture, [`input::DEFAULT_MAX_VIDEO_PIXELS`] for a video.
    pub max_pixels: Option<u64>,
}

/// `--audio`: what happens to the input's first audio stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Audio {
    /// Playable in a browser: AAC and MP3 are copied, anything else (AC-3, Opus, Vorbis, PCM...)
    /// is decoded and encoded to AAC.
    #[default]
    Aac,
    /// Copied whenever MP4 takes it as it is (AC-3, Opus, ALAC too), else encoded to AAC.
    Copy,
    /// No audio track.
    None,
}

/// Where [`run`] reports how far it got (the tool's progress bar, the web app's job status).
/// Called from the thread that runs [`run`], every [`TICK`] at most.
pub trait Progress {
    /// The video's duration in ns, once the demuxer declares it.
    fn set_length(&self, duration_ns: u64);
    /// The position of the last analysed frame (stream time, ns) and a one-line status
    /// (position, frames, frame rate).
    fn update(&self, position_ns: u64, message: &str);
    /// A warning or notice for the user (one line, without the tool's name).
    fn note(&self, text: &str);
    /// The analysis is over (successfully or not); the report files are written next.
    fn finish(&self);
}

/// A successful [`run`].
#[derive(Debug)]
pub struct Done {
    /// 0, or 130 when a stop request ended the analysis early (the outputs cover that part).
    pub code: u8,
    /// The one-line summary the tool prints: frames, people, the files written.
    pub summary: String,
    /// The files written, in the order of the summary.
    pub files: Vec<PathBuf>,
}

/// What INPUT is: a video (anything GStreamer decodes that is not a still image), or a JPEG or
/// PNG still image.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Video,
    Image,
}

/// The outputs of INPUT's kind, as suffixes of `<name>`, in the order the summary lists them.
fn output_suffixes(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Video => &["-emotions.mp4", ".jsonl", "-people.csv", "-people.json", "-frames.csv", "-timeline.png", "-report.html"],
        Kind::Image => &["-annotated.png", "-probabilities.png", ".jsonl", "-frames.csv"],
    }
}

/// Every output suffix of either kind, whose stale partial files are cleaned (an earlier run may
/// have been of the other kind); a suffix in both kinds is listed twice, which is harmless.
fn all_suffixes() -> Vec<&'static str> {
    [output_suffixes(Kind::Video), output_suffixes(Kind::Image)].concat()
}

/// Whether INPUT is a still image: GStreamer's typefinders on its first 64 KiB say `image/jpeg`
/// or `image/png`; when they recognise nothing, the extension (.jpg, .jpeg, .png) decides.
/// Errors: the file cannot be read (OS reason).
fn input_kind(path: &Path) -> Result<Kind, Failure> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let image = |name: &str| matches!(name, "image/jpeg" | "image/png");
    Ok(match gst_base::type_find_helper_for_data(None::<&gst::Object>, &head) {
        Ok((caps, _)) => {
            if caps.structure(0).is_some_and(|st| image(st.name())) {
                Kind::Image
            } else {
                Kind::Video
            }
        }
        Err(_) => {
            let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            if matches!(ext.as_str(), "jpg" | "jpeg" | "png") {
                Kind::Image
            } else {
                Kind::Video
            }
        }
    })
}

/// Checks a RIFF file (AVI, WAV, ...) against the size its header declares. GStreamer plays a
/// truncated AVI without a word (avidemux rebuilds the index from what is there), so this is
/// the only way to notice one. Returns (declared, actual) sizes when the file is shorter.
fn riff_truncation(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    use std::io::Read;
    let mut header = [0u8; 12];
    let mut file = std::fs::File::open(path)?;
    let actual = file.metadata()?.len();
    if file.read(&mut header)? < 12 || &header[0..4] != b"RIFF" {
        return Ok(None);
    }
    let declared = u32::from_le_bytes(header[4..8].try_into().unwrap()) as u64 + 8;
    // 0 and 0xffffffff are written by recorders that never finalise the header: no claim.
    Ok((declared > 8 && declared != u32::MAX as u64 + 8 && declared > actual).then_some((declared, actual)))
}

/// Why some faces have no emotion, in a sentence for the summary and the timeline.
struct Unclassified {
    text: String,
    /// No face at all was classified (the timeline then has nothing else to show).
    none_classified: bool,
}

/// The sentence when faces were seen but some (or all) were too small to classify; None when
/// every face was classified or none was seen.
fn unclassified_sentence(frames: &[report::FrameRecord], props: &[(String, String)]) -> Option<Unclassified> {
    let (faces, unknown) = report::face_counts(frames);
    if unknown == 0 {
        return None;
    }
    let min = props
        .iter()
        .rev()
        .find(|(k, _)| k == "min-emotion-face-size")
        .map_or(emotiondetect_core::analyser::DEFAULT_MIN_EMOTION_FACE_SIZE.to_string(), |(_, v)| v.clone());
    let classified = faces - unknown;
    let text = format!(
        "{classified} of {faces} faces were large enough to classify (min-emotion-face-size={min} px); set min-emotion-face-size=0 to \
         classify them anyway"
    );
    Some(Unclassified { text, none_classified: classified == 0 })
}

/// The tracks not counted as people, for the summary: ", 2 brief tracks (< 0.5 s) and 1
/// uncertain track (mean detector confidence < 0.8) not counted", or nothing.
fn left_out_note(brief: usize, uncertain: usize, args: &Args) -> String {
    let tracks = |n: usize| if n == 1 { "track" } else { "tracks" };
    let mut parts = Vec::new();
    if brief > 0 {
        parts.push(format!("{brief} brief {} (< {} s)", tracks(brief), args.min_track_seconds));
    }
    if uncertain > 0 {
        parts.push(format!("{uncertain} uncertain {} (mean detector confidence < {})", tracks(uncertain), args.min_track_confidence));
    }
    match parts.is_empty() {
        true => String::new(),
        false => format!(", {} not counted", parts.join(" and ")),
    }
}

/// Makes the element and sets `props` on it, refusing unknown or read-only properties and
/// values that do not parse or are out of range, with the list of the element's properties.
fn configured_element(props: &[(String, String)]) -> Result<gst::Element, Failure> {
    let element =
        gst::ElementFactory::make("emotiondetect").build().map_err(|e| format!("cannot create the emotiondetect element: {e}"))?;
    let own: Vec<glib::ParamSpec> = element.list_properties().iter().filter(|p| p.owner_type() == element.type_()).cloned().collect();
    // The properties a user may set: the writable ones (the JSON lines are the tool's own).
    let settable: Vec<&str> = own.iter().filter(|p| p.flags().contains(glib::ParamFlags::WRITABLE)).map(|p| p.name()).collect();
    let names = || settable.join(", ");
    for (key, value) in props {
        // Users of older releases pass it; the JSON lines now come from emotionpublish.
        if key == "metadata-file" {
            return Err(Failure::bad_property(format!(
                "metadata-file: the JSON lines are set by {TOOL}, which always writes DIR/<name>.jsonl (through emotionpublish)"
            )));
        }
        let pspec = own.iter().find(|p| p.name() == key).ok_or_else(|| {
            let hint = nearest_name(key, &settable).map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
            Failure::bad_property(format!("emotiondetect has no property `{key}`{hint}; the properties you can set are: {}", names()))
        })?;
        if !pspec.flags().contains(glib::ParamFlags::WRITABLE) {
            return Err(Failure::bad_property(format!("emotiondetect's property `{key}` is read-only")));
        }
        let what = pspec.blurb().unwrap_or_default();
        let parsed = glib::Value::deserialize_with_pspec(value, pspec)
            .map_err(|_| Failure::bad_property(format!("`{key}={value}`: not a valid {}; {key}: {what}", pspec.value_type().name())))?;
        check_range(pspec, &parsed)
            .map_err(|range| Failure::bad_property(format!("`{key}={value}`: out of range {range}; {key}: {what}")))?;
        element.set_property_from_value(key, &parsed);
    }
    Ok(element)
}

/// The name in `names` nearest to `key` by edit distance (Levenshtein), if it is close enough to
/// be a typo: at most 1 edit for names up to 4 characters, else at most a third of the length.
fn nearest_name<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(1);
    names.iter().map(|n| (strsim::levenshtein(key, n), *n)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, n)| n)
}

/// The classifier's labels in its output order, from the spec the element used
/// (`emotion-model-proc`, else the model's own or shipped spec), for a file without faces
/// (the JSON lines of faces name them).
fn classifier_labels(element: &gst::Element) -> Result<Vec<String>, Failure> {
    let model: String = element.property("emotion-model");
    let proc: Option<String> = element.property("emotion-model-proc");
    let (spec, _) = ClassifierSpec::resolve(Path::new(&model), proc.as_deref().map(Path::new))
        .map_err(|e| format!("cannot read the classifier's labels: {e}"))?;
    Ok(spec.labels)
}

/// Err(the allowed range) when a numeric value is outside its ParamSpec's range.
fn check_range(pspec: &glib::ParamSpec, value: &glib::Value) -> Result<(), String> {
    fn within<T: PartialOrd + std::fmt::Display>(v: T, min: T, max: T) -> Result<(), String> {
        if v < min || v > max {
            Err(format!("{min}..{max}"))
        } else {
            Ok(())
        }
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
        let v = value.get::<f64>().unwrap_or(f64::NAN);
        return if v.is_nan() { Err(format!("{}..{}", p.minimum(), p.maximum())) } else { within(v, p.minimum(), p.maximum()) };
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
        return within(value.get::<u32>().unwrap_or(0), p.minimum(), p.maximum());
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt>() {
        return within(value.get::<i32>().unwrap_or(0), p.minimum(), p.maximum());
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt64>() {
        return within(value.get::<u64>().unwrap_or(0), p.minimum(), p.maximum());
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt64>() {
        return within(value.get::<i64>().unwrap_or(0), p.minimum(), p.maximum());
    }
    if let Some(p) = pspec.downcast_ref::<glib::ParamSpecFloat>() {
        return within(value.get::<f32>().unwrap_or(f32::NAN), p.minimum(), p.maximum());
    }
    Ok(())
}

fn make(factory: &str) -> Result<gst::Element, Failure> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        let package = match factory {
            "x264enc" => "gstreamer1.0-plugins-ugly",
            "h264parse" => "gstreamer1.0-plugins-bad",
            "mp4mux" | "pngenc" => "gstreamer1.0-plugins-good",
            _ => "gstreamer1.0-plugins-base",
        };
        Failure::new(format!("the GStreamer element {factory} is not installed (apt package {package}; ./setup.sh installs it)"))
    })
}

/// What the streaming threads tell the main loop.
#[derive(Default)]
struct Shared {
    /// Frames that went through emotiondetect.
    frames: AtomicU64,
    /// End (stream time + duration, ns) of the last frame through emotiondetect.
    video_end: AtomicU64,
    /// The latest end (stream time, ns) reached by any decoded stream, audio included.
    any_end: AtomicU64,
    video_linked: AtomicBool,
    /// The caps names of the decoded streams, e.g. `audio/x-raw`.
    streams: Mutex<Vec<String>>,
    /// The sink pads of the fakesinks taking the other streams, and of the audio branch (EOS
    /// goes there on Ctrl-C).
    other_sinks: Mutex<Vec<gst::Pad>>,
    /// Whether an audio stream goes into the MP4.
    audio_linked: AtomicBool,
    /// What happened to the input's audio, for the summary (e.g. `audio copied (audio/mpeg)`).
    audio: Mutex<Option<String>>,
    /// The video frame size limit (pixels), checked on the demuxer's caps before decoding.
    max_pixels: AtomicU64,
}

fn clock(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
}

/// AAC encoders, preferred first, for audio that cannot go into the MP4 as it is.
const AAC_ENCODERS: [&str; 2] = ["avenc_aac", "voaacenc"];

/// Whether decodebin should stop at `caps` and hand the stream over still compressed: parsed
/// audio that `mp4mux` takes as it is (AAC, MP3, Opus, AC-3, ALAC: `audio_caps`, its pad
/// template) and, for [`Audio::Aac`], that browsers play in MP4 (AAC, MP3).
fn audio_fits_mp4(caps: &gst::CapsRef, audio_caps: &gst::Caps, mode: Audio) -> bool {
    let Some(st) = caps.structure(0) else { return false };
    let parsed = st.get::<bool>("parsed").unwrap_or(false) || st.get::<bool>("framed").unwrap_or(false);
    let takes = st.name().starts_with("audio/") && st.name() != "audio/x-raw" && parsed && audio_caps.can_intersect(caps);
    takes && (mode == Audio::Copy || browser_plays(st))
}

/// AAC (MPEG-2/4) or MP3 (MPEG-1 layer 3): what every browser plays from an MP4.
fn browser_plays(st: &gst::StructureRef) -> bool {
    let version = st.get::<i32>("mpegversion").unwrap_or(0);
    st.name() == "audio/mpeg" && (version == 2 || version == 4 || (version == 1 && st.get::<i32>("layer").unwrap_or(0) == 3))
}

/// Links decodebin's audio pad `pad` (caps name `name`) into `mux`: as it is when compressed
/// (decodebin stopped there: [`audio_fits_mp4`]), else encoded to AAC. Returns what was done, for
/// the summary, and the branch's first sink pad (for EOS on Ctrl-C).
fn link_audio(pipeline: &gst::Pipeline, pad: &gst::Pad, name: &str, mux: &gst::Element) -> Result<(String, gst::Pad), String> {
    let queue = gst::ElementFactory::make("queue")
        // x264enc holds back about a second of video: audio waits here, unbounded in time.
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build()
        .map_err(|e| e.to_string())?;
    let mut chain = vec![queue];
    let what = if name == "audio/x-raw" {
        let encoder = AAC_ENCODERS.iter().find_map(|f| gst::ElementFactory::make(f).build().ok()).ok_or_else(|| {
            format!("the audio ({name}) needs an AAC encoder for MP4 and none is installed ({}: apt package gstreamer1.0-libav or gstreamer1.0-plugins-bad)", AAC_ENCODERS.join(" or "))
        })?;
        let what = format!("audio encoded to AAC ({})", encoder.factory().map(|f| f.name().to_string()).unwrap_or_default());
        for f in ["audioconvert", "audioresample"] {
            chain.push(gst::ElementFactory::make(f).build().map_err(|e| e.to_string())?);
        }
        chain.push(encoder);
        what
    } else {
        format!("audio copied ({name})")
    };
    pipeline.add_many(&chain).map_err(|e| e.to_string())?;
    gst::Element::link_many(&chain).map_err(|e| e.to_string())?;
    let last = chain.last().unwrap_or(&chain[0]);
    let mux_pad = mux.request_pad_simple("audio_%u").ok_or("mp4mux gives no audio pad")?;
    last.static_pad("src").ok_or("no src pad")?.link(&mux_pad).map_err(|e| format!("{e:?}"))?;
    for e in &chain {
        e.sync_state_with_parent().map_err(|e| e.to_string())?;
    }
    let sink = chain[0].static_pad("sink").ok_or("no sink pad")?;
    pad.link(&sink).map_err(|e| format!("{e:?}"))?;
    Ok((what, sink))
}

/// The pipeline, built in code so that only the first video stream is analysed, and the sink pad
/// that stream is linked to. A video is encoded to H.264 in MP4 at `out_partial`, with the
/// first audio stream as `audio` says; a still image is written as PNG there.
fn build_pipeline(
    input: &Path,
    element: &gst::Element,
    publish: &gst::Element,
    kind: Kind,
    out_partial: &Path,
    audio: Audio,
    shared: &Arc<Shared>,
) -> Result<(gst::Pipeline, gst::Pad), Failure> {
    let pipeline = gst::Pipeline::new();
    let src = make("filesrc")?;
    src.set_property("location", input.to_path_buf());
    let decodebin = make("decodebin")?;
    let convert_in = make("videoconvert")?;
    let convert_out = make("videoconvert")?;
    let sink = make("filesink")?;
    sink.set_property("location", out_partial.to_path_buf());
    // x264 needs an even width and height in 4:2:0: an odd last column or row is cropped.
    let crop = make("videocrop")?;
    let mut mux = None;
    let chain: Vec<gst::Element> = match kind {
        Kind::Image => vec![convert_in, element.clone(), publish.clone(), convert_out, make("pngenc")?, sink],
        Kind::Video => {
            let rate = make("videorate")?;
            let i420 = make("capsfilter")?;
            i420.set_property("caps", gst::Caps::builder("video/x-raw").field("format", "I420").build());
            let enc = make("x264enc")?;
            enc.set_property_from_str("speed-preset", "veryfast");
            let parse = make("h264parse")?;
            let m = make("mp4mux")?;
            mux = Some(m.clone());
            vec![rate, convert_in, element.clone(), publish.clone(), convert_out, crop.clone(), i420, enc, parse, m, sink]
        }
    };
    pipeline.add_many([&src, &decodebin]).map_err(|e| e.to_string())?;
    pipeline.add_many(&chain).map_err(|e| e.to_string())?;
    src.link(&decodebin).map_err(|e| e.to_string())?;
    gst::Element::link_many(&chain).map_err(|e| format!("cannot link the pipeline: {e}"))?;

    // Count the analysed frames and note how far the video got.
    let s = shared.clone();
    element.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(buf) = info.buffer() {
            s.frames.fetch_add(1, Ordering::Relaxed);
            if let Some(end) = stream_end(pad, buf) {
                s.video_end.store(end, Ordering::Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });

    // Audio that fits MP4 as it is leaves decodebin compressed (no decoding, no re-encoding).
    // A frame size over --max-pixels stops decodebin before any decoder (and posts the error).
    let mux = if audio == Audio::None { None } else { mux };
    let audio_caps = mux.as_ref().and_then(|m| m.pad_template("audio_%u")).map(|t| t.caps().clone());
    let s = shared.clone();
    decodebin.connect("autoplug-continue", false, move |values| {
        let Some(caps) = values.get(2).and_then(|v| v.get::<gst::Caps>().ok()) else { return Some(true.to_value()) };
        if let Err(e) = frame_size_ok(&caps, s.max_pixels.load(Ordering::Relaxed)) {
            if let Ok(bin) = values[0].get::<gst::Element>() {
                post_error(&bin, gst::StreamError::Format, &e.to_string());
            }
            return Some(false.to_value());
        }
        let copy_audio = audio_caps.as_ref().is_some_and(|a| audio_fits_mp4(&caps, a, audio));
        Some((!copy_audio).to_value())
    });

    // The first raw video stream goes to the analysis, the first audio stream into the MP4;
    // everything else to a fakesink.
    let head_sink = chain[0].static_pad("sink").unwrap();
    let video_sink = head_sink.clone();
    let pipeline_weak = pipeline.downgrade();
    let s = shared.clone();
    decodebin.connect_pad_added(move |decodebin, pad| {
        let Some(pipeline) = pipeline_weak.upgrade() else { return };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
        s.streams.lock().unwrap().push(name.clone());
        let s2 = s.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(end) = info.buffer().and_then(|b| stream_end(pad, b)) {
                s2.any_end.fetch_max(end, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
        if name == "video/x-raw" && !s.video_linked.load(Ordering::SeqCst) {
            // A decoder that gave no size upstream: checked before the first frame goes on.
            if let Err(e) = frame_size_ok(&caps, s.max_pixels.load(Ordering::Relaxed)) {
                post_error(decodebin, gst::StreamError::Format, &e.to_string());
                return;
            }
            s.video_linked.store(true, Ordering::SeqCst);
            if let Some(st) = caps.structure(0) {
                crop.set_property("right", st.get::<i32>("width").unwrap_or(0) % 2);
                crop.set_property("bottom", st.get::<i32>("height").unwrap_or(0) % 2);
            }
            if let Err(e) = pad.link(&head_sink) {
                post_error(decodebin, gst::StreamError::Failed, &format!("cannot link the decoded video ({caps}) to the analysis: {e:?}"));
            }
            return;
        }
        if let Some(mux) = mux.as_ref().filter(|_| name.starts_with("audio/") && !s.audio_linked.swap(true, Ordering::SeqCst)) {
            match link_audio(&pipeline, pad, &name, mux) {
                Ok((what, sink)) => {
                    *s.audio.lock().unwrap() = Some(what);
                    s.other_sinks.lock().unwrap().push(sink);
                    return;
                }
                Err(e) => *s.audio.lock().unwrap() = Some(format!("audio dropped: {e}")),
            }
        }
        let Ok(fakesink) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build() else { return };
        if pipeline.add(&fakesink).is_ok() {
            let _ = fakesink.sync_state_with_parent();
            let sink_pad = fakesink.static_pad("sink").unwrap();
            let _ = pad.link(&sink_pad);
            s.other_sinks.lock().unwrap().push(sink_pad);
        }
    });
    let s = shared.clone();
    decodebin.connect_no_more_pads(move |decodebin| {
        if !s.video_linked.load(Ordering::SeqCst) {
            let streams = s.streams.lock().unwrap().clone();
            let found = if streams.is_empty() { "none".to_string() } else { streams.join(", ") };
            post_error(
                decodebin,
                gst::StreamError::WrongType,
                &format!("no video stream that GStreamer can decode (decoded streams: {found})"),
            );
        }
    });
    Ok((pipeline, video_sink))
}

/// `caps`' width x height (when it has them) against `max_pixels`.
fn frame_size_ok(caps: &gst::CapsRef, max_pixels: u64) -> Result<(), input::InputError> {
    let Some(st) = caps.structure(0) else { return Ok(()) };
    match (st.get::<i32>("width"), st.get::<i32>("height")) {
        (Ok(w), Ok(h)) => input::check_size(w.max(0) as u64, h.max(0) as u64, max_pixels),
        _ => Ok(()),
    }
}

/// Reads a picture input and checks it before decoding ([`input::check_picture`]).
///
/// Errors: the file cannot be read (OS reason), its size is over `max_pixels`, or it is cut.
fn check_picture_file(path: &Path, max_pixels: u64) -> Result<(), Failure> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    input::check_picture(&data, max_pixels).map_err(|e| Failure::new(format!("error while checking {}: {e}", path.display())))?;
    Ok(())
}

/// The stream time (ns) at which `buf` ends, from the pad's segment.
fn stream_end(pad: &gst::Pad, buf: &gst::BufferRef) -> Option<u64> {
    let pts = buf.pts()?;
    let seg = pad.sticky_event::<gst::event::Segment>(0)?;
    let seg = seg.segment().downcast_ref::<gst::ClockTime>()?.clone();
    let t = seg.to_stream_time(pts)?;
    Some((t + buf.duration().unwrap_or(gst::ClockTime::ZERO)).nseconds())
}

fn post_error(element: &gst::Element, kind: gst::StreamError, text: &str) {
    let _ = element.post_message(gst::message::Error::builder(kind, text).src(element).build());
}

/// The text of an error message: what GStreamer said, which element, and its debug details.
pub fn gst_error_text(msg: &gst::MessageRef, err: &gst::message::Error) -> String {
    let src = msg.src().map(|s| s.name().to_string()).unwrap_or_else(|| "?".into());
    let mut text = format!("{} (from {src})", err.error().message().trim_end_matches('.'));
    // The debug string is "file.c(line): function (): /element/path:\ndetails"; keep the details.
    if let Some(debug) = err.debug() {
        let details: Vec<&str> = debug.lines().skip(1).map(str::trim).filter(|l| !l.is_empty()).collect();
        if !details.is_empty() {
            text.push_str(&format!("\n  GStreamer details: {}", details.join(" ")));
        }
    }
    // Souphttpsrc and others quote the URI, credentials and all.
    emotiondetect_core::redact::text(&text)
}

/// The duration (ns) of the analysed video stream as its demuxer declares it (asked on the
/// video branch, not of the longest stream), else the pipeline's.
fn video_duration(pipeline: &gst::Pipeline, video_sink: &gst::Pad) -> Option<u64> {
    video_sink
        .peer_query_duration::<gst::ClockTime>()
        .or_else(|| pipeline.query_duration::<gst::ClockTime>())
        .map(|d| d.nseconds())
        .filter(|d| *d > 0)
}

/// How the run ended.
enum Ended {
    Eos,
    /// Ctrl-C, EOS sent and received: the outputs cover the part analysed.
    Interrupted,
    /// Ctrl-C, EOS sent, then no progress for the grace period: the pipeline was stopped; the
    /// JSON lines written so far are there, the video is not finished.
    GaveUp,
}

/// Runs the pipeline to EOS, reporting to `bar`; errors carry what was happening.
fn run_pipeline(
    pipeline: &gst::Pipeline,
    video_sink: &gst::Pad,
    input: &Path,
    shared: &Shared,
    signals: &AtomicUsize,
    bar: &dyn Progress,
    (grace, picture): (Duration, &Path),
) -> Result<(Ended, Option<u64>), Failure> {
    let bus = pipeline.bus().unwrap();
    let input_name = input.display();
    let mut duration: Option<u64> = None;
    let mut missing: Vec<String> = Vec::new();
    let mut warnings = 0usize;
    let mut eos_sent: Option<Instant> = None;
    let mut first_frame: Option<(Instant, u64)> = None;
    let mut last_tick = Instant::now();
    // After EOS is sent: the last time frames or the video file moved on, and how far.
    let mut progress = (Instant::now(), 0u64, 0u64);

    let phase = |shared: &Shared, duration: Option<u64>| -> String {
        if shared.frames.load(Ordering::Relaxed) == 0 {
            format!("opening {input_name} (detecting the format, starting the decoders, loading the models)")
        } else {
            let at = clock(shared.video_end.load(Ordering::Relaxed));
            match duration {
                Some(d) => format!("analysing {input_name} at {at} of {}", clock(d)),
                None => format!("analysing {input_name} at {at}"),
            }
        }
    };
    let fail = |text: String, shared: &Shared, duration: Option<u64>, missing: &[String]| -> Failure {
        let _ = pipeline.set_state(gst::State::Null);
        let mut m = format!("error while {}: {text}", phase(shared, duration));
        if !missing.is_empty() {
            m.push_str(&format!("\n  missing GStreamer plugins: {}", missing.join("; ")));
        }
        Failure::new(m)
    };

    if pipeline.set_state(gst::State::Playing).is_err() {
        let text = match bus.timed_pop_filtered(gst::ClockTime::from_seconds(2), &[gst::MessageType::Error]) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(e) => gst_error_text(&msg, e),
                _ => unreachable!(),
            },
            None => "the pipeline refused to start".into(),
        };
        return Err(fail(text, shared, None, &missing));
    }
    loop {
        let msg = bus.timed_pop(gst::ClockTime::from_mseconds(TICK.as_millis() as u64));
        if last_tick.elapsed() >= TICK || msg.is_none() {
            last_tick = Instant::now();
            // Ctrl-C: the first sends EOS (the outputs are finished with what was analysed), a
            // second one gives up.
            let n = signals.load(Ordering::SeqCst);
            if n >= 2 {
                let _ = pipeline.set_state(gst::State::Null);
                bar.finish();
                return Err(Failure { message: "interrupted twice: stopped, no outputs written".into(), code: 130 });
            }
            // After Ctrl-C: finishing the video made no progress for `grace` (or grace is 0).
            let stalled = match eos_sent {
                Some(_) => {
                    let now = (shared.frames.load(Ordering::Relaxed), std::fs::metadata(picture).map_or(0, |m| m.len()));
                    if now != (progress.1, progress.2) {
                        progress = (Instant::now(), now.0, now.1);
                    }
                    progress.0.elapsed() >= grace
                }
                None => n == 1 && grace.is_zero() && shared.frames.load(Ordering::Relaxed) > 0,
            };
            if stalled {
                // Stop (the element writes out its JSON lines) and keep the reports built from them.
                bar.finish();
                bar.note(&format!(
                    "interrupted: the video is not finished within {:.1} s: keeping the reports, not the video",
                    grace.as_secs_f64()
                ));
                if pipeline.set_state(gst::State::Null).is_err() {
                    return Err(Failure { message: "interrupted: the pipeline did not stop, no outputs written".into(), code: 130 });
                }
                return Ok((Ended::GaveUp, duration));
            }
            if n == 1 && eos_sent.is_none() {
                if shared.frames.load(Ordering::Relaxed) == 0 {
                    let _ = pipeline.set_state(gst::State::Null);
                    bar.finish();
                    return Err(Failure { message: "interrupted before the first frame: no outputs written".into(), code: 130 });
                }
                bar.note("interrupted: finishing the outputs with what was analysed (Ctrl-C again to discard them)");
                // EOS into each branch, not to the pipeline: a demuxer working in pull mode
                // (avidemux, qtdemux) would not see an EOS sent to filesrc. Once every branch
                // refuses data, the demuxer stops too.
                video_sink.send_event(gst::event::Eos::new());
                for pad in shared.other_sinks.lock().unwrap().iter() {
                    pad.send_event(gst::event::Eos::new());
                }
                eos_sent = Some(Instant::now());
                progress = (Instant::now(), shared.frames.load(Ordering::Relaxed), 0);
            }
            let frames = shared.frames.load(Ordering::Relaxed);
            if frames > 0 && first_frame.is_none() {
                first_frame = Some((Instant::now(), frames));
            }
            if duration.is_none() {
                duration = video_duration(pipeline, video_sink);
                if let Some(d) = duration {
                    bar.set_length(d);
                }
            }
            // The position of the last analysed frame: the pipeline's own position query answers
            // for its fastest sink, which is the audio fakesink when there is one.
            let position = shared.video_end.load(Ordering::Relaxed);
            let fps = match first_frame {
                Some((t, n)) if t.elapsed() > Duration::from_millis(500) => {
                    format!("{:.1} fps", (frames - n) as f64 / t.elapsed().as_secs_f64())
                }
                _ => "- fps".into(),
            };
            let message = match duration {
                Some(d) => format!("{:.1}/{:.1} s  {frames} frames  {fps}", position as f64 / 1e9, d as f64 / 1e9),
                None => format!("{:.1} s  {frames} frames  {fps}", position as f64 / 1e9),
            };
            bar.update(position, &message);
        }
        let Some(msg) = msg else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                bar.finish();
                return Err(fail(gst_error_text(&msg, e), shared, duration, &missing));
            }
            gst::MessageView::Warning(w) => {
                warnings += 1;
                if warnings <= 5 {
                    let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    bar.note(&format!("warning from {src}: {}", w.error()));
                } else if warnings == 6 {
                    bar.note("more warnings follow (not shown)");
                }
            }
            gst::MessageView::DurationChanged(_) => duration = None,
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "missing-plugin") {
                    missing.push(s.get::<String>("name").unwrap_or_else(|_| s.to_string()));
                }
            }
            _ => {}
        }
    }
    // The container's duration, possibly updated at the end (taken before leaving PLAYING).
    let final_duration = video_duration(pipeline, video_sink).or(duration);
    bar.finish();
    if pipeline.set_state(gst::State::Null).is_err() {
        return Err(Failure::new(format!("error while finishing the outputs of {input_name}: the pipeline did not stop")));
    }
    let frames = shared.frames.load(Ordering::Relaxed);
    if frames == 0 {
        return Err(fail("no video frame could be decoded".into(), shared, final_duration, &missing));
    }
    if eos_sent.is_some() {
        return Ok((Ended::Interrupted, final_duration));
    }
    // Truncated files that GStreamer plays without complaint (MP4 with the index first,
    // Matroska, ...): every stream stops well before the duration the container declares.
    if let Some(declared) = final_duration {
        let reached = shared.any_end.load(Ordering::Relaxed).max(shared.video_end.load(Ordering::Relaxed));
        if (reached as f64) < 0.9 * declared as f64 && declared - reached > 1_000_000_000 {
            return Err(Failure::new(format!(
                "error while analysing {input_name}: the streams end at {} but the file declares {}: it is truncated or damaged",
                clock(reached),
                clock(declared)
            )));
        }
    }
    Ok((Ended::Eos, final_duration))
}

/// `gst::init` and the emotiondetect element registered from this crate, once per process.
///
/// Errors: GStreamer cannot be initialised, or the element cannot be registered (the reason).
pub fn init() -> Result<(), Failure> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
        gstemotiondetect::plugin_register_static().map_err(|e| format!("cannot register the emotiondetect element: {e}"))
    })
    .clone()
    .map_err(Failure::new)
}

/// Analyses `args.input` into its report files in `args.out_dir` (see the module's doc),
/// reporting to `progress`. `stop` counts stop requests (Ctrl-C): the first sends EOS and the
/// outputs cover what was analysed (`Done::code` 130), a second one stops at once, writing
/// nothing.
///
/// Errors: an unreadable or truncated input, a bad property, a missing GStreamer element, an
/// input with no decodable video, a pipeline error (naming what was being done, the element and
/// GStreamer's reason), an output that cannot be written; no output is left behind then.
pub fn run(args: &Args, progress: &dyn Progress, signals: &AtomicUsize) -> Result<Done, Failure> {
    let started = Instant::now();
    let input = &args.input;
    emotiondetect_core::files::check_regular(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    if let Some((declared, actual)) = riff_truncation(input).map_err(|e| format!("cannot read {}: {e}", input.display()))? {
        return Err(Failure::new(format!(
            "error while checking {}: the file is truncated: its RIFF (AVI/WAV) header declares {declared} bytes, the file has {actual}",
            input.display()
        )));
    }
    let name: OsString = input.file_stem().filter(|s| !s.is_empty()).unwrap_or(OsStr::new("video")).to_os_string();

    init()?;
    let element = configured_element(&args.props)?;

    let kind = input_kind(input)?;
    let max_pixels = match kind {
        Kind::Image => args.max_pixels.unwrap_or(input::DEFAULT_MAX_IMAGE_PIXELS),
        Kind::Video => args.max_pixels.unwrap_or(input::DEFAULT_MAX_VIDEO_PIXELS),
    };
    if kind == Kind::Image {
        check_picture_file(input, max_pixels)?;
    }
    let mut outputs = Outputs::new(&args.out_dir, &name, output_suffixes(kind), &all_suffixes())?;
    for stale in &outputs.removed_stale {
        progress.note(&format!("removed {}, left by an earlier run that was killed", stale.display()));
    }
    let jsonl_partial = outputs.partial_of(".jsonl");
    let publish = make("emotionpublish")?;
    publish.set_property("location", jsonl_partial.clone());
    // Every line matters to the reports: the queue holds a whole video's lines if the disk stalls.
    publish.set_property("queue-size", 1_000_000u32);
    publish.set_property("flush-timeout", 3_600_000u32);
    let shared = Arc::new(Shared { max_pixels: AtomicU64::new(max_pixels), ..Shared::default() });
    let picture = outputs.partial_of(match kind {
        Kind::Video => "-emotions.mp4",
        Kind::Image => "-annotated.png",
    });
    let thumbnails = Arc::new(Thumbnails::default());
    if kind == Kind::Video {
        thumbnails.attach(&element);
    }
    let (pipeline, video_sink) = build_pipeline(input, &element, &publish, kind, &picture, args.audio, &shared)?;
    let (ended, duration) = run_pipeline(&pipeline, &video_sink, input, &shared, signals, progress, (args.grace, &picture))?;
    if matches!(ended, Ended::GaveUp) {
        let _ = std::fs::remove_file(&picture); // unfinished: not a playable file
    }
    let analysed = started.elapsed();

    // The reports, from the JSON lines the element wrote.
    let open = || {
        emotiondetect_core::files::open_regular(&jsonl_partial).map_err(|e| format!("cannot read back {}: {e}", jsonl_partial.display()))
    };
    // The lines name their labels; with no face at all, the CSV's columns come from the spec.
    let labels = match report::labels_in(std::io::BufReader::new(open()?)) {
        Ok(Some(labels)) => labels,
        _ => classifier_labels(&element)?,
    };
    let frames = report::read_jsonl(std::io::BufReader::new(open()?), &labels)
        .map_err(|e| format!("error while reading {}: {e}", jsonl_partial.display()))?;
    let write = |suffix: &str, what: &dyn Fn(std::io::BufWriter<std::fs::File>) -> Result<(), String>| -> Result<(), Failure> {
        let path = outputs.partial_of(suffix);
        let file = emotiondetect_core::files::create_regular(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        what(std::io::BufWriter::new(file)).map_err(|e| Failure::new(format!("error while writing {}: {e}", path.display())))
    };
    let drawn = |suffix: &str, png: Result<Vec<u8>, String>| -> Result<Vec<u8>, Failure> {
        png.map_err(|e| Failure::new(format!("error while drawing {}{suffix}: {e}", outputs.name().to_string_lossy())))
    };
    let write_png = |suffix: &str, png: &[u8]| -> Result<(), Failure> {
        let path = outputs.partial_of(suffix);
        std::fs::write(&path, png).map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
    };
    write("-frames.csv", &|w| report::write_frames_csv(w, &frames, &labels))?;
    let title = input.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let n_frames = shared.frames.load(Ordering::Relaxed);
    let secs = analysed.as_secs_f64();
    let what = match kind {
        Kind::Video => {
            let limits = PersonLimits { min_seconds: args.min_track_seconds, min_confidence: args.min_track_confidence };
            let [people, brief, uncertain] = report::split_tracks(report::summarize(&frames, labels.len()), &limits);
            write("-people.csv", &|w| report::write_csv(w, &people, &labels))?;
            let json = report::people_json(&people, &labels, &limits, (brief.len(), uncertain.len()));
            write("-people.json", &|w| serde_json::to_writer_pretty(w, &json).map_err(|e| e.to_string()))?;
            let unclassified = unclassified_sentence(&frames, &args.props);
            let note = unclassified.as_ref().filter(|u| u.none_classified).map(|u| u.text.clone());
            let thumbnails: HashMap<u64, image::RgbImage> = thumbnails.take().into_iter().map(|(id, t)| (id, t.image)).collect();
            let opts = report::TimelineOptions {
                title: title.clone(),
                min_seconds: MIN_PLOT_SECONDS,
                max_people: args.plot_people,
                note,
                thumbnails,
                ..Default::default()
            };
            // The audience panel counts the people only, not the tracks left out.
            let ids: std::collections::HashSet<u64> = people.iter().map(|p| p.id).collect();
            let counted: Vec<report::FrameRecord> = frames
                .iter()
                .map(|f| report::FrameRecord { time: f.time, faces: f.faces.iter().filter(|s| ids.contains(&s.id)).cloned().collect() })
                .collect();
            let timeline = drawn("-timeline.png", report::render_timeline(&counted, &people, &labels, &opts))?;
            write_png("-timeline.png", &timeline)?;
            let plotted = report::plotted_people(&people, MIN_PLOT_SECONDS, args.plot_people).0.len();
            let video = report::video_end(&frames);
            let interrupted = match (&ended, duration) {
                (Ended::Interrupted, Some(d)) => format!(" (interrupted: covers {video:.1} of {:.1} s)", d as f64 / 1e9),
                (Ended::Interrupted, None) => " (interrupted)".into(),
                (Ended::GaveUp, _) => format!(
                    " (interrupted: covers {video:.1} s; the video was not finished within {:.1} s, so the MP4 was not kept)",
                    args.grace.as_secs_f64()
                ),
                (Ended::Eos, _) => String::new(),
            };
            let audio = match (args.audio, shared.audio.lock().unwrap().clone()) {
                (Audio::None, _) => ", audio left out (--audio none)".to_string(),
                (_, Some(a)) => format!(", {a}"),
                (_, None) => String::new(),
            };
            let left_out = left_out_note(brief.len(), uncertain.len(), args);
            let text = unclassified.as_ref().map(|u| u.text.clone());
            let unclassified = text.as_ref().map(|u| format!("; {u}")).unwrap_or_default();
            let what = format!(
                "{n_frames} frames ({video:.1} s) in {secs:.1} s ({:.1} fps), {} people ({plotted} plotted{left_out}){audio}{interrupted}{unclassified}",
                n_frames as f64 / secs.max(1e-3),
                people.len()
            );
            let jpegs: HashMap<u64, Vec<u8>> =
                opts.thumbnails.iter().filter_map(|(id, img)| Some((*id, crate::thumbnails::jpeg(img).ok()?))).collect();
            let names: Vec<OsString> = output_suffixes(kind)
                .iter()
                .filter(|s| !matches!(**s, "-report.html" | "-emotions.mp4"))
                .map(|s| outputs.final_name(s))
                .collect();
            let mp4 = (!matches!(ended, Ended::GaveUp)).then(|| outputs.final_name("-emotions.mp4"));
            let page = html::Page {
                title: &title,
                summary: &what,
                note: text.as_deref(),
                people: &people,
                labels: &labels,
                thumbnails: &jpegs,
                timeline_png: &timeline,
                video: mp4.as_deref(),
                files: &names,
                left_out: left_out.trim_start_matches(", ").to_string(),
            };
            write("-report.html", &|mut w| w.write_all(html::render(&page).as_bytes()).map_err(|e| e.to_string()))?;
            what
        }
        Kind::Image => {
            let faces = frames.first().map(|f| f.faces.clone()).unwrap_or_default();
            write_png("-probabilities.png", &drawn("-probabilities.png", report::render_probabilities(&faces, &labels, &title))?)?;
            let each: Vec<String> = faces
                .iter()
                .map(|f| {
                    let label = report::label_name(&labels, f.label_id);
                    format!("#{} {label} {:.2}", f.id, f.label_id.and_then(|l| f.scores.get(l)).copied().unwrap_or(0.0))
                })
                .collect();
            let list = if each.is_empty() { String::new() } else { format!(" ({})", each.join(", ")) };
            format!("image, {} face{}{list} in {secs:.1} s", faces.len(), if faces.len() == 1 { "" } else { "s" })
        }
    };
    let moved = outputs.commit()?;

    let files: Vec<String> = moved.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().to_string()).collect();
    let summary = format!("{}: {what}; wrote {} into {}", input.display(), files.join(", "), outputs.dir().display());
    let code = match ended {
        Ended::Eos => 0,
        Ended::Interrupted | Ended::GaveUp => 130,
    };
    Ok(Done { code, summary, files: moved })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn riff_sizes() {
        let dir = std::env::temp_dir().join(format!("emotiondetect-video-riff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.avi");
        let mut data = b"RIFF".to_vec();
        data.extend_from_slice(&100u32.to_le_bytes());
        data.extend_from_slice(b"AVI ");
        data.resize(108, 0);
        std::fs::write(&f, &data).unwrap();
        assert_eq!(riff_truncation(&f).unwrap(), None, "complete");
        std::fs::write(&f, &data[..50]).unwrap();
        assert_eq!(riff_truncation(&f).unwrap(), Some((108, 50)), "truncated");
        std::fs::write(&f, b"not a riff file at all").unwrap();
        assert_eq!(riff_truncation(&f).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
