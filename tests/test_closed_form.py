"""Closed-form certificates: known values, worst-case witnesses and family-specific checks.

Expected values come from the math (inverse functions evaluated in mpmath, constructions whose
exact radius is known), never from a first run of the code under test.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds.gaussian import gaussian_gap_mp

FAST = settings(max_examples=40, deadline=None)


def mpf(x):
    return mp.mpf(float(x))


# -- Gaussian ----------------------------------------------------------------------------------
def test_cohen_known_values():
    # Phi(1): the binary radius is exactly sigma.
    with mp.workdps(40):
        pa = float(mp.ncdf(1))
        exact = mp.sqrt(2) * mp.erfinv(2 * mpf(pa) - 1)
    r = sc.get("cohen-gaussian-l2", sigma=0.5).radius(pa)
    assert mpf(r) <= 0.5 * exact and abs(r - 0.5) < 1e-12
    # docs/contributing.md, Statistics: all-correct counts, n = 1e5, alpha = 1e-3 -> 3.8115 sigma.
    r = sc.get("cohen-gaussian-l2", sigma=1.0).radius(0.001 ** (1 / 1e5))
    assert round(r, 4) == 3.8115


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.floats(1e-300, 1.0), st.sampled_from([5e-324, 1e-300, 1 - 1e-15, 0.5])))
def test_gaussian_quantile_twin_inverts_the_cdf(p):
    """The mpmath twin's Phi^-1 is checked against mpmath's ncdf (an independent function)."""
    with mp.workdps(50):
        half = mp.mpf("0.5")
        # gap(pA, pB) = (q(pA) - q(pB))/2 with q(1/2) = 0 recovers q(p) on either side of 1/2
        q = 2 * gaussian_gap_mp(mpf(p), half) if p > 0.5 else -2 * gaussian_gap_mp(half, mpf(p))
        assert abs(mp.ncdf(q) - mpf(p)) <= mp.mpf(10) ** -40 * mpf(p)


@FAST
@given(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=6), st.floats(0.5, 0.9999),
       st.floats(0.0, 1.0))
def test_ars_radius_is_min_sigma_times_cohen(sig, pa, frac):
    pb = frac * (1 - pa)
    ars = sc.get("ars-gaussian-l2", sigma=np.array(sig))
    unit = sc.get("cohen-gaussian-l2", sigma=1.0)
    with mp.workdps(50):
        exact = mpf(min(sig)) * unit.radius_mp(pa, pb)
        got = ars.radius_mp(pa, pb)
        assert got == exact if mp.isinf(exact) else abs(got - exact) <= mp.mpf(10) ** -45 * exact
    r, u = ars.radius(pa, pb), unit.radius(pa, pb)
    assert r == u if math.isinf(u) else abs(r - min(sig) * u) <= 1e-13 * r


def test_ellipsoid_volume_and_proxy_match_ancer_formulas():
    sig = np.array([0.25, 0.5, 2.0])
    reg = sc.get("ancer-ellipsoid", sigma=sig).region(0.9, 0.05)
    g = sc.get("cohen-gaussian-l2", sigma=1.0).radius_mp(0.9, 0.05)
    with mp.workdps(30):
        vol = g**3 * mp.pi ** 1.5 / mp.gamma(2.5) * mp.fprod([mpf(s) for s in sig])
        proxy = g * mp.cbrt(mp.fprod([mpf(s) for s in sig]))
    assert mpf(reg.log_volume()) <= mp.log(vol) and abs(reg.log_volume() - mp.log(vol)) < 1e-12
    assert mpf(reg.proxy_radius()) <= proxy and abs(reg.proxy_radius() - proxy) < 1e-12


# -- Gaussian mixture --------------------------------------------------------------------------
def test_mixture_constants():
    d = sc.get("ancer-gaussian-mixture", weights=[1.0], sigmas=[1.0])
    p = sc.get("ancer-gaussian-mixture", weights=[1.0], sigmas=[1.0], constant="printed")
    with mp.workdps(30):
        assert abs(d.constant - mp.sqrt(mp.pi / 2)) < mp.mpf(10) ** -25
        assert abs(d.lipschitz - 1 / mp.sqrt(2 * mp.pi)) < mp.mpf(10) ** -25
        assert abs(d.constant / p.constant - mp.pi) < mp.mpf(10) ** -25
    ratio = d.radius_mp(0.8, 0.1) / p.radius_mp(0.8, 0.1)
    assert abs(ratio - mp.pi) < mp.mpf(10) ** -30


@FAST
@given(st.floats(1e-3, 1e3), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_mixture_with_one_component_never_beats_cohen(s, a, frac):
    """K = 1 is plain Gaussian noise, where Cohen's radius is tight: a sound Lipschitz
    certificate can never exceed it."""
    pa = a
    pb = frac * min(pa, 1 - pa)
    mix = sc.get("ancer-gaussian-mixture", weights=[1.0], sigmas=[s])
    cohen = sc.get("cohen-gaussian-l2", sigma=s)
    assert mix.radius_mp(pa, pb) <= cohen.radius_mp(pa, pb)
    assert mix.radius_mp(pa) <= cohen.radius_mp(pa)


def test_mixture_reduces_to_cohen_to_first_order():
    s = 0.7
    mix = sc.get("ancer-gaussian-mixture", weights=[1.0], sigmas=[s])
    cohen = sc.get("cohen-gaussian-l2", sigma=s)
    for eps in (1e-3, 1e-5, 1e-7):
        rel = 1 - mix.radius_mp(0.5 + eps) / cohen.radius_mp(0.5 + eps)
        assert 0 <= rel < 2 * eps  # Phi^-1(1/2 + e) = sqrt(2 pi) e (1 + O(e^2))
        rel = 1 - mix.radius_mp(0.5, 0.5 - eps) / cohen.radius_mp(0.5, 0.5 - eps)
        assert 0 <= rel < 2 * eps


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.05, 1.0), min_size=1, max_size=4),
    st.data(),
    st.floats(1e-3, 3.0),
)
def test_mixture_halfspace_worst_case(wraw, data, u):
    """Half-space witness along each axis i: class A = {z_i > -t}. Under the mixture,
    P(A) after a shift of r towards the boundary is sum_k alpha_k Phi((t - r)/sigma_ki); at
    the certified distance (B-norm r / sqrt(B_ii) just below the gap) it must stay >= 1/2.
    For K = 1 and small t this is tight, so a larger constant would fail here."""
    w = np.array(wraw) / sum(wraw)
    k = len(w)
    sig = np.array(data.draw(st.lists(st.lists(st.floats(0.05, 5.0), min_size=2, max_size=2),
                                      min_size=k, max_size=k)))
    mix = sc.get("ancer-gaussian-mixture", weights=w, sigmas=sig)
    with mp.workdps(40):
        wm = [mpf(x) / mp.fsum([mpf(y) for y in w]) for x in w]
        for i in range(2):
            t = mpf(u) * mpf(sig[:, i].min())
            pa = mp.fsum(a * mp.ncdf(t / mpf(sig[j, i])) for j, a in enumerate(wm))
            pa_f = float(pa) if float(pa) <= pa else float(np.nextafter(float(pa), 0))
            gap = mix.gap(pa_f)
            b_ii = 1 / mp.fsum(a / mpf(sig[j, i]) ** 2 for j, a in enumerate(wm))
            r = mp.sqrt(b_ii) * mpf(gap)
            after = mp.fsum(a * mp.ncdf((t - r) / mpf(sig[j, i])) for j, a in enumerate(wm))
            assert after >= mp.mpf(0.5) - mp.mpf(10) ** -30


def test_mixture_region_axes():
    w = [0.25, 0.75]
    sig = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 0.5]])
    mix = sc.get("ancer-gaussian-mixture", weights=w, sigmas=sig)
    reg = mix.region(0.9)
    expect = 1 / np.sqrt(0.25 / sig[0] ** 2 + 0.75 / sig[1] ** 2)
    assert np.all(reg.scales <= expect) and np.allclose(reg.scales, expect, rtol=1e-14)
    assert mix.radius(0.9) <= reg.gap * expect.min()
    iso = sc.get("ancer-gaussian-mixture", weights=w, sigmas=[0.5, 2.0]).region(0.9)
    assert iso.isotropic


@pytest.mark.parametrize("kw, word", [
    ({"weights": [0.5, 0.6], "sigmas": [1.0, 1.0]}, "weights"),
    ({"weights": [1.5, -0.5], "sigmas": [1.0, 1.0]}, "weights"),
    ({"weights": [[1.0]], "sigmas": [1.0]}, "weights"),
    ({"weights": [0.5, 0.5], "sigmas": [1.0, 1.0, 1.0]}, "sigmas"),
    ({"weights": [0.5, 0.5], "sigmas": [[1.0, 0.0], [1.0, 1.0]]}, "sigmas"),
    ({"weights": [1.0], "sigmas": [1.0], "constant": "other"}, "constant"),
    ({"weights": [1.0], "sigmas": 1.0}, "sigmas"),
])
def test_mixture_bad_input(kw, word):
    with pytest.raises(ValueError, match=word):
        sc.get("ancer-gaussian-mixture", **kw)


# -- Laplace -----------------------------------------------------------------------------------
def test_laplace_known_values():
    b = 0.35
    with mp.workdps(40):
        pa_teng = float(1 - mp.exp(-1) / 2)  # -log(2(1 - pA)) = 1
        pa_lec = float(mp.e**2 / (1 + mp.e**2))  # 1/2 log(pA/(1 - pA)) = 1
    assert abs(sc.get("teng-laplace-l1-binary", scale=b).radius(pa_teng) - b) < 1e-12
    assert abs(sc.get("lecuyer-laplace-l1", scale=b).radius(pa_lec) - b) < 1e-12
    # multi-class: pA/pB = e^2 -> Lecuyer b; 1 - pA + pB = e^-1 -> Teng's second term b
    assert abs(sc.get("lecuyer-laplace-l1", scale=b).radius(float(mp.e**2) * 0.01, 0.01) - b) < 1e-12
    with mp.workdps(30):
        pb = 0.18  # 1 - pA + pB = e^-1 while 1/2 log(pA/pB) ~ 0.75 < 1
        pa = float(1 + pb - mp.exp(-1))
    assert abs(sc.get("teng-laplace-l1", scale=b).radius(pa, pb) - b) < 1e-12


@FAST
@given(st.floats(1e-6, 30.0), st.floats(1e-3, 1e3))
def test_teng_binary_witness_is_tight(t_over_b, b):
    """Teng Thm 3 witness in 1-D: class A = {z > -t}, pA = 1 - exp(-t/b)/2. Shifting by r
    towards the boundary keeps pA(r) = 1 - exp(-(t - r)/b)/2 >= 1/2 iff r <= t, so the exact
    radius is t: the float radius is <= t and within 1e-12 of it."""
    t = t_over_b * b
    with mp.workdps(40):
        exact_pa = 1 - mp.exp(-mpf(t) / mpf(b)) / 2
    pa = float(exact_pa)
    if mpf(pa) > exact_pa:
        pa = float(np.nextafter(pa, 0))  # a valid lower bound on pA
    cert = sc.get("teng-laplace-l1-binary", scale=b)
    r = cert.radius(pa)
    assert mpf(r) <= mpf(t)
    # pA is a float: its rounding (at most 2^-53 absolute) moves the radius by b 2^-53/(1 - pA)
    assert r >= t * (1 - 1e-12) - 1.01 * b * 2.0**-53 / (1 - pa)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_teng_dominates_lecuyer_and_binary_forms_agree(a, frac):
    pa, pb = a, frac * min(a, 1 - a)
    teng = sc.get("teng-laplace-l1", scale=1.0)
    lec = sc.get("lecuyer-laplace-l1", scale=1.0)
    assert teng.radius(pa, pb) >= lec.radius(pa, pb)
    assert teng.radius_mp(pa, pb) >= lec.radius_mp(pa, pb)
    binary = sc.get("teng-laplace-l1-binary", scale=1.0)
    assert teng.radius_mp(pa) == binary.radius_mp(pa)
    assert teng.radius(pa) == binary.radius(pa) or abs(teng.radius(pa) - binary.radius(pa)) <= 1e-13 * binary.radius(pa)


def test_laplace_extremes():
    teng = sc.get("teng-laplace-l1", scale=1.0)
    lec = sc.get("lecuyer-laplace-l1", scale=1.0)
    binary = sc.get("teng-laplace-l1-binary", scale=1.0)
    assert binary.radius(1.0) == math.inf and binary.radius_mp(1.0) == mp.inf
    assert lec.radius(0.3, 0.0) == math.inf and teng.radius(0.3, 0.0) == math.inf
    assert lec.radius(1.0, 0.0) == math.inf and teng.radius(1.0, 0.0) == math.inf
    for pa, pb in ((1 - 1e-15, 1e-300), (1 - 1e-15, 5e-324), (1e-300, 5e-324), (0.5, 1e-300)):
        for cert in (teng, lec):
            r = cert.radius(pa, pb)
            assert math.isfinite(r) and mpf(r) <= cert.radius_mp(pa, pb)
            assert r >= float(cert.radius_mp(pa, pb)) * (1 - 1e-11)
    r = binary.radius(1 - 1e-15)
    exact = -mp.log(2 * (1 - mpf(1 - 1e-15)))
    assert math.isfinite(r) and mpf(r) <= exact and abs(r - exact) < 1e-13 * exact


def test_log_ratio_branches_are_continuous():
    """log1p branch (pA <= 2 pB) and log branch (pA > 2 pB) meet without a jump."""
    lec = sc.get("lecuyer-laplace-l1", scale=1.0)
    pb = 0.1
    pa = np.nextafter(2 * pb, [0.0, 1.0])
    pa = np.array([pa[0], 2 * pb, pa[1]])
    r = lec.radius(pa, np.full(3, pb))
    exact = [lec.radius_mp(x, pb) for x in pa]
    assert all(mpf(x) <= e and abs(mpf(x) - e) <= 3e-14 * e for x, e in zip(r, exact))


def test_ars_laplace_region_is_a_cross_polytope():
    b = np.array([0.1, 1.0, 0.5])
    cert = sc.get("ars-laplace-l1", scale=b)
    reg = cert.region(0.9, 0.05)
    gap = sc.get("teng-laplace-l1", scale=1.0).radius_mp(0.9, 0.05)
    assert reg.p == 1.0 and mpf(reg.gap) <= gap
    for i in range(3):  # the vertices gap * b_i e_i
        e = np.zeros(3)
        e[i] = float(gap) * b[i] * (1 - 1e-12)
        assert reg.contains(e)
        e[i] = float(gap) * b[i] * (1 + 1e-12)
        assert not reg.contains(e)


# -- uniform -----------------------------------------------------------------------------------
@FAST
@given(st.floats(1e-3, 1e3), st.floats(0.0, 1.0))
def test_uniform_binary_witness(lam, frac):
    """1-D witness: class A = {z > -t} under U[-lam, lam], pA = (lam + t)/(2 lam); a shift of
    r towards the boundary keeps pA >= 1/2 iff r <= t. The exact radius lam(2pA - 1) = t."""
    t = frac * lam
    with mp.workdps(40):
        exact_pa = (mpf(lam) + mpf(t)) / (2 * mpf(lam))
    pa = float(exact_pa)
    if mpf(pa) > exact_pa:
        pa = float(np.nextafter(pa, 0))
    r = sc.get("uniform-l1", half_width=lam).radius(pa)
    assert mpf(r) <= mpf(t) and r >= t - 1e-14 * lam


def test_uniform_known_values_and_polytope():
    assert abs(sc.get("uniform-l1", half_width=2.0).radius(0.75, 0.125) - 1.25) < 1e-14
    lam = np.array([0.5, 2.0])
    cp = sc.get("ancer-cross-polytope", half_width=lam)
    reg = cp.region(0.75, 0.125)
    with mp.workdps(30):
        vol = (2 * mp.mpf(0.625)) ** 2 * 1.0 / 2  # (2 gap)^d prod lambda / d!
    assert mpf(reg.log_volume()) <= mp.log(vol) and abs(reg.log_volume() - mp.log(vol)) < 1e-13
    assert abs(cp.radius(0.75, 0.125) - 0.5 * 0.625) < 1e-15


# -- matched noise -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sc.certificates())
def test_from_std_matches_the_standard_deviation(name):
    from smoothcert.bounds import certificate_class

    cls = certificate_class(name)
    try:
        std = np.asarray(cls.from_std(0.3, dim=3).noise.std(), dtype=float)
    except NotImplementedError:
        pytest.skip("no closed-form std for this family")
    assert np.allclose(std, 0.3, rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=5), st.data(),
       st.floats(0.06, 0.999), st.floats(0.0, 1.0))
def test_mixture_scales_and_radius_are_sound(wraw, data, pa, frac):
    """K components with sigmas over 1e-6..1e6: every B-axis and the radius are <= mpmath."""
    w = np.array(wraw) / sum(wraw)
    k = len(w)
    sig = np.array(data.draw(st.lists(st.lists(st.floats(1e-6, 1e6), min_size=3, max_size=3),
                                      min_size=k, max_size=k)))
    mix = sc.get("ancer-gaussian-mixture", weights=w, sigmas=sig)
    pb = frac * min(pa, 1 - pa)
    with mp.workdps(40):
        wm = [mpf(x) for x in w]
        tot = mp.fsum(wm)
        axes = [1 / mp.sqrt(mp.fsum(a / tot / mpf(sig[j, i]) ** 2 for j, a in enumerate(wm)))
                for i in range(3)]
        exact = min(axes) * mp.sqrt(mp.pi / 2) * (mpf(pa) - mpf(pb))
        reg = mix.region(pa, pb)
        assert all(mpf(s) <= a and abs(mpf(s) - a) <= 1e-13 * a for s, a in zip(reg.scales, axes))
        r = mix.radius(pa, pb)
        assert mpf(r) <= exact and abs(mpf(r) - exact) <= 1e-12 * exact
        assert abs(mix.radius_mp(pa, pb) - exact) <= mp.mpf(10) ** -30 * exact
