"""Camera log footage (S-Log3, V-Log, C-Log, LogC3 …) → scene-linear BT.709.

A camera shooting log stores a flat picture: a logarithmic curve over a wide gamut, which no video
tag names, so a player (and a reader that takes it for Rec.709) shows it grey and desaturated, and
its composite over a set is wrong. Converted instead, as Resolve's input colour space or Nuke's Read
colourspace does, 18 % grey lands on 0.18 and 90 % white on 0.9, as in an EXR, and the highlights
the curve holds (S-Log3's top video-range code is 18.5 times diffuse white) stay above 1 for the
pipeline's roll-off.

The curves and gamuts are colour-science's, from the makers' documents. Every curve here but Apple
Log's is defined on the 10-bit code value the camera stores, as a fraction of 1023 (S-Log3's 18 %
grey is code 420); a file tagged limited range decodes to 0–1 from codes 64–940, so the code is
recovered first.

Sony cameras say which curve they shot in an XML file beside the clip (``C0001M01.XML``) or inside
it; :func:`detect_camera_log` reads that. Other cameras do not, so ``camera_log=`` names it.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from guangying.base.errors import SettingsError
from guangying.media.colour_tags import HLG_PEAK, StreamColour
from guangying.media.isobmff import top_level_box
from guangying.media.opencv import cv2

# name: (title, colour-science log decoding, colour-science RGB colourspace)
_ENCODINGS = {
    "slog3-sgamut3cine": ("S-Log3 / S-Gamut3.Cine", "S-Log3", "S-Gamut3.Cine"),
    "slog3-sgamut3": ("S-Log3 / S-Gamut3", "S-Log3", "S-Gamut3"),
    "slog2-sgamut": ("S-Log2 / S-Gamut", "S-Log2", "S-Gamut"),
    "vlog-vgamut": ("V-Log / V-Gamut", "V-Log", "V-Gamut"),
    "clog2-cinemagamut": ("Canon Log 2 / Cinema Gamut", "Canon Log 2", "Cinema Gamut"),
    "clog3-cinemagamut": ("Canon Log 3 / Cinema Gamut", "Canon Log 3", "Cinema Gamut"),
    "logc3-awg3": ("ARRI LogC3 (EI 800) / ARRI Wide Gamut 3", "ARRI LogC3", "ARRI Wide Gamut 3"),
    "logc4-awg4": ("ARRI LogC4 / ARRI Wide Gamut 4", "ARRI LogC4", "ARRI Wide Gamut 4"),
    "flog2-fgamut": ("F-Log2 / F-Gamut", "F-Log2", "F-Gamut"),
    "nlog-bt2020": ("N-Log / BT.2020", "N-Log", "ITU-R BT.2020"),
    "applelog-bt2020": ("Apple Log / BT.2020", "Apple Log Profile", "ITU-R BT.2020"),
    # Linear pictures in a wider working space: a VFX plate or render in ACES, whose EXR names no
    # chromaticities (Nuke writes none unless asked), so it would be read as BT.709.
    "acescg": ("ACEScg (linear, AP1)", "", "ACEScg"),
    "aces2065-1": ("ACES2065-1 (linear, AP0)", "", "ACES2065-1"),
}
LINEAR_SPACES = tuple(name for name, (_, curve, _) in _ENCODINGS.items() if not curve)  # no curve: linear
# Apple's white paper defines its curve on the signal normalised to 0–1, which a video-range file
# decodes to directly (as community decoders read iPhone clips), not on the 10-bit code over 1023.
_ON_DECODED_SIGNAL = {"applelog-bt2020"}
# the reader does not know whether it reads the footage or the background, whose option is another
_NOT_LOG = "--camera-log none (a background: --background-log none)"
CAMERA_LOG_NAMES = tuple(_ENCODINGS)
_LIMITED_BLACK, _LIMITED_SPAN = 64 / 1023, 876 / 1023
# Sony's CaptureGammaEquation (and CaptureColorPrimaries) values in its clip XML
_SONY_GAMMAS = {"s-log3-cine": "slog3-sgamut3cine", "s-log2": "slog2-sgamut"}
_SONY_ITEM = re.compile(rb'name="(CaptureGammaEquation|CaptureColorPrimaries)"\s+value="([^"]*)"')


@dataclass(frozen=True, slots=True)
class CameraLog:
    """One camera's log encoding, read from a file whose code values are full range or limited
    (``full_range``). Used where a stream's :class:`~guangying.media.colour_tags.StreamColour` is:
    it converts the decoded R'G'B' to scene-linear BT.709."""

    name: str
    full_range: bool = False
    source: str = "as asked"  # why it applies, for the warning

    @property
    def title(self) -> str:
        return _ENCODINGS[self.name][0]

    @property
    def converted(self) -> bool:
        return True

    @property
    def linear(self) -> bool:
        """A linear working space (ACEScg …), for linear pictures, rather than a log curve for code values."""
        return self.name in LINEAR_SPACES

    @property
    def highlight_peak(self) -> float | None:
        """The light the keyer's SDR picture rolls off to, relative to diffuse white (1.0): an HLG
        stream's top (about 3.8; above it the light is scaled onto white, hue kept), or the curve's own
        top where that is lower; None for a linear space. Taken to the curve's top (S-Log3 18.5, LogC4
        197), BT.2390's knee fell to 0.12–0.32 and diffuse white came out at 0.52–0.69: a log subject
        darker than the set's white in every composite, where light under half of diffuse white was to
        pass as an HDR clip's does."""
        if self.linear:
            return None
        return min(float(self._decode(np.array([1.0], np.float64))[0]), HLG_PEAK)

    def for_range(self, full_range: bool) -> CameraLog:
        return dataclasses.replace(self, full_range=full_range)

    def to_linear_bt709(self, rgb_codes: np.ndarray) -> np.ndarray:
        """Decoded R'G'B' (uint8 / uint16 code values, or float 0–1 of such) → scene-linear BT.709, float32
        (H, W, 3); colours outside BT.709 go below 0, highlights above 1. A linear space's pictures are
        linear light already (float) and only change primaries."""
        if self.linear:
            return cv2.transform(np.asarray(rgb_codes, np.float32), _to_bt709(self.name))
        rgb_codes = self._as_codes(rgb_codes)
        linear = _table(self.name, self.full_range, rgb_codes.dtype.itemsize)[rgb_codes]
        return cv2.transform(linear, _to_bt709(self.name))

    def note(self, source: str) -> str:
        if self.linear:
            return (f"{source} is {self.title} ({self.source}): its frames are converted to BT.709 "
                    "primaries (Bradford from ACES's white), and EXR outputs written back in it. If it is "
                    "not, give " + _NOT_LOG)
        return (f"{source} is {self.title} ({self.source}): its frames are converted to scene-linear BT.709 "
                "(18 % grey at 0.18). Keying and compositing roll light above diffuse white off into SDR. "
                "If the clip is not log, give " + _NOT_LOG)

    def mismatch_note(self, rgb_codes: np.ndarray) -> str | None:
        """A warning's words when over 0.5 % of a picture's pixels (decoded R'G'B' code values, as
        :meth:`to_linear_bt709` takes them) have every channel far under the curve's own black (by 2 % of
        the code range: 20 of 1023): footage in another encoding, such as a Rec.709 clip's shadows (code
        64) under S-Log3's black (95), which was read up to 17 times too bright without a word. A log
        camera's noise stays within a few codes of its black."""
        if self.linear:
            return None
        codes = self._as_codes(rgb_codes[..., :3])
        table = _table(self.name, self.full_range, codes.dtype.itemsize)
        margin = 0.02 * (table.size - 1)
        if not (self.full_range or self.name in _ON_DECODED_SIGNAL):
            margin /= _LIMITED_SPAN  # the decoded signal spans 876 of the 1023 codes
        under = np.count_nonzero(codes.max(axis=-1) < np.searchsorted(table, 0.0) - margin)
        share = under / max(1, codes[..., 0].size)
        if share <= 0.005:
            return None
        return (f"{share:.1%} of its first picture lies far below {self.title}'s black, where that "
                f"curve holds no light: it is probably not {self.title} footage (a Rec.709 clip's shadows "
                "lie there). Check what the camera recorded; if the clip is not log, give " + _NOT_LOG)

    @staticmethod
    def _as_codes(rgb_codes: np.ndarray) -> np.ndarray:
        # Floats come from 8/16-bit pictures: as 16-bit codes they index the table exactly, where the
        # curve evaluated per pixel took 0.75 s a 1080p frame (0.017 s by table).
        if rgb_codes.dtype in (np.uint8, np.uint16):
            return rgb_codes
        return (np.clip(rgb_codes, 0.0, 1.0) * 65535 + 0.5).astype(np.uint16)

    def _decode(self, signal: np.ndarray) -> np.ndarray:
        if self.full_range or self.name in _ON_DECODED_SIGNAL:
            return _decode(self.name, signal)
        return _decode(self.name, _LIMITED_BLACK + _LIMITED_SPAN * signal)


