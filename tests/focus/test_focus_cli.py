"""``guangying focus`` and ``guangying focus-live`` end to end: real files, a pty sensor, UDP FreeD."""

import contextlib
import csv
import datetime
import json
import os
import socket
import threading
import time
import tty
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.distance.tfluna import encode_frame
from guangying.focus.controller import ControllerConfig, steady_walk
from guangying.focus.replay import replay
from guangying.focus.track_io import SensorLogError, read_sensor_log
from guangying.lens.freed import decode_d1


def _write_log(path, t, d, strength):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "distance_m", "strength"])
        for row in zip(t, d, strength, strict=True):
            w.writerow([f"{row[0]:.3f}", f"{row[1]:.2f}", int(row[2])])


@pytest.fixture
def log_path(tmp_path):
    rng = np.random.default_rng(3)
    t = np.arange(0, 3.0, 0.01)
    d = np.where(t < 1.5, 3.0, 2.0) + rng.normal(0, 0.01, t.size)
    strength = np.full(t.size, 800)
    strength[50:60] = 20  # weak returns: must be ignored
    d[50:60] = 0.0
    p = tmp_path / "lidar.csv"
    _write_log(p, t, d, strength)
    return p


@pytest.mark.parametrize("focal_length", ["135", "85.5"])
def test_a_calibration_of_another_lens_is_said(tmp_path, log_path, focal_length):
    # after a lens swap the 85's motor map drove the 135 without a word
    cal = tmp_path / "cp3_85.yaml"
    cal.write_text("lens: Zeiss CP.3 85 mm\nfocal_length_mm: 85\n"
                   "points:\n - [0.5, 4000]\n - [1.0, 3000]\n - [3.0, 1200]\n - [inf, 100]\n")
    args = ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", focal_length,
            "--f-number", "2", "--sensor", "ff", "-o", str(tmp_path / "t.csv"), "--calibration", str(cal)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    said = [str(w.message) for w in caught if "is for a 85 mm lens (Zeiss CP.3 85 mm)" in str(w.message)]
    assert len(said) == (1 if focal_length == "135" else 0), said  # 85.5: within 2 %, a lens's own spec
    if said:
        assert "--focal-length is 135 mm" in said[0]


def test_focus_cli_csv_and_json(tmp_path, log_path):
    cal = tmp_path / "lens.yaml"
    cal.write_text("points:\n - [0.5, 4000]\n - [1.0, 3000]\n - [3.0, 1200]\n - [inf, 100]\n")
    runner = CliRunner()
    out = tmp_path / "track.csv"
    res = runner.invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", "85",
                              "--f-number", "2", "--sensor", "ff", "-o", str(out), "--calibration", str(cal)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 75
    assert {"frame", "t_s", "focus_distance_m", "motor_position", "timecode"} <= set(rows[0])
    assert float(rows[10]["focus_distance_m"]) == pytest.approx(3.0, abs=0.02)
    assert float(rows[10]["motor_position"]) == pytest.approx(1200, abs=20)
    assert float(rows[-1]["focus_distance_m"]) == pytest.approx(2.0, abs=0.02)
    # no look-ahead: the frame just before the change still focuses on the first subject
    t_change = next(r for r in rows if float(r["t_s"]) >= 1.49)
    assert float(t_change["focus_distance_m"]) == pytest.approx(3.0, abs=0.02)
    js = tmp_path / "track.json"
    res = runner.invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "24", "--focal-length", "135",
                              "--f-number", "2", "--coc", "0.025", "-o", str(js)])
    assert res.exit_code == 0, res.output
    frames = json.loads(js.read_text())["frames"]
    assert frames[0]["frame"] == 0 and frames[24]["timecode"] == "00:00:01:00"
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_focus_track_carries_the_cameras_timecode(tmp_path, log_path):
    # the timecode column always began at 00:00:00:00 and counted non-drop at 29.97, where the camera
    # originals it is conformed against run drop-frame from their own start
    out = tmp_path / "track.csv"
    args = ["focus", "--sensor-log", str(log_path), "--focal-length", "85", "--f-number", "2", "--sensor",
            "ff", "-o", str(out)]
    res = CliRunner().invoke(cli, [*args, "--fps", "30000/1001", "--start-timecode", "00:00:59;28"])
    assert res.exit_code == 0, res.output
    codes = [row["timecode"] for row in csv.DictReader(out.open())]
    assert codes[:4] == ["00:00:59;28", "00:00:59;29", "00:01:00;02", "00:01:00;03"]
    res = CliRunner().invoke(cli, [*args, "--fps", "25", "--start-timecode", "10:00:00:24"])
    assert [row["timecode"] for row in csv.DictReader(out.open())][:2] == ["10:00:00:24", "10:00:01:00"]
    res = CliRunner().invoke(cli, [*args, "--fps", "25", "--start-timecode", "10:00:00:25"])
    assert res.exit_code != 0 and "not a timecode at 25 fps" in res.output


def test_focus_cli_sends_freed(tmp_path, log_path):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    port = rx.getsockname()[1]
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length",
                                   "50", "--f-number", "2.8", "--coc", "0.03", "-o", str(tmp_path / "t.csv"),
                                   "--freed", f"127.0.0.1:{port}"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    with_focus = [r for r in rows if r["focus_distance_m"]]
    assert len(with_focus) == 74  # frame 0's command would have been sent before the first reading
    packets = [decode_d1(rx.recvfrom(64)[0]) for _ in with_focus]
    rx.close()
    assert packets[10].focus == pytest.approx(3000, abs=20)  # distance in mm without a calibration
    # the packets carry the same values as the track rows (sent at command_t_s)
    assert packets[-1].focus == round(float(with_focus[-1]["focus_distance_m"]) * 1000)


