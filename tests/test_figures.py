"""Tests of figures.py: reading Cohen-format results, tables, and every figure on small inputs.

The published numbers below are Cohen, Rosenfeld & Kolter (2019)'s own tables, as released in
their repository locuslab/smoothing (``analysis/latex/vary_noise_imagenet`` = paper Table 1,
``analysis/latex/vary_noise_cifar10`` = the CIFAR-10 appendix table, both written by their
``analyze.py`` from the files in ``../shared/data/cohen2019``). They are typed in from those
files, not from this code's output.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from smoothcert import figures as F

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cohen2019"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"Cohen et al. 2019 results not found at {DATA} (../shared/data)"
)

# Cohen et al. 2019 Table 1 (ImageNet, approximate certified accuracy; bold = best sigma).
PUBLISHED_IMAGENET = r"""
$\sigma = 0.25$ & \textbf{0.49} & 0.00 & 0.00 & 0.00 & 0.00 & 0.00\\
$\sigma = 0.50$ & 0.46 & \textbf{0.37} & \textbf{0.29} & 0.00 & 0.00 & 0.00\\
$\sigma = 1.00$ & 0.38 & 0.33 & 0.26 & \textbf{0.19} & \textbf{0.15} & \textbf{0.12}\\
"""
IMAGENET_RADII = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
IMAGENET_FILES = ["imagenet__resnet50__noise_%s__test__sigma_%s.tsv" % (s, s)
                  for s in ("0.25", "0.50", "1.00")]

# Cohen et al. 2019 appendix table (CIFAR-10, approximate certified accuracy).
PUBLISHED_CIFAR = r"""
$\sigma = 0.12$ & 0.59 & 0.00 & 0.00 & 0.00 & 0.00 & 0.00\\
$\sigma = 0.25$ & \textbf{0.60} & \textbf{0.43} & 0.27 & 0.00 & 0.00 & 0.00\\
$\sigma = 0.50$ & 0.55 & 0.41 & \textbf{0.32} & \textbf{0.23} & 0.15 & 0.09\\
$\sigma = 1.00$ & 0.39 & 0.34 & 0.28 & 0.22 & \textbf{0.17} & \textbf{0.14}\\
"""
CIFAR_RADII = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
CIFAR_FILES = ["cifar10__resnet110__noise_%s__test__sigma_%s.tsv" % (s, s)
               for s in ("0.12", "0.25", "0.50", "1.00")]

# The r = 0.0 column of the table in the locuslab/smoothing README (ImageNet, clean accuracy of
# the smoothed classifier). The README's r = 1.0 / 1.5 entries for sigma = 0.50 (0.38, 0.28)
# differ from Table 1 (0.37, 0.29), which the released files reproduce; only r = 0 is used here.
PUBLISHED_IMAGENET_R0 = [0.67, 0.57, 0.44]


def _parse_published(text):
    """[(values, bold flags)] per row of a LaTeX table body."""
    rows = []
    for line in text.strip().splitlines():
        cells = line.rstrip("\\").split("&")[1:]
        vals = [re.sub(r"\\textbf\{(.*)\}", r"\1", c.strip()) for c in cells]
        rows.append(([v for v in vals], ["textbf" in c for c in cells]))
    return rows


def _parse_ours_markdown(md):
    rows = []
    for line in md.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")][1:]
        rows.append(([c.strip("*") for c in cells], [c.startswith("**") for c in cells]))
    return rows


def _parse_ours_latex(tex):
    body = [l for l in tex.splitlines() if l.startswith("$") or l.startswith("s")]
    return _parse_published("\n".join(body))


# ---------------------------------------------------------------------------------------------
# Reproducing Cohen et al.'s published tables from their released files
@needs_data
@pytest.mark.parametrize("files,radii,published", [
    (IMAGENET_FILES, IMAGENET_RADII, PUBLISHED_IMAGENET),
    (CIFAR_FILES, CIFAR_RADII, PUBLISHED_CIFAR),
])
def test_tables_reproduce_cohen_published_tables(files, radii, published):
    paths = [DATA / f for f in files]
    labels = [f"$\\sigma = {f.split('sigma_')[1][:4]}$" for f in files]
    want = _parse_published(published)
    md = F.certified_accuracy_table(paths, radii, labels=labels, fmt="markdown")
    tex = F.certified_accuracy_table(paths, radii, labels=labels, fmt="latex")
    assert _parse_ours_markdown(md) == want
    assert _parse_ours_latex(tex) == want
    for r in radii:
        assert f"r = {r:g}" in md


@needs_data
def test_clean_accuracy_matches_cohen_readme_r0_column():
    acc = [F.approximate_accuracy(DATA / f, [0.0])[0] for f in IMAGENET_FILES]
    assert [f"{a:.2f}" for a in acc] == [f"{a:.2f}" for a in PUBLISHED_IMAGENET_R0]


@needs_data
def test_read_all_released_files():
    for path in sorted(DATA.glob("*.tsv")):
        res = F.read_tsv(path)
        n_lines = sum(1 for line in open(path) if line.strip()) - 1
        assert len(res) == n_lines
        assert (res.radius >= 0).all() and np.isin(res.correct, (0, 1)).all()
        assert (res.radius[res.predict == -1] == 0).all()  # abstentions certify nothing
        assert np.isfinite(res.time).all() and (res.time > 0).all()
    im = F.read_tsv(DATA / IMAGENET_FILES[0])
    assert im.time[0] == pytest.approx(2 * 60 + 31.238689)  # first row prints 0:02:31.238689


# ---------------------------------------------------------------------------------------------
# Reading: formats and bad input
def _write(tmp_path, text, name="r.tsv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_extra_columns_and_hms_time(tmp_path):
    p = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\ttime\tproxy_radius\n"
                         "0\t1\t1\t0.5\t1\t1:00:01.5\t0.7\n1\t2\t-1\t0.0\t0\t2.0\t0.0\n")
    res = F.read_tsv(p)
    assert res.time.tolist() == [3601.5, 2.0]
    assert res.column("proxy_radius").tolist() == [0.7, 0.0]
    assert F.average_certified_radius(res, column="proxy_radius") == pytest.approx(0.35)
    with pytest.raises(ValueError, match="column='nope'"):
        res.column("nope")


@pytest.mark.parametrize("body,match", [
    ("idx\tlabel\tpredict\tcorrect\n0\t1\t1\t1\n", "missing column"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\t-0.5\t1\n", "radius must be >= 0"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\tnan\t1\n", "radius must be >= 0"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\t0.5\t2\n", "correct must be 0 or 1"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t-1\t0.0\t1\n", "abstain"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\tabc\t1\n", "radius"),
    ("idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\t0.5\n", "number of fields"),
    ("", "empty"),
])
def test_read_rejects_bad_files(tmp_path, body, match):
    with pytest.raises(ValueError, match=match):
        F.read_tsv(_write(tmp_path, body))


def test_bad_arguments(tmp_path):
    p = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\t0.5\t1\n")
    with pytest.raises(ValueError, match="radii"):
        F.approximate_accuracy(p, [-1.0])
    with pytest.raises(ValueError, match="alpha"):
        F.high_probability_accuracy(p, [0.0], alpha=0.0)
    with pytest.raises(ValueError, match="rho"):
        F.high_probability_accuracy(p, [0.0], rho=1.5)
    with pytest.raises(ValueError, match="method"):
        F.high_probability_accuracy(p, [0.0], method="hoeffding")
    with pytest.raises(ValueError, match="fmt"):
        F.certified_accuracy_table([p], [0.0], fmt="html")
    with pytest.raises(ValueError, match="labels"):
        F.certified_accuracy_table([p], [0.0], labels=["a", "b"])


# ---------------------------------------------------------------------------------------------
# Accuracy curves: properties over random result sets
def _results(radius, correct):
    n = len(radius)
    predict = np.where(np.asarray(radius) > 0, 1, -1)
    correct = np.where(predict == -1, 0, correct)
    return F.CertificationResults(idx=np.arange(n), label=np.ones(n, int), predict=predict,
                                  radius=np.asarray(radius, float), correct=np.asarray(correct))


rows = st.lists(st.tuples(st.floats(0, 5), st.integers(0, 1)), min_size=1, max_size=60)


@given(rows, st.lists(st.floats(0, 6), min_size=1, max_size=8))
def test_approximate_accuracy_counts_and_is_monotone(data, radii):
    res = _results([d[0] for d in data], [d[1] for d in data])
    acc = F.approximate_accuracy(res, radii)
    for r, a in zip(radii, acc):
        want = sum(1 for rad, c in zip(res.radius, res.correct) if c == 1 and rad >= r)
        assert a * len(res) == pytest.approx(want)
    order = np.argsort(radii)
    assert (np.diff(acc[order]) <= 0).all()


@given(rows, st.sampled_from([1e-3, 1e-2, 0.1]), st.sampled_from([1e-3, 0.05]))
def test_high_probability_is_below_approximate_and_binomial_tightest(data, alpha, rho):
    res = _results([d[0] for d in data], [d[1] for d in data])
    r = [0.0, 0.5, 1.0]
    approx = F.approximate_accuracy(res, r)
    hp = {m: F.high_probability_accuracy(res, r, alpha, rho, method=m)
          for m in ("binomial", "bernstein", "cohen")}
    for m, v in hp.items():
        assert (v <= approx).all() and (v >= 0).all(), m
    assert (hp["binomial"] >= hp["bernstein"] - 1e-12).all()


def test_binomial_budget_is_exact_quantile_in_mpmath():
    import mpmath as mp

    for n, alpha, rho in [(500, 1e-3, 1e-3), (500, 0.01, 0.05), (10_000, 1e-3, 1e-3)]:
        q = round(F._false_certificate_budget(n, alpha, rho, "binomial") * n)

        def tail(k):  # P(Bin(n, alpha) >= k), exact
            mp.mp.dps = 40
            a = mp.mpf(alpha)
            return mp.fsum(mp.binomial(n, j) * a**j * (1 - a) ** (n - j) for j in range(k, n + 1))

        assert tail(q + 1) <= rho  # sound: more than q false certificates has prob <= rho
        assert tail(q) > rho  # and the smallest such q


def test_cohen_high_prob_formula_matches_analyze_py_expression():
    # Cohen et al. analyze.py: mean - alpha - sqrt(alpha(1-alpha) log(1/rho)/n) - log(1/rho)/(3n)
    res = _results([1.0] * 300 + [0.0] * 200, [1] * 300 + [0] * 200)
    n, a, p = 500, 0.001, 0.001
    want = 0.6 - a - math.sqrt(a * (1 - a) * math.log(1 / p) / n) - math.log(1 / p) / (3 * n)
    got = F.high_probability_accuracy(res, [0.5], a, p, method="cohen")[0]
    assert got == pytest.approx(want, rel=1e-12)


def test_envelope_and_acr():
    a, b = np.array([0.5, 0.3, 0.0]), np.array([0.4, 0.35, 0.1])
    assert F.envelope([a, b]).tolist() == [0.5, 0.35, 0.1]
    res = _results([2.0, 1.0, 0.0, 3.0], [1, 0, 0, 1])
    assert F.average_certified_radius(res) == pytest.approx((2.0 + 3.0) / 4)
