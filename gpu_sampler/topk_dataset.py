"""Top-k certification of a dataset slice with a real model (Jia, Cao, Wang & Gong, ICLR 2020).

One TSV row per input, Cohen-format first columns (``idx label predict radius correct time``) so
the certified-accuracy tools read it: ``radius`` is the certified l2 radius of the TRUE label in
the smoothed top-k set (the paper's certified top-k accuracy; ``predict`` is the label, or -1
where its radius is 0) from :func:`~smoothcert.estimators.certify_counts` with ``labels`` (the
label's lower bound and every other class's upper bound at ``alpha / c`` each). The extra
columns hold the label-free certified top-k set of the ``n0`` selection samples and its radii
(``top_k=K`` without labels: ``alpha / (K + c)`` per bound), the bounds and the counts. Each of
the two statements holds with probability ``>= 1 - alpha`` on its own.

Resume, run record and crash safety are :mod:`.dataset`'s (:func:`.dataset.append_rows`): each
row is appended whole (one ``O_APPEND`` write, then ``fsync``) as soon as its input is done; the
sidecar ``<out>.json`` records the certificate (with k), model, data, ``n0 n alpha precision
seed`` and versions before the first row; a restarted run truncates a partial last line and
certifies only the missing inputs, and a resume with any other setting is refused with a
:class:`~smoothcert.core.errors.BadInput` naming the difference. Per-input seeds are
:func:`.dataset.input_seed`, so an interrupted and resumed run writes the rows of an
uninterrupted one (except ``time``). No torchrun sharding (unlike :mod:`.dataset`).
"""

from __future__ import annotations

import datetime
import os
import time

import numpy as np
import torch

from ..core.checks import check_alpha, check_counts, check_int
from .dataset import _input_tensor, append_rows, identities, input_seed, run_record, select_indices
from .sampler import PRECISIONS
from .sampler import counts as sample_counts
from .sampler import make_noise

COLUMNS = ("idx", "label", "predict", "radius", "correct", "time", "certificate", "k",
           "pA_lower", "pB_upper", "topk", "topk_radii", "counts", "counts_select", "n0", "n",
           "alpha", "seed")
HEADER = "\t".join(COLUMNS) + "\n"


def _joined(values, fmt=str) -> str:
    return ",".join(fmt(v) for v in np.asarray(values).ravel())


def _row(idx, label, cert, alpha, run, est, sel, seconds) -> str:
    """One TSV line; ``run`` holds the run columns as written (``alpha`` as its repr)."""
    from ..estimators import certify_counts

    k = run["k"]
    pred, radius, p_a, p_b = certify_counts(est, cert, alpha, top_k=k, labels=int(label),
                                            return_bounds=True)
    cset, radii = certify_counts(est, cert, alpha, select=sel, top_k=k)
    fields = {"idx": idx, "label": int(label), "predict": pred, "radius": repr(float(radius)),
              "correct": int(pred == int(label)), "time": datetime.timedelta(seconds=float(seconds)),
              "pA_lower": repr(float(p_a)), "pB_upper": repr(float(p_b)), "topk": _joined(cset),
              "topk_radii": _joined(radii, lambda v: repr(float(v))), "counts": _joined(est),
              "counts_select": _joined(sel), **run}
    return "\t".join(str(fields[c]) for c in COLUMNS) + "\n"


def certify_topk_dataset(model, cert, images, labels, out_path, n0=100, n=100_000, alpha=0.001,
                         batch_size=1000, skip=1, max_count=None, precision="float32", seed=0,
                         device="cpu", progress=True, model_info=None, data_info=None) -> str:
    """Top-k CERTIFY on ``images[::skip][:max_count]`` with a top-k certificate (``cert.k``);
    appends to ``out_path`` (columns :data:`COLUMNS`), resuming an interrupted run with the same
    record (module docstring), and returns it. ``model_info`` / ``data_info`` identify the model
    and data in the run record as in :func:`.dataset.certify_dataset`."""
    k = check_int("k", getattr(cert, "k", None), minimum=1)
    n0, n = check_int("n0", n0, minimum=1), check_int("n", n, minimum=1)
    alpha = check_alpha(alpha)
    seed = check_int("seed", seed, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    labels = np.asarray(labels)
    check_counts("labels", labels)
    indices = select_indices(len(images), skip, max_count)
    model_info, data_info = identities(model, images, labels, model_info, data_info)
    device = torch.device(device)
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    if indices:
        _input_tensor(images, indices[0], device)  # bad pixels fail before any file is touched
    run = {"certificate": cert.name, "k": k, "n0": n0, "n": n, "alpha": repr(alpha), "seed": seed}
    record = run_record(cert, model_info, data_info, {**run, "precision": precision},
                        {"mode": "top-k"})
    dtype = torch.float64 if precision == "float64" else torch.float32

    def row(i: int) -> str:
        t0 = time.perf_counter()
        x = _input_tensor(images, i, device)
        gen = torch.Generator(device=device).manual_seed(input_seed(seed, i))
        noise = make_noise(cert, tuple(x.shape), device, dtype)
        opts = dict(batch_size=batch_size, generator=gen, precision=precision)
        sel = sample_counts(model, x, n0, noise, **opts).numpy()
        est = sample_counts(model, x, n, noise, num_classes=sel.shape[-1], **opts).numpy()
        if k >= est.shape[-1]:
            raise ValueError(f"k={k} must be below the model's {est.shape[-1]} classes")
        return _row(i, labels[i], cert, alpha, run, est, sel, time.perf_counter() - t0)

    path = os.fspath(out_path)
    append_rows(path, run, record, indices, row, f"certify top-{k}", progress, header=HEADER)
    return path


__all__ = ["COLUMNS", "HEADER", "certify_topk_dataset"]
