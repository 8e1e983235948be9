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

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = [
    "CONSTRAINTS_ATTR",
    "ConstraintUnsatisfiable",
    "FeasibilityModel",
    "any_violation",
    "check_constraint_values",
    "check_param_constraint",
    "constrained_proposal",
    "constraint_matrix",
    "constraint_name",
    "feasible_first",
    "is_feasible",
    "outcome_constraints_event",
    "propose_feasible",
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


# Per history object, kept on it (``History._violation_scan``): [trials scanned, violations of
# those trials, whether any is > 0]. A trial's constraints are written with (or before) its final
# state, so only trials still unfinished are looked at again.


def _scan(history: History) -> tuple[np.ndarray, bool]:
    """(violation of every trial so far, whether any trial violates), updated incrementally."""
    trials = history.trials
    n = len(trials)
    entry = history._violation_scan
    if entry is None:
        entry = history._violation_scan = [0, np.zeros(0), False]
    scanned, v, any_pos = entry
    if scanned < n or len(v) < n:
        if len(v) < n:
            grown = np.zeros(max(n, 2 * len(v), 64))
            grown[: len(v)] = v
            v = entry[1] = grown
        states = history.S
        # Advance the scanned mark to the first unfinished trial: its constraints may still come.
        advance = True
        for i in range(scanned, n):
            system = trials[i]._system
            cons = system.get(CONSTRAINTS_ATTR) if system else None
            if cons:
                x = float(sum(c for c in cons if c > 0))
                v[i] = x
                if x > 0:
                    any_pos = True
            else:
                v[i] = 0.0
            if advance:
                if states[i] >= 3:  # COMPLETE, PRUNED, FAILED
                    scanned = i + 1
                else:
                    advance = False
        entry[0], entry[2] = scanned, any_pos
    return v, any_pos


def any_violation(history: History) -> bool:
    """Whether any trial so far violates an outcome constraint (incremental, O(new trials))."""
    return _scan(history)[1]


def violations(history: History, numbers: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
    """Total outcome constraint violation of the given trials (0 = feasible or unconstrained).

    Incremental per history: trials already finished when last seen are not read again.
    """
    n = len(history.trials)
    v, _ = _scan(history)
    idx = np.arange(n) if numbers is None else np.asarray(numbers, dtype=np.int64)
    return v[idx].copy() if len(idx) else np.zeros(0)


def constraint_matrix(history: History, numbers: np.ndarray | Sequence[int]) -> np.ndarray:
    """The outcome constraint values of the given trials (each satisfied when <= 0), nan when unknown.

    One row per entry of ``numbers``, one column per constraint (the most any of these trials
    reports); trials without constraint values (pruned, failed, or never constrained) and
    constraints a trial did not report are nan. What c-TPE (Watanabe & Hutter 2023) fits one
    density ratio per constraint on.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(seed=0)
        >>> for c in ([-1.0, 2.0], [0.5, 0.0]):
        ...     t = study.ask()
        ...     t.set_constraints(c)
        ...     _ = study.tell(t, 0.0)
        >>> constraint_matrix(study.history, [0, 1]).tolist()
        [[-1.0, 2.0], [0.5, 0.0]]
    """
    trials = history.trials
    cons = [(trials[int(i)]._system or {}).get(CONSTRAINTS_ATTR) or () for i in numbers]
    k = max((len(c) for c in cons), default=0)
    out = np.full((len(cons), k), np.nan)
    for row, c in enumerate(cons):
        if len(c):
            out[row, : len(c)] = c
    return out


def feasible_first(history: History, numbers: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """Reorder ``ordered`` (trial numbers, best first) so feasible trials come first.

    Infeasible trials follow, least violating first (Deb's feasibility rules): what TPE uses to
    put infeasible trials into its "bad" group (as c-TPE, Watanabe & Hutter 2023, and Optuna do).
    ``numbers`` is unused and kept for symmetry with callers that hold both.
    """
    if len(ordered) == 0 or not _scan(history)[1]:  # no trial violates: nothing to move
        return ordered
    v = violations(history, ordered)
    if not np.any(v > 0):
        return ordered
    feas = ordered[v <= 0]
    inf_idx = np.flatnonzero(v > 0)
    infeasible = ordered[inf_idx[np.argsort(v[inf_idx], kind="stable")]]
    return np.concatenate([feas, infeasible])


# Redraws use streams of the trial far above the ones define-by-run suggestions use.
_REDRAW_STREAM = 1 << 20
# Redraws asked of the sampler itself (a model-based one refits each time: keep it small).
_SAMPLER_REDRAWS = 2
# Then moves around the sampler's first choice with a growing radius, then uniform draws.
_LOCAL_REDRAWS = 40


def _local_move(space: Any, u0: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A point near ``u0`` on the unit cube: Gaussian steps on ordered parameters, and each
    unordered (categorical) parameter switched to a random category with probability ``radius``."""
    u = np.clip(u0 + rng.normal(0.0, radius, len(u0)), 0.0, 1.0)
    for j, name in enumerate(space.names):
        if type(space.dists[name]).__name__ == "Categorical":
            u[j] = rng.random() if rng.random() < radius else u0[j]
    return u


def propose_feasible(
    study: Any, view: History, number: int, space: Any, first: Any, fixed: Mapping[str, Any] | None
) -> Any:
    """A proposal whose parameters (with ``fixed`` applied) satisfy ``study.param_constraint``.

    The sampler's own proposal is kept when it is admissible. Otherwise, on fresh random
    streams of the same trial (so a seeded study stays reproducible):

    1. the sampler is asked again, at most ``_SAMPLER_REDRAWS`` (2) times, or until it repeats
       itself (grid and quasi-random samplers propose the same point whatever the stream);
    2. points near its first choice are tried with a radius growing from 2 % to about 80 % of
       the unit cube (``_LOCAL_REDRAWS``, 40), which keeps what the model wanted where the
       feasible region allows: the nearest admissible configuration it finds;
    3. then points drawn uniformly over the space, up to ``study.max_redraws`` attempts in all.

    Points of steps 2-3 keep the first proposal's bookkeeping (its claim, generation slot), so a
    grid cell or a sequence point that violates the constraint is used up by an admissible point
    instead of blocking the sampler. The trial records ``constraint_redraws`` (and
    ``constraint_fallback``: ``"local"`` or ``"uniform"``).

    Raises:
        ConstraintUnsatisfiable: every attempt violated the constraint.
    """
    from hyperdial.samplers.base import Proposal

    fn = study.param_constraint

    def finalize(params: dict[str, Any]) -> dict[str, Any]:
        return study._apply_fixed(space, params, fixed) if fixed else params

    params = finalize(first.params)
    if satisfies(fn, params):
        return first
    prev = params
    stuck = False
    u0 = space.encode(params)
    local = 0
    for attempt in range(1, study.max_redraws + 1):
        rng = study._streams.get(number, _REDRAW_STREAM + attempt)
        if attempt <= _SAMPLER_REDRAWS and not stuck:
            out = study.sampler.sample(view, space, rng)
            cand = out if isinstance(out, Proposal) else Proposal(out)
            params = finalize(cand.params)
            stuck = params == prev
            prev = params
            if not stuck:
                if satisfies(fn, params):
                    return Proposal(params, {**cand.attrs, "constraint_redraws": attempt}, cand.claim)
                continue
        if local < _LOCAL_REDRAWS and space.dim:
            radius = 0.02 * 1.1**local
            local += 1
            base = np.where(np.isnan(u0), rng.random(len(u0)), u0)
            params, how = finalize(space.decode(_local_move(space, base, radius, rng))), "local"
        else:
            params, how = finalize(space.decode(rng.random(space.dim))), "uniform"
        if satisfies(fn, params):
            attrs = {**first.attrs, "constraint_redraws": attempt, "constraint_fallback": how}
            return Proposal(params, attrs, first.claim)
    where = f" with fixed values {dict(fixed)!r}" if fixed else ""
    raise ConstraintUnsatisfiable(
        f"param_constraint {constraint_name(fn)} rejected {study.max_redraws + 1} proposals for trial {number}{where} "
        "(the sampler's own, nearby and uniform draws over the space); it seems unsatisfiable: check that it holds "
        "for some configuration of the space, or enlarge the region where it holds"
    )


class FeasibilityModel:
    """Probability of feasibility from one Gaussian process per outcome constraint.

    Constrained Bayesian optimisation as in Gardner et al. 2014 ("Bayesian optimization with
    inequality constraints", ICML, eq. 5) and Gelbart, Snoek & Adams 2014: each constraint
    ``c_k`` gets an independent GP; the acquisition is expected improvement over the best
    feasible value times ``P(feasible) = prod_k Phi(-mu_k / sigma_k)`` (added in log space),
    and before any trial is feasible the probability of feasibility alone is maximised.
    The GP sampler builds one with :meth:`fit` and scores candidates with :meth:`log_pof`.
    """

    def __init__(self, models: list[tuple[Any, float, float]], feasible: np.ndarray) -> None:
        self.models = models  # (fitted GP on standardised values, mean, scale)
        self.feasible = feasible  # trial numbers that are feasible

    @classmethod
    def fit(
        cls,
        history: History,
        done: np.ndarray,
        encode: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        space: Any,
        model_cls: Any,
        rng: np.random.Generator,
        max_observations: int = 500,
    ) -> FeasibilityModel | None:
        """Fit the constraint GPs on the COMPLETE trials ``done``; ``None`` when none has constraints."""
        rows = [(int(n), (history.trials[n]._system or {}).get(CONSTRAINTS_ATTR)) for n in done]
        rows = [(n, c) for n, c in rows if c]
        if not rows:
            return None
        rows = rows[-max_observations:]
        k = max(len(c) for _, c in rows)
        models = []
        for j in range(k):
            sel = [(n, c[j]) for n, c in rows if len(c) > j]
            if len(sel) < 2:
                continue
            numbers = np.array([n for n, _ in sel])
            y = np.array([v for _, v in sel], dtype=float)
            mu, scale = float(y.mean()), float(y.std()) or 1.0
            X, C = encode(history.matrix(space, numbers))
            m = model_cls(X, C, (y - mu) / scale)
            m.fit(None, rng, restarts=1)  # one L-BFGS-B run from the default start: a model per constraint per ask
            models.append((m, mu, scale))
        v = violations(history, done)
        return cls(models, done[v <= 0])

    def log_pof(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        """``log P(every constraint <= 0)`` at encoded points."""
        from scipy.special import log_ndtr

        out = np.zeros(len(X))
        for m, mu, scale in self.models:
            mean, sd = m.predict(X, C)
            out += log_ndtr(((0.0 - mu) / scale - mean) / np.maximum(sd, 1e-12))
        return out


def constrained_proposal(
    sampler: Any,
    history: History,
    model: Any,
    space: Any,
    layout: Any,
    done: np.ndarray,
    top: np.ndarray,
    rng: np.random.Generator,
    model_cls: Any,
) -> np.ndarray | None:
    """The GP sampler's point under outcome constraints: argmax of log EI + log P(feasible).

    ``None`` when no COMPLETE trial carries constraints (the sampler then runs its usual
    acquisition, untouched). The incumbent is the lowest posterior mean among feasible trials;
    with none feasible yet, the probability of feasibility alone is maximised (Gelbart et al. 2014).
    The maximisation is over the sampler's candidate set (Sobol' points and perturbations of the
    best trials), without the gradient refinement of the unconstrained path.
    """
    import warnings

    feas = FeasibilityModel.fit(
        history, done, lambda U: sampler._encode(U, space, layout), space, model_cls, rng, sampler.max_observations
    )
    if feas is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sobol's balance warning for n != 2**m
        cand = sampler._candidates(space, top, rng)
    U = np.where(space.active_mask(cand), cand, np.nan) if space.conditions else cand
    score = feas.log_pof(*sampler._encode(U, space, layout))
    if len(feas.feasible):
        mean, _ = model.predict(*sampler._encode(history.matrix(space, feas.feasible), space, layout))
        score = score + sampler._score(model, cand, space, layout, float(mean.min()))
    return cand[int(np.argmax(score))]


def outcome_constraints_event(study: Any, trial: Any, number: int, values: Any) -> tuple[Any, str | None]:
    """Evaluate ``study.constraints_func`` on the trial about to complete.

    Returns ``(event, None)`` with the ATTRS event that stores the values, or ``(None, message)``
    when the function raised or returned something other than finite numbers (the trial then
    fails with that message rather than being stored as feasible by mistake).
    """
    from hyperdial.storages import Event, EventKind
    from hyperdial.trial import TrialState

    fn = study.constraints_func
    frozen = study.sync().trials[number]
    changes: dict[str, Any] = {"state": TrialState.COMPLETE, "values": None if values is None else tuple(values)}
    if hasattr(trial, "_params"):
        changes["_params"] = {**frozen._params, **trial._params}
        changes["_dists"] = {**frozen._dists, **trial._dists}
    pending = {k: v for kind, d in getattr(trial, "_pending", ()) if kind == "system" for k, v in d.items()}
    if pending:
        changes["_system"] = {**(frozen._system or {}), **pending}
    try:
        raw = fn(frozen._replace(**changes))
        vals = check_constraint_values(raw, f"constraints_func {constraint_name(fn)}")
    except Exception as exc:
        return None, f"constraints_func {constraint_name(fn)} raised {type(exc).__name__}: {exc}"
    return Event(EventKind.ATTRS, number, {"system": {CONSTRAINTS_ATTR: vals}}), None
