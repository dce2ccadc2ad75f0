// SPDX-License-Identifier: MIT
//! The HTTP API and the page (docs/web.md):
//!
//! - `GET /` the page, `GET /app.js`, `GET /style.css` (embedded in the binary);
//! - `POST /api/analyse` a JPEG/PNG body -> its FrameReport JSON (`?annotated=1`: the
//!   element's annotated PNG); 400 with the decoder's reason, 413 past `--max-image-mb`;
//! - `GET /api/webcam` WebSocket: binary JPEG frames in, one JSON text reply per frame out;
//! - `POST /api/video` a video body -> 202 `{"id", "status"}`; `GET /api/video/{id}` its
//!   status; `GET /api/video/{id}/{file}` a report file;
//! - `GET /api/sources`, `GET /api/sources/{name}/mjpeg`, `GET /api/sources/{name}/events` (SSE
//!   of FrameReports);
//! - `GET /api/samples`, `GET /api/samples/{name}` the Photo tab's sample photos;
//! - `GET /api/info` the limits, the device and the emotions' colours;
//! - `GET /api` the API page (endpoints with curl examples);
//! - any other path: 404, a method a route does not take: 405; every error is `{"error": …}`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::config::Config;
use crate::engine::{self, AnalyseError, WebcamSession};
use crate::jobs::Jobs;
use crate::samples::Sample;
use crate::server::{self, BodyPace};
use crate::sources::Source;
use crate::upload::{self, UploadError};

/// Bytes of an upload's start that typefinding looks at.
const TYPEFIND_BYTES: usize = 64 * 1024;
/// Photo requests waiting for a free analysis slot, per slot; past it: 503.
const PHOTO_QUEUE_PER_SLOT: usize = 4;

/// What the handlers share.
pub struct App {
    pub config: Config,
    pub device: String,
    pub jobs: Jobs,
    pub sources: Vec<Arc<Source>>,
    /// The Photo tab's sample photos.
    pub samples: Vec<Sample>,
    photo_slots: Arc<Semaphore>,
    photo_waiting: AtomicUsize,
    video_slots: Arc<Semaphore>,
    webcam_slots: Arc<Semaphore>,
}

impl App {
    /// The shared state for `config`.
    pub fn new(config: Config, device: String, jobs: Jobs, sources: Vec<Arc<Source>>, samples: Vec<Sample>) -> App {
        App {
            photo_slots: Arc::new(Semaphore::new(config.max_photo_jobs)),
            photo_waiting: AtomicUsize::new(0),
            video_slots: Arc::new(Semaphore::new(config.max_video_jobs)),
            webcam_slots: Arc::new(Semaphore::new(config.max_webcam_clients)),
            config,
            device,
            jobs,
            sources,
            samples,
        }
    }
}

/// The router of every endpoint.
pub fn router(app: Arc<App>) -> Router {
    let c = &app.config;
    let pace = BodyPace { timeout: Duration::from_secs(c.body_timeout), min_rate: c.min_body_rate as u64 * 1024 };
    Router::new()
        .route("/", get(|| asset(include_str!("../assets/index.html"), "text/html; charset=utf-8")))
        .route("/app.js", get(|| asset(include_str!("../assets/app.js"), "text/javascript; charset=utf-8")))
        .route("/style.css", get(|| asset(include_str!("../assets/style.css"), "text/css; charset=utf-8")))
        .route("/api/info", get(info))
        .route("/api/analyse", post(analyse).layer(DefaultBodyLimit::disable()))
        .route("/api/webcam", get(webcam))
        .route("/api/video", post(upload_video).layer(DefaultBodyLimit::disable()))
        .route("/api/video/{id}", get(video_status))
        .route("/api/video/{id}/{file}", get(video_file))
        .route("/api/sources", get(sources))
        .route("/api/samples", get(samples))
        .route("/api/samples/{name}", get(sample))
        .route("/api/sources/{name}/mjpeg", get(mjpeg))
        .route("/api/sources/{name}/events", get(events))
        .route("/api", get(|| asset(include_str!("../assets/api.html"), "text/html; charset=utf-8")))
        .fallback(|req: Request| async move {
            error(StatusCode::NOT_FOUND, format!("no such page or endpoint: {} (the API: /api)", req.uri().path()))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            error(StatusCode::METHOD_NOT_ALLOWED, format!("{} is not allowed on {} (the API: /api)", req.method(), req.uri().path()))
        })
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(move |req, next| server::paced_body(pace, req, next)))
        .with_state(app)
}

async fn asset(body: &'static str, mime: &'static str) -> Response {
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// An error response: `{"error": message}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// Error responses that are not JSON yet (axum's own rejections: a bad query, a WebSocket
/// request without its upgrade headers, ...) as `{"error": text}`, so that every error of the
/// API has one shape; the text is kept, and the status and other headers (`Allow`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let json = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let text = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let reply = error(status, text);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, reply.into_body())
}

