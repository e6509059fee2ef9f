"""Where a set's camera comes from: a camera-track file, or live FreeD D1 over UDP (``freed://HOST:PORT``).

FreeD's axes become ours as the tracking tools convert them (docs/tracking.md). Zoom
arrives as raw encoder counts: a lens file (:mod:`guangying.lens.zoom`) maps them to the focal length,
else ``--focal-length`` gives it.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
import warnings
from collections import deque
from dataclasses import replace
from typing import Protocol

import numpy as np

from guangying.base.errors import SettingsError
from guangying.base.events import say_again
from guangying.lens.freed import FreeDPose, FreeDReceiver
from guangying.lens.zoom import LensFile
from guangying.tracking.camera_track import CameraTrackRow, ChanSettings, read_camera_track
from guangying.tracking.freed_track import freed_position_m

FREED_SCHEME = "freed://"


class CameraRows(Protocol):
    """The camera row for a plate frame (number ``frame_index``, ``position``-th of the take, captured
    at ``capture_time_s``, ``time.monotonic()``, when it is live)."""

    def row(self, frame_index: int, position: int, capture_time_s: float | None = None) -> CameraTrackRow: ...

    def close(self) -> None: ...


class TrackLookup:
    """Rows of a track file: by frame number when the track covers the plate's numbering, else row i
    for the plate's i-th frame from its first, ``plate_first_frame`` (with a warning); the last row
    holds past the end, and a frame the track skips takes the camera between its neighbours (said
    once). ``plate_fps``: a track whose ``t_s`` steps at another rate is said (its rows are matched by
    frame, so the set would move at another speed)."""

    def __init__(self, rows: list[CameraTrackRow], source: str, plate_fps: float | None = None,
                 plate_first_frame: int = 0) -> None:
        # in frame order: a track whose rows were pasted out of order played them in the file's order
        # where its numbering is not the plate's, the set jumping back and forth
        self.rows = sorted(rows, key=lambda r: r.frame)
        self.source = source
        self.plate_first_frame = plate_first_frame
        self._by_frame = {r.frame: r for r in rows}
        self._frames = sorted(self._by_frame)
        self._by_number: bool | None = None
        self._warned_end = False
        self._warned_gap = False
        if plate_fps:
            _check_rate(rows, source, plate_fps)

    def row(self, frame_index: int, position: int, capture_time_s: float | None = None) -> CameraTrackRow:
        if frame_index < 0:
            # a live take's warm-up frame, before the take: it chose rows-in-order for the whole take,
            # said so, and the set then lagged the plate by every frame the engine dropped
            return self.rows[0]
        if self._by_number is None:
            self._by_number = frame_index in self._by_frame
            if not self._by_number:
                warnings.warn(
                    f"camera track {self.source} has no row for plate frame {frame_index}: its rows are "
                    f"taken in order, its first for the plate's frame {self.plate_first_frame}",
                    stacklevel=2,
                )
        if self._by_number:
            row = self._by_frame.get(frame_index)
            if row is not None:
                return row
            if self._frames[0] < frame_index < self._frames[-1]:
                return self._between(frame_index)
        elif 0 <= (nth := frame_index - self.plate_first_frame) < len(self.rows):
            # by the plate's frame, not the render's position: a range render (--start 10) gave
            # frame 10 the first row, the set ten frames off the plate
            return self.rows[nth]
        if not self._warned_end:
            warnings.warn(
                f"camera track {self.source} ends before the plate: holding its last row", stacklevel=2
            )
            self._warned_end = True
        return self.rows[-1]

    def _between(self, frame_index: int) -> CameraTrackRow:
        """The camera for a frame the track skips (a tracker's dropout): between the rows either side,
        in proportion. The nearest row held the set, which then jumped."""
        after = bisect.bisect(self._frames, frame_index)
        a, b = self._by_frame[self._frames[after - 1]], self._by_frame[self._frames[after]]
        if not self._warned_gap:
            warnings.warn(f"camera track {self.source} has no row for plate frame {frame_index}: the camera "
                          f"there is taken between frames {a.frame} and {b.frame}, and so for any other "
                          "frame it skips", stacklevel=3)
            self._warned_gap = True
        w = (frame_index - a.frame) / (b.frame - a.frame)
        return replace(rows_between(a, b, w), frame=frame_index, timecode="", quality=0.0)

    def close(self) -> None:
        pass


_LERPED = ("tilt_deg", "roll_deg", "x_m", "y_m", "z_m", "focal_length_mm", "focus_distance_m")


def rows_between(a: CameraTrackRow, b: CameraTrackRow, w: float) -> CameraTrackRow:
    """The camera ``w`` (0–1) of the way from ``a`` to ``b``: pan the short way round, ``t_s`` too; the
    rest of ``a``'s fields kept."""
    pan_b = a.pan_deg + (b.pan_deg - a.pan_deg + 180.0) % 360.0 - 180.0  # the short way round
    lerp = {name: (1 - w) * getattr(a, name) + w * getattr(b, name) for name in _LERPED}
    return replace(a, t_s=(1 - w) * a.t_s + w * b.t_s, pan_deg=(1 - w) * a.pan_deg + w * pan_b, **lerp)


def _check_rate(rows: list[CameraTrackRow], source: str, plate_fps: float) -> None:
    """Say a track whose rows come at another rate than the plate's frames (a 50 fps tracker under a
    25 fps plate): matched by frame number, its move played at half speed, without a word."""
    times = np.array([r.t_s for r in sorted(rows, key=lambda r: r.frame)], np.float64)
    frames = np.array(sorted(r.frame for r in rows), np.float64)
    ok = np.isfinite(times)
    if ok.sum() < 3:
        return
    frame_steps = np.diff(frames[ok])
    steps = np.diff(times[ok])[frame_steps > 0] / frame_steps[frame_steps > 0]  # a row given twice: skipped
    if steps.size < 2:
        return
    track_fps = 1.0 / float(np.median(steps)) if np.median(steps) > 0 else 0.0
    if track_fps > 0 and abs(track_fps / plate_fps - 1.0) > 0.02:
        warnings.warn(f"camera track {source} has a row every {1000 / track_fps:.4g} ms "
                      f"({track_fps:.4g} fps; its t_s) and the plate runs at {plate_fps:.4g} fps: rows are "
                      "matched to frames by number, so the set moves at another speed than the camera did. "
                      "Resample the track to the plate's rate (one row per plate frame)", stacklevel=3)


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


# Camera tracking sends FreeD at the video's rate or faster (25–100 Hz): a tracking system silent this
# long after its first message has stopped (a cable, its PC), and one never heard this long after the
# listener opened is sending elsewhere or not at all.
FREED_LOST_S = 0.5
FREED_FIRST_S = 3.0
# Messages kept to look up the camera at a frame's capture: a copied plate starts with the pictures since
# the keyframe before the take (up to 20 s), sampled when they are written; 80 s at 100 Hz.
FREED_HISTORY = 8192


class FreeDCameraFeed:
    """Live camera from FreeD D1 on a UDP port: a listener thread keeps the messages with their
    arrival, and each plate frame takes the camera as the messages that had arrived when the frame was
    captured tell it: with ``video_fps``, ``delay_frames`` = N video frames before the capture (tracking
    that runs ahead of the video, as heads' usually does), between the two messages around that time;
    without, the last message, or the one N messages older. Taken when the frame was processed instead,
    the set moved against the plate by the engine's latency and its jitter, and a recording of the
    camera could not be the one the monitor showed. Until the first message the rest pose is held with
    quality 0. ``lens`` (a lens file) turns zoom counts into the focal length; ``camera_id`` is the
    head followed (None: the first heard).

    A tracking system that is not heard (``FREED_FIRST_S`` after opening) or stops (``FREED_LOST_S``
    without a message) is said, as is its return: before, the set stood still at the rest pose or
    the last one, without a word, while the camera moved. :meth:`status` tells the monitor."""

    def __init__(self, listen: str, lens: LensFile | None = None, delay_frames: int = 0,
                 camera_id: int | None = None, video_fps: float | None = None) -> None:
        if not 0 <= delay_frames <= 100:
            raise SettingsError(f"FreeD delay must be 0–100 frames, got {delay_frames}")
        if camera_id is not None and not 0 <= camera_id <= 255:
            raise SettingsError(f"FreeD camera id must be 0–255, got {camera_id}")
        # the camera followed: the one named, else the first heard; another's messages (a second head on
        # the port) are said once and left out: taken, the set jumped between the two heads' poses
        self.camera_id = camera_id
        self._named_camera = camera_id is not None
        self.ignored = 0
        self.receiver = FreeDReceiver(listen)
        self.port = self.receiver.port
        self.lens = lens
        self.delay_frames = delay_frames
        # with the video's rate, the delay is in its frames and the camera is taken between the two
        # messages around that time; without, ``delay_frames`` messages back, the one before held
        self.frame_s = None if not video_fps else 1.0 / float(video_fps)
        self._history: deque[CameraTrackRow] = deque(maxlen=FREED_HISTORY)  # t_s: arrival, monotonic
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._opened_s = time.monotonic()
        self._last_s: float | None = None
        self._count = 0
        self._state = "waiting"  # → "live" ⇄ "lost"
        self._said_missing = False
        self._said_zoom = False
        self._thread = threading.Thread(target=self._listen, name="freed-camera", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            self.receiver.wait(0.1)
            self._take_waiting()
            self._check_silence(time.monotonic())

    def _take_waiting(self) -> None:
        """Every message the port holds, into the history, stamped with its arrival. Also called by each
        look-up, under the same lock, before it looks: a frame's camera never misses a message that had
        arrived before its capture but that this thread had not yet read (a busy machine or the engine
        can keep it from running for 100+ ms), so a recording of the camera, looked up later, is what the
        monitor showed."""
        notes = []
        with self._lock:
            if self._stop.is_set():  # closed: its port too
                return
            for t_s, pose in self.receiver.waiting():
                if pose is None:
                    continue
                if self.camera_id is None:
                    self.camera_id = pose.camera_id
                if pose.camera_id != self.camera_id:
                    notes += self._other_camera(pose.camera_id)
                    continue
                if not self._said_zoom and self.lens is not None and self.lens.zoom is not None:
                    note = self.lens.zoom.outside_note(float(pose.zoom))
                    if note is not None:  # the set's zoom froze at the file's end, unsaid
                        self._said_zoom = True
                        notes.append(f"FreeD camera tracking on port {self.port}: {note}")
                self._history.append(row_from_freed(pose, self._count, t_s, self.lens))
                self._count += 1
                self._last_s = t_s if self._last_s is None else max(self._last_s, t_s)
                was, self._state = self._state, "live"
                if was == "lost" or (was == "waiting" and self._said_missing):
                    notes.append(f"FreeD camera tracking on port {self.port} arrives now: the set follows "
                                 "the camera")
        for note in notes:
            say_again(note, stacklevel=3)  # the same words at each return of the tracking

    def _other_camera(self, camera_id: int) -> list[str]:
        self.ignored += 1
        if self.ignored > 1:
            return []
        chosen = "as named" if self._named_camera else "the first heard; --freed-camera-id names another"
        return [f"FreeD of camera {camera_id} also arrives on port {self.port}: left out, the set follows "
                f"camera {self.camera_id} ({chosen})"]

    def _check_silence(self, now_s: float) -> None:
        host = self.receiver.address[0]
        if self._state == "waiting" and not self._said_missing and now_s - self._opened_s > FREED_FIRST_S:
            self._said_missing = True
            other = self.receiver.rejected
            noise = f"; {other} datagrams came that are not FreeD D1" if other else ""
            warnings.warn(
                f"no FreeD camera tracking on {host}:{self.port} in {FREED_FIRST_S:g} s{noise}: the set "
                "stays at its rest pose until it comes. Check that the tracking system sends FreeD D1 "
                f"over UDP to this machine's port {self.port}", stacklevel=3)
        elif self._state == "live" and self._last_s is not None and now_s - self._last_s > FREED_LOST_S:
            with self._lock:
                self._state = "lost"
            say_again(
                f"FreeD camera tracking on port {self.port} stopped: the set holds the camera's last pose "
                "until it comes back (check the tracking system and its network)", stacklevel=3)

    def status(self) -> dict[str, object]:
        """For the monitor: ``state`` (waiting, live or lost), messages received and rejected."""
        with self._lock:
            return {"state": self._state, "received": self.receiver.received,
                    "rejected": self.receiver.rejected, "camera_id": self.camera_id,
                    "other_cameras": self.ignored}

    def row(self, frame_index: int, position: int, capture_time_s: float | None = None) -> CameraTrackRow:
        """The camera when the frame was captured (``capture_time_s``, monotonic; None: now), taken
        ``delay_frames`` video frames back (messages back without ``video_fps``); its ``t_s`` is the
        message's arrival (monotonic)."""
        self._take_waiting()
        with self._lock:
            last = len(self._history) - 1
            if capture_time_s is not None:  # frames are captured moments ago: look back from the newest
                while last >= 0 and self._history[last].t_s > capture_time_s:
                    last -= 1
            at_s = time.monotonic() if capture_time_s is None else capture_time_s
            if self.frame_s is None:
                delayed = self._history[max(last - self.delay_frames, 0)] if last >= 0 else None
            else:
                delayed = self._at(last, at_s - self.delay_frames * self.frame_s)
            if delayed is not None and at_s - self._history[last].t_s > FREED_LOST_S:
                # tracking had stopped: the pose held, marked so (quality 0), as a track file's held rows
                # are; recorded as a good solve, editorial could not tell the frozen stretch
                delayed = replace(delayed, quality=0.0)
            elif delayed is None and self._history:
                # captured before the first message that is kept (a copied plate's pre-roll, read before
                # the listener opened): its first pose, held, rather than the rest pose far from it
                delayed = replace(self._history[0], quality=0.0)
        if delayed is None:  # rest pose, at the lens's widest when its zoom map is known
            widest = math.nan
            if self.lens is not None and self.lens.zoom is not None:
                widest = float(np.min(self.lens.zoom.focal_lengths_mm))
            return CameraTrackRow(frame_index, 0.0, "", 0, 0, 0, 0, 0, 0, widest, 0.0)
        return delayed

    def _at(self, last: int, at_s: float) -> CameraTrackRow | None:
        """The camera at ``at_s`` from the messages up to ``last`` (those that had arrived when the frame
        was captured): between the two around it, by their arrival. Held at the newest one, it stepped
        once a message, so a head's 25 Hz under 25 fps video flipped a frame back and forth with the
        network's jitter, and 50 Hz FreeD needed a delay twice as long."""
        if last < 0:
            return None
        i = last
        while i > 0 and self._history[i].t_s > at_s:
            i -= 1
        a = self._history[i]
        if i == last or a.t_s > at_s:  # the newest, or from before the first: held
            return a
        b = self._history[i + 1]
        w = (at_s - a.t_s) / (b.t_s - a.t_s) if b.t_s > a.t_s else 1.0
        return rows_between(a, b, w)

    def close(self) -> None:
        with self._lock:
            self._stop.set()
        self._thread.join(timeout=2.0)
        self.receiver.close()


def open_camera_rows(
    spec: str,
    chan: ChanSettings | None = None,
    lens: LensFile | None = None,
    delay_frames: int = 0,
    plate_fps: float | None = None,
    plate_first_frame: int = 0,
    camera_id: int | None = None,
) -> CameraRows:
    """``freed://HOST:PORT`` → a live FreeD listener (``lens`` maps its zoom counts, ``delay_frames``
    lines it up with the video, ``camera_id`` the head it follows: None, the first heard); anything
    else → a camera-track file (a Nuke ``.chan`` needs ``chan``: sensor width and plate aspect turn its
    field of view into a focal length)."""
    if spec.startswith(FREED_SCHEME):
        return FreeDCameraFeed(spec[len(FREED_SCHEME) :], lens, delay_frames, camera_id, plate_fps)
    return TrackLookup(read_camera_track(spec, chan), spec, plate_fps, plate_first_frame)
