"""The spill floor: how much of the screen's light the solid subject itself shows, per analysis cell.

Bounce and sheen add the screen's light to a subject; a colour-difference key reads that as the
screen showing through. :func:`estimate_subject` measures it on the small grid of the screen analysis
(guangying.keyer.screen) and returns the floor, the subject's colour beside each place and the dark
fringe of strands: the floor of a lit surface enclosed by the subject (:func:`screen_lit_floor`), of
a subject measured by its own light (:func:`subject_light_floor`), of a screen-lit fold
(:func:`fold_floor`) and of a dark subject's fringe (:func:`dark_fringe_floor`). The key counts a
pixel as opaque down to that ratio (guangying.keyer.kernels).
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.jit import numba
from guangying.keyer.lit_surface import (
    CLEAR_RATIO,
    DARK_SUBJECT,
    OTHER_CHROMA,
    SCREEN_LIGHT_MAX,
    STEP_RATIO,
    STRAND_ZONE_SHARE,
    SUBJECT_KEPT,
    TEXTURE_MARGIN,
    gap_fractions,
    mixes_around,
    nearest_solid,
    screen_lit_floor,
)
from guangying.keyer.maths import LUMA_709
from guangying.keyer.screen import (
    SPILL_FLOOR_MAX,
    connected_to,
    difference_ratio,
    fill_push_pull,
)

# A dark fringe's subject is dark next to the light it mirrors: under DARK_SUBJECT or under this share of
# the screen's level (its strongest channel, linear), whichever is more: 0.05 at a screen exposed to 0.4.
DARK_FRINGE_SHARE = 0.125
# Once a dark subject's lit rim is found, its rim and fringe take in the cells beside a solid under this
# multiple of that level (joined to the rim): one head of hair's light straddles a hard level (key light,
# texture). The rendered benchmark's dark hair keys the same with 1.3 to 5.
DARK_FRINGE_JOIN = 2.0
NEAR_SCREEN_PX = 24  # soft edges (motion blur, hair) reach at most this far from clear screen
STRAND_AWAY_PX = 12  # dark fringe cells this far out from the solid subject are strands, not its edge
# ... and its strands reach at least this many analysis cells (of ~160 across) from its lit rim: hair scales
# with the subject in the frame, not with the pixels (NEAR_SCREEN_PX is 6 cells at 640 wide, 3 at 1280).
STRAND_REACH_CELLS = 6


def subject_remainder(
    ratio: np.ndarray, small_rgb_linear: np.ndarray, small_plate_linear: np.ndarray
) -> np.ndarray:
    """Linear RGB (h, w, 3) of C − ratio·S, negative parts 0: the colour with the screen light the
    key sees taken away."""
    return np.maximum(small_rgb_linear - ratio[..., None] * small_plate_linear, 0.0)


SUBJECT_SEEN = 0.15  # a cell keeping less of the subject's own light than this is too thin to measure
HUE_MATCH = 0.95  # cosine between two colours of one material (shading and texture scale, not turn)


def subject_coverage(
    remainder_rgb: np.ndarray,
    near_remainder_rgb: np.ndarray,
    remainder: np.ndarray,
    near_remainder: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, measured, other), all (h, w): the share of the nearby solid subject's own light a cell
    keeps, where that measures its coverage, and where the cell's own light is another material's.
    ``remainder_rgb`` (h, w, 3) is :func:`subject_remainder`,
    ``near_remainder_rgb`` the same of the nearest solid subject (ratio < 0.3); ``remainder`` and
    ``near_remainder`` (h, w) their luminances (the caller has them already).

    A pixel that mixes a subject (colour F, carrying screen light f·S from bounce or sheen) with the
    screen, C = α·(F + f·S) + (1 − α)·S, keeps α of the subject's own light once the screen light
    the key sees is taken away: C − ratio·S = α·(F − ratio_F·S), whatever f is. So the luminance
    ratio q of the two remainders is α. It measures only where the nearby subject is bright enough
    to tell (luminance ≥ 0.05) and the cell's remainder has its hue (the same material: another
    subject's light says nothing about this one's coverage).

    ``other``: the remainders of both are bright enough (≥ 0.05) and their chromaticities (r, g, b
    over their sum) lie more than 0.04 apart. A mix of the subject with the screen keeps the
    subject's chromaticity whatever α is, so such a cell is no mix of that subject (a sage prop
    over a white shirt, whose remainders' cosine is 0.99 and pass as one hue).
    """
    q = remainder / np.maximum(near_remainder, 1e-6)
    # Channel by channel: numpy's reductions over a last axis of 3 cost more than the arithmetic.
    a, b = remainder_rgb, near_remainder_rgb
    dot = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]
    aa = a[..., 0] * a[..., 0] + a[..., 1] * a[..., 1] + a[..., 2] * a[..., 2]
    bb = b[..., 0] * b[..., 0] + b[..., 1] * b[..., 1] + b[..., 2] * b[..., 2]
    same_material = (dot >= 0) & (dot * dot >= HUE_MATCH * HUE_MATCH * aa * bb)
    # A mix keeps the reference's chromaticity exactly (the screen light is taken away); the cosine
    # above is too loose for pale colours (a sage remainder vs a white shirt's is 0.99).
    sum_a = np.maximum(a[..., 0] + a[..., 1] + a[..., 2], 1e-6)
    sum_b = np.maximum(b[..., 0] + b[..., 1] + b[..., 2], 1e-6)
    d_red = a[..., 0] / sum_a - b[..., 0] / sum_b
    d_blue = a[..., 2] / sum_a - b[..., 2] / sum_b
    d_green = -(d_red + d_blue)  # the three differences sum to 0
    chroma_sq = d_red * d_red + d_green * d_green + d_blue * d_blue
    bright = near_remainder >= DARK_SUBJECT
    other = bright & (remainder >= DARK_SUBJECT) & (chroma_sq > OTHER_CHROMA * OTHER_CHROMA)
    return q.astype(np.float32), bright & same_material, other


