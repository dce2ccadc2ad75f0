// SPDX-License-Identifier: MIT
//! The web app explains itself (issue 23): every error is JSON, `curl -F` works as well as a raw
//! body, `/api` documents the endpoints with curl examples, the sample photos are served and
//! analysed, and the page's emotion colours are the overlay's. Real photos, real models, the
//! real `curl`.

#[path = "../../tests/common/mod.rs"]
mod common;
mod web;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::Duration;

use emotiondetect_core::frame_report::FrameReport;
use web::Server;

/// `curl ARGS URL`: the HTTP status and the body.
fn curl(args: &[&str], url: &str) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl (apt-get install curl)");
    assert!(out.status.success(), "curl {args:?} {url}: {}", String::from_utf8_lossy(&out.stderr));
    let split = out.stdout.iter().rposition(|&b| b == b'\n').expect("the status line");
    let status = std::str::from_utf8(&out.stdout[split + 1..]).unwrap().trim().parse().unwrap();
    (status, out.stdout[..split].to_vec())
}

/// The body as the API's error shape, `{"error": text}`; panics naming what came instead.
fn error_text(what: &str, body: &[u8]) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or_else(|| panic!("{what}: no \"error\" field: {v}")).to_string()
}

#[test]
fn every_error_is_json_with_its_status() {
    let server = Server::start(&["--max-image-mb", "0.05", "--max-video-jobs", "1"]);
    let base = &server.base;
    let photo = common::group_photo("1.jpg");
    let photo_arg = format!("file=@{}", photo.display());
    let cases: Vec<(&str, Vec<&str>, String, u16)> = vec![
        ("an unknown route", vec![], format!("{base}/nothing/here"), 404),
        ("an unknown API route", vec![], format!("{base}/api/nope"), 404),
        ("GET on a POST route", vec![], format!("{base}/api/analyse"), 405),
        ("DELETE on a GET route", vec!["-X", "DELETE"], format!("{base}/api/sources"), 405),
        ("a WebSocket route without the upgrade", vec![], format!("{base}/api/webcam"), 400),
        ("text as a photo", vec!["--data-binary", "hello", "-H", "Content-Type: text/plain"], format!("{base}/api/analyse"), 400),
        ("a form without a file", vec!["-F", "note=hello"], format!("{base}/api/analyse"), 400),
        ("a photo over --max-image-mb", vec!["-F", &photo_arg], format!("{base}/api/analyse"), 413),
        ("an unknown video job", vec![], format!("{base}/api/video/99"), 404),
        ("an unknown source", vec![], format!("{base}/api/sources/nope/events"), 404),
        ("an unknown sample", vec![], format!("{base}/api/samples/..%2F..%2Fetc%2Fpasswd"), 404),
    ];
    for (what, args, url, status) in cases {
        let (got, body) = curl(&args, &url);
        let text = error_text(what, &body);
        println!("{what}: {got} {text}");
        assert_eq!(got, status, "{what}: {text}");
        assert!(!text.is_empty(), "{what}: an empty message");
    }
}

