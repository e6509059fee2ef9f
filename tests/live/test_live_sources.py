"""Real network sources on 127.0.0.1 and bad input: a UDP MPEG-TS stream that stops mid-take, an
MJPEG IP camera that sends damaged pictures, a stream that never starts, a monitor port already taken."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlparse

import av
import cv2
import numpy as np
import pytest
from av.audio.frame import AudioFrame
from click.testing import CliRunner
from live_helpers import (
    FPS,
    SOUND_RATE,
    H,
    LiveProcess,
    MjpegHttpCamera,
    UdpSender,
    W,
    beep_onsets_s,
    free_port,
    processed_frames,
    run_take,
    sync_beeps,
    take_slots,
)

from guangying.base.errors import MediaError
from guangying.base.timecode import format_timecode, parse_timecode
from guangying.cli.main import cli
from guangying.live import LiveSource
from guangying.media import open_reader, open_writer


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
    assert "--loop waits for the source to come back" in live.output, live.output
    assert live.output.count("source lost") == 1, live.output  # the summary line and the error said it twice
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    with open_reader(tmp_path / "take.mp4") as reader:
        frames = sum(1 for _ in reader)
    with open_reader(tmp_path / "matte.mov") as reader:
        mattes = sum(1 for _ in reader)
    # 2 s at 25 fps, constant-rate (what a busy machine dropped held)
    assert len(rows) >= 5 and frames == mattes == take_slots(rows)[-1] + 1
    assert all(r["latency_ms"] >= 0 and r["timecode"] for r in rows)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # nothing half-written left


def test_a_stream_plate_is_the_camera_original(plate_frames, tmp_path):
    """``--record-plate`` of an H.264 stream copies the sender's packets: no encoder beside the keyer, and
    the camera's own pictures, frame for frame at the sender's times (it re-encoded every frame, as
    ProRes in a .mov). A keyframe comes every 4 s, as from an IP camera or an encoder: the plate starts
    at the keyframe before the take, so it holds every frame of the take (it started at the first
    keyframe in the take, up to 4 s late, or not at all), and its timecode is its first picture's, so it
    lines up with the composite's."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record-plate", tmp_path / "plate.mov", "--record", tmp_path / "take.mp4",
        cwd=tmp_path,
    )
    gop = 100  # 4 s: a take of 3 s from anywhere in it almost never starts at a keyframe
    run_take(live, UdpSender(plate_frames, port, seconds=60, gop=gop), seconds=3.0)
    found = re.search(r"(\d+) frames out of (\d+) in", live.output)
    assert found, live.output
    take_frames = int(found.group(2))
    with av.open(str(tmp_path / "plate.mov")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264", "the sender's own packets, not a re-encode"
        times = [float(f.time) for f in container.decode(stream)]
    before_take = len(times) - take_frames  # the pictures from the keyframe before the take to its start
    # every frame the take got, and its GOP (and the one before, when the take began just after a keyframe:
    # a threaded decoder still handed out pictures of the GOP before)
    assert 0 <= before_take < gop + 16 + 3, (len(times), live.output)
    assert times[0] == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=1e-3)  # the sender's clock, no gaps
    with open_reader(tmp_path / "plate.mov") as reader:
        plate_timecode = reader.info.timecode
    first_row = json.loads((tmp_path / "take.frames.jsonl").read_text().splitlines()[0])
    fps = Fraction(25)
    between = parse_timecode(first_row["timecode"], fps)[0] - parse_timecode(plate_timecode, fps)[0]
    # the take's first processed frame may be a few after its first captured one on a busy machine
    assert before_take - 2 <= between <= before_take + first_row["frame"] + 2, (between, before_take)


