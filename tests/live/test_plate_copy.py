"""The copied camera original (``--record-plate`` of a stream), fed packets as the capture thread does."""
from __future__ import annotations

import os
import re
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from guangying.live.plate_copy import PacketPlate


def _h264(path: Path, size: tuple[int, int], frames: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.gop_size = 25
        rng = np.random.default_rng(0)
        for _ in range(frames):
            picture = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_a_plate_copy_that_stops_keeps_what_waited_and_says_how_much_plate_it_kept(tmp_path, monkeypatch):
    # It said "stopped N s into the take", N counted on this machine's clock from the plate's first
    # packet: that is the keyframe before the take (1–2 s earlier), and packets a sender burst out
    # at once counted nothing. What it can say for sure is the length of the plate it keeps. And the
    # packets still waiting for a slow disk when the sender changed format were thrown away.
    first = _h264(tmp_path / "a.mp4", (64, 48), 60)
    other = _h264(tmp_path / "b.mp4", (96, 72), 25)  # the sender switched format
    plate = PacketPlate(tmp_path / "plate.mov", Fraction(25), size=(64, 48))
    write = plate._consume

    def slow_disk(item: tuple[av.Packet, float]) -> None:
        time.sleep(0.01)
        write(item)

    monkeypatch.setattr(plate, "_consume", slow_disk)
    now = time.monotonic()
    with av.open(str(first)) as a, av.open(str(other)) as b:
        for source in (a, b):
            for packet in source.demux(source.streams.video[0]):
                if packet.size:
                    plate.put(packet, source.streams.video[0], now)
        with pytest.warns(UserWarning, match="the plate copy stopped") as said:
            kept = plate.close()
    assert kept is not None
    with av.open(str(kept)) as copied:
        stream = copied.streams.video[0]
        times = [float(p.pts * p.time_base) for p in copied.demux(stream) if p.pts is not None]
    length_s = max(times) - min(times) + 1 / 25
    assert abs(length_s - 60 / 25) < 0.05
    found = re.search(r"after ([\d.]+) s of plate", str(said[0].message))
    assert found, [str(w.message) for w in said]
    assert abs(float(found.group(1)) - length_s) <= 0.1, (found.group(0), length_s)


def test_what_a_killed_take_left_of_its_plate_and_log_is_kept_visible(tmp_path):
    """A take killed outright (SIGKILL, power loss) leaves its copied plate and per-frame log as hidden
    partial files: the plate plays (a Matroska copy holds every picture written). The next take into
    the same place neither mentioned nor cleared them. Now they become visible, said."""
    import subprocess
    import sys

    from guangying.live.recorder import Recorder

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    plate = _h264(tmp_path / f".kp.partial-{child.pid}-abc123.mkv", (64, 48), 10)
    log = tmp_path / f".k.frames.partial-{child.pid}-def456.jsonl"
    log.write_text('{"frame": 0}\n')
    alive = tmp_path / f".kp.partial-{os.getpid()}-aaaaaa.mkv"  # a live process's: not touched
    alive.write_bytes(b"being written")
    with pytest.warns(UserWarning, match=r"interrupted earlier take .* kept as .*kp\.interrupted-\d+\.mkv"):
        recorder = Recorder(Fraction(25), plate=tmp_path / "kp.mkv", sidecar=tmp_path / "k.frames.jsonl",
                            camera_codec="h264")
    recorder.abort()
    kept = tmp_path / f"kp.interrupted-{child.pid}.mkv"
    with av.open(str(kept)) as container:
        assert sum(1 for p in container.demux(video=0) if p.size) == 10
    assert (tmp_path / f"k.frames.interrupted-{child.pid}.jsonl").read_text() == '{"frame": 0}\n'
    assert alive.exists() and not plate.exists() and not log.exists()


def test_a_killed_take_s_mov_plate_that_no_player_opens_is_said_to_be_so(tmp_path):
    """A .mov plate killed mid-take has no index (QuickTime writes it as the take ends): it was kept
    as if it played, while no player opens it."""
    import subprocess
    import sys

    from guangying.live.recorder import Recorder

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    whole = _h264(tmp_path / "whole.mov", (64, 48), 10).read_bytes()
    cut = whole[: whole.find(b"moov") - 4] if whole.find(b"moov") > whole.find(b"mdat") else whole[:40]
    (tmp_path / f".kp.partial-{child.pid}-abc123.mov").write_bytes(cut)
    with pytest.warns(UserWarning, match=r"kept as .*kp\.interrupted-\d+\.mov, but no player opens it.*"
                                         r"Record the plate as \.mkv"):
        recorder = Recorder(Fraction(25), plate=tmp_path / "kp.mov", camera_codec="h264")
    recorder.abort()


def test_a_plate_copied_over_several_outages_keeps_every_segment_on_its_frame_grid(tmp_path):
    """A sender that drops out and comes back (``--loop``) more than once: each segment after an outage
    was placed at its arrival to the tick, a fraction of a frame off the first's. The reader then took
    the plate for variable-rate past its first few hundred frames and closed up the later outages: post
    ran 5 s (and, on a longer take, 100 s) ahead of the take. Now each segment starts in the frame slot of
    its arrival, and post reads every outage as held frames in place."""
    import warnings

    from guangying.media import open_reader

    clip = _h264(tmp_path / "a.mp4", (64, 48), 700)  # past the reader's first look at the timing
    plate = PacketPlate(tmp_path / "plate.mkv", Fraction(25), size=(64, 48))
    t0 = time.monotonic()
    arrivals_s = (0.0, 31.37, 62.61)  # the sender back 3.37 s and 3.24 s after it dropped, off the grid
    for arrival_s in arrivals_s:
        with av.open(str(clip)) as sender:  # a new stream each time, as a reconnect opens one
            for packet in sender.demux(sender.streams.video[0]):
                if packet.size:
                    plate.put(packet, sender.streams.video[0], t0 + arrival_s)
                while len(plate._queue) > 100:  # a disk as fast as the sender, as on set
                    time.sleep(0.001)
    kept = plate.close()
    assert kept is not None
    with av.open(str(kept)) as copied:
        stream = copied.streams.video[0]
        slots = sorted(float(p.pts * p.time_base) * 25 for p in copied.demux(stream) if p.pts is not None)
    first_slots = [slots[0], *(b for a, b in zip(slots, slots[1:], strict=False) if b - a > 1.5)]
    assert max(abs(s - round(s)) for s in slots) < 0.01  # every picture on the grid
    assert [round(s - slots[0]) for s in first_slots] == [0, 784, 1565]  # in its arrival's slot
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with open_reader(kept) as reader:
            frames = [f.index for f in reader]
    assert len(frames) == 1565 + 700  # each outage held in place: nothing closed up
    assert not any("variable frame rate" in str(w.message) for w in said), [str(w.message) for w in said]
