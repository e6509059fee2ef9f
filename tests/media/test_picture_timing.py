"""Timecode and frame rate from EXR and DPX headers, in and out: a 25 fps scan or render read at 24
played 4 % slow, and outputs without the plate's timecode cannot be conformed back into the edit."""

from __future__ import annotations

import struct
import subprocess
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenEXR
import pytest

import guangying as gy
from guangying.base.timecode import timecode_at
from guangying.media.picture_timing import picture_timing


def _exr_plate(folder: Path, first: int, count: int, timecode: tuple[int, int, int, int] | None,
               fps: Fraction | None) -> str:
    """A green-screen EXR sequence as Nuke or a DI system writes it, through OpenEXR itself."""
    for n in range(first, first + count):
        planes = {c: np.full((36, 64), v, np.float16) for c, v in zip("RGB", (0.03, 0.4, 0.05), strict=True)}
        planes["R"][10:26, 20:44] = 0.5
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        if timecode is not None:
            code = OpenEXR.TimeCode()
            code.hours, code.minutes, code.seconds = timecode[:3]
            code.frame = timecode[3] + n - first
            header["timeCode"] = code
        if fps is not None:
            header["framesPerSecond"] = fps
        OpenEXR.File(header, planes).write(str(folder / f"plate.{n:04d}.exr"))
    return str(folder / "plate.####.exr")


def _dpx_with_headers(path: Path, timecode_bcd: int, tv_rate: float, film_rate: float = float("nan")) -> None:
    """A DPX with SMPTE 268M's film and television headers, as scanners and Resolve write it: ffmpeg's
    own DPX (which has neither) with the headers put in before its pixels."""
    ffmpeg_dpx = path.with_suffix(".ffmpeg.dpx")
    with av.open(str(ffmpeg_dpx), "w", format="image2") as container:
        stream = container.add_stream("dpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "rgb48le"
        frame = av.VideoFrame.from_ndarray(np.full((36, 64, 3), 30000, np.uint16), format="rgb48le")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    data = ffmpeg_dpx.read_bytes()
    ffmpeg_dpx.unlink()
    order = ">" if data[:4] == b"SDPX" else "<"
    (pixels_at,) = struct.unpack_from(order + "I", data, 4)
    head = bytearray(data[:pixels_at]) + b"\xff" * (2048 - pixels_at)  # 0xFF…: undefined fields
    struct.pack_into(order + "I", head, 4, 2048)  # offset to the image data
    struct.pack_into(order + "I", head, 16, 2048 + len(data) - pixels_at)  # file size
    struct.pack_into(order + "I", head, 28, 384)  # industry (film + television) header size
    struct.pack_into(order + "I", head, 808, 2048)  # the image element's offset to its data
    struct.pack_into(order + "f", head, 1724, film_rate)
    struct.pack_into(order + "I", head, 1920, timecode_bcd)
    struct.pack_into(order + "f", head, 1940, tv_rate)
    path.write_bytes(bytes(head) + data[pixels_at:])


def test_an_exr_sequence_runs_at_its_header_rate_with_its_timecode(tmp_path):
    pattern = _exr_plate(tmp_path, 1001, 4, (1, 0, 0, 0), Fraction(25))
    with gy.open_reader(pattern) as reader:
        frames = list(reader)
        assert reader.info.fps == 25
    assert [f.timecode for f in frames] == ["01:00:00:00", "01:00:00:01", "01:00:00:02", "01:00:00:03"]
    assert frames[1].time_s == pytest.approx(1 / 25)
    with gy.open_reader(pattern, fps=24) as reader:  # asked for wins
        assert reader.info.fps == 24
    (tmp_path / "plain").mkdir()
    plain = _exr_plate(tmp_path / "plain", 1, 2, None, None)
    with gy.open_reader(plain) as reader:  # nothing in the header: film's rate, no timecode
        assert reader.info.fps == 24 and reader.info.timecode is None
        assert next(iter(reader)).timecode is None


@pytest.mark.parametrize(
    ("bcd", "tv_rate", "film_rate", "timecode", "fps"),
    [
        (0x10203014, 25.0, float("nan"), "10:20:30:14", Fraction(25)),
        (0x01000000 | 0x40, float(np.float32(29.97)), float("nan"), "01:00:00;00", Fraction(30000, 1001)),
        (0x23595923, float("nan"), 23.976, "23:59:59:23", Fraction(24000, 1001)),  # film header's rate
        (0xFFFFFFFF, float("nan"), float("nan"), None, None),  # undefined, as the standard marks it
        (0x1A2B3C4D, 1e9, float("nan"), None, None),  # not BCD, not a rate: nothing, not a wrong guess
    ],
)
def test_dpx_television_and_film_headers(tmp_path, bcd, tv_rate, film_rate, timecode, fps):
    path = tmp_path / "scan.0100.dpx"
    _dpx_with_headers(path, bcd, tv_rate, film_rate)
    timing = picture_timing(path)
    assert (timing.timecode, timing.fps) == (timecode, fps)
    with gy.open_reader(tmp_path / "scan.####.dpx") as reader:
        frame = next(iter(reader))
        assert reader.info.fps == (fps or 24)
    assert frame.timecode == timecode
    assert frame.rgb[0, 0, 0] == pytest.approx(30000 / 65535, abs=1e-3)


def test_a_dpx_without_film_and_television_headers_has_no_timing(tmp_path):
    with av.open(str(tmp_path / "scan.%04d.dpx"), "w", format="image2") as container:
        stream = container.add_stream("dpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "rgb48le"
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((36, 64, 3), 0x1020, np.uint16),
                                                               format="rgb48le")):
            container.mux(packet)
    # ffmpeg's pixels start where the television header would be: they must not be read as one
    assert picture_timing(tmp_path / "scan.0001.dpx") == picture_timing(tmp_path / "none.png")


