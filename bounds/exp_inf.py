"""Yang et al. 2020's cubical families: ExpInf (l1 and l_inf certificates) and PowInf (l1).

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 3 (the differential method) and their code (tonyduan/rs4a, ``noises.ExpInf``):

    q(z)  proportional to  ||z||_inf^-k exp(-(||z||_inf / lambda)^p),      0 <= k < d - 1, p > 0.

Parameters ``lambd`` = lambda, ``exp_power`` = p, ``k`` = the power of the norm (rs4a's
``ExpInf(k, j)`` is our ``(exp_power, k)``; see :mod:`.exp2`). The l_inf ball of radius s has
volume ``(2 s)^d``, so the radial density is proportional to ``s^(d-1-k) exp(-(s/lambda)^p)``:
``(||z||_inf / lambda)^p ~ Gamma((d - k)/p)``, times a uniform point of the cube's surface (one
coordinate +-1, the others U[-1, 1]). Per-coordinate variance
``lambda^2 (1 + (d - 1)/3) Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p))`` (rs4a ``ExpInf._sigma``).

l1 (any p, k). The differential method bounds the speed at which any class probability moves:
for ``f`` into [0, 1], ``|d/dt E f(x + t v + z)| <= (1/2) int |grad q . v|``, convex in v, so
over the l1 unit ball it is largest at a vertex ``e_i``, where it is the density of the marginal
z_i at 0: ``L = int_{R^(d-1)} q(0, y) dy``. By the l_inf-polar formula above

    L = (d - 1) Gamma((d - 1 - k)/p) / (2 d lambda Gamma((d - k)/p)) = 1 / (2 lambda gamma),
    gamma = d Gamma((d - k)/p) / ((d - 1) Gamma((d - 1 - k)/p))

(rs4a ``ExpInf.gamma_factor``). So ``pA(x + delta) >= pA - L ||delta||_1`` and
``pB(x + delta) <= pB + L ||delta||_1`` (each class separately), and the radius is

    R_1 = lambda gamma (pA - pB)          (binary: 2 lambda gamma (pA - 1/2), rs4a certify_l1).

Not tight (a Lipschitz bound). gamma is evaluated in mpmath once per instance and rounded down.

l_inf (p = 1, k = 0). Yang et al.'s differential method for the l_inf adversary (rs4a
``CubicalDist._certify_linf_integrate``): ``R = lambda int_{1 - pA}^{1/2} dt / Phi(t)`` with
``Phi(t) = (p/2) Gamma((d+p-1)/p)/Gamma(d/p) (1 - G_{(d+p-1)/p}(G^-1_{d/p}(1 - 2t)))`` (G the
Gamma CDFs). For p = 1 the two Gamma laws coincide, ``Phi(t) = t``, and

    R_inf = lambda log(1 / (2 (1 - pA)))            (binary; rs4a ExpInf.certify_linf, its k = 1),

the same in every dimension (the Wulff-crystal point of their Sec. 5). Other (p, k) are refused:
rs4a reads them off a table interpolated on a grid; a sound version needs a quadrature of the
monotone ``1 / Phi`` with certified Gamma quantiles (not done here).

PowInf (rs4a ``PowInf``): ``q ~ (1 + ||z||_inf / lambda)^-a`` with ``a = d + m``, parameter
``tail_excess`` = m > 2 (finite variance; a default that does not depend on d). The l_inf radius
is BetaPrime(d, m), and the l1 certificate is the same Lipschitz bound with
``int_{R^n} (1 + ||y||_inf)^-a dy = n 2^n B(n, a - n)``: ``L = m / (2 d lambda)``,
``R_1 = lambda d (pA - pB) / m``. Its l_inf radius (rs4a: a grid table of the differential
method) is not done here.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ..core.rounding import shrink
from .base import GapCertificate
from .exp2 import gamma_ratio, positive_exponent
from .family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM
from .functional.zhang import dimension
from .registry import register


@register_family
class ExpInfFamily(NoiseFamily):
    """Yang et al. 2020 (rs4a ``ExpInf``): q ~ ||z||_inf^-k exp(-(||z||_inf/lambda)^p), p =
    exp_power; ``(||z||_inf/lambda)^p ~ Gamma((d - k)/p)`` times a uniform point of the cube's
    surface."""

    name = "expinf"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of exp(-(||z||/lambda)^p) (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of exp(-(||z||/lambda)^p) (> 0; rs4a k; yang-expinf-linf needs 1)", 1.0),
              Param("k", "real", nonnegative_real,
                    "exponent k of the ||z||_inf^-k factor (0 <= k < dim - 1; rs4a j)", 0.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to ||z||_inf^-k exp(-(||z||_inf / lambda)^p), p = exp_power "
           "(Yang et al. 2020, rs4a ExpInf)")
    std_formula = "lambda sqrt((1 + (d - 1)/3) Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p)))"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        k, d = params["k"], params["dim"]
        if not k < d - 1:
            raise ValueError(f"k must satisfy 0 <= k < dim - 1 = {d - 1}, got k={k!r}")

    @classmethod
    def unit_std(cls, params):
        d, p, k = params["dim"], params["exp_power"], params["k"]
        return math.sqrt((1.0 + (d - 1) / 3.0) * gamma_ratio(d, p, k) / d)


def gamma_factor_mp(dim: int, exp_power, k):
    """``gamma = d Gamma((d - k)/p) / ((d - 1) Gamma((d - 1 - k)/p))`` in mpmath (p = exp_power)."""
    d, p, k = mp.mpf(dim), mp.mpf(exp_power), mp.mpf(k)
    return d / (d - 1) * mp.exp(mp.loggamma((d - k) / p) - mp.loggamma((d - 1 - k) / p))


def _down(x) -> float:
    """A float64 at most the mpmath number ``x`` (x > 0)."""
    f = float(x)
    return f if mp.mpf(f) <= x else float(np.nextafter(f, 0.0))


@register
class YangExpInfL1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), ExpInf noise, l1 adversary:
    ``R = lambda gamma (pA - pB)``, gamma of the module docstring (rs4a ExpInf.certify_l1).
    Each class probability is ``1/(2 lambda gamma)``-Lipschitz in l1, so multi-class holds."""

    name = "yang-expinf-l1"
    family = "expinf"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method, ExpInf noise, l1 (rs4a ExpInf.certify_l1)")
    formula = "R = lambda gamma (pA - pB), gamma = d Gamma((d-k)/p) / ((d-1) Gamma((d-1-k)/p)), p = exp_power"

    def __init__(self, lambd, exp_power=1.0, k=0.0, dim=DEFAULT_DIM):
        self._params = ExpInfFamily.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        with mp.workdps(40):
            self._gamma = _down(self._gamma_mp())

    def _gamma_mp(self):
        p = self._params
        return gamma_factor_mp(p["dim"], p["exp_power"], p["k"])

    def _gap(self, p_a, p_b):
        d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
        return np.where(d > 0, shrink(self._gamma * d, 2), 0.0)

    def _gap_mp(self, p_a, p_b):
        return self._gamma_mp() * (2 * p_a - 1 if p_b is None else p_a - p_b)


