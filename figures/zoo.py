"""The noise zoo side by side (Yang et al. 2020, "Randomized Smoothing of All Shapes and Sizes",
ICML): certified radius against pA at matched noise, one norm per axis and per table (their
Fig. 1 and Sec. 5 comparisons), and the l_inf radius against the input dimension (their
Wulff-crystal argument, Sec. 3, against the cotype limit stated in their abstract: no smoothing
certifies an l_p radius beyond O(d^(1/p - 1/2)) at fixed noise scale).

Nothing here names a family or a certificate. The certificates come from the registry
(:func:`smoothcert.bounds.certificates`), each built by its ``from_std`` at the same
per-coordinate standard deviation (:func:`build_matched`); shape parameters take their defaults,
plus the values of :data:`SHAPE_VARIANTS` for every family that declares the parameter. A
certificate that cannot be built (a parameter without default, a shape its theorem refuses)
is listed in ``skipped`` with the reason. Certificates whose radii agree within
:data:`SAME_RTOL` at every pA drawn are one curve (e.g. Cohen's, ARS's and ANCER's Gaussian l2
bounds at isotropic noise): the curve shows one, the table names them all.

Radii of different norms never share an axis or a table (:func:`radius_table` refuses); the
dimension figure compares l_inf radii only, the l1 and l2 ones converted by
:func:`smoothcert.bounds.norms.radius_in_norm` (rounded down, so still sound).
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import BadInput
from .plot import finish, new_figure

#: The norms, each drawn on its own axis and tabulated on its own.
NORMS = ("l1", "l2", "linf")
#: The pA columns of :func:`radius_table` (binary case, pB = 1 - pA).
TABLE_PA = (0.6, 0.9, 0.99, 0.999)
#: Second values of shape parameters where they change the law markedly; applied to every family
#: that declares the parameter (a value equal to the family's default adds nothing).
SHAPE_VARIANTS = {"tail_index": (10.0,), "tail_excess": (3.0,), "exp_power": (1.0, 2.0)}
#: Radii that agree within this relative tolerance at every pA drawn are drawn as one curve.
SAME_RTOL = 1e-6
#: Input dimensions of the dimension figure: MNIST (784), CIFAR (3072), 64x64 and 224x224 RGB.
WULFF_DIMS = (16, 64, 256, 784, 3072, 12288, 50176, 150528)

_NORM_TEX = {"l1": r"$\ell_1$", "l2": r"$\ell_2$", "linf": r"$\ell_\infty$"}


def _check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise BadInput(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    return norm


def _shape_text(shape: dict) -> str:
    return "" if not shape else " [" + ", ".join(f"{k}={v:g}" for k, v in shape.items()) + "]"


def build_matched(name: str, std: float, dim: int | None, **shape):
    """``(certificate, None)`` built by its ``from_std`` at per-coordinate ``std`` in dimension
    ``dim``, or ``(None, reason)``. The noise's std is read back and must equal ``std``."""
    from ..bounds import certificate_class

    try:
        cert = certificate_class(name).from_std(std, dim=dim, **shape)
    except (NotImplementedError, TypeError, ValueError) as exc:
        return None, f"{name}{_shape_text(shape)}: {exc}"
    got = np.asarray(cert.noise.std(), dtype=float)
    if not np.allclose(got, std, rtol=1e-9, atol=0.0):
        return None, f"{name}{_shape_text(shape)}: its noise has std {got.ravel()[0]:g}, not {std:g}"
    return cert, None


def extra_inputs(cert) -> list[str]:
    """Keyword-only inputs of ``cert.radius`` beyond (p_a, p_b) (DSRS's ``q_a``, a bound from a
    second noise): the zoo evaluates them at their defaults, which carry no information."""
    params = inspect.signature(cert.radius).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _shapes(name: str, variants: dict) -> list[dict]:
    """The shape parameters to build ``name`` with: ``{}`` (defaults), then one dict per variant
    value of a parameter its family declares with another default."""
    from ..bounds import certificate_class
    from ..bounds.family import noise_family

    fam = noise_family(certificate_class(name).family)
    out = [{}]
    for param, values in variants.items():
        if param not in fam.param_names():
            continue
        default = fam.param(param).default
        out += [{param: float(v)} for v in values if v != default]
    return out