def subject_light_floor(
    ratio: np.ndarray, coverage: np.ndarray, measured: np.ndarray, among_strands: np.ndarray | None = None
) -> np.ndarray:
    """The difference ratio (h, w) the subject would show at α = 1 where its own light measures it
    (``coverage``, ``measured`` from :func:`subject_coverage`), else 0.

    With coverage q, the ratio at full coverage is 1 − (1 − ratio)/q; counting that as opaque gives
    the key α = q on the cell: a solid surface glinting with screen light stays solid (q ≈ 1),
    strands that reflect the screen keep their coverage, and a plain mix (no screen light) gets no
    credit. Only cells keeping at least 15% of the subject's light; cells keeping 85% or more are
    solid and get the texture margin, as in :func:`screen_lit_floor` (clamped to 0.8); a mix that
    would need more than 0.8 is left to the key. Cells ``among_strands`` (bool (h, w), optional; see
    :data:`STRAND_ZONE_SHARE`) get their own ratio without the margin: a strand brighter than the
    solid it is measured against keeps 85 % of its light at a coverage well under 1.
    """
    at_full = 1.0 - (1.0 - ratio) / np.maximum(np.minimum(coverage, 1.0), 1e-6)
    solid = coverage >= SUBJECT_KEPT
    credit = measured & (coverage >= SUBJECT_SEEN) & (ratio >= SPILL_FLOOR_MAX) & (ratio < 1.0)
    credit &= solid | (at_full <= SCREEN_LIGHT_MAX)
    margin = TEXTURE_MARGIN if among_strands is None else np.where(among_strands, 1.0, TEXTURE_MARGIN)
    lit = np.where(solid, np.minimum(margin * ratio, SCREEN_LIGHT_MAX), at_full)
    return np.where(credit, np.maximum(lit, 0.0), 0.0).astype(np.float32)


