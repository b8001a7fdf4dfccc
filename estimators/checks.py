"""Input validation shared by every public entry point (DESIGN section 6).

Every checker raises ``ValueError`` (bad value) or ``TypeError`` (bad type) whose message names
the argument and shows the offending value, and returns a clean float64/int64 numpy array.
This module is pure numpy so that both ``estimators`` and ``bounds`` can use it.
"""

from __future__ import annotations

import numbers

import numpy as np

#: Slack allowed on p_a + p_b <= 1 for rounding in the caller's own arithmetic (a few ulps).
SUM_SLACK = 8 * np.finfo(float).eps


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value)
    return f"array of shape {arr.shape}"


def as_float_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array; ``TypeError`` for non-numeric input."""
    if value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got None")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got {_describe(value)}") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got {_describe(value)}")
    return arr.astype(np.float64, copy=False)


def check_finite(name: str, arr: np.ndarray, value) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must be finite, got {first!r} in {_describe(value)}")


def check_probability(name: str, value) -> np.ndarray:
    """A probability (or array of them) in [0, 1]; NaN is an error."""
    arr = as_float_array(name, value)
    if np.isnan(arr).any():
        raise ValueError(f"{name} must be a probability in [0, 1], got NaN in {_describe(value)}")
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        raise ValueError(f"{name} must be a probability in [0, 1], got {arr[bad].flat[0]!r}")
    return arr


def check_probability_pair(p_a, p_b):
    """Validate (p_a, p_b) and broadcast them.

    Returns ``(p_a, p_b, scalar)`` where ``p_b`` is ``None`` for the binary case and ``scalar`` is
    True when every input was a scalar. ``p_a + p_b > 1`` is impossible and raises.
    """
    pa = check_probability("p_a", p_a)
    scalar = pa.ndim == 0
    if p_b is None:
        return pa, None, scalar
    pb = check_probability("p_b", p_b)
    scalar = scalar and pb.ndim == 0
    try:
        pa, pb = np.broadcast_arrays(pa, pb)
    except ValueError:
        raise ValueError(
            f"p_a and p_b must have broadcastable shapes, got {pa.shape} and {pb.shape}"
        ) from None
    over = pa + pb > 1 + SUM_SLACK
    if over.any():
        i = np.flatnonzero(over.ravel())[0]
        raise ValueError(
            "p_a + p_b must be <= 1 (they bound two different classes), got "
            f"p_a={pa.ravel()[i]!r}, p_b={pb.ravel()[i]!r}"
        )
    return pa, pb, scalar


def check_positive(name: str, value, allow_array: bool = True) -> np.ndarray:
    """A strictly positive finite scale (scalar or, if allowed, an array of them)."""
    arr = as_float_array(name, value)
    if not allow_array and arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got {_describe(value)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    check_finite(name, arr, value)
    bad = arr <= 0
    if bad.any():
        raise ValueError(f"{name} must be > 0, got {arr[bad].flat[0]!r}")
    return arr


def check_alpha(alpha, name: str = "alpha") -> float:
    """A significance level strictly between 0 and 1."""
    arr = as_float_array(name, alpha)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got {_describe(alpha)}")
    a = float(arr)
    if not (0.0 < a < 1.0):
        raise ValueError(f"{name} must lie in (0, 1), got {alpha!r}")
    return a


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """A Python integer (bools and floats with fractions are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_counts(name: str, counts) -> np.ndarray:
    """Non-negative integer counts (any shape) as int64; floats must be whole numbers."""
    if isinstance(counts, (str, bytes)) or counts is None:
        raise TypeError(f"{name} must be an array of non-negative integers, got {counts!r}")
    arr = np.asarray(counts)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be an array of non-negative integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite integers, got a non-finite value")
        if (arr != np.round(arr)).any():
            bad = arr[arr != np.round(arr)].flat[0]
            raise ValueError(f"{name} must be whole numbers, got {bad!r}")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative, got {arr[arr < 0].flat[0]!r}")
    return arr.astype(np.int64)
