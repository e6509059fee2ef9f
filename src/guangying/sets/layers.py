"""2.5D sets: flat picture layers (RGBA stills or clips) standing at distances behind the screen, so a
moving camera sees them slide over one another (parallax), each with its own depth of field.

Set file (YAML; picture paths are relative to it)::

    layers:
      - image: sky.png            # RGBA or RGB still, or a clip / image sequence
        distance_m: 60            # behind the screen: the layer is the plane Z = −60 m, facing the camera
        width_m: 160              # its width in metres (height follows the picture's aspect)
        centre_m: [0, 10]         # optional, (x, y) of its centre in metres; default [0, 0]
      - image: trees.png
        distance_m: 8
        width_m: 24
        depth: trees_depth.exr    # optional per-pixel distance behind the screen (metres) …
        depth_range_m: [6, 12]    # … needed by an 8/16-bit picture (black → 6 m,
                                  #   white → 12 m) or a float one of 0–1 (a mist pass);
                                  #   [12, 6] for a map whose white is near (AI depth)
        projected_from_m: [0, 1.5, 3]  # optional: where the picture was seen from (below)

A depth map alone is a relief: each pixel keeps its x and y on the layer and moves back to its depth,
right for a surface whose depth varies little against its distance (a wall's relief). A photograph's
depth map (an AI estimator's) says how far each pixel is along its ray from the viewpoint: with
``projected_from_m`` (x, y, z of that viewpoint in set metres, in front of the layer) each pixel lies on
the ray from there through its place on the layer, so from there the picture keeps its shape, and a
camera that moves sees each part slide by its own depth.

Layers are drawn far to near in premultiplied linear light; whatever no layer covers is black.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.errors import InputFormatError, MissingMediaError, SettingsError
from guangying.base.files import check_keys, read_json_or_yaml
from guangying.base.jit import numba
from guangying.base.memory import physical_memory_bytes
from guangying.media.patterns import parse_pattern
from guangying.sets.mip import CLAMP, ZERO, MipPyramid
from guangying.sets.optics import SetOptics, defocus_by_depth, defocus_premultiplied
from guangying.sets.source import PictureSource
from guangying.sets.view import RayGrid, SetView, coarse_positions, upsample_map

_FLAT = np.full(4, np.nan, np.float32)  # _plane_map's seen_from for points on the layer where they stand
PLANE_STEP = 4  # pixels between exactly computed points of a flat layer's map
DEPTH_ITERATIONS = 3  # fixed-point steps ray ↔ depth map (relief parallax); converges for smooth depth


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """One layer as the set file describes it."""

    image: Path
    distance_m: float
    width_m: float
    centre_m: tuple[float, float] = (0.0, 0.0)
    depth: Path | None = None
    depth_range_m: tuple[float, float] | None = None
    projected_from_m: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.distance_m < 0:
            # the set is drawn under the keyed actor, who stands at the screen: a layer in front of the
            # screen would be seen behind someone it stands in front of
            raise InputFormatError(
                f"distance_m {self.distance_m:g} puts the layer in front of the screen, between the actor "
                "and the camera, but every layer is drawn behind the actor: give metres behind the "
                "screen (0 or more; the plane Z = −distance_m)")
        if self.projected_from_m is not None:
            if self.depth is None:
                raise InputFormatError("projected_from_m places a depth map's pixels: give the layer a depth")
            if self.projected_from_m[2] <= -self.distance_m:
                raise InputFormatError(
                    f"projected_from_m stands at z = {self.projected_from_m[2]:g} m, not in front of the "
                    f"layer (z = {-self.distance_m:g} m): give the point the picture was seen from, in set "
                    "metres (the screen is z = 0)")


_LARGEST_M = 1e7  # 10 000 km: further is a typo or a stand-in for infinity, which float32 maths overflowed


def _number(value: Any, where: str, positive: bool = True) -> float:
    if isinstance(value, bool):  # YAML's yes/no/on/off: `width_m: yes` was a layer 1 m wide
        raise InputFormatError(f"{where} must be a number, got {str(value).lower()} (YAML reads yes, no, on "
                               "and off as true or false)")
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"{where} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or (positive and v <= 0) or abs(v) > _LARGEST_M:
        raise InputFormatError(
            f"{where} must be a {'positive ' if positive else ''}number of metres, under 10 000 km, "
            f"got {value!r}"
        )
    return v


def read_layer_specs(path: str | Path) -> list[LayerSpec]:
    """Parse and check a 2.5D set file; errors name the file and the layer."""
    path = Path(path)
    # a key given twice (the last won without a word) refused, as in every other settings file
    doc = read_json_or_yaml(path, "set file")
    if isinstance(doc, dict) and "layers" not in doc:
        check_keys(doc, ("layers",), f"set file {path}")  # `layer:` said as itself, with what it may mean
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list) or not doc["layers"]:
        raise InputFormatError(f"set file {path} needs a non-empty 'layers:' list")
    specs = []
    for n, item in enumerate(doc["layers"], 1):
        where = f"set file {path}, layer {n}"
        if not isinstance(item, dict):
            raise InputFormatError(f"{where}: each layer is a mapping with image, distance_m, width_m")
        check_keys(item, ("image", "distance_m", "width_m", "centre_m", "depth", "depth_range_m",
                          "projected_from_m"), where)
        for key in ("image", "distance_m", "width_m"):
            if key not in item:
                raise InputFormatError(f"{where}: '{key}' is missing")
        image = path.parent / str(item["image"])
        centre = item.get("centre_m", [0.0, 0.0])
        if not isinstance(centre, list | tuple) or len(centre) != 2:
            # `[0, 1,5]` is three numbers in YAML and JSON
            comma = " (3 numbers: a decimal comma? Write numbers with a point, 1.5)" if (
                isinstance(centre, list | tuple) and len(centre) == 3) else ""
            raise InputFormatError(f"{where}: centre_m must be [x, y] in metres{comma}")
        depth = path.parent / str(item["depth"]) if item.get("depth") else None
        rng = item.get("depth_range_m")
        if rng is not None:
            if not isinstance(rng, list | tuple) or len(rng) != 2:
                raise InputFormatError(f"{where}: depth_range_m must be [black, white] in metres")
            rng = (_number(rng[0], f"{where} depth_range_m"), _number(rng[1], f"{where} depth_range_m"))
        if depth is not None and rng is None and not _holds_numbers(depth):
            # its grey levels were taken as metres: a whole layer pulled to within 1 m of the screen
            raise InputFormatError(f"{where}: depth {depth.name} is an 8/16-bit picture, whose grey levels "
                                   "are not metres: give depth_range_m: [black, white] ([6, 12]: black → "
                                   "6 m, white → 12 m; [12, 6] for a map whose white is near), or a float "
                                   "EXR of metres")
        seen_from = item.get("projected_from_m")
        if seen_from is not None:
            if not isinstance(seen_from, list | tuple) or len(seen_from) != 3:
                raise InputFormatError(f"{where}: projected_from_m must be [x, y, z] in metres")
            seen_from = tuple(_number(v, f"{where} projected_from_m", False) for v in seen_from)
        distance_m = _number(item["distance_m"], f"{where} distance_m", positive=False)
        width_m = _number(item["width_m"], f"{where} width_m")
        centre_m = (_number(centre[0], f"{where} centre_m", False),
                    _number(centre[1], f"{where} centre_m", False))
        try:
            spec = LayerSpec(image, distance_m, width_m, centre_m, depth, rng, seen_from)
        except InputFormatError as exc:
            raise InputFormatError(f"{where}: {exc}") from exc
        for key, named in (("image", image), ("depth", depth)):
            if named is not None and not named.exists() and parse_pattern(named) is None:
                raise MissingMediaError(f"{where}: {key} {named} not found")  # the layer was not named
            if named is not None and named.is_dir():  # said without the set file and the layer
                raise InputFormatError(f"{where}: {key} {named} is a folder; give a picture, a clip or a "
                                       "pattern like layer.%04d.png")
        specs.append(spec)
    return specs


class _Layer:
    def __init__(self, spec: LayerSpec, footage_fps: Fraction | float | None = None) -> None:
        self.spec = spec
        self.picture: PictureSource[MipPyramid] = PictureSource(
            spec.image, lambda rgba, _aspect: MipPyramid(rgba), "set layer", footage_fps)
        # an anamorphic picture (pixel aspect 2) stands twice as wide as its stored pixels
        self.height_m = spec.width_m * self.picture.height / (self.picture.width * self.picture.pixel_aspect)
        self.nbytes = self.picture.at(0).flat.nbytes  # held for the render (a clip's: its current frame)
        self.depth: PictureSource[MipPyramid] | None = None
        self._said_relief = False
        if spec.depth is not None:
            rng = spec.depth_range_m

            numbers = _holds_numbers(spec.depth)

            def depth_pyramid(rgba: np.ndarray, _aspect: Fraction) -> MipPyramid:
                # luminance of the depth picture (first channel: depth pictures are grey)
                values = rgba[..., 0] / np.maximum(rgba[..., 3], 1e-6)
                deepest = float(np.nanmax(values))
                if rng is not None and numbers and deepest > 1.001:
                    # metres mapped again: the whole layer pushed to the far end of the range
                    raise InputFormatError(
                        f"layer depth {spec.depth} holds distances up to {deepest:g} (metres), not the "
                        "0–1 that depth_range_m maps: remove depth_range_m from its layer")
                if rng is not None:  # a float picture's 0–1 (a mist pass) as it is, not as light
                    values = rng[0] + (rng[1] - rng[0]) * (values if numbers else _unlinearise(values))
                self._say_a_deep_relief(values)
                return MipPyramid(values.astype(np.float32))

            self.depth = PictureSource(spec.depth, depth_pyramid, "layer depth map", footage_fps)
            self.nbytes += self.depth.at(0).flat.nbytes
            shape = self.picture.width / self.picture.height
            depth_shape = self.depth.width / self.depth.height
            if abs(math.log(shape / depth_shape)) > 0.01:  # stretched over the picture without a word
                warnings.warn(f"layer depth map {spec.depth.name} is {depth_shape:.3g}:1 and its picture "
                              f"{spec.image.name} {shape:.3g}:1: the map is stretched over the picture; "
                              "export both at one size", stacklevel=3)


    def _say_a_deep_relief(self, depth_m: np.ndarray) -> None:
        """A relief map whose depth spans much of its distance is most likely a photograph's depth, whose
        far parts a relief draws smaller than the picture shows them, torn from the near ones."""
        if self.spec.projected_from_m is not None or self._said_relief:
            return
        seen = depth_m[np.isfinite(depth_m) & (depth_m > 0)]
        if seen.size and float(seen.max()) > 1.5 * float(seen.min()):
            self._said_relief = True
            name = self.spec.depth.name if self.spec.depth is not None else ""
            warnings.warn(
                f"layer depth map {name} spans {float(seen.min()):.3g}–{float(seen.max()):.3g} m and is "
                "taken as a relief (each pixel keeps its x and y on the layer): from the camera its far "
                "parts look smaller than the picture shows them, torn from the near ones. For a "
                "photograph's depth map, give the layer projected_from_m: [x, y, z], where the picture was "
                "seen from (docs/sets.md)", stacklevel=2)


def _gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


def _holds_numbers(path: Path) -> bool:
    """Whether a depth picture stores floats (EXR, PFM, HDR, a float TIFF), read as they are, rather
    than 8/16-bit grey levels, which the reader decodes as sRGB light."""
    suffix = path.suffix.lower()
    if suffix in (".exr", ".pfm", ".hdr"):
        return True
    if suffix in (".tif", ".tiff"):
        import tifffile

        pattern = parse_pattern(path)
        numbers = [] if pattern is None else pattern.find_numbers()
        first = pattern.path(numbers[0]) if pattern is not None and numbers else path
        try:
            with tifffile.TiffFile(first) as tiff:
                return bool(np.issubdtype(tiff.pages[0].dtype, np.floating))
        except (OSError, ValueError, IndexError):
            return False  # the reader says what is wrong with it
    return False


def _unlinearise(linear: np.ndarray) -> np.ndarray:
    """Back to the stored 0–1 code values: a depth picture's grey levels are numbers, not light."""
    from guangying.base.colour import linear_to_srgb

    return linear_to_srgb(np.clip(linear, 0.0, 1.0))


