"""Functional-optimization certificates, Zhang, Yu, Zhang, Weng, Liu & Hsieh 2020 ("Black-box
certification with randomized smoothing: a functional optimization based framework", NeurIPS 2020).

Framework (their Sec. 3, Eq. 4-6; DESIGN section 3). With F = all functions into [0, 1], the
smallest possible probability of class A at x + delta given ``P_{pi0}(A) >= p`` is bounded below by
the Lagrangian dual

    L(p, r) = max_{lambda >= 0} { lambda p - max_{||delta|| <= r} D(lambda pi0 || pi_delta) },
    D(lambda pi0 || pi_delta) = E_{z ~ pi0}[(lambda - R(z))_+],   R = pi_delta / pi0,

and the class-B probability from above by ``U(p_B, r) = 1 - L(1 - p_B, r)``. The worst delta is
``r e_1`` for the l1 and l2 families (their Thm 2). D is convex in lambda with derivative
``P_{pi0}(R < lambda)``, so the maximizing lambda is the p-quantile of R under pi0 and there
L equals the Neyman-Pearson bound ``P_{pi_delta}(R < lambda*)``.

How it is computed here. Write Lambda = log R. Because pi0 is symmetric under z_1 -> -z_1, the law of
Lambda under pi_delta is the law of -Lambda under pi0, so ``P_{pi_delta}(R < lambda) = P_{pi0}(Lambda >
-log lambda)`` and, with ``x = log lambda``,

    lambda p - D(lambda) = e^x (p - P(Lambda < x)) + P(Lambda > -x).          (*)

Everything reduces to the CDF of the scalar Lambda under pi0. For radial pi0(z) = g(||z||),
``Lambda = phi(||z||) - phi(||z - delta||)`` with ``phi = -log g`` increasing, so for fixed rho = ||z||
the event {Lambda < x} is {||z - delta|| > rho'*(rho, x)}: an exact one-dimensional conditional
probability (a Beta CDF for l2, a power for l1), integrated against the law of rho by tanh-sinh
quadrature split at the kinks (:mod:`.functional_quadrature`). The quadrature error is estimated by
comparing two nested orders, the truncated radial mass is added, and every comparison uses the
resulting upper/lower bounds (DESIGN section 3, "numerical integration is part of the promise").

Any x gives a valid lower bound in (*), feasible or not; ``lower_bound`` takes the largest x whose
upper CDF bound is <= p (the Neyman-Pearson quantile, found by a bracketing Illinois search on a
monotone function), so it is sound and within the integration error of the maximum.

The radius. At the certified radius the Neyman-Pearson equations hold: A(x1) = pA and
L = P(Lambda > -x1) equals 1/2 (binary) or U = P(Lambda <= -x2) with P(Lambda >= x2) = pB. They are
solved for (x1[, x2], log rt) by Newton's method with Broyden updates on central quadrature values
in logit form (so that pA = 1 - 1e-12 or pB = 1e-60 keep their digits), and the answer is then
*verified*: rt just below the root is returned only if the sound bounds (*) at the solved x's
certify it. Where the solve fails or does not verify (Lambda with atoms, bounded support), a
bracketing search on the sound gap is used instead. Radial mass is cut only below 1e-300, so the
tails a certificate works with are computed to about 1e-11 relative (panels are halved where the
error estimate says otherwise).
"""

from __future__ import annotations

import os
from typing import ClassVar

import mpmath as mp
import numpy as np
from scipy import special

from ..core.checks import as_float_array, check_finite, check_positive, check_probability
from ..core.checks import check_probability_pair
from ..core.rounding import EPS, as_output
from ..core.atomic import atomic_path
from .base import Certificate, Noise, TwinUnavailable, twin_dps
from .functional_quadrature import RadialLaw, monotone_root, newton_increasing
from .gaussian import CohenGaussianL2, gaussian_gap_mp
from .laplace import TengLaplaceL1, TengLaplaceL1Binary
from .registry import register

#: Largest log-lambda tried (e^700 stays finite in float64).
XMAX = 700.0
#: Relative bracket width at which the radius bisection stops (the lower end is returned).
R_RTOL = 1e-11
#: Relative error of a tail probability above which its panels are halved (see ``_tails``).
REFINE_RTOL = 1e-10
#: At most this many halvings (16 times the panels).
MAX_SPLITS = 4
#: Dimension used by ``from_std`` when none is given (MNIST, 28 x 28).
DEFAULT_DIM = 784



def check_k_dim(k, dim):
    """``dim`` an integer >= 2 and ``k`` a real number with 0 <= k < dim (Zhang et al. Eq. 9)."""
    from ..core.checks import check_int

    dim = check_int("dim", dim, minimum=2)
    ka = as_float_array("k", k)
    if ka.ndim != 0:
        raise ValueError(f"k must be a scalar, got an array of shape {ka.shape}")
    check_finite("k", ka, k)
    kf = float(ka)
    if not (0.0 <= kf < dim):
        raise ValueError(f"k must satisfy 0 <= k < dim = {dim}, got k={k!r}")
    return kf, dim


def check_radius(r):
    """A perturbation size r >= 0 (finite)."""
    arr = as_float_array("r", r)
    if np.isnan(arr).any() or (arr < 0).any() or np.isinf(arr).any():
        bad = arr[~(arr >= 0) | np.isinf(arr)].flat[0]
        raise ValueError(f"r must be a finite number >= 0, got {bad!r}")
    return arr


class _Tails:
    """Bounds on the CDF of Lambda at one point: P(Lambda < x) in [A - eA, A + eA], P(Lambda >= x) in
    [S - eS, S + eS] (both evaluated at x + eta, see ``FunctionalCertificate._tails``)."""

    __slots__ = ("A", "S", "eA", "eS")

    def __init__(self, A, S, eA, eS):
        self.A, self.S, self.eA, self.eS = A, S, eA, eS

    def cdf_hi(self):
        """Upper bound on P(Lambda <= x)."""
        return min(self.A + self.eA, (1.0 - (self.S - self.eS)) * (1 + 4 * EPS), 1.0)

    def sf_lo(self):
        """Lower bound on P(Lambda > x)."""
        return max(self.S - self.eS, (1.0 - (self.A + self.eA)) * (1 - 4 * EPS) - 4 * EPS, 0.0)

    def gain(self, p, q):
        """Lower bound on p - P(Lambda < x) when q = 1 - p, in whichever form keeps more digits:
        ``p - A_hi`` or ``S_lo - q`` (tiny q: the latter), each less its own rounding margin
        (relative to its terms, so that tiny q and S keep their relative precision)."""
        a_hi, s_lo = self.A + self.eA, self.S - self.eS
        return max(p - a_hi - 4 * EPS * (p + a_hi), s_lo - q - 4 * EPS * (abs(s_lo) + q))


