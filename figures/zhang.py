"""Zhang et al. (2020)'s functional-optimization families: radial densities and dual landscapes.

:func:`radial_log_density` / :func:`radial_density_figure` show how the exponent k moves noise
mass towards the centre (their Fig. 1); :func:`zhang_log_ratio_samples`,
:func:`dual_objective` and :func:`dual_landscape_figure` draw the Monte Carlo dual
``lambda p - D(lambda)`` of their Sec. 3 next to the registered certificate's sound bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from ..core.checks import check_probability
from .plot import TWO_COLUMN, finish, new_figure

# ---------------------------------------------------------------------------------------------
# the radial law of each family: one function each (Zhang et al. 2020, Thm 2 and Eq. 13)
def _l2_log_density(s, dim, k, scale):
    """s = ||z||_2: s / sigma ~ chi with d - k degrees of freedom."""
    return stats.chi.logpdf(s / scale, dim - k) - math.log(scale)


def _l1_log_density(s, dim, k, scale):
    """s = ||z||_1 ~ Gamma(d - k, scale b)."""
    return stats.gamma.logpdf(s, dim - k, scale=scale)


def _linf_log_density(s, dim, k, scale):
    """s = ||z||_inf: density ~ s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1), normalized
    numerically (log-space trapezoid on a fine grid)."""
    from scipy.special import log_ndtr, logsumexp

    def unnorm(t):
        t = np.asarray(t, dtype=float)
        # erf(x / sqrt 2) = 1 - 2 Phi(-x): log via log1p of -2 Phi(-x) = exp(log 2 + log_ndtr(-x))
        x = t / scale
        log_erf = np.log1p(-np.exp(math.log(2.0) + log_ndtr(-x)))
        return -k * np.log(t) - x * x / 2 + (dim - 1) * log_erf

    grid = np.linspace(1e-6, scale * (6.0 + math.sqrt(2 * math.log(dim + 1))), 20001)
    log_z = logsumexp(unnorm(grid)) + math.log(grid[1] - grid[0])
    return np.where(s > 0, unnorm(np.where(s > 0, s, 1.0)), -np.inf) - log_z


def _l2_log_ratios(rng, r, dim, k, scale, n):
    """rho = ||z||_2 = sigma sqrt(chi2_(d-k)); t = z_1/rho with (1 + t)/2 ~ Beta((d-1)/2,
    (d-1)/2); ``||z - delta||^2 = rho^2 - 2 r rho t + r^2``; log ratio = -k/2 log(||z -
    delta||^2 / rho^2) - (r^2 - 2 r rho t) / (2 sigma^2)."""
    rho = scale * np.sqrt(rng.chisquare(dim - k, n))
    t = 2.0 * rng.beta((dim - 1) / 2, (dim - 1) / 2, n) - 1.0 if dim > 1 else rng.choice([-1.0, 1.0], n)
    sq = rho * rho - 2.0 * r * rho * t + r * r
    return -0.5 * k * np.log(sq / (rho * rho)) - (r * r - 2.0 * r * rho * t) / (2 * scale**2)


def _l1_log_ratios(rng, r, dim, k, scale, n):
    """rho = ||z||_1 ~ Gamma(d - k, b); |z_1| = u rho, u ~ Beta(1, d - 1), random sign; ``||z -
    delta||_1 = rho - |z_1| + |z_1 - r|``; log ratio = -k log(||z - delta||_1 / rho) - (||z -
    delta||_1 - rho) / b."""
    rho = rng.gamma(dim - k, scale, n)
    u = rng.beta(1.0, dim - 1.0, n) if dim > 1 else np.ones(n)
    z1 = rng.choice([-1.0, 1.0], n) * u * rho
    l1 = rho - np.abs(z1) + np.abs(z1 - r)
    return -k * np.log(l1 / rho) - (l1 - rho) / scale


@dataclass(frozen=True)
class _Radial:
    """What the figures need of one Zhang family's radial law: the norm's TeX, the right end of
    the density plot, the log density, and (where a 2-D reduction exists) log-ratio samples."""

    norm_tex: str
    extent: Callable[[int, float], float]
    log_density: Callable
    log_ratios: Callable | None


_RADIAL = {
    "zhang-l2": _Radial(r"\|z\|_2", lambda d, s: 1.6 * s * math.sqrt(d), _l2_log_density, _l2_log_ratios),
    "zhang-l1": _Radial(r"\|z\|_1", lambda d, s: 1.6 * s * d, _l1_log_density, _l1_log_ratios),
    "zhang-linf": _Radial(r"\|z\|_\infty", lambda d, s: s * (1.5 + math.sqrt(2 * math.log(2 * d))),
                          _linf_log_density, None),
}


def _check_zhang(family, dim, k, scale) -> _Radial:
    """The radial law of ``family`` after checking the arguments (dim >= 1, 0 <= k < dim, scale >
    0; the figures also draw d = 1, which the certificates refuse)."""
    if family not in _RADIAL:
        raise ValueError(f"family must be one of {tuple(_RADIAL)}, got {family!r}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if not (isinstance(k, (int, float, np.integer, np.floating)) and 0 <= k < dim):
        raise ValueError(f"k must satisfy 0 <= k < dim = {dim}, got {k!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return _RADIAL[family]


def _scale_tex(family: str) -> str:
    """The family's declared scale parameter (bounds.family) as TeX: sigma, or b for ``scale``."""
    from ..bounds.family import noise_family

    return {"sigma": r"\sigma", "scale": "b"}[noise_family(family).scale_param]


