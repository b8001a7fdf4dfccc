"""Properties every registered certificate must have (parametrized over ``sc.certificates()``).

A certificate registered later is picked up automatically: instances come from
``cls.from_std(std, dim=DIM)``; the class attributes ``scale_param``, ``isotropic_counterpart``,
``binary_only``, ``expensive`` and ``twin_rtol`` steer the checks. Expensive certificates get
fewer hypothesis examples.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds import certificate_class
from smoothcert.bounds.family import noise_family

DIM = 4
NAMES = sc.certificates()
ANISOTROPIC = [n for n in NAMES if certificate_class(n).isotropic_counterpart]
MULTICLASS = [n for n in NAMES if not certificate_class(n).binary_only]


def budget(name, cheap=25, expensive=5):
    """Hypothesis settings for one certificate: fewer examples for expensive ones; scaled up
    with the loaded profile (SMOOTHCERT_HYPOTHESIS=thorough gives 10x)."""
    factor = max(1, settings.default.max_examples // 60)
    n = factor * (expensive if certificate_class(name).expensive else cheap)
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck))


def run(name, test, cheap=25):
    budget(name, cheap)(test)()


def make(name, std=0.5):
    return certificate_class(name).from_std(std, dim=DIM)


def mpf(x):
    return mp.mpf(float(x))


def mp_close(a, b, rtol):
    """|a - b| <= rtol |b|, with equal infinities counting as close."""
    if mp.isinf(a) or mp.isinf(b):
        return a == b
    return abs(a - b) <= rtol * abs(b)


# -- strategies --------------------------------------------------------------------------------
EXTREME_PA = [0.0, 1e-300, 0.5, 0.5 + 2**-53, 0.75, 1 - 1e-15, 1 - 2**-53, 1.0]
EXTREME_PB = [0.0, 5e-324, 1e-300, 1e-16, 1e-3]
scales = st.floats(1e-6, 1e6)

pa_any = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from(EXTREME_PA),
    st.floats(1e-16, 1e-2).map(lambda e: 1.0 - e),
)


@st.composite
def pair(draw, pa=pa_any):
    """(pA, pB) with pA + pB <= 1, including pB down to subnormals and pA within 1e-15 of 1."""
    a = draw(pa)
    room = 1.0 - a
    b = draw(
        st.one_of(
            st.floats(0.0, 1.0).map(lambda f: f * room),
            st.sampled_from(EXTREME_PB).filter(lambda v: v <= room),
            st.floats(1e-300, 1e-10).filter(lambda v: v <= room),
        )
    )
    return a, b


@st.composite
def moderate_pair(draw):
    """Away from the extremes: both in [1e-4, 1 - 1e-4] and pA - pB >= 0.05."""
    a = draw(st.floats(0.06, 0.999))
    b = draw(st.floats(1e-4, min(a - 0.05, 1 - a)))
    return a, b


def _case(name, pa, pb):
    """pb, or None for binary-only theorems (they are tested in the binary case)."""
    return None if certificate_class(name).binary_only else pb


# -- soundness and twins -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_radius_never_above_twin(name):
    """Over the whole range (pA near 1, pB down to 1e-300, scales 1e-6..1e6): finite-or-inf,
    never NaN, never negative, and never above the mpmath value."""

    @given(pair(), scales, st.booleans())
    def check(ab, std, binary):
        pa, pb = ab
        cert = make(name, std)
        pb = None if binary else _case(name, pa, pb)
        r = cert.radius(pa, pb)
        exact = cert.radius_mp(pa, pb)
        assert isinstance(r, float) and not math.isnan(r) and r >= 0.0
        assert mpf(r) <= exact, (pa, pb, std, r, exact)
        if mp.isfinite(exact):
            assert math.isfinite(r)

    run(name, check)


@pytest.mark.parametrize("name", NAMES)
def test_twin_agreement_away_from_extremes(name):
    cls = certificate_class(name)

    @given(moderate_pair(), scales, st.booleans())
    def check(ab, std, binary):
        pa, pb = ab
        cert = make(name, std)
        pb = None if binary else _case(name, pa, pb)
        r, exact = cert.radius(pa, pb), cert.radius_mp(pa, pb)
        assert abs(mpf(r) - exact) <= cls.twin_rtol * exact, (pa, pb, std, r, exact)

    run(name, check)


@pytest.mark.parametrize("name", NAMES)
def test_vectorized_equals_scalar(name):
    cert = make(name)
    pa = np.array([0.3, 0.6, 0.9, 0.999, 1.0])
    pb = None if certificate_class(name).binary_only else np.array([0.2, 0.1, 0.05, 1e-300, 0.0])
    r = cert.radius(pa, pb)
    assert r.shape == pa.shape
    for i in range(pa.size):
        assert r[i] == cert.radius(pa[i], None if pb is None else pb[i])


# -- shape of the bound ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_monotone_increasing_in_pa(name):
    def check(ab):
        _, b = ab
        cert = make(name)
        pb = _case(name, 0.0, b)
        lo = 0.0 if pb is None else pb
        pa = np.unique(np.concatenate([np.linspace(lo, 1.0 - (0 if pb is None else pb), 15),
                                       [1 - 1e-15, 1 - 2**-53]]))
        pa = pa[(pa + (0 if pb is None else pb)) <= 1.0]
        r = cert.radius(pa, None if pb is None else np.full(pa.shape, pb))
        assert np.all(r[:-1] <= r[1:] * (1 + 1e-13)), (pb, pa, r)
        assert r[0] == 0.0

    run(name, given(pair())(check), cheap=10)


@pytest.mark.parametrize("name", MULTICLASS)
def test_non_increasing_in_pb(name):
    def check(pa):
        cert = make(name)
        pb = np.unique(np.concatenate([np.linspace(0.0, 1.0 - pa, 15), [1e-300, 5e-324]]))
        pb = pb[pb <= 1.0 - pa]
        r = cert.radius(np.full(pb.shape, pa), pb)
        assert np.all(r[1:] <= r[:-1] * (1 + 1e-13)), (pa, pb, r)
        if pa <= 0.5:
            assert cert.radius(pa, pa) == 0.0

    run(name, given(pa_any)(check), cheap=10)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_certified_gives_zero(name):
    cert = make(name)
    for pa in (0.0, 0.2, 0.5):
        assert cert.radius(pa) == 0.0
        assert cert.radius_mp(pa) == 0
    if not certificate_class(name).binary_only:
        for pa, pb in ((0.3, 0.3), (0.2, 0.4), (0.0, 0.0), (0.5, 0.5)):
            assert cert.radius(pa, pb) == 0.0
            assert cert.radius_mp(pa, pb) == 0


@pytest.mark.parametrize("name", NAMES)
def test_linear_in_noise_scale(name):
    cls = certificate_class(name)

    @given(moderate_pair(), st.floats(1e-6, 1e6), st.booleans())
    def check(ab, t, binary):
        pa, pb = ab
        pb = None if binary else _case(name, pa, pb)
        base, scaled = make(name, 1.0), make(name, t)
        r1, rt = base.radius_mp(pa, pb), scaled.radius_mp(pa, pb)
        assert abs(rt - mpf(t) * r1) <= cls.twin_rtol * rt
        f1, ft = base.radius(pa, pb), scaled.radius(pa, pb)
        assert abs(ft - t * f1) <= 3 * cls.twin_rtol * ft

    run(name, check)


@pytest.mark.parametrize("name", ANISOTROPIC)
def test_equal_scales_equal_isotropic_counterpart(name):
    cls = certificate_class(name)
    iso = certificate_class(cls.isotropic_counterpart)

    @given(pair(), scales, st.integers(1, 6), st.booleans())
    def check(ab, s, d, binary):
        pa, pb = ab
        pb = None if binary else _case(name, pa, pb)
        aniso = cls.from_std(np.full(d, s))
        ref = iso.from_std(s)
        assert mp_close(aniso.radius_mp(pa, pb), ref.radius_mp(pa, pb), mp.mpf(10) ** -40)
        ra, rr = aniso.radius(pa, pb), ref.radius(pa, pb)
        assert ra == rr or abs(ra - rr) <= 2 * cls.twin_rtol * rr

    run(name, check)


@pytest.mark.parametrize("name", MULTICLASS)
def test_binary_equals_multiclass_at_complement(name):
    cls = certificate_class(name)

    @given(st.one_of(st.floats(0.5, 1.0), st.sampled_from([1 - 1e-15, 1.0, 0.5])), scales)
    def check(pa, std):
        cert = make(name, std)
        pb = 1.0 - pa  # exact for pa >= 1/2
        rb, rm = cert.radius_mp(pa), cert.radius_mp(pa, pb)
        # to 30 digits, or to what the twin works at less 4 (the quadrature twins: 20 digits)
        digits = min(cert._working_dps(pa, pb, 50), 34) - 4
        assert mp_close(rb, rm, mp.mpf(10) ** -digits), (pa, std, rb, rm)
        fb, fm = cert.radius(pa), cert.radius(pa, pb)
        if math.isinf(fb) or math.isinf(fm):
            assert fb == fm
        else:
            assert abs(fb - fm) <= 2 * cls.twin_rtol * max(fb, fm) + 1e-300

    run(name, check)


@pytest.mark.parametrize("name", [n for n in NAMES if certificate_class(n).binary_only])
def test_binary_only_refuses_p_b(name):
    cert = make(name)
    with pytest.raises(ValueError, match="p_b"):
        cert.radius(0.9, 0.05)
    with pytest.raises(ValueError, match="p_b"):
        cert.radius_mp(0.9, 0.05)
    if hasattr(cert, "gap"):
        with pytest.raises(ValueError, match="p_b"):
            cert.region(0.9, 0.05)
        with pytest.raises(ValueError, match="p_b"):
            cert.gap_mp(0.9, 0.05)


# -- regions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ANISOTROPIC)
def test_radius_is_the_enclosed_ball_of_the_region(name):
    cls = certificate_class(name)

    @given(moderate_pair(), st.lists(scales, min_size=1, max_size=6), st.booleans())
    def check(ab, sig, binary):
        pa, pb = ab
        pb = None if binary else pb
        cert = cls.from_std(np.array(sig))
        reg = cert.region(pa, pb)
        r, exact = cert.radius(pa, pb), cert.radius_mp(pa, pb)
        enc = reg.enclosed_radius()
        assert mpf(enc) <= exact and mpf(r) <= exact
        assert abs(enc - r) <= 2 * cls.twin_rtol * r
        assert reg.p == {"l1": 1.0, "l2": 2.0, "linf": math.inf}[cls.norm]

    run(name, check)


def test_ars_thm41_equals_enclosed_ball_of_ancer_ellipsoid():
    """ARS Thm 4.1's radius is the largest l2 ball inside ANCER Cor. 1's ellipsoid."""

    @settings(max_examples=40, deadline=None)
    @given(moderate_pair(), st.lists(scales, min_size=1, max_size=8))
    def check(ab, sig):
        pa, pb = ab
        ars = sc.get("ars-gaussian-l2", sigma=np.array(sig))
        ancer = sc.get("ancer-ellipsoid", sigma=np.array(sig))
        enc = ancer.region(pa, pb).enclosed_radius()
        assert mpf(enc) <= ars.radius_mp(pa, pb)
        assert abs(ars.radius(pa, pb) - enc) <= 1e-13 * enc
        # the ball's boundary point on the shortest axis is (within rounding) on the ellipsoid
        i = int(np.argmin(sig))
        e = np.zeros(len(sig))
        e[i] = enc * (1 - 1e-9)
        assert ancer.region(pa, pb).contains(e)
        e[i] = enc * (1 + 1e-9) / (1 - 1e-13)
        assert not ancer.region(pa, pb).contains(e)

    check()


# -- bad input ---------------------------------------------------------------------------------
BAD_PAIRS = [
    ((float("nan"), None), ValueError, "p_a"),
    ((1.5, None), ValueError, "p_a"),
    ((-0.1, None), ValueError, "p_a"),
    (("0.9", None), TypeError, "p_a"),
    ((None, None), TypeError, "p_a"),
    ((0.9, float("nan")), ValueError, "p_b"),
    ((0.9, -1e-3), ValueError, "p_b"),
    ((0.9, 1.2), ValueError, "p_b"),
    ((0.9, "x"), TypeError, "p_b"),
    ((0.7, 0.4), ValueError, "p_a"),
    (([0.9, 0.8], [0.1, 0.1, 0.05]), ValueError, "p_a"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("args, exc, word", BAD_PAIRS)
def test_bad_probabilities_raise_naming_the_argument(name, args, exc, word):
    cert = make(name)
    pa, pb = args
    with pytest.raises(exc, match=word):
        cert.radius(pa, pb)
    if np.ndim(pa) == 0:
        with pytest.raises(exc, match=word):
            cert.radius_mp(pa, pb)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, exc", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                      (float("inf"), ValueError), ("0.5", TypeError)])
def test_bad_scale_raises_naming_the_argument(name, bad, exc):
    cls = certificate_class(name)
    with pytest.raises(exc) as info:
        cls.from_std(bad, dim=DIM)
    msg = str(info.value)
    assert cls.scale_param in msg or "std" in msg or "sigma" in msg, msg
    with pytest.raises(exc) as info:
        cls.from_std(0.5, dim=DIM, **{_own(cls): bad})
    assert cls.scale_param in str(info.value) or _own(cls) in str(info.value)


def _own(cls):
    """The family's own from_std keyword: its scale parameter (sigma, scale, half_width, sigmas)."""
    return noise_family(cls.family).scale_param


