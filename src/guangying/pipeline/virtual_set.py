"""A virtual set as the background of a job: rendered per frame for that frame's tracked camera, then
handed to the one per-frame compositor like any other plate.

The set's own depth of field (each layer by its own circle of confusion) is rendered with the set, so
the lens hook then defocuses only the actor. The set's layer hook adds the actor's shadow (from the
plate and the matte) and an optional floor reflection before the compositor lays the actor over.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guangying.base.checks import CheckedOnAssignment, Range, check_fields, check_instance
from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.lens.camera_calibration import CameraCalibration, load_camera_calibration
from guangying.lens.sensors import SENSORS, sensor_preset
from guangying.lens.zoom import load_lens_file
from guangying.media import FrameRate, open_reader
from guangying.pipeline.camera_feed import FREED_SCHEME, TrackLookup, open_camera_rows
from guangying.pipeline.frame import LayerHook
from guangying.pipeline.lens_defocus import LensDefocus
from guangying.sets.base import VirtualSet, open_set
from guangying.sets.interaction import apply_shadow, floor_reflection, shadow_ratio
from guangying.sets.optics import SetOptics
from guangying.sets.view import SetView, view_from_track_row
from guangying.tracking.board import MarkerBoard, load_board
from guangying.tracking.camera_track import (
    CameraTrackRow,
    ChanSettings,
    chan_frame_zero,
    read_camera_track,
)
from guangying.tracking.marker_matte import marker_alpha, marker_coverage

_MARKER_SMEAR_PX = 4.0  # how far past its print a marker may reach: motion blur, tracking error


@dataclass
class SetSettings(CheckedOnAssignment):
    """A tracked virtual set.

    - ``set_path``: 360° panorama (picture or clip), 2.5D set (.yaml) or 3D scene (.glb/.gltf).
    - ``camera_track``: per-frame camera (`guangying track` CSV/JSON), or ``freed://HOST:PORT`` for
      live FreeD D1 (then the focal length comes from ``focal_length_mm``).
    - ``sensor``: sensor preset; with the focal length it gives the field of view.
    - ``focal_length_mm``: overrides the track's focal length (a prime without zoom data).
    - ``calibration``: camera calibration (`guangying calibrate` JSON) whose distortion the set gets.
    - ``shadow``: strength 0–1 of the actor's shadow carried from the screen onto the set (0 = off).
    - ``floor_reflection``: strength 0–1 of a glossy-floor reflection of the actor (0 = off).
    - ``chan``: what a Nuke ``.chan`` track needs beyond its rows (:func:`plate_chan_settings`).
    - ``lens_file``: zoom counts → focal length for live FreeD (:mod:`guangying.lens.zoom`).
    - ``freed_delay_frames``: live FreeD taken this many video frames late (with ``footage_fps``; else
      messages), to line up with the video.
    - ``freed_camera_id``: the head live FreeD follows (None: the first heard; others are said, left out).
    - ``footage_fps``: the footage's frame rate, against which a set's clips play at their own speed.
    - ``footage_pixel_aspect``: the footage's pixel aspect (2: an anamorphic plate), which the set's
      camera squeezes the same way.
    - ``footage_first_frame``: the footage's first frame number (a sequence's first file's). A track
      without rows for the footage's numbers (numbered 1001 on, say, under a video) gives its first row
      to this frame and the rest in order, whatever range is rendered.
    - ``marker_board``: the board file (`guangying board`) the camera was tracked with: its markers,
      printed on the screen, are taken out of the matte where they show (an actor in front of one
      keeps it; :func:`guangying.tracking.marker_matte.marker_alpha`). Without it they key as
      opaque black-and-white squares over the set.
    """

    set_path: str
    camera_track: str
    sensor: str = "s35"
    focal_length_mm: float | None = None
    calibration: str | None = None
    shadow: float = 0.0
    floor_reflection: float = 0.0

    chan: ChanSettings | None = None
    lens_file: str | None = None
    freed_delay_frames: int = 0
    footage_fps: float | None = None
    footage_pixel_aspect: float = 1.0
    footage_first_frame: int = 0
    marker_board: str | None = None
    freed_camera_id: int | None = None

    def __post_init__(self) -> None:
        check_fields(self, "set", {
            "shadow": Range(0, 1), "floor_reflection": Range(0, 1),
            "focal_length_mm": Range(0, 1e5, lo_open=True, optional=True, unit="mm"),
            "freed_delay_frames": Range(0, 1e4, integer=True),
            "freed_camera_id": Range(0, 255, integer=True, optional=True),
            "footage_fps": Range(0, 1e4, lo_open=True, optional=True),
            "footage_pixel_aspect": Range(0.1, 10),
            "footage_first_frame": Range(-1e9, 1e9, integer=True),
        })
        sensor_preset(self.sensor)  # an unknown name is refused here, not when the set first opens
        if self.marker_board is not None:
            load_board(self.marker_board)  # a wrong board is refused before the render, naming the file


def plate_chan_settings(source: str | Path, sensor: str, fps: FrameRate | None = None) -> ChanSettings:
    """How a Nuke ``.chan`` track lines up with this plate: its aspect and rate, the sensor's width."""
    with open_reader(source, fps=fps) as reader:
        info = reader.info
    return ChanSettings(
        sensor_preset(sensor).width_mm, info.width / info.height, float(info.fps),
        first_frame=chan_frame_zero(source), pixel_aspect=float(info.pixel_aspect),
    )


