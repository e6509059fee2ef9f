"""Thin-lens depth of field (Greenleaf's formulas, as published by DOFMaster).

All public functions take explicit units in their argument names. Distances are measured from the
lens' front nodal point as a thin-lens approximation; that is what focus scales and DoF tables use.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from guangying.base.checks import Range, check_range
from guangying.base.errors import SettingsError
from guangying.lens.sensors import SensorPreset, sensor_preset


@dataclass(frozen=True, slots=True)
class DepthOfField:
    """Depth of field for one lens setting. ``far_m`` and ``total_m`` are ``math.inf`` past hyperfocal.

    ``half_width_diopters`` is half the DoF in diopters (1/m): the focus tolerance. A focus error
    smaller than that (in diopters) keeps the subject acceptably sharp.
    """

    focal_length_mm: float
    f_number: float
    coc_mm: float
    distance_m: float
    hyperfocal_m: float
    near_m: float
    far_m: float
    total_m: float
    front_m: float
    behind_m: float
    half_width_diopters: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-friendly dict: infinite distances become ``None``."""
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(self).items()}


# The physically meaningful ranges of lens numbers (fisheyes to 5 m telescopes, f/0.5 to pinholes).
LENS_RANGES = {
    "focal_length_mm": Range(1.0, 5000.0, unit="mm"),
    "f_number": Range(0.5, 128.0),
    "coc_mm": Range(0.0005, 1.0, unit="mm"),
    "distance_m": Range(0.0, 1e6, lo_open=True, unit="m", allow_inf=True),  # the infinity mark
    "focus_distance_m": Range(0.0, 1e6, lo_open=True, unit="m"),
    "sensor_width_mm": Range(1.0, 100.0, unit="mm"),
    "image_width_px": Range(1.0, 1e6, unit="px"),
}


def _check_lens(**values: float) -> None:
    for name, value in values.items():
        check_range("lens", name, value, LENS_RANGES[name])


def resolve_coc_mm(coc_mm: float | None = None, sensor: str | SensorPreset | None = None) -> float:
    """The circle of confusion in mm, from exactly one of ``coc_mm`` or a ``sensor`` preset.

    >>> resolve_coc_mm(sensor="s35"), resolve_coc_mm(coc_mm=0.02)
    (0.025, 0.02)
    """
    if (coc_mm is None) == (sensor is None):
        raise SettingsError("give exactly one of --coc MM (coc_mm) or --sensor NAME (sensor)")
    if coc_mm is None:
        try:
            coc_mm = (sensor if isinstance(sensor, SensorPreset) else sensor_preset(str(sensor))).coc_mm
        except SettingsError as exc:
            raise SettingsError(f"{exc} (or give --coc MM)") from exc
    _check_lens(coc_mm=coc_mm)
    return float(coc_mm)


def hyperfocal_mm(focal_length_mm: float, f_number: float, coc_mm: float) -> float:
    """Hyperfocal distance H = f²/(N·c) + f in millimetres: focused there, everything from H/2 to
    infinity is acceptably sharp.

    >>> round(hyperfocal_mm(35, 8, 0.025))   # 35 mm at f/8 on Super 35: about 6.2 m
    6160
    """
    _check_lens(focal_length_mm=focal_length_mm, f_number=f_number, coc_mm=coc_mm)
    return focal_length_mm**2 / (f_number * coc_mm) + focal_length_mm


def depth_of_field(
    focal_length_mm: float,
    f_number: float,
    distance_m: float,
    coc_mm: float | None = None,
    sensor: str | SensorPreset | None = None,
) -> DepthOfField:
    """Near/far limits of acceptable sharpness when focused at ``distance_m`` (thin lens).

    Parameters
    ----------
    focal_length_mm : float
        Focal length, 1–5000 mm.
    f_number : float
        Aperture f-number, 0.5–128.
    distance_m : float
        Focus distance in metres, beyond the focal length.
    coc_mm : float, optional
        Circle of confusion on the sensor, mm (0.0005–1). Wins over ``sensor``.
    sensor : str or SensorPreset, optional
        A sensor preset giving the circle of confusion (``"s35"`` → 0.025 mm, ``"ff"`` → 0.030 mm).

    Returns
    -------
    DepthOfField
        Hyperfocal, near and far limits, total depth in metres (``far_m``/``total_m`` are ``math.inf``
        past the hyperfocal distance) and the focus tolerance in diopters.

    Examples
    --------
    >>> d = depth_of_field(50, 2.8, 3.0, sensor="s35")
    >>> round(d.near_m, 3), round(d.far_m, 3), round(d.hyperfocal_m, 2)
    (2.771, 3.27, 35.76)
    >>> depth_of_field(24, 8, 5.0, coc_mm=0.03).far_m   # past the hyperfocal distance
    inf
    >>> round(depth_of_field(50, 2.8, math.inf, sensor="s35").near_m, 2)   # at the infinity mark
    35.71
    """
    if coc_mm is None:
        coc_mm = resolve_coc_mm(sensor=sensor)
    _check_lens(focal_length_mm=focal_length_mm, f_number=f_number, coc_mm=coc_mm, distance_m=distance_m)
    at_infinity = distance_m == math.inf  # a lens at its infinity mark: sharp from near H on
    f = focal_length_mm
    s = distance_m * 1000.0
    if s <= f:
        raise SettingsError(
            f"focus distance {distance_m} m is inside the focal length ({f} mm): no real image forms"
        )
    h = hyperfocal_mm(f, f_number, coc_mm)
    near = h - f if at_infinity else s * (h - f) / (h + s - 2 * f)
    far = s * (h - f) / (h - s) if s < h else math.inf
    near_m, far_m = near / 1000.0, far / 1000.0
    half_width = 0.5 * (1.0 / near_m - (0.0 if math.isinf(far_m) else 1.0 / far_m))
    return DepthOfField(
        focal_length_mm=float(f),
        f_number=float(f_number),
        coc_mm=float(coc_mm),
        distance_m=float(distance_m),
        hyperfocal_m=h / 1000.0,
        near_m=near_m,
        far_m=far_m,
        total_m=far_m - near_m,
        front_m=distance_m - near_m,
        behind_m=math.inf if at_infinity else far_m - distance_m,  # ∞ − ∞: all behind is sharp
        half_width_diopters=half_width,
    )