@pytest.mark.parametrize("name", ANISOTROPIC)
def test_anisotropic_scales_array_checked(name):
    cls = certificate_class(name)
    for bad in ([0.5, -0.1, 0.2], [0.5, np.nan], [], [[0.5, 0.0]]):
        with pytest.raises(ValueError, match=cls.scale_param):
            sc.get(name, **{cls.scale_param: np.array(bad)})
    with pytest.raises(ValueError, match="dim"):
        cls.from_std(np.ones(3), dim=4)


@pytest.mark.parametrize("name", NAMES)
def test_descriptive_attributes(name):
    cls = certificate_class(name)
    cert = make(name)
    assert cls.citation and cls.formula and cls.scale_param
    assert cls.norm in ("l1", "l2", "linf")
    assert isinstance(cls.tight, bool)
    assert cert.noise.family
    if cls.isotropic_counterpart:
        assert cls.isotropic_counterpart in NAMES


# -- the whole float range of the scale parameter ----------------------------------------------
MAX = float(np.finfo(float).max)
EXTREME_SCALES = [5e-324, 1e-310, 2.2250738585072014e-308, 1.3e-160, 1e-6, 1.0, 1.34e154, 2e154,
                  1e300, 1e308, MAX]
scales_whole = st.one_of(st.sampled_from(EXTREME_SCALES),
                         st.floats(5e-324, MAX, allow_subnormal=True))


