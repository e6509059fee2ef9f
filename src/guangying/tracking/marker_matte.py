"""Markers are on the screen, so they must leave the matte: where each marker lands in the frame, which
of its pixels still show the marker or the white paper it is printed on (not the actor in front of
them), and a fill from the screen plate.

All three are plain functions on arrays; the compositor's caller multiplies its alpha by
``1 − marker_alpha`` and/or fills the plate before keying.
"""

from __future__ import annotations

import numpy as np

from guangying.lens.camera import CameraPose, project_points_px
from guangying.tracking.board import MarkerBoard, marker_image
from guangying.tracking.board_pdf import sheet_size_mm

_EDGE_SAMPLES = 8  # points per marker edge, so lens distortion bends the outline
_SUPER = 4  # supersampling of the outline (anti-aliased coverage)
# the pattern test's window, in printed bits each side: inside a run of black bits it must still see an
# edge (at 1 bit a plain black coat over markers lost a third of them, at 3 bits under 1 %)
_PATTERN_BITS = 3.0


def _marker_outline_px(
    quad_m: np.ndarray, pose: CameraPose, camera_matrix: np.ndarray, dist_coeffs: np.ndarray | None
) -> np.ndarray:
    t = np.linspace(0.0, 1.0, _EDGE_SAMPLES, endpoint=False)[:, None]
    pts = np.concatenate([quad_m[k] + t * (quad_m[(k + 1) % 4] - quad_m[k]) for k in range(4)])
    return project_points_px(pts, pose, camera_matrix, dist_coeffs)


def _roi(outline: np.ndarray, grow: int, height: int, width: int) -> tuple[int, int, int, int] | None:
    x0, y0 = np.floor(outline.min(axis=0)).astype(int) - grow - 1
    x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + grow + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def sheet_quads_m(board: MarkerBoard) -> np.ndarray:
    """(N, 4, 3) world metres, OpenCV corner order: the sheet each marker is printed on, as
    ``guangying board --pdf`` prints it (the smallest ISO page holding the marker, its margins and
    caption, the marker at its centre). A sheet trimmed smaller leaves screen in the rest, which keys."""
    quads = np.asarray(board.corners_m, np.float64)
    right, down = quads[:, 1] - quads[:, 0], quads[:, 3] - quads[:, 0]
    right_m, down_m = np.linalg.norm(right, axis=1), np.linalg.norm(down, axis=1)
    pages_m = np.array([sheet_size_mm(side * 1000.0) for side in (right_m + down_m) / 2]) / 1000.0
    half_right = right * (pages_m[:, 0] / right_m / 2)[:, None]
    half_down = down * (pages_m[:, 1] / down_m / 2)[:, None]
    centre = quads.mean(axis=1)
    return np.stack([centre - half_right - half_down, centre + half_right - half_down,
                     centre + half_right + half_down, centre - half_right + half_down], axis=1)


def marker_coverage(
    board: MarkerBoard,
    pose: CameraPose,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None,
    height_px: int,
    width_px: int,
    grow_px: float = 2.0,
    sheets: bool = False,
) -> np.ndarray:
    """Where the board's markers are in the frame (hidden or not): float32 (H, W) 0–1, anti-aliased,
    grown by ``grow_px`` to take in blur and the tracking error. ``sheets``: where the sheets they are
    printed on are (:func:`sheet_quads_m`)."""
    import cv2

    out = np.zeros((height_px, width_px), np.float32)
    grow = int(np.ceil(grow_px))
    for quad in sheet_quads_m(board) if sheets else board.corners_m:
        if np.any(_depth(quad, pose) <= 0):
            continue
        outline = _marker_outline_px(quad, pose, camera_matrix, dist_coeffs)
        box = _roi(outline, grow, height_px, width_px)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        big = np.zeros(((y1 - y0) * _SUPER, (x1 - x0) * _SUPER), np.uint8)
        poly = np.round(((outline - [x0, y0]) + 0.5) * _SUPER - 0.5).astype(np.int32)
        cv2.fillPoly(big, [poly], 255, cv2.LINE_8)
        if grow_px > 0:
            r = max(1, int(round(grow_px * _SUPER)))
            big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        small = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        np.maximum(out[y0:y1, x0:x1], small, out=out[y0:y1, x0:x1])
    return out


