"""The materialised view of a study's event log, updated incrementally.

A ``History`` holds two views of the same trials:

* ``trials``: one immutable :class:`~hyperdial.trial.FrozenTrial` per trial number;
* columnar numpy arrays: ``X`` (parameters in unit-cube form, one column per
  ``(name, distribution)`` pair, ``nan`` where a trial lacks it), ``Y`` (objective values)
  and ``S`` (states), grown in place as events arrive.

Samplers read the arrays, so a proposal never rebuilds matrices from thousands of
objects. Applying an event costs O(parameters of that trial).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hyperdial.space import Distribution, SearchSpace, distribution_from_dict
from hyperdial.storages.base import Event, EventKind
from hyperdial.trial import Direction, FailReason, FrozenTrial, TrialState

__all__ = ["History", "pareto_front_mask"]

_COMPLETE = int(TrialState.COMPLETE)
_STATES = list(TrialState)


def pareto_front_mask(losses: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``losses`` (all objectives minimised).

    A row is dominated when another row is <= in every column and < in one. Sorting
    by the first objective first keeps this close to O(n * front size).
    """
    n = losses.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(losses.T[::-1])
    keep = np.zeros(n, dtype=bool)
    front: list[int] = []
    for i in order:
        row = losses[i]
        if front:
            f = losses[front]
            if np.any(np.all(f <= row, axis=1) & np.any(f < row, axis=1)):
                continue
            if np.any(np.all(f == row, axis=1)):
                keep[i] = True  # duplicates of a front point are on the front too
                continue
        front.append(i)
        keep[i] = True
    return keep


def _ends(entry: tuple[int, Event], number: int | None) -> bool:
    """Whether a log entry is the STATE event of trial ``number``."""
    ev = entry[1]
    return ev.kind == EventKind.STATE and ev.number == number