def radial_log_density(family: str, s, dim: int, k: float, scale: float) -> np.ndarray:
    """Log density of the radial variable of the Zhang et al. (2020) families (their Fig. 1).

    * ``zhang-l2``: pi0 ~ ||z||_2^-k exp(-||z||_2^2 / (2 sigma^2)); s = ||z||_2 has density
      ~ s^(d-1-k) exp(-s^2/(2 sigma^2)), i.e. s/sigma ~ chi with d - k degrees of freedom.
    * ``zhang-l1``: pi0 ~ ||z||_1^-k exp(-||z||_1 / b); s = ||z||_1 ~ Gamma(d - k, scale b).
    * ``zhang-linf``: pi0 ~ ||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2)) (their Eq. 13); s =
      ||z||_inf has density ~ s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1), normalized
      numerically (log-space trapezoid on a fine grid).
    ``scale`` is sigma (l2, linf) or b (l1). Returns -inf where the density is 0.
    """
    law = _check_zhang(family, dim, k, scale)
    with np.errstate(divide="ignore"):
        return law.log_density(np.asarray(s, dtype=float), dim, k, scale)


def radial_density_figure(family: str = "zhang-l2", ks: Sequence[float] = (0, 100, 300, 500),
                          dim: int = 784, scale: float = 1.0, path=None):
    """Density of the radial variable ||z|| of the Zhang et al. (2020) family for several k
    (their Fig. 1): larger k moves noise mass towards the centre."""
    law = _check_zhang(family, dim, 0, scale)
    fig, (ax,) = new_figure()
    top = law.extent(dim, scale)
    s = np.linspace(top / 2000, top, 2000)
    for i, k in enumerate(ks):
        _check_zhang(family, dim, k, scale)
        ax.plot(s, np.exp(radial_log_density(family, s, dim, k, scale)), color=f"C{i % 10}",
                lw=1.5, label=f"k = {k:g}")
    ax.set_xlabel(f"${law.norm_tex}$ (noise radius)")
    ax.set_ylabel("density")
    ax.set_title(f"{family}: $d = {dim}$, ${_scale_tex(family)} = {scale:g}$", fontsize=9)
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return finish(fig, path)


def zhang_log_ratio_samples(family: str, r: float, dim: int, k: float, scale: float,
                            n: int = 200_000, seed: int = 0) -> np.ndarray:
    """Samples of log(pi_delta(z) / pi0(z)), z ~ pi0, at the worst-case delta = r e_1 (Zhang et
    al. 2020 Thm 2) for the ``zhang-l2`` and ``zhang-l1`` families, from the exact 2-D reduction
    (:func:`_l2_log_ratios`, :func:`_l1_log_ratios`).

    For figures (Monte Carlo, no error bound): the certificates' own ``lower_bound`` is the sound
    quantity.
    """
    law = _check_zhang(family, dim, k, scale)
    if law.log_ratios is None:
        raise ValueError("the dual landscape figure supports zhang-l2 and zhang-l1 (linf is d-dimensional)")
    return law.log_ratios(np.random.default_rng(seed), r, dim, k, scale, n)


