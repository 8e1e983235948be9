from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.stats
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import hyperdial
from hyperdial import Float, Int, TrialState
from hyperdial.sklearn import SearchCV
from hyperdial.trial import PARTIAL_VALUE_ATTR

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def test_fit_predict_and_attributes():
    search = SearchCV(
        SVC(), {"C": Float(1e-2, 1e2, log=True), "gamma": Float(1e-3, 1, log=True)}, n_trials=10, cv=3, random_state=0
    ).fit(X_IRIS, Y_IRIS)
    assert search.best_score_ > 0.9
    assert set(search.best_params_) == {"C", "gamma"}
    assert search.n_splits_ == 3 and search.refit_time_ >= 0
    assert search.best_index_ == int(np.argmin(search.cv_results_["rank_test_score"]))
    assert search.predict(X_IRIS[:3]).shape == (3,)
    assert not hasattr(search, "predict_proba")  # SVC(probability=False) has none
    assert hasattr(search, "decision_function")
    assert len(search.study_.trials) == 10
    np.testing.assert_array_equal(search.classes_, [0, 1, 2])


def test_cv_results_layout_matches_grid_search():
    grid = {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]}
    ours = SearchCV(SVC(), grid, sampler="grid", n_trials=None, cv=3).fit(X_IRIS, Y_IRIS)
    theirs = GridSearchCV(SVC(), grid, cv=3).fit(X_IRIS, Y_IRIS)
    assert sorted(ours.cv_results_) == sorted(theirs.cv_results_)
    by_params = {tuple(sorted(p.items())): i for i, p in enumerate(theirs.cv_results_["params"])}
    for i, p in enumerate(ours.cv_results_["params"]):
        j = by_params[tuple(sorted(p.items()))]
        assert ours.cv_results_["mean_test_score"][i] == pytest.approx(theirs.cv_results_["mean_test_score"][j])
    assert ours.best_score_ == pytest.approx(theirs.best_score_)


def test_scipy_distributions_and_pipelines():
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))])
    space = {"clf__C": scipy.stats.loguniform(1e-3, 1e2), "scale__with_mean": [True, False]}
    search = SearchCV(pipe, space, n_trials=6, cv=3, random_state=0).fit(X_IRIS, Y_IRIS)
    assert 1e-3 <= search.best_params_["clf__C"] <= 1e2
    assert search.best_params_["clf__C"] == search.best_estimator_.named_steps["clf"].C
    tree = SearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": scipy.stats.randint(1, 6), "min_samples_leaf": scipy.stats.poisson(3)},
        n_trials=6,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    assert isinstance(tree.best_params_["max_depth"], int) and 1 <= tree.best_params_["max_depth"] <= 5


def test_several_metrics():
    X, y = load_breast_cancer(return_X_y=True)
    space = {"C": Float(1e-3, 10, log=True)}
    est = LogisticRegression(max_iter=3000)
    search = SearchCV(
        est, space, n_trials=5, cv=3, scoring=["accuracy", "roc_auc"], refit="roc_auc", random_state=0
    ).fit(X, y)
    for key in ("mean_test_accuracy", "mean_test_roc_auc", "rank_test_roc_auc", "split2_test_accuracy"):
        assert key in search.cv_results_
    assert search.best_score_ == pytest.approx(np.max(search.cv_results_["mean_test_roc_auc"]))
    with pytest.raises(ValueError, match="refit must name"):
        SearchCV(est, space, n_trials=2, scoring=["accuracy", "roc_auc"]).fit(X, y)
    pick_first = SearchCV(est, space, n_trials=3, cv=3, scoring={"acc": "accuracy"}, refit=lambda r: 0).fit(X, y)
    assert pick_first.best_index_ == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"space": {"C": Float(0.1, 1), "nope": [1, 2]}}, "unknown parameter"),
        ({"space": {}}, "empty"),
        ({"space": {"C": Float(0.1, 1)}, "scoring": "acuracy"}, "not a scikit-learn scorer"),
        ({"space": {"C": Float(0.1, 1)}, "n_trials": 0}, "n_trials"),
    ],
)
def test_bad_input_fails_before_fitting(kwargs, message):
    class Counting(SVC):
        fits = 0

        def fit(self, X, y, **kw):
            Counting.fits += 1
            return super().fit(X, y, **kw)

    with pytest.raises((ValueError, TypeError), match=message):
        SearchCV(Counting(), **kwargs).fit(X_IRIS, Y_IRIS)
    assert Counting.fits == 0


def test_resume_from_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'cv.db'}"
    space = {"C": Float(1e-2, 1e2, log=True)}
    SearchCV(SVC(), space, n_trials=4, cv=3, storage=url, study_name="svc", random_state=0).fit(X_IRIS, Y_IRIS)
    again = SearchCV(SVC(), space, n_trials=7, cv=3, storage=url, study_name="svc", random_state=0).fit(X_IRIS, Y_IRIS)
    assert len(again.study_.trials) == 7
    assert len(again.cv_results_["params"]) == 7


