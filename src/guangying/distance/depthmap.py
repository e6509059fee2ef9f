"""Depth maps aligned to the picture: loading (16-bit PNG in mm, EXR/NPY in m) and robust sampling of
the subject's distance over a region (holes, edges, background showing through hair)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guangying.base.errors import InputFormatError, SettingsError
from guangying.distance.reading import DistanceReading
from guangying.media.opencv import cv2, exr_codec_off_note


class DepthMapError(InputFormatError):
    """A depth file that cannot be used as metres."""


class MissingDepthMapError(DepthMapError, FileNotFoundError):
    """A depth file that is not there (also a ``FileNotFoundError``)."""


def load_depth_m(path: str | Path, metres_per_unit: float | None = None) -> np.ndarray:
    """Read a depth map as float32 metres, (H, W); 0 / non-finite = no measurement.

    ``.png`` must be 16-bit single-channel millimetres (RealSense/Kinect/ARKit exports); ``.exr`` and
    ``.npy`` hold metres (EXR: first channel), an integer ``.npy`` millimetres; ``.tif`` holds
    millimetres as integers (16-bit, as the same tools write it) and metres as floats.
    ``metres_per_unit`` overrides the unit (TUM RGB-D's PNGs: 1/5000 m; a float map in mm: 0.001).
    A map whose measured pixels are mostly beyond any depth camera's reach is said: its unit is
    likely wrong, and it read as far wall or as no distance at all without a word.
    """
    if metres_per_unit is not None and not (math.isfinite(metres_per_unit) and metres_per_unit > 0):
        raise DepthMapError(f"depth scale must be metres per unit above 0 (mm: 0.001), got {metres_per_unit}")
    depth = _load_depth_units(Path(path))
    integer = np.issubdtype(depth.dtype, np.integer)
    scale = metres_per_unit if metres_per_unit is not None else (0.001 if integer else 1.0)
    depth_m = depth.astype(np.float32) * np.float32(scale)
    _say_unlikely_unit(Path(path), depth_m, integer, metres_per_unit is not None)
    return depth_m


# A typical depth beyond which a map's unit is doubted: integer maps come from RGB-D cameras and phone
# LiDARs (a room, a set: 0.3–10 m); float maps from renders too, which may see far, but a map mostly
# past the 50 m the distance reading takes (sample_depth's max_m) gives none: a close scene in mm read
# as 600–900 m gave "0" without a word
REACH_M = {"integer": 10.0, "float": 50.0}


def _say_unlikely_unit(path: Path, depth_m: np.ndarray, integer: bool, scale_given: bool) -> None:
    sample = depth_m[:: max(1, depth_m.shape[0] // 64), :: max(1, depth_m.shape[1] // 64)]
    measured = sample[np.isfinite(sample) & (sample > 0)]
    reach = REACH_M["integer" if integer else "float"]
    if scale_given or not measured.size or float(np.median(measured)) <= reach:
        return
    typical = float(np.median(measured))
    hint = ("TUM RGB-D PNGs count 1/5000 m: --depth-scale 0.0002" if integer
            else "a float map in millimetres: --depth-scale 0.001")
    warnings.warn(f"{path}: its depths are around {typical:g} m, beyond any depth camera's reach: is its "
                  f"unit another? ({hint})", stacklevel=3)


def _load_depth_units(p: Path) -> np.ndarray:
    """The map's numbers as stored: integers (millimetres, unless told) or floats (metres)."""
    if not p.is_file():
        if p.is_dir():
            raise DepthMapError(f"depth map {p} is a folder: give a depth picture, or its frames as "
                                "depth.%04d.png with --fps")
        raise MissingDepthMapError(f"depth map not found: {p}")
    ext = p.suffix.lower()
    if ext == ".npy":
        with open(p, "rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY":
            raise DepthMapError(
                f"{p} is not a NumPy .npy array (it does not start with the .npy header); "
                "save the depth map with numpy.save, or as a 16-bit PNG in mm or an EXR in m"
            )
        try:
            depth = np.load(p, allow_pickle=False)
        except ValueError as exc:  # an object array: never unpickle a file we were given
            raise DepthMapError(
                f"{p}: the .npy file holds Python objects, not a numeric depth array"
            ) from exc
        if not (np.issubdtype(depth.dtype, np.integer) or np.issubdtype(depth.dtype, np.floating)):
            # a complex array read as its real part, booleans as 0 and 1 mm, without a word
            raise DepthMapError(f"{p}: the .npy file holds {depth.dtype} values, not depth numbers (integers "
                                "in mm or floats in m)")
    elif ext in (".png", ".exr", ".tif", ".tiff"):
        try:
            depth = cv2.imread(str(p), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        except cv2.error as exc:
            note = exr_codec_off_note(exc)
            why = note or f"OpenCV cannot read it ({exc.err})"
            raise DepthMapError(f"{p}: {why}") from exc
        if depth is None:
            raise DepthMapError(f"{p}: OpenCV cannot read it: the file is damaged or incomplete, or is no "
                                f"{ext[1:].upper()} picture")
        if depth.ndim == 3:
            depth = depth[..., 2] if ext != ".exr" else depth[..., 0]
        if depth.dtype == np.uint8:
            raise DepthMapError(
                f"{p} is 8-bit: that holds no distance in metres (a depth picture scaled for viewing); "
                "save the depth map as a 16-bit PNG or TIFF in mm, or an EXR, float TIFF or .npy in m"
            )
        if ext == ".png" and depth.dtype != np.uint16:
            raise DepthMapError(f"{p}: a PNG depth map must be 16-bit millimetres, got {depth.dtype}")
    else:
        raise DepthMapError(f"{p}: unsupported depth format {ext} (use 16-bit PNG in mm, EXR or NPY in m)")
    depth = np.asarray(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number) or depth.dtype == np.bool_:
        raise DepthMapError(f"{p}: expected a 2-D numeric depth array, got shape {depth.shape} {depth.dtype}")
    if depth.size == 0:  # said as a box reaching past a 0×0 map
        raise DepthMapError(f"{p}: the depth map is empty ({depth.shape[1]}×{depth.shape[0]} pixels)")
    return depth


@dataclass(frozen=True, slots=True)
class DepthSample:
    """Result of sampling a region: the subject's distance, how sure we are, and why."""

    distance_m: float
    confidence: float
    valid_fraction: float  # of region pixels that held a usable depth
    mode_share: float  # of usable pixels that belong to the chosen (nearest dominant) surface


def _region_mask(
    shape: tuple[int, int], mask: np.ndarray | None, box: tuple[int, int, int, int] | None
) -> np.ndarray:
    h, w = shape
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != (h, w):
            raise SettingsError(f"mask shape {m.shape} does not match the depth map {(h, w)}")
        return m > 0.5 if m.dtype != bool else m
    out = np.zeros((h, w), dtype=bool)
    if box is None:
        out[:] = True
        return out
    if not all(math.isfinite(float(v)) for v in box):  # a NaN corner was a raw "cannot convert float NaN"
        raise SettingsError(f"box {box}: its corners must be finite numbers of pixels")
    if all(0.0 <= float(v) <= 1.0 for v in box) and w > 2 and h > 2:
        raise SettingsError(f"box {box} is in pixels of the {w}×{h} depth map, not fractions of it: "
                            f"({box[0] * w:g}, {box[1] * h:g}, {box[2] * w:g}, {box[3] * h:g}) for those")
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 <= x0 or y1 <= y0:
        # swapped without a word, an OpenCV rect (x, y, w, h) was read 18 cm off on a real map
        rect = f"; an OpenCV rect (x, y, w, h) is ({x0}, {y0}, {x0 + x1}, {y0 + y1}) as a box"
        hint = rect if x1 > 0 and y1 > 0 else ""
        raise SettingsError(f"box {box} is (x0, y0, x1, y1), its far corner right of and below the near one "
                            f"by a pixel at least{hint}")
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        raise SettingsError(f"box {box} does not overlap the {w}×{h} depth map")
    out[y0:y1, x0:x1] = True
    return out


def sample_depth(
    depth_m: np.ndarray,
    mask: np.ndarray | None = None,
    box: tuple[int, int, int, int] | None = None,
    min_m: float = 0.1,
    max_m: float = 50.0,
    edge_px: int | None = None,
    bin_rel: float = 0.02,
    min_share: float = 0.15,
) -> DepthSample:
    """Distance of the subject inside a region (``mask`` 0–1/bool, or ``box`` x0, y0, x1, y1 in pixels,
    or the whole map).

    Why not a mean or median: the region holds holes (0), mixed "flying" pixels along depth edges and,
    around hair and shoulders, the background. So we (1) shrink the region by ``edge_px``, (2) drop
    pixels next to a depth discontinuity, (3) histogram log-depth in ``bin_rel`` (2 %) bins and take
    the *nearest* surface holding at least ``min_share`` of the usable pixels, (4) return the median of
    the pixels within ±2 bins of that surface. Confidence = usable fraction × that surface's share.
    """
    d = np.asarray(depth_m)
    if not np.issubdtype(d.dtype, np.floating):
        # a RealSense or Kinect z16 frame is uint16 millimetres: read as metres, every pixel is
        # beyond max_m and the reading would be silently empty
        millimetres = d.dtype == np.uint16
        hint = "; a 16-bit map in millimetres: depth.astype(np.float32) / 1000" if millimetres else ""
        raise DepthMapError(f"depth map must be float metres, got dtype {d.dtype}{hint}")
    d = d.astype(np.float32, copy=False)
    if d.ndim != 2:
        raise DepthMapError(f"depth map must be 2-D (H, W), got {d.shape}")
    region = _region_mask(d.shape, mask, box)
    n_region = int(region.sum())
    if n_region == 0:
        return DepthSample(float("nan"), 0.0, 0.0, 0.0)
    if edge_px is None:
        ys, xs = np.nonzero(region)
        edge_px = max(1, int(0.03 * min(np.ptp(ys) + 1, np.ptp(xs) + 1)))
    if edge_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_px + 1, 2 * edge_px + 1))
        inner = cv2.erode(region.astype(np.uint8), k).astype(bool)
        if inner.sum() >= max(16, 0.1 * n_region):
            region = inner
    usable = np.isfinite(d) & (d > min_m) & (d < max_m)
    # flying pixels: a 3×3 depth range above 5 % of the depth marks a discontinuity
    filled = np.where(usable, d, 0).astype(np.float32)
    k3 = np.ones((3, 3), np.uint8)
    big = np.where(usable, d, np.float32(1e6)).astype(np.float32)
    local_max = cv2.dilate(filled, k3)
    local_min = cv2.erode(big, k3)
    smooth = (local_max - local_min) <= 0.05 * np.maximum(filled, 1e-3)
    sel = region & usable & smooth
    values = d[sel]
    valid_fraction = values.size / float(region.sum())
    if values.size < 8:
        return DepthSample(float("nan"), 0.0, valid_fraction, 0.0)
    logd = np.log(values)
    lo, hi = float(logd.min()), float(logd.max())
    nbins = max(1, int(np.ceil((hi - lo) / bin_rel)) + 1)
    hist, edges = np.histogram(logd, bins=nbins, range=(lo, lo + nbins * bin_rel))
    # smooth over ±1 bin so a surface split across two bins still counts as one
    mass = np.convolve(hist, np.ones(3), mode="same") / values.size
    candidates = np.nonzero(mass >= min_share)[0]
    peak = int(candidates[0]) if candidates.size else int(np.argmax(mass))
    # climb to the local maximum of that nearest surface
    while peak + 1 < mass.size and mass[peak + 1] > mass[peak]:
        peak += 1
    centre = 0.5 * (edges[peak] + edges[peak + 1])
    near = np.abs(logd - centre) <= 2.5 * bin_rel
    share = float(near.mean())
    distance = float(np.median(values[near]))
    return DepthSample(distance, float(np.clip(valid_fraction * share, 0.0, 1.0)), valid_fraction, share)


def reading_from_depth(
    depth_m: np.ndarray,
    t_s: float,
    mask: np.ndarray | None = None,
    box: tuple[int, int, int, int] | None = None,
    source: str = "depth",
) -> DistanceReading:
    """Sample a region of one depth frame into a :class:`DistanceReading`.

    Parameters
    ----------
    depth_m : ndarray, float32 (H, W)
        Depth in metres; 0 or non-finite = no depth (holes).
    t_s : float
        Time stamp of the frame, seconds.
    mask, box
        The subject's region: a 0–1 (H, W) mask, or a box (x0, y0, x1, y1) in pixels; None = all.

    Examples
    --------
    A person-shaped region 2.4 m away in front of a wall at 6 m, with holes:

    >>> import numpy as np
    >>> from skimage import data
    >>> person = data.astronaut()[::4, ::4, 0] > 120                   # (128, 128) bool
    >>> depth = np.where(person, 2.4, 6.0).astype(np.float32)
    >>> depth[::7, ::5] = 0.0                                          # sensor holes
    >>> r = reading_from_depth(depth, t_s=0.5, box=(32, 16, 96, 120))
    >>> round(r.distance_m, 2), r.valid
    (2.4, True)
    """
    s = sample_depth(depth_m, mask=mask, box=box)
    return DistanceReading(t_s, s.distance_m, s.confidence if np.isfinite(s.distance_m) else 0.0, source)
