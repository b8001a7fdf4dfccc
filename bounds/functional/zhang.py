"""The ``zhang-l2`` and ``zhang-l1`` noise families and their theorems (Zhang, Yu, Zhang, Weng, Liu
& Hsieh 2020, "Black-box certification with randomized smoothing: a functional optimization based
framework", NeurIPS 2020, Thm 2).

The families (Zhang et al. Eq. 9): pi0(z) proportional to ||z||_2^-k exp(-||z||_2^2 / (2 sigma^2))
and ||z||_1^-k exp(-||z||_1 / b), with a real 0 <= k < d. The certificate classes give the engine
(:mod:`.engine`) the family's pieces: phi = -log of the radial density, the ends of Lambda's
conditional range, and the conditional law of ||z - r e_1|| given ||z|| (a Beta CDF for l2, a
power for l1), in float64 and in mpmath (for the twin, :mod:`.twin`). The worst perturbation in
the l2 / l1 ball of radius r is r e_1 (their Thm 2).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import special

from ...core.checks import check_int
from ...core.rounding import EPS
from ...core.roots import RootSearchError, bisect, expand, walk
from ..base import TwinUnavailable
from ..family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from ..gaussian import CohenGaussianL2, gaussian_gap_mp
from ..laplace import TengLaplaceL1, TengLaplaceL1Binary
from ..registry import register
from .engine import DEFAULT_DIM, FunctionalCertificate, check_k_dim


def dimension(name: str, value) -> int:
    """An input dimension: an integer >= 2 (Zhang et al.'s families need d - k > 0 with k >= 0,
    and the conditional laws need d >= 2)."""
    return check_int(name, value, minimum=2)


#: The parameters every Zhang family shares (k real: k = 0.9 is a different law from k = 0).
K_PARAM = Param("k", "real", nonnegative_real,
                "exponent k of the ||z||^-k factor (a real 0 <= k < dim; Zhang et al. Eq. 9)", 0)
DIM_PARAM = Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM)


class ZhangFamily(NoiseFamily):
    """Common part of the Zhang et al. families: parameters (scale, k, dim) with 0 <= k < dim."""

    @classmethod
    def check_joint(cls, params: dict) -> None:
        check_k_dim(params["k"], params["dim"])


@register_family
class ZhangL2Family(ZhangFamily):
    """pi0 ~ ||z||_2^-k exp(-||z||_2^2 / (2 sigma^2)): (||z||/sigma)^2 ~ chi-square(d - k) and the
    direction is uniform, so E z_i^2 = sigma^2 (d - k) / d."""

    name = "zhang-l2"
    params = (Param("sigma", "reals", positive_scalar, "Zhang et al. l2 family scale sigma (> 0)"),
              K_PARAM, DIM_PARAM)
    scale_param = "sigma"
    law = "density proportional to ||z||_2^-k exp(-||z||_2^2 / (2 sigma^2)) (Zhang et al. Eq. 9)"
    std_formula = "sigma sqrt((d - k) / d)"

    @classmethod
    def unit_std(cls, params):
        d, k = params["dim"], params["k"]
        return float(np.sqrt((d - k) / d))


@register_family
class ZhangL1Family(ZhangFamily):
    """pi0 ~ ||z||_1^-k exp(-||z||_1 / b): ||z||_1 / b ~ Gamma(nu), nu = d - k, and the direction
    is uniform on the l1 sphere (a Dirichlet(1, ..., 1) with random signs), so
    E z_i^2 = b^2 nu (nu + 1) 2 / (d (d + 1)) (2 b^2 for k = 0: Laplace noise)."""

    name = "zhang-l1"
    params = (Param("scale", "reals", positive_scalar, "Zhang et al. l1 family scale b (> 0)"),
              K_PARAM, DIM_PARAM)
    scale_param = "scale"
    law = "density proportional to ||z||_1^-k exp(-||z||_1 / b) (Zhang et al. Eq. 9)"
    std_formula = "b sqrt(2 nu (nu + 1) / (d (d + 1))), nu = d - k"

    @classmethod
    def unit_std(cls, params):
        d = params["dim"]
        nu = d - params["k"]
        return float(np.sqrt(2.0 * nu * (nu + 1.0) / (d * (d + 1.0))))


@register
class ZhangL2(FunctionalCertificate):
    """Zhang et al. 2020, Thm 2 (l2 case), family pi0 proportional to ||z||_2^-k exp(-||z||_2^2/(2 sigma^2)).

    ``0 <= k < dim``. The worst delta in the l2 ball of radius r is r e_1 (Thm 2); (||z||/sigma)^2
    ~ chi-square(dim - k), t = z_1/||z|| has (1 + t)/2 ~ Beta((d-1)/2, (d-1)/2), and
    ``Lambda = phi(||z||) - phi(||z - r e_1||)`` with ``phi(s) = k log s + s^2/(2 sigma^2)``.
    Certified iff L(pA, r) > 1/2 (binary) or L(pA, r) > 1 - L(1 - pB, r) (their Eq. 5 / Sec. 3).
    k = 0 is Gaussian noise and reproduces Cohen et al. (their Cor. 2); tight then (Neyman-Pearson).
    For k > 0 the bound is tight over all classifiers for this pi0 (it is the exact minimum over F).
    """

    name = "zhang-l2"
    norm = "l2"
    tight = True
    family = "zhang-l2"
    q = 2
    _scale_name = "sigma"
    scale_param = "sigma"
    citation = "Zhang et al. 2020 (NeurIPS), Eq. 4-6, Thm 2 (l2), Cor. 2 (k = 0: Cohen et al.)"
    formula = ("R = sup{r : max_lambda [lambda pA - E_pi0(lambda - pi_{r e1}/pi0)_+] > 1/2 "
               "(or > 1 - L(1 - pB, r))}, pi0 ~ ||z||^-k exp(-||z||^2/(2 sigma^2))")

    def __init__(self, sigma, k=0, dim=DEFAULT_DIM):
        super().__init__(sigma, k, dim)
        self._a = 0.5 * (self.dim - 1)

    def _F(self, delta, u, x):
        return self._k_log_ratio(delta, u) + delta * (2.0 * u + delta) * 0.5 + x

    def _dF(self, delta, u):
        return self._k_over(u + delta) + (u + delta)

    def _F_noise(self, delta, u, x):
        mag = np.abs(self._k_log_ratio(delta, u)) + np.abs(delta) * (u + 0.5 * delta) + np.abs(x)
        return 8 * EPS * mag

    def _s_closed(self, u, x):
        """s = ||z - delta|| / sigma solves k log s + s^2/2 = c := k log u + u^2/2 - x, i.e.
        s^2 = k omega(2c/k - log k) (omega: Wright omega, w + log w = z); k = 0: s^2 = 2c."""
        k = self.k
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if k == 0:
                s2 = u * u - 2.0 * x
            else:
                s2 = k * special.wrightomega(np.log(u * u / k) + (u * u - 2.0 * x) / k)
            return np.sqrt(s2)

    def _psi(self, u, rt, plus):
        k = self.k
        with np.errstate(divide="ignore"):
            if not plus:
                return -k * np.log1p(rt / u) - rt * u - 0.5 * rt * rt
            lin = rt * u - 0.5 * rt * rt
            return lin if k == 0 else k * (np.log(u) - np.log(np.abs(u - rt))) + lin

    def _pieces(self, rt):
        root = np.sqrt(rt * rt + 4.0 * self.k)
        m_minus, m_plus = 0.5 * (root - rt), 0.5 * (root + rt)
        return [(0.0, m_minus, False), (m_minus, np.inf, False),
                (0.0, rt, True), (rt, m_plus, True), (m_plus, np.inf, True)]

    def _inner(self, u, delta, s, small, rt):
        # ||z - r e1||^2 = u^2 + rt^2 - 2 rt u t with t = z_1/||z||, (1 + t)/2 ~ Beta(a, a):
        # ||z - r e1|| > s iff (1 + t)/2 < xb = ((u + rt)^2 - s^2) / (4 rt u) =
        # (rt - delta)(2u + rt + delta) / (4 rt u), and yb = 1 - xb = (s^2 - (u - rt)^2) / (4 rt u)
        # = (rt + delta)(2u + delta - rt) / (4 rt u), products of sums without cancellation.
        # The law is symmetric, so one betainc at the smaller argument gives both.
        xb = np.clip((rt - delta) * (2.0 * u + rt + delta) / (4.0 * rt * u), 0.0, 1.0)
        yb_num = np.where(small, (s - (u - rt)) * (s + (u - rt)), (rt + delta) * (2.0 * u + delta - rt))
        yb = np.clip(yb_num / (4.0 * rt * u), 0.0, 1.0)
        first = xb <= yb
        small = special.betainc(self._a, self._a, np.where(first, xb, yb))
        return np.where(first, small, 1.0 - small), np.where(first, 1.0 - small, small)

    def _spread(self, rt):
        nu = self.dim - self.k
        return rt * (self.k / np.sqrt(nu) + np.sqrt(nu)) / np.sqrt(self.dim)

    def _radius_k0_mp(self, p_a, p_b):
        """k = 0: Gaussian noise, Lambda ~ N(-rt^2/2, rt^2): Cohen's radius (Zhang et al. Cor. 2)."""
        return gaussian_gap_mp(p_a, p_b)

    def _working_dps(self, p_a, p_b, dps):
        """k = 0: ``dps`` (:func:`gaussian_gap_mp` raises the precision per tail itself)."""
        return dps if self._closed_k0() else super()._working_dps(p_a, p_b, dps)

    def _closed_form_k0(self, binary):
        return CohenGaussianL2(sigma=self.scale)

    def _cond_mp(self, u, x, rt, upper=False):
        k = mp.mpf(self.k)
        y = mp.log(u * u / k) + u * u / k - 2 * x / k
        w = k * mp.re(mp.lambertw(mp.exp(y)))  # ||z - delta||*^2 / sigma^2
        xb = ((u + rt) ** 2 - w) / (4 * rt * u)
        if xb <= 0 or xb >= 1:
            return mp.mpf(int((xb >= 1) != upper))
        a = mp.mpf(self.dim - 1) / 2
        # Beta(a, a) is symmetric: the upper tail is the lower tail at 1 - xb (mpmath's
        # betainc(a, a, xb, 1) subtracts and returns 0 or noise for tails below 10^-dps)
        return mp.betainc(a, a, 0, 1 - xb if upper else xb, regularized=True)


