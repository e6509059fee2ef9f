"""The single place media imports OpenCV, so the EXR codec is switched on before cv2 first loads."""

from __future__ import annotations

import os

# OpenCV reads this only when the module is first imported; later changes have no effect.
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import cv2  # noqa: E402

# OpenCV prints its decoders' refusals ("[ERROR:0@1.4] … imread_ … can't read header") on stderr, also
# where another reader then decodes the file: every refusal is said by us, in our words.
if "OPENCV_LOG_LEVEL" not in os.environ:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def exr_codec_off_note(exc: cv2.error) -> str | None:
    """What to say when ``exc`` is OpenCV refusing an EXR because the user's own
    ``OPENCV_IO_ENABLE_OPENEXR=0`` kept its codec off (docs/python.md), else None."""
    if "OpenEXR codec is disabled" not in str(exc):
        return None
    return (f"OPENCV_IO_ENABLE_OPENEXR is {os.environ.get('OPENCV_IO_ENABLE_OPENEXR')!r} in this process, "
            "which keeps OpenCV's EXR codec off: unset it (or set it to 1) before importing guangying")


__all__ = ["cv2", "exr_codec_off_note"]
