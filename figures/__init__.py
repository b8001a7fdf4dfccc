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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from .core.atomic import atomic_path, atomic_write_text
from .core.checks import check_probability
from .core.errors import BadInput

#: Columns every Cohen-format certification file has (Cohen et al. 2019, code ``certify.py``).
REQUIRED_COLUMNS = ("idx", "label", "predict", "radius", "correct")
#: Columns read into their own fields (not ``extra``): the soundness mark written by
#: ``gpu_sampler.per_input.memory.records_to_tsv`` (``yes`` or ``NO-<mark>``) and the per-row alpha
#: written by ``smoothcert certify``.
SOUND_COLUMN, ALPHA_COLUMN = "sound", "alpha"

#: The one-sided alpha of each of Cohen et al. (2019)'s released files (locuslab/smoothing,
#: data/certify; copies in ../shared/data/cohen2019). The paper and the README say alpha = 0.001,
#: but the files do not all agree. CERTIFY's radius is ``sigma Phi^-1(pA_lower)`` with
#: ``pA_lower`` the one-sided Clopper-Pearson bound of the count at n = 100,000, printed with
#: 3 significant digits; so each printed radius is reachable only from the radii
#: ``sigma Phi^-1(B(alpha; k, n - k + 1))``, k = 1..n, of the file's alpha. Checked row by row
#: (tests/test_figures.py, test_cohen_alpha_table_is_what_the_released_files_show):
#:
#: * 9 files are inconsistent with alpha = 0.001 and consistent with 0.01 on every row; their
#:   largest radius is above the largest radius alpha = 0.001 allows, ``sigma Phi^-1(0.001^(1/n))
#:   = 3.8115 sigma`` (e.g. 0.978 = 3.912 sigma for CIFAR-10 sigma = 0.25; the cap at alpha = 0.01
#:   is 3.9105 sigma), and 3 to 18 distinct radii per file are unreachable at 0.001: CIFAR-10
#:   sigma = 0.25, 0.50, 1.00 at matching training noise, and all six ImageNet files.
#: * 3 files are consistent with 0.001 on every row and have 2 to 8 radii unreachable at 0.01:
#:   CIFAR-10 noise 0.12 / sigma 0.12, noise 0.25 / sigma 0.50, noise 1.00 / sigma 0.50.
#: * CIFAR-10 noise 0.12 / sigma 0.50 is consistent with both on every row; 0.01 is recorded, the
#:   safe side for :func:`high_probability_accuracy` (a larger alpha budgets more false
#:   certificates).
COHEN_ALPHA = {
    "cifar10__resnet110__noise_0.12__test__sigma_0.12.tsv": 0.001,
    "cifar10__resnet110__noise_0.12__test__sigma_0.50.tsv": 0.01,
    "cifar10__resnet110__noise_0.25__test__sigma_0.25.tsv": 0.01,
    "cifar10__resnet110__noise_0.25__test__sigma_0.50.tsv": 0.001,
    "cifar10__resnet110__noise_0.50__test__sigma_0.50.tsv": 0.01,
    "cifar10__resnet110__noise_1.00__test__sigma_0.50.tsv": 0.001,
    "cifar10__resnet110__noise_1.00__test__sigma_1.00.tsv": 0.01,
    "imagenet__resnet50__noise_0.25__test__sigma_0.25.tsv": 0.01,
    "imagenet__resnet50__noise_0.25__test__sigma_0.50.tsv": 0.01,
    "imagenet__resnet50__noise_0.50__test__sigma_0.50.tsv": 0.01,
    "imagenet__resnet50__noise_0.50__train__sigma_0.50.tsv": 0.01,
    "imagenet__resnet50__noise_1.00__test__sigma_0.50.tsv": 0.01,
    "imagenet__resnet50__noise_1.00__test__sigma_1.00.tsv": 0.01,
}


# =============================================================================================
# Reading certification results
@dataclass
class CertificationResults:
    """One certification run: a row per test input.

    ``predict == -1`` marks an abstention (its ``correct`` is 0). ``time`` is in seconds (Cohen's
    ImageNet files print ``h:mm:ss.ffffff``; both forms are read). ``extra`` holds every further
    column as floats where they parse, strings otherwise (e.g. ANCER's ``proxy_radius``).
    ``sound`` is False on rows that are no certificate (per-input parameters without memory; the
    ``sound`` column of ``gpu_sampler.per_input.memory``), None when the file has no such column;
    ``unsound_mark`` is the mark those rows carry. ``alpha`` is the per-input failure probability
    the file was certified at, when known (its ``alpha`` column, or :data:`COHEN_ALPHA`).
    """

    idx: np.ndarray
    label: np.ndarray
    predict: np.ndarray
    radius: np.ndarray
    correct: np.ndarray
    time: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    name: str = ""
    sound: np.ndarray | None = None
    unsound_mark: str = ""
    alpha: float | None = None

    def __len__(self) -> int:
        return int(self.radius.size)

    @property
    def n_unsound(self) -> int:
        return 0 if self.sound is None else int(np.count_nonzero(~self.sound))

    def certified_correct(self, include_unsound: bool = False) -> np.ndarray:
        """Rows that count as correct: ``correct == 1`` and, unless ``include_unsound``, sound
        (an unsound row counts as an abstention, as in ``gpu_sampler.per_input.memory.summarize``)."""
        ok = self.correct == 1
        return ok if include_unsound or self.sound is None else ok & self.sound

    def marked_label(self, label: str, include_unsound: bool = False) -> str:
        """``label`` with the unsound mark when unsound rows are counted, or the number of unsound
        rows left out when they are not: a re-plotted result keeps its mark."""
        if not self.n_unsound:
            return label
        if include_unsound:
            return f"{label} [{self.unsound_mark}]"
        return f"{label} [{self.n_unsound} unsound rows counted as abstentions]"

    def column(self, name: str) -> np.ndarray:
        """A column by name: ``radius`` or any numeric extra column (e.g. ``proxy_radius``)."""
        if name == "radius":
            return self.radius
        if name in self.extra and np.issubdtype(np.asarray(self.extra[name]).dtype, np.number):
            return np.asarray(self.extra[name], dtype=float)
        raise BadInput(
            f"column={name!r} is not a numeric column of {self.name or 'these results'}; "
            f"available: radius, {', '.join(self.extra) or '(no extra columns)'}"
        )


