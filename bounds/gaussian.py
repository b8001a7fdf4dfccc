"""Gaussian smoothing, noise N(mu, diag(sigma^2)): Cohen et al. 2019, Hong & Hong (ARS), ANCER.

The mean mu never changes a radius (ARS Section 4), so it is not a parameter here.
Gap functions use the standard normal quantile Phi^-1 (``scipy.special.ndtri``, accurate to a few
ulps; Phi^-1(p) for p near 1 is evaluated through 1 - p, exact for p >= 1/2).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy.special import ndtri

from ..estimators.checks import check_positive
from ..estimators.rounding import sound_difference
from .base import GapCertificate, Noise
from .registry import register


def gaussian_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``(Phi^-1(p_a) - Phi^-1(p_b)) / 2`` (binary: ``Phi^-1(p_a)``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if p_b is None:
            # Phi^-1(p_a) - Phi^-1(1 - p_a) = 2 Phi^-1(p_a): no cancellation.
            qa = ndtri(p_a)
            return np.where(p_a > 0.5, sound_difference(qa, 0.0), 0.0)
        qa, qb = ndtri(p_a), ndtri(p_b)
        g = 0.5 * sound_difference(qa, qb)
        return np.where(p_a > p_b, g, 0.0)


def gaussian_gap_mp(p_a, p_b):
    """Exact gap in mpmath: ``(Phi^-1(p_a) - Phi^-1(p_b)) / 2``."""

    def q(p):
        if p == 0:
            return mp.ninf
        if p == 1:
            return mp.inf
        return -mp.sqrt(2) * mp.erfinv(1 - 2 * p) if p < 0.5 else mp.sqrt(2) * mp.erfinv(2 * p - 1)

    if p_b is None:
        return q(p_a) if p_a > 0.5 else mp.mpf(0)
    if p_a <= p_b:
        return mp.mpf(0)
    return (q(p_a) - q(p_b)) / 2


@register
class CohenGaussianL2(GapCertificate):
    """Cohen, Rosenfeld & Kolter 2019, Theorem 1 (restated as ARS Theorem 3.1).

    Noise N(0, sigma^2 I). Certified l2 radius
    ``R = sigma/2 (Phi^-1(pA) - Phi^-1(pB))``; binary ``R = sigma Phi^-1(pA)``.
    Tight: a half-space base classifier attains it (Cohen et al. Theorem 2).
    """

    name = "cohen-gaussian-l2"
    norm = "l2"
    tight = True
    citation = "Cohen, Rosenfeld & Kolter 2019, Theorem 1 (Eq. 3); ARS Theorem 3.1"
    formula = "R = sigma/2 (Phi^-1(pA) - Phi^-1(pB)); binary R = sigma Phi^-1(pA)"
    region_p = 2.0
    scale_param = "sigma"

    def __init__(self, sigma):
        s = check_positive("sigma", sigma, allow_array=False)
        self._params = {"sigma": float(s)}
        self._scales = np.asarray(float(s))

    @classmethod
    def from_std(cls, std, dim=None, k=0, sigma=None, scale=None, half_width=None):
        return cls(sigma=std if sigma is None else sigma)

    @property
    def noise(self) -> Noise:
        return Noise("gaussian", {"sigma": self._params["sigma"]})

    def _gap(self, p_a, p_b):
        return gaussian_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return gaussian_gap_mp(p_a, p_b)
