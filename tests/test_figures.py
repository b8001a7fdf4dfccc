"""Tests of the figures package: reading Cohen-format results, tables, and every figure on small inputs.

The published numbers below are Cohen, Rosenfeld & Kolter (2019)'s own tables, as released in
their repository locuslab/smoothing (``analysis/latex/vary_noise_imagenet`` = paper Table 1,
``analysis/latex/vary_noise_cifar10`` = the CIFAR-10 appendix table, both written by their
``analyze.py`` from the files shipped in ``figures/data/cohen2019``). They are typed in from those
files, not from this code's output.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from scipy import stats

from smoothcert import figures as F
from smoothcert.bounds import certificate_class, certificates
from smoothcert.core.errors import BadInput
from smoothcert.figures import zoo as Z

from smoothcert.figures.results import _false_certificate_budget

# Cohen et al.'s released files ship as package data (no skip: every checkout and install has them).
DATA = F.COHEN_DATA

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


def test_clean_accuracy_matches_cohen_readme_r0_column():
    acc = [F.approximate_accuracy(DATA / f, [0.0])[0] for f in IMAGENET_FILES]
    assert [f"{a:.2f}" for a in acc] == [f"{a:.2f}" for a in PUBLISHED_IMAGENET_R0]


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
# Cohen et al.'s files are package data, found by every install
COHEN_FILES = sorted(IMAGENET_FILES + CIFAR_FILES + [
    "cifar10__resnet110__noise_0.12__test__sigma_0.50.tsv",
    "cifar10__resnet110__noise_0.25__test__sigma_0.50.tsv",
    "cifar10__resnet110__noise_1.00__test__sigma_0.50.tsv",
    "imagenet__resnet50__noise_0.25__test__sigma_0.50.tsv",
    "imagenet__resnet50__noise_0.50__train__sigma_0.50.tsv",
    "imagenet__resnet50__noise_1.00__test__sigma_0.50.tsv",
])


def test_cohen_files_are_package_data():
    """The 13 files, their README and SOURCE note are found through importlib.resources (as in
    an installed wheel), are the default data dir, and pyproject declares them package data."""
    import fnmatch
    import importlib.resources
    import tomllib

    root = importlib.resources.files("smoothcert.figures") / "data/cohen2019"
    names = sorted(p.name for p in root.iterdir())
    assert [n for n in names if n.endswith(".tsv")] == COHEN_FILES == sorted(F.COHEN_ALPHA)
    assert {"README.md", "SOURCE.md"} <= set(names)
    assert "locuslab/smoothing" in (root / "SOURCE.md").read_text()
    assert Path(str(root)) == F.COHEN_DATA
    pyproject = tomllib.loads((Path(F.__file__).parents[1] / "pyproject.toml").read_text())
    tools = pyproject["tool"]["setuptools"]
    assert "smoothcert.figures" in tools["packages"]
    globs = tools["package-data"]["smoothcert.figures"]
    for name in names:
        assert any(fnmatch.fnmatch(f"data/cohen2019/{name}", g) for g in globs), name


def test_docs_figures_draws_cohen_group_from_the_shipped_data(tmp_path, capsys):
    """Without --data-dir the cohen group draws from the package data (it was skipped, exit 0,
    wherever ../shared/data was absent); an explicit --data-dir that is no folder exits 2."""
    from smoothcert.cli import main

    written = F.docs_figures(tmp_path, groups=["cohen"])
    assert written == [tmp_path / f"{n}.png" for n in F.DOCS_GROUPS["cohen"]]
    assert "skipped" not in capsys.readouterr().err
    assert main(["figures", "--all", "--group", "cohen", "--data-dir", str(tmp_path / "absent"),
                 "--out", str(tmp_path)]) == 2
    assert "--data-dir must be an existing folder" in capsys.readouterr().err


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
        F.high_probability_accuracy(p, [0.0], 0.001, rho=1.5)
    with pytest.raises(ValueError, match="method"):
        F.high_probability_accuracy(p, [0.0], 0.001, method="hoeffding")
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

    for n, alpha, rho in [(500, 1e-3, 1e-3), (500, 0.01, 0.05), (2_000, 1e-3, 1e-3)]:
        q = round(_false_certificate_budget(n, alpha, rho, "binomial") * n)

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


# ---------------------------------------------------------------------------------------------
# Figures: each one drawn on small inputs, saved, and its plotted data checked
def _saved(tmp_path, name):
    png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    return png


def _lines(ax):
    return [l for l in ax.get_lines() if len(l.get_xdata()) > 2]


def test_certified_accuracy_figure_plots_the_curves(tmp_path):
    a = _results([0.1, 0.5, 0.9, 0.0], [1, 1, 0, 0])
    b = _results([0.3, 1.2, 0.0, 0.0], [1, 1, 0, 0])
    a.name, b.name = "a", "b"
    fig = F.certified_accuracy_figure([a, b], max_radius=1.5, step=0.05, variant="both",
                                      alpha=0.001, path=tmp_path / "acc")
    _saved(tmp_path, "acc")
    ax = fig.axes[0]
    lines = _lines(ax)
    assert len(lines) == 5  # approx + high-prob per file, and the envelope
    x = lines[0].get_xdata()
    np.testing.assert_array_equal(lines[0].get_ydata(), F.approximate_accuracy(a, x))
    np.testing.assert_array_equal(lines[-1].get_ydata(),
                                  np.maximum(F.approximate_accuracy(a, x), F.approximate_accuracy(b, x)))
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    with pytest.raises(ValueError, match="variant"):
        F.certified_accuracy_figure([a], variant="exact")


def test_certified_accuracy_figure_shows_cohen_curves(tmp_path):
    paths = [DATA / f for f in IMAGENET_FILES]
    fig = F.certified_accuracy_figure(paths, max_radius=4.0, path=tmp_path / "cohen")
    _saved(tmp_path, "cohen")
    curves = _lines(fig.axes[0])[:3]
    x = curves[0].get_xdata()
    for c in curves:  # at r = 0.5 (index 50 of the 0.01 grid) the published 0.49 / 0.46 / 0.38
        assert x[50] == pytest.approx(0.5)
    assert [f"{c.get_ydata()[50]:.2f}" for c in curves] == ["0.49", "0.46", "0.38"]


@given(st.sampled_from(["l1", "l2", "linf"]), st.sampled_from(["l1", "l2", "linf"]),
       st.integers(1, 50), st.integers(0, 2**31 - 1))
def test_ball_inclusion_factor_is_sound_and_tight(src, dst, dim, seed):
    c = F.ball_inclusion_factor(src, dst, dim)
    ords = {"l1": 1, "l2": 2, "linf": np.inf}
    d = np.random.default_rng(seed).standard_normal(dim)
    # {||d||_dst <= c R} inside {||d||_src <= R}: ||d||_src <= ||d||_dst / c
    assert np.linalg.norm(d, ords[src]) <= np.linalg.norm(d, ords[dst]) / c * (1 + 1e-12)
    worst = np.ones(dim) if ords[src] < ords[dst] else np.eye(dim)[0]
    ratio = np.linalg.norm(worst, ords[dst]) / np.linalg.norm(worst, ords[src])
    assert c == pytest.approx(ratio, rel=1e-12)  # no larger c is possible


def test_radius_vs_pa_figure_plots_registered_radii(tmp_path):
    import smoothcert as sc

    names = ["cohen-gaussian-l2", "not-a-certificate"]
    fig = F.radius_vs_pa_figure(names, std=0.5, shares=(None, 0.5), as_norm="l1", n_points=40,
                                path=tmp_path / "rvp")
    _saved(tmp_path, "rvp")
    assert any("not-a-certificate" in s for s in fig.skipped)
    (b_line,), (m_line,) = (_lines(ax) for ax in fig.axes[:2])
    pa = b_line.get_xdata()
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    np.testing.assert_array_equal(b_line.get_ydata(), cert.radius(pa))  # l2 as l1: factor 1
    np.testing.assert_array_equal(m_line.get_ydata(), cert.radius(pa, 0.5 * (1 - pa)))
    assert "l1" in b_line.get_label() and "\u2264" in b_line.get_label()
    with pytest.raises(ValueError, match="none of the certificates"):
        F.radius_vs_pa_figure(["nope"])
    with pytest.raises(ValueError, match="pa_range"):
        F.radius_vs_pa_figure(names, pa_range=(0.9, 0.5))
    with pytest.raises(ValueError, match="shares"):
        F.radius_vs_pa_figure(names, shares=(None, 1.5))


def test_radius_vs_pa_leaves_binary_theorems_out_of_multiclass_panels():
    import smoothcert as sc

    binary = [n for n in sc.certificates() if sc.bounds.certificate_class(n).binary_only]
    assert binary  # teng-laplace-l1-binary
    fig = F.radius_vs_pa_figure([binary[0], "cohen-gaussian-l2"], shares=(None, 0.3), dim=8,
                                n_points=30)
    assert len(_lines(fig.axes[0])) == 2 and len(_lines(fig.axes[1])) == 1


@given(st.lists(st.floats(0.05, 3.0), min_size=2, max_size=12), st.floats(0.51, 0.999))
def test_proxy_radius_is_at_least_the_enclosed_l2_radius(sigmas, pa):
    enc, prox = F.region_radii("ancer-ellipsoid", {"sigma": np.array(sigmas)}, [pa])
    gap = float(__import__("scipy").stats.norm.ppf(pa))
    assert enc[0] <= min(sigmas) * gap * (1 + 1e-12)  # never above the exact ball
    assert prox[0] >= enc[0] * (1 - 1e-12)  # geometric mean >= minimum
    assert prox[0] == pytest.approx(gap * math.exp(np.mean(np.log(sigmas))), rel=1e-9)


def test_proxy_and_volume_figures(tmp_path):
    import smoothcert as sc

    rng = np.random.default_rng(1)
    sig = np.exp(rng.uniform(-1, 0, 6))
    sig *= 0.5 / math.exp(np.log(sig).mean())  # geometric mean 0.5
    e, p = F.region_radii("ancer-ellipsoid", {"sigma": sig}, np.linspace(0.6, 0.99, 15))
    fig = F.proxy_vs_l2_figure(e, p, labels=["ellipsoid"], path=tmp_path / "proxy")
    _saved(tmp_path, "proxy")
    assert fig.axes[0].get_xlabel().startswith("certified")
    fig = F.region_volume_figure(["cohen-gaussian-l2", sc.get("ancer-ellipsoid", sigma=sig)],
                                 std=0.5, dim=6, n_points=30, path=tmp_path / "vol")
    _saved(tmp_path, "vol")
    ball, ell = _lines(fig.axes[0])
    # volume ~ prod of semi-axes: equal geometric means give equal volumes (ANCER Sec. 5.1)
    np.testing.assert_allclose(ball.get_ydata()[1:], ell.get_ydata()[1:], rtol=1e-9)
    with pytest.raises(ValueError):
        F.proxy_vs_l2_figure([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------------------------------
# Zhang et al. families
@pytest.mark.parametrize("family,dim,k,scale", [
    ("zhang-l2", 10, 0, 0.7), ("zhang-l2", 50, 30, 1.0), ("zhang-l1", 10, 4, 0.3),
    ("zhang-linf", 8, 0, 1.0), ("zhang-linf", 30, 10, 0.5),
])
def test_radial_density_integrates_to_one(family, dim, k, scale):
    s = np.linspace(1e-9, 60 * scale * dim, 400_001)
    dens = np.exp(F.radial_log_density(family, s, dim, k, scale))
    assert np.trapezoid(dens, s) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("family", ["zhang-l2", "zhang-l1", "zhang-linf"])
def test_radial_density_k0_matches_samples_of_the_plain_noise(family):
    """k = 0: the families are plain Gaussian / Laplace noise; compare with sampled norms."""
    from scipy import integrate

    rng = np.random.default_rng(7)
    d, scale = 6, 0.8
    z = rng.laplace(0, scale, (20_000, d)) if family == "zhang-l1" else rng.normal(0, scale, (20_000, d))
    ords = {"zhang-l2": 2, "zhang-l1": 1, "zhang-linf": np.inf}
    norms = np.linalg.norm(z, ords[family], axis=1)

    grid = np.linspace(1e-9, norms.max() * 1.5, 200_001)
    cum = integrate.cumulative_trapezoid(np.exp(F.radial_log_density(family, grid, d, 0, scale)),
                                         grid, initial=0.0)

    def cdf(t):
        return np.interp(t, grid, cum)

    assert stats.kstest(norms[:3000], cdf).pvalue > 1e-3


def test_dual_bound_k0_gaussian_equals_neyman_pearson():
    """Zhang et al. Cor. 2: with k = 0 the l2 family's bound is Cohen's Phi(Phi^-1(p) - r/sigma)."""
    for p, r in [(0.8, 0.3), (0.95, 1.0)]:
        lr = F.zhang_log_ratio_samples("zhang-l2", r, 12, 0, 1.0, n=200_000, seed=3)
        lam = np.linspace(0, 3 * np.quantile(np.exp(lr), p), 2000)
        got = F.dual_objective(lam, p, lr).max()
        assert got == pytest.approx(stats.norm.cdf(stats.norm.ppf(p) - r), abs=5e-3)


def test_dual_bound_k0_laplace_is_teng_binary_at_its_radius():
    """Teng et al. Thm 2-3 (tight): at r = -b log(2(1 - p)) the worst case is exactly 1/2."""
    b, p = 0.5, 0.9
    r = -b * math.log(2 * (1 - p))
    lr = F.zhang_log_ratio_samples("zhang-l1", r, 5, 0, b, n=200_000, seed=5)
    lam = np.linspace(0, 3 * np.quantile(np.exp(lr), p), 2000)
    assert F.dual_objective(lam, p, lr).max() == pytest.approx(0.5, abs=5e-3)


@given(st.floats(0.05, 0.95), st.integers(0, 2**16))
def test_dual_objective_is_concave_and_peaks_at_the_p_quantile(p, seed):
    lr = np.random.default_rng(seed).normal(0, 1, 2000)
    lam = np.linspace(0, 6, 601)
    obj = F.dual_objective(lam, p, lr)
    assert (np.diff(obj, 2) <= 1e-12).all()  # D is convex in lambda
    q = np.quantile(np.exp(lr), p, method="inverted_cdf")
    assert obj.max() == pytest.approx(F.dual_objective([q], p, lr)[0], abs=6 / 600 + 1e-12)


def test_zhang_figures(tmp_path):
    fig = F.radial_density_figure("zhang-l2", ks=(0, 5), dim=10, path=tmp_path / "rad")
    _saved(tmp_path, "rad")
    l0, l5 = _lines(fig.axes[0])
    peak = lambda l: l.get_xdata()[np.argmax(l.get_ydata())]  # noqa: E731
    assert peak(l5) < peak(l0)  # larger k moves mass towards the centre
    fig = F.dual_landscape_figure("zhang-l2", p=0.8, radii=(0.2,), dim=6, n=20_000,
                                  path=tmp_path / "dual")
    _saved(tmp_path, "dual")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="k must"):
        F.radial_log_density("zhang-l2", 1.0, 5, 5, 1.0)
    with pytest.raises(ValueError, match="family"):
        F.radial_log_density("zhang-l3", 1.0, 5, 0, 1.0)
    with pytest.raises(ValueError, match="zhang-l2 and zhang-l1"):
        F.zhang_log_ratio_samples("zhang-linf", 0.1, 5, 0, 1.0)


def test_zhang_figures_key_on_the_registered_noise_families():
    """Each Zhang family drawn is a registered noise family; its declared scale parameter names
    the figure's scale (sigma, or b for zhang-l1's ``scale``)."""
    from smoothcert.bounds.family import noise_family
    from smoothcert.figures.zhang import _RADIAL

    for family in _RADIAL:
        fig = F.radial_density_figure(family, ks=(0, 2), dim=6, scale=0.5)
        tex = {"sigma": r"\sigma", "scale": "b"}[noise_family(family).scale_param]
        assert f"${tex} = 0.5$" in fig.axes[0].get_title()


def test_rops_figure(tmp_path):
    fig = F.rops_figure(std=0.5, pa_range=(0.5, 0.99), n_points=200, path=tmp_path / "rops")
    _saved(tmp_path, "rops")
    ratio = _lines(fig.axes[1])[0]
    pa, y = ratio.get_xdata(), ratio.get_ydata()
    assert y[0] == pytest.approx(1 / math.sqrt(math.pi), rel=0.02)  # pA -> 1/2 limit
    assert (np.diff(y) > 0).all()
    b = 0.5 / math.sqrt(2)
    want = -b * np.log(2 * (1 - pa)) / (0.5 * stats.norm.ppf(pa))
    np.testing.assert_allclose(y, want, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Landscape slices with a tiny torch model
def _tiny_model(d=12, classes=3):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.Tanh(), torch.nn.Linear(16, classes))


def test_hessian_extreme_directions_match_eigendecomposition():
    torch = pytest.importorskip("torch")
    model = _tiny_model().double()
    x = torch.randn(12, dtype=torch.float64)
    f = lambda z: torch.softmax(model(z[None]), -1)[0, 1]  # noqa: E731
    h = torch.autograd.functional.hessian(f, x).numpy()
    ev = np.linalg.eigvalsh(h)
    from smoothcert.gpu_sampler.hessian import hessian_extreme_directions

    (lmax, vmax), (lmin, vmin) = hessian_extreme_directions(model, x, 1)
    assert lmax == pytest.approx(ev[-1], rel=1e-6, abs=1e-10)
    assert lmin == pytest.approx(ev[0], rel=1e-6, abs=1e-10)
    np.testing.assert_allclose(h @ vmax.numpy(), lmax * vmax.numpy(), atol=1e-6 * abs(ev).max())


def test_landscape_slice_figure_draws_regions(tmp_path):
    torch = pytest.importorskip("torch")
    import smoothcert as sc

    model = _tiny_model()
    x = torch.randn(12) * 0.3
    regs = [("ball", sc.get("cohen-gaussian-l2", sigma=0.3).region(0.9)),
            ("ellipsoid", sc.get("ancer-ellipsoid", sigma=np.linspace(0.1, 0.5, 12)).region(0.9))]
    for mode in ("random", "hessian"):
        fig = F.landscape_slice_figure(model, x, regions=regs, directions=mode, grid=21,
                                       path=tmp_path / f"slice_{mode}")
        _saved(tmp_path, f"slice_{mode}")
        assert "Hessian" in fig.axes[0].get_xlabel() if mode == "hessian" else "random" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="directions"):
        F.landscape_slice_figure(model, x, directions="pca")
    with pytest.raises(ValueError, match="target"):
        F.landscape_slice_figure(model, x, target=7)


def test_region_slice_norm_of_ball_is_the_plane_distance():
    import smoothcert as sc
    from smoothcert.figures.landscape import _region_slice_norm

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((9, 2)))
    u, v = q[:, 0], q[:, 1]
    a, b = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5))
    ball = sc.get("cohen-gaussian-l2", sigma=0.5).region(0.9)
    np.testing.assert_allclose(_region_slice_norm(ball, u, v, a, b), np.hypot(a, b) / 0.5, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# The command line: smoothcert figures
def test_cli_figures_from_tsv_writes_figure_and_tables(tmp_path, capsys):
    from smoothcert.cli import main

    a = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.6\t1\t1.0\n"
                         "1\t1\t-1\t0.0\t0\t1.0\n2\t3\t3\t0.2\t1\t0:00:01.5\n3\t0\t2\t0.9\t0\t1\n", "a.tsv")
    out = tmp_path / "out"
    rc = main(["figures", "--tsv", str(a), "--label", "mine", "--radii", "0,0.5", "--acr",
               "--out", str(out), "--variant", "both", "--alpha", "0.001"])
    assert rc == 0
    for ext in ("png", "pdf", "md", "tex"):
        assert (out / f"certified_accuracy.{ext}").stat().st_size > 0
    md = (out / "certified_accuracy.md").read_text()
    assert "| mine | 0.50 | 0.25 | 0.200 |" in md  # 2 of 4 correct; 1 at r >= 0.5; one row: no bold
    assert md in capsys.readouterr().out


def test_cli_figures_other_modes_and_errors(tmp_path, capsys):
    from smoothcert.cli import main

    assert main(["figures", "--radius-vs-pa", "--cert", "cohen-gaussian-l2", "--share", "0",
                 "--out", str(tmp_path)]) == 0
    assert main(["figures", "--zhang-density", "--dim", "10", "--ks", "0,3", "--out", str(tmp_path)]) == 0
    for name in ("radius_vs_pa", "zhang-l2_radial"):
        assert (tmp_path / f"{name}.png").exists()
    assert main(["figures", "--out", str(tmp_path)]) == 2
    assert "choose what to draw" in capsys.readouterr().err
    assert main(["figures", "--tsv", str(tmp_path / "missing.tsv")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["figures", "--help"])
    assert exc.value.code == 0 and "examples:" in capsys.readouterr().out


def test_dual_landscape_overlays_the_registered_sound_lower_bound():
    fig = F.dual_landscape_figure("zhang-l2", p=0.8, radii=(0.3,), dim=8, k=0, n=50_000)
    lines = {l.get_label(): l for l in fig.axes[1].get_lines()}
    sound = lines["zhang-l2.lower_bound (sound)"]
    mc = lines["max over $\\lambda$ (Monte Carlo)"]
    r = sound.get_xdata()
    exact = stats.norm.cdf(stats.norm.ppf(0.8) - r)  # Zhang et al. Cor. 2 (k = 0)
    assert (sound.get_ydata() <= exact + 1e-12).all()
    np.testing.assert_allclose(sound.get_ydata(), exact, atol=1e-6)
    np.testing.assert_allclose(mc.get_ydata(), exact, atol=1e-2)


def test_reads_the_sampler_tsv_format(tmp_path):
    """Rows written by smoothcert certify (gpu_sampler.dataset) load into tables and figures."""
    from types import SimpleNamespace

    ds = pytest.importorskip("smoothcert.gpu_sampler.dataset")
    run = {"certificate": "cohen-gaussian-l2", "n0": 100, "n": 1000, "alpha": 0.001,
           "rule": "binary", "precision": "float32", "seed": 0}
    rows = [(0, 3, SimpleNamespace(prediction=3, radius=0.61, p_a_lower=0.89, p_b_upper=0.11,
                                   counts_estimate=[0, 0, 0, 950, 50], counts_select=[0, 0, 0, 99, 1]), 1.5),
            (1, 2, SimpleNamespace(prediction=-1, radius=0.0, p_a_lower=0.4, p_b_upper=0.6,
                                   counts_estimate=[500, 0, 500, 0, 0], counts_select=[50, 0, 50, 0, 0]), 3725.25)]
    path = tmp_path / "run.tsv"
    path.write_text(ds.HEADER + "".join(ds.format_row(i, l, r, s, run) for i, l, r, s in rows))
    res = F.read_tsv(path)
    assert res.time.tolist() == [1.5, 3725.25]
    assert res.column("pA_lower").tolist() == [0.89, 0.4]
    assert list(res.extra["counts"]) == ["0,0,0,950,50", "500,0,500,0,0"]
    assert F.approximate_accuracy(res, [0.0, 0.6, 0.7]).tolist() == [0.5, 0.5, 0.0]


def test_cli_proxy_radius_column_and_high_probability_table(tmp_path, capsys):
    from smoothcert.cli import main

    p = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\ttime\tproxy_radius\n"
                         "0\t1\t1\t0.2\t1\t1\t0.9\n1\t1\t1\t0.4\t1\t1\t0.3\n", "ancer.tsv")
    out = tmp_path / "o"
    assert main(["figures", "--tsv", str(p), "--column", "proxy_radius", "--norm", "l1",
                 "--radii", "0.5", "--out", str(out)]) == 0
    assert "| ancer | 0.50 |" in (out / "certified_accuracy.md").read_text()  # one proxy >= 0.5
    assert main(["figures", "--tsv", str(p), "--variant", "high-probability", "--radii", "0",
                 "--alpha", "0.001", "--rho", "0.01", "--out", str(out)]) == 0
    # n = 2: P(Bin(2, 0.001) >= 1) = 0.002 <= 0.01, so no false certificate is budgeted: 1.00
    assert "| ancer | 1.00 |" in (out / "certified_accuracy.md").read_text()
    assert main(["figures", "--tsv", str(p), "--column", "nope", "--out", str(out)]) == 2
    assert "column='nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_docs_figures_quick_and_resume(tmp_path):
    written = F.docs_figures(tmp_path, quick=True)
    assert len(written) >= 8
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.with_suffix(".pdf").is_file()
    stamps = {p: p.stat().st_mtime_ns for p in written}
    again = F.docs_figures(tmp_path, quick=True, resume=True)
    assert set(written) <= set(again)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # nothing redrawn


def test_landscape_docs_figures_with_a_small_image_model(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    names = F.landscape_docs_figures(tmp_path, model, 0.5, image, quick=True)
    for name in names:
        _saved(tmp_path, name)


# ---------------------------------------------------------------------------------------------
# the sound column survives reading, and unsound rows never count
UNSOUND = "NO-UNSOUND_(per-input_parameters,_no_memory)"  # as gpu_sampler.memory.records_to_tsv writes it


def _memory_tsv(tmp_path, rows, name="mem.tsv"):
    """A TSV in the layout of gpu_sampler.memory.records_to_tsv: (radius, correct, sound) rows."""
    lines = ["idx\tlabel\tpredict\tradius\tproxy_radius\tcorrect\tprocedure\tsound\taction"]
    for i, (rad, cor, ok) in enumerate(rows):
        proc = "memory-based" if ok else "per-input-unsound"
        lines.append(f"{i}\t1\t{1 if cor else 2}\t{rad!r}\t{rad!r}\t{int(cor)}\t{proc}\t"
                     f"{'yes' if ok else UNSOUND}\tcertified")
    return _write(tmp_path, "\n".join(lines) + "\n", name)


@given(st.lists(st.tuples(st.floats(0, 3), st.booleans(), st.booleans()), min_size=1, max_size=30))
def test_unsound_rows_are_never_counted_in_a_sound_number(tmp_path_factory, rows):
    res = F.read_tsv(_memory_tsv(tmp_path_factory.mktemp("m"), rows))
    assert res.sound.tolist() == [ok for _, _, ok in rows] and "sound" not in res.extra
    radii = [0.0, 0.5, 1.0, 2.0]
    want = [sum(1 for rad, cor, ok in rows if ok and cor and rad >= r) / len(rows) for r in radii]
    np.testing.assert_allclose(F.approximate_accuracy(res, radii), want, rtol=0, atol=1e-15)
    acr = sum(rad for rad, cor, ok in rows if ok and cor) / len(rows)
    assert F.average_certified_radius(res) == pytest.approx(acr, rel=1e-12, abs=1e-300)
    hp = F.high_probability_accuracy(res, radii, alpha=0.001)
    assert (hp <= np.asarray(want) + 1e-15).all()


def test_unsound_results_keep_their_mark_in_tables_figures_and_the_cli(tmp_path, capsys):
    from smoothcert.cli import main

    p = _memory_tsv(tmp_path, [(1.0, True, True), (2.0, True, False), (0.0, False, True)])
    q = _memory_tsv(tmp_path, [(1.5, True, True), (0.5, True, True)], "clean.tsv")
    md = F.certified_accuracy_table([p, q], [0.0, 1.0], ["mem", "clean"])
    assert "| mem [1 unsound rows counted as abstentions] | 0.33 | 0.33 |" in md
    counted = F.certified_accuracy_table([p, q], [0.0, 1.0], ["mem", "clean"], include_unsound=True)
    # counted as reported: 2 of 3 correct; labelled UNSOUND and never bold, so the one sound row
    # has nothing to be best against either
    assert "| mem [UNSOUND (per-input parameters, no memory)] | 0.67 | 0.67 |" in counted
    assert "| clean | 1.00 | 0.50 |" in counted and "**" not in counted
    fig = F.certified_accuracy_figure([p], ["mem"], include_unsound=True)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "mem [UNSOUND (per-input parameters, no memory)]"
    out = tmp_path / "o"
    assert main(["figures", "--tsv", str(p), "--label", "mem", "--radii", "0", "--out", str(out)]) == 0
    assert "| mem [1 unsound rows counted as abstentions] | 0.33 |" in (out / "certified_accuracy.md").read_text()
    assert main(["figures", "--tsv", str(p), "--label", "mem", "--radii", "0", "--include-unsound",
                 "--out", str(out)]) == 0
    assert "UNSOUND (per-input parameters, no memory)" in (out / "certified_accuracy.md").read_text()
    bad = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\tsound\n0\t1\t1\t0.5\t1\tmaybe\n", "bad.tsv")
    with pytest.raises(ValueError, match="'sound'"):
        F.read_tsv(bad)


# ---------------------------------------------------------------------------------------------
# both variants tabulated, no bold in a one-row table, failing groups fail
@given(rows, st.lists(st.floats(0, 6), min_size=1, max_size=5), st.booleans())
def test_a_one_file_table_bolds_nothing(data, radii, acr):
    res = _results([d[0] for d in data], [d[1] for d in data])
    md = F.certified_accuracy_table([res], radii, ["only"], acr=acr)
    tex = F.certified_accuracy_table([res], radii, ["only"], "latex", acr=acr)
    assert "**" not in md and "textbf" not in tex


def test_cli_variant_both_writes_both_tables(tmp_path):
    from smoothcert.cli import main

    rows_ = "".join(f"{i}\t1\t1\t{0.1 * i}\t1\t1\t0.01\n" for i in range(40))
    p = _write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\ttime\talpha\n" + rows_, "run.tsv")
    out = tmp_path / "o"
    assert main(["figures", "--tsv", str(p), "--variant", "both", "--radii", "0,1", "--out", str(out)]) == 0
    approx = (out / "certified_accuracy.md").read_text()
    high = (out / "certified_accuracy_high_probability.md").read_text()
    assert "| run | 1.00 | 0.75 |" in approx
    want = F.high_probability_accuracy(F.read_tsv(p), [0.0, 1.0], alpha=0.01)  # the file's own alpha
    assert f"| run | {want[0]:.2f} | {want[1]:.2f} |" in high and want[0] < 1.0
    assert (out / "certified_accuracy_high_probability.tex").is_file()
    assert main(["figures", "--tsv", str(p), "--variant", "both", "--alpha", "0.001", "--out", str(out)]) == 2


def test_docs_figures_fails_when_a_group_raises(tmp_path, monkeypatch, capsys):
    from smoothcert.cli import main

    def broken(*args, **kwargs):
        raise ValueError("a bug in a figure")

    from smoothcert.figures import jobs

    monkeypatch.setattr(jobs, "rops_figure", broken)  # the name docs_figures' rops group calls
    with pytest.raises(F.FigureGroupsFailed, match="rops .*a bug in a figure"):
        F.docs_figures(tmp_path, groups=["rops"])
    assert "Traceback" in capsys.readouterr().err
    with pytest.raises(F.FigureGroupsFailed):
        main(["figures", "--all", "--group", "rops", "--out", str(tmp_path)])
    # a missing optional input is a skip, not a failure
    assert F.docs_figures(tmp_path, data_dir=tmp_path / "absent", groups=["cohen"]) == []
    assert "cohen: skipped, input missing" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# each of Cohen et al.'s files carries its own alpha
def _reachable_radii(alpha, n=100_000):
    """Every radius CERTIFY can print at this alpha, in sigma units: Phi^-1 of the one-sided
    Clopper-Pearson lower bound B(alpha; k, n - k + 1) for k with a positive radius (sorted)."""
    k = np.arange(n // 2, n + 1)
    r = stats.norm.ppf(stats.beta.ppf(alpha, k, n - k + 1))
    return np.sort(r[r > 0])


def _consistent(printed, sigma, reach):
    """Whether each printed radius (3 significant digits, as Cohen's certify.py writes them)
    is the rounding of some reachable radius."""
    v = np.asarray(printed, float)
    half = 0.5 * 10.0 ** (np.floor(np.log10(v)) - 2)
    lo = np.searchsorted(reach * sigma, v - half, side="left")
    hi = np.searchsorted(reach * sigma, v + half, side="right")
    return hi > lo


def test_cohen_alpha_table_is_what_the_released_files_show():
    reach = {a: _reachable_radii(a) for a in (0.001, 0.01)}
    assert reach[0.001][-1] == pytest.approx(3.8115, abs=1e-4) and reach[0.01][-1] == pytest.approx(3.9105, abs=1e-4)
    files = sorted(DATA.glob("*.tsv"))
    assert sorted(F.COHEN_ALPHA) == [p.name for p in files]
    proven_001 = 0
    for path in files:
        res = F.read_tsv(path)
        sigma = float(path.stem.split("sigma_")[1])
        printed = np.unique(res.radius[(res.predict != -1) & (res.radius > 0)])
        fits = {a: _consistent(printed, sigma, reach[a]).all() for a in reach}
        assert fits[F.COHEN_ALPHA[path.name]], path.name  # every row reachable at the recorded alpha
        # the recorded alpha is the largest one that fits (the safe side for the budget)
        assert F.COHEN_ALPHA[path.name] == max(a for a, ok in fits.items() if ok), path.name
        assert res.alpha == F.COHEN_ALPHA[path.name]
        proven_001 += not fits[0.001]
    assert proven_001 == 9
    im = F.read_tsv(DATA / "imagenet__resnet50__noise_0.25__test__sigma_0.25.tsv")
    assert im.radius.max() == 0.978 and 0.978 / 0.25 > reach[0.001][-1] * (1 + 1e-3)


def test_high_probability_accuracy_uses_each_files_own_alpha():
    path = DATA / IMAGENET_FILES[1]  # ImageNet sigma = 0.50: alpha = 0.01
    own = F.high_probability_accuracy(path, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(own, F.high_probability_accuracy(path, [0.0, 0.5, 1.0], alpha=0.01))
    old = F.approximate_accuracy(path, [0.0]) - _false_certificate_budget(500, 0.001, 0.001, "binomial")
    assert old[0] - own[0] == pytest.approx(0.018, abs=1e-12)  # what alpha = 0.001 overstated
    with pytest.raises(ValueError, match="certified at alpha=0.01"):
        F.high_probability_accuracy(path, [0.0], alpha=0.001)
    table = F.certified_accuracy_table([path], [0.0], ["s"], variant="high-probability")
    assert f"| s | {own[0]:.2f} |" in table
    fig = F.certified_accuracy_figure([path], ["s"], variant="both")
    assert any("$\\alpha$=0.01" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


# ---------------------------------------------------------------------------------------------
# the noise zoo (figures/zoo.py): discovery, tables, the l_inf radius against d

#: Certificates registered when the zoo figures were written: each must be drawn (not skipped).
ZOO_NOW = {"l1": {"teng-laplace-l1-binary", "uniform-l1", "yang-expinf-l1", "yang-pareto-l1",
                  "yang-powinf-l1", "zhang-l1"},
           "l2": {"cohen-gaussian-l2", "yang-uniform-ball-l2", "yang-exp2-l2", "zhang-l2"},
           "linf": {"yang-uniform-linf", "yang-laplace-linf", "yang-expinf-linf", "zhang-linf"}}


def _phi_inv(p):
    return mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(p) - 1)


def _exact(name, p, d=784, std=0.5):
    """Radii at per-coordinate std 0.5 from the papers' closed forms, in mpmath at 50 digits (no
    smoothcert code)."""
    with mpmath.workdps(50):
        p, s = mpmath.mpf(p), mpmath.mpf(std)
        lam = s * mpmath.sqrt(3)  # uniform half-width with std s
        return +{"cohen-gaussian-l2": s * _phi_inv(p),                                       # Cohen Thm 1
                 "teng-laplace-l1-binary": -(s / mpmath.sqrt(2)) * mpmath.log(2 * (1 - p)),  # Teng Thm 2
                 "uniform-l1": lam * (2 * p - 1),                                            # Yang et al.
                 "yang-uniform-linf": 2 * lam * (1 - (mpmath.mpf(3) / 2 - p) ** (mpmath.mpf(1) / d))}[name]


@pytest.fixture(scope="module")
def zoo_curves():
    return {norm: Z.zoo_curves(norm, n_points=5, variants={}) for norm in Z.NORMS}


def test_zoo_discovers_every_registered_certificate_once_per_norm(zoo_curves):
    for norm, (curves, skipped) in zoo_curves.items():
        drawn = [n for c in curves for n in c.names]
        assert len(drawn) == len(set(drawn)) and {c.norm for c in curves} == {norm}
        assert ZOO_NOW[norm] <= set(drawn), norm
        mine = {n for n in certificates() if certificate_class(n).norm == norm}
        reasons = [w.split(":")[0] for w in skipped]
        assert mine == set(drawn) | set(reasons), norm  # every one drawn, or skipped with its reason
    gauss = next(c for c in zoo_curves["l2"][0] if "cohen-gaussian-l2" in c.names)
    assert {"ars-gaussian-l2", "yang-exp2-l2", "zhang-l2"} <= set(gauss.names)  # equal curves merged
    assert "yang-uniform-ball-l2" not in gauss.names


def test_zoo_table_pins_radii_to_closed_forms_and_never_exceeds_them(zoo_curves):
    pas = (0.6, 0.99)
    for norm, name in (("l2", "cohen-gaussian-l2"), ("l1", "teng-laplace-l1-binary"),
                       ("l1", "uniform-l1"), ("linf", "yang-uniform-linf")):
        curves = zoo_curves[norm][0]
        table = Z.radius_table(curves, pas, std=0.5, dim=784)
        assert f"Certified {norm} radius" in table and "**" not in table  # no "best" cell
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
        cells = [float(v) for v in row.split("|")[3:5]]
        cert = next(c.cert for c in curves if c.names[0] == name)
        for p, cell in zip(pas, cells):
            exact, ours = _exact(name, p), cert.radius(p)
            assert ours <= exact and float(abs(ours - exact) / exact) < 1e-12, (name, p)
            assert cell == pytest.approx(float(exact), rel=5e-4), (name, p)  # 4 significant digits


def test_radius_table_refuses_to_mix_norms(zoo_curves):
    mixed = [zoo_curves["l1"][0][0], zoo_curves["l2"][0][0]]
    with pytest.raises(BadInput, match="different norms"):
        Z.radius_table(mixed, (0.9,))
    with pytest.raises(BadInput, match="norm must be one of"):
        Z.zoo_curves("l3")


def test_linf_against_dimension_converts_and_builds_at_each_dimension():
    names = ["cohen-gaussian-l2", "yang-uniform-linf", "teng-laplace-l1-binary", "uniform-l1"]
    curves, _ = Z.linf_dimension_curves(pa=0.99, dims=(16, 64), names=names)
    by = {n: c for c in curves for n in c.names}
    gauss, cube = by["cohen-gaussian-l2"], by["yang-uniform-linf"]
    assert gauss.norm == "l2" and cube.norm == "linf" and by["teng-laplace-l1-binary"].norm == "l1"
    for d, r in zip(gauss.dims, gauss.radius):  # l2 radius / sqrt(d), rounded down
        exact = _exact("cohen-gaussian-l2", 0.99) / mpmath.sqrt(int(d))
        assert r <= exact and float(abs(r - exact) / exact) < 1e-12
    for d, r in zip(cube.dims, cube.radius):  # the direct certificate at that d, not its default 784
        exact = _exact("yang-uniform-linf", 0.99, d=int(d))
        assert r <= exact and float(abs(r - exact) / exact) < 1e-12
    assert Z.slope(gauss) == pytest.approx(-0.5, abs=1e-9)
    assert Z.slope(by["teng-laplace-l1-binary"]) == pytest.approx(-1.0, abs=1e-9)
    thin, _ = Z.linf_dimension_curves(pa=0.99, dims=(16, 32, 64), seconds_per_dim=0.0, names=names)
    assert len(thin) == 4 and all(list(c.dims) == [16, 64] and "2 dims" in c.note for c in thin)
    assert F.DOCS_GROUPS["zoo"] == ["zoo_radius_l1", "zoo_radius_l2", "zoo_radius_linf", "zoo_linf_vs_dim"]
