"""Torch sampler for the double-sampling pair of Li et al. 2022 ("Double Sampling Randomized
Smoothing", Sec. 5, k = 0; the ``dsrs-gaussian-ball`` family of :mod:`smoothcert.bounds.dsrs`).

``sample`` draws P = N(0, sigma^2 I_d), whose std the family declares; :meth:`DSRSNoise.sample_q`
draws Q = P conditioned on ``||z||_2^2 <= T^2 = sigma^2 chi2_d^-1(ball_mass)``, exactly: the
squared radius by inverse CDF of the chi-square law truncated to ``[0, T^2]``,
``||z||^2 / sigma^2 = chi2_d^-1(u F(T^2 / sigma^2))`` with ``u ~ U(0, 1)``, times a uniform
direction ``g / ||g||_2``. The inverse CDF is scipy's ``gammaincinv`` in float64 on the host (the
uniforms come from the caller's seeded generator, so the same seed gives the same draws).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from .noise import NoiseSampler, sampler_for


@sampler_for("dsrs-gaussian-ball")
class DSRSNoise(NoiseSampler):
    """P and the ball-truncated Q of DSRS (see the module docstring)."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.sigma, self.dim = float(params["sigma"]), int(params["dim"])
        if self.dim != math.prod(shape):
            raise ValueError(f"dim={self.dim} does not match the input shape {shape} "
                             f"({math.prod(shape)} entries)")
        half_tau = float(special.gammaincinv(0.5 * self.dim, float(params["ball_mass"])))
        self.tau = 2.0 * half_tau  # T^2 / sigma^2, the certificate's own float (bounds/dsrs.py)
        self.mass = float(special.gammainc(0.5 * self.dim, half_tau))

    def _fill(self, out, generator):
        out.normal_(generator=generator).mul_(self.sigma)

    def sample_q(self, n: int, generator=None) -> torch.Tensor:
        """``n`` draws of Q, shape ``(n, *shape)``."""
        out = torch.empty((n, *self.shape), dtype=self.dtype, device=self.device)
        if n == 0:
            return out
        u = torch.rand(n, dtype=torch.float64, device=self.device, generator=generator)
        r2 = 2.0 * special.gammaincinv(0.5 * self.dim, u.cpu().numpy() * self.mass)
        r = torch.as_tensor(np.sqrt(np.minimum(r2, self.tau)), device=self.device)
        g = torch.randn(n, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        g = g.div_(torch.linalg.vector_norm(g, dim=1, keepdim=True)).mul_((self.sigma * r).unsqueeze(1))
        return out.copy_(g.view(out.shape))
