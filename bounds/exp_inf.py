"""Yang et al. 2020's cubical families: ExpInf and PowInf, with their l1 and l_inf certificates.

Yang, Duan, Hu, Salman, Razenshteyn & Li 2020, "Randomized Smoothing of All Shapes and Sizes"
(ICML), Sec. 3 (the differential method) and their code (tonyduan/rs4a, ``noises.ExpInf``):

    q(z)  proportional to  ||z||_inf^-k exp(-(||z||_inf / lambda)^p),      0 <= k < d - 1, p > 0.

Parameters ``lambd`` = lambda, ``exp_power`` = p, ``k`` = the power of the norm (rs4a's
``ExpInf(k, j)`` is our ``(exp_power, k)``; see :mod:`.exp2`). The l_inf ball of radius s has
volume ``(2 s)^d``, so the radial density is proportional to ``s^(d-1-k) exp(-(s/lambda)^p)``:
``(||z||_inf / lambda)^p ~ Gamma((d - k)/p)``, times a uniform point of the cube's surface (one
coordinate +-1, the others U[-1, 1]). Per-coordinate variance
``lambda^2 (1 + (d - 1)/3) Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p))`` (rs4a ``ExpInf._sigma``).

l1 (any p, k). The differential method bounds the speed at which any class probability moves:
for ``f`` into [0, 1], ``|d/dt E f(x + t v + z)| <= (1/2) int |grad q . v|``, convex in v, so
over the l1 unit ball it is largest at a vertex ``e_i``, where it is the density of the marginal
z_i at 0: ``L = int_{R^(d-1)} q(0, y) dy``. By the l_inf-polar formula above

    L = (d - 1) Gamma((d - 1 - k)/p) / (2 d lambda Gamma((d - k)/p)) = 1 / (2 lambda gamma),
    gamma = d Gamma((d - k)/p) / ((d - 1) Gamma((d - 1 - k)/p))

(rs4a ``ExpInf.gamma_factor``). So ``pA(x + delta) >= pA - L ||delta||_1`` and
``pB(x + delta) <= pB + L ||delta||_1`` (each class separately), and the radius is

    R_1 = lambda gamma (pA - pB)          (binary: 2 lambda gamma (pA - 1/2), rs4a certify_l1).

Not tight (a Lipschitz bound). gamma is evaluated in mpmath once per instance and rounded down.

l_inf (k = 0, any p > 0). Yang et al.'s differential method for the l_inf adversary (rs4a
``CubicalDist._certify_linf_integrate``, :mod:`.cubical_linf`): ``R = lambda int_{1 - pA}^{1/2}
dt / Phi(t)``, binary only (as rs4a). With ``u = (s/lambda)^p ~ Gamma(a)``, ``a = d/p``,
``b = (d+p-1)/p``: ``Phi(t) = (p/2) Gamma(b)/Gamma(a) Q_b(Q_a^-1(2t))`` for p > 1 and
``(p/2) Gamma(b)/Gamma(a) P_b(P_a^-1(2t))`` for p < 1 (:func:`expinf_shape`; rs4a uses the
p > 1 form for every p, an unsound radius for p < 1). For p = 1 the two Gamma laws coincide,
``Phi(t) = t``, and

    R_inf = lambda log(1 / (2 (1 - pA)))            (binary; rs4a ExpInf.certify_linf, its k = 1),

the same in every dimension (the Wulff-crystal point of their Sec. 5). Other p: the sound table
of :mod:`.cubical_linf` (tangents of the concave Phi; within about 1e-9 relative); the radius is
infinite at pA = 1 for p >= 1 and finite for p < 1. k != 0 is refused (rs4a: j = 0 only).

PowInf (rs4a ``PowInf``): ``q ~ (1 + ||z||_inf / lambda)^-a`` with ``a = d + m``, parameter
``tail_excess`` = m > 2 (finite variance; a default that does not depend on d). The l_inf radius
is BetaPrime(d, m), and the l1 certificate is the same Lipschitz bound with
``int_{R^n} (1 + ||y||_inf)^-a dy = n 2^n B(n, a - n)``: ``L = m / (2 d lambda)``,
``R_1 = lambda d (pA - pB) / m``. Its l_inf radius is the differential method with
``Phi(t) = (m/2) I_w(d, m + 1)``, ``I_w(d, m) = 2t`` (:func:`powinf_shape`; rs4a tabulates it on
a grid), by the same sound table.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp
import numpy as np
from scipy import special

from ..core.errors import BadInput
from ..core.roots import expand, illinois, walk
from ..core.rounding import shrink, sound_difference
from .base import GapCertificate, twin_dps
from .cubical_linf import SF_RTOL, CubicalShape, LinfTable
from .exp2 import gamma_ratio, positive_exponent
from .family import NoiseFamily, Param, nonnegative_real, positive_scalar, register_family
from .functional.engine import DEFAULT_DIM
from .functional.zhang import dimension
from .registry import register


@register_family
class ExpInfFamily(NoiseFamily):
    """Yang et al. 2020 (rs4a ``ExpInf``): q ~ ||z||_inf^-k exp(-(||z||_inf/lambda)^p), p =
    exp_power; ``(||z||_inf/lambda)^p ~ Gamma((d - k)/p)`` times a uniform point of the cube's
    surface."""

    name = "expinf"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of exp(-(||z||/lambda)^p) (> 0)"),
              Param("exp_power", "real", positive_exponent,
                    "exponent p of exp(-(||z||/lambda)^p) (> 0; rs4a k)", 1.0),
              Param("k", "real", nonnegative_real,
                    "exponent k of the ||z||_inf^-k factor (0 <= k < dim - 1; rs4a j)", 0.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to ||z||_inf^-k exp(-(||z||_inf / lambda)^p), p = exp_power "
           "(Yang et al. 2020, rs4a ExpInf)")
    std_formula = "lambda sqrt((1 + (d - 1)/3) Gamma((d + 2 - k)/p) / (d Gamma((d - k)/p)))"

    @classmethod
    def check_joint(cls, params: dict) -> None:
        k, d = params["k"], params["dim"]
        if not k < d - 1:
            raise ValueError(f"k must satisfy 0 <= k < dim - 1 = {d - 1}, got k={k!r}")

    @classmethod
    def unit_std(cls, params):
        d, p, k = params["dim"], params["exp_power"], params["k"]
        return math.sqrt((1.0 + (d - 1) / 3.0) * gamma_ratio(d, p, k) / d)


def gamma_factor_mp(dim: int, exp_power, k):
    """``gamma = d Gamma((d - k)/p) / ((d - 1) Gamma((d - 1 - k)/p))`` in mpmath (p = exp_power)."""
    d, p, k = mp.mpf(dim), mp.mpf(exp_power), mp.mpf(k)
    return d / (d - 1) * mp.exp(mp.loggamma((d - k) / p) - mp.loggamma((d - 1 - k) / p))


def _down(x) -> float:
    """A float64 at most the mpmath number ``x`` (x > 0)."""
    f = float(x)
    return f if mp.mpf(f) <= x else float(np.nextafter(f, 0.0))


@register
class YangExpInfL1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), ExpInf noise, l1 adversary:
    ``R = lambda gamma (pA - pB)``, gamma of the module docstring (rs4a ExpInf.certify_l1).
    Each class probability is ``1/(2 lambda gamma)``-Lipschitz in l1, so multi-class holds."""

    name = "yang-expinf-l1"
    family = "expinf"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method, ExpInf noise, l1 (rs4a ExpInf.certify_l1)")
    formula = "R = lambda gamma (pA - pB), gamma = d Gamma((d-k)/p) / ((d-1) Gamma((d-1-k)/p)), p = exp_power"

    def __init__(self, lambd, exp_power=1.0, k=0.0, dim=DEFAULT_DIM):
        self._params = ExpInfFamily.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        with mp.workdps(40):
            self._gamma = _down(self._gamma_mp())

    def _gamma_mp(self):
        p = self._params
        return gamma_factor_mp(p["dim"], p["exp_power"], p["k"])

    def _gap(self, p_a, p_b):
        d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
        return np.where(d > 0, shrink(self._gamma * d, 2), 0.0)

    def _gap_mp(self, p_a, p_b):
        return self._gamma_mp() * (2 * p_a - 1 if p_b is None else p_a - p_b)


