"""Pareto (power-law) noise of Yang et al. 2020 and its l1 certificate.

The family (tonyduan/rs4a ``noises.Pareto``): i.i.d. coordinates ``z_i = s_i (Y_i - lambda)``
with ``Y_i ~ Pareto(scale=lambda, alpha=a)`` and a fair random sign ``s_i``, so each coordinate
has the density

    q(z) = a / (2 lambda) (1 + |z|/lambda)^-(a + 1),        lambda > 0, a > 0.

Parameters ``lambd`` = lambda and ``tail_index`` = a (rs4a's ``a``, default 3). With
``E[(Y/lambda - 1)^2] = a/(a-2) - 2a/(a-1) + 1 = 2/((a-1)(a-2))`` the per-coordinate std is
``lambda sqrt(2/((a-1)(a-2)))`` (rs4a ``Pareto._sigma``); it exists for a > 2 only.

The certificate (binary, l1): Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized
Smoothing of All Shapes and Sizes" (ICML), differential method (their Sec. 5; the Pareto row of
their table of robust radii; rs4a ``Pareto.certify_l1``). With ``psi = -d/dz log q(z) =
(a+1)/lambda sign(z) / (1 + |z|/lambda)`` the worst l1 direction is a coordinate vector (the
inner sup is convex in v) and Neyman-Pearson puts F on the largest psi, ``z in (0, t]``; with
``u = 1/(1 + t/lambda)``: ``q = P(0 < z <= t) = (1 - u^a)/2`` and
``Phi(q) = E[F psi] = a/(2 lambda) (1 - u^(a+1)) = a/(2 lambda) (1 - (1 - 2q)^c)``, ``c = 1 + 1/a``,
symmetric in q <-> 1 - q. Hence (x = 1 - 2q)

    R = int_{1/2}^{pA} dp / Phi(p) = (lambda/a) int_0^y dx / (1 - x^c),   y = 2 pA - 1,     (P)

and, expanding ``1/(1 - x^c)`` and integrating termwise, ``int_0^y = y 2F1(1, b; b+1; y^c)`` with
``b = 1/c = a/(a+1)``: rs4a's ``lambda y/a hyp2f1(1, a/(a+1), a/(a+1)+1, y^(1+1/a))``. Not flagged
tight (the differential method is a lower bound; a = inf would be Laplace, where it is tight).

Numerics (float path): two convergent series of positive terms, truncated after
:data:`TERMS` terms (a truncated positive series is a lower bound; the tail is below 2^-47
relative), coefficients from mpmath rounded down:

* ``z = y^c <= 1/2``: ``int_0^y = y sum_k z^k / (ck + 1)``;
* ``z > 1/2``, ``w = 1 - z = -expm1(c log y)`` (no cancellation, y exact): the logarithmic case
  ``a + b = c`` of the hypergeometric connection formula (Abramowitz & Stegun 15.3.10) gives

      int_0^y = y b sum_n t_n (s_n - log w) w^n,   t_n = (b)_n / n!,  s_n = psi(n+1) - psi(b+n),

  all terms positive (``w <= 1/2``, ``s_n > 0``), which splits off the log singularity at pA -> 1.

Both polynomials have decreasing positive coefficients and argument <= 1/2, so their condition
is at most 2; Horner on positive terms loses at most 2 ulps a step. The budget (``2 TERMS`` ulps
for Horner, 8 for z or w, 8 for the log, 8 for the products) is rounded up to :data:`ULPS`.
The mpmath twin is ``mp.quad`` of (P) with the log singularity integrated in closed form.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp
import numpy as np

from ..core.rounding import MAX, shrink
from .base import GapCertificate
from .family import NoiseFamily, Param, positive_scalar, register_family
from .registry import register

#: Terms of each truncated series (argument <= 1/2, decreasing coefficients: the dropped tail is
#: below 2^-47 of the sum, far below the twin tolerance; dropping it only lowers the bound).
TERMS = 48
#: Relative rounding budget of the float path, in ulps (module docstring).
ULPS = 256
#: Digits of the coefficient tables (rounded down to doubles).
_TABLE_DPS = 40
#: The largest gap returned for pA < 1 (an overflowed quotient, the exact value above it).
_LARGEST = float(shrink(MAX, ULPS))


def tail_index(name: str, value) -> float:
    """The Pareto tail index a: a finite real > 0."""
    return positive_scalar(name, value)


@register_family
class Pareto(NoiseFamily):
    """Pareto (power-law) noise, i.i.d. density ``a/(2 lambda) (1 + |z|/lambda)^-(a+1)`` per
    coordinate (Yang et al. 2020; rs4a ``Pareto``): std ``lambda sqrt(2/((a-1)(a-2)))``, a > 2."""

    name = "pareto"
    params = (Param("lambd", "real", positive_scalar,
                    "scale lambda: density proportional to (1 + |z|/lambda)^-(a+1) (> 0)"),
              Param("tail_index", "real", tail_index,
                    "Pareto tail index a (> 0; the std exists for a > 2)", 3.0))
    scale_param = "lambd"
    law = "i.i.d. a/(2 lambda) (1 + |z_i|/lambda)^-(a+1)"
    std_formula = "lambda sqrt(2 / ((a - 1)(a - 2))), a > 2"

    @classmethod
    def unit_std(cls, params):
        a = params["tail_index"]
        if not a > 2:
            raise ValueError(f"tail_index must be > 2 for the Pareto noise to have a std, got {a!r}")
        return math.sqrt(2.0 / ((a - 1.0) * (a - 2.0)))


def _down(x) -> float:
    """A double at most ``x`` (``x`` an mpf >= 0)."""
    f = float(x)
    return float(np.nextafter(f, 0.0)) if f > 0 else 0.0


@lru_cache(maxsize=32)
def _coefficients(a: float):
    """Rounded-down coefficients, highest degree first (for Horner): ``1/(ck+1)``, ``b t_n s_n``,
    ``b t_n``."""
    with mp.workdps(_TABLE_DPS):
        c = 1 + 1 / mp.mpf(a)
        b = 1 / c
        near, far_s, far_t = [], [], []
        t = mp.mpf(1)
        for n in range(TERMS):
            near.append(_down(1 / (c * n + 1)))
            far_s.append(_down(b * t * (mp.digamma(n + 1) - mp.digamma(b + n))))
            far_t.append(_down(b * t))
            t = t * (b + n) / (n + 1)
    return tuple(np.array(v[::-1]) for v in (near, far_s, far_t))


def _horner(coef, x):
    out = np.zeros_like(x)
    for k in coef:
        out = out * x + k
    return out


def pareto_gap(p_a: np.ndarray, a: float) -> np.ndarray:
    """A provable lower bound of ``(1/a) int_0^y dx / (1 - x^c)``, y = 2 pA - 1 (Eq. (P))."""
    near, far_s, far_t = _coefficients(a)
    c = 1.0 + 1.0 / a
    y = np.where(p_a > 0.5, 2.0 * p_a - 1.0, 0.0)  # exact (Sterbenz) for pA > 1/2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        x = c * np.log(np.where(y > 0, y, 1.0))
        z = np.exp(x)
        series = np.empty_like(z)
        lo = z <= 0.5
        series[lo] = _horner(near, z[lo])
        w = -np.expm1(x[~lo])
        series[~lo] = _horner(far_s, w) - np.log(w) * _horner(far_t, w)
        val = shrink(y * series / a, ULPS)
    # y < 1 has a finite radius: a quotient that overflowed (a tiny, e.g. subnormal) stands for
    # an exact value of at least MAX (1 - ULPS eps), never inf
    val = np.where(y >= 1.0, np.inf, np.minimum(val, _LARGEST))
    return np.where(y > 0, val, 0.0)


def pareto_gap_mp(p_a, a):
    """Eq. (P) in mpmath: ``-log(1 - y)/c`` (the singular part ``1/(c (1 - x))`` integrated) plus
    ``mp.quad`` of the bounded rest ``1/(1 - x^c) - 1/(c (1 - x))``; all divided by a."""
    y = 2 * p_a - 1
    if y <= 0:
        return mp.mpf(0)
    if y == 1:
        return mp.inf
    a = mp.mpf(a)
    c = 1 + 1 / a

    def rest(x):
        if x == 1:
            return (c - 1) / (2 * c)
        return 1 / (1 - x**c) - 1 / (c * (1 - x))

    # 1 - x^c and the difference cancel near x = 1: up to log10(1/(1 - y)) digits each
    extra = int(mp.ceil(-mp.log10(1 - y))) + 2
    with mp.workdps(mp.mp.dps + extra):
        smooth = mp.quad(rest, [0, y])
    return (-mp.log(1 - y) / c + smooth) / a


@register
class YangParetoL1(GapCertificate):
    """Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes" (ICML), differential
    method, Pareto noise, l1, binary (module docstring, Eq. (P)):
    ``R = (lambda/a) int_0^{2pA-1} dx / (1 - x^(1+1/a)) = lambda y/a 2F1(1, b; b+1; y^(1+1/a))``,
    ``b = a/(a+1)`` (rs4a ``Pareto.certify_l1``). pA = 1 gives inf. Not flagged tight."""

    name = "yang-pareto-l1"
    family = "pareto"
    norm = "l1"
    region_p = 1.0
    tight = False
    binary_only = True
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), "
                "differential method, Pareto noise, l1 (rs4a Pareto.certify_l1)")
    formula = ("R = (lambda/a) int_0^{2pA-1} dx / (1 - x^(1+1/a)) "
               "= lambda y/a 2F1(1, a/(a+1); a/(a+1)+1; y^(1+1/a)), y = 2pA - 1")

    def __init__(self, lambd, tail_index=3.0):
        self._params = Pareto.validate({"lambd": lambd, "tail_index": tail_index})
        self._scales = np.asarray(self._params["lambd"])

    def _gap(self, p_a, p_b):
        return pareto_gap(p_a, self._params["tail_index"])

    def _gap_mp(self, p_a, p_b):
        return pareto_gap_mp(p_a, self._params["tail_index"])
