"""Torch-free geometry of certified regions: are two weighted l_p balls disjoint, how far must
one shrink, is a point inside (Alfarra et al. 2022 Sec. 3.5 memory; numpy/scipy only).

A stored region ``A`` (centre ``a``) and a new one ``B`` (centre ``b``) are centrally symmetric
convex sets, ``{delta : ||delta / axes||_p <= 1}``. With ``d = b - a``, any direction ``u`` with
``u.d > h_A(u) + t h_B(u)`` separates ``A`` from ``b + t (B - b)``: the support functions are
``h_R(u) = ||axes_R * u||_q`` (``1/p + 1/q = 1``; Rockafellar, Convex Analysis, Sec. 13). So every
``u`` gives the sound scale ``t(u) = (u.d - h_A(u)) / h_B(u)`` and :func:`best_separation_scale`
maximizes it:

* two ellipsoids (p = 2): the stationarity condition of ``u.d - ||a u|| - t ||b u||`` gives
  ``u = (mu a^2 + (1 - mu) b^2)^-1 d`` for some ``mu`` in [0, 1] (a, b the semi-axes), so a 1-D
  search over ``mu`` reaches the optimum;
* two generalized cross-polytopes (p = 1, dual l_inf): ``max u.d - h_A(u)`` s.t. ``h_B(u) <= 1``
  is a linear program (solved with HiGHS);
* other pairs: a few candidate directions.

Whatever direction the search returns, :func:`separation_scale` re-evaluates ``t`` in float64 with
an error margin and rounds it down, so the shrunk region is provably disjoint; the search only
decides how tight it is. :func:`gauge_bounds` brackets ``||(x - centre) / scales||_p`` (rounded
down and up) so that "x is inside" and "x is outside" are each proven, never guessed, and
:func:`inner_region` is the copy of a region's shape centred at a point that fits inside it
(triangle inequality of the weighted norm).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ..core.rounding import EPS
from .regions import WeightedLpBall


def _dual(p: float) -> float:
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1.0)


def _norm(v: np.ndarray, p: float) -> float:
    v = np.abs(v)
    if math.isinf(p):
        return float(v.max())
    if p == 1:
        return float(v.sum())
    m = float(v.max())
    if m == 0:
        return 0.0
    return m * float(((v / m) ** p).sum() ** (1.0 / p))


def region_axes(region: WeightedLpBall, dim: int) -> np.ndarray:
    """Semi-axes ``gap * scales`` as a flat array of ``dim`` entries (exact product, no rounding)."""
    s = np.broadcast_to(region.scales, (dim,)) if region.isotropic else region.scales.reshape(-1)
    if s.size != dim:
        raise ValueError(f"region has {s.size} coordinates, the input has {dim}")
    return region.gap * np.asarray(s, dtype=np.float64)


def _support(axes: np.ndarray, p: float, u: np.ndarray) -> float:
    """``h(u) = ||axes * u||_q`` (q dual to p): the support function of ``{||delta/axes||_p <= 1}``."""
    return _norm(axes * u, _dual(p))


#: Absolute error of one quotient that lands among the subnormals (half the smallest subnormal,
#: counted whole): relative margins alone miss it.
_TINY = 2.0 ** -1074


def _margin(dim: int) -> float:
    """Relative float error of a dot product / norm of ``dim`` terms (generous)."""
    return 4.0 * (dim + 8) * EPS


def separation_scale(d: np.ndarray, a: np.ndarray, p_a: float, b: np.ndarray, p_b: float,
                     u: np.ndarray) -> float:
    """Sound ``t(u) = (u.d - h_A(u)) / h_B(u)``, rounded down (may be negative: no separation).

    ``A`` has semi-axes ``a`` (centre 0), ``B`` semi-axes ``b`` (centre ``d``); for ``t`` the
    returned value, ``A`` and the copy of ``B`` scaled by ``t`` about its centre are disjoint.
    """
    m = _margin(d.size)
    tiny = 4 * (d.size + 2) * _TINY  # products that land among the subnormals
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ud = float(np.dot(u, d))
        ha = _support(a, p_a, u)
        hb = _support(b, p_b, u)
        err = m * (float(np.dot(np.abs(u), np.abs(d))) + ha) + tiny
    if not (hb > 0 and np.isfinite(ud) and np.isfinite(ha) and np.isfinite(err)):
        return -math.inf
    num = ud - ha - err
    if num <= 0:
        return num / hb
    return num / (hb * (1 + m) + tiny) * (1 - 4 * EPS)


def _best_ellipsoid_direction(d, a, b) -> np.ndarray:
    def score(mu):
        u = d / (mu * a * a + (1 - mu) * b * b)
        hb = float(np.linalg.norm(b * u))
        t = float(np.dot(u, d) - np.linalg.norm(a * u)) / hb if hb > 0 else -math.inf
        return t if math.isfinite(t) else -math.inf

    lo, hi = 0.0, 1.0
    grid = np.linspace(lo, hi, 17)
    k = int(np.argmax([score(m) for m in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, 16)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):  # golden-section refinement of a unimodal-in-practice score
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if score(m1) < score(m2):
            lo = m1
        else:
            hi = m2
    mu = 0.5 * (lo + hi)
    return d / (mu * a * a + (1 - mu) * b * b)


def _best_cross_polytope_direction(d, a, b) -> np.ndarray | None:
    """LP: maximize ``u.d - s`` s.t. ``a_i |u_i| <= s``, ``b_i |u_i| <= 1`` (u = u+ - u-)."""
    n = d.size
    # variables: u+ (n), u- (n), s (1); linprog minimizes. |u_i| <= u+_i + u-_i, tight at the optimum.
    c = np.concatenate([-d, d, [1.0]])
    da, db = sparse.diags(a), sparse.diags(b)
    rows_a = sparse.hstack([da, da, sparse.csr_matrix(-np.ones((n, 1)))])
    rows_b = sparse.hstack([db, db, sparse.csr_matrix((n, 1))])
    res = linprog(c, A_ub=sparse.vstack([rows_a, rows_b]).tocsr(),
                  b_ub=np.concatenate([np.zeros(n), np.ones(n)]),
                  bounds=[(0, None)] * (2 * n + 1), method="highs")
    if not res.success:
        return None
    return res.x[:n] - res.x[n:2 * n]


def best_separation_scale(d, a, p_a, b, p_b) -> float:
    """The largest sound ``t`` found for separating ``A`` (axes a, centre 0) from ``t``-scaled ``B``
    (axes b, centre d); ``-inf``/negative when no separating direction was found.

    ``t`` does not change when d, a, b are scaled together, so the directions are searched on a
    copy scaled by a power of two to a largest entry near 1 (no overflow in ``a * a``) and each is
    scaled (any positive multiple of a direction is as good) so that ``u.d`` stays near 1 (as far
    as ``u`` itself stays between 2^-1000 and 2^1000); the
    sound evaluation then runs on the original values.
    """
    e = math.frexp(max(float(np.abs(d).max()), float(a.max()), float(b.max())))[1]
    with np.errstate(all="ignore"):
        ds, as_, bs = np.ldexp(d, -e), np.ldexp(a, -e), np.ldexp(b, -e)
        cands = [ds, ds / (as_ * as_), ds / (bs * bs), np.sign(ds) / as_, np.sign(ds) / bs,
                 np.sign(ds) / (as_ + bs)]
        if p_a == 2 and p_b == 2:
            cands.append(_best_ellipsoid_direction(ds, as_, bs))
        elif p_a == 1 and p_b == 1:
            u = _best_cross_polytope_direction(ds, as_, bs)
            if u is not None:
                cands.append(u)
    best = -math.inf
    for u in cands:
        if np.all(np.isfinite(u)) and np.any(u != 0):
            u = np.ldexp(u, min(max(-e, -1000), 1000) - math.frexp(float(np.abs(u).max()))[1])
            best = max(best, separation_scale(d, a, p_a, b, p_b, u))
    return best


def _quotients(region: WeightedLpBall, x: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``(x - centre) / scales``; as ``x/s - centre/s`` where ``x - centre`` overflows (the
    coordinates then have opposite signs, so no cancellation)."""
    s = region.scales if region.isotropic else region.scales.reshape(-1)
    delta = x - centre
    if np.all(np.isfinite(delta)):
        return delta / s
    return x / s - centre / s


