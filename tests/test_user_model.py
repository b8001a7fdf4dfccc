"""Your own model on your own data: entry points, TorchScript and torch.export
files, ImageFolder / .npz / .npy / idx data, and one-line shape errors from a probe."""

import json

import numpy as np
import pytest
import torch

from smoothcert import cli
from smoothcert.core.errors import BadInput
from smoothcert.gpu_sampler import dataset as DS
from smoothcert.gpu_sampler.data import load_user_data, write_idx
from smoothcert.gpu_sampler.models import file_sha256
from smoothcert.gpu_sampler.user_model import load_model, probe_model

USER_MODULE = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A user's classifier on 3x8x8 images in [0, 1] that normalizes inside."""

    def __init__(self, classes=4):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, classes)

    def forward(self, x):
        return self.fc((x - 0.5).flatten(1) / 0.25)


def make_net():
    return TinyNet()


def flat_output():
    return nn.Flatten(0)


def not_a_module():
    return 42
'''

RUN = ["--cert", "cohen-gaussian-l2", "--sigma", "0.25", "--n0", "16", "--n", "64", "--batch", "64",
       "--no-progress", "--threads", "1"]


@pytest.fixture()
def user(tmp_path, monkeypatch):
    """A user package on sys.path, its trained weights, and 6 images of shape (8, 8, 3) uint8."""
    (tmp_path / "usernets.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import importlib
    import sys

    sys.modules.pop("usernets", None)
    mod = importlib.import_module("usernets")
    torch.manual_seed(3)
    net = mod.make_net()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    with torch.no_grad():  # labels = the net's own clean predictions, so most rows certify
        labels = net(torch.from_numpy(images.transpose(0, 3, 1, 2) / 255.0).float()).argmax(1).numpy()
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    return tmp_path, net, images, labels


def _rows(path):
    return [{k: r[k] for k in ("idx", "label", "predict", "radius", "counts", "counts_select")}
            for r in DS.read_rows(path)]


def test_cli_certifies_a_user_module_entry_point_on_npz(user, capsys):
    tmp, net, images, labels = user
    code = cli.main(["certify", "--model", "usernets:make_net", "--weights", "w.pt", "--data", "d.npz",
                     "--out", "cli.tsv", *RUN])
    assert code == 0, capsys.readouterr().err
    rec = json.loads((tmp / "cli.tsv.json").read_text())
    assert rec["model"]["kind"] == "entry-point" and rec["model"]["arch"] == "TinyNet"
    assert rec["model"]["weights_sha256"] == file_sha256(tmp / "w.pt")
    assert rec["data"]["shape"] == [3, 8, 8] and rec["data"]["source"] == str(tmp / "d.npz")
    # the same rows as the documented Python API on the same arrays (NHWC -> NCHW)
    import smoothcert as sc

    DS.certify_dataset(net, sc.get("cohen-gaussian-l2", sigma=0.25), images.transpose(0, 3, 1, 2),
                       labels, tmp / "api.tsv", n0=16, n=64, batch_size=64, progress=False)
    assert _rows(tmp / "cli.tsv") == _rows(tmp / "api.tsv")
    assert sum(int(r["correct"]) for r in DS.read_rows(tmp / "cli.tsv")) >= 1


def test_torchscript_export_npy_and_idx_give_the_entry_points_rows(user, capsys):
    tmp, net, images, labels = user
    torch.jit.save(torch.jit.script(net), tmp / "scripted.pt")
    batch = torch.export.Dim("batch")
    prog = torch.export.export(net, (torch.zeros(2, 3, 8, 8),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(prog, tmp / "exported.pt2")
    np.save(tmp / "x.npy", images)
    np.save(tmp / "y.npy", labels)
    write_idx(tmp / "x.idx", images.transpose(0, 3, 1, 2).copy())
    write_idx(tmp / "y.idx.gz", labels.astype(np.uint8))
    runs = {"ref": ["--model", "usernets:make_net", "--weights", "w.pt", "--data", "d.npz"],
            "script": ["--model", "scripted.pt", "--data", "x.npy", "--labels", "y.npy"],
            "export": ["--model", "exported.pt2", "--data", "x.idx", "--labels", "y.idx.gz"]}
    for name, args in runs.items():
        assert cli.main(["certify", *args, "--out", name + ".tsv", *RUN]) == 0, capsys.readouterr().err
    kinds = {n: json.loads((tmp / (n + ".tsv.json")).read_text())["model"]["kind"] for n in runs}
    assert kinds == {"ref": "entry-point", "script": "torchscript", "export": "export"}
    counts = {n: [(r["predict"], r["counts"]) for r in _rows(tmp / (n + ".tsv"))] for n in runs}
    assert counts["script"] == counts["ref"] and counts["export"] == counts["ref"]


def _png_folder(root, sizes_modes):
    from PIL import Image

    rng = np.random.default_rng(1)
    for k, (cls, size, mode) in enumerate(sizes_modes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / cls / f"{k}.png")


def test_image_folder_layout(tmp_path):
    _png_folder(tmp_path / "gray", [("b", 6, "L"), ("a", 6, "L"), ("a", 6, "L")])
    d = load_user_data(tmp_path / "gray")
    assert d["shape"] == (1, 6, 6) and d["images"].dtype == np.uint8
    assert d["labels"].tolist() == [0, 0, 1]  # classes sorted by folder name
    _png_folder(tmp_path / "mixed", [("a", 5, "L"), ("b", 5, "RGB")])
    assert load_user_data(tmp_path / "mixed")["shape"] == (3, 5, 5)
    _png_folder(tmp_path / "sizes", [("a", 5, "L"), ("b", 6, "L")])
    with pytest.raises(BadInput, match="resize"):
        load_user_data(tmp_path / "sizes")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(BadInput, match="no images"):
        load_user_data(tmp_path / "empty")


def test_float_pixels_in_unit_interval_and_layouts(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.random((4, 3, 5, 5)).astype(np.float32)
    for layout, arr in (("nchw", x), ("nhwc", x.transpose(0, 2, 3, 1))):
        np.savez(tmp_path / f"{layout}.npz", x=arr, y=np.arange(4))
        d = load_user_data(tmp_path / f"{layout}.npz")
        assert torch.equal(d["images"], torch.from_numpy(x)) and d["shape"] == (3, 5, 5)
    np.savez(tmp_path / "gray.npz", images=(x[:, 0] * 255).astype(np.uint8), labels=np.arange(4))
    assert load_user_data(tmp_path / "gray.npz")["shape"] == (1, 5, 5)  # (N, H, W): one channel


@pytest.mark.parametrize("arrays, match", [
    ({"images": np.full((2, 4, 4), 2.0), "labels": np.arange(2)}, r"not all in \[0, 1\]"),
    ({"images": np.full((2, 4, 4), np.nan), "labels": np.arange(2)}, r"not all in \[0, 1\]"),
    ({"images": np.zeros((2, 4, 4), np.int16), "labels": np.arange(2)}, "uint8 pixels"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.arange(3)}, "2 non-negative integers"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0.0, 1.0])}, "non-negative integers"),
    ({"pixels": np.zeros((2, 4, 4), np.uint8), "labels": np.arange(2)}, "expected images/labels"),
    ({"images": np.zeros((2, 5, 4, 4), np.uint8), "labels": np.arange(2)}, r"shape \(N, H, W\)"),
])
def test_bad_user_data_is_one_line(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BadInput, match=match) as e:
        load_user_data(tmp_path / "bad.npz")
    assert "\n" not in str(e.value)


def test_npy_needs_labels_and_text_is_not_idx(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(BadInput, match="needs labels"):
        load_user_data(tmp_path / "x.npy")
    (tmp_path / "x.txt").write_text("hello\n")
    with pytest.raises(BadInput, match="idx"):
        load_user_data(tmp_path / "x.txt", labels=tmp_path / "x.npy")


# "a 28x28 input without a channel reports 'got 10 channels', and a 1x32x32 input runs
# and silently abstains". The old CLI read only Fashion-MNIST; through the API the 32x32 image ran
# the 28x28 net's global pooling and abstained or guessed. Now one line names both shapes.
@pytest.mark.parametrize("model, images, match", [
    ("fmnist-gaussian-0.25", np.zeros((3, 32, 32), np.uint8), r"\(1, 28, 28\), the data has \(1, 32, 32\)"),
    ("fmnist-gaussian-0.25", np.zeros((3, 3, 28, 28), np.uint8), r"\(1, 28, 28\), the data has \(3, 28, 28\)"),
    ("usernets:make_net", np.zeros((3, 28, 28), np.uint8), r"\(1, 1, 28, 28\) \(the data's \(C, H, W\) = \(1, 28, 28\)\)"),
    ("usernets:flat_output", np.zeros((3, 8, 8, 3), np.uint8), r"to \(192,\), not \(1, classes\)"),
    ("usernets:not_a_module", np.zeros((3, 8, 8, 3), np.uint8), "returned int, not a torch.nn.Module"),
    ("usernets:absent", np.zeros((3, 8, 8, 3), np.uint8), "no callable 'absent'"),
    ("nosuchpkg.mod:f", np.zeros((3, 8, 8, 3), np.uint8), "cannot import module 'nosuchpkg.mod'"),
])
def test_model_data_mismatch_is_one_line_exit_2(user, capsys, model, images, match):
    np.savez("m.npz", images=images, labels=np.zeros(len(images), np.int64))
    code = cli.main(["certify", "--model", model, "--data", "m.npz", "--out", "m.tsv", *RUN])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    import re

    assert re.search(match, err), err
    assert not (user[0] / "m.tsv").exists()


def test_labels_beyond_the_models_classes_refused(user):
    _, net, _, _ = user
    with pytest.raises(BadInput, match="has 4 classes, the data has labels up to 9"):
        probe_model(net, (3, 8, 8), "usernets:make_net", num_labels=10)


def test_static_batch_export_refused_at_the_probe(user):
    tmp, net, _, _ = user
    torch.export.save(torch.export.export(net, (torch.zeros(2, 3, 8, 8),)), tmp / "static.pt2")
    model, info = load_model(str(tmp / "static.pt2"))
    assert info["kind"] == "export"
    with pytest.raises(BadInput, match=r"fails on a batch of shape \(1, 3, 8, 8\)"):
        probe_model(model, (3, 8, 8), "static.pt2")


def test_weights_errors(user):
    tmp, _, _, _ = user
    torch.save({"fc.weight": torch.zeros(4, 5)}, tmp / "wrong.pt")
    with pytest.raises(BadInput, match="does not match the architecture"):
        load_model("usernets:make_net", tmp / "wrong.pt")
    with pytest.raises(BadInput, match="no such file"):
        load_model("usernets:make_net", tmp / "absent.pt")
    with pytest.raises(BadInput, match="takes no weights"):
        load_model("fmnist-gaussian-0.25", tmp / "w.pt")


@pytest.mark.parametrize("flag, value, named", [
    ("--sigma", "0.5", "certificate.params.sigma: file 0.25, this run 0.5"),
    ("--weights", "w2.pt", "model.state_sha256"),
    ("--data", "d2.npz", "data.sha256"),
])
def test_cli_resume_with_another_setting_exits_2(user, capsys, flag, value, named):
    tmp, net, images, labels = user
    torch.save({k: v + 1 for k, v in net.state_dict().items()}, tmp / "w2.pt")
    np.savez(tmp / "d2.npz", images=images[::-1], labels=labels[::-1])
    base = {"--model": "usernets:make_net", "--weights": "w.pt", "--data": "d.npz", "--sigma": "0.25"}
    args = [x for kv in base.items() for x in kv]
    run = [a for a in RUN if a not in ("--sigma", "0.25")]
    assert cli.main(["certify", *args, "--out", "r.tsv", "--max", "2", *run]) == 0
    before = (tmp / "r.tsv").read_bytes()
    changed = [x for kv in {**base, flag: value}.items() for x in kv]
    capsys.readouterr()
    assert cli.main(["certify", *changed, "--out", "r.tsv", *run]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the "certify ... with ..." line
    assert err.startswith("smoothcert certify: error:") and named in err
    assert (tmp / "r.tsv").read_bytes() == before


def test_guide_example_certifies_a_user_module_as_written(tmp_path, monkeypatch, capsys):
    """docs/guide.md "Your own model and data": the Python block runs as written and leaves a
    results file with its run record."""
    import pathlib
    import re

    guide = (pathlib.Path(__file__).parent.parent / "docs" / "guide.md").read_text()
    section = guide.split("### Your own model and data", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "guide.md", "exec"), {"__name__": "guide_example"})
    assert re.fullmatch(r"\d+ of 10 certified correct\n", capsys.readouterr().out)
    rec = json.loads((tmp_path / "mine.tsv.json").read_text())
    assert rec["model"]["arch"] == "Sequential" and rec["certificate"]["params"] == {"sigma": 0.25}


@pytest.mark.parametrize("training, word", [
    ({"family": "gaussian", "epochs": 2}, "no 'param' key"),
    ({"family": "laplace", "param": "half"}, "param='half', not a positive number"),
    ({"family": "uniform", "param": float("nan")}, "not a positive number"),
])
def test_checkpoint_training_record_without_param_is_one_line_exit_2(tmp_path, monkeypatch, capsys,
                                                                     training, word):
    """A checkpoint whose training record names a family but lacks 'param' raised KeyError('param')
    in user_model._noise_info (a traceback, exit 1)."""
    from smoothcert.gpu_sampler.models import fmnist_resnet, save_checkpoint

    monkeypatch.chdir(tmp_path)
    save_checkpoint(fmnist_resnet(), "c.pt", "fmnist_resnet", training=training)
    with pytest.raises(BadInput, match=word) as excinfo:
        load_model("c.pt")
    assert "c.pt" in str(excinfo.value)
    np.savez("m.npz", images=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(2, np.int64))
    code = cli.main(["certify", "--model", "c.pt", "--data", "m.npz", "--out", "m.tsv", *RUN])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and word in err and "'c.pt'" in err, err
    assert not (tmp_path / "m.tsv").exists()
