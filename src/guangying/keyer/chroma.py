"""The chroma keyer: a :class:`guangying.base.mattes.Matter` for green and blue screens."""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from guangying.base.checks import check_display_picture, check_instance, float_picture
from guangying.base.colour import srgb_to_linear
from guangying.base.errors import SettingsError
from guangying.base.mattes import MatteResult
from guangying.base.srgb_lut import DECODE_LUT, ENCODE_SQRT_LUT
from guangying.keyer import kernels
from guangying.keyer.colour_fit import apply_colour_fit, fit_colour, kernel_fit
from guangying.keyer.fringe import black_clip_over_strands, screen_behind_fringe
from guangying.keyer.maths import LIT_RESIDUAL, MIRROR_MAX, screen_channels
from guangying.keyer.matte_ops import apply_masks, despot_matte, grow_matte, masks_union, soften_matte
from guangying.keyer.noise import black_clip_field, saturation_ratio
from guangying.keyer.refine import (
    apply_fit,
    edge_cells_from_rows,
    fit_edges,
    mosaic_interpolated,
    opaque_key,
    refinement_kind,
)
from guangying.keyer.screen import (
    VEIL_CLIP,
    NoScreenError,
    clean_plate_gain,
    detect_screen,
    difference_ratio,
    estimate_screen_colour,
    screen_plate_and_folds,
    small_linear,
)
from guangying.keyer.settings import KeyerSettings
from guangying.keyer.spill_floor import estimate_subject
from guangying.keyer.strand_colour import (
    SECOND_LIMIT,
    SECOND_MIN_HUE,
    SECOND_REFERENCE,
    SECOND_WEIGHT,
    apply_strand_rescue,
    fit_strand_colour,
    fit_strand_rescue,
)


