"""Yang et al. 2020's exponential and power families: Exp2 (l2), ExpInf (l1, l_inf)
and PowInf (l1).

Every radius is pinned against a value computed here by a method that shares no code with the
implementation: Cohen's radius from mpmath's erfinv for Exp2 with k = 0; the marginal density of
z_1 at 0 by one-dimensional l_inf-polar quadrature (no Gamma function) and by two-dimensional
quadrature of the density for ExpInf's l1 Lipschitz constant; the integral of Yang et al.'s
``1/Phi`` in its Gamma-CDF form for ExpInf's l_inf radius. rs4a's values are computed from its
published expressions (noises.py) and compared.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import smoothcert as sc
from smoothcert.bounds import Noise
from smoothcert.bounds.family import noise_family
from smoothcert.gpu_sampler.noise import make_noise

FAST = settings(max_examples=60, deadline=None)
probs = st.floats(0.5, 1.0, exclude_min=True)


# -- Exp2: exp_power 2 is zhang-l2 at sigma = lambda / sqrt 2 ------------------------------------
def cohen_reference(p_a, p_b, lam):
    """(lambda / sqrt 2) (Phi^-1(pA) - Phi^-1(pB)) / 2 from mpmath's erfinv (40 digits)."""
    with mp.workdps(40):
        def q(p):
            return mp.sqrt(2) * mp.erfinv(2 * mp.mpf(p) - 1)
        pb = 1 - mp.mpf(p_a) if p_b is None else mp.mpf(p_b)
        return mp.mpf(lam) / mp.sqrt(2) * (q(p_a) - q(pb)) / 2


@FAST
@given(probs, st.floats(1e-3, 1e3), st.booleans())
def test_exp2_k0_is_cohen_at_lambda_over_sqrt2(p_a, lam, binary):
    """Never above, within 1e-12 of the erfinv value (binary and with pB = (1 - pA) / 3)."""
    p_b = None if binary else (1.0 - p_a) / 3.0
    cert = sc.get("yang-exp2-l2", lambd=lam, dim=784)
    ref = cohen_reference(p_a, p_b, lam)
    r = cert.radius(p_a, p_b)
    if mp.isinf(ref):
        assert r == math.inf
        return
    assert mp.mpf(r) <= ref
    assert abs(mp.mpf(r) - ref) <= 1e-12 * ref + 1e-300


def rs4a_exp2_k2(p_a, lam):
    """rs4a Exp2.certify_l2 for its k = 2, j = 0: Normal(0, lambda/sqrt 2).icdf(pA)."""
    return stats.norm(0.0, lam / np.sqrt(2)).ppf(p_a)


@pytest.mark.parametrize("p_a", [0.55, 0.75, 0.9, 0.99, 0.999999])
def test_exp2_at_least_rs4a_where_sound(p_a):
    cert = sc.get("yang-exp2-l2", lambd=1.3, dim=784)
    ours, theirs, exact = cert.radius(p_a), rs4a_exp2_k2(p_a, 1.3), cohen_reference(p_a, None, 1.3)
    assert mp.mpf(ours) <= exact
    if mp.mpf(theirs) <= exact:
        assert ours >= theirs * (1 - 1e-12)


@pytest.mark.parametrize("k, p_a, p_b", [(0.0, 0.9, None), (0.0, 0.6, 0.3), (1.0, 0.9, None), (2.5, 0.7, 0.2)])
def test_exp2_is_the_zhang_l2_engine(k, p_a, p_b):
    """One engine: Exp2(lambda, p = 2, k) equals zhang-l2(sigma = lambda/sqrt 2, k) to rounding,
    and the twins agree."""
    lam, d = 1.7, 6
    ours = sc.get("yang-exp2-l2", lambd=lam, k=k, dim=d)
    zhang = sc.get("zhang-l2", sigma=lam / math.sqrt(2), k=k, dim=d)
    assert ours.radius(p_a, p_b) == pytest.approx(zhang.radius(p_a, p_b), rel=1e-12)
    assert ours.noise.std() == pytest.approx(zhang.noise.std(), rel=1e-14)


