"""The focus controller's arithmetic, compiled with numba: gating, still detection, onset and
mixed-return tests, re-acquisition, rack and rate-limited follower on plain arrays, so a day of 250 Hz
LiDAR replays in seconds. The IMM filter it drives is :mod:`guangying.focus.imm`; the state it works
on, :mod:`guangying.focus.kernel_state`.

:class:`guangying.focus.controller.FocusController` wraps one state (two, with the blend below) for
live use; :func:`replay_block` runs a whole block of readings and frames without returning to Python. One
filter's arithmetic follows the former pure-Python controller operation for operation (kept as
:mod:`guangying.evaluation.focus_reference`; the tests hold the two within 1e-9 of each other, with the
blend off: the former controller had none).
"""

from __future__ import annotations

import math

import numpy as np

from guangying.base.jit import njit
from guangying.focus.imm import (
    combine,
    estimate,
    imm_reset,
    imm_update,
    np_sum,
    predicted,
    transition,
)
from guangying.focus.kernel_state import (
    ACCEPTED,
    BIN_CAP,
    BIN_DISTANCES,
    BIN_EA,
    BIN_EB,
    BIN_N,
    BIN_READINGS,
    BIN_T,
    BIN_TIMES,
    C_AMAX,
    C_BLEND,
    C_COAST,
    C_DEADBAND,
    C_GATE,
    C_HUBER,
    C_LATENCY,
    C_MIXED_HOLD,
    C_MIXED_REACQ,
    C_MIXED_SPREAD,
    C_MIXED_STOP,
    C_MOVE_WIN,
    C_ONSET,
    C_REACQ,
    C_READING_BIN,
    C_REJ_WIN,
    C_RMAX,
    C_RMIN,
    C_RUNAWAY,
    C_SENSOR_LAT,
    C_SIGMA,
    C_STILL_WIN,
    C_VMAX,
    CUSUM_DOWN,
    CUSUM_UP,
    EPISODE_Z,
    FAR_T,
    FAR_Z,
    HOLD,
    IGNORE_BEFORE,
    INIT,
    LAST_ACCEPT,
    LAST_T,
    MARK,
    MARK_D,
    MIXED_SIDE,
    MIXED_T,
    OCCLUDED_T,
    OUT_D,
    OUT_DIR,
    OUT_SPEED,
    OUTLIERS,
    PRED0,
    PRED_CAP,
    PRED_HEAD,
    PRED_N,
    RACK,
    RACK_DUR,
    RACK_ON,
    RACK_START,
    RACK_T0,
    RACK_TARGET,
    RAW_DT,
    RAW_T,
    READ_DT,
    REC_CAP,
    REC_HEAD,
    REC_N,
    REJ_CAP,
    REJ_COUNT,
    REJ_FIRST_T,
    REJ_LAST_T,
    RES_HEAD,
    RES_KEEP,
    RES_N,
    SCORE_A,
    SCORE_B,
    STANDING,
    STILL,
    STILL_INFO,
    STILL_MEAN,
    STILL_MODE,
    T_IMM,
    T_OUT,
    TRACK,
    WAIT,
    KernelState,
)

ONSET_DRIFT = 1.0  # CUSUM allowance (in σ of the innovation): the test looks for shifts of ≥ 2σ
ONSET_CLIP = 2.0  # one heavy-tailed reading adds at most 1σ to the sum
ONSET_SPEED_VAR = 1.0  # (1 m/s)²: a walking pace
ONSET_ACCEL_VAR = 25.0  # (5 m/s²)²: a brisk start
# Mixed returns (the spot half on a second person or the background): readings scatter far off on one
# side, and the few that land inside the gate lean the same way. Two readings this many gates off on
# the same side, within MIXED_PAIR_S and further apart than MIXED_SPREAD σ (a subject who moves gives
# readings that agree; mixed returns do not), mark such an episode.
MIXED_FAR = 2.0
MIXED_PAIR_S = 0.1
MIXED_SPREAD = 6.0
# The hold also applies once the standing model leads (before the still test has called the subject
# still): a long episode just after a stop otherwise leaned the filter away (0.5 on the tuning seeds).
MIXED_STANDING_P = 0.5
# Within this long of a mixed-return episode, rejected readings on the side opposite to it that agree
# among themselves mean the episode dragged the filter away: they are taken as the subject at once
# (``mixed_return_reacquire_n`` of them) instead of after ``reacquire_s`` (0.5 s on the tuning seeds).
MIXED_REACQ_S = 0.5
# A subject slower than ``mixed_return_stop_mps`` when an episode starts, whose filter still carries this
# much acceleration (m/s², left over from braking: the calm model learns that the subject has stopped
# only over a few tenths of a second), is taken as standing: the standing model gets this probability
# (above ``MIXED_STANDING_P``, so the hold applies). 0.8 on the tuning seeds (0.6 let a still take
# reverse; 0.7–0.9 within 0.1 point).
MIXED_STOP_ACCEL = 0.5
MIXED_STOP_P = 0.8
# ... only where the filter's speed is measured, not carried over a gap: after a passer-by had hidden a
# walking subject for 0.35 s, the speed coasted in a gait surge's acceleration read under 0.3 m/s as the
# straddling readings of the passer-by's edge began an episode, the subject was taken as standing where
# it was last seen, and focus went back there for 0.3 s (12–14 half-depths of field at 85 mm f/2)
MIXED_STOP_FRESH_S = 0.1
# While the subject stands, for this long after an episode's last far pair a reading on the episode's side
# that the hold no longer keeps out counts by the chance that it is the subject's own return, not a share
# of the person behind (``_subject_share``; prior chance of a share ``MIXED_SHARE_P``). Chosen on the
# tuning seeds among 0.2/0.3/0.5 s × 0.3/0.5/0.7 (mean in DoF +0.02…+0.06 over the former controller,
# this the best; a higher prior keeps focus on a standing subject more often but follows one who sets
# off towards the person behind later).
MIXED_SOFT_S = 0.5
MIXED_SHARE_P = 0.5
# Someone standing in the spot in front of (or behind) a standing subject for OCCLUDER_S (rejected
# readings in a row, the last MIN_WINDOW_READINGS agreeing within 6σ on one side) is an occluder.
# From then until a reading is taken again (or rejected ones agree on a new subject: the re-acquisition
# tests), a reading is used only inside the standing model's own gate: the filter's gate has widened
# while nothing was accepted, and the readings as the occluder leaves straddle its edge and the subject
# (in between the two), or share a person behind. Taken, they racked a 135 mm f/2 12–15 half-depths of
# field off for two frames as the subject was revealed (a field test's crossing, 0.5 s at 1.5 m in
# front of a subject at 2.5 m).
OCCLUDER_S = 0.2
REJ_KEEP = 10  # the re-acquisition test looks at the last ten rejected readings
# With ``reacquire_window_s`` set, the re-acquisition looks at the rejected readings of the last so
# many seconds instead (the same share of a second at every sensor rate); the test needs at least this
# many readings.
MIN_WINDOW_READINGS = 3
# A run of rejected readings on a straight line that left the filter's last estimate is a subject who
# moved (see ``_reacquire_moving``): each within this many σ of the line, which met the estimate no
# earlier than this long before the last accepted reading.
MOVE_LINE_SIGMA = 3.0
MOVE_BACK_S = 0.2
MOVE_MAX_MPS = 3.0
# ... and span this long: three readings at 30 Hz, six at 100 Hz. Three at 100 Hz span 20 ms, and the
# start of a burst of glancing returns from a wall behind a standing subject passed as a line: focus ran
# up to 1.2 m behind them (3 of 36 takes of tests/focus/test_standing_before_a_wall.py; the benchmark's
# tuning seeds 93.95 → 93.93 %, report seeds alike case for case; its cost: a step back read by a
# noiseless sensor waits longer, 98.9 → 94.2 %, as a line through 50 ms of a brisk start no longer meets
# the estimate before the first of its readings; a 3 mm rangefinder 98.2 → 97.8 %).
MOVE_MIN_SPAN_S = 0.05
# with no reading accepted for this long the filter coasts (see ``_estimate_one``)
COAST_S = 0.1
# the flat-line still test needs this many readings in its 0.5 s: few enough for a 20 Hz sensor (at 20
# readings a 30 Hz sensor, 15 per 0.5 s, could never be called still and focus followed its noise)
MIN_FLAT_READINGS = 8


