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

from guangying.base.checks import Range, check_range, float_picture
from guangying.base.errors import MediaError, SettingsError
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
    rolled = np.minimum(pq_to_linear(spline * np.float32(source)), np.float32(1.0))  # float32 round trip
    return np.where(e1 < ks, light, rolled).astype(np.float32)


_TABLE_SIZE = 4096  # steps of 0.0008 for HLG: linear interpolation within the curve's float32 error


@cache
def _curve_table(peak: float) -> tuple[float, float, np.ndarray]:
    """(knee, peak, :func:`bt2390_eetf` at ``_TABLE_SIZE`` even steps of light between them); for a
    peak of 1 or less (unknown), (1, 1, an empty table): pixels above 1 are scaled onto 1."""
    if peak <= 1.0:
        return 1.0, 1.0, np.empty(0, np.float32)
    start = knee(peak)
    return start, peak, bt2390_eetf(np.linspace(start, peak, _TABLE_SIZE, dtype=np.float32), peak)


def _roll_off(rgb_linear: np.ndarray, peak: float, to_srgb: bool) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb_linear, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a float32 (H, W, 3) picture, got shape {rgb.shape}")
    from guangying.base.srgb_lut import ENCODE_SQRT_LUT
    from guangying.media.highlight_kernel import roll_off_kernel  # numba: imported when first needed

    start, stop, table = _curve_table(peak)
    out = np.empty_like(rgb)
    roll_off_kernel(rgb, np.float32(start), np.float32(stop), table, ENCODE_SQRT_LUT, to_srgb, out)
    return out


def roll_off_highlights(rgb_linear: np.ndarray, peak: float) -> np.ndarray:
    """An SDR rendering of scene-linear ``rgb_linear`` float32 (H, W, 3) (reference white at 1.0, values
    up to ``peak``): each pixel whose brightest channel lies above :func:`knee` is scaled so that channel
    follows :func:`bt2390_eetf`, which keeps its hue. With ``peak`` ≤ 1 (a source whose peak is not
    known) only pixels above 1 are scaled, onto 1. Returns a new array, brightest channels at most 1;
    the other pixels are copied unchanged."""
    return _roll_off(rgb_linear, peak, to_srgb=False)


def display_light(rgb_linear: np.ndarray, highlight_peak: float | None = None) -> np.ndarray:
    """Linear light ``rgb_linear`` float32 (H, W, 3) as an SDR picture shows it, in 0–1: itself when all
    of it is, else with negatives (colours outside BT.709) cut to 0 and light above reference white
    rolled off as :func:`roll_off_highlights` does, from ``highlight_peak`` (an HDR or log clip's) or,
    unknown (an EXR), scaled onto 1 keeping its hue."""
    if not rgb_linear.size:
        return rgb_linear
    low, high = float(rgb_linear.min()), float(rgb_linear.max())
    if low >= 0.0 and high <= 1.0:
        return rgb_linear
    shown = np.maximum(rgb_linear, np.float32(0.0)) if low < 0.0 else rgb_linear
    return roll_off_highlights(shown, highlight_peak or 1.0) if high > 1.0 else shown


def _check_peak(highlight_peak: object) -> None:
    check_range("highlights", "highlight_peak", highlight_peak,
                Range(0, 1e6, lo_open=True, optional=True, unit="(1 = reference white)"))


def display_srgb(rgb: np.ndarray, transfer: Transfer, highlight_peak: float | None = None) -> np.ndarray:
    """A frame's picture as the keyer and compositor take it: sRGB-coded float32 in 0–1.

    sRGB frames pass as they are. Scene-linear ones (EXR, DPX log, HDR video) are encoded (by table:
    within 2e-4, :mod:`guangying.base.srgb_lut`), with light above reference white rolled off first:
    from an HDR stream's ``highlight_peak`` (``ClipInfo.highlight_peak``) as :func:`roll_off_highlights`
    does, else (an EXR, whose peak is unknown) scaled onto 1 keeping its hue. The keyer reads colour
    against the screen within 0–1: given light past 1, it keyed white at 1.2–1.8 as α 0.7–0.16; a cut
    channel by channel turns bright colours pale yellow."""
    if transfer not in ("srgb", "linear"):  # another name was taken as linear, and encoded again
        raise MediaError(f"transfer must be 'srgb' or 'linear', got {transfer!r}")
    if rgb.dtype != np.float32 or rgb.ndim != 3 or rgb.shape[2] != 3:
        rgb = float_picture(rgb, "rgb")
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise SettingsError(f"rgb must be (H, W, 3), got {rgb.shape}")
    _check_peak(highlight_peak)
    if transfer == "srgb":
        return rgb
    return _roll_off(rgb, highlight_peak or 1.0, to_srgb=True)


def scene_linear_foreground(
    foreground_rgb_srgb: np.ndarray,
    plate_rgb_srgb: np.ndarray,
    source_rgb_linear: np.ndarray,
    highlight_peak: float | None = None,
) -> np.ndarray:
    """The keyer's foreground in the source's own scene-linear light, for float outputs (EXR).

    The keyer works on :func:`display_srgb`'s picture (``plate_rgb_srgb``), highlights rolled off; a
    foreground written from it had a log clip's 90 % white at 0.6–0.7 and an EXR's sky cut at 1. Here
    the keyer's change to each pixel (despill, strand colour: ``foreground_rgb_srgb`` less the plate, in
    linear light) is added to the source's own pixel, scaled back by the roll-off's gain at that pixel.
    Where the keyer changed nothing the source passes bit for bit, light above 1 and colours outside
    BT.709 (below 0) included. float32 (H, W, 3) in and out; ``highlight_peak`` as for
    :func:`display_srgb`."""
    from guangying.base.srgb_lut import DECODE_LUT
    from guangying.media.highlight_kernel import restore_kernel

    _check_peak(highlight_peak)

    source = np.ascontiguousarray(source_rgb_linear, dtype=np.float32)
    foreground = np.ascontiguousarray(foreground_rgb_srgb, dtype=np.float32)
    plate = np.ascontiguousarray(plate_rgb_srgb, dtype=np.float32)
    if not source.shape == foreground.shape == plate.shape or source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"expected three float32 (H, W, 3) pictures of one size, got shapes "
                         f"{foreground.shape}, {plate.shape}, {source.shape}")
    start, stop, table = _curve_table(highlight_peak or 1.0)
    out = np.empty_like(source)
    restore_kernel(foreground, plate, source, np.float32(start), np.float32(stop), table, DECODE_LUT, out)
    return out
