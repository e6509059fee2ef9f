"""3D sets: a glTF / GLB scene rendered offscreen from the tracked camera (OpenGL through EGL: the GPU
where there is one, Mesa's llvmpipe software renderer elsewhere).

glTF's axes are ours (metres, Y up, +Z towards the viewer), so the scene sits in the screen's world
frame as authored. Materials are drawn unlit — base colour × texture × vertex colour, in linear light —
because a virtual set's lighting is baked into its textures. 4× multisampling anti-aliases edges,
textures are trilinear mip-mapped with anisotropic filtering. With a lens calibration the render is
warped through the lens's distortion (rendered with a margin so the bent frame's corners exist).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import struct
import urllib.parse
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import cv2
import numpy as np

from guangying.base.errors import DeviceError, InputFormatError, SettingsError
from guangying.lens.camera import rotation_world_from_rig
from guangying.sets.optics import SetOptics, defocus_by_depth
from guangying.sets.view import RayGrid, SetView

NEAR_M, FAR_M = 0.05, 20000.0  # the far plane moves out for a scene that reaches further (a sky dome)
_GL_SRGB8_ALPHA8 = 0x8C43
_T = TypeVar("_T")
_MAX_MARGIN = 1.6  # render at most this much wider/taller than the frame for a distorted lens

_VERTEX = """
#version 330
uniform mat4 mvp;
uniform mat4 view;
in vec3 in_position;
in vec2 in_uv;
in vec4 in_colour;
out vec2 uv;
out vec4 colour;
out float axial;
void main() {
    gl_Position = mvp * vec4(in_position, 1.0);
    uv = in_uv;
    colour = in_colour;
    axial = -(view * vec4(in_position, 1.0)).z;
}
"""
_FRAGMENT = """
#version 330
// MIRRORED: a second program for meshes with a MIRRORED_REPEAT sampler; folding every texture read
// (textureGrad, or a branch around it) doubled llvmpipe's cost for all the others
uniform sampler2D base_colour;
uniform sampler2D emissive;
uniform vec3 emissive_factor;
uniform int alpha_mode;  // glTF's alphaMode: 0 OPAQUE, 1 MASK, 2 BLEND
uniform float alpha_cutoff;
uniform vec2 mirror_base;  // 1 on an axis whose sampler is MIRRORED_REPEAT (the GL sampler clamps it)
uniform vec2 mirror_emissive;
in vec2 uv;
in vec4 colour;
in float axial;
layout(location = 0) out vec4 out_rgba;
layout(location = 1) out vec4 out_depth;
vec4 sampled(sampler2D t, vec2 mirror) {
#ifdef MIRRORED
    // folded, but at the unfolded uv's footprint: the fold would break the mip level at each seam
    return textureGrad(t, mix(uv, 1.0 - abs(mod(uv, 2.0) - 1.0), mirror), dFdx(uv), dFdy(uv));
#else
    return texture(t, uv);
#endif
}
void main() {
    vec4 c = colour * sampled(base_colour, mirror_base);
    if (alpha_mode == 1 && c.a < alpha_cutoff) discard;
    if (alpha_mode != 2) c.a = 1.0;
    // signs, screens, windows: their own light
    c.rgb += emissive_factor * sampled(emissive, mirror_emissive).rgb;
    out_rgba = vec4(c.rgb * c.a, c.a);
    out_depth = vec4(axial * c.a, c.a, 0.0, c.a);  // stored: RG; blended by c.a like the colour
}
"""


def _egl_context():  # type: ignore[no-untyped-def]
    try:
        import moderngl
    except ImportError as exc:
        raise DeviceError("3D sets need moderngl: pip install 'guangying[sets3d]'") from exc
    try:
        return moderngl.create_standalone_context(backend="egl")  # type: ignore[arg-type]  # stub is wrong
    except Exception as exc:  # moderngl raises plain Exception for a missing EGL/driver
        raise DeviceError(
            f"cannot open an offscreen OpenGL context through EGL ({exc}); on Debian/Ubuntu install "
            "libegl1 and libgl1-mesa-dri (Mesa's software renderer works without a GPU)"
        ) from exc


def _mesh_arrays(mesh, transform: np.ndarray, uv_transform: tuple[tuple[float, ...], ...] | None = None,  # type: ignore[no-untyped-def]  # noqa: E501
                 base_factor: tuple[float, ...] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """Unindexed triangles of a trimesh mesh placed by its node's 4×4 ``transform``: positions (N, 3),
    uv (N, 2) moved by the material's ``uv_transform`` (2×3, on glTF UVs), linear RGBA (N, 4) from
    ``base_factor`` (the material's baseColorFactor as the file holds it) where given, and the
    base-colour texture (a PIL image, sRGB as glTF stores it) or None."""
    faces = np.asarray(mesh.faces).ravel()
    vertices = np.asarray(mesh.vertices, np.float64)
    # trimesh loads a glTF as it is told (no processing), so a damaged index or attribute reaches here
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not faces.size:
        raise InputFormatError(f"its positions have shape {vertices.shape}, not (N, 3)")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise InputFormatError(f"a triangle names vertex {faces.max()} of {len(vertices)}")
    name = {"texture": "uv", "vertex": "vertex_colors"}.get(str(mesh.visual.kind))
    per_vertex = None if name is None else getattr(mesh.visual, name, None)
    if per_vertex is not None and len(per_vertex) != len(vertices):
        raise InputFormatError(f"it has {len(per_vertex)} {name} for {len(vertices)} vertices")
    vertices = vertices @ transform[:3, :3].T + transform[:3, 3]
    positions = vertices.astype(np.float32)[faces]
    n = positions.shape[0]
    uv = np.zeros((n, 2), np.float32)
    colour = np.ones((n, 4), np.float32)
    texture = None
    visual = mesh.visual
    if visual.kind == "texture":
        material = visual.material
        # trimesh keeps the factor as 8 bits of linear light: a night set's 0.001 became 0, its 0.003
        # 0.004 (sRGB 0.039 → 0.050), so the file's own numbers are taken where they are known
        factor = base_factor if base_factor is not None else getattr(material, "baseColorFactor", None)
        if factor is not None:
            colour[:] = np.asarray(factor, np.float32) / (
                255.0 if np.asarray(factor).dtype == np.uint8 else 1.0
            )
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if visual.uv is not None:  # an emissive texture needs them without a base-colour one (a sign)
            texture = image
            # trimesh turned glTF's v (down the picture) into OpenGL's (up from the bottom row) on load:
            # flipped again, every textured set was drawn upside down
            uv = np.asarray(visual.uv, np.float32)[faces]
            if uv_transform is not None:  # glTF's v runs down the picture: moved there, then back
                gltf_uv = np.stack([uv[:, 0], 1.0 - uv[:, 1], np.ones(len(uv), np.float32)], axis=1)
                moved = gltf_uv @ np.asarray(uv_transform, np.float32).T
                uv = np.stack([moved[:, 0], 1.0 - moved[:, 1]], axis=1).astype(np.float32)
        # COLOR_0 beside a texture (baked shading, a tint): trimesh keeps it aside, and it was lost
        baked = getattr(visual, "vertex_attributes", {}).get("color")
        if baked is not None and len(baked) == len(vertices):
            colour *= _linear_rgba(np.asarray(baked))[faces]
    elif visual.kind in ("vertex", "face"):
        rgba = np.asarray(visual.vertex_colors, np.float32)[faces] / 255.0  # glTF colours are linear
        colour[:] = rgba
    return positions, uv, colour, texture


def _linear_rgba(colours: np.ndarray) -> np.ndarray:
    """glTF vertex colours (linear; normalised integers or floats, RGB or RGBA) as float32 (N, 4)."""
    scale = np.iinfo(colours.dtype).max if np.issubdtype(colours.dtype, np.integer) else 1.0
    rgba = np.ones((len(colours), 4), np.float32)
    rgba[:, : min(colours.shape[1], 4)] = colours[:, :4] / np.float32(scale)
    return rgba


_ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}


def _surface(mesh, emissive_strength: float) -> tuple[int, float, np.ndarray, Any]:  # type: ignore[no-untyped-def]
    """The material's alphaMode as the shader's number, its alphaCutoff, emissiveFactor (linear RGB)
    times ``emissive_strength``, and emissive texture (a PIL image, sRGB) or None.

    OPAQUE (the default) ignores alpha: drawn with it, an RGBA texture's clear texels punched holes
    through the set behind them, and a MASK's cut-outs (leaves, fences) hid what stood behind. Emissive
    light is added to the unlit base colour: a neon sign or a window at night is mostly emission over a
    dark base, and drawn without it came out black."""
    material = getattr(mesh.visual, "material", None)
    mode = _ALPHA_MODES.get(str(getattr(material, "alphaMode", None) or "OPAQUE").upper(), 0)
    cutoff = getattr(material, "alphaCutoff", None)
    factor = getattr(material, "emissiveFactor", None)
    emission = np.zeros(3, np.float32) if factor is None else np.asarray(factor, np.float32).ravel()[:3]
    emission = emission * np.float32(emissive_strength)
    has_uv = getattr(mesh.visual, "uv", None) is not None
    image = getattr(material, "emissiveTexture", None) if has_uv else None  # glTF's factor defaults to 0
    return mode, 0.5 if cutoff is None else float(cutoff), emission, image


def _projection(k: np.ndarray, width: int, height: int, far_m: float = FAR_M) -> np.ndarray:
    """OpenGL clip matrix reproducing OpenCV's pinhole K (pixel centres at integers; rows upwards, as
    OpenGL's window rows run)."""
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    n, f = NEAR_M, far_m
    return np.array(
        [
            [2 * fx / width, 0, 1 - 2 * (cx + 0.5) / width, 0],
            [0, 2 * fy / height, 2 * (cy + 0.5) / height - 1, 0],
            [0, 0, -(f + n) / (f - n), -2 * f * n / (f - n)],
            [0, 0, -1, 0],
        ],
        np.float64,
    )


# Extensions a set file may require that trimesh (with DracoPy) reads; a material's own (unlit,
# specular-glossiness) change nothing here, since sets are drawn unlit from their base colour.
_READABLE_EXTENSIONS = {
    "KHR_draco_mesh_compression",
    "KHR_materials_unlit",
    "KHR_materials_pbrSpecularGlossiness",
    "KHR_materials_emissive_strength",  # read from the JSON here (_material_extensions)
    "KHR_texture_transform",
    "EXT_texture_webp",
}
# how to export again without an extension nobody here reads
_EXPORT_WITHOUT = {
    "EXT_meshopt_compression": "gltfpack without -cc",
    "KHR_meshopt_compression": "gltfpack without -cc",
    "KHR_texture_basisu": "gltfpack without -tc",
    "KHR_mesh_quantization": "gltfpack -noq",
}


def _gltf_json(path: Path) -> dict[str, Any]:
    """The JSON of ``path`` (.glb or .gltf), not a GLB's binary chunk; {} where the file cannot be read
    (trimesh then reports the file's damage). JSON that does not parse is refused, saying where: trimesh
    said only "cannot load 3D set X: model.gltf" of a .gltf cut short."""
    try:
        with path.open("rb") as file:
            head = file.read(20)
            if head[:4] == b"glTF":  # GLB: 12-byte header, then the JSON chunk's length and type
                text = file.read(struct.unpack_from("<I", head, 12)[0])
            else:
                text = head + file.read()
        tree = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the file ends there: cut short?)" if exc.pos >= len(exc.doc.rstrip()) else ""
        raise InputFormatError(f"3D set {path}: its glTF JSON is damaged at line {exc.lineno} column "
                               f"{exc.colno}, {exc.msg}{cut}; re-copy it, or export it again (one .glb keeps "
                               "the whole scene in one file)") from exc
    except (OSError, ValueError, struct.error, RecursionError):
        return {}
    if not isinstance(tree, dict):  # trimesh: "'list' object has no attribute 'get'"
        kinds = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}
        raise InputFormatError(f"3D set {path} is no glTF: its JSON is {kinds.get(type(tree), 'a number')}, "
                               "not the object a glTF scene is; export it again")
    return tree


