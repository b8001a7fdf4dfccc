"""Noise families as objects: what a smoothing distribution is, once, for every layer.

A noise family is a torch-free class that declares

* ``name`` -- the family's registry name (``"gaussian"``, ``"laplace"``, ...);
* ``params`` -- its parameters, each a :class:`Param` with a constraint (as
  ``torch.distributions`` declares ``arg_constraints``), a default, whether it may be given per
  coordinate, and a one-line help text;
* ``scale_param`` -- the parameter the noise scales with (std is proportional to it);
* ``unit_std(params)`` -- the per-coordinate standard deviation at ``scale_param = 1``.

From these the base class derives ``validate`` (every constraint, one ``ValueError`` naming the
argument), ``std`` (per-coordinate standard deviation) and ``params_for_std`` (the parameters
whose noise has a given per-coordinate std: how families are compared at matched noise, Teng et
al. Fig. 6, Yang et al. Sec. 5). Certificates (``Certificate.family``), the torch samplers, the
CLI flags of ``smoothcert radius``, the theorem catalog and the verifier key on the registered
object, so a new family is one module (docs/families.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from ..core.checks import as_float_array, check_int, check_positive

#: Marks a parameter with no default (the caller must give it, or ``params_for_std`` derives it).
REQUIRED = object()


# ---------------------------------------------------------------------------------------------
# constraints: each checks one value and returns it cleaned, or raises ValueError/TypeError
def positive(name: str, value):
    """A finite value > 0 (scalar or array)."""
    arr = check_positive(name, value)
    return float(arr) if arr.ndim == 0 else arr


def positive_scalar(name: str, value) -> float:
    """A finite scalar > 0."""
    return float(check_positive(name, value, allow_array=False))


def positive_int(name: str, value) -> int:
    """An integer >= 1."""
    return check_int(name, value, minimum=1)


def nonnegative_real(name: str, value) -> float:
    """A finite real scalar >= 0."""
    arr = as_float_array(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    x = float(arr)
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


@dataclass(frozen=True)
class Param:
    """One declared parameter of a noise family.

    ``kind`` tells the CLI how to parse it: ``"real"`` (one float), ``"reals"`` (a float or a
    comma list: per-coordinate values), ``"int"``. ``constraint(name, value)`` returns the cleaned
    value or raises. ``default`` is :data:`REQUIRED` when the parameter must be given (the scale
    parameter is derived from ``std`` by :meth:`NoiseFamily.params_for_std`).
    """

    name: str
    kind: str
    constraint: Callable[[str, Any], Any]
    help: str
    default: Any = REQUIRED

    def __post_init__(self):
        if self.kind not in ("real", "reals", "int"):
            raise ValueError(f"Param {self.name!r}: kind must be 'real', 'reals' or 'int', got {self.kind!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class NoiseFamily:
    """Base class of a registered noise family (one subclass per family; see the module docstring).

    Subclasses set ``name``, ``params``, ``scale_param``, ``law`` (the density in words, for the
    catalog), ``std_formula`` (the per-coordinate std in words, for the catalog) and implement :meth:`unit_std`; families whose parameters relate to each other
    (``k < dim``) also override :meth:`check_joint`.
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    scale_param: ClassVar[str] = ""
    law: ClassVar[str] = ""
    std_formula: ClassVar[str] = ""  # the per-coordinate std in words, for the catalog

    # -- declared facts ------------------------------------------------------------------------
    @classmethod
    def param(cls, name: str) -> Param:
        for p in cls.params:
            if p.name == name:
                return p
        raise KeyError(f"the {cls.name} family has no parameter {name!r}")

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        return tuple(p.name for p in cls.params)

    # -- validation ----------------------------------------------------------------------------
    @classmethod
    def validate(cls, params: dict) -> dict:
        """Every declared constraint on ``params`` (defaults filled in); unknown names and missing
        required parameters are errors naming them. Returns the cleaned parameters."""
        unknown = set(params) - set(cls.param_names())
        if unknown:
            raise ValueError(f"the {cls.name} noise family has no parameter(s) {sorted(unknown)}; "
                             f"it takes {list(cls.param_names())}")
        out = {}
        for p in cls.params:
            value = params.get(p.name, p.default)
            if value is REQUIRED:
                raise ValueError(f"the {cls.name} noise family needs {p.name} ({p.help})")
            out[p.name] = p.constraint(p.name, value)
        cls.check_joint(out)
        return out

    @classmethod
    def check_joint(cls, params: dict) -> None:
        """Constraints between parameters (none by default)."""

    # -- standard deviation --------------------------------------------------------------------
    @classmethod
    def unit_std(cls, params: dict):
        """Per-coordinate standard deviation at ``scale_param = 1`` (the other parameters as given)."""
        raise NotImplementedError(f"{cls.__name__} must implement unit_std")

    @classmethod
    def std(cls, params: dict):
        """Per-coordinate standard deviation of the noise with these parameters."""
        return np.asarray(params[cls.scale_param], dtype=float) * cls.unit_std(params)

    @classmethod
    def params_for_std(cls, std, per_coordinate_dim=None, **given) -> dict:
        """The parameters whose noise has per-coordinate standard deviation ``std``.

        ``given`` fixes parameters (a given ``scale_param`` wins over ``std``); the others take
        their defaults, and the scale parameter is ``std / unit_std``. ``per_coordinate_dim``
        broadcasts a scalar scale to that many coordinates (anisotropic certificates).
        """
        given = {k: v for k, v in given.items() if v is not None}
        fixed = {p.name: given.get(p.name, p.default) for p in cls.params if p.name != cls.scale_param}
        for name, value in fixed.items():
            if value is REQUIRED:  # only the scale parameter is derived from std
                raise ValueError(f"the {cls.name} noise family needs {name} ({cls.param(name).help}); "
                                 f"it has no default and cannot be derived from std")
        if cls.scale_param in given:
            scale = given[cls.scale_param]
        else:
            s = check_positive("std", std)
            probe = dict(fixed)
            probe[cls.scale_param] = 1.0
            cls._check_fixed(probe)
            scale = s / cls.unit_std(probe)
            scale = float(scale) if np.ndim(scale) == 0 else np.asarray(scale, dtype=float)
        fixed[cls.scale_param] = broadcast_to_dim(cls.scale_param, scale, per_coordinate_dim)
        return cls.validate(fixed)

    @classmethod
    def _check_fixed(cls, probe: dict) -> None:
        """Validate the non-scale parameters before ``unit_std`` reads them."""
        for p in cls.params:
            if p.name in probe and p.name != cls.scale_param:
                probe[p.name] = p.constraint(p.name, probe[p.name])
        if all(p.name in probe for p in cls.params):
            cls.check_joint(probe)


