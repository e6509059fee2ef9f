"""3D sets: a generated glTF scene rendered offscreen (EGL) lands where the camera model projects it."""

import json

import cv2
import numpy as np
import pytest

from guangying.base.colour import srgb_to_linear
from guangying.base.errors import DeviceError, InputFormatError
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.lens.camera_calibration import CameraCalibration, load_camera_calibration
from guangying.sets.optics import SetOptics
from guangying.sets.view import SetView

trimesh = pytest.importorskip("trimesh", reason="3D sets need trimesh (pip install 'guangying[sets3d]')")
pytest.importorskip("moderngl", reason="3D sets need moderngl (pip install 'guangying[sets3d]')")

W, H, SENSOR_MM = 320, 180, 24.89
BOXES = [  # centre (m), size (m), colour (linear, 0–255)
    ((0.6, 0.4, -5.0), (1.0, 1.0, 1.0), (255, 0, 0)),
    ((-1.5, -0.3, -9.0), (1.2, 2.0, 0.8), (0, 255, 0)),
]


def _boxes() -> list:
    meshes = []
    for centre, size, colour in BOXES:
        box = trimesh.creation.box(extents=size)
        box.apply_translation(centre)
        box.visual.face_colors = [*colour, 255]
        meshes.append(box)
    return meshes


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from guangying.sets.gltf import GltfSet

    path = tmp_path_factory.mktemp("gltf") / "scene.glb"
    path.write_bytes(trimesh.Scene(_boxes()).export(file_type="glb"))
    try:
        return GltfSet(path)
    except DeviceError as exc:
        pytest.skip(f"no offscreen OpenGL here: {exc}")


def _box_corners(centre, size):
    c, s = np.asarray(centre), np.asarray(size) / 2
    return np.array([c + s * np.array([x, y, z]) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])


