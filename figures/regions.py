"""Anisotropic certified regions: l2 radius against proxy radius (ANCER Fig. 3) and volumes.

:func:`region_radii` gives the enclosed l2 radius and the proxy radius of a certificate's region,
:func:`proxy_vs_l2_figure` scatters them per input (Eiras et al., ANCER, Fig. 3) and
:func:`region_volume_figure` compares the log-volume of regions of any norm against pA.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .plot import finish, new_figure
from .radius import matched_certificate
from .results import _as_results


def region_radii(name: str, params: dict, p_a, p_b=None) -> tuple[np.ndarray, np.ndarray]:
    """(enclosed l2 radius, proxy radius) of ``get(name, **params).region`` for each pA (pB)."""
    from ..bounds import get

    cert = get(name, **params)
    pa = np.atleast_1d(np.asarray(p_a, dtype=float))
    pb = None if p_b is None else np.broadcast_to(np.asarray(p_b, dtype=float), pa.shape)
    enc, prox = [], []
    for i, a in enumerate(pa):
        reg = cert.region(float(a), None if pb is None else float(pb[i]))
        enc.append(reg.enclosed_radius())
        prox.append(reg.proxy_radius())
    return np.array(enc), np.array(prox)


def proxy_vs_l2_figure(l2_radius=None, proxy_radius=None, results=None, labels=None,
                       path=None):
    """Scatter of each input's certified l2 radius against its certified proxy radius (ANCER
    Fig. 3: points above the diagonal are certified a region of larger volume than the ball).

    Give the two arrays directly (one pair or a list of pairs with ``labels``), or ``results``:
    Cohen-format files with a ``proxy_radius`` column (``radius`` is the l2 radius).
    """
    if results is not None:
        res = [_as_results(r) for r in results]
        pairs = [(x.radius, x.column("proxy_radius")) for x in res]
        labels = [x.name for x in res] if labels is None else labels
    else:
        if l2_radius is None or proxy_radius is None:
            raise ValueError("give l2_radius and proxy_radius, or results")
        if np.ndim(l2_radius) == 1 or np.isscalar(l2_radius) or np.ndim(l2_radius) == 0:
            pairs = [(l2_radius, proxy_radius)]
        else:
            pairs = list(zip(l2_radius, proxy_radius))
        labels = labels or [None] * len(pairs)
    fig, (ax,) = new_figure()
    top = 0.0
    for i, ((x, y), lab) in enumerate(zip(pairs, labels)):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"l2 and proxy radii have different shapes {x.shape} and {y.shape}")
        ax.scatter(x, y, s=8, alpha=0.7, color=f"C{i % 10}", label=lab)
        fin = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
        top = max(top, float(fin.max()) if fin.size else 0.0)
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="k", lw=0.8, ls="--", label="proxy = l2 radius")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(r"certified $\ell_2$ radius (largest ball inside the region)")
    ax.set_ylabel(r"certified proxy radius $(a_1 \cdots a_d)^{1/d}$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return finish(fig, path)


def region_volume_figure(certs: Sequence, std: float = 0.5, dim: int = 16, p_b_share=None,
                         pa_range=(0.5, 0.999), n_points: int = 120, path=None):
    """log(volume)/d of the certified region against pA.

    ``certs`` mixes registry names (built at matched per-coordinate ``std`` with ``from_std``;
    isotropic families give their ball) and certificate objects used as given (e.g. an
    ``ancer-ellipsoid`` with per-coordinate sigma). Regions of different norms are compared as
    sets in dimension ``dim`` (volumes of generalized balls, :mod:`smoothcert.bounds.regions`).
    Entries that cannot be built or have no region are listed in ``fig.skipped``.
    """
    from ..bounds import Certificate

    lo, hi = float(pa_range[0]), float(pa_range[1])
    pa = np.linspace(lo, hi, n_points)
    fig, (ax,) = new_figure()
    skipped = []
    for i, item in enumerate(certs):
        if isinstance(item, Certificate):
            cert, label = item, f"{item.name} ({item.norm}, given parameters)"
        else:
            cert, why = matched_certificate(item, std, dim, 0)
            if cert is None:
                skipped.append(why)
                continue
            label = f"{item} ({cert.norm}, std {std:g})"
        try:
            v = np.array([cert.region(float(a), None if p_b_share is None else p_b_share * (1 - a))
                          .log_volume(dim) / dim for a in pa])
        except NotImplementedError as exc:
            skipped.append(f"{cert.name}: {exc}")
            continue
        ax.plot(pa, np.where(np.isfinite(v), v, np.nan), ("-", "--", ":", "-.")[i % 4],
                color=f"C{i % 10}", lw=1.5, label=label)
    ax.set_xlabel(r"$p_A$")
    ax.set_ylabel(f"log(volume) / d   (d = {dim})")
    case = "binary" if p_b_share is None else f"$p_B = {p_b_share:g}(1 - p_A)$"
    ax.set_title(f"certified-region volume, {case}", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    fig.skipped = skipped
    return finish(fig, path)

