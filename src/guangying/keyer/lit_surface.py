"""Screen light on a solid subject, found from the shape of what the key reads as transparent.

Bounce and sheen add the screen's light to a solid subject, however dark; a colour-difference key
reads that as the screen showing through (a dark coat glinting green at its rim, a fold facing the
screen). :func:`screen_lit_floor` finds such surfaces on the screen analysis' small grid by patterns
that real transparency (smoke, glass, hair, motion blur) does not show: enclosed by the subject,
behind a sharp edge, a smooth lit band beside a dark subject, and credits their screen light as
solid (the spill floor, guangying.keyer.spill_floor). It also marks the lit surfaces the key unmixes
pixel by pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from guangying.base.jit import numba
from guangying.base.srgb_lut import DECODE_LUT, decode
from guangying.keyer.kernels import free_coverage, unmixed_coverage
from guangying.keyer.maths import LUMA_709, colour_difference, screen_channels
from guangying.keyer.screen import (
    SPILL_FLOOR_MAX,
    connected_to,
    fill_push_pull,
    weighted_values,
)

SCREEN_LIGHT_MAX = 0.8  # most screen light (bounce, sheen) a solid subject is credited with
CLEAR_RATIO = 0.9  # cells at least this screen-like count as clear screen for the solid-subject tests
STEP_RATIO = 0.6  # a cell this far below clear screen within 2 cells of it sits behind a sharp edge
STEP_REACH_CELLS = 3
TEXTURE_MARGIN = 1.6
# Beside clear screen the floor carries its seeds' texture margin onto the silhouette's mixes (a dark
# hair mass's edge), which the white clip stretches as well: capped at this margin over the seeds'
# plain ratio there. Further in (a coat's lit surface) the full margin keeps it solid.
EDGE_TEXTURE_MARGIN = 1.3
SUBJECT_KEPT = 0.85
RIM_MARGIN = 0.1  # credit over a lit rim's own ratio near clear screen (texture, noise, 4:2:0)
# A surface lit to this much of clear screen's ratio is unmixed pixel by pixel in the key: a mix of it
# reads as screen. (Less lit, the floor keys it; unmixing would lend texture's brightness to coverage.)
LIT_UNMIX_RATIO = 0.7
SHADED_SILHOUETTE_CELLS = 5  # a shaded side's screen-lit silhouette is unmixed this far from clear screen
LIT_PAST_CLEAR_CELLS = 6  # a rim lit past clear screen's ratio is tested this far (of ~160 cells across)
DARK_SUBJECT = 0.05  # linear luminance under which a subject is too dark to tell added light from a mix
GAP_RATIO = 0.85  # a pixel this screen-like is a gap onto the screen
GAP_WINDOW_PX = 8
GAPS_MAX = 0.15  # cells with more gap pixels than this are fringes (hair, smoke), not a lit surface
BAND_DEPTH_CELLS = 8  # a lit band seeds only this many cells' path (inside the subject) from clear screen
SURFACE_TOLERANCE = 0.15  # a seed's credit spreads over the cells within this of its ratio
BAND_GAP_RATIO = 0.7  # ... and with no pixel this screen-like around it (a gap whose chroma is halved)
# "No pixel" is at most this share of them: the window holds 256 px at 640×360, 576 at 720p and 1296 at
# 1080p, and one glint or noise outlier among that many is no gap between strands (those are many).
BAND_GAP_SHARE = 0.005
# A cell of another material than the nearest solid that is its less lit neighbours plus screen light
# (unmixed, C = a·F + b·S, a within SUBJECT_KEPT of 1) where a mix with the screen would keep at most
# 70% of them, over this many cells around: at least 3 neighbours, 3 in 4 of those compared, and 4 such
# cells within a cell of each other.
RELIT_MIX_KEPT = 0.7
RELIT_REACH_CELLS = 3
RELIT_COUNT = 3
RELIT_SHARE = 0.75
RELIT_CLUSTER = 4
# Strands: where over this share of the 5×5 cells around a cell are mixes its own light measures (not
# clear screen), it lies among strands, and its credit carries no texture margin. Behind a silhouette's
# sharp edge the mixes are one band of cells, a fifth of the window (two fifths at a corner): step
# seeds on the rendered set's dark clothing, hair and props whose truth is solid (α* ≥ 0.95) had ≤ 0.28
# (q90); those in the fringe of grey hair beside its screen-lit mass (α* 0.8 on average, the strands
# around 0.2–0.6) 0.32–0.84, median 0.64. Taking such step cells for no seed at all (over 0.5) gained
# blond twice as much but cut the seeds of a pale prop's screen-lit rim on a held-out seed (a 697 px
# hole): the silhouettes' and the clumps' shares overlap, so only the margin goes.
STRAND_ZONE_SHARE = 0.3


@numba.njit(cache=True)
def _gap_fractions(rgb, cells_y, cells_x, cell_h, cell_w, d_plate, channels, balance, table, gap_ratio, reach):  # noqa: ANN001, ANN202, E501
    s, o1, o2 = channels[0], channels[1], channels[2]
    h, w = rgb.shape[0], rgb.shape[1]
    out = np.zeros(cells_y.shape[0], np.float32)
    for i in range(cells_y.shape[0]):
        cy, cx = cells_y[i], cells_x[i]
        # The cell, or a window of GAP_WINDOW_PX around its centre where cells are smaller; and
        # ``reach`` cells around it.
        half_h = max(cell_h, GAP_WINDOW_PX) / 2 + reach * cell_h
        half_w = max(cell_w, GAP_WINDOW_PX) / 2 + reach * cell_w
        centre_y, centre_x = (cy + 0.5) * cell_h, (cx + 0.5) * cell_w
        y0, x0 = max(int(centre_y - half_h), 0), max(int(centre_x - half_w), 0)
        y1, x1 = min(max(int(centre_y + half_h), y0 + 1), h), min(max(int(centre_x + half_w), x0 + 1), w)
        limit = gap_ratio * d_plate[cy, cx]
        gaps = 0
        for y in range(y0, y1):
            for x in range(x0, x1):
                cs = decode(table, rgb[y, x, s])
                ca = decode(table, rgb[y, x, o1])
                cb = decode(table, rgb[y, x, o2])
                if cs - (balance * max(ca, cb) + (1.0 - balance) * min(ca, cb)) >= limit:
                    gaps += 1
        out[i] = gaps / max((y1 - y0) * (x1 - x0), 1)
    return out


def _cell_indices(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a 2-D mask, made contiguous. numpy returns strided views for two or more cells and
    contiguous arrays for one or none; a compiled function given both compiles twice, the second time
    in the middle of a take (one seed cell; one solid cell without the auto plate)."""
    ys, xs = np.nonzero(cells)
    return np.ascontiguousarray(ys), np.ascontiguousarray(xs)


