"""Keyer building blocks: maths on hand-made pixels, matte operations, masks, bad inputs."""

import cv2
import numpy as np
import pytest

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.evaluation.synthetic import make_plate
from guangying.keyer import (
    ChromaKeyer,
    KeyerSettings,
    colour_difference_alpha,
    despill,
    despot_matte,
    estimate_screen_colour,
    estimate_screen_plate,
    estimate_subject,
    grow_matte,
    load_clean_plate,
    mask_from_image,
    polygon_mask,
    small_linear,
    unmix_foreground,
)

SCREEN = np.array([0.05, 0.5, 0.08], np.float32)  # linear green


def test_colour_difference_alpha_of_screen_subject_and_mix():
    subject = np.array([0.4, 0.3, 0.2], np.float32)
    pixels = np.stack([SCREEN, subject, 0.5 * SCREEN + 0.5 * np.array([0.3, 0.3, 0.3], np.float32)])
    alpha = colour_difference_alpha(pixels, SCREEN, "green", balance=1.0)
    np.testing.assert_allclose(alpha, [0.0, 1.0, 0.5], atol=1e-6)


def test_unmix_recovers_the_foreground_of_a_linear_mix():
    rng = np.random.default_rng(1)
    fg = rng.uniform(0, 1, (50, 3)).astype(np.float32)
    alpha = rng.uniform(0.1, 1, 50).astype(np.float32)
    mixed = alpha[:, None] * fg + (1 - alpha[:, None]) * SCREEN
    np.testing.assert_allclose(unmix_foreground(mixed, alpha, SCREEN), fg, atol=1e-5)


def test_despill_limits_by_hand():
    pixel = np.array([[0.2, 0.6, 0.4]], np.float32)
    np.testing.assert_allclose(despill(pixel, "green", "limit", replace="none"), [[0.2, 0.4, 0.4]])
    np.testing.assert_allclose(despill(pixel, "green", "average", replace="none"), [[0.2, 0.3, 0.4]])
    np.testing.assert_allclose(
        despill(pixel, "green", "double", replace="none"), [[0.2, 1.0 / 3, 0.4]], rtol=1e-6
    )
    # Neutral replacement gives back the luminance that was taken: 0.2 of green × 0.7152.
    neutral = despill(pixel, "green", "limit", replace="neutral")
    np.testing.assert_allclose(neutral, [[0.2 + 0.14304, 0.4 + 0.14304, 0.4 + 0.14304]], rtol=1e-5)
    blue = despill(np.array([[0.2, 0.3, 0.7]], np.float32), "blue", "limit", bias=0.1, replace="none")
    np.testing.assert_allclose(blue, [[0.2, 0.3, 0.4]], rtol=1e-6)


def test_despot_removes_specks_but_keeps_a_thin_long_strand():
    alpha = np.zeros((60, 60), np.float32)
    alpha[20:60, 20:40] = 1.0  # body
    alpha[5:20, 30] = 0.4  # a one-pixel strand joined to it
    alpha[5:7, 5:7] = 0.8  # a speck
    alpha[40:42, 25:27] = 0.0  # a hole
    out = despot_matte(alpha, 4)
    assert out[5:7, 5:7].max() == 0.0
    assert out[40:42, 25:27].min() == 1.0
    np.testing.assert_allclose(out[5:20, 30], 0.4)


def test_grow_and_shrink():
    alpha = np.zeros((40, 40), np.float32)
    alpha[10:30, 10:30] = 1.0
    assert grow_matte(alpha, 2).sum() > alpha.sum() > grow_matte(alpha, -2).sum()
    assert grow_matte(alpha, -2)[12:28, 12:28].min() == 1.0


def test_polygon_mask_is_antialiased_and_invertible():
    square = [(10, 10), (30, 10), (30, 30), (10, 30)]  # edges through pixel centres
    mask = polygon_mask(square, (40, 40))
    assert mask.dtype == np.float32
    assert abs(mask.sum() - 400) < 12  # 20 × 20 pixels, the edge pixels half covered
    assert mask[11:30, 11:30].min() == 1.0 and mask[10, 20] == pytest.approx(0.5, abs=0.15)
    assert mask[:9].max() == 0.0
    np.testing.assert_allclose(polygon_mask(square, (40, 40), invert=True), 1 - mask)
    with pytest.raises(ValueError, match="at least 3"):
        polygon_mask([(0, 0), (1, 1)], (10, 10))


