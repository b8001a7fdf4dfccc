"""Symbolic identities (sympy) and volume checks.

Each identity is proved with sympy on the formula and then confirmed numerically on the
registered certificate, so a certificate that drifts from its formula fails here too. The
binary == multi-class and volume checks run for every certificate; a family's own identities are
``symbolic`` entries of :mod:`.registry` (and its binary proof a ``binary_identity`` entry):

* binary == multi-class at ``pB = 1 - pA`` (Gaussian: ``Phi^-1`` is odd about 1/2; Laplace Teng
  Thm 1: the TV term dominates, ``-log(2(1-p)) - 1/2 log(p/(1-p)) = -log 2 - 1/2 log(p(1-p)) >= 0``;
  uniform and mixture: ``pA - (1 - pA) = 2 pA - 1``);
* Teng et al. Remark 2: Thm 1's TV term ``-log(1 - pA + pB)`` beats Lecuyer's ``1/2 log(pA/pB)``
  iff ``pB > pA (1 - pA + pB)^2``, i.e. (solving the quadratic in pB) iff
  ``(1 - pA)^2 / pA < pB < pA``; with ``pB <= 1 - pA`` the interval is non-empty iff pA > 1/2;
* ARS Thm 4.2's l2 radius ``min_i sigma_i gap`` is the enclosed ball of the ANCER Cor. 1 ellipsoid;
* Zhang et al. at k = 0: Gaussian ``L(p, r) = Phi(Phi^-1(p) - r/sigma)`` so ``L = 1/2`` at
  ``r = sigma Phi^-1(p)`` (their Eq. 8, Cohen's radius); Laplace ``r = -b log(2(1 - p))`` (their
  Eq. 7, Teng's Thm 2);
* volumes: ``int`` of the ellipsoid indicator is ``pi^(d/2)/Gamma(d/2+1) prod a_i`` and of the
  cross-polytope ``2^d prod a_i / d!`` (ANCER Prop. 4), by sympy integration for d = 2, 3, and
  ``region.log_volume()`` against a Monte Carlo hit-or-miss estimate with a Clopper-Pearson
  interval in d = 2, 3.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp

from ..bounds import certificates, get
from . import registry
from .common import FAIL, NA, PASS, Check, Instance
from .montecarlo import cp_lower, cp_upper

P_GRID = [0.5 + 1e-9, 0.51, 0.6, 0.75, 0.9, 0.99, 0.999999, 1 - 1e-12]
_p, _q, _r, _s, _b, _t = sp.symbols("p q r sigma b t", positive=True)  # noqa: E501


def _phi_inv(x):
    return sp.sqrt(2) * sp.erfinv(2 * x - 1)


# ------------------------------------------------------------------------------------------
# sympy proofs (cached: each is a statement about formulas, not about an instance)
_PROOFS: dict[str, tuple[bool, str]] = {}


def proof(name: str) -> tuple[bool, str]:
    if name not in _PROOFS:
        ok, why = _PROOF_FUNCS[name]()
        _PROOFS[name] = (bool(ok), why)
    return _PROOFS[name]


def _proof_binary_gaussian():
    x = sp.Symbol("x", real=True)
    gap = (_phi_inv(_p) - _phi_inv(1 - _p)) / 2
    diff = sp.expand(gap.subs(_p, (x + 1) / 2)) - sp.sqrt(2) * sp.erfinv(x)
    # erfinv is odd: erf(-erfinv(x)) = -erf(erfinv(x)) = -x and erf is injective.
    odd = sp.simplify(sp.erf(-sp.erfinv(x)) + x) == 0
    ok = odd and sp.simplify(diff.subs(sp.erfinv(-x), -sp.erfinv(x))) == 0
    return ok, ("(Phi^-1(p) - Phi^-1(1-p))/2 = Phi^-1(p): with x = 2p - 1 the difference is "
                "-(erfinv(-x) + erfinv(x))/sqrt(2), 0 since erf(-erfinv(x)) = -x")


def _proof_binary_teng():
    h = -sp.log(2 * (1 - _p)) - sp.log(_p / (1 - _p)) / 2
    h2 = sp.expand_log(h, force=True)
    target = -sp.log(2) - (sp.log(_p) + sp.log(1 - _p)) / 2
    crit = sp.solve(sp.diff(h2, _p), _p)
    ok = sp.simplify(h2 - sp.expand_log(target, force=True)) == 0 and crit == [sp.Rational(1, 2)] \
        and sp.simplify(h2.subs(_p, sp.Rational(1, 2))) == 0 \
        and sp.diff(h2, _p, 2).subs(_p, sp.Rational(1, 2)) > 0
    return ok, ("TV term - ratio term = -log 2 - 1/2 log(p(1-p)): one critical point p = 1/2, "
                "value 0, convex there: Thm 1 binary = -log(2(1-p)) = Thm 2")


def _proof_binary_linear():
    ok = sp.expand(_p - (1 - _p)) == 2 * _p - 1
    return ok, "pA - (1 - pA) = 2 pA - 1"


def _proof_teng_remark2():
    h = _q - _p * (1 - _p + _q) ** 2  # > 0 iff the TV term wins (q = pB)
    roots = sp.solve(sp.Eq(h, 0), _q)
    expected = [_p, (1 - _p) ** 2 / _p]
    ok = len(roots) == 2 and all(any(sp.simplify(r - e) == 0 for r in roots) for e in expected) \
        and sp.simplify(sp.Poly(h, _q).LC() + _p) == 0
    # equivalence of the radii condition with h > 0: -log(1-p+q) > 1/2 log(p/q)
    # <=> (1-p+q)^-2 > p/q <=> q > p (1-p+q)^2 (all positive).
    return ok, ("-log(1-pA+pB) > 1/2 log(pA/pB) iff pB > pA(1-pA+pB)^2; roots in pB: pA and "
                "(1-pA)^2/pA, leading coefficient -pA: TV term wins iff (1-pA)^2/pA < pB < pA")


def _proof_enclosed_ellipse():
    a1, a2 = sp.symbols("a1 a2", positive=True)
    t = sp.Symbol("t", real=True)
    dist2 = (a1 * sp.cos(t)) ** 2 + (a2 * sp.sin(t)) ** 2
    crit = sp.solve(sp.diff(dist2, t), t)
    vals = {sp.simplify(dist2.subs(t, c)) for c in crit}
    ok = vals == {a1**2, a2**2}
    return ok, "min over the ellipse boundary of |delta|^2 is min(a1^2, a2^2): enclosed ball = min axis"


def _proof_zhang_gaussian():
    lower = sp.erf((_phi_inv(_p) - _r / _s) / sp.sqrt(2)) / 2 + sp.Rational(1, 2)
    sol = sp.solve(sp.Eq(lower, sp.Rational(1, 2)), _r)
    ok = len(sol) == 1 and sp.simplify(sol[0] - _s * _phi_inv(_p)) == 0
    return ok, "Phi(Phi^-1(p) - r/sigma) = 1/2 at r = sigma Phi^-1(p) (Zhang Eq. 8 = Cohen)"


def _proof_zhang_laplace():
    # 1-D Neyman-Pearson set {z_1 <= t} with P = p >= 1/2: t = -b log(2(1-p)); shifted by r the
    # probability is F(t - r); F(0) = 1/2 so the binary flip is at r = t.
    # q = 1 - p > 0
    t_expr = sp.solve(sp.Eq(1 - sp.exp(-_t / _b) / 2, 1 - _q), _t)
    ok = len(t_expr) == 1 and sp.simplify(sp.expand_log(t_expr[0] + _b * sp.log(2 * _q), force=True)) == 0
    return ok, "F(t) = 1 - exp(-t/b)/2 = p gives r = t = -b log(2(1-p)) (Zhang Eq. 7 = Teng Thm 2)"


def _proof_volumes():
    x, y, z, a1, a2, a3 = sp.symbols("x y z a1 a2 a3", positive=True)
    ell2 = 4 * sp.integrate(a2 * sp.sqrt(1 - x**2 / a1**2), (x, 0, a1))
    rr, th = sp.symbols("rr th", positive=True)
    ell3 = sp.integrate(sp.integrate(a1 * a2 * a3 * rr**2 * sp.sin(th), (rr, 0, 1)), (th, 0, sp.pi)) \
        * 2 * sp.pi
    cross2 = 4 * sp.integrate(a2 * (1 - x / a1), (x, 0, a1))
    cross3 = 8 * sp.integrate(sp.integrate(a3 * (1 - x / a1 - y / a2), (y, 0, a2 * (1 - x / a1))),
                              (x, 0, a1))

    def ball(d, ax):
        return sp.pi ** sp.Rational(d, 2) / sp.gamma(sp.Rational(d, 2) + 1) * sp.Mul(*ax)

    ok = (sp.simplify(ell2 - ball(2, [a1, a2])) == 0 and sp.simplify(ell3 - ball(3, [a1, a2, a3])) == 0
          and sp.simplify(cross2 - 2**2 * a1 * a2 / sp.factorial(2)) == 0
          and sp.simplify(cross3 - 2**3 * a1 * a2 * a3 / sp.factorial(3)) == 0)
    return ok, ("integrated volumes: ellipse pi a1 a2, ellipsoid 4/3 pi a1 a2 a3, cross-polytope "
                "2^d prod a_i / d! for d = 2, 3")


#: The sympy proof of binary == multi-class, per noise family (``binary_identity`` entries).
registry.add("binary_identity", "gaussian", "binary-gaussian")
registry.add("binary_identity", "laplace", "binary-teng")
registry.add("binary_identity", "uniform", "binary-linear")
registry.add("binary_identity", "gaussian-mixture", "binary-linear")

_PROOF_FUNCS = {
    "binary-gaussian": _proof_binary_gaussian,
    "binary-teng": _proof_binary_teng,
    "binary-linear": _proof_binary_linear,
    "teng-remark-2": _proof_teng_remark2,
    "enclosed-ball": _proof_enclosed_ellipse,
    "zhang-k0-gaussian": _proof_zhang_gaussian,
    "zhang-k0-laplace": _proof_zhang_laplace,
    "volumes": _proof_volumes,
}


# ------------------------------------------------------------------------------------------
# numeric confirmations on the registered certificates
def _close(a, b, rtol=1e-12):
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + 1e-300


def binary_vs_multiclass(inst: Instance) -> Check:
    """``radius(p) == radius(p, 1 - p)`` numerically, and the family's sympy identity."""
    cert = inst.cert
    if cert.binary_only:
        return Check(NA, "n/a: binary theorem", {})
    entry = registry.find("binary_identity", inst.family)
    which = entry.obj if entry else None
    grid = [0.6, 0.9] if getattr(cert, "expensive", False) else P_GRID
    rtol = getattr(cert, "twin_rtol", 1e-12)
    bad = []
    for p in grid:
        rb, rm = cert.radius(p), cert.radius(p, 1 - p)
        if not _close(rb, rm, rtol=rtol):
            bad.append({"p": p, "binary": rb, "multi": rm, "rel": abs(rb - rm) / max(rb, rm)})
    ok_sym, why = proof(which) if which and inst.name != "lecuyer-laplace-l1" else (True, "numeric only")
    if inst.name == "lecuyer-laplace-l1":
        why = "Lecuyer has no separate binary form: numeric only"
    status = PASS if ok_sym and not bad else FAIL
    return Check(status, "binary==multi", {"sympy": why, "sympy_ok": ok_sym, "mismatches": bad})


