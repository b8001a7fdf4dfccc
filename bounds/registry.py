"""The certificate registry: one registered class per theorem.

``register`` is a class decorator; ``certificates()`` lists the names and ``get(name, **params)``
binds a certificate to its noise parameters. Importing :mod:`smoothcert.bounds` imports every
family module, which registers its classes.
"""

from __future__ import annotations

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: add ``cls`` to the registry under ``cls.name`` (names are unique)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} needs a non-empty string class attribute 'name'")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"certificate name {name!r} is already registered by {_REGISTRY[name]!r}")
    _REGISTRY[name] = cls
    return cls


def certificates() -> list[str]:
    """Sorted names of every registered certificate."""
    return sorted(_REGISTRY)


def certificate_class(name: str) -> type:
    """The class registered under ``name``; ``ValueError`` listing the known names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"name={name!r} is not a registered certificate; known: {', '.join(certificates())}"
        ) from None


def get(name: str, **params):
    """Instantiate the certificate ``name`` with its noise parameters (validated)."""
    return certificate_class(name)(**params)
