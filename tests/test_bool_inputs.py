"""Booleans are refused as probabilities and significance levels (core/checks.py).

``bool`` is an ``int`` subclass and numpy turns ``True`` into 1.0, so ``radius(p_a=True)`` used to
return an infinite radius and ``certify_counts(..., alpha=True)`` ran at level 1. Every
probability and alpha entry now raises a one-line :class:`BadInput` naming the argument; integer
paths (counts, ``n``, ``k``) are unchanged: a NumPy or Python int still works there, a bool still
raises the TypeError it raised before.
"""

from __future__ import annotations

import numpy as np
import pytest

import smoothcert as sc
from smoothcert.bounds import certificate_class
from smoothcert.core.checks import check_counts, check_int
from smoothcert.core.errors import BadInput
from smoothcert.estimators.certify import certify_counts
from smoothcert.estimators.clopper_pearson import cp_lower, cp_upper
from smoothcert.estimators.hoeffding import hoeffding_epsilon

NAMES = sc.certificates()
MULTICLASS = [n for n in NAMES if not certificate_class(n).binary_only]
BOOLS = [True, False, np.True_, np.array([True, False]), [0.9, True], (np.False_,),
         np.array([0.9, True], dtype=object)]


def one_line_bad_input(excinfo, name):
    assert isinstance(excinfo.value, BadInput)
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(f"{name} must be a number, not a boolean")


def make(name):
    return certificate_class(name).from_std(0.5, dim=4)


@pytest.mark.parametrize("name", NAMES)
def test_every_certificate_refuses_a_boolean_p_a(name):
    cert = make(name)
    for value in BOOLS:
        with pytest.raises(BadInput) as excinfo:
            cert.radius(value)
        one_line_bad_input(excinfo, "p_a")
    with pytest.raises(BadInput) as excinfo:
        cert.radius_mp(True)
    one_line_bad_input(excinfo, "p_a")


@pytest.mark.parametrize("name", MULTICLASS)
def test_every_multiclass_certificate_refuses_a_boolean_p_b(name):
    with pytest.raises(BadInput) as excinfo:
        make(name).radius(0.9, np.False_)
    one_line_bad_input(excinfo, "p_b")


@pytest.mark.parametrize("call", [
    lambda a: certify_counts(np.array([90, 10]), sc.get("cohen-gaussian-l2", sigma=0.5), alpha=a),
    lambda a: cp_lower(90, 100, alpha=a),
    lambda a: cp_upper(10, 100, alpha=a),
    lambda a: hoeffding_epsilon(100, a),
])
@pytest.mark.parametrize("value", [True, np.True_, False])
def test_alpha_entries_refuse_booleans(call, value):
    with pytest.raises(BadInput) as excinfo:
        call(value)
    one_line_bad_input(excinfo, "alpha")


def test_integer_paths_unchanged():
    """Counts and integers: ints of every kind pass, bools keep their TypeError."""
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    for counts in ([990, 10], np.array([990, 10], dtype=np.int32), np.array([990, 10], dtype=np.uint64)):
        pred, radius = certify_counts(counts, cert, alpha=0.001)
        assert pred == 0 and radius > 0
    assert cp_lower(np.int64(90), 100, alpha=0.001) == cp_lower(90, 100, alpha=0.001)
    assert check_int("n", np.int16(7)) == 7
    with pytest.raises(TypeError, match="n must be an integer"):
        check_int("n", True)
    with pytest.raises(TypeError, match="counts"):
        check_counts("counts", np.array([True, False]))
    # exact non-float probabilities still pass (a Fraction is not a bool)
    from fractions import Fraction
    assert 0 < cert.radius(Fraction(9, 10)) <= cert.radius(0.9)  # rounded down, not refused
