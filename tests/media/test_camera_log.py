"""Camera log footage is read as scene-linear BT.709.

Clips are written here with PyAV at chosen 10-bit code values, as a camera records them. The expected
light comes from the makers' published anchors, not from colour-science: Sony's S-Log3 technical
summary (18 % grey at code 420, 90 % white at 598, 0 % black at 95) and Panasonic's V-Log/V-Gamut
reference manual (18 % grey at 433, 90 % white at 602). The gamut check builds S-Gamut3.Cine → BT.709
from the primaries Sony publishes.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import warnings

import av
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from guangying.base.colour import linear_to_srgb
from guangying.base.errors import MediaError, SettingsError
from guangying.cli.main import cli
from guangying.live.capture import LiveSource
from guangying.media import display_srgb, open_reader, open_writer
from guangying.media.colour_tags import HLG_PEAK
from guangying.media.pixels import to_float32

PATCH = 32
SONY_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<NonRealTimeMeta xmlns="urn:schemas-professionalDisc:nonRealTimeMeta:ver.2.20">'
            '<AcquisitionRecord><Group name="CameraUnitMetadataSet">'
            '<Item name="CaptureGammaEquation" value="{gamma}"/>'
            '<Item name="CaptureColorPrimaries" value="{primaries}"/>'
            '</Group></AcquisitionRecord></NonRealTimeMeta>')


def _grey_frame(codes: list[int], full_range: bool) -> av.VideoFrame:
    """A 10-bit 4:2:2 frame of grey patches, PATCH wide, at the given luma code values."""
    width, height = PATCH * len(codes), PATCH
    luma = np.repeat(np.array(codes, np.uint16)[None], PATCH, axis=1).repeat(height, axis=0)
    chroma = np.full((height, width // 2), 512, np.uint16)
    frame = av.VideoFrame(width, height, "yuv422p10le")
    for plane, samples in zip(frame.planes, (luma, chroma, chroma), strict=True):
        padded = np.zeros((height, plane.line_size // 2), np.uint16)
        padded[:, : samples.shape[1]] = samples
        plane.update(padded.tobytes())
    frame.color_range = 2 if full_range else 1
    return frame


def _neutral_clip(path, codes: list[int], full_range: bool = False, frames: int = 2) -> None:
    """A lossless 10-bit H.264 clip of grey patches at the given luma code values."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = PATCH * len(codes), PATCH, "yuv422p10le"
        stream.options = {"qp": "0"}
        stream.codec_context.color_range = 2 if full_range else 1
        for _ in range(frames):
            container.mux(stream.encode(_grey_frame(codes, full_range)))
        container.mux(stream.encode())


