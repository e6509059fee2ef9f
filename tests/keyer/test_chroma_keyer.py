"""The chroma keyer on generated plates with exact truth (seeds differ from the benchmark's)."""

import numpy as np
import pytest

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.evaluation import grad, mad
from guangying.evaluation.synthetic import SCREEN_SRGB, make_plate
from guangying.keyer import ChromaKeyer, KeyerSettings, estimate_screen_colour, polygon_mask
from guangying.keyer.reference import floor_at_full_size, key_reference

SHAPE = (180, 320)


@pytest.fixture(scope="module")
def green_plate():
    return make_plate(101, SHAPE, "green")


@pytest.mark.parametrize("seed", [101, 102, 104])
def test_defaults_key_an_uneven_noisy_green_screen(seed):
    plate = make_plate(seed, SHAPE, "green")
    result = ChromaKeyer(KeyerSettings()).process(plate.rgb)
    assert result.alpha.dtype == np.float32 and result.alpha.shape == SHAPE
    assert result.foreground_rgb.dtype == np.float32 and result.foreground_rgb.shape == SHAPE + (3,)
    assert mad(result.alpha, plate.alpha) < 10
    assert grad(result.alpha, plate.alpha) < 0.6
    # Un-mixing: where the key sees the semi-transparent band, the colour is the subject's, and
    # clearly closer to it than the plate's own (screen-tinted) colour.
    seen_band = (plate.alpha > 0.05) & (plate.alpha < 0.95) & (result.alpha > 0.05)
    unmixed_error = np.abs(result.foreground_rgb - plate.foreground_rgb)[seen_band].mean()
    plain = ChromaKeyer(KeyerSettings(unmix=False)).process(plate.rgb).foreground_rgb
    assert unmixed_error < 0.11
    assert unmixed_error < 0.8 * np.abs(plain - plate.foreground_rgb)[seen_band].mean()


def test_blue_screen_is_detected_and_keyed():
    plate = make_plate(103, SHAPE, "blue")
    keyer = ChromaKeyer(KeyerSettings())
    result = keyer.process(plate.rgb)
    assert keyer.screen == "blue"
    assert mad(result.alpha, plate.alpha) < 8


def test_screen_colour_estimate_on_an_uneven_screen(green_plate):
    estimate = np.array(estimate_screen_colour(green_plate.rgb))
    # The estimate is the median screen pixel: within the light's spread of the nominal colour.
    assert np.abs(estimate - np.array(SCREEN_SRGB["green"])).max() < 0.12
    assert estimate[1] > estimate[0] + 0.2 and estimate[1] > estimate[2] + 0.2


def test_reset_forgets_the_screen():
    keyer = ChromaKeyer(KeyerSettings())
    keyer.process(make_plate(5, (90, 160), "green").rgb)
    assert keyer.screen == "green"
    keyer.reset()
    assert keyer.screen is None
    keyer.process(make_plate(6, (90, 160), "blue").rgb)
    assert keyer.screen == "blue"


@pytest.mark.parametrize("method", ["limit", "average", "double"])
def test_despill_leaves_no_green_excess(green_plate, method):
    result = ChromaKeyer(KeyerSettings(despill_method=method)).process(green_plate.rgb)
    fg = result.foreground_rgb[result.alpha > 0.02]
    assert np.all(fg[:, 1] <= np.maximum(fg[:, 0], fg[:, 2]) + 2e-3)


def test_without_despill_the_spill_stays(green_plate):
    result = ChromaKeyer(KeyerSettings(despill_method="none")).process(green_plate.rgb)
    fg = result.foreground_rgb[result.alpha > 0.5]
    assert (fg[:, 1] > np.maximum(fg[:, 0], fg[:, 2]) + 0.02).mean() > 0.05


