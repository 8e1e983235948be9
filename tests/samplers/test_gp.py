from __future__ import annotations

import math

import numpy as np
from scipy.optimize import approx_fprime
from scipy.stats import norm

import hyperdial
from hyperdial import Float, GPSampler, Int, SearchSpace
from hyperdial.samplers.gp import _Model, log_expected_improvement


def test_log_ei_matches_ei_and_stays_finite_where_ei_underflows():
    z = np.array([-0.5, 0.0, 1.0, 3.0, -2.0, -5.0])
    exact = norm.pdf(z) + z * norm.cdf(z)
    np.testing.assert_allclose(np.exp(log_expected_improvement(z)), exact, rtol=1e-9)
    far = np.array([-40.0, -1e3, -1e8])
    assert np.all(norm.pdf(far) + far * norm.cdf(far) <= 0.0)  # plain EI underflows
    vals = log_expected_improvement(far)
    assert np.all(np.isfinite(vals)) and np.all(np.diff(vals) < 0)


def test_log_ei_is_continuous_across_branches():
    z = np.array([-1 - 1e-9, -1 + 1e-9])
    a, b = log_expected_improvement(z)
    assert abs(a - b) < 1e-6


def test_marginal_likelihood_gradient_is_exact():
    rng = np.random.default_rng(0)
    model = _Model(rng.random((25, 3)), rng.integers(0, 3, (25, 1)).astype(float), rng.normal(size=25))
    theta = np.array([0.1, -0.5, 0.3, 0.2, 0.1, -3.0])
    _, grad = model.neg_log_marginal(theta)
    numeric = approx_fprime(theta, lambda t: model.neg_log_marginal(t)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_posterior_interpolates_its_data():
    rng = np.random.default_rng(1)
    X = rng.random((15, 2))
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2
    model = _Model(X, np.empty((15, 0)), (y - y.mean()) / y.std())
    model.fit(None, rng)
    mean, sd = model.predict(X, np.empty((15, 0)))
    np.testing.assert_allclose(mean, model.y, atol=0.05)
    assert np.all(sd < 0.2)
    _, far_sd = model.predict(np.array([[5.0, 5.0]]), np.empty((1, 0)))
    assert far_sd[0] > 0.5


def test_solves_a_mixed_quadratic_quickly():
    space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5, log=False), "k": Int(0, 10)})
    study = hyperdial.create_study(sampler=GPSampler(), seed=0, space=space)
    study.optimize(
        lambda t: (t.params["x"] - 2) ** 2 + (t.params["y"] + 1) ** 2 + (t.params["k"] - 3) ** 2,
        n_trials=35,
        show_progress=False,
    )
    assert study.best_value < 1e-2


def test_fantasies_shrink_the_variance_at_pending_points():
    rng = np.random.default_rng(2)
    X = rng.random((12, 2))
    model = _Model(X, np.empty((12, 0)), np.sin(5 * X[:, 0]) + X[:, 1])
    model.fit(None, rng)
    p = np.array([[0.5, 0.5]])
    m0, s0 = model.predict(p, np.empty((1, 0)))
    model.add_fantasies(p, np.empty((1, 0)))
    m1, s1 = model.predict(p, np.empty((1, 0)))
    assert abs(m1[0] - m0[0]) < 1e-2 * max(1.0, abs(m0[0])) and s1[0] < 0.2 * s0[0]


def test_pending_points_differ():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    study = hyperdial.create_study(sampler=GPSampler(n_startup_trials=5), seed=0, space=space)
    study.optimize(lambda t: math.sin(5 * t.params["x"]) + t.params["y"], n_trials=8, show_progress=False)
    pending = [study.ask() for _ in range(3)]
    pts = np.array([[t.params["x"], t.params["y"]] for t in pending])
    assert np.min(np.linalg.norm(pts[:, None] - pts[None], axis=2)[np.triu_indices(3, 1)]) > 1e-6
