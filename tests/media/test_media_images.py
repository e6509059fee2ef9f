"""Image sequences and single pictures: 16-bit PNG, half-float EXR, TIFF, JPEG; patterns and ranges."""

from __future__ import annotations

import os
import warnings
from fractions import Fraction

import numpy as np
import pytest
from media_samples import FRAMES, HEIGHT, WIDTH, blue_index, matte, picture

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import MediaError
from guangying.media import open_reader, open_writer
from guangying.media.opencv import cv2


def test_png_16_bit_rgba_sequence_round_trip(tmp_path):
    pattern = tmp_path / "fg.%04d.png"
    with open_writer(pattern, fps=25, content="rgba", first_frame=1001) as writer:
        for i in range(FRAMES):
            writer.write(picture(i), alpha=matte())
    on_disk = cv2.imread(str(tmp_path / "fg.1001.png"), cv2.IMREAD_UNCHANGED)
    assert on_disk.dtype == np.uint16 and on_disk.shape == (HEIGHT, WIDTH, 4)
    with open_reader(pattern) as reader:
        info = reader.info
        frames = list(reader)
    assert (info.kind, info.frame_count, info.first_frame, info.bit_depth, info.has_alpha) == (
        "sequence", FRAMES, 1001, 16, True)
    assert [f.index for f in frames] == list(range(1001, 1001 + FRAMES))
    for i, frame in enumerate(frames):
        assert np.abs(frame.rgb - picture(i)).max() < 1e-4  # 16-bit: steps of 1/65535
        assert np.abs(frame.alpha - matte()).max() < 1e-4
        assert frame.transfer == "srgb"


def test_exr_half_linear_with_alpha_keeps_values_above_one(tmp_path):
    pattern = tmp_path / "plate.####.exr"
    bright = [picture(i) * 4.0 for i in range(3)]  # scene-linear highlights up to 3.8
    with open_writer(pattern, fps=24, content="rgba", first_frame=1) as writer:
        for rgb in bright:
            writer.write(rgb, alpha=matte(), transfer="linear")
    assert sorted(os.listdir(tmp_path)) == ["plate.0001.exr", "plate.0002.exr", "plate.0003.exr"]
    with open_reader(pattern) as reader:
        frames = list(reader)
    assert reader.info.has_alpha
    seen = matte() > 0.05  # stored premultiplied (OpenEXR's convention): no colour where nothing covers
    for rgb, frame in zip(bright, frames, strict=True):
        assert frame.transfer == "linear"
        assert frame.rgb.max() > 3.0
        np.testing.assert_allclose(frame.rgb[seen], rgb[seen], rtol=2e-3)  # half float: 11-bit mantissa
        assert frame.rgb[matte() == 0].max() == 0.0
        np.testing.assert_allclose(frame.alpha, matte(), atol=1e-3)
    import OpenEXR  # in the file, as Nuke reads it: colour premultiplied by alpha

    stored = OpenEXR.File(str(tmp_path / "plate.0001.exr")).channels()["RGBA"].pixels
    np.testing.assert_allclose(stored[..., 0], bright[0][..., 0] * matte(), rtol=2e-3, atol=1e-4)


def test_light_beyond_half_floats_range_is_clamped_not_infinite(tmp_path):
    # A render's sun at 1e6 became an infinite half float: black (read back as 0) or NaN in a comp. Then
    # each channel was clipped on its own, and a warm sun (1e5, 9e4, 8e4) came out white
    rgb = np.full((4, 4, 3), 0.5, np.float32)
    rgb[0, 0] = (1e6, 7e4, -1e6)
    rgb[1, 1] = (1e5, 9e4, 8e4)
    with open_writer(tmp_path / "sun.exr", content="rgba") as writer:
        writer.write(rgb, alpha=np.ones((4, 4), np.float32), transfer="linear")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "NaN or infinite pixels" on reading our own file
        with open_reader(tmp_path / "sun.exr") as reader:
            frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[0, 0], [65504, 7e4 * 0.065504, -65504], rtol=1e-3)  # hue kept
    np.testing.assert_allclose(frame.rgb[1, 1], [65504, 0.9 * 65504, 0.8 * 65504], rtol=1e-3)
    assert frame.rgb[2, 2].tolist() == [0.5, 0.5, 0.5]


def test_exr_writer_linearises_srgb_input(tmp_path):
    path = tmp_path / "grey.exr"
    with open_writer(path, content="rgb") as writer:
        writer.write(np.full((8, 8, 3), 0.5, np.float32), transfer="srgb")
    with open_reader(path) as reader:
        frame = next(iter(reader))
    assert frame.rgb.mean() == pytest.approx(float(srgb_to_linear(np.float32(0.5))), rel=1e-3)


