"""Uniform smoothing, noise U[-lambda_i, lambda_i] per coordinate: certified l1 regions.

Shifting coordinate i by delta_i moves at most ``|delta_i| / (2 lambda_i)`` of probability mass
(the two slabs where the shifted and unshifted boxes differ), so every class probability is
1/2-Lipschitz in ``||Lambda^-1 delta||_1`` and ``pA - t/2 > pB + t/2`` certifies
``||Lambda^-1 delta||_1 < pA - pB`` (binary ``2 pA - 1``). ``half_width`` is lambda
(std = lambda / sqrt(3)).

Numerics: ``2 pA - 1`` is exact for pA in [1/2, 1] and ``pA - pB`` rounds once (1/2 ulp); the gap
is shrunk by 4 ulps.

Tightness: for the shift delta = r e_1 a classifier that gives class A to the slab the shift
uncovers and class B to the slab it adds attains ``pA - r/(2 lambda)`` and ``pB + r/(2 lambda)``,
so the l1 radius cannot be improved; but neither Yang et al. 2020 nor Eiras et al. state this as
a theorem, so ``tight`` stays False here (the verifier can exhibit the witness).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from ..core.checks import check_int, check_positive
from ..core.rounding import shrink
from .base import GapCertificate
from .family import NoiseFamily, Param, positive, register_family
from .registry import register


@register_family
class Uniform(NoiseFamily):
    """Uniform noise U[-lambda_i, lambda_i] per coordinate (Yang et al. 2020; ANCER Cor. 2): each
    coordinate has variance lambda^2 / 3, so std = lambda / sqrt(3)."""

    name = "uniform"
    params = (Param("half_width", "reals", positive,
                    "uniform half-width lambda, noise U[-lambda, lambda] (scalar or array)"),)
    scale_param = "half_width"
    law = "uniform on the box prod_i [-lambda_i, lambda_i]"
    std_formula = "lambda / sqrt(3)"

    @classmethod
    def unit_std(cls, params):
        return 1.0 / np.sqrt(3.0)


def uniform_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``pA - pB`` (binary ``2 pA - 1``); 0 where nothing is certified."""
    d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
    return np.where(d > 0, shrink(d, 4), 0.0)


def uniform_gap_mp(p_a, p_b):
    d = 2 * p_a - 1 if p_b is None else p_a - p_b
    return max(d, mp.mpf(0))


class _UniformBase(GapCertificate):
    norm = "l1"
    region_p = 1.0
    tight = False
    scale_param = "half_width"
    family = "uniform"

    def _gap(self, p_a, p_b):
        return uniform_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return uniform_gap_mp(p_a, p_b)


@register
class AncerCrossPolytope(_UniformBase):
    """Eiras et al., ANCER, Corollary 2: anisotropic uniform noise U[-lambda_i, lambda_i].

    Region ``||Lambda^-1 delta||_1 <= pA - pB`` (binary ``2 pA - 1``), a generalized
    cross-polytope with volume ``(2 gap)^d prod lambda_i / d!`` (Prop. 4) and proxy radius
    ``gap (prod lambda_i)^(1/d)``; ``radius`` is the l1 ball inside, ``min_i lambda_i * gap``.
    """

    name = "ancer-cross-polytope"
    isotropic_counterpart = "uniform-l1"
    citation = "Eiras et al., ANCER (TMLR 2022), Corollary 2; volume Prop. 4"
    formula = "region ||Lambda^-1 delta||_1 <= pA - pB; R = min_i lambda_i (pA - pB)"

    def __init__(self, half_width):
        lam = check_positive("half_width", half_width)
        self._params = {"half_width": float(lam) if lam.ndim == 0 else lam.copy()}
        self._scales = lam.copy()


@register
class UniformL1(_UniformBase):
    """Yang et al. 2020, "Randomized smoothing of all shapes and sizes": isotropic uniform noise.

    ``R = lambda (pA - pB)``, binary ``lambda (2 pA - 1) = 2 lambda (pA - 1/2)`` (their uniform
    l1 entry), certified in l1. See the module docstring on tightness.
    """

    name = "uniform-l1"
    citation = "Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (uniform noise, l1)"
    formula = "R = lambda (pA - pB); binary lambda (2 pA - 1)"

    def __init__(self, half_width):
        lam = check_positive("half_width", half_width, allow_array=False)
        self._params = {"half_width": float(lam)}
        self._scales = np.asarray(float(lam))


