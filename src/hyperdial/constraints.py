"""Constraints: on the parameters (must hold for every proposal) and on the outcome (values <= 0).

Parameter constraints are a callable ``constraint(params) -> bool`` given to
``create_study(param_constraint=...)``. The study checks every proposal (after fixed and
enqueued values are applied) and redraws a violating one from a fresh random stream of the same
trial, up to ``max_redraws`` times, so no stored trial ever violates it and a seeded run stays
reproducible. When every redraw fails, :class:`ConstraintUnsatisfiable` names the constraint.

Outcome constraints are numbers the objective produces, feasible when every one is <= 0
(Optuna's and BoTorch's convention): ``trial.set_constraints([...])`` inside the objective, or
``create_study(constraints_func=lambda frozen_trial: [...])`` evaluated when a trial completes.
They are stored on the trial (system attribute ``"constraints"``); :func:`violations` turns
them into one total violation per trial, ``sum(max(c_i, 0))`` (Deb 2000, "An efficient
constraint handling method for genetic algorithms", CMAME 186), 0 for feasible trials and for
trials without constraints. Feasibility-aware samplers rank feasible trials first, then
infeasible ones by violation (Deb's rules), and ``best_trial`` / ``best_trials`` only return
feasible trials.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = [
    "CONSTRAINTS_ATTR",
    "ConstraintUnsatisfiable",
    "check_constraint_values",
    "check_param_constraint",
    "constraint_name",
    "feasible_first",
    "is_feasible",
    "satisfies",
    "violations",
]

#: The system attribute that holds a trial's outcome constraint values.
CONSTRAINTS_ATTR = "constraints"


class ConstraintUnsatisfiable(ValueError):
    """No proposal satisfying the parameter constraint was found within the redraw budget."""


def constraint_name(fn: Callable[..., Any]) -> str:
    """A readable name for a constraint callable (its qualified name, or its repr)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if name and name != "<lambda>" else repr(fn)


def check_param_constraint(fn: Any, where: str = "param_constraint") -> Callable[[Mapping[str, Any]], bool] | None:
    """Validate a parameter constraint where it enters: ``None`` or a callable on the parameters."""
    if fn is None:
        return None
    if not callable(fn):
        raise TypeError(
            f"{where} must be a callable taking the parameters (a dict) and returning True when they are "
            f"admissible, got {fn!r}"
        )
    return fn


def satisfies(fn: Callable[[Mapping[str, Any]], Any], params: Mapping[str, Any]) -> bool:
    """Whether ``params`` satisfy the constraint; a constraint that raises is reported with its name."""
    try:
        ok = fn(dict(params))
    except Exception as exc:
        raise ValueError(
            f"param_constraint {constraint_name(fn)} raised {type(exc).__name__}: {exc} on params {dict(params)!r}; "
            "it must return True or False for every configuration of the space (use params.get for "
            "conditional parameters)"
        ) from exc
    if isinstance(ok, (bool, np.bool_)):
        return bool(ok)
    raise TypeError(
        f"param_constraint {constraint_name(fn)} returned {ok!r} for {dict(params)!r}; it must return True or False"
    )


def check_constraint_values(values: Any, where: str = "set_constraints") -> list[float]:
    """Validate outcome constraint values: a sequence of finite real numbers (feasible when all <= 0)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, np.ndarray)):
        if isinstance(values, numbers.Real) and not isinstance(values, bool):
            values = [values]
        else:
            raise TypeError(
                f"{where}: expected a sequence of numbers (each feasible when <= 0), got {type(values).__name__} "
                f"{values!r}"
            )
    out = []
    for i, v in enumerate(list(values)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{where}: constraint {i} is {v!r}; every constraint value must be a real number")
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(
                f"{where}: constraint {i} is {v!r}; values must be finite (return a large positive number for "
                "'badly infeasible')"
            )
        out.append(f)
    return out


def is_feasible(trial: FrozenTrial) -> bool:
    """True unless the trial stores an outcome constraint value > 0."""
    cons = (trial._system or {}).get(CONSTRAINTS_ATTR)
    return not cons or all(c <= 0 for c in cons)


def _violation(trial: FrozenTrial) -> float:
    cons = (trial._system or {}).get(CONSTRAINTS_ATTR)
    if not cons:
        return 0.0
    return float(sum(c for c in cons if c > 0))


# Per history object: (trials scanned, violations of those trials). A trial's constraints are written
# with (or before) its final state, so only trials still unfinished are looked at again.
_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, np.ndarray]] = weakref.WeakKeyDictionary()


def violations(history: History, numbers: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
    """Total outcome constraint violation of the given trials (0 = feasible or unconstrained).

    Incremental per history: trials already finished when last seen are not read again.
    """
    n = len(history.trials)
    try:
        scanned, v = _CACHE.get(history, (0, np.zeros(0)))
    except TypeError:
        scanned, v = 0, np.zeros(0)
    if scanned < n or len(v) < n:
        if len(v) < n:
            grown = np.zeros(max(n, 2 * len(v), 64))
            grown[: len(v)] = v
            v = grown
        trials = history.trials
        states = history.S
        start = scanned
        for i in range(scanned, n):
            v[i] = _violation(trials[i])
        # Advance the scanned mark to the first unfinished trial: its constraints may still come.
        finished = states[start:n] >= 3  # COMPLETE, PRUNED, FAILED
        unfinished = np.flatnonzero(~finished)
        scanned = start + (int(unfinished[0]) if len(unfinished) else n - start)
        with contextlib.suppress(TypeError):  # a history type without weak references: no cache
            _CACHE[history] = (scanned, v)
    idx = np.arange(n) if numbers is None else np.asarray(numbers, dtype=np.int64)
    return v[idx].copy() if len(idx) else np.zeros(0)


def feasible_first(history: History, numbers: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Reorder ``ordered`` (trial numbers, best first) so feasible trials come first.

    Infeasible trials follow, least violating first (Deb's feasibility rules): what TPE uses to
    put infeasible trials into its "bad" group (as c-TPE, Watanabe & Hutter 2023, and Optuna do).
    ``numbers`` is unused and kept for symmetry with callers that hold both.
    """
    if len(ordered) == 0:
        return ordered
    v = violations(history, ordered)
    if not np.any(v > 0):
        return ordered
    feas = ordered[v <= 0]
    inf_idx = np.flatnonzero(v > 0)
    infeasible = ordered[inf_idx[np.argsort(v[inf_idx], kind="stable")]]
    return np.concatenate([feas, infeasible])
