"""Output safety shared by every writer: no output on top of an input or of another output, one run
per output at a time (a lock file), leftovers of killed runs swept, and sequences replaced as a whole.

Library use (e.g. several workers writing frame ranges of one sequence)::

    with staged_sequence("out/comp.%04d.exr") as stage:   # locks out/comp.%04d.exr
        write frames to stage.path(n) (any process that sees the folder may write there)
    # on success the staged frames replace the old sequence; on an exception they are removed

    # or, frames already rendered elsewhere on the same file system (per-range folders):
    with OutputLock("out/comp.%04d.exr"):
        swap_in_sequence("out/comp.%04d.exr", {1001: Path(".../comp.1001.exr"), ...})

Leftovers of runs killed outright are swept when the next run locks the same output. Writers from
:func:`guangying.media.open_writer` do all of this themselves.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from guangying.base.atomic import check_output_folder, describe_os_error, side_name
from guangying.base.errors import MediaError
from guangying.base.processes import process_running
from guangying.base.stops import stops_held
from guangying.media.patterns import SequencePattern, parse_pattern

PathLike = str | os.PathLike[str]
# Hidden names our writers use: .{stem}.partial-{pid}-{hex}{ext} (atomic.partial_path) and
# .{name}.staging-{pid}-{hex} (staged sequences).
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:partial|staging)-(?P<pid>\d+)-[0-9a-f]{6}")


@dataclass(frozen=True, slots=True)
class DiskPlace:
    """What a path names on disk: one file, or every frame of a sequence (by prefix/suffix).
    :meth:`clashes` tells whether writing one would touch the other."""

    folder: str  # real path of the folder
    name: str  # file name, or the sequence as prefix + "#" + suffix (padding does not matter)
    pattern: SequencePattern | None
    text: str
    inode: tuple[int, int] | None = None  # (device, inode) of an existing file: hard links, bind mounts

    def overlaps(self, other: DiskPlace) -> bool:
        if self.folder != other.folder:
            return False
        if self.pattern is None and other.pattern is None:
            return self.name == other.name
        if self.pattern is not None and other.pattern is not None:
            return self.name == other.name
        seq, single = (self, other) if self.pattern is not None else (other, self)
        assert seq.pattern is not None
        digits = re.compile(re.escape(seq.pattern.prefix) + r"-?\d+" + re.escape(seq.pattern.suffix) + "$")
        return digits.match(single.name) is not None

    def clashes(self, other: DiskPlace) -> bool:
        """The same file or sequence, through links, ``..``, hard links or a pattern's spelling."""
        return self.overlaps(other) or (self.inode is not None and self.inode == other.inode)


def disk_place(path: PathLike, as_output: bool) -> DiskPlace:
    """Where ``path`` (a file or a sequence pattern; ``as_output``: a pattern even if a file of that
    name exists) lies on disk."""
    text = os.fspath(path)
    pattern = parse_pattern(text)
    if pattern is not None and not as_output and Path(text).is_file():
        pattern = None  # an input "take#1.png" that exists is that file
    target = Path(text)
    folder = os.path.realpath(target.parent if pattern is None else pattern.folder)
    if pattern is None:
        real = Path(os.path.realpath(target))  # follows a link to the file it would overwrite
        try:
            stat = os.stat(real)
            inode = (stat.st_dev, stat.st_ino)
        except OSError:
            inode = None
        return DiskPlace(str(real.parent), real.name, None, text, inode)
    return DiskPlace(folder, f"{pattern.prefix}#{pattern.suffix}", pattern, text)


_RUN_INPUTS: list[PathLike] = []  # read by the whole run, whatever the command: its --config file


@contextlib.contextmanager
def run_input(path: PathLike | None) -> Iterator[None]:
    """Count ``path`` among the inputs of every :func:`check_outputs` inside the block (the command
    line's ``--config`` file: ``focus -o settings.json`` wrote a track over the settings it ran with)."""
    if path is None:
        yield
        return
    _RUN_INPUTS.append(path)
    try:
        yield
    finally:
        _RUN_INPUTS.remove(path)


