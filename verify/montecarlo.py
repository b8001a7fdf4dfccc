"""Monte Carlo validation of the theorem statements.

For random base classifiers in low dimension (random half-spaces, quadratic boundaries, small
random ReLU networks, all numpy) and the certificate's own noise:

1. at x, ``n`` noise samples give counts; Clopper-Pearson at ``alpha/2`` each gives pA (lower, top
   class) and pB (upper, runner-up; binary theorems use pB = 1 - pA); the certificate gives R or
   its region;
2. adversarial search: ``n_dirs`` random directions (and the axes) scaled to the boundary of the
   certified region (or ball), screened with common random numbers; one round of local random
   search around the worst; the ``n_keep`` with the smallest estimated margin
   ``P_A - max_c P_c`` are kept;
3. at each kept point (and at x) fresh samples; a *violation* is significant when the
   Clopper-Pearson upper bound of P_A lies below the lower bound of some other class
   (each at level ``beta``, Bonferroni over every test of the run). At x the check is that pA is
   not significantly above the true P_A (the bound itself).

Double sampling (a family with a ``second_sample`` entry, Li et al. 2022; a fourth classifier, a
ball around x, makes the Q bound matter): step 1 also draws
``n`` samples of the second law Q; ``p_a`` and ``q_a`` (the Clopper-Pearson lower bound of the
top class under Q) are bounded at half the level each and the radius is ``cert.radius(p_a, p_b,
q_a=q_a)``; at x the bound ``q_a`` is tested against fresh Q samples like ``p_a``.

A sound theorem yields 0 violations except with probability below ``alpha + 2 beta`` per point;
the margins (estimated ``P_A - max_c P_c`` at the boundary) show how close to tight the region is.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta as beta_dist

from . import registry
from .common import EXEMPT, FAIL, NA, PASS, Check, Instance, norm_of
from .witnesses import _boundary_scale


# ------------------------------------------------------------------------------------------
# Clopper-Pearson (one-sided, Cohen's convention)
def cp_lower(k, n, level):
    return 0.0 if k == 0 else float(beta_dist.ppf(level, k, n - k + 1))


def cp_upper(k, n, level):
    return 1.0 if k == n else float(beta_dist.ppf(1 - level, k + 1, n - k))


# ------------------------------------------------------------------------------------------
# noise samplers (numpy, independent of gpu_sampler), one registered per noise family
# (verify/registry.py): ``sampler(params, d, n, rng) -> (n, d)`` draws of the family's law in R^d.
def _vec(params, key, d):
    return np.broadcast_to(np.asarray(params[key], dtype=float).reshape(-1)
                           if np.ndim(params[key]) else float(params[key]), (d,))


def sample_noise(noise, d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the smoothing noise in R^d, shape (n, d), by the family's registered
    sampler; :class:`~.registry.MissingEntry` (or :class:`~.registry.Exempt`) when it has none."""
    return registry.require("monte_carlo", noise.family, noise.params).obj(noise.params, d, n, rng)


@registry.register("monte_carlo", "gaussian")
def sample_gaussian(p, d, n, rng):
    """N(0, diag(sigma^2))."""
    return rng.standard_normal((n, d)) * _vec(p, "sigma", d)


@registry.register("monte_carlo", "laplace")
def sample_laplace(p, d, n, rng):
    """Independent Laplace(0, b_i) coordinates."""
    return rng.laplace(0.0, 1.0, (n, d)) * _vec(p, "scale", d)


@registry.register("monte_carlo", "uniform")
def sample_uniform(p, d, n, rng):
    """Independent U[-lambda_i, lambda_i] coordinates."""
    return rng.uniform(-1.0, 1.0, (n, d)) * _vec(p, "half_width", d)


@registry.register("monte_carlo", "uniform-ball-l2")
def sample_uniform_ball(p, d, n, rng):
    """Uniform on the l2 ball of radius lambda: a uniform direction times ``lambda U^(1/d)``."""
    g = rng.standard_normal((n, d))
    rad = float(p["ball_radius"]) * rng.uniform(size=n) ** (1.0 / d)
    return g / np.linalg.norm(g, axis=1, keepdims=True) * rad[:, None]