# ---------------------------------------------------------------------------------------------
# l_inf: the differential method (bounds/cubical_linf.py) with ExpInf's Phi
def _up(x) -> float:
    """A float64 at least the mpmath number ``x`` (x > 0)."""
    f = float(x)
    return f if mp.mpf(f) >= x else float(np.nextafter(f, np.inf))


def expinf_shape(dim: int, exp_power: float) -> CubicalShape:
    """Yang et al.'s ``Phi`` for ExpInf with k = 0, p = exp_power != 1, in ``u = s^p ~ Gamma(a)``,
    ``a = d/p``, ``b = (d + p - 1)/p``. ``X = p s^(p-1)`` on sigma = +1 is largest at large s for
    p > 1 and at small s for p < 1, so the set is ``{u > u0}`` resp. ``{u < u0}`` and
    ``Phi = C Q_b(u0)`` resp. ``C P_b(u0)`` with ``2 tau = Q_a(u0)`` resp. ``P_a(u0)``,
    ``C = (p/2) Gamma(b)/Gamma(a)``, ``Phi' = p u0^((p-1)/p)`` (P, Q: regularized incomplete
    gamma). rs4a's ``ExpInf.Phi_linf`` takes the large-s set for every p: for p < 1 that is the
    set of the *smallest* speed, an underestimate of Phi and an overestimate of the radius."""
    p = float(exp_power)
    a, b = dim / p, (dim + p - 1.0) / p
    with mp.workdps(40):
        c_up = _up(mp.mpf(p) / 2 * mp.exp(mp.loggamma(mp.mpf(dim + p - 1) / p) - mp.loggamma(mp.mpf(dim) / p)))
    power = (p - 1.0) / p

    def speed(u):
        return p * np.power(u, power)

    low, high = (special.gammainc, special.gammaincc) if p < 1 else (special.gammaincc, special.gammainc)
    inv_low, inv_high = ((special.gammaincinv, special.gammainccinv) if p < 1
                         else (special.gammainccinv, special.gammaincinv))

    def inverse(two_tau, one_minus):
        small = two_tau <= 0.5
        return np.where(small, inv_low(a, np.where(small, two_tau, 0.5)),
                        inv_high(a, np.where(small, 0.5, one_minus)))

    return CubicalShape(lambda u: low(a, u), lambda u: low(b, u), speed, inverse, c_up)


