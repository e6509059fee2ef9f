"""Luma-guided refinement of the matte's edge band, for footage with subsampled chroma.

JPEG and most video (4:2:0, 4:2:2) store the colour-difference signal at half resolution, and that
is exactly what a colour-difference key reads: a strand one pixel wide is averaged with the screen
beside it, so its α is too low and smeared over its neighbours. The luma keeps the full
resolution. Across a mix of a subject colour F and the screen S, α is linear in the luma Y
(Y = α·Y_F + (1 − α)·Y_S), so, as chroma-from-luma prediction does in video codecs, we fit
α ≈ a·Y + b where chroma is actually sampled — on 2×2 cells, averaging both the key and Y — and
evaluate the fit with the full-resolution Y. The fit is the local linear model of He et al.'s
guided filter (key as input, luma as guide) over (2r + 1)² cells, with a and b interpolated
bilinearly between cells instead of box-averaged (as smooth, and a stage fewer); eps (a variance of
Y) keeps noise from posing as detail: where Y varies less than that, the fit falls back to the local
mean of the key. At full chroma resolution (PNG, 4:4:4) the key is already sharp and the fit can
only lose detail where more than two colours meet (on generated plates at 320×180 it made the
matte 15–30% worse), so it is meant for colour that :func:`chroma_subsampled` finds stored at half
resolution; ChromaKeyer checks that once per clip.

Which luma: the one whose samples the colour was resampled from. Light mixes linearly, so α is
linear in the luma of linear light; a camera's Bayer mosaic is interpolated from its linear sensor
values, so for demosaiced colour (:func:`colour_subsampling` "mosaic") the fit uses the linear-light
luma (on the rendered benchmark's PNGs: dark hair MAD 8.15 → 7.67, skin 5.87 → 5.12, and every
group better). A codec subsamples the colour of gamma-encoded values and keeps their luma Y' whole,
so for stored 4:2:0/4:2:2 colour the fit uses the sRGB luma (the linear luma mixes the codec's
half-resolution colour back in: on the same set's H.264 clips dark hair 9.33 → 9.46, skin 6.28 →
6.49, and the generated plates' JPEG and H.264 frames worse by 1–8 %).

Stored colour is not only half-sized: a lossy codec quantises its DCT, which smears the key over a
block or two (8–16 px), wider than the fit's window: the screen beside a dark mass keys partly
opaque and fine strands lose what it gained, and a window that holds only that screen has no luma
detail to correct it by. So for stored colour (not for a mosaic's) the key a cell brings to the fit
is first pushed further below the key's mean around it, over ~12 px (8-px blocks blurred σ 1.5 blocks),
by :data:`DESMEAR_GAIN` of its deficit: a partial inverse of that smear where it leaves a valley.
Only valleys (a peak's excess is left alone: a motion-blurred edge, too soft already, would sharpen),
only faint cells (:data:`DESMEAR_KEY`) and only where the surrounding key is not opaque (fading out
from :data:`DESMEAR_OPEN`: a solid subject's dips would open holes). On the rendered variants
(bench/keying_variants.py, JPEG q70 / H.264 CRF 28) dark hair 8.29 → 8.10 / 9.68 → 9.48, blond
7.81 → 7.50 / 8.64 → 8.28, dark clothing −9 %; glass and smoke, already too clear in their faint
parts, +0.4 % (JPEG q85 and CRF 20 frames).

Only the edge band changes: pixels in a cell where the key is strictly between 0 and 1; solid
subject and clear screen keep their exact values. The input is the unclamped key (α = clamp(key)),
bounded below at −0.5 (a margin that holds clear screen clear against noise) and above at the key
of an opaque pixel, :func:`opaque_key`: what lies beyond is only "opaque" (the spill floor's texture
margin, a subject colour far beyond the screen's), and fitted it would carry its excess onto the
mixes beside it, a soft edge that reads too opaque.

:func:`refine_edges_reference` is the readable numpy definition. The fast path is split for the
key kernel: :func:`fit_edges` fits only the cells the band reads (numba, serial) and the kernel's
patch pass evaluates the fit per pixel (:func:`apply_fit` does the same on its own, for the path
with matte operations); the tests hold them to the definition.
"""

