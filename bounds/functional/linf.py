"""The ``zhang-linf`` family and theorem: Zhang et al. 2020, the mixed-norm family of their Eq. 13
against l_inf balls (Thm 3), with D estimated by Monte Carlo and a DKW bound.

pi0(z) proportional to ||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2)); the worst delta in the l_inf ball of
radius r is r (1, ..., 1) (their Thm 3). D has no low-dimensional closed form, so it is estimated by
Monte Carlo as in their Sec. 4.2, with two corrections (docs/contributing.md, Theorem catalog conventions):

* a bound uniform in lambda: D(lambda) = int_0^lambda P(R < t) dt, so the one-sided DKW bound on the
  CDF of R gives ``D <= D_n + lambda eps`` for all lambda at once (lambda is chosen on the samples);
* a union bound over the fixed grid of radii that the search may test (G radii in geometric
  progression from 1e-4 to 160 times sigma/sqrt(d - k); the grid depends only on the parameters,
  never on p_A or the Monte Carlo samples, so every reported radius is a grid point and the radius is
  monotone in p_A): ``eps = sqrt(ln(G / alpha_mc) / (2 N))``.

With probability >= 1 - alpha_mc over the Monte Carlo samples every reported radius is certified;
combined with counts bounded at level alpha the statement holds at 1 - alpha - alpha_mc (attribute
``confidence`` is 1 - alpha_mc). Exact sampler (docs/contributing.md, Theorem catalog
conventions): s = ||z||_inf has density
proportional to s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1) (rejection from a piecewise-
constant envelope that provably dominates it, see :func:`_sample_sup_norm`); one uniformly chosen
coordinate is +-s and the others are N(0, sigma^2) truncated to (-s, s). R depends on z only through
(s, sum z, max z, min z), which is all that is stored.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import special

from ...core.checks import check_alpha, check_int, check_positive, check_probability
from ...core.roots import bisect
from ...estimators.hoeffding import dkw_epsilon, dual_lower_bound
from ..base import Certificate
from ..family import Param, positive_scalar, register_family
from ..registry import register
from .engine import DEFAULT_DIM, check_k_dim, check_radius
from .zhang import DIM_PARAM, K_PARAM, ZhangFamily

#: log-density drop (natural units) at which the sampled range of s is cut; the mass left out
#: (below 1e-30) is added to the DKW width.
_CUT = 80.0
_OUTSIDE = 1e-30


def _log_sup_density(t, k, d):
    """log of the unnormalized density of t = ||z||_inf / sigma: -k log t - t^2/2 + (d-1) log erf(t/sqrt2)."""
    with np.errstate(divide="ignore"):
        return -k * np.log(t) - 0.5 * t * t + (d - 1) * np.log(special.erf(t / np.sqrt(2.0)))


def coordinate_std(k, d) -> float:
    """Per-coordinate standard deviation of the family at sigma = 1 (1 when k = 0).

    E z_i^2 = E[t^2 + (d - 1) v(t)] / d with t = ||z||_inf / sigma and v(t) = 1 - 2 t phi(t) / erf(t/sqrt2)
    the variance of N(0, 1) truncated to (-t, t); the expectation over t is a quadrature on the
    log-spaced grid where the density of t has its mass.
    """
    if k == 0:
        return 1.0
    t = np.geomspace(1e-6, 60.0, 200001)
    psi = _log_sup_density(t, k, d)
    w = np.exp(psi - np.nanmax(psi)) * t  # density in log t
    w = np.where(np.isfinite(w), w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = 1.0 - 2.0 * t * np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) / special.erf(t / np.sqrt(2.0))
    v = np.where(t < 1e-3, t * t / 3.0, v)
    second = np.sum(w * (t * t + (d - 1) * v)) / np.sum(w)
    return float(np.sqrt(second / d))


@register_family
class ZhangLinfFamily(ZhangFamily):
    """pi0 ~ ||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2)) (Zhang et al. Eq. 13), 0 <= k <= d - 1 (the
    density of ||z||_inf, s^(d-1-k) near 0, must be integrable); per-coordinate std
    sigma * :func:`coordinate_std` (k, d)."""

    name = "zhang-linf"
    params = (Param("sigma", "reals", positive_scalar, "Zhang et al. l_inf family scale sigma (> 0)"),
              K_PARAM, DIM_PARAM)
    scale_param = "sigma"
    law = ("density proportional to ||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2)) "
           "(Zhang et al. Eq. 13)")
    std_formula = "sigma * coordinate_std(k, d) (1 for k = 0; a quadrature over ||z||_inf)"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        kf, d = check_k_dim(params["k"], params["dim"])
        if kf > d - 1:
            raise ValueError(f"k must be <= dim - 1 = {d - 1} for zhang-linf, got k={params['k']!r}")

    @classmethod
    def unit_std(cls, params):
        return coordinate_std(params["k"], params["dim"])


def _sample_sup_norm(n, k, d, rng, cells: int = 4096):
    """Exact draws of t = ||z||_inf / sigma by rejection from a piecewise-constant envelope.

    On a cell [a, b], psi = log density has psi'' <= k / a^2 (log erf is concave, -t^2/2 has
    psi'' = -1), so psi(t) <= max(psi(a), psi(b)) + k (b - a)^2 / (8 a^2): that constant, exponentiated,
    dominates the density on the cell, and accepting with probability exp(psi(t) - envelope) gives
    exact draws from the density restricted to the range, whose outside mass is below 1e-30.
    """
    grid = np.geomspace(1e-6, 60.0, 20001)
    psi = _log_sup_density(grid, k, d)
    top = np.nanmax(psi)
    inside = np.flatnonzero(psi > top - _CUT)
    lo, hi = grid[max(inside[0] - 1, 0)], grid[min(inside[-1] + 1, grid.size - 1)]
    edges = np.geomspace(lo, hi, cells + 1)  # (b - a)/a is constant: the k-term stays small
    pe = _log_sup_density(edges, k, d)
    a, b = edges[:-1], edges[1:]
    env = np.maximum(pe[:-1], pe[1:]) + k * (b - a) ** 2 / (8 * a * a)
    weights = np.exp(env - env.max()) * (b - a)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    out = np.empty(0)
    while out.size < n:
        m = int(1.3 * (n - out.size)) + 16
        c = np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), cells - 1)
        t = a[c] + (b[c] - a[c]) * rng.random(m)
        keep = np.log(rng.random(m)) < _log_sup_density(t, k, d) - env[c]
        out = np.concatenate([out, t[keep]])
    return out[:n]


def sample_statistics(n, k, d, seed, chunk_elems: int = 4_000_000):
    """(t, sum z, max z, min z) of n exact draws z ~ pi0 with sigma = 1 (the exact sampler above)."""
    rng = np.random.default_rng(seed)
    t = _sample_sup_norm(n, k, d, rng)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    total, mx, mn = sign * t, np.where(sign > 0, t, -np.inf), np.where(sign < 0, -t, np.inf)
    rows = max(1, chunk_elems // max(d - 1, 1))
    for i in range(0, n, rows):
        sl = slice(i, min(n, i + rows))
        if d == 1:
            break
        lim = special.erf(t[sl] / np.sqrt(2.0))[:, None]
        u = (2.0 * rng.random((sl.stop - sl.start, d - 1)) - 1.0) * lim
        z = np.clip(np.sqrt(2.0) * special.erfinv(u), -t[sl, None], t[sl, None])
        total[sl] += z.sum(1)
        mx[sl] = np.maximum(mx[sl], z.max(1))
        mn[sl] = np.minimum(mn[sl], z.min(1))
    return t, total, mx, mn


@register
class ZhangLinf(Certificate):
    """Zhang et al. 2020, Eq. 13 family with Thm 3 (worst delta r 1) and Monte Carlo D (Sec. 4.2).

    Parameters: ``sigma`` (> 0), ``k`` (0 <= k <= dim - 1), ``dim`` (>= 2), ``n_samples``
    (default 100,000 as in the paper), ``seed``, ``alpha_mc`` (Monte Carlo failure probability,
    default 1e-3), ``grid`` (number G of radii the search may test, default 1024).
    The l_inf radius is the largest grid radius r_j with ``L_n(pA, r_j) > 1/2`` (binary) or
    ``L_n(pA, r_j) > 1 - L_n(1 - pB, r_j)``, L_n the DKW-corrected Monte Carlo dual bound. Sound with
    probability >= 1 - alpha_mc (``confidence``); not tight (Monte Carlo and grid).
    ``radius_mp`` evaluates the same estimator on the same samples in mpmath.
    """

    name = "zhang-linf"
    family = "zhang-linf"
    norm = "linf"
    tight = False
    expensive = True
    twin_rtol = 1e-9
    scale_param = "sigma"
    citation = ("Zhang et al. 2020 (NeurIPS), Eq. 13 (mixed-norm family), Thm 3 (worst delta r 1), "
                "Sec. 4.2 (Monte Carlo D); DKW bound uniform in lambda")
    formula = ("R = max{r_j : max_lambda [lambda (pA - eps) - mean_i(lambda - R_i(r_j))_+] > 1/2}, "
               "eps = sqrt(ln(G/alpha_mc)/(2N))")

    def __init__(self, sigma, k=0, dim=DEFAULT_DIM, n_samples=100_000, seed=0, alpha_mc=1e-3,
                 grid=1024):
        s = check_positive("sigma", sigma, allow_array=False)
        kf, d = check_k_dim(k, dim)
        ZhangLinfFamily.check_joint({"k": kf, "dim": d})
        self.sigma, self.k, self.dim = float(s), kf, d
        self.n_samples = check_int("n_samples", n_samples, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.alpha_mc = check_alpha(alpha_mc, "alpha_mc")
        self.grid = check_int("grid", grid, minimum=1)
        self.confidence = 1.0 - self.alpha_mc
        self.eps = dkw_epsilon(self.n_samples, self.alpha_mc / self.grid) + _OUTSIDE
        self._params = {"sigma": self.sigma, "k": k, "dim": d, "n_samples": self.n_samples,
                        "seed": self.seed, "alpha_mc": self.alpha_mc, "grid": self.grid}
        self._stats = None

    @classmethod
    def from_std(cls, std, dim=None, **given):
        """The generic :meth:`Certificate.from_std` (sigma = std / coordinate_std(k, d), the
        family's ``params_for_std``; other families' parameters ignored) as a light instance
        (1,000 Monte Carlo samples) for comparisons."""
        fam = ZhangLinfFamily
        kw = {k: v for k, v in given.items() if k in fam.param_names()}
        return cls(**fam.params_for_std(std, dim=dim, **kw), n_samples=1000)

    # ---- samples and ratios -----------------------------------------------------------------
    def statistics(self):
        """(t, sum, max, min) of the cached samples (sigma = 1 units), drawn on first use."""
        if self._stats is None:
            self._stats = sample_statistics(self.n_samples, self.k, self.dim, self.seed)
        return self._stats

    def log_ratios(self, r):
        """log R_i = log pi0(z_i - r 1) - log pi0(z_i) for the cached samples (r in sigma units)."""
        t, total, mx, mn = self.statistics()
        far = np.maximum(mx - r, r - mn)
        out = (r * total - 0.5 * self.dim * r * r)
        if self.k:
            out = out - self.k * (np.log(far) - np.log(t))
        return out

    def _lower(self, p, rt):
        lr = np.sort(self.log_ratios(rt))
        return dual_lower_bound(np.exp(np.minimum(lr, 700.0)), p, self.eps)

    def lower_bound(self, p_a, r):
        """DKW-corrected Monte Carlo lower bound on L(p_a, r) (scalar inputs; p_a rounded down,
        so an inexact input never gives a bound above its exact value)."""
        p = float(check_probability("p_a", p_a, "down"))
        return self._lower(p, float(check_radius(r)) / self.sigma)

    GRID_SPAN = (1e-4, 160.0)  # grid radii in units of sigma / sqrt(d - k)

    def _grid_radius(self, j, one=1.0, power=float.__pow__):
        """Grid radius number j (sigma units): 0 for j = 0, geometric for j = 1..G. ``one`` and
        ``power`` let the mpmath twin evaluate the same grid point at high precision."""
        if j == 0:
            return 0 * one
        lo, hi = self.GRID_SPAN
        base = one * lo / (one * (self.dim - self.k)) ** 0.5
        return base * power(one * hi / lo, (one * (j - 1)) / (self.grid - 1))

    def _search(self, pa, pb, certified):
        """Largest grid index j with certified(j) by bisection (index 0 = radius 0, always
        certified: the returned index is one where the test held)."""
        if certified(self.grid):
            return self.grid
        return bisect(certified, 0, self.grid, midpoint=lambda a, b: (a + b) // 2).inside

    def _radius_one(self, pa, pb):
        if (pb is None and pa <= 0.5) or (pb is not None and pa <= pb):
            return 0.0
        def certified(j):
            rt = self._grid_radius(j)
            low = self._lower(pa, rt)
            return low > (0.5 if pb is None else 1.0 - self._lower(1.0 - pb, rt))

        j = self._search(pa, pb, certified)
        self._last_index = (pa, pb, j)
        r = self._grid_radius(j) * self.sigma * (1 - 16 * np.finfo(float).eps)  # pow, 5 roundings
        return float(np.nextafter(r, 0.0)) if j else 0.0

    def _radius(self, p_a, p_b):
        out = np.empty(p_a.shape)
        for i in np.ndindex(p_a.shape):
            out[i] = self._radius_one(float(p_a[i]), None if p_b is None else float(p_b[i]))
        return out

    # ---- mpmath twin: the same estimator on the same samples ---------------------------------
    def _lower_mp(self, p, rt):
        t, total, mx, mn = self.statistics()
        rt = mp.mpf(rt)
        vals = []
        for ti, si, ai, bi in zip(t, total, mx, mn):
            lr = rt * mp.mpf(si) - mp.mpf(self.dim) * rt * rt / 2
            if self.k:
                far = max(mp.mpf(ai) - rt, rt - mp.mpf(bi))
                lr -= mp.mpf(self.k) * (mp.log(far) - mp.log(mp.mpf(ti)))
            vals.append(mp.exp(lr))
        vals.sort()
        n, pe = len(vals), p - mp.mpf(self.eps)
        best, csum = mp.mpf(0), mp.mpf(0)
        for j, v in enumerate(vals, 1):
            csum += v
            best = max(best, v * pe - (j * v - csum) / n)
        return best

    def _radius_mp(self, p_a, p_b):
        if (p_b is None and p_a <= 0.5) or (p_b is not None and p_a <= p_b):
            return mp.mpf(0)
        pa, pb = float(p_a), None if p_b is None else float(p_b)
        def certified(j):
            rt = self._grid_radius(j, one=mp.mpf(1), power=mp.power)
            low = self._lower_mp(p_a, rt)
            return low > (mp.mpf(1) / 2 if p_b is None else 1 - self._lower_mp(1 - p_b, rt))

        j = self._float_index(pa, pb)
        # the float decision at the boundary, re-made in mpmath: j certified and j + 1 not
        # (falls back to the full bisection in mpmath when they disagree)
        if not ((j == 0 or certified(j)) and (j == self.grid or not certified(j + 1))):
            j = self._search(pa, pb, certified)
        return self._grid_radius(j, one=mp.mpf(1), power=mp.power) * mp.mpf(self.sigma)

    def _float_index(self, pa, pb):
        self._radius_one(pa, pb)
        return self._last_index[2]
