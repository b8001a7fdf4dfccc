"""Zhang et al. 2020 functional-optimization certificates: zhang-l2, zhang-l1, zhang-linf.

Reference values come from independent closed forms (Cohen, Teng, the 1-D Laplace and Gaussian
laws), from mpmath quadrature (the twins) and from Monte Carlo, never from this code's own output.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import ndtri

import smoothcert as sc
from smoothcert.bounds.functional import RadiusTable, ZhangL1, ZhangL2
from smoothcert.bounds.functional.radial import RadialLaw
from smoothcert.bounds.functional.linf import ZhangLinf, _log_sup_density, _sample_sup_norm
from smoothcert.estimators.hoeffding import (
    dkw_epsilon,
    dual_lower_bound,
    hoeffding_epsilon,
    hoeffding_upper,
)

FEW = settings(max_examples=6, deadline=None)
dims = st.sampled_from([2, 3, 7, 50, 784, 3072, 150528])


@st.composite
def family_params(draw):
    d = draw(dims)
    k = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0).map(lambda f: round(f * (d - 1), 3))))
    return d, min(k, d - 1), draw(st.floats(1e-3, 1e3))


def teng_binary(pa, b):
    return -b * math.log(2 * (1 - pa))


def teng_multi(pa, pb, b):
    return max(b / 2 * math.log(pa / pb), -b * math.log(1 - pa + pb))


# -- reductions (k = 0) -------------------------------------------------------------------------
@FEW
@given(dims, st.floats(0.55, 0.999), st.floats(1e-3, 1e3))
def test_l2_k0_is_cohen(d, pa, sigma):
    """Zhang et al. Cor. 2: with k = 0 the l2 family is Gaussian noise and gives Cohen's radius."""
    c = ZhangL2(sigma, k=0, dim=d)
    ref = sigma * ndtri(pa)
    r = c.radius(pa)
    assert r <= ref * (1 + 1e-15) and abs(r - ref) <= 1e-9 * ref
    pb = (1 - pa) / 3
    ref = sigma / 2 * (ndtri(pa) - ndtri(pb))
    r = c.radius(pa, pb)
    assert r <= ref * (1 + 1e-15) and abs(r - ref) <= 1e-9 * ref


@FEW
@given(dims, st.floats(0.55, 0.999), st.floats(1e-3, 1e3))
def test_l1_k0_binary_is_teng(d, pa, b):
    """Zhang et al. Cor. 1 / Eq. 7: k = 0 reproduces Teng et al. Thm 2, R = -b log(2(1 - pA))."""
    r = ZhangL1(b, k=0, dim=d).radius(pa)
    ref = teng_binary(pa, b)
    assert r <= ref * (1 + 1e-15) and abs(r - ref) <= 1e-9 * ref


@FEW
@given(st.floats(0.3, 0.999), st.floats(1e-5, 1.0))
def test_l1_k0_multiclass_never_below_teng_thm1(pa, frac):
    # pB >= ~1e-6 here: for tiny pB the error bounds (absolute floor, atoms at +-r/b) cap U(pB) and the
    # bound stays sound but falls under Teng's (see the report)
    pb = frac * min(pa, 1 - pa) * 0.98
    r = ZhangL1(1.0, k=0, dim=4).radius(pa, pb)
    # the integration error (~1e-12 in probability) costs up to a few 1e-9 of radius in the far tail
    assert r >= teng_multi(pa, pb, 1.0) * (1 - 1e-8)


def test_l1_k0_multiclass_strictly_above_teng_somewhere():
    """The Neyman-Pearson multi-class l1 bound beats Teng Thm 1 where neither branch is tight."""
    r = ZhangL1(1.0, k=0, dim=4).radius(0.6, 0.3)
    assert r > teng_multi(0.6, 0.3, 1.0) * 1.01


def test_prop4_l2_family_against_linf_ball():
    """Prop. 4: for the l2 family an l_inf ball of radius r costs as an l2 ball of radius sqrt(d) r,
    i.e. the l_inf radius certified through it is R_l2 / sqrt(d); for k = 0 this is Cohen's / sqrt(d)
    and the Monte Carlo zhang-linf (k = 0 is the same Gaussian) stays below it."""
    d = 16
    r_l2 = ZhangL2(1.0, k=0, dim=d).radius(0.9)
    linf = ZhangLinf(1.0, k=0, dim=d, n_samples=20000, seed=1)
    assert abs(r_l2 / math.sqrt(d) - ndtri(0.9) / 4) <= 1e-9
    r_inf = linf.radius(0.9)
    assert 0.7 * r_l2 / math.sqrt(d) <= r_inf <= r_l2 / math.sqrt(d)


