"""Yang et al. 2020's l1 family Exp1 and its differential-method l1 certificate, computed exactly.

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), the differential method (their Sec. 3; theorem and equation numbers not checked against
the paper here) and their code (tonyduan/rs4a, ``noises.Exp1``): density

    q(z)  proportional to  exp(-(||z||_1 / lambda)^k),      k = exp_power > 0, z in R^d.

In polar form ``(||z||_1 / lambda)^k ~ Gamma(a)``, ``a = d/k``, times the cone measure of the
l1 sphere (Laplace coordinates over their l1 norm). With ``E ||z||_1^2 = lambda^2 Gamma((d+2)/k)
/ Gamma(d/k)`` and ``E w_i^2 = 2/(d(d+1))`` for ``w`` uniform on the simplex, the per-coordinate
std is ``lambda sqrt(2 Gamma((d+2)/k) / (d (d+1) Gamma(d/k)))`` (rs4a ``Exp1._sigma``).

The differential method (lambda = 1). For f into [0, 1] and ``||v||_1 <= 1`` the speed of
``p(x + s v) = E f(x + s v + z)`` is ``|E[f(z) v . grad psi(z)]|``, ``psi = -log q``; its sup over f
of mean p is convex in v, hence largest at a vertex ``e_1`` of the l1 ball, where
``g = d psi / dz_1 = k r^(k-1) sign(z_1)``, ``r = ||z||_1``. By Neyman-Pearson the sup over f with
``E f = t <= 1/2`` takes the largest g: ``{z_1 > 0, r > rho}`` for k > 1, ``{z_1 > 0, r < rho}``
for k < 1. With ``u = r^k ~ Gamma(a)`` and ``b = (d + k - 1)/k``:

    k > 1:  2t = Q_a(u_t),  Phi(t) = c Q_b(u_t);     k < 1:  2t = P_a(u_t),  Phi(t) = c P_b(u_t),
    c = (k/2) Gamma(b) / Gamma(a)                                          (rs4a ``Exp1.Phi_l1``)

(P, Q the regularized lower and upper incomplete gamma functions), ``Phi(t) = Phi(1 - t)``. Each
class probability moves at speed at most ``Phi(p)``, so ``h(p(x + s v)) >= h(p(x)) - s`` with
``h(p) = int_{1/2}^p dq / Phi(q)``, odd about 1/2. Class A stays above class B while
``h(pA) - s > h(pB) + s``, hence (lambda restored)

    R = lambda (h(pA) - h(pB)) / 2,     h(p) = G(1 - p) for p >= 1/2, -G(p) below,
    G(t) = int_t^{1/2} ds / Phi(s)              (binary: R = lambda G(1 - pA), rs4a's Exp1 table).

k = 1 is Laplace noise: ``Phi(t) = t``, ``G(t) = log(1/(2t))`` (Teng et al.'s binary radius; the
multi-class form ``-lambda/2 log(4 (1 - pA) pB)`` is at least Teng's Thm 1). For k < 1, G(0) is
finite: the radius stays bounded as pA -> 1. Not tight in general (a lower bound); for d = 1 it is
the exact shift radius of a log-concave law (Expp, :mod:`.expp`).

Numerics (:class:`DifferentialL1`). Phi is concave on (0, 1/2]: ``Phi'(t) = k u_t^g`` (g = b - a
= (k-1)/k) is monotone in t, and ``Phi''(t) = -2 k |g| Gamma(a) u^(g-a) e^u``. So on a cell
``[alpha, beta]``, with ``m`` the least ``|Phi''|`` over it (``(g - a) log u + u`` is convex in u,
least at ``u = a - g``), Taylor's theorem gives ``Phi(beta - x) <= Phi(beta) - Phi'(beta) x -
m x^2/2 =: L(x) - m x^2/2`` and, as ``1/(L - q) >= 1/L + q/L^2``,

    int_{beta - D}^{beta} ds / Phi(s)  >=  -log(1 - Phi'(beta) D / Phi(beta)) / Phi'(beta)
                                           + m D^3 / (6 Phi(beta)^2),                       (B)

exact for Laplace and off by O(D^4) otherwise. G is tabulated once per (a, b, k) at nodes that are
doubles (geometric towards 1/2 and towards 0) as cumulative sums of (B); between nodes (B) from the
node above. At each node the Gamma quantile ``u_t`` is bracketed (scipy's inverse, then checked
with the CDF widened by :func:`sf_budget`) and Phi, Phi', m are taken at the safe end of the bracket;
below the last node (t < 2^-1000) the tangent of the last node alone (concavity, m = 0). Every
float result is rounded down (``core/rounding.py``). The twin integrates ``u^(a-1) e^-u / (k
Gamma(b, u))`` (or ``gamma(b, u)``) over u in mpmath.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp
import numpy as np
from scipy import special

from ..core.rounding import EPS, grow, shrink, sound_difference
from .base import GapCertificate
from .exp2 import gamma_ratio, positive_exponent
from .family import NoiseFamily, Param, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM
from .functional.zhang import dimension
from .registry import register

#: Relative error budget of scipy's ``gammainc``/``gammaincc`` at shape a <= 64; it grows like
#: a/64 above (:func:`sf_budget`). Measured against mpmath in tests/test_zoo_exp1_expp.py: at most
#: 1e-13 for a <= 400, 7e-12 at a = 3000 (deep tails), 2e-13 at a = 3e5.
REL_SF = 2.0**-40


def sf_budget(a: float) -> float:
    """The relative error assumed of scipy's regularized incomplete gamma functions at shape a."""
    return REL_SF * max(1.0, a / 64.0)
