"""FreeD D1 camera-tracking messages (29 bytes, big-endian) over UDP.

Layout: [0] 0xD1; [1] camera id; [2–4] pan, [5–7] tilt, [8–10] roll: signed 24-bit, 1/32768°;
[11–13] X, [14–16] Y, [17–19] Z: signed 24-bit, 1/64 mm; [20–22] zoom, [23–25] focus: unsigned
24-bit counts; [26–27] spare (we put iris there when known); [28] checksum = (0x40 − Σ bytes 0–27) mod 256.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

D1 = 0xD1
PACKET_LEN = 29
_S24_MIN, _S24_MAX = -(1 << 23), (1 << 23) - 1


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
        raise ValueError(f"FreeD {name} {value} is outside the signed 24-bit range")
    return (raw & 0xFFFFFF).to_bytes(3, "big")


def _u24(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"FreeD {name} {value} is outside the unsigned 24-bit range 0–16777215")
    return int(value).to_bytes(3, "big")


def checksum(body: bytes) -> int:
    """(0x40 − sum of bytes 0–27) mod 256."""
    return (0x40 - sum(body[:28])) & 0xFF


def encode_d1(pose: FreeDPose) -> bytes:
    """Pack a pose into the 29-byte D1 message."""
    if not 0 <= pose.camera_id <= 255:
        raise ValueError(f"FreeD camera id must be 0–255, got {pose.camera_id}")
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
    """Unpack a D1 message; raises ``ValueError`` on wrong length, type or checksum."""
    if len(packet) != PACKET_LEN:
        raise ValueError(f"FreeD D1 message must be {PACKET_LEN} bytes, got {len(packet)}")
    if packet[0] != D1:
        raise ValueError(f"not a FreeD D1 message (type byte 0x{packet[0]:02X})")
    if checksum(packet) != packet[28]:
        raise ValueError(f"FreeD checksum mismatch: 0x{packet[28]:02X} != 0x{checksum(packet):02X}")
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


def parse_host_port(target: str, default_port: int = 40000) -> tuple[str, int]:
    """``"127.0.0.1:40000"`` → ``("127.0.0.1", 40000)``; the error says what form is expected."""
    host, sep, port = target.rpartition(":")
    if not sep:
        return target, default_port
    try:
        port_num = int(port)
    except ValueError as exc:
        raise ValueError(f"FreeD target '{target}' must look like HOST:PORT (e.g. 127.0.0.1:40000)") from exc
    if not 0 < port_num < 65536:
        raise ValueError(f"FreeD port {port_num} is outside 1–65535")
    return host.strip("[]") or "127.0.0.1", port_num


class FreeDSender:
    """Send D1 messages over UDP to a receiver (Unreal LiveLink FreeD, Aximmetry, …)."""

    def __init__(self, target: str | tuple[str, int]) -> None:
        self.address = parse_host_port(target) if isinstance(target, str) else target
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sent = 0

    def send(self, pose: FreeDPose) -> bytes:
        packet = encode_d1(pose)
        self._sock.sendto(packet, self.address)
        self.sent += 1
        return packet

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> FreeDSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
