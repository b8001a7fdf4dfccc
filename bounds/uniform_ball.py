"""Uniform noise on the l2 ball of radius lambda in R^d: the exact l2 certificate.

Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes" (ICML), certify this noise (their
code: ``UniformBall.certify_l2`` of tonyduan/rs4a) by the level-set method (their Sec. 4): the
likelihood ratio of the shifted and unshifted laws only takes the values 0, 1 and inf, so the
Neyman-Pearson worst case moves class A's mass out of ``B(0, lambda) minus B(delta, lambda)``
and class B's into the mirror set. With ``V(r)`` the volume fraction of ``B(0, lambda)`` that
``B(delta, lambda)`` misses (``||delta||_2 = r``), the smoothed classifier keeps A iff
``pA - V(r) > pB + V(r)``:

    certified iff  V(r) < g,   g = (pA - pB) / 2   (binary: g = pA - 1/2).

Derivation of V: the lens ``B(0, lambda) cap B(delta, lambda)`` is two caps of height
``lambda - r/2``; a cap of ``B(0, 1)`` cut at distance t from the centre has volume fraction
``I_{1-t^2}((d+1)/2, 1/2) / 2`` (regularized incomplete Beta), so with ``t = r / (2 lambda)``

    V(r) = 1 - I_{1-t^2}((d+1)/2, 1/2) = I_{t^2}(1/2, (d+1)/2),

the fraction of the ball in the slab ``|z_1| < r/2`` (``(z_1/lambda)^2 ~ Beta(1/2, (d+1)/2)`` for
a uniform point of the ball). Hence

    R = 2 lambda t*,   I_{t*^2}(1/2, (d+1)/2) = g,                                    (1)

rs4a's ``lambda (2 - 4 F^-1(3/4 - pA/2))`` with F the Beta((d+1)/2, (d+1)/2) CDF is the same
number in the binary case. The bound is tight (the worst case above is a classifier). The noise
has per-coordinate variance ``lambda^2 / (d + 2)`` (E||z||^2 = lambda^2 d / (d + 2)).

Numerics (float path, every step a provable lower bound, the incomplete Beta function ``betainc``
trusted to 64 ulps relative -- measured below 4 over d = 1..150,528 against mpmath):

* ``g`` rounded down (2 ulps); ``x = betaincinv(1/2, b, g)`` then checked a posteriori:
  while ``betainc(1/2, b, x) > g (1 - 64 eps)`` x steps down, so ``I_x <= g`` and ``sqrt(x)``
  rounded down is at most ``t*``;
* far tail (x would underflow): ``f(t) = I_{t^2}(1/2, b)`` is concave with ``f'(0) = 2/B(1/2, b)``,
  so ``t* >= g B / 2``; ``2/B`` is bounded above by ``f(t0)/t0`` at ``t0 = 1e-100`` (the relative
  gap is below ``(b-1) t0^2 / 3``, far below one ulp) grown by the betainc budget;
* the larger of the two lower bounds, times ``2 lambda`` (``GapCertificate``: two more roundings).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import special

from ..core.rounding import EPS, grow, shrink
from .base import GapCertificate, TwinUnavailable
from .family import NoiseFamily, Param, positive_int, positive_scalar, register_family
from .registry import register

#: Default input dimension (MNIST, as the Zhang families).
DEFAULT_DIM = 784
#: Relative error budget of scipy's regularized incomplete Beta function, in ulps.
BETAINC_ULPS = 64
#: Where the far-tail slope ``f(t0)/t0`` is read (x0 = t0^2 = 1e-200 is a normal double).
_T0 = 1e-100


@register_family
class UniformBallL2(NoiseFamily):
    """Uniform noise on the l2 ball of radius lambda in R^d (Yang et al. 2020; rs4a UniformBall):
    std = lambda / sqrt(d + 2)."""

    name = "uniform-ball-l2"
    params = (Param("ball_radius", "real", positive_scalar,
                    "radius lambda of the l2 ball the noise is uniform on (> 0)"),
              Param("dim", "int", positive_int, "input dimension d (>= 1)", DEFAULT_DIM))
    scale_param = "ball_radius"
    law = "uniform on the l2 ball {||z||_2 <= lambda} in R^d"
    std_formula = "lambda / sqrt(d + 2)"

    @classmethod
    def unit_std(cls, params):
        return 1.0 / math.sqrt(params["dim"] + 2.0)


def _half_gap(p_a, p_b):
    """A lower bound of g = (pA - pB)/2 (binary pA - 1/2, exact for pA >= 1/2); 0 if none."""
    d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
    return np.where(d > 0, shrink(0.5 * d, 2), 0.0)


def _t_from_inverse(g, b):
    """sqrt of scipy's betaincinv, stepped down until betainc certifies it (I_{t^2} <= g)."""
    with np.errstate(all="ignore"):
        x = special.betaincinv(0.5, b, g)
        x = np.where(np.isfinite(x) & (g > 0), np.minimum(x, 1.0), 0.0)
        limit = g * (1.0 - BETAINC_ULPS * EPS)
        for k in range(60):
            bad = (x > 0) & (special.betainc(0.5, b, x) > limit)
            if not bad.any():
                break
            x = np.where(bad, x * (1.0 - min(BETAINC_ULPS * EPS * 2.0**k, 0.5)), x)
        else:
            x = np.where(bad, 0.0, x)
    return np.nextafter(np.sqrt(x), 0.0) * (x > 0)