def test_focus_cli_bad_log_is_named(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("t,dist\n0,1\n")
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(bad), "--fps", "25", "--focal-length", "50",
                                   "--f-number", "2", "--coc", "0.03", "-o", str(tmp_path / "t.csv")])
    assert res.exit_code != 0 and "bad.csv" in res.output and "t_s" in res.output
    assert not (tmp_path / "t.csv").exists()


def test_sensor_log_rules(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("t_s,distance_m,strength\n0.0,2.0,500\n0.01,2.0,65535\n0.005,2.0,500\n")
    with pytest.raises(SensorLogError, match="line 4"):
        read_sensor_log(p)
    p.write_text("t_s,distance_m,strength\n0.0,2.0,500\n0.01,2.0,65535\n")
    r = read_sensor_log(p)
    assert r[0].valid and not r[1].valid
    p.write_text("t_s,distance_m,strength\n0.0,2.0,500\n0.01,2_0,500\n")  # float() reads 2_0 as 20
    with pytest.raises(SensorLogError, match=r"line 3: distance_m '2_0' is not a number"):
        read_sensor_log(p)
    p.write_text("t_s,distance_m,distance_cm,strength\n0.0,2.0,250,500\n")  # distance_m was used, unsaid
    with pytest.raises(SensorLogError, match=r"has distance_m and distance_cm, two columns of one quantity"):
        read_sensor_log(p)


@contextlib.contextmanager
def _lidar_and_freed_receiver(distance_cm: int) -> Iterator[tuple[list[str], socket.socket]]:
    """A TF-Luna frame stream at 100 Hz on a pseudo-terminal (the subject at ``distance_cm``) and a UDP
    socket for the FreeD it leads to: the focus-live arguments that join them, and the socket."""
    master, slave = os.openpty()
    tty.setraw(slave)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    stop = threading.Event()

    def sensor() -> None:
        while not stop.is_set():
            os.write(master, encode_frame(distance_cm, 1200))
            time.sleep(0.01)

    th = threading.Thread(target=sensor, daemon=True)
    th.start()
    try:
        yield ["focus-live", "--port", os.ttyname(slave), "--freed", f"127.0.0.1:{rx.getsockname()[1]}",
               "--focal-length", "85", "--f-number", "1.4", "--sensor", "ff", "--rate", "50"], rx
    finally:
        stop.set()
        th.join(1.0)
        rx.close()
        os.close(master)
        os.close(slave)


def test_focus_live_through_pty_and_udp():
    with _lidar_and_freed_receiver(250) as (args, rx):  # a subject at 2.50 m
        res = CliRunner().invoke(cli, [*args, "--duration", "0.6"])
        got = [decode_d1(rx.recvfrom(64)[0]) for _ in range(10)]
    assert res.exit_code == 0, res.output
    assert "FreeD packets" in res.output
    assert all(p.focus == 2500 for p in got)


def test_focus_live_logs_its_readings_on_the_time_of_day_for_post_to_replay(tmp_path):
    # focus-live kept no record: post could not know where the lens had been. Its log's clock is the
    # time of day, which a camera's time-of-day timecode names.
    log = tmp_path / "day1" / "lidar.csv"
    log.parent.mkdir()
    with _lidar_and_freed_receiver(250) as (args, _):
        before = datetime.datetime.now()
        res = CliRunner().invoke(cli, [*args, "--duration", "1.5", "--log", str(log)])
        after = datetime.datetime.now()
    assert res.exit_code == 0, res.output
    assert f"readings logged to {log}" in res.output
    assert [p.name for p in log.parent.iterdir()] == ["lidar.csv"]  # no partial file left
    readings = read_sensor_log(log)
    assert len(readings) > 50 and all(r.distance_m == pytest.approx(2.5) for r in readings)
    of_day = [(t - t.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
              for t in (before, after)]
    assert of_day[0] - 0.1 < readings[0].t_s < readings[-1].t_s < of_day[1] + 0.1  # midnight: rerun
    # the camera's time-of-day timecode of a frame within the log
    t = readings[len(readings) // 2].t_s
    timecode = f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d}:{int(t % 1 * 25):02d}"
    track = tmp_path / "track.csv"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "25", "--start", timecode,
                                   "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
                                   "-o", str(track)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(track.open()))
    assert rows[0]["timecode"] == timecode and float(rows[0]["t_s"]) == pytest.approx(t, abs=0.04)
    assert len(rows) == pytest.approx((readings[-1].t_s - t) * 25, abs=2)
    assert all(float(r["focus_distance_m"]) == pytest.approx(2.5, abs=0.01) for r in rows)
    # a second take with the same --log keeps the first one's (it was replaced without a word)
    with _lidar_and_freed_receiver(300) as (args, _):
        res = CliRunner().invoke(cli, [*args, "--duration", "0.5", "--log", str(log)])
    assert res.exit_code == 0 and "holds an earlier take's readings: this run logs to" in res.output
    assert read_sensor_log(log) == readings and read_sensor_log(log.with_name("lidar-2.csv"))
    # seconds given for a time-of-day log (or a clip past midnight): a track of millions of frames
    # without focus, exit 0 (over an hour before the log's first reading, whatever the time of day the
    # test runs at: "10" passed just after midnight)
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), "--fps", "25",
                                   f"--start={readings[0].t_s - 3700:.3f}",
                                   "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
                                   "-o", str(tmp_path / "far.csv")])
    assert res.exit_code != 0 and "h before the log's first reading" in res.output, res.output
    assert not (tmp_path / "far.csv").exists()


