"""The ``freed`` method: camera poses from FreeD D1 messages (PTZ heads, trackers), live or captured.

Axes: FreeD's studio frame has X, Y horizontal and Z (height) up, a head at pan 0 looking along +Y;
ours (``guangying.lens.camera``) has Y up and Z towards the camera, so x_m = X, y_m = Z, z_m = −Y
(mm → m). Pan, tilt and roll keep FreeD's senses, which are ours. Zoom and focus arrive as raw
counts and go through a lens file (:mod:`guangying.lens.zoom`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from guangying.base.errors import DeviceError, SettingsError
from guangying.base.timecode import standard_rate, timecode_at
from guangying.lens.freed import FreeDPose, FreeDReceiver
from guangying.lens.zoom import LensFile
from guangying.tracking.camera_track import CameraTrackRow


def freed_position_m(pose: FreeDPose) -> tuple[float, float, float]:
    """Our world position (m) of a FreeD message's X, Y, height (mm)."""
    return pose.x_mm / 1000.0, pose.z_mm / 1000.0, -pose.y_mm / 1000.0


def rows_from_freed(
    messages: Sequence[FreeDPose | None],
    fps: float,
    lens: LensFile | None = None,
    focal_length_mm: float | None = None,
    delay_frames: int = 0,
    start_timecode: str = "00:00:00:00",
    camera_id: int | None = None,
) -> list[CameraTrackRow]:
    """One row per message (one message per video frame, as heads send them at the frame rate).

    ``delay_frames`` = N delays the tracking by N frames: frame i takes message i − N (negative N
    advances it); frames before the first message repeat it with quality 0. A None (a damaged message,
    :func:`~guangying.lens.freed.read_d1_capture_slots`) keeps its frame: the message before it is
    held there, with quality 0. Messages of several cameras need ``camera_id``. The focal length comes
    from the lens file's zoom map, else ``focal_length_mm`` (a prime), else nan."""
    cameras = sorted({m.camera_id for m in messages if m is not None})
    if camera_id is None and len(cameras) > 1:  # taken as one head's: a jump to the other, a frame late
        raise SettingsError(f"the FreeD messages come from cameras {', '.join(map(str, cameras))}: give "
                            "--camera-id (camera_id=) for the camera of this clip")
    if camera_id is not None:
        if len(cameras) > 1:
            messages = _of_one_camera(messages, camera_id, cameras)
        else:  # one head: a damaged message was its own, and holds its frame
            messages = [m for m in messages if m is None or m.camera_id == camera_id]
        if not any(m is not None for m in messages):
            raise SettingsError(f"no FreeD message from camera id {camera_id}")
    first = next((m for m in messages if m is not None), None)
    if first is None:
        raise DeviceError("no FreeD message received")
    damaged = [m is None for m in messages]
    held: list[FreeDPose] = []
    for m in messages:
        held.append(m if m is not None else (held[-1] if held else first))
    messages = held
    if not fps > 0:
        raise SettingsError(f"--fps must be > 0, got {fps}")
    rate = standard_rate(fps)
    zoom = np.array([m.zoom for m in messages], np.float64)
    if lens is not None and lens.zoom is not None:
        focals = lens.zoom.focal_length_mm(zoom)
        if (note := lens.zoom.outside_note(zoom)) is not None:
            outside = int(np.count_nonzero((zoom < lens.zoom.counts[0]) | (zoom > lens.zoom.counts[-1])))
            warnings.warn(f"{outside} of {len(zoom)} FreeD messages: {note}", stacklevel=2)
    else:
        focals = np.full(len(messages), math.nan if focal_length_mm is None else float(focal_length_mm))
    focus = (
        lens.focus_distance_m(np.array([m.focus for m in messages], np.float64))
        if lens is not None
        else np.full(len(messages), math.nan)
    )
    rows = []
    for frame in range(len(messages)):
        k = frame - delay_frames
        quality = 1.0 if 0 <= k < len(messages) else 0.0
        k = min(max(k, 0), len(messages) - 1)
        if damaged[k]:
            quality = 0.0
        m = messages[k]
        x, y, z = freed_position_m(m)
        rows.append(
            CameraTrackRow(
                frame,
                frame / fps,
                timecode_at(start_timecode, frame, rate),
                m.pan_deg,
                m.tilt_deg,
                m.roll_deg,
                x,
                y,
                z,
                float(focals[k]),
                quality,
                float(focus[k]),
            )
        )
    return rows


def _of_one_camera(messages: Sequence[FreeDPose | None], camera_id: int,
                   cameras: list[int]) -> list[FreeDPose | None]:
    """``camera_id``'s messages among several heads', each damaged one (None) kept in its place where the
    heads take turns (1, 2, 1, 2 …: its turn names its camera). Dropped, it moved every later frame
    of the track a frame early, and the track ended a frame short."""
    turns = len(cameras)
    ids = [None if m is None else m.camera_id for m in messages]
    owners = [{c for c in ids[r::turns] if c is not None} for r in range(turns)]
    if all(len(owner) == 1 for owner in owners):
        return [m for r, m in enumerate(messages) if owners[r % turns] == {camera_id}]
    lost = ids.count(None)
    if lost:
        warnings.warn(f"{lost} damaged FreeD message(s) among the messages of cameras "
                      f"{', '.join(map(str, cameras))}, which do not take turns, could not be given to a "
                      "camera: the frames after each may be a frame early, and the track a frame short",
                      stacklevel=3)
    return [m for m in messages if m is not None and m.camera_id == camera_id]