def footage_timing(source: str | Path, fps: FrameRate | None = None) -> tuple[float, float, int]:
    """The frame rate of the footage ``source`` (a set's clips play against it), its pixel aspect (the
    set's camera squeezes as the plate is squeezed) and its first frame number (a track's rows in order
    start there); ``fps`` as :func:`~guangying.media.open_reader` takes it."""
    with open_reader(source, fps=fps) as reader:
        return float(reader.info.fps), float(reader.info.pixel_aspect), int(reader.info.first_frame)


def track_focal_length_mm(camera_track: str | Path, chan: ChanSettings | None = None) -> float:
    """The first focal length a camera track knows (the lens settings' nominal value; the actor's blur
    then follows the track frame by frame)."""
    for row in read_camera_track(camera_track, chan):
        if math.isfinite(row.focal_length_mm):
            return row.focal_length_mm
    raise SettingsError(f"camera track {camera_track} has no focal length: give one (--focal-length MM; "
                        "focal_length_mm in SetSettings)")


def check_track_sensor(rows: list[CameraTrackRow], camera_track: str, sensor: str) -> None:
    """Refuse a track solved for another sensor than ``sensor`` (a preset's name): its focal lengths in mm
    and its poses hold for the sensor it was solved for, and rendered for another the set's field of
    view is off by their widths' ratio, in every frame, with nothing else to show it."""
    widths = {r.sensor_width_mm for r in rows if math.isfinite(r.sensor_width_mm)}
    ours = sensor_preset(sensor)
    for width in sorted(widths):
        if abs(width / ours.width_mm - 1.0) <= 0.005:
            continue
        names = [p.name for p in SENSORS.values() if abs(p.width_mm / width - 1.0) <= 0.005]
        give = f"--sensor {names[0]}" if names else f"the sensor {width:g} mm wide"
        ratio = width / ours.width_mm
        raise SettingsError(
            f"camera track {camera_track} was solved for a sensor {width:g} mm wide"
            f"{f' ({names[0]})' if names else ''}, but the set renders for {ours.name} "
            f"({ours.width_mm:g} mm): its field of view would be {max(ratio, 1 / ratio):.2f}× "
            f"{'narrower' if ratio > 1 else 'wider'} than the plate's. Give {give} (sensor in SetSettings)"
        )


