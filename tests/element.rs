// SPDX-License-Identifier: MIT
//! The element on real frames: every accepted format, odd sizes, padded strides, metas versus
//! messages, drawing, and properties (defaults, and changes while PLAYING).
//!
//! Frames with faces come from ../shared/media/group-photos: 13.jpg (450x344, two faces) and
//! 1.jpg (720x478, a classroom of about 50 faces).

mod common;

use std::time::Duration;

use common::*;
use gst::prelude::*;
use gst_video::prelude::*;

const PHOTO_2_FACES: &str = "13.jpg";
const PHOTO_CLASSROOM: &str = "1.jpg";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The bytes of a buffer.
fn bytes(buffer: &gst::BufferRef) -> Vec<u8> {
    buffer.map_readable().expect("readable buffer").to_vec()
}

/// Pushes `buffer` (a copy, with `pts`) through `h` and returns the output buffer.
fn push_pull(h: &mut gst_check::Harness, buffer: &gst::Buffer, pts: gst::ClockTime) -> gst::Buffer {
    let mut b = buffer.copy_deep().expect("deep copy");
    {
        let b = b.get_mut().unwrap();
        b.set_pts(pts);
        b.set_duration(gst::ClockTime::from_mseconds(40));
    }
    h.push(b).expect("push");
    h.pull().expect("one output buffer per input buffer")
}

#[test]
fn properties_read_back_with_their_defaults() {
    let e = element(&[]);
    let data = data_dir();
    // Model paths default to the models setup.sh installed.
    assert_eq!(e.property::<String>("face-model"), data.join("models/face_detection_yunet.onnx").to_string_lossy());
    let default_emotion = emotiondetect_core::classification::DEFAULT_EMOTION_MODEL_FILE;
    assert_eq!(e.property::<String>("emotion-model"), data.join("models").join(default_emotion).to_string_lossy());
    assert_eq!(e.property::<String>("device"), "cpu");
    assert_eq!(e.property::<f64>("threshold"), 0.6);
    assert_eq!(e.property::<f64>("nms-threshold"), 0.3);
    assert_eq!(e.property::<u32>("min-face-size"), 0);
    assert_eq!(e.property::<u32>("max-faces"), 0);
    assert_eq!(e.property::<u32>("batch-size"), 32);
    assert!(e.property::<bool>("draw"));
    assert!(e.property::<bool>("post-messages"));
    assert_eq!(e.property::<u32>("detector-size"), 640);
    assert_eq!(e.property::<f64>("crop-margin"), 0.1);

    // The paramspec defaults agree with the values read back.
    for p in e.list_properties() {
        if ["name", "parent", "qos", "face-model", "emotion-model"].contains(&p.name()) {
            continue;
        }
        assert_eq!(format!("{:?}", p.default_value()), format!("{:?}", e.property_value(p.name())), "default of {}", p.name());
        assert!(!p.blurb().unwrap_or_default().is_empty(), "{} has a blurb", p.name());
    }

    // Set and read back.
    let e = element(&[
        ("face-model", "/some/face.onnx"),
        ("emotion-model", "/some/emotion.onnx"),
        ("device", "cuda:1"),
        ("threshold", "0.75"),
        ("nms-threshold", "0.4"),
        ("min-face-size", "12"),
        ("max-faces", "3"),
        ("batch-size", "4"),
        ("draw", "false"),
        ("post-messages", "false"),
        ("detector-size", "0"),
        ("crop-margin", "0.25"),
    ]);
    assert_eq!(e.property::<String>("face-model"), "/some/face.onnx");
    assert_eq!(e.property::<String>("emotion-model"), "/some/emotion.onnx");
    assert_eq!(e.property::<String>("device"), "cuda:1");
    assert_eq!(e.property::<f64>("threshold"), 0.75);
    assert_eq!(e.property::<f64>("nms-threshold"), 0.4);
    assert_eq!(e.property::<u32>("min-face-size"), 12);
    assert_eq!(e.property::<u32>("max-faces"), 3);
    assert_eq!(e.property::<u32>("batch-size"), 4);
    assert!(!e.property::<bool>("draw"));
    assert!(!e.property::<bool>("post-messages"));
    assert_eq!(e.property::<u32>("detector-size"), 0);
    assert_eq!(e.property::<f64>("crop-margin"), 0.25);
    // An empty path means the default again.
    e.set_property("face-model", "");
    assert_eq!(e.property::<String>("face-model"), data.join("models/face_detection_yunet.onnx").to_string_lossy());
}

