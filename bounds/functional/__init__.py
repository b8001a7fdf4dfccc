"""Functional-optimization certificates of Zhang, Yu, Zhang, Weng, Liu & Hsieh 2020 ("Black-box
certification with randomized smoothing: a functional optimization based framework", NeurIPS 2020).

One module per job:

* :mod:`.engine` -- the dual bound L(p, r) = max_lambda {lambda p - D(lambda)} (their Eq. 4-6)
  from the CDF of Lambda = log(pi_delta / pi0) with sound error bounds, and the certified radius;
* :mod:`.radial` -- the radial laws of ||z|| (Gamma-type, BetaPrime) and the nested tanh-sinh quadrature;
* :mod:`.solve` -- Newton-Broyden solve of the Neyman-Pearson boundary equations (fast path);
* :mod:`.twin` -- the mpmath twin (``radius_mp``);
* :mod:`.table` -- :class:`RadiusTable`, the sound lookup table p_a -> radius, and its file I/O;
* :mod:`.zhang` -- the ``zhang-l2`` / ``zhang-l1`` noise families and theorems (Thm 2);
* :mod:`.spherical` -- the same l2 engine for Yang et al.'s Exp2 (any exponent) and Pow2 laws;
* :mod:`.linf` -- the ``zhang-linf`` family and theorem (Eq. 13, Thm 3, Monte Carlo with DKW).

Importing this package registers the three families and their certificates.
"""

from .engine import DEFAULT_DIM, FunctionalCertificate, check_k_dim, check_radius
from .linf import ZhangLinf, ZhangLinfFamily, coordinate_std
from .table import RadiusTable
from .zhang import ZhangL1, ZhangL1Family, ZhangL2, ZhangL2Family

__all__ = [
    "DEFAULT_DIM",
    "FunctionalCertificate",
    "RadiusTable",
    "ZhangL1",
    "ZhangL1Family",
    "ZhangL2",
    "ZhangL2Family",
    "ZhangLinf",
    "ZhangLinfFamily",
    "check_k_dim",
    "check_radius",
    "coordinate_std",
]