def is_run_input(path: PathLike) -> bool:
    """Whether ``path`` is a file the run started from (its ``--config``: :func:`run_input`), however
    spelled (``./``, ``..``, a link)."""
    place = disk_place(path, as_output=False)
    return any(disk_place(given, as_output=False).clashes(place) for given in _RUN_INPUTS)


def check_outputs(inputs: Iterable[PathLike | None], outputs: Iterable[PathLike | None],
                  run_inputs: bool = True) -> None:
    """Refuse, before anything is written, an output that would overwrite an input or another output
    of the same run. Paths are compared after resolving links, ``..`` and hard links; a sequence
    pattern covers every frame file it names (``shot.%04d.png`` = ``shot.####.png`` ∋ ``shot.0001.png``).
    Inputs that are not files (colours such as ``#202020``) are ignored. ``run_inputs``: count the
    run's ``--config`` file among the inputs (not for a look file saved over the look it started
    with). Raises MediaError."""
    every_input = [*inputs, *(_RUN_INPUTS if run_inputs else [])]
    named = [p for p in outputs if p is not None and str(p)]
    for path in named:
        _check_name_length(path)
    ins = [(disk_place(p, as_output=False), p) for p in every_input if p is not None and str(p)]
    outs = [(disk_place(p, as_output=True), p) for p in named]
    for i, (out, out_text) in enumerate(outs):
        for src, src_text in ins:
            if out.clashes(src):
                raise MediaError(
                    f"output {out_text} would overwrite the input {src_text}; nothing was written. "
                    "Choose another output name"
                )
        for other, other_text in outs[:i]:
            if out.clashes(other):
                raise MediaError(
                    f"two outputs of this run go to the same place ({other_text} and {out_text}); one would "
                    "silently replace the other. Give each output its own name"
                )


LONGEST_NAME_BYTES = 255  # one name in a path, on ext4, APFS and NTFS alike


# control characters (C0, C1) and line and paragraph separators; and the bidirectional embeddings,
# overrides and isolates (not the joiners some scripts' words need: Persian's ZWNJ)
_BREAKS_IN_NAMES = ("Cc", "Zl", "Zp")
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _check_name_length(path: PathLike) -> None:
    """Refuse an output whose file name (a sequence's frame's) a file system cannot hold: found once
    frames were rendered, and said with the name written out in full (``%0999999d``: 2 MB); or one
    holding a control character."""
    if bad := [c for c in str(path) if unicodedata.category(c) in _BREAKS_IN_NAMES or c in _BIDI_OVERRIDES]:
        # a newline pasted into a name was written and printed as a space: the file then could not be
        # found by the name the terminal showed, and scripts reading lists of outputs split there (at
        # U+2028 and NEL too); a right-to-left override showed the name reversed
        raise MediaError(f"output {str(path)!r} holds a control character ({bad[0]!r}): give a name without "
                         "line breaks, tabs or invisible characters; nothing was written")
    pattern = parse_pattern(path)
    name = (pattern.path(0) if pattern is not None else Path(path)).name
    size = len(name.encode())
    if size > LONGEST_NAME_BYTES:
        shown = str(path) if len(str(path)) <= 60 else f"{str(path)[:60]}…"
        raise MediaError(f"output {shown} names files {size:,} bytes long; a file system takes "
                         f"{LONGEST_NAME_BYTES}: give a shorter name; nothing was written")


