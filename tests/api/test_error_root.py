"""One error root: every user-facing failure is a GuangyingError that is also the matching built-in,
the CLI turns exactly those into messages, and anything else shows as a bug with its traceback."""

import math

import pytest
from click.testing import CliRunner

import guangying
from guangying.base.errors import DeviceError, GuangyingError, InputFormatError, MediaError, SettingsError
from guangying.cli.main import cli
from guangying.distance.depthmap import DepthMapError
from guangying.distance.marks import MarksError
from guangying.distance.record3d import Record3DError
from guangying.distance.tfluna import SensorTimeoutError
from guangying.focus.track_io import SensorLogError
from guangying.keyer.screen import NoScreenError
from guangying.lens.calibration import CalibrationError, load_calibration
from guangying.lens.camera_calibration import load_camera_calibration
from guangying.lens.zoom import load_lens_file
from guangying.models import ModelNotInstalledError
from guangying.models.installer import ModelInstallError
from guangying.models.tfjs import TfjsFormatError


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (SettingsError, ValueError),
        (InputFormatError, ValueError),
        (DeviceError, OSError),
        (SensorLogError, ValueError),
        (CalibrationError, ValueError),
        (DepthMapError, ValueError),
        (MarksError, ValueError),
        (Record3DError, ValueError),
        (TfjsFormatError, ValueError),
        (NoScreenError, ValueError),
        (SensorTimeoutError, TimeoutError),
        (ModelNotInstalledError, FileNotFoundError),
        (ModelInstallError, RuntimeError),
    ],
)
def test_every_error_class_has_the_root_and_its_builtin(error, builtin):
    assert issubclass(error, GuangyingError) and issubclass(error, builtin)
    with pytest.raises(builtin):  # code written against the built-in keeps working
        raise error("message for the user")


@pytest.mark.parametrize("read", [
    lambda p: guangying.open_reader(p / "nope.mp4"),
    lambda p: guangying.read_sensor_log(p / "nope.csv"),
    lambda p: guangying.read_focus_track(p / "nope.csv"),
    lambda p: guangying.read_focus_track(p / "nope.json"),
    lambda p: guangying.read_camera_track(p / "nope.csv"),
    lambda p: guangying.load_jobs(p / "nope.yaml"),
])
def test_a_file_that_is_not_there_is_a_file_not_found_error_too(tmp_path, read):
    # `except FileNotFoundError` caught a missing clip but not a missing sensor log or focus track
    with pytest.raises(GuangyingError) as caught:
        read(tmp_path)
    assert isinstance(caught.value, FileNotFoundError), type(caught.value).__mro__


def test_root_is_reachable_from_the_top_level():
    assert guangying.GuangyingError is GuangyingError
    assert guangying.SettingsError is SettingsError and guangying.MediaError is MediaError


def test_cli_turns_a_guangying_error_into_its_message(tmp_path):
    res = CliRunner().invoke(cli, ["focus", "--sensor-log", str(tmp_path / "none.csv"), "--fps", "25",
                                   "--focal-length", "50", "--f-number", "2", "--sensor", "s35",
                                   "-o", str(tmp_path / "t.csv")])
    assert res.exit_code == 1
    assert "Error: sensor log not found" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "t.csv").exists()


