"""A veil of near-black hair hanging across the opening between an arm and the body keeps its coverage;
screen seen through that opening in the body's shadow, with no hair across it, stays clear.

The keyer's screen plate took such a veil for screen in the body's shadow (it has the screen's
chromaticity, as a shadow has) and followed it, so the strands keyed thin; or, dense, for a lit surface
the subject encloses, and keyed it solid. What tells them apart here is scale: strands vary from pixel
to pixel, a shadow over many of them.

Own generator (not the benchmark's renderer, not the keyer's model, not the strands of
``test_veil_in_gap``'s lead generator): opaque fibres, 0.25–0.75 px wide, drawn as swaying curves at
4× and averaged down, hanging across an elliptical opening ringed by an arm and the torso; the coverage
is set by how many fibres hang there, not by thinning them. Fibres: near-black brown with a sheen of
the screen's light that varies along them. The screen: uneven light, the body's shadow over the
opening. Camera: lens blur, shot and read noise on raw values, then an RGGB mosaic demosaiced by
OpenCV's edge-aware method, or 8-bit JPEG q85 (4:2:0 chroma).
"""

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.keyer import ChromaKeyer, KeyerSettings

H, W, S = 360, 640, 4  # frame, and the supersampling the fibres are drawn at
SCREEN = np.array([0.07, 0.40, 0.15], np.float32)  # linear
FIBRE = np.array([0.011, 0.007, 0.005], np.float32)  # near-black brown, linear
CLOTH = np.array([0.020, 0.018, 0.022], np.float32)


def _raster(draw, size: tuple[int, int] = (H * S, W * S)) -> np.ndarray:  # noqa: ANN001
    canvas = np.zeros(size, np.uint8)
    draw(canvas)
    return cv2.resize(canvas.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)


def _frame(
    seed: int, coverage: float, camera: str, shade: float = 1.0, motion_px: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sRGB float32 (H, W, 3), α* (H, W), the opening's inside away from its rim (H, W) bool)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    screen = (1.0 - 0.18 * (yy / H - 0.3) ** 2 - 0.1 * (xx / W - 0.6) ** 2)[..., None] * SCREEN
    cx, cy = rng.uniform(300, 340), rng.uniform(200, 215)
    ox, oy, ax, ay = cx + 120, cy - 5, rng.uniform(48, 58), rng.uniform(40, 50)

    def ellipse(centre: tuple[float, float], axes: tuple[float, float]):  # noqa: ANN202
        c, a = (int(centre[0] * S), int(centre[1] * S)), (int(axes[0] * S), int(axes[1] * S))
        return lambda im: cv2.ellipse(im, c, a, 0, 0, 360, 255, -1)

    torso = _raster(ellipse((cx, cy + 60), (95, 170)))
    arm = _raster(ellipse((ox, oy), (ax + 14, ay + 14)))
    opening = _raster(ellipse((ox, oy), (ax, ay)))
    body = np.clip(np.maximum(torso, arm) - opening, 0, 1)
    inside = cv2.erode((opening > 0.999).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    fibres = np.zeros((H * S, W * S), np.uint8)
    t = np.linspace(0, 1, 40)
    hair = np.zeros((H, W), np.float32)
    while coverage > 0 and hair[inside].mean() < coverage:
        for _ in range(6):  # fibres hang from above the opening to below it, swaying
            x0 = rng.uniform(ox - ax - 10, ox + ax + 10)
            lean, sway, phase = rng.normal(0, 18), rng.uniform(2, 9), rng.uniform(0, 6.3)
            xs = x0 + lean * t + sway * np.sin(2.5 * np.pi * t + phase)
            ys = (oy - ay - 20) + (2 * ay + 40) * t
            points = np.stack([xs * S, ys * S], -1).astype(np.int32)
            cv2.polylines(fibres, [points], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA)
        hair = cv2.resize(fibres.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA) * opening
    alpha = np.maximum(body, hair)
    sheen = 0.12 * (0.7 + 0.6 * rng.random((H, 1)).astype(np.float32))
    colour = np.where((body > 0)[..., None], CLOTH + 0.1 * SCREEN, FIBRE + sheen[..., None] * SCREEN)
    shadow = 1 - (1 - shade) * cv2.GaussianBlur(opening, (0, 0), 4.0)
    linear = alpha[..., None] * colour + (1 - alpha[..., None]) * screen * shadow[..., None]
    linear = cv2.GaussianBlur(linear, (0, 0), 0.7)
    if motion_px:
        linear, alpha = cv2.blur(linear, (motion_px, 1)), cv2.blur(alpha, (motion_px, 1))
        inside = cv2.erode(inside.astype(np.uint8), np.ones((1, motion_px), np.uint8)) > 0
    raw = rng.poisson(np.clip(linear, 0, 1) * 4000.0) / 4000.0 + rng.normal(0, 0.0015, linear.shape)
    raw = np.clip(raw, 0, 1).astype(np.float32)
    if camera == "mosaic":
        mosaic = np.zeros((H, W), np.float32)
        mosaic[0::2, 0::2], mosaic[0::2, 1::2] = raw[0::2, 0::2, 0], raw[0::2, 1::2, 1]
        mosaic[1::2, 0::2], mosaic[1::2, 1::2] = raw[1::2, 0::2, 1], raw[1::2, 1::2, 2]
        raw = cv2.cvtColor(np.round(mosaic * 65535).astype(np.uint16), cv2.COLOR_BayerBG2RGB_EA) / 65535.0
    rgb8 = np.round(linear_to_srgb(np.clip(raw, 0, 1).astype(np.float32)) * 255).astype(np.uint8)
    if camera == "jpeg":
        _, stored = cv2.imencode(".jpg", rgb8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        rgb8 = cv2.imdecode(stored, cv2.IMREAD_COLOR)[..., ::-1]
    return rgb8.astype(np.float32) / 255, alpha, inside


def _key(rgb: np.ndarray) -> np.ndarray:
    return ChromaKeyer(KeyerSettings()).process(rgb).alpha


@pytest.mark.parametrize("camera", ["mosaic", "jpeg"])
@pytest.mark.parametrize("coverage", [0.15, 0.35, 0.5])
def test_a_veil_of_dark_strands_across_an_enclosed_opening_keeps_its_coverage(coverage: float, camera: str):
    # Keyed over true mean α inside the opening, seeds 0–1, before: 0.58–0.80 (0.15), 0.72–1.15
    # (0.35), 1.02–1.67 (0.5); now 0.87–0.95, 1.00–1.04, 1.08–1.09. At 0.7 these fibres keep 3.5–4.4 %
    # own light, as much as a screen-lit dark coat can, and key 1.27–1.42 as before (not tested).
    for seed in range(2):
        rgb, alpha, inside = _frame(seed, coverage, camera)
        share = float(_key(rgb)[inside].mean() / alpha[inside].mean())
        assert 0.8 <= share <= 1.25, (seed, share)


def test_the_opening_in_the_bodys_shadow_without_strands_stays_clear():
    for camera in ("mosaic", "jpeg"):
        for shade in (0.75, 0.6):
            rgb, _, inside = _frame(3, 0.0, camera, shade)
            assert _key(rgb)[inside].mean() < 0.01, (camera, shade)
        rgb, _, inside = _frame(3, 0.0, camera, 0.75, motion_px=16)
        assert _key(rgb)[inside].mean() < 0.1, camera
