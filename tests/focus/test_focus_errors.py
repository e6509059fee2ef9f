"""Bad input to `focus` / `distance` gets a clear message, never a traceback or a hang (issue 8)."""

import contextlib
import datetime
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.errors import InputFormatError, SettingsError
from guangying.cli.main import cli
from guangying.focus.controller import ControllerConfig
from guangying.focus.replay import ReplaySettings
from guangying.focus.track_io import read_sensor_log
from guangying.pipeline.lens_defocus import LensDefocus, LensSettings, read_focus_track

LENS = ["--fps", "25", "--focal-length", "135", "--f-number", "2", "--sensor", "s35"]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _log(path, t, d=None):
    d = np.full(len(t), 2.0) if d is None else d
    rows = "".join(f"{a},{b},800\n" for a, b in zip(t, d, strict=True))
    path.write_text("t_s,distance_m,strength\n" + rows)
    return path


def _focus(tmp_path, log, *args, out=None):
    out = out or tmp_path / "track.csv"
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "-o", str(out), *args])
    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit), res.exception  # a message, not a traceback
    assert not Path(out).exists()
    return res.output


def _no_partials(folder):
    return not [p for p in Path(folder).iterdir() if ".partial-" in p.name]


def test_output_folder_missing_or_not_writable(tmp_path):
    log = _log(tmp_path / "l.csv", np.arange(0, 1, 0.01))
    msg = _focus(tmp_path, log, out=tmp_path / "nope" / "t.csv")
    assert "does not exist" in msg and "nope" in msg
    if Path("/sys").is_dir() and not os.access("/sys", os.W_OK):  # sysfs: read-only even for root
        assert "/sys/t.csv" in _focus(tmp_path, log, out=Path("/sys/t.csv"))
    # distance checks its output folder before a long pass over the pictures
    res = CliRunner().invoke(cli, ["distance", str(log), "--kind", "faces", "--focal-length", "50",
                                   "--sensor", "ff", "-o", str(tmp_path / "nope" / "x.csv")])
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit) and "does not exist" in res.output


def test_full_disk_leaves_nothing_behind(tmp_path):
    # a real write failure: the file-size limit makes the track's write fail part-way (EFBIG)
    log = _log(tmp_path / "l.csv", np.arange(0, 60, 0.01))
    out = tmp_path / "t.csv"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = subprocess.run(
        [sys.executable, "-m", "guangying.cli.main", "focus", "--sensor-log", str(log), *LENS,
         "-o", str(out)],
        env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, timeout=300,
        preexec_fn=limit,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and str(out) in proc.stderr
    assert not out.exists() and _no_partials(tmp_path)


def test_non_utf8_log_and_nan_time_are_named(tmp_path):
    bad = tmp_path / "latin.csv"
    bad.write_bytes("t_s,distance_m,strength\n0,2,800\n0.01,2,800,café\n".encode("latin-1"))
    msg = _focus(tmp_path, bad)
    assert "latin.csv, line 3" in msg and "UTF-8" in msg
    nan = _log(tmp_path / "nan.csv", [0.0, math.nan])
    msg = _focus(tmp_path, nan)
    assert "line 3" in msg and "not a number" in msg and "back in time" not in msg


@pytest.mark.parametrize(("row", "said"), [
    ('"0.02,3,800', r"line 4: a quote \(\"\) that is not closed"),
    ("0.02," + "3" * 200_000 + ",800", r"line 4: not a row of numbers"),
], ids=["open-quote", "huge-cell"])
def test_a_row_csv_cannot_split_is_named(tmp_path, row, said):
    # an open quote took the rest of the log into one "t_s", or past csv's field limit, a traceback
    rows = "".join(f"{k / 100:.2f},3,800\n" for k in range(5000))
    log = tmp_path / "log.csv"
    log.write_text("t_s,distance_m,strength\n0,3,800\n0.01,3,800\n" + row + "\n" + rows)
    assert re.search(said, _focus(tmp_path, log))


@pytest.mark.parametrize("t", [[0.0, 1e9], [-1e6, 0.0], [0.0, 1e30]])
def test_absurd_time_spans_are_refused_at_once(tmp_path, t):
    log = _log(tmp_path / "span.csv", t)
    proc = subprocess.run(
        [sys.executable, "-m", "guangying.cli.main", "focus", "--sensor-log", str(log), *LENS,
         "-o", str(tmp_path / "t.csv")],
        env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "line 3" in proc.stderr and "t_s" in proc.stderr
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--fps", "inf"], "--fps': give a frame rate such as 25"),
        (["--fps", "1e12"], "--fps': a frame rate must be above 0 and at most 1000 fps"),
        (["--sensor-sigma", "inf"], "sensor_sigma_m=inf"),
        (["--sensor-sigma", "0"], "sensor_sigma_m="),
        (["--latency", "1e9"], "latency_s="),
        (["--latency", "nan"], "latency_s=nan"),
        (["--f-number", "1e308"], "f_number="),
        (["--camera-id", "999", "--freed", "127.0.0.1:9"], "--camera-id"),
        (["--freed", "no-such-host.invalid:40000"], "no-such-host.invalid"),
    ],
)
def test_bad_settings_are_refused_with_the_flag_named(tmp_path, args, words):
    log = _log(tmp_path / "l.csv", np.arange(0, 1, 0.01))
    assert words in _focus(tmp_path, log, *args)


