"""Hyperparameters that change while a model trains, and the schedule they leave behind.

A :class:`Controller` watches training (the step, the losses, the hyperparameters in
force) and says which values to use from the next step on. Fixed schedules, online
hypergradient descent and population-based training are all controllers. Whatever
controller ran, a :class:`ControlLoop` records every change as a :class:`Schedule` on the
trial (system attribute ``"schedule"``), so the run can be replayed exactly with
:class:`ReplayController`.

Example:
    >>> from hyperdial.control import ControlLoop, Controller
    >>> class Halve(Controller):
    ...     def update(self, step, observation, params):
    ...         return {"lr": params["lr"] / 2} if step % 10 == 9 else None
    >>> loop = ControlLoop(Halve(), {"lr": 0.1, "momentum": 0.9})
    >>> for step in range(30):
    ...     lr = loop.params["lr"]          # train one step with lr ...
    ...     _ = loop.step(step, {"loss": 1.0})
    >>> loop.schedule.to_json()
    [[0, {'lr': 0.1, 'momentum': 0.9}], [10, {'lr': 0.05}], [20, {'lr': 0.025}], [30, {'lr': 0.0125}]]
    >>> ReplayController(loop.schedule).start({})["lr"], loop.schedule.at(15)["lr"]
    (0.1, 0.05)
"""

from __future__ import annotations

import bisect
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hyperdial.trial import check_json

if TYPE_CHECKING:
    from hyperdial.trial import FrozenTrial, Trial

__all__ = ["SCHEDULE_ATTR", "ControlLoop", "Controller", "ReplayController", "Schedule", "recorded_schedule"]

#: The trial system attribute that holds the recorded schedule (``Schedule.to_json()``).
SCHEDULE_ATTR = "schedule"


def _check_step(step: Any, where: str) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise TypeError(f"{where}: step must be a non-negative integer, got {step!r}")
    return int(step)


