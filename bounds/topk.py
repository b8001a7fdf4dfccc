"""Top-k certification under Gaussian noise: Jia, Cao, Wang & Gong, ICLR 2020, Theorem 1.

Sources: the statement below was written from the authors' released code (jjy1994/Certify_Topk,
``topk.py``: the bisection on ``Phi(Phi^-1(p_l) - R/sigma) >= Phi(Phi^-1(p_{S_t}) + R/sigma) / t``
over the t smallest of the k largest upper bounds, the maximum over t, ``p_{S_t}`` clipped to
``1 - p_l``) and from recollection of the paper (arXiv 1912.09899). The stored copies of the
paper that could be searched gave its title, authors, abstract ("a tight robustness in l2 norm
for top-k predictions ... with Gaussian noise") and introduction only, not Section 3: the
theorem numbers (Theorem 1 for the radius, Theorem 2 for tightness) are as the authors' code and
recollection give them, NOT checked against the paper text, and no equation number is cited.
The mathematics does not rest on them: the reduction below is proven here from the
Neyman-Pearson lemma, and the radius is pinned in tests/test_topk.py against independent values.

The smoothed top-k classifier ``g_k(x)`` returns the k labels with the largest probabilities
``p_i = Pr(f(x + eps) = i)``, ``eps ~ N(0, sigma^2 I)``. Theorem 1 (Certified radius for top-k
predictions). Let ``p_l`` be a lower bound of ``Pr(f(x + eps) = l)`` and ``pbar_i`` upper bounds of
``Pr(f(x + eps) = i)`` for every other label ``i != l``. Sort the upper bounds,
``pbar_{b_1} >= pbar_{b_2} >= ... >= pbar_{b_{c-1}}``, let ``Gamma_k = {b_1, ..., b_k}``, let ``S_t``
be the t labels of ``Gamma_k`` with the smallest upper bounds and ``pbar_{S_t} = sum_{j in S_t}
pbar_j``. Then ``l in g_k(x + delta)`` for every ``||delta||_2 < R_l``, where ``R_l`` is the unique
solution of the paper's radius equation

    Phi(Phi^-1(p_l) - R_l / sigma) - min_{t = 1..k} Phi(Phi^-1(pbar_{S_t}) + R_l / sigma) / t = 0.

Why (the proof's reduction): for ``l`` to leave the top-k at ``x + delta`` there must be k other
labels each at least as likely as ``l``; any t of them then carry at least ``t`` times ``l``'s
probability. By the Neyman-Pearson lemma for Gaussians (Cohen et al. 2019, Lemma 3),
``Pr_{x+delta}(l) >= Phi(Phi^-1(p_l) - ||delta|| / sigma)`` and ``Pr_{x+delta}(S) <=
Phi(Phi^-1(pbar_S) + ||delta|| / sigma)``; the k labels with the largest upper bounds are the
adversary's best choice, and among them the t smallest the tightest test. Each term
``h_t(R) = Phi(Phi^-1(p_l) - R/sigma) - Phi(Phi^-1(pbar_{S_t}) + R/sigma) / t`` is strictly
decreasing, so ``R_l = max_t R_t`` with ``h_t(R_t) = 0``. For ``k = 1`` (``S_1 = {b_1}``, the
runner-up) the equation is ``Phi^-1(p_l) - R/sigma = Phi^-1(pbar_{b_1}) + R/sigma``:
``R = sigma/2 (Phi^-1(p_l) - Phi^-1(pbar_{b_1}))``, Cohen et al.'s multi-class radius.

Also used (sound, no extra confidence): ``Pr(S) <= 1 - Pr(l) <= 1 - p_l``, so ``pbar_{S_t}`` is
replaced by ``min(pbar_{S_t}, 1 - p_l)`` (as the authors' released code does).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy.special import log_ndtr, ndtri

from ..core.checks import check_int, check_positive, check_probability, check_probability_pair
from ..core.rounding import DEFAULT_ULPS, EPS, MAX, as_output, grow, shrink
from .base import Certificate, Noise, check_dps, twin_dps
from .gaussian import gaussian_gap, gaussian_gap_mp
from .registry import register

#: Float bisection steps (a bound, never reached): the search stops once the bracket is within a
#: relative 2^-52 or its midpoint equals an end; a bracket at most ~80 wide (|Phi^-1| <= 38.5 on
#: doubles) needs at most ~60 halvings for the relative stop, 1100 to reach any subnormal.
_BISECTION_STEPS = 1100


def _down(v):
    """A lower bound of the exact ``Phi^-1`` value whose float evaluation is ``v`` (a few ulps)."""
    return np.nextafter(v - DEFAULT_ULPS * EPS * np.abs(v), -np.inf)


def _up(v):
    return np.nextafter(v + DEFAULT_ULPS * EPS * np.abs(v), np.inf)


def subset_sums(p_l: np.ndarray, others: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of ``min(pbar_{S_t}, 1 - p_l)`` for t = 1..k (last axis), in float64.

    ``Gamma_k`` is the k largest entries of ``others`` (last axis); ``S_t`` its t smallest. The
    cumulative sums for t >= 2 are raised by ``k + 2`` ulps (t - 1 roundings; a zero sum stays 0) and ``1 - p_l`` by one ulp
    where it is not exact (``p_l < 1/2``), so every entry is at least the exact value.
    """
    top = np.sort(others, axis=-1)[..., -k:]  # ascending: top[..., 0] is the smallest of Gamma_k
    exact = np.cumsum(top, axis=-1)
    # one term (t = 1) and a zero sum (only zero terms) are exact
    single = np.arange(k) == 0
    sums = np.where(single | (exact == 0), exact, grow(exact, k + 2))
    comp = 1.0 - p_l
    comp = np.where(p_l >= 0.5, comp, np.nextafter(comp, np.inf))[..., None]
    return np.minimum(np.minimum(sums, comp), 1.0)


