"""Code-value conversions at the I/O edges."""

from __future__ import annotations

import numpy as np
import pytest
from media_samples import picture

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.media import display_srgb, open_reader, open_writer
from guangying.media.pixels import linear_to_srgb_u8, to_code_values, to_float32


def test_code_values_round_to_nearest_and_saturate():
    values = np.array([[-0.5, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 7.0]], np.float32)
    assert to_code_values(values, np.uint8).tolist() == [[0, 0, 0, 1, 128, 255, 255]]
    assert to_code_values(values, np.uint16)[0, 4] == 32768


def test_uint_to_float_and_back_is_exact():
    codes8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    codes16 = np.arange(0, 65536, 7, dtype=np.uint16)[None, :]
    assert np.array_equal(to_code_values(to_float32(codes8), np.uint8), codes8)
    assert np.array_equal(to_code_values(to_float32(codes16), np.uint16), codes16)
    assert to_float32(codes8).dtype == np.float32 and to_float32(codes8)[15, 15] == 1.0


def test_fast_linear_to_srgb_u8_within_one_code_value_of_exact():
    linear = np.random.default_rng(3).random((64, 64, 3), dtype=np.float32) ** 3  # dense near black
    exact = to_code_values(linear_to_srgb(linear), np.uint8).astype(int)
    fast = linear_to_srgb_u8(linear).astype(int)
    assert np.abs(fast - exact).max() <= 1
    assert (fast != exact).mean() < 0.01


def test_mp4_writer_encodes_linear_input(tmp_path):
    path = tmp_path / "linear_in.mp4"
    with open_writer(path, fps=25) as writer:
        for _ in range(3):
            writer.write(srgb_to_linear(picture(4)), transfer="linear")
    with open_reader(path) as reader:
        frame = next(iter(reader))
    assert np.abs(frame.rgb - picture(4)).mean() < 0.01


def test_encoding_the_largest_float_exr_values_raises_no_overflow_warning():
    # A render's 3e38 highlight is finite in sRGB (~1.2e16); the user saw "overflow encountered in multiply".
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = linear_to_srgb(np.array([0.001, 0.5, 3e38], np.float32))
    assert np.isfinite(out).all() and out[2] > 1e15


@pytest.mark.filterwarnings("ignore:a picture holds NaN")
def test_very_bright_linear_pixels_are_written_white_not_black(tmp_path):
    """A sun in a half-float HDRI (up to 65504) or +inf: OpenCV's rounding through a 32-bit int wrapped
    them to 0, so a review file showed black where the sky was brightest."""
    rgb_linear = np.full((16, 32, 3), 0.5, np.float32)
    rgb_linear[:, :8], rgb_linear[:, 8:16], rgb_linear[:, 16:20] = 50000.0, 65504.0, np.inf
    for name in ("review.mp4", "sun.png", "sun16.tif"):
        with open_writer(tmp_path / name, fps=25) as writer:
            writer.write(rgb_linear, transfer="linear")
        with open_reader(tmp_path / name) as reader:
            frame = next(iter(reader))
        back = display_srgb(frame.rgb, frame.transfer)
        assert back[:, 1:19].min() > 0.95, name  # white (a codec's edge ringing aside)
        assert back[:, 24:].mean() == pytest.approx(0.735, abs=0.02), name
    codes = to_code_values(np.array([0.5, 40000.0, np.inf, np.nan, -np.inf], np.float32), np.uint16)
    assert codes.tolist() == [32768, 65535, 65535, 0, 0]


def test_nan_pixels_are_said_as_they_are_written_black(tmp_path):
    rgb = np.full((8, 8, 3), 0.5, np.float32)
    rgb[2, 2] = np.nan  # a render's division by zero: written as 0 without a word before
    with pytest.warns(UserWarning, match="NaN .* written black"):
        with open_writer(tmp_path / "n.png") as writer:
            writer.write(rgb)
    with open_reader(tmp_path / "n.png") as reader:
        back = next(iter(reader)).rgb
    assert back[2, 2].max() == 0.0 and back[0, 0].min() > 0.4


def test_a_float_file_gets_no_nan_and_no_coverage_past_one(tmp_path):
    """An EXR took NaN and infinity as they came (into every comp that reads it), and an alpha of 1.5 as
    1.5 with its colour premultiplied by 1.5; an 8-bit file wrote NaN black."""
    rgb = np.full((8, 8, 3), 0.5, np.float32)
    rgb[1, 1], rgb[2, 2] = np.nan, np.inf
    alpha = np.full((8, 8), 1.5, np.float32)
    alpha[0, 0] = -0.5
    with pytest.warns(UserWarning) as said, open_writer(tmp_path / "x.%04d.exr", content="rgba") as writer:
        writer.write(rgb, alpha=alpha, transfer="linear")
        writer.write(rgb, alpha=alpha, transfer="linear")
    messages = [str(w.message) for w in said]
    assert sum("NaN or infinite" in m for m in messages) == 1, messages  # once a writer
    assert sum("alpha runs -0.5–1.5" in m and "clipped" in m for m in messages) == 1, messages
    with open_reader(tmp_path / "x.%04d.exr") as reader:
        frame = next(iter(reader))
    assert np.isfinite(frame.rgb).all() and frame.rgb[1, 1].max() == 0.0 and frame.rgb[2, 2].min() == 65504.0
    assert frame.alpha.max() == 1.0 and frame.alpha.min() == 0.0
    assert frame.rgb[4, 4] == pytest.approx([0.5, 0.5, 0.5], abs=1e-3)  # straight colour, not × 1.5
    with pytest.warns(UserWarning, match="NaN is written black"), open_writer(tmp_path / "n.png") as writer:
        writer.write(rgb)


@pytest.mark.parametrize("name", ["c.%04d.png", "c.mp4"])
def test_srgb_colour_past_white_is_said_where_the_file_clips_it(tmp_path, name):
    """A picture graded above white (1.6) went into an 8-bit file clipped, without a word."""
    rgb = np.full((32, 32, 3), 0.5, np.float32)
    rgb[9, 9:12] = 1.6  # a specular point off every 4th row and column
    with pytest.warns(UserWarning) as said, open_writer(tmp_path / name) as writer:
        writer.write(rgb)
        writer.write(rgb)
    messages = [str(w.message) for w in said]
    assert sum("runs 0.5–1.6" in m and "clipped" in m and "light above white, write EXR" in m
               for m in messages) == 1, messages


def test_srgb_within_white_and_linear_highlights_are_not_said(tmp_path):
    import warnings

    rgb = np.full((32, 32, 3), 1.005, np.float32)  # a resize's ringing
    hdr = np.full((32, 32, 3), 4.0, np.float32)  # linear light: an EXR keeps it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_writer(tmp_path / "r.png") as writer:
            writer.write(rgb)
        with open_writer(tmp_path / "h.%04d.exr") as writer:
            writer.write(hdr, transfer="linear")
            writer.write(hdr - 2.5, transfer="srgb")  # sRGB past white, kept by a float file