def gap_fractions(
    rgb_srgb: np.ndarray,
    cells: np.ndarray,
    small_plate_linear: np.ndarray,
    screen: str,
    balance: float,
    gap_ratio: float = GAP_RATIO,
    reach_cells: int = 0,
) -> np.ndarray:
    """For the small-grid cells marked in ``cells`` (h, w) bool: the fraction of their frame pixels
    (float32 sRGB (H, W, 3)) at least ``gap_ratio`` (85%) as screen-like as the plate, over the cell
    or 8×8 px around its centre if that is larger, widened by ``reach_cells`` cells on each side: gaps
    between hair strands or through smoke, which a lit solid surface does not have. (h, w) float32, 0
    where not marked."""
    h, w = cells.shape
    ys, xs = _cell_indices(cells)
    out = np.zeros((h, w), np.float32)
    if ys.size:
        d_plate = np.ascontiguousarray(colour_difference(small_plate_linear, screen, balance), np.float32)
        channels = np.array(screen_channels(screen), np.int64)
        cell_h, cell_w = rgb_srgb.shape[0] / h, rgb_srgb.shape[1] / w
        out[ys, xs] = _gap_fractions(
            rgb_srgb, ys, xs, cell_h, cell_w, d_plate, channels, np.float32(balance), DECODE_LUT,
            np.float32(gap_ratio), int(reach_cells),
        )
    return out


def _between_solids(solid: np.ndarray, reach: int) -> np.ndarray:
    """bool (h, w): ``solid`` (h, w) bool lies within ``reach`` cells on both opposite sides, above
    and below or left and right."""
    out = np.zeros(solid.shape, bool)
    for axis in (0, 1):
        before = np.zeros(solid.shape, bool)
        after = np.zeros(solid.shape, bool)
        n = solid.shape[axis]
        for d in range(1, min(reach, n - 1) + 1):
            lead = [slice(None)] * 2
            lag = [slice(None)] * 2
            lead[axis], lag[axis] = slice(d, None), slice(None, n - d)
            before[tuple(lead)] |= solid[tuple(lag)]
            after[tuple(lag)] |= solid[tuple(lead)]
        out |= before & after
    return out


def _far_from_clear(clear: np.ndarray, through: np.ndarray, steps: int) -> np.ndarray:
    """bool (h, w): cells of ``through`` (h, w) bool that a path of at most ``steps`` 8-connected
    steps from ``clear`` (h, w) bool, all inside ``through``, does not reach."""
    reached = clear.astype(np.uint8)
    inside = through.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        reached = cv2.dilate(reached, kernel) & inside | reached
    return through & (reached == 0)


