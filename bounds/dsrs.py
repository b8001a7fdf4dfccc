"""Double-sampling randomized smoothing (DSRS; Li, Zhang, Xie & Li, ICML 2022): the l2 radius
from two probability bounds, pA under P = N(0, sigma^2 I_d) and qA under Q = P truncated to a ball.

Li et al. certify with both bounds at once: the radius is the largest r for which the Neyman-Pearson
problem with two constraints (their Eq. 4 / Problem (5), "DSRS certification")

    min { E_{P_delta} f :  E_P f >= pA,  E_Q f >= qA,  0 <= f <= 1 },   ||delta||_2 = r,

stays above 1/2 (binary; their Thm 3 solves it by strong duality). This module is the k = 0 member
of their generalized-Gaussian family (Sec. 5, "P = N^g(k, sigma), Q = N^g_trunc(k, T, sigma)")
with P the plain Gaussian; the generalized-Gaussian P (k > 0) is :mod:`.dsrs_general`.

Solution (derived here, it is their Thm 3 at k = 0). Write sigma = 1 (the radius is linear in
sigma), delta = r e_1 (rotation invariance), x = z_1 and G(x) = F_{d-1}(T^2 - x^2), the chi-square
(d - 1) CDF: the probability that z lies in the ball given z_1 = x. The likelihood ratio is
p_delta / p = exp(r x - r^2 / 2) and q = p 1[||z|| <= T] / M with M = P(||z|| <= T), so the
optimal f is 1[p_delta < nu_1 p + nu_2 q] (nu_1, nu_2 >= 0), the set

    {x <= t1, ||z|| <= T}  union  {x <= t2, ||z|| > T},     t2 <= t1 (t2 = -inf when nu_1 = 0),

whose thresholds do not depend on r. With A_mu(a, b) = int_a^b phi(x - mu) G(x) dx:
E_Q f = A_0(-inf, t1) / M, E_P f = Phi(t2) + A_0(t2, t1) and E_{P_delta} f = Phi(t2 - r) +
A_r(t2, t1). t1 solves E_Q f = qA; if pA >= Phi(t1) the Q constraint is slack and the answer is
Cohen's sigma Phi^-1(pA) (so qA = 0, "no information", gives Cohen's radius, and DSRS is never
below it); if pA <= A_0(-inf, t1), t2 = -inf; otherwise t2 solves E_P f = pA.

Weak duality (the step the float path rests on): for any thresholds t2 <= t1 whose set f_t has
E_P f_t <= pA and E_Q f_t <= qA, every feasible f has E_{P_delta} f >= E_{P_delta} f_t. So the
float path solves for thresholds on that side, with integrals bounded above, and evaluates
E_{P_delta} f_t bounded below. Monotone in r (lemma, ours; Li et al. binary-search r as well):
with t1 >= 0 (forced by pA > 1/2), h(x) = P(f_t = 1 | z_1 = x) is non-increasing when t2 >= 0,
and otherwise h = 1[x <= t2](1 - G) + 1[x <= t1] G is a non-increasing part plus a log-concave
part (G is log-concave: a log-concave CDF of the concave T^2 - x^2) no larger at x than at -x,
whose Gaussian convolution is log-concave with non-positive slope at 0. So E_{P_{r e_1}} f_t is
non-increasing in r and a radius whose lower bound clears 1/2 is certified with every smaller one.

Parameterization: ``ball_mass`` = P(||z|| <= T) (the paper's percentile threshold, dimension-free);
T^2 = sigma^2 ``tau`` with ``tau`` = chi2_d^-1(ball_mass) computed once in float64 (``self.tau``):
that double *defines* Q, and the twin and any sampler read it (it is within 1e-13 of the nominal
mass). ``q_a`` (the lower bound of Q(f = y)) is a keyword of ``radius`` and ``radius_mp``; the
default 0 carries no information and gives Cohen's radius.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import optimize, special

from ..core.checks import check_int, check_probability
from ..core.rounding import EPS, MAX, as_output, grow, shrink
from .base import Certificate, check_dps, twin_dps
from .family import NoiseFamily, Param, positive_scalar, register_family
from .gaussian import gaussian_gap, gaussian_gap_mp
from .registry import register

#: Gaussian mass beyond this many standard deviations from the mean is below 1e-307 (counted in
#: full in every error bound).
CUT = 37.5
TAIL = 1e-307
#: Relative error allowed for SciPy's chi-square CDF (gammainc): measured below 4e-13 against
#: mpmath for shapes 1.5 .. 75264 over +-8 standard deviations (tests/test_dsrs.py).
GAMMAINC_REL = 1e-11
#: The nested tanh-sinh estimate |fine - coarse| is multiplied by this before it is subtracted.
SAFETY = 16.0
#: Panel edges around the Gaussian's mean: unit panels where the mass is, wider in the tails.
OFFSETS = np.concatenate([[-CUT, -30, -24, -19, -15, -12], np.arange(-10.0, 11.0),
                          [12, 15, 19, 24, 30, CUT]])


def ball_mass(name: str, value) -> float:
    """The ball's P-mass: a probability strictly between 0 and 1."""
    m = float(check_probability(name, value))
    if not 0.0 < m < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return m


