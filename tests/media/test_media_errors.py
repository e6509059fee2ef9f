"""Bad inputs get a MediaError naming the file/frame; failed writes leave nothing behind."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from media_samples import FRAMES, matte, picture

from guangying.base import atomic
from guangying.media import MediaError, open_reader, open_writer, video_writer
from guangying.media.opencv import cv2


def _noise_clip(path: Path, count: int = FRAMES) -> None:
    # Noise compresses badly, so the frame data (not the index) makes up most of the file.
    rng = np.random.default_rng(1)
    with open_writer(path, fps=25) as writer:
        for _ in range(count):
            writer.write(rng.random((48, 64, 3), dtype=np.float32))


def test_missing_video_names_the_file(tmp_path):
    with pytest.raises(MediaError, match=r"not found: .*nothere\.mp4"):
        open_reader(tmp_path / "nothere.mp4")


def test_missing_picture_names_the_file(tmp_path):
    with pytest.raises(MediaError, match=r"not found: .*nothere\.png"):
        open_reader(tmp_path / "nothere.png")


def test_picture_declaring_billions_of_pixels_is_refused_clearly(tmp_path):
    # A damaged header (or a giant scan): OpenCV's own assertion reached the user as "a bug in Guangying"
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * (60000 * 3 + 1) * 4)
    path = tmp_path / "scan.png"
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    with pytest.raises(MediaError, match=r"scan\.png is 60000×60000 \(3600 megapixels; .* Scale it down"):
        open_reader(path)


def test_missing_sequence_names_pattern_and_folder(tmp_path):
    with pytest.raises(MediaError) as caught:
        open_reader(tmp_path / "shot.%04d.exr")
    assert "shot.%04d.exr" in str(caught.value) and str(tmp_path) in str(caught.value)
    with pytest.raises(MediaError, match="does not exist"):
        open_reader(tmp_path / "nofolder" / "shot.####.png")
    # five-digit files under a four-digit pattern: said only "expected files like plate.0001.png"
    for n in (1001, 1002, 1003):
        cv2.imwrite(str(tmp_path / f"plate.{n:05d}.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(MediaError) as caught:
        open_reader(tmp_path / "plate.####.png")
    said = str(caught.value)
    assert "plate.01001–01003.png (5-digit numbers)" in said, said
    assert str(tmp_path / "plate.#####.png") in said, said
    with open_reader(tmp_path / "plate.#####.png") as reader:  # the pattern it names reads them
        assert reader.info.first_frame == 1001


def test_corrupt_video_names_the_file(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match=r"corrupt\.mp4.*damaged"):
        open_reader(path)


def test_truncated_mp4_names_the_last_good_frame(tmp_path):
    path = tmp_path / "cut.mp4"
    _noise_clip(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with open_reader(path) as reader:
        assert reader.info.frame_count == FRAMES  # the index still promises all frames
        seen = []
        with pytest.raises(MediaError) as caught:
            for frame in reader:
                seen.append(frame.index)
    message = str(caught.value)
    assert "cut.mp4" in message and "truncated" in message
    assert f"last good frame is {seen[-1]}" in message
    assert f"runs to frame {FRAMES - 1}" in message and f"end at frame {seen[-1]}" in message
    assert 0 < len(seen) < FRAMES
    # a range's end (a batch worker's) is no length of the file, and was told as one
    with open_reader(path, end=FRAMES - 2) as reader, pytest.raises(MediaError) as caught:
        for _frame in reader:
            pass
    assert f"frames up to {FRAMES - 2} were to be read (the file says it runs to {FRAMES - 1})" in str(
        caught.value)
    # a range wholly past the damage (a batch's later range) was told to "end at frame 0"
    with open_reader(path, start=FRAMES - 2) as reader, pytest.raises(MediaError) as caught:
        for _frame in reader:
            pass
    assert str(caught.value).endswith(f"re-copy or re-export it, or end before frame {FRAMES - 2}")
    # and "no frame decoded", said of the range, read as the whole file's
    assert f"ends early: no frame decoded from frame {FRAMES - 2} on, but" in str(caught.value)


def _mkv_with_sound(path: Path, picture_s: float, sound_s: float) -> None:
    """H.264 pictures at 24 fps and a 48 kHz tone of its own length, interleaved as a camera writes."""
    import av

    rng = np.random.default_rng(2)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("pcm_s16le", rate=48000)
        sound.layout = "mono"
        pictures, blocks = round(picture_s * 24), round(sound_s * 24)
        for k in range(max(pictures, blocks)):
            if k < pictures:
                rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
                out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            if k < blocks:
                tone = (3000 * np.sin(np.arange(2000) * 0.05)).astype(np.int16)[None]
                block = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
                block.sample_rate, block.pts = 48000, k * 2000
                out.mux(sound.encode(block))
        out.mux(video.encode())
        out.mux(sound.encode())


def test_a_cut_short_mkv_is_said_and_one_with_longer_sound_is_not(tmp_path):
    """Matroska gives no frame count, only a duration: a file cut in half (an interrupted copy) read
    the frames up to the cut and said nothing, so a shot rendered half long without a word."""
    whole, cut, longer = tmp_path / "whole.mkv", tmp_path / "cut.mkv", tmp_path / "longer_sound.mkv"
    _mkv_with_sound(whole, 2.0, 2.0)
    _mkv_with_sound(longer, 2.0, 3.5)  # the sound runs on after the pictures: a whole file
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for path, frames in ((whole, 48), (longer, 48)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with open_reader(path) as reader:
                assert sum(1 for _ in reader) == frames
    with pytest.warns(UserWarning, match=r"cut\.mkv ends early: its header says it runs 2\.0\d s, but its "
                      r"data stops at 1\.\d+ s .*truncated.*what is there was used"):
        with open_reader(cut) as reader:
            assert 0 < sum(1 for _ in reader) < 48


def test_mp4_without_its_index_is_reported_as_damaged(tmp_path):
    # The same cut with the index at the end (what a crashed recorder leaves) cannot even be opened.
    path = tmp_path / "noindex.mp4"
    _noise_clip(path)
    data = path.read_bytes()
    moov, mdat = data.find(b"moov") - 4, data.find(b"mdat") - 4
    assert 0 < moov < mdat  # our MP4s put the index first (faststart)
    # Keep ftyp + mdat only, as if the writer had died before writing the index.
    path.write_bytes(data[:moov] + data[mdat:])
    with pytest.raises(MediaError, match=r"noindex\.mp4.*incomplete"):
        open_reader(path)


def test_mp4_whose_index_claims_a_frame_of_half_a_gigabyte_is_reported_as_damaged(tmp_path):
    # One sample size in the index damaged (its high byte: 537 MB): ffmpeg refuses the allocation with
    # ENOMEM, which PyAV raises as MemoryError; the first look at the clip's timing let it through.
    path = tmp_path / "bigsample.mp4"
    _noise_clip(path, count=5)
    data = bytearray(path.read_bytes())
    sizes = data.find(b"stsz") + 16  # after the version/flags, the common size and the count
    data[sizes + 3 * 4] = 0x20  # the fourth frame's size
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"bigsample\.mp4.*damaged or incomplete"):
        with open_reader(path) as reader:
            for _ in reader:
                pass


def test_corrupt_frame_in_a_sequence_is_held_and_named(tmp_path):
    # The behaviour in detail (video, ranges, refusals) is in test_damaged_sources.py.
    for number in range(1, 5):
        cv2.imwrite(str(tmp_path / f"s.{number:04d}.png"), np.full((8, 8, 3), 40 * number, np.uint8))
    (tmp_path / "s.0003.png").write_bytes(b"not a png at all")
    with open_reader(tmp_path / "s.%04d.png") as reader, pytest.warns(UserWarning) as caught:
        frames = list(reader)
    assert [f.index for f in frames] == [1, 2, 3, 4]
    assert frames[2].damage == "held" and np.array_equal(frames[2].rgb, frames[1].rgb)
    message = str(caught[0].message)
    assert "(3; cannot decode" in message and "s.0003.png" in message


def test_gap_in_sequence_names_the_missing_frame(tmp_path):
    for number in (1, 2, 3, 5, 6):
        cv2.imwrite(str(tmp_path / f"g.{number:04d}.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(MediaError, match=r"frame 4 .*g\.0004\.png.* missing"):
        open_reader(tmp_path / "g.####.png")
    with open_reader(tmp_path / "g.####.png", start=5) as reader:  # a complete run is fine
        assert [f.index for f in reader] == [5, 6]


def test_range_outside_the_clip_is_refused(tmp_path):
    path = tmp_path / "short.mp4"
    _noise_clip(path, 4)
    with pytest.raises(MediaError, match="end frame 9 is outside"):
        open_reader(path, start=0, end=9)
    with pytest.raises(MediaError, match="before start"):
        open_reader(path, start=3, end=1)


@pytest.mark.parametrize(
    ("rgb", "alpha", "match"),
    [
        (np.zeros((48, 64, 4), np.float32), None, r"shape \(H, W, 3\)"),
        (np.zeros((48, 64, 3), np.uint8), None, "float32"),
        (np.zeros((40, 64, 3), np.float32), None, "64×40 but the output is 64×48"),
        (np.zeros((48, 64, 3), np.float32), np.zeros((48, 64), np.float32), "content='rgb'"),
    ],
)
def test_writer_refuses_wrong_shape_or_dtype(tmp_path, rgb, alpha, match):
    target = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match=match):
        with open_writer(target, width=64, height=48) as writer:
            writer.write(rgb, alpha=alpha)
    assert os.listdir(tmp_path) == []


def _astronaut_srgb(size: int = 64) -> np.ndarray:
    from skimage import data

    return cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


@pytest.mark.parametrize(
    ("target", "content", "scale_rgb", "alpha", "match"),
    [
        ("out.mp4", "rgb", 1.0, None, r"rgb reaches 25\d, but writers take colour in 0–1"),
        ("out.%04d.exr", "rgb", 1.0, None, r"rgb reaches 25\d"),
        ("m.%04d.png", "matte", None, np.full((64, 64), 255.0, np.float32), r"alpha runs 255–255"),
        ("o.mov", "rgba", 1 / 255, np.full((64, 64), np.nan, np.float32), "alpha has NaN"),
    ],
    ids=["0-255-mp4", "0-255-exr", "8-bit-matte", "nan-alpha"],
)
def test_writer_refuses_code_values_passed_as_floats(tmp_path, target, content, scale_rgb, alpha, match):
    # cv2.imread(...).astype(np.float32) wrote a white picture, and a 0–255 matte an opaque one, exit 0
    rgb = None if scale_rgb is None else _astronaut_srgb() * scale_rgb
    with pytest.raises(MediaError, match=match):
        with open_writer(tmp_path / target, content=content) as writer:
            writer.write(rgb, alpha=alpha)
    assert os.listdir(tmp_path) == []


def test_writer_takes_bright_highlights_and_slight_overshoots(tmp_path):
    # an HDR set behind a composite (sRGB-coded far past 1 in a sky), and a resampled matte's ringing
    rgb = _astronaut_srgb() / 255
    rgb[:20] = 6.0
    alpha = np.clip(rgb[..., 0], 0, 1) * 1.04 - 0.02
    with open_writer(tmp_path / "c.%04d.exr", content="rgba") as writer:
        writer.write(rgb, alpha=alpha)
        writer.write(rgb * 300, alpha=alpha, transfer="linear")  # linear light may be anything
    with open_writer(tmp_path / "c.mp4") as writer:
        writer.write(rgb)


def test_h264_with_alpha_suggests_alternatives(tmp_path):
    with pytest.raises(MediaError, match=r"cannot carry alpha.*\.mov.*sequence"):
        open_writer(tmp_path / "fg.mp4", content="rgba")


def test_exception_inside_the_with_block_leaves_no_output(tmp_path):
    for target in ("a.mp4", "b.mov", "c.%04d.png", "d.####.exr"):
        with pytest.raises(RuntimeError, match="boom"):
            with open_writer(tmp_path / target, content="rgb") as writer:
                for i in range(5):
                    writer.write(picture(i))
                raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_write_never_replaces_a_finished_output(tmp_path):
    target = tmp_path / "final.mp4"
    _noise_clip(target, 3)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with open_writer(target) as writer:
            writer.write(picture(0))
            raise RuntimeError("render crashed")
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["final.mp4"]


def test_writer_with_no_frames_saves_nothing(tmp_path):
    with pytest.raises(MediaError, match="no frames were written"):
        with open_writer(tmp_path / "empty.mov"):
            pass
    assert os.listdir(tmp_path) == []


def _wait_for(path: Path) -> None:
    for _ in range(500):
        # a sequence's frames land in its hidden staging folder until the writer closes
        if path.exists() or list(path.parent.glob(f".*.staging-*/{path.name}")):
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


class _FullDisk:
    """A file object whose write fails like a full disk."""

    def __init__(self, path, mode):
        self._handle = open(path, mode)  # closed in __exit__

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_on_a_sequence_removes_everything(tmp_path, monkeypatch):
    target = tmp_path / "s.%04d.png"
    with pytest.raises(MediaError) as caught:
        with open_writer(target, first_frame=1) as writer:
            writer.write(picture(0))
            _wait_for(tmp_path / "s.0001.png")  # this frame is finished before the disk fills
            monkeypatch.setattr(atomic, "open", _FullDisk, raising=False)
            for i in range(1, FRAMES):
                writer.write(picture(i))
    assert "disk is full" in str(caught.value) and "s.000" in str(caught.value)
    # named where the frames go: the hidden staging folder it named is gone once the run fails
    assert ".staging-" not in str(caught.value) and f"Free space in {tmp_path} " in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_disk_full_on_a_video_removes_the_temp_file(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_put = video_writer.VideoWriter._put

    def put_until_full(writer, packets):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_put(writer, packets)

    monkeypatch.setattr(video_writer.VideoWriter, "_put", put_until_full)
    with pytest.raises(MediaError, match=r"disk is full while writing .*clip\.mov"):
        with open_writer(tmp_path / "clip.mov") as writer:
            for i in range(FRAMES):
                writer.write(picture(i))
    assert os.listdir(tmp_path) == []
    # a recording that places frames at their times (a live take) names the frame too, not its
    # timestamp in 1/90000 s ("at frame 129600" for the fourth frame of a take)
    calls["n"] = 0
    with pytest.raises(MediaError, match=r"\(at frame 3\)"):
        with open_writer(tmp_path / "take.mov", source_timing=True) as writer:
            for i in range(FRAMES):
                writer.write(picture(i), time_s=1.44 * i)


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB tmpfs, where the machine allows mounting one (root on Linux)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); the monkeypatched tests cover disk-full")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.parametrize("target", ["noise.mkv", "noise.%04d.png", "noise.%04d.exr", "noise.%04d.dpx"])
def test_really_full_disk_leaves_nothing(tiny_disk, target):
    """EXR and DPX are written by libraries that report a failure as a message: it said "failed to
    write pixel data … No space left on device", not that the disk is full and what to do."""
    rng = np.random.default_rng(2)
    with pytest.raises(MediaError, match="disk is full"):
        with open_writer(tiny_disk / target, content="rgba", first_frame=1) as writer:
            for _ in range(40):  # ~25 KB of incompressible 16-bit noise per frame
                writer.write(rng.random((48, 64, 3), dtype=np.float32), alpha=matte())
    assert os.listdir(tiny_disk) == []


