// SPDX-License-Identifier: MIT
//! RTSP server that streams video annotated by `emotiondetect` (faces boxed, emotions labelled).
//!
//! ```text
//! cargo run --release --example rtsp-server -- [--address 0.0.0.0] [--port 8554] [--mount /emotions] [--keep-all-frames]
//!     [--loop] [INPUT] [PROP=VALUE ...]
//! ```
//!
//! INPUT is a video file, `v4l2` or `v4l2:/dev/videoN` (a camera), an `rtsp://` URL, or `test`
//! (videotestsrc, the default). PROP=VALUE pairs are set on the emotiondetect element, e.g.
//! `threshold=0.5 detector-size=320`. Watch it with
//! `gst-launch-1.0 playbin uri=rtsp://127.0.0.1:8554/emotions` or any RTSP player.
//!
//! Live inputs (a camera, an RTSP stream, `test`) go through `queue leaky=downstream
//! max-size-buffers=1` before the element: when the element is slower than the camera, the
//! frames it has no time for are dropped and the stream stays live (latency about one
//! processing time) instead of falling further and further behind. `--keep-all-frames` removes
//! that queue. Files are not live (they are read as fast as the stream is sent), so they get no
//! leaky queue; if the element cannot keep up with a file, raise `inference-interval`.
//! `--loop` serves a file endlessly, as a camera would: a second pipeline decodes it in real
//! time, seeking back to the start at its end, and feeds the media through an `appsrc` that
//! timestamps each frame as it arrives (so the stream's clock never jumps back).
//!
//! The element is registered from this binary (statically, from the crate it is built with), so
//! neither an installed plugin nor GST_PLUGIN_PATH is needed; the models and ONNX Runtime are
//! found as the installed plugin finds them (run ./setup.sh once).

use std::process::ExitCode;

use gst_rtsp_server::prelude::*;

const USAGE: &str =
    "usage: rtsp-server [--address ADDR] [--port PORT] [--mount /PATH] [--keep-all-frames] [--loop] [INPUT] [PROP=VALUE ...]
  --loop: a file INPUT starts again at its end, for ever (a file is otherwise served once)
  --address: the address to listen on (default 0.0.0.0, every interface; 127.0.0.1: this machine only)
  INPUT: a video file, v4l2 or v4l2:/dev/videoN (camera), rtsp://... (an RTSP stream),
         or test (videotestsrc, the default)
  --keep-all-frames: no leaky queue before the element for live inputs (latency then grows
         when the element is slower than the camera)
  PROP=VALUE: emotiondetect properties, e.g. threshold=0.5 draw=true";

struct Args {
    address: String,
    port: u16,
    mount: String,
    input: String,
    props: Vec<String>,
    keep_all_frames: bool,
    looped: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        address: "0.0.0.0".into(),
        port: 8554,
        mount: "/emotions".into(),
        input: "test".into(),
        props: Vec::new(),
        keep_all_frames: false,
        looped: false,
    };
    let mut input_set = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--keep-all-frames" => args.keep_all_frames = true,
            "--loop" => args.looped = true,
            "--address" | "-a" => args.address = it.next().ok_or("--address needs a value")?,
            _ if a.starts_with("--address=") => args.address = a["--address=".len()..].into(),
            "--port" | "-p" => {
                let v = it.next().ok_or("--port needs a value")?;
                args.port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
            }
            "--mount" | "-m" => {
                let v = it.next().ok_or("--mount needs a value")?;
                args.mount = if v.starts_with('/') { v } else { format!("/{v}") };
            }
            _ if a.starts_with("--port=") => {
                let v = &a["--port=".len()..];
                args.port = v.parse().map_err(|_| format!("bad port {v:?}"))?;
            }
            _ if a.starts_with("--mount=") => {
                let v = &a["--mount=".len()..];
                args.mount = if v.starts_with('/') { v.into() } else { format!("/{v}") };
            }
            _ if a.starts_with('-') && a != "-" => return Err(format!("unknown option {a}")),
            // PROP=VALUE, but not an rtsp:// URL or a file path that happens to contain '='
            _ if is_property(&a) => args.props.push(a),
            _ if !input_set => {
                args.input = a;
                input_set = true;
            }
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    if args.looped && (is_live(&args.input) || args.input.contains("://")) {
        return Err(format!("--loop is for a file INPUT, not {}", args.input));
    }
    Ok(args)
}

