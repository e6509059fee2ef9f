"""What a serial port whose device went away raises (a LiDAR's or a focus motor's USB adapter unplugged).

pyserial's flush of a pseudo-terminal or USB adapter gone mid-open raises termios.error, which is no
OSError (it ended focus-live as a bug report).
"""

from __future__ import annotations

import serial

try:
    import termios

    PORT_GONE_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # Windows
    PORT_GONE_ERRORS = (serial.SerialException, OSError)
