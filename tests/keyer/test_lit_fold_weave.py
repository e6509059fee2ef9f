"""Screen-lit folds on a dark coat whose weave carries the bounce stay solid, narrow or lit past 0.8 of
the screen; screen seen through the gaps beside the arms stays clear, in the body's shadow too.

The coat here is a height field (torso curvature plus drape ridges, or a panel turned towards the
screen), not a share of screen light painted on: the screen's bounce is a fibre sheen lobe on the
facets turned away from the camera (1 − n_z), carried by the threads of a twill weave (±20–25 % from
thread to thread), and the key light shades the same facets darker. The camera adds shot and read
noise to the raw values, samples them through an RGGB mosaic and demosaics them (OpenCV's
edge-aware method), or further stores them as JPEG q90.

Before: the fold fades within a few analysis cells (the plate's fade test missed it, and a panel lit
to 0.75 keyed out: holes of ~8 800 px at 640×360), and the weave's brightest threads read as gaps in
a lit surface (the solid-subject floor refused the cells; ridges lit to 0.8–0.9 kept holes of
1 100–1 800 px).
"""

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SCREEN = np.array([0.06, 0.42, 0.13], np.float32)
SHAPE = (360, 640)


def _coat(
    seed: int, fold: tuple[float, float] | None, camera: str, gap_light: float = 1.0, motion_px: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB float32 (H, W, 3), the coat's α = 1 interior, its fold's lit middle, the screen
    seen through the gaps beside the arms (bool (H, W) each)).

    ``fold``: (half width in px: > 0 a ridge, < 0 a panel of twice that width turned towards the
    screen; the sheen's peak as a share of the screen's light). ``gap_light``: the body's shadow on
    the gap it encloses with the arm akimbo.
    """
    h, w = SHAPE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # The screen: lamps from the top right, its red rising a little towards the floor.
    light = 1.05 - 0.25 * (xx / w - 0.7) ** 2 - 0.2 * (yy / h - 0.2) ** 2
    tint = np.stack([1 + 0.06 * (yy / h - 0.5), np.ones_like(yy), 1 - 0.04 * (xx / w - 0.5)], -1)
    screen = light[..., None] * tint * SCREEN
    s = 4
    canvas = np.zeros((h * s, w * s), np.uint8)
    cx, top, half = w * rng.uniform(0.47, 0.53), h * rng.uniform(0.33, 0.38), w * rng.uniform(0.15, 0.18)

    def px(points: list[tuple[float, float]]) -> np.ndarray:
        return (np.array(points) * s).astype(np.int32)

    torso = [(cx - 0.85 * half, top), (cx + 0.85 * half, top), (cx + half, top + 30),
             (cx + 0.95 * half, h + 2), (cx - 0.95 * half, h + 2), (cx - half, top + 30)]  # fmt: skip
    cv2.fillPoly(canvas, [px(torso)], 255)
    cv2.ellipse(canvas, (int(cx * s), int((top - 48) * s)), (36 * s, 46 * s), 0, 0, 360, 255, -1)
    cv2.fillPoly(
        canvas, [px([(cx - 15, top - 12), (cx + 15, top - 12), (cx + 15, top + 4), (cx - 15, top + 4)])], 255
    )
    # Arm akimbo on the right (the gap enclosed), arm hanging on the left (a gap of 16–22 px, open below).
    shoulder, hip = (cx + 0.9 * half, top + 10), (cx + 0.97 * half, top + 170)
    elbow = (cx + half + rng.uniform(70, 100), top + rng.uniform(80, 110))
    for a, b in ((shoulder, elbow), (elbow, hip)):
        cv2.line(
            canvas, (int(a[0] * s), int(a[1] * s)), (int(b[0] * s), int(b[1] * s)), 255, 26 * s, cv2.LINE_AA
        )
    cv2.circle(canvas, (int(elbow[0] * s), int(elbow[1] * s)), 13 * s, 255, -1)
    g = rng.uniform(16, 22)
    arm = [(cx - 0.88 * half, top + 4), (cx - half - 34, top + 40), (cx - half - g - 40, h + 2),
           (cx - 0.95 * half - g, h + 2), (cx - half - 12, top + 75)]  # fmt: skip
    cv2.fillPoly(canvas, [px(arm)], 255)
    alpha = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    head = yy < top - 6
    # Height field (px): the torso's curvature, and the fold fading in and out along its length.
    inside = cv2.distanceTransform((alpha > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    z = 30 * np.sqrt(np.clip(inside / 30, 0, 1))
    middle = np.zeros((h, w), bool)
    peak = 0.0
    if fold is not None:
        half_width, peak = fold
        along = np.clip(np.minimum(yy - (top + 40), h - 20 - yy) / 40, 0, 1)
        along = along * along * (3 - 2 * along)
        if half_width > 0:  # a ridge as high as it is wide: both flanks turn towards the screen
            t = np.clip((xx - cx) / half_width, -1, 1)
            z = z + 1.6 * half_width * np.cos(t * np.pi / 2) ** 2 * along
            middle = (np.abs(xx - cx) < 0.8 * half_width) & (along > 0.9)
        else:  # a panel at a constant slope, curving in over ~6 px at each end
            half_width = -half_width
            t = np.clip((xx - cx + half_width) / (2 * half_width), 0, 1)
            z = z + 1.4 * cv2.GaussianBlur((t * 2 * half_width).astype(np.float32), (0, 0), 3.0) * along
            middle = (np.abs(xx - cx) < half_width - 6) & (along > 0.9)
    z = cv2.GaussianBlur(z.astype(np.float32), (0, 0), 1.2)
    gx = cv2.Sobel(z, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(z, cv2.CV_32F, 0, 1, ksize=3) / 8
    nz = 1 / np.sqrt(1 + gx * gx + gy * gy)
    # Twill (diagonal threads, 4 px period) and fibre noise.
    twill = 0.5 + 0.5 * np.sin((xx + yy) * np.pi / 2 + rng.uniform(0, 6))
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
    fibre /= fibre.std()
    # Own light: half ambient, half a key light from the front left above (facets turned away get less).
    facing = np.clip((0.35 * gx + 0.3 * gy + 0.89) * nz, 0, 1)
    blotch = cv2.resize(
        rng.uniform(0.8, 1.15, (6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    cloth = np.array([0.018, 0.02, 0.024], np.float32)
    weave = np.clip(0.75 + 0.5 * twill + 0.12 * fibre, 0.3, None)
    own = cloth * ((0.5 + 0.5 * facing) * blotch * weave)[..., None]
    own = np.where(
        head[..., None], np.array([0.32, 0.19, 0.13], np.float32) * (0.5 + 0.5 * facing)[..., None], own
    )
    # The bounce: a sheen lobe towards grazing, scaled so the fold's middle peaks at `peak` of the
    # screen's light; the threads carry it, tinted a little to the fibres' colour.
    graze = np.clip(1 - nz, 0, 1)
    top_graze = float(np.percentile(graze[middle], 98)) if middle.any() else 1.0
    sheen = np.where(np.abs(xx - cx) < 40, peak * np.clip(graze / top_graze, 0, 1.15), 0.0) + 0.08 * graze
    thread = np.clip(0.8 + 0.4 * twill + 0.1 * fibre, 0, None)
    behind = cv2.GaussianBlur(screen, (0, 0), 20) * (0.9 + 0.1 * cloth / cloth.mean())
    bounce = (sheen * thread * ~head)[..., None] * behind
    # The body's shadow over the enclosed gap.
    count, labels = cv2.connectedComponents((alpha < 0.999).astype(np.uint8), connectivity=8)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = (~np.isin(labels, border) & (labels > 0)).astype(np.float32)
    shade = 1 - (1 - gap_light) * cv2.GaussianBlur(
        cv2.dilate(enclosed, np.ones((7, 7), np.uint8)), (0, 0), 3.0
    )
    a3 = alpha[..., None]
    linear = cv2.GaussianBlur(a3 * (own + bounce) + (1 - a3) * screen * shade[..., None], (0, 0), 0.6)
    if motion_px:
        linear = cv2.blur(linear, (motion_px, 1))
        alpha = cv2.blur(alpha, (motion_px, 1))
    # Camera: shot and read noise on raw values, RGGB mosaic, edge-aware demosaic; JPEG q90 optionally.
    photons = 3000.0
    raw = rng.poisson(np.clip(linear / 1.2, 0, 1) * photons) / photons + rng.normal(0, 0.002, linear.shape)
    raw = np.clip(raw * 1.2, 0, 1).astype(np.float32)
    mosaic = np.zeros((h, w), np.float32)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = raw[0::2, 0::2, 0], raw[0::2, 1::2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = raw[1::2, 0::2, 1], raw[1::2, 1::2, 2]
    raw = cv2.cvtColor(np.round(mosaic * 65535).astype(np.uint16), cv2.COLOR_BayerBG2RGB_EA) / 65535.0
    rgb8 = np.round(np.clip(linear_to_srgb(np.clip(raw, 0, 1).astype(np.float32)), 0, 1) * 255).astype(
        np.uint8
    )
    if camera == "jpeg":
        _, stored = cv2.imencode(".jpg", rgb8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        rgb8 = cv2.imdecode(stored, cv2.IMREAD_COLOR)[..., ::-1]
    count, labels = cv2.connectedComponents((alpha <= 0).astype(np.uint8), connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0
    gaps = (labels > 0) & (labels != int(np.argmax(sizes)))
    return rgb8.astype(np.float32) / 255, alpha >= 1, middle & (alpha >= 1), gaps


def _key(frame: np.ndarray) -> np.ndarray:
    return ChromaKeyer(KeyerSettings()).process(frame).alpha


def _gaps_inside(gaps: np.ndarray) -> np.ndarray:
    return cv2.erode(gaps.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0


# (fold, largest hole allowed in px, least mean α over the fold's middle). Before the fix: holes of
# 7 700–9 100 px (panel), 36–1 800 px (ridge at 0.8; over 90 px in 4 of these 4 frames), 1 150–1 300 px
# (ridge at 0.9), the middle keyed at 0.12–0.44 (panel, ridge at 0.9).
CASES = {
    "panel-0.75": ((-24.0, 0.75), 300, 0.95),
    "ridge-0.8": ((20.0, 0.8), 30, 0.95),
    "ridge-0.9": ((14.0, 0.9), 100, 0.8),
}


@pytest.mark.parametrize("camera", ["mosaic", "jpeg"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_narrow_or_bright_fold_whose_weave_carries_the_bounce_stays_solid(case: str, camera: str) -> None:
    fold, hole_px, middle_alpha = CASES[case]
    for seed in range(2):
        frame, solid, middle, gaps = _coat(seed, fold, camera)
        alpha = _key(frame)
        assert largest_hole_px(alpha, solid) <= hole_px, seed
        assert alpha[middle].mean() > middle_alpha, seed
        inside = _gaps_inside(gaps)
        assert inside.sum() > 3000
        assert alpha[inside].mean() < 0.01, seed


def test_the_gaps_beside_the_arms_stay_clear_without_a_fold() -> None:
    """The control: the gaps at full light and in the body's shadow (75 %), sharp and under 16 or 32 px
    of motion blur (the narrow gap a coat–screen mix throughout at 32), through both cameras."""
    for camera in ("mosaic", "jpeg"):
        for motion_px in (0, 16, 32):
            frame, _, _, gaps = _coat(1, None, camera, 1.0, motion_px)
            assert _key(frame)[_gaps_inside(gaps)].mean() < 0.01, (camera, motion_px)
        for motion_px in (0, 16):
            frame, _, _, gaps = _coat(1, None, camera, 0.75, motion_px)
            assert _key(frame)[_gaps_inside(gaps)].mean() < 0.15, (camera, motion_px)


def test_screen_in_the_bodys_shadow_through_an_enclosed_gap_stays_clear() -> None:
    """The gap between the arm akimbo and the body, in the body's shadow (75 % of the screen's light),
    is dimmer than the screen around; where it is narrow the plate's tightening passes lost it, and
    the solid-subject floor credited it as screen light on an enclosed lit surface: it keyed at
    0.54–0.56 sharp and 1.0 under 16 or 32 px of motion blur in these frames before the fix. Its own
    light (none: it has the screen's colour) and the solid arm and body around it show it is screen."""
    for camera in ("mosaic", "jpeg"):
        for seed in (0, 2):
            for motion_px, most in ((0, 0.02), (16, 0.2), (32, 0.2)):
                frame, _, _, gaps = _coat(seed, None, camera, 0.75, motion_px)
                assert _key(frame)[_gaps_inside(gaps)].mean() < most, (camera, seed, motion_px)