def test_a_composite_of_a_timed_exr_plate_carries_its_rate_and_timecode(tmp_path):
    pattern = _exr_plate(tmp_path, 1001, 3, (1, 0, 0, 0), Fraction(25))
    outputs = gy.JobOutputs(composite=tmp_path / "comp.mov", alpha=tmp_path / "matte.####.exr",
                            foreground=tmp_path / "fg.####.exr")
    gy.run_job(pattern, gy.make_matter("chroma"), outputs, background="#203040", show_progress=False)
    with av.open(str(tmp_path / "comp.mov")) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 25
        assert stream.metadata.get("timecode") == "01:00:00:00"
    for name, channels in (("matte", ["A"]), ("fg", ["A", "B", "G", "R"])):
        for n, frame_tc in ((1001, 0), (1003, 2)):
            header = OpenEXR.File(str(tmp_path / f"{name}.{n}.exr"), header_only=True).header()
            code = header["timeCode"]
            assert (code.hours, code.minutes, code.seconds, code.frame) == (1, 0, 0, frame_tc)
            assert header["framesPerSecond"] == 25
            assert sorted(c.name for c in header["channels"]) == channels


def test_a_dpx_sequence_is_ten_bit_log_with_its_timing(tmp_path):
    """DPX out, as film scans and Nuke's are: 10-bit Cineon log of the linear picture, big-endian, each
    frame's timecode and the rate in its headers (alpha too, for a foreground); read back by ffmpeg (our
    reader) and by OpenImageIO, each on its own. DPX could not be written."""
    import OpenImageIO as oiio

    pattern = _exr_plate(tmp_path, 1001, 3, (1, 0, 0, 0), Fraction(25))
    for suffix in ("dpx", "exr"):
        outputs = gy.JobOutputs(composite=tmp_path / f"comp.####.{suffix}",
                                foreground=tmp_path / f"fg.####.{suffix}")
        gy.run_job(pattern, gy.make_matter("chroma"), outputs, background="#203040", show_progress=False)
    for name in ("comp", "fg"):
        with gy.open_reader(tmp_path / f"{name}.####.dpx") as dpx, gy.open_reader(
                tmp_path / f"{name}.####.exr") as exr:
            assert dpx.info.fps == 25 and dpx.info.first_frame == 1001
            frames = list(zip(dpx, exr, strict=True))
            assert frames[0][0].timecode == "01:00:00:00"
            for log, linear in frames:
                assert log.transfer == "linear" and log.timecode == linear.timecode
                # a 10-bit log code is 0.77 % of light apart
                np.testing.assert_allclose(log.rgb, linear.rgb, rtol=0.006, atol=0.002)
                if name == "fg":
                    np.testing.assert_allclose(log.alpha, linear.alpha, atol=0.6 / 1023)
        header = (tmp_path / f"{name}.1002.dpx").read_bytes()[:136]
        assert header[:4] == b"SDPX"  # big-endian
        # the image file name of the header (SMPTE 268M, byte 36) is the file's, not its temporary one
        assert header[36:].rstrip(b"\0") == f"{name}.1002.dpx".encode()
        scan = oiio.ImageInput.open(str(tmp_path / f"{name}.1002.dpx"))
        spec = scan.spec()
        assert spec.nchannels == (4 if name == "fg" else 3)
        assert spec.getattribute("oiio:BitsPerSample") == 10
        assert spec.getattribute("dpx:Transfer") == "Printing density"
        assert spec.getattribute("dpx:TimeCode") == "01:00:00:01"
        assert spec.getattribute("dpx:FrameRate") == 25
        # Cineon's reference codes and the frame's place, undefined before for a reader that goes by them
        assert (spec.getattribute("dpx:LowData"), spec.getattribute("dpx:HighData")) == (95, 685)
        assert spec.getattribute("dpx:HighQuantity") == pytest.approx(2.048)
        assert spec.getattribute("dpx:FramePosition") == 1002
        scan.close()
    with pytest.raises(gy.MediaError, match="mattes"):
        gy.open_writer(tmp_path / "matte.%04d.dpx", content="matte")
    with pytest.raises(gy.MediaError, match="10, 12 or 16"):
        gy.open_writer(tmp_path / "eight.%04d.dpx", bit_depth=8)
    with gy.open_writer(tmp_path / "deep.%04d.dpx", bit_depth=16, pixel_aspect=2) as writer:
        writer.write(np.full((8, 8, 3), 0.18, np.float32), transfer="linear")
    deep = oiio.ImageInput.open(str(tmp_path / "deep.0000.dpx"))
    codes = (deep.spec().getattribute("dpx:LowData"), deep.spec().getattribute("dpx:HighData"))
    assert codes == (6086, 43882)  # 95 and 685 of 1023, at 16 bits
    deep.close()
    with gy.open_reader(tmp_path / "deep.####.dpx") as reader:
        assert reader.info.pixel_aspect == 2
        np.testing.assert_allclose(next(iter(reader)).rgb, 0.18, rtol=1e-3)


