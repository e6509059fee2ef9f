"""The one per-frame compositor: batch jobs, the live path and cluster workers all call it, so what the
director saw live is what post renders.

Per frame: matte the plate → layer hook (lens defocus, …) → level match → light wrap → premultiplied
"over" in linear light. Everything that must not flicker (the level grade, the light-wrap blur of a
still set) is computed once and reused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from guangying.base.checks import (
    CheckedOnAssignment,
    Range,
    check_fields,
    check_instance,
    check_matter,
    check_range,
    float_picture,
)
from guangying.base.colour import linear_to_srgb, srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.base.mattes import Matter, MatteResult
from guangying.base.per_plate import PerPlate, is_still, mark_still
from guangying.composite.over import (
    blur_background_linear,
    light_wrap_terms,
    match_levels_linear,
    over_linear,
    over_srgb,
)
from guangying.media.highlights import display_light, scene_linear_foreground


@dataclass
class CompositeSettings(CheckedOnAssignment):
    """How the foreground layer sits on the plate.

    - ``light_wrap_width_px``: how far the background's light bleeds over the subject's edge, in
      pixels, 0–256; 0 = off.
    - ``light_wrap_intensity``: strength of that light wrap, 0–1.
    - ``match_levels``: grade the foreground's black and white points to the background's (once per
      shot, in linear light).
    """

    light_wrap_width_px: float = 0.0
    light_wrap_intensity: float = 0.35
    match_levels: bool = False

    def __post_init__(self) -> None:
        check_fields(
            self,
            "composite",
            {"light_wrap_width_px": Range(0.0, 256.0, unit="px"), "light_wrap_intensity": Range(0.0, 1.0)},
        )


# A hook that may change the layers before compositing (lens defocus, for instance):
# (position in the shot from 0, fg_rgb_srgb, alpha, bg_rgb_linear) → (fg_rgb_srgb, alpha, bg_rgb_linear).
# It returns the same background object while the plate is unchanged, so its blurs are reused.
LayerHook = Callable[[int, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(slots=True)
class FrameResult:
    """What one frame produced. Arrays float32: ``alpha`` (H, W) in 0–1; colours (H, W, 3) sRGB 0–1.

    ``foreground_rgb_srgb`` is straight (un-premultiplied) and un-mixed; ``composite_rgb_srgb`` is None
    when no background was given. The composite buffer is reused by the next call: copy it to keep it.
    ``composite_rgb_linear``, made only when asked for (``linear_output``), is the same over in
    scene-linear BT.709, unclipped: what a float file (EXR, DPX) holds.
    """

    alpha: np.ndarray
    foreground_rgb_srgb: np.ndarray
    composite_rgb_srgb: np.ndarray | None
    composite_rgb_linear: np.ndarray | None = None


def _check_background(rgb: np.ndarray, what: str, display: bool) -> None:
    """Refuse a set that cannot be one: NaN or infinite light (the light wrap spread it over the whole
    composite), or, judged from every 4th row and column, an sRGB set in 0–255 (clipped to white without
    a word). Linear light above 1 is a set's own (an HDR sky)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:  # a colour (3,) was an IndexError here, as a bug
        raise SettingsError(f"{what} must be an (H, W, 3) picture the frame's size, got shape {rgb.shape}: "
                            "for a plain colour, fill one (np.full((H, W, 3), colour, np.float32))")
    if not math.isfinite(float(np.sum(rgb))):  # every pixel, in one pass: a sample missed 15 of 16
        raise SettingsError(f"{what} has NaN or infinite values: replace them first "
                            "(np.nan_to_num(picture, nan=0.0, posinf=1.0, neginf=0.0))")
    sample = rgb[::4, ::4]
    if display and np.count_nonzero(sample > 2.0) > 0.01 * sample.size:
        raise SettingsError(f"{what} reaches {float(sample.max()):g}, but it is sRGB-coded 0–1: divide 0–255 "
                            "values by 255, or give linear light as background_rgb_linear")