def _say_rate(
    listen: str, messages: list[FreeDPose | None], arrivals: list[float], fps: float | None
) -> None:
    """Say messages that came at another rate than the camera's frames: one message a frame, so the
    track's move ran fast or slow (5 Hz against 25 fps: 3 s of move in 0.6 s of track), unsaid. Counted
    per camera (two heads on one port take turns)."""
    per_camera = Counter(m.camera_id for m in messages if m is not None)
    if fps is None or not per_camera:
        return
    camera = per_camera.most_common(1)[0][0]
    times = np.array([t for m, t in zip(messages, arrivals, strict=True)
                      if m is not None and m.camera_id == camera])
    if len(times) < 10 or times[-1] - times[0] < 1.0:
        return
    # the period fitted through every arrival: one late arrival (~1 ms jitter, more on a busy machine)
    # moves it far less than it moves the first-to-last span
    period_s = float(np.polyfit(np.arange(len(times)), times, 1)[0])
    rate = 1.0 / period_s
    off_s = (len(times) - 1) * (period_s - 1.0 / fps)  # the camera's time at the last frame, less the track's
    # 2 % off is said however short the take (24 Hz against 25 fps, a 60 s take 2.5 s ahead); less, once
    # the track has slipped a frame by its end (a 24 Hz tracker on a 23.976 camera: a frame in 42 s)
    if abs(rate / fps - 1) > 0.02 or abs(off_s) >= 1.0 / fps:
        side = "ahead of" if off_s > 0 else "behind"
        warnings.warn(f"FreeD on {listen} came at about {rate:.5g} messages a second, the track is at "
                      f"{fps:g} frames a second: one message a frame, so its move runs {fps / rate:.4g}× "
                      f"as fast as the camera's (its last frame {abs(off_s):.2g} s, {abs(off_s) * fps:.1f} "
                      f"frames, {side} the camera's). Send one message a frame (genlock the tracker to the "
                      "camera)", stacklevel=3)


def receive_freed(
    listen: str,
    frames: int | None = None,
    duration_s: float | None = None,
    first_timeout_s: float = 10.0,
    gap_timeout_s: float = 2.0,
    fps: float | None = None,
) -> list[FreeDPose | None]:
    """Listen on ``HOST:PORT`` until ``frames`` messages or ``duration_s`` seconds; the error says when
    nothing arrives within ``first_timeout_s``. A pause longer than ``gap_timeout_s`` ends the take, said
    (the frames after it would be placed a pause early: FreeD carries no time). A stop (Ctrl-C, SIGTERM)
    ends it too, keeping what arrived, said, before the stop goes on. A damaged message is a None in its
    place, as in a capture file (:func:`~guangying.lens.freed.read_d1_capture_slots`). ``fps``: the
    camera's frame rate, which messages arriving at another rate are said against (one message a frame)."""
    if frames is None and duration_s is None:
        raise SettingsError("say how long to listen: --frames N or --duration S")
    if (frames is not None and frames <= 0) or (duration_s is not None and not duration_s > 0):
        # said as "no FreeD message received" at once, a sender running
        raise SettingsError(f"listen for at least one frame: --frames {frames} --duration {duration_s}")
    messages: list[FreeDPose | None] = []
    arrivals: list[float] = []
    with FreeDReceiver(listen) as receiver:
        start = time.monotonic()
        try:
            while frames is None or len(messages) < frames:
                if duration_s is not None and time.monotonic() - start >= duration_s:
                    break
                wait = first_timeout_s if not messages else gap_timeout_s
                if duration_s is not None:
                    wait = min(wait, max(0.0, duration_s - (time.monotonic() - start)) + 0.05)
                # a damaged message before the first good one is no frame of the take yet
                got = receiver.receive_slot(wait) if messages else receiver.receive(wait)
                if got is None and messages and wait < gap_timeout_s:  # the --duration's end, not a pause
                    break
                if got is None:
                    if not messages:  # the whole --duration when it is the shorter (it said 10 s after 6)
                        waited_s = first_timeout_s if duration_s is None else min(first_timeout_s, duration_s)
                        raise DeviceError(
                            f"no FreeD D1 message on {listen} within {waited_s:g} s "
                            f"({receiver.rejected} malformed datagrams); check the sender's target address, "
                            "port"
                        )
                    # said for --duration too: a tracker's 2 s hiccup cut the track short without a word
                    asked = (f"of the {frames} messages asked for" if frames is not None else
                             f"({time.monotonic() - start - wait:.1f} s of the {duration_s:g} s asked for)")
                    warnings.warn(f"FreeD on {listen} paused for {wait:g} s after {len(messages)} messages "
                                  f"{asked}: the track ends there (FreeD carries no time, so the frames "
                                  "after a pause would be placed early)", stacklevel=2)
                    break
                messages.append(got[1])
                arrivals.append(time.monotonic())
        except (KeyboardInterrupt, SystemExit):
            # the operator's Ctrl-C (or SIGTERM, a closed terminal) threw away the whole take received
            if not messages:
                raise
            warnings.warn(f"FreeD on {listen}: stopped after {len(messages)} messages; the track keeps them",
                          stacklevel=2)
        _say_rate(listen, messages, arrivals, fps)
        other = receiver.rejected - messages.count(None)
        if other:
            warnings.warn(f"FreeD on {listen}: {other} datagram(s) that are no D1 message were ignored",
                          stacklevel=2)
    return messages
