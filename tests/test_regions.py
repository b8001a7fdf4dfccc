"""Certified regions: membership, volume, proxy and enclosed radii, inclusion (ANCER Def. 1)."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds.regions import WeightedLpBall, lp_ball

FAST = settings(max_examples=40, deadline=None)
P_VALUES = [1.0, 1.5, 2.0, 3.0, math.inf]
ps = st.sampled_from(P_VALUES)
scale_lists = st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=6)


def mp_norm(v, p):
    """||v||_p in mpmath (exact enough to judge a float answer)."""
    v = [abs(mp.mpf(float(x))) for x in v]
    if math.isinf(p):
        return max(v)
    return mp.fsum(x ** mp.mpf(p) for x in v) ** (1 / mp.mpf(p))


def boundary_point(rng, p, axes):
    """A random point with ||x / axes||_p = 1 (up to float rounding)."""
    u = rng.standard_normal(len(axes))
    u[np.abs(u) < 1e-3] = 1e-3
    return axes * u / float(mp_norm(u, p))


def mp_log_volume(p, gap, scales):
    """Wang 2005 volume formula in mpmath."""
    d = len(scales)
    with mp.workdps(40):
        logs = mp.fsum(mp.log(mp.mpf(float(s))) for s in scales)
        base = d * mp.log(2) + d * mp.log(mp.mpf(gap)) + logs
        if math.isinf(p):
            return base
        inv = 1 / mp.mpf(p)
        return base + d * mp.loggamma(1 + inv) - mp.loggamma(1 + d * inv)


# -- contains ----------------------------------------------------------------------------------
@FAST
@given(ps, scale_lists, st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_contains_inside_and_outside_the_boundary(p, sc, gap, seed):
    rng = np.random.default_rng(seed)
    reg = WeightedLpBall(p, np.array(sc), gap)
    x = boundary_point(rng, p, gap * np.array(sc))
    assert reg.contains(x * (1 - 1e-9))
    assert not reg.contains(x * (1 + 1e-9))
    batch = np.stack([x * 0.5, x * 2.0, np.zeros_like(x)])
    assert reg.contains(batch).tolist() == [True, False, True]


def test_contains_keeps_the_shape_of_images():
    reg = WeightedLpBall(2, np.full((3, 4, 4), 0.5), 1.0)
    delta = np.zeros((5, 3, 4, 4))
    delta[1, 0, 0, 0] = 0.6
    assert reg.contains(delta).tolist() == [True, False, True, True, True]
    with pytest.raises(ValueError, match="delta"):
        reg.contains(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="delta"):
        reg.contains(np.full((3, 4, 4), np.nan))


def test_isotropic_contains_reads_the_last_axis():
    ball = lp_ball(1, 1.0)
    assert ball.contains([[0.5, 0.4], [0.5, 0.6]]).tolist() == [True, False]
    with pytest.raises(ValueError, match="delta"):
        lp_ball(1, 1.0, dim=3).contains([0.1, 0.1])


# -- volume and proxy radius -------------------------------------------------------------------
@FAST
@given(ps, scale_lists, st.floats(1e-3, 1e3))
def test_log_volume_is_a_lower_bound_close_to_mpmath(p, sc, gap):
    reg = WeightedLpBall(p, np.array(sc), gap)
    exact = mp_log_volume(p, gap, sc)
    got = reg.log_volume()
    assert mp.mpf(got) <= exact
    assert abs(mp.mpf(got) - exact) <= 1e-13 * (1 + abs(exact))


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_log_volume_stable_at_imagenet_dimension(p):
    d = 150_528  # 3 x 224 x 224
    pattern = np.array([1e-3, 0.25, 7.0])
    scales = np.tile(pattern, d // 3)
    gap = 0.37
    reg = WeightedLpBall(p, scales, gap)
    with mp.workdps(40):
        logs = (d // 3) * mp.fsum(mp.log(mp.mpf(float(s))) for s in pattern)
        exact = d * mp.log(2) + d * mp.log(mp.mpf(gap)) + logs
        if not math.isinf(p):
            exact += d * mp.loggamma(1 + 1 / mp.mpf(p)) - mp.loggamma(1 + d / mp.mpf(p))
        proxy = mp.mpf(gap) * mp.exp(logs / d)
    got = reg.log_volume()
    assert math.isfinite(got) and mp.mpf(got) <= exact
    assert abs(mp.mpf(got) - exact) <= 1e-12 * abs(exact)
    pr = reg.proxy_radius()
    assert mp.mpf(pr) <= proxy and abs(mp.mpf(pr) - proxy) <= 1e-12 * proxy
    iso = lp_ball(p, pr, dim=d)  # the ball of the proxy radius has (just under) the same volume
    assert iso.log_volume() <= got + 1e-9 * abs(got)
    assert abs(iso.log_volume() - got) <= 1e-9 * abs(got)


def test_volume_formula_by_monte_carlo():
    """Independent check of the volume formula: fraction of a bounding box inside the region."""
    rng = np.random.default_rng(0)
    n = 200_000
    for p in (1.0, 1.5, 2.0, 3.0):
        sc = np.array([0.5, 1.0, 2.0])
        reg = WeightedLpBall(p, sc, 1.0)
        pts = rng.uniform(-1, 1, size=(n, 3)) * sc
        frac = reg.contains(pts).mean()
        expect = math.exp(reg.log_volume()) / (8 * sc.prod())
        assert abs(frac - expect) < 5 * math.sqrt(expect * (1 - expect) / n)


@FAST
@given(ps, scale_lists, st.floats(1e-3, 1e3))
def test_proxy_and_enclosed_radius(p, sc, gap):
    reg = WeightedLpBall(p, np.array(sc), gap)
    d = len(sc)
    with mp.workdps(30):
        proxy = mp.mpf(gap) * mp.exp(mp.fsum(mp.log(mp.mpf(s)) for s in sc) / d)
        enclosed = mp.mpf(gap) * mp.mpf(min(sc))
    pr, en = reg.proxy_radius(), reg.enclosed_radius()
    assert mp.mpf(pr) <= proxy and abs(pr - proxy) <= 1e-13 * proxy
    assert mp.mpf(en) <= enclosed and abs(en - enclosed) <= 1e-14 * enclosed
    assert en <= pr * (1 + 1e-12)  # min <= geometric mean
    assert reg.includes(lp_ball(p, en))
    assert not reg.includes(lp_ball(p, en * (1 + 1e-9)))


def test_isotropic_region_needs_dim_for_volume():
    ball = lp_ball(2, 1.0)
    with pytest.raises(ValueError, match="dim"):
        ball.log_volume()
    assert abs(ball.log_volume(dim=2) - math.log(math.pi)) < 1e-14
    assert lp_ball(2, 1.0, dim=3).log_volume() == ball.log_volume(dim=3)
    with pytest.raises(ValueError, match="dim"):
        lp_ball(2, 1.0, dim=3).log_volume(dim=4)


# -- inclusion (ANCER Definition 1) ------------------------------------------------------------
def mp_operator_norm(a, b, p, q):
    """||diag(b/a)||_{q -> p} in mpmath: max when p >= q, the r-norm (1/r = 1/p - 1/q) else."""
    w = [mp.mpf(float(y)) / mp.mpf(float(x)) for x, y in zip(a, b)]
    if p >= q:
        return max(w)
    r = 1 / (1 / mp.mpf(p) - (0 if math.isinf(q) else 1 / mp.mpf(q)))
    return mp_norm(w, r)


@settings(max_examples=80, deadline=None)
@given(ps, ps, st.integers(1, 5), st.data(), st.integers(0, 2**32 - 1))
def test_includes_agrees_with_exact_operator_norm(p, q, d, data, seed):
    sa = np.array(data.draw(st.lists(st.floats(0.1, 10), min_size=d, max_size=d)))
    sb = np.array(data.draw(st.lists(st.floats(0.1, 10), min_size=d, max_size=d)))
    ga, gb = data.draw(st.floats(0.1, 10)), data.draw(st.floats(0.1, 10))
    big, small = WeightedLpBall(p, sa, ga), WeightedLpBall(q, sb, gb)
    with mp.workdps(40):
        op = mp_operator_norm(ga * sa, gb * sb, p, q)
    if abs(op - 1) < 1e-9:
        return  # within rounding of touching: either answer is defensible
    ans = big.includes(small)
    assert ans == (op <= 1), (op, ans)
    if ans:  # every sampled boundary point of `small` lies in `big`, checked in mpmath
        rng = np.random.default_rng(seed)
        axes_b = gb * sb
        pts = [boundary_point(rng, q, axes_b) for _ in range(20)]
        pts += [axes_b * e for e in np.eye(d)]
        for x in pts:
            assert mp_norm(x / sa, p) <= mp.mpf(ga) * (1 + mp.mpf(10) ** -12)


def test_includes_between_isotropic_balls_needs_dim_when_p_lt_q():
    l1, l2 = lp_ball(1, 1.0), lp_ball(2, 1.0)
    assert l2.includes(l1)  # p >= q: no dimension needed
    with pytest.raises(ValueError, match="dim"):
        l1.includes(l2)
    # the l2 ball of radius 1 sits in the l1 ball of radius r iff r >= sqrt(d)
    assert lp_ball(1, 1.5, dim=2).includes(lp_ball(2, 1.0))
    assert not lp_ball(1, 1.5, dim=3).includes(lp_ball(2, 1.0, dim=3))
    assert lp_ball(1, 1.75, dim=3).includes(lp_ball(2, 1.0, dim=3))
    # box of half-width 1 inside the l2 ball of radius sqrt(d)
    assert lp_ball(2, 2.0 * (1 + 1e-12), dim=4).includes(lp_ball(math.inf, 1.0, dim=4))
    # exactly touching (corner on the sphere): p < q is decided with a float margin, so the
    # answer may be a conservative False, never a wrong True
    assert not lp_ball(2, 2.0 * (1 - 1e-12), dim=4).includes(lp_ball(math.inf, 1.0, dim=4))
    assert not lp_ball(2, 1.99, dim=4).includes(lp_ball(math.inf, 1.0, dim=4))


def test_includes_is_exact_for_equal_and_touching_regions():
    a = WeightedLpBall(2, np.array([0.1, 0.3, 0.7]), 0.3)
    assert a.includes(a) and a >= a and a <= a and not a > a and not a < a
    b = WeightedLpBall(2, np.array([0.1, 0.3, 0.7]) * 3.0, 0.1)  # the same set up to rounding
    exact_equal = all(mp.mpf(0.1) * mp.mpf(x * 3.0) <= mp.mpf(0.3) * mp.mpf(x) for x in [0.1, 0.3, 0.7])
    assert a.includes(b) == exact_equal
    bigger = WeightedLpBall(2, np.array([0.1, 0.3, 0.7]), 0.3 * (1 + 1e-15))
    assert bigger > a and a < bigger


def test_includes_special_gaps_and_mismatches():
    a = WeightedLpBall(2, np.ones(3), 1.0)
    assert a.includes(WeightedLpBall(1, np.ones(3), 0.0))
    assert not WeightedLpBall(1, np.ones(3), 0.0).includes(a)
    assert WeightedLpBall(2, np.ones(3), math.inf).includes(a)
    assert WeightedLpBall(2, np.ones(3), math.inf).includes(WeightedLpBall(1, np.ones(3), math.inf))
    assert not a.includes(WeightedLpBall(1, np.ones(3), math.inf))
    everything = WeightedLpBall(2, np.ones(3), math.inf)
    assert everything.enclosed_radius() == math.inf and everything.proxy_radius() == math.inf
    assert everything.log_volume() == math.inf and everything.contains(np.full(3, 1e300))
    nothing = WeightedLpBall(2, np.ones(3), 0.0)
    assert nothing.log_volume() == -math.inf and nothing.enclosed_radius() == 0.0
    assert nothing.contains(np.zeros(3)) and not nothing.contains(np.full(3, 1e-300))
    with pytest.raises(ValueError, match="shape"):
        a.includes(WeightedLpBall(2, np.ones(4), 1.0))
    with pytest.raises(ValueError, match="shape"):
        a.includes(WeightedLpBall(2, np.ones((1,)), 1.0))
    with pytest.raises(ValueError, match="dim"):
        a.includes(lp_ball(2, 0.5, dim=4))
    with pytest.raises(TypeError):
        a.includes("ball")


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, exc, word", [
    ({"p": "2", "scales": 1.0, "gap": 1.0}, TypeError, "p"),
    ({"p": 0.5, "scales": 1.0, "gap": 1.0}, ValueError, "p"),
    ({"p": float("nan"), "scales": 1.0, "gap": 1.0}, ValueError, "p"),
    ({"p": 2, "scales": [1.0, 0.0], "gap": 1.0}, ValueError, "scales"),
    ({"p": 2, "scales": [1.0, np.nan], "gap": 1.0}, ValueError, "scales"),
    ({"p": 2, "scales": "a", "gap": 1.0}, TypeError, "scales"),
    ({"p": 2, "scales": 1.0, "gap": -1.0}, ValueError, "gap"),
    ({"p": 2, "scales": 1.0, "gap": float("nan")}, ValueError, "gap"),
    ({"p": 2, "scales": 1.0, "gap": [1.0, 2.0]}, ValueError, "gap"),
    ({"p": 2, "scales": [1.0, 2.0], "gap": 1.0, "dim": 3}, ValueError, "dim"),
    ({"p": 2, "scales": 1.0, "gap": 1.0, "dim": 0}, ValueError, "dim"),
    ({"p": 2, "scales": 1.0, "gap": 1.0, "dim": 2.5}, TypeError, "dim"),
])
def test_bad_region_arguments(kw, exc, word):
    with pytest.raises(exc, match=word):
        WeightedLpBall(**kw)


# -- soundness at the float edges ---------------------------------------------
_EDGE = [0.0, 5e-324, 1e-310, 2.2250738585072014e-308, 1e-160, 1e-30, 1.0, 1e30, 1e160, 1e300,
         float(np.finfo(float).max)]
_edge_floats = st.one_of(st.sampled_from(_EDGE),
                         st.floats(0.0, float(np.finfo(float).max), allow_subnormal=True))


def _exact_inside(delta, scales, gap, p):
    """``||delta / scales||_p <= gap`` in rational arithmetic (p = 1, 2, inf)."""
    r = [abs(Fraction(float(d))) / Fraction(float(s)) for d, s in zip(delta, scales)]
    g = Fraction(gap) if isinstance(gap, float) else gap
    if math.isinf(p):
        return max(r) <= g
    if p == 1:
        return sum(r) <= g
    return sum(x * x for x in r) <= g * g


def test_contains_never_true_outside_issue_example():
    """A zero gap over a huge scale: 1e-30 / 1e300 underflowed to 0 <= 0."""
    reg = sc.get("ars-gaussian-l2", sigma=np.array([1e300])).region(0.5)
    assert not reg.contains([1e-30])
    assert reg.contains([0.0])
    assert not WeightedLpBall(2, np.array([1e300, 1.0]), 5e-324).contains([1e-20, 0.0])
    assert WeightedLpBall(2, np.array([1e300, 1.0]), 5e-324).contains([1e-330, 0.0])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([1.0, 2.0, math.inf]),
       st.lists(st.tuples(_edge_floats, _edge_floats.filter(lambda s: s > 0)), min_size=1, max_size=4),
       _edge_floats)
def test_contains_never_true_outside_over_the_whole_float_range(p, pts, gap):
    """Points, scales and gaps from 0 and the subnormals to the largest double: a True is a
    promise (exact rational check), and a point clearly inside (1e-9 relative) is found inside."""
    delta = [d for d, _ in pts]
    scales = np.array([s for _, s in pts])
    reg = WeightedLpBall(p, scales, gap)
    got = reg.contains(delta)
    if got:
        assert _exact_inside(delta, scales, gap, p), (p, delta, scales.tolist(), gap)
    if math.isfinite(gap) and _exact_inside(delta, scales, Fraction(gap) * (1 - Fraction(1, 10**6)), p):
        assert got, (p, delta, scales.tolist(), gap)


@pytest.mark.parametrize("scales, gap", [(np.array([1e300, 1.0]), 1e10), (np.array([1e-300, 1e-20]), 1e-30),
                                         (np.array([1.7e308]), 2.0), (np.array([5e-324, 3e-324]), 0.75)])
def test_axes_and_enclosed_radius_are_lower_bounds(scales, gap):
    """Semi-axes and the enclosed radius never above ``gap * scale`` (subnormal products round
    to nearest: one step down), the largest double where that overflows, never inf."""
    reg = WeightedLpBall(2, scales, gap)
    for a, s in zip(reg.axes(), scales):
        assert math.isfinite(a) and Fraction(float(a)) <= Fraction(gap) * Fraction(float(s))
        if Fraction(gap) * Fraction(float(s)) > Fraction(float(np.finfo(float).max)):
            assert a == float(np.finfo(float).max)
    enc = reg.enclosed_radius()
    assert math.isfinite(enc) and Fraction(enc) <= Fraction(gap) * Fraction(float(scales.min()))
    assert math.isfinite(reg.proxy_radius())
