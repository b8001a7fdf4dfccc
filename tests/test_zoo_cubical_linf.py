"""Yang et al. 2020's l_inf certificates of the cubical families by the differential method:
yang-expinf-linf for every exp_power p > 0 (k = 0) and yang-powinf-linf (bounds/cubical_linf.py).

Independent of the implementation (which integrates ``1/Phi`` in tau with tangents of the concave
Phi, from scipy's incomplete gamma/beta functions) and of its twin (which integrates a hazard in
the radial variable): Phi's ingredients are checked against first principles (a direct quadrature
of the radial density over the Neyman-Pearson set), and the radius against Yang et al.'s
integral written here in the variable of the Gamma/BetaPrime law itself,
``R = (1/(2C)) int g_a(u) / Q_b(u) du`` (rs4a's ``1/Phi`` after ``t = Q_a(u)/2``). rs4a's own
expressions (noises.py: ``ExpInf.Phi_linf``, ``PowInf.Phi_linf``, ``_certify_linf_integrate``)
are restated with scipy and compared.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import smoothcert as sc
from smoothcert.bounds import Noise
from smoothcert.bounds.cubical_linf import SF_RTOL, LinfTable
from smoothcert.bounds.exp_inf import expinf_shape, expinf_table, powinf_shape, powinf_table
from smoothcert.core.errors import BadInput
from smoothcert.gpu_sampler.noise import make_noise

DPS = 20


# -- first principles: the law of s = ||z||_inf / lambda and the speed X = psi(s) on sigma = +1 ---
def expinf_law(d, p):
    """Density of s (``s^p ~ Gamma(d/p)``) and psi(s) = p s^(p-1), written from q ~ exp(-s^p)."""
    return (lambda s: p * s ** (d - 1) * mp.exp(-s ** p) / mp.gamma(mp.mpf(d) / p),
            lambda s: p * s ** (p - 1))


def powinf_law(d, m):
    """Density of s (BetaPrime(d, m)) and psi(s) = (d + m)/(1 + s), from q ~ (1 + s)^-(d+m)."""
    return (lambda s: s ** (d - 1) * (1 + s) ** (-(d + m)) / mp.beta(d, m),
            lambda s: (d + m) / (1 + s))


def np_set_by_quadrature(law, s0, large):
    """``(2 tau, Phi)`` of the set ``{s > s0}`` (psi increasing) or ``{s < s0}``: the mass of s
    there and half the integral of psi over it (sigma = +1 has probability 1/2)."""
    pdf, psi = law
    span = [s0, 2 * s0 + 5, mp.inf] if large else [0, s0]
    return mp.quad(pdf, span), mp.quad(lambda s: psi(s) * pdf(s), span) / 2


@pytest.mark.parametrize("family, d, shape_param, large", [("expinf", 3, 2.0, True),
                                                         ("expinf", 5, 0.5, False),
                                                         ("powinf", 4, 3.0, False)])
def test_phi_ingredients_from_first_principles(family, d, shape_param, large):
    """At points v of the radial variable: 2 tau(v), Phi = C mass_b(v) and Phi' = speed(v)
    against the direct quadrature of the radial density over the Neyman-Pearson set (psi largest:
    large s when p > 1, small s when p < 1 and for PowInf). This is where rs4a's ExpInf
    formula is wrong for p < 1 (it takes the large-s set for every p)."""
    if family == "expinf":
        shape, law = expinf_shape(d, shape_param), expinf_law(d, shape_param)
        points = [(u, mp.mpf(u) ** (1 / mp.mpf(shape_param))) for u in (0.7, 2.5, 6.0)]
    else:
        shape, law = powinf_shape(d, shape_param), powinf_law(d, shape_param)
        points = [(w, mp.mpf(w) / (1 - mp.mpf(w))) for w in (0.2, 0.5, 0.8)]
    with mp.workdps(DPS):
        for v, s0 in points:
            mass, phi = np_set_by_quadrature(law, s0, large)
            assert abs(shape.two_tau(np.float64(v)) - mass) <= 1e-12 * mass
            assert abs(shape.c_up * shape.mass_b(np.float64(v)) - phi) <= 1e-12 * phi
            assert abs(shape.speed(np.float64(v)) - law[1](s0)) <= 1e-13 * law[1](s0)


def test_scipy_incomplete_functions_within_the_assumed_error():
    """SF_RTOL (1e-12) bounds scipy's error at the table points (the mass 2 tau and Phi / C):
    measured against mpmath at a sample of points of three tables, with a factor 10 to spare."""
    worst = 0.0
    with mp.workdps(30):
        for table, c, fa, fb in (
                (expinf_table(3, 2.0), expinf_shape(3, 2.0).c_up,
                 lambda v: mp.gammainc(1.5, v, mp.inf, regularized=True),
                 lambda v: mp.gammainc(2, v, mp.inf, regularized=True)),
                (expinf_table(784, 0.5), expinf_shape(784, 0.5).c_up,
                 lambda v: mp.gammainc(1568, 0, v, regularized=True),
                 lambda v: mp.gammainc(1567, 0, v, regularized=True)),
                (powinf_table(16, 10.0), 5.0,
                 lambda v: mp.betainc(16, 10, 0, v, regularized=True),
                 lambda v: mp.betainc(16, 11, 0, v, regularized=True))):
            idx = np.linspace(0, table.v.size - 1, 25).astype(int)
            two_tau = 2 * table.t[1:][idx] / (1 - SF_RTOL)  # undo the rounding (a few ulps)
            mass_b = table.phi[1:][idx] / (1 + SF_RTOL) / c
            for v, got_a, got_b in zip(table.v[idx], two_tau, mass_b):
                for got, exact in ((got_a, fa(mp.mpf(v))), (got_b, fb(mp.mpf(v)))):
                    worst = max(worst, float(abs(got - exact) / exact))
    assert worst < SF_RTOL / 10


# -- the radius against Yang et al.'s integral in the Gamma / BetaPrime variable -----------------
def _root(f, lo, hi):
    """Root of the increasing f on [lo, hi] by bisection (f(lo) < 0 < f(hi))."""
    for _ in range(3 * mp.mp.prec // 2):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


def expinf_reference(p_a, d, p):
    """``(1/(2C)) int g_a(u) / Q_b(u) du`` over ``[0, u_A]`` (p > 1) or ``g_a / P_b`` over
    ``[u_A, inf)`` (p < 1), ``C = (p/2) Gamma(b)/Gamma(a)``, ``a = d/p``, ``b = (d+p-1)/p``."""
    p = mp.mpf(p)
    a, b = d / p, (d + p - 1) / p
    const = p / 2 * mp.gamma(b) / mp.gamma(a)
    two_tau = 2 * (1 - mp.mpf(p_a))

    def g_a(u):
        return u ** (a - 1) * mp.exp(-u) / mp.gamma(a)

    if p > 1:
        u_a = _root(lambda u: two_tau - mp.gammainc(a, u, mp.inf, regularized=True), mp.mpf(0), 60 * a + 200)
        span = [0] + [x for x in (a - 10 * mp.sqrt(a), a) if 0 < x < u_a] + [u_a]
        return mp.quad(lambda u: g_a(u) / mp.gammainc(b, u, mp.inf, regularized=True), span) / (2 * const)
    u_a = _root(lambda u: mp.gammainc(a, 0, u, regularized=True) - two_tau, mp.mpf(0), 60 * a + 200)
    span = [u_a, max(a, u_a) + 1, a + 20 * mp.sqrt(a) + 20, mp.inf]
    return mp.quad(lambda u: g_a(u) / mp.gammainc(b, 0, u, regularized=True), span) / (2 * const)


def powinf_reference(p_a, d, m):
    """``int g'_{d,m}(x) / (m G'_{d,m+1}(x)) dx`` over ``[x_A, inf)`` (BetaPrime densities and CDFs
    as incomplete beta functions of ``x/(1+x)``), ``G'_{d,m}(x_A) = 2 (1 - pA)``."""
    d, m = mp.mpf(d), mp.mpf(m)
    two_tau = 2 * (1 - mp.mpf(p_a))

    def cdf(shape_b, x):
        return mp.betainc(d, shape_b, 0, x / (1 + x), regularized=True)

    x_a = _root(lambda x: cdf(m, x) - two_tau, mp.mpf(0), mp.mpf(100) * d)

    def integrand(x):
        return x ** (d - 1) * (1 + x) ** (-(d + m)) / mp.beta(d, m) / (m * cdf(m + 1, x))

    bulk = [x for x in (d / m / 2, d / m, 2 * d / m, 10 * d / m) if x > x_a]
    return mp.quad(integrand, [x_a] + bulk + [mp.inf])


