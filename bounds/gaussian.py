"""Gaussian smoothing, noise N(mu, diag(sigma^2)): Cohen et al. 2019, Hong & Hong (ARS), ANCER.

The mean mu never changes a radius (ARS Section 4), so it is not a parameter here.
Gap functions use the standard normal quantile Phi^-1 (``scipy.special.ndtri``, accurate to a few
ulps; Phi^-1(p) for p near 1 is evaluated through 1 - p, exact for p >= 1/2).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy.special import ndtri

from ..core.checks import as_float_array, check_positive
from ..core.rounding import TINY, shrink, sound_difference
from .base import GapCertificate
from .family import NoiseFamily, Param, broadcast_to_dim, positive, register_family
from .registry import register


@register_family
class Gaussian(NoiseFamily):
    """Gaussian noise N(mu, diag(sigma^2)) (Cohen et al. 2019; ARS Sec. 4): std = sigma.

    The mean mu never changes a radius (ARS Section 4), so it is no parameter here."""

    name = "gaussian"
    params = (Param("sigma", "reals", positive,
                    "Gaussian standard deviation per coordinate (scalar, or an array for anisotropic noise)"),)
    scale_param = "sigma"
    law = "density proportional to exp(-sum_i z_i^2 / (2 sigma_i^2))"
    std_formula = "sigma"

    @classmethod
    def unit_std(cls, params):
        return 1.0


def mixture_weights(name: str, value) -> np.ndarray:
    """Mixture weights alpha_k: a 1-D array of K finite values > 0 summing to 1 (to 1e-9)."""
    w = check_positive(name, value)
    if w.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of K mixture weights, got shape {w.shape}")
    if abs(float(np.sum(w)) - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {float(np.sum(w))!r}")
    return w


def mixture_sigmas(name: str, value) -> np.ndarray:
    """Component standard deviations: K scalars or a K x d array of finite values > 0."""
    s = check_positive(name, value)
    if s.ndim == 0:
        raise ValueError(f"{name} must have one row per mixture component (K scalars or K x d), got a scalar")
    return s


@register_family
class GaussianMixture(NoiseFamily):
    """Gaussian mixture sum_k alpha_k N(0, diag(sigma_k^2)) (Eiras et al., ANCER, App. B.1).

    Per-coordinate std ``sqrt(sum_k alpha_k sigma_k^2)`` (the mixture's second moment); at a matched
    std :meth:`params_for_std` gives one component (K = 1, sigma = std)."""

    name = "gaussian-mixture"
    params = (Param("weights", "reals", mixture_weights,
                    "mixture weights alpha_k (K positive numbers summing to 1)"),
              Param("sigmas", "reals", mixture_sigmas,
                    "mixture component standard deviations (K scalars or a K x d array)"))
    scale_param = "sigmas"
    law = "sum_k alpha_k N(0, diag(sigma_k^2))"
    std_formula = "sqrt(sum_k alpha_k sigma_k^2)"

    @classmethod
    def check_joint(cls, params):
        w, s = params["weights"], params["sigmas"]
        if s.shape[0] != w.size:
            raise ValueError(f"sigmas must have K = {w.size} rows (K scalars or K x d), got shape {s.shape}")

    @classmethod
    def unit_std(cls, params):
        """``sqrt(sum_k alpha_k (sigma_k / m)^2)`` with ``m = max_k sigma_k`` per coordinate, so
        that ``std = m * unit_std`` neither overflows nor underflows where sigma_k^2 would."""
        w = as_float_array("weights", params["weights"])
        s = as_float_array("sigmas", params["sigmas"])
        top = s.max(axis=0)
        w = w.reshape((-1,) + (1,) * (s.ndim - 1))
        return np.sqrt((w * (s / top) ** 2).sum(axis=0))

    @classmethod
    def std(cls, params):
        return as_float_array("sigmas", params["sigmas"]).max(axis=0) * cls.unit_std(params)

    @classmethod
    def params_for_std(cls, std, per_coordinate_dim=None, **given):
        """Given ``weights`` (and ``sigmas``): that mixture. Otherwise one component whose sigma
        is the given ``sigmas`` or ``std`` (broadcast to ``per_coordinate_dim`` coordinates)."""
        given = {k: v for k, v in given.items() if v is not None}
        if "weights" in given:
            return cls.validate(given)
        s = check_positive("sigmas", given["sigmas"]) if "sigmas" in given else check_positive("std", std)
        s = broadcast_to_dim("sigmas", s, per_coordinate_dim)
        return cls.validate({"weights": np.ones(1), "sigmas": np.asarray(s)[None, ...]})


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
        if p >= 0.5:  # 2p - 1 is exact at the working precision (p is a float)
            return mp.sqrt(2) * mp.erfinv(2 * p - 1)
        # 1 - 2p needs about -log10(p) more digits to be represented exactly
        extra = int(-mp.log10(p)) + 10
        with mp.workdps(mp.mp.dps + extra):
            return +(-mp.sqrt(2) * mp.erfinv(1 - 2 * p))

    if p_b is None:
        return q(p_a) if p_a > 0.5 else mp.mpf(0)
    if p_a <= p_b:
        return mp.mpf(0)
    return (q(p_a) - q(p_b)) / 2


class _GaussianGap(GapCertificate):
    """Shared by the single-Gaussian certificates: noise N(0, diag(sigma^2)) and the Cohen gap."""

    family = "gaussian"

    def _gap(self, p_a, p_b):
        return gaussian_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return gaussian_gap_mp(p_a, p_b)

    def _working_dps(self, p_a, p_b, dps):
        """``dps`` itself: :func:`gaussian_gap_mp` raises the precision for each tail it needs
        (raising it here as well would only make the deep-tail erfinv slower)."""
        return dps


@register
class CohenGaussianL2(_GaussianGap):
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


class _AnisotropicGaussian(_GaussianGap):
    """Shared body of the diagonal-Gaussian certificates: noise N(mu, diag(sigma^2)).

    By the change of variables z = delta / sigma the anisotropic Gaussian becomes N(0, I), so
    Cohen's Theorem 1 certifies the ellipsoid ``||delta / sigma||_2 <= gap`` with
    ``gap = (Phi^-1(pA) - Phi^-1(pB)) / 2``; the largest l2 ball inside has radius
    ``min_i sigma_i * gap``. ``sigma`` is a scalar (isotropic) or an array of any shape.
    """

    norm = "l2"
    region_p = 2.0
    scale_param = "sigma"
    isotropic_counterpart = "cohen-gaussian-l2"

    def __init__(self, sigma):
        s = check_positive("sigma", sigma)
        self._params = {"sigma": float(s) if s.ndim == 0 else s.copy()}
        self._scales = s.copy()

@register
class ArsGaussianL2(_AnisotropicGaussian):
    """Hong & Hong, anisotropic randomized smoothing (ARS), Theorems 4.1 and 4.2.

    Noise N(mu, diag(sigma_1^2, ..., sigma_d^2)); the mean mu never changes the radius (ARS
    Section 4). Thm 4.1: certified l2 radius ``R = min_i sigma_i * (Phi^-1(pA) - Phi^-1(pB)) / 2``
    (binary ``min_i sigma_i Phi^-1(pA)``). Thm 4.2 / Eq. 30: the certified region is the ellipsoid
    ``||delta / sigma||_2 <= (Phi^-1(pA) - Phi^-1(pB)) / 2`` (``region``); R is its enclosed ball.

    ``tight`` is False: the region is the image of Cohen's tight ball under the map
    z -> sigma * z (Cohen et al. Thm 2 transfers), but ARS states no tightness theorem.
    """

    name = "ars-gaussian-l2"
    citation = "Hong & Hong, Anisotropic Randomized Smoothing, Theorem 4.1 (radius), Theorem 4.2 / Eq. 30 (ellipsoid)"
    formula = "R = min_i sigma_i (Phi^-1(pA) - Phi^-1(pB))/2; region ||delta/sigma||_2 <= gap"


@register
class AncerEllipsoid(_AnisotropicGaussian):
    """Eiras et al., ANCER, Corollary 1: the ellipsoid certificate of N(0, Sigma), Sigma diagonal.

    Region ``||delta||_{Sigma,2} = sqrt(delta^T Sigma^-1 delta) <= gap`` with
    ``gap = (Phi^-1(pA) - Phi^-1(pB)) / 2`` (binary ``Phi^-1(pA)``), ``Sigma = diag(sigma^2)``.
    ``radius`` is the l2 ball inside, ``min_i sigma_i * gap``; the region's proxy radius
    (ANCER Sec. 5.1) is ``gap * (prod sigma_i)^(1/d)`` and its volume
    ``gap^d pi^(d/2) / Gamma(d/2 + 1) prod sigma_i``. Not flagged tight (no tightness theorem in
    ANCER; see :class:`ArsGaussianL2`).
    """

    name = "ancer-ellipsoid"
    citation = "Eiras et al., ANCER (TMLR 2022), Corollary 1; proxy radius Sec. 5.1"
    formula = "region sqrt(delta^T Sigma^-1 delta) <= (Phi^-1(pA) - Phi^-1(pB))/2; R = min_i sigma_i gap"


def _float_below(x) -> float:
    """The largest float64 that is <= the mpmath number ``x``."""
    f = float(x)
    return f if mp.mpf(f) <= x else float(np.nextafter(f, -np.inf))


#: The two certificate constants c of the mixture region ``||delta||_{B,2} <= c (pA - pB)``.
_MIXTURE_CONSTANTS = {
    "derived": lambda: mp.sqrt(mp.pi / 2),  # c = 1/(2L), L = 1/sqrt(2 pi): our derivation
    "printed": lambda: 1 / mp.sqrt(2 * mp.pi),  # ANCER Cor. 3 as printed (L = sqrt(pi/2), Prop. 7)
}


@register
class AncerGaussianMixture(GapCertificate):
    """Eiras et al., ANCER, App. B.1 Corollary 3: smoothing with a Gaussian mixture.

    Noise ``sum_k alpha_k N(0, Sigma_k)``, ``Sigma_k = diag(sigma_k^2)`` (``sigmas`` holds K
    scalars or a K x d array of standard deviations). Region
    ``||delta||_{B,2} = sqrt(delta^T B^-1 delta) <= c (pA - pB)`` (binary ``c (2 pA - 1)``) with
    ``B^-1 = sum_k alpha_k Sigma_k^-1``; ``radius`` is the l2 ball inside it.

    The constant. For f with values in [0, 1] and a unit direction u, Stein's lemma gives
    ``grad g . u = sum_k alpha_k E_k[f(x + eps) eps^T Sigma_k^-1 u]``. With
    ``Z_k = eps^T Sigma_k^-1 u ~ N(0, u^T Sigma_k^-1 u)``, ``E[f Z_k] <= E[(Z_k)_+] =
    sqrt(u^T Sigma_k^-1 u) / sqrt(2 pi)``, and Jensen (sqrt is concave) gives
    ``sum_k alpha_k sqrt(u^T Sigma_k^-1 u) <= sqrt(u^T B^-1 u)``. So each class probability is
    ``L = 1/sqrt(2 pi)``-Lipschitz in the B-norm (the half-space classifier attains it for K = 1),
    and ``pA - L r > pB + L r`` certifies ``r < (pA - pB)/(2L) = sqrt(pi/2) (pA - pB)``:
    ``constant="derived"`` (default), c = sqrt(pi/2). For K = 1 and pA, pB near 1/2 this is
    Cohen's radius to first order (``sigma/2 (Phi^-1(pA) - Phi^-1(pB)) ~ sigma sqrt(pi/2) (pA - pB)``).

    As printed, ANCER Prop. 6 states the Lipschitz constant sqrt(2/pi) (Salman et al.'s bound,
    which bounds ``|E[f Z]| <= E|Z|`` and is loose by 2 for f in [0, 1]) and Prop. 7 states
    sqrt(pi/2); Cor. 3 uses c = 1/sqrt(2 pi), i.e. L = sqrt(pi/2). All of these are upper bounds of
    the true L, hence sound; ``constant="printed"`` reproduces Cor. 3 and is smaller than the
    derived constant by the factor pi. The chosen c is exposed as ``self.constant`` (mpmath,
    exact) and ``self.lipschitz`` = 1/(2c). Not tight (a Lipschitz bound, not Neyman-Pearson).
    """

    name = "ancer-gaussian-mixture"
    family = "gaussian-mixture"
    norm = "l2"
    tight = False
    region_p = 2.0
    scale_param = "sigmas"
    isotropic_counterpart = None
    citation = (
        "Eiras et al., ANCER (TMLR 2022), App. B.1 Corollary 3 (Props. 6/7); constant re-derived "
        "(Stein + Jensen): c = sqrt(pi/2)"
    )
    formula = "region sqrt(delta^T B^-1 delta) <= c (pA - pB), B^-1 = sum_k alpha_k Sigma_k^-1"

    def __init__(self, weights, sigmas, constant="derived"):
        if not isinstance(constant, str) or constant not in _MIXTURE_CONSTANTS:
            raise ValueError(f"constant must be 'derived' or 'printed', got {constant!r}")
        p = GaussianMixture.validate({"weights": weights, "sigmas": sigmas})
        w, s = p["weights"], p["sigmas"]
        self._params = {"weights": w.copy(), "sigmas": s.copy(), "constant": constant}
        with mp.workdps(30):
            self.constant = +_MIXTURE_CONSTANTS[constant]()
            self.lipschitz = 1 / (2 * self.constant)
        self._c_float = _float_below(self.constant)
        self._scales = self._b_scales(w, s)

    @staticmethod
    def _b_scales(w, s):
        """Semi-axes per unit gap, ``B_ii^(1/2) = (sum_k alpha_k / sigma_ki^2)^(-1/2)`` with
        ``alpha = w / sum(w)``, rounded down; no intermediate overflows or underflows.

        Scaled form: with ``w_k = m_k 2^a_k`` and ``sigma_ki = n_ki 2^b_ki`` (``frexp``, exact,
        mantissas in [1/2, 1)), ``w_k / sigma_ki^2 = q_ki 2^E_ki`` with ``q = m / n^2`` in [1/2, 4]
        and ``E = a - 2 b``. With ``E*`` the even integer at or above ``max_k E_ki``,
        ``S = sum_k q_ki 2^(E_ki - E*)`` lies in [1/8, 4K] and
        ``B_ii^(1/2) = sqrt(sum w) / sqrt(S) * 2^(-E*/2)``.

        Error budget (EPS units): q 1 (two roundings), the shifted terms exact or, when one
        underflows, off by 2^-1075 absolute, below EPS relative to S >= 1/8 whatever K is; the sum
        of K positive terms (K - 1)/2; ``math.fsum`` 1/2; the two square roots, the division 3/2:
        under K + 4. We take 2K + 16. The final power of two is exact unless the result is
        subnormal; there it rounds to nearest and one step down restores a lower bound. The exact
        value is at least ``min_k sigma_ki`` (each term is at most ``alpha_k / min_k sigma_ki^2``),
        the floor of a subnormal result (which keeps every axis positive)."""
        shape = (-1,) + (1,) * (s.ndim - 1)
        mw, ew = np.frexp(w.reshape(shape))
        ms, es = np.frexp(s)
        q = mw / (ms * ms)
        e = ew.astype(np.int64) - 2 * es.astype(np.int64)
        top = e.max(axis=0)
        top = top + (top & 1)
        with np.errstate(under="ignore"):
            tot = (np.ldexp(q, (e - top).astype(np.int32))).sum(axis=0)
        v = shrink(np.sqrt(math.fsum(w.tolist())) / np.sqrt(tot), 2 * w.size + 16)
        with np.errstate(under="ignore"):
            out = np.ldexp(v, (-top // 2).astype(np.int32))
        sub = out < TINY
        return np.where(sub, np.maximum(np.nextafter(out, 0.0), s.min(axis=0)), out)

    def _radius_scale_mp(self):
        """Exact ``min_i B_ii^(1/2)``, evaluated on the coordinates that can be the minimum."""
        w, s = self._params["weights"], self._params["sigmas"]
        flat = s.reshape(w.size, -1)
        approx = self._scales.reshape(-1)
        with np.errstate(over="ignore"):  # near the largest double every axis is a candidate
            cand = np.flatnonzero(approx <= approx.min() * (1 + 1e-9))
        wm = [mp.mpf(float(x)) for x in w]
        tot = mp.fsum(wm)

        def axis(i):
            return 1 / mp.sqrt(mp.fsum(a / tot / mp.mpf(float(flat[k, i])) ** 2 for k, a in enumerate(wm)))

        return min(axis(int(i)) for i in cand)

    def _gap(self, p_a, p_b):
        # binary: 2 pA - 1 is exact for pA in [1/2, 1]; pA - pB rounds once (1/2 ulp).
        d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
        return np.where(d > 0, shrink(self._c_float * d, 4), 0.0)

    def _gap_mp(self, p_a, p_b):
        d = 2 * p_a - 1 if p_b is None else p_a - p_b
        return _MIXTURE_CONSTANTS[self._params["constant"]]() * max(d, mp.mpf(0))
