"""Optional serial focus-motor output: one ASCII line per command, in a user-given format.

Motor controllers differ (many hobby and DIY follow-focus boards take a line like ``F2048``); the
format string keeps this generic: ``{pos}`` is the integer motor position, ``{mm}`` the distance in mm.
"""

from __future__ import annotations

import math

import serial

from guangying.base.errors import DeviceError


class SerialMotorOutput:
    def __init__(self, port: str, baudrate: int = 115200, line_format: str = "F{pos}\n") -> None:
        try:
            self._serial = serial.Serial(port, baudrate=baudrate, timeout=0.1, write_timeout=0.1)
        except serial.SerialException as exc:
            raise DeviceError(f"cannot open focus-motor serial port {port}: {exc}") from exc
        self.line_format = line_format

    def send(self, motor_position: float, distance_m: float) -> bytes:
        mm = -1 if not math.isfinite(distance_m) else round(distance_m * 1000)
        line = self.line_format.format(pos=int(round(motor_position)), mm=mm).encode("ascii")
        self._serial.write(line)
        return line

    def close(self) -> None:
        self._serial.close()