def dual_objective(lams, p: float, log_ratios: np.ndarray) -> np.ndarray:
    """``lambda p - D(lambda)`` with ``D(lambda) = E_pi0[(lambda - pi_delta/pi0)_+]`` estimated on
    samples of the log likelihood ratio (Zhang et al. 2020, Sec. 3, the dual of their Eq. 5)."""
    ratio = np.exp(np.asarray(log_ratios, dtype=float))
    lams = np.atleast_1d(np.asarray(lams, dtype=float))
    srt = np.sort(ratio)
    csum = np.concatenate([[0.0], np.cumsum(srt)])
    idx = np.searchsorted(srt, lams, side="left")  # count of ratio < lambda
    d = (lams * idx - csum[idx]) / srt.size
    return lams * p - d


def dual_landscape_figure(family: str = "zhang-l2", p: float = 0.8, radii=(0.1, 0.25, 0.5),
                          dim: int = 16, k: float = 0, scale: float = 1.0, n: int = 100_000,
                          seed: int = 0, path=None):
    """Left: the dual objective ``lambda p - D(lambda)`` against lambda for several radii, its
    maximizer marked (it sits at the p-quantile of the likelihood ratio under pi0). Right: the
    lower bound ``L(p, r) = max_lambda {lambda p - D(lambda)}`` against r, with the registered
    certificate's sound ``lower_bound`` overlaid when ``family`` is registered, and for
    ``zhang-l2`` with k = 0 the Neyman-Pearson value ``Phi(Phi^-1(p) - r/sigma)`` (Zhang et al.
    Cor. 2: the bound equals Cohen's). Curves from samples are marked Monte Carlo.
    """
    p = float(check_probability("p", p))
    fig, (ax, bx) = new_figure(TWO_COLUMN, ncols=2)
    for i, r in enumerate(radii):
        lr = zhang_log_ratio_samples(family, float(r), dim, k, scale, n, seed)
        lam_star = float(np.quantile(np.exp(lr), p))
        lams = np.linspace(0.0, 3.0 * max(lam_star, 1e-3), 400)
        obj = dual_objective(lams, p, lr)
        ax.plot(lams, obj, color=f"C{i}", lw=1.5, label=f"r = {r:g}")
        ax.axvline(lam_star, color=f"C{i}", ls=":", lw=1)
        j = int(np.argmax(obj))
        ax.plot(lams[j], obj[j], "o", color=f"C{i}", ms=4)
    ax.set_xlabel(r"$\lambda$")
    ax.set_ylabel(r"$\lambda p - D(\lambda)$  (Monte Carlo)")
    ax.set_title(f"{family}, d = {dim}, k = {k:g}, p = {p:g} (dotted: p-quantile of ratio)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    rs = np.linspace(0.0, 1.5 * max(radii), 16)
    lb_mc = []
    for r in rs:
        lr = zhang_log_ratio_samples(family, float(r), dim, k, scale, n, seed)
        lam_star = float(np.quantile(np.exp(lr), p))
        lams = np.linspace(0.0, 3.0 * max(lam_star, 1e-3), 600)
        lb_mc.append(float(dual_objective(lams, p, lr).max()))
    bx.plot(rs, lb_mc, "o-", ms=3, lw=1.2, label="max over $\\lambda$ (Monte Carlo)")
    if family == "zhang-l2" and k == 0:
        bx.plot(rs, stats.norm.cdf(stats.norm.ppf(p) - rs / scale), "k--", lw=1,
                label=r"Neyman-Pearson $\Phi(\Phi^{-1}(p) - r/\sigma)$")
    cert = _zhang_certificate(family, dim, k, scale)
    if cert is not None and hasattr(cert, "lower_bound"):
        bx.plot(rs, [float(cert.lower_bound(p, float(r))) for r in rs], color="C3", lw=1.5,
                label=f"{family}.lower_bound (sound)")
    bx.axhline(0.5, color="gray", lw=0.8, ls=":")
    bx.set_xlabel(r"$r$ (perturbation norm)")
    bx.set_ylabel(r"lower bound $L(p, r)$ on $P(\mathrm{class\ A})$")
    bx.set_ylim(0, 1)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    return finish(fig, path)


def _zhang_certificate(family, dim, k, scale):
    """The registered Zhang certificate with these parameters, or None before it exists."""
    from ..bounds import certificate_class, certificates
    from ..bounds.family import noise_family

    if family not in certificates():
        return None
    cls = certificate_class(family)
    try:
        return cls.from_std(None, dim=dim, k=k, **{noise_family(cls.family).scale_param: scale})
    except (NotImplementedError, TypeError, ValueError):
        return None