def test_one_picture_has_one_timecode_in_the_take_and_its_copied_plate(plate_frames, tmp_path):
    """Post conforms the take's composite and the render of its plate by timecode. The take's frames
    were stamped by their arrival: the frames ffmpeg hands over at once after probing a stream each took
    the slot after the last, and the take ran up to 30 frames ahead of its plate from there on (the
    pictures themselves 8 apart). A sender that stalls mid-take and then sends what it held at once must
    not move them either. The sender marks every second with a white picture: each white frame of the
    composite must be a white picture of the plate at the same timecode."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record-plate", tmp_path / "plate.mov", "--record", tmp_path / "take.mp4",
        cwd=tmp_path,
    )
    run_take(live, UdpSender(plate_frames, port, seconds=60, gop=25, sound=True, stall=(5.0, 0.6)),
             seconds=3.5)
    fps = Fraction(25)
    with open_reader(tmp_path / "plate.mov") as reader:
        plate_start = parse_timecode(reader.info.timecode, fps)[0]
        plate_white = {k for k, f in enumerate(reader) if f.rgb.mean() > 0.8}
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    take = processed_frames(tmp_path / "take.mp4", rows)
    take_white = [i for i, rgb in enumerate(take) if rgb.mean() > 0.8]
    assert len(take_white) >= 2 and len(plate_white) >= 3, (take_white, plate_white)
    for i in take_white:
        at = parse_timecode(rows[i]["timecode"], fps)[0] - plate_start
        assert at in plate_white, (i, rows[i]["timecode"], at, sorted(plate_white))


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_a_copied_plate_keeps_the_senders_sound_in_sync(plate_frames, tmp_path, suffix):
    """A camera or encoder that sends sound (its scratch track, what post syncs the sound recordist's
    recording to): the copied plate carries it, AAC as sent, and in sync with the pictures. The sender
    marks the start of every second with a white picture and a 20 ms beep, and a keyframe every 4 s, so
    the stream is joined between two: its header names no parameter sets, and Matroska refused every
    picture without them (the plate was an empty file). (The plate had no sound.)"""
    port = free_port(socket.SOCK_DGRAM)
    plate = tmp_path / f"plate{suffix}"
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record-plate", plate, cwd=tmp_path,
    )
    run_take(live, UdpSender(plate_frames, port, seconds=60, gop=100, sound=True), seconds=3.5)
    pictures, sound = _pictures_and_sound(plate, processed_only=False)
    with av.open(str(plate)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    assert sound[0][0] < 0.1, sound[0][0]  # the sound from the plate's first picture, or nearly
    _assert_marks_heard(pictures, sound)


def test_out_and_the_recording_carry_the_senders_sound_in_sync(plate_frames, tmp_path):
    """``--out`` to OBS or vMix from a camera or encoder that sends sound: the stream carries that sound,
    each packet at its time in the take as the pictures are, so it stays in sync with the keyed picture
    whatever the keyer's delay (the stream had none, and a receiver had to be told the delay by hand).
    The composite recording (``--record``) carries it too, as long as its pictures (it had none)."""
    port, out_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    pictures: list[tuple[float, float]] = []
    sound: list[tuple[float, np.ndarray]] = []

    def receive() -> None:
        with av.open(f"udp://127.0.0.1:{out_port}", timeout=(60.0, 3.0)) as stream_in:
            assert stream_in.streams.audio, "no sound in the stream"
            try:
                for frame in stream_in.decode(video=0, audio=0):
                    if isinstance(frame, av.AudioFrame):
                        sound.append((float(frame.time), frame.to_ndarray().reshape(-1)))
                    else:
                        pictures.append((float(frame.time), float(frame.to_ndarray(format="gray").mean())))
            except av.error.ExitError:
                pass  # the take ended: the stream went quiet

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--out", f"udp://127.0.0.1:{out_port}", "--record", tmp_path / "take.mp4",
        cwd=tmp_path,
    )
    run_take(live, UdpSender(plate_frames, port, seconds=60, gop=25, sound=True), seconds=4.0)
    receiver.join(timeout=30)
    assert sound and pictures, live.output
    _assert_marks_heard(pictures, sound)
    recorded, recorded_sound = _pictures_and_sound(tmp_path / "take.mp4")
    _assert_marks_heard(recorded, recorded_sound)
    # from the first picture (the sound that came ahead of it is held until it anchors the clock: the
    # first 0.16 s were silent), less the AAC priming and the sender's first partial packets
    assert recorded_sound[0][0] < 0.11, recorded_sound[0][0]
    sound_end_s = recorded_sound[-1][0] + recorded_sound[-1][1].size / SOUND_RATE
    assert sound_end_s == pytest.approx(recorded[-1][0] + 1 / 25, abs=0.1)  # as long as the pictures


def test_a_recording_from_a_sender_that_skips_frames_keeps_its_time_and_sound(plate_frames, tmp_path):
    """A sender that skips a picture in four (an encoder under load) but none of its sound: the
    composite recording's pictures keep the sender's times (gaps where nothing came), so its sound stays
    on them. (Numbered one by one, the pictures ran a quarter fast, and the marks drifted from their
    beeps by 40 ms a skipped picture until the sound was anchored again a second off.)"""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record", tmp_path / "take.mp4", cwd=tmp_path,
    )
    sender = UdpSender(plate_frames, port, seconds=60, gop=25, sound=True, skip=lambda n: n % 4 == 2)
    run_take(live, sender, seconds=4.0)
    recorded, recorded_sound = _pictures_and_sound(tmp_path / "take.mp4")
    _assert_marks_heard(recorded, recorded_sound)
    sound_end_s = recorded_sound[-1][0] + recorded_sound[-1][1].size / SOUND_RATE
    assert sound_end_s == pytest.approx(recorded[-1][0] + 1 / 25, abs=0.1)


def _clip_with_beeps(clip: Path, plate_frames, frames: int, sound_codec: str) -> None:
    """A camera clip: a white picture and a beep at the start of each second."""
    with av.open(str(clip), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        sound = container.add_stream(sound_codec, rate=SOUND_RATE, layout="mono")
        for n in range(frames):
            picture = np.ones((H, W, 3), np.float32) if n % 25 == 0 else plate_frames[n % 40]
            rgb = (np.clip(picture, 0, 1) * 255 + 0.5).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = n
            container.mux(video.encode(frame))
            block = AudioFrame.from_ndarray((sync_beeps(n * 1920, 1920) * 32767).astype(np.int16)[None],
                                            format="s16", layout="mono")
            block.sample_rate, block.pts = SOUND_RATE, n * 1920
            container.mux(sound.encode(block))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


def test_a_clip_played_live_brings_its_sound(plate_frames, tmp_path):
    """A clip played as the camera (rehearsing a take, trying the product): the composite recording
    carries the clip's sound in sync with its pictures, also across replays (``--loop``), PCM as a
    camera writes it. (It was silent: only a network sender's sound was kept.)"""
    clip = tmp_path / "camera.mov"
    _clip_with_beeps(clip, plate_frames, 50, "pcm_s16le")  # 2 s
    live = LiveProcess(clip, "--no-monitor", "--loop", "--duration", 5, "-b", "black",
                       "--record", tmp_path / "take.mp4", "--record-plate", tmp_path / "plate.mov",
                       cwd=tmp_path)
    try:
        assert live.wait(timeout_s=180) == 0, live.output
    finally:
        live.kill()
    pictures, recorded_sound = _pictures_and_sound(tmp_path / "take.mp4")
    _assert_marks_heard(pictures, recorded_sound)
    assert len(beep_onsets_s(recorded_sound)) >= 4  # the replays' too
    assert recorded_sound[0][0] < 0.05
    # the plate post renders from, encoded (a clip, not a stream): it had no sound at all
    plate_pictures, plate_sound = _pictures_and_sound(tmp_path / "plate.mov", processed_only=False)
    _assert_marks_heard(plate_pictures, plate_sound)
    assert len(beep_onsets_s(plate_sound)) >= 4


def test_a_looped_clips_aac_sound_stays_on_its_pictures_pass_after_pass(plate_frames, tmp_path):
    """An AAC clip's last packet decodes to more samples than the clip keeps (1024 for 896 here): copied
    pass after pass, the sound fell 2.7 ms later on every replay of this 1 s clip (10.7 ms of a QA
    engineer's), 13 ms by the sixth second and on without end."""
    clip = tmp_path / "camera.mp4"
    _clip_with_beeps(clip, plate_frames, 25, "aac")  # 1 s
    live = LiveProcess(clip, "--no-monitor", "--loop", "--duration", 7, "-b", "black",
                       "--record", tmp_path / "take.mp4", cwd=tmp_path)
    try:
        assert live.wait(timeout_s=180) == 0, live.output
    finally:
        live.kill()
    pictures, recorded_sound = _pictures_and_sound(tmp_path / "take.mp4")
    beeps_s = beep_onsets_s(recorded_sound)
    white_s = [t for t, mean in pictures if mean > 200]
    # a busy machine drops some passes' white pictures: a late pass still shows the drift (8 ms by the 3rd s)
    assert len(white_s) >= 3 and max(white_s) >= 3.0, white_s
    late_ms = [1000 * (np.min(beeps_s[beeps_s >= t - 0.02]) - t) for t in white_s]
    assert all(abs(ms) < 2.5 for ms in late_ms), late_ms


def _pictures_and_sound(path: Path, processed_only: bool = True
                        ) -> tuple[list[tuple[float, float]], list[tuple[float, np.ndarray]]]:
    """A file's pictures as (time, mean brightness) and its sound as (time, mono samples). Of a live
    recording (``processed_only``), the pictures its sidecar names, not the holds of dropped frames."""
    with av.open(str(path)) as container:
        assert container.streams.audio, f"{path} has no sound"
        pictures = [(float(f.time), float(f.to_ndarray(format="gray").mean()))
                    for f in container.decode(video=0)]
    with av.open(str(path)) as container:  # from the start again: after a seek, AAC's first frame is cut
        sound = [(float(f.time), f.to_ndarray().reshape(-1)) for f in container.decode(audio=0)]
    if processed_only:
        sidecar = path.with_name(f"{path.stem}.frames.jsonl")
        slots = take_slots([json.loads(line) for line in sidecar.read_text().splitlines()])
        assert len(pictures) == slots[-1] + 1  # constant-rate, one picture a slot
        pictures = [pictures[slot] for slot in slots]
    return pictures, sound


def _assert_marks_heard(pictures: list[tuple[float, float]], sound: list[tuple[float, np.ndarray]]) -> None:
    """Each white picture (the sender's marks; keyed, they stay opaque) within 45 ms of its beep: lip sync
    within a frame and the encoder's priming (1024 samples). Sound shifted by a copy's offset, or placed
    by arrival, would be off by seconds or by the keyer's delay."""
    beeps_s = beep_onsets_s(sound)
    sound_end_s = sound[-1][0] + sound[-1][1].size / SOUND_RATE
    # heard, if in the sound (the take's last picture can go out before its sound's last packet)
    white_s = [t for t, mean in pictures if mean > 200 and sound[0][0] + 0.05 < t < sound_end_s - 0.05]
    assert len(white_s) >= 2, (white_s, beeps_s)
    for t in white_s:
        assert np.min(np.abs(beeps_s - t)) < 0.045, (t, beeps_s)
    # and no beep over another picture (sound from before the take, placed in it); the engine may have
    # dropped a white one
    for t in beeps_s:
        nearest_s, mean = min(pictures, key=lambda picture: abs(picture[0] - t))
        assert abs(nearest_s - t) > 0.02 or mean > 200, (t, white_s)


def test_an_hevc_plate_opens_in_apples_players(plate_frames, tmp_path):
    """An HEVC camera or encoder copied into a .mp4 plate: tagged 'hvc1' with its parameter sets in the
    header, as QuickTime, Final Cut and iOS need (ffmpeg's default 'hev1' does not open there)."""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=60, gop=25, codec="libx265")
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout", 20, "--duration", 2,
        "-b", "black", "--record-plate", tmp_path / "plate.mp4", cwd=tmp_path,
    )
    try:
        sender.start()
        assert live.wait(timeout_s=120) == 0, live.output
    finally:
        sender.stop_now.set()
        live.kill()
    found = re.search(r"(\d+) frames out of (\d+) in", live.output)
    assert found, live.output
    with av.open(str(tmp_path / "plate.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.codec_tag) == ("hevc", "hvc1")
        assert stream.codec_context.extradata  # the hvcC box: the parameter sets hvc1 requires
        assert sum(1 for _ in container.decode(stream)) >= int(found.group(2))


def test_a_stream_joined_between_keyframes_starts_at_its_next(plate_frames):
    """An IP camera or an encoder sends a keyframe every few seconds, and a stream is joined anywhere
    between two: the probe saw no picture header, and the take started at 0×0 and crashed ("This is a
    bug"). Now the source waits for the keyframe (within the open timeout), and the pictures before it
    are not counted as damaged; a keyframe later than the timeout is a clear error."""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=20, gop=150)  # a keyframe at 0 s, 6 s, 12 s …
    sender.start()
    try:
        time.sleep(1.0)
        with pytest.raises(MediaError, match="no keyframe came"):
            LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=1.5)
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10)
        assert (source.width, source.height) == (W, H)
        source.start()
        source.begin_take()
        frame = source.get(timeout_s=5)
        assert frame is not None and frame.rgb.shape == (H, W, 3)
        time.sleep(0.5)
        assert source.damaged == 0 and source.frames_in >= 5
        source.stop()
    finally:
        sender.stop_now.set()


