"""The focus controller as it was before the compiled kernel (pure Python + numpy), kept only as the
reference that tests and ``bench/focus_replay.py`` compare :mod:`guangying.focus.kernel` with: same
readings and output times in, results equal within 1e-9 out. Not used by the library.

IMM Kalman filter in diopter space (standing / calm / manoeuvre models), gating and re-acquisition,
static estimate for a still subject, DoF deadband, rate-limited follower and S-curve racks; see
:mod:`guangying.focus.controller` for the why of each part.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from guangying.distance.marks import TRACK, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusOutput
from guangying.focus.scurve import smoothstep5
from guangying.lens.optics import dof_half_width_diopters

STANDING, CALM, MANOEUVRE = 0, 1, 2
# The controller settings that make today's controller the former one this module reproduces: every part
# added since (issue 9) off.
FORMER_SETTINGS = {
    "huber_sigma": 0.0,
    "onset_sigma": 0.0,
    "mixed_return_hold_s": 0.0,
    "still_window_s": 0.0,
    "reacquire_window_s": 0.0,
    "moving_reacquire_s": 0.0,
    "mixed_return_spread_m": 0.0,
    "runaway_speed_mps": 0.0,
    "blend_steady_walk": False,
    "reading_bin_s": 0.0,
    "coast_s": math.inf,
}


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


@dataclass(slots=True)
class _Rack:
    t0_s: float
    duration_s: float
    start_diopters: float
    target_diopters: float | None  # None: rack to the tracked subject's live estimate


@dataclass(slots=True)
class ReferenceController:
    """Feed readings with :meth:`update` (in time order), ask for focus with :meth:`output`."""

    config: ControllerConfig
    imm: DiopterIMM = field(init=False)
    last_accept_s: float = -math.inf
    rejected: list[tuple[float, float]] = field(default_factory=list)
    still: bool = False
    still_mean: float = 0.0
    still_info: float = 0.0
    out_diopters: float | None = None
    out_speed: float = 0.0
    out_dir: int = 0
    t_out_s: float | None = None
    rack: _Rack | None = None
    ignore_before_s: float = -math.inf
    mark_diopters: float | None = None  # holding a manual mark (until a rack to a subject)
    still_resid: list[tuple[float, float]] = field(default_factory=list)
    recent: deque[tuple[float, float, float]] = field(default_factory=deque)
    accepted: int = 0
    outliers: int = 0

    # ---- filter ---------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        c = self.config
        self.imm = DiopterIMM(
            jerks_mps3=(c.subject_jerk_mps3, c.manoeuvre_jerk_mps3),
            r_min_m=c.min_distance_m,
            r_max_m=c.max_distance_m,
        )

    @property
    def x(self) -> np.ndarray | None:
        """Combined filter state [diopters, radial speed m/s, radial acceleration m/s²] (None before any
        reading)."""
        return self.imm.estimate()[0] if self.imm.initialised else None

    @property
    def P(self) -> np.ndarray:
        return self.imm.estimate()[1]

    @property
    def t_state_s(self) -> float:
        return self.imm.t_s

    def _r(self, z: float) -> float:
        return (self.config.sensor_sigma_m * z * z) ** 2

    def _reset(self, z: float, t_s: float) -> None:
        self.imm.reset(z, self._r(z), t_s)
        self.rejected.clear()
        self.recent.clear()
        self._leave_still()

    def _leave_still(self) -> None:
        self.still = False
        self.still_info = 0.0

    def reset_subject(self) -> None:
        """Forget the tracked subject (a new one is coming); the output stays where it is."""
        self.imm.clear()
        self.rejected.clear()
        self._leave_still()

    def update(self, reading: DistanceReading) -> bool:
        """Take one reading; returns True if it was used, False if it was gated out or unusable."""
        if not reading.valid or reading.t_s < self.ignore_before_s:
            return False
        cfg = self.config
        dist = min(max(reading.distance_m, cfg.min_distance_m), cfg.max_distance_m)
        z = 1.0 / dist
        t = reading.t_s
        if self.x is None:
            self._reset(z, t)
            self.last_accept_s = t
            self.accepted += 1
            return True
        r = self._r(z)
        nu, s = self.imm.innovation(z, r, t)
        if nu * nu > cfg.gate_sigma**2 * s:
            # the filter stays at the last accepted reading: an occluder must not drag the model along
            self.outliers += 1
            if self.rejected and t - self.rejected[-1][0] > cfg.reacquire_s:
                self.rejected.clear()
            self.rejected.append((t, z))
            self._maybe_reacquire(t)
            return False
        self.rejected.clear()
        self.imm.update(z, r, t)
        self.last_accept_s = t
        self.accepted += 1
        self._update_still(z, r)
        return True

    def _maybe_reacquire(self, t: float) -> None:
        # Outliers that persist and agree are the new truth (the subject really moved, or a new one).
        first_t = self.rejected[0][0]
        if t - first_t < self.config.reacquire_s or t - self.last_accept_s < self.config.reacquire_s:
            return
        zs = np.array([z for _, z in self.rejected[-10:]])
        spread = float(np.max(zs) - np.min(zs))
        if spread <= 6.0 * math.sqrt(self._r(float(np.median(zs)))):
            self._reset(float(np.median(zs)), t)

    def _update_still(self, z: float, r: float) -> None:
        assert self.x is not None
        u, su = float(self.x[1]), math.sqrt(max(self.P[1, 1], 0.0))
        self.recent.append((self.t_state_s, z, r))
        while self.recent and self.t_state_s - self.recent[0][0] > 0.5:
            self.recent.popleft()
        if not self.still:
            if abs(u) < max(2.0 * su, 0.05) and self._recent_readings_flat():
                # Start the static estimate from the filter's value and its uncertainty.
                self.still, self.still_mean = True, float(self.x[0])
                self.still_info = 1.0 / max(self.P[0, 0], 1e-18)
                self.still_resid.clear()
            return
        # A still subject's readings scatter around the static estimate; a moving one's drift away.
        # Test the mean residual of the last ~0.25 s against its own noise (and the deadband).
        self.still_resid.append((z - self.still_mean, r))
        if len(self.still_resid) > 25:
            self.still_resid.pop(0)
        n = len(self.still_resid)
        mean = sum(e for e, _ in self.still_resid) / n
        sd = math.sqrt(sum(v for _, v in self.still_resid)) / n
        if n >= 5 and abs(mean) > max(4.0 * sd, 0.5 * self._deadband(self.still_mean)):
            self._leave_still()
            return
        self.still_mean = (self.still_mean * self.still_info + z / r) / (self.still_info + 1.0 / r)
        self.still_info += 1.0 / r

    def _recent_readings_flat(self) -> bool:
        """True when a weighted line through the last 0.5 s of readings is flat: its slope is either
        below one deadband per second or not significant (< 2 σ). Guards against a noisy velocity
        estimate near zero calling a slowly walking subject still."""
        if len(self.recent) < 8 or self.recent[-1][0] - self.recent[0][0] < 0.4:
            return False
        t, z, r = (np.array(c) for c in zip(*self.recent, strict=True))
        w = 1.0 / r
        tm = np.sum(w * t) / w.sum()
        zm = np.sum(w * z) / w.sum()
        sxx = np.sum(w * (t - tm) ** 2)
        slope = abs(float(np.sum(w * (t - tm) * (z - zm)) / sxx))
        return slope < max(self._deadband(zm), 2.0 / math.sqrt(sxx))

    # ---- output ---------------------------------------------------------------------------------
    def _half_width(self) -> float:
        c = self.config
        return dof_half_width_diopters(c.focal_length_mm, c.f_number, c.coc_mm)

    def _deadband(self, diopters: float) -> float:
        del diopters  # the DoF half-width in diopters is nearly independent of distance
        return self.config.deadband_dof_fraction * self._half_width()

    def estimate_diopters(self, t_s: float) -> float | None:
        """The subject's focus (diopters) predicted to ``t_s`` + latency; None before any reading."""
        if self.x is None:
            return None
        if self.still:
            return self.still_mean
        ahead = t_s + self.config.latency_s - self.t_state_s
        if ahead <= 0:
            return float(self.x[0])
        # through a gap, coast at constant speed: no runaway on a stale acceleration
        return self.imm.predict_diopters(t_s + self.config.latency_s, coast=t_s - self.last_accept_s > 0.1)

    def rack_to(self, t_s: float, duration_s: float, distance_m: float | None = None) -> None:
        """Start a rack at ``t_s`` over ``duration_s``: to a fixed distance (a mark, held until the next
        rack) when given, else to the next subject, whose readings the caller feeds from now on (the
        filter is reset for it)."""
        start = self.out_diopters if self.out_diopters is not None else self.estimate_diopters(t_s)
        if distance_m is None:
            self.reset_subject()
            self.ignore_before_s = t_s + self.config.sensor_latency_s
        if start is None:
            start = 1.0 / distance_m if distance_m else 0.0
        target = None if distance_m is None else 1.0 / distance_m
        self.mark_diopters = target
        self.rack = _Rack(t_s, max(duration_s, 0.0), start, target)

    def _confidence(self, t_s: float) -> float:
        if self.x is None:
            return 0.0
        age = max(0.0, t_s - self.last_accept_s)
        return float(math.exp(-max(0.0, age - 0.1) / 0.5))

    def output(self, t_s: float) -> FocusOutput:
        """Focus command for time ``t_s`` (call once per frame or control tick, in time order)."""
        cfg = self.config
        dt = 0.0 if self.t_out_s is None else max(0.0, t_s - self.t_out_s)
        self.t_out_s = t_s
        mode = "still" if self.still else "track"
        if self.rack is not None:
            target = self.rack.target_diopters
            if target is None:
                target = self.estimate_diopters(t_s)
            # a planned move: lead it by the motor delay so the lens, not the command, follows the curve
            lead = max(0.0, cfg.latency_s - cfg.sensor_latency_s)
            tau = 1.0 if self.rack.duration_s == 0 else (t_s + lead - self.rack.t0_s) / self.rack.duration_s
            if target is None:
                target = self.rack.start_diopters
            self.out_diopters = self.rack.start_diopters + (target - self.rack.start_diopters) * float(
                smoothstep5(tau)
            )
            self.out_speed = 0.0
            if target != self.rack.start_diopters:
                self.out_dir = 1 if target > self.rack.start_diopters else -1
            if tau >= 1.0:
                self.rack = None
            return self._emit(t_s, "rack")
        if self.mark_diopters is not None:
            self.out_diopters, self.out_speed = self.mark_diopters, 0.0
            return self._emit(t_s, "mark")
        target = self.estimate_diopters(t_s)
        if target is None:
            return FocusOutput(t_s, math.nan, math.nan, 0.0, "wait")
        if self.out_diopters is None:
            self.out_diopters, self.out_speed, self.out_dir = target, 0.0, 0
            return self._emit(t_s, mode)
        if t_s - self.last_accept_s > cfg.reacquire_s:
            mode = "hold"
        e = target - self.out_diopters
        direction = 1 if e > 0 else -1
        if abs(e) < 1e-9 or (self.out_dir and direction != self.out_dir and abs(e) < self._deadband(target)):
            v_des = 0.0  # never reverse for less than the deadband: no hunting
        elif dt > 0:
            # fastest approach that can still brake in time from the target's own speed, never past the
            # target in one tick (as the kernel's output)
            ahead = self.estimate_diopters(t_s + 0.01)
            target_speed = 0.0 if ahead is None else (ahead - target) / 0.01
            a_dt = cfg.max_accel_dps2 * dt
            v_brake = math.sqrt(a_dt * a_dt + 2 * cfg.max_accel_dps2 * abs(e)) - a_dt
            along = min(abs(e) / dt, max(direction * target_speed + v_brake, 0.0))
            v_des = min(max(direction * along, -cfg.max_speed_dps), cfg.max_speed_dps)
        else:
            v_des = 0.0
        dv = cfg.max_accel_dps2 * dt
        v = min(max(v_des, self.out_speed - dv), self.out_speed + dv)
        self.out_diopters += v * dt
        self.out_speed = v
        if v != 0.0:
            self.out_dir = 1 if v > 0 else -1
        return self._emit(t_s, mode)

    def _emit(self, t_s: float, mode: str) -> FocusOutput:
        assert self.out_diopters is not None
        lo = 1.0 / self.config.max_distance_m
        hi = 1.0 / self.config.min_distance_m
        self.out_diopters = min(max(self.out_diopters, lo), hi)
        return FocusOutput(t_s, 1.0 / self.out_diopters, self.out_diopters, self._confidence(t_s), mode)


