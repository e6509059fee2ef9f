"""Faces and irises in the picture (BlazeFace + MediaPipe Iris, converted to ONNX by
``guangying models install``) turned into metric distances with :mod:`face_geometry`.

BlazeFace (256×256 input, RGB 0–1) predicts, on 16×16×2 + 8×8×6 anchors, a score logit and 16 offsets:
box centre (x, y), size (w, h) and six key points (right eye, left eye, nose, mouth, right ear, left
ear), all in input pixels relative to the anchor centre. The iris model takes a 64×64 crop around one
eye (RGB 0–1) and returns 71 eye-contour points then 5 iris points (centre + 4 on the rim), in crop
pixels; it is trained on one eye side, so the other eye's crop is mirrored.
"""

from __future__ import annotations

import math
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
# crops again around the iris centres found, until the eye spacing changes by under 0.5 %: it creeps
# towards the eyes' own in steps of 1 % at times (settled at 1 %, a face read 21 % far; bench/face_distance)
_REFINE_STEPS = 8
_SETTLED = 0.005
# Eyes closer than this (a face about 25 px across) are not ranged: their irises span a pixel or two,
# and readings of the same face in two frames differing only in noise were 3.4 and 4.2 m
SMALLEST_EYE_SPACING_PX = 10.0
_IPD_RANGE = (0.6, 1.6)  # a refined eye spacing outside this share of the detector's is no eyes found
# a human iris is 11.7 / 63 = 0.19 of the eye spacing; measured 0.17–0.21 on faces of 25–130 px, and
# 0.12–0.14 where the detector took something else for a face
_IRIS_PER_SPACING = (0.15, 0.25)


def _anchors() -> np.ndarray:
    out = []
    for stride, per_cell in ((16, 2), (32, 6)):
        g = BLAZE_SIZE // stride
        ys, xs = np.mgrid[0:g, 0:g]
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


_ANCHORS = _anchors()
# boxes (x, y, w, h), scores and key points (6, 2) of the faces found, in the frame's pixels
_Found = tuple[list[tuple[float, float, float, float]], list[float], list[np.ndarray]]
_TILE_MIN_PX = 256  # squares searched for small faces are no smaller than the detector's own view


