"""Join a shot's ranges into its outputs, without re-encoding and without a seam.

Video: each range is its own encode, so it starts on a key frame and its GOPs are closed (ProRes and
FFV1 are intra-only anyway); the packets of all segments are copied one after another into one file
with continuous timestamps, the shot's timecode, and the source's sound for the whole shot laid over
it in one piece. Image sequences: the frames are already numbered as in the source; the whole sequence
is swapped into the output folder at once (renames on the same file system: no copy, no re-encode).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import av.error

from guangying.base.atomic import describe_os_error, partial_path, remove_quietly, through_link
from guangying.base.errors import MediaError
from guangying.batch.jobs import Shot
from guangying.batch.plan import ShotPlan
from guangying.batch.render import STAGING_FOLDER, RangeResult, StagedFile, file_record, shot_staging
from guangying.media.audio import container_tag, copy_video_stream, has_audio, mux_with_audio
from guangying.media.outputs import swap_in_sequence
from guangying.media.patterns import parse_pattern
from guangying.media.video_writer import VIDEO_EXTENSIONS

# faststart puts the index first, as the video writer does for .mp4.
_CONTAINER_OPTIONS = {".mp4": {"movflags": "+faststart"}}


def concat_video(
    segments: list[Path],
    target: Path,
    fps: Fraction,
    timecode: str | None = None,
    audio_from: str | None = None,
    first_frame: int = 0,
) -> int:
    """Copy the packets of ``segments`` (same codec and size) into ``target`` atomically; returns the
    frame count. ``audio_from``: a source whose sound from frame ``first_frame`` is laid over it."""
    target = through_link(target)
    temp = partial_path(target)
    options = _CONTAINER_OPTIONS.get(target.suffix.lower(), {})
    frames = 0
    try:
        with av.open(str(segments[0])) as head, av.open(str(temp), "w", options=options) as out:
            template = head.streams.video[0]
            if timecode:
                out.metadata["timecode"] = timecode
            stream = copy_video_stream(out, template, fps, container_tag(head, "reel_name"))
            next_dts_s: Fraction | None = None  # one frame after the last decode time written
            for segment in segments:
                with av.open(str(segment)) as part:
                    source = part.streams.video[0]
                    offset = round(Fraction(frames) / fps / source.time_base)
                    dts_offset: int | None = None
                    for packet in part.demux(source):
                        if packet.dts is None and packet.pts is None:
                            continue  # end-of-stream marker
                        if packet.pts is not None:
                            packet.pts += offset
                        if packet.dts is not None:
                            if dts_offset is None:
                                # A shorter segment starts with less B-frame delay: its decode times,
                                # moved as its picture times are, left a gap of frames, and the MP4's
                                # rate read 125/6 for 25. They go on from the last one instead (never
                                # later than the picture times allow).
                                dts_offset = offset
                                if next_dts_s is not None:
                                    following = round(next_dts_s / source.time_base)
                                    dts_offset = min(offset, following - packet.dts)
                            packet.dts += dts_offset
                            next_dts_s = (packet.dts * source.time_base) + 1 / fps
                        packet.stream = stream
                        out.mux(packet)
                        frames += 1
        if audio_from is not None and has_audio(audio_from):
            mux_with_audio(
                temp,
                Path(audio_from),
                target,
                start_s=first_frame / fps,
                duration_s=frames / fps,
                container_options=options,
                frame_rate=fps,
            )
            remove_quietly(temp)
        else:
            os.replace(temp, target)
    except (OSError, av.error.FFmpegError) as exc:
        remove_quietly(temp)
        raise MediaError(f"joining the ranges of {target}: {describe_os_error(exc, target)}") from exc
    except BaseException:
        remove_quietly(temp)
        raise
    return frames


def join_shot(plan: ShotPlan, results: list[RangeResult]) -> dict[str, list[StagedFile]]:
    """Put every output of the shot in place from its ranges (``results`` in frame order)."""
    shot = plan.shot
    joined: dict[str, list[StagedFile]] = {}
    for kind, final in shot.outputs.items():
        staged = [record for result in results for record in result.files[kind]]
        target = Path(final)
        # the run holds the output's OutputLock from its plan on (runner._plan_all)
        if target.suffix.lower() in VIDEO_EXTENSIONS:
            audio = None if shot.options.get("no_audio") or kind == "alpha" else shot.source
            segments = [Path(record.path) for record in staged]
            concat_video(segments, target, plan.fps, plan.timecode, audio, plan.first_frame)
            joined[kind] = [file_record(target)]
        elif parse_pattern(final) is not None:
            # The whole sequence at once: frames renamed into place, an earlier run's extras removed;
            # a shot of part of its source (start/end) mends those frames and keeps the rest, as
            # `composite --start/--end` does (it left only its own frames in the folder)
            pattern = parse_pattern(final)
            assert pattern is not None
            part = shot.options.get("start") is not None or shot.options.get("end") is not None
            swap_in_sequence(pattern, {r.frame: Path(r.path) for r in staged if r.frame is not None},
                             patch=part)
            joined[kind] = [dataclasses.replace(r, path=str(pattern.path(r.frame or 0))) for r in staged]
        else:  # a single picture
            os.replace(staged[0].path, target)
            joined[kind] = [dataclasses.replace(staged[0], path=str(target))]
    return joined


def sweep_stale_staging(shot: Shot, fingerprint: str) -> list[Path]:
    """Delete what an interrupted run of ``shot`` staged under other settings (another fingerprint):
    no later run would use or remove it, and at 4K EXR it held gigabytes in a hidden folder. Returns
    the folders removed."""
    current = shot_staging(next(iter(shot.outputs.values())), shot.name, fingerprint).name
    removed = []
    for final in shot.outputs.values():
        root = Path(final).parent / STAGING_FOLDER
        for folder in root.glob(f"{glob.escape(shot.name)}-*") if root.is_dir() else []:
            if folder.name != current and folder.name.rsplit("-", 1)[0] == shot.name and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def remove_staging(plan: ShotPlan, fingerprint: str) -> None:
    """Delete the shot's staging folders (and the staging root when it is left empty)."""
    for final in plan.shot.outputs.values():
        folder = shot_staging(final, plan.shot.name, fingerprint)
        shutil.rmtree(folder, ignore_errors=True)
        root = Path(final).parent / STAGING_FOLDER
        try:
            root.rmdir()
        except OSError:
            pass  # other shots still stage there
