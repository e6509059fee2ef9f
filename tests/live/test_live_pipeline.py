"""The live path against the batch path and under load: same pixels as `guangying composite`, and a
deliberately slow engine drops the oldest frames instead of building up latency."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from live_helpers import H, W, processed_frames

from guangying.base.errors import SettingsError
from guangying.base.mattes import MatteResult
from guangying.cli.main import cli, load_config
from guangying.keyer import ChromaKeyer
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.capture import DropOldestQueue
from guangying.media import open_reader


def test_drop_oldest_queue_never_blocks_and_counts():
    q: DropOldestQueue[int] = DropOldestQueue(2)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3 and len(q) == 2
    assert [q.get(0.01), q.get(0.01), q.get(0.01)] == [3, 4, None]


def _frames(path: Path) -> list[np.ndarray]:
    with open_reader(path) as reader:
        return [f.rgb for f in reader]


def test_live_composite_matches_batch_composite(plate_clip, tmp_path):
    # A look as the page saves it (garbage polygon, picked screen colour, light wrap) …
    settings = LiveSettings(
        {
            "matte": "chroma",
            "background": "#305070",
            "screen_gain": 1.1,
            "clip_black": 0.12,
            "despill_method": "average",
            "light_wrap_width_px": 4.0,
            "garbage_mask": "0,0;40,0;40,60;0,60",
            # a core mask over clear screen: live dropped it without a word, post kept the screen
            "core_mask": "284,4;316,4;316,30;284,30",
            "despill_mask": "60,0;320,0;320,192;60,192",
            "screen_colour": [0.2, 0.62, 0.3],
        },
        320,
        192,
    )
    look = tmp_path / "look.yaml"
    look.write_text(settings.to_yaml())
    assert load_config(look)["garbage_mask"] == "0,0;40,0;40,60;0,60"
    assert load_config(look)["despill_mask"] == "60,0;320,0;320,192;60,192"
    live_out, batch_out = tmp_path / "live.mkv", tmp_path / "batch.mkv"
    # … drives the live take (file played in real time, lossless recording) and the batch render.
    res = CliRunner().invoke(
        cli,
        ["--config", str(look), "live", str(plate_clip), "--no-monitor", "--queue-frames", "8",
         "--record", str(live_out)],
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--config", str(look), "composite", str(plate_clip), "-o", str(batch_out),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "live.frames.jsonl").read_text().splitlines()]
    live_frames, batch_frames = processed_frames(live_out, rows), _frames(batch_out)
    # A busy machine may drop frames (counted, by design); the frames that were shown must match.
    assert len(rows) >= 10, res.output
    assert rows[0]["frame"] == 0 and all(r["settings_version"] == 1 for r in rows), rows[:3]
    diffs = [np.abs(live - batch_frames[row["frame"]]) for row, live in zip(rows, live_frames, strict=True)]
    assert max(float(d.max()) for d in diffs) < 2e-3  # FFV1 16-bit both ways: only rounding differs
    # The look really was applied: the garbage polygon corner shows the flat background, the core
    # polygon's corner not
    assert np.allclose(live_frames[5][5:50, 5:30], np.array([0x30, 0x50, 0x70]) / 255, atol=2e-3)
    assert not np.allclose(live_frames[5][8:26, 288:312], np.array([0x30, 0x50, 0x70]) / 255, atol=0.05)


def test_a_log_background_is_decoded_live_as_in_post(plate_clip, tmp_path):
    """`live` had no --background-log, and a look's `background_log:` was taken without a word: the
    monitor showed an S-Log3 plate flat (18 % grey at sRGB 104 of 255, post 118)."""
    grey_codes = round(420 / 1023 * 255)  # S-Log3's 18 % grey, as an 8-bit picture's code
    cv2.imwrite(str(tmp_path / "log.png"), np.full((192, 320, 3), grey_codes, np.uint8))
    look = tmp_path / "look.yaml"
    look.write_text(f"background: {tmp_path / 'log.png'}\nbackground_log: slog3-sgamut3cine\n"
                    "garbage_mask: '0,0;60,0;60,60;0,60'\n")
    live_out, post_out = tmp_path / "live.mkv", tmp_path / "post.mkv"
    res = CliRunner().invoke(cli, ["--config", str(look), "live", str(plate_clip), "--no-monitor",
                                   "--queue-frames", "8", "--record", str(live_out)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--config", str(look), "composite", str(plate_clip), "-o", str(post_out),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    live, post = _frames(live_out)[0][5:50, 5:50], _frames(post_out)[0][5:50, 5:50]
    assert np.abs(live - post).max() < 2e-3
    assert np.allclose(live, 0.4614, atol=0.01)  # sRGB of linear 0.18 (as a display plate: 0.41)


def test_a_4_4_4_camera_is_keyed_live_as_its_plate_is_keyed_in_post(tmp_path):
    """A 4:4:4 source whose first picture looks like stored 4:2:0 colour to the refinement's check: a
    render is told the clip's chroma and leaves the refinement off; the live take was not, and its
    matte differed from `guangying key`'s of the same clip by up to 23/255 at the soft edges."""
    import av

    from guangying.base.colour import linear_to_srgb, srgb_to_linear
    from guangying.keyer.refine import refinement_kind

    w, h = 320, 180
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    subject = srgb_to_linear(np.array([0.80, 0.55, 0.45], np.float32))
    screen = srgb_to_linear(np.array([0.20, 0.60, 0.28], np.float32) * (1 - 0.05 * xx / w)[..., None])
    clip = tmp_path / "cam444.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = w, h, "yuv444p", {"qp": "0"}
        for i in range(12):
            alpha = np.clip((45 - np.hypot(xx - 110 - 3 * i, yy - 90)) / 6 + 0.5, 0, 1)[..., None]
            picture = linear_to_srgb(subject * alpha + screen * (1 - alpha))
            if i == 0:  # what makes the case: read alone, it passes for 4:2:0
                assert refinement_kind(np.round(picture * 255) / 255) == "stored"
            frame = av.VideoFrame.from_ndarray(np.round(picture * 255).astype(np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    live_matte, post_matte = tmp_path / "live.mkv", tmp_path / "post.%04d.png"
    res = CliRunner().invoke(cli, ["live", str(clip), "--screen", "green", "--no-monitor", "--queue-frames",
                                   "8", "--record-matte", str(live_matte)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["key", str(clip), "--screen", "green", "--alpha", str(post_matte),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "live.frames.jsonl").read_text().splitlines()]
    live, post = processed_frames(live_matte, rows), _frames(post_matte)
    assert len(rows) >= 6
    worst = max(float(np.abs(m - post[row["frame"]]).max()) for row, m in zip(rows, live, strict=True))
    assert worst < 2e-3, worst


def test_a_saved_look_names_its_files_so_that_it_works_from_any_folder(tmp_path, monkeypatch):
    # The take ran in the set's folder with the background and mask named relative to it; the look
    # saved there failed with "file not found" when rendered from the editor's folder.
    take_folder, edit_folder = tmp_path.resolve() / "set", tmp_path.resolve() / "edit"
    take_folder.mkdir()
    edit_folder.mkdir()
    cv2.imwrite(str(take_folder / "set.png"), np.full((48, 64, 3), 90, np.uint8))
    cv2.imwrite(str(take_folder / "mask.png"), np.full((48, 64), 255, np.uint8))
    monkeypatch.chdir(take_folder)
    look_text = LiveSettings({"background": "set.png", "garbage_mask": "mask.png",
                              "despill_mask": "0,0;10,0;10,10"}, 64, 48).to_yaml()
    monkeypatch.chdir(edit_folder)
    (edit_folder / "look.yaml").write_text(look_text)
    look = load_config(edit_folder / "look.yaml")
    assert look["background"] == str(take_folder / "set.png")
    assert look["garbage_mask"] == str(take_folder / "mask.png")
    assert look["despill_mask"] == "0,0;10,0;10,10"  # a polygon stays a polygon
    LiveSettings(look, 64, 48)  # opens from here


def test_a_saved_look_carries_the_takes_lens(plate_clip, tmp_path):
    # the monitor showed the set through the lens's depth of field (--focal-length, --f-number); the look
    # saved there had none of it, and `composite --config look` rendered the set sharp
    from guangying.live.launch import take_lens_from_options

    checks = (np.indices((192, 320)).sum(axis=0) % 16 < 8).astype(np.uint8) * 255  # a set that shows blur
    cv2.imwrite(str(tmp_path / "set.png"), checks)
    lens = {"focal_length_mm": 85.0, "f_number": 1.4, "sensor": "s35", "subject_distance_m": 2.0,
            "background_distance_m": float("inf")}
    look = tmp_path / "look.yaml"
    look.write_text(LiveSettings({"background": str(tmp_path / "set.png")}, 320, 192,
                                 take_lens_from_options(lens)).to_yaml())
    assert "background_distance_m" not in load_config(look)  # infinity is the default, left out
    outputs = {name: tmp_path / f"{name}.%04d.png" for name in ("saved", "flags", "sharp")}
    flags = ["--focal-length", "85", "--f-number", "1.4", "--sensor", "s35", "--subject-distance", "2"]
    for name, args in (("saved", ["--config", str(look), "composite"]), ("flags", ["composite", *flags]),
                       ("sharp", ["composite"])):
        extra = ["--background", str(tmp_path / "set.png")] if name != "saved" else []
        res = CliRunner().invoke(cli, [*args, str(plate_clip), *extra, "--end", "2", "-o", str(outputs[name]),
                                       "--quiet"])
        assert res.exit_code == 0, res.output
    saved, with_flags, sharp = (_frames(outputs[name]) for name in ("saved", "flags", "sharp"))
    assert all(np.array_equal(a, b) for a, b in zip(saved, with_flags, strict=True))
    assert max(float(np.abs(a - b).max()) for a, b in zip(saved, sharp, strict=True)) > 0.2


class SlowMatter:
    """The chroma keyer made deliberately slow (an engine far below the source frame rate)."""

    def __init__(self, inner: ChromaKeyer, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        time.sleep(self.seconds)
        return self.inner.process(rgb, background_rgb)

    def reset(self) -> None:
        self.inner.reset()


def test_slow_matter_drops_oldest_frames_and_latency_does_not_grow(plate_clip):
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    session = LiveSession(
        source, settings, matter_factory=lambda values, keyer: SlowMatter(ChromaKeyer(keyer), 0.1)
    )
    duration_s = 3.0
    report = session.run(duration_s=duration_s)
    # 25 fps for 3 s is 75 frames: the capture kept its pace whatever the engine did (loosely, so a
    # loaded machine's scheduling does not decide the test).
    assert report.frames_in >= 40
    assert report.frames_out <= 0.6 * report.frames_in
    # every frame taken is counted out or dropped (the 1–2 waiting at the end were neither)
    assert report.dropped == report.frames_in - report.frames_out
    lat = np.asarray(session.stats_.latencies_ms())
    # Measured against this run's own pace, not a wall-clock budget: a queue that kept every frame
    # would end the take (frames_in − frames_out) engine periods behind.
    engine_period_ms = 1000.0 * duration_s / report.frames_out
    unbounded_end_ms = (report.frames_in - report.frames_out) * engine_period_ms
    third = len(lat) // 3
    assert lat[-third:].mean() < 0.15 * unbounded_end_ms  # bounded by the 2-frame queue
    assert lat[-third:].mean() < lat[:third].mean() + 0.1 * unbounded_end_ms  # not growing over the take


def test_settings_refuse_bad_values_and_keep_the_look():
    settings = LiveSettings({"clip_black": 0.1}, 64, 48)
    with pytest.raises(ValueError, match="clip_black"):
        settings.update({"clip_black": 0.95, "clip_white": 0.9})
    with pytest.raises(ValueError, match="unknown setting"):
        settings.update({"port": 1})
    with pytest.raises(ValueError, match="three"):
        settings.update({"garbage_mask": "1,2;3,4"})
    assert settings.snapshot() == (1, {"clip_black": 0.1})


def test_take_that_drops_frames_records_the_whole_plate_and_keeps_time(plate_clip, tmp_path):
    """An engine at a third of the camera's rate: the plate recording still holds every frame the
    camera delivered, in order, and the composite and matte place each processed frame in the slot of
    its time in the take, holding it over the dropped ones, so every file lasts as long as the take and
    stays on its timecode. Before, all three held
    only the processed frames, numbered one by one: the plate lost two frames in three and the
    recordings played three times fast."""
    from guangying.live.recorder import Recorder
    from guangying.live.session import SessionOutputs

    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    paths = {name: tmp_path / f"{name}.mkv" for name in ("comp", "plate", "matte")}  # FFV1: lossless
    recorder = Recorder(source.fps, composite=paths["comp"], plate=paths["plate"], matte=paths["matte"])
    outputs = SessionOutputs(recorder=recorder, settings_path=tmp_path / "look.yaml")
    session = LiveSession(source, settings, outputs,
                          matter_factory=lambda values, keyer: SlowMatter(ChromaKeyer(keyer), 0.1))
    report = session.run(duration_s=3.0)
    assert report.frames_out <= 0.6 * report.frames_in  # the engine dropped frames …
    with open_reader(paths["plate"]) as reader:
        plate = [(f.time_s, f.rgb) for f in reader]
    assert len(plate) == report.frames_in  # … and the plate kept every one
    clip = _frames(plate_clip)
    for n, (time_s, rgb) in enumerate(plate):  # the clip looped: frame n is the clip's n mod 40
        assert time_s == pytest.approx(n / 25, abs=1e-3)
        np.testing.assert_allclose(rgb, clip[n % len(clip)], atol=0.5 / 255)
    rows = [json.loads(line) for line in (tmp_path / "comp.frames.jsonl").read_text().splitlines()]
    assert len(rows) == report.frames_out
    slots = [row["frame"] - rows[0]["frame"] for row in rows]  # each frame's place in the take
    for name in ("comp", "matte"):
        with open_reader(paths[name]) as reader:
            frames = [(f.time_s, f.rgb) for f in reader]
        # constant-rate (an editor counts frames), a dropped frame a hold: at their own times alone, a
        # take that dropped 46 frames of 75 was 29 frames long to a frame count, off its sound
        assert len(frames) >= slots[-1] + 1  # the last processed frame held over the take's dropped end
        assert rows[0]["frame"] + len(frames) == len(plate)  # as long as the take (was 1–9 frames short)
        np.testing.assert_allclose([t for t, _ in frames], np.arange(len(frames)) / 25, atol=1e-3)
        for slot, following in zip(slots, [*slots[1:], len(frames)], strict=True):
            for held in range(slot + 1, following):
                np.testing.assert_array_equal(frames[held][1], frames[slot][1])


def test_the_takes_end_counts_its_late_pictures(plate_clip):
    """A played clip's pictures decoded after their slot (a busy machine) go to the plate only, counted
    as dropped: the take's end, to which its recordings hold their last frame, is theirs too (the
    recording ended 11 frames short of the clip and its plate)."""
    source = LiveSource(str(plate_clip), loop=False)
    picture = np.zeros((source.height, source.width, 3), np.float32)
    for index, late in ((0, False), (1, False), (2, True), (3, True)):
        source._deliver(index, picture, "00:00:00:00", late=late)
    assert source.last_take_time_s == pytest.approx(3 / float(source.fps))
    assert source.dropped == 2


@pytest.mark.parametrize(("dtype", "stored"), [(np.uint8, "bgr0"), (np.uint16, "gbrp16le"),
                                               ("8-bit clip", "bgr0"), ("10-bit clip", "gbrp16le")])
def test_ffv1_plate_keeps_the_cameras_codes_at_its_bit_depth(tmp_path, dtype, stored):
    """An encoded .mkv plate of an 8-bit camera is 8-bit FFV1, its codes exact: stored in 16 bits it
    took twice the disk (about 100 GB an hour at 1080p) and three times the encoding, and fell behind
    the camera on a 2-core laptop. A deeper camera keeps 16 bits. A clip played as the camera hands
    over float pictures: 8-bit codes in them are kept as 8-bit (a black letterbox on top, all codes
    whatever the depth, does not decide it)."""
    from fractions import Fraction

    from guangying.live.capture import CapturedFrame
    from guangying.live.recorder import Recorder

    rng = np.random.default_rng(3)
    kind = {"8-bit clip": np.uint8, "10-bit clip": np.uint16}.get(dtype, dtype)
    top = 1023 if dtype == "10-bit clip" else np.iinfo(kind).max
    codes = [rng.integers(0, top + 1, (48, 64, 3)).astype(kind) for _ in range(3)]
    for rgb in codes:
        rgb[:8] = 0  # a letterbox
    plate = tmp_path / "plate.mkv"
    recorder = Recorder(Fraction(25), plate=plate)
    assert recorder.plate_tap is not None
    for n, rgb in enumerate(codes):
        picture = rgb if dtype in (np.uint8, np.uint16) else (rgb / np.float32(top)).astype(np.float32)
        recorder.plate_tap(CapturedFrame(n, picture, float(n), float(n), None, n / 25))
    recorder.close()
    with av.open(str(plate)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == stored
    with open_reader(plate) as reader:
        for frame, rgb in zip(reader, codes, strict=True):
            np.testing.assert_array_equal(np.round(frame.rgb * top), rgb)  # exact either way


def test_recordings_of_an_anamorphic_camera_keep_its_pixel_aspect(tmp_path):
    from fractions import Fraction

    from guangying.live.frames import FrameMeta, LiveFrame
    from guangying.live.recorder import Recorder

    recorder = Recorder(Fraction(25), composite=tmp_path / "comp.mov", matte=tmp_path / "matte.mp4",
                        pixel_aspect=Fraction(2))
    for n in range(3):
        meta = FrameMeta(n, None, 0.0, 1.0, "chroma", 1)
        alpha, composite = np.full((48, 64), 0.5, np.float32), np.full((48, 64, 3), 0.5, np.float32)
        recorder.write(LiveFrame(alpha, composite, meta))
    recorder.close()
    for name in ("comp.mov", "matte.mp4"):
        with open_reader(tmp_path / name) as reader:
            assert reader.info.pixel_aspect == 2, name


def test_out_stream_of_a_take_that_drops_frames_keeps_real_time(plate_clip):
    """``--out`` with an engine at a third of the camera's rate: the stream places each processed
    frame at its time in the take, so a receiver (OBS, vMix, VLC) plays it in real time. Numbered one
    by one, three seconds of take went out as one second of stream, and the receiver fell behind."""
    import socket
    import threading

    import av

    from guangying.live.session import SessionOutputs
    from guangying.live.streams import StreamOutput

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    received: list[float] = []

    def receive() -> None:
        with av.open(f"udp://127.0.0.1:{port}", timeout=(20.0, 2.0)) as stream_in:
            try:
                received.extend(float(frame.time) for frame in stream_in.decode(video=0))
            except av.error.ExitError:
                pass  # the sender stopped: the read timed out

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    time.sleep(0.3)
    source = LiveSource(str(plate_clip), loop=True, queue_frames=2)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    out = StreamOutput(f"udp://127.0.0.1:{port}", source.fps, source.width, source.height)
    session = LiveSession(source, settings, SessionOutputs(sinks=[out]),
                          matter_factory=lambda values, keyer: SlowMatter(ChromaKeyer(keyer), 0.1))
    report = session.run(duration_s=3.0)
    out.close()
    receiver.join(timeout=30)
    assert report.frames_out <= 0.6 * report.frames_in  # the engine dropped frames
    assert len(received) >= 0.5 * report.frames_out, (len(received), report)
    steps = np.diff(received) * 25
    np.testing.assert_allclose(steps, np.round(steps), atol=0.05)  # on the camera's frame grid …
    assert steps.mean() > 1.5  # … with the dropped frames' time kept
    # the take's length, not its processed frames' at 25 fps
    assert received[-1] - received[0] > 0.6 * report.frames_in / 25


def test_the_sidecar_of_a_recorded_sequence_is_named_as_the_take(tmp_path):
    """``--record-plate take.####.dpx``: the sidecar is ``take.frames.jsonl`` (it was
    ``take.####.frames.jsonl``). The processed frames are recorded as a video only: a sequence of them
    closed up the frames the take dropped."""
    from fractions import Fraction

    from guangying.live.recorder import Recorder

    for recording in ("take.####.dpx", "take_%04d.png", "take.mov"):
        recorder = Recorder(Fraction(25), plate=tmp_path / recording)
        try:
            assert recorder.sidecar == tmp_path / "take.frames.jsonl", recording
        finally:
            recorder.abort()
        if recording != "take.mov":
            with pytest.raises(SettingsError, match="a live recording is a video"):
                Recorder(Fraction(25), composite=tmp_path / recording)


@pytest.mark.parametrize(("flags", "said"), [
    (["--record", "a.mp4", "--sidecar", "a.mp4"], "a per-frame log is written as .jsonl or .csv"),
    (["--record", "a.mp4", "--record-plate", "a.mp4"], "two outputs of this run go to the same place"),
])
def test_recordings_on_top_of_each_other_are_refused(plate_clip, tmp_path, monkeypatch, flags, said):
    # --sidecar naming the --record file wrote the log over the composite, exit 0; the same file for two
    # recordings was said to be "written by another run" (this one)
    monkeypatch.chdir(tmp_path)
    before = plate_clip.read_bytes()
    result = CliRunner().invoke(cli, ["live", str(plate_clip), "--no-monitor", "--duration", "1", *flags])
    assert result.exit_code == 1 and said in result.output, result.output
    assert plate_clip.read_bytes() == before
    assert not (tmp_path / "a.mp4").exists()


@pytest.mark.parametrize("name", ["take.frames.jsonl", "take.frames.csv"])
def test_the_sidecar_reaches_the_disk_as_the_take_runs(tmp_path, name):
    """Kept in memory until the take ended: an all-day take held hundreds of MB of rows, and a take
    killed hard lost its whole log. The rows go to a hidden partial file as they come, renamed at the
    end; an aborted take leaves none."""
    from fractions import Fraction

    from guangying.live.frames import FrameMeta, LiveFrame
    from guangying.live.recorder import Recorder

    def take(recorder: Recorder, frames: int) -> None:
        for n in range(frames):
            meta = FrameMeta(n, f"10:00:00:{n:02d}", 0.0, 1.0, "chroma", 1, take_time_s=n / 25)
            recorder.write(LiveFrame(np.zeros((48, 64), np.float32), np.zeros((48, 64, 3), np.float32), meta))

    recorder = Recorder(Fraction(25), composite=tmp_path / "take.mkv", sidecar=tmp_path / name)
    take(recorder, 30)
    partial = [p for p in tmp_path.iterdir() if ".partial-" in p.name and "frames" in p.name]
    assert len(partial) == 1 and partial[0].read_text().count("10:00:00:") >= 25  # flushed mid-take
    recorder.close()
    text = (tmp_path / name).read_text()
    assert text.count("10:00:00:") == 30 and "camera_pan_deg" not in text  # no set: no camera columns
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    aborted = Recorder(Fraction(25), composite=tmp_path / "b.mkv", sidecar=tmp_path / f"b.{name}")
    take(aborted, 5)
    aborted.abort()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".b", "b."))]


@pytest.mark.parametrize("ext", [".mkv", ".mov", ".mp4"])
def test_the_recordings_hold_their_last_frame_to_the_takes_end(tmp_path, ext):
    """The take's last frames were dropped (a played clip's late pictures, a queue let go at the end):
    the composite and matte ended at the last processed frame, up to 9 frames before the take and its
    plate, against the promise that every file lasts as long as the take."""
    from fractions import Fraction

    from guangying.live.frames import FrameMeta, LiveFrame
    from guangying.live.recorder import Recorder

    recorder = Recorder(Fraction(25), composite=tmp_path / f"take{ext}", matte=tmp_path / f"matte{ext}")
    for n in (0, 1, 2, 5):  # 3 and 4 dropped, held; so are 6–9 after it
        meta = FrameMeta(n, None, 0.0, 1.0, "chroma", 1, take_time_s=n / 25)
        grey = np.full((48, 64, 3), n / 10, np.float32)
        recorder.write(LiveFrame(np.full((48, 64), n / 10, np.float32), grey, meta))
    recorder.close(end_time_s=9 / 25)
    for name in ("take", "matte"):
        with open_reader(tmp_path / f"{name}{ext}") as reader:
            frames = [(f.time_s, float(f.rgb.mean())) for f in reader]
        assert [round(t * 25) for t, _ in frames] == list(range(10))
        assert [round(v * 10) for _, v in frames] == [0, 1, 2, 2, 2, 5, 5, 5, 5, 5], frames


def test_a_takes_sound_over_an_outage_is_silence_said_of_the_recording(tmp_path):
    """The sender's sound stopped for a second (an outage): the take's sound track jumped in time over
    it, so an export that reads it sample after sample put what followed a second early. It is
    silence now, said of the take (not of the hidden side file the sound was kept in)."""
    from fractions import Fraction

    import av

    from guangying.live.frames import FrameMeta, LiveFrame
    from guangying.live.recorder import Recorder

    rate = 48_000
    with av.open(str(tmp_path / "sender.mka"), "w") as out:
        stream = out.add_stream("aac", rate=rate, layout="stereo")
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
        block = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        block.sample_rate, block.pts = rate, 0
        for packet in [*stream.encode(block), *stream.encode(None)]:
            out.mux(packet)
    with av.open(str(tmp_path / "sender.mka")) as sender:
        sound = sender.streams.audio[0]
        recorder = Recorder(Fraction(25), composite=tmp_path / "take.mp4", sound=sound)
        for packet in sender.demux(sound):
            if packet.pts is not None and not 1.0 <= float(packet.pts * packet.time_base) < 2.0:  # the outage
                recorder.sound_listener(packet, float(packet.pts * packet.time_base))
        picture = np.full((48, 64, 3), 0.5, np.float32)
        for n in range(75):
            meta = FrameMeta(n, None, 0.0, 1.0, "chroma", 1, take_time_s=n / 25)
            recorder.write(LiveFrame(np.ones((48, 64), np.float32), picture, meta))
        with pytest.warns(UserWarning, match=r"the sound of .*take\.mp4 has 1 gap\(s\) without sound"):
            recorder.close()
    with av.open(str(tmp_path / "take.mp4")) as take:
        samples = sum(frame.samples for frame in take.decode(audio=0))
    assert samples >= 2.9 * rate  # a second short when the outage was a jump in time


def test_a_clean_plate_keys_live_as_in_post(plate_clip, tmp_path):
    """`live` had no --clean-plate, and a look's `clean_plate:` was taken without a word: the take
    keyed the uneven screen from its own pixels while post keyed it against the plate."""
    from guangying.base.colour import linear_to_srgb
    from guangying.evaluation.clips import GREEN_SCREEN_SRGB, screen_plate_linear

    empty = linear_to_srgb(screen_plate_linear(W, H, GREEN_SCREEN_SRGB, seed=11))
    plate = tmp_path / "empty.png"
    bgr16 = cv2.cvtColor((np.clip(empty, 0, 1) * 65535 + 0.5).astype(np.uint16), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(plate), bgr16)
    look = tmp_path / "look.yaml"
    look.write_text("background: '#305070'\nauto_plate: false\n")
    live_out = tmp_path / "live.mkv"
    take = ["live", str(plate_clip), "--no-monitor", "--queue-frames", "8", "--record", str(live_out)]
    res = CliRunner().invoke(cli, ["--config", str(look), *take, "--clean-plate", str(plate)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "live.frames.jsonl").read_text().splitlines()]
    live_frames = processed_frames(live_out, rows)
    renders = {}
    for name, extra in (("post", ["--clean-plate", str(plate)]), ("without", [])):
        out = tmp_path / f"{name}.mkv"
        res = CliRunner().invoke(cli, ["--config", str(look), "composite", str(plate_clip), "-o", str(out),
                                       "--quiet", *extra])
        assert res.exit_code == 0, res.output
        renders[name] = _frames(out)
    live_vs = {name: max(float(np.abs(live - frames[row["frame"]]).max())
                         for row, live in zip(rows, live_frames, strict=True))
               for name, frames in renders.items()}
    assert live_vs["post"] < 2e-3, live_vs
    assert live_vs["without"] > 0.02, live_vs  # the plate changed the key: it was applied
    # the saved look names the plate, for `composite --config`; a missing plate is said before the take
    (tmp_path / "saved.yaml").write_text(LiveSettings({"clean_plate": str(plate)}, W, H).to_yaml())
    saved = load_config(tmp_path / "saved.yaml")
    assert saved["clean_plate"] == str(plate.resolve())
    res = CliRunner().invoke(cli, [*take, "--clean-plate", str(tmp_path / "gone.png")])
    assert res.exit_code != 0 and "gone.png" in res.output and "Traceback" not in res.output, res.output
