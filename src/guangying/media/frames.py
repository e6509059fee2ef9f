"""The frame and clip records that flow between stages."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

Transfer = Literal["srgb", "linear"]
# "held": not decoded, the picture is the nearest good frame's; "artefacts": decoded, but the decoder
# reported errors in it or in the frame it is predicted from, so it may show blocks.
Damage = Literal["held", "artefacts"]


@dataclass(slots=True)
class Frame:
    """One picture of a clip.

    ``rgb`` is float32, shape (H, W, 3), channel order R, G, B. Display-referred sources (8/10/16-bit
    video, PNG, JPEG, TIFF) arrive sRGB-encoded in 0–1 (``transfer="srgb"``); EXR arrives
    scene-linear (``transfer="linear"``, values may exceed 1), and so does video tagged HDR (HLG, PQ)
    or wide-gamut (BT.2020, Display P3), converted to BT.709 primaries with its reference white at 1.0.
    ``alpha`` is float32 (H, W) in 0–1, straight (not premultiplied), or None when the source has no
    alpha. ``damage`` is None for a frame read whole; "held" when the source frame could not be decoded
    and the picture is the nearest good frame's, "artefacts" when it was decoded with errors (see
    :mod:`guangying.media.damage`).
    """

    index: int
    rgb: np.ndarray
    alpha: np.ndarray | None = None
    transfer: Transfer = "srgb"
    time_s: float = 0.0
    timecode: str | None = None
    damage: Damage | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass(slots=True)
class ClipInfo:
    """What a reader knows about its source before decoding it."""

    path: str
    kind: Literal["video", "sequence", "image"]
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    # False when frame_count is estimated from the duration (mkv, webm, MPEG-TS): the clip is read to
    # its real end, which may come a few frames sooner or later
    frame_count_exact: bool = True
    first_frame: int = 0
    bit_depth: int = 8
    has_alpha: bool = False
    timecode: str | None = None
    reel_name: str | None = None  # the camera roll a video names (a MOV's timecode track, an MXF's)
    variable_rate: bool = False  # frame times stray from a constant rate (phone/screen recordings)
    # HDR video (HLG, PQ) or camera log: its brightest light relative to reference white, from which the
    # pipeline's SDR picture is rolled off (guangying.media.display_srgb); None for SDR sources and EXR
    highlight_peak: float | None = None
    camera_log: str | None = None  # the camera log its frames were converted from (media.camera_log)
    # a pixel's width over its height as the picture is shown (2 for an anamorphic 2× plate, 4/3 for
    # HDV's 1440×1080): frames are processed as stored, and outputs carry it so they show the same
    pixel_aspect: Fraction = Fraction(1)
    # a linear source's working space when not BT.709 (an ACEScg plate: its EXR header's chromaticities,
    # or --camera-log acescg), as x, y of red, green, blue and white: EXR outputs are written back in it
    primaries: tuple[float, ...] | None = None
    # whether the colour is stored at less resolution than the luma (4:2:0, 4:2:2 video: True; 4:4:4 or
    # RGB video: False); None where the storage does not tell (pictures, which may hold either)
    chroma_subsampled: bool | None = None
