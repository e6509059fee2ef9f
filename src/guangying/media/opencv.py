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

__all__ = ["cv2"]