@lru_cache(maxsize=16)
def expinf_table(dim: int, exp_power: float) -> LinfTable:
    """The l_inf table of ExpInf(k = 0, p) at lambda = 1 (about half a second; cached)."""
    return LinfTable(expinf_shape(dim, exp_power))


def monotone_root_mp(f, lo, hi):
    """The root of the increasing mpmath function f with ``f(lo) < 0 < f(hi)`` (lo > 0; hi grown
    by doubling as needed), to the working precision (Illinois on the bracket)."""
    f_lo = f(lo)
    out = expand(f, walk(hi, hi, 2), ok=lambda v: v < 0, inside=lo, f_inside=f_lo, max_steps=200)
    tol = mp.mpf(10) ** (-mp.mp.dps + 3)
    br = illinois(f, out.inside, out.outside, out.f_inside, out.f_outside,
                  tol=lambda x, y: tol * abs(y), value=lambda v: -v, max_steps=400)
    return (br.inside + br.outside) / 2


def gamma_quantile_mp(a, mass, upper: bool):
    """u with ``Q_a(u) = mass`` (upper) or ``P_a(u) = mass`` (lower), Gamma(a) regularized; a mass
    above 1/2 is matched through its complement ``1 - mass`` (exact), on the other tail, so that
    its digits are kept when it is within 1e-16 of 1."""
    def low(u):
        return mp.gammainc(a, 0, u, regularized=True)

    def high(u):
        return mp.gammainc(a, u, mp.inf, regularized=True)

    if mass > mp.mpf(1) / 2:
        mass, upper = 1 - mass, not upper
    if upper:
        return monotone_root_mp(lambda u: mp.log(mass) - mp.log(high(u)), mp.mpf(0), a + 1)
    return monotone_root_mp(lambda u: mp.log(low(u)) - mp.log(mass), mp.mpf(10) ** (-mp.mp.dps), a + 1)


