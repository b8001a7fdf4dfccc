"""Dataset runs: CERTIFY over a dataset slice into a resumable, shardable Cohen-format TSV.

Output format (Cohen et al. 2019, code ``certify.py``): a tab-separated file with the header
``idx label predict radius correct time`` and one row per input, followed here by extra columns
(see :data:`COLUMNS`): the certificate name, the confidence bounds ``pA_lower`` / ``pB_upper``
handed to it, the estimation and selection counts (comma-separated, one per class) and the run
parameters ``n0 n alpha rule precision seed``; a double-sampling run (a certificate whose noise has a
second distribution Q, Li et al. 2022: ``mode = double``, :mod:`.double_sampling`) adds the
columns ``qA_lower`` and ``counts_q`` (the Q estimation counts) at the end, and its ``pA_lower``
and ``qA_lower`` are at alpha/2 each. Floats are written with ``repr`` (full precision;
Cohen printed 3 digits); ``time`` is ``h:mm:ss.ffffff`` as in Cohen's files. An abstention has
``predict = -1``, ``radius = 0.0`` and ``correct = 0``.

Crash safety. Each row is written with one ``os.write`` of the whole line on an ``O_APPEND``
descriptor, then flushed to disk (``os.fsync``). A restarted run reads the rows already there,
truncates a trailing partial line (the only damage a kill can leave), checks the rows were made
with the same certificate and parameters, and certifies only the missing inputs: the file ends
with exactly one row per input.

Run record. Next to each results file ``<out>`` a sidecar ``<out>.json`` (written atomically
before the first row) records what produced it (:func:`run_record`): the certificate with all its
parameters, the model (kind, architecture, file, SHA-256 of the file and of its tensors), the data
(source, SHA-256 of the arrays, input shape), ``n0 n alpha rule precision seed mode`` (and the
sequential ``radii``/``tol``), and the package and torch versions. A resume whose record differs
in anything is refused with :class:`~smoothcert.core.errors.BadInput` naming each difference; a
file with rows but no record (an older version's) is refused too: it cannot be checked.

Reproducibility. Input ``idx`` is certified with its own ``torch.Generator`` seeded from
``(seed, idx)`` (:func:`input_seed`), so a resumed, sharded or single run writes the same rows
(except ``time``).

Sharding. Under ``torchrun --nproc_per_node=N`` (``RANK`` / ``WORLD_SIZE`` in the environment) the
selected inputs are dealt round-robin to the ranks; rank ``k`` writes ``<out>.rank<k>.tsv``
(resumable like above), the ranks meet at a barrier (``gloo`` on CPU, ``nccl`` on CUDA, one GPU
per ``LOCAL_RANK``, :func:`rank_device`) and rank 0 merges the shards into ``<out>`` sorted by ``idx``, through a
temporary file and ``os.replace``. The shards are kept, so a re-run resumes and merges again.
From the command line: ``torchrun --standalone --nproc_per_node=2 -m smoothcert -- certify ...``
(the ``--`` keeps torchrun's own parser from taking ``--n`` or ``--max`` as abbreviations).
Several machines: one torchrun per node (``--nnodes``, ``--node_rank``, ``--master_addr``); the
shards are written where ``<out>`` is, so ``<out>`` must be on a file system every node shares.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed

from ..core.atomic import atomic_path, atomic_write_text
from ..core.checks import check_alpha, check_counts, check_int
from ..core.errors import BadInput
from .double_sampling import ALPHA_SPLIT, takes_second_sample
from .double_sampling import COLUMNS as DOUBLE_COLUMNS

COLUMNS = ("idx", "label", "predict", "radius", "correct", "time", "certificate", "pA_lower",
           "pB_upper", "counts", "counts_select", "n0", "n", "alpha", "rule", "precision", "seed",
           "mode", "samples")
HEADER = "\t".join(COLUMNS) + "\n"
#: The header of a double-sampling run (the Q columns appended).
DOUBLE_HEADER = "\t".join(COLUMNS + DOUBLE_COLUMNS) + "\n"
#: The columns that must agree between the rows already in a file and the run resuming it.
RUN_COLUMNS = ("certificate", "n0", "n", "alpha", "rule", "precision", "seed", "mode")


# ---------------------------------------------------------------------------------------------
# selection, seeds, paths
def select_indices(num_inputs: int, skip: int = 1, max_count: int | None = None) -> list[int]:
    """Dataset indices 0, skip, 2 skip, ... (at most ``max_count`` of them).

    Note: Cohen et al.'s ``--max`` stops at *index* ``max``; ``max_count`` counts inputs.
    """
    num_inputs = check_int("num_inputs", num_inputs, minimum=0)
    skip = check_int("skip", skip, minimum=1)
    idx = list(range(0, num_inputs, skip))
    if max_count is not None:
        idx = idx[: check_int("max_count", max_count, minimum=0)]
    return idx


def input_seed(seed: int, idx: int) -> int:
    """A 63-bit seed for input ``idx`` of a run with ``seed`` (numpy SeedSequence hashing)."""
    state = np.random.SeedSequence([check_int("seed", seed, minimum=0),
                                    check_int("idx", idx, minimum=0)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def shard_path(out_path, rank: int) -> str:
    """``results.tsv`` -> ``results.rank<k>.tsv`` (other names get ``.rank<k>.tsv`` appended)."""
    out = os.fspath(out_path)
    stem = out[:-4] if out.endswith(".tsv") else out
    return f"{stem}.rank{rank}.tsv"


# ---------------------------------------------------------------------------------------------
# rows
def _fmt_float(v) -> str:
    return repr(float(v))


def _fmt_counts(c) -> str:
    return ",".join(str(int(v)) for v in np.asarray(c).ravel())


def _header(run: dict) -> str:
    return DOUBLE_HEADER if run.get("mode") == "double" else HEADER


def format_row(idx, label, result, seconds, run: dict) -> str:
    """One TSV line (with newline) for a :class:`~smoothcert.gpu_sampler.sampler.CertifyResult`
    (a :class:`~.double_sampling.DoubleCertifyResult` in a ``mode = double`` run)."""
    predict = int(result.prediction)
    fields = {
        "idx": str(int(idx)),
        "label": str(int(label)),
        "predict": str(predict),
        "radius": _fmt_float(result.radius),
        "correct": str(int(predict == int(label))),
        "time": str(datetime.timedelta(seconds=float(seconds))),
        "pA_lower": _fmt_float(result.p_a_lower),
        "pB_upper": _fmt_float(result.p_b_upper),
        "counts": _fmt_counts(result.counts_estimate),
        "counts_select": _fmt_counts(result.counts_select),
        "samples": str(getattr(result, "samples", int(run["n0"]) + int(run["n"]))),
        "mode": "fixed",  # runs described before the sequential modes existed
        **{k: str(v) for k, v in run.items()},
    }
    if run.get("mode") == "double":
        fields.update(qA_lower=_fmt_float(result.q_a_lower), counts_q=_fmt_counts(result.counts_q))
    return "\t".join(fields[c] for c in _header(run).rstrip("\n").split("\t")) + "\n"


@dataclass
class ShardState:
    """Rows already in a result file: ``rows[idx]`` is the line (with newline)."""

    rows: dict


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def recover(path, run: dict, header: str | None = None) -> ShardState:
    """Open ``path`` for resuming: create it with the header, or read its complete rows.

    A trailing partial line (no newline: the run was killed inside a write) is truncated away.
    Rows made with other run parameters (every key of ``run``: :data:`RUN_COLUMNS` here), a
    foreign header, malformed or duplicated rows raise ``ValueError`` naming the file: delete it
    or choose another ``out_path``. ``header`` (with newline) is this module's unless given
    (another runner's columns, e.g. :mod:`.topk_dataset`).
    """
    path = os.fspath(path)
    header = header or _header(run)
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:  # drop the partial last line
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
        data = data[:end]
    if not data:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, header.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return ShardState({})
    lines = data.decode().splitlines(keepends=True)
    if lines[0] != header:
        raise BadInput(f"out_path={path!r} exists with another header ({lines[0].strip()!r}); "
                         "delete it or choose another out_path")
    rows, names = {}, lines[0].rstrip("\n").split("\t")
    for number, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != len(names) or not fields[0].isdigit():
            raise ValueError(f"out_path={path!r}: line {number} is not a result row: {line!r}")
        rec = dict(zip(names, fields))
        for key in run:
            if rec[key] != str(run[key]):
                raise BadInput(
                    f"out_path={path!r} holds rows with {key}={rec[key]!r}, this run has "
                    f"{key}={run[key]!r}; delete the file or choose another out_path")
        idx = int(fields[0])
        if idx in rows:
            raise ValueError(f"out_path={path!r}: idx {idx} appears twice (line {number})")
        rows[idx] = line
    return ShardState(rows)


def merge_shards(out_path, world_size: int, expected=None) -> str:
    """Join ``<out>.rank<k>.tsv`` for k < ``world_size`` into ``out_path``, sorted by idx.

    Every shard must be complete: with ``expected`` (the selected indices) the union of the shard
    rows must be exactly that set; an index in two shards raises ``ValueError``. Written to a
    temporary file in the same folder, then ``os.replace``: ``out_path`` is never half-written.
    """
    world_size = check_int("world_size", world_size, minimum=1)
    rows, header = {}, None
    for rank in range(world_size):
        path = shard_path(out_path, rank)
        if not os.path.exists(path):
            raise ValueError(f"shard {path!r} (rank {rank} of {world_size}) does not exist")
        with open(path) as f:
            lines = f.readlines()
        if not lines or lines[0] not in (HEADER, DOUBLE_HEADER) or header not in (None, lines[0]):
            raise ValueError(f"shard {path!r} has no result header (or another shard's)")
        header = lines[0]
        for line in lines[1:]:
            if not line.endswith("\n"):
                raise ValueError(f"shard {path!r} ends in a partial line: resume the run first")
            idx = int(line.split("\t", 1)[0])
            if idx in rows:
                raise ValueError(f"idx {idx} appears in two shards (second: {path!r})")
            rows[idx] = line
    if expected is not None:
        missing = sorted(set(expected) - set(rows))
        extra = sorted(set(rows) - set(expected))
        if missing or extra:
            raise ValueError(f"shards of {os.fspath(out_path)!r} do not cover the run: "
                             f"missing idx {missing[:10]}, unexpected idx {extra[:10]}")
    out = os.fspath(out_path)
    with atomic_path(out) as tmp, open(tmp, "w") as f:
        f.write(header)
        f.writelines(rows[i] for i in sorted(rows))
        f.flush()
        os.fsync(f.fileno())
    return out


# ---------------------------------------------------------------------------------------------
# run records
def record_path(out_path) -> str:
    """The sidecar of a results file: ``<out>.json``."""
    return os.fspath(out_path) + ".json"


def _plain(value):
    """JSON-ready: arrays and tuples to lists, numpy scalars to Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_record(cert, model_info: dict, data_info: dict, run: dict, extra: dict | None = None) -> dict:
    """What produced a results file, as plain JSON data (see the module docstring)."""
    import smoothcert

    record = {**run, **(extra or {}), "format": "smoothcert-run/1",
              "package_version": smoothcert.__version__, "torch_version": torch.__version__.split("+")[0],
              "certificate": {"name": cert.name, "params": cert.params},
              "model": model_info, "data": data_info}
    return json.loads(json.dumps(_plain(record)))


def _differences(old, new, prefix="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in _differences(old.get(k, "<absent>"), new.get(k, "<absent>"), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]}: file {old!r}, this run {new!r}"]


def check_record(out_path, record: dict, has_rows: bool) -> None:
    """Write ``record`` next to ``out_path``, or refuse a resume whose record differs.

    With rows already in ``out_path`` the sidecar must exist and equal ``record``; otherwise
    (a new file, or one without rows yet) the sidecar is (re)written atomically.
    """
    side = record_path(out_path)
    if has_rows:
        if not os.path.exists(side):
            raise BadInput(f"out_path={os.fspath(out_path)!r} holds rows but no run record {side!r} "
                           "(an older version's file?): nothing shows which run made them; delete "
                           "it or choose another out_path")
        with open(side) as f:
            try:
                old = json.load(f)
            except ValueError as exc:
                raise BadInput(f"run record {side!r} is not JSON ({exc}); delete it and {os.fspath(out_path)!r}") from exc
        diff = _differences(old, record)
        if diff:
            raise BadInput(f"out_path={os.fspath(out_path)!r} was made by another run: {'; '.join(diff)}; "
                           "delete the file or choose another out_path")
        return
    atomic_write_text(side, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _has_rows(path: str) -> bool:
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        return b"\n" in f.read().split(b"\n", 1)[-1]


def identities(model, images, labels, model_info=None, data_info=None) -> tuple[dict, dict]:
    """``(model_info, data_info)`` for a run record: the given ones, else the model's class and
    tensor hash (:func:`~.user_model.model_identity`) and the arrays' hash."""
    if model_info is None:
        from .user_model import model_identity

        model_info = model_identity(model)
    if data_info is None:
        from .data import array_sha256

        data_info = {"source": "arrays", "sha256": array_sha256(images, labels)}
    return model_info, data_info


def append_rows(path, run: dict, record: dict, selected, make_row, desc: str, progress=True,
                header: str | None = None) -> None:
    """The resumable part of a dataset run, shared by every runner (this module's
    :func:`certify_dataset`, :func:`.topk_dataset.certify_topk_dataset`).

    Writes the run record next to ``path`` or refuses a resume made by another run
    (:func:`check_record`), recovers the rows already in ``path`` (:func:`recover`, with
    ``header``), refuses rows outside ``selected``, then for each selected idx without a row
    appends ``make_row(idx)`` (one whole line) with one ``os.write`` on an ``O_APPEND``
    descriptor and ``os.fsync`` (module docstring, crash safety), with a progress bar."""
    from tqdm import tqdm

    check_record(path, record, _has_rows(path))
    state = recover(path, run, header)
    stray = sorted(set(state.rows) - set(selected))
    if stray:
        raise ValueError(f"out_path={path!r} holds rows for idx {stray[:10]} outside this run's "
                         "selection (other skip/max_count/world size?); delete it or choose another out_path")
    todo = [i for i in selected if i not in state.rows]
    bar = tqdm(total=len(selected), initial=len(selected) - len(todo), disable=not progress,
               desc=desc, unit="input", file=sys.stderr, dynamic_ncols=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for i in todo:
            _write_all(fd, make_row(i).encode())
            os.fsync(fd)
            bar.update(1)
    finally:
        os.close(fd)
        bar.close()


# ---------------------------------------------------------------------------------------------
# distributed context
def dist_context():
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` without)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world < 1 or not (0 <= rank < world):
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} from the environment are inconsistent")
    return rank, world, local


def _init_process_group(device: torch.device) -> bool:
    """Join torchrun's process group unless already in one; True when this call created it."""
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(days=7))
    return True


def _barrier(device: torch.device) -> None:
    import torch.distributed as dist

    if device.type == "cuda":
        dist.barrier(device_ids=[device.index])
    else:
        dist.barrier()


def rank_device(local_rank: int) -> torch.device:
    """``cuda:LOCAL_RANK``: one GPU per rank on each node. More ranks on a node than it has GPUs
    is an error (NCCL refuses two ranks on one GPU), not a silent sharing of ``cuda:0``."""
    count = torch.cuda.device_count()
    if not 0 <= local_rank < count:
        raise BadInput(f"LOCAL_RANK={local_rank} but this node has {count} CUDA device(s): start "
                         f"torchrun with --nproc_per_node <= {count}, or run on the CPU (device='cpu')")
    return torch.device("cuda", local_rank)


def _run_device(model, device, local_rank: int, world: int) -> torch.device:
    """``device`` if given; else the model's: a CUDA model runs on ``cuda:LOCAL_RANK`` under
    torchrun (:func:`rank_device`), a CPU model (or a callable) on the CPU."""
    if device is not None:
        return torch.device(device)
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    here = params[0].device if params else torch.device("cpu")
    if world > 1 and here.type == "cuda":
        return rank_device(local_rank)
    return here


def _input_tensor(images, i: int, device) -> torch.Tensor:
    img = images[i]
    if isinstance(img, torch.Tensor):
        x = img.to(device=device, dtype=torch.float32)
    else:
        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            raise TypeError(f"images must be uint8 pixels or a float tensor in [0, 1], got {arr.dtype}")
        x = torch.from_numpy(arr.astype(np.float32) / 255.0).to(device)
    return x.unsqueeze(0) if x.ndim == 2 else x


# ---------------------------------------------------------------------------------------------
def certify_dataset(model, cert, images, labels, out_path, n0=100, n=100_000, alpha=0.001,
                    batch_size=1000, skip=1, max_count=None, rule="binary", precision="float32",
                    seed=0, progress=True, device=None, merge=True, mode="fixed",
                    radii=(0.25, 0.5, 0.75, 1.0), tol=None, model_info=None, data_info=None,
                    compile="auto") -> str:
    """Cohen et al. (2019) CERTIFY on ``images[::skip][:max_count]``, one TSV row per input.

    ``images``: uint8 ``(N, H, W)`` / ``(N, C, H, W)`` pixels or a float tensor in [0, 1];
    ``labels``: ``N`` integers. ``n0``, ``n``, ``alpha``, ``batch_size``, ``rule``, ``precision``
    go to :func:`smoothcert.gpu_sampler.sampler.certify` (alpha per input: each row holds with
    probability >= 1 - alpha). ``model_info`` / ``data_info`` identify the model and data in the
    run record (default: the model's class and tensor hash, the arrays' hash; the command line
    passes the file names and hashes). Resumes an interrupted run made with the same record
    (else :class:`~smoothcert.core.errors.BadInput`); under torchrun writes a shard per
    rank and (``merge=True``) rank 0 merges them. Returns the path written by this process
    (``out_path``, or the rank's shard when this rank does not merge).
    """
    from ..estimators import certify_counts
    from ..estimators.sequential import _check_radii, _check_tol
    from .double_sampling import certify_double
    from .sampler import PRECISIONS, _check_compile, certify
    from .sequential import MODES, certify_sequential

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    # Validate cert and rule (e.g. a binary-only theorem with rule='runner-up') before any file
    # is touched, through the same check CERTIFY applies, on dummy counts.
    certify_counts(np.array([1, 1]), cert, 0.5, rule=rule)
    n0 = check_int("n0", n0, minimum=1)
    n = check_int("n", n, minimum=1)
    alpha = check_alpha(alpha)
    seed = check_int("seed", seed, minimum=0)
    if mode not in ("fixed",) + MODES:
        raise ValueError(f"mode must be one of {('fixed',) + MODES}, got {mode!r}")
    # Every option the sampler would check only at the first input is checked here, before the
    # run record or the header is written (a refused run leaves no file behind).
    check_int("batch_size", batch_size, minimum=1)
    _check_compile(compile)
    if compile is True and mode == "fixed" and not isinstance(model, torch.nn.Module):
        raise TypeError(f"compile=True needs a torch.nn.Module model, got {type(model).__name__}")
    if mode == "target":
        _check_radii(radii)
    elif mode == "budget":
        _check_tol(tol)
    double = takes_second_sample(cert)
    if double and mode != "fixed":
        raise ValueError(f"mode={mode!r} draws one count set; {cert.name} certifies from two "
                         "(P and Q, fixed n each): use mode='fixed'")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    labels = np.asarray(labels)
    check_counts("labels", labels)  # class indices: int() of each row's label must not fail later
    indices = select_indices(len(images), skip, max_count)
    model_info, data_info = identities(model, images, labels, model_info, data_info)
    extra = {} if mode == "fixed" else {"radii": list(radii)} if mode == "target" else {"tol": tol}
    if double:
        mode, extra = "double", {"n_q": n, "alpha_split": ALPHA_SPLIT}
    rank, world, local_rank = dist_context()
    device = _run_device(model, device, local_rank, world)
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    created_group = _init_process_group(device) if world > 1 else False
    path = shard_path(out_path, rank) if world > 1 else os.fspath(out_path)
    run = {"certificate": cert.name, "n0": n0, "n": n, "alpha": repr(alpha), "rule": rule,
           "precision": precision, "seed": seed, "mode": mode}
    mine = indices[rank::world]
    if mine:
        _input_tensor(images, mine[0], device)  # bad pixels fail before any file is touched
    record = run_record(cert, model_info, data_info, run, extra)

    def row(i: int) -> str:
        gen = torch.Generator(device=device).manual_seed(input_seed(seed, i))
        opts = dict(n0=n0, n=n, alpha=alpha, batch_size=batch_size, rule=rule, generator=gen,
                    precision=precision, batched=False)
        if mode == "fixed":  # compile: the sampler's option (gpu_sampler/sampler.py)
            res = certify(model, _input_tensor(images, i, device), cert, compile=compile, **opts)
        elif mode == "double":
            del opts["rule"]  # binary (checked above): DSRS is a binary theorem
            res = certify_double(model, _input_tensor(images, i, device), cert, compile=compile, **opts)
        else:
            res = certify_sequential(model, _input_tensor(images, i, device), cert, mode,
                                     radii=radii, tol=tol, **opts)
        return format_row(i, labels[i], res, res.seconds, run)

    append_rows(path, run, record, mine, row, progress=progress,
                desc=f"certify {cert.name}" + (f" [rank {rank}/{world}]" if world > 1 else ""))
    if world == 1:
        return path
    try:
        _barrier(device)
        if rank == 0 and merge:
            path = merge_shards(out_path, world, expected=indices)
            check_record(path, record, has_rows=False)
        _barrier(device)  # every rank returns once the merged file exists
    finally:
        if created_group:
            torch.distributed.destroy_process_group()
    return path


def read_rows(path) -> list[dict]:
    """The rows of a result file as dicts of strings (header names as keys)."""
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] + "\n" not in (HEADER, DOUBLE_HEADER):
        raise ValueError(f"{os.fspath(path)!r} is not a smoothcert result file")
    names = lines[0].split("\t")
    return [dict(zip(names, line.split("\t"))) for line in lines[1:]]
