"""Sequential certification: fewer Monte Carlo samples for the same guarantee.

Two modes drive an arbitrary sampler (a callback ``draw(index, m)`` returning the class counts of
``m`` fresh noisy samples for each input in ``index``), so the same code is checked with simulated
Bernoulli/categorical "classifiers" (tests) and runs real models (``gpu_sampler.sequential``):

* :func:`certify_target` -- is the input certified at radius ``r`` (or at each radius of a grid)?
  Sample in stages and stop as soon as the answer is known either way.
* :func:`certify_budget` -- the radius for a budget of ``n_max`` samples, stopping early when
  further samples are not expected to raise it by more than a tolerance ``tol``.

Measured savings depend on the p_A distribution. Over all 500 embedded Fashion-MNIST test images
of the shipped ``fmnist-gaussian-0.50`` (n_max = 100,000, alpha = 0.001; benchmarks/
sequential_savings.py, ``--pilot-only``): target mode 16.7x fewer samples than fixed n, budget
mode (tol 0.02 sigma) 1.13x.

Anchors: Horvath, Mueller, Fischer & Vechev 2022 ("Boosting randomized smoothing with variance
reduced classifiers", ICLR; adaptive sampling: Clopper-Pearson tests at a few growing sample sizes
with a Bonferroni correction over the stages), Voracek 2024 ("Treatment of statistical estimation
problems in randomized smoothing", arXiv 2406.17830: confidence sequences, near-optimal sample
complexity for the decide-at-radius-r task) and, for the budgeted mode, Chen et al. 2022
("Input-specific robustness certification", AAAI: about 3x fewer samples at a certified-radius
decline of up to 0.05). We use the union bound over a finite stage schedule (below) because it
keeps the exact, soundly rounded Clopper-Pearson bounds of :mod:`.clopper_pearson` at every stage.

Protocol (Cohen et al. 2019 CERTIFY, Sec. 3.2, made sequential)
---------------------------------------------------------------
``n0`` selection samples choose ``c_A`` (argmax, independent of everything after). Estimation
samples are then drawn in stages with cumulative sizes ``n_1 < n_2 < ... < n_T = n_max``; at
stage ``t`` the counts of all ``n_t`` estimation samples so far are bounded with the rule's alpha
split (``estimators.certify``: binary ``p_A`` at ``alpha_t``; runner-up ``p_A`` and ``p_B`` at
``alpha_t / 2`` each; bonferroni every class at ``alpha_t / K``) at the stage level ``alpha_t``.

Validity at the stopping time (the union bound)
-----------------------------------------------
Think of the estimation samples as one infinite i.i.d. stream; stopping only decides how much of it
we look at. Let ``E_t`` be the event that the exact stage-``t`` bounds computed on the FIRST
``n_t`` samples of the stream hold (``p_{c_A} >= L_t`` and ``max_{c != c_A} p_c <= U_t``; for
the runner-up bound use the fixed class ``c*`` argument of ``estimators.certify``). Each ``E_t`` is
a fixed-``n`` Clopper-Pearson event, so ``P(not E_t) <= alpha_t`` and, whatever the stopping rule,

    P(not (E_1 and ... and E_T)) <= alpha_1 + ... + alpha_T <= alpha.

The schedule's levels sum to at most ``alpha`` (checked exactly with fractions). On
``E = E_1 and ... and E_T`` EVERY stage's bounds hold at once, so we may report, at the stopping
stage ``tau``, the best bound of all visited stages (running max of ``p_A``, running min of
``p_B``), and in target mode every "certified at r" claim made at any stage is true. Float bounds
are below (above) the exact ones (:mod:`.clopper_pearson`), so they hold on ``E`` too.

The free padded bound (no extra alpha). Counts only grow: the count ``K`` of ``c_A`` in the first
``n_max`` samples satisfies ``K >= k_t`` (``k_t`` its count in the first ``n_t``). ``E_T`` is the
fixed-``n_max`` event, already paid for in the schedule, and it involves the hypothetical full run
whether or not we stop. Clopper-Pearson's lower bound increases with the count, so on ``E_T``

    p_{c_A} >= CP_lower(K, n_max, alpha_T) >= CP_lower(k_t, n_max, alpha_T),

and for the runner-up (any fixed class ``c``) ``n_{c, max} <= n_{c, t} + (n_max - n_t)``, so
``max_{c != c_A} p_c <= CP_upper(n_{B,t} + n_max - n_t, n_max, alpha_T)``. These "pad the rest
with failures" bounds are valid at any stopping time at no extra cost and enter the running
max/min. They only help late (``n_t`` close to ``n_max``, e.g. when a stage size is a large
fraction of ``n_max``): the padded estimate ``k_t / n_max`` sits a factor ``n_t / n_max`` below
``k_t / n_t``.

Why not "Clopper-Pearson at alpha at the samples spent"? Reporting ``CP_lower(k_tau, n_tau,
alpha)`` at a data-dependent ``tau`` is the optional-stopping fallacy: its failure probability
exceeds alpha (shown by simulation in tests/test_sequential.py). No valid sequential procedure can
match fixed-``n`` Clopper-Pearson at alpha for every stopping time; the union bound pays
``alpha -> alpha_t``. The default schedules give the final stage a large share of alpha, which
keeps the radius at ``n_max`` within a hair of fixed-``n_max`` Clopper-Pearson.

Abstaining is always safe
-------------------------
Only a "certified" claim (a positive radius, or "certified at r") can be wrong; abstaining or
reporting a smaller radius never breaks the promise. So the early-abstain test of target mode
(optimistic upper confidence bound on ``p_A`` cannot reach the target) and the stopping rule of
budget mode (projected gain below ``tol``) may use ANY level, including large ones, without
touching the alpha budget: they change only how many samples are spent and how often we abstain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .certify import RULES, _cap_by_complement, _check_rule, _levels
from ..core.checks import as_float_array, check_alpha, check_counts, check_int
from ..core.roots import bisect
from .clopper_pearson import _cp_lower, _cp_upper
from ..core.rounding import shrink


# ---------------------------------------------------------------------------------------------
# the stage schedule
@dataclass(frozen=True)
class Schedule:
    """Cumulative estimation sample sizes ``n_1 < ... < n_T`` and per-stage levels ``alpha_t``.

    ``sum(alpha_t)`` (computed exactly, as fractions of the float values) is the total failure
    probability of every bound reported along the schedule (module docstring).
    """

    sizes: tuple
    levels: tuple

    def __post_init__(self):
        sizes = tuple(check_int("sizes", s, minimum=1) for s in self.sizes)
        levels = tuple(check_alpha(a, "levels") for a in self.levels)
        if not sizes:
            raise ValueError("sizes must hold at least one stage, got ()")
        if len(levels) != len(sizes):
            raise ValueError(
                f"levels must have one entry per stage ({len(sizes)}), got {len(levels)}"
            )
        if any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"sizes must be strictly increasing, got {sizes}")
        if sum(Fraction(a) for a in levels) >= 1:
            raise ValueError(f"levels must sum to less than 1, got sum {math.fsum(levels)!r}")
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "levels", levels)

    @property
    def n_max(self) -> int:
        return self.sizes[-1]

    def total_alpha(self) -> Fraction:
        """The exact sum of the stage levels (a union bound on all failures)."""
        return sum(Fraction(a) for a in self.levels)


def geometric_schedule(n_max=100_000, alpha=0.001, n_first=1000, growth=2.0, final_share=0.5):
    """Stages ``n_first * growth^i`` (rounded up) below ``n_max / sqrt(growth)``, then ``n_max``
    (a stage just below ``n_max`` would cost a share of alpha for a few percent more samples).

    The last stage gets ``final_share * alpha``; the earlier ``T - 1`` stages share the rest
    equally (a single stage gets all of alpha). Each level is moved down by a few ulps so that the
    float levels sum to at most ``alpha`` exactly (checked with fractions).
    """
    n_max = check_int("n_max", n_max, minimum=1)
    alpha = check_alpha(alpha)
    n_first = check_int("n_first", n_first, minimum=1)
    growth = float(as_float_array("growth", growth))
    if not (growth > 1.0 and math.isfinite(growth)):
        raise ValueError(f"growth must be a finite number > 1, got {growth!r}")
    final_share = check_alpha(final_share, "final_share")
    sizes = []
    size = float(n_first)
    while math.ceil(size) * math.sqrt(growth) < n_max:
        if not sizes or math.ceil(size) > sizes[-1]:
            sizes.append(math.ceil(size))
        size *= growth
    sizes.append(n_max)
    if len(sizes) == 1:
        levels = [float(shrink(alpha, 4))]
    else:
        early = float(shrink((1.0 - final_share) * alpha / (len(sizes) - 1), 4))
        levels = [early] * (len(sizes) - 1) + [float(shrink(final_share * alpha, 4))]
    schedule = Schedule(tuple(sizes), tuple(levels))
    assert schedule.total_alpha() <= Fraction(alpha)
    return schedule


def _schedule_for(schedule, alpha, n_max, n_first, growth, final_share) -> Schedule:
    """The given schedule (its levels must sum to at most ``alpha``) or a geometric one."""
    if schedule is None:
        return geometric_schedule(n_max, alpha, n_first, growth, final_share)
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    if schedule.total_alpha() > Fraction(alpha):
        raise ValueError(
            f"schedule levels sum to {float(schedule.total_alpha())!r} > alpha={alpha!r}"
        )
    return schedule


# ---------------------------------------------------------------------------------------------
# bounds and radii from (n_A, n_B, n)
def bounds_from_counts(n_a, n_b, n, level, rule, num_classes):
    """Confidence bounds ``(p_A lower, p_B upper)`` at total level ``level``, split as in
    ``estimators.certify`` (selection independent): binary ``p_A`` at ``level`` and
    ``p_B = 1 - p_A``; runner-up ``level/2`` each; bonferroni ``level/K`` each. ``n_a`` is the
    count of the selected class, ``n_b`` the largest other count (int64 arrays), ``n`` the total.
    ``p_B`` is capped by ``1 - p_A`` where ``p_A >= 1/2`` (sound on the same event)."""
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), np.shape(n_a))
    level_a, level_b = _levels(rule, level, num_classes, True)
    p_a = _cp_lower(n_a, n, level_a)
    if level_b is None:
        return p_a, 1.0 - p_a
    return p_a, _cap_by_complement(_cp_upper(n_b, n, level_b), p_a)


def radius_from_bounds(cert, p_a, p_b, rule):
    """``cert.radius`` where the bounds certify (binary ``p_A > 1/2``, else ``p_A > p_B``);
    0 elsewhere. Returns ``(radius, certified mask)``."""
    ok = p_a > 0.5 if rule == "binary" else p_a > p_b
    radius = np.zeros(np.shape(p_a))
    if ok.any():
        radius[ok] = cert.radius(p_a[ok]) if rule == "binary" else cert.radius(p_a[ok], p_b[ok])
    return np.maximum(radius, 0.0), ok


def radius_threshold(cert, r):
    """The smallest float ``p`` with ``cert.radius(p) >= r`` (binary rule), by bisection on floats.

    ``cert.radius`` is the certificate's sound (rounded-down) radius, so ``p_A >= threshold``
    certifies ``r`` exactly when ``cert.radius(p_A) >= r`` does (for a radius non-decreasing in
    ``p``; the decisions in this module compare radii directly and need no threshold). For the
    Gaussian ``p = Phi(r / sigma)`` up to the radius' rounding. ``r = 0`` gives the smallest float
    above 1/2 (certifying needs ``p_A > 1/2``).
    """
    r = float(as_float_array("r", r))
    if not (r >= 0 and math.isfinite(r)):
        raise ValueError(f"r must be a finite radius >= 0, got {r!r}")
    lo = np.float64(0.5)  # radius(lo) = 0 and lo is never certified: invariant "lo fails"
    hi = np.float64(1.0)  # radius(1) = inf (or the largest): invariant "hi certifies"
    if not cert.radius(hi) >= r:
        raise ValueError(f"r={r!r} exceeds the largest radius the certificate gives (at p_a = 1)")
    as_p = lambda bits: float(np.int64(bits).view(np.float64))  # noqa: E731
    # floats in [0.5, 1] are ordered like their bit patterns: bisection on the integers, to
    # adjacent floats; the returned end is one where the radius was checked to reach r
    br = bisect(lambda bits: cert.radius(as_p(bits)) >= r and as_p(bits) > 0.5,
                int(hi.view(np.int64)), int(lo.view(np.int64)), midpoint=lambda a, b: (a + b) // 2)
    return as_p(br.inside)


# ---------------------------------------------------------------------------------------------
# results
@dataclass
class SequentialResult:
    """Per-input outcome of a sequential run (arrays over the inputs).

    ``prediction``: ``c_A`` where the running bounds certify (binary ``p_A > 1/2``, else
    ``p_A > p_B``), else -1; ``radius``: the sound radius of the running bounds, the best over
    the visited stages (0.0 on abstain; in target mode ``certified[:, j]`` is exactly
    ``prediction >= 0 and radius >= radii[j]``, because the running bounds only improve); ``p_a_lower``/``p_b_upper``: the bounds it came from; ``samples``: samples drawn
    (``n0`` + estimation); ``stage``: index of the stopping stage; ``counts``: the estimation
    counts at the stop; ``certified`` (target mode, ``(N, R)``): certified at ``radii[j]``;
    ``alpha``: the union bound's total level; ``seconds``: wall time per input (set by the
    model-driving loops of ``gpu_sampler.sequential``).
    """

    prediction: np.ndarray
    radius: np.ndarray
    p_a_lower: np.ndarray
    p_b_upper: np.ndarray
    samples: np.ndarray
    stage: np.ndarray
    counts: np.ndarray
    select: np.ndarray
    schedule: Schedule
    alpha: float
    radii: np.ndarray | None = None
    certified: np.ndarray | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# the loop shared by both modes
class _Run:
    """Counts, running bounds and stopping state of ``N`` inputs along a schedule."""

    def __init__(self, draw, num_inputs, cert, schedule, n0, rule):
        self.draw, self.cert, self.schedule, self.rule = draw, cert, schedule, rule
        everyone = np.arange(num_inputs)
        self.select = _checked_draw(draw, everyone, n0, None)
        self.k = self.select.shape[1]
        self.chosen = np.argmax(self.select, axis=1)
        self.counts = np.zeros_like(self.select)
        self.n = np.zeros(num_inputs, dtype=np.int64)
        self.p_a = np.zeros(num_inputs)
        self.p_b = np.ones(num_inputs)
        self.active = np.ones(num_inputs, dtype=bool)
        self.stage = np.full(num_inputs, -1, dtype=np.int64)
        self.n0 = n0

    def advance(self, t: int) -> np.ndarray:
        """Draw stage ``t`` for the active inputs, update their running bounds; their indices."""
        idx = np.flatnonzero(self.active)
        size = self.schedule.sizes[t]
        m = size - (self.schedule.sizes[t - 1] if t else 0)
        self.counts[idx] += _checked_draw(self.draw, idx, m, self.k)
        self.n[idx] = size
        self.stage[idx] = t
        n_a, n_b = self.top_counts(idx)
        level, level_final = self.schedule.levels[t], self.schedule.levels[-1]
        p_a, p_b = bounds_from_counts(n_a, n_b, size, level, self.rule, self.k)
        n_max = self.schedule.n_max
        pad_b = np.minimum(n_b + (n_max - size), n_max)
        q_a, q_b = bounds_from_counts(n_a, pad_b, n_max, level_final, self.rule, self.k)
        self.p_a[idx] = np.maximum.reduce([self.p_a[idx], p_a, q_a])
        if self.rule == "binary":
            self.p_b[idx] = 1.0 - self.p_a[idx]
        else:
            self.p_b[idx] = _cap_by_complement(np.minimum.reduce([self.p_b[idx], p_b, q_b]),
                                               self.p_a[idx])
        return idx

    def top_counts(self, idx):
        c = self.counts[idx]
        rows = np.arange(len(idx))
        n_a = c[rows, self.chosen[idx]]
        others = c.copy()
        others[rows, self.chosen[idx]] = -1
        return n_a, others.max(axis=1)

    def radius(self, idx):
        return radius_from_bounds(self.cert, self.p_a[idx], self.p_b[idx], self.rule)

    def optimistic_radius(self, idx, level, n_future):
        """Radius the bounds at ``n_future`` samples would give if ``p_A`` were at its upper and
        ``p_B`` at its lower confidence bound (level ``level`` each) -- a forecast, not a claim."""
        n_a, n_b = self.top_counts(idx)
        n = self.n[idx]
        hi_a = _cp_upper(n_a, n, level)
        lo_b = _cp_lower(n_b, n, level)
        k_a = np.floor(hi_a * n_future).astype(np.int64)
        k_b = np.minimum(np.ceil(lo_b * n_future).astype(np.int64), n_future - k_a)
        level = self.schedule.levels[-1]
        p_a, p_b = bounds_from_counts(k_a, k_b, n_future, level, self.rule, self.k)
        return radius_from_bounds(self.cert, p_a, p_b, self.rule)[0]

    def result(self, alpha, radii=None, certified=None):
        radius, ok = radius_from_bounds(self.cert, self.p_a, self.p_b, self.rule)
        prediction = np.where(ok, self.chosen, -1)
        radius = np.where(ok, radius, 0.0)
        return SequentialResult(
            prediction=prediction.astype(np.int64), radius=radius, p_a_lower=self.p_a.copy(),
            p_b_upper=self.p_b.copy(), samples=self.n + self.n0, stage=self.stage.copy(),
            counts=self.counts.copy(), select=self.select, schedule=self.schedule,
            alpha=float(alpha), radii=radii, certified=certified,
        )


def _checked_draw(draw, idx, m, k):
    """``draw(idx, m)`` as int64 counts of shape ``(len(idx), K)`` summing to ``m`` per row."""
    out = check_counts("draw(index, m)", np.asarray(draw(idx, m)))
    if out.ndim != 2 or out.shape[0] != len(idx) or out.shape[1] < 2 or (k and out.shape[1] != k):
        want = f"({len(idx)}, {k or 'K >= 2'})"
        raise ValueError(f"draw(index, m) must return counts of shape {want}, got {out.shape}")
    if (out.sum(axis=1) != m).any():
        raise ValueError(f"draw(index, m) must return counts summing to m={m} per input")
    return out


def _check_common(num_inputs, cert, alpha, n0, rule):
    num_inputs = check_int("num_inputs", num_inputs, minimum=1)
    alpha = check_alpha(alpha)
    n0 = check_int("n0", n0, minimum=1)
    rule = _check_rule(rule, cert)
    return num_inputs, alpha, n0, rule


def _check_radii(radii) -> np.ndarray:
    r = as_float_array("radii", radii)
    r = np.atleast_1d(r)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"radii must be a radius or a 1-d grid of radii, got shape {r.shape}")
    if not (np.isfinite(r).all() and (r >= 0).all()):
        bad = r[~(np.isfinite(r) & (r >= 0))][0]
        raise ValueError(f"radii must be finite and >= 0, got {bad!r}")
    return r


def _check_tol(tol) -> float:
    tol = float(as_float_array("tol", tol))
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite radius tolerance >= 0, got {tol!r}")
    return tol


class _NoBar:
    """The stages without a progress bar: what ``tqdm`` gives with ``disable=True``."""

    def __init__(self, stages):
        self._stages = stages

    def __iter__(self):
        return iter(self._stages)

    def set_postfix(self, **_):
        """Nothing to show."""


def _stages(schedule, progress, desc):
    """The stage indices, with a tqdm bar when ``progress``: tqdm is imported only then, so the
    core install (numpy, scipy, mpmath) runs the sequential estimators without it."""
    stages = range(len(schedule.sizes))
    if not progress:
        return _NoBar(stages)
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError(
            "progress=True needs tqdm (pip install tqdm), or pass progress=False"
        ) from exc
    return tqdm(stages, desc=desc, leave=False)


# ---------------------------------------------------------------------------------------------
# target-radius mode
def certify_target(draw, num_inputs, cert, radii, alpha=0.001, n0=100, n_max=100_000,
                   n_first=500, growth=1.5, final_share=0.5, rule="binary",
                   abstain_alpha=0.01, schedule=None, progress=False) -> SequentialResult:
    """Decide, for each input and each radius ``r_j`` of ``radii``, whether it is certified at
    ``r_j``, stopping each input as soon as every radius is decided.

    Certified at ``r`` iff the running bounds give ``cert.radius(p_A[, p_B]) >= r`` with
    ``p_A > 1/2`` (binary) or ``p_A > p_B`` (runner-up, bonferroni): the binary threshold is the
    ``p`` with ``radius(p) = r`` (:func:`radius_threshold`), but the radius is compared directly.
    All claims hold simultaneously with probability at least ``1 - alpha`` (union bound over the
    stages, module docstring: ONE sequence of bounds serves the whole grid, since the claims at
    different radii are all read from it; no split over radii).

    Early abstain ("cannot reach ``r``"): the optimistic radius -- ``p_A`` at its upper and
    ``p_B`` at its lower Clopper-Pearson bound at level ``abstain_alpha``, projected to
    ``n_max`` -- is below ``r``. Abstaining is always safe, so this test may use any level
    (``abstain_alpha`` spends nothing of ``alpha``; a larger one stops sooner and abstains more
    often on inputs near the threshold). The default 0.01 per stage is a measured trade-off: on
    the shipped Fashion-MNIST model's p_A distribution it saves about 10% of the samples of
    ``abstain_alpha = 0.001`` at no visible change of certified accuracy
    (benchmarks/sequential_savings.py). At ``n_max`` undecided radii are not certified.

    ``draw(index, m)``: the class counts of ``m`` fresh noisy samples for each input in ``index``
    (int array), shape ``(len(index), K)``. ``n0`` selection samples choose ``c_A``; stages follow
    :func:`geometric_schedule` ``(n_max, alpha, n_first, growth, final_share)`` unless
    ``schedule`` is given. Returns a :class:`SequentialResult` with ``certified`` of shape
    ``(N, len(radii))``.
    """
    num_inputs, alpha, n0, rule = _check_common(num_inputs, cert, alpha, n0, rule)
    radii = _check_radii(radii)
    abstain_alpha = alpha if abstain_alpha is None else check_alpha(abstain_alpha, "abstain_alpha")
    schedule = _schedule_for(schedule, alpha, n_max, n_first, growth, final_share)
    run = _Run(draw, num_inputs, cert, schedule, n0, rule)
    certified = np.zeros((num_inputs, radii.size), dtype=bool)
    bar = _stages(schedule, progress, "certify_target")
    for t in bar:
        idx = run.advance(t)
        radius, ok = run.radius(idx)
        certified[idx] |= ok[:, None] & (radius[:, None] >= radii[None, :])
        best = run.optimistic_radius(idx, abstain_alpha, schedule.n_max)
        hopeless = ~(best[:, None] >= radii[None, :]) | ~(best > 0)[:, None]
        done = (certified[idx] | hopeless).all(axis=1)
        run.active[idx[done]] = False
        bar.set_postfix(active=int(run.active.sum()))
        if not run.active.any():
            break
    return run.result(schedule.total_alpha(), radii, certified)


# ---------------------------------------------------------------------------------------------
# budgeted-radius mode
def certify_budget(draw, num_inputs, cert, tol, alpha=0.001, n0=100, n_max=100_000,
                   n_first=1000, growth=2.0, final_share=0.9, rule="binary",
                   projection_alpha=0.05, schedule=None, progress=False) -> SequentialResult:
    """The certified radius for a budget of ``n_max`` estimation samples, stopping an input early
    once more samples are not expected to raise its radius by more than ``tol``.

    Reported: the radius of the running bounds (best over the visited stages, including the free
    padded bound ``CP_lower(k_t, n_max, alpha_T)``; module docstring), valid at the stopping time
    with probability at least ``1 - alpha`` by the union bound over the stages. At ``n_max``
    (the last stage) it is Clopper-Pearson at ``alpha_T = final_share * alpha`` instead of alpha:
    the whole price of stopping early at the end of the budget.

    Stopping rule (a forecast; it cannot break validity, only cost radius or samples): at stage
    ``t < T`` stop when ``R_opt - R_t <= tol``, where ``R_opt`` is the radius the bounds at
    ``n_max`` would give with ``p_A`` at its upper and ``p_B`` at its lower Clopper-Pearson bound
    at level ``projection_alpha`` (larger -> less optimistic -> stops sooner). Inputs that cannot
    certify (``R_opt = 0``) stop at once. The loss against fixed-``n_max`` Clopper-Pearson is not
    bounded by ``tol`` with certainty -- that would need ``R_opt`` with ``p_A = 1``, which never
    stops early -- and any valid procedure that stops at ``n < n_max`` on ``n`` successes out of
    ``n`` reports at most ``radius(alpha^(1/n))`` (for ``p`` below that, seeing ``n`` successes
    has probability above alpha), so inputs with ``p_A`` near 1 gain little from stopping early.

    Arguments as :func:`certify_target`; ``tol`` is in the certificate's radius units.
    """
    num_inputs, alpha, n0, rule = _check_common(num_inputs, cert, alpha, n0, rule)
    tol = _check_tol(tol)
    projection_alpha = check_alpha(projection_alpha, "projection_alpha")
    schedule = _schedule_for(schedule, alpha, n_max, n_first, growth, final_share)
    run = _Run(draw, num_inputs, cert, schedule, n0, rule)
    bar = _stages(schedule, progress, "certify_budget")
    for t in bar:
        idx = run.advance(t)
        radius, _ = run.radius(idx)
        best = run.optimistic_radius(idx, projection_alpha, schedule.n_max)
        done = ~(best - radius > tol)
        run.active[idx[done]] = False
        bar.set_postfix(active=int(run.active.sum()))
        if not run.active.any():
            break
    return run.result(schedule.total_alpha())


__all__ = [
    "RULES",
    "Schedule",
    "SequentialResult",
    "bounds_from_counts",
    "certify_budget",
    "certify_target",
    "geometric_schedule",
    "radius_from_bounds",
    "radius_threshold",
]
