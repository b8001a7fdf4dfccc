"""Torch-free separation geometry of certified regions (bounds/separation.py).

Reference values come from geometry, not from the code under test: two l2 balls are disjoint iff
the distance of the centres exceeds the sum of the radii (checked in exact rational arithmetic);
in 2-D the largest disjoint scale of two weighted balls is found by brute force over a dense
boundary parameterization; the gauge is bracketed against its exact rational value.
"""

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smoothcert.bounds.regions import WeightedLpBall
from smoothcert.bounds.separation import (
    best_separation_scale,
    gauge_bounds,
    inner_region,
    region_axes,
    separation_scale,
)


def _gauge(p, axes, v):
    return float(np.linalg.norm(v / axes, ord=p))


def _brute_scale(p, a, axes_a, b, axes_b, m=20000):
    """Largest t such that b + t*B misses a + A (2-D), by bisection on a dense boundary."""
    phi = np.linspace(0, 2 * np.pi, m, endpoint=False)
    if p == 2:
        unit = np.stack([np.cos(phi), np.sin(phi)], 1)
    else:  # boundary of the l1 unit ball
        c, s = np.cos(phi), np.sin(phi)
        unit = np.stack([c, s], 1) / (np.abs(c) + np.abs(s))[:, None]

    def hits(t):
        pts = b + t * unit * axes_b
        g = np.linalg.norm((pts - a) / axes_a, ord=p, axis=1)
        return g.min() <= 1 or _gauge(p, t * axes_b, a - b) <= 1

    lo, hi = 0.0, 1e3
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if hits(mid) else (mid, hi)
    return lo



@settings(max_examples=25, deadline=None)
@given(p=st.sampled_from([1, 2]),
       d=st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
       aa=st.tuples(st.floats(0.2, 2), st.floats(0.2, 2)),
       bb=st.tuples(st.floats(0.2, 2), st.floats(0.2, 2)))
def test_separation_scale_is_sound_and_tight_in_2d(p, d, aa, bb):
    d, aa, bb = np.array(d), np.array(aa), np.array(bb)
    if _gauge(p, aa, d) <= 1.05:  # centre inside the stored region: reassignment, not shrinking
        return
    t = best_separation_scale(d, aa, float(p), bb, float(p))
    brute = _brute_scale(p, np.zeros(2), aa, d, bb)
    assert t <= brute * (1 + 1e-6) + 1e-9  # sound (brute force over-estimates, never under)
    assert t >= brute * (1 - 2e-3) - 1e-6  # and tight


def _exact_gauge_power(x, centre, scales, p):
    """``||(x - centre) / scales||_p ** p`` exactly (p = 1 or 2), as a Fraction."""
    terms = [abs(Fraction(float(a)) - Fraction(float(c))) / Fraction(float(s))
             for a, c, s in zip(x, centre, scales)]
    return sum(t ** p for t in terms)


@settings(max_examples=60, deadline=None)
@given(p=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1),
       log_scale=st.sampled_from([0.0, -300.0, -315.0, 300.0]), dim=st.sampled_from([1, 3, 50]))
def test_gauge_bounds_bracket_the_exact_gauge(p, seed, log_scale, dim):
    # any magnitude, subnormal scales included: lo <= exact gauge <= hi, in exact arithmetic
    rng = np.random.default_rng(seed)
    scales = 10.0 ** (log_scale + rng.uniform(-1, 1, size=dim))
    centre = rng.normal(size=dim) * scales
    x = centre + rng.normal(size=dim) * scales
    lo, hi = gauge_bounds(WeightedLpBall(p, scales, 1.0), x, centre)
    exact = _exact_gauge_power(x, centre, scales, p)
    assert Fraction(lo) ** p <= exact <= Fraction(hi) ** p
    assert hi <= lo * (1 + 1e-12) + 1e-300  # and tight


@settings(max_examples=40, deadline=None)
@given(p=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1), frac=st.floats(0.0, 1.0))
def test_inner_region_lies_inside_the_region(p, seed, frac):
    # x + inner region is inside centre + region: gauge(x - centre) + inner gap <= gap, exactly
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.1, 3.0, size=4)
    region = WeightedLpBall(p, scales, 2.0)
    centre = rng.normal(size=4)
    u = rng.normal(size=4)
    u /= np.linalg.norm(u, ord=p)
    x = centre + frac * 2.0 * u * scales
    inner = inner_region(region, x, centre)
    if inner is None:  # only when x is not provably strictly inside
        assert gauge_bounds(region, x, centre)[1] >= region.gap
        return
    exact = _exact_gauge_power(x, centre, scales, p)
    room = Fraction(region.gap) - Fraction(inner.gap)
    assert room > 0 and exact <= room ** p


@settings(max_examples=60, deadline=None)
@given(log_scale=st.floats(-300, 300), dist=st.floats(1.0, 10.0), ra=st.floats(0.01, 0.99),
       rb=st.floats(0.01, 5.0), dim=st.sampled_from([1, 2, 784]), seed=st.integers(0, 2**32 - 1))
def test_l2_balls_separation_is_sound_and_tight_at_every_magnitude(log_scale, dist, ra, rb, dim, seed):
    # two l2 balls at distance D with radii ra, rb are disjoint after scaling B by t iff
    # D > ra + t rb (exact); the returned t never breaks this, and is the optimum (D - ra)/rb
    # up to the rounding margin
    s = 10.0 ** log_scale
    rng = np.random.default_rng(seed)
    u = rng.normal(size=dim)
    d = u / np.linalg.norm(u) * dist * s
    a, b = np.full(dim, ra * s), np.full(dim, rb * s)
    t = best_separation_scale(d, a, 2.0, b, 2.0)
    d2 = sum(Fraction(float(v)) ** 2 for v in d)
    assert t > 0 and (Fraction(a[0]) + Fraction(t) * Fraction(b[0])) ** 2 < d2
    exact = (math.sqrt(float(d2 / Fraction(s) ** 2)) - ra) / rb
    assert t >= exact * (1 - 1e-9)


def test_separation_scale_rounds_down_and_refuses_non_directions():
    d, a, b = np.array([3.0, 0.0]), np.ones(2), np.ones(2)
    t = separation_scale(d, a, 2.0, b, 2.0, np.array([1.0, 0.0]))
    assert 0 < t < 2.0  # exact 2, rounded down
    assert separation_scale(d, a, 2.0, b, 2.0, np.zeros(2)) == -math.inf  # h_B(0) = 0
    assert separation_scale(d, a, 2.0, b, 2.0, np.array([0.0, 1.0])) < 0  # no separation


def test_region_axes_are_exact_products():
    iso = WeightedLpBall(2, 0.3, 0.7, dim=3)
    assert np.array_equal(region_axes(iso, 3), np.full(3, 0.7 * 0.3))
    aniso = WeightedLpBall(1, np.array([[1.0, 2.0]]), 0.5)
    assert np.array_equal(region_axes(aniso, 2), np.array([0.5, 1.0]))


def test_separation_geometry_needs_no_torch():
    # the layer rule: bounds never import torch
    code = "import sys, smoothcert.bounds.separation; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
