"""The three-model IMM (standing / calm / manoeuvre) on synthetic diopter readings."""

from __future__ import annotations

import numpy as np

from guangying.focus.kalman import CALM, MANOEUVRE, STANDING, DiopterIMM

SIGMA_M = 0.012


def _feed(imm: DiopterIMM, dist_m: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = 1.0 / (dist_m + rng.normal(0.0, SIGMA_M, dist_m.shape))
    r = [(SIGMA_M * zi * zi) ** 2 for zi in z]
    imm.reset(float(z[0]), r[0], 0.0)
    for k in range(1, z.size):
        imm.update(float(z[k]), r[k], k * 0.01)


def test_standing_subject_is_explained_by_the_standing_model() -> None:
    imm = DiopterIMM()
    _feed(imm, np.full(200, 3.0), seed=1)
    assert imm.mu[STANDING] > 0.7
    x, _ = imm.estimate()
    assert abs(1.0 / x[0] - 3.0) < 0.01  # 2 s of averaging: well below one σ of a single reading


def test_walking_subject_is_not_taken_for_standing() -> None:
    imm = DiopterIMM()
    _feed(imm, 5.0 - 1.2 * np.arange(200) * 0.01, seed=2)
    assert imm.mu[STANDING] < 0.05
    assert imm.mu[CALM] > imm.mu[MANOEUVRE]
    x, _ = imm.estimate()
    assert abs(x[1] + 1.2) < 0.1  # radial speed, m/s (approaching)


def test_mode_probabilities_stay_a_distribution_and_switch_matrix_is_stochastic() -> None:
    imm = DiopterIMM()
    _feed(imm, np.concatenate([np.full(100, 4.0), 4.0 - 1.0 * np.arange(100) * 0.01]), seed=3)
    assert np.isclose(imm.mu.sum(), 1.0) and np.all(imm.mu >= 0)
    pi = imm._switch_matrix(0.01)
    assert np.allclose(pi.sum(axis=1), 1.0) and np.all(pi >= 0)
