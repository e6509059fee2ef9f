"""HDR (HLG, PQ) and wide-gamut (BT.2020, Display P3) video is read in the pipeline's colour:
scene-linear BT.709 with the reference white at 1.0.

The clips are encoded here with PyAV (x265 and x264, 10-bit where HDR is) from chosen signal levels,
tagged as a phone or a grading suite tags them; the expected values are published figures, not our
formulas: ITU-R BT.2408 (reference white at HLG 75 % and PQ 58 %, an 18 % grey card at HLG 38 %), SMPTE
ST 2084 (100 and 1000 cd/m² at PQ 0.5081 and 0.7518), ITU-R BT.2087 (BT.2020 → BT.709) and the
Display P3 → BT.709 matrix as colour-management tools print it.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.cli.main import cli
from guangying.live.capture import LiveSource
from guangying.media import MediaError, display_srgb, open_reader, open_writer
from guangying.media.pixels import to_float32

PATCH = 32  # px: flat patches, measured 8 px inside their edges (away from 4:2:0 and block bleed)
HLG, PQ, BT2020_10, SRGB_TRC, BT709 = 18, 16, 14, 13, 1
BT2020, DISPLAY_P3 = 9, 12

BT2087_2020_TO_709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]
)
P3_TO_709 = np.array([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]])


def _patches(signals: list[tuple[float, float, float]], rows: int = 1) -> np.ndarray:
    """uint16 R'G'B' picture: one PATCH×PATCH square per signal, left to right, ``rows`` high."""
    row = np.concatenate([np.full((PATCH, PATCH, 3), s, np.float64) for s in signals], axis=1)
    return (np.tile(row, (rows, 1, 1)) * 65535 + 0.5).astype(np.uint16)


# (Kr, Kb) of the Y'CbCr matrices (ITU-R BT.709, BT.2020 non-constant luminance)
_LUMA_WEIGHTS = {BT709: (0.2126, 0.0722), BT2020: (0.2627, 0.0593)}


