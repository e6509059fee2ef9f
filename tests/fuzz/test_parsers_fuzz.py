"""Random bytes and random values into every file and wire parser and every settings dataclass: each
call ends with a valid result or a clear error of the project's own (``GuangyingError``, or the
parser's documented error class), never another exception and never a hang (each call is bounded by
a timer that fails the test)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import math
import signal
import struct
import tempfile
import typing
from pathlib import Path

import click
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from guangying.base.errors import GuangyingError
from guangying.distance.tfluna import HEADER, TfFrameParser, encode_frame, reading_from_frame
from guangying.focus.track_io import SensorLogError, read_sensor_log
from guangying.lens.calibration import CalibrationError, load_calibration
from guangying.lens.camera_calibration import load_camera_calibration
from guangying.lens.freed import PACKET_LEN, decode_d1, read_d1_capture

# derandomize: the same examples on every machine, so CI never fails by luck; database=None: no files
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
CALL_LIMIT_S = 3.0  # one parse of a few hundred bytes; more is a hang

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -0.0, 1e-320, 1e308, -1e308, 2**63, "nan", "inf", "-inf", "1e999", "", "x"]),
)
text_cells = st.one_of(numbers.map(str), st.text(max_size=12))


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float = CALL_LIMIT_S):
    def stop(_signum, _frame):
        raise _Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _outcome(call, *clear_errors: type[BaseException]):
    """Run ``call``; return its result or the clear error it raised. Anything else fails the test."""
    try:
        with _time_limit():
            return call()
    except (GuangyingError, *clear_errors) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc


# One folder for the whole module, removed at exit by its finalizer: a folder per example left tens of
# thousands behind in /tmp over a day of runs (and filled a shared disk).
_INPUTS = tempfile.TemporaryDirectory(prefix="guangying-fuzz-")


def _file(data: bytes, suffix: str) -> Path:
    path = Path(_INPUTS.name) / f"input{suffix}"
    path.write_bytes(data)
    return path


# -- sensor logs -----------------------------------------------------------------------------------

csv_rows = st.lists(st.tuples(text_cells, text_cells, text_cells), max_size=8)


@FUZZ
@given(st.one_of(st.binary(max_size=300), csv_rows.map(
    lambda rows: ("t_s,distance_m,strength\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)).encode())))
@example(b"t_s,distance_m,strength\n\xff\xfe,1,2\n")  # not UTF-8
def test_sensor_log(data):
    result = _outcome(lambda: list(read_sensor_log(_file(data, ".csv"))), SensorLogError)
    if isinstance(result, list):
        for reading in result:
            assert math.isfinite(reading.t_s)
            assert 0.0 <= reading.confidence <= 1.0
            assert math.isnan(reading.distance_m) or reading.distance_m > 0


# -- config files ----------------------------------------------------------------------------------

config_values = st.recursive(
    st.one_of(numbers, st.text(max_size=8), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
config_keys = st.one_of(st.sampled_from(["grow_px", "screen_gain", "matte", "key", "composite", "crf",
                                         "screen_colour", "start", "quiet", "focus", "fps"]),
                        st.text(max_size=10))


@FUZZ
@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(config_keys, config_values, max_size=4).map(
                     lambda d: yaml.safe_dump(d, allow_unicode=True).encode())),
       st.sampled_from([".yaml", ".toml"]))
@example(b"quiet: 0", ".yaml")  # a flag given a number
@example(b"\x80", ".toml")
def test_config_file(data, suffix):
    from guangying.cli.main import _check_config, _default_map, cli, load_config

    def parse():
        config = load_config(_file(data, suffix))
        _default_map(config, cli, Path("settings" + suffix))
        _check_config(cli, config, Path("settings" + suffix))
        return config

    _outcome(parse, click.ClickException)


# -- lens calibrations -----------------------------------------------------------------------------

calibration_docs = st.fixed_dictionaries(
    {"points": st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=5)},
    optional={"name": st.text(max_size=5), "unit": config_values},
)


@FUZZ
@given(st.one_of(st.binary(max_size=200), calibration_docs.map(lambda d: yaml.safe_dump(d).encode())))
@example(b"\x80")
def test_focus_calibration(data):
    result = _outcome(lambda: load_calibration(_file(data, ".yaml")), CalibrationError)
    if not isinstance(result, BaseException):
        assert len(result.points) >= 2 if hasattr(result, "points") else True


camera_docs = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["guangying-camera-calibration", "x"]),
        "model": st.sampled_from(["opencv", "fisheye", ""]),
        "camera_matrix": st.lists(st.lists(numbers, max_size=4), max_size=4),
        "dist_coeffs": st.lists(numbers, max_size=6),
        "image_width_px": numbers,
        "image_height_px": numbers,
        "rms_px": numbers,
    },
)


@FUZZ
@given(st.one_of(st.binary(max_size=200), camera_docs.map(lambda d: yaml.safe_dump(d).encode())))
def test_camera_calibration(data):
    _outcome(lambda: load_camera_calibration(_file(data, ".json")))


ros_docs = st.fixed_dictionaries(
    {},
    optional={
        "image_width": numbers,
        "image_height": numbers,
        "camera_matrix": st.one_of(config_values, st.fixed_dictionaries(
            {}, optional={"rows": numbers, "cols": numbers, "data": st.lists(numbers, max_size=10)})),
        "distortion_model": st.sampled_from(["plumb_bob", "rational_polynomial", "equidistant", ""]),
        "distortion_coefficients": st.one_of(config_values, st.fixed_dictionaries(
            {}, optional={"data": st.lists(numbers, max_size=9)})),
    },
)
# OpenCV FileStorage text: its header, then node lines that may or may not be well formed
storage_lines = st.lists(st.sampled_from([
    "image_width: 1920", "image_height: 1080", "image_width: x", "camera_matrix: !!opencv-matrix",
    "   rows: 3", "   cols: 3", "   cols: 2", "   dt: d", "   dt: q",
    "   data: [ 1000., 0., 960., 0., 1000., 540., 0., 0., 1. ]", "   data: [ 1, 2 ]",
    "distortion_coefficients: !!opencv-matrix", "   rows: 1", "   cols: 5",
    "   data: [ 0.1, 0., 0., 0., 0. ]", "avg_reprojection_error: 0.3", "avg_reprojection_error: abc",
    "[", "{",
]), max_size=14)


@FUZZ
@given(st.one_of(ros_docs.map(lambda d: yaml.safe_dump(d).encode()),
                 storage_lines.map(lambda lines: ("%YAML:1.0\n---\n" + "\n".join(lines) + "\n").encode()),
                 st.binary(max_size=200).map(lambda b: b"%YAML:1.0\n" + b),
                 st.binary(max_size=200).map(lambda b: b"<?xml version=\"1.0\"?>\n<opencv_storage>\n" + b)))
def test_camera_calibration_from_ros_and_opencv(data):
    _outcome(lambda: load_camera_calibration(_file(data, ".yaml")))


# -- marker boards (tracking) ----------------------------------------------------------------------

board_docs = st.fixed_dictionaries(
    {},
    optional={
        "dictionary": st.sampled_from(["DICT_4X4_50", "DICT_6X6_250", "DICT_NOPE", ""]),
        "markers": st.one_of(config_values, st.lists(st.fixed_dictionaries(
            {}, optional={"id": numbers, "corners_m": st.one_of(
                st.lists(st.lists(numbers, min_size=3, max_size=3), min_size=4, max_size=4),  # right shape
                st.lists(st.lists(numbers, max_size=4), max_size=5))}),
            max_size=3)),
    },
)


_SQUARE = [[0, 0, 0], [0.1, 0, 0], [0.1, 0.1, 0], [0, 0.1, 0]]


def _board(marker_id, corners=_SQUARE) -> bytes:
    doc = {"dictionary": "DICT_4X4_50", "markers": [{"id": marker_id, "corners_m": corners}]}
    return json.dumps(doc).encode()


@FUZZ
@given(st.one_of(st.binary(max_size=200), board_docs.map(lambda d: json.dumps(d, default=str).encode())))
@example(_board(float("inf")))
@example(_board(10**30))
@example(_board(3, [[0, 0, 0], [1e308, 0, 0], [1e308, 1e308, 0], [0, 1e308, 0]]))
@pytest.mark.skipif(importlib.util.find_spec("guangying.tracking.board") is None,
                    reason="no tracking board loader on main yet")
def test_marker_board(data):
    from guangying.tracking.board import load_board

    _outcome(lambda: load_board(_file(data, ".json")))


# -- FreeD ---------------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.binary(max_size=64), st.binary(min_size=PACKET_LEN, max_size=PACKET_LEN)))
def test_freed_message(packet):
    result = _outcome(lambda: decode_d1(packet))
    if not isinstance(result, BaseException):
        assert all(math.isfinite(v) for v in dataclasses.astuple(result) if isinstance(v, float))


@FUZZ
@given(st.binary(max_size=400))
def test_freed_capture(data):
    _outcome(lambda: read_d1_capture(_file(data, ".freed")))


# -- TF-Luna serial frames ------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=20), st.just(HEADER),
                          st.builds(encode_frame, st.integers(0, 65535), st.integers(0, 65535))),
                max_size=12),
       st.floats(allow_nan=True, allow_infinity=True))
def test_tfluna_stream(chunks, t_s):
    parser = TfFrameParser()
    with _time_limit():
        for chunk in chunks:
            for frame in parser.feed(chunk):  # garbage is skipped, never raised
                reading = reading_from_frame(frame, t_s)
                assert 0.0 <= reading.confidence <= 1.0
                assert math.isnan(reading.distance_m) or 0 < reading.distance_m <= 8.0


# -- ISO media boxes: HEIC item locations, a camera's metadata in an MP4 ------------------------------


def _box(kind: bytes, body: bytes, size: int | None) -> bytes:
    """A box whose size field may lie (0: to the end of the file, 1: a 64-bit size follows)."""
    declared = 8 + len(body) if size is None else size
    if declared == 1:
        return struct.pack(">I4s", 1, kind) + struct.pack(">Q", 16 + len(body)) + body
    return struct.pack(">I4s", declared & 0xFFFFFFFF, kind) + body


box_sizes = st.one_of(st.none(), st.sampled_from([0, 1, 7, 8, 2**31, 2**32 - 1]), st.integers(0, 400))
iloc_bodies = st.builds(
    lambda version, sizes, rest: bytes([version, 0, 0, 0, sizes[0], sizes[1]]) + rest,
    st.integers(0, 3), st.tuples(st.integers(0, 255), st.integers(0, 255)), st.binary(max_size=60))
iso_files = st.one_of(st.binary(max_size=300), st.builds(
    lambda iloc, iloc_size, meta_size, extra: (
        _box(b"ftyp", b"heic\0\0\0\0mif1heic", None)
        + _box(b"meta", bytes(4) + _box(b"iloc", iloc, iloc_size) + extra, meta_size)
        + _box(b"moov", b'<Item name="CaptureGammaEquation" value="s-log3"/>' + extra, None)
        + _box(b"mdat", extra, None)),
    iloc_bodies, box_sizes, box_sizes, st.binary(max_size=40)))


@FUZZ
@given(iso_files)
def test_heic_item_locations_and_camera_metadata(data):
    from guangying.media import open_reader
    from guangying.media.camera_log import detect_camera_log

    heic = _file(data, ".heic")
    _outcome(lambda: open_reader(heic).close())
    found = _outcome(lambda: detect_camera_log(_file(data, ".mp4")))
    assert found is None or found.name.startswith("slog3")


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=200).map(lambda b: b"II*\0\x08\0\0\0" + b)))
def test_raw_picture(data):
    from guangying.media import open_reader

    _outcome(lambda: open_reader(_file(data, ".dng")).close())


# -- settings dataclasses --------------------------------------------------------------------------


def _settings_classes() -> list[type]:
    from guangying.focus.controller import ControllerConfig
    from guangying.focus.replay import ReplaySettings
    from guangying.keyer.settings import KeyerSettings
    from guangying.pipeline.frame import CompositeSettings
    from guangying.pipeline.job import H264Options
    from guangying.pipeline.lens_defocus import LensSettings
    from guangying.tracking.camera_track import ChanSettings

    return [KeyerSettings, CompositeSettings, LensSettings, ControllerConfig, ChanSettings, H264Options,
            ReplaySettings]


def _value_for(annotation) -> st.SearchStrategy:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(list(typing.get_args(annotation)) + ["bogus"])
    if len(args) == 1:
        return st.one_of(st.none(), _value_for(args[0]))
    if annotation is bool:
        return st.booleans()
    if annotation is str:
        return st.one_of(st.text(max_size=6), st.sampled_from(["auto", "s35", "1.5", "nan"]))
    if annotation is int:
        return st.integers(min_value=-(10**12), max_value=10**12)
    if annotation in (float,):
        return st.floats(allow_nan=True, allow_infinity=True)
    if typing.get_origin(annotation) is tuple:
        return st.tuples(*[st.floats(allow_nan=True, allow_infinity=True) for _ in args])
    return st.nothing()


@pytest.mark.parametrize("cls", _settings_classes(), ids=lambda c: c.__name__)
def test_settings_dataclass(cls):
    assert hasattr(cls, "__post_init__"), f"{cls.__name__} must check its values (guangying.base.checks)"
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    plain = {name: _value_for(hints[name]) for name in fields}
    plain = {name: s for name, s in plain.items() if not s.is_empty}
    required = {n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    chosen = st.fixed_dictionaries({n: plain[n] for n in required if n in plain},
                                    optional={n: s for n, s in plain.items() if n not in required})

    @FUZZ
    @given(chosen)
    def check(values):
        result = _outcome(lambda: cls(**values))
        if isinstance(result, BaseException):
            return
        for name, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                # accepted only where the default itself is infinite (a backdrop at infinity)
                assert fields[name].default == value, f"{cls.__name__}({name}={value}) accepted"

    check()


# -- picture headers (EXR attributes a VFX tool writes, damaged) -----------------------------------------


def _timed_exr() -> bytes:
    """A small RGBA EXR carrying the attributes the readers interpret: timecode, rate, chromaticities."""
    import numpy as np
    import OpenEXR

    code = OpenEXR.TimeCode()
    code.hours, code.frame = 1, 3
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, "timeCode": code,
              "framesPerSecond": (25, 1), "chromaticities": (0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329)}
    path = Path(_INPUTS.name) / "timed.exr"
    OpenEXR.File(header, {c: np.full((16, 16), 0.5, np.float16) for c in "RGBA"}).write(str(path))
    return path.read_bytes()


def _tagged_picture(suffix: str) -> bytes:
    """A small picture with the headers the readers interpret: an ICC profile and EXIF orientation
    (PNG, JPEG, WebP), associated alpha (TIFF), half-float samples (.tiff)."""
    import io

    import numpy as np
    import tifffile
    from PIL import Image, ImageCms

    rgb = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    if suffix == ".tif":
        tifffile.imwrite(buffer, np.dstack([rgb, rgb[..., :1]]), photometric="rgb",
                         extrasamples=["assocalpha"], compression="zlib")
    elif suffix == ".tiff":
        tifffile.imwrite(buffer, rgb.astype(np.float16) / 255, photometric="rgb")
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # turned a quarter
        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        Image.fromarray(rgb).save(buffer, {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[suffix],
                                  icc_profile=profile, exif=exif.tobytes())
    return buffer.getvalue()


def _read_first_frame(data: bytes, suffix: str) -> None:
    import guangying as gy

    with gy.open_reader(_file(data, suffix)) as reader:
        next(iter(reader))


@FUZZ
@given(st.lists(st.tuples(st.integers(8, 419), st.integers(0, 255)), min_size=1, max_size=4))
@example([(224, 220)])  # the data window's yMin: 9.6 gigapixels, which OpenEXR tried to allocate
def test_exr_with_damaged_header(changes):
    """Bytes of the header changed (attribute names, type names, sizes, values): read, or refused with
    a message; never a crash (a 0/0 rate, an opaque chromaticities, a width past OpenCV's limit, a data
    window the system kills the process for)."""
    data = bytearray(_timed_exr())
    for at, value in changes:
        data[at] = value
    _outcome(lambda: _read_first_frame(bytes(data), ".exr"))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".tiff"])
@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 599), st.integers(0, 255)), min_size=1, max_size=4))
def test_picture_with_damaged_header(suffix, changes):
    """The same for the other picture formats: a size field damaged to 0 decoded to an empty array, and
    a TIFF's then crashed the colour conversion."""
    data = bytearray(_tagged_picture(suffix))
    for at, value in changes:
        data[at % len(data)] = value
    _outcome(lambda: _read_first_frame(bytes(data), suffix))


def _small_clip(suffix: str) -> bytes:
    """Five frames through our own writer, with a timecode track; the index (moov) at the front."""
    import numpy as np

    import guangying as gy

    rgb = np.zeros((36, 64, 3), np.float32)
    rgb[:] = (0.1, 0.7, 0.2)
    rgb[10:26, 20:44] = 0.6
    path = Path(_INPUTS.name) / f"clip{suffix}"
    with gy.open_writer(path, fps=25, width=64, height=36, timecode="01:00:00:00") as writer:
        for _ in range(5):
            writer.write(rgb)
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 1499), st.integers(0, 255)), min_size=1, max_size=3))
def test_video_with_damaged_index(suffix, changes):
    """Bytes of a clip's head and index (sizes, offsets, timings, the timecode track) changed: every
    frame read, or a message; a sample size of half a gigabyte made ffmpeg's ENOMEM escape as a bug."""
    import guangying as gy

    data = bytearray(_small_clip(suffix))
    for at, value in changes:
        data[at % len(data)] = value
    path = _file(bytes(data), suffix)

    def read_all() -> None:
        with gy.open_reader(path) as reader:
            for _ in reader:
                pass

    _outcome(read_all)
