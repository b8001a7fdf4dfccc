"""Torch samplers for Yang et al. 2020's noise zoo ("Randomized Smoothing of All Shapes and Sizes";
rs4a's ``UniformBall``, ``Exp2``, ``ExpInf``, ``PowInf``, ``Pareto``), registered with
``@sampler_for`` like those of :mod:`.noise` (which holds the registry and ``make_noise``).

* ``uniform-ball-l2`` -- uniform on the l2 ball of radius ``ball_radius`` in R^``dim``, std
  ``lambda / sqrt(d + 2)``.
* ``exp2`` / ``expinf`` -- the spherical and cubical exponential families
  ``||z||^-k exp(-(||z||/lambda)^exp_power)`` in l2 / l_inf norm.
* ``powinf`` -- ``(1 + ||z||_inf/lambda)^-(d + m)``; ``pareto`` -- i.i.d. Pareto coordinates.
* ``pow2`` -- ``(1 + (||z||_2/lambda)^p)^-(d + m)``, a BetaPrime radius times a uniform direction.

Every draw is made in float64 from the caller's seeded generator, then cast.
"""

from __future__ import annotations

import torch

from .noise import ElementwiseNoise, NoiseSampler, input_dim, sample_gamma, sampler_for


@sampler_for("uniform-ball-l2")
class UniformBallNoise(NoiseSampler):
    """Uniform on the l2 ball of radius lambda in R^d (Yang et al. 2020; rs4a UniformBall): a
    uniform direction ``g / ||g||_2`` (``g ~ N(0, I_d)``) times ``lambda U^(1/d)`` (the radius of a
    uniform point has CDF ``(r / lambda)^d``), in float64 then cast."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.dim, self.ball_radius = input_dim(params, shape), float(params["ball_radius"])

    def _fill(self, out, generator):
        m = out.shape[0]
        g = torch.randn(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        u = torch.rand(m, dtype=torch.float64, device=self.device, generator=generator)
        rho = self.ball_radius * u.pow(1.0 / self.dim)
        out.copy_(g.mul_((rho / torch.linalg.vector_norm(g, dim=1)).unsqueeze(1)).view(out.shape))


class _YangExpNoise(NoiseSampler):
    """Yang et al. 2020 (rs4a ``Exp2`` / ``ExpInf``): ``||z|| = lambda G^(1/p)``, ``G ~
    Gamma((d - k)/p)``, p = exp_power (the radial density is proportional to
    ``s^(d-1-k) exp(-(s/lambda)^p)``),
    times a uniform point of the unit sphere of the family's norm, in float64 then cast."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.dim = input_dim(params, shape)
        self.lambd, self.p, self.k = float(params["lambd"]), float(params["exp_power"]), float(params["k"])

    def _fill(self, out, generator):
        m = out.shape[0]
        g = sample_gamma((self.dim - self.k) / self.p, m, generator, self.device)
        rho = self.lambd * g.pow(1.0 / self.p)
        out.copy_(self._direction(m, generator).mul_(rho.unsqueeze(1)).view(out.shape))

    def _direction(self, m, generator) -> torch.Tensor:
        raise NotImplementedError


@sampler_for("exp2")
class Exp2Noise(_YangExpNoise):
    """q ~ ``||z||_2^-k exp(-(||z||_2/lambda)^p)``: direction ``g / ||g||_2``, ``g ~ N(0, I_d)``."""

    def _direction(self, m, generator):
        g = torch.randn(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        return g.div_(torch.linalg.vector_norm(g, dim=1, keepdim=True))


@sampler_for("expinf")
class ExpInfNoise(_YangExpNoise):
    """q ~ ``||z||_inf^-k exp(-(||z||_inf/lambda)^p)``: a uniform point of the cube's surface, one
    uniformly chosen coordinate ``+-1`` and the other d - 1 ``U[-1, 1]`` (each face has the same
    area, and the law on a face is uniform)."""

    def _direction(self, m, generator):
        v = torch.rand(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        v = v.mul_(2.0).sub_(1.0)
        i = torch.randint(self.dim, (m, 1), device=self.device, generator=generator)
        sign = torch.empty(m, 1, dtype=torch.float64, device=self.device).bernoulli_(0.5, generator=generator)
        return v.scatter_(1, i, 2.0 * sign - 1.0)


@sampler_for("pareto")
class ParetoNoise(ElementwiseNoise):
    """i.i.d. ``S lambda (Y - 1)``, ``Y ~ Pareto(1, a)`` and ``S = 2 B - 1`` a fair random sign
    (rs4a ``Pareto.sample``): ``Y = U^(-1/a) = exp(E/a)``, ``E ~ Exp(1)``, so ``|z| = lambda
    expm1(E/a)`` (density ``a/(2 lambda) (1 + |z|/lambda)^-(a+1)``); ``B`` then ``E`` are drawn,
    and transformed, in float64 (the caller casts)."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.lambd, self.a = float(params["lambd"]), float(params["tail_index"])

    def raw_buffers(self, rows, dtype):
        return super().raw_buffers(rows, torch.float64) + super().raw_buffers(rows, torch.float64)

    def draw(self, raws, generator=None):
        raws[0].bernoulli_(0.5, generator=generator)
        raws[1].exponential_(generator=generator)

    def transform(self, bit, e):
        return torch.expm1(e / self.a) * (bit * 2.0 - 1.0) * self.lambd


@sampler_for("powinf")
class PowInfNoise(ExpInfNoise):
    """q ~ ``(1 + ||z||_inf/lambda)^-(d + m)`` (Yang et al. 2020, rs4a ``PowInf``):
    ``||z||_inf = lambda G / H`` with ``G ~ Gamma(d)``, ``H ~ Gamma(m)`` (a BetaPrime(d, m)),
    times a uniform point of the cube's surface."""

    def __init__(self, params, shape, device, dtype):
        NoiseSampler.__init__(self, params, shape, device, dtype)
        self.dim = input_dim(params, shape)
        self.lambd, self.m = float(params["lambd"]), float(params["tail_excess"])

    def _fill(self, out, generator):
        m = out.shape[0]
        g = sample_gamma(float(self.dim), m, generator, self.device)
        h = sample_gamma(self.m, m, generator, self.device)
        rho = self.lambd * g / h
        out.copy_(self._direction(m, generator).mul_(rho.unsqueeze(1)).view(out.shape))


@sampler_for("pow2")
class Pow2Noise(Exp2Noise):
    """q ~ ``(1 + (||z||_2/lambda)^p)^-(d + m)`` (Yang et al. 2020, rs4a ``Pow2``):
    ``||z||_2 = lambda (G / H)^(1/p)`` with ``G ~ Gamma(d/p)``, ``H ~ Gamma(d + m - d/p)`` (their
    ratio is BetaPrime(d/p, a - d/p)), times a uniform direction on the l2 sphere."""

    def __init__(self, params, shape, device, dtype):
        NoiseSampler.__init__(self, params, shape, device, dtype)
        self.dim = input_dim(params, shape)
        self.lambd, self.p = float(params["lambd"]), float(params["exp_power"])
        self.beta = self.dim + float(params["tail_excess"]) - self.dim / self.p

    def _fill(self, out, generator):
        m = out.shape[0]
        g = sample_gamma(self.dim / self.p, m, generator, self.device)
        h = sample_gamma(self.beta, m, generator, self.device)
        rho = self.lambd * (g / h).pow(1.0 / self.p)
        out.copy_(self._direction(m, generator).mul_(rho.unsqueeze(1)).view(out.shape))