class FunctionalCertificate(Certificate):
    """Engine shared by ``zhang-l2`` and ``zhang-l1`` (see the module docstring).

    Subclasses give the radial exponent ``q``, ``phi`` pieces and the conditional law of
    ``||z - r e_1||`` given ``||z||`` in normalized units (``u = ||z|| / scale``, ``rt = r / scale``).
    """

    q: ClassVar[int] = 2
    family: ClassVar[str] = ""
    expensive = True
    twin_rtol = 1e-9
    #: below this many degrees of freedom of the Beta/power law the mp twin needs no special care
    _scale_name: ClassVar[str] = "sigma"

    def __init__(self, scale, k, dim):
        s = check_positive(self._scale_name, scale, allow_array=False)
        self.k, self.dim = check_k_dim(k, dim)
        self.scale = float(s)
        self._params = {self._scale_name: self.scale, "k": k, "dim": self.dim}
        self._law = RadialLaw(self.q, self.dim - self.k)
        self._memo = {}

    @property
    def noise(self) -> Noise:
        return Noise(self.family, {self._scale_name: self.scale, "k": self._params["k"], "dim": self.dim})

    # ---- family pieces (normalized units) --------------------------------------------------
    def _F(self, delta, u, x):
        """phi(u + delta) - phi(u) + x, increasing in delta; Lambda < x iff F(||z-delta|| - u) > 0."""
        raise NotImplementedError

    def _dF(self, delta, u):
        raise NotImplementedError

    def _F_noise(self, delta, u, x):
        """Rounding noise of ``_F``: 8 ulps of the sum of its terms' magnitudes."""
        raise NotImplementedError

    def _k_log_ratio(self, delta, u):
        """k log((u + delta)/u), exactly 0 for k = 0 (not 0 * -inf at u + delta = 0, which a
        node at the panel edge u = rt meets)."""
        return self.k * np.log1p(delta / u) if self.k else np.zeros(np.broadcast(delta, u).shape)

    def _k_over(self, s):
        """k / s, exactly 0 for k = 0."""
        return self.k / s if self.k else np.zeros(np.shape(s))

    def _s_closed(self, u, x):
        """Closed-form s = u + delta at the root of ``_F``, i.e. ||z - delta|| / scale with
        phi(s) = phi(u) - x (Wright omega). Relative precision about 1e-15 even for s << u, where
        u + delta from the Newton solve in delta has lost digits."""
        raise NotImplementedError

    def _psi(self, u, rt, plus):
        """phi(u) - phi(u + rt) (plus=False) or phi(u) - phi(|u - rt|) (plus=True): the values of
        Lambda at the ends of its conditional range; they are the breakpoints' equations."""
        raise NotImplementedError

    def _pieces(self, rt):
        """Monotone pieces [(a, b, plus), ...] of the two psi functions on (0, inf)."""
        raise NotImplementedError

    def _inner(self, u, delta, s, small, rt):
        """(P(||z - r e_1|| > s | u), its complement) for s = u + delta strictly inside
        (|u - rt|, u + rt). Where ``small`` (s < u/2), s is the accurate closed form and the
        complement is written in s - (u - rt); elsewhere in delta, which the Newton solve gives
        to an absolute 1e-16 (u + delta would round to an ulp of u: 1e-13 at u = 388)."""
        raise NotImplementedError

    def _spread(self, rt):
        """Rough standard deviation of Lambda (used for brackets and tolerances only)."""
        raise NotImplementedError

    # ---- the CDF of Lambda -----------------------------------------------------------------
    def _conditional(self, u, x, rt):
        """(P(Lambda < x | u), P(Lambda >= x | u)) for arrays u, x (broadcast)."""
        u, x = np.broadcast_arrays(np.asarray(u, float), np.asarray(x, float))
        dlo = np.where(u >= rt, -rt, rt - 2.0 * u)
        dhi = np.full_like(u, rt)
        with np.errstate(divide="ignore", invalid="ignore"):
            all_in = self._F(dlo, u, x) > 0
            none = ~all_in & (self._F(dhi, u, x) <= 0)
        h = np.where(all_in, 1.0, 0.0)
        g = np.where(none, 1.0, 0.0)
        mid = ~(all_in | none)
        if mid.any():
            um, xm = u[mid], x[mid]
            closed = self._s_closed(um, xm)
            d = newton_increasing(
                lambda t: self._F(t, um, xm), lambda t: self._dF(t, um), dlo[mid], dhi[mid], rt,
                x0=closed - um, noise=lambda t: self._F_noise(t, um, xm),
            )
            # where s = u + delta is small against u the closed form keeps its relative digits
            # (u + delta would lose them); elsewhere delta itself is the accurate quantity
            small = np.isfinite(closed) & (closed < 0.5 * um)
            hm, gm = self._inner(um, d, np.where(small, closed, 0.0), small, rt)
            h[mid], g[mid] = hm, gm
        return h, g

    def _breakpoints(self, rt, xs):
        """For each x, the u where Lambda's conditional range ends cross x (kinks of the integrand):
        roots of psi(u) = x on each monotone piece (Brent's method)."""
        law = self._law
        pieces = [(max(a, law.lo), min(b, law.hi), plus) for a, b, plus in self._pieces(rt)]
        pieces = [pc for pc in pieces if pc[1] > pc[0]]
        out = np.full((xs.size, len(pieces)), law.lo)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for j, (a, b, plus) in enumerate(pieces):
                va = self._psi(np.float64(a), rt, plus) - xs
                vb = self._psi(np.float64(b), rt, plus) - xs
                for i in np.flatnonzero(np.sign(va) * np.sign(vb) < 0):
                    x = xs[i]
                    out[i, j] = monotone_root(lambda t: self._psi(t, rt, plus) - x, a, b)
        return out

    def _tails(self, rt, xs, splits=0):
        """P(Lambda < x) and P(Lambda >= x) with error bounds, for each x in ``xs`` (1-D).

        Returns (A, S, eA, eS). Error = |fine - coarse| of the nested tanh-sinh rules (numerator
        and normalization) + the truncated radial mass + a summation/special-function floor.
        Where the error is above REFINE_RTOL of a probability (far tails, whose mass sits in a
        narrow part of a panel), those x are recomputed with every panel halved, up to
        MAX_SPLITS times, keeping the result with the smaller error.
        """
        law = self._law
        xs = np.atleast_1d(np.asarray(xs, float))
        bps = self._breakpoints(rt, xs)
        # u = rt is an edge too: Lambda's upper conditional end phi(u) - phi(|u - rt|) has a log
        # singularity there (k > 0), which far upper-tail events sit right next to
        base = np.append(law.edges, np.clip(rt, law.lo, law.hi))
        base = np.broadcast_to(base, (xs.size, base.size))
        edges = np.sort(np.concatenate([base, bps], 1), 1)
        for _ in range(splits):
            edges = np.sort(np.concatenate([edges, 0.5 * (edges[:, :-1] + edges[:, 1:])], 1), 1)
        A, S, eA, eS = self._panel_sums(rt, xs, edges)
        rel = self._relative_error(A, S, eA, eS)
        bad = rel > REFINE_RTOL
        if splits < MAX_SPLITS and bad.any():
            out = self._tails(rt, xs[bad], splits + 1)
            better = self._relative_error(*out) < rel[bad]
            for arr, new in zip((A, S, eA, eS), out):
                arr[np.flatnonzero(bad)[better]] = new[better]
        return A, S, eA, eS

    @staticmethod
    def _relative_error(A, S, eA, eS):
        """The larger relative error of the two tails (a tail below 1e-290 does not count)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.maximum(np.where(A > 1e-290, eA / A, 0.0), np.where(S > 1e-290, eS / S, 0.0))

    def _panel_sums(self, rt, xs, edges):
        """The quadrature of :meth:`_tails` on the given panel edges (one row per x)."""
        law = self._law
        a, b = edges[:, :-1], edges[:, 1:]
        u, wf, wc = law.rule(a, b)
        h, g = self._conditional(u, xs[:, None, None], rt)
        Zf, Zc = wf.sum((1, 2)), wc.sum((1, 2))
        Nf, Nc = (wf * h).sum((1, 2)), (wc * h).sum((1, 2))
        Mf, Mc = (wf * g).sum((1, 2)), (wc * g).sum((1, 2))
        A, S = Nf / Zf, Mf / Zf
        # a node is a float: it sits up to half an ulp of |u| off the point its weight belongs to,
        # which on a panel of half-width w changes that panel's integral by about ulp(u) / w (the
        # integrand varies on the panel's scale; its kinks are edges). Counted 4x: 2 EPS |u| / w.
        # It matters on the tiny panels around u = rt where far upper tails live (1e-9 there).
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.minimum(2 * EPS * np.maximum(np.abs(a), np.abs(b)) / (0.5 * (b - a)), 1.0)
        shift = np.where(np.isfinite(shift), shift, 1.0)
        eN_pos = (shift * (wf * h).sum(2)).sum(1)
        eM_pos = (shift * (wf * g).sum(2)).sum(1)
        ez = (np.abs(Zf - Zc) + (shift * wf.sum(2)).sum(1)) / Zf
        n_terms = u.shape[1] * u.shape[2]
        floor = 1e-13 + 2 * n_terms * EPS  # relative: summation of positive terms + betainc
        eA = (np.abs(Nf - Nc) + eN_pos) / Zf + A * ez + (A + 1e-300) * floor
        eS = (np.abs(Mf - Mc) + eM_pos) / Zf + S * ez + (S + 1e-300) * floor
        A, S, eA, eS = self._add_cut_mass(rt, xs, A, S, eA, eS)
        return A, S, 1.01 * eA, 1.01 * eS

    def _add_cut_mass(self, rt, xs, A, S, eA, eS):
        """Account for the radial mass outside [lo, hi] (A, S above are conditional on u inside).

        In general each cut side counts in full against both tails. Below lo < rt, though, the
        largest value of Lambda is psi_plus(lo) (psi_plus increases on (0, rt): phi(u) -> -inf
        for k > 0, and rt u - rt^2/2 or 2u - rt for k = 0), so where x exceeds it, all of that
        mass lies in {Lambda < x}: A gains it exactly and S loses nothing. This matters for
        nu = dim - k < 0.1, where P(u < 1e-300) is about 1e-300^nu (1e-18 at nu = 0.06)."""
        law = self._law
        inside = 1.0 - law.tail
        with np.errstate(invalid="ignore"):
            below = (law.lo < rt) & (xs > self._psi(np.float64(law.lo), rt, True))
        A = np.where(below, A * inside + law.tail_lo, A)
        S = np.where(below, S * inside, S)
        eA = eA + np.where(below, law.tail_hi, law.tail)
        eS = eS + np.where(below, law.tail_hi, law.tail)
        return A, S, eA, eS

    def _eta(self, rt, x):
        """Shift that makes an evaluation at x + eta an upper bound on P(Lambda <= x) even where
        Lambda has atoms (l1 with k = 0) whose float position is off by rounding."""
        return 1e-13 * self._spread(rt) + 16 * EPS * abs(x)

    def _tails_at(self, rt, xs):
        xs = np.atleast_1d(np.asarray(xs, float))
        shifted = xs + np.array([self._eta(rt, x) for x in xs])
        A, S, eA, eS = self._tails(rt, shifted)
        return [_Tails(A[i], S[i], eA[i], eS[i]) for i in range(xs.size)]

    # ---- the dual bound --------------------------------------------------------------------
    def _search(self, p, q, rt):
        """Largest x (to a relative 1e-10 of Lambda's spread) with ``gain(x) >= 0``, i.e. whose
        upper CDF bound is <= p: a bracketing Illinois search on a decreasing function.
        Returns (x, tails at x) or (None, None) if even x = -XMAX is infeasible."""
        sig = self._spread(rt)
        v = lambda t: t.gain(p, q)  # noqa: E731
        x0, step = self._start(p, q, rt, sig)
        t0 = self._tails_at(rt, [x0])[0]
        if v(t0) >= 0:
            lo, tlo = x0, t0
            hi = min(lo + step, XMAX)
            while True:
                if lo >= XMAX:
                    return lo, tlo
                thi = self._tails_at(rt, [hi])[0]
                if v(thi) < 0:
                    break
                lo, tlo = hi, thi
                step *= 4
                hi = min(lo + step, XMAX)
        else:
            hi, thi = x0, t0
            lo = max(hi - step, -XMAX)
            while True:
                tlo = self._tails_at(rt, [lo])[0]
                if v(tlo) >= 0:
                    break
                if lo <= -XMAX:
                    return None, None
                hi, thi = lo, tlo
                step *= 4
                lo = max(hi - step, -XMAX)
        for a in self._atoms(rt):  # jumps of the CDF: test both sides directly
            e = 1e-11 * sig + 64 * EPS * abs(a)
            if lo < a - e and a + e < hi:
                ta = self._tails_at(rt, [a - e])[0]
                if v(ta) >= 0:
                    lo, tlo = a - e, ta
                    tb = self._tails_at(rt, [a + e])[0]
                    if v(tb) < 0:
                        hi, thi = a + e, tb
                else:
                    hi, thi = a - e, ta
        vlo, vhi = v(tlo), v(thi)
        tol = 1e-9 * sig + 8 * EPS * max(abs(lo), abs(hi))
        side, width = 0, [hi - lo] * 3
        for _ in range(200):
            if hi - lo <= tol:
                break
            x = hi - vhi * (hi - lo) / (vhi - vlo) if vhi != vlo else 0.5 * (lo + hi)
            if not (lo < x < hi) or not np.isfinite(x) or hi - lo > 0.5 * width[-3]:
                x = 0.5 * (lo + hi)
            width.append(hi - lo)
            x = min(max(x, lo + 0.01 * tol), hi - 0.01 * tol) if hi - lo > 0.02 * tol else x
            t = self._tails_at(rt, [x])[0]
            vx = v(t)
            if vx >= 0:
                lo, tlo, vlo = x, t, vx
                if side == -1:
                    vhi *= 0.5
                side = -1
            else:
                hi, thi, vhi = x, t, vx
                if side == 1:
                    vlo *= 0.5
                side = 1
        self._memo[(p, q)] = (rt, lo)
        return lo, tlo

    def _start(self, p, q, rt, sig):
        """Starting point and first step of the search: the previous solution for the same p,
        rescaled to rt (radius iterations move rt little), else a Gaussian approximation
        Lambda ~ N(-sig^2/2, sig^2)."""
        prev = self._memo.get((p, q))
        if prev is not None and prev[0] > 0 and 0.5 < rt / prev[0] < 2:
            r0, x_prev = prev
            return float(np.clip(x_prev * rt / r0, -XMAX, XMAX)), 0.02 * sig
        with np.errstate(divide="ignore"):
            z = special.ndtri(p) if p < 0.5 else -special.ndtri(q)
        if not np.isfinite(z):
            return (XMAX if z > 0 else -XMAX), max(sig, 1e-300)
        return float(np.clip(-0.5 * sig * sig + sig * z, -XMAX, XMAX)), max(0.5 * sig, 1e-300)

    def _atoms(self, rt):
        """Values where Lambda has an atom (none unless the family says so)."""
        return ()

    def _lower_rt(self, p, q, rt, fresh=False):
        """Sound lower bound on L(p, r) (r = rt * scale) and the log-lambda used."""
        if fresh:
            self._memo = {}
        if rt == 0.0:
            return p, 0.0
        if p == 0.0:
            return 0.0, -np.inf
        x, t = self._search(p, q, rt)
        if x is None:
            return 0.0, -np.inf
        return self._lower_from(p, q, x, t, self._tails_at(rt, [-x])[0]), x

    @staticmethod
    def _scaled_gain_lo(x, gain):
        """Lower bound on e^x * g for every g >= gain (gain may be negative: x need not be
        feasible; the dual bound holds at every x, only its value changes)."""
        with np.errstate(over="ignore"):
            return np.exp(x) * gain * ((1 - 4 * EPS) if gain >= 0 else (1 + 4 * EPS))

    @classmethod
    def _lower_from(cls, p, q, x, t, back):
        """Sound lower bound (*) on L(p, r) at one log-lambda x, from the tails at x and -x:
        any x gives a valid bound (the dual), the best one is the p-quantile of Lambda."""
        val = cls._scaled_gain_lo(x, t.gain(p, q)) + back.sf_lo()
        return max(val * (1 - 8 * EPS), 0.0)

    @classmethod
    def _upper_from(cls, p_b, x, t, back):
        """Sound upper bound on U(p_b, r) at one log-lambda x (tail form of ``_lower_from`` at
        p = 1 - p_b): ``P(Lambda <= -x) - e^x (P(Lambda >= x) - p_b)``."""
        val = back.cdf_hi() - cls._scaled_gain_lo(x, t.gain(1.0 - p_b, p_b))
        return min(max(val, 0.0) * (1 + 8 * EPS) + 1e-300, 1.0)

    def _upper_rt(self, p_b, rt, fresh=False):
        """Sound upper bound on U(p_b, r) = 1 - L(1 - p_b, r), computed in its tail form
        ``min_x P(Lambda <= -x) - e^x (P(Lambda >= x) - p_b)`` so that tiny p_b keep their digits."""
        if rt == 0.0 or p_b == 1.0:
            return p_b
        if p_b == 0.0:
            return 0.0
        if fresh:
            self._memo = {}
        x, t = self._search(1.0 - p_b, p_b, rt)
        if x is None:
            return 1.0
        return self._upper_from(p_b, x, t, self._tails_at(rt, [-x])[0])

    # ---- public extras ---------------------------------------------------------------------
    def _broadcast(self, p, r, name="p_a"):
        pa = check_probability(name, p)
        rr = check_radius(r)
        scalar = pa.ndim == 0 and rr.ndim == 0
        pa, rr = np.broadcast_arrays(pa, rr)
        return pa, rr, scalar

    def lower_bound(self, p_a, r):
        """Sound lower bound on L(p_a, r) = max_lambda {lambda p_a - D(lambda; r)} (Zhang et al. Eq. 6)."""
        pa, rr, scalar = self._broadcast(p_a, r)
        out = np.empty(pa.shape)
        for i in np.ndindex(pa.shape):
            out[i] = self._lower_rt(float(pa[i]), 1.0 - float(pa[i]), float(rr[i]) / self.scale, True)[0]
        return as_output(out, scalar)

    def upper_bound(self, p_b, r):
        """Sound upper bound on the class-B probability at distance r: 1 - L(1 - p_b, r)."""
        pb, rr, scalar = self._broadcast(p_b, r, "p_b")
        out = np.empty(pb.shape)
        for i in np.ndindex(pb.shape):
            out[i] = self._upper_rt(float(pb[i]), float(rr[i]) / self.scale, True)
        return as_output(out, scalar)

    def lambda_star(self, p_a, r):
        """The maximizing lambda used by ``lower_bound``: the p_a-quantile of R = pi_delta/pi0
        under pi0 (its lower end to within the integration error)."""
        pa, rr, scalar = self._broadcast(p_a, r)
        out = np.empty(pa.shape)
        for i in np.ndindex(pa.shape):
            rt = float(rr[i]) / self.scale
            out[i] = 1.0 if rt == 0 else np.exp(self._lower_rt(float(pa[i]), 1 - float(pa[i]), rt, True)[1])
        return as_output(out, scalar)

    def discrepancy(self, lam, r):
        """D(lambda; r) = E_{pi0}[(lambda - R)_+] = lambda P(R < lambda) - P(Lambda > -log lambda)
        (quadrature estimate, for checks; scalar r > 0, lam an array > 0)."""
        lam = check_positive("lam", lam)
        rt = float(check_radius(r)) / self.scale
        x = np.log(lam).ravel()
        A, _, _, _ = self._tails(rt, x)
        _, S, _, _ = self._tails(rt, -x)
        return (lam.ravel() * A - S).reshape(lam.shape)

    def cdf_log_ratio(self, x, r):
        """(P(Lambda < x), error bound) for Lambda = log(pi_delta/pi0)(z), z ~ pi0, delta = r e_1."""
        rt = float(check_radius(r)) / self.scale
        A, _, eA, _ = self._tails(rt, np.atleast_1d(as_float_array("x", x)))
        return A, eA

    # ---- the radius --------------------------------------------------------------------------
    def _certify_gap(self, pa, pb, rt):
        """L_lo(pa, rt) - (1/2 or U_hi(pb, rt)): > 0 means certified at rt."""
        low = self._lower_rt(pa, 1.0 - pa, rt)[0]
        return low - (0.5 if pb is None else self._upper_rt(pb, rt))

    def _gap_guess(self, pa, pb):
        """Gaussian-approximation guess of the radius in normalized units (a starting point)."""
        z = special.ndtri(pa) if pb is None else 0.5 * (special.ndtri(pa) - special.ndtri(pb))
        return max(float(z), 1e-8) / self._spread(1.0)

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

    def _radius_rt(self, pa, pb):
        """Largest certified rt: the Newton fast path (:meth:`_radius_fast`), else bracketing +
        Illinois on the sound gap; returns a verified rt."""
        if pb is None:
            if pa <= 0.5:
                return 0.0
            if pa == 1.0:
                return np.inf
        else:
            if pa <= pb:
                return 0.0
            if pa == 1.0 or pb == 0.0:
                return np.inf
        if pa - (0.5 if pb is None else pb) <= 1e-11:
            # the margin is at the integration-error floor: the radius is below ~3e-11 scale
            # (L drops at rate >= ~0.3 per unit of r near r = 0); 0 is the sound answer
            return 0.0
        fast = self._radius_fast(pa, pb)
        if fast is not None:
            return fast
        self._memo = {}  # warm starts live within one search only: results do not depend on history
        f = lambda rt: self._certify_gap(pa, pb, rt)  # noqa: E731
        lo, flo = 0.0, pa - (0.5 if pb is None else pb)
        hi = self._gap_guess(pa, pb)
        fhi = f(hi)
        while fhi > 0:
            lo, flo = hi, fhi
            hi *= 2.0
            if hi > 1e12:
                return lo
            fhi = f(hi)
        side, width = 0, [hi - lo] * 3
        for _ in range(200):
            if hi - lo <= R_RTOL * hi:
                break
            x = hi - fhi * (hi - lo) / (fhi - flo) if fhi != flo else 0.5 * (lo + hi)
            if not (lo < x < hi) or hi - lo > 0.5 * width[-3]:  # slow progress: bisect
                x = 0.5 * (lo + hi)
            width.append(hi - lo)
            fx = f(x)
            if fx > 0:
                lo, flo = x, fx
                if side == -1:
                    fhi *= 0.5
                side = -1
            else:
                hi, fhi = x, fx
                if side == 1:
                    flo *= 0.5
                side = 1
        return lo

    def _radius(self, p_a, p_b):
        out = np.empty(p_a.shape)
        for i in np.ndindex(p_a.shape):
            pb = None if p_b is None else float(p_b[i])
            rt = self._radius_rt(float(p_a[i]), pb)
            with np.errstate(over="ignore"):  # rt * scale above every double: the largest one
                out[i] = rt if np.isinf(rt) else np.nextafter(rt * self.scale, 0.0) if rt > 0 else 0.0
        if self.k == 0:
            # k = 0 is plain Gaussian / Laplace noise, for which the closed-form theorems are sound
            # too; both radii are certified, so their maximum is. It matters where the quadrature's
            # absolute error floor makes it loose (pA within ~1e-12 of 1, pB below ~1e-10).
            out = np.maximum(out, self._closed_form_k0(p_b is None).radius(p_a, p_b))
        return out

    def _closed_form_k0(self, binary: bool):
        """A closed-form certificate for the k = 0 member of the family (same noise)."""
        raise NotImplementedError

    # ---- the mpmath twin ---------------------------------------------------------------------
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
        if self.k == 0:
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
        nu, q = mp.mpf(self.dim) - mp.mpf(self.k), self.q
        logz = (nu / q - 1) * mp.log(q) + mp.loggamma(nu / q) + mp.log(magnitude)
        x, rt = mp.mpf(x), mp.mpf(rt)

        p = min(nu, 1)  # nu < 1: integrate in w = u^nu (u^(nu-1) du = dw / nu), as the float rule

        def integrand(w):
            if w <= 0:
                return mp.mpf(0)
            u = w ** (1 / p)
            dens = mp.exp((nu - p) * mp.log(u) - u**q / q - logz) / p
            return dens * self._cond_mp(u, x, rt, upper)

        kinks = self._breakpoints(float(rt), np.array([float(x)])).ravel()
        pts = [self._breakpoint_mp(b, x, rt) for b in kinks if law.lo < b < law.hi]
        pts += [mp.mpf(float(v)) for v in law.edges] + ([rt] if law.lo < rt < law.hi else [])
        pts = [mp.mpf(0)] + [v**p for v in sorted(set(pts))] + [mp.inf]
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

        z = [mp.mpf(float(v)) for v in z0]
        f0 = F(z)
        for _ in range(4):
            if max(abs(v) for v in f0) < mp.mpf(10) ** (-mp.mp.dps + 3):
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
                raise TwinUnavailable(f"{self.name} twin: singular Newton system at the float start")
            z = [z[i] - step[i] for i in range(len(z))]
            f0 = F(z)
        res = max(abs(v) for v in f0)
        if res > mp.mpf(10) ** (-mp.mp.dps // 2):
            raise TwinUnavailable(f"{self.name} twin did not converge (residual {res})")
        return mp.exp(z[-1])

    def _working_dps(self, p_a, p_b, dps):
        """The twin's digits (see Certificate.radius_mp). With k = 0 it is the closed form (Zhang
        et al. Cor. 1 and 2) at :func:`twin_dps` digits; with k > 0 mpmath quadrature at
        min(dps, 20) digits (accurate far beyond the 1e-9 the float radius is checked to; slow:
        seconds per point at moderate dim)."""
        return twin_dps(p_a, p_b, dps) if self.k == 0 else min(dps, 20)

    # ---- fast path -----------------------------------------------------------------------------
    def radius_table(self, p_grid=None, n: int = 1000, progress: bool = False):
        """A :class:`RadiusTable` for the binary radius (p_b = 1 - p_a).

        Default: n radii r_j geometrically spaced from 1e-3 of the radius at p_a = 1 - 1e-15 up
        to 1.25 times it (a lookup then loses at most 0.7% of the radius at n = 1000); for each, the
        smallest p_a certified at r_j, p_j = an upper bound on P(Lambda < x_j) with x_j minus a
        lower bound on the median of Lambda (then L(p, r_j) >= P(Lambda > -x_j) > 1/2 for every
        p >= p_j). With ``p_grid``: the radius at each grid value (slow path, one radius each).
        """
        if p_grid is not None:
            grid = np.sort(check_probability("p_grid", p_grid).ravel())
            radii = np.maximum.accumulate(self.radius(grid)) if grid.size else grid
            return RadiusTable(self.name, self.params, grid, radii)
        from ..core.checks import check_int

        n = check_int("n", n, minimum=1)
        rt_max = 1.25 * self._gap_guess(1 - 1e-15, None)
        rts = rt_max * np.geomspace(1e-3, 1.0, n)
        ps = np.empty(n)
        self._memo = {}
        it = rts
        if progress:
            from tqdm import tqdm

            it = tqdm(rts, desc=f"{self.name} table")
        for j, rt in enumerate(it):
            ps[j] = self._p_certified(float(rt))
        keep = ps <= 1.0
        p_thr = np.minimum.accumulate(ps[keep][::-1])[::-1]
        radii = np.nextafter(rts[keep] * self.scale, 0.0)
        return RadiusTable(self.name, self.params, p_thr, radii)

    def _p_certified(self, rt):
        """Smallest p (an upper bound) with L(p, rt) > 1/2 by the construction of radius_table."""
        half = 0.5 + 1e-12
        y, _ = self._search(1.0 - half, half, rt)  # sf_lo(y) >= 1/2 + 1e-12
        if y is None:
            return np.inf
        t = self._tails_at(rt, [-y])[0]
        return t.cdf_hi() * (1 + 4 * EPS)


class RadiusTable:
    """Sound monotone lookup table p_a -> certified radius for one certificate and parameter set.

    ``lookup(p_a)`` returns the radius of the largest table point p_j <= p_a (0.0 below the first,
    inf at p_a = 1 where the theorem certifies everything): every returned radius is certified
    at p_j and therefore at any larger p_a. ``save``/``load`` use a .npz holding the parameters;
    ``load`` refuses a table built for other parameters.
    """

    def __init__(self, name, params, p_thresholds, radii):
        self.name = str(name)
        self.params = {k: (float(v) if not isinstance(v, int) else v) for k, v in params.items()}
        self.p = np.asarray(p_thresholds, float)
        self.r = np.asarray(radii, float)
        if self.p.shape != self.r.shape or np.any(np.diff(self.p) < 0) or np.any(np.diff(self.r) < 0):
            raise ValueError("p_thresholds and radii must be non-decreasing arrays of the same shape")

    def __len__(self):
        return self.p.size

    def lookup(self, p_a):
        pa = check_probability("p_a", p_a)
        idx = np.searchsorted(self.p, pa, side="right") - 1
        out = np.where(idx >= 0, self.r[np.clip(idx, 0, None)] if self.r.size else 0.0, 0.0)
        out = np.where(pa == 1.0, np.inf, np.where(pa <= 0.5, 0.0, out))
        return as_output(out, pa.ndim == 0)

    __call__ = lookup

    def save(self, path):
        """Write the table atomically (temporary file + os.replace)."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        keys = sorted(self.params)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, name=self.name, keys=np.array(keys),
                     values=np.array([float(self.params[k]) for k in keys]), p=self.p, r=self.r)
        return path

    @classmethod
    def load(cls, path, cert=None, **params):
        """Read a table; with ``cert`` (or name/params) it must match or ValueError is raised."""
        with np.load(os.fspath(path), allow_pickle=False) as z:
            name = str(z["name"])
            stored = dict(zip([str(k) for k in z["keys"]], [float(v) for v in z["values"]]))
            p, r = z["p"], z["r"]
        if cert is not None:
            want_name = cert.name
            want = {k: float(v) for k, v in cert.params.items()}
        else:
            want_name, want = params.pop("name", name), {k: float(v) for k, v in params.items()}
        if want_name != name or any(stored.get(k) != v for k, v in want.items()) or (
            cert is not None and set(stored) != set(want)
        ):
            raise ValueError(
                f"table {os.fspath(path)!r} was built for {name} {stored}, not {want_name} {want}"
            )
        return cls(name, stored, p, r)