#: Default input dimension of the l_inf certificates (MNIST, as the other zoo families).
DEFAULT_DIM = 784


def cube_linf_gap(p_a: np.ndarray, p_b: np.ndarray | None, dim: int) -> np.ndarray:
    """A provable lower bound of ``2 (1 - (1 - g)^(1/d))``, ``g = (pA - pB)/2`` (Eq. (L) of
    :class:`YangUniformLinf`), never below the l1 -> l_inf conversion ``2 g / d``.

    Budget: g is exact (binary) or 1/2 ulp; ``-log1p(-g)`` has condition <= 1/(1-g) <= 2 in g and
    one ulp of its own; the division 1/2 ulp; ``-expm1(-v)`` has condition <= 1 and one ulp. The
    16 + 16 ulps taken off cover these with a wide margin (checked against the twin)."""
    d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
    g = np.where(d > 0, 0.5 * d, 0.0)
    with np.errstate(divide="ignore"):
        v = shrink(shrink(-np.log1p(-g), 16) / dim, 1)
        level = 2.0 * shrink(-np.expm1(-v), 16)
    converted = shrink(2.0 * g / dim, 4)
    return np.where(g > 0, np.maximum(level, converted), 0.0)


def cube_linf_gap_mp(p_a, p_b, dim: int):
    g = (2 * p_a - 1 if p_b is None else p_a - p_b) / 2
    if g <= 0:
        return mp.mpf(0)
    return -2 * mp.expm1(mp.log1p(-g) / dim)


@register
class YangUniformLinf(_UniformBase):
    """Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes" (ICML), level-set method
    (Sec. 4; rs4a ``Uniform.certify_linf``): uniform noise on ``[-lambda, lambda]^d``, l_inf.

    The likelihood ratio of the shifted and unshifted cubes only takes the values 0, 1 and inf,
    so the worst classifier moves class A's mass out of the part of the cube that the shift
    uncovers and class B's into the part it adds; both have volume fraction
    ``V(delta) = 1 - prod_i (1 - |delta_i| / (2 lambda))`` (for ``|delta_i| <= 2 lambda``), and
    A is kept iff ``pA - V > pB + V``. Over the l_inf ball of radius r, V is largest at the
    corners ``|delta_i| = r``, ``V = 1 - (1 - r/(2 lambda))^d``, so

        R = 2 lambda (1 - (1 - g)^(1/d)),   g = (pA - pB)/2  (binary: pA - 1/2),        (L)

    which is rs4a's ``2 lambda (1 - (3/2 - pA)^(1/d))`` in the binary case. By Bernoulli's
    inequality ``(1 - g)^(1/d) <= 1 - g/d``, so (L) is never below the l1 radius ``2 lambda g``
    converted to l_inf (divided by d); the float path returns the larger of the two bounds.
    ``tight`` stays False as for :class:`UniformL1` (no theorem states tightness).
    """

    name = "yang-uniform-linf"
    norm = "linf"
    region_p = float("inf")
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), level-set "
                "method, uniform cube noise, l_inf (rs4a Uniform.certify_linf)")
    formula = "R = 2 lambda (1 - (1 - (pA - pB)/2)^(1/d)); binary 2 lambda (1 - (3/2 - pA)^(1/d))"

    def __init__(self, half_width, dim=DEFAULT_DIM):
        lam = check_positive("half_width", half_width, allow_array=False)
        self._params = {"half_width": float(lam), "dim": check_int("dim", dim, minimum=1)}
        self._scales = np.asarray(float(lam))

    def _gap(self, p_a, p_b):
        return cube_linf_gap(p_a, p_b, self._params["dim"])

    def _gap_mp(self, p_a, p_b):
        return cube_linf_gap_mp(p_a, p_b, self._params["dim"])