def reference_track(
    readings: Sequence[DistanceReading],
    fps: float,
    config: ControllerConfig,
    start_s: float | None = None,
    duration_s: float | None = None,
    marks: MarkPlan | None = None,
) -> list[FocusOutput]:
    """The reference controller on the lens-state timing of :func:`guangying.focus.replay.iter_replay`:
    frame k (lens time t_k) is the command sent at t_k − ``config.command_lead_s`` after the readings
    up to then; cues apply once t_k reaches them. With ``start_s`` after the first reading, the frames
    from there (on the same grid) run first and are not returned, as ``iter_replay`` runs them."""
    lead = config.command_lead_s
    t_start = readings[0].t_s if start_s is None else start_s
    t_end = readings[-1].t_s if duration_s is None else t_start + duration_s
    preroll = max(0, math.floor((t_start - readings[0].t_s) * fps))
    times = t_start + np.arange(-preroll, int(math.floor((t_end - t_start) * fps)) + 1) / fps
    ctl = ReferenceController(config)
    cues = list(marks.cues) if marks is not None else []
    out: list[FocusOutput] = []
    i = 0
    for tf in times:
        while cues and cues[0].t_s <= tf:
            cue = cues.pop(0)
            to_mark = cue.mark != TRACK
            ctl.rack_to(cue.t_s, cue.rack_s, marks.marks[cue.mark] if to_mark and marks else None)
        send = float(tf) - lead
        while i < len(readings) and readings[i].t_s <= send:
            ctl.update(readings[i])
            i += 1
        out.append(ctl.output(send))
    return out[preroll:]


