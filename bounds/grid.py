"""Gaussian noise rounded to the input grid: sound randomized smoothing for quantized inputs.

Voracek & Hein, "Sound Randomized Smoothing in Floating-Point Arithmetic" (ICLR 2023), Sec. 2-3:
float noise added to a float input is rounded and is itself drawn from a finite set, so the law
the classifier sees is not the Gaussian the certificate assumes, and a classifier can tell the
noisy copies of one input from those of its neighbours (tests/test_sound_fp.py builds one). Their
remedy for inputs quantized to ``levels`` steps (8-bit images: ``x in {0, 1/255, ..., 1}``): draw
the noise on the same grid, so that every noisy input ``x + e`` is exact.

The family ``gaussian-grid`` (``sigma``, ``levels``): ``e = round(levels * sigma * G) / levels``,
``G ~ N(0, I)``, i.e. ``P(levels e_i = k) = Phi((k + 1/2) / s) - Phi((k - 1/2) / s)`` with
``s = levels sigma``. The torch sampler (:mod:`smoothcert.gpu_sampler.lattice`) works in integer
units ``levels x`` (exact in float32 below 2^24) and draws ``k`` exactly from fair random bits.

Theorem (the certificate ``gaussian-grid-l2``; Voracek & Hein Sec. 3, from Cohen et al. 2019
Thm. 1). Let ``x`` and ``x'`` lie on the grid (``levels x`` and ``levels x'`` integer) and
``F(y) = f(round(levels y) / levels)``. For grid ``x``, ``round(levels (x + sigma G)) =
levels x + round(levels sigma G)``, so the grid-smoothed classifier at ``x`` equals the
Gaussian-smoothed ``F`` at ``x``. Cohen's Theorem 1 applied to ``F`` certifies every ``x'`` with
``||x' - x||_2 < sigma/2 (Phi^-1(pA) - Phi^-1(pB))``; at grid ``x'`` the Gaussian-smoothed ``F``
is again the grid-smoothed ``f``. So the radius is Cohen's, and it holds for grid points ``x'``
(the threat model of 8-bit images), with ``pA``, ``pB`` bounds of the grid law that the sampler
draws exactly. The float path and twin are :func:`~.gaussian.gaussian_gap` and its mpmath twin.

Std: ``std_formula`` is ``sigma``, the scale of the Gaussian before rounding; the rounded law's
variance is ``sigma^2 + 1/(12 levels^2)`` up to terms of order ``exp(-2 pi^2 s^2)`` (Sheppard's
correction), below 6e-6 relative for ``sigma >= 0.25`` and ``levels = 255``.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_int, check_positive
from .family import NoiseFamily, Param, positive_scalar, register_family
from .gaussian import CohenGaussianL2
from .registry import register

#: Largest noisy value in integer units that float32 holds exactly (every integer up to 2^24).
FLOAT32_EXACT = 2**24


def grid_levels(name: str, value) -> int:
    """Grid steps per unit: an integer in [1, 2^16] (8-bit images: 255)."""
    return check_int(name, value, minimum=1, maximum=2**16)


@register_family
class GaussianGrid(NoiseFamily):
    """Gaussian noise rounded to the grid ``Z / levels`` (Voracek & Hein, ICLR 2023): on quantized
    inputs every noisy input is exact. std = sigma before rounding (Sheppard's correction
    ``1/(12 levels^2)`` in quadrature after; see the module docstring)."""

    name = "gaussian-grid"
    params = (Param("sigma", "reals", positive_scalar,
                    "standard deviation of the Gaussian before it is rounded to the input grid"),
              Param("levels", "int", grid_levels,
                    "grid steps per unit: inputs and noise are multiples of 1/levels (8-bit: 255)",
                    default=255))
    scale_param = "sigma"
    law = "round(levels * N(0, sigma^2 I)) / levels: P(levels z_i = k) = Phi((k+1/2)/s) - Phi((k-1/2)/s), s = levels sigma"
    std_formula = "sigma (before rounding; + 1/(12 levels^2) in quadrature after)"

    @classmethod
    def unit_std(cls, params):
        return 1.0


@register
class GaussianGridL2(CohenGaussianL2):
    """Voracek & Hein (ICLR 2023) Sec. 3 with Cohen et al. 2019 Thm. 1: Gaussian noise rounded to
    the input grid; for grid inputs ``x'`` the certified l2 radius is Cohen's,
    ``R = sigma/2 (Phi^-1(pA) - Phi^-1(pB))`` (binary ``sigma Phi^-1(pA)``), proof in the module
    docstring. The points certified are the grid points in that ball (quantized inputs).
    Not flagged tight: Cohen's half-space witness is not a function of the grid point alone.
    """

    name = "gaussian-grid-l2"
    family = "gaussian-grid"
    tight = False
    citation = ("Voracek & Hein, Sound Randomized Smoothing in Floating-Point Arithmetic (ICLR 2023), "
                "Sec. 3; Cohen, Rosenfeld & Kolter 2019, Theorem 1")
    formula = "for grid inputs: R = sigma/2 (Phi^-1(pA) - Phi^-1(pB)); binary R = sigma Phi^-1(pA)"

    def __init__(self, sigma, levels=255):
        s = check_positive("sigma", sigma, allow_array=False)
        self._params = {"sigma": float(s), "levels": grid_levels("levels", levels)}
        self._scales = np.asarray(float(s))


__all__ = ["FLOAT32_EXACT", "GaussianGrid", "GaussianGridL2", "grid_levels"]
