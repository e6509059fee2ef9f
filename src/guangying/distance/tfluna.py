"""Benewake TF-series LiDAR rangefinders (TF-Luna, TFmini Plus, TF02-Pro) on a serial port.

Frame (UART 115200 8N1, little-endian): ``59 59 DistL DistH StrL StrH TempL TempH Checksum``;
checksum = low byte of the sum of bytes 0–7; distance in cm (or mm, the sensor's other binary output
format, set by ``5A 05 05 06 6A``); temperature °C = raw/8 − 256. A TF-Luna reports strength < 100 or
65535 when the return is unreliable (distance forced to 0). Its third output format (``5A 05 05 02
66``, "PIX", for old Pixhawk autopilots) is text: each distance in metres on a line, e.g. ``2.53``
and CR LF, with no strength.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import serial

from guangying.base.checks import Range, check_range
from guangying.base.errors import DeviceError
from guangying.base.serial_ports import PORT_GONE_ERRORS
from guangying.distance.reading import DistanceReading

HEADER = b"\x59\x59"
FRAME_LEN = 9
# the PIX format's line: metres. Matched whole, from a line end, so that "-1.0" (garbage) is no
# reading: it was read as 1.0 m and sent to the lens. The parser keeps the line end before a line.
_TEXT_LINE = re.compile(rb"(?<=\n)(\d{1,3}\.\d{1,3})\r?\n")
_TEXT_LINE_MAX = 10
# the sensor's own commands that set its output back to centimetre frames and keep that
_SET_CM_FRAMES = "5A 05 05 01 65, then 5A 04 11 6F to save"


class SensorTimeoutError(DeviceError, TimeoutError):
    """No valid frame arrived in time: wrong port/baud rate, sensor in I²C mode, or unplugged."""


class SensorGoneError(DeviceError):
    """The serial port itself failed: the sensor or its USB adapter was unplugged (or reset). The port
    is closed; :meth:`TfLunaSource.reopen` opens it again once it is back."""


@dataclass(frozen=True, slots=True)
class TfFrame:
    """One measurement: the distance in the frame's units (cm, or mm; metres in the text format), its
    strength and the chip's temperature (None in the text format, which sends neither)."""

    distance: float
    strength: int | None
    temperature_c: float | None
    unit_m: float = 0.01  # metres per unit of ``distance``

    @property
    def distance_m(self) -> float:
        return self.distance * self.unit_m


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


_DAMAGE_WINDOW = 200  # frames (good and bad) over which damage is counted: 2 s at 100 Hz
_DAMAGE_SHARE = 0.02  # more bad checksums than this share of them is said


class TfFrameParser:
    """Incremental parser: feed it any chunking of the byte stream, get whole frames back.

    After garbage or a bad checksum it slides forward one byte and looks for the next header, so a
    corrupted frame costs at most that frame. ``unit_mm``: the binary frames carry millimetres (the
    sensor set to its mm output). The text format is read as it comes (it holds no 0x59, the header's
    byte, so the two cannot be mistaken for each other).
    """

    def __init__(self, unit_mm: bool = False) -> None:
        self._buf = bytearray(b"\n")  # the stream starts as if at a line's start
        self._unit_m = 0.001 if unit_mm else 0.01
        self.frames_ok = 0
        self.checksum_errors = 0
        self.bytes_skipped = 0
        self.text_lines = 0

    def feed(self, data: bytes) -> list[TfFrame]:
        self._buf += data
        out: list[TfFrame] = []
        while True:
            start = self._buf.find(HEADER)
            if start < 0:
                out += self._text_lines()
                # keep a trailing 0x59 (it may be the first half of the next header) or a line's start
                keep = 1 if self._buf.endswith(HEADER[:1]) else self._line_start()
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
                    distance=int.from_bytes(frame[2:4], "little"),
                    strength=int.from_bytes(frame[4:6], "little"),
                    temperature_c=int.from_bytes(frame[6:8], "little") / 8.0 - 256.0,
                    unit_m=self._unit_m,
                )
            )

    def _text_lines(self) -> list[TfFrame]:
        """The text format's whole lines in the buffer, consumed; what lies between them is skipped."""
        out = []
        end = 0
        for line in _TEXT_LINE.finditer(self._buf):
            self.bytes_skipped += line.start() - end
            out.append(TfFrame(float(line.group(1)), None, None, unit_m=1.0))
            end = line.end()
        self.text_lines += len(out)
        del self._buf[: max(0, end - 1)]  # its line end stays: the next line starts after it
        return out

    def _line_start(self) -> int:
        """How many bytes at the buffer's end may begin a text line still to be completed, with the
        line end before them (0 when they follow no line end: the middle of garbage)."""
        tail = bytes(self._buf[-_TEXT_LINE_MAX:])
        cut = tail.rfind(b"\n") + 1
        rest = tail[cut:]
        return len(rest) + 1 if cut and re.fullmatch(rb"[\d.]*\r?", rest) else 0


