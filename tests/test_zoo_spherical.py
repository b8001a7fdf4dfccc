"""Yang et al. 2020's spherical families on the Zhang et al. l2 engine: Exp2 at any exponent
(``yang-exp2-l2``) and Pow2 (``yang-pow2-l2``).

The pins share no code with the implementation: an independent level-set computation written
here with SciPy's adaptive QUADPACK (``scipy.integrate.quad``) in the units of lambda
(``phi(s) = (s/lambda)^p`` resp. ``a log(1 + (s/lambda)^p)``, so the engine's scale
``lambda p^(-1/p)`` is checked too), the threshold ``||z - r e_1|| > s`` solved in closed form
or by Brent's method per radius, and one Newton step from the engine's radius on the binary
boundary equation ``P_delta(A) = 1/2``; rs4a's closed form for exp_power 1 (the differential
method, a lower bound); Cohen's radius for exp_power 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

import smoothcert as sc
from smoothcert.bounds.functional.spherical import ExpL2
from smoothcert.bounds.functional.zhang import ZhangL2

D = 10


# -- the independent level-set reference ---------------------------------------------------------
class LevelSet:
    """P(Lambda < x) for Lambda = phi(||z||) - phi(||z - r e_1||), z ~ density g(||z||) in R^d,
    by QUADPACK over rho = ||z|| of ``pdf(rho) * I_{(1 + t*)/2}(a, a)``, t* = (rho^2 + r^2 - s^2)
    / (2 r rho) the cosine below which ||z - r e_1|| > s, phi(s) = phi(rho) - x."""

    def __init__(self, log_pdf, phi, inverse, d, scale):
        self.log_pdf, self.phi, self.inverse, self.d, self.scale = log_pdf, phi, inverse, d, scale
        self.a = 0.5 * (d - 1)
        self.norm = self._quad(lambda rho: 1.0)

    def _quad(self, f):
        pdf = lambda rho: math.exp(self.log_pdf(rho)) * f(rho)  # noqa: E731
        s = self.scale
        pts = [0.0, 0.3 * s, s, 3 * s, 10 * s, 30 * s, 100 * s, 1e3 * s, 1e4 * s]
        total = sum(integrate.quad(pdf, lo, hi, epsabs=0, epsrel=1e-13, limit=400)[0]
                    for lo, hi in zip(pts[:-1], pts[1:]))
        return total + integrate.quad(pdf, pts[-1], np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]

    def below(self, x, r):
        def cond(rho):
            s = self.inverse(self.phi(rho) - x)
            t = (rho * rho + r * r - s * s) / (2 * r * rho)
            return special.betainc(self.a, self.a, min(max(0.5 * (1 + t), 0.0), 1.0))

        return self._quad(cond) / self.norm

    def bound(self, pa, r):
        """P_delta(Lambda < x) = P(Lambda > -x) at the x with P(Lambda < x) = pA."""
        f = lambda x: self.below(x, r) - pa  # noqa: E731
        w = 1.0
        while f(-w) > 0 or f(w) < 0:
            w *= 4
        x = optimize.brentq(f, -w, w, xtol=1e-14, rtol=1e-14)
        return 1.0 - self.below(-x, r)

    def radius_near(self, pa, r0):
        """One Newton (secant) step on bound(pA, r) = 1/2 from r0 (quadratic: r0 is within ~1e-9)."""
        h = 1e-5 * r0
        g0, g1 = self.bound(pa, r0) - 0.5, self.bound(pa, r0 + h) - 0.5
        return r0 - g0 * h / (g1 - g0)


def exp2_reference(lam, p, k, d):
    """Exp2: g(s) ~ s^-k exp(-(s/lam)^p), phi(s) = k log s + (s/lam)^p."""
    def phi(s):
        return k * math.log(s) + (s / lam) ** p

    def inverse(c):
        if k == 0:
            return lam * max(c, 0.0) ** (1 / p)
        if phi(1e-300) >= c:
            return 0.0
        hi = lam
        while phi(hi) < c:
            hi *= 4
        return optimize.brentq(lambda s: phi(s) - c, 1e-300, hi, xtol=1e-300, rtol=1e-15,
                               maxiter=2000)

    return LevelSet(lambda rho: (d - 1 - k) * math.log(rho) - (rho / lam) ** p, phi, inverse, d, lam)


def pow2_reference(lam, p, a, d):
    """Pow2: g(s) ~ (1 + (s/lam)^p)^-a, phi(s) = a log(1 + (s/lam)^p), inverse in closed form."""
    def inverse(c):
        return lam * max(math.expm1(c / a), 0.0) ** (1 / p)

    return LevelSet(lambda rho: (d - 1) * math.log(rho) - a * math.log1p((rho / lam) ** p),
                    lambda s: a * math.log1p((s / lam) ** p), inverse, d, lam)


CASES = [
    ("yang-exp2-l2", dict(lambd=1.0, exp_power=1.0, k=0.0), exp2_reference(1.0, 1.0, 0.0, D)),
    ("yang-exp2-l2", dict(lambd=0.7, exp_power=3.0, k=0.0), exp2_reference(0.7, 3.0, 0.0, D)),
    pytest.param("yang-exp2-l2", dict(lambd=1.0, exp_power=0.5, k=1.0), exp2_reference(1.0, 0.5, 1.0, D),
                 marks=pytest.mark.slow, id="exp2-p0.5-k1"),  # Brent per node: ~2 min
    ("yang-pow2-l2", dict(lambd=1.0, exp_power=1.0, tail_excess=10.0), pow2_reference(1.0, 1.0, D + 10.0, D)),
    ("yang-pow2-l2", dict(lambd=2.0, exp_power=2.0, tail_excess=-2.0), pow2_reference(2.0, 2.0, D - 2.0, D)),
]


@pytest.mark.parametrize("name, params, ref", CASES)
def test_radius_matches_an_independent_level_set_computation(name, params, ref):
    """Never above the independent value, and within 1e-9 relative (the engine backs off by
    1e-11..1e-7 from its root until its error bounds certify; measured: ~1e-11)."""
    cert = sc.get(name, dim=D, **params)
    for pa in (0.9,):
        r = cert.radius(pa)
        exact = ref.radius_near(pa, r)
        assert r <= exact * (1 + 1e-12), (pa, r, exact)
        assert exact - r <= 1e-9 * exact, (pa, r, exact, (exact - r) / exact)


# -- exp_power 1: rs4a's closed form is the differential method, below the level-set radius -----
def rs4a_exp2_k1(pa, lam, d):
    """rs4a Exp2.certify_l2 for k = 1, j = 0: lambda (d - 1) atanh(1 - 2 Beta^-1_{(d-1)/2}(1 - pA))."""
    b = stats.beta(0.5 * (d - 1), 0.5 * (d - 1)).ppf(1 - pa)
    return lam * (d - 1) * math.atanh(1 - 2 * b)


def differential_radius(pa, d):
    """The differential method derived here (Yang et al. Sec. 4): with t = z_1/||z|| (the
    derivative of log q along -e_1 for q ~ exp(-||z||)), the largest rate at which a set of
    measure p can lose mass is E[t; t > tau_p] with P(t > tau_p) = p - ... ; integrating
    dp / rate from 1/2 to pA by quadrature (no closed form used)."""
    a = 0.5 * (d - 1)
    dens = lambda t: (1 - t * t) ** (a - 1) / (2 ** (2 * a - 1) * special.beta(a, a))  # noqa: E731
    rate = lambda tau: integrate.quad(lambda t: t * dens(t), tau, 1, epsabs=0, epsrel=1e-13)[0]  # noqa: E731
    tau_a = 1 - 2 * special.betaincinv(a, a, 1 - pa)  # P(t > -tau_a) = pA
    # p(tau) = P(t > -tau), dp = dens(tau) dtau, rate of the set {t > -tau} is rate(-tau) = rate(tau)
    return integrate.quad(lambda tau: dens(tau) / rate(tau), 0, tau_a, epsabs=0, epsrel=1e-12)[0]


@pytest.mark.parametrize("pa", [0.6, 0.9, 0.999])
def test_exp2_power1_closed_form_is_the_differential_bound_below_ours(pa):
    """Derived: rs4a's formula equals the differential-method integral (so it is sound), and the
    level-set radius is at least as large (strictly: Exp2 with p = 1 is not Gaussian)."""
    closed = rs4a_exp2_k1(pa, 1.0, D)
    assert abs(differential_radius(pa, D) - closed) <= 1e-9 * closed
    ours = sc.get("yang-exp2-l2", lambd=1.0, exp_power=1.0, dim=D).radius(pa)
    assert closed < ours < 1.1 * closed


@settings(max_examples=5)
@given(st.floats(0.55, 0.999999))
def test_exp2_power1_never_below_rs4a(pa):
    ours = sc.get("yang-exp2-l2", lambd=1.3, exp_power=1.0, dim=D).radius(pa)
    assert ours >= rs4a_exp2_k1(pa, 1.3, D)


# -- exp_power 2 and the generalized engine ------------------------------------------------------
@pytest.mark.parametrize("k", [0.0, 0.5])
def test_general_engine_at_power2_is_zhang_and_cohen(k):
    """The general-q code path (ExpL2, q = 2) gives ZhangL2's radius (its own q = 2 code), and
    at k = 0 Cohen's sigma Phi^-1(pA) (Zhang et al. Cor. 2)."""
    pa = np.array([0.6, 0.9, 0.999])
    ours, zhang = ExpL2(2.0, k, D).radius(pa), ZhangL2(1.0, k, D).radius(pa)
    assert np.all(np.abs(ours - zhang) <= 1e-9 * zhang)
    if k == 0:
        cohen = np.array([float(special.ndtri(p)) for p in pa])
        assert np.all(ours <= cohen) and np.all(cohen - ours <= 1e-9 * cohen)


