"""What every writer shares: input checks and colour preparation in the caller's thread, encoding in a
background thread, and commit-or-abort when the with-block ends."""

from __future__ import annotations

import atexit
import math
import os
import warnings
import weakref
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

from guangying.base.errors import MediaError
from guangying.base.stops import check_not_stopped
from guangying.media.frames import Transfer
from guangying.media.io_threads import BackgroundSink
from guangying.media.outputs import OutputLock
from guangying.media.pixels import (
    check_float_image,
    convert_transfer,
    linear_to_srgb_u8,
    premultiply,
    to_code_values,
)

Content = Literal["rgb", "rgba", "matte"]
CONTENTS = ("rgb", "rgba", "matte")
QUEUE_FRAMES = 4  # frames waiting for the encoder; bounds memory
# Writers not yet closed. One a script never closed kept its output's lock file (and its hidden
# partial) after the process ended, and nothing said why no output came: at exit it is aborted, said.
_OPEN: weakref.WeakSet[Writer] = weakref.WeakSet()


def abort_unclosed(target: str | os.PathLike[str] | None = None) -> list[str]:
    """Abort this process's writers that were opened and never closed (all, or those writing
    ``target``), saying each, and return their targets. A script that failed between ``open_writer`` and
    ``close()`` outside a ``with`` block left its writer running unreachable: in a long-lived host (a
    notebook, a DCC's Python, a render daemon) its output stayed locked ("already open for writing in this
    process") until the process ended. Nothing of theirs is saved."""
    wanted = None if target is None else OutputLock.lock_file_of(target)
    aborted = []
    for writer in list(_OPEN):
        # one whose opening failed (a refused format) holds no lock and wrote nothing: its error was said
        if writer._closed or (writer.lock is None and writer._sink is None):
            continue
        if wanted is not None and (writer.lock is None or writer.lock.path != wanted):
            continue
        warnings.warn(f"{writer.target} was never closed, so nothing was saved: close the writer, or "
                      "write inside `with open_writer(...) as writer:`", stacklevel=2)
        writer.abort()
        aborted.append(str(writer.target))
    return aborted


atexit.register(abort_unclosed)


