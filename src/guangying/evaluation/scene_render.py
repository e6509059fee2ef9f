"""Keying plates rendered from a scene and a camera, with exact truth — not the keyer's model of a plate.

The keyer (and :mod:`guangying.evaluation.synthetic`) think in three channels: a plate is
α·F + (1 − α)·S and spill is some screen colour added to F. This renderer works per wavelength band
(16 bands, 400–700 nm) and through a camera:

- **Light.** A key light (daylight, 5600 K), screen lights of another colour temperature and with a
  fluorescent green line lighting the screen; the subject is lit by the key and by *bounce* from the
  screen, whose spectrum is the screen's reflectance times both lights, reddened or blued again by a
  second bounce off the floor/screen corner (so it is not the screen's own colour) and no brighter
  than a passive screen can give (a white surface seeing only screen reflects its radiance), and it reflects
  the screen behind it in a neutral *sheen* (glossy fabric, hair's specular lobe) that is strongest
  at grazing angles, i.e. at the silhouette. Every term is reflectance × light × camera sensitivity,
  multiplied per band before the camera integrates it.
- **Camera.** Spectral sensitivities (overlapping Gaussians, not the sRGB primaries), white balance
  for the key light and a 3×3 colour matrix fitted by least squares to CIE 1931 (Wyman et al.'s
  analytic fit), so colours off the fitting set carry a real camera's error; lens blur (Gaussian
  PSF), an RGGB Bayer mosaic, photon (Poisson) and read noise, 12-bit raw, demosaicing with
  ``cv2.cvtColor`` (bilinear Bayer), sRGB encoding. Storage (8-bit, 4:2:0 JPEG, H.264) is left to
  the caller (:func:`store`).
- **Subjects** (groups that break keyers): dark clothing and dark hair with bounce and sheen, blond
  and grey hair, skin with motion-blurred hands, glass and smoke (true partial transparency), and
  green-ish props, on yellow-green, teal-green, dull, saturated green and blue screens.

Geometry is drawn 4× supersampled and area-averaged, motion blur is a convolution of α and the
premultiplied colour with the motion path, and the lens PSF blurs α too: ``alpha`` is the exact
coverage the camera sees. ``foreground_rgb`` is the subject's colour without any screen light (no
bounce, no sheen), through the same camera without noise.
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb
from guangying.base.errors import MediaError, SettingsError

WAVELENGTHS_NM = np.arange(400.0, 701.0, 20.0)  # 16 bands
SUPERSAMPLE = 4
FULL_WELL_E = 9000.0  # electrons at raw 1.0
READ_NOISE_E = 4.0
RAW_BITS = 12
LENS_SIGMA_PX = 0.7

SCREENS = ("saturated green", "yellow-green", "teal-green", "dull green", "blue")
GROUPS = (
    "dark clothing",
    "dark hair",
    "blond and grey hair",
    "skin and moving hands",
    "glass and smoke",
    "green-ish props",
)


def _gauss(mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((WAVELENGTHS_NM - mu) / sigma) ** 2)


def _step(mu: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(WAVELENGTHS_NM - mu) / width))


def _lobe(mu: float, s1: float, s2: float) -> np.ndarray:
    s = np.where(WAVELENGTHS_NM < mu, s1, s2)
    return np.exp(-0.5 * ((WAVELENGTHS_NM - mu) / s) ** 2)


def _cie_xyz() -> np.ndarray:
    """CIE 1931 colour matching functions (16, 3), Wyman, Sloan & Shirley (2013) multi-lobe fit."""
    x = 1.056 * _lobe(599.8, 37.9, 31.0) + 0.362 * _lobe(442.0, 16.0, 26.7) - 0.065 * _lobe(501.1, 20.4, 26.2)
    y = 0.821 * _lobe(568.8, 46.9, 40.5) + 0.286 * _lobe(530.9, 16.3, 31.1)
    z = 1.217 * _lobe(437.0, 11.8, 36.0) + 0.681 * _lobe(459.0, 26.0, 13.8)
    return np.stack([x, y, z], -1)


_XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def blackbody(temperature_k: float) -> np.ndarray:
    """Planck spectrum over the bands, normalised to mean 1."""
    lam = WAVELENGTHS_NM * 1e-9
    radiance = 1.0 / (lam**5 * (np.exp(1.4388e-2 / (lam * temperature_k)) - 1.0))
    return radiance / radiance.mean()


KEY_LIGHT = blackbody(5600.0)
# Screen lights: 4000 K tubes with a fluorescent green line (the screen's own light, not the key's).
SCREEN_LIGHT = blackbody(4000.0) + 1.2 * _gauss(545.0, 8.0)
SCREEN_LIGHT = SCREEN_LIGHT / SCREEN_LIGHT.mean()
# Camera sensitivities (16, 3): broad, overlapping, with the red channel's blue bump of real sensors.
CAMERA_SENSITIVITY = np.stack(
    [_gauss(600.0, 38.0) + 0.08 * _gauss(445.0, 20.0), _gauss(535.0, 42.0), _gauss(460.0, 32.0)], -1
)

SCREEN_REFLECTANCE = {
    "saturated green": 0.04 + 0.58 * _gauss(528.0, 32.0),
    "yellow-green": 0.05 + 0.55 * _gauss(546.0, 38.0),
    "teal-green": 0.06 + 0.50 * _gauss(505.0, 38.0),
    "dull green": 0.10 + 0.26 * _gauss(532.0, 50.0),
    "blue": 0.05 + 0.52 * _gauss(462.0, 34.0),
}
MATERIALS = {
    "black cloth": 0.028 + 0.01 * _step(600.0, 30.0),
    "dark hair": 0.025 + 0.05 * _step(610.0, 35.0),
    "blond hair": 0.12 + 0.50 * _step(540.0, 40.0),
    "grey hair": 0.40 + 0.08 * _step(560.0, 50.0),
    "skin": 0.22 + 0.38 * _step(585.0, 18.0) - 0.06 * _gauss(555.0, 18.0) - 0.04 * _gauss(420.0, 20.0),
    "grey cloth": np.full(WAVELENGTHS_NM.shape, 0.22),
    "white cloth": np.full(WAVELENGTHS_NM.shape, 0.68),
    "red cloth": 0.05 + 0.6 * _step(600.0, 15.0),
    "wood": 0.08 + 0.35 * _step(580.0, 35.0),
    "olive": 0.05 + 0.22 * _gauss(560.0, 45.0) + 0.08 * _step(610.0, 20.0),
    "sage": 0.18 + 0.16 * _gauss(530.0, 55.0),
    "teal": 0.07 + 0.30 * _gauss(495.0, 40.0),
    "lime": 0.06 + 0.55 * _step(505.0, 18.0) * (1.0 - 0.55 * _step(600.0, 18.0)),
    "smoke": np.full(WAVELENGTHS_NM.shape, 0.6),
    "glass": np.full(WAVELENGTHS_NM.shape, 1.0),  # specular: reflects the light's own spectrum
}


@functools.cache
def _camera_calibration() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(camera RGB per band (16, 3) scaled for exposure, white-balance gains (3,), colour matrix (3, 3)).

    The matrix maps white-balanced camera RGB to linear sRGB for reflectances under the key light,
    fitted on smooth random reflectances against CIE XYZ with the key light's white made neutral.
    """
    rng = np.random.default_rng(1931)
    train = np.clip(
        np.array([0.05 + 0.6 * _gauss(rng.uniform(420, 680), rng.uniform(25, 90)) for _ in range(150)]), 0, 1
    )
    train = np.vstack([train, np.full((1, WAVELENGTHS_NM.size), 0.9)])
    sens = CAMERA_SENSITIVITY / (CAMERA_SENSITIVITY.T @ KEY_LIGHT).max()  # white under key: raw ≤ 1
    cam = (train * KEY_LIGHT) @ sens
    gains = cam[-1].max() / cam[-1]
    srgb = (train * KEY_LIGHT) @ _cie_xyz() @ _XYZ_TO_SRGB.T
    srgb = srgb / srgb[-1] * 0.9  # von Kries in sRGB: the key light's white is neutral
    matrix, *_ = np.linalg.lstsq(cam * gains, srgb, rcond=None)
    return sens, gains, matrix.T


