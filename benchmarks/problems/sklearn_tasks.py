"""scikit-learn tuning problems after Bayesmark (Turner et al., 2021), on datasets shipped with scikit-learn.

Each problem is one (model, dataset) pair scored by 3-fold cross-validation with fixed,
shuffled splits (``random_state=0``) and a fixed model ``random_state``, so the objective
is a deterministic function of the configuration. Classifiers minimise the cross-validated
log loss (Bayesmark's ``nll``: continuous, so optimisers are told apart better than by
accuracy plateaus); regressors minimise the mean squared error. The search spaces follow
Bayesmark's ``sklearn_funcs`` (log, int and real parameters) with a few categoricals
added; evaluations are kept cheap (10-100 ms): ``digits`` is subsampled to 600 rows,
ensembles use few estimators (random forest 10, AdaBoost and gradient boosting <= 40), the
MLP at most 30 epochs.

No downloads: every dataset ships inside scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np

from benchmarks.problems.base import Category, Problem
from benchmarks.space import CatParam, FloatParam, IntParam, Space

__all__ = ["SKLEARN_TASKS", "load_dataset", "sklearn_problems"]

CV_FOLDS = 3
SEED = 0
DIGITS_ROWS = 600


@cache
def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(X, y, is_classification)`` for a scikit-learn toy dataset (digits subsampled)."""
    from sklearn import datasets

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }[name]
    X, y = loader(return_X_y=True)
    if name == "digits":
        idx = np.random.default_rng(SEED).permutation(len(y))[:DIGITS_ROWS]
        X, y = X[idx], y[idx]
    return X.astype(float), y, name != "diabetes"


