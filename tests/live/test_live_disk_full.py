"""A take whose disk fills: it stops with its recordings finalised, as a camera stops when its card is
full. The recordings are real files on the test's folder; the disk is taken as one of a few MiB, its
use counted from the sizes of the files in that folder (the machine's real disk is shared with other
programs, whose writes and deletions made the take stop at another point each run)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from guangying.base.errors import MediaError
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.recorder import Recorder
from guangying.live.session import SessionOutputs
from guangying.media import open_reader


def test_a_take_stops_before_its_disk_fills_and_keeps_its_recordings(plate_clip, tmp_path):
    """Before, recording went on into the full disk: no file could be finalised, and the whole take,
    plate and composite, was deleted with a 'disk is full' error. Now the take stops while there is room
    to finalise, and everything recorded up to then is kept and plays."""
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    room_bytes, keep_free_bytes = 4 * 2**20, 4 * 2**20  # kept: more than half a second of writing

    def free_bytes(folder: Path) -> int:  # a disk of room + keep-free bytes, used by the take's files
        return room_bytes + keep_free_bytes - sum(entry.stat().st_size for entry in os.scandir(folder))

    recorder = Recorder(source.fps, composite=tmp_path / "take.mkv", plate=tmp_path / "plate.mkv",
                        keep_free_bytes=keep_free_bytes, free_bytes=free_bytes)
    report = LiveSession(source, settings, SessionOutputs(recorder=recorder)).run(duration_s=60.0)
    assert report.lost and "nearly full" in report.reason and "take stopped" in report.reason, report
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["plate.mkv", "take.frames.jsonl", "take.mkv"]  # finalised: no hidden partial file
    rows = [json.loads(line) for line in (tmp_path / "take.frames.jsonl").read_text().splitlines()]
    with open_reader(tmp_path / "take.mkv") as reader:
        composite_frames = sum(1 for _ in reader)
    with open_reader(tmp_path / "plate.mkv") as reader:
        plate_frames = sum(1 for _ in reader)
    assert len(rows) >= 10
    # constant-rate: dropped ones held, the last processed one to the take's last frame
    assert composite_frames >= rows[-1]["frame"] - rows[0]["frame"] + 1
    assert len(rows) == report.frames_out - 1  # all but the frame that found the disk nearly full
    assert plate_frames >= composite_frames
    written = sum(path.stat().st_size for path in tmp_path.iterdir())
    assert room_bytes <= written < room_bytes + keep_free_bytes  # it stopped at its room, and had room


def test_a_take_on_a_disk_without_room_is_refused_before_it_starts(plate_clip, tmp_path):
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    try:
        with pytest.raises(MediaError, match=r"cannot record to .*: its disk has \d+ MiB free"):
            Recorder(source.fps, composite=tmp_path / "take.mov",
                     keep_free_bytes=shutil.disk_usage(tmp_path).free + 2**30)
    finally:
        source.stop()
    assert not list(tmp_path.iterdir())


def test_the_time_left_on_a_disk_is_said_at_the_takes_latest_rate(tmp_path, monkeypatch):
    # Measured from the watch's start, the engine's 30 s of starting (nothing written) counted in: "about
    # 48 s of recording left", and the take stopped 23 s later. Named "the disk of ." too.
    from guangying.live import disk_watch

    clock = [1000.0]
    monkeypatch.setattr(disk_watch.time, "monotonic", lambda: clock[0])
    monkeypatch.chdir(tmp_path)
    mib = 2**20
    free = [400 * mib]
    watch = disk_watch.DiskWatch([Path("take.mkv")], keep_free_bytes=100 * mib, free_bytes=lambda _f: free[0])
    clock[0] += 30.0  # the engine starts: nothing written
    with pytest.warns(UserWarning) as said:
        while free[0] > 150 * mib:
            clock[0] += 0.5
            free[0] -= 1 * mib  # 2 MiB/s from the take's first frame
            watch.check(clock[0] - 1030.0)
            if said:
                break
    seconds = float(str(said[0].message).split("about ")[1].split(" s")[0])
    left_s = (free[0] - 100 * mib) / (2 * mib)
    assert abs(seconds - left_s) <= 0.1 * left_s, (seconds, left_s)
    assert f"the disk of {tmp_path}" in str(said[0].message)
