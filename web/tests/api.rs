// SPDX-License-Identifier: MIT
//! The HTTP API of emotiondetect-web on real photos, Megamind.avi and the real models:
//! `POST /api/analyse` (a photo, a text file, an over-limit body), the webcam WebSocket with 8
//! clients at once and with a client that vanishes mid-stream, video uploads that are refused
//! or abandoned, and the loopback-only default.

#[path = "../../tests/common/mod.rs"]
mod common;
mod web;

use std::time::{Duration, Instant};

use emotiondetect_core::frame_report::FrameReport;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use web::Server;

#[test]
fn analyse_a_photo_gives_its_frame_report_and_annotated_png() {
    let server = Server::start(&[]);
    let photo = common::group_photo("1.jpg");
    let expected = web::element_faces(&photo);
    assert!(expected >= 10, "1.jpg is a group photo: the element finds {expected} faces");
    let body = std::fs::read(&photo).unwrap();
    let url = format!("{}/api/analyse", server.base);
    let mut times = Vec::new();
    for _ in 0..3 {
        let (status, json, t) = web::post(&url, "image/jpeg", &body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&json));
        let report = FrameReport::from_json(std::str::from_utf8(&json).unwrap()).expect("a FrameReport");
        assert_eq!(report.objects.len(), expected, "the server finds what the element finds");
        // Faces under min-emotion-face-size are reported unknown, without scores.
        assert!(report
            .objects
            .iter()
            .all(|o| o.emotion.labels.len() == 7 && (o.emotion.is_unknown() || o.emotion.smoothed_scores.len() == 7)));
        assert!(report.objects.iter().any(|o| o.emotion.smoothed_scores.len() == 7), "some faces are classified");
        times.push(t.as_secs_f64() * 1e3);
    }
    eprintln!("POST /api/analyse 1.jpg ({expected} faces, {} KB): {times:.0?} ms", body.len() / 1024);

    let (status, png, _) = web::post(&format!("{url}?annotated=1"), "image/jpeg", &body);
    assert_eq!(status, 200);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    let report: FrameReport = serde_json::from_slice(&web::post(&url, "image/jpeg", &body).1).unwrap();
    assert_eq!((w, h), (report.resolution.width, report.resolution.height), "the annotated PNG has the photo's size");
}

