"""Image-sequence patterns (``shot.%04d.png``, ``shot.####.exr``) and the frame files they match."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from guangying.base.errors import MediaError

_PRINTF = re.compile(r"%(0?)(\d*)d")
# A run of #'s is a frame field only where it ends the name or is followed by ".", "_" or "-"
# (shot.####.exr, shot_##.png, render####.png): "take#1.png" is one file, "#12" no pattern.
_HASHES = re.compile(r"#+(?=[._-]|$)")


@dataclass(frozen=True, slots=True)
class SequencePattern:
    """A frame-numbered file name: ``prefix`` + number padded to ``padding`` digits + ``suffix``."""

    folder: Path
    prefix: str
    suffix: str
    padding: int
    text: str  # the pattern as the user wrote it, for messages

    def path(self, number: int) -> Path:
        sign = "-" if number < 0 else ""
        return self.folder / f"{self.prefix}{sign}{abs(number):0{self.padding}d}{self.suffix}"

    def none_found(self, what: str) -> str:
        """The message for a pattern that matched no file: ``what`` (e.g. "frames") names them. Files of
        the same name with another padding (plate.01001.exr for plate.####.exr) are named, with the
        pattern that reads them."""
        found = f"no {what} found for {self.text} in folder {self.folder}; expected files like "
        found += self.path(1).name
        if not self.folder.is_dir():
            return found
        other = re.compile(re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix) + "$")
        tokens = sorted((m.group(1) for name in os.listdir(self.folder) if (m := other.match(name))),
                        key=lambda token: int(token))
        if not tokens:
            return found
        digits = len(tokens[0].lstrip("-"))
        hashes = self.prefix + "#" * digits + self.suffix
        return (f"{found}. The folder has {self.prefix}{tokens[0]}–{tokens[-1]}{self.suffix} ({digits}-digit "
                f"numbers): name the sequence {self.folder / hashes}")

    def find_numbers(self) -> list[int]:
        """Frame numbers present on disk, sorted."""
        if not self.folder.is_dir():
            raise MediaError(
                f"folder {self.folder} for image sequence {self.text} does not exist; check the path"
            )
        digits = r"-?\d+" if self.padding <= 1 else rf"-?\d{{{self.padding},}}"
        matcher = re.compile(re.escape(self.prefix) + f"({digits})" + re.escape(self.suffix) + "$")
        numbers = []
        for name in os.listdir(self.folder):
            match = matcher.match(name)
            if match is None:
                continue
            token = match.group(1).lstrip("-")
            # Wider than the padding only when the number needs the digits (shot.10000.png for %04d),
            # so shot.00001.png is not mistaken for frame 1 of a %04d sequence.
            if len(token) > max(self.padding, 1) and token.startswith("0"):
                continue
            numbers.append(int(match.group(1)))
        return sorted(numbers)


def parse_pattern(path: str | os.PathLike[str]) -> SequencePattern | None:
    """The sequence pattern in ``path``'s file name, or None when it names a single file.

    A frame field is ``%d`` / ``%0Nd``, or a run of ``#`` (one per digit) that ends the name or is
    followed by ``.``, ``_`` or ``-``; any other ``#`` is part of a file name (``take#1.png``).
    """
    text = os.fspath(path)
    folder, name = os.path.split(text)
    printf = list(_PRINTF.finditer(name))
    hashes = list(_HASHES.finditer(name))
    if len(printf) + len(hashes) == 0:
        return None
    if len(printf) + len(hashes) > 1:
        raise MediaError(f"{text}: use one frame-number placeholder (%04d or ####) in the file name")
    if printf:
        match = printf[0]
        padding = int(match.group(2)) if match.group(2) else 1
    else:
        match = hashes[0]
        padding = len(match.group(0))
    return SequencePattern(
        folder=Path(folder or "."),
        prefix=name[: match.start()],
        suffix=name[match.end() :],
        padding=padding,
        text=text,
    )


def source_first_frame(source: str | os.PathLike[str]) -> int:
    """The source's own first frame number (a sequence's first file on disk; a video's is 0), found
    without reading it: a gap or damage outside the range asked for must not stop the run."""
    pattern = parse_pattern(source)
    numbers = [] if pattern is None else pattern.find_numbers()
    return numbers[0] if numbers else 0
