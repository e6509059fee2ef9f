"""The black clip follows the clear screen's own noise: faint veils (smoke, glass) keep their α, grain on
clear screen is still cut, and a shadow on the screen (less light, same colour) is not taken for a veil.

The plate here is built in this file: a screen lit unevenly, a neutral grey veil of known α over part
of it, a shadow and a solid block, with 8-bit quantised sensor-like noise (photon noise grows with
the signal).
"""

import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.keyer import ChromaKeyer, KeyerSettings
from guangying.keyer.noise import CLEAR_Z, black_clip_field, clear_screen_sigma

SHAPE = (240, 400)
VEIL_ALPHA = 0.15


def _veil_plate(
    seed: int, screen_srgb: tuple[float, float, float], empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(sRGB plate, α*); ``empty``: the same screen without veil, block or shadow (a clean plate)."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 + 0.15 * (xx / w - 0.5) - 0.1 * ((yy / h - 0.5) ** 2)
    alpha = np.zeros(SHAPE, np.float32)
    if not empty:
        light[200:, 240:] *= 0.75  # a shadow on the screen: a quarter less light, no other colour
        alpha[40:200, 60:200] = VEIL_ALPHA  # a faint veil, far larger than the analysis grid's cells
        alpha[60:180, 260:360] = 1.0  # a solid block
    screen = srgb_to_linear(np.array(screen_srgb, np.float32)) * light[..., None]
    grey = np.full(3, 0.3, np.float32)
    linear = alpha[..., None] * grey + (1.0 - alpha[..., None]) * screen
    # Photon noise (variance ∝ signal) plus a read-noise floor, then 8 bits.
    noisy = linear + rng.normal(0.0, 1.0, linear.shape).astype(np.float32) * np.sqrt(2e-5 * linear + 1e-6)
    rgb = np.round(linear_to_srgb(np.clip(noisy, 0.0, 1.0)) * 255.0) / 255.0
    return rgb.astype(np.float32), alpha


def test_clear_screen_sigma_reads_the_spread_of_clear_cells_whatever_else_is_in_frame():
    rng = np.random.default_rng(3)
    ratio = 1.0 + rng.normal(0.0, 0.02, (90, 160)).astype(np.float32)
    ratio[20:70, 30:90] = 0.1 + rng.normal(0.0, 0.02, (50, 60))  # a subject covering a fifth of the frame
    sigma = clear_screen_sigma(ratio)
    assert sigma is not None and 0.016 < sigma < 0.024
    assert clear_screen_sigma(np.full((90, 160), 0.2, np.float32)) is None  # no clear screen to measure


def test_black_clip_field_keeps_the_clip_on_clear_screen_and_at_silhouettes():
    rng = np.random.default_rng(4)
    ratio = 1.0 + rng.normal(0.0, 0.02, (90, 160)).astype(np.float32)
    ratio[20:70, 30:90] = 0.7  # a faint veil: 15 σ below clear screen
    ratio[20:70, 110:150] = 0.0  # a solid subject
    field = black_clip_field(ratio, 0.1)
    clear = np.ones(ratio.shape, bool)
    clear[18:72, 28:92] = clear[18:72, 108:152] = False
    assert np.allclose(field[clear], 0.1)
    assert np.all(field[22:68, 32:88] == 0.0)  # inside the veil
    assert np.all(field[22:68, 112:148] == 0.0)  # inside the subject (α is 1 there anyway)
    # The silhouette's cells (half screen) and their outer neighbours keep the clip.
    assert np.all(field[20:70, 29] > 0.09) and np.all(field[20:70, 30] > 0.09)
    # A cell just within CLEAR_Z σ of clear screen is treated as screen.
    ratio[20:70, 30:90] = 1.0 - 0.9 * CLEAR_Z * 0.02
    assert np.all(black_clip_field(ratio, 0.1)[22:68, 32:88] > 0.09)
    assert np.all(black_clip_field(ratio, 0.0) == 0.0)


@pytest.mark.parametrize(
    ("seed", "screen_srgb"), [(21, (0.2, 0.6, 0.25)), (22, (0.3, 0.5, 0.35)), (23, (0.15, 0.3, 0.65))]
)
def test_a_faint_veil_keeps_its_alpha_and_clear_screen_stays_clear(seed, screen_srgb):
    rgb, alpha = _veil_plate(seed, screen_srgb)
    result = ChromaKeyer(KeyerSettings()).process(rgb).alpha
    veil = np.zeros(SHAPE, bool)
    veil[52:188, 72:188] = True
    # A fixed black clip of 0.1 keeps (0.15 − 0.1)/0.75 ≈ 0.07 of it.
    assert abs(float(result[veil].mean()) - VEIL_ALPHA) < 0.035
    clear = alpha == 0
    clear[28:212, 48:212] = clear[48:192, 248:372] = False  # leave the edges out
    clear[188:, 228:] = False  # the shadow
    assert np.mean(result[clear] > 0) < 0.01
    assert np.all(result[72:168, 272:348] == 1.0)


def test_a_shadow_on_the_screen_keeps_the_black_clip_and_a_veil_does_not():
    # With a clean plate the shadow is not in the plate: it lowers d(C)/d(S) by a quarter, as a
    # 25% veil would, but it leaves the screen's colour as it is.
    rgb, _ = _veil_plate(24, (0.2, 0.6, 0.25))
    clean, _ = _veil_plate(25, (0.2, 0.6, 0.25), empty=True)
    keyer = ChromaKeyer(KeyerSettings(clean_plate=clean))
    alpha = keyer.process(rgb).alpha
    black = keyer.screen_model(rgb)[3]
    cell_h, cell_w = SHAPE[0] / black.shape[0], SHAPE[1] / black.shape[1]

    def cells(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return black[int(y0 / cell_h) : int(y1 / cell_h), int(x0 / cell_w) : int(x1 / cell_w)]

    assert np.allclose(cells(212, 240, 252, 400), 0.1)  # the shadow: less light on the screen
    assert np.all(cells(60, 180, 80, 180) == 0.0)  # the veil: another colour mixed in
    # The shadow keys as the fixed clip keys it: raw α 0.25 → (0.25 − 0.1)/0.75.
    assert abs(float(alpha[212:240, 252:400].mean()) - 0.2) < 0.03
