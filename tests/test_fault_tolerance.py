"""Fault tolerance with real processes: lost workers (heartbeats, FAILED worker lost, retries with the same
parameters), late results rejected and logged, a crashed driver restarted, Ctrl-C on the driver."""

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
    # grace 1 s (20 heartbeats): a loaded CI machine can stall one heartbeat thread for a few
    # hundred milliseconds, which would rightly declare a live worker lost at a tighter setting
    study = hyperdial.create_study("alive", sqlite_url, seed=0, heartbeat_interval=0.05, grace_period=1.0)

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        time.sleep(1.3)  # longer than the grace period: heartbeats keep it alive
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


def _alive(pid: int) -> bool:
    """Running (a zombie left for a parent that never reaps it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for_release(flags: str, number: int) -> None:
    """Announce the running trial (with this process's pid) and block until the test releases it."""
    Path(flags, f"running-{number}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not Path(flags, "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _driver(url: str, flags: str, hold_from: int, n_trials: int) -> None:
    study = hyperdial.load_study("drv", url, sampler="random")

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        if t.number >= hold_from:
            _wait_for_release(flags, t.number)
        return x

    study.optimize(objective, n_trials=n_trials, n_jobs=2, show_progress=False)


def _running_flags(flags: Path) -> dict[int, int]:
    """trial number -> pid of the worker process running it."""
    out = {}
    for p in flags.glob("running-*"):
        text = p.read_text()
        if text:
            out[int(p.name.split("-")[1])] = int(text)
    return out


def test_ctrl_c_on_the_driver_cancels_running_trials_and_stops_its_workers(tmp_path, sqlite_url):
    hyperdial.create_study("drv", sqlite_url, seed=0)
    flags = tmp_path / "flags"
    flags.mkdir()
    driver = mp.get_context("spawn").Process(target=_driver, args=(sqlite_url, str(flags), 2, 20))
    driver.start()
    _wait_for(lambda: len(_running_flags(flags)) == 2, timeout=60)
    workers = _running_flags(flags)
    os.kill(driver.pid, signal.SIGINT)  # what Ctrl-C sends the driver
    driver.join(60)
    assert driver.exitcode not in (None, 0)  # KeyboardInterrupt propagated
    _wait_for(lambda: not any(_alive(pid) for pid in workers.values()))
    trials = hyperdial.load_study("drv", sqlite_url).trials
    assert [t.state for t in trials[:2]] == [TrialState.COMPLETE] * 2
    cancelled = [trials[n] for n in sorted(workers)]
    assert all(t.state == TrialState.FAILED and t.fail_reason == FailReason.INTERRUPTED for t in cancelled)
    assert len(trials) == 4 and all(t.state.is_finished for t in trials)  # nothing started after the cancel


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("journal", marks=pytest.mark.slow), pytest.param("postgres", marks=pytest.mark.slow)],
)
def test_a_killed_driver_is_restarted_and_continues_the_study(tmp_path, backend):
    if backend == "postgres":
        from tests.conftest import POSTGRES_URL, STORAGE_FACTORIES

        STORAGE_FACTORIES["postgres"](tmp_path).close()  # skips without the server; empties the schema
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 's.db'}" if backend == "sqlite" else f"journal:///{tmp_path / 's.log'}"
    # A generous grace period: nothing here waits for it, and on a loaded machine a live worker's
    # beats can stall for over a second (it is then, correctly, declared lost: not this test's subject).
    hyperdial.create_study("drv", url, seed=0, heartbeat_interval=0.2, grace_period=10.0, max_retries=1)
    flags = tmp_path / "flags"
    flags.mkdir()
    driver = mp.get_context("spawn").Process(target=_driver, args=(url, str(flags), 2, 20))
    driver.start()
    _wait_for(lambda: len(_running_flags(flags)) == 2, timeout=60)
    os.kill(driver.pid, signal.SIGKILL)  # the driver crashes; its workers are orphaned mid-trial
    driver.join(30)
    before = {t.number: t.values for t in hyperdial.load_study("drv", url).trials if t.state == TrialState.COMPLETE}
    assert sorted(before) == [0, 1]
    restarted = hyperdial.load_study("drv", url, sampler="random")
    restarted.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4, n_jobs=2, show_progress=False)
    (flags / "release").write_text("")  # the orphans' trials end: their results still count
    _wait_for(lambda: all(t.state.is_finished for t in restarted.trials))
    trials = restarted.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert {n: trials[n].values for n in before} == before  # nothing stored before the crash was lost
    held = sorted(_running_flags(flags))
    assert held == [2, 3]
    for n in held:  # orphans kept beating, so their trials were not declared lost and their results stored
        assert trials[n].state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2 + 2 + 4


def _frozen_worker(url: str, flags: str, log: str) -> None:
    import logging

    logging.basicConfig(filename=log, level=logging.WARNING)
    study = hyperdial.load_study("late", url, sampler="random")

    def objective(t):
        t.suggest_float("x", 0, 1)
        t.flush()
        _wait_for_release(flags, t.number)
        return 123.0

    study.optimize(objective, n_trials=1, show_progress=False)


def test_a_late_result_from_a_frozen_worker_process_is_rejected_and_logged(tmp_path, storage_url_for_processes):
    url = storage_url_for_processes
    hyperdial.create_study("late", url, seed=0, heartbeat_interval=0.2, grace_period=1.0, max_retries=1)
    flags, log = tmp_path / "flags", tmp_path / "worker.log"
    flags.mkdir()
    proc = mp.get_context("spawn").Process(target=_frozen_worker, args=(url, str(flags), str(log)))
    proc.start()
    _wait_for(lambda: _running_flags(flags) == {0: proc.pid}, timeout=60)
    os.kill(proc.pid, signal.SIGSTOP)  # frozen (a paused VM, a partitioned machine): its heartbeats stop
    try:
        study = hyperdial.load_study("late", url, sampler="random")
        _wait_for(lambda: study.storage.stale_trials(study._info.id, 1.0) == [0])
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, show_progress=False)
        assert study.trials[0].fail_reason == FailReason.WORKER_LOST
        (flags / "release").write_text("")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    proc.join(60)
    assert proc.exitcode == 0  # the late worker is told, logs it and goes on
    assert "late result for trial 0 rejected" in log.read_text()
    trials = hyperdial.load_study("late", url).trials
    assert trials[0].state == TrialState.FAILED and trials[0].values is None  # 123.0 was not written
    retry = [t for t in trials if t.system_attrs.get("retry_of") == 0]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
