"""Sequential certification (estimators/sequential.py): validity by simulation and exact checks.

Validity: Bernoulli and categorical "classifiers" with known class probabilities, thousands of
vectorized runs per setting at large alpha (0.05 to 0.2), the observed failure rate compared with
the upper end of its binomial band around alpha (P(Bin(N, alpha) >= observed) >= 1e-6), for every
stopping rule shipped: target-radius mode (binary and runner-up, one radius and a grid, with the
true probability right below the threshold) and budget mode (binary and runner-up). The naive
"Clopper-Pearson at alpha at the samples spent" rule is run the same way and must FAIL the band:
the simulation detects invalid procedures.

Exact checks: schedules (levels sum <= alpha exactly), one-stage runs equal fixed-n CERTIFY,
the threshold inversion against mpmath, early stops on easy inputs, the padded bound, bad input.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import smoothcert as sc
from smoothcert.estimators import certify_counts, cp_lower
from smoothcert.estimators.sequential import (
    Schedule,
    bounds_from_counts,
    certify_budget,
    certify_target,
    geometric_schedule,
    radius_threshold,
)

SIGMA = 0.5
COHEN = sc.get("cohen-gaussian-l2", sigma=SIGMA)
RUNS = 20000
SMALL = dict(n0=20, n_max=2000, n_first=50, growth=2.0)  # stages 50, 100, 200, 400, 800, 2000


def phi_inv_mp(p):
    with mp.workdps(40):
        return mp.sqrt(2) * mp.erfinv(2 * mp.mpf(p) - 1)


def true_radius(p_a, p_b=None):
    """Exact Cohen radius at the TRUE probabilities (mpmath), sigma = SIGMA."""
    if p_b is None:
        return float(SIGMA * phi_inv_mp(p_a)) if p_a > 0.5 else 0.0
    return float(SIGMA * (phi_inv_mp(p_a) - phi_inv_mp(p_b)) / 2) if p_a > p_b else 0.0


def just_below_threshold(r):
    """The largest float p whose exact binary radius is below r: the worst case for a claim at r."""
    with mp.workdps(40):
        p = float(mp.ncdf(mp.mpf(r) / SIGMA))
    while true_radius(p) >= r:
        p = np.nextafter(p, 0.0)
    return p


def band_top(n_runs, alpha):
    """Largest failure count still inside the one-sided binomial band of alpha (p-value 1e-6)."""
    return int(stats.binom.isf(1e-6, n_runs, alpha))


def bernoulli_draw(p_top, seed):
    """Two-class draws: class 0 with probability p_top[i] for input i."""
    rng = np.random.default_rng(seed)
    p_top = np.asarray(p_top, dtype=float)

    def draw(idx, m):
        k = rng.binomial(m, p_top[idx])
        return np.stack([k, m - k], axis=1)

    return draw


def categorical_draw(pvals, n_runs, seed):
    """K-class draws with the same class probabilities for every run."""
    rng = np.random.default_rng(seed)
    pvals = np.asarray(pvals, dtype=float)

    def draw(idx, m):
        return rng.multinomial(m, pvals, size=len(idx))

    return draw


# ---------------------------------------------------------------------------------------------
# schedules
@settings(max_examples=40)
@given(
    n_max=st.integers(1, 10**7),
    n_first=st.integers(1, 10**5),
    growth=st.floats(1.01, 10.0),
    alpha=st.floats(1e-12, 0.5),
    share=st.floats(0.01, 0.99),
)
def test_geometric_schedule_levels_sum_to_at_most_alpha(n_max, n_first, growth, alpha, share):
    s = geometric_schedule(n_max, alpha, n_first, growth, share)
    assert s.sizes[-1] == n_max
    assert all(b > a for a, b in zip(s.sizes, s.sizes[1:]))
    assert s.total_alpha() <= Fraction(alpha)
    assert float(s.total_alpha()) > 0.99 * alpha  # the budget is used, not wasted
    if len(s.sizes) > 1:
        assert s.levels[-1] == pytest.approx(share * alpha, rel=1e-12)
        assert s.sizes[0] >= n_first


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="strictly increasing"):
        Schedule((100, 100), (0.1, 0.1))
    with pytest.raises(ValueError, match="one entry per stage"):
        Schedule((100, 200), (0.1,))
    with pytest.raises(ValueError, match="levels"):
        Schedule((100,), (0.0,))
    with pytest.raises(ValueError, match="sizes"):
        Schedule((0, 10), (0.1, 0.1))
    with pytest.raises(ValueError, match="growth"):
        geometric_schedule(1000, 0.01, 10, growth=1.0)
    with pytest.raises(ValueError, match="final_share"):
        geometric_schedule(1000, 0.01, 10, final_share=1.0)
    too_much = Schedule((10, 20), (0.05, 0.06))
    with pytest.raises(ValueError, match="alpha"):
        certify_target(bernoulli_draw([0.9], 0), 1, COHEN, 0.1, alpha=0.1, schedule=too_much)


# ---------------------------------------------------------------------------------------------
# validity simulations (the core promise)
@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize("r", [0.0, 0.3])
@pytest.mark.parametrize("abstain_alpha", [0.01, 0.5])
def test_target_binary_worst_case_at_threshold(alpha, r, abstain_alpha):
    """p right below the threshold: every claim at r is a failure (whatever the abstain level:
    abstaining spends no alpha)."""
    p = just_below_threshold(r) if r > 0 else 0.5
    res = certify_target(bernoulli_draw(np.full(RUNS, p), 1), RUNS, COHEN, r, alpha=alpha,
                         abstain_alpha=abstain_alpha, **SMALL)
    failures = int(res.certified[:, 0].sum())
    assert failures <= band_top(RUNS, alpha)
    assert float(res.alpha) <= alpha


def test_naive_optional_stopping_fails_the_band():
    """Stopping at the first stage where CP at the FULL alpha certifies: the band catches it."""
    alpha, r = 0.1, 0.3
    p = just_below_threshold(r)
    rng = np.random.default_rng(7)
    sizes = geometric_schedule(SMALL["n_max"], alpha, SMALL["n_first"], 2.0).sizes
    k = np.zeros(RUNS, dtype=np.int64)
    claimed = np.zeros(RUNS, dtype=bool)
    previous = 0
    for n in sizes:
        k += rng.binomial(n - previous, p, size=RUNS)
        previous = n
        low = cp_lower(k, np.full(RUNS, n), alpha)
        claimed |= np.asarray(COHEN.radius(low)) >= r
    assert claimed.sum() > band_top(RUNS, alpha)


@pytest.mark.parametrize("alpha", [0.1])
def test_target_binary_grid_mixed_inputs(alpha):
    """A grid of radii and inputs spread around every threshold: no false claim beyond the band."""
    radii = np.array([0.1, 0.25, 0.5, 0.75])
    thresholds = [just_below_threshold(r) for r in radii]
    p_values = np.array(thresholds + [0.2, 0.55, 0.95, 1.0])
    p = np.repeat(p_values, RUNS // len(p_values))
    res = certify_target(bernoulli_draw(p, 2), p.size, COHEN, radii, alpha=alpha, **SMALL)
    exact = {v: true_radius(max(v, 1 - v)) for v in p_values}
    wrong = np.array([[exact[v] < r for r in radii] for v in p])
    failures = (res.certified & wrong).any(axis=1)
    failures |= res.certified.any(axis=1) & (res.prediction != np.where(p >= 0.5, 0, 1))
    assert failures.sum() <= band_top(p.size, alpha)
    # the easy inputs decide early: p = 1 is certified everywhere at the first stage
    # (at stage t, n_t successes give p_A >= level_t^(1/n_t): the first t whose exact radius
    # reaches the largest r is where every p = 1 run stops)
    easy = p == 1.0
    s = res.schedule
    stop = next(n for n, a in zip(s.sizes, s.levels)
                if true_radius(float(mp.mpf(a) ** (mp.mpf(1) / n))) >= radii[-1] + 1e-9)
    assert res.certified[easy].all() and (res.samples[easy] == SMALL["n0"] + stop).all()
    # inputs that cannot reach any radius abstain early (well before n_max)
    assert np.median(res.samples[p == 0.55]) < SMALL["n_max"]


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_target_runner_up_worst_case(alpha):
    """Categorical draws, K = 4, true (p_A, p_B) right below the runner-up threshold for r."""
    r, p_b = 0.3, 0.2
    with mp.workdps(40):
        p_a = float(mp.ncdf(2 * mp.mpf(r) / SIGMA + phi_inv_mp(p_b)))
    while true_radius(p_a, p_b) >= r:
        p_a = np.nextafter(p_a, 0.0)
    pvals = [p_a, p_b, (1 - p_a - p_b) / 2, (1 - p_a - p_b) / 2]
    draw = categorical_draw(pvals, RUNS, 3)
    res = certify_target(draw, RUNS, COHEN, r, alpha=alpha, rule="runner-up", **SMALL)
    assert res.certified[:, 0].sum() <= band_top(RUNS, alpha)


@pytest.mark.parametrize("rule", ["binary", "runner-up", "bonferroni"])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_budget_bounds_hold_at_the_stopping_time(rule, alpha):
    """Budget mode: failure = p_A lower bound above the truth or p_B upper bound below it."""
    pvals = np.array([0.62, 0.3, 0.05, 0.03])
    draw = categorical_draw(pvals, RUNS, 4)
    res = certify_budget(draw, RUNS, COHEN, tol=0.02, alpha=alpha, rule=rule,
                         projection_alpha=0.3, **SMALL)
    chosen = np.argmax(res.select, axis=1)
    p_true_b = np.array([np.max(np.delete(pvals, c)) for c in chosen])
    fail = res.p_a_lower > pvals[chosen]
    if rule != "binary":
        fail |= res.p_b_upper < p_true_b
    fail &= res.radius > 0  # only claims can fail (an abstention promises nothing)
    assert fail.sum() <= band_top(RUNS, alpha)
    assert (res.samples < SMALL["n0"] + SMALL["n_max"]).any()  # some runs did stop early


@pytest.mark.parametrize("p", [0.7, 0.97, 0.999])
def test_budget_binary_validity_bernoulli(p):
    alpha = 0.1
    res = certify_budget(bernoulli_draw(np.full(RUNS, p), 5), RUNS, COHEN, tol=0.01, alpha=alpha,
                         **SMALL)
    exact = true_radius(p)
    assert (res.radius > exact).sum() <= band_top(RUNS, alpha)
    assert (res.p_a_lower > p).sum() <= band_top(RUNS, alpha)


@settings(max_examples=12)
@given(
    alpha=st.floats(0.05, 0.2),
    r=st.floats(0.0, 0.8),
    n_first=st.integers(10, 200),
    growth=st.floats(1.3, 3.0),
    n_extra=st.integers(0, 3000),
    share=st.floats(0.1, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_target_validity_over_schedules(alpha, r, n_first, growth, n_extra, share, seed):
    """Random schedules, levels and radii: the worst-case p still fails at most ~alpha."""
    runs = 4000
    p = just_below_threshold(r) if r > 0 else 0.5
    res = certify_target(bernoulli_draw(np.full(runs, p), seed), runs, COHEN, r, alpha=alpha,
                         n0=10, n_max=n_first + n_extra, n_first=n_first, growth=growth,
                         final_share=share)
    assert res.certified[:, 0].sum() <= band_top(runs, alpha)


@settings(max_examples=12)
@given(alpha=st.floats(0.05, 0.2), p=st.floats(0.3, 1.0), tol=st.floats(0.0, 0.5),
       projection=st.floats(0.01, 0.9), seed=st.integers(0, 2**32 - 1))
def test_budget_validity_over_parameters(alpha, p, tol, projection, seed):
    runs = 4000
    res = certify_budget(bernoulli_draw(np.full(runs, p), seed), runs, COHEN, tol, alpha=alpha,
                         projection_alpha=projection, **SMALL)
    chosen = np.argmax(res.select, axis=1)
    p_chosen = np.where(chosen == 0, p, 1 - p)
    assert ((res.p_a_lower > p_chosen) & (res.radius > 0)).sum() <= band_top(runs, alpha)


# ---------------------------------------------------------------------------------------------
# exact checks
@settings(max_examples=30)
@given(k=st.integers(0, 5000), n=st.integers(1, 5000),
       rule=st.sampled_from(["binary", "runner-up"]))
def test_one_stage_equals_fixed_n_certify(k, n, rule):
    k = min(k, n)
    counts = np.array([[k, n - k]])
    select = np.array([[1, 0]])
    alpha = 0.01
    res = certify_budget(lambda idx, m: counts if m == n else select, 1, COHEN, tol=0.0,
                         alpha=alpha, n0=1, schedule=Schedule((n,), (alpha,)), rule=rule)
    pred, radius = certify_counts(counts, COHEN, alpha, select=select, rule=rule)
    assert res.radius[0] == radius[0] and res.prediction[0] == pred[0]
    assert res.samples[0] == n + 1


def test_runs_to_n_max_match_fixed_n_at_the_final_level():
    """Deterministic proportional counts: the final radius is fixed-n CP at alpha_T (or better
    through earlier stages), never above fixed-n CP at the whole alpha on these counts."""
    p, alpha = 0.8, 0.01

    def draw(idx, m):
        k = np.full(len(idx), int(round(p * m)))
        return np.stack([k, m - k], axis=1)

    res = certify_budget(draw, 1, COHEN, tol=0.0, alpha=alpha, n0=10, n_max=4000, n_first=100)
    assert res.samples[0] == 4010
    s = res.schedule
    k_final = sum(int(round(p * (b - a))) for a, b in zip((0,) + s.sizes[:-1], s.sizes))
    fixed_final = COHEN.radius(cp_lower(k_final, 4000, s.levels[-1]))
    fixed_alpha = COHEN.radius(cp_lower(k_final, 4000, alpha))
    assert fixed_final <= res.radius[0] <= fixed_alpha


def test_padded_bound_uses_counts_that_only_grow():
    """p_A is at least CP_lower(k_t, n_max, alpha_T) at a stop: check on a stop at stage 1."""
    schedule = Schedule((900, 1000), (0.001, 0.05))

    def draw(idx, m):
        return np.tile([m, 0], (len(idx), 1))  # all samples hit class 0

    res = certify_budget(draw, 1, COHEN, tol=10.0, alpha=0.06, n0=1, schedule=schedule)
    assert res.stage[0] == 0
    padded = cp_lower(900, 1000, 0.05)
    stage = cp_lower(900, 900, 0.001)
    assert res.p_a_lower[0] == max(padded, stage)


@settings(max_examples=25)
@given(r=st.floats(0.0, 1.8))
def test_radius_threshold_inverts_the_sound_radius(r):
    t = radius_threshold(COHEN, r)
    assert COHEN.radius(t) >= r and t > 0.5
    below = np.nextafter(t, 0.0)
    assert below <= 0.5 or COHEN.radius(below) < r
    assert true_radius(t) >= r  # the threshold certifies r exactly too
    with mp.workdps(40):
        exact = mp.ncdf(mp.mpf(r) / SIGMA) if r > 0 else mp.mpf(0.5)
    assert abs(t - float(exact)) <= 1e-12


def test_bounds_from_counts_match_certify_counts():
    rng = np.random.default_rng(11)
    counts = rng.multinomial(3000, [0.5, 0.3, 0.2], size=200)
    select = np.tile([5, 1, 0], (200, 1))
    for rule in ("binary", "runner-up", "bonferroni"):
        _, _, p_a, p_b = certify_counts(counts, COHEN, 0.01, select=select, rule=rule,
                                        return_bounds=True)
        others = counts[:, 1:].max(axis=1)
        q_a, q_b = bounds_from_counts(counts[:, 0], others, 3000, 0.01, rule, 3)
        np.testing.assert_array_equal(p_a, q_a)
        np.testing.assert_array_equal(p_b, q_b)


def test_target_result_is_consistent():
    """Certified radii are nested, every claim is backed by the reported bound, abstain -> 0."""
    p = np.linspace(0.3, 1.0, 200)
    radii = [0.0, 0.2, 0.4, 0.8]
    res = certify_target(bernoulli_draw(p, 9), p.size, COHEN, radii, alpha=0.01, **SMALL)
    c = res.certified
    assert (c[:, 1:] <= c[:, :-1]).all()  # certified at r implies certified at every r' < r
    np.testing.assert_array_equal(c, (res.prediction >= 0)[:, None]
                                  & (res.radius[:, None] >= np.array(radii)[None, :]))
    assert (res.radius[res.prediction < 0] == 0).all()
    assert ((res.samples > SMALL["n0"]) & (res.samples <= SMALL["n0"] + SMALL["n_max"])).all()


# ---------------------------------------------------------------------------------------------
# bad input
def test_bad_input_is_rejected_with_the_name():
    ok = bernoulli_draw([0.9, 0.8], 0)
    with pytest.raises(ValueError, match="radii"):
        certify_target(ok, 2, COHEN, [-0.1])
    with pytest.raises(ValueError, match="radii"):
        certify_target(ok, 2, COHEN, [float("nan")])
    with pytest.raises(ValueError, match="tol"):
        certify_budget(ok, 2, COHEN, tol=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        certify_target(ok, 2, COHEN, 0.1, alpha=1.5)
    with pytest.raises(ValueError, match="abstain_alpha"):
        certify_target(ok, 2, COHEN, 0.1, abstain_alpha=0.0)
    with pytest.raises(ValueError, match="num_inputs"):
        certify_target(ok, 0, COHEN, 0.1)
    with pytest.raises(ValueError, match="rule"):
        certify_target(ok, 2, COHEN, 0.1, rule="best")
    with pytest.raises(ValueError, match="shape"):
        certify_target(lambda idx, m: np.zeros((len(idx) + 1, 2), dtype=int), 2, COHEN, 0.1)
    with pytest.raises(ValueError, match="summing"):
        certify_target(lambda idx, m: np.ones((len(idx), 2), dtype=int), 2, COHEN, 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        certify_target(lambda idx, m: np.tile([m + 1, -1], (len(idx), 1)), 2, COHEN, 0.1)
    with pytest.raises(TypeError, match="radius"):
        certify_target(ok, 2, object(), 0.1)
    with pytest.raises(ValueError, match="r must"):
        radius_threshold(COHEN, -1.0)
