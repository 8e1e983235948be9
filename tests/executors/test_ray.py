"""A real local Ray instance as the executor."""

from __future__ import annotations

import pytest
from tests.executors.conftest import run_pruned_study

import hyperdial

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

    run_pruned_study(study, 12, n_jobs=2, executor=executor)
