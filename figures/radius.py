"""Certified radius against pA for several certificates at matched noise (Teng et al. 2020).

:func:`radius_vs_pa_figure` is their Fig. 6 over any registered certificates, built at the same
per-coordinate noise std; :func:`rops_figure` compares Laplace with Gaussian smoothing in the l1
norm (after their App. D, Figs. 10-11). Radii of different norms are compared through
:func:`ball_inclusion_factor` (Hoelder's inequality).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .plot import ONE_COLUMN, TWO_COLUMN, finish, new_figure

_NORM_P = {"l1": 1.0, "l2": 2.0, "linf": math.inf}
_NORM_TEX = {"l1": r"$\ell_1$", "l2": r"$\ell_2$", "linf": r"$\ell_\infty$"}


def ball_inclusion_factor(src: str, dst: str, dim: int | None = None) -> float:
    """The largest c with ``{||d||_dst <= c R} subset {||d||_src <= R}`` for every R.

    ``||d||_p <= ||d||_q`` for p >= q gives c = 1 (e.g. an l2 radius R certifies the l1 ball of
    radius R, since ``||d||_2 <= ||d||_1``); for p < q Hoelder gives
    ``||d||_p <= d^(1/p - 1/q) ||d||_q``, so c = d^-(1/p - 1/q) (needs ``dim``), rounded down.
    """
    for arg, v in (("src", src), ("dst", dst)):
        if v not in _NORM_P:
            raise ValueError(f"{arg} must be one of {sorted(_NORM_P)}, got {v!r}")
    p, q = _NORM_P[src], _NORM_P[dst]
    if p >= q:
        return 1.0
    if dim is None or int(dim) < 1:
        raise ValueError(f"dim (a positive integer) is needed to compare {src} and {dst} balls, got {dim!r}")
    expo = 1.0 / p - (0.0 if math.isinf(q) else 1.0 / q)
    return float(np.nextafter(float(dim) ** -expo * (1 - 8 * np.finfo(float).eps), 0.0))


def matched_certificate(name: str, std, dim, k):
    """``certificate_class(name).from_std(std, dim=..., k=...)``, or the reason it cannot be built."""
    from ..bounds import certificate_class, certificates

    if name not in certificates():
        return None, f"{name}: not registered (yet)"
    try:
        return certificate_class(name).from_std(std, dim=dim, k=k), None
    except (NotImplementedError, TypeError, ValueError) as exc:
        return None, f"{name}: {exc}"


def _pa_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """pA values for a radius curve: half evenly spaced, half geometric in 1 - pA (dense where
    radii grow fastest), so that straight segments between points, which lie above a convex
    curve, stay close to it."""
    tail = 1.0 - np.geomspace(1.0 - lo, max(1.0 - hi, 1e-9), n - n // 2)
    return np.unique(np.concatenate([np.linspace(lo, hi, n // 2), np.clip(tail, lo, hi)]))


def radius_vs_pa_figure(names: Sequence[str] | None = None, std: float = 0.5, dim: int | None = None,
                        k: int = 0, shares: Sequence[float | None] = (None,),
                        as_norm: str | None = None, pa_range=(0.5, 0.999), n_points: int = 200,
                        path=None):
    """Certified radius against pA for registered certificates at matched per-coordinate std.

    Each certificate is built with ``certificate_class(name).from_std(std, dim=dim, k=k)``. One
    panel per entry of ``shares``: ``None`` is the binary case (pB = 1 - pA); a number s plots
    the multi-class case pB = s (1 - pA) (binary-only theorems are left out of those panels).
    ``as_norm`` converts every radius to one norm through :func:`ball_inclusion_factor` and says
    so in the legend (e.g. Gaussian as l1: an l2 radius R certifies the l1 ball of radius R).
    Certificates that cannot be built are skipped; the reasons are in ``fig.skipped``.
    Expensive certificates (``expensive = True``, e.g. quadrature) get fewer pA values, drawn
    with markers so that the sampled points are visible.
    """
    from ..bounds import certificates

    names = certificates() if names is None else list(names)
    if not names:
        raise ValueError("names must list at least one certificate")
    lo, hi = float(pa_range[0]), float(pa_range[1])
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"pa_range must satisfy 0 <= low < high <= 1, got {pa_range!r}")
    if as_norm is not None and as_norm not in _NORM_P:
        raise ValueError(f"as_norm must be one of {sorted(_NORM_P)} or None, got {as_norm!r}")
    for share in shares:
        if share is not None and not (isinstance(share, (int, float)) and 0 < share <= 1):
            raise ValueError(f"shares must hold None (binary) or numbers in (0, 1], got {share!r}")
    certs, skipped = [], []
    for name in names:
        cert, why = matched_certificate(name, std, dim, k)
        (skipped.append(why) if cert is None else certs.append(cert))
    if not certs:
        raise ValueError(f"none of the certificates could be built: {'; '.join(skipped)}")
    fig, axes = new_figure(ONE_COLUMN if len(shares) == 1 else TWO_COLUMN, ncols=len(shares))
    for ax, share in zip(axes, shares):
        for i, cert in enumerate(certs):
            if share is not None and cert.binary_only:
                continue
            expensive = getattr(cert, "expensive", False)
            pa = _pa_grid(lo, hi, max(30, n_points // 5) if expensive else n_points)
            pb = None if share is None else share * (1.0 - pa)
            r = np.asarray(cert.radius(pa, pb), dtype=float)
            label = f"{cert.name} ({cert.norm})"
            if as_norm is not None and as_norm != cert.norm:
                c = ball_inclusion_factor(cert.norm, as_norm, dim)
                r = r * c
                why = (f"||\u03b4||$_{{{cert.norm[1:]}}}$ \u2264 ||\u03b4||$_{{{as_norm[1:]}}}$"
                       if c == 1.0 else f"\u00d7{c:.3g}, H\u00f6lder")
                label = f"{cert.name}: {cert.norm} radius as {as_norm} ({why})"
            ls = ("-", "--", ":", "-.")[i % 4]
            ax.plot(pa, r, ls=ls, color=f"C{i % 10}", lw=1.6, label=label,
                    marker="." if expensive else None, ms=3)
        ax.set_xlabel(r"$p_A$ (lower bound on top-class probability)")
        norm_txt = _NORM_TEX.get(as_norm, "own norm")
        ax.set_ylabel(f"certified radius ({norm_txt})")
        case = "binary, $p_B = 1 - p_A$" if share is None else f"multi-class, $p_B = {share:g}(1 - p_A)$"
        ax.set_title(f"{case}; noise std {std:g}" + (f", d = {dim}" if dim else ""), fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    fig.skipped = skipped
    return finish(fig, path)


def rops_figure(std: float = 0.5, dim: int = 784, pa_range=(0.5, 0.9999), n_points: int = 300,
                laplace: str = "teng-laplace-l1-binary", gaussian: str = "cohen-gaussian-l2",
                path=None):
    """Laplace against Gaussian smoothing at the same per-coordinate std, in the l1 norm.

    Left: the certified l1 radius of each against pA (binary). The Gaussian l2 radius R
    certifies the l1 ball of radius R (``||d||_2 <= ||d||_1``). Right: their ratio
    R_Laplace / R_Gaussian (our reading of Teng et al.'s ratio of certified perturbation sizes,
    App. D): with b = std/sqrt 2, ``-b log(2(1 - pA)) / (std Phi^-1(pA))`` tends to 1/sqrt(pi)
    as pA -> 1/2 and grows without bound as pA -> 1, independently of std.
    """
    lo, hi = float(pa_range[0]), float(pa_range[1])
    lap, why_l = matched_certificate(laplace, std, dim, 0)
    gau, why_g = matched_certificate(gaussian, std, dim, 0)
    if lap is None or gau is None:
        raise ValueError(f"rops_figure needs both certificates: {why_l or ''} {why_g or ''}".strip())
    pa = np.linspace(lo, hi, n_points)[1:]
    rl = np.asarray(lap.radius(pa), dtype=float) * ball_inclusion_factor(lap.norm, "l1", dim)
    rg = np.asarray(gau.radius(pa), dtype=float) * ball_inclusion_factor(gau.norm, "l1", dim)
    fig, (ax, bx) = new_figure(TWO_COLUMN, ncols=2)
    ax.plot(pa, rl, color="C0", lw=1.6, label=f"Laplace ({laplace})")
    ax.plot(pa, rg, color="C1", lw=1.6, ls="--", label=f"Gaussian ({gaussian}), l2 radius as l1")
    ax.set_xlabel(r"$p_A$")
    ax.set_ylabel(r"certified $\ell_1$ radius")
    ax.set_title(f"binary, matched noise std {std:g}", fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rg > 0, rl / rg, np.nan)
    bx.plot(pa, ratio, color="C2", lw=1.6, label=r"$R_{\mathrm{Laplace}} / R_{\mathrm{Gauss}}$")
    bx.axhline(1.0, color="k", lw=0.8)
    bx.axhline(1 / math.sqrt(math.pi), color="gray", lw=0.8, ls=":", label=r"$1/\sqrt{\pi}$ ($p_A \to 1/2$)")
    bx.set_xlabel(r"$p_A$")
    bx.set_ylabel(r"ratio of certified $\ell_1$ radii")
    bx.set_xlim(lo, hi)
    bx.set_ylim(bottom=0)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7, loc="upper left")
    return finish(fig, path)


