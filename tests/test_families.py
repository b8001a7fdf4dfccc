"""Properties every registered noise family must have (bounds/family.py), parametrized over
``noise_families()``, and the parts that key on the family objects: certificates (``family``,
``noise``, ``from_std``), the flags of ``smoothcert radius`` and the theorem catalog.

A family registered later is picked up without edits here. A test-only family registered at run
time (``toy_family``) checks that a new parameter gets its CLI flag and catalog row.
"""

from __future__ import annotations

import inspect
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert import cli
from smoothcert.bounds import certificate_class, certificates, registry
from smoothcert.bounds.family import (NoiseFamily, Param, family_params, noise_families, noise_family,
                                      positive, register_family, unregister_family)
from smoothcert.bounds.gaussian import CohenGaussianL2

FAMILIES = noise_families()
NAMES = sc.certificates()
#: Values no declared parameter accepts (every one is a scale, a weight, an exponent or a size).
BAD = [float("nan"), float("inf"), float("-inf"), -1.0]
#: Normal floats: below 1e-300 the matched scale std / unit_std can be subnormal (no relative
#: precision), above 1e300 lambda = sqrt(3) std overflows.
STDS = st.floats(1e-300, 1e300)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _valid(fam):
    """Valid parameters of ``fam``: its matched parameters at std 0.5."""
    return fam.params_for_std(0.5)


# -- every family --------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_declaration_is_complete(family):
    fam = noise_family(family)
    assert fam.name == family and fam.law and fam.std_formula and fam.__doc__
    assert fam.scale_param in fam.param_names()
    for p in fam.params:
        assert p.help and p.kind in ("real", "reals", "int")
    assert fam.validate(_valid(fam)).keys() == set(fam.param_names())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("bad", BAD)
def test_validate_rejects_each_bad_value_naming_the_parameter(family, bad):
    fam = noise_family(family)
    for p in fam.params:
        params = dict(_valid(fam), **{p.name: bad})
        with pytest.raises((ValueError, TypeError), match=p.name) as info:
            fam.validate(params)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("family", FAMILIES)
def test_validate_rejects_unknown_and_missing_parameters(family):
    fam = noise_family(family)
    with pytest.raises(ValueError, match="no_such_param"):
        fam.validate(dict(_valid(fam), no_such_param=1.0))
    for p in fam.params:
        if p.required:
            with pytest.raises(ValueError, match=p.name):
                fam.validate({k: v for k, v in _valid(fam).items() if k != p.name})


def _drawn(fam, data):
    """Non-scale parameters drawn by kind, each possibly left to its default (None)."""
    draw = {"real": st.floats(0.0, 50.0), "reals": st.floats(0.0, 50.0), "int": st.integers(2, 5000)}
    out = {}
    for p in fam.params:
        if p.name != fam.scale_param:
            out[p.name] = data.draw(st.one_of(st.none(), draw[p.kind]), label=p.name)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_params_for_std_round_trips(family):
    """``std(params_for_std(s)) == s`` to 1e-15 relative over the normal float range of s and
    drawn values of the other parameters."""
    fam = noise_family(family)

    @SETTINGS
    @given(STDS, st.data())
    def check(s, data):
        try:
            params = fam.params_for_std(s, **_drawn(fam, data))
        except ValueError:
            assume(False)  # drawn parameters that violate a joint constraint (k < dim)
        got = np.asarray(fam.std(params), dtype=float)
        assert np.all(np.abs(got - s) <= 1e-15 * s), (got, s)

    check()


#: Families of the anisotropic certificates (their ``from_std`` broadcasts ``dim`` coordinates).
PER_COORDINATE = sorted({certificate_class(n).family for n in NAMES if certificate_class(n).isotropic_counterpart})


@pytest.mark.parametrize("family", PER_COORDINATE)
def test_params_for_std_broadcasts_per_coordinate(family):
    fam = noise_family(family)
    params = fam.params_for_std(0.5, per_coordinate_dim=3)
    assert np.shape(fam.std(params)) == (3,) and np.allclose(fam.std(params), 0.5, rtol=1e-15)
    with pytest.raises(ValueError, match="dim"):
        fam.params_for_std(np.full(2, 0.5), per_coordinate_dim=3)


@SETTINGS
@given(st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=4),
       st.lists(st.floats(1e-300, 1e300), min_size=4, max_size=4))
def test_mixture_std_over_the_whole_range(wraw, sig):
    """``sqrt(sum_k alpha_k sigma_k^2)`` against mpmath, also where sigma_k^2 over- or underflows
    in float64 (a direct evaluation gives inf above 1.34e154 and loses digits below 1e-154)."""
    w = np.array(wraw) / math.fsum(wraw)
    w[-1] = 1.0 - math.fsum(w[:-1])
    assume(w[-1] > 0)
    s = np.array(sig[: len(w)])
    got = float(sc.Noise("gaussian-mixture", {"weights": w, "sigmas": s}).std())
    with mp.workdps(40):
        exact = mp.sqrt(mp.fsum(mp.mpf(float(a)) * mp.mpf(float(b)) ** 2 for a, b in zip(w, s)))
        assert abs(mp.mpf(got) - exact) <= 1e-14 * exact


def test_parameter_kinds_agree_across_families():
    """One CLI flag per name: every family declaring a name declares the same kind."""
    for name, decl in family_params().items():
        kinds = {noise_family(f).param(name).kind for f in FAMILIES if name in noise_family(f).param_names()}
        assert kinds == {decl.kind}, name


