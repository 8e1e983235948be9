import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_regression
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import scale
from sklearn.utils.estimator_checks import parametrize_with_checks

from hyperdial.gradient.estimators import HyperKernelRidge, HyperLogisticRegression, HyperRidge


@parametrize_with_checks(
    [
        HyperRidge(n_steps=3, random_state=0),
        HyperLogisticRegression(n_steps=3, cv=2, random_state=0),
        HyperKernelRidge(n_steps=3, cv=None, random_state=0),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_hyper_ridge_matches_ridge_cv_on_diabetes_and_is_reproducible():
    x, y = load_diabetes(return_X_y=True)
    x = scale(x)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0)
    model = HyperRidge(penalty="shared", n_steps=20, random_state=0).fit(xtr, ytr)
    ref = RidgeCV(alphas=np.logspace(-3, 3, 30)).fit(xtr, ytr)
    assert model.score(xte, yte) > ref.score(xte, yte) - 0.01
    assert model.alpha_.shape == (10,) and len(set(model.alpha_)) == 1
    again = clone(model).fit(xtr, ytr)
    assert np.array_equal(again.coef_, model.coef_)
    assert len(model.hyper_result_.history) == 20


def test_per_feature_penalties_beat_one_shared_penalty_when_most_features_are_noise():
    x, y = make_regression(n_samples=200, n_features=40, n_informative=4, noise=20, random_state=1)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, random_state=1)
    model = HyperRidge(penalty="per_feature", n_steps=30, random_state=0).fit(xtr, ytr)
    ref = RidgeCV(alphas=np.logspace(-3, 3, 30)).fit(xtr, ytr)
    assert model.score(xte, yte) > ref.score(xte, yte)
    assert model.alpha_.shape == (40,) and model.alpha_.max() / model.alpha_.min() > 10


def test_hyper_logistic_regression_on_breast_cancer_groups_and_iris():
    x, y = load_breast_cancer(return_X_y=True)
    x = scale(x)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    groups = np.arange(30) // 10  # mean / error / worst features
    clf = HyperLogisticRegression(penalty=groups, n_steps=15, random_state=0).fit(xtr, ytr)
    assert clf.alpha_.shape == (1, 30) and len(np.unique(clf.alpha_)) <= 3
    assert clf.score(xte, yte) > 0.94
    default = LogisticRegression(max_iter=1000).fit(xtr, ytr)
    assert log_loss(yte, clf.predict_proba(xte)) < log_loss(yte, default.predict_proba(xte)) + 0.03
    xi, yi = load_iris(return_X_y=True)
    multi = HyperLogisticRegression(penalty="shared", n_steps=5, random_state=0).fit(xi, yi)
    assert multi.coef_.shape == (3, 4) and multi.predict_proba(xi).sum(1) == pytest.approx(1.0)
    assert multi.score(xi, yi) > 0.85


def test_hyper_kernel_ridge_finds_the_relevant_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    y = np.sin(2 * x[:, 0]) + 0.05 * rng.normal(size=150)
    model = HyperKernelRidge(n_steps=30, random_state=0).fit(x[:100], y[:100])
    assert model.lengthscales_[0] < model.lengthscales_[1:].min() / 3
    assert model.score(x[100:], y[100:]) > 0.9


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_steps": 0}, "n_steps must be an integer >= 1"),
        ({"lr": 0.0}, "lr must be a number > 0"),
        ({"validation_fraction": 1.5}, "validation_fraction must be a fraction"),
        ({"validation_fraction": 0.5, "guard_fraction": 0.5}, "keep the sum below 0.9"),
        ({"solver": "lu"}, "solver must be one of"),
        ({"patience": 0}, "patience must be None or an integer"),
        ({"penalty": "each"}, "penalty must be 'shared', 'per_feature'"),
        ({"random_state": "seed"}, "random_state must be"),
        ({"cv": 1}, "cv must be None"),
        ({"refit": False}, "needs cv=None"),
    ],
)
def test_bad_parameters_name_themselves(params, match):
    x, y = load_diabetes(return_X_y=True)
    with pytest.raises((ValueError, TypeError), match=match):
        HyperRidge(**params).fit(x[:50], y[:50])


def test_cross_fitted_folds_in_the_estimators():
    x, y = load_breast_cancer(return_X_y=True)
    x = scale(x)
    clf = HyperLogisticRegression(
        penalty="per_feature", cv=None, folds=4, n_steps=21, guard_fraction=0.0, random_state=0
    ).fit(x[:300], y[:300])
    result = clf.hyper_results_[0]
    assert len(result.paths) == 4 and len(result.history) == 21
    assert result.log_hyper == pytest.approx(np.mean([p.log_hyper for p in result.paths], axis=0))
    assert clf.alpha_[0] == pytest.approx(np.exp(result.log_hyper))
    assert log_loss(y[300:], clf.predict_proba(x[300:])) < 0.2
    again = clone(clf).fit(x[:300], y[:300])
    assert np.array_equal(again.coef_, clf.coef_)
    model = HyperKernelRidge(cv=None, folds=3, n_steps=13, random_state=0).fit(x[:200, :4], x[:200, 4])
    assert len(model.hyper_result_.paths) == 3


@pytest.mark.parametrize(
    "params, match",
    [
        ({"folds": 1, "cv": None}, "folds must be None or an integer >= 2"),
        ({"folds": 4}, "set cv=None to use it"),
        ({"folds": 4, "cv": None, "n_steps": 4}, "must be >= folds \\+ 1 = 5"),
    ],
)
def test_bad_folds_name_themselves(params, match):
    x, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        HyperRidge(**params).fit(x[:50], y[:50])
