"""Input validation shared by every public entry point (docs/contributing.md, Bad input).

Every checker raises ``ValueError`` (bad value) or ``TypeError`` (bad type) whose message names
the argument and shows the offending value, and returns a clean float64/int64 numpy array.
This module is pure numpy so that both ``estimators`` and ``bounds`` can use it.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import BadInput

#: Slack allowed on p_a + p_b <= 1 for rounding in the caller's own arithmetic (a few ulps).
SUM_SLACK = 8 * np.finfo(float).eps


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value)
    return f"array of shape {arr.shape}"


#: Where each directed rounding moves a float64 that lies on the wrong side of the exact input.
_TARGET = {"down": -np.inf, "up": np.inf}


def _element_to_float(name: str, x, value) -> float:
    """One element of an object array as the nearest float64 (+-inf past the largest double)."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got {_describe(value)}")
    try:
        return float(x)
    except OverflowError:  # a Python int or Fraction beyond the largest double
        return np.inf if x > 0 else -np.inf
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {_describe(value)}") from None


def _parse(name: str, value):
    """``(nearest float64 array, exact)``: ``exact`` is the input array where float64 may not hold
    it exactly (object arrays: Fraction, Decimal, mpmath.mpf, Python int; extended longdouble),
    else None. float16/float32/float64 and bool convert exactly."""
    if value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got None")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype == object:
        out = np.empty(arr.shape, dtype=np.float64)
        for i, x in np.ndenumerate(arr):
            out[i] = _element_to_float(name, x, value)
        return out, arr
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got {_describe(value)}") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got {_describe(value)}")
    if arr.dtype == np.longdouble and np.finfo(np.longdouble).nmant > 52:
        with np.errstate(over="ignore"):
            return arr.astype(np.float64), arr
    return arr.astype(np.float64, copy=False), None


def _wrong_side(exact: np.ndarray, f: np.ndarray, target: float) -> np.ndarray:
    """Where float64 ``f`` lies above (``target = -inf``) or below (``+inf``) the exact input,
    compared in the input's own type (Fraction, Decimal, mpf and longdouble compare exactly with a
    Python float); NaN entries are never wrong."""
    if exact.dtype != object:  # longdouble: numpy widens f exactly
        with np.errstate(invalid="ignore"):
            return (exact < f) if target < 0 else (exact > f)
    out = np.zeros(f.shape, dtype=bool)
    for i, x in np.ndenumerate(exact):
        g = float(f[i])
        if g == g:
            out[i] = bool(x < g) if target < 0 else bool(x > g)
    return out


def _round(f: np.ndarray, exact, rounding: str) -> np.ndarray:
    """``f`` moved by whole ulps toward ``_TARGET[rounding]`` until it is on the safe side of
    ``exact`` (one step for a correctly rounded or faithful conversion)."""
    if exact is None or rounding == "nearest":
        return f
    target = _TARGET[rounding]
    wrong = _wrong_side(exact, f, target)
    while wrong.any():
        f = np.where(wrong, np.nextafter(f, target), f)
        wrong = _wrong_side(exact, f, target)
    return f


def as_float_array(name: str, value, rounding: str = "nearest") -> np.ndarray:
    """Return ``value`` as a float64 array; ``TypeError`` for non-numeric input.

    ``rounding`` is ``"nearest"``, ``"down"`` (every result <= the exact input) or ``"up"`` (>=).
    Types that float64 may not hold exactly (``fractions.Fraction``, ``decimal.Decimal``,
    ``mpmath.mpf``, Python int, ``np.longdouble``, object arrays of them) are converted to the
    nearest double and then compared back with the input in its own type; a double on the wrong
    side moves one ulp (``nextafter``). float16/float32/float64 inputs convert exactly.
    """
    if rounding not in ("nearest", "down", "up"):
        raise ValueError(f"rounding must be 'nearest', 'down' or 'up', got {rounding!r}")
    f, exact = _parse(name, value)
    return _round(f, exact, rounding)


def check_finite(name: str, arr: np.ndarray, value) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must be finite, got {first!r} in {_describe(value)}")