def test_a_librarys_write_failure_keeps_its_errno():
    from guangying.base.atomic import describe_os_error, library_os_error

    full = library_os_error('Failed to write pixel data to image file "x.exr". No space left on device.')
    assert full.errno == errno.ENOSPC and "disk is full" in describe_os_error(full, Path("x.exr"))
    assert library_os_error("DPX write failed (Permission denied)").errno == errno.EACCES
    assert library_os_error("bad header").errno is None


def test_a_webm_whose_alpha_is_dropped_says_so_and_how_to_keep_it(tmp_path):
    """A keyed WebM (VP9 with alpha, as browsers and After Effects export) read opaque without a word."""
    webm = tmp_path / "keyed.webm"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=s=64x48:r=24:d=0.25,format=yuva420p,geq=lum='lum(X,Y)':a='X*4'", "-c:v",
                    "libvpx-vp9", "-pix_fmt", "yuva420p", str(webm)], check=True)  # fmt: skip
    with pytest.warns(UserWarning, match=r"keyed\.webm carries an alpha channel .* read opaque.*prores_ks"):
        with open_reader(webm) as reader:
            assert reader.info.has_alpha is False
    converted = tmp_path / "keyed.mov"  # the conversion the warning gives keeps it
    prores = ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"]
    vp9 = ["-c:v", "libvpx-vp9", "-i", str(webm)]
    subprocess.run(["ffmpeg", "-loglevel", "error", *vp9, *prores, str(converted)], check=True)
    with open_reader(converted) as reader:
        alpha = next(iter(reader)).alpha
    assert alpha is not None and alpha[:, 4].mean() < 0.2 < 0.8 < alpha[:, 60].mean()


