"""A define-by-run objective for ``examples/custom.yaml``: ridge or a kNN regressor on diabetes."""

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

import hyperdial

X, y = load_diabetes(return_X_y=True)


def objective(trial):
    if trial.suggest_categorical("model", ["ridge", "knn"]) == "ridge":
        model = Ridge(alpha=trial.suggest_float("alpha", 1e-4, 1e2, log=True))
    else:
        model = KNeighborsRegressor(n_neighbors=trial.suggest_int("k", 1, 50))
    return hyperdial.cross_validate(trial, model, X, y, cv=5, scoring="neg_mean_squared_error")