def camera_rgb(spectrum: np.ndarray) -> np.ndarray:
    """Raw camera RGB (3,) of a radiance spectrum (16,) (per band: reflectance × light)."""
    sens, _, _ = _camera_calibration()
    return (np.asarray(spectrum, np.float64) @ sens).astype(np.float32)


def develop(raw_rgb: np.ndarray) -> np.ndarray:
    """White balance and colour matrix: raw camera RGB (..., 3) → linear sRGB (unclipped)."""
    _, gains, matrix = _camera_calibration()
    return (np.asarray(raw_rgb, np.float32) * gains.astype(np.float32)) @ matrix.T.astype(np.float32)


@dataclass(frozen=True, slots=True)
class Variation:
    """Changes to the camera and the set that the keying benchmark does not use (all physically
    plausible); the defaults render the benchmark's plates bit for bit.

    ``noise_gain`` scales the photon and read noise's standard deviation (a smaller sensor or a
    higher ISO: 2; a larger one: 0.5). ``exposure_ev`` scales the light reaching the sensor (raw values
    past full well clip, as they do in a camera). ``screen_slope`` adds a linear gradient of the screen's
    illumination, ± that fraction at the frame's edges, along the scene's own gradient direction.
    ``bounce_floor`` names a :data:`MATERIALS` entry the screen's bounce takes its second bounce off
    (a wooden floor instead of the screen corner: a yellower, less saturated bounce, no brighter).
    """

    noise_gain: float = 1.0
    exposure_ev: float = 0.0
    screen_slope: float = 0.0
    bounce_floor: str | None = None

    def __post_init__(self) -> None:
        numbers = (self.noise_gain, self.exposure_ev, self.screen_slope)
        if not all(math.isfinite(v) for v in numbers) or self.noise_gain < 0 or abs(self.screen_slope) >= 1:
            raise SettingsError(f"{self}: need noise_gain ≥ 0, finite exposure_ev and |screen_slope| < 1")
        if self.bounce_floor is not None and self.bounce_floor not in MATERIALS:
            raise SettingsError(
                f"unknown bounce_floor {self.bounce_floor!r}: use one of {', '.join(MATERIALS)}"
            )