def make_scaled(name, s):
    """The certificate with its own scale parameter (sigma, scale or half_width) set to ``s``
    (a scalar, broadcast to DIM coordinates by the anisotropic families)."""
    return certificate_class(name).from_std(1.0, dim=DIM, **{_own(certificate_class(name)): s})


@pytest.mark.parametrize("name", NAMES)
def test_radius_over_the_whole_scale_range(name):
    """Scales from the smallest subnormal to the largest double: never
    above the twin, finite where the twin is finite, the largest double where the exact radius is
    above it, inf only where the twin is inf."""

    @given(pair(), scales_whole, st.booleans())
    def check(ab, s, binary):
        pa, pb = ab
        cert = make_scaled(name, s)
        pb = None if binary else _case(name, pa, pb)
        r, exact = cert.radius(pa, pb), cert.radius_mp(pa, pb)
        assert isinstance(r, float) and not math.isnan(r) and r >= 0.0
        assert mpf(r) <= exact, (pa, pb, s, r, exact)
        if mp.isinf(exact):
            return
        assert math.isfinite(r), (pa, pb, s, r, exact)
        if exact > MAX * (1 + mp.mpf(2) ** -40):  # the float budget cannot reach MAX otherwise
            assert r == MAX, (pa, pb, s, r, exact)

    run(name, check, cheap=15)


