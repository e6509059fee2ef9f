"""Interacting-multiple-model Kalman filter for one subject's focus, in diopter space.

State per model: (D, u, a) — focus in diopters, the subject's radial speed (m/s) and acceleration
(m/s²). Motion is integrated in metres (r = 1/D moves by u·dt + a·dt²/2), which is exact for walking
at constant speed; measurements are diopters with the sensor's σ in metres mapped to σ_D = σ_m·D².

Three models (Blom & Bar-Shalom IMM), the usual set for a target that stops and goes:
- *standing*: speed and acceleration are zero, the position only sways slowly; once a subject stops,
  this model averages every further reading instead of following the noise;
- *calm*: walking, acceleration changes slowly (low white jerk);
- *manoeuvre*: starting, stopping, turning (high white jerk).
The IMM weighs them by how well each explains the recent readings, so the filter settles as soon as
the readings show a stop and is quick when the subject changes pace, without a hand-made switch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

STANDING, CALM, MANOEUVRE = 0, 1, 2


def _transition(x: np.ndarray, dt: float, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    d, u, a = float(x[0]), float(x[1]), float(x[2])
    r = 1.0 / max(d, 1e-6)
    r_new = min(max(r + u * dt + 0.5 * a * dt * dt, r_min), r_max)
    d_new = 1.0 / r_new
    f = np.array(
        [
            [d_new**2 / max(d, 1e-9) ** 2, -dt * d_new**2, -0.5 * dt * dt * d_new**2],
            [0.0, 1.0, dt],
            [0.0, 0.0, 1.0],
        ]
    )
    return np.array([d_new, u + a * dt, a]), f


def _process_noise(d: float, dt: float, jerk: float) -> np.ndarray:
    q_r = jerk**2 * np.array(
        [
            [dt**5 / 20, dt**4 / 8, dt**3 / 6],
            [dt**4 / 8, dt**3 / 3, dt**2 / 2],
            [dt**3 / 6, dt**2 / 2, dt],
        ]
    )
    j = np.diag([-d * d, 1.0, 1.0])  # (r, u, a) → (D, u, a)
    return j @ q_r @ j.T


def _standing(x: np.ndarray, dt: float, sway_mps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standing model: speed and acceleration are zero; the position wanders as a random walk of
    ``sway_mps``. Speed/acceleration keep a small variance so that mixing into the moving models and a
    start from standing stay well conditioned."""
    d = float(x[0])
    f = np.diag([1.0, 0.0, 0.0])
    q = np.diag([(sway_mps * d * d) ** 2 * dt, sway_mps**2, (10.0 * sway_mps) ** 2])
    return np.array([float(x[0]), 0.0, 0.0]), f, q


