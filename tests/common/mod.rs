// SPDX-License-Identifier: MIT
//! Helpers shared by the integration tests: paths of the real test data, checks that fail with
//! a message saying how to get what is missing, plugin registration, running pipelines and
//! reading the element's messages and metas back.
//!
//! Test data lives outside the repository, in `../shared` beside the checkout (as `.ci/run`
//! expects): `media/group-photos/*.jpg`, `media/videos/Megamind.avi`, `models/*.onnx`.
//! `EMOTIONDETECT_SHARED_DIR` overrides that location. ONNX Runtime and the installed models
//! come from `./setup.sh` (in `${EMOTIONDETECT_DATA_DIR:-~/.local/share/emotiondetect}`).
//! Nothing here skips a test: missing data is a failure that says what to run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gst::prelude::*;

/// The seven FER2013 labels, in the classifier's output order.
pub const FER_LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

/// The formats the element accepts, in its pad templates' order: the fast path first.
pub const FORMATS: [&str; 23] = [
    "I420",
    "NV12",
    "YUY2",
    "UYVY",
    "YVYU",
    "BGRx",
    "RGBx",
    "xRGB",
    "xBGR",
    "BGRA",
    "RGBA",
    "ARGB",
    "ABGR",
    "RGB",
    "BGR",
    "NV21",
    "NV16",
    "Y42B",
    "Y444",
    "GRAY8",
    "GRAY16_LE",
    "P010_10LE",
    "I420_10LE",
];

/// The packed RGB formats: the same RGB values, so the very same results.
pub const RGB_FORMATS: [&str; 10] = ["BGRx", "RGBx", "xRGB", "xBGR", "BGRA", "RGBA", "ARGB", "ABGR", "RGB", "BGR"];

const SETUP: &str = "run ./setup.sh (or ./setup.sh --no-run) from the repository root";

// ------------------------------------------------------------------------------------------
// Paths and required files

/// The repository root: this package's directory, or the one above it for the `tools` member
/// (which includes this module too).
pub fn repo_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("setup.sh").is_file() {
        manifest
    } else {
        manifest.parent().expect("tools/ lies inside the repository").to_path_buf()
    }
}

/// `../shared` beside the checkout, or `$EMOTIONDETECT_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("EMOTIONDETECT_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| repo_dir().join("../shared"));
    dir.canonicalize().unwrap_or(dir)
}

/// Where setup.sh installs ONNX Runtime and the models (the element's default data dir).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EMOTIONDETECT_DATA_DIR") {
        return PathBuf::from(d);
    }
    let xdg = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .expect("neither XDG_DATA_HOME nor HOME is set");
    xdg.join("emotiondetect")
}

/// Panics (the test fails) with `how` when `path` is not a file.
pub fn require_file(path: &Path, what: &str, how: &str) -> PathBuf {
    assert!(path.is_file(), "{what} not found at {}: {how}", path.display());
    path.to_path_buf()
}

/// A photo of `<shared>/media/group-photos`.
pub fn group_photo(name: &str) -> PathBuf {
    require_file(
        &shared_dir().join("media/group-photos").join(name),
        &format!("test photo {name}"),
        "the test data lives in ../shared/media/group-photos beside the checkout (set EMOTIONDETECT_SHARED_DIR to use another copy)",
    )
}

/// OpenCV's sample video Megamind.avi (720x528, 270 frames): `<shared>/media/videos`, else the
/// copy setup.sh caches in `<data dir>/media`.
pub fn megamind() -> PathBuf {
    let shared = shared_dir().join("media/videos/Megamind.avi");
    let cached = data_dir().join("media/Megamind.avi");
    if cached.is_file() && !shared.is_file() {
        return cached;
    }
    require_file(
        &shared,
        "Megamind.avi",
        &format!(
            "expected in ../shared/media/videos beside the checkout or at {}: run ./setup.sh (without ../shared, its demo step extracts it from Debian's opencv-doc package into that cache)",
            cached.display()
        ),
    )
}