def test_exp2_refuses_bad_powers_and_bad_k():
    """Every exp_power > 0 is certified (tests/test_zoo_spherical.py); 0 and below are refused."""
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="exp_power"):
            sc.get("yang-exp2-l2", lambd=1.0, exp_power=bad)
    with pytest.raises(ValueError, match="k"):
        sc.get("yang-exp2-l2", lambd=1.0, k=10, dim=10)
    with pytest.raises(ValueError, match="lambd"):
        sc.get("yang-exp2-l2", lambd=-1.0)


@pytest.mark.parametrize("family, d, power, k, cube", [("exp2", 5, 1.0, 0.0, False),
                                                       ("exp2", 7, 3.0, 2.0, False),
                                                       ("expinf", 4, 1.0, 0.0, True),
                                                       ("expinf", 6, 2.0, 1.5, True)])
def test_std_by_radial_quadrature(family, d, power, k, cube):
    """E z_1^2 = E||z||_2^2 / d by quadrature of the radial density s^(d-1-k) exp(-s^p)
    (E||u||_2^2 = 1 for the l2 sphere, 1 + (d-1)/3 for the cube's surface)."""
    with mp.workdps(30):
        def moment(m):
            return mp.quad(lambda s: s ** (d - 1 - k + m) * mp.exp(-s ** power), [0, 1, mp.inf])
        e_u2 = 1 + mp.mpf(d - 1) / 3 if cube else 1
        ref = mp.sqrt(moment(2) / moment(0) * e_u2 / d)
    std = noise_family(family).std({"lambd": 1.0, "exp_power": power, "k": k, "dim": d})
    assert abs(std - ref) <= 1e-13 * ref


# -- ExpInf l1: the Lipschitz constant is the marginal density of z_1 at 0 ---------------------
def marginal_density_at_zero(d, p, k):
    """``int_{R^(d-1)} q(0, y) dy / int_{R^d} q`` with ``h(s) = s^-k exp(-s^p)`` and the
    l_inf-polar formula ``int_{R^m} h(||y||_inf) dy = int_0^inf h(s) m 2^m s^(m-1) ds``."""
    def cube_integral(m):
        return mp.quad(lambda s: s ** (-k) * mp.exp(-s ** p) * m * 2 ** m * s ** (m - 1),
                       [0, 1, 2 * (d / p) ** (1 / p) + 2, mp.inf])
    return cube_integral(d - 1) / cube_integral(d)


@pytest.mark.parametrize("d, p, k", [(2, 1.0, 0.0), (3, 2.0, 0.0), (10, 1.0, 3.0), (784, 1.0, 0.0),
                                     (784, 2.0, 10.0), (3072, 0.5, 0.0)])
def test_expinf_l1_pinned_by_marginal_density(d, p, k):
    """R = (pA - pB) / (2 L) with L the marginal density at 0 (lambda = 1): within 1e-10, never
    above; multi-class and binary."""
    cert = sc.get("yang-expinf-l1", lambd=1.0, exp_power=p, k=k, dim=d)
    with mp.workdps(30):
        lip = marginal_density_at_zero(d, p, k)
        for p_a, p_b in ((0.9, None), (0.6, 0.3), (1.0, 0.0), (0.5000001, None)):
            gap = 2 * mp.mpf(p_a) - 1 if p_b is None else mp.mpf(p_a) - mp.mpf(p_b)
            ref = gap / (2 * lip)
            r = cert.radius(p_a, p_b)
            assert mp.mpf(r) <= ref
            assert abs(mp.mpf(r) - ref) <= 1e-10 * ref


def test_expinf_marginal_density_two_dimensional_quadrature():
    """The l_inf-polar step itself, in d = 2: q(x, y) = exp(-max(|x|, |y|)) integrated as a
    plain double integral over the quadrant (no polar formula)."""
    with mp.workdps(15):
        q = lambda x, y: mp.exp(-max(x, y))  # noqa: E731
        total = 4 * mp.quad(lambda x: mp.quad(lambda y: q(x, y), [0, x, mp.inf]), [0, mp.inf])
        at_zero = 2 * mp.quad(lambda y: q(0, y), [0, mp.inf])
        assert abs(at_zero / total - marginal_density_at_zero(2, 1.0, 0.0)) < 1e-12


