"""A take's camera track: where the tracked set's camera was at each frame of the recorded plate, so
post renders the set from the plate exactly as the monitor showed it (``guangying composite
plate.mov --set … --camera-track plate.camera.csv``) instead of tracking the plate again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from guangying.base.timecode import timecode_at
from guangying.live.take_names import beside
from guangying.tracking.camera_track import CameraTrackRow, write_camera_track

# The camera when a frame was captured (``time.monotonic()``), as the live set took it.
CameraAt = Callable[[float], CameraTrackRow]


def camera_track_beside(plate: Path) -> Path:
    """``plate.camera.csv`` beside ``plate.mov`` (and beside ``plate.####.exr``)."""
    return beside(plate, ".camera.csv")


class PlateCamera:
    """Collects the camera of each picture the plate holds, sampled as it is written at the moment the
    picture was captured (the same sample the live set was rendered for), and writes them numbered
    as guangying reads the plate back: a video's pictures from 0 in display order, a sequence's by
    its files' numbers from ``first_number``."""

    def __init__(self, camera_at: CameraAt, path: Path) -> None:
        self.camera_at, self.path = camera_at, path
        self._rows: list[tuple[float, float, CameraTrackRow]] = []  # (display order, plate time, camera)

    def add(self, display_key: float, plate_time_s: float, capture_time_s: float) -> None:
        """One picture written to the plate: its place in display order, its time in the plate, and
        when it was captured. Called in the plate's writing thread."""
        self._rows.append((display_key, plate_time_s, self.camera_at(capture_time_s)))

    def write(self, first_number: int = 0, start_timecode: str | None = None,
              fps: Fraction | None = None) -> Path | None:
        """The track (atomically), or None when the plate holds no picture. With the plate's first
        picture's ``start_timecode`` and ``fps``, each row has its picture's timecode (it had none)."""
        if not self._rows:
            return None
        ordered = sorted(self._rows, key=lambda item: item[0])
        start_s = ordered[0][1]
        rows = []
        for k, (_, time_s, row) in enumerate(ordered):
            timecode = row.timecode
            if start_timecode and fps:  # by its time in the plate: a dropped frame leaves its slot
                timecode = timecode_at(start_timecode, round((time_s - start_s) * fps), fps)
            rows.append(dataclasses.replace(row, frame=first_number + k, t_s=round(time_s - start_s, 6),
                                            timecode=timecode))
        return write_camera_track(self.path, rows)
