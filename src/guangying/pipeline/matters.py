"""Choose the matte engine for a job: chroma keyer, neural matting (RVM), fast segmentation, hybrid."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from guangying.base.checks import check_instance
from guangying.base.errors import SettingsError
from guangying.base.mattes import Matter, MatteResult
from guangying.keyer import ChromaKeyer, KeyerSettings, load_clean_plate, load_mask
from guangying.media import open_reader

MatteMode = Literal["chroma", "ai", "fast", "hybrid"]
MATTE_MODES: tuple[str, ...] = ("chroma", "ai", "fast", "hybrid")
KEYER_MATTES: tuple[str, ...] = ("chroma", "hybrid")  # the modes that take KeyerSettings


def keyer_of(matter: Matter) -> ChromaKeyer | None:
    """The chroma keyer of ``matter``: itself, a hybrid matte's, or None (a neural matte)."""
    keyer = matter if isinstance(matter, ChromaKeyer) else getattr(matter, "keyer", None)
    return keyer if isinstance(keyer, ChromaKeyer) else None


@overload
def make_matter(
    mode: Literal["chroma"],
    keyer_settings: KeyerSettings | None = None,
    preset: Literal["portrait", "full_body"] = "portrait",
    downsample_ratio: float | None = None,
    int8: bool = False,
) -> ChromaKeyer: ...


@overload
def make_matter(
    mode: MatteMode,
    keyer_settings: KeyerSettings | None = None,
    preset: Literal["portrait", "full_body"] = "portrait",
    downsample_ratio: float | None = None,
    int8: bool = False,
) -> Matter: ...


def make_matter(
    mode: MatteMode,
    keyer_settings: KeyerSettings | None = None,
    preset: Literal["portrait", "full_body"] = "portrait",
    downsample_ratio: float | None = None,
    int8: bool = False,
) -> Matter:
    """Build the matte engine for ``mode``; it keeps per-clip state, so make one per clip.

    Parameters
    ----------
    mode : {"chroma", "ai", "fast", "hybrid"}
        ``chroma``: the green/blue-screen keyer. ``ai``: Robust Video Matting, no screen needed.
        ``fast``: person segmentation (preview). ``hybrid``: keyer inside the screen, person matte
        outside it. The neural modes need ``guangying models install`` to have run.
    keyer_settings : KeyerSettings, optional
        For ``chroma`` and ``hybrid``.
    preset : {"portrait", "full_body"}
        Neural matting: framing, which sets its internal resolution.
    downsample_ratio : float, optional
        Neural matting: override that resolution, (0, 1].
    int8 : bool
        Neural modes use RVM's int8 decoder (faster on CPUs, see ``RvmMatter``).

    Returns
    -------
    Matter
        ``process(rgb_srgb float32 (H, W, 3), background_rgb=None) -> MatteResult`` and ``reset()``.

    Examples
    --------
    >>> matter = make_matter("chroma", KeyerSettings(screen="blue"))
    >>> type(matter).__name__
    'ChromaKeyer'
    """
    if keyer_settings is not None:
        check_instance(keyer_settings, KeyerSettings, "keyer_settings")
    if mode == "chroma":
        return ChromaKeyer(keyer_settings or KeyerSettings())
    # Imported here so the keyer path works without the neural-network runtime being touched.
    from guangying.matting import FastSegmentMatter, HybridMatter, RvmMatter

    if mode == "ai":
        return RvmMatter(downsample_ratio=downsample_ratio, preset=preset, int8=int8)
    if mode == "fast":
        return FastSegmentMatter()
    if mode == "hybrid":
        return HybridMatter(
            ChromaKeyer(keyer_settings or KeyerSettings()),
            RvmMatter(downsample_ratio=downsample_ratio, preset=preset, int8=int8),
        )
    raise SettingsError(f"unknown matte mode '{mode}': choose one of {', '.join(MATTE_MODES)}")


def key_frame(
    rgb_srgb: np.ndarray,
    mode: MatteMode = "chroma",
    keyer_settings: KeyerSettings | None = None,
    background_rgb_srgb: np.ndarray | None = None,
) -> MatteResult:
    """Pull a matte from one picture with a fresh engine of ``mode`` (see :func:`make_matter`).

    Parameters
    ----------
    rgb_srgb : ndarray, float32 (H, W, 3)
        The picture, sRGB-encoded 0–1 (the neural modes take at least 16×16 pixels).
    mode : {"chroma", "ai", "fast", "hybrid"}
        Chroma keyer, neural matting, fast segmentation, or keyer inside the screen with a person
        matte outside it. The neural modes need ``guangying models install``.
    keyer_settings : KeyerSettings, optional
        For ``chroma`` and ``hybrid``.
    background_rgb_srgb : ndarray, optional
        The set it will go over (float32 (H, W, 3) sRGB): the keyer's despill takes its light.

    Returns
    -------
    MatteResult
        ``alpha`` float32 (H, W) 0–1 and straight, un-mixed ``foreground_rgb`` float32 (H, W, 3),
        sRGB-encoded 0–1.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage import data
    >>> face = data.astronaut()[:160:2, 120:280:2].astype(np.float32) / 255   # (80, 80, 3) sRGB
    >>> plate = np.empty((120, 160, 3), np.float32); plate[:] = (0.15, 0.65, 0.25)
    >>> plate[20:100, 40:120] = face
    >>> matte = key_frame(plate, keyer_settings=KeyerSettings(screen="green"))
    >>> matte.alpha.shape, matte.alpha.dtype
    ((120, 160), dtype('float32'))
    >>> float(matte.alpha[5, 5]), float(matte.alpha[60, 80])
    (0.0, 1.0)
    """
    matter = make_matter(mode, keyer_settings=keyer_settings)
    return matter.process(np.asarray(rgb_srgb), background_rgb=background_rgb_srgb)


def keyer_settings_for(
    source: str | Path,
    start: int | None = None,
    end: int | None = None,
    garbage_mask: str | Path | None = None,
    core_mask: str | Path | None = None,
    clean_plate: str | Path | None = None,
    despill_mask: str | Path | None = None,
    camera_log: str | None = "auto",
    **settings: Any,
) -> KeyerSettings:
    """:class:`KeyerSettings` for the footage ``source``, with its masks and clean plate read from
    files (or ``"x,y;x,y;…"`` polygons in pixels for the masks) at the footage's size. ``start`` /
    ``end`` name the frames the job reads (a sequence with a gap outside them must still open).

    ``settings`` are the other keyer fields (``screen_gain=1.1`` …), checked by KeyerSettings. The
    clean plate is read in the footage's camera log, the one ``camera_log`` names or the one found in
    the footage's metadata (a frame exported from a Sony clip carries none of its own).
    """
    extra: dict[str, Any] = {}
    if garbage_mask or core_mask or clean_plate or despill_mask:
        with open_reader(source, start=start, end=end, camera_log=camera_log) as reader:
            shape = (reader.info.height, reader.info.width)
            pixel_aspect = float(reader.info.pixel_aspect)
            footage_log = reader.info.camera_log or "none"
        if garbage_mask:
            extra["garbage_mask"] = load_mask(garbage_mask, shape, pixel_aspect)
        if core_mask:
            extra["core_mask"] = load_mask(core_mask, shape, pixel_aspect)
        if despill_mask:
            extra["despill_mask"] = load_mask(despill_mask, shape, pixel_aspect)
        if clean_plate:
            extra["clean_plate"] = load_clean_plate(clean_plate, shape, footage_log)
    return KeyerSettings(**settings, **extra)
