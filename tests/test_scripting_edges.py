"""What a pipeline TD scripting the library hands it, as a script does: a clip's Fraction rate, a
list of readings in the wrong order, a reader's output fed back to the writer, an array where a
path goes, bad encoder options. Each works, or is refused by name (a GuangyingError), before any
work or output."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest

import guangying as gy
from guangying.base.errors import GuangyingError, SettingsError
from guangying.focus.track_io import read_sensor_log, write_sensor_log

CONFIG = gy.ControllerConfig(50, 2.8, 0.025)


def _walk() -> list[gy.DistanceReading]:
    return [gy.DistanceReading(k / 50, 3.0 - k / 100, 1.0, "lidar") for k in range(51)]


def test_replay_takes_a_clips_fraction_rate():
    rows = gy.replay(_walk(), fps=Fraction(30000, 1001), config=CONFIG)  # reader.info.fps
    assert len(rows) == 30 and rows[1].t_s == pytest.approx(1001 / 30000)


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_readings_out_of_order_are_refused_not_replayed_short(order):
    readings = _walk()[::-1] if order == "reversed" else random.Random(1).sample(_walk(), 51)
    with pytest.raises(SettingsError, match="readings go back in time: .*Sort them by t_s"):
        gy.replay(readings, fps=25, config=CONFIG)  # gave 0 and 4 rows of 26


def test_a_sensor_log_read_back_can_be_written_again(tmp_path):
    first = write_sensor_log(tmp_path / "a.csv", [(r, "1") for r in _walk()])
    again = write_sensor_log(tmp_path / "b.csv", read_sensor_log(first))  # a TypeError before
    assert [r.distance_m for r in read_sensor_log(again)] == pytest.approx([r.distance_m for r in _walk()])


def test_run_job_refuses_an_array_background_by_name(tmp_path):
    shot = tmp_path / "shot.png"
    with gy.open_writer(shot) as writer:
        writer.write(np.full((32, 48, 3), 0.5, np.float32))
    for background in (np.zeros((32, 48, 3), np.float32), (0.1, 0.2, 0.3)):
        with pytest.raises(SettingsError, match="give a colour .*FrameCompositor.process"):
            gy.run_job(shot, gy.make_matter("chroma"), gy.JobOutputs(composite=tmp_path / "c.png"),
                       background=background, show_progress=False)  # fmt: skip
    assert not (tmp_path / "c.png").exists()


def test_an_empty_focus_track_is_refused():
    lens = gy.LensSettings(85, 2.0, "s35", subject_distance_m=3.0)
    with pytest.raises(SettingsError, match="focus track is empty"):
        gy.LensDefocus(lens, focus_track_m=[])


@pytest.mark.parametrize("options", [{"crf": 99}, {"crf": -5}, {"crf": "abc"}, {"crf": 18.5},
                                     {"preset": "fastest"}, {"fps": float("inf")}])  # fmt: skip
def test_bad_h264_options_are_refused_when_the_writer_opens(tmp_path, options):
    refusal = "crf must be a whole number 0–51|preset must be one of|frame rate"
    with pytest.raises(GuangyingError, match=refusal):
        gy.open_writer(tmp_path / "review.mp4", **options)  # crf 99 was clamped to 51 without a word
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:no green or blue screen found")
def test_a_footage_alpha_of_another_shape_or_type_is_refused_by_name():
    plate = np.full((24, 32, 3), 0.5, np.float32)
    compositor = gy.FrameCompositor(gy.make_matter("chroma"))
    with pytest.raises(SettingsError, match=r"source_alpha is \(12, 16\), the picture \(24, 32\)"):
        compositor.process(plate, plate, source_alpha=np.ones((12, 16), np.float32))
    with pytest.raises(SettingsError, match="source_alpha must be float .* / 255"):
        compositor.process(plate, plate, source_alpha=np.full((24, 32), 255, np.uint8))  # alpha 255 before
    held = compositor.process(plate, plate, source_alpha=np.zeros((24, 32, 1), np.float32))
    assert held.alpha.max() == 0.0


@pytest.mark.parametrize("given_as", ["background_rgb_srgb", "background_rgb_linear"])
def test_a_set_with_colours_outside_bt709_composites_in_display_range(given_as):
    """A wide-gamut set converted to BT.709 holds negatives; the display composite held them too (an
    sRGB picture below 0, given sRGB-encoded), where the linear composite keeps them for a float file."""
    plate = np.zeros((16, 16, 3), np.float32)
    plate[..., 1] = 0.7
    plate[4:12, 4:12] = (0.8, 0.5, 0.4)
    wide = np.full((16, 16, 3), 0.3, np.float32)
    wide[..., 2] = -0.05  # a saturated yellow past BT.709
    compositor = gy.FrameCompositor(gy.make_matter("chroma"))
    result = compositor.process(plate, linear_output=True, **{given_as: wide})
    assert result.composite_rgb_srgb.min() >= 0.0
    assert result.composite_rgb_linear[0, 0, 2] < 0.0


def test_display_srgb_refuses_what_it_would_get_wrong():
    grey = np.full((2, 2, 3), 0.5, np.float32)
    with pytest.raises(GuangyingError, match="transfer must be 'srgb' or 'linear', got 'sRGB'"):
        gy.display_srgb(grey, "sRGB")  # was taken as linear and encoded a second time
    with pytest.raises(GuangyingError, match=r"highlight_peak=nan: must be in \(0, 1e\+06\]"):
        gy.display_srgb(grey, "linear", float("nan"))
    assert gy.display_srgb(grey.astype(np.float64), "srgb").dtype == np.float32


def test_a_switch_given_as_text_is_refused():
    with pytest.raises(SettingsError, match="match_levels='no': must be true or false"):
        gy.CompositeSettings(match_levels="no")  # a non-empty string: level matching was on


@pytest.mark.parametrize(("make", "field", "bad", "good"), [
    (lambda: gy.KeyerSettings(), "clip_white", 5.0, 0.9),
    (lambda: gy.KeyerSettings(), "screen", "purple", "blue"),
    (lambda: gy.KeyerSettings(), "unmix", "false", False),
    (lambda: gy.CompositeSettings(), "light_wrap_intensity", float("nan"), 0.5),
    (lambda: gy.LensSettings(focal_length_mm=50, f_number=2), "focus", "far", "3.5"),
    (lambda: gy.ControllerConfig(50, 2.8, 0.025), "f_number", -1.0, 4.0),  # a slotted dataclass
    (lambda: gy.SetSettings("set.png", "track.csv"), "shadow", 3.0, 0.4),
])
def test_a_setting_assigned_later_is_checked_as_at_construction(make, field, bad, good):
    # A script tuning settings it already made (settings.clip_white = 5) reached the kernels unchecked:
    # only the constructor checked. Refused now by name, and the old value kept.
    settings = make()
    before = getattr(settings, field)
    with pytest.raises(SettingsError, match=field):
        setattr(settings, field, bad)
    assert getattr(settings, field) == before
    setattr(settings, field, good)
    assert getattr(settings, field) == good


@pytest.mark.parametrize(("make", "typo", "meant"), [
    (lambda: gy.KeyerSettings(), "softness", "softness_px"),
    (lambda: gy.CompositeSettings(), "light_wrap_width", "light_wrap_width_px"),
    (lambda: gy.LensSettings(focal_length_mm=50, f_number=2), "focal_length", "focal_length_mm"),
    (lambda: gy.ControllerConfig(50, 2.8, 0.025), "latency", "latency_s"),  # a slotted dataclass
])
def test_a_misspelt_setting_is_refused_naming_the_one_meant(make, typo, meant):
    # settings.light_wrap_width = 6 became a new attribute, and the render had no light wrap
    settings = make()
    with pytest.raises(SettingsError, match=f"did you mean {meant}"):
        setattr(settings, typo, 6.0)
    assert not hasattr(settings, typo)


def test_keyer_settings_holding_masks_compare_by_their_pictures():
    # == on two settings with masks raised numpy's "truth value of an array is ambiguous"
    mask = np.zeros((8, 8), np.float32)
    mask[2:6, 2:6] = 1.0
    with_mask = gy.KeyerSettings(garbage_mask=mask)
    assert with_mask == gy.KeyerSettings(garbage_mask=mask.copy())
    assert with_mask != gy.KeyerSettings(garbage_mask=mask * 0.5)
    assert with_mask != gy.KeyerSettings()
    plate = np.zeros((8, 8, 3), np.float32)
    assert with_mask not in [gy.KeyerSettings(), gy.KeyerSettings(clean_plate=plate)]


_GREY = np.full((32, 32, 3), 0.5, np.float32)


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda: gy.key_frame(_GREY, keyer_settings={"screen": "green"}),
         r"keyer_settings must be a KeyerSettings, got a dict: build one with "
         r"KeyerSettings\(\*\*keyer_settings\)"),
        (lambda: gy.ChromaKeyer({"screen": "blue"}), "settings must be a KeyerSettings, got a dict"),
        (lambda: gy.FrameCompositor("chroma"),
         r"matter must be a matte engine, got a str: .*make_matter\('chroma'\)"),
        (lambda: gy.composite_frame(_GREY, _GREY, settings={"light_wrap": 0.2}),
         "settings must be a CompositeSettings, got a dict"),
        (lambda: gy.composite_frame(_GREY, None), "composite_frame needs the background"),
        (lambda: gy.LensDefocus({"focal_length_mm": 50}), "settings must be a LensSettings"),
        (lambda: gy.SetBackground({"set_path": "a.glb"}), "settings must be a SetSettings"),
        (lambda: gy.FocusController({"focal_length_mm": 50}), "config must be a ControllerConfig"),
        (lambda: gy.run_job("shot.mp4", "ai", gy.JobOutputs(alpha="a.mp4")),
         r"make one with make_matter\('ai'\)"),
        (lambda: gy.run_job("shot.mp4", gy.make_matter("chroma"), gy.JobOutputs(alpha="a.mp4"),
                            warmup_frames=-1), "warmup_frames=-1: must be in"),
        (lambda: gy.JobOutputs(composite=3), r"output composite=3: give a path \(str or Path\) or None"),
        (lambda: gy.sensor_preset(None), "sensor must be a preset's name such as 's35', got None"),
        (lambda: gy.depth_of_field(135, 2.0, np.array([2.0, 3.0]), 0.03),
         r"distance_m=array\(.*\): must be a number"),
        (lambda: gy.open_reader("shot.mp4", start=2.5), r"start=2\.5: give a whole frame number"),
        (lambda: gy.open_reader("shot.mp4", end="9"), r"end='9': give a whole frame number"),
        (lambda: gy.open_reader(None), r"source must be a path \(str or Path\), got NoneType"),
        (lambda: gy.JobOutputs(foreground="fg.%04d.png", premultiplied="no"),
         "premultiplied='no': use one of"),
        (lambda: gy.JobOutputs(composite="c.mp4", h264={"crf": 20}), "h264 must be a H264Options"),
        (lambda: gy.replay(_walk(), fps=25, config={"focal_length_mm": 85}),
         "config must be a ControllerConfig"),
        (lambda: gy.replay([(0.0, 3.0, 1.0)], fps=25, config=CONFIG), "readings must be DistanceReading"),
        (lambda: gy.replay([gy.DistanceReading(math.nan, 3.0, 1.0, "lidar"), *_walk()], fps=25,
                           config=CONFIG),
         r"reading 0 has t_s=nan"),
        (lambda: gy.ControllerConfig(85, 2.0, 0.025, latency_s=0.02, sensor_latency_s=0.05),
         r"sensor_latency_s=0\.05 s is part of latency_s=0\.02 s"),
        (lambda: gy.run_batch([], "jobs.yaml", workers=0), r"workers=0: give a whole number"),
        (lambda: gy.run_batch(["takes/a.mp4"], "jobs.yaml"), "shots must be the list load_jobs gives"),
        (lambda: gy.SetSettings("a.glb", "track.csv", sensor="zz"), "unknown sensor 'zz'"),
        (lambda: gy.SetSettings("a.glb", "track.csv", shadow=2.0),
         r"set setting shadow=2\.0: must be in \[0, 1\]"),
        (lambda: gy.scene_linear_foreground(_GREY, _GREY, _GREY, float("nan")), "highlight_peak=nan"),
        (lambda: gy.FrameCompositor(gy.make_matter("chroma"), layer_hook=5), "layer_hook must be a function"),
        (lambda: gy.FrameCompositor(gy.make_matter("chroma")).process(_GREY, _GREY, linear_output="no"),
         "linear_output='no': must be True or False"),
        (lambda: gy.FrameCompositor(gy.make_matter("chroma")).process(
            _GREY, _GREY, linear_output=True, source_rgb_linear=_GREY[:16]),
         r"source_rgb_linear is \(16, 32, 3\), rgb_srgb \(32, 32, 3\)"),
        (lambda: gy.FrameCompositor(gy.make_matter("chroma")).process(
            _GREY, _GREY, source_alpha=np.full((32, 32), 255, np.float32)),
         r"source_alpha runs 255–255, but it is coverage in 0–1: divide an 8-bit alpha by 255"),  # α 255 out
        (lambda: gy.FrameCompositor(gy.make_matter("chroma")).process(
            _GREY, np.where(np.arange(32)[:, None, None] == 1, np.nan, _GREY).astype(np.float32)),
         "background_rgb_srgb has NaN or infinite values"),  # row 1: every 4th row missed it
    ],
    ids=["key_frame-dict", "keyer-dict", "compositor-str", "composite_frame-dict", "composite_frame-none",
         "defocus-dict", "set-dict",
         "controller-dict", "run_job-str", "warmup", "outputs-int", "sensor-none", "dof-array", "start-float",
         "end-str", "source-none", "premultiplied-str", "h264-dict", "replay-dict", "replay-tuples",
         "reading-nan-time", "sensor-latency", "workers-0", "shots-paths", "set-sensor", "set-shadow",
         "peak-nan", "hook-int", "linear-output-str", "source-linear-shape", "source-alpha-255",
         "background-nan-row-1"],
)
def test_wrong_kinds_of_argument_are_refused_by_name(call, said):
    """Each raised an AttributeError, TypeError or ValueError from deep inside (reported by the CLI as a
    bug), was cut silently (start 2.5 read from frame 2), was taken ("1" as a frame number), or was
    refused only when the set first opened, with a CLI flag's name."""
    with pytest.raises(SettingsError, match=said):
        call()


