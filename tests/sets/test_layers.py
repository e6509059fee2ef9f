"""2.5D layer sets: parallax from camera translation, depth maps, each layer's own depth of field."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from guangying.base.errors import InputFormatError
from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.media import open_writer
from guangying.sets.layers import LayeredSet, LayerSpec, read_layer_specs
from guangying.sets.optics import SetOptics
from guangying.sets.view import SetView

W, H, SENSOR_MM = 320, 180, 24.89


def _write_rgba(path, rgb_srgb, alpha=None):
    h, w = rgb_srgb.shape[:2]
    content = "rgb" if alpha is None else "rgba"
    with open_writer(path, fps=Fraction(24), width=w, height=h, content=content) as writer:
        writer.write(rgb_srgb, alpha=alpha, transfer="srgb")


def _dot_picture(w, h, centre_px, radius_px, colour, transparent):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    dot = ((xx - centre_px[0]) ** 2 + (yy - centre_px[1]) ** 2 <= radius_px**2).astype(np.float32)
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[...] = np.asarray(colour, np.float32) * dot[..., None]
    alpha = dot if transparent else None
    return rgb, alpha


@pytest.fixture(scope="module")
def two_layer_set(tmp_path_factory):
    """Far layer: 40 m wide, 20 m behind the screen, red dot at world (0, 0, −20).
    Near layer: 4 m wide, 2 m behind the screen, transparent but for a green dot at (0.5, 0.2, −2)."""
    folder = tmp_path_factory.mktemp("layers")
    far_rgb, _ = _dot_picture(400, 200, (200, 100), 3.0, (1, 0, 0), False)
    _write_rgba(folder / "far.png", far_rgb)
    # near: 400 px over 4 m = 100 px/m; (0.5, 0.2) m from the centre → (250, 100 − 20) px
    near_rgb, near_alpha = _dot_picture(400, 200, (250, 80), 4.0, (0, 1, 0), True)
    _write_rgba(folder / "near.png", near_rgb, near_alpha)
    (folder / "set.yaml").write_text(
        "layers:\n"
        "  - {image: near.png, distance_m: 2, width_m: 4}\n"
        "  - {image: far.png, distance_m: 20, width_m: 40}\n"
    )
    return folder / "set.yaml"


def _centroid(channel):
    v, u = np.mgrid[0 : channel.shape[0], 0 : channel.shape[1]]
    weight = np.clip(channel, 0, None)  # the pictures are black around their dots
    assert weight.sum() > 0
    cu, cv = (u * weight).sum() / weight.sum(), (v * weight).sum() / weight.sum()
    var = ((u - cu) ** 2 * weight).sum() / weight.sum()
    return float(cu), float(cv), float(var)


def test_translation_gives_parallax_as_projected(two_layer_set):
    layered = LayeredSet.from_file(two_layer_set)
    k = intrinsics_matrix(35.0, SENSOR_MM, W, H)
    far_point, near_point = np.array([[0.0, 0.0, -20.0]]), np.array([[0.5, 0.2, -2.0]])
    shifts = []
    for pose in (CameraPose(z_m=4.0), CameraPose(x_m=0.6, y_m=0.1, z_m=4.0, pan_deg=2.0)):
        rgb = layered.render(SetView(pose, k, W, H), 0)
        far_u, far_v, _ = _centroid(rgb[..., 0])
        near_u, near_v, _ = _centroid(rgb[..., 1])
        assert np.allclose((far_u, far_v), project_points_px(far_point, pose, k)[0], atol=0.3)
        assert np.allclose((near_u, near_v), project_points_px(near_point, pose, k)[0], atol=0.3)
        shifts.append((far_u, near_u))
    # Analytic parallax of a 0.6 m side step (the pan moves both alike): f·Δx/depth, 24 m vs 6 m away.
    fx = k[0, 0]
    d_far = shifts[0][0] - shifts[1][0]
    d_near = shifts[0][1] - shifts[1][1]
    pan_px = d_far - fx * 0.6 / 24.0
    assert d_near - pan_px == pytest.approx(fx * 0.6 / 6.0, rel=0.03)


def test_each_layer_is_defocused_by_its_own_circle(two_layer_set):
    layered = LayeredSet.from_file(two_layer_set)
    k = intrinsics_matrix(85.0, SENSOR_MM, W, H)
    view = SetView(CameraPose(z_m=4.0), k, W, H)
    sharp = layered.render(view, 0)
    focus_m = 6.0  # on the near layer (2 m behind the screen, camera 4 m in front)
    soft = layered.render(
        view, 0, SetOptics(f_number=1.4, focus_distance_m=focus_m, sensor_width_mm=SENSOR_MM)
    )
    # thin lens, written out: c = f²/(N(s − f))·|d − s|/d on the sensor, in pixels
    f, n, s, d = 85.0, 1.4, focus_m * 1000, 24_000.0
    coc_expected_px = f * f / (n * (s - f)) * abs(d - s) / d * W / SENSOR_MM
    _, _, var_sharp = _centroid(sharp[..., 0])
    _, _, var_soft = _centroid(soft[..., 0])
    # a uniform disc of diameter D adds D²/16 to the per-axis variance
    assert 4 * np.sqrt(var_soft - var_sharp) == pytest.approx(coc_expected_px, rel=0.12)
    _, _, var_near_sharp = _centroid(sharp[..., 1])
    _, _, var_near_soft = _centroid(soft[..., 1])
    assert var_near_soft == pytest.approx(var_near_sharp, rel=0.05)  # the layer in focus stays sharp


@pytest.mark.parametrize("grey, depth_range_m, distance_m",
                         [(0.5, "[10, 20]", 15.0), (0.8, "[20, 10]", 12.0)])
def test_depth_map_places_the_layer_pixels(tmp_path, grey, depth_range_m, distance_m):
    # A layer nominally at 5 m whose depth map says 15 m behaves like a layer at 15 m; a range given
    # far to near reads a map whose white is near (as AI depth estimators write them).
    rgb, _ = _dot_picture(200, 100, (100, 50), 3.0, (1, 1, 1), False)
    _write_rgba(tmp_path / "dot.png", rgb)
    _write_rgba(tmp_path / "depth.png", np.full((100, 200, 3), grey, np.float32))
    (tmp_path / "d.yaml").write_text(
        "layers:\n"
        "  - {image: dot.png, distance_m: 5, width_m: 10, depth: depth.png, "
        f"depth_range_m: {depth_range_m}}}\n"
    )
    k = intrinsics_matrix(35.0, SENSOR_MM, W, H)
    pose = CameraPose(x_m=1.0, z_m=3.0)
    with_depth = LayeredSet.from_file(tmp_path / "d.yaml").render(SetView(pose, k, W, H), 0)
    expected = project_points_px(np.array([[0.0, 0.0, -distance_m]]), pose, k)[0]
    u, v, _ = _centroid(with_depth[..., 0])
    assert np.allclose((u, v), expected, atol=0.5)


def test_a_depth_map_at_the_layers_own_distance_changes_nothing(tmp_path):
    # Sampled past the map's edge as nothing, a layer's border came out near the lens: drawn with texels
    # from inside the picture past the layer's edge (a bright column), and in focus on the layer a blur
    # of metres (bars in focus smeared into blobs at f/1.4).
    bars = np.zeros((100, 400, 3), np.float32)
    bars[:, (np.arange(400) // 50) % 2 == 0] = 1.0  # white bars 50 px wide, the last one black
    _write_rgba(tmp_path / "bars.png", bars)
    with open_writer(tmp_path / "at8.exr", content="rgb") as writer:
        writer.write(np.full((100, 400, 3), 8.0, np.float32), transfer="linear")
    flat, mapped = tmp_path / "flat.yaml", tmp_path / "mapped.yaml"
    flat.write_text("layers:\n  - {image: bars.png, distance_m: 8, width_m: 1.5}\n")
    mapped.write_text("layers:\n  - {image: bars.png, distance_m: 8, width_m: 1.5, depth: at8.exr}\n")
    k = intrinsics_matrix(85.0, SENSOR_MM, W, H)
    for pose in (CameraPose(), CameraPose(x_m=0.3, pan_deg=2.0)):
        view = SetView(pose, k, W, H)
        optics = SetOptics(f_number=1.4, focus_distance_m=8.0, sensor_width_mm=SENSOR_MM)
        for lens in (None, optics):
            want = LayeredSet.from_file(flat).render(view, 0, lens)
            got = LayeredSet.from_file(mapped).render(view, 0, lens)
            assert np.abs(got - want).max() < 0.02, (pose, lens)


def test_depth_maps_are_read_by_what_they_hold(tmp_path):
    # An 8-bit depth picture with no range had its grey levels taken as metres (the layer pulled to
    # within 1 m of the screen); an EXR of metres given a range was mapped again, the layer flat at its
    # far end; a float 0–1 map (Blender's mist pass) with a range was encoded as light first.
    rgb, _ = _dot_picture(200, 100, (100, 50), 3.0, (1, 1, 1), False)
    _write_rgba(tmp_path / "dot.png", rgb)
    _write_rgba(tmp_path / "grey.png", np.full((100, 200, 3), 0.5, np.float32))
    with open_writer(tmp_path / "metres.exr", content="rgb") as writer:
        writer.write(np.full((100, 200, 3), 15.0, np.float32), transfer="linear")
    with open_writer(tmp_path / "mist.exr", content="rgb") as writer:
        writer.write(np.full((100, 200, 3), 0.5, np.float32), transfer="linear")

    def layer(depth: str, extra: str = "") -> Path:
        path = tmp_path / f"{depth}{extra.count('[')}.yaml"
        spec = f"image: dot.png, distance_m: 5, width_m: 10, depth: {depth}{extra}"
        path.write_text(f"layers:\n  - {{{spec}}}\n")
        return path

    with pytest.raises(InputFormatError, match=r"grey\.png is an 8/16-bit picture.*give depth_range_m"):
        LayeredSet.from_file(layer("grey.png"))
    with pytest.raises(InputFormatError, match=r"holds distances up to 15 \(metres\).*remove depth_range_m"):
        LayeredSet.from_file(layer("metres.exr", ", depth_range_m: [10, 20]"))
    k = intrinsics_matrix(35.0, SENSOR_MM, W, H)
    pose = CameraPose(x_m=1.0, z_m=3.0)
    expected = project_points_px(np.array([[0.0, 0.0, -15.0]]), pose, k)[0]
    for path in (layer("metres.exr"), layer("mist.exr", ", depth_range_m: [10, 20]")):  # both 15 m
        u, v, _ = _centroid(LayeredSet.from_file(path).render(SetView(pose, k, W, H), 0)[..., 0])
        assert np.allclose((u, v), expected, atol=0.5), path.name


@pytest.mark.parametrize(
    "text, message",
    [
        ("layers: []\n", "non-empty 'layers:'"),
        # a misspelt top key was said only as "needs a non-empty 'layers:' list"; a folder as the image
        # without the set file and the layer
        ("layer:\n  - {image: a.png, distance_m: 2, width_m: 3}\n", "key 'layer'; did you mean 'layers'"),
        ("layers:\n  - {image: ., distance_m: 2, width_m: 3}\n", r"bad\.yaml, layer 1: image .* is a folder"),
        ("layers:\n  - {image: a.png, width_m: 3}\n", "'distance_m' is missing"),
        ("layers:\n  - {image: a.png, distance_m: far, width_m: 3}\n", "distance_m must be a number"),
        ("layers:\n  - {image: a.png, distance_m: 2, width_m: -3}\n", "width_m must be a positive"),
        ("layers:\n  - {image: a.png, distance_m: -8, width_m: 3}\n", "in front of the screen"),
        ("layers:\n  - {image: a.png, distance_m: 2, width_m: 3, colour: red}\n", "unknown key"),
        ("layers: [\n", "bad.yaml: cannot parse"),
        # the last of a key given twice won without a word; yes was 1 m; 1e300 a black set
        ("layers:\n  - {image: a.png, distance_m: 2, width_m: 400, width_m: 1}\n", "width_m.*twice"),
        ("layers:\n  - {image: a.png, distance_m: 2, width_m: 3}\nlayers: []\n", "layers.*twice"),
        ("layers:\n  - {image: a.png, distance_m: 2, width_m: yes}\n",
         "width_m must be a number, got true .YAML reads yes"),
        ("layers:\n  - {image: a.png, distance_m: 1e300, width_m: 3}\n", "number of metres, under 10 000 km"),
        # a TypeError ("a bug in Guangying") while it said the stray key 5
        ("layers:\n  - {image: a.png, distance_m: 60, width_m: 4,5}\n", "unknown key 5.*decimal comma"),
        ("layers:\n  - {image: a.png, distance_m: 60, width_m: 4, centre_m: [0, 1,5]}\n",
         r"centre_m must be \[x, y\].*decimal comma"),
    ],
)
def test_bad_set_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputFormatError, match=message):
        read_layer_specs(path)


def test_missing_layer_picture_is_named(tmp_path):
    # the set file and the layer were not named ("set layer 'nowhere.png' does not exist")
    (tmp_path / "s.yaml").write_text("layers:\n  - {image: nowhere.png, distance_m: 2, width_m: 3}\n")
    with pytest.raises(FileNotFoundError, match=r"set file .*s\.yaml, layer 1: image .*nowhere\.png not"):
        LayeredSet.from_file(tmp_path / "s.yaml")


def test_a_depth_map_of_another_shape_than_its_picture_is_said(tmp_path):
    _write_rgba(tmp_path / "wide.png", np.zeros((50, 200, 3), np.float32))
    with open_writer(tmp_path / "tall.exr", content="rgb") as writer:
        writer.write(np.full((7, 3, 3), 8.0, np.float32), transfer="linear")
    (tmp_path / "s.yaml").write_text("layers:\n  - {image: wide.png, distance_m: 8, width_m: 2, "
                                     "depth: tall.exr}\n")
    with pytest.warns(UserWarning, match=r"tall\.exr is 0.429:1 and its picture wide\.png 4:1: the map is"):
        LayeredSet.from_file(tmp_path / "s.yaml")


def test_interpolated_plane_map_matches_the_exact_one():
    from guangying.sets.layers import _FLAT, _plane_map

    k = intrinsics_matrix(20.0, SENSOR_MM, W, H)
    view = SetView(CameraPose(pan_deg=35, tilt_deg=-8, roll_deg=3, x_m=1.0, z_m=3.0), k, W, H)
    grid = LayeredSet([])._rays.normalised(view)
    r, c = view.rotation_world_from_cv.astype(np.float32), view.pose.position_m.astype(np.float32)
    rect = np.array([-20, 10, 40, 20], np.float32)
    unit = np.array([800, 400], np.float32)
    fast_tex, fast_axial = np.empty((H, W, 2), np.float32), np.empty((H, W), np.float32)
    assert LayeredSet._coarse_plane_map(grid, r, c, -6.0, rect, unit, fast_tex, fast_axial)
    tex, axial = np.empty_like(fast_tex), np.empty_like(fast_axial)
    _plane_map(grid, r, c, np.full((H, W), -6.0, np.float32), rect, unit, tex, axial, _FLAT)
    # in output pixels (texel error over texels per pixel): a fraction of a hundredth of a pixel
    texels_per_px = np.hypot(*np.gradient(tex[..., 0], axis=1)[None], np.gradient(tex[..., 1], axis=1))
    error_px = np.hypot(*(fast_tex - tex).transpose(2, 0, 1)) / texels_per_px
    assert error_px.max() < 0.03 and np.median(error_px) < 0.01
    assert np.abs(fast_axial - axial).max() < 0.01
    # a plane whose horizon is in view (camera looking along it) is computed exactly instead
    side = SetView(CameraPose(pan_deg=90, z_m=3.0), k, W, H)
    grid = LayeredSet([])._rays.normalised(side)
    r2 = side.rotation_world_from_cv.astype(np.float32)
    assert not LayeredSet._coarse_plane_map(grid, r2, c, -6.0, rect, unit, fast_tex, fast_axial)


def test_an_anamorphic_cameras_layers_blur_as_upright_ovals(two_layer_set):
    """A plate squeezed by a 2× anamorphic lens: the set's camera has fx = fy / 2, the focal length
    holding vertically. The blur takes the nominal (vertical) focal length for its height and is a
    quarter as wide in stored pixels (shown unsqueezed, twice as tall as wide). It took fx, which made
    it a quarter as tall as the actor's, and round."""
    layered = LayeredSet.from_file(two_layer_set)
    k = intrinsics_matrix(85.0, SENSOR_MM, W, H)
    k[0, 0] /= 2.0
    view = SetView(CameraPose(z_m=4.0), k, W, H)
    optics = SetOptics(f_number=1.4, focus_distance_m=3.0, sensor_width_mm=SENSOR_MM)
    assert optics.focal_length_mm(view) == pytest.approx(85.0)
    assert optics.width_ratio(view) == pytest.approx(0.25)
    sharp, soft = layered.render(view, 0)[..., 0], layered.render(view, 0, optics)[..., 0]

    def spread(channel):  # (horizontal, vertical) variance of the red dot
        _, _, var_u = _centroid(channel)
        _, _, var_v = _centroid(channel.T)
        return np.array([var_u, var_v])

    f, n, s, d = 85.0, 1.4, 3000.0, 24_000.0
    coc_px = f * f / (n * (s - f)) * abs(d - s) / d * W / SENSOR_MM
    wide, tall = 4 * np.sqrt(spread(soft) - spread(sharp))  # a uniform disc of diameter D adds D²/16
    assert tall == pytest.approx(coc_px, rel=0.12)
    assert wide == pytest.approx(coc_px / 4, rel=0.2)