fn is_property(a: &str) -> bool {
    match a.split_once('=') {
        Some((k, _)) => !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        None => false,
    }
}

/// Quotes a value for a gst-launch style description.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether INPUT is a live source (a camera, an RTSP stream, the live test pattern).
fn is_live(input: &str) -> bool {
    input == "test" || input == "v4l2" || input.starts_with("v4l2:") || input.starts_with("rtsp://") || input.starts_with("rtsps://")
}

/// The part of the launch line that ends in decoded raw video.
fn source(input: &str) -> Result<String, String> {
    Ok(match input {
        "test" => "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=480,framerate=30/1".into(),
        "v4l2" => "v4l2src ! decodebin".into(),
        _ if input.starts_with("v4l2:") => format!("v4l2src device={} ! decodebin", quote(&input[5..])),
        _ if input.starts_with("rtsp://") || input.starts_with("rtsps://") => {
            format!("rtspsrc location={} latency=200 ! decodebin", quote(input))
        }
        _ if input.contains("://") => format!("uridecodebin uri={}", quote(input)),
        _ => {
            let path = std::path::Path::new(input);
            if !path.is_file() {
                return Err(format!("{input}: no such file (INPUT is a file, v4l2, rtsp://..., or test)"));
            }
            let abs = path.canonicalize().map_err(|e| format!("{input}: {e}"))?;
            // videorate: DivX-style AVI files decode with duplicate timestamps
            format!("filesrc location={} ! decodebin ! videorate", quote(&abs.to_string_lossy()))
        }
    })
}

/// The file a looped media reads, checked.
fn looped_file(input: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::Path::new(input);
    if !path.is_file() {
        return Err(format!("{input}: no such file (--loop needs a video file)"));
    }
    path.canonicalize().map_err(|e| format!("{input}: {e}"))
}

fn launch_line(args: &Args) -> Result<String, String> {
    let mut element = String::from("emotiondetect");
    for p in &args.props {
        let (k, v) = p.split_once('=').expect("checked by is_property");
        element.push_str(&format!(" {k}={}", quote(v)));
    }
    // live input: keep only the newest frame while the element is busy (see the top of the file)
    let queue = if is_live(&args.input) && !args.keep_all_frames {
        "queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 ! "
    } else {
        ""
    };
    Ok(format!(
        "( {} ! {queue}videoconvert ! {element} ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 config-interval=1 )",
        if args.looped {
            looped_file(&args.input)?;
            format!("appsrc name={LOOP_SOURCE} is-live=true do-timestamp=true format=time")
        } else {
            source(&args.input)?
        }
    ))
}

/// The `appsrc` of a looped media.
const LOOP_SOURCE: &str = "loopsrc";

/// Decodes `file` in real time into `appsrc`, seeking back to the start at each end. Returns the
/// decoding pipeline (stop it by setting it to NULL).
fn start_feeder(file: &std::path::Path, appsrc: gst_app::AppSrc) -> Result<gst::Pipeline, String> {
    let desc = format!(
        "filesrc location={} ! decodebin ! videorate ! videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=true max-buffers=2",
        quote(&file.to_string_lossy())
    );
    let feeder = gst::parse::launch(&desc).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let sink = feeder.by_name("out").and_then(|s| s.downcast::<gst_app::AppSink>().ok()).ok_or("no appsink")?;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let caps = sample.caps_owned();
                if appsrc.caps() != caps {
                    appsrc.set_caps(caps.as_ref());
                }
                let buffer = sample.buffer_owned().ok_or(gst::FlowError::Error)?;
                appsrc.push_buffer(buffer)
            })
            .build(),
    );
    let weak = feeder.downgrade();
    let watch = feeder.bus().ok_or("no bus")?.add_watch(move |_, msg| {
        let Some(feeder) = weak.upgrade() else { return gst::glib::ControlFlow::Break };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                if let Err(e) = feeder.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO) {
                    eprintln!("rtsp-server: --loop: cannot seek back to the start: {e}");
                }
            }
            gst::MessageView::Error(e) => eprintln!("rtsp-server: --loop: {} ({:?})", e.error(), e.debug()),
            _ => {}
        }
        gst::glib::ControlFlow::Continue
    });
    let watch = watch.map_err(|e| e.to_string())?;
    // The watch lives as long as the feeder: dropped with it when the media ends.
    unsafe { feeder.set_data("bus-watch", watch) };
    feeder.set_state(gst::State::Playing).map_err(|e| format!("the --loop decoder does not start: {e}"))?;
    Ok(feeder)
}