#[test]
fn element_metadata_and_pad_templates() {
    init();
    let factory = gst::ElementFactory::find("emotiondetect").expect("factory");
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_LONGNAME), Some("Facial emotion detector"));
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_KLASS), Some("Filter/Analyzer/Video"));
    for template in factory.static_pad_templates() {
        let caps = template.caps();
        let formats: Vec<String> = caps
            .structure(0)
            .unwrap()
            .get::<gst::List>("format")
            .expect("a list of formats")
            .iter()
            .map(|v| v.get::<String>().unwrap())
            .collect();
        assert_eq!(formats, FORMATS, "{} template formats", template.name_template());
    }
}

/// Every accepted format: the two faces of 13.jpg are found in the same places, caps and bytes
/// pass through unchanged (draw=false), one buffer in, one out, one message, one meta per face.
#[test]
fn every_format_finds_the_two_faces_of_13jpg() {
    let photo = group_photo(PHOTO_2_FACES);
    let mut results: Vec<(&str, Vec<MsgFace>)> = Vec::new();
    for format in FORMATS {
        let decoded = decode_photo(&photo, format);
        let desc = format!(
            "filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format={format} ! emotiondetect draw=false ! appsink name=sink",
            photo.display()
        );
        let run = run_pipeline(&desc, secs(60));
        assert_eq!(run.samples.len(), 1, "{format}: buffers out");
        assert_eq!(run.messages.len(), 1, "{format}: messages");
        assert!(run.warnings.is_empty(), "{format}: warnings {:?}", run.warnings);
        let out = &run.samples[0];
        assert_eq!(out.caps(), decoded.caps(), "{format}: output caps equal the input caps");
        let (buf_in, buf_out) = (decoded.buffer().unwrap(), out.buffer().unwrap());
        let info = video_info(out);
        assert!(visible_bytes(buf_in, &info) == visible_bytes(buf_out, &info), "{format}: draw=false leaves the frame byte-identical");
        let faces = &run.messages[0].faces;
        assert_eq!(faces.len(), 2, "{format}: faces {faces:?}");
        assert_eq!(meta_faces(buf_out).len(), 2, "{format}: ROI metas");
        println!(
            "{format}: {:?}",
            faces
                .iter()
                .map(|f| (f.x, f.y, f.width, f.height, f.confidence as f32, f.emotion.as_str(), f.emotion_confidence as f32))
                .collect::<Vec<_>>()
        );
        results.push((format, faces.clone()));
    }
    let of = |format: &str| &results.iter().find(|(f, _)| *f == format).unwrap().1;
    let rgb = of("RGB");
    // The same Y and subsampled chroma as I420, interleaved: the same results.
    assert_eq!(of("NV12"), of("I420"), "NV12 gives the results of I420");
    for (format, faces) in &results {
        if RGB_FORMATS.contains(format) {
            // Packed formats carry the very same RGB values: the results are identical.
            assert_eq!(faces, rgb, "{format}: the same results as RGB");
        } else if format.starts_with("GRAY") {
            // No colour: the detector sees another picture, the boxes move a few pixels and
            // the classifier's crops with them (one probability moved 0.2 here).
            assert_close_to(format, faces, rgb, "RGB", 4.0, 0.25);
        } else {
            assert_close_to(format, faces, rgb, "RGB", 3.0, 0.05);
        }
    }
}

