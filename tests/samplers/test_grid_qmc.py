from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

import hyperdial
from hyperdial import Float, GridSampler, Int, QMCSampler, SearchSpace


def test_grid_runs_every_cell_once_then_stops():
    space = SearchSpace({"a": [1, 2, 3], "b": Int(0, 1), "c": Float(0, 1, when={"b": 1})})
    study = hyperdial.create_study(sampler=GridSampler(points=3), space=space)
    study.optimize(lambda t: t.params["a"], n_trials=100, show_progress=False)
    cells = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(cells) == len(set(cells)) == 3 * (1 + 3)


def test_grid_define_by_run_with_its_own_space():
    study = hyperdial.create_study(sampler=GridSampler({"x": [0.1, 1.0, 10.0], "k": ["a", "b"]}))
    study.optimize(
        lambda t: t.suggest_float("x", 0.01, 100, log=True) * (t.suggest_categorical("k", ["a", "b"]) == "a"),
        show_progress=False,
    )
    assert sorted((t.params["x"], t.params["k"]) for t in study.trials) == sorted(
        (x, k) for x in [0.1, 1.0, 10.0] for k in "ab"
    )


def test_grid_shuffle_is_seeded():
    orders = []
    for seed in (1, 1, 2):
        study = hyperdial.create_study(sampler=GridSampler({"x": list(range(10))}, shuffle=True), seed=seed)
        study.optimize(lambda t: t.suggest_int("x", 0, 9), show_progress=False)
        orders.append([t.params["x"] for t in study.trials])
    assert orders[0] == orders[1] != orders[2]
    assert sorted(orders[0]) == list(range(10))


def test_grid_without_a_grid_says_so():
    study = hyperdial.create_study(sampler="grid")
    with pytest.raises(ValueError, match="needs a grid"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, show_progress=False)


def test_grid_parameter_outside_the_grid():
    study = hyperdial.create_study(sampler=GridSampler({"x": [1, 2]}))
    with pytest.raises(ValueError, match="not in the grid"):
        study.optimize(lambda t: t.suggest_int("x", 1, 2) + t.suggest_int("y", 1, 2), n_trials=1, show_progress=False)


def _grid_worker(url: str) -> None:
    study = hyperdial.load_study("g", url, sampler=GridSampler({"x": list(range(40))}))
    study.optimize(lambda t: t.suggest_int("x", 0, 39), show_progress=False)


def test_grid_cells_run_once_across_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    hyperdial.create_study("g", url, seed=0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_grid_worker, args=(url,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    xs = [t.params["x"] for t in hyperdial.load_study("g", url).trials]
    assert sorted(xs) == list(range(40))


@pytest.mark.parametrize("kind", ["sobol", "halton", "lhs"])
def test_qmc_covers_the_cube_better_than_random(kind):
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    from scipy.stats import qmc

    def discrepancy(sampler, seed):
        study = hyperdial.create_study(sampler=sampler, seed=seed, space=space)
        study.optimize(lambda t: 0.0, n_trials=64, show_progress=False)
        return qmc.discrepancy(study.history.matrix(space))

    d_qmc = np.mean([discrepancy(QMCSampler(kind, batch=64), s) for s in range(5)])
    d_rand = np.mean([discrepancy("random", s) for s in range(5)])
    assert d_qmc < d_rand / 2


def test_lhs_batches_are_latin():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    study = hyperdial.create_study(sampler=QMCSampler("lhs", batch=16), seed=0, space=space)
    study.optimize(lambda t: 0.0, n_trials=16, show_progress=False)
    X = study.history.matrix(space)
    for j in range(2):
        assert sorted(np.floor(X[:, j] * 16).astype(int)) == list(range(16))
