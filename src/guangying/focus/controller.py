"""Focus controller: a Kalman filter in diopter space feeding a DoF-aware, rate-limited follower.

Why this shape:
- The filter (an IMM, in :mod:`guangying.focus.imm`) keeps focus in diopters plus the subject's
  radial speed and acceleration in metres: walking at constant speed is a straight line in metres,
  not in diopters, so motion is integrated in metres; the noise model is the sensor's σ in metres
  mapped to diopters (σ_D = σ_m·D²), so near readings are trusted less, as they should be. Three
  motion models (standing / calm walking / manoeuvring) are mixed as an IMM, so it is smooth,
  settles on a subject that stops, and is still quick when they change pace. Its calm model keeps a
  constant acceleration; by default a second controller whose calm model keeps a constant speed
  (:func:`steady_walk`), which holds the mean through a gait's surges, runs beside it, and focus aims
  at the two estimates weighed by how well each predicted the lens time lately
  (``blend_steady_walk``, in :mod:`guangying.focus.kernel`).
- Readings further than ``huber_sigma`` standard deviations from the prediction are weighted down
  (Huber): rangefinder noise has heavy tails (multipath, a spot half on a second person).
- A subject who starts or stops moving shows first as a run of same-signed innovations: Page's
  CUSUM of them (``onset_sigma``) hands over to the manoeuvre model at once, instead of the still
  estimate and the gate holding focus until one reading lands far enough off.
- Readings that disagree with the prediction by more than ``gate_sigma`` standard deviations are
  rejected (a LiDAR spot straddling the background, someone passing in front). Only if they persist
  and agree among themselves for ``reacquire_s`` does the filter accept them as the new truth (after
  ``reacquire_window_s`` when the filter runs faster than a person moves: ``runaway_speed_mps``).
- When the subject is still, a static estimate (the filter's value, refined by every further
  reading) replaces the moving one, so noise averages away instead of being followed. While it
  stands, a spot half on a second person or the background (readings scattered far off on one side)
  also keeps that side's in-gate readings out for ``mixed_return_hold_s``: they lean the same way.
- The tests look at stretches of time, not counts of readings, so a 30 Hz sensor is treated as a 100 Hz
  one per second of data (``still_window_s``, ``reacquire_window_s``); rejected readings that draw a
  straight line away from the estimate are a subject who moved out of the gate (``moving_reacquire_s``).
- The output moves in the same direction freely but reverses only for errors larger than a deadband
  tied to the depth of field (a fraction of its half-width), so focus never hunts; speed and
  acceleration are limited like a real motor.
- Timing: a command sent at time T reaches the lens ``latency_s − sensor_latency_s`` later (the
  motor delay, :attr:`ControllerConfig.command_lead_s`); readings are stamped ``sensor_latency_s``
  after the moment they measured. So :meth:`FocusController.output` at send time T predicts the
  subject ``latency_s`` past T on the readings' clock — where the subject is when the lens gets
  there. A focus *track* row for frame t is therefore the command sent at ``t − command_lead_s``
  (see :mod:`guangying.focus.replay`).
- A rack runs along a minimum-jerk S-curve from the current focus to the new subject's estimate.

The arithmetic is compiled (numba); this class is the stateful front end for live use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from guangying.base.checks import CheckedOnAssignment, Range, check_fields, check_instance
from guangying.base.errors import SettingsError
from guangying.distance.reading import DistanceReading
from guangying.focus import defaults, imm, kernel, kernel_state
from guangying.lens.optics import LENS_RANGES, dof_half_width_diopters

_CONFIG_RANGES = {
    **{k: LENS_RANGES[k] for k in ("focal_length_mm", "f_number", "coc_mm")},
    "sensor_sigma_m": Range(0.0, 10.0, lo_open=True, unit="m"),
    "sensor_offset_m": Range(-5.0, 5.0, unit="m"),
    "subject_jerk_mps3": Range(0.0, 1e3, lo_open=True, unit="m/s³"),
    "manoeuvre_jerk_mps3": Range(0.0, 1e4, lo_open=True, unit="m/s³"),
    "gate_sigma": Range(0.0, 100.0, lo_open=True),
    "reacquire_s": Range(0.0, 60.0, unit="s"),
    "latency_s": Range(0.0, 10.0, unit="s"),
    "sensor_latency_s": Range(0.0, 10.0, unit="s"),
    "deadband_dof_fraction": Range(0.0, 10.0),
    "max_speed_dps": Range(0.0, 1e3, lo_open=True, unit="diopters/s"),
    "max_accel_dps2": Range(0.0, 1e5, lo_open=True, unit="diopters/s²"),
    "min_distance_m": Range(0.0, 1e6, lo_open=True, unit="m"),
    "max_distance_m": Range(0.0, 1e6, lo_open=True, unit="m"),
    "huber_sigma": Range(0.0, 100.0),
    "onset_sigma": Range(0.0, 100.0),
    "mixed_return_hold_s": Range(0.0, 10.0, unit="s"),
    "mixed_return_reacquire_n": Range(0, kernel.REJ_KEEP, integer=True),
    "mixed_return_stop_mps": Range(0.0, 10.0, unit="m/s"),
    "still_window_s": Range(0.0, 10.0, unit="s"),
    "reacquire_window_s": Range(0.0, 10.0, unit="s"),
    "moving_reacquire_s": Range(0.0, 10.0, unit="s"),
    "mixed_return_spread_m": Range(0.0, 100.0, unit="m"),
    "runaway_speed_mps": Range(0.0, 100.0, unit="m/s"),
    "calm_accel_mps2": Range(0.0, 100.0, unit="m/s²"),
    "reading_bin_s": Range(0.0, 0.1, unit="s"),
    "coast_s": Range(0.0, 60.0, unit="s", allow_inf=True),
}


MIN_HUBER_SIGMA = 0.01


@dataclass(slots=True)
class ControllerConfig(CheckedOnAssignment):
    """Controller settings; the only sensor knowledge is its published noise σ (``sensor_sigma_m``).

    ``latency_s``: from a reading's timestamp to the lens being there (sensor + motor delay): how
    far ahead to predict. ``sensor_latency_s``: the part of it between the moment a reading measured
    and its timestamp (0 when the log's ``t_s`` is the moment measured); the rest is the motor delay
    (:attr:`command_lead_s`). Lens numbers as in :func:`guangying.lens.optics.depth_of_field` (mm,
    f-number, mm); every value is checked against its range on construction
    (:class:`~guangying.base.errors.SettingsError`).
    """

    focal_length_mm: float
    f_number: float
    coc_mm: float
    sensor_sigma_m: float = defaults.SENSOR_SIGMA_M
    # How far the distance sensor's face sits in front of the camera's focal plane (the ⦶ mark), m
    # (negative: behind it), added to each usable reading: focus scales, witness marks, a tape and a
    # lens calibration measure from the focal plane, and a LiDAR on the matte box 15 cm ahead of it
    # focused a 135 mm f/2 at 2 m fifteen half-depths of field in front of the subject.
    sensor_offset_m: float = 0.0
    # Process noise: how abruptly people change their acceleration (white jerk, m/s³): calm walking,
    # and starting/stopping/turning; the IMM filter weighs these two and a standing model as it goes.
    subject_jerk_mps3: float = 0.5
    manoeuvre_jerk_mps3: float = 8.0
    gate_sigma: float = 4.0
    reacquire_s: float = 0.6
    latency_s: float = defaults.LATENCY_S  # sensor + motor delay: how far ahead to predict
    sensor_latency_s: float = defaults.SENSOR_LATENCY_S  # the part of it before a reading is stamped
    deadband_dof_fraction: float = 0.5
    max_speed_dps: float = 4.0  # focus motor limits, diopters per second (and per second²)
    max_accel_dps2: float = 40.0
    min_distance_m: float = 0.2
    max_distance_m: float = 1000.0
    # Readings beyond this many σ of the prediction count as if noisier (Huber weighting; 0 = off, the
    # former controller): real rangefinder noise has heavier tails than the filter's Gaussian, and at
    # 1σ a standing subject's focus never reverses on them (issue 9 sweep, bench/focus_sim.md).
    huber_sigma: float = 1.0
    # A subject who starts or stops moving shows as a run of same-signed innovations: when Page's CUSUM
    # of them passes this many σ, the filter switches to its manoeuvre model at once instead of holding
    # focus until one reading leaves the gate (0 = off, the former controller).
    onset_sigma: float = 4.0
    # While the subject stands (still, or the standing model leads), a spot half on a second person
    # (or the background) scatters readings far off on one side; for this long after such readings,
    # the ones on that side that land inside the gate are not used either (they lean the same way and
    # made a still subject's focus reverse at 250 Hz; 0 = off, the former controller; 0.1 s chosen on
    # the tuning seeds).
    mixed_return_hold_s: float = 0.1
    # Within 0.5 s of such an episode, this many rejected readings in a row on the other side (nearer
    # than the filter) that agree with each other are taken as the subject at once, instead of after
    # ``reacquire_s``: the episode's in-gate returns had dragged the filter away (a subject who had just
    # stopped was left up to 0.5 m behind). 0 = off, the former controller; 3 chosen on the tuning seeds.
    mixed_return_reacquire_n: int = 3
    # When such an episode starts while a subject who is easing to a stop moves slower than this (and
    # the filter still carries the braking's acceleration), the filter takes them as standing, so the
    # hold applies and the leftover acceleration does not carry focus away while the far returns are
    # rejected (0 = off, the former controller; 0.3 m/s chosen on the tuning seeds).
    mixed_return_stop_mps: float = 0.3
    # Two tests counted readings, which at 30 Hz span three times as long as at 100 Hz, where the
    # controller was shaped. Whether a still subject has started to move now looks at as many residuals
    # as the sensor gives in ``still_window_s`` (at most the former 25; 0 = the last 25 readings, the
    # former controller), and whether rejected readings agree on a new truth at those of the last
    # ``reacquire_window_s`` (0 = the last 10). Both chosen on the tuning seeds (issue 9).
    still_window_s: float = 0.25
    reacquire_window_s: float = 0.1
    # A subject who steps out of the gate between slow readings (a brisk step at 30 Hz leaves it within
    # two or three, before the onset test can add them up): the rejected readings of the last this long
    # (at least three, in a row, on one side) that lie on a line which left the filter's last estimate
    # are taken as the subject moving along it (0 = off, the former controller; 0.2 s on the tuning seeds).
    moving_reacquire_s: float = 0.2
    # While the subject stands, for a short while after such an episode (past the hold) a reading on its
    # side counts by the chance that it is the subject's own return rather than a share of the person
    # behind, taken as spread evenly over this many metres behind the subject: a long episode that
    # outlasted the hold no longer takes focus behind a standing subject (0 = off, the former controller;
    # 0.5 m chosen on the tuning seeds and the focus tests' mixed-return takes).
    mixed_return_spread_m: float = 0.5
    # A filter whose speed passes this (faster than a person moves on set) has run away on readings that
    # were not the subject (shares of a second person taken during a brisk step: 5–8 m/s, a metre off)
    # and its gate shuts the subject's readings out: agreeing rejected readings then re-acquire after
    # ``reacquire_window_s`` instead of ``reacquire_s`` (0 = off, the former controller; 3 m/s, the line
    # re-acquisition's limit, on the tuning seeds: 2.5–4 alike).
    runaway_speed_mps: float = 3.0
    # The calm model as a steady walk: 0 = constant acceleration (white jerk ``subject_jerk_mps3``, the
    # default); > 0 = constant speed with white acceleration of this density (m/s²/√Hz). A walk's gait
    # surges the speed by ±10 % with every step; the constant-acceleration model follows each surge and,
    # predicted 40 ms ahead, scatters focus by a half-DoF or more at 2–3 m on a long lens, while a steady
    # model keeps the mean over about a second. It is worse at speed that changes all the time (a smooth
    # accelerating walk, a subject crossing the frame) and at coasting through gaps. :func:`steady_walk`
    # sets it with a manoeuvre model to match; bench/results/focus_sim.md gives both settings per case.
    calm_accel_mps2: float = 0.0
    # Blend with a steady-walk filter: a second controller with :func:`steady_walk`'s calm model runs on
    # the same readings, and focus aims at the two filters' estimates weighed by how well each predicted
    # the lens time over the last few tenths of a second (see :mod:`guangying.focus.kernel`). On the focus
    # benchmark's report seeds: gait walks +2.1 to +3.1 points over this filter alone, no case lower by
    # more than 0.3, still subjects never reverse; twice the arithmetic (False: this filter alone).
    blend_steady_walk: bool = True
    # A sensor that gives 1.5 readings or more in this long (s; at 4 ms: from about 375 Hz up) is read
    # in bins of about this long, each bin's median distance at its mean time as one reading (see
    # :mod:`guangying.focus.kernel`): the tests shaped on a 100 Hz sensor count readings, and at
    # 500–1000 Hz a still subject's focus reversed (0 = every reading on its own; up to 250 Hz nothing
    # changes).
    reading_bin_s: float = 0.004
    # A lost subject (no reading accepted: out of the spot, no return, an occluder not yet taken as the
    # new subject) is followed at their last speed for this long past their last reading, the latency
    # included, then focus holds (inf = coast on, the former controller). Constant speed forever racked a
    # walker lost for 5 s at 0.5 m/s to the lens's near limit; 1 s keeps a brief occlusion (0.4 s in the
    # focus benchmark) and the sensor's dropouts on the walk.
    coast_s: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self, "focus", _CONFIG_RANGES)
        if self.sensor_latency_s > self.latency_s:  # the motor delay was clamped to 0 without a word
            raise SettingsError(f"focus settings sensor_latency_s={self.sensor_latency_s:g} s is part of "
                                f"latency_s={self.latency_s:g} s (the whole delay from measuring to the lens "
                                "moving): it cannot be more")
        if not self.min_distance_m < self.max_distance_m:
            raise SettingsError(
                f"focus settings min_distance_m={self.min_distance_m}, max_distance_m={self.max_distance_m}: "
                "need min_distance_m < max_distance_m"
            )
        if 0.0 < self.huber_sigma < MIN_HUBER_SIGMA:  # its square underflows the kernel's weighting
            raise SettingsError(
                f"focus setting huber_sigma={self.huber_sigma!r}: use 0 (off) or at least {MIN_HUBER_SIGMA:g}"
            )

    def from_focal_plane_m(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Readings' distances from the sensor, ``distance_m``, as measured from the focal plane
        (:attr:`sensor_offset_m` added); 0, negative and NaN (no reading) are kept as they are."""
        distances = np.asarray(distance_m, np.float64)
        if not self.sensor_offset_m:
            return distances
        return np.where(distances > 0, distances + self.sensor_offset_m, distances)

    @property
    def command_lead_s(self) -> float:
        """The motor delay: a command sent at T sets the lens at T + this (never negative)."""
        return max(0.0, self.latency_s - self.sensor_latency_s)

    @property
    def deadband_diopters(self) -> float:
        """Reversals smaller than this are not made (a fraction of the DoF half-width, which in
        diopters barely depends on distance)."""
        hw = dof_half_width_diopters(self.focal_length_mm, self.f_number, self.coc_mm)
        return self.deadband_dof_fraction * hw

    def new_state(self) -> kernel_state.KernelState:
        """Fresh compiled-controller state for these settings."""
        return kernel_state.new_state(
            self.sensor_sigma_m,
            (self.subject_jerk_mps3, self.manoeuvre_jerk_mps3),
            self.gate_sigma,
            self.reacquire_s,
            self.latency_s,
            self.sensor_latency_s,
            self.deadband_diopters,
            self.max_speed_dps,
            self.max_accel_dps2,
            self.min_distance_m,
            self.max_distance_m,
            huber_sigma=self.huber_sigma,
            onset_sigma=self.onset_sigma,
            mixed_return_hold_s=self.mixed_return_hold_s,
            mixed_return_reacquire_n=self.mixed_return_reacquire_n,
            mixed_return_stop_mps=self.mixed_return_stop_mps,
            still_window_s=self.still_window_s,
            reacquire_window_s=self.reacquire_window_s,
            moving_reacquire_s=self.moving_reacquire_s,
            mixed_return_spread_m=self.mixed_return_spread_m,
            runaway_speed_mps=self.runaway_speed_mps,
            calm_accel_mps2=self.calm_accel_mps2,
            blend_steady_walk=self.blend_steady_walk,
            reading_bin_s=self.reading_bin_s,
            coast_s=self.coast_s,
        )

    def new_states(self) -> tuple[kernel_state.KernelState, kernel_state.KernelState]:
        """The states the compiled controller runs on: this filter's, and the steady-walk filter's when
        it blends with one (else the same state again, which the kernel then ignores)."""
        st = self.new_state()
        if not self.blend_steady_walk:
            return st, st
        return st, replace(steady_walk(self), blend_steady_walk=False).new_state()


# The steady-walk settings, chosen on the focus benchmark's tuning seeds (mean in-DoF over every case,
# 92.97 % with the default models): white acceleration 0.5 / 1 / 1.5 / 2 m/s²/√Hz × manoeuvre jerk
# 2 / 4 / 6 / 8 m/s³; 1 and 4 best (93.87 %); from 1.5 up a still subject's focus reversed.
STEADY_WALK_ACCEL_MPS2 = 1.0
STEADY_WALK_MANOEUVRE_JERK_MPS3 = 4.0


def steady_walk(config: ControllerConfig) -> ControllerConfig:
    """``config`` for a subject who walks at a steady pace (towards or away from the camera, with a
    gait): the calm model at constant speed (:attr:`ControllerConfig.calm_accel_mps2`) and a calmer
    manoeuvre model, alone (not blended). Against the default blend on the focus benchmark
    (bench/results/focus_sim.md): up to 1.7 points more frames in focus on a steady gait walk and 0.7–1.4
    on a step back after a stop, but 3.4 fewer on a smoothly accelerating walk, 1.5 on a crossing and 4.5
    through a brief occlusion; a standing subject never reverses."""
    return replace(
        config,
        calm_accel_mps2=STEADY_WALK_ACCEL_MPS2,
        manoeuvre_jerk_mps3=STEADY_WALK_MANOEUVRE_JERK_MPS3,
        blend_steady_walk=False,
    )


@dataclass(frozen=True, slots=True)
class FocusOutput:
    """The focus command at send time ``t_s``. ``distance_m`` is nan before the first usable reading."""

    t_s: float
    distance_m: float
    diopters: float
    confidence: float
    mode: str


class FocusController:
    """Feed readings with :meth:`update` (in time order), ask for focus with :meth:`output`.

    Readings are :class:`~guangying.distance.reading.DistanceReading` (seconds, metres, confidence
    0–1); each output is a :class:`FocusOutput` (focus distance in metres and in diopters).

    Examples
    --------
    A subject walking towards a 85 mm f/2 lens at 1 m/s, read by a LiDAR at 100 Hz with 1.5 cm noise:

    >>> import numpy as np
    >>> from guangying.distance.reading import DistanceReading
    >>> rng = np.random.default_rng(0)
    >>> ctl = FocusController(ControllerConfig(focal_length_mm=85, f_number=2.0, coc_mm=0.025))
    >>> for k in range(200):
    ...     t = k / 100
    ...     _ = ctl.update(DistanceReading(t, 4.0 - t + rng.normal(0, 0.015), 1.0, "lidar"))
    >>> out = ctl.output(1.99)   # the command sent at 1.99 s, for the lens one motor delay (40 ms) on
    >>> abs(out.distance_m - (4.0 - 1.99 - 0.04)) < 0.03   # where the subject is then, within the DoF
    True
    """

    def __init__(self, config: ControllerConfig) -> None:
        check_instance(config, ControllerConfig, "config")
        self.config = config
        self.state, self._alt = config.new_states()

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the controller's arithmetic on a throwaway controller with
        these settings, so that a live take's first readings are not held up by it (seconds on a cold
        cache); this controller's state is untouched."""
        scratch = FocusController(self.config)
        for k in range(3):
            scratch.update(DistanceReading(0.01 * k, 2.0, 1.0, "warm-up"))
        scratch.output(0.03)

    def update(self, reading: DistanceReading) -> int:
        """Take one reading; returns how many readings the filter used: 1, or 0 if this one was gated
        out or unusable. A fast sensor is read in bins (``config.reading_bin_s``, see
        :class:`ControllerConfig`): a reading that completes a bin the filter took returns the bin's
        count, the others 0."""
        return int(
            kernel.update(
                self.state,
                self._alt,
                float(reading.t_s),
                float(self.config.from_focal_plane_m(reading.distance_m)),
                float(reading.confidence),
            )
        )

    def output(self, t_s: float) -> FocusOutput:
        """Focus command sent at ``t_s`` (call once per frame or control tick, in time order); it
        describes the lens at ``t_s + config.command_lead_s``."""
        dist, diop, conf, mode = kernel.output(self.state, self._alt, float(t_s))
        return FocusOutput(float(t_s), dist, diop, conf, kernel_state.MODES[mode])

    def estimate_diopters(self, t_s: float) -> float | None:
        """The subject's focus (diopters) predicted to ``t_s`` + latency; None before any reading."""
        d = kernel.estimate_diopters(self.state, self._alt, float(t_s))
        return None if math.isnan(d) else float(d)

    def rack_to(self, t_s: float, duration_s: float, distance_m: float | None = None) -> None:
        """Start a rack at ``t_s`` over ``duration_s``: to a fixed distance (a mark, held until the next
        rack) when given, else to the next subject, whose readings the caller feeds from now on (the
        filter is reset for it). ``t_s`` and ``duration_s`` (≥ 0, 0 = a cut) must be finite and
        ``distance_m`` > 0 (``inf`` = focus at infinity), else :class:`SettingsError`."""
        if not (math.isfinite(t_s) and math.isfinite(duration_s) and duration_s >= 0):
            raise SettingsError(
                f"focus rack at t_s={t_s!r} over duration_s={duration_s!r}: both must be finite seconds, "
                "the duration ≥ 0"
            )
        if distance_m is not None and not distance_m > 0:
            raise SettingsError(
                f"focus rack to distance_m={distance_m!r}: give a distance > 0 m, or None for the subject"
            )
        target_m = math.nan if distance_m is None else float(distance_m)
        kernel.rack_to(self.state, self._alt, float(t_s), float(duration_s), target_m)

    def reset_subject(self) -> None:
        """Forget the tracked subject (a new one is coming); the output stays where it is."""
        kernel.reset_subject(self.state, self._alt)

    @property
    def x(self) -> np.ndarray | None:
        """Combined filter state [diopters, radial speed m/s, radial acceleration m/s²] (None before any
        reading)."""
        return imm.estimate(self.state)[0] if self.state.s[kernel_state.INIT] else None

    @property
    def mode_probabilities(self) -> np.ndarray:
        """IMM model probabilities (standing, calm, manoeuvre)."""
        return self.state.mu.copy()

    @property
    def still(self) -> bool:
        return bool(self.state.s[kernel_state.STILL])

    @property
    def accepted(self) -> int:
        return int(self.state.s[kernel_state.ACCEPTED])

    @property
    def outliers(self) -> int:
        return int(self.state.s[kernel_state.OUTLIERS])
