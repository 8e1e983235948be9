"""Search spaces: distributions, conditions, and the map to and from the unit cube.

A distribution describes one hyperparameter. Every distribution maps its values to a
point in ``[0, 1]`` and back, so model-based samplers work on one uniform
representation whatever the parameter's kind:

* ``Float(low, high)``: linear, ``u * (high - low) + low``.
* ``Float(low, high, log=True)``: linear in ``log(value)``.
* ``Float(low, high, step=s)`` and ``Int(low, high, step=s)``: the ``K`` admissible
  values split ``[0, 1]`` into ``K`` equal cells; a value maps to the centre of its cell.
* ``Int(low, high, log=True)``: linear in ``log`` over ``[low - 0.5, high + 0.5]`` and
  rounded, so every integer owns a cell whose width follows the log scale.
* ``Categorical(choices)``: ``K`` equal cells, one per choice.

``from_unit(to_unit(v)) == v`` for every admissible ``v`` and ``from_unit(u)`` is
admissible for every ``u`` in ``[0, 1]``.

Example:
    >>> from hyperdial import SearchSpace, Float, Categorical
    >>> space = SearchSpace({
    ...     "kernel": Categorical(["linear", "rbf"]),
    ...     "C": Float(1e-3, 1e3, log=True),
    ...     "gamma": Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
    ...     "max_iter": 1000,
    ... })
    >>> sorted(space.decode([0.1, 0.5, 0.5]))
    ['C', 'kernel', 'max_iter']
"""

from __future__ import annotations

import decimal
import json
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Categorical",
    "ScipyDistribution",
    "Distribution",
    "Float",
    "Int",
    "SearchSpace",
    "distribution_from_dict",
]

_EPS = 1e-9
_CHOICE_TYPES = (str, int, float, bool, type(None))


def _is_real(x: Any) -> bool:
    t = type(x)
    if t is float or t is int:
        return True
    return t is not bool and isinstance(x, numbers.Real)


def _decimals(x: float) -> int:
    """Decimal places in the shortest repr of ``x`` (so ``low + k * step`` can be rounded exactly)."""
    exp = decimal.Decimal(repr(float(x))).as_tuple().exponent
    return max(0, -int(exp)) if isinstance(exp, int) else 0


def _check_condition(when: Any, where: str) -> dict[str, tuple] | None:
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise TypeError(
            f"{where}: `when` must be a non-empty mapping of parent name to the value(s) that "
            f"activate it, e.g. when={{'kernel': ['rbf', 'poly']}}; got {when!r}"
        )
    out = {}
    for parent, values in when.items():
        if not isinstance(parent, str):
            raise TypeError(f"{where}: condition parent names must be strings, got {parent!r}")
        if isinstance(values, (list, tuple, set, frozenset)):
            vals = tuple(values)
        else:
            vals = (values,)
        if not vals:
            raise ValueError(f"{where}: condition on {parent!r} lists no values")
        out[parent] = vals
    return out


class Distribution(ABC):
    """One hyperparameter's admissible values and their unit-cube map.

    Distributions compare equal when they admit the same values the same way; the
    optional ``when`` condition is carried for :class:`SearchSpace` and does not take
    part in equality.
    """

    __slots__ = ("when", "_key")
    kind: str = ""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """Map an admissible value to ``[0, 1]``."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """Map a point of ``[0, 1]`` to an admissible value."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is admissible."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description; :func:`distribution_from_dict` inverts it."""

    @abstractmethod
    def grid(self, points: int) -> list[Any]:
        """Admissible values for a grid: all of them when finite, else ``points`` spaced ones."""

    @property
    @abstractmethod
    def size(self) -> float:
        """Number of admissible values (``inf`` for a continuous range)."""

    def coerce(self, value: Any, name: str = "value") -> Any:
        """Return ``value`` in this distribution's native type, or raise ``ValueError``."""
        if not self.contains(value):
            raise ValueError(f"{name}={value!r} is outside {self!r}")
        return self._native(value)

    def _native(self, value: Any) -> Any:
        return value

    def from_unit_array(self, u: np.ndarray) -> list[Any]:
        return [self.from_unit(float(x)) for x in np.asarray(u, dtype=float).ravel()]

    def to_unit_array(self, values: Sequence[Any]) -> np.ndarray:
        return np.array([self.to_unit(v) for v in values], dtype=float)

    @property
    def key(self) -> str:
        """A canonical string naming this distribution (equal distributions share it)."""
        k = getattr(self, "_key", None)
        if k is None:
            k = json.dumps(self.to_dict(), sort_keys=True)
            object.__setattr__(self, "_key", k)
        return k

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Distribution) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        d = self.to_dict()
        kind = d.pop("type")
        args = ", ".join(f"{k}={v!r}" for k, v in d.items() if v is not None and v is not False)
        return f"{kind.capitalize()}({args})"

    def _init_when(self, when: Any) -> None:
        self.when = _check_condition(when, repr(self))
        self._key = None


