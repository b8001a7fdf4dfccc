"""The counting sampler and CERTIFY/PREDICT on hand-built models with closed-form smoothed laws.

A half-space classifier ``f(x) = 1[w . x + b > 0]`` under noise z has ``P(f(x + z) = 1) =
P(w . z > -(w . x + b))``: ``Phi((w.x + b) / ||sigma w||)`` for Gaussian noise (Cohen et al. 2019,
Thm. 2's worst case), the Laplace/uniform CDF of one coordinate when ``w = e_j``. The counts must
follow that binomial law (exact binomial tests, seeded so each verdict is reproducible), and the
certified radius can never exceed the exact distance to the boundary.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import smoothcert as sc
from smoothcert.bounds import Noise
from smoothcert.gpu_sampler import certify, counts, make_noise, predict
from smoothcert.gpu_sampler.sampler import bf16_inference_model

P_MIN = 1e-4


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


class Recorder(torch.nn.Module):
    """Records what the model sees, then classifies by the sign of the first coordinate."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        self.seen = []

    def forward(self, x):
        self.seen.append(dict(
            dtype=x.dtype, ptr=x.data_ptr(), rows=x.shape[0], data=x.detach().clone(),
            inference=torch.is_inference_mode_enabled(), training=self.training,
            channels_last=x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] == 1
            and x.stride()[1] == 1, conv_dtype=self.conv(x).dtype,
        ))
        s = x.flatten(1)[:, 0].float()
        return torch.stack([-s, s], dim=1)


def binomial_ok(k, n, p):
    return stats.binomtest(int(k), int(n), float(p)).pvalue > P_MIN


# ---------------------------------------------------------------------------------------------
# counts follow the closed-form law
def test_gaussian_counts_of_a_batch_follow_the_binomial_law(half_space):
    sigma = 0.5
    x = torch.zeros(4, 1, 3, 3)
    x[:, 0, 0, 0] = torch.tensor([0.0, 0.3, -0.6, 1.0])
    n = 4000
    c = counts(half_space(np.eye(9)[0]), x, n, sc.get("cohen-gaussian-l2", sigma=sigma),
               batch_size=777, generator=gen())  # batches cut across inputs
    assert c.shape == (4, 2) and c.dtype == torch.int64
    assert (c.sum(dim=1) == n).all()
    for i in range(4):
        p1 = stats.norm.cdf(float(x[i, 0, 0, 0]) / sigma)
        assert binomial_ok(c[i, 1], n, p1), (i, c[i], p1)


def test_per_coordinate_gaussian_with_mean_follows_the_law(half_space):
    sigma = np.array([0.1, 2.0, 0.5])
    mean = np.array([0.0, 0.0, 0.2])
    w = np.array([1.0, 1.0, -1.0])
    x = torch.tensor([0.3, -0.1, 0.4])
    n = 6000
    noise = Noise("gaussian", {"sigma": sigma, "mean": mean})
    c = counts(half_space(w), x, n, noise, generator=gen(1))
    assert c.shape == (2,)
    margin = float(w @ (x.numpy() + mean))
    assert binomial_ok(c[1], n, stats.norm.cdf(margin / np.linalg.norm(sigma * w)))


@pytest.mark.parametrize("family,params,cdf", [
    ("laplace", {"scale": 0.4}, lambda t: stats.laplace.cdf(t, scale=0.4)),
    ("uniform", {"half_width": 0.8}, lambda t: stats.uniform.cdf(t, -0.8, 1.6)),
    ("zhang-l1", {"scale": 0.4, "k": 0, "dim": 4}, lambda t: stats.laplace.cdf(t, scale=0.4)),
])
def test_axis_half_space_counts_under_product_noise(family, params, cdf, half_space):
    x = torch.zeros(3, 4)
    x[:, 0] = torch.tensor([0.1, -0.3, 0.5])
    n = 5000
    c = counts(half_space(np.eye(4)[0]), x, n, Noise(family, params), batch_size=600,
               generator=gen(2), batched=True)
    for i in range(3):  # class 1 iff x_0 + z_0 > 0
        assert binomial_ok(c[i, 1], n, 1 - cdf(-float(x[i, 0]))), (family, i, c[i])


