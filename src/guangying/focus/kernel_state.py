"""The focus controller's state: one set of plain arrays, and the layout of its scalar vector.

numba has no mutable records that compile once and cache, so a controller's state lives in a few
arrays: ``s`` the scalars (the slot indices below: filter and still-test state, then the settings
copied in by :func:`new_state`, then cached mode-switch matrices), ``xs``/``ps``/``mu`` the three
motion models (:mod:`guangying.focus.imm`), and ring buffers for the last rejected readings, the
still-residuals and the last 0.5 s of accepted readings. :mod:`guangying.focus.kernel` runs the
controller on it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# ---- scalar slots of the state vector -------------------------------------------------------------
(
    INIT,
    T_IMM,
    LAST_ACCEPT,
    STILL,
    STILL_MEAN,
    STILL_INFO,
    OUT_D,
    OUT_SPEED,
    OUT_DIR,
    T_OUT,
    RACK_ON,
    RACK_T0,
    RACK_DUR,
    RACK_START,
    RACK_TARGET,
    IGNORE_BEFORE,
    MARK_D,
    ACCEPTED,
    OUTLIERS,
    REJ_COUNT,
    REJ_FIRST_T,
    REJ_LAST_T,
    RES_N,
    RES_HEAD,
    REC_N,
    REC_HEAD,
    PI_KEY,
    CUSUM_UP,
    CUSUM_DOWN,
    FAR_T,
    FAR_Z,
    MIXED_T,
    MIXED_SIDE,
    OCCLUDED_T,
    EPISODE_Z,
) = range(35)
# configuration (copied in once)
(
    C_SIGMA,
    C_JERK1,
    C_JERK2,
    C_GATE,
    C_REACQ,
    C_LATENCY,
    C_SENSOR_LAT,
    C_DEADBAND,
    C_VMAX,
    C_AMAX,
    C_RMIN,
    C_RMAX,
    C_SWAY,
    C_EXIT0,
    C_EXIT1,
    C_EXIT2,
    C_HUBER,
    C_ONSET,
    C_MIXED_HOLD,
    C_MIXED_REACQ,
    C_MIXED_STOP,
    C_STILL_WIN,
    C_REJ_WIN,
    C_MOVE_WIN,
    C_MIXED_SPREAD,
    C_RUNAWAY,
    C_CALM_ACCEL,
    C_BLEND,
    C_READING_BIN,
    C_COAST,
) = range(35, 65)
PI0 = 65  # the cached 3×3 mode-switch matrix
# state kept after the cached matrix: the time of the last valid reading and a running mean of the
# interval between valid readings (the sensor's rate, for tests that look at a share of a second)
LAST_T = PI0 + 9
READ_DT = PI0 + 10
# The blend with a steady-walk filter (``C_BLEND``; see :mod:`guangying.focus.kernel`): the open bin of
# prediction errors (its start, count, and each filter's summed error), each filter's running score,
# and a ring of predictions made at reading times (lens time, this filter's, the steady-walk filter's).
(BIN_T, BIN_N, BIN_EA, BIN_EB, SCORE_A, SCORE_B, PRED_N, PRED_HEAD) = range(PI0 + 11, PI0 + 19)
PRED_CAP = 128  # one kept every 5 ms (kernel.PRED_STEP_S): latencies up to 0.64 s
PRED0 = PI0 + 19
# A fast sensor's readings combined into bins (``C_READING_BIN``; see :mod:`guangying.focus.kernel`): the
# last valid reading's time, the running mean interval between valid readings, and the open bin (its
# count, then the readings' times and distances).
RAW_T = PRED0 + 3 * PRED_CAP
RAW_DT = RAW_T + 1
BIN_READINGS = RAW_T + 2
BIN_CAP = 64  # readings per bin at most: a bin of 4 ms holds a 16 kHz sensor's
BIN_TIMES = RAW_T + 3
BIN_DISTANCES = BIN_TIMES + BIN_CAP
# then the mode-switch matrices of steps of 0 … PI_TABLE_MS milliseconds (nan until first needed; kept
# in the scalars: one more array in the state cost every call)
PI_TABLE_MS = 250
PI_TABLE0 = BIN_DISTANCES + BIN_CAP
N_SCALARS = PI_TABLE0 + 9 * (PI_TABLE_MS + 1)
# Ring buffers: the still test's last residuals (~0.25 s at 100 Hz), the rejected readings (with
# ``reacquire_window_s`` the re-acquisition looks at those of the last so many seconds: enough for a
# 2.5 kHz sensor) and the accepted readings within 0.5 s (enough for a 16 kHz sensor).
RES_KEEP = 25
REJ_CAP = 256
REC_CAP = 8192

STANDING = 0
CALM = 1  # the models: standing, calm walk, manoeuvre
MODES = ("wait", "track", "still", "hold", "rack", "mark")
WAIT, TRACK, STILL_MODE, HOLD, RACK, MARK = range(6)


class KernelState(NamedTuple):
    """Arrays holding one controller's state (see the module docstring)."""

    s: np.ndarray  # (N_SCALARS,) float64
    xs: np.ndarray  # (3, 3): per model [diopters, radial speed m/s, radial acceleration m/s²]
    ps: np.ndarray  # (3, 3, 3) covariances
    mu: np.ndarray  # (3,) model probabilities
    rej: np.ndarray  # (REJ_CAP,) diopters of the last rejected readings (ring)
    resid: np.ndarray  # (RES_KEEP, 2) still residual, its variance (ring)
    recent: np.ndarray  # (REC_CAP, 3) t_s, diopters, variance (ring)
    rej_t: np.ndarray  # (REJ_CAP,) t_s of the last rejected readings (ring, with ``rej``)