def _yang_radius(p, d, n, rng):
    """``lambda G^(1/p)``, ``G ~ Gamma((d - k)/p)``: the norm of Yang et al.'s Exp2/ExpInf noise."""
    power = float(p["exp_power"])
    return float(p["lambd"]) * rng.gamma((d - float(p["k"])) / power, 1.0, n) ** (1.0 / power)


@registry.register("monte_carlo", "exp2")
def sample_exp2(p, d, n, rng):
    """Yang et al. 2020 Exp2 ``||z||_2^-k exp(-(||z||_2/lambda)^p)``: radius times a uniform
    direction on the l2 sphere."""
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True) * _yang_radius(p, d, n, rng)[:, None]


@registry.register("monte_carlo", "pow2")
def sample_pow2(p, d, n, rng):
    """Yang et al. 2020 Pow2 ``(1 + (||z||_2/lambda)^p)^-(d + m)``: ``||z||_2 / lambda = (G/H)^(1/p)``,
    ``G ~ Gamma(d/p)``, ``H ~ Gamma(d + m - d/p)`` (BetaPrime), times a uniform direction."""
    power = float(p["exp_power"])
    g = rng.standard_normal((n, d))
    ratio = rng.gamma(d / power, 1.0, n) / rng.gamma(d + float(p["tail_excess"]) - d / power, 1.0, n)
    return g / np.linalg.norm(g, axis=1, keepdims=True) * (float(p["lambd"]) * ratio ** (1.0 / power))[:, None]


@registry.register("monte_carlo", "expinf")
def sample_expinf(p, d, n, rng):
    """Yang et al. 2020 ExpInf ``||z||_inf^-k exp(-(||z||_inf/lambda)^p)``: radius times a
    uniform point of the cube's surface (one coordinate +-1, the others U[-1, 1])."""
    v = rng.uniform(-1.0, 1.0, (n, d))
    v[np.arange(n), rng.integers(0, d, n)] = rng.choice([-1.0, 1.0], n)
    return v * _yang_radius(p, d, n, rng)[:, None]


@registry.register("monte_carlo", "pareto")
def sample_pareto(p, d, n, rng):
    """Yang et al. 2020 Pareto ``a/(2 lambda) (1 + |z_i|/lambda)^-(a+1)`` i.i.d.: ``|z_i| =
    lambda (U^(-1/a) - 1)`` (inverse CDF, U in (0, 1]) with a fair sign."""
    u = 1.0 - rng.uniform(size=(n, d))
    return float(p["lambd"]) * (u ** (-1.0 / float(p["tail_index"])) - 1.0) * rng.choice([-1.0, 1.0], (n, d))


@registry.register("monte_carlo", "powinf")
def sample_powinf(p, d, n, rng):
    """Yang et al. 2020 PowInf ``(1 + ||z||_inf/lambda)^-(d + m)``: ``||z||_inf / lambda ~
    BetaPrime(d, m)`` times a uniform point of the cube's surface."""
    v = rng.uniform(-1.0, 1.0, (n, d))
    v[np.arange(n), rng.integers(0, d, n)] = rng.choice([-1.0, 1.0], n)
    rad = float(p["lambd"]) * rng.gamma(d, 1.0, n) / rng.gamma(float(p["tail_excess"]), 1.0, n)
    return v * rad[:, None]


@registry.register("monte_carlo", "exp1")
def sample_exp1(p, d, n, rng):
    """Yang et al. 2020 Exp1 ``exp(-(||z||_1/lambda)^p)``: ``||z||_1 = lambda G^(1/p)``,
    ``G ~ Gamma(d/p)``, times i.i.d. Laplace coordinates over their l1 norm (the cone measure)."""
    power = float(p["exp_power"])
    rad = float(p["lambd"]) * rng.gamma(d / power, 1.0, n) ** (1.0 / power)
    lap = rng.laplace(0.0, 1.0, (n, d))
    return lap / np.abs(lap).sum(axis=1, keepdims=True) * rad[:, None]


