"""A straightforward numpy version of the whole key, step by step, on full-size arrays.

It is the yardstick: tests hold the fused numba pass to it, and the speed benchmark times it as the
baseline. Same maths and order as :class:`guangying.keyer.ChromaKeyer`.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer.maths import (
    colour_difference_key,
    despill,
    lit_surface_alpha,
    project_alpha,
    unmix_foreground,
)
from guangying.keyer.matte_ops import apply_masks, despot_matte, grow_matte, masks_union, soften_matte
from guangying.keyer.refine import colour_subsampling, edge_cells, opaque_key, refine_edges_reference
from guangying.keyer.settings import KeyerSettings
from guangying.keyer.strand_colour import (
    SECOND_LIMIT,
    SECOND_MIN_HUE,
    SECOND_REFERENCE,
    SECOND_WEIGHT,
    strand_colour_reference,
    strand_rescue_reference,
)


def floor_at_full_size(spill_floor: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The spill floor (h, w) of :meth:`guangying.keyer.ChromaKeyer.screen_model` at the frame's
    (height, width), interpolated bilinearly as the fused kernel interpolates its key fields: those
    are linear in 1/(1 − floor), so across a step in the floor a bilinear floor would differ."""
    weight = 1.0 / (1.0 - np.asarray(spill_floor, np.float32))
    full = cv2.resize(weight, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return (1.0 - 1.0 / full).astype(np.float32)


def key_reference(
    rgb_srgb: np.ndarray,
    screen_plate_linear: np.ndarray,
    screen: str,
    settings: KeyerSettings,
    background_srgb: np.ndarray | None = None,
    spill_floor: np.ndarray | float = 0.0,
    subject_rgb_linear: np.ndarray | None = None,
    black_clip: np.ndarray | float | None = None,
    linear_luma: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Key an sRGB frame against a full-size linear screen plate (or a (3,) colour), spill floor,
    subject colour + near-screen channel + lit surface (colour, marker, bound) and black clip (see
    :meth:`guangying.keyer.ChromaKeyer.screen_model`, upsampled; without a subject colour there is no
    projection, without a black clip field ``settings.clip_black`` applies everywhere).
    ``linear_luma``: with ``luma_refine="on"``, whether the edge refinement fits the linear-light
    luma (a clip's finding, see :attr:`guangying.keyer.ChromaKeyer.luma_refine_linear`); None, and
    "auto" always, detect it from this frame.

    Returns (alpha float32 (H, W), straight foreground float32 (H, W, 3) sRGB-encoded,
    0 on clear screen).
    """
    rgb_linear = srgb_to_linear(rgb_srgb)
    raw = colour_difference_key(
        rgb_linear, screen_plate_linear, screen, settings.screen_gain, settings.screen_balance, spill_floor
    )
    black = settings.clip_black if black_clip is None else black_clip
    # Clear screen: the clipped key under −clip_black/2/(cw − cb) (raw α under clip_black/2 at the full clip).
    clear_below = -0.5 * settings.clip_black / (settings.clip_white - settings.clip_black)
    if subject_rgb_linear is not None:
        lit, bounded = subject_rgb_linear[..., 7], subject_rgb_linear[..., 8]
        # A fringe's strand the key reads as clear screen is not unmixed (kernels: the lit pass).
        read_clear = (raw - black) / (settings.clip_white - black) <= clear_below
        lit = np.where((bounded > 0.5) & read_clear, 0.0, lit)
        surface = subject_rgb_linear[..., 4:7]
        raw = lit_surface_alpha(rgb_linear, screen_plate_linear, surface, raw, lit, bounded)
    final = raw
    if settings.project_subject_colour and subject_rgb_linear is not None:
        seen = raw > black
        projected = project_alpha(
            rgb_linear, screen_plate_linear, subject_rgb_linear[..., :3], raw, subject_rgb_linear[..., 3]
        )
        final = np.where(seen, projected, raw)
    # The clipped key, unclamped: α = clamp(key).
    key = ((final - black) / (settings.clip_white - black)).astype(np.float32)
    refine = settings.luma_refine in ("on", "stored", "mosaic")
    linear = settings.luma_refine == "mosaic" or (settings.luma_refine == "on" and bool(linear_luma))
    if settings.luma_refine == "auto" or (settings.luma_refine == "on" and linear_luma is None):
        kind = colour_subsampling(rgb_srgb)
        refine, linear = refine or bool(kind), kind == "mosaic"
    if refine:
        alpha = refine_edges_reference(
            rgb_srgb, key, settings.luma_refine_eps, opaque_key(settings.clip_black, settings.clip_white),
            linear=linear,
        )  # fmt: skip
    else:
        alpha = np.clip(key, 0.0, 1.0)
    auto = settings.strand_colour == "auto" and refine and not settings.colour_fit
    if settings.strand_colour == "on" or auto:
        # The strands' colour found with the key's α (before the luma fit).
        plate = np.asarray(screen_plate_linear, np.float32)
        plate = plate.reshape(1, 1, 3) if plate.ndim == 1 else plate
        alpha = strand_colour_reference(rgb_srgb, alpha, plate, np.clip(key, 0.0, 1.0))
        # Then the strands the key left clear; the masks' pixels are not rescued (kernels: key_patch).
        keep = masks_union(settings.garbage_mask, settings.core_mask)
        alpha = strand_rescue_reference(
            rgb_srgb, alpha, plate, screen, settings.screen_balance, np.clip(key, 0.0, 1.0), keep
        )
        # The second look, from the final α with the masks; their pixels keep theirs (kernels:
        # key_colour_patch).
        seen = apply_masks(alpha, settings.garbage_mask, settings.core_mask)
        second = strand_colour_reference(
            rgb_srgb, alpha, plate, seen, reference=SECOND_REFERENCE, limit=SECOND_LIMIT,
            weight=SECOND_WEIGHT, min_hue=SECOND_MIN_HUE,
        )  # fmt: skip
        alpha = np.where(keep > 0, alpha, second) if keep is not None else second
    # Specks go first so growing cannot enlarge them; softness last so it blurs the final shape.
    keyed = despot_matte(alpha, settings.despot_px)
    alpha = soften_matte(grow_matte(keyed, settings.grow_px), settings.softness_px)
    alpha = apply_masks(alpha, settings.garbage_mask, settings.core_mask)
    if settings.unmix:
        unmixed_by = alpha
        if settings.grow_px != 0 or settings.softness_px > 0:
            # where the key saw the subject, un-mixed with the key's own α (ChromaKeyer.process)
            keyed = apply_masks(keyed, settings.garbage_mask, settings.core_mask)
            unmixed_by = np.where((keyed > 0) & (alpha > 0), keyed, alpha)
        fg = unmix_foreground(rgb_linear, unmixed_by, screen_plate_linear)
    else:
        fg = rgb_linear
    background_linear = None if background_srgb is None else srgb_to_linear(background_srgb)
    fg = despill(
        fg,
        screen,
        settings.despill_method,
        settings.despill_bias,
        settings.spill_replace,
        screen_plate_linear,
        background_linear,
        None if subject_rgb_linear is None else subject_rgb_linear[..., :3],
    )
    spatial = settings.grow_px != 0 or settings.softness_px > 0 or settings.despot_px > 0
    # Without a spatial operation: also the key under the one of raw α = clip_black/2 at the full clip.
    clear_screen = (alpha <= 0) if spatial else (alpha <= 0) & (key < clear_below)
    if refine and not spatial:
        # The refined edge band keeps its unmixed colour where its α came out 0 (kernels.key_pass).
        h, w = key.shape
        clear_screen &= ~np.repeat(np.repeat(edge_cells(key), 2, 0), 2, 1)[:h, :w]
    fg[clear_screen] = 0.0  # no colour to recover where the screen is clear
    return alpha, linear_to_srgb(fg)
