"""The loop a worker process runs: open the study from its storage, then ask, run and tell."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import cloudpickle

__all__ = ["WorkerSpec", "worker_main"]

logger = logging.getLogger("hyperdial")

#: Seconds between two looks for the driver's cancel signal.
CANCEL_POLL = 0.2


@dataclass
class WorkerSpec:
    """Everything a worker needs, picklable by any executor.

    ``payload`` is the cloudpickle of the objective, sampler, pruner, catch tuple and
    stopping rules, so lambdas and closures travel to workers of any executor.
    """

    storage: Any  # a storage URL, or (address, authkey) of the driver's StorageServer
    study_name: str
    seed: int
    payload: bytes
    cap: int | None  # study-wide number of trials at which workers stop
    deadline: float | None  # wall-clock time after which no trial starts
    token: str  # the driver writes {"stop": token} to the study to stop its workers


def _open_storage(spec: Any) -> Any:
    from hyperdial.storages import get_storage

    if isinstance(spec, tuple):
        from hyperdial.executors.local import connect_storage

        return connect_storage(*spec)
    return get_storage(spec)


class _CancelWatch:
    """Interrupts the objective running in this worker when the driver writes ``{"cancel": token}``.

    The driver does so when it is interrupted (Ctrl-C). A watcher thread polls the study;
    where the worker runs in its process's main thread (loky, ``ProcessPoolExecutor``, Ray)
    it raises ``KeyboardInterrupt`` in the objective with a SIGINT aimed at that thread,
    so :func:`~hyperdial.optimize.run_trial` stores the trial as FAILED (interrupted).
    Elsewhere (Dask runs tasks in threads) the running trial finishes and the worker stops.
    """

    def __init__(self, study: Any, token: str) -> None:
        self.study = study
        self.token = token
        self.requested = threading.Event()
        self.in_objective = False
        self._done = threading.Event()
        self._main = threading.current_thread() is threading.main_thread()
        self._ident = threading.get_ident()
        self._old_handler: Any = None
        if self._main:
            # Worker pools may ignore SIGINT; the objective must see it as KeyboardInterrupt.
            self._old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        self._thread = threading.Thread(target=self._watch, name="hyperdial-cancel", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(CANCEL_POLL):
            try:
                cancelled = self.study.sync().system_attrs.get("cancel") == self.token
            except Exception as exc:  # a failed look is retried at the next tick
                logger.debug("cancel watch: %s", exc)
                continue
            if cancelled:
                self.requested.set()
                if self._main and self.in_objective:
                    signal.pthread_kill(self._ident, signal.SIGINT)
                return

    def wrap(self, objective: Any) -> Any:
        def run(trial: Any) -> Any:
            self.in_objective = True
            try:
                return objective(trial)
            finally:
                self.in_objective = False

        return run

    def close(self) -> None:
        self._done.set()
        if self._main and self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)


def _store_interrupted(study: Any, trial: Any) -> None:
    """A trial the interrupt caught outside its objective: store it as FAILED (interrupted) if still running."""
    from hyperdial.trial import FailReason, TrialState

    if trial is None:
        return
    with contextlib.suppress(Exception):
        if study.sync().trials[trial.number].state == TrialState.RUNNING:
            study._finish(trial, TrialState.FAILED, None, FailReason.INTERRUPTED, "cancelled by the driver (Ctrl-C)")


def worker_main(spec: WorkerSpec, index: int = 0) -> int:
    """Run trials until the cap, the deadline, a stopping rule or the driver's stop signal; return how many ran."""
    from hyperdial.optimize import run_trial
    from hyperdial.samplers import SearchSpaceExhausted
    from hyperdial.stopping import LoopState
    from hyperdial.study import MaxTrialsReached, load_study

    cfg = cloudpickle.loads(spec.payload)
    storage = _open_storage(spec.storage)
    study = load_study(spec.study_name, storage, sampler=cfg["sampler"], pruner=cfg["pruner"], seed=spec.seed)
    study._deterministic = cfg.get("deterministic", 0)
    study.param_constraint, study.constraints_func, study.max_redraws = cfg.get("constraints", (None, None, 100))
    state = LoopState(study)
    ran = 0
    watch = _CancelWatch(study, spec.token)
    objective = watch.wrap(cfg["objective"])
    trial = None
    parent = os.getppid()
    try:
        while not watch.requested.is_set():
            if spec.deadline is not None and time.time() >= spec.deadline:
                break
            if os.getppid() != parent:
                # Our parent (the driver's pool, or a cluster's nanny) died: finish no more trials for it.
                # The trial that was running was stored; a restarted driver continues the study.
                logger.warning("worker %d: its parent process exited; stopping", index)
                break
            h = study.sync()
            if h.system_attrs.get("stop") == spec.token:
                break
            if any(rule.check(state) for rule in cfg["stoppers"]):
                break
            try:
                trial = study.ask(max_trials=spec.cap)
            except (MaxTrialsReached, SearchSpaceExhausted):
                break
            state.started += 1
            run_trial(study, objective, trial, cfg["catch"])
            trial = None
            state.finished += 1
            ran += 1
    except KeyboardInterrupt:
        _store_interrupted(study, trial)
        if not watch.requested.is_set():
            raise  # this worker's own Ctrl-C (a terminal's, sent to the whole process group)
        logger.info("worker %d: cancelled by the driver", index)
    finally:
        watch.close()
        storage.close()
    return ran
