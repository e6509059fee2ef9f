"""Optional serial focus-motor output: one ASCII line per command, in a user-given format.

Motor controllers differ (many hobby and DIY follow-focus boards take a line like ``F2048``); the
format string keeps this generic: ``{pos}`` is the integer motor position, ``{mm}`` the distance in mm.
"""

from __future__ import annotations

import math
import string
import time
import warnings

import serial

from guangying.base.errors import DeviceError, SettingsError
from guangying.base.events import say_again
from guangying.base.serial_ports import PORT_GONE_ERRORS

_LONGEST_LINE = 64  # bytes: a motor board's line buffer; a width of 100000000 stalled the port


def check_line_format(line_format: str) -> None:
    """Refuse a motor line format that names anything but ``{pos}`` and ``{mm}`` (``{x}``, ``{}``,
    ``{pos.__class__}``) or makes lines longer than a board takes: each failed at the first command,
    mid-take, as a traceback."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(line_format) if name is not None]
        bad = next((name for name in fields if name not in ("pos", "mm")), None)
        if bad is not None:
            raise KeyError(bad)
        longest = line_format.format(pos=-65535, mm=-99999).encode("ascii")
    except (KeyError, IndexError, ValueError, UnicodeEncodeError) as exc:
        raise SettingsError(f"motor line format {line_format!r}: use {{pos}} (motor position) and {{mm}} "
                            f"(distance in mm) and ASCII text, e.g. 'F{{pos}}\\n' ({exc!r})") from None
    if len(longest) > _LONGEST_LINE:
        raise SettingsError(f"motor line format {line_format!r} makes lines of {len(longest)} bytes; a motor "
                            f"board takes up to {_LONGEST_LINE}")


class SerialMotorOutput:
    """A focus motor on serial ``port``. A motor that goes away mid-take (a USB cable glitch) does not
    end it: its commands are dropped, its port is opened again by name every ``retry_s``, and it follows
    focus again once back, all said, while the take's FreeD goes on (it ended ``focus-live``, FreeD and
    the renderer's focus with it)."""

    def __init__(self, port: str, baudrate: int = 115200, line_format: str = "F{pos}\n",
                 retry_s: float = 0.5) -> None:
        check_line_format(line_format)
        try:
            self._serial = serial.Serial(port, baudrate=baudrate, timeout=0.1, write_timeout=0.1)
        except serial.SerialException as exc:
            raise DeviceError(f"cannot open focus-motor serial port {port}: {exc}") from exc
        self.port = port
        self.line_format = line_format
        self.dropped = 0  # commands a stalled motor took no bytes of
        self.retry_s = retry_s
        self._next_try: float | None = None  # while the motor is gone: when its port is tried again

    @property
    def gone(self) -> bool:
        return self._next_try is not None

    def send(self, motor_position: float, distance_m: float) -> bytes:
        """Write one command line. A motor that takes no bytes for 0.1 s (stalled, flow-controlled) has
        its commands dropped, said once, rather than ending the take; so has one that is gone, until its
        port opens again."""
        mm = -1 if not math.isfinite(distance_m) else round(distance_m * 1000)
        line = self.line_format.format(pos=int(round(motor_position)), mm=mm).encode("ascii")
        if self.gone and not self._back():
            return line
        try:
            self._serial.write(line)
        except serial.SerialTimeoutException:
            self.dropped += 1
            if self.dropped == 1:
                warnings.warn(f"the focus motor on {self.port} takes no bytes (write timed out): its "
                              "commands are dropped while it does not; FreeD goes on", stacklevel=2)
        except PORT_GONE_ERRORS as exc:
            self._serial.close()
            self._next_try = time.monotonic() + self.retry_s
            say_again(f"the focus motor on {self.port} went away ({exc}): its commands are dropped and its "
                      f"port is looked for every {self.retry_s:g} s; FreeD goes on", stacklevel=2)
        return line

    def _back(self) -> bool:
        """Try the gone motor's port again, when it is time to."""
        assert self._next_try is not None
        if time.monotonic() < self._next_try:
            return False
        self._next_try = time.monotonic() + self.retry_s
        try:
            self._serial.open()
        except PORT_GONE_ERRORS:
            return False
        self._next_try = None
        say_again(f"the focus motor on {self.port} is back; it follows focus again", stacklevel=3)
        return True

    def close(self) -> None:
        self._serial.close()