def test_a_stream_joined_just_before_a_keyframe_starts_at_that_keyframe(plate_frames):
    """Joined just before a keyframe, the probe read it (and learnt the picture size from it), and
    then dropped what it had read ("nobuffer"): the pictures began only at the keyframe after, a whole
    interval later (4 s here; a take shorter than that recorded a plate of one picture)."""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=20, gop=100)  # a keyframe at 0 s, 4 s, 8 s …
    sender.start()
    try:
        while sender.sent < 93:  # 0.3 s before the keyframe at picture 100
            time.sleep(0.005)
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10)
        source.start()
        source.begin_take()
        while sender.sent < 180 and sender.is_alive():
            time.sleep(0.01)
        source.stop()
    finally:
        sender.stop_now.set()
    assert source.frames_in >= 40, source.frames_in  # pictures from 100 on (not from 200)


def test_pictures_a_sender_skips_are_gaps_on_the_takes_frame_grid(plate_frames):
    """An encoder that skips frames under load (OBS's "skipped frames due to encoding lag"), a webcam
    that halves its rate in dim light, a network that loses whole pictures: the stream's timestamps
    leave their slots empty. Each picture takes its slot by the sender's clock, so the gaps show, as
    damaged pictures' do. (They were numbered one by one: the recordings ran fast, out of step with
    the copied plate and with the sound.)"""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=20, gop=25, skip=lambda n: n % 3 == 1)
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=100)
        source.start()
        source.begin_take()
        frames = [source.get(timeout_s=5) for _ in range(30)]
        source.stop()
    finally:
        sender.stop_now.set()
    indices = [f.index for f in frames if f is not None]
    assert len(indices) == 30 and indices[0] == 0
    steps = np.diff(indices)
    # sent: 0, 2, 3, 5, 6, 8 …: steps of 2 and 1 in turn, from wherever the take began
    assert set(steps) == {1, 2} and np.all(steps[:-1] + steps[1:] == 3), indices
    assert all(f.take_time_s == pytest.approx(f.index / 25) for f in frames if f is not None)


def _numbered(plate_frames: list[np.ndarray]) -> list[np.ndarray]:
    """100 pictures of the plate, each numbered by the grey of its top-left corner (:func:`_number_of`)."""
    numbered = []
    for n in range(100):
        rgb = plate_frames[n % len(plate_frames)].copy()
        rgb[:64, :64] = (40 + 2 * n) / 255
        numbered.append(rgb)
    return numbered


def _number_of(rgb_codes: np.ndarray) -> int:
    """The number :func:`_numbered` gave a picture, read from its 8-bit codes as the sender sent them."""
    return round((float(np.mean(rgb_codes[8:56, 8:56])) - 40) / 2)


def test_a_picture_is_handed_on_as_soon_as_it_has_come(plate_frames):
    """The stream's decoder holds no pictures back: with frame threads it handed each picture on only
    when two or three more had come (60–110 ms of latency at 25 fps), and when the sender paused or
    stopped, its last pictures came out only when it sent again, a second or more late (after a
    restart, counted as the new stream's lost data). Each picture here is numbered by its grey; the
    sender pauses for 2 s after picture 74, and by then every picture the demuxer has let go of
    (MPEG-TS hands a picture on when the next one starts) must be out."""
    numbered = _numbered(plate_frames)
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(numbered, port, seconds=8, gop=25, stall=(3.0, 2.0))
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=200)
        source.start()
        source.begin_take()
        while sender.sent < 75:
            time.sleep(0.01)
        time.sleep(1.0)  # into the pause: what came before it has long been decoded
        frames = []
        while (frame := source.get(timeout_s=0.05)) is not None:
            frames.append(frame)
        source.stop()
    finally:
        sender.stop_now.set()
    assert frames[-1].rgb.dtype == np.uint8  # the sender's 8-bit codes
    last = _number_of(frames[-1].rgb)
    # 74 was the last sent: the demuxer holds it, and the sender's packet buffer may hold part of 73
    assert last >= 72, f"the last picture handed on before the pause was {last}, of 74 sent"


def test_sound_is_handed_out_from_the_takes_start_and_no_earlier(plate_frames):
    """A stream is read while the engine warms up. Its sound was handed to the recordings then too,
    placed by the frames of the warm-up, so it came out of order, and a recording refused up to half a
    second of the take's own (a packet may not go before the last). Now the sound is held until the
    take's first frame places it: it comes in order, from the take's start."""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=20, gop=25, sound=True)
    sender.start()
    handed: list[float] = []
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=100)
        source.sound_listeners.append(lambda packet, take_time_s: handed.append(take_time_s))
        source.start()
        time.sleep(1.5)  # the warm-up
        source.begin_take()
        assert source.get(timeout_s=5) is not None
        time.sleep(1.0)
        source.stop()
    finally:
        sender.stop_now.set()
    assert handed and np.all(np.diff(handed) > 0), handed
    in_take = [t for t in handed if t >= 0]
    assert in_take[0] < 0.05 and in_take[-1] > 0.8, handed


def _comb(rgb: np.ndarray) -> float:
    """How much each row departs from the mean of its neighbours: the teeth of two fields a field
    apart in time, where something moves."""
    grey = rgb.astype(np.float32).mean(axis=2)
    return float(np.abs(grey[1:-1] - (grey[:-2] + grey[2:]) / 2).mean())


def test_an_interlaced_sender_is_deinterlaced(tmp_path):
    """A broadcast encoder or an SDI converter sending 1080i: each picture holds two fields a field
    apart in time, and a bar moving across the picture showed comb teeth on both edges, which the key
    made into a combed matte. The pictures now come deinterlaced (ffmpeg's bwdif, a frame for a frame),
    at the sender's rate and times, and the source says so once."""
    frames = []
    for n in range(25):  # a bright bar moving right 8 px a frame, its second field 4 px on
        frame = np.full((H, W, 3), 0.25, np.float32)
        x = 20 + 8 * n
        frame[40:150:2, x:x + 40], frame[41:150:2, x + 4:x + 44] = 0.9, 0.9
        frames.append(frame)
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(frames, port, seconds=20, gop=25, interlaced=True)
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=100)
        with pytest.warns(UserWarning, match="sends interlaced pictures"):
            source.start()
            source.begin_take()
            got = [source.get(timeout_s=5) for _ in range(20)]
        source.stop()
    finally:
        sender.stop_now.set()
    assert all(f is not None for f in got)
    assert [f.index for f in got] == list(range(20))
    combed = _comb((frames[5] * 255).astype(np.uint8))  # as sent (a flat picture has none)
    shown = np.mean([_comb(f.rgb) for f in got])
    assert shown < 0.25 * combed, (shown, combed)  # measured: 0.19 against 2.6


@contextlib.contextmanager
def _stopped_at_the_end(live: LiveProcess, *senders: UdpSender) -> Iterator[None]:
    """Whatever happens in the block, the senders stop and the live process is killed at its end."""
    try:
        yield
    finally:
        for sender in senders:
            sender.stop_now.set()
        live.kill()