/// YUV and grey frames lose chroma resolution (or all colour) and go through a conversion to
/// RGB, so the boxes move a little and the scores change slightly: `faces` match `reference`
/// within `px` pixels, 0.05 of face confidence, `max_drift` of each probability, and the same
/// label unless the reference's top two probabilities are closer than twice the change.
fn assert_close_to(format: &str, faces: &[MsgFace], reference: &[MsgFace], what: &str, px: f64, max_drift: f64) {
    let rects: Vec<Rect> = faces.iter().map(|f| f.rect()).collect();
    let ref_rects: Vec<Rect> = reference.iter().map(|f| f.rect()).collect();
    let matched = greedy_match(&ref_rects, &rects, 0.5);
    assert_eq!(matched.len(), reference.len(), "{format}: every face matches one found in {what}: {rects:?} vs {ref_rects:?}");
    for (i, j, _) in matched {
        let d = ref_rects[i].corner_distance(&rects[j]);
        assert!(d <= px, "{format}: face {j} is {d} px from the {what} one ({:?} vs {:?})", rects[j], ref_rects[i]);
        let conf = (faces[j].confidence - reference[i].confidence).abs();
        assert!(conf < 0.05, "{format}: face confidence {} vs {}", faces[j].confidence, reference[i].confidence);
        let drift = faces[j].scores.iter().zip(&reference[i].scores).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        println!("{format}: face {j}: {d:.1} px, confidence {conf:.3} and largest probability change {drift:.4} from {what}");
        assert!(drift < max_drift, "{format}: probabilities {:?} vs {what} {:?}", faces[j].scores, reference[i].scores);
        let mut sorted = reference[i].scores.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if sorted[0] - sorted[1] > 2.0 * drift {
            assert_eq!(faces[j].emotion, reference[i].emotion, "{format}: the same emotion as in {what}");
        }
    }
}

/// 1x1, 33x17 (odd: I420/NV12 chroma rows/columns are rounded up) and 13.jpg scaled to an odd
/// 449x343 in every format: no crash, caps unchanged, buffer count preserved; the faces in the
/// odd-sized photo are still found and drawn on.
#[test]
fn odd_sizes_pass_in_every_format() {
    let photo = group_photo(PHOTO_2_FACES);
    for format in FORMATS {
        for (w, h) in [(1, 1), (33, 17), (2, 2), (641, 481)] {
            let caps = format!("video/x-raw,format={format},width={w},height={h},framerate=25/1");
            let plain = run_pipeline(&format!("videotestsrc num-buffers=3 ! {caps} ! appsink name=sink"), secs(30));
            let run = run_pipeline(&format!("videotestsrc num-buffers=3 ! {caps} ! emotiondetect ! appsink name=sink"), secs(30));
            assert_eq!(run.samples.len(), 3, "{caps}: buffers out");
            assert_eq!(run.messages.len(), 3, "{caps}: one message per buffer");
            assert_eq!(run.samples[0].caps(), plain.samples[0].caps(), "{caps}: output caps");
            let info = video_info(&run.samples[0]);
            for (a, b) in plain.samples.iter().zip(&run.samples) {
                // No face in a test pattern: nothing drawn, no meta.
                assert!(visible_bytes(a.buffer().unwrap(), &info) == visible_bytes(b.buffer().unwrap(), &info), "{caps}: frame unchanged");
                assert!(meta_faces(b.buffer().unwrap()).is_empty(), "{caps}: no face meta");
            }
            assert!(run.messages.iter().all(|m| m.faces.is_empty()), "{caps}: no faces in a test pattern");
        }
        let desc = format!(
            "filesrc location={} ! jpegdec ! videoconvert ! videoscale ! video/x-raw,format={format},width=449,height=343 ! emotiondetect ! appsink name=sink",
            photo.display()
        );
        let run = run_pipeline(&desc, secs(60));
        assert_eq!(run.samples.len(), 1, "{format} 449x343: buffers out");
        let info = video_info(&run.samples[0]);
        assert_eq!((info.format().to_str().as_str(), info.width(), info.height()), (format, 449, 343));
        assert_eq!(run.messages[0].faces.len(), 2, "{format} 449x343: faces {:?}", run.messages[0].faces);
        for f in &run.messages[0].faces {
            assert!(f.x + f.width <= 449 && f.y + f.height <= 343, "{format}: box inside the frame: {f:?}");
        }
    }
}