#: Log-width of the table cells where the radius is pinned to 1e-9 (t in [2^-60, 1/2]).
CELL = 1.0 / 512
#: Digits of the twin's quadrature (1e-18 relative; the float path is 1e-12 and more below the
#: exact value, and every 10 more digits cost the twin seconds of incomplete gamma functions).
QUAD_DPS = 20
#: Coarser cells in the deep tail (t below 2^-60), where only soundness is promised.
TAIL_CELL = 1.0 / 64


def gamma_quantile_bracket(a: float, y, lower: bool):
    """``(lo, hi)`` with ``lo <= u <= hi`` for the solution u of ``P_a(u) = y`` (``lower``) or
    ``Q_a(u) = y`` (vectorized, y in [0, 1]). scipy's inverse u is moved by ``w = 2 eps y /
    g_a(u) + 4 ulps`` (eps = :func:`sf_budget`, g_a the density: what the CDF's error can hide),
    then by 4 times more per round, until scipy's CDF, moved by eps, proves each side; a side
    still unproven after 16 rounds is 0 or inf."""
    y = np.asarray(y, dtype=np.float64)
    eps = sf_budget(a)
    cdf = special.gammainc if lower else special.gammaincc
    with np.errstate(all="ignore"):
        u = special.gammaincinv(a, y) if lower else special.gammainccinv(a, y)
        zero = y == (0.0 if lower else 1.0)       # the solution is u = 0
        infinite = y == (1.0 if lower else 0.0)   # the solution is u = inf
        u = np.where(np.isfinite(u), u, 0.0)
        log_density = (a - 1.0) * np.log(u) - u - special.gammaln(a)
        width = 2.0 * eps * np.exp(np.log(y) - log_density) + 4.0 * EPS * u + 1e-300
        width = np.where(np.isfinite(width), width, u)
        lo, hi = np.zeros_like(y), np.full_like(y, np.inf)
        for side, out, sign in ((0, lo, -1.0), (1, hi, 1.0)):
            todo = np.flatnonzero(~(zero | infinite))
            step = width.copy()
            for _ in range(16):
                if todo.size == 0:
                    break
                cand = np.maximum(u[todo] + sign * step[todo], 0.0)
                f = cdf(a, cand)
                # P increasing: P(lo) <= y <= P(hi); Q decreasing: Q(lo) >= y >= Q(hi)
                if lower == (side == 0):
                    ok = f * (1.0 + eps) <= y[todo]
                else:
                    ok = f * (1.0 - eps) >= y[todo]
                out[todo[ok]] = cand[ok]
                todo = todo[~ok]
                step *= 4.0
        lo, hi = np.where(zero, 0.0, lo), np.where(zero, 0.0, hi)
        lo, hi = np.where(infinite, np.inf, lo), np.where(infinite, np.inf, hi)
    return lo, hi


