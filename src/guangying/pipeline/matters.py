"""Choose the matte engine for a job: chroma keyer, neural matting (RVM), fast segmentation, hybrid."""

from __future__ import annotations

from typing import Literal

from guangying.base.errors import SettingsError
from guangying.base.mattes import Matter
from guangying.keyer import ChromaKeyer, KeyerSettings

MatteMode = Literal["chroma", "ai", "fast", "hybrid"]
MATTE_MODES: tuple[str, ...] = ("chroma", "ai", "fast", "hybrid")


def make_matter(
    mode: MatteMode,
    keyer_settings: KeyerSettings | None = None,
    preset: Literal["portrait", "full_body"] = "portrait",
    downsample_ratio: float | None = None,
) -> Matter:
    """Build the engine for ``mode``. Neural modes need `guangying models install` to have run."""
    if mode == "chroma":
        return ChromaKeyer(keyer_settings or KeyerSettings())
    # Imported here so the keyer path works without the neural-network runtime being touched.
    from guangying.matting import FastSegmentMatter, HybridMatter, RvmMatter

    if mode == "ai":
        return RvmMatter(downsample_ratio=downsample_ratio, preset=preset)
    if mode == "fast":
        return FastSegmentMatter()
    if mode == "hybrid":
        return HybridMatter(
            ChromaKeyer(keyer_settings or KeyerSettings()),
            RvmMatter(downsample_ratio=downsample_ratio, preset=preset),
        )
    raise SettingsError(f"unknown matte mode '{mode}': choose one of {', '.join(MATTE_MODES)}")
