"""Top-k certification of a dataset slice with a real model (Jia, Cao, Wang & Gong, ICLR 2020).

One TSV row per input, Cohen-format first columns (``idx label predict radius correct time``) so
the certified-accuracy tools read it: ``radius`` is the certified l2 radius of the TRUE label in
the smoothed top-k set (the paper's certified top-k accuracy; ``predict`` is the label, or -1
where its radius is 0) from :func:`~smoothcert.estimators.certify_counts` with ``labels`` (the
label's lower bound and every other class's upper bound at ``alpha / c`` each). The extra
columns hold the label-free certified top-k set of the ``n0`` selection samples and its radii
(``top_k=K`` without labels: ``alpha / (K + c)`` per bound), the bounds and the counts. Each of
the two statements holds with probability ``>= 1 - alpha`` on its own.

The file is written once at the end, atomically (no resume or sharding, unlike
:mod:`.dataset`); per-input seeds are :func:`.dataset.input_seed` as there.
"""

from __future__ import annotations

import datetime
import sys
import time

import numpy as np
import torch

from ..core.atomic import atomic_write_text
from ..core.checks import check_alpha, check_int
from .dataset import _input_tensor, input_seed, select_indices
from .sampler import counts as sample_counts
from .sampler import make_noise

COLUMNS = ("idx", "label", "predict", "radius", "correct", "time", "certificate", "k",
           "pA_lower", "pB_upper", "topk", "topk_radii", "counts", "counts_select", "n0", "n",
           "alpha", "seed")


def _joined(values, fmt=str) -> str:
    return ",".join(fmt(v) for v in np.asarray(values).ravel())


def _row(idx, label, run, est, sel, seconds) -> str:
    from ..estimators import certify_counts

    cert, k, alpha = run["cert"], run["k"], run["alpha"]
    pred, radius, p_a, p_b = certify_counts(est, cert, alpha, top_k=k, labels=int(label),
                                            return_bounds=True)
    cset, radii = certify_counts(est, cert, alpha, select=sel, top_k=k)
    fields = [idx, int(label), pred, repr(float(radius)), int(pred == int(label)),
              datetime.timedelta(seconds=float(seconds)), cert.name, k, repr(float(p_a)),
              repr(float(p_b)), _joined(cset), _joined(radii, lambda v: repr(float(v))),
              _joined(est), _joined(sel), run["n0"], run["n"], repr(alpha), run["seed"]]
    return "\t".join(str(f) for f in fields) + "\n"


def certify_topk_dataset(model, cert, images, labels, out_path, n0=100, n=100_000, alpha=0.001,
                         batch_size=1000, skip=1, max_count=None, precision="float32", seed=0,
                         device="cpu", progress=True) -> str:
    """Top-k CERTIFY on ``images[::skip][:max_count]`` with a top-k certificate (``cert.k``);
    writes ``out_path`` (columns :data:`COLUMNS`) and returns it."""
    from tqdm import tqdm

    k = check_int("k", getattr(cert, "k", None), minimum=1)
    n0, n = check_int("n0", n0, minimum=1), check_int("n", n, minimum=1)
    alpha = check_alpha(alpha)
    seed = check_int("seed", seed, minimum=0)
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    device = torch.device(device)
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    run = {"cert": cert, "k": k, "alpha": alpha, "n0": n0, "n": n, "seed": seed}
    lines = ["\t".join(COLUMNS) + "\n"]
    for i in tqdm(select_indices(len(images), skip, max_count), disable=not progress,
                  desc=f"certify top-{k}", unit="input", file=sys.stderr, dynamic_ncols=True):
        t0 = time.perf_counter()
        x = _input_tensor(images, i, device)
        gen = torch.Generator(device=device).manual_seed(input_seed(seed, i))
        dtype = torch.float64 if precision == "float64" else torch.float32
        noise = make_noise(cert, tuple(x.shape), device, dtype)
        opts = dict(batch_size=batch_size, generator=gen, precision=precision)
        sel = sample_counts(model, x, n0, noise, **opts).numpy()
        est = sample_counts(model, x, n, noise, num_classes=sel.shape[-1], **opts).numpy()
        if k >= est.shape[-1]:
            raise ValueError(f"k={k} must be below the model's {est.shape[-1]} classes")
        lines.append(_row(i, labels[i], run, est, sel, time.perf_counter() - t0))
    atomic_write_text(out_path, "".join(lines))
    return str(out_path)


__all__ = ["COLUMNS", "certify_topk_dataset"]