PINNED = [("yang-expinf-linf", {"exp_power": 2.0, "dim": 3}, 0.6),
          ("yang-expinf-linf", {"exp_power": 2.0, "dim": 3}, 1 - 1e-10),
          ("yang-expinf-linf", {"exp_power": 0.5, "dim": 16}, 0.9),
          ("yang-expinf-linf", {"exp_power": 0.5, "dim": 16}, 0.999999),
          ("yang-expinf-linf", {"exp_power": 3.0, "dim": 784}, 0.99),
          ("yang-powinf-linf", {"tail_excess": 3.0, "dim": 3}, 0.75),
          ("yang-powinf-linf", {"tail_excess": 3.0, "dim": 3}, 1 - 1e-12),
          ("yang-powinf-linf", {"tail_excess": 10.0, "dim": 784}, 0.9)]


@pytest.mark.parametrize("name, params, p_a", PINNED)
def test_radius_pinned_by_independent_integral(name, params, p_a):
    """Never above, within 1e-9 relative (lambda = 1.7: the radius is linear in lambda)."""
    cert = sc.get(name, lambd=1.7, **params)
    with mp.workdps(DPS):
        if name == "yang-expinf-linf":
            ref = 1.7 * expinf_reference(p_a, params["dim"], params["exp_power"])
        else:
            ref = 1.7 * powinf_reference(p_a, params["dim"], params["tail_excess"])
        r = cert.radius(p_a)
        assert mp.mpf(r) <= ref
        assert ref - mp.mpf(r) <= 1e-9 * ref


