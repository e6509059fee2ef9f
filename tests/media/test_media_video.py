"""Video round trips through real encoders/decoders: H.264 MP4, ProRes 4444 MOV, FFV1 MKV."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest
from media_samples import FRAMES, HEIGHT, WIDTH, blue_index, matte, picture, write_with_pyav

from guangying.media import MediaError, open_reader, open_writer


def _write_clip(path, content="rgb", fps=Fraction(25), **options):
    alpha = matte()
    with open_writer(path, fps=fps, width=WIDTH, height=HEIGHT, content=content, **options) as writer:
        for i in range(FRAMES):
            writer.write(picture(i), alpha=alpha if content == "rgba" else None)


def test_h264_mp4_round_trip_keeps_colour_fps_and_count(tmp_path):
    path = tmp_path / "review.mp4"
    _write_clip(path)
    with open_reader(path) as reader:
        info = reader.info
        frames = list(reader)
    assert (info.kind, info.width, info.height, info.frame_count) == ("video", WIDTH, HEIGHT, FRAMES)
    assert info.fps == 25
    assert info.bit_depth == 8 and not info.has_alpha
    assert [f.index for f in frames] == list(range(FRAMES))
    for i, frame in enumerate(frames):
        assert frame.rgb.dtype == np.float32 and frame.rgb.shape == (HEIGHT, WIDTH, 3)
        assert frame.transfer == "srgb" and frame.alpha is None
        assert frame.time_s == pytest.approx(i / 25)
        # A BT.601/709 mix-up or a range error would shift these by several percent.
        error = np.abs(frame.rgb - picture(i))
        assert error.mean() < 0.01, (i, error.mean())
        assert np.percentile(error, 99) < 0.04


def test_video_streams_are_tagged_bt709_tv_range(tmp_path):
    path = tmp_path / "tags.mp4"
    _write_clip(path)
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        assert (int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace)) == (1, 1, 1)
        assert int(ctx.color_range) == 1  # MPEG / tv
        assert ctx.name == "h264" and ctx.pix_fmt == "yuv420p"


def test_prores_4444_keeps_alpha(tmp_path):
    path = tmp_path / "fg.mov"
    _write_clip(path, content="rgba")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert stream.codec_context.profile == "4444"
    with open_reader(path) as reader:
        assert reader.info.has_alpha and reader.info.bit_depth > 8
        frames = list(reader)
    assert len(frames) == FRAMES
    for i, frame in enumerate(frames):
        assert frame.alpha is not None
        assert np.abs(frame.alpha - matte()).max() < 2e-3
        assert np.abs(frame.rgb - picture(i)).max() < 0.01


def test_prores_422_hq_for_a_camera_original(tmp_path):
    """A plate recorded live is ProRes 422 HQ (apch), as on-set recorders write: 10-bit, no alpha."""
    path = tmp_path / "plate.mov"
    _write_clip(path, profile="422hq")
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.name, ctx.profile, ctx.codec_tag, ctx.pix_fmt) == ("prores", "HQ", "apch", "yuv422p10le")
    with open_reader(path) as reader:
        assert reader.info.bit_depth == 10 and not reader.info.has_alpha
        frames = list(reader)
    assert len(frames) == FRAMES
    assert np.abs(frames[2].rgb - picture(2)).mean() < 0.005
    with pytest.raises(MediaError, match="422 HQ has no alpha"):
        _write_clip(tmp_path / "fg.mov", content="rgba", profile="422hq")
    with pytest.raises(MediaError, match="profile must be '4444' or '422hq'"):
        _write_clip(tmp_path / "x.mov", profile="lt")


def test_ffv1_mkv_is_lossless_16_bit(tmp_path):
    path = tmp_path / "master.mkv"
    _write_clip(path, content="rgba")
    with open_reader(path) as reader:
        frames = list(reader)
    assert len(frames) == FRAMES
    assert np.abs(frames[3].rgb - picture(3)).max() < 1e-4
    assert np.abs(frames[3].alpha - matte()).max() < 1e-4


@pytest.mark.parametrize("content", ["rgb", "rgba", "matte"])
def test_ffv1_mkv_at_8_bit_keeps_8_bit_codes_exactly(tmp_path, content):
    """``bit_depth=8``: an 8-bit camera's codes, lossless, in FFV1's 8-bit RGB (what a live plate of an
    8-bit camera is written as; 16-bit stored each code twice over, at twice the size)."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)  # noise: no smooth ramp to hide in
    alpha_codes = rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    path = tmp_path / "plate.mkv"
    with open_writer(path, content=content, bit_depth=8) as writer:
        writer.write(None if content == "matte" else codes / np.float32(255),
                     alpha=None if content == "rgb" else alpha_codes / np.float32(255))
    with av.open(str(path)) as container:
        stored = container.streams.video[0].codec_context.pix_fmt
    assert stored == {"rgb": "bgr0", "rgba": "bgra", "matte": "gray"}[content]
    with open_reader(path) as reader:
        frame = next(iter(reader))
    if content != "matte":
        np.testing.assert_array_equal(np.round(frame.rgb * 255), codes)
    if content != "rgb":
        got = frame.alpha if content == "rgba" else frame.rgb[..., 0]
        np.testing.assert_array_equal(np.round(got * 255), alpha_codes)


