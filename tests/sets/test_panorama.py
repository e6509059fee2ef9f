"""360° panorama conventions and filtering: known pans show the known part of the panorama."""

import math

import cv2
import numpy as np
import pytest

from guangying.lens.camera import CameraPose, intrinsics_matrix, project_points_px
from guangying.sets.panorama import PanoramaSet
from guangying.sets.view import SetView

PW, PH = 2048, 1024  # panorama
W, H = 320, 180  # frame
SENSOR_MM = 24.89


def _pano_with_mark(lon_deg: float, lat_deg: float, radius_px: float = 3.0) -> np.ndarray:
    """Dark panorama with one bright anti-aliased dot drawn at (lon, lat) by the spec's formula."""
    pano = np.full((PH, PW, 3), 0.02, np.float32)
    x = (lon_deg / 360.0 + 0.5) * PW
    y = (0.5 - lat_deg / 180.0) * PH
    yy, xx = np.mgrid[0:PH, 0:PW].astype(np.float32) + 0.5
    pano[(xx - x) ** 2 + (yy - y) ** 2 <= radius_px**2] = 1.0
    return pano


def _peak_px(rgb: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centroid of the bright mark (u, v) in OpenCV pixel coordinates."""
    lum = np.clip(rgb.mean(axis=2) - 0.1, 0.0, None)
    assert lum.sum() > 0, "the mark is not in view"
    v, u = np.mgrid[0 : lum.shape[0], 0 : lum.shape[1]]
    return float((u * lum).sum() / lum.sum()), float((v * lum).sum() / lum.sum())


@pytest.mark.parametrize(
    "lon, lat, pose",
    [
        (0.0, 0.0, CameraPose()),  # rest: the image centre
        (20.0, 0.0, CameraPose(pan_deg=20)),  # pan > 0 turns towards larger longitudes
        (-35.0, 12.0, CameraPose(pan_deg=-35, tilt_deg=12)),  # tilt > 0 looks up
        (100.0, -8.0, CameraPose(pan_deg=95, tilt_deg=-3, roll_deg=4, x_m=2.0, z_m=5.0)),
    ],
)
def test_mark_appears_where_the_camera_model_projects_it(lon, lat, pose):
    k = intrinsics_matrix(24.0, SENSOR_MM, W, H)
    rgb = PanoramaSet.from_array(_pano_with_mark(lon, lat)).render(SetView(pose, k, W, H), 0)
    # A far point in the direction (lon, lat): X = sin(lon)cos(lat), Y = sin(lat), Z = −cos(lon)cos(lat).
    la, lo = math.radians(lat), math.radians(lon)
    direction = np.array([math.sin(lo) * math.cos(la), math.sin(la), -math.cos(lo) * math.cos(la)])
    expected = project_points_px((pose.position_m + 1e7 * direction)[None], pose, k)[0]
    assert np.allclose(_peak_px(rgb), expected, atol=0.35)


def test_pan_by_a_known_angle_moves_the_mark_by_the_lens_formula():
    k = intrinsics_matrix(50.0, SENSOR_MM, W, H)
    pano = PanoramaSet.from_array(_pano_with_mark(10.0, 0.0))
    u, v = _peak_px(pano.render(SetView(CameraPose(pan_deg=4.0), k, W, H), 0))
    # straight ahead is the image centre; 6° to the right lands f·tan(6°) pixels right of it
    assert u == pytest.approx((W - 1) / 2 + k[0, 0] * math.tan(math.radians(6.0)), abs=0.3)
    assert v == pytest.approx((H - 1) / 2, abs=0.3)


def test_roll_turns_the_picture_the_other_way():
    # roll > 0 turns the camera clockwise as the operator sees it, so the world turns anticlockwise
    # in the picture: a mark straight above the centre moves towards the top left.
    k = intrinsics_matrix(24.0, SENSOR_MM, W, H)
    pano = PanoramaSet.from_array(_pano_with_mark(0.0, 10.0))
    u0, _ = _peak_px(pano.render(SetView(CameraPose(), k, W, H), 0))
    u1, _ = _peak_px(pano.render(SetView(CameraPose(roll_deg=20), k, W, H), 0))
    assert u1 < u0 - 5


def test_seam_at_longitude_180_is_invisible():
    yy, xx = np.mgrid[0:PH, 0:PW].astype(np.float32)
    pano = np.stack([0.5 + 0.4 * np.cos(2 * np.pi * xx / PW)] * 3, axis=2).astype(np.float32)  # smooth, wraps
    k = intrinsics_matrix(35.0, SENSOR_MM, W, H)
    rgb = PanoramaSet.from_array(pano).render(SetView(CameraPose(pan_deg=180), k, W, H), 0)
    row = rgb[H // 2, :, 0]
    assert np.abs(np.diff(row)).max() < 0.002  # no dark or doubled column where x wraps


def _stripes(period_px: float) -> np.ndarray:
    """Fine vertical stripes plus a faint checker: a panorama far more detailed than the frame."""
    yy, xx = np.mgrid[0:PH, 0:PW].astype(np.float32) + 0.5
    s = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * xx / period_px))
    c = ((xx // 7 + yy // 5) % 2) * 0.2
    return np.stack([s * 0.8 + c, s * 0.5 + c, s * 0.3 + c], axis=2).astype(np.float32)


def _supersampled_truth(
    pano: np.ndarray, pose: CameraPose, k: np.ndarray, w: int, h: int, factor: int = 8
) -> np.ndarray:
    """The frame rendered 8×8 supersampled with plain bilinear lookups, then box-averaged: what the
    lens integrates over each pixel (an independent, slow reference)."""
    from guangying.lens.camera import rotation_world_from_cv

    v, u = np.mgrid[0 : h * factor, 0 : w * factor].astype(np.float64)
    u = (u + 0.5) / factor - 0.5
    v = (v + 0.5) / factor - 0.5
    rays = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], axis=-1)
    d = rays @ rotation_world_from_cv(pose).T
    lon = np.arctan2(d[..., 0], -d[..., 2])
    lat = np.arctan2(d[..., 1], np.hypot(d[..., 0], d[..., 2]))
    mx = ((lon / (2 * np.pi) + 0.5) * PW - 0.5).astype(np.float32)
    my = ((0.5 - lat / np.pi) * PH - 0.5).astype(np.float32)
    fine = cv2.remap(pano, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return fine.reshape(h, factor, w, factor, 3).mean(axis=(1, 3))


def test_minified_panorama_is_antialiased_and_steady_on_a_slow_pan():
    pano_rgb = _stripes(3.0)
    pano = PanoramaSet.from_array(pano_rgb)
    w, h = 96, 54
    k = intrinsics_matrix(18.0, SENSOR_MM, w, h)  # ~4 panorama texels per frame pixel
    level0 = PanoramaSet.from_array(pano_rgb)  # the shortcut: one bilinear lookup at full resolution
    level0.pyramid(0).shapes = level0.pyramid(0).shapes[:1]
    ours, naive, errors, naive_errors = [], [], [], []
    for i in range(6):  # a slow pan: a fifth of a frame pixel per step
        pose = CameraPose(pan_deg=0.15 * i, tilt_deg=3)
        truth = _supersampled_truth(pano_rgb, pose, k, w, h)
        ours.append(pano.render(SetView(pose, k, w, h), 0))
        naive.append(level0.render(SetView(pose, k, w, h), 0))
        errors.append(np.abs(ours[-1] - truth).mean())
        naive_errors.append(np.abs(naive[-1] - truth).mean())
    assert max(errors) < 0.35 * min(naive_errors)  # far closer to what the lens integrates
    flicker_ours = np.mean([np.abs(a - b).mean() for a, b in zip(ours, ours[1:], strict=False)])
    flicker_naive = np.mean([np.abs(a - b).mean() for a, b in zip(naive, naive[1:], strict=False)])
    assert flicker_ours < 0.25 * flicker_naive  # the unfiltered lookup shimmers, ours does not


@pytest.mark.parametrize("pose", [CameraPose(pan_deg=178, tilt_deg=10), CameraPose(pan_deg=-40, tilt_deg=80)])
def test_fast_paths_agree_with_the_exact_per_pixel_render(pose):
    """The map interpolated between exact points (not at the poles) and the OpenCV remap used where
    nothing is minified give what the exact per-pixel map and the trilinear sampler give."""
    from guangying.sets.mip import CLAMP, WRAP
    from guangying.sets.panorama import _equirect_map

    pano = PanoramaSet.from_array(_stripes(5.0))
    k = intrinsics_matrix(50.0, SENSOR_MM, W, H)  # magnified: ~0.7 texel per pixel
    view = SetView(pose, k, W, H)
    pyramid = pano.pyramid(0)
    fast_map = pano.texel_map(view, PW, PH)
    exact = np.empty_like(fast_map)
    grid = pano._rays.normalised(view)
    _equirect_map(grid, view.rotation_world_from_cv.astype(np.float32), np.float32(PW), np.float32(PH), exact)
    dx = fast_map[..., 0] - exact[..., 0]
    dx -= PW * np.round(dx / PW)
    assert np.abs(dx).max() < 0.01 and np.abs(fast_map[..., 1] - exact[..., 1]).max() < 0.01
    remapped = pyramid.sample(exact, WRAP, CLAMP)
    trilinear = pyramid.sample(exact, WRAP, CLAMP, lod_bias=1e-9)  # any bias takes the numba path
    # OpenCV places its bilinear taps to 1/32 texel: a hair off on the stripes' sharp edges
    assert np.abs(remapped - trilinear).mean() < 0.002 and np.abs(remapped - trilinear).max() < 0.03


def test_a_big_panorama_is_prepared_in_little_more_than_its_own_memory(tmp_path, monkeypatch):
    """Reading a set picture and building its pyramid peaked at 60 bytes a pixel (a 200-megapixel
    panorama at 12 GB, without a word): four whole-picture temporaries of its linear light, and the
    pyramid's levels joined into a second copy. Built in bands and in place it is about 35, and a picture
    that would take over a quarter of the machine's memory is said before it is decoded."""
    import tracemalloc

    from guangying.media import open_writer
    from guangying.sets import source

    width, height = 2000, 1000
    rng = np.random.default_rng(5)
    with open_writer(tmp_path / "pano.png", content="rgb", bit_depth=8) as writer:  # as most panoramas are
        writer.write(rng.random((height, width, 3), dtype=np.float32))
    tracemalloc.start()
    try:
        PanoramaSet(str(tmp_path / "pano.png")).close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / (width * height) < 40, peak / (width * height)
    assert source.PREPARE_BYTES_PER_PX * width * height >= peak  # the warning's estimate is not low
    monkeypatch.setattr(source, "physical_memory_bytes", lambda: 200_000_000)
    with pytest.warns(UserWarning, match=r"pano\.png is 2000×1000: preparing it takes about 0\.1 GB of "
                                         r"this machine's 0\.2 GB of memory"):
        PanoramaSet(str(tmp_path / "pano.png")).close()
