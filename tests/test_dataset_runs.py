"""Dataset runs: TSV rows, resume after a partial line and after SIGKILL, torchrun sharding, merge."""

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time

import json

import numpy as np
import pytest
import torch

from smoothcert.core.errors import BadInput
from smoothcert.gpu_sampler import dataset as DS

# A tiny deterministic classifier on 1x4x4 images and a run script shared by the in-process
# reference, the killed subprocess and the torchrun shards (same code, same rows).
RUN_SCRIPT = textwrap.dedent('''
    import sys, time
    import numpy as np
    import torch
    import smoothcert as sc
    from smoothcert.gpu_sampler.dataset import certify_dataset

    torch.set_num_threads(1)
    W = torch.randn(3, 16, generator=torch.Generator().manual_seed(1234))

    class Tiny(torch.nn.Module):
        def __init__(self, delay=0.0, scale=1.0):
            super().__init__()
            self.delay = delay
            self.register_buffer("w", W * scale)

        def forward(self, x):
            if self.delay:
                time.sleep(self.delay)
            return 3.0 * (x.flatten(1) - 0.5) @ self.w.T

    def data(count=24, data_seed=7):
        rng = np.random.default_rng(data_seed)
        images = rng.integers(0, 256, size=(count, 4, 4), dtype=np.uint8)
        labels = rng.integers(0, 3, size=count)
        return images, labels

    def run(out, max_count=None, delay=0.0, n=300, seed=5, progress=False, cert=None, scale=1.0,
            data_seed=7, **options):
        images, labels = data(data_seed=data_seed)
        cert = cert or sc.get("cohen-gaussian-l2", sigma=0.5)
        kw = dict(n0=20, n=n, alpha=0.01, batch_size=128, skip=1, max_count=max_count, seed=seed,
                  progress=progress)
        return certify_dataset(Tiny(delay, scale), cert, images, labels, out, **{**kw, **options})

    if __name__ == "__main__":
        out, max_count, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
        run(out, max_count, delay)
''')

