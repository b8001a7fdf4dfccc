"""Sequential certification of torch models (gpu_sampler/sequential.py).

Half-space classifiers ``f(v) = 1[w . v + b > 0]`` under Gaussian noise have the exact smoothed
radius ``sigma Phi^-1(p_A) = |w . x + b| / ||w||`` (Cohen et al. 2019, Thm. 2's worst case), so
every claim can be checked against the true distance to the boundary. A three-band model gives a
multi-class case with closed-form class probabilities. We also check that stopped inputs are never
sampled again (``samples`` equals the forward passes), reproducibility with a seeded generator,
one input vs a batch, and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import ndtr

import smoothcert as sc
from smoothcert.gpu_sampler.sequential import (
    ModelDraw,
    certify_budget,
    certify_sequential,
    certify_target,
)

SIGMA = 0.5
COHEN = sc.get("cohen-gaussian-l2", sigma=SIGMA)
SMALL = dict(n0=20, n_max=2000, n_first=50, batch_size=4096)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def distances_inputs(half_space):
    """``make(d)``: a fresh HalfSpace(w=(0.6, 0.8)) and inputs in R^2 at signed distances ``d``
    from its boundary."""
    w = np.array([0.6, 0.8])

    def make(d):
        return half_space(w), torch.as_tensor(np.outer(d, w), dtype=torch.float32)

    return make


def band_top(n_runs, alpha):
    return int(stats.binom.isf(1e-6, n_runs, alpha))


def test_target_claims_never_exceed_the_true_distance_beyond_the_band(distances_inputs):
    alpha = 0.2
    radii = np.array([0.1, 0.3])
    d = np.repeat([-0.2, 0.02, 0.099, 0.299, 0.6], 300)  # right below each threshold, and easy ones
    model, x = distances_inputs(d)
    res = certify_target(model, x, COHEN, radii, alpha=alpha, generator=gen(1), batched=True,
                         **SMALL)
    true_class = (d > 0).astype(int)
    wrong = (res.certified & (np.abs(d)[:, None] < radii[None, :])).any(axis=1)
    wrong |= res.certified.any(axis=1) & (res.prediction != true_class)
    assert wrong.sum() <= band_top(d.size, alpha)
    assert res.certified[d == 0.6].all()  # distance 0.6 = 1.2 sigma: certified at both radii
    # every sample drawn was classified once: the model saw exactly the reported samples
    assert model.rows == res.samples.sum()
    assert res.samples[d == 0.6].max() < SMALL["n0"] + SMALL["n_max"]  # decided early
    assert res.seconds > 0


def test_budget_radius_is_below_the_true_distance_beyond_the_band(distances_inputs):
    alpha = 0.2
    d = np.repeat([0.05, 0.25, 0.5], 300)
    model, x = distances_inputs(d)
    res = certify_budget(model, x, COHEN, tol=0.01, alpha=alpha, generator=gen(2), batched=True,
                         **SMALL)
    assert (res.radius > d).sum() <= band_top(d.size, alpha)
    assert model.rows == res.samples.sum()
    assert (res.radius >= 0).all() and np.isfinite(res.radius).all()


def test_runner_up_rule_on_three_bands(bands):
    """Class probabilities are differences of Phi; the second radius sits right above the exact
    Cohen radius of (p_1, max(p_0, p_2)), so every claim there is a failure."""
    alpha = 0.2
    t1, t2 = -0.4, 0.25
    u = np.zeros(400)
    x = torch.as_tensor(np.stack([u, u], axis=1), dtype=torch.float32)
    p = np.array([ndtr(t1 / SIGMA), ndtr(t2 / SIGMA) - ndtr(t1 / SIGMA), 1 - ndtr(t2 / SIGMA)])
    exact = float(COHEN.radius_mp(float(p[1]), float(max(p[0], p[2]))))
    radii = [exact - 0.05, exact + 1e-9]
    res = certify_target(bands(t1, t2), x, COHEN, radii, alpha=alpha, rule="runner-up",
                         generator=gen(3), batched=True, **SMALL)
    assert res.certified[:, 1].sum() <= band_top(u.size, alpha)
    assert (res.prediction[res.certified.any(axis=1)] == 1).all()
    assert res.certified[:, 0].mean() > 0.5  # and the rule has power below the exact radius


def test_seeded_runs_reproduce_and_single_input_shape(distances_inputs):
    model, x = distances_inputs(np.array([0.3, 0.7]))
    a = certify_target(model, x, COHEN, [0.2], generator=gen(5), batched=True, **SMALL)
    b = certify_target(model, x, COHEN, [0.2], generator=gen(5), batched=True, **SMALL)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.samples, b.samples)
    one = certify_budget(model, x[1], COHEN, tol=0.05, generator=gen(6), batched=False, **SMALL)
    assert one.radius.shape == (1,) and one.prediction[0] == 1


def test_model_draw_counts_rows_and_classes(distances_inputs):
    model, x = distances_inputs(np.array([0.3, -0.3, 2.0]))
    draw = ModelDraw(model, x, COHEN, batch_size=100, generator=gen(7))
    c = draw(np.array([0, 2]), 150)
    assert c.shape == (2, 2) and (c.sum(axis=1) == 150).all() and draw.rows == 300
    assert c[1, 1] == 150  # distance 4 sigma: every sample on the positive side (P > 1 - 1e-4)


def test_certify_sequential_matches_the_modes_and_certify_fields(distances_inputs):
    model, x = distances_inputs(np.array([0.4, -0.05]))
    opts = dict(n0=20, n=2000, batch_size=4096, batched=True)
    rows = certify_sequential(model, x, COHEN, "target", radii=[0.1, 0.3], generator=gen(8), **opts)
    ref = certify_target(model, x, COHEN, [0.1, 0.3], n0=20, n_max=2000, batch_size=4096,
                         generator=gen(8), batched=True)
    for i, row in enumerate(rows):
        assert row.mode == "target" and row.samples == ref.samples[i]
        assert row.radius == ref.radius[i] and row.prediction == ref.prediction[i]
        assert row.counts_estimate.sum() + row.counts_select.sum() == row.samples
    assert rows[0].prediction == 1 and rows[0].radius >= 0.3
    one = certify_sequential(model, x[0], COHEN, "budget", generator=gen(9), batched=False,
                             **{k: v for k, v in opts.items() if k != "batched"})
    assert one.mode == "budget" and 0 < one.radius <= 0.4
    with pytest.raises(ValueError, match="mode"):
        certify_sequential(model, x, COHEN, "fixed", **opts)

    class NoStdNoise:  # a noise whose family gives no closed-form std (NoiseFamily.unit_std unset)
        def std(self):
            raise NotImplementedError

    class NoStd:
        noise = NoStdNoise()
        radius = COHEN.radius

    with pytest.raises(ValueError, match="tol"):
        certify_sequential(model, x, NoStd(), "budget", **opts)


def test_bad_input(distances_inputs):
    model, x = distances_inputs(np.array([0.3]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        certify_target(model, x.numpy(), COHEN, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        certify_target(model, x, COHEN, 0.1, alpha=0.0, batched=True)
    with pytest.raises(ValueError, match="precision"):
        certify_budget(model, x, COHEN, 0.1, precision="int8", batched=True)
    with pytest.raises(ValueError, match="tol"):
        certify_budget(model, x, COHEN, float("nan"), batched=True, **SMALL)
    with pytest.raises(ValueError, match="finite"):
        certify_target(model, x * float("nan"), COHEN, 0.1, batched=True)