/// Starts a feeder for every media the factory makes, stopped when the media is unprepared.
fn loop_media(factory: &gst_rtsp_server::RTSPMediaFactory, file: std::path::PathBuf) {
    factory.connect_media_configure(move |_, media| {
        let appsrc = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|bin| bin.by_name_recurse_up(LOOP_SOURCE))
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
        let Some(appsrc) = appsrc else {
            eprintln!("rtsp-server: --loop: the media has no {LOOP_SOURCE}");
            return;
        };
        match start_feeder(&file, appsrc) {
            Ok(feeder) => {
                media.connect_unprepared(move |_| {
                    let _ = feeder.set_state(gst::State::Null);
                });
            }
            Err(e) => eprintln!("rtsp-server: --loop: {e}"),
        }
    });
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rtsp-server: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    let launch = match launch_line(&args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rtsp-server: {e}");
            return ExitCode::from(2);
        }
    };

    if let Err(e) = gst::init() {
        eprintln!("rtsp-server: cannot initialise GStreamer: {e}");
        return ExitCode::FAILURE;
    }
    // Register the element from the crate this example is built with: it replaces an installed
    // (possibly older) libgstemotiondetect.so for this process.
    if let Err(e) = gstemotiondetect::plugin_register_static() {
        eprintln!("rtsp-server: cannot register the emotiondetect element: {e}");
        return ExitCode::FAILURE;
    }
    // Fail early, with the element's own error, rather than when the first client connects.
    if let Err(e) = check_pipeline(&launch) {
        eprintln!("rtsp-server: the media pipeline does not build: {e}\n  {launch}");
        return ExitCode::FAILURE;
    }

    let main_loop = gst_rtsp_server::glib::MainLoop::new(None, false);
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(&args.address);
    server.set_service(&args.port.to_string());
    let Some(mounts) = server.mount_points() else {
        eprintln!("rtsp-server: the server has no mount points");
        return ExitCode::FAILURE;
    };
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(&launch);
    // one pipeline (one decode, one inference) for all clients
    factory.set_shared(true);
    if args.looped {
        match looped_file(&args.input) {
            Ok(file) => loop_media(&factory, file),
            Err(e) => {
                eprintln!("rtsp-server: {e}");
                return ExitCode::from(2);
            }
        }
    }
    mounts.add_factory(&args.mount, factory);

    let _source_id = match server.attach(None) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("rtsp-server: cannot listen on {}:{}: {e}", args.address, args.port);
            return ExitCode::FAILURE;
        }
    };
    println!("pipeline: {launch}");
    let host = if args.address == "0.0.0.0" || args.address == "::" { "127.0.0.1" } else { args.address.as_str() };
    let url = format!("rtsp://{host}:{}{}", server.bound_port(), args.mount);
    println!("stream ready at {url}");
    println!("  watch:    gst-launch-1.0 playbin uri={url}   (or pipelines/rtsp-in.sh {url})");
    println!("  analyse:  SINK=fakesink MESSAGES=1 pipelines/rtsp-in.sh {url}");
    main_loop.run();
    ExitCode::SUCCESS
}

/// Builds the media pipeline once and takes it to READY, which loads the models (the element
/// fails NULL->READY with a clear message when a model or ONNX Runtime is missing).
fn check_pipeline(launch: &str) -> Result<(), String> {
    let inner = launch.trim().trim_start_matches('(').trim_end_matches(')');
    let pipeline = gst::parse::launch(inner).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("pipeline has no bus")?;
    let res = pipeline.set_state(gst::State::Ready);
    let mut err = None;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            err = Some(format!("{}{}", e.error(), e.debug().map(|d| format!(" ({d})")).unwrap_or_default()));
            break;
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    match (res, err) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(e.to_string()),
        (Ok(_), None) => Ok(()),
    }
}
