from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import norm

import hyperdial
from hyperdial import Float, GPSampler, Int, SearchSpace
from hyperdial.samplers.gp import OPTIMUM_TRIED_ATTR, _Model, log_expected_improvement


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


def test_refit_points_follow_a_fixed_schedule():
    from hyperdial.samplers.gp import refit_point

    assert [refit_point(n) for n in (1, 10, 20)] == [1, 10, 20]
    assert [refit_point(n) for n in (21, 23, 24, 28, 29, 200)] == [20, 20, 24, 24, 29, 188]
    points = {refit_point(n) for n in range(1, 201)}
    assert len(points - set(range(1, 21))) == 12  # a full fit each time the data grew by a fifth


def test_warm_started_fit_gives_the_same_proposals_after_a_resume(sqlite_url):
    space = SearchSpace({"x": Float(-3, 3), "y": Float(-3, 3), "k": Int(0, 6)})

    def f(t):
        p = t.params
        return math.sin(3 * p["x"]) + (p["y"] - 1) ** 2 + 0.3 * p["k"]

    whole = hyperdial.create_study(sampler=GPSampler(n_startup_trials=5), seed=3, space=space)
    whole.optimize(f, n_trials=34, show_progress=False)

    first = hyperdial.create_study("gp", sqlite_url, sampler=GPSampler(n_startup_trials=5), seed=3, space=space)
    first.optimize(f, n_trials=26, show_progress=False)  # stops between two full refits (24 and 29)
    resumed = hyperdial.load_study("gp", sqlite_url, sampler=GPSampler(n_startup_trials=5))
    resumed.optimize(f, n_trials=8, show_progress=False)  # a fresh sampler: no cached fit

    assert [t.params for t in resumed.trials] == [t.params for t in whole.trials]


def test_warm_start_matches_a_fresh_fit_in_likelihood():
    rng = np.random.default_rng(4)
    X = rng.random((40, 3))
    y = np.sin(4 * X[:, 0]) + X[:, 1] - X[:, 2] ** 2
    y = (y - y.mean()) / y.std()
    prefix = _Model(X[:33], np.empty((33, 0)), y[:33])
    theta = prefix.fit(None, np.random.default_rng(0))
    warm = _Model(X, np.empty((40, 0)), y)
    warm.fit(theta, np.random.default_rng(0), restarts=0)
    cold = _Model(X, np.empty((40, 0)), y)
    cold.fit(None, np.random.default_rng(0))
    assert warm.neg_log_marginal(warm.theta)[0] <= cold.neg_log_marginal(cold.theta)[0] + 0.5


def test_acquisition_gradient_is_exact_even_where_ei_underflows():
    rng = np.random.default_rng(5)
    X = rng.random((20, 3))
    y = np.sin(5 * X[:, 0]) + X[:, 1]
    model = _Model(X, rng.integers(0, 3, (20, 1)).astype(float), (y - y.mean()) / y.std())
    model.fit(None, rng)
    X0, C0 = rng.random((1, 3)), np.array([[1.0]])
    for best in (model.y.min(), model.y.min() - 40.0):
        value, grad = GPSampler._neg_acquisition(X0[0, [0, 2]], model, X0, C0, [0, 2], best)

        def acq(x, best=best):
            return GPSampler._neg_acquisition(x, model, X0, C0, [0, 2], best)[0]

        numeric = approx_fprime(X0[0, [0, 2]], acq, 1e-7)
        assert np.isfinite(value)
        np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-3 * max(1.0, abs(value)))


def test_power_warp_tames_an_outlier():
    from hyperdial.samplers.gp import _yeo_johnson

    x = np.r_[np.random.default_rng(6).normal(size=40), 60.0]
    out = _yeo_johnson((x - np.median(x)) / x.std())
    z = (out - out.mean()) / out.std()
    assert z[-1] < 4.0 and np.all(np.isfinite(z))  # standardised alone, the outlier sits at ~6.3


