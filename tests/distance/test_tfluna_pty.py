"""The TF-Luna reader against a simulated sensor on a real pseudo-terminal pair."""

import math
import os
import threading
import time
import tty
import warnings

import numpy as np
import pytest

from guangying.distance.tfluna import (
    SensorGoneError,
    SensorTimeoutError,
    TfFrameParser,
    TfLunaSource,
    encode_frame,
)


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    yield master, name
    os.close(master)
    os.close(slave)


def _write_later(fd: int, chunks: list[bytes], delay_s: float = 0.002) -> threading.Thread:
    def run() -> None:
        for c in chunks:
            os.write(fd, c)
            time.sleep(delay_s)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def test_parser_resyncs_and_checks():
    good = encode_frame(345, 800, 30.0)
    bad = bytearray(encode_frame(999, 800))
    bad[8] ^= 0x55
    stream = b"\x00\x59\x13garbage\x59" + good + bytes(bad) + good
    p = TfFrameParser()
    frames = []
    for i in range(0, len(stream), 4):  # odd chunking on purpose
        frames += p.feed(stream[i : i + 4])
    assert [f.distance_m for f in frames] == [3.45, 3.45]
    assert frames[0].temperature_c == pytest.approx(30.0)
    assert p.checksum_errors >= 1 and p.frames_ok == 2


def test_the_sensors_text_output_is_read_too(pty_pair):
    """A sensor set to its text output (Benewake's "PIX" format, meant for older Pixhawk autopilots): a
    distance in metres on each line. The reader looked for binary frames only, timed out, and blamed
    the wiring or the baud rate."""
    master, name = pty_pair
    chunks = [b"1.2", b"3\r\n2.", b"50\r\n", b"0.05\r\n", b"garbage\r\n3.01\r", b"\n"]
    with TfLunaSource(name, timeout_s=2.0) as src:
        _write_later(master, chunks)
        readings = [src.read() for _ in range(4)]
    assert [r.distance_m for r in readings[:2]] == [1.23, 2.5]
    assert all(r.valid and r.confidence == 0.5 for r in readings[:2])
    assert not readings[2].valid  # 5 cm: closer than the sensor measures
    assert readings[3].distance_m == 3.01


def test_a_signed_or_glued_text_line_is_no_reading_however_it_is_cut():
    # "-1.0" was read as 1.0 m and sent to the lens as focus, whatever else the line held
    stream = b"nan\n-1.0\n999.999\n+2.0\nx3.5\n2.25\n-0.75\n1.5\r\n"
    for size in (1, 2, 3, 5, len(stream)):
        parser = TfFrameParser()
        frames = []
        for i in range(0, len(stream), size):
            frames += parser.feed(stream[i : i + size])
        assert [f.distance_m for f in frames] == [999.999, 2.25, 1.5], size


def test_nonsense_settings_are_refused_before_the_port_opens():
    from guangying.base.errors import SettingsError

    for settings in ({"baudrate": -5}, {"baudrate": 0}, {"timeout_s": math.nan}, {"timeout_s": -1.0}):
        with pytest.raises(SettingsError, match=f"LiDAR setting {next(iter(settings))}="):
            TfLunaSource("/dev/no-such-port", **settings)


def test_millimetre_frames(pty_pair):
    """A sensor set to millimetre frames (``5A 05 05 06 6A``, for the finer step) read as centimetres:
    every reading ten times too far, all beyond the range, and focus got nothing without a word. It
    is read with ``unit_mm``, and without it the reader says what it looks like."""
    master, name = pty_pair
    with TfLunaSource(name, timeout_s=2.0, unit_mm=True) as src:
        _write_later(master, [encode_frame(2534, 900)])
        assert src.read().distance_m == pytest.approx(2.534)
    with TfLunaSource(name, timeout_s=2.0) as src:
        _write_later(master, [encode_frame(2534, 900)] * 60, delay_s=0.0)
        with pytest.warns(UserWarning, match="looks set to millimetre frames.*5A 05 05 01 65"):
            readings = [src.read() for _ in range(60)]
    assert not any(r.valid for r in readings)


def test_reader_through_pty(pty_pair):
    master, name = pty_pair
    bad = bytearray(encode_frame(777, 900))
    bad[8] ^= 0xFF
    chunks = [
        b"\xff\x00\x59garbage",
        encode_frame(250, 900),
        bytes(bad),  # bad checksum: dropped
        encode_frame(260, 50),  # weak return: gated
        encode_frame(0, 0xFFFF),  # saturated/unreliable: gated
        b"\x59\x59\x01",  # truncated junk
        encode_frame(270, 2000),
    ]
    with TfLunaSource(name, timeout_s=2.0) as src:
        _write_later(master, chunks)
        readings = [src.read() for _ in range(4)]
    assert readings[0].distance_m == pytest.approx(2.50) and readings[0].valid
    assert readings[0].confidence == pytest.approx(0.9)
    assert not readings[1].valid and math.isnan(readings[1].distance_m)
    assert not readings[2].valid
    assert readings[3].distance_m == pytest.approx(2.70) and readings[3].confidence == 1.0
    assert src.parser.checksum_errors >= 1
    assert all(r.source == "tfluna" for r in readings)
    assert readings[0].t_s <= readings[3].t_s