@pytest.mark.parametrize("second_size", ["same", "larger"])
def test_a_copied_plate_goes_on_across_a_restarted_sender(plate_frames, tmp_path, second_size):
    """The sender stops and starts again within the lost timeout (OBS's stream stopped and started):
    its clock starts again at 0, which the muxer refuses as time going backwards. The copy goes on
    from the new keyframe, placed by its arrival; a sender that comes back at another size ends the
    copy with a warning, and the take and its plate are kept."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout", 20, "--lost-timeout", 3,
        "-b", "black", "--record-plate", tmp_path / "plate.mkv", "--sidecar", tmp_path / "take.jsonl",
        cwd=tmp_path,
    )
    h, w = plate_frames[0].shape[:2]
    larger = [cv2.resize(f, (w * 3 // 2, h * 3 // 2)) for f in plate_frames]
    again = plate_frames if second_size == "same" else larger
    first, second = UdpSender(plate_frames, port, seconds=60), UdpSender(again, port, seconds=2.0)
    with _stopped_at_the_end(live, first, second):
        first.start()
        live.wait_live()
        time.sleep(2.0)
        first.stop_now.set()
        first.join()
        time.sleep(1.0)  # a second without pictures, then the sender is back
        second.start()
        live.wait(timeout_s=60)
    with av.open(str(tmp_path / "plate.mkv")) as container:
        decoded = list(container.decode(video=0))
        header_size = (container.streams.video[0].width, container.streams.video[0].height)
    times = [float(f.time) for f in decoded]
    assert np.all(np.diff(times) > 0), "the plate's time never goes back"
    # every picture the size its header says (the first pictures of the larger sender were copied before
    # the decoder told the size: a plate of two sizes)
    assert {(f.width, f.height) for f in decoded} == {header_size} == {(w, h)}
    found = re.search(r"(\d+) frames out of (\d+) in", live.output)
    assert found, live.output
    if second_size == "same":
        assert len(times) >= 0.8 * int(found.group(2)), (len(times), live.output)
        assert np.diff(times).max() > 0.8  # the pause between the senders stays a pause
        # in the take's frames too: numbered on from the last picture, the composite closed the pause up
        # and ran a pause ahead of the plate from then on
        rows = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()]
        take_times = np.array([r["take_time_s"] for r in rows])
        pause_s = np.diff(take_times).max()
        assert pause_s == pytest.approx(np.diff(times).max(), abs=0.25), (pause_s, np.diff(times).max())
    else:
        assert "the plate copy stopped" in live.output, live.output  # "… changed size" or "another format"
        assert len(times) >= 25  # the first sender's two seconds, less the start
        # said when it stopped (the take went on for seconds after), not only when the take ended
        assert live.output.index("the plate copy does not") < live.output.index("source lost"), live.output


@pytest.mark.parametrize("ahead_s", [9.0, 3.0])
def test_two_senders_on_one_address_keep_the_take_its_length(plate_frames, tmp_path, ahead_s):
    """A second encoder sent to the take's address, its clock 9 s ahead: each of its pictures was taken
    as a leap of the one clock over a gap, and a 16 s take became a 299 s recording, its timecode 9–10 s
    off the time of day. Placed by their arrival, the take keeps its length and says why."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout", 30, "-b", "black", "--duration", 5,
        "--record", tmp_path / "take.mkv", "--sidecar", tmp_path / "take.jsonl", cwd=tmp_path,
    )
    first = UdpSender(plate_frames, port, seconds=60)
    second = UdpSender(plate_frames[::-1], port, seconds=60, clock_s=ahead_s)
    with _stopped_at_the_end(live, first, second):
        first.start()
        live.wait_live()
        second.start()
        live.wait(timeout_s=60)
    assert "two senders on one address?" in live.output, live.output
    taken = re.search(r"out of (\d+) in.*?(?:(\d+) with artefacts|latency)", live.output)
    assert taken and int(taken.group(2) or 0) <= int(taken.group(1)), live.output  # (301 of 203)
    rows = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()]
    assert rows[-1]["take_time_s"] < 5.5, rows[-1]  # a 3 s lead kept the take 2 s ahead: 7 s long
    scale = (90000, 1500, 25, 1)  # frames in an hour, a minute, a second, a frame at 25 fps
    counts = [sum(int(v) * k for v, k in zip(re.split("[:;]", r["timecode"]), scale, strict=True))
              for r in rows]
    assert counts[-1] - counts[0] <= rows[-1]["frame"] - rows[0]["frame"] + 2  # not 2 labels a frame
    with open_reader(tmp_path / "take.mkv") as reader:
        assert reader.info.frame_count is None or reader.info.frame_count < 6 * reader.info.fps
        assert sum(1 for _ in reader) < 6 * reader.info.fps
    wall = [datetime.fromtimestamp(r["capture_time_s"]) for r in rows]
    # each on the time of day it was taken, within the 2 s a sender's clock may lead its pictures'
    # arrivals before the two clocks are told apart (labels count whole seconds): not 3–9 s off
    for row, taken in zip(rows, wall, strict=True):
        h, m, sec, _ = (int(v) for v in re.split("[:;]", row["timecode"]))
        of_day = taken.hour * 3600 + taken.minute * 60 + taken.second + taken.microsecond / 1e6
        assert abs(h * 3600 + m * 60 + sec - of_day) < 3.0, (row, taken)


def _lossy_relay(listen_port: int, to_port: int, drop: tuple[float, float],
                 stop: threading.Event) -> threading.Thread:
    """Forward UDP datagrams from ``listen_port`` to ``to_port``, dropping those that arrive within
    ``drop`` (seconds after the first): a network that loses a burst of packets."""
    inbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbound.bind(("127.0.0.1", listen_port))
    inbound.settimeout(0.2)

    def run() -> None:
        outbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = None
        while not stop.is_set():
            try:
                data = inbound.recv(65536)
            except TimeoutError:
                continue
            t0 = t0 if t0 is not None else time.monotonic()
            if not drop[0] <= time.monotonic() - t0 < drop[1]:
                outbound.sendto(data, ("127.0.0.1", to_port))
        inbound.close()
        outbound.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_pictures_decoded_after_lost_packets_are_counted_and_marked(plate_frames):
    # a burst of lost UDP packets in a long keyframe interval smeared every picture up to the next
    # keyframe into the recordings while the summary said "0 dropped", with no count and no word
    relay_port, port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    stop = threading.Event()
    relay = _lossy_relay(relay_port, port, (1.0, 1.15), stop)
    sender = UdpSender(plate_frames, relay_port, seconds=20, gop=50)  # a keyframe every 2 s
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=200)
        with pytest.warns(UserWarning, match="data was lost in transit"):
            source.start()
            source.begin_take()
            got = [source.get(timeout_s=5) for _ in range(90)]
        source.stop()
    finally:
        sender.stop_now.set()
        stop.set()
        relay.join()
    frames = [f for f in got if f is not None]
    marked = [f.index for f in frames if f.damage == "artefacts"]
    assert source.artefacts == len(marked) >= 5, marked  # measured: 25 (frames 22–49, 3 lost whole)
    # one run, every picture delivered from the loss to the next keyframe; clean from that keyframe on
    assert [f.index for f in frames if marked[0] <= f.index <= marked[-1]] == marked
    after = [f for f in frames if f.index > marked[-1]]
    assert after and all(f.damage is None for f in after)


def test_an_outage_under_loop_is_said_and_shown(plate_frames, tmp_path):
    # with --loop a sender gone for seconds was waited for without a word: the terminal said nothing
    # and the monitor showed "live" with no banner; then every outage after the first went unsaid on
    # the terminal (the same words, which Python's warnings print once)
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(f"udp://127.0.0.1:{port}", "--loop", "--port", 0, "--source-timeout", 20,
                       "--lost-timeout", 1, "-b", "black", cwd=tmp_path)
    senders = [UdpSender(plate_frames, port, seconds=60) for _ in range(3)]
    seen: list[tuple[str, str]] = []
    gaps_s: list[float] = []  # from the last picture sent to the next sender's start

    def wait_for(state: str, deadline: float) -> None:
        while not seen or seen[-1][0] != state:
            assert time.monotonic() < deadline, (seen, live.output)
            stats = json.loads(urllib.request.urlopen(url + "stats.json", timeout=5).read())
            seen.append((stats["state"], stats["message"]))
            time.sleep(0.2)

    try:
        senders[0].start()
        url = live.wait_url()
        live.wait_live()
        for gone, back in zip(senders, senders[1:], strict=False):
            time.sleep(1.0)
            gone.stop_now.set()
            gone.join()
            stopped_s = time.monotonic()
            wait_for("lost", time.monotonic() + 20)
            back.start()
            gaps_s.append(time.monotonic() - stopped_s)
            wait_for("live", time.monotonic() + 20)
        live.proc.send_signal(signal.SIGTERM)
        live.wait(timeout_s=30)
    finally:
        for sender in senders:
            sender.stop_now.set()
        live.kill()
    assert "waiting for it to come back (--loop)" in next(m for s, m in seen if s == "lost")
    for outage in (1, 2):
        assert f"(outage {outage} of this take); waiting for it to come back (--loop)" in live.output
    back = r"is back at [\d:]+, ([\d.]+) s after its last picture"
    said_s = [float(s) for s in re.findall(back, live.output)]
    assert len(said_s) == 2, live.output
    # at least the time nothing was sent (less the rounding to 0.1 s); a keyframe may add a little. It
    # was said when the stream reopened, counted from when the last picture was handed on: 0.1–2 s short
    pairs = list(zip(said_s, gaps_s, strict=True))
    assert all(gap - 0.08 <= said <= gap + 1.0 for said, gap in pairs), pairs