@pytest.mark.parametrize("name", ["nope.mp4", "nope.png", "nope.%04d.exr"])
def test_a_missing_source_is_also_a_file_not_found_error(tmp_path, name):
    # docs/python.md: errors are also the matching built-in; a pipeline catching OSError missed these
    from guangying.base.errors import GuangyingError

    with pytest.raises(FileNotFoundError) as info:
        open_reader(tmp_path / name)
    assert isinstance(info.value, GuangyingError) and "nope" in str(info.value)


def test_a_file_size_limit_says_what_to_do_and_leaves_the_earlier_output(tmp_path):
    # a FAT32 card's 4 GiB, or `ulimit -f`: "[Errno 27] File too large: '.comp.partial-…'" was all
    import resource
    import sys

    source = tmp_path / "noise.mp4"
    _noise_clip(source, 12)
    earlier = tmp_path / "comp.mp4"
    earlier.write_bytes(b"an earlier render")

    def limit() -> None:  # 16 KiB a file; Python ignores SIGXFSZ, so the write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))

    script = ("import sys; from guangying.cli.main import cli; "
              "sys.exit(cli.main(sys.argv[1:], standalone_mode=True))")
    frames = tmp_path / "noise.%04d.png"
    with open_reader(source) as reader, open_writer(frames) as writer:  # 192×144 noise
        for frame in reader:
            writer.write(np.repeat(np.repeat(frame.rgb, 3, axis=0), 3, axis=1))
    run = subprocess.run([sys.executable, "-c", script, "composite", str(frames), "--background", "#000000",
                          "-o", str(earlier), "--quiet"], preexec_fn=limit, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "grew larger than its file system or a limit" in run.stderr and "bug" not in run.stderr
    assert earlier.read_bytes() == b"an earlier render"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], list(tmp_path.iterdir())


