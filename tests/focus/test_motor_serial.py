import os
import time
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


def _read_lines(master: int, count: int) -> bytes:
    got = b""
    while got.count(b"\n") < count:
        got += os.read(master, 64)
    return got


def test_a_motor_that_goes_away_mid_take_is_dropped_looked_for_and_followed_again(tmp_path):
    # a USB glitch: "write failed: [Errno 5] Input/output error" ended focus-live, its FreeD with it.
    # The port is named by a link, as /dev/serial/by-id/… names an adapter that comes back elsewhere.
    port = tmp_path / "motor"
    first_master, first_slave = os.openpty()
    tty.setraw(first_master)
    port.symlink_to(os.ttyname(first_slave))
    motor = SerialMotorOutput(str(port), retry_s=0.05)
    second_master = second_slave = None
    try:
        assert motor.send(100, 2.0) == b"F100\n" and _read_lines(first_master, 1) == b"F100\n"
        os.close(first_master)  # unplugged
        with pytest.warns(UserWarning, match="focus motor on .* went away .* looked for every 0.05 s"):
            motor.send(200, 2.0)
        assert motor.gone
        motor.send(300, 2.0)  # dropped, without a word or an error, while it is gone
        second_master, second_slave = os.openpty()
        tty.setraw(second_master)
        port.unlink()
        port.symlink_to(os.ttyname(second_slave))  # plugged back in
        time.sleep(0.06)
        with pytest.warns(UserWarning, match="focus motor on .* is back"):
            motor.send(400, 2.0)
        assert not motor.gone and _read_lines(second_master, 1) == b"F400\n"
    finally:
        motor.close()
        for fd in (first_slave, second_master, second_slave):
            if fd is not None:
                os.close(fd)
