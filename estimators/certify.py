"""Monte Carlo counts -> certified predictions (Cohen, Rosenfeld & Kolter 2019, Sec. 3.2, Alg. "CERTIFY"/"PREDICT").

CERTIFY: ``n0`` selection samples pick the top class ``c_A``; ``n`` fresh samples bound its
probability from below (``p_A``) and, for the multi-class rules, the probability of every other class
from above (``p_B``); the prediction is ``c_A`` with radius ``cert.radius(p_A, p_B)`` when
``p_A > p_B`` (binary: ``p_A > 1/2``), otherwise -1 with radius 0.0 (abstain).

How alpha is split (every rule is a union bound whose failure probability is at most ``alpha``):

=============  ==========================================  ==================================================
rule           ``select`` given (independent selection)    ``select=None`` (c_A chosen on the same counts)
=============  ==========================================  ==================================================
``binary``     p_A at alpha; p_B = 1 - p_A (Cohen)         p_A at alpha/K (all K lower bounds simultaneous)
``runner-up``  p_A at alpha/2; p_B at alpha/2              p_A at alpha/(2K); p_B at alpha/4
``bonferroni`` every class at alpha/K                      every class, both sides, at alpha/(2K)
=============  ==========================================  ==================================================

``p_B`` is always the Clopper-Pearson upper bound of the LARGEST estimation count among the classes
``c != c_A``. Why that is sound with one bound at level ``beta`` (given ``c_A`` independent of the
estimation counts): let ``c*`` be the true most likely class among ``c != c_A``; ``cp_upper`` is
increasing in the count and ``n_max >= n_{c*}``, so ``P(p_{c*} > U(n_max)) <= P(p_{c*} > U(n_{c*}))
<= beta``. Without independent selection (``select=None``), let ``c1, c2`` be the two truly most
likely classes: if ``c_A != c1`` the largest other count is ``>= n_{c1}``, and if ``c_A = c1`` it is
``>= n_{c2}``; either way the two fixed events ``{p_{c1} <= U(n_{c1})}, {p_{c2} <= U(n_{c2})}``
imply ``max_{c != c_A} p_c <= U(n_max)``: level ``alpha/4`` each. The lower bound on the data-chosen
``c_A`` needs all K lower bounds at once (Bonferroni).

On the event that both bounds hold, ``max_{c != c_A} p_c <= 1 - p_{c_A} <= 1 - p_A`` too, so the
reported ``p_B`` is ``min(U(n_max), 1 - p_A)`` where ``p_A >= 1/2`` (no extra alpha; see
:func:`_cap_by_complement`). With K = 2 the runner-up rule is then the binary rule at alpha/2.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
from scipy import special

from ..core.checks import COUNT_LIMIT, check_alpha, check_counts, check_int
from .clopper_pearson import _cp_lower, _cp_upper, binomial_tail_mp

RULES = ("binary", "runner-up", "bonferroni")


# ---------------------------------------------------------------------------------------------
# validation
def _check_count_matrix(name: str, counts) -> np.ndarray:
    """Counts of shape (K,) or (N, K) with K >= 2, as int64."""
    arr = check_counts(name, counts)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (K,) or (N, K), got shape {arr.shape}")
    if arr.shape[-1] < 2:
        raise ValueError(f"{name} must have K >= 2 classes (last axis), got shape {arr.shape}")
    _check_row_sums(name, arr)
    return arr


def _check_row_sums(name: str, arr: np.ndarray) -> None:
    """Every row sum (the sample count n) must fit int64. The float sum is within a relative
    K * eps of the exact one, so rows whose float sum is below 2^62 are safe; the others are
    summed exactly in Python ints."""
    rows = arr.reshape(-1, arr.shape[-1])
    near = np.flatnonzero(rows.sum(axis=1, dtype=np.float64) >= 2.0**62)
    for i in near:
        total = sum(int(x) for x in rows[i])
        if total >= COUNT_LIMIT:
            raise ValueError(f"{name} must sum to below 2^63 per row (int64), got {total} in row {i}")


def _check_rule(rule, cert) -> str:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
    if not callable(getattr(cert, "radius", None)):
        raise TypeError(f"cert must have a .radius(p_a, p_b) method, got {cert!r}")
    if rule != "binary" and getattr(cert, "binary_only", False):
        raise ValueError(
            f"cert {getattr(cert, 'name', cert)!r} is a binary theorem: it supports only "
            f"rule='binary', got rule={rule!r}"
        )
    return rule


def _levels(rule: str, alpha: float, k: int, selected: bool):
    """(level of the p_A lower bound, level of the p_B upper bound); see the module table."""
    if rule == "binary":
        return (alpha if selected else alpha / k), None
    if rule == "runner-up":
        return (alpha / 2, alpha / 2) if selected else (alpha / (2 * k), alpha / 4)
    level = alpha / k if selected else alpha / (2 * k)
    return level, level


def _top_and_runner_up(counts: np.ndarray, chosen: np.ndarray):
    """Count of the chosen class and the largest count among the other classes, per row."""
    rows = np.arange(counts.shape[0])
    n_a = counts[rows, chosen]
    others = counts.copy()
    others[rows, chosen] = -1
    return n_a, others.max(axis=1)


def _cap_by_complement(p_b: np.ndarray, p_a: np.ndarray) -> np.ndarray:
    """``min(p_B, 1 - p_A)`` where ``p_A >= 1/2``: still an upper bound on the same event.

    On the event that ``p_{c_A} >= p_A``, every other class has ``p_c <= 1 - p_{c_A} <= 1 - p_A``.
    The cap matters when the counts of ``c_A`` and the runner-up fill all n samples (K = 2): the
    exact bounds then sum to exactly 1 and the safe-direction margins of both would push the
    float pair above 1, an impossible pair for a certificate. ``1 - p_A`` is exact for
    ``p_A >= 1/2`` (Sterbenz); rows with ``p_A < 1/2`` keep ``p_B`` (they certify only when
    ``p_B < p_A < 1/2``, where the sum is below 1 anyway).
    """
    return np.where(p_a >= 0.5, np.minimum(p_b, 1.0 - p_a), p_b)


# ---------------------------------------------------------------------------------------------
def certify_counts(counts, cert, alpha=0.001, select=None, rule="binary", return_bounds=False,
                   top_k=None, labels=None):
    """Cohen et al.'s CERTIFY from class counts: ``(prediction, radius)``, -1 and 0.0 on abstain.

    With ``top_k=K`` (and a top-k certificate whose ``k`` is K) this is the top-k mode of
    :func:`certify_topk_counts` (``rule`` is not used there).

    Parameters
    ----------
    counts : int array, shape (K,) or (N, K)
        Estimation counts (Cohen's ``n`` samples) per class; ``n`` is their sum per row.
    cert : any object with ``.radius(p_a, p_b=None)`` (a registered certificate).
    alpha : float in (0, 1)
        Total failure probability per input; how it is split is in the module table:
        ``binary`` bounds p_A at alpha (select given) or alpha/K (``select=None``) and uses
        p_B = 1 - p_A; ``runner-up`` bounds p_A and p_B at alpha/2 each (select given) or at
        alpha/(2K) and alpha/4 (``select=None``); ``bonferroni`` bounds every class at alpha/K
        (select given) or both sides of every class at alpha/(2K) (``select=None``).
    select : int array of the same shape, or None
        Selection counts (Cohen's ``n0`` samples, independent of ``counts``); ``c_A`` is their
        argmax (ties: the lowest index). ``None`` selects on ``counts`` itself, with the
        simultaneous (Bonferroni) levels above, never the plain alpha.
    rule : "binary" | "runner-up" | "bonferroni"
        Certified iff ``p_A > 1/2`` (binary) or ``p_A > p_B``. Certificates with
        ``binary_only = True`` accept only "binary".
    return_bounds : also return ``p_a_lower`` and ``p_b_upper`` (binary: ``1 - p_a_lower``).

    Returns
    -------
    ``(prediction, radius)`` -- int and float for a (K,) input, int64 and float64 arrays of shape
    (N,) otherwise -- or ``(prediction, radius, p_a_lower, p_b_upper)`` with ``return_bounds``.
    """
    if top_k is not None:
        return certify_topk_counts(counts, cert, top_k, alpha, select=select, labels=labels,
                                   return_bounds=return_bounds)
    if labels is not None:
        raise ValueError("labels is a top-k option: pass top_k too, got top_k=None")
    counts = _check_count_matrix("counts", counts)
    rule = _check_rule(rule, cert)
    alpha = check_alpha(alpha)
    if select is not None:
        select = _check_count_matrix("select", select)
        if select.shape != counts.shape:
            raise ValueError(
                f"select must have the shape of counts {counts.shape}, got {select.shape}"
            )
    scalar = counts.ndim == 1
    k = counts.shape[-1]
    counts = counts.reshape(-1, k)
    chooser = counts if select is None else select.reshape(-1, k)
    chosen = np.argmax(chooser, axis=1)
    n = counts.sum(axis=1)
    level_a, level_b = _levels(rule, alpha, k, select is not None)

    if level_b is None:
        n_a = np.take_along_axis(counts, chosen[:, None], axis=1)[:, 0]
        p_a = _cp_lower(n_a, n, level_a)
        p_b = 1.0 - p_a
        ok = p_a > 0.5
        radius = np.zeros(p_a.shape)
        if ok.any():
            radius[ok] = cert.radius(p_a[ok])
    else:
        n_a, n_b = _top_and_runner_up(counts, chosen)
        p_a = _cp_lower(n_a, n, level_a)
        p_b = _cap_by_complement(_cp_upper(n_b, n, level_b), p_a)
        ok = p_a > p_b
        radius = np.zeros(p_a.shape)
        if ok.any():
            radius[ok] = cert.radius(p_a[ok], p_b[ok])
    prediction = np.where(ok, chosen, -1).astype(np.int64)
    radius = np.maximum(radius, 0.0)
    out = (prediction, radius, p_a, p_b) if return_bounds else (prediction, radius)
    if scalar:
        return tuple(int(x[0]) if x.dtype.kind == "i" else float(x[0]) for x in out)
    return out


# ---------------------------------------------------------------------------------------------
# top-k (Jia, Cao, Wang & Gong, ICLR 2020)
def _check_topk(cert, top_k, classes: int) -> int:
    top_k = check_int("top_k", top_k, minimum=1)
    if top_k >= classes:
        raise ValueError(f"top_k must be below the number of classes {classes}, got {top_k}")
    if getattr(cert, "k", None) != top_k:
        raise ValueError(f"cert must be a top-k certificate with k={top_k} (e.g. "
                         f"jia-gaussian-topk-l2), got {cert!r}")
    return top_k


def _check_labels(labels, rows: int, classes: int) -> np.ndarray:
    arr = check_counts("labels", labels).reshape(-1)
    if arr.size != rows:
        raise ValueError(f"labels must hold one label per row ({rows}), got {arr.size}")
    if (arr >= classes).any():
        raise ValueError(f"labels must lie in [0, {classes}), got {int(arr.max())}")
    return arr


def _radius_of(cert, lower: np.ndarray, upper: np.ndarray, label: np.ndarray):
    """``cert.radius(lower, upper of the other classes)`` per row, and the largest other upper."""
    rows = np.arange(upper.shape[0])
    keep = np.ones(upper.shape, dtype=bool)
    keep[rows, label] = False
    others = upper[keep].reshape(upper.shape[0], upper.shape[1] - 1)  # -1 fails on zero rows
    return np.asarray(cert.radius(lower, others), dtype=float), others.max(axis=1)


def certify_topk_counts(counts, cert, top_k, alpha=0.001, select=None, labels=None,
                        return_bounds=False):
    """Top-k CERTIFY (Jia, Cao, Wang & Gong, ICLR 2020, Theorem 1; numbering unchecked, see
    bounds/topk.py) from class counts.

    Every bound is a one-sided Clopper-Pearson bound; their union bound is the whole ``alpha``
    (with c classes):

    * ``labels`` given (the paper's certified top-k accuracy of the true label l, fixed in
      advance): the lower bound of l and the upper bounds of the c - 1 other classes, each at
      ``alpha / c`` (Bonferroni over the c classes; the same split as the paper's SimuEM, whose
      released code takes two-sided intervals at ``2 alpha / c``, i.e. ``alpha / c`` per side).
      ``select`` is refused (nothing is selected). Returns ``(label or -1, radius)`` per row.
    * no ``labels``: the candidates are the ``top_k`` classes with the largest ``select`` counts
      (or ``counts`` when ``select=None``; ties: the lower index). With independent ``select``:
      the candidates' lower bounds and every class's upper bound, ``top_k + c`` bounds at
      ``alpha / (top_k + c)``; with ``select=None`` (candidates chosen on the same counts): both
      bounds of every class, ``2c`` at ``alpha / (2c)``. On the event that all hold, every
      reported radius holds at once. Returns ``(certified set, radii)`` of shape ``(N, top_k)``:
      the candidate label, or -1 where its radius is 0 (not certified).

    The radius of label l is ``cert.radius(p_l, p_upper of the other classes)`` (the
    certificate clips each upper bound to ``1 - p_l``). ``return_bounds`` adds the lower bound
    of each reported label and the largest upper bound among the other classes. A (c,) input
    gives scalars (labels mode) or (top_k,) arrays.
    """
    counts = _check_count_matrix("counts", counts)
    alpha = check_alpha(alpha)
    classes = counts.shape[-1]
    top_k = _check_topk(cert, top_k, classes)
    scalar = counts.ndim == 1
    counts = counts.reshape(-1, classes)
    n = np.repeat(counts.sum(axis=1)[:, None], classes, axis=1)
    if labels is not None:
        if select is not None:
            raise ValueError("select is not used with labels (the label is not selected): pass one")
        label = _check_labels(labels, counts.shape[0], classes)
        level = alpha / classes
        upper = _cp_upper(counts, n, level)
        lower = _cp_lower(np.take_along_axis(counts, label[:, None], 1)[:, 0], n[:, 0], level)
        radius, p_b = _radius_of(cert, lower, upper, label)
        radius = np.maximum(radius, 0.0)
        out = (np.where(radius > 0, label, -1).astype(np.int64), radius, lower, p_b)
        out = out if return_bounds else out[:2]
        return tuple(x[0].item() for x in out) if scalar else out
    if select is not None:
        select = _check_count_matrix("select", select)
        if select.reshape(-1, select.shape[-1]).shape != counts.shape:
            raise ValueError(f"select must have the shape of counts {counts.shape}, got {select.shape}")
        select = select.reshape(counts.shape)
    chooser = counts if select is None else select
    cand = np.argsort(-chooser, axis=1, kind="stable")[:, :top_k]
    level = alpha / (2 * classes) if select is None else alpha / (top_k + classes)
    upper = _cp_upper(counts, n, level)
    lower = _cp_lower(np.take_along_axis(counts, cand, 1), n[:, :top_k], level)
    radii, p_b = np.zeros(cand.shape), np.zeros(cand.shape)
    for j in range(top_k):
        radii[:, j], p_b[:, j] = _radius_of(cert, lower[:, j], upper, cand[:, j])
    radii = np.maximum(radii, 0.0)
    out = (np.where(radii > 0, cand, -1).astype(np.int64), radii, lower, p_b)
    out = out if return_bounds else out[:2]
    return tuple(x[0] for x in out) if scalar else out


#: Rows whose float p-value is within this relative distance of alpha are decided exactly.
PVALUE_BAND = 1e-4

#: Digits of the exact p-value; it is raised by a relative 10^-(PVALUE_DPS - 5) to an upper bound.
PVALUE_DPS = 30

#: Up to this many trials the p-value is summed exactly in integers (ties with alpha included).
EXACT_TRIALS = 2000


def _pvalue_at_most(n_a: int, m: int, alpha: float) -> bool:
    """Whether ``2 P(Bin(m, 1/2) >= n_a) <= alpha`` (n_a > m/2), proven.

    For ``m <= EXACT_TRIALS`` the p-value is the exact rational ``2 sum_j C(m, j) / 2^m``.
    Otherwise an upper bound: the log-space mpmath sum of :func:`binomial_tail_mp`, whose
    truncation leaves it within a relative 10^-(dps+5) below the exact tail, raised by
    10^-(dps-5); an exact tie with alpha then abstains.
    """
    if m <= EXACT_TRIALS:
        tail = sum(math.comb(m, j) for j in range(n_a, m + 1))
        return Fraction(2 * tail, 2**m) <= Fraction(alpha)
    with mp.workdps(PVALUE_DPS + 10):
        tail = binomial_tail_mp(n_a, m, mp.mpf(0.5), upper=True, dps=PVALUE_DPS)
        return 2 * tail * (1 + mp.mpf(10) ** (5 - PVALUE_DPS)) <= alpha


def _rejects(n_a: np.ndarray, m: np.ndarray, alpha: float) -> np.ndarray:
    """Rows (n_a > n_b, m = n_a + n_b) where the exact two-sided test at p = 1/2 provably rejects.

    ``p = 2 T(1/2)`` with ``T(q) = P(Bin(m, q) >= n_a)`` increasing in q, and the Clopper-Pearson
    lower bound solves ``T(L) = alpha/2``, so ``p <= alpha`` iff ``1/2 <= L(n_a, m, alpha/2)``.
    :func:`_cp_lower` is never above the exact L, so ``_cp_lower >= 1/2`` proves the rejection.
    It misses only p-values within its margin (a relative 2e-5) of alpha: rows whose float
    p-value (SciPy's ``bdtrc``) lies within :data:`PVALUE_BAND` of alpha are decided by
    :func:`_pvalue_at_most` instead (exact, or an mpmath upper bound).
    """
    reject = _cp_lower(n_a, m, alpha / 2) >= 0.5
    with np.errstate(invalid="ignore"):
        p_float = 2.0 * special.bdtrc(n_a - 1, m, 0.5)  # P(Bin(m, 1/2) > n_a - 1), doubled
    near = ~reject & (np.abs(p_float - alpha) <= PVALUE_BAND * alpha)
    for i in np.flatnonzero(near):
        reject[i] = _pvalue_at_most(int(n_a[i]), int(m[i]), alpha)
    return reject


def predict_counts(counts, alpha=0.001):
    """Cohen et al.'s PREDICT from class counts: the top class, or -1 (abstain).

    Two-sided binomial test of the top two counts ``n_A > n_B`` against p = 1/2, as
    ``scipy.stats.binomtest(n_A, n_A + n_B, 0.5).pvalue``: for p = 1/2 that p-value is
    ``min(1, 2 P(Bin(n_A + n_B, 1/2) >= n_A))`` (the distribution is symmetric). Returns the top
    class (lowest index on ties) only where that exact p-value is proven ``<= alpha``
    (:func:`_rejects`: a Clopper-Pearson bound, and next to alpha the exact p-value up to 2000
    trials, an mpmath upper bound beyond); otherwise -1. Then the returned class is wrong with
    probability at most ``alpha`` (Cohen et al. Prop. 1). ``counts`` has shape (K,) (returns an int) or (N, K) (returns an
    int64 array of shape (N,)).
    """
    counts = _check_count_matrix("counts", counts)
    alpha = check_alpha(alpha)
    scalar = counts.ndim == 1
    counts = counts.reshape(-1, counts.shape[-1])
    top = np.argmax(counts, axis=1)
    n_a, n_b = _top_and_runner_up(counts, top)
    ok = n_a > n_b
    reject = np.zeros(ok.shape, dtype=bool)
    if ok.any():
        reject[ok] = _rejects(n_a[ok], n_a[ok] + n_b[ok], alpha)
    prediction = np.where(reject, top, -1).astype(np.int64)
    return int(prediction[0]) if scalar else prediction


__all__ = ["RULES", "certify_counts", "certify_topk_counts", "predict_counts"]
