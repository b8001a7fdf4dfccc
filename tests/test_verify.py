"""Tests of the numeric verifier (smoothcert.verify) and `smoothcert verify`.

Every check is shown to *fail* on a deliberately broken certificate (inflated radius, a tight
claim that the witness does not attain, a binary form that disagrees) and to pass on the real
ones; the exact witness probabilities are checked against independent closed forms.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri
from scipy.stats import kstest, norm

import smoothcert as sc
from smoothcert.bounds import certificate_class
from smoothcert.bounds.gaussian import CohenGaussianL2
from smoothcert.cli import main
from smoothcert.verify import errata, montecarlo, report, symbolic, twins, witnesses
from smoothcert.verify.common import EXEMPT, FAIL, INFO, PASS, WARN, Instance, all_instances

CHEAP = [n for n in sc.certificates() if not certificate_class(n).expensive]


class Inflated(CohenGaussianL2):
    """Cohen's radius times a factor > 1: unsound by construction."""

    factor = 1.01

    def _radius(self, p_a, p_b):
        return super()._radius(p_a, p_b) * self.factor


class Deflated(CohenGaussianL2):
    """Cohen's radius times 0.99 but still claiming tightness."""

    def _radius(self, p_a, p_b):
        return super()._radius(p_a, p_b) * 0.99


def inst_of(cert, name="test"):
    return Instance(name, "test", cert)


# ------------------------------------------------------------------------------------------
# twins
def test_twin_sweep_passes_cohen_and_catches_an_over_report():
    good = twins.twin_sweep(sc.get("cohen-gaussian-l2", sigma=0.5), n_grid=10, n_hypothesis=10,
                            quick=True)
    assert good.status in (PASS, WARN) and good.details["over_reports"] == 0
    bad_cert = Inflated(sigma=0.5)
    bad_cert.factor = 1 + 1e-12
    bad = twins.twin_sweep(bad_cert, n_grid=10, n_hypothesis=5, quick=True)
    assert bad.status == FAIL and bad.details["over_reports"] > 0


def test_twin_point_reference_is_exact_in_deep_tails():
    cert = sc.get("cohen-gaussian-l2", sigma=1.0)
    res = twins.twin_point(cert, 0.9, 1e-300)
    # independent value: (Phi^-1(0.9) - Phi^-1(1e-300)) / 2 with Phi^-1 from scipy (few ulps)
    expected = (ndtri(0.9) - ndtri(1e-300)) / 2
    assert res["bad"] is None and not res["over"]
    assert abs(float(res["exact"]) - expected) < 1e-13 * expected
    assert twins.adaptive_dps(0.9, 5e-324) >= 50 + 323


@pytest.mark.parametrize("name", CHEAP)
@settings(max_examples=25)
@given(p_a=st.floats(0.0, 1.0), share=st.floats(0.0, 1.0), binary=st.booleans())
def test_no_over_report_anywhere(name, p_a, share, binary):
    cert = certificate_class(name).from_std(0.5)
    p_b = None if binary or cert.binary_only else (1 - p_a) * share
    res = twins.twin_point(cert, p_a, p_b)
    assert res["bad"] is None, res
    assert not res["over"], res


# ------------------------------------------------------------------------------------------
# witnesses: exact probabilities against independent closed forms
@settings(max_examples=30)
@given(p_a=st.floats(0.5001, 1 - 1e-9), sigma=st.floats(0.05, 5.0))
def test_gaussian_halfspace_flips_at_sigma_phi_inverse(p_a, sigma):
    with mp.workdps(40):
        w = witnesses.Witness("hs", witnesses.normal_cdf(sigma), witnesses.normal_quantile(sigma),
                              1.0, p_a, None)
        assert abs(w.probs(0)[0] - p_a) < 1e-30
        flip = witnesses.flip_distance(w, hi=sigma)
    assert abs(float(flip) - sigma * ndtri(p_a)) <= 1e-12 * sigma * ndtri(p_a) + 1e-300


