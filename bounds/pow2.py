"""The spherical power-law family Pow2 of Yang et al. 2020 and its l2 certificate, on the Zhang et
al. radial engine (one engine, not two).

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 5 and their code (tonyduan/rs4a, ``noises.Pow2``): density

    q(z)  proportional to  (1 + (||z||_2 / lambda)^p)^-a,        a > d / p, p > 0.

Parameters: ``lambd`` = lambda, ``exp_power`` = p (rs4a ``k``: the exponent of ||z||/lambda, as in
Exp2), ``tail_excess`` = m = a - d (as in PowInf; rs4a's default a = d + 10 is m = 10), ``dim``.
In polar form ``u = ||z|| / lambda`` has density ``c u^(d-1) (1 + u^p)^-a``, i.e.
``u^p ~ BetaPrime(d/p, a - d/p)``, with a uniform direction, so the per-coordinate variance is
``lambda^2 E u^2 / d = lambda^2 B((d+2)/p, a - (d+2)/p) / (d B(d/p, a - d/p))`` (rs4a
``Pow2._sigma``), finite iff ``a > (d + 2)/p``: the family requires it (std matching needs it).

The certificate: Yang et al.'s level-set method, i.e. the Neyman-Pearson bound of q against its
shift by ``r e_1`` with ``phi(u) = a log(1 + u^p)``, evaluated by Zhang et al. 2020's l2 engine
(Eq. 4-6, the worst delta at ||delta|| = r as in their Thm 2) with the BetaPrime radial law
integrated in log u (:mod:`.functional.spherical`, ``PowL2``; the quadrature error is bounded
and taken off as for zhang-l2). The unit radius (lambda = 1) is scaled by lambda, rounded down.
rs4a tabulates this radius from scipy quadrature of the same level sets, without error bounds.

Tails below 1e-16 (pB, and 1 - pA) are certified at 1e-16: the engine's tail floor
(:mod:`.functional.spherical`, ``TAIL_FLOOR``), found on Pow2, whose power-law tail puts a
class-B set of tiny mass where the bounded quadrature error is as large as the mass.

Cost (no member has a closed form): the float radius 0.05-1 s per value, the mpmath twin
(quadrature at 20 digits, Newton from the float root) 1-5 s per value at d = 4; both grow with d.
Many pA at one noise go through :meth:`YangPow2L2.radius_table`.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ..core.rounding import shrink
from .base import Certificate
from .exp2 import positive_exponent, scaled_table
from .family import NoiseFamily, Param, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM
from .functional.spherical import PowL2
from .functional.zhang import ZhangL2, dimension
from .registry import register


def real_excess(name: str, value) -> float:
    """``m = a - d`` of the Pow2 density ``(1 + (||z||/lambda)^p)^-(d + m)``: a finite real (the
    bound that makes the variance finite depends on p and d: :meth:`Pow2Family.check_joint`)."""
    x = float(np.asarray(value, dtype=float)) if np.ndim(value) == 0 else math.nan
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return x


@register_family
class Pow2Family(NoiseFamily):
    """Yang et al. 2020 (rs4a ``Pow2``): q ~ (1 + (||z||_2/lambda)^p)^-a, a = d + m;
    ``(||z||/lambda)^p ~ BetaPrime(d/p, a - d/p)`` with a uniform direction."""

    name = "pow2"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of (1 + (||z||/lambda)^p)^-a (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of (||z||/lambda)^p in the Pow2 density (> 0; rs4a k)", 1.0),
              Param("tail_excess", "real", real_excess,
                    "m = a - d of the Pow2 density (1 + (||z||/lambda)^p)^-a (a > (d + 2)/p)", 10.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to (1 + (||z||_2 / lambda)^p)^-(d + m), p = exp_power, "
           "m = tail_excess (Yang et al. 2020, rs4a Pow2)")
    std_formula = "lambda sqrt(B((d + 2)/p, a - (d + 2)/p) / (d B(d/p, a - d/p))), a = d + m"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        d, p, m = params["dim"], params["exp_power"], params["tail_excess"]
        if not d + m > (d + 2) / p:
            raise ValueError(f"tail_excess={m!r} gives a = d + m = {d + m!r} <= (d + 2)/p = "
                             f"{(d + 2) / p!r} (dim={d}, exp_power={p!r}): infinite variance")

    @classmethod
    def unit_std(cls, params):
        d, p = params["dim"], params["exp_power"]
        a = d + params["tail_excess"]
        g = math.lgamma
        log_e2 = g((d + 2) / p) + g(a - (d + 2) / p) - g(d / p) - g(a - d / p)
        if log_e2 > 1400.0:
            raise ValueError(f"exp_power={p!r} (dim={d}) gives a noise standard deviation beyond "
                             "the float range")
        return math.sqrt(math.exp(log_e2) / d)


@register
class YangPow2L2(Certificate):
    """Yang et al. 2020 (ICML), level-set method for spherical noise, Pow2: the l2 radius of the
    Neyman-Pearson bound of (1 + (||z||/lambda)^p)^-a against its shift, computed by Zhang et al.
    2020's engine (Eq. 4-6, Thm 2's worst delta r e_1) at lambda = 1 and scaled (module docstring).
    Tight (the Neyman-Pearson bound over all classifiers), except for tails below the engine's
    ``TAIL_FLOOR`` (1e-16), certified at it."""

    name = "yang-pow2-l2"
    family = "pow2"
    norm = "l2"
    tight = True
    expensive = True
    twin_rtol = ZhangL2.twin_rtol
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), level-set "
                "method, Pow2 noise (rs4a Pow2 l2 table); computed as Zhang et al. 2020 Eq. 4-6 "
                "and Thm 2 for the BetaPrime radial law of Pow2")
    formula = ("R = lambda R_unit(pA, pB; phi(u) = a log(1 + u^p), u^p ~ BetaPrime(d/p, a - d/p)), "
               "a = d + m, the level-set radius")

    def __init__(self, lambd, exp_power=1.0, tail_excess=10.0, dim=DEFAULT_DIM):
        self._params = Pow2Family.validate({"lambd": lambd, "exp_power": exp_power,
                                            "tail_excess": tail_excess, "dim": dim})
        p, m, d = self._params["exp_power"], self._params["tail_excess"], self._params["dim"]
        self.unit = PowL2(p, d + m, d)
        self._factor = self._params["lambd"]

    def _radius(self, p_a, p_b):
        r = self.unit._radius(p_a, p_b)
        return np.where(r > 0, shrink(r * self._factor, 1), 0.0)

    def _working_dps(self, p_a, p_b, dps):
        return self.unit._working_dps(p_a, p_b, dps)

    def _radius_mp(self, p_a, p_b):
        return mp.mpf(self._params["lambd"]) * self.unit._radius_mp(p_a, p_b)

    def radius_table(self, n: int = 1000):
        """A sound lookup table p_a -> binary radius (as :meth:`.exp2.YangExp2L2.radius_table`)."""
        return scaled_table(self, n)