@pytest.mark.parametrize(("start", "said"), [("00:61:00:00", "not a timecode"),
                                              ("00:00:00:25", "frames 0–24"),
                                              ("soon", "neither seconds"), ("nan", "neither seconds")])
def test_a_start_that_is_no_time_is_refused(tmp_path, log_path, start, said):
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25", "--start", start,
                                   "--focal-length", "85", "--f-number", "2", "--coc", "0.03",
                                   "-o", str(tmp_path / "t.csv")])
    assert res.exit_code != 0 and said in res.output and not (tmp_path / "t.csv").exists(), res.output


def test_a_focus_live_that_never_heard_its_lidar_leaves_no_log(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        res = CliRunner().invoke(cli, ["focus-live", "--port", os.ttyname(slave), "--focal-length", "85",
                                       "--f-number", "2", "--coc", "0.03", "--sensor-timeout", "0.3",
                                       "--log", str(tmp_path / "lidar.csv")])
    finally:
        os.close(master)
        os.close(slave)
    assert res.exit_code != 0 and "no valid TF LiDAR frame" in res.output
    assert list(tmp_path.iterdir()) == []


def test_focus_is_measured_from_the_focal_plane_with_the_lidars_offset(tmp_path):
    """A LiDAR on the matte box reads from its face, 15 cm ahead of the focal plane that focus scales,
    witness marks and a lens calibration measure from: nothing took that up, and every frame of a
    135 mm f/2 at 2 m was focused fifteen half-depths of field in front of the subject."""
    rng = np.random.default_rng(5)
    t = np.arange(0, 3.0, 0.01)
    subject_m = 2.0 + 0.0 * t  # from the focal plane
    log = tmp_path / "lidar.csv"
    _write_log(log, t, subject_m - 0.15 + rng.normal(0, 0.005, t.size), np.full(t.size, 900))
    weak = tmp_path / "weak.csv"  # no return: a 0 m reading must stay unusable, not become 0.15 m
    _write_log(weak, t, np.zeros(t.size), np.full(t.size, 900))
    lens = ["--fps", "25", "--focal-length", "135", "--f-number", "2", "--sensor", "s35"]
    focus_m = {}
    for offset in ("0", "0.15"):
        out = tmp_path / f"track{offset}.csv"
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *lens, "--lidar-offset", offset,
                                       "-o", str(out)])
        assert res.exit_code == 0, res.output
        rows = list(csv.DictReader(out.open()))[25:]  # from 1 s on
        focus_m[offset] = np.array([float(r["focus_distance_m"]) for r in rows])
    assert np.all(np.abs(focus_m["0.15"] - 2.0) < 0.01)  # half the depth of field there is 1.1 cm
    assert np.all(np.abs(focus_m["0"] - 1.85) < 0.01)
    for bad in ("9", "nan", "15cm"):  # past 5 m from the focal plane, or no number of metres
        out = tmp_path / "bad.csv"
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *lens, "--lidar-offset", bad,
                                       "-o", str(out)])
        said = ("Invalid value for '--lidar-offset'", "sensor_offset_m=nan: must be in [-5, 5] m")
        assert res.exit_code != 0 and any(s in res.output for s in said), res.output
        assert not out.exists()
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(weak), *lens, "--lidar-offset", "0.15",
                                   "-o", str(tmp_path / "weak_track.csv")])
    assert res.exit_code != 0 and "no frame has a focus distance" in res.output, res.output
    # live: the same controller setting, through focus-live's pty and FreeD
    with _lidar_and_freed_receiver(235) as (args, rx):
        res = CliRunner().invoke(cli, [*args, "--lidar-offset", "0.15", "--duration", "0.6"])
        got = [decode_d1(rx.recvfrom(64)[0]) for _ in range(10)]
    assert res.exit_code == 0, res.output
    assert all(p.focus == 2500 for p in got), [p.focus for p in got]


def test_focus_live_reads_a_far_sensor_within_the_range_it_is_given():
    # A TF02/TF03 seeing a subject at 12 m: the TF-Luna's fixed 8 m dropped every reading, and the
    # warning blamed the spot's strength
    with _lidar_and_freed_receiver(1200) as (args, rx):
        with pytest.warns(UserWarning, match=r"reads past the range it is given \(--lidar-range"):
            short = CliRunner().invoke(cli, [*args, "--duration", "1.3"])
        far = CliRunner().invoke(cli, [*args, "--duration", "0.6", "--lidar-range", "40"])
        got = [decode_d1(rx.recvfrom(64)[0]) for _ in range(10)]
    assert short.exit_code == 1 and "(0 used)" in short.output
    assert far.exit_code == 0, far.output
    assert "→ FreeD 127.0.0.1:" in far.output and "(Ctrl-C to stop)" in far.output  # once the port opened
    assert all(p.focus == 12000 for p in got)