def _frame(rgb48: np.ndarray, pix_fmt: str, trc: int, primaries: int) -> av.VideoFrame:
    """A limited-range Y'CbCr frame (8 or 10-bit) with the codes ITU-R BT.2100 / BT.709 give the R'G'B'
    signal (swscale's own conversion lands 10-bit white on 943, not 940)."""
    kr, kb = _LUMA_WEIGHTS[BT2020 if primaries == BT2020 else BT709]
    r, g, b = np.moveaxis(rgb48.astype(np.float64) / 65535, -1, 0)
    y = kr * r + (1 - kr - kb) * g + kb * b
    step, dtype = (4, np.uint16) if "p10" in pix_fmt else (1, np.uint8)  # 10- or 8-bit codes
    planes = [step * (16 + 219 * y), step * (128 + 224 * (b - y) / (2 - 2 * kb)),
              step * (128 + 224 * (r - y) / (2 - 2 * kr))]
    frame = av.VideoFrame(rgb48.shape[1], rgb48.shape[0], pix_fmt)
    for plane, codes in zip(frame.planes, planes, strict=True):
        fy, fx = codes.shape[0] // plane.height, codes.shape[1] // plane.width  # 4:2:0 / 4:4:4 siting
        codes = codes.reshape(plane.height, fy, plane.width, fx).mean(axis=(1, 3))
        padded = np.zeros((plane.height, plane.line_size // np.dtype(dtype).itemsize), dtype)
        padded[:, : plane.width] = np.round(codes)
        plane.update(padded.tobytes())
    frame.color_trc, frame.color_primaries = trc, primaries
    frame.colorspace = 9 if primaries == BT2020 else 1
    return frame


def _tag(stream: av.video.stream.VideoStream, trc: int, primaries: int) -> None:
    ctx = stream.codec_context
    ctx.color_trc, ctx.color_primaries = trc, primaries
    ctx.colorspace = 9 if primaries == BT2020 else 1
    ctx.color_range = 1


def _encode(path, rgb48: np.ndarray, codec: str, pix_fmt: str, trc: int, primaries: int, frames: int = 3):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = rgb48.shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = {"x265-params": "log-level=error"} if codec == "libx265" else {"crf": "12"}
        _tag(stream, trc, primaries)
        for i in range(frames):
            frame = _frame(rgb48, pix_fmt, trc, primaries)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _read_patches(path, count: int, said: str = "converted to scene-linear BT.709"):
    with pytest.warns(UserWarning, match=said), open_reader(path) as reader:
        frame = next(iter(reader))
    inset = slice(8, PATCH - 8)
    columns = [slice(k * PATCH + 8, (k + 1) * PATCH - 8) for k in range(count)]
    return frame, np.array([frame.rgb[inset, c].reshape(-1, 3).mean(0) for c in columns])


def _hdr_greys(path, levels: list[float], transfer: int) -> np.ndarray:
    """Grey patches at ``levels`` of HDR signal in a 10-bit HEVC clip → (levels, RGB) means as read."""
    _encode(path, _patches([(v, v, v) for v in levels]), "libx265", "yuv420p10le", transfer, BT2020)
    frame, means = _read_patches(path, len(levels))
    assert frame.transfer == "linear"
    return means


def test_hlg_clip_reads_as_scene_linear_with_reference_white_at_one(tmp_path):
    means = _hdr_greys(tmp_path / "phone_hlg.mov", [0.38, 0.75, 0.5], HLG)
    grey, white, half = means[:, 1]
    assert white == pytest.approx(1.0, abs=0.02)  # BT.2408: reference white at 75 %
    assert grey == pytest.approx(0.18, abs=0.01)  # BT.2408: 18 % grey card at 38 %
    assert half == pytest.approx((1 / 12) / 0.265, rel=0.02)  # BT.2100: signal 0.5 is 1/12 of peak light
    assert np.ptp(means, axis=1).max() < 0.01  # neutral stays neutral through the primaries


def test_a_camera_log_named_for_an_hlg_clip_is_refused(tmp_path):
    """camera_log: slog3-sgamut3cine set for a whole shoot read a phone's HLG clip as S-Log3 (18 % grey at
    0.14, white at 2.3) with only "(as asked)": its tags say HDR, so it is no log footage."""
    means = _hdr_greys(tmp_path / "phone_hlg.mov", [0.38, 0.75], HLG)  # as tagged, it reads
    assert means[:, 1] == pytest.approx([0.18, 1.0], abs=0.02)
    with pytest.raises(MediaError, match=r"phone_hlg\.mov is tagged HLG .*not slog3-sgamut3cine footage"
                                         r".*--camera-log none"):
        open_reader(tmp_path / "phone_hlg.mov", camera_log="slog3-sgamut3cine")


def test_pq_clip_reads_as_light_relative_to_203_nits(tmp_path):
    means = _hdr_greys(tmp_path / "grade_pq.mp4", [0.5081, 0.58, 0.7518], PQ)
    assert means[:, 1] == pytest.approx([100 / 203, 1.0, 1000 / 203], rel=0.025)


def test_bt2020_sdr_colours_are_converted_to_bt709(tmp_path):
    path = tmp_path / "wide.mp4"
    signals = [(0.8, 0.4, 0.2), (0.35, 0.6, 0.3), (0.3, 0.35, 0.7)]
    _encode(path, _patches(signals), "libx264", "yuv444p10le", BT2020_10, BT2020)
    # told of HLG and PQ reference whites and their roll-off, as if it had been taken for HDR
    frame, means = _read_patches(path, 3, said=r"converted to BT.709 primaries; .* \(it is not HDR\)")
    expected = srgb_to_linear(np.array(signals, np.float32)) @ BT2087_2020_TO_709.T
    assert frame.transfer == "linear"
    np.testing.assert_allclose(means, expected, atol=0.006)


def test_display_p3_screen_recording_is_converted_to_bt709(tmp_path):
    path = tmp_path / "screen.mp4"
    signals = [(0.9, 0.1, 0.1), (0.2, 0.8, 0.3)]
    _encode(path, _patches(signals), "libx264", "yuv444p", SRGB_TRC, DISPLAY_P3)
    frame, means = _read_patches(path, 2, said="converted to BT.709 primaries")
    expected = srgb_to_linear(np.array(signals, np.float32)) @ P3_TO_709.T
    np.testing.assert_allclose(means, expected, atol=0.01)
    assert means[0, 0] > 0.8 and means[0, 1] < 0.0  # a P3 red lies outside BT.709: kept, not clipped


def test_bt709_clip_is_read_as_before(tmp_path, recwarn):
    path = tmp_path / "sdr.mp4"
    signals = [(0.8, 0.4, 0.2), (0.35, 0.6, 0.3)]
    _encode(path, _patches(signals), "libx264", "yuv444p10le", BT709, BT709)
    with open_reader(path) as reader:
        frame = next(iter(reader))
    assert frame.transfer == "srgb" and not [w for w in recwarn if "BT.709" in str(w.message)]
    np.testing.assert_allclose(frame.rgb[16, 16], signals[0], atol=0.01)


def test_hlg_green_screen_composites_like_sdr(tmp_path):
    """An iPhone-style HLG clip keyed and composited: reference white comes out near white (just below
    it: BT.2390 rolls light off from half of reference white up to the HLG peak) and an 18 % grey card
    as 18 % grey in the SDR BT.709 composite, not as the HLG signal read as sRGB."""
    path = tmp_path / "hlg_screen.mov"
    screen = (0.35, 0.55, 0.35)  # a chroma-key green in BT.2020 HLG, inside BT.709 once converted
    picture = _patches([screen] * 6, rows=4)
    cards = _patches([(0.75, 0.75, 0.75), (0.38, 0.38, 0.38)], rows=2)
    picture[PATCH: 3 * PATCH, 2 * PATCH: 4 * PATCH] = cards.reshape(2 * PATCH, 2 * PATCH, 3)
    _encode(path, picture, "libx265", "yuv420p10le", HLG, BT2020, frames=4)
    out = tmp_path / "comp.mp4"
    with pytest.warns(UserWarning, match="HLG, BT.2020"):
        result = CliRunner().invoke(
            cli, ["composite", str(path), "--background", "#204080", "-o", str(out), "--quiet"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    with open_reader(out) as reader:
        comp = next(iter(reader)).rgb
    white = comp[PATCH + 8: 3 * PATCH - 8, 2 * PATCH + 8: 3 * PATCH - 8].reshape(-1, 3).mean(0)
    grey = comp[PATCH + 8: 3 * PATCH - 8, 3 * PATCH + 8: 4 * PATCH - 8].reshape(-1, 3).mean(0)
    backdrop = comp[4:PATCH - 4, 4:PATCH - 4].reshape(-1, 3).mean(0)
    assert np.all((white > 0.85) & (white < 0.97)) and np.ptp(white) < 0.01
    assert grey == pytest.approx([float(linear_to_srgb(np.float32(0.18)))] * 3, abs=0.03)
    assert backdrop == pytest.approx([0x20 / 255, 0x40 / 255, 0x80 / 255], abs=0.03)


def test_live_hlg_stream_is_shown_as_its_recording(tmp_path):
    """A sender's HLG stream over UDP reaches the live path converted, as a file of it is."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    signals = [(0.75, 0.75, 0.75), (0.38, 0.38, 0.38)]
    picture = _patches(signals, rows=2)
    stop = threading.Event()

    def send() -> None:
        out = av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts")
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = picture.shape[:2]
        stream.pix_fmt = "yuv420p10le"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "5"}
        _tag(stream, HLG, BT2020)
        n = 0
        while not stop.is_set() and n < 250:
            frame = _frame(picture, "yuv420p10le", HLG, BT2020)
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
            time.sleep(0.04)
        out.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        source = LiveSource(f"udp://127.0.0.1:{port}", open_timeout_s=20.0)
        source.start()
        captured = None
        for _ in range(200):
            captured = source.get(0.1)
            if captured is not None:
                break
        source.stop()
    finally:
        stop.set()
        sender.join(5)
    assert captured is not None
    rgb = to_float32(captured.rgb)  # a capture hands out code values or floats, as decoded
    inset = slice(8, PATCH - 8)
    white = rgb[inset, inset].reshape(-1, 3).mean(0)
    grey = rgb[inset, PATCH + 8: 2 * PATCH - 8].reshape(-1, 3).mean(0)
    assert np.all((white > 0.85) & (white < 0.97)) and np.ptp(white) < 0.01  # rolled off, as a file is
    assert grey == pytest.approx([float(linear_to_srgb(np.float32(0.18)))] * 3, abs=0.03)


def test_hlg_highlights_stay_solid_in_order_and_in_hue(tmp_path):
    """Light above reference white (a phone's sky, a lamp, a white shirt in the sun) is keyed solid and
    keeps its gradation and hue in the composite; read raw, the keyer made such patches 11–52 %
    transparent and a cut at 1 would flatten them to one white."""
    path = tmp_path / "hlg_highlights.mov"
    signals = [(0.6, 0.6, 0.6), (0.8, 0.8, 0.8), (0.9, 0.9, 0.9), (1.0, 1.0, 1.0), (1.0, 0.8, 0.55)]
    picture = _patches([(0.35, 0.55, 0.35)] * 7, rows=4)  # the screen all round
    picture[PATCH: 3 * PATCH, PATCH: 6 * PATCH] = _patches(signals, rows=2)
    _encode(path, picture, "libx265", "yuv420p10le", HLG, BT2020, frames=4)
    rows = slice(PATCH + 8, 3 * PATCH - 8)
    columns = [slice((k + 1) * PATCH + 8, (k + 2) * PATCH - 8) for k in range(len(signals))]

    def means(picture: np.ndarray) -> np.ndarray:
        return np.array([picture[rows, c].reshape(-1, *picture.shape[2:]).mean(0) for c in columns])

    with pytest.warns(UserWarning, match="HLG, BT.2020"), open_reader(path) as reader:
        light = means(next(iter(reader)).rgb)  # as read: scene-linear, the peak about 3.8
    comp, matte, scene = tmp_path / "comp.%04d.tif", tmp_path / "alpha.%04d.exr", tmp_path / "comp.%04d.exr"
    for output, extra in ((comp, ["--alpha", str(matte)]), (scene, [])):
        with pytest.warns(UserWarning, match="HLG, BT.2020"):
            args = ["composite", str(path), "--background", "#204080", "-o", str(output), *extra, "--quiet"]
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with open_reader(comp) as reader:  # a 16-bit TIFF: the display composite
        out = means(srgb_to_linear(next(iter(reader)).rgb))
    with open_reader(matte) as reader:
        alpha = means(next(iter(reader)).rgb)[:, 0]
    assert light[3, 1] == pytest.approx(1 / 0.2647, rel=0.03) and np.all(alpha > 0.98)
    assert out[0] == pytest.approx(light[0], rel=0.02)  # below the knee: as read
    greys = out[:4, 1]  # BT.2390 flattens towards the peak: signal 0.9 and 1 land within 2 %
    assert np.all(np.diff(greys[:3]) > 0.05) and greys[2] < greys[3] <= 1.0
    np.testing.assert_allclose(out[4] / out[4, 0], light[4] / light[4, 0], atol=0.04)  # hue kept
    with open_reader(scene) as reader:  # an EXR composite holds the plate's own light, as read
        np.testing.assert_allclose(means(next(iter(reader)).rgb), light, rtol=0.01)


def test_hlg_background_is_rolled_off_as_a_foreground_is(tmp_path):
    """A phone's HLG clip as the backdrop: in the display composite its highlights are rolled off as they
    would be in front; an EXR composite keeps its light (it was rolled off to SDR there too)."""
    backdrop = tmp_path / "street_hlg.mov"
    signals = [(0.6, 0.6, 0.6), (0.9, 0.9, 0.9), (1.0, 0.8, 0.55)]
    _encode(backdrop, _patches(signals, rows=2), "libx265", "yuv420p10le", HLG, BT2020, frames=4)
    screen = tmp_path / "empty_screen.png"
    with open_writer(screen, content="rgb") as writer:  # the plate is all screen: the comp is the backdrop
        writer.write(np.tile(np.float32([0.2, 0.75, 0.25]), (2 * PATCH, 3 * PATCH, 1)))
    comps = {}
    for out in (tmp_path / "comp.%04d.exr", tmp_path / "comp.%04d.png"):
        with pytest.warns(UserWarning, match="HLG, BT.2020"):
            result = CliRunner().invoke(
                cli, ["composite", str(screen), "--background", str(backdrop), "-o", str(out), "--quiet"],
                catch_exceptions=False,
            )
        assert result.exit_code == 0, result.output
        with open_reader(out) as reader:
            frame = next(iter(reader))
            comps[out.suffix] = frame.rgb if frame.transfer == "linear" else srgb_to_linear(frame.rgb)
    with pytest.warns(UserWarning, match="HLG, BT.2020"), open_reader(backdrop) as reader:
        light = next(iter(reader)).rgb
    inset = slice(8, 2 * PATCH - 8)
    for k in range(len(signals)):
        column = slice(k * PATCH + 8, (k + 1) * PATCH - 8)
        as_foreground = srgb_to_linear(display_srgb(light, "linear", 1 / 0.2647))[inset, column]
        np.testing.assert_allclose(comps[".png"][inset, column].reshape(-1, 3).mean(0),
                                   as_foreground.reshape(-1, 3).mean(0), atol=0.01)
        np.testing.assert_allclose(comps[".exr"][inset, column].reshape(-1, 3).mean(0),
                                   light[inset, column].reshape(-1, 3).mean(0), rtol=0.01, atol=0.005)
    assert comps[".png"].max() <= 1.0 and comps[".exr"].max() > 2.0


@pytest.mark.parametrize(
    ("hdr10", "peak_cd_m2"),
    [
        ("", 1000.0),  # no metadata: the usual 1000 cd/m² grade
        ("master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50)", 4000.0),
        ("master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50)"
         ":max-cll=2000,400", 2000.0),  # MaxCLL, the grade's own brightest pixel, wins
    ],
)
def test_pq_peak_comes_from_the_hdr10_metadata(tmp_path, hdr10, peak_cd_m2):
    """x265 writes the SEI a grading suite writes (master-display, max-cll); the roll-off starts from it."""
    path = tmp_path / "grade.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=25)
        stream.height, stream.width, stream.pix_fmt = PATCH, PATCH, "yuv420p10le"
        # one thread: under load x265's frame threads once flushed a packet Matroska refused (CI)
        params = ("log-level=error", "pools=none", "frame-threads=1", "hdr10=1", hdr10)
        stream.options = {"x265-params": ":".join(p for p in params if p)}
        _tag(stream, PQ, BT2020)
        for i in range(2):
            frame = _frame(_patches([(0.58, 0.58, 0.58)]), "yuv420p10le", PQ, BT2020)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with open_reader(path) as reader:  # known at open, before any frame is read
        assert reader.info.highlight_peak == pytest.approx(peak_cd_m2 / 203, rel=1e-6)


def _tagged_8bit(path, **tags) -> None:
    """An 8-bit H.264 clip of ordinary video carrying the given tags, as ffmpeg's CLI writes them."""
    import subprocess

    flags = [x for key, value in tags.items() for x in (f"-{key}", value)]
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25", "-frames:v", "2",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", *flags, str(path)], check=True)


def test_an_8_bit_clip_tagged_pq_is_said_to_be_mistagged_with_the_retag_that_fixes_it(tmp_path):
    # An SDR clip exported with PQ tags read 128 as 181 (up to 140/255 off) with only the usual HDR
    # note; 8-bit PQ is not a real grade. The warning gives ffmpeg's retag line, checked to work here.
    wide = {"color_primaries": "bt2020", "colorspace": "bt2020nc"}
    _tagged_8bit(tmp_path / "clip.mp4", color_trc="smpte2084", **wide)
    assert _retagged_as_said(tmp_path / "clip.mp4", "holds 8-bit pictures").transfer == "srgb"


def _retagged_as_said(path, said: str):
    """The first frame of ``path`` retagged by the ffmpeg line the warning matching ``said`` gives, run
    from another folder as a user pastes it (by the clip's bare name it ran only from the clip's)."""
    import shlex
    import subprocess

    elsewhere = path.parent / "elsewhere"
    elsewhere.mkdir()
    with pytest.warns(UserWarning, match=said) as caught:
        with open_reader(path) as reader:
            next(iter(reader))
    line = next(str(w.message) for w in caught if re.search(said, str(w.message))).split("retag it: ")[1]
    command = shlex.split(line)
    subprocess.run(command, cwd=elsewhere, check=True, capture_output=True)
    with open_reader(Path(command[-1])) as reader:
        return next(iter(reader))


def test_an_8_bit_hlg_clip_is_not_called_mistagged(tmp_path, recwarn):
    # Sony cameras record HLG in 8 bits: a real HDR clip
    _tagged_8bit(tmp_path / "hlg.mp4", color_trc="arib-std-b67", color_primaries="bt2020",
                 colorspace="bt2020nc")
    with open_reader(tmp_path / "hlg.mp4") as reader:
        assert next(iter(reader)).transfer == "linear"
    assert not [w for w in recwarn if "8-bit" in str(w.message)]


@pytest.mark.parametrize(("tags", "said"), [
    ({"colorspace": "ycgco"}, "YCgCo colour matrix"),
    ({"color_trc": "log100"}, r"logarithmic \(100:1\) transfer"),
    ({"color_trc": "smpte428"}, "SMPTE 428"),
])
def test_a_tag_this_product_does_not_decode_is_named(tmp_path, tags, said):
    # they were read with the size's default matrix or as BT.709 without a word (YCgCo: 18/255 off)
    _tagged_8bit(tmp_path / "odd.mp4", **tags)
    with pytest.warns(UserWarning, match=said), open_reader(tmp_path / "odd.mp4") as reader:
        next(iter(reader))


def test_a_matte_written_here_reads_back_without_a_matrix_warning(tmp_path, recwarn):
    # FFV1 mattes are grey pictures tagged with the RGB matrix, as ffmpeg tags them; a grey picture has
    # no chroma for a matrix to decode, yet every take's matte.mkv was said to be in a matrix not read
    alpha = np.linspace(0, 1, 32 * 16, dtype=np.float32).reshape(16, 32)
    with open_writer(tmp_path / "matte.mkv", content="matte") as writer:
        writer.write(None, alpha=alpha)
    with open_reader(tmp_path / "matte.mkv") as reader:
        got = next(iter(reader))
    assert not [w for w in recwarn if "colour matrix" in str(w.message)]
    assert np.abs(got.rgb[..., 0] - alpha).max() < 1e-3


def _prores_with_silent_header(path, rgb_codes: np.ndarray, container_matrix: int) -> None:
    """SD ProRes coded with the BT.709 matrix whose picture headers say "unspecified" while the MOV's
    colr atom says ``container_matrix``: a stream copy retagged in its container, as ffmpeg makes it."""
    silent = path.with_name("silent.mov")
    with av.open(str(silent), "w") as out:
        stream = out.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = rgb_codes.shape[1], rgb_codes.shape[0], "yuv422p10le"
        frame = av.VideoFrame.from_ndarray(rgb_codes, "rgb24").reformat(
            format="yuv422p10le", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.colorspace, frame.color_primaries, frame.color_trc = 2, 2, 2
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with av.open(str(silent)) as source, av.open(str(path), "w") as out:
        copied = out.add_stream_from_template(source.streams.video[0])
        # the mov muxer writes a colr atom only with all three tags set
        context = copied.codec_context
        context.colorspace, context.color_primaries, context.color_trc = container_matrix, 1, 1
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = copied
                out.mux(packet)


def test_sd_prores_with_a_silent_header_is_decoded_by_its_container_matrix(tmp_path, recwarn):
    # ffmpeg's decoder replaces the container's colr tag by the picture header's "unspecified", so an SD
    # ProRes plate tagged BT.709 in its MOV was decoded as BT.601 (size rule): saturated colours 10+/255 off
    rng = np.random.default_rng(3)
    patches = rng.integers(30, 226, (6, 3)).astype(np.uint8)
    rgb_codes = np.repeat(np.repeat(patches[None], 576, axis=0), 120, axis=1)
    _prores_with_silent_header(tmp_path / "plate.mov", rgb_codes, container_matrix=1)
    with av.open(str(tmp_path / "plate.mov")) as container:  # the premise: header silent, container not
        stream = container.streams.video[0]
        assert int(stream.codec_context.colorspace) == 1
        assert int(next(container.decode(stream)).colorspace) == 2
    with open_reader(tmp_path / "plate.mov") as reader:
        frame = next(iter(reader))
    error = np.abs(display_srgb(frame.rgb, frame.transfer)[288, 60::120] * 255 - patches)
    assert error.max() < 1.5, f"{error.max():.1f}/255 off"
    assert not [w for w in recwarn if "colour matrix" in str(w.message)]


def _untagged_10bit(path, luma_codes: np.ndarray) -> None:
    """A 10-bit H.264 clip of these luma codes (neutral chroma) that says nothing of its range."""
    import subprocess

    height, width = luma_codes.shape
    chroma = np.full((height // 2, width // 2), 512, "<u2").tobytes()
    picture = luma_codes.astype("<u2").tobytes() + chroma + chroma
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{width}x{height}", "-r", "25", "-i", "-"]
    subprocess.run(["ffmpeg", "-v", "error", *raw, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p10le",
                    str(path)], input=picture * 2, check=True)


def test_an_untagged_clip_with_full_range_shadows_is_said_with_the_retag_that_fixes_it(tmp_path):
    # An untagged full-range camera clip was read as limited range without a word: every code under 64
    # (a third of this ramp's shadows) came out black and its whites clipped. The warning's retag
    # line is checked to work here: the retagged clip reads its codes 0 and 1023 as black and white.
    ramp = np.tile(np.linspace(0, 1023, 96).round(), (48, 1))
    _untagged_10bit(tmp_path / "cam.mp4", ramp)
    grey = _retagged_as_said(tmp_path / "cam.mp4", "does not say its range").rgb[24, :, 1]
    assert grey[0] < 0.002 and grey[-1] > 0.998 and np.all(np.diff(grey) > 0)  # no clipped codes


def test_an_untagged_limited_range_clip_with_noise_under_black_is_not_called_full_range(tmp_path, recwarn):
    # a video-range camera's noise and superwhites: a few codes under black (64), up to 1019
    rng = np.random.default_rng(3)
    codes = np.clip(np.tile(np.linspace(64, 1019, 96), (48, 1)) + rng.normal(0, 4, (48, 96)), 0, 1019)
    codes[:, :24] = np.clip(64 + rng.normal(0, 6, (48, 24)), 0, None)  # a black area
    _untagged_10bit(tmp_path / "cam.mp4", codes.round())
    with open_reader(tmp_path / "cam.mp4") as reader:
        next(iter(reader))
    assert not [w for w in recwarn if "its range" in str(w.message)]
