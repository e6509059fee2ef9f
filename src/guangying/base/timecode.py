"""SMPTE timecode strings ↔ frame counts, including drop-frame for 29.97 and 59.94 fps."""

from __future__ import annotations

import re
from fractions import Fraction

from guangying.base.errors import InputFormatError

_TIMECODE = re.compile(r"^(\d{1,2})[:](\d{2})[:](\d{2})([:;.,])(\d{2,3})$")


def standard_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction, the NTSC rates as theirs: 23.976 (or its float32) → 24000/1001,
    29.97 → 30000/1001, 59.94 → 60000/1001; any other rate as the nearest fraction over at most 1001.

    ``Fraction(29.97).limit_denominator(1001)`` alone is 2997/100, a rate no camera runs at: over an
    hour it drifts a tenth of a frame from 30000/1001 sound and picture, and editors flag it.
    """
    rate = Fraction(fps)
    nominal = round(rate * Fraction(1001, 1000))
    ntsc = Fraction(nominal * 1000, 1001)
    # the NTSC rates sit 0.1 % below a whole rate; a fifth of that tells them from one
    if nominal > 0 and abs(rate / ntsc - 1) < Fraction(2, 10000):
        return ntsc
    return rate.limit_denominator(1001)


def _nominal_rate(fps: Fraction) -> int:
    return max(1, round(fps))


def _drop_per_minute(fps: Fraction) -> int:
    # Drop-frame exists only for the NTSC rates: 2 frame numbers a minute at 29.97, 4 at 59.94.
    return 2 * (_nominal_rate(fps) // 30)


def time_of_day_drop_frame(fps: Fraction) -> bool:
    """Whether time-of-day timecode at ``fps`` is drop-frame: at 29.97 and 59.94, where only drop-frame
    keeps the timecode on the clock (counted at 30 a second, it falls 86 s a day behind)."""
    return Fraction(fps).denominator == 1001 and _drop_per_minute(Fraction(fps)) > 0


def labels_per_day(fps: Fraction, drop_frame: bool = False) -> int:
    """Timecode labels from 00:00:00:00 to the last before midnight at ``fps``."""
    nominal = _nominal_rate(fps)
    drop = _drop_per_minute(fps) if drop_frame else 0
    return (nominal * 600 - drop * 9) * 6 * 24


def parse_timecode(timecode: str, fps: Fraction) -> tuple[int, bool]:
    """Return (frame count since 00:00:00:00, is_drop_frame) for ``HH:MM:SS:FF`` (``;`` = drop-frame)."""
    match = _TIMECODE.match(timecode.strip())
    if match is None:
        raise InputFormatError(f"not a SMPTE timecode (HH:MM:SS:FF): {timecode!r}")
    hours, minutes, seconds, sep, frames = match.groups()
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frames)
    nominal = _nominal_rate(fps)
    if m >= 60 or s >= 60 or f >= nominal:  # 00:00:00:30 at 25 fps became 00:00:01:05, silently
        raise InputFormatError(f"not a timecode at {float(fps):g} fps: {timecode!r} (minutes and seconds "
                               f"0–59, frames 0–{nominal - 1})")
    drop = sep in ";," and _drop_per_minute(fps) > 0
    count = (h * 3600 + m * 60 + s) * nominal + f
    if drop:
        total_minutes = 60 * h + m
        count -= _drop_per_minute(fps) * (total_minutes - total_minutes // 10)
    return count, drop


def parse_given_timecode(timecode: str, fps: Fraction) -> tuple[int, bool]:
    """:func:`parse_timecode` for a timecode someone gives (an option, a setting): a drop-frame ``;`` at a
    rate without drop-frame is refused, where a file's is read as it is (it was taken as ``:`` without a
    word: 00:00:59;20 at 25 fps written as 00:00:59:20)."""
    count, drop = parse_timecode(timecode, fps)
    if not drop and re.search(r"[;,]\d+$", timecode.strip()):
        raise InputFormatError(f"{timecode!r}: drop-frame (;) exists at 29.97 and 59.94 fps only, not at "
                               f"{float(fps):g}; write it with ':'")
    if drop:
        match = _TIMECODE.match(timecode.strip())
        assert match is not None
        minutes, seconds, frames = int(match.group(2)), int(match.group(3)), int(match.group(5))
        skipped = _drop_per_minute(fps)
        if seconds == 0 and frames < skipped and minutes % 10:
            # taken as the label before it: row 0 said 20:41:59;28 for a given 20:42:00;00
            raise InputFormatError(f"{timecode!r} is no drop-frame label: each minute but every tenth "
                                   f"starts at ;{skipped:02d} (the next label is "
                                   f"{timecode.strip()[:-2]}{skipped:02d})")
    return count, drop


def timecode_clock_s(timecode: str, fps: Fraction) -> float:
    """The time of day a time-of-day timecode names, in seconds since midnight: its label as a count of
    frames since midnight at ``fps``, as a timecode generator counts them and ``guangying live`` stamps
    its frames (drop-frame labels at 29.97 stay within a few frames of the clock; labels at 23.976 fall
    3.6 s an hour behind it), counted again from each midnight (24:00:05:00 is 5 s into the next day).
    Read as hours, minutes, seconds and a part of a second, a 23.976 label of 22:40 named a moment 82 s
    away from the frame ``live`` had stamped with it."""
    count, drop = parse_given_timecode(timecode, fps)
    # past midnight (24:00:05:00 on) the count starts again from a day's labels, as live's does
    days, count = divmod(count, labels_per_day(fps, drop))
    return days * 86400.0 + float(count / Fraction(fps))


def format_timecode(count: int, fps: Fraction, drop_frame: bool = False) -> str:
    """Frame count since midnight → ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` for drop-frame); wraps at 24 h."""
    nominal = _nominal_rate(fps)
    drop = _drop_per_minute(fps) if drop_frame else 0
    count %= labels_per_day(fps, bool(drop))
    if drop:
        per_10_min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rem = divmod(count, per_10_min)
        count += drop * 9 * tens + (drop * ((rem - drop) // per_min) if rem > drop else 0)
    f = count % nominal
    s = count // nominal
    sep = ";" if drop else ":"
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{sep}{f:02d}"


def timecode_at(start_timecode: str, offset_frames: int, fps: Fraction) -> str:
    """The timecode ``offset_frames`` after ``start_timecode`` at ``fps``."""
    start, drop = parse_timecode(start_timecode, fps)
    return format_timecode(start + offset_frames, fps, drop)