def test_focus_live_silent_sensor_errors_cleanly():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        res = CliRunner().invoke(cli, ["focus-live", "--port", os.ttyname(slave), "--focal-length", "85",
                                       "--f-number", "2", "--coc", "0.03", "--sensor-timeout", "0.3"])
    finally:
        os.close(master)
        os.close(slave)
    assert res.exit_code != 0 and "no valid TF LiDAR frame" in res.output


def test_focus_cli_marks_rack_and_return(tmp_path, log_path):
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 1.5}\ncues:\n - {t_s: 0.5, mark: A, rack_s: 0.4}\n"
                     " - {t_s: 2.0, mark: track, rack_s: 0.4}\n")
    out = tmp_path / "track.csv"
    args = ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", "85", "--f-number", "2",
            "--coc", "0.03", "--latency", "0", "--marks", str(marks), "-o", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    rows = {int(r["frame"]): r for r in csv.DictReader(out.open())}
    assert float(rows[10]["focus_distance_m"]) == pytest.approx(3.0, abs=0.02)  # before the cue: sensor
    assert float(rows[30]["focus_distance_m"]) == pytest.approx(1.5, abs=1e-3)  # holding mark A
    assert rows[30]["subject"] == "mark:A"
    assert float(rows[74]["focus_distance_m"]) == pytest.approx(2.0, abs=0.02)  # back on the sensor


def test_a_mark_at_infinity_racks_to_the_far_end_of_the_focus_range(tmp_path, log_path):
    """An infinity mark, common on a focus chart, was refused ("must be a positive number of metres, got
    inf"), though a lens calibration takes `distance_m: inf`."""
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {B: inf}\ncues:\n - {t_s: 0.5, mark: B, rack_s: 0.2}\n")
    out = tmp_path / "track.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing said: infinity is no unit slip, nor outside the range
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25",
                                       "--focal-length", "85", "--f-number", "2", "--coc", "0.03",
                                       "--marks", str(marks), "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert float(rows[-1]["focus_distance_m"]) == 1000.0 and rows[-1]["subject"] == "mark:B"


def test_a_cue_past_the_end_of_the_log_is_said(tmp_path, log_path):
    """A cue at 30 s (a typo for 3.0) on a shorter log: a take with no pull, and no word."""
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 1.5}\ncues:\n - {t_s: 0.5, mark: A}\n - {t_s: 30, mark: A}\n")
    args = ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", "85", "--f-number", "2",
            "--coc", "0.03", "--marks", str(marks), "-o", str(tmp_path / "track.csv")]
    said = r"1 cue\(s\) fall after the track's last frame \([\d.]+ s\) and were not pulled: 30 s \(A\)"
    with pytest.warns(UserWarning, match=said):
        res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output


def test_marks_in_another_unit_are_refused_and_marks_past_the_focus_range_said(tmp_path, log_path):
    # A: 3000 (millimetres) focused at the controller's 1000 m limit, B: 0.15 at its 0.2 m, exit 0
    args = ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", "135", "--f-number", "2",
            "--sensor", "s35", "-o", str(tmp_path / "track.csv")]
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 3000, B: 1.5}\ncues:\n - {t_s: 0, mark: A}\n")
    res = CliRunner().invoke(cli, [*args, "--marks", str(marks)])
    assert res.exit_code != 0 and "mark A: 3000 m is beyond any tape" in res.output, res.output
    assert not (tmp_path / "track.csv").exists()
    marks.write_text("marks: {A: 2, B: 0.15}\ncues:\n - {t_s: 0, mark: A}\n - {t_s: 1, mark: B}\n")
    with pytest.warns(UserWarning, match=r"mark B at 0.15 m is outside the focus range \(0.2–1000 m\): "
                                         r"focus goes to 0.2 m"):
        res = CliRunner().invoke(cli, [*args, "--marks", str(marks)])
    assert res.exit_code == 0, res.output


def test_a_first_cue_to_the_subject_starts_on_the_subject_not_at_infinity(tmp_path, log_path):
    # with nothing yet to rack from, the take racked in from 1000 m over half a second
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 1.5}\ncues:\n - {t_s: 0, mark: track, rack_s: 0.5}\n")
    rows = {}
    for name, extra in (("cued", ["--marks", str(marks)]), ("plain", [])):
        out = tmp_path / f"{name}.csv"
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25",
                                       "--focal-length", "85", "--f-number", "2", "--coc", "0.03", *extra,
                                       "-o", str(out)])
        assert res.exit_code == 0, res.output
        rows[name] = [r["focus_distance_m"] for r in csv.DictReader(out.open())]
    assert rows["cued"] == rows["plain"]
    assert float(rows["cued"][2]) == pytest.approx(3.0, abs=0.02)


def test_focus_cli_steady_walk_flag_uses_the_steady_walk_settings(tmp_path):
    rng = np.random.default_rng(5)
    t = np.arange(0, 3.0, 0.01)
    d = 4.0 - 0.9 * np.clip(t - 0.5, 0, None) + 0.01 * np.sin(2 * np.pi * 2 * t) + rng.normal(0, 0.01, t.size)
    log = tmp_path / "walk.csv"
    _write_log(log, t, d, np.full(t.size, 800))
    tracks = {}
    for flag in ([], ["--steady-walk"]):
        out = tmp_path / f"track{len(flag)}.csv"
        args = ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "135", "--f-number", "2",
                "--coc", "0.025", "-o", str(out), *flag]
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        rows = csv.DictReader(out.open())  # focus_distance_m is "" before the first reading
        tracks[len(flag)] = np.array([float(r["focus_distance_m"] or "nan") for r in rows])
    cfg = ControllerConfig(135, 2.0, 0.025, latency_s=0.04, sensor_latency_s=0.0)
    library = [r.focus_distance_m for r in replay(read_sensor_log(log), 25.0, steady_walk(cfg))]
    np.testing.assert_allclose(tracks[1], library, atol=1e-6)
    assert np.nanmax(np.abs(tracks[1] - tracks[0])) > 0.005  # the flag changes the track


