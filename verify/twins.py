"""Twin sweep: every float radius against its mpmath twin.

For a point (p_a, p_b) the float result ``r = cert.radius(p_a, p_b)`` must satisfy
``r <= R_exact`` (docs/contributing.md, Soundness: a radius is a promise) and ``|r - R| <= twin_rtol * R``.
``R_exact`` is ``cert.radius_mp`` at 50 digits, evaluated at the same float inputs, so the
comparison ``mpf(r) > R`` is exact up to 1e-50 relative: any positive excess is an over-report.

Points come from three sources:

* the extremes of docs/contributing.md, Soundness (p_a within 1e-15 of 1, p_a = 1, p_b near 1e-300, subnormal
  p_b, p_a = p_b, p_a + p_b = 1, p_a at and just above 1/2);
* a seeded grid in log-odds (so the tails are as dense as the middle);
* a hypothesis search that *targets* the relative excess ``(r - R)/R``: hypothesis keeps the
  inputs that push the float result up and mutates them, hunting for an over-report.
"""

from __future__ import annotations

import contextlib
import math
import tempfile

import mpmath as mp
import numpy as np

from ..bounds.base import TwinUnavailable
from .common import FAIL, NA, PASS, WARN, Check, needs_quadrature

TWIN_DPS = 50

_NEAR_ONE = [1 - 1e-15, 1 - 2.0**-53, 1 - 1e-12, 1 - 1e-9, 0.999999, 0.999]
BINARY_EXTREMES = [0.0, 0.3, 0.5, float(np.nextafter(0.5, 1)), 0.5 + 1e-12, 0.5 + 1e-8, 0.51, 0.6,
                   0.75, 0.9, 0.99, *_NEAR_ONE, 1.0]
PAIR_EXTREMES = [
    (0.9, 1e-300), (0.9, 5e-324), (0.9, 0.0), (1 - 1e-15, 1e-300), (1 - 1e-15, 1e-15),
    (1.0, 0.0), (1.0, 1e-300), (0.5, 0.5), (0.4, 0.4), (0.6, 0.4), (0.3, 0.2), (1e-10, 1e-300),
    (0.5, 0.1), (0.34, 0.33), (0.999999, 1e-6), (0.2, 0.0), (0.6, float(np.nextafter(0.4, 0))),
    (1 - 1e-12, 1e-12), (0.9, 0.05), (0.01, 0.009),
]


def grid_points(n: int, seed: int = 0):
    """``n`` binary and ``n`` pair points, uniform in log-odds of p_a (and of p_b / p_a)."""
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-3, 35, n)  # log-odds of p_a: from 0.05 to 1 - 6e-16
    pa = 1 / (1 + np.exp(-lo))
    binary = [(float(p), None) for p in pa]
    pa2 = 1 / (1 + np.exp(-rng.uniform(-8, 35, n)))
    # p_b / (1 - p_a) from 1 down to 1e-30; one point in eight down to 1e-300 (deep tails are
    # costly for the reference: it needs 50 + 300 digits there).
    depth = np.where(np.arange(n) % 8 == 7, 690.0, 69.0)
    frac = np.exp(-rng.uniform(0, 1, n) * depth)
    pairs = [(float(a), float(b)) for a, b in zip(pa2, (1 - pa2) * frac)]
    return binary + pairs


QUICK_DEEP = {(0.9, 1e-300), (1.0, 0.0), (1 - 1e-15, 1e-15)}


#: The few extremes used for expensive (quadrature) certificates in quick mode.
EXPENSIVE_QUICK = [(0.5, None), (0.9, None), (1.0, None), (0.5, 0.5), (1.0, 0.0)]


