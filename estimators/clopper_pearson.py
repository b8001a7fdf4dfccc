"""One-sided Clopper-Pearson bounds on a binomial proportion, rounded in the safe direction.

Convention (docs/contributing.md, Statistics; Cohen et al. 2019, Sec. 3.2 and App. G,
"LowerConfBound"; the same
as statsmodels ``proportion_confint(k, n, alpha=2*alpha, method="beta")``):

* lower bound ``L(k, n, alpha) = Beta.ppf(alpha; k, n-k+1)``, ``L = 0`` at ``k = 0``;
  it solves ``T(L) = P(Bin(n, L) >= k) = I_L(k, n-k+1) = alpha`` (Clopper & Pearson 1934);
* upper bound ``U(k, n, alpha) = Beta.isf(alpha; k+1, n-k)``, ``U = 1`` at ``k = n``;
  it solves ``S(U) = P(Bin(n, U) <= k) = 1 - I_U(k+1, n-k) = alpha``.

So ``P(p < L) <= alpha`` and ``P(p > U) <= alpha`` for every true proportion ``p``.

Soundness of the float results
------------------------------
SciPy's ``betaincinv`` (the engine of ``beta.ppf``) is not rounded in the safe direction: the exact
tail at its answer exceeds alpha by a relative 1e-12 (n = 1e5) up to about 1e-7 (n = 1e7). We take a
justified margin off. For ``1 <= k`` the Beta(k, n-k+1) density ``f`` is log-concave, so its CDF
``T`` is log-concave (Prekopa 1973; Bagnoli & Bergstrom 2005, Thm 1), i.e. ``log T`` is concave, and
the tangent at the computed point ``p0`` bounds it from above::

    log T(p0 - D) <= log T(p0) - D f(p0) / T(p0).

With ``D = 2 eta alpha / f(p0)`` and ``T(p0) <= alpha (1 + delta)`` (SciPy's excess ``delta``):

    T(p0 - D) <= alpha (1 + delta) exp(-2 eta / (1 + delta)) <= alpha     when delta <= eta.

``eta = 1e-5`` is 100 times the worst excess measured. The density is evaluated in float from its
logarithm; even an error of a factor 100 in ``f`` would keep the exponent above ``delta``, so the
few-ulp errors of ``log``/``betaln`` are harmless. ``p0 - D`` is then rounded and moved down one
more ulp, which makes the stored float at most the exact ``p0 - D`` (round-to-nearest errs by at
most half an ulp of the binade below). The upper bound is symmetric: the survival function of a
log-concave law is log-concave too, ``log S(p0 + D) <= log S(p0) - D f(p0)/S(p0)``.

Validity: the margin needs SciPy's excess ``delta <= eta``. The tests check the exact tail over
n up to 1e7, alpha from :data:`ALPHA_MIN` to 1/2 and k from 0 to n (hypothesis, against mpmath).

Floor on alpha: below about 1e-255 SciPy's inversion (Boost ``ibeta_inv``) breaks down -- an
intermediate power underflows and the returned point is off by far more than ``eta``: the exact
tail at ``cp_upper(33, 100, 1e-300)`` is 727 alpha, at ``cp_lower(9999990, 10**7, 1e-300)``
2.4e9 alpha, and a random sweep (n up to 1e7) found excesses from 1e-255 down. No margin of this
form can absorb that, so for ``0 < k < n`` levels below ``ALPHA_MIN = 1e-200`` are refused with
``ValueError`` (every split level of ``certify_counts``, ``predict_counts`` and the sequential
modes included); the closed forms at ``k = 0`` and ``k = n`` need no SciPy and take any alpha.
Large n: SciPy's excess grows fast with n. An independent mpmath sweep (continued-fraction
tail, alpha from 1e-200 to 1/2) measured at most 1e-7 up to n = 1e7, 1.6e-4 at n near 3e9, 1e-2
near 1e11 and tails of 1e30 alpha and more from n near 1e12 (the inversion then misses by orders of
magnitude). So ``eta = ETA`` for ``n <= 1e7``, ``eta = ETA_LARGE = 1e-2`` (60 times the worst
excess measured there) for ``1e7 < n <= N_MAX = 2^32``, and for ``0 < k < n`` totals above
:data:`N_MAX` are refused with ``ValueError`` (the closed forms at k = 0 and k = n take any n).
The larger margin lowers the tail by a factor exp(-2e-2) at most: about 1% of alpha.

Closed forms (no SciPy): ``L(n, n) = alpha^(1/n)`` and ``U(0, n) = 1 - alpha^(1/n)``, rounded with an
explicit error budget (see :func:`_pow_root_ulps`).

The mpmath twins (:func:`cp_lower_mp`, :func:`cp_upper_mp`) solve the defining equations to ``dps``
digits with the exact tail :func:`binomial_tail_mp`, summed in log space (mpmath's ``betainc`` does
not converge for large n).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import special

from ..core.checks import check_alpha, check_counts, check_int, check_probability
from ..core.rounding import grow, shrink

#: Relative slack on SciPy's tail excess that the margin absorbs (100x the worst one measured).
ETA = 1e-5

#: The smallest level accepted (module docstring: SciPy's inversion fails below about 1e-255).
ALPHA_MIN = 1e-200

#: Totals up to this keep ``ETA``; above it, up to :data:`N_MAX`, the margin uses ``ETA_LARGE``.
N_ETA = 10**7

#: Relative slack for ``N_ETA < n <= N_MAX`` (60x the worst excess measured there, 1.6e-4).
ETA_LARGE = 1e-2

#: The largest total accepted for ``0 < k < n`` (SciPy's inversion fails far beyond: module
#: docstring).
N_MAX = 2**32


# ---------------------------------------------------------------------------------------------
# validation
def _check_k_n(k, n):
    """Validate counts ``k`` and totals ``n``; broadcast them; ``k <= n`` everywhere."""
    k_arr = check_counts("k", k)
    n_arr = check_counts("n", n)
    try:
        k_arr, n_arr = np.broadcast_arrays(k_arr, n_arr)
    except ValueError:
        raise ValueError(
            f"k and n must have broadcastable shapes, got {k_arr.shape} and {n_arr.shape}"
        ) from None
    over = k_arr > n_arr
    if over.any():
        i = np.flatnonzero(over.ravel())[0]
        raise ValueError(
            f"k must be <= n (k successes out of n trials), got k={k_arr.ravel()[i]}, "
            f"n={n_arr.ravel()[i]}"
        )
    return k_arr, n_arr


def _output(x: np.ndarray, scalar: bool):
    return float(x.reshape(-1)[0]) if scalar else x


# ---------------------------------------------------------------------------------------------
# float bounds
def _pow_root_ulps(y: np.ndarray) -> np.ndarray:
    """Error budget (ulps) of ``exp(fl(y))`` with ``y = log(alpha) / n`` computed in float.

    ``fl(y) = y (1 + t)`` with ``|t| <= 2 EPS`` (log and the division, each within one ulp), so
    ``exp(fl(y))`` is off by a relative ``2 EPS |y|`` plus one ulp of ``exp``: ``8 + 4 ceil|y|``
    covers that twice over. (For ``-expm1(fl(y))`` the same perturbation costs only
    ``2 EPS |y| / (e^|y| - 1) <= 2 EPS``, plus one ulp: :data:`EXPM1_ULPS`.)
    """
    return 8 + 4 * np.ceil(np.abs(y))


#: Error budget (ulps) of ``-expm1(fl(log(alpha) / n))`` (see :func:`_pow_root_ulps`).
EXPM1_ULPS = 8


def _log_beta_pdf(p, a, b):
    """log of the Beta(a, b) density at p (a, b >= 1): (a-1) log p + (b-1) log1p(-p) - log B(a, b).

    ``xlogy``/``xlog1py`` make ``0 * log 0 = 0``, so p0 = 0 (a = 1) or p0 = 1 (b = 1) stay finite.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.xlogy(a - 1, p) + special.xlog1py(b - 1, -p) - special.betaln(a, b)