def _check_external_files(tree: dict[str, Any], path: Path) -> None:
    """Refuse a .gltf whose buffers or pictures are files that are not beside it: trimesh drew a
    missing texture white without a word, and said a missing buffer with its name alone."""
    for kind in ("buffers", "images"):
        for entry in tree.get(kind) or ():
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:"):
                continue
            wanted = path.parent / urllib.parse.unquote(uri)
            if not wanted.is_file():
                what = "its geometry" if kind == "buffers" else "a texture"
                raise InputFormatError(f"3D set {path} needs {uri} ({what}), which is not at {wanted}: copy "
                                       "the files exported with it, or export one .glb")


def _unquoting_resolver(path: Path) -> Any:  # noqa: ANN401 (a trimesh resolver)
    """trimesh's resolver of a .gltf's files, taking their URIs as glTF writes them: percent-encoded
    (Blender writes "My%20Set.bin" for "My Set.bin"), which trimesh looked up as they stood: a texture
    named with a space drew white, a buffer was refused by its encoded name. Files beside the set or
    anywhere it points (``../textures``), as :func:`_check_external_files` found them."""
    from trimesh.resolvers import FilePathResolver

    class Unquoting(FilePathResolver):  # type: ignore[misc]
        def get(self, name: str) -> bytes:
            return super().get(urllib.parse.unquote(name))  # type: ignore[no-any-return]

    return Unquoting(str(path), allow_anywhere=True)


