"""Sound randomized smoothing in floating point (Voracek & Hein, ICLR 2023).

The float sampler draws ``z = fl32(sigma * n)`` with ``n`` a float32 normal: a finite set of
values, and for sigma = 1.5 the product leaves about a third of the float32 grid of ``[1.5, 2)``
unused. A classifier that checks whether the coordinates of its input in that band are such
products knows whether its input is a noisy copy of 0: it answers 0 there and 1 on the noisy
copies of ``x1 = 2^-23`` (each coordinate moved one grid step). So the float sampler certifies a
radius of about 3.7 around 0 although ``x1``, 2e-6 away, is classified 1: the certificate is
false. The grid sampler (bounds/grid.py, gpu_sampler/lattice.py) feeds the classifier exact grid
points, whose law is the one its certificate assumes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import ndtr

from smoothcert.bounds import get
from smoothcert.gpu_sampler import certify, counts, predict
from smoothcert.gpu_sampler.lattice import GaussianGridNoise, boundary_table
from smoothcert.gpu_sampler.noise import make_noise

SIGMA = 1.5
SHAPE = (1, 12, 12)


class RoundingExploit(torch.nn.Module):
    """Class 0 iff every coordinate ``y`` with ``1.5 <= |y| < 2`` equals ``fl32(1.5 n)`` for a
    float32 ``n`` (the candidates are the 7 floats around ``|y| / 1.5``); class 1 otherwise."""

    def forward(self, y):
        a = y.reshape(y.shape[0], -1).float().abs()
        band = (a >= 1.5) & (a < 2.0)
        c, hit = a / SIGMA, torch.zeros_like(band)
        for _ in range(3):
            c = torch.nextafter(c, torch.zeros_like(c))
        for _ in range(7):
            hit |= (c * SIGMA) == a
            c = torch.nextafter(c, torch.full_like(c, 4.0))
        bad = (band & ~hit).any(1)
        return torch.stack([(~bad).float(), bad.float()], 1)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_float_sampler_certifies_a_radius_with_an_adversarial_example_inside():
    """The unsound practice: a certificate around 0 that contains a point classified otherwise."""
    model, x0 = RoundingExploit(), torch.zeros(SHAPE)
    x1 = x0 + 2.0**-23
    cert = get("cohen-gaussian-l2", sigma=SIGMA)
    res = certify(model, x0, cert, n0=100, n=1000, alpha=0.001, generator=gen(), compile=False)
    dist = float(torch.linalg.vector_norm(x1 - x0))
    assert res.prediction == 0 and res.radius > 3.0 and dist < 1e-5
    assert predict(model, x1, cert, n=1000, alpha=0.001, generator=gen(1), compile=False) == 1
    assert counts(model, x1, 1000, cert, generator=gen(2), compile=False).tolist() == [0, 1000]


def test_grid_sampler_does_not_certify_the_exploit():
    """On the grid the exploit sees exact grid points: class 0 is not certified around 0, and the
    certified class holds on the grid points next to 0 (inside the certified ball)."""
    model, x0 = RoundingExploit(), torch.zeros(SHAPE)
    cert = get("gaussian-grid-l2", sigma=SIGMA)
    res = certify(model, x0, cert, n0=100, n=1000, alpha=0.001, generator=gen(), compile=False)
    assert res.prediction != 0
    for j in range(3):
        x = x0.clone().view(-1)
        x[j] = 1 / 255
        assert 1 / 255 < res.radius or res.prediction == -1
        c = counts(model, x.view(SHAPE), 1000, cert, generator=gen(j + 3), compile=False)
        assert int(c.argmax()) == res.prediction


class Recorder(torch.nn.Module):
    """Keeps every batch it is given; answers class 0."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, y):
        self.seen.append(y.clone())
        return torch.zeros(y.shape[0], 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_noisy_inputs_are_exact_grid_points(dtype):
    """What the model sees is ``fl(k / 255)`` for an integer ``k`` (the same map for every input)."""
    model = Recorder()
    x = torch.tensor([[0.0, 1.0, 128 / 255, 3 / 255]], dtype=torch.float64).to(torch.float32)
    counts(model, x, 500, get("gaussian-grid-l2", sigma=0.5), batch_size=200, generator=gen(),
           precision=dtype, compile=False)
    y = torch.cat(model.seen).double()
    k = torch.round(y * 255)
    exact = (k / 255).to(y.dtype if dtype == "float64" else torch.float32).double()
    assert torch.equal(y, exact)
    assert k.std(0).min() > 50  # the noise is really there (sigma 0.5 = 127.5 grid steps)


def test_grid_sampler_refuses_inputs_off_the_grid():
    with pytest.raises(ValueError, match="quantized"):
        counts(Recorder(), torch.full((1, 4), 0.5), 10, get("gaussian-grid-l2", sigma=0.5), compile=False)


def _cell_probs(s, ks):
    return ndtr((ks + 0.5) / s) - ndtr((ks - 0.5) / s)


@pytest.mark.parametrize("bits,s", [(8, 1.3), (62, 2.0)])
def test_grid_sampler_draws_the_rounded_gaussian_exactly(bits, s):
    """Frequencies of ``k`` against ``Phi((k + 1/2)/s) - Phi((k - 1/2)/s)``; 8 bits per draw makes
    about 4% of the draws take the multi-draw path (exact by construction), 62 bits the table."""
    sampler = GaussianGridNoise({"sigma": s / 255, "levels": 255}, (40,), "cpu", torch.float32, bits=bits)
    out = torch.empty(100, 40)
    sampler.sample_units_into(out, gen(7))
    ks, freq = np.unique(out.numpy(), return_counts=True)
    assert np.array_equal(ks, np.round(ks))
    p = _cell_probs(s, ks)
    n = out.numel()
    assert np.all(np.abs(freq - n * p) <= 5 * np.sqrt(n * p) + 2)
    assert abs(freq.sum() - n * p.sum()) <= 5 * np.sqrt(n * (1 - p.sum())) + 2


def test_boundary_table_floors_are_exact():
    """``F_i = floor(Q Phi((i + 1/2)/s))``: nondecreasing, 0 at the bottom, Q - 1 at the top, and
    each entry within [Q b_i - 1, Q b_i] of a double evaluation (to its error)."""
    q = 2**62
    m, table = boundary_table(64.0, q)
    t = np.array(table, dtype=object)
    assert table[0] == 0 and table[-1] == q - 1 and all(a <= b for a, b in zip(table, table[1:]))
    mid = np.arange(-m, m)[np.abs(np.arange(-m, m)) < 64]
    approx = ndtr((mid + 0.5) / 64.0) * q
    assert np.all(np.abs(t[mid + m].astype(float) - approx) <= 1e-12 * q + 1)


def test_grid_sampler_same_seed_same_counts_and_std():
    cert = get("gaussian-grid-l2", sigma=0.25)
    x = torch.round(torch.linspace(0, 1, 16) * 255) / 255
    model = torch.nn.Linear(16, 3)
    torch.nn.init.constant_(model.weight, 0.0)
    with torch.no_grad():
        model.weight[1, :8] = 1.0
        model.weight[2, 8:] = 1.0
    a = counts(model, x, 400, cert, generator=gen(3), compile=False)
    b = counts(model, x, 400, cert, generator=gen(3), compile=False)
    assert torch.equal(a, b)
    z = make_noise(cert, (16,), "cpu").sample(4000, gen(4))
    assert abs(float(z.std()) - 0.25) < 0.01


def test_grid_certificate_is_cohens_radius():
    """Voracek & Hein Sec. 3: on grid inputs the radius is Cohen's (the proof in bounds/grid.py)."""
    grid, cohen = get("gaussian-grid-l2", sigma=0.7), get("cohen-gaussian-l2", sigma=0.7)
    p = np.linspace(0.51, 0.999, 9)
    assert np.array_equal(grid.radius(p), cohen.radius(p))
    assert grid.noise.family == "gaussian-grid" and grid.noise.params["levels"] == 255
    with pytest.raises(ValueError, match="levels"):
        get("gaussian-grid-l2", sigma=0.7, levels=0)
