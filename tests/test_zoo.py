"""The noise zoo of Yang et al. 2020: norm conversion and the uniform l2-ball radius.

Every radius is pinned against a value computed here by a method that shares no code with the
implementation (mpmath quadrature of the defining volume, closed-form lens volumes, exact norms of
worst-case vectors) and is never above it.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import smoothcert as sc
from smoothcert.bounds.norms import (
    conversion_factor,
    convert_radius,
    convert_radius_mp,
    norm_exponent,
    radius_in_norm,
)

FAST = settings(max_examples=60, deadline=None)


# -- norm conversion ---------------------------------------------------------------------------
norms = st.one_of(st.sampled_from([1.0, 2.0, math.inf, "l1", "l2", "linf"]), st.floats(1.0, 20.0))


def exact_pnorm(v, p):
    """||v||_p in mpmath from the entries (no closed form)."""
    v = [abs(mp.mpf(float(x))) for x in v]
    if math.isinf(p):
        return max(v)
    p = mp.mpf(p)
    return mp.fsum(x**p for x in v) ** (1 / p)


def worst_vectors(rho, q, d):
    """l_q-norm-rho vectors that push ||.||_p up: all-equal entries and an axis vector."""
    equal = np.full(d, float(rho) * (1.0 if math.isinf(q) else d ** (-1.0 / q)))
    axis = np.zeros(d)
    axis[0] = float(rho)
    return equal, axis


@FAST
@given(st.floats(1e-300, 1e300), norms, norms, st.integers(1, 40))
def test_converted_ball_inside_the_original_on_worst_case_vectors(r, p, q, d):
    """Every worst-case vector of the converted l_q ball (scaled to norm rho, rounded so its l_q
    norm is at most rho) lies in the l_p ball of radius R: exact norms in mpmath."""
    rho = convert_radius(r, p, q, d)
    pp, qq = norm_exponent("p", p), norm_exponent("q", q)
    assert mp.mpf(rho) <= convert_radius_mp(r, p, q, d)
    with mp.workdps(40):
        for v in worst_vectors(rho, qq, d):
            lq = exact_pnorm(v, qq)
            if lq > 0:
                v = v * float(min(mp.mpf(1), mp.mpf(rho) / lq))  # never outside the l_q ball
            assert exact_pnorm(v, pp) <= mp.mpf(r) * (1 + mp.mpf(2) ** -50), (r, p, q, d)


@FAST
@given(st.floats(1e-300, 1e300), norms, norms, st.integers(1, 10**7))
def test_conversion_is_the_exact_factor_rounded_down(r, p, q, d):
    """Never above, and within 1e-12 of, ``R min(1, d^(1/q - 1/p))`` (the largest l_q ball: the
    all-equal vector attains the bound for q >= p, the axis vector for q < p)."""
    with mp.workdps(40):
        pp, qq = norm_exponent("p", p), norm_exponent("q", q)
        inv = lambda x: mp.mpf(0) if math.isinf(x) else 1 / mp.mpf(x)  # noqa: E731
        exact = mp.mpf(r) * min(1, mp.mpf(d) ** (inv(qq) - inv(pp)))
        rho = convert_radius(r, p, q, d)
        assert mp.mpf(rho) <= exact
        assert mp.mpf(rho) >= exact * (1 - mp.mpf(10) ** -12)


def test_conversion_direction_l1_to_linf_divides_by_d():
    """The l1 ball of radius 1 in R^4 holds the l_inf ball of radius 1/4, not 1: the all-equal
    vector (t, t, t, t) with t just above 1/4 leaves it (a factor min(1, d^(1/p - 1/q)) = 1 would
    certify it)."""
    rho = convert_radius(1.0, "l1", "linf", 4)
    assert rho <= 0.25 and rho == pytest.approx(0.25, rel=1e-13)
    assert convert_radius(1.0, "linf", "l1", 4) == 1.0
    assert convert_radius(2.0, "l2", "linf", 150528) <= 2.0 / math.sqrt(150528)
    assert exact_pnorm(np.full(4, 0.25 * (1 + 1e-9)), 1.0) > 1


def test_radius_in_norm_uses_the_certificate_norm_and_dim():
    cert = sc.get("teng-laplace-l1-binary", scale=1.0)
    r1 = cert.radius(0.9)
    assert radius_in_norm(cert, "linf", 0.9, dim=10) == convert_radius(r1, 1, math.inf, 10)
    ball = sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=16)
    assert radius_in_norm(ball, "linf", 0.9) == convert_radius(ball.radius(0.9), 2, math.inf, 16)
    with pytest.raises(ValueError, match="dim"):
        radius_in_norm(cert, "linf", 0.9)
    with pytest.raises(ValueError, match="dim"):
        radius_in_norm(ball, "linf", 0.9, dim=3)
    with pytest.raises(TypeError, match="dim"):  # was int('abc')'s message, not naming dim
        radius_in_norm(ball, "linf", 0.9, dim="abc")


@pytest.mark.parametrize("args, exc, word", [
    ((1.0, "l3", 2, 4), ValueError, "p"), ((1.0, 1, 0.5, 4), ValueError, "q"),
    ((1.0, 1, 2, 0), ValueError, "dim"), ((-1.0, 1, 2, 4), ValueError, "radius"),
    ((float("nan"), 1, 2, 4), ValueError, "radius"), (("1", 1, 2, 4), TypeError, "radius"),
    ((1.0, None, 2, 4), TypeError, "p"), ((1.0, 1, float("nan"), 4), ValueError, "q"),
])
def test_conversion_bad_input_names_the_argument(args, exc, word):
    with pytest.raises(exc, match=word):
        convert_radius(*args)


def test_conversion_factor_is_one_towards_larger_balls():
    assert conversion_factor("linf", "l1", 10**6) == 1.0
    assert conversion_factor(2, 2, 10**6) == 1.0
    assert convert_radius(math.inf, 1, math.inf, 5) == math.inf


# -- uniform noise on the l2 ball --------------------------------------------------------------
def slab_fraction(t, d):
    """Fraction of the unit d-ball in the slab |z_1| < t (quadrature of the section volume)."""
    w = lambda v: (1 - v * v) ** (mp.mpf(d - 1) / 2)  # noqa: E731
    return mp.quad(w, [0, min(t, 1)]) / mp.quad(w, [0, 1])


def reference_radius(p_a, p_b, d, lam=1.0):
    """sup{r : V(r) < (pA - pB)/2}, V(r) = slab_fraction(r / (2 lam)) = the fraction of the
    ball the shifted ball misses, by bisection at 40 digits."""
    with mp.workdps(40):
        g = (2 * mp.mpf(p_a) - 1 if p_b is None else mp.mpf(p_a) - mp.mpf(p_b)) / 2
        lo, hi = mp.mpf(0), mp.mpf(1)
        for _ in range(120):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if slab_fraction(mid, d) < g else (lo, mid)
        return 2 * mp.mpf(lam) * lo


def rs4a_radius(p_a, d, lam=1.0):
    """rs4a's UniformBall.certify_l2, from its published expression (binary)."""
    return lam * (2 - 4 * stats.beta(0.5 * (d + 1), 0.5 * (d + 1)).ppf(0.75 - 0.5 * p_a))


