"""SMPTE timecode arithmetic, including drop-frame."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from guangying.base.timecode import format_timecode, parse_timecode, timecode_at
from guangying.media.api import as_fps

NTSC = Fraction(30000, 1001)


def test_non_drop_rolls_over_seconds_and_days():
    assert timecode_at("00:00:00:24", 1, Fraction(25)) == "00:00:01:00"
    assert timecode_at("23:59:59:23", 1, Fraction(24)) == "00:00:00:00"


def test_drop_frame_skips_two_numbers_each_minute_except_every_tenth():
    assert timecode_at("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert timecode_at("00:09:59;29", 1, NTSC) == "00:10:00;00"
    # One hour of 29.97 drop-frame is 107892 frames.
    assert parse_timecode("01:00:00;00", NTSC) == (107892, True)


@pytest.mark.parametrize("count", [0, 1, 1799, 1800, 17981, 17982, 107891, 107892, 123456])
def test_drop_frame_parse_and_format_are_inverse(count):
    assert parse_timecode(format_timecode(count, NTSC, drop_frame=True), NTSC) == (count, True)


def test_bad_timecode_is_refused():
    with pytest.raises(ValueError, match="not a SMPTE timecode"):
        parse_timecode("10 o'clock", Fraction(25))
    # out-of-range fields were carried over: 00:00:00:30 at 25 fps became 00:00:01:05
    for typed in ("00:00:00:30", "25:61:99:99", "00:00:60:00"):
        with pytest.raises(ValueError, match="not a timecode at 25 fps"):
            parse_timecode(typed, Fraction(25))
    assert parse_timecode("00:00:59:24", Fraction(25)) == (59 * 25 + 24, False)


@pytest.mark.parametrize(
    ("typed", "rate"),
    [
        (29.97, Fraction(30000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (float(np.float32(29.97)), Fraction(30000, 1001)),  # a DPX or EXR header's float
        ("24000/1001", Fraction(24000, 1001)),
        (25, Fraction(25)),
        (24, Fraction(24)),
        (1, Fraction(1)),  # 0.1 % from 1000/1001: a whole rate, not an NTSC one
        (12.5, Fraction(25, 2)),
    ],
)
def test_typed_rates_become_the_rates_cameras_run_at(typed, rate):
    assert as_fps(typed) == rate


def test_a_rate_too_small_to_be_one_is_refused():
    """--fps 1e-9 rounded to 0 fps, was taken as no rate given, and the sequence ran at 24."""
    from guangying.base.errors import MediaError

    with pytest.raises(MediaError, match="below one frame in 1000 s"):
        as_fps(1e-9)
    assert as_fps(0.5) == Fraction(1, 2)  # a time-lapse's rate is one
    with pytest.raises(MediaError, match="above 1000 fps"):  # it wrote a clip of no duration
        as_fps("1e9")
    assert as_fps(1000) == 1000


def test_a_drop_frame_timecode_given_at_a_rate_without_drop_frame_is_refused():
    # `focus --fps 25 --start-timecode 00:00:59;20` wrote 00:00:59:20 without a word (DIT)
    from guangying.base.errors import InputFormatError
    from guangying.base.timecode import parse_given_timecode

    with pytest.raises(InputFormatError, match=r"drop-frame \(;\) exists at 29\.97 and 59\.94 fps only"):
        parse_given_timecode("00:00:59;20", Fraction(25))
    assert parse_given_timecode("00:01:00;02", NTSC) == parse_timecode("00:01:00;02", NTSC)
    assert parse_given_timecode("00:00:59:20", Fraction(25)) == (59 * 25 + 20, False)
    assert parse_timecode("00:00:59;20", Fraction(25)) == (59 * 25 + 20, False)  # a file's: read as it is


@pytest.mark.parametrize(("given", "rate", "next_label"), [
    ("20:42:00;00", NTSC, "20:42:00;02"), ("00:01:00;01", NTSC, "00:01:00;02"),
    ("20:42:00;03", Fraction(60000, 1001), "20:42:00;04"),
])
def test_a_drop_frame_label_that_does_not_exist_is_refused(given, rate, next_label):
    # taken as the label before it: `focus --start 20:42:00;00` wrote row 0 as 20:41:59;28
    from guangying.base.errors import InputFormatError
    from guangying.base.timecode import parse_given_timecode

    with pytest.raises(InputFormatError, match=f"is no drop-frame label.*the next label is {next_label}"):
        parse_given_timecode(given, rate)
    assert parse_given_timecode(next_label, rate)[1]
    assert parse_given_timecode("20:40:00;00", rate)[1]  # every tenth minute keeps ;00
