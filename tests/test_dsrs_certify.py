"""Double-sampling CERTIFY end to end (Li et al. 2022, DSRS): the counts-level rule (alpha/2 per
bound, the class chosen by the selection counts), ``smoothcert certify --cert dsrs-gaussian-l2``
on a shipped model and on a user's ``module:factory`` model with ``.npz`` data (the extra TSV
columns, the radius equal to the certificate's radius of the written bounds, the run record and a
refused resume), and the options that do not apply."""

import json

import numpy as np
import pytest
from scipy.stats import beta, binom

import smoothcert as sc
from smoothcert import cli
from smoothcert.gpu_sampler import dataset as DS
from smoothcert.gpu_sampler.double_sampling import certify_counts_double, takes_second_sample


def _cp_lower_scipy(k, n, level):
    """Clopper-Pearson lower bound straight from SciPy (the estimator rounds it down a little)."""
    return 0.0 if k == 0 else float(beta.ppf(level, k, n - k + 1))


def _at_level(bound, k, n, level):
    """``bound`` is a one-sided lower bound at ``level`` for k of n: P(Bin(n, bound) >= k) is at
    most ``level`` and within 1% of it (alpha/2, not alpha)."""
    tail = binom.sf(k - 1, n, bound)
    return 0.99 * level <= tail <= level * (1 + 1e-9)


def _check_rows(path, alpha, ball_mass, dim, sigma):
    """Every row: the DSRS columns, bounds at alpha/2 from the written counts, and the radius the
    certificate gives for the written (pA_lower, qA_lower)."""
    rows = DS.read_rows(path)
    assert rows and all(r["mode"] == "double" for r in rows)
    cert = sc.get("dsrs-gaussian-l2", sigma=sigma, dim=dim, ball_mass=ball_mass)
    for r in rows:
        cp, cq, cs = (np.array([int(v) for v in r[k].split(",")])
                      for k in ("counts", "counts_q", "counts_select"))
        n = int(r["n"])
        assert cp.sum() == n and cq.sum() == n and cs.sum() == int(r["n0"])
        assert int(r["samples"]) == int(r["n0"]) + 2 * n
        top = int(np.argmax(cs))
        pa, qa = float(r["pA_lower"]), float(r["qA_lower"])
        for bound, k in ((pa, cp[top]), (qa, cq[top])):
            assert _at_level(bound, int(k), n, alpha / 2)
        if pa > 0.5:
            assert int(r["predict"]) == top
            assert float(r["radius"]) == cert.radius(pa, q_a=qa)
            assert float(r["radius"]) >= cert.radius(pa)  # never below Cohen's
        else:
            assert (int(r["predict"]), float(r["radius"])) == (-1, 0.0)
    return rows


def test_counts_rule_splits_alpha_and_uses_the_selected_class():
    cert = sc.get("dsrs-gaussian-l2", sigma=0.5, dim=784)
    sel = np.array([[2, 90, 8], [60, 40, 0], [50, 0, 50]])
    est_p = np.array([[100, 9800, 100], [40, 9960, 0], [5000, 0, 5000]])
    est_q = np.array([[0, 10000, 0], [10000, 0, 0], [5100, 0, 4900]])
    pred, radius, pa, qa = certify_counts_double(est_p, est_q, cert, alpha=0.002, select=sel)
    assert pred.tolist() == [1, -1, -1]  # row 2: selection picks class 0, whose pA is tiny
    assert pa[0] <= _cp_lower_scipy(9800, 10000, 0.001) * (1 + 1e-15)
    assert pa[0] == pytest.approx(_cp_lower_scipy(9800, 10000, 0.001), rel=1e-7)
    assert qa[0] == pytest.approx(0.001 ** (1 / 10000), rel=1e-12)  # k = n at alpha/2
    assert qa[1] == pytest.approx(_cp_lower_scipy(10000, 10000, 0.001), rel=1e-7)  # class 0's Q count
    assert radius[0] == cert.radius(pa[0], q_a=qa[0]) > cert.radius(pa[0])
    assert radius[1:].tolist() == [0.0, 0.0]
    one = certify_counts_double(est_p[0], est_q[0], cert, alpha=0.002, select=sel[0])
    assert one == (1, radius[0], pa[0], qa[0])
    with pytest.raises(ValueError, match="select"):
        certify_counts_double(est_p, est_q, cert)
    with pytest.raises(ValueError, match="counts_q"):
        certify_counts_double(est_p, est_q[:2], cert, select=sel)
    assert takes_second_sample(cert) and not takes_second_sample(sc.get("cohen-gaussian-l2", sigma=1))


