"""The torch noise samplers draw the laws the certificates assume (docs/contributing.md, Parameters).

Laws are checked with Kolmogorov-Smirnov tests (seeded, so deterministic) against CDFs written
here independently of the sampler (scipy.stats closed forms, mpmath quadrature), moments against
the closed forms of docs/contributing.md (Parameters), and exact invariants property-based over parameter ranges.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import smoothcert as sc
from smoothcert.bounds import Noise
from smoothcert.bounds.family import (
    NoiseFamily,
    Param,
    noise_families,
    noise_family,
    positive,
    register_family,
    unregister_family,
)
from smoothcert.gpu_sampler.noise import (
    LINF_MIN_DOF,
    GaussianNoise,
    linf_radius_table,
    make_noise,
    sample_gamma,
    sampler_class,
    sampler_for,
    samplers,
    unit_noise,
    unregister_sampler,
)

P_MIN = 1e-4  # KS acceptance level; seeds are fixed, so each verdict is reproducible


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def draw(family, params, shape, n, seed=0, dtype=torch.float32):
    s = make_noise(Noise(family, params), shape, device="cpu", dtype=dtype)
    return s.sample(n, generator=gen(seed)).double().numpy()


def ks(sample, cdf, *args):
    return stats.kstest(np.ravel(sample), cdf, args=args).pvalue


# ---------------------------------------------------------------------------------------------
# product families: marginal laws and moments
def test_gaussian_per_coordinate_sigma_and_mean():
    sigma = np.linspace(0.1, 2.0, 12).reshape(3, 4)
    mean = np.arange(4.0)  # broadcast over the rows
    z = draw("gaussian", {"sigma": sigma, "mean": mean}, (3, 4), 20000)
    u = (z - mean) / sigma  # standardized: every coordinate N(0, 1)
    for j in range(12):
        assert ks(u.reshape(-1, 12)[:, j], "norm") > P_MIN
    assert np.allclose(z.mean(axis=0), np.broadcast_to(mean, (3, 4)), atol=5 * sigma.max() / math.sqrt(20000))


def test_laplace_marginal_and_std_convention():
    b = 0.35
    z = draw("laplace", {"scale": b}, (10,), 20000)
    assert ks(z[:, :3], "laplace", 0.0, b) > P_MIN
    # docs/contributing.md, Parameters: std = sqrt(2) b
    assert z.std() == pytest.approx(math.sqrt(2) * b, rel=0.01)


def test_uniform_marginal_support_and_std_convention():
    lam = np.array([0.2, 0.5, 1.5])
    z = draw("uniform", {"half_width": lam}, (3,), 20000)
    assert (np.abs(z) <= lam).all()
    for j in range(3):
        assert ks(z[:, j], "uniform", -lam[j], 2 * lam[j]) > P_MIN
    assert z.std(axis=0) == pytest.approx(lam / math.sqrt(3), rel=0.02)


def test_ks_has_power_against_a_wrong_scale():
    """The acceptance level above is not vacuous: a 5% scale error is rejected."""
    z = draw("laplace", {"scale": 1.0}, (5,), 20000)
    assert ks(z, "laplace", 0.0, 1.05) < 1e-6


@pytest.mark.parametrize("sigmas", [[0.3, 1.2], [[0.3] * 4, [1.2, 1.2, 2.0, 0.5]]])
def test_gaussian_mixture_marginal(sigmas):
    w = np.array([0.3, 0.7])
    s = np.asarray(sigmas, dtype=float).reshape(2, -1) * np.ones((2, 4))
    z = draw("gaussian-mixture", {"weights": w, "sigmas": sigmas}, (4,), 20000)
    for j in range(4):
        cdf = lambda t, j=j: w[0] * stats.norm.cdf(t / s[0, j]) + w[1] * stats.norm.cdf(t / s[1, j])
        assert ks(z[:, j], cdf) > P_MIN
    # the component is drawn once per sample, not per coordinate: |z| is large on all
    # coordinates together, so coordinates are dependent (positive correlation of z^2)
    if len(np.shape(sigmas)) == 1:
        c = np.corrcoef(z[:, 0] ** 2, z[:, 1] ** 2)[0, 1]
        assert c > 0.05


def test_noise_std_matches_the_description():
    """Every family with a closed-form std (Noise.std) samples that std."""
    shape = (2, 3)
    cases = [
        Noise("gaussian", {"sigma": 0.7}),
        Noise("laplace", {"scale": np.full(6, 0.2)}),
        Noise("uniform", {"half_width": 0.9}),
        Noise("gaussian-mixture", {"weights": [0.5, 0.5], "sigmas": [0.5, 1.0]}),
    ]
    for noise in cases:
        z = make_noise(noise, shape, device="cpu").sample(40000, generator=gen(3)).double()
        expected = np.broadcast_to(np.asarray(noise.std(), dtype=float).reshape(-1)[0], shape)
        assert z.std(dim=0).numpy() == pytest.approx(expected, rel=0.03), noise.family


# ---------------------------------------------------------------------------------------------
# every registered family: its sampler draws the family's standard deviation
#: Values of non-scale parameters, where a family declares them (Zhang: k = 4 of d = 16, so the
#: k-dependence of their std formulas is exercised); everything else takes the family's defaults.
REPRESENTATIVE = {"dim": 16, "k": 4.0, "tail_index": 10.0}  # Pareto: 8th moment finite
STD_DRAWS = 40000


def representative(family, std=0.5, dim=16):
    """``(params, shape)``: the family at per-coordinate std ``std`` (``params_for_std``)."""
    given = {p: v for p, v in {**REPRESENTATIVE, "dim": dim}.items() if p in family.param_names()}
    return family.params_for_std(std, **given), (dim,)


def check_sampler_std(name, seed=11):
    """The empirical per-coordinate variance of ``STD_DRAWS`` draws equals ``family.std(params)**2``
    within 6 standard errors, the standard error estimated from the sample's own fourth moment
    (``Var(s^2) = (m4 - var^2) / n``, delta method; no normality assumed, so heavy tails widen it).
    At n = 40000 that is 6.7% of the variance for Laplace (kurtosis 6), 4.2% for a Gaussian: a 5%
    error in the scale (10% in the variance) fails. Returns the comparison for a power check."""
    family = noise_family(name)
    params, shape = representative(family)
    z = make_noise(Noise(name, params), shape, device="cpu", dtype=torch.float64)
    z = z.sample(STD_DRAWS, generator=gen(seed)).numpy()
    c = z - z.mean(axis=0)
    var = (c**2).mean(axis=0)
    se = np.sqrt(((c**4).mean(axis=0) - var**2) / STD_DRAWS)
    expected = np.broadcast_to(np.asarray(family.std(params), dtype=float), shape)
    assert np.all(np.abs(var - expected**2) <= 6 * se), (name, var, expected**2, se)
    return var, expected, se


@pytest.mark.parametrize("name", noise_families())
def test_every_family_samples_its_std(name):
    """Every registered noise family has a sampler (a family without one FAILS here) and the
    sampler's per-coordinate std is the family's ``std``; the tolerance rejects a 5% scale error."""
    var, expected, se = check_sampler_std(name)
    assert np.any(np.abs(var - (1.05 * expected) ** 2) > 6 * se)  # not vacuous


class _ToyFamily(NoiseFamily):
    """A test-only family (a Gaussian with std 2 sigma) registered at run time."""

    name = "test-toy-noise"
    params = (Param("sigma", "reals", positive, "toy scale"),)
    scale_param = "sigma"
    law = "N(0, 4 sigma^2)"

    @classmethod
    def unit_std(cls, params):
        return 2.0


def test_a_family_without_a_sampler_fails_and_one_with_a_sampler_passes():
    register_family(_ToyFamily)
    try:
        with pytest.raises(ValueError, match="'test-toy-noise' has no torch sampler.*@sampler_for"):
            make_noise(Noise("test-toy-noise", {"sigma": 1.0}), (3,), device="cpu")
        with pytest.raises(ValueError, match="test-toy-noise"):
            check_sampler_std("test-toy-noise")

        @sampler_for("test-toy-noise")
        class ToyNoise(GaussianNoise):
            def _fill(self, out, generator):
                super()._fill(out, generator)
                out.mul_(2.0)

        assert sampler_class("test-toy-noise") is ToyNoise and "test-toy-noise" in samplers()
        check_sampler_std("test-toy-noise")
        with pytest.raises(ValueError, match="sigma"):  # validated by the family object
            make_noise(Noise("test-toy-noise", {"sigma": -1.0}), (3,), device="cpu")
        with pytest.raises(ValueError, match="already has the sampler ToyNoise"):
            sampler_for("test-toy-noise")(type("Other", (GaussianNoise,), {}))
    finally:
        unregister_sampler("test-toy-noise")
        unregister_family("test-toy-noise")
    assert "test-toy-noise" not in samplers()


def test_sampler_for_refuses_non_samplers():
    with pytest.raises(TypeError, match="NoiseSampler subclass"):
        sampler_for("gaussian")(object)
    with pytest.raises(TypeError, match="family must be a non-empty string"):
        sampler_for("")


def test_unit_noise_is_the_reparameterization_noise():
    # scale 1 of the registered sampler; Gaussian and uniform draw exactly what torch.randn and
    # 2 torch.rand - 1 drew (the data-dependent and ANCER surrogates before the registry)
    g = unit_noise("gaussian", (3, 4), device="cpu").sample(50, gen(4))
    assert torch.equal(g, torch.randn((50, 3, 4), generator=gen(4)))
    u = unit_noise("uniform", (3, 4), device="cpu").sample(50, gen(4))
    assert torch.equal(u, 2.0 * torch.rand((50, 3, 4), generator=gen(4)) - 1.0)
    lap = unit_noise("laplace", (7,), device="cpu").sample(50, gen(4))
    assert torch.equal(lap, make_noise(Noise("laplace", {"scale": 1.0}), (7,), device="cpu").sample(50, gen(4)))
    with pytest.raises(ValueError, match="'poisson' is not a registered noise family"):
        unit_noise("poisson", (3,))


# ---------------------------------------------------------------------------------------------
# Zhang et al. families: radial and direction laws
@pytest.mark.parametrize("a", [0.3, 1.0, 2.5, 60.0])
def test_gamma_sampler(a):
    x = sample_gamma(a, 20000, gen(int(a * 10))).numpy()
    assert ks(x, "gamma", a) > P_MIN


@pytest.mark.parametrize("d,k", [(10, 0.0), (10, 7.5), (50, 3.0)])
def test_zhang_l2_radial_and_direction_laws(d, k):
    sigma = 0.6
    z = draw("zhang-l2", {"sigma": sigma, "k": k, "dim": d}, (d,), 20000, dtype=torch.float64)
    r = np.linalg.norm(z, axis=1)
    assert ks((r / sigma) ** 2, "chi2", d - k) > P_MIN  # Zhang et al. Thm 2 family in polar form
    t = z[:, 0] / r
    assert ks((1 + t) / 2, "beta", (d - 1) / 2, (d - 1) / 2) > P_MIN
    if k == 0:  # the plain Gaussian
        assert ks(z[:, :2] / sigma, "norm") > P_MIN


@pytest.mark.parametrize("d,k", [(10, 0.0), (10, 6.0), (40, 1.5)])
def test_zhang_l1_radial_and_direction_laws(d, k):
    b = 0.4
    z = draw("zhang-l1", {"scale": b, "k": k, "dim": d}, (d,), 20000, dtype=torch.float64)
    r = np.abs(z).sum(axis=1)
    assert ks(r, "gamma", d - k, 0.0, b) > P_MIN
    assert ks(np.abs(z[:, 0]) / r, "beta", 1, d - 1) > P_MIN
    assert abs(np.mean(z[:, 0] > 0) - 0.5) < 0.02  # fair signs
    if k == 0:  # plain Laplace(0, b)
        assert ks(z[:, :2], "laplace", 0.0, b) > P_MIN


def _linf_cdf_mp(k, d, points):
    """P(||z||_inf <= s) at each s in ``points`` (sigma = 1), by mpmath quadrature of the density
    ``s^-k exp(-s^2/2) erf(s/sqrt 2)^(d-1)`` of ``||z||_inf`` under Zhang et al.'s Eq. 13 law.

    The density can be a narrow peak anywhere in (0, 10) (s^-k pulls it towards 0), so the
    integral is split at geometrically spaced nodes, each piece integrated once.
    """
    f = lambda u: u ** (-k) * mp.exp(-u * u / 2) * mp.erf(u / mp.sqrt(2)) ** (d - 1)
    with mp.workdps(20):
        cuts = sorted({0.0, *np.geomspace(1e-3, 12, 48).tolist(), *map(float, points)})
        pieces = [mp.quad(f, [a, b]) for a, b in zip(cuts[:-1], cuts[1:])]
        below = np.cumsum([0.0] + [float(p) for p in pieces])
        total = below[-1] + float(mp.quad(f, [cuts[-1], mp.inf]))
        return [below[cuts.index(float(s))] / total for s in points]


@pytest.mark.parametrize("d,k", [(1, 0.0), (3, 2.5), (30, 10.0), (784, 600.0)])
def test_linf_radius_table_matches_quadrature(d, k):
    cdf, t = linf_radius_table(k, d)
    qs = [0.001, 0.05, 0.3, 0.5, 0.8, 0.99, 0.9999]
    exact = _linf_cdf_mp(k, d, [math.exp(np.interp(q, cdf, t)) for q in qs])
    assert exact == pytest.approx(qs, abs=1e-7)


@pytest.mark.parametrize("d,k,n", [(2, 0.0, 20000), (5, 3.0, 20000), (784, 600.0, 3000)])
def test_zhang_linf_structure_and_laws(d, k, n):
    sigma = 0.5
    z = draw("zhang-linf", {"sigma": sigma, "k": k, "dim": d}, (d,), n, seed=d, dtype=torch.float64)
    a = np.abs(z)
    s = a.max(axis=1)
    j = a.argmax(axis=1)
    # exactly one coordinate attains the maximum
    assert ((a == s[:, None]).sum(axis=1) == 1).all()
    if d == 2 and k == 0:  # s = max(|g1|, |g2|), g_i ~ N(0, sigma^2): CDF erf(s/sqrt 2)^2, no table
        assert ks(s / sigma, lambda v: special.erf(v / math.sqrt(2)) ** 2) > P_MIN
    # the radius: its CDF at the sample's deciles equals the quadrature CDF (DKW tolerance)
    qs = [0.1, 0.5, 0.9]
    exact = _linf_cdf_mp(k, d, np.quantile(s, qs) / sigma)
    assert exact == pytest.approx(qs, abs=math.sqrt(math.log(2e6) / (2 * n)))
    if d > 1:
        # the argmax coordinate is uniform over the d coordinates
        assert abs(np.mean(j == 0) - 1 / d) < 5 * math.sqrt(1 / d / n)
        # the rest, given s, are N(0, sigma^2) truncated to (-s, s): probability integral transform
        rest = np.ones_like(a, dtype=bool)
        rest[np.arange(n), j] = False
        u = stats.norm.cdf(z / sigma) - 0.5
        half = (stats.norm.cdf(s / sigma) - 0.5)[:, None]
        pit = (u / half + 1) / 2
        assert ks(pit[rest][:20000], "uniform") > P_MIN


def test_zhang_linf_k0_is_gaussian():
    z = draw("zhang-linf", {"sigma": 0.8, "k": 0, "dim": 6}, (6,), 20000, dtype=torch.float64)
    assert ks(z[:, :3] / 0.8, "norm") > P_MIN


# ---------------------------------------------------------------------------------------------
# exact invariants over parameter ranges
@settings(max_examples=25)
@given(
    family=st.sampled_from(["gaussian", "laplace", "uniform"]),
    scale=st.floats(1e-6, 1e3),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
)
def test_product_families_shape_dtype_finite(family, scale, shape):
    key = {"gaussian": "sigma", "laplace": "scale", "uniform": "half_width"}[family]
    z = make_noise(Noise(family, {key: scale}), shape, device="cpu").sample(64, generator=gen())
    assert z.shape == (64, *shape) and z.dtype == torch.float32
    assert torch.isfinite(z).all()
    if family == "uniform":
        assert (z.abs() <= scale * (1 + 1e-6)).all()


@settings(max_examples=20)
@given(d=st.integers(2, 400), frac=st.floats(0.0, 1.0), family=st.sampled_from(["zhang-l2", "zhang-l1", "zhang-linf"]))
def test_zhang_families_norms_and_finiteness(d, frac, family):
    # k up to the family's limit: k < d (l2, l1; d - (d - m) can round below m), k <= d - 1 (l_inf)
    k = min(frac * d, d - 1.0 if family == "zhang-linf" else d - 0.01)
    scale = noise_family(family).scale_param
    z = make_noise(Noise(family, {scale: 1.3, "k": k, "dim": d}), (d,),
                   device="cpu", dtype=torch.float64).sample(16, generator=gen(d))
    assert torch.isfinite(z).all() and z.shape == (16, d)
    if family == "zhang-linf":
        a = z.abs()
        top = a.max(dim=1).values
        assert ((a == top[:, None]).sum(dim=1) == 1).all()


@settings(max_examples=15)
@given(d=st.integers(1, 5000), frac=st.floats(0.0, 1.0))
def test_linf_table_is_a_valid_inverse_cdf(d, frac):
    k = min(frac * d, d - LINF_MIN_DOF)
    cdf, t = linf_radius_table(k, d, points=4097)
    assert np.isfinite(t).all() and np.isfinite(cdf).all()
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and (np.diff(cdf) >= 0).all() and (np.diff(t) > 0).all()


# ---------------------------------------------------------------------------------------------
# reproducibility, broadcasting, certificates, bad input
@pytest.mark.parametrize("family", noise_families())
def test_same_seed_same_noise(family):
    params, _ = representative(noise_family(family), dim=12)
    s = make_noise(Noise(family, params), (3, 4), device="cpu")
    a, b = s.sample(50, generator=gen(7)), s.sample(50, generator=gen(7))
    c = s.sample(50, generator=gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_per_coordinate_parameters_broadcast_and_flat():
    sigma = np.arange(1.0, 785.0) / 100
    z1 = make_noise(Noise("gaussian", {"sigma": sigma}), (1, 28, 28), device="cpu").sample(4, gen())
    z2 = make_noise(Noise("gaussian", {"sigma": sigma.reshape(28, 28)}), (1, 28, 28), device="cpu").sample(4, gen())
    assert torch.equal(z1, z2)  # flat C-order entries == the broadcast array
    row = make_noise(Noise("laplace", {"scale": np.array([1e-3, 10.0])}), (5, 2), device="cpu").sample(2000, gen())
    assert row[..., 0].abs().max() < 0.05 and row[..., 1].abs().mean() > 5


def test_make_noise_accepts_certificates():
    cert = sc.get("cohen-gaussian-l2", sigma=0.25)
    z = make_noise(cert, (7,), device="cpu").sample(20000, generator=gen())
    assert z.std().item() == pytest.approx(0.25, rel=0.01)


def test_every_registered_certificate_has_a_sampler():
    """Each certificate's noise, built by its ``from_std`` at std 0.5 (k = 4 of d = 16 for the
    Zhang families, so their std formulas are checked too), samples that std."""
    d = 16
    for name in sc.certificates():
        cls = sc.bounds.certificate_class(name)
        try:
            cert = cls.from_std(0.5, dim=d, k=4)
        except ValueError:  # a certificate that takes one k only (yang-expinf-linf: k = 0)
            cert = cls.from_std(0.5, dim=d)
        z = make_noise(cert, (d,), device="cpu", dtype=torch.float64).sample(20000, generator=gen()).double()
        assert z.std().item() == pytest.approx(0.5, rel=0.03), name


@pytest.mark.parametrize(
    "noise,shape,match",
    [
        (Noise("poisson", {"rate": 1}), (3,), "family"),
        (Noise("gaussian", {"sigma": -1.0}), (3,), "sigma"),
        (Noise("gaussian", {"sigma": np.nan}), (3,), "sigma"),
        (Noise("gaussian", {"sigma": np.ones(4)}), (3,), "sigma"),
        (Noise("gaussian", {"sigma": 1.0, "mean": [np.inf, 0, 0]}), (3,), "mean"),
        (Noise("laplace", {"scale": 0.0}), (3,), "scale"),
        (Noise("uniform", {"half_width": [1, 2]}), (3,), "half_width"),
        (Noise("gaussian-mixture", {"weights": [0.5, 0.6], "sigmas": [1, 1]}), (3,), "weights"),
        (Noise("gaussian-mixture", {"weights": [0.5, 0.5], "sigmas": [1, 1, 1]}), (3,), "sigmas"),
        (Noise("zhang-l2", {"sigma": 1.0, "k": 3, "dim": 3}), (3,), "k"),
        (Noise("zhang-l1", {"scale": 1.0, "k": 0, "dim": 4}), (3,), "dim"),
        (Noise("zhang-linf", {"sigma": 1.0, "k": -1, "dim": 3}), (3,), "k"),
        (Noise("zhang-linf", {"sigma": 1.0, "k": 2.95, "dim": 3}), (3,), "k=2.95"),
        (Noise("gaussian", {"sigma": 1.0}), (0, 3), "shape"),
        (Noise("gaussian", {"sigma": 1.0, "scale": 1.0}), (3,), "no parameter.*scale"),
    ],
)
def test_bad_noise_raises_naming_the_argument(noise, shape, match):
    with pytest.raises(ValueError, match=match):
        make_noise(noise, shape, device="cpu")


def test_bad_types_and_dtypes():
    with pytest.raises(TypeError, match="noise_or_cert"):
        make_noise("gaussian", (3,), device="cpu")
    with pytest.raises(ValueError, match="dtype"):
        make_noise(Noise("gaussian", {"sigma": 1.0}), (3,), device="cpu", dtype=torch.bfloat16)
    s = make_noise(Noise("gaussian", {"sigma": 1.0}), (3,), device="cpu")
    with pytest.raises(TypeError, match="generator"):
        s.sample(3, generator=0)
    with pytest.raises(ValueError, match="n must be >= 0"):
        s.sample(-1)
    with pytest.raises(ValueError, match="out must have shape"):
        s.sample_into(torch.empty(2, 4))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sampling_matches_the_law():
    """Frozen scipy laws: on the GPU machine's SciPy, ``kstest(x, "norm", args=(0, 0.5))``
    handed (x, 0, 0.5) to ``special.ndtr`` (a TypeError); a frozen law's cdf takes x alone."""
    for family, params, law in [
        ("gaussian", {"sigma": 0.5}, stats.norm(0, 0.5)),
        ("laplace", {"scale": 0.5}, stats.laplace(0, 0.5)),
        ("zhang-l2", {"sigma": 0.5, "k": 0, "dim": 8}, stats.norm(0, 0.5)),
    ]:
        s = make_noise(Noise(family, params), (8,), device="cuda")
        z = s.sample(5000, generator=torch.Generator(device="cuda").manual_seed(0))
        assert z.device.type == "cuda"
        assert ks(z[:, 0].cpu().double().numpy(), law.cdf) > P_MIN


@pytest.mark.parametrize("d", [1, 3, 16])
def test_uniform_ball_radial_and_marginal_laws(d):
    """uniform-ball-l2 (Yang et al. 2020): inside the ball, ``(||z|| / lambda)^d ~ U(0, 1)`` and
    ``(z_1 / lambda + 1) / 2 ~ Beta((d+1)/2, (d+1)/2)`` (scipy closed forms); a shape that does
    not have ``dim`` entries is refused naming dim."""
    lam = 0.7
    z = draw("uniform-ball-l2", {"ball_radius": lam, "dim": d}, (d,), 20000, seed=5, dtype=torch.float64)
    rho = np.linalg.norm(z, axis=1) / lam
    assert rho.max() <= 1.0
    assert ks(rho**d, stats.uniform.cdf) > P_MIN
    assert ks((z[:, 0] / lam + 1) / 2, stats.beta((d + 1) / 2, (d + 1) / 2).cdf) > P_MIN
    assert ks(rho**d, stats.uniform(0, 0.95).cdf) < P_MIN  # not vacuous: a 5% wrong scale fails
    with pytest.raises(ValueError, match="dim"):
        make_noise(Noise("uniform-ball-l2", {"ball_radius": lam, "dim": d + 1}), (d,), device="cpu")
