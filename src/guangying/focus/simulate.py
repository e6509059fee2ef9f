"""Scenario simulator for focus pulling: subjects, a TF-Luna-like LiDAR, and the evaluation metrics.

Used by the controller tests and ``bench/focus_sim.py``. Every random draw comes from the generator
passed in, so runs are reproducible with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import t as stats_t

from guangying.distance.marks import TRACK, Cue, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig
from guangying.focus.replay import replay
from guangying.focus.scurve import rack_diopters

Curve = Callable[[np.ndarray], np.ndarray]


def walk_profile(t_s: np.ndarray, legs: list[tuple[float, float, float]], start_m: float) -> np.ndarray:
    """Distance over time for a person who walks in legs ``(t_start_s, t_end_s, to_m)``, standing still
    between them; speed ramps up and down along a half-cosine so acceleration stays human."""
    t = np.asarray(t_s, dtype=np.float64)
    out = np.full_like(t, start_m)
    pos = start_m
    for t0, t1, to in legs:
        frac = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        # smooth velocity: position along 0.5(1 − cos πτ) over the leg
        out = np.where(t >= t0, pos + (to - pos) * 0.5 * (1 - np.cos(np.pi * frac)), out)
        pos = to
    return out


@dataclass(slots=True)
class Scenario:
    """``subject_m``: where the subject of interest is; ``spot_m``: what the LiDAR spot hits (the
    subject, or an occluder / the next person); ``truth_m``: where focus should be (the subject, or an
    intended rack between subjects). ``straddles``: windows ``(t0, t1, background_m)`` where the spot
    half-covers the background and returns an in-between distance."""

    name: str
    duration_s: float
    subject_m: Curve
    spot_m: Curve
    truth_m: Curve
    straddles: list[tuple[float, float, float]] = field(default_factory=list)
    rack: tuple[float, float] | None = None  # (t_start_s, duration_s): rack to the next subject
    occlusion: tuple[float, float] | None = None
    still_window: tuple[float, float] | None = None


@dataclass(slots=True)
class SensorModel:
    """A TF-Luna-like rangefinder: 100 Hz, σ about 1–1.5 cm, cm resolution, weak-return dropouts.

    The defaults are the filter's own picture of the world (Gaussian noise of the datasheet's size).
    The field options break it: ``noise="student_t"`` (heavy tails, ``noise_df`` degrees of freedom,
    scaled to the same σ in its core), ``second_person_rate_per_s`` episodes of 50–300 ms where the
    spot straddles the subject and a second person ``second_person_offset_m`` behind them (mixed
    returns), and ``stamp_jitter_s`` of timestamp jitter on a steady clock.
    """

    rate_hz: float = 100.0
    latency_s: float = 0.010
    sigma_base_m: float = 0.010
    sigma_per_m: float = 0.001  # σ 1.2 cm at 2 m, 1.5 cm at 5 m
    dropout_p: float = 0.02
    burst_count: int = 2
    burst_s: float = 0.1
    noise: str = "gauss"
    noise_df: float = 2.5
    second_person_rate_per_s: float = 0.0
    second_person_offset_m: float = 1.2
    stamp_jitter_s: float = 0.0
    resolution_m: float = 0.01  # TF-Luna reports whole centimetres; 0 = unquantised


def field_sensor(rate_hz: float = 100.0) -> SensorModel:
    """Noise the filter does not assume: heavy-tailed (Student-t, 2.5 degrees of freedom), the spot
    straddling the subject and a second person 1.2 m behind about once every 3 s, 2.5 % dropouts plus
    bursts, 1 ms timestamp jitter."""
    return SensorModel(rate_hz=rate_hz, dropout_p=0.025, noise="student_t", second_person_rate_per_s=0.3,
                       stamp_jitter_s=0.001)


def simulate_readings(scn: Scenario, sensor: SensorModel, rng: np.random.Generator) -> list[DistanceReading]:
    """Readings as the host receives them: timestamped on arrival, showing the scene ``latency_s`` ago."""
    # the sensor runs for a second before the take starts, as it would on set
    t = np.arange(-1.0, scn.duration_s, 1.0 / sensor.rate_hz) + rng.uniform(0, 1.0 / sensor.rate_hz)
    seen = t - sensor.latency_s
    d = scn.spot_m(seen).astype(np.float64)
    for t0, t1, bg in scn.straddles:
        m = (seen >= t0) & (seen < t1)
        w = rng.uniform(0.2, 0.8, size=int(m.sum()))
        d[m] = w * d[m] + (1 - w) * bg
    n_episodes = rng.poisson(sensor.second_person_rate_per_s * (scn.duration_s + 1.0))
    for start in rng.uniform(-1.0, scn.duration_s, size=n_episodes):
        m = (seen >= start) & (seen < start + rng.uniform(0.05, 0.3))
        w = rng.uniform(0.0, 1.0, size=int(m.sum()))  # share of the return from the person behind
        d[m] = d[m] + w * sensor.second_person_offset_m
    if sensor.noise == "student_t":
        # Student-t scaled to the Gaussian's σ in its core (the interquartile range), so the tails,
        # not the typical reading, differ
        core = 0.6745 / float(stats_t.ppf(0.75, sensor.noise_df))
        z = rng.standard_t(sensor.noise_df, size=d.shape) * core
    else:
        z = rng.normal(0.0, 1.0, size=d.shape)
    d = d + z * (sensor.sigma_base_m + sensor.sigma_per_m * d)
    if sensor.resolution_m > 0:
        d = np.round(d / sensor.resolution_m) * sensor.resolution_m
    ok = (rng.random(d.shape) >= sensor.dropout_p) & (d > 0)
    for start in rng.uniform(0.0, scn.duration_s - sensor.burst_s, size=sensor.burst_count):
        ok &= ~((t >= start) & (t < start + sensor.burst_s))
    if sensor.stamp_jitter_s > 0:
        t = t + rng.uniform(0.0, sensor.stamp_jitter_s, size=t.shape)  # late by up to the jitter
        t = np.maximum.accumulate(t)
    return [
        DistanceReading(float(ti), float(di) if oki else float("nan"), 1.0 if oki else 0.0, "sim")
        for ti, di, oki in zip(t, d, ok, strict=True)
    ]


def gait_walk(legs: list[tuple[float, float, float, float]], start_m: float, step_hz: float = 1.8,
              surge: float = 0.12) -> Curve:
    """A person walking (not the filter's model, and not a smooth cosine): legs ``(t_start_s, to_m,
    speed_mps, ramp_s)`` at a cruise speed reached and lost over ``ramp_s`` (constant acceleration),
    the forward speed surging by ±``surge`` with every step (``step_hz``). Standing still between."""
    dt = 0.0005
    t_end = max(t0 + abs(to - start_m) / max(v, 1e-3) + 2 * r for t0, to, v, r in legs) + 20.0
    grid = np.arange(-2.0, t_end, dt)
    pos = np.full(grid.shape, float(start_m))
    here = float(start_m)
    for t0, to, v, ramp_s in legs:
        dist = abs(to - here)
        ramp = min(ramp_s, dist / v)  # short legs: triangle profile
        cruise = max(0.0, (dist - v * ramp) / v)
        tau = grid - t0
        speed = v * np.clip(np.minimum(tau / ramp, (2 * ramp + cruise - tau) / ramp), 0.0, 1.0)
        speed = speed * (1.0 + surge * np.sin(2 * np.pi * step_hz * np.maximum(tau, 0.0)))
        travelled = np.minimum(np.cumsum(speed) * dt, dist)
        pos = np.where(tau >= 0, here + np.sign(to - here) * travelled, pos)
        here = float(to)
        pos = np.where(tau > 2 * ramp + cruise + 1.0, here, pos)

    def curve(t: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(t, dtype=np.float64), grid, pos)

    return curve


def frame_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(0.0, duration_s, 1.0 / fps)


def run_controller(
    scn: Scenario, readings: list[DistanceReading], times_s: np.ndarray, config: ControllerConfig
) -> np.ndarray:
    """Where our controller puts the lens (m) at each frame time ``times_s`` (uniform, from 0): the
    lens-state track that ``guangying focus`` writes (see :mod:`guangying.focus.replay`)."""
    fps = 1.0 / float(times_s[1] - times_s[0]) if times_s.size > 1 else 25.0
    marks = MarkPlan({}, [Cue(scn.rack[0], TRACK, scn.rack[1])]) if scn.rack is not None else None
    rows = replay(readings, fps, config, start_s=0.0, duration_s=float(times_s[-1]) + 0.5 / fps, marks=marks)
    return np.array([r.focus_distance_m for r in rows[: times_s.size]])


def _valid(readings: list[DistanceReading]) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([r.t_s for r in readings if r.valid])
    d = np.array([r.distance_m for r in readings if r.valid])
    return t, d


def run_raw(
    readings: list[DistanceReading], times_s: np.ndarray, lead_s: float = 0.0, latency_s: float = 0.0,
    window_s: float = 0.0,
) -> np.ndarray:
    """Baseline: the latest valid reading, as a bare LiDAR-to-motor link uses it, as a lens-state
    track (frame t shows the command sent at t − ``lead_s``). With ``window_s`` > 0 it gets latency
    compensation: a constant-velocity prediction ``latency_s`` past the reading, the speed being the
    slope of a least-squares line through the readings of the last ``window_s``."""
    t, d = _valid(readings)
    send = np.asarray(times_s) - lead_s
    idx = np.searchsorted(t, send, side="right") - 1
    j = np.maximum(idx, 0)
    out = d[j].copy()
    if window_s > 0:
        c = [np.concatenate(([0.0], np.cumsum(v))) for v in (np.ones_like(t), t, d, t * t, t * d)]
        j0 = np.searchsorted(t, t[j] - window_s, side="right")
        n, st, sd, stt, std = (v[j + 1] - v[j0] for v in c)
        den = n * stt - st * st
        slope = np.where((n >= 2) & (den > 0), (n * std - st * sd) / np.where(den > 0, den, 1.0), 0.0)
        out += slope * (send + latency_s - t[j])
    return np.where(idx >= 0, out, np.nan)


def run_ema(
    readings: list[DistanceReading], times_s: np.ndarray, factor: float = 0.2, lead_s: float = 0.0,
    latency_s: float = 0.0, predict: bool = False,
) -> np.ndarray:
    """Baseline used by open-source LiDAR focus projects: an EMA over valid readings, as a lens-state
    track (frame t shows the command sent at t − ``lead_s``). With ``predict`` it gets latency
    compensation: Brown's double exponential smoothing (the same factor) gives a de-lagged level and a
    speed, extrapolated ``latency_s`` past the reading at constant velocity."""
    t, d = _valid(readings)
    s1 = s2 = float(d[0])
    level = np.empty_like(d)
    trend = np.zeros_like(d)
    step_s = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    for j, x in enumerate(d):  # recursive filter: inherently sequential and tiny (100 Hz)
        s1 = factor * x + (1 - factor) * s1
        s2 = factor * s1 + (1 - factor) * s2
        if predict:
            level[j] = 2 * s1 - s2
            trend[j] = factor / (1 - factor) * (s1 - s2) / step_s if factor < 1 else 0.0
        else:
            level[j] = s1
    send = np.asarray(times_s) - lead_s
    idx = np.searchsorted(t, send, side="right") - 1
    last = np.maximum(idx, 0)
    out = level[last] + trend[last] * (send + latency_s - t[last])
    return np.where(idx >= 0, out, np.nan)


def half_width_diopters(
    focal_length_mm: float, f_number: float, coc_mm: float, focus_m: np.ndarray
) -> np.ndarray:
    """Exact DoF half-width in diopters at each focus distance: N·c/f²·(1 − f/s)."""
    f_m = focal_length_mm / 1000.0
    return f_number * (coc_mm / 1000.0) / f_m**2 * (1.0 - f_m / np.asarray(focus_m))


def direction_reversals(focus_m: np.ndarray, eps_diopters: float = 1e-7) -> int:
    """How many times the focus changes direction (ignoring steps smaller than ``eps``)."""
    step = np.diff(1.0 / focus_m[np.isfinite(focus_m)])
    sgn = np.sign(step[np.abs(step) > eps_diopters])
    return int(np.count_nonzero(sgn[1:] != sgn[:-1]))


@dataclass(slots=True)
class Metrics:
    in_dof: float
    mean_err_over_hw: float
    reversals_per_s: float
    jitter_rms_over_hw: float
    latency_s: float = float("nan")
    settle_s: float = float("nan")
    max_jerk_dps3: float = float("nan")
    reacquire_s: float = float("nan")


def evaluate(
    scn: Scenario,
    times_s: np.ndarray,
    focus_m: np.ndarray,
    focal_length_mm: float,
    f_number: float,
    coc_mm: float,
) -> Metrics:
    """Score a lens-state track (where focus is during each frame) against where the subject is at
    that frame. Frames before the first command count as out of focus."""
    truth_d = 1.0 / scn.truth_m(times_s)
    hw = half_width_diopters(focal_length_mm, f_number, coc_mm, np.where(np.isfinite(focus_m), focus_m, 1.0))
    err = np.abs(np.where(np.isfinite(focus_m), 1.0 / focus_m, np.inf) - truth_d) / hw
    ok = err <= 1.0
    finite = np.isfinite(err)
    m = Metrics(
        in_dof=float(ok.mean()),
        mean_err_over_hw=float(err[finite].mean()),
        reversals_per_s=float("nan"),
        jitter_rms_over_hw=float("nan"),
    )
    if scn.still_window is not None:
        sel = (times_s >= scn.still_window[0]) & (times_s < scn.still_window[1])
        span = scn.still_window[1] - scn.still_window[0]
        m.reversals_per_s = direction_reversals(focus_m[sel]) / span
        d = 1.0 / focus_m[sel]
        m.jitter_rms_over_hw = float(np.sqrt(np.mean((d - d.mean()) ** 2)) / hw[sel].mean())
    if scn.rack is not None:
        t0, dur = scn.rack
        sel = times_s >= t0
        d = 1.0 / focus_m[sel]
        move = d - d[0]
        final = 1.0 / scn.subject_m(times_s[sel])
        total = final[-1] - d[0]
        started = np.nonzero(np.abs(move) >= 0.1 * abs(total))[0]
        m.latency_s = float(times_s[sel][started[0]] - t0) if started.size else float("inf")
        off = np.nonzero(np.abs(d - final) > hw[sel])[0]
        m.settle_s = float(times_s[sel][off[-1] + 1] - t0) if off.size and off[-1] + 1 < d.size else 0.0
        win = sel & (times_s <= t0 + dur + 1.0)
        dd = 1.0 / focus_m[win]
        dt = float(np.median(np.diff(times_s)))
        m.max_jerk_dps3 = float(np.max(np.abs(np.diff(dd, n=3))) / dt**3) if dd.size > 3 else float("nan")
    if scn.occlusion is not None:
        t_end = scn.occlusion[1]
        sel = times_s >= scn.occlusion[0]
        bad = np.nonzero(~ok[sel])[0]
        m.reacquire_s = 0.0 if not bad.size else max(0.0, float(times_s[sel][bad[-1]] - t_end) + 1.0 / 30)
    return m


def rack_truth(a_m: Curve, b_m: Curve, t0_s: float, duration_s: float) -> Curve:
    """Where focus should be during a planned rack from subject A to B: the S-curve in diopters."""

    def truth(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        start = 1.0 / a_m(np.full_like(t, t0_s))
        d = rack_diopters(start, 1.0 / b_m(t), duration_s, t - t0_s)
        return np.where(t < t0_s, a_m(t), 1.0 / d)

    return truth


def standard_scenarios() -> list[Scenario]:
    """The six benchmark scenarios of issue 4 (distances in metres, times in seconds)."""
    bg = 8.0

    def walk_in(t: np.ndarray) -> np.ndarray:
        return walk_profile(t, [(1.0, 4.5, 2.0)], 5.0)

    def across(t: np.ndarray) -> np.ndarray:
        return 3.0 + 0.05 * np.sin(2 * np.pi * 0.3 * np.asarray(t))

    def stop_go(t: np.ndarray) -> np.ndarray:
        return walk_profile(t, [(1.0, 2.5, 3.5), (4.0, 5.2, 2.5), (6.7, 8.2, 3.3)], 4.5)

    def person_a(t: np.ndarray) -> np.ndarray:
        return 4.0 + 0.01 * np.sin(2 * np.pi * 0.2 * np.asarray(t))

    def person_b(t: np.ndarray) -> np.ndarray:
        return 2.0 + 0.01 * np.sin(2 * np.pi * 0.25 * np.asarray(t) + 1.0)

    def rack_spot(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t)
        return np.where(t < 3.0, person_a(t), person_b(t))

    def slow_walk(t: np.ndarray) -> np.ndarray:
        return walk_profile(t, [(0.5, 6.5, 2.5)], 3.2)

    def occluded_spot(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t)
        return np.where((t >= 3.0) & (t < 3.4), 1.2, slow_walk(t))

    def still(t: np.ndarray) -> np.ndarray:
        return 3.0 + 0.003 * np.sin(2 * np.pi * 0.25 * np.asarray(t))  # breathing sway ±3 mm

    return [
        Scenario("walk towards 5→2 m", 6.0, walk_in, walk_in, walk_in,
                 straddles=[(2.0, 2.1, bg), (3.6, 3.7, bg)]),
        Scenario("walk across at 3 m", 8.0, across, across, across,
                 straddles=[(0.5, 0.8, bg), (4.0, 4.2, bg), (7.2, 7.5, bg)]),
        Scenario("stop and go", 9.5, stop_go, stop_go, stop_go, straddles=[(3.0, 3.15, bg)]),
        Scenario("rack A 4 m → B 2 m", 6.0, rack_spot, rack_spot, rack_truth(person_a, person_b, 3.0, 1.0),
                 rack=(3.0, 1.0)),
        Scenario("brief occlusion", 7.0, slow_walk, occluded_spot, slow_walk, occlusion=(3.0, 3.4)),
        Scenario("still subject", 10.0, still, still, still, still_window=(1.0, 10.0)),
    ]


def field_scenarios() -> list[Scenario]:
    """Scenarios of issue 9 the filter was not shaped on: a walk with a gait (speed surging with every
    step), a subject who walks in, stops, then steps back briskly (1 m/s, reached and lost within
    0.12 s), and a standing subject someone walks past in front of, the spot straddling both at the
    passer-by's edges (a field test's). Pair them with :func:`field_sensor` and other sensor rates."""
    walk = gait_walk([(1.0, 2.0, 1.0, 0.5)], 5.0)
    in_back = gait_walk([(0.5, 2.2, 1.2, 0.5), (6.0, 2.8, 1.0, 0.12)], 5.0)

    def standing(t: np.ndarray) -> np.ndarray:
        return 2.5 + 0.003 * np.sin(2 * np.pi * 0.25 * np.asarray(t))  # breathing sway ±3 mm

    def crossed(t: np.ndarray) -> np.ndarray:  # someone walks through the spot at 1.5 m
        t = np.asarray(t)
        return np.where((t >= 3.0) & (t < 3.5), 1.5, standing(t))

    return [
        Scenario("gait walk 5→2 m", 6.5, walk, walk, walk),
        Scenario("walk in, stop, step back", 9.0, in_back, in_back, in_back, still_window=(4.0, 5.9)),
        # the spot straddles the passer-by's edge and the subject as they come and go: readings in between
        Scenario("crossed in front, standing", 6.0, standing, crossed, standing,
                 straddles=[(2.97, 3.0, 1.5), (3.5, 3.53, 1.5)], still_window=(1.0, 6.0)),
    ]
