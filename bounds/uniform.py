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

from ..core.checks import check_positive
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