def extreme_points(quick: bool = False, expensive: bool = False):
    """The extremes of docs/contributing.md, Soundness; ``quick`` keeps four of the deep-tail pairs (p_b < 1e-20),
    and only :data:`EXPENSIVE_QUICK` for certificates marked ``expensive``."""
    if quick and expensive:
        return list(EXPENSIVE_QUICK)
    if expensive:
        return list(EXPENSIVE_QUICK) + [(0.6, None), (0.99, None), (1 - 1e-12, None), (0.6, 0.3),
                                         (0.9, 0.05), (0.99, 1e-4)]
    pairs = [pb for pb in PAIR_EXTREMES if not quick or pb[1] >= 1e-20 or pb in QUICK_DEEP]
    return [(p, None) for p in BINARY_EXTREMES] + pairs


def adaptive_dps(p_a, p_b, dps: int = TWIN_DPS) -> int:
    """Digits that keep ``dps`` significant digits in ``1 - p`` for the smallest tail involved.

    A twin evaluated at a fixed 50 digits computes ``1 - 2 p`` as exactly 1 once p < 1e-50
    (the Gaussian twin then returns inf for p_b = 1e-300); the tails reach 5e-324, so the
    reference radius is evaluated at ``dps + 330`` digits where needed.
    """
    tails = [t for t in (p_a, 1.0 - p_a, p_b if p_b is not None else 1.0) if t > 0]
    smallest = min(tails, default=1.0)
    return dps + max(0, int(math.ceil(-math.log10(smallest))))


def twin_point(cert, p_a, p_b, dps: int = TWIN_DPS) -> dict:
    """Compare ``radius`` with ``radius_mp`` at one point.

    The reference is ``radius_mp`` at :func:`adaptive_dps` digits; the twin at the fixed ``dps`` is
    compared with it too (``twin_unstable``: the twin itself lost accuracy).
    Returns ``{"r", "exact", "rel_err", "over", "bad", "twin_unstable", "twin_unavailable"}``
    (the last names the TwinUnavailable of a twin that cannot evaluate there): ``over`` is True when
    the float radius exceeds the exact one, ``bad`` names a contract breach (NaN, negative,
    exception) or is None.
    """
    out = {"p_a": p_a, "p_b": p_b, "r": None, "exact": None, "rel_err": 0.0, "over": False,
           "bad": None, "twin_unstable": False, "twin_unavailable": None}
    try:
        r = cert.radius(p_a, p_b)
    except Exception as exc:  # noqa: BLE001 -- any exception on valid input is a finding
        out["bad"] = f"{type(exc).__name__}: {exc}"
        return out
    out["r"] = r
    try:
        fixed = cert.radius_mp(p_a, p_b, dps=dps)
        high = adaptive_dps(p_a, p_b, dps)
        exact = fixed if high == dps else cert.radius_mp(p_a, p_b, dps=high)
    except TwinUnavailable as exc:  # the twin declares it cannot evaluate here: no reference
        out["twin_unavailable"] = f"{type(exc).__name__}: {exc}"
        return out
    except Exception as exc:  # noqa: BLE001 -- any other exception on valid input is a finding
        out["bad"] = f"{type(exc).__name__}: {exc}"
        return out
    out["r"], out["exact"] = r, exact
    with mp.workdps(high):
        if mp.isinf(exact) != mp.isinf(fixed) or (
                not mp.isinf(exact) and abs(fixed - exact) > mp.mpf(10) ** (-20) * abs(exact)):
            out["twin_unstable"] = True
    if not isinstance(r, float) or math.isnan(r) or r < 0:
        out["bad"] = f"radius returned {r!r}"
        return out
    if mp.isinf(exact):
        out["over"] = False
        out["rel_err"] = 0.0 if math.isinf(r) else math.inf
        return out
    if math.isinf(r):
        out["over"] = True
        out["rel_err"] = math.inf
        return out
    diff = mp.mpf(r) - exact
    out["over"] = bool(diff > 0)
    out["rel_err"] = float(abs(diff) / exact) if exact > 0 else (0.0 if r == 0 else math.inf)
    return out


def _valid_points(cert, points):
    return [(a, b) for a, b in points if not (cert.binary_only and b is not None)]