def node_quantile_bracket(a: float, t, upper_tail: bool):
    """Bracket of ``u_t``: ``Q_a(u) = 2t`` (``upper_tail``, k > 1) or ``P_a(u) = 2t`` (k < 1),
    solved on the complementary tail (``1 - 2t``, exact for t >= 1/4) where 2t > 1/2."""
    t = np.asarray(t, dtype=np.float64)
    near = 2.0 * t > 0.5
    lo, hi = np.empty_like(t), np.empty_like(t)
    for mask, y, lower in ((~near, 2.0 * t, not upper_tail), (near, 1.0 - 2.0 * t, upper_tail)):
        if mask.any():
            lo[mask], hi[mask] = gamma_quantile_bracket(a, y[mask], lower)
    return lo, hi


class DifferentialL1:
    """``G(t) = int_t^{1/2} ds / Phi(s)`` for the Gamma pair (a, b) and exponent k != 1
    (module docstring): a table of provable lower bounds, and :meth:`lower` between its nodes."""

    def __init__(self, a: float, b: float, k: float):
        self.a, self.b, self.k = float(a), float(b), float(k)
        self.g = self.b - self.a                      # (k - 1)/k: Phi'(t) = k u_t^g
        self.upper = self.k > 1.0                     # 2t = Q_a(u) (k > 1) or P_a(u) (k < 1)
        with mp.workdps(30):
            c = mp.mpf(self.k) / 2 * mp.exp(mp.loggamma(self.b) - mp.loggamma(self.a))
            self.c_hi = float(c) * (1.0 + 4 * EPS)
            self.log_m0 = float(mp.log(2 * self.k * abs(mp.mpf(self.g))) + mp.loggamma(self.a))
        t = self._nodes()                             # descending from 1/2
        lo, hi = node_quantile_bracket(self.a, t, self.upper)
        self.t = t
        self.phi = self._phi_hi(lo, hi)
        self.dphi = self._dphi_lo(lo, hi)
        cell_lo = np.minimum(lo[1:], lo[:-1])
        cell_hi = np.maximum(hi[1:], hi[:-1])
        self.log_m = np.concatenate([[-np.inf], self._log_m_lo(cell_lo, cell_hi)])
        # cell j spans [t[j], t[j-1]], bounded with the data of its upper node j-1
        width = np.nextafter(t[:-1] - t[1:], 0.0)
        cells = self._bound(width, self.phi[:-1], self.dphi[:-1], self.log_m[1:])
        cum = np.concatenate([[0.0], np.cumsum(cells)])
        n = np.arange(len(cum), dtype=np.float64)
        self.cum = np.nextafter(cum * (1.0 - (n + 2.0) * EPS), 0.0)   # recursive summation error
        # ascending copies for searchsorted
        self.t_asc, self.cum_asc = self.t[::-1].copy(), self.cum[::-1].copy()
        self.phi_asc, self.dphi_asc = self.phi[::-1].copy(), self.dphi[::-1].copy()
        self.log_m_asc = self.log_m[::-1].copy()    # log_m_asc[i - 1]: the cell below node i
        #: one-sided relative error of :meth:`lower`, in ulps (the summation's, plus the rest)
        self.ulps = len(t) + 64

    @staticmethod
    def _nodes() -> np.ndarray:
        """1/2, then ``1/2 - D`` (D geometric from 1/4 down to 2^-44), then t geometric from 1/4
        down to 2^-60 (cells :data:`CELL`) and to 2^-1000 (cells :data:`TAIL_CELL`)."""
        near = 0.5 - np.exp(np.arange(math.log(0.25), math.log(2.0**-44), -CELL))[::-1]
        mid = np.exp(np.arange(math.log(0.25), math.log(2.0**-60), -CELL))
        deep = np.exp(np.arange(math.log(2.0**-60), math.log(2.0**-1000), -TAIL_CELL))
        t = np.unique(np.concatenate([[0.5], near, mid, deep]))[::-1]
        return t

    def _phi_hi(self, lo, hi):
        """Upper bound of ``Phi = c Q_b(u)`` (k > 1, decreasing in u: at lo) or ``c P_b(u)``."""
        with np.errstate(all="ignore"):
            f = special.gammaincc(self.b, lo) if self.upper else special.gammainc(self.b, hi)
        return np.nextafter(self.c_hi * f * (1.0 + sf_budget(self.b) + 4 * EPS), np.inf)

    def _dphi_lo(self, lo, hi):
        """Lower bound of ``Phi' = k u^g`` (g > 0 for k > 1: at lo; g < 0: at hi)."""
        with np.errstate(all="ignore"):
            d = self.k * np.power(lo if self.upper else hi, self.g)
        return shrink(np.where(np.isnan(d), 0.0, d), 8)

    def _log_m_lo(self, u_min, u_max):
        """Lower bound of ``log min |Phi''|`` over u in [u_min, u_max] (``(g - a) log u + u`` is
        increasing when g >= a, convex with its least value at ``a - g`` otherwise)."""
        s = self.g - self.a

        def ell(u):
            with np.errstate(all="ignore"):
                v = s * np.log(u) + u if s != 0 else u
            if s > 0:
                v = np.where(u == 0, -np.inf, v)
            elif s < 0:
                v = np.where(u == 0, np.inf, v)
            return np.where(np.isinf(u), np.inf, v)

        best = np.minimum(ell(u_min), ell(u_max))
        if s < 0:
            best = np.minimum(best, ell(np.clip(-s, u_min, u_max)))
        out = self.log_m0 + best
        return out - 1e-12 * (np.abs(out) + np.abs(self.log_m0) + 1.0)

    @staticmethod
    def _bound(width, phi, dphi, log_m):
        """Eq. (B): a lower bound of ``int_{beta - D}^{beta} ds / Phi`` (D = width, the node
        data of beta), rounded down."""
        with np.errstate(all="ignore"):
            x = np.minimum(dphi * width / phi * (1.0 - 4 * EPS), 1.0 - EPS)
            ratio = np.where(x > 0, -np.log1p(-x) / x, 1.0)
            first = width / phi * ratio
            log_w = np.log(width)
            extra = np.exp(log_m + 3.0 * log_w - math.log(6.0) - 2.0 * np.log(phi)) * (1.0 - 1e-9)
            extra = np.where(np.isnan(extra) | (width == 0), 0.0, extra)
            out = shrink(first, 16) + shrink(extra, 16)
        return shrink(np.where(width > 0, out, 0.0), 2)

    def lower(self, t) -> np.ndarray:
        """A provable lower bound of ``G(t)`` for t in [0, 1/2] (vectorized)."""
        t = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.t_asc, t, side="left")
        i = np.minimum(i, len(self.t_asc) - 1)
        width = np.nextafter(self.t_asc[i] - t, 0.0)
        width = np.maximum(width, 0.0)
        log_m = np.where(i > 0, self.log_m_asc[np.maximum(i - 1, 0)], -np.inf)  # the cell below
        part = self._bound(width, self.phi_asc[i], self.dphi_asc[i], log_m)
        # k > 1: G(0) = inf (pA = 1 or pB = 0 certify everything); k < 1: finite, bounded above
        return np.where((t == 0) & self.upper, np.inf, shrink(self.cum_asc[i] + part, 2))


