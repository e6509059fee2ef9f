"""Depth of field for set layers: each layer blurred by its own circle of confusion.

The circle comes from :func:`guangying.lens.optics.coc_diameter_px` (the one thin-lens formula) with the
focal length of the frame's camera, so a zoom changes the blur as it would on the real lens; on a plate
squeezed by an anamorphic lens (the camera's fx = fy / pixel aspect) it is an upright oval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from guangying.composite.defocus import defocus_rgb_linear
from guangying.lens.optics import blur_width_ratio, coc_diameter_px
from guangying.sets.view import SetView


@dataclass(frozen=True, slots=True)
class SetOptics:
    """Aperture and focus for one frame: ``f_number``, ``focus_distance_m`` and the sensor width (mm)
    that, with the view's vertical focal length in pixels, gives the focal length in mm (an anamorphic
    lens's nominal one: its horizontal one is shorter by the squeeze)."""

    f_number: float
    focus_distance_m: float
    sensor_width_mm: float

    def focal_length_mm(self, view: SetView) -> float:
        return float(view.camera_matrix[1, 1]) * self.sensor_width_mm / view.width_px

    def width_ratio(self, view: SetView) -> float:
        """The blur's width ÷ its height in the view's pixels (1 but for an anamorphic plate)."""
        return blur_width_ratio(float(view.camera_matrix[1, 1] / view.camera_matrix[0, 0]))

    def coc_px(self, view: SetView, distance_m: float | np.ndarray) -> float | np.ndarray:
        """Blur-circle diameter (height) in pixels of something ``distance_m`` (along the optical axis)
        away."""
        return coc_diameter_px(
            self.focal_length_mm(view), self.f_number, self.focus_distance_m, distance_m,
            self.sensor_width_mm, view.width_px,
        )  # fmt: skip


def defocus_premultiplied(rgba_linear: np.ndarray, coc_diameter_px: float, width_ratio: float = 1.0
                          ) -> np.ndarray:
    """Disc-blur a premultiplied linear RGBA layer (H, W, 4) by one circle of confusion (an upright
    ellipse ``width_ratio`` times as wide as tall)."""
    if not math.isfinite(coc_diameter_px) or coc_diameter_px < 1.0:
        return rgba_linear
    alpha = rgba_linear[..., 3]
    straight = rgba_linear[..., :3] / np.maximum(alpha, 1e-6)[..., None]
    rgb, a = defocus_rgb_linear(straight, alpha, coc_diameter_px, width_ratio)
    assert a is not None
    return np.concatenate([rgb * a[..., None], a[..., None]], axis=2)


def defocus_by_depth(
    rgba_linear: np.ndarray, distance_m: np.ndarray, optics: SetOptics, view: SetView, max_slices: int = 8
) -> np.ndarray:
    """Defocus a premultiplied RGBA layer whose pixels lie at different distances (a layer with a depth
    map, a rendered 3D set): the picture is cut into slices of similar blur, each slice is blurred by
    its circle and the slices are laid back to front.

    ``distance_m`` float (H, W), along the optical axis; inf allowed, NaN where the layer is empty.
    """
    valid = ~np.isnan(distance_m) & (distance_m > 0)
    safe = np.where(valid, distance_m, np.inf)
    coc = np.asarray(optics.coc_px(view, safe), np.float32)
    if not np.any(valid) or float(np.max(coc[valid])) < 1.0:
        return rgba_linear
    # Signed blur (behind focus > 0, in front < 0) so slices never mix near and far pixels.
    signed = np.where(safe >= optics.focus_distance_m, coc, -coc)
    lo, hi = float(np.min(signed[valid])), float(np.max(signed[valid]))
    edges = np.linspace(lo, hi, min(max_slices, max(2, int(hi - lo) + 2)) + 1)
    idx = np.clip(np.searchsorted(edges, signed, side="right") - 1, 0, len(edges) - 2)
    slices = []
    for s in range(len(edges) - 1):
        mask = (idx == s) & valid
        if mask.any():
            slices.append((float(np.mean(np.minimum(safe[mask], 1e6))), s, mask))
    out = np.zeros_like(rgba_linear)
    for _, s, mask in sorted(slices, key=lambda t: -t[0]):  # far first: nearer slices cover farther
        piece = rgba_linear * mask[..., None].astype(np.float32)
        blurred = defocus_premultiplied(piece, abs(0.5 * (edges[s] + edges[s + 1])), optics.width_ratio(view))
        out = blurred + out * (1.0 - blurred[..., 3:4])
    return out
