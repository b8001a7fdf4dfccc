"""Memory-based certification (Alfarra et al. 2022 Sec. 3.5): soundness of every stored region.

Reference values come from geometry, not from the code under test: two l2 balls are disjoint iff
the distance of the centres exceeds the sum of the radii. The separation geometry itself
(bounds/separation.py) is tested in tests/test_separation.py.
"""

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds.regions import WeightedLpBall
from smoothcert.core.atomic import atomic_write_text
from smoothcert.gpu_sampler.per_input.checkpoint import ParameterCheckpoint
from smoothcert.gpu_sampler.per_input.memory import (
    MemoryCertifier,
    certify_sequence,
    fixed_record,
    label_with_soundness,
    records_to_tsv,
    summarize,
    unsound_record,
)


def test_isotropic_balls_shrink_to_exact_distance():
    m = MemoryCertifier()
    x0, x1 = np.zeros(5), np.zeros(5)
    x1[0] = 3.0
    m.certify(x0, 0, WeightedLpBall(2, 1.0, 2.0))  # radius 2 ball at the origin
    rec = m.certify(x1, 1, WeightedLpBall(2, 1.0, 2.5))  # would reach distance 0.5 inside
    assert rec.action == "shrunk" and rec.prediction == 1
    # the exact largest disjoint radius is 3 - 2 = 1
    assert rec.radius <= 1.0
    assert rec.radius >= 1.0 * (1 - 1e-6)
    assert m.consistent()


def test_same_class_overlap_is_not_shrunk():
    m = MemoryCertifier()
    m.certify(np.zeros(3), 2, WeightedLpBall(2, 1.0, 2.0))
    rec = m.certify(np.array([3.0, 0, 0]), 2, WeightedLpBall(2, 1.0, 2.5))
    assert rec.action == "certified" and rec.region.gap == 2.5


def test_inside_other_class_is_reassigned_with_inner_region():
    m = MemoryCertifier()
    m.certify(np.zeros(4), 0, WeightedLpBall(2, 1.0, 2.0))
    x = np.array([0.5, 0, 0, 0])
    rec = m.certify(x, 1, WeightedLpBall(2, 1.0, 5.0))
    assert rec.action == "reassigned" and rec.prediction == 0 and rec.own_prediction == 1
    assert rec.radius <= 1.5 and rec.radius >= 1.5 * (1 - 1e-9)  # 2 - 0.5, triangle inequality


def test_abstaining_input_inside_a_region_inherits_it():
    m = MemoryCertifier()
    m.certify(np.zeros(2), 3, WeightedLpBall(1, np.array([1.0, 2.0]), 1.0))
    rec = m.certify(np.array([0.25, 0.0]), -1, None)
    assert rec.prediction == 3 and rec.action == "reassigned"
    # l1 gauge of (0.25, 0) with scales (1, 2) is 0.25: remaining gap 0.75
    assert rec.region.gap <= 0.75 and rec.region.gap >= 0.75 * (1 - 1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), p=st.sampled_from([1, 2]))
def test_stream_regions_of_different_classes_never_intersect(seed, p):
    rng = np.random.default_rng(seed)
    dim = 3
    m = MemoryCertifier()
    recs, xs = [], []
    for i in range(10):
        x = rng.normal(size=dim)
        reg = WeightedLpBall(p, rng.uniform(0.2, 1.5, size=dim), rng.uniform(0.3, 2.0))
        recs.append(m.certify(x, int(rng.integers(3)), reg, index=i))
        xs.append(x)
    assert m.consistent()
    # independent falsification: points of each region never fall in another class's region
    for i, ri in enumerate(recs):
        if ri.region is None or ri.region.gap == 0:
            continue
        u = rng.normal(size=(400, dim))
        u /= np.linalg.norm(u, ord=p, axis=1, keepdims=True)
        pts = xs[i] + u * ri.region.axes().reshape(-1) * rng.uniform(0, 1, size=(400, 1))
        centre_i = xs[i]
        for j, rj in enumerate(recs):
            if j == i or rj.region is None or rj.region.gap == 0 or rj.prediction == ri.prediction:
                continue
            # each region is stored at its own input (reassigned ones too)
            inside = rj.region.contains(pts - xs[j])
            assert not np.any(inside), (i, j)
        assert np.all(ri.region.contains(pts - centre_i))


