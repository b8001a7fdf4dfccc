"""Radius throughput of the noise-zoo certificates against rs4a's code path.

For each row: our vectorized ``radius`` on 10^6 pA values (uniform in (1/2, 1)), and rs4a's
(tonyduan/rs4a, ``src/noises/noises.py``) path on the same inputs, reimplemented here from its
published expression (numpy in place of torch; nothing copied). A per-value rs4a path (scipy
quad per pA) is timed on a slice and extrapolated. Printed: both rates, the ratio ours/rs4a, and
the largest excess of rs4a's value over ours (rs4a rounds to nearest; ours never exceeds the
exact radius).

    python benchmarks/zoo_throughput.py [--n 1000000] [--slice 20]

rs4a's l_inf tables (ExpInf p != 1, PowInf) are built with inc = 0.01 (its default 0.001 takes
minutes) and read as rs4a reads them; for ExpInf p < 1 rs4a's Phi is the wrong one, so its
radii are far above the exact ones (the max(rs4a - ours) column).

Rows are added per family in ``ROWS`` (label, our certificate, rs4a's vectorized function or
None, rs4a's per-value function or None).
"""

from __future__ import annotations

import argparse
import time
from math import lgamma

import numpy as np
from scipy import integrate, special
from scipy.stats import betaprime, binom, norm
from scipy.stats import gamma as gamma_dist

from smoothcert.bounds import certificate_class

DIM = 784
STD = 0.5


def rs4a_uniform_linf(lam, d):
    """rs4a Uniform.certify_linf: ``2 lambda (1 - (1.5 - pA)^(1/d))``."""
    return lambda p: 2 * lam * (1 - (1.5 - p) ** (1 / d))


def rs4a_laplace_linf_approx(b, d):
    """rs4a Laplace.certify_linf(mode='approx') (its default): ``b Phi^-1(pA) / sqrt(d)``."""
    return lambda p: b * norm.ppf(p) / d**0.5


def rs4a_laplace_linf_integrate(b, d):
    """rs4a Laplace.certify_linf(mode='integrate') per value: quad of ``1/Phi_linf`` over
    ``[1 - pA, 1/2]`` with its binomial expression of Phi_linf."""
    dist, dist1 = binom(d, 0.5), binom(d - 1, 0.5)

    def phi(p):
        c = 2 * dist.isf(p) - d
        return c * (p - dist.sf((c + d) / 2)) + d * dist1.sf((c - 0.5 + d - 1) / 2) - d * dist.sf((c + d) / 2)

    return lambda pa: b * integrate.quad(lambda p: 1 / phi(p), 1 - pa, 0.5, limit=200)[0]


def rs4a_exp2_k2(lam):
    """rs4a Exp2.certify_l2 for its k = 2, j = 0: ``Normal(0, lambda/sqrt 2).icdf(pA)``."""
    return lambda p: norm.ppf(p) * lam / 2**0.5


def rs4a_expinf_l1(lam, d, power=1.0, k=0.0):
    """rs4a ExpInf.certify_l1: ``2 lambda gamma_factor (pA - 1/2)`` (its k, j = our exp_power, k)."""
    gamma_factor = d / (d - 1) * np.exp(lgamma((d - k) / power) - lgamma((d - k - 1) / power))
    return lambda p: 2 * lam * gamma_factor * (p - 0.5)


def rs4a_expinf_linf(lam):
    """rs4a ExpInf.certify_linf for its k = 1: ``lambda log(0.5 / (1 - pA))``."""
    return lambda p: lam * np.log(0.5 / (1 - p))


def rs4a_powinf_l1(lam, d, a):
    """rs4a PowInf.certify_l1: ``lambda 2 d / (a - d) (pA - 1/2)``."""
    return lambda p: lam * 2 * d / (a - d) * (p - 0.5)