class Schedule:
    """The values in force over training: initial values at step 0, then the changes.

    Stored as ``[[0, {all values}], [step, {changed values}], ...]`` with strictly
    increasing steps; an entry at step ``s`` holds from step ``s`` on.
    """

    __slots__ = ("_steps", "_changes")

    def __init__(self, initial: Mapping[str, Any]) -> None:
        if not isinstance(initial, Mapping):
            raise TypeError(f"Schedule(initial={initial!r}): expected a mapping of hyperparameter values")
        first = {str(k): v for k, v in initial.items()}
        check_json(first, "Schedule(initial)")
        self._steps: list[int] = [0]
        self._changes: list[dict[str, Any]] = [first]

    def record(self, step: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Record ``values`` as in force from ``step`` on; returns the entries that really changed."""
        step = _check_step(step, "Schedule.record")
        if step < self._steps[-1]:
            raise ValueError(
                f"Schedule.record(step={step}): steps must not go back (last recorded step is {self._steps[-1]})"
            )
        current = self.at(step)
        changed = {str(k): v for k, v in values.items() if k not in current or current[k] != v}
        if not changed:
            return {}
        check_json(changed, f"Schedule.record(step={step})")
        if step == self._steps[-1]:
            self._changes[-1].update(changed)
        else:
            self._steps.append(step)
            self._changes.append(changed)
        return changed

    def at(self, step: int) -> dict[str, Any]:
        """Every value in force at ``step``."""
        step = _check_step(step, "Schedule.at")
        out: dict[str, Any] = {}
        for change in self._changes[: bisect.bisect_right(self._steps, step)]:
            out.update(change)
        return out

    @property
    def steps(self) -> list[int]:
        """The steps at which something changed (0 first)."""
        return list(self._steps)

    def values(self, name: str, steps: range | list[int]) -> list[Any]:
        """The trajectory of one hyperparameter over ``steps`` (for plots)."""
        return [self.at(s).get(name) for s in steps]

    def to_json(self) -> list[list[Any]]:
        return [[s, dict(c)] for s, c in zip(self._steps, self._changes)]

    @classmethod
    def from_json(cls, data: Any) -> Schedule:
        """Rebuild a schedule from :meth:`to_json` output (as stored on a trial)."""
        if not isinstance(data, list) or not data or not all(isinstance(e, list | tuple) and len(e) == 2 for e in data):
            raise ValueError(f"not a recorded schedule (expected [[step, {{values}}], ...]): {data!r}")
        first_step, first = data[0]
        if first_step != 0:
            raise ValueError(f"a recorded schedule starts at step 0, this one at {first_step!r}")
        out = cls(first)
        for step, change in data[1:]:
            if step <= out._steps[-1]:
                raise ValueError(f"recorded schedule steps must increase: {step!r} after {out._steps[-1]}")
            out._steps.append(_check_step(step, "Schedule.from_json"))
            out._changes.append(dict(change))
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Schedule({self.to_json()!r})"


class Controller(ABC):
    """Decides hyperparameter values while a model trains (dynamic algorithm configuration).

    Subclasses implement :meth:`update`; :meth:`start` may change the initial values.
    A controller must be deterministic given its inputs and its own seeded state, so that
    the recorded schedule is all that is needed to replay a run.
    """

    def start(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The values in force at step 0 (the given ones by default)."""
        return dict(params)

    @abstractmethod
    def update(
        self, step: int, observation: Mapping[str, float], params: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """After ``step`` with ``observation`` (losses, metrics), the values to use from ``step + 1`` on.

        Return only what changes, or ``None`` / ``{}`` to keep everything.
        """


class ReplayController(Controller):
    """Replays a recorded :class:`Schedule`: the same values at the same steps, whatever is observed."""

    def __init__(self, schedule: Schedule | list[list[Any]]) -> None:
        self.schedule = schedule if isinstance(schedule, Schedule) else Schedule.from_json(schedule)

    def start(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, **self.schedule.at(0)}

    def update(self, step: int, observation: Mapping[str, float], params: Mapping[str, Any]) -> dict[str, Any]:
        return self.schedule.at(step + 1)


class ControlLoop:
    """Runs a controller over a training loop and records the schedule (on ``trial`` when given).

    Args:
        controller: The :class:`Controller` that decides the values.
        params: The initial hyperparameter values (e.g. the trial's sampled ones).
        trial: A live :class:`~hyperdial.trial.Trial`; the schedule is stored as its system
            attribute ``"schedule"`` (written with the trial's next report or when it ends).
    """

    def __init__(self, controller: Controller, params: Mapping[str, Any], *, trial: Trial | None = None) -> None:
        if not isinstance(controller, Controller):
            raise TypeError(f"ControlLoop(controller={controller!r}): expected a hyperdial.control.Controller")
        self.controller = controller
        self.trial = trial
        self.params: dict[str, Any] = dict(controller.start(dict(params)))
        self.schedule = Schedule(self.params)
        self._last_step = -1
        self._save()

    def step(self, step: int, observation: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Tell the controller that ``step`` finished; returns the values for the next step."""
        step = _check_step(step, "ControlLoop.step")
        if step <= self._last_step:
            raise ValueError(f"ControlLoop.step({step}): steps must increase (last was {self._last_step})")
        self._last_step = step
        new = self.controller.update(step, dict(observation or {}), dict(self.params))
        if new:
            unknown = set(new) - set(self.params)
            if unknown:
                raise ValueError(
                    f"{type(self.controller).__name__}.update returned unknown hyperparameters {sorted(unknown)}; "
                    f"known: {sorted(self.params)}"
                )
            if self.schedule.record(step + 1, new):
                self.params.update(new)
                self._save()
        return self.params

    def _save(self) -> None:
        if self.trial is None:
            return
        # Keep one copy of the schedule queued per write: a controller that changes a value at
        # every step would otherwise queue (and store) a growing copy per step. The values
        # were checked for JSON when recorded, so the copy goes in as it is.
        pending = self.trial._pending
        pending[:] = [(kind, d) for kind, d in pending if not (kind == "system" and d.keys() == {SCHEDULE_ATTR})]
        pending.append(("system", {SCHEDULE_ATTR: self.schedule.to_json()}))


def recorded_schedule(trial: FrozenTrial) -> Schedule | None:
    """The schedule a controller recorded on ``trial``, or ``None``."""
    data = trial.system_attrs.get(SCHEDULE_ATTR)
    return None if data is None else Schedule.from_json(data)
