"""Throughput of counts -> certified radii.

Measures, in the same run, on the same synthetic counts (K classes, n = 100,000 estimation and
n0 = 100 selection samples per input, binary rule, ``cohen-gaussian-l2``):

* ``certify_counts`` on all N count vectors at once (validation, selection, the sound
  Clopper-Pearson bound and the rounded radius included);
* (a) the per-sample path of the reference code (Cohen et al.'s ``certify``: a Python loop of
  ``scipy.stats.beta.ppf`` then ``norm.ppf``), timed on a slice and extrapolated as a rate;
* (b) plain vectorized ``beta.ppf`` + ``norm.ppf`` over all N inputs (the limit; not sound).

Prints the rates, the ratios against (a) and (b) with the goals (>= 30x the loop, >= 0.5x of (b)),
and the largest radius differences against (b) (ours must never be above: positive excess would
be a soundness bug; the deficit is the price of the margin). A second case gives every input its
own n, so that no (count, n) pair repeats: certify_counts bounds each distinct pair once, and this
worst case shows the cost without that saving (goals are stated for Cohen's setting).

    python benchmarks/radius_throughput.py [--n-inputs 1000000] [--loop-slice 3000] [--repeat 2]
        [--skip-distinct]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import beta, norm

import smoothcert as sc

N_EST, N_SELECT, ALPHA, SIGMA = 100_000, 100, 0.001, 0.5


def make_counts(n_inputs: int, k: int, distinct: bool = False, seed: int = 0):
    """Selection and estimation counts with a random top class and top probability in [0.3, 1].

    ``distinct``: input i draws n = 100,000 + i estimation samples, so that no two inputs share
    a (count, n) pair (the worst case for certify_counts, which bounds each distinct pair once).
    """
    rng = np.random.default_rng(seed)
    p_top = rng.uniform(0.3, 1.0, n_inputs)
    counts = np.zeros((n_inputs, k), dtype=np.int64)
    select = np.zeros((n_inputs, k), dtype=np.int64)
    n_est = N_EST + np.arange(n_inputs) if distinct else np.full(n_inputs, N_EST)
    for arr, total in ((counts, n_est), (select, N_SELECT)):
        arr[:, 0] = rng.binomial(total, p_top)
        rest = total - arr[:, 0]
        arr[:, 1] = rng.binomial(rest, 0.6)
        arr[:, 2] = rest - arr[:, 1]
    shift = rng.integers(0, k, n_inputs)[:, None]
    cols = (np.arange(k)[None, :] + shift) % k
    return np.take_along_axis(counts, cols, 1), np.take_along_axis(select, cols, 1)


def reference_loop(counts, select):
    """Cohen et al.'s per-input path: argmax of the selection, beta.ppf, norm.ppf."""
    radii = np.zeros(len(counts))
    for i in range(len(counts)):
        c_a = int(np.argmax(select[i]))
        n_a, n = int(counts[i, c_a]), int(counts[i].sum())
        p_a = beta.ppf(ALPHA, n_a, n - n_a + 1) if n_a > 0 else 0.0
        radii[i] = SIGMA * norm.ppf(p_a) if p_a > 0.5 else 0.0
    return radii


def plain_vectorized(n_a, n):
    p_a = beta.ppf(ALPHA, n_a, n - n_a + 1)
    return np.where(p_a > 0.5, SIGMA * norm.ppf(p_a), 0.0)


def best_time(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_case(counts, select, loop_slice: int, repeat: int) -> dict:
    """Time the three paths on one data set; return rates and radius differences."""
    cert = sc.get("cohen-gaussian-l2", sigma=SIGMA)
    n_a = np.take_along_axis(counts, np.argmax(select, 1)[:, None], 1)[:, 0]
    n = counts.sum(axis=1)
    t_ours, (pred, ours) = best_time(lambda: sc.certify_counts(counts, cert, ALPHA, select), repeat)
    t_plain, plain = best_time(lambda: plain_vectorized(n_a, n), repeat)
    m = min(loop_slice, len(counts))
    t_loop, loop = best_time(lambda: reference_loop(counts[:m], select[:m]), 1)
    both = (ours > 0) & (plain > 0)
    return {
        "ours": len(counts) / t_ours, "plain": len(counts) / t_plain, "loop": m / t_loop,
        "t_ours": t_ours, "t_plain": t_plain, "t_loop": t_loop, "m": m,
        "certified": (int((pred >= 0).sum()), int((plain > 0).sum())),
        "excess": float(np.max(ours - plain, initial=0.0)),
        "deficit": float(np.max(plain[both] - ours[both], initial=0.0)),
        "loop_diff": float(np.max(np.abs(loop - plain[:m]))),
        "distinct_pairs": len(np.unique(n_a + (n.max() + 1) * n)),
    }


def report(title: str, r: dict, goals: bool) -> None:
    print(f"-- {title}: {r['distinct_pairs']} distinct (n_A, n) pairs")
    print(f"certify_counts            : {r['ours']:12.0f} inputs/s ({r['t_ours']:.2f} s)")
    print(f"(b) vectorized ppf + ppf  : {r['plain']:12.0f} inputs/s ({r['t_plain']:.2f} s)")
    print(f"(a) per-sample loop       : {r['loop']:12.0f} inputs/s ({r['m']} inputs in {r['t_loop']:.2f} s)")
    r_loop, r_plain = r["ours"] / r["loop"], r["ours"] / r["plain"]
    tag = (lambda ok: ("PASS" if ok else "FAIL")) if goals else (lambda ok: "(info)")
    print(f"ratio vs (a) loop         : {r_loop:8.1f}x   goal >= 30x   {tag(r_loop >= 30)}")
    print(f"ratio vs (b) vectorized   : {r_plain:8.2f}x   goal >= 0.5x  {tag(r_plain >= 0.5)}")
    print(f"certified: ours {r['certified'][0]}, plain {r['certified'][1]}")
    print(f"largest radius difference vs (b): ours below by {r['deficit']:.3e}; "
          f"ours above by {r['excess']:.3e} (must be 0)")
    print(f"loop slice agrees with (b): max |diff| = {r['loop_diff']:.3e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-inputs", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--loop-slice", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-distinct", action="store_true", help="skip the all-distinct worst case")
    args = ap.parse_args(argv)
    print(f"{args.n_inputs} inputs, K = {args.classes}, n = {N_EST}, n0 = {N_SELECT}, alpha = {ALPHA}, "
          f"binary rule, cohen-gaussian-l2 (sigma = {SIGMA})")
    cases = [("Cohen's setting: one n for the whole test set", False, True)]
    if not args.skip_distinct:
        cases.append(("worst case: every input has its own n (no repeated pair)", True, False))
    sound = True
    for title, distinct, goals in cases:
        counts, select = make_counts(args.n_inputs, args.classes, distinct)
        r = run_case(counts, select, args.loop_slice, args.repeat)
        report(title, r, goals)
        sound &= r["excess"] == 0.0
    return 0 if sound else 1


if __name__ == "__main__":
    raise SystemExit(main())
