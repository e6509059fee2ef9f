"""Real network sources on 127.0.0.1 and bad input: a UDP MPEG-TS stream that stops mid-take, a
stream that never starts, a monitor port already taken."""

from __future__ import annotations

import json
import socket
import time

from click.testing import CliRunner
from live_helpers import LiveProcess, UdpSender, free_port

from guangying.cli.main import cli
from guangying.media import open_reader


def test_stream_lost_mid_take_finalises_the_recording(plate_frames, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record", tmp_path / "take.mp4", "--record-matte", tmp_path / "matte.mov",
        cwd=tmp_path,
    )
    sender = UdpSender(plate_frames, port, seconds=60)
    try:
        sender.start()
        live.wait_url()  # the take has started …
        time.sleep(2.0)
        sender.stop_now.set()  # … and 2 s later the camera's cable is pulled
        code = live.wait(timeout_s=60)
    finally:
        sender.stop_now.set()
        live.kill()
    assert code != 0, live.output
    assert "source lost" in live.output and "finalised" in live.output
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    with open_reader(tmp_path / "take.mp4") as reader:
        frames = sum(1 for _ in reader)
    with open_reader(tmp_path / "matte.mov") as reader:
        mattes = sum(1 for _ in reader)
    assert frames == mattes == len(rows) >= 10  # 2 s at 25 fps, less what a busy machine dropped
    assert all(r["latency_ms"] >= 0 and r["timecode"] for r in rows)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # nothing half-written left


def test_stream_that_never_starts_fails_within_seconds():
    port = free_port(socket.SOCK_DGRAM)
    t0 = time.monotonic()
    url = f"udp://127.0.0.1:{port}"
    res = CliRunner().invoke(cli, ["live", url, "--source-timeout", "1.5", "--no-monitor"])
    assert res.exit_code != 0
    assert "no picture from stream" in res.output and "sender running" in res.output
    assert time.monotonic() - t0 < 10


def test_monitor_port_in_use_is_a_clear_error(plate_clip):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(cli, ["live", str(plate_clip), "--port", str(port), "--duration", "1"])
    assert res.exit_code != 0
    assert f"port {port}" in res.output and "already in use" in res.output


def test_file_that_does_not_exist_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["live", str(tmp_path / "nope.mp4"), "--no-monitor"])
    assert res.exit_code != 0 and "not found" in res.output
