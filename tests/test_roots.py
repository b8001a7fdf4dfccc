"""core/roots.py: the bounded bracketing / bisection / Illinois helper.

Properties over whole families of monotone conditions (thresholds anywhere in the float range),
the side a bracket is returned on, and the step budget: a condition that never fails raises
instead of spinning forever.
"""

import math
from fractions import Fraction

import mpmath as mp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smoothcert.core.roots import MAX_STEPS, RootSearchError, bisect, expand, illinois, walk

thresholds = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False)


@given(t=thresholds, start=st.floats(min_value=1e-300, max_value=1e-200))
def test_expand_brackets_any_threshold(t, start):
    """Doubling from a tiny start brackets every threshold in the float range, inside the budget;
    ``inside`` holds, ``outside`` fails, and they are one doubling apart."""
    calls = []

    def below(x):
        calls.append(x)
        return x <= t

    br = expand(below, walk(start, start, 2), inside=start if start <= t else None)
    assert br.outside is not None and br.outside > t
    assert br.inside is None or br.inside <= t
    assert br.inside is None or br.outside == 2 * br.inside
    assert len(calls) < MAX_STEPS


@given(t=thresholds)
def test_bisect_returns_the_held_side_to_the_last_ulp(t):
    """Float bisection of ``x <= t`` on [0, 2^1000] ends with adjacent floats, ``inside`` <= t."""
    br = bisect(lambda x: x <= t, 0.0, 2.0**1000)
    assert br.inside <= t < br.outside
    assert br.outside == math.nextafter(br.inside, math.inf)


@given(t=st.integers(min_value=0, max_value=10**6), n=st.integers(min_value=1, max_value=10**6))
def test_integer_bisection(t, n):
    """Integer bisection (``midpoint = floor``) finds the largest index whose test holds."""
    top = t + n
    br = bisect(lambda j: j <= t, 0, top, midpoint=lambda a, b: (a + b) // 2)
    assert (br.inside, br.outside) == (t, t + 1)


@given(t=st.floats(min_value=-50, max_value=50), power=st.integers(min_value=1, max_value=7))
def test_illinois_brackets_the_root_of_increasing_functions(t, power):
    """Illinois on the decreasing value ``(t - x)^power`` (odd powers: a sign change at t) returns a
    bracket of width <= tol whose inside end is a point where the value was >= 0."""
    power = 2 * power - 1
    f = lambda x: (t - x) ** power  # noqa: E731
    br = illinois(f, -100.0, 100.0, f(-100.0), f(100.0), 1e-9)
    assert br.inside <= t <= br.outside or math.isclose(br.inside, t, abs_tol=1e-9)
    assert br.f_inside >= 0 and br.f_outside < 0
    assert abs(br.outside - br.inside) <= 1e-9


def test_illinois_decreasing_side_order():
    """The held side may be the upper end (a condition that holds above the threshold)."""
    f = lambda x: x - 3.0  # noqa: E731
    br = illinois(f, 10.0, 0.0, f(10.0), f(0.0), 1e-12)
    assert 3.0 <= br.inside <= 3.0 + 1e-12 and br.outside < 3.0


def test_expand_never_spins_forever():
    """A condition that never fails on an endless walk raises after the budget (the old
    ``while True`` doubling loops had no cap)."""
    with pytest.raises(RootSearchError, match="still holds"):
        expand(lambda x: x, walk(1.0, 1.0, 2), lambda x: True, max_steps=50)


def test_expand_nan_walk_raises():
    """A NaN step never reaches its limit: the budget stops it."""
    with pytest.raises(RootSearchError):
        expand(lambda x: x, walk(0.0, math.nan, 2, limit=10.0), lambda x: True)


def test_bisect_that_cannot_close_raises():
    """A tolerance the arithmetic cannot reach (exact rationals never meet at a midpoint) raises."""
    with pytest.raises(RootSearchError, match="did not close"):
        bisect(lambda x: x * x <= 2, Fraction(1), Fraction(2), max_steps=100)


def test_walk_with_limit_is_finite_and_ends_at_limit():
    pts = list(walk(0.0, 1.0, 4, limit=700.0))
    assert pts[-1] == 700.0 and all(a < b for a, b in zip(pts, pts[1:]))
    down = list(walk(0.0, -1.0, 4, limit=-700.0))
    assert down[-1] == -700.0
    br = expand(lambda x: x, walk(0.0, 1.0, 4, limit=700.0), lambda x: True)
    assert br.outside is None and br.inside == 700.0


def test_mpmath_values():
    """mpmath numbers: bisection to adjacent mpf values at the working precision."""
    with mp.workdps(30):
        br = bisect(lambda x: x * x < 2, mp.mpf(1), mp.mpf(2))
        assert br.inside < mp.sqrt(2) <= br.outside
        assert br.outside - br.inside <= mp.mpf(2) ** (-mp.mp.prec + 1)