# -------------------------------------------------------------------------------------------
@register
class ZhangL2(FunctionalCertificate):
    """Zhang et al. 2020, Thm 2 (l2 case), family pi0 proportional to ||z||_2^-k exp(-||z||_2^2/(2 sigma^2)).

    ``0 <= k < dim``. The worst delta in the l2 ball of radius r is r e_1 (Thm 2); (||z||/sigma)^2
    ~ chi-square(dim - k), t = z_1/||z|| has (1 + t)/2 ~ Beta((d-1)/2, (d-1)/2), and
    ``Lambda = phi(||z||) - phi(||z - r e_1||)`` with ``phi(s) = k log s + s^2/(2 sigma^2)``.
    Certified iff L(pA, r) > 1/2 (binary) or L(pA, r) > 1 - L(1 - pB, r) (their Eq. 5 / Sec. 3).
    k = 0 is Gaussian noise and reproduces Cohen et al. (their Cor. 2); tight then (Neyman-Pearson).
    For k > 0 the bound is tight over all classifiers for this pi0 (it is the exact minimum over F).
    """

    name = "zhang-l2"
    norm = "l2"
    tight = True
    family = "zhang-l2"
    q = 2
    _scale_name = "sigma"
    scale_param = "sigma"
    citation = "Zhang et al. 2020 (NeurIPS), Eq. 4-6, Thm 2 (l2), Cor. 2 (k = 0: Cohen et al.)"
    formula = ("R = sup{r : max_lambda [lambda pA - E_pi0(lambda - pi_{r e1}/pi0)_+] > 1/2 "
               "(or > 1 - L(1 - pB, r))}, pi0 ~ ||z||^-k exp(-||z||^2/(2 sigma^2))")

    def __init__(self, sigma, k=0, dim=DEFAULT_DIM):
        super().__init__(sigma, k, dim)
        self._a = 0.5 * (self.dim - 1)

    @classmethod
    def from_std(cls, std, dim=None, k=0, sigma=None, scale=None, half_width=None):
        """Per-coordinate std = sigma sqrt((d - k)/d) (E||z||^2 = sigma^2 (d - k)); dim defaults to 784."""
        dim = DEFAULT_DIM if dim is None else dim
        if sigma is None:
            s = check_positive("std", std, allow_array=False)
            kf, d = check_k_dim(k, dim)
            sigma = float(s) * np.sqrt(d / (d - kf))
        return cls(sigma=sigma, k=k, dim=dim)

    def _F(self, delta, u, x):
        return self._k_log_ratio(delta, u) + delta * (2.0 * u + delta) * 0.5 + x

    def _dF(self, delta, u):
        return self._k_over(u + delta) + (u + delta)

    def _F_noise(self, delta, u, x):
        mag = np.abs(self._k_log_ratio(delta, u)) + np.abs(delta) * (u + 0.5 * delta) + np.abs(x)
        return 8 * EPS * mag

    def _s_closed(self, u, x):
        """s = ||z - delta|| / sigma solves k log s + s^2/2 = c := k log u + u^2/2 - x, i.e.
        s^2 = k omega(2c/k - log k) (omega: Wright omega, w + log w = z); k = 0: s^2 = 2c."""
        k = self.k
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if k == 0:
                s2 = u * u - 2.0 * x
            else:
                s2 = k * special.wrightomega(np.log(u * u / k) + (u * u - 2.0 * x) / k)
            return np.sqrt(s2)

    def _psi(self, u, rt, plus):
        k = self.k
        with np.errstate(divide="ignore"):
            if not plus:
                return -k * np.log1p(rt / u) - rt * u - 0.5 * rt * rt
            lin = rt * u - 0.5 * rt * rt
            return lin if k == 0 else k * (np.log(u) - np.log(np.abs(u - rt))) + lin

    def _pieces(self, rt):
        root = np.sqrt(rt * rt + 4.0 * self.k)
        m_minus, m_plus = 0.5 * (root - rt), 0.5 * (root + rt)
        return [(0.0, m_minus, False), (m_minus, np.inf, False),
                (0.0, rt, True), (rt, m_plus, True), (m_plus, np.inf, True)]

    def _inner(self, u, delta, s, small, rt):
        # ||z - r e1||^2 = u^2 + rt^2 - 2 rt u t with t = z_1/||z||, (1 + t)/2 ~ Beta(a, a):
        # ||z - r e1|| > s iff (1 + t)/2 < xb = ((u + rt)^2 - s^2) / (4 rt u) =
        # (rt - delta)(2u + rt + delta) / (4 rt u), and yb = 1 - xb = (s^2 - (u - rt)^2) / (4 rt u)
        # = (rt + delta)(2u + delta - rt) / (4 rt u), products of sums without cancellation.
        # The law is symmetric, so one betainc at the smaller argument gives both.
        xb = np.clip((rt - delta) * (2.0 * u + rt + delta) / (4.0 * rt * u), 0.0, 1.0)
        yb_num = np.where(small, (s - (u - rt)) * (s + (u - rt)), (rt + delta) * (2.0 * u + delta - rt))
        yb = np.clip(yb_num / (4.0 * rt * u), 0.0, 1.0)
        first = xb <= yb
        small = special.betainc(self._a, self._a, np.where(first, xb, yb))
        return np.where(first, small, 1.0 - small), np.where(first, 1.0 - small, small)

    def _spread(self, rt):
        nu = self.dim - self.k
        return rt * (self.k / np.sqrt(nu) + np.sqrt(nu)) / np.sqrt(self.dim)

    def _radius_k0_mp(self, p_a, p_b):
        """k = 0: Gaussian noise, Lambda ~ N(-rt^2/2, rt^2): Cohen's radius (Zhang et al. Cor. 2)."""
        return gaussian_gap_mp(p_a, p_b)

    def _working_dps(self, p_a, p_b, dps):
        """k = 0: ``dps`` (:func:`gaussian_gap_mp` raises the precision per tail itself)."""
        return dps if self.k == 0 else super()._working_dps(p_a, p_b, dps)

    def _closed_form_k0(self, binary):
        return CohenGaussianL2(sigma=self.scale)

    def _cond_mp(self, u, x, rt, upper=False):
        k = mp.mpf(self.k)
        y = mp.log(u * u / k) + u * u / k - 2 * x / k
        w = k * mp.re(mp.lambertw(mp.exp(y)))  # ||z - delta||*^2 / sigma^2
        xb = ((u + rt) ** 2 - w) / (4 * rt * u)
        if xb <= 0 or xb >= 1:
            return mp.mpf(int((xb >= 1) != upper))
        a = mp.mpf(self.dim - 1) / 2
        # Beta(a, a) is symmetric: the upper tail is the lower tail at 1 - xb (mpmath's
        # betainc(a, a, xb, 1) subtracts and returns 0 or noise for tails below 10^-dps)
        return mp.betainc(a, a, 0, 1 - xb if upper else xb, regularized=True)


