"""The verifier's checks of DSRS with the generalized Gaussian P (Li, Zhang, Xie & Li 2022, Sec. 5;
the ``dsrs-general-gaussian-ball`` family of :mod:`smoothcert.bounds.dsrs_general`).

P has density proportional to ``||z||^-2k exp(-||z||^2 / (2 sigma'^2))``, sigma' = sigma
sqrt(d / (d - 2k)); Q is P conditioned on ``||z|| <= T`` with ``P(||z|| <= T) = ball_mass``.

* ``monte_carlo`` / ``second_sample``: numpy samplers, ``||z||^2 / (2 sigma'^2) ~ Gamma(d/2 - k)``
  (for Q truncated to its ``ball_mass`` quantile by inverse CDF) times a uniform direction. The
  Monte Carlo column draws both count sets and checks the two-constraint radius at the ``q_a``
  the Q counts give (:mod:`.montecarlo`).
* ``witness``: at ``q_a = 0`` the radius is P's single-sample one, ``zhang-l2`` at exponent 2k and
  scale sigma' (Zhang et al. 2020's l2 family); its witness is that family's (a half-space with
  the exact marginal of z_1). The two-constraint radius is pinned in tests/test_dsrs.py against
  an independent solve.
* ``instances``: d = 3 with k = 0.5 (nu = d - 2k = 2); ``quadrature``: k > 0, the twin and the
  marginal CDF integrate over the radial law (full mode only for the twin, as ``zhang-l2``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from . import registry
from .common import ISO_STD, Instance
from .witnesses import zhang_l2_witnesses


def _half_dof_scale(p, d):
    """(Gamma shape d/2 - k of ||z||^2 / (2 sigma'^2), sigma')."""
    k = float(p["k"])
    return 0.5 * d - k, float(p["sigma"]) * math.sqrt(d / (d - 2.0 * k))


def _directions(d, n, rng):
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


@registry.register("monte_carlo", "dsrs-general-gaussian-ball")
def sample_general_p(p, d, n, rng):
    """P: ``||z|| = sigma' sqrt(2 G)``, G ~ Gamma(d/2 - k), times a uniform direction."""
    a, scale = _half_dof_scale(p, d)
    return _directions(d, n, rng) * (scale * np.sqrt(2.0 * rng.gamma(a, size=n)))[:, None]


@registry.register("second_sample", "dsrs-general-gaussian-ball")
def sample_general_q(p, d, n, rng):
    """Q: G = Gamma(d/2 - k)^-1(U ball_mass) (the Gamma law truncated to its ``ball_mass``
    quantile), ``||z|| = sigma' sqrt(2 G)``, times a uniform direction."""
    a, scale = _half_dof_scale(p, d)
    g = special.gammaincinv(a, rng.uniform(size=n) * float(p["ball_mass"]))
    return _directions(d, n, rng) * (scale * np.sqrt(2.0 * g))[:, None]


@registry.register("witness", "dsrs-general-gaussian-ball",
                   directions=lambda p, d, norm: [np.eye(d)[0]])
def general_witnesses(p, u, p_a, p_b):
    """zhang-l2's witness at exponent 2k and scale sigma' (the q_a = 0 radius is that family's)."""
    a, scale = _half_dof_scale(p, len(u))
    return zhang_l2_witnesses({"sigma": scale, "k": 2.0 * float(p["k"]), "dim": len(u)},
                              u, p_a, p_b)


@registry.register("instances", "dsrs-general-gaussian-ball")
def general_instances(name, cls, base) -> list[Instance]:
    """d = 3 at k = 0.5 (the default k = 0 is ``dsrs-gaussian-l2``'s instance)."""
    return [Instance(name, "d=3,k=0.5", cls.from_std(ISO_STD, dim=3, k=0.5))]


@registry.register("quadrature", "dsrs-general-gaussian-ball")
def general_quadrature(params) -> bool:
    """k > 0: the twin and the witness's marginal CDF integrate over the radial law."""
    return float(params["k"]) > 0
