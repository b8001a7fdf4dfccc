"""Probabilities of non-float64 types are rounded in the safe direction.

``Fraction``, ``Decimal``, ``mpmath.mpf``, ``np.longdouble`` and Python ints are converted to the
nearest double and then compared back exactly: p_A moves down and p_B up by one ulp where the
nearest double is on the wrong side. Each test compares against the exact value of the input.
"""

from __future__ import annotations

import decimal
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds import certificate_class, get
from smoothcert.core.checks import as_float_array, check_alpha, check_probability_pair

DPS = 60
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# -- exact values and the types they are handed in as -------------------------------------------
def exact_of(x) -> Fraction:
    """The exact rational value of an input of any of the supported types."""
    if isinstance(x, mp.mpf):
        man, exp = x.man_exp
        return Fraction(int(man)) * Fraction(2) ** int(exp)
    if isinstance(x, np.longdouble):
        return Fraction(*x.as_integer_ratio())
    return Fraction(x)


def as_type(q: Fraction, kind: str):
    """``q`` handed in as ``kind``; the value handed in may differ from ``q`` (Decimal, mpf,
    longdouble round it): compare against ``exact_of`` of the result."""
    if kind == "fraction":
        return q
    if kind == "decimal":
        with decimal.localcontext() as ctx:
            ctx.prec = DPS
            return decimal.Decimal(q.numerator) / decimal.Decimal(q.denominator)
    if kind == "mpf":
        with mp.workdps(DPS):
            return mp.mpf(q.numerator) / q.denominator
    if kind == "longdouble":
        return np.longdouble(q.numerator) / np.longdouble(q.denominator)
    if kind == "object-array":
        return np.array([q], dtype=object)
    raise AssertionError(kind)


KINDS = ["fraction", "decimal", "mpf", "longdouble", "object-array"]


def exact_scalar(x) -> Fraction:
    return exact_of(x[0]) if isinstance(x, np.ndarray) else exact_of(x)


# probabilities close to doubles, to 1/2 and to 1, and far below the smallest double
offsets = st.integers(1, 10**6).map(lambda k: Fraction(k, 10**30))
near_double = st.builds(
    lambda f, d, s: min(max(Fraction(f) + s * d, Fraction(0)), Fraction(1)),
    st.floats(0.0, 1.0),
    offsets,
    st.sampled_from([-1, 1]),
)
near_one = st.integers(10, 40).map(lambda e: 1 - Fraction(1, 10**e) * 3)
near_half = offsets.map(lambda d: Fraction(1, 2) + d)
tiny = st.integers(300, 420).map(lambda e: Fraction(7, 10**e))
exact_p = st.one_of(near_double, near_one, near_half, tiny)


# -- the conversion itself ------------------------------------------------------------------------
@FAST
@given(q=exact_p, kind=st.sampled_from(KINDS), role=st.sampled_from(["p_a", "p_b"]))
def test_conversion_rounds_toward_safety_by_at_most_one_ulp(q, kind, role):
    x = as_type(q, kind)
    exact = exact_scalar(x)
    if role == "p_a":
        pa, _, _ = check_probability_pair(x, None)
        v = float(np.ravel(pa)[0])
        assert Fraction(v) <= exact < Fraction(float(np.nextafter(v, 2.0))) or v == 1.0 == exact
    else:
        _, pb, _ = check_probability_pair(0.0, x)
        v = float(np.ravel(pb)[0])
        assert Fraction(float(np.nextafter(v, -1.0))) < exact <= Fraction(v) or v == 0.0 == exact


def test_narrow_floats_convert_exactly():
    for dtype in (np.float16, np.float32):
        vals = np.array([0.1, 1 / 3, 0.5, 1 - 1e-7, 6e-8, 1.0], dtype=dtype)
        pa, pb, _ = check_probability_pair(vals, np.zeros_like(vals))
        assert (pa == vals.astype(np.float64)).all() and (pb == 0).all()


@pytest.mark.parametrize(
    "bad",
    [Fraction(10**30 + 1, 10**30), decimal.Decimal("-1e-999"), -Fraction(1, 10**400), 10**400],
)
def test_values_just_outside_0_1_are_refused_exactly(bad):
    with pytest.raises(ValueError, match="p_a must be a probability"):
        check_probability_pair(bad, None)