@settings(max_examples=30)
@given(p_a=st.floats(0.5001, 1 - 1e-9), b=st.floats(0.05, 5.0))
def test_laplace_witness_is_teng_theorem_3(p_a, b):
    with mp.workdps(40):
        w = witnesses.Witness("1d", witnesses.laplace_cdf(b), witnesses.laplace_quantile(b), 1.0,
                              p_a, None)
        flip = witnesses.flip_distance(w, hi=b)
    expected = -b * math.log(2 * (1 - p_a))
    assert abs(float(flip) - expected) <= 1e-12 * expected


def test_overlap_witness_exact_volume_in_2d():
    lam = np.array([0.5, 1.0])
    u = np.array([0.3, -0.2])
    w = witnesses.OverlapWitness("ov", lam, u, 0.8, None)
    # overlap of [-l, l] boxes shifted by u: prod (2 l_i - |u_i|) / prod (2 l_i)
    overlap = (1.0 - 0.3) * (2.0 - 0.2) / (1.0 * 2.0)
    assert abs(float(w.tv(1.0)) - (1 - overlap)) < 1e-15
    assert abs(float(w.probs(1.0)[0]) - (0.8 - (1 - overlap))) < 1e-15


@pytest.mark.parametrize("dim", [3, 5])
def test_zhang_marginals_at_k0_are_gaussian_and_laplace_projections(dim):
    with mp.workdps(20):
        cdf2 = witnesses.zhang_l2_marginal_cdf(0.7, dim, 0)
        for y in (-1.0, 0.3, 1.5):
            assert abs(cdf2(mp.mpf(y)) - norm.cdf(y / 0.7)) < 1e-12
        cdf1 = witnesses.zhang_l1_marginal_cdf(0.4, dim, 0)
        lap = witnesses.laplace_cdf(0.4)
        for y in (-0.9, 0.2, 1.1):
            assert abs(cdf1(mp.mpf(y)) - lap(mp.mpf(y))) < 1e-12


def test_zhang_marginal_k_positive_is_a_cdf():
    with mp.workdps(20):
        cdf = witnesses.zhang_l2_marginal_cdf(1.0, 4, 2)
        vals = [cdf(mp.mpf(y)) for y in (-3, -1, 0, 1, 3)]
    assert all(a < b for a, b in zip(vals, vals[1:]))
    assert abs(vals[2] - 0.5) < 1e-15 and abs(vals[1] + vals[3] - 1) < 1e-12


def test_witness_column_passes_tight_and_fails_broken_certificates():
    good = witnesses.witness_check(inst_of(sc.get("cohen-gaussian-l2", sigma=0.5)), quick=True)
    assert good.status == PASS and good.details["all_flip_at_1+1e-6"]
    unsound = witnesses.witness_check(inst_of(Inflated(sigma=0.5)), quick=True)
    assert unsound.status == FAIL and "UNSOUND" in unsound.summary
    not_tight = witnesses.witness_check(inst_of(Deflated(sigma=0.5)), quick=True)
    assert not_tight.status == FAIL and "UNSOUND" not in not_tight.summary


def test_non_tight_bounds_report_ratio_below_one():
    inst = Instance("lecuyer-laplace-l1", "", sc.get("lecuyer-laplace-l1", scale=1.0))
    res = witnesses.witness_check(inst, quick=True)
    ratios = [p["ratio"] for p in res.details["points"]]
    assert res.status == INFO and max(ratios) <= 1 and min(ratios) < 0.9


def test_ellipsoid_is_attained_in_every_boundary_direction():
    inst = Instance("ancer-ellipsoid", "", sc.get("ancer-ellipsoid", sigma=[0.2, 0.5, 1.5]))
    reg = witnesses.check_region(inst, 0.7, 0.2, n_dirs=6, dps=30)
    assert reg["holds"] == reg["flips"] == 6