/// A model of `<shared>/models`.
pub fn shared_model(name: &str) -> PathBuf {
    require_file(
        &shared_dir().join("models").join(name),
        &format!("model {name}"),
        "the models live in ../shared/models beside the checkout",
    )
}

/// Checks that setup.sh has installed ONNX Runtime and the default models, which the element
/// loads at NULL->READY when no model path is given.
pub fn require_installed() {
    // Checked once; every test that needs it fails with the same message (a panic inside a
    // `Once` would leave later tests with a "poisoned" message instead).
    static CHECK: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = CHECK.get_or_init(|| {
        let data = data_dir();
        let mut needed = vec![("installed model face_detection_yunet.onnx", data.join("models/face_detection_yunet.onnx"))];
        let emotion = emotiondetect_core::classification::DEFAULT_EMOTION_MODEL_FILE;
        needed.push(("installed default emotion model", data.join("models").join(emotion)));
        if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            needed.push(("ONNX Runtime", data.join("lib/libonnxruntime.so.1.31.1")));
        }
        let missing: Vec<String> =
            needed.iter().filter(|(_, p)| !p.is_file()).map(|(what, p)| format!("{what} not found at {}", p.display())).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {SETUP}", missing.join("; ")))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// GStreamer

/// gst::init, the plugin registered in this process, and the installed data checked.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("gst::init");
        gstemotiondetect::plugin_register_static().expect("registering the emotiondetect plugin");
        // The element under test must be this build's, not a copy installed by setup.sh in
        // ~/.local/share/gstreamer-1.0/plugins (the static registration replaces its feature).
        let factory = gst::ElementFactory::find("emotiondetect").expect("emotiondetect factory");
        let plugin = factory.plugin().expect("the factory's plugin");
        assert_eq!(plugin.filename(), None, "emotiondetect comes from {:?}, not from this build", plugin.filename());
    });
    require_installed();
}

/// A new `emotiondetect` with `props` set (as strings, like gst-launch).
pub fn element(props: &[(&str, &str)]) -> gst::Element {
    make_with("emotiondetect", props)
}

/// An `emotionpublish` element with `props` set from strings.
pub fn publisher(props: &[(&str, &str)]) -> gst::Element {
    make_with("emotionpublish", props)
}

/// A `factory` element of this plugin with `props` set from strings.
pub fn make_with(factory: &str, props: &[(&str, &str)]) -> gst::Element {
    init();
    let e = gst::ElementFactory::make(factory).build().unwrap_or_else(|e| panic!("{factory} element: {e}"));
    for (k, v) in props {
        e.set_property_from_str(k, v);
    }
    e
}

/// One face as the `emotiondetect` bus message reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct MsgFace {
    /// Track id.
    pub id: i32,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub confidence: f64,
    pub emotion: String,
    pub emotion_confidence: f64,
    /// The classifier's last output for this face.
    pub scores: Vec<f64>,
    /// The smoothed probabilities that `emotion` and `emotion_confidence` come from.
    pub smoothed_scores: Vec<f64>,
}

impl MsgFace {
    pub fn rect(&self) -> Rect {
        Rect { x: self.x as f64, y: self.y as f64, w: self.width as f64, h: self.height as f64 }
    }
}

/// One `emotiondetect` element message.
#[derive(Clone, Debug)]
pub struct FrameMsg {
    pub timestamp: u64,
    pub stream_time: u64,
    pub running_time: u64,
    pub duration: u64,
    pub faces: Vec<MsgFace>,
}

fn f64_list(v: &gst::List) -> Vec<f64> {
    v.iter().map(|x| x.get::<f64>().expect("scores are doubles")).collect()
}