# -- the dual bound: concavity, lambda*, Neyman-Pearson ---------------------------------------
@pytest.mark.parametrize("cls, d, k", [(ZhangL2, 5, 2.0), (ZhangL1, 30, 10.0), (ZhangL2, 784, 300.0)])
def test_lambda_star_maximizes_dual_and_equals_np(cls, d, k):
    c = cls(1.0, k=k, dim=d)
    r, p = 0.4, 0.8
    L = c.lower_bound(p, r)
    lam = c.lambda_star(p, r)
    grid = lam * np.exp(np.linspace(-1.5, 1.5, 31))
    D = c.discrepancy(grid, r)
    dual = grid * p - D
    # no lambda beats the reported maximum; lambda* attains it
    assert dual.max() <= L + 1e-9
    assert abs((lam * p - c.discrepancy(np.array([lam]), r)[0]) - L) <= 1e-9
    # D is convex in lambda and its slope is P(R < lambda)
    assert np.all(np.diff(D, 2) >= -1e-10)
    A, _ = c.cdf_log_ratio(np.log(lam), r)
    assert abs(A[0] - p) <= 1e-8  # lambda* is the p-quantile of R under pi0
    h = 1e-5 * lam
    slope = (c.discrepancy(np.array([lam + h]), r) - c.discrepancy(np.array([lam - h]), r)) / (2 * h)
    assert abs(slope[0] - p) <= 1e-5


def test_np_form_by_monte_carlo_l2():
    """L(p, r) = P_{pi_delta}(R < lambda*): sample z ~ pi_delta directly (rho ~ chi, uniform direction,
    shifted by r e_1) and count; agreement within 5 standard errors."""
    d, k, r, p = 6, 2.0, 0.7, 0.85
    c = ZhangL2(1.0, k=k, dim=d)
    L, lam = c.lower_bound(p, r), c.lambda_star(p, r)
    rng = np.random.default_rng(3)
    n = 200_000
    g = rng.standard_normal((n, d))
    rho = np.sqrt(rng.chisquare(d - k, n))
    w = g / np.linalg.norm(g, axis=1, keepdims=True) * rho[:, None]
    z = w.copy()
    z[:, 0] += r  # z ~ pi_delta
    nz, nw = np.linalg.norm(z, axis=1), rho

    def logpi(s):
        return -k * np.log(s) - s * s / 2

    ratio = np.exp(logpi(nw) - logpi(nz))  # R(z) = pi0(z - delta) / pi0(z)
    est = np.mean(ratio < lam)
    assert abs(est - L) <= 5 * math.sqrt(L * (1 - L) / n)


@pytest.mark.parametrize("cls", [ZhangL2, ZhangL1])
def test_cdf_against_mpmath_quadrature(cls):
    """The float CDF of Lambda (with its error bound) against mpmath quadrature, k > 0, small d."""
    c = cls(1.0, k=1.5, dim=4)
    with mp.workdps(20):
        for x, rt in [(0.2, 0.6), (-0.5, 1.3)]:
            A, err = c.cdf_log_ratio(x, rt)
            exact = c._cdf_mp(x, rt)
            assert abs(A[0] - exact) <= err[0] + 1e-15
            assert err[0] < 1e-9


