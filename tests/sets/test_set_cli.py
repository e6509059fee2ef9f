"""`guangying composite --set … --camera-track …` end to end: real files in and out, one compositor."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.colour import srgb_to_linear
from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.evaluation.sets import camera_move_rows, gallery_panorama_srgb
from guangying.lens.camera import intrinsics_matrix
from guangying.lens.sensors import sensor_preset
from guangying.media import open_reader, open_writer
from guangying.sets.panorama import PanoramaSet
from guangying.sets.view import SetView
from guangying.tracking.camera_track import ChanSettings, chan_frame_zero, write_camera_track

W, H, N, FIRST = 320, 180, 4, 1001


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("setshot")
    plate = folder / "plate.%04d.png"
    truth = []
    with open_writer(plate, fps=Fraction(25), width=W, height=H, content="rgb", first_frame=FIRST) as w:
        for f in green_screen_clip(W, H, N, seed=5):
            w.write(f.rgb_srgb, transfer="srgb")
            truth.append(f.alpha_true)
    pano = gallery_panorama_srgb(1024)
    with open_writer(folder / "pano.png", fps=Fraction(25), width=1024, height=512, content="rgb") as w:
        w.write(pano, transfer="srgb")
    rows = camera_move_rows(N, first_frame=FIRST, pan_deg=(-10, 30), focal_length_mm=(20, 40))
    write_camera_track(folder / "cam.csv", rows)
    return folder, plate, truth, rows


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _frames(path):
    with open_reader(path) as reader:
        return [f.rgb for f in reader]


def _expected_sets(folder, rows, focal_override=None):
    pano = PanoramaSet(folder / "pano.png")
    sensor_mm = sensor_preset("s35").width_mm
    out = []
    for i, row in enumerate(rows):
        k = intrinsics_matrix(focal_override or row.focal_length_mm, sensor_mm, W, H)
        out.append(pano.render(SetView(row.pose, k, W, H), i))
    return out


def test_composite_over_a_tracked_panorama(shot, tmp_path):
    folder, plate, truth, rows = shot
    out = tmp_path / "comp.%04d.png"
    result = _invoke("composite", plate, "--set", folder / "pano.png", "--camera-track", folder / "cam.csv",
                     "--sensor", "s35", "-o", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    comps = _frames(out)
    expected = _expected_sets(folder, rows)
    for comp, alpha, want in zip(comps, truth, expected, strict=True):
        clear = alpha == 0
        err = np.abs(srgb_to_linear(comp) - want)[clear].mean()
        assert err < 0.01  # the set at each frame's camera, where the actor is not
    # the camera moved: the first and last backgrounds differ a lot
    assert np.abs(comps[0] - comps[-1])[truth[0] == 0].mean() > 0.05


def test_a_nuke_chan_track_drives_the_set_like_its_csv(shot, tmp_path):
    folder, plate, truth, rows = shot
    # as `guangying track -o x.chan` writes it: a sequence's frames under their own numbers
    chan = ChanSettings(sensor_preset("s35").width_mm, W / H, 25.0, first_frame=chan_frame_zero(plate))
    write_camera_track(tmp_path / "cam.chan", rows, chan)
    outs = {}
    for name, track in (("csv", folder / "cam.csv"), ("chan", tmp_path / "cam.chan")):
        outs[name] = tmp_path / f"{name}.%04d.png"
        result = _invoke("composite", plate, "--set", folder / "pano.png", "--camera-track", track,
                         "--sensor", "s35", "-o", outs[name], "--quiet")  # fmt: skip
        assert result.exit_code == 0, result.output
    for via_csv, via_chan in zip(_frames(outs["csv"]), _frames(outs["chan"]), strict=True):
        assert np.abs(via_csv - via_chan).max() < 2 / 255  # chan stores the focal length as a field of view


def test_focal_length_overrides_the_track_without_depth_of_field(shot, tmp_path):
    folder, plate, truth, rows = shot
    out = tmp_path / "prime.%04d.png"
    result = _invoke("composite", plate, "--set", folder / "pano.png", "--camera-track", folder / "cam.csv",
                     "--focal-length", "50", "--sensor", "s35", "-o", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    comps = _frames(out)
    expected = _expected_sets(folder, rows, focal_override=50.0)
    clear = truth[-1] == 0
    assert np.abs(srgb_to_linear(comps[-1]) - expected[-1])[clear].mean() < 0.01
    assert "note:" not in result.output  # the set's camera takes it
    # a fixed focus without an f-number changed nothing over a set either, unsaid
    result = _invoke("composite", plate, "--set", folder / "pano.png", "--camera-track", folder / "cam.csv",
                     "--focal-length", "50", "--sensor", "s35", "--focus", "0.5", "-o", out, "--quiet")
    assert result.exit_code == 0 and "note: --focus changes nothing without depth of field: add --f-number" \
        in result.output, result.output


def test_depth_of_field_with_a_set_blurs_the_panorama(shot, tmp_path):
    folder, plate, truth, rows = shot
    sharp, soft = tmp_path / "sharp.%04d.png", tmp_path / "soft.%04d.png"
    common = ["composite", plate, "--set", folder / "pano.png", "--camera-track", folder / "cam.csv",
              "--end", FIRST, "--quiet"]  # fmt: skip
    assert _invoke(*common, "-o", sharp).exit_code == 0
    result = _invoke(*common, "-o", soft, "--f-number", "1.4", "--focus", "1.0")
    assert result.exit_code == 0, result.output
    clear = (truth[0] == 0)[:, 1:] & (truth[0] == 0)[:, :-1]
    grad = [np.square(np.diff(_frames(p)[0], axis=1))[clear].mean() for p in (sharp, soft)]
    assert grad[1] < 0.5 * grad[0]  # focused at 1 m, the panorama at infinity goes soft


def test_a_track_solved_for_another_sensor_is_refused_and_its_own_renders(shot, tmp_path):
    """`track --sensor ff` stores the sensor with the rows: the set rendered for the default s35 showed a
    field of view 1.45× too wide, without a word."""
    folder, plate, truth, rows = shot
    ff_mm = sensor_preset("ff").width_mm
    write_camera_track(tmp_path / "cam_ff.csv", [dataclasses.replace(r, sensor_width_mm=ff_mm) for r in rows])
    common = ["composite", plate, "--set", folder / "pano.png", "--camera-track", tmp_path / "cam_ff.csv",
              "--end", FIRST, "--quiet"]  # fmt: skip
    refused = CliRunner().invoke(cli, [*map(str, common), "-o", str(tmp_path / "s35.%04d.png")])
    assert refused.exit_code == 1
    assert "solved for a sensor 36 mm wide (ff)" in refused.output and "--sensor ff" in refused.output
    assert "1.45× narrower" in refused.output
    assert not list(tmp_path.glob("s35.*.png"))
    out = tmp_path / "ff.%04d.png"
    assert _invoke(*common, "--sensor", "ff", "-o", out).exit_code == 0
    pano = PanoramaSet(folder / "pano.png")
    k = intrinsics_matrix(rows[0].focal_length_mm, ff_mm, W, H)
    want = pano.render(SetView(rows[0].pose, k, W, H), 0)
    clear = truth[0] == 0
    assert np.abs(srgb_to_linear(_frames(out)[0]) - want)[clear].mean() < 0.01


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "pano.png"], "--camera-track"),
        (["--set", "pano.png", "--camera-track", "cam.csv", "-b", "#000000"], "either --background or --set"),
        ([], "either --background or --set"),
        (["--set", "nowhere.png", "--camera-track", "cam.csv"], "nowhere.png"),
        (["--set", "pano.png", "--camera-track", "cam.csv", "--shadow", "2"], "--shadow"),
    ],
)
def test_bad_set_arguments_are_clear(shot, tmp_path, extra, message):
    folder, plate, _, _ = shot
    args = [a if a not in ("pano.png", "cam.csv") else folder / a for a in extra]
    out = tmp_path / "x.mp4"
    result = CliRunner().invoke(cli, ["composite", str(plate), "-o", str(out), "--quiet", *map(str, args)])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_calibration_shadow_and_reflection_flags_reach_the_render(shot, tmp_path):
    from guangying.lens.camera_calibration import CameraCalibration

    folder, plate, truth, rows = shot
    k = np.array([[240.0, 0, 159.5], [0, 240.0, 89.5], [0, 0, 1]])
    CameraCalibration(k, np.array([-0.3, 0.1, 0, 0, 0]), W, H, sensor_width_mm=24.89).save(
        tmp_path / "lens.json"
    )
    plain, bent = tmp_path / "plain.%04d.png", tmp_path / "bent.%04d.png"
    common = ["composite", plate, "--set", folder / "pano.png", "--camera-track", folder / "cam.csv",
              "--end", FIRST, "--quiet"]  # fmt: skip
    assert _invoke(*common, "-o", plain).exit_code == 0
    result = _invoke(*common, "-o", bent, "--calibration", tmp_path / "lens.json",
                     "--shadow", "1", "--floor-reflection", "0.3")  # fmt: skip
    assert result.exit_code == 0, result.output
    a, b = _frames(plain)[0], _frames(bent)[0]
    clear = truth[0] == 0
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot(xx - (W - 1) / 2, yy - (H - 1) / 2)
    diff = np.abs(a - b).mean(axis=2)
    # barrel distortion moves the corners a lot and the middle hardly at all
    assert diff[clear & (r > 150)].mean() > 3 * diff[clear & (r < 60)].mean()


def test_a_look_saved_live_over_a_set_renders_the_take_in_post(shot, tmp_path):
    """The look saved from the monitor of a tracked-set take named a background (the page's default
    grey), so `composite --config look --set …` refused it ("give either --background or --set"), and it
    had no sensor, so post rendered an ff take's set for s35."""
    from guangying.cli.main import load_config
    from guangying.live.launch import take_lens_from_options
    from guangying.live.settings import LiveSettings

    folder, plate, truth, rows = shot
    ff_mm = sensor_preset("ff").width_mm
    write_camera_track(tmp_path / "plate.camera.csv", [dataclasses.replace(r, sensor_width_mm=ff_mm)
                                                       for r in rows])
    options = {"set_path": str(folder / "pano.png"), "sensor": "ff", "f_number": None}
    look = tmp_path / "look.yaml"
    look.write_text(LiveSettings({"background": "grey", "light_wrap_width_px": 3}, W, H,
                                 take_lens_from_options(options), with_set=True).to_yaml())
    saved = load_config(look)
    assert "background" not in saved and saved["sensor"] == "ff"
    # the set too (absolute: the look is used from other folders), which the look left out
    assert saved["set"] == str((folder / "pano.png").resolve())
    assert "composite PLATE --camera-track PLATE.camera.csv" in look.read_text()
    out = tmp_path / "post.%04d.png"
    assert _invoke("--config", look, "composite", plate, "--camera-track",
                   tmp_path / "plate.camera.csv", "--end", FIRST, "-o", out, "--quiet").exit_code == 0


