"""Garbage given to the focus controller and to `guangying focus`: a SettingsError/MarksError that says
what to do, or the reading is not used — never a ZeroDivisionError, a numba error or frames silently
without focus (hostile-input pass 2)."""

import csv
import math

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.errors import GuangyingError, SettingsError
from guangying.cli.main import cli
from guangying.distance.marks import Cue, MarkPlan
from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusController

LENS = dict(focal_length_mm=50.0, f_number=2.0, coc_mm=0.025)


def _walk(ctl, n=150, rate_hz=100.0, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(n):
        t = k / rate_hz
        ctl.update(DistanceReading(t, 3.0 - 0.4 * t + rng.normal(0, 0.015), 1.0, "x"))
    return ctl


@pytest.mark.parametrize("huber", [1e-300, 1e-160, 0.001])
def test_a_vanishing_huber_sigma_is_refused(huber):
    with pytest.raises(SettingsError, match="huber_sigma"):
        ControllerConfig(**LENS, huber_sigma=huber)
    _walk(FocusController(ControllerConfig(**LENS, huber_sigma=0.0)))  # 0 = off still works


@pytest.mark.parametrize("t", [math.inf, -math.inf, math.nan])
def test_a_reading_with_a_non_finite_time_is_not_used(t):
    ctl = _walk(FocusController(ControllerConfig(**LENS)))
    clean = _walk(FocusController(ControllerConfig(**LENS)))
    before = ctl.output(1.5)
    assert ctl.update(DistanceReading(t, 2.0, 1.0, "x")) == 0
    after = ctl.output(1.5)
    assert math.isfinite(after.distance_m) and after.distance_m == pytest.approx(before.distance_m)
    # and it leaves nothing behind (the blend's kept predictions and scores included)
    clean.output(1.5)
    clean.output(1.5)
    for k in range(150, 250):
        reading = DistanceReading(k / 100, 3.0 - 0.4 * k / 100, 1.0, "x")
        assert ctl.update(reading) == clean.update(reading)
    assert ctl.output(2.5) == clean.output(2.5)


@pytest.mark.parametrize(
    ("duration_s", "distance_m", "words"),
    [
        (1.0, 0.0, "distance_m=0.0"),
        (1.0, -2.0, "distance_m=-2.0"),
        (1.0, math.nan, "distance_m=nan"),
        (math.nan, 2.0, "duration_s=nan"),
        (math.inf, None, "duration_s=inf"),
        (-1.0, 2.0, "duration_s=-1.0"),
    ],
)
def test_a_rack_with_garbage_values_is_refused(duration_s, distance_m, words):
    ctl = _walk(FocusController(ControllerConfig(**LENS)))
    with pytest.raises(SettingsError, match="focus rack") as err:
        ctl.rack_to(1.5, duration_s, distance_m)
    assert words in str(err.value)


def test_a_rack_to_infinity_and_a_cut_still_work():
    ctl = _walk(FocusController(ControllerConfig(**LENS)))
    ctl.rack_to(1.5, 0.0, math.inf)
    assert ctl.output(1.6).distance_m == pytest.approx(1000.0)  # max_distance_m


@pytest.mark.parametrize(("t_s", "rack_s"), [(math.nan, 1.0), (1.0, math.nan), (1.0, math.inf)])
def test_a_cue_with_a_non_finite_time_is_refused(t_s, rack_s):
    with pytest.raises(GuangyingError, match="finite"):
        MarkPlan({"A": 2.0}, [Cue(0.5, "A"), Cue(t_s, "A", rack_s)])


def test_focus_command_refuses_a_nan_rack_time_instead_of_losing_frames(tmp_path):
    log = tmp_path / "l.csv"
    t = np.arange(0, 3, 0.01)
    log.write_text("t_s,distance_m,strength\n" + "".join(f"{a:.2f},{3 - 0.3 * a:.4f},800\n" for a in t))
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 2.0, B: 3.0}\ncues: [{t_s: 0.5, mark: A}, {t_s: 1.5, mark: B, rack_s: nan}]")
    out = tmp_path / "track.csv"
    res = CliRunner().invoke(cli, [
        "focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "50", "--f-number", "2",
        "--sensor", "ff", "--marks", str(marks), "-o", str(out),
    ])  # fmt: skip
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit), res.output
    assert "rack_s=nan" in res.output
    assert "mark distances" not in res.output  # the cue was wrong, not the distances (said before)
    assert not out.exists()