# ---- controller ----------------------------------------------------------------------------------
@njit(cache=True)
def _r(st: KernelState, z: float) -> float:
    return (st.s[C_SIGMA] * z * z) ** 2.0


@njit(cache=True)
def _leave_still(st: KernelState) -> None:
    st.s[STILL] = 0.0
    st.s[STILL_INFO] = 0.0


@njit(cache=True)
def _reset(st: KernelState, z: float, t_s: float) -> None:
    imm_reset(st, z, _r(st, z), t_s)
    st.s[REJ_COUNT] = 0.0
    st.s[REC_N] = 0.0
    st.s[CUSUM_UP] = st.s[CUSUM_DOWN] = 0.0
    st.s[OCCLUDED_T] = -math.inf
    _leave_still(st)


@njit(cache=True)
def _forget_subject(st: KernelState) -> None:
    """Forget the tracked subject in one filter."""
    st.s[INIT] = 0.0
    st.s[REJ_COUNT] = 0.0
    _leave_still(st)


@njit(cache=True)
def _recent_flat(st: KernelState) -> bool:
    """True when a weighted line through the last 0.5 s of readings is flat (see the controller)."""
    s = st.s
    n = int(s[REC_N])
    head = int(s[REC_HEAD])
    if n < MIN_FLAT_READINGS:
        return False
    first = (head - n) % REC_CAP
    last = (head - 1) % REC_CAP
    if st.recent[last, 0] - st.recent[first, 0] < 0.4:
        return False
    t = np.empty(n)
    z = np.empty(n)
    w = np.empty(n)
    tmp = np.empty(n)
    for m in range(n):
        row = (first + m) % REC_CAP
        t[m], z[m], w[m] = st.recent[row, 0], st.recent[row, 1], 1.0 / st.recent[row, 2]
    wsum = np_sum(w)
    for m in range(n):
        tmp[m] = w[m] * t[m]
    tm = np_sum(tmp) / wsum
    for m in range(n):
        tmp[m] = w[m] * z[m]
    zm = np_sum(tmp) / wsum
    for m in range(n):
        tmp[m] = w[m] * ((t[m] - tm) * (t[m] - tm))
    sxx = np_sum(tmp)
    for m in range(n):
        tmp[m] = w[m] * (t[m] - tm) * (z[m] - zm)
    slope = abs(np_sum(tmp) / sxx)
    return slope < max(s[C_DEADBAND], 2.0 / math.sqrt(sxx))


@njit(cache=True)
def _update_still(st: KernelState, z: float, r: float) -> None:
    s = st.s
    x, p = estimate(st)
    u, su = x[1], math.sqrt(max(p[1, 1], 0.0))
    head = int(s[REC_HEAD])
    st.recent[head, 0], st.recent[head, 1], st.recent[head, 2] = s[T_IMM], z, r
    s[REC_HEAD] = (head + 1) % REC_CAP
    s[REC_N] = min(s[REC_N] + 1.0, REC_CAP)
    while s[REC_N] > 0:
        first = (int(s[REC_HEAD]) - int(s[REC_N])) % REC_CAP
        if s[T_IMM] - st.recent[first, 0] > 0.5:
            s[REC_N] -= 1.0
        else:
            break
    if s[STILL] == 0.0:
        if abs(u) < max(2.0 * su, 0.05) and _recent_flat(st):
            # start the static estimate from the filter's value and its uncertainty
            s[STILL], s[STILL_MEAN] = 1.0, x[0]
            s[STILL_INFO] = 1.0 / max(p[0, 0], 1e-18)
            s[RES_N] = 0.0
        return
    # a still subject's readings scatter around the static estimate; a moving one's drift away
    if _still_residuals_drift(st, z - s[STILL_MEAN], r):
        _leave_still(st)
        return
    s[STILL_MEAN] = (s[STILL_MEAN] * s[STILL_INFO] + z / r) / (s[STILL_INFO] + 1.0 / r)
    s[STILL_INFO] += 1.0 / r


@njit(cache=True)
def _still_residuals_drift(st: KernelState, e: float, r: float) -> bool:
    """Record the still residual ``e`` (variance ``r``); True when the recent residuals' mean has left
    zero by more than 4 of its σ (and half the deadband): the subject moves. "Recent" is the last
    ``RES_KEEP`` readings or, with ``still_window_s``, fewer: as many as the sensor gives in that long
    (at least 5). 25 readings span 0.8 s at 30 Hz, and focus stayed on the still estimate for a tenth of
    a second after a 30 Hz subject had started to walk. Counted at the sensor's rate rather than by
    their timestamps, so readings held out of the filter (mixed returns) do not shorten the test at
    250 Hz, where fewer readings saw the lean of the episode's tail and focus reversed."""
    s = st.s
    rh = int(s[RES_HEAD])
    st.resid[rh, 0], st.resid[rh, 1] = e, r
    s[RES_HEAD] = (rh + 1) % RES_KEEP
    s[RES_N] = min(s[RES_N] + 1.0, RES_KEEP)
    n = int(s[RES_N])
    if s[C_STILL_WIN] > 0.0 and s[READ_DT] > 0.0:
        n = min(n, max(5, int(round(s[C_STILL_WIN] / s[READ_DT]))))
    first = (rh + 1 - n) % RES_KEEP
    esum = 0.0
    vsum = 0.0
    for m in range(n):
        row = (first + m) % RES_KEEP
        esum += st.resid[row, 0]
        vsum += st.resid[row, 1]
    mean = esum / n
    sd = math.sqrt(vsum) / n
    return n >= 5 and abs(mean) > max(4.0 * sd, 0.5 * s[C_DEADBAND])


