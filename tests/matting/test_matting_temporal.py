"""Cut detection and motion-adaptive smoothing on generated and scikit-image frames."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from guangying.matting.temporal import CutDetector, MotionAdaptiveSmoother


def _photo(name: str) -> np.ndarray:
    img = getattr(data, name)()
    return (img[..., :3] / 255.0).astype(np.float32)


def test_cut_between_different_shots_is_detected():
    det = CutDetector()
    astronaut, coffee = _photo("astronaut"), _photo("coffee")
    assert det.is_cut(astronaut) is False  # first frame: nothing to compare with
    assert det.is_cut(astronaut) is False
    assert det.is_cut(coffee[:400, :400]) is True
    assert det.is_cut(coffee[:400, :400]) is False


def test_no_cut_on_noise_pan_or_small_motion():
    det = CutDetector()
    img = _photo("astronaut")
    rng = np.random.default_rng(0)
    det.is_cut(img[:, :448])
    for shift in range(0, 64, 8):  # a slow pan, with sensor noise
        frame = np.clip(img[:, shift : shift + 448] + rng.normal(0, 0.02, (512, 448, 3)), 0, 1)
        assert det.is_cut(frame.astype(np.float32)) is False


def test_cut_detector_reset_forgets_the_previous_frame():
    det = CutDetector()
    det.is_cut(_photo("astronaut"))
    det.reset()
    assert det.is_cut(_photo("coffee")) is False


def test_smoother_damps_flicker_where_still_and_follows_motion_at_once():
    rng = np.random.default_rng(1)
    guide = rng.uniform(0, 1, (40, 60, 3)).astype(np.float32)
    sm = MotionAdaptiveSmoother(strength=0.6, noise_level=0.03)
    truth = np.linspace(0, 1, 60, dtype=np.float32)[None].repeat(40, 0)
    raw_jumps, smooth_jumps, prev_raw, prev_out = [], [], None, None
    for _ in range(30):
        raw = truth + rng.normal(0, 0.05, truth.shape).astype(np.float32)  # network flicker
        (out,) = sm(guide, (raw,))
        if prev_out is not None:
            raw_jumps.append(np.abs(raw - prev_raw).mean())
            smooth_jumps.append(np.abs(out - prev_out).mean())
        prev_raw, prev_out = raw, out
    assert np.mean(smooth_jumps[5:]) < 0.5 * np.mean(raw_jumps[5:])

    # Now the picture changes everywhere (fast motion): the output must be the new value, no lag.
    moved = np.roll(guide, 7, axis=1)
    new_value = 1.0 - truth
    (out,) = sm(moved, (new_value,))
    assert np.abs(out - new_value).max() < 1e-3


def test_smoother_handles_cropped_values_and_reset():
    sm = MotionAdaptiveSmoother(strength=0.5)
    guide = np.full((20, 30, 3), 0.5, np.float32)
    a0 = np.zeros((18, 28, 4), np.float32)
    a1 = np.ones((18, 28, 4), np.float32)
    sm(guide, (a0,))
    (out,) = sm(guide, (a1,))  # still picture: half-way blend
    assert out.shape == a1.shape and np.allclose(out, 0.5)
    sm.reset()
    (out,) = sm(guide, (a1,))
    assert np.allclose(out, 1.0)
    with pytest.raises(ValueError):
        MotionAdaptiveSmoother(strength=1.0)
