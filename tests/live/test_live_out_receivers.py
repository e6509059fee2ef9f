"""`--out` receivers that come and go: a stream shows the take, it is not the take. A TCP receiver
that leaves mid-take, and an SRT receiver that starts listening after the take began, are real
sockets and a real ffmpeg on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from live_helpers import free_port

from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.recorder import Recorder
from guangying.live.session import LiveReport, SessionOutputs
from guangying.live.streams import StreamOutput
from guangying.media import open_reader

FFMPEG = shutil.which("ffmpeg")


def test_a_receiver_that_leaves_stops_the_stream_not_the_take(plate_clip, tmp_path):
    """The receiver (OBS, a second monitor's player) closes the connection 1 s into the take. Before,
    the stream's error was raised into the take: it ended, and the director's recording was discarded.
    Now the stream stops with a warning, and the take and its recording run to the end."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received = bytearray()

    def receive_then_leave() -> None:
        conn, _ = listener.accept()
        with conn:
            t_leave = time.monotonic() + 1.0
            while time.monotonic() < t_leave and (chunk := conn.recv(65536)):
                received.extend(chunk)
        listener.close()

    receiver = threading.Thread(target=receive_then_leave, daemon=True)
    receiver.start()
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    recorder = Recorder(source.fps, composite=tmp_path / "take.mp4")
    out = StreamOutput(f"tcp://127.0.0.1:{port}", source.fps, source.width, source.height)
    session = LiveSession(source, settings, SessionOutputs(recorder=recorder, sinks=[out]))
    with pytest.warns(UserWarning, match=r"stream to tcp://127\.0\.0\.1:\d+ stopped [\d.]+ s into the take"):
        report = session.run(duration_s=4.0)
    receiver.join(timeout=10)
    assert len(received) > 10_000  # the stream reached the receiver before it left
    assert report.reason.startswith("--duration") and not report.lost
    assert len(report.outputs_stopped) == 1 and "went on" in report.outputs_stopped[0]
    assert tmp_path / "take.mp4" in report.written
    with open_reader(tmp_path / "take.mp4") as reader:
        times = [frame.time_s for frame in reader]
    assert len(times) >= report.frames_out and times[-1] > 3.0  # the whole take, to its end
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=1e-3)  # constant-rate: dropped frames held


@pytest.mark.skipif(FFMPEG is None or "  srt\n" not in subprocess.run(
    [FFMPEG or "ffmpeg", "-hide_banner", "-protocols"], capture_output=True, text=True).stdout,
    reason="no ffmpeg program with SRT (make test installs ffmpeg with apt where it can)")
def test_an_srt_receiver_that_listens_late_gets_the_stream(plate_clip, tmp_path):
    """The take starts before the receiver listens (OBS opened after `guangying live`, or its media
    source reopened mid-take). Before, the SRT relay ended at once without a word and the stream never
    reached the receiver. Now that is said, and the relay tries again until the receiver gets it."""
    port = free_port(socket.SOCK_DGRAM)
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    out = StreamOutput(f"srt://127.0.0.1:{port}", source.fps, source.width, source.height)
    session = LiveSession(source, settings, SessionOutputs(sinks=[out]))
    reports: list[LiveReport] = []

    def said(text: str, timeout_s: float) -> bool:
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            if any(text in str(w.message) for w in caught):
                return True
            time.sleep(0.1)
        return False

    receiver: subprocess.Popen[bytes] | None = None
    with warnings.catch_warnings(record=True) as caught:  # the stream's warnings come from its thread
        warnings.simplefilter("always")
        take = threading.Thread(target=lambda: reports.append(session.run(duration_s=120.0)), daemon=True)
        take.start()
        try:
            assert said("reaches no receiver", 120.0), [str(w.message) for w in caught]
            receiver = subprocess.Popen(
                [FFMPEG or "ffmpeg", "-hide_banner", "-loglevel", "error",
                 "-i", f"srt://127.0.0.1:{port}?mode=listener", "-frames:v", "10",
                 "-f", "image2", "-update", "1", str(tmp_path / "got.png")],
                stdin=subprocess.DEVNULL,
            )
            assert receiver.wait(timeout=30) == 0 and (tmp_path / "got.png").is_file()
            assert said("reaches its receiver now", 10.0), [str(w.message) for w in caught]
        finally:
            session.request_stop()
            take.join(timeout=30)
            out.close()
            if receiver is not None and receiver.poll() is None:
                receiver.kill()
    assert reports and not reports[0].lost and not reports[0].outputs_stopped


def _streamed(tmp_path, pictures: list[tuple[float, np.ndarray]], gap_s: float = 0.1) -> Path:
    """What a UDP receiver on 127.0.0.1 got of ``--out``, sent ``pictures`` (take time, sRGB float32),
    as an MPEG-TS file."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    datagrams: list[bytes] = []
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            try:
                datagrams.append(receiver.recv(65536))
            except TimeoutError:
                continue

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    height, width = pictures[0][1].shape[:2]
    out = StreamOutput(f"udp://127.0.0.1:{receiver.getsockname()[1]}", Fraction(25), width, height)
    for take_time_s, picture in pictures:
        out.write(SimpleNamespace(composite_rgb_srgb=picture, meta=SimpleNamespace(take_time_s=take_time_s)))
        time.sleep(gap_s)  # the sink drops the oldest frame when it lags; give it time
    out.close()
    time.sleep(0.3)
    done.set()
    thread.join(timeout=5)
    receiver.close()
    got = tmp_path / "got.ts"
    got.write_bytes(b"".join(datagrams))
    return got


def test_a_stream_from_a_slow_engine_keeps_a_keyframe_each_second(tmp_path):
    """An engine keeping 2 frames a second (a heavy set on a laptop): x264 counted its keyframe
    interval in frames, 25 of them, so a receiver joining mid-take (OBS reopened, an SRT relay that
    reconnected) waited 12 s for a picture. Keyframes now come each second of take time."""
    rng = np.random.default_rng(3)  # a changing picture: real P-frames
    pictures = [(t, rng.random((48, 64, 3), dtype=np.float32)) for t in np.arange(0.0, 6.0, 0.5)]
    got = _streamed(tmp_path, pictures)
    with av.open(str(got)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        keys_s = [float(p.pts * p.time_base) for p in packets if p.is_keyframe]
    assert len(packets) == 12, "every frame written reached the receiver"
    start_s = float(packets[0].pts * packets[0].time_base)
    assert np.allclose(np.array(keys_s) - start_s, np.arange(0.0, 6.0, 1.0), atol=0.01), keys_s


def test_a_streams_colours_are_tagged_and_encoded_bt709(tmp_path):
    """The stream was encoded with swscale's default matrix, BT.601, and tagged nothing: a receiver (OBS,
    a player) decodes untagged HD as BT.709, and saturated colours shifted (the recording, tagged BT.709,
    was right)."""
    colours = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9], [0.9, 0.8, 0.1]], np.float32)
    picture = np.repeat(np.repeat(colours[None], 360, axis=0), 320, axis=1)  # four 320-px bars, 1280×360
    got = _streamed(tmp_path, [(t, picture) for t in np.arange(0.0, 0.4, 0.04)], gap_s=0.05)
    with av.open(str(got)) as container:
        frame = next(container.decode(video=0))
    assert (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc) == (1, 1, 1, 1)
    rgb = frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()
    for bar, colour in enumerate(colours):
        seen = rgb[100:260, bar * 320 + 60:bar * 320 + 260].reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(seen, colour * 255, atol=3)
