"""Pictures that carry an ICC profile other than sRGB → sRGB, through littleCMS (Pillow's ImageCms).

A phone photo (Display P3: every iPhone JPEG/HEIC since 2016), a print-ready Adobe RGB still or a
ProPhoto export holds code values of its own primaries; read as sRGB its colours come out duller or
shifted, in a virtual set's backdrop as much as in a plate. OpenCV ignores profiles, so 8-bit pictures
are converted here (relative colorimetric: colours inside sRGB keep their values, those outside clip,
as colour-managed apps show them). Pillow holds 16-bit colour in no RGB mode ImageCms can convert, so
16-bit pictures (a Photoshop or Lightroom export in Adobe RGB, P3, ProPhoto) are converted here from the
profile's own tags when it is a matrix/TRC profile, as those working spaces are: curves, then the
colorant matrix into D50 XYZ and the sRGB profile's out of it, which is littleCMS's own path for two
matrix/TRC profiles. Other 16-bit profiles (LUT-based) are read as they are, with a warning.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from functools import cache

import numpy as np
from PIL import Image, ImageCms

from guangying.base.colour import linear_to_srgb


@cache
def _transform_to_srgb(profile: bytes) -> tuple[str, ImageCms.ImageCmsTransform | None]:
    """(profile name, transform to sRGB), transform None for an sRGB profile or one littleCMS cannot
    use (read as sRGB)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        name = ImageCms.getProfileDescription(source).strip() or "unnamed profile"
    except (ImageCms.PyCMSError, OSError, ValueError):
        return "unreadable profile", None
    if "srgb" in name.lower().replace(" ", "") or "61966-2" in name:
        return name, None
    try:
        transform = ImageCms.buildTransform(
            source, ImageCms.createProfile("sRGB"), "RGB", "RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        )
    except ImageCms.PyCMSError:
        return name, None
    return name, transform


_WARNED_16_BIT: set[str] = set()


def bgr_to_srgb(pixels: np.ndarray, profile: bytes, what: str) -> np.ndarray:
    """OpenCV's BGR(A) code values (H, W, 3|4), uint8 or uint16, in ``profile``'s colour space → sRGB,
    alpha untouched; the input itself for sRGB, unusable profiles and 16-bit samples (with a warning)."""
    name, transform = _transform_to_srgb(profile)
    if transform is None:
        return pixels
    if pixels.dtype == np.uint16 and (to_srgb := _matrix_shaper_to_srgb(profile)) is not None:
        return to_srgb(pixels)
    if pixels.dtype != np.uint8:
        if name not in _WARNED_16_BIT:  # once per profile, not once per frame of a sequence
            _WARNED_16_BIT.add(name)
            warnings.warn(
                f"{what} carries the colour profile {name!r}, which is applied to 8-bit pictures only: "
                "its colours are read as sRGB. Convert it to sRGB when exporting for correct colour",
                stacklevel=3,
            )
        return pixels
    rgb = Image.fromarray(np.ascontiguousarray(pixels[..., 2::-1]), "RGB")
    converted = ImageCms.applyTransform(rgb, transform)
    assert converted is not None  # applyTransform returns None only in place
    out = pixels.copy()
    out[..., 2::-1] = np.asarray(converted)
    return out


_TAGS = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")


@cache
def _matrix_shaper_to_srgb(profile: bytes) -> Callable[[np.ndarray], np.ndarray] | None:
    """16-bit BGR(A) code values in a matrix/TRC ``profile`` → 16-bit sRGB, relative colorimetric
    (colours outside sRGB clip); None for a profile of another kind or one that does not parse."""
    try:
        tags = _tag_table(profile)
        colorants = np.array([_xyz(profile, tags[sig]) for sig in _TAGS[:3]]).T  # columns r, g, b
        curves = [_curve(profile, tags[sig]) for sig in _TAGS[3:]]
    except (KeyError, ValueError, struct.error):
        return None
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).profile  # littleCMS's own sRGB
    srgb_colorants = [srgb.red_colorant, srgb.green_colorant, srgb.blue_colorant]
    to_srgb = np.array([colorant[0] for colorant in srgb_colorants if colorant is not None]).T
    matrix = (np.linalg.inv(to_srgb) @ colorants).astype(np.float32)  # the sRGB colorants invert
    codes = np.arange(65536, dtype=np.float64) / 65535
    with np.errstate(all="ignore"):
        luts = [np.clip(curve(codes), 0.0, None).astype(np.float32) for curve in curves]  # one per r, g, b
    if not (np.isfinite(matrix).all() and all(np.isfinite(lut).all() for lut in luts)):
        return None  # a broken profile (a negative gamma, singular colorants): read as sRGB, said

    def convert(pixels: np.ndarray) -> np.ndarray:
        linear = np.stack([luts[c][pixels[..., 2 - c]] for c in range(3)], axis=-1)  # RGB from BGR
        rgb_linear = np.clip(linear @ matrix.T, 0.0, 1.0)
        out = pixels.copy()
        out[..., 2::-1] = np.round(linear_to_srgb(rgb_linear) * 65535).astype(np.uint16)
        return out

    return convert


def _tag_table(profile: bytes) -> dict[bytes, tuple[int, int]]:
    if profile[16:20] != b"RGB " or profile[36:40] != b"acsp":
        raise ValueError("not an RGB ICC profile")
    (count,) = struct.unpack_from(">I", profile, 128)
    table = {}
    for n in range(count):
        signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * n)
        table[signature] = (offset, size)
    if b"A2B0" in table or not all(sig in table for sig in _TAGS):  # a LUT profile's tables win
        raise ValueError("not a matrix/TRC profile")
    return table


def _s15(profile: bytes, at: int, count: int) -> list[float]:
    return [v / 65536 for v in struct.unpack_from(f">{count}i", profile, at)]


def _xyz(profile: bytes, tag: tuple[int, int]) -> list[float]:
    if profile[tag[0]: tag[0] + 4] != b"XYZ ":
        raise ValueError("colorant is not an XYZ tag")
    return _s15(profile, tag[0] + 8, 3)


def _curve(profile: bytes, tag: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    """An ICC 'curv' (identity, gamma or table) or 'para' (functions 0–4) tag as a function of 0–1."""
    at = tag[0]
    kind = profile[at: at + 4]
    if kind == b"curv":
        (count,) = struct.unpack_from(">I", profile, at + 8)
        if count == 0:
            return lambda x: x
        if count == 1:
            gamma = struct.unpack_from(">H", profile, at + 12)[0] / 256
            return lambda x: x**gamma
        table = np.array(struct.unpack_from(f">{count}H", profile, at + 12), np.float64) / 65535
        grid = np.linspace(0.0, 1.0, count)
        return lambda x: np.interp(x, grid, table)
    if kind != b"para":
        raise ValueError("unknown curve type")
    (function,) = struct.unpack_from(">H", profile, at + 8)
    counts = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
    if function not in counts:
        raise ValueError("unknown parametric curve")
    g, a, b, c, d, e, f = [*_s15(profile, at + 12, counts[function]), 0, 0, 0, 0, 0, 0][:7]
    if function == 0:
        return lambda x: x**g
    if function in (1, 2):  # below −b/a: 0 (1) or c (2)
        offset = c if function == 2 else 0.0
        return lambda x: np.where(a * x + b >= 0, np.maximum(a * x + b, 0) ** g + offset, offset)
    if function == 3:
        return lambda x: np.where(x >= d, np.maximum(a * x + b, 0) ** g, c * x)
    return lambda x: np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f)