def _scaled(model: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


# --------------------------------------------------------------------------- models
def _knn(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if clf else KNeighborsRegressor
    return _scaled(cls(n_neighbors=c["n_neighbors"], p=c["p"], weights=c["weights"]))


def _svm(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.svm import SVC, SVR

    if clf:
        return _scaled(SVC(C=c["C"], gamma=c["gamma"], tol=c["tol"], probability=True, random_state=SEED))
    return _scaled(SVR(C=c["C"], gamma=c["gamma"], tol=c["tol"], epsilon=c.get("epsilon", 0.1)))


def _dt(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if clf else DecisionTreeRegressor
    return cls(
        max_depth=c["max_depth"],
        min_samples_split=c["min_samples_split"],
        min_samples_leaf=c["min_samples_leaf"],
        max_features=c["max_features"],
        min_impurity_decrease=c["min_impurity_decrease"],
        random_state=SEED,
    )


def _rf(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if clf else RandomForestRegressor
    return cls(
        n_estimators=10,
        max_depth=c["max_depth"],
        min_samples_split=c["min_samples_split"],
        min_samples_leaf=c["min_samples_leaf"],
        max_features=c["max_features"],
        bootstrap=c["bootstrap"],
        random_state=SEED,
        n_jobs=1,
    )


def _ada(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.ensemble import AdaBoostClassifier, AdaBoostRegressor

    cls = AdaBoostClassifier if clf else AdaBoostRegressor
    return cls(n_estimators=c["n_estimators"], learning_rate=c["learning_rate"], random_state=SEED)


def _gb(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    cls = GradientBoostingClassifier if clf else GradientBoostingRegressor
    return cls(
        n_estimators=c["n_estimators"],
        learning_rate=c["learning_rate"],
        max_depth=c["max_depth"],
        subsample=c["subsample"],
        max_features=c["max_features"],
        random_state=SEED,
    )


def _mlp(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if clf else MLPRegressor
    return _scaled(
        cls(
            hidden_layer_sizes=(c["hidden_layer_sizes"],),
            activation=c["activation"],
            alpha=c["alpha"],
            learning_rate_init=c["learning_rate_init"],
            batch_size=c["batch_size"],
            beta_1=c["beta_1"],
            max_iter=30,
            random_state=SEED,
        )
    )


def _lasso(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.linear_model import Lasso, LogisticRegression

    if clf:
        return _scaled(
            LogisticRegression(C=c["C"], l1_ratio=1.0, solver="liblinear", intercept_scaling=c["intercept_scaling"])
        )
    return _scaled(Lasso(alpha=c["alpha"], fit_intercept=c["fit_intercept"], max_iter=2000, random_state=SEED))


def _ridge(c: Mapping[str, Any], clf: bool) -> Any:
    from sklearn.linear_model import Ridge

    return _scaled(Ridge(alpha=c["alpha"], fit_intercept=c["fit_intercept"], solver=c["solver"], random_state=SEED))


# --------------------------------------------------------------------------- spaces (Bayesmark's, adapted)
_FRACTIONS = [
    FloatParam("min_samples_split", 0.01, 0.99),
    FloatParam("min_samples_leaf", 0.01, 0.49),
    FloatParam("max_features", 0.01, 0.99),
    FloatParam("min_impurity_decrease", 0.0, 0.5),
]
SPACES: dict[str, Space] = {
    "knn": Space([IntParam("n_neighbors", 1, 25), IntParam("p", 1, 4), CatParam("weights", ["uniform", "distance"])]),
    "svm": Space(
        [
            FloatParam("C", 1.0, 1e3, log=True),
            FloatParam("gamma", 1e-4, 1e-1, log=True),
            FloatParam("tol", 1e-5, 1e-1, log=True),
        ]
    ),
    "dt": Space([IntParam("max_depth", 1, 15), *_FRACTIONS]),
    "rf": Space(
        [
            IntParam("max_depth", 1, 15),
            _FRACTIONS[0],
            _FRACTIONS[1],
            _FRACTIONS[2],
            CatParam("bootstrap", [True, False]),
        ]
    ),
    "ada": Space([IntParam("n_estimators", 5, 25), FloatParam("learning_rate", 1e-4, 1e1, log=True)]),
    "gb": Space(
        [
            IntParam("n_estimators", 5, 40, log=True),
            FloatParam("learning_rate", 1e-3, 1.0, log=True),
            IntParam("max_depth", 1, 6),
            FloatParam("subsample", 0.3, 1.0),
            FloatParam("max_features", 0.1, 1.0),
        ]
    ),
    "mlp": Space(
        [
            IntParam("hidden_layer_sizes", 8, 128, log=True),
            CatParam("activation", ["relu", "tanh"]),
            FloatParam("alpha", 1e-5, 1e1, log=True),
            FloatParam("learning_rate_init", 1e-4, 1e-1, log=True),
            IntParam("batch_size", 16, 128, log=True),
            FloatParam("beta_1", 0.5, 0.99),
        ]
    ),
    "lasso-clf": Space([FloatParam("C", 1e-2, 1e2, log=True), FloatParam("intercept_scaling", 1e-2, 1e2, log=True)]),
    "lasso": Space([FloatParam("alpha", 1e-3, 1e2, log=True), CatParam("fit_intercept", [True, False])]),
    "ridge": Space(
        [
            FloatParam("alpha", 1e-3, 1e3, log=True),
            CatParam("fit_intercept", [True, False]),
            CatParam("solver", ["auto", "svd", "lsqr"]),
        ]
    ),
}
MODELS: dict[str, Callable[[Mapping[str, Any], bool], Any]] = {
    "knn": _knn,
    "svm": _svm,
    "dt": _dt,
    "rf": _rf,
    "ada": _ada,
    "gb": _gb,
    "mlp": _mlp,
    "lasso-clf": _lasso,
    "lasso": _lasso,
    "ridge": _ridge,
}

#: (model, dataset) pairs: every model once, every dataset at least once.
SKLEARN_TASKS: list[tuple[str, str]] = [
    ("knn", "wine"),
    ("svm", "breast_cancer"),
    ("dt", "wine"),
    ("rf", "digits"),
    ("ada", "breast_cancer"),
    ("gb", "diabetes"),
    ("mlp", "iris"),
    ("lasso-clf", "breast_cancer"),
    ("lasso", "diabetes"),
    ("ridge", "diabetes"),
]


def cv_loss(model: Any, dataset: str) -> float:
    """Mean 3-fold cross-validated loss: log loss (classification) or MSE (regression)."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    X, y, clf = load_dataset(dataset)
    splitter = (StratifiedKFold if clf else KFold)(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    scoring = "neg_log_loss" if clf else "neg_mean_squared_error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings are part of the landscape
        scores = cross_val_score(model, X, y, cv=splitter, scoring=scoring, n_jobs=1, error_score="raise")
    return float(-np.mean(scores))


def _objective(model: str, dataset: str):
    build = MODELS[model]
    clf = load_dataset(dataset)[2]

    def f(config: Mapping[str, Any]) -> float:
        return cv_loss(build(config, clf), dataset)

    return f


def sklearn_problems() -> list[Problem]:
    """Every task of :data:`SKLEARN_TASKS` as a problem named ``sk-{model}-{dataset}``."""
    return [
        Problem(
            name=f"sk-{model}-{dataset}",
            category=Category.SKLEARN,
            space=SPACES[model],
            make_objective=lambda m=model, d=dataset: _objective(m, d),
            description=f"{model} on {dataset}: 3-fold CV "
            + ("log loss" if dataset != "diabetes" else "MSE")
            + f", {len(SPACES[model])} parameters",
        )
        for model, dataset in SKLEARN_TASKS
    ]
