"""Streamed pictures placed on the laptop's clock by their sender's timestamps."""

import numpy as np
import pytest

from guangying.live.arrival_clock import ArrivalClock


def test_pictures_are_placed_by_the_sender_clock_not_by_their_jittery_arrival():
    rng = np.random.default_rng(3)
    clock = ArrivalClock()
    sent = np.arange(100) / 25.0
    # 30 ms on the way, plus up to 60 ms of jitter (Wi-Fi, a busy encoder), and the last picture held
    # 2 s by the demuxer (MPEG-TS gives a picture over when the next begins; none came)
    arrival = 1000.0 + sent + 0.030 + rng.uniform(0.0, 0.060, sent.size)
    arrival[-1] += 2.0
    placed = np.array([clock.place(s, a) for s, a in zip(sent, arrival, strict=True)])
    assert np.all(placed <= arrival)
    steady = placed[30:]  # once a picture with little jitter has come
    assert np.diff(steady) == pytest.approx(1 / 25.0, abs=0.002)
    assert placed[-1] - sent[-1] == pytest.approx(1000.030, abs=0.01)  # the held one at its time, not 2 s on


@pytest.mark.parametrize("restart_s", [0.0, 498.0, 600.0])
def test_a_restarted_sender_is_placed_anew(restart_s):
    """OBS's stream stopped and started a second later: its clock starts again (here 2 s back, or at 0,
    or far ahead). Placed by the old sender's delay, its pictures fell seconds in the past."""
    clock = ArrivalClock()
    for k in range(100):
        clock.place(500.0 + k / 25, 20.0 + k / 25)  # 480 s between the clocks
    assert clock.place(restart_s, 25.0) == pytest.approx(25.0)  # measured again: at its arrival
    assert clock.place(restart_s + 0.04, 25.05) == pytest.approx(25.04)


def test_a_burst_at_the_start_is_placed_again_at_the_true_delay():
    """ffmpeg hands over what it read while probing a stream at once: its first pictures are each placed
    at the burst's arrival (nothing shows the true delay yet), and a copied plate's pre-roll took the
    camera of the burst's end for every one of them, up to 10 frames ahead of its pictures."""
    clock = ArrivalClock()
    sent = np.arange(40) / 25.0
    arrival = np.where(np.arange(40) < 12, 1000.0 + sent[11] + 0.03, 1000.0 + sent + 0.03)  # 12 at once
    placed = np.array([clock.place(s, a) for s, a in zip(sent, arrival, strict=True)])
    assert np.ptp(placed[:12]) < 1e-9  # all at the burst's arrival, where 11 frames span 0.44 s
    again = np.array([clock.again(s, p) for s, p in zip(sent[:12], placed[:12], strict=True)])
    assert again == pytest.approx(1000.03 + sent[:12], abs=1e-6)  # each at its own time
    assert np.all(again <= placed[:12])