def test_a_stop_during_an_outage_under_loop_ends_the_take_at_once(plate_frames, tmp_path):
    """Ctrl-C or SIGTERM while --loop waited for a lost sender came only when the open waiting for it
    gave up, up to --source-timeout later (an operator saw no reaction for a minute and reached for
    kill -9, which leaves the recordings unfinished)."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(f"udp://127.0.0.1:{port}", "--loop", "--no-monitor", "--source-timeout", 60,
                       "--lost-timeout", 1, "-b", "black", "--record", "take.mp4", cwd=tmp_path)
    sender = UdpSender(plate_frames, port, seconds=60)
    try:
        sender.start()
        live.wait_live()
        time.sleep(1.0)
        sender.stop_now.set()
        sender.join()
        deadline = time.monotonic() + 30
        while "(outage 1 of this take)" not in live.output:
            assert time.monotonic() < deadline and live.proc.poll() is None, live.output
            time.sleep(0.1)
        time.sleep(1.0)  # the stream's open waiting for the sender again
        stopped = time.monotonic()
        live.proc.send_signal(signal.SIGTERM)
        code = live.wait(timeout_s=90)
        waited_s = time.monotonic() - stopped
    finally:
        sender.stop_now.set()
        live.kill()
    assert code == 0 and "wrote take.mp4" in live.output, live.output  # a take stopped, finalised
    assert waited_s < 20, waited_s  # measured: about 1 s (it was the 60 s source timeout)
    with open_reader(tmp_path / "take.mp4") as reader:
        assert reader.info.frame_count and reader.info.frame_count > 5


def test_sender_that_changes_picture_size_mid_take_does_not_end_it(plate_frames, tmp_path):
    """A camera switched from one format to another (here to 1.5× the size) while the take runs: the
    frames are scaled to the take's size, the take and its recording go on, and the change is said."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 20, "--lost-timeout", 1,
        "-b", "black", "--record", tmp_path / "take.mp4", cwd=tmp_path,
    )
    h, w = plate_frames[0].shape[:2]
    larger = [cv2.resize(f, (w * 3 // 2, h * 3 // 2)) for f in plate_frames]
    first, second = UdpSender(plate_frames, port, seconds=60), UdpSender(larger, port, seconds=2.0)
    try:
        first.start()
        live.wait_url()  # the take runs at the first format …
        time.sleep(2.0)
        first.stop_now.set()
        first.join()
        second.start()  # … then the sender comes back at the new size, within the lost timeout
        code = live.wait(timeout_s=60)  # ends when the second format stops: the source is lost
    finally:
        first.stop_now.set()
        second.stop_now.set()
        live.kill()
    assert code != 0 and "source lost" in live.output, live.output
    assert f"changed from {w}×{h} to {w * 3 // 2}×{h * 3 // 2} mid-take" in live.output
    with open_reader(tmp_path / "take.mp4") as reader:
        sizes = {(f.width, f.height) for f in reader}
        frames = reader.info.frame_count
    assert sizes == {(w, h)} and frames is not None and frames >= 60  # both formats, less drops


def _broken_jpeg(n: int, jpeg: bytes) -> bytes:
    """A camera firmware's broken picture: its Huffman tables overwritten (even n), or cut off after
    the headers (odd n). ffmpeg's decoder refuses both, where it conceals a mere truncated scan."""
    if n % 2:
        return jpeg[:600]
    at = jpeg.find(b"\xff\xc4")
    return jpeg[: at + 4] + b"\xff" * 16 + jpeg[at + 20:]


def test_ip_camera_damaged_pictures_are_skipped_and_counted(plate_frames, tmp_path):
    """Every fourth picture from an MJPEG camera over HTTP is damaged: each is skipped and counted, and
    the take goes on to the camera's end. (The first damaged picture used to end the take.)"""
    def damage(n: int, jpeg: bytes) -> bytes:
        return _broken_jpeg(n, jpeg) if n % 4 == 3 else jpeg

    camera = MjpegHttpCamera(plate_frames, count=250, damage=damage)
    live = LiveProcess(camera.url, "--port", 0, "--source-timeout", 20, "--lost-timeout", 1, "-b", "black",
                       "--record", tmp_path / "take.mp4", cwd=tmp_path)
    try:
        code = live.wait(timeout_s=120)
    finally:
        live.kill()
        camera.close()
    found = re.search(r"(\d+) frames out of (\d+) in, \d+ dropped, (\d+) damaged \(skipped\)", live.output)
    assert found, live.output
    frames_in, damaged = int(found.group(2)), int(found.group(3))
    assert frames_in >= 30 and abs(damaged - frames_in / 3) <= 2, live.output  # one damaged per 3 good
    assert "sent a damaged picture" in live.output and "only damaged" not in live.output
    assert code != 0 and "closed the connection" in live.output  # at the camera's end, not its first damage
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    assert len(rows) == int(found.group(1))
    with open_reader(tmp_path / "take.mp4") as reader:  # a damaged picture's slot holds the one before
        assert reader.info.frame_count == take_slots(rows)[-1] + 1


def test_an_ip_camera_that_starts_late_is_waited_for():
    # ffmpeg's HTTP open is refused at once while nothing listens: the take failed in a millisecond
    # ("Connection refused") where a stream's sender is waited for until --source-timeout
    port = free_port()
    late: list[MjpegHttpCamera] = []
    starter = threading.Timer(1.5, lambda: late.append(MjpegHttpCamera(
        [np.full((H, W, 3), 0.5, np.float32)], count=100, damage=lambda n, jpeg: jpeg, port=port)))
    starter.start()
    try:
        source = LiveSource(f"http://127.0.0.1:{port}/video", open_timeout_s=10, read_timeout_s=2.0)
        source.start()
        assert source.get(timeout_s=10) is not None
        source.stop()
    finally:
        starter.join()
        for camera in late:
            camera.close()
    assert (source.width, source.height) == (W, H)


def test_a_stop_while_waiting_for_the_sender_ends_at_once(tmp_path):
    # ffmpeg's open waited in C for the whole --source-timeout, and the stop only came after it
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(f"udp://127.0.0.1:{port}", "--no-monitor", "--source-timeout", 30, "-b", "black",
                       cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60  # the interpreter up and in the open (3 s was short under load)
        while "waiting for udp://" not in live.output:
            assert time.monotonic() < deadline and live.proc.poll() is None, live.output
            time.sleep(0.05)
        time.sleep(0.5)
        stopped = time.monotonic()
        live.proc.send_signal(signal.SIGTERM)
        code = live.wait(timeout_s=15)
        waited_s = time.monotonic() - stopped
    finally:
        live.kill()
    assert code == 143, live.output
    # ended by the stop, not by the source timeout that followed it (measured: 0.3 s after the signal)
    assert "stopped by SIGTERM" in live.output and "no picture from" not in live.output, live.output
    assert waited_s < 20, waited_s


def test_camera_sending_only_damaged_pictures_is_lost():
    """A camera whose every picture is damaged (a wrong format, a broken cable) counts as lost after
    the read timeout, as a silent one does, and says why."""
    camera = MjpegHttpCamera([np.full((H, W, 3), 0.5, np.float32)], count=300,
                             damage=lambda n, jpeg: jpeg if n < 10 else _broken_jpeg(n, jpeg))
    try:
        source = LiveSource(camera.url, open_timeout_s=10, read_timeout_s=1.0)
        with pytest.warns(UserWarning, match="sent a damaged picture"):
            source.start()
            assert source.ended.wait(timeout=30)
        source.stop()
    finally:
        camera.close()
    assert source.lost and source.end_reason is not None
    assert "only damaged pictures for 1 s" in source.end_reason, source.end_reason
    assert 25 < source.damaged < 60  # 1 s at 25 fps, then it stopped reading


def test_ip_camera_at_its_own_rate_is_recorded_at_it(tmp_path):
    """An MJPEG camera over HTTP sending 10 pictures a second: the stream carries no rate and ffmpeg
    assumes 25, so a take was recorded two and a half times too fast. The rate is measured from the
    first pictures' arrivals, and the recordings place each frame at its arrival in the take."""
    camera = MjpegHttpCamera([np.full((H, W, 3), 0.5, np.float32)], count=60, damage=lambda n, jpeg: jpeg,
                             fps=10)
    try:
        source = LiveSource(camera.url, open_timeout_s=10)
        assert source.fps == 10 and not source.rate_known
        source.stop()
    finally:
        camera.close()
    # 12 s: the take starts once the engine is warm, which a cold compile cache delays
    camera = MjpegHttpCamera([np.full((H, W, 3), 0.5, np.float32)], count=120, damage=lambda n, jpeg: jpeg,
                             fps=10)
    live = LiveProcess(camera.url, "--no-monitor", "--source-timeout", 20, "--lost-timeout", 1, "-b", "black",
                       "--record", tmp_path / "take.mkv", "--record-plate", tmp_path / "plate.mkv",
                       cwd=tmp_path)
    try:
        live.wait(timeout_s=120)
    finally:
        live.kill()
        camera.close()
    assert (tmp_path / "take.frames.jsonl").is_file(), live.output
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    assert len(rows) >= 20, live.output
    arrivals = np.array([r["capture_time_s"] for r in rows]) - rows[0]["capture_time_s"]
    take_times = np.array([r["take_time_s"] - rows[0]["take_time_s"] for r in rows])
    # arrivals are on the wall clock, take times on the monotonic one, which a machine's time service
    # may slew apart by up to half a percent (seen here): each time at its arrival, up to that rate
    slope, offset = np.polyfit(arrivals, take_times, 1)
    assert slope == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(take_times, slope * arrivals + offset, atol=2e-3)
    with av.open(str(tmp_path / "plate.mkv")) as container:  # the camera's own JPEGs, copied
        assert container.streams.video[0].codec_context.name == "mjpeg"
    for name in ("take.mkv", "plate.mkv"):
        with open_reader(tmp_path / name) as reader:
            assert reader.info.fps == 10, name
            assert reader.info.timecode, name  # a Matroska plate copy had none to conform the take by
            times = [f.time_s for f in reader]
        # as long as the camera sent: about 0.1 s a picture, not 0.04
        assert times[-1] == pytest.approx(0.1 * (len(times) - 1), rel=0.2), (name, times[-1], len(times))


def test_stream_that_never_starts_fails_within_seconds():
    port = free_port(socket.SOCK_DGRAM)
    t0 = time.monotonic()
    url = f"udp://127.0.0.1:{port}"
    res = CliRunner().invoke(cli, ["live", url, "--source-timeout", "1.5", "--no-monitor"])
    assert res.exit_code != 0
    assert "no picture from stream" in res.output and "sender running" in res.output
    assert time.monotonic() - t0 < 10
    # said at once: nothing was printed while an encoder or a camera started
    assert res.output.startswith(f"waiting for {url}: its first picture (up to 1.5 s"), res.output


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


def _stopped_take(plate_clip, tmp_path, stop) -> tuple[int, str, list[dict]]:  # type: ignore[no-untyped-def]
    live = LiveProcess(plate_clip, "--loop", "--port", 0, "-b", "grey", "--record", tmp_path / "take.mp4",
                       cwd=tmp_path)
    try:
        url = live.wait_url()
        deadline = time.monotonic() + 60
        while json.loads(urllib.request.urlopen(url + "stats.json", timeout=5).read())["frames_out"] < 5:
            assert time.monotonic() < deadline, live.output
            time.sleep(0.1)
        stop(live, url)
        code = live.wait(timeout_s=60)
    finally:
        live.kill()
    assert (tmp_path / "take.frames.jsonl").is_file(), live.output
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    with open_reader(tmp_path / "take.mp4") as reader:
        recorded = sum(1 for _ in reader)
    # every processed frame, and the pictures that came after the last one held to the take's end (a
    # busy machine drops the last few)
    taken = re.search(r"out of (\d+) in", live.output)
    assert taken and len(rows) > 0, live.output
    assert take_slots(rows)[-1] + 1 <= recorded <= int(taken.group(1)), live.output
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    return code, live.output, rows


def test_sigterm_finalises_the_take(plate_clip, tmp_path):
    def terminate(live, url) -> None:  # type: ignore[no-untyped-def]
        live.proc.send_signal(signal.SIGTERM)

    code, output, _ = _stopped_take(plate_clip, tmp_path, terminate)
    assert code == 0 and "stopped" in output


def test_ctrl_c_pressed_again_while_the_take_ends_is_ignored(plate_clip, tmp_path):
    # the presses after the first, landing while the take said what it wrote and exited, turned its
    # exit 0 into 130 ("Aborted!"), or killed it with SIGALRM (exit 142) after its recordings were done
    def press_thrice(live, url) -> None:  # type: ignore[no-untyped-def]
        for _ in range(3):
            live.proc.send_signal(signal.SIGINT)
            time.sleep(0.15)

    code, output, _ = _stopped_take(plate_clip, tmp_path, press_thrice)
    assert code == 0 and "stopped" in output and "Aborted" not in output, output


def test_page_stop_button_finalises_the_take(plate_clip, tmp_path):
    def press_stop(live, url) -> None:  # type: ignore[no-untyped-def]
        req = urllib.request.Request(url + "stop", b"{}", {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read()) == {"stopping": True}

    code, output, rows = _stopped_take(plate_clip, tmp_path, press_stop)
    assert code == 0 and "stopped from the page" in output
    assert rows[-1]["frame"] > rows[0]["frame"]  # looped past the clip's 40 frames is fine too


def test_out_streams_mpegts_over_udp(plate_clip):
    port = free_port(socket.SOCK_DGRAM)
    got: list[tuple[int, int]] = []

    def receive() -> None:
        with av.open(f"udp://127.0.0.1:{port}", timeout=(20.0, 3.0)) as stream_in:
            for frame in stream_in.decode(video=0):
                got.append((frame.width, frame.height))
                if len(got) >= 10:
                    return

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    time.sleep(0.3)
    res = CliRunner().invoke(cli, ["live", str(plate_clip), "--no-monitor", "--loop", "--duration", "4",
                                   "--out", f"udp://127.0.0.1:{port}"])
    receiver.join(timeout=20)
    assert res.exit_code == 0, res.output
    assert len(got) >= 10 and set(got) == {(320, 192)}


def test_virtual_camera_without_v4l2loopback_says_what_to_do(plate_clip):
    if Path("/sys/module/v4l2loopback").exists():
        pytest.skip("this machine has v4l2loopback; the message is for machines without it")
    args = ["live", str(plate_clip), "--no-monitor", "--virtual-cam", "--duration", "1"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "v4l2loopback" in res.output and "--out udp://" in res.output


def test_still_picture_stays_live_until_the_take_is_stopped(plate_frames, tmp_path):
    # A photo of the actor on the screen, to tune the key on: it was one frame, then "end of file".
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), (plate_frames[5][..., ::-1] * 255 + 0.5).astype("uint8"))
    res = CliRunner().invoke(cli, ["live", str(still), "--no-monitor", "--fps", "25", "--duration", "2",
                                   "-b", "grey", "--record", str(tmp_path / "take.mp4")])
    assert res.exit_code == 0, res.output
    with open_reader(tmp_path / "take.mp4") as reader:
        frames = [f.rgb for f in reader]
    # About 50 at 25 fps; fewer while a cold numba cache compiles the keyer, but more than the one
    # frame and "end of file" it was.
    assert len(frames) >= 5 and "end of file" not in res.output, res.output
    # the same picture each time: the key settles within about 8 frames (its temporal state), then holds
    assert all(abs(f - frames[-1]).mean() < 0.005 for f in frames)
    settled = frames[12:]
    assert all(abs(f - frames[-1]).max() < 1 / 255 for f in settled)
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    assert len({row["timecode"] for row in rows}) == len(rows)  # each frame its own time, as a camera's


def test_free_run_timecode_gives_each_frame_its_own_slot(plate_frames, tmp_path, monkeypatch):
    # The clock decides a frame's time-of-day timecode; a frame delivered late (seen on CI: a busy
    # machine) shared the clock's 40 ms slot with the next, and two frames had one timecode.
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), (plate_frames[0][..., ::-1] * 255 + 0.5).astype("uint8"))
    source = LiveSource(str(still), fps=25)
    midnight = datetime(2026, 12, 2).timestamp()  # local midnight
    deliveries = [midnight - 0.07, midnight - 0.05, midnight - 0.045, midnight - 0.002, midnight + 0.2]
    clock = iter(deliveries)
    monkeypatch.setattr("guangying.live.capture.time.time", lambda: next(clock))
    timecodes = []
    for n in range(len(deliveries)):
        source._deliver(n, plate_frames[0], None)
        timecodes.append(source.queue.get(1).timecode)
    # 23:59:59:23 by the clock, then two frames in the last slot of the day, then over midnight
    assert timecodes == ["23:59:59:23", "23:59:59:24", "00:00:00:00", "00:00:00:01", "00:00:00:05"]


def test_a_senders_frames_are_timecoded_on_its_clock_as_its_copied_plate_is(plate_frames, tmp_path):
    """ffmpeg hands over the pictures it read while probing a stream at once: stamped by their arrival,
    each took the slot after the last, and every later frame of the session stayed that many frames
    ahead of the copied plate, whose first picture is stamped by its arrival (22–30 frames seen)."""
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), (plate_frames[0][..., ::-1] * 255 + 0.5).astype("uint8"))
    source = LiveSource(str(still), fps=25)
    start = time.monotonic() - 10.0
    # pictures 0–29 arrive at once, then one every 40 ms, on time
    arrivals = [start if k < 30 else start + (k - 29) / 25 for k in range(100)]
    timecodes = []
    for k, arrival in enumerate(arrivals):
        source._deliver(None, plate_frames[0], None, k / 25, arrival)
        timecodes.append(source.queue.get(1).timecode)
    counts = [parse_timecode(tc, Fraction(25))[0] for tc in timecodes]
    assert np.all(np.diff(counts) == 1)
    # the plate copied from the keyframe at picture 75, stamped as PacketPlate stamps it
    keyframe_wall_s = time.time() - (time.monotonic() - arrivals[75])
    plate_count = source.timecode_count_at(75 / 25, keyframe_wall_s)
    assert plate_count is not None and format_timecode(plate_count, Fraction(25)) == timecodes[75]


