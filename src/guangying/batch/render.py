"""What a worker does with one frame range: ``run_job`` (so the one FrameCompositor) into a staging area.

Each range writes its own files under a hidden staging folder beside each output (same file system,
so the join only renames); nothing reaches the output's own name until the whole shot is joined.
The matte engines are kept per worker, so a neural model is loaded once, not per shot or range.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import GuangyingError
from guangying.base.mattes import Matter
from guangying.batch.plan import FrameRange
from guangying.media import open_writer
from guangying.media.patterns import parse_pattern
from guangying.media.video_writer import VIDEO_EXTENSIONS
from guangying.pipeline.frame import FrameResult
from guangying.pipeline.job import NoFramesError, run_job
from guangying.pipeline.job_options import composite_settings, job_outputs, keyer_settings, lens_hook
from guangying.pipeline.matters import keyer_of, make_matter
from guangying.pipeline.warm_up import compile_keyer

STAGING_FOLDER = ".guangying-batch"
CONTACT_HEIGHT_PX = 180


@dataclass(frozen=True)
class StagedFile:
    """A file written by a batch: where, how big, its sha256, and its frame number in a sequence."""

    path: str
    size: int
    sha256: str
    frame: int | None = None


@dataclass(frozen=True)
class RangeTask:
    """Everything a worker needs for one range (plain data: it travels to other machines)."""

    shot: str
    fingerprint: str
    command: str
    source: str
    background: str | None
    options: dict[str, Any]
    outputs: dict[str, str]  # kind → final path
    shot_first: int  # the source's own first frame (run_job's shot_start)
    range: FrameRange
    contact_frame: int | None = None  # draw the contact sheet when this frame passes
    attempt: int = 1


@dataclass
class RangeResult:
    shot: str
    range: FrameRange
    frames: int
    files: dict[str, list[StagedFile]]  # kind → staged files, in frame order
    seconds: float
    worker: str
    contact: str | None = None
    model_loads: int = 0
    held_frames: list[int] = field(default_factory=list)  # see JobReport
    artefact_frames: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the render warned, for the driver to say
    empty_matte_frames: list[int] | None = None  # see JobReport


def shot_staging(final: str | Path, shot: str, fingerprint: str) -> Path:
    """The hidden folder where a shot's ranges for the output ``final`` are staged."""
    return Path(final).parent / STAGING_FOLDER / f"{shot}-{fingerprint[:8]}"


def range_staging(task: RangeTask, kind: str) -> Path:
    return shot_staging(task.outputs[kind], task.shot, task.fingerprint) / kind / task.range.key


def staged_target(final: str | Path, folder: Path) -> Path:
    """Where a range writes what belongs at ``final``: a video segment, or frames under their own names."""
    final = Path(final)
    if final.suffix.lower() in VIDEO_EXTENSIONS:
        return folder / f"segment{final.suffix.lower()}"
    return folder / final.name


def file_record(path: Path, frame: int | None = None) -> StagedFile:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return StagedFile(str(path), path.stat().st_size, digest.hexdigest(), frame)