/// The page's colour of each emotion (`"#rrggbb"`), the overlay's and the timeline's
/// ([`emotiondetect_core::overlay::label_colour`]), and of `unknown`.
fn palette() -> serde_json::Map<String, serde_json::Value> {
    let hex = |[r, g, b]: [u8; 3]| serde_json::Value::from(format!("#{r:02x}{g:02x}{b:02x}"));
    let labels = emotiondetect_core::classification::FER2013_LABELS.iter().copied().chain(["contempt", "unknown"]);
    labels.map(|l| (l.to_string(), hex(emotiondetect_core::overlay::label_colour(l)))).collect()
}

async fn info(State(app): State<Arc<App>>) -> Response {
    let c = &app.config;
    Json(serde_json::json!({
        "device": app.device,
        "max_image_bytes": c.max_image_bytes,
        "max_video_bytes": c.max_video_bytes,
        "max_video_jobs": c.max_video_jobs,
        "max_webcam_clients": c.max_webcam_clients,
        "sources": app.sources.len(),
        "palette": palette(),
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct AnalyseQuery {
    annotated: Option<String>,
}

/// The request's `Content-Length`, when it gives one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// A body read failure as the response: 408 for a too slow upload, else 400.
fn body_error(e: &axum::Error) -> Response {
    match server::too_slow(e) {
        Some(slow) => error(StatusCode::REQUEST_TIMEOUT, slow.to_string()),
        None => error(StatusCode::BAD_REQUEST, format!("the upload was interrupted: {e}")),
    }
}

/// An upload that could not be read, as the response (see [`body_error`]; a bad form: 400).
fn upload_error(e: &UploadError) -> Response {
    match e {
        UploadError::Body(e) => body_error(e),
        UploadError::Form(m) => error(StatusCode::BAD_REQUEST, m.clone()),
    }
}

/// `POST /api/analyse`: the body is the image (413 from its `Content-Length` alone when that
/// is over the limit: nothing is read).
async fn analyse(State(app): State<Arc<App>>, Query(q): Query<AnalyseQuery>, headers: HeaderMap, body: Body) -> Response {
    let annotated = matches!(q.annotated.as_deref(), Some("1" | "true" | "yes"));
    let limit = app.config.max_image_bytes;
    let too_big =
        || error(StatusCode::PAYLOAD_TOO_LARGE, format!("the image is larger than the limit of {} MB (--max-image-mb)", mb(limit as u64)));
    if content_length(&headers).is_some_and(|n| n > limit as u64) {
        return too_big();
    }
    let read = match upload::stream(&headers, body).await {
        Ok(chunks) => upload::collect(chunks, limit).await,
        Err(e) => Err(e),
    };
    let body = match read {
        Ok(Some(b)) => b,
        Ok(None) => return too_big(),
        Err(e) => return upload_error(&e),
    };
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: send the JPEG or PNG image as the request body or as a form's file (curl -F file=@photo.jpg)",
        );
    }
    let limit = app.config.max_photo_jobs * PHOTO_QUEUE_PER_SLOT;
    if app.photo_waiting.fetch_add(1, Ordering::SeqCst) >= limit {
        app.photo_waiting.fetch_sub(1, Ordering::SeqCst);
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("busy: {limit} photos are already being analysed or waiting"));
    }
    let permit = app.photo_slots.clone().acquire_owned().await;
    app.photo_waiting.fetch_sub(1, Ordering::SeqCst);
    let Ok(permit) = permit else { return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping") };
    let started = Instant::now();
    let max_pixels = app.config.max_pixels;
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        engine::analyse_image(&body, annotated, max_pixels)
    })
    .await;
    let ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3);
    match result {
        Ok(Ok(a)) => match a.png {
            Some(png) => ([(header::CONTENT_TYPE, "image/png")], [("x-analysis-ms", ms)], png).into_response(),
            None => ([(header::CONTENT_TYPE, "application/json")], [("x-analysis-ms", ms)], a.report.to_json()).into_response(),
        },
        Ok(Err(AnalyseError::BadInput(m))) => error(StatusCode::BAD_REQUEST, m),
        Ok(Err(AnalyseError::TooLarge(m))) => error(StatusCode::PAYLOAD_TOO_LARGE, m),
        Ok(Err(AnalyseError::Internal(m))) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the analysis failed: {e}")),
    }
}

/// `GET /api/webcam`: the WebSocket of one webcam client.
async fn webcam(State(app): State<Arc<App>>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = app.webcam_slots.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("busy: {} webcam clients already (--max-webcam-clients)", app.config.max_webcam_clients),
        );
    };
    let max_pixels = app.config.max_pixels;
    ws.max_message_size(app.config.max_image_bytes).on_upgrade(move |socket| webcam_client(socket, permit, max_pixels))
}

