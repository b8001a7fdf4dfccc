"""The fast path of the Zhang et al. 2020 radius: Newton-Broyden solve of the Neyman-Pearson
boundary equations, then a sound check of the root.

At the certified radius the dual bound (Zhang et al. 2020, Eq. 6) is tight at the
Neyman-Pearson quantile: with Lambda = log(pi_delta / pi0)(z), z ~ pi0, and A(x) = P(Lambda < x),
S = 1 - A,

    binary      A(x) = pA,                     P(Lambda > -x) = 1/2
    multi-class A(x1) = pA,  A(x2) = 1 - pB,   P(Lambda > -x1) = P(Lambda <= -x2).

:class:`NeymanPearsonSolve` solves these for (x1[, x2], log rt) from central quadrature values in
logit form (so that pA = 1 - 1e-12 or pB = 1e-60 keep their digits) by Newton's method with
Broyden updates, and returns rt just below the root only when the *sound* bounds of the engine
(:mod:`.engine`, Eq. (*) there) certify it; otherwise None and the engine brackets instead.
A mixin of :class:`.engine.FunctionalCertificate`: it calls the engine's ``_tails``,
``_tails_at``, ``_lower_from``, ``_upper_from``, ``_spread``, ``_gap_guess`` and ``_atoms``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: Largest log-lambda tried (e^700 stays finite in float64); the engine's XMAX.
XMAX = 700.0


class NeymanPearsonSolve:
    """Newton-Broyden solve of the boundary equations and its sound verification (see module)."""

    def _np_residual(self, z, pa, pb):
        """Residuals of the Neyman-Pearson boundary equations at z = (x, log rt) (binary) or
        (x1, x2, log rt) (multi-class), from central quadrature values, in logit form so that both
        tails keep their digits (A(x) = P(Lambda < x), S(x) = 1 - A(x)):

        binary      logit A(x) = logit pA,   S(-x) = A(-x)           (L(pA, rt) = 1/2)
        multi-class logit A(x1) = logit pA,  logit A(x2) = logit(1 - pB),  S(-x1) = A(-x2).
        """
        xs = np.array([z[0], -z[0]] if pb is None else [z[0], z[1], -z[0], -z[1]])
        A, S, _, _ = self._tails(float(np.exp(z[-1])), xs)
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0: non-finite, caller stops
            lA, lS = np.log(A), np.log(S)
            first = lA[0] - lS[0] - (np.log(pa) - np.log1p(-pa))
            if pb is None:
                return np.array([first, lS[1] - lA[1]])
            second = lA[1] - lS[1] - (np.log1p(-pb) - np.log(pb))
            return np.array([first, second, lS[2] - lA[3]])

    def _np_solve(self, pa, pb, max_evals: int = 40):
        """Root of :meth:`_np_residual` by Newton's method with a forward-difference Jacobian,
        refreshed by Broyden updates (one quadrature per step) and recomputed when a step does
        not reduce the residual; started from the Gaussian approximation of Lambda.
        Returns the root z or None (no convergence: the caller falls back to bracketing)."""
        rt = self._gap_guess(pa, pb)
        sig = self._spread(rt)
        mu = -0.5 * sig * sig
        xs = [mu + sig * special.ndtri(pa)] + ([] if pb is None else [mu - sig * special.ndtri(pb)])
        z = np.array(xs + [np.log(rt)])
        hs = np.array([1e-6 * sig] * (z.size - 1) + [1e-6])
        fun = lambda v: self._np_residual(v, pa, pb)  # noqa: E731
        f, evals, J, fresh = fun(z), 1, None, False
        while evals < max_evals and np.all(np.isfinite(f)):
            if J is None:
                J = np.empty((z.size, z.size))
                for j in range(z.size):
                    zj = z.copy()
                    zj[j] += hs[j]
                    J[:, j] = (fun(zj) - f) / hs[j]
                evals += z.size
                hs = np.maximum(hs * 1e-2, 1e-9 * np.abs(z))  # tighter steps near the root
                fresh = True
            try:
                step = -np.linalg.solve(J, f)
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(step)):
                return None
            step[-1] = np.clip(step[-1], -1.0, 1.0)  # rt moves by at most a factor e per step
            fn = fun(z + step)
            evals += 1
            if np.all(np.abs(step[:-1]) <= 1e-12 * (np.abs(z[:-1]) + sig)) and abs(step[-1]) <= 1e-12:
                return z + step if np.all(np.isfinite(fn)) else z
            while fresh and not (np.max(np.abs(fn)) < np.max(np.abs(f))) and evals < max_evals:
                step *= 0.5  # a Newton step from a fresh Jacobian that does not help: damp it
                fn = fun(z + step)
                evals += 1
            if not (np.max(np.abs(fn)) < np.max(np.abs(f))):
                J = None  # Broyden's secant model went stale: recompute the Jacobian here
                continue
            J = J + np.outer(fn - f - J @ step, step) / (step @ step)  # Broyden's good update
            z, f, fresh = z + step, fn, False
            sig = self._spread(float(np.exp(z[-1])))
        return None

    def _certified_at(self, pa, pb, rt, z):
        """Sound test that rt is certified, with the dual points of z (one batched quadrature):
        L_lo(pA, rt) > 1/2 (binary) or L_lo(pA, rt) > U_hi(pB, rt) (multi-class)."""
        if np.any(np.abs(z[:-1]) > XMAX):
            return False
        if pb is None:
            t, back = self._tails_at(rt, [z[0], -z[0]])
            return self._lower_from(pa, 1.0 - pa, z[0], t, back) > 0.5
        t1, t2, b1, b2 = self._tails_at(rt, [z[0], z[1], -z[0], -z[1]])
        return self._lower_from(pa, 1.0 - pa, z[0], t1, b1) > self._upper_from(pb, z[1], t2, b2)

    def _radius_fast(self, pa, pb):
        """Certified rt just below the root of the boundary equations, or None. Backs off from
        the root by a relative 1e-11, 1e-10, ... 1e-7 until the sound test passes (the integration
        error bars are what it must clear)."""
        if self._atoms(1.0):
            return None  # Lambda has atoms (l1, k = 0): the equations have no smooth root
        z = self._np_solve(pa, pb)
        if z is None:
            return None
        root = float(np.exp(z[-1]))
        for back in (1e-11, 1e-10, 1e-9, 1e-8, 1e-7):
            rt = root * (1.0 - back)
            if self._certified_at(pa, pb, rt, z):
                return rt
        return None