def test_a_layer_in_front_of_the_screen_is_refused_in_a_script_too():
    # drawn under the actor it would stand in front of; a sign slip (Z = −60 read as distance −60) too
    with pytest.raises(InputFormatError, match="in front of the screen"):
        LayerSpec(Path("sky.png"), -60.0, 160.0)
    assert LayerSpec(Path("backdrop.png"), 0.0, 4.0).distance_m == 0.0


def test_a_set_too_big_for_the_machine_is_refused_as_it_loads(two_layer_set, monkeypatch):
    """Every layer's pyramid stays in memory for the render: a set over half of the machine's memory is
    refused (a hostile 3000-layer set took 14.7 GB without a word), one over a quarter said. The
    machine's size is set small here, as filling this one's memory would test the kernel's OOM killer."""
    import warnings

    from guangying.base.errors import SettingsError
    from guangying.sets import layers

    pyramid_mb = 400 * 200 * 4 * 4 * 4 / 3 / 1e6  # each layer: 400×200 RGBA float32 and its mip levels
    monkeypatch.setattr(layers, "physical_memory_bytes", lambda: int(3 * pyramid_mb * 1e6))
    with pytest.raises(SettingsError, match=r"by layer 2 of 2 \(near\.png\), over half of this machine's"):
        LayeredSet.from_file(two_layer_set)
    monkeypatch.setattr(layers, "physical_memory_bytes", lambda: int(6 * pyramid_mb * 1e6))
    with pytest.warns(UserWarning, match=r"set's 2 layers take 3 MB of this machine's 10 MB"):
        LayeredSet.from_file(two_layer_set).close()
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LayeredSet.from_file(two_layer_set).close()