def _yang_exp_rows():
    exp2 = certificate_class("yang-exp2-l2").from_std(STD, dim=DIM)
    l1 = certificate_class("yang-expinf-l1").from_std(STD, dim=DIM)
    linf = certificate_class("yang-expinf-linf").from_std(STD, dim=DIM)
    powinf = certificate_class("yang-powinf-l1").from_std(STD, dim=DIM)
    return [
        ("exp2 l2 (p = 2, k = 0)", exp2, rs4a_exp2_k2(exp2.params["lambd"]), None),
        ("expinf l1 (differential)", l1, rs4a_expinf_l1(l1.params["lambd"], DIM), None),
        ("expinf l_inf (p = 1, differential)", linf, rs4a_expinf_linf(linf.params["lambd"]), None),
        ("powinf l1 (differential, a = d + 10)", powinf,
         rs4a_powinf_l1(powinf.params["lambd"], DIM, DIM + 10.0), None),
    ]


def rs4a_pareto_l1(lam, a):
    """rs4a Pareto.certify_l1: ``lambda y/a 2F1(1, a/(a+1); a/(a+1)+1; y^(1+1/a))``, y = 2pA - 1
    (scipy's hyp2f1, as its code path)."""
    b = a / (a + 1)
    return lambda p: special.hyp2f1(1, b, b + 1, (2 * p - 1) ** (1 + 1 / a)) * lam * (2 * p - 1) / a


def _rows():
    lam = STD * 3**0.5
    b = STD / 2**0.5
    return [
        ("uniform l_inf (level set)", certificate_class("yang-uniform-linf")(lam, dim=DIM),
         rs4a_uniform_linf(lam, DIM), None),
        ("laplace l_inf (differential)", certificate_class("yang-laplace-linf")(b, dim=DIM),
         rs4a_laplace_linf_approx(b, DIM), rs4a_laplace_linf_integrate(b, DIM)),
        ("pareto l1 (differential, a=3)", certificate_class("yang-pareto-l1").from_std(STD),
         rs4a_pareto_l1(STD / (2 / ((3.0 - 1) * (3.0 - 2))) ** 0.5, 3.0), None),
    ] + _yang_exp_rows()


def rs4a_expp_l1(lam, p):
    """rs4a Expp.certify_l1: p >= 1 ``lambda gamma(1/p).ppf(2 pA - 1)^(1/p)``; p = 1/2 its
    dilogarithm ``2 lambda (-c log(1 - e^-c) + Li_2(e^-c))``, ``c = gamma(2).ppf(2 (1 - pA))``."""
    if p >= 1:
        return lambda x: lam * gamma_dist(1 / p).ppf(2 * x - 1) ** (1 / p)

    def dilog(x):
        c = gamma_dist(1 / p).ppf(2 * (1 - x))
        ec = np.exp(-c)
        return 2 * lam * (-c * np.log(1 - ec) + special.spence(1 - ec))

    return dilog


def rs4a_exp1_table(lam, d, k, inc=0.01, upper=3.0):
    """rs4a Exp1.certify_l1 for k != 1: its differential-method table (rho on the radius grid
    ``LaplaceCDF(sqrt 2 r)``, r = inc..upper, radii by scipy quad of ``1/Phi_l1`` between grid
    points; rs4a's default inc is 0.001, 0.01 here so that it builds in seconds), read by its
    ``get_radii_from_convex_table`` (the previous chord's slope from the node below)."""
    g, ig = gamma_dist((d + k - 1) / k).cdf, gamma_dist(d / k).ppf
    c = k / 2 * np.exp(lgamma((d + k - 1) / k) - lgamma(d / k))

    def phi(t):
        return c * ((1 - g(ig(1 - 2 * t))) if k >= 1 else g(ig(2 * t)))

    return rs4a_convex_table(lam, phi, inc, upper)