def test_batched_refinement_gradient_is_exact_and_ignores_inactive_inputs():
    rng = np.random.default_rng(7)
    X = rng.random((25, 3))
    y = np.cos(4 * X[:, 0]) + X[:, 1] * X[:, 2]
    model = _Model(X, np.empty((25, 0)), (y - y.mean()) / y.std())
    model.fit(None, rng)
    X0 = rng.random((4, 3))
    free = np.array([[True, True], [True, False], [False, True], [True, True]])
    v = rng.random(8)
    C0, best = np.empty((4, 0)), model.y.min()
    value, grad = GPSampler._neg_acquisition_sum(v, model, X0, C0, [0, 2], free, best)
    numeric = approx_fprime(v, lambda w: GPSampler._neg_acquisition_sum(w, model, X0, C0, [0, 2], free, best)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-4 * max(1.0, abs(value)))
    assert np.all(grad[~free.ravel()] == 0.0)


def test_pruned_points_are_not_proposed_again():
    """A pruned trial's final value is unknown: the GP treats it as pending, not as unseen."""
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    study = hyperdial.create_study(sampler=GPSampler(n_startup_trials=5), seed=0, space=space)
    study.optimize(lambda t: math.sin(5 * t.params["x"]) + t.params["y"], n_trials=8, show_progress=False)
    seen = []
    for _ in range(4):  # a pruner stops every proposal: each must be a new point (they were all equal)
        trial = study.ask()
        seen.append([trial.params["x"], trial.params["y"]])
        study.tell(trial, state="pruned")
    pts = np.array(seen)
    assert np.min(np.linalg.norm(pts[:, None] - pts[None], axis=2)[np.triu_indices(4, 1)]) > 1e-5


def test_pruned_trials_count_towards_the_startup():
    """Otherwise each start-up point a pruner stops adds another quasi-random one."""
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})

    def run(n_startup: int, pruned_value: bool, n: int) -> list[str]:
        study = hyperdial.create_study(sampler=GPSampler(n_startup_trials=n_startup), seed=0, space=space)
        kinds = []
        for i in range(n):
            trial = study.ask()
            kinds.append(study.trials[trial.number].system_attrs["sampler"])
            if i < 2:
                study.tell(trial, trial.params["x"])
            else:
                if pruned_value:
                    trial.report(1.0, 0)  # a pruned trial keeps its last report as its value
                study.tell(trial, state="pruned")
        return kinds

    assert run(4, True, 5) == ["gp-startup"] * 4 + ["gp"]
    # A pruned trial without a value (as BOHB's view of a lower budget shows it) is no evidence.
    assert run(4, False, 6) == ["gp-startup"] * 6
    # The model needs two finished values to fit on: pruned trials alone do not end the start-up.
    study = hyperdial.create_study(sampler=GPSampler(n_startup_trials=2), seed=0, space=space)
    for _ in range(3):
        trial = study.ask()
        assert study.trials[trial.number].system_attrs["sampler"] == "gp-startup"
        trial.report(1.0, 0)
        study.tell(trial, state="pruned")


def test_pruned_trials_with_an_unbiased_partial_value_are_observed():
    """A running mean of CV folds is an estimate of the final value: modelled, not pending."""
    from hyperdial.trial import PARTIAL_VALUE_ATTR

    space = SearchSpace({"x": Float(0, 1)})
    study = hyperdial.create_study(sampler=GPSampler(n_startup_trials=3), seed=0, space=space)
    for i in range(5):
        trial = study.ask()
        trial.report(float(i), 0)
        if i == 3:
            trial.set_system_attr(PARTIAL_VALUE_ATTR, "unbiased")
        study.tell(trial, state="pruned") if i >= 3 else study.tell(trial, trial.params["x"])
    done, pending = GPSampler._observed(study.history)
    assert done.tolist() == [0, 1, 2, 3] and pending.tolist() == [4]
    assert study.history.losses(done)[3, 0] == 3.0  # observed at the running mean it reported