def test_the_no_measurement_code_is_no_distance_however_far_the_range(pty_pair):
    # a TF02/TF03's distance 65535 means "no measurement": with --lidar-range 1000 it focused at 655 m
    master, name = pty_pair
    with TfLunaSource(name, timeout_s=2.0, max_range_m=1000.0) as src:
        _write_later(master, [encode_frame(0xFFFF, 900), encode_frame(65000, 900)])
        none, far = src.read(), src.read()
    assert not none.valid and math.isnan(none.distance_m)
    assert far.valid and far.distance_m == pytest.approx(650.0)


def test_pure_garbage_times_out_with_clear_error(pty_pair):
    master, name = pty_pair
    junk = bytes((i * 37 + 11) % 256 for i in range(2000)).replace(b"\x59", b"\x58")
    with TfLunaSource(name, timeout_s=0.3) as src:
        _write_later(master, [junk[i : i + 100] for i in range(0, 2000, 100)], delay_s=0.01)
        t0 = time.monotonic()
        with pytest.raises(SensorTimeoutError, match="baud rate"):
            src.read()
        assert time.monotonic() - t0 < 5.0  # bounded, not a hang


def test_missing_port_is_named():
    with pytest.raises(OSError, match="/dev/does-not-exist"):
        TfLunaSource("/dev/does-not-exist")


def test_frames_that_arrive_in_bursts_are_spread_over_the_burst(pty_pair):
    """A USB serial adapter hands over a fast sensor's frames in bursts (here 8 frames every 16 ms, a
    500 Hz sensor): stamped on arrival they would look simultaneous. The reader spreads each burst back
    over the frame period it estimates, so readings keep their order and their spacing."""
    master, name = pty_pair
    bursts = [b"".join(encode_frame(250 + k, 900) for k in range(8)) for _ in range(40)]
    with TfLunaSource(name, timeout_s=2.0) as src:
        _write_later(master, bursts, delay_s=0.016)
        readings = [src.read() for _ in range(8 * 40)]
    t = np.array([r.t_s for r in readings])
    steps = np.diff(t[80:])  # after the period estimate has settled
    assert (np.diff(t) >= 0).all()
    assert src.frame_interval_s == pytest.approx(0.002, rel=0.35)
    # spread: no two readings of a burst share a time, and no step is a whole burst long
    assert np.median(steps) == pytest.approx(0.002, rel=0.5)
    assert np.percentile(steps, 95) < 0.008


def test_frames_queued_before_the_take_are_discarded(pty_pair):
    """The port opens with the take, before the engine compiles: frames queued meanwhile came in one
    burst stamped as read, the subject's last seconds squeezed into an instant (focus-live's first
    FreeD dipped from 2.97 to 1.91 m before it settled on a subject standing at 2 m)."""
    master, name = pty_pair
    with TfLunaSource(name, timeout_s=2.0) as src:
        os.write(master, b"".join(encode_frame(300 - k, 900) for k in range(100)))  # walking in, 3 → 2 m
        time.sleep(0.2)  # queued, unread
        src.discard_waiting()
        _write_later(master, [encode_frame(200, 900)] * 3)  # the take: standing at 2 m
        assert [src.read().distance_m for _ in range(3)] == [pytest.approx(2.0)] * 3


def test_a_sensor_unplugged_while_the_take_starts_is_said_as_gone():
    """Unplugged during focus-live's start (its compile): the port's flush raised termios.error, which is
    no OSError, and focus-live ended in a bug report."""
    master, slave = os.openpty()
    tty.setraw(slave)
    src = TfLunaSource(os.ttyname(slave), timeout_s=1.0)
    os.close(slave)
    os.close(master)  # the adapter gone
    try:
        with pytest.raises(SensorGoneError, match="went away"):
            src.discard_waiting()
    finally:
        src.close()


@pytest.mark.parametrize("every", [10, 0], ids=["one in ten damaged", "clean"])
def test_frames_damaged_on_the_way_are_said(pty_pair, every):
    # a cable or USB adapter damaging one frame in ten: dropped, as they must be, without a word
    master, name = pty_pair
    chunks = []
    for n in range(400):
        frame = bytearray(encode_frame(250 + n % 7, 900))
        if every and n % every == 3:
            frame[4] ^= 0x10  # the strength's byte hit: the checksum fails
        chunks.append(bytes(frame))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with TfLunaSource(name, timeout_s=2.0) as src:
            _write_later(master, [b"".join(chunks[i:i + 20]) for i in range(0, 400, 20)])
            readings = [src.read() for _ in range(400 - (40 if every else 0))]
    said = [str(w.message) for w in caught if "damaged frames" in str(w.message)]
    assert all(r.valid for r in readings)
    if every:
        assert len(said) == 1 and f"the TF LiDAR on {name} sends damaged frames" in said[0], said
    else:
        assert said == []