def expinf_linf_mp(tau, dim: int, exp_power):
    """The twin of (D) for ExpInf (k = 0, lambda = 1) in the radial variable (no tau integral).
    ``H_b = g_b/Q_b`` and ``rho_b = g_b/P_b`` are the hazard and reversed hazard of Gamma(b).
    p > 1: ``t = Q_a(u)/2`` turns (D) into ``(1/p) int_0^{u_A} u^(1/p - 1) H_b(u) du``,
    ``Q_a(u_A) = 2 tau``, integrated in ``s = u^(1/p)`` (a smooth integrand ``H_b(s^p)``).
    p < 1: ``t = P_a(u)/2`` gives ``(1/p) int_{u_A}^inf u^(1/p - 1) rho_b(u) du``,
    ``P_a(u_A) = 2 tau``, integrated in ``y = u^(1/p - 1)`` (integrand ``u rho_b(u) / (1 - p)``,
    bounded at u = 0 where ``rho_b ~ b/u``); finite at tau = 0 (pA = 1)."""
    p = mp.mpf(exp_power)
    a, b = dim / p, (dim + p - 1) / p
    tau = mp.mpf(tau)
    if tau >= mp.mpf(1) / 2:
        return mp.mpf(0)

    def log_g_b(u):
        return (b - 1) * mp.log(u) - u - mp.loggamma(b)

    bulk = [max(b - 12 * mp.sqrt(b), b / 4), b, b + 12 * mp.sqrt(b)]
    if p > 1:
        if tau == 0:
            return mp.inf
        u_a = gamma_quantile_mp(a, 2 * tau, upper=True)

        def hazard(s):
            u = s ** p
            return mp.exp(log_g_b(u)) / mp.gammainc(b, u, mp.inf, regularized=True) if u > 0 else mp.mpf(0)

        pts = [mp.mpf(0)] + [x ** (1 / p) for x in bulk if x < u_a] + [u_a ** (1 / p)]
        return mp.quad(hazard, pts)
    c = 1 / p - 1
    u_a = mp.mpf(0) if tau == 0 else gamma_quantile_mp(a, 2 * tau, upper=False)

    def integrand(y):
        u = y ** (1 / c)
        return b / (1 - p) if u == 0 else u * mp.exp(log_g_b(u)) / mp.gammainc(b, 0, u, regularized=True) / (1 - p)

    pts = [u_a ** c] + [x ** c for x in bulk if x > u_a] + [mp.inf]
    return mp.quad(integrand, pts)


