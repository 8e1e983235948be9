"""The loop a worker process runs: open the study from its storage, then ask, run and tell."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import cloudpickle

__all__ = ["WorkerSpec", "worker_main"]


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
    try:
        while True:
            if spec.deadline is not None and time.time() >= spec.deadline:
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
            run_trial(study, cfg["objective"], trial, cfg["catch"])
            state.finished += 1
            ran += 1
    finally:
        storage.close()
    return ran
