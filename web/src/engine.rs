// SPDX-License-Identifier: MIT
//! Running the element on images: one-shot pipelines for photos (`POST /api/analyse`), a
//! pipeline per webcam client (its tracker keeps the ids of the people in view), and the
//! [`Models`] every pipeline of the server shares (`model-instance-id`).

use std::time::{Duration, Instant};

use emotiondetect_core::frame_report::FrameReport;
use emotiondetect_tools::input;
use gst::prelude::*;

/// The `model-instance-id` of every emotiondetect element of the server: one face detector and
/// one classifier are loaded, whatever the number of clients and streams.
pub const MODEL_INSTANCE_ID: &str = "emotiondetect-web";

/// How long one photo may take (a 500-face photo takes a few seconds on 2 cores).
const PHOTO_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one webcam frame may take before the session is given up.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an image was not analysed.
#[derive(Debug)]
pub enum AnalyseError {
    /// The body is not an image the server takes, is cut short, or its decoder failed (HTTP
    /// 400): the reason.
    BadInput(String),
    /// The picture declares more pixels than `--max-pixels` (HTTP 413): the reason.
    TooLarge(String),
    /// The server's side failed (the models, a missing GStreamer element; HTTP 500).
    Internal(String),
}

impl std::fmt::Display for AnalyseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalyseError::BadInput(m) | AnalyseError::TooLarge(m) | AnalyseError::Internal(m) => f.write_str(m),
        }
    }
}

/// The models, loaded once at start-up and held for the server's lifetime: an emotiondetect
/// element in READY under [`MODEL_INSTANCE_ID`], so that the pipelines that come and go join
/// loaded models instead of loading them per request.
pub struct Models {
    holder: gst::Pipeline,
}

impl Models {
    /// Loads the models (the element's defaults from `./setup.sh`).
    ///
    /// Errors: a model or ONNX Runtime is missing or fails to load (the element's message,
    /// which names the file).
    pub fn load() -> Result<Models, String> {
        let element = new_element(false)?;
        let holder = gst::Pipeline::new();
        holder.add(&element).map_err(|e| e.to_string())?;
        if holder.set_state(gst::State::Ready).is_err() {
            let _ = holder.set_state(gst::State::Null);
            return Err(format!(
                "cannot load the models: {}",
                holder.bus().and_then(|b| first_error(&b)).unwrap_or_else(|| "no reason given".into())
            ));
        }
        Ok(Models { holder })
    }

    /// Where the models run, as the element's `active-device` gives it: `cpu`, `cuda:N`, `gpu` or `npu`.
    pub fn device(&self) -> String {
        self.holder.children().first().map(|e| e.property::<String>("active-device")).unwrap_or_default()
    }
}

impl Drop for Models {
    fn drop(&mut self) {
        let _ = self.holder.set_state(gst::State::Null);
    }
}

/// A new emotiondetect element sharing the server's models.
///
/// Errors: the element is not registered (a build problem).
pub fn new_element(draw: bool) -> Result<gst::Element, String> {
    gst::ElementFactory::make("emotiondetect")
        .property("model-instance-id", MODEL_INSTANCE_ID)
        .property("draw", draw)
        .build()
        .map_err(|e| format!("cannot create the emotiondetect element: {e}"))
}

/// Makes a GStreamer element, naming the apt package when it is missing.
///
/// Errors: the element is not installed.
pub fn make(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        let package = match factory {
            "jpegdec" | "jpegenc" | "pngenc" => "gstreamer1.0-plugins-good",
            _ => "gstreamer1.0-plugins-base",
        };
        format!("the GStreamer element {factory} is not installed (apt package {package}; ./setup.sh installs it)")
    })
}

