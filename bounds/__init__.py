"""The theorems: one certificate object per theorem, certified regions, and the registry.

Importing this package registers every certificate family (one module per family).
"""

from .base import Certificate, GapCertificate, Noise
from .registry import certificate_class, certificates, get, register
from .regions import Region, WeightedLpBall, lp_ball

# Family modules register their certificates on import (keep this list in sync with the files).
from . import functional, gaussian, laplace, uniform  # noqa: E402,F401
from . import topk  # noqa: E402,F401
from . import dsrs, dsrs_general  # noqa: E402,F401
from . import norms, uniform_ball  # noqa: E402,F401
from . import exp2, exp_inf, pow2  # noqa: E402,F401
from . import pareto  # noqa: E402,F401
from . import exp1, expp  # noqa: E402,F401
from . import grid  # noqa: E402,F401

__all__ = [
    "Certificate",
    "GapCertificate",
    "Noise",
    "Region",
    "WeightedLpBall",
    "lp_ball",
    "certificate_class",
    "certificates",
    "get",
    "register",
]
