"""Fast person segmentation (MediaPipe selfie / Google Meet models) for a preview-quality matte.

The networks give a soft person mask at 256×256 (selfie) or 256×144 (meet). It is smoothed over
time where the picture holds still, then upsampled to the frame with a fast guided filter on the
frame's luma, so its edges follow the picture instead of the blocky network grid.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from guangying.mattes import MatteResult
from guangying.matting.frames import check_rgb
from guangying.matting.guided import upsample_mask_guided
from guangying.matting.session import NetworkSession
from guangying.matting.temporal import CutDetector, MotionAdaptiveSmoother

SegmentModel = Literal["selfie", "meet"]


def _person_probability(model: SegmentModel, output: np.ndarray) -> np.ndarray:
    if model == "selfie":
        return output[..., 0]  # already a sigmoid probability
    # meet: two logits per pixel (background, person); softmax of the pair = sigmoid of the difference
    return (1.0 / (1.0 + np.exp(output[..., 0] - output[..., 1]))).astype(np.float32)


class FastSegmentMatter:
    """Preview matte from a person-segmentation network; foreground colour is the frame itself."""

    def __init__(
        self,
        model: SegmentModel = "selfie",
        threads: int | None = None,
        providers: list[str] | None = None,
        smoothing: float = 0.6,
        edge_radius_px: int = 2,
    ) -> None:
        if model not in ("selfie", "meet"):
            raise ValueError(f"unknown segmentation model {model!r}; use 'selfie' or 'meet'")
        self.model: SegmentModel = model
        self.net = NetworkSession(model, threads=threads, providers=providers)
        self.edge_radius_px = edge_radius_px
        self._cuts = CutDetector()
        self._smoother = MotionAdaptiveSmoother(strength=smoothing) if smoothing > 0 else None

    def reset(self) -> None:
        self._cuts.reset()
        if self._smoother is not None:
            self._smoother.reset()

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        """Matte one frame: ``rgb`` float32 (H, W, 3) sRGB 0–1 → soft person alpha (H, W)."""
        frame = check_rgb(rgb, f"{self.model} segmentation")
        if self._cuts.is_cut(frame) and self._smoother is not None:
            self._smoother.reset()
        in_h, in_w = self.net.input_hw
        small = cv2.resize(frame, (in_w, in_h), interpolation=cv2.INTER_AREA)
        mask = _person_probability(self.model, self.net.run_image(small))
        if self._smoother is not None:
            (mask,) = self._smoother(small, (mask,))
        alpha = upsample_mask_guided(mask, frame, radius=self.edge_radius_px)
        return MatteResult(alpha=alpha, foreground_rgb=frame)
