import os
import tty

import pytest

from guangying.focus.motor import SerialMotorOutput


def test_motor_lines_through_pty():
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        motor = SerialMotorOutput(os.ttyname(slave), line_format="F{pos} D{mm}\n")
        assert motor.send(2047.6, 2.5) == b"F2048 D2500\n"
        motor.send(100, float("inf"))
        got = b""
        while got.count(b"\n") < 2:
            got += os.read(master, 64)
        motor.close()
    finally:
        os.close(master)
        os.close(slave)
    assert got == b"F2048 D2500\nF100 D-1\n"


def test_motor_missing_port():
    with pytest.raises(OSError, match="focus-motor serial port"):
        SerialMotorOutput("/dev/no-such-motor")
