"""Compositing in linear light: premultiplied over, light wrap, level matching, lens defocus.

- :func:`over_linear` / :func:`over_srgb`: premultiplied "over" of a straight foreground and alpha
  (float32 (H, W) 0–1) on a background, in linear light.
- :func:`light_wrap_terms`, :func:`blur_background_linear`, :func:`match_levels_linear`.
- :func:`defocus_rgb_linear`, :func:`defocus_layer_linear`: disc (bokeh) blur by a circle of
  confusion in pixels (:func:`guangying.lens.optics.coc_diameter_px`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use, so importing one module of the package does not import all the others.
_EXPORTS = {
    "premultiply": "guangying.composite.over",
    "over_linear": "guangying.composite.over",
    "over_srgb": "guangying.composite.over",
    "light_wrap_terms": "guangying.composite.over",
    "blur_background_linear": "guangying.composite.over",
    "match_levels_linear": "guangying.composite.over",
    "disc_kernel": "guangying.composite.defocus",
    "defocus_rgb_linear": "guangying.composite.defocus",
    "defocus_layer_linear": "guangying.composite.defocus",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.composite.defocus import defocus_layer_linear, defocus_rgb_linear, disc_kernel
    from guangying.composite.over import (
        blur_background_linear,
        light_wrap_terms,
        match_levels_linear,
        over_linear,
        over_srgb,
        premultiply,
    )
