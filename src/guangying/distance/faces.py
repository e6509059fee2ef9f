"""Faces and irises in the picture (BlazeFace + MediaPipe Iris, converted to ONNX by
``guangying models install``) turned into metric distances with :mod:`face_geometry`.

BlazeFace (256×256 input, RGB 0–1) predicts, on 16×16×2 + 8×8×6 anchors, a score logit and 16 offsets:
box centre (x, y), size (w, h) and six key points (right eye, left eye, nose, mouth, right ear, left
ear), all in input pixels relative to the anchor centre. The iris model takes a 64×64 crop around one
eye (RGB 0–1) and returns 71 eye-contour points then 5 iris points (centre + 4 on the rim), in crop
pixels; it is trained on one eye side, so the other eye's crop is mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from guangying.base.errors import SettingsError
from guangying.distance.face_geometry import (
    FaceRange,
    Intrinsics,
    fuse_ranges,
    iris_diameter_px,
    range_from_eye_centres,
    range_from_irises,
)
from guangying.distance.reading import DistanceReading

BLAZE_SIZE = 256
IRIS_SIZE = 64
# An eye crop 1.2 × the interpupillary distance frames the eye as the iris model was trained to see it
# (MediaPipe: 2.3 × eye width); smaller crops make it report a too-small iris.
EYE_CROP_IPD = 1.2


def _anchors() -> np.ndarray:
    out = []
    for stride, per_cell in ((16, 2), (32, 6)):
        g = BLAZE_SIZE // stride
        ys, xs = np.mgrid[0:g, 0:g]
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


_ANCHORS = _anchors()


@dataclass(frozen=True, slots=True)
class FaceDetection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    score: float
    keypoints: np.ndarray  # (6, 2) image pixels: right eye, left eye, nose, mouth, right ear, left ear


def _as_float_rgb(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise SettingsError(f"expected an RGB image (H, W, 3), got {a.shape}")
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


class FaceRangeFinder:
    """Detect faces, measure irises, and range them with the camera's intrinsics."""

    def __init__(self, intrinsics: Intrinsics, score_threshold: float = 0.6) -> None:
        from guangying.models import load_session

        self.intrinsics = intrinsics
        self.score_threshold = score_threshold
        self._face = load_session("blazeface")
        self._iris = load_session("iris")

    def detect(self, rgb_srgb: np.ndarray) -> list[FaceDetection]:
        """Faces in an sRGB image (float 0–1 or uint8), best first, after non-maximum suppression."""
        img = _as_float_rgb(rgb_srgb)
        h, w = img.shape[:2]
        side = max(h, w)  # letterbox to a square so faces keep their shape
        square = np.zeros((side, side, 3), np.float32)
        square[:h, :w] = img
        x = cv2.resize(square, (BLAZE_SIZE, BLAZE_SIZE), interpolation=cv2.INTER_AREA)
        outs = dict(
            zip(
                [o.name for o in self._face.get_outputs()],
                self._face.run(None, {"input": x[None]}),
                strict=True,
            )
        )
        logits = np.concatenate([outs["scores_16"][0, :, 0], outs["scores_8"][0, :, 0]])
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        raw = np.concatenate([outs["boxes_16"][0], outs["boxes_8"][0]])
        keep = np.nonzero(scores >= self.score_threshold)[0]
        if keep.size == 0:
            return []
        scale = side / BLAZE_SIZE
        centres = (raw[keep, :2] + _ANCHORS[keep]) * scale
        sizes = raw[keep, 2:4] * scale
        kps = (raw[keep, 4:].reshape(-1, 6, 2) + _ANCHORS[keep][:, None, :]) * scale
        rects = [
            (float(c[0] - s[0] / 2), float(c[1] - s[1] / 2), float(s[0]), float(s[1]))
            for c, s in zip(centres, sizes, strict=True)
        ]
        idx = cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), self.score_threshold, 0.3)
        out = []
        for i in np.asarray(idx).reshape(-1):
            x0, y0, bw, bh = rects[i]
            out.append(FaceDetection((x0, y0, x0 + bw, y0 + bh), float(scores[keep][i]), kps[i]))
        return sorted(out, key=lambda f: -f.score)

    def iris_diameters_px(self, rgb_srgb: np.ndarray, face: FaceDetection) -> list[float]:
        """Iris diameter of each eye in image pixels (both eyes in one batch)."""
        img = _as_float_rgb(rgb_srgb)
        right, left = face.keypoints[0], face.keypoints[1]
        ipd = float(np.linalg.norm(left - right))
        side = max(EYE_CROP_IPD * ipd, 4.0)
        s = IRIS_SIZE / side
        crops = []
        for i, (cx, cy) in enumerate((right, left)):
            m = np.array([[s, 0, -s * (cx - side / 2)], [0, s, -s * (cy - side / 2)]], np.float32)
            c = cv2.warpAffine(
                img, m, (IRIS_SIZE, IRIS_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            crops.append(c[:, ::-1] if i == 1 else c)  # mirror one eye: the model knows one side
        lm = self._iris.run(None, {"input": np.ascontiguousarray(np.stack(crops))})[0].reshape(2, 76, 3)
        return [iris_diameter_px(lm[k, 71:, :2]) / s for k in range(2)]

    def range_face(self, rgb_srgb: np.ndarray, face: FaceDetection) -> FaceRange:
        """Fused iris + interpupillary range of one face."""
        f_px = self.intrinsics.fx * (np.asarray(rgb_srgb).shape[1] / self.intrinsics.width)
        iris = range_from_irises(self.iris_diameters_px(rgb_srgb, face), f_px)
        ipd = range_from_eye_centres(tuple(face.keypoints[1]), tuple(face.keypoints[0]), f_px)
        return fuse_ranges([iris, ipd])

    def reading(self, rgb_srgb: np.ndarray, t_s: float, face: FaceDetection | None = None) -> DistanceReading:
        """Range a given face (e.g. the tracker's chosen subject) or the most confident one."""
        if face is None:
            faces = self.detect(rgb_srgb)
            if not faces:
                return DistanceReading(t_s, float("nan"), 0.0, "face")
            face = faces[0]
        r = self.range_face(rgb_srgb, face)
        return DistanceReading(t_s, r.distance_m, r.confidence * face.score, f"face:{r.cue}")
