"""Statistics: class counts -> confidence bounds -> certified predictions.

Pure numpy/scipy/mpmath; imports no other part of smoothcert. ``certify_counts`` takes any object
with a ``.radius(p_a, p_b)`` method.
"""

from .certify import RULES, certify_counts, predict_counts
from .clopper_pearson import binomial_tail_mp, cp_lower, cp_lower_mp, cp_upper, cp_upper_mp
from .sequential import (
    Schedule,
    SequentialResult,
    certify_budget,
    certify_target,
    geometric_schedule,
    radius_threshold,
)

__all__ = [
    "RULES",
    "binomial_tail_mp",
    "certify_counts",
    "cp_lower",
    "cp_lower_mp",
    "cp_upper",
    "cp_upper_mp",
    "predict_counts",
    "Schedule",
    "SequentialResult",
    "certify_budget",
    "certify_target",
    "geometric_schedule",
    "radius_threshold",
]
