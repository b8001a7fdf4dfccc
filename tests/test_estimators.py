"""One-sided Clopper-Pearson bounds and the exact binomial tail (docs/contributing.md, Statistics).

The reference for every float bound is the exact binomial tail at the returned float, summed in
mpmath; the tail itself is checked against exact rational sums (fractions) and against the
closed forms of the k = 1 and k = n cases, none of which uses the code under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from smoothcert.estimators import (
    binomial_tail_mp,
    cp_lower,
    cp_lower_mp,
    cp_upper,
    cp_upper_mp,
)
from smoothcert.estimators import clopper_pearson as cpm

# ---------------------------------------------------------------------------------------------
# strategies
alphas = st.floats(min_value=-12.0, max_value=math.log10(0.5)).map(lambda e: 10.0**e)


@st.composite
def k_n(draw, max_log_n=6.0):
    """n log-uniform in [1, 10^max_log_n]; k anywhere in [0, n] with the edges drawn often."""
    n = int(round(10 ** draw(st.floats(min_value=0.0, max_value=max_log_n))))
    n = max(n, 1)
    kind = draw(st.sampled_from(["edge", "frac", "any"]))
    if kind == "edge":
        k = draw(st.sampled_from([0, 1, n - 1, n]))
        k = min(max(k, 0), n)
    elif kind == "frac":
        k = int(round(n * draw(st.floats(min_value=0.0, max_value=1.0))))
    else:
        k = draw(st.integers(min_value=0, max_value=n))
    return k, n


def exact_tail_fraction(k, n, p, upper=True):
    """P(Bin(n, p) >= k) (or <= k) as an exact rational; p a float (converted exactly)."""
    p = Fraction(p)
    terms = range(k, n + 1) if upper else range(0, k + 1)
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in terms)


def ulps_up(x, m):
    for _ in range(m):
        x = np.nextafter(x, np.inf)
    return float(x)


def ulps_down(x, m):
    for _ in range(m):
        x = np.nextafter(x, -np.inf)
    return float(x)


#: The margin lowers the tail by about exp(-2 eta) = 1 - 2e-5; the bound must stay this close.
CLOSE = 1e-4
#: ... unless the float grid is the limit: the bound is then within this many ulps of the best
#: sound float (the closed forms move by up to 8 EPS relative = 16 ulps just below 1, plus one).
FLOAT_SLACK_ULPS = 40


def assert_lower_sound_and_close(k, n, alpha):
    lo = cp_lower(k, n, alpha)
    assert 0.0 <= lo <= k / n
    if k == 0:
        assert lo == 0.0
        return
    tail = binomial_tail_mp(k, n, lo)
    assert tail <= alpha, (k, n, alpha, lo, tail)
    # close: either the tail is within CLOSE of alpha or float resolution is the limit
    if tail < alpha * (1 - CLOSE):
        assert binomial_tail_mp(k, n, ulps_up(lo, FLOAT_SLACK_ULPS)) > alpha, (k, n, alpha, lo, tail)


def assert_upper_sound_and_close(k, n, alpha):
    up = cp_upper(k, n, alpha)
    assert k / n <= up <= 1.0
    if k == n:
        assert up == 1.0
        return
    tail = binomial_tail_mp(k, n, up, upper=False)
    assert tail <= alpha, (k, n, alpha, up, tail)
    if tail < alpha * (1 - CLOSE):
        assert binomial_tail_mp(k, n, ulps_down(up, FLOAT_SLACK_ULPS), upper=False) > alpha, (k, n, alpha, up)


# ---------------------------------------------------------------------------------------------
# the exact tail
@given(n=st.integers(1, 60), data=st.data(), p=st.floats(0.0, 1.0), upper=st.booleans())
def test_binomial_tail_mp_matches_exact_rational_sum(n, data, p, upper):
    k = data.draw(st.integers(0, n))
    got = binomial_tail_mp(k, n, p, upper=upper, dps=50)
    want = exact_tail_fraction(k, n, p, upper=upper)
    with mp.workdps(60):
        want_mp = mp.mpf(want.numerator) / want.denominator
        assert abs(got - want_mp) <= mp.mpf(10) ** -45 * max(want_mp, mp.mpf(10) ** -300)


@pytest.mark.parametrize("n", [10**3, 10**5, 10**7])
def test_binomial_tail_mp_closed_forms_at_large_n(n):
    """P(X >= n) = p^n, P(X >= 1) = 1 - (1-p)^n, P(X <= 0) = (1-p)^n (closed forms)."""
    with mp.workdps(50):
        for p in (mp.mpf(1) / 3, 1 - mp.mpf(10) ** -8, mp.mpf(10) ** -8):
            assert mp.almosteq(binomial_tail_mp(n, n, p), p**n, rel_eps=mp.mpf(10) ** -40)
            assert mp.almosteq(binomial_tail_mp(1, n, p), 1 - (1 - p) ** n, rel_eps=mp.mpf(10) ** -40)
            assert mp.almosteq(
                binomial_tail_mp(0, n, p, upper=False), (1 - p) ** n, rel_eps=mp.mpf(10) ** -40
            )


def test_binomial_tail_mp_complements_and_symmetry_at_large_n():
    n = 10**6
    with mp.workdps(60):
        p = mp.mpf(3) / 10
        for k in (299_000, 300_000, 301_500):
            up = binomial_tail_mp(k, n, p)
            low = binomial_tail_mp(k - 1, n, p, upper=False)
            assert mp.almosteq(up + low, 1, rel_eps=mp.mpf(10) ** -45)
            mirrored = binomial_tail_mp(n - k, n, 1 - p, upper=False)
            assert mp.almosteq(up, mirrored, rel_eps=mp.mpf(10) ** -45)


# ---------------------------------------------------------------------------------------------
# soundness and tightness of the float bounds against the exact tail
@given(kn=k_n(), alpha=alphas)
def test_cp_lower_tail_at_most_alpha_and_close(kn, alpha):
    assert_lower_sound_and_close(*kn, alpha)


@given(kn=k_n(), alpha=alphas)
def test_cp_upper_tail_at_most_alpha_and_close(kn, alpha):
    assert_upper_sound_and_close(*kn, alpha)


@pytest.mark.parametrize(
    "k, n, alpha",
    [
        (5_000_000, 10**7, 1e-3),  # centre: the largest scipy excess measured (~1e-7)
        (9_999_000, 10**7, 1e-12),
        (1, 10**7, 1e-12),
        (10**7 - 1, 10**7, 1e-12),
        (10**7, 10**7, 1e-12),
    ],
)
def test_cp_bounds_sound_at_n_1e7(k, n, alpha):
    assert_lower_sound_and_close(k, n, alpha)
    assert_upper_sound_and_close(k, n, alpha)


@settings(max_examples=4)
@given(
    n=st.integers(10**6, 10**7),
    frac=st.floats(0.0, 1.0),
    alpha=st.floats(-12.0, -1.0).map(lambda e: 10.0**e),
)
def test_cp_bounds_sound_at_random_large_n(n, frac, alpha):
    """A few random draws at n in [1e6, 1e7] (the exact tail costs ~0.1 s there)."""
    k = int(round(frac * n))
    assert_lower_sound_and_close(k, n, alpha)
    assert_upper_sound_and_close(k, n, alpha)


def test_scipy_alone_is_unsound_somewhere():
    """The margin is needed: the raw scipy quantile's exact tail exceeds alpha (docs/contributing.md, Statistics)."""
    from scipy import special

    over = 0
    for k, n in ((90_000, 10**5), (5_000_000, 10**7), (123_456, 10**6)):
        raw = float(special.betaincinv(k, n - k + 1, 1e-3))
        over += binomial_tail_mp(k, n, raw) > mp.mpf(1e-3)
    assert over >= 1


