import numpy as np
import pytest

from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusController
from guangying.focus.scurve import rack_diopters, smoothstep5
from guangying.focus.simulate import (
    SensorModel,
    direction_reversals,
    evaluate,
    frame_times,
    run_controller,
    run_raw,
    simulate_readings,
    standard_scenarios,
)

LENS = (135.0, 2.0, 0.025)


def _scenario(name):
    return next(s for s in standard_scenarios() if s.name.startswith(name))


def _run(name, seed=7, fps=25):
    scn = _scenario(name)
    rd = simulate_readings(scn, SensorModel(), np.random.default_rng(seed))
    ts = frame_times(scn.duration_s, fps)
    cfg = ControllerConfig(*LENS, latency_s=0.04)
    ours = run_controller(scn, rd, ts, cfg)
    return scn, rd, ts, ours


def test_still_subject_never_hunts():
    scn, rd, ts, ours = _run("still")
    m = evaluate(scn, ts, ours, *LENS)
    assert m.reversals_per_s == 0.0
    assert m.in_dof >= 0.99
    raw = evaluate(scn, ts, run_raw(rd, ts, lead_s=0.03), *LENS)
    assert raw.reversals_per_s > 1.0  # the bare reading does hunt: the test can tell the difference


def test_walking_subject_stays_in_dof():
    scn, rd, ts, ours = _run("walk towards")
    m = evaluate(scn, ts, ours, *LENS)
    raw = evaluate(scn, ts, run_raw(rd, ts, lead_s=0.03), *LENS)
    assert m.in_dof >= 0.95
    assert m.mean_err_over_hw < raw.mean_err_over_hw


def test_background_spikes_are_rejected():
    ctl = FocusController(ControllerConfig(*LENS))
    for k in range(100):
        ctl.update(DistanceReading(k * 0.01, 3.0, 1.0, "t"))
    for k in range(100, 110):  # spot straddling the background for 0.1 s
        assert not ctl.update(DistanceReading(k * 0.01, 6.5, 1.0, "t"))
    out = ctl.output(1.1)
    assert out.distance_m == pytest.approx(3.0, abs=0.01)
    assert ctl.outliers == 10


def test_persistent_jump_is_reacquired():
    ctl = FocusController(ControllerConfig(*LENS, reacquire_s=0.5))
    for k in range(100):
        ctl.update(DistanceReading(k * 0.01, 3.0, 1.0, "t"))
    for k in range(100, 200):
        ctl.update(DistanceReading(k * 0.01, 2.0, 1.0, "t"))
    assert ctl.estimate_diopters(2.0) == pytest.approx(0.5, abs=0.01)


def test_invalid_readings_ignored_and_wait_before_first():
    ctl = FocusController(ControllerConfig(*LENS))
    assert ctl.output(0.0).mode == "wait"
    assert not ctl.update(DistanceReading(0.0, float("nan"), 0.0, "t"))
    assert np.isnan(ctl.output(0.04).distance_m)


def test_rack_follows_s_curve_to_mark():
    ctl = FocusController(ControllerConfig(*LENS))
    for k in range(50):
        ctl.update(DistanceReading(k * 0.01, 4.0, 1.0, "t"))
    ctl.output(0.5)
    ctl.rack_to(0.5, 1.0, distance_m=2.0)
    ts = np.arange(0.5, 1.6, 0.04)
    got = np.array([ctl.output(float(t)).diopters for t in ts])
    want = rack_diopters(0.25, 0.5, 1.0, ts - 0.5)
    assert np.allclose(got, want, atol=1e-3)
    assert direction_reversals(1 / got) == 0


def test_smoothstep_ends():
    assert smoothstep5(0.0) == 0.0 and smoothstep5(1.0) == 1.0 and smoothstep5(0.5) == pytest.approx(0.5)
    # zero slope at both ends
    assert smoothstep5(1e-3) < 1e-7 and 1 - smoothstep5(1 - 1e-3) < 1e-7
