"""The keyer's per-pixel maths as plain numpy functions on linear-light arrays.

These are the readable definitions; :mod:`guangying.keyer.kernels` fuses the same maths into one
numba pass for speed and the tests hold the two to agreement. Colour arrays are float32 (H, W, 3)
linear RGB; a screen colour is either a (3,) triple or a per-pixel (H, W, 3) plate.
"""

from __future__ import annotations

import numpy as np

from guangying.base.errors import SettingsError

# Rec.709 luminance weights: the neutral spill replacement gives back the luminance it removes.
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
_EPS_DIFF = 1e-4  # smallest screen difference we divide by (a grey "screen" keys nothing)
_EPS_ALPHA = 0.1  # un-mixing divides by max(α, this): below it, noise would be amplified more than 10×


def screen_channels(screen: str) -> tuple[int, int, int]:
    """(screen channel, other channel 1, other channel 2) indices for "green" or "blue"."""
    if screen == "green":
        return 1, 0, 2
    if screen == "blue":
        return 2, 0, 1
    raise SettingsError(f"screen must be 'green' or 'blue', got {screen!r}")


def colour_difference(rgb_linear: np.ndarray, screen: str = "green", balance: float = 0.9) -> np.ndarray:
    """d = screen channel − (balance·max(o1, o2) + (1 − balance)·min(o1, o2)), shape (...,)."""
    s, o1, o2 = screen_channels(screen)
    rgb = np.asarray(rgb_linear, np.float32)
    hi = np.maximum(rgb[..., o1], rgb[..., o2])
    lo = np.minimum(rgb[..., o1], rgb[..., o2])
    return (rgb[..., s] - (np.float32(balance) * hi + np.float32(1.0 - balance) * lo)).astype(np.float32)


def clip_matte(alpha: np.ndarray, clip_black: float = 0.0, clip_white: float = 1.0) -> np.ndarray:
    """Stretch α so clip_black → 0 and clip_white → 1, clamped to 0–1."""
    scale = np.float32(1.0 / (clip_white - clip_black))
    return np.clip((np.asarray(alpha, np.float32) - np.float32(clip_black)) * scale, 0.0, 1.0).astype(
        np.float32
    )


def colour_difference_key(
    rgb_linear: np.ndarray,
    screen_rgb_linear: np.ndarray,
    screen: str = "green",
    gain: float = 1.0,
    balance: float = 0.9,
    spill_floor: np.ndarray | float = 0.0,
) -> np.ndarray:
    """The unclamped raw α = 1 − gain·(r − f)/(1 − f), r = d(C)/d(S): see :func:`colour_difference_alpha`."""
    d_pixel = colour_difference(rgb_linear, screen, balance)
    d_screen = np.maximum(colour_difference(screen_rgb_linear, screen, balance), np.float32(_EPS_DIFF))
    floor = np.asarray(spill_floor, np.float32)
    raw = np.float32(1.0) - np.float32(gain) * (d_pixel / d_screen - floor) / (np.float32(1.0) - floor)
    return raw.astype(np.float32)


def colour_difference_alpha(
    rgb_linear: np.ndarray,
    screen_rgb_linear: np.ndarray,
    screen: str = "green",
    gain: float = 1.0,
    balance: float = 0.9,
    clip_black: float = 0.0,
    clip_white: float = 1.0,
    spill_floor: np.ndarray | float = 0.0,
) -> np.ndarray:
    """IBK/Keylight-style colour-difference matte: α = 1 − gain·(r − f)/(1 − f), r = d(C)/d(S), clipped.

    ``screen_rgb_linear`` is the screen colour (3,) or a clean/estimated plate (H, W, 3); d is
    :func:`colour_difference`. A pixel as far from grey as the screen is transparent, one without
    screen excess is opaque, and a mix is in between in proportion — which holds in linear light.
    ``spill_floor`` f (scalar or (H, W), 0–0.3) is the ratio r the solid subject itself shows because
    of spill (see :func:`guangying.keyer.spill_floor.estimate_subject`); 0 = classic key.
    """
    raw = colour_difference_key(rgb_linear, screen_rgb_linear, screen, gain, balance, spill_floor)
    return clip_matte(raw, clip_black, clip_white)


PROJECTION_TOLERANCE = 0.3  # the subject-colour model must explain the pixel to within 30% of C − S


