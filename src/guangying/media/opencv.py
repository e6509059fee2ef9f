"""The single place media imports OpenCV, so the EXR codec is switched on before cv2 first loads."""

from __future__ import annotations

import os

# OpenCV reads this only when the module is first imported; later changes have no effect.
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import cv2  # noqa: E402

__all__ = ["cv2"]
