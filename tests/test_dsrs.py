"""dsrs-gaussian-l2 (Li et al. 2022, DSRS, k = 0): the radius from (pA, qA) against an independent
high-precision solve in polar coordinates, the Cohen reduction, DSRS >= Cohen, monotonicity in
pA and qA, the monotone-in-r lemma the float path rests on, and bad input.

The reference here never uses the module's Cartesian form (z_1 and a chi-square(d - 1) CDF): it
writes z = sqrt(rho) (u, ...) with rho ~ chi-square(d) and u = z_1 / ||z|| of density
c (1 - u^2)^((d-3)/2), so P(z_1 <= t | rho) is a Beta CDF and the shifted mean E_{P_r} f* =
E_P[f* exp(r z_1 - r^2/2)] is a 2-D integral in (rho, u).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special

import smoothcert as sc
from smoothcert.bounds import dsrs


def cert(dim=4, ball_mass=0.5, sigma=1.0):
    return sc.get("dsrs-gaussian-l2", sigma=sigma, dim=dim, ball_mass=ball_mass)


# -- the independent reference (polar coordinates, mpmath) -------------------------------------
def _gauss_moments(k, lo, hi):
    """[int_lo^hi y^j exp(-y^2/2) dy for j = 0..k] (lo may be -inf, hi may be +inf)."""
    e = lambda y: mp.mpf(0) if mp.isinf(y) else mp.exp(-y * y / 2)  # noqa: E731
    p = lambda y, j: mp.mpf(0) if mp.isinf(y) else (y**j if j else mp.mpf(1))  # noqa: E731
    out = [mp.sqrt(2 * mp.pi) * (mp.ncdf(hi) - mp.ncdf(lo)), e(lo) - e(hi)]
    for j in range(2, k + 1):
        out.append(p(lo, j - 1) * e(lo) - p(hi, j - 1) * e(hi) + (j - 1) * out[j - 2])
    return out[: k + 1]


class Polar:
    """P = N(0, I_d) in polar form: s = ||z|| (chi(d), density C s^(d-1) e^(-s^2/2)) and
    u = z_1 / ||z|| (density c (1 - u^2)^((d-3)/2)), independent. Under the shift r e_1 the weight
    exp(r s u - r^2/2) turns the s-integral over an interval into Gaussian moments (closed form);
    what is left is a 1-D mp.quad in u. No chi-square CDF, no z_1-integral: a different method."""

    def __init__(self, d, tau, dps=20):
        self.d, self.dps = d, dps
        with mp.workdps(dps):
            self.T = mp.sqrt(mp.mpf(tau))
            self.c_u = mp.gamma(mp.mpf(d) / 2) / (mp.sqrt(mp.pi) * mp.gamma(mp.mpf(d - 1) / 2))
            self.c_s = 1 / (2 ** (mp.mpf(d) / 2 - 1) * mp.gamma(mp.mpf(d) / 2))
            self.mass = self.prob(0, mp.inf, mp.ninf)

    def _s_range(self, u, t, inside):
        """The s-interval where s u <= t, within [0, T] (inside) or (T, inf)."""
        lo, hi = (mp.mpf(0), self.T) if inside else (self.T, mp.inf)
        if t == mp.ninf:
            return None
        if u > 0:
            hi = min(hi, t / u)
        elif u < 0:
            lo = max(lo, t / u)
        elif t < 0:
            return None
        return (lo, hi) if hi > lo else None

    def _inner(self, u, r, t_in, t_out):
        b = r * u
        k = self.d - 1
        total = mp.mpf(0)
        for t, inside in ((t_in, True), (t_out, False)):
            rng = self._s_range(u, t, inside)
            if rng is None:
                continue
            m = _gauss_moments(k, rng[0] - b, rng[1] - b)
            total += sum(mp.binomial(k, j) * b ** (k - j) * m[j] for j in range(k + 1))
        return self.c_s * mp.exp(-r * r * (1 - u * u) / 2) * total

    def prob(self, r, t_in, t_out):
        """P_{r e_1}(z_1 <= t_in, ||z|| <= T) + P_{r e_1}(z_1 <= t_out, ||z|| > T)."""
        with mp.workdps(self.dps):
            r = mp.mpf(r)
            kinks = {mp.mpf(-1), mp.mpf(0), mp.mpf(1)}
            for t in (t_in, t_out):
                if mp.isfinite(t) and abs(t) < self.T:
                    kinks.add(t / self.T)
            f = lambda u: self.c_u * (1 - u * u) ** (mp.mpf(self.d - 3) / 2) * self._inner(u, r, t_in, t_out)  # noqa: E731
            return mp.quad(f, sorted(kinks))

    def _newton(self, fun, inside, x):
        """Newton steps from the float hint ``x`` until the residual is at the working precision
        (the slope, phi(t) times the conditional ball probability or its complement, only sets
        the step; the value is the polar one)."""
        for _ in range(4):
            f = fun(x)
            if abs(f) < mp.mpf(10) ** (3 - self.dps):
                return x
            g = mp.gammainc(mp.mpf(self.d - 1) / 2, 0, max(self.T**2 - x * x, 0) / 2, regularized=True)
            x = x - f / (mp.npdf(x) * (g if inside else 1 - g))
        raise AssertionError(f"no threshold from the hint: residual {f}")

    def thresholds(self, pa, qa, hint):
        """(t1, t2) of the optimal set (Thm 3 at k = 0) from the float ``hint``, or None in the
        Cohen regime."""
        with mp.workdps(self.dps):
            pa, qa = mp.mpf(pa), mp.mpf(qa)
            t1 = self._newton(lambda t: self.prob(0, t, mp.ninf) - qa * self.mass, True, mp.mpf(hint[0]))
            if pa >= mp.ncdf(t1):
                return None
            if pa <= self.prob(0, t1, mp.ninf):
                return t1, mp.ninf
            return t1, self._newton(lambda t: self.prob(0, t1, t) - pa, False, mp.mpf(hint[1]))

    def shifted(self, t1, t2, r):
        """E_{P_{r e_1}} f* for the optimal set with thresholds (t1, t2)."""
        return self.prob(r, t1, t2)


CASES = [  # (d, ball_mass, pA, qA): t2 < 0 (where the monotone lemma needs log-concavity),
    (4, 0.5, 0.7, 0.99),  # t2 > 0, and t2 = -inf (the P constraint slack)
    (3, 0.3, 0.8, 0.995),
    (5, 0.7, 0.6, 0.999),
]


@pytest.mark.parametrize("d, mass, pa, qa", CASES)
def test_radius_never_above_the_polar_reference_and_within_1e6(d, mass, pa, qa):
    """V(r) = min E_{P_r} f is non-increasing in r, so r <= exact radius iff V(r) >= 1/2: the
    polar reference V at the float radius is > 1/2, and at (1 + 1e-6) times it below 1/2."""
    c = cert(d, mass)
    r = c.radius(pa, q_a=qa)
    assert r > c.radius(pa)  # the case exercises DSRS, not Cohen's branch
    ref = Polar(d, c.tau, dps=16)
    th = ref.thresholds(pa, qa, dsrs._thresholds(c._ball, pa, qa))
    assert th is not None
    assert ref.shifted(*th, r) > 0.5
    assert ref.shifted(*th, r * (1 + 1e-6)) < 0.5


def test_twin_agrees_with_float_and_the_polar_reference():
    d, mass, pa, qa = CASES[0]
    c = cert(d, mass)
    r, exact = c.radius(pa, q_a=qa), c.radius_mp(pa, q_a=qa, dps=20)
    assert mp.mpf(r) <= exact and abs(mp.mpf(r) - exact) <= 1e-8 * exact, (r, exact)
    ref = Polar(d, c.tau, dps=20)
    th = ref.thresholds(pa, qa, dsrs._thresholds(c._ball, pa, qa))
    with mp.workdps(20):
        assert abs(ref.shifted(*th, exact) - mp.mpf(1) / 2) < mp.mpf(10) ** -15


# -- reductions --------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(0.0, 1.0), st.integers(2, 40), st.floats(0.05, 0.95), st.floats(0.1, 10.0))
def test_q_a_zero_is_cohen_exactly(pa, d, mass, sigma):
    c = cert(d, mass, sigma)
    cohen = sc.get("cohen-gaussian-l2", sigma=sigma)
    assert c.radius(pa, q_a=0.0) == cohen.radius(pa) == c.radius(pa)
    exact, ref = c.radius_mp(pa, q_a=0.0), cohen.radius_mp(pa)
    assert abs(exact - ref) <= mp.mpf(10) ** -45 * ref


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(0.51, 0.999), st.integers(2, 40), st.floats(0.05, 0.95), st.floats(0.0, 1.0))
def test_uninformative_q_a_gives_cohen_to_rounding(pa, d, mass, frac):
    """qA at or below Q(z_1 <= Phi^-1(pA)) -- what Cohen's own set already has under Q -- carries
    no information: the radius is Cohen's (Thm 3's nu_2 = 0 case)."""
    c = cert(d, mass)
    t0 = special.ndtri(pa) - 1e-9
    v, e = c._ball.integral(0.0, -np.inf, t0)
    qa = frac * max(v - e, 0.0) / (c._ball.mass_lo / (1 - dsrs.GAMMAINC_REL)) * (1 - 1e-9)
    cohen = sc.get("cohen-gaussian-l2", sigma=1.0).radius(pa)
    r = c.radius(pa, q_a=qa)
    assert r >= cohen and r <= cohen * (1 + 1e-9), (pa, d, mass, qa, r, cohen)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(2, 3000), st.floats(0.01, 0.99))
def test_dsrs_never_below_cohen(pa, qa, d, mass):
    c = cert(d, mass)
    assert c.radius(pa, q_a=qa) >= c.radius(pa)


# -- shape --------------------------------------------------------------------------------------
@pytest.mark.parametrize("d, mass", [(4, 0.5), (784, 0.5), (30, 0.9)])
def test_monotone_in_p_a_and_q_a(d, mass):
    c = cert(d, mass)
    grid = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1 - 1e-6])
    for qa in (0.5, 0.9, 0.999, 1 - 1e-6, 1.0):
        r = c.radius(grid, q_a=qa)
        assert r[0] == 0.0 and np.all(r[:-1] <= r[1:] * (1 + 1e-9)), (qa, r)
    for pa in (0.6, 0.9, 0.99):
        r = c.radius(pa, q_a=grid)
        assert np.all(r[:-1] <= r[1:] * (1 + 1e-9)), (pa, r)


@pytest.mark.parametrize("d, mass, pa, qa", CASES + [(2, 0.5, 0.75, 0.99), (4, 0.95, 0.96, 1.0),
                                                    (6, 0.9, 0.92, 0.9999)])
def test_lower_bound_non_increasing_in_r(d, mass, pa, qa):
    """The lemma of the module docstring (E_{P_r} f_t non-increasing in r for t1 >= 0), on a grid
    from 0 to the ball's edge, including cases with t2 < 0 (where it needs log-concavity)."""
    c = cert(d, mass)
    t1, t2 = dsrs._thresholds(c._ball, pa, qa)
    vals = []
    for r in np.linspace(0.0, min(t1, c._ball.edge), 40):
        v, _ = c._ball.integral(r, t2, t1)
        vals.append(special.ndtr(t2 - r) + v)
    assert np.all(np.diff(vals) <= 1e-12), vals