def test_a_folder_in_a_sequence_is_named_as_one(tmp_path):
    # it was "file not found", with the folder there under that name
    with open_writer(tmp_path / "s.%04d.png") as writer:
        for _ in range(3):
            writer.write(np.full((8, 8, 3), 0.5, np.float32))
    (tmp_path / "s.0001.png").unlink()
    (tmp_path / "s.0001.png").mkdir()
    with pytest.raises(MediaError, match=r"s\.0001\.png is a folder, not a picture"):
        with open_reader(tmp_path / "s.%04d.png") as reader:
            list(reader)


def test_a_read_only_disk_is_said_as_one(tmp_path):
    """On a read-only disk (a locked card, a read-only mount) the writer said "no permission to write in
    folder …", sending the user to fix permissions that were not the cause."""
    mount_point = tmp_path / "card"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(mount_point)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        with pytest.raises(MediaError, match=r"the disk holding .*card is read-only"):
            open_writer(mount_point / "a.mov")
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_sequence_render_that_fills_the_disk_keeps_its_finished_frames(tiny_disk, tmp_path):
    """A long sequence render that filled its disk at frame 4000 lost every frame, where a stop keeps
    them: now the finished frames stay (each a whole file), and freeing space then rendering from the
    frame it names mends the sequence to what one render writes."""
    from guangying.keyer import ChromaKeyer
    from guangying.pipeline.job import JobOutputs, run_job

    rng = np.random.default_rng(5)
    source = tmp_path / "noise.%04d.png"
    for n in range(1, 13):  # incompressible: each composite frame takes about 18 KB (16-bit PNG)
        cv2.imwrite(str(source).replace("%04d", f"{n:04d}"), rng.integers(0, 256, (48, 64, 3), np.uint8))
    whole = tmp_path / "whole.%04d.png"
    run_job(source, ChromaKeyer(), JobOutputs(composite=whole), background="black", show_progress=False)
    ballast = tiny_disk / "ballast.bin"
    ballast.write_bytes(rng.bytes(150 * 1024))
    target = tiny_disk / "c.%04d.png"
    with (pytest.raises(MediaError, match="disk is full") as failed,
          warnings.catch_warnings(record=True) as said):
        warnings.simplefilter("always")
        run_job(source, ChromaKeyer(), JobOutputs(composite=target), background="black", show_progress=False,
                keep_stopped_sequences=True)
    hint = next(str(w.message) for w in said if "finished frame(s)" in str(w.message))
    kept = int(re.search(r"the (\d+) finished frame\(s\)", hint).group(1))
    assert 2 <= kept < 12, hint
    assert hint.startswith(f"the disk filled: the {kept} finished frame(s) are kept in {target}; once space "
                           f"is free, --start {kept + 1} with the same outputs renders the rest"), hint
    # the error agrees with it: it said "nothing was saved there … then run again"
    assert "that frame was not saved" in str(failed.value) and "nothing was saved" not in str(failed.value)
    assert str(failed.value).endswith(f"then run again with --start {kept + 1}"), failed.value
    assert {p.name for p in tiny_disk.glob("c.*")} >= {f"c.{n:04d}.png" for n in range(1, kept + 1)}
    assert not [p.name for p in tiny_disk.iterdir() if p.name.startswith(".")], failed.value
    ballast.unlink()
    run_job(source, ChromaKeyer(), JobOutputs(composite=target), background="black", show_progress=False,
            start=kept + 1)
    for n in range(1, 13):
        name = f"{n:04d}.png"
        assert (tiny_disk / f"c.{name}").read_bytes() == (tmp_path / f"whole.{name}").read_bytes(), n


def test_exr_with_opencv_exr_codec_switched_off_says_so(tmp_path):
    """A user who keeps OpenCV's EXR codec off (OPENCV_IO_ENABLE_OPENEXR=0, read once at cv2's import)
    was told their good EXR was damaged."""
    import sys

    with open_writer(tmp_path / "p.%04d.exr") as writer:
        writer.write(np.full((8, 8, 3), 0.5, np.float32), transfer="linear")
    script = ("import guangying as gy\n"
              f"with gy.open_reader({str(tmp_path / 'p.%04d.exr')!r}) as r:\n"
              "    next(iter(r))\n")
    env = {**os.environ, "OPENCV_IO_ENABLE_OPENEXR": "0"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "OPENCV_IO_ENABLE_OPENEXR is '0'" in run.stderr and "damaged" not in run.stderr, run.stderr[-800:]
