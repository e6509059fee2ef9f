"""Robust Video Matting (Lin et al. 2021, MobileNetV3) with our own fast full-resolution refinement.

Per frame: downsample the frame (bilinear, as the original graph does), run the converted network
``rvm_base`` (the graph specialised for downsample_ratio 1: network only) at that low resolution
with the recurrent state r1..r4 of the previous frame, then refine to full resolution with RVM's
fast guided filter computed in :mod:`guangying.matting.guided` instead of inside ONNX. The result is
the same maths as the whole converted graph ``rvm_full`` at a fraction of the cost.

Recurrent state is dropped on :meth:`RvmMatter.reset` (new clip), when the frame size changes, and
automatically at a detected cut. The refiner's low-resolution coefficients are smoothed over time
only where the picture holds still (:class:`~guangying.matting.temporal.MotionAdaptiveSmoother`).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import cv2
import numpy as np

from guangying.base.checks import Range, check_range
from guangying.base.errors import SettingsError
from guangying.base.jit import numba
from guangying.base.mattes import MatteResult
from guangying.matting.frames import check_rgb
from guangying.matting.guided import apply_rvm_coefficients, rvm_coefficients
from guangying.matting.session import NetworkSession
from guangying.matting.temporal import CutDetector, MotionAdaptiveSmoother

Preset = Literal["portrait", "full_body"]

# Internal short side the RVM authors' recommended ratios give (720p 0.375/0.6, 1080p 0.25/0.4,
# 4K 0.125/0.2): 270 px for a head-and-shoulders shot, 432 px when the whole body is small in frame.
_INTERNAL_SHORT_SIDE_PX = {"portrait": 270, "full_body": 432}
# Above this ratio the refiner would add almost nothing: run the network on the frame itself.
_NO_REFINE_ABOVE = 0.8
# An underexposed picture is shown to the network brightened until its brightest 1 % reach a third of
# white (at most 8×): an 8-bit clip peaking at 8 % of white lost its subject from the matte within 2 s
# (mean α 0.05 → 0.001) and held it steadily at ×2 (0.22). The gain follows the picture slowly (a tenth
# of the way each frame) so a fade cannot pump the matte; the outputs keep the footage's exposure.
_EXPOSED_PEAK = 0.35
# Noise σ over the picture's contrast above which a shot is said to be noisy: field clips lit normally
# 0.1–0.8 %, a brick wall filling the frame 1.8 %, a phone at high ISO in a dim room 3 %, at night 10 %
_NOISY_ABOVE = 0.025
_TEXTURE_AT_HALF = 0.8  # see noise_to_contrast
_MAX_GAIN = 8.0
_GAIN_FOLLOW = 0.1


# A fresh memory (a clip's first frame, a cut) is settled on that frame before it is matted: RVM's
# memory took 6–8 frames to fill a subject in (a seated figure's matte grew from 0.14 to 0.21 of the
# picture, holes in the torso on frame 0); four runs bring frame 0 to 0.18, for ~4 network runs once.
_SETTLE_RUNS = 4
_SMALLEST_INTERNAL_PX = 64  # the short side the network is shown, at the least, when scaled down
_SOLID_FROM = 0.9  # α from which the network's foreground gives way to the plate, all of it at 1


@numba.njit(parallel=True, fastmath=True, cache=True)
def _solid_from_plate_kernel(alpha, fgr, plate, out):  # type: ignore[no-untyped-def]
    h, w = alpha.shape
    gain = 1.0 / (1.0 - _SOLID_FROM)
    for y in numba.prange(h):
        for x in range(w):
            weight = min(max((alpha[y, x] - _SOLID_FROM) * gain, 0.0), 1.0)
            for c in range(3):
                out[y, x, c] = fgr[y, x, c] + weight * (plate[y, x, c] - fgr[y, x, c])


def _solid_from_plate(alpha: np.ndarray, fgr_rgb: np.ndarray, plate_rgb: np.ndarray) -> MatteResult:
    """The network's foreground colour on soft edges (the screen or set taken out), the plate's own
    where the subject is solid: RVM's predicted colour there shifted skin and costume by up to 22/255
    (R −1.5, G and B +0.7 on average, a steady cyan cast) in every composite. One fused pass: numpy's
    weight and OpenCV's blend took 12 ms a 1080p frame, a sixth of the network's time."""
    alpha = np.ascontiguousarray(alpha, np.float32)
    foreground = np.empty(plate_rgb.shape, np.float32)
    _solid_from_plate_kernel(alpha, np.ascontiguousarray(fgr_rgb, np.float32),
                             np.ascontiguousarray(plate_rgb, np.float32), foreground)
    return MatteResult(alpha=alpha, foreground_rgb=foreground)


def choose_downsample_ratio(height: int, width: int, preset: Preset = "portrait") -> float:
    """RVM downsample ratio for a frame size and shot type (1.0 means: no refiner needed)."""
    if preset not in _INTERNAL_SHORT_SIDE_PX:
        raise SettingsError(f"unknown RVM preset {preset!r}; use 'portrait' or 'full_body'")
    ratio = _INTERNAL_SHORT_SIDE_PX[preset] / float(min(height, width))
    return 1.0 if ratio > _NO_REFINE_ABOVE else ratio


def lowres_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """(h, w) of the network input: the graph truncates size × ratio to an integer."""
    return max(int(height * np.float32(ratio)), 16), max(int(width * np.float32(ratio)), 16)


class RvmMatter:
    """Neural video matting of every person in frame; see the module docstring.

    ``downsample_ratio``: fixed ratio, or None to choose it per frame size from ``preset``.
    ``threads``: onnxruntime intra-op threads (None: one per physical core). ``smoothing``: strength
    of the motion-adaptive temporal smoothing, 0 turns it off. ``int8``: run ``rvm_base_int8`` (decoder
    convolutions in int8: faster on CPU, slightly less exact edges; see ``bench/results``).
    """

    remembers_frames = True

    def __init__(
        self,
        downsample_ratio: float | None = None,
        preset: Preset = "portrait",
        threads: int | None = None,
        providers: list[str] | None = None,
        smoothing: float = 0.5,
        int8: bool = False,
    ) -> None:
        # types too: a text ratio raised a TypeError, NaN smoothing or int8="no" were taken silently
        check_range("RVM matting", "downsample_ratio", downsample_ratio, Range(0.0, 1.0, lo_open=True,
                                                                              optional=True))
        check_range("RVM matting", "smoothing", smoothing, Range(0.0, 1.0, hi_open=True))
        check_range("RVM matting", "threads", threads, Range(1, integer=True, optional=True))
        if not isinstance(int8, bool):
            raise SettingsError(f"RVM matting setting int8={int8!r}: must be True or False")
        choose_downsample_ratio(720, 1280, preset)  # validates the preset name now, not on frame 1
        if downsample_ratio is not None and preset != "portrait":  # the output was the same as without it
            warnings.warn(f"the {preset} preset does nothing beside a downsample ratio "
                          f"({downsample_ratio:g}), which sets the network's resolution itself: give one or "
                          "the other", stacklevel=2)
        self.downsample_ratio = downsample_ratio
        self.preset: Preset = preset
        network = "rvm_base_int8" if int8 else "rvm_base"
        self.net = NetworkSession(network, threads=threads, providers=providers)
        self._cuts = CutDetector()
        self._smoother = MotionAdaptiveSmoother(strength=smoothing) if smoothing > 0 else None
        self._state: list[np.ndarray] | None = None
        self._state_size: tuple[int, int] | None = None
        self.cuts_detected = 0
        self.exposure_gain = 1.0  # what the network's input is brightened by now
        self._said_dark = self._said_noisy = False

    def reset(self) -> None:
        self._state = None
        self._state_size = None
        self._cuts.reset()
        if self._smoother is not None:
            self._smoother.reset()

    def ratio_for(self, height: int, width: int) -> float:
        if self.downsample_ratio is not None:
            return self.downsample_ratio
        return choose_downsample_ratio(height, width, self.preset)

    def process(self, rgb: np.ndarray, background_rgb: np.ndarray | None = None) -> MatteResult:
        """Matte one frame: ``rgb`` float32 (H, W, 3) sRGB 0–1 → alpha (H, W) and straight foreground."""
        frame = plate = check_rgb(rgb, "RVM matting")
        height, width = frame.shape[:2]
        ratio = self.ratio_for(height, width)
        shown = lowres_size(height, width, ratio)
        if ratio < 1.0 and min(shown) < _SMALLEST_INTERNAL_PX:
            # --downsample-ratio 0.01 had the network look at 16 px: an empty matte, exit 0, no word
            # the least ratio, in hundredths, that passes this same check (1: the whole picture, always
            # allowed); it said "at least 1.3" (refused as above 1) and, rounded down, 0.18 for 0.19
            least = math.ceil(100 * _SMALLEST_INTERNAL_PX / min(height, width)) / 100
            while least < 1 and min(lowres_size(height, width, least)) < _SMALLEST_INTERNAL_PX:
                least = round(least + 0.01, 2)
            least = min(least, 1.0)
            raise SettingsError(
                f"downsample ratio {ratio:g} shows the network a {shown[1]}×{shown[0]} picture of this "
                f"{width}×{height} one, too small to find anyone in: give at least {least:g}, or leave "
                "it to the preset")
        small = frame if ratio == 1.0 else cv2.resize(frame, shown[::-1], interpolation=cv2.INTER_LINEAR)
        if self._cuts.is_cut(small):  # the thumbnail comes cheaper from the small frame
            self.cuts_detected += 1
            self._state = None
            if self._smoother is not None:
                self._smoother.reset()
        if self._state_size != small.shape[:2]:
            self._state = None
            self._state_size = small.shape[:2]
        gain = self._follow_exposure(small, fresh=self._state is None)
        if self._state is None and not self._said_noisy:
            self._say_noise(frame)
        if gain > 1.0:
            small = np.minimum(small * np.float32(gain), np.float32(1.0))
        refine = ratio != 1.0
        if self._state is None:
            for _ in range(_SETTLE_RUNS):
                self._state = self.net.run_rvm(small, self._state, raw=refine)[2]
        fgr_small, pha_small, self._state = self.net.run_rvm(small, self._state, raw=refine)
        if not refine:
            values: tuple[np.ndarray, ...] = (pha_small, fgr_small)
            if self._smoother is not None:
                values = self._smoother(small, values)
            return _solid_from_plate(values[0], _exposed_back(values[1], gain), plate)
        # As in the graph: refine the unclipped foreground residual and alpha, clip after upsampling.
        a, b = rvm_coefficients(small, fgr_small, pha_small)
        if self._smoother is not None:
            a, b = self._smoother(small, (a, b))
        if gain > 1.0:
            frame = np.minimum(frame * np.float32(gain), np.float32(1.0))
        fgr, alpha = apply_rvm_coefficients(a, b, frame)
        return _solid_from_plate(alpha, _exposed_back(fgr, gain), plate)

    def _say_noise(self, frame: np.ndarray) -> None:
        """A noisy shot (a phone at high ISO in a dim room) is said at its first frame: the network reads
        the noise as detail, and edges that hold still boil (65× the frame-to-frame change of the same
        shot well lit, where a bright window kept the dark-picture warning away)."""
        ratio = noise_to_contrast(frame)
        if ratio > _NOISY_ABOVE:
            self._said_noisy = True
            warnings.warn(
                f"RVM matting: the picture is noisy (noise {ratio:.0%} of its contrast): the network takes "
                "the noise for detail, and edges that hold still can flicker. Light the subject more, or "
                "denoise the clip before matting it (ffmpeg's hqdn3d or nlmeans, Resolve's temporal NR)",
                stacklevel=3)

    def _follow_exposure(self, small: np.ndarray, fresh: bool) -> float:
        """The gain for the network's input (see ``_EXPOSED_PEAK``): taken at once on a new shot,
        followed slowly after."""
        peak = float(np.percentile(small[::2, ::2].max(axis=2), 99))
        wanted = min(max(_EXPOSED_PEAK / max(peak, 1e-6), 1.0), _MAX_GAIN)
        if fresh:
            self.exposure_gain = wanted
        else:
            self.exposure_gain += _GAIN_FOLLOW * (wanted - self.exposure_gain)
        if self.exposure_gain > 1.5 and not self._said_dark:
            self._said_dark = True
            warnings.warn(
                f"RVM matting: the picture is dark (its brightest 1 % at {peak:.0%} of white), so the "
                f"network is shown it brightened ×{self.exposure_gain:.1f}: unlit, a subject fades out of "
                "the matte, and the noise brightened with it can make still edges flicker; light the "
                "subject more if you can. The outputs keep the footage's own exposure", stacklevel=3)
        return self.exposure_gain


def noise_to_contrast(rgb: np.ndarray) -> float:
    """A picture's noise σ (luma, by Immerkær's Laplacian difference over its quietest parts) over its
    contrast (luma's 99th less its 1st percentile); 0 where that fine detail does not fall by a fifth at
    half the size, as white noise does (to about half, averaged 2×2), and texture does not (grass filling
    the frame read as noise: 1.15 of it left at half size against 0.52–0.60 of noisy clips')."""
    luma = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    full = _quietest_blocks(np.abs(cv2.filter2D(luma, -1, kernel)))
    half = cv2.resize(luma, (luma.shape[1] // 2, luma.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if _quietest_blocks(np.abs(cv2.filter2D(half, -1, kernel))) >= _TEXTURE_AT_HALF * full:
        return 0.0
    # the kernel's response to white noise of σ has σ·6 (mean absolute: σ·6·√(2/π))
    sigma = full / (6 * math.sqrt(2 / math.pi))
    low, high = np.percentile(luma[::2, ::2], [1, 99])
    return sigma / max(float(high - low), 1e-3)


def _quietest_blocks(magnitude: np.ndarray) -> float:
    """The mean of ``magnitude`` over the quietest tenth of its 16-pixel blocks: noise shows everywhere,
    texture (a brick wall, hair) only in parts."""
    h, w = (n // 16 * 16 for n in magnitude.shape)
    return float(np.percentile(magnitude[:h, :w].reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3)), 10))


def _exposed_back(foreground_rgb: np.ndarray, gain: float) -> np.ndarray:
    """The foreground at the footage's own exposure, from the brightened picture's."""
    return foreground_rgb if gain == 1.0 else foreground_rgb * np.float32(1.0 / gain)
