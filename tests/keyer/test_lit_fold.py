"""A broad fold of a dark coat lit by the screen's bounce stays solid; screen seen through a gap in the
subject stays clear.

Cloth turned to the screen takes its bounce, and on a dark coat that light has the screen's hue. Lit to
70–80 % of the screen's light over a broad fold, it passed the auto plate's first pass as a dim patch of
screen, the plate followed it and the fold keyed out (holes of 7 000–12 800 px at 640×360 before the
fix). The same frames hold what must stay transparent: the screen in the gap between an arm akimbo
and the body (enclosed by the subject, at full light or in the body's shadow at 75 %: dimmer than the
screen around, as a fold is) and the narrow gap beside a hanging arm; and, without a fold, the gaps
under motion blur.

The frames are built here, not by the benchmark's renderer: polygons drawn at 4× and area-averaged,
blotchy wool with a fine weave, each fold a flat-topped vertical drape (smoothstep fades across and
along) adding a share of the local screen light to the wool, the gap's shadow a blurred mask, an
optional horizontal box blur for motion, Gaussian noise on sRGB, 8-bit.
"""

import cv2
import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb
from guangying.evaluation.metrics import largest_hole_px
from guangying.keyer import ChromaKeyer, KeyerSettings

SCREEN = np.array([0.07, 0.40, 0.12], np.float32)
SHAPE = (360, 640)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _figure(
    seed: int, fold: float, gap_light: float = 1.0, cut: bool = False, motion_px: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame sRGB float32 (H, W, 3), coverage (H, W) after motion, the coat's α = 1 interior, the
    screen's patches apart from the screen around the figure (both gaps), bool (H, W))."""
    h, w = SHAPE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-0.08, 0.08)
    vignette = 1.0 - 0.5 * ((xx / w - 0.5) ** 2 + (yy / h - 0.45) ** 2) + tilt * (xx / w - 0.5)
    screen = vignette[..., None] * SCREEN
    s = 4
    canvas = np.zeros((h * s, w * s), np.uint8)
    cx, top, half = w * rng.uniform(0.46, 0.54), h * rng.uniform(0.36, 0.42), w * 0.17

    def px(points: list[tuple[float, float]]) -> np.ndarray:
        return (np.array(points) * s).astype(np.int32)

    torso = [(cx - half, top + 25), (cx - 0.9 * half, top), (cx + 0.9 * half, top), (cx + half, top + 25)]
    cv2.fillPoly(canvas, [px(torso + [(cx + 1.05 * half, h + 2), (cx - 1.05 * half, h + 2)])], 255)
    cv2.ellipse(canvas, (int(cx * s), int((top - 45) * s)), (38 * s, 50 * s), 0, 0, 360, 255, -1)
    neck = px([(cx - 16, top - 10), (cx + 16, top - 10), (cx + 16, top + 5), (cx - 16, top + 5)])
    cv2.fillPoly(canvas, [neck], 255)
    # Left arm akimbo (shoulder, elbow out, hand on the hip): the screen between it and the body is enclosed.
    shoulder, elbow, hip = (cx - 0.95 * half, top + 12), (cx - half - 95, top + 95), (cx - half, top + 185)
    for a, b in ((shoulder, elbow), (elbow, hip)):
        cv2.line(canvas, (int(a[0] * s), int(a[1] * s)), (int(b[0] * s), int(b[1] * s)), 255, 24 * s)
    # Right arm hanging 14 px from the body, cut by the frame's bottom: a narrow gap open at the bottom.
    arm = [
        (cx + 0.92 * half, top + 5), (cx + half + 40, top + 30), (cx + half + 46, h + 2),
        (cx + half + 20, h + 2), (cx + half + 12, top + 60),
    ]  # fmt: skip
    cv2.fillPoly(canvas, [px(arm)], 255)
    alpha = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    # Dark wool; skin on the head.
    coarse = rng.uniform(0.75, 1.15, (8, 12)).astype(np.float32)
    blotch = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    weave = 1 + 0.15 * cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.7)
    head = yy < top - 5
    wool = np.array([0.022, 0.020, 0.026], np.float32) * (blotch * weave)[..., None]
    own = np.where(head[..., None], np.array([0.35, 0.20, 0.14], np.float32) * blotch[..., None], wool)
    # The fold: a vertical drape in the torso's middle, 50 px flat, fading over 25 px across and 50 along.
    fx, bottom = cx + rng.uniform(-10, 10), h + 40 if cut else h - 15
    across = 1 - _smoothstep((np.abs(xx - fx) - 25) / 25)
    along = _smoothstep(np.minimum(yy - (top + 50), bottom - yy) / 50)
    lit = fold * across * along * ~head
    # The enclosed gap in the body's shadow (soft-edged).
    clear = (alpha < 0.999).astype(np.uint8)
    count, labels = cv2.connectedComponents(clear, connectivity=8)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = (~np.isin(labels, border) & (labels > 0)).astype(np.float32)
    shadow = cv2.GaussianBlur(cv2.dilate(enclosed, np.ones((5, 5), np.uint8)), (0, 0), 2.0)
    shade = 1 - (1 - gap_light) * shadow
    a3 = alpha[..., None]
    linear = a3 * (own + lit[..., None] * screen) + (1 - a3) * screen * shade[..., None]
    linear = cv2.GaussianBlur(linear, (0, 0), 0.7)
    if motion_px:
        linear = cv2.blur(linear, (motion_px, 1))
        alpha = cv2.blur(alpha, (motion_px, 1))
    srgb = linear_to_srgb(np.clip(linear, 0, 1)) + rng.normal(0, 0.008, linear.shape).astype(np.float32)
    frame = (np.round(np.clip(srgb, 0, 1) * 255) / 255).astype(np.float32)
    # The screen's patches apart from the screen around the figure: both gaps.
    count, labels = cv2.connectedComponents((alpha <= 0).astype(np.uint8), connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0
    gaps = (labels > 0) & (labels != int(np.argmax(sizes)))
    return frame, alpha, alpha >= 1, gaps


def _key(frame: np.ndarray) -> np.ndarray:
    return ChromaKeyer(KeyerSettings()).process(frame).alpha


@pytest.mark.parametrize("cut", [False, True], ids=["fold-inside", "fold-cut-by-frame"])
@pytest.mark.parametrize("fold", [0.7, 0.75])
def test_a_broad_screen_lit_fold_on_a_dark_coat_stays_solid_and_the_gaps_stay_clear(
    fold: float, cut: bool
) -> None:
    for seed in range(3):
        for gap_light in (1.0, 0.75):
            frame, _, solid, gaps = _figure(seed, fold, gap_light, cut)
            alpha = _key(frame)
            # Before the fix: holes of 6 700–12 800 px in every one of these frames.
            assert largest_hole_px(alpha, solid) <= 30, (seed, gap_light)
            inside = cv2.erode(gaps.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
            assert inside.sum() > 3000
            assert alpha[inside].mean() < 0.03, (seed, gap_light)
            assert np.percentile(alpha[inside], 99) < 0.3, (seed, gap_light)


def test_gaps_without_a_fold_stay_clear() -> None:
    """The control: the gaps alone, sharp and under 16 px of motion blur, stay clear (the pixels still
    clear of the coat after the blur); under 32 px the narrow gap is a mix throughout, and the shadowed
    gap keys at ~0.35 on main as well (the plate's tightening passes lose a dim, narrowed patch)."""
    for motion_px, gap_light in ((0, 1.0), (0, 0.75), (16, 1.0), (16, 0.75), (32, 1.0)):
        frame, _, _, gaps = _figure(1, 0.0, gap_light, motion_px=motion_px)
        inside = cv2.erode(gaps.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        assert inside.sum() > 500
        assert _key(frame)[inside].mean() < 0.03, (motion_px, gap_light)


def _shirt(seed: int, gap_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(frame sRGB float32 (H, W, 3), the shirt's and head's α = 1 interior): a dark shirt whose fibres'
    sheen scatters the screen's bounce about 26 % of its light (±40 % grain of ~1.5 px), its silhouette
    lit to 55 % (fading inwards over ~6 px) and a broad fold lit 35 % more, ``gap_px`` inside the left
    shoulder's rim."""
    h, w = SHAPE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    screen = (1.0 - 0.3 * ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2))[..., None] * SCREEN
    s = 4
    canvas = np.zeros((h * s, w * s), np.uint8)
    cx, top, half = w * rng.uniform(0.45, 0.55), h * rng.uniform(0.35, 0.4), w * 0.22
    body = [(cx - half, top + 40), (cx - 0.75 * half, top), (cx + 0.75 * half, top), (cx + half, top + 40),
            (cx + 1.05 * half, h + 2), (cx - 1.05 * half, h + 2)]  # fmt: skip
    cv2.fillPoly(canvas, [(np.array(body) * s).astype(np.int32)], 255)
    cv2.ellipse(canvas, (int(cx * s), int((top - 50) * s)), (40 * s, 52 * s), 0, 0, 360, 255, -1)
    alpha = cv2.resize(canvas.astype(np.float32) / 255, (w, h), interpolation=cv2.INTER_AREA)
    head = yy < top - 2
    inside = cv2.distanceTransform((alpha > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    sheen = 0.26 * np.clip(1 + 0.4 * grain / grain.std(), 0.2, None)
    fx, fy = cx - 0.88 * half + gap_px + 18, top + 76
    fold = 0.35 * np.exp(-(((xx - fx) / 16) ** 2 + ((yy - fy) / 28) ** 2))
    lit = np.maximum(sheen + fold, 0.55 * np.exp(-inside / 6.0)) * ~head
    own = np.where(head[..., None], np.array([0.3, 0.18, 0.12], np.float32), np.float32(0.03))
    a3 = alpha[..., None]
    linear = cv2.GaussianBlur(a3 * (own + lit[..., None] * screen) + (1 - a3) * screen, (0, 0), 0.6)
    srgb = linear_to_srgb(np.clip(linear, 0, 1)) + rng.normal(0, 0.006, linear.shape).astype(np.float32)
    return (np.round(np.clip(srgb, 0, 1) * 255) / 255).astype(np.float32), alpha >= 1


def test_a_lit_fold_joined_to_the_lit_rim_only_through_grain_stays_solid() -> None:
    """Between the fold and the lit rim the shirt's light averages about the 0.3 line that marks a
    solid surface, and its grain lifts single cells over it: chains of them join the fold to the rim
    beside clear screen, the fold was no longer enclosed, no longer credited with its light, and
    keyed as a hole (over 20 px in 11 of these 16 frames before the fix, up to 169 px). Joined only
    through cells whose 5×5 neighbourhood averages under the line, it is enclosed. Where the average
    itself joins them (this grain lifts it over the line in places: 3 of the 16) it still keys out."""
    frames = (_shirt(seed, gap_px) for gap_px in (12, 20) for seed in range(8))
    holes = [largest_hole_px(_key(frame), solid) for frame, solid in frames]
    assert sum(hole > 20 for hole in holes) <= 3, holes
    # The median frame: 48 px before.
    assert sorted(holes)[len(holes) // 2] <= 10, holes
