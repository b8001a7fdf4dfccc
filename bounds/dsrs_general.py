"""Double-sampling randomized smoothing with the generalized Gaussian P (Li, Zhang, Xie & Li 2022,
"Double Sampling Randomized Smoothing", ICML; Sec. 5 and App. E): P = N^g(k, sigma) and
Q = N^g_trunc(k, T, sigma), P truncated to the ball ||z||_2 <= T. The k = 0 member (plain Gaussian
P, thresholds independent of r) is :mod:`.dsrs`; this module is k > 0, a separate family because
the Neyman-Pearson sets are no longer half-spaces in one coordinate.

The law (their Sec. 5, Eq. 8, and ``GeneralGaussian`` in their code): density proportional to
||z||^-2k exp(-||z||^2 / (2 sigma'^2)) with sigma' = sigma sqrt(d / (d - 2k)), so that
||z||^2 / (2 sigma'^2) ~ Gamma(d/2 - k) and E||z||^2 = d sigma^2: ``sigma`` is the per-coordinate
std, as for N(0, sigma^2 I). 0 <= k < d/2 (they use k = d/2 - 12, d/2 - 6, d/2 - 4 on MNIST,
CIFAR-10 and ImageNet: 380, 1530, 75260). In Zhang et al.'s notation (``zhang-l2``) this is their
pi0 with exponent 2k and scale sigma'; that engine (:mod:`.functional.engine`) supplies the
conditional laws used here (one engine, not two). ``ball_mass`` = P(||z|| <= T), the paper's
percentile threshold; T^2 = sigma'^2 ``tau``, ``tau`` = 2 Gamma(d/2 - k)^-1(ball_mass) in float64
(that double defines Q, as in :mod:`.dsrs`).

Solution (their Thm 3, the two-constraint Neyman-Pearson lemma). Work at sigma' = 1, delta = r e_1
(rotation invariance), Lambda = log(p_delta / p)(z) = phi(||z||) - phi(||z - delta||),
phi(s) = 2k log s + s^2/2, M = P(||z|| <= T). The minimizer of E_{P_delta} f subject to
E_P f >= pA, E_Q f >= qA is f = 1[p_delta < nu_1 p + nu_2 q], the set

    {Lambda < x_in, ||z|| <= T}  union  {Lambda < x_out, ||z|| > T},    x_out <= x_in,

with e^x_out = nu_1, e^x_in = nu_1 + nu_2 / M; unlike k = 0 the thresholds depend on r. Given
u = ||z||, {Lambda < x} is {||z - delta|| > s*(u, x)} (a Beta((d-1)/2, (d-1)/2) event in the
angle, the engine's ``_conditional``), so E_Q f = I_in / M and E_P f = I_in + I_out with
I_in = int_{u <= T} P(Lambda < x_in | u), I_out = int_{u > T} P(Lambda < x_out | u). Under P_delta,
z' = delta - z ~ P and Lambda(z) = -Lambda(z'), so with every event an upper threshold on
s = ||z' - delta|| given u:

    E_{P_delta} f = E_u[ min(P(s <= T | u), P(Lambda >= -x_in | u))
                         + max(0, P(Lambda >= -x_out | u) - P(s <= T | u)) ].

Cases: x_in solves E_Q f = qA; if E_P f <= pA already at x_out = x_in, the Q constraint is slack
and the answer is the single-sample radius of P (``zhang-l2`` at exponent 2k and scale sigma';
DSRS is never below it, and q_a = 0 gives it); if E_P f >= pA at x_out = -inf, nu_1 = 0.

Weak duality (the float path rests on it): for any x_out <= x_in whose set f_t has E_P f_t <= pA
(or nu_1 = 0) and E_Q f_t <= qA, nu.(pA, qA) - E_P[(nu_1 p + nu_2 q - p_delta)_+] =
nu_1 (pA - E_P f_t) + nu_2 (qA - E_Q f_t) + E_{P_delta} f_t >= E_{P_delta} f_t lower-bounds every
feasible f. So the thresholds are solved with integrals bounded above and E_{P_delta} f_t bounded
below. Monotone in r (lemma, ours): the dual term E[(mu - p_delta)_+] = int mu - int_0^inf
|{mu > t} cap {p_delta > t}| dt for the radially decreasing mu = nu_1 p + nu_2 q (p is radially
decreasing and so is its truncation); each level set is a ball, and the volume of the intersection
of two balls shrinks as their centres move apart. So the dual term grows with ||delta||, the bound
certified at r e_1 holds at every ||delta|| <= r, and the certified set is a ball.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import special

from ..core.checks import check_int
from ..core.rounding import EPS, MAX, as_output, shrink
from ..core.roots import expand, illinois, walk
from .base import TwinUnavailable, check_dps, twin_dps
from .dsrs import GAMMAINC_REL, DsrsGaussianL2, ball_mass
from .family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from .functional.engine import XMAX
from .functional.twin import newton_mp
from .functional.zhang import ZhangL2
from .registry import register

#: Relative floor of every integral's error: betainc and summation (the engine's floor).
FLOOR = 1e-13
#: The nested-rule estimate |fine - coarse| is multiplied by this before it is used.
SAFETY = 2.0
#: Relative width at which the radius search stops (the certified end is returned); about the
#: noise of the gap function, whose thresholds are solved on quadrature values.
R_RTOL = 1e-10


def dimension(name: str, value) -> int:
    """The input dimension: an integer >= 2."""
    return check_int(name, value, minimum=2)


def check_k(k: float, dim: int) -> None:
    """0 <= k < dim / 2 (||z||^2 / (2 sigma'^2) ~ Gamma(d/2 - k) needs a positive shape)."""
    if not 0.0 <= k < 0.5 * dim:
        raise ValueError(f"k must satisfy 0 <= k < dim/2 = {0.5 * dim}, got k={k!r}")


@register_family
class GeneralGaussianBall(NoiseFamily):
    """DSRS's pair (Li et al. 2022, Sec. 5): P = N^g(k, sigma), density proportional to
    ||z||^-2k exp(-||z||^2 / (2 sigma'^2)), sigma' = sigma sqrt(d / (d - 2k)), and Q = P conditioned
    on ||z|| <= T, P(||z|| <= T) = ball_mass. The per-coordinate std is sigma."""

    name = "dsrs-general-gaussian-ball"
    params = (Param("sigma", "reals", positive_scalar,
                    "per-coordinate std of P (its scale is sigma' = sigma sqrt(d/(d - 2k)))"),
              Param("k", "real", nonnegative_real,
                    "exponent of the ||z||^-2k factor of P (a real 0 <= k < dim/2; Li et al. Sec. 5)", 0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", 784),
              Param("ball_mass", "real", ball_mass,
                    "P-mass of the ball that truncates Q (0 < ball_mass < 1)", 0.5))
    scale_param = "sigma"
    law = ("P ~ ||z||^-2k exp(-||z||^2 / (2 sigma'^2)), sigma'^2 = sigma^2 d / (d - 2k); Q = P "
           "conditioned on ||z|| <= T, P(||z|| <= T) = ball_mass (Li et al. 2022, Sec. 5)")
    std_formula = "sigma (of P)"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        check_k(params["k"], params["dim"])

    @classmethod
    def unit_std(cls, params):
        return 1.0


# ---------------------------------------------------------------------------------------------
# float64: the three integrals with error bounds, on the zhang-l2 engine's conditional laws
class _GeneralBall:
    """The geometry at sigma' = 1: the engine (``ZhangL2`` at exponent 2k, scale 1), T and M."""

    def __init__(self, dim: int, k: float, tau: float):
        self.eng = ZhangL2(sigma=1.0, k=2.0 * k, dim=dim)
        self.law = self.eng._law
        self.edge = math.sqrt(tau)
        mass = float(special.gammainc(self.law.shape, 0.5 * tau))
        self.mass_lo, self.mass_hi = mass * (1.0 - GAMMAINC_REL), mass * (1.0 + GAMMAINC_REL)
        self.out_lo = float(special.gammaincc(self.law.shape, 0.5 * tau)) * (1.0 - GAMMAINC_REL)
        _, wf, wc = self.law.rule(self.law.edges[:-1], self.law.edges[1:])
        self.zf = float(wf.sum())
        self.ez = abs(self.zf - float(wc.sum())) / self.zf

    def _quad(self, edges, fun):
        """[(value, error bound)] of int y(u) dP(u) for each array y of ``fun(u)`` (a tuple),
        over the panels between the sorted edges."""
        e = np.unique(edges)
        a, b = e[:-1], e[1:]
        u, wf, wc = self.law.rule(a, b)
        # a node sits up to half an ulp off its point: the engine's bound 2 EPS |u| / half-width
        with np.errstate(divide="ignore", invalid="ignore"):  # panels of subnormal width: 1
            shift = np.minimum(2 * EPS * np.maximum(np.abs(a), np.abs(b)) / (0.5 * (b - a)), 1.0)
        shift = np.where(np.isfinite(shift), shift, 1.0)
        out = []
        for y in fun(u):
            nf, nc = float((wf * y).sum()), float((wc * y).sum())
            val = nf / self.zf
            pos = float((shift[:, None] * wf * np.abs(y)).sum())
            err = (SAFETY * abs(nf - nc) + pos) / self.zf + val * (self.ez + FLOOR + 2 * u.size * EPS)
            out.append((val, 1.01 * err + self.law.tail))
        return out

    def _edges(self, rt, xs_h, xs_g, lo, hi):
        """Panel edges on [lo, hi]: the law's, rt, T and its shifts, and the kinks of the
        conditional laws at the thresholds (the engine's breakpoints, and s*(u, -x) = T)."""
        law, t = self.law, self.edge
        pts = [law.edges, [rt, t, abs(t - rt), t + rt]]
        xs = np.array(list(xs_h) + [-x for x in xs_g])
        if xs.size:
            pts.append(self.eng._breakpoints(rt, xs).ravel())
        if xs_g:
            with np.errstate(all="ignore"):
                pts.append(self.eng._s_closed(np.full(len(xs_g), t), np.array(xs_g)))
        e = np.concatenate([np.atleast_1d(np.asarray(p, float)) for p in pts] + [[lo, hi]])
        return e[np.isfinite(e) & (e >= lo) & (e <= hi)]

    def _ball(self, u, rt):
        """P(||z - rt e_1|| <= T | ||z|| = u) (the engine's Beta law at s = T)."""
        t = np.full_like(u, self.edge)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self.eng._inner(u, t - u, t, t < 0.5 * u, rt)[1]
        # 4 rt u underflows only for rt u < 1e-308: 0/0 exactly where T = u + rt (probability 1)
        return np.where(np.isfinite(p), p, np.where(u + rt <= t, 1.0, 0.0))

    def inside(self, rt, x):
        """P(Lambda < x, ||z|| <= T) and P(Lambda >= x, ||z|| <= T): two (value, error) pairs
        (the second keeps its relative digits where the first is near M)."""
        hi = min(self.edge, self.law.hi)
        if not hi > self.law.lo:
            return (0.0, 2.0 * self.law.tail), (0.0, 2.0 * self.law.tail)
        edges = self._edges(rt, [x], [], self.law.lo, hi)
        return self._quad(edges, lambda u: self.eng._conditional(u, x, rt))

    def outside(self, rt, x):
        """P(Lambda < x, ||z|| > T) and P(Lambda >= x, ||z|| > T) (as :meth:`inside`)."""
        lo = max(self.edge, self.law.lo)
        if x == -np.inf:
            return (0.0, 0.0), (self.out_lo, 0.0)
        if not self.law.hi > lo:
            return (0.0, 2.0 * self.law.tail), (0.0, 2.0 * self.law.tail)
        return self._quad(self._edges(rt, [x], [], lo, self.law.hi),
                          lambda u: self.eng._conditional(u, x, rt))

    def shifted(self, rt, x_in, x_out):
        """E_{P_delta} f_t (module docstring): (value, error)."""
        xs_g = [x_in] if x_out == -np.inf else [x_in, x_out]

        def fun(u):
            ball = self._ball(u, rt)
            out = np.minimum(ball, self.eng._conditional(u, -x_in, rt)[1])
            if x_out > -np.inf:
                out = out + np.maximum(self.eng._conditional(u, -x_out, rt)[1] - ball, 0.0)
            return (out,)

        return self._quad(self._edges(rt, [], xs_g, self.law.lo, self.law.hi), fun)[0]


def _root_below(h, x0: float, step: float, top: float, tol: float):
    """A point x <= ``top`` with h(x) < 0 next to the root of the increasing h: ``top`` when
    h(top) < 0, None when h(-XMAX) >= 0. Walks from ``x0`` to a bracket, then Illinois steps;
    the returned end is one where h < 0 was evaluated."""
    x0 = min(max(x0, -XMAX), top)
    h0 = h(x0)
    neg = lambda v: v < 0  # noqa: E731
    if h0 < 0:
        br = expand(h, walk(x0, step, 2, limit=top), neg, x0, h0)
        if br.outside is None:
            return top
    else:
        br = expand(h, walk(x0, -step, 2, limit=-XMAX), lambda v: not v < 0, x0, h0)
        if br.outside is None:
            return None
        br = type(br)(br.outside, br.inside, br.f_outside, br.f_inside)
    return illinois(h, br.inside, br.outside, br.f_inside, br.f_outside, tol,
                    value=lambda v: -v, ok=neg).inside


class _Solver:
    """The DSRS radius at sigma' = 1 for one (pA, qA): thresholds per r, then the search in r."""

    def __init__(self, ball: _GeneralBall, pa: float, qa: float):
        self.ball, self.pa, self.qa = ball, pa, qa
        self.start = None  # previous (rt, x_in, x_out): where the next threshold search begins

    def thresholds(self, rt):
        """(x_in, x_out) with E_Q f_t <= qA and E_P f_t <= pA (upper bounds; x_out = -inf when
        nu_1 = 0), or None where the single-sample answer applies (Q slack, or no information)."""
        b = self.ball
        sig = max(b.eng._spread(rt), 1e-300)
        tol = 1e-11 * sig
        if self.start is not None and 0.5 < rt / self.start[0] < 2:
            g_in, g_out = self.start[1], self.start[2]
        else:
            g_in = g_out = -0.5 * sig * sig + sig * float(special.ndtri(self.pa))
        # E_Q f_t <= qA from either tail: I_in <= qA M, or C_in >= (1 - qA) M (near qA = 1)
        q_in, q_c = self.qa * b.mass_lo * (1 - 4 * EPS), (1.0 - self.qa) * b.mass_hi * (1 + 4 * EPS)

        def q_hi(x):
            (i, ei), (c, ec) = b.inside(rt, x)
            return min(i + ei - q_in, q_c - (c - ec))

        x_in = _root_below(q_hi, g_in, 0.1 * sig, XMAX, tol)
        if x_in is None:
            return None
        (i, ei), (c, ec) = b.inside(rt, x_in)
        p_c = 1.0 - self.pa

        def p_hi(x):  # E_P f_t - pA from above, in the direct or the complement form
            (o, eo), (co, eco) = b.outside(rt, x)
            return min((i + ei + o + eo) * (1 + 4 * EPS) - self.pa,
                       p_c - (c - ec + co - eco) * (1 - 4 * EPS))

        if p_hi(x_in) < 0:
            return None  # the Q constraint is slack: P's single-sample set does better
        start_out = g_out if math.isfinite(g_out) else x_in - sig
        x_out = _root_below(p_hi, min(start_out, x_in), 0.1 * sig, x_in, tol)
        x_out = -np.inf if x_out is None else x_out
        self.start = (rt, x_in, x_out)
        return x_in, x_out

    def gap(self, rt):
        """Lower bound of E_{P_{rt e1}} f_t minus 1/2 (-1 where the single-sample answer applies)."""
        th = self.thresholds(rt)
        if th is None:
            return -1.0
        v, e = self.ball.shifted(rt, *th)
        return v - e - 0.5

    def radius(self, single: float) -> float:
        """The largest rt >= ``single`` (the single-sample radius) where :meth:`gap` > 0."""
        if not single > 0:
            return single
        first = single * (1 + 1e-9)
        g0 = self.gap(first)
        if not g0 > 0:
            return single
        pos = lambda g: g > 0  # noqa: E731
        br = expand(self.gap, walk(first, 0.25 * single, 2, limit=1e6 * single), pos, first, g0)
        if br.outside is None:
            return br.inside
        br = illinois(self.gap, br.inside, br.outside, br.f_inside, br.f_outside,
                      lambda a, b: R_RTOL * max(a, b), ok=pos)
        return br.inside


# ---------------------------------------------------------------------------------------------
# mpmath twin: the same equations solved at the working precision
class _GeneralBallMp:
    """The twin's integrals at sigma' = 1: mp.quad over u = ||z|| with the engine's mpmath
    conditional law (Lambert W thresholds, mpmath's Beta CDF), T from the same double tau."""

    def __init__(self, ball: _GeneralBall, tau: float):
        self.float_ball, self.eng = ball, ball.eng
        self.nu = mp.mpf(ball.eng.dim) - mp.mpf(ball.eng.k)
        self.edge = mp.sqrt(mp.mpf(tau))
        self.mass = mp.gammainc(self.nu / 2, 0, mp.mpf(tau) / 2, regularized=True)
        self.a = mp.mpf(ball.eng.dim - 1) / 2
        self.log_norm = (self.nu / 2 - 1) * mp.log(2) + mp.loggamma(self.nu / 2)

    def _density(self, u):
        return mp.exp((self.nu - 1) * mp.log(u) - u * u / 2 - self.log_norm) if u > 0 else mp.mpf(0)

    def _ball(self, u, rt):
        """P(||z - rt e_1|| <= T | u) = P((1 + t)/2 >= xb), xb = ((u + rt)^2 - T^2) / (4 rt u)."""
        xb = ((u + rt) ** 2 - self.edge**2) / (4 * rt * u)
        if xb <= 0 or xb >= 1:
            return mp.mpf(int(xb <= 0))
        return mp.betainc(self.a, self.a, 0, 1 - xb, regularized=True)

    def _quad(self, fun, lo, hi, edges):
        pts = sorted({mp.mpf(float(e)) for e in edges if lo < e < hi} | {lo, hi})
        return mp.quad(lambda u: self._density(u) * fun(u), pts)

    def inside(self, rt, x):
        if x == mp.inf:
            return self.mass
        e = self.float_ball._edges(float(rt), [float(x)], [], 0.0, float(self.edge))
        return self._quad(lambda u: self.eng._cond_mp(u, x, rt), mp.mpf(0), self.edge, e)

    def outside(self, rt, x):
        if x == mp.ninf:
            return mp.mpf(0)
        e = self.float_ball._edges(float(rt), [float(x)], [], float(self.edge), np.inf)
        return self._quad(lambda u: self.eng._cond_mp(u, x, rt), self.edge, mp.inf, e)

    def shifted(self, rt, x_in, x_out):
        xs = ([] if x_in == mp.inf else [float(x_in)]) + ([] if x_out == mp.ninf else [float(x_out)])

        def fun(u):
            ball = self._ball(u, rt)
            out = ball if x_in == mp.inf else min(ball, self.eng._cond_mp(u, -x_in, rt, upper=True))
            if x_out != mp.ninf:
                out += max(self.eng._cond_mp(u, -x_out, rt, upper=True) - ball, 0)
            return out

        e = self.float_ball._edges(float(rt), [], xs, 0.0, np.inf)
        return self._quad(fun, mp.mpf(0), mp.inf, e)


# ---------------------------------------------------------------------------------------------
@register
class DsrsGeneralGaussianL2(DsrsGaussianL2):
    """Li, Zhang, Xie & Li 2022 (DSRS), Thm 3 with P = N^g(k, sigma) and Q = N^g_trunc(k, T,
    sigma) (Sec. 5): the generalized Gaussian of exponent 2k (0 <= k < dim/2) and scale
    sigma' = sigma sqrt(d / (d - 2k)), Q = P truncated to the ball of P-mass ``ball_mass``
    (the module docstring derives the optimal set, the weak-duality float path and monotonicity).

    ``radius(p_a, q_a=...)`` as for ``dsrs-gaussian-l2``: ``q_a`` lower-bounds Q(f = y), the two
    bounds simultaneous (split alpha). ``q_a = 0`` gives the single-sample radius of P, which is
    ``zhang-l2`` at k_zhang = 2k and sigma_zhang = sigma' (never below it); k = 0 is
    ``dsrs-gaussian-l2`` exactly (same numbers). Binary. Tight: the threshold set attains the
    minimum of the Neyman-Pearson problem (Thm 3).
    """

    name = "dsrs-general-gaussian-l2"
    family = "dsrs-general-gaussian-ball"
    twin_rtol = 1e-7
    citation = ("Li, Zhang, Xie & Li 2022, Double Sampling Randomized Smoothing (ICML), Thm 3 "
                "(Eq. 4, Problem (5)) with P = N^g(k, sigma), Q = N^g_trunc(k, T, sigma) (Sec. 5)")
    formula = ("R = sigma' max{r : E_{P_{r e1}} f > 1/2}, f = 1[Lambda < x_in] on ||z|| <= T, "
               "1[Lambda < x_out] outside, E_Q f = qA, E_P f = pA; zhang-l2 (2k, sigma') if Q slack")

    def __init__(self, sigma, k=0, dim=784, ball_mass=0.5):
        self._params = GeneralGaussianBall.validate({"sigma": sigma, "k": k, "dim": dim,
                                                     "ball_mass": ball_mass})
        d, k = self._params["dim"], self._params["k"]
        self.k = k
        self.scale = self._params["sigma"] * math.sqrt(d / (d - 2.0 * k))  # sigma'
        self.tau = float(special.gammaincinv(0.5 * d - k, self._params["ball_mass"])) * 2.0
        if k == 0:
            self._k0 = DsrsGaussianL2(sigma=self._params["sigma"], dim=d,
                                      ball_mass=self._params["ball_mass"])
        else:
            self._general = _GeneralBall(d, k, self.tau)

    def _unit(self, pa: float, qa: float):
        """(unit radius, single-sample unit radius, solver) at sigma' = 1."""
        single = float(self._general.eng.radius(pa))
        if not (0.5 < pa < 1.0) or qa == 0.0:
            return single, single, None
        solver = _Solver(self._general, pa, qa)
        return solver.radius(single), single, solver

    def radius(self, p_a, p_b=None, *, q_a=0.0):
        """Certified l2 radius from p_a (under P) and q_a (under Q): float for scalars, else an
        array; 0 where p_a <= 1/2, inf at p_a = 1, never below the single-sample radius."""
        if self.k == 0:
            return self._k0.radius(p_a, p_b, q_a=q_a)
        pa, qa, scalar = self._checked(p_a, p_b, q_a)
        out = np.empty(pa.shape)
        for i in np.ndindex(pa.shape):
            out[i] = self._unit(float(pa[i]), float(qa[i]))[0]
        with np.errstate(over="ignore"):
            r = shrink(self.scale * out, 8)
        r = np.where(np.isinf(r) & np.isfinite(out), MAX, r)
        return as_output(np.maximum(r, 0.0), scalar)

    def radius_mp(self, p_a, p_b=None, dps: int = 50, *, q_a=0.0):
        """The exact radius in mpmath (scalar p_a and q_a) at min(dps, 20) digits, as the
        ``zhang-l2`` twin (far beyond twin_rtol; each point costs seconds)."""
        if self.k == 0:
            return self._k0.radius_mp(p_a, p_b, dps, q_a=q_a)
        dps = check_dps(dps)
        pa, qa, scalar = self._checked(p_a, p_b, q_a)
        if not scalar:
            raise ValueError("radius_mp takes scalar p_a and q_a; loop over arrays")
        pa, qa = float(pa), float(qa)
        d, k = self._params["dim"], self.k
        with mp.workdps(min(twin_dps(pa, None, dps), 20)):
            scale = mp.mpf(self._params["sigma"]) * mp.sqrt(mp.mpf(d) / (d - 2 * mp.mpf(k)))
            return scale * self._unit_mp(pa, qa)

    def _radius_mp(self, p_a, p_b):
        """The q_a = 0 twin (the base-class contract the generic tests use): zhang-l2's."""
        if self.k == 0:
            return self._k0._radius_mp(p_a, p_b)
        d = self._params["dim"]
        scale = mp.mpf(self._params["sigma"]) * mp.sqrt(mp.mpf(d) / (d - 2 * mp.mpf(self.k)))
        return scale * self._general.eng._radius_mp(p_a, None)

    def _unit_mp(self, pa: float, qa: float):
        """The exact unit radius: the single-sample twin where the float path found the Q
        constraint slack, else the Neyman-Pearson equations E_Q f = qA, E_P f = pA (unless
        nu_1 = 0), E_{P_r} f = 1/2 by Newton from the float solution; a solution with
        x_out > x_in (nu_2 < 0) means Q is slack after all."""
        eng = self._general.eng
        single = lambda: eng._radius_mp(mp.mpf(pa), None)  # noqa: E731
        r, r1, solver = self._unit(pa, qa)
        if solver is None or not r > r1:
            return single()
        x_in, x_out = solver.thresholds(r)
        ball = _GeneralBallMp(self._general, self.tau)
        a, q = mp.mpf(pa), mp.mpf(qa)
        half = mp.mpf(1) / 2
        if qa == 1.0 or x_in >= XMAX:  # E_Q f = 1: f = 1 on the ball (x_in = inf), only at qA = 1
            if qa < 1.0:
                raise TwinUnavailable(f"{self.name} twin: x_in beyond e^{XMAX:g} at q_a={qa!r} < 1")
            if x_out == -np.inf:
                z = newton_mp(lambda v: [ball.shifted(mp.exp(v[0]), mp.inf, mp.ninf) - half],
                              [mp.log(r)], self.name, steps=6, stop_digits=4)
                return mp.exp(z[0])

            def G(v):
                rt = mp.exp(v[1])
                return [ball.mass + ball.outside(rt, v[0]) - a, ball.shifted(rt, mp.inf, v[0]) - half]

            z = newton_mp(G, [mp.mpf(x_out), mp.log(r)], self.name, steps=6, stop_digits=4)
            return mp.exp(z[1])
        if x_out == -np.inf:
            def F(z):
                rt = mp.exp(z[1])
                return [ball.inside(rt, z[0]) / ball.mass - q, ball.shifted(rt, z[0], mp.ninf) - half]

            z = newton_mp(F, [mp.mpf(x_in), mp.log(r)], self.name, steps=6, stop_digits=4)
            return mp.exp(z[1])

        def F(z):
            rt = mp.exp(z[2])
            i_in = ball.inside(rt, z[0])
            return [i_in / ball.mass - q, i_in + ball.outside(rt, z[1]) - a,
                    ball.shifted(rt, z[0], z[1]) - half]

        z = newton_mp(F, [mp.mpf(x_in), mp.mpf(x_out), mp.log(r)], self.name, steps=6, stop_digits=4)
        return mp.exp(z[2]) if z[1] <= z[0] else single()


def against_cohen_general(dims, ks, p_a: float, q_a: float, sigma: float = 1.0,
                          ball_mass: float = 0.5):
    """Rows {dim, k, cohen, single, dsrs}: Cohen's radius, the single-sample radius of P and
    the DSRS radius at the same pA for each (dim, k) (docs/guide.md shows the numbers)."""
    rows = []
    for d, k in zip(dims, ks):
        c = DsrsGeneralGaussianL2(sigma=sigma, k=k, dim=d, ball_mass=ball_mass)
        rows.append({"dim": int(d), "k": float(k), "cohen": sigma * float(special.ndtri(p_a)),
                     "single": c.radius(p_a), "dsrs": c.radius(p_a, q_a=q_a)})
    return rows


__all__ = ["DsrsGeneralGaussianL2", "GeneralGaussianBall", "against_cohen_general"]
