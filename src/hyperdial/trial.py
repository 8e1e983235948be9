"""Trials: the states they pass through, the immutable record plug-ins see, the live handle.

``Trial`` is what an objective receives: it suggests values, reports intermediate
results and asks whether to stop. ``FrozenTrial`` is the immutable record of a trial
as the storage knows it; samplers, pruners, callbacks and the CLI only ever see those.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hyperdial.space import Categorical, Distribution, Float, Int

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["Direction", "FailReason", "FrozenTrial", "Trial", "TrialPruned", "TrialState"]

_EMPTY: Mapping[Any, Any] = MappingProxyType({})
_MISSING = object()


class TrialState(IntEnum):
    """Where a trial is in its life. The integer values are stored and never change."""

    WAITING = 0  # enqueued, not yet claimed by a worker
    RUNNING = 1
    PAUSED = 2  # stopped at a rung or by a population-based scheduler; may resume
    COMPLETE = 3
    PRUNED = 4
    FAILED = 5

    @property
    def is_finished(self) -> bool:
        return self >= TrialState.COMPLETE

    def __str__(self) -> str:
        return self.name


class Direction(str, Enum):
    """Whether an objective is minimised or maximised."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def __str__(self) -> str:
        return self.value


class FailReason(str, Enum):
    """Why a trial is FAILED."""

    ERROR = "error"  # the objective raised
    INVALID_VALUE = "invalid value"  # it returned nan, inf, None or the wrong number of values
    INTERRUPTED = "interrupted"  # Ctrl-C or a cancelled run
    WORKER_LOST = "worker lost"  # its worker stopped sending heartbeats

    def __str__(self) -> str:
        return self.value


class TrialPruned(Exception):
    """Raise inside an objective to stop the trial early (it is stored as PRUNED)."""


#: System attribute a pruned trial carries when its last reported value is an unbiased estimate
#: of the value it would have finished with (value ``"unbiased"``): the running mean of
#: cross-validation folds is, a learning curve cut short is not. The GP sampler then observes
#: the trial at that value instead of treating it as a pending point.
PARTIAL_VALUE_ATTR = "partial_value"