@contextlib.contextmanager
def _scratch_hypothesis_home():
    """Hypothesis caches source constants under ``.hypothesis/`` in the current directory even
    with ``database=None``; the verifier must leave the user's directory as it was, so the search
    uses a temporary home, and the previous one is restored afterwards."""
    from hypothesis import configuration

    previous = vars(configuration).get("__hypothesis_home_directory")
    with tempfile.TemporaryDirectory(prefix="smoothcert-verify-") as home:
        configuration.set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


def hypothesis_points(cert, n: int, seed: int = 0):
    """Points found by a hypothesis search that targets the relative excess of the float radius."""
    try:
        from hypothesis import HealthCheck, Phase, given, seed as hseed, settings, target
        from hypothesis import strategies as st
    except ImportError:  # pragma: no cover -- hypothesis is a test dependency
        return []
    found = []
    tail = st.floats(min_value=5e-324, max_value=0.5).map(lambda e: 1.0 - e)
    p_a = st.one_of(st.floats(0.0, 1.0), tail, st.sampled_from(BINARY_EXTREMES))
    share = st.one_of(st.floats(0.0, 1.0), st.floats(1e-30, 1e-3), st.just(1.0))

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.target])
    @given(p_a=p_a, share=share, binary=st.booleans() if not cert.binary_only else st.just(True))
    def probe(p_a, share, binary):
        p_b = None if binary else (1.0 - p_a) * share
        res = twin_point(cert, p_a, p_b)
        found.append((p_a, p_b, res))
        if res["exact"] is not None and res["r"] is not None and res["exact"] > 0 \
                and not mp.isinf(res["exact"]) and not math.isinf(res["r"]):
            target(float((mp.mpf(res["r"]) - res["exact"]) / res["exact"]) * 1e12, label="excess")

    with _scratch_hypothesis_home():
        probe()
    return found