def test_png_writer_encodes_linear_input_to_srgb(tmp_path):
    path = tmp_path / "grey.png"
    linear = srgb_to_linear(np.full((8, 8, 3), 0.5, np.float32))
    with open_writer(path) as writer:
        writer.write(linear, transfer="linear")
    with open_reader(path) as reader:
        assert next(iter(reader)).rgb.mean() == pytest.approx(0.5, abs=1e-4)


def test_a_png_says_it_is_srgb_and_a_matte_png_does_not(tmp_path):
    # untagged, a colour-managed reader (Pillow's ImageCms, a browser, Photoshop) guesses the space
    from PIL import Image

    with open_writer(tmp_path / "comp.png") as writer:
        writer.write(np.full((8, 8, 3), 0.5, np.float32))
    with open_writer(tmp_path / "alpha.png", content="matte") as writer:
        writer.write(None, alpha=np.full((8, 8), 0.5, np.float32))
    with Image.open(tmp_path / "comp.png") as png:
        assert png.info.get("srgb") == 0 and png.info.get("gamma") == pytest.approx(1 / 2.2, abs=1e-4)
    with Image.open(tmp_path / "alpha.png") as png:
        assert "srgb" not in png.info and "gamma" not in png.info
    with open_reader(tmp_path / "comp.png") as reader:  # read back as it was written
        assert next(iter(reader)).rgb.mean() == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize(("name", "read_straight"), [("premult.png", False), ("fg.tif", True)])
def test_premultiplied_output(tmp_path, name, read_straight):
    # A PNG stores straight colour: a premultiplied one reads as stored unless told. A TIFF's ExtraSamples
    # tag says "associated" alpha (After Effects, Photoshop and our own --premultiplied TIFFs): it reads
    # straight (it was taken as straight, darkening every soft edge a second time), and told again,
    # it is still divided once.
    path = tmp_path / name
    with open_writer(path, content="rgba", premultiplied=True) as writer:
        writer.write(picture(2), alpha=matte())
    solid = matte() > 0.5  # where coverage is high the division recovers the colour closely
    with open_reader(path) as reader:
        frame = next(iter(reader))
    if read_straight:
        np.testing.assert_allclose(frame.rgb[solid], picture(2)[solid], atol=1e-3)
    else:
        np.testing.assert_allclose(frame.rgb, picture(2) * matte()[..., None], atol=1e-4)
    with open_reader(path, premultiplied=True) as reader:
        straight = next(iter(reader))
    np.testing.assert_allclose(straight.rgb[solid], picture(2)[solid], atol=1e-3)
    assert np.all(straight.rgb[matte() == 0] == 0)


@pytest.mark.parametrize("name", ["shot.%04d.png", "shot.####.png", "shot.%d.png"])
def test_pattern_styles_find_frames_and_honour_start_end(tmp_path, name):
    with open_writer(tmp_path / name, fps=25, first_frame=8) as writer:
        for i in range(FRAMES):
            writer.write(picture(i))
    expected = "shot.8.png" if "%d" in name else "shot.0008.png"
    assert (tmp_path / expected).is_file()
    with open_reader(tmp_path / name, start=10, end=12) as reader:
        assert reader.info.frame_count == 3 and reader.info.first_frame == 10
        frames = list(reader)
    assert [f.index for f in frames] == [10, 11, 12]
    assert [blue_index(f.rgb) for f in frames] == [2, 3, 4]


def test_sequence_numbers_past_the_padding_are_found(tmp_path):
    for number in (9998, 9999, 10000):
        cv2.imwrite(str(tmp_path / f"big.{number:04d}.png"), np.full((4, 4, 3), 7, np.uint8))
    cv2.imwrite(str(tmp_path / "big.00001.png"), np.zeros((4, 4, 3), np.uint8))  # not %04d: ignored
    with open_reader(tmp_path / "big.%04d.png") as reader:
        assert [f.index for f in reader] == [9998, 9999, 10000]


def test_sequence_fps_can_be_given(tmp_path):
    with open_writer(tmp_path / "s.%04d.png", first_frame=1) as writer:
        writer.write(picture(0))
        writer.write(picture(1))
    with open_reader(tmp_path / "s.%04d.png", fps="24000/1001") as reader:
        assert reader.info.fps == Fraction(24000, 1001)
        frames = list(reader)
    assert frames[1].time_s == pytest.approx(1001 / 24000)


def test_single_pictures_in_each_format_written_by_opencv(tmp_path):
    bgr8 = (np.dstack([picture(5)[..., ::-1]]) * 255).round().astype(np.uint8)
    bgr16 = (picture(5)[..., ::-1] * 65535).round().astype(np.uint16)
    grey16 = (matte() * 65535).round().astype(np.uint16)
    cases = {
        "a.png": (bgr8, 8, 1 / 255),
        "b.png": (bgr16, 16, 1e-4),
        "c.tif": (bgr16, 16, 1e-4),
        "d.jpg": (bgr8, 8, 0.05),
    }
    for name, (pixels, bits, tolerance) in cases.items():
        assert cv2.imwrite(str(tmp_path / name), pixels)
        with open_reader(tmp_path / name) as reader:
            assert (reader.info.kind, reader.info.frame_count, reader.info.bit_depth) == ("image", 1, bits)
            frame = next(iter(reader))
        assert frame.index == 0 and frame.alpha is None
        assert np.abs(frame.rgb - picture(5)).mean() < tolerance, name
    assert cv2.imwrite(str(tmp_path / "g.png"), grey16)
    with open_reader(tmp_path / "g.png") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb, np.repeat(matte()[..., None], 3, axis=2), atol=1e-4)


