"""Shared pytest configuration: hypothesis profiles (CI runs the same budget as local) and the
closed-form torch classifiers of the sampler tests.

Test modules cannot import each other under ``--import-mode=importlib``, so the toy models that
several of them need are handed out by fixtures. They are built on first use: test files that
never ask for them do not import torch.
"""

import functools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("SMOOTHCERT_HYPOTHESIS", "default"))


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