def dimension(name: str, value) -> int:
    """The input dimension: an integer >= 2 (the conditional law of the other d - 1 coordinates)."""
    return check_int(name, value, minimum=2)


@register_family
class GaussianBall(NoiseFamily):
    """DSRS's pair (Li et al. 2022, Sec. 5, k = 0): P = N(0, sigma^2 I_d) and Q = P conditioned on
    ||z||_2 <= T, T^2 = sigma^2 chi2_d^-1(ball_mass). The std is P's, sigma."""

    name = "dsrs-gaussian-ball"
    params = (Param("sigma", "reals", positive_scalar, "Gaussian standard deviation of P (> 0)"),
              Param("dim", "int", dimension, "input dimension d (>= 2)", 784),
              Param("ball_mass", "real", ball_mass,
                    "P-mass of the ball that truncates Q (0 < ball_mass < 1)", 0.5))
    scale_param = "sigma"
    law = ("P = N(0, sigma^2 I_d); Q = P conditioned on ||z||_2^2 <= sigma^2 chi2_d^-1(ball_mass) "
           "(Li et al. 2022, Sec. 5)")
    std_formula = "sigma (of P)"

    @classmethod
    def unit_std(cls, params):
        return 1.0


# ---------------------------------------------------------------------------------------------
# float64: integrals with error bounds
def _tanh_sinh(h: float = 1.0 / 16, t_max: float = 3.2):
    """Nested tanh-sinh rule on [-1, 1] (Takahasi & Mori 1974): nodes, fine weights (step h),
    coarse weights (step 2h, the even nodes) and each node's distance to the nearer end."""
    j = np.arange(-int(np.ceil(t_max / h)), int(np.ceil(t_max / h)) + 1)
    s = 0.5 * np.pi * np.sinh(j * h)
    w = h * 0.5 * np.pi * np.cosh(j * h) / np.cosh(s) ** 2
    return np.tanh(s), w, np.where(j % 2 == 0, 2.0 * w, 0.0), 2.0 / (1.0 + np.exp(2.0 * np.abs(s)))


_X, _W_FINE, _W_COARSE, _GAP = _tanh_sinh()


