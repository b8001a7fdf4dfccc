"""Top-k certification (Jia, Cao, Wang & Gong, ICLR 2020): the certificate jia-gaussian-topk-l2,
the top-k mode of certify_counts and ``smoothcert certify --top-k``.

The reference radius here is written from the paper's Theorem 1 alone (plain bisection on the
equation in mpmath, Phi^-1 through erfinv); it shares no code with smoothcert.bounds.topk.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.estimators.certify import certify_counts

NAME = "jia-gaussian-topk-l2"
FAST = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


def reference_radius(sigma, k, p_l, others, dps=30):
    """Theorem 1 solved by bisection: the largest R with
    Phi(Phi^-1(p_l) - R/sigma) > min_t Phi(Phi^-1(pbar_{S_t}) + R/sigma) / t, where S_t are the
    t smallest of the k largest upper bounds and pbar_{S_t} is capped by 1 - p_l."""
    with mp.workdps(dps):
        pl = mp.mpf(float(p_l))
        gamma = sorted((mp.mpf(float(v)) for v in others), reverse=True)[:k]
        sums = [min(mp.fsum(gamma[k - t:]), 1 - pl) for t in range(1, k + 1)]

        def inv(p):
            return mp.sqrt(2) * mp.erfinv(2 * p - 1)

        a = inv(pl) if pl > 0 else mp.ninf
        terms = [(t, inv(s)) for t, s in zip(range(1, k + 1), sums) if s > 0]
        if len(terms) < k:  # some pbar_{S_t} = 0: the minimum is 0 for every R
            return mp.inf if pl > 0 else mp.mpf(0)

        def margin(x):
            return mp.ncdf(a - x) - min(mp.ncdf(b + x) / t for t, b in terms)

        if margin(mp.mpf(0)) <= 0:
            return mp.mpf(0)
        lo, hi = mp.mpf(0), mp.mpf(1)
        while margin(hi) > 0:
            lo, hi = hi, 2 * hi
        for _ in range(4 * dps):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if margin(mid) > 0 else (lo, mid)
        return mp.mpf(sigma) * lo


@st.composite
def topk_case(draw, min_p=0.02):
    """(k, p_l, others): k in 1..4, p_l and c - 1 >= k upper bounds, away from the far tails
    (the reference's erfinv is plain), the caps by 1 - p_l sometimes active."""
    k = draw(st.integers(1, 4))
    m = draw(st.integers(k, 7))
    p_l = draw(st.floats(min_p, 0.97))
    others = draw(st.lists(st.floats(1e-4, 0.6), min_size=m, max_size=m))
    return k, p_l, others


@FAST
@given(topk_case(), st.floats(0.05, 5.0))
def test_radius_matches_independent_reference_never_above(case, sigma):
    k, p_l, others = case
    cert = sc.get(NAME, sigma=sigma, k=k)
    ref = reference_radius(sigma, k, p_l, others)
    r = cert.radius(p_l, others)
    assert mp.mpf(r) <= ref, (k, p_l, others, r, ref)
    # relative 1e-11, or an absolute 1e-13 sigma where the root is small (the bisection works on
    # the unit radius, to about 1e-14 absolute)
    assert abs(mp.mpf(r) - ref) <= 1e-11 * ref + 1e-13 * sigma, (k, p_l, others, r, ref)
    twin = cert.radius_mp(p_l, others)
    assert abs(twin - ref) <= mp.mpf(10) ** -20 * ref, (twin, ref)


@pytest.mark.parametrize("k, p_l, others", [
    (2, 0.4, [0.3, 0.2, 0.1]),          # Gamma_2 = {0.3, 0.2}: S_1 = {0.2}, S_2 sums to 0.5
    (3, 0.25, [0.25, 0.2, 0.15, 0.15]),
    (2, 0.9, [0.3, 0.3]),               # both caps 1 - p_l = 0.1 active
    (5, 0.3, [0.1] * 9),
])
def test_pinned_values(k, p_l, others):
    """Worst-case style points, pinned against the independent reference at 50 digits."""
    cert = sc.get(NAME, sigma=0.5, k=k)
    ref = reference_radius(0.5, k, p_l, others, dps=50)
    r = cert.radius(p_l, others)
    assert mp.mpf(r) <= ref and abs(mp.mpf(r) - ref) <= 1e-12 * ref
    assert abs(cert.radius_mp(p_l, others) - ref) <= mp.mpf(10) ** -40 * ref


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(0.0, 1.0), st.lists(st.floats(0.0, 1.0), min_size=3, max_size=6),
       st.integers(1, 3), st.sampled_from([1e-6, 1.0, 1e6]))