class FrameCompositor:
    """Matte and composite one frame at a time, holding the per-shot state between frames.

    >>> import numpy as np
    >>> from guangying.keyer import ChromaKeyer
    >>> plate = np.zeros((32, 48, 3), np.float32); plate[..., 1] = 0.7        # a green screen
    >>> plate[8:24, 16:32] = (0.8, 0.5, 0.4)                                  # a subject
    >>> set_srgb = np.full((32, 48, 3), 0.3, np.float32)
    >>> comp = FrameCompositor(ChromaKeyer())
    >>> result = comp.process(plate, set_srgb)
    >>> float(result.alpha[16, 24]), float(result.alpha[2, 2])
    (1.0, 0.0)
    """

    def __init__(
        self,
        matter: Matter,
        settings: CompositeSettings | None = None,
        layer_hook: LayerHook | None = None,
    ) -> None:
        check_matter(matter)
        self.matter = matter
        self.settings = CompositeSettings() if settings is None else settings
        check_instance(self.settings, CompositeSettings, "settings")
        if layer_hook is not None and not callable(layer_hook):
            raise SettingsError(
                "layer_hook must be a function (position, fg_rgb_srgb, alpha, bg_rgb_linear) -> "
                f"(fg_rgb_srgb, alpha, bg_rgb_linear) or None, got a {type(layer_hook).__name__}"
            )
        self.layer_hook = layer_hook
        self.position = 0
        self._out: np.ndarray | None = None
        self._wrap_blur: PerPlate[np.ndarray] = PerPlate()
        self._display_plate: PerPlate[np.ndarray] = PerPlate()
        self._levels: tuple[float, float] | None = None

    def reset(self) -> None:
        """Start a new shot: forget the matter's temporal state and the per-shot grade."""
        self.matter.reset()
        self.position = 0
        self._levels = None
        self._wrap_blur.clear()
        self._display_plate.clear()

    def process(
        self,
        rgb_srgb: np.ndarray,
        background_rgb_srgb: np.ndarray | None = None,
        background_rgb_linear: np.ndarray | None = None,
        source_alpha: np.ndarray | None = None,
        linear_output: bool = False,
        source_rgb_linear: np.ndarray | None = None,
        highlight_peak: float | None = None,
        position: int | None = None,
        background_highlight_peak: float | None = None,
    ) -> FrameResult:
        """Matte ``rgb_srgb`` (float32 (H, W, 3) sRGB 0–1) and composite it over the background.

        Give the background sRGB-encoded, linear, or both (a still plate is decoded once per shot by
        the caller; passing both saves the work). Without a background only the matte is made.
        ``source_alpha`` (float32 (H, W) 0–1, straight): the footage's own alpha (an RGBA render or
        ProRes 4444), multiplied into the matte so what the source made transparent stays so.

        ``linear_output`` also makes ``composite_rgb_linear``: the background's light above 1 and
        outside BT.709 kept (an HDR or ACEScg set) where the display composite clips it to 0–1. When
        ``rgb_srgb`` was made from a scene-linear picture (an EXR, a log or HDR clip, through
        :func:`~guangying.media.display_srgb`), give that picture as ``source_rgb_linear`` (and its
        ``highlight_peak``) so the subject keeps its own light there too. A background of an HDR or log
        clip's light: give its ``background_highlight_peak`` (``Background.highlight_peak``), from which
        the display composite rolls it off as a foreground of that clip is; without, light above 1 is
        scaled onto 1.

        ``position``: the frame's place in the shot, counted from the shot's first frame (0): the row
        of a focus track or a camera track that ``layer_hook`` reads for it. Give it when the frames
        are not the shot's from its first one after another (a range from partway in, a skipped frame);
        None: the one after the last call's (0 after :meth:`reset`).
        """
        # the matters check the plate; the background may meet only the compositor (neural mattes)
        if position is not None:
            check_range("frame", "position", position, Range(0, 1e12, integer=True))
            self.position = int(position)
        if background_highlight_peak is not None:
            check_range("frame", "background_highlight_peak", background_highlight_peak,
                        Range(0, 1e6, lo_open=True, unit="(1 = reference white)"))
        if not isinstance(linear_output, bool | np.bool_):
            raise SettingsError(f"linear_output={linear_output!r}: must be True or False")
        if source_rgb_linear is not None:
            source_rgb_linear = float_picture(source_rgb_linear, "source_rgb_linear")
            if source_rgb_linear.shape != np.shape(rgb_srgb):
                raise SettingsError(
                    f"source_rgb_linear is {source_rgb_linear.shape}, rgb_srgb {np.shape(rgb_srgb)}: "
                    "give the scene-linear picture rgb_srgb was made from"
                )
            if not math.isfinite(float(np.sum(source_rgb_linear))):  # it went into the linear composite
                raise SettingsError("source_rgb_linear has NaN or infinite values: replace them first "
                                    "(np.nan_to_num(picture, nan=0.0, posinf=65504.0, neginf=0.0))")
        if highlight_peak is not None:  # as display_srgb checks it
            check_range("frame", "highlight_peak", highlight_peak, Range(0, 1e6, lo_open=True))
        if background_rgb_srgb is not None:
            background_rgb_srgb = float_picture(background_rgb_srgb, "background_rgb_srgb")
            # given with its light, it is that light encoded: an HDR sky above 5 reaches past 2 (and was
            # refused as 0–255 values)
            _check_background(background_rgb_srgb, "background_rgb_srgb",
                              display=background_rgb_linear is None)
        if background_rgb_linear is not None:
            background_rgb_linear = float_picture(background_rgb_linear, "background_rgb_linear")
            _check_background(background_rgb_linear, "background_rgb_linear", display=False)
        if source_alpha is not None:
            source_alpha = _source_alpha(source_alpha, np.shape(rgb_srgb)[:2])
        if background_rgb_linear is None and background_rgb_srgb is not None:
            background_rgb_linear = srgb_to_linear(background_rgb_srgb)
        matte: MatteResult = self.matter.process(rgb_srgb, background_rgb=background_rgb_srgb)
        alpha = matte.alpha if source_alpha is None else matte.alpha * source_alpha  # new array
        position = self.position
        self.position += 1
        if background_rgb_linear is None:
            return FrameResult(alpha, matte.foreground_rgb, None)
        fg_srgb, bg_linear = matte.foreground_rgb, background_rgb_linear
        plate_srgb = background_rgb_srgb
        if self.layer_hook is not None:
            fg_srgb, alpha, bg_linear = self.layer_hook(position, fg_srgb, alpha, bg_linear)
            if bg_linear is not background_rgb_linear:
                plate_srgb = None  # the hook changed the plate, so its sRGB copy no longer holds
        # The display composite takes a set's light above 1 (an HDR sky, an emissive sign) scaled onto 1
        # with its hue kept, as a plate's is: cut channel by channel, orange (4, 2, 0.5) came out pale
        # yellow. The linear composite keeps it.
        bg_display = self._display_plate.get(bg_linear, None,
                                             lambda: _display_light(bg_linear, background_highlight_peak))
        if bg_display is not bg_linear:
            plate_srgb = None  # its sRGB copy was cut channel by channel
        st = self.settings
        if st.match_levels:
            if self._levels is None:  # once per shot, so the grade cannot flicker
                self._levels = match_levels_linear(srgb_to_linear(fg_srgb), alpha, bg_linear)
            gain, offset = self._levels
            fg_srgb = linear_to_srgb(srgb_to_linear(fg_srgb) * np.float32(gain) + np.float32(offset))
        wrap = None
        if st.light_wrap_width_px > 0:
            width = st.light_wrap_width_px
            blurred = self._wrap_blur.get(bg_display, width,
                                          lambda: blur_background_linear(bg_display, width))  # fmt: skip
            wrap = light_wrap_terms(alpha, blurred, width, st.light_wrap_intensity)
        if self._out is None or self._out.shape != bg_linear.shape:
            self._out = np.empty_like(bg_linear)
        composite = over_srgb(fg_srgb, alpha, bg_display, wrap=wrap, out=self._out, bg_rgb_srgb=plate_srgb)
        linear = None
        if linear_output:
            if source_rgb_linear is None:
                fg_linear = srgb_to_linear(fg_srgb)
            else:  # the keyer's change (despill, grade, defocus) laid on the source's own light
                fg_linear = scene_linear_foreground(fg_srgb, rgb_srgb, source_rgb_linear, highlight_peak)
            linear = over_linear(fg_linear, alpha, bg_linear)
            if wrap is not None:
                linear += wrap[0] * wrap[1][..., None]
        return FrameResult(alpha, matte.foreground_rgb, composite, linear)