def test_bit_depth_of_a_video_is_checked(tmp_path):
    with pytest.raises(MediaError, match="bit_depth must be 8 or 16, got 10"):
        _write_clip(tmp_path / "a.mkv", bit_depth=10)
    with pytest.raises(MediaError, match=r"bit_depth is an option of \.mkv \(FFV1\)"):
        _write_clip(tmp_path / "a.mp4", bit_depth=8)
    _write_clip(tmp_path / "b.mkv", bit_depth="16")
    with av.open(str(tmp_path / "b.mkv")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "gbrp16le"


def test_10_bit_source_read_at_more_than_8_bit_precision(tmp_path):
    # A grey ramp with 3072 steps: an 8-bit path could give at most 256 distinct levels.
    ramp = np.linspace(0.0, 1.0, HEIGHT * WIDTH, dtype=np.float64).reshape(HEIGHT, WIDTH)
    rgb48 = np.repeat((ramp * 65535).round().astype(np.uint16)[..., None], 3, axis=2)
    path = tmp_path / "ten_bit.mov"
    write_with_pyav(path, "prores_ks", "yuv422p10le", [rgb48] * 3)
    with open_reader(path) as reader:
        assert reader.info.bit_depth >= 10
        frame = next(iter(reader))
    levels = np.unique(frame.rgb[..., 1])
    assert len(levels) > 256, len(levels)
    assert np.abs(frame.rgb[..., 1] - ramp).mean() < 2e-3


def test_fps_kept_for_ntsc_rate(tmp_path):
    path = tmp_path / "ntsc.mp4"
    _write_clip(path, fps=Fraction(30000, 1001))
    with open_reader(path) as reader:
        assert reader.info.fps == Fraction(30000, 1001)
        assert reader.info.frame_count == FRAMES


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_timecode_kept_and_counted_per_frame(tmp_path, ext):
    path = tmp_path / f"tc{ext}"
    _write_clip(path, timecode="01:02:03:20")
    with open_reader(path) as reader:
        assert reader.info.timecode == "01:02:03:20"
        codes = [f.timecode for f in reader]
    assert codes[0] == "01:02:03:20"
    assert codes[4] == "01:02:03:24"
    assert codes[5] == "01:02:04:00"  # 25 fps: frame 25 rolls over to the next second


def test_start_end_range_on_video(tmp_path):
    path = tmp_path / "range.mp4"
    _write_clip(path)
    with open_reader(path, start=3, end=6) as reader:
        assert reader.info.frame_count == 4 and reader.info.first_frame == 3
        frames = list(reader)
    assert [f.index for f in frames] == [3, 4, 5, 6]
    assert [blue_index(f.rgb) for f in frames] == [3, 4, 5, 6]


def test_start_seeks_past_keyframes_and_lands_on_the_right_frame(tmp_path):
    # Short GOPs with B-frames: the reader seeks to a keyframe before the start and decodes forward.
    count = 30
    rgb48 = [(picture(i % FRAMES) * 65535).astype(np.uint16) for i in range(count)]
    for i, frame in enumerate(rgb48):
        frame[:4, :4] = i * 2000  # a corner block that encodes the absolute frame number
    path = tmp_path / "gop.mp4"
    write_with_pyav(path, "libx264", "yuv420p", rgb48, options={"g": "5", "bf": "2", "crf": "10"})
    with open_reader(path, start=17, end=21) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == [17, 18, 19, 20, 21]
    for frame in frames:
        corner = float(frame.rgb[1:3, 1:3, 1].mean()) * 65535 / 2000
        assert round(corner) == frame.index


def test_matte_only_video_is_a_grey_picture(tmp_path):
    path = tmp_path / "matte.mp4"
    with open_writer(path, fps=25, content="matte") as writer:
        for _ in range(3):
            writer.write(None, alpha=matte())
    with open_reader(path) as reader:
        frame = next(iter(reader))
    assert np.abs(frame.rgb - matte()[..., None]).mean() < 0.01
    assert np.abs(frame.rgb[..., 0] - frame.rgb[..., 2]).max() < 0.02  # grey, no colour cast


def test_breaking_out_early_stops_the_decode_thread(tmp_path):
    import threading

    path = tmp_path / "early.mp4"
    _write_clip(path)
    before = threading.active_count()
    with open_reader(path) as reader:
        for frame in reader:
            if frame.index == 1:
                break
    assert threading.active_count() == before


def test_mxf_with_mpeg2_is_read_with_its_timecode(tmp_path):
    path = tmp_path / "camera.mxf"
    with av.open(str(path), "w") as container:
        container.metadata["timecode"] = "14:30:00:00"
        stream = container.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv422p"
        stream.options = {"b": "4M"}
        for i in range(FRAMES):
            rgb = (picture(i) * 255).round().astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv422p", dst_colorspace="ITU601", dst_color_range="MPEG"
            )
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with open_reader(path, start=2) as reader:
        assert reader.info.frame_count == FRAMES - 2 and reader.info.timecode == "14:30:00:00"
        frames = list(reader)
    assert [blue_index(f.rgb) for f in frames] == list(range(2, FRAMES))
    assert frames[0].timecode == "14:30:00:02"