@njit(cache=True)
def _running_interval(s: np.ndarray, t: float, last: int, mean: int, ties: bool) -> None:
    """Keep in ``s[mean]`` a running mean of the interval between readings, the latest one's time in
    ``s[last]`` (gaps beyond 0.2 s are not the sensor's rate; with ``ties``, equal times count)."""
    dt = t - s[last]
    s[last] = t
    if (dt >= 0.0 if ties else dt > 0.0) and dt <= 0.2:
        s[mean] = dt if s[mean] == 0.0 else s[mean] + 0.1 * (dt - s[mean])


@njit(cache=True)
def _note_interval(st: KernelState, t: float) -> None:
    """The running mean interval between valid readings fed to this filter (``READ_DT``)."""
    _running_interval(st.s, t, LAST_T, READ_DT, False)


@njit(cache=True)
def _maybe_reacquire(st: KernelState, t: float) -> None:
    """Outliers that persist for ``reacquire_s`` and agree are the new truth (the subject really moved,
    or a new one). A filter faster than ``runaway_speed_mps`` has run away on readings that were not
    the subject (shares of a second person in the spot, taken one after another while a brisk step
    had the gate open: seen at 5–8 m/s, a metre off at 20–30 Hz); its gate then shuts out the
    subject's own readings, and the wait is ``reacquire_window_s`` instead (at least
    ``MIN_WINDOW_READINGS`` rejected readings, agreeing as always)."""
    s = st.s
    reacq = s[C_REACQ]
    if (s[C_RUNAWAY] > 0.0 and s[REJ_COUNT] >= MIN_WINDOW_READINGS
            and abs(estimate(st)[0][1]) > s[C_RUNAWAY]):
        reacq = min(reacq, s[C_REJ_WIN])
    if t - s[REJ_FIRST_T] < reacq or t - s[LAST_ACCEPT] < reacq:
        return
    _reset_if_agreeing(st, _last_rejected(st, _rejected_in_window(st, t), st.rej), t)


@njit(cache=True)
def _rejected_in_window(st: KernelState, t: float) -> int:
    """How many of the last rejected readings the re-acquisition test looks at: ``REJ_KEEP``, or with
    ``reacquire_window_s`` those of the last so many seconds (at least ``MIN_WINDOW_READINGS``): ten
    readings span a third of a second at 30 Hz, and focus waited that long on a subject who had
    already stopped after a brisk step."""
    s = st.s
    count = int(s[REJ_COUNT])
    if s[C_REJ_WIN] <= 0.0:
        return min(count, REJ_KEEP)
    return min(max(_rejected_since(st, t, s[C_REJ_WIN]), MIN_WINDOW_READINGS), count, REJ_CAP)


@njit(cache=True)
def _rejected_since(st: KernelState, t: float, window_s: float) -> int:
    """How many of the last rejected readings (in a row) lie within ``window_s`` before ``t``."""
    count = int(st.s[REJ_COUNT])
    n = 0
    while n < min(count, REJ_CAP) and t - st.rej_t[(count - 1 - n) % REJ_CAP] <= window_s:
        n += 1
    return n


@njit(cache=True)
def _last_rejected(st: KernelState, n: int, ring: np.ndarray) -> np.ndarray:
    """The last ``n`` (≤ REJ_CAP) rejected readings' entries of ``ring`` (``st.rej``: diopters, or
    ``st.rej_t``: their times), oldest first."""
    count = int(st.s[REJ_COUNT])
    out = np.empty(n)
    for m in range(n):
        out[m] = ring[(count - n + m) % REJ_CAP]
    return out


@njit(cache=True)
def _reset_if_agreeing(st: KernelState, zs: np.ndarray, t: float) -> bool:
    """Reset the filter to the median of readings ``zs`` if they agree within 6σ; True if it did."""
    med = np.median(zs)
    if np.max(zs) - np.min(zs) > 6.0 * math.sqrt(_r(st, med)):
        return False
    _reset(st, med, t)
    return True


@njit(cache=True)
def _held_after_occluder(st: KernelState, z: float, xs: np.ndarray, ps: np.ndarray, r: float) -> bool:
    """True when an occluder was noted and no reading has been taken since (nor the filter reset onto
    agreeing ones), the subject stands, and reading ``z`` lies outside the standing model's own gate (its
    prediction ``xs``/``ps``)."""
    s = st.s
    if s[OCCLUDED_T] == -math.inf or not _standing(st):
        return False
    nu = z - xs[STANDING, 0]
    return nu * nu > s[C_GATE] ** 2.0 * (ps[STANDING, 0, 0] + r)


@njit(cache=True)
def _note_occluder(st: KernelState, t: float, x0: float) -> None:
    """Note an occluder (see ``OCCLUDER_S``) standing in the spot at ``t``, on one side of the filter (at
    ``x0`` diopters), while the subject stands."""
    s = st.s
    if not _standing(st) or s[REJ_COUNT] < MIN_WINDOW_READINGS or t - s[REJ_FIRST_T] < OCCLUDER_S:
        return
    zs = _last_rejected(st, MIN_WINDOW_READINGS, st.rej)
    side = 1.0 if zs[0] > x0 else -1.0
    for m in range(MIN_WINDOW_READINGS):
        if (zs[m] - x0) * side <= 0.0:
            return
    if np.max(zs) - np.min(zs) <= 6.0 * math.sqrt(_r(st, np.median(zs))):
        s[OCCLUDED_T] = t


