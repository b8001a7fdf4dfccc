"""Directed rounding helpers: turn float64 results into provable lower (or upper) bounds.

IEEE-754 double arithmetic rounds each elementary operation to nearest, so a result built from
m operations carries a relative error of at most about m * EPS/2 plus the documented error of each
special function used (scipy's ``ndtri``, ``log``, ``log1p`` are accurate to a few ulps). We bound
every certificate's total error by an explicit budget and move the result by that budget towards
zero. The budgets below are generous (tens to hundreds of ulps) and are checked against the mpmath
twins over whole parameter ranges in the tests.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)  # 2**-52
TINY = float(np.finfo(np.float64).tiny)
MAX = float(np.finfo(np.float64).max)  # returned where an exact radius exceeds every double

#: Relative error budget (in units of EPS) for a handful of elementary operations plus one
#: special function evaluation. 64 ulps is ~1.4e-14: far above the few-ulp errors actually made,
#: far below the 1e-12 twin-agreement tolerance.
DEFAULT_ULPS = 64


def shrink(x, ulps: int = DEFAULT_ULPS):
    """Move non-negative ``x`` down by a relative ``ulps * EPS`` (never below 0; inf stays inf)."""
    x = np.asarray(x, dtype=np.float64)
    out = x * (1.0 - ulps * EPS)
    out = np.nextafter(out, 0.0)  # the product itself rounded: one more ulp towards zero
    out = np.where(np.isinf(x), x, out)
    return np.maximum(out, 0.0)


def grow(x, ulps: int = DEFAULT_ULPS):
    """Move non-negative ``x`` up by a relative ``ulps * EPS`` plus one ulp (inf stays inf)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.nextafter(x * (1.0 + ulps * EPS), np.inf)
    return np.where(np.isinf(x), x, out)


def sound_difference(a, b, ulps: int = DEFAULT_ULPS):
    """A provable lower bound on ``a - b`` when ``a`` and ``b`` each carry relative error ``ulps*EPS``.

    The absolute error of the computed difference is at most ``ulps * EPS * (|a| + |b|)`` (each
    operand's error) plus half an ulp of the result; cancellation makes a purely relative margin
    unsound, so the margin is taken on the operands' magnitudes. Infinite operands pass through
    (``inf - finite = inf``).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = a - b
        margin = ulps * EPS * (np.abs(a) + np.abs(b))
        out = np.where(np.isfinite(diff), np.nextafter(diff - margin, -np.inf), diff)
    return out


def as_output(x, scalar: bool):
    """Return a Python float for scalar inputs, a float64 array otherwise."""
    arr = np.asarray(x, dtype=np.float64)
    if scalar:
        return float(arr.reshape(-1)[0]) if arr.size else float("nan")
    return arr
