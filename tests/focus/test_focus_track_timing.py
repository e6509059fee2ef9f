"""A focus track says where the lens *is* during each frame (issue 9): checked on a walk whose truth
is known, through the real command and files."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.lens.optics import dof_half_width_diopters

SPEED_MPS = 1.0  # walking towards the camera from 5 m, constant speed


def truth_m(t):
    return 5.0 - SPEED_MPS * np.asarray(t)


def _walk_log(path, sensor_latency_s=0.0, seed=5):
    """100 Hz readings of the walk, each stamped ``sensor_latency_s`` after the moment it measured,
    with 4 mm Laplace noise (not the filter's Gaussian) and 0.1 ms stamp jitter."""
    rng = np.random.default_rng(seed)
    t = np.round(np.arange(0.0, 3.0, 0.01) + rng.uniform(0, 2e-4, 300), 4)
    d = truth_m(t - sensor_latency_s) + rng.laplace(0, 0.004, t.size)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "distance_m", "strength"])
        w.writerows([f"{a:.4f}", f"{b:.4f}", 900] for a, b in zip(t, d, strict=True))


def _track(tmp_path, log, *extra):
    out = tmp_path / "track.csv"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "135",
                                   "--f-number", "2", "--sensor", "s35", "-o", str(out), *extra])
    assert res.exit_code == 0, res.output
    rows = [r for r in csv.DictReader(out.open()) if r["focus_distance_m"]]
    t = np.array([float(r["t_s"]) for r in rows])
    return t, np.array([float(r["focus_distance_m"]) for r in rows]), np.array(
        [float(r["command_t_s"]) for r in rows])


@pytest.mark.parametrize("sensor_latency_s", [0.0, 0.01])
def test_lens_state_row_matches_truth_at_its_frame_not_one_latency_later(tmp_path, sensor_latency_s):
    log = tmp_path / "walk.csv"
    _walk_log(log, sensor_latency_s)
    extra = ["--latency", "0.04", "--sensor-latency", str(sensor_latency_s)]
    t, focus_m, command_t = _track(tmp_path, log, *extra)
    hw = dof_half_width_diopters(135, 2.0, 0.025)
    sel = (t > 0.8) & (truth_m(t) < 3.5)  # filter settled; within 3.5 m a 4 cm shift leaves the DoF
    assert sel.sum() > 20
    err_now = np.abs(1 / focus_m[sel] - 1 / truth_m(t[sel])) / hw
    err_late = np.abs(1 / focus_m[sel] - 1 / truth_m(t[sel] + 0.04)) / hw
    assert np.mean(err_now <= 1.0) >= 0.95  # the row is where the subject is at its frame …
    assert np.mean(err_late > 1.0) >= 0.8  # … not where it will be one latency later
    assert np.mean(err_now) < 0.5 * np.mean(err_late)
    # the command that set the lens was sent one motor delay earlier
    assert np.allclose(t - command_t, 0.04 - sensor_latency_s, atol=1e-6)


def test_frames_before_any_command_are_empty(tmp_path):
    log = tmp_path / "walk.csv"
    _walk_log(log)
    out = tmp_path / "t.csv"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "100", "--focal-length", "50",
                                   "--f-number", "2", "--coc", "0.03", "--latency", "0.05", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    # frame k at t0 + k/100 s uses readings up to t − 0.05: frames 0–4 have none yet (frame 5's send
    # time is the first reading's time, give or take rounding)
    assert [bool(r["focus_distance_m"]) for r in rows[:5]] == [False] * 5
    assert all(r["focus_distance_m"] for r in rows[6:])
