"""A noise family is three registered parts, and each is enforced (docs/families.md).

A test-only family ``tau-gaussian`` -- noise N(0, (sigma tau)^2 I), a new parameter ``tau`` -- is
registered at run time with its three parts: the family object and its certificate in ``bounds``,
a torch sampler class in ``gpu_sampler``, and the verifier's independent checks in ``verify``.
Nothing else is edited, and it gets: a ``--tau`` flag of ``smoothcert radius`` (validated: exit
2), its parameter table in the theorem catalog, every generic certificate test, the sampler std
test and the verifier's columns. Removing any one part makes a test or the verifier fail.

The generic tests are the project's own: ``tests/test_certificates_generic.py`` and
``tests/test_noise.py`` are loaded afresh after the registration (test modules cannot import
each other under ``--import-mode=importlib``), so their registry-wide parametrization includes
the toy.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from fractions import Fraction
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest

from smoothcert.bounds import certificate_class, certificates
from smoothcert.bounds import registry as cert_registry
from smoothcert.bounds.base import GapCertificate
from smoothcert.bounds.family import (NoiseFamily, Param, noise_families, positive, positive_scalar,
                                      register_family, unregister_family)
from smoothcert.bounds.gaussian import gaussian_gap, gaussian_gap_mp

TOY, CERT = "tau-gaussian", "tau-gaussian-l2"
TAU_HELP = "toy std multiplier tau: noise N(0, (sigma tau)^2 I)"  # default 2: std != sigma
TESTS = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------
# part 1 (bounds): the family object and its theorem
class TauGaussian(NoiseFamily):
    """Test-only family N(0, (sigma tau)^2 I): std = sigma tau."""

    name = TOY
    params = (Param("sigma", "reals", positive, "Gaussian standard deviation per coordinate"),
              Param("tau", "real", positive_scalar, TAU_HELP, default=2.0))
    scale_param = "sigma"
    law = "density proportional to exp(-||z||_2^2 / (2 sigma^2 tau^2))"
    std_formula = "sigma tau"

    @classmethod
    def unit_std(cls, params):
        return params["tau"]


def _product_down(a: float, b: float) -> float:
    """``a * b`` rounded toward zero (exactly, by rational comparison)."""
    p = a * b
    if math.isinf(p):  # the exact product is above every double: so is the exact radius
        return p
    return float(np.nextafter(p, 0.0)) if Fraction(p) > Fraction(a) * Fraction(b) else p


class TauGaussianL2(GapCertificate):
    """Cohen, Rosenfeld & Kolter 2019, Theorem 1 at std sigma*tau (a test-only toy).

    ``R = sigma tau (Phi^-1(pA) - Phi^-1(pB)) / 2``; binary ``sigma tau Phi^-1(pA)``. The scale
    ``sigma tau`` is rounded toward zero, so the float radius stays below the twin's exact one.
    """

    name = CERT
    family = TOY
    norm = "l2"
    tight = True
    citation = "Cohen, Rosenfeld & Kolter 2019, Theorem 1 (Eq. 3), at std sigma*tau (test-only toy)"
    formula = "R = sigma tau/2 (Phi^-1(pA) - Phi^-1(pB)); binary R = sigma tau Phi^-1(pA)"
    region_p = 2.0
    scale_param = "sigma"

    def __init__(self, sigma, tau=2.0):
        p = TauGaussian.validate({"sigma": sigma, "tau": tau})
        if np.ndim(p["sigma"]) != 0:
            raise ValueError(f"sigma must be a scalar, got an array of shape {np.shape(p['sigma'])}")
        self._params = {"sigma": float(p["sigma"]), "tau": p["tau"]}
        self._scales = np.asarray(_product_down(self._params["sigma"], p["tau"]))

    def _radius_scale_mp(self):
        return mp.mpf(self._params["sigma"]) * mp.mpf(self._params["tau"])

    def _gap(self, p_a, p_b):
        return gaussian_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return gaussian_gap_mp(p_a, p_b)

    def _working_dps(self, p_a, p_b, dps):
        return dps  # gaussian_gap_mp raises the precision for each tail itself


# ---------------------------------------------------------------------------------------------
# part 2 (gpu_sampler): the torch sampler class
def _sampler_class():
    from smoothcert.gpu_sampler.noise import NoiseSampler

    class TauGaussianNoise(NoiseSampler):
        """sigma tau N(0, I), through the caller's generator."""

        family = TOY

        def __init__(self, params, shape, device, dtype):
            super().__init__(params, shape, device, dtype)
            self.std = float(params["sigma"]) * float(params["tau"])

        def _fill(self, out, generator):
            out.normal_(generator=generator).mul_(self.std)

    return TauGaussianNoise


