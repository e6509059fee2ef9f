"""A background handed frame after frame in one buffer, refilled in place (a live loop that
preallocates): the lens's defocus and the light wrap follow its new pixels."""

import numpy as np
import pytest

from guangying.pipeline.background import Background
from guangying.pipeline.frame import CompositeSettings, FrameCompositor
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings
from guangying.pipeline.matters import make_matter

H, W = 64, 96


def _two_halves() -> tuple[np.ndarray, np.ndarray]:
    left, right = np.zeros((H, W, 3), np.float32), np.zeros((H, W, 3), np.float32)
    left[:, : W // 2], right[:, W // 2 :] = 1.0, 1.0
    return left, right


def test_the_lens_defocuses_the_plate_it_is_given_now():
    lens = LensSettings(85, 2.0, "s35", subject_distance_m=3.0, background_distance_m=12.0)
    fg, alpha = np.full((H, W, 3), 0.5, np.float32), np.zeros((H, W), np.float32)
    first, second = _two_halves()
    buffer = first.copy()
    hook = LensDefocus(lens)
    hook(0, fg, alpha, buffer)
    buffer[:] = second
    refilled = hook(1, fg, alpha, buffer)[2]
    fresh = LensDefocus(lens)(1, fg, alpha, second)[2]
    assert np.abs(refilled - fresh).max() < 1e-6  # it was the first frame's blurred set
    assert refilled[:, -1].mean() > 0.9


def test_light_wrap_wraps_the_plate_it_is_given_now():
    plate = np.empty((H, W, 3), np.float32)
    plate[:] = (0.15, 0.65, 0.25)  # a green screen with a grey subject
    plate[16:48, 32:64] = 0.5
    settings = CompositeSettings(light_wrap_width_px=8, light_wrap_intensity=1.0)
    first, second = _two_halves()
    buffer = first.copy()
    compositor = FrameCompositor(make_matter("chroma"), settings)
    compositor.process(plate, background_rgb_linear=buffer)
    buffer[:] = second
    refilled = compositor.process(plate, background_rgb_linear=buffer).composite_rgb_srgb.copy()
    fresh = FrameCompositor(make_matter("chroma"), settings)
    fresh.process(plate, background_rgb_linear=first)  # the same matte history
    expected = fresh.process(plate, background_rgb_linear=second).composite_rgb_srgb
    assert np.abs(refilled - expected).max() < 1e-5


@pytest.mark.parametrize("spec", ["#203040", "picture"])
def test_a_still_background_is_blurred_once_and_stays_writable(tmp_path, spec):
    """A still set is handed out every frame unchanged: its blur is kept without a copy, and it stays a
    writable array (numba compiles its kernels again for read-only ones: a live take's first frame
    waited for that)."""
    if spec == "picture":
        import cv2

        spec = str(tmp_path / "set.png")
        cv2.imwrite(spec, np.full((H, W, 3), 90, np.uint8))
    background = Background(spec, W, H)
    _, linear = background.next_plate()
    assert linear.flags.writeable and background.next_plate()[1] is linear
    lens = LensDefocus(LensSettings(85, 2.0, "s35", subject_distance_m=3.0, background_distance_m=12.0))
    fg, alpha = np.zeros((H, W, 3), np.float32), np.zeros((H, W), np.float32)
    blurs = [lens(position, fg, alpha, linear)[2] for position in range(2)]
    assert blurs[1] is blurs[0] and lens._bg_blur._copy is None
    background.close()