def project_alpha(
    rgb_linear: np.ndarray,
    screen_rgb_linear: np.ndarray,
    subject_rgb_linear: np.ndarray,
    raw_alpha: np.ndarray,
    near_screen: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Lower a colour-difference α where a mix of the nearby subject colour and the screen explains
    the pixel better.

    The colour-difference key assumes the subject has no screen excess (d(F) = 0); for saturated
    warm colours (red, orange, skin: d(F) < 0) it makes soft edges too opaque. With F the nearby solid
    subject colour, the least-squares α of C = α·F + (1 − α)·S is ((C − S)·(F − S))/|F − S|². It
    replaces the raw α where it is lower and leaves a residual under 30% of |C − S| (so hair of
    another colour in front of that subject keeps the colour-difference α), and only where
    ``near_screen`` > 0.5 (0/1 per pixel, interpolated): soft edges need the screen nearby.
    """
    d = np.asarray(rgb_linear, np.float32) - screen_rgb_linear
    e = np.asarray(subject_rgb_linear, np.float32) - screen_rgb_linear
    projected = (d * e).sum(-1) / np.maximum((e * e).sum(-1), np.float32(1e-6))
    residual = np.linalg.norm(d - projected[..., None] * e, axis=-1)
    use = (residual < PROJECTION_TOLERANCE * np.linalg.norm(d, axis=-1)) & (projected < raw_alpha)
    use &= np.asarray(near_screen) > 0.5
    return np.where(use, projected, raw_alpha).astype(np.float32)


LIT_RESIDUAL = 0.05  # a lit surface's model must explain the pixel to within 5% of |F|
# A strand unmixed against its subject's own colour (the ``bounded`` pixels of lit_surface_alpha)
# mirrors at most this share of the screen's light: its mix keeps at least 1 − MIRROR_MAX of its
# coverage a out of the screen's, 1 − b ≥ (1 − MIRROR_MAX)·a. Clear screen's noise unmixed against a
# dark colour reads as coverage with the screen's light whole (b ≈ 1) and fails it. As screen.SCREEN_LIGHT_MAX
# for a solid subject (rendered dark hair +0.7 EV: MAD 6.272 / 6.280 / 6.287 at 0.8 / 0.7 / 0.6; the real
# plate 'pik' 153 / 93 / 36 px changed by > 0.1).
MIRROR_MAX = 0.8
LIT_SHADE_MIN = 0.25  # least share of the surface's light a shaded side keeps (less: a shadow on the screen)
LIT_BASIS_DET = 0.03  # |det(F, F⊙S, S)| over the product of their lengths under which they are one plane
# (numba freezes these two into the cached kernels: changing them must touch kernels.py.)


def _two_colour_fit(
    c: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, residual², valid) of c = a·u + b·v by least squares, for colours (n, 3) → (n,) each;
    valid where u and v are not (nearly) parallel (a and b are then meaningless)."""
    uu, uv, vv = (u * u).sum(-1), (u * v).sum(-1), (v * v).sum(-1)
    uc, vc = (u * c).sum(-1), (v * c).sum(-1)
    det = uu * vv - uv * uv
    valid = det > np.float32(1e-6) * uu * vv
    safe = np.where(valid, det, np.float32(1.0))
    a = (uc * vv - vc * uv) / safe
    b = (vc * uu - uc * uv) / safe
    residual = c - a[..., None] * u - b[..., None] * v
    return a, b, (residual * residual).sum(-1), valid


def _free_brightness(c: np.ndarray, f: np.ndarray, s: np.ndarray) -> np.ndarray:
    """1 − z of c = t·f + y·(f⊙s) + z·s solved exactly, colours (n, 3) → (n,); −inf where the three
    colours are nearly dependent (|det| under LIT_BASIS_DET of their lengths' product), y < 0, z ≥ 1
    or t < LIT_SHADE_MIN·(1 − z)."""
    g = f * s
    basis = np.stack([f, g, s], axis=-1)  # (n, 3 channels, 3 colours)
    det = np.linalg.det(basis.astype(np.float64))
    scale = np.linalg.norm(f, axis=-1) * np.linalg.norm(g, axis=-1) * np.linalg.norm(s, axis=-1)
    ok = np.abs(det) > LIT_BASIS_DET * scale
    safe = np.where(ok[:, None, None], basis, np.eye(3, dtype=np.float32))
    solved = np.linalg.solve(safe.astype(np.float64), c[..., None].astype(np.float64))[..., 0]
    t, y, z = np.moveaxis(solved, -1, 0)
    ok &= (y >= 0) & (z < 1) & (t >= LIT_SHADE_MIN * (1 - z))
    return np.where(ok, 1 - z, -np.inf).astype(np.float32)


def lit_surface_alpha(
    rgb_linear: np.ndarray,
    screen_rgb_linear: np.ndarray,
    surface_rgb_linear: np.ndarray,
    raw_alpha: np.ndarray,
    lit: np.ndarray | float = 1.0,
    bounded: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Raise a colour-difference α to the pixel's coverage of a surface lit by the screen.

    Screen light added to a surface F leaves it whole, C = F + k·S, but a colour-difference key reads
    it as transparency (up to clear screen where k is large). A mix with the screen of that lit
    surface, C = α·(F + k·S) + (1 − α)·S, is α·F + b·S whatever k is: the least-squares a of
    C = a·F + b·S is α, without the difference's max() (whose channel the screen light may not
    raise) and at each pixel (a rim's light varies within a cell; 4:2:0 smears the screen's chroma
    into it). ``surface_rgb_linear`` F and ``lit`` (0/1 per pixel, interpolated: where the screen
    model found such a surface, see :func:`guangying.keyer.lit_surface.screen_lit_floor`) come from the
    screen model. α becomes a where ``lit`` > 0.5, a is higher and the plane of F and S explains C
    to within 5% of |F| (another colour — a strand of hair, smoke — is left to the key).

    The screen light a coloured surface reflects is the screen's filtered by the surface's colour
    (≈ F⊙S), not S: C = α·(F + k·F⊙S) + (1 − α)·S = S + α·(F − S) + α·k·F⊙S. Where that model
    (c = α·k ≥ 0) explains C better than the plane of F and S, its a is taken, under the same 5%.
    Where ``bounded`` > 0.5 (0/1 per pixel, interpolated: a dark fringe's strands unmixed against the
    subject's own colour, :func:`guangying.keyer.spill_floor.fringe_own_light`) only if the mix's screen
    share b (the plane's) leaves room for its coverage: 1 − b ≥ (1 − :data:`MIRROR_MAX`)·a (and the key
    unmixes none the clip reads as clear screen: :func:`guangying.keyer.reference.key_reference`).

    Shading scales the surface's light, not its coverage (the side of a ball turned from the key
    light is darker than F, measured on its lit side): off the plane, C = t·F + y·F⊙S + z·S is also
    solved exactly and 1 − z taken where higher (y ≥ 0, t ≥ 0.25·(1 − z), F, F⊙S and S apart): a
    shaded side lit mostly by the screen light it reflects; where neither model with F's own
    brightness explains C it is the only answer. No residual is left to test it (tinted glass
    would pass), so the screen model's cell tests do not use it, nor the ``bounded`` strands: the
    key unmixes only the surface those tests credited. On the plane (C within a quarter of the
    tolerance) shading still reads as coverage: there it cannot be told from a mix with the screen.
    """
    c = np.asarray(rgb_linear, np.float32)
    out = np.broadcast_to(np.asarray(raw_alpha, np.float32), c.shape[:-1]).copy()
    where = np.broadcast_to(np.asarray(lit) > 0.5, out.shape)
    # Only the marked pixels (a rim: usually a small part of the frame) are unmixed.
    c = c[where]
    s = np.broadcast_to(np.asarray(screen_rgb_linear, np.float32), rgb_linear.shape)[where]
    f = np.broadcast_to(np.asarray(surface_rgb_linear, np.float32), rgb_linear.shape)[where]
    raw = out[where]
    tolerance2 = np.float32(LIT_RESIDUAL * LIT_RESIDUAL) * (f * f).sum(-1)
    a, b, residual2, valid = _two_colour_fit(c, f, s)
    # The screen light a coloured surface reflects, S filtered by its colour: C = S + a·(F − S) + c·F⊙S.
    # Where it explains the pixel better (and c ≥ 0), its a holds; not where the plane of F and S leaves
    # under a quarter of the tolerance (the kernel does not try it there: clear screen, most lit pixels).
    sure = 16 * residual2 <= tolerance2
    a_reflected, c_reflected, reflected2, valid_reflected = _two_colour_fit(c - s, f - s, f * s)
    better = valid_reflected & (c_reflected >= 0) & (reflected2 < residual2) & ~sure
    a = np.where(better, a_reflected, a)
    residual2 = np.where(better, reflected2, residual2)
    bound = np.broadcast_to(np.asarray(bounded) > 0.5, where.shape)[where]
    # A shaded surface lit mostly by the screen light it reflects: C = t·F + y·F⊙S + z·S, coverage 1 − z.
    free = np.where(sure | bound, -np.inf, _free_brightness(c, f, s))
    a = np.where(residual2 <= tolerance2, np.maximum(a, free), free)
    use = valid & np.isfinite(a)
    use &= ~bound | (1.0 - b >= np.float32(1.0 - MIRROR_MAX) * a)
    out[where] = np.where(use & (a > raw), a, raw)
    return out


def unmix_foreground(rgb_linear: np.ndarray, alpha: np.ndarray, screen_rgb_linear: np.ndarray) -> np.ndarray:
    """Straight foreground with the screen removed: F = (C − (1 − α)·S)/α, clamped to 0–1.

    Below α = 0.1 the division is held at 0.1: there the colour is mostly noise and barely seen, and
    the pixel's excess over the screen is kept in proportion instead of being blown up.
    """
    rgb = np.asarray(rgb_linear, np.float32)
    a = np.asarray(alpha, np.float32)[..., None]
    screen_rgb = np.asarray(screen_rgb_linear, np.float32)
    fg = (rgb - (np.float32(1.0) - a) * screen_rgb) / np.maximum(a, np.float32(_EPS_ALPHA))
    return np.clip(fg, 0.0, 1.0).astype(np.float32)


def subject_hue_ratio(subject_rgb_linear: np.ndarray, screen: str) -> np.ndarray:
    """k = min(F_s, max(F_o1, F_o2))/max(F_o1, F_o2) in 0–1: how much screen channel the subject's
    own colour has relative to its larger other channel (1 for neutral or spilled colours)."""
    s, o1, o2 = screen_channels(screen)
    f = np.asarray(subject_rgb_linear, np.float32)
    hi = np.maximum(np.maximum(f[..., o1], f[..., o2]), np.float32(_EPS_DIFF))
    return (np.minimum(f[..., s], hi) / hi).astype(np.float32)


def despill(
    rgb_linear: np.ndarray,
    screen: str = "green",
    method: str = "limit",
    bias: float = 0.0,
    replace: str = "neutral",
    screen_rgb_linear: np.ndarray | None = None,
    background_rgb_linear: np.ndarray | None = None,
    subject_rgb_linear: np.ndarray | None = None,
) -> np.ndarray:
    """Cap the screen channel at a limit made from the two other channels, and replace what was cut.

    Limits: "average" (o1 + o2)/2, "double" (2·max + min)/3, "limit" max(o1, o2), "subject"
    k·max(o1, o2) with k = min(F_s, max(F_o1, F_o2))/max(F_o1, F_o2) the screen-channel ratio of the
    nearby solid subject colour F (``subject_rgb_linear``, per pixel; k = 1 without it): each part of
    the subject keeps its own hue, so brown hair loses the green a plain limit turns olive, while a
    yellow top keeps its yellow. ``bias`` is added to the limit.

    Replacement of the removed spill s: "neutral" adds s × (the screen channel's luminance weight)
    to every channel, keeping luminance; "background" adds (s / S_screen)·B, the light the new
    background would have bounced where the screen did (needs the screen colour and the background;
    neutral without a background); "none" adds nothing. Output clamped to 0–1.
    """
    if method not in ("average", "double", "limit", "subject", "none"):
        raise SettingsError(f"despill method must be average, double, limit, subject or none, got {method!r}")
    rgb = np.array(rgb_linear, np.float32)
    if method == "none":
        return rgb
    s, o1, o2 = screen_channels(screen)
    hi = np.maximum(rgb[..., o1], rgb[..., o2])
    lo = np.minimum(rgb[..., o1], rgb[..., o2])
    if method == "subject":
        limit = hi * subject_hue_ratio(subject_rgb_linear, screen) if subject_rgb_linear is not None else hi
    else:
        limit = {"average": 0.5 * (hi + lo), "double": (2.0 * hi + lo) / 3.0, "limit": hi}[method]
    spill = np.maximum(rgb[..., s] - (limit + np.float32(bias)), 0.0).astype(np.float32)
    rgb[..., s] -= spill
    if replace == "background" and background_rgb_linear is not None:
        if screen_rgb_linear is None:
            raise SettingsError("despill replace='background' needs screen_rgb_linear")
        screen_level = np.maximum(np.asarray(screen_rgb_linear, np.float32)[..., s], np.float32(_EPS_DIFF))
        rgb += (spill / screen_level)[..., None] * np.asarray(background_rgb_linear, np.float32)
    elif replace in ("neutral", "background"):
        rgb += (spill * LUMA_709[s])[..., None]
    elif replace != "none":
        raise SettingsError(f"spill replace must be background, neutral or none, got {replace!r}")
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
