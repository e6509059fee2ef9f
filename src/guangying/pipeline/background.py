"""The plate a subject is composited over: a flat colour, a still image, or a clip."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import MissingMediaError, SettingsError
from guangying.base.per_plate import mark_still
from guangying.media import MediaError
from guangying.media.highlights import display_light
from guangying.media.patterns import parse_pattern
from guangying.sets.source import PictureSource

_NAMED_SRGB = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "grey": (0.5, 0.5, 0.5),
    "gray": (0.5, 0.5, 0.5),
    "green": (0.0, 0.694, 0.251),  # chroma-key green
    "blue": (0.0, 0.278, 0.733),  # chroma-key blue
}


def parse_colour_srgb(spec: str) -> tuple[float, float, float] | None:
    """``#RRGGBB``, ``R,G,B`` in 0–1 or a name (black, white, grey, green, blue) → sRGB 0–1; else None."""
    text = spec.strip().lower()
    if text in _NAMED_SRGB:
        return _NAMED_SRGB[text]
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return tuple(int(text[i : i + 2], 16) / 255.0 for i in (1, 3, 5))  # type: ignore[return-value]
    parts = text.split(",")
    if len(parts) == 3:
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            return None
        if all(0.0 <= v <= 1.0 for v in values):
            return values  # type: ignore[return-value]
    return None