def gauge_bounds(region: WeightedLpBall, x: np.ndarray, centre: np.ndarray) -> tuple[float, float]:
    """``||(x - centre) / scales||_p`` rounded down and up: ``lo <= exact <= hi``.

    The relative margin covers the subtraction, the division and the norm; ``dim * _TINY`` the
    quotients that underflow (``hi <= gap`` proves ``x`` in the region, ``lo > gap`` proves it out).
    """
    g = _norm(_quotients(region, x, centre), region.p)
    m, tiny = _margin(x.size), (x.size + 1) * _TINY
    return max(g * (1 - m) - tiny, 0.0), g * (1 + m) + tiny


def inner_region(region: WeightedLpBall, x: np.ndarray, centre: np.ndarray) -> WeightedLpBall | None:
    """The copy of ``region``'s shape centred at ``x`` that fits inside ``region`` (centred at
    ``centre``; triangle inequality of the weighted norm); None when ``x`` is not provably strictly
    inside."""
    rest = region.gap - gauge_bounds(region, x, centre)[1]
    if not rest > 0:
        return None
    return WeightedLpBall(p=region.p, scales=region.scales, gap=rest * (1 - 4 * EPS))


__all__ = [
    "best_separation_scale",
    "gauge_bounds",
    "inner_region",
    "region_axes",
    "separation_scale",
]
