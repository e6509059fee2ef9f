"""Fast person segmentation (MediaPipe selfie / Google Meet models) for a preview-quality matte.

The networks give a soft person mask at 256×256 (selfie) or 256×144 (meet); the frame is
letterboxed into that input so people keep their proportions. The mask is smoothed over time where
the picture holds still, then upsampled to the frame with a fast guided filter on the frame's luma,
so its edges follow the picture instead of the blocky network grid.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from guangying.base.checks import Range, check_range
from guangying.base.errors import SettingsError
from guangying.base.mattes import MatteResult
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


def _letterbox(frame: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Fit the frame into the network input keeping its aspect (squashed people segment badly), on
    black; returns the input image and the (y0, y1, x0, x1) box the frame occupies in it."""
    in_h, in_w = input_hw
    h, w = frame.shape[:2]
    scale = min(in_h / h, in_w / w)
    fit_h, fit_w = max(8, round(h * scale)), max(8, round(w * scale))
    y0, x0 = (in_h - fit_h) // 2, (in_w - fit_w) // 2
    out = np.zeros((in_h, in_w, 3), np.float32)
    out[y0 : y0 + fit_h, x0 : x0 + fit_w] = cv2.resize(frame, (fit_w, fit_h), interpolation=cv2.INTER_AREA)
    return out, (y0, y0 + fit_h, x0, x0 + fit_w)


class FastSegmentMatter:
    """Preview matte from a person-segmentation network; foreground colour is the frame itself.

    ``model``: "meet" (landscape 256×144 input: it fits video frames and, in our benchmark, confuses
    far fewer objects with people), "selfie" (square 256×256), or "auto" (the default): meet for a
    frame wider than tall, selfie for a portrait one. A portrait phone clip letterboxed into meet's
    landscape input filled 81 of its 256 columns, and the matte took 61 % of the background for the
    person (MAD 0.61; selfie 0.07).

    ``edge_radius`` (in network-output pixels) and ``edge_eps`` set the guided upsampling: a larger
    eps copies less of the picture's texture into the matte.
    """

    remembers_frames = True  # its temporal smoothing

    def __init__(
        self,
        model: SegmentModel | Literal["auto"] = "auto",
        threads: int | None = None,
        providers: list[str] | None = None,
        smoothing: float = 0.6,
        edge_radius: int = 2,
        edge_eps: float = 1e-2,
    ) -> None:
        if model not in ("selfie", "meet", "auto"):
            raise SettingsError(f"unknown segmentation model {model!r}; use 'auto', 'selfie' or 'meet'")
        # a negative radius raised OpenCV's own error, a NaN eps gave an all-NaN matte
        check_range("segmentation", "smoothing", smoothing, Range(0.0, 1.0, hi_open=True))
        check_range("segmentation", "edge_radius", edge_radius, Range(1, 64, integer=True))
        check_range("segmentation", "edge_eps", edge_eps, Range(0.0, 1.0, lo_open=True))
        check_range("segmentation", "threads", threads, Range(1, integer=True, optional=True))
        self.model = model
        # both loaded for "auto" (a few MB each): a missing model is said now, not at the first frame
        names: tuple[SegmentModel, ...] = ("meet", "selfie") if model == "auto" else (model,)
        self._nets = {name: NetworkSession(name, threads=threads, providers=providers) for name in names}
        self.edge_radius = edge_radius
        self.edge_eps = edge_eps
        self._cuts = CutDetector()
        self._smoother = MotionAdaptiveSmoother(strength=smoothing) if smoothing > 0 else None

    def model_for(self, width_px: int, height_px: int) -> SegmentModel:
        """The network a ``width_px × height_px`` frame is segmented by."""
        if self.model != "auto":
            return self.model
        return "meet" if width_px > height_px else "selfie"

    def reset(self) -> None:
        self._cuts.reset()
        if self._smoother is not None:
            self._smoother.reset()

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        """Matte one frame: ``rgb`` float32 (H, W, 3) sRGB 0–1 → soft person alpha (H, W)."""
        frame = check_rgb(rgb, f"{self.model} segmentation")
        model = self.model_for(frame.shape[1], frame.shape[0])
        net = self._nets[model]
        small, box = _letterbox(frame, net.input_hw)
        if self._cuts.is_cut(small) and self._smoother is not None:
            self._smoother.reset()
        y0, y1, x0, x1 = box
        mask = np.ascontiguousarray(_person_probability(model, net.run_image(small))[y0:y1, x0:x1])
        small = small[y0:y1, x0:x1]
        if self._smoother is not None:
            (mask,) = self._smoother(small, (mask,))
        alpha = upsample_mask_guided(mask, frame, radius=self.edge_radius, eps=self.edge_eps)
        return MatteResult(alpha=alpha, foreground_rgb=frame)
