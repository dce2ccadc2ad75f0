# SPDX-License-Identifier: MIT
"""Paths of the test data (../shared beside the checkout, as for the Rust tests)."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("EMOTIONDETECT_SHARED_DIR", ROOT.parent / "shared"))


def shared_file(relative: str) -> pathlib.Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.fail(f"{path} not found: the test data lives in ../shared beside the checkout (or EMOTIONDETECT_SHARED_DIR)")
    return path


@pytest.fixture
def megamind() -> pathlib.Path:
    return shared_file("media/videos/Megamind.avi")


@pytest.fixture
def group_photo() -> pathlib.Path:
    return shared_file("media/group-photos/13.jpg")


def decoded_rgb(path: pathlib.Path, width: int = 0, height: int = 0):
    """The picture at `path` decoded by GStreamer as an H x W x 3 uint8 RGB numpy array (scaled
    to width x height when given)."""
    np = pytest.importorskip("numpy", reason="python3-numpy (scripts/test.sh installs it)")
    from emotiondetect._api import Gst

    Gst.init(None)
    size = f",width={width},height={height}" if width else ""
    pipe = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! videoconvert ! videoscale ! video/x-raw,format=RGB{size} ! appsink name=s'
    )
    sink = pipe.get_by_name("s")
    pipe.set_state(Gst.State.PLAYING)
    try:
        sample = sink.emit("pull-sample")
        caps = sample.get_caps().get_structure(0)
        w, h = caps.get_value("width"), caps.get_value("height")
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        assert ok
        data = bytes(info.data)
        buffer.unmap(info)
    finally:
        pipe.set_state(Gst.State.NULL)
    stride = (w * 3 + 3) & ~3  # GStreamer's RGB rows start on 4-byte boundaries
    rows = np.frombuffer(data, dtype=np.uint8).reshape(h, stride)[:, : w * 3]
    return np.ascontiguousarray(rows).reshape(h, w, 3)