@lru_cache(maxsize=16)
def differential_table(a: float, b: float, k: float) -> DifferentialL1:
    """The table of ``G`` for (a, b, k), built once (a fraction of a second)."""
    return DifferentialL1(a, b, k)


def signed_gap(lower_g, upper_g, p_a, p_b):
    """``(h(pA) - h(pB)) / 2`` rounded down from bounds of ``G``: ``lower_g(t) <= G(t) <=
    upper_g(t)`` (p_b None: binary, ``G(1 - pA)``). ``h(p) = G(1 - p)`` for p >= 1/2 (1 - p
    exact) and ``-G(p)`` below; for pA < 1/2 the gap is ``G(pB) - G(pA)``."""
    p_a = np.asarray(p_a, dtype=np.float64)
    if p_b is None:
        return np.where(p_a > 0.5, lower_g(np.where(p_a > 0.5, 1.0 - p_a, 0.5)), 0.0)
    p_b = np.asarray(p_b, dtype=np.float64)
    upper_a = p_a >= 0.5
    g_a = lower_g(np.where(upper_a, 1.0 - p_a, 0.5))
    g_b = lower_g(np.minimum(p_b, 0.5))
    low = sound_difference(g_b, upper_g(np.where(upper_a, 0.5, p_a)), 4)
    total = np.where(upper_a, shrink(g_a + g_b, 2), low)
    return np.where(p_a > p_b, np.maximum(shrink(total * 0.5, 1), 0.0), 0.0)


def table_signed_gap(a, b, k, p_a, p_b):
    """:func:`signed_gap` from the table of (a, b, k). For pA < 1/2 its exact-arithmetic lower
    antiderivative ``C`` (``lower`` is within ``ulps`` below it) gives ``G(pB) - G(pA) >=
    C(pB) - C(pA)``: the upper side is ``C`` grown by the table's error. Below the last node the
    tangent's ``-log(1 - x)`` is too sensitive to x for that margin: no upper side there (pA <
    2^-1000 certifies nothing)."""
    table = differential_table(a, b, k)

    def upper(t):
        return np.where(t < table.t_asc[0], np.inf, grow(table.lower(t), 2 * table.ulps))

    return signed_gap(table.lower, upper, p_a, p_b)


