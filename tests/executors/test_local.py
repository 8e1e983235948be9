"""Trials in worker processes: loky by default, or any concurrent.futures executor."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest

import hyperdial
from hyperdial import TrialState


def test_lambdas_run_in_processes_on_an_in_memory_study():
    study = hyperdial.create_study(seed=0, sampler="random")
    parent = os.getpid()
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1) + (os.getpid() != parent) * 0, n_trials=12, n_jobs=2, show_progress=False
    )
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(12))
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_workers_run_in_other_processes(sqlite_url):
    study = hyperdial.create_study("p", sqlite_url, seed=0)
    offset = 10  # a closure over a local variable

    def objective(t):
        t.set_user_attr("pid", os.getpid())
        return t.suggest_int("k", 0, 5) + offset

    study.optimize(objective, n_trials=8, n_jobs=2, show_progress=False)
    pids = {t.user_attrs["pid"] for t in study.trials}
    assert os.getpid() not in pids
    assert len(study.trials) == 8 and study.best_value >= 10


def test_callbacks_run_in_the_driver_and_stop_every_worker():
    study = hyperdial.create_study(seed=0)
    seen = []

    def cb(study, trial):
        seen.append(trial.number)
        if len(seen) == 4:
            study.stop()

    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=200, n_jobs=2, callbacks=[cb], show_progress=False)
    assert 4 <= len(study.trials) < 40
    assert sorted(seen) == sorted(t.number for t in study.trials if t.state.is_finished)


def test_errors_in_workers_propagate_and_are_stored():
    study = hyperdial.create_study(seed=0)

    def boom(t):
        t.suggest_float("x", 0, 1)
        raise ZeroDivisionError("from a worker")

    with pytest.raises(ZeroDivisionError, match="from a worker"):
        study.optimize(boom, n_trials=6, n_jobs=2, show_progress=False)
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert failed and "ZeroDivisionError" in failed[0].message
    study.optimize(boom, n_trials=4, n_jobs=2, catch=ZeroDivisionError, show_progress=False)
    assert sum(t.state == TrialState.FAILED for t in study.trials) >= 5


def test_pruning_sees_reports_from_other_workers():
    study = hyperdial.create_study(seed=0, sampler="random", pruner=hyperdial.MedianPruner(n_startup_trials=4))

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        for step in range(4):
            t.report(x + step, step)
            if t.should_prune():
                raise hyperdial.TrialPruned
        return x

    study.optimize(objective, n_trials=30, n_jobs=2, show_progress=False)
    assert any(t.state == TrialState.PRUNED for t in study.trials)
    assert all(t.intermediate_values for t in study.trials)


def test_any_concurrent_futures_executor(sqlite_url):
    study = hyperdial.create_study("e", sqlite_url, seed=0, sampler="tpe")
    with ProcessPoolExecutor(2) as pool:
        study.optimize(
            lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2, n_trials=10, executor=pool, show_progress=False
        )
    assert len(study.trials) == 10


def test_threads_by_choice():
    study = hyperdial.create_study(seed=0)
    pids = set()

    def objective(t):
        pids.add(os.getpid())
        return t.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=6, n_jobs=2, parallel="thread", show_progress=False)
    assert pids == {os.getpid()} and len(study.trials) == 6


def test_memory_studies_are_not_sent_to_remote_executors():
    class RemoteLike:
        def submit(self, fn, *args):
            raise AssertionError("must not be called")

    study = hyperdial.create_study()
    with pytest.raises(ValueError, match="cannot be shared with workers on other machines"):
        study.optimize(lambda t: 0.0, n_trials=2, executor=RemoteLike(), show_progress=False)
    with pytest.raises(TypeError, match="submit"):
        study.optimize(lambda t: 0.0, n_trials=2, executor=object(), show_progress=False)


def _jittery(t):
    import random
    import time as _t

    x = t.suggest_float("x", -3, 3)
    y = t.suggest_float("y", -3, 3)
    _t.sleep(random.random() * 0.02)  # finishing order changes from run to run
    return (x - 1) ** 2 + (y + 1) ** 2


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_deterministic_parallel_runs_repeat_exactly(sampler, sqlite_url):
    runs = []
    for i in range(2):
        study = hyperdial.create_study(f"det{i}", sqlite_url, seed=7, sampler=sampler)
        study.optimize(_jittery, n_trials=16, n_jobs=2, deterministic=True, show_progress=False)
        runs.append([(t.number, t.params["x"], t.params["y"]) for t in study.trials])
        assert all(t.system_attrs["deterministic"] == 2 for t in study.trials)
    assert runs[0] == runs[1]


def test_deterministic_in_memory_with_threads_and_define_by_run():
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(seed=3, sampler="tpe")
        study.optimize(_jittery, n_trials=14, n_jobs=3, parallel="thread", deterministic=True, show_progress=False)
        runs.append([dict(t.params) for t in study.trials])
    assert runs[0] == runs[1]


def test_deterministic_needs_a_seed():
    with pytest.raises(ValueError, match="seeded study"):
        hyperdial.create_study().optimize(_jittery, n_trials=2, n_jobs=2, deterministic=True, show_progress=False)


def _jittery_pruned(t):
    import random
    import time as _t

    x = t.suggest_float("x", -3, 3)
    for step in range(3):
        _t.sleep(random.random() * 0.01)
        t.report((x - 1) ** 2 + 1 / (step + 1), step)
        if t.should_prune():
            raise hyperdial.TrialPruned
    return (x - 1) ** 2


def test_deterministic_pruning_repeats(sqlite_url):
    runs = []
    for i in range(2):
        study = hyperdial.create_study(
            f"detp{i}", sqlite_url, seed=1, sampler="tpe", pruner=hyperdial.MedianPruner(n_startup_trials=3)
        )
        study.optimize(_jittery_pruned, n_trials=14, n_jobs=2, deterministic=True, show_progress=False)
        runs.append([(t.params["x"], t.state, t.last_step) for t in study.trials])
    assert runs[0] == runs[1]
    assert any(state == TrialState.PRUNED for _, state, _ in runs[0])
