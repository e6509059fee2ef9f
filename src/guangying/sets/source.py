"""Pictures a set is made of — a still or a clip — served per shot position in linear light.

A clip advances with the shot (position i → its i-th frame; given the footage's rate, the frame at
the same time, so a clip at another rate plays at its own speed) and holds its last frame if it is
shorter; a still is decoded once. Whatever a set builds from a picture (a mip pyramid) is rebuilt only
when the picture changes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import MediaError
from guangying.base.memory import physical_memory_bytes
from guangying.media import open_reader
from guangying.media.frames import Frame
from guangying.media.highlights import roll_off_highlights
from guangying.media.patterns import parse_pattern
from guangying.media.reader import Reader

T = TypeVar("T")
_BAND_ROWS = 64
# a picture's peak while it is read and its mip pyramid built (measured with tracemalloc: 32.6 for a
# panorama's RGB pyramid, about 37 for a layer's RGBA one; 60.6 before the linear picture was built in
# bands and the pyramid in place)
PREPARE_BYTES_PER_PX = 38


def _linear_rgba(frame: Frame, highlight_peak: float | None) -> np.ndarray:
    """float32 (H, W, 4) linear, premultiplied (alpha 1 where the picture has none). An HDR clip's light
    above reference white is rolled off as a foreground's is (an EXR keeps its own: defocus blooms it)."""
    h, w = frame.rgb.shape[:2]
    out = np.empty((h, w, 4), np.float32)
    # a band of rows at a time into the one output: whole-picture steps held four temporaries at once,
    # 64 bytes a pixel (a 200-megapixel panorama peaked at 12 GB)
    for top in range(0, h, _BAND_ROWS):
        rows = slice(top, top + _BAND_ROWS)
        rgb = frame.rgb[rows] if frame.transfer == "linear" else srgb_to_linear(frame.rgb[rows])
        if highlight_peak is not None:
            rgb = roll_off_highlights(rgb, highlight_peak)
        out[rows, :, 3] = 1.0 if frame.alpha is None else frame.alpha[rows]
        np.multiply(rgb, out[rows, :, 3:], out=out[rows, :, :3])
    return out


def _say_a_big_picture(what: str, spec: str, width: int, height: int) -> None:
    """A picture whose preparation takes over a quarter of the machine's memory is said before it is
    decoded (a 200-megapixel panorama took 12 GB without a word)."""
    memory = physical_memory_bytes()
    need = width * height * PREPARE_BYTES_PER_PX
    if memory is not None and need > memory / 4:
        warnings.warn(
            f"{what} {spec} is {width}×{height}: preparing it takes about {need / 1e9:.1f} GB of this "
            f"machine's {memory / 1e9:.1f} GB of memory. A copy at half the width takes a quarter, and "
            "looks the same wherever the camera sees the picture at no more than that copy's resolution",
            stacklevel=4)


class PictureSource(Generic[T]):
    """A still or a clip turned by ``prepare`` (e.g. into a :class:`~guangying.sets.mip.MipPyramid`)
    from float32 (H, W, 4) linear premultiplied RGBA and its pixel aspect (a pixel's width over its
    height as shown, from the file); ``at(position)`` returns the prepared frame. ``camera_log``: its
    encoding, as :func:`~guangying.media.open_reader` takes it (a log clip, an untagged ACEScg EXR).
    ``keep_light``: an HDR or log clip's light above reference white is handed on as it is (its
    ``highlight_peak`` says how far it reaches), not rolled off."""

    def __init__(
        self,
        spec: str | Path,
        prepare: Callable[[np.ndarray, Fraction], T],
        what: str = "set picture",
        footage_fps: Fraction | float | None = None,
        camera_log: str | None = "auto",
        keep_light: bool = False,
    ) -> None:
        self.spec, self._what = str(spec), what
        self._keep_light = keep_light
        if not Path(self.spec).exists() and parse_pattern(self.spec) is None:
            raise MediaError(f"{what} '{self.spec}' does not exist")
        self._prepare = prepare
        self._reader: Reader | None = open_reader(self.spec, camera_log=camera_log)
        info = self._reader.info
        self.width, self.height, self.fps = info.width, info.height, info.fps
        self.pixel_aspect = info.pixel_aspect
        self.highlight_peak = info.highlight_peak
        self.is_still = info.kind == "image" or info.frame_count == 1
        _say_a_big_picture(what, self.spec, self.width, self.height)
        self._iter: Iterator[Frame] | None = iter(self._reader)
        self._position = -1
        self._current: T | None = None
        self._advance()
        if self.is_still:
            self.close()
        self._frames_per_position: Fraction | None = None
        if not self.is_still and footage_fps and info.fps and Fraction(info.fps) != Fraction(footage_fps):
            self._frames_per_position = Fraction(info.fps) / Fraction(footage_fps)
            warnings.warn(
                f"{what} clip {self.spec} runs at {float(info.fps):g} fps and the footage at "
                f"{float(footage_fps):g} fps: its frames are taken by time, so it plays at its own speed "
                f"({'dropping' if self._frames_per_position > 1 else 'repeating'} frames). To play it "
                "frame for frame, conform its rate first",
                stacklevel=3,
            )

    def _advance(self) -> None:
        frame = next(self._iter, None) if self._iter is not None else None
        if frame is None:
            if self._current is None:
                raise MediaError(f"'{self.spec}' has no frames")
            if not self.is_still:
                warnings.warn(f"{self._what} clip {self.spec} ends after {self._position + 1} frames, before "
                              "the footage does: its last frame is held from there on", stacklevel=4)
            self.close()  # hold the last frame
            return
        assert self._reader is not None
        rgba = _linear_rgba(frame, None if self._keep_light else self.highlight_peak)
        del frame  # not held while the pyramid is built beside the picture
        self._current = None  # nor the last frame's pyramid (a clip's)
        self._current = self._prepare(rgba, self.pixel_aspect)
        self._position += 1

    def at(self, position: int) -> T:
        """The prepared frame for shot position ``position`` (clips only move forwards)."""
        if self._frames_per_position is not None:
            position = math.floor(position * self._frames_per_position)
        while not self.is_still and self._iter is not None and self._position < position:
            self._advance()
        assert self._current is not None
        return self._current

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
            self._iter = None
