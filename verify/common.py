"""Shared pieces of the verifier: check results, representative certificate instances, helpers.

Every check returns a :class:`Check` with a status -- ``pass``, ``fail``, ``n/a`` (the column
does not apply, with the reason), ``info`` (a measurement with no pass/fail meaning, e.g. how
loose a non-tight bound is) or ``exempt`` (a required check that the family's registered,
documented exemption waives, see :mod:`.registry`) -- a one-line summary for the table and a
JSON-ready ``details``.

``warn`` marks a sound result that misses a stated accuracy (a twin tolerance); it is listed but
does not fail the run.

The verifier builds each registered certificate from its class attributes only
(``norm``, ``tight``, ``binary_only``, ``isotropic_counterpart``, ``from_std``) and the family
of its noise (``cert.noise.family``), so a new certificate is picked up without edits here; a
family with representative instances of its own (the Zhang shapes, a two-component mixture)
registers an ``instances`` entry below, and one whose checks need quadrature a ``quadrature``
predicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np

from ..bounds import certificate_class, certificates
from . import registry

PASS, FAIL, NA, INFO, WARN, EXEMPT = "pass", "fail", "n/a", "info", "warn", "exempt"

#: Anisotropic instances use these per-coordinate standard deviations (d = 3, ratio 4 between
#: the smallest and largest so that the worst direction matters).
ANISO_STD = (0.25, 0.5, 1.0)
ISO_STD = 0.5
#: (dim, k) of the functional-optimization instances: k = 0 reduces to the classical bounds
#: (checked against closed forms), k > 0 is the family Zhang et al. introduce.
ZHANG_SHAPES = ((3, 0), (3, 1))
#: The two-component mixture instance (weights, K x d standard deviations).
MIXTURE_WEIGHTS = (0.3, 0.7)
MIXTURE_SIGMAS = ((0.25, 0.5, 1.0), (0.6, 0.3, 0.5))


@dataclass
class Check:
    """The outcome of one verifier check for one certificate instance."""

    status: str
    summary: str
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"status": self.status, "summary": self.summary, "details": jsonable(self.details)}


def jsonable(obj: Any):
    """Turn numpy/mpmath values into plain JSON types (inf/nan as strings)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (mp.mpf, np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else repr(x)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if obj is None or isinstance(obj, (str, int)):
        return obj
    return str(obj)  # sympy objects and anything else: their printed form


def combine(checks: list[Check]) -> str:
    """Status of a column built from several checks: fail wins, then warn, pass, info, exempt,
    n/a."""
    statuses = {c.status for c in checks}
    for s in (FAIL, WARN, PASS, INFO, EXEMPT):
        if s in statuses:
            return s
    return NA


@dataclass
class Instance:
    """A certificate bound to representative noise parameters, with a label for the report."""

    name: str
    label: str
    cert: Any

    @property
    def family(self) -> str:
        return self.cert.noise.family

    @property
    def dim(self) -> int:
        """Dimension used for witnesses and Monte Carlo (the parameter size, or 3)."""
        p = self.cert.noise.params
        if "dim" in self.cert.params:  # a family's dim, or a certificate's own (the l_inf ones)
            return int(self.cert.params["dim"])
        for key in ("sigma", "scale", "half_width"):
            if key in p and np.ndim(p[key]) > 0:
                return int(np.size(p[key]))
        if "sigmas" in p:
            return int(np.asarray(p["sigmas"]).reshape(len(p["weights"]), -1).shape[1])
        return 3


def instances(name: str) -> list[Instance]:
    """Representative instances of the certificate ``name``.

    Isotropic theorems get std 0.5; anisotropic ones (``isotropic_counterpart`` set) get per-coordinate
    std ``ANISO_STD``; a family with an ``instances`` entry in :mod:`.registry` (the Zhang families:
    one instance per ``ZHANG_SHAPES`` entry; the Gaussian mixture: a two-component one too) builds
    its own from that certificate; a certificate with a ``constant`` option (the Gaussian mixture)
    gets one instance per option value.
    """
    cls = certificate_class(name)
    std = np.array(ANISO_STD) if cls.isotropic_counterpart else ISO_STD
    base = cls.from_std(std, dim=3 if cls.isotropic_counterpart else None)
    entry = registry.find("instances", base.noise.family)
    out = entry.obj(name, cls, base) if entry else [Instance(name, "", base)]
    if "constant" in base.params:
        for inst in list(out):
            for option in ("derived", "printed"):
                if option != inst.cert.params["constant"]:
                    params = dict(inst.cert.params, constant=option)
                    out.append(Instance(name, "", cls(**params)))
    for inst in out:
        inst.label = inst.label or _label(inst.cert)
    return out


@registry.register("instances", "zhang-l2", "zhang-l1", "zhang-linf")
def zhang_instances(name, cls, base) -> list[Instance]:
    """One instance per ``ZHANG_SHAPES`` (dim, k): k = 0 reduces to the classical bounds, k > 0 is
    the family of Zhang et al. 2020."""
    return [Instance(name, f"d={dim},k={k}", cls.from_std(ISO_STD, dim=dim, k=k))
            for dim, k in ZHANG_SHAPES]


@registry.register("instances", "gaussian-mixture")
def mixture_instances(name, cls, base) -> list[Instance]:
    """``from_std`` gives one component; add a genuine two-component anisotropic mixture."""
    two = {"weights": np.array(MIXTURE_WEIGHTS), "sigmas": np.array(MIXTURE_SIGMAS)}
    return [Instance(name, "", base), Instance(name, "", cls(**dict(base.params, **two)))]


@registry.register("instances", "uniform-ball-l2")
def uniform_ball_instances(name, cls, base) -> list[Instance]:
    """Small dimensions (3 and 16) for Monte Carlo and witnesses; the default d = 784 is pinned
    in tests/test_zoo.py."""
    return [Instance(name, f"d={dim}", cls.from_std(ISO_STD, dim=dim)) for dim in (3, 16)]


@registry.register("instances", "uniform", "laplace")
def cube_instances(name, cls, base) -> list[Instance]:
    """The l_inf certificates of Yang et al. (a ``dim`` of their own): d = 3 and 16 for Monte
    Carlo and witnesses (the default d = 784 is pinned in tests/test_zoo_linf.py); the other
    uniform and Laplace certificates keep their one instance."""
    if "dim" not in base.params:
        return [Instance(name, "", base)]
    return [Instance(name, f"d={dim}", cls(**dict(base.params, dim=dim))) for dim in (3, 16)]


@registry.register("instances", "exp2", "expinf")
def yang_exp_instances(name, cls, base) -> list[Instance]:
    """Yang et al.'s Exp2/ExpInf in small dimensions: k = 0 at d = 3 and 16; k = 1 at d = 3
    where the certificate takes it (yang-expinf-linf certifies k = 0 only, and is checked at
    exp_power 2 and 0.5 too); yang-exp2-l2 at exp_power 1 too (not Cohen's closed form)."""
    out = [Instance(name, f"d={dim},k=0", cls.from_std(ISO_STD, dim=dim)) for dim in (3, 16)]
    if name != "yang-expinf-linf":
        out.append(Instance(name, "d=3,k=1", cls.from_std(ISO_STD, dim=3, k=1)))
    else:  # the differential-method table (bounds/cubical_linf.py) on both sides of p = 1
        out += [Instance(name, f"d=3,p={pw:g}", cls.from_std(ISO_STD, dim=3, exp_power=pw))
                for pw in (2.0, 0.5)]
    if name == "yang-exp2-l2":  # an exponent other than 2: the level set on the radial engine
        out.append(Instance(name, "d=3,k=0,p=1", cls.from_std(ISO_STD, dim=3, exp_power=1.0)))
    return out


@registry.register("instances", "pow2")
def pow2_instances(name, cls, base) -> list[Instance]:
    """Pow2 at d = 3: rs4a's default (p = 1, a = d + 10) and a heavy tail with p = 2 (a = d + 1 = 4;
    a finite variance needs a > (d + 2)/p = 2.5)."""
    return [Instance(name, f"d=3,p={pw:g},m={m:g}", cls.from_std(ISO_STD, dim=3, exp_power=pw, tail_excess=m))
            for pw, m in ((1.0, 10.0), (2.0, 1.0))]


@registry.register("instances", "pareto")
def pareto_instances(name, cls, base) -> list[Instance]:
    """Yang et al.'s Pareto at rs4a's default tail index a = 3 and at a lighter a = 10."""
    return [Instance(name, f"a={a:g}", cls.from_std(ISO_STD, tail_index=a)) for a in (3.0, 10.0)]


@registry.register("instances", "powinf")
def powinf_instances(name, cls, base) -> list[Instance]:
    """PowInf in small dimensions: the default tail (m = 10) at d = 3 and 16, a heavy one (m = 3)."""
    return [Instance(name, f"d={dim},m={m}", cls.from_std(ISO_STD, dim=dim, tail_excess=m))
            for dim, m in ((3, 10.0), (16, 10.0), (3, 3.0))]


@registry.register("instances", "exp1")
def exp1_instances(name, cls, base) -> list[Instance]:
    """Yang et al.'s Exp1 in small dimensions: the default exp_power (2) at d = 3, a heavy one
    (1/2) at d = 16 (the default d = 784 is pinned in tests/test_zoo_exp1_expp.py)."""
    return [Instance(name, f"d={dim},p={power:g}", cls.from_std(ISO_STD, dim=dim, exp_power=power))
            for dim, power in ((3, 2.0), (16, 0.5))]


@registry.register("instances", "expp")
def expp_instances(name, cls, base) -> list[Instance]:
    """Yang et al.'s Expp: the default exp_power 1/2 (differential-method integral) and 2 (closed
    form, tight), in d = 3."""
    return [Instance(name, f"p={power:g}", cls.from_std(ISO_STD, exp_power=power)) for power in (0.5, 2.0)]


@registry.register("quadrature", "exp1")
def exp1_quadrature(params) -> bool:
    """exp_power != 1 (1 is Laplace): the twin integrates incomplete gamma functions."""
    return float(params["exp_power"]) != 1.0


@registry.register("quadrature", "expp")
def expp_quadrature(params) -> bool:
    """exp_power < 1: the twin integrates the differential method's integrand."""
    return float(params["exp_power"]) < 1.0


@registry.register("quadrature", "exp2")
def exp2_quadrature(params) -> bool:
    """k > 0 or exp_power != 2: Zhang et al.'s l2 engine integrates over the radial law (as
    zhang-l2; only exp_power 2 with k = 0 is Cohen's closed form)."""
    return float(params["k"]) > 0 or float(params["exp_power"]) != 2.0


@registry.register("quadrature", "pow2")
def pow2_quadrature(params) -> bool:
    """Always: no member of Pow2 has a closed form; its twin integrates over the BetaPrime law."""
    return True


@registry.register("quadrature", "zhang-l2", "zhang-l1")
def zhang_quadrature(params) -> bool:
    """k > 0 (real): the twin and the witnesses' marginal CDFs integrate over the radial law."""
    return float(params["k"]) > 0


def needs_quadrature(cert) -> bool:
    """Whether the checks of ``cert`` need quadrature (its family's ``quadrature`` predicate)."""
    entry = registry.find("quadrature", cert.noise.family)
    return bool(entry and entry.obj(cert.noise.params))


def _label(cert) -> str:
    parts = []
    # options first: the table truncates long labels
    for k, v in sorted(cert.params.items(), key=lambda kv: np.ndim(kv[1]) > 0):
        if np.ndim(v) == 0:
            parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
        else:
            parts.append(f"{k}={_fmt_array(np.asarray(v))}")
    return ",".join(parts)


def _fmt_array(a: np.ndarray) -> str:
    if a.ndim <= 1:
        return "[" + ",".join(f"{x:.3g}" for x in a.reshape(-1)) + "]"
    return "[" + ",".join(_fmt_array(row) for row in a) + "]"


def all_instances(names: list[str] | None = None) -> list[Instance]:
    """Instances of every (or the selected) registered certificate."""
    names = certificates() if not names else names
    out = []
    for n in names:
        out.extend(instances(n))
    return out


def mpf(x) -> mp.mpf:
    return mp.mpf(float(x))


def norm_of(u: np.ndarray, norm: str) -> float:
    """``||u||`` in the certificate's norm name (``l1``, ``l2``, ``linf``)."""
    order = {"l1": 1, "l2": 2, "linf": np.inf}[norm]
    return float(np.linalg.norm(np.asarray(u, dtype=float), ord=order))


def unit(u: np.ndarray, norm: str) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    return u / norm_of(u, norm)


def is_binary_point(p_b) -> bool:
    return p_b is None
