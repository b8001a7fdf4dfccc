"""The demo main job, the certify/demo commands, the shipped models and their metrics."""

import json
import math
import os
import re

import numpy as np
import pytest

import smoothcert as sc
from smoothcert import cli
from smoothcert.gpu_sampler import dataset as DS
from smoothcert.gpu_sampler import demo as DM
from smoothcert.gpu_sampler import models as M


def test_shipped_models_load_and_metrics_are_complete():
    metrics = M.shipped_metrics()
    assert set(metrics) == set(M.SHIPPED_MODELS)
    total = 0
    for name, (family, _, value, _) in M.SHIPPED_MODELS.items():
        m = metrics[name]
        assert m["family"] == family and m["param"] == pytest.approx(value, rel=1e-12)
        assert m["test_images"] == 10_000 and m["epochs"] >= 1 and m["train_seconds"] > 0
        # A trained 10-class model beats chance by far, clean and under its own noise.
        assert 0.6 < m["clean_test_accuracy"] <= 1 and 0.5 < m["noisy_test_accuracy"] <= 1
        model = M.shipped_model(name)
        assert not model.training and isinstance(model[0], M.NormalizeLayer)
        total += os.path.getsize(os.path.join(os.path.dirname(M.__file__), "assets", name + ".pt"))
    assert total < 4e6  # a few MB at most
    with pytest.raises(ValueError, match="fmnist-gaussian-0.75"):
        M.shipped_model("fmnist-gaussian-0.75")


def test_shipped_noise_has_matched_std():
    for name in M.SHIPPED_MODELS:
        info = M.shipped_noise(name)
        cert = sc.get(info["certificate"], **{k: v for k, v in info.items()
                                              if k in ("sigma", "scale", "half_width")})
        assert float(np.max(cert.noise.std())) == pytest.approx(info["std"], rel=1e-12)
        assert info["std"] == pytest.approx(float(name.rsplit("-", 1)[1]), rel=1e-12)  # the name says it


def test_shipped_model_classifies_the_embedded_sample():
    from smoothcert.gpu_sampler.data import embedded_sample, to_tensor
    import torch

    images, labels = embedded_sample()
    with torch.inference_mode():
        pred = M.shipped_model("fmnist-gaussian-0.25")(to_tensor(images[:200])).argmax(1).numpy()
    assert (pred == labels[:200]).mean() > 0.6


def test_accuracy_helpers_by_hand():
    radius, correct = [0.0, 0.5, 1.0, 2.0], [0, 1, 1, 0]
    assert DM.certified_accuracy(radius, correct, 0.0) == 0.5
    assert DM.certified_accuracy(radius, correct, 0.5) == 0.5
    assert DM.certified_accuracy(radius, correct, 0.75) == 0.25
    assert DM.average_certified_radius(radius, correct) == pytest.approx(1.5 / 4)


def test_demo_help_states_the_defaults():
    text = cli.build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    text = " ".join(text.split())
    for flag, key in (("images", "num_images"), ("n0", "n0"), ("n", "n"), ("alpha", "alpha"),
                      ("batch", "batch_size")):
        assert re.search(rf"--{flag} {flag.upper()} .*?\(default: {DM.DEFAULTS[key]}\)", text), flag