from __future__ import annotations

import types

import cv2
import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.base.jit import numba
from guangying.base.srgb_lut import DECODE_LUT, decode
from guangying.keyer.maths import LUMA_709  # the luma weights, on sRGB-encoded or linear channels

RADIUS_CELLS = 1  # fit window (2r + 1)² cells of 2×2 px ≈ 6×6 px: large enough for both sides of an edge
KEY_LOW = -0.5  # lower bound on the key the fit sees
# The codec-smear correction for stored colour (see the module docstring): the key's surrounding mean
# on blocks of DESMEAR_BLOCK_PX blurred by DESMEAR_SIGMA_BLOCKS (≈ 12 px, a codec's 8–16 px smear);
# a cell's deficit below it deepened by DESMEAR_GAIN where that mean is under DESMEAR_OPEN[0], fading
# out at DESMEAR_OPEN[1]. Gain 0.25 of a 0.2–0.35 plateau on the rendered set (glass, already too
# clear, pays more above it).
DESMEAR_BLOCK_PX = 8
DESMEAR_SIGMA_BLOCKS = 1.5
DESMEAR_GAIN = 0.25
DESMEAR_OPEN = (0.5, 0.9)
# Only cells whose own key is under DESMEAR_KEY[1] (fully under [0]): the screen beside a subject and
# faint strands. A wide soft edge's middle (at 1280×720 a coat's rim, wider than the smear) keeps its key.
DESMEAR_KEY = (0.1, 0.3)


def opaque_key(clip_black: float, clip_white: float) -> float:
    """The key of a pixel at raw α = 1 under the clip (α = (α_raw − clip_black)/(clip_white −
    clip_black)): the fit's upper bound on the key."""
    return (1.0 - clip_black) / (clip_white - clip_black)


def _cells(x: np.ndarray) -> np.ndarray:
    """Mean over 2×2 cells (an odd last row/column is repeated)."""
    h, w = x.shape
    x = np.pad(x, ((0, h % 2), (0, w % 2)), mode="edge")
    return x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean((1, 3), dtype=np.float32)


