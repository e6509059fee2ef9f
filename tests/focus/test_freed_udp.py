import socket

import pytest

from guangying.lens.freed import (
    FreeDPose,
    FreeDSender,
    checksum,
    decode_d1,
    encode_d1,
    focus_counts_from_distance_mm,
    parse_host_port,
)


def test_round_trip_through_real_udp_socket():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    port = rx.getsockname()[1]
    pose = FreeDPose(camera_id=3, pan_deg=-12.5, tilt_deg=4.25, roll_deg=-0.5, x_mm=-1500.0,
                     y_mm=250.25, z_mm=1600.0, zoom=2048, focus=focus_counts_from_distance_mm(2.345))
    with FreeDSender(f"127.0.0.1:{port}") as tx:
        sent = tx.send(pose)
    packet, _ = rx.recvfrom(64)
    rx.close()
    assert packet == sent and len(packet) == 29 and packet[0] == 0xD1
    assert (0x40 - sum(packet[:28])) % 256 == packet[28]
    # big-endian signed 24-bit pan: -12.5° × 32768 = -409600 → two's complement 0xF9C000
    assert packet[2:5] == bytes.fromhex("F9C000")
    assert packet[23:26] == (2345).to_bytes(3, "big")
    assert packet[20:23] == (2048).to_bytes(3, "big")
    got = decode_d1(packet)
    assert got.camera_id == 3 and got.focus == 2345 and got.zoom == 2048
    assert got.pan_deg == pytest.approx(-12.5) and got.tilt_deg == pytest.approx(4.25)
    assert got.x_mm == pytest.approx(-1500.0) and got.y_mm == pytest.approx(250.25)


def test_decode_rejects_corruption_and_ranges():
    packet = bytearray(encode_d1(FreeDPose(focus=100)))
    packet[24] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        decode_d1(bytes(packet))
    with pytest.raises(ValueError, match="29 bytes"):
        decode_d1(bytes(packet[:28]))
    with pytest.raises(ValueError, match="unsigned 24-bit"):
        encode_d1(FreeDPose(focus=1 << 24))
    with pytest.raises(ValueError, match="signed 24-bit"):
        encode_d1(FreeDPose(pan_deg=300.0))
    assert checksum(bytes(28)) == 0x40


def test_parse_host_port():
    assert parse_host_port("127.0.0.1:40000") == ("127.0.0.1", 40000)
    assert parse_host_port("10.0.0.2") == ("10.0.0.2", 40000)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port("host:abc")
    # Unreal's port alone was resolved as an address (0.0.156.64) and every packet went nowhere, unsaid
    with pytest.raises(ValueError, match=r"'40000' is a port alone: give HOST:PORT \(127\.0\.0\.1:40000"):
        parse_host_port("40000")
