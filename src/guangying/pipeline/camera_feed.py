"""Where a set's camera comes from: a camera-track file, or live FreeD D1 over UDP (``freed://HOST:PORT``).

FreeD's axes become ours as the tracking tools convert them (docs/tracking.md). Zoom
arrives as raw encoder counts: a lens file (:mod:`guangying.lens.zoom`) maps them to the focal length,
else ``--focal-length`` gives it.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import deque
from typing import Protocol

import numpy as np

from guangying.base.errors import SettingsError
from guangying.lens.freed import FreeDPose, FreeDReceiver
from guangying.lens.zoom import LensFile
from guangying.tracking.camera_track import CameraTrackRow, ChanSettings, read_camera_track
from guangying.tracking.freed_track import freed_position_m

FREED_SCHEME = "freed://"


class CameraRows(Protocol):
    """The camera row for a plate frame (number ``frame_index``, ``position``-th of the take)."""

    def row(self, frame_index: int, position: int) -> CameraTrackRow: ...

    def close(self) -> None: ...


class TrackLookup:
    """Rows of a track file: by frame number when the track covers the plate's numbering, else row i
    for the i-th frame (with a warning); the last row holds past the end."""

    def __init__(self, rows: list[CameraTrackRow], source: str) -> None:
        self.rows = rows
        self.source = source
        self._by_frame = {r.frame: r for r in rows}
        self._by_number: bool | None = None
        self._warned_end = False

    def row(self, frame_index: int, position: int) -> CameraTrackRow:
        if self._by_number is None:
            self._by_number = frame_index in self._by_frame
            if not self._by_number:
                warnings.warn(
                    f"camera track {self.source} has no row for plate frame {frame_index}: "
                    "rows are taken in order from its first",
                    stacklevel=2,
                )
        if self._by_number:
            row = self._by_frame.get(frame_index)
            if row is not None:
                return row
        elif position < len(self.rows):
            return self.rows[position]
        if not self._warned_end:
            warnings.warn(
                f"camera track {self.source} ends before the plate: holding its last row", stacklevel=2
            )
            self._warned_end = True
        return self.rows[-1]

    def close(self) -> None:
        pass


def row_from_freed(
    pose: FreeDPose, frame: int, t_s: float, lens: LensFile | None = None
) -> CameraTrackRow:
    """One FreeD D1 message as a camera-track row (axes as :mod:`guangying.tracking.freed_track` says);
    with a lens file whose zoom map is known, the zoom counts become the focal length (else nan)."""
    x_m, y_m, z_m = freed_position_m(pose)
    focal_mm = math.nan
    if lens is not None and lens.zoom is not None:
        focal_mm = float(lens.zoom.focal_length_mm(float(pose.zoom)))
    return CameraTrackRow(
        frame, t_s, "", pose.pan_deg, pose.tilt_deg, pose.roll_deg, x_m, y_m, z_m, focal_mm, 1.0
    )  # fmt: skip


class FreeDCameraFeed:
    """Live camera from FreeD D1 on a UDP port: a listener thread keeps the newest messages, and each
    plate frame takes the newest one, or with ``delay_frames`` = N the one N messages older (tracking
    that runs ahead of the video, as heads' usually does). Until the first message the rest pose is
    held with quality 0. ``lens`` (a lens file) turns zoom counts into the focal length."""

    def __init__(self, listen: str, lens: LensFile | None = None, delay_frames: int = 0) -> None:
        if not 0 <= delay_frames <= 100:
            raise SettingsError(f"FreeD delay must be 0–100 frames, got {delay_frames}")
        self.receiver = FreeDReceiver(listen)
        self.port = self.receiver.port
        self.lens = lens
        self._recent: deque[CameraTrackRow] = deque(maxlen=delay_frames + 1)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="freed-camera", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        count = 0
        while not self._stop.is_set():
            got = self.receiver.receive(0.1)
            if got is None:
                continue
            t_s, pose = got
            row = row_from_freed(pose, count, t_s, self.lens)
            with self._lock:
                self._recent.append(row)
            count += 1

    def row(self, frame_index: int, position: int) -> CameraTrackRow:
        with self._lock:
            delayed = self._recent[0] if self._recent else None  # the oldest kept = N messages back
        if delayed is None:  # rest pose, at the lens's widest when its zoom map is known
            widest = math.nan
            if self.lens is not None and self.lens.zoom is not None:
                widest = float(np.min(self.lens.zoom.focal_lengths_mm))
            return CameraTrackRow(frame_index, 0.0, "", 0, 0, 0, 0, 0, 0, widest, 0.0)
        return delayed

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.receiver.close()


def open_camera_rows(
    spec: str,
    chan: ChanSettings | None = None,
    lens: LensFile | None = None,
    delay_frames: int = 0,
) -> CameraRows:
    """``freed://HOST:PORT`` → a live FreeD listener (``lens`` maps its zoom counts, ``delay_frames``
    lines it up with the video); anything else → a camera-track file (a Nuke ``.chan`` needs ``chan``:
    sensor width and plate aspect turn its field of view into a focal length)."""
    if spec.startswith(FREED_SCHEME):
        return FreeDCameraFeed(spec[len(FREED_SCHEME) :], lens, delay_frames)
    return TrackLookup(read_camera_track(spec, chan), spec)
