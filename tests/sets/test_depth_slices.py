"""Depth of field by slices (a rendered 3D set, a layer with a depth map): each slice is blurred in
its own box, grown by its blur, which must give what blurring it across the whole frame gives."""

from __future__ import annotations

import numpy as np
import pytest

from guangying.composite.defocus import defocus_rgb_linear
from guangying.lens.camera import CameraPose, intrinsics_matrix
from guangying.sets.optics import SetOptics, defocus_by_depth
from guangying.sets.view import SetView

H, W = 240, 400


def _view(pixel_aspect: float = 1.0) -> SetView:
    k = intrinsics_matrix(135.0, 24.89, W, H)
    k[0, 0] /= pixel_aspect  # an anamorphic squeeze: fx = fy / pixel aspect
    return SetView(CameraPose(), k, W, H)


@pytest.mark.parametrize("pixel_aspect", [1.0, 2.0], ids=["spherical", "anamorphic"])
@pytest.mark.parametrize("f_number", [2.8, 1.4], ids=["blur under 48 px", "blur shrunk first"])
def test_a_lone_object_blurs_as_across_the_whole_frame(f_number, pixel_aspect):
    # One box at 2 m, the lens focused at 8 m: its slice alone, one near a frame edge and one inside.
    view, optics = _view(pixel_aspect), SetOptics(f_number, 8.0, 24.89)
    for box in ((slice(100, 140), slice(150, 210)), (slice(0, 30), slice(360, 400))):
        rgba = np.zeros((H, W, 4), np.float32)
        rgba[box] = (0.7, 0.3, 0.1, 1.0)
        distance_m = np.full((H, W), np.nan, np.float32)
        distance_m[box] = 2.0
        got = defocus_by_depth(rgba, distance_m, optics, view)
        diameter = float(optics.coc_px(view, 2.0))
        rgb, alpha = defocus_rgb_linear(rgba[..., :3], rgba[..., 3], diameter, optics.width_ratio(view))
        assert alpha is not None and diameter > 20
        whole = np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=2)
        spread = got[..., 3] > 1e-3
        assert spread.sum() > 1.5 * (rgba[..., 3] > 0).sum()  # the blur reaches well past the box
        np.testing.assert_allclose(got, whole, atol=2e-3 if diameter > 48 else 1e-5)


def test_near_slices_cover_far_ones_and_the_frame_stays_whole():
    # A near box in front of a wall that fills the frame: the slices, each blurred in its own box,
    # lay back together with no seam or gap (alpha 1 everywhere), the box opaque at its middle.
    view, optics = _view(), SetOptics(2.0, 3.0, 24.89)
    rgba = np.zeros((H, W, 4), np.float32)
    rgba[...] = (0.1, 0.2, 0.6, 1.0)
    distance_m = np.tile(np.linspace(20.0, 40.0, W, dtype=np.float32), (H, 1))  # a receding wall
    near = (slice(60, 180), slice(100, 300))
    rgba[near] = (0.9, 0.8, 0.1, 1.0)
    distance_m[near] = 1.2
    got = defocus_by_depth(rgba, distance_m, optics, view)
    assert float(optics.coc_px(view, 1.2)) > 20 and float(optics.coc_px(view, 30.0)) > 20
    # (within 1e-3: the far slice's hole where the box stands is blurred too, as slicing does)
    np.testing.assert_allclose(got[..., 3], 1.0, atol=1e-3)
    np.testing.assert_allclose(got[120, 200], (0.9, 0.8, 0.1, 1.0), atol=1e-3)
    np.testing.assert_allclose(got[5, 5], (0.1, 0.2, 0.6, 1.0), atol=1e-3)


def test_what_lies_in_focus_stays_sharp_beside_a_huge_blur():
    # Slices of equal width across the frame's blurs (8 of them) blurred the wall in focus by half a
    # slice once something near the lens had a blur of hundreds of pixels.
    view, optics = _view(), SetOptics(2.0, 5.0, 24.89)
    rng = np.random.default_rng(3)
    rgba = np.ones((H, W, 4), np.float32)
    rgba[..., :3] = rng.uniform(0.1, 0.9, (H, W, 3))  # texture: any blur shows
    distance_m = np.full((H, W), 5.0, np.float32)
    distance_m[:, :40] = 1.0  # the edge of something near the lens
    assert float(optics.coc_px(view, 1.0)) > 100
    got = defocus_by_depth(rgba, distance_m, optics, view)
    np.testing.assert_allclose(got[:, 160:], rgba[:, 160:], atol=1e-6)  # the wall, clear of the near blur
    # and a wall a little off focus is blurred by its own circle, not by its slice's middle
    distance_m[:, 40:] = 5.5
    got = defocus_by_depth(rgba, distance_m, optics, view)
    diameter = float(optics.coc_px(view, 5.5))
    rgb, _ = defocus_rgb_linear(rgba[..., :3], rgba[..., 3], diameter)
    assert 1.0 < diameter < 10.0
    np.testing.assert_allclose(got[20:-20, 250:-20, :3], rgb[20:-20, 250:-20], atol=2e-3)
