"""Manual focus marks (A, B, C, D …): distances measured with a tape on set, for planned pulls.

A cue names a mark to rack to, or ``track`` to hand focus back to the distance sensor's subject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from guangying.base.errors import InputFormatError
from guangying.base.files import check_keys, read_json_or_yaml
from guangying.distance.reading import DistanceReading

TRACK = "track"
FARTHEST_MARK_M = 100.0  # a tape's mark; farther is a unit slip (mm or cm)


class MarksError(InputFormatError):
    """Marks or cues that cannot be used."""


@dataclass(frozen=True, slots=True)
class Cue:
    """At ``t_s``, rack to mark ``mark`` over ``rack_s`` seconds."""

    t_s: float
    mark: str
    rack_s: float = 1.0


@dataclass(slots=True)
class MarkPlan:
    marks: dict[str, float]
    cues: list[Cue]

    def __post_init__(self) -> None:
        for name, d in self.marks.items():
            # infinity (`inf` in YAML, as a lens calibration takes it): the far end of the focus range
            if not (isinstance(d, (int, float)) and not math.isnan(d) and d > 0):
                raise MarksError(f"mark {name}: distance must be a positive number of metres (or inf), "
                                 f"got {d!r}")
            if math.isfinite(d) and d > FARTHEST_MARK_M:  # A: 3000 was focused at the 1000 m limit unsaid
                raise MarksError(f"mark {name}: {d:g} m is beyond any tape; marks are metres (typed in "
                                 f"millimetres or centimetres? {d:g} mm is {d / 1000:g} m)")
        last = -math.inf
        for c in self.cues:
            if c.mark not in self.marks and c.mark != TRACK:
                known = ", ".join(self.marks)
                raise MarksError(f"cue at {c.t_s} s names mark {c.mark!r}; known marks: {known}")
            if c.t_s < last:
                raise MarksError(f"cue at {c.t_s} s comes before the previous cue ({last} s); sort the cues")
            if not math.isfinite(c.t_s):
                raise MarksError(f"cue for mark {c.mark!r}: t_s={c.t_s!r} must be a finite number of seconds")
            if not (math.isfinite(c.rack_s) and c.rack_s >= 0):
                raise MarksError(f"cue at {c.t_s} s: rack_s={c.rack_s!r} must be finite seconds ≥ 0")
            last = c.t_s

    def active(self, t_s: float) -> Cue | None:
        """The last cue at or before ``t_s``."""
        current = None
        for c in self.cues:
            if c.t_s <= t_s:
                current = c
        return current

    def reading(self, t_s: float) -> DistanceReading:
        """The active mark as a reading (nothing before the first cue)."""
        cue = self.active(t_s)
        if cue is None or cue.mark == TRACK:
            return DistanceReading(t_s, float("nan"), 0.0, "mark")
        return DistanceReading(t_s, float(self.marks[cue.mark]), 1.0, f"mark:{cue.mark}")


def load_marks(path: str | Path) -> MarkPlan:
    """YAML/JSON: ``marks: {A: 2.0, B: 3.5}`` and
    ``cues: [{t_s: 0, mark: A}, {t_s: 4, mark: B, rack_s: 1.5}]``."""
    p = Path(path)
    data = read_json_or_yaml(p, "marks file", MarksError)
    if not isinstance(data, dict) or not isinstance(data.get("marks"), dict):
        raise MarksError(f"{p}: expected the marks under 'marks:' and the cues under 'cues:', e.g. "
                         "{marks: {A: 2.0, B: 3.5}, cues: [{t_s: 0, mark: A}, "
                         "{t_s: 4, mark: B, rack_s: 1.5}]}")
    check_keys(data, ("marks", "cues"), str(p), MarksError)
    if not isinstance(data.get("cues") or [], list):  # `cues: 5` was a traceback
        raise MarksError(f"{p}: 'cues' is a list, e.g. [{{t_s: 0, mark: A}}, {{t_s: 4, mark: B}}]")
    numbers = [*data["marks"].values(), *(value for c in data.get("cues") or [] if isinstance(c, dict)
                                          for key, value in c.items() if key != "mark")]
    if any(isinstance(value, bool) for value in numbers):  # `A: yes` was a mark at 1 m
        raise MarksError(f"{p}: a mark's distance, a cue's t_s and rack_s are numbers, not yes/no")
    for k, cue in enumerate(data.get("cues") or []):
        if isinstance(cue, dict):  # 'rak_s' left every rack at its default without a word
            check_keys(cue, ("t_s", "mark", "rack_s"), f"{p}, cue {k + 1}", MarksError)
    try:
        cues = [
            Cue(float(c["t_s"]), str(c["mark"]), float(c.get("rack_s", 1.0))) for c in data.get("cues") or []
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise MarksError(f"{p}: each cue needs t_s and mark ({exc})") from exc
    try:
        marks = {str(k): float(v) for k, v in data["marks"].items()}
    except (TypeError, ValueError) as exc:
        raise MarksError(f"{p}: mark distances must be numbers of metres ({exc})") from exc
    try:
        return MarkPlan(marks, cues)
    except MarksError as exc:
        raise MarksError(f"{p}: {exc}") from exc