def test_exp2_multiclass_and_scale():
    """Multi-class is above binary at the same pA when pB < 1 - pA; the radius is linear in lambda."""
    c1 = sc.get("yang-exp2-l2", lambd=1.0, exp_power=1.5, dim=D)
    c3 = sc.get("yang-exp2-l2", lambd=3.0, exp_power=1.5, dim=D)
    assert c1.radius(0.8, 0.05) > c1.radius(0.8)
    assert abs(c3.radius(0.8) - 3 * c1.radius(0.8)) <= 1e-12 * c3.radius(0.8)


def test_pow2_lower_bound_decreases_with_the_shift():
    """The radius is taken at ||delta|| = r (Zhang et al. Thm 2 / the level-set method): the
    Neyman-Pearson bound must fall with r for this heavy-tailed law too."""
    cert = sc.get("yang-pow2-l2", lambd=1.0, dim=D)
    low = cert.unit.lower_bound(0.9, np.array([0.0, 0.1, 0.2, 0.4, 0.8, 1.6]))
    assert np.all(np.diff(low) < 0)


@pytest.mark.parametrize("name, params", [
    ("yang-pow2-l2", dict(lambd=1.0)),
    ("yang-exp2-l2", dict(lambd=1.0, exp_power=0.5)),
])
def test_heavy_radial_tails_floor_class_b(name, params):
    """pB in (0, 1e-16) is certified as pB = 1e-16 (bounds/functional/spherical.py, "Tail
    floor": the engine cannot resolve a heavy-tailed class-B set of smaller mass; it returned
    radii non-monotone in pA, Pow2 364 at pA = 0.14 and 306 at 0.36 for pB = 1e-100, Exp2 q = 1/2
    3404 at pA = 0.5 and 192 at 0.55 for pB = 1e-300); pB = 0 keeps the infinite radius."""
    from smoothcert.bounds.functional.spherical import TAIL_FLOOR

    cert = sc.get(name, dim=4, **params)
    at_floor = cert.radius(0.7, TAIL_FLOOR)
    assert 0 < at_floor < math.inf
    assert np.all(cert.radius(np.full(2, 0.7), np.array([1e-100, 5e-324])) == at_floor)
    assert cert.radius(0.7, 0.0) == math.inf
    assert cert.radius(1e-17, 1e-18) == 0.0  # pA below the floored pB: nothing certified