@dataclass
class Curve:
    """One drawn curve: the certificates ``names`` (the first is drawn) whose radii agree within
    :data:`SAME_RTOL` at every pA drawn, built with the non-default ``shape``."""

    names: list
    shape: dict
    cert: object
    pa: np.ndarray = field(repr=False)
    radius: np.ndarray = field(repr=False)

    @property
    def norm(self) -> str:
        return self.cert.norm

    @property
    def label(self) -> str:
        rest = self.names[1:]
        more = "" if not rest else f" (= {', '.join(rest)})" if len(rest) <= 2 else f" (= {len(rest)} more)"
        return f"{self.names[0]}{_shape_text(self.shape)}{more}"

    @property
    def monte_carlo(self) -> bool:
        """The radius holds with probability ``confidence`` < 1 (a Monte Carlo certificate)."""
        return getattr(self.cert, "confidence", 1.0) < 1.0


def _pa_grid(n: int) -> np.ndarray:
    """pA from 0.5 to 1 - 1e-4, evenly spaced in log(1 - pA) (the figures' x axis)."""
    return 1.0 - np.geomspace(0.5, 1e-4, n)[1:]


def _sparse(pa: np.ndarray) -> np.ndarray:
    """Every fourth pA, and the last (for expensive certificates)."""
    return pa[np.unique(np.r_[np.arange(0, pa.size, 4), pa.size - 1])]


def _color(i: int):
    """A distinct colour for each of up to 20 curves."""
    from matplotlib import colormaps

    return colormaps["tab20"](i % 20)


def _rank(cert) -> tuple:
    """Which of several equal curves is drawn: cheap first, then tight theorems, then the
    shortest name."""
    return (bool(getattr(cert, "expensive", False)), not getattr(cert, "tight", False), len(cert.name), cert.name)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= SAME_RTOL * np.maximum(np.abs(a), np.abs(b))))


def merge_equal(entries) -> list:
    """Group ``(cert, shape, x, values)`` entries whose values agree within :data:`SAME_RTOL`
    at every x (compared where both were evaluated); each group is one :class:`Curve`, drawn with
    its best-ranked certificate (:func:`_rank`); the others are named with their shape."""
    groups: list[list] = []
    for entry in sorted(entries, key=lambda e: _rank(e[0])):
        _, _, x, v = entry
        for g in groups:
            if g[0][0].norm != entry[0].norm:
                continue
            gx, gv = g[0][2], g[0][3]
            common, ia, ib = np.intersect1d(x, gx, return_indices=True)
            if common.size >= 2 and _same(v[ia], gv[ib]):
                g.append(entry)
                break
        else:
            groups.append([entry])
    return [Curve([g[0][0].name] + [e[0].name + _shape_text(e[1]) for e in g[1:]], g[0][1], g[0][0],
                  g[0][2], g[0][3]) for g in groups]


def zoo_curves(norm: str, std: float = 0.5, dim: int = 784, variants=None, n_points: int = 81):
    """``(curves, skipped)``: every registered certificate of ``norm`` at per-coordinate ``std``
    in dimension ``dim`` (binary case, pB = 1 - pA), merged into :class:`Curve` s, and the reasons
    of those that could not be built. ``variants`` defaults to :data:`SHAPE_VARIANTS`.
    Expensive certificates (``expensive = True``) are evaluated at every fourth pA only."""
    from ..bounds import certificate_class, certificates

    _check_norm(norm)
    variants = SHAPE_VARIANTS if variants is None else variants
    pa = _pa_grid(n_points)
    entries, skipped = [], []
    for name in certificates():
        if certificate_class(name).norm != norm:
            continue
        for shape in _shapes(name, variants):
            cert, why = build_matched(name, std, dim, **shape)
            if cert is None:
                skipped.append(why)
                continue
            x = _sparse(pa) if getattr(cert, "expensive", False) else pa
            entries.append((cert, shape, x, np.asarray(cert.radius(x), dtype=float)))
    curves = sorted(merge_equal(entries), key=lambda c: (c.cert.noise.family, c.names[0], sorted(c.shape.items())))
    return curves, skipped


def _defaults_note(name: str) -> str:
    from ..bounds import certificate_class

    extra = extra_inputs(certificate_class(name.split(" [")[0]))  # a name, maybe with its shape
    return f" ({', '.join(extra)} at default)" if extra else ""