def test_a_sender_that_turns_faster_keeps_the_takes_clock(plate_frames, tmp_path):
    """A sender that went from 25 to 30 fps mid-take (same size, nothing said): each of its pictures took
    a frame of the 25 fps take, whose clock ran 20 % slow: a second behind its time of day, its copied
    plate and its sound after 6 s."""
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), (plate_frames[0][..., ::-1] * 255 + 0.5).astype("uint8"))
    source = LiveSource(str(still), fps=25)
    taken: list = []
    source.begin_take(tap=taken.append)  # every frame of the take, as the plate recording gets them
    start = time.monotonic() - 10.0
    sent = [k / 25 for k in range(50)] + [2.0 + k / 30 for k in range(180)]  # 2 s at 25, then 6 s at 30
    with pytest.warns(UserWarning, match=r"now sends about 30 pictures a second, faster than the take's 25"):
        for sent_s in sent:
            source._deliver(None, plate_frames[0], None, sent_s, start + sent_s + 0.05)
    assert abs(taken[-1].take_time_s - sent[-1]) <= 1 / 25, (taken[-1].take_time_s, sent[-1])
    assert np.all(np.diff([frame.index for frame in taken]) >= 1)
    assert 190 <= len(taken) <= 202  # 8 s at 25: one of six of the faster pictures let go


