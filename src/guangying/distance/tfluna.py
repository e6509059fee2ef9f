"""Benewake TF-series LiDAR rangefinders (TF-Luna, TFmini Plus, TF02-Pro) on a serial port.

Frame (UART 115200 8N1, little-endian): ``59 59 DistL DistH StrL StrH TempL TempH Checksum``;
checksum = low byte of the sum of bytes 0–7; distance in cm; temperature °C = raw/8 − 256.
A TF-Luna reports strength < 100 or 65535 when the return is unreliable (distance forced to 0).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import serial

from guangying.base.errors import DeviceError
from guangying.distance.reading import DistanceReading

HEADER = b"\x59\x59"
FRAME_LEN = 9


class SensorTimeoutError(DeviceError, TimeoutError):
    """No valid frame arrived in time: wrong port/baud rate, sensor in I²C mode, or unplugged."""


@dataclass(frozen=True, slots=True)
class TfFrame:
    distance_cm: int
    strength: int
    temperature_c: float


def encode_frame(distance_cm: int, strength: int, temperature_c: float = 25.0) -> bytes:
    """Build one 9-byte frame exactly as the sensor sends it (used by simulators and tests)."""
    temp_raw = int(round((temperature_c + 256.0) * 8)) & 0xFFFF
    body = (
        HEADER
        + int(distance_cm & 0xFFFF).to_bytes(2, "little")
        + int(strength & 0xFFFF).to_bytes(2, "little")
        + temp_raw.to_bytes(2, "little")
    )
    return body + bytes([sum(body) & 0xFF])


class TfFrameParser:
    """Incremental parser: feed it any chunking of the byte stream, get whole frames back.

    After garbage or a bad checksum it slides forward one byte and looks for the next header, so a
    corrupted frame costs at most that frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames_ok = 0
        self.checksum_errors = 0
        self.bytes_skipped = 0

    def feed(self, data: bytes) -> list[TfFrame]:
        self._buf += data
        out: list[TfFrame] = []
        while True:
            start = self._buf.find(HEADER)
            if start < 0:
                # keep a trailing 0x59: it may be the first half of the next header
                keep = 1 if self._buf.endswith(HEADER[:1]) else 0
                self.bytes_skipped += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
                return out
            if start:
                self.bytes_skipped += start
                del self._buf[:start]
            if len(self._buf) < FRAME_LEN:
                return out
            frame = bytes(self._buf[:FRAME_LEN])
            if sum(frame[:8]) & 0xFF != frame[8]:
                self.checksum_errors += 1
                self.bytes_skipped += 1
                del self._buf[:1]
                continue
            del self._buf[:FRAME_LEN]
            self.frames_ok += 1
            out.append(
                TfFrame(
                    distance_cm=int.from_bytes(frame[2:4], "little"),
                    strength=int.from_bytes(frame[4:6], "little"),
                    temperature_c=int.from_bytes(frame[6:8], "little") / 8.0 - 256.0,
                )
            )


def reading_from_frame(
    frame: TfFrame,
    t_s: float,
    min_strength: int = 100,
    min_range_m: float = 0.2,
    max_range_m: float = 8.0,
    source: str = "tfluna",
) -> DistanceReading:
    """Turn a frame into a reading; weak (< ``min_strength``), saturated (65535), zero or out-of-range
    returns get confidence 0 and distance nan so no filter mistakes them for a measurement."""
    distance_m = frame.distance_cm / 100.0
    unreliable = (
        frame.strength < min_strength
        or frame.strength == 0xFFFF
        or not (min_range_m <= distance_m <= max_range_m)
    )
    if unreliable:
        return DistanceReading(t_s, float("nan"), 0.0, source)
    # Strength grows with reflectivity/closeness; above ~1000 the return is as good as it gets.
    confidence = min(1.0, max(0.2, frame.strength / 1000.0))
    return DistanceReading(t_s, distance_m, confidence, source)