def test_tiff_16_bit_writer_and_8_bit_png_option(tmp_path):
    with open_writer(tmp_path / "t.tif", content="rgba") as writer:
        writer.write(picture(1), alpha=matte())
    assert cv2.imread(str(tmp_path / "t.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    with open_writer(tmp_path / "p.png", bit_depth=8) as writer:
        writer.write(picture(1))
    assert cv2.imread(str(tmp_path / "p.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8


@pytest.mark.parametrize("ext", [".png", ".exr", ".tif"])
def test_matte_only_pictures_are_single_channel(tmp_path, ext):
    path = tmp_path / f"alpha.%04d{ext}"
    options = {"matte_channel": "Y"} if ext == ".exr" else {}  # OpenCV reads a Y matte, not an A one
    with open_writer(path, content="matte", first_frame=1, **options) as writer:
        writer.write(None, alpha=matte())
    stored = cv2.imread(str(tmp_path / f"alpha.0001{ext}"), cv2.IMREAD_UNCHANGED)
    assert stored.ndim == 2
    with open_reader(path) as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[..., 0], matte(), atol=1e-3)



def _write_float_exr(path, rgb):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # a float32 EXR, written by OpenCV


def test_nan_and_infinite_exr_samples_are_read_as_black_with_a_warning(tmp_path):
    path = tmp_path / "render.exr"
    rgb = np.full((6, 9, 3), 0.25, np.float32)
    rgb[1, 2] = np.nan  # a renderer's firefly: a whole pixel
    rgb[4, 7, 0] = np.inf  # one sample
    rgb[5, 0, 2] = -np.inf
    _write_float_exr(path, rgb)
    with pytest.warns(UserWarning, match=r"render.exr: 3 pixel\(s\) are NaN or infinite"):
        reader = open_reader(path)
    with reader:
        frame = next(iter(reader))
    assert np.isfinite(frame.rgb).all()
    assert (frame.rgb[1, 2] == 0).all() and frame.rgb[4, 7, 0] == 0 and frame.rgb[5, 0, 2] == 0
    kept = np.isfinite(rgb)
    np.testing.assert_array_equal(frame.rgb[kept], rgb[kept])


def test_a_sequence_names_its_first_nan_frame_and_sums_up_the_rest(tmp_path):
    for number in range(1, 6):
        rgb = np.full((4, 4, 3), 0.5, np.float32)
        if number in (2, 3, 5):
            rgb[0, 0] = np.nan
        _write_float_exr(tmp_path / f"cg.{number:04d}.exr", rgb)
    with pytest.warns(UserWarning) as caught, open_reader(tmp_path / "cg.####.exr") as reader:
        frames = list(reader)
    messages = [str(w.message) for w in caught if "NaN" in str(w.message)]
    assert len(messages) == 2, messages
    assert messages[0].startswith("frame 2 of image sequence") and "1 pixel(s)" in messages[0]
    assert "3 frames had NaN or infinite pixels" in messages[1]
    assert "the first frame 2, the last 5" in messages[1]
    assert all(np.isfinite(f.rgb).all() for f in frames) and len(frames) == 5


def _write_exr_window(path, channels: dict[str, np.ndarray], data_xy0: tuple[int, int],
                      display_wh: tuple[int, int]) -> None:
    """An EXR written with OpenEXR (as Nuke or a renderer writes it): ``channels`` fill a data window
    at ``data_xy0`` (x, y) inside or around a display window of ``display_wh`` from (0, 0)."""
    import OpenEXR

    h, w = next(iter(channels.values())).shape
    x0, y0 = data_xy0
    corner = lambda x, y: np.array([x, y], np.int32)  # noqa: E731
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "displayWindow": (corner(0, 0), corner(display_wh[0] - 1, display_wh[1] - 1)),
        "dataWindow": (corner(x0, y0), corner(x0 + w - 1, y0 + h - 1)),
    }
    pixels = {k: np.ascontiguousarray(v, np.float32) for k, v in channels.items()}
    OpenEXR.File(header, pixels).write(str(path))


def test_exr_bounding_boxes_are_placed_in_the_frame(tmp_path):
    """Nuke writes a bounding box per frame (autocrop) and renderers write overscan: every frame is
    read at the display window's size, its pixels where the data window puts them, empty around."""
    rng = np.random.default_rng(5)
    boxes = [((10, 5), (30, 20)), ((0, 0), (60, 40)), ((-8, -4), (76, 48)), ((45, 31), (15, 9))]
    truths = []
    for i, ((x0, y0), (w, h)) in enumerate(boxes):
        rgba = rng.uniform(0.1, 2.0, (h, w, 4)).astype(np.float32)
        rgba[..., 3] = rng.uniform(0.2, 1.0, (h, w))
        _write_exr_window(tmp_path / f"bbox.{i + 1:04d}.exr", dict(zip("RGBA", np.moveaxis(rgba, -1, 0),
                                                                     strict=True)), (x0, y0), (60, 40))
        truth = np.zeros((40, 60, 4), np.float32)
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + w, 60), min(y0 + h, 40)
        truth[fy0:fy1, fx0:fx1] = rgba[fy0 - y0: fy1 - y0, fx0 - x0: fx1 - x0]
        covered = truth[..., 3] > 0  # stored premultiplied: read straight
        truth[covered, :3] /= truth[covered, 3:]
        truths.append(truth)
    with open_reader(tmp_path / "bbox.####.exr") as reader:
        assert (reader.info.width, reader.info.height) == (60, 40)
        frames = list(reader)
    for frame, truth in zip(frames, truths, strict=True):
        np.testing.assert_allclose(frame.rgb, truth[..., :3], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(frame.alpha, truth[..., 3], atol=1e-6)


def test_an_rgb_exr_short_of_its_frame_is_empty_around_and_keys_clear_there(tmp_path):
    # Nuke's autocrop on a green-screen plate: outside the bounding box there is nothing. Read as black,
    # it was keyed as solid subject: a 6–8 px opaque black border round every matte.
    from guangying.pipeline.job import JobOutputs, run_job
    from guangying.pipeline.matters import make_matter

    plate = np.empty((28, 50, 3), np.float32)
    plate[:] = (0.05, 0.45, 0.07)  # screen, linear
    plate[8:20, 20:30] = (0.4, 0.3, 0.35)  # the subject
    _write_exr_window(tmp_path / "plate.exr", dict(zip("BGR", np.moveaxis(plate[..., ::-1], -1, 0),
                                                         strict=True)), (6, 8), (64, 40))
    with open_reader(tmp_path / "plate.exr") as reader:
        frame = next(iter(reader))
    assert frame.alpha is not None and frame.alpha[:8].max() == 0 and frame.alpha[8:36, 6:56].min() == 1
    run_job(tmp_path / "plate.exr", make_matter("chroma"), JobOutputs(alpha=tmp_path / "matte.exr"),
            show_progress=False)
    with open_reader(tmp_path / "matte.exr") as reader:
        matte = next(iter(reader)).alpha
    assert matte[:8].max() == 0 and matte[:, :6].max() == 0 and matte[:, 56:].max() == 0
    assert matte[18:26, 28:34].min() > 0.9  # the subject is still there (placed 6, 8 in)


def test_exr_matte_with_a_bounding_box_is_placed_in_the_frame(tmp_path):
    matte_a = np.linspace(0.2, 1.0, 12 * 7, dtype=np.float32).reshape(7, 12)
    _write_exr_window(tmp_path / "matte.exr", {"A": matte_a}, (20, 10), (64, 48))
    with open_reader(tmp_path / "matte.exr") as reader:
        frame = next(iter(reader))
    assert frame.alpha.shape == (48, 64) and frame.alpha[:10].max() == 0 and frame.alpha[:, :20].max() == 0
    np.testing.assert_allclose(frame.alpha[10:17, 20:32], matte_a, atol=1e-6)


def _write_dpx(path, codes_10bit: np.ndarray, transfer: int) -> None:
    """A 10-bit DPX written by ffmpeg's encoder (PyAV), its header's transfer byte (offset 801,
    SMPTE 268M) set as a scanner or a grading suite sets it: 1 printing density, 2 linear, 6 BT.709,
    and its creator (offset 160) named as theirs."""
    import av

    rgb48 = (codes_10bit.astype(np.uint16) << 6) | (codes_10bit.astype(np.uint16) >> 4)
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("dpx", rate=24)
        stream.height, stream.width = codes_10bit.shape[:2]
        stream.pix_fmt = "gbrp10le"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb48), format="rgb48le")
        frame = frame.reformat(format="gbrp10le")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = bytearray(path.read_bytes())
    data[801] = transfer
    data[160:260] = b"Film scanner 2.1".ljust(100, b"\0")
    path.write_bytes(bytes(data))


