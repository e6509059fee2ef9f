"""Files other tools read the way we mean them: frame colour tags, TIFF alpha, the timecode of a
trimmed output, copied sound from its first packet, and matte EXR channel names."""

import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from guangying.cli.main import cli
from guangying.media import open_reader, open_writer

sys.path.insert(0, str(Path(__file__).parent))
from media_samples import matte, picture  # noqa: E402
from test_media_audio import _make_clip, _sound  # noqa: E402

BT709 = 1


def _invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _frame_tags(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return int(frame.color_primaries), int(frame.color_trc), int(frame.colorspace)


@pytest.mark.parametrize("ext", [".mov", ".mp4"])
def test_video_frames_carry_bt709_tags_through_a_transcode(tmp_path, ext):
    content = "rgba" if ext == ".mov" else "rgb"
    source = tmp_path / f"tagged{ext}"
    with open_writer(source, content=content) as writer:
        for i in range(2):
            writer.write(picture(i), alpha=matte() if content == "rgba" else None)
    assert _frame_tags(source) == (BT709, BT709, BT709)  # in the frame headers, not only the container
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg command not installed: the transcode half of this check needs it")
    copy = tmp_path / f"transcoded{ext}"
    codec = ["-c:v", "prores_ks", "-profile:v", "4444"] if ext == ".mov" else ["-c:v", "libx264"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *codec, str(copy)], check=True,
                   timeout=120)
    assert _frame_tags(copy) == (BT709, BT709, BT709)


@pytest.mark.parametrize(("premultiplied", "kind"), [(False, "UNASSALPHA"), (True, "ASSOCALPHA")])
def test_tiff_alpha_is_tagged_as_alpha(tmp_path, premultiplied, kind):
    path = tmp_path / "fg.tif"
    with open_writer(path, content="rgba", premultiplied=premultiplied) as writer:
        writer.write(picture(3), alpha=matte())
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.photometric.name == "RGB" and page.bitspersample == 16
        assert [e.name for e in page.extrasamples] == [kind]
        stored = page.asarray()
    np.testing.assert_allclose(stored[..., 3] / 65535, matte(), atol=1e-4)
    with open_reader(path, premultiplied=premultiplied) as reader:  # and we read it back as we wrote it
        frame = next(iter(reader))
    np.testing.assert_allclose(frame.alpha, matte(), atol=1e-4)
    inside = matte() > 0.5
    np.testing.assert_allclose(frame.rgb[inside], picture(3)[inside], atol=2e-3)


def test_matte_exr_offers_an_alpha_channel_by_default_and_y_on_request(tmp_path):
    import OpenEXR

    for channel in ("A", "Y"):
        path = tmp_path / f"m{channel}.exr"
        options = {} if channel == "A" else {"matte_channel": "Y"}
        with open_writer(path, content="matte", **options) as writer:
            writer.write(None, alpha=matte())
        assert list(OpenEXR.File(str(path), separate_channels=True).channels()) == [channel]
        with open_reader(path) as reader:
            np.testing.assert_allclose(next(iter(reader)).rgb[..., 0], matte(), atol=1e-3)


def test_cli_writes_the_matte_exr_channel_asked_for(tmp_path):
    import OpenEXR

    src = tmp_path / "in.png"
    with open_writer(src) as writer:
        writer.write(picture(0))
    _invoke("key", src, "--alpha", tmp_path / "a.exr", "--quiet")
    _invoke("key", src, "--alpha", tmp_path / "y.exr", "--exr-matte-channel", "Y", "--quiet")
    assert list(OpenEXR.File(str(tmp_path / "a.exr"), separate_channels=True).channels()) == ["A"]
    assert list(OpenEXR.File(str(tmp_path / "y.exr"), separate_channels=True).channels()) == ["Y"]


def test_output_of_start_n_carries_frame_n_timecode(tmp_path):
    src = tmp_path / "tc.mov"
    with open_writer(src, fps=Fraction(25), timecode="01:00:10:00") as writer:
        for i in range(12):
            writer.write(picture(i))
    out = tmp_path / "out.mov"
    _invoke("composite", src, "-b", "black", "-o", out, "--start", 7, "--quiet")
    with open_reader(out) as reader:
        assert reader.info.timecode == "01:00:10:07"
        first = next(iter(reader))
    assert first.timecode == "01:00:10:07"


@pytest.mark.parametrize("output", ["out.mp4", "out.mov"])
def test_copied_sound_keeps_its_first_packet(tmp_path, output):
    src = tmp_path / "aac.mp4"
    _make_clip(src, "aac")
    out = tmp_path / output
    _invoke("composite", src, "-b", "black", "-o", out, "--quiet")
    original, copied = _sound(src)["samples"], _sound(out)["samples"]
    assert copied.shape == original.shape
    np.testing.assert_array_equal(copied[:, :2048], original[:, :2048])  # the first 43 ms decode alike


@pytest.mark.parametrize("output", ["out.mp4", "out.mov"])
def test_one_frame_trim_has_one_frame_of_sound(tmp_path, output):
    src = tmp_path / "aac.mp4"
    _make_clip(src, "aac")
    out = tmp_path / output
    _invoke("composite", src, "-b", "black", "-o", out, "--start", 5, "--end", 5, "--quiet")
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        length_s = float(stream.duration * stream.time_base)
    assert abs(length_s - 1 / 24) < 0.0015  # the edit list ends on the frame (41.7 ms), not the packet


@pytest.mark.parametrize("frames", [(0, 0), (5, 5), (3, 6)])
def test_flac_is_cut_to_the_sample(tmp_path, frames):
    """FLAC packets hold ~100 ms: copied whole, a one-frame cut had twice the sound, or none at all.
    (In MKV, which keeps FLAC; the review MP4 gets AAC.)"""
    src = tmp_path / "take.mkv"
    written = _make_clip(src, "flac")
    out = tmp_path / "out.mkv"
    _invoke("composite", src, "-b", "black", "-o", out, "--start", frames[0], "--end", frames[1], "--quiet")
    sound = _sound(out)
    assert sound and sound["codec"] == "flac"
    per_frame = 48_000 // 24
    expected = written[:, frames[0] * per_frame : (frames[1] + 1) * per_frame]
    np.testing.assert_array_equal(sound["raw"].reshape(-1, 2).T, expected)


@pytest.mark.parametrize("glow", [0.5, 0.0])
def test_light_where_an_exrs_alpha_is_0_is_said_to_be_dropped(tmp_path, glow):
    """A CG element's additive glow (colour with alpha 0): un-premultiplied it is nothing there, and it
    vanished from the comp without a word."""
    import warnings

    import OpenEXR

    rgba = np.zeros((16, 16, 4), np.float32)
    rgba[2:6, 2:6] = (glow, glow * 0.8, glow * 0.5, 0.0)  # the glow
    rgba[8:14, 8:14] = (0.4, 0.3, 0.2, 1.0)  # a solid part
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGBA": rgba}).write(str(tmp_path / "cg.0001.exr"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_reader(tmp_path / "cg.####.exr") as reader:
            frame = next(iter(reader))
    said = [str(w.message) for w in caught if "where its alpha is 0" in str(w.message)]
    assert len(said) == (1 if glow else 0), said
    np.testing.assert_allclose(frame.rgb[10, 10], (0.4, 0.3, 0.2), atol=1e-3)