def _tile_starts(length: int, side: int) -> list[int]:
    """Starts of squares of ``side`` along ``length``, overlapping by at least a third of a square."""
    if length <= side:
        return [0]
    count = math.ceil((length - side) / (side * 2 / 3)) + 1
    return [round(v) for v in np.linspace(0, length - side, count)]


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
        """Faces in an sRGB image (float 0–1 or uint8), best first, after non-maximum suppression.

        BlazeFace sees the frame at 256 px across, where a face under about 20 px is not found (a face
        52 px wide in a 1280-px frame, a person 5 m away on a 50 mm lens, read nothing); where the
        whole frame shows none, its overlapping squares are searched at their own scale."""
        img = _as_float_rgb(rgb_srgb)
        found = self._detect_in(img, 0, 0)
        h, w = img.shape[:2]
        # squares of the frame's height (a wide frame), then of half of it (a face small in any frame)
        for side in (min(h, w), min(h, w) // 2):
            if found[0] or side < _TILE_MIN_PX or (side == min(h, w) and max(h, w) < 1.5 * side):
                continue
            for y0 in _tile_starts(h, side):
                for x0 in _tile_starts(w, side):
                    rects, scores, points = self._detect_in(img[y0:y0 + side, x0:x0 + side], x0, y0)
                    found[0].extend(rects)
                    found[1].extend(scores)
                    found[2].extend(points)
        rects, scores, points = found
        if not rects:
            return []
        idx = cv2.dnn.NMSBoxes(rects, scores, self.score_threshold, 0.3)
        out = []
        for i in np.asarray(idx).reshape(-1):
            x0, y0, bw, bh = rects[i]
            out.append(FaceDetection((x0, y0, x0 + bw, y0 + bh), scores[i], points[i]))
        return sorted(out, key=lambda f: -f.score)

    def _detect_in(self, img: np.ndarray, x_offset: int, y_offset: int) -> _Found:
        """BlazeFace on ``img`` letterboxed to a square: boxes (x, y, w, h), scores and key points, in
        the frame's pixels (``img`` lies at the offsets in it)."""
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
        scale = side / BLAZE_SIZE
        offset = np.array([x_offset, y_offset], np.float32)
        centres = (raw[keep, :2] + _ANCHORS[keep]) * scale + offset
        sizes = raw[keep, 2:4] * scale
        kps = (raw[keep, 4:].reshape(-1, 6, 2) + _ANCHORS[keep][:, None, :]) * scale + offset
        rects = [
            (float(c[0] - s[0] / 2), float(c[1] - s[1] / 2), float(s[0]), float(s[1]))
            for c, s in zip(centres, sizes, strict=True)
        ]
        return rects, [float(v) for v in scores[keep]], list(kps)

    def iris_diameters_px(self, rgb_srgb: np.ndarray, face: FaceDetection) -> list[float]:
        """Iris diameter of each eye in image pixels."""
        return self._eyes(_as_float_rgb(rgb_srgb), face)[0]

    def _eyes(self, img: np.ndarray, face: FaceDetection) -> tuple[list[float], np.ndarray]:
        """Each eye's iris diameter and the two iris centres (2, 2), in image pixels.

        BlazeFace's eye points come from its 256-px view of the frame, a few pixels off on a face of a
        few hundred (a 512-px face's eye spacing read 29–43 px as the face's size changed): the crops
        then framed the eye too small, the iris model read a smaller iris, and distance × face size
        swung by 44 %. So the crops are taken again around the iris model's own iris centres, at their
        spacing, until that settles."""
        centres = np.array([face.keypoints[0], face.keypoints[1]], np.float64)
        first_ipd = ipd = float(np.linalg.norm(centres[1] - centres[0]))
        diameters, found = self._iris_landmarks(img, centres, ipd)
        for _ in range(_REFINE_STEPS):
            refined = float(np.linalg.norm(found[1] - found[0]))
            if not _IPD_RANGE[0] * first_ipd <= refined <= _IPD_RANGE[1] * first_ipd:
                break  # no eyes there to settle on (a profile, a blur): keep the detector's
            settled = abs(refined - ipd) <= _SETTLED * ipd
            centres, ipd = found, refined
            diameters, found = self._iris_landmarks(img, centres, ipd)
            if settled:
                break
        return diameters, centres

    def _iris_landmarks(self, img: np.ndarray, centres: np.ndarray,
                        ipd: float) -> tuple[list[float], np.ndarray]:
        """The iris model on crops around both eyes (one batch): iris diameters and centres, image px."""
        side = max(EYE_CROP_IPD * ipd, 4.0)
        s = IRIS_SIZE / side
        crops = []
        for i, (cx, cy) in enumerate(centres):
            m = np.array([[s, 0, -s * (cx - side / 2)], [0, s, -s * (cy - side / 2)]], np.float32)
            c = cv2.warpAffine(
                img, m, (IRIS_SIZE, IRIS_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            crops.append(c[:, ::-1] if i == 1 else c)  # mirror one eye: the model knows one side
        lm = self._iris.run(None, {"input": np.ascontiguousarray(np.stack(crops))})[0].reshape(2, 76, 3)
        iris = lm[:, 71:, :2].astype(np.float64)
        iris[1, :, 0] = IRIS_SIZE - iris[1, :, 0]  # the mirrored eye's points back
        found = iris[:, 0] / s + centres - side / 2
        return [iris_diameter_px(iris[k]) / s for k in range(2)], found

    def range_face(self, rgb_srgb: np.ndarray, face: FaceDetection) -> FaceRange:
        """Fused iris + interpupillary range of one face."""
        f_px = self.intrinsics.fx * (np.asarray(rgb_srgb).shape[1] / self.intrinsics.width)
        diameters, centres = self._eyes(_as_float_rgb(rgb_srgb), face)
        spacing_px = float(np.linalg.norm(centres[1] - centres[0]))
        if spacing_px < SMALLEST_EYE_SPACING_PX:
            return FaceRange(float("nan"), 0.0, "none")  # irises of a pixel or two: 20–55 % off, unsaid
        if not _IRIS_PER_SPACING[0] <= max(diameters) / spacing_px <= _IRIS_PER_SPACING[1]:
            # no eyes of a face there (a small picture of a person found as a face): read 72 % near
            return FaceRange(float("nan"), 0.0, "none")
        iris = range_from_irises(diameters, f_px)
        ipd = range_from_eye_centres(tuple(centres[1]), tuple(centres[0]), f_px)
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