def _dead_leftovers(folder: Path) -> list[tuple[os.DirEntry[str], str, int]]:
    """The hidden partial files and staging folders in ``folder`` whose process has ended: (entry, the
    output name they were for, the process id). A leftover of a process still alive is not listed."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None:
            continue
        pid = int(match.group("pid"))
        if pid != os.getpid() and not process_running(pid):
            found.append((entry, match.group("name"), pid))
    return found


def keep_interrupted_recording(path: Path) -> list[Path]:
    """Make visible what a live take killed outright (SIGKILL, power loss) left of the recording
    ``path`` (a copied camera original, a per-frame log), written as it ran: ``.NAME.partial-PID-….mkv``
    becomes ``NAME.interrupted-PID.mkv``, said. Hidden, a plate with minutes of camera original that
    plays was never mentioned, and never cleared either. A leftover whose process is alive is not
    touched. Returns the files kept."""
    kept = []
    for entry, owner, pid in _dead_leftovers(path.parent):
        if owner != side_name(path.stem) or not entry.is_file():
            continue
        visible = path.with_name(f"{path.stem}.interrupted-{pid}{Path(entry.name).suffix}")
        try:
            os.replace(entry.path, visible)
        except OSError as exc:
            warnings.warn(f"could not keep {entry.path}, left by an interrupted take: {exc}", stacklevel=2)
            continue
        kept.append(visible)
        said = (f"an interrupted earlier take (process {pid}) left its recording {path.name} unfinished; "
                f"what it holds is kept as {visible}")
        if visible.suffix.lower() in (".mov", ".mp4") and not _opens(visible):
            # QuickTime's index (moov) is written as the take ends: nothing opens the file, whose
            # pictures are all in it
            said += (", but no player opens it: a .mov or .mp4 gets its index only when its take ends "
                     "(a recovery tool such as untrunc rebuilds one from a finished take of the same "
                     "camera). Record the plate as .mkv, which plays as far as it was written")
        warnings.warn(said, stacklevel=2)
    return kept


def _opens(path: Path) -> bool:
    """Whether ffmpeg finds a video stream in ``path``."""
    import av  # only for a leftover of a killed take

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def sweep_leftovers(folder: Path, name: str) -> list[Path]:
    """Clear what runs killed outright (SIGKILL, power loss) left for the output ``name`` in ``folder``:
    hidden partial files are removed; a staging folder's finished frames are kept aside (see
    :func:`_keep_interrupted_frames`). A leftover whose process is still alive is not touched. Call it
    while holding the output's lock. Returns what was cleared and warns naming it."""
    stem = Path(name).stem
    frame_partial = None
    if "#" in name:  # a sequence: its staging folder, and partial frames written by older versions
        prefix, suffix = name.split("#", 1)
        stem = name
        tail = suffix[: -len(Path(suffix).suffix)] if Path(suffix).suffix else suffix
        frame_partial = re.compile(re.escape(prefix) + r"-?\d+" + re.escape(tail) + "$")
    removed = []
    for entry, owner, pid in _dead_leftovers(folder):
        older_frame = frame_partial is not None and frame_partial.match(owner)
        if owner not in (side_name(stem), side_name(name)) and not older_frame:
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                _keep_interrupted_frames(path, name, pid)
            else:
                path.unlink()
        except OSError as exc:
            warnings.warn(f"could not remove {path}, left by an interrupted run: {exc}", stacklevel=2)
            continue
        removed.append(path)
    if removed:
        names = ", ".join(p.name for p in removed)
        warnings.warn(f"cleared what an interrupted earlier run left in {folder}: {names}", stacklevel=2)
    return removed


def _keep_interrupted_frames(staging: Path, name: str, pid: int) -> None:
    """A killed run's staging folder holds finished frames (a long take may be hours of them): they are
    not deleted, nor mixed into the sequence, but moved to a visible ``NAME.interrupted-PID`` folder,
    with a warning; its half-written frames (hidden partial files) are removed."""
    for leftover in staging.glob(".*"):
        leftover.unlink(missing_ok=True)
    if not any(staging.iterdir()):
        staging.rmdir()
        return
    label = side_name(name.split("#", 1)[0].rstrip("._-") or "sequence")
    kept = staging.with_name(f"{label}.interrupted-{pid}")
    os.replace(staging, kept)
    count = sum(1 for _ in kept.iterdir())
    warnings.warn(
        f"an interrupted earlier run (process {pid}) left {count} finished frame(s) of this sequence; they "
        f"are kept in {kept}, apart from the new sequence. Use or delete them",
        stacklevel=3,
    )