def test_vectorized_equals_scalar_and_broadcasts():
    c = cert(10, 0.5)
    pa = np.array([0.3, 0.6, 0.9, 0.999, 1.0])
    qa = np.array([0.9, 0.99, 0.999, 0.5, 1.0])
    r = c.radius(pa, q_a=qa)
    assert r.shape == (5,)
    assert [c.radius(a, q_a=b) for a, b in zip(pa, qa)] == list(r)
    assert c.radius(pa, q_a=0.99).shape == (5,)
    assert math.isinf(c.radius(1.0, q_a=0.5))


def test_linear_in_sigma():
    a, b = cert(8, 0.5, 1.0), cert(8, 0.5, 3.5)
    r1, r2 = a.radius(0.8, q_a=0.999), b.radius(0.8, q_a=0.999)
    assert abs(r2 - 3.5 * r1) <= 1e-13 * r2


def test_gammainc_accuracy_assumed_by_the_error_bound():
    """GAMMAINC_REL covers SciPy's chi-square CDF against mpmath over +-8 std (shapes of the
    dimensions used: 2 .. 150528)."""
    worst = 0.0
    with mp.workdps(30):
        for a in (0.5, 1.5, 391.5, 1535.5, 75263.5):
            for z in np.linspace(max(a - 8 * math.sqrt(a), 0.05), a + 8 * math.sqrt(a), 9):
                e = mp.gammainc(a, 0, z, regularized=True)
                worst = max(worst, float(abs(special.gammainc(a, z) - e) / e))
    assert worst < dsrs.GAMMAINC_REL / 10