_DRAWN_MODES = {4: "triangles", 5: "triangle strips"}
_UNDRAWN_MODES = {0: "points", 1: "lines", 2: "line loops", 3: "line strips", 6: "triangle fans"}


def _check_primitives(tree: dict[str, Any], path: Path) -> None:
    """Refuse what trimesh would draw wrong without a word (a sparse accessor's substitutions: a mesh
    moved or missing), and say what it leaves out (points, lines, fans; a texture read through a second
    UV set, drawn through the first)."""
    meshes, accessors = tree.get("meshes") or [], tree.get("accessors") or []
    undrawn: set[str] = set()
    for number, mesh in enumerate(meshes if isinstance(meshes, list) else []):
        for primitive in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            if not isinstance(primitive, dict):
                continue
            mode = primitive.get("mode", 4)
            if mode not in _DRAWN_MODES:
                undrawn.add(_UNDRAWN_MODES.get(mode, f"mode {mode}"))
            used = [*(primitive.get("attributes") or {}).values(), primitive.get("indices")]
            for k in used:
                accessor = accessors[k] if isinstance(k, int) and 0 <= k < len(accessors) else None
                if isinstance(accessor, dict) and "sparse" in accessor:
                    raise InputFormatError(
                        f"3D set {path} stores mesh {mesh.get('name') or number!r} with sparse accessors, "
                        "which this product cannot read (they were dropped: vertices left where the base "
                        "data puts them); export it again without them (Blender: apply the shape keys)")
    if undrawn:
        warnings.warn(f"3D set {path} has primitives drawn as {', '.join(sorted(undrawn))}, which are not "
                      "drawn: only triangles and triangle strips are", stacklevel=3)
    cameras = tree.get("cameras") or []
    if isinstance(cameras, list) and cameras:  # Blender's export "Include: Cameras"
        names = ", ".join(repr(c.get("name") if isinstance(c, dict) and c.get("name") else k)
                          for k, c in enumerate(cameras))
        which = f"camera {names}, which is" if len(cameras) == 1 else f"cameras {names}, which are"
        warnings.warn(f"3D set {path} holds {which} not used: the set is seen through the camera track "
                      "(its axes and metres are the glTF's) and the lens settings", stacklevel=3)
    materials = tree.get("materials") or []
    for material in materials if isinstance(materials, list) else []:
        if not isinstance(material, dict):
            continue
        pbr = material.get("pbrMetallicRoughness") or {}
        infos = [pbr.get("baseColorTexture") if isinstance(pbr, dict) else None,
                 material.get("emissiveTexture")]  # fmt: skip
        if any(isinstance(info, dict) and info.get("texCoord", 0) != 0 for info in infos):
            warnings.warn(f"3D set {path}: material {material.get('name')!r} reads a texture through a "
                          "second UV set (texCoord 1), which is not read: it is drawn through the first; "
                          "bake the mapping into TEXCOORD_0", stacklevel=3)


