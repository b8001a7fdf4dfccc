"""Memory-based certification for per-input smoothing parameters (Alfarra et al. 2022, Sec. 3.5).

Why it is needed (docs/contributing.md, Soundness). The randomized-smoothing theorems (Cohen et al. Thm 1,
ARS Thm 4.2, ANCER Cor. 1/2) certify the smoothed classifier ``g_theta`` of ONE fixed
distribution ``theta``. Choosing ``theta(x)`` per input (data-dependent sigma, ANCER, the ARS
noise generator) gives the classifier ``G(x) = g_theta(x)(x)``; a certificate of ``g_theta(x)``
at ``x`` says nothing about ``G(x + delta) = g_theta(x + delta)(x + delta)``, because the
parameters move with the point. Such results are not certificates.

Alfarra et al. (Sec. 3.5, "memory-based certification") repair this with a stateful classifier
``G_M``: a memory ``M`` of certified triples ``(x_i, c_i, R_i)``; on a query ``x``, if ``x`` lies
in some stored region ``R_i`` the answer is ``c_i``; otherwise the answer is the per-input smoothed
prediction, and its region is stored. Every stored region then keeps its promise for every later
query, provided regions of different classes never intersect. Inputs are processed in order:

1. ``x`` possibly inside a stored region ``R_j`` (class ``c_j``; the gauge rounded down is at
   most ``gap_j``, so rounding cannot exclude it) -- the memory answers ``c_j`` ("reassigned" when
   ``c_j`` differs from the per-input prediction; an abstention if rounding leaves ``x`` possibly
   inside regions of two classes). When ``x`` is provably strictly inside, the certified set is
   the copy of ``R_j``'s shape centred at ``x`` that fits inside ``R_j``: with the gauge
   ``u = ||(x - x_j)/s_j||_p`` rounded up (triangle inequality of the weighted norm) the region
   ``||delta/s_j||_p <= gap_j - u`` lies in ``R_j``.
2. Otherwise the per-input region ``R`` is shrunk (``gap -> t * gap``) until it is disjoint from
   every stored region of another class ("shrunk"); same-class overlap is harmless.

Disjointness and containment are proven, not guessed: the torch-free geometry (support
functions, the separating-direction search, directed rounding of the gauge) lives in
:mod:`smoothcert.bounds.separation`; this module keeps the memory, its log file and the records.

What the promise covers: ``G_M`` is stateful and its answers depend on the order of the queries; a
stored region is a promise about every query made after it was issued (an input queried earlier is
not covered) -- through the same memory. A memory that lives for one call cannot keep it: x
certified in one call and a perturbed copy certified in another would get two contradicting
certificates. So the memory persists in an append-only file (``MemoryCertifier(path)``, shared by
every call and run that certifies with the same smoothed classifier), and a result certified
through a memory of one call only says so (``"memory-this-call-only"``, not sound).

Cost: every new input is checked against every stored entry (O(N^2 d) overall, the cross-polytope
LP being the expensive case: about 0.05 s per pair at d = 784).

Every record says which procedure produced it (``PROCEDURES``): a fixed distribution for the
whole dataset (the theorems apply as stated), memory-based certification, a memory of one call
only, or per-input parameters without memory -- the last two are flagged unsound in every output
and never counted as certified in a sound number (``summarize``).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from ...core.atomic import FILE_MODE
from ...bounds.regions import WeightedLpBall
from ...bounds.separation import best_separation_scale, gauge_bounds, inner_region, region_axes
from ...core.checks import as_float_array, check_finite, check_int
from .checkpoint import ParameterCheckpoint

#: How a certificate was produced; ``sound`` says whether it is a promise.
PROCEDURES = {
    "fixed-distribution": "one smoothing distribution for the whole dataset: the theorem applies as stated",
    "memory-based": "per-input parameters through memory-based certification (Alfarra et al. 2022, Sec. 3.5) "
                    "with every earlier answer in the memory",
    "memory-this-call-only": "per-input parameters through a memory kept for one call only: inputs certified "
                             "in other calls or runs are not in it, so NOT a certificate",
    "per-input-unsound": "per-input parameters WITHOUT memory-based certification: NOT a certificate",
}
SOUND_PROCEDURES = frozenset({"fixed-distribution", "memory-based"})
#: What the memory did with the per-input certificate.
ACTIONS = ("certified", "shrunk", "reassigned", "inherited", "abstained")

#: Relative amount by which a shrunk region stays below the proven separation factor.
SHRINK_SLACK = 1e-9

UNSOUND_MARK = "UNSOUND (per-input parameters, no memory)"
#: The mark each unsound procedure carries in every output.
UNSOUND_MARKS = {
    "per-input-unsound": UNSOUND_MARK,
    "memory-this-call-only": "UNSOUND (memory of this call only, earlier answers missing)",
}


def check_procedure(procedure: str) -> str:
    if procedure not in PROCEDURES:
        raise ValueError(f"procedure must be one of {sorted(PROCEDURES)}, got {procedure!r}")
    return procedure


def label_with_soundness(label: str, procedure: str) -> str:
    """A figure-legend / table label that carries the unsound mark when it applies."""
    check_procedure(procedure)
    return label if procedure in SOUND_PROCEDURES else f"{label} [{UNSOUND_MARKS[procedure]}]"


@dataclass
class CertifiedRecord:
    """One certified input: prediction (-1 abstains), region (None when nothing is certified),
    the procedure that produced it and what the memory did (``ACTIONS``)."""

    index: int
    prediction: int
    region: WeightedLpBall | None
    procedure: str
    action: str
    own_prediction: int
    own_region: WeightedLpBall | None = None
    extra: dict = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return self.procedure in SOUND_PROCEDURES

    @property
    def radius(self) -> float:
        """Radius of the largest ball (the region's p) inside the region; 0.0 if none."""
        if self.region is None or self.region.gap == 0:
            return 0.0
        return self.region.enclosed_radius()

    def proxy_radius(self, dim: int) -> float:
        """Equal-volume radius of the region (ANCER Sec. 5.1); 0.0 if none."""
        if self.region is None or self.region.gap == 0:
            return 0.0
        return self.region.proxy_radius(dim)


# ---------------------------------------------------------------------------------------------
# the persistent log: one JSON line per answer, "<crc32 hex> <json>\n", appended and fsynced
def _region_json(region: WeightedLpBall | None):
    if region is None:
        return None
    scales = float(region.scales) if region.isotropic else region.scales.reshape(-1).tolist()
    return {"p": region.p, "scales": scales, "shape": list(region.shape), "gap": region.gap,
            "dim": region.dim}


def _region_from_json(d) -> WeightedLpBall | None:
    if d is None:
        return None
    scales = np.asarray(d["scales"], dtype=np.float64).reshape(d["shape"])
    return WeightedLpBall(p=d["p"], scales=scales, gap=d["gap"],
                          dim=d["dim"] if scales.ndim == 0 else None)


def _plain(v):
    """JSON form of an ``extra`` value (numpy scalars become Python numbers)."""
    return v.item() if isinstance(v, np.generic) else v


def _encode(key, x: np.ndarray, rec: CertifiedRecord) -> bytes:
    body = {"key": key, "x": x.tolist(), "index": rec.index, "prediction": rec.prediction,
            "region": _region_json(rec.region), "action": rec.action,
            "own_prediction": rec.own_prediction, "own_region": _region_json(rec.own_region),
            "extra": {k: _plain(v) for k, v in rec.extra.items()}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


def _decode(line: bytes):
    """``(key, x, record)`` of one log line, or None when the line is damaged (bad checksum/JSON)."""
    try:
        crc, text = line.decode().split(" ", 1)
        if int(crc, 16) != zlib.crc32(text.encode()):
            return None
        b = json.loads(text)
        rec = CertifiedRecord(index=int(b["index"]), prediction=int(b["prediction"]),
                              region=_region_from_json(b["region"]), procedure="memory-based",
                              action=b["action"], own_prediction=int(b["own_prediction"]),
                              own_region=_region_from_json(b["own_region"]), extra=dict(b["extra"]))
        return b["key"], np.asarray(b["x"], dtype=np.float64), rec
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _read_log(path: str):
    """The trusted records of a log and the byte length they end at.

    Every record was fsynced before its answer was returned, so only the last one can be torn by a
    crash; that answer was never issued, and it is dropped. A damaged record before the last one is
    not a crash: the file was altered, and it is refused.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")  # the last item is what follows the final newline (b"" if complete)
    out, end = [], 0
    for i, line in enumerate(lines[:-1]):
        got = _decode(line)
        if got is None:
            if i == len(lines) - 2 and not lines[-1]:
                break
            raise ValueError(f"memory file {path!r} is damaged at record {i + 1}: refusing to use it")
        out.append(got)
        end += len(line) + 1
    return out, end, len(data)


class MemoryCertifier:
    """Alfarra et al. (2022) Sec. 3.5 memory: feed per-input certificates in order with
    :meth:`certify`; every returned region is disjoint from all stored regions of other classes.

    Regions are :class:`~smoothcert.bounds.regions.WeightedLpBall` centred at the input (as
    returned by ``cert.region(p_a, p_b)``); inputs of any fixed shape (flattened internally).

    ``path``: an append-only log (JSON lines with a checksum, each fsynced before its answer is
    returned) that makes the memory persist across calls and runs: opening it replays every earlier
    answer, so a later query inside an earlier region gets that region's class. One file per
    smoothed classifier (model and parameter rule). A torn last record (a crash while writing it:
    its answer was never returned) is dropped with a warning and cut off; ``dropped_bytes`` says how
    much. ``path=None`` keeps the memory in this object only.
    """

    def __init__(self, path=None):
        self.path = None if path is None else os.fspath(path)
        self._centres: list[np.ndarray] = []
        self._classes: list[int] = []
        self._regions: list[WeightedLpBall] = []
        self._dim: int | None = None
        self._answers: dict[str, tuple[np.ndarray, CertifiedRecord]] = {}
        self.dropped_bytes = 0
        if self.path is not None and os.path.exists(self.path):
            self._load()

    def _load(self):
        records, end, size = _read_log(self.path)
        for key, x, rec in records:
            self._flat(x)
            self._remember(key, x, rec)
        if end < size:
            self.dropped_bytes = size - end
            warnings.warn(f"memory file {self.path!r}: dropped a torn last record ({size - end} bytes) "
                          "left by an interrupted write; its answer was never returned", stacklevel=3)
            os.truncate(self.path, end)

    def __len__(self):
        return len(self._regions)

    def _flat(self, x) -> np.ndarray:
        arr = as_float_array("x", x)
        check_finite("x", arr, x)
        flat = arr.reshape(-1).astype(np.float64)
        if self._dim is None:
            self._dim = flat.size
        elif flat.size != self._dim:
            raise ValueError(f"x must have {self._dim} entries like the earlier inputs, got shape {arr.shape}")
        return flat

    def _check_region(self, region):
        if region is None:
            return None
        if not isinstance(region, WeightedLpBall):
            raise TypeError(f"region must be a WeightedLpBall or None, got {type(region).__name__}")
        if not region.isotropic and region.scales.size != self._dim:
            raise ValueError(f"region has {region.scales.size} coordinates, x has {self._dim}")
        if region.isotropic and region.dim is not None and region.dim != self._dim:
            raise ValueError(f"region has dim={region.dim}, x has {self._dim} entries")
        with np.errstate(over="ignore"):
            finite = bool(np.all(np.isfinite(region.gap * np.asarray(region.scales, dtype=np.float64))))
        if not finite:  # an infinite gap (p_a = 1) or an overflowing product: no separation is computable
            raise ValueError(f"region must have finite semi-axes gap * scales, got gap={region.gap!r} "
                             f"(largest scale {float(np.max(region.scales))!r})")
        return region

    def _covering(self, x):
        """Stored entries that may contain x: ``(index, inner region or None)``; the inner region
        is None when x is only possibly inside (rounding cannot tell). Possibly inside counts as
        inside: answering another class there could break that region's promise."""
        out = []
        for j, (c, r) in enumerate(zip(self._centres, self._regions)):
            if gauge_bounds(r, x, c)[0] <= r.gap:
                out.append((j, inner_region(r, x, c)))
        return out

    def _shrink_factor(self, x, prediction, region) -> float:
        """Largest sound factor in [0, 1] making ``region`` disjoint from other-class regions."""
        b = region_axes(region, self._dim)
        t = 1.0
        for c, cls, r in zip(self._centres, self._classes, self._regions):
            if cls == prediction:
                continue
            a = region_axes(r, self._dim)
            t = min(t, best_separation_scale(x - c, a, r.p, b, region.p))
            if t <= 0:
                return 0.0
        return t

    def recall(self, key: str, x) -> CertifiedRecord | None:
        """The answer given earlier under ``key`` (this run or an earlier one), or None."""
        if key not in self._answers:
            return None
        x0, rec = self._answers[key]
        if not np.array_equal(self._flat(x), x0):
            raise ValueError(f"key {key!r} was certified for a different input")
        return copy.deepcopy(rec)

    def certify(self, x, prediction: int, region: WeightedLpBall | None, index: int = -1,
                key: str | None = None, **extra) -> CertifiedRecord:
        """Process one input: the memory's answer and certified region for ``x``.

        ``prediction``/``region`` are the per-input smoothed classifier's (``prediction = -1`` or
        ``region = None`` when it abstained). The record's ``action`` is one of ``ACTIONS``.
        ``key`` names the query: asked again (this run or a later one), the first answer is
        returned unchanged. Stored regions whose classes differ are proven disjoint, so x is
        provably inside at most one class's regions; when rounding leaves x possibly inside
        regions of two classes the memory abstains.
        """
        if key is not None and key in self._answers:
            return self.recall(key, x)
        x = self._flat(x)
        prediction = check_int("prediction", prediction, minimum=-1)
        region = self._check_region(region)
        if prediction == -1:
            region = None
        extra = {**extra, "memory_regions": len(self)}
        inside = self._covering(x)
        dim = self._dim
        strict = [jr for jr in inside if jr[1] is not None]
        if strict:
            j, inner = max(strict, key=lambda jr: jr[1].proxy_radius(dim))
        elif len({self._classes[j] for j, _ in inside}) == 1:
            j, inner = inside[0]
        elif inside:
            return self._store(key, x, -1, None, "abstained", index, prediction, region, extra)
        if inside:
            cls = self._classes[j]
            action = "inherited" if cls == prediction else "reassigned"
            candidates = [(inner, action)]
            if cls == prediction and region is not None and region.gap > 0:
                candidates.append((self._shrunk(x, prediction, region), "shrunk"))
            best, action = max(candidates, key=lambda ra: ra[0].proxy_radius(dim) if ra[0] else -1.0)
            if action == "shrunk" and best is not None and best.gap == region.gap:
                action = "certified"
            return self._store(key, x, cls, best, action, index, prediction, region, extra)
        if region is None or region.gap == 0:
            return self._store(key, x, prediction, None, "abstained" if prediction == -1 else "certified",
                               index, prediction, region, extra)
        shrunk = self._shrunk(x, prediction, region)
        action = "certified" if shrunk.gap == region.gap else "shrunk"
        return self._store(key, x, prediction, shrunk, action, index, prediction, region, extra)

    def _shrunk(self, x, prediction, region) -> WeightedLpBall:
        t = self._shrink_factor(x, prediction, region)
        if t >= 1.0:
            return region
        # SHRINK_SLACK: a relative 1e-9 below the proven factor, so that re-checking the stored
        # regions (``consistent``, with fresh rounding margins) proves them disjoint again.
        gap = max(region.gap * t * (1 - SHRINK_SLACK), 0.0)
        return WeightedLpBall(p=region.p, scales=region.scales, gap=gap)

    def _store(self, key, x, cls, region, action, index, own_pred, own_region, extra) -> CertifiedRecord:
        rec = CertifiedRecord(index=index, prediction=int(cls), region=region,
                              procedure="memory-based", action=action,
                              own_prediction=int(own_pred), own_region=own_region, extra=dict(extra))
        if self.path is not None:
            self._append(_encode(key, x, rec))
        self._remember(key, x, rec)
        return rec

    def _append(self, line: bytes) -> None:
        """Append one record and fsync it before its answer is returned (the promise is on disk)."""
        new = not os.path.exists(self.path)
        if new:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if new:
            os.chmod(self.path, FILE_MODE)

    def _remember(self, key, x, rec: CertifiedRecord) -> None:
        region = rec.region
        if region is not None and region.gap > 0 and rec.prediction >= 0:
            self._centres.append(x)
            self._classes.append(rec.prediction)
            self._regions.append(region)
        if key is not None:
            self._answers[key] = (x, copy.deepcopy(rec))

    def consistent(self) -> bool:
        """Check (soundly) that no two stored regions of different classes intersect."""
        for i in range(len(self)):
            for j in range(i):
                if self._classes[i] == self._classes[j]:
                    continue
                d = self._centres[i] - self._centres[j]
                a = region_axes(self._regions[j], self._dim)
                b = region_axes(self._regions[i], self._dim)
                if best_separation_scale(d, a, self._regions[j].p, b, self._regions[i].p) < 1.0:
                    return False
        return True


def unsound_record(prediction: int, region, index: int = -1, **extra) -> CertifiedRecord:
    """A per-input result reported WITHOUT memory: kept for comparison, marked unsound."""
    return CertifiedRecord(index=index, prediction=int(prediction), region=region,
                           procedure="per-input-unsound", action="certified" if prediction >= 0 else "abstained",
                           own_prediction=int(prediction), own_region=region, extra=dict(extra))


def fixed_record(prediction: int, region, index: int = -1, **extra) -> CertifiedRecord:
    """A certificate of one fixed (dataset-wide) distribution: sound as the theorem states."""
    return CertifiedRecord(index=index, prediction=int(prediction), region=region,
                           procedure="fixed-distribution",
                           action="certified" if prediction >= 0 else "abstained",
                           own_prediction=int(prediction), own_region=region, extra=dict(extra))


# ---------------------------------------------------------------------------------------------
def certify_sequence(model, xs, certs, procedure: str, shifts=None, n0: int = 100, n: int = 100_000,
                     alpha: float = 0.001, batch_size: int = 1000, rule: str = "binary", generator=None,
                     checkpoint=None, progress: bool = True, desc: str = "certify", memory=None,
                     tag: str | None = None) -> list[CertifiedRecord]:
    """Certify inputs in order, each with its own certificate, through the given procedure.

    ``certs[i]`` is input i's certificate (its noise and region); ``shifts[i]`` an optional noise
    mean (ARS), applied as ``ShiftedModel``. ``procedure``: ``"fixed-distribution"`` (the caller
    promises every ``certs[i]`` is the same distribution chosen without looking at the inputs),
    ``"memory-based"`` (inputs in the order given through ``memory``) or
    ``"per-input-unsound"`` (kept for comparison, marked unsound).

    ``memory`` (``"memory-based"`` only): a memory file (see :class:`MemoryCertifier`) or a
    :class:`MemoryCertifier` that every call certifying with the same classifier shares -- a
    perturbed copy of ``x`` certified in a later call then gets ``x``'s answer, never a
    contradicting one. Input ``i`` is asked under the key ``f"{tag}/{i}"`` (``tag`` defaults to
    ``desc``); a key answered earlier returns that answer without sampling. Without ``memory`` the
    memory lives for this call only and every record says so (``"memory-this-call-only"``, not
    sound: inputs certified elsewhere are not in it). Sampling uses
    ``smoothcert.gpu_sampler.sampler.certify`` (Cohen et al. CERTIFY); its outcome per input is
    checkpointed (``checkpoint``: a path or :class:`ParameterCheckpoint`), so a resumed run replays
    the memory from the stored bounds without sampling again.
    """
    import torch
    from tqdm.auto import tqdm

    from ..sampler import certify

    check_procedure(procedure)
    if len(certs) != len(xs):
        raise ValueError(f"certs must have one certificate per input ({len(xs)}), got {len(certs)}")
    if shifts is not None and len(shifts) != len(xs):
        raise ValueError(f"shifts must have one map per input ({len(xs)}), got {len(shifts)}")
    if procedure == "fixed-distribution" and len(certs) and any(
            c.noise.family != certs[0].noise.family
            or not all(np.array_equal(np.asarray(v), np.asarray(certs[0].noise.params[k]))
                       for k, v in c.noise.params.items()) for c in certs):
        raise ValueError("procedure='fixed-distribution' needs one distribution for every input; "
                         "per-input parameters go through 'memory-based'")
    if procedure == "fixed-distribution" and shifts is not None and any(
            not np.array_equal(np.asarray(m), np.asarray(shifts[0])) for m in shifts):
        raise ValueError("procedure='fixed-distribution' needs one noise mean (shift) for every input; "
                         "per-input means go through 'memory-based'")
    if memory is not None and procedure != "memory-based":
        raise ValueError(f"memory is used with procedure='memory-based' only, got procedure={procedure!r}")
    ckpt = checkpoint if isinstance(checkpoint, ParameterCheckpoint) else ParameterCheckpoint(checkpoint)
    label = "memory-based" if memory is not None else "memory-this-call-only"
    if procedure == "memory-based" and not isinstance(memory, MemoryCertifier):
        memory = MemoryCertifier(memory)
    tag = desc if tag is None else str(tag)
    records = []
    for i in tqdm(range(len(xs)), desc=desc, disable=not progress):
        x_np = xs[i].detach().cpu().double().numpy() if isinstance(xs[i], torch.Tensor) else xs[i]
        earlier = None if memory is None else memory.recall(f"{tag}/{i}", x_np)
        if earlier is not None:
            records.append(replace(earlier, index=i, procedure=label))
            continue
        if not ckpt.done(i):
            m = model
            if shifts is not None:
                from .ars_generator import ShiftedModel

                m = ShiftedModel(model, shifts[i]).to(xs[i].device)
            res = certify(m, xs[i], certs[i], n0=n0, n=n, alpha=alpha, batch_size=batch_size,
                          rule=rule, generator=generator)
            ckpt.put(i, prediction=np.int64(res.prediction), p_a=np.float64(res.p_a_lower),
                     p_b=np.float64(res.p_b_upper), seconds=np.float64(res.seconds))
        got = ckpt.get(i)
        pred, p_a, p_b = int(got["prediction"]), float(got["p_a"]), float(got["p_b"])
        region = None
        if pred >= 0:
            region = certs[i].region(p_a, None if rule == "binary" else p_b)
        extra = {"p_a": p_a, "p_b": p_b, "cert_seconds": float(got["seconds"])}
        if memory is not None:
            rec = memory.certify(x_np, pred, region, index=i, key=f"{tag}/{i}", **extra)
            records.append(replace(rec, procedure=label))
        elif procedure == "fixed-distribution":
            records.append(fixed_record(pred, region, index=i, **extra))
        else:
            records.append(unsound_record(pred, region, index=i, **extra))
    return records


# ---------------------------------------------------------------------------------------------
# outputs: every one carries the procedure and the soundness mark
TSV_COLUMNS = ("idx", "label", "predict", "radius", "proxy_radius", "correct", "procedure",
               "sound", "action")


def records_to_tsv(records, labels, dim: int) -> str:
    """Cohen-style TSV with the procedure and soundness columns (unsound rows say so)."""
    lines = ["\t".join(TSV_COLUMNS + tuple(sorted({k for r in records for k in r.extra})))]
    extra_keys = sorted({k for r in records for k in r.extra})
    for r, y in zip(records, labels):
        correct = int(r.prediction == int(y))
        row = [str(r.index), str(int(y)), str(r.prediction), repr(r.radius), repr(r.proxy_radius(dim)),
               str(correct), r.procedure, "yes" if r.sound else "NO-" + UNSOUND_MARKS[r.procedure].replace(" ", "_"),
               r.action]
        row += [repr(r.extra.get(k, "")) for k in extra_keys]
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def summarize(records, labels, dim: int, name: str = "", include_unsound: bool = False) -> dict:
    """Certified accuracy, ACR and proxy ACR (ANCER Sec. 5.1) of the records.

    Only sound rows (``SOUND_PROCEDURES``) count as certified: an unsound row counts as an
    abstention (``excluded_unsound`` says how many), so every number is sound. With
    ``include_unsound=True`` every row counts as its procedure reported it -- to show what
    per-input results without memory claim -- and the summary then carries the unsound mark
    (``sound`` False, the name labelled) whenever an unsound row was counted.
    """
    recs = list(records)
    labels = [int(y) for y in labels]
    if not recs:
        raise ValueError("records must not be empty")
    if len(labels) != len(recs):
        raise ValueError(f"labels must have one entry per record ({len(recs)}), got {len(labels)}")
    counted = [r.sound or include_unsound for r in recs]
    unsound = sorted({r.procedure for r, c in zip(recs, counted) if c and not r.sound})
    ok = [c and r.prediction == y and r.prediction >= 0 for r, y, c in zip(recs, labels, counted)]
    radii = np.array([r.radius if c else 0.0 for r, c in zip(recs, ok)])
    proxy = np.array([r.proxy_radius(dim) if c else 0.0 for r, c in zip(recs, ok)])
    return {
        "name": label_with_soundness(name, unsound[0]) if unsound else name,
        "procedures": ",".join(sorted({r.procedure for r in recs})),
        "sound": not unsound,
        "n": len(recs),
        "excluded_unsound": counted.count(False),
        "accuracy": float(np.mean(ok)),
        "acr": float(radii.mean()),
        "proxy_acr": float(proxy.mean()),
        "radii": radii,
        "proxy_radii": proxy,
        "actions": {a: sum(r.action == a for r in recs) for a in ACTIONS},
    }


__all__ = [
    "PROCEDURES",
    "SOUND_PROCEDURES",
    "ACTIONS",
    "UNSOUND_MARK",
    "UNSOUND_MARKS",
    "CertifiedRecord",
    "MemoryCertifier",
    "certify_sequence",
    "fixed_record",
    "label_with_soundness",
    "records_to_tsv",
    "summarize",
    "unsound_record",
]
