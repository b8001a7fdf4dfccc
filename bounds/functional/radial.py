"""The radial quadrature of the Zhang et al. 2020 certificates (``zhang-l2``, ``zhang-l1``).

For the radial families pi0(z) proportional to ||z||^-k exp(-||z||^q / (q s^q)) (q = 2: the l2
family with s = sigma; q = 1: the l1 family with s = b), the normalized radius ``u = ||z|| / s``
has the density ``c u^(nu-1) exp(-u^q / q)`` with ``nu = d - k``: u is chi(nu) for q = 2
(u^2 ~ chi-square(nu)) and Gamma(nu, 1) for q = 1 (docs/contributing.md, Theorem catalog conventions).

This module holds the pieces that do not depend on the family: the radial law (:class:`RadialLaw`),
a nested tanh-sinh rule (:func:`tanh_sinh_rule`) with its error estimate, a vectorized monotone root
finder and a safeguarded Newton solver. Everything is plain numpy/scipy.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import optimize, special

EPS = float(np.finfo(float).eps)

#: Radial mass left outside the integration range on each side (added to the error bound). It is
#: far below any probability a certificate works with, so that even (pA, pB) = (1e-3, 1e-60) keep
#: their relative digits (the mass cut off counts in full against every probability).
TAIL = 1e-300
#: The range never reaches u = 0 exactly (the family's log-ratio is singular there).
U_MIN = 1e-300
#: Nor past u = 1e300 (the power-law tail of :class:`BetaPrimeLaw`; the mass beyond is counted).
U_MAX = 1e300
#: Panel edges on each side of the mode where the radial log-density has dropped by these amounts:
#: tanh-sinh panels where the mass is, up to the cut at TAIL.
DROPS = (3.0, 30.0, 300.0)


class RadialLaw:
    """The law of ``u = ||z|| / scale`` with density ``c u^(nu-1) exp(-u^q/q)`` on (0, inf).

    Any q > 0: ``u^q / q ~ Gamma(nu/q)``; q = 2: chi with nu degrees of freedom; q = 1:
    ``u ~ Gamma(nu)`` (q = 1 and 2 keep their own closed forms below; other q serve Yang et al.'s
    Exp2 noise, :mod:`.spherical`).
    ``lo``/``hi`` bound the integration range, leaving ``tail`` = P(u < lo) + P(u > hi) (about
    2 TAIL; more only for nu < 1, where P(u < U_MIN) is about U_MIN^nu). For nu < 1 the density
    is unbounded at 0 and the rule integrates in ``w = u^nu`` instead (``u^(nu-1) du = dw / nu``,
    a bounded integrand), see :meth:`rule`.
    """

    def __init__(self, q: float, nu: float):
        if not (np.isfinite(q) and q > 0):
            raise ValueError(f"q must be a finite number > 0, got {q!r}")
        self.q, self.nu = q, float(nu)
        self.shape = self.nu / q  # Gamma shape of u^q / q
        self.mode = max(self.nu - 1.0, 0.0) ** (1.0 / q)
        self.lo = max(float(self._from_gamma(special.gammaincinv(self.shape, TAIL))), U_MIN)
        self.hi = float(self._from_gamma(special.gammainccinv(self.shape, TAIL)))
        self.tail_lo, self.tail_hi = self._cdf_lo(), float(self.sf(self.hi))
        self.tail = self.tail_lo + self.tail_hi
        self.power = min(self.nu, 1.0)  # integration variable w = u^power
        self.edges = self._edges()

    def _from_gamma(self, g):
        if self.q in (1, 2):
            return np.sqrt(2.0 * g) if self.q == 2 else g
        return (self.q * np.asarray(g, dtype=float)) ** (1.0 / self.q)

    def _to_gamma(self, u):
        u = np.asarray(u, dtype=float)
        if self.q in (1, 2):
            return 0.5 * u * u if self.q == 2 else u
        return u**self.q / self.q

    def cdf(self, u):
        return special.gammainc(self.shape, self._to_gamma(u))

    def sf(self, u):
        return special.gammaincc(self.shape, self._to_gamma(u))

    def _cdf_lo(self):
        """P(u < lo), bounded above by g^a / Gamma(a + 1) (g = lo^q / q, a = nu / q) where g
        underflows (lo = U_MIN)."""
        if self.lo > U_MIN:
            return float(self.cdf(self.lo))
        if self.q in (1, 2):
            log_g = np.log(self.lo) if self.q == 1 else 2.0 * np.log(self.lo) - np.log(2.0)
        else:
            log_g = self.q * np.log(self.lo) - np.log(self.q)
        return float(min(1.0, np.exp(self.shape * log_g - special.gammaln(self.shape + 1.0))))

    def _edges(self):
        """Base panel edges: lo, hi, the mode and the points where the log-density is DROPS below
        its peak (nu >= 2: both sides, exact; nu < 2: the peak is at or near 0, and the points
        where u^q/q = drop stand in on the right)."""
        pts = [self.lo, self.hi]
        if self.nu >= 2.0:
            pts.append(self.mode)
            for drop in DROPS:
                g = lambda t: float(self.log_density_rel(t)) + drop  # noqa: E731
                for a, b in ((self.lo, self.mode), (self.mode, self.hi)):
                    if g(a) * g(b) < 0:
                        pts.append(optimize.brentq(g, a, b, xtol=1e-12 * (b - a)))
        else:
            pts += [(self.q * drop) ** (1.0 / self.q) for drop in DROPS]
        return np.unique([p for p in pts if self.lo <= p <= self.hi])

    def log_density_rel(self, u):
        """``log f(u) - log f(mode)`` written without cancellation for large nu.

        With m = mode, m^q = nu - 1: ``(nu-1) log(u/m) - (u^q - m^q)/q``; for u = m + x this is
        ``(nu-1)(log1p(x/m) - x/m) - x^2/2`` (q = 2) or ``(nu-1)(log1p(x/m) - x/m)`` (q = 1);
        other q: ``(nu-1)(log1p(y) - expm1(q log1p(y))/q)``, y = x/m (u^q - m^q = m^q expm1(...)).
        For nu < 2 the plain form is used (no large terms cancel).
        """
        u = np.asarray(u, dtype=float)
        nu, m = self.nu, self.mode
        with np.errstate(divide="ignore", invalid="ignore"):
            if nu < 2.0:
                return (nu - 1.0) * np.log(u) - u**self.q / self.q
            x = u - m
            y = x / m
            if self.q not in (1, 2):
                ly = np.log1p(y)
                return (nu - 1.0) * (ly - np.expm1(self.q * ly) / self.q)
            core = (nu - 1.0) * (np.log1p(y) - y)
            return core - 0.5 * x * x if self.q == 2 else core

    def rule(self, a, b):
        """Nested tanh-sinh rule on the panels [a, b] (arrays of edges, same shape).

        Returns (u, fine, coarse): nodes with a trailing axis and the fine/coarse weights already
        multiplied by the (unnormalized) density, so that sum(fine * h) integrates h against the
        law. For nu < 1 the panels are mapped to ``w = u^nu`` and the weights carry
        ``(1/nu) exp(-u^q/q)`` (the u^(nu-1) singularity is absorbed by the change of variables).
        """
        p = self.power
        wa, wb = (a, b) if p == 1.0 else (a**p, b**p)
        half = 0.5 * (wb - wa)[..., None]
        # node = end + half * (distance to that end on [-1, 1]), so nodes near an end stay inside
        # the panel (mid + half * x rounds to the end itself, or beyond, on thin panels near 0)
        w = np.where(_NODES < 0, wa[..., None] + half * _GAPS, wb[..., None] - half * _GAPS)
        if p == 1.0:
            u, logd = w, self.log_density_rel(w)
        else:
            u = np.maximum(w, 0.0) ** (1.0 / p)
            logd = -(u**self.q) / self.q - np.log(p)
        d = np.exp(logd)
        d = np.where(np.isfinite(d), d, 0.0)
        return u, half * _W_FINE * d, half * _W_COARSE * d

    @staticmethod
    def node_shift(a, b):
        """Relative effect on a panel's integral of its nodes' float positions: a node sits up to
        half an ulp of |u| off its point, on a panel of half-width (b - a)/2; counted 4x."""
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.minimum(2 * EPS * np.maximum(np.abs(a), np.abs(b)) / (0.5 * (b - a)), 1.0)
        return np.where(np.isfinite(shift), shift, 1.0)

    # ---- the twin's view (mpmath): integrate in w = u^power, as ``rule`` ----------------------
    mp_ends = (0, "inf")

    def mp_to_w(self, u):
        return u ** min(mp.mpf(self.nu), 1)

    def mp_point(self, w):
        """(u, log of the unnormalized density of w) at w > 0, or None (w <= 0)."""
        if w <= 0:
            return None
        nu, q = mp.mpf(self.nu), mp.mpf(self.q)
        p = min(nu, 1)
        u = w ** (1 / p)
        return u, (nu - p) * mp.log(u) - u**q / q - mp.log(p)

    def mp_log_norm(self):
        """log of int_0^inf u^(nu-1) exp(-u^q/q) du = q^(nu/q - 1) Gamma(nu/q)."""
        nu, q = mp.mpf(self.nu), mp.mpf(self.q)
        return (nu / q - 1) * mp.log(q) + mp.loggamma(nu / q)


class BetaPrimeLaw:
    """The law of ``u = ||z|| / lambda`` for Yang et al.'s Pow2 noise (1 + (||z||/lambda)^p)^-a in
    R^d: density ``c u^(d-1) (1 + u^p)^-a``, ``u^p ~ BetaPrime(d/p, a - d/p)`` (rs4a ``Pow2``), so
    ``u^p / (1 + u^p) ~ Beta(d/p, a - d/p)``.

    The same interface as :class:`RadialLaw` (``lo``, ``hi``, tails, ``edges``, ``rule``, the
    twin's hooks), but the rule integrates in ``w = log u`` (``u^(d-1) du = u^d dw``): the tail is
    a power law, and its mass spreads over decades of u that a rule in u would not resolve. In w
    the log-density ``d w - a log1p(e^(p w))`` is concave with mode ``e^(p w) = d / (a p - d)``.
    """

    def __init__(self, p: float, dim: int, a: float):
        self.p, self.dim, self.a = float(p), int(dim), float(a)
        self.alpha, self.beta = self.dim / self.p, self.a - self.dim / self.p
        if not self.beta > 0:
            raise ValueError(f"a must exceed dim / p = {self.alpha!r} (a proper density), got a={a!r}")
        self.w_mode = np.log(self.alpha / self.beta) / self.p  # alpha / beta = d / (a p - d)
        # the cuts: Beta(alpha, beta) tails x^alpha / (alpha B) at the leading order (scipy's
        # betaincinv returns NaN that deep); the mass cut off is bounded by _beta_tail_bound
        lb = special.betaln(self.alpha, self.beta)
        x = np.exp((np.log(TAIL) + np.log(self.alpha) + lb) / self.alpha)  # u^p / (1 + u^p)
        self.lo = max(float(self._u_of(x / (1.0 - x))), U_MIN)
        y = np.exp((np.log(TAIL) + np.log(self.beta) + lb) / self.beta)  # 1 / (1 + u^p)
        with np.errstate(over="ignore", divide="ignore"):
            self.hi = float(min(self._u_of((1.0 - y) / y), U_MAX))
        log_x = -np.logaddexp(0.0, -self.p * np.log(self.lo))
        log_y = -np.logaddexp(0.0, self.p * np.log(self.hi))
        self.tail_lo = _beta_tail_bound(self.alpha, self.beta, log_x, lb)
        self.tail_hi = _beta_tail_bound(self.beta, self.alpha, log_y, lb)
        self.tail = self.tail_lo + self.tail_hi
        self.edges = self._edges()

    def _u_of(self, v):
        return np.asarray(v, float) ** (1.0 / self.p)

    def cdf(self, u):
        with np.errstate(divide="ignore", over="ignore"):
            return special.betainc(self.alpha, self.beta, 1.0 / (1.0 + np.asarray(u, float) ** -self.p))

    def sf(self, u):
        with np.errstate(over="ignore"):
            return special.betainc(self.beta, self.alpha, 1.0 / (1.0 + np.asarray(u, float) ** self.p))

    def log_density_w(self, w):
        """``d w - a log1p(e^(p w))`` less its value at the mode (the log-density of w = log u)."""
        w = np.asarray(w, float)
        f = lambda t: self.dim * t - self.a * np.logaddexp(0.0, self.p * t)  # noqa: E731
        return f(w) - f(self.w_mode)

    def _edges(self):
        """lo, hi, the mode and where the log-density of w has dropped by DROPS on each side."""
        wlo, whi = np.log(self.lo), np.log(self.hi)
        pts = [wlo, whi]
        if wlo < self.w_mode < whi:
            pts.append(self.w_mode)
            for drop in DROPS:
                g = lambda t: float(self.log_density_w(t)) + drop  # noqa: E731
                for a, b in ((wlo, self.w_mode), (self.w_mode, whi)):
                    if g(a) * g(b) < 0:
                        pts.append(optimize.brentq(g, a, b, xtol=1e-12 * (b - a)))
        return np.unique(np.clip(np.exp(np.array(pts)), self.lo, self.hi))

    def rule(self, a, b):
        """Nested tanh-sinh rule on the panels [a, b] mapped to ``w = log u`` (see RadialLaw.rule);
        the weights carry the density of w."""
        with np.errstate(divide="ignore"):
            wa, wb = np.log(a), np.log(b)
        half = 0.5 * (wb - wa)[..., None]
        w = np.where(_NODES < 0, wa[..., None] + half * _GAPS, wb[..., None] - half * _GAPS)
        d = np.exp(self.log_density_w(w))
        d = np.where(np.isfinite(d), d, 0.0)
        return np.exp(w), half * _W_FINE * d, half * _W_COARSE * d

    @staticmethod
    def node_shift(a, b):
        """As RadialLaw.node_shift, for nodes placed in w = log u: a node is off by about
        EPS (|w| + 1) relative in u (the rounding of log and exp), on a panel of half-width
        (log b - log a)/2 in w; counted 4x."""
        with np.errstate(divide="ignore", invalid="ignore"):
            wa, wb = np.log(a), np.log(b)
            rel = EPS * (np.maximum(np.abs(wa), np.abs(wb)) + 1.0)
            shift = np.minimum(4 * rel / (0.5 * (wb - wa)), 1.0)
        return np.where(np.isfinite(shift), shift, 1.0)

    # ---- the twin's view (mpmath): integrate in w = log u ----------------------------------
    mp_ends = ("-inf", "inf")

    @staticmethod
    def mp_to_w(u):
        return mp.log(u)

    def mp_point(self, w):
        """(u, log of the unnormalized density of w = log u)."""
        u = mp.exp(w)
        return u, self.dim * w - mp.mpf(self.a) * mp.log1p(u ** mp.mpf(self.p))

    def mp_log_norm(self):
        """log of int_0^inf u^(d-1) (1 + u^p)^-a du = B(d/p, a - d/p) / p."""
        p = mp.mpf(self.p)
        alpha = mp.mpf(self.dim) / p
        return mp.log(mp.beta(alpha, mp.mpf(self.a) - alpha)) - mp.log(p)


def _beta_tail_bound(a, b, log_x, log_beta):
    """Upper bound on the Beta(a, b) CDF at x = e^log_x: ``int_0^x t^(a-1) (1-t)^(b-1) dt / B``
    <= ``x^a (1-x)^min(b-1, 0) / (a B)`` ((1-t)^(b-1) <= that factor on [0, x]), with 1 % margin."""
    log1m = np.log(-np.expm1(log_x))
    val = a * log_x + min(b - 1.0, 0.0) * log1m - np.log(a) - log_beta
    return float(min(1.01 * np.exp(val), 1.0))


def tanh_sinh_rule(level_h: float = 1.0 / 16, t_max: float = 3.15):
    """Nested tanh-sinh (double exponential) rule on [-1, 1] (Takahasi & Mori 1974).

    ``x_j = tanh(pi/2 sinh(j h))``, ``w_j = h pi/2 cosh(j h) / cosh^2(pi/2 sinh(j h))`` for
    |j h| <= t_max. Returns (nodes, fine weights, coarse weights): the coarse rule (step 2h) uses
    the even-j nodes, so ``|Q_fine - Q_coarse|`` costs nothing extra and bounds the error of the
    coarse rule (the fine one converges about twice as many digits). Beyond t_max the weights are
    below 1e-15 relative. Endpoint singularities (the clipped Beta CDF at a breakpoint behaves like
    (u - a)^((d-1)/2)) do not slow the rule down. Also returns each node's distance to the
    nearer end, ``1 - |x_j| = 2 / (1 + e^(2 |s_j|))``, computed without cancellation.
    """
    n = int(np.ceil(t_max / level_h))
    j = np.arange(-n, n + 1)
    t = j * level_h
    s = 0.5 * np.pi * np.sinh(t)
    x = np.tanh(s)
    w = level_h * 0.5 * np.pi * np.cosh(t) / np.cosh(s) ** 2
    coarse = np.where(j % 2 == 0, 2.0 * w, 0.0)
    gaps = 2.0 / (1.0 + np.exp(2.0 * np.abs(s)))
    return x, w, coarse, gaps


def monotone_root(fun, a: float, b: float):
    """Root of the scalar function ``fun`` on [a, b] where it changes sign (Brent's method), to
    4 ulps relative (a kink of the integrand off by more would cost far tails their digits; an
    absolute tolerance would not do on a bracket from 1e-150 to 1e3). 1100 iterations cover even
    pure bisection across the whole float range."""
    return optimize.brentq(fun, a, b, xtol=4 * EPS * a + 1e-300, rtol=4 * EPS, maxiter=1100)


def newton_increasing(fun, dfun, lo, hi, scale: float, x0=None, noise=None, iters: int = 60):
    """Root of increasing ``fun`` in [lo, hi] (arrays) by Newton steps safeguarded by bisection.

    Keeps a bracket (fun(lo) <= 0 < fun(hi)); a Newton step leaving the bracket is replaced by the
    midpoint. Starts at ``x0`` (clipped into the bracket; default the midpoint). An element is
    done when its step is below 4 ulps of ``|x| + scale`` or when ``|fun(x)| <= noise(x)``, the
    rounding noise of ``fun`` itself (below it the sign of fun, and so any further step, is
    meaningless; without this test such elements fall back to bisection to the last ulp).
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    x = 0.5 * (lo + hi) if x0 is None else np.clip(np.asarray(x0, dtype=float), lo, hi)
    x = np.where(np.isfinite(x), x, 0.5 * (lo + hi))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(iters):
            f = fun(x)
            pos = f > 0
            hi = np.where(pos, x, hi)
            lo = np.where(pos, lo, x)
            xn = x - f / dfun(x)
            inside = (xn > lo) & (xn < hi)
            xn = np.where(inside, xn, 0.5 * (lo + hi))
            done = np.abs(xn - x) <= 4 * EPS * (np.abs(x) + scale)
            if noise is not None:
                done |= np.abs(f) <= noise(x)
            x = np.where(done, x, xn)
            if done.all():
                break
    return x


_NODES, _W_FINE, _W_COARSE, _GAPS = tanh_sinh_rule()
