"""Witnesses for Yang et al.'s noise zoo (Randomized Smoothing of All Shapes and Sizes, 2020):
the uniform l2 ball (exact overlap volume), the spherical Exp2 and Pow2 families and the cubical
ExpInf, PowInf and Pareto families and the l1 families Exp1 and Expp (half-spaces ``{z_i <= t}``
with the exact marginal of z_i, by mpmath quadrature or in closed form). Registered per noise family like
those of :mod:`.witnesses`, whose machinery they use; imported by the package so that the registry
always holds them.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from . import registry
from .witnesses import (OverlapWitness, Witness, _axis_half_space, _first_axis, bisect_quantile,
                        laplace_cdf, laplace_quantile, zhang_l2_witnesses)

class BallOverlapWitness(OverlapWitness):
    """Uniform l2-ball noise (Yang et al. 2020): ``P_A = pA - V``, ``P_B = pB + V`` with V the
    fraction of the ball that the shifted ball misses, by quadrature: the fraction of the ball in
    the slab ``|z_1| < r/2``, ``int_0^t (1-v^2)^((d-1)/2) dv / int_0^1 (same)``, ``t = r/(2 lambda)``."""

    def __init__(self, label, ball_radius, dim, u, p_a, p_b):
        self.label = label
        self.lam, self.dim = mp.mpf(float(ball_radius)), int(dim)
        self.speed = mp.sqrt(mp.fsum(mp.mpf(float(x)) ** 2 for x in u))
        self.p_a = mp.mpf(float(p_a))
        self.p_b = None if p_b is None else mp.mpf(float(p_b))
        self.whole = mp.quad(self._w, [0, 1])

    def _w(self, v):
        return (1 - v * v) ** (mp.mpf(self.dim - 1) / 2)

    def tv(self, s):
        t = min(mp.mpf(s) * self.speed / (2 * self.lam), mp.mpf(1))
        return mp.quad(self._w, [0, t]) / self.whole


@registry.register("witness", "uniform-ball-l2")
def uniform_ball_witnesses(p, u, p_a, p_b):
    """The level-set construction: A gives up the part of the ball the shift uncovers first."""
    return [BallOverlapWitness("ball overlap construction", p["ball_radius"], p["dim"], u, p_a, p_b)]



@registry.register("witness", "exp2", directions=_first_axis)
def exp2_witnesses(p, u, p_a, p_b):
    """Exp2 with exp_power 2 is zhang-l2 with sigma = lambda / sqrt 2 (bounds/exp2.py): its
    half-space witnesses; other exp_power values: ``{z_i <= t}`` with the exact marginal of z_i
    (quadrature, :func:`exp2_marginal_cdf`), not a Neyman-Pearson set (soundness and a ratio)."""
    if float(p["exp_power"]) == 2.0:
        sigma = float(p["lambd"]) / math.sqrt(2.0)
        return zhang_l2_witnesses({"sigma": sigma, "k": p["k"], "dim": p["dim"]}, u, p_a, p_b)
    lam = float(p["lambd"])
    i = int(np.argmax(np.abs(u)))
    cdf = exp2_marginal_cdf(lam, float(p["exp_power"]), int(p["dim"]), float(p["k"]))
    return [Witness(f"half-space {{z_{i} <= t}}", cdf, bisect_quantile(cdf, -lam, lam, iters=80),
                    abs(u[i]), p_a, p_b, neyman_pearson=False)]


def cube_marginal_cdf(radius_of, pdf, spread, dim):
    """CDF of z_1 for noise ``s u`` with u uniform on the cube's surface and ``s = radius_of(g)``
    increasing in g, g with density ``pdf`` (``spread``: a width of its bulk). Given s, z_1 = +-s
    with probability 1/dim (the face coordinate), else U[-s, s]: for y >= 0,
    ``P(|z_1| <= y | s) = 1`` if s <= y, else ``(1 - 1/dim) y / s``."""

    def cdf(y):
        ay = abs(y)
        if ay == 0:
            return mp.mpf(1) / 2

        def h(g):
            s = radius_of(g)
            return pdf(g) * (1 if s <= ay else (1 - mp.mpf(1) / dim) * ay / s)

        inside = mp.quad(h, spread(ay))
        return (1 + inside) / 2 if y > 0 else (1 - inside) / 2

    return cdf


def expinf_marginal_cdf(lambd, exp_power, dim, k):
    """CDF of z_1 for Yang et al.'s ExpInf noise ``||z||_inf^-k exp(-(||z||_inf/lambda)^p)``:
    ``s = lambda G^(1/p)``, ``G ~ Gamma((dim - k)/p)`` (:func:`cube_marginal_cdf`)."""
    lam, pw, shape = mp.mpf(lambd), mp.mpf(exp_power), mp.mpf(dim - k) / mp.mpf(exp_power)

    def pdf(g):
        return mp.exp((shape - 1) * mp.log(g) - g - mp.loggamma(shape))

    def spread(ay):
        kink = (ay / lam) ** pw
        return [0, kink, kink + 4 * shape + 4, mp.inf]

    return cube_marginal_cdf(lambda g: lam * g ** (1 / pw), pdf, spread, dim)


def powinf_marginal_cdf(lambd, tail_excess, dim):
    """CDF of z_1 for Yang et al.'s PowInf noise ``(1 + ||z||_inf/lambda)^-(d + m)``:
    ``s = lambda X``, ``X ~ BetaPrime(d, m)`` (:func:`cube_marginal_cdf`)."""
    lam, m, d = mp.mpf(lambd), mp.mpf(tail_excess), mp.mpf(dim)
    log_beta = mp.log(mp.beta(d, m))

    def pdf(x):
        return mp.exp((d - 1) * mp.log(x) - (d + m) * mp.log1p(x) - log_beta)

    def spread(ay):
        kink = ay / lam
        return [0, kink, kink + d / m + 1, mp.inf]

    return cube_marginal_cdf(lambda x: lam * x, pdf, spread, dim)


def cube_max_cdf(dim, lambd, s_cdf, s_tail_moment):
    """CDF of ``M = max_i z_i`` for cube noise ``z = S u`` (u uniform on the cube's surface):
    given S, M <= y when S <= y, or when the face coordinate is -S (probability 1/2, needs
    -S <= y) and the other d - 1 coordinates, U[-S, S], are <= y. So, binomially in y,

        P(M <= y) = P(S <= y) [y > 0] + 2^-d sum_j C(d-1, j) y^j E[S^-j; S > |y|],

    with ``s_cdf(c) = P(S/lambda <= c)`` and ``s_tail_moment(j, c) = E[(S/lambda)^-j; S/lambda > c]``
    in closed form (incomplete gamma/beta functions). The alternating sum for y < 0 is evaluated
    with ``dim`` extra digits."""
    d, lam = int(dim), mp.mpf(lambd)

    def cdf(y):
        with mp.workdps(mp.mp.dps + d):
            x = mp.mpf(y) / lam
            terms = [mp.binomial(d - 1, j) * x ** j * s_tail_moment(j, abs(x)) for j in range(d)]
            out = (s_cdf(x) if x > 0 else 0) + mp.fsum(terms) / mp.mpf(2) ** d
        return +out

    return cdf


def _ones_or_first_axis(p, d, norm):
    """l_inf certificates: the vertex (1, ..., 1), where the differential method's speed is
    largest (bounds/cubical_linf.py); the others: ``e_1``."""
    return [np.ones(d)] if norm == "linf" else _first_axis(p, d, norm)


class MaxWitness(Witness):
    """``A = {max_i z_i <= t_A}``: the shift ``s (1, ..., 1)`` moves ``max_i z_i`` by exactly s.
    Not symmetric (its flip distance is found by root search) and not a Neyman-Pearson set."""

    def __init__(self, cdf, lambd, p_a, p_b):
        super().__init__("max_i z_i <= t", cdf, bisect_quantile(cdf, -lambd, lambd, iters=80), 1.0,
                         p_a, p_b, neyman_pearson=False)


def _is_vertex(u) -> bool:
    return bool(np.all(u == u[0]) and u[0] > 0)


def expinf_max_cdf(lambd, exp_power, dim, k):
    """:func:`cube_max_cdf` for ExpInf: ``(S/lambda)^p ~ Gamma(a)``, ``a = (d - k)/p``, so
    ``E[S^-j; S > c] = Gamma((d - k - j)/p, c^p) / Gamma(a)`` (lambda = 1)."""
    pw, a = mp.mpf(exp_power), (mp.mpf(dim) - mp.mpf(k)) / mp.mpf(exp_power)
    return cube_max_cdf(dim, lambd, lambda c: mp.gammainc(a, 0, c ** pw, regularized=True),
                        lambda j, c: mp.gammainc((dim - k - j) / pw, c ** pw, mp.inf) / mp.gamma(a))


def powinf_max_cdf(lambd, tail_excess, dim):
    """:func:`cube_max_cdf` for PowInf: ``S/lambda ~ BetaPrime(d, m)``, so ``E[S^-j; S > c] =
    B(d - j, m + j) / B(d, m) (1 - I_{c/(1+c)}(d - j, m + j))`` (lambda = 1)."""
    d, m = mp.mpf(dim), mp.mpf(tail_excess)

    def moment(j, c):
        w = c / (1 + c)
        return mp.beta(d - j, m + j) / mp.beta(d, m) * mp.betainc(d - j, m + j, w, 1, regularized=True)

    return cube_max_cdf(dim, lambd, lambda c: mp.betainc(d, m, 0, c / (1 + c), regularized=True), moment)


@registry.register("witness", "expinf", directions=_ones_or_first_axis)
def expinf_witnesses(p, u, p_a, p_b):
    """``{z_i <= t}`` with the exact marginal of z_i (quadrature, :func:`expinf_marginal_cdf`);
    along the vertex (l_inf) ``{max_i z_i <= t}`` instead (closed form, :func:`expinf_max_cdf`):
    not Neyman-Pearson sets (soundness and a ratio only)."""
    lam = float(p["lambd"])
    if _is_vertex(u):
        cdf = expinf_max_cdf(lam, float(p["exp_power"]), int(p["dim"]), float(p["k"]))
        return [MaxWitness(cdf, lam, p_a, p_b)]
    i = int(np.argmax(np.abs(u)))
    cdf = expinf_marginal_cdf(lam, float(p["exp_power"]), int(p["dim"]), float(p["k"]))
    return [Witness(f"half-space {{z_{i} <= t}}", cdf, bisect_quantile(cdf, -lam, lam, iters=80),
                    abs(u[i]), p_a, p_b, neyman_pearson=False)]


def pareto_cdf(lambd, a):
    """CDF of one Pareto coordinate: ``1/2 + sign(y)/2 (1 - (1 + |y|/lambda)^-a)``."""
    lam, a = mp.mpf(lambd), mp.mpf(a)
    return lambda y: (1 + mp.sign(y) * (1 - (1 + abs(y) / lam) ** -a)) / 2


def pareto_quantile(lambd, a):
    """The inverse of :func:`pareto_cdf` in closed form (+-inf at 0 and 1)."""
    lam, a = mp.mpf(lambd), mp.mpf(a)

    def q(p):
        if p <= 0 or p >= 1:
            return mp.ninf if p <= 0 else mp.inf
        t = lam * ((1 - abs(2 * p - 1)) ** (-1 / a) - 1)
        return t if p >= 0.5 else -t

    return q


@registry.register("witness", "pareto", directions=_first_axis)
def pareto_witnesses(p, u, p_a, p_b):
    """``{z_i <= t}`` with the exact Pareto marginal (closed form): the likelihood ratio of the
    shifted heavy-tailed law is not monotone in z_i, so not a Neyman-Pearson set (soundness and
    a ratio only)."""
    i = int(np.argmax(np.abs(u)))
    lam, a = float(p["lambd"]), float(p["tail_index"])
    return [Witness(f"half-space {{z_{i} <= t}}", pareto_cdf(lam, a), pareto_quantile(lam, a),
                    abs(u[i]), p_a, p_b, neyman_pearson=False)]


@registry.register("witness", "powinf", directions=_ones_or_first_axis)
def powinf_witnesses(p, u, p_a, p_b):
    """``{z_i <= t}`` with the exact marginal of z_i (quadrature, :func:`powinf_marginal_cdf`);
    along the vertex (l_inf) ``{max_i z_i <= t}`` (closed form, :func:`powinf_max_cdf`): not
    Neyman-Pearson sets (soundness and a ratio only)."""
    lam = float(p["lambd"])
    if _is_vertex(u):
        return [MaxWitness(powinf_max_cdf(lam, float(p["tail_excess"]), int(p["dim"])), lam, p_a, p_b)]
    i = int(np.argmax(np.abs(u)))
    cdf = powinf_marginal_cdf(lam, float(p["tail_excess"]), int(p["dim"]))
    return [Witness(f"half-space {{z_{i} <= t}}", cdf, bisect_quantile(cdf, -lam, lam, iters=80),
                    abs(u[i]), p_a, p_b, neyman_pearson=False)]


def exp1_marginal_cdf(lambd, exp_power, dim):
    """CDF of z_1 for Yang et al.'s Exp1 noise ``exp(-(||z||_1/lambda)^p)``: ``||z||_1 = lambda
    G^(1/p)``, ``G ~ Gamma(d/p)``, and ``|z_1|/||z||_1 ~ Beta(1, d - 1)`` (CDF ``1 - (1 - v)^(d-1)``)
    with a fair sign: ``P(z_1 <= y) = 1/2 + 1/2 E[1 - (1 - min(y/r, 1))^(d-1)]`` for y >= 0."""
    lam, pw, shape, m = mp.mpf(lambd), mp.mpf(exp_power), mp.mpf(dim) / mp.mpf(exp_power), dim - 1

    def cdf(y):
        ay = abs(y)
        if ay == 0:
            return mp.mpf(1) / 2

        def h(g):
            v = min(ay / (lam * g ** (1 / pw)), mp.mpf(1))
            return mp.exp((shape - 1) * mp.log(g) - g - mp.loggamma(shape)) * (1 - (1 - v) ** m)

        kink = (ay / lam) ** pw
        inside = mp.quad(h, [0, kink, kink + 4 * shape + 4, mp.inf])
        return (1 + inside) / 2 if y > 0 else (1 - inside) / 2

    return cdf


@registry.register("witness", "exp1", directions=_first_axis)
def exp1_witnesses(p, u, p_a, p_b):
    """exp_power 1 is i.i.d. Laplace: Teng's one-dimensional set (Neyman-Pearson). Otherwise
    ``{z_i <= t}`` with the exact marginal of z_i (quadrature, :func:`exp1_marginal_cdf`): not a
    Neyman-Pearson set (soundness and a ratio only)."""
    lam, power = float(p["lambd"]), float(p["exp_power"])
    if power == 1.0:
        return _axis_half_space(u, laplace_cdf(lam), laplace_quantile(lam), p_a, p_b)
    cdf = exp1_marginal_cdf(lam, power, int(p["dim"]))
    return _axis_half_space(u, cdf, bisect_quantile(cdf, -lam, lam, iters=80), p_a, p_b,
                            neyman_pearson=False)


def expp_cdf(lambd, exp_power):
    """CDF of one Expp coordinate ``exp(-|z/lambda|^p)``: ``1/2 + sign(y)/2 P_{1/p}(|y/lambda|^p)``
    (regularized lower incomplete gamma)."""
    lam, pw = mp.mpf(lambd), mp.mpf(exp_power)
    return lambda y: (1 + mp.sign(y) * mp.gammainc(1 / pw, 0, abs(y / lam) ** pw, regularized=True)) / 2


@registry.register("witness", "expp", directions=_first_axis)
def expp_witnesses(p, u, p_a, p_b):
    """The half-space ``{z_i <= t}`` with the exact marginal (closed form). For exp_power >= 1 the
    density is log-concave, the shifted likelihood ratio is monotone in z_i, and this is the
    Neyman-Pearson set: the l1 radius is attained (tight). Below 1 it is not (soundness and a
    ratio only)."""
    lam, power = float(p["lambd"]), float(p["exp_power"])
    cdf = expp_cdf(lam, power)
    return _axis_half_space(u, cdf, bisect_quantile(cdf, -lam, lam, iters=80), p_a, p_b,
                            neyman_pearson=power >= 1.0)


def spherical_marginal_cdf(radius_of, pdf, spread, dim):
    """CDF of z_1 for noise ``rho u`` with u uniform on the unit l2 sphere of R^dim and
    ``rho = radius_of(g)`` increasing in g, g with density ``pdf`` (``spread(|y|)``: the
    quadrature's breakpoints). ``(1 + z_1/rho)/2 ~ Beta(a, a)``, ``a = (dim - 1)/2``, independent
    of rho, so ``P(z_1 <= y) = E[I_{(1 + y/rho)/2}(a, a)]``."""
    a = mp.mpf(dim - 1) / 2

    def cdf(y):
        if y == 0:
            return mp.mpf(1) / 2

        def h(g):
            v = min(max((1 + y / radius_of(g)) / 2, mp.mpf(0)), mp.mpf(1))
            return pdf(g) * mp.betainc(a, a, 0, v, regularized=True)

        return mp.quad(h, spread(abs(y)))

    return cdf


def exp2_marginal_cdf(lambd, exp_power, dim, k):
    """CDF of z_1 for Exp2 noise ``||z||_2^-k exp(-(||z||_2/lambda)^p)``: ``rho = lambda G^(1/p)``,
    ``G ~ Gamma((dim - k)/p)`` (:func:`spherical_marginal_cdf`)."""
    lam, pw, shape = mp.mpf(lambd), mp.mpf(exp_power), mp.mpf(dim - k) / mp.mpf(exp_power)

    def pdf(g):
        return mp.exp((shape - 1) * mp.log(g) - g - mp.loggamma(shape))

    def spread(ay):
        kink = (ay / lam) ** pw
        return [0, kink, kink + 4 * shape + 4, mp.inf]

    return spherical_marginal_cdf(lambda g: lam * g ** (1 / pw), pdf, spread, dim)


def pow2_marginal_cdf(lambd, exp_power, tail_excess, dim):
    """CDF of z_1 for Pow2 noise ``(1 + (||z||_2/lambda)^p)^-(d + m)``: ``rho = lambda V^(1/p)``,
    ``V ~ BetaPrime(d/p, d + m - d/p)`` (:func:`spherical_marginal_cdf`)."""
    lam, pw = mp.mpf(lambd), mp.mpf(exp_power)
    al = mp.mpf(dim) / pw
    be = mp.mpf(dim) + mp.mpf(tail_excess) - al
    log_beta = mp.log(mp.beta(al, be))

    def pdf(v):
        return mp.exp((al - 1) * mp.log(v) - (al + be) * mp.log1p(v) - log_beta)

    def spread(ay):
        kink = (ay / lam) ** pw
        return [0, kink, kink + al / be + 1, mp.inf]

    return spherical_marginal_cdf(lambda v: lam * v ** (1 / pw), pdf, spread, dim)


@registry.register("witness", "pow2", directions=_first_axis)
def pow2_witnesses(p, u, p_a, p_b):
    """``{z_i <= t}`` with the exact marginal of z_i (quadrature, :func:`pow2_marginal_cdf`): not a
    Neyman-Pearson set for this heavy-tailed law (soundness and a ratio only)."""
    lam = float(p["lambd"])
    i = int(np.argmax(np.abs(u)))
    cdf = pow2_marginal_cdf(lam, float(p["exp_power"]), float(p["tail_excess"]), int(p["dim"]))
    return [Witness(f"half-space {{z_{i} <= t}}", cdf, bisect_quantile(cdf, -lam, lam, iters=80),
                    abs(u[i]), p_a, p_b, neyman_pearson=False)]