@njit(cache=True)
def _reacquire_after_episode(st: KernelState, t: float, x0: float) -> bool:
    """True when the filter was reset to the last ``mixed_return_reacquire_n`` rejected readings: within
    ``MIXED_REACQ_S`` of a mixed-return episode, they all lie on the side opposite to it (nearer than
    the filter, for a second person behind) and agree within 6σ. An episode's in-gate returns lean one
    way, and once the filter has followed them (its speed builds while the far returns are rejected
    and its gate widens) the subject's true readings fall outside the gate on the other side; waiting
    ``reacquire_s`` for them left focus up to 0.5 m behind a subject who had just stopped. They must lie
    near where a still subject was before the episode (within ``MIXED_FAR`` gates of a reading's σ):
    three readings of a passer-by a metre in front were taken as the subject."""
    s = st.s
    n = int(s[C_MIXED_REACQ])
    count = int(s[REJ_COUNT])
    if n == 0 or count < n or t - s[MIXED_T] >= MIXED_REACQ_S:
        return False
    zs = _last_rejected(st, n, st.rej)
    for m in range(n):
        if (zs[m] - x0) * s[MIXED_SIDE] >= 0:
            return False
    # where a still subject was before the episode dragged the filter: someone else in the spot (a
    # passer-by in front, a metre nearer) is no subject the episode left behind
    start = s[EPISODE_Z]
    reach = MIXED_FAR * s[C_GATE] * math.sqrt(_r(st, start))
    if not math.isnan(start) and abs(np.median(zs) - start) > reach:
        return False
    return _reset_if_agreeing(st, zs, t)


@njit(cache=True)
def _onset(st: KernelState, q: float) -> bool:
    """Page's CUSUM on the normalised innovations ``q`` of readings inside the gate: True when they have
    drifted to one side by more than ``onset_sigma`` (beyond the allowance). A subject who stood still
    and starts to move (or stops short) shows as a run of same-signed innovations long before one
    reading leaves the gate; noise and lone outliers do not, and jumps straight out of the gate (an
    occluder, a second person in the spot) are the re-acquisition's business."""
    s = st.s
    if abs(q) > s[C_GATE]:
        return False
    q = min(max(q, -ONSET_CLIP), ONSET_CLIP)
    s[CUSUM_UP] = max(0.0, s[CUSUM_UP] + q - ONSET_DRIFT)
    s[CUSUM_DOWN] = max(0.0, s[CUSUM_DOWN] - q - ONSET_DRIFT)
    if max(s[CUSUM_UP], s[CUSUM_DOWN]) <= s[C_ONSET]:
        return False
    s[CUSUM_UP] = s[CUSUM_DOWN] = 0.0
    return True


@njit(cache=True)
def _standing(st: KernelState) -> bool:
    """The subject stands: the still test has called it still, or the standing model leads
    (``MIXED_STANDING_P``)."""
    return st.s[STILL] != 0.0 or st.mu[0] > MIXED_STANDING_P


@njit(cache=True)
def _mixed_returns(st: KernelState, t: float, z: float, nu: float, sv: float, r: float, x0: float) -> bool:
    """True when reading ``z`` (innovation ``nu``, its variance ``sv``; reading variance ``r``; the
    filter at ``x0`` diopters) must not count: the subject stands (still, or the standing model leads:
    ``MIXED_STANDING_P``) and, within ``mixed_return_hold_s`` of a mixed-return episode (see
    ``MIXED_FAR``), it lies on the episode's side. A still subject's focus otherwise reversed at 250 Hz:
    the episode's in-gate tail dragged the filter (or started the onset test) one way, and the readings
    after it looked like a start the other way. Only the episode's side is skipped (both sides also cost
    brisk starts that coincide with an episode) and only while standing: a walking subject's filter
    needs every reading (skipping after rejections cost walks 2 points)."""
    s = st.s
    if nu * nu > (MIXED_FAR * s[C_GATE]) ** 2.0 * sv:
        side = 1.0 if nu > 0 else -1.0
        if (t - s[FAR_T] < MIXED_PAIR_S and side * (s[FAR_Z] - x0) > 0
                and abs(z - s[FAR_Z]) > MIXED_SPREAD * math.sqrt(r)):
            if t - s[MIXED_T] >= MIXED_REACQ_S:  # a new episode: where a still subject was before it
                s[EPISODE_Z] = x0 if s[STILL] != 0.0 else math.nan
            s[MIXED_T], s[MIXED_SIDE] = t, side
        s[FAR_T], s[FAR_Z] = t, z
    return _standing(st) and t - s[MIXED_T] < s[C_MIXED_HOLD] and nu * s[MIXED_SIDE] > 0


@njit(cache=True)
def _stopping_at_episode(st: KernelState, t: float, u: float, a: float) -> None:
    """When a mixed-return episode has just been marked (at ``t``) and the subject, not yet standing for
    the filter, moves slower than ``mixed_return_stop_mps`` (speed ``u``) while the filter still carries
    ``MIXED_STOP_ACCEL`` of acceleration ``a``, give the standing model ``MIXED_STOP_P``: a subject who
    walks in and eases to a stop otherwise drifts on in the calm model's leftover acceleration while the
    far returns are rejected and its gate widens, until the episode's in-gate returns (all on one side)
    build speed away from the subject (seen: 0.3–0.5 m behind, 17–28 DoF half-widths)."""
    s = st.s
    if (s[MIXED_T] != t or _standing(st) or abs(u) >= s[C_MIXED_STOP]
            or abs(a) < MIXED_STOP_ACCEL or t - s[LAST_ACCEPT] > MIXED_STOP_FRESH_S):
        return
    moving = st.mu[1] + st.mu[2]
    k = (1.0 - MIXED_STOP_P) / moving if moving > 0 else 0.0
    st.mu[0], st.mu[1], st.mu[2] = MIXED_STOP_P, st.mu[1] * k, st.mu[2] * k