def rs4a_expinf_l1(p_a, d, p, k, lam=1.0):
    """rs4a ExpInf.certify_l1 (its k = our exp_power, its j = our k)."""
    gamma_factor = d / (d - 1) * math.exp(math.lgamma((d - k) / p) - math.lgamma((d - k - 1) / p))
    return 2 * lam * gamma_factor * (p_a - 0.5)


@pytest.mark.parametrize("d, p, k", [(3, 1.0, 0.0), (784, 2.0, 1.0), (150528, 1.0, 0.0)])
def test_expinf_l1_at_least_rs4a_where_sound(d, p, k):
    """Same formula; rs4a's lgamma difference in floats can land above the exact value (then it
    is unsound by rounding); elsewhere ours is within 1e-12 of it from below at most."""
    cert = sc.get("yang-expinf-l1", lambd=1.0, exp_power=p, k=k, dim=d)
    for p_a in (0.55, 0.9, 0.999):
        ours, theirs, exact = cert.radius(p_a), rs4a_expinf_l1(p_a, d, p, k), cert.radius_mp(p_a)
        assert mp.mpf(ours) <= exact
        if mp.mpf(theirs) <= exact:
            assert ours >= theirs * (1 - 1e-12)
        else:
            assert ours >= theirs * (1 - 1e-9)  # rs4a above the exact radius: rounding only


@FAST
@given(probs, st.integers(2, 200000), st.floats(0.25, 4.0), st.booleans())
def test_expinf_l1_never_above_twin(p_a, d, p, binary):
    cert = sc.get("yang-expinf-l1", lambd=1.0, exp_power=p, dim=d)
    p_b = None if binary else (1 - p_a) / 2
    r, exact = cert.radius(p_a, p_b), cert.radius_mp(p_a, p_b)
    assert mp.mpf(r) <= exact
    assert abs(mp.mpf(r) - exact) <= 1e-12 * exact + 1e-300


# -- ExpInf l_inf (p = 1, k = 0): the differential method's integral -------------------------
def linf_reference(p_a, d, p=1):
    """Yang et al.'s ``int_{1 - pA}^{1/2} dt / Phi(t)`` with ``Phi(t) = (p/2) Gamma(a)/Gamma(b)
    (1 - G_a(G_b^-1(1 - 2t)))``, a = (d+p-1)/p, b = d/p, substituted ``x = G_b^-1(1 - 2t)``
    (dt = -g_b(x) dx / 2): ``int_0^{x_A} g_b(x) / (2 Phi) dx``, x_A = G_b^-1(2 pA - 1) by root."""
    a, b = mp.mpf(d + p - 1) / p, mp.mpf(d) / p
    const = mp.mpf(p) / 2 * mp.gamma(a) / mp.gamma(b)

    def G(s, x):
        return mp.gammainc(s, 0, x, regularized=True)

    def integrand(x):
        g_b = x ** (b - 1) * mp.exp(-x) / mp.gamma(b)
        return g_b / (2 * const * (1 - G(a, x)))

    target = 2 * mp.mpf(p_a) - 1
    lo, hi = mp.mpf(0), 50 * b + 50  # G_b is increasing: bisection for x_A
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if G(b, mid) < target else (lo, mid)
    return mp.quad(integrand, [0, lo])


@pytest.mark.parametrize("d", [2, 3, 16])
@pytest.mark.parametrize("p_a", [0.6, 0.9, 0.99])
def test_expinf_linf_pinned_by_differential_integral(d, p_a):
    cert = sc.get("yang-expinf-linf", lambd=1.0, dim=d)
    with mp.workdps(25):
        ref = linf_reference(p_a, d)
    r = cert.radius(p_a)
    assert mp.mpf(r) <= ref
    assert abs(mp.mpf(r) - ref) <= 1e-12 * ref


def rs4a_expinf_linf(p_a, lam=1.0):
    """rs4a ExpInf.certify_linf for its k = 1: lambda log(0.5 / (1 - pA))."""
    return lam * math.log(0.5 / (1 - p_a))


