"""Reading certification results and computing certified-accuracy statistics.

:func:`read_tsv` loads Cohen-format certification files (``idx label predict radius correct
time`` plus any extra columns) into :class:`CertificationResults`; :func:`approximate_accuracy`,
:func:`high_probability_accuracy`, :func:`average_certified_radius` and :func:`envelope` are the
statistics of Cohen et al. (2019, Sec. 4 and their ``analyze.py``) and Zhai et al. (2020, Eq. 9).
:data:`COHEN_DATA` is where Cohen et al.'s released files ship (package data) and
:data:`COHEN_ALPHA` the alpha each of them was certified at.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

from ..core.checks import check_probability
from ..core.errors import BadInput

#: Columns every Cohen-format certification file has (Cohen et al. 2019, code ``certify.py``).
REQUIRED_COLUMNS = ("idx", "label", "predict", "radius", "correct")
#: Columns read into their own fields (not ``extra``): the soundness mark written by
#: ``gpu_sampler.per_input.memory.records_to_tsv`` (``yes`` or ``NO-<mark>``) and the per-row alpha
#: written by ``smoothcert certify``.
SOUND_COLUMN, ALPHA_COLUMN = "sound", "alpha"

#: The one-sided alpha of each of Cohen et al. (2019)'s released files (locuslab/smoothing,
#: data/certify; shipped in :data:`COHEN_DATA`). The paper and the README say alpha = 0.001,
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


#: Cohen et al. (2019)'s released results (locuslab/smoothing, data/certify), shipped as package
#: data: ``data/cohen2019`` next to this module (its SOURCE.md says where they come from and
#: under what licence). ``smoothcert figures --data-dir`` and ``docs_figures(data_dir=...)`` override it.
COHEN_DATA = Path(__file__).resolve().parent / "data" / "cohen2019"


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


def radius_norm(res: CertificationResults) -> str | None:
    """The norm of a file's radii, from its ``certificate`` column (written by ``smoothcert
    certify``): the registered certificates' ``norm``. None when the file has no such column
    (Cohen et al.'s files) or names no registered certificate; a file mixing norms is refused."""
    from ..bounds import certificate_class

    norms = set()
    for name in sorted(set(map(str, res.extra.get("certificate", [])))):
        try:
            norms.add(certificate_class(name).norm)
        except ValueError:
            continue
    if len(norms) > 1:
        raise BadInput(f"{res.name}: rows of certificates in different norms ({', '.join(sorted(norms))})")
    return norms.pop() if norms else None


def check_one_norm(results: Sequence[CertificationResults], norm: str | None = None) -> None:
    """Refuse radii of different norms on one axis or in one table (a "best" cell across norms
    compares numbers in different units), and, with ``norm``, files whose radii are in another."""
    known = {r.name: radius_norm(r) for r in results}
    known = {name: v for name, v in known.items() if v is not None}
    if len(set(known.values())) > 1:
        shown = ", ".join(f"{name}: {v}" for name, v in known.items())
        raise BadInput(f"radii of different norms cannot share an axis or a table ({shown}); "
                       "draw each norm separately")
    if norm is not None and known and set(known.values()) != {norm}:
        name, v = next(iter(known.items()))
        raise BadInput(f"--norm {norm}, but the radii of {name} are {v} radii (its certificate column)")


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


