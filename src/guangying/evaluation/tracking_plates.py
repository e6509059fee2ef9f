"""Generated plates with exact camera truth, for the tracking tests and benchmark.

The renderer casts a ray through every output pixel (through the lens's distortion when given) and
looks up what it hits — a textured screen on the plane z = 0 with its markers, or a 360° studio
panorama beyond it — so it shares nothing with the trackers' projection code (OpenCV's
``projectPoints``/homographies). Motion blur integrates sub-frame renders over the shutter; noise and
H.264 come after. A matted subject (a textured figure with its alpha) occludes part of the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from skimage import data as skdata

from guangying.lens.camera import CameraPose, intrinsics_matrix, rotation_world_from_cv

SCREEN_GREEN_U8 = (40, 158, 62)


def studio_panorama(width_px: int = 4096, seed: int = 0) -> np.ndarray:
    """An equirectangular studio (uint8 (W/2, W, 3)): photographs from scikit-image tiled around the
    horizon, floor and ceiling gradients, white tracking crosses; column x ↔ longitude
    (x/W − 0.5)·360°, row y ↔ latitude (0.5 − y/H)·180°."""
    rng = np.random.default_rng(seed)
    h = width_px // 2
    pano = np.zeros((h, width_px, 3), np.uint8)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    pano[:] = (np.stack([60 + 80 * yy, 55 + 70 * yy, 50 + 60 * yy], axis=-1)).astype(np.uint8)
    photos = [
        skdata.astronaut(),
        skdata.coffee(),
        skdata.chelsea(),
        skdata.rocket(),
        skdata.immunohistochemistry(),
        skdata.stereo_motorcycle()[0],
    ]
    band_top, band_h = h // 4, h // 2
    x, k = 0, 0
    while x < width_px:
        img = photos[k % len(photos)]
        tile_w = min(int(band_h * img.shape[1] / img.shape[0]), width_px - x)
        tile = cv2.resize(
            img, (int(band_h * img.shape[1] / img.shape[0]), band_h), interpolation=cv2.INTER_AREA
        )
        pano[band_top : band_top + band_h, x : x + tile_w] = tile[:, :tile_w]
        x += tile_w
        k += 1
    for _ in range(60):  # tracking crosses
        cx, cy = int(rng.uniform(0, width_px)), int(rng.uniform(h * 0.1, h * 0.9))
        cv2.line(pano, (cx - 12, cy), (cx + 12, cy), (240, 240, 240), 3, cv2.LINE_AA)
        cv2.line(pano, (cx, cy - 12), (cx, cy + 12), (240, 240, 240), 3, cv2.LINE_AA)
    return cv2.GaussianBlur(pano, (0, 0), 0.7)


@dataclass(slots=True)
class ScreenGeometry:
    """Texture pixel (u, v) covers world x ∈ [left + u·s, left + (u+1)·s], y ∈ [top − (v+1)·s, top − v·s]."""

    left_m: float
    top_m: float
    metres_per_px: float


def screen_texture(
    width_m: float,
    height_m: float,
    px_per_m: float,
    board=None,
    centre_y_m: float = 0.0,  # type: ignore[no-untyped-def]
    seed: int = 0,
    crosses: int = 40,
    sheet_scale: float = 0.0,
) -> tuple[np.ndarray, ScreenGeometry]:
    """A green screen (uint8) with uneven light, tracking crosses and the board's markers drawn at their
    exact positions (supersampled edges). Only upright markers on z = 0 are drawn. ``sheet_scale`` > 1:
    each marker on a sheet of off-white paper that many times its side, taped square on the screen."""
    from guangying.tracking.board import marker_image

    rng = np.random.default_rng(seed)
    w, h = int(round(width_m * px_per_m)), int(round(height_m * px_per_m))
    geom = ScreenGeometry(-width_m / 2, centre_y_m + height_m / 2, 1.0 / px_per_m)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.25 * (((xx - w * 0.4) / w) ** 2 + ((yy - h * 0.3) / h) ** 2) * 2
    tex = (np.array(SCREEN_GREEN_U8, np.float32) * light[..., None]).clip(0, 255)
    tex += rng.normal(0, 3.0, tex.shape).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), 1.5)
    for _ in range(crosses):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        arm = 0.06 * px_per_m
        for dx, dy in ((arm, 0), (0, arm)):
            cv2.line(
                tex,
                (int(cx - dx), int(cy - dy)),
                (int(cx + dx), int(cy + dy)),
                (90, 200, 100),
                max(1, int(0.012 * px_per_m)),
                cv2.LINE_AA,
            )
    if board is not None:
        for marker_id, quad in zip(board.ids, board.corners_m, strict=True):
            u0 = (quad[0, 0] - geom.left_m) * px_per_m  # texel edges at integers
            v0 = (geom.top_m - quad[0, 1]) * px_per_m
            side = (quad[1, 0] - quad[0, 0]) * px_per_m
            x0, y0 = int(np.floor(u0)), int(np.floor(v0))
            x1, y1 = int(np.ceil(u0 + side)) + 1, int(np.ceil(v0 + side)) + 1
            if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                continue
            if sheet_scale > 1:
                margin = side * (sheet_scale - 1) / 2
                edges = np.array([-margin, side + margin])
                edges_u, edges_v = u0 + edges, v0 + edges
                sx0, sy0 = max(int(np.floor(edges_u[0])), 0), max(int(np.floor(edges_v[0])), 0)
                sx1, sy1 = min(int(np.ceil(edges_u[1])) + 1, w), min(int(np.ceil(edges_v[1])) + 1, h)
                paper = np.outer(_overlap(np.arange(sy0, sy1), edges_v)[:, 0],
                                 _overlap(np.arange(sx0, sx1), edges_u)[:, 0])[..., None]
                region = tex[sy0:sy1, sx0:sx1]
                region[:] = region * (1 - paper) + paper * np.array([228.0, 230.0, 226.0], np.float32)
            bits = int(board.aruco.markerSize) + 2
            cells = marker_image(board, int(marker_id), bits).astype(np.float32) * 0.92 + 8
            # exact area coverage, separable: texel × bit-cell overlap along each axis
            over_x = _overlap(np.arange(x0, x1), u0 + side / bits * np.arange(bits + 1))
            over_y = _overlap(np.arange(y0, y1), v0 + side / bits * np.arange(bits + 1))
            val = over_y @ cells @ over_x.T
            cover = np.outer(over_y.sum(axis=1), over_x.sum(axis=1))
            region = tex[y0:y1, x0:x1]
            region[:] = region * (1 - cover[..., None]) + val[..., None]
    return np.clip(tex + 0.5, 0, 255).astype(np.uint8), geom


def _overlap(texels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(T, B): length of texel [t, t+1] inside cell [edges[b], edges[b+1]]."""
    lo = np.maximum(texels[:, None], edges[None, :-1])
    hi = np.minimum(texels[:, None] + 1, edges[None, 1:])
    return np.clip(hi - lo, 0, 1).astype(np.float32)


