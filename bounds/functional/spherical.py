"""Yang et al. 2020's spherical noises (Exp2 at any exponent, Pow2) on the Zhang et al. 2020 l2
engine: one engine, other radial laws.

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 5 ("level set method"): for a spherically symmetric density q(z) = g(||z||_2), the
Neyman-Pearson sets of q against its shift q(. - delta) are the level sets of the log-ratio
``Lambda = phi(||z||) - phi(||z - delta||)``, ``phi = -log g``, and the certified l2 radius is
where the Neyman-Pearson bound reaches 1/2 (binary) or the class-B bound. That is exactly the
optimization of Zhang et al. 2020 (Eq. 4-6: the dual bound is the Neyman-Pearson bound at the
p-quantile of Lambda), which :mod:`.engine` evaluates for any increasing phi given

* the radial law of ``u = ||z|| / scale`` (:mod:`.radial`),
* phi's increment ``phi(u + delta) - phi(u)`` (without cancellation), its derivative and its
  closed-form inverse (the threshold ``s = ||z - delta|| / scale`` with ``phi(s) = phi(u) - x``),
* the l2 conditional law of ``||z - r e_1||`` given ``||z||`` (a Beta CDF, from ZhangL2).

:class:`RadialL2` derives the rest (the monotone pieces of Lambda's conditional range, the mpmath
twin's threshold) from those; :class:`ExpL2` is phi(s) = k log s + s^q/q (Exp2 with exp_power q:
the Zhang l2 family is q = 2), :class:`PowL2` is phi(s) = a log(1 + s^p) (Pow2). These are unit
engines (scale 1), used by the registered certificates of :mod:`smoothcert.bounds.exp2` and
:mod:`smoothcert.bounds.pow2`, which scale their radius.

The pieces. phi' is unimodal for both families (Exp2, q > 1: k/s + s^(q-1) falls then rises; Pow2,
p > 1: a p s^(p-1)/(1 + s^p) rises then falls; otherwise monotone). Then ``phi'(u) = phi'(u + rt)``
has at most one root (the two points of a level of a unimodal function move apart as the level
moves away from the extremum, so exactly one level has them rt apart), and so has
``phi'(u) = phi'(u - rt)`` on u > rt: Lambda's conditional ends ``phi(u) - phi(u + rt)`` and
``phi(u) - phi(|u - rt|)`` have at most two monotone pieces each (and ``phi(u) - phi(rt - u)``
increases on (0, rt)). The root is found by a sign change on a geometric grid and Brent's method.

Tail floor: pB in (0, ``TAIL_FLOOR``) is certified as pB = TAIL_FLOOR = 1e-16 and pA in
(1 - TAIL_FLOOR, 1) as 1 - TAIL_FLOOR (pB = 0 and pA = 1 stay as they are). The radius does not
increase with pB nor decrease with pA, so this is a sound, weaker certificate, and the twin
evaluates the same statement. Why: a heavy radial tail (Pow2's power law, Exp2's stretched
exponential q < 1) puts a class-B set of tiny mass far out, where the engine's bounded error (the
mass cut at 1e-300, ~1e-11 relative) is as large as the mass. Measured at d = 4, std 0.5: Pow2
(p = 1, m = 10) lost the 1e-9 twin agreement at pB = 1e-30 (2.8e-9) and was non-monotone in pA
from pB = 1e-100 (364 at pA = 0.14, 306 at 0.36); Exp2 q = 1/2 at pB = 1e-300 gave 3404 at
pA = 0.5 and 192 at 0.55. A Clopper-Pearson pB is never that small (10^9 samples at
alpha = 0.001: >= 6.9e-9), so no sampled run loses radius; only inputs that are not doubles reach
pA above 1 - 1e-16 (the largest double below 1 is 1 - 1.1e-16).

Worst perturbation: for a spherically symmetric q the bound depends on delta through ||delta||
only (rotation invariance), and the radius is taken at ||delta|| = r as in Zhang et al. Thm 2 and
Yang et al.'s level-set method (both assume the bound decreases with ||delta||, which they
prove for Zhang's families; for these radially decreasing densities it is the same assumption).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import special

from ...core.rounding import EPS
from .radial import BetaPrimeLaw, monotone_root
from .zhang import ZhangL2

#: Points of the geometric grid on which the turning point of Lambda's conditional ends is found.
_GRID = 400
#: Tails (pB, 1 - pA) below this are certified at it (module docstring, "Tail floor").
TAIL_FLOOR = 1e-16


class RadialL2(ZhangL2):
    """The Zhang et al. l2 engine for a radial phi given by its pieces (see the module docstring).

    Subclasses give ``_phi_up(u, delta) = phi(u + delta) - phi(u)``, ``_dphi(s)``,
    ``_s_of(u, x)`` (s >= 0 with phi(s) = phi(u) - x, 0 where there is none), ``_spread``, and
    the mpmath ``_phi_mp(s)`` and ``_s2_mp(u, x)`` (s^2, or <= 0 where there is no s).
    No member has a closed form the engine knows (k = 0 of Exp2 is Gaussian only for q = 2).
    """

    def _closed_k0(self) -> bool:
        return False

    def _radius(self, p_a, p_b):
        if p_b is not None:
            p_b = np.where(p_b > 0, np.maximum(p_b, TAIL_FLOOR), 0.0)
        return super()._radius(p_a, p_b)

    def _radius_mp(self, p_a, p_b):
        if p_a < 1:
            p_a = min(p_a, 1 - mp.mpf(TAIL_FLOOR))
        if p_b is not None and p_b > 0:
            p_b = max(p_b, mp.mpf(TAIL_FLOOR))
        return super()._radius_mp(p_a, p_b)

    def _phi_up(self, u, delta):
        raise NotImplementedError

    def _dphi(self, s):
        raise NotImplementedError

    def _s_of(self, u, x):
        raise NotImplementedError

    def _s2_mp(self, u, x):
        raise NotImplementedError

    # ---- the engine's family pieces -------------------------------------------------------
    def _F(self, delta, u, x):
        return self._phi_up(u, delta) + x

    def _dF(self, delta, u):
        return self._dphi(u + delta)

    def _F_noise(self, delta, u, x):
        # phi_up is computed without cancellation (its terms share the sign of delta)
        return 8 * EPS * (np.abs(self._phi_up(u, delta)) + np.abs(x))

    def _s_closed(self, u, x):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return self._s_of(np.asarray(u, float), np.asarray(x, float))

    def _psi(self, u, rt, plus):
        """phi(u) - phi(u + rt), or phi(u) - phi(|u - rt|) with ``plus``."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if not plus:
                return -self._phi_up(u, rt)
            if np.ndim(u) == 0:  # the breakpoint search: one branch only
                return -self._phi_up(u, -rt) if u >= rt else self._phi_up(rt - u, 2.0 * u - rt)
            above = -self._phi_up(u, -rt * np.ones_like(u))
            below = self._phi_up(np.abs(rt - u), 2.0 * u - rt)
            return np.where(u >= rt, above, below)

    def _pieces(self, rt):
        memo = self.__dict__.setdefault("_pieces_memo", {})
        if rt not in memo:
            m1 = self._turn(lambda u: self._dphi(u) - self._dphi(u + rt), 0.0)
            m2 = self._turn(lambda u: self._dphi(u) - self._dphi(u - rt), rt)
            memo[rt] = [(0.0, m1, False), (m1, np.inf, False),
                        (0.0, rt, True), (rt, m2, True), (m2, np.inf, True)]
        return memo[rt]

    def _turn(self, g, start):
        """The one root of ``g`` on (start, inf) (a sign change on a geometric grid of offsets
        from start over the law's range, then Brent's method), or ``start`` if there is none."""
        law = self._law
        t = start + np.geomspace(max(law.lo, 1e-12 * max(start, law.lo)), 2.0 * law.hi, _GRID)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = g(t)
        ok = np.isfinite(v)
        t, v = t[ok], v[ok]
        change = np.flatnonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)
        if change.size == 0:
            return start
        i = change[0]
        return monotone_root(lambda s: float(g(np.float64(s))), t[i], t[i + 1])

    # ---- the twin's pieces (mpmath) ----------------------------------------------------------
    def _cond_mp(self, u, x, rt, upper=False):
        """P(||z - r e_1|| > s | ||z|| = u) (or its complement) with the Beta(a, a) law of
        (1 + z_1/||z||)/2 (as ZhangL2) at the mpmath threshold s."""
        s2 = self._s2_mp(u, x)
        s2 = s2 if s2 > 0 else mp.mpf(0)
        xb = ((u + rt) ** 2 - s2) / (4 * rt * u)
        if xb <= 0 or xb >= 1:
            return mp.mpf(int((xb >= 1) != upper))
        a = mp.mpf(self.dim - 1) / 2
        return mp.betainc(a, a, 0, 1 - xb if upper else xb, regularized=True)