@registry.register("monte_carlo", "expp")
def sample_expp(p, d, n, rng):
    """Yang et al. 2020 Expp: i.i.d. ``exp(-|z_i/lambda|^p)``, ``|z_i/lambda|^p ~ Gamma(1/p)`` with
    a fair sign."""
    power = float(p["exp_power"])
    mag = float(p["lambd"]) * rng.gamma(1.0 / power, 1.0, (n, d)) ** (1.0 / power)
    return mag * rng.choice([-1.0, 1.0], (n, d))


@registry.register("monte_carlo", "gaussian-mixture")
def sample_mixture(p, d, n, rng):
    """``sum_k alpha_k N(0, diag(sigma_k^2))``: a component index, then its Gaussian."""
    w = np.asarray(p["weights"], dtype=float)
    sig = np.broadcast_to(np.asarray(p["sigmas"], dtype=float).reshape(len(w), -1), (len(w), d))
    comp = rng.choice(len(w), size=n, p=w / w.sum())
    return rng.standard_normal((n, d)) * sig[comp]


@registry.register("monte_carlo", "zhang-l2")
def sample_zhang_l2(p, d, n, rng):
    """Zhang et al. 2020 ``||z||^-k exp(-||z||^2/(2 sigma^2))``: ``(||z||/sigma)^2 ~ chi^2`` with
    ``d - k`` (real) degrees of freedom, direction uniform on the sphere."""
    rad = float(p["sigma"]) * np.sqrt(rng.chisquare(d - float(p["k"]), n))
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True) * rad[:, None]


@registry.register("monte_carlo", "zhang-l1")
def sample_zhang_l1(p, d, n, rng):
    """Zhang et al. 2020 ``||z||_1^-k exp(-||z||_1/b)``: ``||z||_1 ~ Gamma(d - k, b)`` (real
    shape), ``|z|/||z||_1`` uniform on the simplex, independent random signs."""
    rad = rng.gamma(d - float(p["k"]), float(p["scale"]), n)
    simplex = rng.dirichlet(np.ones(d), n)
    return simplex * rng.choice([-1.0, 1.0], (n, d)) * rad[:, None]


@registry.register("monte_carlo", "zhang-linf")
def sample_zhang_linf(p, d, n, rng):
    """Zhang et al. 2020 ``||z||_inf^-k exp(-||z||^2/(2 sigma^2))`` (k real)."""
    return _sample_zhang_linf(float(p["sigma"]), d, float(p["k"]), n, rng)


def _sample_zhang_linf(sigma, d, k, n, rng):
    """Exact construction (docs/contributing.md, Theorem catalog conventions): s = ||z||_inf by
    inverse CDF on a fine grid of
    ``s^-k exp(-s^2/(2 sigma^2)) erf(s/(sigma sqrt 2))^(d-1)``, one coordinate +-s, the others
    N(0, sigma^2) truncated to (-s, s) by inverse CDF."""
    from scipy.special import erf, ndtr, ndtri

    grid = np.linspace(0, 12 * sigma, 200_001)[1:]
    dens = grid ** (-k) * np.exp(-grid**2 / (2 * sigma**2)) * erf(grid / (sigma * math.sqrt(2))) ** (d - 1)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2)])
    cdf /= cdf[-1]
    s = np.interp(rng.uniform(size=n), cdf, grid)
    lo = ndtr(-s / sigma)[:, None]
    u = rng.uniform(size=(n, d))
    z = sigma * ndtri(lo + u * (1 - 2 * lo))
    z = np.clip(z, -s[:, None], s[:, None])
    idx = rng.integers(0, d, n)
    z[np.arange(n), idx] = s * rng.choice([-1.0, 1.0], n)
    return z