def new_state(
    sensor_sigma_m: float,
    jerks_mps3: tuple[float, float],
    gate_sigma: float,
    reacquire_s: float,
    latency_s: float,
    sensor_latency_s: float,
    deadband_diopters: float,
    max_speed_dps: float,
    max_accel_dps2: float,
    min_distance_m: float,
    max_distance_m: float,
    sway_mps: float = 0.02,
    exit_rate_per_s: tuple[float, float, float] = (0.5, 0.5, 2.0),
    huber_sigma: float = 0.0,
    onset_sigma: float = 0.0,
    mixed_return_hold_s: float = 0.0,
    mixed_return_reacquire_n: int = 0,
    mixed_return_stop_mps: float = 0.0,
    still_window_s: float = 0.0,
    reacquire_window_s: float = 0.0,
    moving_reacquire_s: float = 0.0,
    mixed_return_spread_m: float = 0.0,
    runaway_speed_mps: float = 0.0,
    calm_accel_mps2: float = 0.0,
    blend_steady_walk: bool = False,
    reading_bin_s: float = 0.0,
    coast_s: float = math.inf,
) -> KernelState:
    """A fresh controller: no subject, no output yet."""
    s = np.zeros(N_SCALARS)
    s[LAST_ACCEPT] = -math.inf
    s[FAR_T] = s[MIXED_T] = s[OCCLUDED_T] = -math.inf
    s[LAST_T] = s[RAW_T] = -math.inf
    s[PI_TABLE0:] = math.nan
    s[OUT_D] = s[T_OUT] = s[RACK_TARGET] = s[MARK_D] = s[PI_KEY] = math.nan
    s[IGNORE_BEFORE] = -math.inf
    cfg = (
        sensor_sigma_m,
        jerks_mps3[0],
        jerks_mps3[1],
        gate_sigma,
        reacquire_s,
        latency_s,
        sensor_latency_s,
        deadband_diopters,
        max_speed_dps,
        max_accel_dps2,
        min_distance_m,
        max_distance_m,
        sway_mps,
        *exit_rate_per_s,
        huber_sigma,
        onset_sigma,
        mixed_return_hold_s,
        mixed_return_reacquire_n,
        mixed_return_stop_mps,
        still_window_s,
        reacquire_window_s,
        moving_reacquire_s,
        mixed_return_spread_m,
        runaway_speed_mps,
        calm_accel_mps2,
        float(blend_steady_walk),
        reading_bin_s,
        coast_s,
    )
    s[C_SIGMA : C_SIGMA + len(cfg)] = cfg
    return KernelState(
        s,
        np.zeros((3, 3)),
        np.zeros((3, 3, 3)),
        np.array([0.1, 0.8, 0.1]),
        np.zeros(REJ_CAP),
        np.zeros((RES_KEEP, 2)),
        np.zeros((REC_CAP, 3)),
        np.zeros(REJ_CAP),
    )
