"""Range checks for settings: every number finite (unless infinity means something) and in its
documented range, with a message that names the setting.

Settings dataclasses call :func:`check_fields` from ``__post_init__`` with a table of
:class:`Range` per field, so a bad value is refused where it is made (library or CLI alike); the
mutable ones are :class:`CheckedOnAssignment`, so a value assigned later is refused the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

from guangying.base.errors import SettingsError, brief

_being_checked: set[int] = set()  # ids of settings whose __post_init__ runs again now


def _check_name(cls: type, name: str) -> None:
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]  # every subclass is a dataclass
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise SettingsError(f"{cls.__name__} has no setting {name!r}{hint}")


class CheckedOnAssignment:
    """Base of a mutable settings dataclass: a field assigned after construction
    (``settings.screen_gain = 9``, a script tuning a take) runs the class's ``__post_init__`` checks
    again, and a refused value leaves the old one in place. Before, only the constructor checked, so
    such a value reached the kernels (NaN mattes, a numba error) or was silently clamped."""

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> CheckedOnAssignment:
        # a misspelt keyword (``KeyerSettings(scren="green")``) was Python's TypeError, not the
        # GuangyingError a script catches, and said no more than "unexpected keyword argument"
        for name in kwargs:
            _check_name(cls, name)
        return super().__new__(cls)

    def __setattr__(self, name: str, value: object) -> None:
        if not name.startswith("_"):
            # a misspelt setting (``light_wrap_width = 6``) became a new attribute and did nothing
            _check_name(type(self), name)
        if id(self) in _being_checked or not _assigned(self, name):  # the checks' own, or the constructor's
            object.__setattr__(self, name, value)
            return
        old = getattr(self, name)
        object.__setattr__(self, name, value)
        _being_checked.add(id(self))
        try:
            self.__post_init__()  # type: ignore[attr-defined]
        except BaseException:
            object.__setattr__(self, name, old)
            raise
        finally:
            _being_checked.discard(id(self))


def _assigned(obj: object, name: str) -> bool:
    """Whether ``obj`` already holds ``name`` itself (not a class default the constructor has yet to set)."""
    state = getattr(obj, "__dict__", None)
    if state is not None:
        return name in state
    try:  # a slotted dataclass: an unset slot raises
        object.__getattribute__(obj, name)
    except AttributeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Range:
    """Allowed values of one numeric setting: ``lo``–``hi`` (closed unless ``*_open``), in ``unit``.

    ``allow_inf``: +∞ is allowed (a backdrop at infinity). ``optional``: None is allowed (off/auto).
    ``integer``: the value must be a whole number.
    """

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""
    allow_inf: bool = False
    optional: bool = False
    integer: bool = False

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if math.isinf(self.hi) and not self.allow_inf:
            return f"{'>' if self.lo_open else '≥'} {self.lo:g}{unit} and finite"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        infinity = " or inf" if self.allow_inf and not math.isinf(self.hi) else ""  # a backdrop at infinity
        return f"in {left}{self.lo:g}, {self.hi:g}{right}{unit}{infinity}"

    def contains(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if math.isinf(value):
            return self.allow_inf and value > 0
        if self.lo_open and not value > self.lo or not self.lo_open and not value >= self.lo:
            return False
        if self.hi_open and not value < self.hi or not self.hi_open and not value <= self.hi:
            return False
        return not self.integer or float(value).is_integer()


def check_range(owner: str, name: str, value: object, allowed: Range) -> None:
    """Raise :class:`SettingsError` naming ``owner`` and ``name`` unless ``value`` is in ``allowed``.

    Examples
    --------
    >>> check_range("lens", "f_number", 2.0, Range(0.5, 128))
    >>> check_range("lens", "f_number", float("inf"), Range(0.5, 128))
    Traceback (most recent call last):
    ...
    guangying.base.errors.SettingsError: lens setting f_number=inf: must be in [0.5, 128]
    """
    if value is None and allowed.optional:
        return
    if isinstance(value, bool) or not isinstance(value, Real):
        raise SettingsError(f"{owner} setting {name}={brief(value)}: must be a number {allowed.describe()}")
    if not allowed.contains(float(value)):
        raise SettingsError(f"{owner} setting {name}={brief(value)}: must be {allowed.describe()}")


def check_fields(obj: object, owner: str, ranges: Mapping[str, Range]) -> None:
    """:func:`check_range` for each named attribute of ``obj`` (a settings dataclass), and every field
    it declares ``bool`` holds true or false: ``match_levels="no"``, a non-empty string, was on."""
    for name, allowed in ranges.items():
        check_range(owner, name, getattr(obj, name), allowed)
    for field in dataclasses.fields(obj) if dataclasses.is_dataclass(obj) else ():
        value = getattr(obj, field.name)
        if field.type in ("bool", bool) and not isinstance(value, bool | np.bool_):
            raise SettingsError(f"{owner} setting {field.name}={brief(value)}: must be true or false")


def check_instance(value: object, cls: type, what: str) -> None:
    """Refuse ``value`` unless it is a ``cls`` (a settings dataclass, mostly): a dict or a name in its
    place failed deep inside with an AttributeError, reported as a bug."""
    if not isinstance(value, cls):
        got = type(value).__name__
        build = f"{cls.__name__}(**{what})" if isinstance(value, dict) else f"{cls.__name__}(...)"
        raise SettingsError(f"{what} must be a {cls.__name__}, got a {got}: build one with {build}")


def check_matter(matter: object) -> None:
    """Refuse what cannot matte frames (a mode name given where the engine goes, say)."""
    if not callable(getattr(matter, "process", None)):
        hint = f"make_matter({matter!r})" if isinstance(matter, str) else "make_matter('chroma')"
        got = type(matter).__name__
        raise SettingsError(f"matter must be a matte engine, got a {got}: make one with {hint}")


def check_choice(owner: str, name: str, value: object, allowed: tuple[object, ...]) -> None:
    """Raise :class:`SettingsError` unless ``value`` is one of ``allowed`` (``"no"`` is no bool)."""
    if value not in allowed or isinstance(value, str) != isinstance(allowed[allowed.index(value)], str):
        raise SettingsError(f"{owner} setting {name}={brief(value)}: use one of "
                            f"{', '.join(map(str, allowed))}")


def float_picture(picture: object, what: str) -> np.ndarray:
    """``picture`` as a contiguous float32 array, for a library call that takes sRGB 0–1 pictures.

    Any float dtype is taken as it is (``skimage.img_as_float`` gives float64). Integer code values
    are refused rather than scaled: ``cv2.imread``'s uint8 taken as 0–255 would key nothing without
    a word, and guessing the scale of a uint16 (10-bit? 16-bit?) would be wrong as often as right.
    """
    array = np.asarray(picture)
    if np.issubdtype(array.dtype, np.floating):
        return np.ascontiguousarray(array, dtype=np.float32)
    if np.issubdtype(array.dtype, np.unsignedinteger) and array.dtype.itemsize <= 2:
        full = np.iinfo(array.dtype).max
        raise SettingsError(
            f"{what} must be float sRGB in 0–1, got {array.dtype} code values: "
            f"convert with picture.astype(np.float32) / {full}"
        )
    raise SettingsError(f"{what} must be a float sRGB picture in 0–1, got dtype {array.dtype}")


def check_display_picture(rgb: np.ndarray, what: str, step: int = 1) -> None:
    """Refuse a float picture that cannot be sRGB 0–1: NaN or infinite values anywhere, or values past
    2 in more than 1 % of it (every ``step``-th row and column is looked at: a sample tells the scale).
    A few hot pixels (a firefly) are let through. More than 1 % outside 0–1 (a linear or unclipped
    picture that keys wrongly, but not by nothing) is warned about.

    A matter's recurrent state took one NaN pixel into every later frame (the subject gone for the
    rest of the clip), the keyer's foreground carried it into the composite, and a picture in 0–255
    (``cv2.imread``'s, cast to float) or in scene-linear light mattes as nothing, without a word.
    """
    if not rgb.size:
        return
    # NaN and ±inf carry through a sum: one pass (a count only where it is not finite: the sum of
    # huge but finite values may overflow)
    bad = 0 if math.isfinite(float(np.sum(rgb))) else int(np.count_nonzero(~np.isfinite(rgb)))
    if bad:
        raise SettingsError(f"{what} has {bad} NaN or infinite value(s): replace them first "
                            "(np.nan_to_num(picture, nan=0.0, posinf=1.0, neginf=0.0))")
    sample = rgb[::step, ::step]
    peak, low = float(sample.max()), float(sample.min())
    if peak <= 1.02 and low >= -0.02:  # the usual case, in two quick passes
        return
    if np.count_nonzero(sample > 2.0) > 0.01 * sample.size:
        raise SettingsError(
            f"{what} reaches {peak:g}, but pictures here are sRGB-coded 0–1: divide 0–255 values "
            "(cv2.imread's, cast to float) by 255; scene-linear light (an EXR, an HDR clip) goes through "
            "guangying.display_srgb(frame.rgb, frame.transfer) first")
    outside = np.count_nonzero((sample > 1.02) | (sample < -0.02))
    if outside > 0.01 * sample.size:  # scene-linear light or an unclipped grade: keyed as if sRGB
        warnings.warn(f"{what} has {outside / sample.size:.0%} of its values outside 0–1, but pictures here "
                      "are sRGB-coded 0–1: scene-linear light (an EXR, an HDR clip) goes through "
                      "guangying.display_srgb(frame.rgb, frame.transfer) first; clip a graded picture "
                      "to 0–1", stacklevel=4)
