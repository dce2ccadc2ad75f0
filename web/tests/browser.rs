// SPDX-License-Identifier: MIT
//! The page of emotiondetect-web in a real browser: Debian's chromium, headless, driven over
//! WebDriver (chromedriver) with fantoccini. Each tab is checked from the DOM: the webcam tab
//! with Chromium's fake camera fed from a Y4M file made from Megamind.avi, the photo tab with
//! a group photo, the video tab with a short clip, the streams tab with a looped file source.
//! `EMOTIONDETECT_SCREENSHOTS=1` also saves docs/web.md's screenshots into docs/.

#[path = "../../tests/common/mod.rs"]
mod common;
mod web;

use std::time::Duration;

use fantoccini::Locator;
use web::{Browser, Server};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

/// The texts of the elements matching `selector`.
const TEXTS: &str = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)";

async fn texts(b: &Browser, selector: &str) -> Vec<String> {
    let v = b.client.execute(TEXTS, vec![selector.into()]).await.expect("script");
    serde_json::from_value(v).expect("strings")
}

#[test]
fn webcam_tab_shows_faces_with_emotions_from_the_server() {
    let dir = web::temp_dir();
    let camera = web::megamind_y4m(dir.path(), 120, 640, 480);
    let server = Server::start(&[]);
    runtime().block_on(async {
        let b = Browser::start(Some(&camera)).await;
        b.client.goto(&format!("{}/#webcam", server.base)).await.expect("the page");
        b.client.find(Locator::Id("webcam-start")).await.expect("start button").click().await.expect("click");
        // Tags come from the server's reports (the page writes them from the FrameReport).
        b.wait_for(
            "a face tag in the webcam tab",
            "return [...document.querySelectorAll('#webcam-people .person .tag')].map(e => e.textContent).join('|')",
            Duration::from_secs(60),
        )
        .await;
        let tags = texts(&b, "#webcam-people .person .tag").await;
        assert!(!tags.is_empty() && tags.iter().all(|t| web::is_face_tag(t)), "tags like '#1 happy 0.91': {tags:?}");
        let bars = b.eval("return document.querySelectorAll('#webcam-people .person .bars .bar').length").await;
        assert_eq!(bars.as_u64(), Some(7 * tags.len() as u64), "7 bars per person");
        // Several round trips: the latency shown stays bounded (frames are sent one at a time).
        b.wait_for(
            "10 webcam results",
            "return parseInt(document.getElementById('webcam-latency').dataset.frames) >= 10",
            Duration::from_secs(60),
        )
        .await;
        let stat = texts(&b, "#webcam-latency").await.join("");
        let rtt: f64 = b.eval("return parseFloat(document.getElementById('webcam-latency').dataset.rtt)").await.as_f64().unwrap_or(-1.0);
        eprintln!("webcam tab: {tags:?}; {stat}");
        assert!(stat.starts_with("round trip") && (0.0..5000.0).contains(&rtt), "latency shown: {stat}");
        b.screenshot("web-webcam.png").await;
        b.close().await;
    });
}

#[test]
fn photo_tab_shows_every_face_the_element_finds() {
    let photo = common::group_photo("16.jpg");
    let (expected, classified) = web::element_faces_classified(&photo);
    assert!(expected >= 5 && classified >= 3, "a group photo: {expected} faces, {classified} classified");
    let server = Server::start(&[]);
    runtime().block_on(async {
        let b = Browser::start(None).await;
        b.client.goto(&format!("{}/#photo", server.base)).await.expect("the page");
        let input = b.client.find(Locator::Id("photo-file")).await.expect("file input");
        input.send_keys(&photo.display().to_string()).await.expect("choosing the photo");
        let n =
            b.wait_for("the photo's faces", "return document.getElementById('photo-summary').dataset.faces", Duration::from_secs(60)).await;
        assert_eq!(n.as_str().and_then(|s| s.parse::<usize>().ok()), Some(expected), "the summary counts the element's faces");
        let cards = texts(&b, "#photo-faces .photo-face .tag").await;
        assert_eq!(cards.len(), classified, "a card per classified face (unknown ones are boxed, as the element draws them)");
        assert!(cards.iter().all(|t| web::is_face_tag(t)), "{cards:?}");
        let bars = b.eval("return document.querySelectorAll('#photo-faces .photo-face .bar').length").await;
        assert_eq!(bars.as_u64(), Some(7 * classified as u64), "a bar chart of the 7 probabilities per classified face");
        let size = b.eval("const c = document.getElementById('photo-canvas'); return [c.width, c.height]").await;
        assert!(size[0].as_u64().unwrap_or(0) > 100, "the annotated picture is drawn: {size}");
        let summary = texts(&b, "#photo-summary").await.join("");
        let small = expected - classified;
        if small > 0 {
            assert!(
                summary.contains(&format!("({small} too small to classify)")),
                "the summary says why {small} faces have no card: {summary}"
            );
        }
        let button = texts(&b, "#photo-annotated").await.join("");
        assert_eq!(button, "Download the annotated image", "a plain name");
        b.screenshot("web-photo.png").await;
        b.close().await;
    });
}

