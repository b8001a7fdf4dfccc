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
``||b/a||_r`` with ``1/r = 1/p - 1/q`` when p < q.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ..estimators.checks import as_float_array, check_positive
from ..estimators.rounding import EPS


def _check_p(p) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"p must be a number >= 1 or inf, got {p!r}") from None
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (a norm), got {p!r}")
    return p


def _pnorm(x: np.ndarray, p: float, axis=-1) -> np.ndarray:
    x = np.abs(x)
    if math.isinf(p):
        return x.max(axis=axis)
    if p == 1:
        return x.sum(axis=axis)
    if p == 2:
        return np.sqrt((x * x).sum(axis=axis))
    m = x.max(axis=axis, keepdims=True)
    m = np.where(m > 0, m, 1.0)
    return np.squeeze(m, axis=axis) * ((x / m) ** p).sum(axis=axis) ** (1.0 / p)


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

    ``scales`` may be a scalar (an isotropic ball in any dimension; then ``log_volume`` and
    ``proxy_radius`` need ``dim``) or an array with one entry per coordinate (any shape; it is
    flattened, and ``contains`` takes perturbations of that shape, optionally batched in front).
    """

    def __init__(self, p, scales, gap):
        self.p = _check_p(p)
        scales = check_positive("scales", scales)
        self.shape = scales.shape
        self.scales = scales
        g = as_float_array("gap", gap)
        if g.ndim != 0 or not (g >= 0) or np.isnan(g):
            raise ValueError(f"gap must be a scalar >= 0, got {gap!r}")
        self.gap = float(g)

    # ---------------------------------------------------------------------------------------
    @property
    def isotropic(self) -> bool:
        return self.scales.ndim == 0

    @property
    def dim(self) -> int | None:
        return None if self.isotropic else int(self.scales.size)

    def _dim(self, dim):
        if self.isotropic:
            if dim is None:
                raise ValueError("dim is required for an isotropic region (scales is a scalar)")
            return int(dim)
        if dim is not None and int(dim) != self.scales.size:
            raise ValueError(f"dim={dim} does not match the region's {self.scales.size} coordinates")
        return int(self.scales.size)

    def axes(self) -> np.ndarray:
        """Semi-axes ``gap * scales`` (rounded down: the region is never overstated)."""
        return self.gap * self.scales * (1 - 2 * EPS)

    def __repr__(self):
        s = self.scales if self.isotropic else f"<array {self.shape}>"
        return f"WeightedLpBall(p={self.p}, scales={s}, gap={self.gap!r})"

    # ---------------------------------------------------------------------------------------
    def norm_of(self, delta) -> np.ndarray:
        """``||delta / scales||_p`` for one perturbation or a batch (leading axes)."""
        d = as_float_array("delta", delta)
        if self.isotropic:
            if d.ndim == 0:
                raise ValueError("delta must have at least one coordinate")
            flat = d.reshape(d.shape[:-1] + (-1,)) if d.ndim > 1 else d.reshape(1, -1)
            out = _pnorm(flat / self.scales, self.p)
            return out if d.ndim > 1 else out[0]
        n = self.scales.size
        if d.size % n or d.shape[d.ndim - len(self.shape):] != self.shape:
            raise ValueError(f"delta must end with the region's shape {self.shape}, got {d.shape}")
        batch = d.shape[: d.ndim - len(self.shape)]
        out = _pnorm(d.reshape(batch + (n,)) / self.scales.reshape(-1), self.p)
        return out

    def contains(self, delta):
        """Whether ``x + delta`` is certified: ``||delta/scales||_p <= gap``, with the float
        error of the norm (a sum of d terms) taken against the point, so a True is a promise."""
        n = self.norm_of(delta)
        d = self.scales.size if not self.isotropic else np.shape(delta)[-1]
        slack = (d + 8) * EPS
        res = n * (1 + slack) <= self.gap
        return bool(res) if np.ndim(res) == 0 else res

    def log_volume(self, dim: int | None = None) -> float:
        """Natural log of the volume, stable in any dimension (computed from logs and lgamma)."""
        d = self._dim(dim)
        if self.gap == 0:
            return -math.inf
        log_axes = (
            d * math.log(self.gap) + d * math.log(float(self.scales))
            if self.isotropic
            else d * math.log(self.gap) + float(np.log(self.scales).sum())
        )
        if math.isinf(self.p):
            return d * math.log(2.0) + log_axes
        inv = 1.0 / self.p
        return float(d * (math.log(2.0) + gammaln(1 + inv)) - gammaln(1 + d * inv) + log_axes)

    def proxy_radius(self, dim: int | None = None) -> float:
        """Radius of the l_p ball with the same volume: ``gap * (prod scales)^(1/d)``."""
        d = self._dim(dim)
        if self.isotropic:
            return self.gap * float(self.scales)
        return float(self.gap * np.exp(np.log(self.scales).mean()) * (1 - 4 * d * EPS))

    def enclosed_radius(self) -> float:
        """Radius of the largest l_p ball (same p) inside the region: ``gap * min(scales)``."""
        return float(self.gap * np.min(self.scales) * (1 - 2 * EPS))

    def includes(self, other: Region) -> bool:
        """ANCER Definition 1: True iff every point of ``other`` lies in this region."""
        if not isinstance(other, WeightedLpBall):
            raise TypeError(f"can only compare with a WeightedLpBall, got {type(other).__name__}")
        if other.gap == 0:
            return True
        if self.gap == 0:
            return False
        if self.isotropic != other.isotropic and not (self.isotropic or other.isotropic):
            raise ValueError("regions have different dimensions")
        a = self.gap * np.broadcast_to(self.scales, other.scales.shape) if self.isotropic else (
            self.gap * self.scales)
        b = other.gap * np.broadcast_to(other.scales, a.shape)
        if a.shape != b.shape:
            raise ValueError(f"regions have different shapes {a.shape} and {b.shape}")
        w = (b / a).reshape(-1)
        p, q = self.p, other.p
        if p >= q:
            op = float(w.max())
        else:
            r = 1.0 / (1.0 / p - (0.0 if math.isinf(q) else 1.0 / q))
            op = float(_pnorm(w, r))
        return op <= 1.0


def lp_ball(p, radius) -> WeightedLpBall:
    """The plain l_p ball ``{||delta||_p <= radius}`` (isotropic region, any dimension)."""
    return WeightedLpBall(p=p, scales=1.0, gap=radius)