@register
class YangExpInfLinf(GapCertificate):
    """Yang et al. 2020 (ICML), differential method for l_inf (Sec. 3), ExpInf noise with k = 0,
    p = 1: ``R = lambda log(1 / (2 (1 - pA)))`` in every dimension (rs4a ExpInf.certify_linf)."""

    name = "yang-expinf-linf"
    family = "expinf"
    norm = "linf"
    region_p = math.inf
    binary_only = True
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method, ExpInf noise (p = 1, k = 0), l_inf (rs4a ExpInf.certify_linf)")
    formula = "R = lambda log(1 / (2 (1 - pA))) (exp_power = 1, k = 0; binary)"

    def __init__(self, lambd, exp_power=1.0, k=0.0, dim=DEFAULT_DIM):
        self._params = ExpInfFamily.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        if self._params["exp_power"] != 1.0 or self._params["k"] != 0.0:
            raise ValueError(f"yang-expinf-linf certifies exp_power = 1, k = 0 only, "
                             f"got exp_power={exp_power!r}, k={k!r}")
        self._scales = np.asarray(self._params["lambd"])

    def _gap(self, p_a, p_b):
        tail = 2.0 * (1.0 - p_a)  # exact for p_a >= 1/2 (Sterbenz), the only values used
        with np.errstate(divide="ignore"):
            log = -np.log(np.where(p_a > 0.5, tail, 1.0))
        return np.where(p_a > 0.5, shrink(log, 2), 0.0)

    def _gap_mp(self, p_a, p_b):
        if p_a <= mp.mpf(1) / 2:
            return mp.mpf(0)
        return mp.inf if p_a == 1 else -mp.log(2 * (1 - p_a))