def _depth(quad: np.ndarray, pose: CameraPose) -> np.ndarray:
    from guangying.lens.camera import rotation_world_from_cv

    r = rotation_world_from_cv(pose)
    return (quad - pose.position_m) @ r[:, 2]


def expected_marker_luma(
    board: MarkerBoard,
    pose: CameraPose,
    camera_matrix: np.ndarray,
    height_px: int,
    width_px: int,
    black: float,
    white: float,
) -> np.ndarray:
    """The markers as the camera should see them, luma 0–1 (H, W) float32 (nan off the markers); a
    pinhole warp of each printed marker between the measured ``black`` and ``white`` levels."""
    import cv2

    out = np.full((height_px, width_px), np.nan, np.float32)
    bits = int(board.aruco.markerSize) + 2
    side = bits * 16
    src = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32) - 0.5
    for marker_id, quad in zip(board.ids, board.corners_m, strict=True):
        if np.any(_depth(quad, pose) <= 0):
            continue
        corners = project_points_px(quad, pose, camera_matrix).astype(np.float32)
        box = _roi(corners, 1, height_px, width_px)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        h = cv2.getPerspectiveTransform(src, corners - np.array([x0, y0], np.float32))
        img = marker_image(board, int(marker_id), side).astype(np.float32) / 255.0
        img = black + (white - black) * img
        warped = cv2.warpPerspective(img, h, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA, borderValue=np.nan)
        inside = np.isfinite(warped)
        region = out[y0:y1, x0:x1]
        region[inside] = warped[inside]
    return out


