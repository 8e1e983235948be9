"""Mixed spaces with categorical and conditional parameters.

* ``mixed-model-wine``: choose the model family (SVM, kNN, random forest, logistic
  regression), each with its own parameters (conditional on ``model``); a shared
  categorical scaler. 3-fold CV log loss on ``wine``, deterministic.
* ``mixed-synthetic``: a cheap analytic function over a categorical ``branch`` whose
  branches own different parameters (floats, a log float, an int), plus a shared
  categorical and shared floats. Its optimum is known (0.0, on branch ``b``), so it
  needs no reference run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from benchmarks.problems.base import Category, Problem
from benchmarks.problems.sklearn_tasks import SEED, cv_loss
from benchmarks.space import CatParam, FloatParam, IntParam, Space

__all__ = ["mixed_problems"]

MODEL_SPACE = Space(
    [
        CatParam("model", ["svm", "knn", "rf", "logreg"]),
        CatParam("scaler", ["standard", "minmax", "none"]),
        FloatParam("svm_C", 1e-2, 1e3, log=True, when={"model": "svm"}),
        FloatParam("svm_gamma", 1e-4, 1.0, log=True, when={"model": "svm"}),
        IntParam("knn_n_neighbors", 1, 30, when={"model": "knn"}),
        CatParam("knn_weights", ["uniform", "distance"], when={"model": "knn"}),
        IntParam("rf_max_depth", 1, 12, when={"model": "rf"}),
        FloatParam("rf_max_features", 0.05, 1.0, when={"model": "rf"}),
        IntParam("rf_min_samples_leaf", 1, 20, log=True, when={"model": "rf"}),
        FloatParam("lr_C", 1e-3, 1e3, log=True, when={"model": "logreg"}),
    ]
)


def _model_objective():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC

    def f(c: Mapping[str, Any]) -> float:
        m = c["model"]
        if m == "svm":
            est = SVC(C=c["svm_C"], gamma=c["svm_gamma"], probability=True, random_state=SEED)
        elif m == "knn":
            est = KNeighborsClassifier(n_neighbors=c["knn_n_neighbors"], weights=c["knn_weights"])
        elif m == "rf":
            est = RandomForestClassifier(
                n_estimators=10,
                max_depth=c["rf_max_depth"],
                max_features=c["rf_max_features"],
                min_samples_leaf=c["rf_min_samples_leaf"],
                random_state=SEED,
                n_jobs=1,
            )
        else:
            est = LogisticRegression(C=c["lr_C"], max_iter=300)
        scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(c["scaler"])
        model = make_pipeline(scaler(), est) if scaler else est
        return cv_loss(model, "wine")

    return f


SYNTHETIC_SPACE = Space(
    [
        CatParam("branch", ["a", "b", "c"]),
        CatParam("act", ["relu", "tanh", "sigmoid"]),
        FloatParam("x", -5.0, 5.0),
        FloatParam("y", -5.0, 5.0),
        IntParam("a_k", 1, 10, when={"branch": "a"}),
        FloatParam("a_z", -2.0, 2.0, when={"branch": "a"}),
        FloatParam("b_lr", 1e-5, 1.0, log=True, when={"branch": "b"}),
        IntParam("b_depth", 1, 8, when={"branch": "b"}),
        FloatParam("c_w", 0.0, 1.0, when={"branch": "c"}),
    ]
)


def _synthetic(c: Mapping[str, Any]) -> float:
    """Optimum 0 at branch=b, act=relu, x=1, y=-2, b_lr=1e-3, b_depth=3."""
    act = {"relu": 0.0, "tanh": 0.3, "sigmoid": 0.6}[c["act"]]
    x, y = c["x"], c["y"]
    if c["branch"] == "a":
        # a shifted, rotated quadratic; its floor is 0.4 > 0
        u, v = (x - y) / math.sqrt(2), (x + y) / math.sqrt(2)
        return (
            0.4
            + act
            + 0.05 * (u - 1.0) ** 2
            + 0.5 * (v + 1.0) ** 2
            + 0.02 * (c["a_k"] - 7) ** 2
            + (c["a_z"] - 0.5) ** 2
        )
    if c["branch"] == "b":
        # the global basin: narrow in x/y, a log-scale learning rate and an int depth
        lr = math.log10(c["b_lr"]) + 3.0
        return act + 0.3 * ((x - 1.0) ** 2 + 2.0 * (y + 2.0) ** 2) + 0.2 * lr**2 + 0.05 * (c["b_depth"] - 3) ** 2
    # branch c: a flat, wide plateau that is easy to find and never optimal
    return 0.8 + act + 0.02 * (x**2 + y**2) + 0.1 * c["c_w"]


def mixed_problems() -> list[Problem]:
    """The two mixed-space problems."""
    return [
        Problem(
            name="mixed-model-wine",
            category=Category.MIXED,
            space=MODEL_SPACE,
            make_objective=_model_objective,
            description="model family (svm/knn/rf/logreg) with conditional parameters + scaler; wine, 3-fold CV log loss",
        ),
        Problem(
            name="mixed-synthetic",
            category=Category.MIXED,
            space=SYNTHETIC_SPACE,
            make_objective=lambda: _synthetic,
            optimum=0.0,
            description="analytic: 3 branches with their own float/log/int parameters, a shared categorical; optimum 0",
        ),
    ]