# ---------------------------------------------------------------------------------------------
# part 3 (verify): the independent checks, numpy and exact
def _mc_sampler(p, d, n, rng):
    return rng.standard_normal((n, d)) * (float(p["sigma"]) * float(p["tau"]))


def _witnesses(p, u, p_a, p_b):
    from smoothcert.verify.witnesses import Witness, normal_cdf, normal_quantile

    speed = math.sqrt(float(np.sum(np.asarray(u, dtype=float) ** 2))) / (float(p["sigma"]) * float(p["tau"]))
    return [Witness("half-space w=u", normal_cdf(), normal_quantile(), speed, p_a, p_b)]


VERIFY_KINDS = ("monte_carlo", "witness")


class Toy:
    """The registered toy; ``remove(part)`` takes one part out again (``family``, ``sampler``,
    ``verify``); the fixture removes whatever is left."""

    def __init__(self):
        from smoothcert.gpu_sampler import noise
        from smoothcert.verify import registry as verify_registry

        self._noise, self._verify = noise, verify_registry
        register_family(TauGaussian)
        cert_registry.register(TauGaussianL2)
        noise.sampler_for(TOY)(_sampler_class())
        verify_registry.add("monte_carlo", TOY, _mc_sampler)
        verify_registry.add("witness", TOY, _witnesses, quick_regions=True)

    def remove(self, part: str) -> None:
        if part == "family":
            unregister_family(TOY)
        elif part == "certificate":
            cert_registry._REGISTRY.pop(CERT, None)
        elif part == "sampler":
            self._noise.unregister_sampler(TOY)
        elif part == "verify":
            for kind in VERIFY_KINDS:
                self._verify.unregister(kind, TOY)
        else:
            raise ValueError(part)

    def close(self) -> None:
        for part in ("verify", "sampler", "certificate", "family"):
            self.remove(part)


@pytest.fixture
def toy():
    t = Toy()
    try:
        yield t
    finally:
        t.close()
    assert TOY not in noise_families() and CERT not in certificates()


