"""Focus controller: a Kalman filter in diopter space feeding a DoF-aware, rate-limited follower.

Why this shape:
- The filter (:class:`~guangying.focus.kalman.DiopterIMM`) keeps focus in diopters plus the
  subject's radial speed and acceleration in metres: walking at constant speed is a straight line in
  metres, not in diopters, so motion is integrated in metres; the noise model is the sensor's σ in
  metres mapped to diopters (σ_D = σ_m·D²), so near readings are trusted less, as they should be.
  Three motion models (standing / calm walking / manoeuvring) are mixed as an IMM, so it is smooth,
  settles on a subject that stops, and is still quick when they change pace.
- Readings that disagree with the prediction by more than ``gate_sigma`` standard deviations are
  rejected (a LiDAR spot straddling the background, someone passing in front). Only if they persist
  and agree among themselves for ``reacquire_s`` does the filter accept them as the new truth.
- When the subject is still, a static estimate (the filter's value, refined by every further
  reading) replaces the moving one, so noise averages away instead of being followed.
- The output moves in the same direction freely but reverses only for errors larger than a deadband
  tied to the depth of field (a fraction of its half-width), so focus never hunts; speed and
  acceleration are limited like a real motor; the target is predicted ahead by sensor + motor
  latency.
- A rack runs along a minimum-jerk S-curve from the current focus to the new subject's estimate.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from guangying.base.checks import Range, check_fields
from guangying.base.errors import SettingsError
from guangying.distance.reading import DistanceReading
from guangying.focus.kalman import DiopterIMM
from guangying.focus.scurve import smoothstep5
from guangying.lens.optics import LENS_RANGES, dof_half_width_diopters

_CONFIG_RANGES = {
    **{k: LENS_RANGES[k] for k in ("focal_length_mm", "f_number", "coc_mm")},
    "sensor_sigma_m": Range(0.0, 10.0, lo_open=True, unit="m"),
    "subject_jerk_mps3": Range(0.0, 1e3, lo_open=True, unit="m/s³"),
    "manoeuvre_jerk_mps3": Range(0.0, 1e4, lo_open=True, unit="m/s³"),
    "gate_sigma": Range(0.0, 100.0, lo_open=True),
    "reacquire_s": Range(0.0, 60.0, unit="s"),
    "latency_s": Range(0.0, 10.0, unit="s"),
    "sensor_latency_s": Range(0.0, 10.0, unit="s"),
    "deadband_dof_fraction": Range(0.0, 10.0),
    "max_speed_dps": Range(0.0, 1e3, lo_open=True, unit="diopters/s"),
    "max_accel_dps2": Range(0.0, 1e5, lo_open=True, unit="diopters/s²"),
    "min_distance_m": Range(0.0, 1e6, lo_open=True, unit="m"),
    "max_distance_m": Range(0.0, 1e6, lo_open=True, unit="m"),
}


@dataclass(slots=True)
class ControllerConfig:
    """Controller settings; the only sensor knowledge is its published noise σ (``sensor_sigma_m``).

    Lens numbers as in :func:`guangying.lens.optics.depth_of_field` (mm, f-number, mm); every value
    is checked against its range on construction (:class:`~guangying.base.errors.SettingsError`).
    """

    focal_length_mm: float
    f_number: float
    coc_mm: float
    sensor_sigma_m: float = 0.015  # TF-Luna: σ 1–1.5 cm; use the upper end of the spec
    # Process noise: how abruptly people change their acceleration (white jerk, m/s³): calm walking,
    # and starting/stopping/turning; the IMM filter weighs these two and a standing model as it goes.
    subject_jerk_mps3: float = 0.5
    manoeuvre_jerk_mps3: float = 8.0
    gate_sigma: float = 4.0
    reacquire_s: float = 0.6
    latency_s: float = 0.0  # sensor + motor delay: how far ahead to predict
    sensor_latency_s: float = 0.01  # readings younger than this after a rack still show the old subject
    deadband_dof_fraction: float = 0.5
    max_speed_dps: float = 4.0  # focus motor limits, diopters per second (and per second²)
    max_accel_dps2: float = 40.0
    min_distance_m: float = 0.2
    max_distance_m: float = 1000.0

    def __post_init__(self) -> None:
        check_fields(self, "focus", _CONFIG_RANGES)
        if not self.min_distance_m < self.max_distance_m:
            raise SettingsError(
                f"focus settings min_distance_m={self.min_distance_m}, max_distance_m={self.max_distance_m}: "
                "need min_distance_m < max_distance_m"
            )


@dataclass(frozen=True, slots=True)
class FocusOutput:
    """The focus to set at ``t_s``. ``distance_m`` is nan before the first usable reading."""

    t_s: float
    distance_m: float
    diopters: float
    confidence: float
    mode: str


@dataclass(slots=True)
class _Rack:
    t0_s: float
    duration_s: float
    start_diopters: float
    target_diopters: float | None  # None: rack to the tracked subject's live estimate


@dataclass(slots=True)
class FocusController:
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
        if len(self.recent) < 20 or self.recent[-1][0] - self.recent[0][0] < 0.4:
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
            # fastest approach that can still brake in time, never past the target in one tick
            v_brake = math.sqrt(2 * cfg.max_accel_dps2 * abs(e))
            v_des = direction * min(cfg.max_speed_dps, v_brake, abs(e) / dt)
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
