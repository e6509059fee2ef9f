"""Fixtures of the live tests: a generated green-screen plate, as frames and as an H.264 file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from live_helpers import FPS, H, W

from guangying.evaluation.clips import green_screen_clip
from guangying.media import open_writer


@pytest.fixture(scope="session")
def plate_frames() -> list[np.ndarray]:
    """A moving subject on an unevenly lit green screen, sRGB float32 (H, W, 3)."""
    return [f.rgb_srgb for f in green_screen_clip(W, H, 40, seed=11)]


@pytest.fixture(scope="session")
def plate_clip(tmp_path_factory, plate_frames) -> Path:
    path = tmp_path_factory.mktemp("live") / "plate.mp4"
    with open_writer(path, fps=Fraction(FPS), width=W, height=H, content="rgb") as writer:
        for rgb in plate_frames:
            writer.write(rgb, transfer="srgb")
    return path
