"""ANCER per-input optimization (Eiras et al., Eq. 1 and App. C) on tiny models.

With input-independent logits the surrogate gap is constant and every coordinate's gradient of
the relaxed objective is positive and varies only slowly (through the geometric mean), so
Adam's bias-corrected step ``lr * m_hat / sqrt(v_hat)`` is the learning rate to within a fraction
of a few percent: after K steps ``theta ~= theta_iso + K * lr`` (from Adam's update rule).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.bounds.regions import WeightedLpBall
from smoothcert.gpu_sampler.per_input.ancer import (
    AncerConfig,
    ancer_certificate,
    optimize_ancer,
    optimize_ancer_batch,
    relaxed_objective,
)


class _Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([12.0, 0.0, 0.0]))

    def forward(self, z):
        return self.bias.expand(z.shape[0], 3) + 0.0 * z.reshape(z.shape[0], -1).sum(1, keepdim=True)


class _Pixel(torch.nn.Module):
    """Two classes decided by pixel 0 only: noise on the other pixels costs nothing."""

    def forward(self, z):
        s = 10.0 * (z.reshape(z.shape[0], -1)[:, :1] - 0.5)
        return torch.cat([s, -s], dim=1)


@settings(max_examples=4, deadline=None)
@given(lr=st.floats(1e-3, 0.05), iters=st.integers(1, 10), family=st.sampled_from(["gaussian", "uniform"]))
def test_constant_classifier_adam_steps(lr, iters, family):
    x = torch.rand(2, 1, 2, 2)
    iso = np.linspace(0.2, 0.5, 8).reshape(2, 1, 2, 2)  # distinct values: the min stays put
    cfg = AncerConfig(learning_rate=lr, iterations=iters, samples=2, family=family)
    out = optimize_ancer_batch(_Constant(), x, iso, cfg)
    np.testing.assert_allclose(out - iso, np.full(iso.shape, iters * lr), rtol=3e-2)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), kappa=st.floats(0, 5))
def test_projection_keeps_theta_above_isotropic(seed, kappa):
    torch.manual_seed(seed)
    x = torch.rand(2, 1, 2, 2)
    iso = np.array([0.3, 0.6])
    out = optimize_ancer_batch(_Pixel(), x, iso, AncerConfig(iterations=10, samples=8, kappa=kappa))
    assert np.all(out >= iso.reshape(2, 1, 1, 1))
    # superset (ANCER Def. 1) at equal gap: the anisotropic region contains the isotropic ball
    for th, s in zip(out, iso):
        assert WeightedLpBall(2, th, 1.0) >= WeightedLpBall(2, np.full(th.shape, s), 1.0)


def test_irrelevant_pixels_get_more_noise():
    x = torch.full((1, 1, 2, 2), 0.8)
    g = torch.Generator().manual_seed(0)
    out = optimize_ancer_batch(_Pixel(), x, 0.2, AncerConfig(iterations=30, samples=64, learning_rate=0.02),
                               generator=g).reshape(-1)
    assert out[1:].min() > out[0]


def test_relaxed_objective_formula():
    th = torch.tensor([[1.0, 4.0], [2.0, 8.0]])
    gap = torch.tensor([0.5, 1.0])
    got = relaxed_objective(gap, th, 2.0).numpy()
    np.testing.assert_allclose(got, [0.5 * 2.0 + 2 * 0.5 * 1.0, 1.0 * 4.0 + 2 * 1.0 * 2.0], rtol=1e-6)


def test_certificates_and_regions():
    th = np.full((1, 2, 2), 0.5)
    e = ancer_certificate(th, "gaussian")
    assert e.name == "ancer-ellipsoid" and e.region(0.9).p == 2
    c = ancer_certificate(th, "uniform")
    assert c.name == "ancer-cross-polytope" and c.region(0.9).p == 1
    assert sc.get("ancer-ellipsoid", sigma=th).noise.family == "gaussian"
    with pytest.raises(ValueError, match="family"):
        ancer_certificate(th, "laplace")


def test_resume(tmp_path):
    x = torch.rand(3, 1, 2, 2)
    ck = tmp_path / "ancer.npz"
    cfg = AncerConfig(iterations=2, samples=2)
    first, _ = optimize_ancer(_Constant(), x, np.array([0.2, 0.3, 0.4]), cfg, batch_size=2, checkpoint=ck,
                              progress=False)

    class Refuse(torch.nn.Module):
        def forward(self, z):
            raise AssertionError("recomputed")

    again, _ = optimize_ancer(Refuse(), x, np.array([0.2, 0.3, 0.4]), cfg, checkpoint=ck, progress=False)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("kw, match", [
    ({"kappa": -0.1}, "kappa"), ({"kappa": float("nan")}, "kappa"), ({"learning_rate": 0}, "learning_rate"),
    ({"samples": 0}, "samples"), ({"family": "laplace"}, "family"), ({"clip": 0.0}, "clip"),
])
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        AncerConfig(**kw)


def test_bad_theta_iso():
    x = torch.rand(2, 1, 2, 2)
    cfg = AncerConfig(iterations=1, samples=1)
    with pytest.raises(ValueError, match="theta_iso"):
        optimize_ancer_batch(_Constant(), x, np.ones((2, 1, 3, 3)), cfg)
    with pytest.raises(ValueError, match="theta_iso"):
        optimize_ancer_batch(_Constant(), x, np.array([0.1, 0.0]), cfg)
    with pytest.raises(ValueError, match="theta_iso"):
        optimize_ancer_batch(_Constant(), x, np.array([0.1, np.inf]), cfg)
