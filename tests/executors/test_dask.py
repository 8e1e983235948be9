"""A real local Dask cluster as the executor: workers reach the study through its storage URL."""

from __future__ import annotations

import pytest
from tests.executors.conftest import run_pruned_study

import hyperdial

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed: pip install -e '.[dask]'")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_dask_client_runs_trials_with_pruning(client, storage_url_for_processes):
    study = hyperdial.create_study(
        "dask", storage_url_for_processes, seed=0, sampler="tpe", pruner=hyperdial.MedianPruner(n_startup_trials=3)
    )

    run_pruned_study(study, 16, executor=client)


def test_get_executor_and_a_clear_error_for_memory_studies(client, sqlite_url):
    study = hyperdial.create_study("dask2", sqlite_url, seed=0)
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=6, executor=client.get_executor(), show_progress=False
    )
    assert len(study.trials) == 6
    with pytest.raises(ValueError, match="cannot be shared with workers on other machines"):
        hyperdial.create_study().optimize(lambda t: 0.0, n_trials=2, executor=client, show_progress=False)
