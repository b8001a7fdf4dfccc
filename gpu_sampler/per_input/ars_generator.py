"""The ARS noise generator: learned mean and per-pixel scale maps (Hong & Hong 2022, Sec. 5).

Hong & Hong, "Certified Adversarial Robustness via Anisotropic Randomized Smoothing" (ARS).
Their Thm 4.1/4.2 certify Gaussian noise ``N(mu, diag(sigma^2))`` with any fixed mean ``mu`` and
per-pixel std ``sigma``: the l2 radius is ``min_i sigma_i * gap`` and the certified set the
ellipsoid ``||delta/sigma||_2 <= gap`` (their Eq. 30; the mean never changes a radius, Sec. 4).
Sec. 5 chooses ``(mu, sigma)`` with a CNN "noise generator" built from dense blocks (Huang et al.
2017): one branch maps the image to the mean map, a second maps ``x + mu`` to the scale map. It is
trained jointly with the base classifier ``f`` on (our reading of their Eqs. 9-12)

* Eq. 9, smoothing cross-entropy: ``L_CE = 1/m sum_j CE(f(x + mu(x) + sigma(x) * eps_j), y)``,
  ``eps_j ~ N(0, I)`` (reparameterization: gradients reach both maps);
* Eq. 10, minimum-scale target: ``L_sigma = |sigma_0 - min_i sigma_i(x)| / sigma_0`` -- the certified
  l2 radius is driven by the smallest scale, which is held at the target ``sigma_0``;
* Eq. 11, mean penalty: ``L_mu = mean_i |mu_i(x)|`` keeps the shift small;
* Eq. 12, the total ``L = L_CE + lambda_sigma L_sigma + lambda_mu L_mu``.

Two variants:

* :class:`NoiseGenerator` -- per-input maps. The distribution depends on x, so a certificate of
  ``g_{mu(x), sigma(x)}`` at x does NOT certify the classifier ``x -> g_{mu(x),sigma(x)}(x)``
  (docs/contributing.md, Soundness): certify through :mod:`.memory` (Alfarra et al. Sec. 3.5) or mark unsound.
* :class:`DatasetNoise` -- one mean and one scale map for the whole dataset (ARS's "dataset-wise"
  setting). After training it is a fixed distribution: certify ``ShiftedModel(f, mu)`` with
  ``ars-gaussian-l2`` / ``ancer-ellipsoid`` at ``sigma`` exactly as the theorems state.

Training is meant to be short on a CPU (tiny generator, a training subset, few epochs); it shows
progress and resumes from an atomic per-epoch checkpoint.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ...core.atomic import atomic_path
from ...core.checks import check_int, check_positive
from .data_dependent import check_inputs, reparameterization_noise


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class DenseBlock(nn.Module):
    """Dense block (Huang et al. 2017): each layer sees the concatenation of all earlier outputs."""

    def __init__(self, channels: int, growth: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels + k * growth, growth, 3, padding=1), nn.ReLU())
            for k in range(layers)
        )
        self.out_channels = channels + layers * growth

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return torch.cat(feats, dim=1)


def _branch(channels: int, width: int, growth: int, layers: int) -> nn.Sequential:
    """conv 3x3 -> dense block -> conv 1x1 (zero-initialized: the branch starts at 0)."""
    block = DenseBlock(width, growth, layers)
    head = nn.Conv2d(block.out_channels, channels, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), block, head)


class NoiseGenerator(nn.Module):
    """Per-input mean and scale maps (ARS Sec. 5): ``forward(x) -> (mu(x), sigma(x))``.

    ``mu = mean_bound * tanh(branch_mu(x))`` and ``sigma = min_scale + softplus(branch_sigma(x + mu)
    + b)``; the heads start at zero and ``b`` is set so that the untrained generator is the
    isotropic ``N(0, sigma0^2 I)``. Every scale is ``> min_scale > 0``.
    """

    def __init__(self, channels: int = 1, width: int = 8, growth: int = 8, layers: int = 3,
                 sigma0: float = 0.25, min_scale: float = 0.05, mean_bound: float | None = None):
        super().__init__()
        check_int("channels", channels, minimum=1)
        sigma0 = float(check_positive("sigma0", sigma0, allow_array=False))
        min_scale = float(check_positive("min_scale", min_scale, allow_array=False))
        if not min_scale < sigma0:
            raise ValueError(f"min_scale must be below sigma0={sigma0}, got {min_scale}")
        self.config = dict(channels=channels, width=width, growth=growth, layers=layers,
                           sigma0=sigma0, min_scale=min_scale,
                           mean_bound=sigma0 if mean_bound is None else float(mean_bound))
        self.mean_branch = _branch(channels, width, growth, layers)
        self.scale_branch = _branch(channels, width, growth, layers)
        self.register_buffer("scale_offset", torch.tensor(_inverse_softplus(sigma0 - min_scale)))

    def forward(self, x):
        mu = self.config["mean_bound"] * torch.tanh(self.mean_branch(x))
        raw = self.scale_branch(x + mu) + self.scale_offset
        return mu, self.config["min_scale"] + F.softplus(raw)


class DatasetNoise(nn.Module):
    """One mean map and one scale map for every input (ARS dataset-wise variant).

    ``forward(x)`` broadcasts the maps to the batch so training code is shared with
    :class:`NoiseGenerator`; :meth:`maps` gives the fixed (mu, sigma) as float64 arrays.
    """

    def __init__(self, shape, sigma0: float = 0.25, min_scale: float = 0.05):
        super().__init__()
        sigma0 = float(check_positive("sigma0", sigma0, allow_array=False))
        min_scale = float(check_positive("min_scale", min_scale, allow_array=False))
        if not min_scale < sigma0:
            raise ValueError(f"min_scale must be below sigma0={sigma0}, got {min_scale}")
        shape = tuple(int(s) for s in shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"shape must be a non-empty image shape, got {shape}")
        self.config = dict(shape=shape, sigma0=sigma0, min_scale=min_scale)
        self.mean = nn.Parameter(torch.zeros(shape))
        self.raw_scale = nn.Parameter(torch.full(shape, _inverse_softplus(sigma0 - min_scale)))

    def forward(self, x):
        if tuple(x.shape[1:]) != self.config["shape"]:
            raise ValueError(f"x must have per-input shape {self.config['shape']}, got {tuple(x.shape[1:])}")
        sigma = self.config["min_scale"] + F.softplus(self.raw_scale)
        return self.mean.expand_as(x), sigma.expand_as(x)

    def maps(self):
        """The trained fixed distribution: ``(mu, sigma)`` float64 arrays of the input shape."""
        with torch.no_grad():
            mu, sigma = self.forward(torch.zeros((1,) + self.config["shape"], device=self.mean.device))
        return mu[0].detach().cpu().double().numpy(), sigma[0].detach().cpu().double().numpy()


class ShiftedModel(nn.Module):
    """``z -> model(z + mu)``: certifying it with noise ``N(0, sigma^2)`` at x is certifying
    ``model`` with ``N(mu, sigma^2)`` at x (ARS Sec. 4: the mean does not enter the radius)."""

    def __init__(self, model, mean):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))

    def forward(self, z):
        return self.model(z + self.mean.to(z.dtype))


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ARSTrainConfig:
    """Joint training of generator and classifier (ARS Sec. 5, Eqs. 9-12), CPU-sized defaults."""

    sigma0: float = 0.25  # target of the smallest scale (Eq. 10)
    scale_weight: float = 1.0  # lambda_sigma
    mean_weight: float = 0.1  # lambda_mu
    samples: int = 2  # m: noise draws per image and step (Eq. 9)
    epochs: int = 1
    batch_size: int = 64
    lr_generator: float = 1e-3  # Adam
    lr_classifier: float = 1e-4  # Adam; 0 freezes the classifier
    train_classifier: bool = True

    def __post_init__(self):
        check_positive("sigma0", self.sigma0, allow_array=False)
        for name in ("scale_weight", "mean_weight", "lr_classifier"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        check_positive("lr_generator", self.lr_generator, allow_array=False)
        check_int("samples", self.samples, minimum=1)
        check_int("epochs", self.epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)


def ars_losses(model, noise_model, x, y, config: ARSTrainConfig, generator=None) -> dict:
    """The terms of ARS Eqs. 9-12 on one batch (tensors; ``total`` is differentiable)."""
    mu, sigma = noise_model(x)
    m = config.samples
    eps = reparameterization_noise("gaussian", x, m, generator)  # ARS is Gaussian smoothing (Thm 4.2)
    noisy = (x + mu).unsqueeze(1) + sigma.unsqueeze(1) * eps
    logits = model(noisy.reshape((-1,) + tuple(x.shape[1:])))
    ce = F.cross_entropy(logits, y.repeat_interleave(m))
    smallest = sigma.reshape(sigma.shape[0], -1).min(dim=1).values
    scale_target = ((config.sigma0 - smallest).abs() / config.sigma0).mean()
    mean_penalty = mu.abs().mean()
    total = ce + config.scale_weight * scale_target + config.mean_weight * mean_penalty
    return {"total": total, "smoothing_ce": ce, "scale_target": scale_target, "mean_penalty": mean_penalty}


def train_ars(model, noise_model, images, labels, config: ARSTrainConfig = ARSTrainConfig(),
              generator=None, checkpoint=None, progress: bool = True) -> list[dict]:
    """Train ``noise_model`` (and ``model`` unless ``config.train_classifier`` is False) in place.

    ``images`` float ``(N, C, H, W)`` in [0, 1], ``labels`` int ``(N,)``. Returns the per-epoch mean
    of every loss term. ``checkpoint`` (a path) is written atomically after each epoch; a run
    started with an existing checkpoint loads it and continues with the remaining epochs.
    """
    images = check_inputs(images)
    labels = torch.as_tensor(labels, dtype=torch.long, device=images.device)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    params = [{"params": noise_model.parameters(), "lr": config.lr_generator}]
    joint = config.train_classifier and config.lr_classifier > 0
    if joint:
        params.append({"params": model.parameters(), "lr": config.lr_classifier})
    opt = torch.optim.Adam(params)
    history, start = [], 0
    if checkpoint is not None and os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=images.device, weights_only=False)
        noise_model.load_state_dict(state["noise_model"])
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, start = state["history"], state["epoch"]
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(joint)
    model.train(joint)
    noise_model.train()
    try:
        for epoch in range(start, config.epochs):
            perm = torch.randperm(images.shape[0], generator=generator, device="cpu").to(images.device)
            sums, batches = {}, 0
            bar = tqdm(range(0, images.shape[0], config.batch_size), desc=f"ARS epoch {epoch + 1}",
                       disable=not progress)
            for s in bar:
                idx = perm[s:s + config.batch_size]
                losses = ars_losses(model, noise_model, images[idx], labels[idx], config, generator)
                opt.zero_grad()
                losses["total"].backward()
                opt.step()
                batches += 1
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                bar.set_postfix(loss=f"{sums['total'] / batches:.3f}")
            history.append({k: v / max(batches, 1) for k, v in sums.items()})
            if checkpoint is not None:
                with atomic_path(checkpoint) as tmp:
                    torch.save({"noise_model": noise_model.state_dict(), "model": model.state_dict(),
                                "optimizer": opt.state_dict(), "history": history,
                                "epoch": epoch + 1, "config": asdict(config)}, tmp)
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
        model.eval()
        noise_model.eval()
    return history


#: The shipped bundle: noise models trained jointly with copies of ``fmnist-gaussian-0.25``.
SHIPPED_BUNDLE = "ars-fmnist-gaussian-0.25.pt"


def save_ars_bundle(path, generator_pair, dataset_pair, **meta) -> None:
    """Write both ARS variants with their jointly trained classifiers (float32, atomic).

    ``generator_pair = (classifier, NoiseGenerator)``, ``dataset_pair = (classifier, DatasetNoise)``;
    ``meta`` holds plain metadata (training settings). Readable with ``weights_only=True``.
    """
    (g_model, gen), (d_model, dw) = generator_pair, dataset_pair
    state = lambda m: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}  # noqa: E731
    with atomic_path(path) as tmp:
        torch.save({"generator": state(gen), "generator_config": dict(gen.config),
                    "generator_classifier": state(g_model),
                    "dataset_noise": state(dw), "dataset_config": {**dw.config, "shape": list(dw.config["shape"])},
                    "dataset_classifier": state(d_model), "meta": meta}, tmp)


def load_ars_bundle(path=None, device="cpu") -> dict:
    """``{"generator": (classifier, NoiseGenerator), "dataset": (classifier, DatasetNoise), "meta"}``
    from ``path`` (default: the shipped :data:`SHIPPED_BUNDLE`), in eval mode."""
    from importlib import resources

    from ..models import check_sha256, fmnist_resnet, read_torch_file, shipped_file_sha256

    if path is None:  # the shipped file must have its recorded SHA-256 (assets/manifest.json)
        ref = resources.files("smoothcert.gpu_sampler").joinpath("assets", SHIPPED_BUNDLE)
        with resources.as_file(ref) as p:
            check_sha256(p, shipped_file_sha256(SHIPPED_BUNDLE))
            raw = read_torch_file(p)
    else:
        raw = read_torch_file(path)
    gen = NoiseGenerator(**raw["generator_config"])
    gen.load_state_dict(raw["generator"])
    cfg = dict(raw["dataset_config"])
    dw = DatasetNoise(tuple(cfg.pop("shape")), **cfg)
    dw.load_state_dict(raw["dataset_noise"])
    out = {"meta": raw.get("meta", {})}
    for key, noise, cls_key in (("generator", gen, "generator_classifier"), ("dataset", dw, "dataset_classifier")):
        clf = fmnist_resnet()
        clf.load_state_dict(raw[cls_key])
        out[key] = (clf.to(device).eval(), noise.to(device).eval())
    return out


def generator_maps(noise_model, xs) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` float64 maps for every input of ``xs`` ``(N, *shape)``."""
    xs = check_inputs(xs)
    with torch.no_grad():
        mu, sigma = noise_model(xs)
    return mu.detach().cpu().double().numpy(), sigma.detach().cpu().double().numpy()