class Writer:
    """Subclasses say what the output wants (``output_transfer``) and implement the hooks below.

    In the caller's thread: ``_prepare`` (must return new arrays: the caller may reuse its buffers once
    ``write`` returns) and ``_start`` (first frame, once the size is known). In the encode thread:
    ``_consume`` and ``_flush``. After that thread has stopped: ``_commit`` or ``_discard``.
    """

    output_transfer: Transfer = "srgb"

    def __init__(
        self,
        target: Path,
        fps: Fraction,
        width: int | None,
        height: int | None,
        content: Content,
        premultiplied: bool,
        first_frame: int,
    ) -> None:
        if content not in CONTENTS:
            raise MediaError(f"content must be one of {', '.join(CONTENTS)}, got {content!r}")
        if premultiplied and content != "rgba":
            raise MediaError("premultiplied=True only makes sense with content='rgba'")
        self.target = target
        self.fps = fps
        self.width = width
        self.height = height
        self.content = content
        self.premultiplied = premultiplied
        self.first_frame = first_frame
        self.frames_written = 0
        self._sink: BackgroundSink[Any] | None = None
        self._closed = False
        self.lock: OutputLock | None = None  # set by open_writer; released when the writer closes
        self._said_values: set[str] = set()  # what was said about a frame's values (once a writer)
        _OPEN.add(self)

    # -- hooks -----------------------------------------------------------------------------------
    def _prepare(self, rgb: np.ndarray | None, alpha: np.ndarray | None, transfer: Transfer) -> Any:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _note_time(self, time_s: float | None) -> None:
        """The next frame's source time (caller's thread, before ``_start`` of the first frame)."""

    def _consume(self, item: Any) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        """Remove everything this writer put on disk (runs after the encode thread has stopped)."""
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------------------
    def write(
        self,
        rgb: np.ndarray | None,
        alpha: np.ndarray | None = None,
        transfer: Transfer = "srgb",
        time_s: float | None = None,
    ) -> None:
        """Queue one frame: ``rgb`` float32 (H, W, 3) in ``transfer`` encoding, ``alpha`` float32 (H, W)
        straight 0–1. For ``content="matte"`` pass ``rgb=None`` and the matte as ``alpha``. ``time_s``:
        the frame's source time (``Frame.time_s``), used by video writers opened with
        ``source_timing=True`` (variable-rate sources); other writers number frames one by one."""
        if self._closed:
            raise MediaError(f"{self.target}: write() after the writer was closed")
        if transfer not in ("srgb", "linear"):
            raise MediaError(f"transfer must be 'srgb' or 'linear', got {transfer!r}")
        rgb, alpha = self._check(rgb, alpha)
        span = _check_scale(rgb, alpha, transfer)
        if rgb is not None and transfer == "srgb" and self.output_transfer == "srgb":
            self._say_clipped(rgb)
        rgb, alpha = self._finite_coverage(rgb, alpha, span)
        item = self._prepare(rgb, alpha, transfer)
        self._note_time(time_s)
        if self._sink is None:
            self._start()
            self._sink = BackgroundSink(self._consume, self._flush, QUEUE_FRAMES, f"writing {self.target}")
        self._sink.submit(item)
        self.frames_written += 1

    def _finite_coverage(self, rgb: np.ndarray | None, alpha: np.ndarray | None,
                         span: tuple[float, float] | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """NaN colour written as 0, infinite as the largest half float, and alpha (lowest and highest
        ``span``) clipped to 0–1, each said once. An EXR took NaN as it came (into every comp that reads
        it; an 8-bit file wrote it black), and an alpha of 1.5 as 1.5, its colour premultiplied by 1.5."""
        frame = self.first_frame + self.frames_written
        if rgb is not None and not math.isfinite(float(np.sum(rgb))):  # one pass; NaN and inf carry through
            bad = int(np.count_nonzero(~np.isfinite(rgb)))
            if bad:
                self._say("nonfinite", f"{self.target}: frame {frame} holds {bad} NaN or infinite value(s) "
                          "(a render's fireflies, a division by zero upstream): NaN is written black, "
                          f"infinity as {_LARGEST_HALF:g} (a half float's largest: white in an 8-bit file)")
                rgb = np.nan_to_num(rgb, nan=0.0, posinf=_LARGEST_HALF, neginf=0.0)
        if alpha is not None and span is not None:
            low, high = span
            if low < 0.0 or high > 1.0:
                if low < -0.01 or high > 1.01:  # a resampling filter's ringing is not worth a word
                    self._say("coverage", f"{self.target}: frame {frame}'s alpha runs {low:g}–{high:g}; "
                              "coverage is 0–1, so it is clipped there")
                alpha = np.clip(alpha, 0.0, 1.0)
        return rgb, alpha

    def _say_clipped(self, rgb_srgb: np.ndarray) -> None:
        """Say (once) sRGB colour past 0–1: this file's codes stop there, and a picture graded or
        composited above white lost its highlights without a word. Every pixel is looked at (every 4th
        row and column missed a specular point and a 1-px rim light)."""
        if "clipped" in self._said_values:
            return
        low, high = float(rgb_srgb.min()), float(rgb_srgb.max())
        # a resampling filter's ringing is not worth a word; NaN and infinity are said on their own
        if math.isfinite(low + high) and (low < -0.01 or high > 1.01):
            frame = self.first_frame + self.frames_written
            keep = "light above white" if high > 1.01 else "colour below black (outside BT.709's gamut)"
            self._say("clipped", f"{self.target}: frame {frame}'s sRGB colour runs {low:g}–{high:g}; this "
                      f"file holds 0–1, so it is clipped there. To keep {keep}, write EXR")

    def _say(self, what: str, message: str) -> None:
        if what not in self._said_values:
            self._said_values.add(what)
            warnings.warn(message, stacklevel=4)

    def _check(self, rgb: object, alpha: object) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.content == "matte":
            if rgb is not None:
                raise MediaError("this writer takes mattes (content='matte'): call write(None, alpha=matte)")
            if alpha is None:
                raise MediaError("content='matte' needs the matte as alpha=")
        elif rgb is None:
            raise MediaError(f"content='{self.content}' needs rgb")
        if self.content == "rgba" and alpha is None:
            raise MediaError("content='rgba' needs alpha=; pass it, or open the writer with content='rgb'")
        if self.content == "rgb" and alpha is not None:
            raise MediaError("alpha given but the writer has content='rgb'; open it with content='rgba'")
        rgb_checked = None
        if rgb is not None:
            rgb_checked = check_float_image("rgb", rgb, self.height, self.width, 3)
            self.height, self.width = rgb_checked.shape[:2]
        alpha_checked = None
        if alpha is not None:
            alpha_checked = check_float_image("alpha", alpha, self.height, self.width, 1)
            self.height, self.width = alpha_checked.shape[:2]
        return rgb_checked, alpha_checked

    def _encode_colour(
        self, rgb: np.ndarray, alpha: np.ndarray | None, transfer: Transfer, dtype: type | None
    ) -> np.ndarray:
        """Colour in the output's transfer, premultiplied if asked, as ``dtype`` code values (float32
        when ``dtype`` is None). Always a new array."""
        to_srgb = transfer == "linear" and self.output_transfer == "srgb"
        if dtype is np.uint8 and to_srgb and not self.premultiplied:
            return linear_to_srgb_u8(rgb)
        rgb = convert_transfer(rgb, transfer, self.output_transfer)
        if self.premultiplied:
            assert alpha is not None
            rgb = premultiply(rgb, alpha)
        return rgb.astype(np.float32, copy=True) if dtype is None else to_code_values(rgb, dtype)

    def disk_bytes(self) -> int:
        """Bytes this writer has put on disk so far (0 where it does not tell)."""
        return 0

    def close(self) -> None:
        """Finish and commit the output (atomic rename); on failure nothing is left at the target."""
        if self._closed:
            return
        self._closed = True
        if self._sink is None:
            self._discard()
            self._release()
            raise MediaError(f"no frames were written to {self.target}; nothing was saved")
        try:
            self._sink.finish()
            check_not_stopped()  # a stop carried on past (dropped in a C callback) replaces nothing
            self._commit()
        except BaseException:
            self._discard()
            raise
        finally:
            self._release()

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def abort(self) -> None:
        """Stop without saving: drop queued frames and remove temp files (and frames already written)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._sink is not None:
                self._sink.abort()
            self._discard()
        finally:
            self._release()

    def keep_finished(self) -> bool:
        """After a stop (Ctrl-C): save the frames written so far where they are whole files that replace
        nothing, else abort as :meth:`abort`. Only a new image sequence keeps them (see
        :meth:`_keeps_part`); a video stopped partway has no index to play it by. Returns whether frames were
        kept; errors while keeping them abort quietly (the stop is what the caller raises)."""
        if self._closed:
            return False
        if self._sink is None or not self._keeps_part():
            self.abort()
            return False
        self._closed = True
        try:
            self._sink.finish()  # the frames already handed over: at most a queue's depth
            self._commit()
        except BaseException:  # a second Ctrl-C while finishing, a full disk: nothing half kept
            self._discard()
            return False
        finally:
            self._release()
        return True

    def keep_saved(self) -> int:
        """After a failed write (a full disk): keep the frames already saved, as :meth:`keep_finished`
        does, and drop those still queued (they would fail the same way). Returns how many frames from
        the first are kept, without a gap (0: none, aborted as :meth:`abort`)."""
        if self._closed:
            return 0
        if self._sink is None or not self._keeps_part():
            self.abort()
            return 0
        self._closed = True
        try:
            self._sink.abort()
            return self._commit_saved()
        except BaseException:
            self._discard()
            return 0
        finally:
            self._release()

    def _keeps_part(self) -> bool:
        """Whether the frames written so far may be saved after a stop (:meth:`keep_finished`)."""
        return False

    def _commit_saved(self) -> int:
        """Commit the frames saved so far (for :meth:`keep_saved`; only a writer whose
        :meth:`_keeps_part` can be true); how many from the first, without a gap."""
        raise NotImplementedError

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


_LARGEST_HALF = 65504.0


def _check_scale(rgb: np.ndarray | None, alpha: np.ndarray | None,
                 transfer: Transfer) -> tuple[float, float] | None:
    """Refuse code values passed as floats: ``cv2.imread(...).astype(np.float32)`` wrote a white
    picture, and an 8-bit matte an opaque one, without a word. Only what no 0–1 picture holds is refused:
    an sRGB-coded picture mostly beyond 2 (5× white), an alpha past 2 or below −1, or a non-finite
    alpha; a linear picture's highlights may be anything (an EXR keeps them, other formats clip).
    Returns the alpha's lowest and highest (None without alpha)."""
    if rgb is not None and transfer == "srgb":
        sample = rgb[::4, ::4]  # a sample tells the scale
        if np.count_nonzero(sample > 2.0) > 0.5 * sample.size:
            raise MediaError(f"rgb reaches {float(np.nanmax(sample)):g}, but writers take colour in 0–1 "
                             "(sRGB-coded): divide 0–255 code values by 255 (65535 for 16-bit ones)")
    if alpha is None:
        return None
    low, high = float(np.min(alpha)), float(np.max(alpha))
    if not (math.isfinite(low) and math.isfinite(high)):  # NaN carries through both
        raise MediaError("alpha has NaN or infinite values: replace them first (np.nan_to_num)")
    if high > 2.0 or low < -1.0:
        raise MediaError(f"alpha runs {low:g}–{high:g}, but it is coverage in 0–1: divide an 8-bit "
                         "matte by 255 (65535 for a 16-bit one)")
    return low, high