PINS = [(1, 0.9, None), (2, 0.75, None), (3, 0.6, 0.3), (4, 0.999, None), (16, 0.9, 0.05),
        (784, 0.9, None), (784, 0.55, 0.2), (3072, 0.99, None), (3072, 1.0, 0.0)]


@pytest.mark.parametrize("d, p_a, p_b", PINS)
def test_uniform_ball_radius_pinned_by_quadrature(d, p_a, p_b):
    """Within 1e-12 of the quadrature-and-bisection value and never above it."""
    cert = sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=d)
    ref = reference_radius(p_a, p_b, d)
    r = cert.radius(p_a, p_b)
    assert mp.mpf(r) <= ref
    assert abs(mp.mpf(r) - ref) <= 1e-12 * ref
    assert abs(cert.radius_mp(p_a, p_b) - ref) <= mp.mpf(10) ** -30 * ref


@pytest.mark.parametrize("r", [0.1, 0.7, 1.3, 1.9])
def test_missed_volume_is_the_slab_volume_low_dimensions(r):
    """The derivation's key step, V(r) = slab fraction, checked against the lens volumes of two
    unit balls at distance r in d = 2 (circles) and d = 3 (spheres), in closed form."""
    with mp.workdps(40):
        r = mp.mpf(r)
        lens2 = (2 * mp.acos(r / 2) - r / 2 * mp.sqrt(4 - r * r)) / mp.pi
        lens3 = (4 + r) * (2 - r) ** 2 / 16
        assert abs((1 - lens2) - slab_fraction(r / 2, 2)) < 1e-25
        assert abs((1 - lens3) - slab_fraction(r / 2, 3)) < 1e-25


@pytest.mark.parametrize("d", [2, 3, 784, 3072, 150528])
def test_uniform_ball_at_least_rs4a_where_rs4a_is_sound(d):
    """Ours is never below rs4a's binary value by more than our rounding (1e-12 relative), and
    where rs4a's float is above the exact radius it is flagged by the twin (rs4a rounds to
    nearest: up to a few 1e-16 above, or more where scipy's Beta quantile errs)."""
    cert = sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=d)
    for p_a in (0.55, 0.75, 0.9, 0.99, 0.999):
        ours, theirs, exact = cert.radius(p_a), rs4a_radius(p_a, d), cert.radius_mp(p_a)
        assert mp.mpf(ours) <= exact
        if mp.mpf(theirs) <= exact:
            assert ours >= theirs * (1 - 1e-12), (d, p_a, ours, theirs)


@FAST
@given(st.floats(0.5, 1.0), st.integers(1, 200000))
def test_uniform_ball_never_above_twin_any_dimension(p_a, d):
    cert = sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=d)
    r, exact = cert.radius(p_a), cert.radius_mp(p_a)
    assert mp.mpf(r) <= exact
    assert abs(mp.mpf(r) - exact) <= 1e-12 * exact


def test_uniform_ball_far_tail_is_positive_and_sound():
    """pA - pB down to 1e-300: betaincinv underflows, the concavity bound g B / 2 takes over."""
    for d in (1, 4, 784, 150528):
        cert = sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=d)
        for pa, pb in ((2e-300, 1e-300), (1e-300, 5e-324), (1e-200, 0.0)):
            r, exact = cert.radius(pa, pb), cert.radius_mp(pa, pb)
            assert 0 < mp.mpf(r) <= exact and abs(r - exact) <= 1e-12 * exact, (d, pb, r, exact)


def test_uniform_ball_std_and_family():
    fam = sc.bounds.family.noise_family("uniform-ball-l2")
    params = fam.params_for_std(0.5, dim=98)
    assert params["ball_radius"] == pytest.approx(0.5 * 10.0)
    assert fam.std(params) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="ball_radius"):
        sc.get("yang-uniform-ball-l2", ball_radius=-1.0, dim=3)
    with pytest.raises(ValueError, match="dim"):
        sc.get("yang-uniform-ball-l2", ball_radius=1.0, dim=0)