def _margin(p0, a, b, alpha: float):
    """``D = 2 eta alpha / f(p0)``: the shift that lowers a log-concave tail by exp(-eta) or more;
    ``eta`` is ``ETA`` for totals ``a + b - 1 <= N_ETA``, ``ETA_LARGE`` above (module docstring)."""
    eta = np.where(a + b - 1.0 <= N_ETA, ETA, ETA_LARGE)
    with np.errstate(over="ignore"):
        return (2 * eta * alpha) * np.exp(-_log_beta_pdf(p0, a, b))


#: Below this many inputs, evaluate directly; above, evaluate once per distinct (k, n) pair.
DEDUP_MIN_SIZE = 1024


def _on_distinct(fn, k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """``fn(k, n, alpha)`` evaluated once per distinct ``(k, n)`` pair, scattered back.

    Monte Carlo certification uses one ``n`` for a whole test set, so 10^6 count vectors hold at
    most n + 1 distinct pairs and the expensive Beta inversion runs far fewer times. Pairs are
    keyed ``(n - n_min) * width + (k - k_min)``; a presence table (no sort) when the key span is
    at most 4x the input size, ``np.unique`` otherwise. The result is identical to ``fn(k, n)``.
    """
    if k.size < DEDUP_MIN_SIZE:
        return fn(k, n, alpha)
    k_min, k_max, n_min, n_max = int(k.min()), int(k.max()), int(n.min()), int(n.max())
    width = k_max - k_min + 1
    span = width * (n_max - n_min + 1)
    if span >= 2**62:  # keys would overflow int64: evaluate directly
        return fn(k, n, alpha)
    key = (n - n_min) * width + (k - k_min)
    if span <= 4 * k.size:
        present = np.zeros(span, dtype=bool)
        present[key] = True
        distinct = np.flatnonzero(present)
        table = np.empty(span, dtype=np.float64)
        table[distinct] = fn(distinct % width + k_min, distinct // width + n_min, alpha)
        return table[key]
    distinct, inverse = np.unique(key.ravel(), return_inverse=True)
    values = fn(distinct % width + k_min, distinct // width + n_min, alpha)
    return values[inverse].reshape(k.shape)


def _check_floor(alpha: float, nf: np.ndarray) -> None:
    """Refuse a level below :data:`ALPHA_MIN` or a total above :data:`N_MAX`, where SciPy's
    inversion is not sound."""
    if alpha < ALPHA_MIN:
        raise ValueError(
            f"alpha (or a level split from it) must be >= {ALPHA_MIN:g} for the float "
            f"Clopper-Pearson bounds, got {alpha!r}"
        )
    if nf.size and nf.max() > N_MAX:
        raise ValueError(
            f"n (trials) must be <= 2^32 for the float Clopper-Pearson bounds where 0 < k < n, "
            f"got n={int(nf.max())}"
        )


def _cp_lower(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Sound lower bound on validated int64 arrays (same shape), once per distinct (k, n)."""
    return _on_distinct(_cp_lower_direct, k, n, alpha)


def _cp_upper(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Sound upper bound on validated int64 arrays (same shape), once per distinct (k, n)."""
    return _on_distinct(_cp_upper_direct, k, n, alpha)


def _cp_lower_direct(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Sound lower bound, elementwise; see the module docstring."""
    mid = (k > 0) & (k < n)
    if mid.all():  # the common case: no masking
        return _cp_lower_mid(k.astype(np.float64), n.astype(np.float64), alpha)
    out = np.zeros(k.shape, dtype=np.float64)
    if mid.any():
        out[mid] = _cp_lower_mid(k[mid].astype(np.float64), n[mid].astype(np.float64), alpha)
    full = (k == n) & (n > 0)
    if full.any():
        y = np.log(alpha) / n[full]
        out[full] = shrink(np.exp(y), _pow_root_ulps(y))
    return out


def _cp_lower_mid(kf: np.ndarray, nf: np.ndarray, alpha: float) -> np.ndarray:
    _check_floor(alpha, nf)
    a, b = kf, nf - kf + 1.0
    p0 = special.betaincinv(a, b, alpha)
    p = np.nextafter(p0 - _margin(p0, a, b, alpha), -np.inf)
    return np.fmax(p, 0.0)  # below 0 (or NaN, never seen) -> 0, where T(0) = 0: sound


def _cp_upper_direct(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Sound upper bound, elementwise; see the module docstring."""
    out = np.ones(k.shape, dtype=np.float64)
    empty = (k == 0) & (n > 0)
    if empty.any():
        y = np.log(alpha) / n[empty]
        out[empty] = np.minimum(grow(-np.expm1(y), EXPM1_ULPS), 1.0)
    mid = (k > 0) & (k < n)
    if mid.any():
        kf, nf = k[mid].astype(np.float64), n[mid].astype(np.float64)
        _check_floor(alpha, nf)
        a, b = kf + 1.0, nf - kf
        p0 = special.betainccinv(a, b, alpha)
        p = np.nextafter(p0 + _margin(p0, a, b, alpha), np.inf)
        out[mid] = np.fmin(p, 1.0)  # above 1 (or NaN, never seen) -> 1: sound
    return out


def cp_lower(k, n, alpha=0.001):
    """One-sided Clopper-Pearson lower bound on p from k successes in n trials, at level ``alpha``.

    ``L = Beta.ppf(alpha; k, n-k+1)`` moved down by the margin of the module docstring, so that the
    exact ``P(Bin(n, L) >= k) <= alpha`` (hence ``P(p < L) <= alpha``). ``L = 0`` at ``k = 0`` and
    ``L = alpha^(1/n)`` (rounded down) at ``k = n``. Vectorized: ``k`` and ``n`` broadcast; a float
    for scalar input. ``alpha`` is the whole one-sided level (no split), at least
    :data:`ALPHA_MIN` and ``n <= N_MAX`` where ``0 < k < n``.
    """
    k_arr, n_arr = _check_k_n(k, n)
    a = check_alpha(alpha)
    return _output(_cp_lower(k_arr, n_arr, a), k_arr.ndim == 0)


def cp_upper(k, n, alpha=0.001):
    """One-sided Clopper-Pearson upper bound on p from k successes in n trials, at level ``alpha``.

    ``U = Beta.isf(alpha; k+1, n-k)`` (the inverse survival function keeps precision for tiny
    alpha) moved up by the margin of the module docstring, so that the exact
    ``P(Bin(n, U) <= k) <= alpha``. ``U = 1`` at ``k = n``; ``U = 1 - alpha^(1/n)`` (rounded up) at
    ``k = 0``. Vectorized like :func:`cp_lower`.
    """
    k_arr, n_arr = _check_k_n(k, n)
    a = check_alpha(alpha)
    return _output(_cp_upper(k_arr, n_arr, a), k_arr.ndim == 0)


# ---------------------------------------------------------------------------------------------
# mpmath twins
def _check_scalar_k_n(k, n):
    k = check_int("k", k, minimum=0)
    n = check_int("n", n, minimum=0)
    if k > n:
        raise ValueError(f"k must be <= n (k successes out of n trials), got k={k}, n={n}")
    return k, n


def _log_pmf_mp(j: int, n: int, p):
    """log P(Bin(n, p) = j) in mpmath, 0 < p < 1."""
    log_choose = mp.loggamma(n + 1) - mp.loggamma(j + 1) - mp.loggamma(n - j + 1)
    return log_choose + j * mp.log(p) + (n - j) * mp.log1p(-p)


def _sum_decreasing_terms(j: int, n: int, p, step: int, tol):
    """Sum P(Bin(n,p) = i) for i = j, j+step, ... while terms exceed ``tol`` times the sum.

    The pmf is log-concave, so once past the mode the ratio of successive terms decreases and the
    neglected remainder is below ``term * r / (1 - r)`` (r the last ratio): far below ``tol``.
    """
    q = p / (1 - p)
    term = mp.exp(_log_pmf_mp(j, n, p))
    total = term
    while 0 <= j + step <= n:
        if step > 0:
            term = term * q * (n - j) / (j + 1)
        else:
            term = term * j / ((n - j + 1) * q)
        j += step
        total += term
        if term <= tol * total:
            break
    return total


def binomial_tail_mp(k, n, p, upper=True, dps=50):
    """Exact binomial tail in mpmath: ``P(Bin(n, p) >= k)`` (``upper``) or ``P(Bin(n, p) <= k)``.

    Summed in log space (the first term from ``loggamma``, the next ones by the ratio of
    successive terms), only over the terms that matter: the tail on the far side of ``k`` from the
    mode is summed directly, starting at its end nearest the mode (``k`` or ``k - 1``; terms only
    decrease from there) and stopping once the terms fall below ``10^-(dps+5)`` of the sum; a tail
    containing the mode is one minus the other tail (losing at most a digit: it holds about half
    the mass or more).
    Internal precision is ``dps + 10`` digits; the result is an ``mpf``. ``p`` may be a float or an
    mpf (floats are converted exactly).
    """
    k, n = check_int("k", k, minimum=0), check_int("n", n, minimum=0)
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    dps = check_int("dps", dps, minimum=5)
    with mp.workdps(dps + 10):
        p = mp.mpf(p) if isinstance(p, mp.mpf) else mp.mpf(float(check_probability("p", p)))
        if not upper:  # P(X <= k) = P(Bin(n, 1-p) >= n - k)
            return +binomial_tail_mp(n - k, n, 1 - p, upper=True, dps=dps)
        if k == 0:
            return mp.mpf(1)
        if p == 0:
            return mp.mpf(0)
        if p == 1:
            return mp.mpf(1)
        tol = mp.mpf(10) ** (-(dps + 5))
        mode = min(int(mp.floor((n + 1) * p)), n)
        if k > mode:  # terms decrease from k upwards
            return _sum_decreasing_terms(k, n, p, +1, tol)
        # k <= mode: 1 - P(X <= k - 1); terms decrease from k - 1 downwards
        return 1 - _sum_decreasing_terms(k - 1, n, p, -1, tol)


def _log_density_mp(p, k: int, n: int):
    """log of d/dp P(Bin(n, p) >= k) = n C(n-1, k-1) p^(k-1) (1-p)^(n-k) (the Beta(k, n-k+1) pdf)."""
    log_c = mp.log(n) + mp.loggamma(n) - mp.loggamma(k) - mp.loggamma(n - k + 1)
    return log_c + (k - 1) * mp.log(p) + (n - k) * mp.log1p(-p)


def cp_lower_mp(k, n, alpha=0.001, dps=50):
    """The exact Clopper-Pearson lower bound to ``dps`` digits (the twin of :func:`cp_lower`).

    Solves ``P(Bin(n, L) >= k) = alpha`` by Newton's method on ``g(p) = log T(p) - log alpha``,
    ``g' = f / T``. ``g`` is concave and increasing (module docstring), so after the first step the
    iterates approach the root monotonically from below (each tangent lies above ``g``). Starts
    from SciPy's estimate. 0 at k = 0, ``alpha^(1/n)`` at k = n.
    """
    k, n = _check_scalar_k_n(k, n)
    a = check_alpha(alpha)
    dps = check_int("dps", dps, minimum=5)
    with mp.workdps(dps + 10):
        if k == 0:
            return mp.mpf(0)
        if k == n:
            return mp.mpf(a) ** (mp.mpf(1) / n)
        log_alpha = mp.log(mp.mpf(a))
        p = mp.mpf(float(special.betaincinv(k, n - k + 1, a)))
        if not 0 < p < 1:
            p = mp.mpf(k) / n
        tol = mp.mpf(10) ** (-(dps + 3))
        for _ in range(200):
            log_t = mp.log(binomial_tail_mp(k, n, p, dps=dps + 5))
            slope = mp.exp(_log_density_mp(p, k, n) - log_t)
            new = p - (log_t - log_alpha) / slope
            if new <= 0:
                new = p / 2
            elif new >= 1:
                new = (p + 1) / 2
            if abs(new - p) <= tol * p:
                p = new
                break
            p = new
        else:  # pragma: no cover - Newton on a concave function converges
            raise RuntimeError(f"cp_lower_mp did not converge for k={k}, n={n}, alpha={a}")
    with mp.workdps(dps):
        return +p


def cp_upper_mp(k, n, alpha=0.001, dps=50):
    """The exact Clopper-Pearson upper bound (twin of :func:`cp_upper`).

    By symmetry ``P(Bin(n, U) <= k) = P(Bin(n, 1-U) >= n-k)``, so ``U = 1 - L(n-k, n, alpha)``.
    """
    k, n = _check_scalar_k_n(k, n)
    with mp.workdps(dps + 10):
        u = 1 - cp_lower_mp(n - k, n, alpha, dps=dps + 10)
    with mp.workdps(dps):
        return +u


__all__ = [
    "ALPHA_MIN",
    "ETA",
    "ETA_LARGE",
    "N_MAX",
    "binomial_tail_mp",
    "cp_lower",
    "cp_lower_mp",
    "cp_upper",
    "cp_upper_mp",
]
