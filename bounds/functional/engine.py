"""The dual-bound engine of the Zhang et al. 2020 radial certificates: the CDF of Lambda = log R with
sound error bounds, the dual bound L(p, r), and the certified radius (Zhang, Yu, Zhang, Weng, Liu &
Hsieh 2020, "Black-box certification with randomized smoothing: a functional optimization based
framework", NeurIPS 2020).

Framework (their Sec. 3, Eq. 4-6; docs/contributing.md, Theorem catalog conventions). With
F = all functions into [0, 1], the
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
quadrature split at the kinks (:mod:`.radial`). The quadrature error is estimated by
comparing two nested orders, the truncated radial mass is added, and every comparison uses the
resulting upper/lower bounds (docs/contributing.md, Theorem catalog conventions: numerical
integration is part of the promise).

Any x gives a valid lower bound in (*), feasible or not; ``lower_bound`` takes the largest x whose
upper CDF bound is <= p (the Neyman-Pearson quantile, found by a bracketing Illinois search on a
monotone function), so it is sound and within the integration error of the maximum.

The radius. At the certified radius the Neyman-Pearson equations hold: A(x1) = pA and
L = P(Lambda > -x1) equals 1/2 (binary) or U = P(Lambda <= -x2) with P(Lambda >= x2) = pB. They are
solved for (x1[, x2], log rt) (:mod:`.solve`) by Newton's method with Broyden updates on central quadrature values
in logit form (so that pA = 1 - 1e-12 or pB = 1e-60 keep their digits), and the answer is then
*verified*: rt just below the root is returned only if the sound bounds (*) at the solved x's
certify it. Where the solve fails or does not verify (Lambda with atoms, bounded support), a
bracketing search on the sound gap is used instead (:mod:`smoothcert.core.roots`). Radial mass is
cut only below 1e-300, so the tails a certificate works with are computed to about 1e-11 relative
(panels are halved where the error estimate says otherwise). The mpmath twin is :mod:`.twin`, the
lookup table :mod:`.table`, the two families and their theorems :mod:`.zhang`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import special

from ...core.checks import as_float_array, check_finite, check_int, check_positive
from ...core.checks import check_probability
from ...core.rounding import EPS, as_output
from ...core.roots import expand, illinois, walk
from ..base import Certificate
from .radial import RadialLaw, monotone_root, newton_increasing
from .solve import XMAX, NeymanPearsonSolve  # XMAX: largest log-lambda tried
from .table import TableMixin
from .twin import QuadratureTwin

#: Relative bracket width at which the radius bisection stops (the lower end is returned).
R_RTOL = 1e-11
#: Largest normalized radius the bracketing search tries (returned if certified there).
RT_MAX = 1e12
#: Relative error of a tail probability above which its panels are halved (see ``_tails``).
REFINE_RTOL = 1e-10
#: At most this many halvings (16 times the panels).
MAX_SPLITS = 4
#: Dimension used by ``from_std`` when none is given (MNIST, 28 x 28).
DEFAULT_DIM = 784


def check_k_dim(k, dim):
    """``dim`` an integer >= 2 and ``k`` a real number with 0 <= k < dim (Zhang et al. Eq. 9)."""
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


class FunctionalCertificate(NeymanPearsonSolve, QuadratureTwin, TableMixin, Certificate):
    """Engine shared by ``zhang-l2`` and ``zhang-l1`` (see the module docstring).

    Subclasses give the radial exponent ``q``, ``phi`` pieces and the conditional law of
    ``||z - r e_1||`` given ``||z||`` in normalized units (``u = ||z|| / scale``, ``rt = r / scale``).
    The Neyman-Pearson solve (:class:`.solve.NeymanPearsonSolve`), the mpmath twin
    (:class:`.twin.QuadratureTwin`) and ``radius_table`` (:class:`.table.TableMixin`) are mixed in.
    """

    q: ClassVar[int] = 2
    family: ClassVar[str] = ""
    expensive = True
    twin_rtol = 1e-9
    _scale_name: ClassVar[str] = "sigma"

    def __init__(self, scale, k, dim):
        s = check_positive(self._scale_name, scale, allow_array=False)
        self.k, self.dim = check_k_dim(k, dim)
        self.scale = float(s)
        self._params = {self._scale_name: self.scale, "k": k, "dim": self.dim}
        self._law = self._make_law()
        self._memo = {}

    def _make_law(self):
        """The law of ``u = ||z|| / scale``: density ``c u^(nu-1) exp(-u^q/q)``, nu = dim - k."""
        return RadialLaw(self.q, self.dim - self.k)

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
        shift = law.node_shift(a, b)
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
        tails = lambda x: self._tails_at(rt, [x])[0]  # noqa: E731
        x0, step = self._start(p, q, rt, sig)
        t0 = tails(x0)
        if v(t0) >= 0:  # feasible: walk up to the first infeasible x (or XMAX)
            if x0 >= XMAX:
                return x0, t0
            br = expand(tails, walk(x0, step, 4, limit=XMAX), lambda t: v(t) >= 0, x0, t0)
            if br.outside is None:
                return br.inside, br.f_inside
            lo, tlo, hi, thi = br.inside, br.f_inside, br.outside, br.f_outside
        else:  # infeasible: walk down to the first feasible x (none above -XMAX: no bound)
            br = expand(tails, walk(x0, -step, 4, limit=-XMAX), lambda t: v(t) < 0, x0, t0)
            if br.outside is None:
                return None, None
            lo, tlo, hi, thi = br.outside, br.f_outside, br.inside, br.f_inside
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
        tol = 1e-9 * sig + 8 * EPS * max(abs(lo), abs(hi))
        br = illinois(tails, lo, hi, tlo, thi, tol, value=v)
        lo, tlo = br.inside, br.f_inside
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
        """(p, r, scalar) broadcast; p_a rounded down and p_b up (the bounds only grow with p_a
        and shrink with p_b, so an inexact input never gives a bound past its exact value)."""
        pa = check_probability(name, p, "down" if name == "p_a" else "up")
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
        guess = self._gap_guess(pa, pb)
        # the certified side of every bracket is ``inside`` (the gap was > 0 there): returned
        br = expand(f, walk(0.5 * guess, 0.5 * guess, 2, limit=RT_MAX), lambda g: g > 0,
                    0.0, pa - (0.5 if pb is None else pb))
        if br.outside is None:
            return br.inside
        br = illinois(f, br.inside, br.outside, br.f_inside, br.f_outside,
                      lambda a, b: R_RTOL * max(a, b), ok=lambda g: g > 0)
        return br.inside

    def _radius(self, p_a, p_b):
        out = np.empty(p_a.shape)
        for i in np.ndindex(p_a.shape):
            pb = None if p_b is None else float(p_b[i])
            rt = self._radius_rt(float(p_a[i]), pb)
            with np.errstate(over="ignore"):  # rt * scale above every double: the largest one
                out[i] = rt if np.isinf(rt) else np.nextafter(rt * self.scale, 0.0) if rt > 0 else 0.0
        if self._closed_k0():
            # k = 0 is plain Gaussian / Laplace noise, for which the closed-form theorems are sound
            # too; both radii are certified, so their maximum is. It matters where the quadrature's
            # absolute error floor makes it loose (pA within ~1e-12 of 1, pB below ~1e-10).
            out = np.maximum(out, self._closed_form_k0(p_b is None).radius(p_a, p_b))
        return out

    def _closed_k0(self) -> bool:
        """Whether this member of the family has a closed-form radius (Zhang et al.'s k = 0:
        Gaussian / Laplace noise), used by the float radius and the twin."""
        return self.k == 0

    def _closed_form_k0(self, binary: bool):
        """A closed-form certificate for the k = 0 member of the family (same noise)."""
        raise NotImplementedError