def test_a_dpx_from_ffmpeg_reads_as_the_video_it_was_made_from(tmp_path):
    # ffmpeg's DPX encoder marks every picture "linear" (transfer byte 2): a clip made into DPX frames
    # with `ffmpeg -i clip.mov frame.%04d.dpx` was read as linear light, 1.3 stops bright, silently.
    import subprocess

    import cv2

    picture = np.zeros((16, 48, 3), np.uint8)
    picture[:, :16], picture[:, 16:32], picture[:, 32:] = (200, 60, 30), (128, 128, 128), (20, 90, 160)
    cv2.imwrite(str(tmp_path / "still.png"), picture[..., ::-1])
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "still.png"), "-pix_fmt", "gbrp10le",
                    str(tmp_path / "frame.0001.dpx")], check=True)
    assert (tmp_path / "frame.0001.dpx").read_bytes()[801] == 2  # ffmpeg's own "linear"
    with pytest.warns(UserWarning, match="written by ffmpeg"):
        with open_reader(tmp_path / "frame.####.dpx") as reader:
            frame = next(iter(reader))
    assert frame.transfer == "srgb" and reader.info.bit_depth == 10  # the header's, not the decode's 16
    # ffmpeg takes 8 bits to 10 by a shift: 200 → 800 of 1023, not 802
    np.testing.assert_allclose(frame.rgb[8, 8::16], picture[8, 8::16] / 255, atol=3 / 1023)