@pytest.mark.parametrize("cls, x", [(ZhangL2, 9.0), (ZhangL1, 15.0)])
def test_upper_tail_against_mpmath_quadrature(cls, x):
    """P(Lambda >= x) far in the upper tail keeps its relative digits (computed directly, not as
    1 - P(Lambda < x)); reference: mpmath quadrature of the complementary conditional law."""
    c = cls(1.0, k=1.5, dim=4)
    rt = 1.3
    _, S, _, eS = c._tails(rt, np.array([x]))
    with mp.workdps(30):
        exact = c._cdf_mp(x, rt, upper=True, magnitude=float(S[0]))
    assert 0 < S[0] < 1e-6
    assert abs(S[0] - exact) <= eS[0] and eS[0] <= 1e-9 * S[0]


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("nu", [0.1, 0.3, 0.9, 1.0, 1.7, 2.0, 9.5, 392.0, 150528.0])
def test_radial_rule_integrates_the_whole_law(q, nu):
    """The panel rule's total weight is the law's normalizing constant (mpmath closed form),
    including nu < 1, where the density is unbounded at 0 (a plain rule in u misses 2.7% of the
    mass at nu = 0.1 while its fine-coarse estimate says 0.4%)."""
    law = RadialLaw(q, nu)
    e = law.edges
    _, fine, coarse = law.rule(e[None, :-1], e[None, 1:])
    with mp.workdps(30):
        shape = mp.mpf(nu) / q
        log_norm = (shape - 1) * mp.log(q) + mp.loggamma(shape)
        if nu >= 2:  # the rule's density is relative to its value at the mode
            m = mp.mpf(nu - 1) ** (mp.mpf(1) / q)
            log_norm -= (nu - 1) * mp.log(m) - m**q / q
        exact = float(mp.exp(log_norm))
    assert abs(fine.sum() / exact - 1) <= 1e-10
    assert abs(fine.sum() - coarse.sum()) <= 1e-9 * exact
    assert law.tail <= 1e-25  # nu = 0.1 cuts about (1e-300)^0.1 below U_MIN; the rest ~ 2e-300


@pytest.mark.parametrize("cls", [ZhangL2, ZhangL1])
def test_mass_below_the_cut_is_placed_not_spread(cls):
    """nu = 0.06: P(u < 1e-300) is about 1e-18. Lambda is below psi_plus(lo) there, so for any
    larger x that mass belongs to P(Lambda < x) exactly; the upper tail's error bar must not carry
    it (it used to, and a pB of 1e-37 then lost two thirds of its radius)."""
    c = cls(1.0, k=2.94, dim=3)
    assert c._law.tail_lo > 1e-20
    A, S, eA, eS = c._tails(0.7, np.array([20.0]))
    assert 1e-12 < S[0] < 1e-9  # an upper tail far below the cut mass' old error (~1e-18 / S)
    assert eS[0] < 1e-10 * S[0] and eA[0] < 1e-12 * A[0]
    assert abs(A[0] + S[0] - 1) <= 1e-14


@settings(max_examples=25, deadline=None)
@given(st.floats(-12.0, 12.0), st.floats(0.001, 0.999), st.floats(0.05, 4.0))
def test_dual_bound_is_sound_at_any_lambda(x, p, rt):
    """Zhang et al. Eq. 6 holds at every lambda, feasible or not (a negative gain must not be
    clipped): with k = 0 the exact L(p, rt) = Phi(Phi^-1(p) - rt) (Gaussian Neyman-Pearson)."""
    c = ZhangL2(1.0, k=0, dim=7)
    t, back = c._tails_at(rt, [x, -x])
    low = c._lower_from(p, 1 - p, x, t, back)
    with mp.workdps(30):
        exact = mp.ncdf(mp.sqrt(2) * mp.erfinv(2 * mp.mpf(p) - 1) - rt)
    assert mp.mpf(low) <= exact
    up = c._upper_from(1 - p, x, t, back)  # U(1 - p) = 1 - L(p)
    assert mp.mpf(up) >= 1 - exact


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([2, 3, 7, 784, 150528]), st.floats(0.01, 8.0), st.floats(-12.0, 12.0))
def test_tail_error_bars_cover_the_exact_law(d, rt, zscore):
    """The integration error bars are honest: with k = 0 Lambda ~ N(-rt^2/2, rt^2) exactly, and
    |A - P(Lambda < x)| <= eA, |S - P(Lambda >= x)| <= eS hold at every dim (a Beta(a, a)
    argument that rounds u + delta to an ulp of u broke this at d = 150528 by 10x)."""
    c = ZhangL2(1.0, k=0, dim=d)
    x = -rt * rt / 2 + rt * zscore
    A, S, eA, eS = c._tails(rt, np.array([x]))
    with mp.workdps(40):
        lower = mp.ncdf(zscore)
        upper = mp.ncdf(-zscore)
    assert abs(A[0] - lower) <= eA[0] and abs(S[0] - upper) <= eS[0]
    assert eA[0] <= 1e-9 * A[0] + 1e-290 and eS[0] <= 1e-9 * S[0] + 1e-290


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([2, 3, 7, 784, 150528]), st.floats(0.001, 30.0), st.floats(0.001, 0.999))
def test_l1_tail_error_bars_cover_the_exact_law(d, rt, frac):
    """The same for Laplace noise (zhang-l1, k = 0): Lambda = |z_1| - |z_1 - rt| (units of b),
    so P(Lambda >= x) = exp(-(x + rt)/2) / 2 between the atoms at -rt and rt."""
    c = ZhangL1(1.0, k=0, dim=d)
    x = -rt + 2 * rt * frac
    A, S, eA, eS = c._tails(rt, np.array([x]))
    with mp.workdps(40):
        upper = mp.exp(-(mp.mpf(x) + rt) / 2) / 2
    assert abs(S[0] - upper) <= eS[0] and abs(A[0] - (1 - upper)) <= eA[0]