/// A client still uploading when the server answers early (413 from the `Content-Length`) can
/// finish its upload and read the answer: the server discards the rest of the body instead of
/// resetting the connection, which made curl fail on "Send failure: Broken pipe" in CI.
#[test]
fn an_early_413_reaches_a_client_still_uploading() {
    let server = Server::start(&["--max-image-mb", "0.05"]);
    let addr = server.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connecting");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let size = 4 << 20;
    write!(s, "POST /api/analyse HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n").unwrap();
    // The whole answer first, so the server has reached its close before the body goes out.
    let mut head = Vec::new();
    while !head.ends_with(b"}") {
        let mut byte = [0u8];
        s.read_exact(&mut byte).unwrap_or_else(|e| panic!("reading the answer after {:?}: {e}", String::from_utf8_lossy(&head)));
        head.push(byte[0]);
    }
    let answer = String::from_utf8_lossy(&head);
    assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("limit of 0.05 MB (--max-image-mb)"), "{answer}");
    let chunk = vec![0u8; 64 << 10];
    for sent in (0..size).step_by(chunk.len()) {
        s.write_all(&chunk).unwrap_or_else(|e| panic!("the rest of the body, after {sent} of {size} bytes: {e}"));
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap_or_else(|e| panic!("the close after the body: {e}"));
    assert!(rest.is_empty(), "nothing after the answer: {:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn curl_f_and_a_raw_body_give_the_same_frame_report() {
    let server = Server::start(&[]);
    let photo = common::group_photo("13.jpg");
    let url = format!("{}/api/analyse", server.base);
    let (status, form) = curl(&["-F", &format!("file=@{}", photo.display())], &url);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&form));
    let (status, raw) = curl(&["--data-binary", &format!("@{}", photo.display()), "-H", "Content-Type: image/jpeg"], &url);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let parse = |b: &[u8]| FrameReport::from_json(std::str::from_utf8(b).unwrap()).expect("a FrameReport");
    let (form, raw) = (parse(&form), parse(&raw));
    assert_eq!(form.objects.len(), web::element_faces(&photo), "the faces the element finds");
    let boxes = |r: &FrameReport| r.objects.iter().map(|o| (o.x, o.y, o.w, o.h, o.emotion.label.clone())).collect::<Vec<_>>();
    assert_eq!(boxes(&form), boxes(&raw), "the form's file is the same picture");

    // A video as a form too: the job starts.
    let dir = web::temp_dir();
    let clip = web::megamind_clip(dir.path(), 10);
    let (status, body) = curl(&["-F", &format!("file=@{}", clip.display())], &format!("{}/api/video", server.base));
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn the_api_page_lists_every_endpoint_with_curl_examples() {
    let server = Server::start(&[]);
    let (status, body) = web::get(&format!("{}/api", server.base));
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    for endpoint in [
        "POST /api/analyse",
        "POST /api/video",
        "GET /api/video/N",
        "GET /api/webcam",
        "GET /api/sources",
        "/api/sources/NAME/mjpeg",
        "/api/sources/NAME/events",
        "GET /api/info",
        "GET /api/samples",
    ] {
        assert!(page.contains(endpoint), "/api does not document {endpoint}");
    }
    assert!(page.contains("curl -F file=@photo.jpg"), "a curl example with a form upload");
    assert!(page.contains("{\"error\""), "the error shape");
}

#[test]
fn sample_photos_are_listed_served_and_analysed() {
    let photos = common::group_photo("13.jpg").parent().unwrap().to_path_buf();
    let server = Server::start(&["--samples", photos.to_str().unwrap()]);
    let list = web::get_json(&format!("{}/api/samples", server.base));
    let list = list.as_array().expect("a list");
    let available = std::fs::read_dir(&photos).unwrap().count();
    assert_eq!(list.len(), available.min(12), "the first 12 photos: {list:?}");
    assert_eq!(list[0]["name"], "1.jpg", "in natural order");
    let thirteen = list.iter().find(|s| s["name"] == "13.jpg").expect("13.jpg offered");
    let (status, bytes) = web::get(&format!("{}{}", server.base, thirteen["url"].as_str().unwrap()));
    assert_eq!(status, 200);
    assert_eq!(bytes, std::fs::read(photos.join("13.jpg")).unwrap(), "the file itself");
    let (status, report, _) = web::post(&format!("{}/api/analyse", server.base), "image/jpeg", &bytes);
    assert_eq!(status, 200);
    let report = FrameReport::from_json(std::str::from_utf8(&report).unwrap()).unwrap();
    assert_eq!(report.objects.len(), web::element_faces(&photos.join("13.jpg")));
}

#[test]
fn the_pages_colours_are_the_overlays() {
    let server = Server::start(&[]);
    let info = web::get_json(&format!("{}/api/info", server.base));
    for label in emotiondetect_core::classification::FER2013_LABELS.iter().chain(&["unknown"]) {
        let [r, g, b] = emotiondetect_core::overlay::label_colour(label);
        assert_eq!(info["palette"][label], format!("#{r:02x}{g:02x}{b:02x}"), "{label}: {}", info["palette"]);
    }
    let (_, js) = web::get(&format!("{}/app.js", server.base));
    let js = String::from_utf8(js).unwrap();
    assert!(!js.contains("#dc2626") && js.contains("i.palette"), "the page takes its colours from /api/info");
}