# ---------------------------------------------------------------------------------------------
# PowInf: the cubical power law (rs4a ``PowInf``)
def tail_excess(name: str, value) -> float:
    """``m = a - d`` of the PowInf density ``(1 + ||z||_inf/lambda)^-(d + m)``: a real > 2
    (finite variance)."""
    m = positive_scalar(name, value)
    if not m > 2.0:
        raise ValueError(f"{name} must be > 2 (finite variance), got {value!r}")
    return m


@register_family
class PowInfFamily(NoiseFamily):
    """Yang et al. 2020 (rs4a ``PowInf``): q ~ (1 + ||z||_inf/lambda)^-a, a = d + m;
    ``||z||_inf / lambda ~ BetaPrime(d, m)`` times a uniform point of the cube's surface."""

    name = "powinf"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of (1 + ||z||_inf/lambda)^-a (> 0)"),
              Param("tail_excess", "real", tail_excess,
                    "m = a - d of the PowInf density (1 + ||z||_inf/lambda)^-a (> 2)", 10.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to (1 + ||z||_inf / lambda)^-(d + m), m = tail_excess "
           "(Yang et al. 2020, rs4a PowInf)")
    std_formula = "lambda sqrt((1 + (d - 1)/3) (d + 1) / ((m - 1)(m - 2)))"

    @classmethod
    def unit_std(cls, params):
        d, m = params["dim"], params["tail_excess"]
        return math.sqrt((1.0 + (d - 1) / 3.0) * (d + 1) / ((m - 1.0) * (m - 2.0)))


@register
class YangPowInfL1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), PowInf noise, l1 adversary: the
    marginal density of z_1 at 0 is ``L = m / (2 d lambda)`` (l_inf-polar formula with
    ``int_{R^n} (1 + ||y||_inf)^-a dy = n 2^n B(n, a - n)``), so ``R = lambda d (pA - pB) / m``
    (binary ``2 lambda d (pA - 1/2) / (a - d)``, rs4a PowInf.certify_l1). Not tight."""

    name = "yang-powinf-l1"
    family = "powinf"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method, PowInf noise, l1 (rs4a PowInf.certify_l1)")
    formula = "R = lambda d (pA - pB) / m, density (1 + ||z||_inf/lambda)^-(d + m)"

    def __init__(self, lambd, tail_excess=10.0, dim=DEFAULT_DIM):
        self._params = PowInfFamily.validate({"lambd": lambd, "tail_excess": tail_excess, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        with mp.workdps(40):
            self._factor = _down(mp.mpf(self._params["dim"]) / mp.mpf(self._params["tail_excess"]))

    def _gap(self, p_a, p_b):
        d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
        return np.where(d > 0, shrink(self._factor * d, 2), 0.0)

    def _gap_mp(self, p_a, p_b):
        factor = mp.mpf(self._params["dim"]) / mp.mpf(self._params["tail_excess"])
        return factor * (2 * p_a - 1 if p_b is None else p_a - p_b)
