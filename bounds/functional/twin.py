"""The mpmath twin of the Zhang et al. 2020 radial certificates (``radius_mp``).

The twin computes the same radius independently of the float engine's error bookkeeping:

* k = 0: the closed forms (Zhang et al. 2020, Cor. 2: Cohen et al.'s Gaussian radius for l2;
  Cor. 1 / Eq. 7 and the Neyman-Pearson Laplace bound for l1), supplied by each family;
* k > 0: the Neyman-Pearson boundary equations (see :mod:`.solve`) solved by Newton's method in
  mpmath, with P(Lambda < x) by mpmath tanh-sinh quadrature over the radial law (with mpmath's own
  error control), Lambert-W thresholds, and mpmath's Beta (l2) / power (l1) conditional laws.

Only the starting point comes from the float engine (Newton converges quadratically to the mpmath
root and the residual is checked at the end); a point where no start exists or Newton does not
converge raises :class:`~smoothcert.bounds.base.TwinUnavailable`. A mixin of
:class:`.engine.FunctionalCertificate`; families give ``_radius_k0_mp`` and ``_cond_mp``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from ..base import TwinUnavailable, twin_dps



def newton_mp(F, z, name: str, steps: int = 4, stop_digits: int = 3) -> list:
    """Newton's method at the working precision for the square system ``F(z) = 0`` from a float
    solution ``z`` (a start only), with a forward-difference Jacobian: at most ``steps`` steps,
    stopping once the residual is below ``10^(stop_digits - dps)``. The answer must have a
    residual below ``10^(-dps/2)``, else :class:`TwinUnavailable` (as for a singular system)."""
    f0 = F(z)
    for _ in range(steps):
        if max(abs(v) for v in f0) < mp.mpf(10) ** (-mp.mp.dps + stop_digits):
            break
        cols = []
        for j in range(len(z)):
            h = mp.mpf(10) ** (-mp.mp.dps // 2) * max(abs(z[j]), 1)
            zj = list(z)
            zj[j] += h
            cols.append([(a - b) / h for a, b in zip(F(zj), f0)])
        J = mp.matrix([[cols[j][i] for j in range(len(z))] for i in range(len(z))])
        try:
            step = mp.lu_solve(J, mp.matrix(f0))
        except ZeroDivisionError:
            raise TwinUnavailable(f"{name} twin: singular Newton system") from None
        z = [z[i] - step[i] for i in range(len(z))]
        f0 = F(z)
    res = max(abs(v) for v in f0)
    if res > mp.mpf(10) ** (-mp.mp.dps // 2):
        raise TwinUnavailable(f"{name} twin did not converge (residual {res})")
    return z

class QuadratureTwin:
    """``_radius_mp`` of the radial Zhang certificates (see the module docstring)."""

    def _radius_mp(self, p_a, p_b):
        if p_b is None:
            if p_a <= 0.5:
                return mp.mpf(0)
            if p_a == 1:
                return mp.inf
        else:
            if p_a <= p_b:
                return mp.mpf(0)
            if p_a == 1 or p_b == 0:
                return mp.inf
        if self._closed_k0():
            return self.scale * self._radius_k0_mp(p_a, p_b)
        return self.scale * self._radius_quad_mp(p_a, p_b)

    def _radius_k0_mp(self, p_a, p_b):
        raise NotImplementedError

    def _cdf_mp(self, x, rt, upper=False, magnitude=1.0):
        """P(Lambda < x), or P(Lambda >= x) with ``upper``, by mpmath quadrature (tanh-sinh with
        mpmath's own error control), Lambert-W thresholds and mpmath's Beta/power conditional
        laws. ``magnitude`` (roughly the answer) scales the integrand to order one, because
        mpmath's error control is absolute and tail probabilities such as 1e-28 would get none."""
        law = self._law
        logz = law.mp_log_norm() + mp.log(magnitude)
        x, rt = mp.mpf(x), mp.mpf(rt)

        def integrand(w):  # in the law's integration variable w, as its float rule
            point = law.mp_point(w)
            if point is None:
                return mp.mpf(0)
            u, logd = point
            return mp.exp(logd - logz) * self._cond_mp(u, x, rt, upper)

        kinks = self._breakpoints(float(rt), np.array([float(x)])).ravel()
        pts = [self._breakpoint_mp(b, x, rt) for b in kinks if law.lo < b < law.hi]
        pts += [mp.mpf(float(v)) for v in law.edges] + ([rt] if law.lo < rt < law.hi else [])
        lo, hi = (mp.mpf(e) for e in law.mp_ends)
        pts = [lo] + [law.mp_to_w(v) for v in sorted(set(pts))] + [hi]
        return mp.quad(integrand, pts) * magnitude

    def _phi_mp(self, s):
        """phi(s) = -log of the unnormalized radial density at ||z|| = s scale."""
        return self.k * mp.log(s) + s**self.q / self.q

    def _breakpoint_mp(self, u0, x, rt):
        """A float kink u0 of the integrand refined in mpmath: the root near u0 of
        phi(u) - phi(u + rt) = x or phi(u) - phi(|u - rt|) = x (the ends of Lambda's conditional
        range). The l1 conditional law jumps there, so a kink off by a float ulp would cost
        mp.quad its digits on far-tail events."""
        ends = (lambda u: self._phi_mp(u) - self._phi_mp(u + rt) - x,
                lambda u: self._phi_mp(u) - self._phi_mp(abs(u - rt)) - x)
        u0 = mp.mpf(float(u0))
        f = min(ends, key=lambda g: abs(g(u0)))
        try:
            root = mp.findroot(f, u0, tol=mp.mpf(10) ** (-2 * mp.mp.dps + 4))
        except (ValueError, ZeroDivisionError):
            return u0
        # a secant step into u < 0 makes the logs complex: keep the float kink then
        if isinstance(root, mp.mpc) or not abs(root - u0) <= mp.mpf(10) ** -8 * abs(u0):
            return u0
        return root

    def _cond_mp(self, u, x, rt, upper=False):
        """P(Lambda < x | ||z|| = u scale), or P(Lambda >= x | ...) with ``upper``."""
        raise NotImplementedError

    def _log_tails_mp(self, x, rt, small_is_upper, magnitude):
        """(log P(Lambda < x), log P(Lambda >= x)): the smaller side by quadrature (scaled by its
        float ``magnitude``), the larger as one minus it."""
        small = self._cdf_mp(x, rt, small_is_upper, magnitude)
        big = 1 - small
        return (mp.log(big), mp.log(small)) if small_is_upper else (mp.log(small), mp.log(big))

    def _radius_quad_mp(self, p_a, p_b):
        """Solve the Neyman-Pearson boundary equations of :meth:`_np_residual` in mpmath
        (continuous Lambda, k > 0), in the same logit form so that far tails keep their digits:

        binary      logit A(x) = logit pA,   S(-x) = A(-x)
        multi-class logit A(x1) = logit pA,  logit A(x2) = logit(1 - pB),  S(-x1) = A(-x2)

        (A(x) = P(Lambda < x), S = 1 - A, both by :meth:`_cdf_mp`), by Newton's method with a
        forward-difference Jacobian in z = (x..., log rt), started at the float root (only a
        starting point: Newton converges quadratically to the mpmath root, and the residual is
        checked at the end).
        """
        pa = float(p_a)
        pb = None if p_b is None else float(p_b)
        z0 = self._np_solve(pa, pb)
        if z0 is None:  # the float Newton did not converge: start at the bracketed radius
            rt0 = self._radius_rt(pa, pb)
            xs = [self._search(pa, 1 - pa, rt0)[0]]
            xs += [] if pb is None else [self._search(1 - pb, pb, rt0)[0]]
            if any(v is None for v in xs) or not rt0 > 0:
                raise TwinUnavailable(f"{self.name} twin: no float starting point")
            z0 = np.array(xs + [np.log(rt0)])
        pts = np.concatenate([z0[:-1], -z0[:-1]])
        A, S, _, _ = self._tails(float(np.exp(z0[-1])), pts)
        plan = [(bool(S[i] <= A[i]), max(float(min(A[i], S[i])), 1e-300)) for i in range(pts.size)]
        logit = lambda p, q: mp.log(p) - mp.log(q)  # noqa: E731
        targets = [logit(p_a, 1 - p_a)] + ([] if p_b is None else [logit(1 - p_b, p_b)])
        m = len(targets)

        def F(v):
            rt = mp.exp(v[-1])
            points = list(v[:-1]) + [-w for w in v[:-1]]
            lt = [self._log_tails_mp(x, rt, *plan[i]) for i, x in enumerate(points)]
            res = [lt[i][0] - lt[i][1] - targets[i] for i in range(m)]
            return res + [lt[m][1] - lt[2 * m - 1][0]]  # S(-x1) = A(-x_last)

        z = newton_mp(F, [mp.mpf(float(v)) for v in z0], self.name)
        return mp.exp(z[-1])

    def _working_dps(self, p_a, p_b, dps):
        """The twin's digits (see Certificate.radius_mp). With k = 0 it is the closed form (Zhang
        et al. Cor. 1 and 2) at :func:`twin_dps` digits; with k > 0 mpmath quadrature at
        min(dps, 20) digits (accurate far beyond the 1e-9 the float radius is checked to; slow:
        seconds per point at moderate dim)."""
        return twin_dps(p_a, p_b, dps) if self._closed_k0() else min(dps, 20)