@pytest.mark.parametrize("transfer", [1, 2, 6])
def test_dpx_sequence_reads_in_the_transfer_its_header_names(tmp_path, transfer):
    """Film scans and DI exports: Cineon log (Kodak: code 95 is black, 470 an 18 % grey card, 685
    reference white), linear, or video code values."""
    codes = np.array([95, 470, 685, 900], np.uint16)
    picture_codes = np.repeat(np.repeat(codes, 8)[None, :, None], 6, axis=0) * np.ones((1, 1, 3), np.uint16)
    for n in (1001, 1002):
        _write_dpx(tmp_path / f"scan.{n}.dpx", picture_codes, transfer)
    with open_reader(tmp_path / "scan.####.dpx") as reader:
        info, frames = reader.info, list(reader)
    assert (info.kind, info.frame_count, info.width, info.height) == ("sequence", 2, 32, 6)
    assert info.bit_depth == 10
    values = frames[0].rgb[3, 4::8, 1]
    if transfer == 1:
        assert frames[0].transfer == "linear"
        np.testing.assert_allclose(values[:3], [0.0, 0.18, 1.0], atol=0.005)
        assert values[3] > 3  # highlights above reference white are kept
    else:
        assert frames[0].transfer == ("linear" if transfer == 2 else "srgb")
        np.testing.assert_allclose(values, codes / 1023, atol=0.002)


def test_damaged_dpx_is_a_clear_error(tmp_path):
    (tmp_path / "bad.0001.dpx").write_bytes(b"SDPX" + bytes(100))
    with pytest.raises(MediaError, match="cannot decode"):
        with open_reader(tmp_path / "bad.####.dpx") as reader:
            list(reader)


def _write_layered_exr(path, channels: dict[str, float]) -> None:
    import OpenEXR

    planes = {name: np.full((6, 8), value, np.float32) for name, value in channels.items()}
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, planes).write(
        str(path)
    )


def test_layered_render_exr_reads_its_main_layer(tmp_path):
    """Blender's multilayer EXR (ViewLayer.Combined.RGBA beside passes) and a beauty-named file:
    the main picture is read, with its alpha."""
    _write_layered_exr(tmp_path / "render.0001.exr", {
        "ViewLayer.Combined.R": 0.5, "ViewLayer.Combined.G": 0.25, "ViewLayer.Combined.B": 2.0,
        "ViewLayer.Combined.A": 0.75, "ViewLayer.DiffCol.R": 9.0, "ViewLayer.DiffCol.G": 9.0,
        "ViewLayer.DiffCol.B": 9.0, "ViewLayer.Depth.Z": 4.0,
    })
    _write_layered_exr(tmp_path / "beauty.exr", {"beauty.R": 0.1, "beauty.G": 0.2, "beauty.B": 0.3})
    with open_reader(tmp_path / "render.####.exr") as reader:
        frame = next(iter(reader))
    assert frame.transfer == "linear"
    np.testing.assert_allclose(frame.rgb[2, 3], np.array([0.5, 0.25, 2.0]) / 0.75, rtol=1e-6)  # straight
    np.testing.assert_allclose(frame.alpha, 0.75)
    with open_reader(tmp_path / "beauty.exr") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[0, 0], [0.1, 0.2, 0.3], atol=1e-7)
    assert frame.alpha is None


def _write_multipart_exr(path, parts: list[tuple[str, dict[str, np.ndarray], tuple]]) -> None:
    """One part per layer, as Nuke writes with interleave "channels" and renderers write their passes:
    (part name, channels, data window) each, in a 16×10 frame."""
    import OpenEXR

    OpenEXR.File([
        OpenEXR.Part({"name": name, "type": OpenEXR.scanlineimage, "compression": OpenEXR.ZIP_COMPRESSION,
                      "dataWindow": window, "displayWindow": ((0, 0), (15, 9))}, channels)
        for name, channels, window in parts
    ]).write(str(path))