def _pruned_logistic_search(n_trials: int, cv: int) -> SearchCV:
    """Logistic regression on breast cancer with fold-level median pruning (C down to 1e-6: hopeless ones)."""
    X, y = load_breast_cancer(return_X_y=True)
    return SearchCV(
        LogisticRegression(max_iter=50),
        {"C": Float(1e-6, 10, log=True)},
        n_trials=n_trials,
        cv=cv,
        pruner=hyperdial.MedianPruner(n_startup_trials=3),
        random_state=0,
    ).fit(X, y)


def test_fold_level_pruning_stops_bad_candidates():
    search = _pruned_logistic_search(n_trials=20, cv=5)
    states = [t.state for t in search.study_.trials]
    assert TrialState.PRUNED in states
    pruned = [i for i, n in enumerate(search.trial_numbers_) if search.study_.trials[n].state == TrialState.PRUNED]
    assert np.all(np.isnan(search.cv_results_["mean_test_score"][pruned]))
    assert np.all(search.cv_results_["rank_test_score"][pruned] > search.cv_results_["rank_test_score"].min())
    # The running mean a candidate was stopped at estimates its CV score: a GP sampler models it.
    for n in np.asarray(search.trial_numbers_)[pruned]:
        t = search.study_.trials[n]
        assert t.system_attrs[PARTIAL_VALUE_ATTR] == "unbiased"
        assert t.value == pytest.approx(np.mean(t.user_attrs["cv"]["test"]["score"]))


def test_fit_cpu_time_is_recorded_per_fold_that_ran():
    search = _pruned_logistic_search(n_trials=12, cv=4)
    seen_pruned = False
    for t in search.study_.trials:
        cv = t.user_attrs["cv"]
        assert len(cv["fit_cpu_time"]) == len(cv["fit_time"]) == len(cv["test"]["score"])
        assert all(c >= 0.0 for c in cv["fit_cpu_time"])
        if t.state == TrialState.PRUNED:
            seen_pruned = True
            assert len(cv["fit_cpu_time"]) < 4
        else:
            assert len(cv["fit_cpu_time"]) == 4
    assert seen_pruned
    assert "mean_fit_cpu_time" not in search.cv_results_  # cv_results_ keeps scikit-learn's layout


class _NamedSteps(Pipeline):
    """A pipeline whose steps may be set by name, as a search space of strings needs."""

    choices = {
        "svc": SVC(),
        "tree": DecisionTreeClassifier(random_state=0),
        "standard": StandardScaler(),
        "none": "passthrough",
    }

    def set_params(self, **params):
        steps = {n for n, _ in self.steps}
        for k, v in params.items():
            if k in steps and isinstance(v, str) and v in self.choices:
                obj = self.choices[v]
                params[k] = obj if isinstance(obj, str) else clone(obj)
        return super().set_params(**params)


def test_parameters_of_a_chosen_pipeline_step_are_accepted():
    pipe = _NamedSteps([("scale", StandardScaler()), ("clf", LogisticRegression())])
    space = {
        "scale": ["none", "standard"],
        "clf": ["svc", "tree"],
        "clf__C": Float(1e-2, 1e2, log=True, when={"clf": "svc"}),
        "clf__max_depth": Int(1, 5, when={"clf": "tree"}),
    }
    search = SearchCV(pipe, space, n_trials=8, cv=3, random_state=0).fit(X_IRIS, Y_IRIS)
    assert {p["clf"] for p in search.cv_results_["params"]} == {"svc", "tree"}
    chosen = search.best_estimator_.named_steps["clf"]
    assert isinstance(chosen, SVC if search.best_params_["clf"] == "svc" else DecisionTreeClassifier)
    for p in search.cv_results_["params"]:
        assert ("clf__C" in p) == (p["clf"] == "svc") and ("clf__max_depth" in p) == (p["clf"] == "tree")
    # A parameter under a step that is not searched is still checked before any fit.
    with pytest.raises(ValueError, match=r"unknown parameter.*scale__nope"):
        SearchCV(pipe, {"clf": ["svc"], "scale__nope": [1]}, n_trials=2).fit(X_IRIS, Y_IRIS)


def test_error_score():
    space = {"C": [1.0, -1.0]}  # a negative C makes SVC raise
    search = SearchCV(SVC(), space, sampler="grid", n_trials=None, cv=3, error_score=0.0).fit(X_IRIS, Y_IRIS)
    assert search.best_params_ == {"C": 1.0}
    assert 0.0 in search.cv_results_["mean_test_score"]
    with pytest.raises(ValueError):
        SearchCV(SVC(), space, sampler="grid", n_trials=None, cv=3, error_score="raise").fit(X_IRIS, Y_IRIS)


