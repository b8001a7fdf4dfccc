"""Certified top-k accuracy (Jia, Cao, Wang & Gong, ICLR 2020, Figs. 1-2 and Table 1).

Reads the files of ``smoothcert certify --top-k K`` (:mod:`smoothcert.gpu_sampler.topk_dataset`):
Cohen-format rows whose ``radius`` is the certified l2 radius of the true label in the smoothed
top-k set and ``correct`` says it is certified, so the certified top-k accuracy at r is Cohen's
approximate accuracy of that file, ``mean(correct and radius >= r)``
(:func:`~.results.approximate_accuracy`).
"""

from __future__ import annotations

import numpy as np

from .plot import ONE_COLUMN, finish, new_figure
from .results import _as_results, approximate_accuracy


def _k_of(res) -> str:
    """The file's k (its ``k`` column) as a legend label, or its name."""
    ks = sorted({int(float(v)) for v in res.extra.get("k", [])})
    return f"top-{ks[0]}" if len(ks) == 1 else (res.name or "results")


def topk_accuracy_table(results, radii=(0.0, 0.25, 0.5, 0.75, 1.0), labels=None) -> str:
    """A Markdown table: one row per file (label: ``top-K`` from its ``k`` column, or ``labels``),
    one column per radius, the certified top-k accuracy."""
    res = [_as_results(r) for r in results]
    names = list(labels) if labels is not None else [_k_of(r) for r in res]
    if len(names) != len(res):
        raise ValueError(f"labels must hold one name per file ({len(res)}), got {len(names)}")
    radii = np.asarray(radii, dtype=float)
    lines = ["| | " + " | ".join(f"r = {r:g}" for r in radii) + " |",
             "|---|" + "---|" * len(radii)]
    for name, r in zip(names, res):
        acc = approximate_accuracy(r, radii)
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f}" for a in acc) + " |")
    return "\n".join(lines) + "\n"


def topk_accuracy_figure(results, labels=None, max_radius=None, path=None):
    """Certified top-k accuracy against the l2 radius, one curve per file (e.g. k = 1, 3, 5)."""
    res = [_as_results(r) for r in results]
    names = list(labels) if labels is not None else [_k_of(r) for r in res]
    top = max_radius or max(float(np.max(r.column("radius"), initial=0.0)) for r in res) or 1.0
    grid = np.linspace(0.0, top, 200)
    fig, (ax,) = new_figure(ONE_COLUMN)
    for name, r in zip(names, res):
        ax.plot(grid, approximate_accuracy(r, grid), label=name)
    ax.set_xlabel("l2 radius")
    ax.set_ylabel("certified top-k accuracy")
    ax.set_ylim(0, 1)
    ax.legend()
    return finish(fig, path)


__all__ = ["topk_accuracy_figure", "topk_accuracy_table"]