@pytest.mark.parametrize(("calibrated", "held_focus", "back_focus"), [(False, 2500, 3100), (True, 0, 600)])
def test_focus_live_holds_through_an_unplugged_lidar_and_follows_it_again(tmp_path, pty_lidar, calibrated,
                                                                          held_focus, back_focus):
    """The LiDAR's USB cable pulled during focus-live and plugged back. Before, focus-live stopped with
    the port's error: the focus puller had to notice and start it again. Now it says so, keeps sending
    FreeD at the held focus (a receiver that stops hearing takes the camera for gone), and follows the
    sensor again once its port (named by id, a link re-made when it is back) opens. Held at a motor
    position of 0 (a calibration's near end), FreeD stopped for the whole unplug. A focus motor was
    sent nothing while FreeD went on (coasting on the subject's last motion, then holding): the lens
    and the renderer's focus apart until the replug."""
    calibration = []
    motor_lines: list[tuple[float, int]] = []
    if calibrated:
        cal = tmp_path / "cal.yaml"
        cal.write_text("points:\n - [2.5, 0]\n - [3.1, 600]\n - [5, 3000]\n - [inf, 4095]\n")
        motor_master, motor_slave = os.openpty()
        tty.setraw(motor_master)
        calibration = ["--calibration", str(cal), "--motor-port", os.ttyname(motor_slave)]

        def read_motor() -> None:
            pending = b""
            while True:
                try:
                    pending += os.read(motor_master, 256)
                except OSError:
                    return
                *lines, pending = pending.split(b"\n")
                motor_lines.extend((time.monotonic(), int(line[1:])) for line in lines)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(3.0)
    link = tmp_path / "usb-Benewake_TF-Luna-if00-port0"
    sensor = pty_lidar(250)
    link.symlink_to(sensor.name)
    received: list[tuple[float, int]] = []

    def listen() -> None:
        while True:
            try:
                data = rx.recvfrom(64)[0]
            except TimeoutError:  # nothing yet: a first run compiles the filter for a minute
                continue
            except OSError:  # closed
                return
            received.append((time.monotonic(), decode_d1(data).focus))

    unplugged: list[float] = []  # when the cable was pulled, and when the sensor was back

    def replug() -> None:  # the take at 2.5 m until focus has settled there, 1.5 s unplugged, then 3.1 m
        deadline = time.monotonic() + 300  # the take starts once the filter is compiled (loaded machines)
        # timed from the focus sent, not from the clock: on a loaded machine the filter settles later
        while time.monotonic() < deadline and not (
                len(received) > 20 and {f for _, f in received[-10:]} == {held_focus}):
            time.sleep(0.01)
        sensor.unplug()
        unplugged.append(time.monotonic())
        time.sleep(1.5)
        unplugged.append(time.monotonic())
        back = pty_lidar(310)
        new = tmp_path / "new-link"
        new.symlink_to(back.name)
        new.replace(link)

    threads = [threading.Thread(target=f, daemon=True) for f in (listen, replug)]
    if calibrated:
        threads.append(threading.Thread(target=read_motor, daemon=True))
    for th in threads:
        th.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = CliRunner().invoke(cli, ["focus-live", "--port", str(link), "--freed",
                                           f"127.0.0.1:{rx.getsockname()[1]}", "--focal-length", "85",
                                           "--f-number", "2", "--sensor", "ff", "--duration", "6",
                                           "--rate", "50", "--sensor-timeout", "0.5", *calibration])
    finally:
        threads[1].join(5)
        time.sleep(0.2)
        rx.close()
        if calibrated:
            os.close(motor_slave)
            os.close(motor_master)
    assert res.exit_code == 0, res.output
    # a first run's compile was minutes without a word
    assert res.output.index("starting: preparing the focus filter") < res.output.index("Ctrl-C to stop")
    said = " ".join(str(w.message) for w in caught)
    assert "went away" in said and "is back" in said
    gone_s, back_s = unplugged
    while_gone = [f for t, f in received if gone_s < t < back_s]
    assert len(while_gone) > 30 and set(while_gone) == {held_focus}, received  # held, and still sent
    if calibrated:  # the motor told what FreeD says, through the unplug
        motor_while_gone = [f for t, f in motor_lines if gone_s < t < back_s]
        assert len(motor_while_gone) > 30 and set(motor_while_gone) == {held_focus}, motor_lines[:80]
    assert abs(received[-1][1] - back_focus) <= 31  # following the sensor again (the filter settling in)
    # not snapped to it and one packet past (the output's move limit took the unplug for one tick)
    assert max(f for t, f in received if t > back_s) <= back_focus + 5, received[-60:]


