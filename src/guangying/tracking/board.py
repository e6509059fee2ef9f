"""Marker boards: which ArUco/AprilTag markers sit where on the screen (world metres).

Board file (JSON)::

    {"dictionary": "DICT_4X4_50",
     "markers": [{"id": 0, "corners_m": [[x, y, z], [x, y, z], [x, y, z], [x, y, z]]}, …]}

Corners are in OpenCV's order: top-left, top-right, bottom-right, bottom-left of the marker as
printed (upright), in the world frame of :mod:`guangying.lens.camera` (the screen's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guangying.base.atomic import check_written_as, write_text as atomic_write_text
from guangying.base.errors import InputFormatError, SettingsError
from guangying.base.files import FileContentError, parse_json_or_yaml


def dictionary_names() -> list[str]:
    """The OpenCV marker dictionaries a board may name (``DICT_4X4_50`` … ``DICT_APRILTAG_36h11``)."""
    import cv2

    return sorted(
        n
        for n in dir(cv2.aruco)
        if n.startswith("DICT_") and not n.endswith(("H5", "H9", "H10", "H11", "H12"))
    )


def aruco_dictionary(name: str, where: str = "board"):  # type: ignore[no-untyped-def]
    """The ``cv2.aruco.Dictionary`` called ``name``; the error lists the known names."""
    import cv2

    key = str(name).strip()
    if not key.upper().startswith("DICT_"):
        key = "DICT_" + key
    # AprilTag names are mixed case in OpenCV (DICT_APRILTAG_36h11); accept any case
    lookup = {n.upper(): n for n in dictionary_names()}
    real = lookup.get(key.upper())
    if real is None:
        raise InputFormatError(
            f"{where}: unknown marker dictionary {name!r}; known: {', '.join(dictionary_names())}"
        )
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, real))


def _dictionary_size(dictionary) -> int:  # type: ignore[no-untyped-def]
    return int(dictionary.bytesList.shape[0])


_MAX_CORNER_M = 1e4  # 10 km: no screen is larger; beyond, a unit slip or damage
# A printed marker wider than this is a board written in millimetres (a 0.2 m marker read as 200 m
# tracked the camera 3 km away, without a word)
_MAX_MARKER_M = 5.0


@dataclass(frozen=True)
class MarkerBoard:
    """``ids`` int (N,), ``corners_m`` float64 (N, 4, 3) world metres in OpenCV corner order."""

    dictionary: str
    ids: np.ndarray
    corners_m: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        where = self.source
        d = aruco_dictionary(self.dictionary, where)
        ids = np.asarray(self.ids, np.int64).ravel()
        corners = np.asarray(self.corners_m, np.float64)
        if ids.size == 0:
            raise InputFormatError(f"{where}: the board has no markers")
        if corners.shape != (ids.size, 4, 3) or not np.all(np.isfinite(corners)):
            raise InputFormatError(
                f"{where}: each marker needs corners_m: 4 corners of 3 finite numbers (metres)"
            )
        if np.abs(corners).max() > _MAX_CORNER_M:  # before the geometry below overflows on them
            raise InputFormatError(f"{where}: a marker corner lies {np.abs(corners).max():.3g} m from the "
                                   "origin: corners_m are metres on the screen; was it written in mm?")
        size = _dictionary_size(d)
        bad = ids[(ids < 0) | (ids >= size)]
        if bad.size:
            listed = bad[:8].tolist()  # a 100×100 grid named 9000 ids, a 60 kB message
            more = f" and {bad.size - 8} more" if bad.size > 8 else ""
            raise InputFormatError(
                f"{where}: {bad.size} marker id(s) not in {self.dictionary} (ids 0–{size - 1}): "
                f"{listed}{more}"
            )
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise InputFormatError(f"{where}: marker id(s) {uniq[counts > 1].tolist()} appear more than once")
        for i, quad in zip(ids, corners, strict=True):
            sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
            area = 0.5 * np.linalg.norm(np.cross(quad[2] - quad[0], quad[3] - quad[1]))
            if sides.max() > _MAX_MARKER_M:
                raise InputFormatError(
                    f"{where}: marker {i} is {sides.max():.4g} m wide: corners_m are metres on the screen "
                    "(printed markers are centimetres to a metre or two); was it written in millimetres?")
            if sides.min() < 1e-4 or area < 0.25 * sides.max() ** 2:
                raise InputFormatError(
                    f"{where}: marker {i} corners do not form a square-ish quad "
                    f"(sides {np.round(sides, 4).tolist()} m)"
                )
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "corners_m", corners)

    @property
    def aruco(self):  # type: ignore[no-untyped-def]
        return aruco_dictionary(self.dictionary, self.source)

    def corners_for(self, ids: np.ndarray) -> np.ndarray:
        """World corners (K, 4, 3) of the markers ``ids`` (all must be on the board)."""
        index = {int(i): k for k, i in enumerate(self.ids)}
        return self.corners_m[[index[int(i)] for i in np.asarray(ids).ravel()]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dictionary": self.dictionary,
            "markers": [
                {"id": int(i), "corners_m": np.round(c, 6).tolist()}
                for i, c in zip(self.ids, self.corners_m, strict=True)
            ],
        }

    def save(self, path: str | Path) -> Path:
        check_written_as(Path(path), (".json",), "a marker board")
        data = self.to_dict()
        lines = [json.dumps(m) for m in data["markers"]]  # one marker per line: easy to read and diff
        head = f'{{"dictionary": {json.dumps(self.dictionary)},\n "markers": [\n  '
        text = head + ",\n  ".join(lines) + "\n ]}\n"
        return atomic_write_text(Path(path), text)


def board_from_dict(data: Any, source: str = "<memory>") -> MarkerBoard:
    if not isinstance(data, dict) or "dictionary" not in data or "markers" not in data:
        raise InputFormatError(
            f'{source}: a board is {{"dictionary": "DICT_4X4_50", '
            f'"markers": [{{"id": 0, "corners_m": [...]}}]}}'
        )
    markers = data["markers"]
    if not isinstance(markers, list):
        raise InputFormatError(f"{source}: 'markers' must be a list")
    ids, corners = [], []
    for k, m in enumerate(markers):
        if not isinstance(m, dict) or "id" not in m or "corners_m" not in m:
            raise InputFormatError(f"{source}: marker {k} needs 'id' and 'corners_m'")
        raw_id = m["id"]
        if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not 0 <= raw_id < 1 << 31:
            raise InputFormatError(f"{source}: marker {k}: id must be a whole number ≥ 0, got {raw_id!r}")
        ids.append(raw_id)
        try:
            quad = np.asarray(m["corners_m"], np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputFormatError(f"{source}: marker {k}: {exc}") from exc
        if quad.shape != (4, 3):
            raise InputFormatError(
                f"{source}: marker {m['id']}: corners_m must be 4 × [x, y, z], got shape {quad.shape}"
            )
        corners.append(quad)
    return MarkerBoard(str(data["dictionary"]), np.array(ids), np.array(corners).reshape(-1, 4, 3), source)


def load_board(path: str | Path) -> MarkerBoard:
    """Read a board file; errors name the file and the marker."""
    p = Path(path)
    try:
        data = parse_json_or_yaml(p.read_text(encoding="utf-8"), as_json=True)
    except OSError as exc:
        raise InputFormatError(f"cannot read board file {p}: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, FileContentError) as exc:
        raise InputFormatError(f"{p}: not a JSON board file ({exc})") from exc
    return board_from_dict(data, str(p))


def grid_board(
    cols: int,
    rows: int,
    marker_m: float,
    gap_m: float,
    dictionary: str = "DICT_4X4_50",
    centre_x_m: float = 0.0,
    centre_y_m: float = 0.0,
    first_id: int = 0,
) -> MarkerBoard:
    """``cols × rows`` upright markers of side ``marker_m`` with ``gap_m`` between them on the screen
    plane (z = 0), centred on (``centre_x_m``, ``centre_y_m``); ids row by row from the top left."""
    if cols < 1 or rows < 1:
        raise SettingsError(f"the grid needs at least 1×1 markers, got {cols}×{rows}")
    if not (marker_m > 0 and gap_m >= 0):
        raise SettingsError(f"marker size must be > 0 and gap ≥ 0 m, got {marker_m} and {gap_m}")
    size = _dictionary_size(aruco_dictionary(dictionary, "--dictionary"))
    if first_id < 0 or first_id + cols * rows > size:
        raise SettingsError(
            f"a {cols}×{rows} grid from id {first_id} needs ids {first_id}–{first_id + cols * rows - 1}; "
            f"{dictionary} has ids 0–{size - 1}: choose a smaller grid or a larger dictionary")
    pitch = marker_m + gap_m
    width, height = cols * pitch - gap_m, rows * pitch - gap_m
    ids, corners = [], []
    for r in range(rows):
        for c in range(cols):
            x0 = centre_x_m - width / 2 + c * pitch
            y1 = centre_y_m + height / 2 - r * pitch  # top edge
            corners.append(
                [
                    [x0, y1, 0],
                    [x0 + marker_m, y1, 0],
                    [x0 + marker_m, y1 - marker_m, 0],
                    [x0, y1 - marker_m, 0],
                ]
            )
            ids.append(first_id + r * cols + c)
    return MarkerBoard(dictionary, np.array(ids), np.array(corners, np.float64))


def parse_grid(text: str) -> tuple[int, int]:
    """``"8x5"`` → (8, 5)."""
    try:
        cols, rows = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError as exc:
        raise SettingsError(f"grid must look like COLSxROWS (e.g. 8x5), got {text!r}") from exc
    return cols, rows


def marker_image(board: MarkerBoard, marker_id: int, side_px: int) -> np.ndarray:
    """The printed marker ``marker_id`` (with its black border), uint8 (side_px, side_px), 0/255."""
    import cv2

    return cv2.aruco.generateImageMarker(board.aruco, int(marker_id), int(side_px), borderBits=1)
