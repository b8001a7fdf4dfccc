"""The verifier's independent checks, registered per noise family (one entry per family and kind).

The verifier checks a certificate with code of its own -- a numpy sampler of the noise law, exact
worst-case witnesses, sympy identities -- never with the code it checks. Each such piece is
registered here under the noise-family name (``cert.noise.family``) by a decorator in the module
of its kind, so a new family adds one entry per kind and edits no dispatch code:

============== ========= =================================================== =====================
kind           required  entry                                               module
============== ========= =================================================== =====================
monte_carlo    yes       ``sampler(params, d, n, rng) -> (n, d) array``      ``montecarlo.py``
witness        yes       ``witnesses(params, u, p_a, p_b) -> [Witness]``;    ``witnesses.py``
                         facts ``directions(params, d, norm)`` (default: the
                         axes), ``quick_regions`` (bool, default False)
second_sample  no        ``sampler(params, d, n, rng)`` of a second law Q:    ``montecarlo.py``
                         the radius takes ``q_a`` (double sampling)
instances      no        ``build(name, cls, base) -> [Instance]``            ``common.py``
                         (default: ``[base]``, the certificate at std 0.5)
quadrature     no        ``predicate(params) -> bool``: the checks need       ``common.py``
                         quadrature there (quick mode trims them)
binary_identity no       the key of a sympy proof of binary == multi-class   ``symbolic.py``
symbolic       no, many  ``check(inst) -> Check``                            ``symbolic.py``
============== ========= =================================================== =====================

A registered certificate whose family lacks a required entry fails its row with a
:class:`MissingEntry` message naming the entry and how to register it; nothing is silently "n/a".
The only way around a required entry is :func:`exempt`: a documented reason (e.g. a witness that
is provably not constructible in closed form), optionally limited to some parameters, which the
report shows as the column's status ``exempt`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

#: kind -> (required, where to register, what to register): the text of MissingEntry messages.
KINDS = {
    "monte_carlo": (True, "verify/montecarlo.py", "a numpy sampler (params, d, n, rng) -> (n, d) array"),
    "witness": (True, "verify/witnesses.py", "a witness builder (params, u, p_a, p_b) -> list[Witness]"),
    "second_sample": (False, "verify/montecarlo.py",
                      "a numpy sampler of the second distribution Q (params, d, n, rng) -> (n, d) array"),
    "instances": (False, "verify/common.py", "a builder (name, cls, base) -> list[Instance]"),
    "quadrature": (False, "verify/common.py", "a predicate (params) -> bool"),
    "binary_identity": (False, "verify/symbolic.py", "the key of a sympy proof in _PROOF_FUNCS"),
    "symbolic": (False, "verify/symbolic.py", "an identity check (inst) -> Check"),
}
_MULTI = {"symbolic"}


@dataclass(frozen=True)
class Entry:
    """One registered object with its declared facts (keyword arguments of :func:`register`)."""

    obj: Any
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exemption:
    """A documented reason why a required entry does not exist (where ``when(params)`` holds)."""

    reason: str
    when: Callable[[dict], bool] | None = None


class MissingEntry(LookupError):
    """A required check is not registered for a noise family (a FAIL of the verifier's row)."""


class Exempt(LookupError):
    """A required check is exempted for these parameters; ``str()`` is the documented reason."""


_ENTRIES: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
_EXEMPTIONS: dict[str, dict[str, Exemption]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not a verifier check kind; known: {', '.join(KINDS)}")


def _check_family(family) -> None:
    if not isinstance(family, str) or not family:
        raise TypeError(f"family must be a non-empty string, got {family!r}")


def add(kind: str, family: str, obj, **facts) -> None:
    """Register ``obj`` (with ``facts``) as the ``kind`` entry of ``family``.

    A single-entry kind accepts one object per family (re-registering the same object is a
    no-op); ``symbolic`` collects several, in registration order.
    """
    _check_kind(kind)
    _check_family(family)
    entries = _ENTRIES[kind].setdefault(family, [])
    if any(e.obj is obj for e in entries):
        return
    if entries and kind not in _MULTI:
        raise ValueError(f"the noise family {family!r} already has a {kind} entry: {entries[0].obj!r}")
    entries.append(Entry(obj, dict(facts)))


def register(kind: str, *families: str, **facts):
    """Decorator: register the decorated object as the ``kind`` entry of each of ``families``."""
    if not families:
        raise TypeError("register needs at least one noise-family name")

    def deco(obj):
        for fam in families:
            add(kind, fam, obj, **facts)
        return obj

    return deco


def exempt(kind: str, family: str, reason: str, when: Callable[[dict], bool] | None = None) -> None:
    """Declare, with a documented ``reason``, that ``family`` has no ``kind`` entry (only where
    ``when(params)`` is true, when given). The report shows the column as ``exempt: reason``."""
    _check_kind(kind)
    _check_family(family)
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"an exemption needs a non-empty reason, got {reason!r}")
    _EXEMPTIONS[kind][family] = Exemption(reason, when)


def unregister(kind: str, family: str) -> None:
    """Remove every ``kind`` entry and exemption of ``family`` (for run-time registrations)."""
    _check_kind(kind)
    _ENTRIES[kind].pop(family, None)
    _EXEMPTIONS[kind].pop(family, None)


def entries(kind: str, family: str) -> list[Entry]:
    """Every ``kind`` entry of ``family`` (empty when none)."""
    _check_kind(kind)
    return list(_ENTRIES[kind].get(family, ()))


def find(kind: str, family: str) -> Entry | None:
    """The single ``kind`` entry of ``family``, or None (optional kinds)."""
    found = entries(kind, family)
    return found[0] if found else None


def require(kind: str, family: str, params: dict) -> Entry:
    """The ``kind`` entry that checks ``family`` at ``params``.

    Raises :class:`Exempt` (with the reason) where an exemption applies, :class:`MissingEntry`
    (saying what to register, and where) when there is neither entry nor exemption.
    """
    ex = _EXEMPTIONS[kind].get(family) if kind in KINDS else None
    if ex is not None and (ex.when is None or ex.when(params)):
        raise Exempt(ex.reason)
    entry = find(kind, family)
    if entry is not None:
        return entry
    _, where, what = KINDS[kind]
    raise MissingEntry(
        f"no {kind} entry registered for the noise family {family!r}: register {what} with "
        f"@registry.register({kind!r}, {family!r}) in {where}, or a documented "
        f"registry.exempt({kind!r}, {family!r}, reason=...)")


def families(kind: str) -> list[str]:
    """Sorted names of the families with a ``kind`` entry."""
    _check_kind(kind)
    return sorted(f for f, e in _ENTRIES[kind].items() if e)
