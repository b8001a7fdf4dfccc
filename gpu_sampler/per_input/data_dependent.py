"""Isotropic data-dependent smoothing: one sigma per input (Alfarra et al. 2022).

Alfarra, Bibi, Torr & Ghanem, "Data Dependent Randomized Smoothing" (UAI 2022), Sec. 3,
Algorithm 1. For an input ``x`` they pick the scale that maximizes a differentiable surrogate of
the certified radius of the smoothed classifier,

    psi(theta) = 1/n sum_j softmax(f(x + theta * eps_j)),   eps_j ~ N(0, I)   (reparameterization)
    R(theta)   = theta * gap(E_A, E_B),  E_A >= E_B the two largest entries of psi(theta),

and runs ``K`` steps of plain gradient ascent ``theta <- theta + alpha * dR/dtheta`` from
``theta_0`` (the training sigma). For Gaussian noise ``gap = (Phi^-1(E_A) - Phi^-1(E_B)) / 2``
(Cohen et al. Thm 1); for uniform noise ``U[-theta, theta]`` the l1 gap of Yang et al. /
ANCER Cor. 2, ``gap = E_A - E_B`` (``SURROGATE_GAPS``, keyed by noise family; ``eps`` is drawn by the
family's registered sampler at unit scale). As in the authors' released routine the probabilities are
clipped to ``[clip, 1 - clip]`` before ``Phi^-1`` so the gradient stays finite.

Defaults (``DataDependentConfig``): ``alpha = 1e-4``, ``K = 100`` as in Alfarra et al.'s
Algorithm 1 experiments and released ``OptimzeSigma`` routine, ``clip = 0.02`` as there;
``n = 8`` samples per step (public re-implementations; the number is not essential to the
method). The later ``ddsmoothing`` package used to initialize ANCER (Eiras et al. App. C) runs
``alpha = 0.04, K = 900, n = 100``: ``DataDependentConfig.ancer_appendix()``.

SOUNDNESS (docs/contributing.md, Soundness): a sigma chosen per input voids Cohen's theorem for the classifier
``x -> g_sigma(x)(x)``. Certify the results through
:class:`smoothcert.gpu_sampler.per_input.memory.MemoryCertifier` (Alfarra et al. Sec. 3.5) or mark them
unsound (``memory.unsound_record``); this module only chooses the parameters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ...core.checks import check_int, check_positive
from ..noise import unit_noise
from .checkpoint import ParameterCheckpoint


@dataclass(frozen=True)
class DataDependentConfig:
    """Hyperparameters of Alfarra et al. Algorithm 1 (names: theirs in the comments)."""

    sigma0: float = 0.25  # sigma_0: initial scale (the training sigma)
    learning_rate: float = 1e-4  # alpha
    iterations: int = 100  # K
    samples: int = 8  # n: Monte Carlo samples per step
    clip: float = 0.02  # probabilities clipped to [clip, 1 - clip] inside the gap
    min_scale: float = 1e-3  # the scale stays at least this (a positive scale is required)
    family: str = "gaussian"  # "gaussian" (l2, Cohen) or "uniform" (l1, Yang et al.)

    def __post_init__(self):
        check_positive("sigma0", self.sigma0, allow_array=False)
        check_positive("learning_rate", self.learning_rate, allow_array=False)
        check_int("iterations", self.iterations, minimum=0)
        check_int("samples", self.samples, minimum=1)
        check_positive("min_scale", self.min_scale, allow_array=False)
        if not 0 < self.clip < 0.5:
            raise ValueError(f"clip must lie in (0, 0.5), got {self.clip!r}")
        surrogate_gap(self.family)

    @classmethod
    def ancer_appendix(cls, sigma0: float = 0.25, family: str = "gaussian") -> "DataDependentConfig":
        """The isotropic initialization settings of Eiras et al. (ANCER) App. C."""
        return cls(sigma0=sigma0, learning_rate=0.04, iterations=900, samples=100, family=family)

    def with_(self, **changes) -> "DataDependentConfig":
        return replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# the surrogate, shared with ANCER
def probit(p: torch.Tensor) -> torch.Tensor:
    """Phi^-1(p) = sqrt(2) erfinv(2p - 1), differentiable."""
    return math.sqrt(2.0) * torch.erfinv(2.0 * p - 1.0)


def cohen_gap(e_a: torch.Tensor, e_b: torch.Tensor) -> torch.Tensor:
    """``(Phi^-1(E_A) - Phi^-1(E_B)) / 2``: Gaussian noise, l2 (Cohen et al. Thm 1, ANCER Cor. 1)."""
    return 0.5 * (probit(e_a) - probit(e_b))


def difference_gap(e_a: torch.Tensor, e_b: torch.Tensor) -> torch.Tensor:
    """``E_A - E_B``: uniform noise ``U[-lambda, lambda]``, l1 (Yang et al. 2020, ANCER Cor. 2)."""
    return e_a - e_b


@dataclass(frozen=True)
class SurrogateGap:
    """A noise family's radius as a differentiable function of the top-two probabilities.

    ``gap(E_A, E_B)`` is the unit gap of the registered certificate ``isotropic`` (its radius is
    ``scale * gap`` at the family's ``scale_param``); ``anisotropic`` is the certificate of
    per-coordinate scales whose region ANCER maximizes.
    """

    gap: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    isotropic: str
    anisotropic: str


#: The noise families with a differentiable radius surrogate (tests check each against its certificates).
SURROGATE_GAPS = {
    "gaussian": SurrogateGap(cohen_gap, "cohen-gaussian-l2", "ancer-ellipsoid"),
    "uniform": SurrogateGap(difference_gap, "uniform-l1", "ancer-cross-polytope"),
}


def surrogate_gap(family: str) -> SurrogateGap:
    """The radius surrogate of the noise family ``family``; a ``ValueError`` naming it otherwise."""
    try:
        return SURROGATE_GAPS[family]
    except (KeyError, TypeError):
        raise ValueError(f"family must be one of {sorted(SURROGATE_GAPS)} (the noise families with a "
                         f"differentiable radius surrogate), got {family!r}") from None


def top2_gap(psi: torch.Tensor, family: str, clip: float) -> torch.Tensor:
    """The unit gap of the surrogate from averaged softmax ``psi`` (last axis = classes): the
    family's :class:`SurrogateGap` at ``E_A, E_B``, the two largest entries, clipped."""
    vals = torch.topk(psi, 2, dim=-1).values.clamp(clip, 1.0 - clip)
    return surrogate_gap(family).gap(vals[..., 0], vals[..., 1])


def reparameterization_noise(family: str, x: torch.Tensor, samples: int, generator=None) -> torch.Tensor:
    """``eps`` of shape ``(B, samples, *shape)`` for the batch ``x``: the family's registered sampler at
    unit scale (N(0, I) for Gaussian, U[-1, 1] for uniform), drawn in float32, cast to ``x.dtype``."""
    sampler = unit_noise(family, tuple(x.shape[1:]), x.device)
    eps = sampler.sample(x.shape[0] * samples, generator)
    return eps.view((x.shape[0], samples) + tuple(x.shape[1:])).to(x.dtype)


def smoothed_probabilities(model, x: torch.Tensor, scale: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``psi``: mean softmax of ``model`` over ``x + scale * eps`` (n samples per input).

    ``x`` is ``(B, *shape)``, ``eps`` is ``(B, n, *shape)``, ``scale`` broadcasts against
    ``(B, 1, *shape)``; returns ``(B, K)``.
    """
    B, n = eps.shape[:2]
    noisy = (x.unsqueeze(1) + scale * eps).reshape(B * n, *x.shape[1:])
    return torch.softmax(model(noisy), dim=-1).reshape(B, n, -1).mean(dim=1)


class _FrozenEval:
    """Context: model in eval mode with parameters not requiring grad; restored on exit."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.training = getattr(self.model, "training", False)
        self.flags = [p.requires_grad for p in self.model.parameters()]
        if hasattr(self.model, "eval"):
            self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        return self.model

    def __exit__(self, *exc):
        for p, f in zip(self.model.parameters(), self.flags):
            p.requires_grad_(f)
        if self.training:
            self.model.train()
        return False


def check_inputs(x) -> torch.Tensor:
    """A float tensor batch ``(B, *shape)`` with finite entries."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor batch (B, *shape), got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (B, *shape), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite, got NaN or inf entries")
    return x


# ---------------------------------------------------------------------------------------------
def optimize_sigma_batch(model, x, config: DataDependentConfig = DataDependentConfig(),
                         generator=None, sigma_init=None) -> np.ndarray:
    """Alfarra et al. Algorithm 1 for a batch ``x`` of shape ``(B, *shape)``: one scale per input.

    Returns float64 ``(B,)`` scales (>= ``config.min_scale``). ``sigma_init`` (scalar or ``(B,)``)
    overrides ``config.sigma0``.
    """
    x = check_inputs(x)
    B = x.shape[0]
    init = config.sigma0 if sigma_init is None else sigma_init
    init = check_positive("sigma_init", init)
    if init.ndim not in (0, 1) or (init.ndim == 1 and init.size != B):
        raise ValueError(f"sigma_init must be a scalar or have {B} entries, got shape {init.shape}")
    view = (B, 1) + (1,) * (x.ndim - 1)
    theta = torch.as_tensor(np.broadcast_to(init, (B,)).copy(), dtype=x.dtype, device=x.device)
    with _FrozenEval(model), torch.enable_grad():
        for _ in range(config.iterations):
            t = theta.clone().requires_grad_(True)
            eps = reparameterization_noise(config.family, x, config.samples, generator)
            psi = smoothed_probabilities(model, x, t.view(view), eps)
            radius = t * top2_gap(psi, config.family, config.clip)
            (grad,) = torch.autograd.grad(radius.sum(), t)
            theta = (theta + config.learning_rate * grad).clamp_min(config.min_scale)
    return theta.detach().cpu().double().numpy()


def optimize_sigmas(model, xs, config: DataDependentConfig = DataDependentConfig(), batch_size: int = 8,
                    generator=None, checkpoint=None, progress: bool = True):
    """Per-input scales for a dataset slice, resumable: ``(sigmas (N,), seconds per input (N,))``.

    ``checkpoint`` is a path (``.npz``) or a :class:`~smoothcert.gpu_sampler.per_input.checkpoint.ParameterCheckpoint`;
    inputs finished in an earlier run are read back, not recomputed. Progress shows with tqdm.
    """
    xs = check_inputs(xs)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    ckpt = checkpoint if isinstance(checkpoint, ParameterCheckpoint) else ParameterCheckpoint(checkpoint)
    todo = [i for i in range(xs.shape[0]) if not ckpt.done(i)]
    bar = tqdm(total=xs.shape[0], initial=xs.shape[0] - len(todo), desc="data-dependent sigma",
               disable=not progress)
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        t0 = time.perf_counter()
        sig = optimize_sigma_batch(model, xs[idx], config, generator)
        sec = (time.perf_counter() - t0) / len(idx)
        for i, s in zip(idx, sig):
            ckpt.put(i, sigma=np.float64(s), seconds=np.float64(sec))
        bar.update(len(idx))
    bar.close()
    sigmas = np.array([float(ckpt.get(i)["sigma"]) for i in range(xs.shape[0])])
    seconds = np.array([float(ckpt.get(i)["seconds"]) for i in range(xs.shape[0])])
    return sigmas, seconds


__all__ = [
    "SURROGATE_GAPS",
    "DataDependentConfig",
    "SurrogateGap",
    "check_inputs",
    "cohen_gap",
    "difference_gap",
    "optimize_sigma_batch",
    "optimize_sigmas",
    "probit",
    "reparameterization_noise",
    "smoothed_probabilities",
    "surrogate_gap",
    "top2_gap",
]