@pytest.mark.parametrize("transfer", ["Linear", "Printing density"])
def test_a_dpx_of_unpadded_ten_bit_samples_is_read(tmp_path, transfer):
    """10-bit DPX samples packed without padding (packing 0, as some scanners write them), which
    ffmpeg cannot decode: read through OpenImageIO, as the same picture filled (method A) is by ffmpeg.
    It was refused as damaged."""
    import OpenImageIO as oiio

    rgb = np.random.default_rng(3).random((24, 40, 3)).astype(np.float32)
    pictures = {}
    for packing in ("Packed", "Filled, method A"):
        spec = oiio.ImageSpec(40, 24, 3, oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 10)
        spec.attribute("dpx:Packing", packing)
        spec.attribute("dpx:Transfer", transfer)
        path = tmp_path / f"{packing[:6]}.dpx"
        scan = oiio.ImageOutput.create("dpx")
        assert scan.open(str(path), spec) and scan.write_image(rgb) and scan.close()
        with gy.open_reader(path) as reader:
            pictures[packing] = next(iter(reader))
    packed, filled = pictures["Packed"], pictures["Filled, method A"]
    assert packed.transfer == filled.transfer
    np.testing.assert_allclose(packed.rgb, filled.rgb, atol=1e-6)
    if transfer == "Linear":
        np.testing.assert_allclose(packed.rgb, rgb, atol=1.01 / 1023)