# ---------------------------------------------------------------------------------------------
# the twin: G by quadrature in u (mpmath)
def _mp_quantile(a, y, lower: bool):
    """u with ``P_a(u) = y`` (``lower``) or ``Q_a(u) = y`` in mpmath: Newton's method on
    ``log P(e^x) = log y`` (resp. Q), started from scipy's estimate, steps capped at 1."""
    a, y = mp.mpf(a), mp.mpf(y)
    if y == 0:
        return mp.mpf(0) if lower else mp.inf
    with np.errstate(all="ignore"):
        est = float(special.gammaincinv(float(a), float(y)) if lower
                    else special.gammainccinv(float(a), float(y)))
    x = mp.log(est) if math.isfinite(est) and est > 0 else mp.log(a)
    log_y, log_ga = mp.log(y), mp.loggamma(a)
    for _ in range(200):
        u = mp.exp(x)
        tail = mp.gammainc(a, 0, u, regularized=True) if lower else \
            mp.gammainc(a, u, mp.inf, regularized=True)
        slope = mp.exp(a * x - u - log_ga) / tail * (1 if lower else -1)   # d log tail / dx
        step = (mp.log(tail) - log_y) / slope
        step = max(min(step, mp.mpf(1)), mp.mpf(-1))
        x -= step
        if abs(step) <= mp.eps * 16 * (1 + abs(x)):
            break
    return mp.exp(x)


def g_mp(a, b, k, t):
    """``G(t) = int_t^{1/2} ds/Phi(s)`` in mpmath: ``(1/k) int_0^{u_t} u^(a-1) e^-u / Gamma(b, u)
    du`` for k > 1, ``(1/k) int_{u_t}^inf u^(a-1) e^-u / gamma(b, u) du`` for k < 1."""
    a, b, k, t = mp.mpf(a), mp.mpf(b), mp.mpf(k), mp.mpf(t)
    if t >= mp.mpf(1) / 2:
        return mp.mpf(0)
    if k == 1:   # Laplace: Phi(s) = s
        return -mp.log(2 * t) if t > 0 else mp.inf
    upper = k > 1
    if t == 0 and upper:
        return mp.inf
    # u_t on the well-conditioned tail: 2t = Q_a(u) (k > 1) or P_a(u) (k < 1)
    if t == 0:
        u_t = mp.mpf(0)
    elif 2 * t <= mp.mpf(1) / 2:
        u_t = _mp_quantile(a, 2 * t, lower=not upper)
    else:
        u_t = _mp_quantile(a, 1 - 2 * t, lower=upper)
    if b == 1:   # Expp (d = 1): Gamma(1, u) = e^-u, gamma(1, u) = -expm1(-u)
        tail = (lambda u: mp.exp(-u)) if upper else (lambda u: -mp.expm1(-u))
    else:
        tail = (lambda u: mp.gammainc(b, u, mp.inf)) if upper else (lambda u: mp.gammainc(b, 0, u))

    def w(u):
        return mp.exp((a - 1) * mp.log(u) - u) / tail(u)

    # w ~ u^(s-1) at u -> 0 (s = a for k > 1, s = a - b for k < 1): for s < 1 the first piece
    # is integrated in v = u^s, where it is smooth (du = u / (s v) dv)
    s = a if upper else a - b

    def piece(lo, hi, first):
        if s >= 1 or not first:
            return mp.quad(w, [lo, hi])
        return mp.quad(lambda v: w(v ** (1 / s)) * v ** (1 / s - 1) / s, [lo**s, hi**s])

    if upper:
        cuts = [mp.mpf(0)] + [c for c in (a / 4, a) if c < u_t] + [u_t]
    else:
        cuts = [u_t] + [c for c in (a / 4, a, 4 * a + 40) if c > u_t] + [mp.inf]
    with mp.workdps(min(mp.mp.dps, QUAD_DPS)):
        return mp.fsum(piece(lo, hi, i == 0) for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))) / k