@pytest.mark.slow
def test_radius_table_is_sound():
    cert = sc.get("yang-pow2-l2", lambd=1.5, dim=D)
    table = cert.radius_table(n=8)
    pa = np.array([0.7, 0.95])
    assert np.all(table(pa) <= cert.radius(pa))
    assert np.all(table(pa) >= 0.2 * cert.radius(pa))


@pytest.mark.parametrize("params, match", [
    (dict(lambd=1.0, exp_power=1.0, tail_excess=-8.5, dim=D), "tail_excess"),
    (dict(lambd=1.0, exp_power=0.0), "exp_power"),
    (dict(lambd=-1.0), "lambd"),
    (dict(lambd=1.0, tail_excess=float("nan")), "tail_excess"),
])
def test_pow2_bad_parameters_name_the_argument(params, match):
    with pytest.raises(ValueError, match=match):
        sc.get("yang-pow2-l2", **params)


# -- samplers ------------------------------------------------------------------------------------
def _draw(cert, n=8000, seed=0):
    import torch

    from smoothcert.gpu_sampler import make_noise

    noise = make_noise(cert, (cert.params["dim"],))
    out = noise.sample(n, generator=torch.Generator().manual_seed(seed))
    return out.double().numpy()


@pytest.mark.parametrize("p, m", [(1.0, 10.0), (2.0, -2.0), (0.5, 30.0)])
def test_pow2_sampler_radial_law_and_std(p, m):
    cert = sc.get("yang-pow2-l2", lambd=1.7, exp_power=p, tail_excess=m, dim=D)
    z = _draw(cert)
    v = (np.linalg.norm(z, axis=1) / 1.7) ** p
    assert stats.kstest(v, stats.betaprime(D / p, D + m - D / p).cdf).pvalue > 1e-3
    if p != 0.5:  # too heavy for 8,000 draws to pin the variance: the law test covers it
        assert abs(z.std() / cert.noise.std() - 1) < 0.08


def test_exp2_sampler_radial_law_at_another_power():
    cert = sc.get("yang-exp2-l2", lambd=0.8, exp_power=0.7, k=1.0, dim=D)
    z = _draw(cert)
    g = (np.linalg.norm(z, axis=1) / 0.8) ** 0.7
    assert stats.kstest(g, stats.gamma((D - 1.0) / 0.7).cdf).pvalue > 1e-3
    assert abs(z.std() / cert.noise.std() - 1) < 0.03
