"""The Study: an ask / tell loop over a storage, with a sampler and a pruner plugged in."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hyperdial.constraints import ConstraintUnsatisfiable, check_param_constraint
from hyperdial.environment import capture_environment
from hyperdial.history import History
from hyperdial.pruners import Decision, NopPruner, Pruner, get_pruner
from hyperdial.samplers import Proposal, Sampler, get_sampler
from hyperdial.space import Distribution, SearchSpace
from hyperdial.storages import (
    Claim,
    DuplicateStudyError,
    Event,
    EventKind,
    MaxTrials,
    PreconditionFailed,
    StateIn,
    Storage,
    StudyInfo,
    get_storage,
)
from hyperdial.trial import (
    Direction,
    FailReason,
    FrozenTrial,
    Trial,
    TrialState,
    check_json,
    values_error,
)

__all__ = [
    "MaxTrialsReached",
    "StaleTrialError",
    "Study",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]

logger = logging.getLogger("hyperdial")

_RUNNING = (TrialState.RUNNING, TrialState.PAUSED)
_CLAIM_RETRIES = 1000
_SNAPSHOT_KEY = "snapshot"
# A reader writes a snapshot of its view once the log has grown by this many events, or
# doubled, since the last one: O(log n) snapshots over a study's life.
_SNAPSHOT_MIN_EVENTS = 20_000


class MaxTrialsReached(Exception):
    """The study already holds its ``max_trials``; no new trial was created."""


class StaleTrialError(ValueError):
    """A write for a trial that another process has already finished (e.g. declared lost): it was rejected."""


class _Streams:
    """Reproducible random streams: stream ``(number, k)`` is the same on every run and in any process.

    One PCG64 is re-positioned per draw (``advance`` is O(log n)), which is several times
    cheaper than seeding a new generator per trial.
    """

    def __init__(self, seed: int) -> None:
        self._bg = np.random.PCG64(seed)
        self._base = self._bg.state
        self._gen = np.random.Generator(self._bg)

    def get(self, number: int, k: int) -> np.random.Generator:
        self._bg.state = self._base
        self._bg.advance((number << 64) + (k << 40))
        return self._gen


def _parse_directions(direction: Any, directions: Any) -> tuple[Direction, ...]:
    if direction is not None and directions is not None:
        raise ValueError("give either direction= or directions=, not both")
    raw = [direction if direction is not None else "minimize"] if directions is None else directions
    if isinstance(raw, (str, Direction)):
        raw = [raw]
    out = []
    for d in raw:
        if isinstance(d, Direction):
            out.append(d)
            continue
        key = str(d).lower()
        if key in ("min", "minimise"):
            key = "minimize"
        if key in ("max", "maximise"):
            key = "maximize"
        try:
            out.append(Direction(key))
        except ValueError:
            raise ValueError(f"unknown direction {d!r}; use 'minimize' or 'maximize'") from None
    if not out:
        raise ValueError("directions is empty; give at least one of 'minimize' / 'maximize'")
    return tuple(out)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


_HOST = socket.gethostname()


def worker_label() -> str:
    """Who runs a trial, stored as its ``"worker"`` system attribute: ``host:pid``, plus the
    thread's name when it is not the main thread (``n_jobs`` threads share one process)."""
    th = threading.current_thread()
    base = f"{_HOST}:{os.getpid()}"
    return base if th is threading.main_thread() else f"{base}:{th.name}"


