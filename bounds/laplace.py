"""Laplace smoothing, density proportional to exp(-sum_i |z_i| / b_i): certified l1 radii.

Lecuyer et al. 2019 (differential privacy), Teng et al. 2020 (Theorems 1-3) and Hong & Hong
(ARS Theorem 7.1). The scale ``scale`` is the Laplace b (std = sqrt(2) b); ARS calls its
per-coordinate b_i a "variance".

Numerics (every gap is a provable lower bound; budgets in ulps of the result, each special
function counted at a few ulps and the total shrunk by 64 ulps):

* ``1/2 log(pA/pB)``: for pA <= 2 pB, ``log1p((pA - pB)/pB)`` (pA - pB exact by Sterbenz, one
  division, log1p has condition <= 1 on [0, 1]); for pA > 2 pB, ``log(pA/pB)`` (one division,
  log has condition <= 1/log 2 there); when pA/pB overflows (pB subnormal), ``log pA - log pB``
  with the operand-magnitude margin of ``sound_difference``. pB = 0 gives inf.
* ``-log(1 - pA + pB)``: for pA - pB <= 1/2, ``-log1p(pB - pA)`` (one rounding, condition
  <= 1.45); otherwise pA > 1/2, so ``1 - pA`` is exact and ``-log((1 - pA) + pB)`` with argument
  below 1/2 (condition <= 1.45). 1 - pA + pB = 0 (pA = 1, pB = 0) gives inf.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np

from ..core.checks import check_int, check_positive
from ..core.rounding import grow, shrink, sound_difference
from .base import GapCertificate
from .family import NoiseFamily, Param, positive, register_family
from .registry import register


@register_family
class Laplace(NoiseFamily):
    """Laplace noise, density proportional to exp(-sum_i |z_i| / b_i) (Teng et al. 2020; ARS
    Sec. 7): each coordinate has variance 2 b^2, so std = sqrt(2) b."""

    name = "laplace"
    params = (Param("scale", "reals", positive,
                    "Laplace scale b, density proportional to exp(-|z|/b) (scalar or array)"),)
    scale_param = "scale"
    law = "density proportional to exp(-sum_i |z_i| / b_i)"
    std_formula = "sqrt(2) b"

    @classmethod
    def unit_std(cls, params):
        return np.sqrt(2.0)


def _binary_pb(p_a, p_b):
    """p_b, or 1 - p_a in the binary case (exact where it matters: p_a >= 1/2)."""
    return 1.0 - p_a if p_b is None else p_b


def log_ratio_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``1/2 log(p_a / p_b)`` (0 where p_a <= p_b, inf where p_b = 0)."""
    pb = _binary_pb(p_a, p_b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        near = p_a <= 2.0 * pb
        small = np.log1p((p_a - pb) / pb)
        q = p_a / pb
        far = np.log(q)
        val = shrink(np.where(near, small, np.where(np.isfinite(q), far, 0.0)))
        overflow = ~near & ~np.isfinite(q)
        if overflow.any():  # pB subnormal: the ratio overflows, subtract the logs instead
            val = np.where(overflow, sound_difference(np.log(p_a), np.log(pb)), val)
        val = np.where(pb == 0, np.inf, val)
    return np.where(p_a > pb, 0.5 * np.maximum(val, 0.0), 0.0)


def log_tv_gap(p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
    """Sound lower bound of ``-log(1 - p_a + p_b)`` (0 where p_a <= p_b)."""
    pb = _binary_pb(p_a, p_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = p_a - pb
        close = -np.log1p(pb - p_a)
        far = -np.log((1.0 - p_a) + pb)
        val = shrink(np.where(d <= 0.5, close, far))
    return np.where(d > 0, val, 0.0)


def teng_gap(p_a, p_b):
    """Sound lower bound of ``max{1/2 log(pA/pB), -log(1 - pA + pB)}`` (Teng et al. Thm 1)."""
    return np.maximum(log_ratio_gap(p_a, p_b), log_tv_gap(p_a, p_b))


def log_ratio_gap_mp(p_a, p_b):
    pb = 1 - p_a if p_b is None else p_b
    if p_a <= pb:
        return mp.mpf(0)
    return mp.inf if pb == 0 else mp.log(p_a / pb) / 2


def log_tv_gap_mp(p_a, p_b):
    pb = 1 - p_a if p_b is None else p_b
    if p_a <= pb:
        return mp.mpf(0)
    s = 1 - p_a + pb
    return mp.inf if s == 0 else -mp.log(s)


def teng_gap_mp(p_a, p_b):
    return max(log_ratio_gap_mp(p_a, p_b), log_tv_gap_mp(p_a, p_b))


class _IsotropicLaplace(GapCertificate):
    """Shared body: isotropic Laplace noise with scalar scale b; l1 balls."""

    family = "laplace"
    norm = "l1"
    region_p = 1.0
    scale_param = "scale"

    def __init__(self, scale):
        b = check_positive("scale", scale, allow_array=False)
        self._params = {"scale": float(b)}
        self._scales = np.asarray(float(b))


@register
class LecuyerLaplaceL1(_IsotropicLaplace):
    """Lecuyer et al. 2019 (PixelDP), as compared in Teng et al. Sec. 4.3.

    Laplace noise of scale b is (r/b)-differentially private for l1 changes of size r, and the
    DP stability condition pA > e^(2 r/b) pB gives ``R = b/2 log(pA/pB)`` (binary
    ``b/2 log(pA/(1 - pA))``). pB = 0 gives inf. Not tight (Teng et al. Thm 1 dominates it).
    """

    name = "lecuyer-laplace-l1"
    tight = False
    citation = "Lecuyer et al. 2019 (PixelDP), Laplace mechanism; as stated in Teng et al. 2020 Sec. 4.3"
    formula = "R = b/2 log(pA/pB)"

    def _gap(self, p_a, p_b):
        return log_ratio_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return log_ratio_gap_mp(p_a, p_b)


@register
class TengLaplaceL1(_IsotropicLaplace):
    """Teng, Lee & Xiang 2020, "l1 adversarial robustness certificates", Theorem 1.

    Laplace noise of scale b: ``R = max{ b/2 log(pA/pB), -b log(1 - pA + pB) }``. In the binary
    case the second term always wins (``-log(2q) >= 1/2 log((1-q)/q)`` since ``q(1-q) <= 1/4``)
    and equals Theorem 2. Not flagged tight in the multi-class form.
    """

    name = "teng-laplace-l1"
    tight = False
    citation = "Teng, Lee & Xiang 2020, Theorem 1"
    formula = "R = max{ b/2 log(pA/pB), -b log(1 - pA + pB) }"

    def _gap(self, p_a, p_b):
        return teng_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return teng_gap_mp(p_a, p_b)


@register
class TengLaplaceL1Binary(_IsotropicLaplace):
    """Teng, Lee & Xiang 2020, Theorem 2: binary ``R = -b log(2 (1 - pA))`` for pA > 1/2.

    Tight by their Theorem 3 (a 1-D witness with delta = (||delta||_1, 0, ..., 0); it lives in the
    verifier). pA = 1 gives inf. Numerics: 2(1 - pA) is exact for pA >= 1/2, one log.
    """

    name = "teng-laplace-l1-binary"
    tight = True
    binary_only = True
    citation = "Teng, Lee & Xiang 2020, Theorem 2 (tight by Theorem 3)"
    formula = "R = -b log(2 (1 - pA)), pA > 1/2"

    def _gap(self, p_a, p_b):
        with np.errstate(divide="ignore"):
            val = shrink(-np.log(2.0 * (1.0 - p_a)))
        return np.where(p_a > 0.5, val, 0.0)

    def _gap_mp(self, p_a, p_b):
        if p_a <= mp.mpf(1) / 2:
            return mp.mpf(0)
        return mp.inf if p_a == 1 else -mp.log(2 * (1 - p_a))


@register
class ArsLaplaceL1(GapCertificate):
    """Hong & Hong (ARS), Theorem 7.1: anisotropic Laplace noise with scale b_i per coordinate.

    Region (a generalized cross-polytope) ``sum_i |delta_i| / b_i <= gap`` with
    ``gap = max{ 1/2 log(pA/pB), -log(1 - pA + pB) }`` (Teng et al. Thm 1 after z -> z / b);
    certified l1 radius ``min_i b_i * gap``. ``scale`` is a scalar or an array of any shape.
    Not flagged tight (its isotropic counterpart is Teng Thm 1).
    """

    name = "ars-laplace-l1"
    family = "laplace"
    norm = "l1"
    tight = False
    region_p = 1.0
    scale_param = "scale"
    isotropic_counterpart = "teng-laplace-l1"
    citation = "Hong & Hong, Anisotropic Randomized Smoothing, Theorem 7.1"
    formula = "region sum_i |delta_i|/b_i <= max{1/2 log(pA/pB), -log(1 - pA + pB)}; R = min_i b_i gap"

    def __init__(self, scale):
        b = check_positive("scale", scale)
        self._params = {"scale": float(b) if b.ndim == 0 else b.copy()}
        self._scales = b.copy()

    def _gap(self, p_a, p_b):
        return teng_gap(p_a, p_b)

    def _gap_mp(self, p_a, p_b):
        return teng_gap_mp(p_a, p_b)


#: Default input dimension of the l_inf certificate (MNIST, as the other zoo families).
DEFAULT_DIM = 784
#: Pieces whose tail mass ends below this are dropped from the float table: ``1 - pA`` of a
#: double pA in (1/2, 1) is at least 2^-53.
_SMALLEST_TAIL = 2.0**-60
#: Digits of the mpmath table behind the float path (rounded outwards to doubles).
_TABLE_DPS = 40
#: The largest input dimension of the l_inf certificate: its table takes O(sqrt(d)) steps
#: (:func:`_top_atom`; 0.1 s at d = 150,528, 0.3 s at 10^6, about 3 s at 10^8); larger d is
#: refused in one line naming dim rather than left to run for minutes.
MAX_DIM = 10**8


def _top_atom(dim: int) -> int:
    """Where the recurrence of :func:`_pieces_mp` starts: ``k0 = min(d, ceil(d/2) + t)`` with
    ``t = ceil(sqrt(d L / 2))``, ``L = (dps + 40) ln 10``. By Hoeffding's inequality the mass
    above it is ``P(B > k0) <= exp(-2 t^2 / d) <= 10^-(dps + 40)``, and its share of ``M`` at most
    d times that: both far below the working precision relative to the pieces kept (which end
    above :data:`_SMALLEST_TAIL`), so dropping them changes no digit, and the loop takes
    O(sqrt(d (dps + 40))) steps instead of d/2 (0.9 s -> ms at d = 150,528)."""
    t = int(mp.ceil(mp.sqrt(dim * (mp.mp.dps + 40) * mp.log(10) / 2)))
    return min(dim, (dim + 1) // 2 + t)


def _pieces_mp(dim: int):
    """The linear pieces of ``Phi`` on ``q in (0, 1/2]`` (Eq. (D) of :class:`YangLaplaceLinf`)
    that end above :data:`_SMALLEST_TAIL`: tuples ``(T, E, M, s)``, on ``[T, E]``
    ``Phi(q) = M + s (q - T)``, from the atom :func:`_top_atom` of ``S = 2 Binomial(d, 1/2) - d``
    down to the median (s = 0: the half atom at S = 0, d even). Recurrences from the top:
    ``P(B = k-1) = P(B = k) k / (d - k + 1)``, ``T`` the mass above the atom, ``M = E[S 1{S > s}]``."""
    top = _top_atom(dim)
    pm = mp.binomial(dim, top) / mp.mpf(2) ** dim
    tail, m = mp.mpf(0), mp.mpf(0)
    out = []
    for k in range(top, (dim - 1) // 2, -1):
        s = 2 * k - dim
        end = tail + pm if s > 0 else mp.mpf(1) / 2
        if end >= _SMALLEST_TAIL:
            out.append((tail, end, m, s))
        tail, m = end, m + s * pm
        pm = pm * k / (dim - k + 1)
    return out


def _piece_integral_mp(q0, piece):
    """``int_{q0}^{E} dq / (M + s (q - T))`` for q0 in the piece (exact, the piece is linear)."""
    t, e, m, s = piece
    phi = m + s * (q0 - t)
    if phi == 0:
        return mp.inf
    return (e - q0) / m if s == 0 else mp.log((m + s * (e - t)) / phi) / s


@lru_cache(maxsize=8)
def _table_mp(dim: int, dps: int):
    """The pieces at ``dps`` digits with ``C``: the integral from each piece's end to 1/2."""
    with mp.workdps(dps):
        pieces = _pieces_mp(dim)
        after, acc = [], mp.mpf(0)
        for piece in reversed(pieces):
            after.append(acc)
            acc += _piece_integral_mp(piece[0], piece) if piece[0] > 0 else 0
        return pieces, after[::-1]


@lru_cache(maxsize=8)
def _table_float(dim: int):
    """Doubles rounded outwards: ``T`` and ``E`` down, ``M`` up, ``C`` down (module numerics)."""
    pieces, after = _table_mp(dim, _TABLE_DPS)
    down = lambda x: np.nextafter(float(x), 0.0) if x > 0 else 0.0  # noqa: E731
    up = lambda x: np.nextafter(float(x), np.inf) if x > 0 else 0.0  # noqa: E731
    t, e, m, s = (np.array([f(p[j]) for p in pieces]) for j, f in
                  enumerate((down, down, up, float)))
    c = np.array([down(x) for x in after])
    e[-1] = 0.5  # the last piece ends at exactly 1/2
    return t, e, m, s, c


def laplace_linf_gap(p_a: np.ndarray, dim: int) -> np.ndarray:
    """A provable lower bound of ``int_{1-pA}^{1/2} dq / Phi(q)`` (Eq. (D)), never below Teng's
    binary l1 gap ``-log(2 (1 - pA))`` converted to l_inf (divided by d).

    For ``q0 = 1 - pA`` (exact) the piece is the first whose rounded-down end is >= q0, so q0 is
    at most its true end; ``Phi`` is concave, so the piece's line is an upper bound of Phi on the
    whole range; the line at q0 is rounded up (4 ulps: three positive roundings), the length
    ``E - q0`` down, the quotient, log1p and division by s lose 1/2 to 1 ulp each (8 ulps taken
    off), and the tabulated ``C`` (40 digits, rounded down) adds with one more rounding (2 ulps)."""
    t, e, m, s, c = _table_float(dim)
    q0 = 1.0 - p_a
    i = np.minimum(np.searchsorted(e, q0, side="left"), len(e) - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        line = grow(m[i] + s[i] * (q0 - t[i]), 4)
        y = shrink(np.maximum(e[i] - q0, 0.0) / line, 2)
        si = np.where(s[i] > 0, s[i], 1.0)
        part = shrink(np.where(s[i] > 0, np.log1p(s[i] * y) / si, y), 8)
        diff = shrink(part + c[i], 2)
    diff = np.where(q0 > 0, diff, np.inf)
    converted = shrink(TengLaplaceL1Binary._gap(None, p_a, None) / dim, 2)
    return np.where(p_a > 0.5, np.maximum(diff, converted), 0.0)


def laplace_linf_gap_mp(p_a, dim: int):
    """``int_{1-pA}^{1/2} dq / Phi(q)`` in mpmath: the partial piece plus the pieces above it."""
    if p_a <= mp.mpf(1) / 2:
        return mp.mpf(0)
    q0 = 1 - p_a
    if q0 == 0:
        return mp.inf
    pieces, after = _table_mp(dim, mp.mp.dps)
    for piece, rest in zip(pieces, after):
        if q0 <= piece[1]:
            return _piece_integral_mp(q0, piece) + rest
    return mp.mpf(0)


@register
class YangLaplaceLinf(_IsotropicLaplace):
    """Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes" (ICML), differential
    method (Sec. 5; rs4a ``Laplace.certify_linf`` with ``mode='integrate'``): Laplace noise of
    scale b in R^d, certified in l_inf, binary.

    The differential method bounds the growth of the smoothed probability: with
    ``Phi(p) = sup_{||v||_inf <= 1} sup {E[F(z) <v, -grad log q(z)>] : F in [0,1], E F = p}``
    the radius is ``R = b int_{1/2}^{pA} dp / Phi(p)``. For Laplace, ``-grad log q = sign(z)/b``;
    the inner sup is convex in v, so it peaks at a vertex of the cube, and all vertices give the
    same value (coordinate sign flips preserve the law): ``v = (1, ..., 1)``, statistic
    ``S = sum_i sign(z_i) = 2 B - d``, ``B ~ Binomial(d, 1/2)``. Neyman-Pearson puts F on the
    largest values of S; S is symmetric, so ``Phi(p) = Phi(1 - p)`` and with ``q = 1 - p``

        R = b int_{1 - pA}^{1/2} dq / Phi(q),  Phi(q) = E[S 1{S > c}] + c (q - P(S > c)),   (D)

    c the upper q-quantile of S (rs4a's ``Phi_linf``). Phi is piecewise linear in q (slope c
    between atoms), so each piece integrates in closed form, ``log(Phi(E)/Phi(q0))/c`` (or
    ``(E - q0)/Phi`` for c = 0): no quadrature error at all; the pieces come from a 40-digit
    table per d rounded outwards (d <= :data:`MAX_DIM`). Since ``Phi_inf <= d Phi_1`` (the l_inf
    unit ball lies in d times the l1 one) and ``int dq/Phi_1 = -log(2(1 - pA))`` (Teng Thm 2),
    (D) is never below the l1 radius divided by d; the float path returns the larger of the two
    bounds. pA = 1 gives inf. Not flagged tight (the differential method is not shown tight for
    l_inf).
    """

    name = "yang-laplace-linf"
    norm = "linf"
    region_p = float("inf")
    tight = False
    binary_only = True
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), "
                "differential method, Laplace noise, l_inf (rs4a Laplace.certify_linf)")
    formula = ("R = b int_{1-pA}^{1/2} dq / Phi(q), Phi(q) = E[S 1{S>c}] + c (q - P(S>c)), "
               "S = 2 Binomial(d, 1/2) - d, c its upper q-quantile")

    def __init__(self, scale, dim=DEFAULT_DIM):
        super().__init__(scale)
        self._params["dim"] = check_int("dim", dim, minimum=1, maximum=MAX_DIM)

    def _gap(self, p_a, p_b):
        return laplace_linf_gap(p_a, self._params["dim"])

    def _gap_mp(self, p_a, p_b):
        return laplace_linf_gap_mp(p_a, self._params["dim"])
