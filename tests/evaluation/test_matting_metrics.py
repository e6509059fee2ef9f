"""Matting metrics on hand-computable cases."""

import numpy as np
import pytest

from guangying.evaluation import conn, dtssd, foreground_band_error, grad, mad, mse, sad


def test_mad_mse_sad_of_a_uniform_error():
    truth = np.zeros((10, 10), np.float32)
    alpha = np.full((10, 10), 0.5, np.float32)
    assert mad(alpha, truth) == pytest.approx(500.0)
    assert mse(alpha, truth) == pytest.approx(250.0)
    assert sad(alpha, truth) == pytest.approx(100 * 0.5 / 1000)


def test_grad_ignores_offsets_but_sees_a_missing_edge():
    truth = np.zeros((32, 32), np.float32)
    truth[:, 16:] = 1.0
    assert grad(truth, truth) == 0.0
    assert grad(truth * 0.5 + 0.2, truth * 0.5 + 0.2) == 0.0
    assert grad(truth + 0.2, truth) == pytest.approx(0.0, abs=1e-9)
    flat = np.full_like(truth, 0.5)
    # A unit-energy derivative-of-Gaussian across a unit step answers ≈ 0.28/0.1018 per row.
    assert grad(flat, truth) > 32 * (0.28 / 0.1018) ** 2 * 0.5 / 1e3


def test_conn_of_a_pixel_that_leaves_the_component_at_0_5():
    truth = np.ones((5, 5), np.float32)
    alpha = truth.copy()
    alpha[2, 2] = 0.5
    # That pixel leaves the largest component at threshold 0.6, so its level is 0.5:
    # φ(truth) = 1 − (1 − 0.5) = 0.5 and φ(alpha) = 1 − 0 = 1.
    assert conn(alpha, truth) == pytest.approx(0.5 / 1e3)
    assert conn(truth, truth) == 0.0


def test_dtssd_counts_frame_zero_as_zero():
    truth = np.zeros((2, 4, 4), np.float32)
    alphas = truth.copy()
    alphas[1] = 0.1
    assert dtssd(alphas, truth) == pytest.approx((0.0 + 0.1 * 1e2) / 2)
    assert dtssd(truth, truth) == 0.0


def test_foreground_error_only_in_the_semi_transparent_band():
    alpha_true = np.array([[0.0, 0.5, 1.0]], np.float32)
    fg_true = np.zeros((1, 3, 3), np.float32)
    fg = fg_true.copy()
    fg[0, 0] = 1.0  # outside the band: ignored
    fg[0, 1] = 0.1
    fg[0, 2] = 1.0  # solid: ignored
    assert foreground_band_error(fg, fg_true, alpha_true) == pytest.approx(100.0)


def test_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="one size"):
        mad(np.zeros((4, 4)), np.zeros((4, 5)))
