"""Generated material for tracked virtual sets: a 360° panorama built from real photographs and camera
moves with exact truth (used by ``guangying demo``, the tests and the set benchmark).

The panorama is assembled in picture space — photographs hung around the horizon like windows in a
gallery, a sky above, a tiled floor below — not through the renderer's projection, so tests that read
it back check the renderer against an independent construction.
"""

from __future__ import annotations

import math
from fractions import Fraction

import cv2
import numpy as np
from skimage import data as skdata

from guangying.base.timecode import format_timecode
from guangying.tracking.camera_track import CameraTrackRow

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


def gallery_panorama_srgb(width: int = 4096) -> np.ndarray:
    """float32 (width/2, width, 3) sRGB equirectangular panorama: six scikit-image photographs around
    the horizon (one every 60° of longitude, the astronaut at 0°), a graded sky, a tiled floor and
    longitude ticks every 10° on the horizon."""
    height = width // 2
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    lat = (0.5 - (yy + 0.5) / height) * 180.0
    lon = ((xx + 0.5) / width - 0.5) * 360.0
    sky = np.stack([0.35 + 0.2 * lat / 90, 0.55 + 0.25 * lat / 90, 0.85 + 0.1 * lat / 90], axis=2)
    # Floor: tiles in ground coordinates (1.6 m below the eye) so they shrink towards the horizon.
    t = np.tan(np.radians(np.clip(-lat, 0.5, 89.5)))
    gx = np.sin(np.radians(lon)) * 1.6 / t
    gz = np.cos(np.radians(lon)) * 1.6 / t
    tiles = ((np.floor(gx) + np.floor(gz)) % 2).astype(np.float32)
    floor = np.stack([0.30 + 0.25 * tiles, 0.27 + 0.22 * tiles, 0.24 + 0.2 * tiles], axis=2)
    fade = np.clip(1.0 - 1.0 / t / 40.0, 0.0, 1.0)[..., None]  # tiles melt into grey far away
    floor = floor * fade + 0.4 * (1.0 - fade)
    pano = np.where((lat >= 0)[..., None], sky, floor).astype(np.float32)
    frame_w, frame_h = width // 8, height // 4  # each photo spans 45° × 45°
    for n, name in enumerate(_PHOTOS):
        photo = getattr(skdata, name)()
        photo = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, axis=2)
        photo = cv2.resize(photo[..., :3], (frame_w, frame_h), interpolation=cv2.INTER_AREA) / 255.0
        cx = (n * 60.0 / 360.0 + 0.5) * width
        x0 = int(round(cx - frame_w / 2)) % width
        y0 = int(round(height / 2 - frame_h * 0.6))
        cols = (np.arange(frame_w) + x0) % width
        pano[y0 : y0 + frame_h, cols] = photo.astype(np.float32)
    for tick in range(-180, 180, 10):  # a white tick every 10° on the horizon
        x = int(round((tick / 360.0 + 0.5) * width)) % width
        pano[height // 2 - 6 : height // 2 + 6, x] = 1.0
    return np.clip(pano, 0.0, 1.0)


def camera_move_rows(
    frames: int,
    fps: Fraction = Fraction(25),
    first_frame: int = 0,
    pan_deg: tuple[float, float] = (-15.0, 25.0),
    tilt_deg: tuple[float, float] = (2.0, -4.0),
    focal_length_mm: tuple[float, float] = (24.0, 35.0),
    dolly_m: tuple[float, float] = (0.0, 0.4),
    camera_z_m: float = 4.0,
) -> list[CameraTrackRow]:
    """A smooth (ease-in, ease-out) pan, tilt, zoom and sideways dolly from the first value of each pair
    to the second, one camera-track row per frame, quality 1."""
    rows = []
    for i in range(frames):
        s = 0.5 - 0.5 * math.cos(math.pi * i / max(frames - 1, 1))

        def mix(pair: tuple[float, float], s: float = s) -> float:
            return pair[0] + (pair[1] - pair[0]) * s

        rows.append(
            CameraTrackRow(
                frame=first_frame + i,
                t_s=float(i / fps),
                timecode=format_timecode(first_frame + i, fps),
                pan_deg=mix(pan_deg),
                tilt_deg=mix(tilt_deg),
                roll_deg=0.0,
                x_m=mix(dolly_m),
                y_m=0.0,
                z_m=camera_z_m,
                focal_length_mm=mix(focal_length_mm),
                quality=1.0,
            )
        )
    return rows