def test_three_class_counts_follow_the_multinomial_law(bands):
    sigma, t1, t2 = 0.5, -0.2, 0.4
    x = torch.tensor([[0.1, 0.0], [0.5, 0.0]])
    n = 6000
    c = counts(bands(t1, t2), x, n, sc.get("cohen-gaussian-l2", sigma=sigma), batch_size=1000,
               generator=gen(3), batched=True).numpy()
    for i in range(2):
        cdf = stats.norm.cdf((np.array([t1, t2]) - float(x[i, 0])) / sigma)
        p = np.array([cdf[0], cdf[1] - cdf[0], 1 - cdf[1]])
        assert stats.chisquare(c[i], n * p).pvalue > P_MIN


def test_power_of_the_law_check(half_space):
    """The binomial check above rejects a sampler off by 5% in sigma."""
    c = counts(half_space([1.0]), torch.tensor([0.5]), 20000, Noise("gaussian", {"sigma": 0.5}),
               generator=gen(4))
    assert binomial_ok(c[1], 20000, stats.norm.cdf(1.0))
    assert not binomial_ok(c[1], 20000, stats.norm.cdf(0.5 / 0.525))


@settings(max_examples=30)
@given(b=st.integers(1, 5), n=st.integers(1, 300), batch=st.integers(1, 400), single=st.booleans())
def test_counts_sum_to_n_for_any_batching(b, n, batch, single, half_space):
    x = torch.linspace(-3, 3, b).reshape(b, 1)
    xin = x[0] if single else x
    c = counts(half_space([1.0]), xin, n, Noise("gaussian", {"sigma": 0.3}), batch_size=batch,
               generator=gen(), batched=not single)
    assert c.shape == ((2,) if single else (b, 2))
    assert (c.sum(dim=-1) == n).all() and (c >= 0).all()
    if not single:  # inputs 5 sigma from the boundary keep their side: rows are not mixed up
        far = x[:, 0].abs() > 1.5
        assert (c[far & (x[:, 0] > 0), 1] == n).all() and (c[far & (x[:, 0] < 0), 0] == n).all()


def test_same_seed_same_counts_and_any_generator(half_space):
    model, x = half_space(np.ones(6)), torch.zeros(2, 6)
    noise = Noise("laplace", {"scale": 1.0})
    a = counts(model, x, 500, noise, batch_size=128, generator=gen(5), batched=True)
    b = counts(model, x, 500, noise, batch_size=128, generator=gen(5), batched=True)
    assert torch.equal(a, b)
    assert counts(model, x, 500, noise, batched=True).sum() == 1000  # global RNG


# ---------------------------------------------------------------------------------------------
# how the model is evaluated
def test_buffer_reuse_inference_mode_eval_mode_and_float32_noise():
    model = Recorder().train()
    x = torch.rand(2, 1, 4, 4)
    counts(model, x, 300, Noise("gaussian", {"sigma": 0.5}), batch_size=256, generator=gen())
    seen = model.seen
    assert [s["rows"] for s in seen] == [256, 256, 88]
    assert len({s["ptr"] for s in seen}) == 1  # one preallocated buffer, no per-batch copies
    assert all(s["inference"] and not s["training"] and s["dtype"] == torch.float32 for s in seen)
    assert model.training and model.conv.training  # the caller's mode is restored
    # rows 0..299 belong to input 0, 300..599 to input 1
    noisy = torch.cat([s["data"] for s in seen])
    z = torch.cat([noisy[:300] - x[0], noisy[300:] - x[1]])
    assert z.std().item() == pytest.approx(0.5, rel=0.03)