def _cohen_mp(pa, pb):
    """(Phi^-1(pA) - Phi^-1(pB)) / 2 with enough digits that 2p - 1 keeps p's (p down to 1e-60)."""
    digits = 40 + int(-math.log10(min(pa, pb, 1 - pa, 1 - pb)))
    with mp.workdps(digits):
        return (mp.sqrt(2) * (mp.erfinv(2 * mp.mpf(pa) - 1) - mp.erfinv(2 * mp.mpf(pb) - 1))) / 2


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([2, 7, 784, 150528]), st.floats(-4.0, 13.0), st.floats(0.5, 60.0))
def test_quadrature_alone_is_tight_in_far_tails(d, logit_a, log10_b):
    """The quadrature radius by itself (no closed-form maximum), k = 0, against Cohen's exact
    multi-class radius, for pA from 0.02 to 1 - 2e-6 and pB down to 1e-60: sound and within 1e-9
    (before the 1e-300 cut and panel halving it was up to 51% low at pB ~ 1e-28)."""
    pa = 1.0 / (1.0 + math.exp(-logit_a))
    pb = min(10.0 ** -log10_b, 0.999 * (1 - pa))
    c = ZhangL2(1.0, k=0, dim=d)
    r = c._radius_rt(pa, pb)
    exact = _cohen_mp(pa, pb)
    if exact <= 0:
        assert r == 0.0
        return
    assert mp.mpf(r) <= exact
    assert r >= float(exact) * (1 - 1e-9)


@settings(max_examples=6, deadline=None)
@given(family_params(), st.sampled_from([ZhangL2, ZhangL1]), st.floats(0.55, 0.999),
       st.one_of(st.none(), st.floats(1e-12, 0.4)))
def test_newton_fast_path_matches_bracketing(params, cls, pa, pb):
    """The Newton/Broyden solve and the bracketing fallback agree to 1e-9: two independent
    searches over the same sound test (drawn where the solve certifies; it is skipped by design
    for l1 with k = 0, whose Lambda has atoms)."""
    from hypothesis import assume

    d, k, s = params
    if pb is not None and pb >= 1 - pa:
        pb = 0.5 * (1 - pa)
    c = cls(s, k=k, dim=d)
    fast = c._radius_fast(pa, pb)
    assume(fast is not None)
    c._radius_fast = lambda *args: None
    slow = c._radius_rt(pa, pb)
    assert abs(fast - slow) <= 1e-9 * slow


@pytest.mark.slow
@pytest.mark.parametrize("cls, d, k, pa, pb", [
    (ZhangL2, 784, 392.0, 1 - 1e-12, None),
    (ZhangL2, 20, 3.0, 2e-3, 4e-25),
    (ZhangL2, 784, 392.0, 7e-4, 4e-28),
    (ZhangL1, 784, 392.0, 2e-3, 4e-25),
    (ZhangL1, 3, 1.0, 1.95e-3, 4.25e-25),
    (ZhangL1, 20, 19.94, 1 - 1.655e-8, 6.25e-38),  # nu = 0.06: 1e-18 of the mass is below U_MIN
])
def test_far_tail_radius_against_twin(cls, d, k, pa, pb):
    """k > 0 far tails against the mpmath twin (logit-form Newton, direct upper tails)."""
    c = cls(1.0, k=k, dim=d)
    r, exact = c.radius(pa, pb), c.radius_mp(pa, pb)
    assert mp.mpf(r) <= exact and abs(r - exact) <= 1e-9 * exact


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(st.sampled_from([ZhangL2, ZhangL1]), st.sampled_from([2, 3, 5, 7, 20, 100]),
       st.floats(0.0, 1.0), st.floats(-2.0, 2.0), st.floats(0.4, 12.0),
       st.one_of(st.none(), st.floats(0.4, 40.0)))