@registry.register("symbolic", "laplace")
def teng_remark2(inst: Instance) -> Check:
    """Inside ``((1-pA)^2/pA, min(pA, 1-pA)]`` Teng Thm 1 > Lecuyer; outside they are equal."""
    if inst.name not in ("teng-laplace-l1", "lecuyer-laplace-l1") or \
            "teng-laplace-l1" not in certificates() or "lecuyer-laplace-l1" not in certificates():
        return Check(NA, "n/a", {})
    ok_sym, why = proof("teng-remark-2")
    b = 0.5
    teng, lec = get("teng-laplace-l1", scale=b), get("lecuyer-laplace-l1", scale=b)
    rows, bad = [], 0
    for pa in (0.55, 0.7, 0.9, 0.99):
        lo = (1 - pa) ** 2 / pa
        for pb in (lo * 0.5, lo * 0.99, (lo + 1 - pa) / 2, 1 - pa):
            rt, rl = teng.radius(pa, pb), lec.radius(pa, pb)
            inside = lo < pb < pa
            ok = rt > rl if inside else _close(rt, rl)
            bad += not ok
            rows.append({"p_a": pa, "p_b": pb, "inside": inside, "teng": rt, "lecuyer": rl})
    return Check(PASS if ok_sym and not bad else FAIL, "Remark 2",
                 {"sympy": why, "sympy_ok": ok_sym, "points": rows, "mismatches": bad})