def twin_sweep(cert, n_grid: int = 40, n_hypothesis: int = 40, seed: int = 0,
               quick: bool = False) -> Check:
    """Twin sweep over extremes, grid and hypothesis-targeted points for one certificate.

    In quick mode a certificate whose family registers a ``quadrature`` predicate that holds
    (Zhang l1/l2 with k > 0, :mod:`.common`) is not swept: its twin costs tens of seconds per
    point; the full mode sweeps it.

    Status: ``fail`` for an over-report, NaN, negative radius or exception (soundness);
    ``warn`` when the float radius is sound but further below the exact one than the class's
    ``twin_rtol`` (an accuracy shortfall, reported with the worst point; radii below 1e-3 of the
    radius at pA = 0.9 are compared in absolute terms against that reference); ``pass`` otherwise.
    """
    if quick and needs_quadrature(cert):
        return Check(NA, "n/a in quick mode (quadrature twin: full mode)", {})
    try:
        cert.radius_mp(0.9, None if cert.binary_only else 0.05)
    except NotImplementedError as exc:
        return Check(NA, f"no mpmath twin ({exc})", {})
    expensive = getattr(cert, "expensive", False)
    pts = _valid_points(cert, extreme_points(quick, expensive) + grid_points(n_grid, seed))
    results = [twin_point(cert, a, b) for a, b in pts]
    if n_hypothesis:
        results += [res for _, _, res in hypothesis_points(cert, n_hypothesis, seed)]
    over = [r for r in results if r["over"]]
    bad = [r for r in results if r["bad"]]
    no_twin = [r for r in results if r["twin_unavailable"]]
    results = [r for r in results if not r["twin_unavailable"]]
    finite = [r for r in results if r["bad"] is None and math.isfinite(r["rel_err"])]
    # Accuracy is relative, except that radii below 1e-3 of the radius at pA = 0.9 are compared in
    # absolute terms against that reference: a sound 0.0 where the exact radius is 3e-16 sigma (pA
    # and pB equal to 15 digits) is no accuracy shortfall.
    ref = 1e-3 * float(cert.radius_mp(0.9))
    for r in finite:
        r["acc_err"] = r["rel_err"] if r["exact"] >= ref else float(abs(mp.mpf(r["r"]) - r["exact"]) / ref)
    max_rel = max((r["acc_err"] for r in finite), default=0.0)
    worst = max(finite, key=lambda r: r["acc_err"], default=None)
    inf_mismatch = [r for r in results if r["bad"] is None and math.isinf(r["rel_err"])]
    unstable = [r for r in results if r["twin_unstable"]]
    rtol = getattr(cert, "twin_rtol", 1e-12)
    if over or bad or inf_mismatch:
        status = FAIL
    else:
        status = PASS if max_rel <= rtol else WARN
    summary = f"max rel {max_rel:.1e}, {len(over)} over / {len(results)}"
    if status == WARN:
        summary += f" (> twin_rtol {rtol:.0e} at p_a={worst['p_a']!r}, p_b={worst['p_b']!r})"
    if bad:
        summary += f", {len(bad)} errors"
    if no_twin:  # the float radius was computed; only the reference is missing: not a pass
        status = WARN if status == PASS else status
        summary += f", twin unavailable at {len(no_twin)}"
    if unstable:
        summary += f", twin@{TWIN_DPS}dps inaccurate at {len(unstable)}"
    huge = huge_dim_check(type(cert))
    if huge is not None and not huge["ok"]:
        status = FAIL
        summary += ", huge-d FAILED"
    details = {
        "huge_dim": huge,
        "points": len(results), "max_rel_err": max_rel, "twin_rtol": rtol, "over_reports": len(over),
        "errors": [{"p_a": r["p_a"], "p_b": r["p_b"], "error": r["bad"]} for r in bad[:5]],
        "twin_unavailable": [{"p_a": r["p_a"], "p_b": r["p_b"], "error": r["twin_unavailable"]}
                             for r in no_twin[:5]],
        "over_examples": [{"p_a": r["p_a"], "p_b": r["p_b"], "r": r["r"], "exact": str(r["exact"])}
                          for r in over[:5]],
        "inf_mismatch": [{"p_a": r["p_a"], "p_b": r["p_b"], "r": r["r"], "exact": str(r["exact"])}
                         for r in inf_mismatch[:5]],
        "twin_unstable": len(unstable),
        "twin_unstable_examples": [
            {"p_a": r["p_a"], "p_b": r["p_b"], "r": r["r"], "exact": str(r["exact"]),
             f"twin_at_{TWIN_DPS}_dps": str(cert.radius_mp(r["p_a"], r["p_b"], dps=TWIN_DPS))}
            for r in unstable[:3]],
        "worst": None if worst is None else {
            "p_a": worst["p_a"], "p_b": worst["p_b"], "rel_err": worst["rel_err"], "r": worst["r"],
            "exact": str(worst["exact"]),
            "abs_err": float(abs(mp.mpf(worst["r"]) - worst["exact"])) if worst["r"] is not None else None},
    }
    return Check(status, summary, details)


HUGE_DIM = 1_000_000


def huge_dim_check(cert_class) -> dict | None:
    """Huge d (docs/contributing.md, Soundness): an anisotropic instance with 10^6 coordinates stays finite,
    below its twin, and its region keeps a finite log-volume. None for isotropic classes."""
    if not (cert_class.isotropic_counterpart or cert_class.scale_param == "sigmas"):
        return None
    std = 0.5 * (1 + 0.5 * np.sin(np.arange(HUGE_DIM)))  # spread between 0.25 and 0.75
    cert = cert_class.from_std(std, dim=HUGE_DIM)
    rows = []
    for p_a, p_b in [(0.9, None), (0.6, 0.3), (1 - 1e-15, None), (0.99, 1e-300)]:
        res = twin_point(cert, p_a, p_b)
        reg = cert.region(p_a, p_b)
        lv = reg.log_volume()
        rows.append({"p_a": p_a, "p_b": p_b, "r": res["r"], "over": res["over"], "bad": res["bad"],
                     "log_volume": lv, "ok": res["bad"] is None and not res["over"]
                     and math.isfinite(res["r"]) and not math.isnan(lv)})
    return {"dim": HUGE_DIM, "points": rows, "ok": all(r["ok"] for r in rows)}