def test_meta_estimator_conventions():
    search = SearchCV(SVC(), {"C": Float(0.1, 10)}, n_trials=3, cv=3, random_state=0)
    cloned = clone(search)
    assert cloned.get_params()["n_trials"] == 3 and cloned.get_params()["estimator__C"] == 1.0
    cloned.set_params(n_trials=2, estimator__kernel="linear")
    assert cloned.n_trials == 2 and cloned.estimator.kernel == "linear"
    with pytest.raises(NotFittedError):
        search.predict(X_IRIS)
    search.fit(X_IRIS, Y_IRIS)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X_IRIS), search.predict(X_IRIS))
    assert len(restored.study_.trials) == 3


def test_cross_validate_reports_per_fold():
    def objective(trial):
        tree = DecisionTreeClassifier(max_depth=trial.suggest_int("depth", 1, 6), random_state=0)
        return hyperdial.cross_validate(trial, tree, X_IRIS, Y_IRIS, cv=4)

    study = hyperdial.create_study(direction="maximize", seed=0)
    study.optimize(objective, n_trials=4, show_progress=False)
    t = study.trials[0]
    assert sorted(t.intermediate_values) == [0, 1, 2]
    assert len(t.user_attrs["split_test_scores"]["score"]) == 4
    assert t.value == pytest.approx(np.mean(t.user_attrs["split_test_scores"]["score"]))


def test_cross_validate_marks_a_pruned_trials_running_mean_as_an_estimate():
    X, y = load_breast_cancer(return_X_y=True)

    def objective(trial):
        model = LogisticRegression(C=trial.suggest_float("C", 1e-6, 10, log=True), max_iter=50)
        return hyperdial.cross_validate(trial, model, X, y, cv=4)

    study = hyperdial.create_study(
        direction="maximize", seed=0, sampler="gp", pruner=hyperdial.MedianPruner(n_startup_trials=2)
    )
    study.optimize(objective, n_trials=14, show_progress=False)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned
    for t in pruned:
        assert t.system_attrs[PARTIAL_VALUE_ATTR] == "unbiased"
        assert t.value == pytest.approx(np.mean(t.user_attrs["split_test_scores"]["score"]))
    assert all(PARTIAL_VALUE_ATTR not in t.system_attrs for t in study.trials if t.state == TrialState.COMPLETE)


def test_halving_over_samples_and_over_an_estimator_parameter():
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    search = SearchCV(
        LogisticRegression(max_iter=3000),
        {"C": Float(1e-4, 10, log=True)},
        n_trials=12,
        cv=3,
        resource="n_samples",
        min_resources=40,
        factor=3,
        random_state=0,
    ).fit(X, y)
    res = search.cv_results_
    assert set(res["n_resources"]) <= {40, 120, 360, 379}
    assert any(t.state == TrialState.PRUNED for t in search.study_.trials)
    assert res["n_resources"][search.best_index_] == max(res["n_resources"])
    forest = SearchCV(
        RandomForestClassifier(random_state=0),
        {"max_depth": Int(1, 8)},
        n_trials=6,
        cv=3,
        resource="n_estimators",
        max_resources=27,
        factor=3,
        random_state=0,
    ).fit(X, y)
    assert forest.best_estimator_.n_estimators == 100  # the refit keeps the estimator's own value
    assert max(forest.cv_results_["n_resources"]) == 27
    with pytest.raises(ValueError, match="neither 'n_samples' nor a parameter"):
        SearchCV(SVC(), {"C": Float(0.1, 1)}, n_trials=2, resource="epochs").fit(X, y)


def test_parallel_search_with_a_seed_is_reproducible():
    space = {"C": Float(1e-2, 1e2, log=True), "gamma": Float(1e-3, 1, log=True)}
    runs = [SearchCV(SVC(), space, n_trials=8, cv=3, n_jobs=2, random_state=4).fit(X_IRIS, Y_IRIS) for _ in range(2)]
    assert runs[0].cv_results_["params"] == runs[1].cv_results_["params"]


def test_holdout_guard_nested_cv_and_curve_data():
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    from hyperdial.sklearn import learning_curve_data, nested_cross_validate, validation_curve_data

    X_tr, X_te, y_tr, y_te = train_test_split(X_IRIS, Y_IRIS, random_state=0, stratify=Y_IRIS)
    search = SearchCV(KNeighborsClassifier(), {"n_neighbors": Int(1, 25)}, n_trials=6, cv=3, random_state=0)
    search.fit(X_tr, y_tr, holdout=(X_te, y_te))
    assert 0.8 < search.holdout_score_ <= 1.0
    with pytest.raises(ValueError, match="rows of the held-out test set are also in the data"):
        search.fit(X_IRIS, Y_IRIS, holdout=(X_te, y_te))
    nested = nested_cross_validate(search, X_IRIS, Y_IRIS, outer_cv=3)
    assert len(nested["test_score"]) == 3 and len(nested["best_params"]) == 3
    curve = validation_curve_data(search.study_, "n_neighbors")
    assert curve["param_values"] == sorted(curve["param_values"]) and len(curve["mean"]) == len(curve["std"])
    lc = learning_curve_data(search.best_estimator_, X_IRIS, Y_IRIS, cv=3)
    assert len(lc["train_sizes"]) == 5 and np.all(lc["test_std"] >= 0)
