# SPDX-License-Identifier: MIT
"""emotiondetect.analyse / analyse_image against the element's own JSON lines (gst-launch-1.0
with emotionpublish location=, the same plugin), on real video and photos."""

import json
import subprocess

import pytest

import emotiondetect
from conftest import shared_file


def element_lines(head: list, tmp_path) -> list:
    """The JSON lines of `gst-launch-1.0 HEAD ! videoconvert ! emotiondetect ! emotionpublish ! fakesink`."""
    out = tmp_path / "lines.jsonl"
    cmd = ["gst-launch-1.0", "-q", *head, "!", "videoconvert", "!", "emotiondetect", "!",
           "emotionpublish", f"location={out}", "!", "fakesink"]
    subprocess.run(cmd, check=True, capture_output=True)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_analyse_gives_the_faces_and_labels_of_the_json_lines(megamind, tmp_path):
    frames = list(emotiondetect.analyse(megamind))
    lines = element_lines(["filesrc", f"location={megamind}", "!", "decodebin"], tmp_path)
    assert len(frames) == len(lines) == 270
    faces = 0
    for frame, line in zip(frames, lines):
        assert frame.timestamp == line["timestamp"]
        assert (frame.width, frame.height) == (720, 528)
        got = [(f.id, f.box, f.emotion) for f in frame.faces]
        want = [(o["id"], (o["x"], o["y"], o["w"], o["h"]), o["emotion"]["label"]) for o in line["objects"]]
        assert got == want, f"frame at {frame.timestamp} ns"
        for f in frame.faces:
            assert set(f.scores) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
            assert abs(sum(f.smoothed_scores.values()) - 1) < 1e-3
            assert max(f.smoothed_scores, key=f.smoothed_scores.get) == f.emotion
        faces += len(frame.faces)
    assert faces > 200


def test_analyse_image_finds_the_faces_of_a_photo(group_photo, tmp_path):
    faces = emotiondetect.analyse_image(group_photo)
    lines = element_lines(["filesrc", f"location={group_photo}", "!", "decodebin", "!", "imagefreeze", "num-buffers=1"], tmp_path)
    assert len(faces) == len(lines[0]["objects"]) == 2
    fer = faces[0].as_fer()
    assert len(fer["box"]) == 4 and set(fer["emotions"]) >= {"happy", "neutral"}


def test_analyse_image_takes_an_rgb_array(group_photo):
    np = pytest.importorskip("numpy", reason="python3-numpy (scripts/test.sh installs it)")
    # The photo's pixels, decoded by GStreamer into an odd-width RGB array (rows padded in the caps).
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    pipe = Gst.parse_launch(
        f'filesrc location="{group_photo}" ! decodebin ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=641,height=427 ! appsink name=s'
    )
    sink = pipe.get_by_name("s")
    pipe.set_state(Gst.State.PLAYING)
    sample = sink.emit("pull-sample")
    caps = sample.get_caps().get_structure(0)
    w, h = caps.get_value("width"), caps.get_value("height")
    ok, info = sample.get_buffer().map(Gst.MapFlags.READ)
    stride = (w * 3 + 3) & ~3
    rows = np.frombuffer(bytes(info.data), dtype=np.uint8).reshape(h, stride)[:, : w * 3]
    sample.get_buffer().unmap(info)
    pipe.set_state(Gst.State.NULL)
    array = np.ascontiguousarray(rows).reshape(h, w, 3)
    faces = emotiondetect.analyse_image(array)
    assert len(faces) == 2
    with pytest.raises(emotiondetect.EmotionDetectError, match="H x W x 3"):
        emotiondetect.analyse_image(np.zeros((4, 4), dtype=np.uint8))


def test_errors_carry_the_elements_message(tmp_path, megamind):
    missing = tmp_path / "nope.avi"
    with pytest.raises(emotiondetect.EmotionDetectError, match="nope.avi"):
        list(emotiondetect.analyse(missing))
    with pytest.raises(emotiondetect.EmotionDetectError, match="face model /nowhere/face.onnx: no such file"):
        list(emotiondetect.analyse(megamind, face_model="/nowhere/face.onnx"))
    with pytest.raises(emotiondetect.EmotionDetectError, match="no writable property 'treshold'"):
        list(emotiondetect.analyse(megamind, treshold=0.5))
    with pytest.raises(emotiondetect.EmotionDetectError, match="threshold=5: out of range"):
        list(emotiondetect.analyse(megamind, threshold=5))


def test_small_faces_are_unknown_without_scores(tmp_path):
    """vtest.avi's faces (about 10x13 px) are under min-emotion-face-size: unknown, no scores."""
    vtest = shared_file("media/videos/vtest.avi")
    head = ["filesrc", f"location={vtest}", "!", "decodebin", "!", "identity", "eos-after=300"]
    lines = element_lines(head, tmp_path)
    faces = [emotiondetect.Frame.from_json(json.dumps(line)).faces for line in lines]
    faces = [f for frame in faces for f in frame]
    assert len(faces) > 5
    for f in faces:
        assert (f.emotion, f.emotion_confidence, f.scores, f.smoothed_scores) == ("unknown", 0.0, {}, {})
        assert not f.classified and f.as_fer()["emotions"] == {}
