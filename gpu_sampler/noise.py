"""Torch samplers for the smoothing distribution of every certificate (docs/contributing.md, Parameters).

``make_noise(cert_or_noise, shape)`` reads the torch-free :class:`~smoothcert.bounds.base.Noise`
description, looks its family up in the noise-family registry (:mod:`smoothcert.bounds.family`),
validates the parameters through the family object (one ``ValueError`` naming the argument) and
returns the sampler class registered for that family with ``@sampler_for(name)``: a
:class:`NoiseSampler` whose ``sample(n, generator)`` draws an ``(n, *shape)`` tensor on the
sampler's device. ``unit_noise(family, shape)`` is the same sampler at ``scale_param = 1``: the
reparameterization noise ``eps`` with ``scale * eps`` distributed as the family at that scale
(data-dependent smoothing, ANCER, training). A family without a registered sampler is an error
naming it (docs/families.md: a new family is one sampler class). Every draw goes through the
caller's seeded ``torch.Generator`` (same seed, same device -> same noise) and is computed in float32 or wider
(the radial parts of the Zhang et al. families in float64).

Families and parameter conventions (docs/contributing.md, Parameters):

* ``gaussian`` -- ``N(mean, diag(sigma^2))``; ``sigma`` scalar or per coordinate, optional
  ``mean`` (the ARS mean map; it never changes a radius, ARS Section 4, so it is a sampler-only
  parameter, :attr:`NoiseSampler.extra_params`, not one of the family's).
* ``laplace`` -- density proportional to ``exp(-|z_i| / b_i)``, ``scale`` = b (std ``sqrt(2) b``).
* ``uniform`` -- ``U[-lambda_i, lambda_i]``, ``half_width`` = lambda (std ``lambda / sqrt(3)``).
* ``gaussian-mixture`` -- ``sum_k w_k N(0, diag(sigma_k^2))`` (ANCER App. B.1); ``weights`` (K,),
  ``sigmas`` K scalars or K per-coordinate rows.
* Yang et al. 2020's noise zoo (uniform l2 ball, Exp2, ExpInf, PowInf, Pareto): in
  :mod:`.noise_zoo`, registered the same way.
* ``zhang-l2`` / ``zhang-l1`` / ``zhang-linf`` -- Zhang et al. 2020, "Black-Box Certification with
  Randomized Smoothing: A Functional Optimization Based Framework" (the l2/l1 families of their
  Theorem 2, the mixed l_inf family of their Eq. 13); exact radial/direction sampling, see the
  classes below.

Per-coordinate parameters are a scalar, an array broadcastable to ``shape``, or an array with
``prod(shape)`` entries (read in C order).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from ..bounds.base import Noise
from ..bounds.family import noise_families, noise_family
from ..core.checks import as_float_array, check_finite, check_int

#: Points of the float64 inverse-CDF table of the l_inf radius (``zhang-linf``).
LINF_GRID_POINTS = 2**18
#: The table covers the region where the log-density is within this many nats of its maximum;
#: the mass left out is below ``exp(-LINF_TAIL_NATS)`` times the width of the range.
LINF_TAIL_NATS = 46.0
#: Smallest ``dim - k`` the l_inf table covers: its left tail ``P(s < e^t) ~ e^{(d - k) t}`` must
#: be below ``e^-46`` at the table's end ``t = -700`` (float64 underflows below ``e^-745``).
LINF_MIN_DOF = 0.08


def default_device() -> torch.device:
    """CUDA when present, CPU otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------------------------
