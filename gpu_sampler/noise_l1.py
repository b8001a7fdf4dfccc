"""Torch samplers for Yang et al. 2020's l1 families ("Randomized Smoothing of All Shapes and
Sizes"; rs4a's ``Exp1`` and ``Expp``), registered with ``@sampler_for`` like those of
:mod:`.noise` (which holds the registry and ``make_noise``).

* ``exp1`` -- ``exp(-(||z||_1/lambda)^p)``: ``||z||_1 = lambda G^(1/p)``, ``G ~ Gamma(d/p)``,
  times ``L / ||L||_1`` for L i.i.d. Laplace (the cone measure of the l1 sphere, whose radial
  part is independent of the direction: Schechtman & Zinn 1990).
* ``expp`` -- i.i.d. ``S lambda G^(1/p)``, ``G ~ Gamma(1/p)``, ``S`` a fair sign.

Every draw is made in float64 from the caller's seeded generator, then cast.
"""

from __future__ import annotations

import torch

from .noise import NoiseSampler, input_dim, sample_gamma, sampler_for


def _signs(shape, generator, device) -> torch.Tensor:
    return torch.empty(shape, dtype=torch.float64, device=device).bernoulli_(
        0.5, generator=generator).mul_(2.0).sub_(1.0)


@sampler_for("exp1")
class Exp1Noise(NoiseSampler):
    """q ~ ``exp(-(||z||_1/lambda)^p)`` in R^d (rs4a ``Exp1.sample``): the l1 norm times a point
    of the l1 sphere drawn from its cone measure."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.dim = input_dim(params, shape)
        self.lambd, self.p = float(params["lambd"]), float(params["exp_power"])

    def _fill(self, out, generator):
        m = out.shape[0]
        rho = sample_gamma(self.dim / self.p, m, generator, self.device).pow_(1.0 / self.p).mul_(self.lambd)
        lap = torch.empty(m, self.dim, dtype=torch.float64, device=self.device).exponential_(generator=generator)
        lap.mul_(_signs((m, self.dim), generator, self.device))
        lap.div_(lap.abs().sum(dim=1, keepdim=True))
        out.copy_(lap.mul_(rho.unsqueeze(1)).view(out.shape))


@sampler_for("expp")
class ExppNoise(NoiseSampler):
    """i.i.d. coordinates with density proportional to ``exp(-|z/lambda|^p)`` (rs4a
    ``Expp.sample``): ``|z/lambda|^p ~ Gamma(1/p)`` with a fair sign."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.lambd, self.p = float(params["lambd"]), float(params["exp_power"])

    def _fill(self, out, generator):
        n = out.numel()
        g = sample_gamma(1.0 / self.p, n, generator, self.device).pow_(1.0 / self.p).mul_(self.lambd)
        out.copy_(g.mul_(_signs((n,), generator, self.device)).view(out.shape))