def test_never_above_twin_over_the_whole_range(p_l, raw, k, sigma):
    """Upper bounds anywhere in [0, 1] (caps active, zeros, subnormals via the scaling) and p_l
    anywhere: never above the twin, never NaN, finite where the twin is."""
    others = [v * v * 1e-300 if i == 0 else v for i, v in enumerate(raw)]
    cert = sc.get(NAME, sigma=sigma, k=k)
    r, exact = cert.radius(p_l, others), cert.radius_mp(p_l, others)
    assert isinstance(r, float) and not math.isnan(r) and r >= 0.0
    assert mp.mpf(r) <= exact, (p_l, others, k, r, exact)
    if mp.isfinite(exact):
        assert math.isfinite(r)
        assert abs(mp.mpf(r) - exact) <= 1e-9 * exact + 1e-300 * sigma, (p_l, others, k, r, exact)


# -- the k = 1 reduction ------------------------------------------------------------------------
@FAST
@given(st.floats(0.0, 1.0), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6), st.floats(1e-3, 1e3))
def test_k1_is_cohen_multiclass_radius(p_a, raw, sigma):
    """k = 1: R = sigma/2 (Phi^-1(pA) - Phi^-1(pB)) with pB the largest other upper bound
    (capped by 1 - pA), equal to cohen-gaussian-l2 to rounding, in float and in mpmath."""
    others = [v * (1.0 - p_a) for v in raw]
    top1 = sc.get(NAME, sigma=sigma, k=1)
    cohen = sc.get("cohen-gaussian-l2", sigma=sigma)
    p_b = max(others)
    exact = cohen.radius_mp(p_a, p_b)
    mine = top1.radius_mp(p_a, others)
    assert (mp.isinf(exact) and mp.isinf(mine)) or abs(mine - exact) <= mp.mpf(10) ** -30 * exact
    r, rc = top1.radius(p_a, others), cohen.radius(p_a, p_b)
    assert r == rc or abs(r - rc) <= 1e-13 * rc


def test_scalar_and_binary_p_b_mean_one_runner_up():
    cert = sc.get(NAME, sigma=0.25)
    cohen = sc.get("cohen-gaussian-l2", sigma=0.25)
    assert cert.radius(0.8, 0.1) == cohen.radius(0.8, 0.1)
    assert cert.radius(0.8) == cohen.radius(0.8)
    assert cert.radius(0.8, [0.1, 0.05, 0.02]) == cohen.radius(0.8, 0.1)


# -- shape of the bound -------------------------------------------------------------------------
@FAST
@given(topk_case(min_p=0.0))
def test_monotone_in_p_a_p_b_and_k(case):
    k, p_l, others = case
    cert = sc.get(NAME, sigma=1.0, k=k)
    r = cert.radius(p_l, others)
    tol = 1 + 1e-12
    up = min(1.0, p_l + 0.05)
    assert cert.radius(up, others) * tol >= r
    for i in range(len(others)):
        raised = list(others)
        raised[i] = min(1.0, raised[i] * 1.5 + 0.01)
        assert cert.radius(p_l, raised) <= r * tol
    if k < len(others):
        assert sc.get(NAME, sigma=1.0, k=k + 1).radius(p_l, others) * tol >= r


def test_order_of_p_b_does_not_matter_and_vectorized():
    cert = sc.get(NAME, sigma=0.5, k=3)
    others = np.array([[0.2, 0.05, 0.1, 0.15], [0.3, 0.01, 0.02, 0.2]])
    p_l = np.array([0.45, 0.4])
    r = cert.radius(p_l, others)
    assert r.shape == (2,)
    for i in range(2):
        assert r[i] == cert.radius(p_l[i], others[i][::-1].tolist())
    assert cert.radius(0.45, others[0]) == cert.radius(0.45, others[:1])[0]


