"""ANCER: per-input anisotropic smoothing by proxy-radius maximization (Eiras et al., TMLR 2022).

Eiras, Alfarra, Kumar, Torr, Dokania, Ghanem & Bibi, "ANCER: Anisotropic Certification via
Sample-wise Volume Maximization". For an input ``x`` the per-coordinate scales ``theta``
(Gaussian std -> ellipsoid, Cor. 1; uniform half-width -> generalized cross-polytope, Cor. 2)
are chosen to maximize the volume of the certified region, i.e. its proxy radius
``gap(theta) * (prod_i theta_i)^(1/d)`` (Sec. 5.1), subject to the certified region containing
the isotropic data-dependent one (their Eq. 1 constraint, Definition 1 superset). App. C solves
it by projected gradient ascent (Adam) on the kappa-relaxed objective

    maximize   gap(theta) (prod_i theta_i)^(1/d)  +  kappa * gap(theta) min_i theta_i
    subject to theta >= theta_iso  (projection after every step),

started at the isotropic solution ``theta_iso`` (Alfarra et al., :mod:`.data_dependent`), with the
gap estimated by the reparameterized surrogate ``psi`` of :func:`.data_dependent.top2_gap`.
``kappa`` rewards the smallest axis (the enclosed l_p radius), so the region does not trade its
worst direction for volume. Defaults are App. C's: Adam learning rate 0.04, 100 iterations,
100 samples per iteration, kappa = 2.

The result feeds ``ancer-ellipsoid`` (``sigma=theta``) or ``ancer-cross-polytope``
(``half_width=theta``); their ``region(p_a, p_b)`` is the certified WeightedLpBall.

SOUNDNESS (docs/contributing.md, Soundness): theta depends on x, so the fixed-distribution corollaries do not
certify the classifier ``x -> g_theta(x)(x)``; route the results through
:class:`smoothcert.gpu_sampler.per_input.memory.MemoryCertifier` or mark them unsound. ANCER's own
evaluation does the former (their Sec. 6, following Alfarra et al. Sec. 3.5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from ...bounds.family import noise_family
from ...bounds.registry import get
from ...core.checks import as_float_array, check_finite, check_int, check_positive
from .data_dependent import (
    _FrozenEval,
    check_inputs,
    reparameterization_noise,
    smoothed_probabilities,
    surrogate_gap,
    top2_gap,
)
from .checkpoint import ParameterCheckpoint


@dataclass(frozen=True)
class AncerConfig:
    """Hyperparameters of ANCER's optimization (Eiras et al. App. C)."""

    learning_rate: float = 0.04  # Adam step size
    iterations: int = 100
    samples: int = 100  # Monte Carlo samples per iteration
    kappa: float = 2.0  # weight of the min-axis (enclosed radius) term; 0 = pure volume
    clip: float = 0.02  # probabilities clipped inside the gap (as the isotropic routine)
    family: str = "gaussian"  # "gaussian" (ellipsoid) or "uniform" (cross-polytope)

    def __post_init__(self):
        check_positive("learning_rate", self.learning_rate, allow_array=False)
        check_int("iterations", self.iterations, minimum=0)
        check_int("samples", self.samples, minimum=1)
        k = float(as_float_array("kappa", self.kappa))
        if not (k >= 0) or not np.isfinite(k):
            raise ValueError(f"kappa must be a finite number >= 0, got {self.kappa!r}")
        if not 0 < self.clip < 0.5:
            raise ValueError(f"clip must lie in (0, 0.5), got {self.clip!r}")
        surrogate_gap(self.family)

    def with_(self, **changes) -> "AncerConfig":
        return replace(self, **changes)


def relaxed_objective(gap: torch.Tensor, theta: torch.Tensor, kappa: float) -> torch.Tensor:
    """Per-input ``gap * (prod theta)^(1/d) + kappa * gap * min theta`` (App. C), theta ``(B, ...)``.

    The geometric mean is computed as ``exp(mean(log theta))`` (no overflow for large d).
    """
    flat = theta.reshape(theta.shape[0], -1)
    geo = torch.exp(torch.log(flat).mean(dim=1))
    return gap * geo + kappa * gap * flat.min(dim=1).values


