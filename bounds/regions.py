"""Certified regions: axis-aligned weighted l_p balls around the input.

Every region in the catalog is ``{delta : ||delta / a||_p <= 1}`` with semi-axes
``a_i = gap * scale_i``:

* p = 2 -- the ellipsoid of ARS Thm 4.2 (their Eq. 30) and ANCER Cor. 1;
* p = 1 -- the generalized cross-polytope of ANCER Cor. 2 and ARS Thm 7.1;
* equal scales -- the plain l_p ball of the isotropic theorems; p = inf gives a box.

Volume (Wang 2005, "Volumes of generalized unit balls"): ``vol = prod(2 a_i Gamma(1 + 1/p)) /
Gamma(1 + d/p)``; p = 2 gives ``pi^(d/2)/Gamma(d/2 + 1) prod a_i``, p = 1 gives ``2^d prod a_i / d!``
(ANCER Prop. 4). The proxy radius (ANCER Sec. 5.1) is the radius of the l_p ball of equal volume,
``(prod a_i)^(1/d)``; the enclosed radius is the largest l_p ball inside, ``min a_i``.

Comparison follows ANCER Definition 1: ``r1 >= r2`` means r1 contains r2 (certifies a superset).
For diagonal maps the inclusion is exact: ``{||u/b||_q <= 1} subset {||u/a||_p <= 1}`` iff the
l_q -> l_p operator norm of ``diag(b/a)`` is <= 1, which is ``max(b/a)`` when p >= q and
``||b/a||_r`` with ``1/r = 1/p - 1/q`` when p < q. Isotropic regions (scalar scale) may carry
an optional ``dim``; comparing two isotropic balls with p < q needs it (an l2 ball of radius r
fits in the l1 ball of radius r sqrt(d), so the answer depends on d).

Every reported number is a promise in the safe direction: ``contains`` answers True only when
the float error of the norm cannot change the answer; ``log_volume``, ``proxy_radius`` and
``enclosed_radius`` are lower bounds of the exact values (the constant terms are evaluated in
mpmath, the sums of logs with ``math.fsum``, and an explicit error budget is subtracted);
``includes`` is decided exactly (rational arithmetic where the float comparison is too close to
call) for p >= q and with an explicit margin for p < q.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np

from ..core.checks import as_float_array, check_finite, check_int, check_positive
from ..core.rounding import EPS, MAX

#: Error budget (ulps) of one evaluation of numpy's / libm's log or exp (a few ulps in practice).
_LOG_ULPS = 8


def _check_p(p) -> float:
    if isinstance(p, (str, bytes, bool)) or p is None:
        raise TypeError(f"p must be a number >= 1 or inf, got {p!r}")
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"p must be a number >= 1 or inf, got {p!r}") from None
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (a norm), got {p!r}")
    return p


def _pnorm(x: np.ndarray, p: float, axis=-1) -> np.ndarray:
    """``||x||_p`` along ``axis``; for general p scaled by the max entry (no overflow)."""
    x = np.abs(x)
    if math.isinf(p):
        return x.max(axis=axis)
    if p == 1:
        return x.sum(axis=axis)
    if p == 2:
        m = x.max(axis=axis, keepdims=True)
        m = np.where(m > 0, m, 1.0)
        return np.squeeze(m, axis=axis) * np.sqrt(((x / m) ** 2).sum(axis=axis))
    m = x.max(axis=axis, keepdims=True)
    m = np.where(m > 0, m, 1.0)
    return np.squeeze(m, axis=axis) * ((x / m) ** p).sum(axis=axis) ** (1.0 / p)


def _pnorm_ulps(n: int, p: float) -> float:
    """Relative error budget (ulps) of ``_pnorm`` over n terms, after one division per term.

    Division 1/2, scaling by the max 1/2 each way, x^p at most p/2 + 1, the sum of n non-negative
    terms n - 1, the 1/p-th root (1/p of the sum's error) + 1, the final product 1/2."""
    if math.isinf(p):
        return 2.0
    return 2.0 * (n + p + 8)


def _lower(x: float, abs_err: float) -> float:
    """The float just below ``x - abs_err``."""
    return float(np.nextafter(x - abs_err, -np.inf))


def _split(x) -> tuple[np.ndarray, np.ndarray]:
    """``x = m 2^e`` (``frexp``: exact, |m| in [1/2, 1) or 0), exponents as int64."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    return m, e.astype(np.int64)


def _scaled_pnorm(m: np.ndarray, e: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """``||y||_p`` along the last axis for ``y_i = m_i 2^e_i``, as ``(N, E)`` with the norm
    ``N 2^E`` and no overflow or underflow on the way: each entry is shifted by the largest
    exponent E (exact, or off by 2^-1075 for a term far below the largest, which is at least
    1/4 in magnitude: below an ulp of N), then :func:`_pnorm`. N = 0 where y = 0."""
    live = m != 0
    top = np.where(live, e, np.iinfo(np.int64).min // 2).max(axis=-1)
    top = np.where(live.any(axis=-1), top, 0)
    shift = np.maximum(e - top[..., None], -4000).astype(np.int32)
    with np.errstate(under="ignore"):
        y = np.where(live, np.ldexp(m, shift), 0.0)
        return _pnorm(y, p), top


def _leq(n: np.ndarray, e: np.ndarray, bound: float) -> np.ndarray:
    """Exactly ``n 2^e <= bound`` for finite ``n >= 0`` and ``bound`` in [0, inf]."""
    if math.isinf(bound):
        return np.ones(np.shape(n), dtype=bool)
    mn, en = _split(n)
    mb, eb = _split(bound)
    en = en + e
    return (mn == 0) | ((mb > 0) & ((en < eb) | ((en == eb) & (mn <= mb))))


class Region:
    """Interface of a certified region (see :class:`WeightedLpBall`)."""

    gap: float

    def contains(self, delta) -> np.ndarray | bool:
        raise NotImplementedError

    def log_volume(self, dim: int | None = None) -> float:
        raise NotImplementedError

    def proxy_radius(self, dim: int | None = None) -> float:
        raise NotImplementedError

    def enclosed_radius(self) -> float:
        raise NotImplementedError

    def includes(self, other: "Region") -> bool:
        raise NotImplementedError

    def __ge__(self, other):
        return self.includes(other)

    def __le__(self, other):
        return other.includes(self)

    def __gt__(self, other):
        return self.includes(other) and not other.includes(self)

    def __lt__(self, other):
        return other.includes(self) and not self.includes(other)


class WeightedLpBall(Region):
    """``{delta : ||delta / scales||_p <= gap}`` (semi-axes ``gap * scales``).

    ``scales`` may be a scalar (an isotropic ball; ``dim`` is then optional and, when given, fixes
    the number of coordinates) or an array with one entry per coordinate (any shape; ``contains``
    takes perturbations of that shape, optionally batched in front). An isotropic ``contains``
    reads the last axis of ``delta`` as the coordinates. ``gap`` may be ``inf`` (everything is
    certified).
    """

    def __init__(self, p, scales, gap, dim=None):
        self.p = _check_p(p)
        scales = check_positive("scales", scales)
        self.shape = scales.shape
        self.scales = scales
        g = as_float_array("gap", gap)
        if g.ndim != 0 or np.isnan(g) or not (g >= 0):
            raise ValueError(f"gap must be a scalar >= 0, got {gap!r}")
        self.gap = float(g)
        if dim is not None:
            dim = check_int("dim", dim, minimum=1)
            if scales.ndim != 0 and dim != scales.size:
                raise ValueError(f"dim={dim} does not match the {scales.size} entries of scales")
        self._dim_given = dim

    # ---------------------------------------------------------------------------------------
    @property
    def isotropic(self) -> bool:
        return self.scales.ndim == 0

    @property
    def dim(self) -> int | None:
        """Number of coordinates, or None for an isotropic region built without ``dim``."""
        return self._dim_given if self.isotropic else int(self.scales.size)

    def _dim(self, dim):
        if dim is None:
            if self.dim is None:
                raise ValueError("dim is required for an isotropic region built without dim")
            return self.dim
        dim = check_int("dim", dim, minimum=1)
        if self.dim is not None and dim != self.dim:
            raise ValueError(f"dim={dim} does not match the region's {self.dim} coordinates")
        return dim

    def _log_scales(self, d: int):
        """``(sum_i log s_i, absolute error bound)``: fsum of numpy logs (8 ulps each)."""
        if self.isotropic:
            ls = mp.log(mp.mpf(float(self.scales))) * d
            return ls, mp.mpf(0)
        logs = np.log(self.scales.reshape(-1))
        s = math.fsum(logs.tolist())
        err = _LOG_ULPS * EPS * math.fsum(np.abs(logs).tolist()) + EPS * abs(s)
        return mp.mpf(s), mp.mpf(err)

    def axes(self) -> np.ndarray:
        """Semi-axes ``gap * scales`` (rounded down: the region is never overstated; the largest
        double where the exact axis exceeds it, ``inf`` only for an infinite gap)."""
        return _times_down(self.gap, self.scales)

    def __repr__(self):
        s = self.scales if self.isotropic else f"<array {self.shape}>"
        extra = f", dim={self._dim_given}" if self.isotropic and self._dim_given else ""
        return f"WeightedLpBall(p={self.p}, scales={s}, gap={self.gap!r}{extra})"

    # ---------------------------------------------------------------------------------------
    def _scaled_norm(self, delta):
        """``||delta / scales||_p`` as ``(N, E, n)``: the norm is ``N 2^E`` (see
        :func:`_scaled_pnorm`) and n the number of coordinates. The ratios are taken on the
        ``frexp`` mantissas (one rounding, values in (1/2, 2)) and the exponents are subtracted
        exactly, so a tiny perturbation over a huge scale never underflows to 0 and a huge one
        over a tiny scale never overflows."""
        d = as_float_array("delta", delta)
        check_finite("delta", d, delta)
        if self.isotropic:
            if d.ndim == 0:
                raise ValueError("delta must have at least one coordinate")
            if self.dim is not None and d.shape[-1] != self.dim:
                raise ValueError(f"delta must have {self.dim} coordinates on its last axis, got {d.shape}")
            s = self.scales
        else:
            if d.shape[d.ndim - len(self.shape):] != self.shape or d.ndim < len(self.shape):
                raise ValueError(f"delta must end with the region's shape {self.shape}, got {d.shape}")
            d = d.reshape(d.shape[: d.ndim - len(self.shape)] + (self.scales.size,))
            s = self.scales.reshape(-1)
        md, ed = _split(d)
        ms, es = _split(s)
        nrm, top = _scaled_pnorm(md / ms, ed - es, self.p)
        return nrm, top, d.shape[-1]

    def norm_of(self, delta) -> np.ndarray:
        """``||delta / scales||_p`` for one perturbation or a batch (leading axes); ``inf`` where
        it exceeds the largest double."""
        nrm, top, _ = self._scaled_norm(delta)
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(nrm, np.clip(top, -4000, 4000).astype(np.int32))

    def contains(self, delta):
        """Whether ``x + delta`` is certified: ``||delta/scales||_p <= gap``, with the float
        error of the norm (:func:`_pnorm_ulps`) taken against the point, so a True is a promise.
        The norm is kept as mantissa and exponent and compared with ``gap`` exactly (a subnormal
        or zero gap, a huge scale or a tiny point cannot round the answer to inside)."""
        nrm, top, n = self._scaled_norm(delta)
        slack = _pnorm_ulps(n, self.p) * EPS
        res = _leq(nrm * (1 + slack), top, self.gap)
        return bool(res) if np.ndim(res) == 0 else res

    def log_volume(self, dim: int | None = None) -> float:
        """Lower bound of the natural log of the volume (Wang 2005; ANCER Prop. 4 for p = 1):
        ``d (log 2 + lgamma(1 + 1/p)) - lgamma(1 + d/p) + d log gap + sum_i log s_i``.

        The constant terms are evaluated in mpmath, the sum of logs with ``math.fsum``; the error
        budget of the logs and of the final rounding is subtracted. Stable in any dimension."""
        d = self._dim(dim)
        if self.gap == 0:
            return -math.inf
        if math.isinf(self.gap):
            return math.inf
        with mp.workdps(30):
            const = d * mp.log(2) + d * mp.log(mp.mpf(self.gap))
            if not math.isinf(self.p):
                inv = 1 / mp.mpf(self.p)
                const += d * mp.loggamma(1 + inv) - mp.loggamma(1 + d * inv)
            ls, err = self._log_scales(d)
            total = const + ls
            margin = err + 4 * EPS * (abs(const) + abs(total)) + mp.mpf(2) ** -1060
            return _lower(float(total), float(margin))

    def proxy_radius(self, dim: int | None = None) -> float:
        """Lower bound of the radius of the l_p ball with the same volume (ANCER Sec. 5.1):
        ``gap * (prod scales)^(1/d)``."""
        d = self._dim(dim)
        if self.gap == 0 or math.isinf(self.gap):
            return self.gap
        with mp.workdps(30):
            ls, err = self._log_scales(d)
            val = mp.mpf(self.gap) * mp.exp(ls / d)
            rel = err / d + 4 * EPS
            return min(float(np.nextafter(float(val * (1 - rel)), 0.0)), MAX)

    def enclosed_radius(self) -> float:
        """Radius of the largest l_p ball (same p) inside the region: ``gap * min(scales)``,
        rounded down (see :func:`_times_down`)."""
        return float(_times_down(self.gap, float(np.min(self.scales))))

    # ---------------------------------------------------------------------------------------
    def _common_dim(self, other: "WeightedLpBall"):
        """The coordinate count shared by both regions (None if neither knows it)."""
        if not self.isotropic and not other.isotropic and self.shape != other.shape:
            raise ValueError(f"regions have different shapes {self.shape} and {other.shape}")
        dims = {x for x in (self.dim, other.dim) if x is not None}
        if len(dims) > 1:
            raise ValueError(f"regions have different dimensions {sorted(dims)}")
        return dims.pop() if dims else None

    def _flat_scales(self, n: int) -> np.ndarray:
        return np.full(n, float(self.scales)) if self.isotropic else self.scales.reshape(-1)

    def includes(self, other: Region) -> bool:
        """ANCER Definition 1: True iff every point of ``other`` lies in this region.

        p >= q: ``other.gap * other.scales_i <= self.gap * self.scales_i`` for every i, decided
        exactly. p < q: ``||b/a||_r <= 1`` (1/r = 1/p - 1/q) with the float error budget of the
        ratios and the norm added, so True is a promise (a False may be conservative only when
        the two regions touch within that budget). Two isotropic regions with p < q need ``dim``."""
        if not isinstance(other, WeightedLpBall):
            raise TypeError(f"can only compare with a WeightedLpBall, got {type(other).__name__}")
        n = self._common_dim(other)
        if other.gap == 0 or math.isinf(self.gap):
            return True
        if self.gap == 0 or math.isinf(other.gap):
            return False
        if self.p >= other.p:
            if self.isotropic and other.isotropic:
                return _all_leq_exact(other.gap, np.array([float(other.scales)]),
                                      self.gap, np.array([float(self.scales)]))
            n = n if n is not None else (self.dim or other.dim)
            return _all_leq_exact(other.gap, other._flat_scales(n), self.gap, self._flat_scales(n))
        if n is None:
            raise ValueError(
                "comparing isotropic regions with different p needs the dimension: build them "
                "with dim=..."
            )
        # w_i = (gb sb_i) / (ga sa_i) as mantissa (three roundings) and exact exponent: no ratio
        # can underflow to 0 or overflow
        (mgb, egb), (mga, ega) = _split(other.gap), _split(self.gap)
        (msb, esb), (msa, esa) = _split(other._flat_scales(n)), _split(self._flat_scales(n))
        r = 1.0 / (1.0 / self.p - (0.0 if math.isinf(other.p) else 1.0 / other.p))
        op, top = _scaled_pnorm((mgb * msb) / (mga * msa), egb + esb - ega - esa, r)
        return bool(_leq(op * (1 + (_pnorm_ulps(n, r) + 4 * r + 8) * EPS), top, 1.0))


def _times_down(gap: float, scales) -> np.ndarray:
    """A lower bound of ``gap * scales``: the product rounded (1/2 ulp, or 2^-1075 absolute when
    subnormal), times ``1 - 2 EPS`` and one step towards 0 (which covers the subnormal case).
    A finite product that overflows is above every double: the largest double is returned."""
    if math.isinf(gap):
        return np.full(np.shape(scales), math.inf)
    with np.errstate(over="ignore"):
        r = np.nextafter(gap * np.asarray(scales, dtype=np.float64) * (1 - 2 * EPS), 0.0)
    return np.where(np.isinf(r), MAX, r)


def _all_leq_exact(gb: float, sb: np.ndarray, ga: float, sa: np.ndarray) -> bool:
    """Exactly ``all(gb * sb_i <= ga * sa_i)``: floats decide where the two sides differ by more
    than their rounding (1/2 ulp each), rational arithmetic decides the rest."""
    lhs, rhs = gb * sb, ga * sa
    tiny = np.finfo(float).tiny * 2**60
    clear_no = (lhs > rhs * (1 + 4 * EPS)) & (rhs > tiny)
    if clear_no.any():
        return False
    undecided = ~(lhs < rhs * (1 - 4 * EPS)) | (lhs <= tiny) | (rhs <= tiny)
    fa, fb = Fraction(ga), Fraction(gb)
    return all(fb * Fraction(float(sb[i])) <= fa * Fraction(float(sa[i]))
               for i in np.flatnonzero(undecided))


def lp_ball(p, radius, dim=None) -> WeightedLpBall:
    """The plain l_p ball ``{||delta||_p <= radius}`` (isotropic region; ``dim`` optional)."""
    return WeightedLpBall(p=p, scales=1.0, gap=radius, dim=dim)
