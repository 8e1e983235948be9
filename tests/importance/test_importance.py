"""Importance on synthetic objectives with known structure (real studies, random search)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hyperdial
from hyperdial.importance import evaluate, fanova, ped_anova
from hyperdial.visualization import EmptyStudyError


def _study(objective, n_trials, directions=None, seed=0):
    study = hyperdial.create_study(seed=seed, sampler="random", directions=directions)
    study.optimize(objective, n_trials=n_trials, show_progress=False)
    return study


@pytest.fixture(scope="module")
def linear_study():
    """y = 10*x1 + 0.1*x2 + noise; x3 has no effect."""
    noise = np.random.default_rng(0)

    def objective(trial):
        x1 = trial.suggest_float("x1", 0, 1)
        x2 = trial.suggest_float("x2", 0, 1)
        trial.suggest_float("x3", 0, 1)
        return 10 * x1 + 0.1 * x2 + noise.normal(0, 0.1)

    return _study(objective, 400)


@pytest.mark.parametrize("method", [fanova, ped_anova])
def test_ground_truth_linear(linear_study, method):
    imp = method(linear_study)
    assert next(iter(imp)) == "x1" and imp["x1"] > 0.9
    assert imp["x3"] < 0.02
    assert sum(imp.values()) == pytest.approx(1.0)


def test_fanova_exact_on_additive_function():
    # y = 4*a + b + 0*c, a and b uniform: the variances are 16/12 and 1/12, so a gets 16/17.
    study = _study(
        lambda t: 4 * t.suggest_float("a", 0, 1) + t.suggest_float("b", 0, 1) + 0 * t.suggest_float("c", 0, 1), 300
    )
    imp = fanova(study)
    assert imp["a"] == pytest.approx(16 / 17, abs=0.04)
    assert imp["b"] == pytest.approx(1 / 17, abs=0.04)
    assert imp["c"] < 0.02


def test_categorical_log_and_int_parameters():
    def objective(trial):
        opt = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_int("seed_like", 0, 9)
        return {"sgd": 3.0, "adam": 0.0, "rmsprop": 0.5}[opt] + 0.05 * abs(math.log10(lr) + 3)

    study = _study(objective, 600)  # PED-ANOVA's noise floor is about (values - 1) / top trials
    for method in (fanova, ped_anova):
        imp = method(study)
        assert next(iter(imp)) == "optimizer", (method.__name__, imp)
        assert imp["seed_like"] < 0.05, (method.__name__, imp)


def test_conditional_parameter_counts_where_active():
    def objective(trial):
        kind = trial.suggest_categorical("kind", ["linear", "tree"])
        if kind == "tree":
            depth = trial.suggest_int("depth", 1, 10)
            return abs(depth - 7) / 3
        trial.suggest_float("alpha", 0, 1)  # no effect
        return 1.0

    study = _study(objective, 300)
    imp = fanova(study)
    assert set(imp) == {"kind", "depth", "alpha"}
    assert imp["alpha"] < 0.02 and imp["depth"] > imp["alpha"]
    pimp = ped_anova(study)
    assert pimp["alpha"] < 0.02 and max(pimp, key=pimp.get) in ("depth", "kind")


def test_top_quantile_changes_what_matters():
    # Far from the optimum a dominates; among the best trials only b still varies.
    def objective(trial):
        a = trial.suggest_float("a", 0, 1)
        b = trial.suggest_float("b", 0, 1)
        return 10 * max(a - 0.2, 0.0) + 0.5 * b

    study = _study(objective, 500)
    everywhere = fanova(study)
    assert everywhere["a"] > 0.9
    among_best = fanova(study, top_quantile=0.1)
    assert among_best["b"] > 0.2 and among_best["b"] > 10 * everywhere["b"]
    res = evaluate(study, method="fanova", top_quantile=0.1)
    assert any("capped" in n for n in res.notes)


def test_multi_objective_target_and_maximize():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_float("y", 0, 1)
        return x, y

    study = _study(objective, 200, directions=["minimize", "maximize"])
    for method in (fanova, ped_anova):
        assert method(study, target=0)["x"] > 0.9
        assert method(study, target=1)["y"] > 0.9
        with pytest.raises(ValueError, match="pass target="):
            method(study)


def test_subsample_is_said_and_seeded(linear_study):
    res = evaluate(linear_study, method="fanova", max_trials=100, seed=3)
    assert res.n_trials == 100 and res.notes == ["estimated on a random 100 of 400 complete trials"]
    again = evaluate(linear_study, method="fanova", max_trials=100, seed=3)
    assert res.importances == again.importances
    assert res.std is not None and set(res.std) == set(res.importances)


def test_ped_anova_region_and_checks(linear_study):
    res = evaluate(linear_study, method="ped-anova", top_quantile=0.05, region_quantile=0.5)
    assert next(iter(res.importances)) == "x1" and any("top 5%" in n for n in res.notes)
    with pytest.raises(ValueError, match="must be smaller than region_quantile"):
        ped_anova(linear_study, top_quantile=0.5, region_quantile=0.5)
    with pytest.raises(ValueError, match="top_quantile must be a fraction in"):
        fanova(linear_study, top_quantile=1.5)
    with pytest.raises(ValueError, match="method='shap'"):
        evaluate(linear_study, method="shap")
    with pytest.raises(ValueError, match="n_trees must be an integer"):
        fanova(linear_study, n_trees=0)


def test_params_subset_and_constant_objective():
    study = _study(lambda t: 1.0 + 0 * t.suggest_float("x", 0, 1) + 0 * t.suggest_float("y", 0, 1), 30)
    assert fanova(study) == {"x": 0.0, "y": 0.0}
    assert set(ped_anova(study, params=["y"])) == {"y"}


def test_too_few_trials():
    study = hyperdial.create_study("tiny", seed=0)
    with pytest.raises(EmptyStudyError, match="'tiny' has no trials"):
        fanova(study)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, show_progress=False)
    with pytest.raises(EmptyStudyError, match="needs at least 2 COMPLETE"):
        ped_anova(study)