def test_more_fit_starts_in_high_dimension_never_lower_the_likelihood():
    rng = np.random.default_rng(4)
    X = rng.random((30, 10))
    y = np.sum((X - 0.3) ** 2 * np.logspace(0, 3, 10), axis=1)
    nll = []
    for starts in (3, GPSampler._fit_starts(10)):
        model = _Model(X, np.empty((30, 0)), (y - y.mean()) / y.std())
        theta = model.fit(None, np.random.default_rng([0, 30]), restarts=starts)
        nll.append(model.neg_log_marginal(theta)[0])
    assert GPSampler._fit_starts(5) == 3 and GPSampler._fit_starts(10) == 10
    assert nll[1] <= nll[0] + 1e-9


def test_discrete_space_is_covered_without_repeating_a_configuration():
    # 4 x 3 x 2 = 24 configurations: the GP must not spend trials on ones already tried.
    space = SearchSpace({"k": Int(1, 4), "p": Int(1, 3), "w": hyperdial.Categorical(["u", "d"])})
    study = hyperdial.create_study(sampler=GPSampler(), seed=2, space=space)
    study.optimize(lambda t: -abs(t.params["k"] - 2) - 0.1 * t.params["p"], n_trials=24, show_progress=False)
    configs = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(configs) == 24


def test_refinement_does_not_stop_on_a_tried_corner():
    # The optimum sits on a corner of the box, where L-BFGS-B stops on the bounds: without the
    # check the refined proposal was that corner again in 12-14 of 25 trials.
    for seed in range(3):
        study = hyperdial.create_study(sampler=GPSampler(), seed=seed)
        study.optimize(
            lambda t: t.suggest_float("x", 0, 1) + 2 * t.suggest_float("y", 0, 1), n_trials=25, show_progress=False
        )
        points = [(t.params["x"], t.params["y"]) for t in study.trials]
        assert len(set(points)) == len(points)
        assert study.best_value < 0.05
        # Those proposals say so, for callers that would rather explore (the auto sampler's branches).
        assert any(t.system_attrs.get(OPTIMUM_TRIED_ATTR) for t in study.trials)


def test_prior_mean_is_validated_and_auto_switches_with_the_dimension():
    with pytest.raises(ValueError, match="prior_mean must be 'auto', 'mean' or 'worst'"):
        GPSampler(prior_mean="max")
    auto = GPSampler()
    assert not auto.uses_worst_mean(GPSampler.worst_mean_min_dim - 1)
    assert auto.uses_worst_mean(GPSampler.worst_mean_min_dim)
    assert GPSampler(prior_mean="worst").uses_worst_mean(1)
    assert not GPSampler(prior_mean="mean").uses_worst_mean(20)


@pytest.mark.slow
def test_worst_prior_mean_keeps_trials_off_a_far_plateau():
    # One bump in 8-d on a plateau of 1: with the average as prior mean, expected improvement
    # keeps sending trials to unexplored corners, all on the plateau; with the worst value
    # the model expects nothing there and stays at the bump.
    d = 8
    space = SearchSpace({f"x{i}": Float(0, 1) for i in range(d)})

    def bump(t):
        x = np.array([t.params[f"x{i}"] for i in range(d)])
        return float(1 - np.exp(-((x - 0.35) ** 2).sum() / (2 * 0.25**2)))

    on_plateau = {}
    for prior_mean in ("mean", "worst"):
        for seed in (0, 1):
            study = hyperdial.create_study(sampler=GPSampler(prior_mean=prior_mean), seed=seed, space=space)
            study.optimize(bump, n_trials=50, show_progress=False)
            values = np.array([t.value for t in study.trials])
            on_plateau[prior_mean, seed] = int((values[20:] > 0.99).sum())
            if prior_mean == "worst":
                assert study.best_value < 0.01
    assert on_plateau["worst", 0] == on_plateau["worst", 1] == 0
    assert on_plateau["mean", 0] + on_plateau["mean", 1] >= 5  # the failure the worst value fixes (3 + 7)