class FrozenTrial:
    """The immutable record of one trial.

    Attributes:
        number: The trial's number in its study, from 0, unique and gap-free.
        state: A :class:`TrialState`.
        values: The objective values of a COMPLETE trial (one per direction), else ``None``
            (a PRUNED trial keeps its last intermediate value here when it has one).
        params: Parameter values by name (read-only mapping).
        distributions: The distribution each parameter was drawn from.
        intermediate_values: ``{step: value}`` reported by the objective.
        user_attrs / system_attrs: Free-form JSON-compatible annotations.
        fail_reason / message: Why a FAILED trial failed, and its traceback or message.
    """

    __slots__ = (
        "number",
        "state",
        "values",
        "_params",
        "_dists",
        "_user",
        "_system",
        "_inter",
        "started",
        "finished",
        "fail_reason",
        "message",
    )

    def __init__(
        self,
        number: int,
        state: TrialState,
        values: tuple[float, ...] | None = None,
        params: dict[str, Any] | None = None,
        distributions: dict[str, Distribution] | None = None,
        user_attrs: dict[str, Any] | None = None,
        system_attrs: dict[str, Any] | None = None,
        intermediate_values: dict[int, Any] | None = None,
        started: float | None = None,
        finished: float | None = None,
        fail_reason: FailReason | None = None,
        message: str | None = None,
    ) -> None:
        _set = object.__setattr__
        _set(self, "number", number)
        _set(self, "state", state)
        _set(self, "values", values)
        _set(self, "_params", params if params else {})
        _set(self, "_dists", distributions if distributions else {})
        _set(self, "_user", user_attrs or None)
        _set(self, "_system", system_attrs or None)
        _set(self, "_inter", intermediate_values or None)
        _set(self, "started", started)
        _set(self, "finished", finished)
        _set(self, "fail_reason", fail_reason)
        _set(self, "message", message)

    def _replace(self, **changes: Any) -> FrozenTrial:
        new = object.__new__(FrozenTrial)
        _set = object.__setattr__
        for slot in FrozenTrial.__slots__:
            _set(new, slot, changes[slot] if slot in changes else getattr(self, slot))
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"FrozenTrial is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple:
        return (_rebuild_frozen, tuple(getattr(self, s) for s in FrozenTrial.__slots__))

    @property
    def params(self) -> Mapping[str, Any]:
        return MappingProxyType(self._params)

    @property
    def distributions(self) -> Mapping[str, Distribution]:
        return MappingProxyType(self._dists)

    @property
    def user_attrs(self) -> Mapping[str, Any]:
        return MappingProxyType(self._user) if self._user else _EMPTY

    @property
    def system_attrs(self) -> Mapping[str, Any]:
        return MappingProxyType(self._system) if self._system else _EMPTY

    @property
    def intermediate_values(self) -> Mapping[int, Any]:
        return MappingProxyType(self._inter) if self._inter else _EMPTY

    @property
    def value(self) -> float | None:
        """The single objective value (``None`` unless there is exactly one value)."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise ValueError(f"trial {self.number} has {len(self.values)} values; use .values")
        return self.values[0]

    @property
    def last_step(self) -> int | None:
        return max(self._inter) if self._inter else None

    @property
    def constraints(self) -> tuple[float, ...] | None:
        """Outcome constraint values (feasible when every one is <= 0), ``None`` when none were given."""
        cons = (self._system or {}).get("constraints")
        return None if cons is None else tuple(cons)

    @property
    def feasible(self) -> bool:
        """False when an outcome constraint value is > 0; True otherwise (also without constraints)."""
        cons = (self._system or {}).get("constraints")
        return not cons or all(c <= 0 for c in cons)

    @property
    def datetime_start(self) -> _dt.datetime | None:
        return None if self.started is None else _dt.datetime.fromtimestamp(self.started)

    @property
    def datetime_complete(self) -> _dt.datetime | None:
        return None if self.finished is None else _dt.datetime.fromtimestamp(self.finished)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, ``None`` while unfinished."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrozenTrial):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in FrozenTrial.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        vals = "" if self.values is None else f", values={list(self.values)}"
        return f"FrozenTrial(number={self.number}, state={self.state.name}{vals}, params={self._params})"


def _rebuild_frozen(*args: Any) -> FrozenTrial:
    new = object.__new__(FrozenTrial)
    for slot, value in zip(FrozenTrial.__slots__, args):
        object.__setattr__(new, slot, value)
    return new


def check_json(value: Any, where: str) -> Any:
    """Raise ``TypeError`` unless ``value`` survives a JSON round trip."""
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}={value!r} is not JSON-serialisable; store numbers, strings, lists and dicts "
            "(convert arrays with .tolist())"
        ) from None
    return value


def as_report_value(value: Any, n_objectives: int, where: str) -> float | tuple[float, ...]:
    """Validate an intermediate value: one number, or one per objective."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if n_objectives != 1:
            raise ValueError(
                f"{where}: the study has {n_objectives} objectives; report a sequence of that many numbers"
            )
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n_objectives:
            raise ValueError(f"{where}: got {len(value)} values for a study of {n_objectives} objectives")
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{where}: {v!r} is not a number")
            out.append(float(v))
        return out[0] if n_objectives == 1 else tuple(out)
    raise TypeError(f"{where}: expected a number, got {type(value).__name__} {value!r}")