def test_bfloat16_path_adds_float32_noise_then_autocasts():
    model = Recorder()
    x = torch.rand(1, 6, 6)
    counts(model, x, 200, Noise("gaussian", {"sigma": 0.25}), precision="bfloat16", generator=gen())
    assert model.seen == []  # the bf16 path runs its inference copy (untraceable: unfused)
    (s,) = bf16_inference_model(model).seen
    assert s["dtype"] == torch.float32 and s["channels_last"]
    assert s["conv_dtype"] == torch.bfloat16  # the model itself runs in bfloat16
    noisy = s["data"]
    exact_in_bf16 = (noisy.to(torch.bfloat16).float() == noisy).float().mean().item()
    assert exact_in_bf16 < 0.05  # noise and sum were formed in float32, not rounded to bfloat16
    assert (noisy - x).std().item() == pytest.approx(0.25, rel=0.05)


def _conv_bn_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(8 * 36, 5),
    )
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them matters
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.3, 0.3)
    return model.train()


def test_bfloat16_counts_agree_with_float32_on_the_same_noise():
    model = _conv_bn_model()
    x = torch.rand(2, 1, 8, 8)
    noise = Noise("gaussian", {"sigma": 0.25})
    c32 = counts(model, x, 2000, noise, batch_size=500, generator=gen(9))
    c16 = counts(model, x, 2000, noise, batch_size=500, generator=gen(9), precision="bfloat16")
    assert (c32 - c16).abs().sum(dim=1).max() <= 0.03 * 2 * 2000  # a few flips near ties only
    assert (c32 > 0).sum() >= 3  # the model does not predict one class only
    # the caller's model is untouched: layout, mode, BatchNorm
    assert model[0].weight.is_contiguous() and model.training
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    fast = bf16_inference_model(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())  # folded
    assert fast is bf16_inference_model(model)  # cached while the weights are unchanged


def test_bfloat16_copy_follows_changed_weights():
    model = _conv_bn_model()
    x = torch.rand(1, 8, 8)
    noise = Noise("gaussian", {"sigma": 0.25})
    before = counts(model, x, 1000, noise, generator=gen(1), precision="bfloat16")
    with torch.no_grad():
        model[4].bias.data[3] += 100.0  # through .data: no version bump, still detected
    after = counts(model, x, 1000, noise, generator=gen(1), precision="bfloat16")
    assert after[3] == 1000 and before[3] < 1000
    model[4] = torch.nn.Linear(8 * 36, 5)
    with torch.no_grad():
        model[4].weight.zero_()
        model[4].bias.copy_(torch.tensor([0.0, 9.0, 0.0, 0.0, 0.0]))
    assert counts(model, x, 500, noise, generator=gen(1), precision="bfloat16")[1] == 500


def test_float64_precision_runs_a_float64_model(half_space):
    model = half_space([1.0, -1.0]).double()
    model.w = model.w.double()
    c = counts(model, torch.tensor([0.2, 0.0], dtype=torch.float64), 3000,
               Noise("gaussian", {"sigma": 0.4}), precision="float64", generator=gen())
    assert binomial_ok(c[1], 3000, stats.norm.cdf(0.2 / (0.4 * math.sqrt(2))))


# ---------------------------------------------------------------------------------------------
# CERTIFY and PREDICT
def test_certify_half_space_is_sound_and_abstains_on_the_boundary(half_space):
    sigma = 0.5
    cert = sc.get("cohen-gaussian-l2", sigma=sigma)
    w = np.array([0.6, 0.8, 0.0])  # unit normal: distance to the boundary = |w . x|
    dist = np.array([0.4, 0.0, -0.9])
    x = torch.as_tensor(dist[:, None] * w, dtype=torch.float32)
    res = certify(half_space(w), x, cert, n0=100, n=20000, alpha=0.001, batch_size=4096,
                  generator=gen(), batched=True)
    assert [r.prediction for r in res] == [1, -1, 0]
    for r, d in zip(res, dist):
        assert r.counts_select.sum() == 100 and r.counts_estimate.sum() == 20000
        assert 0.0 <= r.radius <= abs(d)  # never beyond the exact distance (Cohen Thm. 2: tight)
        p_exact = stats.norm.cdf(abs(d) / sigma)
        if r.prediction >= 0:
            assert r.p_a_lower < p_exact  # the lower bound holds
            assert r.radius == cert.radius(r.p_a_lower)
            assert r.radius > 0.75 * abs(d)  # and is not vacuous at n = 20000
            assert r.p_b_upper == 1 - r.p_a_lower
    assert res[1].radius == 0.0