def test_records_and_outputs_carry_the_procedure():
    reg = WeightedLpBall(2, np.full(4, 0.5), 1.0)
    recs = [unsound_record(1, reg, index=0), unsound_record(-1, None, index=1)]
    s = summarize(recs, [1, 0], 4, "ddrs", include_unsound=True)
    assert not s["sound"] and "UNSOUND" in s["name"] and s["accuracy"] == 0.5
    tsv = records_to_tsv(recs, [1, 0], 4)
    rows = [r.split("\t") for r in tsv.strip().split("\n")]
    col = rows[0].index("sound")
    assert all(r[col].startswith("NO") for r in rows[1:])
    assert rows[0].index("procedure") >= 0 and rows[1][rows[0].index("procedure")] == "per-input-unsound"
    fixed = summarize([fixed_record(1, reg)], [1], 4, "fixed")
    assert fixed["sound"] and fixed["name"] == "fixed"
    assert math.isclose(fixed["acr"], reg.enclosed_radius())
    assert label_with_soundness("x", "memory-based") == "x"
    assert "UNSOUND" in label_with_soundness("x", "per-input-unsound")
    with pytest.raises(ValueError, match="procedure"):
        label_with_soundness("x", "trust-me")


def test_bad_input():
    m = MemoryCertifier()
    with pytest.raises(ValueError, match="x"):
        m.certify(np.array([np.nan, 0.0]), 0, None)
    m.certify(np.zeros(3), 0, WeightedLpBall(2, np.ones(3), 1.0))
    with pytest.raises(ValueError, match="x must have 3"):
        m.certify(np.zeros(4), 0, None)
    with pytest.raises(ValueError, match="coordinates"):
        m.certify(np.ones(3), 1, WeightedLpBall(2, np.ones(5), 1.0))
    with pytest.raises(TypeError, match="prediction"):
        m.certify(np.ones(3), 1.5, None)
    with pytest.raises(TypeError, match="region"):
        m.certify(np.ones(3), 1, 0.5)
    with pytest.raises(ValueError, match="scales"):
        WeightedLpBall(2, np.array([1.0, -1.0]), 1.0)


@pytest.mark.parametrize("p", [1, 2, math.inf])
@pytest.mark.parametrize("gap, scale", [(math.inf, 1.0), (1e300, 1e10)])
def test_region_with_infinite_semi_axes_is_refused(p, gap, scale):
    # an infinite gap (p_a = 1) or an overflowing gap * scales used to reach linprog (p = 1) or
    # give a NaN gap (0 * inf) when shrunk against another class's region; now one ValueError
    m = MemoryCertifier()
    m.certify(np.zeros(3), 0, WeightedLpBall(p, 1.0, 1.0))
    with pytest.raises(ValueError, match="region must have finite semi-axes"):
        m.certify(np.array([5.0, 0.0, 0.0]), 1, WeightedLpBall(p, scale, gap))
    assert len(m) == 1 and m.consistent()


def test_isotropic_region_of_another_dim_is_refused():
    m = MemoryCertifier()
    with pytest.raises(ValueError, match="dim=5"):
        m.certify(np.zeros(3), 0, WeightedLpBall(2, 1.0, 1.0, dim=5))


def test_checkpoint_roundtrip_and_atomic_text(tmp_path):
    path = tmp_path / "ck.npz"
    ck = ParameterCheckpoint(path)
    ck.put(3, theta=np.arange(4.0), seconds=np.float64(1.5))
    again = ParameterCheckpoint(path)
    assert again.done(3) and not again.done(0)
    assert np.array_equal(again.get(3)["theta"], np.arange(4.0))
    atomic_write_text(tmp_path / "a.tsv", "x\n")
    assert (tmp_path / "a.tsv").read_text() == "x\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(4, 3, generator=g) * 3)

    def forward(self, z):
        return z.reshape(z.shape[0], -1) @ self.w


class _Refuse(torch.nn.Module):
    def forward(self, z):
        raise AssertionError("a resumed run must not sample again")


def test_certify_sequence_memory_and_resume(tmp_path):
    torch.manual_seed(0)
    xs = torch.rand(6, 1, 2, 2)
    certs = [sc.get("ancer-ellipsoid", sigma=np.full((1, 2, 2), 0.2 + 0.05 * i)) for i in range(6)]
    ck = tmp_path / "cert.npz"
    g = torch.Generator().manual_seed(1)
    recs = certify_sequence(_Linear(), xs, certs, "memory-based", n0=20, n=200, generator=g,
                            checkpoint=ck, progress=False)
    assert all(r.procedure == "memory-this-call-only" and not r.sound for r in recs)
    again = certify_sequence(_Refuse(), xs, certs, "memory-based", n0=20, n=200, checkpoint=ck,
                             progress=False)
    assert [(r.prediction, r.radius) for r in recs] == [(r.prediction, r.radius) for r in again]
    with pytest.raises(ValueError, match="one distribution"):
        certify_sequence(_Linear(), xs, certs, "fixed-distribution", n0=5, n=10, progress=False)
    with pytest.raises(ValueError, match="one noise mean"):
        certify_sequence(_Linear(), xs, [certs[0]] * 6, "fixed-distribution",
                         shifts=[np.full((1, 2, 2), 0.01 * i) for i in range(6)], n0=5, n=10, progress=False)
    with pytest.raises(ValueError, match="one certificate per input"):
        certify_sequence(_Linear(), xs, certs[:2], "memory-based", progress=False)