def test_a_picture_plays_at_an_ntsc_rate_given_as_a_fraction(plate_frames, tmp_path):
    # `live --fps 24000/1001`, as key and composite take it (it was a float option: the fraction failed)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), (plate_frames[0][..., ::-1] * 255 + 0.5).astype("uint8"))
    assert LiveSource(str(still), fps="24000/1001").fps == Fraction(24000, 1001)
    assert LiveSource(str(still), fps=23.976).fps == Fraction(24000, 1001)
    args = ["live", str(still), "--no-monitor", "--fps", "24000/1001", "--duration", "1", "-b", "grey"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output


def test_the_monitor_address_answers_while_the_stream_is_waited_for(plate_frames, tmp_path):
    """Opened before the camera sent its first picture, the monitor's address refused the connection
    (the browser's error page). It says the take waits, looks again, and becomes the monitor."""
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 30, "-b", "black",
                       cwd=tmp_path)
    sender = UdpSender(plate_frames, port, seconds=30)

    def fetch(url: str) -> str:
        return urllib.request.urlopen(url, timeout=5).read().decode()

    try:
        deadline = time.monotonic() + 60
        said = r"monitor \(waiting for the first picture\): (http://\S+/)"
        while not (found := re.search(said, live.output)):
            assert time.monotonic() < deadline and live.proc.poll() is None, live.output
            time.sleep(0.1)
        url = found.group(1)
        page = fetch(url)
        assert "Waiting for the udp source" in page and 'http-equiv="refresh"' in page
        assert json.loads(fetch(url + "stats.json"))["state"] == "waiting"
        # a browser keeps its connection open between the page's reloads: the waiting page answered
        # on it after the monitor had started, and a page opened early stayed "waiting" for good
        browser = http.client.HTTPConnection(urlparse(url).hostname, urlparse(url).port, timeout=5)
        browser.request("GET", "/")
        assert "Waiting for the udp source" in browser.getresponse().read().decode()
        sender.start()
        assert live.wait_url() == url  # the monitor proper, at the same address
        live.wait_live()
        assert "<title>Guangying live</title>" in fetch(url)
        browser.request("GET", "/")
        assert "<title>Guangying live</title>" in browser.getresponse().read().decode()
        browser.close()
        live.proc.send_signal(signal.SIGTERM)
        live.wait(timeout_s=30)
    finally:
        sender.stop_now.set()
        live.kill()


def test_a_plate_encoded_from_a_log_cameras_converted_picture_says_so(plate_clip, tmp_path):
    """A log camera (--camera-log) whose plate is encoded, not copied: the plate holds the take's SDR
    picture, its highlights rolled off, and post took it for the camera's latitude (0.9 came back as
    0.78, 3.5 as 1.0). It is said at the plate's first frame; an SDR camera's plate is not."""
    said = {}
    for name, extra in (("log", ["--camera-log", "slog3-sgamut3cine"]), ("sdr", [])):
        args = ["live", str(plate_clip), "--no-monitor", "--duration", "3", "-b", "grey",
                "--record-plate", str(tmp_path / f"{name}_plate.mkv"), *extra]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"{name}_plate.mkv").is_file(), (result.output, [str(w.message) for w in caught])
        said[name] = [str(w.message) for w in caught if "this plate is encoded from" in str(w.message)]
    assert len(said["log"]) == 1 and "the camera sends S-Log3" in said["log"][0], said
    assert said["sdr"] == []


def test_a_looped_clips_notes_are_said_once_a_take(plate_clip, tmp_path):
    # `live clip --loop --camera-log …` said the clip's colour note at every pass (24 times in 2 s for a
    # 3-frame clip): the terminal says each warning's text once; a recurring one (an outage) each time
    live = LiveProcess(plate_clip, "--loop", "--camera-log", "slog3-sgamut3cine", "--no-monitor",
                       "-b", "grey", "--duration", "4", cwd=tmp_path)
    try:
        assert live.wait(timeout_s=120) == 0, live.output
    finally:
        live.kill()
    assert live.output.count("(as asked): its frames are converted") == 1, live.output


def test_a_takes_timecode_is_the_time_of_day_its_pictures_were_taken(plate_frames):
    """The free-run timecode was anchored at the first picture ffmpeg handed over after probing the
    stream, which comes in a burst with the others it read then, placed at the burst's arrival: every
    timecode of the take ran 0.7 s (17 frames) after the time its picture arrived, and a sound
    recorder jam-synced to the time of day was that far off. At the take's start the anchor is placed
    by the stream's delay, as each picture is."""
    port = free_port(socket.SOCK_DGRAM)
    sender = UdpSender(plate_frames, port, seconds=30)
    sender.start()
    source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=20)
    try:
        source.start()
        time.sleep(2.5)  # the engine warms up; the stream's delay is known by then
        source.begin_take()
        offsets_s = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            frame = source.queue.get(1.0)
            if frame is None or frame.timecode is None:
                continue
            midnight = datetime.fromtimestamp(frame.t_wall_s).replace(
                hour=0, minute=0, second=0, microsecond=0).timestamp()
            count, _ = parse_timecode(frame.timecode, source.fps)
            offsets_s.append(count / float(source.fps) - (frame.t_wall_s - midnight))
    finally:
        source.stop()
        sender.stop_now.set()
        sender.join()
    assert len(offsets_s) > 20
    # each frame's timecode is its own capture time, to the frame it falls in (it was 0.69 s late)
    assert max(abs(o) for o in offsets_s) <= 1.5 / float(source.fps), (min(offsets_s), max(offsets_s))


@pytest.mark.parametrize("stall_s", [0.4, 1.5], ids=["short", "past-a-second"])
def test_a_clip_played_as_the_camera_keeps_its_clock_through_a_stall(plate_clip, monkeypatch, stall_s):
    """A clip played live on a busy machine: each stall (0.1–0.3 s when other load rose) delayed every
    picture after it, so a 240 s take held 5849 of its 6000 frames, ran 6 s behind the clock and its
    timecode, and counted none of them dropped. A camera's picture whose time has passed is gone: let
    go, counted, and the clip plays on on its clock (past a second's stall, from the picture it had)."""
    from guangying.live import capture

    shown = capture.display_srgb
    delivered = []

    def stalls_at_the_tenth(*args, **kwargs):
        delivered.append(1)
        if len(delivered) == 10:
            time.sleep(stall_s)  # the machine busy: this picture reaches the take that late
        return shown(*args, **kwargs)

    monkeypatch.setattr(capture, "display_srgb", stalls_at_the_tenth)
    source = LiveSource(str(plate_clip), loop=True)
    indices = []
    try:
        source.begin_take()
        source.start()
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            item = source.get(0.1)
            if item is not None:
                indices.append(item.index)
    finally:
        source.stop()
    assert source.dropped >= stall_s * FPS - 5, (source.dropped, indices)  # the late ones, counted
    assert indices[-1] >= 3.0 * FPS - 4, indices  # on the clock at the end (the stall's frames behind before)
    assert indices == sorted(set(indices)) and source.frames_in >= indices[-1]


def test_a_stream_of_no_video_ffmpeg_can_read_is_said_with_what_to_send():
    # garbage on the port (another program's data, a sender in a format ffmpeg does not take raw): said
    # as "[Errno 1094995529] Invalid data found when processing input" (hostile user)
    port = free_port(socket.SOCK_DGRAM)
    stop = threading.Event()

    def send_noise() -> None:
        rng = np.random.default_rng(4)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while not stop.is_set():
                sender.sendto(rng.bytes(1316), ("127.0.0.1", port))
                time.sleep(0.001)

    threading.Thread(target=send_noise, daemon=True).start()
    try:
        with pytest.raises(MediaError, match=r"no video ffmpeg can read; send MPEG-TS") as said:
            LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=20)
    finally:
        stop.set()
    assert "Errno" not in str(said.value)


