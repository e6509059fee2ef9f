"""Smoothing camera poses without lag: an IMM Kalman filter over the six pose channels, and a
two-filter smoother for whole shots.

Measurement: z = (pan, tilt, roll in degrees, x, y, z in metres) with its full 6×6 covariance from the
solve (PnP's pan and sideways position are strongly correlated; weighing them jointly keeps what the
picture pins down — where the screen lands in the image — and smooths what it does not).

State per channel: value, rate, acceleration. Three modes, as the focus filter uses for a subject,
chosen separately for the rotation and for the position (nine models in all):
- *still*: a locked-off camera; rates are zero and the pose only sways slowly, so every further
  reading is averaged instead of followed (this is what takes the jitter out);
- *calm*: a smooth move (low white jerk);
- *manoeuvre*: a whip pan, a bump, starting and stopping (high white jerk).
The IMM weighs them by how well each explains the recent readings, so the filter settles as soon as
the camera stops and follows a move at once.

Offline (a file), :func:`smooth_poses` runs the filter forwards and backwards in time and fuses the
two (the backward prediction excludes the frame's own reading, so it is not counted twice): the
result has no lag at all, a move's start is seen from both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

STILL, CALM, MANOEUVRE = 0, 1, 2
# one model per (rotation mode, position mode): a tripod pan is "rotation calm, position still", which
# pins the position while the head turns (the picture alone confuses a pan with a sideways move)
MODES = [(r, p) for r in (STILL, CALM, MANOEUVRE) for p in (STILL, CALM, MANOEUVRE)]
_MU0 = np.kron([0.6, 0.3, 0.1], [0.6, 0.3, 0.1])
N_AXES = 6
_P = np.arange(N_AXES) * 3  # indices of the values in the 18-vector


@dataclass(frozen=True, slots=True)
class PoseFilterSettings:
    """Per channel group: angles (deg) and positions (m). Jerks in units/s³, sway in units/s."""

    calm_jerk: tuple[float, float] = (40.0, 1.0)
    manoeuvre_jerk: tuple[float, float] = (1500.0, 30.0)
    still_sway: tuple[float, float] = (0.02, 0.0005)
    exit_rate_per_s: tuple[float, float, float] = (0.5, 0.5, 2.0)
    gate_chi2: float = 200.0  # 6-dof innovation beyond this is a bad solve (χ² 99.99 % ≈ 27)
    reset_after: int = 4  # consecutive rejected solves that mean the camera really is elsewhere
    coast_grace_s: float = 0.2  # a short gap keeps the move going (a pan does not stop behind an actor)
    coast_tau_s: float = 0.25  # longer gaps: rates decay with this time constant (the camera is held)


def _per_axis(pair: tuple[float, float]) -> np.ndarray:
    return np.array([pair[0]] * 3 + [pair[1]] * 3, np.float64)


def _ca_blocks(dt: float) -> tuple[np.ndarray, np.ndarray]:
    f = np.array([[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    q = np.array(
        [
            [dt**5 / 20, dt**4 / 8, dt**3 / 6],
            [dt**4 / 8, dt**3 / 3, dt**2 / 2],
            [dt**3 / 6, dt**2 / 2, dt],
        ]
    )
    return f, q


@dataclass(slots=True)
class PoseIMM:
    """Forward IMM filter over (pan, tilt, roll, x, y, z); see the module docstring."""

    settings: PoseFilterSettings = field(default_factory=PoseFilterSettings)
    xs: list[np.ndarray] = field(default_factory=list)
    ps: list[np.ndarray] = field(default_factory=list)
    mu: np.ndarray = field(default_factory=lambda: _MU0.copy())
    t_s: float = 0.0
    rejected_in_row: int = 0
    held_s: float = 0.0
    _models: dict[float, tuple[list[np.ndarray], list[np.ndarray], np.ndarray]] = field(default_factory=dict)

    @property
    def initialised(self) -> bool:
        return bool(self.xs)

    def _model_matrices(self, dt: float) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Per model (rotation mode × position mode) F and Q, and the 9×9 switching matrix."""
        key = round(dt, 4)
        cached = self._models.get(key)
        if cached is not None:
            return cached
        s = self.settings
        f1, q1 = _ca_blocks(key)
        still_f = np.diag([1.0, 0.0, 0.0])
        blocks: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for group in (0, 1):  # rotation channels, then position channels
            sway = s.still_sway[group]
            per_mode = [(still_f, np.diag([sway**2 * key, (sway * 10) ** 2, (sway * 100) ** 2]))]
            for jerk in (s.calm_jerk[group], s.manoeuvre_jerk[group]):
                per_mode.append((f1, jerk**2 * q1))
            blocks.append(per_mode)
        fs, qs = [], []
        for mode_rot, mode_pos in MODES:
            f = np.zeros((18, 18))
            q = np.zeros((18, 18))
            for axis in range(N_AXES):
                fb, qb = blocks[0][mode_rot] if axis < 3 else blocks[1][mode_pos]
                sl = slice(3 * axis, 3 * axis + 3)
                f[sl, sl] = fb
                q[sl, sl] = qb
            fs.append(f)
            qs.append(q)
        g = np.zeros((3, 3))
        for i, rate in enumerate(s.exit_rate_per_s):
            g[i, :] = rate / 2.0
            g[i, i] = -rate
        pi3 = expm(g * max(key, 1e-6))
        pi = np.kron(pi3, pi3)  # rotation and position switch modes independently
        if len(self._models) < 64:
            self._models[key] = (fs, qs, pi)
        return fs, qs, pi

    def reset(self, z: np.ndarray, r: np.ndarray, t_s: float) -> None:
        self.held_s = 0.0
        p0 = np.zeros((18, 18))
        p0[np.ix_(_P, _P)] = r
        rates = _per_axis((30.0, 1.0)) ** 2  # a move may already be under way at the first frame
        p0[_P + 1, _P + 1] = rates
        p0[_P + 2, _P + 2] = rates * 25
        x0 = np.zeros(18)
        x0[_P] = z
        self.xs = [x0.copy() for _ in MODES]
        self.ps = [p0.copy() for _ in MODES]
        self.mu = _MU0.copy()
        self.t_s = t_s
        self.rejected_in_row = 0

    def predicted(self, t_s: float) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Per-model predictions to ``t_s`` and the predicted model probabilities (nothing changes)."""
        dt = max(0.0, t_s - self.t_s)
        if dt == 0.0:
            return [x.copy() for x in self.xs], [p.copy() for p in self.ps], self.mu.copy()
        fs, qs, pi = self._model_matrices(dt)
        c = pi.T @ self.mu
        mix = (pi * self.mu[:, None]) / np.maximum(c[None, :], 1e-300)
        xs, ps = [], []
        m = len(MODES)
        xs_old = np.array(self.xs)
        ps_old = np.array(self.ps)
        for j in range(m):
            x0 = mix[:, j] @ xs_old
            d = xs_old - x0
            p0 = np.einsum("i,ikl->kl", mix[:, j], ps_old) + (d * mix[:, j, None]).T @ d
            xs.append(fs[j] @ x0)
            ps.append(fs[j] @ p0 @ fs[j].T + qs[j])
        return xs, ps, c

    @staticmethod
    def combine(xs: list[np.ndarray], ps: list[np.ndarray], mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xa = np.asarray(xs)
        x = mu @ xa
        d = xa - x
        p = np.einsum("i,ikl->kl", mu, np.asarray(ps)) + (d * mu[:, None]).T @ d
        return x, p

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        return self.combine(self.xs, self.ps, self.mu)

    def update(self, z: np.ndarray, r: np.ndarray, t_s: float) -> bool:
        """Fold in a solve ``z`` (6,) with covariance ``r`` (6, 6) at ``t_s``; returns False when the
        solve was rejected by the gate (the state is then only predicted)."""
        z = np.asarray(z, np.float64)
        if not self.initialised:
            self.reset(z, r, t_s)
            return True
        xs, ps, c = self.predicted(t_s)
        x_comb, p_comb = self.combine(xs, ps, c)
        nu = z - x_comb[_P]
        s = p_comb[np.ix_(_P, _P)] + r
        d2 = float(nu @ np.linalg.solve(s, nu))
        if d2 > self.settings.gate_chi2:
            self.rejected_in_row += 1
            if self.rejected_in_row >= self.settings.reset_after:
                self.reset(z, r, t_s)
                return True
            self.xs, self.ps, self.mu, self.t_s = xs, ps, c, t_s
            return False
        self.rejected_in_row = 0
        self.held_s = 0.0
        log_like = np.empty(len(MODES))
        for j in range(len(MODES)):
            pj = ps[j]
            sj = pj[np.ix_(_P, _P)] + r
            nuj = z - xs[j][_P]
            gain = np.linalg.solve(sj, pj[_P, :]).T  # (18, 6)
            xs[j] = xs[j] + gain @ nuj
            pj = pj - gain @ pj[_P, :]
            ps[j] = 0.5 * (pj + pj.T)
            sign, logdet = np.linalg.slogdet(sj)
            log_like[j] = -0.5 * (float(nuj @ np.linalg.solve(sj, nuj)) + logdet)
        w = np.exp(log_like - log_like.max()) * c
        total = w.sum()
        self.mu = w / total if total > 0 and math.isfinite(total) else c
        self.xs, self.ps, self.t_s = xs, ps, t_s
        return True

    def hold(self, t_s: float) -> None:
        """No solve at ``t_s``: predict, with rates decaying (a held camera drifts to a stop)."""
        if not self.initialised:
            return
        dt = max(0.0, t_s - self.t_s)
        xs, ps, c = self.predicted(t_s)
        self.held_s += dt
        beyond = min(dt, self.held_s - self.settings.coast_grace_s)
        if beyond > 0:
            decay = math.exp(-beyond / self.settings.coast_tau_s)
            for x in xs:
                x[_P + 1] *= decay
                x[_P + 2] *= decay
        self.xs, self.ps, self.mu, self.t_s = xs, ps, c, t_s


def _time_reversed(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A state in reversed time: rates change sign, values and accelerations do not."""
    flip = np.tile([1.0, -1.0, 1.0], N_AXES)
    return x * flip, p * np.outer(flip, flip)


