"""Camera raw: CinemaDNG frames and raw stills developed to scene-linear BT.709, and cinema raw clips
(Blackmagic RAW, REDCODE, Canon Cinema RAW Light) refused with what to do instead.

The DNGs are written here with tifffile as a camera writes them: a thumbnail in the first IFD and the
Bayer mosaic (RGGB, 12-bit, black level 256) in a SubIFD, tagged with a made-up sensor's colour matrix
(XYZ → camera) and its as-shot neutral. The mosaic is made by this file's own sums from a scene in
linear sRGB; the developing is LibRaw's, so the test checks that the tags are read and applied as a
raw developer applies them, not our arithmetic against itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from guangying.base.errors import DamagedMediaError, MediaError
from guangying.cli.main import cli
from guangying.media import open_reader

SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
SENSOR_FROM_XYZ = np.array([[0.9, -0.2, 0.05], [-0.3, 1.2, 0.1], [0.05, -0.15, 0.6]])
PATCHES = np.array([[0.6, 0.2, 0.1], [0.2, 0.5, 0.2], [0.4, 0.4, 0.4]])  # linear sRGB
BLACK, WHITE = 256, 4095
D65 = 21  # DNG CalibrationIlluminant code


def _scene(height: int = 64) -> np.ndarray:
    return np.repeat(np.repeat(PATCHES[None], height, axis=0), 32, axis=1)  # height × 96, three patches


def _rationals(values) -> list[int]:
    return [n for v in values for n in (round(v * 1e6), 1_000_000)]


def write_dng(path, scene_linear_srgb: np.ndarray, orientation: int = 1) -> None:
    camera = scene_linear_srgb @ (SENSOR_FROM_XYZ @ SRGB_TO_XYZ).T
    neutral = SENSOR_FROM_XYZ @ SRGB_TO_XYZ @ np.ones(3)  # the sensor's response to white
    camera, neutral = camera / neutral.max(), neutral / neutral.max()
    mosaic = np.empty(camera.shape[:2])
    mosaic[0::2, 0::2] = camera[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = camera[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = camera[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = camera[1::2, 1::2, 2]
    raw = np.clip(BLACK + mosaic * (WHITE - BLACK), 0, WHITE).round().astype(np.uint16)
    with tifffile.TiffWriter(path) as dng:
        dng.write(np.zeros((8, 12, 3), np.uint8), photometric="rgb", subifds=1, extratags=[
            (254, "I", 1, 1), (274, "H", 1, orientation), (50706, "B", 4, (1, 4, 0, 0)),
            (50708, "s", 0, "Guangying test camera"), (50721, "2i", 9, _rationals(SENSOR_FROM_XYZ.ravel())),
            (50728, "2I", 3, _rationals(neutral)), (50778, "H", 1, D65)])
        dng.write(raw, photometric=32803, extratags=[
            (254, "I", 1, 0), (33421, "H", 2, (2, 2)), (33422, "B", 4, (0, 1, 1, 2)),
            (50714, "H", 1, BLACK), (50717, "H", 1, WHITE)])


def _patch_means(rgb: np.ndarray) -> np.ndarray:
    return np.stack([rgb[16:48, 32 * k + 8 : 32 * k + 24].mean(axis=(0, 1)) for k in range(3)])


def test_a_cinemadng_sequence_is_developed_to_scene_linear_bt709(tmp_path):
    for number in range(1, 4):
        write_dng(tmp_path / f"A001_C001_0101_{number:06d}.dng", _scene() * (0.8 + 0.1 * number))
    with open_reader(tmp_path / "A001_C001_0101_%06d.dng") as reader:
        frames = list(reader)
        info = reader.info
    assert (info.width, info.height, info.kind) == (96, 64, "sequence")  # the raw, not the thumbnail
    for number, frame in zip(range(1, 4), frames, strict=True):
        assert frame.transfer == "linear"
        np.testing.assert_allclose(_patch_means(frame.rgb), PATCHES * (0.8 + 0.1 * number), atol=0.01)


def test_a_raw_still_shot_in_portrait_is_turned_upright(tmp_path):
    write_dng(tmp_path / "DSC0001.dng", _scene(), orientation=6)  # turn 90° clockwise to show
    with open_reader(tmp_path / "DSC0001.dng") as reader:
        frame = next(iter(reader))
    upright = np.rot90(_scene(), -1)
    assert frame.rgb.shape == upright.shape
    np.testing.assert_allclose(frame.rgb[8:-8:16, 8:-8:16], upright[8:-8:16, 8:-8:16], atol=0.01)


def test_a_dng_cut_short_is_held_in_a_sequence_and_refused_alone(tmp_path):
    for number in range(1, 4):
        write_dng(tmp_path / f"c.{number:04d}.dng", _scene() * 0.5 * number)
    whole = (tmp_path / "c.0002.dng").read_bytes()
    (tmp_path / "c.0002.dng").write_bytes(whole[: len(whole) - 4000])  # the card pulled mid-write
    with pytest.raises(DamagedMediaError, match=r"c\.0002\.dng; the file is damaged.*cut short"):
        open_reader(tmp_path / "c.0002.dng")
    with pytest.warns(UserWarning, match=r"c\.0002\.dng"):
        with open_reader(tmp_path / "c.%04d.dng") as reader:
            frames = list(reader)
    assert [f.damage for f in frames] == [None, "held", None]
    (tmp_path / "c.0003.dng").write_bytes(b"II*\0" + bytes(64))
    with pytest.raises(DamagedMediaError, match=r"c\.0003\.dng"):
        open_reader(tmp_path / "c.0003.dng")


@pytest.mark.parametrize(("name", "codec", "software"), [
    ("A001_C001.braw", "Blackmagic RAW", "DaVinci Resolve"),
    ("A001C001_220101AB.CRM", "Canon Cinema RAW Light", "Cinema RAW Development"),
    ("A001_C001_0101AB_001.R3D", "REDCODE RAW", "REDCINE-X"),
])
def test_cinema_raw_clips_say_what_to_export(tmp_path, name, codec, software, h264_mov_bytes):
    # .braw and .crm are QuickTime files whose picture no ffmpeg decoder reads; an .R3D is RED's own file
    path = tmp_path / name
    if name.endswith(".R3D"):
        path.write_bytes(b"RED2" + bytes(4092))
    else:
        path.write_bytes(h264_mov_bytes.replace(b"avc1", b"brxq" if name.endswith(".braw") else b"CRAW"))
    result = CliRunner().invoke(cli, ["key", str(path), "--alpha", str(tmp_path / "m.png")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert codec in result.output and software in result.output and "ProRes 4444" in result.output
    assert not (tmp_path / "m.png").exists()


def test_an_arriraw_frame_sequence_says_what_to_export(tmp_path):
    header = b"ARRI\x12\x34\x56\x78" + bytes(4088)
    for number in range(1, 4):  # ARRIRAW is one .ari file per frame
        (tmp_path / f"A001C001_200101_R1AB.{number:07d}.ari").write_bytes(header)
    with pytest.raises(MediaError, match=r"is ARRIRAW, which only its maker's software decodes.*ProRes 4444"):
        open_reader(tmp_path / "A001C001_200101_R1AB.%07d.ari")


def test_a_clip_in_a_codec_ffmpeg_lacks_is_refused_clearly(tmp_path, h264_mov_bytes):
    path = tmp_path / "from_some_app.mov"
    path.write_bytes(h264_mov_bytes.replace(b"avc1", b"xq42"))
    with pytest.raises(MediaError, match="coded in a format ffmpeg cannot decode; convert it to ProRes"):
        open_reader(path)


@pytest.fixture
def h264_mov_bytes(tmp_path) -> bytes:
    """A small H.264 MOV whose only 'avc1' bytes are its sample description's codec tag."""
    import av

    path = tmp_path / "clip.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * k, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    data = path.read_bytes()
    assert data.count(b"avc1") == 1
    return data