@pytest.mark.parametrize("name,params", [
    ("cohen-gaussian-l2", {"sigma": 0.5}),
    ("teng-laplace-l1-binary", {"scale": 0.35}),
    ("uniform-l1", {"half_width": 0.9}),
])
def test_certify_is_tight_but_sound_on_an_axis_half_space(name, params, half_space):
    """For f = 1[x_0 > 0] the exact smoothed probability at distance d gives radius exactly d in
    all three families (Cohen Thm. 2; Teng Thm. 3: p = 1 - e^{-d/b}/2; uniform: p = (d + lambda)
    / (2 lambda)), so the sampled certificate must land just below d."""
    cert = sc.get(name, **params)
    dist = 0.3
    x = torch.tensor([dist, 0.0, 0.0])
    r = certify(half_space([1.0, 0.0, 0.0]), x, cert, n0=100, n=20000, generator=gen(11))
    assert r.prediction == 1
    assert 0.85 * dist < r.radius <= dist


def test_certify_runner_up_rule_is_bounded_by_the_exact_probabilities(bands):
    sigma, t1, t2 = 0.5, -0.5, 0.5
    cert = sc.get("cohen-gaussian-l2", sigma=sigma)
    x = torch.tensor([[0.0, 0.0]])
    r = certify(bands(t1, t2), x, cert, n0=100, n=20000, rule="runner-up", generator=gen(1),
                batched=True)[0]
    p_a = stats.norm.cdf(0.5 / sigma) - stats.norm.cdf(-0.5 / sigma)
    p_b = stats.norm.cdf(-0.5 / sigma)
    assert r.prediction == 1
    assert r.p_a_lower <= p_a and r.p_b_upper >= p_b
    assert 0.0 < r.radius <= cert.radius(p_a, p_b)
    single = certify(bands(t1, t2), x[0], cert, n0=100, n=2000, rule="binary", generator=gen(1))
    assert single.prediction == 1 and 0.0 < single.radius <= cert.radius(p_a)


def test_predict_returns_the_class_or_abstains(half_space):
    noise = sc.get("cohen-gaussian-l2", sigma=0.5)
    x = torch.tensor([[1.0], [0.0], [-1.0]])
    preds = predict(half_space([1.0]), x, noise, n=2000, alpha=0.001, generator=gen(), batched=True)
    assert preds.tolist() == [1, -1, 0]
    assert predict(half_space([1.0]), x[0], noise, n=2000, generator=gen()) == 1


# ---------------------------------------------------------------------------------------------
# bad input
NOISE = Noise("gaussian", {"sigma": 0.5})


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(x=torch.zeros(3, dtype=torch.int64)), TypeError, "x must be a floating"),
    (dict(x=[0.0, 0.0, 0.0]), TypeError, "x must be a torch.Tensor"),
    (dict(x=torch.tensor([0.0, float("nan"), 0.0])), ValueError, "finite"),
    (dict(n=-1), ValueError, "n must be >= 0"),
    (dict(n=1.5), TypeError, "n must be an integer"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(precision="float16"), ValueError, "precision"),
    (dict(num_classes=3), ValueError, "num_classes=3"),
    (dict(n=0), ValueError, "num_classes"),
    (dict(generator=1), TypeError, "generator"),
    (dict(noise=make_noise(NOISE, (4,), device="cpu")), ValueError, "shape"),
])
def test_counts_bad_input(kwargs, err, match, half_space):
    args = dict(model=half_space(np.ones(3)), x=torch.zeros(3), n=10, noise=NOISE)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        counts(**args)


def test_model_with_wrong_output_shape_is_reported():
    with pytest.raises(ValueError, match="logits of shape"):
        counts(lambda z: z.sum(), torch.zeros(3), 10, NOISE)


