"""CERTIFY with two count sets: double-sampling randomized smoothing on torch models.

Li, Zhang, Xie & Li 2022, "Double Sampling Randomized Smoothing" (ICML), Sec. 4 and Alg. 1:
the base classifier's counts are drawn under two distributions, P (the smoothing noise) and Q
(for ``dsrs-gaussian-l2``: P truncated to a ball, :meth:`~.noise_dsrs.DSRSNoise.sample_q`), and
the certificate takes a lower bound of each, ``cert.radius(p_a, q_a=q_a)``.

Procedure per input (Cohen et al.'s CERTIFY with a second estimation set):

1. ``n0`` selection samples under P pick the class ``c_A`` (argmax, ties to the lowest index);
2. ``n`` fresh samples under P and ``n`` fresh samples under Q (separate estimation sets);
3. one-sided Clopper-Pearson lower bounds of ``c_A``'s count: ``p_a`` from the P set and
   ``q_a`` from the Q set, **each at level alpha/2**, so by the union bound both hold at once
   with probability ``>= 1 - alpha`` (Li et al. split alpha the same way: 0.0005 each for 0.001);
4. abstain (-1, radius 0) unless ``p_a > 1/2`` (binary, as Cohen's rule), else the radius
   ``cert.radius(p_a, q_a=q_a)`` (never below Cohen's radius at the same ``p_a``).

With ``n`` samples per set the run draws ``n0 + 2 n`` samples per input (Li et al. draw 50,000
per set where Cohen's protocol draws 100,000 under P alone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_alpha, check_int
from ..estimators import certify_counts, cp_lower
from .noise import NoiseSampler, make_noise
from .sampler import CertifyResult, _as_inputs, counts

#: The columns a double-sampling run adds to a result file (gpu_sampler/dataset.py).
COLUMNS = ("qA_lower", "counts_q")
#: How a double-sampling run splits alpha, as the run record and the help text state it.
ALPHA_SPLIT = "pA (P counts) at alpha/2 and qA (Q counts) at alpha/2: both hold at 1 - alpha"


@dataclass(frozen=True)
class DoubleCertifyResult(CertifyResult):
    """A :class:`~smoothcert.gpu_sampler.sampler.CertifyResult` plus the second count set:
    ``q_a_lower`` (the lower bound of Q(f = c_A) handed to the certificate) and ``counts_q``
    (the ``n`` estimation counts under Q), ``samples`` = ``n0 + 2 n``. ``p_a_lower`` is at
    alpha/2 here."""

    q_a_lower: float = 0.0
    counts_q: np.ndarray | None = None
    samples: int = 0


class _QSide(NoiseSampler):
    """The Q draws of a double-sampling sampler, as a sampler the counting loop can use."""

    def __init__(self, base: NoiseSampler):
        super().__init__(base.params, base.shape, base.device, base.dtype)
        self.base = base

    def _fill(self, out, generator):
        out.copy_(self.base.sample_q(out.shape[0], generator))


def takes_second_sample(cert) -> bool:
    """Whether ``cert``'s noise has a second distribution Q to count under (a sampler with
    ``sample_q``): then ``smoothcert certify`` draws both count sets."""
    from .noise import sampler_class

    try:
        return hasattr(sampler_class(cert.noise.family), "sample_q")
    except ValueError:
        return False


def certify_counts_double(counts_p, counts_q, cert, alpha=0.001, select=None):
    """Steps 3-4 of the module docstring from counts: ``(prediction, radius, p_a, q_a)``.

    ``counts_p`` / ``counts_q``: the ``(K,)`` or ``(N, K)`` estimation counts under P and Q;
    ``select``: the selection counts (under P) that pick ``c_A``. ``p_a`` and ``q_a`` are the
    one-sided Clopper-Pearson lower bounds at ``alpha/2`` each (``q_a`` of the class that
    ``select`` chose, whether or not it certifies).
    """
    alpha = check_alpha(alpha)
    if select is None:
        raise ValueError("select (the n0 selection counts under P) is required: the class must be "
                         "chosen independently of both estimation sets")
    pred, _, p_a, _ = certify_counts(counts_p, cert, alpha / 2, select=select, rule="binary",
                                     return_bounds=True)
    cq = np.asarray(counts_q)
    if cq.shape != np.shape(counts_p):
        raise ValueError(f"counts_q must have the shape of counts_p {np.shape(counts_p)}, got {cq.shape}")
    chosen = np.argmax(np.asarray(select).reshape(-1, cq.shape[-1]), axis=1)
    rows = cq.reshape(-1, cq.shape[-1])
    q_a = cp_lower(rows[np.arange(len(rows)), chosen], rows.sum(axis=1), alpha / 2)
    pred, p_a, q_a = np.atleast_1d(pred), np.atleast_1d(p_a), np.atleast_1d(q_a)
    radius = np.zeros(len(pred))
    ok = pred >= 0
    if ok.any():
        radius[ok] = cert.radius(p_a[ok], q_a=q_a[ok])
    if cq.ndim == 1:
        return int(pred[0]), float(radius[0]), float(p_a[0]), float(q_a[0])
    return pred, radius, p_a, q_a


def certify_double(model, x, cert, n0=100, n=100_000, alpha=0.001, batch_size=1000,
                   generator=None, precision="float32", batched=None, compile="auto"):
    """Double-sampling CERTIFY (module docstring) for one input or a batch of inputs: ``n0``
    selection samples under P, ``n`` estimation samples under P and ``n`` under Q, bounds at
    alpha/2 each. Returns a :class:`DoubleCertifyResult` (one input) or a list of them."""
    alpha = check_alpha(alpha)
    n0 = check_int("n0", n0, minimum=1)
    n = check_int("n", n, minimum=1)
    t0 = time.perf_counter()
    x, single = _as_inputs(x, cert, batched)
    p_noise = make_noise(cert, tuple(x.shape[1:]), x.device,
                         torch.float64 if precision == "float64" else torch.float32)
    if not hasattr(p_noise, "sample_q"):
        raise ValueError(f"cert={cert.name!r} smooths with one distribution ({cert.noise.family}): "
                         "double sampling needs a family with a second distribution Q")
    opts = dict(batch_size=batch_size, generator=generator, precision=precision, batched=True,
                compile=compile)
    sel = counts(model, x, n0, p_noise, **opts).numpy()
    est_p = counts(model, x, n, p_noise, num_classes=sel.shape[1], **opts).numpy()
    est_q = counts(model, x, n, _QSide(p_noise), num_classes=sel.shape[1], **opts).numpy()
    seconds = (time.perf_counter() - t0) / x.shape[0]
    pred, radius, p_a, q_a = certify_counts_double(est_p, est_q, cert, alpha, select=sel)
    out = [DoubleCertifyResult(int(pred[i]), float(radius[i]), float(p_a[i]), 1.0 - float(p_a[i]),
                               sel[i], est_p[i], seconds, float(q_a[i]), est_q[i], n0 + 2 * n)
           for i in range(len(pred))]
    return out[0] if single else out


__all__ = ["ALPHA_SPLIT", "COLUMNS", "DoubleCertifyResult", "certify_counts_double",
           "certify_double", "takes_second_sample"]
