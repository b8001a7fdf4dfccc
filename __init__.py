"""smoothcert: randomized-smoothing certificates as sound, tested objects.

Quick use::

    import smoothcert as sc
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    cert.radius(0.99)                      # binary: p_b = 1 - p_a
    sc.certify_counts(counts, cert)        # counts -> (prediction, radius); -1 abstains

See ``docs/`` for the theorem catalog and the user guide.
"""

from .bounds import (
    Certificate,
    Noise,
    Region,
    WeightedLpBall,
    certificate_class,
    certificates,
    get,
    lp_ball,
)
from .estimators import certify_counts, predict_counts

__version__ = "0.1.0"

__all__ = [
    "Certificate",
    "Noise",
    "Region",
    "WeightedLpBall",
    "certificate_class",
    "certificates",
    "certify_counts",
    "predict_counts",
    "get",
    "lp_ball",
]
