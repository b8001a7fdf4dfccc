"""Isotropic data-dependent sigma (Alfarra et al. 2022, Algorithm 1) on tiny models.

A classifier whose logits ignore the input has a noise-independent surrogate gap, so
``R(theta) = theta * gap`` and K gradient-ascent steps move theta by exactly ``K * alpha * gap``:
the gap is computed here from scipy's normal quantile, not from the module.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import smoothcert as sc
from smoothcert.bounds.family import noise_family
from smoothcert.gpu_sampler.per_input.data_dependent import (
    SURROGATE_GAPS,
    DataDependentConfig,
    optimize_sigma_batch,
    optimize_sigmas,
    reparameterization_noise,
    surrogate_gap,
    top2_gap,
)


class _Constant(torch.nn.Module):
    """Logits that do not depend on the input: softmax (~1, ~0, ~0) -> clipped (0.98, 0.02)."""

    def __init__(self, k=3):
        super().__init__()
        self.k = k
        self.bias = torch.nn.Parameter(torch.tensor([12.0] + [0.0] * (k - 1)))

    def forward(self, z):
        return self.bias.expand(z.shape[0], self.k) + 0.0 * z.reshape(z.shape[0], -1).sum(1, keepdim=True)


class _Ramp(torch.nn.Module):
    """Two classes split by the first coordinate, steep: more noise flips more samples."""

    def forward(self, z):
        s = 20.0 * (z.reshape(z.shape[0], -1)[:, :1] - 0.5)
        return torch.cat([s, -s], dim=1)


class _Slab(torch.nn.Module):
    """Class 0 iff |z_0| < w (steep logistic edges), class 1 otherwise."""

    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, z):
        s = 400.0 * (self.w - z.reshape(z.shape[0], -1)[:, :1].abs())
        return torch.cat([s, -s], dim=1)


@settings(max_examples=8, deadline=None)
@given(sigma0=st.floats(0.05, 1.0), lr=st.floats(1e-4, 0.05), iters=st.integers(1, 20),
       family=st.sampled_from(["gaussian", "uniform"]))
def test_constant_classifier_moves_sigma_by_exact_amount(sigma0, lr, iters, family):
    cfg = DataDependentConfig(sigma0=sigma0, learning_rate=lr, iterations=iters, samples=2, family=family)
    x = torch.rand(3, 1, 2, 2)
    out = optimize_sigma_batch(_Constant(), x, cfg)
    gap = norm.ppf(0.98) if family == "gaussian" else 0.98 - 0.02  # (Phi^-1(.98) - Phi^-1(.02))/2
    expected = sigma0 + iters * lr * gap
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_gap_formulas_match_scipy():
    psi = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.45, 0.05]], dtype=torch.float64)
    g = top2_gap(psi, "gaussian", 1e-6).numpy()
    np.testing.assert_allclose(g, [(norm.ppf(0.7) - norm.ppf(0.2)) / 2, (norm.ppf(0.5) - norm.ppf(0.45)) / 2],
                               rtol=1e-10)
    u = top2_gap(psi, "uniform", 1e-6).numpy()
    np.testing.assert_allclose(u, [0.5, 0.05], rtol=1e-12)


@pytest.mark.parametrize("family", sorted(SURROGATE_GAPS))
def test_surrogate_gap_is_its_certificates_radius(family):
    # the differentiable gap is the unit radius of the registered certificate it names (at scale 1
    # of the family's scale parameter), over the whole (p_b, p_a) grid; both certificates key on
    # the same noise family
    rule = surrogate_gap(family)
    iso = sc.get(rule.isotropic, **{noise_family(family).scale_param: 1.0})
    assert iso.noise.family == family
    aniso = sc.get(rule.anisotropic, **{noise_family(family).scale_param: np.full(3, 1.0)})
    assert aniso.noise.family == family
    p_b, p_a = np.meshgrid(np.linspace(0.01, 0.45, 12), np.linspace(0.5, 0.99, 12))
    keep = (p_a > p_b) & (p_a + p_b <= 1)
    gap = rule.gap(torch.tensor(p_a[keep]), torch.tensor(p_b[keep])).numpy()
    np.testing.assert_allclose(gap, iso.radius(p_a[keep], p_b[keep]), rtol=1e-9)


def test_a_family_without_a_surrogate_is_refused_by_name():
    with pytest.raises(ValueError, match="family must be one of .*'gaussian'.*got 'laplace'"):
        DataDependentConfig(family="laplace")
    with pytest.raises(ValueError, match="got 'laplace'"):
        top2_gap(torch.tensor([[0.7, 0.3]]), "laplace", 0.02)


def test_reparameterization_noise_draws_the_registered_unit_sampler():
    x = torch.zeros(3, 1, 2, 2, dtype=torch.float64)
    eps = reparameterization_noise("uniform", x, 5, torch.Generator().manual_seed(2))
    assert eps.shape == (3, 5, 1, 2, 2) and eps.dtype == torch.float64
    assert eps.abs().max() <= 1.0
    same = 2.0 * torch.rand((3, 5, 1, 2, 2), generator=torch.Generator().manual_seed(2)) - 1.0
    assert torch.equal(eps, same.double())  # the draws of the code before the registry


@pytest.mark.parametrize("w", [0.2, 0.4])
def test_sigma_converges_to_the_slab_optimum(w):
    # At the centre of a slab of half-width w, p_A(sigma) = 2 Phi(w/sigma) - 1 and the binary
    # surrogate is R = sigma Phi^-1(min(p_A, 0.98)): it grows like 2.054 sigma while p_A is clipped
    # and falls once p_A < 0.98, so the ascent settles at p_A = 0.98, sigma* = w / Phi^-1(0.99).
    target = w / norm.ppf(0.99)
    cfg = DataDependentConfig(sigma0=0.05, learning_rate=0.004, iterations=60, samples=512)
    x = torch.zeros(1, 1, 1, 1)
    out = optimize_sigma_batch(_Slab(w), x, cfg, generator=torch.Generator().manual_seed(0))
    assert abs(out[0] - target) < 0.15 * target


def test_scale_stays_positive():
    cfg = DataDependentConfig(sigma0=0.3, learning_rate=50.0, iterations=5, samples=8, min_scale=1e-2)
    x = torch.full((1, 1, 2, 2), 0.52)
    out = optimize_sigma_batch(_Ramp(), x, cfg, generator=torch.Generator().manual_seed(0))
    assert np.all(out >= 1e-2) and np.all(np.isfinite(out))


def test_resume_reads_back_finished_inputs(tmp_path):
    x = torch.rand(5, 1, 2, 2)
    cfg = DataDependentConfig(iterations=3, samples=2, learning_rate=0.01)
    ck = tmp_path / "dd.npz"
    first, secs = optimize_sigmas(_Constant(), x, cfg, batch_size=2, checkpoint=ck, progress=False)
    assert secs.shape == (5,) and np.all(secs >= 0)

    class Refuse(torch.nn.Module):
        def forward(self, z):
            raise AssertionError("recomputed a finished input")

    again, _ = optimize_sigmas(Refuse(), x, cfg, checkpoint=ck, progress=False)
    np.testing.assert_array_equal(first, again)


def test_model_state_is_restored():
    m = _Constant()
    m.train()
    optimize_sigma_batch(m, torch.rand(1, 1, 2, 2), DataDependentConfig(iterations=1, samples=1))
    assert m.training and m.bias.requires_grad


@pytest.mark.parametrize("kw, match", [
    ({"sigma0": 0.0}, "sigma0"), ({"learning_rate": -1.0}, "learning_rate"),
    ({"iterations": -1}, "iterations"), ({"samples": 0}, "samples"), ({"clip": 0.5}, "clip"),
    ({"family": "laplace"}, "family"), ({"min_scale": -1e-3}, "min_scale"),
])
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        DataDependentConfig(**kw)


def test_bad_inputs():
    cfg = DataDependentConfig(iterations=1, samples=1)
    with pytest.raises(TypeError, match="x"):
        optimize_sigma_batch(_Constant(), np.zeros((1, 1, 2, 2)), cfg)
    with pytest.raises(ValueError, match="x"):
        optimize_sigma_batch(_Constant(), torch.full((1, 1, 2, 2), float("nan")), cfg)
    with pytest.raises(ValueError, match="sigma_init"):
        optimize_sigma_batch(_Constant(), torch.rand(2, 1, 2, 2), cfg, sigma_init=np.ones(3))
    with pytest.raises(ValueError, match="sigma_init"):
        optimize_sigma_batch(_Constant(), torch.rand(2, 1, 2, 2), cfg, sigma_init=np.array([0.1, -0.1]))
