"""The controller at sensor rates it was not shaped on (issue 9): the tests that counted readings
(still exit, re-acquisition) look at stretches of time instead, and a subject who steps out of the
gate between two slow readings is taken up on the line their readings draw.

The generator here is not the benchmark's: quintic (minimum-jerk) moves from standing, Laplace noise,
half-centimetre steps, dropouts in bursts (a two-state Markov chain) and readings at irregular
intervals (the period ±30 %)."""

import numpy as np

from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig
from guangying.focus.simulate import Scenario, evaluate, frame_times, half_width_diopters, run_controller

LENS = (135.0, 2.0, 0.025)
FORMER = {"still_window_s": 0.0, "reacquire_window_s": 0.0, "moving_reacquire_s": 0.0}
STEP_T0, STEP_S = 2.0, 0.6


def _step_scenario(from_m: float, to_m: float) -> Scenario:
    """Stands at ``from_m``, steps to ``to_m`` along a minimum-jerk curve over ``STEP_S`` from
    ``STEP_T0``, then stands again."""

    def pos(t):
        tau = np.clip((np.asarray(t, dtype=np.float64) - STEP_T0) / STEP_S, 0.0, 1.0)
        return from_m + (to_m - from_m) * tau**3 * (10 - 15 * tau + 6 * tau**2)

    return Scenario(f"step {from_m}→{to_m} m", 5.0, pos, pos, pos, still_window=(3.2, 5.0))


def _start_scenario() -> Scenario:
    """Stands at 5 m, then walks towards the camera from 2 s, reaching 1 m/s along a quintic over 0.6 s."""

    def pos(t):
        tau = np.clip(np.asarray(t, dtype=np.float64) - 2.0, 0.0, None)
        x = np.clip(tau / 0.6, 0.0, 1.0)
        return 5.0 - np.where(tau < 0.6, 0.6 * x**4 * (2.5 - 3 * x + x**2), 0.3 + (tau - 0.6))

    return Scenario("start", 4.5, pos, pos, pos)


def _readings(scn: Scenario, rate_hz: float, seed: int) -> list[DistanceReading]:
    rng = np.random.default_rng(seed)
    t = -1.0 + np.cumsum(rng.uniform(0.7, 1.3, int(7 * rate_hz)) / rate_hz)
    t = t[t < scn.duration_s]
    d = scn.spot_m(t - 0.01)
    d = np.round((d + rng.laplace(0.0, (0.01 + 0.001 * d) / np.sqrt(2))) / 0.005) * 0.005
    ok = np.empty(t.size, dtype=bool)
    good = True
    for k in range(t.size):  # Gilbert–Elliott dropouts: rare, but once lost, lost for a few readings
        good = rng.random() < (0.97 if good else 0.4)
        ok[k] = good
    return [DistanceReading(float(a), float(b) if g else float("nan"), 1.0 if g else 0.0, "t")
            for a, b, g in zip(t, d, ok, strict=True)]


def _out_of_dof(scn: Scenario, rate_hz: float, seed: int, cfg: ControllerConfig,
                window_s: tuple[float, float]) -> tuple[float, float]:
    """Share of frames out of the DoF within ``window_s``, and reversals/s in the still window."""
    ts = frame_times(scn.duration_s, 25)
    focus = run_controller(scn, _readings(scn, rate_hz, seed), ts, cfg)
    sel = (ts >= window_s[0]) & (ts < window_s[1])
    err = np.abs(1 / focus - 1 / scn.truth_m(ts)) / half_width_diopters(*LENS, focus)
    return float(np.mean(err[sel] > 1.0)), evaluate(scn, ts, focus, *LENS).reversals_per_s


def _configs() -> dict[str, ControllerConfig]:
    return {name: ControllerConfig(*LENS, latency_s=0.04, sensor_latency_s=0.01, **kw)
            for name, kw in (("new", {}), ("former", FORMER))}


def test_a_brisk_step_read_at_a_slow_irregular_rate_is_followed():
    """A 0.5 m step (1.6 m/s at its peak, half the takes back, half forward) read at about 30 and 50 Hz:
    it leaves the gate within a few readings, before the onset test (at most 1σ a reading) can add them
    up, and the former controller held focus on the still estimate for most of the step. Taken up on
    the line of the rejected readings, focus follows sooner; it never reverses once the subject stands
    again."""
    for rate_hz in (30.0, 50.0):
        lost, reversals = {}, []
        for name, cfg in _configs().items():
            runs = [_out_of_dof(_step_scenario(2.4, 2.9) if seed % 2 else _step_scenario(2.9, 2.4), rate_hz,
                                seed, cfg, (STEP_T0, STEP_T0 + STEP_S + 0.3)) for seed in range(10)]
            lost[name] = np.mean([r[0] for r in runs])
            reversals += [r[1] for r in runs] if name == "new" else []
        assert lost["new"] <= lost["former"] - 0.1, (rate_hz, lost)
        assert sum(reversals) == 0.0


def test_a_start_from_standing_read_at_30_hz_is_followed_sooner():
    """A subject who stood still starts to walk, read at about 30 Hz: the former controller's still test
    looked at the last 25 readings (0.8 s at 30 Hz) and held focus on the still estimate after the walk
    had begun; looking at a quarter second of readings, focus leaves it sooner (with the re-acquisition
    on a line, about half as many frames are lost in the first 1.2 s)."""
    scn = _start_scenario()
    lost = {name: np.mean([_out_of_dof(scn, 30.0, seed, cfg, (2.0, 3.2))[0] for seed in range(12)])
            for name, cfg in _configs().items()}
    assert lost["new"] <= 0.7 * lost["former"], lost