def test_multipart_exr_reads_its_picture_part_wherever_it_is(tmp_path):
    """A multi-part EXR whose first part is not the picture (its depth part, here): OpenCV decodes the
    first part only, and the depth came out as a grey picture. The picture part is read, within its
    own bounding box (a 6×4 data window at (5, 3))."""
    depth = {"depth.Z": np.full((10, 16), 3.0, np.float32)}
    rgba = {c: np.full((4, 6), v, np.float32) for c, v in zip("RGBA", (0.8, 0.2, 0.1, 1.0), strict=True)}
    full = ((0, 0), (15, 9))
    box = ((5, 3), (10, 6))
    _write_multipart_exr(tmp_path / "comp.0001.exr", [("depth", depth, full), ("rgba", rgba, box)])
    with open_reader(tmp_path / "comp.####.exr") as reader:
        frame = next(iter(reader))
    assert frame.rgb.shape == (10, 16, 3) and frame.transfer == "linear"
    np.testing.assert_allclose(frame.rgb[4, 7], [0.8, 0.2, 0.1])
    np.testing.assert_allclose(frame.rgb[0, 0], 0.0)  # outside the bounding box: empty, alpha 0
    assert frame.alpha is not None and frame.alpha[4, 7] == 1.0 and frame.alpha[0, 0] == 0.0

    grey = {c: np.full((10, 16), 0.5, np.float32) for c in "RGB"}
    _write_multipart_exr(tmp_path / "stereo.exr", [("left", grey, full), ("right", grey, full)])
    with pytest.raises(MediaError, match=r"several RGB layers \(left, right\)"), \
            open_reader(tmp_path / "stereo.exr") as reader:
        list(reader)


@pytest.mark.parametrize(
    ("channels", "says"),
    [({"depth.Z": 1.0, "mask.Y": 1.0}, "no layer with R, G and B channels .*depth.Z, mask.Y"),
     ({f"{layer}.{c}": 1.0 for layer in ("diffuse", "specular") for c in "RGB"}, "several RGB layers")],
)
def test_exr_without_a_clear_picture_layer_says_which_channels_it_has(tmp_path, channels, says):
    _write_layered_exr(tmp_path / "passes.exr", channels)
    with pytest.raises(MediaError, match=says), open_reader(tmp_path / "passes.exr") as reader:
        list(reader)


@pytest.mark.parametrize("channels", [{"R": 0.5, "G": 0.2}, {"X": 0.5, "Y": 0.2, "Z": 0.1},
                                      {"Y": 0.3, "RY": 0.2, "BY": -0.1}])
def test_exr_whose_channels_are_no_rgb_picture_is_refused(tmp_path, channels):
    # OpenCV read these without a word: blue taken as 0, X Y Z as a grey of Y, luminance/chroma a green 27 %
    # off; each was keyed and written, exit 0
    _write_layered_exr(tmp_path / "odd.exr", channels)
    with pytest.raises(MediaError, match=r"no layer with R, G and B channels \(it has "), \
            open_reader(tmp_path / "odd.exr") as reader:
        list(reader)


def test_exr_with_rgb_and_other_channels_reads_its_rgb(tmp_path):
    _write_layered_exr(tmp_path / "rgbz.exr", {"R": 0.5, "G": 0.2, "B": 0.1, "Z": 3.0})
    with open_reader(tmp_path / "rgbz.exr") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[2, 3], [0.5, 0.2, 0.1])  # was read by OpenCV too: kept


# ACES2065-1 (AP0, ACES white) and ACEScg (AP1) → linear BT.709, Bradford-adapted to D65, as
# colour-management libraries publish them
AP0_TO_709 = [[2.52169, -1.13413, -0.38756], [-0.27648, 1.37272, -0.09624], [-0.01538, -0.15298, 1.16835]]
AP1_TO_709 = [[1.70505, -0.62179, -0.08326], [-0.13026, 1.14080, -0.01055], [-0.02400, -0.12897, 1.15297]]


@pytest.mark.parametrize(
    ("chromaticities", "to_bt709"),
    [((0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767), AP0_TO_709),
     ((0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767), AP1_TO_709)],
)
def test_aces_exr_is_converted_to_bt709_by_its_chromaticities(tmp_path, chromaticities, to_bt709):
    import OpenEXR

    colours = np.array([[0.18, 0.18, 0.18], [0.6, 0.1, 0.05], [0.05, 0.4, 0.1], [0.1, 0.1, 0.9]], np.float32)
    planes = {c: np.ascontiguousarray(np.repeat(colours[None, :, k], 3, axis=0)) for k, c in enumerate("RGB")}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              "chromaticities": chromaticities}
    OpenEXR.File(header, planes).write(str(tmp_path / "aces.exr"))
    with open_reader(tmp_path / "aces.exr") as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[1], colours @ np.array(to_bt709).T, atol=2e-4)
    np.testing.assert_allclose(frame.rgb[1, 0], 0.18, atol=2e-4)  # the white stays neutral


