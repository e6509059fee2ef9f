"""Record3D ``.r3d`` recordings (iPhone/iPad LiDAR): a ZIP with ``metadata`` (JSON), ``rgbd/i.jpg``
colour, ``rgbd/i.depth`` (LZFSE-compressed float32 metres, dh×dw) and ``rgbd/i.conf`` (LZFSE uint8,
0–2 = low/medium/high).

LZFSE decoding uses the ``pyliblzfse`` package (module ``liblzfse``), an optional dependency: install
it with ``pip install pyliblzfse`` to read ``.r3d`` depth.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guangying.base.errors import InputFormatError
from guangying.distance.depthmap import sample_depth
from guangying.distance.reading import DistanceReading


class Record3DError(InputFormatError):
    """A recording that cannot be read."""


def _lzfse_decompress(data: bytes, what: str) -> bytes:
    try:
        import liblzfse
    except ImportError as exc:
        raise Record3DError(
            f"{what}: Record3D depth is LZFSE-compressed; install the decoder with `pip install pyliblzfse`"
        ) from exc
    return liblzfse.decompress(data)


@dataclass(slots=True)
class Record3DMetadata:
    width: int
    height: int
    depth_width: int
    depth_height: int
    K: np.ndarray  # 3×3 colour intrinsics (pixels)
    fps: float
    poses: np.ndarray  # N×7: qx qy qz qw tx ty tz


class Record3DReader:
    """Random access to the frames of an ``.r3d`` file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise Record3DError(f"Record3D file not found: {self.path}")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise Record3DError(f"{self.path}: not a Record3D .r3d (ZIP) file") from exc
        try:
            meta = json.loads(self._zip.read("metadata"))
            self.metadata = Record3DMetadata(
                width=int(meta["w"]),
                height=int(meta["h"]),
                depth_width=int(meta["dw"]),
                depth_height=int(meta["dh"]),
                K=np.asarray(meta["K"], dtype=np.float64).reshape(3, 3).T,  # stored column-major
                fps=float(meta.get("fps", 30)),
                poses=np.asarray(meta.get("poses", []), dtype=np.float64).reshape(-1, 7),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Record3DError(f"{self.path}: missing or malformed 'metadata' ({exc})") from exc
        if not (math.isfinite(self.metadata.fps) and self.metadata.fps > 0):  # divided by, per reading
            raise Record3DError(f"{self.path}: 'metadata' fps {self.metadata.fps:g} is not a frame rate")
        names = self._zip.namelist()
        self.frame_count = sum(1 for n in names if n.startswith("rgbd/") and n.endswith(".depth"))

    def depth_m(self, index: int) -> np.ndarray:
        """Depth of frame ``index`` as float32 metres (dh, dw)."""
        name = f"rgbd/{index}.depth"
        try:
            raw = self._zip.read(name)
        except KeyError as exc:
            raise Record3DError(f"{self.path}: no {name} (frames 0–{self.frame_count - 1})") from exc
        buf = _lzfse_decompress(raw, f"{self.path}:{name}")
        md = self.metadata
        depth = np.frombuffer(buf, dtype=np.float32)
        if depth.size != md.depth_width * md.depth_height:
            raise Record3DError(
                f"{self.path}:{name}: {depth.size} values, expected {md.depth_height}×{md.depth_width}"
            )
        return depth.reshape(md.depth_height, md.depth_width).copy()

    def confidence(self, index: int) -> np.ndarray | None:
        """ARKit confidence 0/1/2 for frame ``index`` (None when the recording has none)."""
        name = f"rgbd/{index}.conf"
        if name not in self._zip.namelist():
            return None
        buf = _lzfse_decompress(self._zip.read(name), f"{self.path}:{name}")
        md = self.metadata
        return np.frombuffer(buf, dtype=np.uint8).reshape(md.depth_height, md.depth_width).copy()

    def rgb(self, index: int) -> np.ndarray:
        """Colour frame as float32 sRGB 0–1 (H, W, 3)."""
        import cv2

        data = np.frombuffer(self._zip.read(f"rgbd/{index}.jpg"), dtype=np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise Record3DError(f"{self.path}: rgbd/{index}.jpg is not a readable JPEG")
        return bgr[..., ::-1].astype(np.float32) / 255.0

    def reading(
        self, index: int, box_rgb: tuple[float, float, float, float] | None = None
    ) -> DistanceReading:
        """Distance over a box given in *colour* pixels (the depth map is smaller and scaled to it);
        low-confidence ARKit depth is treated as a hole."""
        md = self.metadata
        depth = self.depth_m(index)
        conf = self.confidence(index)
        if conf is not None:
            depth = np.where(conf >= 1, depth, 0.0).astype(np.float32)
        box = None
        if box_rgb is not None:
            sx, sy = md.depth_width / md.width, md.depth_height / md.height
            x0, y0, x1, y1 = box_rgb
            box = (int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy)))
        s = sample_depth(depth, box=box)
        confidence = s.confidence if np.isfinite(s.distance_m) else 0.0
        return DistanceReading(index / md.fps, s.distance_m, confidence, "record3d")

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Record3DReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