def dark_fringe_floor(
    ratio: np.ndarray,
    lit: np.ndarray,
    near_remainder: np.ndarray,
    solid: np.ndarray,
    reach: int,
    dark: float = DARK_SUBJECT,
    strand_reach: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(floor, veil): the difference ratio (h, w) that the fringe of a dark, screen-lit subject shows
    at α = 1, the plain ratio of its lit surface beside it, where the fringe lies, else 0; and bool
    (h, w), the fringe's cells out to ``strand_reach`` cells (window size; at least ``reach``).

    Strands leaving a surface are lit as its silhouette is: seen against the screen, a dark hair's
    rim and the strands beyond it mirror the screen alike (sheen, bounce). A strand's mix with the
    screen, C = α·(F + f·S) + (1 − α)·S, then reads as a thinner strand, α·(1 − f), unless the key
    counts f as opaque. On a subject this dark its own light cannot measure the strands' coverage
    (:func:`subject_coverage` needs luminance ≥ 0.05), but its lit surface shows f: cells that
    :func:`screen_lit_floor` or :func:`subject_light_floor` credited (``lit`` > 0) beside a dark
    solid subject (``near_remainder`` < ``dark``, linear luminance: :func:`dark_fringe_level`), with a
    ratio from 0.3 up to :data:`STEP_RATIO`
    (mostly surface, not a mix with the screen) and off the frame's border (a frame edge is no
    silhouette), and the cells like them 8-connected to those, beside a solid subject under
    :data:`DARK_FRINGE_JOIN` × ``dark``. Their ratio, filled in smoothly, is the floor of the cells
    within ``reach`` cells (the window size of the soft-edge reach, :data:`NEAR_SCREEN_PX`) that no
    credit reached and that are no solid subject (ratio ≥ 0.3, not ``solid``, bool (h, w)), beside a
    solid subject under that wider level. The wider level is a hysteresis: ``near_remainder`` is the
    mean over the nearest solid cells around, and where a key light rises across a head of dark hair
    it crosses ``dark`` before the hair does, so the side towards the light lost its rim's floor
    (rendered dark hair at +0.7 EV: MAD 1.5 % lower with it; 0.1 % with the joined rim alone, 0.9 %
    with the fringe's wider level alone). The plain ratio, without the texture margin: these cells
    are mixes. A floor below 1 leaves clear screen between strands clear (ratio 1 keys to α 0
    whatever the floor).

    The veil (its plate is filled in from the screen around, :func:`fringe.screen_behind_fringe`, and the
    black clip lifted over its strands, :func:`fringe.black_clip_over_strands`) reaches as far as strands
    do, :data:`STRAND_REACH_CELLS` however large the frame: at 1280×720 the rendered benchmark's dark
    hair keyed 3 % closer with it (far strands read at 0.2–0.3 of their coverage with the 24-px
    reach). The floor reaches past ``reach`` only onto cells that read as nearly clear screen (ratio
    ≥ :data:`CLEAR_RATIO`: a few strands over it; 1 % closer still): over a whole cell it lifts the
    key of every pixel, and on the real plate (960 wide) a denser patch of hair strands (87 px) went
    up to 0.4 more opaque with it there. Filling the plate and lifting the clip only let strands that
    are there show. The veil takes in the subject's credited cells (its lit rim's mixes) beside its
    non-clear cells as well: they are strands too, and past :data:`STRAND_AWAY_PX` the clip is lifted
    over them (rendered dark hair: MAD 0.4–1 % lower; the plate, already filled beside the veil,
    barely moves).
    """
    rim = (lit > 0) & (ratio >= SPILL_FLOOR_MAX) & (ratio < STEP_RATIO)
    rim[0, :] = rim[-1, :] = rim[:, 0] = rim[:, -1] = False
    seeds = rim & (near_remainder < dark)
    if not seeds.any():
        return np.zeros(ratio.shape, np.float32), np.zeros(ratio.shape, bool)
    # Hysteresis: the rim is the seeds' 8-connected run of lit mixes beside a solid under the wider level.
    joined_dark = near_remainder < DARK_FRINGE_JOIN * dark
    rim = connected_to(rim & joined_dark, seeds)
    surface = np.where(rim, np.minimum(ratio, SCREEN_LIGHT_MAX), 0.0).astype(np.float32)
    surface = fill_push_pull(surface[..., None], rim.astype(np.float32))[..., 0]
    fringe = (lit <= 0) & (ratio > SPILL_FLOOR_MAX) & ~solid & joined_dark
    near_rim = cv2.dilate(rim.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0
    floored = veil = fringe & near_rim
    if strand_reach > reach:
        strands = cv2.dilate(rim.astype(np.uint8), np.ones((strand_reach, strand_reach), np.uint8)) > 0
        further = fringe & strands & ~near_rim
        veil = veil | further
        floored = floored | (further & (ratio >= CLEAR_RATIO))
    # The dark subject's credited (lit) mixes beside the veil's strands are strands too: left out of the
    # veil, black_clip_over_strands kept the full clip over them and cut their thinner hairs.
    lit_mix = (lit > 0) & (near_remainder < dark) & (ratio > SPILL_FLOOR_MAX) & ~solid
    strands_in_veil = (veil & (ratio < CLEAR_RATIO)).astype(np.uint8)
    veil = veil | (lit_mix & (cv2.dilate(strands_in_veil, np.ones((3, 3), np.uint8)) > 0))
    return np.where(floored, surface, 0.0).astype(np.float32), veil


def dark_fringe_level(small_plate_linear: np.ndarray) -> float:
    """Linear luminance under which a subject counts as dark for :func:`dark_fringe_floor`, from the
    plate (h, w, 3) linear: :data:`DARK_SUBJECT`, or :data:`DARK_FRINGE_SHARE` of the screen's level
    (the strongest channel of its mean) where the screen is exposed brighter than 0.4.

    The light a dark rim mirrors (sheen, bounce) and the rim's own light both scale with the exposure,
    so what is dark beside the screen scales with it too: at +0.7 EV half of the rendered benchmark's
    dark-hair rim cells (32 a frame, against 65 at its base exposure) read as not dark, and far strands
    lost the floor (that variation's dark-hair MAD ×1e3 6.85; 6.45 with this level). Under-exposed,
    the absolute level stays: noise and the code values' steps, not the exposure, bound what can be
    told apart there.
    """
    level = max(cv2.mean(np.ascontiguousarray(small_plate_linear, np.float32))[:3])  # numpy's: 25× slower
    return max(DARK_SUBJECT, DARK_FRINGE_SHARE * level)


FOLD_FLOOR_MAX = 0.95  # most screen light credited on a fold :func:`screen.screen_plate_and_folds` found


def fold_floor(ratio: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """The spill floor (h, w) float32 over the cells of screen-lit folds (``folds``, bool (h, w), from
    :func:`screen.screen_plate_and_folds`), 0 elsewhere: the highest ``ratio`` of the 3×3 cells around
    with the texture margin, up to 0.95.

    :func:`screen_lit_floor` credits screen light on a solid subject from its shape alone, and so
    holds back: at most 0.8, and no cell whose pixels show the screen (over 15 % as screen-like as
    clear screen: a fringe's gaps). On cloth the bounce is carried by the fibres and the weave
    modulates it (±20–25 % from thread to thread), so a fold lit to 0.7 of the screen has such pixels
    throughout, and one lit past 0.8 has cells past the cap. A fold found by its own light needs
    neither guard: it is the subject's cloth, whatever the screen light on it.
    """
    envelope = cv2.dilate(np.where(folds, ratio, 0.0).astype(np.float32), np.ones((3, 3), np.uint8))
    return np.where(folds, np.minimum(TEXTURE_MARGIN * envelope, FOLD_FLOOR_MAX), 0.0).astype(np.float32)


SOFT_EDGE_CELLS = 3
MIX_RATIO_TOLERANCE = 0.05


def _soft_edge(ratio: np.ndarray, remainder: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """uint8 (h, w), 1 on the ``solid`` cells (ratio < 0.3) that are the inner end of a wide soft edge,
    not solid subject. A 60 px ramp from a grey subject into the screen reads under 0.3 over its first
    fifth: taken for spill on a solid, its floor and colour were spread over the rest of the edge,
    which keyed α 1 from a true 0.68. Such a cell keeps the share q of the own light (C − ratio·S) of
    the brightest solid cell within 3 cells that its coverage is, and its ratio is the least lit solid
    cell's plus (1 − q) of the rest: a mix of the two. Screen light on a solid keeps its own light
    (q ≈ 1); texture varies q without the ratio following it. Dark subjects keep too little light to
    tell."""
    box = np.ones((2 * SOFT_EDGE_CELLS + 1,) * 2, np.uint8)
    solid_ratio = np.where(solid > 0, ratio, np.float32(1.0)).astype(np.float32)
    core_ratio = cv2.erode(solid_ratio, box)
    core_light = cv2.dilate(np.where(solid > 0, remainder, 0.0).astype(np.float32), box)
    q = remainder / np.maximum(core_light, 1e-6)
    as_mix = core_ratio + (1.0 - q) * (1.0 - core_ratio)
    mix = (solid > 0) & (core_light >= DARK_SUBJECT) & (q < SUBJECT_KEPT) & (
        np.abs(ratio - as_mix) <= MIX_RATIO_TOLERANCE)
    return mix.astype(np.uint8)


def estimate_subject(
    small_rgb_linear: np.ndarray,
    small_plate_linear: np.ndarray,
    screen: str,
    balance: float,
    downscale: float = 1.0,
    rgb_srgb: np.ndarray | None = None,
    folds: np.ndarray | None = None,
    veils: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two smooth fields of the solid subject at the small scale and where a dark subject's fringe
    lies: (spill floor, subject colour, fringe).

    Solid subject pixels are those under 30% of the plate's colour difference, one pixel in from
    their edge; both fields are their values, filled in smoothly everywhere else.

    - spill floor (h, w), 0–0.95: the difference ratio d(C)/d(S) the solid subject itself shows
      because of spill. The key counts that ratio, not 0, as opaque, so a spilled subject stays solid
      and its edges keep their proportion. Only spill (a positive ratio) is compensated; above 0.3
      only where :func:`screen_lit_floor` finds screen light on a solid subject,
      :func:`subject_light_floor` measures it by the subject's own light, or :func:`fold_floor`
      credits a screen-lit fold the plate found (``folds``).
    - subject colour (h, w, 8): the nearest solid colour (linear RGB) for
      :func:`maths.project_alpha`, and a 0/1 channel marking where the screen is within 24 px of
      the frame (``downscale`` = frame pixels per cell), the only place soft edges can be: deep inside
      the subject, colours that happen to lie between two subject colours must not turn transparent;
      then the lit surface of :func:`screen_lit_floor` (its colour, linear RGB, and 0/1 where the key
      unmixes it: :func:`maths.lit_surface_alpha`).

    - fringe (h, w) bool: the cells of a dark subject's fringe, keyed against its lit rim, out to as
      far as its strands reach (:func:`dark_fringe_floor`'s veil), for :func:`fringe.screen_behind_fringe`
      and :func:`fringe.black_clip_over_strands`.

    ``rgb_srgb``, the frame itself, lets :func:`screen_lit_floor` look for gaps in the cells it
    would credit. ``folds`` (bool (h, w), optional): screen-lit folds found by the plate
    (:func:`screen.screen_plate_and_folds`), credited by :func:`fold_floor`. ``veils`` (bool (h, w),
    optional): veils of strands over gaps the plate found; no screen light is credited on them (no
    lit surface seeds there, no floor but the subject's spill floor).
    """
    ratio = difference_ratio(small_rgb_linear, small_plate_linear, screen, balance)
    solid = cv2.erode((ratio < SPILL_FLOOR_MAX).astype(np.uint8), np.ones((3, 3), np.uint8))
    reach = 2 * max(1, int(round(NEAR_SCREEN_PX / downscale))) + 1
    near_screen = cv2.dilate((ratio > 0.5).astype(np.uint8), np.ones((reach, reach), np.uint8))
    if solid.mean() < 0.005:
        subject = np.concatenate([small_plate_linear, np.zeros(ratio.shape + (6,), np.float32)], axis=-1)
        no_fringe = np.zeros(ratio.shape, bool)
        return np.zeros(ratio.shape, np.float32), np.ascontiguousarray(subject, np.float32), no_fringe
    remainder_rgb = subject_remainder(ratio, small_rgb_linear, small_plate_linear)
    remainder = remainder_rgb @ LUMA_709
    values = np.concatenate(
        [
            np.clip(TEXTURE_MARGIN * ratio, 0.0, SPILL_FLOOR_MAX)[..., None],
            small_rgb_linear,
        ],
        axis=-1,
    )
    solid = solid & ~_soft_edge(ratio, remainder, solid)
    filled = fill_push_pull(values.astype(np.float32), solid.astype(np.float32))
    gaps = None
    if rgb_srgb is not None:
        gaps = lambda cells, **kw: gap_fractions(rgb_srgb, cells, small_plate_linear, screen, balance, **kw)  # noqa: E731
    # Objects: regions apart from clear screen; a solid subject speaks only for its own object.
    _, objects = cv2.connectedComponents((ratio < CLEAR_RATIO).astype(np.uint8), connectivity=8)
    near_remainder_rgb, connected = nearest_solid(remainder_rgb, solid, objects)
    # A cell that reads as clear screen is no object of its own (a strand thinner than a cell): it
    # keeps the nearest solid subject.
    connected |= ratio >= CLEAR_RATIO
    near_remainder = near_remainder_rgb @ LUMA_709
    coverage, measured, other = subject_coverage(remainder_rgb, near_remainder_rgb, remainder, near_remainder)
    measured &= connected
    # Texture varies a surface's light by up to the margin; a cell keeping less is a mix.
    mixed = measured & (coverage < 1.0 / TEXTURE_MARGIN)
    screen_lit, lit_surface = screen_lit_floor(
        ratio, remainder, near_remainder, gaps, mixed, other, remainder_rgb,
        (small_rgb_linear, small_plate_linear), veils,
    )  # fmt: skip
    # Over every mix here; screen_lit_floor counts its own among the mixes its lit surface leaves.
    among_strands = mixes_around(mixed, ratio) > STRAND_ZONE_SHARE
    lit = np.maximum(screen_lit, subject_light_floor(ratio, coverage, measured, among_strands))
    if folds is not None:
        lit = np.maximum(lit, fold_floor(ratio, folds))
    if veils is not None:
        lit = np.where(veils, 0.0, lit)
    fringe_floor, fringe = dark_fringe_floor(
        ratio, lit, near_remainder, solid > 0, reach, dark_fringe_level(small_plate_linear),
        2 * STRAND_REACH_CELLS + 1,
    )  # fmt: skip
    lit = np.maximum(lit, fringe_floor)
    if veils is not None:
        lit = np.where(veils, 0.0, lit)
        lit_surface = np.where(veils[..., None], 0.0, lit_surface)
    lit_surface = fringe_own_light(lit_surface, fringe, near_remainder_rgb, small_plate_linear)
    # Screen light on a solid subject is no soft edge: no subject-colour projection there.
    near_screen = near_screen.astype(np.float32) * (lit <= 0)
    subject_rgb = _warm_ramps_to_their_subject(
        filled[..., 1:4], ratio, small_rgb_linear, small_plate_linear, reach)
    subject = np.concatenate([subject_rgb, near_screen[..., None], lit_surface], axis=-1)
    floor = np.maximum(cv2.GaussianBlur(filled[..., 0], (0, 0), 1.0), lit)
    return floor, np.ascontiguousarray(subject, np.float32), fringe


SURE_SUBJECT_RATIO = -0.15  # a cell this far below no screen excess is subject, never a mix with the screen
# A cell's colour off the line by more than this share of its way from the screen is no mix: screen light
# added to the subject (bounce, sheen) leaves the line (blond hair on blue: 30 % let 45 px holes through)
MIX_TOLERANCE = 0.1
RAMP_SHARE_TOLERANCE = 0.25  # a soft edge's mix keeps the share of the subject its place on the way gives


def _warm_ramps_to_their_subject(
    subject_rgb: np.ndarray, ratio: np.ndarray, rgb_linear: np.ndarray, plate_linear: np.ndarray, reach: int
) -> np.ndarray:
    """The subject colour (h, w, 3 linear) of a wide soft edge of a warm subject (skin, blond, red: more
    of the other channels than the screen's, a negative difference ratio) taken from the subject itself.

    A mix with the screen keys more opaque than it is where the subject's screen excess is negative, and
    over a wide edge (defocus, motion blur) the mixes nearer the subject pass as solid: the nearest solid
    colour was a mix, so the projection (maths.project_alpha) kept the mix opaque. A cell whose colour
    lies on the line from the screen to the nearest unmistakable subject cell (ratio under
    :data:`SURE_SUBJECT_RATIO`, within ``reach`` cells) takes that cell's colour instead. A dark or
    white subject has no such cells and keeps its colours."""
    sure = cv2.erode((ratio < SURE_SUBJECT_RATIO).astype(np.uint8), np.ones((3, 3), np.uint8))
    if not sure.any():
        return subject_rgb
    sure_rgb = fill_push_pull(rgb_linear.astype(np.float32), sure.astype(np.float32))
    to_subject = cv2.distanceTransform((1 - sure).astype(np.uint8), cv2.DIST_L2, 3)
    far = to_subject > reach
    d = rgb_linear - plate_linear
    e = sure_rgb - plate_linear
    on_line = (d * e).sum(-1) / np.maximum((e * e).sum(-1), np.float32(1e-6))
    residual = np.linalg.norm(d - on_line[..., None] * e, axis=-1)
    mix = (sure == 0) & ~far & (ratio > SURE_SUBJECT_RATIO) & (on_line > 0.0) & (on_line < 1.0)
    mix &= residual < MIX_TOLERANCE * np.linalg.norm(d, axis=-1)
    # A soft edge runs from the screen to the subject: its mix's share of the subject grows with the way
    # from one to the other. A region of a prop's second colour that happens to lie on that line (a teal
    # panel of a green prop on a blue screen) keeps its share across its width, and stays a surface.
    to_screen = cv2.distanceTransform((ratio <= 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    along = to_screen / np.maximum(to_screen + to_subject, np.float32(1e-6))
    mix &= np.abs(on_line - along) < RAMP_SHARE_TOLERANCE
    return np.where(mix[..., None], sure_rgb, subject_rgb) if mix.any() else subject_rgb


OWN_LIGHT_COS_MAX = 0.8  # a subject colour this close in direction to the screen's unmixes too weakly


def fringe_own_light(
    lit_surface: np.ndarray, fringe: np.ndarray, near_remainder_rgb: np.ndarray, plate_linear: np.ndarray
) -> np.ndarray:
    """The lit surface (h, w, 4: colour, marker) of :func:`screen_lit_floor` with a fifth channel, 0/1
    where the key unmixes a dark fringe's strands against the nearest solid subject's own colour
    (``near_remainder_rgb`` (h, w, 3) linear, screen light taken out): the ``fringe`` cells (bool (h,
    w), :func:`dark_fringe_floor`'s veil) that no lit surface marks, where that colour stands apart
    from the plate's (h, w, 3) in direction (cosine under :data:`OWN_LIGHT_COS_MAX`).

    A strand mirrors screen light as the rim beside it does, or more (sheen and bounce do not fade
    off the mass as they do into it): C = α·(F + f·S) + (1 − α)·S reads as α·(1 − f) to the key,
    and the rim's floor holds f at what the rim shows. On the rendered dark hair at +0.7 EV the far
    strands (> 12 px out) mirrored 0.65 of a blue screen's difference against a floor of 0.40 and
    keyed at 0.5–0.6 of their coverage (0.27–0.57 and 0.8–1.2 on the green screens). The least-squares
    unmixing C = a·F + b·S (:func:`guangying.keyer.maths.lit_surface_alpha`) reads α whatever f is, as
    well as F's own light stands out of S: brown hair on blue or saturated green (cosine 0.6),
    not on yellow-green or dull green (0.85–0.9, where it read strands 1.3–1.8× too thick). Its
    answer only raises the key, and only where the mix's screen share leaves room for it
    (:data:`guangying.keyer.maths.MIRROR_MAX`: clear screen's noise, unmixed against a dark colour,
    reads as coverage).
    """
    surface = np.zeros(lit_surface.shape[:2] + (5,), np.float32)
    own = np.ascontiguousarray(near_remainder_rgb, np.float32)
    plate = np.ascontiguousarray(plate_linear, np.float32)
    lit = np.ascontiguousarray(lit_surface, np.float32)
    _own_light_cells(lit, np.asarray(fringe, np.bool_), own, plate, np.float32(OWN_LIGHT_COS_MAX), surface)
    return surface


@numba.njit(cache=True)
def _own_light_cells(lit_surface, fringe, own, plate, cos_max, surface):  # noqa: ANN001, ANN202
    """surface = lit_surface with a 0 fifth channel, then the fringe's unmarked cells whose own colour
    is within cos_max of the plate's in direction: own colour, marker 1, bound 1 (numpy costs
    ~0.6 ms a frame here, numba a few µs)."""
    h, w = fringe.shape
    for y in range(h):
        for x in range(w):
            for c in range(4):
                surface[y, x, c] = lit_surface[y, x, c]
            if not fringe[y, x] or lit_surface[y, x, 3] > 0:
                continue
            dot = oo = pp = np.float32(0.0)
            for c in range(3):
                dot += own[y, x, c] * plate[y, x, c]
                oo += own[y, x, c] * own[y, x, c]
                pp += plate[y, x, c] * plate[y, x, c]
            if oo <= 0 or pp <= 0 or not dot < cos_max * np.sqrt(oo * pp):
                continue
            for c in range(3):
                surface[y, x, c] = own[y, x, c]
            surface[y, x, 3] = 1.0
            surface[y, x, 4] = 1.0