def test_cp_lower_all_successes_closed_form():
    """k = n: L = alpha^(1/n); n = 1e5, alpha = 1e-3 gives sigma * 3.8115 (docs/contributing.md, Statistics)."""
    lo = cp_lower(10**5, 10**5, 1e-3)
    with mp.workdps(40):
        exact = mp.mpf("0.001") ** (mp.mpf(1) / 10**5)
        assert lo <= exact and exact - lo < mp.mpf(10) ** -14
    assert round(float(norm.ppf(lo)), 4) == 3.8115
    eps = np.finfo(float).eps
    for n in (1, 2, 7, 10**3, 10**7):
        for alpha in (1e-300, 1e-12, 0.3, 0.999):
            lo = cp_lower(n, n, alpha)
            with mp.workdps(40):
                exact = mp.mpf(alpha) ** (mp.mpf(1) / n)
                assert mp.mpf(lo) ** n <= mp.mpf(alpha)
                assert exact * (1 - 3000 * eps) <= lo <= exact  # budget 8 + 4 ceil|log(alpha)/n|


def test_cp_upper_no_successes_closed_form():
    """k = 0: U = 1 - alpha^(1/n), rounded up by at most a few ulps (relative 20 EPS)."""
    eps = np.finfo(float).eps
    for n in (1, 2, 7, 10**3, 10**7):
        for alpha in (1e-300, 1e-12, 0.3, 0.999):
            up = cp_upper(0, n, alpha)
            with mp.workdps(40):
                exact = 1 - mp.mpf(alpha) ** (mp.mpf(1) / n)
                assert (1 - mp.mpf(up)) ** n <= mp.mpf(alpha)
                assert exact <= up <= exact * (1 + 20 * eps) or up == 1.0 == float(exact)


