"""The spherical exponential family Exp2 of Yang et al. 2020 and its l2 certificate, as a mapping
onto the Zhang et al. radial engine (one engine, not two).

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 4-5 and their code (tonyduan/rs4a, ``noises.Exp2``): density

    q(z)  proportional to  ||z||_2^-k exp(-(||z||_2 / lambda)^p),       0 <= k < d, p > 0.

Parameters: ``lambd`` = lambda, ``exp_power`` = p and ``k`` = the power of the norm. rs4a writes
``Exp2(k, j)`` for our ``(exp_power, k)``: the power of the norm is named ``k`` here as in Zhang
et al.'s families (the same factor, and one ``k=...`` keyword then means the same for every family).
In polar form ``(||z|| / lambda)^p ~ Gamma((d - k) / p)`` with a uniform direction, so the
per-coordinate variance is ``lambda^2 Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p))`` (rs4a
``Exp2._sigma``).

The certificate (p = 2). ``exp(-||z||^2 / lambda^2) = exp(-||z||^2 / (2 sigma^2))`` with
``sigma = lambda / sqrt 2``, so Exp2(lambda, p = 2, k) *is* Zhang et al.'s l2 family (their Eq. 9)
with ``sigma = lambda / sqrt 2`` and the same k. The level-set radius of Yang et al. (their
level-set method for spherical noise: the Neyman-Pearson sets are level sets of the density
ratio) is the same optimization as Zhang et al.'s Thm 2, so
``yang-exp2-l2`` delegates to :class:`~.functional.zhang.ZhangL2` at ``sigma = 1`` and scales the
unit radius by ``lambda / sqrt 2`` rounded down (the engine's radius is linear in sigma). k = 0 is
Gaussian noise with std ``lambda / sqrt 2``: Cohen's radius ``lambda Phi^-1(pA) / sqrt 2`` (the
engine's closed form for k = 0, Zhang et al. Cor. 2, used directly), which is rs4a's
``Normal(0, lambda/sqrt 2).icdf(pA)``.

Other exponents (p != 2) are refused by the certificate (the family and its sampler accept any
p > 0). What the engine would need: with ``u = ||z|| / lambda`` the log-ratio is
``Lambda = k log(s/u) + s^p - u^p`` (``s = ||z - r e_1|| / lambda``); the engine's ``_s_closed``
inverts ``k log s + s^2/2`` by the Wright omega function, which serves p = 2 only (p = 1 with
k > 0 has no closed inverse), its radial law is the chi law of ``u`` (a Gamma law of ``u^p``
in general) and its quadrature kinks (``_pieces``) are the roots of the p = 2 derivative. A
general p needs a monotone root-finder for ``s`` with error bounds, the Gamma((d - k)/p) law of
``u^p`` and the kinks of ``k/s + p s^(p-1)``; not done here (rs4a tabulates these radii by
Monte Carlo).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ..core.rounding import shrink
from .base import Certificate
from .family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM, check_k_dim
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
                    "exponent p of exp(-(||z||/lambda)^p) (> 0; rs4a k; yang-exp2-l2 needs 2)", 2.0),
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
    """Yang et al. 2020 (ICML), level-set method for spherical noise, Exp2 with p = 2: the l2
    radius of Zhang et al. 2020 Thm 2 for ``sigma = lambda / sqrt 2`` and the same k (module
    docstring). Tight (the Neyman-Pearson bound over all classifiers)."""

    name = "yang-exp2-l2"
    family = "exp2"
    norm = "l2"
    tight = True
    expensive = True  # k > 0: the quadrature engine
    twin_rtol = ZhangL2.twin_rtol
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), level-set "
                "method, Exp2 noise (rs4a Exp2.certify_l2); computed as Zhang et al. 2020 Thm 2 "
                "with sigma = lambda / sqrt 2, same k")
    formula = ("R = (lambda / sqrt 2) R_zhang-l2(pA, pB; sigma = 1, k, d), p = 2; k = 0: "
               "R = lambda Phi^-1(pA) / sqrt 2 (binary)")

    def __init__(self, lambd, exp_power=2.0, k=0.0, dim=DEFAULT_DIM):
        self._params = Exp2Family.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        if self._params["exp_power"] != 2.0:
            raise ValueError(f"yang-exp2-l2 certifies exp_power = 2 only (Zhang et al.'s l2 engine), "
                             f"got exp_power={exp_power!r}")
        k, dim = self._params["k"], self._params["dim"]
        # k = 0: the engine's own closed form (Zhang et al. Cor. 2, Cohen's radius, tight) without
        # its quadrature, which it would only confirm (50 ms a value at d = 784)
        self.unit = CohenGaussianL2(sigma=1.0) if k == 0 else ZhangL2(sigma=1.0, k=k, dim=dim)
        self._factor = float(shrink(self._params["lambd"] * _SQRT_HALF_DOWN, 1))

    def _radius(self, p_a, p_b):
        r = self.unit._radius(p_a, p_b)
        return np.where(r > 0, shrink(r * self._factor, 1), 0.0)

    def _working_dps(self, p_a, p_b, dps):
        return self.unit._working_dps(p_a, p_b, dps)

    def _radius_mp(self, p_a, p_b):
        return mp.mpf(self._params["lambd"]) / mp.sqrt(2) * self.unit._radius_mp(p_a, p_b)
