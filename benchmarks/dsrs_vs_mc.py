"""Benchmark: the DSRS radius by quadrature (``dsrs-gaussian-l2``) against a Monte Carlo +
Hoeffding evaluation of the same dual (Li, Zhang, Xie & Li 2022, Thm 3 at k = 0).

Same inputs (sigma = 1, ball_mass = 0.5, d and (pA, qA) below), in the same run:

* quadrature: ``DsrsGaussianL2(1, d, 0.5).radius(pA, q_a=qA)`` (this package: thresholds on the safe
  side, integrals with error bounds; no failure probability of its own);
* Monte Carlo, the route a naive implementation takes (Li et al.'s release integrates numerically;
  their ``algo/algo.py`` keeps a commented-out Monte Carlo sampler): the Neyman-Pearson set
  ``{x <= t1, ||z|| <= T} u {x <= t2, ||z|| > T}`` with its thresholds and its shifted mass all
  estimated from samples of z ~ P, drawn in the cheapest exact form (``x = z_1 ~ N(0, 1)``,
  ``||z||^2 - x^2 ~ chi2_(d-1)``; a full d-dimensional draw would cost d times more). To stay
  sound it needs a confidence correction at every step, each on fresh samples with failure
  probability ``a/3`` (``a = 1e-3``, added to the counts' alpha): t1 and t2 from empirical CDFs
  pushed down by the one-sided DKW width (so ``E_Q f <= qA`` and ``E_P f <= pA`` hold, the
  weak-duality side), then bisection on r where each step's ``E_{P_r} f`` is a fresh sample mean
  minus the Hoeffding width at ``a / (3 steps)``; Cohen's closed form is a floor.

Prints both radii and times and the ratios MC / quadrature (radius: below 1 is what Monte Carlo
gives away; time: above 1 is how much slower it is). Usage:

    python benchmarks/dsrs_vs_mc.py [--m 100000,1000000] [--dims 784,3072,150528]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import special

from smoothcert.bounds.dsrs import DsrsGaussianL2

CASES = ((0.9, 0.999), (0.9, 1 - 1e-6), (0.99, 1 - 1e-6))
A_MC, STEPS = 1e-3, 30


def _draw(rng, m, d):
    """x = z_1 and the squared norm of z ~ N(0, I_d)."""
    x = rng.standard_normal(m)
    return x, x * x + rng.chisquare(d - 1, m)


def _quantile_below(values, target, eps):
    """The largest t with (empirical CDF of ``values`` at t) + eps <= target (-inf if none)."""
    k = int(math.floor((target - eps) * len(values)))
    return -np.inf if k <= 0 else float(np.sort(values)[k - 1])


def mc_radius(d, tau, mass, pa, qa, m, rng):
    """The Monte Carlo + Hoeffding/DKW radius of the module docstring (sigma = 1)."""
    eps = math.sqrt(math.log(3 / A_MC) / (2 * m))
    x, n2 = _draw(rng, m, d)  # t1: E_Q f = P(x <= t1, in) / mass <= qA
    t1 = _quantile_below(np.where(n2 <= tau, x, np.inf), qa * mass, eps)
    x, n2 = _draw(rng, m, d)  # t2 <= t1: P(x <= t1, in) + P(x <= t2, out) <= pA, a CDF in t2
    y = np.where(n2 > tau, x, np.where(x <= t1, -np.inf, np.inf))
    t2 = min(_quantile_below(y, pa, eps), t1)
    width = math.sqrt(math.log(3 * STEPS / A_MC) / (2 * m))

    def lower(r):
        x, n2 = _draw(rng, m, d)
        y, ny = x + r, n2 + 2 * r * x + r * r  # z + r e_1
        return np.mean(np.where(ny <= tau, y <= t1, y <= t2)) - width

    lo, hi = 0.0, 8.0
    for _ in range(STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if lower(mid) > 0.5 else (lo, mid)
    return max(lo, float(special.ndtri(pa)))  # Cohen's radius needs no sampling


def _timed(fn, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return out, (time.perf_counter() - t0) / repeat


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", default="100000,1000000", help="Monte Carlo samples per step")
    ap.add_argument("--dims", default="784,3072,150528")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"{'d':>7} {'pA':>5} {'qA':>10} {'R quad':>8} {'t quad':>8} {'M':>8} {'R MC':>8} "
          f"{'t MC':>8} {'R MC/quad':>9} {'t MC/quad':>9}")
    for d in (int(v) for v in args.dims.split(",")):
        cert = DsrsGaussianL2(1.0, dim=d, ball_mass=0.5)
        mass = float(special.gammainc(0.5 * d, 0.5 * cert.tau))
        for pa, qa in CASES:
            r_q, t_q = _timed(lambda: cert.radius(pa, q_a=qa), repeat=3)
            for m in (int(v) for v in args.m.split(",")):
                r_mc, t_mc = _timed(lambda: mc_radius(d, cert.tau, mass, pa, qa, m, rng))
                print(f"{d:>7} {pa:>5} {qa:>10.7g} {r_q:>8.4f} {t_q:>8.4f} {m:>8.0e} {r_mc:>8.4f} "
                      f"{t_mc:>8.3f} {r_mc / r_q:>9.3f} {t_mc / t_q:>9.1f}")


if __name__ == "__main__":
    main()