def camera_log(name: str, source: str = "as asked") -> CameraLog:
    """The encoding called ``name`` (one of :data:`CAMERA_LOG_NAMES`)."""
    if name not in _ENCODINGS:
        raise SettingsError(f"unknown camera log {name!r}; use one of {', '.join(CAMERA_LOG_NAMES)}")
    return CameraLog(name, source=source)


def resolve_camera_log(path: Path, choice: str | None) -> CameraLog | None:
    """What ``choice`` (``"auto"``/None: what the camera's metadata says; ``"none"``: off; or a name)
    means for the file ``path``."""
    return detect_camera_log(path) if choice in (None, "auto") else named_camera_log(choice)


def named_camera_log(choice: str | None) -> CameraLog | None:
    """The encoding ``choice`` names; None for ``"auto"``, ``"none"`` or None. For sources that carry no
    camera metadata (pictures, streams, devices), where only a named encoding applies."""
    return None if choice in (None, "auto", "none") else camera_log(str(choice))


def detect_camera_log(path: Path) -> CameraLog | None:
    """The log encoding a Sony camera names for ``path`` in its XML (beside the clip, ``C0001M01.XML``
    for ``C0001.MP4``, or inside an MP4/MOV: in its ``moov`` or a top-level ``meta`` or ``uuid`` box),
    or None."""
    for sidecar in _sony_sidecars(path):
        try:
            found = _sony_encoding(sidecar.read_bytes()[: 1 << 20])
        except OSError:
            continue
        if found:
            return camera_log(found, f"so says its Sony metadata, {sidecar.name}")
    if path.suffix.lower() not in (".mp4", ".mov", ".m4v"):
        return None
    for kind in (b"moov", b"meta", b"uuid"):
        try:
            body = top_level_box(path, kind)
        except OSError:
            return None
        found = _sony_encoding(body) if body and b"CaptureGammaEquation" in body else None
        if found:
            return camera_log(found, "so says its Sony metadata")
    return None