def broadcast_to_dim(name: str, value, dim):
    """``value`` unchanged when ``dim`` is None; a scalar broadcast to ``dim`` coordinates; an
    array checked to have ``dim`` entries."""
    if dim is None:
        return value
    dim = check_int("dim", dim, minimum=1)
    if np.ndim(value) == 0:
        return np.full(dim, float(check_positive(name, value)))
    arr = check_positive(name, value)
    if arr.size != dim:
        raise ValueError(f"{name} has {arr.size} entries but dim={dim!r}")
    return arr


# ---------------------------------------------------------------------------------------------
# the registry of families
_FAMILIES: dict[str, type[NoiseFamily]] = {}


def register_family(cls: type[NoiseFamily]) -> type[NoiseFamily]:
    """Class decorator: add a noise family under ``cls.name`` (names are unique; every parameter
    declared under a name already used by another family must have the same ``kind``, so that the
    CLI can offer one flag for it)."""
    if not (isinstance(cls, type) and issubclass(cls, NoiseFamily)):
        raise TypeError(f"register_family takes a NoiseFamily subclass, got {cls!r}")
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    if cls.name in _FAMILIES and _FAMILIES[cls.name] is not cls:
        raise ValueError(f"noise family {cls.name!r} is already registered by {_FAMILIES[cls.name]!r}")
    if cls.scale_param not in cls.param_names():
        raise TypeError(f"{cls.__name__}.scale_param={cls.scale_param!r} is not one of its params")
    for p in cls.params:
        for other in _FAMILIES.values():
            if p.name in other.param_names() and other.param(p.name).kind != p.kind:
                raise TypeError(f"{cls.__name__} declares {p.name!r} as {p.kind!r}, but the "
                                f"{other.name} family declares it as {other.param(p.name).kind!r}")
    _FAMILIES[cls.name] = cls
    return cls


def unregister_family(name: str) -> None:
    """Remove a family (for test-only families registered at run time)."""
    _FAMILIES.pop(name, None)


def noise_families() -> list[str]:
    """Sorted names of every registered noise family."""
    return sorted(_FAMILIES)


def noise_family(name: str) -> type[NoiseFamily]:
    """The family registered under ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"{name!r} is not a registered noise family; known: "
                         f"{', '.join(noise_families())}") from None


def family_params() -> dict[str, Param]:
    """Every declared parameter name across the registered families, with its declaration (the
    first family's help text): the flags of ``smoothcert radius``."""
    out: dict[str, Param] = {}
    for name in noise_families():
        for p in _FAMILIES[name].params:
            out.setdefault(p.name, p)
    return out


__all__ = [
    "REQUIRED",
    "broadcast_to_dim",
    "NoiseFamily",
    "Param",
    "family_params",
    "noise_families",
    "noise_family",
    "nonnegative_real",
    "positive",
    "positive_int",
    "positive_scalar",
    "register_family",
    "unregister_family",
]
