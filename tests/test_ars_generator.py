"""The ARS noise generator (Hong & Hong Sec. 5): construction, losses (Eqs. 9-12), training,
the dataset-wise fixed distribution, and the PGD pre-perturbation, on tiny 4x4 models."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothcert as sc
from smoothcert.gpu_sampler.per_input.ars_generator import (
    ARSTrainConfig,
    DatasetNoise,
    NoiseGenerator,
    ShiftedModel,
    ars_losses,
    generator_maps,
    pgd_linf,
    train_ars,
)
from smoothcert.gpu_sampler.per_input.memory import certify_sequence

SHAPE = (1, 4, 4)


def _linear(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))


def _toy_data(n=64, seed=0):
    """Class = whether the left half is brighter than the right half (separable)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n,) + SHAPE, generator=g)
    y = (x[..., :2].mean(dim=(1, 2, 3)) > x[..., 2:].mean(dim=(1, 2, 3))).long()
    return x, y


def test_untrained_generator_is_isotropic_sigma0():
    gen = NoiseGenerator(channels=1, sigma0=0.3)
    mu, sigma = gen(torch.rand((3,) + SHAPE))
    assert torch.all(mu == 0)
    np.testing.assert_allclose(sigma.detach().numpy(), 0.3, rtol=1e-6)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 50))
def test_scales_stay_above_the_floor_and_mean_bounded(seed, scale):
    torch.manual_seed(seed)
    gen = NoiseGenerator(channels=1, width=4, growth=4, layers=2, sigma0=0.25, min_scale=0.05)
    with torch.no_grad():
        for p in gen.parameters():
            p.add_(scale * torch.randn_like(p))
    mu, sigma = generator_maps(gen, torch.rand((2,) + SHAPE) * 3 - 1)
    assert np.all(sigma >= 0.05) and np.all(np.isfinite(sigma))
    assert np.all(np.abs(mu) <= 0.25)


def test_loss_terms_follow_eqs_9_to_12():
    x, y = _toy_data(8)
    model = _linear()
    noise = DatasetNoise(SHAPE, sigma0=0.25)
    with torch.no_grad():
        noise.mean.fill_(0.1)
    cfg = ARSTrainConfig(sigma0=0.5, scale_weight=2.0, mean_weight=3.0, samples=3)
    torch.manual_seed(5)
    got = {k: v.detach() for k, v in ars_losses(model, noise, x, y, cfg).items()}
    # min scale 0.25 against target 0.5: |0.5 - 0.25| / 0.5 = 0.5; mean penalty |0.1| = 0.1
    assert float(got["scale_target"]) == pytest.approx(0.5, rel=1e-6)
    assert float(got["mean_penalty"]) == pytest.approx(0.1, rel=1e-6)
    torch.manual_seed(5)
    eps = torch.randn((8, 3) + SHAPE)
    noisy = (x + 0.1).unsqueeze(1) + 0.25 * eps
    with torch.no_grad():
        ce = F.cross_entropy(model(noisy.reshape(-1, *SHAPE)), y.repeat_interleave(3))
    assert float(got["smoothing_ce"]) == pytest.approx(float(ce), rel=1e-5)
    assert float(got["total"]) == pytest.approx(float(ce) + 2.0 * 0.5 + 3.0 * 0.1, rel=1e-5)


def test_joint_training_lowers_the_smoothing_loss_and_resumes(tmp_path):
    x, y = _toy_data(64)
    model, gen = _linear(), NoiseGenerator(channels=1, width=4, growth=4, layers=1, sigma0=0.25)
    cfg = ARSTrainConfig(epochs=3, batch_size=32, lr_classifier=0.1, lr_generator=1e-3, samples=2)
    ck = tmp_path / "ars.pt"
    hist = train_ars(model, gen, x, y, cfg, generator=torch.Generator().manual_seed(0), checkpoint=ck,
                     progress=False)
    assert len(hist) == 3
    assert hist[-1]["smoothing_ce"] < hist[0]["smoothing_ce"]
    before = [p.detach().clone() for p in gen.parameters()]
    again = train_ars(model, gen, x, y, cfg, checkpoint=ck, progress=False)  # all epochs done
    assert again == hist
    assert all(torch.equal(a, b) for a, b in zip(before, gen.parameters()))


