"""Intel RealSense depth cameras through ``pyrealsense2`` (optional: only when it is installed).

Depth (z16) is aligned to the colour stream with ``rs.align`` and scaled by the device's depth scale
to metres, then sampled over the subject's box like any other depth map.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from guangying.base.errors import DeviceError, GuangyingError
from guangying.distance.depthmap import sample_depth
from guangying.distance.reading import DistanceReading


def realsense_available() -> bool:
    try:
        import pyrealsense2  # noqa: F401
    except ImportError:
        return False
    return True


class RealSenseSource:
    """Reads aligned depth frames; ``box`` (colour pixels) can be moved by a tracker between reads."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        box: tuple[int, int, int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import pyrealsense2 as rs
        except ImportError as exc:
            raise GuangyingError("Intel RealSense needs pyrealsense2: `pip install pyrealsense2`") from exc
        self._rs = rs
        self.pipeline = rs.pipeline()
        cfg = rs.config()
        cfg.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
        cfg.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        try:
            profile = self.pipeline.start(cfg)
        except RuntimeError as exc:
            raise DeviceError(f"cannot start the RealSense camera: {exc}") from exc
        self.depth_scale = float(profile.get_device().first_depth_sensor().get_depth_scale())
        self.align = rs.align(rs.stream.color)
        self.box = box
        self._clock = clock

    def depth_m(self) -> np.ndarray:
        frames = self.align.process(self.pipeline.wait_for_frames())
        depth = frames.get_depth_frame()
        return np.asanyarray(depth.get_data()).astype(np.float32) * np.float32(self.depth_scale)

    def read(self, wait_s: float | None = None) -> DistanceReading:
        """The next depth frame's reading (a camera sends them at 30–90 Hz: ``wait_s`` is not needed)."""
        d = self.depth_m()
        s = sample_depth(d, box=self.box)
        conf = s.confidence if np.isfinite(s.distance_m) else 0.0
        return DistanceReading(self._clock(), s.distance_m, conf, "realsense")

    def close(self) -> None:
        self.pipeline.stop()