/// What GStreamer's typefinders make of `data`: `Ok` for a JPEG or PNG image (its caps name).
///
/// Errors: anything else, saying what the typefinder found (the decoder's reason).
pub fn image_type(data: &[u8]) -> Result<&'static str, String> {
    match gst_base::type_find_helper_for_data(None::<&gst::Object>, data) {
        Ok((caps, _)) => match caps.structure(0).map(|s| s.name().as_str()) {
            Some("image/jpeg") => Ok("image/jpeg"),
            Some("image/png") => Ok("image/png"),
            Some(other) => Err(format!("not a JPEG or PNG image: GStreamer's typefinder says {other}")),
            None => Err("not a JPEG or PNG image: GStreamer's typefinder gives empty caps".into()),
        },
        Err(e) => Err(format!("not a JPEG or PNG image: GStreamer cannot tell what it is ({e})")),
    }
}

/// Checks a picture's header before it is decoded ([`input::check_picture`]): its declared
/// size against `max_pixels` (default [`input::DEFAULT_MAX_IMAGE_PIXELS`]), and a JPEG's end.
///
/// Errors: [`AnalyseError::TooLarge`]; [`AnalyseError::BadInput`] for a cut or damaged picture.
fn check_picture(data: &[u8], max_pixels: Option<u64>) -> Result<(), AnalyseError> {
    match input::check_picture(data, max_pixels.unwrap_or(input::DEFAULT_MAX_IMAGE_PIXELS)) {
        Ok(_) => Ok(()),
        Err(e @ input::InputError::TooLarge { .. }) => Err(AnalyseError::TooLarge(e.to_string())),
        Err(e @ input::InputError::Corrupt(_)) => Err(AnalyseError::BadInput(e.to_string())),
    }
}

/// A photo's results.
pub struct Analysed {
    pub report: FrameReport,
    /// The element's annotated picture, PNG, when asked for.
    pub png: Option<Vec<u8>>,
}

/// Analyses one JPEG or PNG image: `appsrc ! decodebin ! videoconvert ! emotiondetect !
/// (videoconvert ! pngenc ! appsink | fakesink)`. Blocking (seconds for a crowd).
///
/// `max_pixels`: `--max-pixels` ([`check_picture`]).
///
/// Errors: [`AnalyseError::BadInput`] when `data` is not a JPEG/PNG, is cut short or does not
/// decode (the decoder's message); [`AnalyseError::TooLarge`] past `max_pixels`;
/// [`AnalyseError::Internal`] when the element or GStreamer fail.
pub fn analyse_image(data: &[u8], annotated: bool, max_pixels: Option<u64>) -> Result<Analysed, AnalyseError> {
    let caps_name = image_type(data).map_err(AnalyseError::BadInput)?;
    check_picture(data, max_pixels)?;
    let internal = AnalyseError::Internal;
    let pipeline = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder().caps(&gst::Caps::new_empty_simple(caps_name)).format(gst::Format::Time).build();
    let decode = make("decodebin").map_err(internal)?;
    let convert = make("videoconvert").map_err(internal)?;
    let element = new_element(annotated).map_err(internal)?;
    let mut tail: Vec<gst::Element> = vec![convert, element.clone()];
    let sink = gst_app::AppSink::builder().sync(false).build();
    // The picture is pulled after EOS: appsink must not hold EOS back until it is.
    sink.set_property("wait-on-eos", false);
    if annotated {
        tail.push(make("videoconvert").map_err(internal)?);
        tail.push(make("pngenc").map_err(internal)?);
    }
    tail.push(sink.clone().upcast());
    pipeline.add_many([src.upcast_ref(), &decode]).map_err(|e| internal(e.to_string()))?;
    pipeline.add_many(&tail).map_err(|e| internal(e.to_string()))?;
    src.link(&decode).map_err(|e| internal(e.to_string()))?;
    gst::Element::link_many(&tail).map_err(|e| internal(format!("cannot link the pipeline: {e}")))?;
    let head = tail[0].static_pad("sink").ok_or_else(|| internal("videoconvert has no sink pad".into()))?;
    decode.connect_pad_added(move |_, pad| {
        if !head.is_linked() {
            let _ = pad.link(&head);
        }
    });
    let result = run_once(&pipeline, &src, &element, data, PHOTO_TIMEOUT).and_then(|report| {
        // Pulled before NULL, which would flush it.
        let png = if annotated { Some(pull_png(&sink)?) } else { None };
        Ok(Analysed { report, png })
    });
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// The PNG that reached `sink`.
fn pull_png(sink: &gst_app::AppSink) -> Result<Vec<u8>, AnalyseError> {
    let internal = AnalyseError::Internal;
    let sample = sink.try_pull_sample(gst::ClockTime::ZERO).ok_or_else(|| internal("pngenc gave no picture".into()))?;
    let buffer = sample.buffer().ok_or_else(|| internal("pngenc gave an empty sample".into()))?;
    let png = buffer.map_readable().map_err(|e| internal(e.to_string()))?.to_vec();
    Ok(png)
}

/// Pushes `data` then EOS into `src` and waits for the element's report and EOS.
fn run_once(
    pipeline: &gst::Pipeline,
    src: &gst_app::AppSrc,
    element: &gst::Element,
    data: &[u8],
    timeout: Duration,
) -> Result<FrameReport, AnalyseError> {
    let bus = pipeline.bus().ok_or_else(|| AnalyseError::Internal("the pipeline has no bus".into()))?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(classify_error(&bus, element).unwrap_or_else(|| AnalyseError::Internal("the pipeline refused to start".into())));
    }
    let mut buffer = gst::Buffer::from_slice(data.to_vec());
    if let Some(b) = buffer.get_mut() {
        b.set_pts(gst::ClockTime::ZERO);
    }
    let _ = src.push_buffer(buffer);
    let _ = src.end_of_stream();
    let deadline = Instant::now() + timeout;
    let mut report = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AnalyseError::Internal(format!("the analysis took more than {} s", timeout.as_secs())));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { continue };
        match msg.view() {
            gst::MessageView::Element(_) => {
                if let Some(r) = report_of(&msg) {
                    report = Some(r?);
                }
            }
            gst::MessageView::Error(_) => return Err(root_error(&bus, msg, element)),
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    report.ok_or_else(|| AnalyseError::BadInput("the image decoded to no video frame".into()))
}

