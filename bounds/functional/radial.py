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

import numpy as np
from scipy import optimize, special

EPS = float(np.finfo(float).eps)

#: Radial mass left outside the integration range on each side (added to the error bound). It is
#: far below any probability a certificate works with, so that even (pA, pB) = (1e-3, 1e-60) keep
#: their relative digits (the mass cut off counts in full against every probability).
TAIL = 1e-300
#: The range never reaches u = 0 exactly (the family's log-ratio is singular there).
U_MIN = 1e-300
#: Panel edges on each side of the mode where the radial log-density has dropped by these amounts:
#: tanh-sinh panels where the mass is, up to the cut at TAIL.
DROPS = (3.0, 30.0, 300.0)


class RadialLaw:
    """The law of ``u = ||z|| / scale`` with density ``c u^(nu-1) exp(-u^q/q)`` on (0, inf).

    q = 2: ``u^2 / 2 ~ Gamma(nu/2)`` (chi with nu degrees of freedom); q = 1: ``u ~ Gamma(nu)``.
    ``lo``/``hi`` bound the integration range, leaving ``tail`` = P(u < lo) + P(u > hi) (about
    2 TAIL; more only for nu < 1, where P(u < U_MIN) is about U_MIN^nu). For nu < 1 the density
    is unbounded at 0 and the rule integrates in ``w = u^nu`` instead (``u^(nu-1) du = dw / nu``,
    a bounded integrand), see :meth:`rule`.
    """

    def __init__(self, q: int, nu: float):
        if q not in (1, 2):
            raise ValueError(f"q must be 1 or 2, got {q!r}")
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
        return np.sqrt(2.0 * g) if self.q == 2 else g

    def _to_gamma(self, u):
        u = np.asarray(u, dtype=float)
        return 0.5 * u * u if self.q == 2 else u

    def cdf(self, u):
        return special.gammainc(self.shape, self._to_gamma(u))

    def sf(self, u):
        return special.gammaincc(self.shape, self._to_gamma(u))

    def _cdf_lo(self):
        """P(u < lo), bounded above by g^a / Gamma(a + 1) (g = lo^q / q, a = nu / q) where g
        underflows (lo = U_MIN)."""
        if self.lo > U_MIN:
            return float(self.cdf(self.lo))
        log_g = np.log(self.lo) if self.q == 1 else 2.0 * np.log(self.lo) - np.log(2.0)
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
        ``(nu-1)(log1p(x/m) - x/m) - x^2/2`` (q = 2) or ``(nu-1)(log1p(x/m) - x/m)`` (q = 1).
        For nu < 2 the plain form is used (no large terms cancel).
        """
        u = np.asarray(u, dtype=float)
        nu, m = self.nu, self.mode
        with np.errstate(divide="ignore", invalid="ignore"):
            if nu < 2.0:
                return (nu - 1.0) * np.log(u) - u**self.q / self.q
            x = u - m
            y = x / m
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