class LayeredSet:
    """A 2.5D set (see the module docstring) rendered for each frame's camera."""

    def __init__(self, specs: list[LayerSpec], footage_fps: Fraction | float | None = None) -> None:
        self._rays = RayGrid()
        self.layers: list[_Layer] = []
        try:
            self._load(specs, footage_fps)
        except BaseException:
            self.close()
            raise

    def _load(self, specs: list[LayerSpec], footage_fps: Fraction | float | None) -> None:
        """The layers far to near, so nearer ones are laid over farther ones. Their pictures' pyramids
        stay in memory for the whole render: a set that would take more than half of this machine's
        memory is refused as it loads (a hostile 3000-layer set reached 14.7 GB without a word, where
        the kernel kills the render) and one over a quarter is said."""
        memory = physical_memory_bytes()
        held = 0
        for spec in sorted(specs, key=lambda s: -s.distance_m):
            layer = _Layer(spec, footage_fps)
            self.layers.append(layer)
            held += layer.nbytes
            if memory is not None and held > memory / 2:
                raise SettingsError(
                    f"this 2.5D set's layers take {_gigabytes(held)} of memory by layer {len(self.layers)} "
                    f"of {len(specs)} ({spec.image.name}), over half of this machine's {_gigabytes(memory)}: "
                    "use fewer layers, or smaller pictures (a layer needs no more pixels than it covers "
                    "on screen)")
        if memory is not None and held > memory / 4:
            warnings.warn(f"this 2.5D set's {len(self.layers)} layers take {_gigabytes(held)} of this "
                          f"machine's {_gigabytes(memory)} of memory for the whole render", stacklevel=4)

    @classmethod
    def from_file(cls, path: str | Path, footage_fps: Fraction | float | None = None) -> LayeredSet:
        return cls(read_layer_specs(path), footage_fps)

    def render_layer(self, layer: _Layer, view: SetView, position: int) -> tuple[np.ndarray, np.ndarray]:
        """One layer as the camera sees it: (rgba premultiplied linear (H, W, 4), distance along the
        optical axis in metres (H, W), NaN where the layer is not)."""
        grid = self._rays.normalised(view)
        h, w = grid.shape[:2]
        pyramid = layer.picture.at(position)
        s = layer.spec
        rect = np.array(
            [s.centre_m[0] - s.width_m / 2, s.centre_m[1] + layer.height_m / 2, s.width_m, layer.height_m],
            np.float32,
        )
        r = view.rotation_world_from_cv.astype(np.float32)
        c = view.pose.position_m.astype(np.float32)
        texels = np.empty((h, w, 2), np.float32)
        axial = np.empty((h, w), np.float32)
        unit = np.array([pyramid.width, pyramid.height], np.float32)
        if not self._coarse_plane_map(grid, r, c, -s.distance_m, rect, unit, texels, axial):
            plane_z = np.full((h, w), -s.distance_m, np.float32)
            _plane_map(grid, r, c, plane_z, rect, unit, texels, axial, _FLAT)
        if layer.depth is not None:
            plane_z = np.full((h, w), -s.distance_m, np.float32)
            depth_pyr = layer.depth.at(position)
            scale = np.array([depth_pyr.width / pyramid.width, depth_pyr.height / pyramid.height], np.float32)
            # (x, y, z) the picture was seen from and the layer's z; NaN: a relief, x and y kept
            seen_from = _FLAT if s.projected_from_m is None else np.array(
                [*s.projected_from_m, -s.distance_m], np.float32)
            for _ in range(DEPTH_ITERATIONS):
                # the edge's depth past the map's edge: blended with the nothing beyond it, a layer's
                # border came out near the lens, drawn with texels from inside the picture (a bright
                # column past its edge) and blurred by metres of defocus
                depth = depth_pyr.sample(texels * scale, CLAMP, CLAMP)[..., 0]
                plane_z = np.where(np.isfinite(texels[..., 0]) & (depth > 0), -depth, plane_z).astype(
                    np.float32
                )
                _plane_map(grid, r, c, plane_z, rect, unit, texels, axial, seen_from)
        rgba = pyramid.sample(texels, ZERO, ZERO)
        axial = np.where(rgba[..., 3] > 0, axial, np.nan).astype(np.float32)
        return rgba, axial

    @staticmethod
    def _coarse_plane_map(grid, r, c, plane_z_m, rect, unit, texels, axial) -> bool:  # type: ignore[no-untyped-def]
        """A flat layer's map is a homography, smooth wherever the plane is in front of the camera:
        computed exactly every ``PLANE_STEP`` pixels and interpolated (a few thousandths of a pixel
        off). False (nothing written) when the plane's horizon is in view, where it is not smooth."""
        h, w = grid.shape[:2]
        ys, xs = coarse_positions(h, PLANE_STEP), coarse_positions(w, PLANE_STEP)
        sub = np.ascontiguousarray(grid[ys][:, xs])
        coarse_tex = np.empty(sub.shape, np.float32)
        coarse_axial = np.empty(sub.shape[:2], np.float32)
        plane_z = np.full(sub.shape[:2], plane_z_m, np.float32)
        _plane_map(sub, r, c, plane_z, rect, unit, coarse_tex, coarse_axial, _FLAT)
        if not np.isfinite(coarse_axial).all():
            return False
        both = np.concatenate([coarse_tex, coarse_axial[..., None]], axis=2)
        out = np.empty((h, w, 3), np.float32)
        upsample_map(both, ys.astype(np.int64), xs.astype(np.int64), out)
        texels[...] = out[..., :2]
        axial[...] = out[..., 2]
        return True

    def render(self, view: SetView, position: int, optics: SetOptics | None = None) -> np.ndarray:
        """float32 (H, W, 3) linear light: all layers, each defocused by its own circle of confusion."""
        out: np.ndarray = np.zeros((view.height_px, view.width_px, 4), np.float32)
        for layer in self.layers:
            rgba: np.ndarray
            rgba, axial = self.render_layer(layer, view, position)
            if optics is not None:
                if layer.depth is None:
                    seen = axial[np.isfinite(axial)]
                    if seen.size:
                        coc_px = float(optics.coc_px(view, float(np.median(seen))))
                        rgba = defocus_premultiplied(rgba, coc_px, optics.width_ratio(view))
                else:
                    rgba = defocus_by_depth(rgba, axial, optics, view)
            out = rgba + out * (1.0 - rgba[..., 3:4])
        return np.ascontiguousarray(out[..., :3])

    def close(self) -> None:
        for layer in self.layers:
            layer.picture.close()
            if layer.depth is not None:
                layer.depth.close()