#[test]
fn video_tab_gives_a_playable_mp4_and_the_csv() {
    let dir = web::temp_dir();
    let clip = web::megamind_clip(dir.path(), 60);
    let server = Server::start(&[]);
    runtime().block_on(async {
        let b = Browser::start(None).await;
        b.client.goto(&format!("{}/#video", server.base)).await.expect("the page");
        let input = b.client.find(Locator::Id("video-file")).await.expect("file input");
        input.send_keys(&clip.display().to_string()).await.expect("choosing the clip");
        b.wait_for("the video report", "return !document.getElementById('video-result').hidden", Duration::from_secs(180)).await;
        let playable = b
            .wait_for(
                "the MP4 to load in the player",
                "const v = document.getElementById('video-player'); return v.readyState >= 2 && !v.error && v.duration > 1.5 && [v.videoWidth, v.duration]",
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(playable[0].as_u64(), Some(720), "the annotated video plays at the clip's size: {playable}");
        let rows = texts(&b, "#video-people tr").await;
        assert!(rows.len() >= 2 && rows[0].contains("dominant"), "the people CSV as a table: {rows:?}");
        let shares = b.eval("const r = document.querySelector('#video-people tr:nth-child(2)'); return [...r.children].slice(-7).map(td => td.textContent)").await;
        let shares: Vec<String> = serde_json::from_value(shares).unwrap();
        assert!(shares.iter().all(|s| s.ends_with(" %") && s.trim_end_matches(" %").parse::<u32>().is_ok_and(|p| p <= 100)), "shares as percentages: {shares:?}");
        let names = texts(&b, "#video-files a").await;
        assert!(names.iter().any(|n| n == "The annotated video (MP4)") && names.iter().all(|n| !n.contains(".csv")), "plain names: {names:?}");
        let links = b.eval("return [...document.querySelectorAll('#video-files a')].map(a => a.getAttribute('href'))").await;
        let links: Vec<String> = serde_json::from_value(links).unwrap();
        assert_eq!(links.len(), 7, "{links:?}");
        let csv = links.iter().find(|l| l.ends_with("people.csv")).expect("a people.csv link");
        let (status, body) = web::get(&format!("{}{csv}", server.base));
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&body).lines().count() >= 2, "the CSV has a row per person");
        let timeline = b.eval("const i = document.getElementById('video-timeline'); return i.complete && i.naturalWidth").await;
        assert!(timeline.as_u64().unwrap_or(0) > 100, "the timeline PNG shows");
        b.eval("document.getElementById('video-player').currentTime = 1.0; return true").await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        b.screenshot("web-video.png").await;

        // The report page, served by the app and opened from disk: every picture loads and
        // there is a thumbnail per person; from the app its relative links resolve too.
        let report = links.iter().find(|l| l.ends_with("report.html")).expect("a report.html link");
        check_report(&b, &format!("{}{report}", server.base)).await;
        let csv = b.eval("return fetch(document.querySelector('a[href=\"video-people.csv\"]').href).then(r => r.status)").await;
        assert_eq!(csv.as_u64(), Some(200), "the report's relative link to the people CSV");
        let out = std::fs::read_dir(&server.temp).unwrap().next().unwrap().unwrap().path().join("out");
        check_report(&b, &format!("file://{}", out.join("video-report.html").display())).await;
        b.close().await;
    });
    let left: Vec<_> = std::fs::read_dir(&server.temp).unwrap().flat_map(|e| std::fs::read_dir(e.unwrap().path()).unwrap()).collect();
    let names: Vec<String> = left.iter().map(|e| e.as_ref().unwrap().file_name().to_string_lossy().to_string()).collect();
    assert_eq!(names, ["out"], "the upload is removed once analysed, the report kept");
}