def fit_cover(rgb: np.ndarray, width: int, height: int, pixel_aspect: Fraction = Fraction(1),
              source_pixel_aspect: Fraction = Fraction(1)) -> np.ndarray:
    """Scale to cover width×height (keep aspect, centre crop), as a set extension would be framed.

    Aspects are as shown: a frame of ``pixel_aspect`` 2 (an anamorphic plate, stored squeezed) is
    covered by the picture squeezed the same way, and a picture of ``source_pixel_aspect`` ≠ 1 is
    unsqueezed first."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height) and pixel_aspect == source_pixel_aspect:
        return rgb
    # in shown widths: the frame is width·pixel_aspect wide, the picture w·source_pixel_aspect
    scale = max(width * pixel_aspect / (w * source_pixel_aspect), Fraction(height, h))
    squeeze = source_pixel_aspect / pixel_aspect
    new_w, new_h = max(width, round(w * scale * squeeze)), max(height, round(h * scale))
    scale = float(min(new_w / w, new_h / h))  # the interpolation: shrinking on either axis averages
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interp)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


class PlateSource(Protocol):
    """What a job composites over, frame by frame: a :class:`Background`, or a virtual set rendered for
    each frame's camera (which may look at the plate frame itself, e.g. for the actor's shadow).
    ``inputs`` are the files it reads, which no output of the job may overwrite. One that counts the
    shot's frames may also have ``start_at(position)``, called before a range from partway in with the
    shot position (from its first frame, 0) of the range's first frame."""

    inputs: tuple[str, ...]

    def next_plate(
        self, frame_index: int, plate_rgb_srgb: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


def plate_inputs(background: str | Path | PlateSource | None) -> list[str | Path]:
    """The files a job's background reads (for the no-output-over-an-input check)."""
    if background is None:
        return []
    if isinstance(background, str | Path):
        return [background]
    if not all(hasattr(background, name) for name in ("next_plate", "close", "inputs")):
        raise SettingsError(
            f"background {type(background).__name__}: give a colour ('#203040', 'grey'), a picture or "
            "clip's path, or a PlateSource (such as SetBackground). For an array, composite frame by "
            "frame with FrameCompositor.process, or write it to a picture first")
    return list(background.inputs)


COLOURS_SAID = "#RRGGBB, 'R,G,B' in 0–1, or black/white/grey/green/blue"


def neither_file_nor_colour(spec: str) -> str:
    """What is said of a background that names no file and no colour."""
    return f"background '{spec}' is neither a file nor a colour (use a path, {COLOURS_SAID})"


class Background:
    """Serves the background plate for each frame, sRGB-encoded and linear, fitted to the frame size.

    A still plate (colour or image) is prepared once; a clip is read alongside the foreground and
    holds its last frame if it is shorter (the sets' :class:`~guangying.sets.source.PictureSource`
    does the reading). Given the footage's frame rate ``fps``, a clip at another rate (stock footage
    at 30 or 60 fps behind a 25 fps shoot) is taken by time, so it plays at its own speed, as an
    editor's timeline plays it; without, frame for frame. A picture with alpha is laid over black.
    ``camera_log``: the picture's encoding where its file does not say it (a LogC3 plate, an untagged
    ACEScg EXR), as ``open_reader`` takes it. An HDR or log clip's light above reference white is kept in
    the linear plate (for a scene-linear composite), its ``highlight_peak`` given: the sRGB plate and
    the display composite roll it off from there, as a foreground of that clip is.
    """

    def __init__(self, spec: str | Path, width: int, height: int, fps: Fraction | None = None,
                 pixel_aspect: Fraction = Fraction(1), camera_log: str | None = "auto") -> None:
        self.spec = str(spec)
        self.inputs: tuple[str, ...] = ()  # files it reads (a colour reads none)
        self.width, self.height, self.pixel_aspect = width, height, pixel_aspect
        self._source: PictureSource[np.ndarray] | None = None
        self._position = 0
        self.highlight_peak: float | None = None
        self._last: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None  # a clip's, converted
        self._said_transparent = self._said_cropped = False
        colour = parse_colour_srgb(self.spec)
        if colour is not None:
            srgb = np.empty((height, width, 3), np.float32)
            srgb[:] = np.asarray(colour, np.float32)
            self._still: tuple[np.ndarray, np.ndarray] | None = (srgb, srgb_to_linear(srgb))
            self.is_still = True
            self._mark_still()
            return
        if not self.spec.strip():  # Path("") is the working folder, and was refused as "." a folder
            raise MediaError(f"the background is empty: give a picture, a clip or a colour ({COLOURS_SAID})")
        if not Path(self.spec).exists() and parse_pattern(self.spec) is None:
            # a FileNotFoundError too, as a missing footage file is (a service catching it for a set
            # picture not copied yet missed this one)
            raise MissingMediaError(neither_file_nor_colour(self.spec))
        self.inputs = (self.spec,)
        self._source = PictureSource(self.spec, self._fit, what="background", footage_fps=fps,
                                     camera_log=camera_log, keep_light=True)
        self.highlight_peak = self._source.highlight_peak
        self.is_still = self._source.is_still
        self._still = self._with_srgb(self._source.at(0)) if self.is_still else None
        self._mark_still()

    def _mark_still(self) -> None:
        """A still plate is handed out every frame, unchanged: the lens and light wrap keep their blur
        of it without comparing it frame by frame."""
        for plate in self._still or ():
            mark_still(plate)

    def _fit(self, rgba_linear: np.ndarray, source_pixel_aspect: Fraction) -> np.ndarray:
        if rgba_linear.shape[2] == 4 and not self._said_transparent and float(rgba_linear[..., 3].min()) < 1:
            self._said_transparent = True  # said once: the composite showed black there without a word
            share = float(np.mean(rgba_linear[..., 3] < 1))
            warnings.warn(f"background {self.spec} is transparent in {share:.0%} of its picture: the set "
                          "shows black there. Flatten it over the colour you want first (in the software "
                          "that made it)", stacklevel=2)
        self._say_cropped(rgba_linear.shape[1] * source_pixel_aspect / rgba_linear.shape[0])
        return np.ascontiguousarray(fit_cover(rgba_linear[..., :3], self.width, self.height,
                                              self.pixel_aspect, source_pixel_aspect))

    def _with_srgb(self, rgb_linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # only an HDR or log clip's light is rolled off here (the compositor shows the rest's light above
        # 1 itself): the extent scan stays off an SDR clip's every frame
        shown = display_light(rgb_linear, self.highlight_peak) if self.highlight_peak else rgb_linear
        return linear_to_srgb(shown), rgb_linear

    def _say_cropped(self, shown_aspect: Fraction) -> None:
        """Once: a picture of another shape fills the frame by losing over half of its width or height
        (a portrait picture behind a landscape plate), which a scale of the same shape never does."""
        frame_aspect = self.width * self.pixel_aspect / self.height
        kept = min(shown_aspect, frame_aspect) / max(shown_aspect, frame_aspect)
        if kept < 0.5 and not self._said_cropped:
            self._said_cropped = True
            side = "height" if shown_aspect < frame_aspect else "width"
            warnings.warn(f"background {self.spec} is {float(shown_aspect):.2f}:1, the frame "
                          f"{float(frame_aspect):.2f}:1: filling the frame keeps {float(kept):.0%} of its "
                          f"{side}. Export the set at the plate's shape to choose what shows", stacklevel=3)

    def next_plate(
        self, frame_index: int | None = None, plate_rgb_srgb: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rgb_srgb, rgb_linear) for the next frame, both float32 (H, W, 3); the arguments (the plate
        frame being composited) are not needed by a picture background."""
        if self._still is not None:
            return self._still
        assert self._source is not None
        rgb_linear = self._source.at(self._position)
        self._position += 1
        if self._last is None or self._last[0] is not rgb_linear:  # (a slower clip repeats its frames)
            self._last = (rgb_linear, self._with_srgb(rgb_linear))
        return self._last[1]

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