def radius_table(curves, pas=TABLE_PA, std: float | None = None, dim: int | None = None) -> str:
    """Markdown table of the curves' radii at ``pas`` (binary case), one row per curve, with the
    certificates that share it. All curves must be radii of one norm (else :class:`BadInput`:
    numbers in different units share no column); no cell is marked best."""
    curves = list(curves)
    if not curves:
        raise ValueError("curves must hold at least one curve")
    norms = sorted({c.norm for c in curves})
    if len(norms) > 1:
        raise BadInput(f"radii of different norms cannot share a table ({', '.join(norms)}); "
                       "tabulate each norm separately")
    pas = [float(p) for p in pas]
    if not pas or not all(0.0 < p < 1.0 for p in pas):
        raise ValueError(f"pas must hold probabilities in (0, 1), got {pas!r}")
    where = ", ".join(x for x in (f"noise std {std:g} per coordinate" if std else "",
                                  f"d = {dim}" if dim else "") if x)
    lines = [f"Certified {norms[0]} radius, binary (pB = 1 - pA){', ' + where if where else ''}.",
             "", "| certificate | family | " + " | ".join(f"pA = {p:g}" for p in pas) + " | same radii |",
             "|---|---|" + "---|" * len(pas) + "---|"]
    for c in curves:
        r = np.asarray(c.cert.radius(np.array(pas)), dtype=float)
        note = " (Monte Carlo)" if c.monte_carlo else ""
        cells = " | ".join(f"{v:.4g}" for v in r)
        same = ", ".join(f"`{n}`" + _defaults_note(n) for n in c.names[1:]) or "-"
        lines.append(f"| `{c.names[0]}`{_defaults_note(c.names[0])}{note} | {c.cert.noise.family}{_shape_text(c.shape)} | {cells} | {same} |")
    if any(_defaults_note(n) for c in curves for n in c.names):
        lines += ["", "\"at default\": an input from a second noise left at its default (no information)."]
    if any(c.monte_carlo for c in curves):
        lines += ["", "Monte Carlo certificates hold with probability >= their `confidence` (1 - alpha_mc)."]
    return "\n".join(lines) + "\n"