def _second_look(rgb: np.ndarray, alpha: np.ndarray, soft: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """strand_colour's second look: its model from the final α, over the 2×2 cells ``soft``."""
    return fit_strand_colour(
        rgb, alpha, soft, plate, reference=SECOND_REFERENCE, limit=SECOND_LIMIT, min_hue=SECOND_MIN_HUE
    )


PASSED_THROUGH = "frames are passed through opaque"  # what becomes of frames without a screen, said


def _check_frame(rgb: object, what: str, plate: bool = True) -> np.ndarray:
    """``rgb`` as float32 (H, W, 3); a camera's picture (``plate``) also in the display range: the
    set behind (``plate=False``) may hold light far above 1 (an HDR sky, an emissive sign)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise SettingsError(f"{what} must be an (H, W, 3) RGB array, got {shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise SettingsError(f"{what} is empty ({rgb.shape[1]}×{rgb.shape[0]} px): give at least 1×1 pixels")
    picture = float_picture(rgb, what)
    if plate:  # a sampled look tells the scale
        check_display_picture(picture, what, step=4)
    return picture


_SOLID_FROM = 0.95  # α from which the despill mask gives a pixel its own colour back, fully at 1


def _check_mask(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray | None:
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.shape != shape:
        got = getattr(mask, "shape", type(mask).__name__)
        raise SettingsError(
            f"keyer {name} is {got} but the frame is {shape}: give a float32 (H, W) mask at the frame's size"
        )
    return np.ascontiguousarray(mask, np.float32)


def _keep_solid_colour(fg: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, keep: np.ndarray) -> None:
    """Put the footage's colour back into ``fg`` (in place) where ``keep`` says so and the subject is
    solid; a soft pixel's colour is a mix with the screen and stays despilled."""
    weight = keep * np.clip((alpha - _SOLID_FROM) / (1.0 - _SOLID_FROM), 0.0, 1.0)
    rows = np.flatnonzero(weight.any(axis=1))  # a prop's mask covers a small part of the frame
    if rows.size:
        part = slice(rows[0], rows[-1] + 1)
        fg[part] += weight[part, :, None] * (rgb[part] - fg[part])


class ChromaKeyer:
    """Colour-difference keyer with screen plate, clip, matte ops, despill and foreground un-mixing.

    ``process`` takes float32 (H, W, 3) sRGB frames; the screen colour (and, for "auto", which
    screen) is estimated on the first frame and kept until ``reset()``.
    """

    def __init__(self, settings: KeyerSettings | None = None) -> None:
        self.settings = settings if settings is not None else KeyerSettings()
        check_instance(self.settings, KeyerSettings, "settings")
        self.settings.validate()
        self._screen: str | None = None
        self._screen_linear: np.ndarray | None = None
        self._clean_plate_linear: np.ndarray | None = None
        self._subsampled: bool | None = None
        self._linear_luma: bool | None = None
        self._warned_no_screen = False
        self._warned_plate_gain = False
        # what becomes of frames with no screen, for the warning (a hybrid matte decides them itself)
        self.without_screen = PASSED_THROUGH
        # The source stores its colour at full resolution (4:4:4 or RGB video; a job sets it from
        # ClipInfo.chroma_subsampled): "auto" then refines only a Bayer mosaic's colour (refinement_kind).
        self.full_chroma_source = False

    def reset(self) -> None:
        """Forget the screen estimate and the chroma check (new clip, or the screen was relit)."""
        self._screen = None
        self._screen_linear = None
        self._clean_plate_linear = None
        self._subsampled = None
        self._linear_luma = None

    @property
    def screen(self) -> str | None:
        """'green' or 'blue' once the first frame has been seen."""
        return self._screen

    @property
    def luma_refine_active(self) -> bool | None:
        """Whether the luma-guided edge refinement runs (for "auto": the first frame's colour was
        found stored at half resolution); None before the first frame."""
        if self.settings.luma_refine != "auto":
            return self.settings.luma_refine != "off"
        return self._subsampled

    @property
    def luma_refine_linear(self) -> bool | None:
        """Whether the refinement fits the linear-light luma (the first frame's colour was found
        interpolated from a Bayer mosaic) rather than the sRGB luma; None before the first frame."""
        return self._linear_luma

    @property
    def screen_colour_linear(self) -> np.ndarray | None:
        """The screen colour in use (linear RGB), once the first frame has been seen."""
        return self._screen_linear

    def _learn_screen(self, rgb: np.ndarray) -> None:
        st = self.settings
        if st.screen_colour is not None:
            colour = np.asarray(st.screen_colour, np.float32)
            auto = "green" if colour[1] >= colour[2] else "blue"
            screen: str = st.screen if st.screen != "auto" else auto
        else:  # "auto" as asked: a frame without a screen is said as neither, not as the one leaned to
            colour = np.asarray(estimate_screen_colour(rgb, st.screen), np.float32)
            screen = st.screen if st.screen != "auto" else detect_screen(rgb)
        self._screen = screen
        self._screen_linear = srgb_to_linear(colour)

    @property
    def learns_from_frames(self) -> bool:
        """Whether a decision is still to be made from a frame (:meth:`learn`): none was made since
        ``reset()``, and the settings leave the screen colour or the refinement to the footage."""
        st = self.settings
        undecided = st.screen_colour is None or st.luma_refine in ("auto", "on")
        return undecided and self._screen is None

    def learn(self, rgb_srgb: np.ndarray, chroma_subsampled: bool | None = None) -> None:
        """Make the once-per-clip decisions from this float32 (H, W, 3) sRGB frame: which screen and
        its colour, and which luma the edge refinement fits. ``process`` makes them on the first frame
        after ``reset()``; a range of a clip learns them from the clip's first frame, so it keys as it
        does in the whole. ``chroma_subsampled``: the clip's (``ClipInfo.chroma_subsampled``), as
        ``run_job`` tells it: a 4:4:4 or RGB source's colour is refined only where it comes from a
        Bayer mosaic (a picture's look alone can pass for 4:2:0). Raises :class:`NoScreenError` when
        the frame shows no screen."""
        if chroma_subsampled is not None:
            self.full_chroma_source = not chroma_subsampled
        self._learn(_check_frame(rgb_srgb, "keyer input"))

    def _learn(self, rgb: np.ndarray) -> None:
        """:meth:`learn` of a frame already checked (checked again, a picture out of range was said twice)."""
        st = self.settings
        self._learn_screen(rgb)
        if st.luma_refine == "off":
            return
        # Colour interpolated from a Bayer mosaic is fitted against the linear-light luma, stored
        # 4:2:0/4:2:2 colour against the sRGB luma (refine).
        if st.luma_refine == "auto":
            kind = refinement_kind(rgb, self.full_chroma_source)
            self._subsampled = bool(kind)
            self._linear_luma = kind == "mosaic"
        elif st.luma_refine in ("stored", "mosaic"):
            self._linear_luma = st.luma_refine == "mosaic"
        else:
            self._linear_luma = mosaic_interpolated(rgb)

    def screen_model(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What this frame is keyed against: (linear screen plate, spill floor, linear subject colour
        and lit surface, black clip).

        The plate is the clean plate (full size), the auto plate (small) or the flat screen colour
        (1×1); the spill floor (1×1 zero when spill compensation is off), the nearby solid subject
        colour with the surface lit by the screen (see :func:`guangying.keyer.spill_floor.estimate_subject`)
        and the black clip (``clip_black`` where the screen may be clear, lower where a veil's
        colour stands out of the clear screen's noise: :func:`guangying.keyer.noise.black_clip_field`)
        are on the small analysis grid (~160 px wide).
        """
        st = self.settings
        assert self._screen is not None and self._screen_linear is not None
        small = small_linear(rgb)
        folds = veils = None  # screen-lit folds, veils of strands over gaps: found by the auto plate
        if st.clean_plate is not None:
            if self._clean_plate_linear is None:
                # Softened (σ 1.5 px) so the plate's own grain does not print into the matte.
                clean = cv2.GaussianBlur(_check_frame(st.clean_plate, "keyer clean_plate"), (0, 0), 1.5)
                self._clean_plate_linear = srgb_to_linear(clean)
            if self._clean_plate_linear.shape != rgb.shape:
                raise SettingsError(
                    f"keyer clean_plate is {self._clean_plate_linear.shape} but the frame is {rgb.shape}: "
                    "the clean plate must be shot at the footage's resolution"
                )
            plate = self._clean_plate_linear
            small_plate = cv2.resize(plate, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
            gain = clean_plate_gain(small, small_plate, self._screen, st.screen_balance)
            if gain != 1.0:  # the exposure changed since the plate was shot: matched, frame by frame
                if not self._warned_plate_gain and abs(gain - 1.0) > 0.05:
                    how = f"{abs(1 / gain - 1):.0%} {'brighter' if gain < 1 else 'darker'}"
                    warnings.warn(f"the clean plate is {how} than this take's screen (the exposure "
                                  "changed?): it is matched to each frame", stacklevel=3)
                    self._warned_plate_gain = True
                plate, small_plate = plate * np.float32(gain), small_plate * np.float32(gain)
        elif st.auto_plate:
            plate, folds, veils = screen_plate_and_folds(
                small, self._screen_linear, self._screen, st.screen_balance, rgb
            )
            small_plate = plate
        else:
            plate = self._screen_linear.reshape(1, 1, 3)
            small_plate = np.broadcast_to(plate, small.shape)
        downscale = rgb.shape[1] / small.shape[1]
        floor, subject, fringe = estimate_subject(
            small, small_plate, self._screen, st.screen_balance, downscale, rgb, folds, veils
        )
        if st.clean_plate is None and st.auto_plate and fringe.any():  # most frames have no dark fringe
            ratio = difference_ratio(small, small_plate, self._screen, st.screen_balance)
            plate = small_plate = screen_behind_fringe(small_plate, fringe, ratio, downscale)
        if not st.spill_compensation:
            floor = np.zeros((1, 1), np.float32)
            subject[..., 7] = 0.0  # nor does the key unmix the surfaces it found lit
        elif not (self.luma_refine_active and self._linear_luma):
            # A fringe's strands are unmixed against the subject's own colour (spill_floor.fringe_own_light)
            # only in demosaiced frames, whose luma fit then carries each strand's coverage over its
            # window. Stored colour (4:2:0, a codec's blocks) smears the strands onto the screen beside
            # them, and that smear unmixes as coverage (a JPEG generator: MAD 14.42 → 14.55); frames
            # without the refinement printed the unmixing's noise (the real plate, a JPEG read as full
            # resolution: 153 px of salt and pepper up to 0.7 at the hair's edge). There the key holds.
            subject[..., 7] = np.where(subject[..., 8] > 0, 0.0, subject[..., 7])
        black = black_clip_field(
            saturation_ratio(small, small_plate, self._screen, st.screen_balance), st.clip_black
        )
        if st.spill_compensation and fringe.any():
            ratio = difference_ratio(small, small_plate, self._screen, st.screen_balance)
            black = black_clip_over_strands(black, fringe, ratio, downscale)
        if veils is not None:
            black = np.where(veils, np.float32(VEIL_CLIP) * black, black).astype(np.float32)
        model = (plate, floor, subject, black)
        return tuple(np.ascontiguousarray(x, np.float32) for x in model)  # type: ignore[return-value]

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        """Key one frame: float32 (H, W, 3) sRGB 0–1 in; α and straight sRGB foreground out (0 on
        clear screen: α = 0 with a raw α under clip_black/2).

        ``background_rgb`` (same size, sRGB) is used only by ``spill_replace="background"``.
        A picture with NaN or infinite values is refused (SettingsError) before the keyer's memory of
        the clip is touched; the file readers (:mod:`guangying.media`) replace such samples with 0 and
        warn, so a job's frames are never refused for them.
        """
        st = self.settings
        rgb = _check_frame(rgb, "keyer input frame")
        shape = rgb.shape[:2]
        if background_rgb is not None:
            background_rgb = _check_frame(background_rgb, "keyer background", plate=False)
            if background_rgb.shape != rgb.shape:
                raise SettingsError(
                    f"keyer background is {background_rgb.shape} but the frame is {rgb.shape}: "
                    "resize the background plate to the footage first"
                )
        garbage = _check_mask(st.garbage_mask, shape, "garbage_mask")
        core = _check_mask(st.core_mask, shape, "core_mask")
        keep_colour = _check_mask(st.despill_mask, shape, "despill_mask")
        if self._screen is None:
            try:
                self._learn(rgb)
            except NoScreenError as exc:
                # A slate or black frame at the head of a take: nothing to key yet. Pass it through
                # opaque and learn the screen from the first frame that shows one.
                if not self._warned_no_screen:
                    warnings.warn(
                        f"{exc}; {self.without_screen} until a screen appears", stacklevel=2
                    )
                    self._warned_no_screen = True
                return MatteResult(np.ones(shape, np.float32), rgb.copy())
        assert self._screen is not None
        refine = bool(self.luma_refine_active)
        linear_luma = bool(refine and self._linear_luma)
        plate, floor, subject, black = self.screen_model(rgb)
        if plate.shape[:2] not in ((1, 1), black.shape):
            # A full-size clean plate with the small spill floor and clip: the key fields follow the plate.
            size = (plate.shape[1], plate.shape[0])
            black = cv2.resize(black, size, interpolation=cv2.INTER_LINEAR)
            if floor.size > 1:
                floor = cv2.resize(floor, size, interpolation=cv2.INTER_LINEAR)
        key_scale, key_offset, black = kernels.key_fields(
            plate, floor, self._screen, st.screen_gain, st.screen_balance, black, st.clip_white
        )
        screen = self._screen
        s, o1, o2 = screen_channels(screen)
        use_bg = background_rgb is not None and st.spill_replace == "background"
        spatial = st.grow_px != 0 or st.softness_px > 0 or st.despot_px > 0
        none_rgb, none_mask = np.zeros((1, 1, 3), np.float32), np.zeros((1, 1), np.float32)
        # Clear screen: the clipped key under −clip_black/2/(cw − cb) (raw α under clip_black/2 where
        # the full clip applies).
        clear_below = -0.5 * st.clip_black / (st.clip_white - st.clip_black)
        params = np.array(
            [
                st.screen_balance, st.despill_bias, kernels.LUMA_709[s], clear_below, st.clip_white,
                opaque_key(st.clip_black, st.clip_white), LIT_RESIDUAL, 1.0 - MIRROR_MAX,
            ],
            np.float32,
        )  # fmt: skip

        # The kernel hands out the key where it is soft (and, for the luma refinement, in pairs of
        # columns) when an edge stage runs, and leaves the soft pixels' colour to the stages that
        # refit every one of them.
        defer = refine or st.colour_fit
        # "auto": in the refinement's patch pass (nearly free), and not under the colour fit, which
        # refits every soft pixel itself.
        strands_on = st.strand_colour == "on" or (st.strand_colour == "auto" and refine and not st.colour_fit)
        write_key = defer or strands_on

        flags = np.array(
            [
                s, o1, o2, kernels.DESPILL_CODES[st.despill_method], kernels.REPLACE_CODES[st.spill_replace],
                int(st.unmix), int(use_bg), int(garbage is not None), int(core is not None),
                int(st.project_subject_colour), int(write_key), int(linear_luma), int(refine), int(defer),
            ],
            np.int64,
        )  # fmt: skip

        alpha = np.empty(shape, np.float32)
        fg = np.empty_like(rgb)
        no_patch, no_fit = np.zeros((1, 1), np.bool_), np.zeros((2, 1, 1), np.float32)
        no_strands = np.zeros((5, 1, 1), np.float32)  # gate 0: the edge patch keeps the faint mixes' α
        no_key = (none_mask, no_patch)
        key_pairs, edge_rows = no_key
        if write_key:
            pairs_shape = (shape[0], (shape[1] + 1) // 2)
            key_pairs, edge_rows = np.empty(pairs_shape, np.float32), np.empty(pairs_shape, np.bool_)
        args = (
            rgb, plate, key_scale, key_offset, black, subject, background_rgb if use_bg else none_rgb,
            none_mask if garbage is None else garbage, none_mask if core is None else core, params, flags,
        )  # fmt: skip
        luts = (DECODE_LUT, ENCODE_SQRT_LUT)
        if not spatial:
            kernels.key_fused(*args, *luts, no_patch, alpha, fg, key_pairs, edge_rows, no_fit, no_strands)
            if write_key:
                # One patch pass refines the edge band's α (luma fit, then the faint mixes against the
                # strands' colour, found from the key's α) and colours what the fused pass left out.
                band = edge_cells_from_rows(edge_rows)
                strands = no_strands
                if strands_on:
                    strands = kernel_fit(fit_strand_colour(rgb, alpha, band, plate), (s, o1, o2))
                    rescue, rescue_cells = fit_strand_rescue(rgb, alpha, plate, screen, st.screen_balance)
                if refine or strands_on:
                    fit = no_fit
                    if refine:
                        fit = fit_edges(rgb, key_pairs, band, st.luma_refine_eps, linear=linear_luma)
                    kernels.key_patch(*args, *luts, band, alpha, fg, *no_key, fit, strands)
                if strands_on and rescue_cells.any():
                    # Strands the key left clear (strand_colour's rescue): a patch pass of their own, on
                    # the final α, without the luma fit.
                    rescue_flags = flags.copy()
                    rescue_flags[kernels.FLAG_PATCH_LUMA] = 0
                    rescue_args = (*args[:-1], rescue_flags)
                    rescue = kernel_fit(rescue, (s, o1, o2))
                    kernels.key_patch(*rescue_args, *luts, rescue_cells, alpha, fg, *no_key, no_fit, rescue)
                if strands_on:
                    # The second look: every soft pixel part way to the strands' colour of the final α.
                    soft = band | rescue_cells
                    second = kernel_fit(_second_look(rgb, alpha, soft, plate), (s, o1, o2))
                    kernels.key_colour_patch(*args, *luts, soft, alpha, fg, *no_key, second, no_strands)
                if st.colour_fit:
                    colour = kernel_fit(fit_colour(rgb, alpha, band), (s, o1, o2))
                    kernels.key_colour_patch(*args, *luts, band, alpha, fg, *no_key, colour, no_strands)
        else:
            kernels.key_alpha(*args, *luts, no_patch, alpha, fg, key_pairs, edge_rows, no_fit, no_strands)
            if write_key:
                band = edge_cells_from_rows(edge_rows)
                if strands_on:  # from the key's α with the masks, as the fused pass hands it over
                    seen = apply_masks(alpha, garbage, core)
                    strands = fit_strand_colour(rgb, seen, band, plate)
                    rescue, rescue_cells = fit_strand_rescue(rgb, seen, plate, screen, st.screen_balance)
                if refine:
                    fit = fit_edges(rgb, key_pairs, band, st.luma_refine_eps, linear=linear_luma)
                    apply_fit(rgb, band, fit, alpha, linear=linear_luma)
                if strands_on:
                    kept, acting = alpha.copy(), masks_union(garbage, core)
                    apply_colour_fit(rgb, band, strands, alpha, lower_only=True)
                    apply_strand_rescue(rgb, rescue_cells, rescue, alpha, acting)
                    # Without the luma fit (which the masks follow) a mask's pixels keep their α.
                    for mask in () if refine else (garbage, core):
                        if mask is not None:
                            alpha = np.where(mask > 0, kept, alpha)
                    # The second look, from α with the masks (as the fused path has it); a mask's
                    # pixels keep their α.
                    soft, rescued = band | rescue_cells, alpha.copy()
                    second = _second_look(rgb, apply_masks(alpha, garbage, core), soft, plate)
                    apply_colour_fit(rgb, soft, second, alpha, weight=SECOND_WEIGHT)
                    if acting is not None:
                        alpha = np.where(acting > 0, rescued, alpha)
                if st.colour_fit:
                    apply_colour_fit(rgb, band, fit_colour(rgb, alpha, band), alpha)
            keyed = np.ascontiguousarray(despot_matte(alpha, st.despot_px), np.float32)
            alpha = soften_matte(grow_matte(keyed, st.grow_px), st.softness_px)
            alpha = np.ascontiguousarray(alpha, np.float32)
            kernels.key_foreground(*args, *luts, no_patch, alpha, fg, *no_key, no_fit, no_strands)
            if st.grow_px != 0 or st.softness_px > 0:
                # Where the key saw the subject, its colour is un-mixed with the key's own α: un-mixed
                # with a softened or shrunk α, the screen was taken out of pixels that hold none, and a
                # solid edge turned magenta (150,120,110 → 192,70,130 at softness 4). Where the key saw
                # clear screen, a grown or softened matte shows the screen despilled, as before.
                seen = np.empty_like(fg)
                kernels.key_foreground(*args, *luts, no_patch, keyed, seen, *no_key, no_fit, no_strands)
                np.copyto(fg, seen, where=((keyed > 0) & (alpha > 0))[..., None])
        if keep_colour is not None:
            _keep_solid_colour(fg, rgb, alpha, keep_colour)
        return MatteResult(alpha=alpha, foreground_rgb=fg)
