# SPDX-License-Identifier: MIT
"""What analyse / analyse_image accept and refuse: paths of every kind (names that are not
UTF-8 too), a generator that pauses its pipeline, pixel limits checked before decoding, and
truncated or corrupt data that raises instead of giving no faces. Real photos and video."""

import os
import pathlib
import shutil
import struct
import subprocess
import sys
import time

import pytest

import emotiondetect
from emotiondetect import _api
from conftest import shared_file

Gst = _api.Gst
#: Frames a suspended consumer may leave analysed: 1 taken, 2 in the appsink, 1 waiting to enter.
AHEAD = 4


def faces_of(frame) -> list:
    return [(f.id, f.box, f.emotion, f.scores) for f in frame.faces]


def content(frames) -> list:
    return [(f.timestamp, f.width, f.height, faces_of(f)) for f in frames]


@pytest.fixture(scope="module")
def megamind_frames() -> list:
    """Megamind.avi analysed in one go, consumer never suspended."""
    return content(emotiondetect.analyse(shared_file("media/videos/Megamind.avi")))


@pytest.fixture
def runs(monkeypatch) -> list:
    """Every _Run built from now on, each counting the buffers that left its emotiondetect
    (one per report posted on the bus) in `passed`."""
    made = []
    init = _api._Run.__init__

    def counting(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.passed = 0

        def count(_pad, _info):
            self.passed += 1
            return Gst.PadProbeReturn.OK

        self.element.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, count)
        made.append(self)

    monkeypatch.setattr(_api._Run, "__init__", counting)
    return made


def take(n: int, source) -> list:
    """The content of the first n frames of analyse(source), the generator closed after."""
    frames = emotiondetect.analyse(source)
    try:
        return content([next(frames) for _ in range(n)])
    finally:
        frames.close()


def non_utf8_copy(src: pathlib.Path, tmp_path, suffix: str) -> bytes:
    path = os.fsencode(tmp_path) + b"/faces-\xff\xfe" + suffix.encode()
    shutil.copyfile(src, path)
    return path


def test_paths_as_bytes_str_and_pathlike_with_a_non_utf8_name(group_photo, megamind, tmp_path):
    want = faces_of(emotiondetect.Frame(0, emotiondetect.analyse_image(str(group_photo)), 0, 0))
    assert len(want) == 2
    photo = non_utf8_copy(group_photo, tmp_path, ".jpg")
    video = non_utf8_copy(megamind, tmp_path, ".avi")
    first = take(3, megamind)
    for kind in (bytes, os.fsdecode, lambda b: pathlib.Path(os.fsdecode(b))):
        got = emotiondetect.analyse_image(kind(photo))
        assert faces_of(emotiondetect.Frame(0, got, 0, 0)) == want, kind
        assert take(3, kind(video)) == first, kind


@pytest.mark.parametrize("bad", [None, 3, 2.5, ["a.jpg"], {"path": "a.jpg"}])
def test_other_types_raise_type_error_naming_the_type(bad):
    name = type(bad).__name__
    with pytest.raises(TypeError, match=f"must be a path .*got {name}$"):
        emotiondetect.analyse_image(bad)
    with pytest.raises(TypeError, match=f"must be a path .*got {name}$"):
        emotiondetect.analyse(bad)


def test_a_missing_file_is_named(tmp_path):
    missing = os.fsencode(tmp_path) + b"/missing-\xff.jpg"
    shown = os.fsdecode(tmp_path) + "/missing-\\xff.jpg: no such file"
    for call in (emotiondetect.analyse_image, emotiondetect.analyse):
        with pytest.raises(emotiondetect.EmotionDetectError) as e:
            call(missing)
        assert str(e.value) == shown


def test_a_suspended_generator_pauses_a_file(megamind, megamind_frames, runs):
    frames = emotiondetect.analyse(megamind)
    got = [next(frames)]
    time.sleep(2)
    # Unbounded, the pipeline would analyse ~200 frames in 2 s.
    assert runs[0].passed <= AHEAD, f"ran {runs[0].passed} frames ahead of the consumer"
    got += list(frames)
    assert len(got) == 270
    timestamps = [f.timestamp for f in got]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) > 180  # avdec_mpeg4 repeats some
    assert content(got) == megamind_frames


def test_a_suspended_generator_drops_a_live_sources_frames(group_photo, runs):
    """A live 30 fps source (a real photo, imagefreeze is-live): while the consumer sleeps its
    new frames are dropped, not queued, and the next frames taken are current ones."""
    head = f'filesrc location="{group_photo}" ! jpegdec ! imagefreeze is-live=true ! video/x-raw,framerate=30/1'
    frames = _api._Run(head, "live photo", {}, 10**8).frames()
    first = next(frames)
    time.sleep(2)
    run = runs[0]
    assert run.passed <= AHEAD, f"{run.passed} reports queued while suspended (60 frames came)"
    assert run.queue.get_property("leaky") == 2  # downstream: the oldest are dropped
    after = [next(frames) for _ in range(AHEAD)]
    frames.close()
    assert len(first.faces) == 2 and all(len(f.faces) == 2 for f in after)
    assert after[-1].timestamp - first.timestamp > 1.5 * Gst.SECOND, [f.timestamp for f in after]


