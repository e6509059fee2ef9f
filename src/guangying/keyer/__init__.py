"""Chroma keyer: screen estimate, colour-difference matte, luma-guided edges for subsampled colour,
despill, foreground un-mixing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use: the settings (all the CLI needs to build its flags) come without Numba.
_EXPORTS = {
    "ChromaKeyer": "guangying.keyer.chroma",
    "load_clean_plate": "guangying.keyer.masks",
    "load_mask": "guangying.keyer.masks",
    "mask_from_image": "guangying.keyer.masks",
    "parse_polygon": "guangying.keyer.masks",
    "polygon_mask": "guangying.keyer.masks",
    "clip_matte": "guangying.keyer.maths",
    "colour_difference": "guangying.keyer.maths",
    "colour_difference_alpha": "guangying.keyer.maths",
    "despill": "guangying.keyer.maths",
    "project_alpha": "guangying.keyer.maths",
    "screen_channels": "guangying.keyer.maths",
    "unmix_foreground": "guangying.keyer.maths",
    "apply_masks": "guangying.keyer.matte_ops",
    "despot_matte": "guangying.keyer.matte_ops",
    "grow_matte": "guangying.keyer.matte_ops",
    "soften_matte": "guangying.keyer.matte_ops",
    "chroma_subsampled": "guangying.keyer.refine",
    "detect_screen": "guangying.keyer.screen",
    "estimate_screen_colour": "guangying.keyer.screen",
    "estimate_screen_plate": "guangying.keyer.screen",
    "estimate_subject": "guangying.keyer.spill_floor",
    "small_linear": "guangying.keyer.screen",
    "KeyerSettings": "guangying.keyer.settings",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.keyer.chroma import ChromaKeyer
    from guangying.keyer.masks import (
        load_clean_plate,
        load_mask,
        mask_from_image,
        parse_polygon,
        polygon_mask,
    )
    from guangying.keyer.maths import (
        clip_matte,
        colour_difference,
        colour_difference_alpha,
        despill,
        project_alpha,
        screen_channels,
        unmix_foreground,
    )
    from guangying.keyer.matte_ops import apply_masks, despot_matte, grow_matte, soften_matte
    from guangying.keyer.refine import chroma_subsampled
    from guangying.keyer.screen import (
        detect_screen,
        estimate_screen_colour,
        estimate_screen_plate,
        small_linear,
    )
    from guangying.keyer.settings import KeyerSettings
    from guangying.keyer.spill_floor import estimate_subject