/// Frames from the socket go to the client's analysis thread through a channel of one: a frame
/// that arrives while one is being analysed is dropped (and said so), never queued, so the
/// latency stays one analysis at most. Replies go back as they come; a client that stops
/// reading only stalls its own connection.
async fn webcam_client(socket: WebSocket, _permit: OwnedSemaphorePermit, max_pixels: Option<u64>) {
    let (mut tx, mut rx) = socket.split();
    let (frame_tx, frame_rx) = std::sync::mpsc::sync_channel::<(u64, Bytes)>(1);
    let (reply_tx, mut reply_rx) = mpsc::channel::<String>(4);
    let worker = std::thread::Builder::new().name("webcam".into()).spawn(move || webcam_worker(frame_rx, reply_tx, max_pixels));
    if worker.is_err() {
        let _ = tx.send(Message::Text(r#"{"error":"the server cannot start a thread"}"#.into())).await;
        return;
    }
    let mut n = 0u64;
    loop {
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Binary(frame))) => {
                    n += 1;
                    if let Err(std::sync::mpsc::TrySendError::Full(_)) = frame_tx.try_send((n, frame)) {
                        let dropped = format!(r#"{{"frame":{n},"dropped":true}}"#);
                        if tx.send(Message::Text(dropped.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // text, ping, pong: nothing to do
            },
            reply = reply_rx.recv() => match reply {
                Some(text) => {
                    if tx.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    // Dropping frame_tx ends the worker, which stops its pipeline.
}

/// The analysis thread of one webcam client: a [`WebcamSession`], rebuilt after an error.
fn webcam_worker(frames: std::sync::mpsc::Receiver<(u64, Bytes)>, replies: mpsc::Sender<String>, max_pixels: Option<u64>) {
    let mut session: Option<WebcamSession> = None;
    while let Ok((n, frame)) = frames.recv() {
        let started = Instant::now();
        let result = match session.as_mut() {
            Some(s) => s.analyse(&frame, max_pixels),
            None => WebcamSession::new().map_err(AnalyseError::Internal).and_then(|s| session.insert(s).analyse(&frame, max_pixels)),
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let reply = match result {
            Ok(report) => format!(r#"{{"frame":{n},"analysis_ms":{ms:.1},"report":{}}}"#, report.to_json()),
            Err(e) => {
                session = None;
                serde_json::json!({ "frame": n, "error": e.to_string() }).to_string()
            }
        };
        if replies.blocking_send(reply).is_err() {
            break;
        }
    }
}

/// `POST /api/video`: the body is streamed into the job's directory (413 past the limit, the
/// job removed if the client goes away), typefound (400 unless a video), then analysed.
async fn upload_video(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let limit = app.config.max_video_bytes;
    let too_big =
        || error(StatusCode::PAYLOAD_TOO_LARGE, format!("the video is larger than the limit of {} MB (--max-video-mb)", mb(limit)));
    if content_length(&headers).is_some_and(|n| n > limit) {
        return too_big();
    }
    let Ok(permit) = app.video_slots.clone().try_acquire_owned() else {
        let n = app.config.max_video_jobs;
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("busy: {n} video analyses are running (--max-video-jobs); try again later"));
    };
    let job = match app.jobs.create() {
        Ok(j) => j,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let received = match upload::stream(&headers, body).await {
        Ok(chunks) => receive(chunks, &job.input_path(), limit).await,
        Err(e) => Err(Upload::Body(e)),
    };
    let head = match received {
        Ok(head) => head,
        Err(status) => {
            app.jobs.remove(job.id);
            return match status {
                Upload::TooBig => too_big(),
                Upload::Body(e) => upload_error(&e),
                Upload::Failed(m) => error(StatusCode::BAD_REQUEST, m),
            };
        }
    };
    if let Err(reason) = video_type(&head) {
        app.jobs.remove(job.id);
        return error(StatusCode::BAD_REQUEST, reason);
    }
    let (id, max_pixels) = (job.id, app.config.max_pixels);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        job.run(max_pixels);
    });
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id, "status": format!("/api/video/{id}") }))).into_response()
}

/// `bytes` in MB as the limits are given: `0.05`, `20` (not `0.0` or `20.0`).
fn mb(bytes: u64) -> String {
    let text = format!("{:.3}", bytes as f64 / (1024.0 * 1024.0));
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

enum Upload {
    TooBig,
    /// The body could not be read (the client went away, or was too slow, or a bad form).
    Body(UploadError),
    Failed(String),
}

/// Writes the upload to `path`, at most `limit` bytes; returns its first [`TYPEFIND_BYTES`].
async fn receive(mut stream: BoxStream<'static, upload::Chunk>, path: &std::path::Path, limit: u64) -> Result<Vec<u8>, Upload> {
    let failed = |e: std::io::Error| Upload::Failed(format!("cannot store the upload: {e}"));
    let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
    let (mut head, mut total) = (Vec::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Upload::Body)?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(Upload::TooBig);
        }
        if head.len() < TYPEFIND_BYTES {
            head.extend_from_slice(&chunk[..chunk.len().min(TYPEFIND_BYTES - head.len())]);
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    if total == 0 {
        return Err(Upload::Failed(
            "empty body: send the video file as the request body or as a form's file (curl -F file=@clip.mp4)".into(),
        ));
    }
    Ok(head)
}

/// Whether the start of an upload is a video container or stream, by GStreamer's typefinders.
///
/// Errors: an image, text, or nothing GStreamer recognises (the reason).
fn video_type(head: &[u8]) -> Result<(), String> {
    let caps = gst_base::type_find_helper_for_data(None::<&gst::Object>, head)
        .map_err(|e| format!("not a video: GStreamer cannot tell what it is ({e})"))?
        .0;
    let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
    if name.starts_with("image/") {
        Err(format!("not a video but an image ({name}): use the Photo tab or POST /api/analyse"))
    } else if name.starts_with("video/") || name.starts_with("application/") {
        Ok(())
    } else {
        Err(format!("not a video: GStreamer's typefinder says {name}"))
    }
}

async fn video_status(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match id.parse().ok().and_then(|id| app.jobs.get(id)) {
        Some(job) => Json(job.status()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no video job {id} (finished jobs are kept up to --max-kept-videos)")),
    }
}

/// A report file, with Range support (the page's video player seeks).
async fn video_file(State(app): State<Arc<App>>, Path((id, file)): Path<(String, String)>, req: Request) -> Response {
    let Some(job) = id.parse().ok().and_then(|id| app.jobs.get(id)) else {
        return error(StatusCode::NOT_FOUND, format!("no video job {id}"));
    };
    let Some((path, mime)) = job.file(&file) else {
        return error(StatusCode::NOT_FOUND, format!("job {id} has no file {file} (yet)"));
    };
    let mut response = match tower_http::services::ServeFile::new(path).oneshot(req).await {
        Ok(r) => r.into_response(),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if response.status().is_success() {
        response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(mime));
    }
    response
}

/// `GET /api/samples`: `[{"name", "url"}]` of the sample photos.
async fn samples(State(app): State<Arc<App>>) -> Response {
    let list: Vec<_> =
        app.samples.iter().map(|s| serde_json::json!({ "name": s.name, "url": format!("/api/samples/{}", s.name) })).collect();
    Json(list).into_response()
}

/// `GET /api/samples/{name}`: one sample photo, found by name in the list loaded at start-up.
async fn sample(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match app.samples.iter().find(|s| s.name == name) {
        Some(s) => ([(header::CONTENT_TYPE, s.mime), (header::CACHE_CONTROL, "max-age=3600")], s.bytes.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no sample photo {name} (GET /api/samples lists them)")),
    }
}

async fn sources(State(app): State<Arc<App>>) -> Response {
    Json(app.sources.iter().map(|s| s.status()).collect::<Vec<_>>()).into_response()
}

/// The source called `name`; `None`: answer [`no_source`].
fn source(app: &App, name: &str) -> Option<Arc<Source>> {
    app.sources.iter().find(|s| s.name == name).cloned()
}

fn no_source(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no source {name}"))
}

/// `multipart/x-mixed-replace` of the source's annotated JPEGs: each client gets the newest
/// frame when it is ready for one.
async fn mjpeg(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let Some(s) = source(&app, &name) else { return no_source(&name) };
    let frames = tokio_stream::wrappers::WatchStream::new(s.frames()).filter_map(|f| async move {
        let jpeg = f?;
        let head = format!("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", jpeg.len());
        Some(Ok::<_, Infallible>(Bytes::from([head.as_bytes(), &jpeg[..], b"\r\n"].concat())))
    });
    ([(header::CONTENT_TYPE, "multipart/x-mixed-replace; boundary=frame"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(frames))
        .into_response()
}

/// Server-Sent Events: one `report` event per analysed frame of the source (its FrameReport).
async fn events(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match source(&app, &name) {
        Some(s) => Sse::new(report_events(s.reports())).keep_alive(KeepAlive::default()).into_response(),
        None => no_source(&name),
    }
}

/// The reports as SSE events; a client that lagged behind skips what it missed.
fn report_events(rx: tokio::sync::broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Result<Event, Infallible>> {
    tokio_stream::wrappers::BroadcastStream::new(rx)
        .filter_map(|r| async move { r.ok().map(|json| Ok(Event::default().event("report").data(json.as_ref()))) })
}
