"""Finding the screen: which screen (green/blue), its colour, and a smooth plate of its uneven light."""

from __future__ import annotations

import functools
from typing import NamedTuple

import cv2
import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import GuangyingError, SettingsError
from guangying.base.jit import numba
from guangying.keyer.maths import LUMA_709, colour_difference, screen_channels

_ANALYSIS_WIDTH_PX = 320  # the colour estimate looks at a small copy: robust, and ~1 ms at 1080p
ANALYSIS_WIDTH_PX = 160  # the per-frame screen analysis runs on a ~160 px wide copy: light varies slowly
# A cell whose difference ratio d(C)/d(S) is under this is solid subject: for the plate's gap and veil
# tests, and for the spill floor (guangying.keyer.spill_floor), which credits a solid cell at most this.
SPILL_FLOOR_MAX = 0.3


def _finite(rgb: np.ndarray) -> np.ndarray:
    # One NaN (from an EXR, say) would spread through every average the analysis takes.
    return np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0)


def _small_copy(rgb: np.ndarray, width_px: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= width_px:
        return _finite(np.asarray(rgb, np.float32))
    size = (width_px, max(1, int(round(h * width_px / w))))
    return _finite(cv2.resize(np.asarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA))


def _dominance(rgb: np.ndarray, channel: int) -> np.ndarray:
    """How far ``channel`` rises above the larger of the two other channels."""
    others = [c for c in range(3) if c != channel]
    return rgb[..., channel] - np.maximum(rgb[..., others[0]], rgb[..., others[1]])


def detect_screen(rgb_srgb: np.ndarray) -> str:
    """'green' or 'blue': the hue whose dominance over the other channels covers more of the frame."""
    small = _small_copy(rgb_srgb, _ANALYSIS_WIDTH_PX)
    scores = {
        name: float(np.maximum(_dominance(small, screen_channels(name)[0]), 0).sum())
        for name in ("green", "blue")
    }
    return max(scores, key=scores.__getitem__)


class NoScreenError(GuangyingError, ValueError):
    """The frame shows no screen to key (a slate, black, or the wrong screen colour)."""


def estimate_screen_colour(rgb_srgb: np.ndarray, screen: str = "auto") -> tuple[float, float, float]:
    """Robust sRGB colour (r, g, b) of the screen in a frame.

    Takes the pixels whose screen channel dominates the others by at least half of the frame's
    strong (90th-percentile) dominance — bright and dark parts of an unevenly lit screen alike, but
    not the subject or mixed edges — and returns their per-channel median.
    """
    rgb = np.asarray(rgb_srgb, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SettingsError(f"estimate_screen_colour needs an (H, W, 3) RGB frame, got shape {rgb.shape}")
    detected = screen == "auto"
    if detected:
        screen = detect_screen(rgb)
    small = _small_copy(rgb, _ANALYSIS_WIDTH_PX).reshape(-1, 3)
    dominance = _dominance(small, screen_channels(screen)[0])
    strong = float(np.percentile(dominance, 90))
    if strong < 0.05:
        if detected:  # named "blue" when neither was asked for
            raise NoScreenError("no green or blue screen found in the frame (neither channel clearly "
                                "dominates): check the footage, or give --screen-colour")
        raise NoScreenError(
            f"no {screen} screen found in the frame (its {screen} channel never clearly dominates): "
            "check --screen, or give --screen-colour"
        )
    picked = small[dominance >= 0.5 * strong]
    return tuple(float(v) for v in np.median(picked, axis=0))  # type: ignore[return-value]


@numba.njit(cache=True)
def _pull_level(sum_v: np.ndarray, w: np.ndarray, up: np.ndarray) -> np.ndarray:
    """One level on the way up: its own weighted average where it has weight, the coarser fill
    ``up`` for what it lacks (a level that is a third screen trusts itself). One compiled pass: the
    numpy version's six temporaries cost more than the arithmetic on these small grids."""
    out = np.empty_like(up)
    for i in range(up.shape[0]):
        for j in range(up.shape[1]):
            coverage = min(np.float32(3.0) * w[i, j], np.float32(1.0))
            weight = max(w[i, j], np.float32(1e-6))
            rest = np.float32(1.0) - coverage
            for c in range(up.shape[2]):
                out[i, j, c] = (sum_v[i, j, c] / weight) * coverage + up[i, j, c] * rest
    return out


@numba.njit(cache=True)
def weighted_values(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """values (h, w, c) float32 × weights (h, w) float32, channel by channel (numpy's broadcast over a
    last axis of 3 or 4 costs ten times as much on the small grid)."""
    out = np.empty(values.shape, np.float32)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            for c in range(values.shape[2]):
                out[i, j, c] = values[i, j, c] * weights[i, j]
    return out


def fill_push_pull(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fill where weights are 0 with a smooth interpolation of the weighted values (push–pull).

    ``values`` (h, w, c), ``weights`` (h, w) in 0–1. Averages down an image pyramid, then on the way
    back up each level keeps its own (weighted) average and takes the coarser level for what it lacks.
    """
    values = np.asarray(values, np.float32)
    weights = np.asarray(weights, np.float32)
    pyramid = [(weighted_values(values, weights), weights)]
    while min(pyramid[-1][1].shape) > 2:
        v, w = pyramid[-1]
        down = cv2.pyrDown(v)
        pyramid.append((down.reshape(down.shape[0], down.shape[1], -1), cv2.pyrDown(w)))
    v, w = pyramid[-1]
    filled = np.broadcast_to(v.sum((0, 1)) / max(float(w.sum()), 1e-6), v.shape).astype(np.float32)
    for v, w in reversed(pyramid[:-1]):
        up = cv2.pyrUp(filled, dstsize=(w.shape[1], w.shape[0])).reshape(v.shape)
        filled = _pull_level(v, w, up)
    return filled


def connected_to(region: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """bool (h, w): the cells of ``region`` (h, w) bool whose 8-connected component of it holds a
    cell of ``markers`` (h, w) bool."""
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    hit = np.zeros(count, bool)
    hit[np.unique(labels[markers & region])] = True
    hit[0] = False  # label 0 is outside the region
    return hit[labels]


# Deep inside a subject the plate follows the screen's trend, not the average around it: from this many
# analysis cells (of ~160 across: 5 % of the frame's width) away from the open screen, fully from twice
# as far. Nearer, the screen around is close enough to speak for the screen behind.
PLANE_FROM_CELLS = (8.0, 16.0)


def _open_screen(screen: np.ndarray) -> np.ndarray:
    """bool (h, w): the cells of ``screen`` (h, w) bool in an 8-connected patch of it that touches the
    frame's border, or in the largest patch (not a screen-like patch enclosed by a subject)."""
    count, labels = cv2.connectedComponents(screen.astype(np.uint8), connectivity=8)
    if count <= 2:
        return screen
    keep = np.zeros(count, bool)
    keep[np.unique(np.concatenate([labels[[0, -1], :].ravel(), labels[:, [0, -1]].ravel()]))] = True
    keep[1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count)[1:]))] = True
    keep[0] = False
    return keep[labels]


def _screen_trend(values: np.ndarray, screen: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(plane, deep) for :func:`_fill_over_plane`, from the plate's values (h, w, c) and the cells
    that show the screen (``screen``, (h, w) bool); None where no cell lies deep inside a subject (the
    common case).

    A screen's light varies over its width (lamps aimed low or to one side, a slope across a
    cyclorama). Where a large subject covers the screen, and above all where it leaves the frame (a
    torso cut by the bottom edge), push–pull fills it with an average of the screen around and misses
    that trend: on a screen lit 30 % brighter towards the frame's bottom it filled a coat's middle
    11–17 % too dim, and the coat's screen-lit fold read as more screen-like than a solid surface is
    credited with (a hole). ``plane``: a plane fitted to the screen's cells by least squares (per
    channel), limited to the range of their values (no extrapolation past what the screen shows
    anywhere), (h, w, c) float32. ``deep`` (h, w, 1) float32 0–1: 0 within the first of
    :data:`PLANE_FROM_CELLS` of the open screen (:func:`_open_screen`: a screen-lit patch that the
    subject encloses does not count as near), 1 from the second on.
    """
    away = cv2.distanceTransform((~_open_screen(screen)).astype(np.uint8), cv2.DIST_L2, 3)
    lo, hi = PLANE_FROM_CELLS
    if float(away.max()) <= lo or int(screen.sum()) < 3:
        return None
    h, w = screen.shape
    # Least squares by its normal equations (3 × 3): lstsq over the cells costs 10× more.
    basis = _plane_basis(h, w)
    picked = basis * screen.reshape(1, -1)
    flat = values.reshape(-1, values.shape[-1])
    normal, rhs = (picked @ basis.T).astype(np.float64), (picked @ flat).astype(np.float64)
    coef = np.linalg.lstsq(normal, rhs, rcond=None)[0]
    plane = (basis.T @ coef.astype(np.float32)).reshape(values.shape)
    for c in range(plane.shape[-1]):  # cv2's min and max: numpy's over a masked small grid cost 20× more
        low, high, _, _ = cv2.minMaxLoc(np.ascontiguousarray(values[..., c]), screen.astype(np.uint8))
        np.clip(plane[..., c], low, high, out=plane[..., c])
    return plane, np.clip((away - lo) / (hi - lo), 0.0, 1.0)[..., None]


@functools.lru_cache(maxsize=8)
def _plane_basis(h: int, w: int) -> np.ndarray:
    """(3, h·w) float32: 1, x and y (−0.5…0.5 across the grid) for a plane fit."""
    x = np.broadcast_to((np.arange(w, dtype=np.float32) + 0.5) / w - 0.5, (h, w))
    y = np.broadcast_to((np.arange(h, dtype=np.float32)[:, None] + 0.5) / h - 0.5, (h, w))
    basis = np.stack([np.ones((h, w), np.float32), x, y]).reshape(3, -1)
    basis.flags.writeable = False
    return basis


def _fill_over_plane(
    values: np.ndarray, weights: np.ndarray, trend: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """:func:`fill_push_pull` (``values`` (h, w, c), ``weights`` (h, w) 0–1), raised deep inside a
    large subject by what push–pull misses of the screen's trend there (``trend``: plane and deep,
    from :func:`_screen_trend`). Push–pull is linear in the values, so the fill of the plane's
    residual plus the plane is the plain fill plus (plane − the plane's own fill); it is added only
    where positive: a plate too dim under a subject keys a lit surface out, one too bright only keys
    it more solid. (h, w, c) float32."""
    near = fill_push_pull(values, weights)
    if trend is None:
        return near
    plane, deep = trend
    return near + deep * np.maximum(plane - fill_push_pull(plane, weights), 0.0)


# A fold of cloth turned to the screen takes the screen's bounce, and on a dark subject that light has the
# screen's hue: lit to half the screen's light or more it passes the plate's first pass as a dim patch of
# screen, the plate follows it and the fold keys out. :func:`_lit_folds` tells such a patch from screen
# seen through a gap in the subject.
FOLD_MIN_CELLS = 12  # smaller patches (of ~160 × 90 cells) are left to the plate: hair gaps, specks
FOLD_LEVEL_MAX = 0.85  # a patch this bright against the screen around is screen (a fold would key out anyway)
FOLD_LIT_LEVEL_MAX = 0.97  # ... unless its own light is strong (FOLD_OWN_STRONG)
FOLD_OWN_STRONG = 0.03  # own light, as a share of the screen light, that shows cloth without a fade
FOLD_CORE, FOLD_FOOT = 0.8, 0.2  # a patch's lit core and the foot of its fade, as shares of its level
FOLD_REACH = 6  # cells around a patch where its fade is followed
FOLD_FADE_CELLS = 2.5  # median distance (cells) from the core at which a fold's light reaches the foot
FOLD_OWN_LIGHT = 0.01  # a fold's own light, screen light taken away, as a share of that screen light
FOLD_KEPT = 0.75  # ... and as a share of the subject's own light around it
GAP_RING_SOLID = 0.7  # a screen patch is a gap where this share of the cells 3 around it is solid subject
FOLD_KEPT_MARGIN = 0.2  # ... or this much over what a mix with the screen as bright keeps (brighter folds)


TEXTURE_CELLS = 4  # the texture of a patch is measured over the 9 × 9 cells around its middle


def _cells_around(cells: np.ndarray, y: float, x: float) -> tuple[np.ndarray, int, int]:
    """(window, top, left): ``cells`` (bool (h, w), some set) within :data:`TEXTURE_CELLS` of the set
    cell nearest (``y``, ``x``) (grid cells, by city-block distance), and the window's top left cell."""
    ys, xs = np.nonzero(cells)
    nearest = int(np.argmin(np.abs(ys - y) + np.abs(xs - x)))
    top, left = max(int(ys[nearest]) - TEXTURE_CELLS, 0), max(int(xs[nearest]) - TEXTURE_CELLS, 0)
    bottom, right = int(ys[nearest]) + TEXTURE_CELLS + 1, int(xs[nearest]) + TEXTURE_CELLS + 1
    return cells[top:bottom, left:right], top, left


def _strand_texture(
    rgb_srgb: np.ndarray, cells: np.ndarray, origin: tuple[int, int], grid: tuple[int, int], screen: str,
    balance: float,
) -> float:
    """How much the frame's colour difference d (linear) varies at the scale of hair strands over
    ``cells`` (bool, part of the small grid of shape ``grid`` whose top left cell is ``origin``): mean
    |d − its local mean over a cell| of the frame's pixels (``rgb_srgb`` (H, W, 3) sRGB, averaged
    down to ~4 px a cell, as at 640 px wide: strands thinner than a pixel average down with the
    sensor's grain; d smoothed over 1 px against that grain), over the cells within
    :data:`TEXTURE_CELLS` of the one nearest their middle (a veil is a veil throughout, and all of a
    large one cost ~0.5 ms at 1080p). 0 where ``cells`` is empty."""
    ys, xs = np.nonzero(cells)
    if ys.size == 0:
        return 0.0
    sub, top, left = _cells_around(cells, ys.mean(), xs.mean())
    sub = sub.astype(np.uint8)
    top, left = top + origin[0], left + origin[1]
    cell_h, cell_w = rgb_srgb.shape[0] / grid[0], rgb_srgb.shape[1] / grid[1]
    y0, y1 = int(top * cell_h), int(np.ceil((top + sub.shape[0]) * cell_h))
    x0, x1 = int(left * cell_w), int(np.ceil((left + sub.shape[1]) * cell_w))
    crop = np.asarray(rgb_srgb[y0:y1, x0:x1], np.float32)
    step = max(1.0, cell_w / 4.0)
    size = (max(1, int(round((x1 - x0) / step))), max(1, int(round((y1 - y0) / step))))
    if step > 1.0:
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    d = cv2.GaussianBlur(colour_difference(srgb_to_linear(crop), screen, balance), (0, 0), 1.0)
    local = cv2.blur(d, (max(3, int(round(cell_w / step)) | 1),) * 2)
    mask = cv2.resize(sub, size, interpolation=cv2.INTER_NEAREST) > 0
    return float(np.mean(np.abs(d - local)[mask]))


# A patch whose strand-scale texture is this many times the open screen's is a veil: screen seen through
# enclosed gaps, in the body's shadow or not, sharp or under 16–32 px of motion blur, measured 0.3–1.4×
# (mosaic camera, JPEG: test_lit_fold_weave's and test_veil_over_gap's generators); veils of near-black
# strands at coverage 0.15–0.7, 5.6–29× (the faintest: 0.15 through the mosaic camera).
VEIL_TEXTURE = 3.0
# Over a veil the black clip is halved: the full clip cut 30 % of a veil's coverage at 0.15 (keyed at
# 0.66–0.69 of it), none at all let the screen's grain between the strands print (1.25).
VEIL_CLIP = 0.5


def _open_screen_texture(
    rgb_srgb: np.ndarray, patch: np.ndarray, open_screen: np.ndarray, screen: str, balance: float
) -> float:
    """:func:`_strand_texture` over the cells of ``open_screen`` (bool (h, w)), two cells in, within
    :data:`TEXTURE_CELLS` of the one nearest the middle of ``patch`` (bool (h, w)): the sensor's
    grain, the codec's blocks, the screen's own weave. 0 where there are none."""
    reference = cv2.erode(open_screen.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if not reference.any():
        return 0.0
    py, px = np.nonzero(patch)
    near, top, left = _cells_around(reference, py.mean(), px.mean())
    return _strand_texture(rgb_srgb, near, (top, left), patch.shape, screen, balance)


def _on_border(cells: np.ndarray, win: tuple[slice, slice], grid: tuple[int, int]) -> bool:
    """Whether ``cells`` (bool, the window ``win`` of a grid of shape ``grid``) touch the grid's border."""
    top, left = win[0].start, win[1].start
    bottom, right = top + cells.shape[0] == grid[0], left + cells.shape[1] == grid[1]
    return bool(
        (top == 0 and cells[0].any()) or (bottom and cells[-1].any())
        or (left == 0 and cells[:, 0].any()) or (right and cells[:, -1].any())
    )


def _ringed_by_solid(cells: np.ndarray, ratio: np.ndarray) -> bool:
    """Whether :data:`GAP_RING_SOLID` of the cells three around ``cells`` (bool (h, w)) are solid
    subject (``ratio`` (h, w) < :data:`SPILL_FLOOR_MAX`)."""
    ring = (cv2.dilate(cells.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~cells
    return float(np.mean(ratio[ring] < SPILL_FLOOR_MAX)) >= GAP_RING_SOLID


class _PlatePatches(NamedTuple):
    """What :func:`_lit_folds` found among the plate's first pass, each bool (h, w)."""

    drop: np.ndarray  # screen-lit folds: kept out of the plate
    credit: np.ndarray  # those of them credited as solid by their own light (:func:`spill_floor.fold_floor`)
    gaps: np.ndarray  # screen seen through a gap the subject encloses
    veils: np.ndarray  # veils of strands hanging across such a gap


def _lit_folds(
    small: np.ndarray,
    first: np.ndarray,
    d_small: np.ndarray,
    screen: str,
    balance: float,
    rgb_srgb: np.ndarray | None = None,
) -> _PlatePatches | None:
    """(drop, credit, gaps, veils), each bool (h, w): the cells of ``first`` ((h, w) 0/1, the plate's
    first pass) that are a screen-lit fold on the subject, not screen; those of them whose own light
    is strong enough to credit the fold as solid whatever its screen light
    (:func:`spill_floor.fold_floor`); the patches that are screen seen through a gap in the subject;
    and the veils of strands hanging across such a gap (below; only given the frame, ``rgb_srgb``
    (H, W, 3) sRGB). None where there
    is none of these (the common case: the plate is then made as before, bit for bit). ``small``
    (h, w, 3) linear, ``d_small`` its colour difference.

    Candidates are the 8-connected patches of ``first`` of 12 cells or more apart from the largest
    (the screen seen around the subject), those on the frame's border included: a coat cut by the
    frame's bottom has its folds cut with it. Measured against the fill of the largest patch alone
    (d(C)/d(fill), ``level`` the 75th percentile of it over the patch), a patch is a fold where

    - it carries the subject's own light: C − ratio·fill, the colour with the screen light the key
      sees taken away, keeps at least 1 % of that screen light over the core (≥ 80 % of its level;
      median). Screen seen through a gap, dimmed by a shadow or not, has the screen's chromaticity
      and leaves ≤ 0.1 % (≤ 0.6 % through a mosaic camera, JPEG and motion blur); a fold leaves the
      cloth's own light (2–18 % measured on dark coats);
    - and either it keeps 3 % or more (strong: folds measured 4–16 %) and is dimmer than 0.97, or it
      is dimmer than 0.85 and fades: from its core the light falls to its foot (20 % of its level)
      at a median distance of 2.5 cells or more (~1.5 % of the frame's width). Bounce falls off
      smoothly across broad cloth; through a gap between an arm and the body the screen ends at the
      silhouette within a cell (0–1 cell measured; 1.4 under 16 px of motion blur at 640 px wide,
      2.2 at 24 px). A narrow fold or a panel turned to the screen fades within 1–2 cells too, so
      that test alone keyed them out;
    - that own light is at least 75 % of the subject's just outside the fade (below the foot, within
      2 cells), or, for a fold brighter than 0.56, 0.2 more than a mix as bright could keep. A mix
      of the subject with the screen keeps α of it, α ≤ 1 − ratio, and a mix enters the first pass
      only with 35 % of the screen's difference or more, so α ≤ ~0.65 there: a narrow gap blurred
      across its whole width (14 px under 32 px of motion blur at 640 px wide) carries the subject's
      colour and fades as a fold does, but keeps 0.53 of its light (0.19–0.28 for 16–22 px gaps).
      Folds measured 0.87–1.06 on generated coats lit from the camera's side; those whose facets
      turn away from the key light as they turn to the screen 0.55–0.75 (the benchmark's renderer:
      0.2–1.2; those under the limit stay in the plate, as before).

    A fold's core and its fade out to the foot are dropped from the plate: the screen around fills it
    in, and :func:`lit_surface.screen_lit_floor` credits the fold as a lit surface enclosed by the subject; a
    strong one is marked in ``lit`` as well.

    A patch keeping under 1 % is screen; where 70 % of the cells three around it are solid subject
    (ratio < 0.3: the arm and the body around a gap, not a hair's veil of strands; under 32 px of
    motion blur at 640 px wide 65–70 % two cells around, 77–81 % three) it is marked in ``gaps``:
    in the body's shadow it is dimmer than the screen around, the plate's tightening passes lose it,
    and :func:`lit_surface.screen_lit_floor` then credited it as screen light on an enclosed lit
    surface (a gap at 75 % keyed solid).

    A veil of near-black strands hanging across such a gap (dark hair between an arm and the body)
    has the screen's chromaticity too, as a shadow does: taken for a gap, the plate followed it and
    its strands keyed at 0.1–0.75 of their coverage; left to the plate's passes, those followed a
    thin one, and :func:`lit_surface.screen_lit_floor` credited a dense one as an enclosed lit surface (1.6×).
    Strands vary at their own scale, a shadow over many cells: a patch that is no fold (a candidate
    of any level or own light, or a cluster of smaller patches a cell apart, as a dense veil shows
    the screen between its strands) is a veil where, over its region (the patch and the cells joined
    to it short of solid, ratio ≥ 0.3, not beside the open screen nor on the frame's border: a gap
    that runs out of the frame is not known to be ringed), the frame's pixels two cells in from the
    patch's edge vary at the strands' scale :data:`VEIL_TEXTURE` times as much as the open screen's
    (:func:`_strand_texture`, :func:`_open_screen_texture`; nearer the edge a silhouette's weave or
    a codec's ringing, smeared in by motion blur, read as texture), 70 % of the cells three around
    that region are solid, and the region keeps under 3 % own light
    (median, as a fold's: near-black strands kept 0.1–2.7 % up to a coverage of 0.5, 3.5–4.4 % at
    0.7 and are left as before there; the benchmark's screen-lit dark coats that the fold tests
    leave kept 4.8 % at +0.7 EV, 8.5–13 % at the bench's exposure). The plate is filled in over a
    veil from the screen around, :func:`spill_floor.estimate_subject` credits no screen light on it, and the
    key halves its black clip there (:data:`VEIL_CLIP`).
    """
    # (Without the stats: connectedComponentsWithStats costs 7× as much on this grid.)
    count, labels = cv2.connectedComponents(first.astype(np.uint8), connectivity=8)
    if count <= 2:
        return None
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0
    largest = int(np.argmax(sizes))
    candidates = [i for i in np.nonzero(sizes >= FOLD_MIN_CELLS)[0] if i != largest]
    kernel = np.ones((3, 3), np.uint8)
    # A dense veil shows the screen between its strands in fragments too small to be candidates: those
    # a cell apart are joined, and the clusters of 12 cells or more are tested as veils (only).
    clusters: list[np.ndarray] = []
    if rgb_srgb is not None:
        fragments = ((sizes < FOLD_MIN_CELLS) & (sizes > 0))[labels]
        if int(fragments.sum()) >= FOLD_MIN_CELLS:
            n, joined = cv2.connectedComponents(cv2.dilate(fragments.astype(np.uint8), kernel))
            joined_sizes = np.bincount(joined[fragments], minlength=n)
            clusters = [joined == j for j in np.nonzero(joined_sizes[1:] >= FOLD_MIN_CELLS)[0] + 1]
    if not candidates and not clusters:
        return None
    open_screen = labels == largest
    fill = fill_push_pull(small, open_screen.astype(np.float32))
    ratio = d_small / np.maximum(colour_difference(fill, screen, balance), 1e-4)
    near_open = cv2.dilate(open_screen.astype(np.uint8), kernel) > 0
    box = np.ones((2 * FOLD_REACH + 1, 2 * FOLD_REACH + 1), np.uint8)
    drop = np.zeros(first.shape, bool)
    credit = np.zeros(first.shape, bool)
    gaps = np.zeros(first.shape, bool)
    veils = np.zeros(first.shape, bool)
    h, w = first.shape
    pad = FOLD_REACH + 3  # the window holds the patch, its fade and the subject around

    def window(patch: np.ndarray) -> tuple[slice, slice]:
        x, y, bw, bh = cv2.boundingRect(patch.astype(np.uint8))
        return slice(max(y - pad, 0), min(y + bh + pad, h)), slice(max(x - pad, 0), min(x + bw + pad, w))

    screen_texture: list[float] = []  # the open screen's, measured once

    def veil(patch: np.ndarray, win: tuple[slice, slice]) -> bool:
        """Marks the veil ``patch`` (bool (h, w)) lies in, if it does (see above); whether it did."""
        if rgb_srgb is None:
            return False
        r = ratio[win]
        region = connected_to((r >= SPILL_FLOOR_MAX) & ~near_open[win], patch[win])
        if not _ringed_by_solid(region, r) or _on_border(region, win, (h, w)):
            return False
        screen_light = r[..., None] * fill[win]
        own_light = np.maximum(small[win] - screen_light, 0.0)[region] @ LUMA_709
        if float(np.median(own_light)) >= FOLD_OWN_STRONG * float(np.median(screen_light[region] @ LUMA_709)):
            return False
        if not screen_texture:
            screen_texture.append(_open_screen_texture(rgb_srgb, patch, open_screen, screen, balance))
        # The patch's cells two in from its edge: a silhouette has texture (a weave, a codec's ringing).
        inner = cv2.erode(patch[win].astype(np.uint8), np.ones((5, 5), np.uint8), borderValue=0) > 0
        texture = _strand_texture(rgb_srgb, inner, (win[0].start, win[1].start), (h, w), screen, balance)
        if texture <= 0 or texture < VEIL_TEXTURE * screen_texture[0]:
            return False
        veils[win] |= region
        return True

    for i in candidates:
        patch = labels == i
        win = window(patch)
        cells, r = patch[win], ratio[win]
        if drop[win][cells].any():
            continue
        values = np.sort(r[cells])
        level = float(values[(3 * values.size) // 4])
        if level >= FOLD_LIT_LEVEL_MAX:
            veil(patch, win)
            continue
        region = (cv2.dilate(cells.astype(np.uint8), box) > 0) & ~near_open[win]
        core = connected_to(region & (r >= FOLD_CORE * level), cells)
        lit = connected_to(region & (r >= FOLD_FOOT * level), core).astype(np.uint8)
        # Where the lit area ends (not at the frame's border), how far from the core.
        outer = (lit > 0) & (cv2.erode(lit, kernel, borderType=cv2.BORDER_REPLICATE) == 0)
        away = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
        fades = float(np.median(away[outer])) >= FOLD_FADE_CELLS
        rgb, screen_rgb = small[win], fill[win]
        own_light = np.maximum(rgb - r[..., None] * screen_rgb, 0.0) @ LUMA_709
        own = float(np.median(own_light[core]))
        screen_light = float(np.median((r[..., None] * screen_rgb)[core] @ LUMA_709))
        strong = own >= FOLD_OWN_STRONG * screen_light
        if own < FOLD_OWN_LIGHT * screen_light:  # screen: seen through a gap where solid subject surrounds it
            if not veil(patch, win) and _ringed_by_solid(cells, r):
                gaps[win] |= cells
            continue
        if not strong and (not fades or level >= FOLD_LEVEL_MAX):
            veil(patch, win)
            continue
        # The solid subject just outside the fade: a fold keeps its own light, a mix with the screen α of it.
        around = (cv2.dilate(lit, np.ones((5, 5), np.uint8)) > 0) & (lit == 0) & (r < FOLD_FOOT * level)
        # A mix keeps α ≤ 1 − ratio of its light, and its core's ratio is ≥ 0.8 of the level: a bright
        # fold shaded by the key light (turned to the screen, it faces away from the camera) keeps under
        # 0.75, still well over what a mix as bright could.
        kept = min(FOLD_KEPT, 1.0 - FOLD_CORE * level + FOLD_KEPT_MARGIN)
        if around.any() and own >= kept * float(np.median(own_light[around])):
            drop[win] |= lit > 0
            if strong:
                credit[win] |= lit > 0
        else:
            veil(patch, win)
    for patch in clusters:
        veil(patch, window(patch))
    return _PlatePatches(drop, credit, gaps, veils) if drop.any() or gaps.any() or veils.any() else None


def small_linear(rgb_srgb: np.ndarray) -> np.ndarray:
    """The frame area-averaged to about 160 px wide (1/2 at least), decoded to linear light.

    Large frames are first thinned to every fourth row: the average still spans dozens of pixels,
    and reading every row would cost four times as much.
    """
    rgb = np.asarray(rgb_srgb, np.float32)
    h, w = rgb.shape[:2]
    downscale = max(2, int(round(w / ANALYSIS_WIDTH_PX)))
    size = (max(1, w // downscale), max(1, h // downscale))
    if downscale >= 8:
        rgb = rgb[1::4]
    # Finite again after decoding: a finite sRGB value past ~1e16 decodes to +inf in float32.
    return _finite(srgb_to_linear(_finite(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))))


def difference_ratio(
    small_rgb_linear: np.ndarray, small_plate_linear: np.ndarray, screen: str, balance: float
) -> np.ndarray:
    """d(C)/d(S) (h, w) on the small grid: each cell's colour difference over the plate's there
    (1 on clear screen, 0 on a subject without screen colour)."""
    return colour_difference(small_rgb_linear, screen, balance) / np.maximum(
        colour_difference(small_plate_linear, screen, balance), 1e-4
    )


PLATE_GAIN_DEAD_BAND = 0.02  # a clean plate within this of the frame's screen is used as it is


def clean_plate_gain(
    small_rgb_linear: np.ndarray, small_plate_linear: np.ndarray, screen: str, balance: float
) -> float:
    """How much brighter the frame's clear screen is than the clean plate's (1: as bright): a phone's or
    a camera's auto exposure between the empty screen and the take. A plate 10 % brighter laid a veil of
    alpha 0.1 over the whole set. Clear screen is the brightest screen-coloured light there is, while a
    subject's edges, smoke and shadows only lower a cell's: the median of the cells near the 75th
    percentile of d(C)/d(plate) between 0.5 and 2. 1 when under a tenth of the frame looks like screen."""
    ratio = difference_ratio(small_rgb_linear, small_plate_linear, screen, balance)
    near = ratio[(ratio > 0.5) & (ratio < 2.0)]
    if near.size < 0.1 * ratio.size:
        return 1.0
    gain = _clear_screen_level(near)
    return 1.0 if abs(gain - 1.0) <= PLATE_GAIN_DEAD_BAND else gain


def _clear_screen_level(shares: np.ndarray) -> float:
    """The clear screen's level among cells' shares of a screen's difference: the median of the cells
    near their 75th percentile (clear screen is the brightest screen-coloured light; edges, veils and
    shadows only lower a cell's), without the top of its noise."""
    top = float(np.percentile(shares, 75))
    return float(np.median(shares[shares > 0.9 * top]))


VEIL_RATIO = 0.5  # a plate cell under this share of the screen's difference is subject, not screen
VEIL_REACH = 0.08  # ... and fine strands reach this share of the frame's width out from it


def _near_subject(ratio: np.ndarray) -> np.ndarray:
    """Weight (h, w) float32 0–1 of the third plate pass: 1 within :data:`VEIL_REACH` of the frame's
    width of a cell that is clearly subject (``ratio`` d(C)/d(plate) < :data:`VEIL_RATIO`; not on the
    frame's edge), fading out over two cells.

    Fine dark strands keep the screen's hue, so each pass lifts the plate under a veil of them by
    only part of what they took (on the rendered benchmark's dark hair it was still 5–9% low after two
    passes, 3–6% after three). Far from any subject a dim stretch is the screen's own light (a
    vignetted corner), which a third pass would begin to cut out of the plate.
    """
    reach = max(1, int(round(VEIL_REACH * ratio.shape[1])))
    subject = (ratio < VEIL_RATIO).astype(np.uint8)
    # Not the outermost cells: a dark strip along the frame's edge (a scan's or a crop's border) is
    # no subject, and a subject cut by the frame reaches further in.
    subject[[0, -1], :] = 0
    subject[:, [0, -1]] = 0
    near = cv2.dilate(subject, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(np.float32)
    return cv2.GaussianBlur(near, (0, 0), 2.0)


def _close_to_plate(
    d_small: np.ndarray, plate: np.ndarray, saturated: np.ndarray, screen: str, balance: float
) -> tuple[np.ndarray, np.ndarray]:
    """(ratio, screen_only): the cells' colour difference over the ``plate``'s (h, w), and float32 0/1
    (h, w) the screen-saturated cells within 7 % of the plate, 2 cells away from the rest."""
    ratio = d_small / np.maximum(colour_difference(plate, screen, balance), 1e-4)
    screen_only = cv2.erode(((ratio > 0.93) & saturated).astype(np.uint8), np.ones((5, 5), np.uint8))
    return ratio, screen_only.astype(np.float32)


def estimate_screen_plate(
    small_rgb_linear: np.ndarray, screen_rgb_linear: np.ndarray, screen: str, balance: float
) -> np.ndarray:
    """A smooth linear-light plate of the empty screen, from a frame's :func:`small_linear` copy.

    Pass 1 takes pixels with at least 35% of the screen colour's difference (dim corners included)
    and fills the subject in from around it; later passes keep only pixels close to the plate so far.
    Falls back to the flat colour when under 2% of the frame is screen.
    """
    return screen_plate_and_folds(small_rgb_linear, screen_rgb_linear, screen, balance)[0]


def _dimmed_screen(d_small: np.ndarray, d_flat: float, saturated: np.ndarray) -> float | None:
    """The share of the learned screen colour's difference the frame's screen now has, when the whole
    screen dimmed: the median of the screen-hued cells at their brightest quarter, if a tenth of the
    frame is of the screen's hue and has at least 5 % of its difference; else None."""
    share = d_small[saturated & (d_small > 0.05 * d_flat)] / d_flat
    if share.size < 0.1 * d_small.size:
        return None
    return _clear_screen_level(share)


def screen_plate_and_folds(
    small_rgb_linear: np.ndarray,
    screen_rgb_linear: np.ndarray,
    screen: str,
    balance: float,
    rgb_srgb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(plate, folds, veils): :func:`estimate_screen_plate`'s plate; the cells (bool (h, w)) of the
    screen-lit folds :func:`_lit_folds` kept out of it and found solid by their own light; and those
    of the veils of strands it found over gaps the subject encloses (given the frame, ``rgb_srgb``
    (H, W, 3) sRGB), filled in from the screen around; both for :func:`spill_floor.estimate_subject`,
    None where there are none (the common case)."""
    small = small_rgb_linear
    flat = np.broadcast_to(np.asarray(screen_rgb_linear, np.float32), small.shape)
    d_small = colour_difference(small, screen, balance)
    d_flat = max(float(colour_difference(np.asarray(screen_rgb_linear, np.float32), screen, balance)), 1e-4)
    # Screen at any brightness has the screen's hue and saturation: d over the channel sum stays near
    # the screen colour's. Smoke, glass and screen light on a subject desaturate it (they would
    # otherwise pass for a smooth change of the screen's light and vanish into the plate).
    flat_sum = max(float(np.sum(screen_rgb_linear)), 1e-4)
    total = small[..., 0] + small[..., 1] + small[..., 2]  # (.sum(-1) over 3 channels: 15× slower)
    saturated = d_small >= 0.8 * (d_flat / flat_sum) * total
    first = ((d_small > 0.35 * d_flat) & saturated).astype(np.float32)
    if first.mean() < 0.02:
        # No screen as bright as a third of the one learned: the whole screen dimmed (auto exposure,
        # a light switched off mid-take). Keyed against the learned colour, every pixel came out solid.
        exposure = _dimmed_screen(d_small, d_flat, saturated)
        if exposure is None:
            return flat.copy(), None, None
        d_flat *= exposure
        flat = flat * np.float32(exposure)
        first = ((d_small > 0.35 * d_flat) & saturated).astype(np.float32)
    found = _lit_folds(small, first, d_small, screen, balance, rgb_srgb)
    folds = gaps = veils = None
    if found is not None:
        first[found.drop] = 0.0
        folds = found.credit if found.credit.any() else None
        if found.veils.any():
            veils = found.veils
            first[veils] = 0.0
        if found.gaps.any():  # (not the cells beside the subject: mixes)
            gaps = (found.gaps & (cv2.erode(first, np.ones((3, 3), np.uint8)) > 0)).astype(np.float32)
    # The screen as the tightening passes below see it (2 cells off the rest).
    trend = _screen_trend(small, cv2.erode(first, np.ones((5, 5), np.uint8)) > 0)
    plate = _fill_over_plane(small, first, trend)
    # Tightening passes: hair and edges pull a plate pixel down by a few percent, so only pixels
    # within 7% of the current plate count, and the mask keeps 2 plate pixels away from the rest.
    for step in range(3):
        ratio, screen_only = _close_to_plate(d_small, plate, saturated, screen, balance)
        if veils is not None:
            screen_only *= cv2.dilate(veils.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
        if screen_only.mean() < 0.02:
            break
        lifted = _fill_over_plane(small, screen_only, trend)
        if step == 2:
            lifted = plate + _near_subject(ratio)[..., None] * (lifted - plate)
        plate = lifted
    if gaps is not None:
        # Screen seen through a gap in the subject, shadowed by it: the plate follows it there (and
        # only there: its shadow would spread under the subject around with the fill).
        screen_only = _close_to_plate(d_small, plate, saturated, screen, balance)[1]
        through = _fill_over_plane(small, np.maximum(screen_only, gaps), trend)
        plate = np.where(cv2.dilate(gaps, np.ones((3, 3), np.uint8))[..., None] > 0, through, plate)
    return cv2.GaussianBlur(plate, (0, 0), 1.0), folds, veils
