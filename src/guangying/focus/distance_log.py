"""Distance logs from recorded material: a depth map, a Record3D (.r3d) recording, or the faces in a
picture, clip or sequence. Each yields ``(DistanceReading, subject)`` pairs that
:func:`guangying.focus.track_io.write_sensor_log` writes as a sensor log ``guangying focus`` replays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from guangying.base.errors import MissingMediaError, SettingsError
from guangying.distance.depthmap import DepthMapError
from guangying.distance.reading import DistanceReading
from guangying.focus.tracking import Detection, Rule, SubjectSelector, SubjectTracker, iou_matrix
from guangying.lens.sensors import sensor_preset
from guangying.media.damage import first_frame_ranges
from guangying.media.patterns import parse_pattern

DistanceKind = Literal["auto", "depth", "r3d", "faces"]
Box = tuple[float, float, float, float]
LoggedReading = tuple[DistanceReading, str]


def detect_distance_kind(path: str | Path) -> Literal["depth", "r3d", "faces"]:
    """``r3d`` for ``.r3d``; ``depth`` for ``.npy``/``.exr`` and single-channel 16-bit or float PNGs
    and TIFFs; else ``faces`` (a picture, clip or sequence of a person). A single-channel 8-bit
    picture is refused: it may be a depth map scaled for viewing (no metres in it) or a grey photo."""
    pattern = parse_pattern(path)
    if pattern is not None and not Path(path).is_file():  # a sequence: what its first frame is
        numbers = pattern.find_numbers()
        if not numbers:
            raise MissingMediaError(pattern.none_found("frames"))
        return detect_distance_kind(pattern.path(numbers[0]))
    if pattern is None and not Path(path).exists():  # taken for a face clip, it asked for a focal length
        raise MissingMediaError(f"{path} not found")
    if Path(path).is_dir():
        raise MissingMediaError(f"{path} is a folder: name a depth map, a clip or a picture sequence in it "
                                "(shot.%04d.png)")
    suffix = Path(path).suffix.lower()
    if suffix == ".r3d":
        return "r3d"
    if suffix in (".npy", ".exr"):
        return "depth"
    if suffix in (".png", ".tif", ".tiff"):
        from guangying.media.opencv import cv2

        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if img is not None and img.ndim == 2:
            if img.dtype == np.uint8:
                raise SettingsError(
                    f"{path} is a single-channel 8-bit picture: as a depth map it holds no metres (save "
                    "it as a 16-bit PNG or TIFF in mm, or an EXR or float TIFF in m); if it is a grey "
                    "photo of the subject, pass --kind faces"
                )
            return "depth"
    return "faces"


def depth_file_readings(path: str | Path, box: Box | None = None, metres_per_unit: float | None = None,
                        fps: float | None = None) -> Iterator[LoggedReading]:
    """One reading from a depth map, or one per frame of a sequence of them (``depth.%04d.png``, at
    ``fps``: frame n at ``(n − first) / fps`` s). ``box`` x0, y0, x1, y1 in pixels, else the middle third
    of the map each way (a camera's centre focus area: over the whole map a subject filling under 15 %
    of it lost to the wall behind, read at full confidence); ``metres_per_unit`` as
    :func:`~guangying.distance.depthmap.load_depth_m` takes it."""
    pattern = parse_pattern(path)
    if pattern is None or Path(path).is_file():
        reading = _depth_reading(Path(path), 0.0, box, metres_per_unit)
        if not reading.valid:  # a map of holes, NaN or zeros gave "0,0,depth" and exit 0
            warnings.warn(f"{path}: no usable depth in {_where(box)} ({_UNUSABLE})", stacklevel=2)
        yield reading, ""
        return
    numbers = pattern.find_numbers()
    if not numbers:
        raise MissingMediaError(pattern.none_found("depth maps"))
    if fps is None or not (math.isfinite(fps) and fps > 0):
        # a guessed rate would time every reading wrongly, and the focus track with them
        raise SettingsError(f"a sequence of depth maps ({pattern.text}) needs its frame rate: give --fps "
                            "(fps=), e.g. 30 for TUM RGB-D or a Kinect")
    unreadable: list[DepthMapError] = []
    unusable: list[int] = []
    for number in numbers:  # a missing frame leaves a gap in time, as the camera's own dropped frame
        t_s = (number - numbers[0]) / float(fps)  # a Fraction rate gave Fraction times
        reading = DistanceReading(t_s, math.nan, 0.0, "depth")
        read = False
        with warnings.catch_warnings(record=number != numbers[0]) as later:  # a unit doubt: said once
            try:
                reading = _depth_reading(pattern.path(number), t_s, box, metres_per_unit)
                read = True
            except DepthMapError as exc:
                # one damaged map (a recording stopped mid-write) stopped the whole log: it is a
                # frame without a reading now, as a dropout of the camera's
                unreadable.append(exc)
        for caught in later or ():
            if "beyond any depth camera's reach" not in str(caught.message):
                warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno)
        if read and not reading.valid:
            unusable.append(number)  # read, but nothing in it could be used
        yield reading, ""
    if len(unreadable) == len(numbers):
        raise unreadable[0]
    if unreadable:
        warnings.warn(f"{len(unreadable)} of the {len(numbers)} depth maps of {pattern.text} could not be "
                      f"read and give no reading (first: {unreadable[0]})", stacklevel=2)
    if unusable:
        warnings.warn(f"{pattern.text}: no usable depth in {_where(box)} of {len(unusable)} of the "
                      f"{len(numbers)} maps ({first_frame_ranges(unusable)}; {_UNUSABLE})", stacklevel=2)


_UNUSABLE = "holes, NaN, zeros, or nearer than 0.1 m or beyond 50 m: logged as unusable, 0 m and strength 0"


def _where(box: Box | None) -> str:
    return "the middle third of the map" if box is None else f"the box {tuple(int(v) for v in box)}"


def _depth_reading(path: Path, t_s: float, box: Box | None, metres_per_unit: float | None) -> DistanceReading:
    from guangying.distance.depthmap import load_depth_m, reading_from_depth

    depth_m = load_depth_m(path, metres_per_unit)
    h, w = depth_m.shape
    if box is None:  # the middle third, at least a pixel (a 1×1 map's was empty: "does not overlap")
        box = (w // 3, h // 3, max(w // 3 + 1, -(-2 * w // 3)), max(h // 3 + 1, -(-2 * h // 3)))
    region = (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
    if not (0 <= min(region[0], region[2]) and max(region[0], region[2]) <= w
            and 0 <= min(region[1], region[3]) and max(region[1], region[3]) <= h):
        # clipped, a box given in a larger picture's pixels measured another part of a smaller map
        raise SettingsError(f"box {region} reaches past the {w}×{h} depth map {path}: give it in the map's "
                            "pixels (a map smaller than the picture needs the box scaled to it)")
    return reading_from_depth(depth_m, t_s, box=region)


def record3d_readings(path: str | Path, box: Box | None = None) -> Iterator[LoggedReading]:
    """One reading per frame of a Record3D recording (``box`` in colour-image pixels)."""
    from guangying.distance.record3d import Record3DReader

    with Record3DReader(path) as rec:
        for i in range(rec.frame_count):
            yield rec.reading(i, box), ""


def face_readings(
    source: str | Path,
    focal_length_mm: float,
    sensor_width_mm: float,
    rule: Rule = "largest",
    point: tuple[float, float] | None = None,
    fps: float | None = None,
) -> Iterator[LoggedReading]:
    """Distance of one person per frame from the size of their irises and face (``fps``: a sequence's
    frame rate, as :func:`~guangying.media.open_reader` takes it).

    The subject is chosen by ``rule`` (``largest``, ``centre`` or ``point`` with ``point`` = a tap at
    x, y in pixels) and followed by track ID; frames where it is not seen give a zero-confidence
    reading, and one gone longer than the tracker holds it is chosen again by the rule (said).
    ``subject`` is the track ID as text ("" when no face is followed).
    Needs the face models (``guangying models install``).
    """
    import cv2

    from guangying.distance.face_geometry import Intrinsics
    from guangying.distance.faces import FaceRangeFinder
    from guangying.media import display_srgb, open_reader

    if rule == "point" and point is None:
        raise SettingsError("subject selection 'point' needs a point x,y (--point)")
    tracker = SubjectTracker()
    unread: list[int] = []
    frames = 0
    finder: FaceRangeFinder | None = None
    selector: SubjectSelector | None = None
    with open_reader(source, fps=fps) as reader:
        pixel_aspect = float(reader.info.pixel_aspect)
        for frame in reader:
            rgb = display_srgb(frame.rgb, frame.transfer, reader.info.highlight_peak)
            if finder is None or selector is None:
                intrinsics = Intrinsics.from_lens(focal_length_mm, sensor_width_mm, frame.width, frame.height,
                                                  pixel_aspect)
                finder = FaceRangeFinder(intrinsics)
                # a point is in the stored picture's pixels, as masks are
                shown_point = None if point is None else (point[0] * pixel_aspect, point[1])
                selector = SubjectSelector(rule, frame_size=(intrinsics.width, intrinsics.height),
                                           point=shown_point)
            if pixel_aspect != 1.0:  # an anamorphic plate: faces are found, and measured, unsqueezed
                rgb = cv2.resize(rgb, (intrinsics.width, intrinsics.height), interpolation=cv2.INTER_LINEAR)
            faces = finder.detect(rgb)
            tracks = tracker.update([Detection(f.box, f.score) for f in faces])
            if selector.locked_id is not None and all(t.track_id != selector.locked_id for t in tracks):
                # gone past the tracker's hold (an actor turned away for a second): a recording has no
                # operator to pick again, and every later frame read nothing, without a word
                warnings.warn(f"{source}: the face followed was out of sight for more than "
                              f"{tracker.max_missed} frames (at {frame.time_s:.2f} s); the face to follow is "
                              f"chosen again by '{rule}' when one is seen", stacklevel=2)
                selector.reselect()
            chosen = selector.select(tracks)
            frames += 1
            if chosen is None or chosen.missed != 0:
                unread.append(frame.index)
                yield DistanceReading(frame.time_s, float("nan"), 0.0, "face"), ""
                continue
            ious = iou_matrix(np.array([chosen.box]), np.array([f.box for f in faces]))[0]
            face = faces[int(np.argmax(ious))]
            reading = finder.reading(rgb, frame.time_s, face)
            if not reading.valid:
                unread.append(frame.index)
            yield reading, str(chosen.track_id)
    if unread:
        # said only later, by `focus`, as unusable readings ("0,0,face" rows, exit 0)
        warnings.warn(f"{source}: no face was read in {len(unread)} of {frames} frames "
                      f"({first_frame_ranges(unread)}): they are logged as unusable (0 m, strength 0). A "
                      "face turned away, hidden, or with its eyes under 10 px apart (about 25 px across) is "
                      "not read", stacklevel=2)


def distance_readings(
    source: str | Path,
    kind: DistanceKind = "auto",
    box: Box | None = None,
    focal_length_mm: float | None = None,
    sensor: str | None = None,
    sensor_width_mm: float | None = None,
    rule: Rule = "largest",
    point: tuple[float, float] | None = None,
    depth_metres_per_unit: float | None = None,
    fps: float | None = None,
) -> Iterator[LoggedReading]:
    """Readings from ``source`` of the given ``kind`` (``auto``: :func:`detect_distance_kind`).

    Faces need the lens: ``focal_length_mm`` and the sensor width (``sensor_width_mm`` in mm, or a
    ``sensor`` preset name). A depth map's unit is its format's (mm in integers, m in floats) unless
    ``depth_metres_per_unit`` is given; a sequence of depth maps (``depth.%04d.png``) needs its ``fps``,
    as faces in a sequence may (else its EXR or DPX headers', else 24).

    Examples
    --------
    A depth map in metres saved as ``.npy`` (a person-shaped region at 1.8 m before a wall at 5 m):

    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skimage import data
    >>> depth = np.where(data.astronaut()[::4, ::4, 0] > 120, 1.8, 5.0).astype(np.float32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     np.save(Path(folder) / "depth.npy", depth)
    ...     [(reading, subject)] = distance_readings(Path(folder) / "depth.npy", box=(32, 16, 96, 120))
    >>> round(reading.distance_m, 2), reading.source
    (1.8, 'depth')
    """
    if kind == "auto":
        kind = detect_distance_kind(source)
    if kind == "depth":
        return depth_file_readings(source, box, depth_metres_per_unit, fps)
    if kind == "r3d":
        return record3d_readings(source, box)
    if kind != "faces":
        raise SettingsError(f"distance kind {kind!r}: use auto, depth, r3d or faces")
    if focal_length_mm is None or (sensor is None and sensor_width_mm is None):
        raise SettingsError("faces need --focal-length and --sensor NAME or --sensor-width MM")
    try:
        width_mm = sensor_width_mm if sensor_width_mm is not None else sensor_preset(str(sensor)).width_mm
    except SettingsError as exc:
        raise SettingsError(f"{exc} (or give --sensor-width MM)") from exc
    return face_readings(source, focal_length_mm, width_mm, rule, point, fps)