def _written_files(folder: Path, final: str) -> list[StagedFile]:
    pattern = parse_pattern(str(folder / Path(final).name))
    if pattern is None:
        return [file_record(p) for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    return [file_record(pattern.path(n), n) for n in pattern.find_numbers()]


class _ContactGrabber:
    """Keeps small copies of plate, matte and composite (or foreground) of one frame."""

    def __init__(self, frame: int | None) -> None:
        self.frame = frame
        self.panels: list[tuple[str, np.ndarray]] = []

    def __call__(self, index: int, rgb_srgb: np.ndarray, result: FrameResult) -> None:
        if index != self.frame:
            return
        if result.composite_rgb_srgb is not None:
            third = ("composite", result.composite_rgb_srgb)
        else:
            fg = linear_to_srgb(srgb_to_linear(result.foreground_rgb_srgb) * result.alpha[..., None])
            third = ("foreground", fg)
        matte = np.repeat(result.alpha[..., None], 3, axis=2)
        self.panels = [(f"plate {index}", rgb_srgb), ("matte", matte), third]

    def write(self, path: Path) -> str | None:
        if not self.panels:
            return None
        tiles = []
        for caption, rgb in self.panels:
            h, w = rgb.shape[:2]
            scale = CONTACT_HEIGHT_PX / h
            size = (max(1, round(w * scale)), CONTACT_HEIGHT_PX)
            tile = cv2.resize(np.ascontiguousarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA)
            cv2.rectangle(tile, (0, 0), (tile.shape[1], 18), (0.0, 0.0, 0.0), -1)
            white = (1.0, 1.0, 1.0)
            cv2.putText(tile, caption, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, white, 1, cv2.LINE_AA)
            tiles.append(tile)
        sheet = np.clip(np.concatenate(tiles, axis=1), 0.0, 1.0)
        with open_writer(path, content="rgb", bit_depth=8) as writer:
            writer.write(sheet, transfer="srgb")
        return str(path)


def _named_as_outputs(message: str, folders: dict[str, Path], outputs: dict[str, str]) -> str:
    """``message`` with each staging folder's paths (and whatever follows them in the path) replaced by
    the output they stand for."""
    for kind, folder in folders.items():
        anywhere_in = re.escape(str(folder)) + r"[^\s,;:()]*"
        # a full disk's advice names a folder: the output's ("Free space in shots/s.%04d.exr")
        where = str(Path(outputs[kind]).parent).replace("\\", "\\\\")  # a replacement's escapes
        message = re.sub("Free space in " + anywhere_in, f"Free space in {where}", message)
        message = re.sub(anywhere_in, outputs[kind].replace("\\", "\\\\"), message)
    return message


PROGRESS_EVERY_S = 1.0  # how often a worker tells the driver how far into its range it is


class ProgressBoard:
    """Frames written so far by each range in flight, as workers report them (a Ray actor in a batch):
    the driver's display moves within a range, not only when one ends (an AI range takes minutes)."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, str, int], int] = {}

    def report(self, task_key: tuple[str, str, int], frames: int) -> None:
        self._frames[task_key] = frames

    def snapshot(self) -> dict[tuple[str, str, int], int]:
        return dict(self._frames)


def task_key(task: RangeTask) -> tuple[str, str, int]:
    """One attempt at one range: a retried range starts its count again."""
    return task.shot, task.range.key, task.attempt


class _FrameCounter:
    """Counts a range's written frames and tells the progress board at most every PROGRESS_EVERY_S."""

    def __init__(self, board: Any, key: tuple[str, str, int]) -> None:  # noqa: ANN401  (a Ray handle)
        self._board, self._key = board, key
        self.frames, self._told = 0, time.monotonic()

    def __call__(self) -> None:
        self.frames += 1
        now = time.monotonic()
        if self._board is not None and now - self._told >= PROGRESS_EVERY_S:
            self._board.report.remote(self._key, self.frames)  # fire and forget: never waits on the driver
            self._told = now


class RangeRenderer:
    """Renders ranges; one per worker process, holding the matte engines between shots. ``progress_board``
    (a :class:`ProgressBoard` actor handle) hears how far each range has got. ``keys``: some shot keys
    (chroma or hybrid), so the keyer is compiled as the worker starts."""

    def __init__(self, progress_board: Any = None, keys: bool = False) -> None:  # noqa: ANN401  (a Ray handle)
        self._matters: dict[tuple[Any, ...], Matter] = {}
        self.model_loads = 0
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._board = progress_board
        if keys:  # a first run's minute of compiling was counted as the first shot's render time
            compile_keyer()

    def whoami(self) -> str:
        """ "host:pid" of this worker (the driver names workers by it; tests kill them by it)."""
        return self.worker

    def matter(self, source: str, options: dict[str, Any]) -> Matter:
        """The engine for ``options``; a neural one is built once per worker and reused (reset per range)."""
        settings = keyer_settings(source, options)
        key = (options["matte"], options.get("preset"), options.get("downsample_ratio"))
        matter = self._matters.get(key)
        if matter is None or options["matte"] == "chroma":
            matter = make_matter(
                options["matte"],
                keyer_settings=settings,
                preset=options.get("preset", "portrait"),
                downsample_ratio=options.get("downsample_ratio"),
            )
            if options["matte"] != "chroma":
                self.model_loads += 1
                self._matters[key] = matter
            return matter
        keyer = keyer_of(matter)
        if keyer is not None:  # hybrid: this shot's keyer settings, the same network
            keyer.settings = settings
        return matter

    def render(self, task: RangeTask) -> RangeResult:
        started = time.perf_counter()
        folders = {kind: range_staging(task, kind) for kind in task.outputs}
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)  # a range cut short by a dead worker starts over
            folder.mkdir(parents=True)
        staged = {kind: staged_target(task.outputs[kind], folders[kind]) for kind in task.outputs}
        outputs = job_outputs(task.options, **staged)
        outputs.audio = False  # sound is laid over the joined picture, continuous across ranges
        rng = task.range
        grabber = _ContactGrabber(task.contact_frame)
        counter = _FrameCounter(self._board, task_key(task))

        def on_frame(index: int, rgb_srgb: np.ndarray, result: FrameResult) -> None:
            grabber(index, rgb_srgb, result)
            counter()
        lens = None
        if task.command == "composite":
            lens = lens_hook(task.options, task.options.get("footage_pixel_aspect", 1.0), task.source)
        try:
            # caught, not printed: Ray relayed them as raw Python warnings (source path, code line), once
            # per range; the driver says each once per shot, as a single render does
            with warnings.catch_warnings(record=True) as caught:
                report = run_job(
                    task.source,
                    self.matter(task.source, task.options),
                    outputs,
                    background=task.background if task.command == "composite" else None,
                    start=rng.first - rng.warmup,
                    end=rng.last,
                    settings=composite_settings(task.options),
                    layer_hook=lens,
                    show_progress=False,
                    warmup_frames=rng.warmup or None,  # none of its own: a shot from partway in warms up
                    shot_start=task.shot_first,
                    on_frame=on_frame,
                    camera_log=task.options.get("camera_log", "auto"),
                    background_camera_log=task.options.get("background_log", "auto"),
                    fps=task.options.get("fps"),
                    say_lost_subject=False,  # the driver says it for the shot's frames
                )
        except NoFramesError:
            if not rng.may_be_empty:
                raise
            for folder in folders.values():  # past the clip's real end: nothing to join
                shutil.rmtree(folder, ignore_errors=True)
            return RangeResult(task.shot, rng, 0, {kind: [] for kind in task.outputs},
                               time.perf_counter() - started, self.worker)
        except GuangyingError as exc:
            said = _named_as_outputs(str(exc), folders, task.outputs)
            if said == str(exc):
                raise
            # the shot's own outputs named, not the range's hidden staging files ("Free space in
            # …/.guangying-batch/E001-8baf/alpha/0-29/.E001_alpha.#.png.staging-22841/")
            raise type(exc)(said) from exc
        kind = next(iter(task.outputs))
        contact_root = shot_staging(task.outputs[kind], task.shot, task.fingerprint)
        contact = grabber.write(contact_root / f"contact-{rng.key}.png")
        files = {kind: _written_files(folders[kind], task.outputs[kind]) for kind in task.outputs}
        return RangeResult(
            task.shot,
            rng,
            report.frames,
            files,
            time.perf_counter() - started,
            self.worker,
            contact,
            self.model_loads,
            report.held_frames,
            report.artefact_frames,
            list(dict.fromkeys(_named_as_outputs(str(w.message), folders, task.outputs) for w in caught)),
            report.empty_matte_frames,
        )
