"""The verifier's checks of double-sampling smoothing (Li, Zhang, Xie & Li 2022, "Double Sampling
Randomized Smoothing", ICML; the ``dsrs-gaussian-ball`` family of :mod:`smoothcert.bounds.dsrs`).

The radius takes two bounds, ``p_a`` under P = N(0, sigma^2 I_d) and ``q_a`` under Q = P
conditioned on ``||z||_2 <= T``, ``T^2 = sigma^2 chi2_d^-1(ball_mass)``. Registered here:

* ``monte_carlo`` / ``second_sample``: numpy samplers of P and of Q (Q exactly: the squared
  radius by inverse CDF of the chi-square law truncated to ``[0, T^2]``, times a uniform
  direction). The Monte Carlo column then draws both count sets and bounds ``p_a`` and ``q_a``
  at half the level each (:mod:`.montecarlo`).
* ``instances``: :class:`AtQ` views that bind ``q_a = 0.999`` at d = 3 and 9, so that the twin
  sweep and the witnesses run where the Q constraint is active (at pA near 1 it is slack and
  the radius is Cohen's); the Monte Carlo column always uses the ``q_a`` its Q counts give.
* ``quadrature``: the twin at ``q_a > 0`` costs seconds per point, so the quick mode leaves the
  twin sweep to the full mode (tests/test_dsrs.py pins the radius at q_a > 0 on every run).
* ``witness``: Li et al.'s Neyman-Pearson set with two constraints (their Thm 3; the optimum is a
  threshold set of the likelihood ratios ``p_delta/p`` and ``q/p``): with x the coordinate along
  the shift, ``S = {x <= t1, ||z|| <= T} union {x <= t2, ||z|| > T}``, ``t2 <= t1``, with
  ``Q(S) = q_a`` and ``P(S) = p_a`` (``t2 = -inf`` when the Q constraint alone gives
  ``P(S) >= p_a``); where ``Phi(t1) <= p_a`` the Q constraint is slack and Cohen's half-space
  ``{x <= Phi^-1(p_a)}`` is the optimum. Thm 3 says S attains the minimum of ``P_delta(S)``, so
  the certificate is tight there: S must keep class A at ``R (1 - 1e-6)`` and flip at
  ``R (1 + 1e-6)``.

The witness's probabilities are computed here with code of their own: for odd d the chi-square
(d - 1) CDF of the other coordinates is a closed-form Poisson sum (the certificate evaluates the
incomplete gamma function and integrates numerically), so ``P_{r e_1}(S)`` is in closed form (a
series, :class:`Ball`); the ball's T is solved from ``ball_mass`` in mpmath, not read from the certificate. The views
therefore use odd dimensions (3 and 9).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import special

from . import registry
from .common import ISO_STD, Instance
from .montecarlo import sample_gaussian
from .witnesses import Witness, bracketed_root, gaussian_witnesses

#: The Q bound of the views the verifier checks besides q_a = 0.
Q_A = 0.999


class AtQ:
    """A ``dsrs-gaussian-l2`` certificate with ``q_a`` bound to a value: ``radius(p_a)`` is
    ``cert.radius(p_a, q_a=q_a)`` (an explicit ``q_a=`` keyword, from Q counts, wins). Its
    ``noise.params`` carry ``q_a`` for the witness entry; everything else is the certificate's."""

    isotropic_counterpart = None  # class facts the verifier reads from type(cert)
    scale_param = "sigma"

    def __init__(self, cert, q_a: float):
        self.cert, self.q_a = cert, float(q_a)

    def __getattr__(self, name):
        return getattr(self.cert, name)

    @property
    def noise(self):
        base = self.cert.noise
        return type(base)(base.family, {**base.params, "q_a": self.q_a})

    def radius(self, p_a, p_b=None, *, q_a=None):
        return self.cert.radius(p_a, p_b, q_a=self.q_a if q_a is None else q_a)

    def radius_mp(self, p_a, p_b=None, dps: int = 50, *, q_a=None):
        return self.cert.radius_mp(p_a, p_b, dps, q_a=self.q_a if q_a is None else q_a)

    def region(self, p_a, p_b=None):
        raise NotImplementedError(f"{self.cert.name} certifies a ball")

    def __repr__(self) -> str:
        return f"{self.cert!r} at q_a={self.q_a!r}"


@registry.register("instances", "dsrs-gaussian-ball")
def dsrs_instances(name, cls, base) -> list[Instance]:
    """The :class:`AtQ` views at ``q_a = Q_A`` for d = 3 and 9 (odd: the witness's closed form)."""
    return [Instance(name, f"d={d},q_a={Q_A:g}", AtQ(cls.from_std(ISO_STD, dim=d), Q_A))
            for d in (3, 9)]


@registry.register("quadrature", "dsrs-gaussian-ball")
def dsrs_quadrature(params) -> bool:
    """q_a > 0: the twin integrates (seconds per point)."""
    return float(params.get("q_a", 0.0)) > 0


# ------------------------------------------------------------------------------------------
# samplers (numpy)
registry.add("monte_carlo", "dsrs-gaussian-ball", sample_gaussian)


@registry.register("second_sample", "dsrs-gaussian-ball")
def sample_ball_q(p, d, n, rng):
    """Q: ``||z||^2 / sigma^2 = chi2_d^-1(U ball_mass)`` (inverse CDF of the chi-square law
    truncated to its ``ball_mass`` quantile), times a uniform direction."""
    r2 = 2.0 * special.gammaincinv(0.5 * d, rng.uniform(size=n) * float(p["ball_mass"]))
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True) * (float(p["sigma"]) * np.sqrt(r2))[:, None]


