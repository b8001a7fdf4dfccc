"""Benchmark: zhang-l2 radius by exact quadrature vs Monte Carlo with Hoeffding (Zhang et al. 2020 Sec. 4.2).

For d = 784 and 3072 and several (k, pA), in the same run:

* quadrature: ``ZhangL2(sigma, k, d).radius(pA)`` (this package; integration error taken off);
* Monte Carlo as in the paper: N = 10^5 noise vectors z ~ pi0 in R^d (Gaussian direction times a
  chi radius), R_i = pi_delta(z_i)/pi0(z_i) with delta = r e_1, D bounded by D_n + lambda eps with
  the Hoeffding width eps = sqrt(ln(1/alpha)/(2N)) (alpha = 1e-3), radius by bisection on r.
  Its time includes drawing the samples (done once per (d, k) and charged to every pA); the
  column ``vs reuse`` also gives the ratio when the samples are not charged (one sample set
  reused for a whole test set, the cheapest way to run the paper's method).

Prints both radii, both times and the ratios (MC time / quadrature time; quadrature radius / MC
radius). Goals: quadrature radius never smaller, >= 10x faster.

Then a whole test set (``--test-set``, default 10,000 pA values at d = 784, k = d/2): the sound
lookup table (``radius_table``, built once, then looked up) against Monte Carlo with one reused
sample set, whose per-radius time is measured on ``--mc-sample`` of the pA values and scaled to the
test set (stated as an extrapolation in the output).

Usage: python benchmarks/functional_bounds.py [--n 100000] [--dims 784,3072]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from smoothcert.bounds.functional import ZhangL2
from smoothcert.estimators.hoeffding import dual_lower_bound, hoeffding_epsilon


def mc_samples(n, d, k, seed, chunk=2000):
    """(||z||, z_1) for n full vectors z ~ pi0 (sigma = 1) drawn as the paper does."""
    rng = np.random.default_rng(seed)
    rho = np.sqrt(rng.chisquare(d - k, n))
    z1 = np.empty(n)
    for i in range(0, n, chunk):
        g = rng.standard_normal((min(chunk, n - i), d))
        z1[i:i + g.shape[0]] = g[:, 0] / np.linalg.norm(g, axis=1) * rho[i:i + g.shape[0]]
    return rho, z1


def mc_radius(rho, z1, k, pa, eps, iters=40):
    """Largest r (bisection) with the Hoeffding-corrected Monte Carlo dual bound > 1/2."""

    def lower(r):
        rp = np.sqrt(np.maximum(rho * rho - 2 * r * z1 + r * r, 1e-300))
        logr = -k * (np.log(rp) - np.log(rho)) - 0.5 * (rp * rp - rho * rho)
        return dual_lower_bound(np.sort(np.exp(np.minimum(logr, 700))), pa, eps)

    lo, hi = 0.0, 1.0
    while lower(hi) > 0.5:
        lo, hi = hi, 2 * hi
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if lower(mid) > 0.5 else (lo, mid)
    return lo


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", default="784,3072")
    ap.add_argument("--alpha", type=float, default=1e-3)
    ap.add_argument("--test-set", type=int, default=10_000)
    ap.add_argument("--mc-sample", type=int, default=40)
    args = ap.parse_args(argv)
    eps = hoeffding_epsilon(args.n, args.alpha)
    print(f"N = {args.n}, Hoeffding eps = {eps:.5f}")
    print(f"{'d':>5} {'k':>6} {'pA':>6} {'R_quad':>12} {'R_mc':>12} {'R ratio':>8} "
          f"{'t_quad s':>9} {'t_mc s':>8} {'speedup':>8} {'vs reuse':>8}")
    worst_ratio, worst_speed, worst_reuse = np.inf, np.inf, np.inf
    for d in [int(v) for v in args.dims.split(",")]:
        for k in (0, d // 4, d // 2):
            t0 = time.perf_counter()
            rho, z1 = mc_samples(args.n, d, k, seed=d + k)
            t_sample = time.perf_counter() - t0
            cert = ZhangL2(1.0, k=k, dim=d)
            for pa in (0.7, 0.9, 0.99):
                t0 = time.perf_counter()
                rq = cert.radius(pa)
                tq = time.perf_counter() - t0
                t0 = time.perf_counter()
                rm = mc_radius(rho, z1, k, pa, eps)
                t_reuse = time.perf_counter() - t0
                tm = t_reuse + t_sample
                ratio = rq / rm if rm > 0 else np.inf
                worst_ratio, worst_speed = min(worst_ratio, ratio), min(worst_speed, tm / tq)
                worst_reuse = min(worst_reuse, t_reuse / tq)
                print(f"{d:>5} {k:>6} {pa:>6} {rq:>12.6f} {rm:>12.6f} {ratio:>8.4f} "
                      f"{tq:>9.3f} {tm:>8.3f} {tm / tq:>8.1f} {t_reuse / tq:>8.1f}", flush=True)
    print(f"smallest radius ratio quad/MC = {worst_ratio:.4f} (goal >= 1); "
          f"smallest speedup = {worst_speed:.1f}x (goal >= 10x); "
          f"with the samples reused and not charged: {worst_reuse:.1f}x")
    test_set(args, eps)


def test_set(args, eps, d=784):
    """Radii for a whole test set at fixed parameters: lookup table vs Monte Carlo (reused samples)."""
    k = d // 2
    pas = np.random.default_rng(0).uniform(0.5, 1.0, args.test_set)
    cert = ZhangL2(1.0, k=k, dim=d)
    t0 = time.perf_counter()
    table = cert.radius_table()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    radii = table.lookup(pas)
    t_lookup = time.perf_counter() - t0
    rho, z1 = mc_samples(args.n, d, k, seed=1)
    some = pas[: args.mc_sample]
    t0 = time.perf_counter()
    mc = np.array([mc_radius(rho, z1, k, pa, eps) for pa in some])
    t_mc = (time.perf_counter() - t0) / some.size * pas.size
    direct = cert.radius(some)
    assert np.all(radii[: some.size] <= direct)  # the lookup never exceeds the certified radius
    keep = some >= 0.6  # the table's first radius is rt_max / n: below it the lookup gives 0
    loss = radii[: some.size][keep] / direct[keep]
    vs_mc = radii[: some.size][keep] / mc[keep]
    t_quad = t_build + t_lookup
    print(f"\ntest set of {pas.size} pA values, d = {d}, k = {k}: table build {t_build:.2f} s + "
          f"lookup {t_lookup:.4f} s = {t_quad:.2f} s; Monte Carlo with reused samples "
          f"{t_mc:.0f} s (measured on {some.size} values, scaled); speedup {t_mc / t_quad:.0f}x")
    print(f"  on the measured values with pA >= 0.6: table radius / direct radius min "
          f"{loss.min():.4f}, median {np.median(loss):.4f}; table / MC radius min {vs_mc.min():.4f}, "
          f"median {np.median(vs_mc):.4f}")


if __name__ == "__main__":
    main()
