"""The verifier's double-sampling entries (verify/dsrs.py): the witness's closed form against a
direct quadrature, the two-constraint witness attaining the radius at q_a > 0 (Li et al. Thm 3
is tight), the exact Q sampler's law, the two-sample Monte Carlo on a classifier where Q's bound
lifts the radius, and the view that binds q_a."""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import special, stats

import smoothcert as sc
from smoothcert.verify import common, montecarlo, witnesses
from smoothcert.verify.dsrs import AtQ, Ball, sample_ball_q


def _view(d):
    (inst,) = [i for i in common.instances("dsrs-gaussian-l2") if i.dim == d]
    return inst


@pytest.mark.parametrize("d", [3, 9])
def test_ball_closed_form_matches_a_direct_quadrature(d):
    """int phi(x - r) G(x) over [-T, t] with G the chi-square(d-1) CDF from mpmath's gammainc."""
    with mp.workdps(30):
        ball = Ball(d, 0.3)
        assert mp.gammainc(mp.mpf(d) / 2, 0, ball.T**2 / 2, regularized=True) == pytest.approx(0.3, rel=1e-25)
        for r, t in ((0, 0.4), (1.7, 1.0), (3.0, -0.5), (0.5, 10)):
            ref = mp.quad(lambda x: mp.npdf(x - r) * mp.gammainc(
                mp.mpf(d - 1) / 2, 0, (ball.T**2 - x * x) / 2, regularized=True), [-ball.T, min(t, ball.T)])
            assert abs(ball.inside(r, t) - ref) < mp.mpf(10) ** -18
        assert abs(ball.prob(0, mp.inf, -mp.inf) - ball.mass) < mp.mpf(10) ** -25
        assert abs(ball.prob(1.3, 0.2, 0.2) - mp.ncdf(0.2 - 1.3)) < mp.mpf(10) ** -25  # a half-space


@pytest.mark.parametrize("d, p_a", [(3, 0.8), (9, 0.7)])
def test_two_constraint_witness_attains_the_radius(d, p_a):
    inst = _view(d)
    cert = inst.cert
    assert cert.radius(p_a) > sc.get("cohen-gaussian-l2", sigma=0.5).radius(p_a) * 1.01  # Q matters
    with mp.workdps(30):  # the set meets both constraints exactly
        (w,) = witnesses.witnesses_along(inst, np.eye(d)[0], p_a, None)
        assert isinstance(w, witnesses.Witness) and "Thm 3" in w.label
        assert abs(w.ball.prob(0, w.t1, w.t2) - p_a) < 1e-25
        assert abs(w.ball.prob(0, w.t1, mp.ninf) / w.ball.mass - 0.999) < 1e-25
    row = witnesses.check_point(inst, p_a, None, dps=20)
    assert row["holds"] and row["flips"] and abs(row["ratio"] - 1) < 1e-7


def test_witness_is_cohens_half_space_where_the_q_constraint_is_slack():
    (w,) = witnesses.witnesses_along(_view(3), np.eye(3)[0], 0.999999, None)
    assert w.label.startswith("half-space")


@pytest.mark.parametrize("d, mass", [(3, 0.5), (40, 0.2)])
def test_q_sampler_draws_the_truncated_chi_square_law(d, mass):
    z = sample_ball_q({"sigma": 0.7, "ball_mass": mass}, d, 20_000, np.random.default_rng(1))
    r2 = (z**2).sum(axis=1) / 0.49
    cdf = lambda v: special.gammainc(d / 2, np.asarray(v) / 2) / mass  # noqa: E731
    assert stats.kstest(r2, cdf).pvalue > 1e-3
    assert r2.max() <= 2 * special.gammaincinv(d / 2, mass) * (1 + 1e-12)
    u = z / np.linalg.norm(z, axis=1, keepdims=True)  # uniform direction: mean 0, E u_1^2 = 1/d
    assert abs(u[:, 0].mean()) < 5 / math.sqrt(20_000) and abs((u[:, 0] ** 2).mean() - 1 / d) < 0.1 / d


def test_two_sample_monte_carlo_on_a_ball_classifier():
    """n samples under P and under Q, bounds at alpha/4 each (binary, two sets): no violation, and
    the radius is above Cohen's at the same p_a because the Q bound is near 1."""
    inst = _view(9)
    row = montecarlo._one_classifier(inst, "ball", 9, 2, np.random.default_rng(0), 20_000, 2_000, 24, 2,
                                     1e-3, 1e-4, sample_ball_q)
    assert row["violations"] == 0 and row["q_a"] > 0.99 > row["p_a"]
    assert row["radius"] == inst.cert.radius(row["p_a"], q_a=row["q_a"]) > 1.2 * 0.5 * special.ndtri(row["p_a"])
    assert min(row["margins"]) > 0


def test_view_binds_q_a_and_its_twin_agrees():
    base = sc.get("dsrs-gaussian-l2", sigma=0.5, dim=9)
    view = AtQ(base, 0.999)
    assert view.radius(0.8) == base.radius(0.8, q_a=0.999)
    assert view.radius(0.8, q_a=0.9) == base.radius(0.8, q_a=0.9)  # Q counts' bound wins
    assert view.noise.params["q_a"] == 0.999 and view.name == base.name and view.params == base.params
    # the twin's keyword reaches the certificate (the full verifier sweeps it; tests/test_dsrs.py
    # pins the radius at q_a > 0 against an independent solve)
    assert view.radius_mp(0.4, dps=20) == 0 and view.radius_mp(1.0, dps=20) == mp.inf
    with pytest.raises(ValueError, match="q_a"):
        view.radius_mp(0.9, q_a=1.5)