def test_exr_writer_stamps_each_frame(tmp_path):
    rgb = np.full((8, 8, 3), 0.5, np.float32)
    with gy.open_writer(tmp_path / "out.%04d.exr", fps="30000/1001", timecode="00:00:59;29",
                        first_frame=7) as writer:
        for _ in range(3):
            writer.write(rgb)
    codes = []
    for n in (7, 8, 9):
        header = OpenEXR.File(str(tmp_path / f"out.{n:04d}.exr"), header_only=True).header()
        code = header["timeCode"]
        codes.append((code.hours, code.minutes, code.seconds, code.frame, bool(code.dropFrame)))
        assert header["framesPerSecond"] == Fraction(30000, 1001)
    # drop-frame: 00:01:00;00 and ;01 do not exist
    assert codes == [(0, 0, 59, 29, True), (0, 1, 0, 2, True), (0, 1, 0, 3, True)]
    with gy.open_reader(tmp_path / "out.####.exr") as reader:  # and it reads back as written
        assert reader.info.fps == Fraction(30000, 1001)
        assert [f.timecode for f in reader] == ["00:00:59;29", "00:01:00;02", "00:01:00;03"]
    with pytest.raises(gy.MediaError, match="timecode"):
        gy.open_writer(tmp_path / "bad.%04d.exr", timecode="25:00")
    # 50 and 59.94 fps: SMPTE ST 12-1 frame pairs, the second of a pair marked by the field phase
    # (OpenEXR refuses a frame field over 29: every EXR of a 50 fps take with a timecode failed)
    for fps, start, expected in ((50, "10:00:00:48", ["10:00:00:48", "10:00:00:49", "10:00:01:00"]),
                                 (Fraction(60000, 1001), "00:00:59;58",
                                  ["00:00:59;58", "00:00:59;59", "00:01:00;04"])):
        with gy.open_writer(tmp_path / "high.%04d.exr", fps=fps, timecode=start) as writer:
            for _ in range(3):
                writer.write(rgb)
        second = sorted(tmp_path.glob("high.*.exr"))[1]
        code = OpenEXR.File(str(second), header_only=True).header()["timeCode"]
        assert (code.frame, bool(code.fieldPhase)) == (int(start[-2:]) // 2, True)
        with gy.open_reader(tmp_path / "high.####.exr") as reader:
            assert [f.timecode for f in reader] == expected
    # 120 fps: frame 70 of a second has no EXR timecode (30 frame pairs a second at most); the rate stays
    with gy.open_writer(tmp_path / "hfr.%04d.exr", fps=120, timecode="01:00:00:00") as writer:
        for _ in range(71):
            writer.write(rgb)
    header = OpenEXR.File(str(tmp_path / "hfr.0070.exr"), header_only=True).header()
    assert "timeCode" not in header and header["framesPerSecond"] == 120


def test_composite_takes_the_rate_of_a_sequence_that_names_none(tmp_path):
    from click.testing import CliRunner

    from guangying.cli.main import cli

    rgb = np.full((36, 64, 3), (0.1, 0.7, 0.2), np.float32)
    rgb[10:26, 20:44] = 0.6
    for n in (1, 2, 3):
        with gy.open_writer(tmp_path / f"p.{n:04d}.png") as writer:
            writer.write(rgb)
    for given, rate in ((None, Fraction(24)), ("25", Fraction(25)), ("24000/1001", Fraction(24000, 1001))):
        out = tmp_path / f"comp{rate.numerator}.mov"
        args = ["composite", str(tmp_path / "p.####.png"), "--matte", "chroma", "-b", "black", "-o", str(out)]
        result = CliRunner().invoke(cli, args + (["--fps", given] if given else []))
        assert result.exit_code == 0, result.output
        with av.open(str(out)) as container:
            assert container.streams.video[0].average_rate == rate
    result = CliRunner().invoke(cli, ["composite", str(tmp_path / "p.####.png"), "--matte", "chroma",
                                      "-b", "black", "-o", str(tmp_path / "x.mov"), "--fps", "0"])
    assert result.exit_code != 0 and "frame rate must be positive" in result.output


def test_a_rate_given_for_a_video_is_said_to_change_nothing(tmp_path):
    with gy.open_writer(tmp_path / "clip.mov", fps=25, width=32, height=18) as writer:
        writer.write(np.full((18, 32, 3), 0.5, np.float32))
    with pytest.warns(UserWarning, match="keeps its own rate"):
        with gy.open_reader(tmp_path / "clip.mov", fps=30) as reader:
            assert reader.info.fps == 25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gy.open_reader(tmp_path / "clip.mov", fps=25).close()  # the same rate: nothing to say


def _exr_with(path: Path, **attributes) -> Path:
    planes = {c: np.full((8, 8), 0.5, np.float16) for c in "RGB"}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **attributes},
                 planes).write(str(path))
    return path