def test_start_falls_back_to_counting_when_timestamps_are_unusable(tmp_path, monkeypatch):
    from guangying.media import video_reader

    path = tmp_path / "no_pts.mp4"
    _write_clip(path)
    monkeypatch.setattr(video_reader.VideoReader, "_index_of", lambda self, frame: None)
    with open_reader(path, start=4, end=6) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == [4, 5, 6]
    assert [blue_index(f.rgb) for f in frames] == [4, 5, 6]


def _lossless_greys(path, luma_codes: list[int], full_range: bool) -> None:
    """A lossless 10-bit 4:2:2 H.264 clip of grey bars at the given luma codes (chroma at zero)."""
    width = 16 * len(luma_codes)
    frame = av.VideoFrame(width, 16, "yuv422p10le")
    levels = [np.repeat(np.array(luma_codes, np.uint16), 16), np.full(width // 2, 512, np.uint16)]
    for plane, row in zip(frame.planes, [levels[0], levels[1], levels[1]], strict=True):
        padded = np.zeros((16, plane.line_size // 2), np.uint16)
        padded[:, : row.size] = row
        plane.update(padded.tobytes())
    frame.color_range = 2 if full_range else 1
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, 16, "yuv422p10le"
        stream.options = {"qp": "0"}
        stream.codec_context.color_range = 2 if full_range else 1
        container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.mark.parametrize("full_range", [False, True], ids=["limited", "full"])
def test_10_bit_white_reads_one_and_black_zero(tmp_path, full_range):
    # swscale's 16-bit RGB of 10-bit video is 255/256 of full scale: white (code 940) read 0.996, and
    # every 10-bit clip 0.4 % dark (S-Log3's grey 1.5 % low after its curve).
    codes = [0, 512, 1023] if full_range else [64, 502, 940]
    _lossless_greys(tmp_path / "greys.mp4", codes, full_range)
    with open_reader(tmp_path / "greys.mp4") as reader:
        rgb = next(iter(reader)).rgb
    expected = [c / 1023 for c in codes] if full_range else [(c - 64) / 876 for c in codes]
    got = [rgb[8, 16 * k + 8] for k in range(3)]
    np.testing.assert_allclose(got, np.repeat(np.array(expected)[:, None], 3, axis=1), atol=2e-5)


def test_prores_white_and_opaque_alpha_are_full_scale_both_ways(tmp_path):
    # Written: white as code 940 (it was 943, which Resolve and Nuke read as 1.003); read: white and an
    # opaque alpha as exactly 1 (they read 0.996 and 0.9998).
    rgb = np.zeros((16, 48, 3), np.float32)
    rgb[:, :16], rgb[:, 16:32] = 1.0, 0.5
    alpha = np.ones((16, 48), np.float32)
    with open_writer(tmp_path / "fg.mov", fps=25, content="rgba") as writer:
        writer.write(rgb, alpha=alpha, transfer="srgb")
    with av.open(str(tmp_path / "fg.mov")) as container:
        decoded = next(container.decode(video=0))
    bits = 12 if "12" in decoded.format.name else 10
    luma = np.frombuffer(bytes(decoded.planes[0]), np.uint16).reshape(16, -1)
    assert (luma[8, 8], luma[8, 40]) == (235 << (bits - 8), 16 << (bits - 8))  # white, black
    assert abs(int(luma[8, 24]) - (64 + 438) * (1 << (bits - 10))) <= 1 << (bits - 10)  # 50 %
    with open_reader(tmp_path / "fg.mov") as reader:
        frame = next(iter(reader))
    assert frame.alpha is not None and frame.alpha.min() == 1.0
    np.testing.assert_allclose(frame.rgb[8, [8, 24, 40]], [[1.0] * 3, [0.5] * 3, [0.0] * 3], atol=1e-3)
    assert frame.rgb[8, 8].min() == 1.0


_KR_KB = {"bt709": (0.2126, 0.0722), "smpte170m": (0.299, 0.114)}


def _ycbcr_to_rgb(y, cb, cr, matrix: str, full_range: bool) -> np.ndarray:
    """Rec. 601/709 decoding of 8-bit codes written out from the standards' formulas (not swscale's)."""
    kr, kb = _KR_KB[matrix]
    y_n = y / 255 if full_range else (y - 16) / 219
    cb_n, cr_n = (cb - 128) / (255 if full_range else 224), (cr - 128) / (255 if full_range else 224)
    r = y_n + 2 * (1 - kr) * cr_n
    b = y_n + 2 * (1 - kb) * cb_n
    g = (y_n - kr * r - kb * b) / (1 - kr - kb)
    return np.stack([r, g, b], axis=-1)


@pytest.mark.parametrize(("pix_fmt", "matrix", "full_range"), [
    ("yuv420p", "bt709", False), ("yuv420p", "smpte170m", False), ("yuv422p", "bt709", False),
    ("yuv444p", "bt709", False), ("yuvj420p", "bt709", True), ("nv12", "bt709", False),
])
def test_8_bit_colours_decode_without_bias(tmp_path, pix_fmt, matrix, full_range):
    # swscale's fast 8-bit YUV → RGB path truncates: colours read about 1/255 dark on average (up to
    # 2.6/255; greys exact), a shift every 8-bit clip carried into its composite and a generation loss
    # on every re-read. Lossless H.264 of flat 16×16 patches of random codes, read back at their centres.
    rng = np.random.default_rng(7)
    n = 48
    lo, hi = (0, 255) if full_range else (16, 235)
    y = rng.integers(lo + 20, hi - 20, n)
    cb, cr = rng.integers(lo + 30, hi - 30, (2, n))
    yuv444 = np.zeros((3, 16, 16 * n), np.uint8)
    for plane, codes in zip(yuv444, (y, cb, cr), strict=True):
        plane[:] = np.repeat(codes, 16)[None, :]
    frame = av.VideoFrame(16 * n, 16, "yuvj444p" if full_range else "yuv444p")
    for plane, codes in zip(frame.planes, yuv444, strict=True):
        padded = np.zeros((plane.height, plane.line_size), np.uint8)
        padded[:, : codes.shape[1]] = codes
        plane.update(padded.tobytes())
    path = tmp_path / "patches.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = 16 * n, 16
        stream.pix_fmt = "yuv420p" if pix_fmt == "nv12" else pix_fmt
        stream.options = {"qp": "0"}
        stream.codec_context.colorspace = 1 if matrix == "bt709" else 6
        stream.codec_context.color_range = 2 if full_range else 1
        container.mux(stream.encode(frame.reformat(format=stream.pix_fmt)))
        container.mux(stream.encode())
    expected = _ycbcr_to_rgb(y.astype(np.float64), cb, cr, matrix, full_range)
    inside = (expected.min(axis=1) > 1 / 255) & (expected.max(axis=1) < 254 / 255)  # not clipped
    if pix_fmt == "nv12":  # a camera's or hardware decoder's layout: the same codes, chroma interleaved
        with av.open(str(path)) as container:
            decoded = next(container.decode(video=0)).reformat(format="nv12")
        from guangying.media.video_reader import rgb_conversion, to_rgb_codes

        got = to_rgb_codes(decoded, rgb_conversion(decoded))[8, 8::16] / 255
    else:
        with open_reader(path) as reader:
            got = next(iter(reader)).rgb[8, 8::16].astype(np.float64)
    error = (got - expected)[inside] * 255
    assert inside.sum() > 20
    assert abs(error.mean()) < 0.15, f"mean {error.mean():+.2f}/255"
    assert np.abs(error).max() < 0.75, f"max {np.abs(error).max():.2f}/255"


@pytest.mark.parametrize("ext", [".mov", ".mkv", ".mp4"])
def test_held_gaps_make_a_constant_rate_file_that_repeats_the_frame_before(tmp_path, ext):
    # A live recording: frames at their times in the take, those the take dropped held. Placed at their
    # own times, the file was variable-rate, and an editor counting frames read it short and off its sound.
    times_s = [0.0, 0.04, 0.2, 0.24, 0.25, 0.5]  # slots 0, 1, 5, 6, 7 (one too early: the next), 12
    path = tmp_path / f"take{ext}"
    with open_writer(path, fps=25, width=WIDTH, height=HEIGHT, hold_gaps=True) as writer:
        for i, time_s in enumerate(times_s):
            writer.write(picture(i), time_s=100.0 + time_s)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pictures = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(stream)]
    assert len(pictures) == 13
    np.testing.assert_allclose([t for t, _ in pictures], np.arange(13) / 25, atol=1e-6)
    shown = [0, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 5]  # which frame each slot shows
    for slot, (_, rgb) in enumerate(pictures):
        errors = [np.abs(rgb / 255 - picture(i)).mean() for i in range(len(times_s))]
        assert int(np.argmin(errors)) == shown[slot], (slot, errors)
        if slot and shown[slot] == shown[slot - 1]:  # a hold: the very frame again (H.264 encodes it again)
            held = np.abs(rgb.astype(int) - pictures[slot - 1][1]).max()
            assert held <= (8 if ext == ".mp4" else 0), (slot, held)


@pytest.mark.parametrize("ext", [".mov", ".mkv"])
def test_premultiplied_colour_in_a_video_is_said(tmp_path, ext):
    """Nothing in a ProRes or FFV1 file says its colour is premultiplied, and editors read video alpha as
    straight: a premultiplied foreground showed dark edges in Resolve, without a word here."""
    with pytest.warns(UserWarning, match="read ProRes and FFV1 alpha as straight"):
        _write_clip(tmp_path / f"pre{ext}", content="rgba", premultiplied=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write_clip(tmp_path / f"straight{ext}", content="rgba")


def test_a_closed_reader_is_not_read_again(tmp_path):
    """As a closed file refuses to be read: iterating a reader after close() decoded the whole clip again,
    without a word (a use-after-close bug in a pipeline went unnoticed). An open reader may be iterated
    again, each time from the start."""
    _write_clip(tmp_path / "clip.mp4")
    reader = open_reader(tmp_path / "clip.mp4")
    assert len(list(reader)) == len(list(reader)) == FRAMES
    reader.close()
    with pytest.raises(MediaError, match=r"clip\.mp4 is closed: open it again"):
        list(reader)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to compare one against many")
def test_an_mp4_is_the_same_bytes_whatever_cpus_the_process_may_use(tmp_path):
    # x264's threads followed the cores the process could use: the same job gave other bytes on another
    # machine, under taskset or in another batch worker
    rng = np.random.default_rng(1)
    frames = [np.clip(rng.random((144, 256, 3), np.float32) * 0.3 + n / 60, 0, 1) for n in range(30)]

    def encoded(name: str) -> bytes:
        with open_writer(tmp_path / name, fps=Fraction(25), content="rgb") as writer:
            for frame in frames:
                writer.write(frame)
        return (tmp_path / name).read_bytes()

    every = os.sched_getaffinity(0)
    many = encoded("many.mp4")
    os.sched_setaffinity(0, {min(every)})
    try:
        one = encoded("one.mp4")
    finally:
        os.sched_setaffinity(0, every)
    assert one == many
