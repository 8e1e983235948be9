"""Every trial's intermediate values as one matrix, kept up to date incrementally.

Pruners compare a trial with every other trial at a step; looping over thousands of
trials' ``{step: value}`` dicts in Python on each decision costs milliseconds. A
:class:`Curves` cache holds ``V[trial, step column]`` (losses: values times the
direction's sign, ``nan`` where nothing was reported), the running best ``C`` along the
steps and each trial's last column, and refreshes only the rows whose reports changed
(a trial's ``intermediate_values`` mapping is replaced, never mutated, when it gets a
report, so an identity check finds them).
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["Curves"]

_NONE = object()


class Curves:
    """Incremental matrix of intermediate losses for one-objective studies (per history object)."""

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, history: History | None) -> None:
        self._hid = None if history is None else id(history)
        self._version = -1
        self._refs: list[Any] = []
        self.steps: list[int] = []  # sorted steps, one per column
        self.V = np.full((0, 0), np.nan)
        self.C = np.full((0, 0), np.nan)
        self.last = np.full(0, -1, dtype=np.int64)  # last column with a value, -1 if none
        self.attrs: list[Any] = []
        self._groups: dict[str, np.ndarray] = {}
        self.sign = 1.0

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a cache: workers rebuild their own

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reset(None)

    # -- maintenance ---------------------------------------------------------------------------------
    def update(self, history: History) -> Curves:
        trials = history.trials
        if self._hid != id(history) or len(trials) < len(self._refs):
            self._reset(history)
            self.sign = float(history.sign[0])
        if history.version == self._version and len(trials) == len(self._refs):
            return self
        n = len(trials)
        if n > self.V.shape[0]:
            self._grow_rows(n)
        refs = self._refs
        old = len(refs)
        refs.extend([_NONE] * (n - old))
        self.attrs.extend([None] * (n - old))
        changed = [i for i, t in enumerate(trials) if t._inter is not refs[i]]
        for i in range(old, n):
            self.attrs[i] = trials[i]._system
        if len(changed) > 32:
            self._bulk(trials, changed)
        else:
            for i in changed:
                self._refresh(i, trials[i]._inter)
        for i in changed:
            refs[i] = trials[i]._inter
        self._version = history.version
        return self

    def _grow_rows(self, n: int) -> None:
        cap = max(64, 2 * self.V.shape[0], n)
        cols = self.V.shape[1]
        V = np.full((cap, cols), np.nan)
        C = np.full((cap, cols), np.nan)
        last = np.full(cap, -1, dtype=np.int64)
        k = self.V.shape[0]
        V[:k], C[:k], last[:k] = self.V, self.C, self.last
        self.V, self.C, self.last = V, C, last

    def _column(self, step: int) -> int:
        j = bisect.bisect_left(self.steps, step)
        if j < len(self.steps) and self.steps[j] == step:
            return j
        # A new step: insert its column (rare once the steps of a training run are known).
        self.steps.insert(j, step)
        self.V = np.insert(self.V, j, np.nan, axis=1)
        prev = self.C[:, j - 1] if j > 0 else np.full(self.C.shape[0], np.nan)
        self.C = np.insert(self.C, j, prev, axis=1)
        self.last[self.last >= j] += 1
        return j

    def _bulk(self, trials: Any, rows: list[int]) -> None:
        """Refresh many rows at once (a worker's first decision on a long study)."""
        keys = []
        for i in rows:
            inter = trials[i]._inter
            keys.append(np.fromiter(inter, dtype=np.int64, count=len(inter)) if inter else np.empty(0, np.int64))
        union = np.unique(np.concatenate([np.asarray(self.steps, dtype=np.int64), *keys]))
        if len(union) != len(self.steps):
            # New steps: one rebuild of every column instead of one insertion per step.
            pos = np.searchsorted(union, np.asarray(self.steps, dtype=np.int64))
            V = np.full((self.V.shape[0], len(union)), np.nan)
            V[:, pos] = self.V
            self.V = V
            self.steps = union.tolist()
            self.C = np.fmin.accumulate(V, axis=1) if V.size else V.copy()
            has = ~np.isnan(V)
            self.last = np.where(has.any(axis=1), V.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1), -1)
        idx = np.asarray(rows, dtype=np.int64)
        self.V[idx] = np.nan
        for i, k in zip(rows, keys):
            if len(k):
                vals = trials[i]._inter.values()
                try:
                    row_vals = np.fromiter(vals, dtype=float, count=len(k))
                except (TypeError, ValueError):  # tuples (several objectives) count as missing
                    row_vals = np.array([v if not isinstance(v, tuple) else np.nan for v in vals], dtype=float)
                self.V[i, np.searchsorted(union, k)] = row_vals * self.sign
        block = self.V[idx]
        self.C[idx] = np.fmin.accumulate(block, axis=1)
        has = ~np.isnan(block)
        self.last[idx] = np.where(has.any(axis=1), block.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1), -1)

    def _refresh(self, i: int, inter: Any) -> None:
        if not inter:
            return
        cols = []
        vals = []
        for s, v in inter.items():
            cols.append(self._column(s))
            vals.append(float(v) if not isinstance(v, tuple) and v is not None else math.nan)
        row = np.full(self.V.shape[1], np.nan)
        row[cols] = np.asarray(vals) * self.sign
        self.V[i] = row
        self.C[i] = np.fmin.accumulate(row)
        self.last[i] = max(cols)

    def group(self, name: str) -> np.ndarray:
        """Each row's system attribute ``name`` (as set when the trial was created), ``None`` if absent."""
        n = len(self._refs)
        arr = self._groups.get(name)
        have = 0 if arr is None else len(arr)
        if have < n:
            new = np.empty(n - have, dtype=object)
            new[:] = [(a or {}).get(name) for a in self.attrs[have:n]]
            arr = new if arr is None else np.concatenate([arr, new])
            self._groups[name] = arr
        return arr[:n]

    # -- queries -------------------------------------------------------------------------------------
    def column_at_or_after(self, resource: float) -> int:
        """The first column whose step is >= ``resource`` (``len(steps)`` if none)."""
        return bisect.bisect_left(self.steps, resource)

    def values_at(self, resource: float, rows: np.ndarray) -> np.ndarray:
        """Each row's loss at the first step at or past ``resource`` (``nan`` if it never got there)."""
        j = self.column_at_or_after(resource)
        out = np.full(len(rows), np.nan)
        if j >= len(self.steps) or not len(rows):
            return out
        reached = self.last[rows] >= j
        out[reached] = self.V[rows[reached], j]
        gaps = np.flatnonzero(reached & np.isnan(out))
        for g in gaps:  # reported past the rung but not at its first step: the first later report
            r = rows[g]
            later = self.V[r, j : self.last[r] + 1]
            k = np.flatnonzero(~np.isnan(later))
            if len(k):
                out[g] = later[k[0]]
        return out