class SetBackground:
    """Serves the rendered set per frame to :func:`guangying.pipeline.job.run_job` (``next_plate``) and
    lays the shadow / reflection through :meth:`layer_hook`, chained before ``lens`` (which then only
    defocuses the actor when it is given)."""

    def __init__(self, settings: SetSettings, lens: LensDefocus | None = None) -> None:
        check_instance(settings, SetSettings, "settings")
        if lens is not None:
            check_instance(lens, LensDefocus, "lens")
        self.settings = settings
        self.sensor_width_mm = sensor_preset(settings.sensor).width_mm
        lens_file = load_lens_file(settings.lens_file) if settings.lens_file else None
        if (settings.camera_track.startswith(FREED_SCHEME) and settings.focal_length_mm is None
                and (lens_file is None or lens_file.zoom is None) and not settings.calibration):
            # said at the first frame as "camera track frame -1 has no focal length"
            raise SettingsError("live FreeD tracking sends zoom counts, not a focal length: give the lens's "
                                "focal length (--focal-length MM, a prime) or a lens file mapping its zoom "
                                "counts (--lens-file)")
        self.track = open_camera_rows(
            settings.camera_track, settings.chan, lens_file, settings.freed_delay_frames,
            float(settings.footage_fps) if settings.footage_fps else None, int(settings.footage_first_frame),
            settings.freed_camera_id,
        )
        if isinstance(self.track, TrackLookup):
            check_track_sensor(self.track.rows, settings.camera_track, settings.sensor)
        self.calibration: CameraCalibration | None = (
            load_camera_calibration(settings.calibration) if settings.calibration else None
        )
        self.lens: LensDefocus | None = None
        if lens is not None:
            self.attach_lens(lens)
        self.set: VirtualSet = open_set(settings.set_path, settings.footage_fps)
        self.board: MarkerBoard | None = load_board(settings.marker_board) if settings.marker_board else None
        self.inputs = tuple(
            p for p in (settings.set_path, settings.camera_track, settings.calibration, settings.lens_file,
                        settings.marker_board)
            if p and not p.startswith(FREED_SCHEME)
        )  # fmt: skip
        self._plate_srgb: np.ndarray | None = None
        self.position = 0
        self.last_row: CameraTrackRow | None = None  # the camera the last frame was rendered for
        self._views: dict[int, SetView] = {}
        self._plate_linear: np.ndarray | None = None

    def attach_lens(self, lens: LensDefocus) -> None:
        """Depth of field: the set renders its own, layer by layer, so ``lens`` then only blurs the
        actor, with the focal length the set was rendered with."""
        lens.defocus_background = False
        lens.focal_length_mm_at = self.focal_length_mm
        self.lens = lens

    def camera_row(self, frame_index: int, position: int,
                   capture_time_s: float | None = None) -> CameraTrackRow:
        """The track's camera for a plate frame (a live one: at its capture, ``time.monotonic()``), with
        the focal length the set renders with when ``focal_length_mm`` overrides the track's."""
        row = self.track.row(frame_index, position, capture_time_s)
        if self.settings.focal_length_mm is not None:
            row = dataclasses.replace(row, focal_length_mm=self.settings.focal_length_mm)
        return row

    def view(self, frame_index: int, position: int, width: int, height: int,
             capture_time_s: float | None = None) -> SetView:
        row = self.camera_row(frame_index, position, capture_time_s)
        self.last_row = row
        return view_from_track_row(
            row, width, height, self.sensor_width_mm, self.settings.focal_length_mm, self.calibration,
            self.settings.footage_pixel_aspect,
        )

    def start_at(self, position: int) -> None:
        """The next frame is the shot's ``position`` (from its first, 0): a range from partway in. Counted
        from 0 instead, the set's lens read the focus of the range's first row, and the markers and
        the actor's depth of field failed on a view they could not find (a KeyError)."""
        self.position = position

    def focal_length_mm(self, position: int) -> float:
        """The focal length the set was rendered with at ``position`` (for the actor's depth of field)."""
        view = self._views[position]  # an anamorphic plate's fx is squeezed by its pixel aspect
        return (float(view.camera_matrix[0, 0]) * self.settings.footage_pixel_aspect * self.sensor_width_mm
                / view.width_px)

    def next_plate(self, frame_index: int, plate_rgb_srgb: np.ndarray,
                   capture_time_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(set sRGB, set linear) float32 (H, W, 3) for this plate frame's camera (live: as it was at
        the frame's capture, ``time.monotonic()``)."""
        h, w = plate_rgb_srgb.shape[:2]
        position = self.position
        self.position += 1
        view = self.view(frame_index, position, w, h, capture_time_s)
        self._views = {position: view}
        optics = None
        if self.lens is not None:
            optics = SetOptics(
                self.lens.settings.f_number, self.lens.focus_distance_m(position), self.sensor_width_mm
            )
        rgb_linear = self.set.render(view, position, optics)
        self._plate_linear = srgb_to_linear(plate_rgb_srgb) if self.settings.shadow > 0 else None
        self._plate_srgb = plate_rgb_srgb if self.board is not None else None
        return linear_to_srgb(rgb_linear), rgb_linear

    def _markers_out(self, position: int, plate_srgb: np.ndarray,
                     alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The matte without the board's markers and their paper, and where they are (the markers grown to
        take in blur, and the paper that shows)."""
        assert self.board is not None
        view = self._views[position]
        cover = marker_coverage(self.board, view.pose, view.camera_matrix, view.dist_coeffs,
                                alpha.shape[0], alpha.shape[1], grow_px=_MARKER_SMEAR_PX)
        # the screen's colour around the markers, as the keyer found it clear: what their edges mix with
        clear = alpha < 0.02
        near = clear & (cover > 0)
        samples = plate_srgb[near] if np.count_nonzero(near) >= 64 else plate_srgb[clear]
        screen = np.median(samples, axis=0) if len(samples) >= 16 else None
        marker = marker_alpha(plate_srgb, self.board, view.pose, view.camera_matrix, view.dist_coeffs,
                              grow_px=_MARKER_SMEAR_PX, screen_srgb=screen, coverage=cover)
        return alpha * (1.0 - marker), np.maximum(cover, marker)

    def layer_hook(self, then: LayerHook | None = None) -> LayerHook:
        """The frame compositor's hook: the screen's markers out of the matte, shadow and reflection on
        the set, then ``then`` (lens)."""

        def hook(position: int, fg_srgb: np.ndarray, alpha: np.ndarray, bg_linear: np.ndarray):  # type: ignore[no-untyped-def]
            st = self.settings
            lit = alpha  # what is not lit screen: the actor, and the markers (dark, not a shadow)
            if self.board is not None and self._plate_srgb is not None:
                alpha, cover = self._markers_out(position, self._plate_srgb, alpha)
                lit = np.maximum(alpha, cover)
            if st.shadow > 0 and self._plate_linear is not None:
                bg_linear = apply_shadow(bg_linear, shadow_ratio(self._plate_linear, lit), st.shadow)
            if st.floor_reflection > 0:
                reflection = floor_reflection(srgb_to_linear(fg_srgb), alpha, st.floor_reflection)
                if reflection is not None:
                    bg_linear = reflection[..., :3] + bg_linear * (1.0 - reflection[..., 3:4])
            if then is not None:
                return then(position, fg_srgb, alpha, bg_linear)
            return fg_srgb, alpha, bg_linear

        return hook

    def close(self) -> None:
        self.set.close()
        self.track.close()
