"""Focus-pulling benchmark: our controller vs the raw LiDAR reading and an EMA, both with latency
compensation, on the same simulated readings: the six scenarios of issue 4 plus the field cases of
issue 9 (a walk with a gait, walk in / stop / step back briskly, heavy-tailed noise with a second
person in the spot and 2.5 % dropouts, sensors at 30 and 250 Hz).

Run: ``.venv/bin/python bench/focus_sim.py`` → ``bench/results/focus_sim.md``.

Every track is a lens-state track (what ``guangying focus`` writes): frame t shows where focus is
during that frame, scored against where the subject is at t. Baseline settings (EMA factor, the raw
reading's speed window) are chosen by a sweep on the tuning seeds; all tables use other seeds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from scipy.linalg import expm
from scipy.stats import theilslopes

from guangying.base.atomic import write_text
from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, steady_walk
from guangying.focus.simulate import (
    Metrics,
    Scenario,
    SensorModel,
    evaluate,
    field_scenarios,
    field_sensor,
    frame_times,
    half_width_diopters,
    run_controller,
    run_ema,
    run_raw,
    simulate_readings,
    standard_scenarios,
)

TUNE_SEEDS = (1, 2, 3, 4, 5)
REPORT_SEEDS = (11, 12, 13, 14, 15)
SENSOR_LATENCY_S = 0.010
MOTOR_DELAY_S = 0.030
LATENCY_S = SENSOR_LATENCY_S + MOTOR_DELAY_S
COC_MM = 0.025  # Super 35
EMA_FACTORS = (0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
RAW_WINDOWS_S = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
SCENARIOS = {s.name: s for s in standard_scenarios() + field_scenarios()}

Case = tuple[str, str, Callable[[], SensorModel]]
CASES: list[Case] = [
    *((name, "Gaussian 100 Hz", SensorModel) for name in (s.name for s in standard_scenarios())),
    ("gait walk 5→2 m", "Gaussian 100 Hz", SensorModel),
    ("walk in, stop, step back", "Gaussian 100 Hz", SensorModel),
    ("gait walk 5→2 m", "field 100 Hz", field_sensor),
    ("walk in, stop, step back", "field 100 Hz", field_sensor),
    ("still subject", "field 100 Hz", field_sensor),
    ("stop and go", "field 100 Hz", field_sensor),
    ("gait walk 5→2 m", "field 30 Hz", lambda: field_sensor(30.0)),
    ("walk in, stop, step back", "field 30 Hz", lambda: field_sensor(30.0)),
    ("still subject", "field 30 Hz", lambda: field_sensor(30.0)),
    ("gait walk 5→2 m", "field 250 Hz", lambda: field_sensor(250.0)),
    ("still subject", "field 250 Hz", lambda: field_sensor(250.0)),
    ("crossed in front, standing", "Gaussian 100 Hz", SensorModel),
    ("crossed in front, standing", "field 100 Hz", field_sensor),
    ("crossed in front, standing", "field 30 Hz", lambda: field_sensor(30.0)),
]
WALKING = [c for c in CASES if "walk" in c[0] and "across" not in c[0]]


def config(focal_mm: float = 135, f_number: float = 2.0) -> ControllerConfig:
    return ControllerConfig(focal_mm, f_number, COC_MM, latency_s=LATENCY_S,
                            sensor_latency_s=SENSOR_LATENCY_S)


def tracks(scn: Scenario, readings: list, ts: np.ndarray, cfg: ControllerConfig, ema: float,
           window_s: float) -> dict[str, np.ndarray]:
    """Lens-state tracks of ours and the two compensated baselines (frame t = command sent at t − motor
    delay, predicted to t)."""
    return {
        "ours": run_controller(scn, readings, ts, cfg),
        "raw + CV": run_raw(readings, ts, MOTOR_DELAY_S, LATENCY_S, window_s=window_s),
        "EMA + CV": run_ema(readings, ts, ema, MOTOR_DELAY_S, LATENCY_S, predict=True),
    }


def readings_for(case: Case, seed: int) -> tuple[Scenario, list]:
    scn = SCENARIOS[case[0]]
    return scn, simulate_readings(scn, case[2](), np.random.default_rng(seed))


def sweep_baselines() -> tuple[float, float, list[str]]:
    """Best EMA factor and raw speed window: highest mean in-DoF over every case on the tuning seeds."""
    ema_score = {f: [] for f in EMA_FACTORS}
    raw_score = {w: [] for w in RAW_WINDOWS_S}
    for case in CASES:
        for seed in TUNE_SEEDS:
            scn, rd = readings_for(case, seed)
            ts = frame_times(scn.duration_s, 25)
            for f in EMA_FACTORS:
                track = run_ema(rd, ts, f, MOTOR_DELAY_S, LATENCY_S, predict=True)
                ema_score[f].append(evaluate(scn, ts, track, 135, 2.0, COC_MM).in_dof)
            for w in RAW_WINDOWS_S:
                track = run_raw(rd, ts, MOTOR_DELAY_S, LATENCY_S, window_s=w)
                raw_score[w].append(evaluate(scn, ts, track, 135, 2.0, COC_MM).in_dof)
    best_f = max(EMA_FACTORS, key=lambda f: np.mean(ema_score[f]))
    best_w = max(RAW_WINDOWS_S, key=lambda w: np.mean(raw_score[w]))
    lines = ["| EMA factor | " + " | ".join(f"{f:g}" for f in EMA_FACTORS) + " |",
             "|---" * (len(EMA_FACTORS) + 1) + "|",
             "| mean in DoF % | " + " | ".join(f"{np.mean(ema_score[f]) * 100:.1f}" for f in EMA_FACTORS)
             + " |",
             "",
             "| raw speed window s (0 = no prediction) | " + " | ".join(f"{w:g}" for w in RAW_WINDOWS_S)
             + " |",
             "|---" * (len(RAW_WINDOWS_S) + 1) + "|",
             "| mean in DoF % | " + " | ".join(f"{np.mean(raw_score[w]) * 100:.1f}" for w in RAW_WINDOWS_S)
             + " |"]
    return best_f, best_w, lines


# What limits the walking cases: the same scenarios with a better sensor or no motor delay (ours only;
# the controller is told each sensor's σ, as a user would set --sensor-sigma).
RATE_INFO = math.sqrt(100 / 30)
LIMIT_SENSORS: list[tuple[str, Callable[[], SensorModel], float, float]] = [
    ("TF-Luna-like (σ 1.0 cm + 0.1 cm/m), 30 ms motor delay", SensorModel, 0.015, MOTOR_DELAY_S),
    ("same sensor, no motor delay (lens moves the instant it is told)", SensorModel, 0.015, 0.0),
    ("σ 0.3 cm, 1 mm steps (a laser rangefinder)",
     lambda: SensorModel(sigma_base_m=0.003, sigma_per_m=0.0, resolution_m=0.001), 0.004, MOTOR_DELAY_S),
    ("perfect readings (no noise, no steps, no dropouts)",
     lambda: SensorModel(sigma_base_m=0.0, sigma_per_m=0.0, resolution_m=0.0, dropout_p=0.0, burst_count=0),
     0.001, MOTOR_DELAY_S),
    # the 30 Hz gap: a third of the readings, then as much information per second as 100 Hz gives (σ and
    # steps ÷ √(100/30)), then no noise at all
    ("TF-Luna-like at 30 Hz", lambda: SensorModel(rate_hz=30.0), 0.015, MOTOR_DELAY_S),
    ("30 Hz, σ and steps ÷ 1.83 (the information per second of 100 Hz)",
     lambda: SensorModel(rate_hz=30.0, sigma_base_m=0.01 / RATE_INFO, sigma_per_m=0.001 / RATE_INFO,
                         resolution_m=0.01 / RATE_INFO), 0.015 / RATE_INFO, MOTOR_DELAY_S),
    ("perfect readings at 30 Hz",
     lambda: SensorModel(rate_hz=30.0, sigma_base_m=0.0, sigma_per_m=0.0, resolution_m=0.0, dropout_p=0.0,
                         burst_count=0), 0.001, MOTOR_DELAY_S),
]
LIMIT_SCENARIOS = ("gait walk 5→2 m", "walk in, stop, step back")


def linear_kalman_track(readings: list, ts: np.ndarray, a_ct: np.ndarray, g: np.ndarray, p0: np.ndarray,
                        sigma_m: float = 0.015, gate_sigma: float = 4.0,
                        huber_sigma: float = 1.5) -> np.ndarray:
    """Comparison estimator: a linear Kalman filter in metres with continuous-time model ``a_ct`` (state
    0 is the distance) and white process noise density ``g``, started at the first reading with
    covariance ``p0``; same gating, Huber weighting and lens-state timing as ours. Plain Python per
    reading: it is a yardstick, not a product path."""
    n = a_ct.shape[0]
    cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def fq(dt_s: float) -> tuple[np.ndarray, np.ndarray]:  # Van Loan discretisation, cached per 0.1 ms
        key = round(max(dt_s, 1e-4), 4)
        if key not in cache:
            m = np.zeros((2 * n, 2 * n))
            m[:n, :n], m[:n, n:], m[n:, n:] = -a_ct, g, a_ct.T
            e = expm(m * key)
            f = e[n:, n:].T
            cache[key] = (f, f @ e[:n, n:])
        return cache[key]

    t = np.array([r.t_s for r in readings if r.valid])
    d = np.array([r.distance_m for r in readings if r.valid])
    out = np.full(ts.size, np.nan)
    x = p = None
    t_last = 0.0
    i = 0
    for k, t_frame in enumerate(ts):
        send = t_frame - MOTOR_DELAY_S
        while i < t.size and t[i] <= send:
            z, r = d[i], sigma_m**2
            if x is None:
                x, p = np.zeros(n), p0.copy()
                x[0] = z
            else:
                f, q = fq(t[i] - t_last)
                x, p = f @ x, f @ p @ f.T + q
                sv, nu = p[0, 0] + r, z - x[0]
                if nu * nu <= gate_sigma**2 * sv:
                    if nu * nu > huber_sigma**2 * sv:
                        r *= nu * nu / (huber_sigma**2 * sv)
                    gain = p[:, 0] / (p[0, 0] + r)
                    x, p = x + gain * nu, p - np.outer(gain, p[0, :])
            t_last = t[i]
            i += 1
        if x is not None:
            out[k] = (fq(send + LATENCY_S - t_last)[0] @ x)[0]
    return out


def gait_kalman_track(readings: list, ts: np.ndarray, step_hz: float, accel_noise: float,
                      gait_noise: float) -> np.ndarray:
    """State [r, v, a, c, ċ] with r' = v + c, a random-walk acceleration (``accel_noise``) and the gait's
    speed surge c an oscillator at the true ``step_hz`` (``gait_noise``)."""
    omega = 2 * np.pi * step_hz
    a_ct = np.zeros((5, 5))
    a_ct[0, 1] = a_ct[0, 3] = a_ct[1, 2] = a_ct[3, 4] = 1.0
    a_ct[4, 3] = -omega**2
    g = np.diag([0.0, 0.0, accel_noise**2, 0.0, gait_noise**2])
    p0 = np.diag([0.015**2, 1.0, 1.0, 0.15**2, (0.15 * omega) ** 2])
    return linear_kalman_track(readings, ts, a_ct, g, p0)


def ca_kalman_track(readings: list, ts: np.ndarray, jerk_mps3: float) -> np.ndarray:
    """State [r, v, a], white jerk of density ``jerk_mps3``²: one fixed bandwidth for the whole take."""
    a_ct = np.diag([1.0, 1.0], k=1)
    g = np.diag([0.0, 0.0, jerk_mps3**2])
    return linear_kalman_track(readings, ts, a_ct, g, np.diag([0.015**2, 1.0, 1.0]))


# The fixed-bandwidth yardstick: white-jerk densities swept on the tuning seeds (m/s³; calm walking is
# ~0.5, the gait's surge has a jerk of ~15)
CA_JERKS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def limit_in_dof(name: str, sensor: Callable[[], SensorModel], seeds: tuple[int, ...],
                 track: Callable[[Scenario, list, np.ndarray], np.ndarray]) -> list[float]:
    """Share of frames in DoF (135 mm f/2) of ``track(scenario, readings, frame times)`` per seed."""
    scn = SCENARIOS[name]
    ts = frame_times(scn.duration_s, 25)
    return [evaluate(scn, ts, track(scn, simulate_readings(scn, sensor(), np.random.default_rng(seed)), ts),
                     135, 2.0, COC_MM).in_dof for seed in seeds]


def limits_table() -> list[str]:
    lines = ["| sensor | " + " | ".join(LIMIT_SCENARIOS) + " |", "|---" * (len(LIMIT_SCENARIOS) + 1) + "|"]

    def ca_kalman(jerk: float) -> Callable[[Scenario, list, np.ndarray], np.ndarray]:
        return lambda scn, rd, ts: ca_kalman_track(rd, ts, jerk)

    ca_tune = {j: [float(np.mean(limit_in_dof(name, SensorModel, TUNE_SEEDS, ca_kalman(j))))
                   for name in LIMIT_SCENARIOS] for j in CA_JERKS}
    best_j = max(CA_JERKS, key=lambda j: float(np.mean(ca_tune[j])))
    cells = [f"{np.mean(limit_in_dof(name, SensorModel, REPORT_SEEDS, ca_kalman(best_j))) * 100:.1f}"
             for name in LIMIT_SCENARIOS]
    lines.append(f"| constant-acceleration Kalman filter, one fixed jerk ({best_j:g} m/s³), TF-Luna-like | "
                 + " | ".join(cells) + " |")

    def gait_kalman(qa: float, qc: float) -> Callable[[Scenario, list, np.ndarray], np.ndarray]:
        return lambda scn, rd, ts: gait_kalman_track(rd, ts, 1.8, qa, qc)

    grid = [(qa, qc) for qa in (1.0, 3.0, 10.0) for qc in (0.3, 1.0, 3.0)]
    tune = {p: float(np.mean([v for name in LIMIT_SCENARIOS
                              for v in limit_in_dof(name, SensorModel, TUNE_SEEDS, gait_kalman(*p))]))
            for p in grid}
    qa, qc = max(grid, key=tune.__getitem__)
    cells = [f"{np.mean(limit_in_dof(name, SensorModel, REPORT_SEEDS, gait_kalman(qa, qc))) * 100:.1f}"
             for name in LIMIT_SCENARIOS]
    lines.append(f"| gait-aware Kalman filter (acceleration noise {qa:g}, gait noise {qc:g}), TF-Luna-like | "
                 + " | ".join(cells) + " |")
    for label, sensor, sigma_m, motor_delay_s in LIMIT_SENSORS:
        cfg = ControllerConfig(135, 2.0, COC_MM, sensor_sigma_m=sigma_m,
                               latency_s=SENSOR_LATENCY_S + motor_delay_s, sensor_latency_s=SENSOR_LATENCY_S)
        ours = functools.partial(run_controller, config=cfg)
        cells = [f"{np.mean(limit_in_dof(name, sensor, REPORT_SEEDS, ours)) * 100:.1f}"
                 for name in LIMIT_SCENARIOS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sweep = ["", "The fixed-bandwidth filter's sweep on the tuning seeds (in DoF %, Gaussian noise):", "",
             "| jerk m/s³ | " + " | ".join(f"{j:g}" for j in CA_JERKS) + " |",
             "|---" * (len(CA_JERKS) + 1) + "|"]
    sweep += [f"| {name} | " + " | ".join(f"{ca_tune[j][k] * 100:.1f}" for j in CA_JERKS) + " |"
              for k, name in enumerate(LIMIT_SCENARIOS)]
    return lines + sweep


# Where the field sensor's frames go at 30 Hz: the same takes with one part of the field noise taken away
# at a time (ours only), and the frames lost per phase of the gait walk (subject starts at 1 s, reaches
# 1 m/s by 1.5 s, brakes from 4 s, stands from 4.5 s)
FIELD_PARTS: list[tuple[str, Callable[[float], SensorModel]]] = [
    ("field", field_sensor),
    ("field without the second person",
     lambda r: dataclasses.replace(field_sensor(r), second_person_rate_per_s=0.0)),
    ("field with Gaussian noise (second person kept)",
     lambda r: dataclasses.replace(field_sensor(r), noise="gauss")),
    ("Gaussian (TF-Luna-like)", lambda r: SensorModel(rate_hz=r)),
]
GAIT_PHASES = (("start", 1.0, 1.6), ("cruise", 1.6, 4.0), ("stop", 4.0, 4.8), ("standing", 4.8, 6.5))


def field_parts_table() -> list[str]:
    lines = ["| sensor | gait walk 30 Hz | gait walk 100 Hz | walk in, stop, step back 30 Hz | 100 Hz "
             "| gait walk 30 Hz, frames lost: " + " / ".join(p[0] for p in GAIT_PHASES) + " |",
             "|---|---|---|---|---|---|"]
    for label, sensor in FIELD_PARTS:
        cells, lost = [], np.zeros(len(GAIT_PHASES), dtype=int)
        for name in LIMIT_SCENARIOS:
            scn = SCENARIOS[name]
            ts = frame_times(scn.duration_s, 25)
            for rate in (30.0, 100.0):
                share = []
                for seed in REPORT_SEEDS:
                    readings = simulate_readings(scn, sensor(rate), np.random.default_rng(seed))
                    focus = run_controller(scn, readings, ts, config())
                    share.append(evaluate(scn, ts, focus, 135, 2.0, COC_MM).in_dof)
                    if name == LIMIT_SCENARIOS[0] and rate == 30.0:
                        off = (np.abs(1 / focus - 1 / scn.truth_m(ts))
                               > half_width_diopters(135, 2.0, COC_MM, focus))
                        lost += [int(np.sum(off & (ts >= a) & (ts < b))) for _, a, b in GAIT_PHASES]
                cells.append(f"{np.mean(share) * 100:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells[k] for k in (0, 1, 2, 3)) + " | "
                     + " / ".join(str(v) for v in lost) + " |")
    return lines


CRUISE_WINDOWS_S = (0.5, 1.0)
HUBER_ITERATIONS = 5
# the whole cruise, and from 1 s after reaching speed (where a line's last second is steady)
CRUISE_SPANS_S = ((1.6, 4.0), (2.5, 4.0))


def line_fit_track(readings: list, ts: np.ndarray, window_s: float) -> np.ndarray:
    """Yardstick for a steady walk: at each frame t, a line through the readings of the last
    ``window_s`` that the command at t − motor delay could use, evaluated at t. Fitted from a robust
    Theil–Sen start by Huber-weighted least squares at 1 datasheet σ, as ours weighs heavy tails,
    readings more than 3 σ off getting no weight (a second person). It ignores the gait and lags
    every change of speed, so it is only scored where the walk is steady."""
    t_r = np.array([r.t_s for r in readings])
    d_r = np.array([r.distance_m for r in readings])
    ok = np.isfinite(d_r)
    out = np.full(ts.shape, np.nan)
    sigma = config().sensor_sigma_m
    for k, t in enumerate(ts):
        send = t - MOTOR_DELAY_S
        m = ok & (t_r <= send) & (t_r > send - window_s)
        if m.sum() < 3:
            continue
        a = np.stack([np.ones(m.sum()), t_r[m] - SENSOR_LATENCY_S - t], 1)
        y = d_r[m]
        c = np.array(theilslopes(y, a[:, 1])[1::-1])
        for _ in range(HUBER_ITERATIONS):
            w = np.minimum(1.0, sigma / np.maximum(np.abs(y - a @ c), 1e-12))
            w[np.abs(y - a @ c) > 3 * sigma] = 0.0
            if np.count_nonzero(w) < 3:
                break
            c = np.linalg.lstsq(a * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
        out[k] = c[0]
    return out


def cruise_table() -> list[str]:
    """The gait walk's cruise (1 m/s with the gait's surges): ours against a line fit over the last
    0.5 s and 1 s of readings, on the cruise frames only (report seeds, in DoF %)."""
    lines = ["| sensor | frames | ours | " + " | ".join(f"line fit, last {w:g} s" for w in CRUISE_WINDOWS_S)
             + " |", "|---" * (len(CRUISE_WINDOWS_S) + 3) + "|"]
    scn = SCENARIOS[LIMIT_SCENARIOS[0]]
    ts = frame_times(scn.duration_s, 25)
    for label, sensor in (("Gaussian 100 Hz", SensorModel), ("field 100 Hz", field_sensor)):
        shares: dict[tuple[float, float], dict[str, list[float]]] = {span: {} for span in CRUISE_SPANS_S}
        for seed in REPORT_SEEDS:
            readings = simulate_readings(scn, sensor(), np.random.default_rng(seed))
            found = {"ours": run_controller(scn, readings, ts, config())}
            found |= {f"{w:g}": line_fit_track(readings, ts, w) for w in CRUISE_WINDOWS_S}
            for key, focus in found.items():
                hit = np.abs(1 / focus - 1 / scn.truth_m(ts)) <= half_width_diopters(135, 2.0, COC_MM, focus)
                for a, b in CRUISE_SPANS_S:
                    shares[a, b].setdefault(key, []).append(float(np.mean(hit[(ts >= a) & (ts < b)])))
        for (a, b), by in shares.items():
            lines.append(f"| {label} | {a:g}–{b:g} s | "
                         + " | ".join(f"{np.mean(v) * 100:.1f}" for v in by.values()) + " |")
    return lines


def in_focus(scn: Scenario, ts: np.ndarray, focus_m: np.ndarray) -> np.ndarray:
    """Per frame, in DoF as ``evaluate`` counts it (135 mm f/2)."""
    hw = half_width_diopters(135, 2.0, COC_MM, np.where(np.isfinite(focus_m), focus_m, 1.0))
    return np.abs(np.where(np.isfinite(focus_m), 1.0 / focus_m, np.inf) - 1.0 / scn.truth_m(ts)) <= hw


def filters_table(blend: dict[tuple[str, str], dict[str, Metrics]]) -> list[str]:
    """Every case with the default filter alone, the steady-walk filter alone, the two blended (the
    default: ``blend``, the main table's results), an oracle that takes, frame by frame, whichever
    filter alone is in focus, and one that may also take a line through the last 0.5 s or 1 s of
    readings (:func:`line_fit_track`), report seeds."""
    lines = ["| scenario | sensor | default filter alone: in DoF % | steady-walk filter alone | "
             "blended (the default) | blended: reversals/s (still) | oracle: either in focus | "
             "oracle: either, or a line of 0.5 s or 1 s |",
             "|---|---|---|---|---|---|---|---|"]
    alone = {"default": dataclasses.replace(config(), blend_steady_walk=False),
             "steady": steady_walk(config())}
    for case in CASES:
        found: dict[str, list[Metrics]] = {k: [] for k in alone}
        either, any_of_four = [], []
        for seed in REPORT_SEEDS:
            scn, readings = readings_for(case, seed)
            ts = frame_times(scn.duration_s, 25)
            hit = np.zeros(ts.shape, bool)
            for key, cfg in alone.items():
                focus = run_controller(scn, readings, ts, cfg)
                found[key].append(evaluate(scn, ts, focus, 135, 2.0, COC_MM))
                hit |= in_focus(scn, ts, focus)
            either.append(hit.mean())
            for window_s in (0.5, 1.0):
                hit |= in_focus(scn, ts, line_fit_track(readings, ts, window_s))
            any_of_four.append(hit.mean())
        m = {k: mean_metrics(v) for k, v in found.items()}
        ours = blend[case[:2]]["ours"]
        lines.append(f"| {case[0]} | {case[1]} | {m['default'].in_dof * 100:.1f} | "
                     f"{m['steady'].in_dof * 100:.1f} | {ours.in_dof * 100:.1f} | "
                     f"{fmt(ours.reversals_per_s)} | {np.mean(either) * 100:.1f} | "
                     f"{np.mean(any_of_four) * 100:.1f} |")
    return lines


RATE_SEEDS = tuple(range(21, 41))  # the bin was chosen on seeds 1–20


def sensor_rates_table() -> list[str]:
    """The field sensor slower and faster than the 100 Hz the controller was shaped on, every reading fed
    (``reading_bin_s`` 0) against the default bins, seeds ``RATE_SEEDS``."""
    lines = ["| rate | still subject: takes reversing, every reading / bins | reversals/s | "
             "walk in, stop, step back: in DoF % | gait walk: in DoF % |", "|---|---|---|---|---|"]
    configs = (dataclasses.replace(config(), reading_bin_s=0.0), config())
    for rate in (10.0, 15.0, 400.0, 500.0, 700.0, 1000.0):
        cells: dict[str, list[list[Metrics]]] = {}
        for name in ("still subject", "walk in, stop, step back", "gait walk 5→2 m"):
            scn = SCENARIOS[name]
            ts = frame_times(scn.duration_s, 25)
            cells[name] = [[], []]
            for seed in RATE_SEEDS:
                readings = simulate_readings(scn, field_sensor(rate), np.random.default_rng(seed))
                for found, cfg in zip(cells[name], configs, strict=True):
                    found.append(evaluate(scn, ts, run_controller(scn, readings, ts, cfg), 135, 2.0, COC_MM))
        still = cells["still subject"]
        reversing = [sum(m.reversals_per_s > 0 for m in ms) for ms in still]
        per_s = [mean_metrics(ms).reversals_per_s for ms in still]

        in_dof = {k: " / ".join(f"{mean_metrics(ms).in_dof * 100:.1f}" for ms in v) for k, v in cells.items()}
        lines.append(f"| {rate:g} Hz | {reversing[0]} / {reversing[1]} of {len(RATE_SEEDS)} | "
                     f"{per_s[0]:.2f} / {per_s[1]:.2f} | {in_dof['walk in, stop, step back']} | "
                     f"{in_dof['gait walk 5→2 m']} |")
    return lines


def subject_change_table(ema: float, window_s: float) -> list[str]:
    """The spot moves to another subject, no cue given (a rack the operator lets the sensor make): how
    far each track goes past the new subject, in half-depths of field, and when it is in focus there for
    good. 85 mm f/1.4 on full frame (CoC 0.030 mm), Gaussian 100 Hz sensor, 25 fps tracks."""
    focal, fnum, coc = 85.0, 1.4, 0.030
    lines = ["", "## A change of subject without a cue", "",
             f"The spot jumps from one subject to another at 2 s (no cue); {focal:g} mm f/{fnum:g} on full "
             f"frame (CoC {coc} mm), Gaussian 100 Hz sensor, 25 fps lens-state tracks, seeds "
             f"{REPORT_SEEDS[:3]}. Worst overshoot past the new subject (half-depths of field) / seconds "
             "from the jump until in focus for good. (Ours before 2026-12-06, when the output stage braked "
             "as if the target stood still and a tick had no length: 12.8 / 0.92 s, 12.4 / 0.92 s, "
             "4.2 / 0.80 s.)", "",
             "| change | ours | raw + CV | EMA + CV |", "|---|---|---|---|"]
    cfg = ControllerConfig(focal, fnum, coc, latency_s=LATENCY_S, sensor_latency_s=SENSOR_LATENCY_S)
    for before_m, after_m in ((3.0, 1.5), (1.5, 3.0), (4.0, 2.5)):
        def subject(t: np.ndarray, a: float = before_m, b: float = after_m) -> np.ndarray:
            return np.where(np.asarray(t) < 2.0, a, b)
        scn = Scenario(f"{before_m:g} → {after_m:g} m", 5.0, subject, subject, subject)
        ts = frame_times(scn.duration_s, 25)
        hw = half_width_diopters(focal, fnum, coc, np.full(ts.size, after_m))
        cells: dict[str, list[tuple[float, float]]] = {}
        for seed in REPORT_SEEDS[:3]:
            rd = simulate_readings(scn, SensorModel(), np.random.default_rng(seed))
            after = ts >= 2.0
            t_after, hw_after = ts[after], hw[after]
            for name, focus_m in tracks(scn, rd, ts, cfg, ema, window_s).items():
                error_d = 1.0 / focus_m[after] - 1.0 / after_m
                past = error_d * (1.0 if after_m < before_m else -1.0)  # beyond the new subject
                off = np.nonzero(~(np.abs(error_d) <= hw_after))[0]
                settle = 0.0 if not off.size else (
                    float(t_after[off[-1] + 1] - 2.0) if off[-1] + 1 < t_after.size else math.inf)
                cells.setdefault(name, []).append((max(float(np.nanmax(past / hw_after)), 0.0), settle))
        row = " | ".join(f"{np.mean([o for o, _ in v]):.1f} / {np.mean([s for _, s in v]):.2f} s"
                         for v in cells.values())
        lines.append(f"| {scn.name} | {row} |")
    return lines


def mean_metrics(ms: list[Metrics]) -> Metrics:
    vals = {f: float(np.nanmean([getattr(m, f) for m in ms])) if any(
        math.isfinite(getattr(m, f)) for m in ms) else float("nan") for f in Metrics.__slots__}
    return Metrics(**vals)


def fmt(v: float, spec: str = ".2f") -> str:
    return "–" if not math.isfinite(v) else format(v, spec)


def run_case(case: Case, seeds: tuple[int, ...], ema: float, window_s: float, focal_mm: float = 135,
             f_number: float = 2.0, fps: float = 25) -> dict[str, Metrics]:
    per: dict[str, list[Metrics]] = {}
    for seed in seeds:
        scn, rd = readings_for(case, seed)
        ts = frame_times(scn.duration_s, fps)
        for k, v in tracks(scn, rd, ts, config(focal_mm, f_number), ema, window_s).items():
            per.setdefault(k, []).append(evaluate(scn, ts, v, focal_mm, f_number, COC_MM))
    return {k: mean_metrics(v) for k, v in per.items()}


def main() -> None:
    t0 = time.perf_counter()
    ema, window_s, sweep_lines = sweep_baselines()
    methods = ("ours", "raw + CV", "EMA + CV")
    lines = [
        "# Focus simulator: controller vs raw LiDAR and EMA, both latency-compensated",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. Tables: seeds {REPORT_SEEDS} (means); "
        f"baseline settings swept on seeds {TUNE_SEEDS}.",
        "",
        "**Definition (issue 9).** Every track is a *lens-state* track, what `guangying focus` writes: frame",
        "t shows focus as it is during that frame — the command sent one motor delay (30 ms) earlier, from",
        "the readings that had arrived by then, predicted to t — and is scored against where the subject is",
        "at t. In DoF = |1/focus − 1/subject| ≤ DoF half-width (diopters, 135 mm f/2, Super 35 CoC 0.025 mm",
        "unless stated). The controller knows the datasheet σ (1.5 cm), the sensor latency (10 ms) and the",
        "motor delay; nothing else about the generators.",
        "",
        "**Sensors.** *Gaussian 100 Hz*: TF-Luna-like, σ = 1.0 cm + 0.1 cm/m, 1 cm steps, 2 % dropouts + two",
        "0.1 s bursts, spot straddling the background (8 m) at set moments — the filter's own noise model.",
        "*Field*: not the filter's model — Student-t noise (2.5 degrees of freedom, same core σ, so a 5σ",
        "reading is about 40× likelier), the spot straddling the subject and a second person 1.2 m behind",
        "for 50–300 ms about every 3 s (mixed returns), 2.5 % dropouts + bursts, 1 ms timestamp jitter; at",
        "100 Hz, and at 30 and 250 Hz (the filter was shaped at 100 Hz).",
        "",
        "**Scenarios.** The six of issue 4 (cosine-smooth walks), plus: *gait walk 5→2 m* (1 m/s, speed",
        "surging ±12 % with every step at 1.8 Hz, reached and lost over 0.5 s); *walk in, stop, step back*",
        "(walks 5 → 2.2 m at 1.2 m/s, stands 2.7 s, then steps back 0.6 m at 1 m/s, starting and stopping",
        "within 0.12 s; still window 4.0–5.9 s); *crossed in front, standing* (a subject standing at 2.5 m,",
        "someone at 1.5 m in the spot for 0.5 s, the spot straddling both for 30 ms as they come and go; a",
        "field test's case, added 2026-12-07 with the controller's occluder rules, which were shaped on it).",
        "",
        "**Fair baselines.** Both predict to the lens time at constant velocity: *raw + CV* is the latest",
        f"reading plus the slope of a least-squares line through the readings of the last {window_s:g} s;",
        f"*EMA + CV* is Brown's double exponential smoothing with factor {ema:g} (de-lagged level and",
        "trend). Both settings were the best of a sweep on the tuning seeds (mean in-DoF over every case):",
        "",
        *sweep_lines,
        "",
        "## All cases, 135 mm f/2, 25 fps",
        "",
        "| scenario | sensor | method | in DoF % | mean err / half-DoF | reversals/s (still) "
        "| jitter RMS / half-DoF | step latency s | settle s | reacquire s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    results = {}
    for case in CASES:
        agg = run_case(case, REPORT_SEEDS, ema, window_s)
        results[case[:2]] = agg
        for k in methods:
            m = agg[k]
            lines.append(
                f"| {case[0]} | {case[1]} | {k} | {m.in_dof * 100:.1f} | {fmt(m.mean_err_over_hw)} | "
                f"{fmt(m.reversals_per_s)} | {fmt(m.jitter_rms_over_hw)} | {fmt(m.latency_s)} | "
                f"{fmt(m.settle_s)} | {fmt(m.reacquire_s)} |"
            )
    lines += ["", "## Verdict per case", "",
              "Better = in DoF and mean error both at least as good as both baselines.", "",
              "| scenario | sensor | ours in DoF % | raw + CV | EMA + CV | ours better than both |",
              "|---|---|---|---|---|---|"]
    better_count = 0
    for case in CASES:
        o, r, e = (results[case[:2]][k] for k in methods)
        better = o.in_dof >= max(r.in_dof, e.in_dof) and o.mean_err_over_hw <= min(r.mean_err_over_hw,
                                                                                    e.mean_err_over_hw)
        better_count += better
        lines.append(f"| {case[0]} | {case[1]} | {o.in_dof * 100:.1f} | {r.in_dof * 100:.1f} | "
                     f"{e.in_dof * 100:.1f} | {'yes' if better else '**no**'} |")
    walks = [(c, results[c[:2]]["ours"].in_dof) for c in WALKING]
    stills = [(c, results[c[:2]]["ours"].reversals_per_s) for c in CASES
              if math.isfinite(results[c[:2]]["ours"].reversals_per_s)]
    lines += ["", "## Goals (issue 4, measured with the lens-state definition of issue 9)", "",
              "- ≥ 97 % of frames in DoF for a walking subject at 135 mm f/2 (aim 99 %):"]
    for c, v in walks:
        lines.append(f"  - {c[0]}, {c[1]}: **{v * 100:.1f} %** — {'met' if v >= 0.97 else 'missed'}")
    lines.append("- 0 direction reversals while the subject stands still:")
    for c, v in stills:
        lines.append(f"  - {c[0]}, {c[1]}: **{v:.2f}/s** — {'met' if v == 0 else 'missed'}")
    lines.append(f"- Better than both baselines: **{better_count}/{len(CASES)}** cases.")
    lines += [
        "",
        "## What was tuned, and where the frames are lost",
        "",
        "Tuned on seeds 1–5 over every case above (mean in-DoF, and reversals while still): the onset",
        "test's CUSUM threshold (off, 3, 4, 6, 8 σ; one reading adds at most 1 σ: 4 σ gained half a point",
        "on the mean, most on brisk starts, with no reversals; 3 σ reversed while still), the Huber",
        "threshold of the heavy-tail weighting (off, 1, 1.25, 1.5, 2, 2.5 σ), the calm-walk jerk",
        "(0.3–2 m/s³), the manoeuvre jerk (8, 20 m/s³), the gate (3.5, 4 σ) and the deadband (0.5, 0.6,",
        "0.8 half-DoF). The parameters move the mean by about one point; only the Huber weighting at 1 σ",
        "gave zero reversals while still on every tuning seed (1.5 σ: one point more in DoF but 0.75",
        "reversals/s summed over the still windows), so it is the default; the rest stayed as they were.",
        "The mixed-return hold (while still, in-gate readings on the side of a scattered far-off pair are",
        "kept out for 0.1 s) was chosen the same way: skipping both sides gave zero reversals too but cost",
        "half a point on brisk starts that coincided with an episode; one side cost nothing on the mean.",
        "",
        "The walk of issue 4 (cosine-smooth, Gaussian noise) meets the 97 % goal; every case that is not",
        "the filter's own picture of the world misses it, and that is the honest state. At 2 m the lens",
        "holds ±1.1 cm, one reading scatters by 1.2 cm, and the command must predict 40 ms ahead. A gait",
        "that surges the speed by ±12 % at 1.8 Hz moves the subject ±1 cm around a constant-speed path",
        "— a whole half-DoF — at a rate the filter cannot follow from readings that noisy without",
        "following the noise too; the Student-t tails and the second person in the spot add errors of",
        "several σ that weighting can soften but not remove; at 30 Hz there are a third of the readings.",
        "A brisk step back (1 m/s within 0.12 s) costs 3–5 frames while the filter sees the start.",
        "At 250 Hz a still subject's focus used to reverse about once in 11 s: while the spot straddles",
        "the subject and the second person, the few returns that land inside the gate lean towards the",
        "second person and drag the filter (or start the onset test) one way, and the readings after the",
        "episode look like a start the other way. While the subject is still, two readings far off on one",
        "side that disagree with each other (mixed returns; a subject who moves gives readings that agree)",
        "now keep that side's in-gate readings out for 0.1 s. Skipping after any rejection, also while",
        "walking, cost two points on the walking cases; restricted to still subjects it costs nothing",
        "there. On 30 takes at 250 Hz (seeds 1–30) it left 2 with a reversal, down from 7.",
        "An episode just as a subject eases to a stop (the calm model still leading and still carrying",
        "the braking's acceleration) used to carry focus 0.3–0.5 m behind: the filter drifted on while",
        "the far returns were rejected, its gate widened, and the in-gate returns (all behind) built",
        "speed. Now a subject slower than 0.3 m/s when an episode starts is taken as standing (so the",
        "hold applies), and three agreeing rejected readings on the near side within 0.5 s of an episode",
        "are taken as the subject at once rather than after 0.6 s (both chosen on the tuning seeds;",
        "applying the hold while walking instead cost 0.4 points there and made still takes reverse).",
        "A long episode (0.6–1.2 s) could outlast the hold: fed nothing, the filter widens its gate, the",
        "far test is relative to that gate, and the next share of the person behind inside it took focus",
        "up to half a metre behind a standing subject. For 0.5 s after an episode's last far pair such a",
        "reading now counts by the chance that it is the subject's own return (a Gaussian around the",
        "prediction against a share spread over 0.5 m behind): on the focus tests' takes 13 → 6 of 100",
        "leave the DoF; here it moves the mean by +0.05 on the tuning seeds and no case by more than 0.1.",
        "The controller was shaped at 100 Hz, and two of its tests counted readings: the still test's",
        "exit (the mean of the last 25 residuals: 0.8 s at 30 Hz) and the re-acquisition (the last 10",
        "rejected readings: 0.33 s at 30 Hz). They now look at the readings of 0.25 s and 0.1 s (the",
        "same at 100 Hz; at 250 Hz the still test keeps its 25: a quarter second there saw the lean of",
        "mixed returns and made more still takes reverse). And a brisk step read at 30 Hz leaves the",
        "gate within two or three readings, before the onset test (at most 1 σ from each",
        "reading inside the gate) can add up to 4 σ: focus stayed on the still estimate for the whole step",
        "back. Rejected readings of the last 0.2 s (at least 3, in a row, one side) that lie on a line",
        "(within 3 σ, under 3 m/s) which left the filter's last estimate are now taken as the subject",
        "moving (all chosen on the tuning seeds). Weighing each onset reading by its share of a second",
        "instead (up to 3.3 σ a reading at 30 Hz) gained 3 points with Gaussian noise but made still",
        "takes reverse with the field's heavy tails: there, a reading's evidence is bounded, not its rate.",
        "",
        "### Where the limit is",
        "",
        "The two walking scenarios again (Gaussian noise, seeds 11–15, in DoF %), with the sensor or the",
        "motor changed and nothing else. A *gait-aware Kalman filter* is a second, independent estimator",
        "for comparison: a linear filter in metres whose state includes an oscillator at the walk's true",
        "step frequency (1.8 Hz, which ours is not told), tuned on the tuning seeds. A *constant-",
        "acceleration Kalman filter* with one fixed bandwidth (white jerk, the best of a sweep on the tuning",
        "seeds, same gating and Huber weighting) asks whether simply following the gait does better.",
        "",
        *limits_table(),
        "",
        "No fixed bandwidth comes near the goal on the gait walk: a filter quick enough to follow the",
        "±1 cm surges (8 m/s³ and up) also follows the noise — predicted 40 ms ahead it shows 1.3–1.6 cm",
        "RMS on a still subject at 2.5 m (a separate run), the whole half-DoF there — and a calm one lags",
        "the surges and the stop. Choosing the bandwidth per take, or per phase, trades between these two",
        "losses; it does not remove them.",
        "",
        "With perfect readings the gait walk is in focus on every frame and a 3 mm rangefinder reaches",
        "99 %, so the frames are lost to the TF-Luna's noise at 2 m together with what the filter makes of",
        "it (the gait-aware filter, told the true step frequency, does worse than ours). Not all of that is",
        "the sensor, though. On the steady part of the cruise a plain line through the last second of",
        "readings, which ignores the gait altogether, keeps nearly every frame in focus with Gaussian",
        "noise, where ours keeps 87 % and the default filter alone 80 % (gait walk, report seeds, in DoF",
        "% of the span's frames):",
        "",
        *cruise_table(),
        "",
        "Through a steady stretch the default filter's IMM lends its manoeuvre model a tenth to over",
        "half of the weight at",
        "every surge of the gait (1.4 m/s² peaks, far above the calm model's jerk), and its speed swings",
        "with the noise (0.7–1.2 m/s on a 1 m/s walk): the filter's memory is a few tenths of a second",
        "where a second would do. A line of one second lags every change of speed, so it loses the start",
        "and the braking, and with the field sensor (heavy tails, a second person) even a robust line does",
        "no better than ours. Three alternatives show where the next points are and what they cost. A",
        "prototype (a separate run) that took the one-second line wherever a quadratic over the same second",
        "showed no significant curvature gained 1–3 points on the gait walks and the walk in / stop / step",
        "back and lost 0.8–2.2 on the smooth walk and stop and go (tuning seeds). A calm model at constant",
        "speed (white acceleration 1 m/s²/√Hz, manoeuvre jerk 4 m/s³, chosen on the tuning seeds:",
        "`steady_walk()` / `guangying focus --steady-walk`) holds the mean through the surges but loses",
        "the smooth walks, whose speed changes all the time, and the brief occlusion. So the controller",
        "now runs both filters on the same readings and aims at their estimates weighed by how well each",
        "predicted the lens time lately: each reading against what each filter, a latency earlier, said",
        "the subject would be at its time; errors averaged over 40 ms bins, their squares over 0.15 s,",
        "weights the inverse (all chosen on the tuning seeds; the weighing settings within 0.1 point of",
        "each other), combined ahead of the one deadband, in the compiled kernel, live and replay alike.",
        "Each filter alone and the blend, the default (report seeds). The last two columns are oracles",
        "that no causal rule can be: at each frame they take whichever filter alone is in focus, and",
        "then also either line fit of the cruise table. On every walk but the cosine-smooth one the first",
        "stays short of 97 % too (85.0–96.0 %), so the two filters themselves, not how they are weighed,",
        "bound the blend there. With the lines, which keep a steady cruise in focus, the second reaches",
        "98.4 % on the gait walk with Gaussian noise and 97.7 % at 250 Hz, and stays at 89.9–96.4 % on the",
        "rest (walk in / stop / step back, stop and go, the field sensor at 100 and 30 Hz): a third",
        "estimator picked perfectly would still leave those short.",
        "",
        *filters_table(results),
        "",
        "Earlier prototypes that combined the two filters' finished outputs, each after its own deadband,",
        "reversed while still (up to 9.5 times a second); the blend does not. Taking away the 30 ms",
        "motor delay gains about 4.5 points on both. With perfect readings the walk in / stop / step back",
        "loses six frames in a hundred: a subject who has stood still for seconds and then moves at",
        "8 m/s² is, for the first ~0.1 s, indistinguishable from a reading error, and the gate holds focus",
        "until the move is confirmed (the price of never hunting on a still subject; letting the onset",
        "test count readings beyond the gate too lifted that row to 98–99 % on our tuning runs but made",
        "focus reverse on a still subject with TF-Luna noise, so it is not the default). Rejected",
        "readings on a line away from the estimate confirm it; that line must now span 50 ms, as three",
        "readings at 100 Hz (20 ms) let the start of a burst of glancing returns from a wall behind a",
        "standing subject pass for a step and take focus up to 1.2 m behind them (3 of 36 takes of",
        "tests/focus/test_standing_before_a_wall.py). A line through 50 ms of a brisk start misses the",
        "estimate, so with perfect readings the step now waits longer (98.9 → 94.2 %; a 3 mm rangefinder",
        "98.2 → 97.8 %; the TF-Luna-like rows move by at most 0.1 point). Beyond the steady",
        "stretches, closing the gap needs a better sensor (a less noisy rangefinder, or fusing the",
        "picture's own face distance), a faster motor or a deeper DoF (f/2.8: see the lens table).",
        "",
        "At 30 Hz (the last three rows), the gait walk is back at its 100 Hz figure once the readings carry",
        "as much information per second (σ ÷ √(100/30)): its 30 Hz gap is the third of the readings, not",
        "the controller. The walk in / stop / step back keeps about one point of gap there (the former",
        "controller: nearly four): the onset test needs five readings (0.17 s at 30 Hz), the brisk step",
        "leaves the gate sooner, and the line test needs three rejected ones (perfect readings: 93 % at",
        "30 Hz, 99 % at 100 Hz).",
        "",
        "### Where the field sensor's 30 Hz frames go",
        "",
        "The field sensor costs ours 0–1.5 points at 100 Hz and 1–8.5 at 30 Hz. The same takes (ours, in DoF",
        "%, seeds 11–15) with one part of the field noise taken away at a time, and the gait walk's frames",
        "lost per phase at 30 Hz (summed over the five takes, 163 frames each):",
        "",
        *field_parts_table(),
        "",
        "On these takes the gait walk's 30 Hz loss to the field sensor is mostly in its cruise and mostly",
        "the second person: one take (seed 14) loses 42 frames within 0.4 s of an episode. Takes differ a",
        "lot; over 45 takes (seeds 1–15, 41–70, a separate run with the default filter alone, before the",
        "blend) the heavy tails alone cost the 30 Hz gait",
        "walk 2.0 points (0.6 at 100 Hz), the second person alone 2.4 (1.1), and the frames more than 5",
        "half-widths off are 2.7 % of it (Gaussian 30 Hz: 0.3 %, field 100 Hz: 1.0 %); the stop loses as",
        "many frames with Gaussian noise (information). Dropping every share reading of the second person",
        "(an oracle) lifts the 30 Hz gait walk by only 1.6 points: the rest is the gaps the episodes leave,",
        "and the tails. Per reading, at 30 Hz the filter moves further on each one (estimate error after a",
        "2–3σ reading 2.4 cm RMS, after a <1σ one 1.2; at 100 Hz 1.3 and 0.9), and a share that passes",
        "comes after a longer run of rejected ones (0.16 s against 0.09 s: the gate has opened wider) and",
        "lies further off (0.32 against 0.18 of the way to the second person). Weighing readings down less",
        "while the subject walks (a Huber threshold that grows with the reading interval) gained 1.8 points",
        "on the tuning seeds' 30 Hz gait walk with Gaussian noise too, but lost 0.4 on the report seeds'",
        "field gait walk and made three more wide-check takes reverse, so it is not the default. When the",
        "shares carried the filter away (5–8 m/s, a metre past the subject, seen at 20–30 Hz), its gate",
        "shut the subject's own readings out for the 0.6 s of the re-acquisition; a filter faster than a",
        "person moves (3 m/s) now re-acquires agreeing rejected readings after 0.1 s (tuning seeds: field",
        "walk-in 30 Hz 81.2 → 82.8 %; no report take of this table runs away).",
        "",
        "### Sensors slower and faster than that",
        "",
        "The field sensor at other rates, fed every reading / read in bins (the default; up to 250 Hz the",
        f"two are the same), seeds {RATE_SEEDS[0]}–{RATE_SEEDS[-1]}, in DoF % and still subjects' reversals:",
        "",
        *sensor_rates_table(),
        "",
        "Some of the controller's tests count readings (the onset test's sum, the still test's last 25",
        "residuals: a quarter second at 100 Hz, 25 ms at 1000 Hz), and fed every reading of a faster",
        "sensor with heavy tails and a second person in the spot, a standing subject's focus hunted. A",
        "sensor from about 375 Hz up is now read in bins of about 4 ms, each bin's median distance at its",
        "mean time taken as one reading (`ControllerConfig.reading_bin_s`; chosen on seeds 1–20: 4, 5 and",
        "6 ms alike on the walks within a point, 4 ms the only one that changes nothing up to 250 Hz;",
        "8–12 ms, a 100 Hz filter, also held 250 Hz still but cost the step back 1–3 points; counting a",
        "bin as its median's smaller variance made 500 Hz still takes reverse again). A reading waits in",
        "its bin up to 4 ms.",
        "Below about 16 Hz a standing subject is never called still: the still test needs 8 readings in",
        "its half second, and focus follows the filter, which at 10 Hz reverses about once a second. Letting",
        "the test look back up to a second for its 8 readings stopped that (seeds 1–20, 10 Hz: 0.88 → 0",
        "reversals/s) but made a crossing's slow radial motion look still (walk across, 10 Hz: 80.7 → 67.3 %",
        "Gaussian, 72.7 → 60.0 % field), so it is not done; a sensor under 16 Hz is too slow for a 135 mm",
        "lens at f/2 anyway (the walks keep 65–84 % of frames there).",
    ]

    lines += subject_change_table(ema, window_s)

    lines += ["", "## Lenses × frame rates", "",
              "In DoF %, ours / raw + CV / EMA + CV (seeds 11–13); reversals/s on the still subject (field).",
              "",
              "| lens | fps | walk towards 5→2 m | gait walk, field | still subject, field "
              "| still reversals/s ours / raw / EMA |",
              "|---|---|---|---|---|---|"]
    lens_cases = [CASES[0], next(c for c in CASES if c[:2] == ("gait walk 5→2 m", "field 100 Hz")),
                  next(c for c in CASES if c[:2] == ("still subject", "field 100 Hz"))]
    for focal, fnum in ((35, 1.4), (85, 1.4), (85, 2.8), (135, 2.0), (200, 2.0), (200, 4.0)):
        for fps in (24, 30):
            cells, rev = [], ""
            for case in lens_cases:
                agg = run_case(case, REPORT_SEEDS[:3], ema, window_s, focal, fnum, fps)
                cells.append(" / ".join(f"{agg[k].in_dof * 100:.1f}" for k in methods))
                if case[0] == "still subject":
                    rev = " / ".join(fmt(agg[k].reversals_per_s) for k in methods)
            lines.append(f"| {focal} mm f/{fnum:g} | {fps} | {' | '.join(cells)} | {rev} |")

    scn, rd = readings_for(CASES[0], 1)
    ts = frame_times(scn.duration_s, 25)
    # the same log with its stamps moved by up to ±3 ms (an irregular rate: every step a different one)
    shift = np.random.default_rng(0).uniform(-0.003, 0.003, len(rd))
    rd_jittered = [DistanceReading(r.t_s + dt_s, r.distance_m, r.confidence, r.source)
                   for r, dt_s in zip(rd, shift, strict=True)]
    run_controller(scn, rd, ts, config())  # warm (compiled)
    cost = {"steady": 0.0, "jittered": 0.0}
    for _ in range(20):  # interleaved
        for name, log in (("steady", rd), ("jittered", rd_jittered)):
            t1 = time.perf_counter()
            run_controller(scn, log, ts, config())
            cost[name] += (time.perf_counter() - t1) / (20 * len(log)) * 1e6
    steady, jittered = cost["steady"], cost["jittered"]
    lines += ["", f"Controller cost: {steady:.1f} µs per 100 Hz reading ({jittered:.1f} µs with the stamps",
              "jittered by ±3 ms), including building the per-frame rows of a short list (compiled kernel;",
              f"long logs: `focus_replay.md`). Whole benchmark {time.perf_counter() - t0:.0f} s.", ""]
    out = Path(__file__).parent / "results" / "focus_sim.md"
    write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
