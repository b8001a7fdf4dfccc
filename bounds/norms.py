"""Norm conversion: an l_p certificate as an l_q one, with the dimension factor, rounded down.

For v in R^d and 1 <= p <= q <= inf (Hoelder's inequality, and ``|v_i| <= ||v||_q``):

    ||v||_q <= ||v||_p <= d^(1/p - 1/q) ||v||_q.

So the l_p ball of radius R contains the l_q ball of radius

    rho = R * min(1, d^(1/q - 1/p))                                                  (*)

(q >= p: ``||v||_p <= d^(1/p-1/q) ||v||_q <= R``; q < p: ``||v||_p <= ||v||_q <= R``), and no
larger l_q ball: for q >= p the all-equal vector ``rho d^(-1/q) (1, ..., 1)`` has l_q norm rho
and l_p norm exactly ``rho d^(1/p - 1/q) = R``; for q < p the axis vector ``rho e_1`` has both
norms rho. This is the conversion Yang et al. 2020 ("Randomized Smoothing of All Shapes and
Sizes", Sec. 2 and their code's ``_certify_lp_convert``) apply to turn an l1 or l2 radius into an
l_inf one: the l1 radius R gives ``R / d`` in l_inf, the l2 radius ``R / sqrt(d)``.

Numerics: the exponent ``e = 1/q - 1/p`` is exact for p, q in {1, 2, inf} and otherwise off by at
most 3 * 2^-53 (two reciprocals and a difference, each of magnitude <= 1); that moves
``d^e = exp(e ln d)`` by a relative ``3 * 2^-53 ln d`` plus pow's own rounding (< 1 ulp), so the
factor is shrunk by ``8 + 2 ceil(ln d)`` ulps and the product ``R * factor`` by 2 more.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ..core.checks import as_float_array, check_int
from ..core.rounding import shrink

_NAMES = {"l1": 1.0, "l2": 2.0, "linf": math.inf}


def norm_exponent(name: str, norm) -> float:
    """The exponent p >= 1 of an l_p norm given as ``"l1"``, ``"l2"``, ``"linf"`` or a number."""
    if isinstance(norm, str):
        if norm in _NAMES:
            return _NAMES[norm]
        raise ValueError(f"{name} must be 'l1', 'l2', 'linf' or a number >= 1, got {norm!r}")
    if isinstance(norm, bool) or not isinstance(norm, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be 'l1', 'l2', 'linf' or a number >= 1, got {norm!r}")
    p = float(norm)
    if not p >= 1.0:  # also NaN
        raise ValueError(f"{name} must be >= 1 (an l_p norm), got {norm!r}")
    return p


def _exponent(p: float, q: float) -> float:
    """``1/q - 1/p`` in float (1/inf = 0)."""
    return (0.0 if math.isinf(q) else 1.0 / q) - (0.0 if math.isinf(p) else 1.0 / p)


def conversion_factor(p, q, dim) -> float:
    """A lower bound of ``min(1, d^(1/q - 1/p))``: the l_q radius per unit of l_p radius (*)."""
    p, q = norm_exponent("p", p), norm_exponent("q", q)
    d = check_int("dim", dim, minimum=1)
    e = _exponent(p, q)
    if e >= 0.0 or d == 1:
        return 1.0
    return float(shrink(math.pow(d, e), 8 + 2 * math.ceil(math.log(d))))


def conversion_factor_mp(p, q, dim):
    """``min(1, d^(1/q - 1/p))`` in mpmath at the current precision (the twin)."""
    p, q = norm_exponent("p", p), norm_exponent("q", q)
    d = check_int("dim", dim, minimum=1)
    inv = lambda x: mp.mpf(0) if math.isinf(x) else 1 / mp.mpf(x)  # noqa: E731
    return min(mp.mpf(1), mp.mpf(d) ** (inv(q) - inv(p)))


def convert_radius(radius, p, q, dim):
    """The radius of an l_q ball inside the l_p ball of radius ``radius`` in R^dim, rounded down
    (never above ``radius * min(1, d^(1/q - 1/p))``); vectorized over ``radius`` (>= 0, inf
    allowed: inf stays inf)."""
    r = as_float_array("radius", radius)
    if np.isnan(r).any() or (r < 0).any():
        raise ValueError(f"radius must be >= 0 (no NaN), got {radius!r}")
    f = conversion_factor(p, q, dim)
    out = r if f == 1.0 else shrink(r * f, 2)
    return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=float)


def convert_radius_mp(radius, p, q, dim):
    """The exact converted radius ``radius * min(1, d^(1/q - 1/p))`` in mpmath."""
    return mp.mpf(radius) * conversion_factor_mp(p, q, dim)


def radius_in_norm(cert, norm, p_a, p_b=None, dim=None):
    """``cert``'s certified radius as a radius in ``norm`` (Eq. (*)), rounded down.

    ``dim`` is the input dimension; certificates whose family declares ``dim`` (Zhang et al., the
    uniform l2 ball) supply it themselves. Vectorized like ``cert.radius``.
    """
    own = cert.params.get("dim")
    if dim is None:
        if own is None:
            raise ValueError(f"dim is needed to convert {cert.name}'s {cert.norm} radius to {norm!r}")
        dim = own
    elif own is not None and check_int("dim", dim, minimum=1) != int(own):
        raise ValueError(f"dim={dim!r} differs from the certificate's own dim={own!r}")
    return convert_radius(cert.radius(p_a, p_b), cert.norm, norm, dim)


__all__ = ["conversion_factor", "conversion_factor_mp", "convert_radius", "convert_radius_mp",
           "norm_exponent", "radius_in_norm"]