def test_focus_live_waits_for_a_lidar_unplugged_while_it_prepares(tmp_path, pty_lidar):
    """The cable pulled during the filter's compile (minutes on a first run): focus-live ended with the
    port's error once it had compiled. Now it says so and waits for the sensor, as during the take."""
    from guangying.focus.live import run_lidar_live

    link = tmp_path / "usb-Benewake_TF-Luna-if00-port0"
    first = pty_lidar(250)
    link.symlink_to(first.name)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)

    def plug_back() -> None:
        time.sleep(1.0)
        back = pty_lidar(310)
        new = tmp_path / "new-link"
        new.symlink_to(back.name)
        new.replace(link)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = run_lidar_live(str(link), ControllerConfig(85, 2.0, 0.03), f"127.0.0.1:{rx.getsockname()[1]}",
                               duration_s=4.0, on_preparing=lambda: (first.unplug(), threading.Thread(
                                   target=plug_back, daemon=True).start()))
    said = " ".join(str(w.message) for w in caught)
    assert "went away" in said and "is back" in said, said
    assert stats.readings > 20
    focus = []
    with contextlib.suppress(OSError):
        while True:
            focus.append(decode_d1(rx.recvfrom(64)[0]).focus)
    rx.close()
    assert focus and abs(focus[-1] - 3100) <= 31  # following the sensor plugged back


