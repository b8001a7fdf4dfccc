"""Cohen et al. (2019)'s certified-accuracy tables and figures from certification results.

:func:`certified_accuracy_table` is the analogue of their Table 1 and appendix tables (Markdown
or LaTeX, best entry per radius in bold); :func:`certified_accuracy_figure` draws certified
accuracy against radius (their Figs. 7-8, code ``analyze.py``), approximate, high-probability or
both, with the envelope over noise levels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .plot import finish, new_figure
from .results import (
    _radii,
    _results_and_labels,
    approximate_accuracy,
    average_certified_radius,
    certification_alpha,
    check_one_norm,
    envelope,
    high_probability_accuracy,
)


def _fmt_radius(r: float) -> str:
    return f"{r:g}"


def certified_accuracy_table(results: Sequence, radii, labels: Sequence[str] | None = None,
                             fmt: str = "markdown", digits: int = 2, acr: bool = False,
                             variant: str = "approximate", alpha: float | None = None,
                             rho: float = 0.001, column: str = "radius",
                             include_unsound: bool = False) -> str:
    """Certified accuracy at ``radii`` (a column each) for each result file (a row each).

    The best row of each radius column (largest unrounded value; ties all marked) is bold, as in
    Cohen et al. 2019 Table 1, when there are rows to compare: a one-row table has no bold, and
    a row that counts unsound rows (``include_unsound``) is labelled and never bold.
    ``acr=True`` adds the average certified radius (of ``column``).
    ``fmt`` is ``markdown`` or ``latex`` (a ``tabular`` body with booktabs rules).
    ``variant='high-probability'`` tabulates :func:`high_probability_accuracy` instead, at each
    file's own alpha unless ``alpha`` is given (:func:`certification_alpha`).
    """
    if fmt not in ("markdown", "latex"):
        raise ValueError(f"fmt must be 'markdown' or 'latex', got {fmt!r}")
    if variant not in ("approximate", "high-probability"):
        raise ValueError(f"variant must be 'approximate' or 'high-probability', got {variant!r}")
    res, labels = _results_and_labels(results, labels, include_unsound)
    check_one_norm(res)  # a "best" cell across norms compares different units
    r = _radii(radii)
    if variant == "approximate":
        acc = np.array([approximate_accuracy(x, r, column, include_unsound) for x in res])
    else:
        acc = np.array([high_probability_accuracy(x, r, alpha, rho, column=column,
                                                  include_unsound=include_unsound) for x in res])
    if acr:
        acc = np.hstack([acc, [[average_certified_radius(x, column, include_unsound)] for x in res]])
    best = _best_cells(acc, [not (include_unsound and x.n_unsound) for x in res])
    places = [digits] * r.size + ([3] if acr else [])
    cells = [[f"{v:.{d}f}" for v, d in zip(row, places)] for row in acc]
    head = [f"r = {_fmt_radius(x)}" for x in r] + (["ACR"] if acr else [])
    if fmt == "markdown":
        bold = lambda s: f"**{s}**"  # noqa: E731
        lines = ["| | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
        for lab, row, b in zip(labels, cells, best):
            lines.append(f"| {lab} | " + " | ".join(bold(c) if m else c for c, m in zip(row, b)) + " |")
        return "\n".join(lines) + "\n"
    bold = lambda s: rf"\textbf{{{s}}}"  # noqa: E731
    head_tex = [f"$r = {_fmt_radius(x)}$" for x in r] + (["ACR"] if acr else [])
    lines = [r"\begin{tabular}{l" + "c" * len(head_tex) + "}", r"\toprule",
             " & " + " & ".join(head_tex) + r" \\", r"\midrule"]
    for lab, row, b in zip(labels, cells, best):
        lines.append(lab + " & " + " & ".join(bold(c) if m else c for c, m in zip(row, b)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _best_cells(values: np.ndarray, competing: Sequence[bool]) -> np.ndarray:
    """Bold marks: in each column the competing rows holding the largest value (ties all marked),
    only when at least two rows compete (one row has nothing to be best against)."""
    rows = np.asarray(competing, dtype=bool)
    best = np.zeros(values.shape, dtype=bool)
    if rows.sum() >= 2:
        top = values[rows].max(axis=0, keepdims=True)
        best[rows] = values[rows] == top
    return best


def certified_accuracy_figure(results: Sequence, labels: Sequence[str] | None = None,
                              max_radius: float | None = None, step: float = 0.01,
                              variant: str = "approximate", alpha: float | None = None,
                              rho: float = 0.001, show_envelope: bool | None = None,
                              column: str = "radius", title: str | None = None,
                              norm: str = "$\\ell_2$", include_unsound: bool = False, path=None):
    """Certified accuracy against radius for one or more result files.

    ``variant``: ``approximate`` (Cohen's ApproximateAccuracy), ``high-probability`` (a
    1 - rho lower confidence bound, :func:`high_probability_accuracy`, at each file's own alpha
    unless ``alpha`` is given), or ``both`` (solid and dashed per file, Cohen et al. Fig. 8).
    ``show_envelope`` (default: when there are several files) adds the pointwise maximum over the
    files: the best noise level at each radius; a file whose unsound rows are counted
    (``include_unsound``) is labelled so and left out of the envelope.
    """
    if variant not in ("approximate", "high-probability", "both"):
        raise ValueError(f"variant must be 'approximate', 'high-probability' or 'both', got {variant!r}")
    res, labels = _results_and_labels(results, labels, include_unsound)
    if max_radius is None:
        top = max(float(np.max(np.where(np.isfinite(x.column(column)), x.column(column), 0)))
                  for x in res)
        max_radius = max(step, 1.1 * top)
    radii = np.arange(0.0, max_radius + step / 2, step)
    fig, (ax,) = new_figure()
    main = []  # the solid curves (approximate, or high-probability alone): the envelope's input
    for i, (x, lab) in enumerate(zip(res, labels)):
        color = f"C{i % 10}"
        sound = not (include_unsound and x.n_unsound)
        if variant in ("approximate", "both"):
            a = approximate_accuracy(x, radii, column, include_unsound)
            if sound:
                main.append(a)
            ax.plot(radii, a, color=color, lw=1.5, label=lab)
        if variant in ("high-probability", "both"):
            h = high_probability_accuracy(x, radii, alpha, rho, column=column, include_unsound=include_unsound)
            if variant == "high-probability" and sound:
                main.append(h)
            ax.plot(radii, h, color=color, lw=1.2, ls="--" if variant == "both" else "-",
                    label=(f"{lab} (high-prob., $\\alpha$={certification_alpha(x, alpha):g}, "
                           f"$\\rho$={rho:g})") if variant == "both" else lab)
    if show_envelope is None:
        show_envelope = len(res) > 1
    if show_envelope and main:
        ax.plot(radii, envelope(main), color="k", lw=2.5, alpha=0.35, zorder=0, label="envelope (max)")
    ax.set_xlim(0, max_radius)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"radius ({norm}, input units)")
    ylabel = {"approximate": "certified accuracy (approx.)",
              "high-probability": f"certified accuracy ({1 - rho:g} LCB)",
              "both": "certified accuracy"}[variant]
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)
    return finish(fig, path)