class _Ball:
    """The geometry at sigma = 1: tau = T^2, d, and A_mu(a, b) with an error bound."""

    def __init__(self, dim: int, tau: float):
        self.d, self.tau = dim, tau
        self.edge = math.sqrt(tau)
        mass = float(special.gammainc(0.5 * dim, 0.5 * tau))
        self.mass_lo = mass * (1.0 - GAMMAINC_REL)

    def g(self, x):
        """G(x) = P(||z||^2 <= tau | z_1 = x), the chi-square (d - 1) CDF at tau - x^2."""
        return special.gammainc(0.5 * (self.d - 1), 0.5 * np.maximum(self.tau - x * x, 0.0))

    def integral(self, mu: float, a: float, b: float):
        """(value, error bound) of A_mu(a, b) = int_a^b phi(x - mu) G(x) dx."""
        lo, hi = max(a, -self.edge, mu - CUT), min(b, self.edge, mu + CUT)
        if not hi > lo:
            return 0.0, 2 * TAIL
        edges = np.unique(np.concatenate([[lo, hi], mu + OFFSETS]))
        edges = edges[(edges >= lo) & (edges <= hi)]
        pa, pb = edges[:-1, None], edges[1:, None]
        half = 0.5 * (pb - pa)
        x = np.where(_X < 0, pa + half * _GAP, pb - half * _GAP)
        y = np.exp(-0.5 * (x - mu) ** 2) / math.sqrt(2 * math.pi) * self.g(x)
        fine, coarse = (half * _W_FINE * y).sum(), (half * _W_COARSE * y).sum()
        err = SAFETY * abs(fine - coarse) + GAMMAINC_REL * fine + 2 * TAIL + 64 * EPS * fine
        return float(fine), float(err)

    def upper(self, mu, a, b):
        v, e = self.integral(mu, a, b)
        return v + e

    def lower(self, mu, a, b):
        v, e = self.integral(mu, a, b)
        return max(v - e, 0.0)


def _last_below(h, lo: float, hi: float) -> float:
    """A point x of [lo, hi] with h(x) < 0 next to the root of the increasing h (h(lo) < 0 is the
    caller's promise); ``hi`` when h(hi) < 0. Brent's method, then steps back until h < 0."""
    if h(hi) < 0:
        return hi
    x = optimize.brentq(h, lo, hi, xtol=1e-15 * (1 + abs(lo) + abs(hi)), rtol=8 * EPS, maxiter=200)
    step = 8 * EPS * abs(x) + 1e-15
    while not h(x) < 0:
        x = max(lo, x - step)
        step *= 4
    return x


def _thresholds(ball: _Ball, pa: float, qa: float):
    """(t1, t2) with E_Q f_t <= qA and E_P f_t <= pA (upper bounds), or None where the answer is
    Cohen's (the Q constraint slack: Phi(t1) <= pA, or no safe t1)."""
    span = min(ball.edge, CUT)
    target = qa * ball.mass_lo
    if ball.upper(0.0, -np.inf, span) <= target:
        t1 = np.inf
    else:
        h1 = lambda t: ball.upper(0.0, -np.inf, t) - target  # noqa: E731
        if not h1(-span) < 0:
            return None
        t1 = _last_below(h1, -span, span)
    p_of = lambda t2: float(grow(special.ndtr(t2))) + ball.upper(0.0, t2, t1)  # noqa: E731
    if not p_of(min(t1, CUT)) > pa:
        return None  # f_t at t2 = t1 is a half-space under pA: Cohen's set does better
    if not p_of(-CUT) - pa < 0:
        return t1, -np.inf  # nu_1 = 0: the P constraint is not needed
    return t1, _last_below(lambda t: p_of(t) - pa, -CUT, min(t1, CUT))


def _dsrs_unit_radius(ball: _Ball, pa: float, qa: float, cohen: float) -> float:
    """The largest r (>= Cohen's, sigma = 1) whose lower bound of E_{P_{r e1}} f_t exceeds 1/2."""
    th = _thresholds(ball, pa, qa)
    if th is None:
        return cohen
    t1, t2 = th

    def h(r):  # 1/2 - (lower bound of E_{P_r} f_t): increasing in r where it matters
        out = float(shrink(special.ndtr(t2 - r))) if t2 > -np.inf else 0.0
        return 0.5 - (out + ball.lower(r, t2, t1))

    top = min(t1, ball.edge)
    if not top > cohen or not h(cohen) < 0:
        return cohen
    return _last_below(h, cohen, top)