def test_an_exr_rate_written_under_openimageios_name_is_read(tmp_path):
    # OpenImageIO 3 writes a rate given as its own "FramesPerSecond" under that name, not OpenEXR's
    # "framesPerSecond": the plates were read at 24 fps without a word
    path = _exr_with(tmp_path / "oiio.exr", FramesPerSecond=Fraction(25))
    assert picture_timing(path).fps == 25
    with gy.open_reader(path) as reader:
        assert reader.info.fps == 25


def test_damaged_exr_headers_are_read_as_far_as_they_make_sense(tmp_path):
    # a rate of 0/0 (the binding raises ZeroDivisionError building its Fraction): no rate, no crash
    path = _exr_with(tmp_path / "rate.exr", framesPerSecond=Fraction(25))
    data = bytearray(path.read_bytes())
    at = data.find(b"framesPerSecond\x00rational\x00") + len(b"framesPerSecond\x00rational\x00") + 4
    struct.pack_into("<iI", data, at, 0, 0)
    path.write_bytes(bytes(data))
    with gy.open_reader(path) as reader:
        assert reader.info.fps == 24
        assert next(iter(reader)).rgb[0, 0, 0] == pytest.approx(0.5)
    # zeroed chromaticities (y = 0 is no colour): read as BT.709, not a division by zero
    with gy.open_reader(_exr_with(tmp_path / "chroma.exr", chromaticities=(0.0,) * 8)) as reader:
        np.testing.assert_allclose(next(iter(reader)).rgb[0, 0], 0.5)
    # a data window 2^29 rows tall (one corner's high byte damaged): OpenEXR allocated it, tens of GiB,
    # and the system killed the process; refused from the header before anything is decoded
    tall = _exr_with(tmp_path / "tall.exr")
    data = bytearray(tall.read_bytes())
    at = data.find(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4
    struct.pack_into("<i", data, at + 4, -(2**29))  # yMin
    tall.write_bytes(bytes(data))
    with pytest.raises(gy.MediaError, match=r"declares a data window of 8×536870920 pixels"):
        gy.open_reader(tall)
    # a display window of 18000×18000 around a few pixels (537 bytes of file): the frame they are placed
    # in took gigabytes, then "out of memory … free memory"
    wide = _exr_with(tmp_path / "wide.exr")
    data = bytearray(wide.read_bytes())
    at = data.find(b"displayWindow\x00box2i\x00") + len(b"displayWindow\x00box2i\x00") + 4
    struct.pack_into("<ii", data, at + 8, 17999, 17999)  # xMax, yMax
    wide.write_bytes(bytes(data))
    with pytest.raises(gy.MediaError, match=r"declares a frame \(display window\) of 18000×18000 "
                                           r"\(324 megapixels; 4.8 GB decoded\) around \d+ pixels of data"):
        with gy.open_reader(wide) as reader:
            next(iter(reader))
    # frame 29 of a 25 fps second does not exist: counting on from it, every timecode would be wrong
    code = OpenEXR.TimeCode()
    code.hours, code.minutes, code.seconds, code.frame = 10, 0, 0, 29
    odd = _exr_with(tmp_path / "odd.exr", timeCode=code, framesPerSecond=Fraction(25))
    with pytest.warns(UserWarning, match="has no such frame at 25 fps"), gy.open_reader(odd) as reader:
        assert next(iter(reader)).timecode is None
    with gy.open_reader(odd, fps=30) as reader:  # at 30 fps it is a frame
        assert next(iter(reader)).timecode == "10:00:00:29"


@pytest.mark.parametrize(("written", "read"), [((2, 1), 2), ((4, 3), Fraction(4, 3)), ((1, 1), 1),
                                               ((0xFFFFFFFF, 0xFFFFFFFF), 1), ((0, 0), 1), ((9000, 1), 1)])
def test_a_dpx_scan_says_its_pixel_aspect(tmp_path, written, read):
    """An anamorphic scan (pixel aspect 2) is shown unsqueezed; undefined (0xFFFFFFFF), zero and
    damaged fields read as square pixels."""
    path = tmp_path / "scan.0001.dpx"
    _dpx_with_headers(path, 0xFFFFFFFF, float("nan"))
    data = bytearray(path.read_bytes())
    struct.pack_into((">" if data[:4] == b"SDPX" else "<") + "II", data, 1628, *written)
    path.write_bytes(bytes(data))
    with gy.open_reader(tmp_path / "scan.####.dpx") as reader:
        assert reader.info.pixel_aspect == read


def test_an_exr_plate_says_its_pixel_aspect_and_the_outputs_keep_it(tmp_path):
    from click.testing import CliRunner

    from guangying.cli.main import cli

    planes = {c: np.full((36, 64), v, np.float16) for c, v in zip("RGB", (0.03, 0.4, 0.05), strict=True)}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              "pixelAspectRatio": 2.0}
    OpenEXR.File(header, planes).write(str(tmp_path / "plate.1001.exr"))
    with gy.open_reader(tmp_path / "plate.####.exr") as reader:
        assert reader.info.pixel_aspect == 2
    result = CliRunner().invoke(cli, ["key", str(tmp_path / "plate.####.exr"), "--alpha",
                                      str(tmp_path / "matte.####.exr"), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    header = OpenEXR.File(str(tmp_path / "matte.1001.exr"), header_only=True).header()
    assert header["pixelAspectRatio"] == 2.0  # Nuke shows the matte unsqueezed, as the plate


def test_an_anamorphic_png_sequence_keeps_its_pixel_aspect(tmp_path):
    # OpenCV writes no pHYs: a matte sequence of a 4:3-squeezed plate lost its squeeze (MP4, ProRes and
    # EXR kept it); read back by Pillow and OpenImageIO, each on its own, and by our reader
    import OpenImageIO as oiio
    from PIL import Image

    with gy.open_writer(tmp_path / "m.%04d.png", content="matte", pixel_aspect=4 / 3) as writer:
        for _ in range(2):
            writer.write(None, np.full((6, 8), 0.5, np.float32))
    first = tmp_path / "m.0000.png" if (tmp_path / "m.0000.png").exists() else tmp_path / "m.0001.png"
    with Image.open(first) as picture:
        assert picture.info.get("aspect") == (3, 4)
        picture.verify()  # the chunk's CRC
    spec = oiio.ImageInput.open(str(first)).spec()
    assert spec.get_float_attribute("PixelAspectRatio") == pytest.approx(4 / 3, abs=1e-3)
    with gy.open_reader(tmp_path / "m.%04d.png") as reader:
        assert reader.info.pixel_aspect == Fraction(4, 3)
    with gy.open_writer(tmp_path / "square.png") as writer:
        writer.write(np.full((6, 8, 3), 0.5, np.float32))
    assert b"pHYs" not in (tmp_path / "square.png").read_bytes()


def test_a_premultiplied_dpx_is_premultiplied_in_its_codes(tmp_path):
    # As PNG, TIFF and ProRes are, and as Nuke's Read undoes it: A × the straight colour's log code.
    # The log of the premultiplied light was written: a clear pixel at black's code 95, not 0.
    import OpenImageIO as oiio

    from guangying.base.colour import linear_to_cineon

    straight = np.full((4, 6, 3), 0.18, np.float32)
    alpha = np.full((4, 6), 0.5, np.float32)
    alpha[:, :2] = 0.0
    with gy.open_writer(tmp_path / "fg.dpx", content="rgba", premultiplied=True) as writer:
        writer.write(straight, alpha, transfer="linear")
    codes = oiio.ImageInput.open(str(tmp_path / "fg.dpx")).read_image(0, 0, 0, 4, "uint16") >> 6  # 10-bit
    expected = float(linear_to_cineon(np.array([0.18], np.float32))[0]) * 1023 * 0.5
    assert np.abs(codes[:, 2:, 0].astype(float) - expected).max() <= 1.5, (codes[0, 2, 0], expected)
    assert codes[:, :2, :3].max() == 0 and codes[:, :2, 3].max() == 0


@pytest.mark.parametrize(("fps", "start", "drop_bit"), [
    (Fraction(50), "23:59:59:40", False), (Fraction(48), "01:00:00:40", False),
    (Fraction(60000, 1001), "00:00:59;56", True), (Fraction(25), "10:00:00:20", False),
])
def test_a_dpx_timecode_above_30_fps_counts_frame_pairs(tmp_path, fps, start, drop_bit):
    """SMPTE 12M above 30 fps counts frame pairs (0–29) and marks a pair's second frame with the field
    phase, as the EXR's does. Packed as 0–59, frame 40 of a 50p second read in ffmpeg and OpenImageIO as
    frame 0 with the drop-frame flag, and 48 and 50p sequences read back with no timecode at all."""
    import OpenImageIO as oiio

    with gy.open_writer(tmp_path / "f.%04d.dpx", fps=fps, first_frame=1, timecode=start) as writer:
        for _ in range(6):
            writer.write(np.full((8, 8, 3), 0.18, np.float32), transfer="linear")
    with gy.open_reader(tmp_path / "f.%04d.dpx") as reader:
        read = [frame.timecode for frame in reader]
    assert read == [timecode_at(start, n, fps) for n in range(6)]  # round trip, every frame
    phase_byte = 3 if round(fps) % 25 == 0 else 1  # the hours byte at 25-based rates (ffmpeg, OpenEXR)
    for n in range(1, 7):
        packed = (tmp_path / f"f.{n:04d}.dpx").read_bytes()[1920:1924]  # hours … frames, big-endian
        frames_byte = packed[3]
        frame = int(read[n - 1][-2:])
        pair, phase = divmod(frame, 2) if fps > 30 else (frame, 0)
        assert frames_byte & 0x3F == (pair // 10) << 4 | pair % 10, read[n - 1]
        assert bool(frames_byte & 0x40) == drop_bit and bool(packed[3 - phase_byte] & 0x80) == bool(phase)
    if fps > 30:  # ffmpeg's DPX reader, on its own: the second frame of a pair is not the first's
        probe = ["ffprobe", "-v", "error", "-show_entries", "frame_tags=timecode", "-of", "csv=p=0",
                 str(tmp_path / "f.0002.dpx")]
        said = subprocess.run(probe, capture_output=True, text=True, check=True)
        assert said.stdout.strip().strip(",") == read[1], (said.stdout, read[1])
    spec = oiio.ImageInput.open(str(tmp_path / "f.0001.dpx"))
    timecode = spec.spec().getattribute("dpx:TimeCode")  # OpenImageIO shows the pair and no false flag
    spec.close()
    frame = int(start[-2:])
    assert timecode[:8] == start[:8] and int(timecode[-2:]) == (frame // 2 if fps > 30 else frame), timecode
    assert (timecode[8] == ";") == drop_bit, timecode