class Trial:
    """The live handle an objective receives.

    Example:
        >>> import hyperdial
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -5, 5)
        ...     kind = trial.suggest_categorical("kind", ["a", "b"])
        ...     return x ** 2 + (kind == "b")
        >>> study = hyperdial.create_study(seed=0, sampler="random")
        >>> study.optimize(objective, n_trials=40, show_progress=False)
        >>> study.best_value < 1
        True
    """

    __slots__ = (
        "study",
        "number",
        "_params",
        "_dists",
        "_given",
        "_proposal",
        "_unsaved",
        "_pending",
        "_draws",
        "_started",
        "_ckpt",
    )

    def __init__(
        self,
        study: Study,
        number: int,
        params: dict[str, Any],
        dists: dict[str, Distribution],
        given: dict[str, Any] | None = None,
        proposal: dict[str, Any] | None = None,
        started: float | None = None,
    ) -> None:
        self.study = study
        self.number = number
        self._params = params  # suggested / declared values, in suggestion order
        self._dists = dists
        self._given = given or {}  # fixed= / enqueued values still to be suggested
        self._proposal = proposal or {}  # a joint sampler's proposal (inferred space, or its own grid)
        self._unsaved: list[str] = []  # names suggested since the last write
        self._pending: list[tuple[str, dict[str, Any]]] = []  # attribute events not yet written
        self._draws = 0
        self._started = started
        self._ckpt: dict[str, Any] | None = None  # {"keep", "steps"} of the checkpoints saved

    # -- suggestions ------------------------------------------------------------------------
    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """Suggest a float in ``[low, high]`` (log scale with ``log=True``, on a grid with ``step``)."""
        return self._suggest(name, self.study._dist(Float, low, high, log, step))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> int:
        """Suggest an int in ``[low, high]`` (log scale with ``log=True``, every ``step``-th value)."""
        return self._suggest(name, self.study._dist(Int, low, high, log, step))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """Suggest one of ``choices`` (str, int, float, bool or None)."""
        if isinstance(choices, list):
            choices = tuple(choices)
        return self._suggest(name, self.study._dist(Categorical, choices))

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """Suggest a value from any :class:`~hyperdial.space.Distribution` object."""
        if not isinstance(distribution, Distribution):
            raise TypeError(f"suggest({name!r}): expected a Distribution such as Float(0, 1), got {distribution!r}")
        return self._suggest(name, distribution)

    def suggest_schedule(self, name: str, schedule: Any) -> Any:
        """Suggest a schedule (``hyperdial.schedules.WarmupCosine(...)``, ...) as ``"<name>.<field>"`` parameters.

        Returns the :class:`~hyperdial.schedules.ScheduledValue`: call it with a step.

        Example:
            >>> from hyperdial.schedules import Exponential
            >>> def objective(trial):
            ...     lr = trial.suggest_schedule("lr", Exponential(Float(1e-3, 1e-1, log=True), total_steps=100))
            ...     return sum(lr(s) for s in range(100))
        """
        from hyperdial.schedules import suggest_schedule

        return suggest_schedule(self, name, schedule)

    def _suggest(self, name: str, dist: Distribution) -> Any:
        old = self._dists.get(name)
        if old is not None:
            if old is not dist and old != dist:
                raise ValueError(
                    f"trial {self.number}: parameter {name!r} was already suggested as {old!r} and cannot be "
                    f"suggested again as {dist!r}; use the same range or another name"
                )
            return self._params[name]
        if not isinstance(name, str):
            raise TypeError(f"parameter names must be strings, got {name!r}")
        if name in self._given:
            value = self._given.pop(name)
            if not dist.contains(value):
                raise ValueError(
                    f"trial {self.number}: the fixed value {name}={value!r} is outside {dist!r}; "
                    "fix it or widen the range"
                )
            value = dist.coerce(value)
        else:
            prop = self._proposal.get(name, _MISSING)
            if prop is not _MISSING and dist.contains(prop):
                value = dist.coerce(prop)
            else:
                value = self.study._sample_one(self, name, dist)
        self._params[name] = value
        self._dists[name] = dist
        self._unsaved.append(name)
        return value

    @property
    def params(self) -> Mapping[str, Any]:
        """Values suggested so far (all of them, at once, for a study with a declared space)."""
        return MappingProxyType(self._params)

    @property
    def distributions(self) -> Mapping[str, Distribution]:
        return MappingProxyType(self._dists)

    # -- reporting and pruning ----------------------------------------------------------------
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Record an intermediate value (one per objective) at ``step`` (epoch, round, fold...).

        The value is written to the storage at once, so pruners in any process see it.
        Reporting the same step twice keeps the first value.
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise TypeError(f"report(step={step!r}): step must be a non-negative integer")
        v = as_report_value(value, len(self.study.directions), f"report(value={value!r})")
        self.study._report(self, int(step), v)

    def flush(self) -> None:
        """Write the values suggested so far now (they are otherwise written with the next report or at the end),
        so other workers and pending-aware samplers see them."""
        self.study.flush(self)

    def should_prune(self) -> bool:
        """Whether the study's pruner says this trial should stop now."""
        return self.study._should_prune(self)

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, obj: Any, *, step: int | None = None, keep: str = "running") -> None:
        """Store a checkpoint of this trial in the study's storage (works from any worker).

        Args:
            obj: ``bytes``, a file path (``pathlib.Path``), a torch module / optimizer (its
                ``state_dict``), or any picklable object (a scikit-learn estimator).
            step: Keep one checkpoint per step (schedulers copy a member's state at a step);
                ``None`` replaces the trial's single unnamed checkpoint.
            keep: ``"running"`` (deleted when the trial finishes unless a scheduler holds it),
                ``"complete"`` (kept if the trial completes) or ``"all"``.

        Example:
            >>> import hyperdial
            >>> study = hyperdial.create_study(seed=0)
            >>> trial = study.ask()
            >>> trial.save_checkpoint(b"weights")
            >>> trial.load_checkpoint()
            b'weights'
        """
        from hyperdial import checkpoint as ck

        ck.check_keep(keep, "save_checkpoint")
        if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0):
            raise TypeError(f"save_checkpoint(step={step!r}): step must be a non-negative integer or None")
        data = ck.dumps(obj)
        ck.check_size(data, f"save_checkpoint(trial {self.number})")
        self.study.storage.set_blob(self.study._info.id, ck.checkpoint_key(self.number, step), data)
        meta = self._ckpt or {"keep": keep, "steps": []}
        label = "last" if step is None else int(step)
        if label not in meta["steps"] or meta["keep"] != keep:
            meta = {"keep": keep, "steps": [*(s for s in meta["steps"] if s != label), label]}
            self._ckpt = meta
            self._pending.append(("system", {ck.CHECKPOINT_ATTR: meta}))
            self.study.flush(self)  # recorded at once, so a cleanup elsewhere finds the blob

    def load_checkpoint(
        self, number: int | None = None, *, step: int | None = None, into: Any = None, path: Any = None
    ) -> Any:
        """Load this trial's checkpoint, or trial ``number``'s (e.g. a better member's state).

        Args:
            number: Another trial of the study (default: this one).
            step: The step it was saved at (``None``: the unnamed one, else the latest step).
            into: A torch module / optimizer to load a torch checkpoint into (and return).
            path: Write a file checkpoint there (and return the path).

        Raises:
            KeyError: no such checkpoint.
        """
        from hyperdial import checkpoint as ck

        number = self.number if number is None else number
        return ck.load_checkpoint(self.study, number, step=step, into=into, path=path)

    # -- annotations --------------------------------------------------------------------------
    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-compatible annotation to this trial (written with its next write)."""
        if not isinstance(key, str):
            raise TypeError(f"set_user_attr: key must be a string, got {key!r}")
        self._pending.append(("user", {key: check_json(value, f"set_user_attr({key!r})")}))

    def set_system_attr(self, key: str, value: Any) -> None:
        self._pending.append(("system", {key: check_json(value, f"set_system_attr({key!r})")}))

    def set_constraints(self, values: Sequence[float]) -> None:
        """Record outcome constraint values for this trial: it is feasible when every one is <= 0.

        Stored with the trial (``FrozenTrial.constraints``); feasibility-aware samplers (TPE, GP,
        NSGA-II, GA, DE) prefer feasible trials and ``best_trial`` / ``best_trials`` return
        feasible trials only. Infeasible trials stay stored and visible (``FrozenTrial.feasible``).

        Example:
            >>> import hyperdial
            >>> study = hyperdial.create_study(seed=0)
            >>> def objective(trial):
            ...     x = trial.suggest_float("x", -2, 2)
            ...     trial.set_constraints([0.5 - x])  # feasible when x >= 0.5
            ...     return x**2
            >>> study.optimize(objective, n_trials=30, show_progress=False)
            >>> study.best_params["x"] >= 0.5
            True
        """
        from hyperdial.constraints import CONSTRAINTS_ATTR, check_constraint_values

        vals = check_constraint_values(values, f"trial {self.number}: set_constraints")
        self._pending.append(("system", {CONSTRAINTS_ATTR: vals}))

    @property
    def user_attrs(self) -> Mapping[str, Any]:
        frozen = self.study._history.trials[self.number] if self.number < len(self.study._history.trials) else None
        out = dict(frozen.user_attrs) if frozen is not None else {}
        for kind, d in self._pending:
            if kind == "user":
                out.update(d)
        return MappingProxyType(out)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params})"


def values_error(result: Any, n: int) -> tuple[tuple[float, ...] | None, str | None]:
    """Turn an objective's return value into a tuple of floats, or say why it can't be."""
    if result is None:
        return None, "the objective returned None; return a number (or one per objective)"
    if n == 1 and isinstance(result, Sequence) and not isinstance(result, str) and len(result) == 1:
        result = result[0]
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        if n != 1:
            return None, f"the objective returned one value for a study of {n} objectives"
        v = float(result)
        if not math.isfinite(v):
            return None, f"the objective returned {v}"
        return (v,), None
    if isinstance(result, Sequence) and not isinstance(result, str):
        if len(result) != n:
            return None, f"the objective returned {len(result)} values for a study of {n} objectives"
        out = []
        for v in result:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                return None, f"the objective returned a non-number {v!r}"
            fv = float(v)
            if not math.isfinite(fv):
                return None, f"the objective returned {fv}"
            out.append(fv)
        return tuple(out), None
    if hasattr(result, "item") and getattr(result, "size", 2) == 1:  # numpy / torch scalars
        return values_error(result.item(), n)
    return None, f"the objective returned {type(result).__name__} {result!r}, not a number"