# ---------------------------------------------------------------------------------------------
# the mpmath twins
@settings(max_examples=25)
@given(kn=k_n(max_log_n=5.0), alpha=alphas)
def test_cp_mp_twins_solve_their_equations(kn, alpha):
    k, n = kn
    lo, up = cp_lower_mp(k, n, alpha), cp_upper_mp(k, n, alpha)
    with mp.workdps(50):
        a = mp.mpf(alpha)
        if 0 < k:
            assert mp.almosteq(binomial_tail_mp(k, n, lo, dps=60), a, rel_eps=mp.mpf(10) ** -35)
        else:
            assert lo == 0
        if k < n:
            assert mp.almosteq(binomial_tail_mp(k, n, up, upper=False, dps=60), a, rel_eps=mp.mpf(10) ** -35)
        else:
            assert up == 1
    # the float bounds sit just inside the exact ones
    assert cp_lower(k, n, alpha) <= lo and cp_upper(k, n, alpha) >= up
    if 0 < k:
        assert lo - mp.mpf(cp_lower(k, n, alpha)) <= 1e-3 * lo
    if k < n:
        assert mp.mpf(cp_upper(k, n, alpha)) - up <= 1e-3 * (1 - up) + 1e-3 * up


@pytest.mark.parametrize("n", [1, 10, 10**4, 10**7])
@pytest.mark.parametrize("alpha", [1e-12, 1e-3, 0.4])
def test_cp_lower_mp_one_success_closed_form(n, alpha):
    """k = 1: P(X >= 1) = 1 - (1-p)^n = alpha gives L = 1 - (1-alpha)^(1/n)."""
    got, got_up = cp_lower_mp(1, n, alpha), cp_upper_mp(n - 1, n, alpha)
    with mp.workdps(60):
        want = 1 - (1 - mp.mpf(alpha)) ** (mp.mpf(1) / n)
        assert mp.almosteq(got, want, rel_eps=mp.mpf(10) ** -40)
        assert mp.almosteq(got_up, 1 - want, rel_eps=mp.mpf(10) ** -40)


# ---------------------------------------------------------------------------------------------
# shape, monotonicity, vectorization
@given(kn=k_n(), alpha=alphas)
def test_bounds_bracket_the_estimate_and_grow_with_k(kn, alpha):
    k, n = kn
    lo, up = cp_lower(k, n, alpha), cp_upper(k, n, alpha)
    assert 0.0 <= lo <= k / n <= up <= 1.0
    if k < n:
        assert cp_lower(k + 1, n, alpha) >= lo
        assert cp_upper(k + 1, n, alpha) >= up
    # a smaller alpha (more confidence) widens the interval
    assert cp_lower(k, n, alpha / 10) <= lo and cp_upper(k, n, alpha / 10) >= up