def _projected_mask(centre, size, pose, k, dist=None):
    """Silhouette of a box as the convex hull of its corners projected by cv2 (truth without GL)."""
    if dist is None:
        pts = project_points_px(_box_corners(centre, size), pose, k)
    else:  # distorted: densely sample the box's surface so the bent edges are traced
        g = np.linspace(-0.5, 0.5, 41)
        surface = np.array([[x, y, z] for x in g for y in g for z in g if max(abs(x), abs(y), abs(z)) == 0.5])
        pts = project_points_px(np.asarray(centre) + surface * np.asarray(size), pose, k, dist)
    mask = np.zeros((H * 8, W * 8), np.uint8)
    hull = cv2.convexHull(((pts + 0.5) * 8 - 0.5).astype(np.float32)).astype(np.int32)
    cv2.fillConvexPoly(mask, hull, 1)
    return cv2.resize(mask.astype(np.float32), (W, H), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(
    "pose", [CameraPose(z_m=2.0), CameraPose(pan_deg=-6, tilt_deg=3, roll_deg=5, x_m=0.3, y_m=0.2, z_m=1.0)]
)
def test_render_matches_projected_boxes(scene, pose):
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    rgba, axial = scene.render_rgba(SetView(pose, k, W, H))
    for channel, (centre, size, _) in enumerate(BOXES):
        truth = _projected_mask(centre, size, pose, k)
        got = rgba[..., channel]
        assert np.abs(got - truth).sum() / truth.sum() < 0.03  # antialiased edges agree to a fraction of a px
    # depth: the red box's nearest face is 4.5 m in front of the screen plane along −Z
    red = rgba[..., 0] > 0.99
    assert np.nanmin(axial[red]) == pytest.approx(pose.z_m + 4.5, abs=0.15)


def test_distorted_render_follows_project_points(scene, tmp_path):
    cal = tmp_path / "lens.json"
    k_cal = np.array([[250, 0, 159.5], [0, 250, 89.5], [0, 0, 1]])
    CameraCalibration(k_cal, np.array([-0.3, 0.1, 0, 0, 0]), W, H).save(cal)
    lens = load_camera_calibration(cal)
    pose = CameraPose(pan_deg=-20, z_m=1.0)  # the red box near the right edge, where the lens bends most
    k = lens.camera_matrix_for(W, H)
    rgba, _ = scene.render_rgba(SetView(pose, k, W, H, lens.dist_coeffs))
    centre, size, _ = BOXES[0]
    truth = _projected_mask(centre, size, pose, k, lens.dist_coeffs)
    undistorted = _projected_mask(centre, size, pose, k)
    err = np.abs(rgba[..., 0] - truth).sum() / truth.sum()
    assert err < 0.05 and err < 0.4 * np.abs(undistorted - truth).sum() / truth.sum()


def test_depth_of_field_blurs_the_far_box_more(scene):
    k = intrinsics_matrix(85.0, SENSOR_MM, W, H)
    view = SetView(CameraPose(pan_deg=-4, z_m=2.0), k, W, H)
    sharp = scene.render(view, 0)
    soft = scene.render(view, 0, SetOptics(f_number=1.4, focus_distance_m=7.0, sensor_width_mm=SENSOR_MM))

    def edge_energy(img, ch):  # squared gradients: a blurred step has less (its total variation does not)
        return float(np.square(np.diff(img[..., ch], axis=1)).sum())

    # focused at the red box (≈ 7 m): it stays crisp, the green box 11 m away goes soft
    assert edge_energy(soft, 0) > 0.8 * edge_energy(sharp, 0)
    assert edge_energy(soft, 1) < 0.6 * edge_energy(sharp, 1)


def test_a_set_draws_its_own_scene_after_another_set_was_made(scene, tmp_path):
    # Each set has its own OpenGL context, and the last one made stayed current: a set loaded before
    # another (two shots in one batch worker, a set swapped live) drew into the newer one's buffers.
    from guangying.sets.gltf import GltfSet

    view = SetView(CameraPose(z_m=2.0), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H)
    alone, alone_m = scene.render_rgba(view)
    path = tmp_path / "one_box.glb"
    box = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    box.apply_translation((0, 0, -3))
    path.write_bytes(trimesh.Scene([box]).export(file_type="glb"))
    other = GltfSet(path)
    rgba, axial_m = scene.render_rgba(view)
    assert alone[..., 3].mean() > 0.05
    assert np.array_equal(rgba, alone) and np.array_equal(axial_m, alone_m, equal_nan=True)
    assert not np.array_equal(other.render_rgba(view)[0], alone)
    assert other.renderer and other.renderer == scene.renderer  # asked of the set's own context
    other.close()


def test_a_draco_compressed_set_renders_as_the_plain_one(scene, tmp_path):
    # Web exports (Sketchfab, Blender's "compression", gltf-pipeline) compress meshes with Draco:
    # trimesh loaded them with every vertex at 0 and said so only in a log, and the set rendered empty.
    from guangying.sets.gltf import GltfSet

    path = tmp_path / "draco.glb"
    path.write_bytes(trimesh.Scene(_boxes()).export(file_type="glb", extension_draco=True))
    assert b"KHR_draco_mesh_compression" in path.read_bytes()[:4000]
    pose = CameraPose(z_m=2.0)
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    plain, _ = scene.render_rgba(SetView(pose, k, W, H))
    draco, _ = GltfSet(path).render_rgba(SetView(pose, k, W, H))
    assert plain[..., 0].sum() > 100
    # Draco quantises vertex positions: an edge may move across one MSAA sample point, nothing more
    differs = np.abs(draco - plain).max(axis=-1) > 0.02
    assert differs.sum() <= 3 and np.abs(draco - plain).mean() < 1e-4


def test_a_set_needing_an_extension_nobody_here_reads_is_refused(tmp_path):
    from guangying.base.errors import InputFormatError
    from guangying.sets.gltf import GltfSet

    box = trimesh.creation.box(extents=(1, 1, 1))
    path = tmp_path / "packed.gltf"
    gltf = trimesh.Scene([box]).export(file_type="gltf")
    tree = json.loads(gltf["model.gltf"])
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["EXT_meshopt_compression"]  # gltfpack -cc
    path.write_text(json.dumps(tree))
    for name, data in gltf.items():
        if name != "model.gltf":
            (tmp_path / name).write_bytes(data)
    with pytest.raises(InputFormatError, match=r"packed\.gltf needs glTF extension\(s\) EXT_meshopt_comp"):
        GltfSet(path)


def test_textures_are_srgb_and_meshes_sharing_an_atlas_share_its_upload(tmp_path):
    # A set's objects share one texture atlas: each used to get its own float32 copy (a 60-object
    # set on one 2048² atlas: 34 s and 6.7 GiB to load; now 0.2 s and 0.5 GiB).
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    quadrants = np.array([[[200, 40, 40], [40, 200, 40]], [[40, 40, 200], [128, 128, 128]]], np.uint8)
    atlas = Image.fromarray(np.repeat(np.repeat(quadrants, 64, axis=0), 64, axis=1), "RGB")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=atlas)
    quad = trimesh.Trimesh(vertices=[[-2, -1.125, -3], [2, -1.125, -3], [2, 1.125, -3], [-2, 1.125, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    quad.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    props = []
    for i in range(12):
        box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
        box.apply_translation((-1.8 + 0.3 * i, 0.9, -6))
        uv = np.full((len(box.vertices), 2), 0.25)
        box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        props.append(box)
    path = tmp_path / "room.glb"
    path.write_bytes(trimesh.Scene([quad, *props]).export(file_type="glb"))
    room = GltfSet(path)
    assert len({id(draw.textures[0]) for draw in room._draws}) == 1
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    rgba, _ = room.render_rgba(SetView(CameraPose(), k, W, H))
    # the quad fills the frame: its top-left quarter shows the atlas's top-left block, and so on (glTF's
    # texture origin is the picture's top-left; the set was drawn upside down)
    for (row, col), y, x in [((0, 0), H // 4, W // 4), ((0, 1), H // 4, 3 * W // 4),
                             ((1, 0), 3 * H // 4, W // 4), ((1, 1), 3 * H // 4, 3 * W // 4)]:
        expected = srgb_to_linear(quadrants[row, col].astype(np.float32) / 255)
        np.testing.assert_allclose(rgba[y, x, :3], expected, atol=0.004)


@pytest.mark.parametrize("mode", ["OPAQUE", "MASK", "BLEND"])
def test_alpha_modes_of_a_textured_card(tmp_path, mode):
    # A card in front of a red wall, its RGBA texture clear on the left half and 40 % on the right:
    # OPAQUE ignores alpha (it punched holes through the wall), MASK cuts the clear half out (a leaf,
    # a fence: it hid the wall), BLEND lays the card over the wall.
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    texels = np.zeros((64, 64, 4), np.uint8)
    texels[..., :3] = (40, 40, 220)
    texels[:, 32:, 3] = 102
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texels, "RGBA"),
                                                   alphaMode=mode, alphaCutoff=0.3)
    card = trimesh.Trimesh(vertices=[[-2, -1.5, -3], [2, -1.5, -3], [2, 1.5, -3], [-2, 1.5, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    card.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    wall = trimesh.creation.box(extents=(20, 20, 0.1))
    wall.apply_translation((0, 0, -8))
    wall.visual.face_colors = [255, 0, 0, 255]
    path = tmp_path / "card.glb"
    path.write_bytes(trimesh.Scene([wall, card]).export(file_type="glb"))
    rgba, _ = GltfSet(path).render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    left, right = rgba[H // 2, W // 4], rgba[H // 2, 3 * W // 4]
    blue = float(srgb_to_linear(np.float32(220 / 255)))
    if mode == "OPAQUE":
        assert left[3] == right[3] == pytest.approx(1.0) and left[2] == pytest.approx(blue, abs=0.01)
    elif mode == "MASK":  # clear half cut out (the wall shows), 40 % half above the cutoff: solid card
        np.testing.assert_allclose(left, [1, 0, 0, 1], atol=0.01)
        assert right[2] == pytest.approx(blue, abs=0.01) and right[0] < 0.05 and right[3] == 1.0
    else:  # clear half: the wall alone; 40 % half: 0.4 card over 0.6 wall
        np.testing.assert_allclose(left, [1, 0, 0, 1], atol=0.01)
        np.testing.assert_allclose(right[:3], [0.6 + 0.4 * 0.021, 0.4 * 0.021, 0.4 * blue], atol=0.01)


def test_an_emissive_sign_shows_its_own_light(tmp_path):
    # A neon sign: a black base colour lit by its emissive texture × factor. Drawn from the base colour
    # alone, every sign, screen and lit window of a set came out black.
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    glow = np.zeros((32, 64, 3), np.uint8)
    glow[:, :32] = 255  # the left half lit, the right half dark
    material = trimesh.visual.material.PBRMaterial(
        baseColorFactor=[0, 0, 0, 255], emissiveFactor=[1.0, 0.5, 0.2],
        emissiveTexture=Image.fromarray(glow, "RGB"), baseColorTexture=Image.new("RGB", (4, 4), (0, 0, 0)))
    sign = trimesh.Trimesh(vertices=[[-2, -1.5, -3], [2, -1.5, -3], [2, 1.5, -3], [-2, 1.5, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    sign.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    path = tmp_path / "sign.glb"
    path.write_bytes(trimesh.Scene([sign]).export(file_type="glb"))
    view = SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H)
    rgba, _ = GltfSet(path).render_rgba(view)
    np.testing.assert_allclose(rgba[H // 2, W // 4], [1.0, 0.5, 0.2, 1.0], atol=0.01)
    np.testing.assert_allclose(rgba[H // 2, 3 * W // 4], [0.0, 0.0, 0.0, 1.0], atol=0.01)

    # Blender writes an emission strength above 1 as KHR_materials_emissive_strength, which trimesh
    # drops: a sign at strength 4 came out a quarter as bright.
    material.name = "neon"
    tree, binary = _glb_parts(trimesh.Scene([sign]).export(file_type="glb"))
    assert [m.get("name") for m in tree["materials"]] == ["neon"]
    tree["materials"][0]["extensions"] = {"KHR_materials_emissive_strength": {"emissiveStrength": 4.0}}
    tree["extensionsUsed"] = [*tree.get("extensionsUsed", []), "KHR_materials_emissive_strength"]
    rgba, _ = GltfSet(_write(tmp_path / "bright.glb", _glb(tree, binary))).render_rgba(view)
    np.testing.assert_allclose(rgba[H // 2, W // 4], [4.0, 2.0, 0.8, 1.0], atol=0.04)  # linear light
    np.testing.assert_allclose(rgba[H // 2, 3 * W // 4], [0.0, 0.0, 0.0, 1.0], atol=0.01)


def _glb_parts(glb: bytes) -> tuple[dict, bytearray]:
    """A GLB's JSON and its binary chunk (the 12-byte header, then the two chunks)."""
    json_len = int.from_bytes(glb[12:16], "little")
    return json.loads(glb[20:20 + json_len]), bytearray(glb[20 + json_len + 8:])


def _glb(tree: dict, binary: bytes) -> bytes:
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    body = (len(text).to_bytes(4, "little") + b"JSON" + text
            + len(binary).to_bytes(4, "little") + b"BIN\x00" + bytes(binary))
    return b"glTF" + (2).to_bytes(4, "little") + (12 + len(body)).to_bytes(4, "little") + body


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_damaged_set_is_refused_with_what_is_wrong(tmp_path):
    """A set damaged in a copy or by an exporter's bug: a triangle naming a vertex past the end, or a
    texture whose compressed data is broken. Each crashed the load with numpy's IndexError or PIL's
    OSError ("This is a bug"); now each is refused with what is damaged."""
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    card = trimesh.Trimesh(vertices=[[-2, -1.5, -3], [2, -1.5, -3], [2, 1.5, -3], [-2, 1.5, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    noise = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # compresses poorly
    card.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(noise)))
    tree, binary = _glb_parts(trimesh.Scene([card]).export(file_type="glb"))
    GltfSet(_write(tmp_path / "intact.glb", _glb(tree, binary)))  # the intact set loads

    image = tree["bufferViews"][tree["images"][0]["bufferView"]]
    middle = image.get("byteOffset", 0) + image["byteLength"] // 2
    damaged = bytearray(binary)
    damaged[middle:middle + 64] = bytes(64)
    with pytest.raises(InputFormatError, match="has a damaged texture"):
        GltfSet(_write(tmp_path / "texture.glb", _glb(tree, damaged)))

    indices = tree["accessors"][tree["meshes"][0]["primitives"][0]["indices"]]
    view = tree["bufferViews"][indices["bufferView"]]
    at = view.get("byteOffset", 0) + indices.get("byteOffset", 0)
    damaged = bytearray(binary)
    damaged[at:at + 2] = (200).to_bytes(2, "little")  # the first index: UNSIGNED_SHORT (4 vertices)
    with pytest.raises(InputFormatError, match=r"is damaged: in its mesh .*names vertex 200 of 4"):
        GltfSet(_write(tmp_path / "index.glb", _glb(tree, damaged)))

    # a .gltf cut short in a copy: "cannot load 3D set X: model.gltf"
    text = json.dumps(tree, indent=1).encode()
    with pytest.raises(InputFormatError, match=r"glTF JSON is damaged at line \d+ column \d+, .*cut short"):
        GltfSet(_write(tmp_path / "cut.gltf", text[:500]))
    with pytest.raises(InputFormatError, match="is no glTF: its JSON is a list"):  # 'list' object has no …
        GltfSet(_write(tmp_path / "list.gltf", b"[1, 2]"))
    inner = b'{"asset": {"version": "2.0"}, "nodes": [[]], "scenes": [{"nodes": [0]}]}'  # a list as a node
    with pytest.raises(InputFormatError, match="is damaged or does not hold what glTF 2.0 asks for"):
        GltfSet(_write(tmp_path / "node.gltf", inner))


@pytest.mark.parametrize(("nodes", "scene_nodes", "said"), [
    ([{"mesh": 3}], [0], "node 0 names mesh 3, and the file has 1 mesh"),  # was "has no triangle meshes"
    ([{"mesh": 0}, {"mesh": 2}], [0, 1], "node 1 names mesh 2"),  # was drawn without node 1, unsaid
    ([{"mesh": 0, "children": [0]}], [0], "node 0 is a child of itself"),  # these three loaded
    ([{"mesh": 0, "children": [1]}, {"children": [0]}], [0], "is its own ancestor"),
    ([{"mesh": 0, "children": [2]}, {"children": [2]}, {"mesh": 0}], [0, 1],
     "node 2 is a child of nodes 0 and 1"),
    ([{"mesh": 0, "children": [4]}], [0], "node 0 names child 4, and the file has 1 node"),
    ([{"mesh": 0}], [0, 5], "a scene names node 5"),
    ([{"mesh": 0, "children": 1}, {"mesh": 0}], [0], "node 0's children are 1, not a list"),  # a traceback
    ([{"children": [1]}, {"mesh": 0}], [0, 1], "names node 1 as a root, and it is a child of node 0"),
    ([{"mesh": 0}], [0, 0], "names node 0 as a root, and it is listed twice"),  # these two drew it once
])
def test_a_node_tree_that_is_no_tree_is_refused_by_node(tmp_path, nodes, scene_nodes, said):
    from guangying.sets.gltf import GltfSet

    tree = json.loads(trimesh.Scene(_boxes()[:1]).export(file_type="gltf", embed_buffers=True)["model.gltf"])
    GltfSet(_write(tmp_path / "intact.gltf", json.dumps(tree).encode()))
    tree["nodes"], tree["scenes"] = nodes, [{"nodes": scene_nodes}]
    with pytest.raises(InputFormatError, match=f"is damaged: .*{said}"):
        GltfSet(_write(tmp_path / "nodes.gltf", json.dumps(tree).encode()))


def test_a_tiled_texture_follows_its_texture_transform(tmp_path):
    """A floor or wall whose texture repeats (Blender's Mapping node, exported as KHR_texture_transform,
    which trimesh drops): scaled 2× and offset by half a texture across, each quarter of the frame
    shows the whole texture, shifted. Before, the texture was stretched once over the quad, with a
    warning."""
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    quadrants = np.array([[[200, 40, 40], [40, 200, 40]], [[40, 40, 200], [128, 128, 128]]], np.uint8)
    texture = Image.fromarray(np.repeat(np.repeat(quadrants, 64, axis=0), 64, axis=1), "RGB")
    material = trimesh.visual.material.PBRMaterial(name="tiles", baseColorTexture=texture)
    quad = trimesh.Trimesh(vertices=[[-2, -1.125, -3], [2, -1.125, -3], [2, 1.125, -3], [-2, 1.125, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    quad.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    tree, binary = _glb_parts(trimesh.Scene([quad]).export(file_type="glb"))
    base = tree["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]
    base["extensions"] = {"KHR_texture_transform": {"offset": [0.5, 0.0], "scale": [2.0, 2.0]}}
    tree["extensionsUsed"] = ["KHR_texture_transform"]
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    tiles = GltfSet(_write(tmp_path / "tiles.glb", _glb(tree, binary)))
    rgba, _ = tiles.render_rgba(SetView(CameraPose(), k, W, H))
    # Where each pixel's ray meets the quad (4 × 2.25 m at 3 m), in glTF UVs from the texture's
    # top-left, then moved: u' = 2u + 0.5, v' = 2v, repeated. Checked away from the quarters' edges.
    checked = 0
    for y in range(4, H, 8):
        for x in range(4, W, 8):
            u = (3 * (x - k[0, 2]) / k[0, 0] + 2) / 4
            v = (1.125 - 3 * (k[1, 2] - y) / k[1, 1]) / 2.25
            moved_u, moved_v = (2 * u + 0.5) % 1, (2 * v) % 1
            if min(abs(moved - edge) for moved in (moved_u, moved_v) for edge in (0, 0.5, 1)) < 0.08:
                continue
            block = quadrants[int(moved_v >= 0.5), int(moved_u >= 0.5)]
            expected = srgb_to_linear(block.astype(np.float32) / 255)
            np.testing.assert_allclose(rgba[y, x, :3], expected, atol=0.004, err_msg=f"at ({y}, {x})")
            checked += 1
    assert checked > 300

    del tree["materials"][0]["name"]  # an unnamed material cannot be matched to trimesh's: said
    with pytest.warns(UserWarning, match="no name of their own"):
        GltfSet(_write(tmp_path / "unnamed.glb", _glb(tree, binary)))


def test_texture_transform_matrix_follows_the_specification_example():
    """KHR_texture_transform's own example: offset (0, 1), a quarter turn and half scale show the
    lower-left quadrant of the picture turned 90° clockwise."""
    from guangying.sets.gltf import _texture_transform

    example = {"offset": [0, 1], "rotation": np.pi / 2, "scale": [0.5, 0.5]}
    matrix = np.asarray(_texture_transform({"extensions": {"KHR_texture_transform": example}}))
    corners = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], np.float64)
    np.testing.assert_allclose(corners @ matrix.T, [[0, 1], [0, 0.5], [0.5, 0.5], [0.5, 1]], atol=1e-12)
    assert _texture_transform({"extensions": {"KHR_texture_transform": {"scale": ["x", 1]}}}) is None


def test_blended_panes_are_laid_far_to_near_from_the_camera(tmp_path):
    """Two half-transparent panes, red at 4 m and blue at 6 m, the near one first in the file: seen
    through both, the red lies over the blue (0.5 red + 0.25 blue). Drawn in file order, the far pane
    came out in front; from the other side the order turns round."""
    from guangying.sets.gltf import GltfSet

    def pane(z: float, colour: tuple[int, int, int]):  # type: ignore[no-untyped-def]
        card = trimesh.Trimesh(vertices=[[-3, -2, z], [3, -2, z], [3, 2, z], [-3, 2, z]],
                               faces=[[0, 1, 2], [0, 2, 3]], process=False)
        card.visual = trimesh.visual.TextureVisuals(
            uv=np.zeros((4, 2)), material=trimesh.visual.material.PBRMaterial(
                baseColorFactor=[*colour, 128], alphaMode="BLEND", doubleSided=True))  # seen from both sides
        return card

    path = tmp_path / "panes.glb"
    path.write_bytes(trimesh.Scene([pane(-4, (255, 0, 0)), pane(-6, (0, 0, 255))]).export(file_type="glb"))
    panes = GltfSet(path)
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    front, _ = panes.render_rgba(SetView(CameraPose(), k, W, H))
    np.testing.assert_allclose(front[H // 2, W // 2], [0.502, 0, 0.249, 0.749], atol=0.01)
    behind, _ = panes.render_rgba(SetView(CameraPose(pan_deg=180, z_m=-10), k, W, H))
    np.testing.assert_allclose(behind[H // 2, W // 2], [0.249, 0, 0.502, 0.749], atol=0.01)


def test_vertex_colours_tint_a_textured_mesh(tmp_path):
    # Blender exports baked shading or a tint as COLOR_0 beside the texture: trimesh keeps it aside,
    # and the set drew the texture alone (white where the colours say half).
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    wall = trimesh.creation.box(extents=(4, 4, 0.1))
    wall.apply_translation((0, 0, -6))
    white = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.new("RGB", (4, 4), (255, 255, 255)),
                                                baseColorFactor=[255, 255, 255, 255])
    wall.visual = trimesh.visual.TextureVisuals(uv=np.full((len(wall.vertices), 2), 0.5), material=white)
    wall.visual.vertex_attributes["color"] = np.tile(np.array([128, 64, 255, 255], np.uint8),
                                                     (len(wall.vertices), 1))
    path = tmp_path / "tinted.glb"
    path.write_bytes(trimesh.Scene([wall]).export(file_type="glb"))
    scene = GltfSet(path)
    rgba, _ = scene.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    scene.close()
    np.testing.assert_allclose(rgba[H // 2, W // 2], [128 / 255, 64 / 255, 1.0, 1.0], atol=0.01)


def test_a_gltf_missing_its_texture_or_buffer_says_which_file(tmp_path):
    # A .gltf copied without the files beside it: a missing texture drew the set white without a
    # word, and a missing buffer was said as "cannot load 3D set …: scene.bin".
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    wall = trimesh.creation.box(extents=(4, 4, 0.1))
    wall.visual = trimesh.visual.TextureVisuals(uv=np.full((len(wall.vertices), 2), 0.5),
                                                image=Image.new("RGB", (4, 4), (200, 30, 30)))
    files = trimesh.Scene([wall]).export(file_type="gltf")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tree = json.loads(files["model.gltf"])
    tree["images"] = [{"uri": "wall%20paint.png"}]  # as an exporter writes a texture beside the file
    (tmp_path / "model.gltf").write_text(json.dumps(tree))
    Image.new("RGB", (4, 4), (200, 30, 30)).save(tmp_path / "wall paint.png")
    GltfSet(tmp_path / "model.gltf").close()  # whole, it loads
    (tmp_path / "wall paint.png").unlink()
    with pytest.raises(InputFormatError, match=r"needs wall%20paint\.png \(a texture\), which is not at"):
        GltfSet(tmp_path / "model.gltf")
    (tmp_path / "gltf_buffer_0.bin").unlink()
    with pytest.raises(InputFormatError, match=r"needs gltf_buffer_0\.bin \(its geometry\)"):
        GltfSet(tmp_path / "model.gltf")
    with pytest.raises(InputFormatError, match="does not exist"):
        GltfSet(tmp_path / "nowhere.glb")


def test_a_sky_dome_past_20_km_is_drawn(tmp_path):
    # A fixed 20 km far plane cut a 30 km sky sphere away: the set came out black, without a word.
    from guangying.sets.gltf import GltfSet

    sky = trimesh.creation.icosphere(subdivisions=2, radius=30_000.0)
    sky.invert()  # facing inwards, as a sky dome is made (glTF draws one side only)
    sky.visual.face_colors = [90, 140, 230, 255]
    path = tmp_path / "sky.glb"
    path.write_bytes(trimesh.Scene([sky]).export(file_type="glb"))
    scene = GltfSet(path)
    rgba, axial_m = scene.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    scene.close()
    assert rgba[..., 3].min() > 0.99 and 25_000 < float(np.nanmedian(axial_m)) < 30_001


def test_a_set_loaded_in_one_thread_renders_in_others(tmp_path):
    # EGL binds a context to one thread: a set loaded by a script's main thread and first rendered by
    # a worker thread failed with "cannot create renderbuffer"; two threads at once could not share it.
    from concurrent.futures import ThreadPoolExecutor

    from guangying.sets.gltf import GltfSet

    path = tmp_path / "boxes.glb"
    path.write_bytes(trimesh.Scene(_boxes()).export(file_type="glb"))
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    views = [SetView(CameraPose(pan_deg=pan, z_m=2.0), k, W, H) for pan in (-4.0, 0.0, 4.0, 8.0)]
    loaded_here = GltfSet(path)
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(loaded_here.render_rgba, views * 3))
    serial = [loaded_here.render_rgba(view) for view in views]
    loaded_here.close()
    for i, (rgba, axial_m) in enumerate(threaded):
        assert rgba[..., 3].mean() > 0.05
        assert np.array_equal(rgba, serial[i % 4][0])
        assert np.array_equal(axial_m, serial[i % 4][1], equal_nan=True)
    assert not np.array_equal(serial[0][0], serial[2][0])  # the views differ


_RED, _BLUE = (200, 40, 40), (40, 40, 200)


@pytest.mark.parametrize(("wrap", "halves"), [
    (10497, "RB RB RB"),  # REPEAT, glTF's default
    (33648, "BR RB BR"),  # MIRRORED_REPEAT: every other tile turned over
    (33071, "RR RB BB"),  # CLAMP_TO_EDGE: the edge texels carried on (a decal, a sign on a wall)
])
def test_a_texture_wraps_as_its_sampler_says(tmp_path, wrap, halves):
    # trimesh drops glTF samplers: every texture repeated, so a decal clamped to its edges showed
    # copies of itself around it and a mirrored tile jumped at every seam.
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    texture = Image.fromarray(np.repeat(np.array([[_RED, _RED, _BLUE, _BLUE]], np.uint8), 4, axis=0), "RGB")
    material = trimesh.visual.material.PBRMaterial(name="decal", baseColorTexture=texture)
    # 2.4 m wide at 3 m, its u running from -1 to 2: three tiles across the middle of the frame
    quad = trimesh.Trimesh(vertices=[[-1.2, -0.5, -3], [1.2, -0.5, -3], [1.2, 0.5, -3], [-1.2, 0.5, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    quad.visual = trimesh.visual.TextureVisuals(uv=[[-1, 0], [2, 0], [2, 1], [-1, 1]], material=material)
    tree, binary = _glb_parts(trimesh.Scene([quad]).export(file_type="glb"))
    tree["samplers"] = [{"wrapS": wrap, "wrapT": 10497}]
    tree["textures"][0]["sampler"] = 0
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    decal = GltfSet(_write(tmp_path / "decal.glb", _glb(tree, binary)))
    rgba, _ = decal.render_rgba(SetView(CameraPose(), k, W, H))
    for i, half in enumerate(halves.replace(" ", "")):  # the middle of each half tile, u = -0.75 … 1.75
        x_m = -1.2 + 2.4 * (i + 0.5) / 6
        x = int(round(k[0, 0] * x_m / 3 + k[0, 2] - 0.5))
        expected = srgb_to_linear(np.array(_RED if half == "R" else _BLUE, np.float32) / 255)
        np.testing.assert_allclose(rgba[H // 2, x, :3], expected, atol=0.004, err_msg=f"half tile {i}")


def test_a_nearest_sampler_keeps_texels_sharp(tmp_path):
    # pixel art, a low-resolution screen graphic: glTF's NEAREST magnification was drawn blended
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    texture = Image.fromarray(np.array([[_RED, _BLUE]], np.uint8), "RGB")
    material = trimesh.visual.material.PBRMaterial(name="pixels", baseColorTexture=texture)
    quad = trimesh.Trimesh(vertices=[[-1.2, -0.5, -3], [1.2, -0.5, -3], [1.2, 0.5, -3], [-1.2, 0.5, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    quad.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    tree, binary = _glb_parts(trimesh.Scene([quad]).export(file_type="glb"))
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    view = SetView(CameraPose(), k, W, H)
    x = int(round(k[0, 0] * (-1.2 + 2.4 * 0.45) / 3 + k[0, 2] - 0.5))  # u = 0.45: 60 % red, 40 % blue
    red = srgb_to_linear(np.array(_RED, np.float32) / 255)
    samples = {}
    nearest = {"magFilter": 9728, "minFilter": 9728}
    for name, sampler in (("linear", {"magFilter": 9729}), ("nearest", nearest)):
        tree["samplers"] = [sampler]
        tree["textures"][0]["sampler"] = 0
        samples[name] = GltfSet(_write(tmp_path / f"{name}.glb", _glb(tree, binary))).render_rgba(view)[0]
    np.testing.assert_allclose(samples["nearest"][H // 2, x, :3], red, atol=0.004)
    assert abs(samples["linear"][H // 2, x, 2] - red[2]) > 0.1  # blended with the blue texel


@pytest.mark.parametrize(("near_wall", "seen"), [
    ("single-sided", "back wall"),  # its back to the camera: not drawn
    ("double-sided", "near wall"),
    ("single-sided, mirrored", "back wall"),  # a negative scale turns the winding, not the facing
])
def test_a_single_sided_wall_is_not_drawn_from_behind(tmp_path, near_wall, seen):
    # glTF's doubleSided false (its default) was ignored: a cut-away room's near wall, facing into the
    # room, hid the whole room from a camera outside it.
    from guangying.sets.gltf import GltfSet

    def wall(z: float, rgba: list[int], facing_camera: bool, double_sided: bool):  # type: ignore[no-untyped-def]
        faces = [[0, 1, 2], [0, 2, 3]] if facing_camera else [[0, 2, 1], [0, 3, 2]]
        quad = trimesh.Trimesh(vertices=[[-3, -2, z], [3, -2, z], [3, 2, z], [-3, 2, z]], faces=faces,
                               process=False)
        material = trimesh.visual.material.PBRMaterial(baseColorFactor=rgba, doubleSided=double_sided)
        quad.visual = trimesh.visual.TextureVisuals(uv=np.zeros((4, 2)), material=material)
        return quad

    scene = trimesh.Scene()
    scene.add_geometry(wall(-6, [0, 255, 0, 255], True, False), geom_name="back")
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0]) if "mirrored" in near_wall else np.eye(4)
    scene.add_geometry(wall(-3, [128, 128, 128, 255], False, near_wall == "double-sided"), geom_name="near",
                       transform=mirror)
    path = tmp_path / "room.glb"
    path.write_bytes(scene.export(file_type="glb"))
    view = SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H)
    rgba, axial_m = GltfSet(path).render_rgba(view)
    expected = ([0.0, 1.0, 0.0], 6.0) if seen == "back wall" else ([128 / 255] * 3, 3.0)  # factors are linear
    np.testing.assert_allclose(rgba[H // 2, W // 2, :3], expected[0], atol=0.01)
    assert axial_m[H // 2, W // 2] == pytest.approx(expected[1], abs=0.01)


def _textured_card(texture, name: str = "card", emissive=None):  # type: ignore[no-untyped-def]
    """A 2 × 2 m card at 3 m facing the camera, its uv across it."""
    glow = None if emissive is None else [1.0, 1.0, 1.0]
    material = trimesh.visual.material.PBRMaterial(name=name, baseColorTexture=texture,
                                                   emissiveTexture=emissive, emissiveFactor=glow)
    card = trimesh.Trimesh(vertices=[[-1, -1, -3], [1, -1, -3], [1, 1, -3], [-1, 1, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    card.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    return card


def _centre_rgb(path) -> np.ndarray:  # type: ignore[no-untyped-def]
    from guangying.sets.gltf import GltfSet

    rgba, _ = GltfSet(path).render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    return rgba[H // 2, W // 2, :3]


def test_a_gltfs_files_named_with_spaces_are_found_by_their_encoded_uris(tmp_path):
    # glTF percent-encodes its URIs (Blender writes "My%20Set.bin"); trimesh looked them up as written:
    # a texture named with a space drew white, a buffer was refused by its encoded name.
    from PIL import Image

    files = trimesh.Scene([_textured_card(Image.new("RGB", (4, 4), (255, 128, 0)))]).export(file_type="gltf")
    tree = json.loads(files.pop("model.gltf"))
    for n, buffer in enumerate(tree["buffers"]):
        (tmp_path / f"My Set {n}.bin").write_bytes(files[buffer["uri"]])
        buffer["uri"] = f"My%20Set%20{n}.bin"
    (tmp_path / "textures").mkdir()
    Image.new("RGB", (4, 4), (255, 128, 0)).save(tmp_path / "textures" / "灯 tex.png")
    tree["images"] = [{"uri": "textures/%E7%81%AF%20tex.png"}]
    (tmp_path / "My Set.gltf").write_text(json.dumps(tree))
    orange = srgb_to_linear(np.float32([1, 128 / 255, 0]))
    np.testing.assert_allclose(_centre_rgb(tmp_path / "My Set.gltf"), orange, atol=0.004)


def test_an_emissive_texture_without_a_base_colour_texture_is_mapped_across_the_surface(tmp_path):
    # a sign at night: black base, its letters in the emissive texture. Its uv were left at 0 without a
    # base-colour texture, so one texel lit the whole surface.
    from PIL import Image

    glow = Image.fromarray(np.array([[[255, 0, 0]] * 8 + [[0, 0, 255]] * 8] * 4, np.uint8), "RGB")
    path = tmp_path / "sign.glb"
    sign = _textured_card(None, "sign", emissive=glow)
    sign.visual.material.baseColorFactor = [0, 0, 0, 255]  # dark but for its letters
    path.write_bytes(trimesh.Scene([sign]).export(file_type="glb"))
    from guangying.sets.gltf import GltfSet

    rgba, _ = GltfSet(path).render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    k = intrinsics_matrix(28.0, SENSOR_MM, W, H)
    left, right = (int(k[0, 0] * x / 3 + k[0, 2]) for x in (-0.5, 0.5))
    np.testing.assert_allclose(rgba[H // 2, left, :3], [1, 0, 0], atol=0.01)
    np.testing.assert_allclose(rgba[H // 2, right, :3], [0, 0, 1], atol=0.01)


def test_a_16_bit_grey_texture_is_drawn_at_its_grey(tmp_path):
    # PIL's RGBA of a 16-bit grey picture clipped every value to 255: the texture drew white
    from PIL import Image

    grey = Image.fromarray(np.full((4, 4), 32768, np.uint16))
    assert grey.mode.startswith("I")
    path = tmp_path / "grey.glb"
    path.write_bytes(trimesh.Scene([_textured_card(grey)]).export(file_type="glb"))
    np.testing.assert_allclose(_centre_rgb(path), srgb_to_linear(np.float32([0.5] * 3)), atol=0.004)


def test_what_trimesh_would_drop_is_refused_or_said(tmp_path):
    from PIL import Image

    from guangying.sets.gltf import GltfSet

    card = _textured_card(Image.new("RGB", (4, 4), "red"))
    tree, binary = _glb_parts(trimesh.Scene([card]).export(file_type="glb"))
    # the extensions this product reads, required by the file: read, not refused
    transform = ["KHR_texture_transform"]
    required = dict(tree, extensionsUsed=transform, extensionsRequired=transform)
    GltfSet(_write(tmp_path / "required.glb", _glb(required, binary)))
    quantized = dict(tree, extensionsRequired=["KHR_mesh_quantization"])
    with pytest.raises(InputFormatError, match="gltfpack -noq"):
        GltfSet(_write(tmp_path / "quantized.glb", _glb(quantized, binary)))
    # a sparse accessor's substitutions were dropped, the mesh drawn where its base data puts it
    sparse = json.loads(json.dumps(tree))
    position = sparse["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    sparse["accessors"][position]["sparse"] = {
        "count": 1, "indices": {"bufferView": 0, "componentType": 5125}, "values": {"bufferView": 1}}
    with pytest.raises(InputFormatError, match="sparse accessors"):
        GltfSet(_write(tmp_path / "sparse.glb", _glb(sparse, binary)))
    # lines beside the triangles, and a texture through a second uv set: said
    lines = json.loads(json.dumps(tree))
    lines["meshes"][0]["primitives"].append(dict(lines["meshes"][0]["primitives"][0], mode=1))
    lines["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["texCoord"] = 1
    with pytest.warns(UserWarning) as said:
        GltfSet(_write(tmp_path / "lines.glb", _glb(lines, binary)))
    messages = " ".join(str(w.message) for w in said)
    assert "drawn as lines" in messages and "second UV set" in messages
    # Blender's "Include: Cameras": the file's camera is not the view, the track is
    with_camera = dict(tree, cameras=[{"type": "perspective", "name": "Shot cam",
                                       "perspective": {"yfov": 0.6, "znear": 0.1}}])
    with pytest.warns(UserWarning, match=r"camera 'Shot cam', which is not used: the set is seen "
                                         r"through the camera track"):
        GltfSet(_write(tmp_path / "camera.glb", _glb(with_camera, binary)))


def test_a_closed_set_and_an_impossible_frame_are_refused_by_name(tmp_path):
    from guangying.base.errors import GuangyingError
    from guangying.sets.gltf import GltfSet

    path = tmp_path / "boxes.glb"
    path.write_bytes(trimesh.Scene(_boxes()).export(file_type="glb"))
    boxes = GltfSet(path)
    with pytest.raises(GuangyingError, match="at most"):  # a moderngl.Error before
        boxes.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), 0, H))
    boxes.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))  # still draws
    boxes.close()
    boxes.close()  # a second close does nothing
    with pytest.raises(GuangyingError, match="was closed"):  # a RuntimeError of the thread pool before
        boxes.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))


def test_a_dark_base_colour_factor_keeps_its_exact_value(tmp_path):
    # trimesh keeps baseColorFactor as 8 bits of linear light: a night set's 0.001 drew 0, its 0.003
    # drew 0.0039 (sRGB 0.039 → 0.050), crushing dark blockout materials.
    from guangying.sets.gltf import GltfSet

    card = trimesh.Trimesh(vertices=[[-1, -1, -3], [1, -1, -3], [1, 1, -3], [-1, 1, -3]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    card.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(name="night"))
    tree, binary = _glb_parts(trimesh.Scene([card]).export(file_type="glb"))
    tree["materials"][0]["pbrMetallicRoughness"] = {"baseColorFactor": [0.001, 0.0005, 0.003, 1.0]}
    night = GltfSet(_write(tmp_path / "night.glb", _glb(tree, binary)))
    rgba, _ = night.render_rgba(SetView(CameraPose(), intrinsics_matrix(28.0, SENSOR_MM, W, H), W, H))
    np.testing.assert_allclose(rgba[H // 2, W // 2], [0.001, 0.0005, 0.003, 1.0], rtol=1e-4, atol=1e-7)
