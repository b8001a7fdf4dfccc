"""Memory-based certification for per-input smoothing parameters (Alfarra et al. 2022, Sec. 3.5).

Why it is needed (DESIGN section 5). The randomized-smoothing theorems (Cohen et al. Thm 1,
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

1. ``x`` inside a stored region ``R_j`` (class ``c_j``) -- the memory answers ``c_j``
   ("reassigned" when ``c_j`` differs from the per-input prediction). The certified set is the
   copy of ``R_j``'s shape centred at ``x`` that fits inside ``R_j``: with the gauge
   ``u = ||(x - x_j)/s_j||_p`` (triangle inequality of the weighted norm) the region
   ``||delta/s_j||_p <= gap_j - u`` lies in ``R_j``.
2. Otherwise the per-input region ``R`` is shrunk (``gap -> t * gap``) until it is disjoint from
   every stored region of another class ("shrunk"); same-class overlap is harmless.

Disjointness is proven, not guessed. For centrally symmetric convex sets ``A`` (centre ``a``) and
``B`` (centre ``b``), ``d = b - a``, any direction ``u`` with
``u.d > h_A(u) + t h_B(u)`` separates ``A`` from ``b + t (B - b)`` (support functions
``h_R(u) = gap ||s * u||_q``, ``1/p + 1/q = 1``); so every ``u`` gives the sound scale
``t(u) = (u.d - h_A(u)) / h_B(u)`` and we maximize it:

* two ellipsoids (p = 2): the stationarity condition of ``u.d - ||a u|| - t ||b u||`` gives
  ``u = (mu a^2 + (1 - mu) b^2)^-1 d`` for some ``mu`` in [0, 1] (a, b the semi-axes), so a 1-D
  search over ``mu`` reaches the optimum;
* two generalized cross-polytopes (p = 1, dual l_inf): ``max u.d - h_A(u)`` s.t. ``h_B(u) <= 1``
  is a linear program (solved with HiGHS);
* other pairs: a few candidate directions.

Whatever direction the search returns, ``t`` is re-evaluated in float64 with an error margin, so
the shrunk region is provably disjoint; the search only decides how tight it is.

What the promise covers: ``G_M`` is stateful and its answers depend on the order of the queries; a
stored region is a promise about every query made after it was issued (an input queried earlier is
not covered). Cost: every new input is checked against every stored entry (O(N^2 d) overall, the
cross-polytope LP being the expensive case: about 0.05 s per pair at d = 784).

Every record says which procedure produced it (``PROCEDURES``): a fixed distribution for the
whole dataset (the theorems apply as stated), memory-based certification, or per-input parameters
without memory -- the last is flagged unsound in every output and never counted as certified.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ..bounds._atomic import atomic_path, atomic_write_text
from ..bounds.regions import WeightedLpBall
from ..estimators.checks import as_float_array, check_finite, check_int
from ..estimators.rounding import EPS

#: How a certificate was produced; ``sound`` says whether it is a promise.
PROCEDURES = {
    "fixed-distribution": "one smoothing distribution for the whole dataset: the theorem applies as stated",
    "memory-based": "per-input parameters through memory-based certification (Alfarra et al. 2022, Sec. 3.5)",
    "per-input-unsound": "per-input parameters WITHOUT memory-based certification: NOT a certificate",
}
SOUND_PROCEDURES = frozenset({"fixed-distribution", "memory-based"})
#: What the memory did with the per-input certificate.
ACTIONS = ("certified", "shrunk", "reassigned", "inherited", "abstained")

#: Relative amount by which a shrunk region stays below the proven separation factor.
SHRINK_SLACK = 1e-9

UNSOUND_MARK = "UNSOUND (per-input parameters, no memory)"


def check_procedure(procedure: str) -> str:
    if procedure not in PROCEDURES:
        raise ValueError(f"procedure must be one of {sorted(PROCEDURES)}, got {procedure!r}")
    return procedure


def label_with_soundness(label: str, procedure: str) -> str:
    """A figure-legend / table label that carries the unsound mark when it applies."""
    check_procedure(procedure)
    return label if procedure in SOUND_PROCEDURES else f"{label} [{UNSOUND_MARK}]"


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
# geometry of weighted l_p balls
def _dual(p: float) -> float:
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1.0)


def _norm(v: np.ndarray, p: float) -> float:
    v = np.abs(v)
    if math.isinf(p):
        return float(v.max())
    if p == 1:
        return float(v.sum())
    m = float(v.max())
    if m == 0:
        return 0.0
    return m * float(((v / m) ** p).sum() ** (1.0 / p))


def _axes(region: WeightedLpBall, dim: int) -> np.ndarray:
    """Semi-axes ``gap * scales`` as a flat array of ``dim`` entries (exact product, no rounding)."""
    s = np.broadcast_to(region.scales, (dim,)) if region.isotropic else region.scales.reshape(-1)
    if s.size != dim:
        raise ValueError(f"region has {s.size} coordinates, the input has {dim}")
    return region.gap * np.asarray(s, dtype=np.float64)


def _support(axes: np.ndarray, p: float, u: np.ndarray) -> float:
    """``h(u) = ||axes * u||_q`` (q dual to p): the support function of ``{||delta/axes||_p <= 1}``."""
    return _norm(axes * u, _dual(p))


def _margin(dim: int) -> float:
    """Relative float error of a dot product / norm of ``dim`` terms (generous)."""
    return 4.0 * (dim + 8) * EPS


def separation_scale(d: np.ndarray, a: np.ndarray, p_a: float, b: np.ndarray, p_b: float,
                     u: np.ndarray) -> float:
    """Sound ``t(u) = (u.d - h_A(u)) / h_B(u)``, rounded down (may be negative: no separation).

    ``A`` has semi-axes ``a`` (centre 0), ``B`` semi-axes ``b`` (centre ``d``); for ``t`` the
    returned value, ``A`` and the copy of ``B`` scaled by ``t`` about its centre are disjoint.
    """
    m = _margin(d.size)
    ud = float(np.dot(u, d))
    ha = _support(a, p_a, u)
    hb = _support(b, p_b, u)
    if not (hb > 0 and np.isfinite(ud) and np.isfinite(ha)):
        return -math.inf
    err = m * (float(np.dot(np.abs(u), np.abs(d))) + ha)
    num = ud - ha - err
    if num <= 0:
        return num / hb
    return num / (hb * (1 + m)) * (1 - 4 * EPS)


def _best_ellipsoid_direction(d, a, b) -> np.ndarray:
    def score(mu):
        w = mu * a * a + (1 - mu) * b * b
        u = d / w
        return float(np.dot(u, d) - np.linalg.norm(a * u)) / float(np.linalg.norm(b * u))

    lo, hi = 0.0, 1.0
    grid = np.linspace(lo, hi, 17)
    k = int(np.argmax([score(m) for m in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, 16)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):  # golden-section refinement of a unimodal-in-practice score
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if score(m1) < score(m2):
            lo = m1
        else:
            hi = m2
    mu = 0.5 * (lo + hi)
    return d / (mu * a * a + (1 - mu) * b * b)


def _best_cross_polytope_direction(d, a, b) -> np.ndarray | None:
    """LP: maximize ``u.d - s`` s.t. ``a_i |u_i| <= s``, ``b_i |u_i| <= 1`` (u = u+ - u-)."""
    n = d.size
    # variables: u+ (n), u- (n), s (1); linprog minimizes. |u_i| <= u+_i + u-_i, tight at the optimum.
    c = np.concatenate([-d, d, [1.0]])
    da, db = sparse.diags(a), sparse.diags(b)
    rows_a = sparse.hstack([da, da, sparse.csr_matrix(-np.ones((n, 1)))])
    rows_b = sparse.hstack([db, db, sparse.csr_matrix((n, 1))])
    res = linprog(c, A_ub=sparse.vstack([rows_a, rows_b]).tocsr(),
                  b_ub=np.concatenate([np.zeros(n), np.ones(n)]),
                  bounds=[(0, None)] * (2 * n + 1), method="highs")
    if not res.success:
        return None
    return res.x[:n] - res.x[n:2 * n]


def best_separation_scale(d, a, p_a, b, p_b) -> float:
    """The largest sound ``t`` found for separating ``A`` (axes a, centre 0) from ``t``-scaled ``B``
    (axes b, centre d); ``-inf``/negative when no separating direction was found."""
    cands = [d, d / (a * a), d / (b * b), np.sign(d) / a, np.sign(d) / b, np.sign(d) / (a + b)]
    if p_a == 2 and p_b == 2:
        cands.append(_best_ellipsoid_direction(d, a, b))
    elif p_a == 1 and p_b == 1:
        u = _best_cross_polytope_direction(d, a, b)
        if u is not None:
            cands.append(u)
    best = -math.inf
    for u in cands:
        if np.all(np.isfinite(u)) and np.any(u != 0):
            best = max(best, separation_scale(d, a, p_a, b, p_b, u))
    return best


def gauge(region: WeightedLpBall, delta: np.ndarray) -> float:
    """``||delta / scales||_p`` rounded up (so ``gap - gauge`` is a sound remaining gap)."""
    s = region.scales if region.isotropic else region.scales.reshape(-1)
    return _norm(delta / s, region.p) * (1 + _margin(delta.size))


def inner_region(region: WeightedLpBall, offset: np.ndarray) -> WeightedLpBall | None:
    """The copy of ``region``'s shape centred at ``centre + offset`` that fits inside ``region``
    (triangle inequality of the weighted norm); None when the point is not strictly inside."""
    rest = region.gap - gauge(region, offset)
    if not rest > 0:
        return None
    return WeightedLpBall(p=region.p, scales=region.scales, gap=rest * (1 - 4 * EPS))


# ---------------------------------------------------------------------------------------------
class MemoryCertifier:
    """Alfarra et al. (2022) Sec. 3.5 memory: feed per-input certificates in order with
    :meth:`certify`; every returned region is disjoint from all stored regions of other classes.

    Regions are :class:`~smoothcert.bounds.regions.WeightedLpBall` centred at the input (as
    returned by ``cert.region(p_a, p_b)``); inputs of any fixed shape (flattened internally).
    """

    def __init__(self):
        self._centres: list[np.ndarray] = []
        self._classes: list[int] = []
        self._regions: list[WeightedLpBall] = []
        self._dim: int | None = None

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
        return region

    def _covering(self, x):
        """Stored entries whose region contains x strictly: (index, inner region) pairs."""
        out = []
        for j, (c, r) in enumerate(zip(self._centres, self._regions)):
            inner = inner_region(r, x - c)
            if inner is not None:
                out.append((j, inner))
        return out

    def _shrink_factor(self, x, prediction, region) -> float:
        """Largest sound factor in [0, 1] making ``region`` disjoint from other-class regions."""
        b = _axes(region, self._dim)
        t = 1.0
        for c, cls, r in zip(self._centres, self._classes, self._regions):
            if cls == prediction:
                continue
            a = _axes(r, self._dim)
            t = min(t, best_separation_scale(x - c, a, r.p, b, region.p))
            if t <= 0:
                return 0.0
        return t

    def certify(self, x, prediction: int, region: WeightedLpBall | None, index: int = -1,
                **extra) -> CertifiedRecord:
        """Process one input: the memory's answer and certified region for ``x``.

        ``prediction``/``region`` are the per-input smoothed classifier's (``prediction = -1`` or
        ``region = None`` when it abstained). The record's ``action`` is one of ``ACTIONS``.
        """
        x = self._flat(x)
        prediction = check_int("prediction", prediction, minimum=-1)
        region = self._check_region(region)
        if prediction == -1:
            region = None
        inside = self._covering(x)
        dim = self._dim
        if inside:
            j, inner = max(inside, key=lambda jr: jr[1].proxy_radius(dim))
            cls = self._classes[j]
            action = "inherited" if cls == prediction else "reassigned"
            candidates = [(inner, action)]
            if cls == prediction and region is not None and region.gap > 0:
                candidates.append((self._shrunk(x, prediction, region), "shrunk"))
            best, action = max(candidates, key=lambda ra: ra[0].proxy_radius(dim) if ra[0] else -1.0)
            if action == "shrunk" and best is not None and best.gap == region.gap:
                action = "certified"
            return self._store(x, cls, best, action, index, prediction, region, extra)
        if region is None or region.gap == 0:
            return self._store(x, prediction, None, "abstained" if prediction == -1 else "certified",
                               index, prediction, region, extra)
        shrunk = self._shrunk(x, prediction, region)
        action = "certified" if shrunk.gap == region.gap else "shrunk"
        return self._store(x, prediction, shrunk, action, index, prediction, region, extra)

    def _shrunk(self, x, prediction, region) -> WeightedLpBall:
        t = self._shrink_factor(x, prediction, region)
        if t >= 1.0:
            return region
        # SHRINK_SLACK: a relative 1e-9 below the proven factor, so that re-checking the stored
        # regions (``consistent``, with fresh rounding margins) proves them disjoint again.
        gap = max(region.gap * t * (1 - SHRINK_SLACK), 0.0)
        return WeightedLpBall(p=region.p, scales=region.scales, gap=gap)

    def _store(self, x, cls, region, action, index, own_pred, own_region, extra) -> CertifiedRecord:
        if region is not None and region.gap > 0 and cls >= 0:
            self._centres.append(x)
            self._classes.append(int(cls))
            self._regions.append(region)
        return CertifiedRecord(index=index, prediction=int(cls), region=region,
                               procedure="memory-based", action=action,
                               own_prediction=int(own_pred), own_region=own_region, extra=dict(extra))

    def consistent(self) -> bool:
        """Check (soundly) that no two stored regions of different classes intersect."""
        for i in range(len(self)):
            for j in range(i):
                if self._classes[i] == self._classes[j]:
                    continue
                d = self._centres[i] - self._centres[j]
                a = _axes(self._regions[j], self._dim)
                b = _axes(self._regions[i], self._dim)
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
                     checkpoint=None, progress: bool = True, desc: str = "certify") -> list[CertifiedRecord]:
    """Certify inputs in order, each with its own certificate, through the given procedure.

    ``certs[i]`` is input i's certificate (its noise and region); ``shifts[i]`` an optional noise
    mean (ARS), applied as ``ShiftedModel``. ``procedure``: ``"fixed-distribution"`` (the caller
    promises every ``certs[i]`` is the same distribution chosen without looking at the inputs),
    ``"memory-based"`` (a fresh :class:`MemoryCertifier`, inputs in the order given) or
    ``"per-input-unsound"`` (kept for comparison, marked unsound). Sampling uses
    ``smoothcert.gpu_sampler.sampler.certify`` (Cohen et al. CERTIFY); its outcome per input is
    checkpointed (``checkpoint``: a path or :class:`ParameterCheckpoint`), so a resumed run replays
    the memory from the stored bounds without sampling again.
    """
    import torch
    from tqdm.auto import tqdm

    from .sampler import certify

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
    ckpt = checkpoint if isinstance(checkpoint, ParameterCheckpoint) else ParameterCheckpoint(checkpoint)
    memory = MemoryCertifier() if procedure == "memory-based" else None
    records = []
    for i in tqdm(range(len(xs)), desc=desc, disable=not progress):
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
        x_np = xs[i].detach().cpu().double().numpy() if isinstance(xs[i], torch.Tensor) else xs[i]
        if memory is not None:
            records.append(memory.certify(x_np, pred, region, index=i, **extra))
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
               str(correct), r.procedure, "yes" if r.sound else "NO-" + UNSOUND_MARK.replace(" ", "_"),
               r.action]
        row += [repr(r.extra.get(k, "")) for k in extra_keys]
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def summarize(records, labels, dim: int, name: str = "") -> dict:
    """Certified accuracy ingredients, ACR and proxy ACR (only sound rows count as certified)."""
    recs = list(records)
    labels = [int(y) for y in labels]
    if not recs:
        raise ValueError("records must not be empty")
    procs = {r.procedure for r in recs}
    sound = all(r.sound for r in recs)
    mark = "memory-based" if sound else "per-input-unsound"
    ok = [r.prediction == y and r.prediction >= 0 for r, y in zip(recs, labels)]
    radii = np.array([r.radius if c else 0.0 for r, c in zip(recs, ok)])
    proxy = np.array([r.proxy_radius(dim) if c else 0.0 for r, c in zip(recs, ok)])
    return {
        "name": label_with_soundness(name, mark),
        "procedures": ",".join(sorted(procs)),
        "sound": sound,
        "n": len(recs),
        "accuracy": float(np.mean(ok)),
        "acr": float(radii.mean()),
        "proxy_acr": float(proxy.mean()),
        "radii": radii,
        "proxy_radii": proxy,
        "actions": {a: sum(r.action == a for r in recs) for a in ACTIONS},
    }


class ParameterCheckpoint:
    """Per-input results of a long optimization, saved after every input (atomic ``.npz``).

    ``done(i)`` tells whether input ``i`` was finished in an earlier run; ``get(i)`` returns its
    arrays; ``put(i, **arrays)`` stores them and rewrites the file through ``os.replace``.
    ``path=None`` keeps everything in memory (no resume).
    """

    def __init__(self, path=None):
        self.path = None if path is None else os.fspath(path)
        self._data: dict[str, np.ndarray] = {}
        if self.path is not None and os.path.exists(self.path):
            with np.load(self.path, allow_pickle=False) as z:
                self._data = {k: z[k] for k in z.files}

    def done(self, index: int) -> bool:
        return any(k.startswith(f"{int(index)}/") for k in self._data)

    def get(self, index: int) -> dict:
        pre = f"{int(index)}/"
        return {k[len(pre):]: v for k, v in self._data.items() if k.startswith(pre)}

    def put(self, index: int, **arrays) -> None:
        for k, v in arrays.items():
            self._data[f"{int(index)}/{k}"] = np.asarray(v)
        if self.path is None:
            return
        with atomic_path(self.path, suffix=".npz") as tmp:
            np.savez(tmp, **self._data)


__all__ = [
    "PROCEDURES",
    "SOUND_PROCEDURES",
    "ACTIONS",
    "UNSOUND_MARK",
    "CertifiedRecord",
    "MemoryCertifier",
    "ParameterCheckpoint",
    "atomic_write_text",
    "best_separation_scale",
    "certify_sequence",
    "fixed_record",
    "inner_region",
    "label_with_soundness",
    "records_to_tsv",
    "separation_scale",
    "summarize",
    "unsound_record",
]
