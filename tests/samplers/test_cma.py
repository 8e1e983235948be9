from __future__ import annotations

import numpy as np
import pytest

import hyperdial
from hyperdial import CmaEsSampler, Float, Int, SearchSpace


def ellipsoid(t):
    """Ill-conditioned (1e6) ellipsoid with its optimum off the centre of the box."""
    return sum(10 ** (6 * i / 9) * (t.params[f"x{i}"] - 1) ** 2 for i in range(10))


SPACE10 = SearchSpace({f"x{i}": Float(-5, 5) for i in range(10)})


def test_solves_a_10d_ellipsoid():
    study = hyperdial.create_study(sampler=CmaEsSampler(), seed=0, space=SPACE10)
    study.optimize(ellipsoid, n_trials=5000, show_progress=False)
    assert study.best_value < 1e-6


def test_resume_continues_the_same_run(tmp_path):
    space = SearchSpace({"x": Float(-3, 3), "y": Float(-3, 3), "k": Int(-5, 5)})

    def f(t):
        return (t.params["x"] - 1) ** 2 + (t.params["y"] + 1) ** 2 + (t.params["k"] - 2) ** 2

    one = hyperdial.create_study(sampler=CmaEsSampler(), seed=3, space=space)
    one.optimize(f, n_trials=60, show_progress=False)
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = hyperdial.create_study("s", url, sampler=CmaEsSampler(), seed=3, space=space)
    first.optimize(f, n_trials=23, show_progress=False)
    resumed = hyperdial.load_study("s", url, sampler=CmaEsSampler())
    resumed.optimize(f, n_trials=37, show_progress=False)
    assert [dict(t.params) for t in resumed.trials] == [dict(t.params) for t in one.trials]
    assert max(t.system_attrs["cma_gen"] for t in resumed.trials) >= 5


def test_integers_keep_exploring_with_margin():
    space = SearchSpace({"a": Int(0, 50), "b": Int(0, 50)})
    study = hyperdial.create_study(sampler=CmaEsSampler(), seed=0, space=space)
    study.optimize(lambda t: (t.params["a"] - 17) ** 2 + (t.params["b"] - 33) ** 2, n_trials=200, show_progress=False)
    assert study.best_value == 0


def test_ipop_restarts_grow_the_population():
    space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5)})

    def rastrigin(t):
        x = np.array([t.params["x"], t.params["y"]])
        return float(20 + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))

    study = hyperdial.create_study(sampler=CmaEsSampler(), seed=0, space=space)
    study.optimize(rastrigin, n_trials=1200, show_progress=False)
    assert max(t.system_attrs["cma_restart"] for t in study.trials) >= 1


def test_unmodelled_parameters_warn_and_fall_back():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1), "c": ["a", "b"]})
    study = hyperdial.create_study(sampler=CmaEsSampler(), seed=0, space=space)
    with pytest.warns(UserWarning, match=r"\['c'\] are drawn by RandomSampler"):
        study.optimize(lambda t: t.params["x"], n_trials=5, show_progress=False)
