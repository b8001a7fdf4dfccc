"""Bounded bracketing and bisection on monotone conditions: the one root helper of the package.

Every search in smoothcert for a certified radius, a dual point, a quantile or a boundary has the
same shape: a condition ``ok(f(x))`` that holds on one side of an unknown threshold and fails on
the other (``f`` monotone, or at least its test monotone along the search). Three steps:

* :func:`expand` walks trial points (:func:`walk`: a step that grows geometrically, optionally
  clipped to a limit) until the condition fails, which brackets the threshold;
* :func:`bisect` halves a bracket until a tolerance is met or its midpoint is one of its ends;
* :func:`illinois` narrows a bracket by regula falsi with the Illinois modification (Dowell &
  Jarratt 1971), falling back to bisection when it progresses slowly.

Every helper is bounded: :func:`expand` and :func:`bisect` raise :class:`RootSearchError` after
``max_steps`` evaluations (a condition that never fails, a NaN, a tolerance below the float
spacing: a clear error instead of an endless loop); :func:`illinois` returns its current bracket
when its steps are spent.

Soundness. Each helper returns a :class:`Bracket` whose ``inside`` end is a point where the
condition was *evaluated and held* (or the caller's own start). A certified quantity must be read
from the side where the certification test held -- ``inside`` when the condition is "certified",
``outside`` when the condition is "not yet certified" -- never from a midpoint that was not tested.
Works on floats, integers (pass ``midpoint=lambda a, b: (a + b) // 2``) and mpmath numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable

#: Default step budget: a geometric walk with factor >= 2, or a bisection of float64 values,
#: crosses the whole float range (2^-1074 .. 2^1024) in under 2100 steps.
MAX_STEPS = 2100


class RootSearchError(ArithmeticError):
    """A bracket search or bisection that did not finish within its step budget."""


@dataclass(frozen=True)
class Bracket:
    """``inside``: the last point where the condition held (None if none did and no start was
    given); ``outside``: the first point where it failed (None if the walk ended, at its limit,
    with the condition still holding). ``f_inside``/``f_outside``: ``f`` at those points."""

    inside: Any
    outside: Any
    f_inside: Any = None
    f_outside: Any = None


def _identity(value):
    return value


def walk(start, step, factor=2, limit=None):
    """Trial points ``start + step``, then each one ``step * factor**i`` further (``factor`` >= 1;
    ``walk(x, x, 2)`` doubles x). With ``limit`` the points are clipped to it and the walk ends
    after yielding ``limit`` (a finite walk, provided the steps reach it). The walk itself is
    endless without a limit: its consumer (:func:`expand`) bounds it."""
    up = step > 0
    x = start
    for _ in itertools.count():
        x = x + step
        if limit is not None and (x >= limit if up else x <= limit):
            yield limit
            return
        yield x
        step = step * factor


def expand(f: Callable, points: Iterable, ok: Callable = bool, inside=None, f_inside=None,
           max_steps: int = MAX_STEPS) -> Bracket:
    """Evaluate ``f`` at ``points`` in order until ``ok(f(x))`` fails.

    ``inside``/``f_inside`` is a start where the condition is known to hold (not re-evaluated).
    Returns ``Bracket(last holding point, first failing point, ...)``; ``outside`` is None when
    ``points`` ran out first. Raises :class:`RootSearchError` when the condition still holds after
    ``max_steps`` evaluations (for instance a condition that never fails on an endless walk).
    """
    it = iter(points)
    for _ in range(max_steps):
        x = next(it, _END)
        if x is _END:
            return Bracket(inside, None, f_inside, None)
        fx = f(x)
        if not ok(fx):
            return Bracket(inside, x, f_inside, fx)
        inside, f_inside = x, fx
    raise RootSearchError(f"no bracket within {max_steps} steps: the condition still holds at "
                          f"{inside!r}")


_END = object()


def bisect(f: Callable, inside, outside, ok: Callable = bool, f_inside=None, f_outside=None,
           close_enough: Callable | None = None, midpoint: Callable | None = None,
           max_steps: int = MAX_STEPS) -> Bracket:
    """Halve the bracket (condition holds at ``inside``, fails at ``outside``; either order) until
    ``close_enough(inside, outside)`` or until the midpoint equals one of the ends (floats: the
    ends are adjacent; integers: they differ by one). Raises :class:`RootSearchError` after
    ``max_steps`` halvings."""
    mid = midpoint or (lambda a, b: (a + b) / 2)
    for _ in range(max_steps):
        if close_enough is not None and close_enough(inside, outside):
            return Bracket(inside, outside, f_inside, f_outside)
        m = mid(inside, outside)
        if m == inside or m == outside or m != m:
            return Bracket(inside, outside, f_inside, f_outside)
        fm = f(m)
        if ok(fm):
            inside, f_inside = m, fm
        else:
            outside, f_outside = m, fm
    raise RootSearchError(f"bisection did not close the bracket [{inside!r}, {outside!r}] in "
                          f"{max_steps} steps")


def illinois(f: Callable, inside, outside, f_inside, f_outside, tol, value: Callable = _identity,
             ok: Callable | None = None, max_steps: int = 200) -> Bracket:
    """Narrow a bracket to width ``tol`` (a number, or ``tol(inside, outside)``) by regula falsi
    with the Illinois modification.

    ``value(f(x))`` is the signed quantity whose sign changes across the bracket (held:
    ``ok(f(x))``, default ``value(f(x)) >= 0``). A step falls back to bisection when the
    interpolated point leaves the bracket or the bracket did not halve in three steps; points
    closer than ``tol / 100`` to an end are moved to that distance. Returns the bracket when its
    width is <= ``tol`` or when ``max_steps`` evaluations are spent (its ``inside`` end is then
    still a point where the condition held: sound, only less tight).
    """
    held = ok or (lambda fx: value(fx) >= 0)
    width_tol = tol if callable(tol) else (lambda a, b: tol)
    vin, vout = value(f_inside), value(f_outside)
    side, widths = 0, [abs(outside - inside)] * 3
    for _ in range(max_steps):
        width, tol_now = abs(outside - inside), width_tol(inside, outside)
        if width <= tol_now:
            break
        x = outside - vout * (outside - inside) / (vout - vin) if vout != vin else None
        lo, hi = min(inside, outside), max(inside, outside)
        if x is None or not (lo < x < hi) or width > 0.5 * widths[-3]:  # slow progress: bisect
            x = 0.5 * (inside + outside)
        widths.append(width)
        if width > 0.02 * tol_now:
            x = min(max(x, lo + 0.01 * tol_now), hi - 0.01 * tol_now)
        fx = f(x)
        vx = value(fx)
        if held(fx):
            inside, f_inside, vin = x, fx, vx
            if side == -1:
                vout *= 0.5
            side = -1
        else:
            outside, f_outside, vout = x, fx, vx
            if side == 1:
                vin *= 0.5
            side = 1
    return Bracket(inside, outside, f_inside, f_outside)


__all__ = ["MAX_STEPS", "Bracket", "RootSearchError", "bisect", "expand", "illinois", "walk"]
