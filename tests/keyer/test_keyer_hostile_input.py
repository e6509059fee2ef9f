"""Odd frames and settings given to the keyer's public API: a clear SettingsError naming what to do, or
a finite matte in 0–1 — never an IndexError or a NaN matte (hostile-input pass 2)."""

import warnings

import numpy as np
import pytest

from guangying.base.errors import InputFormatError, SettingsError
from guangying.keyer import ChromaKeyer, KeyerSettings, mask_from_image, parse_polygon, polygon_mask


def _frame(h=40, w=56, seed=0):
    # A lit box on a green screen with sensor noise; values in sRGB 0–1.
    rng = np.random.default_rng(seed)
    rgb = np.empty((h, w, 3), np.float32)
    rgb[...] = (0.15, 0.65, 0.3)
    rgb[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = (0.75, 0.55, 0.45)
    return np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 7, 3), (7, 0, 3)])
def test_an_empty_frame_is_refused(shape):
    with pytest.raises(SettingsError, match="empty"):
        ChromaKeyer().process(np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    ("name", "mask", "words"),
    [
        ("garbage_mask", lambda m: (m * 255).astype(np.uint8), "divide 8-bit masks by 255"),
        ("core_mask", lambda m: m * 3, "0–1"),
        ("garbage_mask", lambda m: -m, "0–1"),
        ("core_mask", lambda m: np.where(m > 0, np.nan, 0).astype(np.float32), "0–1"),
    ],
)
def test_a_mask_outside_0_1_is_refused(name, mask, words):
    m = np.zeros((40, 56), np.float32)
    m[:6] = 1.0
    with pytest.raises(SettingsError, match=name) as err:
        ChromaKeyer(KeyerSettings(**{name: mask(m)})).process(_frame())
    assert words in str(err.value)


def test_masks_of_other_dtypes_in_0_1_still_work():
    m = np.zeros((40, 56), bool)
    m[:6] = True
    for mask in (m, m.astype(np.uint8), m.astype(np.float64)):
        alpha = ChromaKeyer(KeyerSettings(garbage_mask=mask)).process(_frame()).alpha
        assert alpha[:6].max() == 0.0 and alpha.max() == 1.0


def test_a_clean_plate_with_nan_is_refused():
    plate = np.empty((40, 56, 3), np.float32)
    plate[...] = (0.15, 0.65, 0.3)
    plate[3, 4] = np.nan
    with pytest.raises(SettingsError, match="clean_plate has NaN"):
        KeyerSettings(clean_plate=plate)


@pytest.mark.parametrize("luma_refine", ["off", "on"])
def test_one_huge_finite_pixel_does_not_turn_the_matte_to_nan(luma_refine):
    # Past ~1e16 (sRGB) a value decodes to +inf in float32; it must stay one bad pixel.
    rgb = _frame()
    reference = ChromaKeyer(KeyerSettings(luma_refine=luma_refine)).process(rgb).alpha
    rgb[2, 2] = 1e20
    with np.errstate(all="ignore"):
        alpha = ChromaKeyer(KeyerSettings(luma_refine=luma_refine)).process(rgb).alpha
    assert np.isfinite(alpha).all()
    far = np.ones(alpha.shape, bool)
    far[:8, :8] = False
    np.testing.assert_allclose(alpha[far], reference[far], atol=0.01)  # the screen estimate moves a hair


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 3), (5, 9), (33, 1)])
def test_tiny_and_odd_frames_key_to_a_finite_matte(shape):
    rgb = _frame(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no green screen found" on the tiniest ones
        result = ChromaKeyer(KeyerSettings(luma_refine="on")).process(rgb)
    assert result.alpha.shape == shape
    assert np.isfinite(result.alpha).all() and 0 <= result.alpha.min() and result.alpha.max() <= 1
    assert np.isfinite(result.foreground_rgb).all()



@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"unmix": "false"}, "unmix='false': use True or False"),  # was truthy: silently on
        ({"auto_plate": None}, "auto_plate=None"),
        ({"screen_colour": "green"}, "give three sRGB values"),  # was a bare float() ValueError
        ({"screen_colour": 5}, "give three sRGB values"),
    ],
)
def test_settings_of_the_wrong_type_are_named(settings, words):
    with pytest.raises(SettingsError) as err:
        KeyerSettings(**settings)
    assert words in str(err.value)


