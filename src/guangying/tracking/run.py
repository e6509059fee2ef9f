"""``guangying track`` as a library call: read the source, run the method, write the camera track."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from guangying.base.errors import SettingsError
from guangying.base.timecode import standard_rate, timecode_at
from guangying.lens.camera_calibration import CameraCalibration, load_camera_calibration, plate_intrinsics
from guangying.lens.optics import sensor_span_px
from guangying.media.patterns import source_first_frame
from guangying.tracking.camera_track import CameraTrackRow, ChanSettings, chan_frame_zero, write_camera_track

METHODS = ("markers", "features", "freed", "r3d")


@dataclass(slots=True)
class TrackJob:
    """Everything ``guangying track`` takes; see the command's help for each field."""

    source: str | None
    method: str
    output: Path
    focal_length_mm: float | None = None
    sensor_width_mm: float | None = None
    calibration: Path | None = None
    board: Path | None = None
    matte: str | None = None
    set_pan_deg: float = 0.0
    set_tilt_deg: float = 0.0
    position_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    freed_listen: str | None = None
    frames: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    lens_file: Path | None = None
    delay_frames: int = 0
    camera_id: int | None = None
    start: int | None = None
    end: int | None = None
    smooth: bool = True
    min_markers: int = 2
    chan_first_frame: int | None = None  # the .chan number of the first row (see _chan_frame_zero)
    chan_aspect: float | None = None  # .chan of a plate-less source (FreeD, Record3D): the plate's W/H
    start_timecode: str | None = None


def _calibration(job: TrackJob) -> CameraCalibration | None:
    return None if job.calibration is None else load_camera_calibration(job.calibration)


def _sensor(job: TrackJob, calib: CameraCalibration | None) -> float | None:
    if job.sensor_width_mm is not None:
        return job.sensor_width_mm
    return None if calib is None else calib.sensor_width_mm


def _frames(job: TrackJob):  # type: ignore[no-untyped-def]
    from guangying.media import open_reader

    if job.source is None:
        raise SettingsError(f"--method {job.method} needs a SOURCE clip")
    return open_reader(job.source, job.start, job.end, fps=job.fps)


@dataclass(slots=True)
class _Meta:
    index: int
    time_s: float
    timecode: str | None