/// Parses an `emotiondetect` message structure, asserting the documented field types.
pub fn parse_message(s: &gst::StructureRef) -> FrameMsg {
    assert_eq!(s.name(), "emotiondetect");
    let u = |f: &str| s.get::<u64>(f).unwrap_or_else(|e| panic!("message field {f}: {e} in {s}"));
    let faces = s.get::<gst::List>("faces").unwrap_or_else(|e| panic!("message field faces: {e}"));
    let faces = faces
        .iter()
        .map(|v| {
            let f = v.get::<gst::Structure>().expect("faces holds structures");
            assert_eq!(f.name(), "face");
            let g = |k: &str| f.get::<u32>(k).unwrap_or_else(|e| panic!("face field {k}: {e} in {f}"));
            let d = |k: &str| f.get::<f64>(k).unwrap_or_else(|e| panic!("face field {k}: {e} in {f}"));
            MsgFace {
                id: f.get::<i32>("id").unwrap_or_else(|e| panic!("face field id: {e} in {f}")),
                x: g("x"),
                y: g("y"),
                width: g("width"),
                height: g("height"),
                confidence: d("confidence"),
                emotion: f.get::<String>("emotion").expect("face field emotion"),
                emotion_confidence: d("emotion-confidence"),
                scores: f64_list(&f.get::<gst::List>("scores").expect("face field scores")),
                smoothed_scores: f64_list(&f.get::<gst::List>("smoothed-scores").expect("face field smoothed-scores")),
            }
        })
        .collect();
    FrameMsg { timestamp: u("timestamp"), stream_time: u("stream-time"), running_time: u("running-time"), duration: u("duration"), faces }
}

/// One face as its `GstVideoRegionOfInterestMeta` describes it.
#[derive(Clone, Debug)]
pub struct MetaFace {
    pub id: i32,
    /// `object_id` param's `id` (the track id, as gvatrack writes it).
    pub object_id: i32,
    pub roi_type: String,
    pub rect: (u32, u32, u32, u32),
    /// `detection`: x_min, y_min, x_max, y_max (normalised), confidence.
    pub detection: [f64; 5],
    pub detection_label: String,
    pub detection_label_id: i32,
    pub emotion: String,
    pub emotion_id: i32,
    pub emotion_confidence: f64,
    pub model_name: String,
    pub scores: Vec<f64>,
    pub smoothed_scores: Vec<f64>,
    /// `landmarks` x0, y0 ... x4, y4 (normalised), when present.
    pub landmarks: Option<[f64; 10]>,
}

/// The ROI metas of `buffer`, in order.
pub fn meta_faces(buffer: &gst::BufferRef) -> Vec<MetaFace> {
    buffer
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .map(|m| {
            let det = m.param("detection").expect("ROI meta without a detection param");
            let emo = m.param("emotion").expect("ROI meta without an emotion param");
            let d = |s: &gst::StructureRef, k: &str| s.get::<f64>(k).unwrap_or_else(|e| panic!("{} field {k}: {e}", s.name()));
            let landmarks =
                m.param("landmarks").map(|l| std::array::from_fn(|i| d(l, &format!("{}{}", if i % 2 == 0 { "x" } else { "y" }, i / 2))));
            let object_id = m.param("object_id").expect("ROI meta without an object_id param");
            MetaFace {
                id: m.id(),
                object_id: object_id.get::<i32>("id").expect("object_id id"),
                roi_type: m.roi_type().to_string(),
                rect: m.rect(),
                detection: [d(det, "x_min"), d(det, "y_min"), d(det, "x_max"), d(det, "y_max"), d(det, "confidence")],
                detection_label: det.get::<String>("label").expect("detection label"),
                detection_label_id: det.get::<i32>("label_id").expect("detection label_id"),
                emotion: emo.get::<String>("label").expect("emotion label"),
                emotion_id: emo.get::<i32>("label_id").expect("emotion label_id"),
                emotion_confidence: d(emo, "confidence"),
                model_name: emo.get::<String>("model_name").expect("emotion model_name"),
                scores: f64_list(&emo.get::<gst::List>("scores").expect("emotion scores")),
                smoothed_scores: f64_list(&emo.get::<gst::List>("smoothed_scores").expect("emotion smoothed_scores")),
                landmarks,
            }
        })
        .collect()
}

