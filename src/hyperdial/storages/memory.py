"""An in-process storage: the event log is a Python list. Fast, shared by threads, gone at exit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hyperdial.storages.base import (
    DuplicateStudyError,
    Event,
    EventKind,
    Precondition,
    Storage,
    StudyInfo,
    StudySummary,
    check_held_log,
)
from hyperdial.trial import TrialState

__all__ = ["InMemoryStorage"]


class _StudyLog:
    __slots__ = ("info", "events", "states", "claims", "blobs", "beats")

    def __init__(self, info: StudyInfo) -> None:
        self.info = info
        self.events: list[tuple[int, Event]] = []
        self.states: list[TrialState] = []
        self.claims: dict[str, int] = {}
        self.blobs: dict[str, bytes] = {}
        self.beats: dict[int, float] = {}


class InMemoryStorage(Storage):
    """Keeps every study in this process's memory.

    Example:
        >>> s = InMemoryStorage()
        >>> s.create_study("demo", ["minimize"]).name
        'demo'
    """

    url = "memory"
    snapshots = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[int, _StudyLog] = {}
        self._names: dict[str, int] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        with self._lock:
            if name in self._names:
                raise DuplicateStudyError(f"a study named {name!r} already exists")
            sid = len(self._studies) + 1
            while sid in self._studies:
                sid += 1
            info = StudyInfo(sid, name, tuple(directions), time.time())
            self._studies[sid] = _StudyLog(info)
            self._names[name] = sid
            return info

    def get_study(self, name: str) -> StudyInfo | None:
        sid = self._names.get(name)
        return None if sid is None else self._studies[sid].info

    def list_studies(self) -> list[StudySummary]:
        with self._lock:
            return [
                StudySummary(s.info.name, s.info.directions, len(s.states), s.info.created)
                for s in self._studies.values()
            ]

    def delete_study(self, name: str) -> None:
        with self._lock:
            sid = self._names.pop(name, None)
            if sid is None:
                raise KeyError(name)
            del self._studies[sid]

    def _log(self, study_id: int) -> _StudyLog:
        try:
            return self._studies[study_id]
        except KeyError:
            raise KeyError(f"no study with id {study_id} in this storage") from None

    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        with self._lock:
            log = self._log(study_id)
            n_new = sum(1 for e in events if e.kind == EventKind.CREATE and e.number is None)
            claimed = check_held_log(require, log.states, log.claims, n_new)
            numbers = []
            seq = len(log.events)
            for e in events:
                if e.kind == EventKind.CREATE:
                    if e.number is None:
                        e.number = len(log.states)
                        numbers.append(e.number)
                    log.states.append(TrialState(e.data["state"]))
                elif e.kind == EventKind.STATE:
                    log.states[e.number] = TrialState(e.data["state"])
                seq += 1
                log.events.append((seq, e))
            owner = numbers[0] if numbers else next((e.number for e in events if e.number is not None), -1)
            for key in claimed:
                log.claims[key] = owner
            return numbers

    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        log = self._log(study_id)
        # seq k sits at index k - 1; list slicing is atomic under the GIL.
        return log.events[after:]

    def get_blob(self, study_id: int, key: str) -> bytes | None:
        return self._log(study_id).blobs.get(key)

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        with self._lock:
            blobs = self._log(study_id).blobs
            if value is None:
                blobs.pop(key, None)
            else:
                blobs[key] = bytes(value)

    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        now = time.monotonic()
        with self._lock:
            beats = self._log(study_id).beats
            for n in numbers:
                beats[n] = now

    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        limit = time.monotonic() - grace
        with self._lock:
            log = self._log(study_id)
            return sorted(
                n
                for n, t in log.beats.items()
                if t < limit and log.states[n] in (TrialState.RUNNING, TrialState.PAUSED)
            )