class _Numeric(Distribution):
    __slots__ = ("low", "high", "log", "step", "_n", "_lo", "_span")

    def _setup(self) -> None:
        # _n: number of cells (0 for continuous); _lo/_span: the (log) interval mapped to [0, 1].
        if self.step is not None:
            self._n = int(round((self.high - self.low) / self.step)) + 1
            self._lo = 0.0
            self._span = 1.0
        elif self.log:
            pad = 0.5 if self.kind == "int" else 0.0
            self._n = 0
            self._lo = math.log(self.low - pad)
            self._span = math.log(self.high + pad) - self._lo
        else:
            self._n = 0
            self._lo = float(self.low)
            self._span = float(self.high - self.low)

    @property
    def size(self) -> float:
        if self._n:
            return self._n
        if self.kind == "int":
            return self.high - self.low + 1
        return 1 if self.low == self.high else math.inf

    def to_unit(self, value: Any) -> float:
        v = float(value)
        if self._n:
            k = round((v - self.low) / self.step)
            return (min(max(k, 0), self._n - 1) + 0.5) / self._n
        if self._span == 0.0:
            return 0.5
        x = math.log(v) if self.log else v
        return min(max((x - self._lo) / self._span, 0.0), 1.0)

    def from_unit(self, u: float) -> Any:
        if self._n:
            k = min(max(int(u * self._n), 0), self._n - 1)
            return self._native(self.low + k * self.step)
        x = self._lo + u * self._span
        v = math.exp(x) if self.log else x
        return self._native(min(max(v, self.low), self.high))

    def from_unit_array(self, u: np.ndarray) -> list[Any]:
        u = np.asarray(u, dtype=float).ravel()
        if self._n:
            k = np.clip((u * self._n).astype(np.int64), 0, self._n - 1)
            v = self.low + k * self.step
        else:
            x = self._lo + u * self._span
            v = np.clip(np.exp(x) if self.log else x, self.low, self.high)
        if self.kind == "int":
            return np.rint(v).astype(np.int64).tolist()
        if self.step is not None:
            return [self._native(x) for x in v.tolist()]
        return v.tolist()

    def to_unit_array(self, values: Sequence[Any]) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        if self._n:
            k = np.clip(np.rint((v - self.low) / self.step), 0, self._n - 1)
            return (k + 0.5) / self._n
        if self._span == 0.0:
            return np.full(v.shape, 0.5)
        x = np.log(v) if self.log else v
        return np.clip((x - self._lo) / self._span, 0.0, 1.0)

    def grid(self, points: int) -> list[Any]:
        if points < 1:
            raise ValueError(f"points must be >= 1, got {points}")
        size = self.size
        explicit_step = self.step is not None and not (self.kind == "int" and self.step == 1)
        if size <= max(points, 100) or (explicit_step and size <= 10_000):
            if self._n:
                return [self.from_unit((k + 0.5) / self._n) for k in range(self._n)]
            if self.kind == "int":
                return list(range(int(self.low), int(self.high) + 1))
            return [self.low]
        if points == 1:
            return [self.from_unit(0.5)]
        if self.log:
            vals = np.exp(np.linspace(math.log(self.low), math.log(self.high), points))
        else:
            vals = np.linspace(self.low, self.high, points)
        vals[0], vals[-1] = self.low, self.high
        out = [self._native(float(x)) for x in vals]
        if self.kind == "int":
            out = sorted(set(out))
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            d["step"] = self.step
        return d


