"""RVM's fast guided filter refiner, ours (OpenCV + numba) against a plain numpy transcription of
the graph's ``fast_guided_filter_refiner`` nodes."""

from __future__ import annotations

import numpy as np
import pytest

from guangying.matting.guided import (
    apply_rvm_coefficients,
    guided_coefficients,
    rvm_coefficients,
    upsample_mask_guided,
)


def _box_valid_ref(x: np.ndarray) -> np.ndarray:
    """3×1 then 1×3 depthwise convolution, weights 1/3, VALID padding (the graph's box filter)."""
    x = x.astype(np.float64)
    v = (x[:-2] + x[1:-1] + x[2:]) / 3.0
    return (v[:, :-2] + v[:, 1:-1] + v[:, 2:]) / 3.0


def _resize_bilinear_ref(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF ResizeBilinear with half_pixel_centers=True, align_corners=False."""
    in_h, in_w = img.shape[:2]

    def taps(n_out: int, n_in: int):
        s = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        s = np.clip(s, 0, n_in - 1)
        lo = np.floor(s).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), s - lo

    y0, y1, fy = taps(out_h, in_h)
    x0, x1, fx = taps(out_w, in_w)
    fy = fy[:, None, None]
    fx = fx[None, :, None]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bot = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def _refiner_ref(fine_src, base_src, base_fgr_residual, base_pha):
    lr_x = np.concatenate([base_src, base_src.mean(2, keepdims=True)], 2).astype(np.float64)
    lr_y = np.concatenate([base_fgr_residual, base_pha[..., None]], 2).astype(np.float64)
    hr_x = np.concatenate([fine_src, fine_src.mean(2, keepdims=True)], 2).astype(np.float64)
    mean_x = _box_valid_ref(lr_x)
    mean_y = _box_valid_ref(lr_y)
    cov_xy = _box_valid_ref(lr_x * lr_y) - mean_x * mean_y
    var_x = _box_valid_ref(lr_x * lr_x) - mean_x * mean_x
    a = cov_xy / (var_x + 1e-5)
    b = mean_y - a * mean_x
    out = _resize_bilinear_ref(a, *fine_src.shape[:2]) * hr_x + _resize_bilinear_ref(b, *fine_src.shape[:2])
    fgr = np.clip(out[..., :3] + fine_src, 0, 1)
    pha = np.clip(out[..., 3], 0, 1)
    return fgr, pha


def _scene(h: int, w: int, seed: int):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    fine = np.stack([xx, yy, 0.5 + 0.3 * np.sin(9 * xx * yy)], 2)
    fine = np.clip(fine + rng.normal(0, 0.03, fine.shape), 0, 1).astype(np.float32)
    return fine


@pytest.mark.parametrize(("fine_hw", "base_hw"), [((270, 480), (67, 120)), ((101, 157), (40, 61))])
def test_refiner_matches_numpy_reference(fine_hw, base_hw):
    import cv2

    fine = _scene(*fine_hw, seed=1)
    base = cv2.resize(fine, base_hw[::-1], interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0 : base_hw[0], 0 : base_hw[1]] / np.array(base_hw)[:, None, None]
    pha = np.clip(1.5 - 3 * np.hypot(xx - 0.5, yy - 0.5) + rng.normal(0, 0.05, xx.shape), 0, 1)
    pha = pha.astype(np.float32)
    residual = (rng.normal(0, 0.05, base.shape) * pha[..., None]).astype(np.float32)

    a, b = rvm_coefficients(base, residual, pha)
    assert a.shape == (base_hw[0] - 2, base_hw[1] - 2, 4)
    guide = np.concatenate([base, base.mean(2, keepdims=True)], 2)
    a_ref, b_ref = guided_coefficients(guide, np.concatenate([residual, pha[..., None]], 2))
    assert np.allclose(a, a_ref, atol=1e-5) and np.allclose(b, b_ref, atol=1e-5)
    fgr, alpha = apply_rvm_coefficients(a, b, fine)
    fgr_ref, alpha_ref = _refiner_ref(fine, base, residual, pha)
    assert alpha.shape == fine_hw and fgr.shape == (*fine_hw, 3)
    assert np.max(np.abs(alpha - alpha_ref)) < 2e-3
    assert np.max(np.abs(fgr - fgr_ref)) < 2e-3
    assert np.mean(np.abs(alpha - alpha_ref)) < 1e-4


def test_guided_filter_is_identity_when_target_equals_guide():
    # With target = guide and a tiny eps, A ≈ 1 and b ≈ 0 wherever the guide has texture.
    guide = _scene(40, 50, seed=3)[..., :1] * 0.8 + 0.1
    noise = np.random.default_rng(4).normal(0, 0.05, guide.shape).astype(np.float32)
    guide = guide + noise
    a, b = guided_coefficients(guide, guide, radius=2, eps=1e-8, valid=False)
    assert a.shape == guide.shape
    assert np.median(a) == pytest.approx(1.0, abs=1e-3)
    assert np.median(np.abs(b)) < 1e-3


def test_guided_coefficients_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="must both be"):
        guided_coefficients(np.zeros((10, 10, 4), np.float32), np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        guided_coefficients(np.zeros((2, 10, 1), np.float32), np.zeros((2, 10, 1), np.float32))


def test_mask_upsampling_snaps_to_picture_edges():
    # A hard vertical edge in the frame, a blurry low-res mask: the upsampled mask must be sharp at
    # the frame's edge (the guide), not blurred like a bilinear upscale.
    h, w = 180, 320
    frame = np.full((h, w, 3), 0.2, np.float32)
    frame[:, 130:] = 0.8
    mask_low = np.clip((np.arange(64) - 26) / 5.0 + 0.5, 0, 1).astype(np.float32)[None].repeat(36, 0)
    alpha = upsample_mask_guided(mask_low, frame, radius=3, eps=1e-3)
    assert alpha.shape == (h, w) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    row = alpha[90]
    assert row[:120].max() < 0.25 and row[140:].min() > 0.75
    # a bilinear upscale of the same mask spreads the ramp over ~25 px; ours jumps within a few px
    assert row[131] - row[128] > 0.4