@njit(cache=True)
def _reacquire_moving(st: KernelState, t: float, x0: float) -> bool:
    """True when the filter was reset onto a subject who has moved out of the gate. A brisk step read at
    30 Hz leaves the gate within two or three readings, before the onset test (at most 1σ from each
    reading inside it) can see it, and focus stayed on the still estimate until the step was over. So,
    while the subject stands (and not within ``MIXED_REACQ_S`` of a mixed-return episode), the rejected
    readings of the last ``moving_reacquire_s`` (at least ``MIN_WINDOW_READINGS`` over
    ``MOVE_MIN_SPAN_S``, all rejected in a row) that lie on one side of the prediction ``x0``, on a
    straight line (each within ``MOVE_LINE_SIGMA``) of at most ``MOVE_MAX_MPS`` that met the filter's
    last estimate between ``MOVE_BACK_S`` before the last accepted reading and the first of them, are
    the subject moving along that line. Scattered readings (a second person in the spot), a flat line
    off the track (an occluder) and lone outliers do not pass; at 100 Hz and above the onset test mostly
    sees such a step first."""
    s = st.s
    if s[C_MOVE_WIN] <= 0.0 or not _standing(st) or t - s[MIXED_T] < MIXED_REACQ_S:
        return False
    n = _rejected_since(st, t, s[C_MOVE_WIN])
    if n < MIN_WINDOW_READINGS:
        return False
    zs = _last_rejected(st, n, st.rej)
    ts = _last_rejected(st, n, st.rej_t)
    if ts[n - 1] - ts[0] < MOVE_MIN_SPAN_S:
        return False
    side = 1.0 if zs[n - 1] > x0 else -1.0
    for m in range(n):
        if (zs[m] - x0) * side <= 0.0:
            return False
    tm, zm = np.mean(ts), np.mean(zs)
    sxx = np.sum((ts - tm) ** 2.0)
    if sxx <= 0.0:  # stamps all alike: no line to speak of
        return False
    slope = np.sum((ts - tm) * (zs - zm)) / sxx
    tol = MOVE_LINE_SIGMA * math.sqrt(_r(st, zm))
    if np.max(np.abs(zs - zm - slope * (ts - tm))) > tol or slope * side <= 0.0:
        return False
    last = s[STILL_MEAN] if s[STILL] != 0.0 else estimate(st)[0][0]
    t_cross = tm + (last - zm) / slope
    z = zm + slope * (t - tm)
    u = -slope / (z * z)  # d(1/D)/dt: the state's radial speed in m/s
    if not (s[T_IMM] - MOVE_BACK_S <= t_cross <= ts[0]) or abs(u) > MOVE_MAX_MPS:
        return False
    _reset(st, z, t)
    st.mu[0], st.mu[1], st.mu[2] = 0.05, 0.15, 0.8
    for j in range(1, 3):
        st.xs[j, 1] = u
        st.ps[j, 1, 1] = ONSET_SPEED_VAR
        st.ps[j, 2, 2] = ONSET_ACCEL_VAR
    return True


@njit(cache=True)
def _subject_share(st: KernelState, t: float, z: float, nu: float, sv: float) -> float:
    """The chance (0–1] that reading ``z`` (innovation ``nu``, its variance ``sv``) is the subject's own
    return: 1 unless the subject stands and the reading lies on the side of a mixed-return episode whose
    last far pair was within ``MIXED_SOFT_S``; there, a Gaussian around the prediction against a share
    of the person behind spread evenly over ``mixed_return_spread_m`` metres behind the subject (prior
    ``MIXED_SHARE_P``). The hold keeps that side out for ``mixed_return_hold_s`` after each far pair, but
    the filter, fed nothing meanwhile, widens its gate and the far test is relative to that gate: in a
    long episode the hold ran out while the person behind was still in the spot, and the next share of
    them inside the widened gate took focus up to half a metre behind a standing subject (up to 68 DoF
    half-widths on the test's takes). Readings that agree with the prediction still count nearly in
    full, so a subject who really moves is followed."""
    s = st.s
    if t - s[MIXED_T] >= MIXED_SOFT_S or nu * s[MIXED_SIDE] <= 0 or not _standing(st):
        return 1.0
    spread = s[C_MIXED_SPREAD] * z * z / (1.0 + s[C_MIXED_SPREAD] * z)  # in diopters, behind z
    own = (1.0 - MIXED_SHARE_P) * math.exp(-0.5 * nu * nu / sv) / math.sqrt(2.0 * math.pi * sv)
    return max(own / (own + MIXED_SHARE_P / spread), 1e-6)


@njit(cache=True)
def _start_manoeuvre(st: KernelState, r: float) -> None:
    """The subject changed pace: trust the manoeuvre model, reopen speed and acceleration (the still
    estimate and the standing model's certainty no longer hold) and let the position follow readings."""
    s = st.s
    _leave_still(st)
    s[REC_N] = 0.0  # the flat stretch before the move must not declare it still again at once
    st.mu[0], st.mu[1], st.mu[2] = 0.05, 0.15, 0.8
    for j in range(3):
        st.ps[j, 0, 0] += r
        st.ps[j, 1, 1] += ONSET_SPEED_VAR
        st.ps[j, 2, 2] += ONSET_ACCEL_VAR


@njit(cache=True)
def _usable(t: float, distance_m: float, confidence: float) -> bool:
    return confidence > 0 and math.isfinite(distance_m) and distance_m > 0 and math.isfinite(t)


@njit(cache=True)
def _update_one(st: KernelState, t: float, distance_m: float, confidence: float) -> bool:
    """Take one reading into one filter; True if it was used, False if it was gated out or unusable."""
    s = st.s
    if not _usable(t, distance_m, confidence) or t < s[IGNORE_BEFORE]:
        return False
    dist = min(max(distance_m, s[C_RMIN]), s[C_RMAX])
    z = 1.0 / dist
    _note_interval(st, t)
    if s[INIT] == 0.0:
        _reset(st, z, t)
        s[LAST_ACCEPT] = t
        s[ACCEPTED] += 1.0
        return True
    r = _r(st, z)
    xs, ps, c = predicted(st, t)
    x, p = combine(xs, ps, c)
    nu, sv = z - x[0], p[0, 0] + r
    mixed = s[C_MIXED_HOLD] > 0.0 and _mixed_returns(st, t, z, nu, sv, r, x[0])
    if s[C_MIXED_STOP] > 0.0:
        _stopping_at_episode(st, t, x[1], x[2])
    if mixed:
        s[CUSUM_UP] = s[CUSUM_DOWN] = 0.0
    elif s[C_ONSET] > 0.0 and _onset(st, nu / math.sqrt(sv)):
        _start_manoeuvre(st, r)
        xs, ps, c = predicted(st, t)
        x, p = combine(xs, ps, c)
        nu, sv = z - x[0], p[0, 0] + r
    if nu * nu > s[C_GATE] ** 2.0 * sv or _held_after_occluder(st, z, xs, ps, r):
        # the filter stays at the last accepted reading: an occluder must not drag the model along
        s[OUTLIERS] += 1.0
        if s[REJ_COUNT] > 0 and t - s[REJ_LAST_T] > s[C_REACQ]:
            s[REJ_COUNT] = 0.0
        if s[REJ_COUNT] == 0:
            s[REJ_FIRST_T] = t
        st.rej[int(s[REJ_COUNT]) % REJ_CAP] = z
        st.rej_t[int(s[REJ_COUNT]) % REJ_CAP] = t
        s[REJ_COUNT] += 1.0
        s[REJ_LAST_T] = t
        if s[C_MIXED_HOLD] > 0.0:
            _note_occluder(st, t, x[0])
        if not _reacquire_after_episode(st, t, x[0]) and not _reacquire_moving(st, t, x[0]):
            _maybe_reacquire(st, t)
        return False
    s[REJ_COUNT] = 0.0
    if mixed:
        return False
    huber = s[C_HUBER]
    if huber > 0.0 and nu * nu > huber * huber * sv:
        # heavy-tailed noise: a reading beyond ``huber`` σ counts as if its own noise were larger
        # (Huber weighting), so it pulls the estimate, the model probabilities and the still test
        # as one reading at the threshold would
        r = r * (nu * nu / (huber * huber * sv))
    if s[C_MIXED_SPREAD] > 0.0:
        # a likely share of the person behind counts as a reading that much noisier
        r = r / _subject_share(st, t, z, nu, sv)
    imm_update(st, xs, ps, c, z, r, t)
    s[LAST_ACCEPT] = t
    s[OCCLUDED_T] = -math.inf  # the subject is back (or was followed elsewhere)
    s[ACCEPTED] += 1.0
    _update_still(st, z, r)
    return True


