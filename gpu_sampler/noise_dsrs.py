"""Torch sampler for the double-sampling pair of Li et al. 2022 ("Double Sampling Randomized
Smoothing", Sec. 5, k = 0; the ``dsrs-gaussian-ball`` family of :mod:`smoothcert.bounds.dsrs`).

``sample`` draws P = N(0, sigma^2 I_d), whose std the family declares; :meth:`DSRSNoise.sample_q`
draws Q = P conditioned on ``||z||_2^2 <= T^2 = sigma^2 chi2_d^-1(ball_mass)``, exactly: the
squared radius by inverse CDF of the chi-square law truncated to ``[0, T^2]``,
``||z||^2 / sigma^2 = chi2_d^-1(u F(T^2 / sigma^2))`` with ``u ~ U(0, 1)``, times a uniform
direction ``g / ||g||_2``. The inverse CDF is scipy's ``gammaincinv`` in float64 on the host (the
uniforms come from the caller's seeded generator, so the same seed gives the same draws).

:class:`GeneralDSRSNoise` is the generalized-Gaussian pair (``dsrs-general-gaussian-ball``,
:mod:`smoothcert.bounds.dsrs_general`): P draws ``||z||^2 / (2 sigma'^2) ~ Gamma(d/2 - k)``
(Marsaglia-Tsang, ``sample_gamma``) times a uniform direction, sigma' = sigma sqrt(d / (d - 2k));
Q the same Gamma truncated to ``[0, tau/2]`` by the same exact inverse CDF.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from .noise import NoiseSampler, input_dim, sample_gamma, sampler_for


@sampler_for("dsrs-gaussian-ball")
class DSRSNoise(NoiseSampler):
    """P and the ball-truncated Q of DSRS (see the module docstring)."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.sigma, self.dim = float(params["sigma"]), input_dim(params, shape)
        self.half_dof, self.scale = self._radial(params)  # ||z||^2 / (2 scale^2) ~ Gamma(half_dof)
        half_tau = float(special.gammaincinv(self.half_dof, float(params["ball_mass"])))
        self.tau = 2.0 * half_tau  # T^2 / scale^2, the certificate's own float (bounds/dsrs*.py)
        self.mass = float(special.gammainc(self.half_dof, half_tau))

    def _radial(self, params):
        """(Gamma shape of ||z||^2 / (2 scale^2), scale): (d/2, sigma) for the Gaussian P."""
        return 0.5 * self.dim, self.sigma

    def _fill(self, out, generator):
        out.normal_(generator=generator).mul_(self.sigma)

    def sample_q(self, n: int, generator=None) -> torch.Tensor:
        """``n`` draws of Q, shape ``(n, *shape)``."""
        out = torch.empty((n, *self.shape), dtype=self.dtype, device=self.device)
        if n == 0:
            return out
        u = torch.rand(n, dtype=torch.float64, device=self.device, generator=generator)
        r2 = 2.0 * special.gammaincinv(self.half_dof, u.cpu().numpy() * self.mass)
        r = torch.as_tensor(np.sqrt(np.minimum(r2, self.tau)), device=self.device)
        g = torch.randn(n, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        g = g.div_(torch.linalg.vector_norm(g, dim=1, keepdim=True)).mul_((self.scale * r).unsqueeze(1))
        return out.copy_(g.view(out.shape))


@sampler_for("dsrs-general-gaussian-ball")
class GeneralDSRSNoise(DSRSNoise):
    """P = N^g(k, sigma) and its ball-truncated Q (see the module docstring)."""

    def _radial(self, params):
        k = float(params["k"])
        return 0.5 * self.dim - k, self.sigma * math.sqrt(self.dim / (self.dim - 2.0 * k))

    def _fill(self, out, generator):
        m = out.shape[0]
        rho = self.scale * torch.sqrt(2.0 * sample_gamma(self.half_dof, m, generator, self.device))
        g = torch.randn(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        g = g.mul_((rho / torch.linalg.vector_norm(g, dim=1)).unsqueeze(1))
        out.copy_(g.view(out.shape))