def _check_theta_iso(theta_iso, x: torch.Tensor) -> np.ndarray:
    """Isotropic start: a positive scalar per input ``(B,)`` or full maps ``(B, *shape)``."""
    arr = check_positive("theta_iso", theta_iso)
    B, shape = x.shape[0], tuple(x.shape[1:])
    if arr.ndim == 0:
        return np.broadcast_to(arr, (B,) + shape).copy()
    if arr.shape == (B,):
        return np.broadcast_to(arr.reshape((B,) + (1,) * len(shape)), (B,) + shape).copy()
    if arr.shape == (B,) + shape:
        return arr.copy()
    raise ValueError(f"theta_iso must be a scalar, shape ({B},) or {(B,) + shape} to match x, "
                     f"got shape {arr.shape}")


def optimize_ancer_batch(model, x, theta_iso, config: AncerConfig = AncerConfig(),
                         generator=None) -> np.ndarray:
    """ANCER for a batch ``x`` ``(B, *shape)``: per-coordinate scales ``(B, *shape)`` (float64).

    Every returned scale is ``>= theta_iso`` (the projection), so the ANCER region contains the
    isotropic one whenever its gap is at least the isotropic gap.
    """
    x = check_inputs(x)
    lower = torch.as_tensor(_check_theta_iso(theta_iso, x), dtype=x.dtype, device=x.device)
    theta = lower.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=config.learning_rate)
    with _FrozenEval(model), torch.enable_grad():
        for _ in range(config.iterations):
            eps = reparameterization_noise(config.family, x, config.samples, generator)
            psi = smoothed_probabilities(model, x, theta.unsqueeze(1), eps)
            gap = top2_gap(psi, config.family, config.clip)
            loss = -relaxed_objective(gap, theta, config.kappa).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                torch.maximum(theta, lower, out=theta)  # projection theta >= theta_iso
    out = theta.detach().cpu().double().numpy()
    check_finite("theta", out, out)
    return out


def optimize_ancer(model, xs, theta_iso, config: AncerConfig = AncerConfig(), batch_size: int = 4,
                   generator=None, checkpoint=None, progress: bool = True):
    """ANCER over a dataset slice, resumable: ``(thetas (N, *shape), seconds per input (N,))``.

    ``theta_iso``: the isotropic data-dependent scales ``(N,)`` (or a scalar); ``checkpoint``: a
    path (``.npz``) or :class:`~smoothcert.gpu_sampler.per_input.checkpoint.ParameterCheckpoint` written after
    every batch (atomic), so an interrupted run resumes where it stopped.
    """
    xs = check_inputs(xs)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    iso = _check_theta_iso(theta_iso, xs)
    ckpt = checkpoint if isinstance(checkpoint, ParameterCheckpoint) else ParameterCheckpoint(checkpoint)
    todo = [i for i in range(xs.shape[0]) if not ckpt.done(i)]
    bar = tqdm(total=xs.shape[0], initial=xs.shape[0] - len(todo), desc=f"ANCER ({config.family})",
               disable=not progress)
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        t0 = time.perf_counter()
        th = optimize_ancer_batch(model, xs[idx], iso[idx], config, generator)
        sec = (time.perf_counter() - t0) / len(idx)
        for i, t in zip(idx, th):
            ckpt.put(i, theta=t, seconds=np.float64(sec))
        bar.update(len(idx))
    bar.close()
    thetas = np.stack([ckpt.get(i)["theta"] for i in range(xs.shape[0])])
    seconds = np.array([float(ckpt.get(i)["seconds"]) for i in range(xs.shape[0])])
    return thetas, seconds


def ancer_certificate(theta, family: str = "gaussian"):
    """The registered anisotropic certificate of ``family`` (its :class:`SurrogateGap`) with the
    family's scale parameter set to the scales ``theta`` (one input's map)."""
    name = surrogate_gap(family).anisotropic
    return get(name, **{noise_family(family).scale_param: np.asarray(theta, dtype=np.float64)})


__all__ = [
    "AncerConfig",
    "ancer_certificate",
    "optimize_ancer",
    "optimize_ancer_batch",
    "relaxed_objective",
]