# ---------------------------------------------------------------------------------------------
# mpmath twin: the same equations solved exactly
class _BallMp:
    """The twin's geometry at the working precision (tau the same double)."""

    def __init__(self, dim: int, tau: float):
        self.d, self.tau = dim, mp.mpf(tau)
        self.edge = mp.sqrt(self.tau)
        self.mass = mp.gammainc(mp.mpf(dim) / 2, 0, self.tau / 2, regularized=True)
        self.cut = mp.sqrt(2 * (mp.mp.dps + 10) * mp.log(10)) + 2

    def g(self, x):
        s = self.tau - x * x
        return mp.gammainc(mp.mpf(self.d - 1) / 2, 0, s / 2, regularized=True) if s > 0 else mp.mpf(0)

    def integral(self, mu, a, b, weight=None):
        """int_a^b phi(x - mu) G(x) w(x - mu) dx (w = 1 by default) by mp.quad in theta, x = T sin
        theta: G(T sin theta) = F_{d-1}(T^2 cos^2 theta) is analytic in theta up to the ball's
        edge (in x it behaves like (T - x)^((d-1)/2) there), so the rule keeps its full rate."""
        lo, hi = max(a, -self.edge, mu - self.cut), min(b, self.edge, mu + self.cut)
        if not hi > lo:
            return mp.mpf(0)
        n = max(1, int(mp.ceil(hi - lo)))
        pts = [mp.asin(max(-1, min(1, (lo + (hi - lo) * i / n) / self.edge))) for i in range(n + 1)]
        half = mp.mpf(self.d - 1) / 2

        def f(th):
            c = mp.cos(th)
            x = self.edge * mp.sin(th) - mu
            y = mp.npdf(x) * mp.gammainc(half, 0, self.tau * c * c / 2, regularized=True) * self.edge * c
            return y if weight is None else y * weight(x)

        return mp.quad(f, pts)


def _mp_newton(fun, dfun, x0, lo, hi, iters: int = 40):
    """Newton's method for the increasing ``fun`` from ``x0`` (a float hint), inside [lo, hi];
    None when a step leaves the bracket or it does not settle (the caller then brackets)."""
    x = mp.mpf(x0)
    tol = mp.mpf(10) ** (-mp.mp.dps + 8)
    for _ in range(iters):
        step = fun(x) / dfun(x)
        x = x - step
        if not lo <= x <= hi:
            return None
        if abs(step) <= tol * (1 + abs(x)):
            return x
    return None


class _Cumulative:
    """t -> int_{-inf}^t phi(x) G(x) dx, each call integrating only from the last point."""

    def __init__(self, ball: _BallMp):
        self.ball, self.t, self.value = ball, mp.ninf, mp.mpf(0)

    def __call__(self, t):
        if self.t == mp.ninf or abs(t - self.t) > 1:
            self.t, self.value = mp.mpf(t), self.ball.integral(0, mp.ninf, t)
        else:
            sign = 1 if t >= self.t else -1
            self.value += sign * self.ball.integral(0, min(t, self.t), max(t, self.t))
            self.t = mp.mpf(t)
        return self.value


def _mp_root(fun, lo, hi, dfun=None, iters: int = 300):
    """Root of the increasing ``fun`` in [lo, hi] (fun(lo) <= 0 <= fun(hi)) to the working
    precision: Newton steps from the last point when ``dfun`` is given, else Illinois steps on the
    bracket; a step that leaves the bracket, and every fourth step, is a bisection."""
    flo, fhi = fun(lo), fun(hi)
    tol = mp.mpf(10) ** (-mp.mp.dps + 8)
    x = (lo + hi) / 2
    for it in range(iters):
        fx = fun(x)
        if fx == 0:
            return x
        if fx > 0:
            hi, fhi, flo = x, fx, flo / 2
        else:
            lo, flo, fhi = x, fx, fhi / 2
        if hi - lo <= tol * (1 + abs(x)):
            return x
        step = x - fx / dfun(x) if dfun is not None else (lo * fhi - hi * flo) / (fhi - flo)
        x = step if (lo < step < hi and it % 4 != 3) else (lo + hi) / 2
    return x


def _solve_mp(fun, dfun, hint, lo, hi):
    """The root of the increasing ``fun`` in [lo, hi]: Newton from the float ``hint`` (speed
    only), else the bracketed :func:`_mp_root`."""
    x = None
    if hint is not None and math.isfinite(hint) and lo < hint < hi:
        x = _mp_newton(fun, dfun, hint, lo, hi)
    return x if x is not None else _mp_root(fun, lo, hi, dfun)