def test_settings_are_checked_in_the_library_too():
    with pytest.raises(SettingsError, match="sensor_sigma_m"):
        ControllerConfig(135, 2.0, 0.025, sensor_sigma_m=math.inf)
    with pytest.raises(SettingsError, match="latency_s"):
        ControllerConfig(135, 2.0, 0.025, latency_s=1e9)
    with pytest.raises(SettingsError, match="fps"):
        ReplaySettings(math.inf)
    with pytest.raises(SettingsError, match="fps"):
        ReplaySettings(1e12)


def test_text_file_named_npy_is_not_sent_to_pickle(tmp_path):
    fake = tmp_path / "depth.npy"
    fake.write_text("0.5 0.5\n0.5 0.5\n")
    res = CliRunner().invoke(cli, ["distance", str(fake)])
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit)
    assert "not a NumPy .npy" in res.output and "pickle" not in res.output.lower()


def test_faces_with_unknown_sensor(tmp_path):
    pic = tmp_path / "p.png"
    pic.write_bytes(b"not needed: the sensor is checked first")
    res = CliRunner().invoke(cli, ["distance", str(pic), "--kind", "faces", "--focal-length", "50",
                                   "--sensor", "nosuch"])
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit)
    assert "unknown sensor 'nosuch'" in res.output and "s35" in res.output
    assert "--sensor-width MM" in res.output and "--coc" not in res.output  # distance has no --coc


def test_focus_track_with_a_bad_number_names_file_and_line(tmp_path):
    track = tmp_path / "track.csv"
    track.write_text("frame,focus_distance_m\n0,\n1,2.0\n2,abc\n")
    with pytest.raises(InputFormatError, match=r"track\.csv, line 4: 'abc'"):
        read_focus_track(track)
    track.write_text("frame,focus_distance_m\n0,\n1,2.0\n2,\n3,2.5\n")
    assert read_focus_track(track) == [2.0, 2.0, 2.0, 2.5]  # empty = no focus yet / hold the last


@pytest.mark.parametrize(("rows", "said"), [
    ("2,0.08,3.0\n1,0.04,2.0\n0,0,1.0\n", r"line 3: frame 1 after frame 2: the rows go back"),
    ("0,0,1.0\n2,0.08,3.0\n1,0.04,2.0\n", r"line 3: frame 2 after frame 0: frame 1 is not here"),
    ("0,0,1.0\n1,0.04,inf\n", r"line 3: focus distance inf m is not one a lens focuses at"),
    ("0,0,1e-300\n", r"line 2: focus distance 1e-300 m"),
    ('0,0,1.0\n"1,0.04,2.0\n2,0.08,3.0\n', r"line 3: a quote \(\"\) that is not closed"),  # 1 row read
    ("0,0,1.0\n1,0.04,2_5\n", r"line 3: '2_5' is not a distance"),  # float() read it as 25 m
], ids=["reversed", "swapped", "inf", "tiny", "open-quote", "digit-separator"])
def test_a_focus_track_out_of_frame_order_or_past_any_lens_is_refused_by_the_row(tmp_path, rows, said):
    # a reversed track was applied backwards (frame 0 took frame 49's focus) without a word
    track = tmp_path / "track.csv"
    track.write_text("frame,t_s,focus_distance_m\n" + rows)
    with pytest.raises(InputFormatError, match=said):
        read_focus_track(track)