def test_demo_small_run(tmp_path, capsys):
    out = tmp_path / "demo"
    code = cli.main(["demo", "--out-dir", str(out), "--images", "4", "--n0", "16", "--n", "100",
                     "--batch", "116", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "n0=16, n=100" in printed and "ACR" in printed
    for cert_name, model_name, param, value in DM.DEMO_RUNS:
        rows = DS.read_rows(out / f"{cert_name}.tsv")
        assert [int(r["idx"]) for r in rows] == [0, 125, 250, 375]
        cert = sc.get(cert_name, **{param: value})
        for r in rows:
            assert r["certificate"] == cert_name and r["n"] == "100"
            # n = 100 at alpha = 0.001: pA_lower <= 0.001 ** (1/100), so the radius is capped.
            assert float(r["radius"]) <= cert.radius(0.001 ** (1 / 100))
        assert cert_name in printed
    assert (out / "certified_accuracy.png").stat().st_size > 1000


def test_certify_command_writes_resumable_tsv(tmp_path, capsys):
    out = tmp_path / "c.tsv"
    args = ["certify", "--model", "fmnist-laplace-0.50", "--split", "embedded", "--max", "3",
            "--skip", "7", "--n0", "10", "--n", "60", "--batch", "70", "--out", str(out),
            "--no-progress", "--device", "cpu"]
    assert cli.main(args) == 0
    rows = DS.read_rows(out)
    assert [int(r["idx"]) for r in rows] == [0, 7, 14]
    assert {r["certificate"] for r in rows} == {"teng-laplace-l1"}
    assert {(r["mode"], r["samples"]) for r in rows} == {("fixed", "70")}  # n0 + n
    assert cli.main(args) == 0  # resumed: nothing to do, nothing duplicated
    assert DS.read_rows(out) == rows
    # Another certificate for the same model: matched by per-coordinate std 0.5.
    out2 = tmp_path / "g.tsv"
    assert cli.main(args[:-5] + ["--out", str(out2), "--cert", "cohen-gaussian-l2", "--no-progress",
                                 "--device", "cpu"]) == 0
    g = DS.read_rows(out2)
    pa = float(g[0]["pA_lower"])
    assert float(g[0]["radius"]) == sc.get("cohen-gaussian-l2", sigma=0.5).radius(pa) or g[0]["predict"] == "-1"


def test_certify_command_bad_input(tmp_path, capsys):
    base = ["certify", "--split", "embedded", "--n", "10", "--out", str(tmp_path / "x.tsv"), "--no-progress"]
    assert cli.main(base + ["--model", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert cli.main(base + ["--model", "fmnist-gaussian-0.50", "--cert", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(base + ["--model", "fmnist-gaussian-0.50", "--alpha", "2"]) == 2
    assert "alpha" in capsys.readouterr().err
    assert cli.main(["certify", "--model", "fmnist-gaussian-0.50", "--data-root", str(tmp_path),
                     "--out", str(tmp_path / "y.tsv")]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists() and not (tmp_path / "y.tsv").exists()


def test_certify_command_with_own_checkpoint(tmp_path, capsys):
    """A checkpoint written by the training script carries its noise: the certificate defaults to it."""
    model = M.shipped_model("fmnist-uniform-0.50")
    path = tmp_path / "mine.pt"
    M.save_checkpoint(model, path, "fmnist_resnet",
                      training={"family": "uniform", "param": 0.5 * math.sqrt(3.0)})
    out = tmp_path / "mine.tsv"
    assert cli.main(["certify", "--model", str(path), "--split", "embedded", "--max", "2", "--n0", "10",
                     "--n", "50", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    rows = DS.read_rows(out)
    assert {r["certificate"] for r in rows} == {"uniform-l1"} and len(rows) == 2
    cert = sc.get("uniform-l1", half_width=0.5 * math.sqrt(3.0))
    for r in rows:
        if r["predict"] != "-1":
            assert float(r["radius"]) == cert.radius(float(r["pA_lower"]))
    bare = tmp_path / "bare.pt"
    M.save_checkpoint(model, bare, "fmnist_resnet")  # no training metadata
    assert cli.main(["certify", "--model", str(bare), "--split", "embedded", "--n", "10",
                     "--out", str(tmp_path / "b.tsv")]) == 2
    assert "records no training noise: pass --cert" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["target", "budget"])
def test_certify_command_sequential_modes_record_samples(tmp_path, capsys, mode):
    """--mode target|budget writes the mode and the samples actually drawn (at most n0 + n) and a
    radius that is the certificate's radius at the recorded bound; fixed mode spends exactly n0 + n."""
    out = tmp_path / f"{mode}.tsv"
    args = ["certify", "--model", "fmnist-gaussian-0.50", "--split", "embedded", "--max", "3",
            "--n0", "20", "--n", "4000", "--out", str(out), "--no-progress", "--device", "cpu",
            "--mode", mode]
    assert cli.main(args + (["--radii", "0.1", "0.3"] if mode == "target" else ["--tol", "0.05"])) == 0
    rows = DS.read_rows(out)
    assert len(rows) == 3 and {r["mode"] for r in rows} == {mode}
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    for r in rows:
        assert 20 < int(r["samples"]) <= 4020
        if r["predict"] != "-1":
            assert float(r["radius"]) <= cert.radius(float(r["pA_lower"]))


def test_model_card_states_the_shipped_metrics():
    """docs/models.md: one row per shipped model with the clean and noisy test
    accuracy of assets/metrics.json, and the certification command it reports."""
    card = (M.__file__.rsplit("gpu_sampler", 1)[0] + "docs/models.md")
    text = open(card).read()
    for name, m in M.shipped_metrics().items():
        (row,) = [line for line in text.splitlines()  # the accuracy table (the training table has 5 cells)
                  if line.startswith(f"| `{name}`") and line.count("|") >= 12]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[3]) == m["clean_test_accuracy"] and float(cells[4]) == m["noisy_test_accuracy"]
        assert all(0 <= float(c) <= 1 for c in cells[5:10])
        assert float(cells[5]) >= float(cells[9])  # certified accuracy falls with the radius
    assert "--split embedded --n0 100 --n 1000" in text and "--skip 5 --n0 100 --n 1000" in text