def test_against_cohen_table_numbers():
    """The guide's table: at pA = 0.9, qA = 1 - 1e-6, ball_mass = 0.5, DSRS grows with d."""
    rows = dsrs.against_cohen([784, 3072, 150528], p_a=0.9, q_a=1 - 1e-6)
    radii = [row["dsrs"] for row in rows]
    assert all(row["cohen"] == sc.get("cohen-gaussian-l2", sigma=1.0).radius(0.9) for row in rows)
    assert radii[0] > 1.6 * rows[0]["cohen"] and radii[0] < radii[1] < radii[2]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, exc, word", [
    ({"q_a": float("nan")}, ValueError, "q_a"),
    ({"q_a": -0.1}, ValueError, "q_a"),
    ({"q_a": 1.5}, ValueError, "q_a"),
    ({"q_a": "0.9"}, TypeError, "q_a"),
    ({"q_a": [0.9, 0.8, 0.7]}, ValueError, "q_a"),
])
def test_bad_q_a_raises_naming_it(kw, exc, word):
    c = cert()
    with pytest.raises(exc, match=word):
        c.radius([0.9, 0.8], **kw)
    if np.ndim(kw["q_a"]) == 0:
        with pytest.raises(exc, match=word):
            c.radius_mp(0.9, **kw)


