import os
import tty
import warnings

import pytest

from guangying.base.errors import SettingsError
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


@pytest.mark.parametrize("line_format",
                         ["{x}\n", "F{}\n", "F{pos.__class__}\n", "F{pos:>100000000}\n", "F{pos"])
def test_a_motor_line_format_that_cannot_be_sent_is_refused_before_the_take(line_format):
    # each was a traceback at the first command, mid-take ({pos.__class__} sent "<class 'int'>")
    with pytest.raises(SettingsError, match="motor line format"):
        SerialMotorOutput("/dev/no-such-motor", line_format=line_format)


def test_a_motor_that_takes_no_bytes_has_its_commands_dropped_and_said_once():
    # a stalled or flow-controlled board: its write timeout ended focus-live with a traceback
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        motor = SerialMotorOutput(os.ttyname(slave))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for position in range(20000):  # nobody reads the other end: its buffer fills
                motor.send(position, 2.0)
                if motor.dropped > 3:
                    break
        motor.close()
    finally:
        os.close(master)
        os.close(slave)
    assert motor.dropped > 3
    said = [str(w.message) for w in caught if "takes no bytes" in str(w.message)]
    assert len(said) == 1, said