def test_zero_upper_bound_in_gamma_certifies_everything():
    """A label of Gamma_k with upper bound 0 cannot outrank l: the exact radius is infinite."""
    cert = sc.get(NAME, sigma=0.5, k=3)
    assert cert.radius(0.3, [0.4, 0.2, 0.0]) == math.inf
    assert mp.isinf(cert.radius_mp(0.3, [0.4, 0.2, 0.0]))
    assert cert.radius(0.0, [0.4, 0.2, 0.0]) == 0.0


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, word", [
    ({"sigma": 0.5, "k": 0}, ValueError, "k"),
    ({"sigma": 0.5, "k": 1.5}, TypeError, "k"),
    ({"sigma": 0.5, "k": "2"}, TypeError, "k"),
    ({"sigma": -1.0, "k": 2}, ValueError, "sigma"),
    ({"sigma": [0.5, 0.5], "k": 2}, ValueError, "sigma"),
])
def test_bad_parameters(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        sc.get(NAME, **kwargs)


@pytest.mark.parametrize("p_a, p_b, exc, word", [
    (0.6, 0.1, ValueError, "p_b"),                  # one runner-up but k = 2
    (0.6, None, ValueError, "p_b"),                 # binary but k = 2
    (0.6, [0.1], ValueError, "p_b"),                # fewer than k bounds
    (0.6, [0.1, float("nan")], ValueError, "p_b"),
    (0.6, [0.1, 1.5], ValueError, "p_b"),
    (0.6, [0.1, -0.1], ValueError, "p_b"),
    (1.2, [0.1, 0.1], ValueError, "p_a"),
    ([0.6, 0.5, 0.4], [[0.1, 0.1], [0.1, 0.1]], ValueError, "p_a"),
    (0.6, ["a", "b"], TypeError, "p_b"),
])
def test_bad_probabilities(p_a, p_b, exc, word):
    cert = sc.get(NAME, sigma=0.5, k=2)
    with pytest.raises(exc, match=word):
        cert.radius(p_a, p_b)


# -- certify_counts top-k mode -------------------------------------------------------------------
def _true_radius(cert, p, label):
    others = [float(v) for i, v in enumerate(p) if i != label]
    return cert.radius_mp(float(p[label]), others)


@pytest.mark.parametrize("mode", ["labels", "select", "same-counts"])
def test_topk_counts_simultaneous_bounds_cover(mode):
    """Monte Carlo (fixed seed): with probability >= 1 - alpha every reported radius is at most
    the radius of the TRUE probabilities (and every bound holds). alpha = 0.2, 600 trials."""
    rng = np.random.default_rng(12345)
    p = np.array([0.34, 0.3, 0.2, 0.1, 0.06])
    cert = sc.get(NAME, sigma=1.0, k=2)
    trials, n, alpha = 600, 300, 0.2
    counts = rng.multinomial(n, p, size=trials)
    select = rng.multinomial(30, p, size=trials)
    if mode == "labels":
        label = np.full(trials, 1)
        pred, radius, lo, _ = certify_counts(counts, cert, alpha, top_k=2, labels=label,
                                             return_bounds=True)
        exact = float(_true_radius(cert, p, 1))
        bad = (radius > exact) | (lo > p[1])
        assert (pred[radius > 0] == 1).all()
    else:
        sel = select if mode == "select" else None
        cset, radii, lo, _ = certify_counts(counts, cert, alpha, select=sel, top_k=2,
                                            return_bounds=True)
        exact = np.array([float(_true_radius(cert, p, j)) for j in range(5)])
        cand = np.argsort(-(counts if sel is None else sel), axis=1, kind="stable")[:, :2]
        bad = ((radii > exact[cand]) | (lo > p[cand])).any(axis=1)
        assert ((cset == cand) | (cset == -1)).all()
    # the binomial upper tail at 600 trials: 0.2 + 4 standard deviations
    assert bad.mean() <= alpha + 4 * math.sqrt(alpha * (1 - alpha) / trials), bad.mean()
    assert (radius if mode == "labels" else radii).max() > 0  # it certifies something


def test_topk_counts_shapes_and_scalars():
    cert = sc.get(NAME, sigma=0.5, k=2)
    counts = np.array([500, 300, 150, 50])
    label, radius = certify_counts(counts, cert, 0.001, top_k=2, labels=1)
    assert isinstance(label, int) and isinstance(radius, float) and label == 1 and radius > 0
    cset, radii = certify_counts(counts, cert, 0.001, top_k=2)
    assert cset.shape == radii.shape == (2,) and list(cset) == [0, 1]


def test_topk_counts_zero_rows():
    """(0, c) counts give empty results, as the plain mode does (was an internal reshape error)."""
    cert = sc.get(NAME, sigma=0.5, k=2)
    empty = np.zeros((0, 4), dtype=np.int64)
    cset, radii = certify_counts(empty, cert, 0.001, top_k=2)
    assert cset.shape == radii.shape == (0, 2)
    label, radius = certify_counts(empty, cert, 0.001, top_k=2, labels=np.zeros(0, np.int64))
    assert label.shape == radius.shape == (0,)


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"top_k": 3}, ValueError, "k=3"),                        # cert has k = 2
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": 4}, ValueError, "top_k"),                      # not below c = 4
    ({"top_k": 2, "labels": [4]}, ValueError, "labels"),
    ({"top_k": 2, "labels": [0, 1]}, ValueError, "labels"),
    ({"top_k": 2, "labels": [0], "select": [[1, 2, 3, 4]]}, ValueError, "select"),
    ({"labels": [0]}, ValueError, "top_k"),
    ({"top_k": 2, "select": [1, 2, 3]}, ValueError, "select"),  # was numpy's reshape error
])
def test_topk_counts_bad_input(kwargs, exc, word):
    cert = sc.get(NAME, sigma=0.5, k=2)
    with pytest.raises(exc, match=word):
        certify_counts(np.array([[500, 300, 150, 50]]), cert, 0.001, **kwargs)