def smooth_poses(
    times_s: np.ndarray,
    measurements: list[tuple[np.ndarray, np.ndarray] | None],
    settings: PoseFilterSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-filter IMM smoother over a shot.

    Parameters
    ----------
    times_s : (N,) float, increasing frame times in seconds.
    measurements : N entries, each ``(z (6,), R (6, 6))`` or None for a frame without a solve.

    Returns
    -------
    poses : (N, 6) float64 smoothed (pan, tilt, roll deg, x, y, z m); frames before the first accepted
        solve and after the last hold those solves' poses; nan rows only if there is no solve at all.
    accepted : (N,) bool, whether the frame's solve passed the gate (forward or backward).
    """
    settings = settings or PoseFilterSettings()
    n = len(times_s)
    fwd_x = np.full((n, 18), np.nan)
    fwd_p = np.zeros((n, 18, 18))
    accepted = np.zeros(n, bool)
    f = PoseIMM(settings)
    for i in range(n):
        m = measurements[i]
        if m is not None:
            accepted[i] = f.update(m[0], m[1], float(times_s[i]))
        else:
            f.hold(float(times_s[i]))
        if f.initialised:
            fwd_x[i], fwd_p[i] = f.estimate()
    b = PoseIMM(settings)
    out = np.full((n, 6), np.nan)
    t_max = float(times_s[-1]) if n else 0.0
    for i in range(n - 1, -1, -1):
        t_rev = t_max - float(times_s[i])
        prior = None
        if b.initialised:
            xs, ps, c = b.predicted(t_rev)
            prior = _time_reversed(*b.combine(xs, ps, c))
        m = measurements[i]
        if m is not None:
            accepted[i] |= b.update(m[0], m[1], t_rev)
        else:
            b.hold(t_rev)
        have_f = np.isfinite(fwd_x[i, 0])
        if have_f and prior is not None:
            # fuse the forward estimate (with z_i) and the backward prior (without): the product of
            # the two Gaussians, x_f + P_f (P_f + P_b)⁻¹ (x_b − x_f), one well-conditioned solve
            gain = np.linalg.solve(fwd_p[i] + prior[1], prior[0] - fwd_x[i])
            out[i] = (fwd_x[i] + fwd_p[i] @ gain)[_P]
        elif have_f:
            out[i] = fwd_x[i, _P]
        elif b.initialised:
            out[i] = _time_reversed(*b.estimate())[0][_P]
    # Frames before the first solve and after the last are held at those solves' poses: the filters
    # carried their speed on past the ends (a board that came into view late: 19° off at the start)
    solved = np.flatnonzero(accepted)
    if solved.size:
        out[: solved[0]] = out[solved[0]]
        out[solved[-1] + 1 :] = out[solved[-1]]
    return out, accepted
