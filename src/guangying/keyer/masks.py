"""Garbage and core mattes from polygons or mask images, and clean plates, as float32 arrays 0–1."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from guangying.base.errors import InputFormatError, MissingInputError, SettingsError
from guangying.base.files import names_a_file
from guangying.media import display_srgb, open_reader
from guangying.media.opencv import cv2
from guangying.media.picture_header import read_header, read_oriented

# Rows sampled per pixel; across each row a span's coverage of every pixel is exact. cv2.fillPoly was
# used before: it counts the fine pixels an edge touches as inside, and even averaged with a fill
# nudged up-left it left a polygon on half pixels 0.125 past its edges and random polygons ±2 px² off.
_ROWS_PER_PIXEL = 16


def polygon_mask(
    points_xy: np.ndarray | Sequence[Sequence[float]] | Sequence[np.ndarray],
    shape: tuple[int, int],
    invert: bool = False,
) -> np.ndarray:
    """Antialiased filled polygon(s): each pixel's covered fraction, 1 inside, 0 outside (swapped with
    ``invert``): exact across each of 16 lines a pixel, so an edge that runs nearly along a row is placed
    to 1/16 pixel (a pixel up to 1/32 off; a sliver thinner than that may vanish).

    ``points_xy`` is one polygon as (N, 2) pixel coordinates (x right, y down, pixel centres at
    integers) or a list of such polygons, filled even-odd (where two overlap is a hole, as in
    cv2.fillPoly); ``shape`` is the frame's (height, width). Draw around the subject and invert it to
    get a garbage matte that removes everything else.
    """
    height, width = int(shape[0]), int(shape[1])
    first = np.asarray(points_xy[0], dtype=np.float64)
    polygons = [points_xy] if first.ndim == 1 else list(points_xy)
    starts, ends = [], []
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise SettingsError(
                f"a polygon needs at least 3 (x, y) points, got an array of shape {pts.shape}"
            )
        starts.append(pts)
        ends.append(np.roll(pts, -1, axis=0))
    edges = (*np.concatenate(starts).T, *np.concatenate(ends).T)
    # a traced outline of thousands of points crosses every scanline: rows in blocks bound the memory
    block = max(1, 2_000_000 // (len(edges[0]) * _ROWS_PER_PIXEL))
    mask = np.concatenate([_rows_covered(edges, top, min(height, top + block), width)
                           for top in range(0, height, block)] or [np.zeros((0, width), np.float32)])
    mask = np.clip(mask, 0.0, 1.0)  # float rounding of the sums
    return (np.float32(1.0) - mask) if invert else mask


def _rows_covered(edges: tuple[np.ndarray, ...], top: int, bottom: int, width: int) -> np.ndarray:
    """Pixel rows ``top``…``bottom − 1`` of :func:`polygon_mask` (before inverting), float32."""
    x0, y0, x1, y1 = edges
    # Scanlines at row centres within each pixel (none on a whole or half pixel), crossing each edge
    # half-open in y so a vertex is met once; a span between crossings covers the strip of its row
    # exactly for a straight edge (a trapezoid's area is its mid-height width × its height).
    y = ((np.arange(top * _ROWS_PER_PIXEL, bottom * _ROWS_PER_PIXEL) + 0.5) / _ROWS_PER_PIXEL - 0.5)[:, None]
    crosses = (y0 <= y) != (y1 <= y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(crosses, x0 + (y - y0) * (x1 - x0) / (y1 - y0), np.inf)
    x.sort(axis=1)  # crossings per row come in pairs (closed polygons): spans between 1st–2nd, 3rd–4th…
    row, pair = np.nonzero(np.isfinite(x[:, 1::2]))
    span_start, span_end = x[row, 2 * pair], x[row, 2 * pair + 1]
    # Each span's coverage of pixel j ([j − ½, j + ½]) is G(end) − G(start), G(u) = clip(u + ½ − j, 0, 1):
    # added as a difference row (two entries per end), summed along the row afterwards.
    steps = np.zeros((bottom - top, width + 2), np.float64)
    pixel_row = row // _ROWS_PER_PIXEL
    for at, sign in ((span_end, 1.0), (span_start, -1.0)):
        u = np.clip(at + 0.5, 0.0, width)
        whole = np.floor(u).astype(np.intp)
        part = u - whole
        np.add.at(steps, (pixel_row, whole), sign * (part - 1.0))
        np.add.at(steps, (pixel_row, whole + 1), -sign * part)
    return (np.cumsum(steps, axis=1)[:, :width] / _ROWS_PER_PIXEL).astype(np.float32)


def _fitted(
    image: np.ndarray, shape: tuple[int, int], what: str, advice: str, pixel_aspect: float = 1.0
) -> np.ndarray:
    """``image`` at the footage's (height, width) ``shape``: scaled, and said, when it has the same
    shape at another size (a plate or mask made on the 4K original of an HD proxy, or the reverse) or
    the shape of the footage shown with its ``pixel_aspect`` (drawn on an anamorphic plate unsqueezed);
    refused when its shape differs, since then it cannot line up with the shot."""
    height, width = image.shape[:2]
    want_h, want_w = shape[:2]
    if (height, width) == (want_h, want_w):
        return image
    ratio = (width / height) / (want_w / want_h)
    if abs(ratio - 1.0) <= 0.01:
        why = "the same framing at another resolution"
    elif pixel_aspect != 1.0 and abs(ratio / pixel_aspect - 1.0) <= 0.01:
        why = f"the framing shown unsqueezed: its pixels are {pixel_aspect:.4g}× as wide as tall"
    else:
        shown = ""
        if pixel_aspect != 1.0:
            shown = f" stored ({round(want_w * pixel_aspect)}×{want_h} shown, its pixels not square)"
        raise SettingsError(
            f"{what} is {width}×{height}, the footage is {want_w}×{want_h}{shown}: another framing cannot "
            f"line up with the shot; {advice}"
        )
    warnings.warn(f"{what} is {width}×{height}, the footage is {want_w}×{want_h}: scaled to the "
                  f"footage's size ({why})", stacklevel=3)
    interpolation = cv2.INTER_AREA if want_w < width else cv2.INTER_LINEAR
    return cv2.resize(image, (want_w, want_h), interpolation=interpolation)


def mask_from_image(
    path: str | Path, shape: tuple[int, int], invert: bool = False, pixel_aspect: float = 1.0
) -> np.ndarray:
    """Read a mask image (8/16-bit grey, RGB → its luminance, RGBA → its luminance, or its alpha where
    the picture is one flat colour) as float32 0–1.

    A mask of the frame's shape at another size (drawn on the 4K original of an HD proxy), or of the
    frame shown with its ``pixel_aspect`` (drawn on an anamorphic plate unsqueezed), is scaled to the
    frame's (height, width), and a warning says so; one of another shape is refused, since it would
    sit in the wrong place.
    """
    path = Path(path)
    if not path.is_file():  # a script's `except FileNotFoundError` missed it
        raise MissingInputError(f"mask image {path} not found")
    image = read_oriented(path, read_header(path).orientation)  # as drawn on: a viewer turns it too
    if image is None:
        raise InputFormatError(f"cannot read mask image {path}: not an image (PNG/TIFF/JPEG/EXR)")
    scale = {np.dtype(np.uint8): 1 / 255, np.dtype(np.uint16): 1 / 65535}.get(image.dtype, 1.0)
    image = image.astype(np.float32) * np.float32(scale)
    if image.ndim == 3:
        # an RGBA mask's picture, unless that is one flat colour and the shape is in its alpha: paint
        # programs save a white-on-black drawing as RGBA, opaque (or nearly: a stray eraser touch, a
        # layer smaller than the canvas), and its alpha masked the whole frame
        picture = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
        flat = float(np.ptp(picture)) <= 2 / 255
        image = image[..., 3] if image.shape[2] == 4 and flat else picture
    image = _fitted(image, shape, f"mask image {path}", "export the mask at the footage's framing",
                    pixel_aspect)
    mask = np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0)  # a float mask's NaN: not masked
    return (np.float32(1.0) - mask) if invert else mask


MAX_POLYGON_PX = 1e6  # points may lie off the frame; past this a typing slip, not a place


def parse_polygon(text: str) -> np.ndarray:
    """``"x,y;x,y;…"`` (pixels, at least three points) → float32 (N, 2) for :func:`polygon_mask`.

    >>> parse_polygon("0,0; 10,0; 10,5").tolist()
    [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0]]
    """
    try:
        points = [tuple(float(v) for v in p.split(",")) for p in text.split(";") if p.strip()]
    except ValueError as exc:
        raise SettingsError(f"polygon '{text}' must be 'x,y;x,y;…' in pixels") from exc
    if len(points) < 3 or any(len(p) != 2 for p in points):
        raise SettingsError(f"polygon '{text}' needs at least three 'x,y' points")
    xy = np.asarray(points, np.float64)
    if not (np.isfinite(xy).all() and np.abs(xy).max() <= MAX_POLYGON_PX):
        raise SettingsError(
            f"polygon '{text}': each x,y must be a finite number of pixels within ±{MAX_POLYGON_PX:g}"
        )
    return xy.astype(np.float32)


def load_mask(spec: str | Path, shape: tuple[int, int], pixel_aspect: float = 1.0) -> np.ndarray:
    """A mask from a polygon ``"x,y;x,y;…"`` (the stored frame's pixels) or a mask image file, float32
    (H, W) 0–1 for a frame of ``shape`` = (height, width) whose pixels are ``pixel_aspect`` as wide as
    tall. A spec that names an existing file is always read as a file."""
    text = str(spec)
    if ";" in text and not names_a_file(text):
        return polygon_mask(parse_polygon(text), shape)
    if _POINTS_WITHOUT_SEMICOLONS.fullmatch(text) and not names_a_file(text):
        # "300,0,440,0,440,360" or "40,30 120,30 120,90" was said as "mask image … not found"
        raise SettingsError(f"polygon '{text}': separate its points with ';' ('x,y;x,y;…' in pixels)")
    return mask_from_image(text, shape, pixel_aspect=pixel_aspect)


_POINTS_WITHOUT_SEMICOLONS = re.compile(r"[\s(]*-?[\d.]+([\s,()]+-?[\d.]+){5,}[\s)]*")


def load_clean_plate(spec: str | Path, shape: tuple[int, int], camera_log: str | None = "auto") -> np.ndarray:
    """The first frame of ``spec`` (an image, sequence or clip of the empty screen) as float32
    (H, W, 3) sRGB-encoded 0–1 at the footage's ``shape`` = (height, width), read in the footage's
    ``camera_log`` (:func:`~guangying.media.open_reader`). A plate of the same shape at another size is
    scaled (a warning says so); one of another shape is refused."""
    with open_reader(spec, camera_log=camera_log) as reader:
        frame, peak = next(iter(reader)), reader.info.highlight_peak
    rgb = _fitted(frame.rgb, shape, f"clean plate {spec}", "export a frame of the take itself before the "
                  "actor walks in (same camera, lens and framing)")
    return display_srgb(rgb, frame.transfer, peak)