def test_n0_zero_counts_and_bad_certify_arguments(half_space):
    c = counts(half_space([1.0]), torch.zeros(1), 0, NOISE, num_classes=2)
    assert c.tolist() == [0, 0]
    cert = sc.get("cohen-gaussian-l2", sigma=0.5)
    for kwargs, match in [(dict(alpha=1.0), "alpha"), (dict(n0=0), "n0"), (dict(rule="max"), "rule")]:
        with pytest.raises(ValueError, match=match):
            certify(half_space([1.0]), torch.zeros(1), cert, n=10, **kwargs)


class _Small(torch.nn.Module):
    """A tiny conv net with fixed weights (seeded): what the compiled path must count the same.
    The buffer ``compiled_rows`` counts the rows seen inside a compiled graph
    (``torch.compiler.is_compiling()``), so a test can tell a compiled step from an eager
    fallback (a buffer, not a Python list: torch would guard on a list and recompile)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.conv = torch.nn.Conv2d(1, 3, 3)
        self.fc = torch.nn.Linear(3 * 4 * 4, 4)
        self.register_buffer("compiled_rows", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.compiled_rows += x.shape[0] * torch.compiler.is_compiling()
        return self.fc(torch.relu(self.conv(x)).flatten(1))


# the raw draws of each family, restated from the samplers' docstrings (no sampler code)
def _gaussian_draw(g, shape):
    return 0.5 * torch.empty(shape).normal_(generator=g) + 0.1


def _laplace_draw(g, shape):
    bit = torch.empty(shape).bernoulli_(0.5, generator=g)
    return torch.empty(shape).exponential_(generator=g) * (2 * bit - 1) * 0.5


def _uniform_draw(g, shape):
    return torch.empty(shape).uniform_(-1.0, 1.0, generator=g) * 0.5


def _pareto_draw(g, shape):
    bit = torch.empty(shape, dtype=torch.float64).bernoulli_(0.5, generator=g)
    e = torch.empty(shape, dtype=torch.float64).exponential_(generator=g)
    return (torch.expm1(e / 3.0) * (2 * bit - 1) * 0.5).float()


ELEMENTWISE = {
    "gaussian": (Noise("gaussian", {"sigma": 0.5, "mean": 0.1}), _gaussian_draw),
    "laplace": (Noise("laplace", {"scale": 0.5}), _laplace_draw),
    "uniform": (Noise("uniform", {"half_width": 0.5}), _uniform_draw),
    "pareto": (Noise("pareto", {"lambd": 0.5, "tail_index": 3.0}), _pareto_draw),
}


@pytest.mark.parametrize("family", sorted(ELEMENTWISE))
def test_raw_draw_and_transform_are_the_sample(family):
    """The compiled step's split of the noise -- ``draw`` (eager, through the generator), then
    the pure ``transform`` -- gives exactly ``sample()``'s noise from the same seed, and both are
    the documented law's stream, restated here without the sampler's code; the transform does
    not touch the generator."""
    noise, restated = ELEMENTWISE[family]
    sampler = make_noise(noise, (6, 6), device="cpu")
    raws = sampler.raw_buffers(40, torch.float32)
    g = gen(3)
    sampler.draw([r[:33] for r in raws], g)
    state = g.get_state()
    z = sampler.transform(*[r[:33] for r in raws]).float()
    assert torch.equal(g.get_state(), state)
    assert torch.equal(z, sampler.sample(33, gen(3)))
    assert torch.equal(z, restated(gen(3), (33, 6, 6)))


def test_lattice_raw_draw_is_the_noise_in_integer_units():
    sampler = make_noise(sc.get("gaussian-grid-l2", sigma=0.25), (5,), device="cpu")
    (raw,) = sampler.raw_buffers(30, torch.float32)
    sampler.draw([raw], gen(4))
    assert torch.equal(sampler.transform(raw), raw) and torch.equal(raw, raw.round())
    assert torch.equal(raw / 255, sampler.sample(30, gen(4)))


def _eager_and_compiled(noise, x, precision="float32"):
    model = _Small()
    eager = counts(model, x, 65, noise, batch_size=50, generator=gen(1), compile=False,
                   precision=precision)
    fast = counts(model, x, 65, noise, batch_size=50, generator=gen(1), compile=True,
                  precision=precision)
    if precision == "float32":  # (bfloat16 runs the model's inference copy)
        assert int(model.compiled_rows) == 150  # three batches of 50 rows, all compiled
    assert eager.sum(-1).tolist() == [65, 65]  # 130 samples in batches of 50: the padded last
    return eager, fast  # batch (20 samples, 30 padding rows) is counted without its padding


def test_compiled_counts_equal_eager_counts_same_seed():
    """compile=True (noise transform, add, forward, argmax and tally as one torch.compile'd step,
    padded last batch) against eager, float32 on the CPU: the raw draw goes through the same
    generator, the compiled transform and add round as eager (no contraction), the argmax agrees,
    so the counts are identical. Gaussian with a mean (float32 raw draws) and Pareto (float64 raw
    draws, expm1) here; Laplace, uniform, lattice, a rejection sampler and bfloat16 in the slow
    test below (each sampler type is one more compile: torch.compiler.reset() keeps the tests
    below torch's recompile limit of 8 per function, past which it falls back to eager)."""
    torch.compiler.reset()
    x = torch.rand(2, 1, 6, 6, generator=gen(5))
    for family in ("gaussian", "pareto"):
        eager, fast = _eager_and_compiled(ELEMENTWISE[family][0], x)
        assert torch.equal(eager, fast), family


@pytest.mark.slow
def test_compiled_counts_equal_eager_for_every_kind_of_sampler():
    torch.compiler.reset()
    x = torch.rand(2, 1, 6, 6, generator=gen(5))
    grid = sc.get("gaussian-grid-l2", sigma=0.25)
    for noise, xin, precision in [
        (ELEMENTWISE["laplace"][0], x, "float32"),
        (ELEMENTWISE["uniform"][0], x, "float32"),
        (grid, torch.round(x * 255) / 255, "float32"),  # integer units, / levels in the step
        (Noise("zhang-l2", {"sigma": 0.5, "k": 2.0, "dim": 36}), x, "float32"),  # eager transform
        (NOISE, x, "bfloat16"),  # float32 noise and add, then bf16 autocast
    ]:
        eager, fast = _eager_and_compiled(noise, xin, precision)
        assert torch.equal(eager, fast), (noise, precision)
    # a wrong output is reported, and does not switch the compiled step off for later calls
    with pytest.raises(ValueError, match="num_classes=3"):
        counts(_Small(), x, 65, NOISE, batch_size=50, compile=True, num_classes=3)
    eager, fast = _eager_and_compiled(NOISE, x)
    assert torch.equal(eager, fast)


def test_compile_option_is_checked():
    with pytest.raises(ValueError, match="compile must be"):
        counts(_Small(), torch.zeros(1, 6, 6), 4, NOISE, compile="yes")
    with pytest.raises(TypeError, match="nn.Module"):
        counts(lambda z: z.flatten(1), torch.zeros(1, 6, 6), 4, NOISE, compile=True)
    # "auto" compiles only on CUDA: a plain callable on the CPU keeps working
    assert counts(lambda z: z.flatten(1)[:, :2], torch.zeros(1, 6, 6), 4, NOISE, compile="auto").sum() == 4


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_cuda_counts_follow_the_law(precision, compile, half_space):
    x = torch.zeros(2, 1, 3, 3, device="cuda")
    x[:, 0, 0, 0] = torch.tensor([0.3, -0.2])
    model = half_space(np.eye(9)[0]).cuda()
    model.w = model.w.cuda()
    c = counts(model, x, 4000, NOISE, generator=torch.Generator(device="cuda").manual_seed(0),
               precision=precision, compile=compile)
    for i in range(2):
        assert binomial_ok(c[i, 1], 4000, stats.norm.cdf(float(x[i, 0, 0, 0]) / 0.5))