def pgd_linf(model, x, y, eps: float = 16 / 255, steps: int = 10, step_size: float | None = None,
             noise_scale=None, samples: int = 1, generator=None) -> torch.Tensor:
    """PGD (Madry et al. 2018) in the l_inf ball of radius ``eps``, inside [0, 1] (ARS Sec. 6.3).

    Maximizes the cross-entropy of ``model`` at the true labels ``y``; with ``noise_scale`` (a
    scalar or a map broadcasting against ``x``) the loss is averaged over ``samples`` Gaussian
    draws, i.e. the attack targets the smoothed classifier (expectation over transformation).
    ``step_size`` defaults to ``2.5 * eps / steps``. Returns the perturbed inputs (detached).
    """
    x = check_inputs(x)
    eps = float(check_positive("eps", eps, allow_array=False))
    steps = check_int("steps", steps, minimum=1)
    samples = check_int("samples", samples, minimum=1)
    alpha = 2.5 * eps / steps if step_size is None else float(check_positive("step_size", step_size, allow_array=False))
    y = torch.as_tensor(y, dtype=torch.long, device=x.device)
    scale = None if noise_scale is None else torch.as_tensor(noise_scale, dtype=x.dtype, device=x.device)
    if scale is not None and scale.ndim == x.ndim:  # one map per input: broadcast over the draws
        scale = scale.unsqueeze(1)
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    adv = x.clone()
    try:
        with torch.enable_grad():
            for _ in range(steps):
                adv.requires_grad_(True)
                inp = adv.unsqueeze(1).expand((-1, samples) + tuple(x.shape[1:]))
                if scale is not None:
                    inp = inp + scale * reparameterization_noise("gaussian", x, samples, generator)
                logits = model(inp.reshape((-1,) + tuple(x.shape[1:])))
                loss = F.cross_entropy(logits, y.repeat_interleave(samples))
                (grad,) = torch.autograd.grad(loss, adv)
                with torch.no_grad():
                    adv = adv + alpha * grad.sign()
                    adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0.0, 1.0)
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
        model.train(was_training)
    return adv.detach()


__all__ = [
    "ARSTrainConfig",
    "DatasetNoise",
    "DenseBlock",
    "NoiseGenerator",
    "SHIPPED_BUNDLE",
    "ShiftedModel",
    "ars_losses",
    "generator_maps",
    "load_ars_bundle",
    "pgd_linf",
    "save_ars_bundle",
    "train_ars",
]