class ExpL2(RadialL2):
    """phi(s) = k log s + s^q / q, u^q/q ~ Gamma((d - k)/q): Yang et al.'s Exp2 with exp_power q
    at scale ``lambda q^(-1/q)`` (so that (||z||/scale)^q / q = (||z||/lambda)^q). q = 2 is
    Zhang et al.'s l2 family (:class:`ZhangL2`, which keeps its own code)."""

    def __init__(self, q, k=0.0, dim=784):
        self.q = float(q)
        super().__init__(1.0, k, dim)

    def _phi_up(self, u, delta):
        # k log1p(delta/u) + u^q expm1(q log1p(delta/u)) / q: both terms have the sign of delta
        ly = np.log1p(delta / u)
        return self._k_log_ratio(delta, u) + u**self.q * np.expm1(self.q * ly) / self.q

    def _dphi(self, s):
        return self._k_over(s) + s ** (self.q - 1.0)

    def _s_of(self, u, x):
        """k = 0: s^q = u^q - q x; k > 0: with t = s^q, k log t + t = q (k log u + u^q/q - x),
        so t = k omega(log(u^q / k) + (u^q - q x) / k) (Wright omega, as ZhangL2)."""
        q, k = self.q, self.k
        uq = u**q
        if k == 0:
            t = uq - q * x
        else:
            t = k * special.wrightomega(q * np.log(u) - np.log(k) + (uq - q * x) / k)
        return np.maximum(t, 0.0) ** (1.0 / q)

    def _spread(self, rt):
        """rt phi'(u) / sqrt(d) at the typical u = nu^(1/q) (ZhangL2's form for q = 2)."""
        nu = self.dim - self.k
        return rt * (self.k / nu ** (1.0 / self.q) + nu ** (1.0 - 1.0 / self.q)) / np.sqrt(self.dim)

    def _s2_mp(self, u, x):
        q, k = mp.mpf(self.q), mp.mpf(self.k)
        if k == 0:
            t = u**q - q * x
        else:
            y = q * mp.log(u) - mp.log(k) + (u**q - q * x) / k
            t = k * mp.re(mp.lambertw(mp.exp(y)))
        return t ** (2 / q) if t > 0 else mp.mpf(0)