def _certified(a_lo, b_hi, x, log_t):
    """Whether ``h_t(x sigma) > 0`` is proven: ``log Phi(a - x) > log Phi(b + x) - log t`` with
    ``a_lo <= Phi^-1(p_l)``, ``b_hi >= Phi^-1(pbar_{S_t})``; each operation's rounding is covered
    (one ulp on the arguments, a relative ``2 DEFAULT_ULPS EPS`` margin on the log-space sum)."""
    with np.errstate(invalid="ignore"):
        la = log_ndtr(np.nextafter(a_lo - x, -np.inf))
        lb = log_ndtr(np.nextafter(b_hi + x, np.inf))
        lhs = la - lb + log_t
        margin = 2 * DEFAULT_ULPS * EPS * (np.abs(la) + np.abs(lb) + log_t)
    return lhs > margin


def unit_radius(p_l: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """A sound lower bound of ``R_l / sigma`` (Theorem 1) from ``p_l`` (shape S) and the subset
    sums (shape S + (k,), :func:`subset_sums`); 0 where nothing is certified, inf where some
    ``pbar_{S_t}`` is 0 and ``p_l > 0``.

    t = 1 is Cohen's closed form (:func:`gaussian_gap`). For t >= 2 a bisection on ``x = R/sigma``
    whose lower end is either the Cohen-type bound ``(Phi^-1(p_l) - Phi^-1(pbar_{S_t}))/2 <= x_t``
    (dividing by t moves the root right) or a point where :func:`_certified` held, so the lower
    end never exceeds the exact root ``x_t``. Upper end ``Phi^-1(p_l) - Phi^-1(pbar_{S_t} / t)``
    (where ``x_t >= 0``, ``Phi(a - x_t) >= pbar_{S_t}/t``); it only steers the search.
    """
    k = sums.shape[-1]
    best = gaussian_gap(p_l, sums[..., 0])
    if k == 1:
        return best
    pl = np.broadcast_to(p_l[..., None], sums[..., 1:].shape)
    s = sums[..., 1:]
    t = np.arange(2, k + 1, dtype=float)
    live = (pl > s / t) & (pl < 1.0) & np.isfinite(best[..., None])
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = ndtri(pl), ndtri(s)
        lo = np.where(live, gaussian_gap(pl, s), 0.0)
        hi = np.where(live, np.maximum(a - ndtri(s / t), lo) * (1 + 1e-6) + 1e-300, 0.0)
    with np.errstate(invalid="ignore"):  # inf - inf = nan only where the entry is not live
        a_lo, b_hi, log_t = _down(a), _up(b), np.log(t) * (1 + 4 * EPS)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        moving = live & (mid > lo) & (mid < hi) & (hi - lo > 2.0**-52 * hi)
        if not moving.any():
            break
        ok = _certified(a_lo, b_hi, mid, log_t) & moving
        lo = np.where(ok, mid, lo)
        hi = np.where(moving & ~ok, mid, hi)
    return np.maximum(best, np.max(np.where(live, lo, 0.0), axis=-1))


# -- the twin ---------------------------------------------------------------------------------
def _ndtri_mp(p):
    """Exact ``Phi^-1(p)`` in mpmath (p a float or an exact sum of floats)."""
    return mp.sqrt(2) * mp.erfinv(2 * p - 1) if p >= 0.5 else -_ndtri_mp_tail(p)


def _ndtri_mp_tail(p):
    extra = int(-mp.log10(p)) + 10 if p > 0 else 0
    with mp.workdps(mp.mp.dps + extra):
        return +(mp.sqrt(2) * mp.erfinv(1 - 2 * p)) if p > 0 else mp.inf


def unit_radius_mp(p_l, others, k: int):
    """``R_l / sigma`` of Theorem 1 in mpmath: each ``R_t`` from its own equation (t = 1 closed
    form, t >= 2 by the Illinois method on the log form of ``h_t``, bracketed as in
    :func:`unit_radius`), the maximum over t; the subset sums are exact sums of the inputs."""
    top = sorted(others)[-k:]
    comp = 1 - p_l
    sums = [min(mp.fsum(top[:t]), comp, mp.mpf(1)) for t in range(1, k + 1)]
    if p_l == 0:
        return mp.mpf(0)
    if sums[0] == 0:
        return mp.inf
    a = _ndtri_mp(p_l)
    best = max((a - _ndtri_mp(sums[0])) / 2, mp.mpf(0))
    for t in range(2, k + 1):
        s = sums[t - 1]
        if p_l <= s / t:
            continue
        b = _ndtri_mp(s)

        def h(x, b=b, t=t):
            return mp.log(mp.ncdf(a - x)) - mp.log(mp.ncdf(b + x)) + mp.log(t)

        lo, hi = (a - b) / 2, a - _ndtri_mp(s / t)
        if h(hi) >= 0:
            root = hi
        elif h(lo) <= 0:
            root = lo
        else:
            root = mp.findroot(h, (lo, hi), solver="illinois")
        best = max(best, root)
    return best


# -- the certificate --------------------------------------------------------------------------
@register
class JiaGaussianTopK(Certificate):
    """Jia, Cao, Wang & Gong (ICLR 2020), Theorem 1: label ``l`` stays in the smoothed top-k set.

    Noise N(0, sigma^2 I); parameters ``sigma`` and ``k`` (default 1). The radius equation and its
    proof's reduction are in the module docstring. ``radius(p_a, p_b)``:

    * ``p_a``: lower bound of label l's probability (scalar or array of shape S);
    * ``p_b``: the upper bounds of the OTHER labels' probabilities, in any order, as an array
      with more dimensions than ``p_a`` whose last axis holds them (shape S + (m,), or any shape
      whose leading axes broadcast with ``p_a``; m >= k: one bound per other label, 0 for a
      label never seen is fine; labels left out are NOT bounded). Entries above ``1 - p_a`` are
      allowed (simultaneous upper bounds often are) and act as ``1 - p_a``;
    * a scalar ``p_b`` (or one of shape S) is one runner-up bound per input and ``p_b=None`` the
      binary case ``1 - p_a``: both mean c = 2 classes, hence k = 1 (Cohen's radius); with
      ``k >= 2`` they raise.

    Float radius: t = 1 in closed form, t >= 2 by a bounded bisection whose lower end provably
    certifies (:func:`unit_radius`), times sigma rounded down; ``radius_mp`` solves the same
    equation in mpmath. Not flagged tight: Jia et al. prove tightness (their Theorem 2, numbering
    unchecked: module docstring) only under an extra condition on the bounds; for k = 1 the bound
    is Cohen's tight one.
    """

    name = "jia-gaussian-topk-l2"
    family = "gaussian"
    norm = "l2"
    tight = False
    citation = ("Jia, Cao, Wang & Gong, ICLR 2020 (arXiv 1912.09899), Theorem 1 (radius equation; "
                "numbering from the authors' code, not checked against the paper text); "
                "k = 1: Cohen et al. 2019 Thm 1")
    formula = ("Phi(Phi^-1(pA) - R/sigma) = min_{t<=k} Phi(Phi^-1(pbar_{S_t}) + R/sigma) / t; "
               "k = 1: R = sigma/2 (Phi^-1(pA) - Phi^-1(pB))")
    scale_param = "sigma"
    twin_rtol = 1e-11

    def __init__(self, sigma, k=1):
        s = check_positive("sigma", sigma, allow_array=False)
        self._params = {"sigma": float(s), "k": check_int("k", k, minimum=1)}

    @property
    def k(self) -> int:
        return self._params["k"]

    @property
    def noise(self) -> Noise:
        return Noise("gaussian", {"sigma": self._params["sigma"]})

    @classmethod
    def from_std(cls, std, dim=None, sigma=None, **ignored):
        """Gaussian noise of standard deviation ``std`` (``sigma`` wins), top-1 (k = 1); other
        families' keywords (``k`` of Zhang et al., ``scale``, ...) are ignored."""
        return cls(sigma=std if sigma is None else sigma)

    # -- inputs -------------------------------------------------------------------------------
    def _inputs(self, p_a, p_b):
        """``(p_l, others or None, scalar)``: ``others`` has the other labels on its last axis;
        None is the binary case (k = 1 only)."""
        if p_b is not None and np.ndim(p_b) > np.ndim(p_a):
            pa = check_probability("p_a", p_a, "down")
            pb = check_probability("p_b", p_b, "up")
            if pb.shape[-1] < self.k:
                raise ValueError(f"p_b holds {pb.shape[-1]} upper bounds but k={self.k}: pass one per "
                                 "other label (at least k)")
            try:
                pa = np.broadcast_to(pa, np.broadcast_shapes(pa.shape, pb.shape[:-1]))
                pb = np.broadcast_to(pb, pa.shape + pb.shape[-1:])
            except ValueError:
                raise ValueError(f"p_a of shape {pa.shape} does not match p_b of shape {pb.shape} "
                                 "(the last axis of p_b holds the other labels)") from None
            return pa, pb, pa.ndim == 0
        pa, pb, scalar = check_probability_pair(p_a, p_b)
        if self.k > 1:
            raise ValueError(f"p_b={p_b!r} bounds one other label but k={self.k}: pass an array "
                             "whose last axis holds every other label's upper bound")
        return pa, (None if pb is None else pb[..., None]), scalar

    # -- public API ---------------------------------------------------------------------------
    def radius(self, p_a, p_b=None):
        """Certified l2 radius of label l in the top-k set (see the class docstring for
        ``p_b``); never above the exact solution of the radius equation at the given floats."""
        pa, others, scalar = self._inputs(p_a, p_b)
        x = gaussian_gap(pa, None) if others is None else unit_radius(pa, subset_sums(pa, others, self.k))
        sigma = self._params["sigma"]
        with np.errstate(over="ignore", invalid="ignore"):
            r = np.where(x > 0, shrink(sigma * x, 2), 0.0)
        r = np.where(np.isinf(r) & np.isfinite(x), MAX, r)
        return as_output(np.maximum(r, 0.0), scalar)

    def radius_mp(self, p_a, p_b=None, dps: int = 50):
        """The exact solution of the radius equation in mpmath at ``dps`` digits (scalar p_a;
        ``p_b`` scalar, None or one vector of the other labels' upper bounds)."""
        dps = check_dps(dps)
        pa, others, scalar = self._inputs(p_a, p_b)
        if pa.ndim != 0:
            raise ValueError("radius_mp takes a scalar p_a (and one vector p_b); loop over arrays")
        pa = float(pa)
        smallest = None if others is None else float(np.min(others)) or None
        with mp.workdps(twin_dps(pa, smallest, dps)):
            a = mp.mpf(pa)
            if others is None:
                x = gaussian_gap_mp(a, None)
            else:
                x = unit_radius_mp(a, [mp.mpf(float(v)) for v in others.ravel()], self.k)
            return mp.mpf(self._params["sigma"]) * max(x, mp.mpf(0))

    def _radius_mp(self, p_a, p_b):
        """The twin at mpmath inputs with at most one other label (the base-class contract the
        generic tests use): the k = 1 radius, Cohen's multi-class radius (binary without p_b)."""
        if self.k > 1 and p_b is not None:
            raise ValueError(f"one other label but k={self.k}")
        x = gaussian_gap_mp(p_a, p_b)
        return mp.mpf(self._params["sigma"]) * max(x, mp.mpf(0))


__all__ = ["JiaGaussianTopK", "subset_sums", "unit_radius", "unit_radius_mp"]
