"""Radius throughput of Yang et al.'s spherical certificates (yang-exp2-l2 at exp_power != 2,
yang-pow2-l2) against rs4a's code paths.

Ours: the sound lookup table (``cert.radius_table(n)``, built once; its build time is printed)
read on 10^6 pA values uniform in (1/2, 1). rs4a (tonyduan/rs4a ``src/noises/noises.py``): for
Exp2 with exp_power 1 its closed form (the differential method, vectorized; reimplemented here
from the published expression); for the level-set tables (``SphericalDist.make_l2_table``: per
radius node, scipy quad of the Neyman-Pearson set measures and a root in the threshold) one node
is timed here with the same scipy steps and the node rate printed (rs4a's default grid has 300
nodes, inc 0.01 up to 3). The excess columns compare values (ours never exceeds the exact one).

    python benchmarks/zoo_spherical_throughput.py [--n 1000000] [--table 300]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import integrate, optimize, special, stats

from smoothcert.bounds import certificate_class

DIM = 784
STD = 0.5


def rs4a_exp2_k1(lam, d):
    """rs4a Exp2.certify_l2 for k = 1, j = 0: ``lambda (d-1) atanh(1 - 2 Beta^-1_{(d-1)/2}(1 - pA))``."""
    beta = stats.beta(0.5 * (d - 1), 0.5 * (d - 1))
    return lambda p: lam * (d - 1) * np.arctanh(1 - 2 * beta.ppf(1 - p))


def levelset_node(log_pdf, phi, inverse, d, r):
    """One rs4a-style table node: the pA at which the Neyman-Pearson bound at shift r is 1/2
    (scipy quad over ||z|| of the Beta CDF of the direction, brentq in the threshold)."""
    a = 0.5 * (d - 1)
    mode = optimize.minimize_scalar(lambda rho: -log_pdf(rho), bounds=(1e-9, 1e6), method="bounded").x
    shift = log_pdf(mode)

    def below(x):
        def f(rho):
            s = inverse(phi(rho) - x)
            t = (rho * rho + r * r - s * s) / (2 * r * rho)
            return math.exp(log_pdf(rho) - shift) * special.betainc(a, a, min(max(0.5 * (1 + t), 0.0), 1.0))

        return integrate.quad(f, 0, np.inf, limit=200)[0]

    norm = integrate.quad(lambda rho: math.exp(log_pdf(rho) - shift), 0, np.inf, limit=200)[0]
    x = optimize.brentq(lambda x: below(-x) / norm - 0.5, -50 * r - 50, 50 * r + 50)
    return below(x) / norm


def _rows():
    exp2 = certificate_class("yang-exp2-l2").from_std(STD, dim=DIM, exp_power=1.0)
    pow2 = certificate_class("yang-pow2-l2").from_std(STD, dim=DIM)
    lam_e, lam_p = exp2.params["lambd"], pow2.params["lambd"]
    a = DIM + pow2.params["tail_excess"]
    exp_node = (lambda rho: (DIM - 1) * math.log(rho) - rho / lam_e, lambda s: s / lam_e,
                lambda c: lam_e * max(c, 0.0))
    pow_node = (lambda rho: (DIM - 1) * math.log(rho) - a * math.log1p(rho / lam_p),
                lambda s: a * math.log1p(s / lam_p), lambda c: lam_p * max(math.expm1(c / a), 0.0))
    return [("exp2 l2 (p = 1, k = 0, level set)", exp2, rs4a_exp2_k1(lam_e, DIM), exp_node),
            ("pow2 l2 (p = 1, a = d + 10, level set)", pow2, None, pow_node)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--table", type=int, default=300)
    args = ap.parse_args(argv)
    p = np.random.default_rng(0).uniform(0.5, 1.0, args.n)
    p = np.where(p > 0.5, p, 0.75)
    for label, cert, closed, node in _rows():
        t = time.perf_counter()
        table = cert.radius_table(n=args.table)
        build = time.perf_counter() - t
        t = time.perf_counter()
        ours = table(p)
        rate = args.n / (time.perf_counter() - t)
        exact = cert.radius(p[:5])
        line = (f"{label:40s} table of {args.table}: built in {build:6.1f} s, lookup {rate:9.3g}/s; "
                f"lookup/exact on 5 values {np.min(ours[:5] / exact):.4f}")
        if closed is not None:
            t = time.perf_counter()
            theirs = closed(p)
            r_vec = args.n / (time.perf_counter() - t)
            line += (f" | rs4a closed form {r_vec:9.3g}/s ratio {rate / r_vec:6.2f}, exact/rs4a on 5 "
                     f"values {np.min(exact / theirs[:5]):.4f}")
        r = float(np.median(ours)) / 2
        t = time.perf_counter()
        levelset_node(*node, DIM, r)
        per_node = time.perf_counter() - t
        line += f" | rs4a level-set node {per_node:6.2f} s (x300 = {300 * per_node:6.0f} s table)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