ACESCG = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)


@pytest.mark.parametrize("tagged", [True, False], ids=["chromaticities", "camera-log-acescg"])
def test_an_acescg_plate_is_delivered_in_acescg(tmp_path, tagged):
    """A facility's ACEScg plate, tagged in its header or named with --camera-log acescg (Nuke writes
    no chromaticities unless asked): the EXR composite goes back in ACEScg, tagged, so the subject's
    pixels come back as they went in. Before, it came back in BT.709 primaries, untagged, which an
    ACES project reads as ACEScg: too saturated and hue-shifted (0.6, 0.3, 0.2 came back as 0.82,
    0.26, 0.18). The review MP4 is display sRGB either way."""
    import OpenEXR
    from click.testing import CliRunner

    from guangying.cli.main import cli

    subject = np.array([0.6, 0.3, 0.2], np.float32)
    planes = {c: np.full((36, 64), v, np.float32) for c, v in zip("RGB", (0.05, 0.5, 0.08), strict=True)}
    for k, c in enumerate("RGB"):
        planes[c][10:26, 20:44] = subject[k]
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if tagged:
        header["chromaticities"] = ACESCG
    for n in (1, 2):
        OpenEXR.File(header, planes).write(str(tmp_path / f"plate.{n:04d}.exr"))
    args = ["composite", str(tmp_path / "plate.####.exr"), "-b", "grey", "--quiet"]
    args += [] if tagged else ["--camera-log", "acescg"]
    for out in ("comp.####.exr", "comp.mp4"):
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    written = OpenEXR.File(str(tmp_path / "comp.0001.exr"))
    np.testing.assert_allclose(written.header()["chromaticities"], ACESCG, atol=1e-3)
    rgb = written.channels()["RGB"].pixels
    np.testing.assert_allclose(rgb[18, 32], subject, rtol=2e-3)  # half floats: 3 digits
    with open_reader(tmp_path / "comp.mp4") as reader:  # shown in sRGB as the plate converted to BT.709
        shown = next(iter(reader)).rgb[18, 32]
    np.testing.assert_allclose(shown, linear_to_srgb(subject @ np.array(AP1_TO_709).T), atol=0.02)


@pytest.mark.parametrize(("space", "to_bt709"), [("aces2065-1", AP0_TO_709), ("acescg", AP1_TO_709)])
def test_an_aces_exr_without_chromaticities_is_converted_when_named(tmp_path, space, to_bt709):
    # Nuke writes no chromaticities unless asked: an ACEScg plate was read as BT.709, too saturated
    # and hue-shifted, with no way to say otherwise (--camera-log refused linear pictures)
    import OpenEXR

    colours = np.array([[0.18, 0.18, 0.18], [0.6, 0.1, 0.05], [0.05, 0.4, 0.1], [4.0, 3.0, 2.0]], np.float32)
    planes = {c: np.ascontiguousarray(np.repeat(colours[None, :, k], 3, axis=0)) for k, c in enumerate("RGB")}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    for n in (1, 2):
        OpenEXR.File(header, planes).write(str(tmp_path / f"plate.{n:04d}.exr"))
    with pytest.warns(UserWarning, match="is ACES.* converted to BT.709 primaries"), \
            open_reader(tmp_path / "plate.%04d.exr", camera_log=space) as reader:
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.rgb[1], colours @ np.array(to_bt709).T, rtol=2e-4, atol=2e-4)
    with open_reader(tmp_path / "plate.%04d.exr") as reader:  # not named: as stored
        np.testing.assert_allclose(next(iter(reader)).rgb[1], colours, atol=1e-6)

    header["chromaticities"] = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
    OpenEXR.File(header, planes).write(str(tmp_path / "tagged.exr"))
    with pytest.raises(MediaError, match=f"names its primaries in its header.*drop --camera-log {space}"):
        open_reader(tmp_path / "tagged.exr", camera_log=space)
    cv2.imwrite(str(tmp_path / "still.png"), np.zeros((4, 4, 3), np.uint8))
    with open_writer(tmp_path / "clip.mp4", fps=25, content="rgb") as writer:
        writer.write(np.zeros((16, 16, 3), np.float32))
    for code_values in ("still.png", "clip.mp4"):
        with pytest.raises(MediaError, match=f"{space} names the primaries of a linear picture"):
            open_reader(tmp_path / code_values, camera_log=space)


def test_a_picture_another_decoder_reads_prints_no_opencv_refusal(tmp_path):
    # A half-float TIFF: OpenCV's decoder refuses it (printing "[ERROR:0@1.4] … can't read header" on
    # stderr, even though the run went on fine) and tifffile reads it.
    import subprocess
    import sys

    import tifffile

    tifffile.imwrite(tmp_path / "half.tif", np.full((8, 8, 3), 0.5, np.float16))
    code = ("from guangying.media import open_reader\n"
            f"with open_reader({str(tmp_path / 'half.tif')!r}) as r: print(float(next(iter(r)).rgb.mean()))")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and float(done.stdout) == pytest.approx(0.5, abs=0.01), done.stderr
    assert "[ERROR" not in done.stderr and "imread" not in done.stderr, done.stderr