def test_a_looped_clip_plays_every_picture_on_one_clock(tmp_path):
    """A clip played as the camera: its clock started before its first picture was decoded, so that
    picture was late and let go, at the take's start and at every pass of a loop (plate 122, 123, 124,
    1, …); and each pass was timed from its own opening, so a pass began before the last one's final
    slot was over and the take ran fast (9021 frames in 360 s, its timecode 0.9 s ahead). Here every
    picture, the first of each pass included, comes in its slot, and none before its time."""
    clip = tmp_path / "numbered.mp4"
    with open_writer(clip, fps=Fraction(FPS), content="rgb") as writer:
        for n in range(10):  # each picture its own grey: 0.1, 0.18, … 0.82
            writer.write(np.full((48, 64, 3), 0.1 + 0.08 * n, np.float32))
    source = LiveSource(str(clip), loop=True, queue_frames=500)
    frames = []
    try:
        source.begin_take()
        source.start()
        while len(frames) < 45 and not source.ended.is_set():
            item = source.get(0.2)
            if item is not None:
                frames.append(item)
    finally:
        source.stop()
    assert source.dropped == 0 and [f.index for f in frames] == list(range(45))
    greys = [round((float(np.mean(f.rgb)) - 0.1) / 0.08) for f in frames]  # a file's pictures: float 0–1
    assert greys == [n % 10 for n in range(45)], greys  # each pass from its first picture
    period = 1 / FPS
    early = [f.t_capture_s - (frames[0].t_capture_s + f.index * period) for f in frames]
    assert min(early) > -0.3 * period, [round(e / period, 2) for e in early]  # no picture before its time


def _grey_clip(folder: Path, count: int) -> Path:
    """A clip of ``count`` flat pictures, each a grey of its own."""
    clip = folder / "numbered.mp4"
    with open_writer(clip, fps=Fraction(FPS), content="rgb") as writer:
        for n in range(count):
            writer.write(np.full((48, 64, 3), 0.1 + 0.8 * n / count, np.float32))
    return clip


def _tap_stalling_at_5(plate: list[int], stall_s: float):  # noqa: ANN202 (a plate tap)
    """A plate tap noting each frame's index into ``plate`` that holds the capture thread ``stall_s``
    at frame 5 (a saturated machine)."""
    def tap(frame) -> None:
        plate.append(frame.index)
        if frame.index == 5:
            time.sleep(stall_s)
    return tap


def test_a_played_clips_late_pictures_still_reach_the_plate(tmp_path):
    """A clip played as the camera on a saturated machine: a picture decoded after its slot had passed
    was let go before the plate recording saw it, so the plate (which "keeps every frame") held 71 of a
    take's 194. Late pictures are still not processed (counted as dropped), but the plate's tap takes
    each in its slot. The stall here: the tap itself holding the capture thread for 0.15 s."""
    clip = _grey_clip(tmp_path, 10)
    plate: list[int] = []
    tap = _tap_stalling_at_5(plate, 0.15)  # frames 6 and 7 come after their slots
    source = LiveSource(str(clip), queue_frames=500)
    processed = []
    try:
        source.begin_take(tap)
        source.start()
        while not source.ended.is_set() or len(source.queue):
            item = source.get(0.2)
            if item is not None:
                processed.append(item.index)
    finally:
        source.stop()
    assert plate == list(range(10)), plate
    assert source.dropped >= 2 and len(processed) + source.dropped == 10, (processed, source.dropped)
    assert 6 not in processed and 7 not in processed


class _TimedSender(UdpSender):
    """A UdpSender that notes when it began: its picture n goes out at ``t0_wall_s + n / fps``."""

    def run(self) -> None:
        self.t0_wall_s = time.time()
        super().run()


def test_a_stream_reopened_after_an_outage_keeps_its_timecode_on_the_time_of_day(plate_frames):
    """A sender lost and back (--loop reopens the stream): the pictures ffmpeg read while probing the
    reopened stream come out at once, and the first was placed at that burst's arrival, so the rest of
    the take ran 0.9 s (22 frames) late on its timecode and its slots. Each picture here carries its
    number in its grey; its timecode is compared with the time of day it was sent, before and after."""
    from guangying.live.capture import time_of_day_count

    numbered = _numbered(plate_frames)
    port = free_port(socket.SOCK_DGRAM)
    first, second = _TimedSender(numbered, port, seconds=60, gop=25), _TimedSender(numbered, port, seconds=3)
    first.start()
    source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=10, queue_frames=1000,
                        read_timeout_s=1.0, loop=True)
    frames = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the outage and the return are said
            source.start()
            time.sleep(1.0)
            source.begin_take()
            time.sleep(1.5)
            first.stop_now.set()
            first.join()
            time.sleep(2.5)  # lost after 1 s, then waited for
            second.start()
            second.join()
            time.sleep(0.5)
            while (frame := source.get(timeout_s=0.3)) is not None:
                frames.append(frame)
    finally:
        first.stop_now.set()
        second.stop_now.set()
        source.stop()

    def late_frames(frame, sender: _TimedSender) -> int:  # its timecode less its sending's time of day
        number = _number_of(frame.rgb)
        hh, mm, ss, ff = (int(v) for v in frame.timecode.split(":"))
        sent = time_of_day_count(sender.t0_wall_s + number / FPS, Fraction(FPS)) % (86400 * FPS)
        return ((hh * 60 + mm) * 60 + ss) * FPS + ff - sent

    back = next(k for k in range(1, len(frames)) if frames[k].take_time_s - frames[k - 1].take_time_s > 1.5)
    before = np.median([late_frames(f, first) for f in frames[:back]])
    after = [late_frames(f, second) for f in frames[back:]]
    assert len(after) > 40 and abs(np.median(after) - before) <= 3, (before, after[:10])


def test_a_played_clip_that_falls_far_behind_its_clock_says_so(tmp_path):
    """A clip played as the camera on a machine too busy to decode it in time: over a second behind, its
    slots pass with no picture (the clip plays on from now), and the plate, which "keeps every frame",
    ended seconds short without a word. The stall here: the tap holding the capture thread 1.3 s."""
    clip = _grey_clip(tmp_path, 40)
    plate: list[int] = []
    tap = _tap_stalling_at_5(plate, 1.3)
    source = LiveSource(str(clip), queue_frames=500)
    with pytest.warns(UserWarning, match=r"playing .*numbered\.mp4 fell 1\.\d s behind its clock") as said:
        source.begin_take(tap)
        source.start()
        source.ended.wait(10)
        source.stop()
    assert len([w for w in said if "behind its clock" in str(w.message)]) == 1
    assert len(plate) == 40 and source.frames_in > 40  # every picture played; slots passed empty


def test_a_played_clip_that_falls_behind_again_and_again_says_how_long_in_all(tmp_path):
    # said once, at the first stall: six made a 1.5 s clip an 8.8 s take, unsaid
    clip = _grey_clip(tmp_path, 40)

    seen = []

    def tap(frame) -> None:
        seen.append(frame.index)
        if len(seen) in (5, 25):  # the 5th and 25th pictures (the slots after the first stall are further on)
            time.sleep(1.3)

    source = LiveSource(str(clip), queue_frames=500)
    with pytest.warns(UserWarning) as said:
        source.begin_take(tap)
        source.start()
        source.ended.wait(15)
        source.stop()
    total = [str(w.message) for w in said if "behind its clock 2 times" in str(w.message)]
    assert len(total) == 1 and re.search(r"2\.\d s in all: the take runs that much longer", total[0]), total


def test_a_variable_rate_clip_plays_each_picture_at_its_own_time(tmp_path):
    """A phone's variable-rate clip played as the camera: its pictures went out one a slot by their number,
    so after its rate halved they ran ahead of its sound (0.5 s at 2 s, 0.7 s at 2.4 s). Each now comes in
    the slot of its own time, and the take's frames between hold the one before."""
    clip = tmp_path / "vfr.mp4"
    times = [n / FPS for n in range(10)] + [10 / FPS + 2 * n / FPS for n in range(10)]  # then half the rate
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        for n, t in enumerate(times):
            grey = np.full((48, 64, 3), 20 + 10 * n, np.uint8)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with open_reader(clip) as reader:
        assert reader.info.variable_rate
    source = LiveSource(str(clip), queue_frames=500)
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's variable-rate note
        try:
            source.begin_take()
            source.start()
            while not source.ended.is_set() or len(source.queue):
                item = source.get(0.2)
                if item is not None:
                    frames.append(item)
        finally:
            source.stop()
    pictures = [round((float(np.mean(f.rgb)) * 255 - 20) / 10) for f in frames]
    placed = dict(zip(pictures, (f.index for f in frames), strict=True))
    assert placed == {n: round(t * FPS) for n, t in enumerate(times) if n in placed}, placed
    assert len(placed) >= 15 and source.dropped <= 5, (placed, source.dropped)
    # the time-of-day timecode counts the take's slots: a picture's is its first's plus its slot
    first = parse_timecode(frames[0].timecode, Fraction(FPS))[0]
    assert [parse_timecode(f.timecode, Fraction(FPS))[0] - first for f in frames] == [
        f.index - frames[0].index for f in frames]