def test_focus_live_says_when_the_lidar_sees_nothing_it_can_measure(pty_lidar):
    """Readings arrive but none is usable (a spot on black velvet, strength under 100): focus-live ran
    to its end without a word, and FreeD went silent; the operator learned it from the final count."""
    sensor = pty_lidar(250, strength=40)

    def aim_better() -> None:  # once told (a first start compiles the filter for a minute first)
        deadline = time.monotonic() + 120
        while not any("has been used" in str(w.message) for w in caught) and time.monotonic() < deadline:
            time.sleep(0.05)
        sensor.strength = 900

    thread = threading.Thread(target=aim_better, daemon=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread.start()
        res = CliRunner().invoke(cli, ["focus-live", "--port", sensor.name, "--freed", "127.0.0.1:9",
                                       "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
                                       "--duration", "3.5"])  # fmt: skip
    thread.join()
    assert res.exit_code == 0, res.output
    said = [str(w.message) for w in caught]
    unusable = [m for m in said if "no reading of the LiDAR has been used for 1 s" in m]
    assert len(unusable) == 1, (said, res.output)
    # said each time it happens, as "used again" is (a flapping sensor: the loss was shown once)
    from guangying.base.events import RecurringWarning

    assert all(issubclass(w.category, RecurringWarning) for w in caught if "has been used" in str(w.message))
    # what the sensor sent, where it said "the last: nan m, confidence 0"
    assert "(the last: 2.5 m at strength 40)" in unusable[0] and "strength under 100" in unusable[0]
    assert any("used again" in m for m in said), said


def test_focus_live_fails_when_no_reading_was_ever_used(pty_lidar):
    """A whole run on black velvet: focus never moved, and focus-live exited 0 as after a good take."""
    sensor = pty_lidar(250, strength=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(cli, ["focus-live", "--port", sensor.name, "--freed", "127.0.0.1:9",
                                       "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
                                       "--duration", "1.5"])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "(0 used)" in res.output and "no reading of the LiDAR was used" in res.output


def _freed_arrivals() -> tuple[socket.socket, list[float], threading.Thread]:
    """A FreeD receiver on 127.0.0.1 noting each packet's arrival time, listening until it is closed."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(3.0)
    arrivals: list[float] = []

    def listen() -> None:
        while True:
            try:
                rx.recvfrom(64)
            except OSError:
                return
            arrivals.append(time.monotonic())

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    return rx, arrivals, thread


def test_focus_live_sends_at_its_rate_between_a_slow_sensors_readings(pty_lidar):
    """A sensor at 5 Hz (a long-range LiDAR, a slow depth camera): FreeD went out only with each reading,
    at 5 Hz, though --rate said 50, and a receiver expecting the camera's rate took it for dropouts."""
    sensor = pty_lidar(250, period_s=0.2)
    rx, arrivals, thread = _freed_arrivals()
    try:
        lens = ["--focal-length", "85", "--f-number", "2", "--sensor", "ff", "--duration", "3"]
        res = CliRunner().invoke(cli, ["focus-live", "--port", sensor.name, "--freed",
                                       f"127.0.0.1:{rx.getsockname()[1]}", *lens, "--rate", "50"])
    finally:
        time.sleep(0.6)
        rx.close()
        thread.join(2)
    assert res.exit_code == 0, res.output
    steps = np.diff(arrivals[5:])
    assert len(arrivals) > 100, (len(arrivals), res.output)  # 50 Hz once the first reading came
    assert np.median(steps) == pytest.approx(0.02, abs=0.005)


def test_focus_live_holds_through_a_silent_lidar_mid_take(pty_lidar):
    # 1 s without a valid frame after the take had begun ended focus-live (exit 1, FreeD stopped, and
    # "check the wiring"); an unplugged cable was already held through
    sensor = pty_lidar(250)
    rx, received, listener = _freed_arrivals()

    def fall_silent() -> None:  # 1 s into the take (after the controller has compiled), for 1.5 s
        deadline = time.monotonic() + 120
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)
        sensor.silent.set()
        time.sleep(1.5)
        sensor.silent.clear()

    threads = [listener, threading.Thread(target=fall_silent, daemon=True)]
    threads[1].start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = CliRunner().invoke(cli, ["focus-live", "--port", sensor.name, "--freed",
                                           f"127.0.0.1:{rx.getsockname()[1]}", "--focal-length", "85",
                                           "--f-number", "2", "--sensor", "ff", "--duration", "6",
                                           "--sensor-timeout", "0.4"])  # fmt: skip
    finally:
        threads[1].join(5)
        time.sleep(0.2)
        rx.close()
    assert res.exit_code == 0, res.output
    said = [str(w.message) for w in caught if "no valid frame from the LiDAR" in str(w.message)]
    assert len(said) == 1 and "focus holds and FreeD goes on" in said[0]  # once for the one silence
    back = [str(w.message) for w in caught if "come again; focus follows them" in str(w.message)]
    assert len(back) == 1, [str(w.message) for w in caught]  # its end went unsaid
    t0 = received[0]
    assert sum(1 for t in received if 1.5 < t - t0 < 2.4) > 20  # FreeD still sent while it was silent
    assert sum(1 for t in received if t - t0 > 3.0) > 20  # and after


@pytest.mark.parametrize("fps", ["24000/1001", "23.976"])
def test_focus_takes_a_rate_as_editors_write_it(tmp_path, log_path, fps):
    # "24000/1001", as ffprobe prints it and `key --fps` takes it, was refused: "not a valid float"
    out = tmp_path / "track.csv"
    lens = ["--focal-length", "85", "--f-number", "2", "--sensor", "ff"]
    log = ["--sensor-log", str(log_path)]
    res = CliRunner().invoke(cli, ["focus", *log, "--fps", fps, *lens, "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert float(rows[24]["t_s"]) == pytest.approx(24 * 1001 / 24000, abs=1e-6)


@pytest.mark.parametrize("fps", ["inf", "nan", "0", "1/0", "24 fps"])
def test_focus_refuses_what_is_no_frame_rate(tmp_path, log_path, fps):
    lens = ["--focal-length", "85", "--f-number", "2", "--sensor", "ff"]
    out = tmp_path / "t.csv"
    log = ["--sensor-log", str(log_path)]
    res = CliRunner().invoke(cli, ["focus", *log, "--fps", fps, *lens, "-o", str(out)])
    assert res.exit_code == 2 and "Invalid value for '--fps'" in res.output
    assert not out.exists()



def test_focus_live_says_when_the_subject_is_outside_the_lens_calibration(tmp_path):
    """A calibration measured from 0.9 m to 5 m and a subject at 7 m: the motor held at the 5 m point
    while the page showed focus at 7 m, without a word."""
    cal = tmp_path / "cp3.yaml"
    cal.write_text("points:\n  - {distance_m: 0.9, motor: 4000}\n  - {distance_m: 2, motor: 2010}\n"
                   "  - {distance_m: 5, motor: 900}\n")
    with _lidar_and_freed_receiver(700) as (args, rx):
        with pytest.warns(UserWarning, match=r"focus at 7 m is beyond the lens calibration's farthest point"):
            res = CliRunner().invoke(cli, [*args, "--duration", "0.6", "--calibration", str(cal)])
        got = [decode_d1(rx.recvfrom(64)[0]) for _ in range(5)]
    assert res.exit_code == 0, res.output
    assert all(p.focus == 900 for p in got)  # held at the 5 m point, as said


def test_focus_start_puts_row_0_at_the_clips_first_frame(tmp_path, log_path):
    """A logger started before the camera rolled: row 0 was always the log's first reading, so the
    track ran early by the difference and composite --focus-track had no way to line it up."""
    out = tmp_path / "track.csv"
    args = ["focus", "--sensor-log", str(log_path), "--fps", "25", "--focal-length", "85", "--f-number", "2",
            "--sensor", "ff", "-o", str(out)]
    steps = []
    for start in ([], ["--start", "1.0"]):
        assert CliRunner().invoke(cli, [*args, *start]).exit_code == 0
        rows = list(csv.DictReader(out.open()))
        steps.append([float(r["focus_distance_m"] or "nan") < 2.5 for r in rows].index(True))
    assert float(rows[0]["t_s"]) == pytest.approx(1.0) and len(rows) == 50  # 1.0 s to the log's end
    assert steps[0] - steps[1] == 25  # the subject's step comes 1 s (25 frames) sooner into the clip


def test_a_track_from_start_is_the_whole_logs_track_from_there(tmp_path, log_path):
    """Rows from --start are what a run of the whole log gives there: a cue before the start racked
    nothing (row 0 already at its mark, its rack_s ignored) and the held focus came out elsewhere, the
    lens's earlier frames not having run."""
    marks = tmp_path / "marks.yaml"
    marks.write_text("marks: {A: 1.2}\ncues:\n  - {t_s: 0.5, mark: A, rack_s: 1.0}\n")
    tracks = []
    for name, extra in (("whole", []), ("from_1s", ["--start", "1.0"]), ("cues", ["--marks", str(marks)]),
                        ("cues_from_1s", ["--marks", str(marks), "--start", "1.0"])):
        out = tmp_path / f"{name}.csv"
        result = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25",
                                          "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
                                          "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        tracks.append(np.array([float(r["focus_distance_m"] or "nan") for r in csv.DictReader(out.open())]))
    whole, from_1s, cues, cues_from_1s = tracks
    np.testing.assert_array_equal(from_1s, whole[25:])
    np.testing.assert_array_equal(cues_from_1s, cues[25:])
    assert 1.5 < cues_from_1s[0] < 2.5  # mid-rack from 3 m to 1.2 m at 1.0 s, not already there


def test_focus_live_refuses_a_zoom_past_freeds_field_before_it_opens_anything():
    # it failed at the first FreeD message, after the port had opened and the banner was printed
    res = CliRunner().invoke(cli, ["focus-live", "--port", "/dev/no-such-port", "--zoom", "16777216",
                                   "--focal-length", "85", "--f-number", "2"])
    assert res.exit_code == 2 and "--zoom" in res.output and "no-such-port" not in res.output


def test_a_stretch_of_the_log_without_readings_is_said(tmp_path):
    # no reading from 1.0 to 2.5 s while the subject walked on: the track coasted, then held 15 cm off
    # (outside the depth of field), said only by its confidence column
    log = tmp_path / "gap.csv"
    times = [k / 100 for k in range(400) if not 100 < k < 250]
    log.write_text("t_s,distance_m\n" + "".join(f"{t:.2f},{3 - 0.3 * t:.4f}\n" for t in times))
    args = ["focus", "--sensor-log", str(log), "--fps", "25", "--focal-length", "50", "--f-number", "2",
            "--sensor", "s35", "-o", str(tmp_path / "t.csv")]
    with pytest.warns(UserWarning, match=r"no usable reading for more than 1 s at 1\.00–2\.50 s: focus"):
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_a_start_after_the_log_writes_nothing_and_says_so(tmp_path, log_path):
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log_path), "--fps", "25", "--start", "50",
                                      "--focal-length", "50", "--f-number", "2", "--sensor", "s35",
                                      "-o", str(out)])
    assert result.exit_code != 0 and "--start 50 s lies after the last reading" in result.output
    assert not out.exists()