def test_vectorized_equals_scalar_calls_and_broadcasts():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 10**6, 50)
    k = (rng.uniform(0, 1, 50) * n).astype(np.int64)
    k[:3] = 0
    k[3:6] = n[3:6]
    lo, up = cp_lower(k, n, 1e-4), cp_upper(k, n, 1e-4)
    assert lo.shape == up.shape == (50,)
    assert np.array_equal(lo, [cp_lower(int(a), int(b), 1e-4) for a, b in zip(k, n)])
    assert np.array_equal(up, [cp_upper(int(a), int(b), 1e-4) for a, b in zip(k, n)])
    grid = cp_lower(np.arange(11)[:, None], np.array([10, 20, 30])[None, :], 0.01)
    assert grid.shape == (11, 3)
    assert np.array_equal(grid[:, 1], cp_lower(np.arange(11), 20, 0.01))
    assert isinstance(cp_lower(3, 10), float) and isinstance(cp_upper(3, 10), float)


@pytest.mark.parametrize("spread_n", [False, True])  # presence table / np.unique path
def test_distinct_pair_path_equals_direct_evaluation(spread_n):
    rng = np.random.default_rng(2)
    size = 4 * cpm.DEDUP_MIN_SIZE
    n = rng.integers(10**4, 10**7, size) if spread_n else np.full(size, 1000)
    k = (rng.beta(5, 1, size) * n).astype(np.int64)
    k[::97] = 0
    k[::89] = n[::89]
    k = k.reshape(4, -1)
    n = n.reshape(4, -1)
    for fast, direct in ((cpm._cp_lower, cpm._cp_lower_direct), (cpm._cp_upper, cpm._cp_upper_direct)):
        got = fast(k, n, 1e-3)
        assert got.shape == k.shape
        assert np.array_equal(got, direct(k, n, 1e-3))


def test_empty_trials_give_trivial_bounds():
    assert cp_lower(0, 0) == 0.0 and cp_upper(0, 0) == 1.0


# ---------------------------------------------------------------------------------------------
# bad input
@pytest.mark.parametrize("fn", [cp_lower, cp_upper])
@pytest.mark.parametrize(
    "k, n, alpha, exc, name",
    [
        (-1, 10, 0.01, ValueError, "k"),
        (2.5, 10, 0.01, ValueError, "k"),
        (float("nan"), 10, 0.01, ValueError, "k"),
        (3, -10, 0.01, ValueError, "n"),
        (3, 10.5, 0.01, ValueError, "n"),
        (11, 10, 0.01, ValueError, "k"),  # more successes than trials
        ([1, 2, 3], [4, 5], 0.01, ValueError, "k and n"),
        ("3", 10, 0.01, TypeError, "k"),
        (True, 10, 0.01, TypeError, "k"),
        (3, 10, 0.0, ValueError, "alpha"),
        (3, 10, 1.0, ValueError, "alpha"),
        (3, 10, -0.1, ValueError, "alpha"),
        (3, 10, float("nan"), ValueError, "alpha"),
        (3, 10, [0.1, 0.2], ValueError, "alpha"),
        (3, 10, "0.1", TypeError, "alpha"),
    ],
)
def test_bad_input_names_the_argument(fn, k, n, alpha, exc, name):
    with pytest.raises(exc, match=name):
        fn(k, n, alpha)


@pytest.mark.parametrize("fn", [cp_lower_mp, cp_upper_mp])
@pytest.mark.parametrize(
    "args, exc, name",
    [
        ((11, 10, 0.01), ValueError, "k"),
        ((-1, 10, 0.01), ValueError, "k"),
        ((2.5, 10, 0.01), TypeError, "k"),
        ((3, 10, 1.5), ValueError, "alpha"),
        ((3, -2, 0.01), ValueError, "n"),
    ],
)
def test_mp_twins_bad_input(fn, args, exc, name):
    with pytest.raises(exc, match=name):
        fn(*args)


