"""Free-run time-of-day timecode, as cameras on set stamp their frames and a jam-synced sound recorder
conforms to: the clock's time at every frame rate (it was hours off at the NTSC rates)."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import pytest

from guangying.base.timecode import parse_timecode, timecode_clock_s
from guangying.live.capture import time_of_day_count, time_of_day_timecode

MORNING = datetime(2026, 12, 7, 8, 28, 42, 500_000).astimezone()  # local time, as the set's clock


def _label_s(timecode: str, fps: Fraction) -> float:
    """What a timecode label reads as a time of day, in seconds (its frame as a fraction of a second)."""
    hh, mm, ss, ff = (int(part) for part in timecode.replace(";", ":").split(":"))
    return hh * 3600 + mm * 60 + ss + ff / round(fps)


@pytest.mark.parametrize(("fps", "drop"), [
    (Fraction(25), False), (Fraction(50), False), (Fraction(24), False), (Fraction(30), False),
    (Fraction(30000, 1001), True), (Fraction(60000, 1001), True), (Fraction(24000, 1001), False),
])
def test_time_of_day_timecode_reads_the_clock(fps, drop):
    clock_s = 8 * 3600 + 28 * 60 + 42.5
    timecode = time_of_day_timecode(time_of_day_count(MORNING.timestamp(), fps), fps)
    assert (";" in timecode) == drop, timecode  # drop-frame where it exists, as cameras count it
    if fps.denominator == 1001 and not drop:  # 23.976: no drop-frame, 0.1 % of the day behind
        assert _label_s(timecode, fps) == pytest.approx(clock_s * 1000 / 1001, abs=1 / 24), timecode
    else:
        assert _label_s(timecode, fps) == pytest.approx(clock_s, abs=2.5 / float(fps)), timecode
    assert parse_timecode(timecode, fps)[1] == drop


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001)])
def test_time_of_day_counts_on_over_midnight(fps):
    midnight = datetime(2026, 12, 8).astimezone()
    before = time_of_day_count((midnight - timedelta(seconds=0.5)).timestamp(), fps)
    after = time_of_day_count((midnight + timedelta(seconds=0.5)).timestamp(), fps)
    assert 0 < after - before <= float(fps) * 1.01 + 2200  # on, not back (23.976 skips what it lags)
    assert time_of_day_timecode(after, fps).startswith("00:00:00")


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(24), Fraction(50), Fraction(30000, 1001),
                                 Fraction(60000, 1001), Fraction(24000, 1001)])
@pytest.mark.parametrize("hour", [0, 8, 22])
def test_focus_start_reads_a_time_of_day_label_as_live_stamped_it(fps, hour):
    # `focus --start 22:40:05:21` (a take's first label at 23.976) was read as clock time, 82 s away from
    # the moment `live` had stamped with it; at 29.97 up to 95 ms (the frames a drop-frame label skips)
    moment = datetime(2026, 12, 7, hour, 41, 27, 500_000).astimezone()
    since_midnight_s = hour * 3600 + 41 * 60 + 27.5
    label = time_of_day_timecode(time_of_day_count(moment.timestamp(), fps), fps)
    frame_starts_s = timecode_clock_s(label, fps)
    assert 0 <= since_midnight_s - frame_starts_s < 1 / fps, (label, frame_starts_s)


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(60000, 1001),
                                 Fraction(24000, 1001)])
def test_focus_start_reads_a_label_past_midnight_as_live_stamped_it(fps):
    # 24:00:05:00 (a take that ran past midnight) was read 86.4 s late at 23.976, 86 ms early at 29.97
    moment = datetime(2026, 12, 8, 0, 0, 5, 10_000).astimezone()
    label = time_of_day_timecode(time_of_day_count(moment.timestamp(), fps), fps)
    assert label.startswith("00:00:05")
    frame_starts_s = timecode_clock_s("24" + label[2:], fps)
    assert 0 <= 86400 + 5.01 - frame_starts_s < 1 / fps, (label, frame_starts_s)
