"""Counts -> (prediction, radius): Cohen's CERTIFY and PREDICT (docs/contributing.md, Statistics).

Checks the alpha split of each rule against the Clopper-Pearson bounds at the documented levels,
soundness of the whole pipeline against the exact (mpmath) bounds and radius, Monte Carlo
coverage including the selection-bias worst case that a plain alpha would fail, the documented
numeric check (90000, 100), PREDICT against ``scipy.stats.binomtest``, and bad input.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

import smoothcert as sc
from smoothcert.estimators import cp_lower, cp_lower_mp, cp_upper, cp_upper_mp, predict_counts

SIGMA = 0.5
COHEN = sc.get("cohen-gaussian-l2", sigma=SIGMA)


class RecordingCert:
    """A minimal certificate: radius = p_a - (p_b or 1 - p_a); records what it was given."""

    binary_only = False

    def __init__(self):
        self.calls = []

    def radius(self, p_a, p_b=None):
        self.calls.append((np.copy(p_a), None if p_b is None else np.copy(p_b)))
        return np.asarray(p_a) - (1 - np.asarray(p_a) if p_b is None else np.asarray(p_b))


class BinaryOnlyCert(RecordingCert):
    binary_only = True
    name = "binary-only-stub"


def design_counts(k_classes=101):
    """(n_A, n_B) = (90000, 100) out of n = 1e5; the other 9900 spread at <= 100 per class."""
    counts = np.array([90_000] + [100] * (k_classes - 1))
    select = np.zeros_like(counts)
    select[0] = 100
    assert counts.sum() == 100_000
    return counts, select


def gaussian_radius_mp(p_a, p_b=None):
    with mp.workdps(40):
        q = lambda p: mp.sqrt(2) * mp.erfinv(2 * p - 1)  # noqa: E731
        return SIGMA * (q(p_a) if p_b is None else (q(p_a) - q(p_b)) / 2)


# ---------------------------------------------------------------------------------------------
# the documented numeric check and exact soundness
def test_design_check_binary_and_runner_up():
    counts, select = design_counts()
    _, r_bin = sc.certify_counts(counts, COHEN, 0.001, select)
    _, r_ru = sc.certify_counts(counts, COHEN, 0.001, select, rule="runner-up")
    assert abs(r_bin / SIGMA - 1.26) < 0.01
    assert abs(r_ru / SIGMA - 2.13) < 0.01
    exact_bin = gaussian_radius_mp(cp_lower_mp(90_000, 100_000, 0.001))
    exact_ru = gaussian_radius_mp(cp_lower_mp(90_000, 100_000, 0.0005), cp_upper_mp(100, 100_000, 0.0005))
    assert r_bin <= exact_bin and exact_bin - r_bin < 1e-4 * exact_bin
    assert r_ru <= exact_ru and exact_ru - r_ru < 1e-4 * exact_ru


def test_all_samples_in_top_class_gives_3_8115_sigma():
    pred, r = sc.certify_counts([100_000, 0, 0], COHEN, 0.001, select=[100, 0, 0])
    assert pred == 0 and round(r / SIGMA, 4) == 3.8115


@settings(max_examples=25)
@given(
    n=st.integers(1, 200_000),
    frac_a=st.floats(0.0, 1.0),
    frac_b=st.floats(0.0, 1.0),
    alpha=st.floats(-9, -1).map(lambda e: 10.0**e),
    rule=st.sampled_from(["binary", "runner-up"]),
)
def test_radius_never_above_the_exact_one(n, frac_a, frac_b, alpha, rule):
    n_a = int(round(frac_a * n))
    n_b = int(round(frac_b * (n - n_a)))
    counts = [n_a, n_b, n - n_a - n_b]
    pred, r, p_a, p_b = sc.certify_counts(counts, COHEN, alpha, [1, 0, 0], rule, return_bounds=True)
    assert r >= 0.0 and np.isfinite(p_a) and np.isfinite(p_b)
    if pred == -1:
        assert r == 0.0
        return
    assert pred == 0
    if rule == "binary":
        exact = gaussian_radius_mp(cp_lower_mp(n_a, n, alpha))
    else:
        exact = gaussian_radius_mp(cp_lower_mp(n_a, n, alpha / 2), cp_upper_mp(max(counts[1:]), n, alpha / 2))
    assert r <= exact


# ---------------------------------------------------------------------------------------------
# how alpha is split (module table of estimators/certify.py)
LEVELS = {  # (rule, select given) -> (level of p_A, level of p_B) as multiples of alpha, K classes
    ("binary", True): lambda k: (1.0, None),
    ("binary", False): lambda k: (1.0 / k, None),
    ("runner-up", True): lambda k: (0.5, 0.5),
    ("runner-up", False): lambda k: (0.5 / k, 0.25),
    ("bonferroni", True): lambda k: (1.0 / k, 1.0 / k),
    ("bonferroni", False): lambda k: (0.5 / k, 0.5 / k),
}


@pytest.mark.parametrize("rule, selected", list(LEVELS))
def test_alpha_split_matches_the_documented_levels(rule, selected):
    rng = np.random.default_rng(3)
    k = 5
    counts = rng.multinomial(1000, [0.6, 0.2, 0.1, 0.05, 0.05], size=40)
    select = rng.multinomial(100, [0.3, 0.4, 0.1, 0.1, 0.1], size=40) if selected else None
    alpha = 0.01
    pred, r, p_a, p_b = sc.certify_counts(counts, COHEN, alpha, select, rule, return_bounds=True)
    chosen = np.argmax(counts if select is None else select, axis=1)
    rows = np.arange(40)
    n = counts.sum(1)
    n_a = counts[rows, chosen]
    others = counts.copy()
    others[rows, chosen] = -1
    level_a, level_b = LEVELS[(rule, selected)](k)
    assert np.array_equal(p_a, cp_lower(n_a, n, alpha * level_a))
    if level_b is None:
        assert np.array_equal(p_b, 1 - p_a)
        ok = p_a > 0.5
    else:
        upper = cp_upper(others.max(1), n, alpha * level_b)
        assert np.array_equal(p_b, np.where(p_a >= 0.5, np.minimum(upper, 1 - p_a), upper))
        ok = p_a > p_b
    assert np.array_equal(pred, np.where(ok, chosen, -1))
    assert np.all(r[~ok] == 0.0) and np.all(r[ok] >= 0.0)
    want = COHEN.radius(p_a[ok]) if level_b is None else COHEN.radius(p_a[ok], p_b[ok])
    assert np.array_equal(r[ok], want)
    assert np.all(p_a[ok] + p_b[ok] <= 1.0)


@pytest.mark.parametrize("rule", ["runner-up", "bonferroni"])
def test_two_classes_filling_all_samples_still_certify(rule):
    """K = 2, n_A + n_B = n: the exact bounds sum to 1 and the margins must not break certification.

    Then the multi-class rule is the binary rule at alpha/2: p_B = 1 - p_A.
    """
    pred, r, p_a, p_b = sc.certify_counts([90, 10], COHEN, 0.01, [5, 0], rule, return_bounds=True)
    assert pred == 0 and r > 0
    assert p_a == cp_lower(90, 100, 0.005) and p_b == 1 - p_a
    assert r == COHEN.radius(p_a, p_b)
    # without the cap, rounding pushes some such pairs above 1 (impossible input for a certificate)
    k = np.arange(1, 100)
    assert np.any(cp_lower(k, 100, 0.005) + cp_upper(100 - k, 100, 0.005) > 1)
    pred, _, p_a, p_b = sc.certify_counts(np.stack([k, 100 - k], 1), COHEN, 0.01, np.tile([5, 0], (99, 1)),
                                          rule, return_bounds=True)
    top = p_a >= 0.5
    assert np.all(p_a[top] + p_b[top] <= 1) and np.array_equal(pred == 0, p_a > 0.5)


def test_binary_rule_passes_no_p_b_and_runner_up_passes_the_pair():
    cert = RecordingCert()
    sc.certify_counts([900, 50, 50], cert, 0.01, [10, 0, 0])
    assert len(cert.calls) == 1 and cert.calls[0][1] is None
    sc.certify_counts([900, 50, 50], cert, 0.01, [10, 0, 0], rule="runner-up")
    assert cert.calls[1][1] is not None and cert.calls[1][1][0] == cp_upper(50, 1000, 0.005)


def test_selection_counts_choose_the_class():
    # the estimation counts favour class 1, but the independent selection picked class 0
    pred, r = sc.certify_counts([10, 990], COHEN, 0.001, select=[100, 0])
    assert pred == -1 and r == 0.0
    pred, r = sc.certify_counts([990, 10], COHEN, 0.001, select=[0, 100])
    assert pred == -1 and r == 0.0
    pred, r = sc.certify_counts([10, 990], COHEN, 0.001, select=[0, 100])
    assert pred == 1 and r > 0


def test_without_selection_the_bound_is_more_conservative():
    counts = [9000, 500, 300, 200]
    _, r_sel, pa_sel, _ = sc.certify_counts(counts, COHEN, 0.001, [100, 0, 0, 0], return_bounds=True)
    _, r_none, pa_none, _ = sc.certify_counts(counts, COHEN, 0.001, None, return_bounds=True)
    assert pa_none < pa_sel and 0 < r_none < r_sel


# ---------------------------------------------------------------------------------------------
# coverage by simulation (the guarantee itself; binomial tolerance of 4 standard deviations)
def _coverage_tolerance(alpha, trials):
    return alpha + 4 * np.sqrt(alpha * (1 - alpha) / trials)


def test_coverage_with_selection_bias_worst_case():
    """K equally likely classes, c_A chosen on the same counts: the plain alpha fails, ours holds.

    With p_c = 1/K for every class, the argmax count is biased upwards; a bound at plain alpha
    on it is above the truth far more often than alpha (shown below, so this test can fail),
    while certify_counts' alpha/K (select=None) keeps the failure rate <= alpha.
    """
    rng = np.random.default_rng(4)
    k, n, trials, alpha = 8, 400, 20_000, 0.05
    counts = rng.multinomial(n, np.full(k, 1 / k), size=trials)
    _, _, p_a, _ = sc.certify_counts(counts, COHEN, alpha, None, return_bounds=True)
    fail = np.mean(p_a > 1 / k)
    assert fail <= _coverage_tolerance(alpha, trials)
    naive = cp_lower(counts.max(1), n, alpha)
    assert np.mean(naive > 1 / k) > 2 * alpha  # the unsound shortcut really fails here


@pytest.mark.parametrize("selected", [True, False])
def test_runner_up_coverage(selected):
    """Both bounds hold together (p_A >= lower, max other p <= upper) at rate >= 1 - alpha."""
    rng = np.random.default_rng(5 + selected)
    probs = np.array([0.35, 0.33, 0.32])
    n, trials, alpha = 300, 20_000, 0.1
    counts = rng.multinomial(n, probs, size=trials)
    select = rng.multinomial(20, probs, size=trials) if selected else None
    _, _, p_a, p_b = sc.certify_counts(counts, COHEN, alpha, select, "runner-up", return_bounds=True)
    chosen = np.argmax(counts if select is None else select, axis=1)
    true_a = probs[chosen]
    others = np.where(np.arange(3)[None, :] == chosen[:, None], -1.0, probs[None, :]).max(1)
    fail = np.mean((p_a > true_a) | (p_b < others))
    assert fail <= _coverage_tolerance(alpha, trials)


# ---------------------------------------------------------------------------------------------
# shapes and outputs
def test_output_types_for_one_input_and_for_a_test_set():
    pred, r = sc.certify_counts([900, 100], COHEN)
    assert type(pred) is int and type(r) is float
    out = sc.certify_counts([900, 100], COHEN, return_bounds=True)
    assert len(out) == 4 and all(type(x) is float for x in out[1:])
    counts = np.array([[900, 100], [500, 500], [0, 0], [100, 900]])
    pred, r = sc.certify_counts(counts, COHEN)
    assert pred.dtype == np.int64 and r.dtype == np.float64 and pred.shape == r.shape == (4,)
    assert list(pred[:3]) == [0, -1, -1] and pred[3] == 1
    assert r[1] == r[2] == 0.0 and r[0] > 0 and r[0] == r[3]


@given(
    counts=st.lists(st.integers(0, 10**6), min_size=2, max_size=6),
    rule=st.sampled_from(["binary", "runner-up", "bonferroni"]),
    alpha=st.floats(1e-12, 0.5),
    use_select=st.booleans(),
)
def test_always_finite_non_negative_and_consistent(counts, rule, alpha, use_select):
    select = list(reversed(counts)) if use_select else None
    pred, r, p_a, p_b = sc.certify_counts(counts, COHEN, alpha, select, rule, return_bounds=True)
    assert np.isfinite(r) and r >= 0.0 and 0.0 <= p_a <= 1.0 and 0.0 <= p_b <= 1.0
    if p_a > p_b:
        assert p_a + p_b <= 1.0  # certified: the selected class, radius from the certificate
        assert pred == int(np.argmax(select if use_select else counts))
        assert r == COHEN.radius(p_a, None if rule == "binary" else p_b)
    else:
        assert pred == -1 and r == 0.0


def test_laplace_and_uniform_certificates_work_through_the_runner_up_rule():
    counts, select = design_counts()
    for name, params in (("teng-laplace-l1", {"scale": 1.0}), ("uniform-l1", {"half_width": 1.0})):
        cert = sc.get(name, **params)
        pred, r, p_a, p_b = sc.certify_counts(counts, cert, 0.001, select, "runner-up", return_bounds=True)
        assert pred == 0 and r == cert.radius(p_a, p_b) > 0


# ---------------------------------------------------------------------------------------------
# PREDICT
@given(
    counts=st.lists(st.integers(0, 400), min_size=2, max_size=5),
    alpha=st.floats(1e-6, 0.5),
)
def test_predict_matches_scipy_binomtest(counts, alpha):
    top = int(np.argmax(counts))
    n_a, n_b = counts[top], max(c for i, c in enumerate(counts) if i != top)
    want = -1
    if n_a + n_b > 0 and binomtest(n_a, n_a + n_b, 0.5).pvalue <= alpha:
        want = top
    assert predict_counts(counts, alpha) == want


def test_predict_vectorized_ties_and_empty():
    counts = np.array([[60, 40, 0], [90, 10, 0], [0, 0, 0], [50, 50, 0], [0, 3, 200]])
    pred = predict_counts(counts, 0.01)
    assert pred.dtype == np.int64
    assert list(pred) == [-1, 0, -1, -1, 2]
    assert all(predict_counts(row, 0.01) == p for row, p in zip(counts, pred))


# ---------------------------------------------------------------------------------------------
# bad input
@pytest.mark.parametrize(
    "counts, kwargs, exc, name",
    [
        ([900, -1], {}, ValueError, "counts"),
        ([900.5, 100], {}, ValueError, "counts"),
        ([float("nan"), 100], {}, ValueError, "counts"),
        (["a", "b"], {}, TypeError, "counts"),
        ([True, False], {}, TypeError, "counts"),
        ([900], {}, ValueError, "counts"),  # K < 2
        ([[[900, 100]]], {}, ValueError, "counts"),  # 3-D
        ([900, 100], {"select": [10, 0, 0]}, ValueError, "select"),  # shape mismatch
        ([900, 100], {"select": [10, -1]}, ValueError, "select"),
        ([900, 100], {"select": [1.5, 0]}, ValueError, "select"),
        ([900, 100], {"alpha": 0.0}, ValueError, "alpha"),
        ([900, 100], {"alpha": 1.0}, ValueError, "alpha"),
        ([900, 100], {"alpha": float("nan")}, ValueError, "alpha"),
        ([900, 100], {"rule": "holm"}, ValueError, "rule"),
    ],
)
def test_certify_bad_input_names_the_argument(counts, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        sc.certify_counts(counts, COHEN, **kwargs)


def test_certify_rejects_non_certificates_and_binary_only_misuse():
    with pytest.raises(TypeError, match="cert"):
        sc.certify_counts([900, 100], object())
    with pytest.raises(ValueError, match="binary"):
        sc.certify_counts([900, 100], BinaryOnlyCert(), rule="runner-up")
    teng_binary = sc.get("teng-laplace-l1-binary", scale=1.0)
    with pytest.raises(ValueError, match="rule"):
        sc.certify_counts([900, 100], teng_binary, rule="bonferroni")
    pred, r = sc.certify_counts([900, 100], teng_binary, select=[10, 0])
    assert pred == 0 and r > 0


@pytest.mark.parametrize(
    "counts, alpha, exc, name",
    [
        ([60, -40], 0.01, ValueError, "counts"),
        ([60.5, 40], 0.01, ValueError, "counts"),
        ([60], 0.01, ValueError, "counts"),
        ([60, 40], 1.5, ValueError, "alpha"),
        ([60, 40], "x", TypeError, "alpha"),
    ],
)
def test_predict_bad_input(counts, alpha, exc, name):
    with pytest.raises(exc, match=name):
        predict_counts(counts, alpha)


# ---------------------------------------------------------------------------------------------
# PREDICT at the boundary: never predict where the exact test does not reject
def exact_pvalue_mp(n_a, m):
    """2 P(Bin(m, 1/2) >= n_a) in mpmath, independent of the code under test: the first term from
    loggamma, the next by the ratio (m - j) / (j + 1), until a term is below 1e-45 of the sum
    (past the mode the terms shrink geometrically, so the remainder is far below that).
    Up to 3000 trials the exact rational (p-values there may equal a double exactly)."""
    if m <= 3000:
        return Fraction(2 * sum(math.comb(m, j) for j in range(n_a, m + 1)), 2**m)
    with mp.workdps(50):
        term = mp.exp(mp.loggamma(m + 1) - mp.loggamma(n_a + 1) - mp.loggamma(m - n_a + 1)
                      + m * mp.log(mp.mpf(0.5)))
        total, j = term, n_a
        while j < m and term > mp.mpf(10) ** -45 * total:
            term = term * (m - j) / (j + 1)
            total += term
            j += 1
        return 2 * total


def test_predict_issue_example_abstains():
    assert exact_pvalue_mp(503866, 10**6) > 1.0667328779371948e-14
    assert predict_counts([503866, 496134], 1.0667328779371948e-14) == -1


@settings(max_examples=30, deadline=None)
@given(m=st.integers(2, 3 * 10**6), z=st.floats(1.0, 8.0))
def test_predict_at_alpha_right_at_the_exact_pvalue(m, z):
    """alpha the double just below / just above the exact p-value: abstain / predict."""
    n_a = min(m, m // 2 + 1 + int(z * math.sqrt(m) / 2))
    p = exact_pvalue_mp(n_a, m)
    if not 1e-190 < p < 0.99:
        return
    below = float(p)
    below = float(np.nextafter(below, 0.0)) if below >= p else below
    above = float(np.nextafter(below, 1.0))
    above = float(np.nextafter(above, 1.0)) if above <= p else above
    counts = [n_a, m - n_a]
    assert predict_counts(counts, below) == -1, (counts, below, p)
    assert predict_counts(counts, above) == 0, (counts, above, p)


# ---------------------------------------------------------------------------------------------
# counts past int64
@pytest.mark.parametrize(
    "counts",
    [
        np.array([2**63, 1], dtype=np.uint64),
        np.array([2**62, 2**62], dtype=np.int64),  # the row sum is 2^63
        [1e300, 1.0],
        [10**30, 1],
    ],
)
def test_counts_past_int64_raise(counts):
    cert = sc.get("cohen-gaussian-l2", sigma=1.0)
    with pytest.raises(ValueError, match="counts"):
        sc.certify_counts(counts, cert)
    with pytest.raises(ValueError, match="counts"):
        predict_counts(counts)
