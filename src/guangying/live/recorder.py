"""A take's recordings: the composite, the plate and the matte, with a per-frame sidecar, committed
when the take is finalised."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from guangying.base.atomic import check_output_folder, partial_path, remove_quietly, through_link
from guangying.base.errors import MediaError, SettingsError
from guangying.live.capture import CapturedFrame
from guangying.live.disk_watch import KEEP_FREE_BYTES, DiskWatch, disk_free_bytes
from guangying.live.frames import CAMERA_FIELDS, FrameMeta, LiveFrame
from guangying.live.plate_copy import PacketPlate, TimecodeCounter, copies_plate_packets
from guangying.live.take_camera import CameraAt, PlateCamera, camera_track_beside
from guangying.live.take_names import sidecar_beside
from guangying.live.take_sound import TakeSound
from guangying.live.workers import DroppingWorker
from guangying.media import Writer, open_writer
from guangying.media.audio import SoundError, mux_with_audio
from guangying.media.image_writer import WRITTEN_EXTENSIONS
from guangying.media.outputs import keep_interrupted_recording
from guangying.media.patterns import parse_pattern
from guangying.media.pixels import to_float32
from guangying.media.video_writer import VIDEO_EXTENSIONS, VideoWriter, container_options_for
from guangying.media.writer import Content


def _recording_options(path: Path, timecode: str | None, pixel_aspect: Fraction,
                       plate: bool = False) -> dict[str, Any]:
    """Writer options of a live recording. A video file places each frame in the slot of its time in
    the take at the camera's rate, and a frame the pipeline dropped is a hold of the frame before, not a
    jump: the file is constant-rate, lasts as long as the take and stays on its timecode and on sound
    recorded beside it. Numbered one by one, a take that dropped a third of its frames played a third
    fast and drifted off its timecode. An encoded plate keeps each frame at its time instead.
    A plate in .mov is ProRes 422 HQ, a camera original's format: the camera sent no more than 4:2:2,
    and 4444 took half as long again to encode, more than a 2-core laptop has beside the keyer."""
    options: dict[str, Any] = {"profile": "422hq"} if plate and path.suffix.lower() == ".mov" else {}
    if pixel_aspect != 1:
        options["pixel_aspect"] = pixel_aspect
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        # (the plate misses a frame only where its encoder fell behind, said; its camera track is
        # numbered by the pictures it holds)
        options["source_timing" if plate else "hold_gaps"] = True
        if timecode:
            options["timecode"] = timecode
    if path.suffix.lower() == ".mp4":
        options["preset"] = "ultrafast"  # live: the encoder must keep up on a laptop
    return options



def check_processed_recording(kind: str, path: Path | None) -> None:
    """Refuse a recording of the processed frames (``kind`` composite or matte) that is not a video: a
    picture sequence was numbered one by one, so the frames the take dropped closed up (a 6 s take played
    in 3 s, off the sidecar's numbers and the plate). A video holds a dropped frame in its place."""
    if path is not None and Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
        option = "--record" if kind == "composite" else "--record-matte"
        raise SettingsError(f"{option} {path}: a live recording is a video, .mp4, .mov or .mkv (a frame the "
                            "take drops is a hold in it); render pictures from the plate in post")


def _holds_8_bit_codes(rgb: np.ndarray) -> bool:
    """Whether a captured picture is 8-bit code values: a camera's uint8, or a clip played as the camera
    (float 0–1) that was 8-bit, judged on 16 rows across it (an 8-bit clip's .mkv plate was 16-bit:
    624 MB for 100 s of 480×270, and it fell behind)."""
    if rgb.dtype == np.uint8:
        return True
    if rgb.dtype.kind != "f":
        return False
    codes = rgb[:: max(1, rgb.shape[0] // 16)].astype(np.float64) * 255.0
    return bool(np.all(np.abs(codes - np.round(codes)) < 1e-3))


class _PlateRecorder(DroppingWorker[CapturedFrame]):
    """``--record-plate``: every frame the camera delivers, taken from the capture thread as it arrives
    and encoded in a thread of its own, so the plate post renders from is whole even when keying falls
    behind (recorded from the processed frames, it lost every frame the pipeline dropped). Up to a
    second of frames waits for the encoder; beyond that the oldest are dropped and counted."""

    name = "plate-recorder"

    def __init__(self, path: Path, fps: Fraction, pixel_aspect: Fraction,
                 camera: PlateCamera | None = None, sound: TakeSound | None = None) -> None:
        self.path, self.fps, self.pixel_aspect, self.camera = path, fps, pixel_aspect, camera
        self.sound = sound  # the sender's, from the plate's first picture
        self.start_timecode: str | None = None  # the plate's first picture's
        self._writer: Writer | None = None
        self._first_time_s = self._last_time_s = 0.0
        super().__init__(queue_items=max(8, round(fps)))

    def put(self, frame: CapturedFrame) -> None:
        """Called in the capture thread: never waits."""
        self._queue.put(frame)

    def _consume(self, frame: CapturedFrame) -> None:
        if self._writer is None:
            if frame.converted_from is not None:  # post took it for the camera's latitude
                warnings.warn(f"{self.path}: the camera sends {frame.converted_from}, and this plate is "
                              "encoded from the take's SDR picture (light above diffuse white rolled off), "
                              "not the camera's code values: post cannot get the highlights back from it. "
                              "Record the camera original on the camera or the recorder it feeds (a "
                              "stream's H.264 or HEVC is copied as sent)", stacklevel=2)
            self._first_time_s = frame.take_time_s
            self.start_timecode = frame.timecode
            if self.sound is not None:
                self.sound.start(self._first_time_s)
            options = _recording_options(self.path, frame.timecode, self.pixel_aspect, plate=True)
            if self.path.suffix.lower() == ".mkv" and _holds_8_bit_codes(frame.rgb):
                options["bit_depth"] = 8  # the camera's own codes: half the size, a third the encoding
            self._writer = open_writer(self.path, fps=self.fps, content="rgb", **options)
        picture = self._writer.frames_written
        time_s = frame.take_time_s - self._first_time_s
        self._last_time_s = frame.take_time_s
        self._writer.write(to_float32(frame.rgb), time_s=time_s)
        if self.camera is not None:
            self.camera.add(picture, time_s, frame.t_capture_s)

    @property
    def span_s(self) -> float:
        """From the plate's first picture to its last's start."""
        return self._last_time_s - self._first_time_s

    @property
    def first_number(self) -> int:
        """The number guangying reads the plate's first picture as: a sequence's first file's."""
        return self._writer.first_frame if self._writer is not None and parse_pattern(self.path) else 0

    def close(self) -> Path | None:
        """Encode what waits, then finalise; the path, or None when no frame came."""
        self._drain_or_fail(f"recording the plate {self.path}")
        if self._writer is None:
            return None
        self._writer.close()
        if self.dropped:
            # an .mkv plate was told to be recorded as .mkv
            faster = ("record the plate as .mp4 (H.264) or .mkv (FFV1, lossless): both encode faster than "
                      ".mov's ProRes" if Path(self.path).suffix.lower() == ".mov" else
                      "record fewer things at once (--record, --record-matte) or use a faster machine")
            warnings.warn(
                f"the plate recording {self.path} missed {self.dropped} frame(s): its encoder could not keep "
                f"up (the frames around them keep their times). On this machine {faster}", stacklevel=2)
        return self.path

    def abort(self) -> None:
        self._drain(5.0)
        if self._writer is not None:
            self._writer.abort()




class Recorder:
    """``--record`` composite, ``--record-plate``, ``--record-matte`` and the sidecar, committed on close.

    Every file is written under a hidden temporary name and renamed only when the take is finalised,
    so an interrupted take never leaves a file that looks whole. The plate is recorded from every
    frame the camera delivers (:attr:`plate_tap`), or is its packets copied as sent
    (:attr:`plate_packet_tap`); the composite, the matte and the sidecar from the frames the pipeline
    processed, each in the slot of its time in the take at the camera's rate (the dropped ones held).
    With a tracked set (``camera``: its camera at a capture time) the plate gets its camera track beside
    it (:mod:`guangying.live.take_camera`).
    """

    def __init__(
        self,
        fps: Fraction,
        composite: Path | None = None,
        plate: Path | None = None,
        matte: Path | None = None,
        sidecar: Path | None = None,
        pixel_aspect: Fraction = Fraction(1),
        camera_codec: str | None = None,
        camera_clock: bool = True,
        camera_size: tuple[int, int] = (0, 0),
        sound: Any = None,  # noqa: ANN401
        sound_replayed: bool = False,
        camera: CameraAt | None = None,
        timecode_count_at: TimecodeCounter | None = None,
        keep_free_bytes: int = KEEP_FREE_BYTES,
        free_bytes: Callable[[Path], int] = disk_free_bytes,
    ) -> None:
        self.fps, self.pixel_aspect = fps, pixel_aspect
        check_processed_recording("composite", composite)
        check_processed_recording("matte", matte)
        self.paths = {"composite": composite, "matte": matte}
        first = next((p for p in (composite, plate, matte) if p is not None), None)
        if sidecar is None and first is not None:
            sidecar = sidecar_beside(first)
        self.sidecar = sidecar
        recorded = [path for path in (composite, plate, matte, sidecar) if path is not None]
        for path in recorded:
            check_output_folder(path)  # fail before the take, not at its first frame
        for written_as_it_runs in (plate, sidecar):  # what a killed take left of them plays
            if written_as_it_runs is not None:
                keep_interrupted_recording(written_as_it_runs)
        self._disk = DiskWatch(recorded, keep_free_bytes, free_bytes)
        # a stream's or camera's compressed pictures (``camera_codec``) are copied where the plate's
        # container takes them, at the sender's times (``camera_clock``) or their arrival; anything
        # else (a file played live, raw video) is encoded
        self._plate: _PlateRecorder | PacketPlate | None = None
        # a tracked set's camera at each of the plate's pictures, for post to render the set from
        plate_camera = None
        if plate is not None and camera is not None:
            plate_camera = PlateCamera(camera, camera_track_beside(plate))
        if plate is not None and copies_plate_packets(camera_codec, plate):
            # only intra-only pictures can be placed by arrival: H.264's reordered frames keep the
            # sender's times (an RTP stream's are real even when it names no rate)
            self._plate = PacketPlate(plate, fps, by_arrival=not camera_clock and camera_codec == "mjpeg",
                                       size=camera_size, camera=plate_camera,
                                       timecode_count_at=timecode_count_at)
        elif plate is not None:
            if plate.suffix.lower() not in (*VIDEO_EXTENSIONS, *WRITTEN_EXTENSIONS):
                # said at the plate's first frame, after the take had started (and lost the composite)
                raise MediaError(f"{plate}: this camera's plate is encoded (a file played live, or raw "
                                 f"video), which {plate.suffix or 'a name without extension'} cannot hold; "
                                 "use .mov (ProRes), .mkv or .mp4 (.ts takes only a stream's copied H.264 "
                                 "or HEVC)")
            # the sender's sound too, as the composite's (a plate without it lost the take's sound in
            # post, unsaid)
            plate_sound = (TakeSound(plate, sound, replayed=sound_replayed)
                           if sound is not None and plate.suffix.lower() in VIDEO_EXTENSIONS else None)
            self._plate = _PlateRecorder(plate, fps, pixel_aspect, plate_camera, plate_sound)
        self._writers: dict[str, Writer] = {}
        self._sidecar = None if sidecar is None else _Sidecar(sidecar)
        self._first_time_s = self._last_time_s = 0.0
        # the sender's sound (``sound``: its track, as a template) goes into a video composite too; a
        # clip's replayed under --loop (``sound_replayed``) is encoded again, to join its passes exactly
        self._sound: TakeSound | None = None
        if sound is not None and composite is not None and composite.suffix.lower() in VIDEO_EXTENSIONS:
            self._sound = TakeSound(composite, sound, replayed=sound_replayed)
        self.frames = 0

    @property
    def active(self) -> bool:
        return self.sidecar is not None

    @property
    def plate_tap(self) -> Callable[[CapturedFrame], None] | None:
        """What the capture hands every frame of the take to (``LiveSource.begin_take``)."""
        return self._plate.put if isinstance(self._plate, _PlateRecorder) else None

    @property
    def plate_packet_tap(self) -> Callable[[av.Packet, Any, float], None] | None:
        """What the capture hands every packet of the take to, for a copied plate."""
        return self._plate.put if isinstance(self._plate, PacketPlate) else None

    @property
    def sound_listener(self) -> Callable[[av.Packet, float], None] | None:
        """What the capture hands the sender's sound to (``LiveSource.sound_listeners``), if kept."""
        kept = [sound for sound in (self._sound, self._plate_sound) if sound is not None]
        if not kept:
            return None

        def put(packet: av.Packet, take_time_s: float) -> None:
            for sound in kept:
                sound.put(packet, take_time_s)

        return put

    @property
    def _plate_sound(self) -> TakeSound | None:
        return self._plate.sound if isinstance(self._plate, _PlateRecorder) else None

    def _open(self, timecode: str | None) -> None:
        for kind, path in self.paths.items():
            if path is None:
                continue
            content: Content = "matte" if kind == "matte" else "rgb"
            self._writers[kind] = open_writer(path, fps=self.fps, content=content,
                                              **_recording_options(path, timecode, self.pixel_aspect))

    def write(self, frame: LiveFrame) -> None:
        """Record one processed frame; :class:`DiskNearlyFull` when the take must stop for its
        recordings to be finalised (then :meth:`close` them)."""
        if self._plate is not None and self._plate.error is not None:
            raise MediaError(f"recording the plate {self._plate.path} failed: {self._plate.error}")
        self._disk.check(frame.meta.take_time_s, self._sound_copy_bytes, self.paths["composite"])
        if not self._writers:
            self._open(frame.meta.timecode)
            self._first_time_s = frame.meta.take_time_s
            if self._sound is not None:
                self._sound.start(self._first_time_s)
        time_s = frame.meta.take_time_s - self._first_time_s
        for kind, writer in self._writers.items():
            if kind == "composite":
                writer.write(frame.composite_rgb_srgb, time_s=time_s)
            else:
                writer.write(None, alpha=frame.alpha, time_s=time_s)
        if self._sidecar is not None:
            self._sidecar.add(frame.meta)
        self._last_time_s = frame.meta.take_time_s
        self.frames += 1

    def close(self, end_time_s: float | None = None) -> list[Path]:
        """Finalise every file (atomic renames); returns what was written. Nothing recorded → nothing.
        ``end_time_s``: the take's last frame's time (dropped or not): the recordings of processed
        frames hold their last one to it, and end with the take and its plate."""
        written: list[Path] = []
        errors: list[str] = []
        if end_time_s is not None and self._writers and end_time_s > self._last_time_s:
            for writer in self._writers.values():
                if isinstance(writer, VideoWriter):
                    writer.hold_last_frame_until(end_time_s - self._first_time_s)
            self._last_time_s = end_time_s
        sound = None if self._sound is None else self._sound.close()
        if self._sound is not None and self._sound.note is not None:
            warnings.warn(f"{self.paths['composite']}: {self._sound.note}", stacklevel=2)
        plate_sound = self._plate_sound
        if self._plate is not None:
            try:
                plate = self._plate.close()
                if plate is not None and isinstance(self._plate, _PlateRecorder) and plate_sound is not None:
                    if (kept := plate_sound.close()) is not None:
                        self._add_sound(plate, kept, self._plate.span_s)
                    elif plate_sound.note is not None:
                        warnings.warn(f"{plate}: {plate_sound.note}", stacklevel=2)
                if plate is not None:
                    written.append(plate)
                    if self._plate.camera is not None and (track := self._plate.camera.write(
                            self._plate.first_number, self._plate.start_timecode, self.fps)) is not None:
                        written.append(track)
            except (MediaError, SettingsError) as exc:
                errors.append(str(exc))
            if plate_sound is not None:
                plate_sound.discard()
        for kind, writer in self._writers.items():
            try:
                writer.close()
                written.append(Path(self.paths[kind]))  # type: ignore[arg-type]
                if kind == "composite" and sound is not None:
                    self._add_sound(written[-1], sound, self._last_time_s - self._first_time_s)
            except MediaError as exc:
                errors.append(str(exc))
        if self._sound is not None:
            self._sound.discard()
        if self._sidecar is not None:
            try:
                if (log := self._sidecar.close()) is not None:
                    written.append(log)
            except MediaError as exc:
                errors.append(str(exc))
        if errors:
            raise MediaError("; ".join(errors))
        return written

    def _sound_copy_bytes(self) -> int:
        """Room muxing the sender's sound into the composite takes: a copy of it."""
        composite = self._writers.get("composite")
        return composite.disk_bytes() if composite is not None and self._sound is not None else 0

    def _add_sound(self, recording: Path, sound: Path, pictures_s: float) -> None:
        """The sender's sound into a finished recording, as long as its pictures (the first picture to
        the last's start: ``pictures_s``)."""
        span_s = Fraction(pictures_s).limit_denominator(90000)
        try:
            # said of the take, not of the hidden side file its sound was kept in
            mux_with_audio(recording, sound, recording, Fraction(0), span_s + 1 / self.fps,
                           container_options_for(recording), frame_rate=self.fps, sound_name=str(recording))
        except SoundError as exc:  # the pictures are kept
            warnings.warn(f"{exc}; {recording} is kept without sound", stacklevel=2)

    def abort(self) -> None:
        if self._sidecar is not None:
            self._sidecar.discard()
        if self._plate is not None:
            self._plate.abort()
        for sound in (self._sound, self._plate_sound):
            if sound is not None:
                sound.discard()
        for writer in self._writers.values():
            writer.abort()


class _Sidecar:
    """The per-frame log, written as the frames come (JSON lines, or CSV when the path ends in .csv) to a
    hidden partial file renamed at the end. Kept in memory until the take ended, an all-day take held
    300 MB of rows, and a take killed hard lost its whole log. The camera columns only for a take whose
    set follows a camera (its first row has them)."""

    FLUSH_EVERY = 25  # rows: about a second of frames reaches the disk at a time

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._temp: Path | None = None
        self._handle: Any = None
        self._csv: csv.DictWriter | None = None  # type: ignore[type-arg]
        self._fields: list[str] = []

    def add(self, meta: FrameMeta) -> None:
        table = asdict(meta)
        try:
            if self._handle is None:
                self._fields = [name for name, value in table.items()
                                if name not in CAMERA_FIELDS or value is not None]
                self.path = through_link(self.path)
                self._temp = partial_path(self.path)
                self._handle = open(self._temp, "w", encoding="utf-8", newline="")  # open for the take
                if self.path.suffix.lower() == ".csv":
                    self._csv = csv.DictWriter(self._handle, fieldnames=self._fields, extrasaction="ignore")
                    self._csv.writeheader()
            if self._csv is not None:
                self._csv.writerow(table)
            else:
                self._handle.write(json.dumps({name: table[name] for name in self._fields}) + "\n")
            self.rows += 1
            if self.rows % self.FLUSH_EVERY == 0:
                self._handle.flush()
        except OSError as exc:
            self.discard()
            raise MediaError(f"writing the sidecar {self.path} failed: {exc}") from exc

    def close(self) -> Path | None:
        """The finished log under its name (atomically), or None when no frame was recorded."""
        if self._handle is None or self._temp is None:
            return None
        try:
            self._handle.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.discard()
            raise MediaError(f"writing the sidecar {self.path} failed: {exc}") from exc
        self._handle = None
        return self.path

    def discard(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        if self._temp is not None:
            remove_quietly(self._temp)
