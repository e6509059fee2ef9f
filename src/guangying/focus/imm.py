"""The IMM filter's arithmetic, compiled with numba: three motion models (standing, calm walk,
manoeuvre) in diopters with radial speed and acceleration, their mode switching and combination.

It follows the former pure-Python controller operation for operation, numpy's summation order
included (:mod:`guangying.evaluation.focus_reference`; the tests hold the two within 1e-9), on the
state of :mod:`guangying.focus.kernel_state`.
"""

from __future__ import annotations

import math

import numpy as np

from guangying.base.jit import njit
from guangying.focus.kernel_state import (
    C_CALM_ACCEL,
    C_EXIT0,
    C_JERK1,
    C_RMAX,
    C_RMIN,
    C_SWAY,
    CALM,
    INIT,
    PI0,
    PI_KEY,
    PI_TABLE0,
    PI_TABLE_MS,
    STANDING,
    T_IMM,
    KernelState,
)


# ---- small exact helpers ---------------------------------------------------------------------------
@njit(cache=True)
def _round_ms(x: float) -> float:
    """``round(x, 3)`` exactly as Python does it for x ≥ 0 (decided on the exact binary value, so a
    time step such as 0.0105 rounds as in the reference): the candidate from x·1000 is corrected by
    the exact product (Dekker's two-product), since no decimal midpoint k + ½ thousandths is a float."""
    p = x * 1000.0
    split = 134217729.0 * x  # Veltkamp split of x (1000 splits exactly)
    xh = split - (split - x)
    xl = x - xh
    e = (xh * 1000.0 - p) + xl * 1000.0  # p + e == x·1000 exactly
    k = float(math.floor(p))
    frac = p - k  # exact: p and k are close
    if frac > 0.5 or (frac == 0.5 and e > 0.0):
        k += 1.0
    return k / 1000.0


