"""Yang et al. 2020 Pareto noise and its l1 certificate pinned against independent values.

The references here share no code with bounds/pareto.py (whose float path sums two positive
series and whose twin is ``mp.quad``): rs4a's published closed form
``lambda y/a 2F1(1, a/(a+1); a/(a+1)+1; y^(1+1/a))`` evaluated by mpmath's ``hyp2f1`` at 60
digits, and the differential method itself (``int dp / Phi(p)`` with Phi built from the density
by quadrature). rs4a's float path (scipy's hyp2f1) is evaluated too: it is above the exact radius
near pA = 1, which this test pins as the place rs4a is unsound.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from smoothcert.bounds import certificate_class
from smoothcert.bounds.base import Noise
from smoothcert.bounds.family import noise_family
from smoothcert.gpu_sampler.noise import make_noise
from smoothcert.verify.montecarlo import sample_noise

PARETO = certificate_class("yang-pareto-l1")
FAST = settings(max_examples=30, deadline=None, derandomize=True)
TAIL_INDEX = st.floats(-3.0, 3.0).map(lambda e: 10.0**e)  # a from 1e-3 to 1e3
P_A = st.one_of(st.floats(0.5 + 1e-9, 1.0 - 1e-12), st.integers(2, 53).map(lambda k: 1.0 - 2.0**-k))


def hyp2f1_reference(lam, a, p_a):
    """rs4a's published expression, in mpmath at 60 digits."""
    with mp.workdps(60):
        lam, a, y = mp.mpf(lam), mp.mpf(a), 2 * mp.mpf(p_a) - 1
        b = a / (a + 1)
        return lam * y / a * mp.hyp2f1(1, b, b + 1, y ** (1 + 1 / a))


def rs4a_float(lam, a, p_a):
    """rs4a ``Pareto.certify_l1`` in float (scipy's hyp2f1, as its code path)."""
    y = 2 * np.asarray(p_a, dtype=float) - 1
    return special.hyp2f1(1, a / (a + 1), a / (a + 1) + 1, y ** (1 + 1 / a)) * lam * y / a


def differential_reference(lam, a, p_a):
    """``int_{1-pA}^{1/2} dq / Phi(q)`` from the definition: Phi(q) = E[psi 1{0 < z <= t}] with
    ``psi = -(log density)'`` by quadrature of the density ``a/(2 lam) (1 + z/lam)^-(a+1)``, t the
    point where P(0 < z <= t) = q (the CDF inverted by hand: ``t = lam ((1 - 2q)^(-1/a) - 1)``)."""
    with mp.workdps(20):
        lam, a = mp.mpf(lam), mp.mpf(a)
        dens = lambda z: a / (2 * lam) * (1 + z / lam) ** (-a - 1)  # noqa: E731
        psi = lambda z: (a + 1) / lam / (1 + z / lam)  # noqa: E731

        def phi(q):
            t = lam * ((1 - 2 * q) ** (-1 / a) - 1)
            cuts = [0] + [lam * 10**k for k in range(4) if lam * 10**k < t] + [t]
            return mp.quad(lambda z: dens(z) * psi(z), cuts)

        return mp.quad(lambda q: 1 / phi(q), [1 - mp.mpf(p_a), mp.mpf(1) / 2])


@FAST
@given(p_a=P_A, a=TAIL_INDEX, lam=st.floats(0.01, 10.0))
def test_radius_matches_hyp2f1_and_never_above(p_a, a, lam):
    ref = hyp2f1_reference(lam, a, p_a)
    r = PARETO(lam, tail_index=a).radius(p_a)
    assert r <= ref
    assert r >= ref * (1 - 1e-12)


@pytest.mark.parametrize("a, p_a", [(3.0, 0.6), (1.5, 0.9), (10.0, 0.999)])
def test_hyp2f1_expression_is_the_differential_method(a, p_a):
    """The closed form (and the certificate) equal the differential method built from the density."""
    ref = differential_reference(1.0, a, p_a)
    assert abs(hyp2f1_reference(1.0, a, p_a) - ref) <= 1e-15 * ref
    assert PARETO(1.0, tail_index=a).radius(p_a) <= ref * (1 + 1e-15)


@FAST
@given(p_a=st.floats(0.5 + 1e-6, 0.999), a=st.floats(0.5, 50.0))
def test_rs4a_float_agrees_away_from_one(p_a, a):
    assert PARETO(1.0, tail_index=a).radius(p_a) == pytest.approx(float(rs4a_float(1.0, a, p_a)), rel=1e-11)


