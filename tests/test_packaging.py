"""The core install: ``import smoothcert`` and ``smoothcert list`` / ``smoothcert radius`` need
only the declared dependencies (numpy, scipy, mpmath; pyproject.toml ``dependencies``).

Proved without a network: a fresh Python in which every optional package (the extras ``torch``,
``plot`` and ``test``) is blocked -- ``sys.modules[name] = None`` makes ``import name`` and
``from name import x`` raise ImportError -- imports the package and runs both commands. .ci/run
also runs them in a second virtual environment holding only the three dependencies.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

OPTIONAL = ("torch", "torchvision", "tqdm", "matplotlib", "sympy", "hypothesis", "pytest")

_SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
import smoothcert
from smoothcert.cli import main
rc = main({argv!r})
heavy = sorted(m for m in {blocked!r} if sys.modules.get(m) is not None)
print("LOADED", heavy)
sys.exit(rc)
"""


def _core_run(argv, blocked=OPTIONAL):
    code = _SCRIPT.format(blocked=list(blocked), argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["list"], "cohen-gaussian-l2"),
        (["radius", "--pa", "0.9", "--sigma", "0.5"], "cohen-gaussian-l2"),
    ],
)
def test_core_commands_run_with_numpy_scipy_mpmath_only(argv, expect):
    done = _core_run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert expect in done.stdout
    assert "LOADED []" in done.stdout


def test_blocking_is_effective():
    # The harness itself: a blocked package really cannot be imported in the child.
    code = ("import sys; sys.modules['tqdm'] = None\n"
            "try:\n    import tqdm\nexcept ImportError:\n    print('blocked')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "blocked"


def test_sequential_estimators_run_without_tqdm_unless_progress_is_asked():
    # estimators/sequential.py imported tqdm at module level; it is needed only for progress=True.
    code = """
import sys
sys.modules["tqdm"] = None
import numpy as np
import smoothcert as sc
from smoothcert.estimators.sequential import certify_budget
rng = np.random.default_rng(0)
def draw(index, m):
    top = rng.binomial(m, 0.99, size=len(index))
    return np.stack([top, m - top], axis=1)
res = certify_budget(draw, 3, sc.get("cohen-gaussian-l2", sigma=0.5), tol=0.05, n_max=2000)
print("ok", res.radius.shape)
try:
    certify_budget(draw, 1, sc.get("cohen-gaussian-l2", sigma=0.5), tol=0.05, n_max=2000,
                   progress=True)
except ImportError as exc:
    print("progress:", exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok (3,)" in done.stdout
    assert "progress: progress=True needs tqdm" in done.stdout


def test_the_suite_runs_hypothesis_deterministically():
    # tests/conftest.py: derandomized whatever CI says (the old profile was derandomized only when
    # CI=true, so a user's run drew fresh examples), no database, no deadline; the thorough
    # profile is the documented randomized one.
    from hypothesis import settings

    profile = os.environ.get("SMOOTHCERT_HYPOTHESIS", "deterministic")
    assert settings.get_current_profile_name() == profile
    assert settings.default.database is None and settings.default.deadline is None
    assert settings.default.derandomize is (profile == "deterministic")
    for name in ("deterministic", "thorough"):
        assert settings.get_profile(name).database is None
    assert settings.get_profile("thorough").max_examples == 10 * settings.get_profile(
        "deterministic").max_examples
