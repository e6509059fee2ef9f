"""Focus control: subject tracking, diopter-space filtering, focus pulls, FreeD/motor output.

- :class:`FocusController` with :class:`ControllerConfig`: readings in, :class:`FocusOutput` out;
  :func:`steady_walk` tunes a config for a subject walking at a steady pace.
- :func:`replay` / :func:`replay_log`: a sensor log through the controller as live would see it.
- :func:`run_live` / :func:`run_lidar_live`: LiDAR → controller → FreeD (and a focus motor).
- :func:`read_sensor_log`, :func:`write_sensor_log`, :func:`write_track`: logs and focus tracks.
- :func:`distance_readings`: distances from a depth map, a Record3D recording or faces in footage.
- :class:`SubjectTracker` / :class:`SubjectSelector`: which person the focus follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use, so importing one module of the package does not import all the others.
_EXPORTS = {
    "FocusController": "guangying.focus.controller",
    "ControllerConfig": "guangying.focus.controller",
    "FocusOutput": "guangying.focus.controller",
    "steady_walk": "guangying.focus.controller",
    "replay": "guangying.focus.replay",
    "replay_log": "guangying.focus.replay",
    "run_live": "guangying.focus.live",
    "run_lidar_live": "guangying.focus.live",
    "TrackRow": "guangying.focus.track_io",
    "read_sensor_log": "guangying.focus.track_io",
    "write_sensor_log": "guangying.focus.track_io",
    "write_track": "guangying.focus.track_io",
    "SensorLogError": "guangying.focus.track_io",
    "distance_readings": "guangying.focus.distance_log",
    "SubjectTracker": "guangying.focus.tracking",
    "SubjectSelector": "guangying.focus.tracking",
    "SerialMotorOutput": "guangying.focus.motor",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.focus.controller import ControllerConfig, FocusController, FocusOutput, steady_walk
    from guangying.focus.distance_log import distance_readings
    from guangying.focus.live import run_lidar_live, run_live
    from guangying.focus.motor import SerialMotorOutput
    from guangying.focus.replay import replay, replay_log
    from guangying.focus.track_io import (
        SensorLogError,
        TrackRow,
        read_sensor_log,
        write_sensor_log,
        write_track,
    )
    from guangying.focus.tracking import SubjectSelector, SubjectTracker