def test_frozen_classifier_is_not_changed():
    x, y = _toy_data(32)
    model, noise = _linear(), DatasetNoise(SHAPE)
    w = [p.detach().clone() for p in model.parameters()]
    train_ars(model, noise, x, y, ARSTrainConfig(epochs=1, batch_size=16, train_classifier=False),
              progress=False)
    assert all(torch.equal(a, b) for a, b in zip(w, model.parameters()))
    assert all(p.requires_grad for p in model.parameters())


def test_dataset_wise_maps_are_one_fixed_distribution():
    x, _ = _toy_data(4)
    model, noise = _linear(), DatasetNoise(SHAPE, sigma0=0.3)
    with torch.no_grad():
        noise.mean.normal_(0, 0.05)
        noise.raw_scale.normal_(0, 0.3)
    mu, sigma = noise.maps()
    cert = sc.get("ars-gaussian-l2", sigma=sigma)
    recs = certify_sequence(model, x, [cert] * 4, "fixed-distribution", shifts=[mu] * 4, n0=20, n=200,
                            progress=False)
    assert all(r.procedure == "fixed-distribution" and r.sound for r in recs)
    # shifting the model is the same as sampling around x + mu
    z = torch.rand((2,) + SHAPE)
    shifted = ShiftedModel(model, mu)
    torch.testing.assert_close(shifted(z), model(z + torch.as_tensor(mu, dtype=torch.float32)))


def test_pgd_stays_in_the_ball_and_raises_a_convex_loss():
    model = _linear(1)
    x = torch.full((4,) + SHAPE, 0.5)
    y = torch.tensor([0, 1, 0, 1])
    eps = 16 / 255
    adv = pgd_linf(model, x, y, eps=eps, steps=10)
    assert float((adv - x).abs().max()) <= eps * (1 + 1e-6)
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    # one step on a linear model: CE is convex in the input, so
    # CE(x + a sign(g)) >= CE(x) + a ||g||_1 (first-order lower bound of a convex function)
    a = 0.01
    one = pgd_linf(model, x, y, eps=a, steps=1, step_size=a)
    xg = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, xg)
    with torch.no_grad():
        after = F.cross_entropy(model(one), y, reduction="sum")
    assert float(after) >= float(loss.detach()) + a * float(g.abs().sum()) * (1 - 1e-4)
    noisy = pgd_linf(model, x, y, eps=eps, steps=2, noise_scale=0.25, samples=3,
                     generator=torch.Generator().manual_seed(0))
    assert float((noisy - x).abs().max()) <= eps * (1 + 1e-6)


@pytest.mark.parametrize("make, match", [
    (lambda: NoiseGenerator(sigma0=0.0), "sigma0"),
    (lambda: NoiseGenerator(sigma0=0.1, min_scale=0.2), "min_scale"),
    (lambda: DatasetNoise(SHAPE, sigma0=-1.0), "sigma0"),
    (lambda: DatasetNoise((0, 4)), "shape"),
    (lambda: ARSTrainConfig(scale_weight=-1.0), "scale_weight"),
    (lambda: ARSTrainConfig(samples=0), "samples"),
    (lambda: ARSTrainConfig(lr_generator=0.0), "lr_generator"),
])
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_shapes():
    noise = DatasetNoise(SHAPE)
    with pytest.raises(ValueError, match="shape"):
        noise(torch.rand(2, 1, 5, 5))
    x, y = _toy_data(8)
    with pytest.raises(ValueError, match="labels"):
        train_ars(_linear(), noise, x, y[:5], ARSTrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="eps"):
        pgd_linf(_linear(), x, y, eps=0.0)


def test_shipped_bundle_roundtrip(tmp_path):
    from smoothcert.gpu_sampler.per_input.ars_generator import load_ars_bundle, save_ars_bundle

    b = load_ars_bundle()
    (g_clf, gen), (d_clf, dw) = b["generator"], b["dataset"]
    x = torch.rand(2, 1, 28, 28)
    mu, sigma = generator_maps(gen, x)
    assert sigma.shape == (2, 1, 28, 28) and np.all(sigma > gen.config["min_scale"])
    dmu, dsigma = dw.maps()
    assert dsigma.shape == (1, 28, 28) and np.all(dsigma > 0)
    save_ars_bundle(tmp_path / "b.pt", (g_clf, gen), (d_clf, dw), note="roundtrip")
    again = load_ars_bundle(tmp_path / "b.pt")
    with torch.no_grad():
        torch.testing.assert_close(again["generator"][1](x)[1], gen(x)[1], rtol=0, atol=0)
        torch.testing.assert_close(again["dataset"][0](x), d_clf(x), rtol=0, atol=0)
    assert again["meta"] == {"note": "roundtrip"}