# ------------------------------------------------------------------------------------------
# Monte Carlo
@pytest.mark.parametrize("family,params,var", [
    ("laplace", {"scale": 0.3}, 2 * 0.3**2),
    ("uniform", {"half_width": 0.6}, 0.6**2 / 3),
    ("zhang-l2", {"sigma": 0.5, "k": 0, "dim": 3}, 0.25),
    ("zhang-linf", {"sigma": 0.5, "k": 0, "dim": 3}, 0.25),
])
def test_samplers_have_the_documented_variance(family, params, var):
    rng = np.random.default_rng(1)
    z = montecarlo.sample_noise(sc.Noise(family, params), 3, 200_000, rng)
    assert np.allclose(z.var(axis=0), var, rtol=0.02)


def test_zhang_linf_sampler_k0_is_gaussian():
    rng = np.random.default_rng(2)
    z = montecarlo.sample_noise(sc.Noise("zhang-linf", {"sigma": 1.0, "k": 0, "dim": 4}), 4, 20_000, rng)
    assert kstest(z[:, 0], "norm").pvalue > 1e-3


def test_zhang_l1_sampler_radius_is_gamma():
    rng = np.random.default_rng(3)
    z = montecarlo.sample_noise(sc.Noise("zhang-l1", {"scale": 0.5, "k": 1, "dim": 4}), 4, 100_000, rng)
    r = np.abs(z).sum(axis=1)
    assert abs(r.mean() - 3 * 0.5) < 0.02 and abs(r.var() - 3 * 0.25) < 0.03


def test_monte_carlo_passes_sound_and_catches_inflated():
    good = montecarlo.mc_check(inst_of(sc.get("cohen-gaussian-l2", sigma=0.5)), quick=True)
    assert good.status == PASS and good.details["violations"] == 0
    big = Inflated(sigma=0.5)
    big.factor = 1.5
    bad = montecarlo.mc_check(inst_of(big), quick=True)
    assert bad.status == FAIL and bad.details["violations"] > 0


# ------------------------------------------------------------------------------------------
# symbolic
@pytest.mark.parametrize("key", sorted(symbolic._PROOF_FUNCS))
def test_every_sympy_identity_holds(key):
    ok, why = symbolic.proof(key)
    assert ok, why


def test_binary_identity_catches_a_disagreeing_certificate():
    class Split(CohenGaussianL2):
        def _radius(self, p_a, p_b):
            r = super()._radius(p_a, p_b)
            return r if p_b is None else r * 0.5

    res = symbolic.binary_vs_multiclass(Instance("x", "", Split(sigma=1.0)))
    assert res.status == FAIL and res.details["mismatches"]


def test_volume_check_rejects_a_wrong_volume():
    inst = Instance("ancer-cross-polytope", "", sc.get("ancer-cross-polytope", half_width=[0.5, 1.0, 2.0]))
    assert symbolic.volume_check(inst, n=50_000).status == PASS

    class Wrong(type(inst.cert.region(0.9))):
        def log_volume(self, dim=None):
            return super().log_volume(dim) + math.log(1.05)

    class Cert(type(inst.cert)):
        def region(self, p_a, p_b=None):
            r = super().region(p_a, p_b)
            return Wrong(p=r.p, scales=r.scales, gap=r.gap)

    bad = Instance("x", "", Cert(half_width=[0.5, 1.0, 2.0]))
    assert symbolic.volume_check(bad, n=200_000).status == FAIL


# ------------------------------------------------------------------------------------------
# errata
def test_mixture_constants_erratum():
    ev = errata._mixture_constants()
    assert abs(ev["true_lipschitz_halfspace_slope"] - 1 / math.sqrt(2 * math.pi)) < 1e-15
    def row(c):
        return [r for r in ev["constants"] if abs(r["c"] - c) < 1e-14][0]

    derived = row(math.sqrt(math.pi / 2))
    printed = row(1 / math.sqrt(2 * math.pi))
    assert derived["sound"] and derived["max_certified_over_flip"] > 0.9999
    assert printed["sound"] and abs(printed["max_certified_over_flip"] - 1 / math.pi) < 1e-4
    assert [r for r in ev["constants"] if not r["sound"]][0]["c"] > math.sqrt(math.pi / 2)


