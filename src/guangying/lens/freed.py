"""FreeD D1 camera-tracking messages (29 bytes, big-endian) over UDP: the one codec that focus output
and camera tracking share.

Layout: [0] 0xD1; [1] camera id; [2–4] pan, [5–7] tilt, [8–10] roll: signed 24-bit, 1/32768°;
[11–13] X, [14–16] Y, [17–19] Z: signed 24-bit, 1/64 mm; [20–22] zoom, [23–25] focus: unsigned
24-bit counts; [26–27] spare (we put iris there when known); [28] checksum = (0x40 − Σ bytes 0–27) mod 256.

Receivers (Unreal LiveLink FreeD, Aximmetry, …) map the raw focus count to a distance with their own
lens file or min/max range, so we fill the focus field with either the motor's encoder count (when a
lens calibration exists) or the focus distance in millimetres (the receiver's range is then 0 → 16 777 m).
"""

from __future__ import annotations

import math
import select
import socket
import struct
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from guangying.base.errors import DeviceError, InputFormatError, SettingsError

D1 = 0xD1
PACKET_LEN = 29
_S24_MIN, _S24_MAX = -(1 << 23), (1 << 23) - 1
U24_MAX = 0xFFFFFF


@dataclass(frozen=True, slots=True)
class FreeDPose:
    """One D1 message in engineering units."""

    camera_id: int = 1
    pan_deg: float = 0.0
    tilt_deg: float = 0.0
    roll_deg: float = 0.0
    x_mm: float = 0.0
    y_mm: float = 0.0
    z_mm: float = 0.0
    zoom: int = 0
    focus: int = 0
    spare: int = 0


def _s24(value: float, name: str) -> bytes:
    raw = round(value)
    if not _S24_MIN <= raw <= _S24_MAX:
        raise SettingsError(f"FreeD {name} {value} is outside the signed 24-bit range")
    return (raw & 0xFFFFFF).to_bytes(3, "big")


def _u24(value: int, name: str) -> bytes:
    if not 0 <= value <= U24_MAX:
        raise SettingsError(f"FreeD {name} {value} is outside the unsigned 24-bit range 0–16777215")
    return int(value).to_bytes(3, "big")


def checksum(body: bytes) -> int:
    """(0x40 − sum of bytes 0–27) mod 256."""
    return (0x40 - sum(body[:28])) & 0xFF


def encode_d1(pose: FreeDPose) -> bytes:
    """Pack a pose into the 29-byte D1 message."""
    if not 0 <= pose.camera_id <= 255:
        raise SettingsError(f"FreeD camera id must be 0–255, got {pose.camera_id}")
    body = (
        bytes([D1, pose.camera_id])
        + _s24(pose.pan_deg * 32768, "pan")
        + _s24(pose.tilt_deg * 32768, "tilt")
        + _s24(pose.roll_deg * 32768, "roll")
        + _s24(pose.x_mm * 64, "x")
        + _s24(pose.y_mm * 64, "y")
        + _s24(pose.z_mm * 64, "z")
        + _u24(pose.zoom, "zoom")
        + _u24(pose.focus, "focus")
        + int(pose.spare & 0xFFFF).to_bytes(2, "big")
    )
    return body + bytes([checksum(body)])


def _from_s24(b: bytes) -> int:
    v = int.from_bytes(b, "big")
    return v - (1 << 24) if v & 0x800000 else v


