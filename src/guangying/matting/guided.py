"""Fast guided filter (He & Sun 2015) as RVM's ``FastGuidedFilterRefiner`` computes it, done outside ONNX.

The converted RVM graph runs this refiner at full output resolution with TF ops (depthwise box
filters, two resizes, several full-size multiplies): about half of a 1080p frame with our converter
(80 % in the tf2onnx conversion of ``shared/notes/models.md``). Here the cheap low-resolution half
(box filters → per-pixel affine coefficients A, b) runs with OpenCV and numba, and the
full-resolution half (bilinear upsampling of A, b and ``A·guide + b``) runs as one fused numba pass
that never materialises the full-size A and b.

Exact maths of the graph's ``fast_guided_filter_refiner`` nodes (checked against ``rvm.json``):
box filter = a 3×1 then a 1×3 depthwise convolution with weights 1/3 and VALID padding (so the
coefficients are (h−2)×(w−2)); eps = 1e-5; A and b are resized bilinearly with half-pixel centres
(TF ``ResizeBilinear``, align_corners False) to the full size. Guide channels are
[R, G, B, mean(R, G, B)], target channels [fgr_residual R, G, B, alpha]: channel i of the target is
regressed on channel i of the guide only.
"""

from __future__ import annotations

import cv2
import numpy as np

from guangying.base.errors import SettingsError
from guangying.base.jit import numba

RVM_EPS = 1e-5


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window, same size (mirrored border), float32, contiguous."""
    k = 2 * radius + 1
    out = cv2.boxFilter(x, -1, (k, k), normalize=True, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(x.shape)  # OpenCV drops a trailing singleton channel axis


@numba.njit(parallel=True, fastmath=True, cache=True)
def _coefficient_kernel(mean_x, mean_y, mean_xy, mean_xx, offset, eps, a_out, b_out):
    # offset = r crops the border (VALID); done here because numpy on strided crops is ~15× slower
    h, w, c = a_out.shape
    for i in numba.prange(h):
        for j in range(w):
            for k in range(c):
                mx = mean_x[i + offset, j + offset, k]
                my = mean_y[i + offset, j + offset, k]
                a = (mean_xy[i + offset, j + offset, k] - mx * my) / (
                    mean_xx[i + offset, j + offset, k] - mx * mx + eps
                )
                a_out[i, j, k] = a
                b_out[i, j, k] = my - a * mx


def guided_coefficients(
    guide_lowres: np.ndarray,
    target_lowres: np.ndarray,
    radius: int = 1,
    eps: float = RVM_EPS,
    valid: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel guided-filter coefficients at low resolution.

    ``guide_lowres`` and ``target_lowres`` are float32 (h, w, C) with the same C. Returns (A, b), each
    float32 (h − 2r, w − 2r, C) when ``valid`` (RVM's graph: box filter without padding), else
    (h, w, C) with the box filter mirrored at the border.
    """
    x = np.ascontiguousarray(guide_lowres, dtype=np.float32)
    y = np.ascontiguousarray(target_lowres, dtype=np.float32)
    if x.shape != y.shape or x.ndim != 3:
        raise SettingsError(f"guide {x.shape} and target {y.shape} must both be (h, w, C) and equal")
    if min(x.shape[:2]) <= 2 * radius:
        raise SettingsError(f"low-resolution input {x.shape[:2]} is too small for radius {radius}")
    offset = radius if valid else 0
    shape = (x.shape[0] - 2 * offset, x.shape[1] - 2 * offset, x.shape[2])
    a = np.empty(shape, np.float32)
    b = np.empty(shape, np.float32)
    _coefficient_kernel(_box(x, radius), _box(y, radius), _box(x * y, radius), _box(x * x, radius),
                        offset, np.float32(eps), a, b)
    return a, b


@numba.njit(parallel=True, fastmath=True, cache=True)
def _pack_rvm_kernel(src, fgr_residual, alpha, guide_out, target_out):
    h, w = alpha.shape
    for i in numba.prange(h):
        for j in range(w):
            r, g, b = src[i, j, 0], src[i, j, 1], src[i, j, 2]
            guide_out[i, j, 0] = r
            guide_out[i, j, 1] = g
            guide_out[i, j, 2] = b
            guide_out[i, j, 3] = (r + g + b) * (1.0 / 3.0)
            for c in range(3):
                target_out[i, j, c] = fgr_residual[i, j, c]
            target_out[i, j, 3] = alpha[i, j]