/// Copies `src` (tightly packed as videoconvert made it) into a buffer whose planes have
/// `extra` more bytes per row and gaps between planes, filled with `fill`, described by a
/// `VideoMeta`. Returns the buffer and the byte ranges that are padding.
fn padded_copy(src: &gst::Sample, extra: usize, fill: u8) -> (gst::Buffer, Vec<std::ops::Range<usize>>) {
    let info = video_info(src);
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(src.buffer().unwrap(), &info).unwrap();
    let n = info.n_planes() as usize;
    let mut offsets = Vec::new();
    let mut strides = Vec::new();
    let mut padding = Vec::new();
    let mut layout = Vec::new();
    let mut pos = 32; // a gap before the first plane too
    for p in 0..n {
        let comp_h = frame.comp_height(p as u32) as usize; // plane p holds component p for our formats
        let row = frame.plane_stride()[p] as usize; // source stride, at least the row size
        let stride = row + extra;
        offsets.push(pos);
        strides.push(stride as i32);
        layout.push((pos, stride, comp_h, p));
        pos += stride * comp_h + 48;
    }
    let mut data = vec![fill; pos];
    for &(off, stride, rows, p) in &layout {
        let plane = frame.plane_data(p as u32).unwrap();
        let src_stride = frame.plane_stride()[p] as usize;
        // the visible bytes of a row (plane p holds component p in the formats used here)
        let row_bytes = frame.comp_width(p as u32) as usize * frame.comp_pstride(p as u32) as usize;
        for r in 0..rows {
            data[off + r * stride..off + r * stride + row_bytes].copy_from_slice(&plane[r * src_stride..r * src_stride + row_bytes]);
            padding.push(off + r * stride + row_bytes..off + (r + 1) * stride);
        }
    }
    let mut buffer = gst::Buffer::from_mut_slice(data);
    gst_video::VideoMeta::add_full(
        buffer.get_mut().unwrap(),
        gst_video::VideoFrameFlags::empty(),
        info.format(),
        info.width(),
        info.height(),
        &offsets,
        &strides,
    )
    .expect("video meta");
    (buffer, padding)
}

/// Frames whose rows are longer than the caps say, described by a VideoMeta (as a decoder or
/// a hardware buffer pool gives them): same faces as the packed frame, the drawing lands on the
/// same pixels, and the padding bytes are never written.
#[test]
fn padded_strides_from_a_video_meta_are_respected() {
    let photo = group_photo(PHOTO_2_FACES);
    for format in ["RGB", "RGBx", "I420", "NV12"] {
        let packed = decode_photo(&photo, format);
        let info = video_info(&packed);
        let (padded, padding) = padded_copy(&packed, 100, 0xA5);

        let e = element(&[]);
        let (mut h, bus) = harness(&e);
        h.set_src_caps(packed.caps().unwrap().to_owned());
        let out_packed = push_pull(&mut h, &packed.buffer_owned().unwrap(), gst::ClockTime::ZERO);
        let out_padded = push_pull(&mut h, &padded, gst::ClockTime::from_mseconds(40));
        let msgs = drain_messages(&bus);
        assert_eq!(msgs.len(), 2, "{format}: messages");
        assert_eq!(msgs[0].faces.len(), 2, "{format}: faces in the packed frame");
        assert_eq!(msgs[0].faces, msgs[1].faces, "{format}: the padded frame gives exactly the same results");

        // The padding is untouched.
        let data = bytes(&out_padded);
        for r in &padding {
            assert!(data[r.clone()].iter().all(|&b| b == 0xA5), "{format}: padding bytes {r:?} were written");
        }
        // The visible pixels, boxes and labels drawn included, are the same.
        let fp = gst_video::VideoFrameRef::from_buffer_ref_readable(out_packed.as_ref(), &info).unwrap();
        let fq = gst_video::VideoFrameRef::from_buffer_ref_readable(out_padded.as_ref(), &info).unwrap();
        assert_ne!(fq.plane_stride()[0], fp.plane_stride()[0], "the padded frame is mapped with the meta's strides");
        let mut drawn = false;
        for p in 0..info.n_planes() {
            let (a, b) = (fp.plane_data(p).unwrap(), fq.plane_data(p).unwrap());
            let (sa, sb) = (fp.plane_stride()[p as usize] as usize, fq.plane_stride()[p as usize] as usize);
            let row = (fp.comp_width(p) * fp.comp_pstride(p) as u32) as usize;
            for y in 0..fp.comp_height(p) as usize {
                assert!(a[y * sa..y * sa + row] == b[y * sb..y * sb + row], "{format}: plane {p} row {y} differs");
            }
            if p == 0 {
                let src = gst_video::VideoFrameRef::from_buffer_ref_readable(packed.buffer().unwrap(), &info).unwrap();
                drawn = (0..info.height() as usize).any(|y| src.plane_data(0).unwrap()[y * sa..y * sa + row] != a[y * sa..y * sa + row]);
            }
        }
        assert!(drawn, "{format}: the faces were drawn (draw=true by default)");
    }
}

