"""Small generated takes and plates for the batch tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from guangying.evaluation.clips import green_screen_clip
from guangying.media import open_writer

SRC = Path(__file__).resolve().parents[2] / "src"
W, H = 160, 96


def write_clip(path: Path, frames: int, seed: int, size: tuple[int, int] = (W, H)) -> Path:
    with open_writer(
        path, fps=Fraction(25), width=size[0], height=size[1], content="rgb", timecode="10:00:00:00"
    ) as writer:
        for frame in green_screen_clip(size[0], size[1], frames, seed=seed):
            writer.write(frame.rgb_srgb)
    return path


def write_still(path: Path, rgb: tuple[float, float, float], size: tuple[int, int] = (W, H)) -> Path:
    with open_writer(path, width=size[0], height=size[1]) as writer:
        writer.write(np.full((size[1], size[0], 3), rgb, np.float32))
    return path
