"""Footage in and out: video files, image sequences and single images (PyAV / OpenCV).

>>> with open_reader("shot.mp4", start=10, end=20) as reader:       # doctest: +SKIP
...     with open_writer("out.mov", fps=reader.info.fps, content="rgba") as writer:
...         for frame in reader:
...             writer.write(frame.rgb, alpha=matte, transfer=frame.transfer)
"""

from guangying.base.errors import MediaError
from guangying.media.api import open_reader, open_writer
from guangying.media.frames import ClipInfo, Frame
from guangying.media.reader import Reader
from guangying.media.writer import Writer

__all__ = ["ClipInfo", "Frame", "MediaError", "Reader", "Writer", "open_reader", "open_writer"]