def _video_rows(
    job: TrackJob, progress: Callable[[int], None] | None
) -> tuple[list[CameraTrackRow], float, float | None, tuple[float, float]]:
    from guangying.media import display_srgb, open_reader
    from guangying.tracking.markers import gray_u8

    calib = _calibration(job)
    sensor = _sensor(job, calib)
    reader = _frames(job)
    with reader:
        info = reader.info
        w, h = info.width, info.height
        k, dist = plate_intrinsics(w, h, job.focal_length_mm, sensor, calib, float(info.pixel_aspect))
        fps = float(info.fps)
        metas: list[_Meta] = []

        def stream() -> Iterator[tuple[float, np.ndarray]]:
            """(time, sRGB picture 0–1) per frame, as the keyer sees it (an EXR or HDR clip encoded)."""
            for n, frame in enumerate(reader):
                metas.append(_Meta(frame.index, frame.time_s, frame.timecode))
                if progress is not None:
                    progress(n + 1)
                yield frame.time_s, display_srgb(frame.rgb, frame.transfer, info.highlight_peak)

        if job.method == "markers":
            from guangying.tracking.board import load_board
            from guangying.tracking.marker_track import MarkerTrackSettings, track_markers

            if job.board is None:
                raise SettingsError(
                    "--method markers needs --board BOARD.json (write one with `guangying board`)"
                )
            board = load_board(job.board)
            settings = MarkerTrackSettings(min_markers=job.min_markers, smooth=job.smooth)
            poses, quality, _ = track_markers(stream(), board, k, dist, settings)
            focal_mm = np.full(len(poses), _focal_mm(job, calib, sensor, k, w, h))
        elif job.method == "features":
            from guangying.tracking.features import track_features

            if np.any(dist):
                raise SettingsError(
                    "--method features works on undistorted (pinhole) plates; the calibration has lens "
                    "distortion: undistort the plate first or calibrate without distortion"
                )
            matte_reader = (
                None if job.matte is None else open_reader(job.matte, job.start, job.end, fps=job.fps)
            )
            mattes = iter(matte_reader) if matte_reader is not None else None

            def with_mattes() -> Iterator:  # type: ignore[type-arg]
                for _, picture in stream():
                    m = None
                    if mattes is not None:
                        mf = next(mattes, None)
                        if mf is None:
                            raise SettingsError(f"the matte {job.matte} has fewer frames than {job.source}")
                        m = mf.alpha if mf.alpha is not None else mf.rgb.mean(axis=2)
                        if m.shape != picture.shape[:2]:  # a proxy-size matte: scaled to the plate
                            size = (picture.shape[1], picture.shape[0])
                            m = cv2.resize(np.ascontiguousarray(m, np.float32), size,
                                           interpolation=cv2.INTER_LINEAR)
                    yield gray_u8(picture), m

            try:
                poses, f_px, quality = track_features(
                    with_mattes(),
                    float(k[0, 0]),
                    (float(k[0, 2]), float(k[1, 2])),
                    job.set_pan_deg,
                    job.set_tilt_deg,
                    job.position_m,
                )
            finally:
                if matte_reader is not None:
                    matte_reader.close()
            first = metas[0].index if metas else 0
            if job.source is not None and first > source_first_frame(job.source):
                # its rows carry the source's frame numbers and timecode: spliced into the whole clip's
                # track, the camera jumped (5° on a DIT's pan) without a word
                warnings.warn(f"the features track of frames {first}–{metas[-1].index} starts at --set-pan "
                              f"{job.set_pan_deg:g}° --set-tilt {job.set_tilt_deg:g}° on frame {first}, not "
                              "where a track from the clip's first frame puts the camera there: to splice it "
                              f"into one, give that track's pan and tilt of frame {first} as --set-pan and "
                              "--set-tilt", stacklevel=2)
            # the solve's focal length in the units of the one it started from (a portrait plate's fx
            # spans the sensor along its height: taken over its width, a 26 mm lens was written as 46 mm)
            focal_mm = _focal_mm(job, calib, sensor, k, w, h) * np.asarray(f_px, np.float64) / float(k[0, 0])
        else:
            raise SettingsError(f"unknown method {job.method!r}; use one of {', '.join(METHODS)}")
        rate = Fraction(info.fps)
        if job.start_timecode or info.timecode:  # the first row's
            start_tc, zero = job.start_timecode or info.timecode, info.first_frame
        else:  # free-run from the source's own first frame: a range from frame 5 started at 00:00:00:00
            start_tc, zero = "00:00:00:00", source_first_frame(job.source or "")
        rows = [
            CameraTrackRow.from_pose(
                m.index,
                m.time_s,
                m.timecode or timecode_at(start_tc, m.index - zero, rate),
                p,
                f,
                q,
            )
            for m, p, f, q in zip(metas, poses, focal_mm, quality, strict=True)
        ]
    return rows, fps, sensor, (w / h, float(info.pixel_aspect))


def _focal_mm(
    job: TrackJob, calib: CameraCalibration | None, sensor: float | None, k: np.ndarray, w: int, h: int
) -> float:
    """The focal length (mm) the camera matrix ``k`` of a ``w × h`` plate stands for (nan: unknown)."""
    if job.focal_length_mm is not None:
        return float(job.focal_length_mm)
    if sensor is not None:  # as plate_intrinsics turns millimetres into fy: over the sensor's span
        return float(k[1, 1]) * sensor / sensor_span_px(w, h, float(k[1, 1] / k[0, 0]))
    if calib is not None and calib.focal_length_mm is not None:
        return calib.focal_length_mm
    return math.nan


def run_track(job: TrackJob, progress: Callable[[int], None] | None = None) -> list[CameraTrackRow]:
    """Run ``job`` and write its track (atomically); returns the rows."""
    if job.method not in METHODS:
        raise SettingsError(f"unknown method {job.method!r}; use one of {', '.join(METHODS)}")
    plate: tuple[float, float] | None = None
    fps = job.fps
    sensor = job.sensor_width_mm
    if job.method in ("markers", "features"):
        rows, fps, sensor, plate = _video_rows(job, progress)
        _say_weak_solves(rows, job)
    elif job.method == "freed":
        rows = _rows_in_range(_freed_rows(job), job, fps)
    else:
        from guangying.tracking.record3d_track import rows_from_record3d

        if job.source is None:
            raise SettingsError("--method r3d needs the .r3d recording as SOURCE")
        rows = rows_from_record3d(
            job.source,
            job.set_pan_deg,
            job.position_m,
            job.sensor_width_mm,
            job.start_timecode or "00:00:00:00",
        )
        fps = rows[1].frame / rows[1].t_s if len(rows) > 1 and rows[1].t_s > 0 else fps
        rows = _rows_in_range(rows, job, fps)
    if sensor is not None:  # the rows hold for this sensor: a set rendered for another would not match
        rows = [replace(r, sensor_width_mm=sensor) for r in rows]
    chan = None
    if job.output.suffix.lower() == ".chan":
        if sensor is None:
            raise SettingsError(
                "a .chan track needs the sensor (--sensor NAME) to turn focal length into a field of view"
            )
        aspect, pixel_aspect = _chan_aspect(job, plate)
        chan = ChanSettings(sensor, aspect, fps or 25.0, rows[0].timecode, _chan_frame_zero(job, rows),
                            pixel_aspect)
        _say_what_a_chan_leaves_out(_calibration(job))
    write_camera_track(job.output, rows, chan)
    return rows