def test_p_b_is_refused():
    with pytest.raises(ValueError, match="p_b"):
        cert().radius(0.9, 0.05, q_a=0.9)
    with pytest.raises(ValueError, match="p_b"):
        cert().radius_mp(0.9, 0.05, q_a=0.9)


@pytest.mark.parametrize("kw, word", [
    ({"ball_mass": 0.0}, "ball_mass"), ({"ball_mass": 1.0}, "ball_mass"),
    ({"ball_mass": float("nan")}, "ball_mass"), ({"dim": 1}, "dim"), ({"dim": 2.5}, "dim"),
    ({"sigma": 0.0}, "sigma"), ({"sigma": -1.0}, "sigma"), ({"sigma": [1.0, 2.0]}, "sigma"),
])
def test_bad_parameters_raise_naming_them(kw, word):
    params = {"sigma": 1.0, "dim": 4, "ball_mass": 0.5, **kw}
    with pytest.raises((ValueError, TypeError), match=word):
        sc.get("dsrs-gaussian-l2", **params)


# ---- the sampler of the pair (P, Q) -------------------------------------------------------
def test_q_sampler_draws_the_ball_truncated_gaussian():
    """Q's squared radius follows chi2_d truncated to [0, T^2] (KS against the exact truncated
    CDF gammainc(d/2, x/2) / gammainc(d/2, T^2/2)) and its direction is uniform (E z = 0,
    E z_i^2 = E||z||^2 / d); a sampler that ignores the truncation fails the KS test."""
    import torch
    from scipy import stats

    from smoothcert.gpu_sampler import make_noise

    cert = sc.get("dsrs-gaussian-l2", sigma=0.7, dim=12, ball_mass=0.3)
    sampler = make_noise(cert, (3, 4), device="cpu", dtype=torch.float64)
    z = sampler.sample_q(20_000, torch.Generator().manual_seed(0)).reshape(20_000, 12).numpy()
    r2 = (z**2).sum(axis=1) / 0.7**2
    tau = cert.tau
    assert r2.max() <= tau * (1 + 1e-12)

    def truncated_cdf(x):
        return special.gammainc(6.0, np.minimum(x, tau) / 2) / special.gammainc(6.0, tau / 2)

    assert stats.kstest(r2, truncated_cdf).pvalue > 1e-3
    assert stats.kstest(r2, lambda x: special.gammainc(6.0, x / 2)).pvalue < 1e-6  # untruncated fails
    assert np.abs(z.mean(axis=0)).max() < 0.03
    assert np.allclose((z**2).mean(axis=0), (z**2).sum(axis=1).mean() / 12, rtol=0.06)