/// What a pipeline run produced.
pub struct Run {
    /// Samples reaching the appsink named `sink`, if there is one.
    pub samples: Vec<gst::Sample>,
    /// The `emotiondetect` messages, in bus order.
    pub messages: Vec<FrameMsg>,
    /// Warning messages (source name: text).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

/// Runs `desc` (gst-launch syntax) to EOS. An appsink named `sink` has its samples kept.
/// Fails the test on an error message or after `timeout`.
pub fn run_pipeline(desc: &str, timeout: Duration) -> Run {
    init();
    let pipeline = gst::parse::launch(desc).unwrap_or_else(|e| panic!("cannot build `{desc}`: {e}"));
    let pipeline = pipeline.downcast::<gst::Pipeline>().expect("a pipeline");
    let samples = Arc::new(Mutex::new(Vec::new()));
    if let Some(sink) = pipeline.by_name("sink") {
        let sink = sink.downcast::<gst_app::AppSink>().expect("`sink` is an appsink");
        sink.set_property("sync", false);
        let samples = samples.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    samples.lock().unwrap().push(sample);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    let bus = pipeline.bus().unwrap();
    let start = Instant::now();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| {
        let err = first_error(&bus);
        let _ = pipeline.set_state(gst::State::Null);
        panic!("`{desc}` cannot start: {e:?}: {err}")
    });
    let mut messages = Vec::new();
    let mut warnings = Vec::new();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            let _ = pipeline.set_state(gst::State::Null);
            panic!("`{desc}` did not finish within {timeout:?}");
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                let _ = pipeline.set_state(gst::State::Null);
                panic!("`{desc}` failed: {} ({:?})", e.error(), e.debug());
            }
            gst::MessageView::Warning(w) => warnings.push(format!(
                "{}: {} ({:?})",
                msg.src().map(|s| s.path_string().to_string()).unwrap_or_default(),
                w.error(),
                w.debug()
            )),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "emotiondetect") {
                    messages.push(parse_message(s));
                }
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    pipeline.set_state(gst::State::Null).expect("to NULL");
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    Run { samples, messages, warnings, elapsed }
}

/// The text of the first error message on `bus` (waiting up to a second), or a placeholder.
pub fn first_error(bus: &gst::Bus) -> String {
    match bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error]) {
        Some(m) => match m.view() {
            gst::MessageView::Error(e) => format!("{} ({})", e.error(), e.debug().map(|d| d.to_string()).unwrap_or_default()),
            _ => unreachable!(),
        },
        None => "no error message on the bus".into(),
    }
}

/// `filesrc ! jpegdec ! videoconvert ! video/x-raw,format=<format>` as one decoded sample.
pub fn decode_photo(path: &Path, format: &str) -> gst::Sample {
    let desc = format!("filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format={format} ! appsink name=sink", path.display());
    let mut run = run_pipeline(&desc, Duration::from_secs(30));
    assert_eq!(run.samples.len(), 1, "{desc}: one decoded frame");
    run.samples.pop().unwrap()
}

/// The `VideoInfo` of a sample's caps.
pub fn video_info(sample: &gst::Sample) -> gst_video::VideoInfo {
    gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video caps")
}

/// A Harness around `element`, with a bus set on the element so that its messages can be read.
pub fn harness(element: &gst::Element) -> (gst_check::Harness, gst::Bus) {
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    let h = gst_check::Harness::with_element(element, Some("sink"), Some("src"));
    (h, bus)
}

/// Every `emotiondetect` message waiting on `bus`.
pub fn drain_messages(bus: &gst::Bus) -> Vec<FrameMsg> {
    std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Element]))
        .filter_map(|m| m.structure().filter(|s| s.name() == "emotiondetect").map(parse_message))
        .collect()
}

// ------------------------------------------------------------------------------------------
// Boxes

