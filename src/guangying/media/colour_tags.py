"""Colour tags of a video stream (transfer, primaries) or an EXR (chromaticities) → the pipeline's
colour: BT.709 primaries.

The pipeline works in BT.709/sRGB primaries, on sRGB-coded frames (Rec.709 video is read as sRGB, as
players show it) or scene-linear ones (EXR). A phone's HDR clip (HLG or PQ, BT.2020 primaries; an
iPhone records HLG by default) or a Display P3 screen recording read that way looks flat and
desaturated, and its composite is wrong. Such a stream is converted to scene-linear BT.709 instead, with
the reference white of ITU-R BT.2408 (HLG 75 %, PQ 203 cd/m²) at 1.0: diffuse whites land where an SDR
clip's do, highlights above it stay above 1 in the frames read; the pipeline rolls them off into its SDR
picture (:mod:`guangying.media.highlights`). An EXR whose
header names other chromaticities (ACES2065-1, ACEScg) is converted to BT.709 primaries likewise, its
white adapted to D65 by the Bradford transform, as OpenColorIO's ACES configs do.

ffmpeg's own ``colorspace`` filter, the one in PyAV's build, knows neither HLG nor PQ, and ``zscale``
(zimg) is not built in, so the two BT.2100 curves are written here; they are short, closed formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from guangying.base.colour import srgb_to_linear
from guangying.media.opencv import cv2

# AVColorTransferCharacteristic and AVColorPrimaries values (libavutil/pixfmt.h).
TRC_PQ = 16  # SMPTE ST 2084
TRC_HLG = 18  # ARIB STD-B67
TRC_LINEAR = 8
PRIMARIES_BT2020 = 9
PRIMARIES_DISPLAY_P3 = 12

_D65 = (0.3127, 0.3290)
# (red, green, blue, white) chromaticities, xy (ITU-R BT.709, BT.2020; SMPTE EG 432-1).
_CHROMATICITIES: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), _D65),
    PRIMARIES_BT2020: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), _D65),
    PRIMARIES_DISPLAY_P3: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), _D65),
}
_TRANSFER_NAMES = {TRC_PQ: "PQ", TRC_HLG: "HLG", TRC_LINEAR: "linear"}
_PRIMARIES_NAMES = {PRIMARIES_BT2020: "BT.2020", PRIMARIES_DISPLAY_P3: "Display P3"}

# BT.2100 HLG inverse OETF constants, and the scene light of its reference white (signal 0.75).
_HLG_A = 0.17883277
_HLG_B = 1.0 - 4.0 * _HLG_A
_HLG_C = 0.5 - _HLG_A * float(np.log(4.0 * _HLG_A))
_HLG_REFERENCE_SIGNAL = 0.75
# BT.2100 PQ (SMPTE ST 2084) EOTF constants; absolute light in cd/m².
_PQ_M1 = 2610.0 / 16384.0
_PQ_M2 = 2523.0 / 4096.0 * 128.0
_PQ_C1 = 3424.0 / 4096.0
_PQ_C2 = 2413.0 / 4096.0 * 32.0
_PQ_C3 = 2392.0 / 4096.0 * 32.0
PQ_REFERENCE_WHITE_CD_M2 = 203.0  # BT.2408's HDR reference white
# The peak most PQ grades (and phones) are mastered to, for a stream without HDR10 metadata.
PQ_GRADING_PEAK_CD_M2 = 1000.0


def _hlg_scene_light(signal: np.ndarray) -> np.ndarray:
    e = np.clip(signal, 0.0, 1.0)
    low = e * e / 3.0
    high = (np.exp((np.maximum(e, 0.5) - _HLG_C) / _HLG_A) + _HLG_B) / 12.0
    return np.where(e <= 0.5, low, high)


_HLG_REFERENCE_LIGHT = float(_hlg_scene_light(np.array(_HLG_REFERENCE_SIGNAL)))
HLG_PEAK = 1.0 / _HLG_REFERENCE_LIGHT  # an HLG signal's top, relative to its reference white: about 3.8


def hlg_to_linear(signal: np.ndarray) -> np.ndarray:
    """BT.2100 HLG signal (0–1) → scene-linear light, float32, reference white (signal 0.75) at 1.0
    (the HLG peak is then about 3.8). The inverse OETF only: scene light, without the display's OOTF."""
    return (_hlg_scene_light(np.asarray(signal, np.float32)) / _HLG_REFERENCE_LIGHT).astype(np.float32)


