"""The compiled controller gives the former pure-Python controller's results (within 1e-9) on the same
readings and times, however the log is cut into blocks (issue 8: faster replay, same results). The
former controller had no Huber weighting, no onset test, no mixed-return hold or weighting and
counted readings where the controller now looks at stretches of time (issue 9 added them), so
these run with them off."""

import math

import numpy as np
import pytest

from guangying.distance.marks import TRACK, Cue, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.evaluation.focus_reference import FORMER_SETTINGS, reference_track
from guangying.focus.controller import ControllerConfig
from guangying.focus.replay import ReplaySettings, iter_replay, replay
from guangying.focus.simulate import SensorModel, simulate_readings, standard_scenarios
from guangying.focus.track_io import readings_block


def _compare(readings, fps, cfg, marks=None, start_s=None):
    ours = replay(readings, fps, cfg, marks=marks, start_s=start_s)
    ref = reference_track(readings, fps, cfg, marks=marks, start_s=start_s)
    assert len(ours) == len(ref)
    a = np.array([[r.diopters, r.confidence, r.command_t_s] for r in ours])
    b = np.array([[o.diopters, o.confidence, o.t_s] for o in ref])
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    assert np.max(np.abs(a[ok] - b[ok]), initial=0.0) < 1e-9
    return ours


@pytest.mark.parametrize("name", ["walk towards", "stop and go", "rack", "brief occlusion", "still"])
def test_scenarios_match_reference(name):
    scn = next(s for s in standard_scenarios() if s.name.startswith(name))
    rd = simulate_readings(scn, SensorModel(), np.random.default_rng(4))
    cfg = ControllerConfig(135, 2.0, 0.025, latency_s=0.04, **FORMER_SETTINGS)
    marks = MarkPlan({}, [Cue(scn.rack[0], TRACK, scn.rack[1])]) if scn.rack else None
    _compare(rd, 25, cfg, marks=marks, start_s=0.0)


@pytest.mark.parametrize("rate_hz", [30.0, 250.0])
def test_other_sensor_rates_and_marks_match_reference(rate_hz):
    scn = next(s for s in standard_scenarios() if s.name.startswith("stop and go"))
    rd = simulate_readings(scn, SensorModel(rate_hz=rate_hz), np.random.default_rng(9))
    cfg = ControllerConfig(85, 1.4, 0.03, latency_s=0.05, sensor_latency_s=0.0, **FORMER_SETTINGS)
    marks = MarkPlan({"A": 1.5}, [Cue(2.0, "A", 0.5), Cue(4.0, TRACK, 0.8)])
    _compare(rd, 24, cfg, marks=marks)


def test_jittered_four_decimal_stamps_match_reference():
    # steps such as 0.0105 s: the mode-switch matrix is keyed by the step rounded to the millisecond,
    # and the rounding must be Python's exact one
    rng = np.random.default_rng(2)
    t = np.round(np.cumsum(rng.choice([0.0095, 0.01, 0.0105, 0.0115], 800)), 4)
    d = 3.0 + 0.4 * np.sin(t) + rng.standard_t(3, t.size) * 0.01
    rd = [DistanceReading(float(a), float(b), 1.0, "log") for a, b in zip(t, d, strict=True)]
    _compare(rd, 30, ControllerConfig(135, 2.0, 0.025, latency_s=0.04, **FORMER_SETTINGS))


def test_block_boundaries_do_not_change_the_track():
    scn = next(s for s in standard_scenarios() if s.name.startswith("stop and go"))
    rd = simulate_readings(scn, SensorModel(), np.random.default_rng(3))
    cfg = ControllerConfig(135, 2.0, 0.025, latency_s=0.04)
    for settings in (ReplaySettings(25), ReplaySettings(25, start_s=1.0)):  # with frames run before row 0
        _same_track_however_cut(rd, settings, cfg)


def _same_track_however_cut(rd, settings, cfg) -> None:  # noqa: ANN001
    whole = [r for b in iter_replay([readings_block(rd)], settings, cfg) for r in b]
    for size in (1, 7, 100):
        blocks = [readings_block(rd[i:i + size]) for i in range(0, len(rd), size)]
        cut = [r for b in iter_replay(blocks, settings, cfg, frames_per_batch=5) for r in b]
        assert len(cut) == len(whole)
        assert all(
            (math.isnan(x.diopters) and math.isnan(y.diopters)) or x.diopters == y.diopters
            for x, y in zip(cut, whole, strict=True)
        )