def test_mask_from_image_reads_and_checks_size(tmp_path):
    path = tmp_path / "garbage.png"
    image = np.zeros((20, 30), np.uint16)
    image[:, :10] = 65535
    cv2.imwrite(str(path), image)
    mask = mask_from_image(path, (20, 30))
    assert mask[:, :10].min() == 1.0 and mask[:, 10:].max() == 0.0
    with pytest.raises(ValueError, match="garbage.png is 30×20, the footage is 40×20: another framing"):
        mask_from_image(path, (20, 40))
    # drawn on the 4K original of an HD proxy (here 3×): the same framing, scaled and said
    with pytest.warns(UserWarning, match="garbage.png is 30×20, the footage is 90×60: scaled"):
        big = mask_from_image(path, (60, 90))
    assert big[:, :28].min() == 1.0 and big[:, 32:].max() == 0.0
    with pytest.raises(ValueError, match="mask image .* not found"):
        mask_from_image(tmp_path / "missing.png", (20, 30))
    # drawn on an anamorphic plate shown unsqueezed (a frame exported from Resolve): squeezed, and said;
    # it was refused as "another framing"
    with pytest.warns(UserWarning, match="the framing shown unsqueezed"):
        squeezed = mask_from_image(path, (20, 20), pixel_aspect=1.5)
    assert squeezed[:, :6].min() == 1.0 and squeezed[:, 8:].max() == 0.0
    with pytest.raises(ValueError, match=r"footage is 40×20 stored \(80×20 shown"):
        mask_from_image(path, (20, 40), pixel_aspect=2.0)


@pytest.fixture
def frame():
    rgb = np.empty((24, 32, 3), np.float32)
    rgb[:] = (0.2, 0.6, 0.25)
    rgb[8:16, 8:16] = (0.8, 0.6, 0.5)
    return rgb