def pq_to_linear(signal: np.ndarray) -> np.ndarray:
    """BT.2100 PQ signal (0–1) → display light relative to 203 cd/m² (BT.2408 reference white = 1.0),
    float32; 10 000 cd/m² (signal 1) is about 49."""
    p = np.power(np.clip(np.asarray(signal, np.float32), 0.0, 1.0), np.float32(1.0 / _PQ_M2))
    y = np.power(np.maximum(p - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * p), np.float32(1.0 / _PQ_M1))
    return (y * np.float32(10000.0 / PQ_REFERENCE_WHITE_CD_M2)).astype(np.float32)


def linear_to_pq(light: np.ndarray) -> np.ndarray:
    """The inverse of :func:`pq_to_linear`: light relative to 203 cd/m² → PQ signal (0–1), float32."""
    y = np.clip(np.asarray(light, np.float32) * np.float32(PQ_REFERENCE_WHITE_CD_M2 / 10000.0), 0.0, 1.0)
    p = np.power(y, np.float32(_PQ_M1))
    return np.power((_PQ_C1 + _PQ_C2 * p) / (1.0 + _PQ_C3 * p), np.float32(_PQ_M2)).astype(np.float32)


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The RGB → XYZ matrix of a set of primaries and white (SMPTE RP 177)."""
    xyz = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in primaries], np.float64)
    rgb_columns = xyz[:3].T
    scale = np.linalg.solve(rgb_columns, xyz[3])
    return rgb_columns * scale


_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz_of_white(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


@cache
def chromaticities_to_bt709(chromaticities: tuple[float, ...]) -> np.ndarray | None:
    """3×3 float32 matrix taking linear RGB of the primaries and white ``chromaticities`` (x, y of red,
    green, blue and white: EXR's attribute order) to linear BT.709 RGB, applied as ``rgb @ m.T`` (or
    ``cv2.transform``); a white other than D65 is adapted to it (Bradford). None for BT.709's own."""
    if len(chromaticities) != 8 or not all(np.isfinite(chromaticities)):
        return None
    corners = tuple((chromaticities[k], chromaticities[k + 1]) for k in range(0, 8, 2))
    if names_bt709(chromaticities):
        return None
    if any(y == 0 for _, y in corners) or corners[3][1] < 0:
        # a zeroed or damaged attribute (ACES AP0's blue does lie below y = 0; a white cannot): BT.709
        return None
    try:
        source = _rgb_to_xyz(corners)
    except np.linalg.LinAlgError:
        return None  # degenerate primaries: read as BT.709
    cone_ratio = (_BRADFORD @ _xyz_of_white(_D65)) / (_BRADFORD @ _xyz_of_white(corners[3]))
    adapt = np.linalg.solve(_BRADFORD, np.diag(cone_ratio) @ _BRADFORD)
    return np.linalg.solve(_rgb_to_xyz(_CHROMATICITIES[1]), adapt @ source).astype(np.float32)


def names_bt709(chromaticities: tuple[float, ...]) -> bool:
    """Whether EXR ``chromaticities`` are BT.709's own primaries and white (to 1e-3)."""
    bt709 = np.ravel(_CHROMATICITIES[1])
    return len(chromaticities) == 8 and bool(np.allclose(chromaticities, bt709, atol=1e-3))


def bt709_to_chromaticities(chromaticities: tuple[float, ...]) -> np.ndarray | None:
    """The inverse of :func:`chromaticities_to_bt709`: linear BT.709 RGB back to the primaries and
    white ``chromaticities`` (an output written in its source's working space); None for BT.709's own
    and for values :func:`chromaticities_to_bt709` reads as BT.709."""
    to_bt709 = chromaticities_to_bt709(chromaticities)
    return None if to_bt709 is None else np.linalg.inv(to_bt709.astype(np.float64)).astype(np.float32)