def _check_nodes(tree: dict[str, Any], path: Path) -> None:
    """Refuse a node tree that is no tree, saying which node: a node naming a mesh that is not there was
    said as "no triangle meshes" (or, with others drawn, left out unsaid), and a node that is its own
    ancestor or another's second child loaded (glTF 2.0 allows neither: its nodes are disjoint trees)."""
    nodes, meshes = tree.get("nodes"), tree.get("meshes")
    nodes = nodes if isinstance(nodes, list) else []
    count = len(meshes) if isinstance(meshes, list) else 0
    damaged = f"3D set {path} is damaged:"
    parent: dict[int, int] = {}
    for number, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue  # trimesh's own error names it
        mesh = node.get("mesh")
        if mesh is not None and not (isinstance(mesh, int) and 0 <= mesh < count):
            raise InputFormatError(f"{damaged} node {node.get('name') or number!r} names mesh {mesh!r}, "
                                   f"and the file has {count} mesh(es); export it again")
        children = node.get("children") or []
        if not isinstance(children, list):  # a TypeError from here was said as a bug
            raise InputFormatError(f"{damaged} node {number}'s children are {children!r}, not a list of "
                                   "nodes; export it again")
        for child in children:
            if not (isinstance(child, int) and 0 <= child < len(nodes)):
                raise InputFormatError(f"{damaged} node {number} names child {child!r}, and the file has "
                                       f"{len(nodes)} node(s); export it again")
            if child in parent or child == number:
                parents = "itself" if child == number else f"nodes {parent[child]} and {number}"
                raise InputFormatError(f"{damaged} node {child} is a child of {parents}; glTF nodes form "
                                       "trees (each node one parent): export it again")
            parent[child] = number
    for start in parent:
        seen, at = {start}, start
        while at in parent:
            at = parent[at]
            if at in seen:
                raise InputFormatError(f"{damaged} node {start} is its own ancestor (a loop of children); "
                                       "glTF nodes form trees: export it again")
            seen.add(at)
    scenes = tree.get("scenes")
    for scene in scenes if isinstance(scenes, list) else ():
        roots = (scene.get("nodes") or []) if isinstance(scene, dict) else []
        roots = roots if isinstance(roots, list) else [roots]
        for root in roots:
            if not (isinstance(root, int) and 0 <= root < len(nodes)):
                raise InputFormatError(f"{damaged} a scene names node {root!r}, and the file has "
                                       f"{len(nodes)} node(s); export it again")
            # a scene's nodes are roots: one that is also a child, or listed twice, was drawn once
            if root in parent or roots.count(root) > 1:
                why = f"a child of node {parent[root]}" if root in parent else "listed twice"
                raise InputFormatError(f"{damaged} a scene names node {root} as a root, and it is {why}; "
                                       "glTF nodes form trees: export it again")


def _extensions(tree: dict[str, Any]) -> list[str]:
    """The glTF extensions a file requires (a reader must support them)."""
    names = tree.get("extensionsRequired")
    return [str(name) for name in names] if isinstance(names, list) else []


_REPEAT, _MIRRORED_REPEAT = 10497, 33648  # glTF's wrap modes are OpenGL's enums (CLAMP_TO_EDGE 33071)
_WRAPS = {_REPEAT, _MIRRORED_REPEAT, 33071}
_MAG_FILTERS = {9728, 9729}  # NEAREST, LINEAR
_MIN_FILTERS = _MAG_FILTERS | {9984, 9985, 9986, 9987}  # and the four mipmapped ones
_TRILINEAR = 9987


@dataclass(frozen=True, slots=True)
class _Sampler:
    """A glTF texture sampler: wrap S and T, and the filters (None: the renderer's choice, which here
    is trilinear with 8× anisotropy)."""

    wrap_s: int = _REPEAT
    wrap_t: int = _REPEAT
    mag_filter: int | None = None
    min_filter: int | None = None

    @property
    def mirror(self) -> tuple[float, float]:
        """1 on each axis (S, T) that is MIRRORED_REPEAT: the shader's fold."""
        return float(self.wrap_s == _MIRRORED_REPEAT), float(self.wrap_t == _MIRRORED_REPEAT)


_UNFILTERED = _Sampler(mag_filter=9728, min_filter=9728)


@dataclass(frozen=True, slots=True)
class _MaterialExtensions:
    """What trimesh drops of a glTF material, read from the JSON: KHR_materials_emissive_strength (how
    far emission goes past the factor's 1; Blender writes it for every strength above 1), the
    base-colour texture's KHR_texture_transform as a 2×3 matrix on glTF UVs (Blender writes it for a
    Mapping node: a floor tiled ten times), and the base-colour and emissive textures' samplers (a
    decal clamped to its edge, a mirrored tile, pixel art drawn NEAREST)."""

    emissive_strength: float = 1.0
    uv_transform: tuple[tuple[float, ...], ...] | None = None
    base_sampler: _Sampler = _Sampler()
    emissive_sampler: _Sampler = _Sampler()
    base_factor: tuple[float, ...] | None = None  # baseColorFactor, linear RGBA floats