def test_bad_frames_raise_clear_errors(frame):
    keyer = ChromaKeyer()
    with pytest.raises(ValueError, match="float sRGB in 0–1, got uint8 code values"):
        keyer.process((frame * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB array, got \(24, 32\)"):
        keyer.process(frame[..., 0])
    with pytest.raises(ValueError, match="background is"):
        keyer.process(frame, np.zeros((10, 10, 3), np.float32))


def test_mask_and_plate_size_mismatches_raise(frame):
    with pytest.raises(ValueError, match="garbage_mask is \\(10, 10\\) but the frame is \\(24, 32\\)"):
        ChromaKeyer(KeyerSettings(garbage_mask=np.zeros((10, 10), np.float32))).process(frame)
    with pytest.raises(ValueError, match="core_mask"):
        ChromaKeyer(KeyerSettings(core_mask=np.zeros((24, 31), np.float32))).process(frame)
    with pytest.raises(ValueError, match="clean_plate is"):
        ChromaKeyer(KeyerSettings(clean_plate=np.zeros((12, 16, 3), np.float32))).process(frame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"screen": "red"}, "screen='red'"),
        ({"despill_method": "magic"}, "despill_method"),
        ({"clip_black": 0.6, "clip_white": 0.4}, "clip_black < clip_white"),
        ({"screen_gain": 0}, "screen_gain"),
        ({"screen_colour": (0.5, 0.5, 0.5)}, "grey"),
        ({"screen_colour": (0.1, 2.0, 0.1)}, "0–1"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeyerSettings(**kwargs)


def test_a_frame_without_a_screen_says_so():
    grey = np.full((20, 20, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match="no green screen found"):
        estimate_screen_colour(grey, "green")
    # asked for neither, it named the one detection leaned to ("no blue screen found")
    with pytest.raises(ValueError, match="no green or blue screen found.*--screen-colour"):
        estimate_screen_colour(grey, "auto")
    # so the keyer says, on its default --screen auto (it passed the one it leaned to on)
    keyer = ChromaKeyer(KeyerSettings())
    with pytest.warns(UserWarning, match="no green or blue screen found"):
        keyer.process(grey)


def test_slate_at_the_head_of_a_take_passes_through_until_the_screen_appears():
    slate = np.full((180, 320, 3), 0.5, np.float32)
    plate = make_plate(3, (180, 320), "green")
    keyer = ChromaKeyer(KeyerSettings())
    with pytest.warns(UserWarning, match="no .* screen found"):
        first = keyer.process(slate)
    assert np.all(first.alpha == 1.0) and np.array_equal(first.foreground_rgb, slate)
    keyed = keyer.process(plate.rgb)
    assert keyer.screen == "green"
    assert np.abs(keyed.alpha - plate.alpha).mean() < 0.05


def test_auto_plate_follows_uneven_light_behind_the_subject():
    plate = make_plate(7, (180, 320), "green", unevenness=0.45)
    small = small_linear(plate.rgb)
    screen = srgb_to_linear(np.array(estimate_screen_colour(plate.rgb), np.float32))
    estimate = estimate_screen_plate(small, screen, "green", 0.9)
    truth = small_linear(plate.clean_plate_rgb)
    relative_error = np.abs(estimate[..., 1] - truth[..., 1]) / truth[..., 1]
    flat_error = np.abs(screen[1] - truth[..., 1]) / truth[..., 1]
    assert np.median(relative_error) < 0.05 and np.quantile(relative_error, 0.95) < 0.15
    assert np.median(relative_error) < 0.3 * np.median(flat_error)


@pytest.mark.parametrize(("spill", "low", "high"), [(0.0, 0.0, 0.03), (0.2, 0.05, 0.3)])
def test_spill_floor_measures_the_subjects_spill(spill, low, high):
    plate = make_plate(8, (180, 320), "green", spill=spill, noise_sigma=0.0)
    small = small_linear(plate.rgb)
    screen_plate = small_linear(plate.clean_plate_rgb)
    floor, subject, _ = estimate_subject(small, screen_plate, "green", 0.9, downscale=2)
    assert subject.shape == small.shape[:2] + (9,)
    # On the solid body: a mix of a subject with the screen may carry the ratio that subject shows at
    # full coverage (spill_floor.subject_light_floor), its own colour or screen light, which is not spill.
    h, w = small.shape[:2]
    solid = cv2.resize(plate.alpha, (w, h), interpolation=cv2.INTER_AREA) >= 0.99
    near_body = floor[h // 2 :, w // 3 : 2 * w // 3][solid[h // 2 :, w // 3 : 2 * w // 3]]
    assert near_body.size > 1000
    assert low <= float(near_body.max()) <= high


def test_subject_despill_keeps_each_subjects_own_hue():
    spilled_hair = np.array([[0.30, 0.28, 0.10]], np.float32)  # brown (G/R 0.6) with green spill
    brown = np.array([[0.30, 0.18, 0.10]], np.float32)
    limited = despill(spilled_hair, "green", "limit", replace="none")
    by_subject = despill(spilled_hair, "green", "subject", replace="none", subject_rgb_linear=brown)
    np.testing.assert_allclose(limited, [[0.30, 0.28, 0.10]])  # G < R already: a plain limit keeps the tint
    np.testing.assert_allclose(by_subject, brown, rtol=1e-6)
    yellow = np.array([[0.90, 0.68, 0.01]], np.float32)
    np.testing.assert_allclose(
        despill(yellow, "green", "subject", replace="none", subject_rgb_linear=yellow), yellow
    )


def test_nan_and_infinite_pixels_are_refused_before_the_keyer_learns_from_them(frame):
    # they were keyed around (the foreground kept them, and the composite); now refused by name
    keyer = ChromaKeyer()
    broken = frame.copy()
    broken[0, 0], broken[1, 1], broken[2, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(SettingsError, match=r"has 9 NaN or infinite value\(s\)"):  # 3 pixels
        keyer.process(broken)
    result = keyer.process(frame)
    assert np.isfinite(result.alpha).all() and np.isfinite(result.foreground_rgb).all()


def test_a_clean_plate_at_another_size_of_the_same_framing_is_scaled(tmp_path):
    # A still exported from the 4K original while the shot is keyed from its HD proxy was refused
    y, x = np.mgrid[0:40, 0:64]
    plate = np.stack([0.1 + 0.1 * x / 64, 0.5 + 0.2 * y / 40, 0.15 + 0 * x], axis=-1).astype(np.float32)
    big = cv2.resize(plate, (128, 80), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(tmp_path / "plate_4k.png"), (big[..., ::-1] * 65535 + 0.5).astype(np.uint16))
    with pytest.warns(UserWarning, match=r"plate_4k\.png is 128×80, the footage is 64×40: scaled"):
        loaded = load_clean_plate(tmp_path / "plate_4k.png", (40, 64))
    assert loaded.shape == (40, 64, 3)
    np.testing.assert_allclose(loaded[2:-2, 2:-2], plate[2:-2, 2:-2], atol=0.01)
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((48, 64, 3), np.uint8))  # a 4:3 photo of the set
    with pytest.raises(ValueError, match=r"photo\.png is 64×48, the footage is 64×40: another framing .* "
                                         r"export a frame of the take itself"):
        load_clean_plate(tmp_path / "photo.png", (40, 64))


def test_an_opaque_rgba_mask_is_read_by_its_picture(tmp_path):
    # a paint program's white-on-black drawing saved as RGBA, alpha 255 everywhere: its alpha was read,
    # and the whole frame became garbage without a word
    from guangying.keyer import load_mask

    drawn = np.zeros((36, 64), np.uint8)
    drawn[:, 44:] = 255
    opaque = tmp_path / "opaque.png"
    cv2.imwrite(str(opaque), np.dstack([drawn, drawn, drawn, np.full_like(drawn, 255)]))
    stray = np.full_like(drawn, 255)
    stray[3, 3] = 254  # a stray eraser touch
    touched = tmp_path / "touched.png"
    cv2.imwrite(str(touched), np.dstack([drawn, drawn, drawn, stray]))
    shaped = tmp_path / "shaped.png"  # the shape in the alpha, the picture black: the alpha is the mask
    cv2.imwrite(str(shaped), np.dstack([np.zeros_like(drawn)] * 3 + [drawn]))
    for path in (opaque, touched, shaped):
        mask = load_mask(path, (36, 64))
        assert mask[:, :44].max() == 0 and mask[:, 44:].min() == 1, path.name


def test_a_polygon_without_semicolons_is_said_as_one():
    from guangying.keyer import load_mask

    for typed in ("300,0,440,0,440,360", "300,0 440,0 440,360", "(300,0),(440,0),(440,360)"):
        with pytest.raises(SettingsError, match="separate its points with ';'"):  # "mask image … not found"
            load_mask(typed, (360, 640))


def test_a_polygon_covers_each_pixel_by_its_area():
    # fillPoly counts the fine pixels a right or bottom edge touches as inside: a square on whole pixels
    # gave its left and top edge pixels 0.5 and its right and bottom ones 0.75 (area 3721 for 3600)
    mask = polygon_mask(np.array([[300, 150], [360, 150], [360, 210], [300, 210]], np.float32), (360, 640))
    edges = [mask[180, 300], mask[180, 360], mask[150, 330], mask[210, 330]]
    assert edges == pytest.approx([0.5] * 4, abs=1e-6)
    assert mask.sum() == pytest.approx(3600, abs=1e-3)
    # on pixel boundaries (half pixels) each pixel is in or out: the fix above left 0.125 on each side
    mask = polygon_mask([(10.5, 10.5), (20.5, 10.5), (20.5, 20.5), (10.5, 20.5)], (32, 32))
    assert set(np.unique(mask)) == {0.0, 1.0} and mask.sum() == 100
    rng = np.random.default_rng(4)  # random convex polygons: coverage against the shoelace area
    errors = []
    for _ in range(60):
        points = cv2.convexHull(rng.uniform(3, 37, (int(rng.integers(3, 8)), 2)).astype(np.float32))[:, 0]
        x, y = points.astype(np.float64).T
        area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        errors.append(polygon_mask(points, (40, 40)).sum() - area)
    assert np.mean(np.abs(errors)) < 0.02 and np.max(np.abs(errors)) < 0.2  # fillPoly's fix: 1.42, 4.5
    # a slanted edge (x = 20 + 0.3·(y − 20)): each pixel covered by its exact trapezoid
    mask = polygon_mask([(-10, -10), (20 - 9, -10), (20 + 9, 50), (-10, 50)], (40, 40))
    y = np.arange(40)[:, None] - 0.5 + (np.arange(1000) + 0.5) / 1000  # 1000 lines through each row
    covered = np.clip(20 + 0.3 * (y[..., None] - 20) - (np.arange(40) - 0.5), 0, 1).mean(axis=1)
    np.testing.assert_allclose(mask, covered, atol=2e-3)