def test_laplace_variance_erratum():
    e = errata.erratum_ars_variance()
    assert e["status"] == PASS and e["evidence"]["sympy_variance"] == "2*b**2"


# ------------------------------------------------------------------------------------------
# the command
def test_verify_quick_cli_runs_every_certificate(tmp_path, capsys):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    rc = main(["verify", "--quick", "--no-progress", "--json", str(out), "--markdown", str(md)])
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert rc == 0, text
    assert {r["certificate"] for r in data["rows"]} == set(sc.certificates())
    for name in sc.certificates():
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    for r in data["rows"]:
        assert r["columns"]["twin"]["details"].get("over_reports", 0) == 0
        assert r["status"] != FAIL
    assert "## Errata" in md.read_text()


def test_verify_exit_status_on_failure_and_bad_input(monkeypatch, capsys):
    assert main(["verify", "--quick", "--cert", "no-such-cert"]) == 2
    real = report.check_instance

    def failing(inst, quick=False, seed=0):
        row = real(inst, quick=quick, seed=seed)
        row["status"] = FAIL
        return row

    monkeypatch.setattr(report, "check_instance", failing)
    rc = main(["verify", "--quick", "--no-progress", "--no-errata", "--cert", "uniform-l1"])
    assert rc == 1 and "FAILED: uniform-l1" in capsys.readouterr().out