def test_radius_k_positive_against_twin_random(cls, d, frac, log_scale, log_qa, log_pb):
    """k > 0 over the whole range (nu = dim - k down to 0.05, pA to 1 - 1e-12, pB to 1e-40):
    sound against the mpmath twin and within 1e-8 of it (a far-tail pair may cost ~1e-9)."""
    from hypothesis import assume

    from smoothcert.bounds.base import TwinUnavailable

    k = 0.2 + frac * (d - 0.25)
    pa = 1 - 10.0**-log_qa
    pb = None if log_pb is None else 10.0**-log_pb
    assume(pb is None or pb < 1 - pa)
    c = cls(10.0**log_scale, k=k, dim=d)
    r = c.radius(pa, pb)
    try:
        exact = c.radius_mp(pa, pb)
    except TwinUnavailable:
        assume(False)
    assert mp.mpf(r) <= exact and abs(r - exact) <= 1e-8 * exact


@pytest.mark.slow
@pytest.mark.parametrize("cls", [ZhangL2, ZhangL1])
def test_radius_twin_k_positive(cls):
    c = cls(1.0, k=1.0, dim=3)
    for pb in (None, 0.05):
        r, exact = c.radius(0.9, pb), c.radius_mp(0.9, pb)
        assert mp.mpf(r) <= exact and abs(r - exact) <= 1e-9 * exact


# -- properties over (dim, k, scale, pA, pB) -------------------------------------------------
@settings(max_examples=5, deadline=None)
@given(family_params(), st.sampled_from([ZhangL2, ZhangL1]), st.floats(0.6, 0.99))
def test_radius_certified_and_maximal(params, cls, pa):
    """The returned radius is certified (lower bound > 1/2 there) and 1e-6 further is not."""
    d, k, s = params
    c = cls(s, k=k, dim=d)
    r = c.radius(pa)
    assert math.isfinite(r) and r > 0
    # k = 0 may return the closed-form (exact) radius, where the dual bound is 1/2 up to the
    # quadrature error; k > 0 returns a radius the quadrature itself certified.
    assert c.lower_bound(pa, r) > 0.5 - (1e-9 if k == 0 else 0.0)
    assert c.lower_bound(pa, r * (1 + 1e-6)) < 0.5 + 1e-6


@settings(max_examples=4, deadline=None)
@given(family_params(), st.sampled_from([ZhangL2, ZhangL1]))
def test_lower_bound_ordered_and_in_range(params, cls):
    d, k, s = params
    c = cls(s, k=k, dim=d)
    ps = np.array([0.0, 0.3, 0.7, 0.99, 1 - 1e-12])
    r = 0.5 * s
    L = c.lower_bound(ps, r)
    assert np.all((L >= 0) & (L <= ps))
    assert np.all(np.diff(L) >= -1e-12)
    U = c.upper_bound(1 - ps, r)
    assert np.all((U >= 1 - ps - 1e-15) & (U <= 1))
    assert np.all(np.abs(U - (1 - L)) <= 1e-8)


def test_worst_case_extremes_are_finite_and_ordered():
    for c in (ZhangL2(1.0, k=0, dim=150528), ZhangL1(1.0, k=1.0, dim=2)):
        pa = np.array([0.5, 0.5 + 2**-40, 0.9, 1 - 1e-15, 1.0])
        r = c.radius(pa)
        assert r[0] == 0.0 and math.isinf(r[-1])
        assert np.all(np.isfinite(r[:-1])) and np.all(np.diff(r) >= 0)
        rm = c.radius(np.array([0.9, 0.9]), np.array([1e-300, 0.05]))
        assert np.all(np.isfinite(rm)) and rm[0] >= rm[1] > 0


