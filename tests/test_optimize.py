from __future__ import annotations

import math
import threading

import pytest

import hyperdial
from hyperdial import FailReason, TrialState


def quad(t):
    return (t.suggest_float("x", -1, 1) - 0.3) ** 2


def test_n_trials_counts_this_call():
    study = hyperdial.create_study(seed=0)
    study.optimize(quad, n_trials=5, show_progress=False)
    study.optimize(quad, n_trials=5, show_progress=False)
    assert len(study.trials) == 10


def test_max_trials_is_shared_by_calls_and_workers(sqlite_url):
    study = hyperdial.create_study("s", sqlite_url, seed=0)
    study.optimize(quad, n_trials=6, max_trials=10, show_progress=False)
    other = hyperdial.load_study("s", sqlite_url)
    other.optimize(quad, n_trials=100, max_trials=10, show_progress=False)
    assert len(other.trials) == 10
    with pytest.raises(hyperdial.MaxTrialsReached):
        other.ask(max_trials=10)


def test_timeout_stops_starting_trials():
    import time

    study = hyperdial.create_study(seed=0)
    study.optimize(lambda t: time.sleep(0.02) or quad(t), timeout=0.2, show_progress=False)
    assert 3 <= len(study.trials) <= 15


def test_target_and_patience():
    study = hyperdial.create_study(seed=0, sampler="random")
    study.optimize(quad, target=0.05, n_trials=1000, show_progress=False)
    assert study.best_value <= 0.05 and len(study.trials) < 1000
    study2 = hyperdial.create_study(seed=0, sampler="random")
    study2.optimize(lambda t: 1.0 + 0 * t.suggest_float("x", 0, 1), patience=5, n_trials=100, show_progress=False)
    assert len(study2.trials) == 6


def test_stop_from_a_callback():
    study = hyperdial.create_study(seed=0)

    def cb(study, trial):
        if trial.number == 3:
            study.stop()

    study.optimize(quad, n_trials=100, callbacks=[cb], show_progress=False)
    assert len(study.trials) == 4


@pytest.mark.parametrize(
    "result, message",
    [(math.nan, "nan"), (None, "None"), ("x", "not a number"), ((1.0, 2.0), "2 values"), (math.inf, "inf")],
)
def test_bad_results_fail_the_trial(result, message):
    study = hyperdial.create_study()
    study.optimize(lambda t: result, n_trials=2, show_progress=False)
    for t in study.trials:
        assert t.state == TrialState.FAILED and t.fail_reason == FailReason.INVALID_VALUE
        assert message in t.message


def test_exceptions_propagate_unless_caught():
    def boom(t):
        t.suggest_float("x", 0, 1)
        raise RuntimeError("broken objective")

    study = hyperdial.create_study()
    with pytest.raises(RuntimeError, match="broken objective"):
        study.optimize(boom, n_trials=3, show_progress=False)
    assert len(study.trials) == 1
    study.optimize(boom, n_trials=3, catch=RuntimeError, show_progress=False)
    assert len(study.trials) == 4
    t = study.trials[-1]
    assert t.fail_reason == FailReason.ERROR and "broken objective" in t.message and "x" in t.params


def test_ctrl_c_records_the_running_trial(sqlite_url):
    study = hyperdial.create_study("s", sqlite_url, seed=0)

    def objective(t):
        t.suggest_float("x", 0, 1)
        if t.number == 2:
            raise KeyboardInterrupt
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10, show_progress=False)
    trials = hyperdial.load_study("s", sqlite_url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAILED]
    assert trials[2].fail_reason == FailReason.INTERRUPTED and "x" in trials[2].params


def test_pruning_through_report():
    study = hyperdial.create_study(seed=0, pruner=hyperdial.MedianPruner(n_startup_trials=3))

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        for step in range(5):
            t.report(x * (step + 1), step)
            if t.should_prune():
                raise hyperdial.TrialPruned
        return x * 5

    study.optimize(objective, n_trials=30, show_progress=False)
    states = [t.state for t in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(t.values is not None for t in pruned)


def test_trial_pruned_raised_without_asking_the_pruner(sqlite_url):
    # The objective decides itself (no should_prune call): the trial is stored as PRUNED with its
    # last report as its value, in memory and on SQLite.
    def objective(t):
        x = t.suggest_float("x", 0, 1)
        t.report(x, 0)
        t.report(2 * x, 1)
        if x < 0.5:
            raise hyperdial.TrialPruned()
        return x

    for storage in (None, sqlite_url):
        study = hyperdial.create_study(storage=storage, seed=0)
        study.optimize(objective, n_trials=8, show_progress=False)
        pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
        assert pruned and len(study.trials) == 8
        assert all(t.value == 2 * t.params["x"] for t in pruned)


def test_threads_run_trials_concurrently():
    seen = set()
    barrier = threading.Barrier(2, timeout=5)

    def objective(t):
        seen.add(threading.get_ident())
        if t.number < 2:
            barrier.wait()
        return quad(t)

    study = hyperdial.create_study(seed=0)
    study.optimize(objective, n_trials=10, n_jobs=2, parallel="thread", show_progress=False)
    assert len(study.trials) == 10 and len(seen) == 2
    assert sorted(t.number for t in study.trials) == list(range(10))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_trials": -1}, "n_trials"),
        ({"timeout": 0}, "timeout"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"catch": "ValueError"}, "catch"),
        ({"callbacks": [1]}, "callbacks"),
        ({"target": math.nan}, "target"),
    ],
)
def test_bad_optimize_arguments(kwargs, message):
    study = hyperdial.create_study()
    with pytest.raises((ValueError, TypeError), match=message):
        study.optimize(quad, show_progress=False, **kwargs)
    assert study.trials == []


def test_the_library_prints_nothing(capsys):
    study = hyperdial.create_study(seed=0)
    study.optimize(quad, n_trials=5)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
