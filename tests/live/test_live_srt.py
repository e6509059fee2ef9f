"""SRT in and out on 127.0.0.1: the system ffmpeg sends the plate as an SRT listener, `guangying live`
takes it and streams the composite on to another SRT listener (PyAV's own ffmpeg has no SRT: both
ends are bridged through the ffmpeg program, tested here for real)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading

import pytest
from click.testing import CliRunner
from live_helpers import free_port

from guangying.base.errors import MediaError
from guangying.cli.main import cli
from guangying.live import LiveSource

FFMPEG = shutil.which("ffmpeg")


def _has_srt() -> bool:
    if FFMPEG is None:
        return False
    out = subprocess.run([FFMPEG, "-hide_banner", "-protocols"], capture_output=True, text=True).stdout
    return "  srt\n" in out


pytestmark = pytest.mark.skipif(
    not _has_srt(), reason="no ffmpeg program with SRT (make test installs ffmpeg with apt where it can)"
)


def test_srt_source_and_srt_output(plate_clip, tmp_path):
    port_in, port_out = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    sender = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(plate_clip),
         "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "5", "-f", "mpegts",
         f"srt://127.0.0.1:{port_in}?mode=listener"],
        stdin=subprocess.DEVNULL,
    )
    receiver = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", f"srt://127.0.0.1:{port_out}?mode=listener",
         "-frames:v", "10", "-f", "image2", "-update", "1", str(tmp_path / "got.png")],
        stdin=subprocess.DEVNULL,
    )
    try:
        res = CliRunner().invoke(cli, [
            "live", f"srt://127.0.0.1:{port_in}", "--no-monitor", "--source-timeout", "10", "--duration", "6",
            "-b", "black", "--out", f"srt://127.0.0.1:{port_out}", "--record", str(tmp_path / "take.mp4"),
        ])
        assert res.exit_code == 0, res.output
        try:
            receiver.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the receiver got no 10 frames; the take said:\n{res.output}")
    finally:
        for proc in (sender, receiver):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
    assert "320×192" in res.output and (tmp_path / "take.mp4").is_file()
    assert receiver.returncode == 0 and (tmp_path / "got.png").is_file()  # the composite arrived over SRT


def test_a_sender_started_after_the_take_is_reached(plate_clip):
    """The operator starts `guangying live` first, then the camera's or OBS's SRT output. ffmpeg's
    caller gives up after libsrt's 3 s: a sender listening 5 s later was never reached ("Input/output
    error"). The source now calls again until its open timeout."""
    port = free_port(socket.SOCK_DGRAM)
    sender: list[subprocess.Popen[bytes]] = []

    def start_sender() -> None:
        sender.append(subprocess.Popen(
            [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(plate_clip),
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-f", "mpegts",
             f"srt://127.0.0.1:{port}?mode=listener"],
            stdin=subprocess.DEVNULL,
        ))

    late = threading.Timer(5.0, start_sender)
    late.start()
    try:
        source = LiveSource(f"srt://127.0.0.1:{port}", open_timeout_s=20)
        assert (source.width, source.height) == (320, 192)
        source.stop()
    finally:
        late.cancel()
        late.join()
        for proc in sender:
            proc.kill()
            proc.wait(timeout=5)


def test_a_wrong_passphrase_is_named(plate_clip):
    """An encrypted SRT sender (OBS, Larix, a hardware encoder with a passphrase) joined without its
    passphrase: the sender refuses, and the error said only that no picture came (is the sender
    running?). It now says the passphrases differ and where the right one goes."""
    port = free_port(socket.SOCK_DGRAM)
    sender = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(plate_clip),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-f", "mpegts",
         f"srt://127.0.0.1:{port}?mode=listener&passphrase=set-on-the-encoder"],
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(MediaError, match=r"passphrase and this one differ.*\?passphrase="):
            LiveSource(f"srt://127.0.0.1:{port}", open_timeout_s=8)
    finally:
        sender.kill()
        sender.wait(timeout=5)