# -- fast path -------------------------------------------------------------------------------
def test_radius_table_sound_monotone_and_fast(tmp_path):
    c = ZhangL2(0.5, k=3.0, dim=20)
    tab = c.radius_table(n=60)
    ps = np.linspace(0.5, 1 - 1e-9, 10_000)
    rs = tab.lookup(ps)  # its speed (10,000 lookups < 1 s) is measured in benchmarks/, not here
    assert np.all(np.diff(rs) >= 0) and rs[0] == 0.0
    for p in (0.6, 0.9, 0.999):
        assert tab.lookup(p) <= c.radius(p)
        assert c.lower_bound(p, tab.lookup(p)) > 0.5 or tab.lookup(p) == 0
    path = tab.save(tmp_path / "t")
    again = RadiusTable.load(path, c)
    assert np.array_equal(again.lookup(ps), rs)
    with pytest.raises(ValueError, match="built for"):
        RadiusTable.load(path, ZhangL2(0.5, k=4.0, dim=20))


# -- zhang-linf ------------------------------------------------------------------------------
def test_linf_sampler_matches_density():
    rng = np.random.default_rng(0)
    k, d = 3.0, 8
    t = _sample_sup_norm(40_000, k, d, rng)
    grid = np.linspace(1e-6, 12, 200_001)
    dens = np.exp(_log_sup_density(grid, k, d))
    cdf = np.cumsum(dens)
    cdf /= cdf[-1]
    ks = stats.kstest(t, lambda s: np.interp(s, grid, cdf))
    assert ks.pvalue > 1e-4


def test_linf_reports_confidence_and_is_seeded():
    c1 = ZhangLinf(1.0, k=2, dim=10, n_samples=5000, seed=7, alpha_mc=1e-3, grid=64)
    c2 = ZhangLinf(1.0, k=2, dim=10, n_samples=5000, seed=7, alpha_mc=1e-3, grid=64)
    assert c1.confidence == 1 - 1e-3
    assert c1.eps == pytest.approx(math.sqrt(math.log(64 / 1e-3) / 10000), rel=1e-12)
    assert c1.radius(0.95) == c2.radius(0.95) > 0
    assert c1.radius(0.95, 0.01) >= c1.radius(0.95)


def test_linf_twin_same_estimator():
    c = ZhangLinf(1.0, k=2, dim=6, n_samples=600, seed=2, grid=32)
    for pb in (None, 0.02):
        r, exact = c.radius(0.97, pb), c.radius_mp(0.97, pb)
        assert mp.mpf(r) <= exact and abs(r - exact) <= 1e-9 * exact


def test_dkw_dual_bound_is_sound_against_exact_gaussian():
    """k = 0: R = exp(r sum z - d r^2/2) exactly; the MC bound never exceeds the exact NP value."""
    d, r = 4, 0.3
    c = ZhangLinf(1.0, k=0, dim=d, n_samples=4000, seed=5)
    s = r * math.sqrt(d)
    for p in (0.6, 0.9, 0.99):
        exact = stats.norm.cdf(ndtri(p) - s)
        assert c.lower_bound(p, r) <= exact
        assert c.lower_bound(p, r) >= exact - 0.2  # DKW width 0.042 at N = 4000, G = 1024


def test_estimators_hoeffding():
    assert hoeffding_epsilon(100, math.exp(-2)) == pytest.approx(0.1)
    assert hoeffding_upper(0.5, 100, math.exp(-2), width=2.0) == pytest.approx(0.7)
    assert dkw_epsilon(200, math.exp(-4)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="alpha"):
        dkw_epsilon(10, 0.7)
    with pytest.raises(ValueError, match="n"):
        hoeffding_epsilon(0, 0.1)
    r = np.sort(np.random.default_rng(0).exponential(size=1000))
    lam = np.concatenate([np.linspace(0, 10, 2001), r])  # the exact maximizer is some R_i
    brute = (lam * 0.7 - np.maximum(lam[:, None] - r, 0).mean(1)).max()
    got = dual_lower_bound(r, 0.8, 0.1)
    assert brute - 1e-9 <= got <= brute


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kw, word", [
    ("zhang-l2", dict(sigma=1.0, k=5, dim=5), "k"),
    ("zhang-l2", dict(sigma=1.0, k=-1, dim=5), "k"),
    ("zhang-l2", dict(sigma=1.0, k=0, dim=1), "dim"),
    ("zhang-l2", dict(sigma=0.0, k=0, dim=5), "sigma"),
    ("zhang-l1", dict(scale=-1.0, k=0, dim=5), "scale"),
    ("zhang-l1", dict(scale=1.0, k=float("nan"), dim=5), "k"),
    ("zhang-l1", dict(scale=1.0, k=0, dim=2.5), "dim"),
    ("zhang-linf", dict(sigma=1.0, k=4.5, dim=5), "k"),
    ("zhang-linf", dict(sigma=1.0, k=0, dim=5, alpha_mc=1.5), "alpha_mc"),
    ("zhang-linf", dict(sigma=1.0, k=0, dim=5, n_samples=0), "n_samples"),
])
def test_bad_parameters(name, kw, word):
    with pytest.raises((ValueError, TypeError), match=word):
        sc.get(name, **kw)


