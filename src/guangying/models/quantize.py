"""``rvm_base_int8``: RVM with its recurrent decoder's convolutions in static int8 (QDQ), opt-in.

onnxruntime's ``quantize_static`` (per-channel int8 weights, uint8 activations, MinMax calibration)
is applied only to the Convs that depend on the recurrent state inputs ``r1i..r4i`` — the ConvGRU
decoder and its up-sampling blocks, where most of the time goes at matting resolutions. The
MobileNetV3 encoder stays float32: with its convs in int8 too, alpha flipped by up to 1.0 on
scikit-image's astronaut (hard-swish and squeeze-excite activations quantise badly) and it was no
faster. Weights use 7-bit ranges (``reduce_range``) so that CPUs without VNNI, whose u8×s8 kernels
can saturate, give the same results. Calibration frames are scikit-image photos plus generated
person-like frames, each panned over three frames with the recurrent state carried; the astronaut is
left out so it can measure the error honestly (``bench/converter_speed.py``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from skimage import data

STATE_INPUTS = ("r1i", "r2i", "r3i", "r4i")
STATE_OUTPUTS = ("r1o", "r2o", "r3o", "r4o")
CALIBRATION_HW = (216, 384)


def recurrent_convs(model: onnx.ModelProto, state_inputs: tuple[str, ...] = STATE_INPUTS) -> list[str]:
    """Names of the Conv nodes whose input depends on a recurrent state input (the decoder)."""
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            consumers[name].append(node)
    reached: set[str] = set()
    todo = list(state_inputs)
    seen_tensors = set(todo)
    while todo:
        for node in consumers.get(todo.pop(), []):
            if node.name in reached:
                continue
            reached.add(node.name)
            for out in node.output:
                if out not in seen_tensors:
                    seen_tensors.add(out)
                    todo.append(out)
    return [n.name for n in model.graph.node if n.op_type == "Conv" and n.name in reached]


def person_like_rgb(h: int, w: int, seed: int) -> np.ndarray:
    """A generated head-and-shoulders silhouette over a striped background, (h, w, 3) RGB 0–1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = 0.5 + 0.3 * np.sin(xx[..., None] / rng.uniform(5, 20, 3) + yy[..., None] / rng.uniform(9, 40, 3))
    cx = rng.uniform(0.35, 0.65) * w
    head = ((xx - cx) / (0.12 * w)) ** 2 + ((yy - 0.35 * h) / (0.2 * h)) ** 2 < 1
    body = ((xx - cx) / (0.33 * w)) ** 2 + ((yy - 1.05 * h) / (0.45 * h)) ** 2 < 1
    skin = rng.uniform([0.55, 0.35, 0.25], [0.95, 0.75, 0.65])
    return np.where((head | body)[..., None], skin, bg).astype(np.float32)


def calibration_clips(hw: tuple[int, int] = CALIBRATION_HW) -> list[list[np.ndarray]]:
    """Short clips (3 frames, a slow pan) of (1, h, w, 3) RGB 0–1 frames; the astronaut is held out."""
    h, w = hw
    photos = [data.chelsea(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0],
              cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)]
    stills = [cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255 for p in photos]
    stills += [person_like_rgb(h, w, seed) for seed in range(3)]
    clips = []
    for still in stills:
        shifts = [np.array([[1, 0, 4 * k], [0, 1, 2 * k]], np.float32) for k in range(3)]
        clips.append([cv2.warpAffine(still, m, (w, h), borderMode=cv2.BORDER_REFLECT)[None] for m in shifts])
    return clips


class _RecurrentFeeds(CalibrationDataReader):
    """Calibration inputs with the recurrent state the float model produces along each clip."""

    def __init__(self, model_path: Path, clips: list[list[np.ndarray]]) -> None:
        sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        self.feeds = []
        for clip in clips:
            state = [np.zeros((1, 1, 1, 1), np.float32)] * len(STATE_INPUTS)
            for frame in clip:
                feed = {"src": frame, **dict(zip(STATE_INPUTS, state, strict=True))}
                self.feeds.append(feed)
                state = sess.run(list(STATE_OUTPUTS), feed)
        self._it: Iterator[dict[str, np.ndarray]] = iter(self.feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_rvm_decoder(src: Path, dst: Path) -> int:
    """Write ``src`` (``rvm_base``) with its decoder convs in int8 QDQ to ``dst``; returns how many."""
    nodes = recurrent_convs(onnx.load(str(src), load_external_data=False))
    reader = _RecurrentFeeds(src, calibration_clips())
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # quantize_static advises its own pre-processing on every call
    try:
        quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        reduce_range=True, calibrate_method=CalibrationMethod.MinMax,
                        op_types_to_quantize=["Conv"], nodes_to_quantize=nodes)
    finally:
        logging.disable(previous)
    return len(nodes)