# ==== dsrs-general-gaussian-l2: the generalized Gaussian P (k > 0) ============================
# The reference below shares no code with bounds/dsrs_general.py: it works in d = 3, where the
# cosine t of the angle to the shift is uniform on [-1, 1] (so every conditional probability is
# linear in its threshold), and it computes E_{P_r} f by shifting the noise itself (z = w + r e_1,
# w ~ P) instead of the module's reflection z' = r e_1 - z; the thresholds of
# phi(s) = 2k log s + s^2/2 come from scipy's Lambert W, the integrals from scipy's adaptive quad.
from scipy import integrate, optimize  # noqa: E402

from smoothcert.bounds import dsrs_general  # noqa: E402


def gcert(k=0.5, dim=3, ball_mass=0.5, sigma=1.0):
    return sc.get("dsrs-general-gaussian-l2", sigma=sigma, k=k, dim=dim, ball_mass=ball_mass)


class Direct3:
    """P in R^3 with density ~ ||z||^-2k exp(-||z||^2/2) (scale sigma' = 1), Q = P on ||z|| <= T."""

    def __init__(self, k, ball_mass):
        self.k, self.nu = k, 3.0 - 2.0 * k
        self.T2 = 2.0 * special.gammaincinv(self.nu / 2, ball_mass)
        self.M = ball_mass
        self.logc = -(self.nu / 2 - 1) * math.log(2) - special.gammaln(self.nu / 2)
        self.top = math.sqrt(2.0 * special.gammainccinv(self.nu / 2, 1e-18))

    def dens(self, rho):
        return math.exp(self.logc + (self.nu - 1) * math.log(rho) - rho * rho / 2)

    def v_star(self, c):
        """v = s^2 with 2k log s + s^2/2 = c: k log v + v/2 = c, v = 2k W(e^(c/k) / (2k))."""
        y = c / self.k - math.log(2 * self.k)
        w = special.lambertw(math.exp(y)).real if y < 600 else y - math.log(y)  # W(e^y)
        if y >= 600:
            for _ in range(5):
                w = w - (w + math.log(w) - y) / (1 + 1 / w)
        return 2 * self.k * w

    def phi(self, s2):
        return self.k * math.log(s2) + s2 / 2

    @staticmethod
    def below(c, rho, r, sign):
        """P(rho^2 + r^2 + sign 2 r rho t < c) for t ~ U(-1, 1)."""
        if sign < 0:  # ||w - r e_1||^2 = rho^2 + r^2 - 2 r rho t < c iff t > t0
            t0 = (rho * rho + r * r - c) / (2 * r * rho)
            return min(max((1 - t0) / 2, 0.0), 1.0)
        t0 = (c - rho * rho - r * r) / (2 * r * rho)
        return min(max((1 + t0) / 2, 0.0), 1.0)

    def _int(self, f, a, b, r):
        pts = [p for p in (r, abs(math.sqrt(self.T2) - r), math.sqrt(self.T2) + r) if a < p < b]
        return integrate.quad(lambda x: self.dens(x) * f(x), a, b, points=pts or None, limit=400,
                              epsabs=1e-14, epsrel=1e-13)[0]

    def lam_below(self, x, rho, r):
        """P(Lambda < x | ||z|| = rho), Lambda = phi(||z||) - phi(||z - r e_1||): ||z - r e_1||^2
        above v_star(phi(rho) - x)."""
        return 1.0 - self.below(self.v_star(self.phi(rho * rho) - x), rho, r, -1)

    def p_in(self, x, r):
        return self._int(lambda p: self.lam_below(x, p, r), 1e-300, math.sqrt(self.T2), r)

    def p_out(self, x, r):
        if x == -np.inf:
            return 0.0
        return self._int(lambda p: self.lam_below(x, p, r), math.sqrt(self.T2), self.top, r)

    def shifted(self, x_in, x_out, r):
        """P_{r e_1}(f = 1) with z = w + r e_1, ||z||^2 = rho^2 + r^2 + 2 r rho t, Lambda(z) =
        phi(||z||) - phi(rho): f = 1 iff ||z||^2 < min(T^2, v_star(phi(rho) + x_in)) or
        T^2 < ||z||^2 < v_star(phi(rho) + x_out)."""
        def f(rho):
            c = self.phi(rho * rho)
            ball = self.below(self.T2, rho, r, 1)
            out = ball if x_in == np.inf else self.below(min(self.T2, self.v_star(c + x_in)), rho, r, 1)
            if x_out > -np.inf:
                out += max(self.below(self.v_star(c + x_out), rho, r, 1) - ball, 0.0)
            return out
        return self._int(f, 1e-300, self.top, r)

    def value(self, pa, qa, r):
        """min E_{P_r} f over E_P f >= pA, E_Q f >= qA (Q slack: None); qA = 1 forces f = 1 on
        the ball (x_in = inf)."""
        if qa == 1.0:
            x_in, inner = np.inf, self.M
        else:
            x_in = optimize.brentq(lambda x: self.p_in(x, r) / self.M - qa, -60, 60, xtol=1e-13)
            inner = self.p_in(x_in, r)
        if inner + (1 - self.M if x_in == np.inf else self.p_out(x_in, r)) <= pa:
            return None
        if inner >= pa:
            x_out = -np.inf
        else:
            x_out = optimize.brentq(lambda x: inner + self.p_out(x, r) - pa, -60, min(x_in, 60),
                                    xtol=1e-13)
        return self.shifted(x_in, x_out, r)


