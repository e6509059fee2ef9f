"""The one record every distance source produces, and the interface they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DistanceReading:
    """A time-stamped distance to the subject.

    ``t_s``: seconds on the reader's clock (monotonic for live sensors, media time for files).
    ``distance_m``: metres from the sensor/lens, ``nan`` when the source produced nothing usable.
    ``confidence``: 0–1; 0 means "do not use" (dropout, weak return, no face found).
    ``source``: a short name such as ``"tfluna"``, ``"depth"``, ``"iris"``, ``"mark:B"``.
    ``sent``: what the sensor sent for a reading that is not used (its ``distance_m`` is nan).
    """

    t_s: float
    distance_m: float
    confidence: float
    source: str
    sent: str = ""  # what an unusable reading's sensor sent ("5 m at strength 50"), for messages

    @property
    def valid(self) -> bool:
        return self.confidence > 0 and math.isfinite(self.distance_m) and self.distance_m > 0


class DistanceSource(Protocol):
    """Anything that yields distance readings: a LiDAR on a serial port, a depth stream, marks."""

    def read(self, wait_s: float | None = None) -> DistanceReading | None:
        """Block until the next reading (raise ``TimeoutError`` subclasses when the source is silent);
        with ``wait_s``, None when none comes within it (a source that always has one may ignore it)."""
        ...

    def close(self) -> None: ...
