"""Distance sources: LiDAR rangefinders, aligned depth maps, Record3D recordings, faces, marks.

Every source yields :class:`DistanceReading` (``t_s`` seconds, ``distance_m`` metres, ``confidence``
0–1, ``source``) and live ones follow the :class:`DistanceSource` protocol (``read()``, ``close()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

# Loaded on first use, so importing one module of the package does not import all the others.
_EXPORTS = {
    "DistanceReading": "guangying.distance.reading",
    "DistanceSource": "guangying.distance.reading",
    "TfLunaSource": "guangying.distance.tfluna",
    "SensorTimeoutError": "guangying.distance.tfluna",
    "load_depth_m": "guangying.distance.depthmap",
    "sample_depth": "guangying.distance.depthmap",
    "reading_from_depth": "guangying.distance.depthmap",
    "DepthMapError": "guangying.distance.depthmap",
    "Record3DReader": "guangying.distance.record3d",
    "Record3DError": "guangying.distance.record3d",
    "FaceRangeFinder": "guangying.distance.faces",
    "Intrinsics": "guangying.distance.face_geometry",
    "load_marks": "guangying.distance.marks",
    "MarkPlan": "guangying.distance.marks",
    "MarksError": "guangying.distance.marks",
    "RealSenseSource": "guangying.distance.realsense",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.distance.depthmap import DepthMapError, load_depth_m, reading_from_depth, sample_depth
    from guangying.distance.face_geometry import Intrinsics
    from guangying.distance.faces import FaceRangeFinder
    from guangying.distance.marks import MarkPlan, MarksError, load_marks
    from guangying.distance.reading import DistanceReading, DistanceSource
    from guangying.distance.realsense import RealSenseSource
    from guangying.distance.record3d import Record3DError, Record3DReader
    from guangying.distance.tfluna import SensorTimeoutError, TfLunaSource