class Float(_Numeric):
    """A real-valued hyperparameter in ``[low, high]``.

    Args:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive).
        log: Sample uniformly in ``log(value)``; needs ``low > 0``.
        step: Admit only ``low + k * step``; ``high - low`` must be a multiple of it.
        when: Optional condition for :class:`SearchSpace`, e.g. ``{"kernel": "rbf"}``.

    Example:
        >>> round(Float(1e-4, 1.0, log=True).from_unit(0.5), 12)
        0.01
    """

    __slots__ = ("_decimals",)
    kind = "float"

    def __init__(
        self,
        low: float,
        high: float,
        *,
        log: bool = False,
        step: float | None = None,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        where = f"Float(low={low!r}, high={high!r})"
        if not _is_real(low) or not _is_real(high):
            raise TypeError(f"{where}: low and high must be real numbers")
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{where}: low and high must be finite")
        if low > high:
            raise ValueError(f"{where}: low must be <= high; swap them")
        if not isinstance(log, bool):
            raise TypeError(f"{where}: log must be True or False, got {log!r}")
        if log and low <= 0:
            raise ValueError(f"{where}: log=True needs low > 0; use a positive lower bound such as 1e-8")
        if step is not None:
            if log:
                raise ValueError(f"{where}: step and log=True cannot be combined; drop one of them")
            if not _is_real(step) or not step > 0:
                raise ValueError(f"{where}: step must be a positive number, got {step!r}")
            step = float(step)
            n = (high - low) / step
            if abs(n - round(n)) > 1e-8 * max(1.0, abs(n)):
                raise ValueError(
                    f"{where}: step={step!r} does not fit the range: high - low = {high - low!r} is not a "
                    f"multiple of it; use high={float(f'{low + math.floor(n + 1e-9) * step:.12g}')!r} or another step"
                )
        self.low, self.high, self.log, self.step = low, high, log, step
        self._decimals = max(_decimals(low), _decimals(step)) if step is not None else 0
        self._init_when(when)
        self._setup()

    def _native(self, value: Any) -> float:
        v = float(value)
        if self.step is not None:
            k = round((v - self.low) / self.step)
            # Round away the float error of low + k * step so equal grid points compare equal.
            v = round(self.low + k * self.step, self._decimals)
            v = min(max(v, self.low), self.high)
        return v

    def contains(self, value: Any) -> bool:
        if type(value) is not float and not _is_real(value):
            return False
        v = float(value)
        low, high = self.low, self.high
        # The plain range first: the tolerance only widens it, so it is computed only outside.
        if not low <= v <= high and not (low - _EPS * max(1.0, abs(low)) <= v <= high + _EPS * max(1.0, abs(high))):
            return False
        if self.step is not None:
            k = (v - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True


class Int(_Numeric):
    """An integer hyperparameter in ``[low, high]``.

    Args:
        low: Lower bound (inclusive).
        high: Upper bound (inclusive).
        log: Sample uniformly in ``log(value)``; needs ``low >= 1`` and ``step == 1``.
        step: Admit only ``low + k * step``; ``high - low`` must be a multiple of it.
        when: Optional condition for :class:`SearchSpace`.

    Example:
        >>> Int(1, 9, step=2).grid(10)
        [1, 3, 5, 7, 9]
    """

    __slots__ = ()
    kind = "int"

    def __init__(
        self,
        low: int,
        high: int,
        *,
        log: bool = False,
        step: int = 1,
        when: Mapping[str, Any] | None = None,
    ) -> None:
        where = f"Int(low={low!r}, high={high!r})"
        for label, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                if _is_real(v) and float(v).is_integer():
                    continue
                raise TypeError(f"{where}: {label} must be an integer, got {v!r}")
        low, high, step = int(low), int(high), int(step)
        if low > high:
            raise ValueError(f"{where}: low must be <= high; swap them")
        if not isinstance(log, bool):
            raise TypeError(f"{where}: log must be True or False, got {log!r}")
        if step < 1:
            raise ValueError(f"{where}: step must be >= 1, got {step}")
        if log and low < 1:
            raise ValueError(f"{where}: log=True needs low >= 1; use low=1")
        if log and step != 1:
            raise ValueError(f"{where}: step={step} and log=True cannot be combined; drop one of them")
        if (high - low) % step:
            raise ValueError(
                f"{where}: step={step} does not fit the range: high - low = {high - low} is not a multiple "
                f"of it; use high={low + (high - low) // step * step}"
            )
        self.low, self.high, self.log = low, high, log
        self.step = step if not log else None
        self._init_when(when)
        self._setup()

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("step", None)
        if self.step not in (None, 1):
            d["step"] = self.step
        return d

    def _setup(self) -> None:
        if self.step is not None and not self.log:
            self._n = (self.high - self.low) // self.step + 1
            self._lo, self._span = 0.0, 1.0
        else:
            super()._setup()

    def _native(self, value: Any) -> int:
        return int(round(float(value)))

    def from_unit(self, u: float) -> int:
        if self._n:
            k = min(max(int(u * self._n), 0), self._n - 1)
            return self.low + k * self.step
        v = math.exp(self._lo + u * self._span)
        return min(max(int(round(v)), self.low), self.high)

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not _is_real(value):
            return False
        v = float(value)
        if not v.is_integer() or not self.low <= v <= self.high:
            return False
        return self.step is None or (int(v) - self.low) % self.step == 0


def _choice_index(choices: tuple, value: Any) -> int:
    """Index of ``value`` among ``choices``, telling ``True`` from ``1`` and ``1`` from ``1.0``."""
    if isinstance(value, np.generic):
        value = value.item()
    for i, c in enumerate(choices):
        if c is value or (type(c) is type(value) and c == value):
            return i
    for i, c in enumerate(choices):  # int given for a float choice and the like
        if _is_real(c) and _is_real(value) and c == value:
            return i
    raise ValueError(f"{value!r} is not one of the choices {list(choices)!r}")


class Categorical(Distribution):
    """One of a fixed list of choices (str, int, float, bool or None).

    Example:
        >>> Categorical(["adam", "sgd"]).from_unit(0.75)
        'sgd'
    """

    __slots__ = ("choices", "_n")
    kind = "categorical"

    def __init__(self, choices: Sequence[Any], *, when: Mapping[str, Any] | None = None) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (Sequence, set, frozenset, np.ndarray)):
            raise TypeError(
                f"Categorical: choices must be a list of values, got {choices!r}; "
                "write Categorical(['a', 'b']) rather than Categorical('ab')"
            )
        items = [c.item() if isinstance(c, np.generic) else c for c in choices]
        if not items:
            raise ValueError("Categorical: choices is empty; give at least one choice")
        for c in items:
            if not isinstance(c, _CHOICE_TYPES):
                raise TypeError(
                    f"Categorical: choice {c!r} of type {type(c).__name__} is not allowed; choices must be "
                    "str, int, float, bool or None (store an object under a string key and look it up)"
                )
            if isinstance(c, float) and not math.isfinite(c):
                raise ValueError(f"Categorical: choice {c!r} is not finite")
        seen: set[tuple[type, Any]] = set()
        for c in items:
            if (type(c), c) in seen:
                raise ValueError(f"Categorical: choice {c!r} appears twice in {items!r}")
            seen.add((type(c), c))
        self.choices = tuple(items)
        self._n = len(self.choices)
        self._init_when(when)

    @property
    def size(self) -> float:
        return self._n

    def index(self, value: Any) -> int:
        return _choice_index(self.choices, value)

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / self._n

    def from_unit(self, u: float) -> Any:
        return self.choices[min(max(int(u * self._n), 0), self._n - 1)]

    def from_unit_array(self, u: np.ndarray) -> list[Any]:
        k = np.clip((np.asarray(u, dtype=float).ravel() * self._n).astype(np.int64), 0, self._n - 1)
        return [self.choices[i] for i in k.tolist()]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except (ValueError, TypeError):
            return False
        return True

    def _native(self, value: Any) -> Any:
        return self.choices[self.index(value)]

    def grid(self, points: int) -> list[Any]:
        return list(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}

    def __repr__(self) -> str:
        return f"Categorical({list(self.choices)!r})"


class ScipyDistribution(Distribution):
    """A scipy.stats frozen distribution as a search dimension: ``u -> dist.ppf(u)``.

    Used for ``RandomizedSearchCV``-style spaces such as ``{"C": scipy.stats.loguniform(1e-3, 1e3)}``;
    integer-valued (discrete) distributions give ints.
    """

    __slots__ = ("frozen", "_discrete", "_lo", "_hi")
    kind = "scipy"

    def __init__(self, frozen: Any) -> None:
        if not hasattr(frozen, "ppf") or not hasattr(frozen, "dist"):
            raise TypeError(f"ScipyDistribution: expected a frozen scipy.stats distribution, got {frozen!r}")
        self.frozen = frozen
        self._discrete = hasattr(frozen.dist, "pmf")
        lo, hi = frozen.support()
        self._lo, self._hi = float(lo), float(hi)
        self._init_when(None)

    @property
    def size(self) -> float:
        if self._discrete and np.isfinite(self._lo) and np.isfinite(self._hi):
            return self._hi - self._lo + 1
        return float("inf")

    def from_unit(self, u: float) -> Any:
        eps = 1e-12
        v = float(self.frozen.ppf(min(max(u, eps), 1 - eps)))
        return int(round(v)) if self._discrete else v

    def to_unit(self, value: Any) -> float:
        if self._discrete:
            # The middle of the value's probability mass, so from_unit maps it back.
            return float((self.frozen.cdf(value - 1) + self.frozen.cdf(value)) / 2)
        return float(self.frozen.cdf(value))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self._discrete and float(value) != int(value):
            return False
        return self._lo <= float(value) <= self._hi

    def _native(self, value: Any) -> Any:
        return int(value) if self._discrete else float(value)

    def __reduce__(self) -> tuple:
        return (distribution_from_dict, (self.to_dict(),))

    def grid(self, points: int) -> list[Any]:
        return sorted({self.from_unit((i + 0.5) / points) for i in range(points)})

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "scipy",
            "name": self.frozen.dist.name,
            "args": [float(a) for a in self.frozen.args],
            "kwds": {k: float(v) for k, v in self.frozen.kwds.items()},
        }