def _box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r + 1)² window; cells outside the frame repeat its edge."""
    size = (2 * radius + 1, 2 * radius + 1)
    return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REPLICATE)


def surrounding_key(key_pairs: np.ndarray, width_px: int) -> np.ndarray:
    """The key's mean around each place, on blocks of DESMEAR_BLOCK_PX (⌈H/8⌉, ⌈W/8⌉) float32:
    ``key_pairs`` (H, ⌈W/2⌉) the sum of the bounded keys of each pair of columns (the last repeated
    on an odd width, as the key kernel pairs them), ``width_px`` the frame's width W."""
    h = key_pairs.shape[0]
    size = (-(-width_px // DESMEAR_BLOCK_PX), -(-h // DESMEAR_BLOCK_PX))
    blocks = cv2.resize(np.asarray(key_pairs, np.float32), size, interpolation=cv2.INTER_AREA)
    blocks *= np.float32(0.5)  # pair sums to means, on the small grid
    return cv2.GaussianBlur(blocks, (0, 0), DESMEAR_SIGMA_BLOCKS, borderType=cv2.BORDER_REPLICATE)


def desmear_reference(k_cells: np.ndarray, surround: np.ndarray) -> np.ndarray:
    """The cells' key ``k_cells`` (⌈H/2⌉, ⌈W/2⌉) with each valley below the ``surround``
    (:func:`surrounding_key`, interpolated to the cells) deepened by DESMEAR_GAIN where the surround
    is not opaque (DESMEAR_OPEN) and the cell's key is faint (DESMEAR_KEY)."""
    around = cv2.resize(surround, (k_cells.shape[1], k_cells.shape[0]), interpolation=cv2.INTER_LINEAR)
    lo, hi = DESMEAR_OPEN
    open_ = np.clip((hi - around) / (hi - lo), 0.0, 1.0)
    faint = np.clip((DESMEAR_KEY[1] - k_cells) / (DESMEAR_KEY[1] - DESMEAR_KEY[0]), 0.0, 1.0)
    deficit = np.minimum(k_cells - around, 0.0)
    deeper = k_cells + np.float32(DESMEAR_GAIN) * deficit * open_ * faint
    return np.maximum(deeper, KEY_LOW).astype(np.float32)


def refine_edges_reference(
    rgb_srgb: np.ndarray,
    key: np.ndarray,
    eps: float,
    key_high: float = 1.0,
    radius: int = RADIUS_CELLS,
    linear: bool = False,
) -> np.ndarray:
    """α (H, W) float32 from the unclamped ``key`` (H, W) and the sRGB frame (H, W, 3), refined by
    the luma in the edge band and clamp(key, 0, 1) elsewhere. ``eps`` is a variance of the luma
    (0–1 units): detail weaker than that is treated as noise. ``key_high``: the key of an opaque pixel
    (:func:`opaque_key`), the fit's upper bound. ``linear``: the luma of the linear-light colour
    (colour interpolated from a Bayer mosaic, see :func:`colour_subsampling`), else of the sRGB values
    and with the codec-smear correction (:func:`desmear_reference`).
    """
    h, w = key.shape
    rgb = np.asarray(rgb_srgb, np.float32)
    luma = (srgb_to_linear(rgb) if linear else rgb) @ LUMA_709
    y_cells = _cells(luma)
    bounded = np.clip(key, KEY_LOW, key_high).astype(np.float32)
    k_cells = _cells(bounded)
    if not linear:
        padded = np.pad(bounded, ((0, 0), (0, w % 2)), mode="edge")
        k_cells = desmear_reference(k_cells, surrounding_key(padded[:, 0::2] + padded[:, 1::2], w))
    mean_y, mean_k = _box_mean(y_cells, radius), _box_mean(k_cells, radius)
    var_y = _box_mean(y_cells * y_cells, radius) - mean_y * mean_y
    a = (_box_mean(y_cells * k_cells, radius) - mean_y * mean_k) / (var_y + np.float32(eps))
    b = mean_k - a * mean_y
    slope = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    offset = cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    band = np.repeat(np.repeat(edge_cells(key), 2, 0), 2, 1)[:h, :w]
    refined = np.clip(slope * luma + offset, 0.0, 1.0)
    return np.where(band, refined, np.clip(key, 0.0, 1.0)).astype(np.float32)


SMOOTHNESS_THRESHOLD = 0.62  # chroma's curvature/slope energy over luma's: ≥ 0.7 native, ≤ 0.5 resampled
BLOCK_THRESHOLD = 0.12  # chroma steps inside 2-pixel pairs over steps between them: ~1 native, ~0 repeated
# The luma's own block score (:func:`_block`) below which its steps too fall between pixel pairs (a
# graphic on an even grid, a few edges on even rows by chance), so the chroma's say nothing of storage
LUMA_BLOCK_NATIVE = 0.36
_FLAT = 1e-7  # mean squared step below which a plane has no edges or noise to judge it by
# Variance of the white noise that rounding to 8 bits adds to each plane of OpenCV's float YCrCb
# (BT.601), per variance of one RGB channel's rounding error: Y, then Cr = 0.713 (R − Y), Cb = 0.564 (B − Y).
_ROUNDING_GAIN = (
    0.299**2 + 0.587**2 + 0.114**2,
    (0.701**2 + 0.587**2 + 0.114**2) * 0.713**2,
    (0.299**2 + 0.587**2 + 0.886**2) * 0.564**2,
)
# The luma's own curvature/slope energy, rounding taken out, below which it was resampled too (a
# scaled-up frame: ≤ 0.38 on a real plate scaled 1.33–2×; native and codec frames ≥ 0.46).
LUMA_NATIVE = 0.42


def rounding_variance(rgb_srgb: np.ndarray) -> float:
    """The variance of the rounding error per RGB channel, (1/255)²/12, when the frame's values lie on
    the 8-bit grid (decoded JPEG or video, 8-bit PNG), else 0 (float or 16-bit sources)."""
    sample = np.asarray(rgb_srgb[::7, ::7], np.float32) * np.float32(255)
    return (1 / 255) ** 2 / 12 if float(np.abs(sample - np.rint(sample)).max(initial=0.0)) < 1e-3 else 0.0


def _less_white_noise(energies: tuple[float, float], noise: float) -> tuple[float, float]:
    """(slope, curvature) energies less those of white noise of variance ``noise`` (2σ² and 6σ²)."""
    return energies[0] - 2 * noise, energies[1] - 6 * noise


def _energies(x: np.ndarray, axis: int, noise: float) -> tuple[float, float]:
    """Mean squared slope and curvature along ``axis``, less those of white noise of variance
    ``noise``."""
    slope, curve = np.diff(x, axis=axis), np.diff(x, n=2, axis=axis)
    return _less_white_noise((float(np.square(slope).mean()), float(np.square(curve).mean())), noise)


def _block(plane: np.ndarray, axis: int) -> float:
    """Steps inside pixel pairs over steps between pairs along ``axis``: ~1 native, ~0 where each pair
    shares one value (repeated samples); 1 where nothing steps."""
    x = np.moveaxis(plane, axis, 0)
    n = x.shape[0] // 2 * 2
    even, odd = x[0:n:2], x[1:n:2]
    within = float(np.abs(even - odd).mean())
    across = float(np.abs(odd[:-1] - even[1:]).mean())
    return within / across if across > 0 else 1.0


def _axis_scores(
    chroma: np.ndarray, luma_energies: tuple[float, float], axis: int, chroma_noise: float = 0.0,
    luma_block: float = 1.0,
) -> tuple[float, float]:
    """(chroma's curvature/slope energy over the luma's, chroma steps inside pixel pairs over steps
    between pairs) along one axis; (1, 1) where a plane is too flat to tell. ``luma_energies``: the
    luma's (slope, curvature) energies (:func:`_energies`); ``chroma_noise``: the variance of white
    noise added after any resampling (the output's rounding), whose energy is taken out first;
    ``luma_block``: the luma's own :func:`_block`. Chroma steps only between pairs tell repeated samples
    only where the luma's do not: a clean 4:4:4 graphic drawn on an even grid steps only between pairs
    in every plane (its thin 50 % edge was refined to α 0.3)."""
    c_slope, c_curve = _energies(chroma, axis, chroma_noise)
    y_slope, y_curve = luma_energies
    if c_slope < max(_FLAT, 2 * chroma_noise) or y_slope < _FLAT or y_curve <= 0:
        return 1.0, 1.0
    block = _block(chroma, axis) if luma_block >= LUMA_BLOCK_NATIVE else 1.0
    return (max(c_curve, 0.0) / c_slope) / (y_curve / y_slope), block


STRONG_STEPS = 0.05  # the share of a chroma plane's steps (its largest) that judge it at its colour edges


def _edge_smoothness(chroma: np.ndarray, luma: np.ndarray, axis: int) -> float:
    """Chroma's curvature/slope energy over the luma's, both at the chroma's largest steps along
    ``axis`` (:data:`STRONG_STEPS` of them); 1 where there is nothing to judge by. Linear-light planes:
    across a mix of two colours every linear channel is affine in the coverage, so at a colour edge
    natively sampled chroma has the luma's profile (ratio ≈ 1, less where more colours meet), while
    colour stored at half resolution is a ramp where the luma steps."""
    slope = np.abs(np.diff(chroma, axis=axis))
    curve = np.diff(chroma, n=2, axis=axis)
    y_slope = np.abs(np.diff(luma, axis=axis))
    y_curve = np.diff(luma, n=2, axis=axis)
    cut = (slice(None, curve.shape[0]), slice(None, curve.shape[1]))
    slope, y_slope = slope[cut], y_slope[cut]
    strong = slope >= np.quantile(slope[::3, ::3], 1.0 - STRONG_STEPS)
    if not strong.any():  # a plane of NaN or infinite samples: nothing to judge by
        return 1.0
    c_slope = float(np.square(slope[strong]).mean())
    y_energies = float(np.square(y_slope[strong]).mean()), float(np.square(y_curve[strong]).mean())
    if c_slope < _FLAT or y_energies[0] < _FLAT or y_energies[1] <= 0:
        return 1.0
    return (float(np.square(curve[strong]).mean()) / c_slope) / (y_energies[1] / y_energies[0])


MOSAIC_THRESHOLD = 2.0  # noise power between the 2×2 mosaic phases: ~1 native, ≥ 10 interpolated


def mosaic_interpolated(rgb_srgb: np.ndarray) -> bool:
    """Whether the frame's colour was interpolated from a Bayer mosaic (a single-sensor camera's
    demosaiced frames, stored uncompressed): each channel was sampled at a quarter or half of the
    sites and filled in between, so its colour has less resolution than its luma, as in 4:2:0.

    Interpolation averages the sensor's noise: in linear light, each channel's fine-scale noise
    power then differs between the four positions of the 2×2 mosaic (a sampled site keeps it all,
    an interpolated one a fraction), whereas native colour has the same noise everywhere. The median
    over the channels of the largest to smallest power of the four phases (of the detail finer than
    3×3 px) says which. A frame without noise counts as native; lossy compression (JPEG, H.264)
    wipes the pattern out, but it subsamples the colour itself (see :func:`chroma_subsampled`).
    """
    return _mosaic(srgb_to_linear(np.ascontiguousarray(rgb_srgb, np.float32)))


def _mosaic(linear: np.ndarray) -> bool:
    """:func:`mosaic_interpolated` of the frame in linear light (H, W, 3)."""
    h, w = linear.shape[:2]
    if h < 8 or w < 8:
        return False
    ratios = []
    for c in range(3):
        detail = linear[..., c] - cv2.blur(linear[..., c], (3, 3))
        power = [float(np.median(np.square(detail[i::2, j::2]))) for i in (0, 1) for j in (0, 1)]
        ratios.append(max(power) / min(power) if min(power) > 1e-12 else 1.0)
    return float(np.median(ratios)) >= MOSAIC_THRESHOLD


def chroma_subsampled(rgb_srgb: np.ndarray) -> bool:
    """Whether the frame's colour has half the resolution of its luma across or down: stored so
    (4:2:0, 4:2:2) or interpolated from a Bayer mosaic (:func:`mosaic_interpolated`); see
    :func:`colour_subsampling`."""
    return bool(colour_subsampling(rgb_srgb))


def refinement_kind(rgb_srgb: np.ndarray, full_chroma_source: bool = False) -> str:
    """:func:`colour_subsampling` of a clip's first frame, for ``luma_refine="auto"``; a source whose
    storage holds full-resolution colour (4:4:4 or RGB video) can only have a mosaic's. A clean edge
    of little luma contrast (grey on green) has smooth colour beside a bent luma and poses as stored
    colour, and the refinement pulled its α 0.5 to 0.4."""
    kind = colour_subsampling(rgb_srgb)
    return "" if full_chroma_source and kind == "stored" else kind


def colour_subsampling(rgb_srgb: np.ndarray) -> str:
    """How the frame's colour came to have less resolution than its luma: "mosaic" (interpolated from
    a Bayer mosaic, :func:`mosaic_interpolated`), "stored" (4:2:0 or 4:2:2 storage), or "" (neither).

    The two differ in where the colour was resampled, and so in which luma the refinement fits:
    a camera demosaics its linear sensor values, so there α is linear in the linear-light luma;
    a codec subsamples the colour of gamma-encoded values and keeps their luma Y' at full resolution.

    A decoder brings subsampled chroma back to full size either by repeating each sample (then pairs
    of pixels share one chroma value: steps inside the pairs vanish next to steps between them) or by
    interpolating it (then it has much less curvature for its slope than the luma, whose detail is
    native). Either sign, in either chroma plane, along either axis, counts. Where the whole frame's
    chroma is mostly noise and codec artefacts (a subject of little colour contrast with the screen),
    the same curvature test at the chroma's strongest steps, in linear light, can still tell
    (:func:`_edge_smoothness`). A frame without colour edges or noise counts as full resolution.
    About 110 ms at 1080p: run once per clip.
    """
    linear = srgb_to_linear(np.ascontiguousarray(rgb_srgb, np.float32))
    if _mosaic(linear):
        return "mosaic"
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb_srgb, np.float32), cv2.COLOR_RGB2YCrCb)
    rounding = rounding_variance(rgb_srgb)
    for axis in (0, 1):
        if ycc.shape[axis] < 8:
            continue
        # 8-bit rounding adds white noise to every plane after any resampling: in a frame with little
        # colour detail it alone posed as native chroma. Taken out only where the luma has native
        # detail of its own; in a scaled-up frame both planes are resampled and judged as they are.
        luma = _energies(ycc[..., 0], axis, 0.0)
        corrected = _less_white_noise(luma, _ROUNDING_GAIN[0] * rounding)
        noise = 0.0
        if corrected[1] >= LUMA_NATIVE * corrected[0]:
            luma, noise = corrected, rounding
        luma_block = _block(ycc[..., 0], axis)
        for c in (1, 2):
            smooth, block = _axis_scores(ycc[..., c], luma, axis, _ROUNDING_GAIN[c] * noise, luma_block)
            if smooth < SMOOTHNESS_THRESHOLD or block < BLOCK_THRESHOLD:
                return "stored"
    # Judged over the whole frame, a subject of little colour contrast with the screen (pale hair on a
    # yellow-green or dull screen) leaves the chroma to noise and codec artefacts, which pose as native
    # detail (a fifth of the rendered set's blond JPEG q85 frames); at its colour edges it still shows.
    y_linear = linear @ LUMA_709
    for axis in (0, 1):
        if y_linear.shape[axis] < 8:
            continue
        for c in (0, 2):
            with np.errstate(invalid="ignore"):  # infinite samples (a renderer's): inf − inf is NaN
                chroma = linear[..., c] - y_linear
            if _edge_smoothness(chroma, y_linear, axis) < SMOOTHNESS_THRESHOLD:
                return "stored"
    return ""


