"""Comparison figures and result tables (matplotlib, no display needed).

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` built without pyplot (so
no GUI backend is ever touched) and, given ``path=``, writes ``path.png`` and ``path.pdf``
atomically (a temporary file in the same folder, then ``os.replace``).

Contents
--------
* Reading results: :func:`read_tsv` loads Cohen-format certification files (``idx label predict
  radius correct time`` plus any extra columns); :func:`approximate_accuracy`,
  :func:`high_probability_accuracy`, :func:`average_certified_radius`, :func:`envelope`.
* Tables: :func:`certified_accuracy_table` (Markdown or LaTeX), the analogue of Cohen et al.
  (2019) Table 1 and their appendix tables.
* Figures: :func:`certified_accuracy_figure` (Cohen et al. Fig. 7 style),
  :func:`radius_vs_pa_figure` (Teng et al. 2020 Fig. 6), :func:`proxy_vs_l2_figure` (Eiras et al.,
  ANCER, Fig. 3), :func:`region_volume_figure`, :func:`dual_landscape_figure` (Zhang et al. 2020,
  Sec. 3), :func:`radial_density_figure` (Zhang et al. 2020 Fig. 1), :func:`rops_figure` (Laplace
  vs Gaussian, after Teng et al. App. D), :func:`landscape_slice_figure` (ANCER Figs. 1 and 7).
* :func:`docs_figures` draws the set embedded in ``docs/guide.md``.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from .estimators.checks import check_probability

#: Columns every Cohen-format certification file has (Cohen et al. 2019, code ``certify.py``).
REQUIRED_COLUMNS = ("idx", "label", "predict", "radius", "correct")


# =============================================================================================
# Reading certification results
@dataclass
class CertificationResults:
    """One certification run: a row per test input.

    ``predict == -1`` marks an abstention (its ``correct`` is 0). ``time`` is in seconds (Cohen's
    ImageNet files print ``h:mm:ss.ffffff``; both forms are read). ``extra`` holds every further
    column as floats where they parse, strings otherwise (e.g. ANCER's ``proxy_radius``).
    """

    idx: np.ndarray
    label: np.ndarray
    predict: np.ndarray
    radius: np.ndarray
    correct: np.ndarray
    time: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    name: str = ""

    def __len__(self) -> int:
        return int(self.radius.size)

    def column(self, name: str) -> np.ndarray:
        """A column by name: ``radius`` or any numeric extra column (e.g. ``proxy_radius``)."""
        if name == "radius":
            return self.radius
        if name in self.extra and np.issubdtype(np.asarray(self.extra[name]).dtype, np.number):
            return np.asarray(self.extra[name], dtype=float)
        raise ValueError(
            f"column={name!r} is not a numeric column of {self.name or 'these results'}; "
            f"available: radius, {', '.join(self.extra) or '(no extra columns)'}"
        )


def parse_time(text: str) -> float:
    """Seconds from ``'15.4'`` or ``'h:mm:ss.ffffff'`` (Cohen's ImageNet files)."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise ValueError(f"time must be seconds or h:mm:ss, got {text!r}")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"time must be seconds or h:mm:ss, got {text!r}") from None
    secs = 0.0
    for v in vals:
        secs = 60.0 * secs + v
    return secs


def _int_column(name, values, path):
    try:
        arr = np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        bad = next(v for v in values if not v.strip().lstrip("-").isdigit())
        raise ValueError(f"{path}: column {name!r} must hold integers, got {bad!r}") from None
    return arr


def _float_or_str(values):
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values, dtype=object)


def read_tsv(path, name: str | None = None) -> CertificationResults:
    """Read a Cohen-format certification file (tab-separated, header line first).

    Validates what the tables rely on: the required columns exist, ``radius`` is a number >= 0
    (``inf`` allowed), ``correct`` is 0 or 1, and an abstention (``predict = -1``) is never
    counted correct. Raises ``ValueError`` naming the file, the column and the value.
    """
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; header is {header}")
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    short = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if short:
        raise ValueError(f"{path}: line {short[0]} has a different number of fields than the header")
    cols = {h: [r[j].strip() for r in body] for j, h in enumerate(header)}
    try:
        radius = np.array([float(v) for v in cols["radius"]])
    except ValueError as exc:
        raise ValueError(f"{path}: column 'radius' must hold numbers ({exc})") from None
    bad = np.isnan(radius) | (radius < 0)
    if bad.any():
        raise ValueError(f"{path}: radius must be >= 0, got {radius[bad][0]!r}")
    correct = _int_column("correct", cols["correct"], path)
    if not np.isin(correct, (0, 1)).all():
        raise ValueError(f"{path}: correct must be 0 or 1, got {correct[~np.isin(correct, (0, 1))][0]}")
    predict = _int_column("predict", cols["predict"], path)
    if (correct[predict == -1] == 1).any():
        raise ValueError(f"{path}: a row with predict = -1 (abstain) is marked correct = 1")
    time = np.array([parse_time(t) for t in cols["time"]]) if "time" in cols else None
    extra = {h: _float_or_str(v) for h, v in cols.items() if h not in REQUIRED_COLUMNS + ("time",)}
    return CertificationResults(
        idx=_int_column("idx", cols["idx"], path),
        label=_int_column("label", cols["label"], path),
        predict=predict,
        radius=radius,
        correct=correct,
        time=time,
        extra=extra,
        name=name if name is not None else path.stem,
    )


def _as_results(item) -> CertificationResults:
    return item if isinstance(item, CertificationResults) else read_tsv(item)


def _radii(radii) -> np.ndarray:
    r = np.atleast_1d(np.asarray(radii, dtype=float))
    if np.isnan(r).any() or (r < 0).any():
        raise ValueError(f"radii must be numbers >= 0, got {radii!r}")
    return r


def approximate_accuracy(results, radii, column: str = "radius") -> np.ndarray:
    """Approximate certified accuracy at each radius r (Cohen et al. 2019, Sec. 4 / code
    ``analyze.py``, ``ApproximateAccuracy``): the fraction of inputs that are classified correctly
    *and* certified at radius >= r, ``mean(correct == 1 and radius >= r)``.

    "Approximate" because each certificate holds only with probability >= 1 - alpha; see
    :func:`high_probability_accuracy` for a bound that accounts for it.
    """
    res = _as_results(results)
    r = _radii(radii)
    if len(res) == 0:
        raise ValueError(f"{res.name or 'results'}: no rows")
    rad = res.column(column)
    ok = res.correct == 1
    return np.array([np.count_nonzero(ok & (rad >= x)) for x in r]) / len(res)


def _false_certificate_budget(n: int, alpha: float, rho: float, method: str) -> float:
    """An upper bound, holding with probability >= 1 - rho, on the fraction of the n certificates
    that are false, when each is false independently with probability <= alpha.

    * ``binomial`` (default, exact): the count of false certificates is stochastically below
      Bin(n, alpha); its (1 - rho)-quantile q satisfies P(Bin >= q + 1) <= rho. Returns q / n.
    * ``bernstein``: Bernstein's inequality for variables in [0, 1] with variance <= alpha(1 -
      alpha), solved exactly for the deviation: ``t = L/(3n) + sqrt((L/(3n))^2 + 2 alpha(1 -
      alpha) L / n)``, ``L = ln(1/rho)``; returns ``alpha + t``.
    * ``cohen``: the expression in Cohen et al.'s ``analyze.py`` (``HighProbAccuracy``),
      ``alpha + sqrt(alpha(1 - alpha) L / n) + L / (3n)``, kept to reproduce their Fig. 8. It is
      smaller than the Bernstein deviation above (the variance term lacks the factor 2), so it is
      not implied by Bernstein's inequality; prefer ``binomial``.
    """
    log_inv = math.log(1.0 / rho)
    if method == "binomial":
        q = float(stats.binom.ppf(1.0 - rho, n, alpha))
        while stats.binom.sf(q, n, alpha) > rho:  # guard the ppf against rounding
            q += 1.0
        return q / n
    if method == "bernstein":
        a = log_inv / (3.0 * n)
        return alpha + a + math.sqrt(a * a + 2.0 * alpha * (1.0 - alpha) * log_inv / n)
    if method == "cohen":
        return alpha + math.sqrt(alpha * (1.0 - alpha) * log_inv / n) + log_inv / (3.0 * n)
    raise ValueError(f"method must be 'binomial', 'bernstein' or 'cohen', got {method!r}")


def high_probability_accuracy(results, radii, alpha: float = 0.001, rho: float = 0.001,
                              method: str = "binomial", column: str = "radius") -> np.ndarray:
    """A lower confidence bound (level 1 - rho) on the true certified accuracy at each radius.

    Cohen et al. 2019 (App. on high-probability guarantees; code ``HighProbAccuracy``): each
    certificate returned by CERTIFY at level ``alpha`` is false with probability <= alpha,
    independently across inputs, so the number of false certificates among the n inputs is at most
    a budget B with probability >= 1 - rho, and the true certified accuracy is at least
    ``approximate_accuracy - B/n``. ``method`` picks the budget (see
    :func:`_false_certificate_budget`); the result is clipped at 0.
    """
    a = float(check_probability("alpha", alpha))
    p = float(check_probability("rho", rho))
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not 0 < p < 1:
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    res = _as_results(results)
    acc = approximate_accuracy(res, radii, column=column)
    return np.maximum(acc - _false_certificate_budget(len(res), a, p, method), 0.0)


def average_certified_radius(results, column: str = "radius") -> float:
    """Average certified radius (ACR, Zhai et al. 2020 Eq. 9): ``mean(radius * correct)``, an
    abstention or a wrong prediction counting 0. ``column='proxy_radius'`` gives ANCER's average
    certified proxy radius (Eiras et al. Sec. 5.1) from files that carry that column."""
    res = _as_results(results)
    if len(res) == 0:
        raise ValueError(f"{res.name or 'results'}: no rows")
    rad = res.column(column)
    return float(np.where(res.correct == 1, rad, 0.0).mean())


def envelope(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Pointwise maximum of several accuracy curves on the same radii (the best noise level per
    radius, as the bold entries of Cohen et al. Table 1)."""
    arr = np.asarray(curves, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"curves must be a non-empty list of equal-length arrays, got shape {arr.shape}")
    return arr.max(axis=0)


# =============================================================================================
# Tables
def _fmt_radius(r: float) -> str:
    return f"{r:g}"


def certified_accuracy_table(results: Sequence, radii, labels: Sequence[str] | None = None,
                             fmt: str = "markdown", digits: int = 2, acr: bool = False,
                             variant: str = "approximate", alpha: float = 0.001,
                             rho: float = 0.001, column: str = "radius") -> str:
    """Certified accuracy at ``radii`` (a column each) for each result file (a row each).

    The best row of each radius column (largest unrounded value; ties all marked) is bold, as in
    Cohen et al. 2019 Table 1. ``acr=True`` adds the average certified radius (of ``column``).
    ``fmt`` is ``markdown`` or ``latex`` (a ``tabular`` body with booktabs rules).
    ``variant='high-probability'`` tabulates :func:`high_probability_accuracy` instead.
    """
    if fmt not in ("markdown", "latex"):
        raise ValueError(f"fmt must be 'markdown' or 'latex', got {fmt!r}")
    if variant not in ("approximate", "high-probability"):
        raise ValueError(f"variant must be 'approximate' or 'high-probability', got {variant!r}")
    res = [_as_results(r) for r in results]
    if not res:
        raise ValueError("results must name at least one file")
    labels = [r.name for r in res] if labels is None else list(labels)
    if len(labels) != len(res):
        raise ValueError(f"labels has {len(labels)} entries for {len(res)} results")
    r = _radii(radii)
    if variant == "approximate":
        acc = np.array([approximate_accuracy(x, r, column=column) for x in res])
    else:
        acc = np.array([high_probability_accuracy(x, r, alpha, rho, column=column) for x in res])
    best = acc == acc.max(axis=0, keepdims=True)
    cells = [[f"{v:.{digits}f}" for v in row] for row in acc]
    head = [f"r = {_fmt_radius(x)}" for x in r]
    if acr:
        acrs = np.array([average_certified_radius(x, column=column) for x in res])
        head.append("ACR")
        for row, v in zip(cells, acrs):
            row.append(f"{v:.3f}")
        best = np.hstack([best, (acrs == acrs.max())[:, None]])
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
