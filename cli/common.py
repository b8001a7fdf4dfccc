"""Shared pieces of the command line: exit codes, the help formatter, option parsers and the
boundary checks that turn a bad option value into :class:`~smoothcert.core.errors.BadInput`
(exit 2, one line) before any work starts (docs/contributing.md, Bad input)."""

from __future__ import annotations

import argparse
import math

from ..core.errors import BadInput

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def floats(text: str):
    """A float or a comma-separated list of floats (per-coordinate parameters)."""
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers, got {text!r}")
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals[0] if len(vals) == 1 else vals



# ---------------------------------------------------------------------------------------------
# Input validation at the boundary: every bad option value raises BadInput (exit 2), before any
# work starts; an exception of any other type below is a bug and keeps its traceback (exit 1).
def require(ok: bool, flag: str, value, need: str) -> None:
    if not ok:
        raise BadInput(f"{flag} must be {need}, got {value!r}")


def check_positive(flag: str, value) -> None:
    """None (not given), or a finite number > 0, or a list of them."""
    for v in ([] if value is None else value if isinstance(value, list) else [value]):
        require(math.isfinite(v) and v > 0, flag, v, "finite and > 0")


def check_int(flag: str, value, minimum: int) -> None:
    """None (not given) or an integer >= minimum."""
    if value is not None:
        require(value >= minimum, flag, value, f"an integer >= {minimum}")


def check_unit(flag: str, value) -> None:
    """None (not given) or a probability strictly between 0 and 1."""
    if value is not None:
        require(0 < value < 1, flag, value, "in (0, 1)")


def user_value(flag: str, build, *args, **kwargs):
    """``build(*args, **kwargs)`` on values the user gave; the library's ValueError refusing them
    becomes BadInput naming ``flag``. Only for calls whose inputs are all user-given."""
    try:
        return build(*args, **kwargs)
    except BadInput:
        raise
    except ValueError as exc:
        raise BadInput(f"{flag}: {exc}") from exc

