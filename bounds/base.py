"""The Certificate base classes and the torch-free noise description.

A certificate is bound to the parameters of one smoothing distribution. Its public surface
(README, "Library use"):

* ``radius(p_a, p_b=None)`` -- numpy-vectorized, the largest certified ball in ``norm``; rounded
  so that it is never above the exact value; ``p_b=None`` is the binary case ``p_b = 1 - p_a``.
* ``radius_mp(p_a, p_b=None, dps=50)`` -- the same quantity evaluated in mpmath (the twin).
* ``region(p_a, p_b=None)`` -- the certified set as a :class:`~smoothcert.bounds.regions.Region`.
* ``noise``, ``citation``, ``tight``, ``norm``.

Most closed-form certificates have the shape ``R = s * gap(p_a, p_b)`` with a scale ``s`` and a
unit-free gap function; :class:`GapCertificate` implements everything from ``_gap`` (float, a
provable lower bound) and ``_gap_mp`` (mpmath), so a new theorem of that shape is a few lines.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import mpmath as mp
import numpy as np

import math

from ..core.checks import check_int, check_probability_pair
from ..core.errors import BadInput
from ..core.rounding import DEFAULT_ULPS, MAX, as_output, shrink
from .family import noise_family

#: The fewest digits a twin may be asked for: below double precision a twin is no reference.
MIN_DPS = 15
#: The most digits a twin may be asked for. A reference for float64 needs ~17 digits (the default
#: is 50, and :func:`twin_dps` adds at most ~330 for the deepest tails); at 10,000 digits one
#: special-function call already takes seconds, and mpmath's precision arithmetic overflows
#: (``OverflowError``) or never finishes long before ``dps = 2**70`` or ``10**6``.
MAX_DPS = 10_000


def check_dps(dps) -> int:
    """The twin's precision in decimal digits: an integer with
    :data:`MIN_DPS` <= dps <= :data:`MAX_DPS` (else a one-line error naming dps)."""
    dps = check_int("dps", dps, minimum=MIN_DPS)
    if dps > MAX_DPS:
        raise BadInput(f"dps must be <= {MAX_DPS} (a twin needs ~50 digits), got {dps}")
    return dps


def twin_dps(p_a: float, p_b: float | None, dps: int) -> int:
    """Working digits for a twin at ``dps`` significant digits: ``dps`` plus the decimal exponent
    of the smallest tail among ``p_a``, ``1 - p_a`` and ``p_b``, plus 2.

    A double p with exponent e (2^(e-1) <= p < 2^e) has its last bit at 2^(e-53), so ``1 - p``
    needs 53 - e bits; ``dps + ceil(-log10 p) + 2`` digits give at least
    3.32 (15 + 2) - log2(p) > 56 - e bits. So ``1 - p_b`` (and ``1 - p_a``) are exact and the
    twin keeps ``dps`` digits relative to the smallest tail (at 50 digits ``1 - 1e-60`` is 1)."""
    tails = [t for t in (p_a, 1.0 - p_a, 1.0 if p_b is None else p_b) if t > 0]
    return dps + 2 + max(0, math.ceil(-math.log10(min(tails, default=1.0))))


class TwinUnavailable(ArithmeticError):
    """Raised by a ``radius_mp`` twin that cannot evaluate at the given inputs (e.g. a Newton
    solve that cannot start in the far tails). Only this exception tells the verifier that a point
    has no reference value; any other exception from a twin is a finding."""


@dataclass(frozen=True)
class Noise:
    """Plain description of a smoothing distribution (no torch).

    ``family`` names a registered noise family (:mod:`.family`: ``gaussian``, ``laplace``,
    ``uniform``, ``gaussian-mixture``, the Zhang families, ...); ``params`` holds the parameters
    that family declares (``sigma``, ``scale``, ``half_width``, ``weights``/``sigmas``,
    ``k``/``dim``), scalars or arrays.
    """

    family: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key):
        return self.params[key]

    def std(self):
        """Per-coordinate standard deviation of the noise (the family's :meth:`NoiseFamily.std`)."""
        return noise_family(self.family).std(self.params)


class Certificate:
    """Base class of every registered certificate (one subclass per theorem).

    Subclasses set the class attributes and implement ``_radius`` (float64, vectorized, sound) and
    ``_radius_mp`` (scalar mpmath). ``p_b`` reaches them as ``None`` in the binary case.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""  # the registered noise family (bounds/family.py) it smooths with
    norm: ClassVar[str] = "l2"  # the norm of the certified ball: "l1", "l2" or "linf"
    tight: ClassVar[bool] = False  # the paper proves no larger ball can be certified
    binary_only: ClassVar[bool] = False  # the theorem has no multi-class form
    citation: ClassVar[str] = ""
    formula: ClassVar[str] = ""  # the radius in plain text, for the theorem catalog
    # For the generic tests (tests/test_certificates_generic.py):
    scale_param: ClassVar[str] = ""  # the parameter the radius is linear in (sigma, scale, ...)
    isotropic_counterpart: ClassVar[str | None] = None  # equal scales reduce to this theorem
    expensive: ClassVar[bool] = False  # radius costs more than microseconds: fewer test examples
    twin_rtol: ClassVar[float] = 1e-12  # relative agreement of radius with radius_mp

    # -- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """The parameters this certificate was built with (as passed to ``get``)."""
        return dict(self._params)

    @property
    def noise(self) -> Noise:
        """The smoothing distribution: the family's declared parameters found in ``_params``."""
        names = noise_family(self.family).param_names()
        return Noise(self.family, {k: self._params[k] for k in names if k in self._params})

    @classmethod
    def from_std(cls, std, dim=None, **given):
        """Build this certificate with noise of per-coordinate standard deviation ``std``.

        Used to compare families at matched noise (Teng et al. Fig. 6, Yang et al. Sec. 5): the
        family's :meth:`~.family.NoiseFamily.params_for_std`. ``given`` parameters that the family
        declares win over ``std`` (a given scale parameter replaces it); the others are ignored, so
        one call serves every family (``from_std(0.5, dim=784, k=1)``). ``dim`` is a parameter of
        the families that declare it (Zhang et al.), broadcasts a scalar scale to ``dim``
        coordinates for anisotropic certificates, is the certificate's own ``dim`` when its
        theorem takes one that the family does not declare (``yang-uniform-linf``: the law of
        uniform noise has no dimension, its l_inf radius does), and is ignored otherwise.
        """
        fam = noise_family(cls.family)
        kw = {k: v for k, v in given.items() if k in fam.param_names()}
        per_coordinate, own = None, {}
        if "dim" in fam.param_names():
            kw["dim"] = dim
        elif cls.isotropic_counterpart:
            per_coordinate = dim
        elif dim is not None and "dim" in inspect.signature(cls.__init__).parameters:
            own["dim"] = dim
        return cls(**fam.params_for_std(std, per_coordinate_dim=per_coordinate, **kw), **own)

    def __repr__(self) -> str:
        def short(v):
            a = np.asarray(v)
            return repr(v) if a.ndim == 0 else f"<array {a.shape}>"

        args = ", ".join(f"{k}={short(v)}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    # -- public API ---------------------------------------------------------------------------
    def radius(self, p_a, p_b=None):
        """Certified radius in ``self.norm`` (float for scalar input, array otherwise).

        0.0 when nothing is certified (p_a <= p_b, or p_a <= 1/2 in the binary case); ``inf``
        when the theorem certifies everything (p_a = 1 for the Gaussian and Laplace bounds).
        """
        pa, pb, scalar = check_probability_pair(p_a, p_b)
        if self.binary_only and pb is not None:
            raise ValueError(
                f"{self.name} is a binary theorem: pass p_b=None (p_b = 1 - p_a), got p_b={p_b!r}"
            )
        r = self._radius(pa, pb)
        return as_output(np.maximum(r, 0.0), scalar)

    def radius_mp(self, p_a, p_b=None, dps: int = 50):
        """The exact radius evaluated in mpmath at ``dps`` significant digits (an integer >=
        :data:`MIN_DPS`; scalar inputs only). The working precision is raised by
        :meth:`_working_dps` so that the tails ``1 - p_a`` and ``p_b`` are exact."""
        dps = check_dps(dps)
        pa, pb, scalar = check_probability_pair(p_a, p_b)
        if not scalar:
            raise ValueError("radius_mp takes scalar p_a and p_b; loop over arrays")
        if self.binary_only and pb is not None:
            raise ValueError(
                f"{self.name} is a binary theorem: pass p_b=None (p_b = 1 - p_a), got p_b={p_b!r}"
            )
        pa, pb = float(pa), None if pb is None else float(pb)
        with mp.workdps(self._working_dps(pa, pb, dps)):
            a = mp.mpf(pa)
            b = None if pb is None else mp.mpf(pb)
            r = self._radius_mp(a, b)
            return max(r, mp.mpf(0))

    def _working_dps(self, p_a: float, p_b: float | None, dps: int) -> int:
        """Digits the twin works at (default :func:`twin_dps`)."""
        return twin_dps(p_a, p_b, dps)

    def region(self, p_a, p_b=None):
        """The certified region around x (a Region); scalar p_a/p_b only."""
        raise NotImplementedError(f"{self.name} does not describe a region beyond its ball")

    # -- for subclasses -----------------------------------------------------------------------
    def _radius(self, p_a: np.ndarray, p_b: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _radius_mp(self, p_a, p_b):
        raise NotImplementedError


class GapCertificate(Certificate):
    """Certificates of the form ``R = s * gap(p_a, p_b)`` with region axes ``gap * scales``.

    Subclasses implement ``_gap`` (float64, vectorized, a provable lower bound of the unit gap),
    ``_gap_mp`` (mpmath, exact), and set ``self._scales`` (the per-coordinate region scales, an
    array or a scalar for isotropic noise) and ``region_p`` (the l_p of the region).
    The ball radius is ``min(scales) * gap``.
    """

    region_p: ClassVar[float] = 2.0
    _scales: np.ndarray

    @property
    def radius_scale(self) -> float:
        """s in R = s * gap: the smallest region scale."""
        return float(np.min(self._scales))

    def _radius_scale_mp(self):
        return mp.mpf(self.radius_scale)

    def gap(self, p_a, p_b=None):
        """The unit-free gap (a sound lower bound), vectorized like ``radius``."""
        pa, pb, scalar = check_probability_pair(p_a, p_b)
        self._refuse_p_b(pb)
        return as_output(np.maximum(self._gap(pa, pb), 0.0), scalar)

    def gap_mp(self, p_a, p_b=None, dps: int = 50):
        """The exact unit gap in mpmath (``dps`` as in :meth:`radius_mp`)."""
        dps = check_dps(dps)
        pa, pb, _ = check_probability_pair(p_a, p_b)
        self._refuse_p_b(pb)
        pa, pb = float(pa), None if pb is None else float(pb)
        with mp.workdps(self._working_dps(pa, pb, dps)):
            b = None if pb is None else mp.mpf(pb)
            return max(self._gap_mp(mp.mpf(pa), b), mp.mpf(0))

    def _refuse_p_b(self, pb):
        """Binary theorems ignore p_b in ``_gap``: refuse it here as ``radius`` does."""
        if self.binary_only and pb is not None:
            raise ValueError(
                f"{self.name} is a binary theorem: pass p_b=None (p_b = 1 - p_a), got p_b={pb!r}"
            )

    def _radius(self, p_a, p_b):
        """``shrink(s * gap)``: two roundings (the product, then the shrink's own) and, for a
        subnormal product, the shrink's final step down by one ulp covers the absolute half-ulp.
        A finite gap whose product overflows certifies more than the largest double: that is
        returned (the exact radius is above it), ``inf`` only for an infinite gap (pA = 1)."""
        g = np.maximum(self._gap(p_a, p_b), 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            r = np.where(g > 0, shrink(self.radius_scale * g, 2), 0.0)
        return np.where(np.isinf(r) & np.isfinite(g), MAX, r)

    def _radius_mp(self, p_a, p_b):
        return self._radius_scale_mp() * max(self._gap_mp(p_a, p_b), mp.mpf(0))

    def region(self, p_a, p_b=None):
        from .regions import WeightedLpBall

        g = self.gap(p_a, p_b)
        if np.ndim(g) != 0:
            raise ValueError("region takes scalar p_a and p_b")
        return WeightedLpBall(p=self.region_p, scales=self._scales, gap=float(g))

    # subclasses
    def _gap(self, p_a, p_b):
        raise NotImplementedError

    def _gap_mp(self, p_a, p_b):
        raise NotImplementedError


__all__ = ["Noise", "Certificate", "GapCertificate", "TwinUnavailable", "DEFAULT_ULPS"]