@FAST
@given(probs, st.sampled_from([2, 3, 784, 3072, 150528]), st.floats(1e-3, 1e3))
def test_expinf_linf_never_above_and_dimension_free(p_a, d, lam):
    """The radius is the same in every dimension (Wulff-crystal point), never above the twin,
    and at least rs4a's where rs4a's float is at most the exact value."""
    cert = sc.get("yang-expinf-linf", lambd=lam, dim=d)
    r, exact = cert.radius(p_a), cert.radius_mp(p_a)
    assert r == sc.get("yang-expinf-linf", lambd=lam, dim=2).radius(p_a)
    if mp.isinf(exact):
        assert r == math.inf
        return
    assert mp.mpf(r) <= exact
    assert abs(mp.mpf(r) - exact) <= 1e-12 * exact + 1e-300
    theirs = rs4a_expinf_linf(p_a, lam)
    if mp.mpf(theirs) <= exact:
        assert r >= theirs * (1 - 1e-12)


def test_expinf_linf_refuses_other_shapes_and_multiclass():
    """k != 0 and p_b are refused (every exp_power is certified: tests/test_zoo_cubical_linf.py)."""
    with pytest.raises(ValueError, match="k"):
        sc.get("yang-expinf-linf", lambd=1.0, k=1.0)
    with pytest.raises(ValueError, match="p_b"):
        sc.get("yang-expinf-linf", lambd=1.0).radius(0.9, 0.05)
    with pytest.raises(ValueError, match="k"):
        sc.get("yang-expinf-l1", lambd=1.0, k=9.0, dim=10)


# -- samplers: the laws ------------------------------------------------------------------------
def draw(family, params, d, n, seed):
    s = make_noise(Noise(family, params), (d,), device="cpu", dtype=torch.float64)
    return s.sample(n, generator=torch.Generator().manual_seed(seed)).numpy()


@pytest.mark.parametrize("d, p, k", [(5, 2.0, 0.0), (8, 1.0, 2.0), (3, 0.5, 1.0)])
def test_exp2_sampler_law(d, p, k):
    """(||z||_2/lambda)^p ~ Gamma((d - k)/p); the direction is uniform: (1 + z_1/||z||)/2 ~
    Beta((d-1)/2, (d-1)/2)."""
    lam = 1.5
    z = draw("exp2", {"lambd": lam, "exp_power": p, "k": k, "dim": d}, d, 20000, seed=3)
    norm = np.linalg.norm(z, axis=1)
    assert stats.kstest((norm / lam) ** p, stats.gamma((d - k) / p).cdf).pvalue > 1e-3
    a = 0.5 * (d - 1)
    assert stats.kstest((1 + z[:, 0] / norm) / 2, stats.beta(a, a).cdf).pvalue > 1e-3


