"""`live --lidar`: a TF-Luna on a real pty feeds the focus controller; FreeD goes out over UDP, the
sidecar logs the focus distance and the virtual set is defocused live through the lens."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import tty
from collections.abc import Callable

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.distance.tfluna import encode_frame
from guangying.focus.controller import STEADY_WALK_ACCEL_MPS2
from guangying.lens.freed import decode_d1
from guangying.live.launch import DEFAULTS, focus_from_options
from guangying.media import open_reader, open_writer


def test_live_with_lidar_sends_freed_logs_focus_and_defocuses_the_set(plate_clip, tmp_path):
    checker = np.kron((np.indices((12, 20)).sum(0) % 2).astype(np.float32), np.ones((16, 16), np.float32))
    board = tmp_path / "set.png"
    with open_writer(board, width=320, height=192, content="rgb") as writer:
        writer.write(np.repeat(checker[..., None], 3, axis=2), transfer="srgb")
    master, slave = os.openpty()
    tty.setraw(slave)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(3.0)
    stop = threading.Event()

    def sensor() -> None:  # a TF-Luna at 100 Hz seeing the actor at 2.50 m
        while not stop.is_set():
            os.write(master, encode_frame(250, 1200))
            time.sleep(0.01)

    thread = threading.Thread(target=sensor, daemon=True)
    thread.start()
    try:
        res = CliRunner().invoke(cli, [
            "live", str(plate_clip), "--no-monitor", "--lidar", os.ttyname(slave),
            "--freed", f"127.0.0.1:{rx.getsockname()[1]}", "--focal-length", "135", "--f-number", "2",
            "--sensor", "s35", "-b", str(board), "--record", str(tmp_path / "take.mkv"), "--duration", "3",
        ])
        packets = [decode_d1(rx.recvfrom(64)[0]) for _ in range(5)]
    finally:
        stop.set()
        thread.join(1.0)
        rx.close()
        os.close(master)
        os.close(slave)
    assert res.exit_code == 0, res.output
    assert all(p.focus == 2500 for p in packets)
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    late = rows[len(rows) // 2 :]
    assert all(abs(r["focus_distance_m"] - 2.5) < 0.02 and r["subject_distance_m"] == 2.5 for r in late)
    with open_reader(tmp_path / "take.mkv") as reader:
        last = list(reader)[-1].rgb
    corner = last[:40, -60:, 1]  # set only (the subject is elsewhere): the board is out of focus
    assert corner.std() < 0.5 * checker[:40, -60:].std()


def test_monitor_stats_show_subject_focus_and_depth_of_field(plate_clip):
    from guangying.distance.tfluna import TfLunaSource
    from guangying.focus.controller import ControllerConfig, FocusController
    from guangying.live import LiveSession, LiveSettings, LiveSource
    from guangying.live.focus_link import LiveFocus

    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def sensor() -> None:
        while not stop.is_set():
            os.write(master, encode_frame(180, 900))
            time.sleep(0.01)

    thread = threading.Thread(target=sensor, daemon=True)
    thread.start()
    source = LiveSource(str(plate_clip), loop=True)
    controller = FocusController(ControllerConfig(50, 2.8, 0.025))
    focus = LiveFocus(TfLunaSource(os.ttyname(slave)), controller, 0.025)
    session = LiveSession(source, LiveSettings({}, source.width, source.height), focus=focus)
    runner = threading.Thread(target=session.run, kwargs={"duration_s": 4.0}, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10.0  # the first reading's arrival depends on the machine's load
    shown = session.stats().get("focus") or {}
    while runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
        shown = session.stats().get("focus") or shown
        if shown.get("subject_m") is not None and abs(shown.get("focus_m", 0) - 1.8) < 0.02:
            break
    runner.join(timeout=20)
    stop.set()
    thread.join(1.0)
    os.close(master)
    os.close(slave)
    assert shown["subject_m"] == 1.8 and abs(shown["focus_m"] - 1.8) < 0.02
    assert shown["near_m"] < 1.8 < shown["far_m"] and shown["error"] == ""


def test_live_steady_walk_option_sets_the_steady_walk_controller():
    master, slave = os.openpty()
    try:
        for steady, accel in ((False, 0.0), (True, STEADY_WALK_ACCEL_MPS2)):
            options = {**DEFAULTS, "lidar": os.ttyname(slave), "focal_length_mm": 85.0, "f_number": 2.0,
                       "steady_walk": steady}
            focus, _ = focus_from_options(options)
            assert focus is not None and focus.controller.config.calm_accel_mps2 == accel
            focus.source.close()
        # the LiDAR's offset from the focal plane reaches the controller (focus and the subject shown)
        focus, _ = focus_from_options({**options, "lidar_offset_m": 0.15})
        assert focus is not None and focus.controller.config.sensor_offset_m == 0.15
        focus.source.close()
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("mid_take", [True, False], ids=["mid-take", "while-the-take-starts"])
def test_a_lidar_unplugged_mid_take_is_said_and_followed_again_once_back(tmp_path, pty_lidar, mid_take):
    """A LiDAR's USB cable pulled mid-take and plugged back in. Before, the focus thread read the dead
    port again and again: only the page showed an error, and focus never followed the sensor again for
    the rest of the take. Now the terminal says so, focus holds, and the port (named as
    /dev/serial/by-id/… names an adapter, a link re-made when it comes back) is opened again. Pulled
    while the take started (the engine compiling), it failed the take's start."""
    import warnings

    from guangying.distance.tfluna import TfLunaSource
    from guangying.focus.controller import ControllerConfig, FocusController
    from guangying.live.focus_link import LiveFocus

    link = tmp_path / "usb-Benewake_TF-Luna-if00-port0"
    sensor = pty_lidar(250)
    link.symlink_to(sensor.name)
    controller = FocusController(ControllerConfig(50, 2.8, 0.025))
    focus = LiveFocus(TfLunaSource(str(link), timeout_s=0.5), controller, 0.025)

    def until(done: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
        t_end = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < t_end, (what, focus.state(), [str(w.message) for w in caught])
            time.sleep(0.05)

    def said(text: str) -> bool:
        return any(text in str(w.message) for w in caught)

    with warnings.catch_warnings(record=True) as caught:  # said from the focus thread
        warnings.simplefilter("always")
        if not mid_take:
            sensor.unplug()
        focus.start()
        try:
            if mid_take:
                until(lambda: focus.state().subject_m == 2.5, "the first sensor read")
                sensor.unplug()
            until(lambda: said("went away") and "went away" in focus.state().error, "the unplug said")
            if mid_take:
                assert focus.state().subject_m == 2.5  # focus holds where it was
            sensor = pty_lidar(310)  # plugged back in: a new device node, the same by-id name
            replug = tmp_path / "new-link"
            replug.symlink_to(sensor.name)
            replug.replace(link)
            until(lambda: focus.state().subject_m == 3.1, "the sensor read again once back")
            assert said("is back") and focus.state().error == ""
        finally:
            focus.stop()