def _load(filename: str):
    """A fresh copy of one of the project's test modules (its module-level registry lists are
    computed now, with the toy registered)."""
    path = TESTS / filename
    spec = importlib.util.spec_from_file_location(f"_toy_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PARAM_SET = type(pytest.param(None))


def _rows(argnames, argvalues) -> list[dict]:
    """The cases of one ``parametrize`` mark, as keyword dictionaries."""
    names = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    rows = []
    for v in argvalues:
        values = tuple(v.values) if isinstance(v, _PARAM_SET) else (tuple(v) if len(names) > 1 else (v,))
        rows.append(dict(zip(names, values)))
    return rows


def _cases(fn, name: str) -> list[dict]:
    """The keyword arguments of every parametrized case of ``fn`` with ``name=name``; none when
    its ``name`` parametrization does not include ``name`` (an anisotropic-only test, say)."""
    axes, found = [], False
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        rows = _rows(mark.args[0], mark.args[1])
        if rows and "name" in rows[0]:
            if name not in [r["name"] for r in rows]:
                return []
            rows, found = [r for r in rows if r["name"] == name], True
        axes.append(rows)
    if not found:
        return []
    return [{k: v for case in combo for k, v in case.items()} for combo in itertools.product(*axes)]


def run_generic_tests(filename: str, name: str) -> list[str]:
    """Run every test of ``tests/<filename>`` parametrized over a registry list that contains
    ``name`` (on ``name`` only); returns the names of the tests that ran. Raises on a failure."""
    module = _load(filename)
    ran = []
    for attr in sorted(vars(module)):
        fn = getattr(module, attr)
        if not (attr.startswith("test_") and callable(fn)):
            continue
        for kwargs in _cases(fn, name):
            fn(**kwargs)
            ran.append(attr)
    return ran


def run_generic_certificate_tests(name: str) -> list[str]:
    return run_generic_tests("test_certificates_generic.py", name)


def run_sampler_std_test(family: str) -> None:
    """tests/test_noise.py's per-family checks (the sampler draws the family's std)."""
    ran = run_generic_tests("test_noise.py", family)
    assert "test_every_family_samples_its_std" in ran, ran


def verify_quick(name: str) -> dict:
    from smoothcert.verify.report import run_report

    return run_report([name], quick=True, progress=False, errata=False)


def cli(capsys, *argv):
    from smoothcert.cli import main

    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse: --help exits 0, a usage error 2
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---------------------------------------------------------------------------------------------
def test_the_toy_family_gets_cli_flags(toy, capsys):
    rc, out, _ = cli(capsys, "radius", "--help")
    assert rc == 0 and "--tau" in out

    rc, out, err = cli(capsys, "radius", "--pa", "0.9", "--sigma", "1", "--tau", "2", "--cert", CERT)
    assert rc == 0, err
    expected = TauGaussianL2(1.0, 2.0).radius(0.9)
    assert f"R = {expected!r}" in out
    exact = 2 * mp.sqrt(2) * mp.erfinv(2 * mp.mpf(0.9) - 1)  # 2 Phi^-1(0.9)
    assert expected <= exact and abs(expected - exact) <= 1e-12 * exact

    rc, out, err = cli(capsys, "radius", "--pa", "0.9", "--sigma", "1", "--tau", "-1", "--cert", CERT)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "tau" in lines[0] and "-1" in lines[0], err


def test_the_toy_family_gets_its_catalog_text(toy):
    from smoothcert.verify.catalog import render_catalog

    text = render_catalog()
    section = text.split(f"## `{CERT}`", 1)[1].split("\n## ", 1)[0]
    assert "`tau`" in section and TAU_HELP in section, section


def test_the_toy_family_passes_the_generic_certificate_tests(toy):
    ran = run_generic_certificate_tests(CERT)
    # the registry-wide soundness and bad-input checks all ran on it
    for expected in ("test_radius_never_above_twin", "test_monotone_increasing_in_pa",
                     "test_linear_in_noise_scale", "test_bad_scale_raises_naming_the_argument",
                     "test_binary_equals_multiclass_at_complement"):
        assert expected in ran, ran


def test_the_toy_family_passes_the_sampler_std_test(toy):
    run_sampler_std_test(TOY)


def test_the_toy_family_gets_verifier_columns(toy):
    report = verify_quick(CERT)
    assert report["status"] == "pass", report["rows"]
    for row in report["rows"]:
        assert row["columns"]["witness"]["status"] == "pass", row["columns"]["witness"]
        assert row["columns"]["monte_carlo"]["status"] == "pass", row["columns"]["monte_carlo"]


def test_without_its_sampler_the_std_test_fails(toy):
    toy.remove("sampler")
    with pytest.raises(ValueError, match=f"'{TOY}'.*sampler"):
        run_sampler_std_test(TOY)


def test_without_its_verifier_entries_the_verifier_fails(toy):
    toy.remove("verify")
    report = verify_quick(CERT)
    assert report["status"] == "fail" and report["failed"] == [CERT]
    for row in report["rows"]:
        for kind in VERIFY_KINDS:
            col = row["columns"][kind]
            assert col["status"] == "fail" and "register" in col["summary"], col


def test_without_its_family_object_the_generic_tests_fail(toy):
    toy.remove("family")
    with pytest.raises(Exception, match=TOY):
        run_generic_certificate_tests(CERT)