# -- the command line on a shipped model ---------------------------------------------------------
def test_cli_certify_top_k_end_to_end(tmp_path):
    """``smoothcert certify --top-k 3`` on the shipped Gaussian model, 3 embedded images, tiny n:
    one row per image, the true label's radius equals certify_counts on the written counts, and
    the top-k accuracy table and figure read the file."""
    from smoothcert.cli import main
    from smoothcert.figures.results import read_tsv
    from smoothcert.figures.topk import topk_accuracy_figure, topk_accuracy_table

    out = tmp_path / "top3.tsv"
    rc = main(["certify", "--model", "fmnist-gaussian-0.25", "--split", "embedded", "--n0", "8",
               "--n", "64", "--max", "3", "--top-k", "3", "--device", "cpu", "--no-progress",
               "--out", str(out)])
    assert rc == 0
    res = read_tsv(out)
    assert len(res) == 3
    cert = sc.get(NAME, sigma=0.25, k=3)
    for i in range(3):
        est = np.array([int(v) for v in res.extra["counts"][i].split(",")])
        assert est.sum() == 64
        label, radius = certify_counts(est, cert, 0.001, top_k=3, labels=int(res.label[i]))
        assert radius == res.radius[i] and (label >= 0) == bool(res.correct[i])
    table = topk_accuracy_table([res], radii=[0.0, 0.25])
    assert table.splitlines()[2].startswith("| top-3 |")
    topk_accuracy_figure([res], path=tmp_path / "fig")
    assert (tmp_path / "fig.png").exists()


