"""Shared pytest configuration: hypothesis profiles and the closed-form torch classifiers of the
sampler tests.

Hypothesis profiles (README "Tests"; docs/guide.md "Testing"):

* ``deterministic`` (the default, whatever ``CI`` says): derandomized, so every run on every
  machine draws the same examples and gives the same verdict; no example database and no
  deadline, so nothing depends on earlier runs or on the machine's speed.
* ``thorough`` (``SMOOTHCERT_HYPOTHESIS=thorough``): 10x the examples, randomized (a fresh seed
  per run, or ``--hypothesis-seed=N``), for hunting bugs; a failure prints its seed and a
  ``@reproduce_failure`` blob. Still no database and no deadline.

Hypothesis keeps a cache (source constants) under ``.hypothesis/`` in the current directory even
without a database; the suite points it at a temporary folder, so a run writes no ``.hypothesis/``.

Test modules cannot import each other under ``--import-mode=importlib``, so the toy models that
several of them need are handed out by fixtures. They are built on first use: test files that
never ask for them do not import torch.
"""

import functools
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

PROFILES = {
    "deterministic": dict(max_examples=60, derandomize=True),
    "thorough": dict(max_examples=600, derandomize=False, print_blob=True),
}
for _name, _extra in PROFILES.items():
    settings.register_profile(
        _name, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow], **_extra
    )
_PROFILE = os.environ.get("SMOOTHCERT_HYPOTHESIS", "deterministic")
if _PROFILE not in PROFILES:
    raise pytest.UsageError(
        f"SMOOTHCERT_HYPOTHESIS must be one of {sorted(PROFILES)}, got {_PROFILE!r}"
    )
settings.load_profile(_PROFILE)

_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="smoothcert-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def pytest_unconfigure(config):
    """Remove the temporary hypothesis folder (its source-constants cache)."""
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


@functools.cache
def _closed_form_models():
    """The classes ``(HalfSpace, Bands)``, defined once torch is imported."""
    import torch

    class HalfSpace(torch.nn.Module):
        """Two logits ``(0, w . x + b)``: class 1 iff ``w . x + b > 0``; any input shape.

        ``rows`` counts every row it has classified.
        """

        def __init__(self, w, b=0.0):
            super().__init__()
            self.w = torch.as_tensor(np.ravel(w), dtype=torch.float32)
            self.b = float(b)
            self.rows = 0

        def forward(self, x):
            self.rows += x.shape[0]
            s = x.flatten(1) @ self.w.to(x.dtype) + self.b
            return torch.stack([torch.zeros_like(s), s], dim=1)

    class Bands(torch.nn.Module):
        """Three classes by the first coordinate: < t1 -> 0, [t1, t2) -> 1, >= t2 -> 2."""

        def __init__(self, t1, t2):
            super().__init__()
            self.t1, self.t2 = t1, t2

        def forward(self, x):
            u = x.flatten(1)[:, 0]
            cls = (u >= self.t1).long() + (u >= self.t2).long()
            return torch.nn.functional.one_hot(cls, 3).float()

    return HalfSpace, Bands


@pytest.fixture(scope="session")
def half_space():
    """The class ``HalfSpace(w, b=0.0)``: a torch half-space classifier with two logits."""
    return _closed_form_models()[0]


@pytest.fixture(scope="session")
def bands():
    """The class ``Bands(t1, t2)``: a torch three-class classifier by the first coordinate."""
    return _closed_form_models()[1]