# ---------------------------------------------------------------------------------------------
# a point possibly inside a stored region counts as inside
def _exactly_inside(x, centre, region):
    """``||(x - c)/s||_p <= gap`` in exact rational arithmetic (p = 1 or 2)."""
    s = np.broadcast_to(region.scales, x.shape)
    terms = [abs(Fraction(float(a)) - Fraction(float(b))) / Fraction(float(si)) for a, b, si in zip(x, centre, s)]
    gap = Fraction(region.gap)
    return sum(terms) <= gap if region.p == 1 else sum(t * t for t in terms) <= gap * gap


def test_point_2e15_inside_a_stored_region_gets_its_class():
    # the case: 2e-15 (relative) inside the stored ball; the old memory rounded the gauge
    # up, called the point outside and answered the other class
    for dim in (3, 784):
        m = MemoryCertifier()
        m.certify(np.zeros(dim), 0, WeightedLpBall(2, 1.0, 1.0))
        x = np.zeros(dim)
        x[0] = 1 - 2e-15
        rec = m.certify(x, 1, WeightedLpBall(2, 1.0, 0.5))
        assert rec.prediction == 0 and rec.action == "reassigned"
        assert m.consistent()


@settings(max_examples=60, deadline=None)
@given(p=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1),
       rel=st.floats(-1e-11, 1e-11), log_scale=st.sampled_from([0.0, -300.0, -315.0, 300.0]),
       dim=st.sampled_from([1, 3, 50]))
def test_memory_never_answers_another_class_inside_a_region(p, seed, rel, log_scale, dim):
    # boundary points (relative offset rel, within the rounding margin) of a stored region, at any
    # magnitude of the scales including subnormal semi-axes: whenever the point is exactly inside,
    # the answer is the stored class or an abstention, never the other class
    rng = np.random.default_rng(seed)
    scales = 10.0 ** (log_scale + rng.uniform(-1, 1, size=dim))
    centre = rng.normal(size=dim) * scales
    region = WeightedLpBall(p, scales, 1.0)
    u = rng.normal(size=dim)
    u /= np.linalg.norm(u, ord=p)
    x = centre + (1 + rel) * u * scales
    m = MemoryCertifier()
    m.certify(centre, 0, region)
    rec = m.certify(x, 1, WeightedLpBall(p, scales, 0.5))
    if _exactly_inside(x, centre, region):
        assert rec.prediction in (0, -1)
    if rec.prediction == 1 and rec.region is not None and rec.region.gap > 0:
        assert not _exactly_inside(x, centre, region)


# ---------------------------------------------------------------------------------------------
# the memory persists across calls and runs
def test_memory_file_persists_across_objects(tmp_path):
    path = tmp_path / "memory.jsonl"
    first = MemoryCertifier(path)
    first.certify(np.zeros(4), 0, WeightedLpBall(2, np.full(4, 0.5), 2.0), key="clean/0")
    second = MemoryCertifier(path)  # a later run
    assert len(second) == 1
    rec = second.certify(np.full(4, 0.1), 1, WeightedLpBall(2, np.full(4, 0.5), 3.0), key="pgd/0")
    assert rec.prediction == 0 and rec.action == "reassigned" and rec.sound
    third = MemoryCertifier(path)
    assert len(third) == 2 and third.consistent()
    again = third.recall("pgd/0", np.full(4, 0.1))
    assert again.prediction == 0 and again.region.gap == rec.region.gap
    with pytest.raises(ValueError, match="different input"):
        third.recall("clean/0", np.ones(4))


