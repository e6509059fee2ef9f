"""Choose the matte engine for a job: chroma keyer, neural matting (RVM), fast segmentation, hybrid."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from guangying.base.errors import SettingsError
from guangying.base.mattes import Matter
from guangying.keyer import ChromaKeyer, KeyerSettings, load_clean_plate, load_mask
from guangying.media import open_reader

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


def keyer_settings_for(
    source: str | Path,
    start: int | None = None,
    end: int | None = None,
    garbage_mask: str | Path | None = None,
    core_mask: str | Path | None = None,
    clean_plate: str | Path | None = None,
    **settings: Any,
) -> KeyerSettings:
    """:class:`KeyerSettings` for the footage ``source``, with its masks and clean plate read from
    files (or ``"x,y;x,y;…"`` polygons in pixels for the masks) at the footage's size. ``start`` /
    ``end`` name the frames the job reads (a sequence with a gap outside them must still open).

    ``settings`` are the other keyer fields (``screen_gain=1.1`` …), checked by KeyerSettings.
    """
    extra: dict[str, Any] = {}
    if garbage_mask or core_mask or clean_plate:
        with open_reader(source, start=start, end=end) as reader:
            shape = (reader.info.height, reader.info.width)
        if garbage_mask:
            extra["garbage_mask"] = load_mask(garbage_mask, shape)
        if core_mask:
            extra["core_mask"] = load_mask(core_mask, shape)
        if clean_plate:
            extra["clean_plate"] = load_clean_plate(clean_plate, shape)
    return KeyerSettings(**settings, **extra)