def test_cli_double_sampling_on_a_shipped_model(tmp_path, capsys):
    out = tmp_path / "dsrs.tsv"

    def args(mass="0.4", path=out):
        return ["certify", "--model", "fmnist-gaussian-0.25", "--cert", "dsrs-gaussian-l2", "--split",
                "embedded", "--n0", "16", "--n", "100", "--batch", "100", "--max", "2", "--alpha",
                "0.002", "--ball-mass", mass, "--no-progress", "--threads", "1", "--out", str(path)]

    assert cli.main(args()) == 0, capsys.readouterr().err
    assert DS.HEADER.rstrip("\n") + "\tqA_lower\tcounts_q\n" == out.read_text().splitlines(True)[0]
    rows = _check_rows(out, 0.002, 0.4, 784, 0.25)
    assert len(rows) == 2 and sum(int(r["correct"]) for r in rows) >= 1
    rec = json.loads((tmp_path / "dsrs.tsv.json").read_text())
    assert rec["mode"] == "double" and "alpha/2" in rec["alpha_split"] and rec["n_q"] == 100
    assert rec["certificate"]["params"] == {"sigma": 0.25, "dim": 784, "ball_mass": 0.4}
    # a resume with another ball is refused (exit 2), naming the parameter
    assert cli.main(args("0.5")) == 2
    assert "ball_mass" in capsys.readouterr().err
    assert len(DS.read_rows(out)) == 2
    for bad, flag in ((["--mode", "budget"], "--mode"), (["--rule", "runner-up"], "--rule"),
                      (["--top-k", "2"], "--top-k")):
        assert cli.main(args(path=tmp_path / "x.tsv") + bad) == 2
        assert flag in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()


def test_cli_generalized_gaussian_double_sampling_takes_k(tmp_path, capsys):
    # Li et al.'s generalized Gaussian P (k > 0) from the command line: the run record holds k, the
    # radius is the certificate's at the written bounds; --k on a one-sample certificate is refused
    out = tmp_path / "g.tsv"
    base = ["certify", "--model", "fmnist-gaussian-0.25", "--split", "embedded", "--n0", "16", "--n",
            "100", "--batch", "100", "--max", "1", "--no-progress", "--threads", "1"]
    assert cli.main(base + ["--cert", "dsrs-general-gaussian-l2", "--k", "380", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    rec = json.loads((tmp_path / "g.tsv.json").read_text())
    assert rec["certificate"]["name"] == "dsrs-general-gaussian-l2" and rec["certificate"]["params"]["k"] == 380
    (row,) = DS.read_rows(out)
    cert = sc.get("dsrs-general-gaussian-l2", **rec["certificate"]["params"])
    pa, qa = float(row["pA_lower"]), float(row["qA_lower"])
    assert float(row["radius"]) == (cert.radius(pa, q_a=qa) if pa > 0.5 else 0.0)
    capsys.readouterr()
    assert cli.main(base + ["--cert", "cohen-gaussian-l2", "--k", "3", "--out", str(tmp_path / "c.tsv")]) == 2
    err = capsys.readouterr().err
    assert "--k" in err and err.count("\n") == 1


USER_MODULE = '''
import torch
from torch import nn


class Rings(nn.Module):
    """A user's classifier on 3x4x4 images: class 1 inside the ball ||x - 0.5||^2 < 3.5 (it
    holds DSRS's ball at sigma = 0.25, d = 48: T^2 = 0.0625 chi2_48^-1(0.5) = 2.96), else 0."""

    def forward(self, x):
        d2 = ((x - 0.5) ** 2).flatten(1).sum(1, keepdim=True)
        return torch.cat([d2 - 3.5, 3.5 - d2], dim=1)


def make_net():
    return Rings()
'''


def test_cli_double_sampling_on_a_user_entry_point_with_npz(tmp_path, monkeypatch, capsys):
    (tmp_path / "dsrsnets.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    images = np.full((3, 4, 4, 3), 128, dtype=np.uint8)
    images[2] = 255  # far outside the ring: class 0
    np.savez(tmp_path / "d.npz", images=images, labels=np.array([1, 1, 0]))
    assert cli.main(["certify", "--model", "dsrsnets:make_net", "--data", "d.npz", "--cert",
                     "dsrs-gaussian-l2", "--sigma", "0.25", "--n0", "16", "--n", "300", "--batch", "300",
                     "--no-progress", "--threads", "1", "--out", "u.tsv"]) == 0, capsys.readouterr().err
    rows = _check_rows(tmp_path / "u.tsv", 0.001, 0.5, 48, 0.25)
    # inside the ring Q (the ball) is always right: qA is the k = n bound, above pA
    assert float(rows[0]["qA_lower"]) == pytest.approx(0.0005 ** (1 / 300), rel=1e-12)
    assert [r["predict"] for r in rows] == ["1", "1", "0"]
    rec = json.loads((tmp_path / "u.tsv.json").read_text())
    assert rec["model"]["kind"] == "entry-point" and rec["data"]["shape"] == [3, 4, 4]
    assert float(rows[0]["radius"]) > sc.get("dsrs-gaussian-l2", sigma=0.25, dim=48).radius(
        float(rows[0]["pA_lower"]))  # the Q bound lifts the radius above Cohen's


def test_figure_draws_the_certificate_radii():
    """The docs figure's curves are the certificate's radii, DSRS >= Cohen's dashed line."""
    from smoothcert.figures.dsrs import dsrs_vs_cohen_figure

    fig = dsrs_vs_cohen_figure(p_as=(0.9,), q_as=(0.999,), dims=(784, 3072))  # docs quick run writes it
    (ax,) = fig.axes
    curve, cohen = ax.lines
    assert list(curve.get_xdata()) == [784, 3072]
    assert list(curve.get_ydata()) == [sc.get("dsrs-gaussian-l2", sigma=1.0, dim=d).radius(0.9, q_a=0.999)
                                       for d in (784, 3072)]
    assert min(curve.get_ydata()) > cohen.get_ydata()[0] == sc.get("cohen-gaussian-l2", sigma=1).radius(0.9)