def dof_half_width_diopters(focal_length_mm: float, f_number: float, coc_mm: float) -> float:
    """DoF half-width in diopters for s ≪ H, N·c/f² (f, c in metres); the exact value at distance s
    is this times (1 − f/s), so it barely depends on distance: a controller's tolerance in diopters.
    """
    _check_lens(focal_length_mm=focal_length_mm, f_number=f_number, coc_mm=coc_mm)
    return f_number * (coc_mm / 1000.0) / (focal_length_mm / 1000.0) ** 2


def coc_diameter_mm(
    focal_length_mm: float,
    f_number: float,
    focus_distance_m: float,
    object_distance_m: float | np.ndarray,
) -> float | np.ndarray:
    """Blur-circle diameter on the sensor of a point at ``object_distance_m`` when focused at
    ``focus_distance_m`` (thin lens): c = A·f/(s−f) · |d−s|/d with aperture A = f/N.

    Parameters
    ----------
    focal_length_mm, f_number : float
        The lens: focal length in millimetres and aperture f-number, both finite and > 0.
    focus_distance_m : float
        Where the lens is focused, metres, beyond the focal length.
    object_distance_m : float or ndarray
        Distance(s) of the object in metres, > 0; ``math.inf`` is a point at infinity.

    Returns
    -------
    float or ndarray of float64
        Diameter in millimetres on the sensor (same shape as ``object_distance_m``).

    Examples
    --------
    >>> round(coc_diameter_mm(135, 2, 5.0, math.inf), 3)  # a backdrop at infinity, 135 mm f/2 at 5 m
    1.873
    """
    _check_lens(focal_length_mm=focal_length_mm, f_number=f_number, focus_distance_m=focus_distance_m)
    f = focal_length_mm
    s = focus_distance_m * 1000.0
    if s <= f:
        raise SettingsError(f"focus distance {focus_distance_m} m is inside the focal length ({f} mm)")
    d = np.asarray(object_distance_m, dtype=np.float64) * 1000.0
    if np.any(~(d > 0)):
        raise SettingsError("object distances must be > 0 m")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isinf(d), 1.0, np.abs(d - s) / d)
    c_mm = (f / f_number) * f / (s - f) * ratio
    return float(c_mm) if np.ndim(c_mm) == 0 else c_mm


def blur_width_ratio(pixel_aspect: float) -> float:
    """Width ÷ height, in stored pixels, of the blur an anamorphic lens gives a plate stored with
    ``pixel_aspect`` (a stored pixel's shown width ÷ its height): 1 / pixel_aspect².

    A lens of squeeze s narrows its entrance pupil s times across and images the width s times smaller,
    so on the sensor its blur is s² times narrower than tall; shown unsqueezed, the bokeh is s times
    taller than wide (the oval bokeh of anamorphic films). The height is :func:`coc_diameter_px` with
    the nominal (vertical) focal length. A picture sampled with non-square pixels through a round lens
    (HDV, DV) would want 1 / pixel_aspect; such formats are not told apart from anamorphic plates.

    Examples
    --------
    >>> blur_width_ratio(2.0), blur_width_ratio(1.0)
    (0.25, 1.0)
    """
    if not (math.isfinite(pixel_aspect) and pixel_aspect > 0):
        raise SettingsError(f"pixel aspect must be > 0, got {pixel_aspect}")
    return 1.0 / (pixel_aspect * pixel_aspect)


def sensor_span_px(width_px: int, height_px: int, pixel_aspect: float = 1.0) -> int:
    """The pixels a sensor's recorded width spans in a ``width_px × height_px`` picture as stored: the
    side that is long as the picture is shown (its width times ``pixel_aspect``). A phone clip shown
    upright (portrait) spans the sensor's width along its height; taken along its width, its blur
    circles and field of view came out 0.56× (9/16) as large. An anamorphic plate stored taller than
    wide (480×540 at pixel aspect 2, shown 960×540) spans it along its width."""
    return int(width_px) if width_px * pixel_aspect >= height_px else int(height_px)


def coc_diameter_px(
    focal_length_mm: float,
    f_number: float,
    focus_distance_m: float,
    object_distance_m: float | np.ndarray,
    sensor_width_mm: float,
    image_width_px: int,
) -> float | np.ndarray:
    """:func:`coc_diameter_mm` in image pixels: times ``image_width_px / sensor_width_mm``
    (``image_width_px`` the pixels the sensor's width spans: :func:`sensor_span_px`).

    Examples
    --------
    >>> round(coc_diameter_px(135, 2, 5.0, math.inf, sensor_width_mm=24.89, image_width_px=1920), 1)
    144.5
    """
    _check_lens(sensor_width_mm=sensor_width_mm, image_width_px=image_width_px)
    return coc_diameter_mm(focal_length_mm, f_number, focus_distance_m, object_distance_m) * (
        image_width_px / sensor_width_mm
    )