/// The ROI metas and the bus message describe the same faces, in the same order, with the
/// conventions of docs/conventions.md.
#[test]
fn metas_and_messages_agree_on_every_face() {
    let photo = group_photo(PHOTO_CLASSROOM);
    let desc = format!(
        // Every face classified, the classroom's small ones too (tests/small_faces.rs has the default).
        "filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format=BGRx ! emotiondetect min-emotion-face-size=0 ! appsink name=sink",
        photo.display()
    );
    let run = run_pipeline(&desc, secs(60));
    assert_eq!(run.samples.len(), 1);
    assert_eq!(run.messages.len(), 1);
    let info = video_info(&run.samples[0]);
    let (w, h) = (info.width() as f64, info.height() as f64);
    let msg = &run.messages[0];
    let buffer = run.samples[0].buffer().unwrap();
    let metas = meta_faces(buffer);
    println!("{}: {} faces at detector-size 640", PHOTO_CLASSROOM, msg.faces.len());
    assert!(msg.faces.len() >= 30, "a classroom of faces: {}", msg.faces.len());
    assert_eq!(metas.len(), msg.faces.len(), "one ROI meta per face in the message");
    assert_eq!(msg.timestamp, buffer.pts().map_or(u64::MAX, |t| t.nseconds()));

    for (i, (f, m)) in msg.faces.iter().zip(&metas).enumerate() {
        assert_eq!(m.roi_type, "face");
        // id: a per-buffer index (or, with tracking, a track id): unique in the buffer
        assert!(m.id >= 0 && metas.iter().filter(|o| o.id == m.id).count() == 1, "face {i}: id {} unique", m.id);
        assert_eq!(m.rect, (f.x, f.y, f.width, f.height), "face {i}: meta rect == message box");
        assert!(f.width > 0 && f.height > 0 && (f.x + f.width) as f64 <= w && (f.y + f.height) as f64 <= h, "face {i} inside: {f:?}");
        // detection: normalised, the same box (the meta rect is rounded to whole pixels)
        let [x0, y0, x1, y1, conf] = m.detection;
        assert!(
            (0.0..=1.0).contains(&x0) && x0 < x1 && x1 <= 1.0 && (0.0..=1.0).contains(&y0) && y0 < y1 && y1 <= 1.0,
            "{:?}",
            m.detection
        );
        assert!((x0 * w - f.x as f64).abs() <= 0.5 + 1e-6, "face {i}: x_min * width {} vs x {}", x0 * w, f.x);
        assert!((y0 * h - f.y as f64).abs() <= 0.5 + 1e-6, "face {i}: y_min * height {} vs y {}", y0 * h, f.y);
        assert!(((x1 - x0) * w - f.width as f64).abs() <= 0.5 + 1e-4, "face {i}: width {} vs {}", (x1 - x0) * w, f.width);
        assert!(((y1 - y0) * h - f.height as f64).abs() <= 0.5 + 1e-4, "face {i}: height {} vs {}", (y1 - y0) * h, f.height);
        assert_eq!(conf, f.confidence, "face {i}: confidence");
        assert!(conf > 0.6 && conf <= 1.0, "face {i}: confidence {conf} above the threshold");
        assert_eq!((m.detection_label.as_str(), m.detection_label_id), ("face", 0));
        // emotion
        assert_eq!(m.emotion, f.emotion, "face {i}: emotion label");
        assert_eq!(m.emotion_confidence, f.emotion_confidence, "face {i}: emotion confidence");
        assert_eq!(m.scores, f.scores, "face {i}: scores");
        assert_eq!(m.smoothed_scores, f.smoothed_scores, "face {i}: smoothed scores");
        // One frame: nothing to smooth with, so the smoothed probabilities are the raw ones.
        assert_eq!(f.smoothed_scores, f.scores, "face {i}: a new face's smoothed scores");
        assert_eq!(m.model_name, "fer2013_vggbn", "the default classifier's spec name");
        assert_eq!(FER_LABELS[m.emotion_id as usize], m.emotion, "label_id indexes the FER2013 labels");
        assert_eq!(f.scores.len(), 7);
        let sum: f64 = f.scores.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "face {i}: scores sum to {sum}");
        let best = f.scores.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(f.emotion_confidence, best, "face {i}: confidence is the top score");
        assert_eq!(f.scores[m.emotion_id as usize], best);
        // landmarks: YuNet gives five points, near the face
        let l = m.landmarks.unwrap_or_else(|| panic!("face {i}: no landmarks param"));
        let (fx, fy, fw, fh) = (f.x as f64 / w, f.y as f64 / h, f.width as f64 / w, f.height as f64 / h);
        for k in 0..5 {
            let (px, py) = (l[2 * k], l[2 * k + 1]);
            assert!(
                px >= fx - 0.25 * fw && px <= fx + 1.25 * fw && py >= fy - 0.25 * fh && py <= fy + 1.25 * fh,
                "face {i}: landmark {k} ({px}, {py}) far from its box"
            );
        }
        // right eye (0) is left of the left eye (1) in the image, both above the mouth corners
        assert!(l[0] < l[2], "face {i}: right eye left of the left eye: {l:?}");
        assert!(l[1] < l[7] && l[3] < l[9], "face {i}: eyes above the mouth: {l:?}");
    }
}