def marker_alpha(
    rgb_srgb: np.ndarray,
    board: MarkerBoard,
    pose: CameraPose,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None = None,
    grow_px: float = 2.0,
    tolerance: float = 0.12,
    screen_srgb: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
    paper: bool = True,
) -> np.ndarray:
    """How much each pixel is a marker, or the paper around it, still in view: float32 (H, W) 0–1.

    Inside the markers' coverage a pixel counts as marker when it is grey (markers are black and
    white) and its luma is near what the printed marker should show there (levels measured from the
    frame itself); an actor in front of a marker differs in colour or brightness and keeps its matte.
    A black-and-white costume in front of a marker can be taken for it: the limit of a colour test.
    With ``screen_srgb`` (the clear screen's colour, sRGB (3,)) a pixel that mixes the print with the
    screen counts too: a marker's edge, or a marker smeared by motion blur or by 4:2:0 chroma, which
    the grey test left as an outline or a grey square. ``coverage``: :func:`marker_coverage` of the same
    frame and ``grow_px`` when the caller has it already. ``paper``: the white paper around each marker
    counts too, over the sheet the marker is printed on (:func:`sheet_quads_m`), where a pixel is grey
    and about as light as the print's white or a mix of it and the screen (the paper stayed as white
    squares over the set); a white costume in front of the paper can pass for it.
    """
    import cv2

    h, w = rgb_srgb.shape[:2]
    cover = coverage if coverage is not None else marker_coverage(board, pose, camera_matrix, dist_coeffs, h,
                                                                   w, grow_px)
    inside = cover > 0
    if not inside.any():
        return cover
    rgb = np.asarray(rgb_srgb, np.float32)
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    core = inside & (chroma < 0.15)
    if core.sum() < 16:
        return np.zeros((h, w), np.float32)
    black, white = np.percentile(luma[core], [5, 95])
    expected = expected_marker_luma(board, pose, camera_matrix, h, w, float(black), float(white))
    if dist_coeffs is not None and np.any(dist_coeffs):
        from guangying.lens.camera_calibration import distortion_maps

        mx, my = distortion_maps(camera_matrix, dist_coeffs, w, h)
        expected = cv2.remap(expected, mx, my, cv2.INTER_NEAREST, borderValue=np.nan)
    # a 3×3 min/max band of the expectation forgives blur and sub-pixel tracking error at bit edges
    filled = np.where(np.isfinite(expected), expected, luma)
    kernel = np.ones((3, 3), np.uint8)
    lo = cv2.erode(filled, kernel)
    hi = cv2.dilate(filled, kernel)
    luma_miss = np.maximum(np.maximum(lo - luma, luma - hi), 0.0)
    miss = luma_miss + np.maximum(chroma - 0.05, 0.0)
    if screen_srgb is not None:
        wide = np.ones((5, 5), np.uint8)  # a smear of a few pixels mixes more than the 3×3 band holds
        miss = np.minimum(miss, _print_and_screen_miss(rgb, cv2.erode(filled, wide), cv2.dilate(filled, wide),
                                                       np.asarray(screen_srgb, np.float32)))
    # a marker matches its print over a whole neighbourhood, an actor only by chance pixel by pixel
    # (a white sleeve over a white bit): take the worse of the pixel and its 7×7 surroundings
    miss = np.maximum(miss, cv2.blur(miss, (7, 7)))
    reach = int(round(_PATTERN_BITS * _bit_px(board, pose, camera_matrix, dist_coeffs, w, h)))
    window = max(7, 2 * reach + 1)
    # only around the markers, where a frame shows few of them: the rest has nothing to test
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    y0, y1 = max(rows[0] - window, 0), min(rows[-1] + window + 1, h)
    x0, x1 = max(cols[0] - window, 0), min(cols[-1] + window + 1, w)
    pattern = _pattern_miss(luma[y0:y1, x0:x1], filled[y0:y1, x0:x1], float(white - black), window)
    np.maximum(miss[y0:y1, x0:x1], 2.0 * tolerance * pattern, out=miss[y0:y1, x0:x1])
    match = np.clip(2.0 - miss / tolerance, 0.0, 1.0)
    markers = (cover * match).astype(np.float32)
    if not paper:
        return markers
    sheets = marker_coverage(board, pose, camera_matrix, dist_coeffs, h, w, grow_px, sheets=True)
    rows, cols = np.flatnonzero(sheets.any(axis=1)), np.flatnonzero(sheets.any(axis=0))
    box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # (the markers' coverage lies inside)
    paper_match = _paper_match(rgb[box], luma[box], chroma[box], float(black), float(white), screen_srgb,
                               tolerance)
    # on the print the print's tests alone decide, which a white costume rarely passes; around it (the
    # margin its coverage grows by included) is paper
    printed = marker_coverage(board, pose, camera_matrix, dist_coeffs, h, w, grow_px=0.0)
    paper_only = sheets[box] * (1.0 - printed[box])
    np.maximum(markers[box], paper_only * paper_match, out=markers[box])
    return markers


def _paper_match(rgb: np.ndarray, luma: np.ndarray, chroma: np.ndarray, black: float, white: float,
                 screen_srgb: np.ndarray | None, tolerance: float) -> np.ndarray:
    """0–1 per pixel: how much it looks like the print's paper (grey, at least half-way from the print's
    black to its white: a sheet lit less than the marker on it), or with ``screen_srgb`` like paper
    mixed with the screen (the sheet's edges)."""
    lightest = max(white + 2 * tolerance, 1.0)
    darkest = black + 0.5 * (white - black)
    miss = np.maximum(darkest - luma, 0.0) + 2.0 * np.maximum(chroma - 0.04, 0.0)
    if screen_srgb is not None:
        lo, hi = np.full(luma.shape, darkest, np.float32), np.full(luma.shape, lightest, np.float32)
        miss = np.minimum(miss, _print_and_screen_miss(rgb, lo, hi, np.asarray(screen_srgb, np.float32)))
    # stricter than the print's test, which also has the pattern to go by: plain paper has nothing else
    return np.clip(2.0 - miss / (tolerance / 2), 0.0, 1.0).astype(np.float32)