@register
class YangExpInfLinf(GapCertificate):
    """Yang et al. 2020 (ICML), differential method for the l_inf adversary (Sec. 4), ExpInf
    noise with k = 0 (rs4a ExpInf.certify_linf, its j = 0): ``R = lambda int_{1-pA}^{1/2} dt /
    Phi(t)`` (:mod:`.cubical_linf`, Phi of :func:`expinf_shape`). p = 1: ``Phi(t) = t`` and
    ``R = lambda log(1 / (2 (1 - pA)))`` in every dimension; other p: the sound table of
    :mod:`.cubical_linf` (a lower bound within about 1e-9 relative). Binary only, as rs4a."""

    name = "yang-expinf-linf"
    family = "expinf"
    norm = "linf"
    region_p = math.inf
    binary_only = True
    scale_param = "lambd"
    twin_rtol = 2e-9
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method (Sec. 4), ExpInf noise (k = 0), l_inf (rs4a ExpInf.certify_linf)")
    formula = ("R = lambda int_{1-pA}^{1/2} dt / Phi(t), Phi(t) = (p/2) Gamma(b)/Gamma(a) Q_b(Q_a^-1(2t)) "
               "(p > 1; P for Q when p < 1), a = d/p, b = (d+p-1)/p; p = 1: R = lambda log(1/(2(1-pA))); binary")

    def __init__(self, lambd, exp_power=1.0, k=0.0, dim=DEFAULT_DIM):
        self._params = ExpInfFamily.validate({"lambd": lambd, "exp_power": exp_power, "k": k, "dim": dim})
        if self._params["k"] != 0.0:
            raise BadInput(f"yang-expinf-linf certifies k = 0 only (rs4a: j = 0), got k={k!r}")
        self._scales = np.asarray(self._params["lambd"])
        p = self._params["exp_power"]
        self._table = None if p == 1.0 else expinf_table(self._params["dim"], p)
        self.expensive = p != 1.0  # the twin integrates incomplete gamma functions in mpmath

    def _gap(self, p_a, p_b):
        half = p_a > 0.5
        tau = np.where(half, 1.0 - p_a, 0.5)  # exact for p_a >= 1/2 (Sterbenz)
        if self._table is None:
            with np.errstate(divide="ignore"):
                return np.where(half, shrink(-np.log(2.0 * tau), 2), 0.0)
        gap = self._table.integral(tau)
        at_one = self._at_one if self._params["exp_power"] < 1 else np.inf  # diverges for p > 1
        return np.where(half, np.where(tau == 0, at_one, gap), 0.0)

    @property
    def _at_one(self) -> float:
        """p < 1, pA = 1: the table down to its last point ``u_1`` (tau ~ 2^-57) plus
        ``int_0^{tau(u)} dt/Phi = (1/p) int_0^u x^(1/p - 1) rho_b(x) dx`` (module docstring of
        :func:`expinf_linf_mp`) bounded below with ``rho_b(x) = b / (x M(1, b + 1, x)) >=
        (b/x)(1 - x/(b + 1))`` (Kummer's M <= the geometric series of x/(b + 1)):
        ``>= b u^(1/p - 1)/(1 - p) - b u^(1/p)/(b + 1)``, at ``u = u_1 (1 - 1e-6)``, whose
        tau is below the table's last float position (checked). Close for small d; for large d
        u_1 is not small and this is a looser (sound) bound."""
        p, dim = self._params["exp_power"], self._params["dim"]
        table = self._table
        a, b = dim / p, (dim + p - 1.0) / p
        u = float(table.v[-1]) * (1.0 - 1e-6)
        last = float(table.t[-1])
        if not special.gammainc(a, u) * 0.5 * (1.0 + 2.0 * SF_RTOL) <= last:
            return float(table.integral(0.0))
        rest = sound_difference(b * u ** (1.0 / p - 1.0) / (1.0 - p), b * u ** (1.0 / p) / (b + 1.0), 16)
        return float(shrink(table.integral(last) + max(float(rest), 0.0), 4))

    def _working_dps(self, p_a, p_b, dps):
        """Eight more digits than the default for the quadrature twin (mp.quad's own error
        estimate needs them: at 17 digits a tail integral came out 1e-7 off)."""
        return twin_dps(p_a, p_b, dps) + (0 if self._table is None else 8)

    def _gap_mp(self, p_a, p_b):
        if p_a <= mp.mpf(1) / 2:
            return mp.mpf(0)
        if self._params["exp_power"] == 1.0:
            return mp.inf if p_a == 1 else -mp.log(2 * (1 - p_a))
        return expinf_linf_mp(1 - p_a, self._params["dim"], self._params["exp_power"])


# ---------------------------------------------------------------------------------------------
# PowInf: the cubical power law (rs4a ``PowInf``)
def tail_excess(name: str, value) -> float:
    """``m = a - d`` of the PowInf density ``(1 + ||z||_inf/lambda)^-(d + m)``: a real > 2
    (finite variance)."""
    m = positive_scalar(name, value)
    if not m > 2.0:
        raise ValueError(f"{name} must be > 2 (finite variance), got {value!r}")
    return m