def test_alpha_rounds_down_and_refuses_below_the_smallest_double():
    assert Fraction(check_alpha(Fraction(1, 3))) < Fraction(1, 3)
    with pytest.raises(ValueError, match="alpha"):
        check_alpha(Fraction(1, 10**400))


def test_as_float_array_rejects_unknown_rounding_and_strings_inside_arrays():
    with pytest.raises(ValueError, match="rounding"):
        as_float_array("x", 0.5, rounding="sideways")
    with pytest.raises(TypeError, match="x must be numeric"):
        as_float_array("x", np.array(["0.5"], dtype=object))


# -- the issue's examples --------------------------------------------------------------------------
def test_issue_examples_never_exceed_the_exact_radius():
    cert = get("cohen-gaussian-l2", sigma=1.0)
    with mp.workdps(DPS):
        q = Fraction(10**18 - 1, 10**18)
        r = cert.radius(q)
        assert np.isfinite(r) and r <= mp.sqrt(2) * mp.erfinv(2 * mp.mpf(q.numerator) / q.denominator - 1)
        tiny_b = mp.mpf("1e-400")
        r = cert.radius(0.9, tiny_b)
        exact = (mp.sqrt(2) * mp.erfinv(mp.mpf("0.8")) - mp.sqrt(2) * mp.erfinv(2 * tiny_b - 1)) / 2
        assert np.isfinite(r) and r <= exact  # exact 22.05
        half = mp.mpf("0.50000000000000006")
        assert cert.radius(half) <= mp.sqrt(2) * mp.erfinv(2 * half - 1)
        # radius_mp reads the same safely rounded values
        assert cert.radius_mp(half) == 0


# -- every registered certificate ------------------------------------------------------------------
def exact_radius(cert, pa, pb):
    """The twin at the exact input (not at its double, converted at DPS digits), evaluated at the
    digits the twin itself works at for DPS (as ``radius_mp`` does: the quadrature twins cap
    them at 20, the closed forms keep DPS or more)."""
    with mp.workdps(DPS):
        a = mp.mpf(exact_scalar(pa).numerator) / exact_scalar(pa).denominator
        b = None if pb is None else mp.mpf(exact_scalar(pb).numerator) / exact_scalar(pb).denominator
    with mp.workdps(cert._working_dps(float(a), None if b is None else float(b), DPS)):
        return max(cert._radius_mp(a, b), mp.mpf(0))


@st.composite
def pair(draw, multiclass: bool, expensive: bool):
    pa = draw(st.one_of(near_one, near_half, near_double.filter(lambda q: q > Fraction(1, 2))))
    if not multiclass or draw(st.booleans()):
        return pa, None
    room = 1 - pa
    if expensive:  # keep the expensive twins (Zhang et al.) in their fast range
        pb = draw(st.sampled_from([Fraction(1, 10**30), Fraction(1, 10**12)]))
    else:
        pb = draw(st.one_of(tiny, st.sampled_from([Fraction(1, 10**20), Fraction(1, 10**3)])))
    return pa, min(pb, room)


@pytest.mark.parametrize("name", sc.certificates())
def test_radius_at_any_input_type_never_exceeds_the_exact_radius(name):
    cls = certificate_class(name)
    cert = cls.from_std(0.5, dim=4)
    examples = 4 if cls.expensive else 25

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(p=pair(not cls.binary_only, cls.expensive), kind=st.sampled_from(KINDS))
    def check(p, kind):
        pa = as_type(p[0], kind)
        pb = None if p[1] is None else as_type(p[1], kind)
        if exact_scalar(pa) + (0 if pb is None else exact_scalar(pb)) > 1:
            return  # rounding of Decimal/mpf/longdouble pushed the pair past 1
        r = float(np.ravel(cert.radius(pa, pb))[0])
        exact = exact_radius(cert, pa, pb)
        assert r <= exact * (1 + mp.mpf(10) ** -40) or (mp.isinf(exact) and r == np.inf), (
            name, kind, p, r, exact)

    check()
