"""Arrays a pipeline script hands the library as it has them: ``cv2.imread``'s uint8, skimage's
float64, a depth camera's uint16 millimetres. Floats of any width are pictures; integer code values
are refused with the conversion to make, never taken as 0–1 values of 0–255."""

import numpy as np
import pytest
from skimage import data

import guangying as gy
from guangying.base.mattes import MatteResult
from guangying.distance.depthmap import DepthMapError


@pytest.fixture(scope="module")
def plate() -> np.ndarray:
    """A subject (the astronaut's face, real texture) on a flat green screen, sRGB 0–1."""
    face = data.astronaut()[:160:2, 120:280:2].astype(np.float32) / 255
    rgb = np.empty((120, 160, 3), np.float32)
    rgb[:] = (0.15, 0.65, 0.25)
    rgb[20:100, 40:120] = face
    return rgb


@pytest.mark.parametrize("mode", ["chroma", pytest.param("ai", marks=pytest.mark.models)])
def test_eight_bit_code_values_are_refused_with_the_conversion(plate, mode):
    codes = np.round(plate * 255).astype(np.uint8)
    with pytest.raises(gy.SettingsError, match=r"got uint8 code values.*astype\(np.float32\) / 255"):
        gy.key_frame(codes, mode=mode)


@pytest.mark.parametrize("scene", [lambda p: p * 1.5, lambda p: p - 0.2], ids=["above-1", "below-0"])
def test_a_picture_outside_0_1_is_warned_about_and_a_display_picture_is_not(plate, scene, recwarn):
    # Linear light up to 1.5, or a grade pulled below 0, moved alpha by up to 0.5 without a word
    with pytest.warns(UserWarning, match=r"outside 0–1.*display_srgb") as said:
        gy.key_frame(scene(plate))
    assert len([w for w in said if "outside 0–1" in str(w.message)]) == 1  # it was said twice
    recwarn.clear()
    gy.key_frame(np.clip(scene(plate), 0, 1))
    assert not [w for w in recwarn if "outside 0–1" in str(w.message)]


def test_sixteen_bit_code_values_name_their_own_scale(plate):
    with pytest.raises(gy.SettingsError, match=r"uint16 code values.*/ 65535"):
        gy.key_frame(np.round(plate * 65535).astype(np.uint16))


def test_float64_pictures_key_and_composite_as_float32(plate):
    keyed32 = gy.key_frame(plate)
    keyed64 = gy.key_frame(plate.astype(np.float64))
    np.testing.assert_array_equal(keyed64.alpha, keyed32.alpha)
    assert keyed64.alpha[5, 5] == 0.0 and keyed64.alpha[60, 80] == 1.0

    backdrop = data.coffee()[:120, :160].astype(np.float64) / 255  # skimage.img_as_float's dtype
    comp64 = gy.composite_frame(plate.astype(np.float64), backdrop)
    comp32 = gy.composite_frame(plate, backdrop.astype(np.float32))
    assert comp64.composite_rgb_srgb.dtype == np.float32
    np.testing.assert_array_equal(comp64.composite_rgb_srgb, comp32.composite_rgb_srgb)


def test_depth_in_integer_millimetres_is_refused_not_read_as_no_subject():
    depth_mm = np.full((48, 64), 2400, np.uint16)  # a RealSense/Kinect z16 frame
    with pytest.raises(DepthMapError, match=r"float metres, got dtype uint16.*/ 1000"):
        gy.reading_from_depth(depth_mm, t_s=0.0)
    reading = gy.reading_from_depth(depth_mm.astype(np.float32) / 1000, t_s=0.0)
    assert reading.distance_m == pytest.approx(2.4)


class _OwnMatter:
    """A studio's own matte engine (any object with ``process``): it never looks at the background,
    so only the compositor can check it."""

    def process(self, rgb, background_rgb=None):
        alpha = (rgb[..., 1] < 0.5).astype(np.float32)
        return MatteResult(alpha, rgb)


def test_a_background_in_code_values_is_refused_by_the_compositor(plate):
    backdrop = data.coffee()[:120, :160]
    with pytest.raises(gy.SettingsError, match=r"background_rgb_srgb .* uint8 code values"):
        gy.composite_frame(plate, backdrop, matter=_OwnMatter())
    result = gy.composite_frame(plate, backdrop.astype(np.float32) / 255, matter=_OwnMatter())
    np.testing.assert_allclose(result.composite_rgb_srgb[5, 5], backdrop[5, 5] / 255, atol=1e-5)


@pytest.mark.parametrize(("which", "make", "said"), [
    ("background_rgb_srgb", lambda b: b * 255, r"background_rgb_srgb reaches .* 0–255"),  # white, unsaid
    ("background_rgb_srgb", lambda b: np.full_like(b, np.nan), "background_rgb_srgb has NaN"),
    ("background_rgb_linear", lambda b: np.full_like(b, np.nan), "background_rgb_linear has NaN"),  # all NaN
    # a colour for a plain set, as run_job takes "#203040": an IndexError inside, as a bug
    ("background_rgb_srgb", lambda b: np.array([0.1, 0.2, 0.3], np.float32), r"must be an \(H, W, 3\)"),
    ("background_rgb_linear", lambda b: np.array([0.1, 0.2, 0.3], np.float32), r"must be an \(H, W, 3\)"),
])
def test_a_background_that_cannot_be_a_set_is_refused_by_the_compositor(plate, which, make, said):
    backdrop = data.coffee()[:120, :160].astype(np.float32) / 255
    compositor = gy.FrameCompositor(_OwnMatter())
    with pytest.raises(gy.SettingsError, match=said):
        compositor.process(plate, **{which: make(backdrop)})
    hdr = compositor.process(plate, background_rgb_linear=backdrop * 40)  # an HDR set's light above 1
    assert np.isfinite(hdr.composite_rgb_srgb).all()