# ------------------------------------------------------------------------------------------
# random base classifiers
def make_classifier(kind: str, d: int, n_classes: int, rng: np.random.Generator, boost: float):
    """A random classifier ``f(z) -> labels`` of the given kind; class 0 gets the score ``boost``."""
    if kind == "half-space":
        w = rng.standard_normal((n_classes, d))
        b = rng.normal(0, 0.3, n_classes)
        b[0] += boost

        def f(z):
            return np.argmax(z @ w.T + b, axis=1)
    elif kind == "quadratic":
        q = rng.standard_normal((n_classes, d, d))
        w = rng.standard_normal((n_classes, d))
        b = rng.normal(0, 0.3, n_classes)
        b[0] += boost

        def f(z):
            quad = np.einsum("ni,cij,nj->nc", z, q, z)
            return np.argmax(0.5 * quad + z @ w.T + b, axis=1)
    elif kind == "relu":
        w1 = rng.standard_normal((16, d))
        b1 = rng.normal(0, 0.5, 16)
        w2 = rng.standard_normal((n_classes, 16)) / 4
        b2 = rng.normal(0, 0.3, n_classes)
        b2[0] += boost

        def f(z):
            h = np.maximum(z @ w1.T + b1, 0.0)
            return np.argmax(h @ w2.T + b2, axis=1)
    elif kind == "ball":
        # class 0 inside a ball around a point near x, sized for the verifier's std 0.5: almost
        # always right under a law concentrated near x (double sampling's Q), less so under P
        c = rng.normal(0, 0.05, d)
        rad2 = 0.25 * d * (0.9 + 0.1 * boost)
        b = rng.normal(0, 0.3, n_classes)

        def f(z):
            s = np.broadcast_to(b, (len(z), n_classes)).copy()
            s[:, 0] = rad2 - ((z - c) ** 2).sum(axis=1)
            return np.argmax(s, axis=1)
    else:
        raise ValueError(f"kind must be half-space, quadratic, relu or ball, got {kind!r}")
    return f


def _frequencies(f, x, noise_samples, n_classes):
    labels = f(x[None, :] + noise_samples)
    return np.bincount(labels, minlength=n_classes)


def _directions(norm: str, d: int, m: int, rng) -> np.ndarray:
    """Candidate directions: the axes (both signs) and random ones; vertices for l_inf."""
    if norm == "linf":
        return rng.choice([-1.0, 1.0], (m, d))
    axes = np.concatenate([np.eye(d), -np.eye(d)])
    if norm == "l1":
        rand = rng.dirichlet(np.ones(d) * 0.3, m) * rng.choice([-1.0, 1.0], (m, d))
    else:
        rand = rng.standard_normal((m, d))
    return np.concatenate([axes, rand])[:max(m, 2 * d)]


def _boundary_points(inst: Instance, p_a, p_b, r, dirs):
    """Scale each direction to the boundary of the certified region (or ball)."""
    reg = None
    try:
        reg = inst.cert.region(p_a, p_b)
    except NotImplementedError:
        pass
    out = []
    for u in dirs:
        if reg is not None and not getattr(reg, "isotropic", True):
            out.append(_boundary_scale(reg, u) * u)
        else:
            out.append(r * u / norm_of(u, inst.cert.norm))
    return np.array(out)


# ------------------------------------------------------------------------------------------
def mc_check(inst: Instance, quick: bool = False, seed: int = 0, alpha: float = 1e-3) -> Check:
    """Monte Carlo column for one instance: significant violations (must be 0) and margins."""
    n = 20_000 if quick else 200_000
    n_screen = 2_000 if quick else 10_000
    n_dirs = 24 if quick else 96
    n_keep = 2 if quick else 4
    kinds = ("half-space", "quadratic", "relu")
    n_classes = 2 if inst.cert.binary_only else 3
    rng = np.random.default_rng(seed)
    d = inst.dim
    second = registry.find("second_sample", inst.family)
    kinds += ("ball",) if second is not None else ()  # where Q's bound lifts the radius
    n_tests = len(kinds) * (n_keep + 1 + (second is not None))
    beta = 1e-3 / n_tests
    try:
        sample_noise(inst.cert.noise, d, 2, rng)
    except registry.MissingEntry as exc:
        return Check(FAIL, f"FAIL: {exc}", {"missing": "monte_carlo"})
    except registry.Exempt as exc:
        return Check(EXEMPT, f"exempt: {exc}", {"exempt": str(exc)})
    rows, violations, abstains = [], 0, 0
    for kind in kinds:
        row = _one_classifier(inst, kind, d, n_classes, rng, n, n_screen, n_dirs, n_keep, alpha, beta,
                              None if second is None else second.obj)
        if row is None:
            abstains += 1
            continue
        violations += row["violations"]
        rows.append(row)
    if not rows:
        return Check(NA, "n/a: no random classifier was certified", {"abstains": abstains})
    margins = [m for r in rows for m in r["margins"]]
    details = {"classifiers": rows, "violations": violations, "beta_per_test": beta,
               "alpha": alpha, "samples": n, "min_margin": min(margins)}
    summary = f"{violations} viol / {sum(len(r['margins']) + 1 + ('q_a' in r) for r in rows)} tests, " \
              f"min margin {min(margins):+.3f}"
    return Check(FAIL if violations else PASS, summary, details)