def _say_what_a_chan_leaves_out(calib: CameraCalibration | None) -> None:
    """A .chan holds a centred pinhole camera: a calibration's off-centre principal point and its lens
    distortion were dropped without a word (a Nuke camera about 10 px off the plate's features)."""
    if calib is None:
        return
    k = calib.camera_matrix
    dx = float(k[0, 2]) - (calib.image_width_px - 1) / 2
    dy = float(k[1, 2]) - (calib.image_height_px - 1) / 2
    distorted = bool(np.any(np.abs(calib.dist_coeffs) > 1e-6))
    shifted = max(abs(dx), abs(dy)) >= 0.5
    if not shifted and not distorted:
        return
    size = f"{calib.image_width_px}×{calib.image_height_px}"
    left_out = [f"principal point ({dx:+.1f}, {dy:+.1f} px from the {size} centre)"] if shifted else []
    left_out += ["lens distortion"] if distorted else []
    warnings.warn(f"a .chan holds a centred camera without distortion, so it leaves out the calibration's "
                  f"{' and '.join(left_out)}: in Nuke, shift the Camera's window (win_translate) and "
                  "distort with a LensDistortion node, or line the camera up with the undistorted plate",
                  stacklevel=3)


def _chan_aspect(job: TrackJob, plate: tuple[float, float] | None) -> tuple[float, float]:
    """The plate aspect (W/H as stored, and its pixel aspect) a .chan's field of view is worked out for:
    the tracked plate's, else ``--chan-aspect`` (square pixels), else 16:9, said (a FreeD capture has no
    plate: a 4:3 plate's set came out 1.33× too tight from the .chan, without a word)."""
    if plate is not None:
        shown = plate[0] * plate[1]
        if job.chan_aspect is not None and abs(job.chan_aspect / shown - 1.0) > 0.01:
            warnings.warn(f"--chan-aspect {job.chan_aspect:.4g} is not the plate's {shown:.4g}: the "
                          "plate's is used", stacklevel=3)
        return plate
    if job.chan_aspect is not None:
        return job.chan_aspect, 1.0
    warnings.warn(f"a {job.method} track has no plate to take the aspect from: the .chan's field of view "
                  "is for a 16:9 plate; give --chan-aspect W/H (4:3, 9:16 …) for another", stacklevel=3)
    return 16 / 9, 1.0


_WEAK_QUALITY = 0.3  # below: a solve off by about 0.8 px rms or more, or few markers; the set may slip
_BAD_MEDIAN_QUALITY = 0.15  # most solves this poor: the model of the screen or the lens is wrong