def test_garbage_and_core_masks_are_respected(green_plate):
    h, w = SHAPE
    garbage = polygon_mask([(0, 0), (w / 2, 0), (w / 2, h), (0, h)], SHAPE)  # left half: removed
    core = polygon_mask([(w - 40, 10), (w - 10, 10), (w - 10, 40), (w - 40, 40)], SHAPE)  # a screen patch
    assert green_plate.alpha[15:35, w - 35 : w - 15].max() == 0.0
    result = ChromaKeyer(KeyerSettings(garbage_mask=garbage, core_mask=core)).process(green_plate.rgb)
    assert result.alpha[garbage >= 1].max() == 0.0
    assert result.alpha[core >= 1].min() == 1.0
    assert result.alpha[:, w // 2 + 2 :].max() == 1.0  # the subject's right half is still there


def test_clean_plate_beats_a_flat_screen_colour_on_uneven_light():
    plate = make_plate(104, SHAPE, "green", unevenness=0.45)
    flat = ChromaKeyer(KeyerSettings(auto_plate=False)).process(plate.rgb)
    clean = ChromaKeyer(KeyerSettings(auto_plate=False, clean_plate=plate.clean_plate_rgb)).process(plate.rgb)
    assert mad(clean.alpha, plate.alpha) < 0.5 * mad(flat.alpha, plate.alpha)


def test_auto_plate_copes_with_uneven_light_without_a_clean_plate():
    plate = make_plate(104, SHAPE, "green", unevenness=0.45)
    flat = ChromaKeyer(KeyerSettings(auto_plate=False)).process(plate.rgb)
    auto = ChromaKeyer(KeyerSettings()).process(plate.rgb)
    assert mad(auto.alpha, plate.alpha) < 0.5 * mad(flat.alpha, plate.alpha)


def test_soft_edges_of_a_saturated_red_keep_their_transparency():
    # A colour-difference key alone makes a red's soft edge far too opaque (red has no green at all).
    h, w = 90, 160
    alpha = np.clip((np.arange(w, dtype=np.float32) - 60) / 12, 0, 1)[None, :].repeat(h, 0)  # 12 px blur
    red, green = (
        srgb_to_linear(np.array([0.8, 0.1, 0.1], np.float32)),
        srgb_to_linear(np.array(SCREEN_SRGB["green"])),
    )
    rgb = linear_to_srgb(alpha[..., None] * red + (1 - alpha[..., None]) * green)
    plain = ChromaKeyer(KeyerSettings(project_subject_colour=False)).process(rgb)
    projected = ChromaKeyer(KeyerSettings()).process(rgb)
    assert mad(projected.alpha, alpha) < 0.75 * mad(plain.alpha, alpha)
    assert mad(projected.alpha, alpha) < 20


def test_manual_screen_colour_is_used(green_plate):
    colour = (0.25, 0.6, 0.3)
    keyer = ChromaKeyer(KeyerSettings(screen_colour=colour, auto_plate=False))
    keyer.process(green_plate.rgb)
    np.testing.assert_allclose(keyer.screen_colour_linear, srgb_to_linear(np.array(colour, np.float32)))
    assert keyer.screen == "green"
    # A wrong override (a blue screen's colour) must change the result: the override is really used.
    wrong = ChromaKeyer(KeyerSettings(screen_colour=SCREEN_SRGB["blue"])).process(green_plate.rgb)
    assert mad(wrong.alpha, green_plate.alpha) > 200


@pytest.mark.parametrize(
    "settings",
    [
        KeyerSettings(auto_plate=False),
        KeyerSettings(
            despill_method="average", spill_replace="background", screen_gain=1.1, screen_balance=0.7
        ),
        KeyerSettings(
            despill_method="double", spill_replace="none", unmix=False, clip_black=0.0, clip_white=1.0
        ),
        KeyerSettings(grow_px=-1, softness_px=1.5),
        KeyerSettings(grow_px=2, despot_px=3),
    ],
)
def test_numba_kernel_agrees_with_the_numpy_reference(green_plate, settings):
    background = np.ascontiguousarray(np.random.default_rng(0).uniform(0, 1, SHAPE + (3,)).astype(np.float32))
    keyer = ChromaKeyer(settings)
    result = keyer.process(green_plate.rgb, background)
    plate, floor, subject, black = keyer.screen_model(green_plate.rgb)
    plate_full = plate.reshape(-1)[:3] if plate.shape[:2] == (1, 1) else _upsample(plate, SHAPE)
    alpha_ref, fg_ref = key_reference(
        green_plate.rgb,
        plate_full,
        keyer.screen,
        settings,
        background,
        floor_at_full_size(floor, SHAPE),
        _upsample(subject, SHAPE),
        _upsample(black, SHAPE),
    )
    # The kernel decodes sRGB through a 4096-entry table (error ≤ 3e-4 in linear light); despot's
    # area thresholds may flip a rare speck on such a difference.
    alpha_diff = np.abs(result.alpha - alpha_ref)
    assert alpha_diff.mean() < 3e-4 and (alpha_diff > 1e-2).mean() < 3e-3
    visible = alpha_ref > 0.1
    fg_diff = np.abs(result.foreground_rgb - fg_ref)[visible]
    assert fg_diff.mean() < 1e-3 and np.quantile(fg_diff, 0.999) < 1e-2


def _upsample(plate, shape):
    import cv2

    return cv2.resize(plate, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("exposure", [1.1, 0.9])
def test_a_clean_plate_shot_at_another_exposure_is_matched_to_the_take(exposure):
    """A phone's auto exposure between the empty screen and the take: a plate 10 % brighter laid a veil
    of alpha 0.1–0.27 over the whole clear screen (the set dimmed 6 %), without a word."""
    plate = make_plate(104, SHAPE, "green", unevenness=0.45)
    clean = linear_to_srgb(srgb_to_linear(plate.clean_plate_rgb) * np.float32(exposure))
    settings = KeyerSettings(auto_plate=False, clean_plate=np.clip(clean, 0, 1).astype(np.float32))
    said = rf"the clean plate is \d+% {'brighter' if exposure > 1 else 'darker'} than this take's screen"
    with pytest.warns(UserWarning, match=said):
        result = ChromaKeyer(settings).process(plate.rgb)
    as_shot = KeyerSettings(auto_plate=False, clean_plate=plate.clean_plate_rgb)
    as_shot = ChromaKeyer(as_shot).process(plate.rgb)
    clear = plate.alpha == 0  # before: mean 0.020, up to 0.23, MAD 19.8 against 7.5 with the plate as shot
    assert result.alpha[clear].mean() < 0.002
    assert result.alpha[clear].max() < as_shot.alpha[clear].max() + 0.02
    assert mad(result.alpha, plate.alpha) < 1.05 * mad(as_shot.alpha, plate.alpha)


def test_a_screen_that_dims_during_the_take_still_keys():
    """The camera's auto exposure took the whole screen down mid-take (here to 52 % of its sRGB code,
    under a third of its light): every pixel keyed solid from then on (mean alpha 0.83, then 1.0), the
    set gone. The screen's colour is learned once, on the first frame; a dimmed screen is found again by
    its hue. Made as a camera stores it (the exposure on the sRGB code, 8-bit)."""
    h, w = 120, 200
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    keyer = ChromaKeyer(KeyerSettings())
    for n in range(12):
        exposure = 1.0 - 0.045 * n
        screen = np.array([0.10 + 0.004 * n, 0.55, 0.20 - 0.003 * n], np.float32) * exposure
        alpha = np.clip((38 - np.hypot(xx - 70 - 4 * n, yy - 60)) / 9, 0, 1)[..., None]
        subject = np.array([0.7, 0.45, 0.35], np.float32) * exposure
        code = np.round((alpha * subject + (1 - alpha) * screen) * 255) / 255
        keyed = keyer.process(code.astype(np.float32)).alpha
        assert mad(keyed, alpha[..., 0]) < 15, (n, mad(keyed, alpha[..., 0]))


@pytest.mark.parametrize("settings", [KeyerSettings(softness_px=4.0),
                                      KeyerSettings(grow_px=-2.0, softness_px=2.0)])
def test_a_softened_matte_keeps_a_solid_subjects_colour(settings):
    """The subject's colour was un-mixed with the softened α: screen taken out of pixels that hold none,
    a solid edge (150, 120, 110) turned magenta (192, 70, 130) in the foreground and the composite."""
    subject = np.array([150, 120, 110], np.float32) / 255
    rgb = np.tile(np.array([0.2, 0.62, 0.3], np.float32), (120, 200, 1))
    rgb[20:100, 60:140] = subject
    result = ChromaKeyer(settings).process(rgb)
    inside = np.zeros(rgb.shape[:2], bool)
    inside[20:100, 60:140] = True
    softened = inside & (result.alpha > 0.05) & (result.alpha < 0.95)
    assert softened.sum() > 100
    assert np.abs(result.foreground_rgb[softened] - subject).max() < 2 / 255
