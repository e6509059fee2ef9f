"""Footage in and out: video files, image sequences and single images (PyAV / OpenCV).

Frames come out as :class:`Frame` with ``rgb`` float32 (H, W, 3) 0–1 in the transfer named by
``frame.transfer`` (``"srgb"`` for video and 8/16-bit pictures, ``"linear"`` for EXR and for HDR or
wide-gamut video, converted to BT.709: :mod:`guangying.media.colour_tags`) and ``alpha`` float32 (H, W)
0–1 or None; writers take the same and commit atomically when the ``with`` ends. The keyer and the
compositor take pictures sRGB-coded in 0–1: :func:`display_srgb` gives a frame as they take it (light
above 1 rolled off, hue kept: :mod:`guangying.media.highlights`), and :func:`scene_linear_foreground` puts
a keyed foreground back into the frame's own linear light for float outputs.

>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> from skimage import data
>>> rgb = data.astronaut()[::8, ::8].astype(np.float32) / 255          # (64, 64, 3) sRGB
>>> with tempfile.TemporaryDirectory() as folder:
...     with open_writer(Path(folder) / "shot.%04d.png", fps=25, content="rgb") as writer:
...         for k in range(3):
...             writer.write(rgb * (1 - 0.2 * k), transfer="srgb")
...     with open_reader(Path(folder) / "shot.%04d.png") as reader:
...         frames = list(reader)
>>> len(frames), frames[0].rgb.shape, frames[0].transfer
(3, (64, 64, 3), 'srgb')
>>> bool(np.allclose(frames[1].rgb, rgb * 0.8, atol=1 / 255))
True
"""

from guangying.base.errors import MediaError
from guangying.media.api import FrameRate, open_reader, open_writer
from guangying.media.frames import ClipInfo, Frame
from guangying.media.highlights import display_srgb, scene_linear_foreground
from guangying.media.reader import Reader
from guangying.media.writer import Writer, abort_unclosed

__all__ = ["ClipInfo", "Frame", "FrameRate", "MediaError", "Reader", "Writer", "abort_unclosed",
           "display_srgb", "open_reader", "open_writer", "scene_linear_foreground"]
