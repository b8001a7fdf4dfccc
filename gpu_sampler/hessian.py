"""Local probes of a torch classifier at one input, for the landscape plots.

:func:`hessian_extreme_directions` finds the input directions of largest and smallest curvature
of the target-class probability (Lanczos on Hessian-vector products; ANCER, Eiras et al., Fig.
7); :func:`smoothed_top_probability_bound` is a quick Clopper-Pearson bound on the smoothed top
class (Cohen et al. 2019, Alg. CERTIFY, selection and estimation on the same samples: for
plots only). :func:`orthonormal` is Gram-Schmidt on flat torch vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from ..estimators import cp_lower


def orthonormal(vectors):
    """Gram-Schmidt on flat torch vectors."""
    out = []
    for v in vectors:
        w = v.clone()
        for u in out:
            w = w - (w @ u) * u
        n = w.norm()
        if float(n) == 0.0:
            raise ValueError("directions are linearly dependent")
        out.append(w / n)
    return out


def hessian_extreme_directions(model, x, target: int, tol: float = 1e-8, seed: int = 0):
    """Eigenvectors of the largest and the smallest eigenvalue of the Hessian of the target-class
    probability ``softmax(model(x))[target]`` with respect to the input (ANCER Fig. 7).

    The probability, not its logarithm: for a piecewise-linear (ReLU) network the log-softmax is
    concave in the logits and the logits are locally linear in x, so the Hessian of log p is
    negative semidefinite and its top direction is a null direction; the Hessian of
    ``p = exp(log p)`` adds ``p grad(log p) grad(log p)^T``, which brings out both extremes.

    The Hessian is never formed: Lanczos (ARPACK ``eigsh``, ``which='LA'`` and ``'SA'``) runs on
    Hessian-vector products from double backward. Returns ``((lambda_max, v_max), (lambda_min,
    v_min))`` with flat unit torch vectors in ``x``'s dtype.
    """
    x0 = x.detach().reshape(-1).clone()
    shape, n = x.shape, x0.numel()

    def hvp(v):
        xx = x0.clone().requires_grad_(True)
        prob = torch.softmax(model(xx.reshape(shape)[None]), dim=-1)[0, target]
        (g,) = torch.autograd.grad(prob, xx, create_graph=True)
        vt = torch.as_tensor(np.asarray(v, dtype=float).reshape(-1), dtype=x0.dtype)
        (hv,) = torch.autograd.grad(g @ vt, xx, allow_unused=True)
        return np.zeros(n) if hv is None else hv.detach().double().numpy()

    op = LinearOperator((n, n), matvec=hvp, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    out = []
    for which in ("LA", "SA"):
        if n == 1:
            val = float(hvp(np.ones(1))[0])
            vec = np.ones((1, 1))
        else:
            vals, vecs = eigsh(op, k=1, which=which, v0=v0, tol=tol, maxiter=50 * n)
            val, vec = float(vals[0]), vecs
        out.append((val, torch.as_tensor(vec[:, 0] / np.linalg.norm(vec[:, 0]), dtype=x0.dtype)))
    return out[0], out[1]


def smoothed_top_probability_bound(model, x, sigma: float, n: int = 500, alpha: float = 0.001,
                                   seed: int = 0, batch: int = 250):
    """(top class, one-sided Clopper-Pearson lower bound on its probability) of ``model`` under
    Gaussian noise N(0, sigma^2 I) at ``x``, from n samples (Cohen et al. Alg. CERTIFY, with the
    selection made on the same samples: for plots only, not for reported certificates)."""
    gen = torch.Generator().manual_seed(seed)
    counts = None
    with torch.no_grad():
        for s in range(0, n, batch):
            m = min(batch, n - s)
            noisy = x[None] + sigma * torch.randn((m,) + tuple(x.shape), generator=gen)
            pred = model(noisy).argmax(-1)
            c = torch.bincount(pred, minlength=model(x[None]).shape[-1])
            counts = c if counts is None else counts + c
    top = int(counts.argmax())
    return top, float(cp_lower(int(counts[top]), n, alpha))