def reading_from_frame(
    frame: TfFrame,
    t_s: float,
    min_strength: int = 100,
    min_range_m: float = 0.2,
    max_range_m: float = 8.0,
    source: str = "tfluna",
) -> DistanceReading:
    """Turn a frame into a reading; weak (< ``min_strength``), saturated (65535), zero or out-of-range
    returns get confidence 0 and distance nan so no filter mistakes them for a measurement. A text
    line (no strength) within the range gets confidence 0.5."""
    distance_m = frame.distance_m
    strength = frame.strength
    unreliable = (
        (strength is not None and (strength < min_strength or strength == 0xFFFF))
        # a binary frame's distance 65535 is the sensor's "no measurement" code, not 655 m (TF02, TF03)
        or (frame.strength is not None and frame.distance == 0xFFFF)
        or not (min_range_m <= distance_m <= max_range_m)
    )
    if unreliable:
        sent = f"{distance_m:g} m" + ("" if strength is None else f" at strength {strength}")
        return DistanceReading(t_s, float("nan"), 0.0, source, sent)
    # Strength grows with reflectivity/closeness; above ~1000 the return is as good as it gets.
    confidence = 0.5 if strength is None else min(1.0, max(0.2, strength / 1000.0))
    return DistanceReading(t_s, distance_m, confidence, source)