def zoo_radius_figure(norm: str, std: float = 0.5, dim: int = 784, variants=None, n_points: int = 81,
                      path=None):
    """Certified radius (in ``norm``) against pA for every registered certificate of ``norm`` at
    matched per-coordinate ``std`` (:func:`zoo_curves`); x is 1 - pA on a log axis, so the
    high-confidence end is visible. ``fig.curves`` and ``fig.skipped`` hold what was drawn and
    what could not be built. With ``path`` also writes ``path.md``, :func:`radius_table`."""
    curves, skipped = zoo_curves(norm, std, dim, variants, n_points)
    if not curves:
        raise ValueError(f"no {norm} certificate could be built: {'; '.join(skipped)}")
    fig, (ax,) = new_figure((8.4, 3.6))
    for i, c in enumerate(curves):
        sparse = c.pa.size < n_points - 1
        r = np.where(c.radius > 0, c.radius, np.nan) if norm == "linf" else c.radius  # log axis
        ax.plot(1.0 - c.pa, r, color=_color(i), ls=("-", "--")[i % 2], lw=1.5,
                marker="." if sparse else None, ms=3, label=c.label)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ticks = [0.5, 0.1, 0.01, 1e-3, 1e-4]
    ax.set_xticks(ticks, [f"{1 - t:g}" for t in ticks])
    ax.set_xlabel(r"$p_A$ (log scale in $1 - p_A$; binary, $p_B = 1 - p_A$)")
    ax.set_ylabel(f"certified {_NORM_TEX[norm]} radius")
    if norm == "linf":
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(f"{_NORM_TEX[norm]} certificates at noise std {std:g} per coordinate, d = {dim}",
                 fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.curves, fig.skipped = curves, skipped
    if path is not None:
        from .plot import save_text

        save_text(f"{path}.md", radius_table(curves, std=std, dim=dim))
    return finish(fig, path)


# ---------------------------------------------------------------------------------------------
# l_inf radius against the input dimension
@dataclass
class DimCurve:
    """A certificate's l_inf radius (direct when ``norm == "linf"``, else converted) at ``dims``;
    ``names`` share the curve (the first is drawn); ``note`` says when fewer dims were used."""

    names: list
    norm: str
    dims: np.ndarray
    radius: np.ndarray
    note: str = ""

    @property
    def label(self) -> str:
        how = "direct" if self.norm == "linf" else f"{self.norm} converted"
        rest = self.names[1:]
        more = "" if not rest else f" (= {', '.join(rest)})" if len(rest) <= 2 else f" (= {len(rest)} more)"
        return f"{self.names[0]}: {how}{more}" + (f" [{self.note}]" if self.note else "")


def _thin(dims: list, keep: int) -> list:
    """``keep`` (>= 2) of ``dims``, evenly spread, both ends included."""
    if keep >= len(dims):
        return list(dims)
    idx = np.unique(np.round(np.linspace(0, len(dims) - 1, max(2, keep))).astype(int))
    return [dims[i] for i in idx]


def linf_dimension_curves(pa: float = 0.99, std: float = 0.5, dims=WULFF_DIMS,
                          seconds_per_dim: float = 20.0, names=None):
    """``(curves, skipped)``: the l_inf radius at ``pa`` (binary) of every registered certificate
    (or of ``names``) at per-coordinate ``std`` in each dimension of ``dims`` -- direct l_inf
    certificates as they are, the others converted by ``radius_in_norm`` (l2: / sqrt(d), l1: / d,
    rounded down).

    Each certificate is first timed at the largest dimension; when one evaluation there takes
    more than ``seconds_per_dim`` (tables built per dimension), fewer dimensions are used, evenly
    spread, and the curve's ``note`` says how many."""
    from ..bounds import certificates
    from ..bounds.norms import radius_in_norm

    if not 0.5 < float(pa) < 1.0:
        raise ValueError(f"pa must be in (0.5, 1), got {pa!r}")
    dims = sorted(int(d) for d in dims)
    if len(dims) < 2 or dims[0] < 1:
        raise ValueError(f"dims must hold at least two dimensions >= 1, got {dims!r}")
    entries, skipped = [], []
    for name in certificates() if names is None else names:
        values, used, note = {}, list(dims), ""
        for d in reversed(dims):
            if d not in used:
                continue
            cert, why = build_matched(name, std, d)
            if cert is None:
                skipped.append(f"{why} (d = {d})")
                break
            t0 = time.perf_counter()
            values[d] = float(radius_in_norm(cert, "linf", pa, dim=d))
            spent = time.perf_counter() - t0
            if d == dims[-1] and spent > seconds_per_dim:
                used = _thin(dims, int(len(dims) * seconds_per_dim / spent))
                note = f"{len(used)} dims: {spent:.0f} s per dim"
        if len(values) >= 2:
            x = np.array(sorted(values), dtype=float)
            entries.append((cert, note, x, np.array([values[int(d)] for d in x])))
    curves = []
    for c in merge_equal(entries):
        note = next(e[1] for e in entries if e[0] is c.cert)
        curves.append(DimCurve(c.names, c.cert.norm, c.pa, c.radius, note))
    return curves, skipped


def linf_dimension_figure(pa: float = 0.99, std: float = 0.5, dims=WULFF_DIMS,
                          seconds_per_dim: float = 20.0, path=None):
    """The l_inf radius at ``pa`` against the input dimension d, log-log, for every registered
    certificate at per-coordinate ``std`` (:func:`linf_dimension_curves`): direct l_inf
    certificates solid, converted l1/l2 ones dashed, with reference slopes d^-1/2 and d^-1.

    At fixed per-coordinate std an l2 radius does not depend on d, so converted it falls like
    d^-1/2, and an l1 radius like d^-1; Yang et al.'s cotype limit says no smoothing beats
    d^-1/2 in l_inf. ``fig.curves`` / ``fig.skipped`` hold what was drawn and what was not."""
    curves, skipped = linf_dimension_curves(pa, std, dims, seconds_per_dim)
    if not curves:
        raise ValueError(f"no certificate could be built: {'; '.join(skipped)}")
    fig, (ax,) = new_figure((8.4, 3.8))
    direct = [c for c in curves if c.norm == "linf"]
    for i, c in enumerate(direct + [c for c in curves if c.norm != "linf"]):
        ax.plot(c.dims, np.where(c.radius > 0, c.radius, np.nan), color=_color(i),
                ls="-" if c.norm == "linf" else "--",
                marker="o" if c.norm == "linf" else ".", ms=3, lw=1.4, label=c.label)
    d = np.array([min(dims), max(dims)], dtype=float)
    top = max(float(c.radius[0]) for c in curves)
    for slope, txt in ((-0.5, r"$\propto d^{-1/2}$"), (-1.0, r"$\propto d^{-1}$")):
        ax.plot(d, top * 2 * (d / d[0]) ** slope, color="gray", lw=0.8, ls=":")
        ax.annotate(txt, (d[1], top * 2 * (d[1] / d[0]) ** slope), fontsize=7, color="gray",
                    xytext=(-28, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel(r"certified $\ell_\infty$ radius")
    ax.set_title(f"$p_A = {pa:g}$ (binary), noise std {std:g} per coordinate; "
                 "dashed: l1/l2 radius converted (/d, /$\\sqrt{d}$)", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.curves, fig.skipped = curves, skipped
    return finish(fig, path)


def slope(curve) -> float:
    """The log-log slope of a curve between its first and last dimension (d^slope)."""
    return float(math.log(curve.radius[-1] / curve.radius[0]) / math.log(curve.dims[-1] / curve.dims[0]))


__all__ = ["NORMS", "SAME_RTOL", "SHAPE_VARIANTS", "TABLE_PA", "WULFF_DIMS", "Curve", "DimCurve",
           "build_matched", "extra_inputs", "linf_dimension_curves", "linf_dimension_figure", "merge_equal",
           "radius_table", "slope", "zoo_curves", "zoo_radius_figure"]