@njit(cache=True)
def _estimate_one(st: KernelState, t_s: float) -> float:
    """One filter's focus (diopters) predicted to ``t_s`` + latency; nan before any reading."""
    s = st.s
    if s[INIT] == 0.0:
        return math.nan
    if s[STILL] != 0.0:
        return s[STILL_MEAN]
    x, p = estimate(st)
    ahead = t_s + s[C_LATENCY] - s[T_IMM]
    if ahead <= 0:
        return x[0]
    # through a gap, coast at constant speed (no runaway on a stale acceleration) for at most coast_s,
    # then hold; shrink speed and acceleration towards zero by how sure we are of them (u²/(u² + σu²))
    coast = t_s - s[LAST_ACCEPT] > COAST_S
    u = x[1] * x[1] ** 2.0 / (x[1] ** 2.0 + p[1, 1] + 1e-12)
    a = 0.0 if coast else x[2] * x[2] ** 2.0 / (x[2] ** 2.0 + p[2, 2] + 1e-12)
    xp = np.array([x[0], u, a])
    return transition(xp, min(ahead, s[C_COAST]), s[C_RMIN], s[C_RMAX])[0][0]


# ---- the blend with a steady-walk filter ---------------------------------------------------------------
# With ``blend_steady_walk`` a second controller (``alt``, the steady-walk settings: a constant-speed calm
# model) runs on the same readings, and the focus target is the two filters' estimates weighed by how well
# each predicted the lens time lately: every reading is compared with what each filter, a latency earlier,
# said the subject would be at its time. Not the IMM's one-step likelihood: that favours the model which
# follows every surge of a gait, and the surges are what a latency ahead gets wrong. The errors are
# averaged over bins of BLEND_BIN_S (a frame's worth: the filters' errors persist over a bin, the sensor's
# noise averages away) and their squares over BLEND_TAU_S (the last half second or so); the estimates are
# combined ahead of the one deadband, so focus still never reverses for less than it. Bin and time constant
# chosen on the focus benchmark's tuning seeds (bins of 0.02/0.04/0.08 s × 0.1/0.15/0.25/0.5 s, mean in DoF
# over every case 93.85–93.98 %, against 92.97 for the default filter alone and 93.87 for the steady-walk
# one; weights by the inverse score squared or its root: 93.92 / 93.87).
BLEND_BIN_S = 0.04
BLEND_TAU_S = 0.15
BLEND_CLIP_SIGMA = 3.0  # an error beyond this many of the reading's σ counts as this many (heavy tails)
PRED_STEP_S = 0.005  # predictions are kept at most this often (the ring spans PRED_CAP of them)


@njit(cache=True)
def _blend_clear(st: KernelState) -> None:
    s = st.s
    s[BIN_T] = -math.inf
    s[BIN_N] = s[BIN_EA] = s[BIN_EB] = s[SCORE_A] = s[SCORE_B] = s[PRED_N] = 0.0


@njit(cache=True)
def _predicted_for(st: KernelState, t: float) -> tuple[float, float, float]:
    """The lens time nearest before ``t`` for which predictions were kept, and the two filters'
    predictions for it (all nan if none); the ones for earlier times are dropped."""
    s = st.s
    n, head = int(s[PRED_N]), int(s[PRED_HEAD])
    t_pred = pa = pb = math.nan
    while n > 0:
        row = PRED0 + 3 * ((head - n) % PRED_CAP)
        if s[row] > t:
            break
        t_pred, pa, pb = s[row], s[row + 1], s[row + 2]
        n -= 1
    s[PRED_N] = n
    return t_pred, pa, pb


@njit(cache=True)
def _keep_predictions(st: KernelState, alt: KernelState, t: float) -> None:
    """Keep both filters' focus for ``t`` + latency (what a command sent now would aim at)."""
    s = st.s
    n, head = int(s[PRED_N]), int(s[PRED_HEAD])
    if n > 0 and t + s[C_LATENCY] - s[PRED0 + 3 * ((head - 1) % PRED_CAP)] < PRED_STEP_S:
        return
    row = PRED0 + 3 * head
    s[row], s[row + 1], s[row + 2] = t + s[C_LATENCY], _estimate_one(st, t), _estimate_one(alt, t)
    s[PRED_HEAD] = (head + 1) % PRED_CAP
    s[PRED_N] = min(n + 1, PRED_CAP)


@njit(cache=True)
def _score(st: KernelState, t: float, z: float, pa: float, pb: float) -> None:
    """Add reading ``z`` (diopters, at ``t``) against the two predictions for it to the open bin; a bin
    that is over adds its mean errors' squares to the filters' scores."""
    s = st.s
    if t - s[BIN_T] >= BLEND_BIN_S:
        if s[BIN_N] > 0:
            keep = math.exp(-(t - s[BIN_T]) / BLEND_TAU_S)
            s[SCORE_A] = keep * s[SCORE_A] + (1.0 - keep) * (s[BIN_EA] / s[BIN_N]) ** 2.0
            s[SCORE_B] = keep * s[SCORE_B] + (1.0 - keep) * (s[BIN_EB] / s[BIN_N]) ** 2.0
        s[BIN_T], s[BIN_N], s[BIN_EA], s[BIN_EB] = t, 0.0, 0.0, 0.0
    clip = BLEND_CLIP_SIGMA * math.sqrt(_r(st, z))
    s[BIN_N] += 1.0
    s[BIN_EA] += min(max(z - pa, -clip), clip)
    s[BIN_EB] += min(max(z - pb, -clip), clip)


@njit(cache=True)
def _feed(st: KernelState, alt: KernelState, t: float, distance_m: float, confidence: float) -> bool:
    """One reading (or a bin's) into the filter, or both with a blend; True if it was used."""
    if st.s[C_BLEND] == 0.0:
        return _update_one(st, t, distance_m, confidence)
    if not _usable(t, distance_m, confidence):
        return False  # unusable to both filters, and it must not reach the kept predictions
    t_pred, pa, pb = _predicted_for(st, t)
    used = _update_one(st, t, distance_m, confidence)
    _update_one(alt, t, distance_m, confidence)
    if used and math.isfinite(pa) and math.isfinite(pb) and t - t_pred <= BLEND_BIN_S:
        _score(st, t, 1.0 / min(max(distance_m, st.s[C_RMIN]), st.s[C_RMAX]), pa, pb)
    if st.s[INIT] != 0.0 and alt.s[INIT] != 0.0:
        _keep_predictions(st, alt, t)
    return used