def _say_weak_solves(rows: list[CameraTrackRow], job: TrackJob) -> None:
    """Warn where the solve was poor. A board file of another layout fitted every frame 30 px off (quality
    0.02) and a features track of a pan that followed the actor drifted for good, said only as "1 held"."""
    from guangying.media.damage import first_frame_ranges

    quality = np.array([r.quality for r in rows])
    held = quality == 0.0  # no solve: too few markers or features seen, the last pose held
    if held.any():
        # (held frames counted in, the median said the board file or the lens was wrong where the
        # markers were only blurred out of sight; the frames that were solved were right. A few held
        # frames were said as weak solves)
        seen = "markers" if job.method == "markers" else "features"
        listed = first_frame_ranges(r.frame for r, h in zip(rows, held, strict=True) if h)
        warnings.warn(f"too few {seen} were found in {int(held.sum())} of {len(rows)} frames ({listed}): "
                      "they hold the last solved pose, so the set stands still there while the camera "
                      "moves. Motion blur, the board out of frame or behind the actor"
                      + (" (--min-markers lowers the count needed)" if job.method == "markers" else ""),
                      stacklevel=3)
    solved = quality[~held]
    if solved.size and np.median(solved) < _BAD_MEDIAN_QUALITY:
        cause = ("the board file is not the printed board (marker size, gap, dictionary or first id) or the "
                 "lens is wrong (--focal-length, --sensor, or a --calibration with its distortion)"
                 if job.method == "markers" else
                 "the lens is wrong (--focal-length, --sensor) or too little of the screen's texture shows")
        warnings.warn(f"the camera solve fits poorly in most frames solved (median quality "
                      f"{np.median(solved):.2f} of 1): {cause}. This track will not hold a set in place",
                      stacklevel=3)
        return
    if held.mean() > 0.5:
        return
    weak = [r.frame for r, h in zip(rows, held, strict=True) if r.quality < _WEAK_QUALITY and not h]
    if not weak:
        return
    where = first_frame_ranges(weak)
    advice = ""
    if job.method == "features":
        advice = (" A features track carries an error on to every later frame, so check the set from the "
                  "first of them on" + ("; give --matte ALPHA so that the actor is not tracked as the "
                                       "screen" if job.matte is None else ""))
    warnings.warn(f"the camera solve is weak (quality below {_WEAK_QUALITY:g}) in {len(weak)} of {len(rows)} "
                  f"frames ({where}): the set may slip there.{advice}", stacklevel=3)


def _chan_frame_zero(job: TrackJob, rows: list[CameraTrackRow]) -> int:
    """The .chan number of our frame 0. Given ``--chan-first-frame N``, the first row is N; else an
    image sequence keeps its own numbers (``plate.1001.exr`` is 1001 in Nuke) and a video's frame 0 is 1
    (a Read of a movie starts there). Before, N went to frame 0 whatever the first row: a sequence from
    1001 came out one frame late by default, and at 2002 with ``--chan-first-frame 1001``."""
    if job.chan_first_frame is not None:
        return job.chan_first_frame - rows[0].frame
    return chan_frame_zero(job.source)


def _rows_in_range(rows: list[CameraTrackRow], job: TrackJob, fps: float | None) -> list[CameraTrackRow]:
    """The rows of frames ``--start``..``--end`` of a recording read whole (FreeD ignored the range);
    ``--start-timecode`` is the first row's, as for a plate."""
    if job.start is None and job.end is None:
        return rows
    lo = job.start or 0
    hi = job.end if job.end is not None else rows[-1].frame
    kept = [r for r in rows if lo <= r.frame <= hi]
    if not kept:
        raise SettingsError(f"no frame of the recording ({rows[0].frame}–{rows[-1].frame}) lies in --start "
                            f"{lo} --end {hi}")
    if job.start_timecode and fps:
        rate, first = standard_rate(fps), kept[0].frame
        kept = [replace(r, timecode=timecode_at(job.start_timecode, r.frame - first, rate)) for r in kept]
    return kept


def _freed_rows(job: TrackJob) -> list[CameraTrackRow]:
    from guangying.lens.freed import FreeDPose, read_d1_capture_slots
    from guangying.lens.zoom import load_lens_file
    from guangying.tracking.freed_track import receive_freed, rows_from_freed

    if (job.source is None) == (job.freed_listen is None):
        raise SettingsError(
            "--method freed takes a capture file as SOURCE or --freed-listen HOST:PORT (one of them)"
        )
    if job.fps is None:
        raise SettingsError("--method freed needs --fps (the video's frame rate; FreeD carries no time)")
    messages: list[FreeDPose | None]
    if job.source is not None:
        messages = read_d1_capture_slots(job.source)
    else:
        messages = receive_freed(job.freed_listen or "", job.frames, job.duration_s, fps=job.fps)
    lost = messages.count(None)
    if lost:
        warnings.warn(f"{job.source or job.freed_listen}: {lost} FreeD message(s) damaged (bad checksum); "
                      "each one's frame holds the pose before it (quality 0), so the frames after it keep "
                      "their place", stacklevel=2)
    lens = None if job.lens_file is None else load_lens_file(job.lens_file)
    return rows_from_freed(
        messages,
        job.fps,
        lens,
        job.focal_length_mm,
        job.delay_frames,
        job.start_timecode or "00:00:00:00",
        job.camera_id,
    )