CASES = st.sampled_from([("yang-expinf-linf", {"exp_power": 2.0, "dim": 3}),
                         ("yang-expinf-linf", {"exp_power": 0.5, "dim": 3}),
                         ("yang-powinf-linf", {"tail_excess": 3.0, "dim": 3})])


@settings(max_examples=8, deadline=None)
@given(CASES, st.floats(0.5, 1.0, exclude_min=True), st.floats(1e-3, 1e3))
def test_never_above_twin(case, p_a, lam):
    """Over pA in (1/2, 1] and lambda: below the mpmath twin and within its twin_rtol."""
    name, params = case
    cert = sc.get(name, lambd=lam, **params)
    r, exact = cert.radius(p_a), cert.radius_mp(p_a, dps=15)
    if mp.isinf(exact):
        assert r == math.inf
        return
    assert mp.mpf(r) <= exact
    assert exact - mp.mpf(r) <= cert.twin_rtol * exact + 1e-300


def test_p_one_reduces_to_the_closed_form():
    """p = 1: Phi(t) = t, and the table machinery itself (tangents of a linear Phi are exact)
    gives log(1/(2 tau)) to its rounding budget; p = 1 +- 1e-6 is continuous with it."""
    table = LinfTable(expinf_shape(5, 1.0))
    taus = np.array([0.49, 0.3, 0.05, 1e-6, 1e-15, 2.0**-53])
    closed = -np.log(2 * taus)
    got = table.integral(taus)
    assert np.all(got <= closed) and np.all(closed - got <= 1e-10 * closed)
    closed_cert = sc.get("yang-expinf-linf", lambd=1.0, dim=5)
    for p in (1 - 1e-6, 1 + 1e-6):
        near = sc.get("yang-expinf-linf", lambd=1.0, exp_power=p, dim=5)
        assert near.radius(0.9) == pytest.approx(closed_cert.radius(0.9), rel=1e-5)


def test_pa_one_and_below_half():
    """pA = 1: infinite for p >= 1 and PowInf (the integral diverges), finite for p < 1 and
    below the twin; pA <= 1/2: zero."""
    assert sc.get("yang-expinf-linf", lambd=1.0, exp_power=2.0, dim=3).radius(1.0) == math.inf
    assert sc.get("yang-powinf-linf", lambd=1.0, tail_excess=3.0, dim=3).radius(1.0) == math.inf
    cert = sc.get("yang-expinf-linf", lambd=1.0, exp_power=0.5, dim=3)
    r, exact = cert.radius(1.0), cert.radius_mp(1.0, dps=15)
    assert math.isfinite(r) and mp.mpf(r) <= exact and exact - mp.mpf(r) <= 1e-8 * exact
    assert r >= cert.radius(1 - 2**-53)
    for name, params in (("yang-expinf-linf", {"exp_power": 2.0}), ("yang-powinf-linf", {})):
        c = sc.get(name, lambd=1.0, dim=3, **params)
        assert np.all(c.radius(np.array([0.0, 0.3, 0.5])) == 0.0)