class Study:
    """A tuning study: its trials, stored in a :class:`~hyperdial.storages.Storage`.

    Create one with :func:`create_study` or :func:`load_study`. Several ``Study`` objects
    (in several threads, processes or machines) may share one stored study.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(direction="maximize", seed=0)
        >>> trial = study.ask()
        >>> x = trial.suggest_float("x", 0, 1)
        >>> study.tell(trial, 1 - (x - 0.5) ** 2).state.name
        'COMPLETE'
    """

    def __init__(
        self,
        storage: Storage,
        info: StudyInfo,
        sampler: Sampler,
        pruner: Pruner,
        seed: int,
    ) -> None:
        self._storage = storage
        self._info = info
        self.sampler = sampler
        self.pruner = pruner
        self.seed = seed
        self.directions = tuple(Direction(d) for d in info.directions)
        self._history = History(self.directions)
        self._lock = threading.RLock()
        self._streams = _Streams(seed)
        self._dists: dict[tuple, Distribution] = {}
        self._stop_requested = False
        self._snapshot_checked = False
        self._inferred: tuple[tuple, SearchSpace, dict, int] | None = None  # see _inferred_space
        self._running: set[int] = set()  # trials this object started and has not finished
        self._deterministic = 0  # k of a deterministic parallel run, else 0
        self._views: dict[int, History] = {}  # the history each deterministic trial was proposed from
        self._beat_thread: threading.Thread | None = None
        self._last_reap = 0.0
        self._worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._snapshot_version = 0
        self.param_constraint: Callable[[Mapping[str, Any]], bool] | None = None  # see hyperdial.constraints
        self.constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None
        self.max_redraws = 100
        self.sampler.bind(seed)
        self.sync()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_beat_thread"] = None
        state["_running"] = set()
        state["_views"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def _reseed(self, seed: int) -> None:
        self.seed = seed
        self._streams = _Streams(seed)
        self.sampler.bind(seed)

    # -- identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def direction(self) -> Direction:
        if len(self.directions) != 1:
            raise ValueError(f"the study has {len(self.directions)} objectives; use .directions")
        return self.directions[0]

    @property
    def space(self) -> SearchSpace | None:
        """The declared search space, or ``None`` for a define-by-run study."""
        spec = self._history.system_attrs.get("space")
        if spec is None:
            return None
        cached = getattr(self, "_space_cache", None)
        if cached is None or cached[0] is not spec:
            cached = (spec, SearchSpace(spec))
            self._space_cache = cached
        return cached[1]

    @property
    def user_attrs(self) -> Mapping[str, Any]:
        self.sync()
        return dict(self._history.user_attrs)

    @property
    def system_attrs(self) -> Mapping[str, Any]:
        self.sync()
        return dict(self._history.system_attrs)

    @property
    def environment(self) -> dict[str, Any] | None:
        return self.system_attrs.get("environment")

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-compatible annotation to the study."""
        if not isinstance(key, str):
            raise TypeError(f"set_user_attr: key must be a string, got {key!r}")
        check_json(value, f"set_user_attr({key!r})")
        self._storage.append(self._info.id, [Event(EventKind.STUDY, -1, {"user": {key: value}})])
        self.sync()

    def _set_system_attrs(self, attrs: dict[str, Any]) -> None:
        self._storage.append(self._info.id, [Event(EventKind.STUDY, -1, {"system": attrs})])
        self.sync()

    # -- history -----------------------------------------------------------------------------------
    def sync(self) -> History:
        """Read events other workers appended since the last look; return the up-to-date history."""
        with self._lock:
            h = self._history
            if h.version == 0 and not self._snapshot_checked:
                self._snapshot_checked = True
                h = self._load_snapshot() or h
            self._apply_new(self._storage.read(self._info.id, h.version))
            return h

    def _apply_new(self, events: list[tuple[int, Event]]) -> None:
        """Apply events read from the storage (the lock is held); write a snapshot when the log has grown."""
        if not events:
            return
        h = self._history
        first = h.version == self._snapshot_version
        # Contiguous from a version this view had already reached, so no event is skipped.
        h.apply(events)
        tail = h.version - self._snapshot_version
        # Doubling while a study grows; at once after replaying a long tail on opening it.
        if self._storage.snapshots and tail > _SNAPSHOT_MIN_EVENTS and (first or tail > self._snapshot_version):
            self._write_snapshot()

    def _append_synced(self, events: list[Event], require: Sequence[Any]) -> list[int]:
        """Append and bring the view up to date with one storage call (one round trip on PostgreSQL)."""
        numbers, new = self._storage.append_read(self._info.id, events, require, after=self._history.version)
        if new:
            with self._lock:
                self._apply_new(new)
        return numbers

    def _load_snapshot(self) -> History | None:
        try:
            data = self._storage.get_blob(self._info.id, _SNAPSHOT_KEY)
            h = History.from_snapshot(data, self.directions) if data else None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            logger.warning("ignoring an unreadable snapshot of study %r (%s); replaying its log", self.name, exc)
            return None
        if h is not None:
            self._history = h
            self._snapshot_version = h.version
        return h

    def snapshot(self) -> None:
        """Store a snapshot of the view if the log grew since the last one (opening is then fast)."""
        with self._lock:
            if self._storage.snapshots and self.sync().version - self._snapshot_version > 1000:
                self._write_snapshot()

    def _write_snapshot(self) -> None:
        # Snapshots are an optimisation beside the log: the log stays the source of truth.
        h = self._history
        self._snapshot_version = h.version
        try:
            self._storage.set_blob(self._info.id, _SNAPSHOT_KEY, h.to_snapshot())
        except Exception as exc:  # a full disk or a read-only file must not stop a study
            logger.warning("could not write a snapshot of study %r: %s", self.name, exc)

    @property
    def history(self) -> History:
        return self.sync()

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial, by number (immutable records)."""
        return list(self.sync().trials)

    def get_trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        h = self.sync()
        if states is None:
            return list(h.trials)
        return [h.trials[i] for i in h.numbers(*states)]

    @property
    def best_trial(self) -> FrozenTrial:
        """The feasible COMPLETE trial with the best value (single objective)."""
        if len(self.directions) != 1:
            raise ValueError(
                f"best_trial is for one objective; this study has {len(self.directions)}: use best_trials "
                "(the Pareto front)"
            )
        h = self.sync()
        best = h.best_trial
        if best is None:
            if h.count(TrialState.COMPLETE):
                raise ValueError(
                    f"study {self.name!r} has no feasible COMPLETE trial yet: every one violates an outcome "
                    "constraint (see FrozenTrial.constraints)"
                )
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        return best

    @property
    def best_value(self) -> float:
        return self.best_trial.values[0]

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front of feasible COMPLETE trials (for one objective, every trial tied for best)."""
        return self.sync().best_trials()

    # -- distributions (cached so repeated suggestions skip validation) --------------------------
    def _dist(self, cls: type, *args: Any) -> Distribution:
        if cls.__name__ == "Categorical":
            choices = args[0]
            # The choices with their types (True, 1 and 1.0 are equal but different choices).
            if isinstance(choices, tuple):
                key = (cls, choices, tuple(map(type, choices)))
            else:
                key = (cls, tuple((type(c), c) for c in choices))
        else:
            key = (cls, *args)
        try:
            return self._dists[key]
        except (KeyError, TypeError):
            pass
        if cls.__name__ == "Categorical":
            d = cls(args[0])
        else:
            low, high, log, step = args
            d = cls(low, high, log=log, step=step)
        with contextlib.suppress(TypeError):
            self._dists[key] = d
        return d

    # -- ask ---------------------------------------------------------------------------------------
    def ask(self, fixed: Mapping[str, Any] | None = None, *, max_trials: int | None = None) -> Trial:
        """Start a trial: claim an enqueued one, or create one with the sampler's proposal.

        Args:
            fixed: Values to use for some parameters instead of sampling them.
            max_trials: Study-wide cap on the number of trials; raises
                :class:`MaxTrialsReached` when the study already holds that many.
        """
        if fixed is not None and not isinstance(fixed, Mapping):
            raise TypeError(f"ask(fixed=...): expected a mapping of parameter name to value, got {fixed!r}")
        space = self.space
        if fixed and space is not None:
            fixed = space.validate(fixed, partial=True, where="ask(fixed=...)")
        require_cap = () if max_trials is None else (MaxTrials(int(max_trials)),)
        if self._deterministic:
            return self._ask_deterministic(fixed, space, require_cap)
        with self._lock:
            h = self.sync()
            if self._reap(h):
                h = self.sync()
            while h.waiting:
                trial = self._claim_waiting(h, next(iter(h.waiting)), fixed, space)
                if trial is not None:
                    return trial
                h = self.sync()
            for _ in range(_CLAIM_RETRIES):
                if max_trials is not None and len(h.trials) >= max_trials:
                    raise MaxTrialsReached(
                        f"study {self.name!r} holds {len(h.trials)} trials (max_trials={max_trials})"
                    )
                trial = self._create(h, fixed, space, require_cap)
                if trial is not None:
                    return trial
                h = self.sync()
        raise RuntimeError(f"could not claim a new trial after {_CLAIM_RETRIES} attempts; is the sampler stuck?")

    # -- deterministic parallel runs -------------------------------------------------------------------
    def _wait_until(self, ready: Callable[[History], bool]) -> History:
        """Sync until ``ready(history)``; lost workers are reaped meanwhile so a dead trial cannot block."""
        delay = 0.002
        while True:
            with self._lock:
                h = self.sync()
                if ready(h):
                    return h
                self._reap(h)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def _ask_deterministic(self, fixed: Mapping[str, Any] | None, space: SearchSpace | None, require: tuple) -> Trial:
        """Trial n is proposed from trials 0..n-k (waited for) with n-k+1..n-1 as its pending set.

        The number is taken first, so the proposal depends on it and on finished trials only,
        never on which worker was faster (Optuna issue #3056).
        """
        k = self._deterministic
        data: dict[str, Any] = {
            "state": int(TrialState.RUNNING),
            "system": {"deterministic": k, "worker": worker_label()},
        }
        try:
            (n,) = self._storage.append(self._info.id, [Event(EventKind.CREATE, None, data)], require)
        except PreconditionFailed as exc:
            raise MaxTrialsReached(f"study {self.name!r} reached its max_trials ({exc})") from None
        self._now_running(n)
        first_pending = max(0, n - k + 1)

        def ready(h: History) -> bool:
            S = h.S
            if first_pending and not np.all(S[:first_pending] >= int(TrialState.COMPLETE)):
                return False
            for i in range(first_pending, n):  # the pending set must have made its proposal
                t = h.trials[i]
                if not (t.state.is_finished or (t._system and t._system.get("proposed"))):
                    return False
            return True

        h = self._wait_until(ready)
        view = h.subset(range(n), as_running=range(first_pending, n), strip_running_params=space is None)
        assigned = self.pruner.assign(view, n) or {}
        system: dict[str, Any] = {**assigned, "proposed": True}
        params: dict[str, Any] = {}
        dists: dict[str, Distribution] = {}
        given = dict(fixed) if fixed and space is None else {}
        proposal_values: dict[str, Any] = {}
        claim = None
        if space is not None:
            prop = self._propose(view, n, space, assigned, fixed)
            params = self._apply_fixed(space, prop.params, fixed) if fixed else prop.params
            dists = {name: space.dists[name] for name in params if name in space.dists}
            system.update(prop.attrs)
            claim = prop.claim
        elif self.sampler.joint and view.intersection_space:
            prop = self._propose(view, n, SearchSpace(view.intersection_space), assigned)
            proposal_values = prop.params
            system.update(prop.attrs)
            claim = prop.claim
        events = [Event(EventKind.ATTRS, n, {"system": system})]
        if params:
            events.insert(0, Event(EventKind.PARAMS, n, {"params": params, "dists": dists}))
        require_claim = [Claim(f"det|{claim}")] if claim else []
        self._storage.append(self._info.id, events, [StateIn(n, _RUNNING), *require_claim])
        trial = Trial(self, n, dict(params), dict(dists), given, proposal_values, time.time())
        self._views[n] = view
        return trial

    def _propose(
        self, h: History, number: int, space: SearchSpace, attrs: dict[str, Any], fixed: Mapping[str, Any] | None = None
    ) -> Proposal:
        view = self.pruner.sampler_view(h, attrs)
        out = self.sampler.sample(view, space, self._streams.get(number, 0))
        prop = out if isinstance(out, Proposal) else Proposal(out)
        if self.param_constraint is not None and space is self.space:
            from hyperdial.constraints import propose_feasible

            prop = propose_feasible(self, view, number, space, prop, fixed)
        return prop

    def _create(
        self, h: History, fixed: Mapping[str, Any] | None, space: SearchSpace | None, require: tuple
    ) -> Trial | None:
        number = len(h.trials)  # expected; the storage confirms it (or numbers it otherwise in parallel runs)
        assigned = self.pruner.assign(h, number) or {}
        system = dict(assigned)
        given: dict[str, Any] = {}
        proposal_values: dict[str, Any] = {}
        if space is not None:
            prop = self._propose(h, number, space, system, fixed)
            params = self._apply_fixed(space, prop.params, fixed) if fixed else prop.params
            dists = {n: space.dists[n] for n in params if n in space.dists}
        else:
            params, dists = {}, {}
            given = dict(fixed) if fixed else {}
            inferred = self._inferred_space(h) if self.sampler.joint else None
            if inferred is not None:
                prop = self._propose(h, number, inferred, system)
                proposal_values = prop.params
            elif self.sampler.space is not None:  # a sampler that brings its own space (a grid)
                prop = self._propose(h, number, self.sampler.space, system)
                proposal_values = prop.params
            else:
                prop = Proposal({})
        if prop.attrs:
            system = {**system, **prop.attrs}
        system["worker"] = worker_label()
        data: dict[str, Any] = {"state": int(TrialState.RUNNING)}
        if params:
            data["params"] = params
            data["dists"] = dists
        if system:
            data["system"] = system
        ev = Event(EventKind.CREATE, None, data)
        claim = prop.claim
        if claim and assigned:
            # The sampler saw only the trials of this assignment (a bracket): claim within it.
            claim = f"{json.dumps(assigned, sort_keys=True)}|{claim}"
        req = require + ((Claim(claim),) if claim else ())
        try:
            (actual,) = self._storage.append(self._info.id, [ev], req)
        except PreconditionFailed as exc:
            if isinstance(exc.precondition, MaxTrials):
                raise MaxTrialsReached(f"study {self.name!r} reached max_trials={exc.precondition.limit}") from None
            return None  # someone else took the claim: sync and propose again
        self._now_running(actual)
        return Trial(self, actual, dict(params), dict(dists), given, proposal_values, ev.time)

    def _inferred_space(self, h: History) -> SearchSpace | None:
        """The define-by-run space every COMPLETE trial shares, as a (cached) SearchSpace."""
        inter = h._intersection
        if not inter:
            return None
        cached = self._inferred
        # The history only ever deletes names from its intersection dict (a new one starts a new
        # object), so the same dict at the same length holds the same distributions.
        if cached is not None and cached[2] is inter and cached[3] == len(inter):
            return cached[1]
        key = (*inter, *map(id, inter.values()))
        space = cached[1] if cached is not None and cached[0] == key else SearchSpace(dict(inter))
        self._inferred = (key, space, inter, len(inter))
        return space

    def _apply_fixed(self, space: SearchSpace, params: dict[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
        # Re-decode so that fixing a parent switches its children on or off consistently.
        u = space.encode(params)
        for name, value in fixed.items():
            if name in space.dists:
                u[space.names.index(name)] = space.dists[name].to_unit(value)
        missing = np.isnan(u)
        if missing.any():
            u[missing] = 0.5
        out = space.decode(u)
        for name, value in fixed.items():
            if name in out:
                out[name] = value
        return out

    def _claim_waiting(
        self, h: History, number: int, fixed: Mapping[str, Any] | None, space: SearchSpace | None
    ) -> Trial | None:
        t = h.trials[number]
        given = dict((t._system or {}).get("fixed_params", {}))
        if fixed:
            given.update(fixed)
        events = [
            Event(EventKind.STATE, number, {"state": int(TrialState.RUNNING)}),
            Event(EventKind.ATTRS, number, {"system": {"worker": worker_label()}}),
        ]
        params: dict[str, Any] = {}
        dists: dict[str, Distribution] = {}
        proposal_values: dict[str, Any] = {}
        if space is not None:
            given = space.validate(given, partial=True, where="enqueued")
            try:
                prop = self._propose(h, number, space, dict(t._system or {}), given)
            except ConstraintUnsatisfiable as exc:
                # An enqueued configuration that cannot satisfy the constraint must not block the queue.
                failed = {"state": int(TrialState.FAILED), "reason": str(FailReason.INVALID_VALUE), "message": str(exc)}
                with contextlib.suppress(PreconditionFailed):
                    waiting = [StateIn(number, (TrialState.WAITING,))]
                    self._storage.append(self._info.id, [Event(EventKind.STATE, number, failed)], waiting)
                warnings.warn(f"enqueued trial {number} failed: {exc}", stacklevel=3)
                return None
            params = self._apply_fixed(space, prop.params, given)
            dists = {n: space.dists[n] for n in params if n in space.dists}
            given = {}
            events.append(Event(EventKind.PARAMS, number, {"params": params, "dists": dists}))
        elif self.sampler.joint and self._inferred_space(h) is not None:
            proposal_values = self._propose(h, number, self._inferred_space(h), {}).params
        try:
            self._storage.append(self._info.id, events, [StateIn(number, (TrialState.WAITING,))])
        except PreconditionFailed:
            return None
        self._now_running(number)
        return Trial(self, number, params, dists, given, proposal_values, events[0].time)

    def _sample_one(self, trial: Trial, name: str, dist: Distribution) -> Any:
        with self._lock:
            trial._draws += 1
            h = self._views.get(trial.number, self._history)
            if type(self.pruner) is not NopPruner:
                attrs = h.trials[trial.number]._system if trial.number < len(h.trials) else None
                h = self.pruner.sampler_view(h, dict(attrs or {}))
            value = self.sampler.sample_one(h, name, dist, self._streams.get(trial.number, trial._draws))
        if not dist.contains(value):
            raise RuntimeError(f"{self.sampler!r} proposed {name}={value!r}, outside {dist!r}")
        return value if type(value) in (float, int, str) else dist.coerce(value)

    # -- heartbeats and lost workers --------------------------------------------------------------
    @property
    def heartbeat_settings(self) -> dict[str, Any] | None:
        """``{"interval", "grace", "max_retries"}`` when the study watches for lost workers."""
        return self._history.system_attrs.get("heartbeat")

    def _now_running(self, number: int) -> None:
        self._running.add(number)
        hb = self.heartbeat_settings
        if hb is None:
            return
        self._storage.heartbeat(self._info.id, [number], self._worker_id)
        if self._beat_thread is None or not self._beat_thread.is_alive():
            self._beat_thread = threading.Thread(
                target=self._beat, args=(float(hb["interval"]),), name="hyperdial-heartbeat", daemon=True
            )
            self._beat_thread.start()

    def _beat(self, interval: float) -> None:
        # Ends when this object has no running trial left; the next trial starts it again.
        while True:
            time.sleep(interval)
            running = sorted(self._running)
            if not running:
                return
            try:
                self._storage.heartbeat(self._info.id, running, self._worker_id)
            except Exception as exc:  # a failed beat is retried at the next tick
                logger.warning("heartbeat for trials %s failed: %s", running, exc)

    def _reap(self, h: History) -> bool:
        """Mark trials whose worker stopped beating as FAILED (worker lost), re-queue them if asked."""
        hb = self.heartbeat_settings
        if hb is None or time.monotonic() - self._last_reap < float(hb["interval"]):
            return False
        self._last_reap = time.monotonic()
        changed = False
        for number in self._storage.stale_trials(self._info.id, float(hb["grace"])):
            if number in self._running:
                continue  # our own trial: our beats are merely late
            t = h.trials[number] if number < len(h.trials) else None
            events = [
                Event(
                    EventKind.STATE,
                    number,
                    {
                        "state": int(TrialState.FAILED),
                        "reason": str(FailReason.WORKER_LOST),
                        "message": f"no heartbeat for {hb['grace']} s",
                    },
                )
            ]
            require: list[Any] = [StateIn(number, _RUNNING)]
            retries = int((t._system or {}).get("retry_count", 0)) if t is not None else 0
            if t is not None and retries < int(hb.get("max_retries", 0)):
                params = dict(t._params)
                system = {"fixed_params": params, "retry_of": number, "retry_count": retries + 1}
                events.append(Event(EventKind.CREATE, None, {"state": int(TrialState.WAITING), "system": system}))
                require.append(Claim(f"retry:{number}"))
            try:
                self._storage.append(self._info.id, events, require)
                logger.warning(
                    "trial %d lost its worker; marked FAILED%s", number, " and re-queued" if len(events) > 1 else ""
                )
                changed = True
            except PreconditionFailed:
                continue  # another worker handled it, or it just finished
        return changed

    # -- running trials ------------------------------------------------------------------------------
    def _drain(self, trial: Trial) -> list[Event]:
        events = []
        if trial._unsaved:
            names = trial._unsaved
            trial._unsaved = []
            events.append(
                Event(
                    EventKind.PARAMS,
                    trial.number,
                    {"params": {n: trial._params[n] for n in names}, "dists": {n: trial._dists[n] for n in names}},
                )
            )
        if trial._pending:
            user: dict[str, Any] = {}
            system: dict[str, Any] = {}
            for kind, d in trial._pending:
                (user if kind == "user" else system).update(d)
            trial._pending = []
            data = {}
            if user:
                data["user"] = user
            if system:
                data["system"] = system
            events.append(Event(EventKind.ATTRS, trial.number, data))
        return events

    def _write_running(self, trial: Trial, events: list[Event]) -> None:
        try:
            self._storage.append(self._info.id, events, [StateIn(trial.number, _RUNNING)])
        except PreconditionFailed as exc:
            state = self.sync().trials[trial.number].state
            raise StaleTrialError(
                f"trial {trial.number} is {state.name} in the storage; this worker's write was rejected ({exc})"
            ) from None

    def flush(self, trial: Trial) -> None:
        """Write a running trial's buffered parameters and attributes now."""
        events = self._drain(trial)
        if events:
            self._write_running(trial, events)

    def _report(self, trial: Trial, step: int, value: Any) -> None:
        events = self._drain(trial)
        events.append(Event(EventKind.REPORT, trial.number, {"step": step, "value": value}))
        self._write_running(trial, events)

    def _should_prune(self, trial: Trial) -> bool:
        if type(self.pruner) is NopPruner:
            return False
        if self._deterministic:
            # The same cut-off as proposals: trials 0..n-k, finished, and this trial.
            n, k = trial.number, self._deterministic
            cut = max(0, n - k + 1)
            h = self._wait_until(lambda h: not cut or bool(np.all(h.S[:cut] >= int(TrialState.COMPLETE))))
            view = h.subset([*range(cut), n])
            return self.pruner.decide(view, view.trials[-1]) == Decision.PRUNE
        with self._lock:
            h = self.sync()
            decision = self.pruner.decide(h, h.trials[trial.number])
        return decision == Decision.PRUNE

    # -- tell ------------------------------------------------------------------------------------------
    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        *,
        state: TrialState | str | None = None,
        fail_reason: FailReason | str | None = None,
        message: str | None = None,
    ) -> FrozenTrial:
        """Finish a trial.

        Args:
            trial: The :class:`Trial` from :meth:`ask`, or its number.
            values: The objective value(s); required for COMPLETE.
            state: COMPLETE (the default when values are given), PRUNED or FAILED.
            fail_reason / message: For FAILED trials.

        A non-finite value makes the trial FAILED (with a warning); a value of the wrong
        type or count raises and leaves the trial RUNNING so it can be told again.

        Raises:
            ValueError: the trial does not exist or is already finished.
        """
        number = trial.number if isinstance(trial, Trial) else trial
        if isinstance(number, bool) or not isinstance(number, numbers.Integral):
            raise TypeError(f"tell: expected a Trial or a trial number, got {trial!r}")
        number = int(number)
        h = self.sync()
        if not 0 <= number < len(h.trials):
            raise ValueError(f"tell: study {self.name!r} has no trial {number} (it has {len(h.trials)} trials)")
        if isinstance(state, str):
            try:
                state = TrialState[state.upper()]
            except KeyError:
                raise ValueError(f"tell: unknown state {state!r}; use COMPLETE, PRUNED or FAILED") from None
        if state is None:
            state = TrialState.COMPLETE if values is not None or fail_reason is None else TrialState.FAILED
        state = TrialState(state)
        if not state.is_finished:
            raise ValueError(f"tell: state must be COMPLETE, PRUNED or FAILED, got {state.name}")
        vals: tuple[float, ...] | None = None
        reason = FailReason(fail_reason) if fail_reason is not None else None
        if state == TrialState.COMPLETE:
            vals, err = values_error(values, len(self.directions))
            if err is not None:
                if _non_finite(values):
                    warnings.warn(f"trial {number} failed: {err}", stacklevel=2)
                    state, reason, message = TrialState.FAILED, FailReason.INVALID_VALUE, err
                else:
                    exc = TypeError if values is None or _wrong_type(values) else ValueError
                    raise exc(f"tell(trial {number}): {err}")
        elif values is not None:
            vals, err = values_error(values, len(self.directions))
            if err is not None:
                raise ValueError(f"tell(trial {number}, state={state.name}): {err}")
        return self._finish(trial if isinstance(trial, Trial) else number, state, vals, reason, message)

    def _finish(
        self,
        trial: Trial | int,
        state: TrialState,
        values: tuple[float, ...] | None = None,
        reason: FailReason | None = None,
        message: str | None = None,
    ) -> FrozenTrial:
        number = trial.number if isinstance(trial, Trial) else trial
        events = self._drain(trial) if isinstance(trial, Trial) else []
        if state == TrialState.COMPLETE and self.constraints_func is not None:
            from hyperdial.constraints import outcome_constraints_event

            ev, err = outcome_constraints_event(self, trial, number, values)
            if err is None:
                events.append(ev)
            else:
                warnings.warn(f"trial {number} failed: {err}", stacklevel=3)
                state, values, reason, message = TrialState.FAILED, None, FailReason.ERROR, err
        data: dict[str, Any] = {"state": int(state)}
        if state == TrialState.PRUNED and values is None and len(self.directions) == 1:
            # Synced first: an objective may raise TrialPruned without asking should_prune, so
            # this view may not hold the trial (or its latest reports) yet.
            last = self.sync().trials[number]
            if last._inter:
                v = last._inter[max(last._inter)]
                if isinstance(v, float) and math.isfinite(v):
                    values = (v,)
        if values is not None:
            data["values"] = list(values)
        if state == TrialState.FAILED:
            data["reason"] = str(reason or FailReason.ERROR)
        if message is not None:
            data["message"] = str(message)
        events.append(Event(EventKind.STATE, number, data))
        try:
            self._append_synced(events, [StateIn(number, _RUNNING)])
        except PreconditionFailed:
            current = self.sync().trials[number]
            if current.fail_reason == FailReason.WORKER_LOST:
                self._running.discard(number)
                logger.warning("late result for trial %d rejected: it was declared lost", number)
                raise StaleTrialError(
                    f"trial {number} was declared lost (no heartbeat within the grace period); its result was rejected"
                ) from None
            raise ValueError(
                f"trial {number} is already {current.state.name}; a finished trial cannot be told again"
            ) from None
        self._running.discard(number)
        self._views.pop(number, None)
        with self._lock:
            h = self._history  # brought up to date by the append
            frozen = h.trials[number]
            self.sampler.after_trial(h, frozen)
        if (frozen._system or {}).get("checkpoint"):
            from hyperdial.checkpoint import on_finished

            on_finished(self, frozen)
        return frozen

    # -- enqueue -----------------------------------------------------------------------------------------
    def enqueue_trial(
        self,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any] | None = None,
        *,
        skip_if_exists: bool = False,
    ) -> int | None:
        """Queue a configuration to run before any sampled one; returns its trial number.

        Missing parameters are sampled when a worker picks it up.

        Args:
            params: Values by name (validated against the declared space, if any).
            user_attrs: Annotations for the trial.
            skip_if_exists: Do nothing (and return ``None``) if a trial already has these values.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"enqueue_trial: params must be a mapping, got {type(params).__name__}")
        space = self.space
        params = space.validate(params, partial=True, where="enqueue_trial") if space is not None else dict(params)
        check_json(params, "enqueue_trial(params)")
        if self.param_constraint is not None and space is not None:
            from hyperdial.constraints import constraint_name, satisfies

            try:
                full = space.validate(params)
            except ValueError:
                full = None  # partial: the missing values are drawn (and checked) when a worker claims it
            if full is not None and not satisfies(self.param_constraint, full):
                raise ValueError(
                    f"enqueue_trial: {dict(params)!r} violates param_constraint "
                    f"{constraint_name(self.param_constraint)}; nothing was enqueued"
                )
        if skip_if_exists:
            for t in self.sync().trials:
                mine = dict(t._params) or (t._system or {}).get("fixed_params", {})
                if all(k in mine and mine[k] == v for k, v in params.items()):
                    return None
        data: dict[str, Any] = {"state": int(TrialState.WAITING), "system": {"fixed_params": params}}
        if user_attrs:
            data["user"] = check_json(dict(user_attrs), "enqueue_trial(user_attrs)")
        (number,) = self._storage.append(self._info.id, [Event(EventKind.CREATE, None, data)])
        return number

    # -- the loop ------------------------------------------------------------------------------------------
    def optimize(
        self,
        objective: Callable[[Trial], Any],
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] = (),
        catch: type[BaseException] | tuple[type[BaseException], ...] = (),
        show_progress: bool = True,
        *,
        target: float | None = None,
        patience: int | None = None,
        max_trials: int | None = None,
        stoppers: Sequence[Any] = (),
        executor: Any = None,
        parallel: str = "process",
        deterministic: bool = False,
    ) -> None:
        """Run ``objective`` on new trials until a stopping rule fires.

        Args:
            objective: Takes a :class:`Trial`, returns a number (one per objective).
            n_trials: Trials this call finishes (COMPLETE, PRUNED or FAILED).
            timeout: Seconds after which no new trial starts.
            n_jobs: Trials run at once: in worker processes (``parallel="process"``, the default;
                objectives may be lambdas or closures) or threads (``parallel="thread"``). -1: one per CPU.
            callbacks: Called as ``callback(study, frozen_trial)`` after each trial.
            catch: Exception types that fail the trial but do not stop the loop.
            show_progress: A progress bar on stderr when it is a terminal.
            target: Stop once the best value reaches this (single objective).
            patience: Stop after this many finished trials without improving the best value.
            max_trials: Study-wide cap, shared by every worker and every resumed run.
            stoppers: More :mod:`hyperdial.stopping` rules.
            executor: Any ``concurrent.futures``-style executor to run workers on (a Dask
                ``Client``, a ``ProcessPoolExecutor``, :class:`~hyperdial.executors.RayExecutor`...);
                ``n_jobs`` workers are submitted (its width when ``n_jobs`` is 1).
            parallel: ``"process"`` or ``"thread"`` for ``n_jobs > 1`` without an executor.
            deterministic: With k workers, trial n is proposed from trials 0..n-k only (waiting
                for them) with n-k+1..n-1 as its pending set, and pruning uses the same cut-off,
                so a seeded run proposes the same trials whatever the timing. What still breaks
                it: a wall-clock ``timeout`` (how many trials run depends on speed), objectives
                that are themselves random, and trials lost to dead workers.

        With workers in other processes, callbacks and the progress bar run here in the driver
        as trials finish, and ``study.stop()`` from a callback stops every worker.

        Ctrl-C stops the loop: the running trial is stored as FAILED (interrupted), and
        ``KeyboardInterrupt`` propagates. With worker processes, Ctrl-C on the driver cancels
        every worker's running trial the same way (within about 0.2 s) and stops the workers;
        workers that run in threads (Dask) finish their trial first. A driver that crashed is
        restarted with ``load_study(...).optimize(...)`` and continues the study: its orphaned
        workers store the trial they were running and stop; with heartbeats, trials of workers
        that died too are marked FAILED (worker lost) and, with ``max_retries``, run again.
        """
        from hyperdial.optimize import run_optimize

        run_optimize(
            self,
            objective,
            n_trials=n_trials,
            timeout=timeout,
            n_jobs=n_jobs,
            callbacks=callbacks,
            catch=catch,
            show_progress=show_progress,
            target=target,
            patience=patience,
            max_trials=max_trials,
            stoppers=stoppers,
            executor=executor,
            parallel=parallel,
            deterministic=deterministic,
        )

    def stop(self) -> None:
        """Ask a running :meth:`optimize` to start no new trial (call it from a callback)."""
        self._stop_requested = True

    # -- export --------------------------------------------------------------------------------------------
    def to_dataframe(self, attrs: Sequence[str] = ("number", "values", "state", "params", "duration")) -> Any:
        """The trials as a pandas DataFrame (needs pandas: ``pip install hyperdial[pandas]``)."""
        from hyperdial._imports import require

        pd = require("pandas", "pandas")
        rows = []
        trials = self.sync().trials
        with_constraints = any(t._system and "constraints" in t._system for t in trials)
        for t in trials:
            row: dict[str, Any] = {}
            if "number" in attrs:
                row["number"] = t.number
            if "values" in attrs:
                if len(self.directions) == 1:
                    row["value"] = t.values[0] if t.values else np.nan
                else:
                    for i in range(len(self.directions)):
                        row[f"values_{i}"] = t.values[i] if t.values else np.nan
            if "state" in attrs:
                row["state"] = t.state.name
                if with_constraints:
                    row["feasible"] = t.feasible
                    row["constraints"] = t.constraints
            if "params" in attrs:
                for k, v in t._params.items():
                    row[f"params_{k}"] = v
            if "duration" in attrs:
                row["duration"] = t.duration
            if "user_attrs" in attrs:
                for k, v in (t._user or {}).items():
                    row[f"user_attrs_{k}"] = v
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (
            f"Study(name={self.name!r}, storage={self._storage.url!r}, directions={[str(d) for d in self.directions]})"
        )


def _non_finite(values: Any) -> bool:
    vals = values if isinstance(values, Sequence) and not isinstance(values, str) else [values]
    try:
        return any(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(float(v)) for v in vals
        )
    except TypeError:
        return False


def _wrong_type(values: Any) -> bool:
    vals = values if isinstance(values, Sequence) and not isinstance(values, str) else [values]
    return any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in vals)


def _new_name() -> str:
    return f"study-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def create_study(
    name: str | None = None,
    storage: str | Storage | None = None,
    *,
    direction: str | Direction | None = None,
    directions: Sequence[str | Direction] | None = None,
    sampler: str | Sampler | None = None,
    pruner: str | Pruner | None = None,
    seed: int | None = None,
    load_if_exists: bool = False,
    space: SearchSpace | Mapping[str, Any] | None = None,
    allow_space_change: bool = False,
    heartbeat_interval: float | None = None,
    grace_period: float | None = None,
    max_retries: int = 0,
    param_constraint: Callable[[Mapping[str, Any]], bool] | None = None,
    constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
) -> Study:
    """Create a study (or load it with ``load_if_exists=True``).

    Args:
        name: Unique within the storage; generated when omitted.
        storage: ``None`` (memory), ``"sqlite:///study.db"``, or a :class:`Storage`.
        direction / directions: ``"minimize"`` or ``"maximize"``, one per objective.
        sampler: A name (``"auto"``, ``"random"``, ``"grid"``, ``"sobol"``, ``"halton"``,
            ``"lhs"``, ``"tpe"``, ``"gp"``, ``"cmaes"``, ``"coarse_to_fine"``, ``"ga"``, ``"de"``,
            ``"jde"``, ``"nsga2"``: see ``hyperdial.samplers.SAMPLERS``) or a
            :class:`~hyperdial.samplers.Sampler`. Default ``"auto"``.
        pruner: A name (``"none"``, ``"median"``, ``"percentile"``) or a Pruner.
        seed: Makes the study reproducible; drawn at random and stored when omitted.
        load_if_exists: Return the existing study of that name instead of failing.
        space: A declared search space (a :class:`SearchSpace` or its dict form). The
            objective then reads ``trial.params``; every sampler proposes jointly over it.
        allow_space_change: When loading, accept a space that differs from the stored one
            (trials outside the new space stay stored but leave the models).
        heartbeat_interval: Seconds between the heartbeats every worker sends for its running
            trials (stamped by the storage's clock). ``None``: no lost-worker detection.
        grace_period: A RUNNING trial without a heartbeat for this long is marked FAILED
            (worker lost) by the next worker that asks for a trial (default: 4 intervals).
        max_retries: Re-queue a lost trial with the same parameters up to this many times;
            the new trial records ``retry_of`` and ``retry_count``.
        param_constraint: ``f(params) -> bool`` that every proposed configuration must satisfy
            (needs a declared ``space``); violating proposals are redrawn, so no trial ever
            violates it (see :mod:`hyperdial.constraints`). Not stored: pass it again on loading.
        constraints_func: ``f(frozen_trial) -> [c1, c2, ...]``, outcome constraints evaluated when a
            trial completes, feasible when every value is <= 0 (like ``trial.set_constraints``).

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(direction="maximize", sampler="random", seed=42)
        >>> study.direction.value
        'maximize'
    """
    dirs = _parse_directions(direction, directions)
    seed = _check_seed(seed)
    heartbeat = _heartbeat_settings(heartbeat_interval, grace_period, max_retries)
    param_constraint, constraints_func = _constraint_settings(param_constraint, constraints_func)
    if param_constraint is not None and space is None and not load_if_exists:
        raise ValueError(_NEEDS_SPACE)
    st = get_storage(storage)
    samp = get_sampler(sampler)
    prun = get_pruner(pruner)
    if space is not None and not isinstance(space, SearchSpace):
        space = SearchSpace(space)
    if name is None:
        name = _new_name()
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"study name must be a non-empty string, got {name!r}")
    try:
        info = st.create_study(name, [d.value for d in dirs])
    except DuplicateStudyError:
        if not load_if_exists:
            raise DuplicateStudyError(
                f"a study named {name!r} already exists in {st.url}; pass load_if_exists=True to resume it, "
                "or choose another name"
            ) from None
        study = load_study(name, st, sampler=samp, pruner=prun, seed=seed)
        if tuple(study.directions) != dirs and (direction is not None or directions is not None):
            raise ValueError(
                f"study {name!r} is stored with directions {[d.value for d in study.directions]}, "
                f"not {[d.value for d in dirs]}"
            ) from None
        if space is not None:
            _check_space(study, space, allow_space_change)
        if heartbeat is not None and study.heartbeat_settings != heartbeat:
            study._set_system_attrs({"heartbeat": heartbeat})
        if param_constraint is not None and study.space is None:
            raise ValueError(_NEEDS_SPACE) from None
        study.param_constraint, study.constraints_func = param_constraint, constraints_func
        return study
    actual_seed = seed if seed is not None else secrets.randbits(32)
    system: dict[str, Any] = {
        "seed": actual_seed,
        "seed_given": seed is not None,
        "environment": capture_environment(actual_seed),
        "sampler": repr(samp),
        "pruner": type(prun).__name__,
    }
    if space is not None:
        system["space"] = space.to_dict()
    if heartbeat is not None:
        system["heartbeat"] = heartbeat
    st.append(info.id, [Event(EventKind.STUDY, -1, {"system": system})])
    study = Study(st, info, samp, prun, actual_seed)
    study.param_constraint, study.constraints_func = param_constraint, constraints_func
    return study


_NEEDS_SPACE = (
    "param_constraint needs a declared search space (create_study(space=...)): a define-by-run objective draws "
    "its parameters one at a time, after the proposal could be checked"
)


def _constraint_settings(param_constraint: Any, constraints_func: Any) -> tuple:
    param_constraint = check_param_constraint(param_constraint)
    if constraints_func is not None and not callable(constraints_func):
        raise TypeError(
            f"constraints_func must be a callable taking a FrozenTrial and returning a sequence of numbers "
            f"(feasible when all <= 0), got {constraints_func!r}"
        )
    return param_constraint, constraints_func


def _heartbeat_settings(interval: Any, grace: Any, retries: Any) -> dict[str, Any] | None:
    if interval is None:
        if grace is not None or retries:
            raise ValueError("grace_period and max_retries need heartbeat_interval (seconds between heartbeats)")
        return None
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise ValueError(f"heartbeat_interval must be a positive number of seconds, got {interval!r}")
    grace = 4.0 * interval if grace is None else grace
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not grace > interval:
        raise ValueError(f"grace_period must be a number of seconds larger than heartbeat_interval, got {grace!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"max_retries must be a non-negative integer, got {retries!r}")
    return {"interval": float(interval), "grace": float(grace), "max_retries": retries}


def _check_space(study: Study, space: SearchSpace, allow: bool) -> None:
    stored = study.space
    if stored is None:
        if study.trials and not allow:
            raise ValueError(
                f"study {study.name!r} was run define-by-run (no declared space); pass allow_space_change=True "
                "to declare one now"
            )
        study._set_system_attrs({"space": space.to_dict()})
        return
    diff = stored.diff(space)
    if not diff:
        return
    if not allow:
        raise ValueError(
            f"the search space differs from the one stored with study {study.name!r}:\n  "
            + "\n  ".join(diff)
            + "\nPass allow_space_change=True to continue with the new space (trials outside it stay stored "
            "but leave the models), or use a new study name."
        )
    changes = list(study.system_attrs.get("space_changes", []))
    changes.append({"time": time.time(), "diff": diff})
    study._set_system_attrs({"space": space.to_dict(), "space_changes": changes})


def load_study(
    name: str,
    storage: str | Storage | None,
    *,
    sampler: str | Sampler | None = None,
    pruner: str | Pruner | None = None,
    seed: int | None = None,
    param_constraint: Callable[[Mapping[str, Any]], bool] | None = None,
    constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
) -> Study:
    """Open an existing study; the seed defaults to the stored one so a resumed run continues exactly.

    ``param_constraint`` and ``constraints_func`` are as in :func:`create_study` (callables are
    not stored with the study, so pass them again).

    Raises:
        ValueError: no study of that name (the message lists the existing ones).
    """
    st = get_storage(storage)
    info = st.get_study(name)
    if info is None:
        names = [s.name for s in st.list_studies()]
        listing = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        raise ValueError(
            f"no study named {name!r} in {st.url}; "
            + (f"existing studies: {listing}" if names else "the storage holds no study yet")
        )
    seed = _check_seed(seed)
    samp = get_sampler(sampler)
    prun = get_pruner(pruner)
    study = Study(st, info, samp, prun, seed if seed is not None else 0)
    stored_seed = study._history.system_attrs.get("seed")
    if seed is None and stored_seed is not None:
        study._reseed(int(stored_seed))
    param_constraint, constraints_func = _constraint_settings(param_constraint, constraints_func)
    if param_constraint is not None and study.space is None:
        raise ValueError(f"study {name!r} is define-by-run; " + _NEEDS_SPACE)
    study.param_constraint, study.constraints_func = param_constraint, constraints_func
    return study


def delete_study(name: str, storage: str | Storage) -> None:
    """Delete a study and all its trials."""
    st = get_storage(storage)
    try:
        st.delete_study(name)
    except KeyError:
        raise ValueError(f"no study named {name!r} in {st.url}") from None


def list_studies(storage: str | Storage) -> list[Any]:
    """Summaries (name, directions, number of trials, creation time) of every study in a storage."""
    return get_storage(storage).list_studies()
