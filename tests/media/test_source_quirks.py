"""Sources that are easy to get silently wrong: variable frame rate, footage with its own alpha and
phone clips stored on their side."""

import io
import struct
import subprocess
import warnings
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.timecode import timecode_at
from guangying.cli.main import cli
from guangying.evaluation.clips import green_screen_clip
from guangying.media import open_reader, open_writer
from guangying.media.pixels import to_code_values

W, H = 64, 48
# A phone-style recording: 25 fps nominal, but one frame arrives 220 ms late and the rest follow it.
TIMES_MS = [0, 40, 80, 120, 340, 380, 420, 460, 500, 540]


RATE = 48_000
LOUD_MS = TIMES_MS[4]  # the sound turns loud exactly when the late frame is shown


def _vfr_clip(path, sound: bool = False) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        audio = container.add_stream("aac", rate=RATE, layout="mono") if sound else None
        for i, t_ms in enumerate(TIMES_MS):
            rgb = np.full((H, W, 3), 20 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        if audio is not None:
            n = RATE * (TIMES_MS[-1] + 40) // 1000
            t = np.arange(n) / RATE
            level = np.where(t < LOUD_MS / 1000, 0.05, 0.8)
            tone = (level * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
            block = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            block.sample_rate, block.pts = RATE, 0
            container.mux(audio.encode(block))
            container.mux(audio.encode(None))
        container.mux(stream.encode(None))


def test_variable_frame_rate_keeps_source_times_and_says_what_is_done(tmp_path):
    path = tmp_path / "vfr.mp4"
    _vfr_clip(path)
    with open_reader(path) as reader:
        assert reader.info.variable_rate
        with pytest.warns(UserWarning, match=r"variable frame rate: frame \d+ is \d+ ms away.*keep") as got:
            frames = list(reader)
    assert len(frames) == len(TIMES_MS)
    np.testing.assert_allclose([f.time_s for f in frames], np.array(TIMES_MS) / 1000, atol=1e-3)
    worst_ms = int(str(got[0].message).split(" is ")[1].split(" ms")[0])
    expected = max(abs(t - i * 1000 / float(reader.info.fps)) for i, t in enumerate(TIMES_MS))
    assert abs(worst_ms - expected) <= 1


@pytest.mark.parametrize("output", ["out.mp4", "out.mov", "out.mkv"])
def test_video_outputs_of_a_variable_rate_source_keep_its_frame_times(tmp_path, output):
    path = tmp_path / "vfr.mp4"
    _vfr_clip(path)
    out = tmp_path / output
    with pytest.warns(UserWarning, match="keep every frame's source time"):
        result = CliRunner().invoke(cli, ["composite", str(path), "-b", "black", "-o", str(out), "--quiet",
                                          "--start", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    expected = (np.array(TIMES_MS[2:]) - TIMES_MS[2]) / 1000
    np.testing.assert_allclose(np.array(times) - times[0], expected, atol=1.5e-3)


def test_variable_rate_picture_stays_on_its_sound(tmp_path):
    path = tmp_path / "vfr.mp4"
    _vfr_clip(path, sound=True)
    out = tmp_path / "out.mp4"
    with pytest.warns(UserWarning, match="source time"):
        result = CliRunner().invoke(cli, ["composite", str(path), "-b", "black", "-o", str(out), "--quiet"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        late_frame_s = [float(f.time) for f in container.decode(video=0)][4]
    with av.open(str(out)) as container:
        blocks = list(container.decode(audio=0))
        samples = np.concatenate([b.to_ndarray()[0] for b in blocks])
        first_s = float(blocks[0].time)
    loud_s = first_s + int(np.argmax(np.abs(samples) > 0.4)) / RATE
    assert abs(loud_s - late_frame_s) < 0.005  # constant-rate numbering put the frame 180 ms early


def test_a_gap_past_the_clips_head_holds_its_slots_and_the_sound_stays_in_sync(tmp_path):
    """A live take's copied plate: 25 fps, then the sender's outage (no pictures for 2 s), then pictures
    again, the sound going on through it. The gap comes after the 600 packets checked for a variable
    rate when the clip is opened, so the frames after it were numbered on: the outputs closed the gap
    while the sound kept it (a plate's post render 5.9 s out of sync, and off the take's timecode). The
    gap's slots hold the frame before it; the sound's beep after the gap is on its frame."""
    path = tmp_path / "plate.mp4"
    before, gap, after = 620, 50, 30  # frames
    times = [*range(before), *range(before + gap, before + gap + after)]
    beep_frame = before + gap + 10
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=RATE, layout="mono")
        for n in times:
            rgb = np.full((32, 32, 3), 255 if n == beep_frame else 40, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, 25)
            container.mux(stream.encode(frame))
        samples = RATE * (before + gap + after) // 25
        t = np.arange(samples) / RATE
        tone = np.where(np.abs(t - beep_frame / 25 - 0.02) < 0.02, 0.8, 0.0).astype(np.float32)
        tone *= np.sin(2 * np.pi * 1000 * t).astype(np.float32)
        block = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
        block.sample_rate, block.pts = RATE, 0
        container.mux(audio.encode(block))
        container.mux(audio.encode(None))
        container.mux(stream.encode(None))
    out = tmp_path / "post.mp4"
    held = r"has gaps in its timestamps .*: 50 frame\(s\) hold the picture .*\(620–669\)"
    with pytest.warns(UserWarning, match=held):
        result = CliRunner().invoke(cli, ["composite", str(path), "-b", "black", "-o", str(out), "--quiet"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        frames = [(float(f.time), float(f.to_ndarray(format="gray").mean()))
                  for f in container.decode(video=0)]
    with av.open(str(out)) as container:
        blocks = list(container.decode(audio=0))
        sound = np.concatenate([b.to_ndarray()[0] for b in blocks])
        first_s = float(blocks[0].time)
    assert len(frames) == before + gap + after  # the gap's slots held
    flash_s = next(time for time, level in frames if level > 128)
    beep_s = first_s + int(np.argmax(np.abs(sound) > 0.4)) / RATE
    assert abs(beep_s - flash_s) < 0.03, (beep_s, flash_s)  # numbered on, the picture came 2 s early


def test_constant_frame_rate_is_not_warned_about(tmp_path):
    """A moving green-screen take, so the encoder reorders frames (B-frames): packets arrive out of
    order, and a rate check that missed some of the first ones would see a gap where there is none."""
    path = tmp_path / "cfr.mp4"
    with open_writer(path, fps=25, width=W, height=H, content="rgb") as writer:
        for frame in green_screen_clip(W, H, 12, seed=1):
            writer.write(frame.rgb_srgb)
    with open_reader(path, start=9) as reader, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not reader.info.variable_rate
        times = [f.time_s for f in reader]
    np.testing.assert_allclose(times, [0.36, 0.40, 0.44], atol=1e-6)


def test_rgba_source_alpha_is_multiplied_into_the_matte(tmp_path):
    """A render with its own alpha: what it made transparent stays transparent in matte and composite."""
    src = tmp_path / "render.png"
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[..., 1] = 0.7  # green screen …
    rgb[:, : W // 2] = (0.8, 0.4, 0.3)  # … with a solid subject on the left half
    own_alpha = np.ones((H, W), np.float32)
    own_alpha[: H // 2] = 0.0  # the render is transparent in its top half
    with open_writer(src, content="rgba") as writer:
        writer.write(rgb, alpha=own_alpha)
    result = CliRunner().invoke(cli, ["composite", str(src), "-b", "#ffffff", "-o", str(tmp_path / "c.png"),
                                      "--alpha", str(tmp_path / "a.png"), "--quiet"])
    assert result.exit_code == 0, result.output
    with open_reader(tmp_path / "a.png") as reader:
        alpha = next(iter(reader)).rgb[..., 0]
    with open_reader(tmp_path / "c.png") as reader:
        comp = next(iter(reader)).rgb
    assert alpha[: H // 2 - 2].max() < 0.01  # transparent in the source: transparent in the matte
    assert alpha[H // 2 + 4 :, 4 : W // 2 - 4].min() > 0.99  # the subject where the source is opaque
    assert comp[: H // 2 - 2].min() > 0.99  # the white background shows through


def test_a_cg_render_without_a_screen_keeps_its_alpha_and_says_so(tmp_path):
    # "no green screen found …: frames are passed through opaque", though its own alpha was used
    src = tmp_path / "cg.png"
    rgb = np.full((H, W, 3), (0.8, 0.4, 0.3), np.float32)  # a CG element, no screen anywhere
    own_alpha = np.zeros((H, W), np.float32)
    own_alpha[8:40, 10:50] = 1.0
    with open_writer(src, content="rgba") as writer:
        writer.write(rgb, alpha=own_alpha)
    with pytest.warns(UserWarning, match="screen found") as said:
        result = CliRunner().invoke(cli, ["key", str(src), "--alpha", str(tmp_path / "a.png"), "--quiet"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    about_screen = [str(w.message) for w in said if "screen found" in str(w.message)]
    assert all("the footage's own alpha is used as it is" in m and "opaque" not in m for m in about_screen)
    with open_reader(tmp_path / "a.png") as reader:
        np.testing.assert_allclose(next(iter(reader)).rgb[..., 0], own_alpha, atol=1e-3)


def _portrait_picture() -> np.ndarray:
    """A 48 wide × 64 high picture as it should be seen: red top-left corner, blue bottom edge."""
    rgb = np.full((64, 48, 3), 128, np.uint8)
    rgb[:16, :16] = (230, 20, 20)
    rgb[-12:] = (20, 20, 230)
    return rgb


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_phone_clip_stored_on_its_side_is_read_upright(tmp_path, degrees):
    """A phone stores a portrait take landscape plus a display matrix ("rotate the stored picture
    this many degrees counter-clockwise to show it", as ffmpeg's -display_rotation documents it);
    players and ffmpeg turn it, and so must we, or every output lies on its side."""
    seen = _portrait_picture()
    stored = np.ascontiguousarray(np.rot90(seen, -degrees // 90))  # what the camera wrote
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt, stream.options = "yuv444p", {"crf": "10"}
        stream.set_display_rotation(degrees)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with open_reader(path) as reader:
        info, frames = reader.info, list(reader)
    assert (info.width, info.height) == (48, 64) and frames[0].rgb.shape == (64, 48, 3)
    assert np.abs(frames[0].rgb * 255 - seen).mean() < 3
    out = tmp_path / "comp.mp4"
    result = CliRunner().invoke(cli, ["composite", str(path), "--background", "#000000", "-o", str(out),
                                      "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open_reader(out) as reader:
        assert (reader.info.width, reader.info.height) == (48, 64)


def _x264_clip(path, x264opts: str, pictures: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"x264opts": x264opts} | ({"flags": "+ildct+ilme"} if "tff" in x264opts else {})
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _comb(picture: np.ndarray) -> float:
    """How much each row departs from the mean of its neighbours: the teeth of two fields a field
    apart in time, where something moves."""
    grey = picture.astype(np.float32).mean(axis=2)
    return float(np.abs(grey[1:-1] - (grey[:-2] + grey[2:]) / 2).mean())


def test_interlaced_sources_are_deinterlaced_as_they_are_read(tmp_path):
    """An interlaced clip (1080i from a broadcast camera or an older camcorder): a bar moving across
    it, its second field 4 px on from its first. Keyed as stored, every moving edge came combed into
    the matte and the composite (the reader only said to deinterlace it first). Its frames now come
    deinterlaced, one for each, at their times, and the reader says so."""
    pictures = []
    for n in range(8):
        picture = np.full((H, W, 3), 60, np.uint8)
        x = 10 + 8 * n
        picture[8:56:2, x:x + 20], picture[9:56:2, x + 4:x + 24] = 220, 220
        pictures.append(picture)
    path = tmp_path / "odd.mp4"
    _x264_clip(path, "tff=1", pictures)
    with pytest.warns(UserWarning, match="is interlaced.*deinterlaced"), open_reader(path) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(8))
    assert [f.time_s for f in frames] == pytest.approx([n / 25 for n in range(8)])
    shown = np.mean([_comb(to_code_values(f.rgb, np.uint8)) for f in frames])
    assert shown < 0.25 * _comb(pictures[3]), (shown, _comb(pictures[3]))
    # and ProRes written of them says it is progressive: its sample entry's 'fiel' atom, one field
    # (without it ffprobe and editors read "unknown" and may treat it as interlaced)
    out = tmp_path / "comp.mov"
    result = CliRunner().invoke(cli, ["composite", str(path), "-b", "black", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert b"fiel\x01" in out.read_bytes()


def test_an_anamorphic_plate_is_composited_and_delivered_as_it_is_shown(tmp_path):
    """A plate stored squeezed, pixel aspect 2 (an anamorphic lens; HDV and DV flag theirs too): the set
    picture covers the frame as shown, so it is squeezed the same way, and every output says so (H.264's
    VUI, MOV's pasp atom, the EXR header), so players, Nuke and editors show it unsqueezed. Before, the
    outputs had square pixels (a squeezed actor) and the set was cropped unsqueezed (half of it shown)."""
    green = np.zeros((H, W, 3), np.uint8)
    green[:] = (30, 190, 60)  # all screen: the composite is the set
    plate = tmp_path / "anamorphic.mp4"
    _x264_clip(plate, "sar=2/1", [green] * 3)
    with open_reader(plate) as reader:
        assert reader.info.pixel_aspect == 2
    bands = np.repeat(np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]]], np.float32),
                      W // 2, axis=1)  # four bands across a picture as wide as the plate is shown
    with open_writer(tmp_path / "set.png", content="rgb") as writer:
        writer.write(np.ascontiguousarray(np.repeat(bands, H, axis=0)), transfer="srgb")
    outputs = [tmp_path / name for name in ("comp.mp4", "comp.mov", "comp.####.exr")]
    for out in outputs:
        result = CliRunner().invoke(cli, ["composite", str(plate), "-b", str(tmp_path / "set.png"), "-o",
                                          str(out), "--quiet"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        with open_reader(out) as reader:
            assert reader.info.pixel_aspect == 2, out
            frame = next(iter(reader)).rgb
        shown = frame[H // 2, W // 16 :: W // 8][::2]  # the middle of each quarter of the frame
        expected = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]
        np.testing.assert_allclose(np.clip(shown, 0, 1), expected, atol=0.1, err_msg=str(out))


def test_an_anamorphic_plates_set_is_defocused_with_oval_bokeh(tmp_path):
    """Lens depth of field on a plate squeezed by a 2× anamorphic lens: a distant light in the set
    blurs to an upright oval twice as tall as wide as shown (a quarter as wide in stored pixels), as
    anamorphic lenses render it. It was a disc in stored pixels, shown as an oval lying on its side."""
    h, w = 128, 192
    green = np.zeros((h, w, 3), np.uint8)
    green[:] = (30, 190, 60)  # all screen: the composite is the set
    plate = tmp_path / "anamorphic.mp4"
    _x264_clip(plate, "sar=2/1", [green] * 2)
    light = np.zeros((h, 2 * w, 3), np.float32)  # the set as wide as the plate is shown
    light[h // 2 - 1: h // 2 + 1, w - 2: w + 2] = 1.0
    with open_writer(tmp_path / "set.png", content="rgb") as writer:
        writer.write(light, transfer="srgb")
    out = tmp_path / "comp.####.exr"
    result = CliRunner().invoke(cli, [
        "composite", str(plate), "-b", str(tmp_path / "set.png"), "-o", str(out), "--quiet",
        "--focal-length", "135", "--f-number", "1.4", "--sensor", "s35", "--subject-distance", "2",
        "--background-distance", "inf"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open_reader(out) as reader:
        frame = next(iter(reader)).rgb[..., 1]
    lit = frame > 0.5 * frame.max()
    tall = np.count_nonzero(lit.any(axis=1))
    wide = np.count_nonzero(lit.any(axis=0))
    c_px = 135 / 1.4 * 135 / (2000 - 135) / 24.89 * w  # the thin-lens blur, nominal focal length
    assert tall == pytest.approx(c_px, rel=0.15)
    assert tall / wide == pytest.approx(4.0, rel=0.2)


def _halve_mkv_duration(path) -> None:
    """What a cut or re-muxed stream may carry: a Duration element (EBML 0x4489, 8-byte float) half
    the clip's real length, so the frame count estimated from it is short."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88") + 3
    assert at > 2, "no 8-byte Duration element"
    data[at: at + 8] = struct.pack(">d", struct.unpack(">d", data[at: at + 8])[0] / 2)
    path.write_bytes(bytes(data))


def test_a_short_duration_estimate_does_not_cut_the_clip(tmp_path):
    path = tmp_path / "take.mkv"
    with open_writer(path, fps=25, width=W, height=H) as writer:
        for i in range(30):
            writer.write(np.full((H, W, 3), i / 40, np.float32))
    _halve_mkv_duration(path)
    with open_reader(path) as reader:
        assert reader.info.frame_count == 15 and not reader.info.frame_count_exact  # the estimate
        assert [f.index for f in reader] == list(range(30))
    with open_reader(path, start=20, end=25) as reader:  # a range past the estimate is not refused
        assert reader.info.frame_count_exact
        assert [f.index for f in reader] == list(range(20, 26))
    # … and one past the real end is said once the read finds it (5 of 16 frames, without a word)
    with pytest.warns(UserWarning, match=r"frames up to 40 were asked for, but its last frame is 29"):
        with open_reader(path, start=25, end=40) as reader:
            assert [f.index for f in reader] == list(range(25, 30))


def _segment(width: int, height: int, frames: int, value: int) -> bytes:
    out_bytes = io.BytesIO()
    with av.open(out_bytes, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            rgb = np.full((height, width, 3), value, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return out_bytes.getvalue()


def test_a_repeated_frame_time_moves_that_frame_alone(tmp_path):
    # A variable-rate clip whose rounding gives two frames one time (as ffmpeg's passthrough writes
    # it): every frame after the repeat was moved a whole frame on, 40 ms more at each repeat, and
    # outputs that keep source times drifted off the sound.
    source, clip = tmp_path / "src.mkv", tmp_path / "repeat.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc=size={W}x{H}:rate=25",
                    "-frames:v", "20", "-c:v", "ffv1", str(source)], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(source), "-vf",
                    r"setpts='(N*0.04+if(eq(N\,10)\,-0.04\,0)+if(eq(N\,15)\,-0.04\,0))/TB'",
                    "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    truth = [k * 0.04 for k in range(20)]
    truth[10], truth[15] = truth[9], truth[14]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said to be variable-rate
        with open_reader(clip) as reader:
            times = [f.time_s for f in reader]
    assert len(times) == 20 and all(b > a for a, b in zip(times, times[1:], strict=False))
    np.testing.assert_allclose(times, truth, atol=2e-3)


def test_clips_joined_end_to_end_keep_one_size_and_moving_time(tmp_path):
    # `cat a.ts b.ts > joined.ts` (recorder segments, a downloaded stream): the second part restarts
    # its timestamps and is smaller. Read, it stopped at the first part's length (its duration is all
    # that was counted), and the smaller frames failed the keyer.
    path = tmp_path / "joined.ts"
    path.write_bytes(_segment(W, H, 12, 60) + _segment(W // 2, H // 2, 12, 200))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reader(path) as reader:
            frames = list(reader)
    assert [f.index for f in frames] == list(range(24))
    assert {f.rgb.shape for f in frames} == {(H, W, 3)}
    assert frames[-1].rgb.mean() == pytest.approx(200 / 255, abs=0.02)  # the second part, scaled up
    times = [f.time_s for f in frames]
    assert all(b - a == pytest.approx(1 / 25) for a, b in zip(times, times[1:], strict=False))
    sizes = [str(w.message) for w in caught if "picture changed" in str(w.message)]
    assert sizes == [f"{path}: the picture changed from {W}×{H} to {W // 2}×{H // 2} at frame 12; it is "
                     f"scaled back to {W}×{H}"]
    out = tmp_path / "comp.mp4"
    result = CliRunner().invoke(cli, ["composite", str(path), "-b", "#202020", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        shown = [float(f.time) for f in container.decode(video=0)]
    assert len(shown) == 24 and all(b > a for a, b in zip(shown, shown[1:], strict=False))


def test_a_clip_whose_time_leaps_goes_on_one_frame_after_the_leap(tmp_path):
    # A recorder whose clock reset mid-clip: frame 10 stamped 10⁶ s after frame 9. Kept, the leap packed
    # the rest of the clip into 0.2 ms of a composite (frames 11 µs apart, never shown), said as a
    # "variable frame rate" whose outputs "keep every frame's source time".
    path = tmp_path / "leap.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for n in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), 10 * n, np.uint8), format="rgb24")
            frame.pts = n + (25_000_000 if n >= 10 else 0)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reader(path) as reader:
            assert not reader.info.variable_rate
            assert reader.info.frame_count in (None, 20)  # not counted by its duration: 25000020 frames
            times = [f.time_s for f in reader]
    said = [str(w.message) for w in caught]
    assert any("frame 10's time leaps 1000000 s ahead" in m for m in said), said
    assert not any("variable frame rate" in m for m in said), said
    assert np.allclose(np.diff(times), 1 / 25), times
    out = tmp_path / "comp.mov"
    result = CliRunner().invoke(cli, ["composite", str(path), "-b", "#202020", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        shown = [float(f.time) for f in container.decode(video=0)]
    assert np.allclose(np.diff(shown), 1 / 25, atol=1e-3), shown


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_short_clip_whose_time_leaps_at_once_keeps_its_rate_and_is_not_called_damaged(tmp_path, suffix):
    """Four frames, then an hour's leap, then two (a recorder's clock reset at once): too short to judge
    its rate by its frames, it ran at its average (1/600 fps, ten minutes a frame) in MP4, and in MKV its
    flushed last frames were taken for a cut file's loss: "badly damaged"."""
    path = tmp_path / f"leap{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for n, pts in enumerate((0, 1, 2, 3, 90_000, 90_001)):
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), 30 * n, np.uint8), format="rgb24")
            frame.pts = pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.warns(UserWarning, match="frame 4's time leaps 3600 s ahead"), open_reader(path) as reader:
        assert reader.info.fps == 25
        frames = list(reader)
    assert len(frames) == 6 and all(f.damage is None for f in frames)
    assert np.allclose([f.time_s for f in frames], np.arange(6) / 25)


def test_a_clip_trimmed_without_re_encoding_reads_the_frames_it_shows(tmp_path):
    # A phone's trim or `ffmpeg -ss 0.4 -c copy` keeps the GOP's head and hides it with an edit list.
    # The index counts the hidden frames too, so the read was refused as "ends early … truncated".
    whole, trimmed = tmp_path / "whole.mp4", tmp_path / "trimmed.mp4"
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(30):
            rgb = np.full((H, W, 3), 8 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(whole)) as source, av.open(str(trimmed), "w") as target:
        video = source.streams.video[0]
        copy = target.add_stream_from_template(video)
        hidden_ticks = round(10 / 25 / video.time_base)  # the first 10 frames go before the edit
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            packet.pts, packet.dts, packet.stream = packet.pts - hidden_ticks, packet.dts - hidden_ticks, copy
            target.mux(packet)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        with open_reader(trimmed) as reader:
            assert reader.info.frame_count == 20
            frames = list(reader)
        with open_reader(trimmed, start=5) as reader:
            later = list(reader)
    assert [f.index for f in frames] == list(range(20))
    assert [round(float(f.rgb.mean()) * 255 / 8) for f in frames] == list(range(10, 30))
    assert [f.index for f in later] == list(range(5, 20)) and np.array_equal(later[0].rgb, frames[5].rgb)


@pytest.mark.parametrize("name", ["loop.webp", "loop.png"])
def test_an_animated_picture_says_only_its_first_frame_is_read(tmp_path, name):
    # an animated WebP or PNG (APNG) given as a plate or a source: OpenCV reads its first frame alone
    from PIL import Image

    frames = [Image.fromarray(np.full((H, W, 3), 25 * i, np.uint8)) for i in range(6)]
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=40, loop=0)
    with pytest.warns(UserWarning, match=r"is animated \(6 frames\): only its first frame is read"):
        with open_reader(tmp_path / name) as reader:
            assert reader.info.frame_count == 1
    frames[0].save(tmp_path / f"still{name[4:]}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_reader(tmp_path / f"still{name[4:]}").close()


def _gapped_plate(path, before: int, gap: int, after: int) -> None:
    """A live take's copied plate: 25 fps with timecode, `gap` slots with no picture (the sender's outage),
    keyframes every 25 pictures; each picture's grey level names its slot."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "25", "crf": "0"}
        stream.metadata["timecode"] = "01:00:00:00"
        for n in [*range(before), *range(before + gap, before + gap + after)]:
            grey = np.full((32, 32, 3), 20 + 3 * (n % 70), np.uint8)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _slot(frame) -> int:
    """The slot (mod 70) a picture of :func:`_gapped_plate` was made for."""
    return round((float(np.mean(frame.rgb)) * 255 - 20) / 3)


@pytest.mark.parametrize("start", [640, 660, 670, 671, 690])
def test_a_range_from_inside_a_plates_gap_reads_as_the_whole_clip_does(tmp_path, start):
    """A range that began inside the gap (a batch range, `composite --start` in a take's outage) was
    numbered from the keyframe before the gap without it: frame 640 came with the picture of slot 690,
    the gap's length later, and the range held frames after it instead. A frame after the gap also
    kept the timecode of its number before the gap was counted."""
    path = tmp_path / "plate.mov"
    _gapped_plate(path, 620, 50, 80)
    with pytest.warns(UserWarning, match="gaps in its timestamps"):
        with open_reader(path) as reader:
            whole = [(f.index, _slot(f), f.timecode) for f in reader]
    assert [i for i, _, _ in whole] == list(range(750))
    assert [g for _, g, _ in whole] == [(619 if 620 <= n < 670 else n) % 70 for n in range(750)]  # held
    assert [tc for _, _, tc in whole] == [timecode_at("01:00:00:00", n, Fraction(25)) for n in range(750)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open_reader(path, start=start, end=start + 30) as reader:
            part = [(f.index, _slot(f), f.timecode) for f in reader]
    assert part == whole[start : start + 31]


@pytest.mark.parametrize(("ticks_per_s", "period_ticks", "rate"), [
    (600, 20, Fraction(30)),  # an iPhone's 1/600 timescale
    (90000, 3003, Fraction(30000, 1001)),  # an Android's 1/90000
])
def test_a_camera_rate_clip_with_late_frames_keeps_the_camera_rate(tmp_path, ticks_per_s, period_ticks, rate):
    # frames from the 30th on 5 ms late: the clip averaged 29.925 fps (12000/401), the rate its outputs,
    # their timecode and EXR headers were written at, off-speed against the 30p plate in an editor
    late = round(0.005 * ticks_per_s)
    path = tmp_path / "phone.mov"
    timing = ["-vf", f"settb=1/{ticks_per_s},setpts='N*{period_ticks}+gte(N\\,30)*{late}'", "-enc_time_base",
              f"1/{ticks_per_s}", "-fps_mode", "passthrough", "-video_track_timescale", str(ticks_per_s)]
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=30", "-frames:v", "60",
                    *timing, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "0", str(path)], check=True)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate != rate  # the clip's own average is odd
    with open_reader(path) as reader:
        assert reader.info.fps == rate and not reader.info.variable_rate
        assert len(list(reader)) == 60


@pytest.mark.parametrize("rate", [Fraction(48000, 1001), Fraction(24000, 1001), Fraction(48)])
def test_a_high_frame_rate_clip_keeps_its_rate(tmp_path, rate):
    # 47.952 fps (HFR deliverables) was read as 48: outputs written 0.1 % fast against the clip's sound
    path = tmp_path / "hfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_reader(path) as reader:
        assert reader.info.fps == rate and len(list(reader)) == 24


def test_every_range_of_an_mpeg_ts_clip_with_b_frames_reads_its_frames(tmp_path):
    # a live plate's .ts: keyframes 2 s apart, B-frames. Its seek by estimated position came down past
    # the last keyframe before a range near the end, where nothing decodes: a batch's last ranges read no
    # frame, exit 0, and the joined output lost its last 1–11 frames without a word
    path = tmp_path / "plate.ts"
    rng = np.random.default_rng(3)
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"g": "50", "bf": "2", "crf": "18"}
        for i in range(100):
            picture = rng.integers(0, 40, (64, 96, 3), dtype=np.uint8)
            picture[:, i % 96] = 255  # a moving bar: each frame its own picture
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open_reader(path) as reader:
        whole = [frame.rgb for frame in reader]
    assert len(whole) == 100
    for start in (49, 90, 97, 98, 99):
        end = min(start + 5, 99)
        with open_reader(path, start=start, end=end) as reader:
            part = [(frame.index, frame.rgb) for frame in reader]
        assert [i for i, _ in part] == list(range(start, end + 1)), start
        assert all(np.array_equal(rgb, whole[i]) for i, rgb in part), start


def test_a_matroska_clip_whose_timestamps_start_late_is_whole(tmp_path):
    # Timestamps from 100 000 000 s on (ffmpeg -output_ts_offset, a recorder's time of day): Matroska's
    # duration counts from 0, and the 1 s clip read as 2.5 billion frames, "probably truncated"
    path = tmp_path / "late.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            frame.pts, frame.time_base = 25 * 100_000_000 + i, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_reader(path) as reader:
            assert reader.info.frame_count == 25
            assert len(list(reader)) == 25
