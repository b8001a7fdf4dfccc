"""One-sided Hoeffding and DKW bounds, and the Monte Carlo dual bound of Zhang et al. 2020.

Pure numpy; imports no other part of smoothcert.

* Hoeffding 1963, Thm 2: for i.i.d. X_i in [0, w], P(mean - E X >= t) <= exp(-2 n t^2 / w^2), so
  ``E X <= mean + w sqrt(ln(1/alpha) / (2n))`` with probability >= 1 - alpha.
* Dvoretzky-Kiefer-Wolfowitz with Massart's constant (Massart 1990, Thm 1; one-sided, valid for
  alpha <= 1/2): ``P(sup_t (F_n(t) - F(t)) > eps) <= exp(-2 n eps^2)`` and the same for F - F_n.
  So ``F(t) <= F_n(t) + sqrt(ln(1/alpha)/(2n))`` for all t simultaneously.

Why DKW for the functional-optimization bound (``zhang-linf``; docs/contributing.md, Theorem
catalog conventions): with
R = pi_delta/pi0 and F(t) = P(R < t), ``D(lambda) = E(lambda - R)_+ = int_0^lambda F(t) dt``, so
on the DKW event ``D(lambda) <= D_n(lambda) + lambda eps`` for every lambda at once. Choosing lambda on
the same samples is then sound; a per-lambda Hoeffding bound would not cover the chosen lambda.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_alpha, check_int, check_probability


def hoeffding_epsilon(n, alpha):
    """``sqrt(ln(1/alpha) / (2n))``: the one-sided Hoeffding width for variables in [0, 1]."""
    n = check_int("n", n, minimum=1)
    alpha = check_alpha(alpha)
    return float(np.sqrt(np.log(1.0 / alpha) / (2.0 * n)))


def hoeffding_upper(mean, n, alpha, width=1.0):
    """Upper confidence bound ``mean + width * hoeffding_epsilon(n, alpha)`` on E X, X in [0, width]."""
    m = np.asarray(mean, dtype=float)
    if not np.all(np.isfinite(m)):
        raise ValueError(f"mean must be finite, got {mean!r}")
    w = float(width)
    if not w > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    return m + w * hoeffding_epsilon(n, alpha)


def dkw_epsilon(n, alpha):
    """One-sided DKW-Massart width, uniform over t: ``sqrt(ln(1/alpha) / (2n))`` (needs alpha <= 1/2)."""
    alpha = check_alpha(alpha)
    if alpha > 0.5:
        raise ValueError(f"alpha must be <= 1/2 for Massart's DKW constant, got {alpha!r}")
    return hoeffding_epsilon(n, alpha)


def dual_lower_bound(sorted_ratios, p, eps):
    """``max_{lambda >= 0} lambda (p - eps) - mean((lambda - R_i)_+)`` for ascending ``sorted_ratios``.

    On the DKW event (``eps = dkw_epsilon``) this is a lower bound on Zhang et al.'s
    ``L(p) = max_lambda lambda p - E(lambda - R)_+`` (their Eq. 6 with the Monte Carlo D of Sec. 4.2).
    The objective is piecewise linear in lambda with kinks at the R_i, so the maximum is at lambda = 0
    or at some R_(j): ``R_(j) (p - eps) - (j R_(j) - sum_{i<=j} R_(i)) / n``. A relative 1e-12
    margin covers the float rounding of the sums.
    """
    r = np.asarray(sorted_ratios, dtype=float)
    p = float(check_probability("p", p, "down"))  # a lower bound: p rounds down
    pe = p - float(eps)
    if r.size == 0 or pe <= 0:
        return 0.0
    n = r.size
    j = np.arange(1, n + 1)
    csum = np.cumsum(r)
    vals = r * pe - (j * r - csum) / n
    best = int(np.argmax(vals))
    v = float(vals[best])
    margin = 1e-12 * (abs(r[best]) * (1 + j[best] / n) + csum[best] / n) + 1e-300
    return max(v - margin, 0.0)


__all__ = ["hoeffding_epsilon", "hoeffding_upper", "dkw_epsilon", "dual_lower_bound"]