def huge_jpeg(tmp_path, photo: pathlib.Path) -> pathlib.Path:
    """The photo's first 895 bytes (headers and a bit of scan) and an end marker, its SOF0 frame
    header patched to declare 30000x30000."""
    data = bytearray(photo.read_bytes()[:895])
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    out = tmp_path / "huge.jpg"
    out.write_bytes(bytes(data) + b"\xff\xd9")
    return out


def test_a_picture_over_max_pixels_is_refused_before_decoding(group_photo, tmp_path):
    huge = huge_jpeg(tmp_path, group_photo)
    assert huge.stat().st_size == 897
    script = (
        "import resource, sys, emotiondetect\n"
        "try:\n    emotiondetect.analyse_image(sys.argv[1])\n"
        "except emotiondetect.EmotionDetectError as e:\n    print(e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(huge)], capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines, out.stderr
    assert int(lines[-1]) < 500, f"peak RSS {lines[-1]} MB"
    assert f"{huge} declares 30000x30000 (900.0 MP), over max_pixels=40000000" in lines[0]


def test_max_pixels_limits_pictures_arrays_and_streams(group_photo, megamind):
    assert len(emotiondetect.analyse_image(group_photo, max_pixels=450 * 344)) == 2
    with pytest.raises(emotiondetect.EmotionDetectError, match=r"declares 450x344 \(0\.2 MP\), over max_pixels=154799"):
        emotiondetect.analyse_image(group_photo, max_pixels=450 * 344 - 1)
    with pytest.raises(emotiondetect.EmotionDetectError, match=r"Megamind.avi declares 720x528 \(0\.4 MP\), over max_pixels=100000"):
        list(emotiondetect.analyse(megamind, max_pixels=100_000))
    np = pytest.importorskip("numpy", reason="python3-numpy (scripts/test.sh installs it)")
    with pytest.raises(emotiondetect.EmotionDetectError, match=r"shape \(40, 50, 3\) declares 50x40 .* over max_pixels=1999"):
        emotiondetect.analyse_image(np.zeros((40, 50, 3), dtype=np.uint8), max_pixels=1999)
    with pytest.raises(TypeError, match="max_pixels must be an int"):
        emotiondetect.analyse_image(group_photo, max_pixels="big")


def test_the_default_limits_are_documented():
    import inspect

    assert inspect.signature(emotiondetect.analyse_image).parameters["max_pixels"].default == 40_000_000
    assert inspect.signature(emotiondetect.analyse).parameters["max_pixels"].default == 7680 * 4320
    for f in (emotiondetect.analyse_image, emotiondetect.analyse):
        assert "max_pixels" in f.__doc__ and "TypeError" in f.__doc__ and "truncated" in f.__doc__


def test_a_truncated_or_corrupt_picture_raises(group_photo, tmp_path):
    data = group_photo.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:1000])
    with pytest.raises(emotiondetect.EmotionDetectError, match="cut.jpg: the picture is truncated or corrupt: .*ends at byte 1000 with no end-of-image"):
        emotiondetect.analyse_image(cut)
    # Its second Huffman table overwritten: libjpeg gives up on the picture, jpegdec drops it.
    bad = bytearray(data)
    dht = data.index(b"\xff\xc4", data.index(b"\xff\xc4") + 4)
    bad[dht + 5 : dht + 30] = b"\xff" * 25
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(emotiondetect.EmotionDetectError, match="corrupt.jpg: the picture is truncated or corrupt: jpegdec.* could not decode"):
        emotiondetect.analyse_image(corrupt)


def test_a_truncated_video_yields_what_decodes_then_raises(megamind, megamind_frames, tmp_path):
    data = megamind.read_bytes()
    half = tmp_path / "half.avi"
    half.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(emotiondetect.EmotionDetectError) as e:
        for frame in emotiondetect.analyse(half):
            got.append(frame)
    assert 120 <= len(got) < 270
    # Without the index at the end avidemux times a few frames differently: compare the pictures'
    # faces, frame by frame.
    assert [c[1:] for c in content(got)] == [c[1:] for c in megamind_frames[: len(got)]]
    assert str(e.value) == (
        f"{half}: 1 corrupt-data warning ({len(got)} frames analysed before the end); the first: the file is "
        f"truncated: its RIFF header declares {len(data)} bytes, the file has {len(data) // 2}"
    )