def rs4a_convex_table(lam, phi, inc=0.01, upper=3.0):
    """rs4a's ``diffmethod_table`` (grid_type 'radius') read by ``get_radii_from_convex_table``,
    for any Phi (its ``CubicalDist.certify_linf_table`` too)."""
    rho, radii = [0.5], [0.0]
    for r in np.arange(inc, upper + inc, inc):
        x = 1 - 0.5 * np.exp(-np.sqrt(2) * r)  # scipy's laplace.cdf(sqrt(2) r), r > 0
        radii.append(radii[-1] + integrate.quad(lambda t: 1 / phi(t), 1 - x, 1 - rho[-1])[0])
        rho.append(x)
    rho, radii = np.array(rho), np.array(radii)

    def read(p):
        i = np.searchsorted(rho, p, "right") - 1
        slope = (radii[i] - radii[i - 1]) / (rho[i] - rho[i - 1])
        return lam * np.where(i == 0, 0.0, radii[i] + slope * (p - rho[i]))

    return read


def _l1_exp_rows():
    exp1 = certificate_class("yang-exp1-l1").from_std(STD, dim=DIM)
    half = certificate_class("yang-expp-l1").from_std(STD)
    two = certificate_class("yang-expp-l1").from_std(STD, exp_power=2.0)
    return [
        ("exp1 l1 (p = 2, differential table)", exp1,
         rs4a_exp1_table(exp1.params["lambd"], DIM, 2.0), None),
        ("expp l1 (p = 1/2, dilogarithm)", half, rs4a_expp_l1(half.params["lambd"], 0.5), None),
        ("expp l1 (p = 2, Gamma quantile)", two, rs4a_expp_l1(two.params["lambd"], 2.0), None),
    ]


def rs4a_expinf_phi_linf(d, p):
    """rs4a ExpInf.Phi_linf (its k = our p, j = 0): the large-s set for every p (for p < 1 the
    wrong one: bounds/exp_inf.py)."""
    g, ig = gamma_dist((d + p - 1) / p).cdf, gamma_dist(d / p).ppf
    c = p / 2 * np.exp(lgamma((d + p - 1) / p) - lgamma(d / p))
    return lambda t: (1 - g(ig(1 - 2 * t))) * c


def rs4a_powinf_phi_linf(d, m):
    """rs4a PowInf.Phi_linf with a = d + m."""
    g, ig = betaprime(d, m + 1).cdf, betaprime(d, m).ppf
    return lambda t: g(ig(2 * t)) * m / 2


def _linf_table_rows():
    rows = []
    for p in (2.0, 0.5):
        cert = certificate_class("yang-expinf-linf").from_std(STD, dim=DIM, exp_power=p)
        rows.append((f"expinf l_inf (p = {p:g}, sound table)", cert,
                     rs4a_convex_table(cert.params["lambd"], rs4a_expinf_phi_linf(DIM, p)), None))
    cert = certificate_class("yang-powinf-linf").from_std(STD, dim=DIM)
    rows.append(("powinf l_inf (a = d + 10, sound table)", cert,
                 rs4a_convex_table(cert.params["lambd"], rs4a_powinf_phi_linf(DIM, 10.0)), None))
    return rows


def _all_rows():
    return _rows() + _l1_exp_rows() + _linf_table_rows()


ROWS = _all_rows


def _rate(fn, x):
    t = time.perf_counter()
    out = fn(x)
    return out, len(x) / (time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--slice", type=int, default=20)
    args = ap.parse_args(argv)
    p = np.random.default_rng(0).uniform(0.5, 1.0, args.n)
    p = np.where(p > 0.5, p, 0.75)
    for label, cert, vec, per_value in ROWS():
        cert.radius(p[:10])  # build any per-dimension table once
        ours, r_ours = _rate(cert.radius, p)
        line = f"{label:34s} ours {r_ours:10.3g}/s"
        if vec is not None:
            theirs, r_vec = _rate(vec, p)
            excess = float(np.max(theirs - ours))
            line += f" | rs4a vectorized {r_vec:10.3g}/s ratio {r_ours / r_vec:6.2f}" \
                    f" max(rs4a - ours) {excess:.2e}"
        if per_value is not None:
            xs = p[: args.slice]
            _, r_pv = _rate(lambda x: np.array([per_value(v) for v in x]), xs)
            line += f" | rs4a per-value quad {r_pv:8.3g}/s ratio {r_ours / r_pv:8.3g}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
