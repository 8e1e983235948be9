"""One search-space description that converts to every library's own format.

A :class:`Space` is an ordered list of parameters (:class:`FloatParam`, :class:`IntParam`,
:class:`CatParam`), each optionally active only when its parents hold given values
(``when={"model": "svm"}``). Parents come before their children. It converts to:

* hyperdial: :meth:`Space.to_hyperdial` -> ``hyperdial.SearchSpace`` (conditions via ``when=``);
* Optuna: :meth:`Space.suggest_optuna` suggests define-by-run, so only active parameters
  are ever suggested (Optuna's native way to express conditionals);
* Hyperopt: :meth:`Space.to_hyperopt` -> a nested ``hp.choice`` tree: each conditional
  parent becomes a choice whose branches hold the children it activates;
* ConfigSpace (SMAC): :meth:`Space.to_configspace` -> ``EqualsCondition`` / ``InCondition``
  (``AndConjunction`` for several parents);
* scikit-optimize: :meth:`Space.to_skopt` -> a flat list of dimensions. skopt has no
  conditionals: every parameter is always sampled and inactive ones are dropped from the
  configuration handed to the objective (:meth:`Space.clean`).

:meth:`Space.sample` is the library-free uniform random search used for the baseline.

Example:
    >>> space = Space([CatParam("kind", ["a", "b"]), FloatParam("x", 1e-3, 1.0, log=True, when={"kind": "a"})])
    >>> space.clean({"kind": "b", "x": 0.1})
    {'kind': 'b'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CatParam", "FloatParam", "IntParam", "Param", "Space"]


def _when(when: Mapping[str, Any] | None) -> dict[str, tuple]:
    if not when:
        return {}
    return {k: tuple(v) if isinstance(v, (list, tuple, set)) else (v,) for k, v in when.items()}


@dataclass(frozen=True)
class Param:
    """Base of every parameter: a name and an optional activation condition."""

    name: str

    @property
    def conditions(self) -> dict[str, tuple]:
        return _when(getattr(self, "when", None))


@dataclass(frozen=True)
class FloatParam(Param):
    """A real parameter in ``[low, high]``, uniform in ``log(value)`` when ``log``."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    when: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"FloatParam {self.name!r}: low={self.low} must be < high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"FloatParam {self.name!r}: log=True needs low > 0, got {self.low}")


@dataclass(frozen=True)
class IntParam(Param):
    """An integer parameter in ``[low, high]`` (inclusive), log-uniform when ``log``."""

    low: int = 0
    high: int = 1
    log: bool = False
    when: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"IntParam {self.name!r}: low={self.low} must be < high={self.high}")
        if self.log and self.low < 1:
            raise ValueError(f"IntParam {self.name!r}: log=True needs low >= 1, got {self.low}")


@dataclass(frozen=True)
class CatParam(Param):
    """A categorical parameter; choices are strings, ints, floats or bools."""

    choices: tuple = ()
    when: Mapping[str, Any] | None = field(default=None, compare=False)

    def __init__(self, name: str, choices: Sequence[Any], when: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "when", when)
        if len(self.choices) < 2:
            raise ValueError(f"CatParam {name!r}: needs at least 2 choices, got {self.choices!r}")