def test_a_focus_track_without_frame_numbers_whose_times_go_back_is_refused(tmp_path):
    track = tmp_path / "track.csv"
    track.write_text("t_s,focus_distance_m\n0.08,3.0\n0.04,2.0\n0,1.0\n")  # was used reversed
    with pytest.raises(InputFormatError, match=r"line 3: t_s 0.04 goes back"):
        read_focus_track(track)


def test_a_focus_track_in_millimetres_is_questioned(tmp_path):
    track = tmp_path / "track.csv"
    track.write_text("frame,t_s,focus_distance_m\n0,0,1500\n1,0.04,1520\n")
    with pytest.warns(UserWarning, match=r"around 1510 m, beyond any focus pull: millimetres"):
        read_focus_track(track)


def test_defocus_message_names_a_real_flag():
    with pytest.raises(ValueError) as exc:
        LensDefocus(LensSettings(135.0, 2.0))
    said = str(exc.value)
    assert "--subject-distance)" in said and "subject_distance_m" in said
    assert "--subject-distance-m" not in said


@pytest.mark.parametrize(
    ("times_s", "distances", "said"),
    [
        (np.arange(101) / 100, 3000 + np.arange(101), r"around 3050 m, beyond any focus pull: millimetres"),
        (np.arange(101) / 100, np.full(101, 0.003), r"around 0.003 m, nearer than any lens focuses"),
        (np.arange(101) * 10.0, 3 + np.arange(101) / 100, r"a reading every 10 s.*milliseconds under t_s"),
    ],
    ids=["mm-as-m", "m-as-km", "ms-as-s"],
)
def test_a_log_in_the_wrong_units_is_said(tmp_path, times_s, distances, said):
    """Millimetres under distance_m focused at the controller's 1000 m limit with full confidence, and an
    Arduino's millis() under t_s made a 16-minute track of a 1 s log, both without a word."""
    log = _log(tmp_path / "log.csv", times_s, distances)
    with pytest.warns(UserWarning, match=said):
        track = str(tmp_path / "track.csv")
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "-o", track])
    assert res.exit_code == 0, res.output


def test_a_log_in_metres_and_seconds_is_not_questioned(tmp_path):
    import warnings

    log = _log(tmp_path / "log.csv", np.arange(101) / 100, 0.3 + np.arange(101) / 10)  # 0.3–10.3 m
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        track = str(tmp_path / "track.csv")
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "-o", track])
    assert res.exit_code == 0, res.output


def test_a_sensor_latency_beyond_the_whole_latency_is_refused(tmp_path):
    log = _log(tmp_path / "log.csv", np.arange(101) / 100)
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "--latency", "0.04",
                                   "--sensor-latency", "0.1", "-o", str(tmp_path / "t.csv")])  # fmt: skip
    assert res.exit_code == 2 and "is part of --latency 0.04 s" in res.output  # its motor delay became 0
    assert not (tmp_path / "t.csv").exists()


def test_the_library_replay_questions_a_log_in_the_wrong_units_too(tmp_path):
    """`gy.replay(gy.read_sensor_log(...))` on a millimetre log focused at 1000 m without a word, while
    the command (which streams through replay_log) said it."""
    from guangying import ControllerConfig, read_sensor_log, replay

    log = _log(tmp_path / "log.csv", np.arange(101) / 100, 3000 + np.arange(101))
    with pytest.warns(UserWarning, match=r"the readings: the distances are around 3050 m") as said:
        replay(read_sensor_log(log), fps=25, config=ControllerConfig(135, 2.0, 0.03))
    assert said[0].filename == __file__  # pointed at the caller's line


