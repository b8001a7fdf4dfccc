"""Sequential certification of torch models: the sampling loops behind
``smoothcert.estimators.sequential`` (target-radius and budgeted modes).

The statistics (stage schedule, union bound, stopping rules, validity proof) live in
:mod:`smoothcert.estimators.sequential`; this module only supplies its ``draw(index, m)`` callback:
the class counts of ``model`` on ``m`` fresh noisy copies of each input still running, from
:func:`smoothcert.gpu_sampler.sampler.counts` (noise in float32 or wider, added before any
reduced-precision evaluation; inputs of one stage share batches). Inputs that have stopped are
never sampled again, so ``result.samples`` is exactly the number of forward passes per input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..estimators import sequential as seq
from ..core.checks import check_alpha
from .noise import make_noise
from .sampler import CertifyResult, _as_inputs, _check_precision, counts

MODES = ("target", "budget")


class ModelDraw:
    """``draw(index, m)``: counts of ``model`` on ``m`` noisy copies of ``x[index]`` (numpy int64).

    ``rows`` counts the noisy samples classified so far (for checks and benchmarks).
    """

    def __init__(self, model, x, noise, batch_size=1000, generator=None, precision="float32"):
        self.model, self.x = model, x
        self.precision = _check_precision(precision)
        dtype = torch.float64 if precision == "float64" else torch.float32
        self.sampler = make_noise(noise, tuple(x.shape[1:]), x.device, dtype)
        self.opts = dict(batch_size=batch_size, generator=generator, precision=precision,
                         batched=True)
        self.num_classes = None
        self.rows = 0

    def __call__(self, index, m):
        index = torch.as_tensor(np.asarray(index), dtype=torch.long, device=self.x.device)
        out = counts(self.model, self.x[index], m, self.sampler, num_classes=self.num_classes,
                     **self.opts).numpy()
        self.num_classes = out.shape[1]
        self.rows += len(index) * m
        return out


def _run(mode, model, x, cert, batched, batch_size, generator, precision, **kwargs):
    alpha = check_alpha(kwargs.get("alpha", 0.001))
    x, _ = _as_inputs(x, cert, batched)
    draw = ModelDraw(model, x, cert, batch_size, generator, precision)
    t0 = time.perf_counter()
    result = mode(draw, x.shape[0], cert, **{**kwargs, "alpha": alpha})
    result.seconds = (time.perf_counter() - t0) / x.shape[0]
    return result


def certify_target(model, x, cert, radii, alpha=0.001, n0=100, n_max=100_000, n_first=500,
                   growth=1.5, final_share=0.5, rule="binary", abstain_alpha=0.01,
                   batch_size=1000, generator=None, precision="float32", batched=None,
                   progress=False) -> seq.SequentialResult:
    """Is each input certified at each radius of ``radii``? Sequential CERTIFY on ``model``.

    ``x`` is one input ``(C, H, W)`` or a batch ``(B, C, H, W)`` (``batched`` as in
    :func:`smoothcert.gpu_sampler.certify`). ``n0`` selection samples choose ``c_A``; estimation
    samples follow the geometric stage schedule ``n_first, n_first*growth, ..., n_max``; each input
    stops as soon as every radius is decided. All "certified" claims hold simultaneously with
    probability at least ``1 - alpha`` per input (union bound over the stages; see
    :func:`smoothcert.estimators.sequential.certify_target` for the rule, the alpha split and
    the early-abstain test at ``abstain_alpha``). Returns a
    :class:`~smoothcert.estimators.sequential.SequentialResult` over the inputs (``certified``
    has shape ``(B, len(radii))``, ``samples`` counts ``n0`` plus estimation samples) with
    ``seconds`` (wall time per input) added.
    """
    return _run(seq.certify_target, model, x, cert, batched, batch_size, generator, precision,
                radii=radii, alpha=alpha, n0=n0, n_max=n_max, n_first=n_first, growth=growth,
                final_share=final_share, rule=rule, abstain_alpha=abstain_alpha,
                progress=progress)


def certify_budget(model, x, cert, tol, alpha=0.001, n0=100, n_max=100_000, n_first=1000,
                   growth=2.0, final_share=0.9, rule="binary", projection_alpha=0.05,
                   batch_size=1000, generator=None, precision="float32", batched=None,
                   progress=False) -> seq.SequentialResult:
    """The certified radius of each input for a budget of ``n_max`` samples, stopping early when
    more samples are not expected to raise it by more than ``tol`` (radius units).

    Valid at the stopping time with probability at least ``1 - alpha`` per input (union bound
    over the stages plus the free padded bound; see
    :func:`smoothcert.estimators.sequential.certify_budget`). Arguments and result as
    :func:`certify_target`; ``result.radius`` is the certified radius, ``result.prediction``
    the class (-1 abstains).
    """
    return _run(seq.certify_budget, model, x, cert, batched, batch_size, generator, precision,
                tol=tol, alpha=alpha, n0=n0, n_max=n_max, n_first=n_first, growth=growth,
                final_share=final_share, rule=rule, projection_alpha=projection_alpha,
                progress=progress)


@dataclass(frozen=True)
class SequentialCertifyResult(CertifyResult):
    """A :class:`~smoothcert.gpu_sampler.sampler.CertifyResult` of a sequential run, plus
    ``samples`` (n0 + estimation samples drawn) and ``mode``. ``radius`` is the sound radius at
    the stop (target mode: at least every radius of the grid it certified), ``counts_estimate``
    the estimation counts at the stop."""

    samples: int = 0
    mode: str = ""


def _noise_std(cert) -> float:
    """The smallest per-coordinate noise std of ``cert`` (for the default budget tolerance)."""
    try:
        return float(np.min(cert.noise.std()))
    except NotImplementedError:
        raise ValueError(f"tol=None needs a noise std, which {cert!r} does not have in closed "
                         "form: pass tol (radius units)") from None


def certify_sequential(model, x, cert, mode="target", radii=(0.25, 0.5, 0.75, 1.0), tol=None,
                       n0=100, n=100_000, alpha=0.001, batch_size=1000, rule="binary",
                       generator=None, precision="float32", batched=None):
    """CERTIFY-shaped entry point for dataset runs and the CLI: ``mode="target"`` runs
    :func:`certify_target` on ``radii``, ``mode="budget"`` runs :func:`certify_budget` with
    ``tol`` (default 0.02 x the certificate's noise std when it has one) and ``n_max = n``.
    Returns a :class:`SequentialCertifyResult` (one input) or a list of them (a batch), like
    :func:`smoothcert.gpu_sampler.certify`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    x, single = _as_inputs(x, cert, batched)
    opts = dict(alpha=alpha, n0=n0, n_max=n, rule=rule, batch_size=batch_size,
                generator=generator, precision=precision, batched=True)
    if mode == "target":
        res = certify_target(model, x, cert, radii, **opts)
    else:
        if tol is None:
            tol = 0.02 * _noise_std(cert)
        res = certify_budget(model, x, cert, tol, **opts)
    out = [
        SequentialCertifyResult(int(res.prediction[i]), float(res.radius[i]),
                                float(res.p_a_lower[i]), float(res.p_b_upper[i]), res.select[i],
                                res.counts[i], res.seconds, int(res.samples[i]), mode)
        for i in range(len(res.prediction))
    ]
    return out[0] if single else out


__all__ = ["MODES", "ModelDraw", "SequentialCertifyResult", "certify_budget",
           "certify_sequential", "certify_target"]
