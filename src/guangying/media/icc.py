"""Pictures that carry an ICC profile other than sRGB → sRGB, through littleCMS (Pillow's ImageCms).

A phone photo (Display P3: every iPhone JPEG/HEIC since 2016), a print-ready Adobe RGB still or a
ProPhoto export holds code values of its own primaries; read as sRGB its colours come out duller or
shifted, in a virtual set's backdrop as much as in a plate. OpenCV ignores profiles, so 8-bit pictures
are converted here (relative colorimetric: colours inside sRGB keep their values, those outside clip,
as colour-managed apps show them). Pillow holds 16-bit colour in no RGB mode ImageCms can convert, so
16-bit pictures with a profile are read as they are, with a warning.
"""

from __future__ import annotations

import io
import warnings
from functools import cache

import numpy as np
from PIL import Image, ImageCms


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