def test_marks_at_the_top_level_are_told_where_they_go(tmp_path):
    # `--help` read "marks {A: 2.0, …} and cues […]": a file written so was refused without the shape
    marks = tmp_path / "marks.yaml"
    marks.write_text("A: 2.0\nB: 3.0\ncues: [{t_s: 0.5, mark: A}]\n")
    from guangying.distance.marks import load_marks

    with pytest.raises(GuangyingError, match=r"under 'marks:' and the cues under 'cues:', e\.g\. \{marks:"):
        load_marks(marks)


def test_a_log_of_dropouts_only_says_why_no_frame_has_focus(tmp_path):
    log = tmp_path / "sky.csv"  # the sensor pointed at the sky: every return too weak
    log.write_text("t_s,distance_m,strength\n" + "".join(f"{k / 100:.2f},0.0,0\n" for k in range(100)))
    out = tmp_path / "track.csv"
    res = CliRunner().invoke(cli, [
        "focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "50", "--f-number", "2",
        "--sensor", "ff", "-o", str(out),
    ])  # fmt: skip
    # a track without focus, which composite refuses, ended exit 0 as if the log were good
    assert res.exit_code == 1, res.output
    assert "no frame has a focus distance" in res.output and "no reading of" in res.output
    assert "sky.csv was usable" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [("--rate", "0", "--rate"), ("--rate", "nan", "rate_hz=nan"), ("--baud", "-5", "--baud"),
     ("--sensor-timeout", "nan", "timeout_s=nan"), ("--sensor-timeout", "-1", "--sensor-timeout")],
)
def test_focus_live_refuses_nonsense_timing_before_it_starts(flag, value, said):
    # --rate 0 and --baud -5 were bugs (exit 70) once the port and socket were open; --rate nan and
    # --sensor-timeout nan ran (a dead sensor never said); -1 s blamed the wiring
    res = CliRunner().invoke(cli, ["focus-live", "--port", "/dev/no-such-port", "--focal-length", "50",
                                   "--f-number", "2", "--sensor", "ff", flag, value])  # fmt: skip
    assert res.exit_code in (1, 2) and said in res.output, res.output
    assert "bug" not in res.output and "cannot open LiDAR serial port" not in res.output


def test_a_reading_no_rangefinder_gives_is_left_out_as_a_dropout(tmp_path):
    """1e308 m in a log (a logger's garbage) made a track of 1000 m, only warned about."""
    rows = "".join(f"{k / 100:.2f},{1e308 if k % 10 == 3 else 3.0},800\n" for k in range(200))
    log = tmp_path / "glitch.csv"
    log.write_text("t_s,distance_m,strength\n" + rows)
    out = tmp_path / "track.csv"
    with pytest.warns(UserWarning, match=r"20 of 200 readings \(10 %\) are not usable \(.*past 10 km"):
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length",
                                       "50", "--f-number", "2", "--sensor", "ff", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with open(out) as fh:
        focus = [float(r["focus_distance_m"]) for r in csv.DictReader(fh) if r["focus_distance_m"]]
    assert focus and max(focus) == pytest.approx(3.0, abs=0.05)


def test_focus_live_says_it_runs_only_once_its_port_is_open():
    # the banner "focus-live: /dev/x → FreeD … (Ctrl-C to stop)" came before the port failed to open
    res = CliRunner().invoke(cli, ["focus-live", "--port", "/dev/no-such-port", "--focal-length", "50",
                                   "--f-number", "2", "--sensor", "ff"])  # fmt: skip
    assert res.exit_code == 1 and "cannot open LiDAR serial port /dev/no-such-port" in res.output
    assert "Ctrl-C to stop" not in res.output, res.output