@pytest.mark.parametrize("cls", [ZhangL2, ZhangL1])
def test_bad_calls(cls):
    c = cls(1.0, k=1, dim=5)
    with pytest.raises(ValueError, match="r"):
        c.lower_bound(0.9, -0.1)
    with pytest.raises(ValueError, match="r"):
        c.lower_bound(0.9, float("nan"))
    with pytest.raises(ValueError, match="p_a"):
        c.lower_bound(1.2, 0.1)
    with pytest.raises(ValueError, match="p_b"):
        c.upper_bound(-0.2, 0.1)
    with pytest.raises(ValueError, match="p_a"):
        c.radius(0.7, 0.4)
    assert c.radius(0.5) == 0.0 and c.radius(0.4, 0.4) == 0.0


# ---- directed rounding of p_a / p_b and bounded searches ----------------------------
def test_table_lookup_rounds_p_a_down():
    """A Fraction just below a table threshold must not get that threshold's radius: 9/10 lies
    below the double 0.9 (which is 0.9000000000000000222...), so the lookup returns the radius of
    the point before (nearest rounding gave the larger one: a radius certified at no p <= 9/10)."""
    from fractions import Fraction

    tab = RadiusTable("zhang-l2", {"sigma": 0.5, "k": 0.0, "dim": 20}, [0.6, 0.9], [0.1, 0.2])
    assert Fraction(0.9) > Fraction(9, 10)
    assert tab.lookup(Fraction(9, 10)) == 0.1
    assert tab.lookup(0.9) == 0.2


def test_bounds_read_p_a_down_and_p_b_up():
    """lower_bound reads p_a rounded down and upper_bound reads p_b rounded up (the bounds grow
    with p_a and shrink with p_b), for inputs that float64 cannot hold exactly."""
    from fractions import Fraction

    c = ZhangL2(0.5, k=2.0, dim=20)
    pa, _, _ = c._broadcast(Fraction(9, 10), 0.1)
    pb, _, _ = c._broadcast(Fraction(1, 10), 0.1, "p_b")
    assert Fraction(float(pa)) <= Fraction(9, 10) and Fraction(float(pb)) >= Fraction(1, 10)


def test_dual_search_is_bounded_when_a_step_is_nan(monkeypatch):
    """The dual-point search walks with a step from the spread of Lambda; a NaN step made the old
    ``while True`` loops spin forever (hi = lo + NaN never reaches XMAX). Now the walk is bounded
    and the feasible start is returned (a sound dual point). A fake CDF keeps the test fast; it
    gives up after 5,000 calls so that the old code fails instead of hanging."""
    from smoothcert.bounds.functional.engine import _Tails

    c = ZhangL2(0.5, k=2.0, dim=20)
    calls = []

    def fake_tails(rt, xs):
        calls.append(xs)
        if len(calls) > 5000:
            raise RuntimeError("the search does not end")
        x = float(xs[0])
        a = 0.5 if x <= 0.3 else (math.nan if math.isnan(x) else 0.95)
        return [_Tails(a, 1.0 - a, 0.0, 0.0)]

    monkeypatch.setattr(c, "_tails_at", fake_tails)
    monkeypatch.setattr(c, "_start", lambda p, q, rt, sig: (0.0, math.nan))
    x, t = c._search(0.9, 0.1, 0.5)
    assert x == 0.0 and t.gain(0.9, 0.1) >= 0
    assert len(calls) < 300