def reference_replay_file(log_path: str, fps: float, config: ControllerConfig, track_path: str) -> int:
    """The whole former ``guangying focus`` path (csv.DictReader into a list, the pure-Python
    controller frame by frame, the track built in memory then written): the speed baseline of
    ``bench/focus_replay.py``. Returns the number of frames."""
    import csv
    import io

    readings: list[DistanceReading] = []
    with open(log_path, newline="", encoding="utf-8") as fh:
        last_t = -math.inf
        for row in csv.DictReader(fh, skipinitialspace=True):
            t, d, strength = float(row["t_s"]), float(row["distance_m"]), float(row["strength"])
            if not math.isfinite(t) or t < last_t:
                raise ValueError(f"t_s {t} goes back in time")
            last_t = t
            ok = strength >= 100 and strength != 65535 and d > 0 and math.isfinite(d)
            readings.append(DistanceReading(t, d if ok else float("nan"), 1.0 if ok else 0.0, "log"))
    outs = reference_track(readings, fps, config)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["frame", "t_s", "focus_distance_m", "diopters", "confidence"])
    for k, o in enumerate(outs):
        w.writerow([k, f"{o.t_s:.6f}", f"{o.distance_m:.6f}", f"{o.diopters:.6f}", f"{o.confidence:.6f}"])
    with open(track_path, "w", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
    return len(outs)