#: Doublings of the k = 0 l1 twin's bracket. With 1 - p_b exact (``twin_dps``) the root is below
#: rt = log(1/p_b) + log(1/(1 - p_a)) + 2 < 1500 for any pair of doubles, so 2^20 never binds
#: unless the arithmetic is broken; it turns a would-be endless loop into TwinUnavailable.
_K0_DOUBLINGS = 20


@register
class ZhangL1(FunctionalCertificate):
    """Zhang et al. 2020, Thm 2 (l1 case), family pi0 proportional to ||z||_1^-k exp(-||z||_1 / b).

    ``scale`` = b, ``0 <= k < dim``. Worst delta r e_1 (Thm 2). ||z||_1 / b ~ Gamma(d - k),
    v = |z_1|/||z||_1 ~ Beta(1, d - 1) with an independent random sign, so given rho = ||z||_1:
    ||z - r e_1||_1 = rho + r (sign -), rho + r - 2 rho v (sign +, rho v <= r), rho - r (otherwise).
    ``Lambda = phi(rho) - phi(||z - r e_1||_1)``, ``phi(s) = k log s + s / b``.
    k = 0 is Laplace noise: the binary radius is Teng et al.'s -b log(2(1 - pA)) (Zhang et al.
    Cor. 1, Eq. 7); the multi-class rule gives a Neyman-Pearson multi-class l1 certificate that is
    never below Teng et al. Thm 1. Tight for this pi0 (exact minimum over F).
    """

    name = "zhang-l1"
    norm = "l1"
    tight = True
    family = "zhang-l1"
    q = 1
    _scale_name = "scale"
    scale_param = "scale"
    citation = "Zhang et al. 2020 (NeurIPS), Eq. 4-6, Thm 2 (l1), Cor. 1 / Eq. 7 (k = 0: Teng et al.)"
    formula = ("R = sup{r : max_lambda [lambda pA - E_pi0(lambda - pi_{r e1}/pi0)_+] > 1/2 "
               "(or > 1 - L(1 - pB, r))}, pi0 ~ ||z||_1^-k exp(-||z||_1/b)")

    def __init__(self, scale, k=0, dim=DEFAULT_DIM):
        super().__init__(scale, k, dim)

    @classmethod
    def from_std(cls, std, dim=None, k=0, sigma=None, scale=None, half_width=None):
        """Per-coordinate variance = b^2 * 2 nu (nu + 1) / (d (d + 1)), nu = d - k (k = 0: 2 b^2)."""
        dim = DEFAULT_DIM if dim is None else dim
        if scale is None:
            s = check_positive("std", std, allow_array=False)
            kf, d = check_k_dim(k, dim)
            nu = d - kf
            scale = float(s) / np.sqrt(2.0 * nu * (nu + 1.0) / (d * (d + 1.0)))
        return cls(scale=scale, k=k, dim=dim)

    def _F(self, delta, u, x):
        return self._k_log_ratio(delta, u) + delta + x

    def _dF(self, delta, u):
        return self._k_over(u + delta) + 1.0

    def _F_noise(self, delta, u, x):
        return 8 * EPS * (np.abs(self._k_log_ratio(delta, u)) + np.abs(delta) + np.abs(x))

    def _s_closed(self, u, x):
        """s = ||z - delta||_1 / b solves k log s + s = c := k log u + u - x, i.e.
        s = k omega(c/k - log k) (Wright omega); k = 0: s = u - x."""
        k = self.k
        if k == 0:
            return u - np.asarray(x, float)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return k * special.wrightomega(np.log(u / k) + (u - x) / k)

    def _psi(self, u, rt, plus):
        k = self.k
        with np.errstate(divide="ignore"):
            if not plus:
                return -k * np.log1p(rt / u) - rt
            d = np.abs(u - rt)
            return (u - d) if k == 0 else k * (np.log(u) - np.log(d)) + (u - d)

    def _pieces(self, rt):
        return [(0.0, np.inf, False), (0.0, rt, True), (rt, np.inf, True)]

    def _inner(self, u, delta, s, small, rt):
        # with sign +, v = |z_1|/||z||_1 ~ Beta(1, d - 1): ||z - r e1||_1 = u + rt - 2uv < s iff
        # v > y = (rt - delta)/(2u), probability 1/2 (1 - y)^(d-1), 1 - y = (s - (rt - u))/(2u)
        y = np.clip((rt - delta) / (2.0 * u), 0.0, 1.0)
        w = np.clip((s - (rt - u)) / (2.0 * u), 0.0, 1.0)
        with np.errstate(divide="ignore"):
            g = 0.5 * np.exp((self.dim - 1) * np.where(small, np.log(w), np.log1p(-y)))
        return 1.0 - g, g

    def _spread(self, rt):
        nu = self.dim - self.k
        return rt * (self.k / nu + 1.0)

    def _atoms(self, rt):
        """k = 0: Lambda = |z_1| - |z_1 - rt| (units of b) has atoms at -rt and rt."""
        return (-rt, rt) if self.k == 0 else ()

    # -- k = 0: one-dimensional Laplace law of Lambda = |z1| - |z1 - rt| (units of b) --------
    @staticmethod
    def _lower_k0_mp(p, rt):
        """Neyman-Pearson bound for Laplace noise (Teng et al. 2020 / Zhang et al. Cor. 1):
        p e^-rt (p <= 1/2); e^-rt / (4 (1 - p)) (1/2 < p < 1 - e^-rt / 2); 1 - e^rt (1 - p) (above)."""
        if p <= mp.mpf(1) / 2:
            return p * mp.exp(-rt)
        if p < 1 - mp.exp(-rt) / 2:
            return mp.exp(-rt) / (4 * (1 - p))
        return 1 - mp.exp(rt) * (1 - p)

    def _closed_form_k0(self, binary):
        return (TengLaplaceL1Binary if binary else TengLaplaceL1)(scale=self.scale)

    def _radius_k0_mp(self, p_a, p_b):
        if p_b is None:
            return -mp.log(2 * (1 - p_a))
        g = lambda rt: self._lower_k0_mp(p_a, rt) - (1 - self._lower_k0_mp(1 - p_b, rt))  # noqa: E731
        lo, hi = mp.mpf(0), mp.mpf(1)
        for _ in range(_K0_DOUBLINGS):
            if not g(hi) > 0:
                break
            lo, hi = hi, 2 * hi
        else:
            raise TwinUnavailable(
                f"{self.name} twin: no bracket below rt = 2^{_K0_DOUBLINGS} at {mp.mp.dps} digits "
                f"(p_a={p_a}, p_b={p_b})")
        for _ in range(4 * mp.mp.prec):
            mid = (lo + hi) / 2
            if mid == lo or mid == hi:
                break
            lo, hi = (mid, hi) if g(mid) > 0 else (lo, mid)
        return lo

    def _cond_mp(self, u, x, rt, upper=False):
        k = mp.mpf(self.k)
        y = mp.log(u / k) + u / k - x / k
        rho = k * mp.re(mp.lambertw(mp.exp(y)))  # ||z - delta||_1* / b
        if rho >= u + rt or rho < abs(u - rt):
            return mp.mpf(int((rho < abs(u - rt)) != upper))
        g = (1 - (u + rt - rho) / (2 * u)) ** (self.dim - 1) / 2
        return g if upper else 1 - g


# The l_inf family (Monte Carlo) lives in its own module; importing it here registers it.
from . import functional_linf  # noqa: E402,F401
from .functional_linf import ZhangLinf  # noqa: E402,F401