def _sampler(tree: dict[str, Any], texture_info: object) -> _Sampler:
    """The sampler of the texture a textureInfo names; glTF's defaults where it names none or a value
    outside the specification's."""
    textures, samplers = tree.get("textures"), tree.get("samplers")
    index = texture_info.get("index") if isinstance(texture_info, dict) else None
    if not isinstance(index, int) or not isinstance(textures, list) or not 0 <= index < len(textures):
        return _Sampler()
    texture = textures[index]
    number = texture.get("sampler") if isinstance(texture, dict) else None
    if not isinstance(number, int) or not isinstance(samplers, list) or not 0 <= number < len(samplers):
        return _Sampler()
    fields = samplers[number] if isinstance(samplers[number], dict) else {}

    def pick(key: str, allowed: set[int], default: int | None) -> int | None:
        value = fields.get(key)
        return value if isinstance(value, int) and value in allowed else default

    # LINEAR and LINEAR_MIPMAP_LINEAR are what the renderer chooses anyway (an exporter's explicit
    # default must not count as a sampler of its own for an unnamed material)
    mag, least = pick("magFilter", _MAG_FILTERS, None), pick("minFilter", _MIN_FILTERS, None)
    return _Sampler(pick("wrapS", _WRAPS, _REPEAT) or _REPEAT, pick("wrapT", _WRAPS, _REPEAT) or _REPEAT,
                    None if mag == 9729 else mag, None if least == _TRILINEAR else least)


def _texture_transform(texture_info: object) -> tuple[tuple[float, ...], ...] | None:
    """KHR_texture_transform of a textureInfo as glTF's T·R·S matrix (2×3), or None."""
    extension = (texture_info.get("extensions") or {}).get("KHR_texture_transform") \
        if isinstance(texture_info, dict) else None
    if not isinstance(extension, dict):
        return None
    try:
        ox, oy = (float(v) for v in extension.get("offset", (0.0, 0.0)))
        sx, sy = (float(v) for v in extension.get("scale", (1.0, 1.0)))
        turn = float(extension.get("rotation", 0.0))
    except (TypeError, ValueError):
        return None
    c, s = math.cos(turn), math.sin(turn)
    matrix = ((c * sx, s * sy, ox), (-s * sx, c * sy, oy))
    return matrix if all(math.isfinite(v) for row in matrix for v in row) else None


def _base_factor(pbr: object) -> tuple[float, ...] | None:
    """pbrMetallicRoughness.baseColorFactor as four floats in 0–1, or None where absent or malformed."""
    factor = pbr.get("baseColorFactor") if isinstance(pbr, dict) else None
    try:
        values = tuple(float(v) for v in factor) if isinstance(factor, list) else ()
    except (TypeError, ValueError):
        return None
    return values if len(values) == 4 and all(0.0 <= v <= 1.0 for v in values) else None


def _material_extensions(tree: dict[str, Any], path: Path) -> dict[str, _MaterialExtensions]:
    """Each named material's :class:`_MaterialExtensions`; trimesh keeps the name, so they are matched
    by it. A name whose materials disagree is left out, and so is an unnamed material: both said."""
    found: dict[str, set[_MaterialExtensions]] = {}
    factors: dict[str, set[tuple[float, ...] | None]] = {}  # exact base colours, taken where unambiguous
    unmatched = False
    materials = tree.get("materials")
    for material in materials if isinstance(materials, list) else []:
        if not isinstance(material, dict):
            continue
        extension = (material.get("extensions") or {}).get("KHR_materials_emissive_strength")
        try:
            strength = float(extension.get("emissiveStrength", 1.0)) if isinstance(extension, dict) else 1.0
        except (TypeError, ValueError):
            strength = 1.0
        pbr = material.get("pbrMetallicRoughness")
        base = pbr.get("baseColorTexture") if isinstance(pbr, dict) else None
        emissive = material.get("emissiveTexture")
        extras = _MaterialExtensions(strength if math.isfinite(strength) and strength >= 0 else 1.0,
                                     _texture_transform(base), _sampler(tree, base), _sampler(tree, emissive))
        if isinstance(material.get("name"), str):
            found.setdefault(material["name"], set()).add(extras)
            factors.setdefault(material["name"], set()).add(_base_factor(pbr))
        else:
            unmatched |= extras != _MaterialExtensions()
        if emissive is not None and _texture_transform(emissive) != extras.uv_transform:
            warnings.warn(f"3D set {path}: material {material.get('name')!r} moves its emissive texture "
                          "apart from its base colour (KHR_texture_transform), which is not applied: "
                          "bake that mapping into the UVs", stacklevel=3)
    unmatched |= any(len(values) > 1 for values in found.values())
    if unmatched:
        warnings.warn(f"3D set {path}: some materials have no name of their own, so their emission "
                      "strength, texture transform or texture sampler is not applied; name each material "
                      "uniquely",
                      stacklevel=3)
    matched = {name: next(iter(values)) for name, values in found.items() if len(values) == 1}
    return {name: dataclasses.replace(extras, base_factor=next(iter(factors[name])))
            if len(factors[name]) == 1 else extras for name, extras in matched.items()}


class _Draw(NamedTuple):
    """One placed mesh as the shader draws it; each pair is (base colour, emissive)."""

    program: Any
    vao: Any
    textures: tuple[Any, Any]
    samplers: tuple[Any, Any]
    mirror: tuple[tuple[float, float], tuple[float, float]]
    alpha_mode: int
    alpha_cutoff: float
    emission: np.ndarray
    centre: np.ndarray
    front_face: str | None  # the winding that faces the camera as drawn ("cw"/"ccw"); None: both sides