def _sony_sidecars(path: Path) -> list[Path]:
    wanted = f"{path.stem}M01.XML".lower()
    try:
        return [p for p in path.parent.iterdir() if p.name.lower() == wanted]
    except OSError:
        return []


def _sony_encoding(xml: bytes) -> str | None:
    items = {k.decode(): v.decode(errors="replace").lower() for k, v in _SONY_ITEM.findall(xml)}
    gamma, primaries = items.get("CaptureGammaEquation", ""), items.get("CaptureColorPrimaries", "")
    if gamma == "s-log3":
        return "slog3-sgamut3cine" if "cine" in primaries else "slog3-sgamut3"
    return _SONY_GAMMAS.get(gamma)  # rec709, hlg, s-cinetone …: not log, read as they are tagged


@cache
def _colour():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():  # colour-science warns at import that matplotlib is absent
        warnings.simplefilter("ignore")
        import colour  # late: colour-science only once a log clip is read

    return colour


def _decode(name: str, code: np.ndarray) -> np.ndarray:
    colour = _colour()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its domain-range notes
        return np.asarray(colour.log_decoding(np.clip(code, 0.0, 1.0), function=_ENCODINGS[name][1]))


@cache
def _table(name: str, full_range: bool, code_bytes: int) -> np.ndarray:
    signal = np.arange(256**code_bytes, dtype=np.float64) / (256**code_bytes - 1)
    return CameraLog(name, full_range)._decode(signal).astype(np.float32)


def linear_space_chromaticities(name: str) -> tuple[float, ...]:
    """A linear working space's (``acescg`` …) primaries and white as EXR's chromaticities attribute
    orders them: x, y of red, green, blue and white."""
    space = _colour().RGB_COLOURSPACES[_ENCODINGS[name][2]]
    return tuple(float(v) for v in (*np.ravel(space.primaries), *space.whitepoint))


@cache
def _to_bt709(name: str) -> np.ndarray:
    colour = _colour()
    source = colour.RGB_COLOURSPACES[_ENCODINGS[name][2]]
    target = colour.RGB_COLOURSPACES["ITU-R BT.709"]
    return np.asarray(colour.matrix_RGB_to_RGB(source, target, chromatic_adaptation_transform="Bradford"),
                      np.float32)


# How a source's decoded R'G'B' becomes the pipeline's colour: its stream tags, or a camera log.
SourceColour = StreamColour | CameraLog