@pytest.mark.parametrize("name", NAMES)
def test_overflowing_radius_is_the_largest_double(name):
    """A scale near the largest double and a gap above 1: the exact radius exceeds every double,
    so the float radius is the largest double (not inf); pA = 1 stays inf where the twin says so."""
    cert = make_scaled(name, MAX / 4)
    pa, pb = (0.999999, None) if certificate_class(name).binary_only else (0.999999, 1e-7)
    exact, r = cert.radius_mp(pa, pb), cert.radius(pa, pb)
    assert mpf(r) <= exact and math.isfinite(r)
    if exact > MAX:  # every family but the uniform (gap <= 1) and mixture (gap <= 1.26) ones
        assert r == MAX
    if mp.isinf(cert.radius_mp(1.0)):
        assert cert.radius(1.0) == math.inf


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dps, exc", [(-5, ValueError), (0, ValueError), (14, ValueError),
                                      (2.5, TypeError), ("50", TypeError), (None, TypeError),
                                      (True, TypeError), (10_001, ValueError),
                                      (10**6, ValueError), (2**70, ValueError)])
def test_bad_dps_raises_naming_dps(name, dps, exc):
    """radius_mp(dps=-5) used to return inf (cohen) or 1.0 (uniform); dps must be an int >= 15.
    dps = 2**70 raised mpmath's OverflowError and 10**6 ran for ever: at most MAX_DPS = 10,000."""
    cert = make(name)
    with pytest.raises(exc, match="dps"):
        cert.radius_mp(0.9, dps=dps)
    if hasattr(cert, "gap_mp"):
        with pytest.raises(exc, match="dps"):
            cert.gap_mp(0.9, dps=dps)


