"""What every set kind offers, and opening a set by its file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from guangying.sets.optics import SetOptics
from guangying.sets.view import SetView


class VirtualSet(Protocol):
    def render(self, view: SetView, position: int, optics: SetOptics | None = None) -> np.ndarray:
        """float32 (H, W, 3) linear light as the frame's camera sees the set."""
        ...

    def close(self) -> None: ...


def open_set(spec: str | Path, footage_fps: Fraction | float | None = None) -> VirtualSet:
    """A set by its file: ``.yaml``/``.yml`` → 2.5D layers, ``.glb``/``.gltf`` → 3D scene, any picture
    or clip → 360° equirectangular panorama. Its clips play at their own speed against footage at
    ``footage_fps`` (frame for frame without it)."""
    suffix = Path(str(spec)).suffix.lower()
    if suffix in (".yaml", ".yml"):
        from guangying.sets.layers import LayeredSet

        return LayeredSet.from_file(spec, footage_fps)
    if suffix in (".glb", ".gltf"):
        from guangying.sets.gltf import GltfSet

        return GltfSet(spec)
    from guangying.sets.panorama import PanoramaSet

    return PanoramaSet(spec, footage_fps)