_DIST_TYPES: dict[str, type[Distribution]] = {"float": Float, "int": Int, "categorical": Categorical}
_DIST_KEYS = {
    "float": {"low", "high", "log", "step", "when"},
    "int": {"low", "high", "log", "step", "when"},
    "categorical": {"choices", "when"},
    "fixed": {"value"},
    "scipy": {"name", "args", "kwds"},
}


def distribution_from_dict(spec: Mapping[str, Any], where: str = "distribution") -> Distribution:
    """Build a distribution from its dict / YAML spelling.

    ``{type: float, low: 1e-4, high: 1, log: true}``, ``{type: int, low: 1, high: 9, step: 2}``,
    ``{type: categorical, choices: [a, b]}``; any of them may add ``when: {parent: value}``.

    Raises:
        ValueError / TypeError naming ``where`` (the key path) and the fix.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}: expected a mapping with a 'type' key, got {spec!r}")
    kind = spec.get("type")
    if kind is None:
        raise ValueError(f"{where}: missing 'type'; use one of float, int, categorical, fixed")
    kind = str(kind).lower()
    aliases = {"uniform": "float", "loguniform": "float", "integer": "int", "choice": "categorical", "const": "fixed"}
    kind = aliases.get(kind, kind)
    if kind not in _DIST_KEYS:
        raise ValueError(f"{where}.type: unknown type {spec.get('type')!r}; use one of float, int, categorical, fixed")
    unknown = set(spec) - _DIST_KEYS[kind] - {"type"}
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {sorted(unknown)} for type {kind}; allowed: {sorted(_DIST_KEYS[kind])}"
        )
    if kind == "fixed":
        raise ValueError(f"{where}: a fixed value is not a distribution; SearchSpace handles it")
    if kind == "scipy":
        import scipy.stats

        factory = getattr(scipy.stats, str(spec.get("name")), None)
        if factory is None:
            raise ValueError(f"{where}: scipy.stats has no distribution {spec.get('name')!r}")
        return ScipyDistribution(factory(*spec.get("args", []), **spec.get("kwds", {})))
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    if str(spec.get("type")).lower() == "loguniform":
        kwargs.setdefault("log", True)
    try:
        if kind == "categorical":
            if "choices" not in kwargs:
                raise ValueError("missing 'choices'")
            return Categorical(kwargs.pop("choices"), **kwargs)
        for req in ("low", "high"):
            if req not in kwargs:
                raise ValueError(f"missing {req!r}")
        low, high = kwargs.pop("low"), kwargs.pop("high")
        return _DIST_TYPES[kind](low, high, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _is_schedule(spec: Any) -> bool:
    return getattr(spec, "_hyperdial_schedule", False) is True or (
        isinstance(spec, Mapping) and str(spec.get("type", "")).lower() == "schedule"
    )


class _Fixed:
    """A constant that a :class:`SearchSpace` adds to every configuration."""

    __slots__ = ("value", "when")

    def __init__(self, value: Any, when: Mapping[str, Any] | None = None) -> None:
        self.value = value
        self.when = _check_condition(when, f"fixed {value!r}")


class SearchSpace:
    """A declared search space: named distributions, conditions between them, and constants.

    Args:
        params: Mapping of name to a :class:`Distribution`, a dict spelling
            (``{"type": "float", ...}``), a list (a categorical) or a plain value (a constant).
        conditions: Optional mapping ``{child: {parent: value(s)}}``; the same as giving
            ``when=`` on the child. A child is active when every parent is active and
            takes one of the listed values.

    The order of ``params`` is kept; a parent must come before its children.

    Example:
        >>> space = SearchSpace.from_dict({
        ...     "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        ...     "optimizer": ["adam", "sgd"],
        ...     "momentum": {"type": "float", "low": 0.0, "high": 0.99, "when": {"optimizer": "sgd"}},
        ... })
        >>> space.names
        ('lr', 'optimizer', 'momentum')
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        conditions: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if isinstance(params, SearchSpace):
            params = params.to_dict()
        if not isinstance(params, Mapping):
            raise TypeError(
                f"SearchSpace: params must be a mapping of name to distribution, got {type(params).__name__}"
            )
        # Schedules (hyperdial.schedules) expand into ordinary "<name>.<field>" parameters.
        self.schedules: dict[str, Any] = {}
        if any(_is_schedule(spec) for spec in params.values()):
            from hyperdial.schedules import expand_schedules

            params, self.schedules = expand_schedules(params)
        self.dists: dict[str, Distribution] = {}
        self.constants: dict[str, Any] = {}
        self.conditions: dict[str, dict[str, tuple]] = {}
        const_conditions: dict[str, dict[str, tuple]] = {}
        for name, spec in params.items():
            where = f"space.{name}"
            if not isinstance(name, str) or not name:
                raise TypeError(f"SearchSpace: parameter names must be non-empty strings, got {name!r}")
            if isinstance(spec, Distribution):
                dist = spec
            elif isinstance(spec, Mapping):
                kind = str(spec.get("type", "")).lower()
                if kind in ("fixed", "const"):
                    if "value" not in spec:
                        raise ValueError(f"{where}: a fixed parameter needs 'value'")
                    extra = set(spec) - {"type", "value", "when"}
                    if extra:
                        raise ValueError(f"{where}: unknown key(s) {sorted(extra)} for type fixed")
                    self.constants[name] = spec["value"]
                    w = _check_condition(spec.get("when"), where)
                    if w:
                        const_conditions[name] = w
                    continue
                dist = distribution_from_dict(spec, where)
            elif isinstance(spec, _Fixed):
                self.constants[name] = spec.value
                if spec.when:
                    const_conditions[name] = spec.when
                continue
            elif isinstance(spec, (list, tuple)):
                try:
                    dist = Categorical(spec)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{where}: {exc}") from None
            else:
                self.constants[name] = spec
                continue
            self.dists[name] = dist
            if dist.when:
                self.conditions[name] = dict(dist.when)
        for child, cond in (conditions or {}).items():
            norm = _check_condition(cond, f"conditions.{child}")
            if child in self.dists:
                self.conditions[child] = {**self.conditions.get(child, {}), **(norm or {})}
            elif child in self.constants:
                const_conditions[child] = {**const_conditions.get(child, {}), **(norm or {})}
            else:
                raise ValueError(f"conditions.{child}: no parameter named {child!r}; known: {list(self.dists)}")
        self.constant_conditions = const_conditions
        self.names: tuple[str, ...] = tuple(self.dists)
        self._index = {n: i for i, n in enumerate(self.names)}
        self._validate_conditions()
        # Evaluation order for conditions: parents before children (declaration order already is).
        self._cond_list = [
            (self._index[c], [(self._index[p], vals) for p, vals in cond.items()])
            for c, cond in self.conditions.items()
        ]
        self._cond_list.sort()

    def _validate_conditions(self) -> None:
        order = {n: i for i, n in enumerate(self.names)}
        for child, cond in list(self.conditions.items()) + list(self.constant_conditions.items()):
            for parent, vals in cond.items():
                if parent not in self.dists:
                    hint = " (a constant cannot be a parent)" if parent in self.constants else ""
                    raise ValueError(
                        f"space.{child}: condition names parent {parent!r}, which is not a parameter{hint}; "
                        f"known: {list(self.dists)}"
                    )
                if child in order and order[parent] >= order[child]:
                    raise ValueError(
                        f"space.{child}: its parent {parent!r} must be declared before it; reorder the space"
                    )
                dist = self.dists[parent]
                for v in vals:
                    if not dist.contains(v):
                        raise ValueError(
                            f"space.{child}: condition value {v!r} can never be taken by {parent!r} ({dist!r})"
                        )

    # -- basic protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.dists

    def __getitem__(self, name: str) -> Distribution:
        return self.dists[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def is_conditional(self) -> bool:
        return bool(self.conditions)

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        expanded = {sub for name, fam in self.schedules.items() for sub in fam.expand(name)}
        for name, dist in self.dists.items():
            if name in expanded:
                continue
            d = dist.to_dict()
            if name in self.conditions:
                d["when"] = {p: list(v) for p, v in self.conditions[name].items()}
            out[name] = d
        for name, value in self.constants.items():
            d = {"type": "fixed", "value": value}
            if name in self.constant_conditions:
                d["when"] = {p: list(v) for p, v in self.constant_conditions[name].items()}
            out[name] = d
        for name, fam in self.schedules.items():
            out[name] = fam.to_dict()
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        return cls(spec)

    @classmethod
    def from_yaml(cls, text: str) -> SearchSpace:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"search space: not valid YAML: {exc}") from None
        return cls(data)

    def diff(self, other: SearchSpace) -> list[str]:
        """Human-readable differences from ``self`` to ``other``."""
        a, b = self.to_dict(), other.to_dict()
        out = []
        for name in a:
            if name not in b:
                out.append(f"removed {name}: {a[name]}")
            elif a[name] != b[name]:
                out.append(f"changed {name}: {a[name]} -> {b[name]}")
        out.extend(f"added {name}: {b[name]}" for name in b if name not in a)
        return out

    # -- the unit cube ----------------------------------------------------------------------
    def active_mask(self, u: np.ndarray) -> np.ndarray:
        """Which dimensions are active for each row of unit-cube points ``u`` (shape ``(n, dim)``)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        mask = np.ones(u.shape, dtype=bool)
        for child, conds in self._cond_list:
            ok = np.ones(u.shape[0], dtype=bool)
            for p, vals in conds:
                dist = self.dists[self.names[p]]
                allowed = np.array([dist.to_unit(v) for v in vals])
                pu = u[:, p]
                if isinstance(dist, (Categorical,)) or dist.size < math.inf:
                    # Compare cells, not raw floats: any u inside the value's cell counts.
                    n = dist.size
                    cell = np.clip((pu * n).astype(np.int64), 0, int(n) - 1)
                    allowed_cells = np.clip((allowed * n).astype(np.int64), 0, int(n) - 1)
                    hit = np.isin(cell, allowed_cells)
                else:
                    vals_native = np.array(dist.from_unit_array(pu))
                    hit = np.isin(vals_native, np.array(vals, dtype=float))
                ok &= mask[:, p] & hit
            mask[:, child] = ok
        return mask

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Turn one unit-cube point into a configuration (inactive parameters left out)."""
        u = np.asarray(u, dtype=float).ravel()
        if u.shape[0] != self.dim:
            raise ValueError(f"decode: expected a point of dimension {self.dim}, got {u.shape[0]}")
        out: dict[str, Any] = {}
        if self.conditions:
            active = self.active_mask(u[None, :])[0]
            for i, name in enumerate(self.names):
                if active[i]:
                    out[name] = self.dists[name].from_unit(float(u[i]))
        else:
            dists = self.dists
            for name, x in zip(self.names, u.tolist()):  # tolist: the same Python floats as float(u[i])
                out[name] = dists[name].from_unit(x)
        if self.constants:
            self._add_constants(out)
        return out

    def _add_constants(self, params: dict[str, Any]) -> None:
        for name, value in self.constants.items():
            cond = self.constant_conditions.get(name)
            if cond is None or self._holds(cond, params):
                params[name] = value

    def _holds(self, cond: Mapping[str, tuple], params: Mapping[str, Any]) -> bool:
        for parent, vals in cond.items():
            if parent not in params:
                return False
            dist = self.dists[parent]
            v = params[parent]
            if not any(dist.contains(x) and dist.coerce(x) == v for x in vals):
                return False
        return True

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        cond = self.conditions.get(name) or self.constant_conditions.get(name)
        return cond is None or self._holds(cond, params)

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Turn a configuration into a unit-cube point (``nan`` for absent parameters)."""
        out = np.full(self.dim, np.nan)
        for i, name in enumerate(self.names):
            if name in params:
                out[i] = self.dists[name].to_unit(params[name])
        return out

    def validate(self, params: Mapping[str, Any], *, partial: bool = False, where: str = "params") -> dict[str, Any]:
        """Check and coerce a configuration against this space.

        Args:
            params: Values by name.
            partial: Allow missing parameters (for ``enqueue_trial`` and ``fixed=``).
            where: Prefix for error messages.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"{where}: expected a mapping of parameter name to value, got {type(params).__name__}")
        out: dict[str, Any] = {}
        for name, value in params.items():
            if name in self.dists:
                out[name] = self.dists[name].coerce(value, f"{where}[{name!r}]")
            elif name in self.constants:
                if value != self.constants[name]:
                    raise ValueError(f"{where}[{name!r}]={value!r}, but the space fixes it to {self.constants[name]!r}")
                out[name] = value
            else:
                raise ValueError(f"{where}: unknown parameter {name!r}; the space has {list(self.dists)}")
        for name in self.names:
            active = self.is_active(name, out)
            if name in out and not active:
                raise ValueError(
                    f"{where}[{name!r}] is given but inactive under the conditions {self.conditions[name]}"
                )
            if not partial and active and name not in out:
                raise ValueError(f"{where}: missing parameter {name!r}")
        if not partial:
            self._add_constants(out)
        return out

    def grid(self, points: int = 5) -> Iterator[dict[str, Any]]:
        """Every combination of grid values, conditional parameters only where active.

        Continuous floats contribute ``points`` evenly spaced values (log-spaced where
        ``log=True``); ints, stepped floats and categoricals contribute all their values.
        """
        values = {n: self.dists[n].grid(points) for n in self.names}

        def rec(i: int, partial: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(self.names):
                out = dict(partial)
                self._add_constants(out)
                yield out
                return
            name = self.names[i]
            if not self.is_active(name, partial):
                yield from rec(i + 1, partial)
                return
            for v in values[name]:
                partial[name] = v
                yield from rec(i + 1, partial)
            del partial[name]

        return rec(0, {})

    def grid_size(self, points: int = 5) -> int:
        if not self.conditions:
            return int(np.prod([len(self.dists[n].grid(points)) for n in self.names])) if self.names else 1
        return sum(1 for _ in self.grid(points))


def _fixed(value: Any, *, when: Mapping[str, Any] | None = None) -> _Fixed:
    return _Fixed(value, when)


Fixed = _fixed
Fixed.__doc__ = "A constant in a declarative :class:`SearchSpace`, optionally conditional (``when=``)."