def test_a_log_with_many_unusable_readings_says_how_many(tmp_path):
    # NaN, 0 and negative distances were dropped without a word unless every reading was bad
    t = np.arange(200) / 100
    d = 2.5 + 0.2 * np.sin(t)
    d[::5] = [np.nan, 0.0, -1.0, np.nan, 0.0, -2.0, np.nan, 0.0] * 5  # 40 of 200: 20 %
    log = _log(tmp_path / "log.csv", t, d)
    with pytest.warns(UserWarning, match=r"log\.csv: 40 of 200 readings \(20 %\) are not usable"):
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "-o",
                                       str(tmp_path / "t.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output
    d[::5] = 2.5  # and 2 % dropped, as a field sensor drops them, is not worth a word
    d[::50] = np.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(_log(tmp_path / "ok.csv", t, d)), *LENS,
                                       "-o", str(tmp_path / "t2.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_a_log_whose_times_were_rounded_is_questioned(tmp_path):
    # times logged to 0.1 s (ten readings at each): taken without a word, and the filter saw no speed
    t = np.round(np.arange(300) / 100, 1)
    log = _log(tmp_path / "log.csv", t, 3.0 - np.arange(300) / 300)
    with pytest.warns(UserWarning, match=r"log\.csv: 2\d\d of 300 readings have the time of the one before"):
        res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(log), *LENS, "-o",
                                       str(tmp_path / "t.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_a_full_disk_stops_focus_lives_log_not_its_focus(tmp_path, pty_lidar):
    # the log's writes failing mid-take (a file-size limit stands in for a full disk) must not end the
    # FreeD stream: a lens must not stop for its record
    sensor = pty_lidar(250)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    log = tmp_path / "lidar.csv"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "guangying.cli.main", "focus-live", "--port", sensor.name, "--freed",
             f"127.0.0.1:{rx.getsockname()[1]}", "--focal-length", "85", "--f-number", "2", "--sensor", "ff",
             "--duration", "5", "--log", str(log)],
            env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, timeout=600,
            preexec_fn=limit,
        )
        rx.setblocking(False)
        packets = 0
        with contextlib.suppress(BlockingIOError):
            while rx.recv(64):
                packets += 1
    finally:
        rx.close()
    assert proc.returncode == 0, proc.stderr
    assert "readings are no longer logged" in proc.stderr and "focus goes on" in proc.stderr, proc.stderr
    assert "the log stopped early" in proc.stderr and "Traceback" not in proc.stderr
    assert packets > 200  # FreeD at 50 Hz for the whole 5 s, the log lost after about 2 s
    # what reached the disk is kept, whole rows only (it was all thrown away)
    kept = re.search(r"it holds the first (\d+) readings", proc.stderr)
    assert kept and [p.name for p in tmp_path.iterdir()] == ["lidar.csv"], proc.stderr
    assert len(read_sensor_log(log)) == int(kept.group(1)) > 50 and log.stat().st_size <= 3000


def test_focus_lives_log_is_kept_when_the_run_is_stopped_by_a_signal(tmp_path, pty_lidar):
    # SIGTERM or SIGHUP (a closed terminal or ssh session, `timeout`, systemd) removed the whole log
    sensor = pty_lidar(250)
    log = tmp_path / "lidar.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "guangying.cli.main", "focus-live", "--port", sensor.name, "--freed",
         "127.0.0.1:9", "--focal-length", "85", "--f-number", "2", "--sensor", "ff", "--log", str(log)],
        env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the banner: the filter is ready, readings flow
            if line.startswith("focus-live:"):
                break
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert [p.name for p in tmp_path.iterdir()] == ["lidar.csv"]
    assert len(read_sensor_log(log)) > 50


def test_a_killed_focus_live_keeps_its_log_to_half_a_second_and_the_next_run_recovers_it(tmp_path, pty_lidar):
    # kill -9 (the OOM killer) or a dead battery: the log stayed a hidden partial file, its last 8 KB (here
    # the whole 1.5 s) never written, and the next run said nothing of it
    sensor = pty_lidar(250)
    log = tmp_path / "lidar.csv"
    command = [sys.executable, "-m", "guangying.cli.main", "focus-live", "--port", sensor.name, "--freed",
               "127.0.0.1:9", "--focal-length", "85", "--f-number", "2", "--sensor", "ff", "--log", str(log)]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("focus-live:"):
                break
        time.sleep(1.5)
        proc.kill()
        now = datetime.datetime.now()
        killed_at_s = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert not log.exists()
    res = subprocess.run([*command, "--duration", "0.5"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    cut = tmp_path / "lidar-cut.csv"
    assert f"readings are kept as {cut}" in res.stderr, res.stderr
    readings = read_sensor_log(cut)
    assert len(readings) > 50 and killed_at_s - readings[-1].t_s < 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lidar-cut.csv", "lidar.csv"]
