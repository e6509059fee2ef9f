"""``--fps`` as editors write it: 25, 23.976 or 24000/1001, kept as an exact fraction."""

from __future__ import annotations

from fractions import Fraction

import click

from guangying.base.timecode import standard_rate


class FrameRate(click.ParamType):
    """A frame rate in (0, 1000] fps; the NTSC rates come out as theirs (23.976 → 24000/1001).

    click's float refused ``24000/1001``, the form ffprobe prints and other commands here take.
    """

    name = "fps"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Fraction:
        if isinstance(value, Fraction):
            return value
        try:
            rate = Fraction(str(value).strip())  # "inf" and "nan" are no fraction
        except (ValueError, ZeroDivisionError):
            self.fail(f"give a frame rate such as 25, 23.976 or 24000/1001, got {value!r}", param, ctx)
        if not 0 < rate <= 1000:
            self.fail(f"a frame rate must be above 0 and at most 1000 fps, got {value}", param, ctx)
        return standard_rate(rate)


FRAME_RATE = FrameRate()
