"""A real local Ray instance as the executor."""

from __future__ import annotations

import pytest

import hyperdial
from hyperdial import TrialState

pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")


@pytest.fixture(scope="module")
def executor():
    from hyperdial.executors.ray import RayExecutor

    ex = RayExecutor(num_cpus=1)
    yield ex
    ex.shutdown()


def test_ray_tasks_run_trials_that_report_and_prune(executor, sqlite_url):
    study = hyperdial.create_study(
        "ray", sqlite_url, seed=0, sampler="tpe", pruner=hyperdial.MedianPruner(n_startup_trials=3)
    )

    def objective(t):
        x = t.suggest_float("x", -3, 3)
        for step in range(3):
            t.report((x - 1) ** 2 + 1 / (step + 1), step)
            if t.should_prune():
                raise hyperdial.TrialPruned
        return (x - 1) ** 2

    study.optimize(objective, n_trials=12, n_jobs=2, executor=executor, show_progress=False)
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(12))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
