"""Neural matting: Robust Video Matting engine, fast person segmentation, hybrid mode.

- :class:`RvmMatter`: RVM with recurrent state, cut detection, automatic downsample ratio and our
  own fast full-resolution refinement (the film-quality "ai" matte).
- :class:`FastSegmentMatter`: selfie / meet person segmentation, guided upsampling (preview "fast").
- :class:`HybridMatter`: chroma key inside the screen area, person matte elsewhere ("hybrid").

All follow :class:`guangying.base.mattes.Matter`: ``process(rgb, background_rgb=None) -> MatteResult``
and ``reset()``; frames are float32 (H, W, 3) sRGB 0–1.
"""

from guangying.matting.hybrid import HybridMatter, combine_hybrid, estimate_screen_area
from guangying.matting.rvm import RvmMatter, choose_downsample_ratio
from guangying.matting.segment import FastSegmentMatter

__all__ = [
    "FastSegmentMatter",
    "HybridMatter",
    "RvmMatter",
    "choose_downsample_ratio",
    "combine_hybrid",
    "estimate_screen_area",
]