def test_a_time_of_day_log_read_off_its_clip_is_said(tmp_path):
    # --start-timecode alone only labels row 0, the log's first reading: a track labelled a second off its
    # frames passed composite's timecode check without a word; a --start before the log left its first
    # rows without focus, exit 0, unsaid
    log = tmp_path / "lidar.csv"
    t = 81687.589 + np.arange(0, 3.0, 0.01)  # 22:41:27.589, as focus-live --log writes the time of day
    _write_log(log, t, 3.0 + 0.5 * (t - t[0]), np.full(t.size, 800))
    lens = ["--focal-length", "135", "--f-number", "2", "--sensor", "s35", "--fps", "25"]
    cases = {
        "label": (["--start-timecode", "22:41:28:15"], "give that as --start 22:41:28:15"),
        "early": (["--start", "22:40:05:00"], "rows have no focus"),
        "right": (["--start", "22:41:28:15"], None),
        "sensor clock": (["--start-timecode", "22:41:28:15"], None),
    }
    for name, (given, said) in cases.items():
        if name == "sensor clock":  # a log on its sensor's own clock: its labels are the user's
            _write_log(log, t - t[0] + 12.0, 3.0 + 0.5 * (t - t[0]), np.full(t.size, 800))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *lens, *given,
                                           "-o", str(tmp_path / f"{name}.csv")])
        assert res.exit_code == 0, res.output
        told = [str(w.message) for w in caught]
        assert (told == [] if said is None else any(said in w for w in told)), (name, told)
        if name == "early":  # as many as the track has
            rows = list(csv.DictReader((tmp_path / "early.csv").open()))
            without = next(i for i, r in enumerate(rows) if r["focus_distance_m"] not in ("", "nan"))
            assert f"the track's first {without} rows have no focus" in told[0], (without, told)


def test_a_log_another_run_is_writing_is_left_to_it(tmp_path):
    # two focus-live runs given one --log both wrote it: the second's log replaced the first's
    log = tmp_path / "lidar.csv"
    other = tmp_path / f".lidar.partial-{os.getppid()}-0a1b2c.csv"  # a running process's partial log
    other.write_text("t_s,distance_m,strength\n1.0,2.0,900\n")
    with _lidar_and_freed_receiver(250) as (args, _):
        res = CliRunner().invoke(cli, [*args, "--duration", "0.5", "--log", str(log)])
    assert res.exit_code == 0, res.output
    assert "is being written by another run: this run logs to" in res.output, res.output
    assert read_sensor_log(tmp_path / "lidar-2.csv") and not log.exists()
    assert other.read_text() == "t_s,distance_m,strength\n1.0,2.0,900\n"


def test_a_killed_run_sent_to_a_numbered_log_is_recovered_under_that_name(tmp_path):
    # a run sent to lidar-2.csv (lidar.csv was being written) and then killed: the next run on lidar.csv
    # found nothing, and gave lidar-2.csv to another take while the killed one's readings stayed hidden
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not _running(pid))
    orphan = tmp_path / f".lidar-2.partial-{dead}-0a1b2c.csv"
    orphan.write_text("t_s,distance_m,strength\n1.0,2.0,900\n1.01,2.0,900\n1.02,2.")  # cut mid-row
    with _lidar_and_freed_receiver(250) as (args, _):
        res = CliRunner().invoke(cli, [*args, "--duration", "0.5", "--log", str(tmp_path / "lidar.csv")])
    assert res.exit_code == 0, res.output
    cut = tmp_path / "lidar-2-cut.csv"
    assert f"an earlier run logging to {tmp_path / 'lidar-2.csv'} was cut off" in res.output, res.output
    assert f"its 2 readings are kept as {cut}" in res.output, res.output
    assert [r.t_s for r in read_sensor_log(cut)] == [1.0, 1.01]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lidar-2-cut.csv", "lidar.csv"]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
