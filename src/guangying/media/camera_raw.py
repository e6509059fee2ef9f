"""Camera raw footage: what can be read here, and what to do with the rest.

Raw stills and CinemaDNG frames (``.dng``, ``.cr2``, ``.nef``, ``.arw`` …) are developed by LibRaw
(rawpy) to scene-linear BT.709: the camera's as-shot white balance and colour matrix, no tone curve,
the sensor's clipping point at 1.0 — what a raw developer gives before any look is applied.

The cinema raw codecs (Blackmagic RAW, REDCODE, ARRIRAW, Canon Cinema RAW Light, Nikon N-RAW) are
decoded only by their makers' SDKs, which no package here ships; :func:`unreadable_raw_note` says how to
get a file that opens everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from guangying.base.errors import DamagedMediaError

RAW_PICTURE_EXTENSIONS = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf",
                          ".rw2", ".orf", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".x3f"}
_CINEMA_RAW = {
    ".braw": ("Blackmagic RAW", "DaVinci Resolve or Blackmagic RAW Player"),
    ".r3d": ("REDCODE RAW", "DaVinci Resolve or RED's REDCINE-X PRO"),
    ".ari": ("ARRIRAW", "DaVinci Resolve or ARRI Reference Tool"),
    ".arx": ("ARRIRAW (HDE)", "DaVinci Resolve or ARRI Reference Tool"),
    ".crm": ("Canon Cinema RAW Light", "DaVinci Resolve or Canon's Cinema RAW Development"),
    ".nev": ("Nikon N-RAW", "DaVinci Resolve or Nikon's NX Studio"),
}


def unreadable_raw_note(path: Path) -> str | None:
    """What to do with a cinema raw clip (by its extension), or None for any other file."""
    found = _CINEMA_RAW.get(path.suffix.lower())
    if found is None:
        return None
    codec, software = found
    return (f"{path} is {codec}, which only its maker's software decodes. Export the takes from "
            f"{software} as ProRes 4444 (or DNxHR 444) or as a 16-bit EXR or DPX sequence, then give that")


def develop_raw(path: Path, damaged: str) -> np.ndarray:
    """``path`` developed by LibRaw: RGB, uint16 (H, W, 3), scene-linear BT.709, as the camera
    turned it. ``damaged`` is the message of the :class:`DamagedMediaError` raised when LibRaw cannot."""
    import rawpy  # late: LibRaw only once a raw picture is read

    cut_short = _strips_cut_short(path)
    if cut_short:
        raise DamagedMediaError(f"{damaged} ({cut_short})")
    try:
        with rawpy.imread(str(path)) as raw:
            return raw.postprocess(gamma=(1, 1), no_auto_bright=True, use_camera_wb=True, output_bps=16,
                                   output_color=rawpy.ColorSpace.sRGB)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise DamagedMediaError(f"{damaged} ({exc})") from exc


def _strips_cut_short(path: Path) -> str | None:
    """How a DNG's image data runs past the end of the file (a copy interrupted, a recorder that lost
    power), or None. LibRaw says only "Input/output error" of such a file."""
    if path.suffix.lower() != ".dng":
        return None
    import tifffile

    size = path.stat().st_size
    try:
        with tifffile.TiffFile(path) as tiff:
            pages = list(tiff.pages) + [sub for page in tiff.pages for sub in (page.pages or [])]
            ends = [offset + count for page in pages
                    for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False)]
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        return None  # LibRaw reports what it cannot parse
    end = max(ends, default=0)
    return f"it is cut short: {size} of {end} bytes" if end > size else None
