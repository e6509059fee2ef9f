"""Depth of field for set layers: each layer blurred by its own circle of confusion.

The circle comes from :func:`guangying.lens.optics.coc_diameter_px` (the one thin-lens formula) with the
focal length of the frame's camera, so a zoom changes the blur as it would on the real lens; on a plate
squeezed by an anamorphic lens (the camera's fx = fy / pixel aspect) it is an upright oval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from guangying.composite.defocus import MAX_DIRECT_PX, disc_blur
from guangying.lens.optics import blur_width_ratio, coc_diameter_px, sensor_span_px
from guangying.sets.view import SetView


@dataclass(frozen=True, slots=True)
class SetOptics:
    """Aperture and focus for one frame: ``f_number``, ``focus_distance_m`` and the sensor width (mm)
    that, with the view's vertical focal length in pixels, gives the focal length in mm (an anamorphic
    lens's nominal one: its horizontal one is shorter by the squeeze)."""

    f_number: float
    focus_distance_m: float
    sensor_width_mm: float

    def _span_px(self, view: SetView) -> int:
        """The pixels the sensor's width spans (the squeeze, fy / fx, tells which side is long as shown)."""
        k = view.camera_matrix
        return sensor_span_px(view.width_px, view.height_px, float(k[1, 1] / k[0, 0]))

    def focal_length_mm(self, view: SetView) -> float:
        return float(view.camera_matrix[1, 1]) * self.sensor_width_mm / self._span_px(view)

    def width_ratio(self, view: SetView) -> float:
        """The blur's width ÷ its height in the view's pixels (1 but for an anamorphic plate)."""
        return blur_width_ratio(float(view.camera_matrix[1, 1] / view.camera_matrix[0, 0]))

    def coc_px(self, view: SetView, distance_m: float | np.ndarray) -> float | np.ndarray:
        """Blur-circle diameter (height) in pixels of something ``distance_m`` (along the optical axis)
        away."""
        return coc_diameter_px(
            self.focal_length_mm(view), self.f_number, self.focus_distance_m, distance_m,
            self.sensor_width_mm, self._span_px(view),
        )  # fmt: skip


def defocus_premultiplied(rgba_linear: np.ndarray, coc_diameter_px: float, width_ratio: float = 1.0
                          ) -> np.ndarray:
    """Disc-blur a premultiplied linear RGBA layer (H, W, 4) by one circle of confusion (an upright
    ellipse ``width_ratio`` times as wide as tall). Premultiplied colour blurs as it is: no division."""
    if not math.isfinite(coc_diameter_px) or coc_diameter_px < 1.0:
        return rgba_linear
    blurred = disc_blur(np.ascontiguousarray(rgba_linear, np.float32), coc_diameter_px, width_ratio)
    np.clip(blurred[..., 3], 0.0, 1.0, out=blurred[..., 3])
    return blurred


# Neighbouring slices' blurs differ by this factor, so each pixel's blur is within 30 % of its slice's.
# Slices of equal width in pixels (8 across the frame's range) blurred what lay in focus by half a slice:
# 125 px where something near the lens had a blur of 2000 px.
_SLICE_STEP = 1.3


def defocus_by_depth(
    rgba_linear: np.ndarray, distance_m: np.ndarray, optics: SetOptics, view: SetView
) -> np.ndarray:
    """Defocus a premultiplied RGBA layer whose pixels lie at different distances (a layer with a depth
    map, a rendered 3D set): the picture is cut into slices of similar blur (what is within a pixel's
    blur of focus stays sharp), each slice is blurred by its circle and the slices are laid back to front.

    ``distance_m`` float (H, W), along the optical axis; inf allowed, NaN where the layer is empty.
    """
    valid = ~np.isnan(distance_m) & (distance_m > 0)
    safe = np.where(valid, distance_m, np.inf)
    coc = np.asarray(optics.coc_px(view, safe), np.float32)
    if not np.any(valid) or float(np.max(coc[valid])) < 1.0:
        return rgba_linear
    # Signed slice numbers (behind focus > 0, in front < 0) so slices never mix near and far pixels; 0:
    # under a pixel's blur. Slice ±k holds blurs in [step^(k−1), step^k).
    steps = np.floor(np.log(np.maximum(coc, 1.0)) / math.log(_SLICE_STEP)).astype(np.int64) + 1
    steps[coc < 1.0] = 0
    idx = np.where(safe >= optics.focus_distance_m, steps, -steps)
    slices = []
    for s in np.unique(idx[valid]):
        mask = valid & (idx == s)
        diameter = 0.0 if s == 0 else float(np.mean(coc[mask]))  # its pixels' own blur, on the mean
        slices.append((float(np.mean(np.minimum(safe[mask], 1e6))), diameter, mask))
    slices.sort(key=lambda t: -t[0])  # far first: nearer slices cover farther
    diameters = [diameter for _, diameter, _ in slices]
    ratio = optics.width_ratio(view)
    height, width = distance_m.shape
    nearer = np.zeros((height, width), bool)  # pixels of the slices still to come
    for _, _, mask in slices[1:]:
        nearer |= mask
    out = np.zeros_like(rgba_linear)
    for i, (_, _, mask) in enumerate(slices):
        if i:
            nearer &= ~mask
        diameter = diameters[i]
        # A nearer slice's blur lets through what lies behind its edge, which a render does not have:
        # this slice is carried on behind it, as far as that blur reaches (else a dark halo).
        behind_px = max(diameters[i + 1:], default=0.0) / 2
        # Only the slice's box, grown by its blur (and the shrunken copy's cells): a slice is often a
        # band of the floor or one object, and a whole frame for each cost 5× the blurs themselves.
        reach_y = int(math.ceil(max(diameter, behind_px) / 2 + 2 * math.ceil(diameter * max(1.0, ratio)
                                                                             / MAX_DIRECT_PX)))  # fmt: skip
        reach_x = int(math.ceil(reach_y * max(1.0, ratio)))
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        y0, y1 = max(rows[0] - reach_y, 0), min(rows[-1] + reach_y + 1, height)
        x0, x1 = max(cols[0] - reach_x, 0), min(cols[-1] + reach_x + 1, width)
        piece = rgba_linear[y0:y1, x0:x1] * mask[y0:y1, x0:x1, None]
        if behind_px >= 1.0:
            _carry_behind(piece, nearer[y0:y1, x0:x1], behind_px)
        blurred = defocus_premultiplied(piece, diameter, ratio)
        region = out[y0:y1, x0:x1]
        region *= 1.0 - blurred[..., 3:4]
        region += blurred
    return out


def _carry_behind(piece: np.ndarray, hidden: np.ndarray, reach_px: float) -> None:
    """Fill ``piece``'s ``hidden`` pixels (covered by nearer slices) within ``reach_px`` of its own with
    their colour, opaque: a normalised blur, so each takes the colour of the slice pixels nearest it."""
    spread = cv2.GaussianBlur(piece, (0, 0), max(reach_px / 2, 0.5))
    weight = spread[..., 3]
    take = hidden & (weight > 1e-3)
    piece[take, :3] = spread[take, :3] / weight[take, None]
    piece[take, 3] = 1.0
