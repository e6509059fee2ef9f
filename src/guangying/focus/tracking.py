"""Subject tracking with stable IDs, and choosing which subject focus follows.

Detections (faces or people, as boxes) are associated to existing tracks frame to frame by an optimal
assignment on IoU plus centroid distance; unmatched tracks coast on their last velocity and are held
for ``max_missed`` frames (a brief occlusion) before they are dropped. The selector locks on to one
track ID and stays there: if that subject disappears the focus holds rather than jumping to someone
else, until the operator picks again (or the same ID returns within the hold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from guangying.base.errors import SettingsError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    score: float = 1.0
    distance_m: float = float("nan")  # when a depth or face-size estimate is available


@dataclass(slots=True)
class Track:
    track_id: int
    box: Box
    score: float
    distance_m: float = float("nan")
    velocity: tuple[float, float] = (0.0, 0.0)  # centroid px per frame
    hits: int = 1
    missed: int = 0

    @property
    def centre(self) -> tuple[float, float]:
        return (0.5 * (self.box[0] + self.box[2]), 0.5 * (self.box[1] + self.box[3]))

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (N, 4) and (M, 4) in x0, y0, x1, y1."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(slots=True)
class SubjectTracker:
    """IoU/centroid tracker. ``max_missed``: frames a lost subject is held (coasting) before removal."""

    iou_min: float = 0.2
    centroid_gate: float = 1.0  # max centroid jump, in box diagonals, for a match without overlap
    max_missed: int = 15
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, detections: list[Detection]) -> list[Track]:
        """Advance one frame; returns all live tracks (including ones coasting through occlusion)."""
        for t in self.tracks:  # coast: predict where each subject is now
            dx, dy = t.velocity
            t.box = (t.box[0] + dx, t.box[1] + dy, t.box[2] + dx, t.box[3] + dy)
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        if self.tracks and detections:
            tb = np.array([t.box for t in self.tracks])
            db = np.array([d.box for d in detections])
            iou = iou_matrix(tb, db)
            tc = 0.5 * (tb[:, :2] + tb[:, 2:])
            dc = 0.5 * (db[:, :2] + db[:, 2:])
            diag = np.hypot(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1])[:, None]
            dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2) / np.maximum(diag, 1e-6)
            allowed = (iou >= self.iou_min) | (dist <= self.centroid_gate)
            cost = np.where(allowed, (1.0 - iou) + 0.5 * dist, 1e6)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if not allowed[r, c]:
                    continue
                t, d = self.tracks[r], detections[c]
                (ocx, ocy), ncx, ncy = t.centre, 0.5 * (d.box[0] + d.box[2]), 0.5 * (d.box[1] + d.box[3])
                # measured motion since the last real sighting, lightly smoothed
                vx = (ncx - (ocx - t.velocity[0])) / (t.missed + 1)
                vy = (ncy - (ocy - t.velocity[1])) / (t.missed + 1)
                t.velocity = (0.5 * t.velocity[0] + 0.5 * vx, 0.5 * t.velocity[1] + 0.5 * vy)
                t.box, t.score, t.distance_m = d.box, d.score, d.distance_m
                t.hits += 1
                t.missed = 0
                matched_t.add(r)
                matched_d.add(c)
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for j, d in enumerate(detections):
            if j not in matched_d:
                self.tracks.append(Track(self._next_id, d.box, d.score, d.distance_m))
                self._next_id += 1
        return list(self.tracks)


Rule = Literal["largest", "centre", "nearest", "id", "point", "box"]


@dataclass(slots=True)
class SubjectSelector:
    """Pick the focus subject once by ``rule``, then stay locked to its track ID.

    Rules: ``largest`` box; ``centre`` (nearest the frame centre; needs ``frame_size``); ``nearest`` to
    the camera (needs distances); ``id`` (``target_id``); ``point`` (a tap: ``point`` x, y — the box
    containing it, else the closest); ``box`` (``box``: best IoU with a drawn box).
    """

    rule: Rule = "largest"
    frame_size: tuple[int, int] | None = None  # width, height
    target_id: int | None = None
    point: tuple[float, float] | None = None
    box: Box | None = None
    locked_id: int | None = None

    def pick(self, tracks: list[Track]) -> Track | None:
        live = [t for t in tracks if t.missed == 0]
        if not live:
            return None
        if self.rule == "largest":
            return max(live, key=lambda t: t.area)
        if self.rule == "centre":
            if self.frame_size is None:
                raise SettingsError("rule 'centre' needs frame_size=(width, height)")
            cx, cy = self.frame_size[0] / 2, self.frame_size[1] / 2
            return min(live, key=lambda t: math.hypot(t.centre[0] - cx, t.centre[1] - cy))
        if self.rule == "nearest":
            with_d = [t for t in live if math.isfinite(t.distance_m)]
            return min(with_d, key=lambda t: t.distance_m) if with_d else None
        if self.rule == "id":
            return next((t for t in live if t.track_id == self.target_id), None)
        if self.rule == "point":
            if self.point is None:
                raise SettingsError("rule 'point' needs point=(x, y)")
            px, py = self.point
            inside = [t for t in live if t.box[0] <= px <= t.box[2] and t.box[1] <= py <= t.box[3]]
            pool = inside or live
            return min(pool, key=lambda t: math.hypot(t.centre[0] - px, t.centre[1] - py))
        if self.rule == "box":
            if self.box is None:
                raise SettingsError("rule 'box' needs box=(x0, y0, x1, y1)")
            ious = iou_matrix(np.array([self.box]), np.array([t.box for t in live]))[0]
            return live[int(np.argmax(ious))] if ious.max() > 0 else None
        raise SettingsError(f"unknown selection rule {self.rule!r}")

    def select(self, tracks: list[Track]) -> Track | None:
        """The locked subject (even while it coasts through an occlusion); None when it is gone —
        focus then holds. Only the first call (or :meth:`reselect`) applies the rule."""
        if self.locked_id is not None:
            return next((t for t in tracks if t.track_id == self.locked_id), None)
        chosen = self.pick(tracks)
        if chosen is not None:
            self.locked_id = chosen.track_id
        return chosen

    def reselect(self, rule: Rule | None = None, **params: object) -> None:
        """Operator action: choose again (optionally with a new rule/tap point/box/ID)."""
        if rule is not None:
            self.rule = rule
        for k, v in params.items():
            setattr(self, k, v)
        self.locked_id = None
