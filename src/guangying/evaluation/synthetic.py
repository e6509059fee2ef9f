"""Generated green/blue-screen plates with exact truth, for keyer tests and the keying benchmark.

A subject (body with stripes and skin, fine hair-like strands, a motion-blurred object) is drawn at
4× resolution and area-averaged, so every edge pixel's α is its exact coverage. It is composited in
linear light over an unevenly lit screen, with screen-coloured spill on the subject near its edges
and sensor noise. The truth foreground is the subject without spill (what despill should recover).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear

SCREEN_SRGB = {"green": (0.22, 0.62, 0.26), "blue": (0.12, 0.26, 0.68)}
_SUPERSAMPLE = 4
# Subject colours (sRGB): skin, yellow, near-black, white, red, light-brown hair, blond hair.
_PALETTE = np.array(
    [
        [0.86, 0.62, 0.50],
        [0.95, 0.84, 0.12],
        [0.08, 0.07, 0.07],
        [0.90, 0.90, 0.87],
        [0.75, 0.15, 0.12],
        [0.35, 0.22, 0.14],
        [0.85, 0.72, 0.45],
    ],
    np.float32,
)


@dataclass(slots=True)
class SyntheticPlate:
    """A plate and its truth. Colours float32 (H, W, 3) sRGB 0–1; alpha float32 (H, W) 0–1."""

    rgb: np.ndarray
    alpha: np.ndarray
    foreground_rgb: np.ndarray
    clean_plate_rgb: np.ndarray
    screen: str


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth random field in −1…1 (bicubic upsampling of a coarse grid)."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def make_subject(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(alpha (H, W), straight foreground sRGB (H, W, 3)) of a generated subject with fine detail."""
    h, w = shape
    ss = _SUPERSAMPLE
    body = np.zeros((h * ss, w * ss), np.uint8)
    cx, cy = int(w * ss * rng.uniform(0.4, 0.6)), int(h * ss * 0.42)
    head_r = int(min(h, w) * ss * rng.uniform(0.13, 0.18))
    cv2.ellipse(body, (cx, cy), (head_r, int(head_r * 1.25)), 0, 0, 360, 255, -1)
    neck_y = cy + head_r * 1.6
    shoulders = np.array(
        [
            [cx - head_r * 2.6, h * ss],
            [cx - head_r * 2.2, neck_y],
            [cx + head_r * 2.2, neck_y],
            [cx + head_r * 2.6, h * ss],
        ],
        np.int32,
    )
    cv2.fillPoly(body, [shoulders], 255)
    # Hair: strands leaving the top half of the head, 0.25–0.75 px wide once downsampled.
    hair = np.zeros_like(body)
    for _ in range(int(rng.integers(60, 90))):
        angle = rng.uniform(-np.pi * 0.95, -np.pi * 0.05)
        start = np.array([cx + np.cos(angle) * head_r * 0.9, cy + np.sin(angle) * head_r * 1.1])
        length = head_r * rng.uniform(0.5, 1.3)
        bend = rng.uniform(-0.8, 0.8)
        t = np.linspace(0, 1, 40)[:, None]
        direction = np.array([np.cos(angle + bend * t[:, 0]), np.sin(angle + bend * t[:, 0])]).T
        points = start + np.cumsum(direction * length / 40, axis=0)
        cv2.polylines(hair, [points.astype(np.int32)], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA)
    # A motion-blurred ball passing by.
    ball = np.zeros_like(body)
    bx, by = int(w * ss * rng.uniform(0.1, 0.25)), int(h * ss * rng.uniform(0.2, 0.5))
    cv2.circle(ball, (bx, by), int(min(h, w) * ss * 0.06), 255, -1, cv2.LINE_AA)

    def down(layer: np.ndarray) -> np.ndarray:
        return cv2.resize(layer.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)

    body_a, hair_a, ball_a = down(body), down(hair), down(ball)
    # Colours: stripes of palette colours with smooth shading over the body; skin on the head.
    rows = (np.arange(h) // max(4, h // 14)) % 2
    stripe_pick = rng.choice([1, 2, 3, 4], size=2, replace=False)
    body_rgb = _PALETTE[stripe_pick[rows]][:, None, :].repeat(w, axis=1)
    yy, xx = np.mgrid[0:h, 0:w]
    on_head = ((xx - cx / ss) / (head_r / ss)) ** 2 + ((yy - cy / ss) / (head_r * 1.25 / ss)) ** 2 < 1.1
    body_rgb[on_head] = _PALETTE[0]
    body_rgb = body_rgb * (1 + 0.12 * _smooth_field(rng, shape, 6))[..., None]
    hair_rgb = np.broadcast_to(_PALETTE[rng.choice([2, 5, 6])], (h, w, 3))
    ball_rgb = np.broadcast_to(_PALETTE[rng.choice([3, 4])], (h, w, 3))
    # Premultiplied "over" in linear light: hair over body, then the blurred ball over both.
    alpha = body_a
    premult = srgb_to_linear(np.clip(body_rgb, 0, 1)) * body_a[..., None]
    for layer_a, layer_rgb, blur_px in ((hair_a, hair_rgb, 0), (ball_a, ball_rgb, int(rng.integers(12, 24)))):
        layer_premult = srgb_to_linear(np.ascontiguousarray(layer_rgb)) * layer_a[..., None]
        if blur_px:
            kernel = np.zeros((blur_px, blur_px), np.float32)
            cv2.line(
                kernel, (0, int(rng.integers(0, blur_px))), (blur_px - 1, int(rng.integers(0, blur_px))), 1.0
            )
            kernel /= kernel.sum()
            layer_a = cv2.filter2D(layer_a, -1, kernel)
            layer_premult = cv2.filter2D(layer_premult, -1, kernel)
        premult = layer_premult + premult * (1 - layer_a[..., None])
        alpha = layer_a + alpha * (1 - layer_a)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    fg_linear = premult / np.maximum(alpha, 1e-6)[..., None]
    return alpha, linear_to_srgb(np.clip(fg_linear, 0, 1))


def put_on_screen(
    rng: np.random.Generator,
    alpha: np.ndarray,
    foreground_rgb: np.ndarray,
    screen: str = "green",
    unevenness: float = 0.35,
    spill: float = 0.15,
    noise_sigma: float = 0.01,
) -> SyntheticPlate:
    """Composite a subject in linear light over an unevenly lit screen, with spill and noise.

    ``unevenness``: the screen's light varies by about ±this fraction (smooth gradient + vignette).
    ``spill``: screen light added to the subject, strongest within ~10 px of its edge.
    ``noise_sigma``: Gaussian noise added to the sRGB code values (0.01 ≈ 2.5/255).
    """
    h, w = alpha.shape
    jitter = rng.uniform(-0.04, 0.04, 3).astype(np.float32)
    screen_linear = srgb_to_linear(np.clip(np.array(SCREEN_SRGB[screen], np.float32) + jitter, 0, 1))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gx, gy = rng.uniform(-1, 1, 2)
    light = 1 + unevenness * (0.5 * (gx * (xx / w - 0.5) + gy * (yy / h - 0.5)) * 2 - 0.5 * r2 + 0.3)
    light = light * (1 + 0.15 * unevenness * _smooth_field(rng, (h, w), 4))
    screen_field = screen_linear * np.clip(light, 0.3, 1.5)[..., None]
    solid = (alpha > 0.5).astype(np.uint8)
    depth_px = cv2.distanceTransform(solid, cv2.DIST_L2, 3)
    spill_map = spill * (0.3 + 0.7 * np.exp(-depth_px / 10.0))[..., None]
    fg_linear = srgb_to_linear(foreground_rgb)
    seen_fg = np.clip(fg_linear + spill_map * screen_field, 0, 1)
    a = alpha[..., None]
    plate_linear = a * seen_fg + (1 - a) * screen_field

    def shoot(linear: np.ndarray) -> np.ndarray:
        noisy = linear_to_srgb(linear) + rng.normal(0, noise_sigma, linear.shape).astype(np.float32)
        return np.clip(noisy, 0, 1).astype(np.float32)

    return SyntheticPlate(
        rgb=shoot(plate_linear),
        alpha=alpha.astype(np.float32),
        foreground_rgb=foreground_rgb.astype(np.float32),
        clean_plate_rgb=shoot(screen_field),
        screen=screen,
    )


def make_plate(
    seed: int, shape: tuple[int, int] = (288, 512), screen: str = "green", **screen_options
) -> SyntheticPlate:
    """A complete generated plate: :func:`make_subject` on :func:`put_on_screen`, from one seed."""
    rng = np.random.default_rng(seed)
    alpha, fg = make_subject(rng, shape)
    return put_on_screen(rng, alpha, fg, screen, **screen_options)
