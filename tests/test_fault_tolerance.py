"""Lost workers: heartbeats, FAILED (worker lost), retries with the same parameters, late results rejected."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

import hyperdial
from hyperdial import FailReason, TrialState


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def _stuck_worker(url: str, flag: str) -> None:
    study = hyperdial.load_study("ft", url, sampler="random")

    def objective(t):
        t.suggest_float("x", 0, 1)
        t.flush()
        with open(flag, "w") as f:
            f.write(str(t.number))
        time.sleep(600)
        return 0.0

    study.optimize(objective, n_trials=1, show_progress=False)


def test_kill_9_mid_trial_fails_it_retries_it_and_loses_nothing(tmp_path, storage_url_for_processes):
    url = storage_url_for_processes
    hyperdial.create_study("ft", url, seed=0, heartbeat_interval=0.2, grace_period=1.0, max_retries=1)
    flag = str(tmp_path / "running")
    proc = mp.get_context("spawn").Process(target=_stuck_worker, args=(url, flag))
    proc.start()
    _wait_for(lambda: os.path.exists(flag) and Path(flag).read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    study = hyperdial.load_study("ft", url, sampler="random")
    _wait_for(lambda: study.storage.stale_trials(study._info.id, 1.0) == [0])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
    trials = study.trials
    lost = trials[0]
    assert lost.state == TrialState.FAILED and lost.fail_reason == FailReason.WORKER_LOST
    retry = [t for t in trials if t.system_attrs.get("retry_of") == 0]
    assert len(retry) == 1 and retry[0].params == lost.params and retry[0].state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert [t.number for t in trials] == list(range(len(trials)))


def test_a_late_result_from_a_lost_worker_is_rejected(sqlite_url):
    slow = hyperdial.create_study("late", sqlite_url, seed=0, heartbeat_interval=0.1, grace_period=0.3)
    trial = slow.ask()
    trial.suggest_float("x", 0, 1)
    slow._running.discard(trial.number)  # this worker freezes: its heartbeats stop
    other = hyperdial.load_study("late", sqlite_url)
    _wait_for(lambda: other.storage.stale_trials(other._info.id, 0.3) == [trial.number])
    other.ask()  # any worker asking for a trial reaps the lost one
    assert other.trials[trial.number].fail_reason == FailReason.WORKER_LOST
    with pytest.raises(hyperdial.StaleTrialError, match="declared lost"):
        slow.tell(trial, 1.0)
    assert slow.trials[trial.number].state == TrialState.FAILED


def test_running_trials_of_live_workers_are_left_alone(sqlite_url):
    study = hyperdial.create_study("alive", sqlite_url, seed=0, heartbeat_interval=0.05, grace_period=0.2)

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        time.sleep(0.5)  # longer than the grace period: heartbeats keep it alive
        return x

    study.optimize(objective, n_trials=2, show_progress=False)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="heartbeat_interval"):
        hyperdial.create_study(heartbeat_interval=0)
    with pytest.raises(ValueError, match="larger than heartbeat_interval"):
        hyperdial.create_study(heartbeat_interval=1, grace_period=0.5)
    with pytest.raises(ValueError, match="need heartbeat_interval"):
        hyperdial.create_study(max_retries=2)