@registry.register("symbolic", "laplace")
def teng_thm1_binary_is_thm2(inst: Instance) -> Check:
    """Teng et al.: Thm 1 at pB = 1 - pA equals Thm 2 (sympy proof ``binary-teng``), numerically."""
    if inst.name != "teng-laplace-l1-binary" or "teng-laplace-l1" not in certificates():
        return Check(NA, "n/a", {})
    ok_sym, why = proof("binary-teng")
    b = float(inst.cert.noise.params["scale"])
    thm1 = get("teng-laplace-l1", scale=b)
    bad = [(p, thm1.radius(p), inst.cert.radius(p)) for p in P_GRID
           if not _close(thm1.radius(p), inst.cert.radius(p), 1e-13)]
    return Check(PASS if ok_sym and not bad else FAIL, "Thm1 binary==Thm2",
                 {"sympy": why, "sympy_ok": ok_sym, "mismatches": bad})


@registry.register("symbolic", "gaussian")
def enclosed_ball(inst: Instance) -> Check:
    """ARS radius == ``enclosed_radius()`` of the ANCER ellipsoid at the same sigma."""
    if inst.name not in ("ars-gaussian-l2", "ancer-ellipsoid") or \
            not {"ars-gaussian-l2", "ancer-ellipsoid"} <= set(certificates()):
        return Check(NA, "n/a", {})
    ok_sym, why = proof("enclosed-ball")
    sigma = np.asarray(inst.cert.noise.params["sigma"])
    ars, ancer = get("ars-gaussian-l2", sigma=sigma), get("ancer-ellipsoid", sigma=sigma)
    bad = []
    for pa, pb in [(0.9, None), (0.6, 0.3), (0.99, 1e-4), (1 - 1e-12, None)]:
        r, e = ars.radius(pa, pb), ancer.region(pa, pb).enclosed_radius()
        if not _close(r, e, 1e-13):
            bad.append((pa, pb, r, e))
    return Check(PASS if ok_sym and not bad else FAIL, "ARS==enclosed",
                 {"sympy": why, "sympy_ok": ok_sym, "mismatches": bad})


