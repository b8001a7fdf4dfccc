"""Yang et al. 2020's differential method for the l_inf adversary, computed soundly: a table of
certified lower bounds of ``int_tau^{1/2} dt / Phi(t)`` for the cubical noises (ExpInf, PowInf).

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 4 (the differential method) and their code (tonyduan/rs4a, ``CubicalDist``,
``ExpInf.Phi_linf``, ``PowInf.Phi_linf``). For noise ``q(z) = h(||z||_inf)`` and the l_inf
adversary, a class probability p moves along ``x + e v`` (||v||_inf <= 1) at speed at most
``Phi(p) = sup_{E f = p} E[f(z) X]``, ``X = -grad log q(z) . v``; at the vertex ``v = (1, ..., 1)``
(the worst one: another v only scales X by |v_i| <= 1 at the largest coordinate i)
``X = psi(s) sigma`` with ``s = ||z||_inf``, ``psi = -(log h)'`` and sigma the sign of the largest
coordinate (a fair sign independent of s). For ``t <= 1/2`` the sup takes ``sigma = +1`` and the
fraction 2t of s where psi is largest (Neyman-Pearson), and the binary radius is

    R(pA) = lambda int_{1 - pA}^{1/2} dt / Phi(t).                                       (D)

**Soundness by concavity.** ``Phi`` is the integral of the decreasing quantile function of X
(``Phi'(t) = psi`` at the boundary of the set), so it is concave and increasing on (0, 1/2].
Hence ``Phi`` lies below each of its tangents ``l(t) = Phi(c) + Phi'(c) (t - c)``, and

    int_a^b dt / Phi(t)  >=  int_a^b dt / l(t)  =  log(l(b) / l(a)) / Phi'(c),

exact for ``Phi(t) = t`` (ExpInf with p = 1) and off by ``|Phi''| (t - c)^2 / (2 Phi)`` relative
otherwise. The table holds points c (values v of the radial variable, uniform in v between
points that are uniform in the logit of 2 tau, :data:`STEP`); at each, ``2 tau(v)`` (the mass of
the set) and ``Phi(tau(v)) = C mass_b(v)`` are regularized incomplete gamma or beta functions
(scipy) and ``Phi'(tau(v)) = speed(v)`` is elementary: no quantile is needed. The float position
``T`` is scipy's tau rounded down by :data:`SF_RTOL` (the assumed relative error of scipy's
incomplete gamma/beta, measured below 1e-13 against mpmath in tests/test_zoo_cubical_linf.py),
``Phi`` is rounded up by the same and the slope is bracketed ``[s_lo, s_hi]``; since the true
position ``tau >= T``, the line ``Phi_up + s_hi (t - T)`` (t >= T), ``Phi_up + s_lo (t - T)``
(t < T) lies above the true tangent, so the bound stays a bound. Panels ``[E_{k+1}, E_k]`` around
each point (ends halfway between points, ``E_0 = 1/2``) tile [E_last, 1/2]; the table holds the
cumulative bounds at the ends (a longdouble sum rounded down by its error bound), and a query
``tau`` adds its partial panel with the same tangent. Tables depend on the noise's shape only
(R is linear in lambda); the certificates cache them per shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.rounding import EPS, shrink

#: Assumed relative error bound of scipy's regularized incomplete gamma and beta functions.
SF_RTOL = 1e-12
#: Point spacing in the logit of 2 tau (relative width of tau in the tail, of 1/2 - tau near 1/2):
#: about 270,000 points, half a second to build, within 5e-10 relative of the twins (the tangent
#: bound loses ``|Phi''| L^2 / (24 Phi)`` on a panel of width L).
STEP = 2.5e-4
#: Coarse points (scipy's approximate inverse) between which points are uniform in v.
COARSE = 1000
#: Smallest 2 tau tabulated: below 2^-53, the smallest 2 (1 - pA) of a double pA < 1.
TWO_TAU_MIN = 2.0**-56
#: ``1 - 2 tau`` of the point closest to 1/2 (the tangent at tau = 1/2 covers the rest).
ONE_MINUS_MAX = 1e-13


@dataclass(frozen=True)
class CubicalShape:
    """The differential method's ingredients for one noise shape, in a radial variable v.

    ``two_tau(v)``: the mass 2 tau of the Neyman-Pearson set, ``mass_b(v)``: ``Phi(tau) / C``,
    ``speed(v)``: ``Phi'(tau)`` (float, a few ulps), ``inverse(two_tau, one_minus)``: an
    approximate v for a mass given with its complement (it only places the points: never
    trusted), ``c_up``: ``C = Phi(1/2)`` rounded up."""

    two_tau: Callable
    mass_b: Callable
    speed: Callable
    inverse: Callable
    c_up: float


class LinfTable:
    """Cumulative lower bounds of ``int_E^{1/2} dt / Phi(t)`` at panel ends (module docstring).

    Arrays, positions decreasing: ``e`` (panel ends, ``e[0] = 1/2``) and ``r`` (the bound at
    each end); per panel ``k = [e[k+1], e[k]]`` its point ``t[k]`` with ``phi[k]`` (Phi rounded
    up) and slopes ``s_lo[k] <= Phi'(tau_k) <= s_hi[k]``. ``t[0] = 1/2`` with slope 0."""

    def __init__(self, shape: CubicalShape):
        v = self._points(shape)
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            t = np.nextafter(shape.two_tau(v) * (0.5 * (1.0 - SF_RTOL)), 0.0)
            phi = np.nextafter(shape.c_up * shape.mass_b(v) * (1.0 + SF_RTOL), np.inf)
            speed = shape.speed(v)
        # keep points strictly below every earlier one (tau decreases along v; scipy's rounding
        # must not make it otherwise) with finite positive values
        prev = np.minimum.accumulate(np.concatenate(([0.5], t)))[:-1]
        keep = (t < prev) & (t > 0) & (phi > 0) & np.isfinite(phi) & np.isfinite(speed)
        self.v = v[keep]  # the radial variable at t[1:]
        self.t = np.concatenate(([0.5], t[keep]))
        self.phi = np.concatenate(([shape.c_up], phi[keep]))
        speed = np.concatenate(([0.0], speed[keep]))
        self.s_lo, self.s_hi = shrink(speed, 64), np.nextafter(speed * (1 + 64 * EPS), np.inf)
        mid = self.t[1:] + (self.t[:-1] - self.t[1:]) * 0.5
        self.e = np.concatenate(([0.5], mid, [0.0]))
        k = np.arange(self.t.size)
        self._g_end = self._g(k, self.e[:-1])  # from each point to its panel's upper end
        panels = shrink(self._g_end - self._g(k, self.e[1:]), 32)  # two terms >= 0
        total = np.cumsum(panels.astype(np.longdouble))
        ulps = 64 + int(np.ceil(panels.size * float(np.finfo(np.longdouble).eps) / EPS))
        self.r = np.concatenate(([0.0], shrink(total.astype(np.float64), ulps)))[:-1]
        self.e = self.e[:-1]
        self._e_increasing = self.e[::-1]

    @staticmethod
    def _points(shape):
        """Coarse points by the approximate inverse on a grid uniform in the logit of 2 tau,
        :data:`STEP` apart on average; between them points uniform in v."""
        w = np.linspace(-np.log(ONE_MINUS_MAX), np.log(TWO_TAU_MIN), COARSE)
        coarse = shape.inverse(1.0 / (1.0 + np.exp(-w)), 1.0 / (1.0 + np.exp(w)))
        n = np.maximum(1, np.ceil(np.abs(np.diff(w)) / STEP)).astype(np.int64)
        start = np.repeat(coarse[:-1], n)
        width = np.repeat(np.diff(coarse) / n, n)
        step = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return np.concatenate((start + width * step, coarse[-1:]))

    def _g(self, k, x):
        """``int_{t_k}^x dt / l_k(t)`` (signed), ``l_k`` the safe tangent line of the module
        docstring, to a few ulps; left of t_k the magnitude of ``z = s (x - t_k) / Phi`` is
        rounded down (below 1), so ``-g`` stays a lower bound of ``int_x^{t_k}`` however close
        the line comes to 0."""
        d = x - self.t[k]
        s = np.where(d >= 0, self.s_hi[k], self.s_lo[k])
        z = s * d / self.phi[k]
        z = np.where(z < 0, -np.minimum(shrink(-z, 4), np.nextafter(1.0, 0.0)), z)
        safe = np.where(z == 0, 1.0, z)
        ratio = np.where(z == 0, 1.0, np.log1p(z) / safe)
        return d / self.phi[k] * ratio

    def integral(self, tau):
        """A lower bound of ``int_tau^{1/2} dt / Phi(t)`` for each tau in [0, 1/2]."""
        tau = np.asarray(tau, dtype=np.float64)
        n = self.e.size
        k = np.clip(n - 1 - np.searchsorted(self._e_increasing, tau, side="left"), 0, n - 1)
        g_end, g_tau = self._g_end[k], self._g(k, tau)
        with np.errstate(invalid="ignore"):
            total = self.r[k] + g_end - g_tau
            margin = 32 * EPS * (self.r[k] + np.abs(g_end) + np.abs(g_tau))
            out = np.nextafter(total - margin, -np.inf)
        return np.where(np.isnan(out), np.inf, np.maximum(out, 0.0))


__all__ = ["CubicalShape", "LinfTable", "SF_RTOL"]
