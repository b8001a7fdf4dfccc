"""The spherical exponential family Exp2 of Yang et al. 2020 and its l2 certificate, on the Zhang
et al. radial engine (one engine, not two).

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 4-5 and their code (tonyduan/rs4a, ``noises.Exp2``): density

    q(z)  proportional to  ||z||_2^-k exp(-(||z||_2 / lambda)^p),       0 <= k < d, p > 0.

Parameters: ``lambd`` = lambda, ``exp_power`` = p and ``k`` = the power of the norm. rs4a writes
``Exp2(k, j)`` for our ``(exp_power, k)``: the power of the norm is named ``k`` here as in Zhang
et al.'s families (the same factor, and one ``k=...`` keyword then means the same for every family).
In polar form ``(||z|| / lambda)^p ~ Gamma((d - k) / p)`` with a uniform direction, so the
per-coordinate variance is ``lambda^2 Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p))`` (rs4a
``Exp2._sigma``).

The certificate. With ``s = lambda p^(-1/p)``, ``(||z||/lambda)^p = (||z||/s)^p / p``: in units of
s the radial law is ``u^p / p ~ Gamma((d - k)/p)`` and ``phi(u) = k log u + u^p / p``, the
radial family the Zhang et al. l2 engine evaluates (:mod:`.functional.spherical`, ``ExpL2``;
Yang et al.'s level-set method is the same Neyman-Pearson optimization as Zhang et al.'s Thm 2).
``yang-exp2-l2`` computes the unit radius (s = 1) and scales it by s rounded down (the radius is
linear in the scale). p = 2 *is* Zhang et al.'s l2 family with ``sigma = lambda / sqrt 2``
(:class:`~.functional.zhang.ZhangL2` is used as it is); with k = 0 it is Gaussian noise with std
``lambda / sqrt 2``: Cohen's radius ``lambda Phi^-1(pA) / sqrt 2`` (Zhang et al. Cor. 2, used
directly), which is rs4a's ``Normal(0, lambda/sqrt 2).icdf(pA)``.

p = 1, k = 0: rs4a's closed form ``lambda (d - 1) atanh(1 - 2 I^-1_{1 - pA}((d-1)/2, (d-1)/2))``
is the *differential* method (Yang et al. Sec. 4: integrate 1 / (the largest derivative of a
set's measure along delta); here the derivative of log q along e_1 is -z_1/||z||, whose law
gives ``int dp / phi(p) = (d - 1) atanh(tau)``): sound, but below the level-set radius that this
certificate returns (by 0.8 % at pA = 0.9, d = 10; tests/test_zoo_spherical.py).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ..core.rounding import shrink
from .base import Certificate
from .family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM, check_k_dim
from .functional.spherical import ExpL2
from .functional.table import RadiusTable
from .functional.zhang import ZhangL2, dimension
from .gaussian import CohenGaussianL2
from .registry import register

#: ``1/sqrt 2`` rounded down (the factor from lambda to Zhang's sigma).
_SQRT_HALF_DOWN = float(np.nextafter(math.sqrt(0.5), 0.0))


def positive_exponent(name: str, value) -> float:
    """The exponent k of ``exp(-(||z||/lambda)^k)``: a finite real > 0."""
    return positive_scalar(name, value)


def gamma_ratio(d: int, p: float, k: float) -> float:
    """``Gamma((d + 2 - k)/p) / Gamma((d - k)/p) = E (||z||/lambda)^2``; ValueError naming
    exp_power where it is beyond the float range (p of order 1e-3 and below)."""
    log_ratio = math.lgamma((d + 2 - k) / p) - math.lgamma((d - k) / p)
    if log_ratio > 700.0:
        raise ValueError(f"exp_power={p!r} (k={k!r}, dim={d}) gives a noise standard deviation "
                         "beyond the float range")
    return math.exp(log_ratio)


@register_family
class Exp2Family(NoiseFamily):
    """Yang et al. 2020 (rs4a ``Exp2``): q ~ ||z||_2^-k exp(-(||z||_2/lambda)^p), p = exp_power;
    ``(||z||/lambda)^p ~ Gamma((d - k)/p)`` with a uniform direction."""

    name = "exp2"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of exp(-(||z||/lambda)^p) (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of exp(-(||z||/lambda)^p) (> 0; rs4a k)", 2.0),
              Param("k", "real", nonnegative_real,
                    "exponent k of the ||z||_2^-k factor (0 <= k < dim; rs4a j)", 0.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to ||z||_2^-k exp(-(||z||_2 / lambda)^p), p = exp_power "
           "(Yang et al. 2020, rs4a Exp2)")
    std_formula = "lambda sqrt(Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p)))"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        check_k_dim(params["k"], params["dim"])

    @classmethod
    def unit_std(cls, params):
        d, p, k = params["dim"], params["exp_power"], params["k"]
        return math.sqrt(gamma_ratio(d, p, k) / d)


@register
class YangExp2L2(Certificate):
    """Yang et al. 2020 (ICML), level-set method for spherical noise, Exp2 at any exponent p > 0:
    the l2 radius of Zhang et al. 2020 Thm 2's optimization for the radial law of Exp2, computed at
    scale ``lambda p^(-1/p)`` (module docstring; p = 2: ZhangL2 at sigma = lambda / sqrt 2).
    Tight (the Neyman-Pearson bound over all classifiers), except, for p != 2, tails below the
    radial engine's ``TAIL_FLOOR`` (1e-16), certified at it (:mod:`.functional.spherical`)."""

    name = "yang-exp2-l2"
    family = "exp2"
    norm = "l2"
    tight = True
    expensive = True  # the quadrature engine (except p = 2, k = 0: Cohen's closed form)
    twin_rtol = ZhangL2.twin_rtol
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), level-set "
                "method, Exp2 noise (rs4a Exp2.certify_l2); computed as Zhang et al. 2020 Eq. 4-6 "
                "and Thm 2 for the radial law of Exp2 at scale lambda p^(-1/p)")
    formula = ("R = lambda p^(-1/p) R_unit(pA, pB; phi(u) = k log u + u^p / p, d), the level-set "
               "radius; p = 2, k = 0: R = lambda Phi^-1(pA) / sqrt 2 (binary)")

    def __init__(self, lambd, exp_power=2.0, k=0.0, dim=DEFAULT_DIM):
        self._params = Exp2Family.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        p, k, dim = self._params["exp_power"], self._params["k"], self._params["dim"]
        if p == 2.0:
            # k = 0: the engine's own closed form (Zhang et al. Cor. 2, Cohen's radius, tight)
            # without its quadrature, which it would only confirm (50 ms a value at d = 784)
            self.unit = CohenGaussianL2(sigma=1.0) if k == 0 else ZhangL2(sigma=1.0, k=k, dim=dim)
            self._factor = float(shrink(self._params["lambd"] * _SQRT_HALF_DOWN, 1))
        else:
            self.unit = ExpL2(p, k=k, dim=dim)
            # p^(-1/p): exp and log are within an ulp or two (4 ulps taken off)
            self._factor = float(shrink(self._params["lambd"] * math.exp(-math.log(p) / p), 4))

    def _radius(self, p_a, p_b):
        r = self.unit._radius(p_a, p_b)
        return np.where(r > 0, shrink(r * self._factor, 1), 0.0)

    def _working_dps(self, p_a, p_b, dps):
        return self.unit._working_dps(p_a, p_b, dps)

    def _radius_mp(self, p_a, p_b):
        p = mp.mpf(self._params["exp_power"])
        return mp.mpf(self._params["lambd"]) * p ** (-1 / p) * self.unit._radius_mp(p_a, p_b)

    def radius_table(self, n: int = 1000):
        """A sound lookup table p_a -> binary radius (:class:`~.functional.table.RadiusTable`,
        the fast path for many p_a): the unit engine's table with its radii times the scale
        factor, rounded down (a certified unit radius times a factor below the exact scale is
        certified). p = 2 with k = 0 has a closed form and no table (``radius`` is fast)."""
        return scaled_table(self, n)


def scaled_table(cert, n):
    """``cert.unit``'s radius table with radii ``shrink(r * cert._factor, 1)``, under the name and
    parameters of ``cert`` (:meth:`YangExp2L2.radius_table`)."""
    if not hasattr(cert.unit, "radius_table"):
        raise ValueError(f"{cert.name} at {cert.params} has a closed form: use radius()")
    t = cert.unit.radius_table(n=n)
    return RadiusTable(cert.name, cert.params, t.p, shrink(t.r * cert._factor, 1))