def decode_d1(packet: bytes) -> FreeDPose:
    """Unpack a D1 message; raises ``InputFormatError`` (a ``ValueError``) on wrong length, type or
    checksum."""
    if len(packet) != PACKET_LEN:
        raise InputFormatError(f"FreeD D1 message must be {PACKET_LEN} bytes, got {len(packet)}")
    if packet[0] != D1:
        raise InputFormatError(f"not a FreeD D1 message (type byte 0x{packet[0]:02X})")
    if checksum(packet) != packet[28]:
        raise InputFormatError(f"FreeD checksum mismatch: 0x{packet[28]:02X} != 0x{checksum(packet):02X}")
    return FreeDPose(
        camera_id=packet[1],
        pan_deg=_from_s24(packet[2:5]) / 32768,
        tilt_deg=_from_s24(packet[5:8]) / 32768,
        roll_deg=_from_s24(packet[8:11]) / 32768,
        x_mm=_from_s24(packet[11:14]) / 64,
        y_mm=_from_s24(packet[14:17]) / 64,
        z_mm=_from_s24(packet[17:20]) / 64,
        zoom=int.from_bytes(packet[20:23], "big"),
        focus=int.from_bytes(packet[23:26], "big"),
        spare=int.from_bytes(packet[26:28], "big"),
    )


def to_u24(value: float) -> int:
    """Round and clamp to the FreeD unsigned 24-bit range 0–16 777 215 (NaN → 0, +∞ → the maximum)."""
    if not math.isfinite(value):
        return U24_MAX if value > 0 else 0
    return int(min(max(round(value), 0), U24_MAX))


def focus_counts_from_motor(motor_position: float) -> int:
    """FreeD focus field from a motor/encoder position (e.g. 0–4095)."""
    return to_u24(motor_position)


def focus_counts_from_distance_mm(distance_m: float) -> int:
    """FreeD focus field carrying the focus distance in millimetres (∞ → 0xFFFFFF)."""
    return to_u24(distance_m * 1000.0)


def distance_m_from_focus_counts_mm(counts: int) -> float:
    """Inverse of :func:`focus_counts_from_distance_mm`."""
    return math.inf if counts >= U24_MAX else counts / 1000.0


def parse_host_port(target: str, default_port: int = 40000) -> tuple[str, int]:
    """``"127.0.0.1:40000"`` → ``("127.0.0.1", 40000)``; the error says what form is expected."""
    host, sep, port = target.rpartition(":")
    if not sep:
        if target.strip().isdigit():  # resolved as an address (40000 → 0.0.156.64): sent nowhere, unsaid
            raise SettingsError(f"FreeD target '{target}' is a port alone: give HOST:PORT "
                                f"(127.0.0.1:{target.strip()} for this machine)")
        return target, default_port
    try:
        port_num = int(port)
    except ValueError as exc:
        raise SettingsError(
            f"FreeD target '{target}' must look like HOST:PORT (e.g. 127.0.0.1:40000)"
        ) from exc
    if not 0 < port_num < 65536:
        raise SettingsError(f"FreeD port {port_num} is outside 1–65535")
    return host.strip("[]") or "127.0.0.1", port_num


class FreeDSender:
    """Send D1 messages over UDP to a receiver (Unreal LiveLink FreeD, Aximmetry, …)."""

    def __init__(self, target: str | tuple[str, int]) -> None:
        host, port = parse_host_port(target) if isinstance(target, str) else target
        # resolve once, up front: an unknown host is a clear error before any work, not a traceback
        # at the first packet
        try:
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise DeviceError(
                f"cannot resolve the FreeD receiver host '{host}' ({exc}); give its IP address, "
                "e.g. 192.168.1.20:40000"
            ) from exc
        self.address = address
        self.target = f"{host}:{port}"
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sent = 0

    def send(self, pose: FreeDPose) -> bytes:
        packet = encode_d1(pose)
        try:
            self._sock.sendto(packet, self.address)
        except OSError as exc:
            raise DeviceError(f"cannot send FreeD to {self.target}: {exc.strerror or exc}") from exc
        self.sent += 1
        return packet

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> FreeDSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What a packet logger may write between two messages of a capture (a length, a time stamp, a header)
_LOGGER_BYTES = 64


def read_d1_capture(path: str | Path) -> list[FreeDPose]:
    """D1 messages from a capture file: the raw UDP payloads back to back (what a packet logger or
    ``nc -u -l PORT > capture.freed`` saves). Bytes that are not a valid message (a torn first packet,
    other traffic, a damaged message) are skipped by re-synchronising on the next 0xD1 with a good
    checksum; a file with no valid message at all is an error. :func:`read_d1_capture_slots` keeps a
    damaged message's place."""
    return [pose for pose in read_d1_capture_slots(path) if pose is not None]


