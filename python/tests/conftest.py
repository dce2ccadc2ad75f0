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
