"""Frames a source cannot give whole: held in place and named, so a long job finishes in step.

A scratched camera card or an interrupted copy damages a few frames of a clip; a crashed render leaves
one unreadable picture in a sequence. Stopping the job there would throw away hours of rendering for
a few frames, and dropping them would shift every later frame against its sound and timecode. So a
frame that cannot be decoded holds the picture of the nearest good frame before it (after it, at the
head of a clip or of the range read), the outputs keep every frame in place, and the read ends with
one warning that names the frames, as Nuke's Read node does with "missing frames: nearest frame". A
file that is mostly unreadable is still refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import replace

from guangying.base.errors import MediaError
from guangying.media.frames import Frame

# A clip with more held frames than this share of the frames read (after the first second or so) is
# broken, not scratched: holding would turn it into a still, so the read stops instead.
MAX_HELD_SHARE = 0.25
_FRAMES_BEFORE_SHARE_CHECK = 24


def frame_ranges(numbers: Iterable[int]) -> str:
    """``[3, 4, 5, 9]`` → ``"3–5, 9"``."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}–{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


def first_frame_ranges(numbers: Iterable[int], shown: int = 6) -> str:
    """:func:`frame_ranges` of the first ``shown`` runs, "…" after them when there are more."""
    runs = frame_ranges(numbers).split(", ")
    return ", ".join(runs[:shown]) + (", …" if len(runs) > shown else "")


def damage_note(held_frames: list[int], artefact_frames: list[int]) -> str:
    """One line for a job's summary: which written frames were damaged in the source; "" for none."""
    parts = []
    if held_frames:
        parts.append(f"{_numbered(held_frames)} not decodable (the nearest good frame held)")
    if artefact_frames:
        parts.append(f"{_numbered(artefact_frames)} decoded with errors (may show blocks)")
    return "source damaged: " + ", ".join(parts) if parts else ""


def held_copy(good: Frame, index: int, time_s: float) -> Frame:
    """Frame ``index`` shown as ``good``'s picture (copied: later stages may write into their input)."""
    alpha = None if good.alpha is None else good.alpha.copy()
    return replace(good, index=index, rgb=good.rgb.copy(), alpha=alpha, time_s=time_s, damage="held")


class DamageLog:
    """The damaged frames of one read of ``source``: checked as they come, summed up at the end."""

    def __init__(self, source: str, advice: str) -> None:
        self.source = source
        self.advice = advice  # what to do, e.g. "Re-copy the file (from the camera card) or re-export it"
        self.held: list[int] = []
        self.artefacts: list[int] = []
        self.uncounted_after: list[int] = []  # losses whose frame count is unknown (no timestamps)
        self.first_error: str | None = None

    def lost(self, error: str) -> None:
        """The decoder refused some data; which frames it cost is known once the next frame comes."""
        if self.first_error is None:
            self.first_error = error

    def check(self, frames_read: int) -> None:
        """Refuse a file whose held frames are more than a scratch (see ``MAX_HELD_SHARE``)."""
        held = len(self.held)
        if held > _FRAMES_BEFORE_SHARE_CHECK and held > MAX_HELD_SHARE * frames_read:
            raise MediaError(
                f"{self.source}: {held} of the {frames_read} frames read cannot be decoded "
                f"({self.first_error}). The file is badly damaged or incomplete; re-copy or re-export it"
            )

    def report(self) -> None:
        """One warning naming the damaged frames; nothing when there were none."""
        if not (self.held or self.artefacts or self.uncounted_after):
            return
        found: list[str] = []
        if self.held:
            found.append(
                f"{_frames(self.held)} could not be decoded and "
                f"{'holds' if len(self.held) == 1 else 'hold'} the picture of the nearest good frame "
                f"({frame_ranges(self.held)}; {self.first_error})"
            )
        if self.uncounted_after:
            found.append(
                f"some frames after frame {frame_ranges(self.uncounted_after)} could not be decoded "
                f"({self.first_error}) and, the clip having no usable timestamps there, are missing from "
                "the outputs"
            )
        if self.artefacts:
            found.append(
                f"{_frames(self.artefacts)} decoded with errors, or from a frame that had them, and may "
                f"show blocks ({frame_ranges(self.artefacts)})"
            )
        warnings.warn(
            f"{self.source} is damaged: {'; '.join(found)}. The outputs keep every frame in place. "
            f"{self.advice}, then render those frames again with --start/--end",
            stacklevel=3,
        )


def _frames(numbers: list[int]) -> str:
    return "1 frame" if len(numbers) == 1 else f"{len(numbers)} frames"


def _numbered(numbers: list[int]) -> str:
    return f"frame{'' if len(numbers) == 1 else 's'} {frame_ranges(numbers)}"