#: (k, p_l, upper bounds of the other labels) for the top-k check: caps by 1 - p_l, a zero bound
#: outside Gamma_k, the deep tail.
TOPK_POINTS = [(2, 0.4, [0.3, 0.2, 0.1]), (3, 0.25, [0.25, 0.2, 0.15, 0.15]),
               (2, 0.9, [0.3, 0.3, 0.0]), (5, 0.3, [0.1] * 9), (3, 1 - 1e-12, [1e-13, 1e-200, 1e-300])]


@registry.register("symbolic", "gaussian")
def topk_vector_twin(inst: Instance) -> Check:
    """jia-gaussian-topk-l2 beyond the scalar p_b of the sweeps: at k >= 2 with vector upper
    bounds the float radius is never above its twin (and within 1e-10 of it), and at k = 1 it is
    Cohen's radius with p_B the largest upper bound (Jia et al. Thm 1 reduction)."""
    if inst.name != "jia-gaussian-topk-l2" or "cohen-gaussian-l2" not in certificates():
        return Check(NA, "n/a", {})
    sigma = float(inst.cert.noise.params["sigma"])
    cohen = get("cohen-gaussian-l2", sigma=sigma)
    rows, bad = [], 0
    for k, pl, others in TOPK_POINTS:
        cert = get(inst.name, sigma=sigma, k=k)
        r, exact = cert.radius(pl, others), cert.radius_mp(pl, others)
        ok = mp.mpf(r) <= exact and (mp.isinf(exact) or abs(mp.mpf(r) - exact) <= 1e-10 * exact)
        r1 = get(inst.name, sigma=sigma, k=1).radius(pl, others)
        c1 = cohen.radius(pl, min(max(others), 1 - pl))
        ok = ok and _close(r1, c1, 1e-13)
        bad += not ok
        rows.append({"k": k, "p_l": pl, "others": others, "radius": r, "twin": str(exact),
                     "k1": r1, "cohen": c1})
    return Check(PASS if not bad else FAIL, "top-k twin, k=1==Cohen", {"points": rows, "mismatches": bad})