class Space:
    """An ordered, possibly conditional search space.

    Args:
        params: Parameters; every parent named in a ``when`` must come earlier and be a
            :class:`CatParam`.

    Raises:
        ValueError: duplicate names, or a condition on an unknown / later / non-categorical parent.
    """

    def __init__(self, params: Sequence[Param]) -> None:
        self.params: list[Param] = list(params)
        self.by_name: dict[str, Param] = {}
        for p in self.params:
            if p.name in self.by_name:
                raise ValueError(f"Space: duplicate parameter name {p.name!r}")
            for parent, values in p.conditions.items():
                pp = self.by_name.get(parent)
                if not isinstance(pp, CatParam):
                    raise ValueError(
                        f"Space: {p.name!r} depends on {parent!r}, which must be an earlier categorical parameter"
                    )
                bad = [v for v in values if v not in pp.choices]
                if bad:
                    raise ValueError(f"Space: {p.name!r} depends on {parent}={bad!r}, not among {pp.choices!r}")
            self.by_name[p.name] = p

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.params)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def is_conditional(self) -> bool:
        return any(p.conditions for p in self.params)

    @property
    def is_continuous(self) -> bool:
        """Whether every parameter is an unconditional float (e.g. a BBOB box)."""
        return all(isinstance(p, FloatParam) and not p.conditions for p in self.params)

    def is_active(self, p: Param, config: Mapping[str, Any]) -> bool:
        """Whether ``p``'s parents are all present in ``config`` with an activating value."""
        return all(parent in config and config[parent] in vals for parent, vals in p.conditions.items())

    def clean(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The active parameters of ``config`` in native types (ints as ``int``), in space order."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in config or not self.is_active(p, out):
                continue
            v = config[p.name]
            if isinstance(p, IntParam):
                v = int(min(max(round(float(v)), p.low), p.high))
            elif isinstance(p, FloatParam):
                v = float(min(max(float(v), p.low), p.high))
            elif isinstance(p, CatParam):
                v = _match_choice(p, v)
            out[p.name] = v
        return out

    # ------------------------------------------------------------ random search
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One uniform random configuration (log-uniform for log parameters)."""
        out: dict[str, Any] = {}
        for p in self.params:
            if not self.is_active(p, out):
                continue
            if isinstance(p, FloatParam):
                if p.log:
                    out[p.name] = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
                else:
                    out[p.name] = float(rng.uniform(p.low, p.high))
            elif isinstance(p, IntParam):
                if p.log:
                    x = math.exp(rng.uniform(math.log(p.low - 0.5), math.log(p.high + 0.5)))
                    out[p.name] = int(min(max(round(x), p.low), p.high))
                else:
                    out[p.name] = int(rng.integers(p.low, p.high + 1))
            else:
                out[p.name] = p.choices[int(rng.integers(len(p.choices)))]
        return out

    # ---------------------------------------------------------------- hyperdial
    def to_hyperdial(self) -> Any:
        """A ``hyperdial.SearchSpace`` with the same parameters and conditions."""
        import hyperdial

        spec: dict[str, Any] = {}
        for p in self.params:
            when = {k: list(v) for k, v in p.conditions.items()} or None
            if isinstance(p, FloatParam):
                spec[p.name] = hyperdial.Float(p.low, p.high, log=p.log, when=when)
            elif isinstance(p, IntParam):
                spec[p.name] = hyperdial.Int(p.low, p.high, log=p.log, when=when)
            else:
                spec[p.name] = hyperdial.Categorical(list(p.choices), when=when)
        return hyperdial.SearchSpace(spec)

    # ------------------------------------------------------------------- optuna
    def suggest_optuna(self, trial: Any) -> dict[str, Any]:
        """Suggest a configuration define-by-run on an ``optuna.Trial`` (only active parameters)."""
        out: dict[str, Any] = {}
        for p in self.params:
            if not self.is_active(p, out):
                continue
            if isinstance(p, FloatParam):
                out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
            elif isinstance(p, IntParam):
                out[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
            else:
                out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        return out

    # ----------------------------------------------------------------- hyperopt
    def to_hyperopt(self) -> dict[str, Any]:
        """A Hyperopt space whose samples :meth:`from_hyperopt` flattens into a configuration.

        Conditional parents become ``hp.choice`` over branches holding the children they
        activate; a child active under several values gets one label per branch.
        """
        from hyperopt import hp

        children: dict[str, list[Param]] = {}
        for p in self.params:
            for parent in p.conditions:
                children.setdefault(parent, []).append(p)
                break  # nested under its first parent; other parents are checked by clean()

        def leaf(p: Param, label: str) -> Any:
            if isinstance(p, FloatParam):
                if p.log:
                    return hp.loguniform(label, math.log(p.low), math.log(p.high))
                return hp.uniform(label, p.low, p.high)
            if isinstance(p, IntParam):
                if p.log:
                    return hp.qloguniform(label, math.log(p.low - 0.5), math.log(p.high + 0.5), 1)
                return hp.quniform(label, p.low - 0.5, p.high + 0.5, 1)
            return hp.choice(label, list(p.choices))

        def build(params: list[Param], suffix: str) -> dict[str, Any]:
            node: dict[str, Any] = {}
            for p in params:
                label = p.name + suffix
                if isinstance(p, CatParam) and p.name in children:
                    branches = []
                    for v in p.choices:
                        sub = [c for c in children[p.name] if v in c.conditions[p.name]]
                        branch = {p.name: v, **build(sub, f"{suffix}|{p.name}={v}")}
                        branches.append(branch)
                    node[f"__branch__{p.name}"] = hp.choice(label, branches)
                else:
                    node[p.name] = leaf(p, label)
            return node

        roots = [p for p in self.params if not p.conditions]
        return build(roots, "")

    def from_hyperopt(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """Flatten a sample of :meth:`to_hyperopt`'s space into a clean configuration."""
        flat: dict[str, Any] = {}

        def walk(node: Mapping[str, Any]) -> None:
            for k, v in node.items():
                if k.startswith("__branch__"):
                    walk(v)
                else:
                    flat[k] = v

        walk(sample)
        return self.clean(flat)

    # ------------------------------------------------------------- ConfigSpace
    def to_configspace(self, seed: int) -> Any:
        """A ``ConfigSpace.ConfigurationSpace`` with ``EqualsCondition`` / ``InCondition``."""
        from ConfigSpace import (
            AndConjunction,
            Categorical,
            ConfigurationSpace,
            EqualsCondition,
            Float,
            InCondition,
            Integer,
        )

        cs = ConfigurationSpace(seed=seed)
        hps = {}
        for p in self.params:
            if isinstance(p, FloatParam):
                hps[p.name] = Float(p.name, (p.low, p.high), log=p.log)
            elif isinstance(p, IntParam):
                hps[p.name] = Integer(p.name, (p.low, p.high), log=p.log)
            else:
                hps[p.name] = Categorical(p.name, [_cs_choice(c) for c in p.choices])
        cs.add(list(hps.values()))
        conds = []
        for p in self.params:
            parts = []
            for parent, vals in p.conditions.items():
                vals = [_cs_choice(v) for v in vals]
                if len(vals) == 1:
                    parts.append(EqualsCondition(hps[p.name], hps[parent], vals[0]))
                else:
                    parts.append(InCondition(hps[p.name], hps[parent], vals))
            if len(parts) == 1:
                conds.append(parts[0])
            elif parts:
                conds.append(AndConjunction(*parts))
        if conds:
            cs.add(conds)
        return cs

    def from_configspace(self, config: Any) -> dict[str, Any]:
        """A clean configuration from a ``ConfigSpace.Configuration``."""
        d = dict(config)
        for p in self.params:
            if isinstance(p, CatParam) and p.name in d:
                d[p.name] = _match_choice(p, d[p.name])
        return self.clean(d)

    # ------------------------------------------------------------------- skopt
    def to_skopt(self) -> list[Any]:
        """Flat ``skopt.space`` dimensions, one per parameter (no conditionals)."""
        from skopt.space import Categorical, Integer, Real

        dims = []
        for p in self.params:
            if isinstance(p, FloatParam):
                dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name))
            elif isinstance(p, IntParam):
                dims.append(Integer(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name))
            else:
                dims.append(Categorical([_cs_choice(c) for c in p.choices], name=p.name))
        return dims

    def from_skopt(self, x: Sequence[Any]) -> dict[str, Any]:
        """A clean configuration from an skopt point (inactive parameters dropped)."""
        return self.clean(dict(zip(self.names, x)))


def _cs_choice(v: Any) -> Any:
    # ConfigSpace / skopt categoricals want hashable scalars; bools and None travel as strings.
    if isinstance(v, bool) or v is None:
        return str(v)
    return v


def _match_choice(p: CatParam, v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    for c in p.choices:
        if c == v and type(c) is type(v):
            return c
    for c in p.choices:
        if _cs_choice(c) == v or str(c) == str(v):
            return c
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= int(v) < len(p.choices):
        # hyperopt's hp.choice reports indices in trial records
        return p.choices[int(v)]
    raise ValueError(f"{v!r} is not a choice of {p.name!r}: {p.choices!r}")