@register_family
class PowInfFamily(NoiseFamily):
    """Yang et al. 2020 (rs4a ``PowInf``): q ~ (1 + ||z||_inf/lambda)^-a, a = d + m;
    ``||z||_inf / lambda ~ BetaPrime(d, m)`` times a uniform point of the cube's surface."""

    name = "powinf"
    params = (Param("lambd", "real", positive_scalar, "scale lambda of (1 + ||z||_inf/lambda)^-a (> 0)"),
              Param("tail_excess", "real", tail_excess,
                    "m = a - d of the PowInf density (1 + ||z||_inf/lambda)^-a (> 2)", 10.0),
              Param("dim", "int", dimension, "input dimension d (>= 2)", DEFAULT_DIM))
    scale_param = "lambd"
    law = ("density proportional to (1 + ||z||_inf / lambda)^-(d + m), m = tail_excess "
           "(Yang et al. 2020, rs4a PowInf)")
    std_formula = "lambda sqrt((1 + (d - 1)/3) (d + 1) / ((m - 1)(m - 2)))"

    @classmethod
    def unit_std(cls, params):
        d, m = params["dim"], params["tail_excess"]
        return math.sqrt((1.0 + (d - 1) / 3.0) * (d + 1) / ((m - 1.0) * (m - 2.0)))