def _two_depth_layer(folder, seen_from=""):
    """A 2 m × 1 m layer 3 m behind the screen: a red dot at (−0.5, 0) on its left half, 3 m deep, and a
    green one at (0.5, 0) on its right half, whose depth map says 20 m (a photograph's far background)."""
    rgb, _ = _dot_picture(200, 100, (50, 50), 3.0, (1, 0, 0), False)
    rgb += _dot_picture(200, 100, (150, 50), 3.0, (0, 1, 0), False)[0]
    _write_rgba(folder / "photo.png", rgb)
    depth = np.full((100, 200, 3), 3.0, np.float32)
    depth[:, 100:] = 20.0
    with open_writer(folder / "photo_depth.exr", content="rgb") as writer:
        writer.write(depth, transfer="linear")
    path = folder / f"set{len(seen_from)}.yaml"
    path.write_text("layers:\n  - {image: photo.png, distance_m: 3, width_m: 2, depth: photo_depth.exr"
                    f"{seen_from}}}\n")
    return path


def test_a_photographs_depth_map_keeps_its_shape_from_where_it_was_seen(tmp_path):
    """With ``projected_from_m``, a depth map's pixel lies on the ray from that point through its place
    on the layer: from there the picture keeps its shape, and a camera that moves sees each part slide
    by its own depth. As a relief (x and y kept), the far half was drawn as a small card 20 m away,
    pulled towards the axis and torn from the near half; that is said now."""
    k = intrinsics_matrix(35.0, SENSOR_MM, W, H)
    seen = _two_depth_layer(tmp_path, ", projected_from_m: [0, 0, 2]")
    far_dot = np.array([[0.5 * 22 / 5, 0.0, -20.0]])  # (0.5, 0, −3) pushed along the ray from (0, 0, 2)
    for pose in (CameraPose(z_m=2.0), CameraPose(x_m=0.4, y_m=-0.1, z_m=2.5, pan_deg=3.0)):
        rgb = LayeredSet.from_file(seen).render(SetView(pose, k, W, H), 0)
        for channel, point in ((0, [[-0.5, 0.0, -3.0]]), (1, far_dot)):
            u, v, _ = _centroid(rgb[..., channel])
            expected = project_points_px(np.array(point), pose, k)[0]
            assert np.allclose((u, v), expected, atol=0.5), (pose, channel)
    from_there = LayeredSet.from_file(seen).render(SetView(CameraPose(z_m=2.0), k, W, H), 0)
    flat = tmp_path / "flat.yaml"
    flat.write_text("layers:\n  - {image: photo.png, distance_m: 3, width_m: 2}\n")
    as_flat = LayeredSet.from_file(flat).render(SetView(CameraPose(z_m=2.0), k, W, H), 0)
    assert np.abs(from_there - as_flat).mean() < 1e-3  # the picture as it was seen, not torn
    with pytest.warns(UserWarning, match=r"photo_depth\.exr spans 3–20 m and is taken as a relief"):
        relief = LayeredSet.from_file(_two_depth_layer(tmp_path))
    u, v, _ = _centroid(relief.render(SetView(CameraPose(z_m=2.0), k, W, H), 0)[..., 1])
    expected = project_points_px(np.array([[0.5, 0.0, -20.0]]), CameraPose(z_m=2.0), k)[0]
    assert np.allclose((u, v), expected, atol=0.5)


@pytest.mark.parametrize(("extra", "message"), [
    (", projected_from_m: [0, 1]", r"projected_from_m must be \[x, y, z\] in metres"),
    (", projected_from_m: [0, 0, -5]", r"stands at z = -5 m, not in front of the layer \(z = -3 m\)"),
])
def test_projected_from_m_is_checked(tmp_path, extra, message):
    with pytest.raises(InputFormatError, match=message):
        LayeredSet.from_file(_two_depth_layer(tmp_path, extra))
    flat = tmp_path / "flat.yaml"
    flat.write_text("layers:\n  - {image: photo.png, distance_m: 3, width_m: 2, "
                    "projected_from_m: [0, 0, 2]}\n")
    with pytest.raises(InputFormatError, match="places a depth map's pixels: give the layer a depth"):
        LayeredSet.from_file(flat)