GENERAL_CASES = [(0.5, 0.5, 0.9, 0.99), (1.2, 0.3, 0.8, 1.0)]


@pytest.mark.parametrize("k, mass, pa, qa", GENERAL_CASES)
def test_general_radius_pinned_by_the_direct_d3_reference(k, mass, pa, qa):
    """The reference value V(r) = min E_{P_r} f is > 1/2 at the float radius (so it is certified:
    V is non-increasing) and < 1/2 at (1 + 1e-7) times it (so it is tight to 1e-7)."""
    c = gcert(k=k, ball_mass=mass)
    r = c.radius(pa, q_a=qa)
    assert r > c.radius(pa) * (1 + 1e-3)  # exercises the two-constraint branch
    ref = Direct3(k, mass)
    unit = r / c.scale
    assert ref.value(pa, qa, unit) > 0.5
    assert ref.value(pa, qa, unit * (1 + 1e-7)) < 0.5


@pytest.mark.slow
def test_general_twin_at_or_above_the_float_radius():
    c = gcert(k=0.5, ball_mass=0.5)
    r, exact = c.radius(0.9, q_a=0.99), c.radius_mp(0.9, q_a=0.99, dps=15)
    assert mp.mpf(r) <= exact and abs(mp.mpf(r) - exact) <= c.twin_rtol * exact, (r, exact)


@pytest.mark.slow
@pytest.mark.parametrize("d, k, qa", [(784, 380, 0.99), (10, 3.0, 1.0), (10, 3.0, 1 - 1e-6)])
def test_general_twin_in_high_dimension(d, k, qa):
    c = gcert(k=k, dim=d, sigma=0.5)
    r, exact = c.radius(0.9, q_a=qa), c.radius_mp(0.9, q_a=qa, dps=15)
    assert mp.mpf(r) <= exact and abs(mp.mpf(r) - exact) <= c.twin_rtol * exact, (r, exact)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(0.0, 1.0), st.sampled_from([(3, 0.5), (10, 4.5), (784, 380.0), (3072, 1530.0)]),
       st.floats(0.5, 2.0))
def test_general_q_a_zero_is_zhang_l2_at_2k_and_sigma_prime(pa, shape, sigma):
    """q_a = 0: P's single-sample radius, zhang-l2 with exponent 2k and scale
    sigma' = sigma sqrt(d / (d - 2k)) (equal to rounding)."""
    d, k = shape
    c = gcert(k=k, dim=d, sigma=sigma)
    z = sc.get("zhang-l2", sigma=sigma * math.sqrt(d / (d - 2 * k)), k=2 * k, dim=d).radius(pa)
    r = c.radius(pa, q_a=0.0)
    assert r == c.radius(pa) and r <= z and r >= z * (1 - 1e-13), (r, z)


@pytest.mark.parametrize("d, mass, pa, qa", [(3, 0.5, 0.9, 0.99), (40, 0.3, 0.8, 0.999),
                                             (784, 0.5, 0.9, 0.999)])
