"""The optimisation loop: ask -> run the objective -> tell, with stopping rules and callbacks."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from hyperdial._progress import ProgressBar
from hyperdial.samplers import SearchSpaceExhausted
from hyperdial.stopping import LoopState, MaxTrials, NoImprovement, Stopper, TargetValue, Timeout
from hyperdial.trial import FailReason, FrozenTrial, Trial, TrialPruned, TrialState, values_error

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["run_optimize", "run_trial"]

logger = logging.getLogger("hyperdial")


def _check_catch(catch: Any) -> tuple[type[BaseException], ...]:
    if isinstance(catch, type):
        catch = (catch,)
    if not isinstance(catch, (tuple, list)) or not all(
        isinstance(c, type) and issubclass(c, BaseException) for c in catch
    ):
        raise TypeError(f"catch must be an exception class or a tuple of them, got {catch!r}")
    return tuple(catch)


def run_trial(study: Study, objective: Callable[[Trial], Any], trial: Trial, catch: tuple) -> FrozenTrial:
    """Run one trial and store how it ended. Exceptions not in ``catch`` propagate after being stored."""
    from hyperdial.study import StaleTrialError

    def finish(*args: Any) -> FrozenTrial:
        try:
            return study._finish(trial, *args)
        except StaleTrialError as exc:  # this worker was declared lost meanwhile
            logger.warning("%s", exc)
            return study.history.trials[trial.number]

    try:
        result = objective(trial)
    except TrialPruned:
        return finish(TrialState.PRUNED)
    except StaleTrialError as exc:
        logger.warning("trial %d abandoned: %s", trial.number, exc)
        return study.history.trials[trial.number]
    except KeyboardInterrupt:
        finish(TrialState.FAILED, None, FailReason.INTERRUPTED, "interrupted by KeyboardInterrupt")
        raise
    except Exception as exc:
        frozen = finish(TrialState.FAILED, None, FailReason.ERROR, traceback.format_exc())
        if isinstance(exc, catch):
            logger.warning("trial %d failed: %r (caught; the study goes on)", trial.number, exc)
            return frozen
        raise
    values, err = values_error(result, len(study.directions))
    if err is not None:
        logger.warning("trial %d failed: %s", trial.number, err)
        return finish(TrialState.FAILED, None, FailReason.INVALID_VALUE, err)
    return finish(TrialState.COMPLETE, values)


def run_optimize(
    study: Study,
    objective: Callable[[Trial], Any],
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    callbacks: Sequence[Callable[[Study, FrozenTrial], None]],
    catch: Any,
    show_progress: bool,
    target: float | None,
    patience: int | None,
    max_trials: int | None,
    stoppers: Sequence[Stopper],
    executor: Any = None,
    parallel: str = "process",
    deterministic: bool = False,
) -> None:
    if not callable(objective):
        raise TypeError(f"objective must be callable (a function taking a trial), got {objective!r}")
    catch = _check_catch(catch)
    rules: list[Stopper] = []
    if n_trials is not None:
        rules.append(MaxTrials(n_trials))
    if timeout is not None:
        rules.append(Timeout(timeout))
    if target is not None:
        rules.append(TargetValue(target))
    if patience is not None:
        rules.append(NoImprovement(patience))
    for s in stoppers:
        if not isinstance(s, Stopper):
            raise TypeError(f"stoppers must be hyperdial.stopping.Stopper objects, got {s!r}")
        rules.append(s)
    if max_trials is not None and (isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 0):
        raise ValueError(f"max_trials must be a non-negative integer, got {max_trials!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (one per CPU), got {n_jobs!r}")
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables taking (study, trial), got {cb!r}")
    if deterministic and not study.system_attrs.get("seed_given", True):
        raise ValueError("deterministic=True needs a seeded study: create it with create_study(seed=...)")
    if parallel not in ("process", "thread"):
        raise ValueError(f"parallel must be 'process' or 'thread', got {parallel!r}")
    if n_jobs == -1:
        import os

        n_jobs = os.cpu_count() or 1
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must have a submit(fn, *args) method (concurrent.futures style), got {executor!r}")
    before = [r for r in rules if r.before_start]
    after = [r for r in rules if not r.before_start]
    state = LoopState(study)
    lock = threading.Lock()
    progress = ProgressBar(n_trials, timeout, show_progress)
    study._stop_requested = False
    single = len(study.directions) == 1
    stop_reason: list[str] = []

    def should_stop(rule_set: list[Stopper]) -> bool:
        if stop_reason:
            return True
        if study._stop_requested:
            stop_reason.append("study.stop() called")
            return True
        for r in rule_set:
            why = r.check(state)
            if why:
                stop_reason.append(why)
                return True
        return False

    def worker() -> None:
        while True:
            with lock:
                if should_stop(before):
                    return
                state.started += 1
            try:
                trial = study.ask(max_trials=max_trials)
            except SearchSpaceExhausted as exc:
                stop_reason.append(str(exc))
                return
            except Exception as exc:
                from hyperdial.study import MaxTrialsReached

                if isinstance(exc, MaxTrialsReached):
                    stop_reason.append(str(exc))
                    return
                raise
            frozen = run_trial(study, objective, trial, catch)
            with lock:
                state.finished += 1
            for cb in callbacks:
                cb(study, frozen)
            if progress.enabled:
                best = study.history.best_trial if single else None
                progress.update(state.finished, None if best is None else best.values[0])
            if after:
                with lock:
                    if should_stop(after):
                        return

    try:
        if executor is not None or (n_jobs > 1 and parallel == "process"):
            from hyperdial.executors import run_parallel
            from hyperdial.executors.local import _executor_width

            width = n_jobs if n_jobs > 1 or executor is None else _executor_width(executor)
            why = run_parallel(
                study,
                objective,
                deterministic=width if deterministic else 0,
                n_workers=width,
                executor=executor,
                n_trials=n_trials,
                timeout=timeout,
                max_trials=max_trials,
                catch=catch,
                stoppers=[r for r in rules if not isinstance(r, (MaxTrials, Timeout))],
                callbacks=callbacks,
                progress=progress,
            )
            if why:
                stop_reason.append(why)
        elif n_jobs == 1:
            study._deterministic = 1 if deterministic else 0
            worker()
        else:
            study._deterministic = n_jobs if deterministic else 0
            with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="hyperdial") as pool:
                futures = [pool.submit(worker) for _ in range(n_jobs)]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        stop_reason.append("a worker raised")
                        raise f.exception()  # type: ignore[misc]
    finally:
        study._deterministic = 0
        progress.close()
        study.snapshot()
    if stop_reason:
        logger.info("study %r stopped: %s", study.name, stop_reason[0])