def test_memory_file_torn_tail_is_dropped_and_damage_refused(tmp_path):
    path = tmp_path / "memory.jsonl"
    m = MemoryCertifier(path)
    m.certify(np.zeros(2), 0, WeightedLpBall(1, np.ones(2), 1.0), key="a")
    m.certify(np.full(2, 5.0), 1, WeightedLpBall(1, np.ones(2), 1.0), key="b")
    good = path.read_bytes()
    line = good.split(b"\n")[1]
    for torn in (line[: len(line) // 2], line[:-3] + b"xyz\n"):  # a crash mid-write, unterminated or garbled
        path.write_bytes(good + torn)
        with pytest.warns(UserWarning, match="torn last record"):
            again = MemoryCertifier(path)
        assert len(again) == 2 and again.dropped_bytes == len(torn)
        assert path.read_bytes() == good  # cut off, so the next record starts on its own line
    lines = good.split(b"\n")
    path.write_bytes(lines[0][:-1] + b"0\n" + lines[1] + b"\n")  # a damaged record before the last
    with pytest.raises(ValueError, match="damaged at record 1"):
        MemoryCertifier(path)


class _Ring(torch.nn.Module):
    """Class 0 where |z_0| < 1, class 1 elsewhere: wide noise around a point near 0 votes 1."""

    def forward(self, z):
        far = z.reshape(z.shape[0], -1)[:, 0].abs() >= 1
        return torch.stack([(~far).double(), far.double()], 1)


def _ring_call(x, sigma, memory, tag, seed):
    cert = sc.get("cohen-gaussian-l2", sigma=sigma)
    return certify_sequence(_Ring(), x[None], [cert], "memory-based", n0=50, n=2000, alpha=0.001,
                            generator=torch.Generator().manual_seed(seed), memory=memory, tag=tag,
                            progress=False)[0]


def test_x_and_perturbed_copy_in_separate_runs_never_contradict(tmp_path):
    # the PGD study's pattern: x certified in one call, a perturbed copy in another; per-input sigma
    # (0.5 at x, 5 at the copy) makes the copy's own smoothed prediction the other class
    x = torch.zeros(1, 1, 2)
    x_adv = x.clone()
    x_adv[0, 0, 0] = 0.3
    path = tmp_path / "memory.jsonl"
    clean = _ring_call(x, 0.5, path, "clean", 1)
    assert clean.prediction == 0 and clean.radius > 0.3 and clean.sound
    adv = _ring_call(x_adv, 5.0, path, "pgd", 2)  # a new call: the memory is read from the file
    assert adv.own_prediction == 1  # what the per-input classifier says on its own
    assert adv.prediction == 0 and adv.action == "reassigned" and adv.sound
    # without the shared memory the second call contradicts the first, and says it is not sound
    alone = _ring_call(x_adv, 5.0, None, "pgd", 2)
    assert alone.prediction == 1 and alone.radius > 0
    assert alone.procedure == "memory-this-call-only" and not alone.sound
    assert "UNSOUND" in summarize([alone], [1], 2, "alone", include_unsound=True)["name"]


def test_certify_sequence_resumes_from_the_memory_file(tmp_path):
    torch.manual_seed(0)
    xs = torch.rand(4, 1, 2, 2)
    certs = [sc.get("ancer-ellipsoid", sigma=np.full((1, 2, 2), 0.2 + 0.05 * i)) for i in range(4)]
    path = tmp_path / "memory.jsonl"
    recs = certify_sequence(_Linear(), xs, certs, "memory-based", n0=20, n=200, memory=path, tag="t",
                            generator=torch.Generator().manual_seed(1), progress=False)
    assert all(r.procedure == "memory-based" and r.sound for r in recs)
    again = certify_sequence(_Refuse(), xs, certs, "memory-based", n0=20, n=200, memory=path, tag="t",
                             progress=False)
    assert [(r.prediction, r.radius, r.action) for r in recs] == [(r.prediction, r.radius, r.action) for r in again]
    with pytest.raises(ValueError, match="memory is used with procedure='memory-based' only"):
        certify_sequence(_Linear(), xs, certs, "per-input-unsound", memory=path, progress=False)


# ---------------------------------------------------------------------------------------------
# unsound rows never enter a sound number
def test_summarize_counts_only_sound_rows():
    reg = WeightedLpBall(2, 1.0, 1.0, dim=4)
    recs = [fixed_record(1, reg, index=0), unsound_record(1, WeightedLpBall(2, 1.0, 9.0, dim=4), index=1)]
    s = summarize(recs, [1, 1], 4, "mixed")
    assert s["sound"] and s["name"] == "mixed" and s["excluded_unsound"] == 1
    assert s["accuracy"] == 0.5  # the unsound row counts as an abstention
    assert math.isclose(s["acr"], reg.enclosed_radius() / 2)
    assert list(s["radii"]) == [reg.enclosed_radius(), 0.0]
    both = summarize(recs, [1, 1], 4, "mixed", include_unsound=True)
    assert not both["sound"] and "UNSOUND" in both["name"] and both["accuracy"] == 1.0
    session = replace(fixed_record(1, reg), procedure="memory-this-call-only")
    assert summarize([session], [1], 4)["accuracy"] == 0.0
    tsv = records_to_tsv([session], [1], 4)
    assert "NO-UNSOUND_(memory_of_this_call_only" in tsv
