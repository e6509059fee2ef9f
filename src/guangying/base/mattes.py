"""The contract between perception (keyer, neural matting) and compositing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(slots=True)
class MatteResult:
    """A matte and the straight (un-premultiplied) foreground colour it goes with.

    ``alpha``: float32 (H, W) in 0–1. ``foreground_rgb``: float32 (H, W, 3), straight colour with the
    screen/background removed from semi-transparent pixels, in the same transfer (sRGB-encoded or
    linear) as the frame that was matted.
    """

    alpha: np.ndarray
    foreground_rgb: np.ndarray


class Matter(Protocol):
    """Anything that turns frames into mattes: the chroma keyer, RVM, fast segmentation, hybrid.

    One whose matte depends on the frames before (a recurrent network's memory) says so with a
    ``remembers_frames = True`` attribute: a job from partway into a clip then runs it over the frames
    before the range first (:func:`guangying.pipeline.job.run_job`)."""

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        """Matte one frame. ``rgb`` float32 (H, W, 3) sRGB-encoded 0–1; ``background_rgb`` is the
        plate it will be composited over (same size and encoding), used by despill replacement."""
        ...

    def reset(self) -> None:
        """Forget temporal state (new clip or a cut)."""
        ...
