"""RVM engine on real pictures (scikit-image's astronaut, public domain) with the converted weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from guangying.matting import RvmMatter, choose_downsample_ratio
from guangying.matting.rvm import _SETTLE_RUNS, lowres_size


def _astronaut() -> np.ndarray:
    return (data.astronaut() / 255.0).astype(np.float32)  # 512×512, the person fills the left half


PERSON = (slice(40, 480), slice(150, 270))  # rows, cols: face, neck and suit
FAR_BACKGROUND = (slice(0, 150), slice(420, 512))  # top-right corner: flag and wall


@pytest.mark.parametrize(
    ("h", "w", "preset", "ratio"),
    [(1080, 1920, "portrait", 0.25), (1080, 1920, "full_body", 0.4), (720, 1280, "portrait", 0.375),
     (720, 1280, "full_body", 0.6), (2160, 3840, "portrait", 0.125), (2160, 3840, "full_body", 0.2),
     (288, 512, "portrait", 1.0), (1920, 1080, "portrait", 0.25)],
)
def test_downsample_ratio_follows_the_rvm_authors_table(h, w, preset, ratio):
    assert choose_downsample_ratio(h, w, preset) == pytest.approx(ratio)
    if ratio < 1:
        assert 256 <= max(lowres_size(h, w, ratio)) <= 800


def test_unknown_preset_and_bad_ratio_are_refused():
    with pytest.raises(ValueError, match="preset"):
        choose_downsample_ratio(720, 1280, "wide")  # type: ignore[arg-type]


@pytest.mark.models
def test_a_preset_beside_a_downsample_ratio_is_said_to_do_nothing(recwarn):
    # `--preset full_body --downsample-ratio 0.25` mattes as the ratio alone, without a word
    with pytest.warns(UserWarning, match="the full_body preset does nothing beside a downsample ratio"):
        RvmMatter(downsample_ratio=0.25, preset="full_body")
    RvmMatter(downsample_ratio=0.25)
    RvmMatter(preset="full_body")
    assert not [w for w in recwarn if "preset" in str(w.message)]


@pytest.mark.models
def test_rvm_mattes_the_astronaut():
    matter = RvmMatter()
    frame = _astronaut()
    res = matter.process(frame)
    assert matter.ratio_for(512, 512) < 1.0  # exercises our full-resolution refiner
    assert res.alpha.shape == (512, 512) and res.alpha.dtype == np.float32
    assert res.foreground_rgb.shape == (512, 512, 3) and res.foreground_rgb.dtype == np.float32
    assert res.alpha.min() >= 0.0 and res.alpha.max() <= 1.0
    assert res.foreground_rgb.min() >= 0.0 and res.foreground_rgb.max() <= 1.0
    assert np.mean(res.alpha[PERSON] >= 0.5) > 0.9
    assert np.mean(res.alpha[FAR_BACKGROUND] <= 0.5) > 0.9
    # the foreground colour is the network's: close to the frame where the person is solid
    solid = res.alpha > 0.98
    assert np.abs(res.foreground_rgb[solid] - frame[solid]).mean() < 0.05


@pytest.mark.models
def test_rvm_is_deterministic_and_reset_restarts_the_clip():
    frame = _astronaut()
    a = RvmMatter().process(frame).alpha
    b = RvmMatter().process(frame).alpha
    assert np.array_equal(a, b)
    matter = RvmMatter(smoothing=0)
    first = matter.process(frame).alpha
    second = matter.process(frame).alpha
    assert not np.array_equal(first, second)  # the recurrent state was carried into frame 2
    matter.reset()
    assert np.array_equal(matter.process(frame).alpha, first)


@pytest.mark.models
def test_rvm_refiner_matches_the_whole_converted_graph():
    from guangying.matting.session import NetworkSession

    frame = cv2.resize(_astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    ratio = 0.5
    ours = RvmMatter(downsample_ratio=ratio, smoothing=0)
    whole = NetworkSession("rvm_full", threads=None)
    state = None
    for _ in range(_SETTLE_RUNS):  # ours settles a fresh memory on the first frame: the same runs
        state = whole.run_rvm_full(frame, state, ratio)[2]
    for _ in range(2):  # the second frame also checks that both carry the same recurrent state
        res = ours.process(frame)
        fgr, pha, state = whole.run_rvm_full(frame, state, ratio)
        assert np.abs(res.alpha - pha).max() < 1e-3
        soft = res.alpha < 0.9  # the network's colour is kept there; the plate's where the subject is solid
        assert np.abs(res.foreground_rgb[soft] - fgr[soft]).max() < 2e-3


@pytest.mark.models
def test_rvm_is_stable_on_a_still_frame():
    frame = cv2.resize(_astronaut(), (480, 270), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    matter = RvmMatter(downsample_ratio=0.75)
    alphas = []
    for _ in range(8):  # a still shot with sensor noise
        noisy = np.clip(frame + rng.normal(0, 0.01, frame.shape), 0, 1).astype(np.float32)
        alphas.append(matter.process(noisy).alpha)
    late_change = np.mean([np.abs(alphas[i] - alphas[i - 1]).mean() for i in range(5, 8)])
    assert late_change < 0.003
    assert matter.cuts_detected == 0


@pytest.mark.models
def test_the_first_frame_is_matted_as_the_frames_after_it():
    # A seated figure over a panning photo: a fresh memory matted frame 0 with holes in the torso
    # (|frame 0 − frame 9| 0.030 of the picture), filled over 6–8 frames; settled first: 0.004
    set_srgb = cv2.resize(data.coffee(), (640, 320), interpolation=cv2.INTER_AREA)
    person = cv2.resize(data.astronaut()[:, 60:452], (136, 178), interpolation=cv2.INTER_AREA)
    matter, alphas = RvmMatter(), []
    for k in range(10):
        frame = np.roll(set_srgb, -3 * k, axis=1)[:, :180].copy()
        frame[142:320, 22:158] = person
        alphas.append(matter.process(frame.astype(np.float32) / 255).alpha)
    assert np.abs(alphas[0] - alphas[9]).mean() < 0.012


@pytest.mark.models
def test_rvm_smoothing_does_not_lag_a_sudden_move():
    # Still frames, then the person jumps 40 px: the smoothed matte must follow at once, i.e. match
    # the unsmoothed engine on the jump frame (any lag would leave a ghost at the old position).
    frame = cv2.resize(_astronaut(), (480, 270), interpolation=cv2.INTER_AREA)
    smooth, raw = RvmMatter(downsample_ratio=0.75), RvmMatter(downsample_ratio=0.75, smoothing=0)
    for _ in range(5):
        smooth.process(frame)
        raw.process(frame)
    moved = np.roll(frame, 40, axis=1)
    a_smooth, a_raw = smooth.process(moved).alpha, raw.process(moved).alpha
    assert np.abs(a_smooth - a_raw).mean() < 0.003
    assert np.abs(a_smooth - a_raw).max() < 0.25


@pytest.mark.models
def test_rvm_resets_its_state_at_a_cut():
    astronaut = cv2.resize(_astronaut(), (400, 400))
    coffee = cv2.resize((data.coffee() / 255.0).astype(np.float32), (400, 400))
    matter = RvmMatter()
    for _ in range(3):
        matter.process(astronaut)
    after_cut = matter.process(coffee).alpha
    assert matter.cuts_detected == 1
    assert np.array_equal(after_cut, RvmMatter().process(coffee).alpha)


@pytest.mark.models
def test_rvm_mattes_two_people():
    one = _astronaut()
    two = cv2.resize(np.concatenate([one, one[:, ::-1]], axis=1), (768, 384), interpolation=cv2.INTER_AREA)
    matter = RvmMatter()
    for _ in range(3):
        alpha = matter.process(two).alpha
    scale = 384 / 512
    rows = slice(int(40 * scale), int(480 * scale))
    left = alpha[rows, int(150 * scale) : int(270 * scale)]
    right = alpha[rows, 768 - int(270 * scale) : 768 - int(150 * scale)]
    assert np.mean(left >= 0.5) > 0.85 and np.mean(right >= 0.5) > 0.85
    gap = alpha[: int(150 * scale), 384 - 40 : 384 + 40]  # between the two: flag / wall
    assert np.mean(gap <= 0.5) > 0.8


@pytest.mark.models
def test_rvm_refuses_bad_frames():
    matter = RvmMatter()
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        matter.process(np.zeros((100, 100), np.float32))
    with pytest.raises(ValueError, match="got uint8 code values"):
        matter.process(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="downsample_ratio"):
        RvmMatter(downsample_ratio=1.5)


@pytest.mark.models
def test_rvm_int8_decoder_stays_close_to_float():
    frame = cv2.resize(_astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    exact = RvmMatter(smoothing=0).process(frame).alpha
    fast = RvmMatter(smoothing=0, int8=True).process(frame).alpha
    assert fast.shape == exact.shape and fast.dtype == np.float32
    assert np.abs(fast - exact).mean() < 3e-3
    assert np.mean(np.abs(fast - exact) > 0.1) < 0.005


@pytest.mark.models
@pytest.mark.parametrize("kind", ["ai", "fast"])
def test_a_nan_frame_is_refused_and_leaves_the_clip_unharmed(kind):
    # One NaN pixel went into the recurrent state: every later frame's matte was NaN, the subject
    # gone from the composite for the rest of the clip, and no error.
    from guangying import make_matter
    from guangying.base.errors import SettingsError

    frame = _astronaut()
    matter = make_matter(kind)
    first = matter.process(frame).alpha
    for bad in (np.nan, np.inf):
        poisoned = frame.copy()
        poisoned[7, 9, 1] = bad
        with pytest.raises(SettingsError, match="1 NaN or infinite value"):
            matter.process(poisoned)
    after = matter.process(frame).alpha
    assert np.isfinite(after).all() and np.abs(after - first).mean() < 0.02 and after.mean() > 0.1


@pytest.mark.filterwarnings("ignore:no .* screen found")  # the chroma keyer on a photo without one
@pytest.mark.parametrize("kind", [pytest.param("ai", marks=pytest.mark.models),
                                  pytest.param("fast", marks=pytest.mark.models), "chroma"])
def test_a_picture_in_0_to_255_or_linear_light_is_refused(kind):
    # cv2.imread's values cast to float (the common slip) matted as nothing, or everything, silently.
    from guangying import make_matter
    from guangying.base.errors import SettingsError

    frame = _astronaut()
    matter = make_matter(kind)
    with pytest.raises(SettingsError, match="reaches 255.*divide 0–255 values"):
        matter.process(frame * 255)
    with pytest.raises(SettingsError, match="display_srgb"):
        matter.process(frame * 4)  # an EXR's light given as it is
    assert matter.process(np.minimum(frame * 1.05, 1.0)).alpha.shape == frame.shape[:2]


@pytest.mark.models
def test_an_underexposed_clip_keeps_its_subject_in_the_matte(tmp_path):
    # A night exterior in 8 bits, its brightest parts at 8 % of white, through H.264: the subject
    # faded out of the matte within two seconds (mean α 0.05 → 0.001), and no word was said.
    from guangying import make_matter, open_reader, open_writer

    h, w = 180, 320
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    scene = np.stack([0.3 + 0.4 * x / w, 0.35 + 0.3 * y / h, 0.6 - 0.3 * x / w], axis=-1)
    for (cx, cy), radius, colour in (((64, 54), 30, (0.9, 0.8, 0.2)), ((256, 126), 36, (0.2, 0.6, 0.3))):
        scene[(x - cx) ** 2 + (y - cy) ** 2 < radius**2] = colour  # a lamp and a sign behind
    scene[9:171, 79:241] = cv2.resize(_astronaut(), (162, 162))
    with open_writer(tmp_path / "night.mp4", fps=25) as writer:
        for _ in range(50):
            writer.write(np.floor(scene * 0.08 * 255) / 255, transfer="srgb")  # an 8-bit camera's steps
    lit, dark = make_matter("ai"), make_matter("ai")
    with open_reader(tmp_path / "night.mp4") as reader, pytest.warns(UserWarning, match="picture is dark"):
        mattes = [dark.process(frame.rgb) for frame in reader]
    reference = [lit.process(scene.astype(np.float32)).alpha for _ in range(3)][-1]
    person = reference > 0.5
    assert person.mean() > 0.1
    final = mattes[-1]
    assert final.alpha[person].mean() > 0.8 and final.alpha[~person].mean() < 0.1
    assert np.mean([np.abs(m.alpha - final.alpha).mean() for m in mattes[-10:]]) < 0.01  # steady
    # the foreground keeps the clip's own exposure, not the brightened one the network saw
    assert final.foreground_rgb[person].max() < 0.15


@pytest.mark.models
def test_the_subjects_solid_pixels_keep_the_plates_colour():
    # RVM's predicted foreground was used for every pixel: skin and costume shifted by up to 22/255
    # (R −1.5, G and B +0.7 on average, a cyan cast) in every AI composite. Now the plate passes where
    # the matte is solid, and the network's colour is kept on soft edges only.
    picture = _astronaut()
    matter = RvmMatter()
    for _ in range(3):
        result = matter.process(picture)
    solid = result.alpha >= 0.999
    assert solid.mean() > 0.2
    shift = np.abs(result.foreground_rgb[solid] - picture[solid])
    assert shift.max() < 0.5 / 255 and shift.mean() < 0.05 / 255, (shift.max() * 255, shift.mean() * 255)
    edge = (result.alpha > 0.1) & (result.alpha < 0.5)
    assert np.abs(result.foreground_rgb[edge] - picture[edge]).mean() > 0.01  # the screen taken out there


@pytest.mark.models
def test_weights_damaged_in_place_are_said_not_matted_as_nothing(tmp_path, monkeypatch):
    # 200 KB overwritten in the middle of the network, its size kept: mattes of NaN, written as an empty
    # alpha (exit 0), and a composite without its actor, with no word. Caught by the install's checksum
    # where the manifest has one, and by the network's output where it has not (an older install).
    import json
    import shutil

    from guangying.models import ModelDamagedError, models_dir
    from guangying.models.installer import sha256_file

    folder = tmp_path / "models"
    folder.mkdir()
    original = models_dir() / "rvm_base.onnx"
    shutil.copy(original, folder / "rvm_base.onnx")
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    manifest["models"]["rvm_base"]["sha256"] = sha256_file(original)
    with (folder / "rvm_base.onnx").open("r+b") as damaged:
        damaged.seek(original.stat().st_size // 2)
        damaged.write(b"\xff" * 200_000)
    monkeypatch.setenv("GUANGYING_MODELS_DIR", str(folder))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelDamagedError, match="not what the install wrote.*install --force"):
        RvmMatter()
    del manifest["models"]["rvm_base"]["sha256"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelDamagedError, match="NaN.*install --force"):
        RvmMatter().process(_astronaut())


@pytest.mark.models
def test_a_downsample_ratio_that_leaves_the_network_nothing_to_see_is_refused():
    # --downsample-ratio 0.01 showed the network 16 px: an empty matte, exit 0, no word
    with pytest.raises(ValueError, match=r"downsample ratio 0.01 shows the network a 16×16 picture"):
        RvmMatter(downsample_ratio=0.01).process(_astronaut())
    RvmMatter(downsample_ratio=0.25).process(_astronaut())  # 128 px: taken


@pytest.mark.models
@pytest.mark.parametrize(("size", "ratio"), [((350, 622), 0.1), ((48, 64), 0.5)])
def test_the_least_downsample_ratio_suggested_is_taken(size, ratio):
    # it suggested 0.18 where 0.18 was refused again (rounded down), and 1.3 (above the allowed 1)
    import re

    picture = cv2.resize(_astronaut(), size[::-1], interpolation=cv2.INTER_AREA)
    with pytest.raises(ValueError, match="give at least") as info:
        RvmMatter(downsample_ratio=ratio).process(picture)
    least = float(re.search(r"give at least ([\d.]+)", str(info.value)).group(1))
    assert least <= 1
    RvmMatter(downsample_ratio=least).process(picture)  # taken


@pytest.mark.models
@pytest.mark.parametrize("make", [
    lambda: RvmMatter(downsample_ratio="0.5"), lambda: RvmMatter(downsample_ratio=True),
    lambda: RvmMatter(int8="no"), lambda: RvmMatter(smoothing=float("nan")), lambda: RvmMatter(smoothing=-1),
    lambda: RvmMatter(threads=1.5),
])
def test_matter_settings_of_the_wrong_type_or_range_are_refused(make):
    # a text ratio raised a bare TypeError; NaN or negative smoothing and int8="no" were taken silently
    from guangying.base.errors import SettingsError

    with pytest.raises(SettingsError, match="RVM matting setting"):
        make()