def test_bad_input():
    with pytest.raises(BadInput, match="k"):
        sc.get("yang-expinf-linf", lambd=1.0, exp_power=2.0, k=1.0)
    with pytest.raises(ValueError, match="p_b"):
        sc.get("yang-powinf-linf", lambd=1.0).radius(0.9, 0.05)
    with pytest.raises(ValueError, match="exp_power"):
        sc.get("yang-expinf-linf", lambd=1.0, exp_power=-1.0)


def test_vectorized_equals_scalar_and_monotone():
    cert = sc.get("yang-powinf-linf", lambd=0.3, tail_excess=10.0, dim=16)
    pa = np.linspace(0.5, 1.0, 2001)
    r = cert.radius(pa)
    assert np.all(np.diff(r) >= 0)
    assert all(r[i] == cert.radius(float(pa[i])) for i in (1, 700, 1999, 2000))


# -- rs4a (tonyduan/rs4a, src/noises/noises.py), restated with scipy --------------------------
def rs4a_expinf_phi(t, d, p):
    """``ExpInf.Phi_linf`` (its k = our p, j = 0): the large-s set for every p."""
    g, ig = stats.gamma((d + p - 1) / p).cdf, stats.gamma(d / p).ppf
    return (1 - g(ig(1 - 2 * t))) * p / 2 * np.exp(math.lgamma((d + p - 1) / p) - math.lgamma(d / p))


def rs4a_powinf_phi(t, d, m):
    """``PowInf.Phi_linf`` with a = d + m."""
    return stats.betaprime(d, m + 1).cdf(stats.betaprime(d, m).ppf(2 * t)) * m / 2


def rs4a_integrate(phi, p_a):
    """``CubicalDist._certify_linf_integrate``: scipy's quad of ``1/Phi`` over [1 - pA, 1/2]."""
    return integrate.quad(lambda t: 1 / phi(t), 1 - p_a, 0.5)[0]


def test_rs4a_expinf_is_unsound_for_p_below_one():
    """rs4a's Phi for p < 1 is the speed of the slowest set, so its radius is far above the
    exact one (117.1 against 86.87 at d = 16, pA = 0.9); for p > 1 its quad agrees with ours to
    1e-7."""
    d = 16
    exact = sc.get("yang-expinf-linf", lambd=1.0, exp_power=0.5, dim=d).radius_mp(0.9, dps=15)
    theirs = rs4a_integrate(lambda t: rs4a_expinf_phi(t, d, 0.5), 0.9)
    assert theirs > 1.3 * float(exact)
    ours = sc.get("yang-expinf-linf", lambd=1.0, exp_power=2.0, dim=d).radius(0.9)
    assert ours == pytest.approx(rs4a_integrate(lambda t: rs4a_expinf_phi(t, d, 2.0), 0.9), rel=1e-7)


def test_rs4a_powinf_agrees_and_its_float32_output_can_be_above():
    """PowInf: rs4a's Phi is right and its quad agrees with ours to 1e-7; its radii are returned
    as float32 tensors (``torch.tensor(rad, dtype=torch.float)``), which round to nearest, so
    about half of them are above the exact radius (counted on a grid)."""
    d, m = 16, 10.0
    cert = sc.get("yang-powinf-linf", lambd=1.0, tail_excess=m, dim=d)
    theirs = rs4a_integrate(lambda t: rs4a_powinf_phi(t, d, m), 0.9)
    assert cert.radius(0.9) == pytest.approx(theirs, rel=1e-7)
    pa = np.linspace(0.55, 0.99, 200)
    ours = cert.radius(pa)
    as_float32 = torch.tensor(ours, dtype=torch.float).double().numpy()
    above = as_float32 > ours * (1 + 1e-8)  # ours is within 1e-9 of the exact radius
    assert 20 < above.sum() < 180


def test_expinf_sampler_law_at_small_exp_power():
    """The sampler covers every p: (||z||_inf/lambda)^p ~ Gamma(d/p) at p = 0.5."""
    d, lam, p = 4, 0.7, 0.5
    s = make_noise(Noise("expinf", {"lambd": lam, "exp_power": p, "k": 0.0, "dim": d}), (d,),
                   device="cpu", dtype=torch.float64)
    z = s.sample(20000, generator=torch.Generator().manual_seed(11)).numpy()
    top = np.max(np.abs(z), axis=1)
    assert stats.kstest((top / lam) ** p, stats.gamma(d / p).cdf).pvalue > 1e-3
