"""A source damaged in places (a scratched card, an interrupted copy, one bad file of a render): the
frames that cannot be decoded hold the nearest good picture, every frame stays in place, and the
damage is named; a file that is mostly damaged is still refused.

The clips are H.264 from PyAV with a keyframe every 12 frames and no B-frames, so which frames a lost
packet touches is known: the lost frame, then the frames predicted from it up to the next keyframe.
A packet is damaged by overwriting its bytes in the file, found by its position from the demuxer.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.batch.render import RangeResult
from guangying.batch.runner import _result_from_record
from guangying.cli.main import cli
from guangying.media import MediaError, open_reader, open_writer
from guangying.media.damage import damage_note, frame_ranges
from guangying.media.opencv import cv2
from guangying.pipeline.job import JobOutputs, run_job
from guangying.pipeline.matters import make_matter

FPS, FRAMES, GOP = 24, 48, 12
H, W = 64, 96


def _write_clip(path: Path, x264_params: str = f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes=0",
                frames: int = FRAMES) -> None:
    """A red disc crossing a lit green ground: every frame differs from the one before."""
    yy, xx = np.mgrid[:H, :W]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "18", "x264-params": x264_params}
        for i in range(frames):
            rgb = np.zeros((H, W, 3), np.uint8)
            rgb[..., 1] = 150
            rgb[..., 0] = (xx * 2).astype(np.uint8)
            rgb[(xx - 10 - 1.5 * i) ** 2 + (yy - 32) ** 2 < 150] = (220, 60, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _damage(clean: Path, damaged: Path, frames: set[int]) -> None:
    """Copy ``clean`` with the packets of ``frames`` overwritten by noise."""
    data = bytearray(clean.read_bytes())
    with av.open(str(clean)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            index = round(packet.pts * stream.time_base * FPS)
            if index in frames:
                noise = np.random.default_rng(index).integers(0, 256, packet.size, dtype=np.uint8)
                data[packet.pos: packet.pos + packet.size] = noise.tobytes()
    damaged.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    """(clean clip, the same with frame 30's packet damaged)."""
    root = tmp_path_factory.mktemp("damage")
    _write_clip(root / "clean.mp4")
    _damage(root / "clean.mp4", root / "damaged.mp4", {30})
    return root / "clean.mp4", root / "damaged.mp4"


def _read(path: Path, start: int | None = None, end: int | None = None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reader(path, start=start, end=end) as reader:
            frames = list(reader)
    return frames, [str(w.message) for w in caught]


def test_a_lost_frame_holds_the_one_before_and_later_frames_stay_in_place(clips):
    clean = _read(clips[0])[0]
    damaged, messages = _read(clips[1])
    assert [f.index for f in damaged] == list(range(FRAMES))
    held = damaged[30]
    assert held.damage == "held" and np.array_equal(held.rgb, damaged[29].rgb)
    assert held.time_s == pytest.approx(30 / FPS)
    assert [f.index for f in damaged if f.damage == "artefacts"] == [31, 32, 33, 34, 35]
    for i in [*range(30), *range(36, FRAMES)]:  # before the damage and from the next keyframe on
        assert damaged[i].damage is None and np.array_equal(damaged[i].rgb, clean[i].rgb), i
    assert not np.array_equal(held.rgb, clean[30].rgb)  # really held: the disc moved
    assert len(messages) == 1
    assert "damaged.mp4 is damaged" in messages[0] and "(30;" in messages[0] and "(31–35)" in messages[0]


def test_ranges_hold_too_and_a_range_starting_on_the_damage_holds_what_the_whole_read_holds(clips):
    frames, _ = _read(clips[1], start=28, end=33)
    assert [f.index for f in frames] == [28, 29, 30, 31, 32, 33]
    assert frames[2].damage == "held" and np.array_equal(frames[2].rgb, frames[1].rgb)
    whole = _read(clips[1])[0]
    frames, messages = _read(clips[1], start=30, end=32)
    assert [(f.index, f.damage) for f in frames] == [(30, "held"), (31, "artefacts"), (32, "artefacts")]
    # the frame before (29), as the whole read holds it: a batch range starting there held frame 31
    for frame in frames:
        assert np.array_equal(frame.rgb, whole[frame.index].rgb), frame.index
    frames, messages = _read(clips[1], start=37, end=40)  # past the next keyframe: clean
    assert [f.damage for f in frames] == [None] * 4 and messages == []


def test_a_range_starting_on_a_damaged_keyframe_shows_what_the_whole_read_shows(tmp_path):
    """An all-keyframe clip whose frame 20 is damaged: the whole read's decoder mends it from frame 19,
    and a range starting on it (a batch's split) had nothing before it: a flat grey frame."""
    clean = tmp_path / "intra.mp4"
    _write_clip(clean, x264_params="keyint=1", frames=30)
    _damage(clean, tmp_path / "bad.mp4", {20})
    whole = _read(tmp_path / "bad.mp4")[0]
    ranged = _read(tmp_path / "bad.mp4", start=20, end=22)[0]
    assert [f.index for f in ranged] == [20, 21, 22]
    for frame in ranged:
        assert np.array_equal(frame.rgb, whole[frame.index].rgb), frame.index


@pytest.mark.parametrize(("start", "end"), [(26, 31), (24, 29)], ids=["inside", "from its first frame"])
def test_a_range_wholly_in_a_damaged_stretch_holds_what_the_whole_read_does(clips, tmp_path, start, end):
    """Frames 24–35 (a keyframe and its group) damaged: the whole read holds frame 23 there, while a batch
    range inside that stretch failed its shot, "no frame could be decoded"."""
    _damage(clips[0], tmp_path / "stretch.mp4", set(range(24, 36)))
    whole = _read(tmp_path / "stretch.mp4")[0]
    ranged, messages = _read(tmp_path / "stretch.mp4", start=start, end=end)
    assert [f.index for f in ranged] == list(range(start, end + 1))
    for frame in ranged:
        assert frame.damage == "held" and np.array_equal(frame.rgb, whole[frame.index].rgb), frame.index
    assert np.array_equal(ranged[0].rgb, whole[23].rgb)
    assert any("6 frames could not be decoded" in m for m in messages), messages


def test_a_range_of_a_sequence_starting_on_a_damaged_file_holds_the_one_before(tmp_path):
    """A batch range split on a sequence's unreadable file failed the whole shot ("The sequence is opened
    on this frame"), which the whole render holds from the frame before."""
    for number in range(1, 11):
        cv2.imwrite(str(tmp_path / f"s.{number:04d}.png"), np.full((8, 8, 3), 20 * number, np.uint8))
    (tmp_path / "s.0006.png").write_bytes(b"\x89PNG\r\n\x1a\n0000")
    whole, _ = _read(tmp_path / "s.%04d.png")
    ranged, messages = _read(tmp_path / "s.%04d.png", start=6, end=8)
    assert [(f.index, f.damage) for f in ranged] == [(6, "held"), (7, None), (8, None)]
    for frame in ranged:
        assert np.array_equal(frame.rgb, whole[frame.index - 1].rgb), frame.index
    assert any("s.0006.png" in m for m in messages)


def test_a_lost_last_frame_is_held_not_reported_as_a_truncated_file(clips, tmp_path):
    path = tmp_path / "end.mp4"
    _damage(clips[0], path, {FRAMES - 1})
    frames, messages = _read(path)
    assert [f.index for f in frames] == list(range(FRAMES))
    assert frames[-1].damage == "held" and np.array_equal(frames[-1].rgb, frames[-2].rgb)
    assert f"({FRAMES - 1};" in messages[0]


def test_a_matroska_file_cut_after_a_p_frame_holds_the_b_frames_it_lost(tmp_path):
    """An unfinished copy of an H.264 .mkv (B-frames), cut just after a P-frame's packet: the B-frames
    shown before it, whose packets come after it, are gone. Its picture was numbered on as the next
    frame (a sequence's frame 52 held frame 55's matte), and the head scan read the gap as a variable
    rate. Now the lost frames hold the last good one, in their slots, and are named."""
    clip = tmp_path / "clip.mkv"
    yy, xx = np.mgrid[:H, :W]
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "18", "x264-params": "keyint=24:scenecut=0:bframes=3:b-adapt=0"}
        for i in range(FRAMES):
            rgb = np.zeros((H, W, 3), np.uint8)
            rgb[..., 1] = 150
            rgb[(xx - 10 - 1.5 * i) ** 2 + (yy - 32) ** 2 < 150] = (220, 60, 40)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        packets = [(round(p.pts * stream.time_base * FPS), p.pos, p.is_keyframe)
                   for p in container.demux(stream) if p.size]
    # the first P-frame after frame 30 that comes ahead of B-frames shown before it
    at = next(k for k, (n, _, key) in enumerate(packets)
              if n > 30 and not key and k + 1 < len(packets) and packets[k + 1][0] < n)
    last, lost = packets[at][0], sorted(n for n, _, _ in packets[at + 1:] if n < packets[at][0])
    assert lost and max(n for n, _, _ in packets[:at]) < lost[0]
    cut = tmp_path / "cut.mkv"  # up to the next packet's data (the demuxer ends a block at the next)
    cut.write_bytes(clip.read_bytes()[:packets[at + 1][1]])
    frames, said = _read(cut)
    assert [f.index for f in frames] == list(range(last + 1))
    assert [round(f.time_s * FPS) for f in frames] == list(range(last + 1))  # each in its slot
    assert [f.index for f in frames if f.damage == "held"] == lost
    assert not [m for m in said if "variable frame rate" in m], said
    assert any(f"({frame_ranges(lost)};" in m for m in said), said


def test_a_mostly_damaged_clip_is_refused(clips, tmp_path):
    path = tmp_path / "wrecked.mp4"
    _damage(clips[0], path, set(range(FRAMES)) - set(range(0, FRAMES, GOP)))  # only the keyframes
    with pytest.raises(MediaError, match=r"wrecked\.mp4: \d+ of the \d+ frames read cannot be decoded"):
        _read(path)


def test_a_sequence_holds_its_damaged_files_and_refuses_a_wrecked_one(tmp_path):
    for number in range(1, 31):
        cv2.imwrite(str(tmp_path / f"s.{number:04d}.png"), np.full((8, 8, 3), 8 * number, np.uint8))
    whole = (tmp_path / "s.0013.png").read_bytes()
    (tmp_path / "s.0013.png").write_bytes(whole[: len(whole) // 2])  # a render killed while writing
    (tmp_path / "s.0014.png").write_bytes(b"")
    frames, messages = _read(tmp_path / "s.%04d.png")
    assert [f.index for f in frames] == list(range(1, 31))
    assert [f.index for f in frames if f.damage] == [13, 14]
    assert np.array_equal(frames[12].rgb, frames[11].rgb) and np.array_equal(frames[13].rgb, frames[11].rgb)
    assert frames[13].time_s == pytest.approx(13 / 24)
    assert "(13–14; cannot decode" in messages[0] and "s.0013.png" in messages[0]
    for number in range(3, 31):
        (tmp_path / f"s.{number:04d}.png").write_bytes(b"x")
    with pytest.raises(MediaError, match=r"\d+ of the \d+ frames read cannot be decoded"):
        _read(tmp_path / "s.%04d.png")


def test_a_lost_frame_of_a_variable_rate_clip_is_held_at_its_own_time(tmp_path):
    # A phone clip's frame numbers are counts, not times: the lost packet's timestamp places the frame.
    times_ms = [40 * i + (200 if i >= 5 else 0) for i in range(30)]
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"x264-params": "bframes=0"}
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, t_ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), 8 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        at_800_ms = [p for p in container.demux(stream) if p.pts and p.pts * stream.time_base * 5 == 4]
        noise = np.random.default_rng(0).integers(0, 256, at_800_ms[0].size, np.uint8)
        data[at_800_ms[0].pos: at_800_ms[0].pos + at_800_ms[0].size] = noise.tobytes()
    path.write_bytes(bytes(data))
    frames, messages = _read(path)
    assert [f.index for f in frames] == list(range(30))
    assert [f.index for f in frames if f.damage == "held"] == [15]
    assert frames[15].time_s == pytest.approx(0.8) and np.array_equal(frames[15].rgb, frames[14].rgb)
    assert [f.time_s for f in frames] == pytest.approx([t / 1000 for t in times_ms])
    assert any("(15;" in m for m in messages)


def test_an_exr_cut_short_by_a_killed_render_is_held_and_named(tmp_path):
    with open_writer(tmp_path / "r.%04d.exr", fps=24, width=16, height=8, content="rgb") as writer:
        for i in range(6):
            writer.write(np.full((8, 16, 3), 0.1 * i, np.float32), transfer="linear")
    whole = (tmp_path / "r.0003.exr").read_bytes()
    (tmp_path / "r.0003.exr").write_bytes(whole[: len(whole) // 2])  # OpenEXR: "file has 0 parts"
    frames, messages = _read(tmp_path / "r.%04d.exr")
    assert [(f.index, f.damage) for f in frames if f.damage] == [(3, "held")]
    assert np.array_equal(frames[3].rgb, frames[2].rgb)
    assert "cannot decode" in messages[0] and "r.0003.exr" in messages[0]
    (tmp_path / "r.0000.exr").write_bytes(whole[: len(whole) // 2])  # the first: nothing to hold yet
    with pytest.raises(MediaError, match=r"cannot decode .*r\.0000\.exr; the file is damaged, incomplete or "
                       r"not in the EXR format"):
        open_reader(tmp_path / "r.%04d.exr")


def test_a_jpeg_cut_short_is_damaged_not_read_with_a_grey_bottom(tmp_path):
    # libjpeg decodes a cut file with the missing rows flat grey and only a warning on stderr
    from skimage import data as skdata

    picture = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    for number in range(1, 5):
        cv2.imwrite(str(tmp_path / f"p.{number:04d}.jpg"), np.roll(picture, 9 * number, axis=1))
    whole = (tmp_path / "p.0003.jpg").read_bytes()
    (tmp_path / "p.0003.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    (tmp_path / "p.0002.jpg").write_bytes(whole.replace(b"\xff\xd9", b"") + b"\0" * 64)  # no EOI, whole
    (tmp_path / "p.0004.jpg").write_bytes(whole + b"ftypmp42" + bytes(4096))  # a motion photo's video
    frames, messages = _read(tmp_path / "p.%04d.jpg")
    assert [(f.index, f.damage) for f in frames if f.damage] == [(3, "held")]
    assert np.array_equal(frames[2].rgb, frames[1].rgb)
    assert np.abs(frames[3].rgb - frames[1].rgb).max() < 0.02  # both hold the third picture whole
    assert "p.0003.jpg" in messages[0]


def test_a_damaged_first_frame_of_a_sequence_says_how_to_start_after_it(tmp_path):
    # a damaged later frame is held; the first one sets the sequence's size, and its refusal said only
    # "re-export it", though the rest of the render was whole
    for number in range(1, 4):
        cv2.imwrite(str(tmp_path / f"r.{number:04d}.png"), np.full((8, 8, 3), 60 * number, np.uint8))
    whole = (tmp_path / "r.0001.png").read_bytes()
    (tmp_path / "r.0001.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaError, match=r"r.0001.png.*after it \(--start 2; start: 2 in a batch file\)"):
        open_reader(tmp_path / "r.%04d.png")
    with open_reader(tmp_path / "r.%04d.png", start=2) as reader:
        assert len(list(reader)) == 2


@pytest.mark.parametrize(("suffix", "name"), [(".png", "PNG"), (".jpg", "JPEG"), (".tif", "TIFF")])
def test_a_picture_named_exr_is_refused_not_read_as_linear_light(tmp_path, suffix, name):
    # OpenCV decodes any of them, and the name made its sRGB colours linear: 128 grey came out 188
    picture = tmp_path / f"grey{suffix}"
    cv2.imwrite(str(picture), np.full((8, 8, 3), 128, np.uint8))
    named = tmp_path / "grey.exr"
    named.write_bytes(picture.read_bytes())
    with pytest.raises(MediaError, match=f"is a {name} picture named .exr.*Rename it to {suffix}"):
        with open_reader(named) as reader:
            next(iter(reader))


def test_composite_renders_every_frame_and_says_which_were_damaged(clips, tmp_path):
    out = tmp_path / "comp.mp4"
    result = CliRunner().invoke(
        cli, ["composite", str(clips[1]), "-b", "#202020", "-o", str(out), "--quiet"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"{FRAMES} frames; source damaged: frame 30 not decodable" in result.output
    assert "frames 31–35 decoded with errors" in result.output
    with open_reader(out) as reader:
        assert reader.info.frame_count == FRAMES and sum(1 for _ in reader) == FRAMES


def test_job_report_and_a_batch_range_carry_the_damage(clips, tmp_path):
    report = run_job(
        clips[1], make_matter("chroma"), JobOutputs(alpha=tmp_path / "a.mp4"), start=24, end=40,
        show_progress=False,
    )
    assert report.held_frames == [30] and report.artefact_frames == [31, 32, 33, 34, 35]
    # what a resumed batch run reads back from its manifest
    record = {"frames": 17, "files": {}, "contact": None, "held_frames": [30], "artefact_frames": [31]}
    resumed: RangeResult = _result_from_record(record, None, "shot")  # type: ignore[arg-type]
    assert (resumed.held_frames, resumed.artefact_frames) == ([30], [31])
    assert damage_note(resumed.held_frames, []) == (
        "source damaged: frame 30 not decodable (the nearest good frame held)"
    )


def test_frame_ranges_are_written_as_runs():
    assert frame_ranges([9, 3, 4, 5, 12, 11]) == "3–5, 9, 11–12"
    assert frame_ranges([]) == ""


def test_rate_is_kept(clips):
    with open_reader(clips[1]) as reader:
        assert reader.info.fps == Fraction(FPS)


def test_a_grey_frame_among_colour_ones_is_said(tmp_path):
    # a frame of another pass (a grey depth or matte render) in a colour sequence keyed as solid
    # subject, without a word
    for number in range(1, 4):
        cv2.imwrite(str(tmp_path / f"s.{number:04d}.png"), np.full((8, 8, 3), (60, 180, 40), np.uint8))
    cv2.imwrite(str(tmp_path / "s.0002.png"), np.full((8, 8), 128, np.uint8))
    with pytest.warns(UserWarning, match=r"frame 2 of image sequence .* is grey where the sequence's first "
                                         r"frame is colour"):
        with open_reader(tmp_path / "s.%04d.png") as reader:
            assert len(list(reader)) == 3


@pytest.mark.parametrize("kept", [0.33, 0.8, 0.9])
def test_an_exr_whose_pixels_are_cut_short_is_held_not_taken_for_one_without_rgb(tmp_path, kept):
    """Cut after its header (an interrupted copy of a bigger frame), OpenEXR opened the file and gave a
    part without channels: the frame was taken for one whose layers are misnamed, and the render stopped
    with "has no layer with R, G and B channels (it has )", the frames done before thrown away."""
    with open_writer(tmp_path / "r.%04d.exr", fps=24, width=256, height=192, content="rgb") as writer:
        for i in range(4):
            noise = np.random.default_rng(i).random((192, 256, 3), np.float32)  # many chunks: poorly packed
            writer.write(noise, transfer="linear")
    whole = (tmp_path / "r.0002.exr").read_bytes()
    (tmp_path / "r.0002.exr").write_bytes(whole[: int(len(whole) * kept)])
    frames, messages = _read(tmp_path / "r.%04d.exr")
    assert [(f.index, f.damage) for f in frames if f.damage] == [(2, "held")]
    assert np.array_equal(frames[2].rgb, frames[1].rgb)
    assert "cannot decode" in messages[0] and "r.0002.exr" in messages[0]


@pytest.mark.parametrize("gone, refused", [((0.40, 0.47), False), ((0.30, 0.95), True)])
def test_a_stretch_of_a_stream_whose_data_is_gone_keeps_its_frames_in_place(tmp_path, gone, refused):
    """An MPEG-TS take with part of its data zeroed (a damaged card, a dropped stretch of a recording):
    the demuxer never sees those frames, and the frame after the gap came 8 frames early — 92 of 100
    frames, every later one numbered 8 short, said as "a variable frame rate"; with 65 % gone, 33 frames
    and "done". The missing slots hold the last good frame, named; a file mostly gone is refused."""
    path = tmp_path / "take.ts"
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 176, "yuv420p"
        stream.options = {"g": "25"}
        for i in range(100):  # a picture that differs every frame (compresses to similar-sized frames)
            rgb = np.random.default_rng(i).integers(0, 256, (176, 320, 3), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(path.read_bytes())
    a, b = int(len(data) * gone[0]), int(len(data) * gone[1])
    data[a:b] = bytes(b - a)
    path.write_bytes(bytes(data))
    if refused:
        with pytest.raises(MediaError, match="cannot be decoded .*the file's data for them is missing"):
            _read(path)
        return
    frames, messages = _read(path)
    assert [f.index for f in frames] == list(range(100))
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in range(100)])
    held = [f.index for f in frames if f.damage == "held"]
    assert len(held) >= 4 and "the file's data for them is missing" in messages[-1]
    assert not any("variable frame rate" in m for m in messages)