/// The element's report in an `emotiondetect` element message (its `json` field), if `msg`
/// is one.
pub fn report_of(msg: &gst::Message) -> Option<Result<FrameReport, AnalyseError>> {
    let s = msg.structure().filter(|s| s.name() == "emotiondetect")?;
    Some(
        s.get::<String>("json")
            .map_err(|e| e.to_string())
            .and_then(|j| FrameReport::from_json(&j).map_err(|e| e.to_string()))
            .map_err(|e| AnalyseError::Internal(format!("the element's message does not read back: {e}"))),
    )
}

/// An error message as an [`AnalyseError`]: the element's own errors are the server's, the
/// others (decoders, typefinding) the input's.
fn error_of(msg: &gst::Message, e: &gst::message::Error, element: &gst::Element) -> AnalyseError {
    let from_element = msg.src().is_some_and(|s| s == element.upcast_ref::<gst::Object>());
    let missing = e.error().matches(gst::CoreError::MissingPlugin);
    let text = error_text(msg, e);
    if from_element || missing {
        AnalyseError::Internal(text)
    } else {
        AnalyseError::BadInput(format!("the image does not decode: {text}"))
    }
}

/// The error that explains `first` best: a source's "Internal data stream error" is usually
/// followed by the decoder's own message, which says what is wrong with the data.
fn root_error(bus: &gst::Bus, first: gst::Message, element: &gst::Element) -> AnalyseError {
    let mut best = first;
    std::thread::sleep(Duration::from_millis(20));
    while let Some(next) = bus.pop_filtered(&[gst::MessageType::Error]) {
        let is_source = |m: &gst::Message| m.src().is_some_and(|s| s.is::<gst_app::AppSrc>());
        if is_source(&best) && !is_source(&next) {
            best = next;
            break;
        }
    }
    match best.view() {
        gst::MessageView::Error(e) => error_of(&best, e, element),
        _ => AnalyseError::Internal("the pipeline failed".into()),
    }
}