/// A box in pixels: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn iou(&self, o: &Rect) -> f64 {
        let iw = ((self.x + self.w).min(o.x + o.w) - self.x.max(o.x)).max(0.0);
        let ih = ((self.y + self.h).min(o.y + o.h) - self.y.max(o.y)).max(0.0);
        let inter = iw * ih;
        let union = self.w * self.h + o.w * o.h - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// The largest distance between corresponding corners' coordinates, in pixels.
    pub fn corner_distance(&self, o: &Rect) -> f64 {
        [(self.x - o.x), (self.y - o.y), (self.x + self.w - o.x - o.w), (self.y + self.h - o.y - o.h)]
            .iter()
            .fold(0.0f64, |m, d| m.max(d.abs()))
    }
}

/// Greedy matching by IoU: every pair with IoU >= `min_iou`, best first, each box used once.
/// Returns (index in `a`, index in `b`, IoU).
pub fn greedy_match(a: &[Rect], b: &[Rect], min_iou: f64) -> Vec<(usize, usize, f64)> {
    let mut pairs: Vec<(usize, usize, f64)> = a
        .iter()
        .enumerate()
        .flat_map(|(i, ra)| b.iter().enumerate().map(move |(j, rb)| (i, j, ra.iou(rb))))
        .filter(|p| p.2 >= min_iou)
        .collect();
    pairs.sort_by(|x, y| y.2.total_cmp(&x.2));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut out = Vec::new();
    for (i, j, iou) in pairs {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            out.push((i, j, iou));
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Processes and files

/// `<repo>/.venv/bin/python` when setup.sh has created it, else `python3`.
pub fn python() -> PathBuf {
    let venv = repo_dir().join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The `libgstemotiondetect.so` cargo built for this test run. `cargo test` links the cdylib
/// into `target/<profile>/deps` (beside the test binary) and only `cargo build` copies it up to
/// `target/<profile>`, so the one in `deps` is the fresh one; the other may be stale.
pub fn built_plugin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("target/<profile>/deps");
    let fresh = deps.join("libgstemotiondetect.so");
    if fresh.is_file() {
        return fresh;
    }
    require_file(&deps.join("../libgstemotiondetect.so"), "the built plugin", "cargo builds it with the tests (scripts/test.sh)")
}

/// A directory holding only a copy of [`built_plugin`], for GST_PLUGIN_PATH in a child process
/// (pointing at `deps` would make GStreamer probe every library there).
pub fn plugin_dir_with_built_plugin() -> TempDir {
    let dir = TempDir::new("plugin");
    std::fs::copy(built_plugin(), dir.path().join("libgstemotiondetect.so")).expect("copying the built plugin");
    dir
}

/// The GStreamer environment of a child process (gst-launch-1.0, a script): the system plugins
/// and only the plugin this test run built, with a private registry; the variables of the
/// calling environment that would override them are removed. Keep it alive while children run.
pub struct ChildGst {
    plugins: TempDir,
    registry: TempDir,
}

impl ChildGst {
    pub fn new() -> ChildGst {
        ChildGst { plugins: plugin_dir_with_built_plugin(), registry: TempDir::new("registry") }
    }

    /// Sets the environment on `cmd`; `n` names the registry file (one per concurrent child).
    pub fn apply<'a>(&self, cmd: &'a mut std::process::Command, n: usize) -> &'a mut std::process::Command {
        cmd.env("GST_PLUGIN_PATH", self.plugins.path())
            .env("GST_PLUGIN_SYSTEM_PATH_1_0", system_plugin_dir())
            .env("GST_REGISTRY", self.registry.path().join(format!("registry{n}.bin")))
            .env_remove("GST_PLUGIN_PATH_1_0")
            .env_remove("GST_REGISTRY_1_0")
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("emotiondetect-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The visible bytes of a video buffer, plane after plane, row after row, without the padding
/// at the end of rows (which nobody writes, so it may differ between two decodes).
pub fn visible_bytes(buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Vec<u8> {
    use gst_video::prelude::*;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).expect("mappable video frame");
    let mut out = Vec::with_capacity(info.size());
    for p in 0..info.n_planes() {
        let data = frame.plane_data(p).unwrap();
        let stride = frame.plane_stride()[p as usize] as usize;
        // In the formats used here, plane p starts with component p.
        let row = frame.comp_width(p) as usize * frame.comp_pstride(p) as usize;
        for y in 0..frame.comp_height(p) as usize {
            out.extend_from_slice(&data[y * stride..y * stride + row]);
        }
    }
    out
}

/// Sets `e` to READY, which must fail; returns the error message the element posted on the bus.
pub fn ready_error(e: &gst::Element) -> gst::glib::Error {
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    assert!(e.set_state(gst::State::Ready).is_err(), "NULL->READY must fail");
    let msg = bus.pop_filtered(&[gst::MessageType::Error]).expect("an error message on the bus");
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    assert_eq!(msg.src().map(|s| s.name()), Some(e.name()), "posted by the element");
    println!("error: {} (debug: {:?})", err.error(), err.debug());
    e.set_state(gst::State::Null).expect("back to NULL");
    e.set_bus(None);
    err.error()
}

/// The system plugin directory (where coreelements lives), so that a child process finds the
/// standard elements and not a copy of emotiondetect installed in ~/.local/share.
pub fn system_plugin_dir() -> PathBuf {
    init();
    let core = gst::Registry::get().find_plugin("coreelements").expect("the coreelements plugin");
    core.filename().expect("coreelements is loaded from a file").parent().unwrap().to_path_buf()
}

/// A tmpfs of `size` mounted at a new directory, unmounted on drop: a real filesystem to fill
/// (the full-disk tests). Mounting needs root (CI runs as root): without it the test fails,
/// saying so.
pub struct Tmpfs(pub TempDir);

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = TempDir::new("tmpfs");
        let out =
            std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).output();
        match out {
            Ok(o) if o.status.success() => Tmpfs(dir),
            other => panic!(
                "this test fills a real filesystem: mounting a {size} tmpfs at {} failed ({other:?}); it needs root, as CI has",
                dir.path().display()
            ),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0.path()).status();
    }
}