# -- certificates key on the family ---------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_certificate_family_is_registered(name):
    cls = certificate_class(name)
    assert cls.family in FAMILIES
    fam = noise_family(cls.family)
    assert cls.scale_param in fam.param_names()


@pytest.mark.parametrize("name", NAMES)
def test_noise_std_is_the_family_std(name):
    cls = certificate_class(name)
    cert = cls.from_std(0.3, dim=4)
    noise = cert.noise
    assert noise.family == cls.family
    assert set(noise.params) == set(noise_family(cls.family).param_names())
    assert np.allclose(np.asarray(noise.std(), dtype=float), 0.3, rtol=1e-15)
    assert np.array_equal(noise.std(), noise_family(cls.family).std(noise.params))


@pytest.mark.parametrize("name", NAMES)
def test_from_std_ignores_other_families_parameters(name):
    """One keyword call serves every family (the comparison figures pass k to all of them)."""
    cls = certificate_class(name)
    a = cls.from_std(0.3, dim=4)
    b = cls.from_std(0.3, dim=4, k=0, half_width=None, no_such_param=7)
    assert repr(a) == repr(b) and a.radius(0.9) == b.radius(0.9)


# -- the command line and the catalog --------------------------------------------------------------
def _radius_options():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {s for a in sub.choices["radius"]._actions for s in a.option_strings}


def test_radius_has_one_flag_per_declared_parameter():
    options = _radius_options()
    for name in family_params():
        assert "--" + name.replace("_", "-") in options, name


class Tau(NoiseFamily):
    """Test-only family: N(0, (tau sigma)^2 I), a new parameter ``tau`` without default."""

    name = "tau-gaussian"
    params = (Param("sigma", "reals", positive, "Gaussian standard deviation per coordinate"),
              Param("tau", "real", positive, "test-only shrink factor of the noise"))
    scale_param = "sigma"
    law = "N(0, (tau sigma)^2 I)"
    std_formula = "tau sigma"

    @classmethod
    def unit_std(cls, params):
        return float(params["tau"])


class TauCertificate(CohenGaussianL2):
    """Test-only certificate of the Tau family: Cohen's gap at scale tau sigma."""

    name = "tau-gaussian-l2"
    family = "tau-gaussian"

    def __init__(self, sigma, tau):
        super().__init__(sigma * tau)
        self._params = {"sigma": float(sigma), "tau": float(tau)}


@pytest.fixture
def toy_family():
    register_family(Tau)
    registry.register(TauCertificate)
    try:
        yield TauCertificate.name
    finally:
        registry._REGISTRY.pop(TauCertificate.name, None)
        unregister_family(Tau.name)


def test_a_new_family_gets_its_flag_catalog_row_and_from_std(toy_family, capsys):
    from smoothcert.verify.catalog import render_catalog

    assert "--tau" in _radius_options()
    text = render_catalog()
    assert "### Noise family `tau-gaussian`" in text and "test-only shrink factor" in text
    cert = TauCertificate.from_std(0.5, tau=0.25)
    assert cert.noise.std() == pytest.approx(0.5, rel=1e-15) and cert.params["sigma"] == 2.0
    # the parameter is settable and validated at the boundary
    assert cli.main(["radius", "--pa", "0.9", "--cert", toy_family, "--tau", "0.5"]) == 0
    assert "tau-gaussian-l2" in capsys.readouterr().out
    assert cli.main(["radius", "--pa", "0.9", "--cert", toy_family, "--tau", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tau" in err[0]


def test_a_parameter_without_default_is_never_guessed(toy_family, capsys):
    """Not given, tau cannot be derived: named, exit 2; in all-mode, skipped with a line."""
    assert cli.main(["radius", "--pa", "0.9", "--cert", toy_family]) == 2
    err = capsys.readouterr().err
    assert "tau" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["radius", "--pa", "0.9"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(toy_family))
    assert "skipped" in line and "tau" in line


def test_a_flag_no_selected_family_declares_is_bad_input(capsys):
    assert cli.main(["radius", "--pa", "0.9", "--cert", "cohen-gaussian-l2", "--scale", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scale" in err[0]
    assert cli.main(["radius", "--pa", "0.9", "--cert", "cohen-gaussian-l2", "--cert", "teng-laplace-l1",
                     "--scale", "0.5"]) == 0


def test_from_std_gives_a_theorem_its_own_dim():
    """A certificate whose theorem takes a ``dim`` that its family does not declare (the l_inf
    radius of uniform or Laplace noise) is built at the ``dim`` asked for. It was built at its
    default 784 whatever ``dim`` said: ``smoothcert radius --cert yang-uniform-linf --dim 150528``
    printed the d = 784 radius, 190x the exact one at d = 150,528."""
    own = [name for name in certificates()
           if "dim" in inspect.signature(certificate_class(name).__init__).parameters
           and "dim" not in noise_family(certificate_class(name).family).param_names()
           and not certificate_class(name).isotropic_counterpart]
    assert {"yang-uniform-linf", "yang-laplace-linf"} <= set(own)
    for name in own:
        assert certificate_class(name).from_std(0.5, dim=5).params["dim"] == 5, name
    cube = certificate_class("yang-uniform-linf")
    assert cube.from_std(0.5, dim=150_528).radius(0.99) < cube.from_std(0.5).radius(0.99) / 150