def _holds_bool(value) -> bool:
    """Whether ``value`` is a bool (Python or numpy) or an array/list/tuple holding one (a list
    is read as an object array, so ``[0.5, True]`` is caught before numpy makes it 1.0)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value, dtype=object)
        except ValueError:  # ragged: _parse reports it
            return False
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return not {bool, np.bool_}.isdisjoint(map(type, value.flat))
        return value.dtype == bool
    return False


def _refuse_bool(name: str, value) -> None:
    """:class:`~.errors.BadInput` when ``value`` holds a boolean. ``bool`` is an ``int`` subclass
    and numpy converts it to 0.0 / 1.0, so ``p_a=True`` would silently be p_A = 1 (an infinite
    radius) and ``alpha=True`` the level 1: a probability or a level is never a truth value.
    Counts and other integers keep their own rule (:func:`check_int`, :func:`check_counts`)."""
    if _holds_bool(value):
        raise BadInput(f"{name} must be a number, not a boolean, got {_describe(value)}")


def check_probability(name: str, value, rounding: str = "nearest") -> np.ndarray:
    """A probability (or array of them) in [0, 1]; NaN and booleans are errors.

    The range is checked on the exact input (a Fraction just above 1 is refused even though its
    nearest double is 1.0): ``x >= 0`` iff its downward rounding is ``>= 0`` and ``x <= 1`` iff
    its upward rounding is ``<= 1`` (0 and 1 are doubles). ``rounding`` as in
    :func:`as_float_array`: a lower bound such as p_A goes ``"down"``, an upper bound ``"up"``.
    """
    _refuse_bool(name, value)
    f, exact = _parse(name, value)
    if np.isnan(f).any():
        raise ValueError(f"{name} must be a probability in [0, 1], got NaN in {_describe(value)}")
    lo, hi = _round(f, exact, "down"), _round(f, exact, "up")
    bad = (lo < 0) | (hi > 1)
    if bad.any():
        shown = (exact if exact is not None else f)[bad].flat[0]
        raise ValueError(f"{name} must be a probability in [0, 1], got {shown!r}")
    return {"down": lo, "up": hi}.get(rounding, f)


def check_probability_pair(p_a, p_b):
    """Validate (p_a, p_b) and broadcast them.

    ``p_a`` is rounded down and ``p_b`` up to float64 (the safe direction: every certified radius
    grows with p_a and shrinks with p_b), so a Fraction, Decimal, mpf or longdouble input never
    yields a radius above the exact one at the input. ``radius_mp`` reads the
    same rounded values.

    Returns ``(p_a, p_b, scalar)`` where ``p_b`` is ``None`` for the binary case and ``scalar`` is
    True when every input was a scalar. ``p_a + p_b > 1`` is impossible and raises.
    """
    pa = check_probability("p_a", p_a, "down")
    scalar = pa.ndim == 0
    if p_b is None:
        return pa, None, scalar
    pb = check_probability("p_b", p_b, "up")
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
    """A significance level strictly between 0 and 1, rounded down to float64 (a smaller level is
    the safe side); one that rounds down to 0 is refused, and so is a boolean."""
    _refuse_bool(name, alpha)
    f, exact = _parse(name, alpha)
    if f.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got {_describe(alpha)}")
    lo, hi = float(_round(f, exact, "down")), float(_round(f, exact, "up"))
    if not (0.0 < hi and lo < 1.0):
        raise ValueError(f"{name} must lie in (0, 1), got {alpha!r}")
    if lo == 0.0:
        raise ValueError(f"{name} must be at least the smallest positive double, got {alpha!r}")
    return lo


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


#: Counts are int64: every count (and, in ``certify``, every row sum) must stay below 2^63.
COUNT_LIMIT = 2**63


def _python_int_counts(name: str, arr: np.ndarray) -> np.ndarray:
    """An object array of Python ints (numpy makes one for ints past uint64) as int64, refusing
    values at or above :data:`COUNT_LIMIT` and non-integers."""
    for x in arr.flat:
        if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
            raise TypeError(f"{name} must be an array of non-negative integers, got {x!r}")
        if x < 0:
            raise ValueError(f"{name} must be non-negative, got {x!r}")
        if x >= COUNT_LIMIT:
            raise ValueError(f"{name} must be below 2^63 (int64), got {x!r}")
    return arr.astype(np.int64)


def check_counts(name: str, counts) -> np.ndarray:
    """Non-negative integer counts (any shape) as int64; floats must be whole numbers.

    Counts at or above 2^63 (uint64, Python int, float 1e300) do not fit int64 and raise.
    """
    if isinstance(counts, (str, bytes)) or counts is None:
        raise TypeError(f"{name} must be an array of non-negative integers, got {counts!r}")
    arr = np.asarray(counts)
    if arr.dtype == object and arr.size:
        return _python_int_counts(name, arr)
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
    big = arr >= COUNT_LIMIT  # exact for uint64; for floats 2^63 is a double
    if big.any():
        raise ValueError(f"{name} must be below 2^63 (int64), got {arr[big].flat[0]!r}")
    return arr.astype(np.int64)
