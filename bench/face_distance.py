"""Distance from faces: does the reading scale as a pinhole camera says, whatever the face's size?

The same face (scikit-image's astronaut) is pasted at 15 sizes (80–760 px) into a 1280×720 frame over
a grey or a textured ground (scikit-image's brick), as a camera would see it: JPEG-compressed at
quality 85 after noise. No truth of the astronaut's real distance exists, but a pinhole camera gives one rule:
distance × face size in pixels is the same at every size. Its spread (max / min) and its coefficient of
variation are the figures; at 50 mm f/2 on full frame at 3 m the depth of field is about ±7 %.

Methods, run on the same frames, interleaved (and timed per face):
- **ours**: BlazeFace finds the face; the iris model's crops are framed again around its own iris
  centres until they settle; iris and eye-spacing ranges fused (``FaceRangeFinder.reading``);
- **one pass**: the same models with the crops framed once from BlazeFace's eye points (Guangying
  before 2026-12-07);
- **detector eyes**: the eye spacing of BlazeFace's eye points alone (63 mm);
- **OpenCV Haar eyes**: OpenCV's ``haarcascade_eye`` inside the face box, the spacing of the two
  largest eyes' centres (63 mm), a classical detector independent of our models.

Writes ``bench/results/face_distance.md``. Run: ``.venv/bin/python bench/face_distance.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from _machine import cpu_model  # bench/ helper (scripts run from bench/)
from skimage import data

from guangying.distance.face_geometry import (
    IPD_MM,
    Intrinsics,
    distance_from_size_m,
    fuse_ranges,
    range_from_eye_centres,
    range_from_irises,
)
from guangying.distance.faces import FaceRangeFinder, _as_float_rgb

OUT = Path(__file__).resolve().parent / "results" / "face_distance.md"
SIZES = (80, 100, 120, 160, 200, 240, 288, 320, 384, 448, 512, 576, 640, 700, 760)
LARGE_FROM = 160  # pictures whose face is about 60 px across and more
GROUNDS = ("grey", "brick")
W, H = 1280, 720


def frame(size: int, ground: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB: the astronaut ``size`` px square, centred, over the ground, noisy and JPEG-coded."""
    picture = np.full((H, W, 3), 110, np.uint8)
    if ground == "brick":
        brick = cv2.resize(data.brick(), (W, H))
        picture = np.repeat(brick[..., None], 3, axis=2)
    face = cv2.resize(data.astronaut(), (size, size),
                      interpolation=cv2.INTER_AREA if size < 512 else cv2.INTER_CUBIC)
    top = max(0, H // 2 - size // 2)
    rows = min(size, H - top)
    picture[top:top + rows, W // 2 - size // 2:W // 2 - size // 2 + size] = face[:rows]
    noisy = np.clip(picture + rng.normal(0, 3, picture.shape), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noisy[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1].copy()


def one_pass(finder: FaceRangeFinder, rgb: np.ndarray, face, f_px: float) -> float:  # type: ignore[no-untyped-def]
    """The crops framed once from BlazeFace's eye points (the former reading)."""
    centres = np.array([face.keypoints[0], face.keypoints[1]], np.float64)
    ipd = float(np.linalg.norm(centres[1] - centres[0]))
    diameters, _ = finder._iris_landmarks(_as_float_rgb(rgb), centres, ipd)
    iris = range_from_irises(diameters, f_px)
    eyes = range_from_eye_centres(tuple(face.keypoints[1]), tuple(face.keypoints[0]), f_px)
    return fuse_ranges([iris, eyes]).distance_m


def haar_eyes(cascade: cv2.CascadeClassifier, rgb: np.ndarray, box, f_px: float) -> float:  # type: ignore[no-untyped-def]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(x0, 0), max(y0, 0)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    eyes = cascade.detectMultiScale(grey, scaleFactor=1.05, minNeighbors=4,
                                    minSize=(max(4, (x1 - x0) // 12),) * 2)
    if len(eyes) < 2:
        return float("nan")
    two = sorted(eyes, key=lambda e: -e[2] * e[3])[:2]
    centres = [(x + w / 2, y + h / 2) for x, y, w, h in two]
    spacing = float(np.hypot(centres[0][0] - centres[1][0], centres[0][1] - centres[1][1]))
    return float(distance_from_size_m(spacing, IPD_MM, f_px))


def main() -> None:
    finder = FaceRangeFinder(Intrinsics.from_lens(50, 36, W, H))
    f_px = finder.intrinsics.fx
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_eye.xml"))
    methods = ("ours", "one pass", "detector eyes", "OpenCV Haar eyes")
    products: dict[str, dict[tuple[str, int], float]] = {m: {} for m in methods}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    rng = np.random.default_rng(7)
    missed = []
    for ground in GROUNDS:
        for size in SIZES:
            rgb = frame(size, ground, rng)
            faces = finder.detect(rgb)
            if not faces:
                missed.append((ground, size))
                continue
            face = faces[0]
            for method in methods:  # interleaved: load on the shared machine hits each alike
                t0 = time.perf_counter()
                if method == "ours":  # (a face whose eyes are under 10 px apart is not ranged: nan)
                    distance = finder.reading(rgb, 0.0, face).distance_m
                elif method == "one pass":
                    distance = one_pass(finder, rgb, face, f_px)
                elif method == "detector eyes":
                    distance = range_from_eye_centres(tuple(face.keypoints[1]), tuple(face.keypoints[0]),
                                                      f_px).distance_m
                else:
                    distance = haar_eyes(cascade, rgb, face.box, f_px)
                seconds[method].append(time.perf_counter() - t0)
                products[method][(ground, size)] = distance * size
    cases = [(g, s) for g in GROUNDS for s in SIZES if (g, s) not in missed]
    lines = [
        "# Face distance: distance × face size across face sizes (a pinhole camera keeps it constant)",
        "",
        f"Machine: {cpu_model()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Frames 1280×720, 50 mm on full "
        "frame; the astronaut's face pasted at each size over grey and over brick, noise σ 3/255, JPEG 85. "
        "Distance × size in m·px: the same value at every size is right; its spread is the error at "
        "some size (±7 % is the depth of field at 50 mm f/2, 3 m).",
        "",
        "| face px | ground | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for ground, size in cases:
        cells = [f"{products[m].get((ground, size), float('nan')):.0f}" for m in methods]
        lines.append(f"| {size} | {ground} | " + " | ".join(cells) + " |")
    lines += ["", "| method | sizes | spread (max / min) | coefficient of variation | faces read "
              "| ms per face |", "|---|---|---|---|---|---|"]
    for smallest in (SIZES[0], LARGE_FROM):
        for m in methods:
            kept = [(g, s) for g, s in cases if s >= smallest]
            values = np.array([v for k, v in products[m].items() if k in kept and np.isfinite(v)])
            spread = values.max() / values.min() if values.size else float("nan")
            cv = values.std() / values.mean() if values.size else float("nan")
            lines.append(f"| {m} | {smallest} px and up | {spread:.3f} | {100 * cv:.1f} % | {values.size} of "
                         f"{len(kept)} | {1000 * float(np.median(seconds[m])):.1f} |")
    if missed:
        lines += ["", f"No face found at all (every method skips it): {missed}."]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