def _rays_cv(
    camera_matrix: np.ndarray, dist_coeffs: np.ndarray | None, width: int, height: int
) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    if dist_coeffs is None or not np.any(dist_coeffs):
        kinv = np.linalg.inv(camera_matrix)
        x = kinv[0, 0] * xs + kinv[0, 2]
        y = kinv[1, 1] * ys + kinv[1, 2]
    else:
        pts = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-9)
        n = cv2.undistortPointsIter(pts, camera_matrix, dist_coeffs, None, None, crit).reshape(
            height, width, 2
        )
        x, y = n[..., 0], n[..., 1]
    return np.stack([x, y, np.ones_like(x)], axis=-1)


@dataclass
class Renderer:
    """Renders the studio through a camera: ``screen`` (texture + geometry) on z = 0 in front of the
    ``panorama`` (infinitely far). Rays are cached per lens."""

    panorama: np.ndarray
    screen: tuple[np.ndarray, ScreenGeometry] | None = None
    _rays: dict[tuple, np.ndarray] = field(default_factory=dict)

    def rays(self, k: np.ndarray, dist: np.ndarray | None, w: int, h: int) -> np.ndarray:
        key = (w, h, tuple(np.round(k.ravel(), 6)), None if dist is None else tuple(np.round(dist, 9)))
        if key not in self._rays:
            if len(self._rays) > 4:
                self._rays.clear()
            self._rays[key] = _rays_cv(k, dist, w, h).astype(np.float32)
        return self._rays[key]

    def render(
        self, pose: CameraPose, k: np.ndarray, w: int, h: int, dist: np.ndarray | None = None
    ) -> np.ndarray:
        """float32 sRGB 0–1 (h, w, 3)."""
        rays = self.rays(k, dist, w, h)
        r = rotation_world_from_cv(pose).astype(np.float32)
        d = rays @ r.T  # world directions (h, w, 3)
        ph, pw = self.panorama.shape[:2]
        lon = np.arctan2(d[..., 0], -d[..., 2])
        lat = np.arctan2(d[..., 1], np.hypot(d[..., 0], d[..., 2]))
        mu = ((lon / (2 * np.pi) + 0.5) * pw - 0.5).astype(np.float32)
        mv = ((0.5 - lat / np.pi) * ph - 0.5).astype(np.float32)
        out = cv2.remap(self.panorama, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP).astype(
            np.float32
        )
        if self.screen is not None:
            tex, geom = self.screen
            c = pose.position_m.astype(np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = -c[2] / d[..., 2]
            hit = t > 0
            px = c[0] + t * d[..., 0]
            py = c[1] + t * d[..., 1]
            su = np.where(hit, (px - geom.left_m) / geom.metres_per_px - 0.5, -10).astype(np.float32)
            sv = np.where(hit, (geom.top_m - py) / geom.metres_per_px - 0.5, -10).astype(np.float32)
            scr = cv2.remap(
                tex, su, sv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
            )
            inside = (
                cv2.remap(
                    np.full(tex.shape[:2], 255, np.uint8),
                    su,
                    sv,
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                ).astype(np.float32)[..., None]
                / 255
            )
            out = out * (1 - inside) + scr.astype(np.float32) * inside
        return out / 255.0


def subject_layer(
    frame: int, frames: int, width: int, height: int, coverage: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A figure (head and body, astronaut-photo texture) walking across the frame, occluding about
    ``coverage`` of the picture width: (rgb float32 sRGB (h, w, 3), alpha float32 (h, w))."""
    tex = (
        cv2.resize(skdata.astronaut(), (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    )
    ss = 4
    mask = np.zeros((height * ss, width * ss), np.uint8)
    body_w = coverage * width
    phase = frame / max(1, frames - 1)
    cx = (0.5 + 0.25 * np.sin(2 * np.pi * phase + seed)) * width
    body = ((cx - body_w / 2) * ss, height * 0.38 * ss, (cx + body_w / 2) * ss, height * 1.05 * ss)
    cv2.rectangle(mask, (int(body[0]), int(body[1])), (int(body[2]), int(body[3])), 255, -1)
    cv2.ellipse(
        mask,
        (int(cx * ss), int(height * 0.25 * ss)),
        (int(body_w * 0.22 * ss), int(height * 0.14 * ss)),
        0,
        0,
        360,
        255,
        -1,
    )
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return tex, alpha


@dataclass(slots=True)
class PlateFrame:
    rgb: np.ndarray  # float32 sRGB (h, w, 3)
    subject_alpha: np.ndarray  # float32 (h, w)
    pose: CameraPose  # at the middle of the shutter
    focal_length_mm: float


def render_plates(
    renderer: Renderer,
    poses: list[CameraPose],
    focals_mm: list[float],
    sensor_width_mm: float,
    width: int,
    height: int,
    dist_coeffs: np.ndarray | None = None,
    subject_coverage: float = 0.0,
    blur_samples: int = 1,
    noise_sigma: float = 0.0,
    seed: int = 0,
) -> Iterator[PlateFrame]:
    """Frames along a camera path. ``blur_samples`` > 1 averages renders over a 180° shutter (between
    this pose and the half-way point to the next), so fast moves smear as they do on a real camera."""
    rng = np.random.default_rng(seed)
    n = len(poses)
    for i, (pose, focal) in enumerate(zip(poses, focals_mm, strict=True)):
        k = intrinsics_matrix(focal, sensor_width_mm, width, height)
        if blur_samples > 1:
            nxt = poses[min(i + 1, n - 1)]
            prv = poses[max(i - 1, 0)]
            acc = np.zeros((height, width, 3), np.float32)
            for s in np.linspace(-0.25, 0.25, blur_samples):
                other = nxt if s >= 0 else prv
                acc += renderer.render(_lerp_pose(pose, other, abs(s)), k, width, height, dist_coeffs)
            rgb = acc / blur_samples
        else:
            rgb = renderer.render(pose, k, width, height, dist_coeffs)
        alpha = np.zeros((height, width), np.float32)
        if subject_coverage > 0:
            fg, alpha = subject_layer(i, n, width, height, subject_coverage, seed)
            rgb = rgb * (1 - alpha[..., None]) + fg * alpha[..., None]
        if noise_sigma > 0:
            rgb = rgb + rng.normal(0, noise_sigma, rgb.shape).astype(np.float32)
        yield PlateFrame(np.clip(rgb, 0, 1).astype(np.float32), alpha, pose, focal)


def _lerp_pose(a: CameraPose, b: CameraPose, t: float) -> CameraPose:
    va = np.array([a.pan_deg, a.tilt_deg, a.roll_deg, a.x_m, a.y_m, a.z_m])
    vb = np.array([b.pan_deg, b.tilt_deg, b.roll_deg, b.x_m, b.y_m, b.z_m])
    return CameraPose(*(float(v) for v in va + t * (vb - va)))


def camera_path(
    kind: str, frames: int, fps: float = 25.0, start: CameraPose | None = None, focal_mm: float = 35.0
) -> tuple[list[CameraPose], list[float]]:
    """Smooth camera moves with exact truth: ``pan``, ``tilt``, ``zoom``, ``dolly``, ``handheld``,
    ``pan_return`` (out and back, the drift test), ``still``. Returns (poses, focal lengths in mm)."""
    base = start or CameraPose(0.0, 0.0, 0.0, 0.0, 1.5, 4.0)
    t = np.arange(frames) / fps
    s = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / max(t[-1], 1e-9), 0, 1))  # ease in and out 0 → 1
    poses, focals = [], []
    rng = np.random.default_rng(7)
    shake = gaussian_filter1d(np.cumsum(rng.normal(0, 1, (frames, 6)), axis=0), 3.0, axis=0)
    for i in range(frames):
        p = [base.pan_deg, base.tilt_deg, base.roll_deg, base.x_m, base.y_m, base.z_m]
        f = focal_mm
        if kind == "pan":
            p[0] += 20 * s[i]
        elif kind == "tilt":
            p[1] += 10 * s[i] - 3
            p[2] += 2 * s[i]
        elif kind == "zoom":
            f = focal_mm * (1 + 1.0 * s[i])
            p[0] += 3 * s[i]
        elif kind == "dolly":
            p[3] += 1.0 * s[i] - 0.5
            p[5] -= 1.0 * s[i]
            p[0] -= 8 * s[i] - 4
        elif kind == "handheld":
            p[0] += 0.4 * shake[i, 0]
            p[1] += 0.3 * shake[i, 1]
            p[2] += 0.2 * shake[i, 2]
            p[3:] = [v + 0.004 * shake[i, 3 + j] for j, v in enumerate(p[3:])]
        elif kind == "pan_return":
            p[0] += 35 * np.sin(np.pi * s[i]) ** 2
            p[1] += 6 * np.sin(2 * np.pi * s[i])
        elif kind != "still":
            raise ValueError(f"unknown camera path {kind!r}")
        poses.append(CameraPose(*(float(v) for v in p)))
        focals.append(float(f))
    return poses, focals


def encode_h264_round_trip(frames: list[np.ndarray], fps: int = 25, crf: int = 18) -> list[np.ndarray]:
    """Frames through a real H.264 encode and decode (PyAV, yuv420p), as float32 sRGB."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            vf = av.VideoFrame.from_ndarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as inp:
        return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in inp.decode(video=0)]