@pytest.mark.parametrize("text", ["nan,1;20,2;3,30", "0,0;inf,0;5,5", "0,0;1e12,0;0,1e12"])
def test_a_polygon_with_non_finite_or_absurd_points_is_refused(text):
    with pytest.raises(SettingsError, match="finite number of pixels"):
        parse_polygon(text)


def test_a_polygon_reaching_past_the_frame_still_masks():
    mask = polygon_mask(parse_polygon("-100,-100;1000,-100;1000,10;-100,10"), (40, 56))
    assert mask[:10].min() == 1.0 and mask[12:].max() == 0.0


def test_a_polygon_longer_than_a_file_name_can_be_is_a_polygon():
    # 40 points drawn on the monitor (291 characters): asked whether it named a file, the system raised
    # "File name too long", a bug in Guangying, and the monitor dropped the request
    from guangying.keyer.masks import load_mask

    corners = [(2, 2), (50, 2), (50, 30), (2, 30)]
    points = [corners[k // 10] for k in range(40)]
    text = ";".join(f"{x}.000001,{y}.000001" for x, y in points)
    assert len(text) > 255
    mask = load_mask(text, (40, 56))
    assert mask[10:20, 10:40].min() == 1.0 and mask[35:].max() == 0.0


def test_a_missing_mask_image_is_also_a_file_not_found_error(tmp_path):
    from guangying.keyer.masks import load_mask

    with pytest.raises(FileNotFoundError, match="mask image .*nope.png not found"):
        load_mask(tmp_path / "nope.png", (40, 56))
    (tmp_path / "text.png").write_text("not a picture")
    with pytest.raises(InputFormatError, match="not an image") as refused:
        load_mask(tmp_path / "text.png", (40, 56))
    assert not isinstance(refused.value, FileNotFoundError)


def test_a_float_mask_image_with_nan_reads_them_as_unmasked(tmp_path):
    import cv2

    image = np.zeros((40, 56), np.float32)
    image[:6] = 1.0
    image[20, 20] = np.nan
    cv2.imwrite(str(tmp_path / "mask.tif"), image)
    mask = mask_from_image(tmp_path / "mask.tif", (40, 56))
    assert np.isfinite(mask).all() and mask[20, 20] == 0.0 and mask[:6].min() == 1.0
    ChromaKeyer(KeyerSettings(garbage_mask=mask)).process(_frame())  # accepted


def test_a_set_far_above_white_and_a_hot_pixel_are_taken_but_0_to_255_is_refused():
    # The set behind may hold a sun or an emissive sign (sRGB-coded far past 1): the display-range
    # check of the camera's picture refused it ("keyer background reaches 4.06 …"), and stopped every
    # composite over an HDR set. A firefly in the plate is one pixel, not a picture in 0–255.
    rgb = _frame()
    set_srgb = np.full_like(rgb, 0.4)
    set_srgb[:20] = 7.5  # ≈ 60 × white in linear light
    assert np.isfinite(ChromaKeyer().process(rgb, background_rgb=set_srgb).alpha).all()
    hot = rgb.copy()
    hot[0, 0] = 1e6
    assert np.isfinite(ChromaKeyer().process(hot).alpha).all()
    with pytest.raises(SettingsError, match=r"reaches 19\d\.\d+, but .*divide 0–255"):
        ChromaKeyer().process(rgb * 255)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_frame_with_a_non_finite_pixel_is_refused_and_the_clip_goes_on(bad):
    # The keyer took NaN without a word and its foreground carried it into the composite, while the
    # README says such pictures are refused. A lone -inf hides from a max, so the check must see it too.
    keyer = ChromaKeyer()
    first = keyer.process(_frame(seed=1))
    broken = _frame(seed=2)
    broken[21, 23, 1] = bad  # off the sampled grid of the range check (every 4th row and column)
    with pytest.raises(SettingsError, match=r"keyer input frame has 1 NaN or infinite value\(s\)"):
        keyer.process(broken)
    again = keyer.process(_frame(seed=1))
    assert np.array_equal(again.alpha, first.alpha) and np.isfinite(again.foreground_rgb).all()