@dataclass(slots=True)
class DiopterIMM:
    """``jerks_mps3``: white-jerk level of the calm and the manoeuvre model; ``sway_mps``: how fast a
    standing subject's position may wander; ``exit_rate_per_s``: how often the subject leaves each mode
    (standing, calm, manoeuvre), spread evenly over the other two."""

    jerks_mps3: tuple[float, float] = (0.5, 8.0)
    sway_mps: float = 0.02
    exit_rate_per_s: tuple[float, float, float] = (0.5, 0.5, 2.0)
    r_min_m: float = 0.2
    r_max_m: float = 1000.0
    xs: list[np.ndarray] = field(default_factory=list)
    Ps: list[np.ndarray] = field(default_factory=list)
    mu: np.ndarray = field(default_factory=lambda: np.array([0.1, 0.8, 0.1]))
    t_s: float = 0.0
    _pi_cache: dict[float, np.ndarray] = field(default_factory=dict)
    # the gate's innovation() and the following update() predict to the same time: compute it once
    _pred_cache: tuple[float, tuple[list[np.ndarray], list[np.ndarray], np.ndarray]] | None = None

    @property
    def initialised(self) -> bool:
        return bool(self.xs)

    def reset(self, z: float, var_z: float, t_s: float) -> None:
        p0 = np.diag([var_z, 1.0, 1.0])
        self.xs = [np.array([z, 0.0, 0.0]) for _ in range(3)]
        self.Ps = [p0.copy() for _ in range(3)]
        self.mu = np.array([0.1, 0.8, 0.1])
        self.t_s = t_s
        self._pred_cache = None

    def clear(self) -> None:
        self.xs, self.Ps = [], []
        self._pred_cache = None

    def _switch_matrix(self, dt: float) -> np.ndarray:
        """Mode transition probabilities over ``dt`` (row: from, column: to), from a continuous-time
        chain; cached per millisecond of ``dt`` since readings come at a steady rate."""
        key = round(dt, 3)
        pi = self._pi_cache.get(key)
        if pi is None:
            g = np.zeros((3, 3))
            for i, rate in enumerate(self.exit_rate_per_s):
                g[i, :] = rate / 2.0
                g[i, i] = -rate
            pi = expm(g * max(key, 1e-6))
            if len(self._pi_cache) < 256:
                self._pi_cache[key] = pi
        return pi

    def _predicted(self, t_s: float) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        if self._pred_cache is not None and self._pred_cache[0] == t_s:
            xs, ps, c = self._pred_cache[1]
            return [x.copy() for x in xs], [p.copy() for p in ps], c.copy()
        dt = max(0.0, t_s - self.t_s)
        if dt == 0.0:
            return [x.copy() for x in self.xs], [p.copy() for p in self.Ps], self.mu.copy()
        pi = self._switch_matrix(dt)
        c = pi.T @ self.mu
        mix = (pi * self.mu[:, None]) / np.maximum(c[None, :], 1e-300)  # mix[i, j] = P(i | j)
        xs, ps = [], []
        for j in range(3):
            x0 = sum(mix[i, j] * self.xs[i] for i in range(3))
            p0 = sum(mix[i, j] * (self.Ps[i] + np.outer(self.xs[i] - x0, self.xs[i] - x0)) for i in range(3))
            if j == STANDING:
                x1, f, q = _standing(x0, dt, self.sway_mps)
            else:
                x1, f = _transition(x0, dt, self.r_min_m, self.r_max_m)
                q = _process_noise(float(x1[0]), dt, self.jerks_mps3[j - 1])
            ps.append(f @ p0 @ f.T + q)
            xs.append(x1)
        self._pred_cache = (t_s, (xs, ps, c))
        return [x.copy() for x in xs], [p.copy() for p in ps], c.copy()

    @staticmethod
    def _combine(xs: list[np.ndarray], ps: list[np.ndarray], mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = sum(m * xi for m, xi in zip(mu, xs, strict=True))
        p = sum(m * (pi + np.outer(xi - x, xi - x)) for m, xi, pi in zip(mu, xs, ps, strict=True))
        return x, p

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        """Combined state and covariance at the last update time."""
        return self._combine(self.xs, self.Ps, self.mu)

    def innovation(self, z: float, r: float, t_s: float) -> tuple[float, float]:
        """(ν, S) of a reading against the combined prediction, for gating; nothing is changed."""
        xs, ps, c = self._predicted(t_s)
        x, p = self._combine(xs, ps, c)
        return z - float(x[0]), float(p[0, 0]) + r

    def update(self, z: float, r: float, t_s: float) -> None:
        xs, ps, c = self._predicted(t_s)
        like = np.empty(3)
        for j in range(3):
            s = ps[j][0, 0] + r
            nu = z - xs[j][0]
            k = ps[j][:, 0] / s
            xs[j] = xs[j] + k * nu
            ps[j] = ps[j] - np.outer(k, ps[j][0, :])
            like[j] = math.exp(-0.5 * nu * nu / s) / math.sqrt(2 * math.pi * s)
        mu = like * c
        total = mu.sum()
        self.mu = mu / total if total > 0 and np.isfinite(total) else c
        self.xs, self.Ps, self.t_s = xs, ps, t_s
        self._pred_cache = None

    def predict_diopters(self, t_s: float, coast: bool = False) -> float:
        """Combined focus predicted to ``t_s``; ``coast`` drops acceleration (through a gap)."""
        x, p = self.estimate()
        # Shrink speed and acceleration towards zero by how sure we are of them (u²/(u² + σu²)): a
        # barely-significant velocity would otherwise be amplified by the look-ahead into jitter.
        u = x[1] * x[1] ** 2 / (x[1] ** 2 + p[1, 1] + 1e-12)
        a = 0.0 if coast else x[2] * x[2] ** 2 / (x[2] ** 2 + p[2, 2] + 1e-12)
        x = np.array([x[0], u, a])
        return float(_transition(x, max(0.0, t_s - self.t_s), self.r_min_m, self.r_max_m)[0][0])