@pytest.mark.parametrize(
    "args, kwargs, exc, name",
    [
        ((11, 10, 0.5), {}, ValueError, "k"),
        ((3, 10, 1.5), {}, ValueError, "p"),
        ((3, 10, float("nan")), {}, ValueError, "p"),
        ((3, 10, -0.5), {}, ValueError, "p"),
        ((3.5, 10, 0.5), {}, TypeError, "k"),
        ((3, 10, 0.5), {"dps": 0}, ValueError, "dps"),
    ],
)
def test_binomial_tail_mp_bad_input(args, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        binomial_tail_mp(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# the alpha floor: SciPy's inversion breaks down below about 1e-255
tiny_alphas = st.one_of(
    st.floats(min_value=math.log10(cpm.ALPHA_MIN), max_value=-12.0).map(lambda e: 10.0**e),
    st.just(cpm.ALPHA_MIN),
)


@settings(max_examples=40, deadline=None)
@given(kn=k_n(max_log_n=7.0), alpha=tiny_alphas)
def test_cp_bounds_sound_down_to_the_alpha_floor(kn, alpha):
    """Soundness only: below 1e-12 SciPy sometimes returns NaN and the bound falls back to 0 / 1
    (sound, not close)."""
    k, n = kn
    if k > 0:  # L = 0 at k = 0 by definition
        assert binomial_tail_mp(k, n, cp_lower(k, n, alpha)) <= alpha
    if k < n:  # U = 1 at k = n by definition
        assert binomial_tail_mp(k, n, cp_upper(k, n, alpha), upper=False) <= alpha


@pytest.mark.parametrize("fn, k, n", [(cp_upper, 33, 100), (cp_lower, 9999990, 10**7)])
def test_alpha_below_the_floor_is_refused(fn, k, n):
    """The issue's cases: exact tails of 727 alpha and 2.4e9 alpha at alpha = 1e-300."""
    with pytest.raises(ValueError, match="alpha"):
        fn(k, n, 1e-300)
    with pytest.raises(ValueError, match="alpha"):
        fn(k, n, float(np.nextafter(cpm.ALPHA_MIN, 0.0)))
    fn(k, n, cpm.ALPHA_MIN)


def test_closed_forms_take_any_alpha():
    assert 0 < cp_lower(7, 7, 1e-300) < 1 and 0 < cp_upper(0, 10**6, 1e-300) < 1


def _ibeta_small_tail(a: int, b: int, x: float, dps: int = 40):
    """I_x(a, b) for x below the mean, by the Lentz continued fraction (Numerical Recipes 6.4):
    an mpmath reference independent of :func:`binomial_tail_mp` that converges in few terms in
    the far tails at n of 1e9 (where the term-by-term sum needs 10^5 terms)."""
    with mp.workdps(dps):
        a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
        assert 0 < x < (a + 1) / (a + b + 2)
        front = mp.exp(mp.loggamma(a + b) - mp.loggamma(a) - mp.loggamma(b)
                       + a * mp.log(x) + b * mp.log1p(-x)) / a
        c, d = mp.mpf(1), 1 / (1 - (a + b) * x / (a + 1))
        h = d
        for m in range(1, 10**6):
            for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                        -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
                d, c = 1 / (1 + num * d), 1 + num / c
                h *= d * c
            if abs(d * c - 1) < mp.mpf(10) ** (5 - dps):
                return front * h
        raise AssertionError("continued fraction did not converge")


@pytest.mark.parametrize("k, n, alpha", [
    (500390686, 2627597970, 1e-200),  # exact tail 1.000136 alpha with the 1e-5 margin
    (227438643, 1876633622, 1e-200),
    (238946881, 2057831930, 4.1835731065010073e-159),
])
def test_cp_bounds_sound_at_n_near_1e9(k, n, alpha):
    """SciPy's excess at n of 1e9 is above ETA; ETA_LARGE covers it."""
    assert _ibeta_small_tail(k, n - k + 1, cp_lower(k, n, alpha)) <= alpha
    kk = n - k  # the mirrored count: P(Bin(n, U) <= kk) = I_{1-U}(n - kk, kk + 1)
    assert _ibeta_small_tail(n - kk, kk + 1, 1 - mp.mpf(cp_upper(kk, n, alpha))) <= alpha


@pytest.mark.parametrize("fn", [cp_lower, cp_upper])
def test_totals_above_n_max_are_refused(fn):
    """Past 2^32 SciPy's inversion misses by orders of magnitude (exact tails of 1e62 alpha near
    n = 5e12): refused where 0 < k < n; the closed forms still answer."""
    n = cpm.N_MAX + 1
    with pytest.raises(ValueError, match="n"):
        fn(n // 3, n, 1e-3)
    fn(cpm.N_MAX // 3, cpm.N_MAX, 1e-3)
    assert 0 < cp_lower(n, n, 1e-3) < 1 and 0 < cp_upper(0, n, 1e-3) < 1