def test_general_path_at_k_zero_matches_dsrs_gaussian_l2(d, mass, pa, qa):
    """The k > 0 machinery run at k = 0 (Zhang's engine, the reflection form) against the k = 0
    module's Cartesian integral in z_1: two methods, one radius. The public class at k = 0 is
    dsrs-gaussian-l2 itself (same numbers). (Nearer qA = 1 the k = 0 module is looser: at
    d = 784, qA = 1 - 1e-6 it is 7.5e-8 below its twin, the general path 4e-12.)"""
    c0 = cert(d, mass)
    tau = 2.0 * float(special.gammaincinv(0.5 * d, mass))
    single = float(special.ndtri(pa))
    r = dsrs_general._Solver(dsrs_general._GeneralBall(d, 0.0, tau), pa, qa).radius(single)
    ref = c0.radius(pa, q_a=qa)
    assert abs(r - ref) <= 5e-9 * ref, (r, ref)
    assert gcert(k=0, dim=d, ball_mass=mass).radius(pa, q_a=qa) == ref


def test_general_monotone_and_never_below_single_sample():
    c = gcert(k=15, dim=40, sigma=0.5)
    single = c.radius(0.9)
    rs = c.radius(0.9, q_a=np.array([0.0, 0.5, 0.99, 0.999]))
    assert rs[0] == rs[1] == single and np.all(np.diff(rs) >= 0) and rs[-1] > 1.3 * single, rs
    grid = c.radius(np.array([0.3, 0.7, 0.9, 0.99]), q_a=0.999)
    assert grid[0] == 0.0 and np.all(np.diff(grid) > 0), grid


def test_general_numbers_against_cohen():
    """The guide's rows at sigma = 0.5, pA = 0.9, qA = 0.999, d = 784: the paper's k = d/2 - 12
    alone is below Cohen (0.622 < 0.641) but its DSRS radius is above the k = 0 one."""
    rows = dsrs_general.against_cohen_general([784, 784], [0, 380], p_a=0.9, q_a=0.999, sigma=0.5)
    assert rows[0]["cohen"] == pytest.approx(0.6407757827723, rel=1e-12)
    assert rows[1]["single"] < rows[1]["cohen"] < rows[0]["dsrs"] < rows[1]["dsrs"]
    assert rows[0]["dsrs"] == pytest.approx(0.922984, abs=2e-6)
    assert rows[1]["dsrs"] == pytest.approx(0.941022, abs=2e-6)


@pytest.mark.parametrize("kw, word", [
    ({"k": 2.0}, "k"), ({"k": -0.5}, "k"), ({"k": float("nan")}, "k"), ({"k": [1.0]}, "k"),
    ({"dim": 1}, "dim"), ({"ball_mass": 1.0}, "ball_mass"), ({"sigma": 0.0}, "sigma"),
])
def test_general_bad_parameters_raise_naming_them(kw, word):
    params = {"sigma": 1.0, "k": 0.5, "dim": 4, "ball_mass": 0.5, **kw}
    with pytest.raises((ValueError, TypeError), match=word):
        sc.get("dsrs-general-gaussian-l2", **params)


def test_general_sampler_draws_p_and_q():
    """P: ||z||^2 / (2 sigma'^2) ~ Gamma(d/2 - k) (KS), per-coordinate std sigma; Q: the same law
    truncated to [0, tau/2] (KS against the exact truncated CDF; the untruncated law fails)."""
    import torch
    from scipy import stats

    from smoothcert.gpu_sampler import make_noise

    d, k, sigma = 12, 4.5, 0.7
    c = gcert(k=k, dim=d, sigma=sigma, ball_mass=0.3)
    sampler = make_noise(c, (3, 4), device="cpu", dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    a, scale = d / 2 - k, sigma * math.sqrt(d / (d - 2 * k))
    p = sampler.sample(10_000, gen).reshape(10_000, d).numpy()
    g = (p**2).sum(axis=1) / (2 * scale**2)
    assert stats.kstest(g, lambda x: special.gammainc(a, x)).pvalue > 1e-3
    assert abs(p.std() / sigma - 1) < 0.03 and np.abs(p.mean(axis=0)).max() < 0.05
    q = sampler.sample_q(10_000, gen).reshape(10_000, d).numpy()
    gq = (q**2).sum(axis=1) / (2 * scale**2)
    assert gq.max() <= c.tau / 2 * (1 + 1e-12)
    cap = special.gammainc(a, c.tau / 2)
    assert stats.kstest(gq, lambda x: special.gammainc(a, np.minimum(x, c.tau / 2)) / cap).pvalue > 1e-3
    assert stats.kstest(gq, lambda x: special.gammainc(a, x)).pvalue < 1e-6
