import math

import numpy as np
import pytest

from guangying.composite.defocus import (
    defocus_layer_linear,
    defocus_rgb_linear,
    disc_kernel,
)
from guangying.lens.optics import blur_width_ratio, coc_diameter_px, depth_of_field


def test_coc_px_matches_dof_limits():
    # at the DoF limits the blur circle is exactly the CoC used for them (0.025 mm on a 24.89 mm S35)
    d = depth_of_field(135, 2, 5, coc_mm=0.025)
    for obj in (d.near_m, d.far_m):
        assert coc_diameter_px(135, 2, 5, obj, 24.89, 1920) == pytest.approx(0.025 / 24.89 * 1920, rel=1e-6)
    assert coc_diameter_px(135, 2, 5, 5.0, 24.89, 1920) == 0.0
    # background at infinity: A·f/(s−f) = 67.5·135/4865 mm = 1.873 mm → 144.5 px
    expected = 67.5 * 135 / 4865 / 24.89 * 1920
    assert coc_diameter_px(135, 2, 5, math.inf, 24.89, 1920) == pytest.approx(expected)
    arr = coc_diameter_px(50, 2.8, 3, np.array([1.0, 3.0, 10.0]), 36, 1000)
    assert arr.shape == (3,) and arr[1] == 0 and arr[0] > arr[2] > 0
    with pytest.raises(ValueError, match="inside the focal length"):
        coc_diameter_px(50, 2, 0.03, 1.0, 36, 1000)


def test_disc_kernel_normalised_and_round():
    k = disc_kernel(21)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    assert k.shape == (23, 23) and k[11, 11] > 0 and k[0, 0] == 0
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1])


@pytest.mark.parametrize("diameter", [15.0, 120.0])  # direct filter2D and the shrink-first path
def test_point_spreads_to_disc_of_coc_diameter(diameter):
    img = np.zeros((301, 301, 3), np.float32)
    img[148:153, 148:153] = 40.0  # a small bright light (5×5 so the shrink path keeps it)
    out, _ = defocus_rgb_linear(img, None, diameter)
    assert out.sum() == pytest.approx(img.sum(), rel=0.03)  # energy kept
    row = out[150, :, 0]
    lit = np.nonzero(row > row.max() * 0.5)[0]
    assert lit.size == pytest.approx(diameter, rel=0.2)
    centre = out[145:156, 145:156, 0]
    assert centre.std() / centre.mean() < 0.2  # a flat disc (bokeh), not a Gaussian peak


def test_premultiplied_edges_do_not_darken():
    rgb = np.zeros((80, 80, 3), np.float32)
    alpha = np.zeros((80, 80), np.float32)
    rgb[:, 40:] = (0.9, 0.5, 0.2)
    alpha[:, 40:] = 1.0
    out, a = defocus_rgb_linear(rgb, alpha, 11.0)
    edge = (a > 0.02) & (a < 0.98)
    assert edge.sum() > 0
    assert np.allclose(out[edge], (0.9, 0.5, 0.2), atol=1e-3)  # straight colour kept at soft edges
    assert a[:, :30].max() < 1e-6 and a[:, 35:45].min() > 0  # alpha spread by the disc radius


def test_layer_helper_and_small_coc():
    plate = np.random.default_rng(0).random((60, 90, 3)).astype(np.float32)
    same, alpha, c = defocus_layer_linear(plate, None, 5.0, 5.0, 135, 2, 24.89)
    assert c == 0.0 and alpha is None and np.array_equal(same, plate)
    far, _, c = defocus_layer_linear(plate, None, math.inf, 2.0, 135, 2, 24.89)
    assert c > 1 and far.std() < plate.std()


@pytest.mark.parametrize("diameter", [24.0, 160.0])  # direct filter2D and the shrink-first path
def test_an_anamorphic_plates_blur_is_an_upright_oval(diameter):
    """A plate stored squeezed by a 2× anamorphic lens: the blur is as tall as the nominal focal length
    makes it and a quarter as wide in stored pixels, so, shown unsqueezed, the bokeh is twice as tall
    as wide (it was a disc in stored pixels: shown as an oval lying on its side)."""
    img = np.zeros((401, 401, 3), np.float32)
    img[198:203, 198:203] = 40.0
    out, _ = defocus_rgb_linear(img, None, diameter, blur_width_ratio(2.0))
    assert out.sum() == pytest.approx(img.sum(), rel=0.03)
    lit = out[..., 0] > out[..., 0].max() * 0.5
    rows, cols = np.nonzero(lit.any(axis=1))[0], np.nonzero(lit.any(axis=0))[0]
    tall, wide = rows.size, cols.size
    assert tall == pytest.approx(diameter, rel=0.2)
    assert tall / wide == pytest.approx(4.0, rel=0.2)  # stored; 2:1 upright as shown
    k = disc_kernel(20.0, 0.25)
    assert k.shape == (21, 7) and k.sum() == pytest.approx(1.0, abs=1e-5)
    plate = np.random.default_rng(1).random((60, 90, 3)).astype(np.float32)
    round_, _, c_round = defocus_layer_linear(plate, None, math.inf, 2.0, 135, 2, 24.89)
    oval, _, c_oval = defocus_layer_linear(plate, None, math.inf, 2.0, 135, 2, 24.89, pixel_aspect=2.0)
    assert c_oval == c_round and not np.allclose(oval, round_)
    with pytest.raises(ValueError, match="pixel aspect"):
        blur_width_ratio(0.0)