def test_a_tiff_with_extra_channels_is_refused_by_its_channels_not_called_damaged(tmp_path):
    # RGBA plus a spare channel (tifffile, Photoshop): "damaged, re-copy it" sent the user the wrong way
    import tifffile

    path = tmp_path / "extra.tif"
    tifffile.imwrite(path, np.full((8, 8, 5), 100, np.uint8), photometric="rgb",
                     extrasamples=["unassalpha", "unspecified"])
    with pytest.raises(MediaError, match="has 5 channels; only grey, RGB and RGBA are read") as refused:
        with open_reader(path) as reader:
            next(iter(reader))
    assert "damaged" not in str(refused.value)


def test_a_timecode_a_picture_cannot_hold_is_said(tmp_path):
    # accepted without a word, and dropped
    grey = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.warns(UserWarning, match=r"\.png has no place for a timecode"):
        with open_writer(tmp_path / "x.%04d.png", timecode="01:00:00:00") as writer:
            writer.write(grey)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_writer(tmp_path / "x.%04d.exr", timecode="01:00:00:00") as writer:
            writer.write(grey)


def _png_of_zeros(path, side: int) -> None:
    """A grey 8-bit PNG ``side`` px square written row by row: under a megabyte for gigabytes of pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    rows = b"".join(packer.compress(b"\0" * (side + 1)) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize(("side", "said"), [
    # under our limit, on a machine with 3 GB free: OpenCV's allocation failed, said as "a bug in
    # Guangying" (exit 70) with a traceback
    (16_000, "huge.png is too large to decode in the memory free"),
    # under OpenCV's gigapixel limit but over ours: refused from its header, nothing decoded (it took 11 GB
    # for a live monitor's background, the shared machine's memory and the take with it)
    (30_000, "huge.png is 30000×30000 (900 megapixels; 10.1 GB decoded): pictures up to 268 megapixels"),
])
def test_a_picture_too_large_for_the_memory_free_is_said_as_such(tmp_path, side, said):
    import resource
    import subprocess
    import sys

    _png_of_zeros(tmp_path / "huge.png", side)
    with open_writer(tmp_path / "plate.png", content="rgb") as writer:
        writer.write(picture(0))

    def three_gigabytes() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    done = subprocess.run(
        [sys.executable, "-m", "guangying", "composite", str(tmp_path / "plate.png"), "-b",
         str(tmp_path / "huge.png"), "-o", str(tmp_path / "out.png")],
        preexec_fn=three_gigabytes, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 1, done.stderr
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_sequence_that_outgrows_its_padding_says_so(tmp_path):
    # frames 95–104 into a_##.png: a_99.png beside a_100.png, which tools that go by the padding take for
    # two sequences, without a word
    with pytest.warns(UserWarning, match=r"frame 100 has more digits than its 2-digit padding.*"
                                         r"\(#### or %04d\)") as said:
        with open_writer(tmp_path / "a_##.png", content="matte", first_frame=95) as writer:
            for _ in range(10):
                writer.write(None, alpha=np.full((4, 4), 0.5, np.float32))
    assert len([w for w in said if "padding" in str(w.message)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "a_99.png" and (tmp_path / "a_104.png").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all of one width: nothing to say
        with open_writer(tmp_path / "b_##.png", content="matte", first_frame=100) as writer:
            writer.write(None, alpha=np.full((4, 4), 0.5, np.float32))


def test_an_exr_whose_chromaticities_name_no_primaries_is_said_and_may_be_named(tmp_path):
    """A zeroed chromaticities attribute (a tool's mistake): the plate was read as BT.709 without a word,
    and --camera-log acescg was refused as the header "names its primaries"."""
    import OpenEXR

    colours = np.array([[0.18, 0.18, 0.18], [0.6, 0.1, 0.05]], np.float32)
    planes = {c: np.ascontiguousarray(np.repeat(colours[None, :, k], 3, axis=0)) for k, c in enumerate("RGB")}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              "chromaticities": (0.0,) * 8}
    OpenEXR.File(header, planes).write(str(tmp_path / "zeroed.exr"))
    said = r"chromaticities attribute \(0(, 0){7}\) names no usable primaries .* BT\.709.*--camera-log"
    with pytest.warns(UserWarning, match=said), \
            open_reader(tmp_path / "zeroed.exr") as reader:
        np.testing.assert_allclose(next(iter(reader)).rgb[1], colours, atol=1e-6)
    with open_reader(tmp_path / "zeroed.exr", camera_log="acescg") as reader:
        np.testing.assert_allclose(next(iter(reader)).rgb[1], colours @ np.array(AP1_TO_709).T, atol=2e-4)