def _display_light(bg_rgb_linear: np.ndarray, highlight_peak: float | None) -> np.ndarray:
    """The set's linear light for the display composite
    (:func:`~guangying.media.highlights.display_light`)."""
    display = display_light(bg_rgb_linear, highlight_peak)
    if display is not bg_rgb_linear and is_still(bg_rgb_linear):  # so is what is made of it: its light
        mark_still(display)  # wrap blur is kept without a copy
    return display


def _source_alpha(alpha: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """The footage's own alpha as float32 (H, W) 0–1 the size of its picture; (H, W, 1) is taken."""
    alpha = float_picture(alpha, "source_alpha")
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[..., 0]
    if alpha.shape != tuple(size):
        raise SettingsError(f"source_alpha is {alpha.shape}, the picture {tuple(size)}: give the footage's "
                            "alpha as float32 (H, W) 0–1, the picture's size")
    low, high = float(np.min(alpha)), float(np.max(alpha))
    if not (math.isfinite(low) and math.isfinite(high)) or high > 2.0 or low < -1.0:
        # 255 made the result's alpha 255, and -1 a coverage of -1
        raise SettingsError(f"source_alpha runs {low:g}–{high:g}, but it is coverage in 0–1: divide an 8-bit "
                            "alpha by 255 (65535 for a 16-bit one), and replace NaN (np.nan_to_num)")
    if low < 0.0 or high > 1.0:  # a CG render's filter rings a little past 0 and 1
        alpha = np.clip(alpha, 0.0, 1.0)
    return alpha


def composite_frame(
    rgb_srgb: np.ndarray,
    background_rgb_srgb: np.ndarray,
    matter: Matter | None = None,
    settings: CompositeSettings | None = None,
    layer_hook: LayerHook | None = None,
) -> FrameResult:
    """Matte one picture and composite it over a background in linear light.

    The plain-function form of :class:`FrameCompositor` for a single frame (no state carried to the
    next one); use the class for clips so the grade and temporal mattes stay steady.

    Parameters
    ----------
    rgb_srgb : ndarray, float32 (H, W, 3)
        The plate, sRGB-encoded 0–1.
    background_rgb_srgb : ndarray, float32 (H, W, 3)
        The virtual set, sRGB-encoded 0–1, same size.
    matter : Matter, optional
        Anything with ``process(rgb, background_rgb) -> MatteResult``; default a chroma keyer with
        default :class:`~guangying.keyer.KeyerSettings`.
    settings : CompositeSettings, optional
        Light wrap and level matching.
    layer_hook : callable, optional
        See :data:`LayerHook` (lens defocus, for instance).

    Returns
    -------
    FrameResult
        ``alpha`` float32 (H, W) 0–1, ``foreground_rgb_srgb`` and ``composite_rgb_srgb`` float32
        (H, W, 3) sRGB 0–1.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage import data
    >>> photo = data.astronaut()[::4, ::4].astype(np.float32) / 255           # (128, 128, 3) sRGB
    >>> plate = np.zeros_like(photo); plate[..., 1] = 0.7                      # a green screen …
    >>> plate[32:96, 32:96] = photo[32:96, 32:96]                              # … with a subject
    >>> set_srgb = data.coffee()[:128, :128].astype(np.float32) / 255
    >>> result = composite_frame(plate, set_srgb)
    >>> result.composite_rgb_srgb.shape, result.composite_rgb_srgb.dtype
    ((128, 128, 3), dtype('float32'))
    >>> bool(np.allclose(result.composite_rgb_srgb[2, 2], set_srgb[2, 2], atol=0.02))  # screen → set
    True
    """
    if background_rgb_srgb is None:  # composited over nothing: its composite None, a TypeError later
        raise SettingsError("composite_frame needs the background (the virtual set) to composite over; "
                            "for the matte alone use key_frame or a Matter's process")
    if matter is None:
        from guangying.keyer import ChromaKeyer

        matter = ChromaKeyer()
    return FrameCompositor(matter, settings, layer_hook).process(rgb_srgb, background_rgb_srgb)
