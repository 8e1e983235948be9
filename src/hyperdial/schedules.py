"""Schedules as search-space objects: a hyperparameter that changes over training.

A schedule *family* (:class:`Constant`, :class:`StepDecay`, :class:`Exponential`,
:class:`WarmupCosine`, :class:`PiecewiseLinear`) has a few shape parameters, each either a
:class:`~hyperdial.space.Distribution` (searched) or a plain number (fixed). In a
:class:`~hyperdial.space.SearchSpace` or through ``trial.suggest_schedule(name, family)`` it
expands into ordinary parameters named ``"<name>.<field>"`` (``"lr.peak"``,
``"lr.warmup"``, ...), so every sampler (grid, random, QMC, TPE, GP, CMA-ES) searches it
without knowing it is a schedule. The sampled values give a :class:`ScheduledValue`: the
hyperparameter at each step, a plain function of the step that serialises to JSON and,
through :class:`ScheduleController`, a :class:`~hyperdial.control.Controller`, so a
scheduled run is recorded on the trial and replayed like any other controlled run.

Every family contains the constant schedule (``factor=1``, ``final=1``, ``warmup=0`` and
``final=1``, equal knots).

Example:
    >>> import hyperdial
    >>> from hyperdial import Float
    >>> from hyperdial.schedules import WarmupCosine
    >>> space = hyperdial.SearchSpace({"lr": WarmupCosine(peak=Float(1e-3, 1e-1, log=True), total_steps=100)})
    >>> space.names
    ('lr.peak', 'lr.warmup', 'lr.final')
    >>> sched = space.schedules["lr"].build({"lr.peak": 0.1, "lr.warmup": 0.1, "lr.final": 0.0}, "lr")
    >>> [round(sched(s), 4) for s in (0, 9, 10, 55, 100)]
    [0.01, 0.1, 0.1, 0.05, 0.0]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.control import Controller
from hyperdial.space import Categorical, Distribution, Float, Int, distribution_from_dict

if TYPE_CHECKING:
    from hyperdial.space import SearchSpace
    from hyperdial.trial import Trial

# Defaults are immutable distributions, shared safely between calls.
_FACTOR = Float(0.1, 1.0)
_FINAL_RATIO = Float(1e-3, 1.0, log=True)
_WARMUP = Float(0.0, 0.3)
_FINAL_FRACTION = Float(0.0, 1.0)

__all__ = [
    "Constant",
    "Exponential",
    "PiecewiseLinear",
    "ScheduleController",
    "ScheduleFamily",
    "ScheduledValue",
    "StepDecay",
    "WarmupCosine",
    "expand_schedules",
    "schedule_from_dict",
    "schedules_from_params",
    "suggest_schedule",
]


def _value_range(dist: Distribution) -> tuple[float, float] | None:
    if isinstance(dist, Float | Int):
        return float(dist.low), float(dist.high)
    if isinstance(dist, Categorical):
        vals = [c for c in dist.choices if isinstance(c, numbers.Real) and not isinstance(c, bool)]
        if len(vals) != len(dist.choices):
            return None
        return float(min(vals)), float(max(vals))
    return None


class ScheduleFamily:
    """A family of schedules with searchable shape parameters (see the module docstring).

    Subclasses declare ``kind``, ``fields`` (name -> (low, high, low_open, high_open) of the
    admissible range) and implement :meth:`_value`.
    """

    kind: str = ""
    fields: dict[str, tuple[float, float, bool, bool]] = {}
    #: marks schedule families for SearchSpace without an import cycle
    _hyperdial_schedule = True

    def __init__(self, total_steps: int, **values: Any) -> None:
        where = type(self).__name__
        if isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral) or total_steps < 1:
            raise ValueError(f"{where}(total_steps={total_steps!r}): total_steps must be an integer >= 1")
        self.total_steps = int(total_steps)
        self.values: dict[str, Any] = {}
        for name, (low, high, low_open, high_open) in self.fields.items():
            spec = values[name]
            if isinstance(spec, Mapping):
                spec = distribution_from_dict(spec, f"{where}.{name}")
            if isinstance(spec, Distribution):
                if spec.when:
                    raise ValueError(f"{where}.{name}: a schedule field cannot carry a condition (when=)")
                rng = _value_range(spec)
                if rng is None:
                    raise TypeError(f"{where}.{name}: expected a numeric distribution, got {spec!r}")
                lo, hi = rng
            elif isinstance(spec, numbers.Real) and not isinstance(spec, bool) and math.isfinite(spec):
                lo = hi = float(spec)
            else:
                raise TypeError(f"{where}.{name}: expected a number or a Float / Int / Categorical, got {spec!r}")
            if lo < low or (low_open and lo <= low) or hi > high or (high_open and hi >= high):
                interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
                raise ValueError(f"{where}.{name}: every value must lie in {interval}, got {spec!r}")
            self.values[name] = spec

    # -- search space --------------------------------------------------------------------------
    def expand(self, prefix: str) -> dict[str, Distribution]:
        """The searched fields as ordinary distributions named ``"<prefix>.<field>"``."""
        return {f"{prefix}.{k}": v for k, v in self.values.items() if isinstance(v, Distribution)}

    def build(self, params: Mapping[str, Any], prefix: str | None = None) -> ScheduledValue:
        """The concrete schedule for sampled ``params`` (keys ``"<prefix>.<field>"``, or bare field names).

        Example:
            >>> Exponential(Float(0.1, 1.0), final=0.5, total_steps=4).build({"lr.initial": 0.2}, "lr")(4)
            0.1
        """
        resolved: dict[str, float] = {}
        for name, spec in self.values.items():
            if not isinstance(spec, Distribution):
                resolved[name] = float(spec)
                continue
            keys = [f"{prefix}.{name}", name] if prefix else [name]
            for key in keys:
                if key in params:
                    value = params[key]
                    if not spec.contains(value):
                        raise ValueError(f"{type(self).__name__}: {key}={value!r} is outside {spec!r}")
                    resolved[name] = float(value)
                    break
            else:
                raise ValueError(
                    f"{type(self).__name__}.build: no value for field {name!r} (looked for {keys}); "
                    "pass the trial's params"
                )
        return ScheduledValue(self.kind, resolved, self.total_steps)

    def suggest(self, trial: Trial, name: str) -> ScheduledValue:
        """Suggest each searched field on ``trial`` and return the schedule."""
        params = {sub: trial.suggest(sub, dist) for sub, dist in self.expand(name).items()}
        return self.build(params, name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "schedule", "kind": self.kind, "total_steps": self.total_steps}
        for name, spec in self.values.items():
            out[name] = spec.to_dict() if isinstance(spec, Distribution) else spec
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleFamily) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({fields}, total_steps={self.total_steps})"


class Constant(ScheduleFamily):
    """The same value at every step (a plain hyperparameter, as a schedule).

    Example:
        >>> Constant(Float(0.0, 1.0), total_steps=10).build({"value": 0.3})(7)
        0.3
    """

    kind = "constant"
    fields = {"value": (-math.inf, math.inf, False, False)}

    def __init__(self, value: Any, *, total_steps: int = 1) -> None:
        super().__init__(total_steps, value=value)


class StepDecay(ScheduleFamily):
    """``initial * factor ** (step // every)``; ``factor=1`` is constant.

    Example:
        >>> s = StepDecay(0.1, factor=0.5, every=10, total_steps=30).build({})
        >>> s(0), s(10), s(25)
        (0.1, 0.05, 0.025)
    """

    kind = "step"
    fields = {
        "initial": (-math.inf, math.inf, False, False),
        "factor": (0.0, 1.0, True, False),
        "every": (1.0, math.inf, False, False),
    }

    def __init__(self, initial: Any, *, factor: Any = _FACTOR, every: Any, total_steps: int) -> None:
        super().__init__(total_steps, initial=initial, factor=factor, every=every)


class Exponential(ScheduleFamily):
    """``initial * final ** (step / total_steps)``: a geometric decay to ``initial * final``; ``final=1`` is constant.

    Example:
        >>> s = Exponential(1.0, final=0.01, total_steps=100).build({})
        >>> round(s(50), 6), round(s(100), 6)
        (0.1, 0.01)
    """

    kind = "exponential"
    fields = {"initial": (-math.inf, math.inf, False, False), "final": (0.0, 1.0, True, False)}

    def __init__(self, initial: Any, *, final: Any = _FINAL_RATIO, total_steps: int) -> None:
        super().__init__(total_steps, initial=initial, final=final)


class WarmupCosine(ScheduleFamily):
    """Linear warm-up to ``peak`` over ``warmup * total_steps`` steps, then cosine decay to ``final * peak``.

    Loshchilov & Hutter, "SGDR", ICLR 2017, Eq. 5 (one cycle, no restart) after the linear
    warm-up of Goyal et al. 2017. ``warmup=0, final=1`` is constant.

    Example:
        >>> s = WarmupCosine(0.1, warmup=0.2, final=0.0, total_steps=10).build({})
        >>> [round(s(t), 3) for t in (0, 1, 2, 6, 10)]
        [0.05, 0.1, 0.1, 0.05, 0.0]
    """

    kind = "warmup_cosine"
    fields = {
        "peak": (-math.inf, math.inf, False, False),
        "warmup": (0.0, 1.0, False, True),
        "final": (0.0, 1.0, False, False),
    }

    def __init__(self, peak: Any, *, warmup: Any = _WARMUP, final: Any = _FINAL_FRACTION, total_steps: int) -> None:
        super().__init__(total_steps, peak=peak, warmup=warmup, final=final)


class PiecewiseLinear(ScheduleFamily):
    """Linear interpolation between ``k`` knots evenly spaced over ``[0, total_steps]``; equal knots are constant.

    Args:
        knots: One value or distribution per knot (``k >= 2``); the fields are named
            ``k0``, ``k1``, ... (``"lr.k0"``).
        log: Interpolate geometrically (linearly in ``log value``; knots must be > 0).

    Example:
        >>> s = PiecewiseLinear([0.0, 1.0, 0.0], total_steps=10).build({})
        >>> s(0), s(5), s(7)
        (0.0, 1.0, 0.6)
    """

    kind = "piecewise_linear"

    def __init__(self, knots: Any, *, log: bool = False, total_steps: int) -> None:
        if isinstance(knots, Mapping) or not hasattr(knots, "__len__") or len(knots) < 2:
            raise ValueError(f"PiecewiseLinear(knots={knots!r}): give a list of at least 2 values or distributions")
        if not isinstance(log, bool):
            raise TypeError(f"PiecewiseLinear(log={log!r}): log must be True or False")
        self.log = log
        low = 0.0 if log else -math.inf
        self.fields = {f"k{i}": (low, math.inf, log, False) for i in range(len(knots))}
        super().__init__(total_steps, **{f"k{i}": v for i, v in enumerate(knots)})

    def build(self, params: Mapping[str, Any], prefix: str | None = None) -> ScheduledValue:
        out = super().build(params, prefix)
        out.params["log"] = self.log
        return out

    def to_dict(self) -> dict[str, Any]:
        full = super().to_dict()
        out = {k: v for k, v in full.items() if not (k.startswith("k") and k[1:].isdigit())}
        out["knots"] = [full[f"k{i}"] for i in range(len(self.fields))]
        out["log"] = self.log
        return out


_FAMILIES: dict[str, type[ScheduleFamily]] = {
    c.kind: c for c in (Constant, StepDecay, Exponential, WarmupCosine, PiecewiseLinear)
}


def schedule_from_dict(spec: Mapping[str, Any], where: str = "schedule") -> ScheduleFamily:
    """Rebuild a family from :meth:`ScheduleFamily.to_dict` (or its YAML spelling).

    Example:
        >>> fam = WarmupCosine(Float(1e-3, 1e-1, log=True), total_steps=50)
        >>> schedule_from_dict(fam.to_dict()) == fam
        True
    """
    if not isinstance(spec, Mapping) or str(spec.get("type", "")).lower() != "schedule":
        raise ValueError(f"{where}: expected a mapping with type: schedule, got {spec!r}")
    kind = spec.get("kind")
    cls = _FAMILIES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"{where}.kind: unknown schedule {kind!r}; use one of {sorted(_FAMILIES)}")
    kwargs = {k: v for k, v in spec.items() if k not in ("type", "kind")}
    try:
        if cls is Constant:
            return Constant(kwargs.pop("value"), **kwargs)
        first = {StepDecay: "initial", Exponential: "initial", WarmupCosine: "peak", PiecewiseLinear: "knots"}[cls]
        return cls(kwargs.pop(first), **kwargs)
    except KeyError as exc:
        raise ValueError(f"{where}: missing {exc.args[0]!r} for a {kind} schedule") from None
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None


class ScheduledValue:
    """One concrete schedule: the hyperparameter's value at every step.

    Beyond ``total_steps`` the last value holds. Serialises with :meth:`to_dict`.

    Example:
        >>> s = ScheduledValue("exponential", {"initial": 1.0, "final": 0.5}, total_steps=2)
        >>> s(1), s(2), s(9), ScheduledValue.from_dict(s.to_dict()) == s
        (0.7071067811865476, 0.5, 0.5, True)
    """

    __slots__ = ("kind", "params", "total_steps")

    def __init__(self, kind: str, params: Mapping[str, Any], total_steps: int) -> None:
        if kind not in _FAMILIES:
            raise ValueError(f"ScheduledValue(kind={kind!r}): use one of {sorted(_FAMILIES)}")
        self.kind = kind
        self.params = dict(params)
        self.total_steps = int(total_steps)

    def __call__(self, step: int) -> float:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise TypeError(f"a schedule is evaluated at a non-negative integer step, got {step!r}")
        p = self.params
        t = min(int(step), self.total_steps)
        total = self.total_steps
        if self.kind == "constant":
            return p["value"]
        if self.kind == "step":
            return p["initial"] * p["factor"] ** (int(step) // max(int(round(p["every"])), 1))
        if self.kind == "exponential":
            return p["initial"] * p["final"] ** (t / total)
        if self.kind == "warmup_cosine":
            warm = int(round(p["warmup"] * total))
            if t < warm:
                return p["peak"] * (t + 1) / warm
            progress = (t - warm) / max(total - warm, 1)
            return p["peak"] * (p["final"] + (1.0 - p["final"]) * 0.5 * (1.0 + math.cos(math.pi * progress)))
        knots = [p[f"k{i}"] for i in range(sum(1 for k in p if k.startswith("k") and k[1:].isdigit()))]
        xs = np.linspace(0.0, total, len(knots))
        if p.get("log"):
            return float(np.exp(np.interp(t, xs, np.log(knots))))
        return float(np.interp(t, xs, knots))

    def values(self, steps: range | list[int]) -> list[float]:
        return [self(s) for s in steps]

    def controller(self, name: str) -> ScheduleController:
        """A :class:`~hyperdial.control.Controller` that sets ``name`` from this schedule."""
        return ScheduleController({name: self})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params), "total_steps": self.total_steps}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduledValue:
        return cls(data["kind"], data["params"], data["total_steps"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduledValue) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ScheduledValue({self.kind!r}, {self.params!r}, total_steps={self.total_steps})"


class ScheduleController(Controller):
    """Sets hyperparameters from fixed schedules: the value at step ``s`` is ``schedule(s)``.

    Run it in a :class:`~hyperdial.control.ControlLoop` to have the values recorded on the
    trial (and replayable with :class:`~hyperdial.control.ReplayController`).

    Example:
        >>> from hyperdial.control import ControlLoop
        >>> loop = ControlLoop(ScheduleController({"lr": StepDecay(0.1, factor=0.5, every=2, total_steps=6).build({})}),
        ...                    {"lr": 0.0, "momentum": 0.9})
        >>> for step in range(6):
        ...     _ = loop.step(step)
        >>> loop.schedule.to_json()
        [[0, {'lr': 0.1, 'momentum': 0.9}], [2, {'lr': 0.05}], [4, {'lr': 0.025}], [6, {'lr': 0.0125}]]
    """

    def __init__(self, schedules: Mapping[str, ScheduledValue]) -> None:
        if not isinstance(schedules, Mapping) or not all(isinstance(v, ScheduledValue) for v in schedules.values()):
            raise TypeError(
                f"ScheduleController(schedules={schedules!r}): expected a mapping of name to ScheduledValue "
                "(from family.build(params) or trial.suggest_schedule)"
            )
        self.schedules = dict(schedules)

    def start(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, **{k: s(0) for k, s in self.schedules.items()}}

    def update(self, step: int, observation: Mapping[str, float], params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: s(step + 1) for k, s in self.schedules.items()}


def _is_family_spec(spec: Any) -> bool:
    return isinstance(spec, ScheduleFamily) or (
        isinstance(spec, Mapping) and str(spec.get("type", "")).lower() == "schedule"
    )


def expand_schedules(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, ScheduleFamily]]:
    """Replace every schedule in a search-space mapping by its prefixed fields (used by SearchSpace)."""
    out: dict[str, Any] = {}
    families: dict[str, ScheduleFamily] = {}
    for name, spec in params.items():
        if not _is_family_spec(spec):
            out[name] = spec
            continue
        family = spec if isinstance(spec, ScheduleFamily) else schedule_from_dict(spec, f"space.{name}")
        families[name] = family
        for sub, dist in family.expand(name).items():
            if sub in params:
                raise ValueError(
                    f"space.{name}: the schedule's parameter {sub!r} clashes with a parameter of that name; rename one"
                )
            out[sub] = dist
    return out, families


def schedules_from_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, ScheduledValue]:
    """Every schedule of ``space`` built from a trial's ``params`` (e.g. ``study.best_params``).

    Example:
        >>> from hyperdial import SearchSpace
        >>> space = SearchSpace({"lr": Exponential(Float(0.01, 1.0, log=True), final=0.5, total_steps=10)})
        >>> schedules_from_params(space, {"lr.initial": 0.2})["lr"](10)
        0.1
    """
    return {name: fam.build(params, name) for name, fam in space.schedules.items()}


def suggest_schedule(trial: Trial, name: str, family: ScheduleFamily) -> ScheduledValue:
    """Define-by-run: suggest ``family``'s fields as ``"<name>.<field>"`` and return the schedule."""
    if not isinstance(family, ScheduleFamily):
        raise TypeError(
            f"suggest_schedule({name!r}): expected a schedule family such as WarmupCosine(...), got {family!r}"
        )
    return family.suggest(trial, name)