@njit(cache=True)
def np_sum(a: np.ndarray) -> float:
    """numpy's pairwise summation of a contiguous float64 vector, order for order (``np.sum``)."""
    n = a.size
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
        i = 8
        while i < n - (n % 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return np_sum(a[:n2]) + np_sum(a[n2:])


@njit(cache=True)
def _expm3(g: np.ndarray) -> np.ndarray:
    """exp of a 3×3 matrix by scaling and squaring of a Taylor series (to double precision)."""
    norm = 0.0
    for i in range(3):
        row = 0.0
        for j in range(3):
            row += abs(g[i, j])
        norm = max(norm, row)
    sq = 0
    while norm > 0.25:
        norm *= 0.5
        sq += 1
    a = g / (2.0**sq)
    out = np.eye(3)
    term = np.eye(3)
    for k in range(1, 20):
        term = term @ a / k
        out += term
    for _ in range(sq):
        out = out @ out
    return out


@njit(cache=True)
def _switch_matrix(st: KernelState, dt: float) -> np.ndarray:
    """Mode transition probabilities over ``dt`` (row: from, column: to), for ``dt`` rounded to the
    millisecond. Each step up to ``PI_TABLE_MS`` is computed once and kept (readings at an irregular
    rate have many steps, and recomputing the exponential for each made a jittered 100 Hz log cost 2.5
    times a steady one); a longer one is cached while it repeats."""
    s = st.s
    key = _round_ms(dt)
    k = int(key * 1000.0 + 0.5)  # key is a whole number of milliseconds
    if k <= PI_TABLE_MS:
        row = PI_TABLE0 + 9 * k
        if math.isnan(s[row]):
            s[row : row + 9] = _switch_exp(s, key).ravel()
        return s[row : row + 9].reshape(3, 3).copy()
    if s[PI_KEY] != key:
        s[PI0 : PI0 + 9] = _switch_exp(s, key).ravel()
        s[PI_KEY] = key
    return s[PI0 : PI0 + 9].reshape(3, 3).copy()


@njit(cache=True)
def _switch_exp(s: np.ndarray, key: float) -> np.ndarray:
    """exp of the mode-switch generator over ``key`` seconds: each mode is left at its exit rate, to
    either other mode alike."""
    g = np.zeros((3, 3))
    for i in range(3):
        rate = s[C_EXIT0 + i]
        for j in range(3):
            g[i, j] = rate / 2.0
        g[i, i] = -rate
    return _expm3(g * max(key, 1e-6))


# ---- the three motion models -------------------------------------------------------------------
@njit(cache=True)
def transition(x: np.ndarray, dt: float, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Constant acceleration in metres over ``dt``: the new state [D, u, a] and its Jacobian."""
    out = np.empty(3)
    f = np.zeros((3, 3))
    _transition_into(x[0], x[1], x[2], dt, r_min, r_max, out, f)
    return out, f


@njit(cache=True)
def _transition_into(d: float, u: float, a: float, dt: float, r_min: float, r_max: float, x1: np.ndarray,
                     f: np.ndarray) -> None:
    """:func:`transition` written into ``x1`` and ``f`` (``f`` zeroed by the caller)."""
    r = 1.0 / max(d, 1e-6)
    r_new = min(max(r + u * dt + 0.5 * a * dt * dt, r_min), r_max)
    d_new = 1.0 / r_new
    f[0, 0] = d_new**2.0 / max(d, 1e-9) ** 2.0
    f[0, 1] = -dt * d_new**2.0
    f[0, 2] = -0.5 * dt * dt * d_new**2.0
    f[1, 1] = 1.0
    f[1, 2] = dt
    f[2, 2] = 1.0
    x1[0], x1[1], x1[2] = d_new, u + a * dt, a


@njit(cache=True)
def _process_noise_into(d: float, dt: float, jerk: float, q: np.ndarray) -> None:
    """White-jerk process noise of (r, u, a) mapped to (D, u, a), written into ``q``."""
    j2 = jerk**2.0
    q[0, 0], q[0, 1], q[0, 2] = j2 * (dt**5.0 / 20), j2 * (dt**4.0 / 8), j2 * (dt**3.0 / 6)
    q[1, 0], q[1, 1], q[1, 2] = j2 * (dt**4.0 / 8), j2 * (dt**3.0 / 3), j2 * (dt**2.0 / 2)
    q[2, 0], q[2, 1], q[2, 2] = j2 * (dt**3.0 / 6), j2 * (dt**2.0 / 2), j2 * dt
    jd0 = -d * d  # (r, u, a) → (D, u, a): only the first row and column scale
    for i in range(3):
        for k in range(3):
            q[i, k] = (jd0 if i == 0 else 1.0) * q[i, k] * (jd0 if k == 0 else 1.0)


@njit(cache=True)
def _steady_into(d: float, u: float, dt: float, r_min: float, r_max: float, accel: float, x1: np.ndarray,
                 f: np.ndarray, q: np.ndarray) -> None:
    """The calm model as a steady walk (``calm_accel_mps2`` > 0): constant speed in metres, its
    acceleration held at 0, white acceleration of density ``accel``² (Q of (r, u) mapped to (D, u));
    ``f`` and ``q`` zeroed by the caller. A walk's gait surges the speed around a steady mean: this model
    keeps that mean over a second or so, where a constant-acceleration model follows each surge."""
    _transition_into(d, u, 0.0, dt, r_min, r_max, x1, f)
    f[0, 2] = f[1, 2] = f[2, 2] = 0.0
    jd0 = -x1[0] * x1[0]  # (r, u) → (D, u)
    a2 = accel * accel
    q[0, 0] = jd0 * jd0 * a2 * dt**3.0 / 3.0
    q[0, 1] = q[1, 0] = jd0 * a2 * dt**2.0 / 2.0
    q[1, 1] = a2 * dt


@njit(cache=True)
def predicted(st: KernelState, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each model's state and covariance and the mode probabilities predicted to ``t_s``. Written as
    scalar loops into a few arrays: small temporary arrays would cost more than the arithmetic."""
    s = st.s
    dt = max(0.0, t_s - s[T_IMM])
    if dt == 0.0:
        return st.xs.copy(), st.ps.copy(), st.mu.copy()
    pi = _switch_matrix(st, dt)
    mu, sx, sp = st.mu, st.xs, st.ps
    c = np.empty(3)
    for j in range(3):
        acc = 0.0
        for i in range(3):
            acc += pi[i, j] * mu[i]
        c[j] = acc
    xs = np.empty((3, 3))
    ps = np.empty((3, 3, 3))
    mix = np.empty(3)
    x0 = np.empty(3)
    p0 = np.empty((3, 3))
    f = np.empty((3, 3))
    q = np.empty((3, 3))
    fp = np.empty((3, 3))
    for j in range(3):
        for i in range(3):
            mix[i] = (pi[i, j] * mu[i]) / max(c[j], 1e-300)  # P(i | j)
        for a in range(3):
            acc = 0.0
            for i in range(3):
                acc += mix[i] * sx[i, a]
            x0[a] = acc
        for a in range(3):
            for b in range(3):
                acc = 0.0
                for i in range(3):
                    acc += mix[i] * (sp[i, a, b] + (sx[i, a] - x0[a]) * (sx[i, b] - x0[b]))
                p0[a, b] = acc
        f[:] = 0.0
        q[:] = 0.0
        if j == STANDING:
            d = x0[0]
            sway = s[C_SWAY]
            xs[j, 0], xs[j, 1], xs[j, 2] = x0[0], 0.0, 0.0
            f[0, 0] = 1.0
            q[0, 0] = (sway * d * d) ** 2.0 * dt
            q[1, 1] = sway**2.0
            q[2, 2] = (10.0 * sway) ** 2.0
        elif j == CALM and s[C_CALM_ACCEL] > 0.0:
            _steady_into(x0[0], x0[1], dt, s[C_RMIN], s[C_RMAX], s[C_CALM_ACCEL], xs[j], f, q)
        else:
            _transition_into(x0[0], x0[1], x0[2], dt, s[C_RMIN], s[C_RMAX], xs[j], f)
            _process_noise_into(xs[j, 0], dt, s[C_JERK1 + j - 1], q)
        for a in range(3):
            for b in range(3):
                acc = 0.0
                for k in range(3):
                    acc += f[a, k] * p0[k, b]
                fp[a, b] = acc
        for a in range(3):
            for b in range(3):
                acc = 0.0
                for k in range(3):
                    acc += fp[a, k] * f[b, k]
                ps[j, a, b] = acc + q[a, b]
    return xs, ps, c


@njit(cache=True)
def combine(xs: np.ndarray, ps: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.empty(3)
    for a in range(3):
        acc = 0.0
        for j in range(3):
            acc += mu[j] * xs[j, a]
        x[a] = acc
    p = np.empty((3, 3))
    for a in range(3):
        for b in range(3):
            acc = 0.0
            for j in range(3):
                acc += mu[j] * (ps[j, a, b] + (xs[j, a] - x[a]) * (xs[j, b] - x[b]))
            p[a, b] = acc
    return x, p


@njit(cache=True)
def estimate(st: KernelState) -> tuple[np.ndarray, np.ndarray]:
    """Combined state [diopters, radial speed, radial acceleration] and covariance at the last update."""
    return combine(st.xs, st.ps, st.mu)


@njit(cache=True)
def imm_update(
    st: KernelState, xs: np.ndarray, ps: np.ndarray, c: np.ndarray, z: float, r: float, t_s: float
) -> None:
    like = np.empty(3)
    k = np.empty(3)
    row0 = np.empty(3)
    for j in range(3):
        sj = ps[j, 0, 0] + r
        nu = z - xs[j, 0]
        for a in range(3):
            k[a] = ps[j, a, 0] / sj
            row0[a] = ps[j, 0, a]
        for a in range(3):
            xs[j, a] = xs[j, a] + k[a] * nu
            for b in range(3):
                ps[j, a, b] = ps[j, a, b] - k[a] * row0[b]
        like[j] = math.exp(-0.5 * nu * nu / sj) / math.sqrt(2 * math.pi * sj)
    total = 0.0
    for j in range(3):
        total += like[j] * c[j]
    for j in range(3):
        st.mu[j] = like[j] * c[j] / total if total > 0 and math.isfinite(total) else c[j]
    st.xs[:] = xs
    st.ps[:] = ps
    st.s[T_IMM] = t_s


@njit(cache=True)
def imm_reset(st: KernelState, z: float, var_z: float, t_s: float) -> None:
    for j in range(3):
        st.xs[j, 0], st.xs[j, 1], st.xs[j, 2] = z, 0.0, 0.0
        st.ps[j] = 0.0
        st.ps[j, 0, 0], st.ps[j, 1, 1], st.ps[j, 2, 2] = var_z, 1.0, 1.0
    st.mu[0], st.mu[1], st.mu[2] = 0.1, 0.8, 0.1
    st.s[T_IMM] = t_s
    st.s[INIT] = 1.0