def _bit_px(board: MarkerBoard, pose: CameraPose, camera_matrix: np.ndarray, dist_coeffs: np.ndarray | None,
            width_px: int, height_px: int) -> float:
    """The median side in pixels of a printed bit (a marker's side over its bits and border) among the
    markers in front of the camera and in the picture; 0 when none is. All corners in one projection:
    one call a marker took 14 ms a frame for a board of 40."""
    quads = np.asarray(board.corners_m, np.float64)
    ahead = np.array([bool(np.all(_depth(quad, pose) > 0)) for quad in quads])
    if not ahead.any():
        return 0.0
    corners = project_points_px(quads[ahead].reshape(-1, 3), pose, camera_matrix, dist_coeffs)
    corners = corners.reshape(-1, 4, 2)
    seen = ((corners[..., 0].max(axis=1) >= 0) & (corners[..., 0].min(axis=1) < width_px)
            & (corners[..., 1].max(axis=1) >= 0) & (corners[..., 1].min(axis=1) < height_px))
    if not seen.any():
        return 0.0
    sides = np.linalg.norm(np.roll(corners[seen], -1, axis=1) - corners[seen], axis=2).mean(axis=1)
    return float(np.median(sides)) / (int(board.aruco.markerSize) + 2)


def _pattern_miss(luma: np.ndarray, expected: np.ndarray, contrast: float, window: int = 7) -> np.ndarray:
    """0–1 per pixel: how little the frame's luma follows the print's pattern where the print has one
    (its bits' edges within ``window``): 1 at no or negative correlation, 0 from 0.5 on. A plain grey or
    black surface in front of a marker (an actor's clothing) matched it pixel by pixel wherever the
    print was as dark or as light, and its matte was cut in the print's shape; only a marker shows the
    pattern. Where the print is plain over the window it says nothing: give a ``window`` several bits
    wide, so that inside a run of black bits it still sees an edge."""
    import cv2

    size = (window, window)
    mean_l, mean_e = cv2.blur(luma, size), cv2.blur(expected, size)
    var_l = np.maximum(cv2.blur(luma * luma, size) - mean_l * mean_l, 0.0)
    var_e = np.maximum(cv2.blur(expected * expected, size) - mean_e * mean_e, 0.0)
    covariance = cv2.blur(luma * expected, size) - mean_l * mean_e
    patterned = var_e > (0.15 * contrast) ** 2
    correlation = covariance / np.sqrt(var_l * var_e + 1e-8)
    return np.where(patterned, np.clip(1.0 - 2.0 * correlation, 0.0, 1.0), 0.0).astype(np.float32)


def _print_and_screen_miss(rgb: np.ndarray, lo: np.ndarray, hi: np.ndarray, screen: np.ndarray) -> np.ndarray:
    """How far each pixel is from a mix m·(g, g, g) + (1 − m)·screen of a grey g the print may show
    there (``lo``–``hi``) and the screen: the least-squares fit of p − screen = a·(1, 1, 1) − m·screen
    (a = m·g), its residual, plus how far g = a/m lies outside the print's band."""
    basis = np.stack([np.ones(3, np.float32), -screen], axis=1)  # (3, 2), the same for every pixel
    offset = rgb - screen
    a_m = offset @ np.linalg.pinv(basis).T.astype(np.float32)
    residual = np.linalg.norm(offset - a_m @ basis.T, axis=2)
    a, m = a_m[..., 0], a_m[..., 1]
    grey = a / np.maximum(m, 1e-3)
    outside = np.maximum(np.maximum(lo - grey, grey - hi), 0.0) * np.clip(m, 0.0, 1.0)
    return (residual + outside + np.maximum(-m, 0.0) + np.maximum(m - 1.0, 0.0)).astype(np.float32)


def fill_from_screen(rgb: np.ndarray, alpha_marker: np.ndarray, screen_rgb: np.ndarray) -> np.ndarray:
    """The plate with its markers replaced by the screen plate (same colour space as ``rgb``):
    ``rgb·(1 − a) + screen·a``, float32 (H, W, 3)."""
    a = np.asarray(alpha_marker, np.float32)[..., None]
    return (np.asarray(rgb, np.float32) * (1.0 - a) + np.asarray(screen_rgb, np.float32) * a).astype(
        np.float32
    )