def test_cli_shows_an_internal_bug_as_a_bug(monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("an internal mistake")

    monkeypatch.setattr("guangying.cli.focus_commands.depth_of_field", broken)
    res = CliRunner().invoke(cli, ["dof", "--focal-length", "50", "--f-number", "2", "--distance", "3",
                                   "--sensor", "s35"])
    assert res.exit_code == 70
    assert "Traceback" in res.output and "ZeroDivisionError: an internal mistake" in res.output
    assert f"bug in Guangying {guangying.__version__}" in res.output and "report it" in res.output


def test_settings_are_checked_where_they_are_made():
    from guangying.focus.controller import ControllerConfig
    from guangying.keyer import KeyerSettings
    from guangying.pipeline.frame import CompositeSettings
    from guangying.pipeline.job import H264Options
    from guangying.pipeline.lens_defocus import LensSettings

    cases = [
        (lambda: KeyerSettings(screen_gain=math.inf), "screen_gain"),
        (lambda: KeyerSettings(grow_px=1e9), "grow_px"),
        (lambda: KeyerSettings(softness_px=math.nan), "softness_px"),
        (lambda: KeyerSettings(clip_black=0.9, clip_white=0.5), "clip_black"),
        (lambda: CompositeSettings(light_wrap_intensity=5), "light_wrap_intensity"),
        (lambda: CompositeSettings(light_wrap_width_px=-1), "light_wrap_width_px"),
        (lambda: LensSettings(135, 1e308), "f_number"),
        (lambda: LensSettings(135, 2, focus="near"), "focus"),
        (lambda: LensSettings(135, 2, subject_distance_m=math.inf), "subject_distance_m"),
        (lambda: LensSettings(135, 2, sensor="imax70"), "unknown sensor"),
        (lambda: ControllerConfig(135, 2, 0.025, latency_s=-0.1), "latency_s"),
        (lambda: ControllerConfig(135, 2, 0.025, sensor_sigma_m=0.0), "sensor_sigma_m"),
        (lambda: ControllerConfig(math.nan, 2, 0.025), "focal_length_mm"),
        (lambda: H264Options(crf=99), "crf"),
        (lambda: H264Options(preset="turbo"), "preset"),
    ]
    for make, name in cases:
        with pytest.raises(SettingsError, match=name):
            make()
    # a background at infinity is a real lens setting, not an error
    assert LensSettings(135, 2, subject_distance_m=3).background_distance_m == math.inf


@pytest.fixture(scope="module")
def small_plate(tmp_path_factory):
    from fractions import Fraction

    from guangying.evaluation.clips import green_screen_clip
    from guangying.media import open_writer

    path = tmp_path_factory.mktemp("plate") / "plate.png"
    with open_writer(path, fps=Fraction(25), width=64, height=48, content="rgb") as writer:
        writer.write(next(iter(green_screen_clip(64, 48, 1, seed=1))).rgb_srgb, transfer="srgb")
    return path


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["key", "{src}", "--alpha", "{out}/a.png", "--screen-gain", "inf"], "screen_gain"),
        (["key", "{src}", "--alpha", "{out}/a.png", "--grow-px", "1e9"], "grow_px"),
        (["composite", "{src}", "-b", "black", "-o", "{out}/c.png", "--light-wrap-intensity", "5"],
         "light_wrap_intensity"),
        (["composite", "{src}", "-b", "black", "-o", "{out}/c.mp4", "--crf", "99"], "crf"),
        (["composite", "{src}", "-b", "black", "-o", "{out}/c.png", "--focal-length", "50",
          "--f-number", "1e308", "--subject-distance", "3"], "f_number"),
        (["dof", "--focal-length", "50", "--f-number", "1e308", "--distance", "3", "--sensor", "s35"],
         "f_number"),
        (["dof", "--focal-length", "50", "--f-number", "2", "--distance", "nan", "--sensor", "s35"],
         "distance_m"),
        (["focus", "--sensor-log", "{src}", "--fps", "25", "--focal-length", "50", "--f-number", "2",
          "--sensor", "s35", "--latency", "-1", "-o", "{out}/t.csv"], "latency_s"),
    ],
)
def test_cli_refuses_out_of_range_settings_with_the_library_message(small_plate, tmp_path, args, field):
    argv = [a.format(src=small_plate, out=tmp_path) for a in args]
    res = CliRunner().invoke(cli, argv)
    assert res.exit_code == 1, res.output
    assert field in res.output and "must be" in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_job_outputs_check_the_matte_channel_and_take_plain_strings():
    outputs = guangying.JobOutputs(composite="comp.mp4", alpha="matte.%04d.exr")
    assert outputs.composite.suffix == ".mp4" and outputs.alpha.name == "matte.%04d.exr"
    with pytest.raises(SettingsError, match="exr_matte_channel"):
        guangying.JobOutputs(alpha="matte.exr", exr_matte_channel="Z")


def test_a_picture_too_large_for_the_memory_is_said_not_a_bug(tmp_path):
    # A real allocation failure (the address space capped at 3 GiB, a 96-megapixel still): it printed
    # a numpy traceback and "This is a bug in Guangying", exit 70.
    import os
    import resource
    import subprocess
    import sys

    import cv2
    import numpy as np

    still = tmp_path / "huge.jpg"
    cv2.imwrite(str(still), np.full((8000, 12000, 3), (40, 180, 60), np.uint8))

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    # thread pools reserve address space per thread: as few as on this 2-core machine, on any machine
    threads = {name: "2" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-m", "guangying.cli.main", "key", str(still), "--alpha",
                           str(tmp_path / "a.png"), "--quiet"], capture_output=True, text=True,
                          preexec_fn=cap_memory, timeout=300, cwd=tmp_path, env={**os.environ, **threads})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "out of memory" in done.stderr and "smaller copy" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "bug in Guangying" not in done.stderr
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize(("name", "read"), [
    ("log.json", lambda p: guangying.read_sensor_log(p)),
    ("track.json", lambda p: guangying.read_focus_track(p)),
    ("camera.json", lambda p: guangying.read_camera_track(p)),
    ("shoot.yaml", lambda p: guangying.load_jobs(p)),
    ("lens.yaml", load_lens_file),
    ("focus_cal.yaml", load_calibration),
    ("camera_cal.json", load_camera_calibration),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_file_nested_past_the_parsers_depth_is_refused_by_name(tmp_path, name, read):
    # "[" × 100 000 ended every JSON and YAML reader in a RecursionError traceback ("a bug", exit 70)
    path = tmp_path / name
    path.write_text("[" * (100_000 if name.endswith(".json") else 5_000))
    with pytest.raises(GuangyingError) as caught:
        read(path)
    assert name in str(caught.value)