def primaries_to_bt709(primaries: int) -> np.ndarray | None:
    """:func:`chromaticities_to_bt709` of ``primaries``, an AVColorPrimaries value; None when they are
    BT.709's or unknown (read as BT.709, as players do)."""
    if primaries not in _CHROMATICITIES:
        return None
    return chromaticities_to_bt709(tuple(float(v) for corner in _CHROMATICITIES[primaries] for v in corner))


def signal_to_linear(transfer: int, signal: np.ndarray) -> np.ndarray:
    """R'G'B' in 0–1 (float) of the AVColorTransferCharacteristic ``transfer`` → linear light, float32;
    SDR curves (BT.709, BT.2020, sRGB) are read as sRGB, as the rest of the pipeline reads video."""
    if transfer == TRC_HLG:
        return hlg_to_linear(signal)
    if transfer == TRC_PQ:
        return pq_to_linear(signal)
    if transfer == TRC_LINEAR:
        return np.asarray(signal, np.float32)
    return srgb_to_linear(signal)


@cache
def _curve_table(transfer: int, code_bytes: int) -> np.ndarray:
    codes = np.arange(256**code_bytes, dtype=np.float64) / (256**code_bytes - 1)
    return signal_to_linear(transfer, codes.astype(np.float32))


@dataclass(frozen=True, slots=True)
class StreamColour:
    """A stream's transfer and primaries tags (AVColorTransferCharacteristic, AVColorPrimaries), and
    the brightest light its HDR10 metadata names (cd/m²: MaxCLL, else the mastering display's peak)."""

    transfer: int
    primaries: int
    peak_cd_m2: float | None = None

    @property
    def converted(self) -> bool:
        """True when frames are converted to scene-linear BT.709 (HDR transfer or wide primaries)."""
        wide = primaries_to_bt709(self.primaries) is not None
        return wide or self.transfer in (TRC_HLG, TRC_PQ, TRC_LINEAR)

    @property
    def highlight_peak(self) -> float | None:
        """The brightest light the stream can hold, relative to its reference white (HLG: signal 1, about
        3.8; PQ: the grade's peak from its HDR10 metadata, else an assumed 1000 cd/m², about 4.9); None
        for SDR streams."""
        if self.transfer == TRC_HLG:
            return HLG_PEAK
        if self.transfer == TRC_PQ:
            return (self.peak_cd_m2 or PQ_GRADING_PEAK_CD_M2) / PQ_REFERENCE_WHITE_CD_M2
        return None

    def describe(self) -> str:
        names = (_TRANSFER_NAMES.get(self.transfer), _PRIMARIES_NAMES.get(self.primaries))
        return ", ".join(n for n in names if n)

    def to_linear_bt709(self, rgb_codes: np.ndarray) -> np.ndarray:
        """Decoded R'G'B' (uint8 / uint16 code values, or float 0–1; the stream's own transfer and
        primaries) → scene-linear BT.709, float32 (H, W, 3); values may exceed 1 (HDR highlights) or
        fall below 0 (colours outside BT.709)."""
        if rgb_codes.dtype in (np.uint8, np.uint16):
            # A table of every code value: a 1080p frame in 20–35 ms, against 90–125 ms through the
            # curves' exp and pow (this 2-core machine).
            rgb = _curve_table(self.transfer, rgb_codes.dtype.itemsize)[rgb_codes]
        else:
            rgb = signal_to_linear(self.transfer, rgb_codes)
        matrix = primaries_to_bt709(self.primaries)
        if matrix is not None:
            rgb = cv2.transform(rgb, matrix)
        return rgb

    def note(self, source: str) -> str:
        """What happens to this stream's frames, for a warning."""
        if self.highlight_peak is None:
            # an SDR clip in wider primaries (BT.2020, P3) was told of HDR reference whites and roll-off,
            # which read as if it had been taken for HDR
            return (f"{source} is tagged {self.describe()}: its colours are converted to BT.709 primaries; "
                    "its light is read as other SDR video's is (it is not HDR).")
        return (f"{source} is tagged {self.describe()}: its frames are converted to scene-linear BT.709 "
                "(reference white at 1.0: HLG 75 %, PQ 203 cd/m²). Keying and compositing roll light above "
                "reference white off into SDR (ITU-R BT.2390, hue kept) and clip colours outside BT.709.")