def test_verify_writes_no_hypothesis_folder_into_the_working_directory(tmp_path):
    # In a fresh process (the suite's conftest points hypothesis at a temporary home, which would
    # hide the leak): the twin sweep's hypothesis search used to leave .hypothesis/constants here.
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    cmd = [sys.executable, "-m", "smoothcert", "verify", "--quick", "--no-progress", "--no-errata",
           "--cert", "uniform-l1"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_checkpoint_is_reused_and_removed(tmp_path):
    ck = tmp_path / "ck.json"
    inst = all_instances(["uniform-l1"])[0]
    fake = {"certificate": inst.name, "instance": inst.label, "tight": False, "norm": "l1",
            "family": "uniform", "status": PASS, "seconds": 0.0,
            "columns": {c: {"status": "n/a", "summary": "from checkpoint", "details": {}}
                        for c in report.COLUMNS}}
    ck.write_text(json.dumps({"mode": "quick", "rows": [fake]}))
    rep = report.run_report(["uniform-l1"], quick=True, checkpoint=str(ck), progress=False, errata=False)
    assert rep["rows"][0]["columns"]["twin"]["summary"] == "from checkpoint"
    assert not ck.exists()


def test_binomial_tail_and_clopper_pearson_erratum():
    # exact tail against a direct sum for a small case: P(Bin(10, 0.3) >= 8)
    from math import comb

    direct = sum(comb(10, j) * 0.3**j * 0.7 ** (10 - j) for j in range(8, 11))
    assert abs(float(errata._binomial_tail(10, 8, 0.3)) - direct) < 1e-15
    e = errata.erratum_clopper_pearson()
    assert e["status"] == PASS
    assert all(r["smoothcert_rel_excess"] <= 0 for r in e["evidence"]["points"])


# ------------------------------------------------------------------------------------------
# the per-family registry of independent checks (verify/registry.py)
from smoothcert.bounds import registry as bounds_registry  # noqa: E402
from smoothcert.verify import registry  # noqa: E402

TOY = "tau-gaussian"


class TauGaussian(CohenGaussianL2):
    """Test-only toy family: noise N(0, (tau sigma)^2 I), Cohen's gap at scale tau sigma."""

    name = "tau-gaussian-l2"

    def __init__(self, sigma, tau=0.5):
        self._params = {"sigma": float(sigma), "tau": float(tau)}
        self._scales = np.asarray(float(sigma) * float(tau))

    @property
    def noise(self):
        return sc.Noise(TOY, dict(self._params))

    @classmethod
    def from_std(cls, std, dim=None, **_):
        return cls(sigma=2 * float(np.min(std)), tau=0.5)


def toy_sampler(p, d, n, rng):
    return rng.standard_normal((n, d)) * (p["sigma"] * p["tau"])


def toy_witnesses(p, u, p_a, p_b):
    s = p["sigma"] * p["tau"]
    speed = float(np.linalg.norm(u)) / s
    return [witnesses.Witness("half-space w=u", witnesses.normal_cdf(), witnesses.normal_quantile(),
                              speed, p_a, p_b)]


@pytest.fixture
def toy_cert():
    """Register the toy certificate in bounds for one test; remove it (and any verifier entries
    of its family) afterwards."""
    bounds_registry.register(TauGaussian)
    try:
        yield TauGaussian.name
    finally:
        bounds_registry._REGISTRY.pop(TauGaussian.name, None)
        for kind in registry.KINDS:
            registry.unregister(kind, TOY)


def _verify_toy(name, tmp_path, capsys):
    out = tmp_path / "toy.json"
    rc = main(["verify", "--quick", "--no-progress", "--no-errata", "--cert", name, "--json", str(out)])
    text = capsys.readouterr().out
    return rc, text, json.loads(out.read_text())["rows"][0]["columns"]


def test_toy_family_without_verifier_entries_fails_loudly(toy_cert, tmp_path, capsys):
    rc, text, cols = _verify_toy(toy_cert, tmp_path, capsys)
    assert rc == 1 and "overall: FAIL" in text and f"FAILED: {toy_cert}" in text
    for col, kind in (("witness", "witness"), ("monte_carlo", "monte_carlo")):
        assert cols[col]["status"] == FAIL
        assert f"no {kind} entry registered for the noise family '{TOY}'" in cols[col]["summary"]
        assert f"registry.register('{kind}', '{TOY}')" in cols[col]["summary"]


def test_toy_family_with_its_entries_passes(toy_cert, tmp_path, capsys):
    registry.register("monte_carlo", TOY)(toy_sampler)
    registry.register("witness", TOY)(toy_witnesses)
    rc, text, cols = _verify_toy(toy_cert, tmp_path, capsys)
    assert rc == 0, text
    assert cols["witness"]["status"] == PASS and cols["witness"]["details"]["all_flip_at_1+1e-6"]
    assert cols["monte_carlo"]["status"] == PASS and cols["monte_carlo"]["details"]["violations"] == 0


@pytest.mark.parametrize("missing", ["monte_carlo", "witness"])
def test_toy_family_missing_any_one_entry_fails(toy_cert, tmp_path, capsys, missing):
    for kind, fn in (("monte_carlo", toy_sampler), ("witness", toy_witnesses)):
        if kind != missing:
            registry.register(kind, TOY)(fn)
    rc, text, cols = _verify_toy(toy_cert, tmp_path, capsys)
    assert rc == 1 and f"FAILED: {toy_cert}" in text
    assert cols[missing]["status"] == FAIL and f"no {missing} entry" in cols[missing]["summary"]


def test_an_exemption_is_documented_in_the_report_not_silent(toy_cert):
    registry.register("monte_carlo", TOY)(toy_sampler)
    registry.exempt("witness", TOY, reason="toy: no closed-form witness")
    res = witnesses.witness_check(all_instances([toy_cert])[0], quick=True)
    assert res.status == EXEMPT and res.summary == "exempt: toy: no closed-form witness"
    with pytest.raises(ValueError, match="reason"):
        registry.exempt("witness", TOY, reason=" ")


def test_zhang_linf_k_positive_witness_is_an_explicit_exemption():
    inst = Instance("zhang-linf", "", sc.get("zhang-linf", sigma=0.5, k=1, dim=3))
    res = witnesses.witness_check(inst, quick=True)
    assert res.status == EXEMPT and "no exact marginal" in res.summary


def test_every_registered_certificate_has_its_required_checks():
    for inst in all_instances():
        for kind in ("monte_carlo", "witness"):
            try:
                registry.require(kind, inst.family, inst.cert.noise.params)
            except registry.Exempt:
                pass


def test_registry_rejects_a_second_entry_and_unknown_kinds():
    with pytest.raises(ValueError, match="already has a monte_carlo entry"):
        registry.register("monte_carlo", "gaussian")(toy_sampler)
    with pytest.raises(ValueError, match="kind='sampler'"):
        registry.register("sampler", TOY)(toy_sampler)


# Zhang's k is real: at k = 0.9 the samplers draw the law with d - k degrees of freedom
# (int(k) = 0 would give E||z||^2 = 3 sigma^2 = 0.75, not 0.525).
def test_zhang_l2_sampler_real_k():
    z = montecarlo.sample_noise(sc.Noise("zhang-l2", {"sigma": 0.5, "k": 0.9, "dim": 3}), 3, 200_000,
                                np.random.default_rng(4))
    sq = (z**2).sum(axis=1)
    assert abs(sq.mean() - 0.25 * (3 - 0.9)) < 0.01  # sd of the mean 1.2e-3; int(k): 0.225 off


def test_zhang_l1_sampler_real_k():
    z = montecarlo.sample_noise(sc.Noise("zhang-l1", {"scale": 0.5, "k": 0.9, "dim": 3}), 3, 200_000,
                                np.random.default_rng(5))
    r = np.abs(z).sum(axis=1)
    assert abs(r.mean() - 0.5 * (3 - 0.9)) < 0.01  # sd of the mean 1.6e-3; int(k): 0.45 off


def test_zhang_linf_sampler_real_k():
    """E||z||_inf under ``||z||_inf^-k exp(-||z||^2/2)`` by importance weights ``s^-k`` on a
    Gaussian sample (independent of the sampler's inverse-CDF construction)."""
    rng = np.random.default_rng(6)
    g = np.abs(rng.standard_normal((400_000, 3))).max(axis=1)
    w = g**-0.9
    expected = float((w * g).sum() / w.sum())
    z = montecarlo.sample_noise(sc.Noise("zhang-linf", {"sigma": 1.0, "k": 0.9, "dim": 3}), 3, 200_000,
                                np.random.default_rng(7))
    gauss = float(g.mean())  # the k = 0 (int(k)) value, about 0.13 above
    assert abs(np.abs(z).max(axis=1).mean() - expected) < 0.01 < abs(gauss - expected) - 0.05


@pytest.mark.parametrize("family,params,seed,k0_cdf", [
    ("zhang-l2", {"sigma": 0.5}, 8, norm.cdf(0.3 / 0.5)),
    ("zhang-l1", {"scale": 0.5}, 9, 1 - math.exp(-0.3 / 0.5) / 2),
])
def test_zhang_witness_real_k_uses_the_k_law(family, params, seed, k0_cdf):
    """The registered witness at k = 0.9 uses the exact marginal of z_1 under the k = 0.9 law
    (int(k) gave the k = 0 Gaussian/Laplace marginal, 0.726 at y = 0.3, 0.05 off), checked
    against the sampler's empirical CDF (chi-square/Gamma radius times the angular law)."""
    inst = Instance(family, "", sc.get(family, k=0.9, dim=3, **params))
    with mp.workdps(15):
        w = witnesses.witnesses_along(inst, np.array([1.0, 0.0, 0.0]), 0.5, None)[0]
        cdf = float(w.cdf(mp.mpf(0.3)))
    z = montecarlo.sample_noise(inst.cert.noise, 3, 200_000, np.random.default_rng(seed))
    assert not w.neyman_pearson
    assert abs(cdf - float((z[:, 0] <= 0.3).mean())) < 0.005 < abs(cdf - k0_cdf) - 0.04  # sd 9e-4
