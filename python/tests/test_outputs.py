# SPDX-License-Identifier: MIT
"""What the package gives back: BGR arrays (color="bgr"), landmarks in pixels beside the
normalised ones, and pandas DataFrames (to_dataframe, Frame.to_pandas). Real photo and video."""

import itertools
import json
import math
import os
import subprocess
import sys

import pytest

import emotiondetect
from conftest import ROOT, decoded_rgb

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
COLUMNS = ["frame", "timestamp", "width", "height", "id", "x", "y", "w", "h", "confidence", "emotion", "emotion_confidence"]



def require_pandas():
    """pandas, or a failure saying how to get it (scripts/test.sh installs python3-pandas)."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        pytest.fail("pandas is missing: apt-get install python3-pandas (scripts/test.sh installs it on first use)")

def numbers(face) -> list:
    """A face's numbers beside its box: detector confidence, scores, smoothed scores, landmarks."""
    values = [face.confidence, face.emotion_confidence, *face.scores.values(), *face.smoothed_scores.values()]
    return values + [c for p in face.landmarks or [] for c in p]


def test_bgr_arrays_with_color_bgr_give_the_faces_of_the_rgb_array(group_photo):
    rgb = decoded_rgb(group_photo, 449, 343)  # odd width: rows padded to 4 bytes in the caps
    bgr = rgb[:, :, ::-1]  # as cv2.imread gives (a view, not contiguous)
    want = emotiondetect.analyse_image(rgb)
    assert len(want) == 2
    for got in (emotiondetect.analyse_image(bgr, color="bgr"), emotiondetect.analyse_image(bgr.copy(), color="BGR")):
        assert [(f.box, f.emotion, list(f.scores)) for f in got] == [(f.box, f.emotion, list(f.scores)) for f in want]
        for g, w in zip(got, want):
            assert numbers(g) == pytest.approx(numbers(w), abs=1e-6)
    # The BGR pixels taken for RGB: red and blue swapped, other scores.
    swapped = emotiondetect.analyse_image(bgr)
    differences = [abs(a - b) for s, w in zip(swapped, want) for a, b in zip(s.scores.values(), w.scores.values())]
    assert len(swapped) != len(want) or max(differences) > 1e-3, differences


@pytest.mark.parametrize("bad", ["hsv", "", "rgba", None, 3, ["rgb"]])
def test_other_color_values_raise_value_error(group_photo, bad):
    rgb = decoded_rgb(group_photo)
    with pytest.raises(ValueError, match=r"color must be 'rgb' or 'bgr'"):
        emotiondetect.analyse_image(rgb, color=bad)
    with pytest.raises(ValueError, match=r"color must be 'rgb' or 'bgr'"):
        emotiondetect.analyse_image(group_photo, color=bad)


def test_landmarks_are_pixels_like_the_box_and_normalised_beside(group_photo):
    (frame,) = emotiondetect.analyse(group_photo)
    assert (frame.width, frame.height, len(frame.faces)) == (450, 344, 2)
    assert [f.landmarks for f in emotiondetect.analyse_image(group_photo)] == [f.landmarks for f in frame.faces]
    for face, report in zip(frame.faces, frame.report["objects"]):
        x, y, w, h = face.box
        assert len(face.landmarks) == len(face.landmarks_normalized) == 5
        assert face.landmarks_normalized == [tuple(p) for p in report["landmarks"]]
        for (px, py), (nx, ny) in zip(face.landmarks, face.landmarks_normalized):
            assert 0 <= nx <= 1 and 0 <= ny <= 1
            assert (px, py) == pytest.approx((nx * frame.width, ny * frame.height), abs=1e-9)
            # YuNet's eyes, nose and mouth corners: inside the face's box (2 px of rounding).
            assert x - 2 <= px <= x + w + 2 and y - 2 <= py <= y + h + 2, (face.box, (px, py))
        # right eye left of the left eye (in the picture), both above the mouth corners
        (rex, rey), (lex, ley), _, (_, rmy), (_, lmy) = face.landmarks
        assert rex < lex and max(rey, ley) < min(rmy, lmy)