#[test]
fn analyse_refuses_text_with_the_decoders_reason_and_big_bodies_with_413() {
    let server = Server::start(&["--max-image-mb", "0.05"]);
    let url = format!("{}/api/analyse", server.base);
    let text = std::fs::read(common::repo_dir().join("README.md")).unwrap();
    let (status, body, _) = web::post(&url, "image/jpeg", &text[..40_000.min(text.len())]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a JPEG or PNG image") && body.contains("text/plain"), "the reason: {body}");

    // A JPEG cut inside its headers: refused before decoding (jpegdec would fill the rest grey).
    let photo = std::fs::read(common::group_photo("13.jpg")).unwrap();
    let (status, body, _) = web::post(&url, "image/jpeg", &photo[..300]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("corrupt"), "says why: {body}");

    let big = std::fs::read(common::group_photo("1.jpg")).unwrap();
    assert!(big.len() > 60_000);
    assert_eq!(web::post_raw(&url, &big, true), 413, "past --max-image-mb 0.05, by its Content-Length");
    assert_eq!(web::post_raw(&url, &big, false), 413, "past --max-image-mb 0.05, chunked");
    assert_eq!(web::get_json(&format!("{}/api/info", server.base))["max_image_bytes"], 52428);
}

/// One webcam client: sends `frames` one at a time (the next when the reply is back), returns
/// (reports with at least one face, round trips in ms).
async fn webcam_client(base: &str, frames: &[Vec<u8>]) -> (usize, Vec<f64>) {
    let url = format!("{}/api/webcam", base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap_or_else(|e| panic!("connecting {url}: {e}"));
    let (mut with_faces, mut rtts) = (0, Vec::new());
    for frame in frames {
        let t = Instant::now();
        ws.send(Message::Binary(frame.clone().into())).await.expect("sending a frame");
        let reply = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.expect("a reply within 60 s");
        let text = match reply {
            Some(Ok(Message::Text(t))) => t.to_string(),
            other => panic!("expected a text reply, got {other:?}"),
        };
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(v.get("error").is_none(), "{text}");
        if v.get("dropped").is_some() {
            continue;
        }
        rtts.push(t.elapsed().as_secs_f64() * 1e3);
        let report: FrameReport = serde_json::from_value(v["report"].clone()).expect("a FrameReport");
        if !report.objects.is_empty() {
            with_faces += 1;
        }
    }
    let _ = ws.close(None).await;
    (with_faces, rtts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn eight_webcam_clients_all_get_results() {
    let server = Server::start(&[]);
    let frames = web::megamind_jpegs(10, 3);
    assert_eq!(frames.len(), 10);
    let started = Instant::now();
    let results = runtime().block_on(async {
        let clients: Vec<_> = (0..8).map(|_| tokio::spawn(webcam_client_owned(server.base.clone(), frames.clone()))).collect();
        let mut out = Vec::new();
        for c in clients {
            out.push(c.await.expect("client task"));
        }
        out
    });
    for (i, (with_faces, rtts)) in results.iter().enumerate() {
        assert_eq!(rtts.len(), frames.len(), "client {i}: a result per frame (one at a time, none dropped)");
        assert!(*with_faces >= 5, "client {i}: faces in {with_faces} of {} frames of Megamind", frames.len());
    }
    let all: Vec<f64> = results.iter().flat_map(|r| r.1.iter().copied()).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let max = all.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "8 webcam clients x {} frames: {} results in {:.1} s, round trip mean {mean:.0} ms, max {max:.0} ms",
        frames.len(),
        all.len(),
        started.elapsed().as_secs_f64()
    );
}

async fn webcam_client_owned(base: String, frames: Vec<Vec<u8>>) -> (usize, Vec<f64>) {
    webcam_client(&base, &frames).await
}

#[test]
fn a_client_that_vanishes_mid_stream_or_mid_upload_does_not_disturb_the_others() {
    let mut server = Server::start(&[]);
    let frames = web::megamind_jpegs(8, 3);
    let base = server.base.clone();
    runtime().block_on(async {
        // A greedy client: frames as fast as it can, never reading, then gone without a close.
        let url = format!("{}/api/webcam", base.replace("http://", "ws://"));
        let (mut greedy, _) = tokio_tungstenite::connect_async(&url).await.expect("connecting");
        for _ in 0..5 {
            for f in &frames {
                greedy.send(Message::Binary(f.clone().into())).await.expect("sending");
            }
        }
        let steady = tokio::spawn(webcam_client_owned(base.clone(), frames.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(greedy); // the TCP connection closes mid-stream
        let (with_faces, rtts) = steady.await.expect("the steady client");
        assert_eq!(rtts.len(), frames.len(), "the steady client got every result");
        assert!(with_faces >= 4, "with faces: {with_faces}");
    });

    // An upload that stops half-way: the connection closes before the declared length.
    {
        use std::io::Write;
        let addr = base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connecting");
        let clip = std::fs::read(common::megamind()).unwrap();
        write!(s, "POST /api/video HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", clip.len()).unwrap();
        s.write_all(&clip[..clip.len() / 3]).unwrap();
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.alive(), "the server survives");
    let left: Vec<_> = std::fs::read_dir(&server.temp).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "the abandoned upload is removed: {left:?}");
    // And it still serves.
    let (with_faces, rtts) = runtime().block_on(webcam_client_owned(base.clone(), frames[..3].to_vec()));
    assert_eq!((rtts.len(), with_faces > 0), (3, true));
    let (status, _, _) = web::post(&format!("{base}/api/analyse"), "image/jpeg", &std::fs::read(common::group_photo("13.jpg")).unwrap());
    assert_eq!(status, 200);
}

#[test]
fn video_uploads_that_are_not_videos_or_too_big_are_refused() {
    let server = Server::start(&["--max-video-mb", "0.5"]);
    let url = format!("{}/api/video", server.base);
    let (status, body, _) = web::post(&url, "video/x-msvideo", b"just some text, not a video at all\n");
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a video"), "{body}");
    let (status, body, _) = web::post(&url, "image/jpeg", &std::fs::read(common::group_photo("13.jpg")).unwrap());
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("image/jpeg"), "says it is an image");
    let megamind = std::fs::read(common::megamind()).unwrap();
    assert_eq!(web::post_raw(&url, &megamind, true), 413, "Megamind.avi is past --max-video-mb 0.5, by its Content-Length");
    assert_eq!(web::post_raw(&url, &megamind, false), 413, "Megamind.avi is past --max-video-mb 0.5, chunked");
    let left: Vec<_> = std::fs::read_dir(&server.temp).unwrap().collect();
    assert!(left.is_empty(), "refused uploads leave nothing: {left:?}");
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emotiondetect-web")).args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote") && err.contains("0.0.0.0:0"), "{err}");
}