class OutputInUseError(MediaError):
    """Another run is writing the output (its :class:`OutputLock` is held)."""


def _lock_file(place: DiskPlace) -> Path:
    return Path(place.folder) / f".{side_name(place.name)}.lock"


class OutputLock:
    """Exclusive claim on one output (a file or a whole sequence) between processes: an ``fcntl`` lock
    on a hidden ``.NAME.lock`` file beside it. A second run writing the same output is refused with a
    MediaError naming the process that holds it. Release with :meth:`release` (or ``with``)."""

    def __init__(self, target: PathLike) -> None:
        place = disk_place(target, as_output=True)
        self.text = place.text
        self.folder = Path(place.folder)
        self.name = place.name
        self.path = _lock_file(place)
        self._fd: int | None = None
        self._acquire()
        sweep_leftovers(self.folder, self.name)

    @staticmethod
    def lock_file_of(target: PathLike) -> Path:
        """The lock file of ``target`` (a file, or a sequence in any of its spellings)."""
        return _lock_file(disk_place(target, as_output=True))

    def _acquire(self) -> None:
        for _ in range(10):  # the file may be unlinked by the previous holder between open and lock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise MediaError(describe_os_error(exc, Path(self.text))) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    if holder == str(os.getpid()):  # a script's second writer: "another run" was itself
                        raise OutputInUseError(f"{self.text} is already open for writing in this process; "
                                               "close the first writer (or its with-block) first (one a "
                                               "script lost unclosed: guangying.media.abort_unclosed())"
                                               ) from exc
                    raise OutputInUseError(
                        f"{self.text} is being written by another run (process {holder}); wait for it to "
                        "finish or write somewhere else"
                    ) from exc
                raise MediaError(describe_os_error(exc, Path(self.text))) from exc
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
                self._fd = fd
                return
            os.close(fd)
        raise MediaError(f"could not lock {self.text}: its lock file {self.path} keeps changing")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # before unlocking, so a waiting run re-checks the inode and retries
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:  # a writer dropped without close() must not keep its output locked
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SequenceStage:
    """A hidden staging folder beside a sequence's frames. Frames go to :meth:`path`; :meth:`commit`
    moves them over the target in one pass and removes the earlier sequence's frames that the new one
    does not have (warning about them); :meth:`discard` removes the staging folder and leaves the
    earlier sequence untouched. Hold an :class:`OutputLock` on the pattern meanwhile."""

    def __init__(self, pattern: SequencePattern) -> None:
        self.target = pattern
        tag = f"{os.getpid()}-{secrets.token_hex(3)}"
        folder = pattern.folder / f".{side_name(f'{pattern.prefix}#{pattern.suffix}')}.staging-{tag}"
        try:
            folder.mkdir()
        except OSError as exc:
            raise MediaError(describe_os_error(exc, Path(pattern.text))) from exc
        self.folder = folder
        self.pattern = replace(pattern, folder=folder)

    def path(self, number: int) -> Path:
        return self.pattern.path(number)

    def commit(self, patch: bool = False) -> list[int]:
        """Swap the staged frames in (``patch``: as :func:`swap_in_sequence`); returns their numbers.
        Raises MediaError when none were staged."""
        staged = self.pattern.find_numbers()
        if not staged:
            self.discard()
            raise MediaError(f"no frames were written to {self.target.text}; nothing was saved")
        swap_in_sequence(self.target, {n: self.pattern.path(n) for n in staged}, patch)
        self.discard()
        return staged

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def replaces_frames(self) -> bool:
        """Whether the target already holds frames (of any padding), which a commit would replace."""
        return bool(_any_padding_numbers(self.target))

    def earlier_frames(self) -> list[tuple[Path, int]]:
        """The target's frames already there (of any padding), with their numbers, in no order."""
        return _any_padding_numbers(self.target)