def _topk_file(path, k, rows):
    """A tiny top-k result file (the Cohen columns plus ``k``), rows of (label, predict, radius)."""
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime\tk"]
    for i, (label, pred, radius) in enumerate(rows):
        lines.append(f"{i}\t{label}\t{pred}\t{radius}\t{int(pred == label)}\t0:00:01\t{k}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_cli_figures_topk_tsv_draws_the_figure_and_table(tmp_path, capsys):
    """``smoothcert figures --topk-tsv``: one table row per file with the hand-counted fraction of
    rows certified at radius >= r; a Cohen file without the k column is refused with exit 2."""
    from smoothcert.cli import main

    top1 = _topk_file(tmp_path / "top1.tsv", 1, [(3, 3, 0.1), (4, 4, 0.6), (5, -1, 0.0)])
    top2 = _topk_file(tmp_path / "top2.tsv", 2, [(3, 3, 0.3), (4, 4, 0.8), (5, 5, 0.2)])
    out = tmp_path / "figs"
    assert main(["figures", "--topk-tsv", top1, top2, "--radii", "0,0.5", "--out", str(out)]) == 0
    table = (out / "topk_accuracy.md").read_text()
    assert table.splitlines()[2:] == ["| top-1 | 0.667 | 0.333 |", "| top-2 | 1.000 | 0.333 |"]
    assert (out / "topk_accuracy.png").stat().st_size > 0 and (out / "topk_accuracy.pdf").exists()
    assert table in capsys.readouterr().out

    cohen = tmp_path / "cohen.tsv"
    cohen.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t0:00:01\n")
    assert main(["figures", "--topk-tsv", top1, str(cohen), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a top-k result file" in err and len(err.splitlines()) == 1
    assert main(["figures", "--topk-tsv", str(tmp_path / "absent.tsv"), "--out", str(out)]) == 2


def test_cli_top_k_refuses_non_gaussian_noise(tmp_path, capsys):
    from smoothcert.cli import main

    rc = main(["certify", "--model", "fmnist-laplace-0.50", "--split", "embedded", "--n0", "8",
               "--n", "16", "--max", "1", "--top-k", "2", "--device", "cpu", "--no-progress",
               "--out", str(tmp_path / "x.tsv")])
    assert rc == 2 and "--top-k" in capsys.readouterr().err


# -- resumable top-k runs (gpu_sampler/topk_dataset.py on dataset.py's machinery) -----------------
def _topk_run(tmp_path, out, k=2, model=None, **options):
    import torch

    from smoothcert.gpu_sampler.topk_dataset import certify_topk_dataset

    w = torch.randn(5, 16, generator=torch.Generator().manual_seed(11))
    model = model or (lambda x: 4.0 * (x.flatten(1) - 0.5) @ w.T)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 5, size=5)
    kw = dict(n0=16, n=200, alpha=0.01, batch_size=256, seed=4, progress=False)
    return certify_topk_dataset(model, sc.get(NAME, sigma=0.5, k=k), images, labels,
                                tmp_path / out, **{**kw, **options})


def _without_time(path):
    lines = open(path).read().splitlines()
    assert lines and len(lines) == len(set(lines))
    return [line.split("\t")[:5] + line.split("\t")[6:] for line in lines]


def test_topk_run_resumes_after_an_interruption_to_the_uninterrupted_file(tmp_path):
    """The top-k TSV used to be written once at the end: an interruption lost every row. Now the
    rows are appended as they are made; a run killed after two inputs (and inside a third row's
    write) resumes to the file of one uninterrupted run, with its run record beside it."""
    import json

    whole = _topk_run(tmp_path, "whole.tsv")
    calls = {"n": 0}
    w = __import__("torch").randn(5, 16, generator=__import__("torch").Generator().manual_seed(11))

    def dies_on_the_fifth_call(x):  # two calls per input (selection, estimation)
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return 4.0 * (x.flatten(1) - 0.5) @ w.T

    out = tmp_path / "cut.tsv"
    with pytest.raises(KeyboardInterrupt):
        _topk_run(tmp_path, "cut.tsv", model=dies_on_the_fifth_call)
    assert len(open(out).read().splitlines()) == 3  # header + 2 rows survived
    with open(out, "a") as f:
        f.write("2\t1\t-1\t0.0")  # a kill inside a write leaves a partial line
    _topk_run(tmp_path, "cut.tsv")
    assert _without_time(out) == _without_time(whole)
    record = json.load(open(str(out) + ".json"))
    assert record["mode"] == "top-k" and record["k"] == 2 and record["certificate"]["params"]["k"] == 2


@pytest.mark.parametrize("change, named", [
    (dict(k=3), "k: file 2, this run 3"),
    (dict(n=300), "n: file 200, this run 300"),
    (dict(precision="float64"), "precision: file 'float32', this run 'float64'"),
])
def test_topk_resume_with_another_setting_is_refused(tmp_path, change, named):
    from smoothcert.core.errors import BadInput

    _topk_run(tmp_path, "r.tsv", max_count=2)
    before = open(tmp_path / "r.tsv").read()
    with pytest.raises(BadInput, match=named):
        _topk_run(tmp_path, "r.tsv", **change)
    assert open(tmp_path / "r.tsv").read() == before