def read_d1_capture_slots(path: str | Path) -> list[FreeDPose | None]:
    """As :func:`read_d1_capture`, with None in the place of each damaged message (29 bytes, or about
    that, between two good ones): a head sends one message a frame, so the messages after a dropped
    one were each taken for the frame before theirs, the whole rest of a take one frame early."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputFormatError(f"cannot read FreeD capture {p}: {exc}") from exc
    starts: list[int] = []
    i = 0
    while i + PACKET_LEN <= len(data):
        chunk = data[i : i + PACKET_LEN]
        if chunk[0] == D1 and checksum(chunk) == chunk[28]:
            starts.append(i)
            i += PACKET_LEN
        else:
            i += 1
    # One in 65536 runs of other bytes starts 0xD1 and passes the 8-bit checksum: in 200 KB of noise,
    # "poses from cameras 137 and 218". A head streams: a message with no other within a few dozen bytes
    # (a logger's length prefix or timestamp between them) is such a chance; a file of one message is one
    real = [i for k, i in enumerate(starts) if len(data) < 2 * PACKET_LEN
            or (k and i - starts[k - 1] <= PACKET_LEN + _LOGGER_BYTES)
            or (k + 1 < len(starts) and starts[k + 1] - i <= PACKET_LEN + _LOGGER_BYTES)]
    # A message's place: 29 bytes plus what the logger writes before each (a 16-byte record header made
    # every message look followed by a damaged one when the gap was measured in 29-byte messages)
    spacings = sorted(b - a for a, b in zip(real, real[1:], strict=False)
                      if b - a <= PACKET_LEN + _LOGGER_BYTES)
    stride = spacings[len(spacings) // 2] if spacings else PACKET_LEN
    poses: list[FreeDPose | None] = []
    not_freed: list[tuple[int, int]] = []  # (offset, bytes) of long runs with no damaged message in them
    for k, i in enumerate(real):
        if k:  # bytes before the first message are a torn packet, not a message lost
            lost = round((i - real[k - 1]) / stride) - 1
            if lost > 2:  # a long run counts only the damaged messages in it: each keeps its 0xD1
                begun = data.count(D1, real[k - 1] + PACKET_LEN, i - PACKET_LEN + 1)
                if begun < lost:
                    not_freed.append((real[k - 1] + PACKET_LEN, i - real[k - 1] - PACKET_LEN))
                lost = min(lost, begun)
            poses.extend([None] * lost)
        poses.append(decode_d1(data[i : i + PACKET_LEN]))
    if not_freed:
        offset, size = not_freed[0]
        warnings.warn(f"{p}: {len(not_freed)} run(s) of bytes that are not FreeD messages between two "
                      f"messages (the first: {size} bytes at byte {offset}); only the damaged messages in "
                      "them keep a frame's place, so frames after such a run may be off if the head's "
                      "messages were lost there", stacklevel=2)
    if not poses:
        raise InputFormatError(
            f"{p}: no FreeD D1 message found ({len(data)} bytes; each message is 29 bytes starting 0xD1 "
            "with a valid checksum)"
        )
    return poses


# Linux's SO_TIMESTAMPNS (the asm-generic value; Python's socket module does not name it): the kernel
# stamps each datagram as it arrives. Stamped when Python read it, a message waited for the listener
# thread to run (the cores and the interpreter busy with the engine): with a 1080p key running beside it,
# 6–51 ms late at the 95th percentile and up to 24–350 ms as the machine's load varied, against 0.1 ms
# (p95) for the kernel's stamp (measured on this project's 2-core machine, 50 Hz FreeD).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_WALL_CLOCK_CHECK_S = 1.0  # how often the wall clock's offset from time.monotonic() is measured again


class _KernelStamps:
    """Datagram arrival times from the kernel (wall clock), on ``time.monotonic()``'s clock."""

    def __init__(self, sock: socket.socket) -> None:
        self.on = sys.platform.startswith("linux")
        if self.on:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            except OSError:
                self.on = False
        self._offset_s, self._measured_s = 0.0, -math.inf

    def _wall_minus_monotonic(self) -> float:
        now = time.monotonic()
        if now - self._measured_s > _WALL_CLOCK_CHECK_S:
            best = math.inf
            for _ in range(3):  # the tightest bracket: a pre-emption between the reads would skew it
                before, wall, after = time.monotonic(), time.time(), time.monotonic()
                if after - before < best:
                    best, self._offset_s = after - before, wall - 0.5 * (before + after)
            self._measured_s = now
        return self._offset_s

    def arrival_s(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        now = time.monotonic()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(data)
                t_s = sec + nsec * 1e-9 - self._wall_minus_monotonic()
                if now - 10.0 <= t_s <= now + 0.001:
                    return t_s
                self._measured_s = -math.inf  # the wall clock was set meanwhile: measured again next time
        return now


class FreeDReceiver:
    """Listen for D1 messages on a UDP port (``"0.0.0.0:40000"``); malformed datagrams are counted in
    ``rejected`` and skipped, never fatal. Each message's time is its arrival (``time.monotonic``), as
    the kernel stamped it where it can (Linux), else when it was read."""

    def __init__(self, listen: str | tuple[str, int]) -> None:
        self.address = parse_host_port(listen) if isinstance(listen, str) else listen
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.bind(self.address)
        except OSError as exc:
            self._sock.close()
            host, port = self.address
            raise DeviceError(f"cannot listen for FreeD on {host}:{port}: {exc}") from exc
        self.port = int(self._sock.getsockname()[1])
        self._stamps = _KernelStamps(self._sock)
        self._ancillary = socket.CMSG_SPACE(_TIMESPEC.size) if self._stamps.on else 0
        self.received = 0
        self.rejected = 0

    def receive(self, timeout_s: float) -> tuple[float, FreeDPose] | None:
        """The next valid message with its arrival time (``time.monotonic``), or None after ``timeout_s``
        without one."""
        deadline = time.monotonic() + timeout_s
        while (got := self.receive_slot(deadline - time.monotonic())) is not None:
            if got[1] is not None:
                return got[0], got[1]
        return None

    def receive_slot(self, timeout_s: float) -> tuple[float, FreeDPose | None] | None:
        """As :meth:`receive`, with a damaged message (a D1 message whose checksum fails) given as
        ``(time, None)``: it held a frame's place, which a recording keeps. Other datagrams are no
        message and are only counted in ``rejected``."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.wait(left):
                return None
            got = self._read()
            if got is not None:
                return got

    def wait(self, timeout_s: float) -> bool:
        """Whether a datagram is waiting, or arrives within ``timeout_s``."""
        readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
        return bool(readable)

    def waiting(self) -> list[tuple[float, FreeDPose | None]]:
        """Every message the port holds now, without waiting (as :meth:`receive_slot` gives them): a
        reader that must know every message that arrived before a moment takes them all at once."""
        slots = []
        while self.wait(0.0):
            got = self._read()
            if got is not None:
                slots.append(got)
        return slots

    def _read(self) -> tuple[float, FreeDPose | None] | None:
        """One datagram that is waiting: a message, a damaged message, or None (counted as rejected)."""
        if self._stamps.on:
            packet, ancillary, _, _ = self._sock.recvmsg(512, self._ancillary)
            arrival_s = self._stamps.arrival_s(ancillary)
        else:  # no kernel stamps (and no recvmsg on Windows)
            packet, arrival_s = self._sock.recv(512), time.monotonic()
        try:
            pose = decode_d1(packet)
        except InputFormatError:
            self.rejected += 1
            if len(packet) == PACKET_LEN and packet[0] == D1:
                return arrival_s, None
            return None
        self.received += 1
        return arrival_s, pose

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> FreeDReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