def swap_in_sequence(
    target: SequencePattern | PathLike, frames: Mapping[int, Path], patch: bool = False
) -> list[Path]:
    """Replace the sequence ``target`` by ``frames`` (frame number → a finished file on the same file
    system, e.g. rendered by workers into their own hidden folders): each is renamed to its frame name,
    then the earlier sequence's frames that the new one lacks are removed, with a warning. ``patch``
    (a render of part of the source, to mend frames): only earlier frames within the new ones' span
    are removed; those before and after it are kept, and this is said. Returns the removed paths. Hold
    the target's :class:`OutputLock` meanwhile (``staged_sequence`` does)."""
    pattern = target if isinstance(target, SequencePattern) else parse_pattern(target)
    if pattern is None:
        raise MediaError(f"{target} is not a sequence pattern (shot.%04d.exr or shot.####.exr)")
    numbers = sorted(frames)
    old = _any_padding_numbers(pattern)
    new_names = {pattern.path(n).name for n in numbers}
    span = f"{numbers[0]}–{numbers[-1]}" if numbers else "(none)"
    kept: list[Path] = []
    stale: list[Path] = []
    for path, number in old:  # one pass: a 10 000-frame sequence made the membership test quadratic
        if path.name not in new_names:
            outside = patch and numbers and not numbers[0] <= number <= numbers[-1]
            (kept if outside else stale).append(path)
    with stops_held():  # a stop in between left frames of two renders under one name
        try:
            for number in numbers:
                os.replace(frames[number], pattern.path(number))
        except OSError as exc:
            raise MediaError(describe_os_error(exc, Path(pattern.text))) from exc
        for path in stale:
            path.unlink(missing_ok=True)
    if kept:
        earlier = sorted(number for _, number in old)
        apart = numbers and (numbers[0] > earlier[-1] + 1 or numbers[-1] < earlier[0] - 1)
        # a mend of 1011–1013 rendered without --first-number went beside the sequence as 0010–0012
        where = (f"; they lie apart from its frames {earlier[0]}–{earlier[-1]}, mending none of them (if "
                 "they were to, number them as it is: --first-number)") if apart else ""
        warnings.warn(
            f"{pattern.text}: frames {span} were rendered into the earlier sequence; its {len(kept)} other "
            f"frame(s) are kept as they were (e.g. {kept[0].name}){where}", stacklevel=3)
    if stale and not patch:
        warnings.warn(
            f"{pattern.text}: removed {len(stale)} frame(s) of the earlier sequence that the new one "
            f"does not have (e.g. {stale[0].name}); the folder now holds only the new frames {span}",
            stacklevel=3,
        )
    return stale


def _any_padding_numbers(pattern: SequencePattern) -> list[tuple[Path, int]]:
    """Frame files of ``pattern`` in its folder whatever their padding (the sequence being replaced),
    with their frame numbers."""
    matcher = re.compile(re.escape(pattern.prefix) + r"(-?\d+)" + re.escape(pattern.suffix) + "$")
    try:
        names = os.listdir(pattern.folder)
    except OSError:
        return []
    found = ((name, matcher.match(name)) for name in names)
    return sorted((pattern.folder / name, int(match.group(1))) for name, match in found if match)


@contextlib.contextmanager
def staged_sequence(target: PathLike) -> Iterator[SequenceStage]:
    """Lock the sequence ``target`` (``shot.%04d.exr``), yield a :class:`SequenceStage` whose
    ``path(n)`` / ``pattern`` name frames in a hidden staging folder beside it, and on leaving the block
    swap them in (replacing the earlier sequence whole) or, on an exception, remove them. The staging
    folder is on the target's file system, so other processes (workers) may write frames into it."""
    pattern = parse_pattern(target)
    if pattern is None:
        raise MediaError(f"{target} is not a sequence pattern (shot.%04d.exr or shot.####.exr)")
    check_output_folder(pattern.folder / "x")
    with OutputLock(target):
        stage = SequenceStage(pattern)
        try:
            yield stage
        except BaseException:
            stage.discard()
            raise
        stage.commit()
