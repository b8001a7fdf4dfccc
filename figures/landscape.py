"""Two-dimensional slices of a torch model's probability landscape (ANCER Figs. 1 and 7).

:func:`landscape_slice_figure` draws the base classifier's target-class probability on a plane
through an input, spanned by random or extreme-Hessian directions, with certified regions'
slices on top; :func:`landscape_docs_figures` draws the guide's two slices. torch is optional:
the model probes (:mod:`smoothcert.gpu_sampler.hessian`) are imported inside the functions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .plot import finish, new_figure


def _region_slice_norm(region, u, v, a, b):
    """``region.norm_of(a u + b v)`` on the grid (u, v flat numpy vectors)."""
    deltas = a.reshape(-1, 1) * u[None, :] + b.reshape(-1, 1) * v[None, :]
    if not region.isotropic:
        deltas = deltas.reshape((-1,) + tuple(region.shape))
    return np.asarray(region.norm_of(deltas)).reshape(a.shape)


def landscape_slice_figure(model, x, target: int | None = None, directions: str = "random",
                           regions: Sequence | None = None, extent: float | None = None,
                           grid: int = 61, seed: int = 0, batch: int = 1024,
                           class_names: Sequence[str] | None = None, path=None):
    """Base-classifier probability of the target class on the plane ``x + a u + b v``.

    ``directions``: ``random`` (two Gaussian directions, orthonormalized; ANCER Fig. 1) or
    ``hessian`` (the eigenvectors of the largest and smallest Hessian eigenvalue of the target
    probability; ANCER Fig. 7). ``regions`` is a list of ``(label, Region)``: the boundary of
    each certified region's slice, ``{(a, b): ||(a u + b v) / scales||_p = gap}``, is drawn on
    top, so an isotropic ball appears as a circle and an anisotropic ellipsoid or cross-polytope
    as the section of its shape. The solid black line is the base classifier's decision boundary
    (where the target logit stops beating every other logit). ``model`` is any torch module taking a batch of
    inputs shaped like ``x`` (imported lazily).
    """
    import torch

    from ..gpu_sampler.hessian import hessian_extreme_directions, orthonormal

    if directions not in ("random", "hessian"):
        raise ValueError(f"directions must be 'random' or 'hessian', got {directions!r}")
    if not isinstance(grid, int) or grid < 3:
        raise ValueError(f"grid must be an integer >= 3, got {grid!r}")
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(x[None])[0]
    if target is None:
        target = int(logits.argmax())
    if not 0 <= int(target) < logits.numel():
        raise ValueError(f"target must be a class index in [0, {logits.numel()}), got {target!r}")
    if directions == "random":
        gen = torch.Generator().manual_seed(seed)
        u, v = orthonormal([torch.randn(x.numel(), generator=gen) for _ in range(2)])
        axis_names = ("random direction $u_1$", "random direction $u_2$")
    else:
        (lmax, u), (lmin, v) = hessian_extreme_directions(model, x, int(target), seed=seed)
        u, v = orthonormal([u, v])
        axis_names = (rf"top Hessian eigenvector ($\lambda$ = {lmax:.3g})",
                      rf"bottom Hessian eigenvector ($\lambda$ = {lmin:.3g})")
    regions = list(regions or [])
    if extent is None:
        sizes = [r.gap * float(np.max(r.scales)) for _, r in regions]
        extent = 1.6 * max(sizes) if sizes and max(sizes) > 0 else 1.0
    t = np.linspace(-extent, extent, grid)
    a, b = np.meshgrid(t, t)
    coeff = torch.as_tensor(np.stack([a.ravel(), b.ravel()], 1), dtype=torch.float32)
    probs, same = [], []
    with torch.no_grad():
        for s in range(0, coeff.shape[0], batch):
            c = coeff[s:s + batch]
            pts = x.reshape(1, -1) + c[:, :1] * u[None] + c[:, 1:] * v[None]
            logit = model(pts.reshape((-1,) + tuple(x.shape)))
            probs.append(torch.softmax(logit, dim=-1)[:, target])
            others = logit.clone()
            others[:, target] = -torch.inf
            same.append(logit[:, target] - others.max(-1).values)  # > 0 where target wins
    prob = torch.cat(probs).numpy().reshape(a.shape)
    margin = torch.cat(same).numpy().reshape(a.shape)
    fig, (ax,) = new_figure((4.4, 3.6))
    im = ax.contourf(a, b, prob, levels=np.linspace(0, 1, 21), cmap="viridis")
    cb = fig.colorbar(im, ax=ax)
    cname = class_names[target] if class_names is not None else f"class {target}"
    cb.set_label(f"base-classifier P({cname})")
    if margin.min() < 0 < margin.max():
        ax.contour(a, b, margin, levels=[0.0], colors="k", linewidths=1.2)
    un, vn = u.numpy().astype(float), v.numpy().astype(float)
    handles = []
    from matplotlib.lines import Line2D

    for i, (label, region) in enumerate(regions):
        nrm = _region_slice_norm(region, un, vn, a, b)
        color = ("white", "red", "orange", "cyan")[i % 4]
        ax.contour(a, b, nrm, levels=[region.gap], colors=color, linewidths=1.6,
                   linestyles=("-", "--", ":", "-.")[i % 4])
        if region.gap == 0:
            label += " (empty: nothing certified)"
        handles.append(Line2D([], [], color=color, ls=("-", "--", ":", "-.")[i % 4], label=label))
    handles.append(Line2D([], [], color="k", label="decision boundary"))
    ax.plot([0], [0], "w+", ms=8)
    ax.set_aspect("equal")
    ax.set_xlabel(axis_names[0], fontsize=8)
    ax.set_ylabel(axis_names[1], fontsize=8)
    ax.legend(handles=handles, fontsize=6, loc="upper right", framealpha=0.8)
    return finish(fig, path)


FASHION_MNIST_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")


def landscape_docs_figures(out_dir, model, sigma: float, image, quick: bool = False) -> list[str]:
    """The guide's two landscape slices (random and Hessian directions) for one 28 x 28 image.

    pA is a Clopper-Pearson bound from Gaussian samples of ``model`` (see
    :func:`smoothcert.gpu_sampler.hessian.smoothed_top_probability_bound`); the isotropic ball is Cohen's region at that pA and
    the ellipsoid an ANCER region with the same gap and a radial sigma map of the same geometric
    mean (an illustration of the shape, not an optimized certificate).
    """
    import torch

    from ..bounds import get
    from ..gpu_sampler.hessian import smoothed_top_probability_bound

    torch.set_num_threads(min(2, torch.get_num_threads()))
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32).reshape(1, 28, 28)
    if x.max() > 1:
        x = x / 255.0
    top, pa = smoothed_top_probability_bound(model, x, sigma, n=200 if quick else 1000)
    iso = get("cohen-gaussian-l2", sigma=sigma).region(pa)
    yy, xx = np.mgrid[:28, :28]
    border = np.hypot(yy - 13.5, xx - 13.5) / 13.5
    sig_map = np.exp(0.6 * (border - border.mean()))
    sig_map = (sigma * sig_map / math.exp(np.log(sig_map).mean()))[None]
    ell = get("ancer-ellipsoid", sigma=sig_map).region(pa)
    regs = [(f"isotropic ball ($\\sigma$ = {sigma:g}, $p_A \\geq$ {pa:.3f})", iso),
            ("ellipsoid, same gap, radial $\\sigma$ map (illustration)", ell)]
    grid = 31 if quick else 81
    out = Path(out_dir)
    for mode in ("random", "hessian"):
        landscape_slice_figure(model, x, target=top, directions=mode, regions=regs, grid=grid,
                               class_names=FASHION_MNIST_CLASSES, path=out / f"landscape_{mode}")
    return ["landscape_random", "landscape_hessian"]