DROP_TIME = [c for c in DS.COLUMNS if c != "time"]


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("runscript") / "tiny_run.py"
    path.write_text(RUN_SCRIPT)
    spec = importlib.util.spec_from_file_location("tiny_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.path = str(path)
    return mod


@pytest.fixture(scope="module")
def reference(script, tmp_path_factory):
    """An uninterrupted single-process run over all 24 inputs."""
    out = tmp_path_factory.mktemp("ref") / "ref.tsv"
    script.run(str(out))
    return DS.read_rows(out)


def without_time(rows):
    return [tuple(r[c] for c in DROP_TIME) for r in rows]


def test_select_indices_and_seeds():
    assert DS.select_indices(10, 3) == [0, 3, 6, 9]
    assert DS.select_indices(10, 3, max_count=2) == [0, 3]
    assert DS.select_indices(10, 1, max_count=0) == []
    with pytest.raises(ValueError, match="skip must be >= 1, got 0"):
        DS.select_indices(10, 0)
    seeds = {DS.input_seed(s, i) for s in range(3) for i in range(50)}
    assert len(seeds) == 150 and all(0 <= s < 2**63 for s in seeds)
    assert DS.input_seed(1, 2) == DS.input_seed(1, 2)
    assert DS.shard_path("/a/res.tsv", 3) == "/a/res.rank3.tsv"
    assert DS.shard_path("/a/res", 0) == "/a/res.rank0.tsv"


def test_rows_are_cohen_format_and_consistent(reference):
    import smoothcert as sc

    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    rows = reference
    assert [int(r["idx"]) for r in rows] == list(range(24))
    assert DS.HEADER.startswith("idx\tlabel\tpredict\tradius\tcorrect\ttime\t")
    predictions = set()
    for r in rows:
        pred, radius = int(r["predict"]), float(r["radius"])
        counts = np.array(r["counts"].split(","), dtype=int)
        select = np.array(r["counts_select"].split(","), dtype=int)
        assert counts.sum() == 300 and select.sum() == 20 and len(counts) == 3
        assert r["correct"] == str(int(pred == int(r["label"])))
        pa = float(r["pA_lower"])
        assert repr(float(r["radius"])) == r["radius"]  # full precision, round-trips
        if pred == -1:
            assert radius == 0.0 and pa <= 0.5
        else:
            assert pred == int(np.argmax(select)) and radius > 0
            assert radius == cert.radius(pa)  # the bound recorded is the one certified
            assert float(r["pB_upper"]) == 1.0 - pa
        predictions.add(pred)
    assert len(predictions) >= 2  # the fixture exercises more than one outcome


def test_read_by_figures_module(reference, tmp_path):
    figures = pytest.importorskip("smoothcert.figures")
    if not hasattr(figures, "read_tsv"):
        pytest.skip("figures.read_tsv not available")
    path = tmp_path / "r.tsv"
    path.write_text(DS.HEADER + "".join("\t".join(r[c] for c in DS.COLUMNS) + "\n" for r in reference))
    res = figures.read_tsv(path)
    assert len(res) == 24 and res.time is not None and (res.time >= 0).all()


def test_resume_truncates_partial_line(script, reference, tmp_path):
    out = tmp_path / "part.tsv"
    script.run(str(out), max_count=7)
    with open(out, "a") as f:
        f.write("7\t2\t1\t0.3")  # a write cut short by a kill: no newline
    script.run(str(out))
    rows = DS.read_rows(out)
    assert without_time(rows) == without_time(reference)
    assert out.read_text().endswith("\n")


def test_resume_refuses_other_parameters(script, tmp_path):
    out = tmp_path / "p.tsv"
    script.run(str(out), max_count=2)
    with pytest.raises(BadInput, match="n: file 300, this run 301"):
        script.run(str(out), n=301)
    with pytest.raises(BadInput, match="seed: file 5, this run 6"):
        script.run(str(out), seed=6)
    other = tmp_path / "o.tsv"
    other.write_text("a\tb\n1\t2\n")
    with pytest.raises(BadInput, match="no run record"):
        script.run(str(other))


# every setting that shapes the rows is in the run record, and a resume that
# changes any one of them is refused naming it (the old code checked only the TSV's own columns:
# another sigma, model, data set or package version appended its rows to the same file, exit 0).
def _sc():
    import smoothcert

    return smoothcert


SETTINGS = {  # name: (options of the first run, options of the resume, the difference named)
    "sigma": ({}, {"cert": ("cohen-gaussian-l2", {"sigma": 0.6})}, "certificate.params.sigma: file 0.5, this run 0.6"),
    "certificate": ({}, {"cert": ("teng-laplace-l1", {"scale": 0.5})}, "certificate.name"),
    "model": ({}, {"scale": 2.0}, "model.state_sha256"),
    "model_file": ({"model_info": {"file": "a.pt", "sha256": "aa"}},
                   {"model_info": {"file": "a.pt", "sha256": "bb"}}, "model.sha256: file 'aa', this run 'bb'"),
    "data": ({}, {"data_seed": 8}, "data.sha256"),
    "data_source": ({"data_info": {"source": "a.npz", "sha256": "0"}},
                    {"data_info": {"source": "b.npz", "sha256": "0"}}, "data.source: file 'a.npz'"),
    "precision": ({}, {"precision": "float64"}, "precision: file 'float32', this run 'float64'"),
    "seed": ({}, {"seed": 6}, "seed: file 5, this run 6"),
    "n0": ({}, {"n0": 21}, "n0: file 20, this run 21"),
    "n": ({}, {"n": 301}, "n: file 300, this run 301"),
    "alpha": ({}, {"alpha": 0.02}, "alpha: file '0.01', this run '0.02'"),
    "rule": ({}, {"rule": "runner-up"}, "rule: file 'binary', this run 'runner-up'"),
    "mode": ({}, {"mode": "target", "radii": (0.1,)}, "mode: file 'fixed', this run 'target'"),
    "radii": ({"mode": "target", "radii": (0.1,)}, {"mode": "target", "radii": (0.2,)},
              "radii: file [0.1], this run [0.2]"),
    "tol": ({"mode": "budget", "tol": 0.05}, {"mode": "budget", "tol": 0.06}, "tol: file 0.05, this run 0.06"),
    "package_version": ({}, {"version": "99.0"}, "package_version"),
}


def _options(opts):
    opts = dict(opts)
    if "cert" in opts:
        name, params = opts["cert"]
        opts["cert"] = _sc().get(name, **params)
    return opts


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_resume_refuses_each_changed_setting(script, tmp_path, monkeypatch, setting):
    first, again, named = SETTINGS[setting]
    out = tmp_path / "r.tsv"
    script.run(str(out), max_count=1, **_options(first))
    before = out.read_bytes()
    again = _options(again)
    if "version" in again:
        monkeypatch.setattr(_sc(), "__version__", again.pop("version"))
    with pytest.raises(BadInput) as e:
        script.run(str(out), max_count=2, **{**_options(first), **again})
    assert named in str(e.value) and "\n" not in str(e.value)
    assert out.read_bytes() == before  # nothing appended
    monkeypatch.undo()
    script.run(str(out), max_count=2, **_options(first))  # the same run still resumes
    assert len(DS.read_rows(out)) == 2


def test_run_record_sidecar_says_what_produced_the_file(script, tmp_path):
    out = tmp_path / "s.tsv"
    script.run(str(out), max_count=1, model_info={"kind": "checkpoint", "sha256": "ab"})
    rec = json.loads((tmp_path / "s.tsv.json").read_text())
    assert rec["certificate"] == {"name": "cohen-gaussian-l2", "params": {"sigma": 0.5}}
    assert rec["model"] == {"kind": "checkpoint", "sha256": "ab"}
    assert rec["data"]["source"] == "arrays" and len(rec["data"]["sha256"]) == 64
    assert {k: rec[k] for k in ("n0", "n", "alpha", "rule", "precision", "seed", "mode")} == {
        "n0": 20, "n": 300, "alpha": "0.01", "rule": "binary", "precision": "float32", "seed": 5,
        "mode": "fixed"}
    assert rec["package_version"] == _sc().__version__
    (tmp_path / "s.tsv.json").unlink()  # rows without a record cannot be checked: refused
    with pytest.raises(BadInput, match="no run record"):
        script.run(str(out), max_count=2)


def test_resume_after_sigkill(script, reference, tmp_path):
    out = tmp_path / "killed.tsv"
    proc = subprocess.Popen([sys.executable, script.path, str(out), "24", "0.02"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    rows_seen = 0
    while time.time() < deadline and proc.poll() is None:
        if out.exists():
            rows_seen = out.read_text().count("\n") - 1
            if rows_seen >= 4:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    partial = DS.read_rows(out)
    assert 4 <= len(partial) < 24
    script.run(str(out))
    assert without_time(DS.read_rows(out)) == without_time(reference)


def test_torchrun_two_ranks_match_single_run(script, reference, tmp_path):
    out = tmp_path / "sharded.tsv"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           script.path, str(out), "24", "0"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shard_idx = [[int(r["idx"]) for r in DS.read_rows(DS.shard_path(out, k))] for k in (0, 1)]
    assert shard_idx == [list(range(0, 24, 2)), list(range(1, 24, 2))]
    assert without_time(DS.read_rows(out)) == without_time(reference)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_two_nodes_match_single_run(script, reference, tmp_path):
    """``--nnodes 2`` simulated on one host: two torchrun launchers (node_rank 0 and 1, one rank
    each, static rendezvous on 127.0.0.1, gloo) write the single-process file."""
    out = tmp_path / "nodes.tsv"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=2",
                               f"--node_rank={k}", "--nproc_per_node=1", "--master_addr=127.0.0.1",
                               f"--master_port={port}", script.path, str(out), "24", "0"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in (0, 1)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    shard_idx = [[int(r["idx"]) for r in DS.read_rows(DS.shard_path(out, k))] for k in (0, 1)]
    assert shard_idx == [list(range(0, 24, 2)), list(range(1, 24, 2))]
    assert without_time(DS.read_rows(out)) == without_time(reference)


def test_ranks_map_to_gpus_by_local_rank(monkeypatch, script):
    """cuda:LOCAL_RANK; a rank past the node's GPUs is a clear error (not cuda:1 on one GPU, not a
    silent share); a CPU model stays on the CPU under torchrun (it gave cuda:k before)."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert DS.rank_device(0) == torch.device("cuda", 0)
    with pytest.raises(BadInput, match="LOCAL_RANK=1 but this node has 1 CUDA device"):
        DS.rank_device(1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert DS._run_device(script.Tiny(), None, 1, 2) == torch.device("cpu")
    assert DS._run_device(script.Tiny(), "cpu", 1, 2) == torch.device("cpu")


def test_merge_shards_checks_coverage(tmp_path):
    out = tmp_path / "m.tsv"

    def shard(rank, idxs):
        lines = [f"{i}\t0\t0\t0.5\t1\t0:00:01\tc\t0.9\t0.1\t1\t1\t1\t1\t0.001\tbinary\tfloat32\t0\n"
                 for i in idxs]
        with open(DS.shard_path(out, rank), "w") as f:
            f.write(DS.HEADER + "".join(lines))

    shard(0, [4, 0, 2])
    with pytest.raises(ValueError, match="rank 1 of 2"):
        DS.merge_shards(out, 2)
    shard(1, [3, 1])
    DS.merge_shards(out, 2, expected=range(5))
    assert [int(r["idx"]) for r in DS.read_rows(out)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"missing idx \[5\]"):
        DS.merge_shards(out, 2, expected=range(6))
    shard(1, [3, 1, 2])
    with pytest.raises(ValueError, match="idx 2 appears in two shards"):
        DS.merge_shards(out, 2)
    assert [int(r["idx"]) for r in DS.read_rows(out)] == [0, 1, 2, 3, 4]  # old file untouched


def test_bad_input(script, tmp_path):
    import smoothcert as sc

    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    images, labels = script.data(4)
    model = script.Tiny()
    out = str(tmp_path / "bad.tsv")
    with pytest.raises(ValueError, match="same length, got 4 and 3"):
        DS.certify_dataset(model, cert, images, labels[:3], out, n=10, progress=False)
    with pytest.raises(ValueError, match="n0 must be >= 1, got 0"):
        DS.certify_dataset(model, cert, images, labels, out, n0=0, n=10, progress=False)
    with pytest.raises(ValueError, match="alpha must lie in"):
        DS.certify_dataset(model, cert, images, labels, out, n=10, alpha=1.5, progress=False)
    with pytest.raises(TypeError, match="uint8"):
        DS.certify_dataset(model, cert, images.astype(np.int32), labels, out, n=10, progress=False)
    assert not os.path.exists(out) or DS.read_rows(out) == []


def test_bad_rule_precision_or_certificate_touch_no_file(script, tmp_path):
    import smoothcert as sc

    images, labels = script.data(4)
    out = tmp_path / "never.tsv"
    binary = sc.get("teng-laplace-l1-binary", scale=0.5)
    with pytest.raises(ValueError, match="binary theorem"):
        DS.certify_dataset(script.Tiny(), binary, images, labels, out, n=10, rule="runner-up", progress=False)
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    with pytest.raises(ValueError, match="rule must be one of"):
        DS.certify_dataset(script.Tiny(), cert, images, labels, out, n=10, rule="majority", progress=False)
    with pytest.raises(ValueError, match="precision must be one of .*'float16'"):
        DS.certify_dataset(script.Tiny(), cert, images, labels, out, n=10, precision="float16", progress=False)
    assert not out.exists()


def test_figures_refuse_radii_of_different_norms(script, tmp_path, capsys):
    """``figures --tsv`` never draws l1 and l2 radii on one axis, and no table
    bolds a "best" cell across norms (before, ``figures --tsv gauss.tsv laplace.tsv`` drew both as
    "l2" and bolded across them). The figure function itself still draws what it is given: the
    demo plots Gaussian l2 radii on its l1 axis, sound because ||d||_2 <= ||d||_1."""
    from smoothcert import cli
    from smoothcert import figures as F

    gauss, lap, gauss2 = (str(tmp_path / f) for f in ("g.tsv", "l.tsv", "g2.tsv"))
    script.run(gauss, max_count=2)
    script.run(gauss2, max_count=2, seed=9)
    script.run(lap, max_count=2, cert=_sc().get("teng-laplace-l1", scale=0.5))
    assert F.radius_norm(F.read_tsv(gauss)) == "l2" and F.radius_norm(F.read_tsv(lap)) == "l1"
    with pytest.raises(BadInput, match="different norms"):
        F.certified_accuracy_table([gauss, lap], radii=[0.0, 0.25])
    for args, named in ((["--tsv", gauss, lap], "different norms"),
                        (["--tsv", lap], "--norm l2, but the radii of l are l1")):
        assert cli.main(["figures", *args, "--out", str(tmp_path / "fig")]) == 2
        assert named in capsys.readouterr().err
    assert "|" in F.certified_accuracy_table([gauss, gauss2], radii=[0.0, 0.25])  # one norm: fine
    assert cli.main(["figures", "--tsv", lap, "--norm", "l1", "--out", str(tmp_path / "fig")]) == 0


@pytest.mark.parametrize("options, exc, word", [
    (dict(compile="yes"), ValueError, "compile must be 'auto', True or False, got 'yes'"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
    (dict(mode="target", radii=[0.5, -1.0]), ValueError, "radii must be finite and >= 0"),
    (dict(mode="budget", tol=None), TypeError, "tol"),
    (dict(labels=["cat"] * 4), TypeError, "labels"),
])
def test_every_argument_is_checked_before_any_file(script, tmp_path, options, exc, word):
    """compile (and batch_size, radii, tol, labels) used to be checked only at the first input,
    after the run record and the header were written: a refused run left both behind."""
    import smoothcert as sc

    images, labels = script.data(4)
    labels = options.pop("labels", labels)
    out = tmp_path / "never.tsv"
    with pytest.raises(exc, match=word):
        DS.certify_dataset(script.Tiny(), sc.get("cohen-gaussian-l2", sigma=0.5), images, labels,
                           out, n=10, progress=False, **options)
    assert not out.exists() and not os.path.exists(DS.record_path(out))
