"""focus-live's FreeD rate: each tick's lateness was taken into the next one, and ``--rate 100`` sent
84–97 packets a second (a serial read's own 10 ms timeout, a loaded machine)."""

from __future__ import annotations

import socket

from guangying.distance.reading import DistanceReading
from guangying.focus.controller import ControllerConfig, FocusController
from guangying.focus.live import run_live
from guangying.lens.freed import FreeDSender


class _LateSerialPort:
    """A sensor on a made-up clock whose waiting reads return 12 ms after the timeout asked for (a
    serial port's 10 ms granularity, a loaded machine) and whose reads without a wait return at once;
    one reading at the start."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sent_first = False

    def clock(self) -> float:
        return self.now_s

    def read(self, timeout_s: float) -> DistanceReading | None:
        self.now_s += timeout_s + (0.012 if timeout_s > 0 else 0.0001)
        if self.sent_first:
            return None
        self.sent_first = True
        return DistanceReading(self.now_s, 2.0, 1.0, "tfluna")


def test_a_tick_that_comes_late_does_not_cost_the_next_one():
    port = _LateSerialPort()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    try:
        sender = FreeDSender(("127.0.0.1", receiver.getsockname()[1]))
        controller = FocusController(ControllerConfig(85, 2.0, 0.03))
        stats = run_live(port, controller, sender, rate_hz=100, duration_s=4.0, clock=port.clock)
    finally:
        receiver.close()
    assert 398 <= stats.packets <= 401, stats.packets  # 4 s at 100 a second (it was 308)