# ---------------------------------------------------------------------------------------------
@register_family
class Exp1Family(NoiseFamily):
    """Yang et al. 2020 (rs4a ``Exp1``): q ~ exp(-(||z||_1/lambda)^p), p = exp_power;
    ``(||z||_1/lambda)^p ~ Gamma(d/p)`` times the cone measure of the l1 sphere."""

    name = "exp1"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of exp(-(||z||_1/lambda)^p) (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of exp(-(||z||_1/lambda)^p) (> 0; rs4a k)", 2.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = "density proportional to exp(-(||z||_1 / lambda)^p), p = exp_power (Yang et al. 2020, rs4a Exp1)"
    std_formula = "lambda sqrt(2 Gamma((d + 2)/p) / (d (d + 1) Gamma(d/p)))"

    @classmethod
    def unit_std(cls, params):
        d, p = params["dim"], params["exp_power"]
        return math.sqrt(2.0 * gamma_ratio(d, p, 0.0) / (d * (d + 1.0)))


def laplace_signed_gap(p_a, p_b):
    """k = 1 (Laplace): ``G(t) = -log(2t)``; ``(h(pA) - h(pB))/2`` rounded down (binary:
    ``-log(2 (1 - pA))``; multi-class ``-log(4 (1 - pA) pB)/2`` for pA >= 1/2, ``log(pA/pB)/2``
    below)."""
    from ..core.rounding import sound_difference

    p_a = np.asarray(p_a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p_b is None:
            tail = np.where(p_a > 0.5, 2.0 * (1.0 - p_a), 1.0)
            return np.where(p_a > 0.5, shrink(-np.log(tail), 2), 0.0)
        p_b = np.asarray(p_b, dtype=np.float64)
        h_a = np.where(p_a >= 0.5, -np.log(2.0 * (1.0 - p_a)), np.log(2.0 * p_a))
        h_b = np.log(2.0 * p_b)
        gap = np.where(np.isinf(h_a) | np.isinf(h_b), np.inf, sound_difference(h_a, h_b, 4) * 0.5)
    return np.where(p_a > p_b, np.maximum(shrink(gap, 1), 0.0), 0.0)


@register
class YangExp1L1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), Exp1 noise, l1
    adversary: ``R = lambda (h(pA) - h(pB)) / 2``, ``h(p) = int_{1/2}^p dq / Phi(q)`` with rs4a's
    ``Exp1.Phi_l1`` (module docstring), by a tabulated quadrature with a proven error bound
    instead of rs4a's interpolated table. exp_power = 1 is Laplace (closed form). Not tight."""

    name = "yang-exp1-l1"
    family = "exp1"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    expensive = True          # the twin integrates incomplete gamma functions in mpmath
    twin_rtol = 1e-9
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method (Sec. 3), Exp1 noise, l1 (rs4a Exp1.certify_l1)")
    formula = ("R = lambda (h(pA) - h(pB))/2, h(p) = int_{1/2}^p dq/Phi(q), Phi(q) = (k/2) "
               "Gamma(b)/Gamma(a) Q_b(Q_a^-1(2q)) (k > 1; P for k < 1), a = d/k, b = (d+k-1)/k")

    def __init__(self, lambd, exp_power=2.0, dim=DEFAULT_DIM):
        self._params = Exp1Family.validate({"lambd": lambd, "exp_power": exp_power, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        d, k = self._params["dim"], self._params["exp_power"]
        self._abk = (d / k, (d + k - 1.0) / k, k)

    def _working_dps(self, p_a, p_b, dps):
        return dps  # the tails 1 - pA and pB are formed exactly below (Sterbenz, no subtraction)

    def _gap(self, p_a, p_b):
        if self._abk[2] == 1.0:
            return laplace_signed_gap(p_a, p_b)
        return table_signed_gap(*self._abk, p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return signed_gap_mp(lambda t: g_mp(*self._abk, t), p_a, p_b)


def signed_gap_mp(g, p_a, p_b):
    """``(h(pA) - h(pB)) / 2`` in mpmath from the exact ``G`` (binary: ``G(1 - pA)``)."""
    half = mp.mpf(1) / 2

    def h(p):
        return g(1 - p) if p >= half else -g(p)

    if p_b is None:
        return g(1 - p_a) if p_a > half else mp.mpf(0)
    if p_a <= p_b:
        return mp.mpf(0)
    ha, hb = h(p_a), h(p_b)
    if mp.isinf(ha) or mp.isinf(hb):
        return mp.inf
    return (ha - hb) / 2