@dataclass(slots=True)
class RenderedPlate:
    """A rendered plate and its truth: rgb float32 (H, W, 3) sRGB 0–1 as the camera wrote it (before
    any storage), alpha float32 (H, W) 0–1, foreground_rgb float32 (H, W, 3) sRGB (subject without
    screen light), solid bool (H, W) (α* = 1 parts of solid subjects), group, screen name, screen
    ('green'/'blue')."""

    rgb: np.ndarray
    alpha: np.ndarray
    foreground_rgb: np.ndarray
    solid: np.ndarray
    group: str
    screen_name: str
    screen: str


@dataclass(slots=True)
class _Layer:
    alpha: np.ndarray  # (H, W) coverage
    premult: np.ndarray  # (H, W, 3) raw camera RGB × coverage, as seen (with screen light)
    premult_clean: np.ndarray  # the same without bounce and sheen
    solid: bool = True


class _Scene:
    """Geometry helpers and lighting for one plate; everything in raw camera RGB."""

    def __init__(
        self,
        rng: np.random.Generator,
        shape: tuple[int, int],
        screen_name: str,
        bounce_gain: float = 1.0,
        variation: Variation = Variation(),
    ) -> None:
        self.rng, self.shape = rng, shape
        h, w = shape
        reflectance = SCREEN_REFLECTANCE[screen_name]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        gx, gy = rng.uniform(-1, 1, 2)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        light = 1.0 + 0.3 * (gx * (xx / w - 0.5) + gy * (yy / h - 0.5)) - 0.18 * r2
        light *= 1.0 + 0.06 * self.smooth(5)
        if variation.screen_slope:
            # Along the scene's own gradient, ± screen_slope at the far corners.
            dx, dy = np.array([gx, gy]) / max(abs(gx) + abs(gy), 1e-6)
            ramp = 2.0 * (dx * (xx / w - 0.5) + dy * (yy / h - 0.5))
            light *= 1.0 + variation.screen_slope * ramp
        level = rng.uniform(0.25, 0.4)  # the screen's exposure relative to the key-lit white
        screen_spectrum = reflectance * (SCREEN_LIGHT + 0.15 * KEY_LIGHT)
        self.screen = light[..., None] * (
            level * camera_rgb(screen_spectrum) / camera_rgb(screen_spectrum).max()
        )
        self.screen_scale = level / camera_rgb(screen_spectrum).max()
        # Bounce: the screen's light off the floor and screen corner; a second screen bounce makes it
        # more saturated, and it carries the key light the screen reflects too. In the screen's own
        # exposure: a passive screen cannot light a subject brighter than it looks itself, so a white
        # surface that sees nothing but screen (``bounce`` = 1, the view factor) reflects about the
        # screen's radiance (1.1–1.3× here, with the key light on the screen near the subject).
        # ``bounce_gain`` > 1 breaks that on purpose (a stress case).
        if variation.bounce_floor is None:
            second = (reflectance / reflectance.max()) ** 0.5
        else:
            second = MATERIALS[variation.bounce_floor] / MATERIALS[variation.bounce_floor].max()
        self.bounce_light = (
            bounce_gain * self.screen_scale * reflectance * (SCREEN_LIGHT + 0.5 * KEY_LIGHT) * second
        )

    def smooth(self, cells: int) -> np.ndarray:
        """Smooth random field in −1…1."""
        coarse = self.rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
        return cv2.resize(coarse, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_CUBIC).clip(-1, 1)

    def fibres(self, angle_deg: float, length_px: float, strength: float) -> np.ndarray:
        """Streaky texture (fur, hair, weave) with mean 1."""
        # Detail a little coarser than a pixel: finer texture would alias in the mosaic (real cameras
        # have an optical low-pass filter for that).
        noise = cv2.GaussianBlur(self.rng.normal(0, 1, self.shape).astype(np.float32), (0, 0), 1.0)
        k = max(3, int(length_px) | 1)
        kernel = np.zeros((k, k), np.float32)
        c = k // 2
        dx, dy = np.cos(np.radians(angle_deg)) * c, np.sin(np.radians(angle_deg)) * c
        cv2.line(kernel, (int(c - dx), int(c - dy)), (int(c + dx), int(c + dy)), 1.0)
        streaks = cv2.filter2D(noise, -1, kernel / kernel.sum())
        streaks /= max(float(streaks.std()), 1e-6)
        return np.clip(1.0 + strength * streaks, 0.3, 1.6)

    def coverage(self, draw: Callable[[np.ndarray, int], None]) -> np.ndarray:
        """Exact coverage (H, W) of what ``draw(canvas, scale)`` paints (255) on a 4× canvas."""
        h, w = self.shape
        canvas = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
        draw(canvas, SUPERSAMPLE)
        return cv2.resize(canvas.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)

    def rim(self, alpha: np.ndarray, width_px: float) -> np.ndarray:
        """1 at the silhouette falling to 0 inside over ~width_px: where a surface turns away from the
        camera and towards the screen behind it."""
        depth = cv2.distanceTransform((alpha > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
        return np.exp(-depth / width_px).astype(np.float32)

    def surface(
        self,
        alpha: np.ndarray,
        material: str,
        *,
        key: np.ndarray | float = 1.0,
        bounce: np.ndarray | float = 0.0,
        sheen: np.ndarray | float = 0.0,
        texture: np.ndarray | float = 1.0,
        solid: bool = True,
    ) -> _Layer:
        """A lit surface: reflectance × (key light · key + bounce light · bounce) · texture, plus the
        screen behind reflected neutrally · sheen (all (H, W) fields or scalars). ``bounce`` is the
        share of the surface's view filled by lit screen (0–1)."""
        rho = MATERIALS[material]
        key_rgb = camera_rgb(rho * KEY_LIGHT)
        bounce_rgb = camera_rgb(rho * self.bounce_light)
        shade = np.asarray(key * texture, np.float32)[..., None] if np.ndim(key * texture) else key * texture
        clean = np.broadcast_to(shade * key_rgb, self.shape + (3,)).astype(np.float32)
        extra = np.asarray(bounce * texture, np.float32)
        seen = clean + (extra[..., None] if extra.ndim else extra) * bounce_rgb
        sheen_field = np.asarray(sheen, np.float32)
        seen = seen + (sheen_field[..., None] if sheen_field.ndim else sheen_field) * self.screen
        a = alpha[..., None]
        return _Layer(alpha, (seen * a).astype(np.float32), (clean * a).astype(np.float32), solid)

    def motion_blur(self, layer: _Layer, length_px: int, angle_deg: float) -> _Layer:
        """Blur α and the premultiplied colour along a straight motion path (exact for a translation)."""
        k = max(3, length_px | 1)
        kernel = np.zeros((k, k), np.float32)
        c = k // 2
        dx, dy = np.cos(np.radians(angle_deg)) * c, np.sin(np.radians(angle_deg)) * c
        cv2.line(
            kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0
        )
        kernel /= kernel.sum()
        blur = lambda x: cv2.filter2D(x, -1, kernel)  # noqa: E731
        return _Layer(blur(layer.alpha), blur(layer.premult), blur(layer.premult_clean), False)


def _ellipse(cx: float, cy: float, ax: float, ay: float, angle: float = 0.0, start: int = 0, end: int = 360):
    def draw(canvas: np.ndarray, s: int) -> None:
        cv2.ellipse(
            canvas, (int(cx * s), int(cy * s)), (int(ax * s), int(ay * s)), angle, start, end, 255, -1
        )

    return draw


def _polygon(points: list[tuple[float, float]]):
    def draw(canvas: np.ndarray, s: int) -> None:
        cv2.fillPoly(canvas, [(np.array(points) * s).astype(np.int32)], 255)

    return draw


def _union(*draws):
    def draw(canvas: np.ndarray, s: int) -> None:
        for d in draws:
            d(canvas, s)

    return draw


def _strands(
    rng: np.random.Generator,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    count: int,
    reach: float,
    angles: tuple[float, float] = (-np.pi * 0.97, -np.pi * 0.03),
):
    """Hair strands leaving an ellipse outline, 1–3 px wide at 4× (0.25–0.75 px at 1×)."""
    specs = [
        (rng.uniform(*angles), rng.uniform(0.3, 1.0) * reach, rng.uniform(-0.9, 0.9), int(rng.integers(1, 4)))
        for _ in range(count)
    ]

    def draw(canvas: np.ndarray, s: int) -> None:
        for angle, length, bend, width in specs:
            start = np.array([cx + np.cos(angle) * rx * 0.95, cy + np.sin(angle) * ry * 0.95])
            t = np.linspace(0, 1, 30)
            direction = np.stack([np.cos(angle + bend * t), np.sin(angle + bend * t)], -1)
            points = start + np.cumsum(direction * length / 30, axis=0)
            cv2.polylines(canvas, [(points * s).astype(np.int32)], False, 255, width, cv2.LINE_AA)

    return draw


def _person(
    scene: _Scene, shirt: str, hair: str | None, sheen_peak: float, bounce: float, shadow: float = 0.3
) -> list[_Layer]:
    """Torso and head (skin), optional hair with fringe strands; the shirt and hair get rim sheen."""
    h, w = scene.shape
    rng = scene.rng
    cx, cy, r = w * rng.uniform(0.42, 0.58), h * 0.36, h * rng.uniform(0.14, 0.17)
    torso = scene.coverage(
        _polygon(
            [
                (cx - 2.7 * r, h + 2),
                (cx - 2.1 * r, cy + 1.55 * r),
                (cx + 2.1 * r, cy + 1.55 * r),
                (cx + 2.7 * r, h + 2),
            ]
        )
    )
    head = scene.coverage(_ellipse(cx, cy, r, 1.25 * r))
    key = 0.9 - shadow * (0.5 + 0.5 * scene.smooth(4))  # a shadow side
    weave = scene.fibres(90.0, 7, 0.2)
    # Sheen: strong at the rim, plus a fold facing the screen inside the body.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fx, fy = cx + rng.uniform(-1.2, 1.2) * r, cy + rng.uniform(2.3, 2.9) * r
    fold = np.exp(-(((xx - fx) / (0.45 * r)) ** 2 + ((yy - fy) / (0.9 * r)) ** 2))
    sheen = (
        sheen_peak
        * (np.maximum(scene.rim(torso, rng.uniform(8, 16)), 0.8 * fold))
        * scene.fibres(0.0, 9, 0.3)
    )
    # Bounce comes from behind: strongest where the surface turns towards the screen (the rim).
    bounce_field = bounce * (0.15 + 0.85 * scene.rim(torso, 20.0))
    layers = [scene.surface(torso, shirt, key=key, bounce=bounce_field, sheen=sheen, texture=weave)]
    layers.append(scene.surface(head, "skin", key=0.9 + 0.1 * scene.smooth(3), bounce=0.5 * bounce))
    if hair is not None:
        mass_draw = _ellipse(cx, cy - 0.12 * r, 1.1 * r, 1.25 * r, 0, 180, 360)
        mass = scene.coverage(_union(mass_draw, _ellipse(cx, cy - 0.1 * r, 1.08 * r, 0.55 * r)))
        strands = scene.coverage(
            _strands(rng, cx, cy - 0.12 * r, 1.1 * r, 1.25 * r, int(rng.integers(70, 110)), 0.9 * r)
        )
        hair_alpha = np.clip(mass + strands * (1 - mass), 0, 1)
        strand_tex = scene.fibres(rng.uniform(60, 120), 15, 0.45)
        hair_sheen = sheen_peak * np.maximum(
            scene.rim(mass, 10.0), 0.6 * np.exp(-(((yy - (cy - 0.7 * r)) / (0.25 * r)) ** 2))
        )
        layers.append(
            scene.surface(
                hair_alpha,
                hair,
                key=0.8 + 0.2 * scene.smooth(3),
                bounce=bounce * (0.2 + 0.8 * scene.rim(mass, 15.0)),
                sheen=hair_sheen * strand_tex,
                texture=strand_tex,
            )
        )
    return layers


def _dark_clothing(scene: _Scene) -> list[_Layer]:
    peak = scene.rng.uniform(0.35, 0.6)
    return _person(
        scene, "black cloth", None, sheen_peak=peak, bounce=scene.rng.uniform(0.4, 0.8), shadow=0.7
    )


def _dark_hair(scene: _Scene) -> list[_Layer]:
    peak = scene.rng.uniform(0.3, 0.5)
    return _person(scene, "grey cloth", "dark hair", sheen_peak=peak, bounce=scene.rng.uniform(0.4, 0.8))


def _light_hair(scene: _Scene) -> list[_Layer]:
    hair = "blond hair" if scene.rng.uniform() < 0.5 else "grey hair"
    return _person(scene, "white cloth", hair, sheen_peak=0.1, bounce=0.2)


def _hand(scene: _Scene, hx: float, hy: float, size: float, angle: float) -> np.ndarray:
    fingers = []
    for i in range(4):
        a = np.radians(angle + (i - 1.5) * 12)
        fingers.append(
            _ellipse(
                hx + np.cos(a) * size * 1.1,
                hy + np.sin(a) * size * 1.1,
                size * 0.55,
                size * 0.13,
                np.degrees(a),
            )
        )
    thumb_a = np.radians(angle + 70)
    thumb = _ellipse(
        hx + np.cos(thumb_a) * size * 0.7,
        hy + np.sin(thumb_a) * size * 0.7,
        size * 0.4,
        size * 0.14,
        np.degrees(thumb_a),
    )
    return scene.coverage(_union(_ellipse(hx, hy, size * 0.6, size * 0.5, angle), thumb, *fingers))


def _skin_and_hands(scene: _Scene) -> list[_Layer]:
    rng = scene.rng
    h, w = scene.shape
    layers = _person(scene, "red cloth", None, sheen_peak=0.05, bounce=0.2)
    for side in (-1, 1):
        hand = _hand(
            scene,
            w * (0.5 + side * rng.uniform(0.28, 0.38)),
            h * rng.uniform(0.3, 0.6),
            h * 0.09,
            rng.uniform(-120, -60),
        )
        lit = scene.surface(hand, "skin", key=0.9, bounce=0.4 * scene.rim(hand, 6.0))
        layers.append(scene.motion_blur(lit, int(rng.integers(14, 40)), rng.uniform(-40, 40)))
    return layers


def _glass_and_smoke(scene: _Scene) -> list[_Layer]:
    rng = scene.rng
    h, w = scene.shape
    table = scene.coverage(_polygon([(0, h * 0.8), (w, h * 0.8), (w, h + 2), (0, h + 2)]))
    layers = [scene.surface(table, "wood", key=0.8, bounce=0.2, texture=scene.fibres(0.0, 25, 0.2))]
    # Smoke: a plume of soft density (true partial transparency, α ≤ ~0.7), lit by key and bounce.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx = w * rng.uniform(0.25, 0.4)
    centre_x = sx + 0.15 * w * np.sin(yy / h * 5.0 + rng.uniform(0, 6))
    spread = w * (0.03 + 0.1 * (1 - yy / h))
    envelope = np.exp(-(((xx - centre_x) / spread) ** 2)) * np.clip((h * 0.8 - yy) / (0.2 * h), 0, 1)
    envelope *= np.clip(yy / (0.25 * h), 0, 1)
    envelope = np.clip((envelope - 0.15) / 0.85, 0, 1)  # a plume with an end, not a haze everywhere
    density = envelope * np.clip(0.55 + 0.45 * scene.smooth(9) + 0.2 * scene.smooth(17), 0, 1)
    smoke_alpha = np.clip(rng.uniform(0.5, 0.8) * density, 0, 1).astype(np.float32)
    layers.append(scene.surface(smoke_alpha, "smoke", key=0.7, bounce=0.2, solid=False))
    # A glass: bowl and stem; transmission 0.9 in the body, 0.45 on the rim, a key-light highlight.
    gx, gy, gr = w * rng.uniform(0.62, 0.75), h * 0.45, h * 0.13
    bowl = scene.coverage(
        _union(
            _ellipse(gx, gy, gr, 1.3 * gr, 0, 0, 180),
            _polygon([(gx - gr, gy - 0.6 * gr), (gx + gr, gy - 0.6 * gr), (gx + gr, gy), (gx - gr, gy)]),
        )
    )
    stem = scene.coverage(
        _polygon(
            [
                (gx - 0.08 * gr, gy + 1.2 * gr),
                (gx + 0.08 * gr, gy + 1.2 * gr),
                (gx + 0.08 * gr, h * 0.8),
                (gx - 0.08 * gr, h * 0.8),
            ]
        )
    )
    glass_shape = np.clip(bowl + stem, 0, 1)
    inner = cv2.erode((glass_shape > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    opacity = glass_shape * np.where(inner > 0, 0.12, 0.55)
    opacity = cv2.GaussianBlur(opacity.astype(np.float32), (0, 0), 0.6) * (glass_shape > 0.01)
    highlight = np.exp(-(((xx - (gx - 0.5 * gr)) / (0.1 * gr)) ** 2)) * (inner > 0)
    # Glass adds what it reflects (the key light: a faint sheen and a highlight) to what it lets
    # through: premultiplied radiance, independent of its opacity.
    reflection = scene.surface(glass_shape, "glass", key=0.03 + 0.45 * highlight).premult
    layers.append(_Layer(opacity.astype(np.float32), reflection, reflection, solid=False))
    return layers


def _props(scene: _Scene) -> list[_Layer]:
    rng = scene.rng
    h, w = scene.shape
    layers = _person(scene, "white cloth", None, sheen_peak=0.05, bounce=0.2)
    spots = [(0.14, 0.35), (0.86, 0.35), (0.2, 0.75), (0.8, 0.75)]
    materials = ["olive", "sage", "teal", "lime"]
    rng.shuffle(materials)
    for (px, py), material in zip(spots, materials, strict=True):
        x, y, size = w * px + rng.uniform(-10, 10), h * py + rng.uniform(-10, 10), h * rng.uniform(0.09, 0.13)
        if rng.uniform() < 0.5:
            shape = scene.coverage(_ellipse(x, y, size, size * rng.uniform(0.7, 1.0), rng.uniform(0, 180)))
        else:
            shape = scene.coverage(
                _polygon(
                    [
                        (x - size, y - size * 0.7),
                        (x + size, y - size * 0.8),
                        (x + size * 0.9, y + size),
                        (x - size * 0.8, y + size * 0.9),
                    ]
                )
            )
        layers.append(
            scene.surface(
                shape,
                material,
                key=0.75 + 0.25 * scene.smooth(3),
                bounce=0.4 * scene.rim(shape, 10.0),
                sheen=0.08 * scene.rim(shape, 4.0),
            )
        )
    return layers


_BUILDERS = {
    "dark clothing": _dark_clothing,
    "dark hair": _dark_hair,
    "blond and grey hair": _light_hair,
    "skin and moving hands": _skin_and_hands,
    "glass and smoke": _glass_and_smoke,
    "green-ish props": _props,
}


def _bayer_code() -> int:
    # Our mosaic is R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1); OpenCV names patterns by the
    # second row, so this layout is its "BayerBG" (checked by the tests on a flat colour).
    return cv2.COLOR_BayerBG2RGB


def capture(
    raw_rgb: np.ndarray,
    rng: np.random.Generator,
    lens_sigma_px: float = LENS_SIGMA_PX,
    noise_gain: float = 1.0,
    exposure_ev: float = 0.0,
) -> np.ndarray:
    """The camera: raw camera RGB (H, W, 3) in → lens blur, RGGB mosaic, photon + read noise, 12-bit,
    demosaic, white balance, colour matrix → sRGB float32 (H, W, 3) 0–1 out.

    ``noise_gain`` scales the noise's standard deviation (a full well 1/gain² as deep, the read noise
    the same in raw units × gain); ``exposure_ev`` scales the light (raw clips at full well)."""
    exposed = np.asarray(raw_rgb, np.float32) * np.float32(2.0**exposure_ev)
    blurred = cv2.GaussianBlur(exposed, (0, 0), lens_sigma_px)
    h, w = blurred.shape[:2]
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2] = blurred[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = blurred[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = blurred[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = blurred[1::2, 1::2, 2]
    full_well_e = FULL_WELL_E / max(noise_gain, 1e-6) ** 2
    electrons = rng.poisson(np.clip(mosaic, 0, None) * full_well_e).astype(np.float32)
    electrons += rng.normal(0, READ_NOISE_E / max(noise_gain, 1e-6), electrons.shape).astype(np.float32)
    top = 2**RAW_BITS - 1
    raw12 = np.clip(np.rint(electrons / full_well_e * top), 0, top).astype(np.uint16)
    demosaiced = cv2.cvtColor(raw12, _bayer_code()).astype(np.float32) / top
    return linear_to_srgb(np.clip(develop(demosaiced), 0, 1)).astype(np.float32)


def render_plate(
    seed: int,
    group: str,
    screen_name: str,
    shape: tuple[int, int] = (360, 640),
    bounce_gain: float = 1.0,
    variation: Variation = Variation(),
) -> RenderedPlate:
    """Render one plate of ``group`` (one of :data:`GROUPS`) on ``screen_name`` (one of :data:`SCREENS`).

    ``bounce_gain`` scales the screen's bounce light on the subject beyond what a passive screen can
    give (1 = physical; the renderer's first version lit subjects 2–3.6× brighter, as 3 about does).
    Deterministic for a seed. ``solid`` marks α* = 1 pixels of solid subjects (glass, smoke and
    motion-blurred parts excluded), for the hole measure. ``variation`` changes the camera or the set
    (:class:`Variation`); the truth's foreground gets the same exposure.
    """
    if group not in _BUILDERS:
        raise SettingsError(f"unknown scene group {group!r}: use one of {', '.join(GROUPS)}")
    if screen_name not in SCREEN_REFLECTANCE:
        raise SettingsError(f"unknown screen {screen_name!r}: use one of {', '.join(SCREENS)}")
    rng = np.random.default_rng(seed)
    if not (math.isfinite(bounce_gain) and bounce_gain >= 0):
        raise SettingsError(f"bounce_gain {bounce_gain}: need a finite number ≥ 0")
    scene = _Scene(rng, shape, screen_name, bounce_gain, variation)
    layers = _BUILDERS[group](scene)
    alpha: np.ndarray = np.zeros(shape, np.float32)
    premult = np.zeros(shape + (3,), np.float32)
    premult_clean = np.zeros(shape + (3,), np.float32)
    solid = np.zeros(shape, bool)
    for layer in layers:  # back to front, premultiplied "over"
        keep = (1.0 - layer.alpha)[..., None]
        premult = layer.premult + premult * keep
        premult_clean = layer.premult_clean + premult_clean * keep
        alpha = layer.alpha + alpha * (1.0 - layer.alpha)
        solid = (solid & (layer.alpha <= 0)) | (layer.solid & (layer.alpha >= 1.0))
    seen = premult + (1.0 - alpha)[..., None] * scene.screen
    rgb = capture(seen, rng, noise_gain=variation.noise_gain, exposure_ev=variation.exposure_ev)
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), LENS_SIGMA_PX)  # noqa: E731
    alpha_seen = np.clip(blur(alpha), 0, 1)
    exposure = np.float32(2.0**variation.exposure_ev)
    fg_linear = develop(blur(premult_clean) * exposure) / np.maximum(alpha_seen, 1e-4)[..., None]
    fg = np.where(alpha_seen[..., None] > 1e-4, linear_to_srgb(np.clip(fg_linear, 0, 1)), 0.0)
    return RenderedPlate(
        rgb=rgb,
        alpha=alpha_seen.astype(np.float32),
        foreground_rgb=fg.astype(np.float32),
        solid=solid & (alpha_seen >= 1.0 - 1e-6),
        group=group,
        screen_name=screen_name,
        screen="blue" if screen_name == "blue" else "green",
    )


def render_clean_plate(
    seed: int, screen_name: str, shape: tuple[int, int] = (360, 640), noise_seed: int = 1
) -> np.ndarray:
    """The empty screen of :func:`render_plate`'s plate with the same seed (same screen, same light),
    shot again: a clean plate, float32 (H, W, 3) sRGB, with noise of its own (``noise_seed``)."""
    if screen_name not in SCREEN_REFLECTANCE:
        raise SettingsError(f"unknown screen {screen_name!r}: use one of {', '.join(SCREENS)}")
    scene = _Scene(np.random.default_rng(seed), shape, screen_name)  # the screen is drawn first
    return capture(scene.screen, np.random.default_rng([seed, noise_seed]))


def _to8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def store_jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    """Round trip through OpenCV's JPEG (4:2:0) → float32 sRGB."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(_to8(rgb), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise MediaError("OpenCV could not encode the JPEG")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def store_h264(frames: list[np.ndarray], crf: int = 20) -> list[np.ndarray]:
    """Encode frames (same size) as one H.264 clip (yuv420p) with PyAV and decode them back."""
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "medium"}
            for rgb in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(_to8(rgb), format="rgb24")))
            out.mux(stream.encode())
        with av.open(str(path)) as src:
            return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in src.decode(video=0)]


def store_png(rgb: np.ndarray) -> np.ndarray:
    """8-bit quantisation (what a PNG keeps)."""
    return _to8(rgb).astype(np.float32) / 255