class GltfSet:
    """A glTF/GLB scene rendered for each frame's camera; ``render`` → float32 (H, W, 3) linear."""

    def __init__(self, path: str | Path) -> None:
        import trimesh

        path = Path(path)
        if not path.is_file():
            raise InputFormatError(f"3D set {path} does not exist")
        tree = _gltf_json(path)
        _check_external_files(tree, path)
        required = _extensions(tree)
        extensions = _material_extensions(tree, path)
        if "KHR_draco_mesh_compression" in required and importlib.util.find_spec("DracoPy") is None:
            raise DeviceError(f"3D set {path} is Draco-compressed, which needs DracoPy: "
                              "pip install 'guangying[sets3d]'")
        unreadable = [name for name in required if name not in _READABLE_EXTENSIONS]
        if unreadable:
            # trimesh loads such a file without a word, its geometry or textures left as zeros
            ways = sorted({_EXPORT_WITHOUT.get(name, "") for name in unreadable} - {""})
            raise InputFormatError(
                f"3D set {path} needs glTF extension(s) {', '.join(unreadable)}, which this product "
                "cannot read; export it again without them (Blender: glTF export without mesh "
                f"compression{''.join('; ' + way for way in ways)})"
            )
        _check_primitives(tree, path)
        _check_nodes(tree, path)
        try:
            scene: Any = trimesh.load(str(path), force="scene", resolver=_unquoting_resolver(path))
        except Exception as exc:  # trimesh raises many kinds for a bad file
            # its internals alone ("'list' object has no attribute 'get'") said nothing of the file
            raise InputFormatError(f"cannot load 3D set {path}: it is damaged or does not hold what glTF 2.0 "
                                   f"asks for ({type(exc).__name__}: {exc}); export it again") from exc
        # Each placed mesh with its node's transform; scene.dump() would copy every mesh's material and
        # texture, and meshes sharing an atlas would each upload their own.
        meshes = []
        for node in scene.graph.nodes_geometry:
            transform, name = scene.graph[node]
            mesh = scene.geometry[name]
            if hasattr(mesh, "faces") and len(mesh.faces):
                meshes.append((mesh, np.asarray(transform, np.float64), name))
        if not meshes:
            raise InputFormatError(f"3D set {path} has no triangle meshes")
        # a sky dome 30 km out was cut away by a fixed 20 km far plane, the set black without a word
        reach_m = max(float(np.abs(np.asarray(mesh.vertices, np.float64) @ t[:3, :3].T + t[:3, 3]).max())
                      for mesh, t, _ in meshes)  # fmt: skip
        self._far_m = max(FAR_M, 4.0 * reach_m)
        self.path = path
        # EGL lets a context be current in one thread only: a set loaded in one thread and rendered
        # in another ("cannot create renderbuffer"), or by two threads at once, failed. All of this
        # set's OpenGL work runs on its own thread, one call at a time, whichever thread asks.
        self._gl_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gltf-{path.name}")
        self._closed = False
        self._rays = RayGrid()
        self._fbo_size: tuple[int, int] | None = None
        try:
            self._on_gl(self._upload, meshes, extensions)
        except BaseException:
            self._gl_thread.shutdown(wait=False)
            raise

    def _on_gl(self, work: Callable[..., _T], *args: Any) -> _T:  # noqa: ANN401
        """``work(*args)`` run on this set's OpenGL thread; its exception raised here."""
        if self._closed:
            raise SettingsError(f"3D set {self.path} was closed: open it again to render it")
        return self._gl_thread.submit(work, *args).result()

    def _upload(self, meshes: list[tuple[Any, np.ndarray, str]],
                extensions: dict[str, _MaterialExtensions]) -> None:  # fmt: skip
        """The context, shader, meshes and textures, made on the OpenGL thread."""
        path = self.path
        self.ctx = _egl_context()
        self._programs = [self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT.replace(
            "#version 330\n", "#version 330\n#define MIRRORED\n" if mirrored else "#version 330\n", 1))
            for mirrored in (False, True)]  # fmt: skip
        white = self.ctx.texture((1, 1), 4, np.ones(4, np.float32).tobytes(), dtype="f4")
        self._draws: list[_Draw] = []
        textures: dict[int, Any] = {}  # by image: meshes share their atlas
        gl_samplers: dict[_Sampler, Any] = {}
        for mesh, transform, name in meshes:
            material_name = getattr(getattr(mesh.visual, "material", None), "name", None)
            material = _MaterialExtensions()
            if isinstance(material_name, str):
                material = extensions.get(material_name, material)
            try:
                positions, uv, colour, texture = _mesh_arrays(mesh, transform, material.uv_transform,
                                                              material.base_factor)
            except InputFormatError as exc:
                raise InputFormatError(f"3D set {path} is damaged: in its mesh {name!r}, {exc}; "
                                       "export it again") from exc
            mode, cutoff, emission, glow = _surface(mesh, material.emissive_strength)
            base_tex, glow_tex = (white if image is None else self._shared_texture(image, textures)
                                  for image in (texture, glow))
            # the 1×1 white stand-in is read unfiltered: 8× anisotropy on it doubled llvmpipe's cost
            base, glowing = (_UNFILTERED if image is None else sampler for image, sampler
                             in ((texture, material.base_sampler), (glow, material.emissive_sampler)))
            samplers = (self._gl_sampler(base, gl_samplers), self._gl_sampler(glowing, gl_samplers))
            mirror = (base.mirror, glowing.mirror)
            program = self._programs[mirror != ((0.0, 0.0), (0.0, 0.0))]
            data = np.concatenate([positions, uv, colour], axis=1).astype(np.float32)
            vbo = self.ctx.buffer(data.tobytes())
            vao = self.ctx.vertex_array(program, [(vbo, "3f 2f 4f", "in_position", "in_uv", "in_colour")])
            # glTF's front faces wind counter-clockwise, drawn here upside down (clockwise), and the other
            # way under a mirroring node. A single-sided wall was drawn from behind too: a cut-away
            # room's near wall hid the room from a camera outside it.
            double_sided = bool(getattr(getattr(mesh.visual, "material", None), "doubleSided", False))
            front = None if double_sided else "ccw" if np.linalg.det(transform[:3, :3]) < 0 else "cw"
            self._draws.append(_Draw(program, vao, (base_tex, glow_tex), samplers, mirror,
                                     mode, cutoff, emission, positions.mean(axis=0), front))
        self._draws.sort(key=lambda draw: draw.alpha_mode == 2)  # blended surfaces over the solid ones

    def _gl_sampler(self, sampler: _Sampler, made: dict[_Sampler, Any]) -> Any:  # noqa: ANN401
        """An OpenGL sampler for a glTF one, made once per kind. MIRRORED_REPEAT clamps here and is
        folded in the shader (moderngl's samplers know only repeat and clamp)."""
        if sampler not in made:
            min_filter = _TRILINEAR if sampler.min_filter is None else sampler.min_filter
            made[sampler] = self.ctx.sampler(
                repeat_x=sampler.wrap_s == _REPEAT, repeat_y=sampler.wrap_t == _REPEAT,
                filter=(min_filter, 9729 if sampler.mag_filter is None else sampler.mag_filter),
                anisotropy=8.0 if min_filter == _TRILINEAR else 1.0,
            )
        return made[sampler]

    def _shared_texture(self, image: Any, textures: dict[int, Any]) -> Any:  # noqa: ANN401
        """``image``'s texture, uploaded once however many meshes use it."""
        if id(image) not in textures:
            textures[id(image)] = self._srgb_texture(image)
        return textures[id(image)]

    def _srgb_texture(self, image: Any) -> Any:  # noqa: ANN401 (a PIL image; a moderngl texture)
        """A colour texture (base colour, emission) as 8-bit sRGB, which the GPU decodes to linear light
        before it filters (as glTF defines it). Uploaded as linear float32, one texture per mesh, a
        60-object set sharing one 2048² atlas took 34 s and 6.7 GiB to load."""
        from PIL import Image

        try:  # PIL decodes a set's textures only now
            if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
                # 16-bit or float grey: PIL's RGBA clips each value to 255, so every texel drew white
                grey = np.asarray(image, np.float64) / (1.0 if image.mode == "F" else 65535.0)
                image = Image.fromarray(np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
            rgba = np.asarray(image.convert("RGBA"), np.uint8)[::-1]  # OpenGL's rows run upwards
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise InputFormatError(f"3D set {self.path} has a damaged texture ({exc}); "
                                   "export it again") from exc
        h, w = rgba.shape[:2]
        pixels = np.ascontiguousarray(rgba).tobytes()
        tex = self.ctx.texture((w, h), 4, pixels, internal_format=_GL_SRGB8_ALPHA8)
        tex.build_mipmaps()  # how it is filtered and wrapped is its material's sampler's
        return tex

    def _framebuffers(self, width: int, height: int) -> None:
        if self._fbo_size == (width, height):
            return
        import moderngl

        largest = int(self.ctx.info["GL_MAX_RENDERBUFFER_SIZE"])
        cannot = f"3D set {self.path} cannot be drawn {width}×{height}"
        if not 0 < width <= largest or not 0 < height <= largest:
            raise SettingsError(f"{cannot}: this OpenGL renderer draws at most {largest} px a side")
        samples = min(4, self.ctx.max_samples)
        try:  # colour (RGBA) and the coverage-weighted axial depth with its coverage (RG)
            ms = [self.ctx.renderbuffer((width, height), n, samples=samples, dtype="f4") for n in (4, 2)]
            depth = self.ctx.depth_renderbuffer((width, height), samples=samples)
            ms_fbo = self.ctx.framebuffer(ms, depth)
            resolved = [self.ctx.renderbuffer((width, height), n, dtype="f4") for n in (4, 2)]
            resolved_fbo = self.ctx.framebuffer(resolved)
        except moderngl.Error as exc:  # 4× multisampled float buffers: 8192² needs 6 GiB
            raise DeviceError(f"{cannot}: the OpenGL renderer could not hold its buffers ({exc}); "
                              "render smaller") from exc
        self._ms_fbo, self._resolved_fbo, self._fbo_size = ms_fbo, resolved_fbo, (width, height)

    def _draw(self, view: SetView, k: np.ndarray, width: int, height: int,
              channels: int) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        """Undistorted render with intrinsics ``k`` at width×height: (premultiplied RGBA, or RGB when
        ``channels`` is 3; axial depth m, or None when only RGB is asked for)."""
        import moderngl

        self._framebuffers(width, height)
        p = view.pose
        r = rotation_world_from_rig(p.pan_deg, p.tilt_deg, p.roll_deg)
        view_m = np.eye(4)
        view_m[:3, :3] = r.T
        view_m[:3, 3] = -r.T @ p.position_m
        # Drawn upside down: glReadPixels hands the bottom row first, so the picture comes back
        # top-down with no flipped copy of it (front faces then wind clockwise: _Draw.front_face).
        mvp = np.diag([1.0, -1.0, 1.0, 1.0]) @ _projection(k, width, height, self._far_m) @ view_m
        for program in self._programs:
            program["mvp"].write(mvp.T.astype(np.float32).tobytes())  # GLSL matrices are column-major
            program["view"].write(view_m.T.astype(np.float32).tobytes())
            program["emissive"].value = 1
        self._ms_fbo.use()
        self._ms_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA  # premultiplied
        # Blended surfaces far to near from this camera: "over" is not commutative, so a near pane
        # drawn before a far one came out behind it (each mesh by its centre, as engines sort)
        solid = [draw for draw in self._draws if draw.alpha_mode != 2]
        blended = sorted((draw for draw in self._draws if draw.alpha_mode == 2),
                         key=lambda draw: float(view_m[2, :3] @ draw.centre + view_m[2, 3]))
        for draw in solid + blended:
            blend = draw.alpha_mode == 2
            if blend:
                self.ctx.enable(moderngl.BLEND)
            self.ctx.depth_mask = not blend  # what a pane of glass covers stays visible behind it
            program = draw.program
            program["alpha_mode"].value = draw.alpha_mode
            program["alpha_cutoff"].value = draw.alpha_cutoff
            program["emissive_factor"].value = tuple(float(v) for v in draw.emission)
            if program is self._programs[True]:
                program["mirror_base"].value, program["mirror_emissive"].value = draw.mirror
            for unit, (texture, sampler) in enumerate(zip(draw.textures, draw.samplers, strict=True)):
                texture.use(unit)
                sampler.use(unit)
            if draw.front_face is None:
                self.ctx.disable(moderngl.CULL_FACE)
            else:
                self.ctx.enable(moderngl.CULL_FACE)
                self.ctx.front_face = draw.front_face
            draw.vao.render(moderngl.TRIANGLES)
        self.ctx.disable(moderngl.BLEND | moderngl.CULL_FACE)
        self.ctx.depth_mask = True
        self.ctx.copy_framebuffer(self._resolved_fbo, self._ms_fbo)  # MSAA resolve, every attachment
        picture = self._read(0, channels, width, height)
        if channels == 3:
            return picture, None
        depth_plane = self._read(1, 2, width, height)
        cover = depth_plane[..., 1]
        axial = np.full((height, width), np.nan, np.float32)
        np.divide(depth_plane[..., 0], cover, out=axial, where=cover > 1e-4)
        return picture, axial

    def _read(self, attachment: int, channels: int, width: int, height: int) -> np.ndarray:
        """The first ``channels`` of one resolved attachment as float32 (H, W, channels), rows top-down,
        read straight into the array (the GPU drops the channels not asked for)."""
        picture = np.empty((height, width, channels), np.float32)
        self._resolved_fbo.read_into(picture, components=channels, attachment=attachment, dtype="f4")
        return picture

    @property
    def renderer(self) -> str:
        """The OpenGL renderer drawing this set: a GPU's name, or ``llvmpipe`` (Mesa's software one)."""
        return self._on_gl(lambda: str(self.ctx.info["GL_RENDERER"]))

    def render_rgba(self, view: SetView) -> tuple[np.ndarray, np.ndarray]:
        """(rgba premultiplied linear (H, W, 4), axial distance m (H, W), NaN where empty) for the view,
        through its lens distortion when it has one."""
        rgba, axial = self._render(view, 4)
        assert axial is not None  # asked for with the alpha
        return rgba, axial

    def _render(self, view: SetView, channels: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``_draw`` for the view, through its lens distortion when it has one."""
        w, h = view.width_px, view.height_px
        k = np.asarray(view.camera_matrix, np.float64)
        if view.dist_coeffs is None or not np.any(view.dist_coeffs):
            return self._on_gl(self._draw, view, k, w, h, channels)
        grid = self._rays.normalised(view)
        u = grid[..., 0] * k[0, 0] + k[0, 2]
        v = grid[..., 1] * k[1, 1] + k[1, 2]
        # Undistorted canvas covering every pixel the bent frame looks at (up to a margin).
        x0 = max(math.floor(float(np.nanmin(u))) - 2, -int((_MAX_MARGIN - 1) / 2 * w))
        y0 = max(math.floor(float(np.nanmin(v))) - 2, -int((_MAX_MARGIN - 1) / 2 * h))
        x1 = min(math.ceil(float(np.nanmax(u))) + 2, w - 1 + int((_MAX_MARGIN - 1) / 2 * w))
        y1 = min(math.ceil(float(np.nanmax(v))) + 2, h - 1 + int((_MAX_MARGIN - 1) / 2 * h))
        x0, y0, x1, y1 = min(x0, 0), min(y0, 0), max(x1, w - 1), max(y1, h - 1)
        k_big = k.copy()
        k_big[0, 2] -= x0
        k_big[1, 2] -= y0
        picture, axial = self._on_gl(self._draw, view, k_big, x1 - x0 + 1, y1 - y0 + 1, channels)
        map_x = (u - x0).astype(np.float32)
        map_y = (v - y0).astype(np.float32)
        picture = cv2.remap(picture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if axial is not None:
            axial = cv2.remap(axial, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=np.nan)  # fmt: skip
        return picture, axial

    def render(self, view: SetView, position: int, optics: SetOptics | None = None) -> np.ndarray:
        """float32 (H, W, 3) linear light (empty space is black), defocused by depth with ``optics``."""
        if optics is None:  # colour alone: a third less to read back, and no depth
            return self._render(view, 3)[0]
        rgba, axial = self.render_rgba(view)
        return np.ascontiguousarray(defocus_by_depth(rgba, axial, optics, view)[..., :3])

    def close(self) -> None:
        """Release the OpenGL context and its thread; closing again does nothing."""
        if not self._closed:
            self._on_gl(self.ctx.release)
            self._closed = True
            self._gl_thread.shutdown()