def _one_classifier(inst, kind, d, n_classes, rng, n, n_screen, n_dirs, n_keep, alpha, beta,
                    sample_q=None):
    cert, noise = inst.cert, inst.cert.noise
    x = np.zeros(d)
    for boost in (1.0, 2.0, 3.0, 5.0):
        f = make_classifier(kind, d, n_classes, rng, boost)
        counts = _frequencies(f, x, sample_noise(noise, d, n, rng), n_classes)
        order = np.argsort(counts)[::-1]
        c_a, c_b = int(order[0]), int(order[1])
        level = (alpha if cert.binary_only else alpha / 2) / (1 if sample_q is None else 2)
        p_a = cp_lower(int(counts[c_a]), n, level)
        p_b = None if cert.binary_only else cp_upper(int(counts[c_b]), n, level)
        q = {}
        if sample_q is not None:  # double sampling: q_a from n samples of Q
            counts_q = _frequencies(f, x, sample_q(noise.params, d, n, rng), n_classes)
            q = {"q_a": cp_lower(int(counts_q[c_a]), n, level)}
        r = cert.radius(p_a, p_b, **q)
        if 0 < r < math.inf:
            break
    else:
        return None
    dirs = _directions(cert.norm, d, n_dirs, rng)
    pts = _boundary_points(inst, p_a, p_b, r, dirs)
    crn = sample_noise(noise, d, n_screen, rng)

    def screened(delta):
        c = _frequencies(f, x + delta, crn, n_classes)
        return (c[c_a] - np.delete(c, c_a).max()) / n_screen

    screen = [screened(delta) for delta in pts]
    # one round of local random search around the worst directions (same noise: common random
    # numbers make the comparison of nearby directions nearly noise-free)
    for j in np.argsort(screen)[:n_keep]:
        trial = dirs[j] + 0.3 * rng.standard_normal((8, d)) * np.abs(dirs[j]).max()
        for u, delta in zip(trial, _boundary_points(inst, p_a, p_b, r, trial)):
            m = screened(delta)
            if m < screen[j]:
                pts[j], screen[j], dirs[j] = delta, m, u
    keep = np.argsort(screen)[:n_keep]
    # at x: the bound pA must not exceed the true P_A significantly
    fresh = _frequencies(f, x, sample_noise(noise, d, n, rng), n_classes)
    violations = int(cp_upper(int(fresh[c_a]), n, beta) < p_a)
    if q:
        fresh_q = _frequencies(f, x, sample_q(noise.params, d, n, rng), n_classes)
        violations += int(cp_upper(int(fresh_q[c_a]), n, beta) < q["q_a"])
    margins = []
    for j in keep:
        c = _frequencies(f, x + pts[j], sample_noise(noise, d, n, rng), n_classes)
        others = np.delete(np.arange(n_classes), c_a)
        c_o = int(others[np.argmax(c[others])])
        if cp_upper(int(c[c_a]), n, beta) < cp_lower(int(c[c_o]), n, beta):
            violations += 1
        margins.append(float((c[c_a] - c[c_o]) / n))
    return {"kind": kind, "p_a": p_a, "p_b": p_b, **q, "radius": r, "violations": violations,
            "margins": margins, "boundary_norms": [norm_of(pts[j], cert.norm) for j in keep]}


@registry.register("monte_carlo", "gaussian-grid")
def sample_gaussian_grid(p, d, n, rng):
    """round(levels sigma G) / levels (bounds/grid.py): the Gaussian rounded to the input grid."""
    levels = int(p["levels"])
    return np.round(rng.standard_normal((n, d)) * (float(p["sigma"]) * levels)) / levels
