"""Fast person segmentation (selfie / meet) on scikit-image's astronaut photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from guangying.matting import FastSegmentMatter

PERSON = (slice(40, 480), slice(150, 270))  # rows, cols of the 512×512 astronaut: face and suit
FAR_BACKGROUND = (slice(0, 150), slice(420, 512))


@pytest.fixture(scope="module", params=["selfie", "meet"])
def model(request) -> str:
    return request.param


def _astronaut() -> np.ndarray:
    return (data.astronaut() / 255.0).astype(np.float32)


@pytest.mark.models
def test_segmentation_mattes_the_astronaut(model):
    res = FastSegmentMatter(model).process(_astronaut())
    assert res.alpha.shape == (512, 512) and res.alpha.dtype == np.float32
    assert res.alpha.min() >= 0 and res.alpha.max() <= 1
    assert res.foreground_rgb.shape == (512, 512, 3)
    assert np.mean(res.alpha[PERSON] >= 0.5) > 0.85
    assert np.mean(res.alpha[FAR_BACKGROUND] <= 0.5) > 0.9


@pytest.mark.models
def test_segmentation_is_deterministic_and_stable_on_a_still_frame(model):
    frame = cv2.resize(_astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    assert np.array_equal(FastSegmentMatter(model).process(frame).alpha,
                          FastSegmentMatter(model).process(frame).alpha)
    rng = np.random.default_rng(0)
    matter = FastSegmentMatter(model)
    alphas = []
    for _ in range(8):
        noisy = np.clip(frame + rng.normal(0, 0.01, frame.shape), 0, 1).astype(np.float32)
        alphas.append(matter.process(noisy).alpha)
    assert np.mean([np.abs(alphas[i] - alphas[i - 1]).mean() for i in range(5, 8)]) < 0.003


@pytest.mark.models
def test_segmentation_finds_two_people(model):
    one = _astronaut()
    two = cv2.resize(np.concatenate([one, one[:, ::-1]], axis=1), (768, 384), interpolation=cv2.INTER_AREA)
    alpha = FastSegmentMatter(model).process(two).alpha
    s = 384 / 512
    rows = slice(int(40 * s), int(480 * s))
    assert np.mean(alpha[rows, int(150 * s) : int(270 * s)] >= 0.5) > 0.8
    assert np.mean(alpha[rows, 768 - int(270 * s) : 768 - int(150 * s)] >= 0.5) > 0.8


def test_unknown_segmentation_model_is_refused():
    with pytest.raises(ValueError, match="selfie"):
        FastSegmentMatter("portrait")  # type: ignore[arg-type]


@pytest.mark.models
@pytest.mark.parametrize("settings", [{"edge_radius": -1}, {"edge_eps": float("nan")}, {"smoothing": 1.0}])
def test_segmentation_settings_out_of_range_are_refused(settings):
    # a negative radius raised OpenCV's own error; a NaN eps gave an all-NaN matte
    from guangying.base.errors import SettingsError

    with pytest.raises(SettingsError, match="segmentation setting"):
        FastSegmentMatter(**settings)


@pytest.mark.models
def test_a_portrait_frame_is_segmented_by_the_square_network():
    """A phone held upright: letterboxed into meet's landscape input the frame filled a third of it, and
    the matte took most of the background for the person. The default picks selfie for it, meet for a
    landscape frame."""
    h, w = 960, 540
    frame = cv2.resize(data.coffee(), (2 * w, h))[:, :w].astype(np.float32) / 255
    person = cv2.resize(data.astronaut()[:, 100:412], (312, 512)).astype(np.float32) / 255
    frame[h - 512 :, (w - 312) // 2 : (w - 312) // 2 + 312] = person
    matter = FastSegmentMatter()
    assert matter.model_for(w, h) == "selfie" and matter.model_for(h, w) == "meet"
    alpha = matter.process(frame).alpha
    above = alpha[: h - 520]  # the coffee photo alone
    x0 = (w - 312) // 2
    face = alpha[h - 512 + 60 : h - 512 + 200, x0 + 70 : x0 + 150]  # the astronaut's head
    assert np.mean(above > 0.5) < 0.05, np.mean(above > 0.5)  # meet's: 0.72
    assert np.mean(face >= 0.5) > 0.9