#: Doublings of the k = 0 l1 twin's bracket. With 1 - p_b exact (``twin_dps``) the root is below
#: rt = log(1/p_b) + log(1/(1 - p_a)) + 2 < 1500 for any pair of doubles, so 2^20 never binds
#: unless the arithmetic is broken; it turns a would-be endless loop into TwinUnavailable.
_K0_DOUBLINGS = 20


@register
class ZhangL1(FunctionalCertificate):
    """Zhang et al. 2020, Thm 2 (l1 case), family pi0 proportional to ||z||_1^-k exp(-||z||_1 / b).

    ``scale`` = b, ``0 <= k < dim``. Worst delta r e_1 (Thm 2). ||z||_1 / b ~ Gamma(d - k),
    v = |z_1|/||z||_1 ~ Beta(1, d - 1) with an independent random sign, so given rho = ||z||_1:
    ||z - r e_1||_1 = rho + r (sign -), rho + r - 2 rho v (sign +, rho v <= r), rho - r (otherwise).
    ``Lambda = phi(rho) - phi(||z - r e_1||_1)``, ``phi(s) = k log s + s / b``.
    k = 0 is Laplace noise: the binary radius is Teng et al.'s -b log(2(1 - pA)) (Zhang et al.
    Cor. 1, Eq. 7); the multi-class rule gives a Neyman-Pearson multi-class l1 certificate that is
    never below Teng et al. Thm 1. Tight for this pi0 (exact minimum over F).
    """

    name = "zhang-l1"
    norm = "l1"
    tight = True
    family = "zhang-l1"
    q = 1
    _scale_name = "scale"
    scale_param = "scale"
    citation = "Zhang et al. 2020 (NeurIPS), Eq. 4-6, Thm 2 (l1), Cor. 1 / Eq. 7 (k = 0: Teng et al.)"
    formula = ("R = sup{r : max_lambda [lambda pA - E_pi0(lambda - pi_{r e1}/pi0)_+] > 1/2 "
               "(or > 1 - L(1 - pB, r))}, pi0 ~ ||z||_1^-k exp(-||z||_1/b)")

    def __init__(self, scale, k=0, dim=DEFAULT_DIM):
        super().__init__(scale, k, dim)

    def _F(self, delta, u, x):
        return self._k_log_ratio(delta, u) + delta + x

    def _dF(self, delta, u):
        return self._k_over(u + delta) + 1.0

    def _F_noise(self, delta, u, x):
        return 8 * EPS * (np.abs(self._k_log_ratio(delta, u)) + np.abs(delta) + np.abs(x))

    def _s_closed(self, u, x):
        """s = ||z - delta||_1 / b solves k log s + s = c := k log u + u - x, i.e.
        s = k omega(c/k - log k) (Wright omega); k = 0: s = u - x."""
        k = self.k
        if k == 0:
            return u - np.asarray(x, float)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return k * special.wrightomega(np.log(u / k) + (u - x) / k)

    def _psi(self, u, rt, plus):
        k = self.k
        with np.errstate(divide="ignore"):
            if not plus:
                return -k * np.log1p(rt / u) - rt
            d = np.abs(u - rt)
            return (u - d) if k == 0 else k * (np.log(u) - np.log(d)) + (u - d)

    def _pieces(self, rt):
        return [(0.0, np.inf, False), (0.0, rt, True), (rt, np.inf, True)]

    def _inner(self, u, delta, s, small, rt):
        # with sign +, v = |z_1|/||z||_1 ~ Beta(1, d - 1): ||z - r e1||_1 = u + rt - 2uv < s iff
        # v > y = (rt - delta)/(2u), probability 1/2 (1 - y)^(d-1), 1 - y = (s - (rt - u))/(2u)
        y = np.clip((rt - delta) / (2.0 * u), 0.0, 1.0)
        w = np.clip((s - (rt - u)) / (2.0 * u), 0.0, 1.0)
        with np.errstate(divide="ignore"):
            g = 0.5 * np.exp((self.dim - 1) * np.where(small, np.log(w), np.log1p(-y)))
        return 1.0 - g, g

    def _spread(self, rt):
        nu = self.dim - self.k
        return rt * (self.k / nu + 1.0)

    def _atoms(self, rt):
        """k = 0: Lambda = |z_1| - |z_1 - rt| (units of b) has atoms at -rt and rt."""
        return (-rt, rt) if self.k == 0 else ()

    # -- k = 0: one-dimensional Laplace law of Lambda = |z1| - |z1 - rt| (units of b) --------
    @staticmethod
    def _lower_k0_mp(p, rt):
        """Neyman-Pearson bound for Laplace noise (Teng et al. 2020 / Zhang et al. Cor. 1):
        p e^-rt (p <= 1/2); e^-rt / (4 (1 - p)) (1/2 < p < 1 - e^-rt / 2); 1 - e^rt (1 - p) (above)."""
        if p <= mp.mpf(1) / 2:
            return p * mp.exp(-rt)
        if p < 1 - mp.exp(-rt) / 2:
            return mp.exp(-rt) / (4 * (1 - p))
        return 1 - mp.exp(rt) * (1 - p)

    def _closed_form_k0(self, binary):
        return (TengLaplaceL1Binary if binary else TengLaplaceL1)(scale=self.scale)

    def _radius_k0_mp(self, p_a, p_b):
        if p_b is None:
            return -mp.log(2 * (1 - p_a))
        g = lambda rt: self._lower_k0_mp(p_a, rt) - (1 - self._lower_k0_mp(1 - p_b, rt))  # noqa: E731
        try:  # rt = 1, 2, 4, ... while certified (g > 0 at rt = 0: p_a > p_b)
            br = expand(g, walk(mp.mpf(0.5), mp.mpf(0.5), 2), lambda v: v > 0, mp.mpf(0),
                        max_steps=_K0_DOUBLINGS + 1)
        except RootSearchError:
            raise TwinUnavailable(
                f"{self.name} twin: no bracket below rt = 2^{_K0_DOUBLINGS} at {mp.mp.dps} digits "
                f"(p_a={p_a}, p_b={p_b})") from None
        # bisection to adjacent mpf values; the certified end (g > 0) is returned
        return bisect(g, br.inside, br.outside, lambda v: v > 0, max_steps=4 * mp.mp.prec).inside

    def _cond_mp(self, u, x, rt, upper=False):
        k = mp.mpf(self.k)
        y = mp.log(u / k) + u / k - x / k
        rho = k * mp.re(mp.lambertw(mp.exp(y)))  # ||z - delta||_1* / b
        if rho >= u + rt or rho < abs(u - rt):
            return mp.mpf(int((rho < abs(u - rt)) != upper))
        g = (1 - (u + rt - rho) / (2 * u)) ** (self.dim - 1) / 2
        return g if upper else 1 - g


