"""Falling behind the camera is said while the take runs, not only in its summary."""

import re

from guangying.live.stats import DropWatch


def _feed(watch: DropWatch, fps: float, kept_share: float, seconds: float, start: tuple[float, int, int]):
    """Counts as a source at ``fps`` sees them, each second, when ``kept_share`` of its frames are processed;
    returns what was said (time, words) and where the counts ended."""
    t, frames_in, dropped = start
    said = []
    for _ in range(int(seconds)):
        t += 1.0
        frames_in += int(fps)
        dropped += int(round(fps * (1 - kept_share)))
        note = watch.check(frames_in, dropped, t)
        if note is not None:
            said.append((t, note))
    return said, (t, frames_in, dropped)


def test_a_machine_that_keeps_up_hears_nothing():
    said, _ = _feed(DropWatch(), 25, 0.97, 120, (0.0, 0, 0))
    assert said == []


def test_falling_behind_is_said_within_seconds_with_its_figures_and_what_to_do():
    watch = DropWatch("To keep up: a smaller picture (--video-size)")
    said, at = _feed(watch, 25, 1.0, 10, (0.0, 0, 0))
    assert said == []
    said, at = _feed(watch, 25, 0.36, 130, at)  # the laptop of the report: 886 of 1339 dropped
    assert said, "nothing said while two thirds of the frames were dropped"
    first_s, words = said[0]
    assert first_s - 10 <= 10
    assert re.search(r"keeps up with \d+ of 125 frames \(\d+ % dropped over the last 5 s\)", words), words
    assert "--record-plate keeps every frame" in words and words.endswith("(--video-size)")
    # repeated while it lasts, but not every few seconds
    assert 2 <= len(said) <= 3 and all(b - a >= 60 for (a, _), (b, _) in zip(said, said[1:], strict=False))
    assert "keeps up with 45 of 125 frames (64 % dropped over the last 5 s)" in said[1][1]
    said, _ = _feed(watch, 25, 1.0, 20, at)
    assert len(said) == 1 and said[0][1].startswith("processing keeps up again (0 of 125")


def test_a_short_hitch_inside_good_seconds_is_not_called_falling_behind():
    watch = DropWatch()
    said, at = _feed(watch, 25, 1.0, 12, (0.0, 0, 0))
    t, frames_in, dropped = at
    assert watch.check(frames_in + 25, dropped + 2, t + 1.0) is None  # 2 frames lost once
    said, _ = _feed(watch, 25, 1.0, 30, (t + 1.0, frames_in + 25, dropped + 2))
    assert said == []


def test_a_take_too_short_to_be_watched_says_its_drops_as_it_ends():
    """A 3 s clip played as the camera kept 16 of its 90 frames: said only as a count in the summary."""
    watch = DropWatch("To keep up: a smaller clip or a faster machine")
    said, (_, frames_in, dropped) = _feed(watch, 30, 0.18, 3, (0.0, 0, 0))
    assert said == []
    words = watch.at_end(frames_in, dropped)
    assert words is not None and f"kept up with {frames_in - dropped} of {frames_in} frames" in words
    assert "--record-plate keeps every frame" in words and words.endswith("a faster machine")
    assert DropWatch().at_end(90, 5) is None  # a few lost: the summary's count is enough


def test_drops_said_while_the_take_ran_are_not_said_again_at_its_end():
    watch = DropWatch()
    said, (_, frames_in, dropped) = _feed(watch, 25, 0.5, 20, (0.0, 0, 0))
    assert said
    _, (_, frames_in, dropped) = _feed(watch, 25, 1.0, 20, (20.0, frames_in, dropped))
    assert watch.at_end(frames_in, dropped) is None