// ------------------------------------------------------------------------------------------
// Publishing

/// What [`run_publishing`] saw.
pub struct PublishRun {
    /// When each buffer reached the sink.
    pub arrivals: Vec<Instant>,
    /// The warnings posted, as text.
    pub warnings: Vec<String>,
    /// `emotionpublish`'s `dropped` and `delivered`, read after the element stopped.
    pub dropped: u64,
    pub delivered: u64,
}

/// When each buffer reaches the sink pad of `pipeline`'s element `sink`, filled as they come.
pub fn record_arrivals(pipeline: &gst::Pipeline, sink: &str) -> Arc<Mutex<Vec<Instant>>> {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let a = arrivals.clone();
    pipeline.by_name(sink).unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        a.lock().unwrap().push(Instant::now());
        gst::PadProbeReturn::Ok
    });
    arrivals
}

/// Megamind.avi through `videorate` (its decoder repeats timestamps), `emotiondetect` and
/// `emotionpublish name=ep PROPS` to EOS, then to NULL. `during(elapsed)` is called every 50 ms
/// while it runs.
pub fn run_publishing(props: &str, sync: bool, mut during: impl FnMut(Duration)) -> PublishRun {
    init();
    let desc = format!(
        "filesrc location={} ! decodebin ! videorate ! emotiondetect name=ed ! emotionpublish name=ep {props} ! fakesink name=sink sync={sync}",
        megamind().display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let arrivals = record_arrivals(&pipeline, "sink");
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap_or_else(|e| panic!("`{desc}` cannot start: {e:?}: {}", first_error(&bus)));
    let (start, mut warnings) = (Instant::now(), Vec::new());
    loop {
        assert!(start.elapsed() < Duration::from_secs(120), "no EOS");
        during(start.elapsed());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let ep = pipeline.by_name("ep").unwrap();
    let (dropped, delivered) = (ep.property::<u64>("dropped"), ep.property::<u64>("delivered"));
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    PublishRun { arrivals, warnings, dropped, delivered }
}
