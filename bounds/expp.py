"""Yang et al. 2020's product family Expp (i.i.d. generalized normal coordinates) and its exact
l1 certificate.

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), the differential method (their Sec. 3) and their code (tonyduan/rs4a,
``noises.Expp``): density

    q(z)  proportional to  exp(-sum_i |z_i / lambda|^p),      p = exp_power > 0,

so ``|z_i / lambda|^p ~ Gamma(1/p)`` with a fair sign, per-coordinate std
``lambda sqrt(Gamma(3/p) / Gamma(1/p))`` (rs4a ``Expp._sigma``).

The l1 radius. ``psi = -log q`` is a sum over coordinates, so at the vertex ``e_1`` of the l1 ball
(where the convex sup of the differential method is largest) only the law of z_1 enters: it is the
one-dimensional Exp1 of :mod:`.exp1` with ``a = 1/p``, ``b = 1``, ``k = p``, and
``R = lambda (h(pA) - h(pB)) / 2`` with ``h(p) = +-G(.)`` as there (binary ``lambda G(1 - pA)``).

* p >= 1: ``Phi(t) = p e^(-u_t) / (2 Gamma(1/p))``, ``2t = Q_{1/p}(u_t)``, and
  ``G(t) = (1/p) int_0^{u_t} u^(1/p - 1) du = u_t^(1/p)``:
  ``R = lambda Q_{1/p}^-1(2 (1 - pA))^(1/p) = lambda GammaQuantile_{1/p}(2 pA - 1)^(1/p)``
  (rs4a ``Expp.certify_l1``), the quantile of |z_1|: the shift along e_1 against the half-space
  ``{z_1 <= t}`` attains it (monotone likelihood ratio for p >= 1), so it is tight there. The
  quantile is bracketed and checked with the CDF (:func:`.exp1.node_quantile_bracket`).
* p = 1: Laplace, ``G(t) = log(1/(2t))``.
* p < 1: ``G(t) = int_{c_t}^inf dc / (e^(c^p) - 1)``, ``c_t = P_{1/p}^-1(2t)^(1/p)`` (rs4a
  ``Expp._integrand_l1``); for p = 1/2 this is rs4a's dilogarithm ``2 (-s log(1 - e^-s) +
  Li_2(e^-s))``, ``s = P_2^-1(2 (1 - pA))``. Bounded as pA -> 1 (``Gamma(1 + 1/p) zeta(1/p)``).
  By the table of :class:`.exp1.DifferentialL1` (proven error bound), not rs4a's interpolated
  table. Not tight (a lower bound).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from ..core.rounding import grow, shrink
from .base import GapCertificate
from .exp1 import (_mp_quantile, g_mp, laplace_signed_gap, node_quantile_bracket, signed_gap,
                   signed_gap_mp, table_signed_gap)
from .exp2 import gamma_ratio, positive_exponent
from .family import NoiseFamily, Param, positive_scalar, register_family
from .registry import register


@register_family
class ExppFamily(NoiseFamily):
    """Yang et al. 2020 (rs4a ``Expp``): i.i.d. coordinates with density proportional to
    ``exp(-|z_i/lambda|^p)``, p = exp_power: ``|z_i/lambda|^p ~ Gamma(1/p)`` with a fair sign."""

    name = "expp"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of exp(-|z_i/lambda|^p) (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of exp(-sum_i |z_i/lambda|^p) (> 0; rs4a p)", 0.5))
    scale_param = "lambd"
    law = "i.i.d. density proportional to exp(-|z_i / lambda|^p), p = exp_power (Yang et al. 2020, rs4a Expp)"
    std_formula = "lambda sqrt(Gamma(3/p) / Gamma(1/p))"

    @classmethod
    def unit_std(cls, params):
        return float(np.sqrt(gamma_ratio(1, params["exp_power"], 0.0)))


def quantile_g_bounds(p: float, t):
    """``(lo, hi)`` around ``G(t) = u_t^(1/p)``, ``2t = Q_{1/p}(u_t)`` (p > 1), from the
    bracketed Gamma quantile; the power rounds each side outward."""
    lo, hi = node_quantile_bracket(1.0 / p, t, upper_tail=True)
    with np.errstate(all="ignore"):
        return shrink(np.power(lo, 1.0 / p), 4), grow(np.power(hi, 1.0 / p), 4)


@register
class YangExppL1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), Expp noise, l1
    adversary: ``R = lambda (h(pA) - h(pB)) / 2`` (module docstring); p >= 1:
    ``h(p) = sign(p - 1/2) GammaQuantile_{1/p}(|2p - 1|)^(1/p)`` (rs4a Expp.certify_l1; tight);
    p < 1: the differential-method integral with a proven error bound (rs4a: a table). Flagged
    not tight because p < 1 is not."""

    name = "yang-expp-l1"
    family = "expp"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    expensive = True          # the twin integrates (p < 1) or solves a Gamma quantile in mpmath
    twin_rtol = 1e-9
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method (Sec. 3), Expp noise, l1 (rs4a Expp.certify_l1)")
    formula = ("R = lambda (h(pA) - h(pB))/2; p >= 1: h(p) = sign(p - 1/2) Q_{1/p}^-1(1 - |2p - 1|)^(1/p); "
               "p < 1: h(p) = int_{1/2}^p dq/Phi(q), Phi(q) = p P_1(P_{1/p}^-1(2q)) / (2 Gamma(1/p))")

    def __init__(self, lambd, exp_power=0.5):
        self._params = ExppFamily.validate({"lambd": lambd, "exp_power": exp_power})
        self._scales = np.asarray(self._params["lambd"])

    def _gap(self, p_a, p_b):
        p = self._params["exp_power"]
        if p == 1.0:
            return laplace_signed_gap(p_a, p_b)
        if p > 1.0:
            return signed_gap(lambda t: quantile_g_bounds(p, t)[0],
                              lambda t: quantile_g_bounds(p, t)[1], p_a, p_b)
        return table_signed_gap(1.0 / p, 1.0, p, p_a, p_b)

    def _working_dps(self, p_a, p_b, dps):
        return dps  # the tails 1 - pA and pB are formed exactly (Sterbenz, no subtraction)

    def _gap_mp(self, p_a, p_b):
        p = mp.mpf(self._params["exp_power"])
        if p > 1:
            def g(t):
                if t >= mp.mpf(1) / 2:
                    return mp.mpf(0)
                u = _mp_quantile(1 / p, 2 * t, lower=False) if 4 * t <= 1 else \
                    _mp_quantile(1 / p, 1 - 2 * t, lower=True)
                return u ** (1 / p)
        else:
            def g(t):
                return g_mp(1 / p, 1, p, t)
        return signed_gap_mp(g, p_a, p_b)