@register
class YangPowInfL1(GapCertificate):
    """Yang et al. 2020 (ICML), differential method (Sec. 3), PowInf noise, l1 adversary: the
    marginal density of z_1 at 0 is ``L = m / (2 d lambda)`` (l_inf-polar formula with
    ``int_{R^n} (1 + ||y||_inf)^-a dy = n 2^n B(n, a - n)``), so ``R = lambda d (pA - pB) / m``
    (binary ``2 lambda d (pA - 1/2) / (a - d)``, rs4a PowInf.certify_l1). Not tight."""

    name = "yang-powinf-l1"
    family = "powinf"
    norm = "l1"
    region_p = 1.0
    scale_param = "lambd"
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method, PowInf noise, l1 (rs4a PowInf.certify_l1)")
    formula = "R = lambda d (pA - pB) / m, density (1 + ||z||_inf/lambda)^-(d + m)"

    def __init__(self, lambd, tail_excess=10.0, dim=DEFAULT_DIM):
        self._params = PowInfFamily.validate({"lambd": lambd, "tail_excess": tail_excess, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        with mp.workdps(40):
            self._factor = _down(mp.mpf(self._params["dim"]) / mp.mpf(self._params["tail_excess"]))

    def _gap(self, p_a, p_b):
        d = 2.0 * p_a - 1.0 if p_b is None else p_a - p_b
        return np.where(d > 0, shrink(self._factor * d, 2), 0.0)

    def _gap_mp(self, p_a, p_b):
        factor = mp.mpf(self._params["dim"]) / mp.mpf(self._params["tail_excess"])
        return factor * (2 * p_a - 1 if p_b is None else p_a - p_b)


def powinf_shape(dim: int, tail_excess: float) -> CubicalShape:
    """Yang et al.'s ``Phi`` for PowInf ``(1 + s)^-(d + m)`` in ``w = s/(1 + s) ~ Beta(d, m)``
    (s = ||z||_inf / lambda ~ BetaPrime(d, m)): ``X = (d + m)/(1 + s)`` on sigma = +1 is largest
    at small s, the set is ``{w < w0}`` with ``2 tau = I_w0(d, m)``, and since
    ``(d + m) x^(d-1) (1+x)^-(d+m+1) / B(d, m) = m`` times the BetaPrime(d, m + 1) density,
    ``Phi = (m/2) I_w0(d, m + 1)``, ``Phi' = (d + m)(1 - w0)`` (rs4a ``PowInf.Phi_linf``;
    I the regularized incomplete beta function)."""
    d, m = float(dim), float(tail_excess)

    def inverse(two_tau, one_minus):
        small = two_tau <= 0.5
        return np.where(small, special.betaincinv(d, m, np.where(small, two_tau, 0.5)),
                        1.0 - special.betaincinv(m, d, np.where(small, 0.5, one_minus)))

    return CubicalShape(lambda w: special.betainc(d, m, w), lambda w: special.betainc(d, m + 1.0, w),
                        lambda w: (d + m) * (1.0 - w), inverse, _up(mp.mpf(m) / 2))


@lru_cache(maxsize=16)
def powinf_table(dim: int, tail_excess: float) -> LinfTable:
    """The l_inf table of PowInf(m) at lambda = 1 (about half a second; cached)."""
    return LinfTable(powinf_shape(dim, tail_excess))


def powinf_linf_mp(tau, dim: int, tail_excess):
    """The twin of (D) for PowInf (lambda = 1) in ``w = s/(1 + s)``: substituting
    ``t = I_w(d, m)/2`` gives ``(1/(d + m)) int_{w_A}^1 beta_{d,m+1}(w) / ((1 - w) I_w(d, m + 1)) dw``
    with ``I_{w_A}(d, m) = 2 tau`` (beta the Beta(d, m + 1) density; infinite at tau = 0)."""
    d, m, tau = mp.mpf(dim), mp.mpf(tail_excess), mp.mpf(tau)
    if tau >= mp.mpf(1) / 2:
        return mp.mpf(0)
    if tau == 0:
        return mp.inf
    log_beta = mp.log(mp.beta(d, m + 1))

    def integrand(w):
        if w >= 1:
            return mp.mpf(0)  # (1 - w)^(m - 1) -> 0 (m > 2)
        log_pdf = (d - 1) * mp.log(w) + (m - 1) * mp.log1p(-w) - log_beta
        return mp.exp(log_pdf) / mp.betainc(d, m + 1, 0, w, regularized=True)

    if 2 * tau <= mp.mpf(1) / 2:
        w_a = monotone_root_mp(lambda w: mp.log(mp.betainc(d, m, 0, w, regularized=True)) - mp.log(2 * tau),
                               mp.mpf(10) ** (-mp.mp.dps), mp.mpf(1) / 2)
    else:  # through the complement 1 - 2 tau = I_{1-w}(m, d), solved for 1 - w
        w_a = 1 - monotone_root_mp(
            lambda v: mp.log(mp.betainc(m, d, 0, v, regularized=True)) - mp.log(1 - 2 * tau),
            mp.mpf(10) ** (-mp.mp.dps), mp.mpf(1) / 2)
    mode = (d - 1) / (d + m - 1)
    pts = [w_a] + [x for x in (mode / 2, mode, (1 + mode) / 2) if x > w_a] + [mp.mpf(1)]
    return mp.quad(integrand, pts) / (d + m)


@register
class YangPowInfLinf(GapCertificate):
    """Yang et al. 2020 (ICML), differential method for the l_inf adversary (Sec. 4), PowInf
    noise (rs4a PowInf.certify_linf, a grid table there): ``R = lambda int_{1-pA}^{1/2} dt /
    Phi(t)`` with Phi of :func:`powinf_shape`, by the sound table of :mod:`.cubical_linf` (a
    lower bound within about 1e-9 relative). Infinite at pA = 1. Binary only, as rs4a."""

    name = "yang-powinf-linf"
    family = "powinf"
    norm = "linf"
    region_p = math.inf
    binary_only = True
    expensive = True  # the twin integrates incomplete beta functions in mpmath
    scale_param = "lambd"
    twin_rtol = 2e-9
    citation = ("Yang et al. 2020, Randomized Smoothing of All Shapes and Sizes (ICML), differential "
                "method (Sec. 4), PowInf noise, l_inf (rs4a PowInf.certify_linf)")
    formula = ("R = lambda int_{1-pA}^{1/2} dt / Phi(t), Phi(t) = (m/2) I_{w(t)}(d, m+1), "
               "I_{w(t)}(d, m) = 2t (I: regularized incomplete beta); binary")

    def __init__(self, lambd, tail_excess=10.0, dim=DEFAULT_DIM):
        self._params = PowInfFamily.validate({"lambd": lambd, "tail_excess": tail_excess, "dim": dim})
        self._scales = np.asarray(self._params["lambd"])
        self._table = powinf_table(self._params["dim"], self._params["tail_excess"])

    def _gap(self, p_a, p_b):
        half = p_a > 0.5
        tau = np.where(half, 1.0 - p_a, 0.5)  # exact for p_a >= 1/2 (Sterbenz)
        gap = np.where(tau == 0, np.inf, self._table.integral(tau))
        return np.where(half, gap, 0.0)

    def _working_dps(self, p_a, p_b, dps):
        """Eight more digits than the default for the quadrature twin (as yang-expinf-linf)."""
        return twin_dps(p_a, p_b, dps) + 8

    def _gap_mp(self, p_a, p_b):
        return powinf_linf_mp(1 - p_a, self._params["dim"], self._params["tail_excess"])