def _patches(rgb: np.ndarray) -> np.ndarray:
    return np.stack([rgb[8:-8, k * PATCH + 8 : (k + 1) * PATCH - 8].mean(axis=(0, 1))
                     for k in range(rgb.shape[1] // PATCH)])


def _first(path, **options):
    with open_reader(path, **options) as reader:
        return next(iter(reader)), reader.info


def test_a_sony_slog3_clip_is_linear_by_its_sidecar_xml(tmp_path):
    _neutral_clip(tmp_path / "C0001.MP4", [420, 598, 95])
    (tmp_path / "C0001M01.XML").write_text(SONY_XML.format(gamma="s-log3-cine", primaries="s-gamut3-cine"))
    said = r"C0001\.MP4 is S-Log3 / S-Gamut3\.Cine \(so says its Sony metadata, C0001M01\.XML\)"
    with pytest.warns(UserWarning, match=said):
        frame, info = _first(tmp_path / "C0001.MP4")
    assert frame.transfer == "linear" and info.camera_log == "slog3-sgamut3cine"
    # Sony's anchors to within the 10-bit code's rounding (598 is 90 % + 0.1 %); the read was 1.3–1.8 %
    # low while swscale's 16-bit RGB put white at 0.996 (media.swscale_levels)
    np.testing.assert_allclose(_patches(frame.rgb)[:, 1], [0.18, 0.90, 0.0], rtol=0.003, atol=0.001)
    # S-Log3 holds ~6 stops over grey; the SDR picture rolls off as an HLG clip's (knee at half of
    # diffuse white): to its 18.5, diffuse white came out at 0.61
    assert info.highlight_peak == pytest.approx(HLG_PEAK)
    assert display_srgb(np.full((1, 1, 3), 0.45, np.float32), "linear", info.highlight_peak)[0, 0, 0] \
        == pytest.approx(0.701, abs=0.002)  # sRGB of 0.45, untouched

    frame, info = _first(tmp_path / "C0001.MP4", camera_log="none")  # the code values, as tagged
    assert frame.transfer == "srgb" and info.camera_log is None
    np.testing.assert_allclose(_patches(frame.rgb)[0], (420 - 64) / 876, atol=2e-4)


def test_sony_metadata_inside_the_mp4_is_read_too(tmp_path):
    path = tmp_path / "C0002.MP4"
    _neutral_clip(path, [420, 598])
    data = path.read_bytes()
    moov = data.rfind(b"moov") - 4  # PyAV writes moov last: a box appended inside it moves no sample
    assert moov + struct.unpack(">I", data[moov : moov + 4])[0] == len(data)
    xml = SONY_XML.format(gamma="s-log3", primaries="s-gamut3").encode()
    xml_box = struct.pack(">I4s", 12 + len(xml), b"xml ") + bytes(4) + xml
    child = struct.pack(">I4s", 8 + len(xml_box), b"meta") + xml_box
    moov_size = struct.pack(">I", len(data) - moov + len(child))
    path.write_bytes(data[:moov] + moov_size + data[moov + 4 :] + child)
    with pytest.warns(UserWarning, match="S-Log3 / S-Gamut3 "):
        frame, info = _first(path)
    assert info.camera_log == "slog3-sgamut3"
    np.testing.assert_allclose(_patches(frame.rgb)[:, 1], [0.18, 0.90], rtol=0.005)

    # or in a top-level box of its own (a uuid box after the media data)
    other = tmp_path / "C0004.MP4"
    _neutral_clip(other, [420])
    xml = SONY_XML.format(gamma="s-log2", primaries="s-gamut").encode()
    other.write_bytes(other.read_bytes() + struct.pack(">I4s", 8 + 16 + len(xml), b"uuid") + bytes(16) + xml)
    with pytest.warns(UserWarning, match="S-Log2 / S-Gamut"):
        assert _first(other)[1].camera_log == "slog2-sgamut"


def test_clips_without_log_metadata_read_as_tagged_and_a_named_log_applies(tmp_path):
    path = tmp_path / "P1000123.MOV"  # a Panasonic clip: no metadata we read; full range, as some record
    _neutral_clip(path, [433, 602], full_range=True)
    (tmp_path / "P1000123M01.XML").write_text(SONY_XML.format(gamma="rec709", primaries="rec709"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Rec.709 metadata: no conversion, nothing said
        frame, info = _first(path)
    assert frame.transfer == "srgb" and info.camera_log is None
    with pytest.warns(UserWarning, match=r"P1000123\.MOV is V-Log / V-Gamut \(as asked\)"):
        frame, info = _first(path, camera_log="vlog-vgamut")
    np.testing.assert_allclose(_patches(frame.rgb)[:, 1], [0.18, 0.90], rtol=0.005)
    with pytest.raises(SettingsError, match="unknown camera log 'vlog'; use one of"):
        open_reader(path, camera_log="vlog")

    # ARRI LogC4 puts black at code 95 (its specification's offset, 95/1023) and 18 % grey at 284.8
    _neutral_clip(tmp_path / "A001C001.mov", [95, 285])
    with pytest.warns(UserWarning, match="ARRI LogC4"):
        frame, _ = _first(tmp_path / "A001C001.mov", camera_log="logc4-awg4")
    black, grey = _patches(frame.rgb)[:, 1]
    assert abs(black) < 0.002 and grey == pytest.approx(0.18, rel=0.03)

    # An iPhone's ProRes Log (video range): Apple's curve is read on the decoded 0–1 signal, on which
    # the white paper's encoding puts 18 % grey at 0.4883 (code 64 + 876 × 0.4883 = 492)
    _neutral_clip(tmp_path / "IMG_0001.MOV", [492])
    with pytest.warns(UserWarning, match="Apple Log / BT.2020"):
        frame, _ = _first(tmp_path / "IMG_0001.MOV", camera_log="applelog-bt2020")
    assert _patches(frame.rgb)[0, 1] == pytest.approx(0.18, rel=0.03)


def _srgb_to_xyz_of(primaries) -> np.ndarray:
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    white = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    return xyz * np.linalg.solve(xyz, white)


def test_a_log_dpx_style_picture_sequence_is_converted_with_its_gamut(tmp_path):
    # A graded-nothing export (16-bit TIFF/PNG of S-Log3 code values, full range) of one saturated colour
    sgamut3cine = _srgb_to_xyz_of([(0.766, 0.275), (0.225, 0.800), (0.089, -0.087)])
    bt709 = _srgb_to_xyz_of([(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)])
    scene = np.array([0.18, 0.09, 0.045])  # linear, in S-Gamut3.Cine

    def slog3_code(light):  # Sony's published S-Log3 encoding, 10-bit code / 1023
        return (420 + np.log10((light + 0.01) / 0.19) * 261.5) / 1023

    picture = np.tile(slog3_code(scene).astype(np.float32), (16, 16, 1))
    with open_writer(tmp_path / "log.%04d.png", fps=24, content="rgb") as writer:
        for _ in range(2):
            writer.write(picture, transfer="srgb")
    with pytest.warns(UserWarning, match=r"log\.%04d\.png is S-Log3"):
        frame, info = _first(tmp_path / "log.%04d.png", camera_log="slog3-sgamut3cine")
    expected = np.linalg.solve(bt709, sgamut3cine @ scene)
    np.testing.assert_allclose(frame.rgb[8, 8], expected, rtol=0.01, atol=5e-4)
    assert expected[0] > scene[0] * 1.2  # the gamut conversion, not the curve alone

    frame, _ = _first(tmp_path / "log.%04d.png")  # pictures carry no metadata: "auto" leaves them
    assert frame.transfer == "srgb"
    with open_writer(tmp_path / "render.exr", fps=24, content="rgb") as writer:
        writer.write(picture, transfer="linear")
    with pytest.raises(MediaError, match="holds linear light already; --camera-log applies to") as caught:
        open_reader(tmp_path / "render.exr", camera_log="slog3-sgamut3cine")
    assert str(caught.value).count("render.exr") == 1  # the path was said twice
    # our own Cineon DPX holds printing density, not "linear light already"
    with open_writer(tmp_path / "scan.dpx", fps=24, content="rgb") as writer:
        writer.write(picture, transfer="linear")
    with pytest.raises(MediaError, match=r"it holds printing density \(a Cineon DPX\)"):
        open_reader(tmp_path / "scan.dpx", camera_log="slog3-sgamut3cine")


def test_composite_and_batch_take_the_camera_log(tmp_path):
    _neutral_clip(tmp_path / "shot.mov", [420, 598], frames=3)
    runner = CliRunner()
    with pytest.warns(UserWarning, match="S-Log3"):
        result = runner.invoke(cli, [
            "key", str(tmp_path / "shot.mov"), "--camera-log", "slog3-sgamut3cine",
            "--foreground", str(tmp_path / "fg.%04d.exr"), "--quiet"])  # no screen: opaque, as it is
    assert result.exit_code == 0, result.output
    grey, white = _patches(_first(tmp_path / "fg.%04d.exr")[0].rgb)[:, 1]
    # grey as the camera saw it (read as Rec.709 code values it would be 0.137); white too: the keyer's
    # SDR picture rolls it off (to 0.6–0.7, which the EXR used to carry), the EXR keeps the scene's light
    source = _first(tmp_path / "shot.mov", camera_log="slog3-sgamut3cine")[0].rgb
    source_grey, source_white = _patches(source)[:, 1]
    assert grey == pytest.approx(0.18, rel=0.02) and grey == pytest.approx(source_grey, rel=1e-3)
    assert white == pytest.approx(0.9, rel=0.02) and white == pytest.approx(source_white, rel=1e-3)

    jobs = {"defaults": {"command": "key", "matte": "fast", "camera_log": "bogus"},
            "shots": [{"input": str(tmp_path / "shot.mov"), "foreground": str(tmp_path / "b.%04d.exr")}]}
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(jobs))
    result = runner.invoke(cli, ["batch", str(tmp_path / "jobs.yaml"), "--workers", "1"])
    assert result.exit_code != 0 and "camera_log" in result.output and "bogus" in result.output


def test_a_live_log_stream_is_converted_as_its_recording_would_be():
    """A camera sending S-Log3 over UDP (an HDMI encoder) says nothing of it: --camera-log names it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()

    def send() -> None:
        with av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 2 * PATCH, PATCH, "yuv422p10le"
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "5", "qp": "0"}
            stream.codec_context.color_range = 1
            for n in range(250):
                if stop.is_set():
                    break
                frame = _grey_frame([420, 95], full_range=False)
                frame.pts = n
                out.mux(stream.encode(frame))
                time.sleep(0.04)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=20.0, camera_log="slog3-sgamut3cine")
        source.start()
        captured = next((c for c in (source.get(0.1) for _ in range(200)) if c is not None), None)
        source.stop()
    finally:
        stop.set()
        sender.join(5)
    assert captured is not None
    grey, black = _patches(to_float32(captured.rgb))[:, 1]  # the keyer's SDR picture
    assert grey == pytest.approx(float(linear_to_srgb(np.float32(0.18))), abs=0.01) and black < 0.01


def test_a_clean_plate_frame_exported_from_a_sony_clip_is_read_as_the_clip_is(tmp_path):
    from guangying.media import display_srgb
    from guangying.pipeline.matters import keyer_settings_for

    _neutral_clip(tmp_path / "C0003.MP4", [420, 598])
    (tmp_path / "C0003M01.XML").write_text(SONY_XML.format(gamma="s-log3-cine", primaries="s-gamut3-cine"))
    with open_reader(tmp_path / "C0003.MP4", camera_log="none") as reader:  # the frame as ffmpeg exports it
        codes = next(iter(reader)).rgb
    with open_writer(tmp_path / "plate.png", fps=25, content="rgb") as writer:
        writer.write(codes, transfer="srgb")
    with pytest.warns(UserWarning, match="S-Log3"):
        settings = keyer_settings_for(tmp_path / "C0003.MP4", clean_plate=tmp_path / "plate.png")
        frame, info = _first(tmp_path / "C0003.MP4")
    expected = display_srgb(frame.rgb, frame.transfer, info.highlight_peak)
    # 1 % at mid grey: a picture's codes are read as the camera's full-range code values (a DPX from
    # Resolve); this export expanded video range to full, which moves mid grey's code by 0.4 % (and
    # white's light by a quarter, above the roll-off's knee). Read as the plate's own Rec.709 codes
    # grey was 19 % off.
    grey = _patches(settings.clean_plate)[0] - _patches(expected)[0]
    assert np.abs(grey).max() < 0.015


@pytest.mark.parametrize(("codes", "named", "title"), [
    ([64, 500, 900], "slog3-sgamut3cine", "S-Log3"),  # an ordinary Rec.709 clip: black at 64
    ([95, 420, 598], "vlog-vgamut", "V-Log"),  # S-Log3 (black 95) taken for V-Log (black 128)
])
def test_footage_far_below_the_named_curves_black_is_said_to_be_another(tmp_path, codes, named, title):
    # a Rec.709 clip given --camera-log slog3 was read up to 17 times too bright, said only "as asked"
    _neutral_clip(tmp_path / "clip.mov", codes)
    said = rf"clip\.mov: 33\.3% of its first picture lies far below {title}.*probably not {title}.* footage"
    with pytest.warns(UserWarning, match=said + ".*--camera-log none"):
        _first(tmp_path / "clip.mov", camera_log=named)


def test_a_log_cameras_noise_under_its_black_is_not_called_another_encoding(tmp_path, recwarn):
    _neutral_clip(tmp_path / "C0003.MP4", [78, 95, 420])  # S-Log3 black 95, its noise 17 codes under
    _first(tmp_path / "C0003.MP4", camera_log="slog3-sgamut3cine")
    assert [w for w in recwarn if "S-Log3" in str(w.message)]
    assert not [w for w in recwarn if "probably not" in str(w.message)]


def test_a_picture_sequence_far_below_the_named_curves_black_is_said_too(tmp_path):
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32)[None, :, None], (16, 1, 3))  # sRGB: black 0
    with open_writer(tmp_path / "grade.%04d.png", fps=24, content="rgb") as writer:
        writer.write(ramp, transfer="srgb")
    said = r"grade\.%04d\.png is S-Log3 .*\. But 7\.8% of .* probably not S-Log3"
    with pytest.warns(UserWarning, match=said):
        _first(tmp_path / "grade.%04d.png", camera_log="slog3-sgamut3cine")