class TfLunaSource:
    """Read a TF-series LiDAR on a serial port: ``read()`` returns the next frame as a reading.

    ``timeout_s`` bounds how long ``read()`` waits for a *valid* frame; a sensor sending garbage (wrong
    baud rate) or nothing raises :class:`SensorTimeoutError` instead of hanging. ``unit_mm``: the
    sensor is set to millimetre frames; set to centimetres (its default), strong returns far beyond
    ``max_range_m`` are said to look like millimetres, once (each read as 10× the distance, they were
    all out of range, and focus got nothing). Its text output is read as it comes.
    """

    def __init__(
        self,
        port: str | serial.Serial,
        baudrate: int = 115200,
        timeout_s: float = 1.0,
        min_strength: int = 100,
        max_range_m: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        unit_mm: bool = False,
    ) -> None:
        check_range("LiDAR", "baudrate", baudrate, Range(1, 1e8, integer=True))
        check_range("LiDAR", "timeout_s", timeout_s, Range(0, 3600, lo_open=True, unit="s"))
        check_range("LiDAR", "max_range_m", max_range_m, Range(0, 1e4, lo_open=True, unit="m"))
        if isinstance(port, serial.Serial):
            self._serial = port
        else:
            try:
                # short reads: a caller sending at 50 Hz between a slow sensor's frames must not wait
                self._serial = serial.Serial(port, baudrate=baudrate, timeout=0.01)
            except serial.SerialException as exc:
                raise DeviceError(f"cannot open LiDAR serial port {port}: {exc}") from exc
        self.port_name = getattr(self._serial, "port", str(port))
        self.timeout_s = timeout_s
        self.min_strength = min_strength
        self.max_range_m = max_range_m
        self._clock = clock
        self.parser = TfFrameParser(unit_mm)
        self._unit_mm = unit_mm
        self._far_run = 0  # strong returns in a row beyond the range (read as cm: perhaps mm frames)
        self._pending: list[tuple[TfFrame, float]] = []
        self._heard_s: float | None = None  # the last valid frame (or the first read): silence counts from it
        self._received = 0  # bytes since, for the timeout's message
        self._last_chunk_s = -math.inf
        self._last_stamp_s = -math.inf
        self._mean_gap_s = 0.0  # running means of the time between bursts and the frames in one
        self._mean_frames = 0.0
        self._damage_since = (0, 0)  # (frames read, bad checksums) where the damage count starts
        self._said_damage = False

    def read(self, wait_s: float | None = None) -> DistanceReading | None:
        """The next reading. ``wait_s``: return None when none comes within it (a caller that sends
        at a steady rate between a slow sensor's readings); a sensor without a valid frame for
        ``timeout_s`` (counted from this call, or with ``wait_s`` from its last frame) raises."""
        now = self._clock()
        if wait_s is None or self._heard_s is None:  # silence counts from the first read after opening
            self._heard_s, self._received = now, 0
        deadline = self._heard_s + self.timeout_s
        give_up = math.inf if wait_s is None else now + wait_s
        while not self._pending:
            now = self._clock()
            if now > deadline:
                received, self._heard_s, self._received = self._received, None, 0  # the next read waits anew
                raise SensorTimeoutError(
                    f"no valid TF LiDAR frame on {self.port_name} within {self.timeout_s:g} s "
                    f"({received} bytes received, {self.parser.checksum_errors} bad checksums): check "
                    "the wiring, the baud rate (115200) and that the sensor is in UART mode"
                )
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting or FRAME_LEN))
                if self._serial.in_waiting:  # the rest of a burst that came with the first frame
                    chunk += self._serial.read(self._serial.in_waiting)
            except PORT_GONE_ERRORS as exc:  # the device node is gone, not just silent
                self._serial.close()
                raise SensorGoneError(
                    f"the LiDAR on {self.port_name} went away ({exc}): unplugged, or its USB adapter reset"
                ) from exc
            self._received += len(chunk)
            frames = self.parser.feed(chunk)
            self._check_damage()
            if frames:
                self._pending.extend(zip(frames, self._stamps(len(frames), self._clock()), strict=True))
                self._heard_s, self._received = self._clock(), 0
            elif self._clock() > give_up:  # after one look at the port, however short the wait
                return None
        frame, t_s = self._pending.pop(0)
        self._check_unit(frame)
        return reading_from_frame(frame, t_s, self.min_strength, max_range_m=self.max_range_m)

    def _check_damage(self) -> None:
        """Say (once) frames failing their checksum, counted over every 200: they are dropped, as they
        must be, but a cable or USB adapter damaging one frame in ten went unnoticed on set."""
        ok0, bad0 = self._damage_since
        ok, bad = self.parser.frames_ok - ok0, self.parser.checksum_errors - bad0
        if ok + bad < _DAMAGE_WINDOW:
            return
        self._damage_since = (self.parser.frames_ok, self.parser.checksum_errors)
        if bad > _DAMAGE_SHARE * (ok + bad) and not self._said_damage:
            self._said_damage = True
            warnings.warn(f"the TF LiDAR on {self.port_name} sends damaged frames ({bad} bad checksums "
                          f"beside {ok} good frames): they are dropped. Check its cable and USB adapter, and "
                          "the baud rate (115200)", stacklevel=3)

    def _check_unit(self, frame: TfFrame) -> None:
        strong = frame.strength is not None and self.min_strength <= frame.strength < 0xFFFF
        far = strong and frame.unit_m == 0.01 and frame.distance_m > 2 * self.max_range_m
        self._far_run = self._far_run + 1 if far else 0
        if self._far_run == 50:
            warnings.warn(
                f"the TF LiDAR on {self.port_name} reads {frame.distance_m:.1f} m with a strong return, "
                f"far beyond its {self.max_range_m:g} m range: it looks set to millimetre frames. Read it "
                f"as millimetres (--lidar-unit mm), or set it back to centimetres: send it {_SET_CM_FRAMES}",
                stacklevel=3,
            )

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

    def discard_waiting(self) -> None:
        """Forget the frames the port holds now: those queued while the take was being prepared (a
        compile, a model load) came as one burst, stamped as they were read, the subject's path of the
        last seconds squeezed into an instant (focus dipped 1 m at the start, then came back)."""
        try:
            self._serial.reset_input_buffer()
        except PORT_GONE_ERRORS as exc:
            raise SensorGoneError(f"the LiDAR on {self.port_name} went away ({exc})") from exc
        self.parser = TfFrameParser(self._unit_mm)
        self._pending.clear()
        self._heard_s, self._received = None, 0

    def reopen(self) -> None:
        """Open the port again by its name, after :class:`SensorGoneError`. A USB adapter plugged back
        in comes back under the same ``/dev/serial/by-id/…`` name (``/dev/ttyUSB0`` may change: name
        the sensor by id). Raises :class:`DeviceError` while it is not there."""
        self._serial.close()
        try:
            self._serial.open()
        except PORT_GONE_ERRORS as exc:
            raise DeviceError(f"the LiDAR on {self.port_name} is not back yet: {exc}") from exc
        self._pending.clear()
        self._heard_s, self._received = None, 0

    def readings(self) -> Iterator[DistanceReading]:
        while True:
            reading = self.read()
            assert reading is not None  # waits for one
            yield reading

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> TfLunaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