# ------------------------------------------------------------------------------------------
# the two-constraint Neyman-Pearson witness (mpmath)
class Ball:
    """P = N(0, I_d) and the ball ``||z|| <= T`` (sigma = 1) for odd d, T solved from
    ``ball_mass``, in closed form. Given z_1 = x the other coordinates have ``||z'||^2 ~
    chi2_(d-1)``, an even number of degrees of freedom, whose CDF is the Poisson sum
    ``G(x) = 1 - e^(-y/2) sum_(j < m) (y/2)^j / j!``, ``y = T^2 - x^2``, ``m = (d - 1)/2``. With
    ``phi(x - r) e^(-y/2) = e^(r x - (r^2 + T^2)/2) / sqrt(2 pi)`` and ``sum_j (y/2)^j / j! =
    sum_n c_n x^n`` (a polynomial), ``int_a^b phi(x - r) G(x) dx = Phi(b - r) - Phi(a - r) -
    e^(-(r^2 + T^2)/2) / sqrt(2 pi) sum_n c_n J_n`` with ``J_n = int_a^b x^n e^(r x) dx =
    sum_k r^k / k! (b^(n+k+1) - a^(n+k+1)) / (n + k + 1)`` (an entire series in r)."""

    def __init__(self, d: int, ball_mass: float):
        if d % 2 == 0:
            raise ValueError(f"the closed-form witness needs an odd dim, got {d}")
        m = (d - 1) // 2
        mass = mp.mpf(ball_mass)
        guess = mp.mpf(2 * float(special.gammaincinv(0.5 * d, ball_mass)))
        tau = mp.findroot(lambda t: mp.gammainc(mp.mpf(d) / 2, 0, t / 2, regularized=True) - mass, guess)
        self.T, self.mass = mp.sqrt(tau), mass
        # (T^2 - x^2)^j = sum_i binom(j, i) T^(2 (j - i)) (-x^2)^i
        self.c = {2 * i: mp.fsum(mp.binomial(j, i) * tau ** (j - i) * (-1) ** i / (2**j * mp.factorial(j))
                                 for j in range(i, m)) for i in range(m)}

    def inside(self, r, t):
        """``P_{r e_1}(z_1 <= t, ||z|| <= T) = int_-T^min(t, T) phi(x - r) G(x) dx``."""
        a, b = -self.T, min(t, self.T)
        if not b > a:
            return mp.mpf(0)
        with mp.extradps(20):
            r = mp.mpf(r)
            total, k, term = mp.mpf(0), 0, mp.mpf(1)  # term = r^k / k!
            scale = max(abs(a), abs(b))
            pw = {n: (b ** (n + 1), a ** (n + 1)) for n in self.c}  # (b^(n+k+1), a^(n+k+1))
            while True:
                total += term * mp.fsum(c * (pw[n][0] - pw[n][1]) / (n + k + 1) for n, c in self.c.items())
                # every later term is below this bound (terms may vanish: a = -b), and shrinks
                bound = abs(term) * mp.fsum(2 * abs(c) * scale ** (n + k + 1) for n, c in self.c.items())
                k += 1
                if k > abs(r) * scale and bound <= mp.eps * abs(total):
                    break
                term *= r / k
                pw = {n: (hi * b, lo * a) for n, (hi, lo) in pw.items()}
            value = mp.ncdf(b - r) - mp.ncdf(a - r) - mp.exp(-(r * r + self.T**2) / 2) / mp.sqrt(2 * mp.pi) * total
        return +value

    def prob(self, r, t1, t2):
        """``P_{r e_1}(S)``, ``S = {z_1 <= t1, ||z|| <= T} union {z_1 <= t2, ||z|| > T}``."""
        outside = mp.ncdf(t2 - r) - self.inside(r, t2) if t2 > mp.ninf else mp.mpf(0)
        return self.inside(r, t1) + outside


class BallWitness(Witness):
    """The classifier ``A = S`` (two thresholds, module docstring), B its complement."""

    def __init__(self, ball: Ball, t1, t2, shift, p_a):
        self.label = "Neyman-Pearson set {x<=t1 in ball} u {x<=t2 outside} (Li et al. Thm 3)"
        self.ball, self.t1, self.t2 = ball, t1, t2
        self.shift, self.p_a, self.p_b = mp.mpf(shift), mp.mpf(float(p_a)), None

    def probs(self, s):
        pa = self.ball.prob(mp.mpf(s) * self.shift, self.t1, self.t2)
        return pa, 1 - pa


def _first_axis(p, d, norm):
    """P and Q are isotropic: one direction is every direction."""
    return [np.eye(d)[0]]


@registry.register("witness", "dsrs-gaussian-ball", directions=_first_axis)
def dsrs_witnesses(p, u, p_a, p_b):
    """q_a = 0 (or the Q constraint slack): Cohen's half-space; else the set S with
    ``Q(S) = q_a`` and ``P(S) = p_a`` (thresholds by bracketed roots in the polar form)."""
    q_a = float(p.get("q_a", 0.0))
    d, sigma = len(u), float(p["sigma"])
    if q_a <= 0:
        return gaussian_witnesses(p, u, p_a, p_b)
    ball = Ball(d, float(p["ball_mass"]))
    t1 = bracketed_root(lambda t: ball.prob(0, t, mp.ninf) - q_a * ball.mass, -ball.T, ball.T)
    pa = mp.mpf(float(p_a))
    if mp.ncdf(t1) <= pa:
        return gaussian_witnesses(p, u, p_a, p_b)
    inside = ball.prob(0, t1, mp.ninf)
    t2 = mp.ninf if inside >= pa else bracketed_root(lambda t: ball.prob(0, t1, t) - pa, -40, t1)
    return [BallWitness(ball, t1, t2, math.sqrt(float(u @ u)) / sigma, p_a)]