/// The first error on `bus`, classified as [`error_of`] does.
fn classify_error(bus: &gst::Bus, element: &gst::Element) -> Option<AnalyseError> {
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(error_of(&msg, e, element)),
        _ => None,
    }
}

/// The text of the first error message on `bus` within 2 s, if any.
pub fn first_error(bus: &gst::Bus) -> Option<String> {
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(2), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(error_text(&msg, e)),
        _ => None,
    }
}

/// What GStreamer said, from which element, and the details of its debug string (as
/// `emotiondetect-video` words it).
pub use emotiondetect_tools::video::gst_error_text as error_text;

/// One webcam client's pipeline: `appsrc (image/jpeg) ! jpegdec ! videoconvert ! emotiondetect
/// draw=false ! fakesink`, fed one frame at a time; kept for the connection so that the tracker
/// follows the people (stable ids, smoothed emotions).
pub struct WebcamSession {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    element: gst::Element,
    bus: gst::Bus,
    started: Instant,
}

impl WebcamSession {
    /// Builds and starts the pipeline.
    ///
    /// Errors: a missing GStreamer element or a failed start (the reason).
    pub fn new() -> Result<WebcamSession, String> {
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder()
            .caps(&gst::Caps::builder("image/jpeg").field("framerate", gst::Fraction::new(0, 1)).build())
            .format(gst::Format::Time)
            .build();
        let element = new_element(false)?;
        let sink = gst::ElementFactory::make("fakesink").property("sync", false).build().map_err(|e| e.to_string())?;
        let chain = [src.clone().upcast(), make("jpegdec")?, make("videoconvert")?, element.clone(), sink];
        pipeline.add_many(&chain).map_err(|e| e.to_string())?;
        gst::Element::link_many(&chain).map_err(|e| format!("cannot link the webcam pipeline: {e}"))?;
        let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
        if pipeline.set_state(gst::State::Playing).is_err() {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(format!("the webcam pipeline does not start: {}", first_error(&bus).unwrap_or_default()));
        }
        Ok(WebcamSession { pipeline, src, element, bus, started: Instant::now() })
    }

    /// Analyses one JPEG frame. Blocking (tens of milliseconds). `max_pixels`: as for
    /// [`analyse_image`].
    ///
    /// Errors: [`AnalyseError::BadInput`] for a frame that is not a JPEG, is cut short or does
    /// not decode, [`AnalyseError::TooLarge`] past `max_pixels` (the session stays usable after
    /// these two), [`AnalyseError::Internal`] when the pipeline failed or took longer than
    /// 10 s; after an error the session must be replaced.
    pub fn analyse(&mut self, jpeg: &[u8], max_pixels: Option<u64>) -> Result<FrameReport, AnalyseError> {
        if image_type(jpeg).map_err(AnalyseError::BadInput)? != "image/jpeg" {
            return Err(AnalyseError::BadInput("webcam frames must be JPEG images, this one is a PNG".into()));
        }
        check_picture(jpeg, max_pixels)?;
        let pts = gst::ClockTime::from_nseconds(self.started.elapsed().as_nanos() as u64);
        let mut buffer = gst::Buffer::from_slice(jpeg.to_vec());
        if let Some(b) = buffer.get_mut() {
            b.set_pts(pts);
        }
        self.src.push_buffer(buffer).map_err(|e| AnalyseError::Internal(format!("the webcam pipeline refused the frame: {e:?}")))?;
        let deadline = Instant::now() + FRAME_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
            let Some(msg) = self.bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { break };
            match msg.view() {
                gst::MessageView::Element(_) => match report_of(&msg) {
                    Some(Ok(r)) if r.timestamp == Some(pts.nseconds()) => return Ok(r),
                    Some(Err(e)) => return Err(e),
                    _ => {}
                },
                gst::MessageView::Error(e) => return Err(error_of(&msg, e, &self.element)),
                _ => {}
            }
        }
        Err(AnalyseError::Internal(format!("no result for the frame within {} s", FRAME_TIMEOUT.as_secs())))
    }
}

impl Drop for WebcamSession {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