# ---- readings of a fast sensor, in bins ----------------------------------------------------------------
# The controller's tests were shaped on a 100 Hz sensor and checked up to 250 Hz, and some count readings:
# the onset test's sum, the still test's last 25 residuals (25 ms at 1000 Hz). Fed every reading of a
# faster sensor with heavy-tailed noise and a second person in the spot, a still subject's focus reversed
# (the focus benchmark's field sensor: 11 of 20 still takes at 500 Hz and 13 of 20 at 700 Hz, seeds
# 1–20; 29 of 30 at 1000 Hz, seeds 1–30). With ``reading_bin_s`` the readings of about that long are
# combined first, the median distance at the mean time, as one reading: the filter sees a sensor of at
# most 1/``reading_bin_s`` Hz, with lighter tails. A slower sensor is fed reading by reading, as before.
# A reading waits in its bin until the bin is full (at most ``reading_bin_s``). 4 ms on seeds 1–20: one
# still take in 20 reversed at 400 Hz, none at 500, 700 or 1000 Hz; walks within ±1.2 points of feeding
# every reading. Bins of 8–12 ms (a 100 Hz filter) also held 250 Hz still but cost the step back 1–3
# points; counting a bin as the median's smaller variance (π/2n of a reading's) reversed again at 500 Hz
# (6 of 30).


@njit(cache=True)
def _bin_out(st: KernelState, alt: KernelState) -> int:
    """Feed the open bin; how many readings were used (all or none)."""
    s = st.s
    n = int(s[BIN_READINGS])
    s[BIN_READINGS] = 0.0
    if n == 0:
        return 0
    t = np_sum(s[BIN_TIMES : BIN_TIMES + n]) / n
    d = float(np.median(s[BIN_DISTANCES : BIN_DISTANCES + n]))
    return n if _feed(st, alt, t, d, 1.0) else 0


@njit(cache=True)
def update(st: KernelState, alt: KernelState, t: float, distance_m: float, confidence: float) -> int:
    """Take one reading; how many readings were used: 1, or 0 if it was gated out or unusable; with
    ``reading_bin_s``, when this reading completes a bin the filter took, that bin's count (0 while it
    waits in its bin). ``alt`` is the steady-walk filter when ``st`` blends with one, else ``st`` itself
    (ignored)."""
    s = st.s
    if s[C_READING_BIN] == 0.0:
        return 1 if _feed(st, alt, t, distance_m, confidence) else 0
    if not _usable(t, distance_m, confidence) or t < s[IGNORE_BEFORE]:
        return 0
    # ties count: a log stamped on arrival has bursts of equal times
    _running_interval(s, t, RAW_T, RAW_DT, True)
    used = 0
    n = int(s[BIN_READINGS])
    if n > 0 and t - s[BIN_TIMES] > s[C_READING_BIN]:
        used += _bin_out(st, alt)  # a gap closed the open bin
        n = 0
    # as many readings as the sensor gives in reading_bin_s (rounded; at least one)
    per_bin = 1 if s[RAW_DT] <= 0.0 else max(1, int(math.floor(s[C_READING_BIN] / s[RAW_DT] + 0.5)))
    if n == 0 and per_bin == 1:  # a slow sensor's reading is its own bin: straight in
        return used + (1 if _feed(st, alt, t, distance_m, confidence) else 0)
    s[BIN_TIMES + n] = t
    s[BIN_DISTANCES + n] = distance_m
    s[BIN_READINGS] = n + 1.0
    if n + 1 >= min(per_bin, BIN_CAP):
        used += _bin_out(st, alt)
    return used


@njit(cache=True)
def estimate_diopters(st: KernelState, alt: KernelState, t_s: float) -> float:
    """The subject's focus (diopters) predicted to ``t_s`` + latency: the filter's, or with a blend the
    two filters' weighed by the inverse of their scores; nan before any reading."""
    a = _estimate_one(st, t_s)
    if st.s[C_BLEND] == 0.0:
        return a
    if t_s - st.s[LAST_ACCEPT] > COAST_S:
        # through a gap the scores are stale, and the steady-walk filter, less sure of its speed, coasts
        # nearly to a stop (the benchmark's brief occlusion lost 1.4 points to it): this filter alone
        return a
    b = _estimate_one(alt, t_s)
    if math.isnan(b):
        return a
    if math.isnan(a):
        return b
    floor = 1e-12
    wa = 1.0 / max(st.s[SCORE_A], floor)
    wb = 1.0 / max(st.s[SCORE_B], floor)
    return (wa * a + wb * b) / (wa + wb)


@njit(cache=True)
def reset_subject(st: KernelState, alt: KernelState) -> None:
    """Forget the tracked subject (a new one is coming); the output stays where it is."""
    _forget_subject(st)
    st.s[BIN_READINGS] = 0.0
    if st.s[C_BLEND] != 0.0:
        _forget_subject(alt)
        _blend_clear(st)


@njit(cache=True)
def rack_to(st: KernelState, alt: KernelState, t_s: float, duration_s: float, distance_m: float) -> None:
    """Start a rack at ``t_s`` over ``duration_s``: to a fixed distance (a mark, held until the next
    rack) when ``distance_m`` is finite, else (nan) to the next subject (the filters are reset for it)."""
    s = st.s
    start = s[OUT_D] if not math.isnan(s[OUT_D]) else estimate_diopters(st, alt, t_s)
    to_subject = math.isnan(distance_m)
    if to_subject:
        reset_subject(st, alt)
        s[IGNORE_BEFORE] = alt.s[IGNORE_BEFORE] = t_s + s[C_SENSOR_LAT]
    if math.isnan(start):
        if to_subject:  # no focus yet to rack from: it takes the subject's first reading (a rack from
            s[MARK_D] = math.nan  # infinity began a take at 1000 m)
            s[RACK_ON] = 0.0
            return
        start = 1.0 / distance_m if distance_m != 0 else 0.0
    target = math.nan if to_subject else 1.0 / distance_m
    s[MARK_D] = target
    s[RACK_ON], s[RACK_T0], s[RACK_DUR], s[RACK_START], s[RACK_TARGET] = (
        1.0,
        t_s,
        max(duration_s, 0.0),
        start,
        target,
    )


@njit(cache=True)
def _confidence(st: KernelState, t_s: float) -> float:
    if st.s[INIT] == 0.0:
        return 0.0
    age = max(0.0, t_s - st.s[LAST_ACCEPT])
    return math.exp(-max(0.0, age - 0.1) / 0.5)