class History:
    """A study's trials as a materialised, incrementally updated view. Read-only for plug-ins."""

    def __init__(self, directions: Sequence[Direction]) -> None:
        self.directions = tuple(directions)
        self.n_objectives = len(self.directions)
        self.sign = np.array([1.0 if d == Direction.MINIMIZE else -1.0 for d in self.directions])
        self.version = 0
        self.trials: list[FrozenTrial] = []
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.waiting: dict[int, None] = {}  # WAITING trial numbers, oldest first
        self.columns: dict[tuple[str, str], int] = {}
        self.column_params: list[tuple[str, Distribution]] = []
        self._colcache: dict[tuple[str, int], tuple[Distribution, int]] = {}
        self._cap = 0
        self.X = np.empty((0, 0))
        self.Y = np.empty((0, self.n_objectives))
        self.S = np.empty(0, dtype=np.int8)
        self._intersection: dict[str, Distribution] | None = None
        self._inter_checked: Any = None  # the distributions dict the intersection was last narrowed by
        self._best: int | None = None
        self._dist_dicts: dict[tuple, dict[str, Distribution]] = {}
        self._attr_dicts: dict[tuple, dict[str, Any]] = {}
        self._violation_scan: list[Any] | None = None  # hyperdial.constraints' incremental scan of this view

    # -- applying events ----------------------------------------------------------------------
    def apply(self, events: Iterable[tuple[int, Event]]) -> None:
        events = events if isinstance(events, (list, tuple)) else list(events)
        n_events = len(events)
        i = 0
        while i < n_events:
            seq, ev = events[i]
            i += 1
            if seq <= self.version:
                continue
            kind = ev.kind
            if kind == EventKind.CREATE:
                self._create(ev)
            elif kind == EventKind.STATE:
                self._state(ev)
            elif kind == EventKind.PARAMS and i < n_events and _ends(events[i], ev.number):
                # A trial's parameters and its end written together (the usual tell): one new
                # FrozenTrial for both instead of one each.
                seq, end = events[i]
                i += 1
                self._state(end, self._params_changes(ev))
            elif kind == EventKind.REPORT:
                t = self.trials[ev.number]
                inter = dict(t._inter) if t._inter else {}
                step = ev.data["step"]
                if step not in inter:
                    v = ev.data["value"]
                    inter[step] = tuple(v) if isinstance(v, list) else v
                self.trials[ev.number] = t._replace(_inter=inter)
            elif kind == EventKind.PARAMS:
                self._params(ev)
            elif kind == EventKind.ATTRS:
                t = self.trials[ev.number]
                changes = {}
                if "user" in ev.data:
                    changes["_user"] = {**(t._user or {}), **ev.data["user"]}
                if "system" in ev.data:
                    changes["_system"] = {**(t._system or {}), **ev.data["system"]}
                self.trials[ev.number] = t._replace(**changes)
            elif kind == EventKind.STUDY:
                self.user_attrs.update(ev.data.get("user", {}))
                self.system_attrs.update(ev.data.get("system", {}))
            self.version = seq

    def _grow_rows(self, n: int) -> None:
        if n <= self._cap:
            return
        cap = max(64, self._cap * 2, n)
        X = np.full((cap, self.X.shape[1]), np.nan)
        X[: self._cap] = self.X
        Y = np.full((cap, self.n_objectives), np.nan)
        Y[: self._cap] = self.Y
        S = np.zeros(cap, dtype=np.int8)
        S[: self._cap] = self.S
        self.X, self.Y, self.S, self._cap = X, Y, S, cap

    def _column(self, name: str, dist: Distribution) -> int:
        hit = self._colcache.get((name, id(dist)))
        if hit is not None and hit[0] is dist:
            return hit[1]
        key = (name, dist.key)
        col = self.columns.get(key)
        if col is None:
            col = len(self.column_params)
            self.columns[key] = col
            self.column_params.append((name, dist))
            if col >= self.X.shape[1]:
                extra = max(4, self.X.shape[1])
                self.X = np.hstack([self.X, np.full((self.X.shape[0], extra), np.nan)])
        self._colcache[(name, id(dist))] = (dist, col)
        return col

    def _intern_dists(self, dists: dict[str, Distribution]) -> dict[str, Distribution]:
        key = (*dists, *map(id, dists.values()))
        hit = self._dist_dicts.get(key)
        if hit is None:
            hit = self._dist_dicts[key] = dict(dists)
        return hit

    def _intern_attrs(self, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
        if not attrs:
            return None
        try:
            key = tuple(attrs.items())
            hit = self._attr_dicts.get(key)
        except TypeError:  # unhashable values: keep the dict as it is
            return attrs
        if hit is None:
            if len(self._attr_dicts) > 10_000:
                return attrs
            hit = self._attr_dicts[key] = attrs
        return hit

    def _set_params(self, number: int, params: Mapping[str, Any], dists: Mapping[str, Distribution]) -> None:
        for name, value in params.items():
            dist = dists.get(name)
            if dist is not None:  # constants of a declared space have no distribution
                col = self._column(name, dist)  # may widen self.X: look it up after
                self.X[number, col] = dist.to_unit(value)

    def _create(self, ev: Event) -> None:
        number = ev.number
        d = ev.data
        if number != len(self.trials):
            raise RuntimeError(f"event log out of order: trial {number} created after {len(self.trials) - 1}")
        state = _STATES[d["state"]]
        params = d.get("params") or {}
        dists = self._intern_dists(d["dists"]) if params else {}
        self._grow_rows(number + 1)
        t = FrozenTrial(
            number,
            state,
            params=dict(params) if params else None,
            distributions=dists,
            user_attrs=d.get("user"),
            system_attrs=self._intern_attrs(d.get("system")),
            started=ev.time if state == TrialState.RUNNING else None,
        )
        self.trials.append(t)
        self.S[number] = state
        if params:
            self._set_params(number, params, dists)
        if state == TrialState.WAITING:
            self.waiting[number] = None

    def _params(self, ev: Event) -> None:
        self.trials[ev.number] = self.trials[ev.number]._replace(**self._params_changes(ev))

    def _params_changes(self, ev: Event) -> dict[str, Any]:
        """The trial's changes for a PARAMS event (its unit-cube values are stored at once)."""
        t = self.trials[ev.number]
        params = {**t._params, **ev.data["params"]}
        dists = self._intern_dists({**t._dists, **ev.data["dists"]})
        self._set_params(ev.number, ev.data["params"], ev.data["dists"])
        return {"_params": params, "_dists": dists}

    def _state(self, ev: Event, changes: dict[str, Any] | None = None) -> None:
        """A STATE event; ``changes``: other changes of the trial to make in the same new FrozenTrial."""
        number = ev.number
        t = self.trials[number]
        d = ev.data
        state = _STATES[d["state"]]
        if changes is None:
            changes = {}
        changes["state"] = state
        if t.state == TrialState.WAITING:
            self.waiting.pop(number, None)
            if state == TrialState.RUNNING:
                changes["started"] = ev.time
        values = d.get("values")
        if values is not None:
            changes["values"] = tuple(values)
            self.Y[number] = values
        if state.is_finished:
            changes["finished"] = ev.time
            if t.started is None:
                changes["started"] = ev.time
        if "reason" in d:
            changes["fail_reason"] = FailReason(d["reason"])
        if "message" in d:
            changes["message"] = d["message"]
        self.trials[number] = t = t._replace(**changes)
        self.S[number] = state
        if state == TrialState.COMPLETE:
            self._on_complete(t)

    def _on_complete(self, t: FrozenTrial) -> None:
        dists = t._dists
        if self._intersection is None:
            self._intersection = dict(dists)
            self._inter_checked = dists
        elif dists is not self._inter_checked:
            # The intersection only shrinks, so once every name in it matched a (never mutated,
            # interned) distributions dict, the trials that share that dict leave it as it is.
            inter = self._intersection
            for name in [n for n, dist in inter.items() if dists.get(n) is not dist and dists.get(n) != dist]:
                del inter[name]
            self._inter_checked = dists
        if self.n_objectives == 1 and t.feasible:  # infeasible trials never become the best
            if self._best is None:
                self._best = t.number
            else:
                b = self.trials[self._best].values[0]
                v = t.values[0]
                if (v < b) if self.directions[0] == Direction.MINIMIZE else (v > b):
                    self._best = t.number

    # -- snapshots --------------------------------------------------------------------------------
    SNAPSHOT_FORMAT = 1

    def to_snapshot(self) -> bytes:
        """The whole view as compact JSON (no pickle: a storage file must never run code when opened)."""
        dist_index: dict[int, int] = {}
        dists: list[dict[str, Any]] = []
        distsets: list[list[Any]] = []
        distset_index: dict[int, int] = {}

        def dist_id(d: Distribution) -> int:
            i = dist_index.get(id(d))
            if i is None:
                i = dist_index[id(d)] = len(dists)
                dists.append(d.to_dict())
            return i

        def distset_id(ds: dict[str, Distribution]) -> int:
            i = distset_index.get(id(ds))
            if i is None:
                i = distset_index[id(ds)] = len(distsets)
                distsets.append([[n, dist_id(d)] for n, d in ds.items()])
            return i

        rows = []
        for t in self.trials:
            rows.append(
                [
                    int(t.state),
                    None if t.values is None else list(t.values),
                    t._params or None,
                    distset_id(t._dists) if t._dists else None,
                    t._user,
                    t._system,
                    None if not t._inter else [[k, v] for k, v in t._inter.items()],
                    t.started,
                    t.finished,
                    None if t.fail_reason is None else t.fail_reason.value,
                    t.message,
                ]
            )
        n = len(self.trials)
        ncol = len(self.column_params)

        def b64(a: np.ndarray) -> str:
            return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")

        doc = {
            "format": self.SNAPSHOT_FORMAT,
            "version": self.version,
            "directions": [d.value for d in self.directions],
            "user": self.user_attrs,
            "system": self.system_attrs,
            "dists": dists,
            "distsets": distsets,
            "columns": [[name, dist_id(d)] for name, d in self.column_params],
            "X": b64(self.X[:n, :ncol]),
            "Y": b64(self.Y[:n]),
            "trials": rows,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_snapshot(cls, data: bytes, directions: Sequence[Direction]) -> History | None:
        """Rebuild a view from :meth:`to_snapshot`; ``None`` if the snapshot does not fit."""
        doc = json.loads(data)
        if doc.get("format") != cls.SNAPSHOT_FORMAT or doc.get("directions") != [d.value for d in directions]:
            return None
        h = cls(directions)
        dists = [distribution_from_dict(d) for d in doc["dists"]]
        distsets = [h._intern_dists({n: dists[i] for n, i in ds}) for ds in doc["distsets"]]
        for name, i in doc["columns"]:
            h._column(name, dists[i])
        rows = doc["trials"]
        n = len(rows)
        h._grow_rows(max(n, 1))
        ncol = len(doc["columns"])
        if n and ncol:
            h.X[:n, :ncol] = np.frombuffer(base64.b64decode(doc["X"]), dtype=float).reshape(n, ncol)
        if n:
            h.Y[:n] = np.frombuffer(base64.b64decode(doc["Y"]), dtype=float).reshape(n, h.n_objectives)
        states = _STATES
        reasons = {r.value: r for r in FailReason}
        trials = h.trials
        for number, (st, vals, params, ds, user, system, inter, started, finished, reason, message) in enumerate(rows):
            state = states[st]
            t = FrozenTrial(
                number,
                state,
                None if vals is None else tuple(vals),
                params,
                distsets[ds] if ds is not None else None,
                user,
                h._intern_attrs(system),
                None if inter is None else {k: tuple(v) if isinstance(v, list) else v for k, v in inter},
                started,
                finished,
                None if reason is None else reasons[reason],
                message,
            )
            trials.append(t)
            h.S[number] = st
            if state == TrialState.WAITING:
                h.waiting[number] = None
            elif state == TrialState.COMPLETE:
                h._on_complete(t)
        h.user_attrs = doc["user"]
        h.system_attrs = doc["system"]
        h.version = doc["version"]
        return h

    def subset(
        self, numbers: Sequence[int], *, as_running: Iterable[int] = (), strip_running_params: bool = False
    ) -> History:
        """A view of only these trials, renumbered from 0.

        What a sampler sees of one Hyperband bracket, or, in deterministic parallel runs,
        the trials a proposal may depend on: ``as_running`` (original numbers) are shown as
        RUNNING without values or reports whatever their real state, and with
        ``strip_running_params`` without parameters either.
        """
        h = History(self.directions)
        idx = np.asarray(numbers, dtype=np.int64)
        pending = set(as_running)
        n = len(idx)
        h._grow_rows(max(n, 1))
        h.columns = dict(self.columns)
        h.column_params = list(self.column_params)
        h.X = np.full((h._cap, self.X.shape[1]), np.nan)
        h.X[:n] = self.X[idx]
        h.Y[:n] = self.Y[idx]
        h.S[:n] = self.S[idx]
        h.user_attrs, h.system_attrs = self.user_attrs, self.system_attrs
        for i, number in enumerate(idx.tolist()):
            t = self.trials[number]
            if number in pending:
                changes: dict[str, Any] = {
                    "number": i,
                    "state": TrialState.RUNNING,
                    "values": None,
                    "_inter": None,
                    "finished": None,
                    "fail_reason": None,
                    "message": None,
                }
                if strip_running_params:
                    changes.update(_params={}, _dists={})
                    h.X[i] = np.nan
                t = t._replace(**changes)
                h.Y[i] = np.nan
                h.S[i] = TrialState.RUNNING
            else:
                t = t._replace(number=i)
            h.trials.append(t)
            if t.state == TrialState.COMPLETE:
                h._on_complete(t)
            elif t.state == TrialState.WAITING:
                h.waiting[i] = None
        h.version = self.version
        return h

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.trials)

    @property
    def n(self) -> int:
        return len(self.trials)

    def states(self) -> np.ndarray:
        return self.S[: len(self.trials)]

    def numbers(self, *states: TrialState) -> np.ndarray:
        """Trial numbers in the given states (all trials if none given)."""
        s = self.S[: len(self.trials)]
        if not states:
            return np.arange(len(s))
        if len(states) == 1:
            return np.flatnonzero(s == int(states[0]))
        return np.flatnonzero(np.isin(s, [int(x) for x in states]))

    def count(self, state: TrialState) -> int:
        return int(np.count_nonzero(self.S[: len(self.trials)] == int(state)))

    def losses(self, numbers: np.ndarray | None = None) -> np.ndarray:
        """Objective values oriented so that lower is better, shape ``(k, n_objectives)``."""
        Y = self.Y[: len(self.trials)] if numbers is None else self.Y[numbers]
        return Y * self.sign

    def matrix(self, space: SearchSpace | Mapping[str, Distribution], numbers: np.ndarray | None = None) -> np.ndarray:
        """Unit-cube values of ``space``'s parameters for the given trials (``nan`` where absent).

        A trial whose value for a name came from a different distribution counts as absent,
        so trials outside a changed space drop out of the models.
        """
        dists = space.dists if isinstance(space, SearchSpace) else space
        rows = np.arange(len(self.trials)) if numbers is None else np.asarray(numbers)
        cols = [self.columns.get((name, dist.key)) for name, dist in dists.items()]
        if cols and None not in cols:  # every parameter has a column: gather the rows, then the columns
            picked = self.X.take(rows, axis=0)
            first = cols[0]
            if cols == list(range(first, first + len(cols))):
                return np.ascontiguousarray(picked[:, first : first + len(cols)])
            return picked.take(cols, axis=1)
        out = np.full((len(rows), len(dists)), np.nan)
        for j, col in enumerate(cols):
            if col is not None:
                out[:, j] = self.X[rows, col]
        return out

    @property
    def intersection_space(self) -> dict[str, Distribution]:
        """Parameters every COMPLETE trial has, with the same distribution (define-by-run studies)."""
        return dict(self._intersection) if self._intersection else {}

    @property
    def best_trial(self) -> FrozenTrial | None:
        if self.n_objectives != 1:
            raise ValueError("best_trial is for one objective; this study has several, use best_trials")
        return None if self._best is None else self.trials[self._best]

    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front of feasible COMPLETE trials (for one objective: every trial tied for best)."""
        from hyperdial.constraints import violations

        done = self.numbers(TrialState.COMPLETE)
        if len(done):
            done = done[violations(self, done) <= 0]
        if len(done) == 0:
            return []
        losses = self.losses(done)
        mask = pareto_front_mask(losses)
        return [self.trials[i] for i in done[mask]]