def _dsrs_unit_radius_mp(ball: _BallMp, pa, qa, hint=(None, None, None)):
    """The exact radius at sigma = 1 (Thm 3 of Li et al. at k = 0, see the module docstring).
    ``hint``: float approximations of (t1, t2, r) where Newton may start (they change no digit)."""
    cohen = gaussian_gap_mp(pa, None)
    target = qa * ball.mass
    if target <= 0:
        return cohen
    span = min(ball.edge, ball.cut)
    cum = _Cumulative(ball)
    if target >= ball.mass:
        t1 = mp.inf
    else:
        t1 = _solve_mp(lambda t: cum(t) - target, lambda t: mp.npdf(t) * ball.g(t), hint[0], -span, span)
    if pa >= mp.ncdf(t1):
        return cohen
    a1 = ball.integral(0, mp.ninf, t1)
    if pa <= a1:
        t2 = mp.ninf
    else:
        hi = t1 if mp.isfinite(t1) else ball.cut + 40
        cum = _Cumulative(ball)
        t2 = _solve_mp(lambda t: mp.ncdf(t) + a1 - cum(t) - pa, lambda t: mp.npdf(t) * (1 - ball.g(t)),
                       hint[1], -ball.cut - 40, hi)

    def excess(r):  # 1/2 - E_{P_r} f*: increasing in r
        return mp.mpf(1) / 2 - (mp.ncdf(t2 - r) + ball.integral(r, t2, t1))

    def slope(r):
        out = mp.npdf(t2 - r) if mp.isfinite(t2) else 0
        return out - ball.integral(r, t2, t1, weight=lambda u: u)

    top = min(t1, ball.edge)
    if excess(cohen) >= 0:
        return cohen
    return _solve_mp(excess, slope, hint[2], cohen, top)