def edge_cells(key: np.ndarray) -> np.ndarray:
    """(⌈H/2⌉, ⌈W/2⌉) bool: 2×2 cells where the key is strictly between 0 and 1 somewhere."""
    return _cells(((key > 0) & (key < 1)).astype(np.float32)) > 0


def edge_cells_from_rows(edge_rows: np.ndarray) -> np.ndarray:
    """:func:`edge_cells` from the key kernel's per-row flags (H, ⌈W/2⌉), OR-ed in pairs of rows."""
    cells = edge_rows[0::2].astype(np.bool_)
    cells[: edge_rows.shape[0] // 2] |= edge_rows[1::2].astype(np.bool_)
    return cells


@numba.njit(inline="always")
def _luma(rgb, weights, table, linear, y, x):
    """The luma of pixel (y, x): of its sRGB values, or (``linear``) of them decoded by ``table``."""
    if linear:
        return (
            weights[0] * decode(table, rgb[y, x, 0]) + weights[1] * decode(table, rgb[y, x, 1])
            + weights[2] * decode(table, rgb[y, x, 2])
        )  # fmt: skip
    return weights[0] * rgb[y, x, 0] + weights[1] * rgb[y, x, 1] + weights[2] * rgb[y, x, 2]


def _cell_stats_source(rgb, key_pairs, weights, table, need, surround, gain, stats):
    """stats[i, j] = (y, k, y², y·k) for the 2×2 cells marked in ``need``: y the mean luma, k the
    mean bounded key, its valleys below ``surround`` deepened by ``gain`` (:func:`desmear_reference`)."""
    h, w = rgb.shape[0], rgb.shape[1]
    hc, wc = need.shape
    quarter = np.float32(0.25)
    ys0, ys1, wys = _positions(hc, surround.shape[0])
    xs0, xs1, wxs = _positions(wc, surround.shape[1])
    lo, hi = np.float32(DESMEAR_OPEN[0]), np.float32(DESMEAR_OPEN[1])
    faint_lo, faint_hi = np.float32(DESMEAR_KEY[0]), np.float32(DESMEAR_KEY[1])
    for i in range(hc):
        y0, y1 = 2 * i, min(2 * i + 1, h - 1)
        for j in range(wc):
            if not need[i, j]:
                continue
            x0, x1 = 2 * j, min(2 * j + 1, w - 1)
            luma = quarter * (
                _luma(rgb, weights, table, _LINEAR, y0, x0) + _luma(rgb, weights, table, _LINEAR, y0, x1)
                + _luma(rgb, weights, table, _LINEAR, y1, x0) + _luma(rgb, weights, table, _LINEAR, y1, x1)
            )  # fmt: skip
            k = quarter * (key_pairs[y0, j] + key_pairs[y1, j])
            if gain > 0 and k < faint_hi:
                r0, r1, wy, c0, c1, wx = ys0[i], ys1[i], wys[i], xs0[j], xs1[j], wxs[j]
                top = surround[r0, c0] + wx * (surround[r0, c1] - surround[r0, c0])
                around = top + wy * (surround[r1, c0] + wx * (surround[r1, c1] - surround[r1, c0]) - top)
                if k < around and around < hi:
                    open_ = min((hi - around) / (hi - lo), np.float32(1.0))
                    faint = min((faint_hi - k) / (faint_hi - faint_lo), np.float32(1.0))
                    k = max(k + gain * (k - around) * open_ * faint, np.float32(KEY_LOW))
            stats[i, j, 0] = luma
            stats[i, j, 1] = k
            stats[i, j, 2] = luma * luma
            stats[i, j, 3] = luma * k


# error_model="numpy": a NaN pixel (library input; the file readers replace them) gives a NaN fit
# there, as it gives a NaN foreground, instead of a ZeroDivisionError that loses the frame.
@numba.njit(fastmath=True, cache=True, error_model="numpy")
def _fit(stats, need, radius, eps, fit):
    """Local linear fit k ≈ a·y + b over the window of each cell marked in ``need`` (the window's
    cells outside the frame repeat its edge, as cv2.BORDER_REPLICATE)."""
    hc, wc = need.shape
    inv_n = np.float32(1.0 / (2 * radius + 1) ** 2)
    for i in range(hc):
        for j in range(wc):
            if not need[i, j]:
                continue
            sy = np.float32(0.0)
            sk = np.float32(0.0)
            syy = np.float32(0.0)
            syk = np.float32(0.0)
            for du in range(-radius, radius + 1):
                u = min(max(i + du, 0), hc - 1)
                for dv in range(-radius, radius + 1):
                    v = min(max(j + dv, 0), wc - 1)
                    sy += stats[u, v, 0]
                    sk += stats[u, v, 1]
                    syy += stats[u, v, 2]
                    syk += stats[u, v, 3]
            my = sy * inv_n
            mk = sk * inv_n
            slope = (syk * inv_n - my * mk) / (syy * inv_n - my * my + eps)
            fit[0, i, j] = slope
            fit[1, i, j] = mk - slope * my


@numba.njit(cache=True)
def _positions(n, size):
    """For each of n pixels: the two cells (of ``size``) it interpolates between and the weight of
    the second, with pixel centres aligned as cv2.resize does."""
    i0s = np.empty(n, np.int64)
    i1s = np.empty(n, np.int64)
    ws = np.empty(n, np.float32)
    for i in range(n):
        f = min(max((i + 0.5) * size / n - 0.5, 0.0), size - 1.0)
        i0s[i] = int(f)
        i1s[i] = min(i0s[i] + 1, size - 1)
        ws[i] = f - i0s[i]
    return i0s, i1s, ws


def _apply_source(rgb, weights, table, band, fit, alpha):
    h, w = alpha.shape
    hc, wc = band.shape
    ys0, ys1, wys = _positions(h, hc)
    xs0, xs1, wxs = _positions(w, wc)
    zero, one = np.float32(0.0), np.float32(1.0)
    for i in range(hc):
        for j in range(wc):
            if not band[i, j]:
                continue
            for y in range(2 * i, min(2 * i + 2, h)):
                y0, y1, wy = ys0[y], ys1[y], wys[y]
                for x in range(2 * j, min(2 * j + 2, w)):
                    x0, x1, wx = xs0[x], xs1[x], wxs[x]
                    top = fit[0, y0, x0] + wx * (fit[0, y0, x1] - fit[0, y0, x0])
                    slope = top + wy * (fit[0, y1, x0] + wx * (fit[0, y1, x1] - fit[0, y1, x0]) - top)
                    top = fit[1, y0, x0] + wx * (fit[1, y0, x1] - fit[1, y0, x0])
                    offset = top + wy * (fit[1, y1, x0] + wx * (fit[1, y1, x1] - fit[1, y1, x0]) - top)
                    luma = _luma(rgb, weights, table, _LINEAR, y, x)
                    alpha[y, x] = min(max(slope * luma + offset, zero), one)


def _compile(source, linear: bool):  # noqa: ANN001, ANN202
    # A copy with the luma frozen in as a global, so numba drops the other luma's branch from the
    # loop (a run-time flag cost the sRGB fit a fifth of its time); its own name keeps it apart in
    # numba's on-disk cache. As kernels._compile does for the key passes.
    name = source.__name__.replace("_source", "_linear" if linear else "_srgb")
    copy = types.FunctionType(source.__code__, {**globals(), "_LINEAR": linear}, name)
    copy.__qualname__ = name
    return numba.njit(fastmath=True, cache=True)(copy)


_LINEAR = False  # each compiled copy has its own
_CELL_STATS = {linear: _compile(_cell_stats_source, linear) for linear in (False, True)}
_APPLY = {linear: _compile(_apply_source, linear) for linear in (False, True)}


def fit_edges(
    rgb_srgb: np.ndarray,
    key_pairs: np.ndarray,
    band: np.ndarray,
    eps: float,
    radius: int = RADIUS_CELLS,
    linear: bool = False,
) -> np.ndarray:
    """The fit (a, b) per cell, (2, ⌈H/2⌉, ⌈W/2⌉) float32, valid where the band's pixels read it;
    ``linear``: against the linear-light luma (the sRGB table's decode), else the sRGB luma.

    ``key_pairs`` (H, ⌈W/2⌉) holds the sum of each pair of columns' bounded keys and ``band`` the
    :func:`edge_cells` (the key kernel gives both on the way). Cells are computed only where the band
    reads them: the band dilated by one cell (bilinear interpolation), then by the window. Serial on
    purpose: the work is small, and on a busy 2-core machine a parallel region can wait a whole
    scheduler time slice for its second thread.
    """
    window = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    need_fit = cv2.dilate(band.view(np.uint8), np.ones((3, 3), np.uint8))
    need_cells = cv2.dilate(need_fit, window)
    stats = np.empty(band.shape + (4,), np.float32)  # read only where written
    if linear:  # a mosaic's colour is not smeared by a codec
        surround, gain = np.zeros((1, 1), np.float32), np.float32(0.0)
    else:
        surround = surrounding_key(key_pairs, rgb_srgb.shape[1])
        gain = np.float32(DESMEAR_GAIN)
    _CELL_STATS[linear](
        rgb_srgb, key_pairs, LUMA_709, DECODE_LUT, need_cells.view(np.bool_), surround, gain, stats
    )
    fit = np.empty((2,) + band.shape, np.float32)
    _fit(stats, need_fit.view(np.bool_), radius, np.float32(eps), fit)
    return fit


def apply_fit(
    rgb_srgb: np.ndarray, band: np.ndarray, fit: np.ndarray, alpha: np.ndarray, linear: bool = False
) -> None:
    """Overwrite ``alpha`` (H, W) in the band's cells with clamp(a·Y + b) (a, b interpolated; Y the
    luma :func:`fit_edges` fitted against)."""
    _APPLY[linear](rgb_srgb, LUMA_709, DECODE_LUT, band, fit, alpha)