@pytest.mark.parametrize(("kind", "typo", "meant"), [
    (gy.KeyerSettings, "scren", "screen"),
    (gy.CompositeSettings, "light_wrap_width", "light_wrap_width_px"),
    (gy.LensSettings, "focal_length", "focal_length_mm"),
])
def test_a_misspelt_setting_given_to_the_constructor_is_refused_naming_the_one_meant(kind, typo, meant):
    # KeyerSettings(scren="green") was Python's TypeError ("unexpected keyword argument"), which a script
    # catching GuangyingError let through
    with pytest.raises(SettingsError, match=f"has no setting '{typo}'; did you mean {meant}"):
        kind(**{typo: 1.0})


@pytest.mark.parametrize("given", [{"highlight_peak": -1.0}, {"highlight_peak": float("nan")},
                                   {"source_rgb_linear": "nan"}])
def test_a_frame_s_scene_light_and_peak_are_checked_as_display_srgb_checks_them(given):
    # highlight_peak=-1 or nan, and a NaN pixel in source_rgb_linear, went through without a word (the
    # NaN into the linear composite) where display_srgb and rgb_srgb refuse them
    plate = np.zeros((16, 24, 3), np.float32)
    plate[..., 1] = 0.7
    if given.get("source_rgb_linear") == "nan":
        light = plate.copy()
        light[3, 4, 0] = np.nan
        given = {"source_rgb_linear": light, "highlight_peak": 3.8}
    compositor = gy.FrameCompositor(gy.make_matter("chroma"))
    with pytest.raises(SettingsError, match="highlight_peak|NaN"):
        compositor.process(plate, np.full_like(plate, 0.3), linear_output=True, **given)