@pytest.mark.parametrize("d, p, k", [(4, 1.0, 0.0), (6, 2.0, 1.5)])
def test_expinf_sampler_law(d, p, k):
    """(||z||_inf/lambda)^p ~ Gamma((d - k)/p); exactly one coordinate is at +-||z||_inf and the
    others divided by ||z||_inf are U[-1, 1]."""
    lam = 0.7
    z = draw("expinf", {"lambd": lam, "exp_power": p, "k": k, "dim": d}, d, 20000, seed=4)
    top = np.max(np.abs(z), axis=1)
    assert stats.kstest((top / lam) ** p, stats.gamma((d - k) / p).cdf).pvalue > 1e-3
    at_top = np.abs(z) == top[:, None]
    assert (at_top.sum(axis=1) == 1).all()
    rest = (z / top[:, None])[~at_top]
    assert stats.kstest(rest, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3


def test_samplers_refuse_a_dim_that_does_not_match():
    for family in ("exp2", "expinf", "powinf"):
        with pytest.raises(ValueError, match="dim"):
            make_noise(Noise(family, {"lambd": 1.0, "dim": 5}), (4,), device="cpu")


# -- PowInf l1: the same Lipschitz argument with the power law ---------------------------------
def powinf_density_at_zero(d, m):
    """Marginal density of z_1 at 0 for ``(1 + ||z||_inf)^-(d + m)``, l_inf-polar quadrature."""
    def cube_integral(n):
        return mp.quad(lambda s: (1 + s) ** (-(d + m)) * n * 2 ** n * s ** (n - 1), [0, 1, 10, mp.inf])
    return cube_integral(d - 1) / cube_integral(d)


@pytest.mark.parametrize("d, m", [(2, 3.0), (5, 2.5), (784, 10.0), (3072, 50.0)])
def test_powinf_l1_pinned_by_marginal_density(d, m):
    cert = sc.get("yang-powinf-l1", lambd=1.0, tail_excess=m, dim=d)
    with mp.workdps(30):
        lip = powinf_density_at_zero(d, m)
        for p_a, p_b in ((0.9, None), (0.6, 0.3), (1.0, 0.0)):
            gap = 2 * mp.mpf(p_a) - 1 if p_b is None else mp.mpf(p_a) - mp.mpf(p_b)
            ref = gap / (2 * lip)
            r = cert.radius(p_a, p_b)
            assert mp.mpf(r) <= ref
            assert abs(mp.mpf(r) - ref) <= 1e-10 * ref


def rs4a_powinf_l1(p_a, d, a, lam=1.0):
    """rs4a PowInf.certify_l1: ``lambda 2 d / (a - d) (pA - 1/2)``."""
    return lam * 2 * d / (a - d) * (p_a - 0.5)


@FAST
@given(probs, st.integers(2, 200000), st.floats(2.001, 1e4), st.booleans())
def test_powinf_l1_never_above_twin_and_at_least_rs4a(p_a, d, m, binary):
    cert = sc.get("yang-powinf-l1", lambd=1.0, tail_excess=m, dim=d)
    p_b = None if binary else (1 - p_a) / 2
    r, exact = cert.radius(p_a, p_b), cert.radius_mp(p_a, p_b)
    assert mp.mpf(r) <= exact
    assert abs(mp.mpf(r) - exact) <= 1e-12 * exact + 1e-300
    theirs = rs4a_powinf_l1(p_a, d, d + m)
    if binary and mp.mpf(theirs) <= exact:
        assert r >= theirs * (1 - 1e-12)


def test_powinf_refuses_a_light_tail():
    with pytest.raises(ValueError, match="tail_excess"):
        sc.get("yang-powinf-l1", lambd=1.0, tail_excess=2.0)


@pytest.mark.parametrize("d, m", [(4, 3.0), (6, 10.0)])
def test_powinf_sampler_law(d, m):
    """||z||_inf / lambda ~ BetaPrime(d, m); one coordinate at +-||z||_inf, the rest uniform."""
    lam = 0.3
    z = draw("powinf", {"lambd": lam, "tail_excess": m, "dim": d}, d, 20000, seed=6)
    top = np.max(np.abs(z), axis=1)
    assert stats.kstest(top / lam, stats.betaprime(d, m).cdf).pvalue > 1e-3
    at_top = np.abs(z) == top[:, None]
    assert (at_top.sum(axis=1) == 1).all()
    assert stats.kstest((z / top[:, None])[~at_top], stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3


@pytest.mark.parametrize("d, m", [(3, 4.0), (10, 12.5)])
def test_powinf_std_by_radial_quadrature(d, m):
    """E z_1^2 = E s^2 (1 + (d-1)/3) / d with s of density ~ s^(d-1) (1 + s)^-(d+m)."""
    with mp.workdps(30):
        def moment(j):
            return mp.quad(lambda s: s ** (d - 1 + j) * (1 + s) ** (-(d + m)), [0, 1, 10, mp.inf])
        ref = mp.sqrt(moment(2) / moment(0) * (1 + mp.mpf(d - 1) / 3) / d)
    std = noise_family("powinf").std({"lambd": 1.0, "tail_excess": m, "dim": d})
    assert abs(std - ref) <= 1e-13 * ref


def test_tiny_exp_power_is_a_value_error_naming_it():
    """exp_power = 1e-5 made unit_std raise OverflowError (lgamma ratio beyond exp's range)."""
    for family in ("exp2", "expinf"):
        with pytest.raises(ValueError, match="exp_power"):
            noise_family(family).params_for_std(0.5, exp_power=1e-5, dim=784)