def mixes_around(mixed: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """float32 (h, w): the share of the 5×5 cells around each that are mixes by their own light
    (``mixed``, bool (h, w)) and not clear screen (``ratio`` < :data:`CLEAR_RATIO`): over
    :data:`STRAND_ZONE_SHARE` among strands, not behind a silhouette's edge."""
    return cv2.blur((mixed & (ratio < CLEAR_RATIO)).astype(np.float32), (5, 5))


def screen_lit_floor(
    ratio: np.ndarray,
    remainder: np.ndarray,
    near_remainder: np.ndarray,
    gaps: Callable[..., np.ndarray] | None = None,
    mixed: np.ndarray | None = None,
    other: np.ndarray | None = None,
    remainder_rgb: np.ndarray | None = None,
    colour_plate: tuple[np.ndarray, np.ndarray] | None = None,
    veils: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(floor, surface): the difference ratio (h, w) a solid subject lit by the screen shows, where
    the small grid's ``ratio`` = d(C)/d(S) proves it solid, else 0; and (h, w, 4) the lit surface the
    key unmixes pixel by pixel (below), zeros where none. ``remainder`` is the luminance of
    :func:`spill_floor.subject_remainder`,
    ``near_remainder`` the same of the nearest solid subject (ratio < 0.3); ``gaps`` (optional) gives
    :func:`gap_fractions` for a mask of cells (and its keyword arguments).

    Bounce and sheen add screen light to a solid subject, however dark; a colour-difference key reads
    that as transparency (a dark coat glinting green at its rim, a fold facing the screen). Three
    patterns separate it from real transparency without looking at colour:

    - *enclosed*: a patch of screen-like colour with no clear screen next to it, only subject — a
      hole inside a solid subject (smoke, glass and hair fringes border clear screen). A patch joined
      to the cells beside clear screen only through cells whose 5×5 neighbourhood averages under 0.3
      (texture's single cells just over the line on a solid surface) is enclosed too;
    - *behind a sharp edge*: a cell well below clear screen (ratio < 0.6) within two cells of clear
      screen: the subject's colour is reached in one step, as at a solid silhouette, whereas motion
      blur, smoke and hair fringes fade in over many cells. Its ratio spreads up to 3 cells;
    - *a lit band* beside a dark subject: solid subject within 3 cells on both opposite sides (a lit
      hairline between dark hair and a forehead), nearly enclosed — clear screen is at least 8
      cells away along the subject's screen-lit cells (4:2:0 chroma or a fringe may join one end of
      the band to the screen; loose strands over the screen lie a few cells from it) — and smooth: no
      pixel within a cell of it is 70% as screen-like as the plate (strands show the screen between
      them at their own scale; "no pixel" allows 0.5 % of them, so that a glint or a noise outlier
      does not decide it at 720p or 1080p, where the window holds 2–5× the pixels).

    All must also keep the subject's brightness once the screen light is taken away: C − ratio·S
    keeps at least 85% of the nearest solid subject's (the same measure). Added light leaves the subject
    whole; a mix with the screen (a blurred gap between fingers) leaves only α of it. Next to a dark
    subject (luminance < 0.05) the two cannot be told apart, and a dark subject glinting with screen
    light is far more common than a dark one blurred into the screen in one step. And a lit surface
    has no gaps: at most 15% of a seed cell's pixels may be as screen-like as clear screen (hair
    fringes and thin smoke have many).

    A cell its own light shows to be a mix (``mixed``) is no seed, whatever its shape: a dense fringe
    of pale strands is a step behind the silhouette too.

    Ratios are clamped to 0.8: brighter screen light than that is left to the key. The credit spreads
    3 cells from the seeds, and over the whole of a flat surface: cells joined to a seed through
    cells within 0.15 of its ratio, none beside clear screen, smooth as a lit band and not beside a
    dark subject (the middle of a large green-ish prop; not a dark curl's tip in a 4:2:0 frame; a
    sharp-edged even veil — a clean pane — cannot be told from a prop and is made solid too).
    Spread from the seeds, the credit carries the texture margin, except in cells marked ``mixed``
    (bool (h, w): partial mixes, see :func:`spill_floor.subject_coverage`) that are more screen-like than the
    seeds: they get the seeds' own ratio; and in cells beside clear screen, where it would widen a
    silhouette's mixes (a dark hair mass's edge), 1.3× the seeds' ratio at most.

    Among strands — over 30 % of the 5×5 cells around are mixes by their own light — neither the
    seeds' credit nor a cell's own light carries the texture margin (:data:`STRAND_ZONE_SHARE`).

    ``other`` (bool (h, w), optional; see :func:`spill_floor.subject_coverage`) marks cells whose own light is
    another material's than the nearest solid subject's. Where they form an even surface (ratio
    within 0.15 over 3×3 cells, 0.3–0.6, not beside clear screen) they are whole and no mix, and
    they seed where joined to a seed (a sage prop over a white shirt, seeded behind its silhouette).
    An even surface of another hue with no seed is left to the key; one with a sharp edge (a tinted
    half-transparent pane over the screen, edges blurred under ~4 px) cannot be told from a prop
    and is keyed solid.

    With ``colour_plate``, such a material shows itself solid where the screen lights it unevenly
    (a board under strong bounce, brightest towards its edges): unmixed into the colour F of a less
    lit cell of it and the screen's, C = a·F + b·S, a cell that is F plus screen light has a ≈ 1
    (85%–1/0.85, residual ≤ 3% of |F|), whereas a mix of F with the screen has a = α ≤ (1 −
    ratio)/(1 − ratio_F), which the test requires to be ≤ 0.7. Cells of ``other`` (not beside clear
    screen) that are, by this test, at least 3 and 3 in 4 of their less lit cells (ratio < 0.6, so
    coverage ≥ 0.4 there) within 3 cells seed, where they have no gaps and 4 of them lie within a
    cell of each other. Limits: it proves the coverage equal, not whole: smoke or a veil of even
    density whose bounce varies reads the same; only the less lit cells' ratio under 0.6 and the
    area asked for keep them out.

    ``remainder_rgb`` (h, w, 3, optional: :func:`spill_floor.subject_remainder`) carries the credit further by
    the seeds' own light: screen light added to a surface leaves C − ratio·S as it is, a mix with
    the screen keeps α of it. Cells joined to the seeds that keep the nearest seeds' own light (85%
    to 1/0.85 of its luminance, same chromaticity within 0.04) are that surface however screen-lit
    — a rim lit to 0.8–0.9 of the screen's difference, beside clear screen too. They are credited
    with their own ratio up to 0.9 (clear screen): beyond 2 cells from clear screen with the texture
    margin, within them with the highest such ratio of the 3×3 around plus 0.1 (a rim's light rises
    steeply towards its edge). Limits: the colour difference's max() makes a lime's remainder drift
    in chroma under teal light (hence the unmixing test below); a rim lit past clear screen's ratio
    (a lime under 0.25 of a teal screen's light) cannot be keyed solid by a floor below 1; the soft
    fringe of dense bright fur that keeps its core's light is keyed a little more solid.

    ``colour_plate`` (the small grid's linear colour and plate, each (h, w, 3), optional) adds a
    test free of the max(): a cell's colour unmixed into the seeds' colour F and the screen's,
    C = a·F + b·S by least squares, has a = its coverage of that surface whatever screen light it
    carries (a mix with the screen gives a = α). A cell with a within 85%–1/0.85 whose colour
    that plane explains to within 3% of |F| keeps the seeds' own light too. The screen light a
    coloured surface reflects is the screen's filtered by the surface's own colour (its reflectance
    times the screen's light, ≈ F⊙S), not S: a lime under a teal screen's bounce turns greener,
    off that plane. So the unmixing also fits C = S + a·(F − S) + c·F⊙S (c ≥ 0; a mix of that lit
    surface with the screen again gives a = α) and takes it where it explains C better. Such a rim
    reads past clear screen's ratio, over several cells where the light is strong: clear screen's
    cells are tested as well (clear screen itself keeps none of the seeds' light: a ≈ 0), and those
    that keep it, joined to the credited surface, are unmixed in the key (below) without a floor of
    their own. The key's unmixing also reads a shaded side of the surface lit mostly by the screen
    light it reflects (:func:`guangying.keyer.maths.lit_surface_alpha`); the cell tests here do not
    (with no residual left to test, it credited tinted glass). Only to carry the key's unmixing to
    that shaded side's silhouette (:func:`_shaded_side`), which the own-light tests miss (they hold
    F's brightness), are cells of the credited surface's own object solved so, and they get no floor.

    ``veils`` (bool (h, w), optional): veils of strands over an enclosed gap
    (:func:`screen.screen_plate_and_folds`) seed nothing, however few pixels of clear screen a dense
    one shows between its strands.

    ``surface`` (with ``colour_plate``): the seeds' colour F (linear RGB) and a 0/1 channel marking
    the cells whose own light is credited with a ratio of at least 0.7 (F not dark), those lit past
    clear screen's ratio above, and the ring around them, which holds their silhouette; and the
    silhouette (within 5 cells of clear screen) of its shaded side lit by the screen. There the
    key takes the coverage a of each pixel (:func:`guangying.keyer.maths.lit_surface_alpha`): a
    cell's credit cannot follow a rim's light
    rising within it, nor 4:2:0's smear of the screen's chroma into it, and a rim lit past clear
    screen's ratio no floor below 1 keys solid. Less lit cells are left to the floor: the unmixing
    reads a bright speck of texture as more coverage (a grey shirt's mixes with the screen).
    """
    clear = ratio >= CLEAR_RATIO
    nothing = np.zeros(ratio.shape, np.float32), np.zeros(ratio.shape + (4,), np.float32)
    if not clear.any():
        return nothing
    # Texture makes some pixels of a cell more screen-lit than its average: credit a margin.
    lit = np.clip(TEXTURE_MARGIN * ratio, 0.0, SCREEN_LIGHT_MAX).astype(np.float32)
    between = (ratio >= SPILL_FLOOR_MAX) & ~clear
    # The cell next to clear screen mixes the two whatever the edge; the one behind it shows the subject.
    beside = cv2.dilate(clear.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    enclosed = between & ~connected_to(between, beside)
    # Texture scatters a lit surface's cells about the 0.3 line: a lit fold inside a textured shirt can
    # be joined to the silhouette's lit rim only through single cells a little over it, whose 5×5
    # neighbourhood is solid on average. Joined through such cells alone, it is still enclosed.
    linked = between & (cv2.blur(ratio.astype(np.float32), (5, 5)) >= SPILL_FLOOR_MAX)
    enclosed |= linked & ~connected_to(linked, beside)
    behind = (cv2.dilate(clear.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~beside
    # ... and, behind it, falls at most 2/3 as fast per cell as it fell from the screen: motion blur,
    # smoke and fringes ramp evenly, screen light on a solid fades more slowly than the edge.
    fall_behind = ratio - cv2.erode(ratio.astype(np.float32), np.ones((3, 3), np.uint8))
    flat = fall_behind <= (1.0 - ratio) / 3.0
    step = behind & flat & (ratio < STEP_RATIO) & (ratio >= SPILL_FLOOR_MAX)
    # The darkest solid subject around (a dark coat under a bright face is still a dark coat).
    size = 2 * STEP_REACH_CELLS + 1
    kernel = np.ones((size, size), np.uint8)
    near_remainder = cv2.erode(near_remainder.astype(np.float32), kernel)
    whole = (remainder >= SUBJECT_KEPT * near_remainder) | (near_remainder < DARK_SUBJECT)
    # Only a solid subject nearby says what "whole" is: an isolated prop has nothing to compare with.
    whole |= cv2.dilate((ratio < SPILL_FLOOR_MAX).astype(np.uint8), kernel) == 0
    # A flat patch of another material than the nearest solid (a sage prop over a white shirt): the
    # shirt's light says nothing about its coverage, and a mix of the shirt with the screen would
    # have the shirt's chroma. It is whole and no mix; it seeds only where joined to a seed.
    own_surface = None
    if other is not None:
        ratio32 = ratio.astype(np.float32)
        box3 = np.ones((3, 3), np.uint8)
        even = cv2.dilate(ratio32, box3) - cv2.erode(ratio32, box3) <= OTHER_FLAT
        own_surface = other & even & ~beside & (ratio >= SPILL_FLOOR_MAX) & (ratio < STEP_RATIO)
        whole |= own_surface
        if mixed is not None:
            mixed = mixed & ~own_surface
    # A lit band needs the frame's pixels to show that it has no gaps.
    band = np.zeros(ratio.shape, bool)
    if gaps is not None:
        band = _between_solids(ratio < SPILL_FLOOR_MAX, STEP_REACH_CELLS) & (near_remainder < DARK_SUBJECT)
        if band.any():
            band &= _far_from_clear(clear, between, BAND_DEPTH_CELLS - 1)
    seeds = (enclosed | step | band) & whole
    if mixed is not None:
        seeds &= ~mixed
    if veils is not None:
        seeds &= ~veils
    if gaps is not None:
        seeds &= gaps(seeds) <= GAPS_MAX
        band &= seeds & ~(enclosed | step)
        if band.any():
            seeds &= ~band | (gaps(band, gap_ratio=BAND_GAP_RATIO, reach_cells=1) <= BAND_GAP_SHARE)
    if colour_plate is not None and other is not None:
        # Another material than the nearest solid: where it shows itself lit, it seeds on its own.
        seeds |= _relit(ratio, colour_plate, between & ~beside & other, gaps)
    if own_surface is not None and seeds.any() and own_surface.any():
        seeds |= own_surface & connected_to(own_surface | seeds, seeds)
    seed_cells = seeds
    seeds = seeds.astype(np.uint8)
    if not seeds.any():
        return nothing
    # The upper envelope over neighbouring cells, with and without the texture margin.
    plain = np.clip(ratio, 0.0, SCREEN_LIGHT_MAX).astype(np.float32)
    among_strands = np.zeros(ratio.shape, bool)
    if mixed is not None:
        among_strands = mixes_around(mixed, ratio) > STRAND_ZONE_SHARE
    lit = np.where(among_strands, plain, lit)  # a clump's light is its strands', not a textured surface's
    lit = cv2.dilate(np.where(seeds > 0, lit, 0.0).astype(np.float32), np.ones((3, 3), np.uint8))
    plain = cv2.dilate(np.where(seeds > 0, plain, 0.0).astype(np.float32), np.ones((3, 3), np.uint8))
    seeds = cv2.dilate(seeds, np.ones((3, 3), np.uint8)).astype(np.float32)
    filled = fill_push_pull(lit[..., None], seeds)[..., 0]
    plain = fill_push_pull(plain[..., None], seeds)[..., 0]
    if mixed is not None:
        # A mix of the lit surface with the screen (its silhouette, strands beyond it) carries the
        # surface's screen light, not the margin its texture needs to stay solid.
        filled = np.where(mixed & (ratio > plain), np.minimum(filled, plain), filled)
    filled = np.where(beside, np.minimum(filled, EDGE_TEXTURE_MARGIN * plain), filled)
    size = 2 * STEP_REACH_CELLS + 1
    reach = cv2.dilate(seeds, np.ones((size, size), np.uint8))
    # A flat surface carries its seeds' credit over its whole extent: the middle of a large prop lies
    # further than that from its silhouette. Cells joined to a seed through cells within 0.15 of the
    # seeds' ratio, none beside clear screen nor beside a dark subject (curls whose gaps 4:2:0 smears).
    surface = ~beside & (np.abs(ratio - plain) <= SURFACE_TOLERANCE)
    # Screen light added to a surface leaves its own light (C − ratio·S) as it is; a mix with the
    # screen keeps α of it. Cells keeping the seeds' own light are that surface however screen-lit
    # (a rim lit towards the screen's colour, past the 0.15), up to its silhouette.
    own_light = own_clear = np.zeros(ratio.shape, bool)
    surface_rgb = None
    if remainder_rgb is not None:
        candidates = ~clear
        if colour_plate is not None:
            # Clear screen's cells too, up to 6 cells out: a rim lit past clear screen's ratio (clear
            # screen keeps none of the surface's light; testing all of it cost 0.2 ms at 1080p).
            size = 2 * LIT_PAST_CLEAR_CELLS + 1
            candidates = cv2.dilate(candidates.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
        own_light, surface_rgb = _keeps_own_light(remainder_rgb, seed_cells, candidates, colour_plate)
        own_clear = own_light & clear
        own_light = own_light & ~clear
    spread = connected_to(surface | own_light, seeds > 0) & (reach == 0) & (near_remainder >= DARK_SUBJECT)
    tested = spread & ~own_light  # own light already shows the surface whole
    if gaps is not None and tested.any():
        gappy = gaps(tested, gap_ratio=BAND_GAP_RATIO, reach_cells=1) > BAND_GAP_SHARE
        spread &= ~tested | ~gappy  # smooth, as a lit band
    reach = np.maximum(reach, spread.astype(np.float32))
    # Whole by its own light: its own ratio is credited up to clear screen's (the 0.8 limit is for
    # light a colour difference alone cannot tell from a mix); within 2 cells of clear screen without
    # the texture margin, which the floor's interpolation would carry onto the silhouette's mixes.
    own_whole = own_light & (reach > 0)
    near_clear = beside | behind
    inner = (own_whole & ~near_clear).astype(np.float32)
    credit = filled * np.maximum(cv2.blur(reach, (3, 3)), inner)
    # Near clear screen a rim's light rises steeply towards the edge and varies within a cell: the
    # cell is credited with the brightest lit cell of its surface around it, plus a small margin.
    envelope = cv2.dilate(np.where(own_whole, ratio, 0.0).astype(np.float32), np.ones((3, 3), np.uint8))
    own_lit = np.where(near_clear, envelope + RIM_MARGIN, TEXTURE_MARGIN * ratio)
    own_lit = np.where(among_strands, ratio, own_lit)
    floor = np.maximum(credit, np.minimum(own_lit, CLEAR_RATIO) * own_whole).astype(np.float32)
    if surface_rgb is None:
        return floor, nothing[1]
    # Pixel by pixel the key unmixes the surface's own colour from the screen's there (a rim's light
    # varies within a cell, and 4:2:0 smears the screen's chroma into it): on its cells and the ring
    # around them, which holds its silhouette.
    lit = own_whole & (ratio >= LIT_UNMIX_RATIO) & (surface_rgb @ LUMA_709 >= DARK_SUBJECT)
    if own_clear.any():
        # Cells lit past clear screen's ratio that are the surface (its colour plus the screen's light it
        # reflects), joined to its credited cells: only the key's unmixing can hold them.
        beyond = own_clear & connected_to(own_clear | own_whole, own_whole)
        lit |= beyond & (surface_rgb @ LUMA_709 >= DARK_SUBJECT)
    box3 = np.ones((3, 3), np.uint8)
    marker = cv2.dilate(lit.astype(np.uint8), box3)
    if lit.any() and colour_plate is not None:
        # Its side turned from the key light, lit by the screen: only its silhouette (within 5 cells of
        # clear screen) needs the unmixing; further in the floor holds it, and each marked pixel costs.
        shaded = cv2.dilate(_shaded_side(lit, clear, surface_rgb, colour_plate).astype(np.uint8), box3)
        size = 2 * SHADED_SILHOUETTE_CELLS + 1
        marker |= shaded & cv2.dilate(clear.astype(np.uint8), np.ones((size, size), np.uint8))
    marker = marker.astype(np.float32)
    return floor, np.concatenate([surface_rgb, marker[..., None]], axis=-1).astype(np.float32)


@numba.njit(cache=True)
def _free_cells(rgb, surface, plate, cells, kept):  # noqa: ANN001, ANN202
    h, w = cells.shape
    out = np.zeros((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            if not cells[y, x]:
                continue
            f0, f1, f2 = surface[y, x, 0], surface[y, x, 1], surface[y, x, 2]
            s0, s1, s2 = plate[y, x, 0], plate[y, x, 1], plate[y, x, 2]
            g0, g1, g2 = f0 * s0, f1 * s1, f2 * s2
            a = free_coverage(
                rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2], f0, f1, f2, g0, g1, g2, s0, s1, s2,
                f0 * f0 + f1 * f1 + f2 * f2, g0 * g0 + g1 * g1 + g2 * g2, s0 * s0 + s1 * s1 + s2 * s2,
            )  # fmt: skip
            out[y, x] = a >= kept and kept * a <= 1.0
    return out


def compile_shaded_side() -> None:
    """Compile the shaded-side solve now (a live take's warm-up): it runs only where a lit surface turns
    from the key light beside clear screen, which a made-up frame reaches by chance or not at all, and
    its first real frame then waited for the compiler."""
    cells = np.ones((2, 2), np.bool_)
    grey = np.full((2, 2, 3), 0.5, np.float32)
    _free_cells(grey, grey, grey, cells, np.float32(SUBJECT_KEPT))


def _shaded_side(
    lit: np.ndarray,
    clear: np.ndarray,
    surface_rgb: np.ndarray,
    colour_plate: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """bool (h, w): cells of the surface the key unmixes (``lit``, bool (h, w)) on its side turned
    from the key light, lit there by the screen light it reflects. Its light is t·F + y·F⊙S there
    (t < 1: shading scales F, the seeds' colour measured on the lit side), and the own-light tests,
    which hold F's brightness, read it as a mix. Solved exactly, C = t·F + y·F⊙S + z·S keeps its
    coverage 1 − z within 85%–1/0.85 whatever t (:func:`guangying.keyer.maths.lit_surface_alpha`):
    such cells (F not dark; clear screen's too, within 2 cells of the rest: a rim lit past its
    ratio) joined to ``lit`` through one another are marked too, and the key unmixes their
    silhouette. A mix with the screen keeps 1 − z = α; a shadow on the
    screen, tinted glass or smoke (little light of their own: t < 0.25·(1 − z)) and a gap (z ≈ 1)
    do not pass. ``surface_rgb`` (h, w, 3): F; ``colour_plate``: the small grid's linear colour and
    plate, each (h, w, 3)."""
    # (Clear screen itself solves to 1 − z ≈ 0.)
    near = cv2.dilate((~clear).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    candidates = near & ~lit & (surface_rgb @ LUMA_709 >= DARK_SUBJECT)
    candidates &= connected_to(candidates | lit, lit)  # only the lit surface's own object is solved
    if not candidates.any():
        return candidates
    rgb, plate = (np.ascontiguousarray(x, np.float32) for x in colour_plate)
    solid = _free_cells(rgb, np.ascontiguousarray(surface_rgb, np.float32), plate, candidates,
                        np.float32(SUBJECT_KEPT))  # fmt: skip
    return solid & connected_to(solid | lit, lit)


@numba.njit(cache=True)
def _relit_cells(ratio, rgb, plate, cells, kept, mix_kept, less_lit, tolerance, reach, count, share):  # noqa: ANN001, ANN202, E501
    h, w = cells.shape
    out = np.zeros((h, w), np.bool_)
    tolerance2 = tolerance * tolerance
    for y in range(h):
        for x in range(w):
            if not cells[y, x]:
                continue
            r = ratio[y, x]
            same = 0
            compared = 0
            for v in range(max(y - reach, 0), min(y + reach + 1, h)):
                for u in range(max(x - reach, 0), min(x + reach + 1, w)):
                    # Less lit, mostly surface, and so much less that a mix keeps at most mix_kept of it.
                    if ratio[v, u] >= less_lit or 1.0 - r > mix_kept * (1.0 - ratio[v, u]):
                        continue
                    compared += 1
                    a = unmixed_coverage(
                        rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2], rgb[v, u, 0], rgb[v, u, 1], rgb[v, u, 2],
                        plate[y, x, 0], plate[y, x, 1], plate[y, x, 2], tolerance2,
                    )  # fmt: skip
                    if a >= kept and kept * a <= 1.0:
                        same += 1
            out[y, x] = same >= count and same >= share * compared
    return out


def _relit(
    ratio: np.ndarray,
    colour_plate: tuple[np.ndarray, np.ndarray],
    cells: np.ndarray,
    gaps: Callable[..., np.ndarray] | None,
) -> np.ndarray:
    """bool (h, w): the ``cells`` (bool (h, w)) that are their less lit neighbours with screen light
    added, not a mix of them with the screen (see :func:`screen_lit_floor`). ``colour_plate``: the
    small grid's linear colour and plate, each (h, w, 3); ``gaps`` as there."""
    rgb, plate = (np.ascontiguousarray(x, np.float32) for x in colour_plate)
    relit = _relit_cells(
        np.ascontiguousarray(ratio, np.float32), rgb, plate, cells, np.float32(SUBJECT_KEPT),
        np.float32(RELIT_MIX_KEPT), np.float32(STEP_RATIO), np.float32(UNMIXED_RESIDUAL), RELIT_REACH_CELLS,
        RELIT_COUNT, np.float32(RELIT_SHARE),
    )  # fmt: skip
    if gaps is not None and relit.any():
        relit &= gaps(relit) <= GAPS_MAX
    if not relit.any():
        return relit
    # Over an area, not a cell here and there (smoke whose bounce varies, a strand's glint).
    count, groups = cv2.connectedComponents(cv2.dilate(relit.astype(np.uint8), np.ones((3, 3), np.uint8)))
    sizes = np.bincount(groups[relit], minlength=count)
    return relit & (sizes >= RELIT_CLUSTER)[groups]


@numba.njit(cache=True)
def _same_light(remainder_rgb, cells, near, luma, kept, dark, chroma, rgb, plate, unmixed):  # noqa: ANN001, ANN202
    h, w = cells.shape
    out = np.zeros((h, w), np.bool_)
    use_rgb = rgb.shape[0] == h
    for y in range(h):
        for x in range(w):
            if not cells[y, x]:
                continue
            o0, o1, o2 = near[y, x, 0], near[y, x, 1], near[y, x, 2]
            m0, m1, m2 = remainder_rgb[y, x, 0], remainder_rgb[y, x, 1], remainder_rgb[y, x, 2]
            own_lum = luma[0] * o0 + luma[1] * o1 + luma[2] * o2
            if own_lum < dark:
                continue
            lum = luma[0] * m0 + luma[1] * m1 + luma[2] * m2
            if lum >= kept * own_lum and kept * lum <= own_lum:
                so, sm = max(o0 + o1 + o2, 1e-6), max(m0 + m1 + m2, 1e-6)
                d_red, d_blue = m0 / sm - o0 / so, m2 / sm - o2 / so
                d_green = -(d_red + d_blue)
                if d_red * d_red + d_green * d_green + d_blue * d_blue <= chroma * chroma:
                    out[y, x] = True
                    continue
            if not use_rgb:
                continue
            # C = a·F + b·S by least squares (F: the seeds' colour, S: the plate here); NOT_LIT where
            # the plane leaves more than the residual or the surface has the screen's colour.
            a = unmixed_coverage(
                rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2], near[y, x, 3], near[y, x, 4], near[y, x, 5],
                plate[y, x, 0], plate[y, x, 1], plate[y, x, 2], unmixed * unmixed,
            )  # fmt: skip
            out[y, x] = a >= kept and kept * a <= 1.0
    return out


def _keeps_own_light(
    remainder_rgb: np.ndarray,
    seeds: np.ndarray,
    cells: np.ndarray,
    colour_plate: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(same, surface). ``same``, bool (h, w): the ``cells`` (bool (h, w)) whose own light
    (:func:`spill_floor.subject_remainder`, (h, w, 3)) is that of the nearest ``seeds`` (bool (h, w), at least
    one), averaged over the seeds of the 7×7 around it: within 85%–1/0.85 of its luminance (≥ 0.05)
    and within 0.04 of its chromaticity (r, g, b over their sum) — or, given ``colour_plate``
    (linear colour and plate (h, w, 3)), unmixed into the seeds' colour and the screen's with a
    coverage of 85%–1/0.85 and a residual ≤ 3% of the seeds' colour (see :func:`screen_lit_floor`).
    ``surface``: that colour (the nearest seeds' mean linear colour, (h, w, 3)), None without
    ``colour_plate``."""
    values = remainder_rgb
    rgb = plate = np.zeros((1, 1, 3), np.float32)
    if colour_plate is not None:
        rgb, plate = (np.ascontiguousarray(x, np.float32) for x in colour_plate)
        values = np.concatenate([remainder_rgb, rgb], axis=-1)
    near, _ = nearest_solid(values, seeds, np.zeros(seeds.shape, np.int32))
    same = _same_light(
        np.ascontiguousarray(remainder_rgb, np.float32), cells, near, LUMA_709, np.float32(SUBJECT_KEPT),
        np.float32(DARK_SUBJECT), np.float32(OTHER_CHROMA), rgb, plate, np.float32(UNMIXED_RESIDUAL),
    )
    return same, (near[..., 3:6] if colour_plate is not None else None)


UNMIXED_RESIDUAL = 0.03  # colour left unexplained by a surface plus screen light, over |surface|
OTHER_CHROMA = 0.04  # chromaticity distance (r + g + b = 1) past which a remainder is another material's
OTHER_FLAT = 0.15  # ... and a patch of it is a surface where its ratio varies at most this over 3×3 cells


@numba.njit(cache=True)
def _nearest_mean(summed, weight, labels, seed_ys, seed_xs, objects):  # noqa: ANN001, ANN202
    h, w = labels.shape
    near = np.empty((h, w, summed.shape[2]), np.float32)
    connected = np.empty((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            i = labels[y, x] - 1
            sy, sx = seed_ys[i], seed_xs[i]
            count = max(weight[sy, sx], np.float32(1.0))
            for c in range(summed.shape[2]):
                near[y, x, c] = summed[sy, sx, c] / count
            connected[y, x] = objects[sy, sx] == objects[y, x]
    return near, connected


def nearest_solid(
    values: np.ndarray, solid: np.ndarray, objects: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(near, connected): ``values`` (h, w, c) of the nearest ``solid`` (h, w, bool or uint8 0/1) cell,
    averaged over the solid cells of the 7×7 around it (texture), and bool (h, w): that cell lies in
    the cell's own object (``objects``, int labels (h, w) of regions apart from clear screen).

    Not a smooth fill: between two subjects (a chin over a shirt collar) a fill blends their colours
    into one that is neither's; and a prop standing free in the screen with no solid core of its own
    has no reference at all, however close another subject is."""
    if not solid.any():
        return values, np.zeros(solid.shape, bool)
    box = np.ones((7, 7), np.float32)
    solid_weight = solid.astype(np.float32)
    weight = cv2.filter2D(solid_weight, -1, box, borderType=cv2.BORDER_CONSTANT)
    values = np.asarray(values, np.float32)
    summed = cv2.filter2D(weighted_values(values, solid_weight), -1, box, borderType=cv2.BORDER_CONSTANT)
    _, labels = cv2.distanceTransformWithLabels(
        (solid == 0).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    # DIST_LABEL_PIXEL numbers the zero pixels (the solid cells) in row-major order from 1.
    ys, xs = _cell_indices(solid)
    # One compiled pass: numpy's gathers and broadcasts over the last axis cost more on this grid.
    return _nearest_mean(summed.reshape(values.shape), weight, labels, ys, xs, objects)