/// Opens emotiondetect-video's `<name>-report.html` at `url`: the timeline and one thumbnail per
/// person of its table load (decoded, not broken images).
async fn check_report(b: &Browser, url: &str) {
    b.client.goto(url).await.expect("the report page");
    let loaded = b
        .wait_for(
            "the report's pictures",
            "const i = [...document.images]; return i.length > 0 && i.every(x => x.complete) && i.map(x => [x.className, x.naturalWidth])",
            Duration::from_secs(20),
        )
        .await;
    let loaded: Vec<(String, u32)> = serde_json::from_value(loaded).unwrap();
    let faces = loaded.iter().filter(|(c, _)| c == "face").count();
    let rows = texts(b, "#people tr[id^=person-]").await.len();
    assert!(rows >= 1 && faces == rows, "{faces} thumbnails for {rows} people at {url}");
    assert!(loaded.iter().all(|(_, w)| *w > 0), "every picture decodes at {url}: {loaded:?}");
    assert!(loaded.iter().any(|(c, w)| c == "timeline" && *w >= 1000), "the timeline at {url}: {loaded:?}");
}

#[test]
fn streams_tab_shows_a_looped_file_source() {
    let megamind = common::megamind();
    let source = format!("megamind={}", megamind.display());
    let server = Server::start(&["--source", &source]);
    runtime().block_on(async {
        let b = Browser::start(None).await;
        b.client.goto(&format!("{}/#streams", server.base)).await.expect("the page");
        b.wait_for(
            "an MJPEG frame",
            "const i = document.querySelector('.stream[data-name=megamind] img'); return i && i.naturalWidth",
            Duration::from_secs(60),
        )
        .await;
        b.wait_for(
            "a face tag from the SSE reports",
            "return [...document.querySelectorAll('.stream[data-name=megamind] .person-line')].map(e => e.textContent).join('|')",
            Duration::from_secs(60),
        )
        .await;
        let tags = texts(&b, ".stream[data-name=megamind] .person-line").await;
        assert!(tags.iter().all(|t| web::is_face_tag(t)), "{tags:?}");
        tokio::time::sleep(Duration::from_secs(6)).await; // some history in the chart
        b.screenshot("web-streams.png").await;
        b.close().await;
    });
    // Megamind.avi is 9 s (270 frames at 30 fps), analysed at 10 fps at most: past ~90
    // reports it has looped.
    let frames = || web::get_json(&format!("{}/api/sources", server.base))[0]["frames"].as_u64().unwrap_or(0);
    let started = std::time::Instant::now();
    while frames() <= 100 {
        assert!(started.elapsed() < Duration::from_secs(90), "the file source loops: {} reports", frames());
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = web::get_json(&format!("{}/api/sources", server.base));
    assert_eq!(status[0]["error"], serde_json::Value::Null, "{status}");
}

#[test]
fn the_landing_page_explains_itself_and_a_sample_photo_is_one_click() {
    let photos = common::group_photo("13.jpg").parent().unwrap().to_path_buf();
    let expected = web::element_faces(&photos.join("1.jpg"));
    let server = Server::start(&["--samples", photos.to_str().unwrap()]);
    runtime().block_on(async {
        let b = Browser::start(None).await;
        b.client.goto(&server.base).await.expect("the page");
        let intro = texts(&b, "#intro").await.join("");
        assert!(intro.contains("emotion") && intro.contains("photo"), "a landing explanation: {intro}");
        let stat = texts(&b, "#webcam-latency").await.join("");
        assert!(stat.contains("Start camera"), "the webcam tab says what to do: {stat}");
        b.client.find(Locator::Id("tab-photo")).await.expect("the Photo tab").click().await.expect("click");
        b.wait_for("the samples", "return document.querySelectorAll('#photo-samples img.sample').length", Duration::from_secs(10)).await;
        b.client.find(Locator::Css("#photo-samples img[data-name='1.jpg']")).await.expect("sample 1.jpg").click().await.expect("click");
        let n = b
            .wait_for("the sample's faces", "return document.getElementById('photo-summary').dataset.faces", Duration::from_secs(60))
            .await;
        assert_eq!(n.as_str().and_then(|s| s.parse::<usize>().ok()), Some(expected), "one click analyses the sample");
        b.close().await;
    });
}