class TfLunaSource:
    """Read a TF-series LiDAR on a serial port: ``read()`` returns the next frame as a reading.

    ``timeout_s`` bounds how long ``read()`` waits for a *valid* frame; a sensor sending garbage (wrong
    baud rate) or nothing raises :class:`SensorTimeoutError` instead of hanging.
    """

    def __init__(
        self,
        port: str | serial.Serial,
        baudrate: int = 115200,
        timeout_s: float = 1.0,
        min_strength: int = 100,
        max_range_m: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(port, serial.Serial):
            self._serial = port
        else:
            try:
                self._serial = serial.Serial(port, baudrate=baudrate, timeout=0.05)
            except serial.SerialException as exc:
                raise DeviceError(f"cannot open LiDAR serial port {port}: {exc}") from exc
        self.port_name = getattr(self._serial, "port", str(port))
        self.timeout_s = timeout_s
        self.min_strength = min_strength
        self.max_range_m = max_range_m
        self._clock = clock
        self.parser = TfFrameParser()
        self._pending: list[tuple[TfFrame, float]] = []
        self._last_chunk_s = -math.inf
        self._last_stamp_s = -math.inf
        self._mean_gap_s = 0.0  # running means of the time between bursts and the frames in one
        self._mean_frames = 0.0

    def read(self) -> DistanceReading:
        deadline = self._clock() + self.timeout_s
        received = 0
        while not self._pending:
            if self._clock() > deadline:
                raise SensorTimeoutError(
                    f"no valid TF LiDAR frame on {self.port_name} within {self.timeout_s:g} s "
                    f"({received} bytes received, {self.parser.checksum_errors} bad checksums): check the "
                    "wiring, the baud rate (115200) and that the sensor is in UART mode"
                )
            chunk = self._serial.read(max(1, self._serial.in_waiting or FRAME_LEN))
            if self._serial.in_waiting:  # the rest of a burst that came with the first frame
                chunk += self._serial.read(self._serial.in_waiting)
            received += len(chunk)
            frames = self.parser.feed(chunk)
            if frames:
                self._pending.extend(zip(frames, self._stamps(len(frames), self._clock()), strict=True))
        frame, t_s = self._pending.pop(0)
        return reading_from_frame(frame, t_s, self.min_strength, max_range_m=self.max_range_m)

    @property
    def frame_interval_s(self) -> float:
        """The sensor's frame period as estimated from the bursts so far (0 = not yet known)."""
        return self._mean_gap_s / self._mean_frames if self._mean_frames else 0.0

    def _stamps(self, n: int, arrived_s: float) -> list[float]:
        """Times for ``n`` frames that arrived together at ``arrived_s``. A USB serial adapter hands
        the port its bytes in bursts (every 16 ms by default on FTDI and CP210x chips), so a 250–1000 Hz
        sensor's frames arrive 4–16 at a time: stamped on arrival they would look simultaneous, up to
        16 ms off, and the focus filter would take each burst for one instant. The last frame of the
        burst gets the arrival time, each earlier one a frame period before the next (the period
        estimated from the bursts so far), or, where that would reach back before the previous reading,
        the burst is spread evenly since it."""
        gap = arrived_s - self._last_chunk_s
        self._last_chunk_s = arrived_s
        if 0.0 < gap <= 0.2:
            # the ratio of running means: a burst the port splits in two (one frame, then the rest a
            # moment later) still averages out to the sensor's period
            if self._mean_gap_s == 0.0:
                self._mean_gap_s, self._mean_frames = gap, float(n)
            else:
                self._mean_gap_s += 0.05 * (gap - self._mean_gap_s)
                self._mean_frames += 0.05 * (n - self._mean_frames)
        period = self.frame_interval_s
        first = arrived_s - (n - 1) * period
        if first > self._last_stamp_s or n == 1:
            stamps = [first + k * period for k in range(n)]
        else:  # the burst came sooner than its frames could have: spread it over the time there was
            last = self._last_stamp_s
            stamps = [last + (arrived_s - last) * (k + 1) / n for k in range(n)]
        stamps[-1] = arrived_s
        self._last_stamp_s = arrived_s
        return stamps

    def readings(self) -> Iterator[DistanceReading]:
        while True:
            yield self.read()

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> TfLunaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