@pytest.mark.parametrize("pb", [1e-60, 1e-200, 5e-324])
def test_zhang_l1_k0_twin_in_the_deep_tail(pb):
    """zhang-l1 at k = 0 (Laplace) below pB ~ 1e-50: 1 - pB was 1 at 50 digits and the bracket
    doubled forever. For pA = 0.9 the boundary lies where both Neyman-Pearson bounds are on their
    exponential branches (Teng et al. 2020): e^-rt / (4 (1 - pA)) = pB e^rt, so
    R = b/2 log(1 / (4 (1 - pA) pB)), an independent closed form."""
    cert = sc.get("zhang-l1", scale=0.5 / math.sqrt(2), k=0, dim=4)
    with mp.workdps(60):
        ref = mpf(0.5 / math.sqrt(2)) / 2 * mp.log(1 / (4 * (1 - mpf(0.9)) * mpf(pb)))
        assert abs(cert.radius_mp(0.9, pb) - ref) <= mp.mpf(10) ** -45 * ref
    assert mpf(cert.radius(0.9, pb)) <= ref


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.floats(1e-300, 1.0), min_size=2, max_size=3),
       st.lists(scales_whole, min_size=2, max_size=3), pair())
def test_mixture_over_the_whole_sigma_range(wraw, sig, ab):
    """ancer-gaussian-mixture squared sigma in float64: inf above sigma ~ 1.34e154 and an
    over-report with a subnormal sigma^2 and a small weight."""
    k = min(len(wraw), len(sig))
    w = np.array(wraw[:k]) / math.fsum(wraw[:k])
    cert = sc.get("ancer-gaussian-mixture", weights=w, sigmas=np.array(sig[:k]))
    pa, pb = ab
    r, exact = cert.radius(pa, pb), cert.radius_mp(pa, pb)
    assert mpf(r) <= exact, (w, sig, pa, pb, r, exact)
    assert math.isfinite(r)


@pytest.mark.parametrize("weights, sigmas, pa", [
    ([1.0], [2e154], 0.9),
    ([1e-12, 1 - 1e-12], [1.3e-160, 1.0], 0.9),
    ([1e-12, 1 - 1e-12], [1.3e-160, 1.0], 0.6),
    ([0.5, 0.5], [1e-300, 1e308], 0.99),
    ([0.5, 0.5], [1e308, 1.7e308], 0.99),
])
def test_mixture_issue_examples(weights, sigmas, pa):
    cert = sc.get("ancer-gaussian-mixture", weights=weights, sigmas=sigmas)
    r, exact = cert.radius(pa), cert.radius_mp(pa)
    assert mpf(r) <= exact and abs(mpf(r) - exact) <= 1e-12 * exact, (r, exact)
