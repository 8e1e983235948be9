"""The storage interface: an append-only log of trial events, plus a few side tables.

Every change to a study is an :class:`Event` appended to the study's log. Each append
is one transaction that

* checks its :class:`Precondition` objects (a trial is still RUNNING, a grid cell is not
  yet claimed, the study holds fewer than ``n`` trials) and writes nothing if one fails;
* gives trial numbers to CREATE events that have none (0, 1, 2, ... per study, no gaps);
* assigns each event the study's next sequence number inside the same transaction, so
  "everything after position ``p``" never skips an event that committed late.

Readers keep a materialised view (:class:`hyperdial.history.History`) and ask only for
events after the last position they saw. Data that changes often and that not every
reader needs (heartbeats, checkpoints, sampler caches) lives beside the log in
key-value blobs.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from hyperdial.trial import TrialState

__all__ = [
    "Claim",
    "check_held_log",
    "DuplicateStudyError",
    "Event",
    "EventKind",
    "MaxTrials",
    "Precondition",
    "PreconditionFailed",
    "StateIn",
    "Storage",
    "StudyInfo",
    "StudySummary",
]

SCHEMA_VERSION = 1


class EventKind(IntEnum):
    """What an event records. Stored as integers; values never change."""

    CREATE = 1  # a new trial: {"state", "params", "dists", "system", "user"}
    PARAMS = 2  # parameters suggested while running: {"params", "dists"}
    REPORT = 3  # an intermediate value: {"step", "value"}
    ATTRS = 4  # annotations: {"user": {...}} and/or {"system": {...}}
    STATE = 5  # a state change: {"state", "values"?, "reason"?, "message"?}
    STUDY = 6  # study-level annotations: {"user": {...}} and/or {"system": {...}}; number is -1


class Event:
    """One entry of a study's log. ``number`` is ``None`` on a CREATE that the storage numbers."""

    __slots__ = ("kind", "number", "data", "time")

    def __init__(self, kind: EventKind, number: int | None, data: dict[str, Any], time_: float | None = None) -> None:
        self.kind = kind
        self.number = number
        self.data = data
        self.time = time.time() if time_ is None else time_

    def __repr__(self) -> str:
        return f"Event({self.kind.name}, number={self.number}, data={self.data!r})"


class Precondition:
    """A condition an append checks inside its transaction."""


@dataclass(frozen=True)
class StateIn(Precondition):
    """Trial ``number`` exists and is in one of ``states``."""

    number: int
    states: tuple[TrialState, ...]


@dataclass(frozen=True)
class Claim(Precondition):
    """``key`` has not been claimed in this study; the append claims it (grid cells, QMC points)."""

    key: str


@dataclass(frozen=True)
class MaxTrials(Precondition):
    """After the append the study holds at most ``limit`` trials."""

    limit: int


class PreconditionFailed(RuntimeError):
    """An append's precondition did not hold; nothing was written."""

    def __init__(self, precondition: Precondition, detail: str = "") -> None:
        super().__init__(f"{precondition} does not hold{': ' + detail if detail else ''}")
        self.precondition = precondition


def check_held_log(
    require: Sequence[Precondition], states: Sequence[TrialState], claims: dict[str, int], n_new: int
) -> list[str]:
    """Check ``require`` against a study log held in this process (memory and journal backends).

    Args:
        require: The append's preconditions.
        states: Each trial's state, by number.
        claims: Keys claimed so far, with the trial that holds each.
        n_new: How many trials the append creates.

    Returns:
        The keys the append claims.

    Raises:
        PreconditionFailed: a precondition does not hold.
    """
    claimed: list[str] = []
    for pre in require:
        if isinstance(pre, StateIn):
            if not 0 <= pre.number < len(states):
                raise PreconditionFailed(pre, f"trial {pre.number} does not exist")
            if states[pre.number] not in pre.states:
                raise PreconditionFailed(pre, f"trial {pre.number} is {states[pre.number].name}")
        elif isinstance(pre, Claim):
            if pre.key in claims:
                raise PreconditionFailed(pre, f"claimed by trial {claims[pre.key]}")
            claimed.append(pre.key)
        elif isinstance(pre, MaxTrials):
            if len(states) + n_new > pre.limit:
                raise PreconditionFailed(pre, f"the study holds {len(states)} trials")
        else:
            raise TypeError(f"unknown precondition {pre!r}")
    return claimed


class DuplicateStudyError(ValueError):
    """A study of that name already exists."""


@dataclass(frozen=True)
class StudyInfo:
    id: int
    name: str
    directions: tuple[str, ...]
    created: float = 0.0


@dataclass(frozen=True)
class StudySummary:
    name: str
    directions: tuple[str, ...]
    n_trials: int
    created: float
    extra: dict[str, Any] = field(default_factory=dict)


class Storage(ABC):
    """Where studies live. Few methods; each one is a transaction.

    Implementations must be safe to call from several threads, and (for the file and
    server backends) from several processes and machines at once.
    """

    url: str = ""
    #: Whether studies keep snapshots of their view in this storage's blobs (not worth it in memory).
    snapshots: bool = True

    @abstractmethod
    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        """Create a study; raise :class:`DuplicateStudyError` if the name is taken."""

    @abstractmethod
    def get_study(self, name: str) -> StudyInfo | None:
        """The study named ``name``, or ``None``."""

    @abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """Every study, oldest first."""

    @abstractmethod
    def delete_study(self, name: str) -> None:
        """Remove a study and everything stored for it."""

    @abstractmethod
    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        """Append ``events`` atomically after checking ``require``.

        Returns:
            The numbers given to CREATE events whose number was ``None``, in order.

        Raises:
            PreconditionFailed: a precondition does not hold; nothing was written.
        """

    @abstractmethod
    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        """Events with sequence number greater than ``after``, in order, as ``(seq, event)``."""

    def append_read(
        self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = (), *, after: int
    ) -> tuple[list[int], list[tuple[int, Event]]]:
        """:meth:`append`, then :meth:`read` from ``after``: the write and the refreshed view together.

        The events read include the ones just appended. Server backends override it to do
        both in one round trip; this default makes two calls.
        """
        numbers = self.append(study_id, events, require)
        return numbers, self.read(study_id, after)

    @abstractmethod
    def get_blob(self, study_id: int, key: str) -> bytes | None:
        """A side value (checkpoint, sampler cache), or ``None``."""

    @abstractmethod
    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        """Store a side value; ``None`` deletes it."""

    @abstractmethod
    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        """Stamp the running trials ``numbers`` as alive, with the storage's clock."""

    @abstractmethod
    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        """RUNNING trials whose last heartbeat is older than ``grace`` seconds (by the storage's clock)."""

    def now(self) -> float:
        """The storage's clock (a database server's for server backends)."""
        return time.time()

    def close(self) -> None:
        """Release connections; the object may be reopened by using it again."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
