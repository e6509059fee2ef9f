"""Keyer settings: one dataclass whose field names are also the CLI flags (``--screen-gain`` …)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from guangying.base.checks import CheckedOnAssignment, Range, check_fields
from guangying.base.errors import SettingsError

Screen = Literal["green", "blue", "auto"]
DespillMethod = Literal["average", "double", "limit", "subject", "none"]
SpillReplace = Literal["background", "neutral", "none"]
LumaRefine = Literal["auto", "on", "off", "stored", "mosaic"]
StrandColour = Literal["auto", "on", "off"]

# Documented ranges (the docstring below says what each does); beyond them a key is meaningless.
_RANGES = {
    "screen_gain": Range(0.0, 10.0, lo_open=True),
    "screen_balance": Range(0.0, 1.0),
    "clip_black": Range(0.0, 1.0),
    "clip_white": Range(0.0, 1.0),
    "grow_px": Range(-256.0, 256.0, unit="px"),
    "softness_px": Range(0.0, 256.0, unit="px"),
    "despot_px": Range(0.0, 256.0, unit="px"),
    "despill_bias": Range(-1.0, 1.0),
    "luma_refine_eps": Range(0.0, 1.0, lo_open=True),
}


@dataclass
class KeyerSettings(CheckedOnAssignment):
    """Everything the chroma keyer can be told. The defaults key a typical green or blue screen well.

    Colour-difference maths runs in linear light. For a green screen the screen channel is G and the
    two others are R and B (for blue: B, with R and G).

    - ``screen``: "green", "blue" or "auto" (picked from the first frame).
    - ``screen_colour``: manual screen colour, sRGB-encoded 0–1 (r, g, b); None = estimated from the
      first frame of the clip and cached until ``reset()``.
    - ``screen_gain``: in (0, 10]; > 1 makes more of the picture transparent
      (raw α = 1 − gain·d(C)/d(S)).
    - ``screen_balance``: 0–1, how the two other channels combine into the difference
      d = screen − (balance·max(o1, o2) + (1 − balance)·min(o1, o2)). High values keep yellows and
      skin (whose red matches their green) solid.
    - ``clip_black``: raw α at or below this becomes 0 (cleans screen noise); stretched linearly up to
      clip_white. It applies where the screen may be clear (shadows included); where an area's
      colour departs from the screen's by clearly more than the frame's own clear screen varies
      (faint smoke, glass: guangying.keyer.noise), it fades out, so faint transparency is not cut.
    - ``clip_white``: raw α at or above this becomes 1 (fills the subject's noise and spill).
    - ``grow_px``: dilate (> 0) or erode (< 0) the matte by this many whole pixels (rounded), −256–256.
    - ``softness_px``: Gaussian blur (σ in pixels, 0–256) of the matte.
    - ``despot_px``: remove opaque specks and transparent holes smaller than despot_px² pixels (0–256).
    - ``despill_method``: caps the screen channel of the foreground at a limit made from the two
      other channels: "average" (o1 + o2)/2 (strongest), "double" (2·max + min)/3, "limit" max(o1, o2)
      (gentlest: yellows and skin survive), "subject" (the limit scaled to the hue of the nearby solid
      subject: brown hair over a brown mass loses its olive cast, but thin strands of another colour
      than the body behind them pick up its hue), "none".
    - ``despill_bias``: added to that limit, in linear units (−1–1); > 0 keeps more of the screen hue.
    - ``spill_replace``: what the removed spill becomes: "background" (the light the new background
      would have bounced, needs the background plate; neutral without one), "neutral" (grey of the
      same luminance), "none" (just removed, subject darkens).
    - ``garbage_mask``: float32 (H, W), 1 = force transparent (outside matte). None = off.
    - ``core_mask``: float32 (H, W), 1 = force opaque (inside matte), applied after the garbage mask.
    - ``despill_mask``: float32 (H, W), 1 = keep the footage's own colour where the subject is solid:
      green props, plants or wardrobe, which despill (any method) turns grey like spill. Their edges
      against the screen are still despilled. None = despill everywhere.
    - ``clean_plate``: float32 (H, W, 3) sRGB frame of the empty screen, same size as the footage.
    - ``auto_plate``: without a clean plate, build a smooth screen plate from each frame's own screen
      pixels (on a ~160 px wide grid), which keys unevenly lit screens; False = one flat colour.
    - ``spill_compensation``: measure how much screen colour the solid subject itself carries (spill)
      around each part of the frame and count that as opaque, so spilled edges stay solid (where the
      screen lights a surface nearly to its own colour, the key unmixes that surface pixel by pixel).
    - ``project_subject_colour``: where a mix of the nearby solid subject colour and the screen
      explains a pixel (to within 30%), take that mix's α if it is lower: soft edges of saturated
      warm colours (red, orange, skin), which a colour-difference key makes too opaque.
    - ``luma_refine``: rebuild the matte's edge band from the full-resolution luma when the colour was
      stored at half resolution (4:2:0 or 4:2:2: JPEG and most video) or interpolated from a Bayer
      mosaic, which smears thin strands and edges in a colour-difference key: α is fitted as a local
      linear function of the luma on 2×2 cells and evaluated per pixel (guangying.keyer.refine; the
      sRGB luma for stored colour, the linear-light luma for demosaiced colour); solid subject and
      clear screen keep their values. "auto" (checks the first frame's chroma), "on" (the first frame
      tells only which luma), "off"; "stored" and "mosaic" name the colour's kind outright (a batch
      hands its shot's finding to every range, so a range keys as the whole shot does).
    - ``luma_refine_eps``: variance of that luma (0–1 units) below which luma detail counts as
      noise in that fit: 1e-4 suits 8-bit camera or codec noise of about 1% (2.5/255); raise it for
      grainier footage, lower it for clean renders.
    - ``colour_fit``: refit the α of the matte's soft pixels as a local linear function of the linear
      colour (a guided filter with the frame as guide, windows ~2% of the frame's width; see
      guangying.keyer.colour_fit): a soft edge's mixes take their endpoints from the solid subject and
      the clear screen beside them. It takes the place of ``strand_colour="auto"``: on the keying
      benchmark's rendered set it lowers the error of skin with moving hands and of glass and smoke
      (MAD ×1e3 5.32 → 5.25, 11.30 → 11.16) and raises the other groups' (all: 5.53 → 5.71); on the
      older generated set 5.30 → 5.14. It costs about a third more time per frame at 1080p: off by
      default, for offline work on such subjects.
    - ``strand_colour``: key the faint pixels of the matte's soft band (α under 0.75) against the
      colour of the more opaque pixels within ~2 % of the frame's width (their premultiplied colour
      over their coverage) and the local screen, by projection, where that is more transparent than
      the clipped key (guangying.keyer.strand_colour): pale strands (blond, grey) no longer come out
      too opaque. It also keys, by their hue against that colour (from within ~4 % of the width), the
      strands the key read as clear screen where the colour difference is blind to them (blond over a
      teal-green screen: red rising under the screen's blue). Last, every soft pixel under 0.9 moves
      half way to the same projection, with the colour found from the final matte (a second look).
      "auto": in the luma refinement's edge pass, when it runs and the colour fit does not (about 15 %
      more time per 4:2:0 frame at 1080p); "on": also on full-resolution colour, where it costs a pass
      of its own (about a third more); "off".
    - ``unmix``: True = straight foreground with the screen removed from semi-transparent pixels,
      F = (C − (1 − α)·S)/α; False = the plate's own colour (still despilled).
    """

    screen: Screen = "auto"
    screen_colour: tuple[float, float, float] | None = None
    screen_gain: float = 1.0
    screen_balance: float = 0.9
    clip_black: float = 0.1
    clip_white: float = 0.85
    grow_px: float = 0.0
    softness_px: float = 0.0
    despot_px: float = 0.0
    despill_method: DespillMethod = "limit"
    despill_bias: float = 0.0
    spill_replace: SpillReplace = "neutral"
    garbage_mask: np.ndarray | None = None
    core_mask: np.ndarray | None = None
    despill_mask: np.ndarray | None = None
    clean_plate: np.ndarray | None = None
    auto_plate: bool = True
    spill_compensation: bool = True
    project_subject_colour: bool = True
    luma_refine: LumaRefine = "auto"
    luma_refine_eps: float = 1e-4
    colour_fit: bool = False
    strand_colour: StrandColour = "auto"
    unmix: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~guangying.base.errors.SettingsError` (a ValueError) naming the setting when a
        value is out of range or not finite."""
        choices = {
            "screen": ("green", "blue", "auto"),
            "despill_method": ("average", "double", "limit", "subject", "none"),
            "spill_replace": ("background", "neutral", "none"),
            "luma_refine": ("auto", "on", "off", "stored", "mosaic"),
            "strand_colour": ("auto", "on", "off"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(
                    f"keyer setting {name}={getattr(self, name)!r}: use one of {', '.join(allowed)}"
                )
        for name in ("auto_plate", "spill_compensation", "project_subject_colour", "colour_fit", "unmix"):
            value = getattr(self, name)
            # A string such as "false" would otherwise count as True.
            flag = isinstance(value, (bool, np.bool_, int, np.integer)) and value in (0, 1)
            if not flag:
                raise SettingsError(f"keyer setting {name}={value!r}: use True or False")
        if self.screen_colour is not None:
            try:
                c = tuple(float(v) for v in self.screen_colour)
            except (TypeError, ValueError):
                c = ()
            if len(c) != 3 or not all(0.0 <= v <= 1.0 for v in c):
                raise SettingsError(
                    f"keyer setting screen_colour={self.screen_colour!r}: give three sRGB values in 0–1, "
                    "e.g. (0.2, 0.6, 0.25)"
                )
            if max(c[1], c[2]) - min(c) < 0.02:
                raise SettingsError(f"keyer setting screen_colour={c}: a grey has no screen hue to key")
            self.screen_colour = c  # type: ignore[assignment]
        check_fields(self, "keyer", _RANGES)
        self._check_images()
        if not self.clip_black < self.clip_white:
            raise SettingsError(
                f"keyer settings clip_black={self.clip_black}, clip_white={self.clip_white}: "
                "need 0 ≤ clip_black < clip_white ≤ 1"
            )

    def __eq__(self, other: object) -> bool:
        # the generated __eq__ compares masks with ==, whose array has no single truth value
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    def _check_images(self) -> None:
        # Once per settings, not per frame: a 0/255 mask would push α out of 0–1, and one NaN in a mask
        # or clean plate spreads through the whole matte.
        for name in ("garbage_mask", "core_mask", "despill_mask"):
            mask = getattr(self, name)
            if isinstance(mask, np.ndarray) and mask.size and mask.dtype.kind in "biuf":
                lo, hi = float(np.min(mask)), float(np.max(mask))
                if not (0.0 <= lo and hi <= 1.0):  # NaN fails both
                    scale = " (divide 8-bit masks by 255)" if hi > 1.0 and mask.dtype.kind in "iu" else ""
                    raise SettingsError(
                        f"keyer {name} has values in [{lo:g}, {hi:g}]: give a float32 mask in 0–1{scale}"
                    )
        plate = self.clean_plate
        if isinstance(plate, np.ndarray) and plate.dtype.kind == "f" and not np.isfinite(plate).all():
            raise SettingsError(
                "keyer clean_plate has NaN or infinite pixels: read it with guangying.media (which reads "
                "them as 0) or clean it at the source"
            )


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):  # masks and plates are checked finite
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and bool(np.array_equal(a, b))
    return bool(a == b)