@numba.njit(parallel=True, fastmath=True, cache=True)
def _plane_map(grid, r, c, plane_z, rect, unit, texels, axial, seen_from):  # type: ignore[no-untyped-def]
    """Intersect each pixel's ray with the plane Z = plane_z[i, j]: texel coordinates on a layer whose
    top-left corner is (rect[0], rect[1]) m and size rect[2]×rect[3] m; NaN behind the camera. The point
    met is on the layer where it stands (``seen_from`` NaN), or where the ray from ``seen_from[:3]``
    through it meets the layer's plane Z = ``seen_from[3]`` (a depth map's pixel seen from there)."""
    project = not np.isnan(seen_from[0])
    h, w = grid.shape[0], grid.shape[1]
    for i in numba.prange(h):
        for j in range(w):
            x = grid[i, j, 0]
            y = grid[i, j, 1]
            dx = r[0, 0] * x + r[0, 1] * y + r[0, 2]
            dy = r[1, 0] * x + r[1, 1] * y + r[1, 2]
            dz = r[2, 0] * x + r[2, 1] * y + r[2, 2]
            t = (plane_z[i, j] - c[2]) / dz if dz != 0.0 else -1.0
            if t <= 0.0:  # the plane is behind the camera along this ray
                texels[i, j, 0] = np.nan
                texels[i, j, 1] = np.nan
                axial[i, j] = np.nan
                continue
            px = c[0] + t * dx
            py = c[1] + t * dy
            if project and plane_z[i, j] < seen_from[2] and plane_z[i, j] != seen_from[3]:
                along = (seen_from[3] - seen_from[2]) / (plane_z[i, j] - seen_from[2])
                px = seen_from[0] + (px - seen_from[0]) * along
                py = seen_from[1] + (py - seen_from[1]) * along
            texels[i, j, 0] = (px - rect[0]) / rect[2] * unit[0]
            texels[i, j, 1] = (rect[1] - py) / rect[3] * unit[1]
            axial[i, j] = t  # the ray is (x, y, 1) in camera axes, so t is the distance along the axis