def _k0_check(inst: Instance, why_ok, ref, factor, rtol) -> Check:
    """The certificate at k = 0 against ``factor * ref.radius`` for a few pA: never above it,
    and within ``rtol`` below it."""
    ok_sym, why = why_ok
    rows, bad = [], 0
    for pa in (0.6, 0.9, 0.99):
        r, e = inst.cert.radius(pa), ref.radius(pa) * factor
        ok = r <= e * (1 + 1e-12) and r >= e * (1 - rtol)
        bad += not ok
        rows.append({"p_a": pa, "radius": r, "closed_form": e, "ratio": r / e if e else None})
    return Check(PASS if ok_sym and not bad else FAIL, "k=0 closed form",
                 {"sympy": why, "sympy_ok": ok_sym, "points": rows, "mismatches": bad})


def _is_k0(inst: Instance) -> bool:
    return float(inst.cert.noise.params["k"]) == 0


@registry.register("symbolic", "zhang-l2")
def zhang_l2_k0(inst: Instance) -> Check:
    """Zhang et al. l2 at k = 0 is Cohen's radius (their Eq. 8)."""
    if not _is_k0(inst):
        return Check(NA, "n/a", {})
    ref = get("cohen-gaussian-l2", sigma=float(inst.cert.noise.params["sigma"]))
    rtol = max(getattr(inst.cert, "twin_rtol", 1e-12), 1e-9)
    return _k0_check(inst, proof("zhang-k0-gaussian"), ref, 1.0, rtol)


@registry.register("symbolic", "zhang-l1")
def zhang_l1_k0(inst: Instance) -> Check:
    """Zhang et al. l1 at k = 0 is Teng's binary radius (their Eq. 7), and multi-class never
    below Teng et al. Thm 1."""
    if not _is_k0(inst):
        return Check(NA, "n/a", {})
    ref = get("teng-laplace-l1-binary", scale=float(inst.cert.noise.params["scale"]))
    rtol = max(getattr(inst.cert, "twin_rtol", 1e-12), 1e-9)
    check = _k0_check(inst, proof("zhang-k0-laplace"), ref, 1.0, rtol)
    if "teng-laplace-l1" in certificates():
        multi, worse = _zhang_l1_vs_teng(inst)
        check.details["multi_class_vs_teng_thm1"] = multi
        check.details["mismatches"] += worse
        check.status = FAIL if worse else check.status
    return check


