"""Virtual sets that move with the tracked camera: 360° panoramas, 2.5D layer sets, glTF 3D sets,
lens-distortion match and foreground–background interaction (shadow, floor reflection).

- :func:`open_set`: a set by its file (picture/clip → :class:`PanoramaSet`, ``.yaml`` →
  :class:`LayeredSet`, ``.glb``/``.gltf`` → :class:`GltfSet`); each renders
  ``render(view, position, optics=None)`` → float32 (H, W, 3) linear light.
- :class:`SetView` / :func:`view_from_track_row`: a frame's camera (pose, intrinsics, distortion).
- :class:`SetOptics`: aperture and focus for per-layer depth of field.
- :func:`shadow_ratio`, :func:`apply_shadow`, :func:`floor_reflection`: actor ↔ set interaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guangying.base.lazy import lazy_exports

_EXPORTS = {
    "VirtualSet": "guangying.sets.base",
    "open_set": "guangying.sets.base",
    "PanoramaSet": "guangying.sets.panorama",
    "LayeredSet": "guangying.sets.layers",
    "read_layer_specs": "guangying.sets.layers",
    "GltfSet": "guangying.sets.gltf",
    "SetView": "guangying.sets.view",
    "view_from_track_row": "guangying.sets.view",
    "SetOptics": "guangying.sets.optics",
    "shadow_ratio": "guangying.sets.interaction",
    "apply_shadow": "guangying.sets.interaction",
    "floor_reflection": "guangying.sets.interaction",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from guangying.sets.base import VirtualSet, open_set
    from guangying.sets.gltf import GltfSet
    from guangying.sets.interaction import apply_shadow, floor_reflection, shadow_ratio
    from guangying.sets.layers import LayeredSet, read_layer_specs
    from guangying.sets.optics import SetOptics
    from guangying.sets.panorama import PanoramaSet
    from guangying.sets.view import SetView, view_from_track_row