/// Timestamps in the message follow the buffer and the segment.
#[test]
fn message_times_follow_the_buffer_and_segment() {
    let photo = group_photo(PHOTO_2_FACES);
    let frame = decode_photo(&photo, "RGB");
    let e = element(&[("draw", "false")]);
    let (mut h, bus) = harness(&e);
    h.set_src_caps(frame.caps().unwrap().to_owned());
    let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
    segment.set_start(gst::ClockTime::from_seconds(10));
    segment.set_base(gst::ClockTime::from_seconds(2));
    segment.set_time(gst::ClockTime::from_seconds(100));
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    let out = push_pull(&mut h, &frame.buffer_owned().unwrap(), gst::ClockTime::from_seconds(11));
    let msgs = drain_messages(&bus);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.timestamp, 11_000_000_000);
    assert_eq!(m.running_time, 3_000_000_000, "pts - start + base");
    assert_eq!(m.stream_time, 101_000_000_000, "pts - start + time");
    assert_eq!(m.duration, 40_000_000);
    assert_eq!(m.faces.len(), 2);
    assert_eq!(out.pts(), Some(gst::ClockTime::from_seconds(11)));
}

/// draw=true draws a box on each face (and its label tag above it), draw=false leaves the frame
/// byte-identical.
#[test]
fn draw_marks_each_face_and_nothing_far_from_them() {
    let photo = group_photo(PHOTO_2_FACES);
    let frame = decode_photo(&photo, "RGB");
    let info = video_info(&frame);
    let e = element(&[("draw", "false")]);
    let (mut h, bus) = harness(&e);
    h.set_src_caps(frame.caps().unwrap().to_owned());
    let input = frame.buffer_owned().unwrap();
    let plain = push_pull(&mut h, &input, gst::ClockTime::ZERO);
    assert!(bytes(&plain) == bytes(&input), "draw=false: frame byte-identical");
    e.set_property("draw", true);
    let drawn = push_pull(&mut h, &input, gst::ClockTime::from_mseconds(40));
    let msgs = drain_messages(&bus);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].faces, msgs[1].faces, "drawing does not change the results");
    let faces = &msgs[1].faces;
    assert_eq!(faces.len(), 2);

    let stride = gst_video::VideoFrameRef::from_buffer_ref_readable(drawn.as_ref(), &info).unwrap().plane_stride()[0] as usize;
    let (a, b) = (bytes(&plain), bytes(&drawn));
    let changed = |x: u32, y: u32| {
        let i = y as usize * stride + x as usize * 3;
        a[i..i + 3] != b[i..i + 3]
    };
    let (w, h) = (info.width(), info.height());
    for f in faces {
        // The box outline: each edge of the face box is painted (the box is drawn inside
        // [x0, x1) x [y0, y1) from the unrounded corners, so an edge may be one pixel off the
        // rounded x + width of the message).
        let (x0, y0, x1, y1) = (f.x, f.y, (f.x + f.width - 1).min(w - 1), (f.y + f.height - 1).min(h - 1));
        let fraction = |pixels: Vec<(u32, u32)>| pixels.iter().filter(|&&(x, y)| changed(x, y)).count() as f64 / pixels.len() as f64;
        let best = |line: &dyn Fn(i64) -> Vec<(u32, u32)>| [-1i64, 0, 1].map(|d| fraction(line(d))).into_iter().fold(0.0, f64::max);
        let clamp = |v: i64, max: u32| v.clamp(0, max as i64) as u32;
        let edges = [
            ("top", best(&|d| (x0 + 1..x1).map(|x| (x, clamp(y0 as i64 + d, h - 1))).collect())),
            ("bottom", best(&|d| (x0 + 1..x1).map(|x| (x, clamp(y1 as i64 + d, h - 1))).collect())),
            ("left", best(&|d| (y0 + 1..y1).map(|y| (clamp(x0 as i64 + d, w - 1), y)).collect())),
            ("right", best(&|d| (y0 + 1..y1).map(|y| (clamp(x1 as i64 + d, w - 1), y)).collect())),
        ];
        println!("face at ({}, {}) {}x{}: painted fraction of each edge {edges:?}", f.x, f.y, f.width, f.height);
        for (name, painted) in edges {
            assert!(painted >= 0.9, "face {f:?}: only {:.0} % of its {name} edge painted", painted * 100.0);
        }
        // The centre of the face is left visible.
        let (cx, cy) = (f.x + f.width / 2, f.y + f.height / 2);
        assert!(!changed(cx, cy), "face centre painted over");
    }
    // Nothing is drawn far from the faces: a changed pixel is at most one face height from a
    // face box (the label tag sits just above the box).
    let near = |x: u32, y: u32| {
        faces.iter().any(|f| {
            let m = f.height as i64;
            let (x, y) = (x as i64, y as i64);
            x >= f.x as i64 - m && x <= (f.x + f.width) as i64 + 4 * m && y >= f.y as i64 - m && y <= (f.y + f.height) as i64 + m
        })
    };
    let mut total = 0;
    for y in 0..h {
        for x in 0..w {
            if changed(x, y) {
                total += 1;
                assert!(near(x, y), "pixel ({x}, {y}) painted far from any face");
            }
        }
    }
    println!("{total} pixels painted");
}