@registry.register("symbolic", "zhang-linf")
def zhang_linf_k0(inst: Instance) -> Check:
    """Zhang et al. Prop. 4 at k = 0: l_inf radius = Cohen's l2 radius / sqrt(d); a Monte Carlo
    certificate (DKW slack), so only soundness (below) is checked, the ratio reported."""
    if not _is_k0(inst):
        return Check(NA, "n/a", {})
    p = inst.cert.noise.params
    ref = get("cohen-gaussian-l2", sigma=float(p["sigma"]))
    why = (True, "Zhang Prop. 4: l_inf radius = l2 radius / sqrt(d)")
    return _k0_check(inst, why, ref, 1 / math.sqrt(int(p["dim"])), 1.0)


def _zhang_l1_vs_teng(inst):
    """Zhang l1 at k = 0 (Neyman-Pearson multi-class) must never be below Teng et al. Thm 1;
    the ratio shows by how much it is above (docs/contributing.md, Theorem catalog conventions)."""
    teng = get("teng-laplace-l1", scale=float(inst.cert.noise.params["scale"]))
    rows, worse = [], 0
    rtol = max(getattr(inst.cert, "twin_rtol", 1e-12), 1e-12)  # equal where Teng is tight
    for pa, pb in [(0.6, 0.3), (0.9, 0.05), (0.99, 1e-4), (0.5, 0.2)]:
        z, t = inst.cert.radius(pa, pb), teng.radius(pa, pb)
        worse += z < t * (1 - rtol)
        rows.append({"p_a": pa, "p_b": pb, "zhang_l1": z, "teng_thm1": t, "ratio": z / t if t else None})
    return rows, worse


def volume_check(inst: Instance, n: int = 200_000, seed: int = 0) -> Check:
    """``region.log_volume()`` against a hit-or-miss estimate (Clopper-Pearson, 1e-6 each side)."""
    try:
        reg = inst.cert.region(0.9, None)
    except NotImplementedError:
        return Check(NA, "n/a: no region", {})
    if getattr(reg, "isotropic", True) or not hasattr(reg, "scales"):
        return Check(NA, "n/a: isotropic ball", {})
    ok_sym, why = proof("volumes")
    axes = reg.gap * np.asarray(reg.scales, dtype=float).reshape(-1)
    d = axes.size
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1, 1, (n, d)) * axes
    pnorm = np.linalg.norm(pts / axes, ord=reg.p, axis=1)
    hits = int((pnorm <= 1).sum())
    box = float(np.prod(2 * axes))
    lo, hi = cp_lower(hits, n, 1e-6) * box, cp_upper(hits, n, 1e-6) * box
    vol = math.exp(reg.log_volume())
    ok = lo <= vol <= hi and ok_sym
    return Check(PASS if ok else FAIL, "volume", {
        "sympy": why, "sympy_ok": ok_sym, "log_volume": reg.log_volume(), "volume": vol,
        "mc_interval": [lo, hi], "p": reg.p, "dim": d})


#: Checks of every certificate, whatever its family (the family's own ``symbolic`` entries run
#: between the two).
GENERIC_FIRST = (binary_vs_multiclass,)
GENERIC_LAST = (volume_check,)


def symbolic_checks(inst: Instance, quick: bool = False) -> list[Check]:
    """Every applicable symbolic/volume check for an instance (n/a ones dropped)."""
    family = [e.obj for e in registry.entries("symbolic", inst.family)]
    out = []
    for fn in (*GENERIC_FIRST, *family, *GENERIC_LAST):
        c = fn(inst, n=50_000) if (fn is volume_check and quick) else fn(inst)
        if c.status != NA:
            out.append(c)
    return out