def rvm_coefficients(
    base_rgb: np.ndarray, fgr_residual: np.ndarray, alpha_raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """RVM's refiner coefficients from the network's low-resolution outputs.

    ``base_rgb`` (h, w, 3) is the network input, ``fgr_residual`` (h, w, 3) and ``alpha_raw`` (h, w)
    its unclipped outputs. Same as :func:`guided_coefficients` on the guide [R, G, B, mean(R, G, B)]
    and the target [fgr_residual, alpha], with the packing done in one pass (numpy's concatenate and
    channel mean cost more than the filter itself).
    """
    h, w = alpha_raw.shape
    guide = np.empty((h, w, 4), np.float32)
    target = np.empty((h, w, 4), np.float32)
    _pack_rvm_kernel(np.ascontiguousarray(base_rgb, np.float32),
                     np.ascontiguousarray(fgr_residual, np.float32),
                     np.ascontiguousarray(alpha_raw, np.float32), guide, target)
    return guided_coefficients(guide, target)


def _axis_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps with half-pixel centres, clamped at the edges (TF ResizeBilinear / cv2 INTER_LINEAR)."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


@numba.njit(parallel=True, fastmath=True, cache=True)
def _apply_rvm_kernel(a, b, y0, y1, fy, x0, x1, fx, fine_rgb, fgr_out, alpha_out):
    h, w = alpha_out.shape
    for y in numba.prange(h):
        r0 = y0[y]
        r1 = y1[y]
        wy = fy[y]
        for x in range(w):
            c0 = x0[x]
            c1 = x1[x]
            wx = fx[x]
            w00 = (1.0 - wy) * (1.0 - wx)
            w01 = (1.0 - wy) * wx
            w10 = wy * (1.0 - wx)
            w11 = wy * wx
            gray = (fine_rgb[y, x, 0] + fine_rgb[y, x, 1] + fine_rgb[y, x, 2]) * (1.0 / 3.0)
            for c in range(4):
                ac = w00 * a[r0, c0, c] + w01 * a[r0, c1, c] + w10 * a[r1, c0, c] + w11 * a[r1, c1, c]
                bc = w00 * b[r0, c0, c] + w01 * b[r0, c1, c] + w10 * b[r1, c0, c] + w11 * b[r1, c1, c]
                if c < 3:
                    src = fine_rgb[y, x, c]
                    # refined foreground residual + the source, clamped as the graph does
                    fgr_out[y, x, c] = min(max(ac * src + bc + src, 0.0), 1.0)
                else:
                    alpha_out[y, x] = min(max(ac * gray + bc, 0.0), 1.0)


def apply_rvm_coefficients(
    a: np.ndarray, b: np.ndarray, fine_rgb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution half of RVM's refiner in one fused pass.

    ``a``, ``b``: (h', w', 4) float32 coefficients from :func:`guided_coefficients` on the guide
    [R, G, B, gray] and the target [fgr_residual, alpha]. ``fine_rgb``: the full-resolution frame,
    float32 (H, W, 3) sRGB-encoded 0–1. Returns (foreground_rgb (H, W, 3), alpha (H, W)), float32,
    clamped to 0–1: fgr = clip(A·src + b + src), alpha = clip(A·gray + b).
    """
    fine = np.ascontiguousarray(fine_rgb, dtype=np.float32)
    height, width = fine.shape[:2]
    y0, y1, fy = _axis_taps(height, a.shape[0])
    x0, x1, fx = _axis_taps(width, a.shape[1])
    fgr = np.empty((height, width, 3), np.float32)
    alpha = np.empty((height, width), np.float32)
    _apply_rvm_kernel(
        np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32),
        y0, y1, fy, x0, x1, fx, fine, fgr, alpha,
    )
    return fgr, alpha


@numba.njit(parallel=True, fastmath=True, cache=True)
def _apply_gray_kernel(a, b, y0, y1, fy, x0, x1, fx, fine_gray, out):
    h, w = out.shape
    for y in numba.prange(h):
        r0 = y0[y]
        r1 = y1[y]
        wy = fy[y]
        for x in range(w):
            c0 = x0[x]
            c1 = x1[x]
            wx = fx[x]
            ac = (1.0 - wy) * ((1.0 - wx) * a[r0, c0] + wx * a[r0, c1]) + wy * (
                (1.0 - wx) * a[r1, c0] + wx * a[r1, c1]
            )
            bc = (1.0 - wy) * ((1.0 - wx) * b[r0, c0] + wx * b[r0, c1]) + wy * (
                (1.0 - wx) * b[r1, c0] + wx * b[r1, c1]
            )
            out[y, x] = min(max(ac * fine_gray[y, x] + bc, 0.0), 1.0)


def upsample_mask_guided(
    mask_lowres: np.ndarray, fine_rgb: np.ndarray, radius: int = 2, eps: float = 1e-3
) -> np.ndarray:
    """Upsample a low-resolution soft mask (h, w) to the frame's size, edges snapped to the picture.

    Fast guided filter with the frame's luma as guide: coefficients at the mask's resolution, applied
    at full resolution in one fused pass. Returns float32 (H, W) in 0–1.
    """
    fine = np.ascontiguousarray(fine_rgb, dtype=np.float32)
    h, w = mask_lowres.shape
    fine_gray = cv2.cvtColor(fine, cv2.COLOR_RGB2GRAY)
    # The low-res guide is the same luma (cvtColor's weights) so that A and b transfer to full size.
    guide_low = cv2.cvtColor(cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    a, b = guided_coefficients(guide_low[..., None], np.asarray(mask_lowres, np.float32)[..., None],
                               radius=radius, eps=eps, valid=False)
    out = np.empty(fine.shape[:2], np.float32)
    y0, y1, fy = _axis_taps(fine.shape[0], a.shape[0])
    x0, x1, fx = _axis_taps(fine.shape[1], a.shape[1])
    _apply_gray_kernel(np.ascontiguousarray(a[..., 0]), np.ascontiguousarray(b[..., 0]),
                       y0, y1, fy, x0, x1, fx, fine_gray, out)
    return out