class PowL2(RadialL2):
    """phi(s) = a log(1 + s^p), u^p ~ BetaPrime(d/p, a - d/p): Yang et al.'s Pow2 noise
    (1 + (||z||/lambda)^p)^-a at scale lambda (:class:`~.radial.BetaPrimeLaw`). No ||z||^-k factor
    (k = 0 for the engine)."""

    def __init__(self, p, a, dim=784):
        self.p, self.a_pow = float(p), float(a)
        super().__init__(1.0, 0.0, dim)

    def _make_law(self):
        return BetaPrimeLaw(self.p, self.dim, self.a_pow)

    def _L(self, s):
        """log(1 + s^p) = logaddexp(0, p log s) (no overflow)."""
        with np.errstate(divide="ignore"):
            return np.logaddexp(0.0, self.p * np.log(s))

    def _phi_up(self, u, delta):
        # a log1p(expm1(l) c), l = p log1p(delta/u) = log(s^p/u^p), c = u^p/(1 + u^p); where
        # expm1(l) would overflow, the plain difference of the logs (they differ by > 700/p there)
        p, a = self.p, self.a_pow
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            l = p * np.log1p(delta / u)  # noqa: E741
            lu = p * np.log(u)
            if np.ndim(l) == 0 and l < 700.0:  # scalar (the breakpoint search): one branch
                return a * np.log1p(np.expm1(l) * special.expit(lu))
            near = a * np.log1p(np.expm1(l) * special.expit(lu))
            far = a * (np.logaddexp(0.0, lu + l) - np.logaddexp(0.0, lu))
        return np.where(l < 700.0, near, far)

    def _dphi(self, s):
        """a p s^(p-1) / (1 + s^p)."""
        p, a = self.p, self.a_pow
        s = np.asarray(s, float)
        if p == 1.0:
            return a / (1.0 + s)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a * p * np.exp((p - 1.0) * np.log(s) - self._L(s))

    def _s_of(self, u, x):
        """s^p = (1 + u^p) e^(-x/a) - 1 = expm1(log(1 + u^p) - x/a)."""
        t = np.expm1(self._L(u) - x / self.a_pow)
        return np.maximum(t, 0.0) ** (1.0 / self.p)

    def _spread(self, rt):
        """rt phi'(u) / sqrt(d) at the mode u^p = (d/p) / (a - d/p) of log u."""
        law = self._law
        return rt * float(self._dphi(np.exp(law.w_mode))) / np.sqrt(self.dim)

    def _phi_mp(self, s):
        return mp.mpf(self.a_pow) * mp.log1p(s ** mp.mpf(self.p))

    def _s2_mp(self, u, x):
        p, a = mp.mpf(self.p), mp.mpf(self.a_pow)
        t = (1 + u**p) * mp.exp(-x / a) - 1
        return t ** (2 / p) if t > 0 else mp.mpf(0)