@pytest.mark.parametrize("a", [2.1, 3.0, 10.0])
def test_rs4a_float_is_above_the_exact_radius_near_one(a):
    """Where rs4a is unsound: at pA = 1 - 2^-53 scipy's hyp2f1 returns inf or ~1e14 times the
    exact (finite) radius; near 1 - 2^-40 it is off by up to 1e-6 relative, above for a = 3, 10.
    Ours stays at most the exact value at every one of these points."""
    worst = 1 - 2.0**-53
    exact = hyp2f1_reference(1.0, a, worst)
    assert mp.isfinite(exact) and exact < 40
    assert float(rs4a_float(1.0, a, worst)) > 1e10 * float(exact)
    for k in (30, 40, 45, 53):
        p = 1 - 2.0**-k
        assert PARETO(1.0, tail_index=a).radius(p) <= hyp2f1_reference(1.0, a, p)
    if a != 2.1:
        p = 1 - 2.0**-40
        assert rs4a_float(1.0, a, p) > hyp2f1_reference(1.0, a, p) * (1 + 1e-8)


def test_edges_and_twin():
    cert = PARETO(0.5)
    assert cert.radius(1.0) == math.inf and mp.isinf(cert.radius_mp(1.0))
    assert cert.radius(0.5) == 0.0 and cert.radius_mp(0.5) == 0
    p = np.array([0.5, 0.5 + 2.0**-40, 0.75, 0.999, 1 - 2.0**-52, 1.0])
    r = cert.radius(p)
    assert np.all(np.diff(r) > 0) and r[0] == 0.0
    for pa in (0.5 + 2.0**-40, 0.75, 1 - 2.0**-52):
        assert abs(cert.radius_mp(pa) - hyp2f1_reference(0.5, 3.0, pa)) <= mp.mpf(10) ** -40 * cert.radius_mp(pa)


# ---------------------------------------------------------------------------------------------
# the family: density, std matching, bad input
@pytest.mark.parametrize("a", [2.5, 3.0, 10.0])
def test_std_is_rs4a_sigma_and_the_density_second_moment(a):
    fam = noise_family("pareto")
    std = fam.std({"lambd": 0.7, "tail_index": a})
    assert std == pytest.approx(0.7 * (0.5 * (a - 1) * (a - 2)) ** -0.5, rel=1e-15)  # rs4a _sigma
    with mp.workdps(30):
        dens = lambda z: a / 1.4 * (1 + z / mp.mpf(0.7)) ** (-a - 1)  # noqa: E731
        assert mp.quad(dens, [0, 1, mp.inf]) == pytest.approx(0.5, rel=1e-20)
        var = 2 * mp.quad(lambda z: z * z * dens(z), [0, 1, 10, mp.inf])
    assert std**2 == pytest.approx(float(var), rel=1e-12)
    cert = PARETO.from_std(0.25, tail_index=a)
    assert cert.noise.std() == pytest.approx(0.25, rel=1e-15)


@pytest.mark.parametrize("bad, exc", [({"tail_index": 0.0}, ValueError), ({"tail_index": -1.0}, ValueError),
                                      ({"tail_index": math.nan}, ValueError), ({"lambd": 0.0}, ValueError),
                                      ({"tail_index": "x"}, (TypeError, ValueError))])
def test_bad_parameters_raise_naming_them(bad, exc):
    kw = {"lambd": 1.0, **bad}
    with pytest.raises(exc, match=next(iter(bad))):
        PARETO(**kw)


def test_std_needs_a_above_two():
    with pytest.raises(ValueError, match="tail_index"):
        noise_family("pareto").std({"lambd": 1.0, "tail_index": 2.0})
    with pytest.raises(ValueError, match="tail_index"):
        PARETO.from_std(0.5, tail_index=1.5)
    assert PARETO(1.0, tail_index=1.5).radius(0.9) > 0  # the certificate itself needs a > 0 only


# ---------------------------------------------------------------------------------------------
# the samplers draw the law
def pareto_cdf(lam, a):
    return lambda z: 0.5 + np.sign(z) * 0.5 * (1 - (1 + np.abs(z) / lam) ** -a)


@pytest.mark.parametrize("a", [0.5, 3.0])
def test_torch_and_verifier_samplers_draw_the_pareto_law(a):
    params = {"lambd": 0.7, "tail_index": a}
    z = make_noise(Noise("pareto", params), (4, 5), device="cpu", dtype=torch.float64)
    x = z.sample(4000, generator=torch.Generator().manual_seed(3)).numpy().reshape(-1)
    y = sample_noise(Noise("pareto", params), 20, 4000, np.random.default_rng(3)).reshape(-1)
    for draws in (x, y):
        assert stats.kstest(draws, pareto_cdf(0.7, a)).pvalue > 1e-4
        assert stats.kstest(draws, pareto_cdf(0.7 * 1.1, a)).pvalue < 1e-6  # a 10% scale error fails


@pytest.mark.parametrize("a", [5e-324, 1e-310])
def test_overflowing_gap_is_finite_below_one(a):
    """A subnormal tail index makes the float quotient y series / a overflow: pA < 1 has a finite
    exact radius (above every double), so the certificate returns at most MAX, never inf."""
    cert = PARETO(1.0, tail_index=a)
    p = np.array([0.5 + 2.0**-40, 0.9, 1 - 2.0**-52])
    r = cert.radius(p)
    assert np.all(np.isfinite(r)) and np.all(r > 0)
    assert all(x <= cert.radius_mp(float(pa)) for x, pa in zip(r, p))
    assert cert.radius(1.0) == math.inf