# ---------------------------------------------------------------------------------------------
@register
class DsrsGaussianL2(Certificate):
    """Li, Zhang, Xie & Li 2022 (DSRS), Thm 3 at k = 0: P = N(0, sigma^2 I_d), Q = P truncated to
    the ball ||z||_2^2 <= sigma^2 tau, tau = chi2_d^-1(ball_mass) (the module docstring derives
    the optimal set and the thresholds).

    ``radius(p_a, q_a=...)``: ``p_a`` lower-bounds P(f = y), ``q_a`` lower-bounds Q(f = y) (the two
    bounds hold simultaneously: split alpha between them, e.g. alpha/2 each, as Li et al. Alg. 1
    do). ``q_a = 0`` (the default) carries no information and gives Cohen's radius; the radius is
    never below Cohen's. Binary (the smoothed class is certified while its probability stays above
    1/2). Tight: the threshold set f* attains the minimum (the Neyman-Pearson argument of Thm 3),
    so no larger l2 ball can be certified from (pA, qA).
    """

    name = "dsrs-gaussian-l2"
    family = "dsrs-gaussian-ball"
    norm = "l2"
    tight = True
    binary_only = True
    expensive = True
    twin_rtol = 1e-7
    scale_param = "sigma"
    citation = ("Li, Zhang, Xie & Li 2022, Double Sampling Randomized Smoothing (ICML), Thm 3 "
                "(Eq. 4, Problem (5)) with Q = truncated Gaussian at k = 0 (Sec. 5)")
    formula = ("R = sigma * max{r : Phi(t2 - r) + int_t2^t1 phi(x - r) F_{d-1}(tau - x^2) dx > 1/2}, "
               "t1, t2 from E_Q f = qA, E_P f = pA; R = sigma Phi^-1(pA) when pA >= Phi(t1)")

    def __init__(self, sigma, dim=784, ball_mass=0.5):
        self._params = GaussianBall.validate({"sigma": sigma, "dim": dim, "ball_mass": ball_mass})
        self.tau = float(special.gammaincinv(0.5 * self._params["dim"], self._params["ball_mass"])) * 2.0
        self._ball = _Ball(self._params["dim"], self.tau)

    # -- public API with q_a -------------------------------------------------------------------
    def _checked(self, p_a, p_b, q_a):
        if p_b is not None:
            check_probability("p_b", p_b)
            raise ValueError(f"{self.name} is a binary theorem: pass p_b=None (p_b = 1 - p_a), "
                             f"got p_b={p_b!r}")
        pa = check_probability("p_a", p_a, "down")
        qa = check_probability("q_a", q_a, "down")
        try:
            pa_b, qa_b = np.broadcast_arrays(pa, qa)
        except ValueError:
            raise ValueError(f"p_a and q_a must have broadcastable shapes, got {pa.shape} and "
                             f"{qa.shape}") from None
        return pa_b, qa_b, pa.ndim == 0 and qa.ndim == 0

    def radius(self, p_a, p_b=None, *, q_a=0.0):
        """Certified l2 radius from p_a (under P) and q_a (under Q): float for scalars, else an
        array; 0 where p_a <= 1/2, inf at p_a = 1, never below Cohen's sigma Phi^-1(p_a)."""
        pa, qa, scalar = self._checked(p_a, p_b, q_a)
        cohen = gaussian_gap(pa, None)
        out = np.empty(pa.shape)
        for i in np.ndindex(pa.shape):
            c = float(cohen[i])
            out[i] = c if not (0.5 < pa[i] < 1.0) else _dsrs_unit_radius(self._ball, float(pa[i]),
                                                                         float(qa[i]), c)
        s = self._params["sigma"]
        with np.errstate(over="ignore"):
            r = shrink(s * out, 2)
        r = np.where(np.isinf(r) & np.isfinite(out), MAX, r)
        return as_output(np.maximum(r, 0.0), scalar)

    def _hint(self, pa: float, qa: float):
        """Float (t1, t2, r) where the twin's Newton steps start (None where the float path
        answers with Cohen's radius)."""
        th = _thresholds(self._ball, pa, qa)
        if th is None:
            return None, None, None
        cohen = float(gaussian_gap(np.float64(pa), None))
        return th[0], th[1], _dsrs_unit_radius(self._ball, pa, qa, cohen)

    def radius_mp(self, p_a, p_b=None, dps: int = 50, *, q_a=0.0):
        """The exact radius in mpmath at ``dps`` digits (scalar p_a and q_a)."""
        dps = check_dps(dps)
        pa, qa, scalar = self._checked(p_a, p_b, q_a)
        if not scalar:
            raise ValueError("radius_mp takes scalar p_a and q_a; loop over arrays")
        pa, qa = float(pa), float(qa)
        with mp.workdps(twin_dps(pa, None, dps)):
            a = mp.mpf(pa)
            if not (0.5 < pa < 1.0):
                return max(mp.mpf(self._params["sigma"]) * gaussian_gap_mp(a, None), mp.mpf(0))
            r = _dsrs_unit_radius_mp(_BallMp(self._params["dim"], self.tau), a, mp.mpf(qa),
                                     self._hint(pa, qa))
            return mp.mpf(self._params["sigma"]) * r

    def _radius_mp(self, p_a, p_b):
        """The twin at mpmath inputs without q_a (the base-class contract the generic tests use):
        q_a = 0 carries no information and the radius is Cohen's, sigma Phi^-1(p_a)."""
        return max(mp.mpf(self._params["sigma"]) * gaussian_gap_mp(p_a, None), mp.mpf(0))


def against_cohen(dims, p_a: float, q_a: float, sigma: float = 1.0, ball_mass: float = 0.5):
    """Rows {dim, cohen, dsrs} of the DSRS radius against Cohen's at the same pA for each input
    dimension (d from 784 to 150,528; docs/guide.md shows the numbers)."""
    rows = []
    for d in dims:
        c = DsrsGaussianL2(sigma=sigma, dim=d, ball_mass=ball_mass)
        rows.append({"dim": int(d), "cohen": c.radius(p_a), "dsrs": c.radius(p_a, q_a=q_a)})
    return rows


__all__ = ["DsrsGaussianL2", "GaussianBall", "against_cohen"]