/// threshold, max-faces, min-face-size, post-messages and batch-size change while PLAYING and
/// take effect on the next frame.
#[test]
fn settings_change_while_playing() {
    let photo = group_photo(PHOTO_CLASSROOM);
    let frame = decode_photo(&photo, "RGB");
    let input = frame.buffer_owned().unwrap();
    let e = element(&[("draw", "false")]);
    let (mut h, bus) = harness(&e);
    h.set_src_caps(frame.caps().unwrap().to_owned());
    let mut pts = 0;
    let mut next = |h: &mut gst_check::Harness| -> (Vec<MsgFace>, usize) {
        pts += 40;
        let out = push_pull(h, &input, gst::ClockTime::from_mseconds(pts));
        let msgs = drain_messages(&bus);
        let metas = meta_faces(&out).len();
        (msgs.into_iter().flat_map(|m| m.faces).collect(), metas)
    };
    assert_eq!(e.current_state(), gst::State::Playing);
    let (base, n) = next(&mut h);
    assert_eq!(base.len(), n);
    assert!(base.len() >= 30, "{} faces at 0.6", base.len());

    e.set_property("threshold", 0.9);
    let (high, _) = next(&mut h);
    println!("threshold 0.6: {} faces, 0.9: {}", base.len(), high.len());
    assert!(high.len() < base.len() && !high.is_empty(), "threshold 0.9: {} faces vs {}", high.len(), base.len());
    assert!(high.iter().all(|f| f.confidence > 0.9));
    e.set_property("threshold", 0.99);
    let (highest, _) = next(&mut h);
    assert!(highest.len() < high.len(), "threshold 0.99: {} faces", highest.len());
    e.set_property("threshold", 0.6);
    assert_eq!(next(&mut h).0, base, "back to 0.6: the same faces again");

    e.set_property("max-faces", 5u32);
    let (five, n) = next(&mut h);
    assert_eq!((five.len(), n), (5, 5));
    let mut by_confidence = base.clone();
    by_confidence.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut five_sorted = five.clone();
    five_sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    assert_eq!(five_sorted[..], by_confidence[..5], "max-faces keeps the most confident");
    e.set_property("max-faces", 0u32);

    let mut sizes: Vec<u32> = base.iter().map(|f| f.width.min(f.height)).collect();
    sizes.sort();
    let median = sizes[sizes.len() / 2];
    e.set_property("min-face-size", median);
    let (big, _) = next(&mut h);
    // The filter applies to the unrounded sizes; the message has them rounded.
    let surely_kept = base.iter().filter(|f| f.width.min(f.height) > median).count();
    println!("min-face-size {median}: {} of {} faces kept ({surely_kept} larger)", big.len(), base.len());
    assert!(big.len() < base.len() && big.len() >= surely_kept, "min-face-size {median}: {} of {}", big.len(), base.len());
    assert!(big.iter().all(|f| f.width >= median && f.height >= median), "min-face-size {median}: {big:?}");
    e.set_property("min-face-size", 0u32);

    // Batching does not change the results (the classifier's batch dimension is dynamic).
    e.set_property("batch-size", 1u32);
    let (one_by_one, _) = next(&mut h);
    assert_eq!(one_by_one.len(), base.len());
    for (a, b) in one_by_one.iter().zip(&base) {
        assert_eq!(a.emotion, b.emotion);
        for (x, y) in a.scores.iter().zip(&b.scores) {
            assert!((x - y).abs() < 1e-4, "batch-size 1 vs 32: {:?} vs {:?}", a.scores, b.scores);
        }
    }
    e.set_property("batch-size", 32u32);

    e.set_property("post-messages", false);
    let (none, metas) = next(&mut h);
    assert!(none.is_empty(), "post-messages=false: no message");
    assert_eq!(metas, base.len(), "post-messages=false: the metas are still attached");
}

/// Caps the element does not accept are refused at negotiation (before issue 13 GRAY8 and
/// YUY2 were among them).
#[test]
fn unsupported_formats_are_refused() {
    init();
    for format in ["RGB16", "v210", "IYU1"] {
        let desc = format!("videotestsrc num-buffers=1 ! video/x-raw,format={format} ! emotiondetect ! fakesink");
        let err = gst::parse::launch(&desc).err().unwrap_or_else(|| panic!("{format}: `{desc}` links"));
        assert!(err.to_string().contains("can't handle caps"), "{format}: {err}");
    }
}
