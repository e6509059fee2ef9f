"""Chroma keyer: screen estimate, colour-difference matte, luma-guided edges for subsampled colour,
despill, foreground un-mixing."""

from guangying.keyer.chroma import ChromaKeyer
from guangying.keyer.masks import load_clean_plate, load_mask, mask_from_image, parse_polygon, polygon_mask
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
    estimate_subject,
    small_linear,
)
from guangying.keyer.settings import KeyerSettings

__all__ = [
    "ChromaKeyer",
    "KeyerSettings",
    "apply_masks",
    "chroma_subsampled",
    "clip_matte",
    "colour_difference",
    "colour_difference_alpha",
    "despill",
    "despot_matte",
    "detect_screen",
    "estimate_screen_colour",
    "estimate_screen_plate",
    "estimate_subject",
    "grow_matte",
    "load_clean_plate",
    "load_mask",
    "mask_from_image",
    "parse_polygon",
    "polygon_mask",
    "project_alpha",
    "screen_channels",
    "small_linear",
    "soften_matte",
    "unmix_foreground",
]