def test_a_range_from_partway_in_renders_the_set_and_its_lens_as_the_whole_shot_does(shot, tmp_path):
    """`--start` past the shot's first frame with the set's depth of field: its lens rows were counted
    from the range's first frame (a KeyError, "a bug in Guangying"), and the set's focus was the
    shot's first row's."""
    from guangying.focus.track_io import TrackRow, write_track

    folder, plate, truth, rows = shot
    focus_m = [0.6, 1.0, 3.0, 20.0]  # a rack over the shot: a different blur of the set in each frame
    write_track(tmp_path / "focus.csv", [TrackRow(n, n / 25, "", d, 1 / d, None, "", "log", 1, n / 25 - 0.03)
                                         for n, d in enumerate(focus_m)])
    common = ["composite", plate, "--fps", "25", "--set", folder / "pano.png", "--camera-track",
              folder / "cam.csv", "--f-number", "1.4", "--focus-track", tmp_path / "focus.csv",
              "--quiet"]  # fmt: skip
    assert _invoke(*common, "-o", tmp_path / "whole.%04d.png").exit_code == 0
    result = _invoke(*common, "--start", FIRST + 2, "-o", tmp_path / "part.%04d.png")
    assert result.exit_code == 0, result.output
    whole, part = _frames(tmp_path / "whole.%04d.png"), _frames(tmp_path / "part.%04d.png")
    assert len(part) == 2
    for got, want in zip(part, whole[2:], strict=True):
        assert np.abs(got - want).max() < 1e-6
