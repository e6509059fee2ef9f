"""HDR light above reference white into the pipeline's SDR picture: the ITU-R BT.2390 EETF on
max(R, G, B).

A phone's HLG or PQ clip is read to scene-linear light with its reference white at 1.0
(:mod:`guangying.media.colour_tags`); skies, windows and lamps sit above 1, up to the stream's peak (HLG
about 3.8). The keyer, the compositor and the virtual set work on SDR pictures (sRGB-coded, 0–1): the
set's white is 1. Cut at 1, such light would flatten to white patches and turn bright colours yellow or
white, one channel clipping before the others. Instead, light from a knee below reference white up to
the stream's peak is rolled off by the BT.2390 EETF (a Hermite spline in PQ space, what mpv, libplacebo
and broadcast converters use) onto SDR white, applied to each pixel's brightest channel and the pixel
scaled with it, so hue holds; light below the knee, most of the picture, is left exactly as it was. It
happens where frames enter the pipeline, so the set keeps its own whites and batch, live and cluster
runs see the same picture. For HLG (peak 3.8) the knee is at 0.5 and reference white lands at
0.82 (sRGB code 0.92); for a 1000 cd/m² PQ grade at 0.43 and 0.78.

ffmpeg's ``tonemap`` filter (the one in PyAV's build) offers Reinhard, Hable and Möbius curves, none of
which keeps light below a knee as it is or is defined by the PQ peak; ``zscale`` is not built in.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.media.colour_tags import linear_to_pq, pq_to_linear
from guangying.media.frames import Transfer


@cache
def _curve(peak: float) -> tuple[float, float, float]:
    """The EETF's constants for a source ``peak`` onto SDR white (1.0): the peak's PQ signal, SDR white's
    share of it (maxLum) and the knee (KS), both in the source's normalised PQ signal."""
    source = float(linear_to_pq(np.array(peak, np.float32)))
    max_lum = float(linear_to_pq(np.array(1.0, np.float32))) / source
    return source, max_lum, 1.5 * max_lum - 0.5


def knee(peak: float) -> float:
    """Light (reference white = 1) below which :func:`bt2390_eetf` leaves a pixel unchanged."""
    source, _, ks = _curve(peak)
    return float(pq_to_linear(np.array(ks * source, np.float32)))


def bt2390_eetf(light: np.ndarray, peak: float) -> np.ndarray:
    """ITU-R BT.2390 EETF (black at 0): light relative to reference white, from a source reaching
    ``peak`` onto a display reaching 1.0. Identity below :func:`knee`, then a spline ending at 1.0 at the
    peak; light beyond the peak maps to 1.0. float32 in, float32 out."""
    light = np.asarray(light, np.float32)
    if peak <= 1.0:
        return np.minimum(light, np.float32(1.0))
    source, max_lum, ks = _curve(peak)
    e1 = np.minimum(linear_to_pq(light) / np.float32(source), np.float32(1.0))
    t = (e1 - np.float32(ks)) / np.float32(1.0 - ks)
    t2, t3 = t * t, t * t * t
    spline = (2 * t3 - 3 * t2 + 1) * np.float32(ks) + (t3 - 2 * t2 + t) * np.float32(1.0 - ks) + (
        -2 * t3 + 3 * t2
    ) * np.float32(max_lum)
    e2 = np.where(e1 < ks, e1, spline)
    rolled = np.minimum(pq_to_linear(e2 * np.float32(source)), np.float32(1.0))  # float32 round trip
    return np.where(e1 < ks, light, rolled).astype(np.float32)


_TABLE_SIZE = 4096  # steps of 0.0008 for HLG: linear interpolation within the curve's float32 error


@cache
def _curve_table(peak: float) -> np.ndarray:
    """:func:`bt2390_eetf` at ``_TABLE_SIZE`` even steps of light from the knee to the peak."""
    return bt2390_eetf(np.linspace(knee(peak), peak, _TABLE_SIZE, dtype=np.float32), peak)


def _rolled(brightest: np.ndarray, peak: float) -> np.ndarray:
    """:func:`bt2390_eetf` of ``brightest`` (all above the knee), from a table of it: 2 M values (a
    1080p frame) in 31 ms instead of the four powers' 131 ms, within the curve's own float32 error."""
    if peak <= 1.0:
        return np.minimum(brightest, np.float32(1.0))
    start = knee(peak)
    steps = (np.minimum(brightest, np.float32(peak)) - np.float32(start)) * np.float32(
        (_TABLE_SIZE - 1) / (peak - start)
    )
    index = np.minimum(steps.astype(np.int32), _TABLE_SIZE - 2)
    table = _curve_table(peak)
    low = table[index]
    return low + (steps - index) * (table[index + 1] - low)


def roll_off_highlights(rgb_linear: np.ndarray, peak: float) -> np.ndarray:
    """An SDR rendering of scene-linear ``rgb_linear`` float32 (H, W, 3) (reference white at 1.0, values
    up to ``peak``): each pixel whose brightest channel lies above :func:`knee` is scaled so that channel
    follows :func:`bt2390_eetf`, which keeps its hue. With ``peak`` ≤ 1 (a source whose peak is not
    known) only pixels above 1 are scaled, onto 1. Returns a new array, brightest channels at most 1;
    the other pixels are copied unchanged."""
    rgb = np.asarray(rgb_linear, dtype=np.float32)
    top = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    gain = np.ones_like(top)
    above = top > np.float32(knee(peak) if peak > 1.0 else 1.0)
    brightest = top[above]  # only these (skies, lamps: usually a small share) pay for the curve
    gain[above] = _rolled(brightest, peak) / brightest
    return rgb * gain[..., None]


def display_srgb(rgb: np.ndarray, transfer: Transfer, highlight_peak: float | None = None) -> np.ndarray:
    """A frame's picture as the keyer and compositor take it: sRGB-coded float32 in 0–1.

    sRGB frames pass as they are. Scene-linear ones (EXR, DPX log, HDR video) are encoded, with light
    above reference white rolled off first: from an HDR stream's ``highlight_peak``
    (``ClipInfo.highlight_peak``) by :func:`roll_off_highlights`, else (an EXR, whose peak is unknown)
    scaled onto 1 keeping its hue. The keyer reads colour against the screen within 0–1: given light past
    1, it keyed white at 1.2–1.8 as α 0.7–0.16; a cut channel by channel turns bright colours pale
    yellow."""
    if transfer == "srgb":
        return rgb
    peak = highlight_peak or 1.0
    if float(rgb.max(initial=0.0)) <= (knee(peak) if peak > 1.0 else 1.0):
        return linear_to_srgb(rgb)  # nothing to roll off (most EXR plates)
    return linear_to_srgb(roll_off_highlights(rgb, peak))
