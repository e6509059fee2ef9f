"""Outputs appear whole or not at all: write beside the target under a hidden name, then rename."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path

from guangying.base.errors import MediaError, SettingsError

_SIDE_NAME_BYTES = 180  # room left in a file system's 255-byte names for the hidden names' additions


def side_name(name: str) -> str:
    """``name`` as our hidden files beside an output carry it (``.NAME.lock``, ``.NAME.partial-…``): a
    long name is cut and ends in a hash of the whole, so theirs fit the 255 bytes a name may have
    wherever the output's own does (a legal 250-byte name was refused for its lock file's)."""
    raw = name.encode()
    if len(raw) <= _SIDE_NAME_BYTES:
        return name
    return f"{raw[:_SIDE_NAME_BYTES - 13].decode(errors='ignore')}~{hashlib.sha1(raw).hexdigest()[:12]}"


def through_link(target: Path) -> Path:
    """Where writing ``target`` lands: the file a symbolic link there names, else ``target`` (renamed
    onto the link, an output replaced the link, and the file it named stayed stale: a conform folder's
    link to a render went on showing the old render)."""
    try:
        linked = target.is_symlink()
    except OSError:  # a name too long: said where it is written
        return target
    return Path(os.path.realpath(target)) if linked else target


def partial_path(target: Path) -> Path:
    """Hidden temp name in the target's folder (same file system, so os.replace is atomic). The real
    extension stays last because muxers and image encoders choose the format from it."""
    tag = f"{os.getpid()}-{secrets.token_hex(3)}"
    return target.with_name(f".{side_name(target.stem)}.partial-{tag}{target.suffix}")


def remove_quietly(path: Path) -> None:
    """Best-effort cleanup after a failure: never raises, so the error that caused it is the one the
    user sees (on a read-only file system unlink fails too). A partial file that stays is warned about."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        if os.path.lexists(path):
            warnings.warn(f"could not remove the unfinished file {path}: {exc}; delete it", stacklevel=2)


def check_written_as(target: Path, suffixes: tuple[str, ...], what: str) -> None:
    """Refuse an output whose extension is none of ``suffixes`` (".json", …): ``board -o shot.mp4`` wrote
    its JSON over the clip of that name without a word."""
    if target.suffix.lower() not in suffixes:
        raise SettingsError(f"{target}: {what} is written as {' or '.join(suffixes)}, not "
                            f"{target.suffix or 'a name without an extension'}; nothing was written")


def check_output_folder(target: Path) -> None:
    folder = target.parent
    longest = _name_max(folder)
    if len(target.name.encode()) > longest:  # os.stat of it raised a raw OSError
        raise MediaError(f"cannot write {target.name[:40]}…: its name is {len(target.name.encode())} bytes, "
                         f"and the file system of {folder} takes names of at most {longest}; shorten it")
    if not folder.is_dir():
        raise MediaError(f"cannot write {target}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise MediaError(f"cannot write {target}: {_why_not_writable(folder)}")
    if target.exists() and not (target.is_file() or target.is_dir()):  # -o through a link to /dev/full
        # was judged by the device's name ("unknown output type (no extension)"), or the partial file
        # went beside the device
        raise MediaError(f"cannot write {target}: it is a device or a pipe, not a file; outputs are written "
                         "to a temporary file renamed when finished: name a file")
    if target.is_dir():  # found only at the final rename, after the whole render
        raise MediaError(f"cannot write {target}: it is a folder; name a file in it (e.g. "
                         f"{target / ('output' + target.suffix) if target.suffix else target / 'comp.mov'})")


def _why_not_writable(folder: Path) -> str:
    """A read-only disk (a camera card's lock, a mount) said as a permission problem sent a user to
    fix permissions that were not the cause."""
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        read_only = False
    if read_only:
        return (f"the disk holding {folder} is read-only (a locked card, or mounted read-only); write "
                "to another disk")
    return f"no permission to write in folder {folder}"


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # a folder not there yet (said next) or a system without pathconf
        return 255


def describe_os_error(exc: BaseException, target: Path) -> str:
    """A sentence for the user about a failed write to ``target``."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return (
            f"the disk is full while writing {target}; nothing was saved there. "
            f"Free space in {target.parent} or write to another disk, then run again"
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {target} ({exc}); choose a folder you can write to"
    if code == errno.EFBIG:  # FAT32's 4 GiB, or a shell's `ulimit -f`
        return (f"{target} grew larger than its file system or a limit on this process allows (FAT32 "
                "takes 4 GiB at most; see `ulimit -f`); nothing was saved there. Write to a disk formatted "
                "exFAT, NTFS, APFS or ext4, or split the render with --start/--end")
    return f"writing {target} failed: {exc}"


def library_os_error(message: str) -> OSError:
    """An OSError for a library's failed write (OpenEXR, OpenImageIO report only a message), with the
    errno its message names (the C library's own wording, which they append), so a full disk is said
    as one (a quota used up counts as a full disk)."""
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG):
        if os.strerror(code) in message:
            return OSError(errno.ENOSPC if code == errno.EDQUOT else code, message)
    return OSError(message)


def write_with(target: Path, save: Callable[[Path], None]) -> None:
    """Atomically create ``target`` with ``save(temp_path)`` (for encoders that only write to a path);
    on failure nothing is left behind and MediaError names ``target``."""
    target = through_link(target)
    temp = partial_path(target)
    try:
        save(temp)
        os.replace(temp, target)
    except OSError as exc:
        remove_quietly(temp)
        raise MediaError(describe_os_error(exc, target)) from exc
    except BaseException:
        remove_quietly(temp)
        raise


def write_bytes(target: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``target`` atomically; on failure nothing is left behind and MediaError names it."""

    def save(temp: Path) -> None:
        with open(temp, "wb") as handle:
            handle.write(data)

    write_with(target, save)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically (tracks, calibrations, metadata); returns the path."""
    path = Path(target)
    write_bytes(path, text.encode("utf-8"))
    return path