def _t_linear(g, b):
    """The far-tail lower bound ``t* >= g B(1/2, b) / 2 >= g / slope`` (module docstring)."""
    slope = grow(special.betainc(0.5, b, _T0 * _T0) / _T0, BETAINC_ULPS + 2)
    return shrink(g / slope, 2)


def ball_gap(p_a, p_b, dim: int):
    """A provable lower bound of ``2 t*`` in Eq. (1): the radius per unit ball radius."""
    g = _half_gap(p_a, p_b)
    b = 0.5 * (dim + 1)
    t = np.maximum(_t_from_inverse(g, b), _t_linear(g, b))
    return np.where(g > 0, 2.0 * t, 0.0)


def ball_gap_mp(p_a, p_b, dim: int, max_steps: int = 200):
    """``2 t*`` of Eq. (1) in mpmath: Newton on the concave ``f(t) = I_{t^2}(1/2, b) - g`` from
    ``t0 = g B(1/2, b) / 2 <= t*`` (the iterates increase to the root)."""
    g = (2 * p_a - 1 if p_b is None else p_a - p_b) / 2
    if g <= 0:
        return mp.mpf(0)
    b = mp.mpf(dim + 1) / 2
    beta = mp.beta(mp.mpf(1) / 2, b)
    t = g * beta / 2
    tol = mp.mpf(10) ** (-(3 * mp.mp.dps) // 4)  # Newton is quadratic: the last step squares it
    for _ in range(max_steps):
        f = mp.betainc(mp.mpf(1) / 2, b, 0, t * t, regularized=True) - g
        step = f / (2 * (1 - t * t) ** (b - 1) / beta)
        t -= step
        if abs(step) <= tol * t:
            return 2 * t
    raise TwinUnavailable(f"uniform-ball-l2 twin: Newton did not converge (g={g}, dim={dim})")


@register
class YangUniformBallL2(GapCertificate):
    """Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes": uniform noise on the l2
    ball of radius lambda in R^d, level-set method (Sec. 4), Eq. (1) of the module docstring:
    ``R = 2 lambda t*`` with ``I_{t*^2}(1/2, (d+1)/2) = (pA - pB)/2``. Tight (the level-set
    worst case is a classifier)."""

    name = "yang-uniform-ball-l2"
    family = "uniform-ball-l2"
    norm = "l2"
    region_p = 2.0
    tight = True
    scale_param = "ball_radius"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), level-set "
                "method, uniform l2-ball noise (rs4a UniformBall.certify_l2)")
    formula = "R = 2 lambda t, I_{t^2}(1/2, (d+1)/2) = (pA - pB)/2 (regularized incomplete Beta)"

    def __init__(self, ball_radius, dim=DEFAULT_DIM):
        self._params = UniformBallL2.validate({"ball_radius": ball_radius, "dim": dim})
        self._scales = np.asarray(self._params["ball_radius"])

    def _gap(self, p_a, p_b):
        return ball_gap(p_a, p_b, self._params["dim"])

    def _gap_mp(self, p_a, p_b):
        return ball_gap_mp(p_a, p_b, self._params["dim"])
