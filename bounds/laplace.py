"""Laplace smoothing, density proportional to exp(-sum_i |z_i| / b_i): certified l1 radii.

Lecuyer et al. 2019 (differential privacy), Teng et al. 2020 (Theorems 1-3) and Hong & Hong
(ARS Theorem 7.1). The scale ``scale`` is the Laplace b (std = sqrt(2) b); ARS calls its
per-coordinate b_i a "variance".

Numerics (every gap is a provable lower bound; budgets in ulps of the result, each special
function counted at a few ulps and the total shrunk by 64 ulps):

* ``1/2 log(pA/pB)``: for pA <= 2 pB, ``log1p((pA - pB)/pB)`` (pA - pB exact by Sterbenz, one
  division, log1p has condition <= 1 on [0, 1]); for pA > 2 pB, ``log(pA/pB)`` (one division,
  log has condition <= 1/log 2 there); when pA/pB overflows (pB subnormal), ``log pA - log pB``
  with the operand-magnitude margin of ``sound_difference``. pB = 0 gives inf.
* ``-log(1 - pA + pB)``: for pA - pB <= 1/2, ``-log1p(pB - pA)`` (one rounding, condition
  <= 1.45); otherwise pA > 1/2, so ``1 - pA`` is exact and ``-log((1 - pA) + pB)`` with argument
  below 1/2 (condition <= 1.45). 1 - pA + pB = 0 (pA = 1, pB = 0) gives inf.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from ..core.checks import check_positive
from ..core.rounding import shrink, sound_difference
from .base import GapCertificate
from .family import NoiseFamily, Param, positive, register_family
from .registry import register


@register_family
class Laplace(NoiseFamily):
    """Laplace noise, density proportional to exp(-sum_i |z_i| / b_i) (Teng et al. 2020; ARS
    Sec. 7): each coordinate has variance 2 b^2, so std = sqrt(2) b."""

    name = "laplace"
    params = (Param("scale", "reals", positive,
                    "Laplace scale b, density proportional to exp(-|z|/b) (scalar or array)"),)
    scale_param = "scale"
    law = "density proportional to exp(-sum_i |z_i| / b_i)"
    std_formula = "sqrt(2) b"

    @classmethod
    def unit_std(cls, params):
        return np.sqrt(2.0)


def _binary_pb(p_a, p_b):
    """p_b, or 1 - p_a in the binary case (exact where it matters: p_a >= 1/2)."""
    return 1.0 - p_a if p_b is None else p_b


def log_ratio_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``1/2 log(p_a / p_b)`` (0 where p_a <= p_b, inf where p_b = 0)."""
    pb = _binary_pb(p_a, p_b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        near = p_a <= 2.0 * pb
        small = np.log1p((p_a - pb) / pb)
        q = p_a / pb
        far = np.log(q)
        val = shrink(np.where(near, small, np.where(np.isfinite(q), far, 0.0)))
        overflow = ~near & ~np.isfinite(q)
        if overflow.any():  # pB subnormal: the ratio overflows, subtract the logs instead
            val = np.where(overflow, sound_difference(np.log(p_a), np.log(pb)), val)
        val = np.where(pb == 0, np.inf, val)
    return np.where(p_a > pb, 0.5 * np.maximum(val, 0.0), 0.0)


def log_tv_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``-log(1 - p_a + p_b)`` (0 where p_a <= p_b)."""
    pb = _binary_pb(p_a, p_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = p_a - pb
        close = -np.log1p(pb - p_a)
        far = -np.log((1.0 - p_a) + pb)
        val = shrink(np.where(d <= 0.5, close, far))
    return np.where(d > 0, val, 0.0)


def teng_gap(p_a, p_b):
    """Sound lower bound of ``max{1/2 log(pA/pB), -log(1 - pA + pB)}`` (Teng et al. Thm 1)."""
    return np.maximum(log_ratio_gap(p_a, p_b), log_tv_gap(p_a, p_b))


def log_ratio_gap_mp(p_a, p_b):
    pb = 1 - p_a if p_b is None else p_b
    if p_a <= pb:
        return mp.mpf(0)
    return mp.inf if pb == 0 else mp.log(p_a / pb) / 2


def log_tv_gap_mp(p_a, p_b):
    pb = 1 - p_a if p_b is None else p_b
    if p_a <= pb:
        return mp.mpf(0)
    s = 1 - p_a + pb
    return mp.inf if s == 0 else -mp.log(s)


def teng_gap_mp(p_a, p_b):
    return max(log_ratio_gap_mp(p_a, p_b), log_tv_gap_mp(p_a, p_b))


class _IsotropicLaplace(GapCertificate):
    """Shared body: isotropic Laplace noise with scalar scale b; l1 balls."""

    family = "laplace"
    norm = "l1"
    region_p = 1.0
    scale_param = "scale"

    def __init__(self, scale):
        b = check_positive("scale", scale, allow_array=False)
        self._params = {"scale": float(b)}
        self._scales = np.asarray(float(b))


@register
class LecuyerLaplaceL1(_IsotropicLaplace):
    """Lecuyer et al. 2019 (PixelDP), as compared in Teng et al. Sec. 4.3.

    Laplace noise of scale b is (r/b)-differentially private for l1 changes of size r, and the
    DP stability condition pA > e^(2 r/b) pB gives ``R = b/2 log(pA/pB)`` (binary
    ``b/2 log(pA/(1 - pA))``). pB = 0 gives inf. Not tight (Teng et al. Thm 1 dominates it).
    """

    name = "lecuyer-laplace-l1"
    tight = False
    citation = "Lecuyer et al. 2019 (PixelDP), Laplace mechanism; as stated in Teng et al. 2020 Sec. 4.3"
    formula = "R = b/2 log(pA/pB)"

    def _gap(self, p_a, p_b):
        return log_ratio_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return log_ratio_gap_mp(p_a, p_b)


@register
class TengLaplaceL1(_IsotropicLaplace):
    """Teng, Lee & Xiang 2020, "l1 adversarial robustness certificates", Theorem 1.

    Laplace noise of scale b: ``R = max{ b/2 log(pA/pB), -b log(1 - pA + pB) }``. In the binary
    case the second term always wins (``-log(2q) >= 1/2 log((1-q)/q)`` since ``q(1-q) <= 1/4``)
    and equals Theorem 2. Not flagged tight in the multi-class form.
    """

    name = "teng-laplace-l1"
    tight = False
    citation = "Teng, Lee & Xiang 2020, Theorem 1"
    formula = "R = max{ b/2 log(pA/pB), -b log(1 - pA + pB) }"

    def _gap(self, p_a, p_b):
        return teng_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return teng_gap_mp(p_a, p_b)


@register
class TengLaplaceL1Binary(_IsotropicLaplace):
    """Teng, Lee & Xiang 2020, Theorem 2: binary ``R = -b log(2 (1 - pA))`` for pA > 1/2.

    Tight by their Theorem 3 (a 1-D witness with delta = (||delta||_1, 0, ..., 0); it lives in the
    verifier). pA = 1 gives inf. Numerics: 2(1 - pA) is exact for pA >= 1/2, one log.
    """

    name = "teng-laplace-l1-binary"
    tight = True
    binary_only = True
    citation = "Teng, Lee & Xiang 2020, Theorem 2 (tight by Theorem 3)"
    formula = "R = -b log(2 (1 - pA)), pA > 1/2"

    def _gap(self, p_a, p_b):
        with np.errstate(divide="ignore"):
            val = shrink(-np.log(2.0 * (1.0 - p_a)))
        return np.where(p_a > 0.5, val, 0.0)

    def _gap_mp(self, p_a, p_b):
        if p_a <= mp.mpf(1) / 2:
            return mp.mpf(0)
        return mp.inf if p_a == 1 else -mp.log(2 * (1 - p_a))


@register
class ArsLaplaceL1(GapCertificate):
    """Hong & Hong (ARS), Theorem 7.1: anisotropic Laplace noise with scale b_i per coordinate.

    Region (a generalized cross-polytope) ``sum_i |delta_i| / b_i <= gap`` with
    ``gap = max{ 1/2 log(pA/pB), -log(1 - pA + pB) }`` (Teng et al. Thm 1 after z -> z / b);
    certified l1 radius ``min_i b_i * gap``. ``scale`` is a scalar or an array of any shape.
    Not flagged tight (its isotropic counterpart is Teng Thm 1).
    """

    name = "ars-laplace-l1"
    family = "laplace"
    norm = "l1"
    tight = False
    region_p = 1.0
    scale_param = "scale"
    isotropic_counterpart = "teng-laplace-l1"
    citation = "Hong & Hong, Anisotropic Randomized Smoothing, Theorem 7.1"
    formula = "region sum_i |delta_i|/b_i <= max{1/2 log(pA/pB), -log(1 - pA + pB)}; R = min_i b_i gap"

    def __init__(self, scale):
        b = check_positive("scale", scale)
        self._params = {"scale": float(b) if b.ndim == 0 else b.copy()}
        self._scales = b.copy()

    def _gap(self, p_a, p_b):
        return teng_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return teng_gap_mp(p_a, p_b)
