"""Guangying (光影): AI-perception virtual production.

Data flows one way through the stage packages:

``media`` (footage in) → ``keyer`` / ``matting`` / ``distance`` (perception) → ``focus`` + ``lens``
(focus control, lens maths) → ``composite`` (linear-light compositing) → ``media`` (footage out).
``pipeline`` strings the stages together for batch and live jobs; ``cli`` is the command line;
``models`` fetches and converts the neural-network weights; ``evaluation`` holds the quality metrics.

The names below are the library's front door (see ``docs/python.md``). They load lazily, so
``import guangying`` is quick and pulls in no OpenCV, PyAV or ONNX Runtime until a name is used:

- footage: :func:`open_reader`, :func:`open_writer`, :func:`display_srgb` (a frame as the keyer takes it),
  :func:`scene_linear_foreground` (a keyed foreground back in the frame's own linear light)
- mattes: :func:`make_matter` (``"chroma"``, ``"ai"``, ``"fast"``, ``"hybrid"``), :func:`key_frame`,
  :class:`KeyerSettings`, :class:`ChromaKeyer`, :func:`keyer_settings_for`, :func:`load_mask`; every
  engine is a :class:`Matter` giving a :class:`MatteResult` (``MATTE_MODES`` names the modes)
- compositing in linear light: :class:`FrameCompositor`, :func:`composite_frame`,
  :class:`CompositeSettings`, :class:`FrameResult`; lens defocus: :class:`LensSettings`, :class:`LensDefocus`
- file jobs: :func:`run_job` (a :class:`JobReport`), :class:`JobOutputs`, :class:`H264Options`; what a
  job composites over, frame by frame, when it is not a picture or clip: a :class:`PlateSource`
- optics: :func:`depth_of_field` (a :class:`DepthOfField`), :func:`hyperfocal_mm`, :func:`coc_diameter_mm`,
  :func:`coc_diameter_px`, :func:`resolve_coc_mm`, :func:`sensor_preset`
- focus: :class:`FocusController` (a :class:`FocusOutput` per reading), :class:`ControllerConfig`,
  :func:`replay` (a :class:`TrackRow` per frame), :func:`replay_log`
- distance sources: :class:`DistanceReading`, :class:`TfLunaSource`, :func:`load_depth_m`,
  :func:`reading_from_depth`, :class:`Record3DReader`, :func:`distance_readings`, :func:`load_marks`
- tracks: :func:`read_sensor_log`, :func:`write_sensor_log`, :func:`write_track`,
  :func:`load_focus_track` (a :class:`FocusTrack`), :func:`read_focus_track`, :func:`read_camera_track`,
  :func:`write_camera_track` (:class:`CameraTrackRow`)
- virtual sets: :func:`open_set`, :class:`SetBackground` / :class:`SetSettings` (a tracked set as a job's
  background)
- a whole shoot: :func:`load_jobs` (a batch file), :func:`run_batch` (on Ray, this machine or a cluster),
  :class:`BatchReport`
- models: :func:`install_models`, :func:`list_models`, :func:`models_dir`
- errors: :class:`GuangyingError` and its family: :class:`SettingsError` (:class:`NothingStartedError`)
  and :class:`InputFormatError`, also ``ValueError``; :class:`MediaError`; :class:`DeviceError`, also
  ``OSError``; a file that is not there is also a ``FileNotFoundError``
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

# numba's OpenMP workers sleep while they wait for work instead of spinning: on a machine shared with
# other busy processes (or with our own encoder threads) a spinning worker gets descheduled, and each
# parallel region then waits a scheduler tick (4–8 ms) for it. Read when numba first starts OpenMP,
# so it is set here, before any kernel runs; a value in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from guangying.base.errors import (
    DeviceError,
    GuangyingError,
    InputFormatError,
    MediaError,
    NothingStartedError,
    SettingsError,
)
from guangying.base.jit_cache import clear_stale_jit_cache
from guangying.base.lazy import lazy_exports

# numba's cache knows each function's own file only: drop it when any source of the package changed.
clear_stale_jit_cache(Path(__file__).parent)

__version__ = "0.1.0"

_EXPORTS = {
    "open_reader": "guangying.media.api",
    "open_writer": "guangying.media.api",
    "display_srgb": "guangying.media.highlights",
    "scene_linear_foreground": "guangying.media.highlights",
    "MatteResult": "guangying.base.mattes",
    "Matter": "guangying.base.mattes",
    "make_matter": "guangying.pipeline.matters",
    "key_frame": "guangying.pipeline.matters",
    "keyer_settings_for": "guangying.pipeline.matters",
    "MATTE_MODES": "guangying.pipeline.matters",
    "KeyerSettings": "guangying.keyer.settings",
    "ChromaKeyer": "guangying.keyer.chroma",
    "load_mask": "guangying.keyer.masks",
    "FrameCompositor": "guangying.pipeline.frame",
    "FrameResult": "guangying.pipeline.frame",
    "CompositeSettings": "guangying.pipeline.frame",
    "composite_frame": "guangying.pipeline.frame",
    "LensSettings": "guangying.pipeline.lens_defocus",
    "LensDefocus": "guangying.pipeline.lens_defocus",
    "read_focus_track": "guangying.pipeline.lens_defocus",
    "load_focus_track": "guangying.pipeline.lens_defocus",
    "FocusTrack": "guangying.pipeline.lens_defocus",
    "run_job": "guangying.pipeline.job",
    "PlateSource": "guangying.pipeline.background",
    "JobOutputs": "guangying.pipeline.job",
    "JobReport": "guangying.pipeline.job",
    "H264Options": "guangying.pipeline.job",
    "DepthOfField": "guangying.lens.optics",
    "depth_of_field": "guangying.lens.optics",
    "hyperfocal_mm": "guangying.lens.optics",
    "coc_diameter_mm": "guangying.lens.optics",
    "coc_diameter_px": "guangying.lens.optics",
    "resolve_coc_mm": "guangying.lens.optics",
    "sensor_preset": "guangying.lens.sensors",
    "FocusController": "guangying.focus.controller",
    "ControllerConfig": "guangying.focus.controller",
    "FocusOutput": "guangying.focus.controller",
    "replay": "guangying.focus.replay",
    "replay_log": "guangying.focus.replay",
    "TrackRow": "guangying.focus.track_io",
    "read_sensor_log": "guangying.focus.track_io",
    "write_sensor_log": "guangying.focus.track_io",
    "write_track": "guangying.focus.track_io",
    "distance_readings": "guangying.focus.distance_log",
    "DistanceReading": "guangying.distance.reading",
    "TfLunaSource": "guangying.distance.tfluna",
    "load_depth_m": "guangying.distance.depthmap",
    "reading_from_depth": "guangying.distance.depthmap",
    "Record3DReader": "guangying.distance.record3d",
    "load_marks": "guangying.distance.marks",
    "CameraTrackRow": "guangying.tracking.camera_track",
    "read_camera_track": "guangying.tracking.camera_track",
    "write_camera_track": "guangying.tracking.camera_track",
    "open_set": "guangying.sets.base",
    "SetBackground": "guangying.pipeline.virtual_set",
    "SetSettings": "guangying.pipeline.virtual_set",
    "run_batch": "guangying.batch.runner",
    "BatchReport": "guangying.batch.runner",
    "install_models": "guangying.models",
    "list_models": "guangying.models",
    "models_dir": "guangying.models",
}

__all__ = [
    "DeviceError",
    "GuangyingError",
    "InputFormatError",
    "MediaError",
    "NothingStartedError",
    "SettingsError",
    "__version__",
    "load_jobs",
    *_EXPORTS,
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


def load_jobs(jobs_file: str | os.PathLike[str], keep_going: bool = False) -> list[Shot]:
    """Read and check a batch file (YAML) as ``guangying batch`` does, for :func:`run_batch`; raises
    :class:`NothingStartedError` listing every problem. A shot may set any option of ``guangying key``
    or ``guangying composite``: their one list is the command line's, so it is read from there.
    ``keep_going`` (``batch --keep-going``): a shot whose input or masks cannot be used is kept, with
    its problems, for :func:`run_batch` to report as failed while the others render."""
    from guangying.cli.batch_command import load_batch_file

    return load_batch_file(jobs_file, keep_going)


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load on first use
    from guangying.base.mattes import Matter as Matter, MatteResult as MatteResult
    from guangying.batch.jobs import Shot  # load_jobs returns them; not a front-door name
    from guangying.batch.runner import BatchReport as BatchReport, run_batch as run_batch
    from guangying.distance.depthmap import (
        load_depth_m as load_depth_m,
        reading_from_depth as reading_from_depth,
    )
    from guangying.distance.marks import load_marks as load_marks
    from guangying.distance.reading import DistanceReading as DistanceReading
    from guangying.distance.record3d import Record3DReader as Record3DReader
    from guangying.distance.tfluna import TfLunaSource as TfLunaSource
    from guangying.focus.controller import (
        ControllerConfig as ControllerConfig,
        FocusController as FocusController,
        FocusOutput as FocusOutput,
    )
    from guangying.focus.distance_log import distance_readings as distance_readings
    from guangying.focus.replay import replay as replay, replay_log as replay_log
    from guangying.focus.track_io import (
        TrackRow as TrackRow,
        read_sensor_log as read_sensor_log,
        write_sensor_log as write_sensor_log,
        write_track as write_track,
    )
    from guangying.keyer.chroma import ChromaKeyer as ChromaKeyer
    from guangying.keyer.masks import load_mask as load_mask
    from guangying.keyer.settings import KeyerSettings as KeyerSettings
    from guangying.lens.optics import (
        DepthOfField as DepthOfField,
        coc_diameter_mm as coc_diameter_mm,
        coc_diameter_px as coc_diameter_px,
        depth_of_field as depth_of_field,
        hyperfocal_mm as hyperfocal_mm,
        resolve_coc_mm as resolve_coc_mm,
    )
    from guangying.lens.sensors import sensor_preset as sensor_preset
    from guangying.media.api import open_reader as open_reader, open_writer as open_writer
    from guangying.media.highlights import (
        display_srgb as display_srgb,
        scene_linear_foreground as scene_linear_foreground,
    )
    from guangying.models import (
        install_models as install_models,
        list_models as list_models,
        models_dir as models_dir,
    )
    from guangying.pipeline.background import PlateSource as PlateSource
    from guangying.pipeline.frame import (
        CompositeSettings as CompositeSettings,
        FrameCompositor as FrameCompositor,
        FrameResult as FrameResult,
        composite_frame as composite_frame,
    )
    from guangying.pipeline.job import (
        H264Options as H264Options,
        JobOutputs as JobOutputs,
        JobReport as JobReport,
        run_job as run_job,
    )
    from guangying.pipeline.lens_defocus import (
        FocusTrack as FocusTrack,
        LensDefocus as LensDefocus,
        LensSettings as LensSettings,
        load_focus_track as load_focus_track,
        read_focus_track as read_focus_track,
    )
    from guangying.pipeline.matters import (
        MATTE_MODES as MATTE_MODES,
        key_frame as key_frame,
        keyer_settings_for as keyer_settings_for,
        make_matter as make_matter,
    )
    from guangying.pipeline.virtual_set import SetBackground as SetBackground, SetSettings as SetSettings
    from guangying.sets.base import open_set as open_set
    from guangying.tracking.camera_track import (
        CameraTrackRow as CameraTrackRow,
        read_camera_track as read_camera_track,
        write_camera_track as write_camera_track,
    )