TARGET_SPEED_DT_S = 0.01  # the step over which the focus target's own speed is taken


@njit(cache=True)
def output(st: KernelState, alt: KernelState, t_s: float) -> tuple[float, float, float, int]:
    """Focus command for time ``t_s`` (in time order): (distance m, diopters, confidence, mode); ``alt``
    as in :func:`update`."""
    s = st.s
    dt = 0.0 if math.isnan(s[T_OUT]) else max(0.0, t_s - s[T_OUT])
    s[T_OUT] = t_s
    mode = STILL_MODE if s[STILL] != 0.0 else TRACK
    if s[RACK_ON] != 0.0:
        target = s[RACK_TARGET]
        if math.isnan(target):
            target = estimate_diopters(st, alt, t_s)
        # a planned move: lead it by the motor delay so the lens, not the command, follows the curve
        lead = max(0.0, s[C_LATENCY] - s[C_SENSOR_LAT])
        start, dur = s[RACK_START], s[RACK_DUR]
        tau = 1.0 if dur == 0 else (t_s + lead - s[RACK_T0]) / dur
        if math.isnan(target):
            target = start
        tc = min(max(tau, 0.0), 1.0)
        s[OUT_D] = start + (target - start) * (tc * tc * tc * (10.0 + tc * (-15.0 + 6.0 * tc)))
        s[OUT_SPEED] = 0.0
        if target != start:
            s[OUT_DIR] = 1.0 if target > start else -1.0
        if tau >= 1.0:
            s[RACK_ON] = 0.0
        return _emit(st, t_s, RACK)
    if not math.isnan(s[MARK_D]):
        s[OUT_D], s[OUT_SPEED] = s[MARK_D], 0.0
        return _emit(st, t_s, MARK)
    target = estimate_diopters(st, alt, t_s)
    if math.isnan(target):
        return math.nan, math.nan, 0.0, WAIT
    if math.isnan(s[OUT_D]):
        s[OUT_D], s[OUT_SPEED], s[OUT_DIR] = target, 0.0, 0.0
        return _emit(st, t_s, mode)
    if t_s - s[LAST_ACCEPT] > s[C_REACQ]:
        mode = HOLD
    e = target - s[OUT_D]
    direction = 1.0 if e > 0 else -1.0
    vmax, amax = s[C_VMAX], s[C_AMAX]
    if abs(e) < 1e-9 or (s[OUT_DIR] != 0.0 and direction != s[OUT_DIR] and abs(e) < s[C_DEADBAND]):
        v_des = 0.0  # never reverse for less than the deadband: no hunting
    elif dt > 0:
        # The fastest approach that can still brake in time, never past the target in one tick. Braking
        # is counted from the target's own speed (a walking subject's focus keeps moving) and starts a
        # tick after the speed is set (v·dt + v²/2a ≤ |e|): braking to a stop by √(2a|e|) overshot a
        # change of subject by 3 half-depths of field at 100 Hz and 13 at 25 fps.
        target_speed = (estimate_diopters(st, alt, t_s + TARGET_SPEED_DT_S) - target) / TARGET_SPEED_DT_S
        if not math.isfinite(target_speed):
            target_speed = 0.0
        v_brake = math.sqrt((amax * dt) ** 2 + 2 * amax * abs(e)) - amax * dt
        along = min(abs(e) / dt, max(direction * target_speed + v_brake, 0.0))
        v_des = min(max(direction * along, -vmax), vmax)
    else:
        v_des = 0.0
    dv = amax * dt
    v = min(max(v_des, s[OUT_SPEED] - dv), s[OUT_SPEED] + dv)
    s[OUT_D] += v * dt
    s[OUT_SPEED] = v
    if v != 0.0:
        s[OUT_DIR] = 1.0 if v > 0 else -1.0
    return _emit(st, t_s, mode)


@njit(cache=True)
def _emit(st: KernelState, t_s: float, mode: int) -> tuple[float, float, float, int]:
    s = st.s
    s[OUT_D] = min(max(s[OUT_D], 1.0 / s[C_RMAX]), 1.0 / s[C_RMIN])
    return 1.0 / s[OUT_D], s[OUT_D], _confidence(st, t_s), mode


# ---- whole blocks ----------------------------------------------------------------------------------
NEED_READINGS, BUFFER_FULL, CUE_DUE, DONE = range(4)


@njit(cache=True)
def replay_block(
    st: KernelState,
    alt: KernelState,
    t_s: np.ndarray,
    distance_m: np.ndarray,
    confidence: np.ndarray,
    i0: int,
    k0: int,
    t_start: float,
    fps: float,
    lead_s: float,
    k_last: int,
    final: bool,
    cue_t_s: float,
    out: np.ndarray,
    out_mode: np.ndarray,
    out_fed: np.ndarray,
) -> tuple[int, int, int, int]:
    """Frames ``k0, k0+1, …`` (lens time ``t_start + k/fps``) from a block of readings (time order).

    Frame k is the command sent at ``t_start + k/fps − lead_s``, after every reading with ``t_s`` at
    or before that send time. Stops when the block is used up and the next frame needs later readings
    (``NEED_READINGS``; unless ``final``), when ``out`` is full, when the frame reaches ``cue_t_s``
    (``CUE_DUE``: apply the cue, call again) or after frame ``k_last`` (``DONE``).
    ``out[n]`` = (send time, distance m, diopters, confidence); ``out_mode`` the mode code;
    ``out_fed`` how many readings of this block had been fed by then.
    Returns (next reading index, next frame, frames written, why it stopped).
    """
    n_read = t_s.size
    i, k, n = i0, k0, 0
    # in a block that is not the last, frame k may only be emitted once a later reading proves the
    # log reaches it
    k_block = (
        k_last if final or n_read == 0 else min(k_last, int(math.floor((t_s[n_read - 1] - t_start) * fps)))
    )
    while True:
        if k > k_last:
            return i, k, n, DONE
        t_frame = t_start + k / fps
        if t_frame >= cue_t_s:
            return i, k, n, CUE_DUE
        send = t_frame - lead_s
        while i < n_read and t_s[i] <= send:
            update(st, alt, t_s[i], distance_m[i], confidence[i])
            i += 1
        if (i == n_read and not final) or k > k_block:
            return i, k, n, NEED_READINGS
        if n == out.shape[0]:
            return i, k, n, BUFFER_FULL
        dist, diop, conf, mode = output(st, alt, send)
        out[n, 0], out[n, 1], out[n, 2], out[n, 3] = send, dist, diop, conf
        out_mode[n] = mode
        out_fed[n] = i
        n += 1
        k += 1
