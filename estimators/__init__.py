"""Statistics: class counts -> confidence bounds -> certified predictions.

Pure numpy/scipy/mpmath; imports no other part of smoothcert. ``certify_counts`` takes any object
with a ``.radius(p_a, p_b)`` method.
"""

from .certify import certify_counts