def parse_time(text: str) -> float:
    """Seconds from ``'15.4'`` or ``'h:mm:ss.ffffff'`` (Cohen's ImageNet files)."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise BadInput(f"time must be seconds or h:mm:ss, got {text!r}")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise BadInput(f"time must be seconds or h:mm:ss, got {text!r}") from None
    secs = 0.0
    for v in vals:
        secs = 60.0 * secs + v
    return secs


def _int_column(name, values, path):
    try:
        arr = np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        bad = next(v for v in values if not v.strip().lstrip("-").isdigit())
        raise BadInput(f"{path}: column {name!r} must hold integers, got {bad!r}") from None
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
    counted correct. Raises ``BadInput`` (a ``ValueError``) naming the file, the column and the
    value. The ``sound`` column, when present, is read into ``sound``/``unsound_mark``; the
    ``alpha`` column (its largest value: the budget of false certificates is then an upper bound)
    or, for Cohen et al.'s released files, :data:`COHEN_ALPHA` gives ``alpha``.
    """
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows:
        raise BadInput(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadInput(f"{path}: missing column(s) {missing}; header is {header}")
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    short = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if short:
        raise BadInput(f"{path}: line {short[0]} has a different number of fields than the header")
    cols = {h: [r[j].strip() for r in body] for j, h in enumerate(header)}
    try:
        radius = np.array([float(v) for v in cols["radius"]])
    except ValueError as exc:
        raise BadInput(f"{path}: column 'radius' must hold numbers ({exc})") from None
    bad = np.isnan(radius) | (radius < 0)
    if bad.any():
        raise BadInput(f"{path}: radius must be >= 0, got {radius[bad][0]!r}")
    correct = _int_column("correct", cols["correct"], path)
    if not np.isin(correct, (0, 1)).all():
        raise BadInput(f"{path}: correct must be 0 or 1, got {correct[~np.isin(correct, (0, 1))][0]}")
    predict = _int_column("predict", cols["predict"], path)
    if (correct[predict == -1] == 1).any():
        raise BadInput(f"{path}: a row with predict = -1 (abstain) is marked correct = 1")
    time = np.array([parse_time(t) for t in cols["time"]]) if "time" in cols else None
    sound, mark = _sound_column(cols.get(SOUND_COLUMN), path)
    own = REQUIRED_COLUMNS + ("time", SOUND_COLUMN)
    extra = {h: _float_or_str(v) for h, v in cols.items() if h not in own}
    return CertificationResults(
        idx=_int_column("idx", cols["idx"], path),
        label=_int_column("label", cols["label"], path),
        predict=predict,
        radius=radius,
        correct=correct,
        time=time,
        extra=extra,
        name=name if name is not None else path.stem,
        sound=sound,
        unsound_mark=mark,
        alpha=_file_alpha(extra.get(ALPHA_COLUMN), path),
    )


def _sound_column(values, path):
    """(sound flags, mark) of a ``sound`` column: ``yes``, or ``NO-<mark with _ for spaces>``."""
    if values is None:
        return None, ""
    bad = [v for v in values if v != "yes" and not v.startswith("NO-")]
    if bad:
        raise BadInput(f"{path}: column 'sound' must hold 'yes' or 'NO-<mark>', got {bad[0]!r}")
    marks = sorted({v[3:].replace("_", " ") for v in values if v != "yes"})
    return np.array([v == "yes" for v in values], dtype=bool), "; ".join(marks)


def _file_alpha(values, path) -> float | None:
    """The largest per-row alpha of an ``alpha`` column, else the :data:`COHEN_ALPHA` entry."""
    if values is None:
        return COHEN_ALPHA.get(path.name)
    a = np.asarray(values)
    if a.size == 0:
        return None
    if not np.issubdtype(a.dtype, np.number) or not ((a > 0) & (a < 1)).all():
        raise BadInput(f"{path}: column 'alpha' must hold numbers in (0, 1)")
    return float(a.max())


def _as_results(item) -> CertificationResults:
    return item if isinstance(item, CertificationResults) else read_tsv(item)


def _results_and_labels(results: Sequence, labels, include_unsound: bool = False
                        ) -> tuple[list[CertificationResults], list]:
    """The results of every file (read, or passed through when already loaded) and one label
    each (default: the file names), marked by :meth:`CertificationResults.marked_label` when a file
    has unsound rows; at least one file is required."""
    res = [_as_results(r) for r in results]
    if not res:
        raise ValueError("results must name at least one file")
    labels = [r.name for r in res] if labels is None else list(labels)
    if len(labels) != len(res):
        raise ValueError(f"labels has {len(labels)} entries for {len(res)} results")
    return res, [r.marked_label(lab, include_unsound) for r, lab in zip(res, labels)]


def _radii(radii) -> np.ndarray:
    r = np.atleast_1d(np.asarray(radii, dtype=float))
    if np.isnan(r).any() or (r < 0).any():
        raise ValueError(f"radii must be numbers >= 0, got {radii!r}")
    return r


def approximate_accuracy(results, radii, column: str = "radius",
                         include_unsound: bool = False) -> np.ndarray:
    """Approximate certified accuracy at each radius r (Cohen et al. 2019, Sec. 4 / code
    ``analyze.py``, ``ApproximateAccuracy``): the fraction of inputs that are classified correctly
    *and* certified at radius >= r, ``mean(correct == 1 and radius >= r)``.

    "Approximate" because each certificate holds only with probability >= 1 - alpha; see
    :func:`high_probability_accuracy` for a bound that accounts for it. Rows marked unsound
    count as abstentions unless ``include_unsound`` (then label the result as unsound).
    """
    res = _as_results(results)
    r = _radii(radii)
    if len(res) == 0:
        raise ValueError(f"{res.name or 'results'}: no rows")
    rad = res.column(column)
    ok = res.certified_correct(include_unsound)
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


def certification_alpha(results, alpha: float | None = None) -> float:
    """The per-input alpha the results were certified at: the file's own (``results.alpha``, from
    its ``alpha`` column or :data:`COHEN_ALPHA`) or the given ``alpha``; a given alpha that
    differs from the file's own is refused, as is a file with none when none is given."""
    res = _as_results(results)
    if alpha is None:
        if res.alpha is None:
            raise ValueError(f"{res.name or 'results'} records no alpha: pass the alpha it was certified at")
        return res.alpha
    a = float(check_probability("alpha", alpha))
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if res.alpha is not None and a != res.alpha:
        raise ValueError(f"alpha={alpha!r} but {res.name or 'the results'} was certified at alpha={res.alpha!r}")
    return a


def high_probability_accuracy(results, radii, alpha: float | None = None, rho: float = 0.001,
                              method: str = "binomial", column: str = "radius",
                              include_unsound: bool = False) -> np.ndarray:
    """A lower confidence bound (level 1 - rho) on the true certified accuracy at each radius.

    Cohen et al. 2019 (App. on high-probability guarantees; code ``HighProbAccuracy``): each
    certificate returned by CERTIFY at level ``alpha`` is false with probability <= alpha,
    independently across inputs, so the number of false certificates among the n inputs is at most
    a budget B with probability >= 1 - rho, and the true certified accuracy is at least
    ``approximate_accuracy - B/n``. ``method`` picks the budget (see
    :func:`_false_certificate_budget`); the result is clipped at 0. ``alpha`` defaults to the
    file's own (:func:`certification_alpha`; Cohen et al.'s files do not all use 0.001).
    """
    p = float(check_probability("rho", rho))
    if not 0 < p < 1:
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    res = _as_results(results)
    a = certification_alpha(res, alpha)
    acc = approximate_accuracy(res, radii, column=column, include_unsound=include_unsound)
    return np.maximum(acc - _false_certificate_budget(len(res), a, p, method), 0.0)


def average_certified_radius(results, column: str = "radius", include_unsound: bool = False) -> float:
    """Average certified radius (ACR, Zhai et al. 2020 Eq. 9): ``mean(radius * correct)``, an
    abstention or a wrong prediction counting 0. ``column='proxy_radius'`` gives ANCER's average
    certified proxy radius (Eiras et al. Sec. 5.1) from files that carry that column. Rows
    marked unsound count 0 unless ``include_unsound``."""
    res = _as_results(results)
    if len(res) == 0:
        raise ValueError(f"{res.name or 'results'}: no rows")
    rad = res.column(column)
    return float(np.where(res.certified_correct(include_unsound), rad, 0.0).mean())


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


# =============================================================================================
# Figure plumbing
#: Figure width for a single paper column is about 3.3 in; two-column figures use 6.8 in.
ONE_COLUMN, TWO_COLUMN = (4.2, 3.2), (8.4, 3.4)


def new_figure(size=ONE_COLUMN, ncols: int = 1):
    """A pyplot-free Figure with ``ncols`` axes (the Agg canvas is attached by ``savefig``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def save_figure(fig, path, formats=("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Write ``path.png`` and ``path.pdf`` (a .png/.pdf suffix of ``path`` is dropped) atomically,
    so no half-written file is ever left."""
    base = Path(path)
    if base.suffix.lower() in (".png", ".pdf"):
        base = base.with_suffix("")
    written = []
    for ext in formats:
        target = base.with_name(f"{base.name}.{ext}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        written.append(target)
    return written


def save_text(path, text: str) -> Path:
    """Write a table (or any text) atomically."""
    atomic_write_text(path, text)
    return Path(path)


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


# =============================================================================================
# Certified accuracy against radius (Cohen et al. 2019 Figs. 7-8, code analyze.py)
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
    return _finish(fig, path)


# =============================================================================================
# Radius against pA at matched noise (Teng et al. 2020 Fig. 6)
_NORM_P = {"l1": 1.0, "l2": 2.0, "linf": math.inf}
_NORM_TEX = {"l1": r"$\ell_1$", "l2": r"$\ell_2$", "linf": r"$\ell_\infty$"}


def ball_inclusion_factor(src: str, dst: str, dim: int | None = None) -> float:
    """The largest c with ``{||d||_dst <= c R} subset {||d||_src <= R}`` for every R.

    ``||d||_p <= ||d||_q`` for p >= q gives c = 1 (e.g. an l2 radius R certifies the l1 ball of
    radius R, since ``||d||_2 <= ||d||_1``); for p < q Hoelder gives
    ``||d||_p <= d^(1/p - 1/q) ||d||_q``, so c = d^-(1/p - 1/q) (needs ``dim``), rounded down.
    """
    for arg, v in (("src", src), ("dst", dst)):
        if v not in _NORM_P:
            raise ValueError(f"{arg} must be one of {sorted(_NORM_P)}, got {v!r}")
    p, q = _NORM_P[src], _NORM_P[dst]
    if p >= q:
        return 1.0
    if dim is None or int(dim) < 1:
        raise ValueError(f"dim (a positive integer) is needed to compare {src} and {dst} balls, got {dim!r}")
    expo = 1.0 / p - (0.0 if math.isinf(q) else 1.0 / q)
    return float(np.nextafter(float(dim) ** -expo * (1 - 8 * np.finfo(float).eps), 0.0))


def _matched_certificate(name: str, std, dim, k):
    """``certificate_class(name).from_std(std, dim=..., k=...)``, or the reason it cannot be built."""
    from .bounds import certificate_class, certificates

    if name not in certificates():
        return None, f"{name}: not registered (yet)"
    try:
        return certificate_class(name).from_std(std, dim=dim, k=k), None
    except (NotImplementedError, TypeError, ValueError) as exc:
        return None, f"{name}: {exc}"


def _pa_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """pA values for a radius curve: half evenly spaced, half geometric in 1 - pA (dense where
    radii grow fastest), so that straight segments between points, which lie above a convex
    curve, stay close to it."""
    tail = 1.0 - np.geomspace(1.0 - lo, max(1.0 - hi, 1e-9), n - n // 2)
    return np.unique(np.concatenate([np.linspace(lo, hi, n // 2), np.clip(tail, lo, hi)]))


def radius_vs_pa_figure(names: Sequence[str] | None = None, std: float = 0.5, dim: int | None = None,
                        k: int = 0, shares: Sequence[float | None] = (None,),
                        as_norm: str | None = None, pa_range=(0.5, 0.999), n_points: int = 200,
                        path=None):
    """Certified radius against pA for registered certificates at matched per-coordinate std.

    Each certificate is built with ``certificate_class(name).from_std(std, dim=dim, k=k)``. One
    panel per entry of ``shares``: ``None`` is the binary case (pB = 1 - pA); a number s plots
    the multi-class case pB = s (1 - pA) (binary-only theorems are left out of those panels).
    ``as_norm`` converts every radius to one norm through :func:`ball_inclusion_factor` and says
    so in the legend (e.g. Gaussian as l1: an l2 radius R certifies the l1 ball of radius R).
    Certificates that cannot be built are skipped; the reasons are in ``fig.skipped``.
    Expensive certificates (``expensive = True``, e.g. quadrature) get fewer pA values, drawn
    with markers so that the sampled points are visible.
    """
    from .bounds import certificates

    names = certificates() if names is None else list(names)
    if not names:
        raise ValueError("names must list at least one certificate")
    lo, hi = float(pa_range[0]), float(pa_range[1])
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"pa_range must satisfy 0 <= low < high <= 1, got {pa_range!r}")
    if as_norm is not None and as_norm not in _NORM_P:
        raise ValueError(f"as_norm must be one of {sorted(_NORM_P)} or None, got {as_norm!r}")
    for share in shares:
        if share is not None and not (isinstance(share, (int, float)) and 0 < share <= 1):
            raise ValueError(f"shares must hold None (binary) or numbers in (0, 1], got {share!r}")
    certs, skipped = [], []
    for name in names:
        cert, why = _matched_certificate(name, std, dim, k)
        (skipped.append(why) if cert is None else certs.append(cert))
    if not certs:
        raise ValueError(f"none of the certificates could be built: {'; '.join(skipped)}")
    fig, axes = new_figure(ONE_COLUMN if len(shares) == 1 else TWO_COLUMN, ncols=len(shares))
    for ax, share in zip(axes, shares):
        for i, cert in enumerate(certs):
            if share is not None and cert.binary_only:
                continue
            expensive = getattr(cert, "expensive", False)
            pa = _pa_grid(lo, hi, max(30, n_points // 5) if expensive else n_points)
            pb = None if share is None else share * (1.0 - pa)
            r = np.asarray(cert.radius(pa, pb), dtype=float)
            label = f"{cert.name} ({cert.norm})"
            if as_norm is not None and as_norm != cert.norm:
                c = ball_inclusion_factor(cert.norm, as_norm, dim)
                r = r * c
                why = (f"||\u03b4||$_{{{cert.norm[1:]}}}$ \u2264 ||\u03b4||$_{{{as_norm[1:]}}}$"
                       if c == 1.0 else f"\u00d7{c:.3g}, H\u00f6lder")
                label = f"{cert.name}: {cert.norm} radius as {as_norm} ({why})"
            ls = ("-", "--", ":", "-.")[i % 4]
            ax.plot(pa, r, ls=ls, color=f"C{i % 10}", lw=1.6, label=label,
                    marker="." if expensive else None, ms=3)
        ax.set_xlabel(r"$p_A$ (lower bound on top-class probability)")
        norm_txt = _NORM_TEX.get(as_norm, "own norm")
        ax.set_ylabel(f"certified radius ({norm_txt})")
        case = "binary, $p_B = 1 - p_A$" if share is None else f"multi-class, $p_B = {share:g}(1 - p_A)$"
        ax.set_title(f"{case}; noise std {std:g}" + (f", d = {dim}" if dim else ""), fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    fig.skipped = skipped
    return _finish(fig, path)


# =============================================================================================
# Anisotropic regions: l2 radius against the proxy radius (ANCER Fig. 3) and volumes
def region_radii(name: str, params: dict, p_a, p_b=None) -> tuple[np.ndarray, np.ndarray]:
    """(enclosed l2 radius, proxy radius) of ``get(name, **params).region`` for each pA (pB)."""
    from .bounds import get

    cert = get(name, **params)
    pa = np.atleast_1d(np.asarray(p_a, dtype=float))
    pb = None if p_b is None else np.broadcast_to(np.asarray(p_b, dtype=float), pa.shape)
    enc, prox = [], []
    for i, a in enumerate(pa):
        reg = cert.region(float(a), None if pb is None else float(pb[i]))
        enc.append(reg.enclosed_radius())
        prox.append(reg.proxy_radius())
    return np.array(enc), np.array(prox)


def proxy_vs_l2_figure(l2_radius=None, proxy_radius=None, results=None, labels=None,
                       path=None):
    """Scatter of each input's certified l2 radius against its certified proxy radius (ANCER
    Fig. 3: points above the diagonal are certified a region of larger volume than the ball).

    Give the two arrays directly (one pair or a list of pairs with ``labels``), or ``results``:
    Cohen-format files with a ``proxy_radius`` column (``radius`` is the l2 radius).
    """
    if results is not None:
        res = [_as_results(r) for r in results]
        pairs = [(x.radius, x.column("proxy_radius")) for x in res]
        labels = [x.name for x in res] if labels is None else labels
    else:
        if l2_radius is None or proxy_radius is None:
            raise ValueError("give l2_radius and proxy_radius, or results")
        if np.ndim(l2_radius) == 1 or np.isscalar(l2_radius) or np.ndim(l2_radius) == 0:
            pairs = [(l2_radius, proxy_radius)]
        else:
            pairs = list(zip(l2_radius, proxy_radius))
        labels = labels or [None] * len(pairs)
    fig, (ax,) = new_figure()
    top = 0.0
    for i, ((x, y), lab) in enumerate(zip(pairs, labels)):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"l2 and proxy radii have different shapes {x.shape} and {y.shape}")
        ax.scatter(x, y, s=8, alpha=0.7, color=f"C{i % 10}", label=lab)
        fin = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
        top = max(top, float(fin.max()) if fin.size else 0.0)
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="k", lw=0.8, ls="--", label="proxy = l2 radius")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(r"certified $\ell_2$ radius (largest ball inside the region)")
    ax.set_ylabel(r"certified proxy radius $(a_1 \cdots a_d)^{1/d}$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return _finish(fig, path)


def region_volume_figure(certs: Sequence, std: float = 0.5, dim: int = 16, p_b_share=None,
                         pa_range=(0.5, 0.999), n_points: int = 120, path=None):
    """log(volume)/d of the certified region against pA.

    ``certs`` mixes registry names (built at matched per-coordinate ``std`` with ``from_std``;
    isotropic families give their ball) and certificate objects used as given (e.g. an
    ``ancer-ellipsoid`` with per-coordinate sigma). Regions of different norms are compared as
    sets in dimension ``dim`` (volumes of generalized balls, :mod:`smoothcert.bounds.regions`).
    Entries that cannot be built or have no region are listed in ``fig.skipped``.
    """
    from .bounds import Certificate

    lo, hi = float(pa_range[0]), float(pa_range[1])
    pa = np.linspace(lo, hi, n_points)
    fig, (ax,) = new_figure()
    skipped = []
    for i, item in enumerate(certs):
        if isinstance(item, Certificate):
            cert, label = item, f"{item.name} ({item.norm}, given parameters)"
        else:
            cert, why = _matched_certificate(item, std, dim, 0)
            if cert is None:
                skipped.append(why)
                continue
            label = f"{item} ({cert.norm}, std {std:g})"
        try:
            v = np.array([cert.region(float(a), None if p_b_share is None else p_b_share * (1 - a))
                          .log_volume(dim) / dim for a in pa])
        except NotImplementedError as exc:
            skipped.append(f"{cert.name}: {exc}")
            continue
        ax.plot(pa, np.where(np.isfinite(v), v, np.nan), ("-", "--", ":", "-.")[i % 4],
                color=f"C{i % 10}", lw=1.5, label=label)
    ax.set_xlabel(r"$p_A$")
    ax.set_ylabel(f"log(volume) / d   (d = {dim})")
    case = "binary" if p_b_share is None else f"$p_B = {p_b_share:g}(1 - p_A)$"
    ax.set_title(f"certified-region volume, {case}", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    fig.skipped = skipped
    return _finish(fig, path)


# =============================================================================================
# Functional optimization (Zhang et al. 2020): radial densities and the dual landscape
_ZHANG_FAMILIES = ("zhang-l2", "zhang-l1", "zhang-linf")


def _check_zhang(family, dim, k, scale):
    if family not in _ZHANG_FAMILIES:
        raise ValueError(f"family must be one of {_ZHANG_FAMILIES}, got {family!r}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if not (isinstance(k, (int, float, np.integer, np.floating)) and 0 <= k < dim):
        raise ValueError(f"k must satisfy 0 <= k < dim = {dim}, got {k!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")


def radial_log_density(family: str, s, dim: int, k: float, scale: float) -> np.ndarray:
    """Log density of the radial variable of the Zhang et al. (2020) families (their Fig. 1).

    * ``zhang-l2``: pi0 ~ ||z||_2^-k exp(-||z||_2^2 / (2 sigma^2)); s = ||z||_2 has density
      ~ s^(d-1-k) exp(-s^2/(2 sigma^2)), i.e. s/sigma ~ chi with d - k degrees of freedom.
    * ``zhang-l1``: pi0 ~ ||z||_1^-k exp(-||z||_1 / b); s = ||z||_1 ~ Gamma(d - k, scale b).
    * ``zhang-linf``: pi0 ~ ||z||_inf^-k exp(-||z||_2^2 / (2 sigma^2)) (their Eq. 13); s =
      ||z||_inf has density ~ s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1), normalized
      numerically (log-space trapezoid on a fine grid).
    ``scale`` is sigma (l2, linf) or b (l1). Returns -inf where the density is 0.
    """
    _check_zhang(family, dim, k, scale)
    s = np.asarray(s, dtype=float)
    with np.errstate(divide="ignore"):
        if family == "zhang-l2":
            return stats.chi.logpdf(s / scale, dim - k) - math.log(scale)
        if family == "zhang-l1":
            return stats.gamma.logpdf(s, dim - k, scale=scale)
        from scipy.special import log_ndtr, logsumexp

        def unnorm(t):
            t = np.asarray(t, dtype=float)
            # erf(x / sqrt 2) = 1 - 2 Phi(-x): log via log1p of -2 Phi(-x) = exp(log 2 + log_ndtr(-x))
            x = t / scale
            log_erf = np.log1p(-np.exp(math.log(2.0) + log_ndtr(-x)))
            return -k * np.log(t) - x * x / 2 + (dim - 1) * log_erf

        grid = np.linspace(1e-6, scale * (6.0 + math.sqrt(2 * math.log(dim + 1))), 20001)
        lg = unnorm(grid)
        log_z = logsumexp(lg) + math.log(grid[1] - grid[0])
        out = np.where(s > 0, unnorm(np.where(s > 0, s, 1.0)), -np.inf)
        return out - log_z


def radial_density_figure(family: str = "zhang-l2", ks: Sequence[float] = (0, 100, 300, 500),
                          dim: int = 784, scale: float = 1.0, path=None):
    """Density of the radial variable ||z|| of the Zhang et al. (2020) family for several k
    (their Fig. 1): larger k moves noise mass towards the centre."""
    _check_zhang(family, dim, 0, scale)
    fig, (ax,) = new_figure()
    norm = {"zhang-l2": r"\|z\|_2", "zhang-l1": r"\|z\|_1", "zhang-linf": r"\|z\|_\infty"}[family]
    top = {"zhang-l2": 1.6 * scale * math.sqrt(dim), "zhang-l1": 1.6 * scale * dim,
           "zhang-linf": scale * (1.5 + math.sqrt(2 * math.log(2 * dim)))}[family]
    s = np.linspace(top / 2000, top, 2000)
    for i, k in enumerate(ks):
        _check_zhang(family, dim, k, scale)
        ax.plot(s, np.exp(radial_log_density(family, s, dim, k, scale)), color=f"C{i % 10}",
                lw=1.5, label=f"k = {k:g}")
    par = "b" if family == "zhang-l1" else r"\sigma"
    ax.set_xlabel(f"${norm}$ (noise radius)")
    ax.set_ylabel("density")
    ax.set_title(f"{family}: $d = {dim}$, ${par} = {scale:g}$", fontsize=9)
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(fig, path)


def zhang_log_ratio_samples(family: str, r: float, dim: int, k: float, scale: float,
                            n: int = 200_000, seed: int = 0) -> np.ndarray:
    """Samples of log(pi_delta(z) / pi0(z)), z ~ pi0, at the worst-case delta = r e_1 (Zhang et
    al. 2020 Thm 2) for the ``zhang-l2`` and ``zhang-l1`` families, from the exact 2-D reduction:

    * l2: rho = ||z||_2 = sigma sqrt(chi2_(d-k)); t = z_1/rho with (1 + t)/2 ~ Beta((d-1)/2,
      (d-1)/2); ``||z - delta||^2 = rho^2 - 2 r rho t + r^2``;
      log ratio = -k/2 log(||z - delta||^2 / rho^2) - (r^2 - 2 r rho t) / (2 sigma^2).
    * l1: rho = ||z||_1 ~ Gamma(d - k, b); |z_1| = u rho, u ~ Beta(1, d - 1), random sign;
      ``||z - delta||_1 = rho - |z_1| + |z_1 - r|``; log ratio = -k log(||z - delta||_1 / rho) -
      (||z - delta||_1 - rho) / b.

    For figures (Monte Carlo, no error bound): the certificates' own ``lower_bound`` is the sound
    quantity.
    """
    _check_zhang(family, dim, k, scale)
    if family == "zhang-linf":
        raise ValueError("the dual landscape figure supports zhang-l2 and zhang-l1 (linf is d-dimensional)")
    rng = np.random.default_rng(seed)
    if family == "zhang-l2":
        rho = scale * np.sqrt(rng.chisquare(dim - k, n))
        t = 2.0 * rng.beta((dim - 1) / 2, (dim - 1) / 2, n) - 1.0 if dim > 1 else rng.choice([-1.0, 1.0], n)
        sq = rho * rho - 2.0 * r * rho * t + r * r
        return -0.5 * k * np.log(sq / (rho * rho)) - (r * r - 2.0 * r * rho * t) / (2 * scale**2)
    rho = rng.gamma(dim - k, scale, n)
    u = rng.beta(1.0, dim - 1.0, n) if dim > 1 else np.ones(n)
    z1 = rng.choice([-1.0, 1.0], n) * u * rho
    l1 = rho - np.abs(z1) + np.abs(z1 - r)
    return -k * np.log(l1 / rho) - (l1 - rho) / scale


def dual_objective(lams, p: float, log_ratios: np.ndarray) -> np.ndarray:
    """``lambda p - D(lambda)`` with ``D(lambda) = E_pi0[(lambda - pi_delta/pi0)_+]`` estimated on
    samples of the log likelihood ratio (Zhang et al. 2020, Sec. 3, the dual of their Eq. 5)."""
    ratio = np.exp(np.asarray(log_ratios, dtype=float))
    lams = np.atleast_1d(np.asarray(lams, dtype=float))
    srt = np.sort(ratio)
    csum = np.concatenate([[0.0], np.cumsum(srt)])
    idx = np.searchsorted(srt, lams, side="left")  # count of ratio < lambda
    d = (lams * idx - csum[idx]) / srt.size
    return lams * p - d


def dual_landscape_figure(family: str = "zhang-l2", p: float = 0.8, radii=(0.1, 0.25, 0.5),
                          dim: int = 16, k: float = 0, scale: float = 1.0, n: int = 100_000,
                          seed: int = 0, path=None):
    """Left: the dual objective ``lambda p - D(lambda)`` against lambda for several radii, its
    maximizer marked (it sits at the p-quantile of the likelihood ratio under pi0). Right: the
    lower bound ``L(p, r) = max_lambda {lambda p - D(lambda)}`` against r, with the registered
    certificate's sound ``lower_bound`` overlaid when ``family`` is registered, and for
    ``zhang-l2`` with k = 0 the Neyman-Pearson value ``Phi(Phi^-1(p) - r/sigma)`` (Zhang et al.
    Cor. 2: the bound equals Cohen's). Curves from samples are marked Monte Carlo.
    """
    p = float(check_probability("p", p))
    fig, (ax, bx) = new_figure(TWO_COLUMN, ncols=2)
    for i, r in enumerate(radii):
        lr = zhang_log_ratio_samples(family, float(r), dim, k, scale, n, seed)
        lam_star = float(np.quantile(np.exp(lr), p))
        lams = np.linspace(0.0, 3.0 * max(lam_star, 1e-3), 400)
        obj = dual_objective(lams, p, lr)
        ax.plot(lams, obj, color=f"C{i}", lw=1.5, label=f"r = {r:g}")
        ax.axvline(lam_star, color=f"C{i}", ls=":", lw=1)
        j = int(np.argmax(obj))
        ax.plot(lams[j], obj[j], "o", color=f"C{i}", ms=4)
    ax.set_xlabel(r"$\lambda$")
    ax.set_ylabel(r"$\lambda p - D(\lambda)$  (Monte Carlo)")
    ax.set_title(f"{family}, d = {dim}, k = {k:g}, p = {p:g} (dotted: p-quantile of ratio)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    rs = np.linspace(0.0, 1.5 * max(radii), 16)
    lb_mc = []
    for r in rs:
        lr = zhang_log_ratio_samples(family, float(r), dim, k, scale, n, seed)
        lam_star = float(np.quantile(np.exp(lr), p))
        lams = np.linspace(0.0, 3.0 * max(lam_star, 1e-3), 600)
        lb_mc.append(float(dual_objective(lams, p, lr).max()))
    bx.plot(rs, lb_mc, "o-", ms=3, lw=1.2, label="max over $\\lambda$ (Monte Carlo)")
    if family == "zhang-l2" and k == 0:
        bx.plot(rs, stats.norm.cdf(stats.norm.ppf(p) - rs / scale), "k--", lw=1,
                label=r"Neyman-Pearson $\Phi(\Phi^{-1}(p) - r/\sigma)$")
    cert = _zhang_certificate(family, dim, k, scale)
    if cert is not None and hasattr(cert, "lower_bound"):
        bx.plot(rs, [float(cert.lower_bound(p, float(r))) for r in rs], color="C3", lw=1.5,
                label=f"{family}.lower_bound (sound)")
    bx.axhline(0.5, color="gray", lw=0.8, ls=":")
    bx.set_xlabel(r"$r$ (perturbation norm)")
    bx.set_ylabel(r"lower bound $L(p, r)$ on $P(\mathrm{class\ A})$")
    bx.set_ylim(0, 1)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    return _finish(fig, path)


def _zhang_certificate(family, dim, k, scale):
    """The registered Zhang certificate with these parameters, or None before it exists."""
    from .bounds import certificate_class, certificates

    if family not in certificates():
        return None
    own = {"zhang-l1": "scale"}.get(family, "sigma")
    try:
        return certificate_class(family).from_std(None, dim=dim, k=k, **{own: scale})
    except (NotImplementedError, TypeError, ValueError):
        return None


# =============================================================================================
# Laplace against Gaussian noise (after Teng et al. 2020, App. D, Figs. 10-11)
def rops_figure(std: float = 0.5, dim: int = 784, pa_range=(0.5, 0.9999), n_points: int = 300,
                laplace: str = "teng-laplace-l1-binary", gaussian: str = "cohen-gaussian-l2",
                path=None):
    """Laplace against Gaussian smoothing at the same per-coordinate std, in the l1 norm.

    Left: the certified l1 radius of each against pA (binary). The Gaussian l2 radius R
    certifies the l1 ball of radius R (``||d||_2 <= ||d||_1``). Right: their ratio
    R_Laplace / R_Gaussian (our reading of Teng et al.'s ratio of certified perturbation sizes,
    App. D): with b = std/sqrt 2, ``-b log(2(1 - pA)) / (std Phi^-1(pA))`` tends to 1/sqrt(pi)
    as pA -> 1/2 and grows without bound as pA -> 1, independently of std.
    """
    lo, hi = float(pa_range[0]), float(pa_range[1])
    lap, why_l = _matched_certificate(laplace, std, dim, 0)
    gau, why_g = _matched_certificate(gaussian, std, dim, 0)
    if lap is None or gau is None:
        raise ValueError(f"rops_figure needs both certificates: {why_l or ''} {why_g or ''}".strip())
    pa = np.linspace(lo, hi, n_points)[1:]
    rl = np.asarray(lap.radius(pa), dtype=float) * ball_inclusion_factor(lap.norm, "l1", dim)
    rg = np.asarray(gau.radius(pa), dtype=float) * ball_inclusion_factor(gau.norm, "l1", dim)
    fig, (ax, bx) = new_figure(TWO_COLUMN, ncols=2)
    ax.plot(pa, rl, color="C0", lw=1.6, label=f"Laplace ({laplace})")
    ax.plot(pa, rg, color="C1", lw=1.6, ls="--", label=f"Gaussian ({gaussian}), l2 radius as l1")
    ax.set_xlabel(r"$p_A$")
    ax.set_ylabel(r"certified $\ell_1$ radius")
    ax.set_title(f"binary, matched noise std {std:g}", fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rg > 0, rl / rg, np.nan)
    bx.plot(pa, ratio, color="C2", lw=1.6, label=r"$R_{\mathrm{Laplace}} / R_{\mathrm{Gauss}}$")
    bx.axhline(1.0, color="k", lw=0.8)
    bx.axhline(1 / math.sqrt(math.pi), color="gray", lw=0.8, ls=":", label=r"$1/\sqrt{\pi}$ ($p_A \to 1/2$)")
    bx.set_xlabel(r"$p_A$")
    bx.set_ylabel(r"ratio of certified $\ell_1$ radii")
    bx.set_xlim(lo, hi)
    bx.set_ylim(bottom=0)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7, loc="upper left")
    return _finish(fig, path)


# =============================================================================================
# Two-dimensional slices of a model's probability landscape (ANCER Figs. 1 and 7)
def _orthonormal(vectors):
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
    import torch
    from scipy.sparse.linalg import LinearOperator, eigsh

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


def _region_slice_norm(region, u, v, a, b):
    """``region.norm_of(a u + b v)`` on the grid (u, v flat numpy vectors)."""
    deltas = a.reshape(-1, 1) * u[None, :] + b.reshape(-1, 1) * v[None, :]
    if not region.isotropic:
        deltas = deltas.reshape((-1,) + tuple(region.shape))
    return np.asarray(region.norm_of(deltas)).reshape(a.shape)


def landscape_slice_figure(model, x, target: int | None = None, directions: str = "random",
                           regions: Sequence | None = None, extent: float | None = None,
                           grid: int = 61, seed: int = 0, batch: int = 1024,
                           class_names: Sequence[str] | None = None, path=None):
    """Base-classifier probability of the target class on the plane ``x + a u + b v``.

    ``directions``: ``random`` (two Gaussian directions, orthonormalized; ANCER Fig. 1) or
    ``hessian`` (the eigenvectors of the largest and smallest Hessian eigenvalue of the target
    probability; ANCER Fig. 7). ``regions`` is a list of ``(label, Region)``: the boundary of
    each certified region's slice, ``{(a, b): ||(a u + b v) / scales||_p = gap}``, is drawn on
    top, so an isotropic ball appears as a circle and an anisotropic ellipsoid or cross-polytope
    as the section of its shape. The solid black line is the base classifier's decision boundary
    (where the target logit stops beating every other logit). ``model`` is any torch module taking a batch of
    inputs shaped like ``x`` (imported lazily).
    """
    import torch

    if directions not in ("random", "hessian"):
        raise ValueError(f"directions must be 'random' or 'hessian', got {directions!r}")
    if not isinstance(grid, int) or grid < 3:
        raise ValueError(f"grid must be an integer >= 3, got {grid!r}")
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(x[None])[0]
    if target is None:
        target = int(logits.argmax())
    if not 0 <= int(target) < logits.numel():
        raise ValueError(f"target must be a class index in [0, {logits.numel()}), got {target!r}")
    if directions == "random":
        gen = torch.Generator().manual_seed(seed)
        u, v = _orthonormal([torch.randn(x.numel(), generator=gen) for _ in range(2)])
        axis_names = ("random direction $u_1$", "random direction $u_2$")
    else:
        (lmax, u), (lmin, v) = hessian_extreme_directions(model, x, int(target), seed=seed)
        u, v = _orthonormal([u, v])
        axis_names = (rf"top Hessian eigenvector ($\lambda$ = {lmax:.3g})",
                      rf"bottom Hessian eigenvector ($\lambda$ = {lmin:.3g})")
    regions = list(regions or [])
    if extent is None:
        sizes = [r.gap * float(np.max(r.scales)) for _, r in regions]
        extent = 1.6 * max(sizes) if sizes and max(sizes) > 0 else 1.0
    t = np.linspace(-extent, extent, grid)
    a, b = np.meshgrid(t, t)
    coeff = torch.as_tensor(np.stack([a.ravel(), b.ravel()], 1), dtype=torch.float32)
    probs, same = [], []
    with torch.no_grad():
        for s in range(0, coeff.shape[0], batch):
            c = coeff[s:s + batch]
            pts = x.reshape(1, -1) + c[:, :1] * u[None] + c[:, 1:] * v[None]
            logit = model(pts.reshape((-1,) + tuple(x.shape)))
            probs.append(torch.softmax(logit, dim=-1)[:, target])
            others = logit.clone()
            others[:, target] = -torch.inf
            same.append(logit[:, target] - others.max(-1).values)  # > 0 where target wins
    prob = torch.cat(probs).numpy().reshape(a.shape)
    margin = torch.cat(same).numpy().reshape(a.shape)
    fig, (ax,) = new_figure((4.4, 3.6))
    im = ax.contourf(a, b, prob, levels=np.linspace(0, 1, 21), cmap="viridis")
    cb = fig.colorbar(im, ax=ax)
    cname = class_names[target] if class_names is not None else f"class {target}"
    cb.set_label(f"base-classifier P({cname})")
    if margin.min() < 0 < margin.max():
        ax.contour(a, b, margin, levels=[0.0], colors="k", linewidths=1.2)
    un, vn = u.numpy().astype(float), v.numpy().astype(float)
    handles = []
    from matplotlib.lines import Line2D

    for i, (label, region) in enumerate(regions):
        nrm = _region_slice_norm(region, un, vn, a, b)
        color = ("white", "red", "orange", "cyan")[i % 4]
        ax.contour(a, b, nrm, levels=[region.gap], colors=color, linewidths=1.6,
                   linestyles=("-", "--", ":", "-.")[i % 4])
        if region.gap == 0:
            label += " (empty: nothing certified)"
        handles.append(Line2D([], [], color=color, ls=("-", "--", ":", "-.")[i % 4], label=label))
    handles.append(Line2D([], [], color="k", label="decision boundary"))
    ax.plot([0], [0], "w+", ms=8)
    ax.set_aspect("equal")
    ax.set_xlabel(axis_names[0], fontsize=8)
    ax.set_ylabel(axis_names[1], fontsize=8)
    ax.legend(handles=handles, fontsize=6, loc="upper right", framealpha=0.8)
    return _finish(fig, path)


# =============================================================================================
# The documentation set
#: Default location of Cohen et al.'s released results: ../shared/data/cohen2019 from the root.
COHEN_DATA = Path(__file__).resolve().parent.parent / "shared" / "data" / "cohen2019"


def _cohen_files(data_dir: Path, dataset: str, pairs) -> list[Path]:
    return [data_dir / f"{dataset}__noise_{n}__test__sigma_{s}.tsv" for n, s in pairs]


def smoothed_top_probability_bound(model, x, sigma: float, n: int = 500, alpha: float = 0.001,
                                   seed: int = 0, batch: int = 250):
    """(top class, one-sided Clopper-Pearson lower bound on its probability) of ``model`` under
    Gaussian noise N(0, sigma^2 I) at ``x``, from n samples (Cohen et al. Alg. CERTIFY, with the
    selection made on the same samples: for figures only, not for reported certificates)."""
    import torch

    from .estimators import cp_lower

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


FASHION_MNIST_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")


def landscape_docs_figures(out_dir, model, sigma: float, image, quick: bool = False) -> list[str]:
    """The guide's two landscape slices (random and Hessian directions) for one 28 x 28 image.

    pA is a Clopper-Pearson bound from Gaussian samples of ``model`` (see
    :func:`smoothed_top_probability_bound`); the isotropic ball is Cohen's region at that pA and
    the ellipsoid an ANCER region with the same gap and a radial sigma map of the same geometric
    mean (an illustration of the shape, not an optimized certificate).
    """
    import torch

    from .bounds import get

    torch.set_num_threads(min(2, torch.get_num_threads()))
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32).reshape(1, 28, 28)
    if x.max() > 1:
        x = x / 255.0
    top, pa = smoothed_top_probability_bound(model, x, sigma, n=200 if quick else 1000)
    iso = get("cohen-gaussian-l2", sigma=sigma).region(pa)
    yy, xx = np.mgrid[:28, :28]
    border = np.hypot(yy - 13.5, xx - 13.5) / 13.5
    sig_map = np.exp(0.6 * (border - border.mean()))
    sig_map = (sigma * sig_map / math.exp(np.log(sig_map).mean()))[None]
    ell = get("ancer-ellipsoid", sigma=sig_map).region(pa)
    regs = [(f"isotropic ball ($\\sigma$ = {sigma:g}, $p_A \\geq$ {pa:.3f})", iso),
            ("ellipsoid, same gap, radial $\\sigma$ map (illustration)", ell)]
    grid = 31 if quick else 81
    out = Path(out_dir)
    for mode in ("random", "hessian"):
        landscape_slice_figure(model, x, target=top, directions=mode, regions=regs, grid=grid,
                               class_names=FASHION_MNIST_CLASSES, path=out / f"landscape_{mode}")
    return ["landscape_random", "landscape_hessian"]


class MissingInput(Exception):
    """A figure group's optional input is absent (Cohen et al.'s files, or torch): the group is
    skipped with this message. Every other error in a group is a failure."""


class FigureGroupsFailed(RuntimeError):
    """Raised by :func:`docs_figures` after the other groups are drawn when some group raised."""


#: The figure groups of :func:`docs_figures` and the files each writes.
DOCS_GROUPS = {
    "cohen": ["cohen_imagenet", "cohen_cifar10", "cohen_high_prob"],
    "radius": ["radius_vs_pa_l1", "radius_vs_pa_l2"],
    "regions": ["proxy_vs_l2", "region_volume"],
    "zhang": ["zhang_radial_l2", "zhang_radial_l1", "zhang_dual_l2_k0", "zhang_dual_l2_k8"],
    "rops": ["laplace_vs_gaussian"],
    "landscape": ["landscape_random", "landscape_hessian"],
}


def docs_figures(out_dir, data_dir=None, model_name: str = "fmnist-gaussian-0.50",
                 quick: bool = False, resume: bool = False, groups=None) -> list[Path]:
    """Draw every figure embedded in ``docs/guide.md`` into ``out_dir`` (PNG + PDF each).

    ``groups`` picks some of :data:`DOCS_GROUPS` (default all). A group whose optional input is
    missing (Cohen et al.'s files, torch) is skipped with a message on stderr
    (:class:`MissingInput`); a group that raises anything else is a failure: its traceback is
    printed, the other groups are still drawn, and then :class:`FigureGroupsFailed` is raised.
    ``quick`` uses fewer samples. Progress is shown with tqdm; each file is written atomically,
    so an interrupted run leaves only complete figures; ``resume=True`` skips the groups whose
    PNG and PDF files all exist.
    """
    import sys
    import traceback

    from tqdm import tqdm

    chosen = list(DOCS_GROUPS) if groups is None else list(groups)
    unknown = [g for g in chosen if g not in DOCS_GROUPS]
    if unknown:
        raise ValueError(f"groups must be among {list(DOCS_GROUPS)}, got {unknown[0]!r}")

    out = Path(out_dir)
    data = COHEN_DATA if data_dir is None else Path(data_dir)
    written: list[Path] = []

    def job_cohen():
        if not data.is_dir():
            raise MissingInput(f"Cohen et al. results not found at {data}")
        im = _cohen_files(data, "imagenet__resnet50", [("0.25", "0.25"), ("0.50", "0.50"), ("1.00", "1.00")])
        cf = _cohen_files(data, "cifar10__resnet110", [("0.12", "0.12"), ("0.25", "0.25"), ("0.50", "0.50"), ("1.00", "1.00")])
        labs_i = [r"$\sigma = 0.25$", r"$\sigma = 0.50$", r"$\sigma = 1.00$"]
        labs_c = [r"$\sigma = 0.12$"] + labs_i
        certified_accuracy_figure(im, labs_i, max_radius=4.0, title="ImageNet, ResNet-50 (Cohen et al. 2019 data)",
                                  path=out / "cohen_imagenet")
        certified_accuracy_figure(cf, labs_c, max_radius=1.5, title="CIFAR-10, ResNet-110 (Cohen et al. 2019 data)",
                                  path=out / "cohen_cifar10")
        certified_accuracy_figure([im[1]], [r"$\sigma = 0.50$"], max_radius=2.0, variant="both",
                                  title="approximate vs high-probability (ImageNet)", path=out / "cohen_high_prob")
        return ["cohen_imagenet", "cohen_cifar10", "cohen_high_prob"]

    def job_radius():
        l1 = ["teng-laplace-l1", "teng-laplace-l1-binary", "lecuyer-laplace-l1", "cohen-gaussian-l2",
              "uniform-l1", "zhang-l1"]
        fig = radius_vs_pa_figure(l1, std=0.5, dim=784, shares=(None, 0.5), as_norm="l1",
                                  path=out / "radius_vs_pa_l1")
        l2 = ["cohen-gaussian-l2", "ancer-gaussian-mixture", "zhang-l2", "zhang-linf"]
        radius_vs_pa_figure(l2, std=0.5, dim=784, shares=(None, 0.5), as_norm="l2",
                            path=out / "radius_vs_pa_l2")
        for why in fig.skipped:
            print(f"radius_vs_pa: skipped {why}", file=sys.stderr)
        return ["radius_vs_pa_l1", "radius_vs_pa_l2"]

    def job_regions():
        from .bounds import get

        rng = np.random.default_rng(0)
        d, n_inputs = 64, 300
        enc, prox = [], []
        for _ in range(n_inputs):  # per-input sigma, as ANCER optimizes one per input
            sig = 0.5 * np.exp(rng.normal(0.0, 0.35, d))
            e, p = region_radii("ancer-ellipsoid", {"sigma": sig}, [rng.uniform(0.55, 0.999)])
            enc.append(e[0])
            prox.append(p[0])
        proxy_vs_l2_figure(np.array(enc), np.array(prox), labels=[f"ANCER ellipsoid, d = {d}, random per-input $\\sigma$"],
                           path=out / "proxy_vs_l2")
        sig = 0.5 * np.exp(np.linspace(-0.5, 0.8, 16))
        region_volume_figure(["cohen-gaussian-l2", "teng-laplace-l1", "uniform-l1",
                              get("ancer-ellipsoid", sigma=sig),
                              get("ancer-cross-polytope", half_width=sig * math.sqrt(3))],
                             std=0.5, dim=16, path=out / "region_volume")
        return ["proxy_vs_l2", "region_volume"]

    def job_zhang():
        radial_density_figure("zhang-l2", ks=(0, 100, 300, 500), dim=784, path=out / "zhang_radial_l2")
        radial_density_figure("zhang-l1", ks=(0, 100, 300, 500), dim=784, path=out / "zhang_radial_l1")
        n = 20_000 if quick else 200_000
        dual_landscape_figure("zhang-l2", p=0.8, radii=(0.1, 0.25, 0.5), dim=16, k=0, n=n,
                              path=out / "zhang_dual_l2_k0")
        dual_landscape_figure("zhang-l2", p=0.8, radii=(0.1, 0.25, 0.5), dim=16, k=8, n=n,
                              path=out / "zhang_dual_l2_k8")
        return ["zhang_radial_l2", "zhang_radial_l1", "zhang_dual_l2_k0", "zhang_dual_l2_k8"]

    def job_rops():
        rops_figure(std=0.5, path=out / "laplace_vs_gaussian")
        return ["laplace_vs_gaussian"]

    def job_landscape():
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise MissingInput("torch is not installed (pip install smoothcert[gpu])")
        from .gpu_sampler.data import embedded_sample
        from .gpu_sampler.models import shipped_model, shipped_noise

        images, _ = embedded_sample()
        return landscape_docs_figures(out, shipped_model(model_name),
                                      float(shipped_noise(model_name)["sigma"]), images[0], quick)

    jobs = {"cohen": job_cohen, "radius": job_radius, "regions": job_regions, "zhang": job_zhang,
            "rops": job_rops, "landscape": job_landscape}
    failed = []
    for group in tqdm(chosen, desc="figures", unit="group", file=sys.stderr):
        expected = DOCS_GROUPS[group]
        if resume and all((out / f"{n}.{e}").is_file() for n in expected for e in ("png", "pdf")):
            written += [out / f"{n}.png" for n in expected]
            continue
        try:
            names = jobs[group]()
        except MissingInput as exc:
            print(f"{group}: skipped, input missing ({exc})", file=sys.stderr)
            continue
        except Exception as exc:  # noqa: BLE001 -- reported below and re-raised as a failure
            traceback.print_exc(file=sys.stderr)
            failed.append((group, exc))
            continue
        written += [out / f"{n}.png" for n in names]
    if failed:
        raise FigureGroupsFailed("figure groups failed: " + "; ".join(
            f"{g} ({type(e).__name__}: {e})" for g, e in failed)) from failed[0][1]
    return written