# parameter handling
def _as_shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(check_int("shape", s, minimum=1) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of positive integers, got {shape!r}") from None
    return dims


def _per_coordinate(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``arr`` as an array broadcastable to ``shape`` (scalars stay 0-d)."""
    if arr.ndim == 0:
        return arr
    try:
        if np.broadcast_shapes(arr.shape, shape) == shape:
            return arr
    except ValueError:
        pass
    if arr.size == math.prod(shape):
        return arr.reshape(shape)
    raise ValueError(
        f"{name} must be a scalar, broadcastable to the input shape {shape} or have "
        f"{math.prod(shape)} entries, got an array of shape {arr.shape}"
    )


def _tensor(arr: np.ndarray, device, dtype) -> torch.Tensor | float:
    """A 0-d parameter as a Python float (cheapest in-place ops), arrays as tensors."""
    if arr.ndim == 0:
        return float(arr)
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device=device)


def _check_generator(generator, device: torch.device) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    if generator.device.type != device.type:
        raise ValueError(
            f"generator lives on {generator.device}, the sampler on {device}: "
            f"create it with torch.Generator(device={str(device)!r})"
        )


def input_dim(params, shape) -> int:
    """The family parameter ``dim`` of a sampler, checked to be the number of input entries."""
    d = int(params["dim"])
    if d != math.prod(shape):
        raise ValueError(f"dim={d} does not match the input shape {shape} ({math.prod(shape)} entries)")
    return d


def _zhang_dim_k(params, shape) -> tuple[int, float]:
    """``(dim, k)`` of validated Zhang parameters; ``dim`` must be the number of input entries."""
    return input_dim(params, shape), float(params["k"])


# ---------------------------------------------------------------------------------------------
# exact samplers used by the Zhang et al. families (float64, any device)
def sample_gamma(shape_a: float, m: int, generator=None, device="cpu") -> torch.Tensor:
    """``m`` draws of Gamma(shape_a, 1) in float64 through ``generator``.

    Marsaglia & Tsang (2000), "A simple method for generating gamma variables", ACM TOMS 26(3), for
    ``a >= 1``: with ``c = a - 1/3``, ``x ~ N(0, 1)``, ``v = (1 + x / sqrt(9c))^3``, accept when
    ``log u < x^2/2 + c - c v + c log v``; their boost ``Gamma(a) = Gamma(a + 1) U^(1/a)`` for
    ``a < 1`` (evaluated in log space). Exact rejection sampling (``torch._standard_gamma`` takes
    no generator, so it cannot be used reproducibly).
    """
    a = float(shape_a)
    if not a > 0:
        raise ValueError(f"shape_a must be > 0, got {shape_a!r}")
    m = check_int("m", m, minimum=0)
    boost = a < 1.0
    c = (a + 1.0 if boost else a) - 1.0 / 3.0
    scale = 1.0 / math.sqrt(9.0 * c)
    out = torch.empty(m, dtype=torch.float64, device=device)
    filled = 0
    while filled < m:
        want = m - filled
        draw = max(16, int(want * 1.1) + 8)  # acceptance is above 0.95 for every a
        x = torch.randn(draw, dtype=torch.float64, device=device, generator=generator)
        u = torch.rand(draw, dtype=torch.float64, device=device, generator=generator)
        v = (1.0 + scale * x) ** 3
        ok = v > 0
        logv = torch.log(torch.where(ok, v, torch.ones_like(v)))
        ok &= torch.log(u) < 0.5 * x * x + c - c * v + c * logv
        acc = (c * v)[ok][:want]
        out[filled : filled + acc.numel()] = acc
        filled += acc.numel()
    if boost:
        u = torch.rand(m, dtype=torch.float64, device=device, generator=generator)
        out = torch.exp(torch.log(out) + torch.log(u) / a)
    return out


def _log_linf_density(t: np.ndarray, k: float, d: int) -> np.ndarray:
    """Unnormalized log-density of ``t = log(s)`` for ``s = ||z||_inf``, sigma = 1.

    Zhang et al. Eq. (13) with sigma = 1: s has density proportional to
    ``s^-k exp(-s^2/2) erf(s/sqrt 2)^(d-1)`` (the marginal of Eq. 13's density); with ``s = e^t`` the Jacobian adds
    ``t``: ``log p(t) = (1 - k) t - e^{2t}/2 + (d - 1) log erf(e^t / sqrt 2)``.
    """
    s = np.exp(t)
    x = s / math.sqrt(2.0)
    with np.errstate(divide="ignore"):
        log_erf = np.where(x < 1.0, np.log(special.erf(x)), np.log1p(-special.erfc(x)))
    return (1.0 - k) * t - 0.5 * s * s + (d - 1) * log_erf


def linf_radius_table(k: float, d: int, points: int = LINF_GRID_POINTS):
    """Float64 inverse-CDF table ``(cdf, t)`` of ``t = log(||z||_inf / sigma)`` (zhang-linf).

    The density is log-concave-like with left tail slope ``d - k`` and a Gaussian right tail; a
    coarse scan finds where it lies within ``LINF_TAIL_NATS`` of its maximum, then ``points``
    equally spaced nodes carry the trapezoid-rule CDF. Sampling interpolates linearly between nodes
    (a density constant per cell): the sampled law differs from the exact one by the quadrature
    error of a smooth density on ~2.6e5 cells plus the excluded ``e^-46`` tails.
    """
    lo = max(-700.0, -60.0 - LINF_TAIL_NATS / (d - k))  # e^-700: s underflows below anyway
    coarse = np.linspace(lo, 5.0, 20001)
    logp = _log_linf_density(coarse, k, d)
    keep = np.flatnonzero(logp > logp.max() - LINF_TAIL_NATS)
    step = coarse[1] - coarse[0]
    t = np.linspace(coarse[keep[0]] - step, coarse[keep[-1]] + step, points)
    logp = _log_linf_density(t, k, d)
    p = np.exp(logp - logp.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * (t[1] - t[0]))])
    return cdf / cdf[-1], t


def _interp(u: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of ``(xp, fp)`` at ``u`` (xp increasing), in torch."""
    i = torch.searchsorted(xp, u).clamp(1, xp.numel() - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    w = torch.where(x1 > x0, (u - x0) / (x1 - x0), torch.zeros_like(u))
    return f0 + w * (f1 - f0)


# ---------------------------------------------------------------------------------------------
# samplers and their registry
class NoiseSampler:
    """Draws smoothing noise of one family for inputs of a fixed ``shape``.

    ``sample(n, generator=None)`` returns a new ``(n, *shape)`` tensor; ``sample_into(out,
    generator)`` fills a preallocated ``(m, *shape)`` tensor in place (what the counting sampler
    uses). ``generator`` must live on ``device``; ``None`` uses torch's global generator.

    Subclasses are registered with ``@sampler_for(family_name)`` and receive ``params`` already
    validated by the family object (plus their own ``extra_params``, parameters of the draw that
    are not parameters of the family, such as the Gaussian mean); they implement ``_fill``, or
    derive from :class:`ElementwiseNoise`.

    The counting sampler (gpu_sampler/sampler.py) draws through :meth:`raw_buffers`,
    :meth:`draw` and :meth:`transform`: only :meth:`draw` touches the generator and runs eagerly;
    :meth:`transform` is pure, so it runs inside the compiled sampling step. By default the raw
    draw is the whole sample and the transform the identity (families that need rejection or
    several dependent draws); :class:`ElementwiseNoise` families split them.
    """

    family: str = ""
    extra_params: tuple[str, ...] = ()

    def __init__(self, params, shape, device, dtype):
        self.shape = shape
        self.device = torch.device(device)
        self.dtype = dtype
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, device={self.device}, dtype={self.dtype})"

    def sample(self, n: int, generator=None) -> torch.Tensor:
        n = check_int("n", n, minimum=0)
        out = torch.empty((n, *self.shape), dtype=self.dtype, device=self.device)
        return self.sample_into(out, generator)

    def sample_into(self, out: torch.Tensor, generator=None) -> torch.Tensor:
        if tuple(out.shape[1:]) != self.shape:
            raise ValueError(f"out must have shape (m, *{self.shape}), got {tuple(out.shape)}")
        if out.device.type != self.device.type:
            raise ValueError(f"out lives on {out.device}, the sampler on {self.device}")
        _check_generator(generator, self.device)
        if out.shape[0] > 0:
            self._fill(out, generator)
        return out

    def _fill(self, out, generator):
        raise NotImplementedError

    def raw_buffers(self, rows: int, dtype) -> tuple[torch.Tensor, ...]:
        """Buffers for the raw draws of up to ``rows`` samples (:meth:`draw` fills their first
        ``m`` rows); default: one ``(rows, *shape)`` tensor of ``dtype``."""
        return (torch.empty((rows, *self.shape), dtype=dtype, device=self.device),)

    def draw(self, raws, generator=None) -> None:
        """Fill ``raws`` (as :meth:`raw_buffers`, all with the same number of rows) through
        ``generator``; default: the whole sample (:meth:`sample_into`)."""
        self.sample_into(raws[0], generator)

    def transform(self, *raws) -> torch.Tensor:
        """The noise as a pure function of the raw draws (a new tensor, the raw draws' dtype;
        no generator): ``transform(*raws)`` after ``draw(raws, g)`` is the noise ``sample_into``
        draws from the same state of ``g``. Default: the draw itself."""
        return raws[0]


class ElementwiseNoise(NoiseSampler):
    """A family whose noise is an elementwise function of independent raw draws (Gaussian,
    Laplace, uniform, Pareto): subclasses implement :meth:`raw_buffers`, :meth:`draw` and
    :meth:`transform`, and ``sample_into`` is ``transform(draw)``, so a sample and the compiled
    counting step see the same stream and the same formula."""

    def _fill(self, out, generator):
        raws = self.raw_buffers(out.shape[0], out.dtype)
        self.draw(raws, generator)
        out.copy_(self.transform(*raws))


_SAMPLERS: dict[str, type[NoiseSampler]] = {}


def sampler_for(family: str):
    """Class decorator: register a :class:`NoiseSampler` subclass as the sampler of the noise
    family named ``family`` (one sampler per family; the family itself lives in ``bounds/``)."""
    if not isinstance(family, str) or not family:
        raise TypeError(f"family must be a non-empty string, got {family!r}")

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, NoiseSampler)):
            raise TypeError(f"sampler_for({family!r}) decorates a NoiseSampler subclass, got {cls!r}")
        if family in _SAMPLERS and _SAMPLERS[family] is not cls:
            raise ValueError(f"noise family {family!r} already has the sampler {_SAMPLERS[family].__name__}")
        cls.family = family
        _SAMPLERS[family] = cls
        return cls

    return register


def unregister_sampler(family: str) -> None:
    """Remove a family's sampler (for test-only families registered at run time)."""
    _SAMPLERS.pop(family, None)


def samplers() -> list[str]:
    """Sorted names of the registered noise families that have a sampler (a sampler whose family
    is not registered, such as a test-only one, is not listed)."""
    return sorted(set(_SAMPLERS) & set(noise_families()))


def sampler_class(family: str) -> type[NoiseSampler]:
    """The sampler registered for the noise family ``family``; a ``ValueError`` naming it otherwise."""
    try:
        return _SAMPLERS[family]
    except (KeyError, TypeError):
        raise ValueError(
            f"noise family {family!r} has no torch sampler: register a NoiseSampler subclass with "
            f"@sampler_for({family!r}) in smoothcert/gpu_sampler/noise.py (families with samplers: "
            f"{', '.join(samplers())})"
        ) from None


@sampler_for("gaussian")
class GaussianNoise(ElementwiseNoise):
    """``mean + sigma * N(0, I)`` (Cohen et al. 2019 Sec. 3; ARS Sec. 4 for per-coordinate sigma)."""

    extra_params = ("mean",)

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.sigma = _tensor(_per_coordinate("sigma", np.asarray(params["sigma"], dtype=float), shape),
                             self.device, dtype)
        mean = params.get("mean")
        self.mean = None
        if mean is not None:
            arr = as_float_array("mean", mean)
            check_finite("mean", arr, mean)
            self.mean = _tensor(_per_coordinate("mean", arr, shape), self.device, dtype)

    def draw(self, raws, generator=None):
        raws[0].normal_(generator=generator)

    def transform(self, g):
        z = g * self.sigma
        return z if self.mean is None else z + self.mean


@sampler_for("laplace")
class LaplaceNoise(ElementwiseNoise):
    """i.i.d. Laplace(0, b_i): ``b_i * E * S``, ``E ~ Exp(1)``, ``S = 2 B - 1`` a fair random sign
    (``B`` Bernoulli(1/2), drawn first)."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.scale = _tensor(_per_coordinate("scale", np.asarray(params["scale"], dtype=float), shape),
                             self.device, dtype)

    def raw_buffers(self, rows, dtype):
        return super().raw_buffers(rows, dtype) + super().raw_buffers(rows, dtype)

    def draw(self, raws, generator=None):
        raws[0].bernoulli_(0.5, generator=generator)
        raws[1].exponential_(generator=generator)

    def transform(self, bit, e):
        return e * (bit * 2.0 - 1.0) * self.scale


@sampler_for("uniform")
class UniformNoise(ElementwiseNoise):
    """i.i.d. ``U[-lambda_i, lambda_i]`` (Yang et al. 2020; ANCER Cor. 2)."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        hw = np.asarray(params["half_width"], dtype=float)
        self.half_width = _tensor(_per_coordinate("half_width", hw, shape), self.device, dtype)

    def draw(self, raws, generator=None):
        raws[0].uniform_(-1.0, 1.0, generator=generator)

    def transform(self, u):
        return u * self.half_width


@sampler_for("gaussian-mixture")
class GaussianMixtureNoise(NoiseSampler):
    """``sum_k w_k N(0, diag(sigma_k^2))`` (Eiras et al., ANCER, App. B.1): a component index per
    sample from ``weights``, then that component's Gaussian."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        w = np.asarray(params["weights"], dtype=float)
        s = np.asarray(params["sigmas"], dtype=float)
        if s.ndim == 1:  # K scalar sigmas
            table = s.reshape((-1,) + (1,) * len(shape))
        else:  # K per-coordinate rows
            table = np.stack([np.broadcast_to(_per_coordinate("sigmas", row, shape), shape) for row in s])
        self.weights = torch.as_tensor(w, dtype=torch.float64, device=self.device)
        self.table = torch.as_tensor(np.ascontiguousarray(table), dtype=dtype, device=self.device)

    def _fill(self, out, generator):
        idx = torch.multinomial(self.weights, out.shape[0], replacement=True, generator=generator)
        out.normal_(generator=generator).mul_(self.table[idx])


class _RadialNoise(NoiseSampler):
    """Zhang et al. families: noise = radius * direction, built in float64 then cast."""

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.dim, self.k = _zhang_dim_k(params, shape)

    def _fill(self, out, generator):
        z = self._draw(out.shape[0], generator)
        out.copy_(z.view(out.shape))

    def _draw(self, m, generator) -> torch.Tensor:
        raise NotImplementedError


@sampler_for("zhang-l2")
class ZhangL2Noise(_RadialNoise):
    """pi0 proportional to ``||z||_2^-k exp(-||z||_2^2 / (2 sigma^2))`` (Zhang et al. 2020, the l2 family of Thm. 2).

    In polar coordinates the density of ``rho = ||z||_2`` is proportional to
    ``rho^(d-1-k) exp(-rho^2/(2 sigma^2))``, i.e. ``(rho/sigma)^2 ~ chi^2_{d-k} = 2 Gamma((d-k)/2)``,
    independent of the uniform direction ``g / ||g||_2`` with ``g ~ N(0, I_d)``. k = 0 is N(0, sigma^2 I).
    """

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.sigma = float(params["sigma"])

    def _draw(self, m, generator):
        rho = self.sigma * torch.sqrt(2.0 * sample_gamma((self.dim - self.k) / 2.0, m, generator, self.device))
        g = torch.randn(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        return g.mul_((rho / torch.linalg.vector_norm(g, dim=1)).unsqueeze(1))


@sampler_for("zhang-l1")
class ZhangL1Noise(_RadialNoise):
    """pi0 proportional to ``||z||_1^-k exp(-||z||_1 / b)`` (Zhang et al. 2020, the l1 family of Thm. 2).

    ``||z||_1 ~ Gamma(d - k, scale b)`` (the l1 sphere's area grows as ``rho^(d-1)``), times a
    uniform point on the unit l1 sphere: ``E / sum(E)`` with ``E_i ~ Exp(1)`` (Dirichlet(1,...,1))
    and independent fair signs. k = 0 is i.i.d. Laplace(0, b).
    """

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.scale = float(params["scale"])

    def _draw(self, m, generator):
        rho = self.scale * sample_gamma(self.dim - self.k, m, generator, self.device)
        e = torch.empty(m, self.dim, dtype=torch.float64, device=self.device).exponential_(generator=generator)
        sign = torch.empty_like(e).bernoulli_(0.5, generator=generator).mul_(2.0).sub_(1.0)
        on_sphere = (rho / e.sum(dim=1)).unsqueeze(1)
        return e.mul_(on_sphere).mul_(sign)


@sampler_for("zhang-linf")
class ZhangLinfNoise(_RadialNoise):
    """pi0 proportional to ``||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2))`` (Zhang et al. Eq. 13).

    Exact decomposition of Eq. 13's density: ``s = ||z||_inf`` has density proportional to
    ``s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1)`` -- drawn by inverse CDF from a float64
    table (:func:`linf_radius_table`); one uniformly chosen coordinate is ``+-s``; the other d - 1
    are N(0, sigma^2) truncated to (-s, s), drawn by inverse CDF
    ``z = sigma sqrt 2 erfinv((2u - 1) erf(s / (sigma sqrt 2)))``. k = 0 is N(0, sigma^2 I).
    """

    def __init__(self, params, shape, device, dtype):
        super().__init__(params, shape, device, dtype)
        self.sigma = float(params["sigma"])
        if self.dim - self.k < LINF_MIN_DOF:
            raise ValueError(
                f"k={self.k!r} is too close to dim={self.dim}: with dim - k < {LINF_MIN_DOF} most of "
                "the l_inf radius lies below float64's smallest number and cannot be sampled"
            )
        cdf, t = linf_radius_table(self.k, self.dim)
        self._cdf = torch.as_tensor(cdf, dtype=torch.float64, device=self.device)
        self._t = torch.as_tensor(t, dtype=torch.float64, device=self.device)

    def sample_radius(self, m, generator=None) -> torch.Tensor:
        """``m`` draws of ``||z||_inf / sigma`` (float64)."""
        u = torch.rand(m, dtype=torch.float64, device=self.device, generator=generator)
        return torch.exp(_interp(u, self._cdf, self._t))

    def _draw(self, m, generator):
        s = self.sample_radius(m, generator).unsqueeze(1)  # unit sigma
        v = torch.rand(m, self.dim, dtype=torch.float64, device=self.device, generator=generator)
        v = v.mul_(2.0).sub_(1.0).mul_(torch.erf(s / math.sqrt(2.0)))
        z = torch.erfinv(v).mul_(math.sqrt(2.0))
        inside = torch.nextafter(s, torch.zeros_like(s))  # keep |z_j| < s: s stays the maximum
        z = torch.maximum(torch.minimum(z, inside), -inside)
        j = torch.randint(self.dim, (m, 1), device=self.device, generator=generator)
        sign = torch.empty(m, 1, dtype=torch.float64, device=self.device).bernoulli_(0.5, generator=generator)
        z.scatter_(1, j, s * (2.0 * sign - 1.0))
        return z.mul_(self.sigma)


# ---------------------------------------------------------------------------------------------
# building samplers
def make_noise(noise_or_cert, shape, device=None, dtype=torch.float32) -> NoiseSampler:
    """A sampler for the smoothing noise of ``noise_or_cert`` on inputs of shape ``shape``.

    ``noise_or_cert`` is a :class:`~smoothcert.bounds.base.Noise` or any certificate (its ``.noise``).
    Its family is looked up in the noise-family registry and the parameters are validated by the
    family object; the sampler registered for the family draws. ``device`` defaults to CUDA when
    present; ``dtype`` must be float32 or float64 (docs/contributing.md, Soundness: noise is never sampled in
    reduced precision).
    """
    noise = getattr(noise_or_cert, "noise", noise_or_cert)
    name = getattr(noise, "family", None)
    params = getattr(noise, "params", None)
    if not isinstance(name, str) or params is None:
        raise TypeError(f"noise_or_cert must be a Noise or a certificate, got {noise_or_cert!r}")
    family = noise_family(name)
    cls = sampler_class(family.name)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    device = default_device() if device is None else torch.device(device)
    extra = {k: v for k, v in params.items() if k in cls.extra_params}
    valid = family.validate({k: v for k, v in params.items() if k not in cls.extra_params})
    return cls({**valid, **extra}, _as_shape(shape), device, dtype)


def unit_noise(family: str, shape, device=None, dtype=torch.float32, **params) -> NoiseSampler:
    """The sampler of ``family`` at ``scale_param = 1`` (its other parameters as given, else their
    defaults): the reparameterization noise ``eps`` such that ``scale * eps`` has the family's law
    at that scale (every registered family is a scale family: its std is proportional to
    ``scale_param``, bounds/family.py). Used where the scale is optimized or varies per input."""
    fam = noise_family(family)
    return make_noise(Noise(fam.name, {**params, fam.scale_param: 1.0}), shape, device, dtype)


__all__ = [
    "NoiseSampler",
    "ElementwiseNoise",
    "input_dim",
    "GaussianNoise",
    "LaplaceNoise",
    "UniformNoise",
    "GaussianMixtureNoise",
    "ZhangL2Noise",
    "ZhangL1Noise",
    "ZhangLinfNoise",
    "default_device",
    "linf_radius_table",
    "make_noise",
    "sample_gamma",
    "sampler_class",
    "sampler_for",
    "samplers",
    "unit_noise",
    "unregister_sampler",
]
