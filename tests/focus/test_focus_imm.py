"""The three-model IMM (standing / calm / manoeuvre) of the compiled controller on synthetic readings."""

from __future__ import annotations

import numpy as np

from guangying.distance.reading import DistanceReading
from guangying.focus import imm
from guangying.focus.controller import ControllerConfig, FocusController

SIGMA_M = 0.012
CALM, MANOEUVRE, STANDING = 1, 2, 0


def _feed(dist_m: np.ndarray, seed: int) -> FocusController:
    rng = np.random.default_rng(seed)
    ctl = FocusController(ControllerConfig(135, 2.0, 0.025, sensor_sigma_m=SIGMA_M))
    d = dist_m + rng.normal(0.0, SIGMA_M, dist_m.shape)
    for k, dk in enumerate(d):
        ctl.update(DistanceReading(k * 0.01, float(dk), 1.0, "t"))
    return ctl


def test_standing_subject_is_explained_by_the_standing_model() -> None:
    ctl = _feed(np.full(200, 3.0), seed=1)
    assert ctl.mode_probabilities[STANDING] > 0.7
    assert ctl.x is not None and abs(1.0 / ctl.x[0] - 3.0) < 0.01  # 2 s of averaging: ≪ one reading's σ


def test_walking_subject_is_not_taken_for_standing() -> None:
    ctl = _feed(5.0 - 1.2 * np.arange(200) * 0.01, seed=2)
    mu = ctl.mode_probabilities
    assert mu[STANDING] < 0.05 and mu[CALM] > mu[MANOEUVRE]
    assert ctl.x is not None and abs(ctl.x[1] + 1.2) < 0.1  # radial speed, m/s (approaching)


def test_mode_probabilities_stay_a_distribution_and_switch_matrix_is_stochastic() -> None:
    ctl = _feed(np.concatenate([np.full(100, 4.0), 4.0 - 1.0 * np.arange(100) * 0.01]), seed=3)
    mu = ctl.mode_probabilities
    assert np.isclose(mu.sum(), 1.0) and np.all(mu >= 0)
    for dt in (0.0, 0.004, 0.01, 0.0333, 1.0):
        pi = imm._switch_matrix(ctl.state, dt)
        assert np.allclose(pi.sum(axis=1), 1.0) and np.all(pi >= 0)