def test_from_json_gives_pixel_landmarks_for_the_reports_resolution():
    line = {"resolution": {"width": 720, "height": 528}, "timestamp": 0, "objects": [{
        "x": 412, "y": 87, "w": 146, "h": 200, "id": 3, "detection": {"confidence": 0.9},
        "landmarks": [[0.5, 0.25], [0.75, 0.25], [0.625, 0.5], [0.5, 0.75], [0.75, 0.75]],
        "emotion": {"label": "happy", "confidence": 0.8, "labels": ["happy"], "scores": [0.8], "smoothed_scores": [0.8]},
    }, {
        "x": 1, "y": 2, "w": 3, "h": 4, "id": 4, "detection": {"confidence": 0.5},
        "emotion": {"label": "unknown", "confidence": 0.0, "labels": [], "scores": [], "smoothed_scores": []},
    }]}
    with_points, without = emotiondetect.Frame.from_json(json.dumps(line)).faces
    assert with_points.landmarks == [(360.0, 132.0), (540.0, 132.0), (450.0, 264.0), (360.0, 396.0), (540.0, 396.0)]
    assert with_points.landmarks_normalized == [tuple(p) for p in line["objects"][0]["landmarks"]]
    assert (without.landmarks, without.landmarks_normalized) == (None, None)


def first_frames(video, n: int) -> list:
    frames = emotiondetect.analyse(video)
    try:
        return list(itertools.islice(frames, n))
    finally:
        frames.close()


def test_to_dataframe_has_a_row_per_face_per_frame(megamind):
    require_pandas()
    frames = first_frames(megamind, 40)
    faces = [(n, frame, face) for n, frame in enumerate(frames) for face in frame.faces]
    assert len(frames[0].faces) == 0 and len(faces) > 40  # the first frame has none, the others 2
    df = emotiondetect.to_dataframe(iter(frames))
    assert list(df.columns) == COLUMNS + LABELS
    assert len(df) == len(faces)
    for (_, row), (n, frame, face) in zip(df.iterrows(), faces):
        assert (row.frame, row.timestamp, row.width, row.height, row.id) == (n, frame.timestamp, 720, 528, face.id)
        assert (row.x, row.y, row.w, row.h) == face.box
        assert (row.confidence, row.emotion, row.emotion_confidence) == (face.confidence, face.emotion, face.emotion_confidence)
        assert [row[label] for label in LABELS] == [face.smoothed_scores[label] for label in LABELS]
    assert (df[LABELS].idxmax(axis=1) == df.emotion).all()
    assert ((df[LABELS].sum(axis=1) - 1).abs() < 1e-3).all()
    assert str(df.timestamp.dtype) == "int64" and str(df.x.dtype) == "int64"
    # one frame: Frame.to_pandas()
    one = frames[5].to_pandas()
    assert len(one) == len(frames[5].faces) == 2
    assert one.drop(columns="frame").values.tolist() == df[df.frame == 5].drop(columns="frame").values.tolist()
    # no faces, no frames
    assert len(frames[0].to_pandas()) == 0 and list(emotiondetect.to_dataframe([]).columns) == COLUMNS
    with pytest.raises(TypeError, match="takes Frames .*got Face at index 0"):
        emotiondetect.to_dataframe(frames[5].faces)


def test_unknown_faces_have_no_scores_in_the_dataframe():
    require_pandas()
    face = emotiondetect.Face(7, (1, 2, 3, 4), 0.9, "unknown", 0.0, {}, {})
    known = emotiondetect.Face(8, (5, 6, 7, 8), 0.8, "happy", 0.7, {"happy": 0.7, "sad": 0.3}, {"happy": 0.7, "sad": 0.3})
    df = emotiondetect.to_dataframe([emotiondetect.Frame(10, [face, known], 640, 480)])
    assert list(df.columns) == COLUMNS + ["happy", "sad"]
    assert df.emotion.tolist() == ["unknown", "happy"]
    assert math.isnan(df.happy[0]) and math.isnan(df.sad[0]) and df.happy[1] == 0.7


def test_to_dataframe_without_pandas_raises_import_error_naming_it():
    script = (
        "import sys\n"
        "sys.modules['pandas'] = None  # as if it were not installed\n"
        "import emotiondetect\n"
        "def frames():\n    raise AssertionError('frames read before pandas was checked')\n    yield\n"
        "for call in (lambda: emotiondetect.to_dataframe(frames()), emotiondetect.Frame(0, [], 1, 1).to_pandas):\n"
        "    try:\n        call()\n    except ImportError as e:\n        print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout
    for line in lines:
        assert line.startswith("emotiondetect.to_dataframe needs pandas"), line
        assert "pip install pandas" in line and "apt-get install python3-pandas" in line
