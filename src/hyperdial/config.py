"""Tuning jobs from a YAML file: validation with key paths, and the built-in scikit-learn objective.

The format is documented in ``docs/config.md``. Everything is checked before any trial
runs; an error names the key path and the fix, e.g.
``budget.n_trials: must be a positive integer, got -3``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hyperdial.pruners import PRUNERS
from hyperdial.samplers import SAMPLERS
from hyperdial.space import SearchSpace

__all__ = ["ConfigError", "DATASETS", "SklearnObjective", "TuneConfig", "load_config"]

DEFAULT_STORAGE = "sqlite:///hyperdial.db"
TOP_KEYS = (
    "study",
    "storage",
    "objective",
    "space",
    "direction",
    "directions",
    "sampler",
    "pruner",
    "budget",
    "seed",
    "n_jobs",
)
BUDGET_KEYS = ("n_trials", "timeout", "target", "patience", "max_trials")
OBJECTIVE_KEYS = ("estimator", "params", "data", "cv", "scoring", "preprocess")
DATASETS = {
    "iris": "load_iris",
    "digits": "load_digits",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "make_classification": "make_classification",
    "make_regression": "make_regression",
}


class ConfigError(ValueError):
    """A configuration file that cannot run; the message starts with the key path."""


def _suggest(key: str, valid: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"


def _check_keys(section: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in section:
        if key not in valid:
            raise ConfigError(f"{where}{key}: unknown key{_suggest(str(key), valid)}")


def _positive_int(value: Any, where: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise ConfigError(f"{where}: must be a {'non-negative' if allow_zero else 'positive'} integer, got {value!r}")
    return value


def _number(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and not value > 0):
        raise ConfigError(f"{where}: must be a {'positive ' if positive else ''}number, got {value!r}")
    return float(value)


def _import_dotted(path: str, where: str) -> Any:
    module, _, name = path.rpartition(".")
    if not module:
        raise ConfigError(f"{where}: {path!r} is not a dotted path such as sklearn.svm.SVC")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module!r} ({exc})") from None
    if not hasattr(mod, name):
        raise ConfigError(f"{where}: module {module!r} has no {name!r}")
    return getattr(mod, name)


def load_function(spec: str, base: Path, where: str = "objective") -> Callable[..., Any]:
    """``module:function`` or ``path/to/file.py:function`` (relative to the config file)."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ConfigError(f"{where}: {spec!r} must look like 'module:function' or 'file.py:function'")
    if target.endswith(".py"):
        path = (base / target).resolve()
        if not path.exists():
            raise ConfigError(f"{where}: file {str(path)!r} does not exist")
        mod_name = f"hyperdial_objective_{path.stem}"
        loader = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(loader)  # type: ignore[arg-type]
        sys.modules[mod_name] = module
        loader.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ConfigError(f"{where}: cannot import module {target!r} ({exc})") from None
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise ConfigError(f"{where}: {target!r} has no function {name!r}")
    return fn


def _load_data(spec: Any, base: Path, where: str) -> tuple[np.ndarray, np.ndarray, str]:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: must be a mapping like {{dataset: digits}} or {{csv: data.csv, target: y}}")
    if "dataset" in spec:
        _check_keys({k: v for k, v in spec.items() if k != "options"}, ("dataset",), where + ".")
        name = spec["dataset"]
        if name not in DATASETS:
            raise ConfigError(f"{where}.dataset: unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
        import sklearn.datasets as ds

        loader = getattr(ds, DATASETS[name])
        opts = dict(spec.get("options") or {})
        if name.startswith("make_"):
            opts.setdefault("random_state", 0)
            X, y = loader(**opts)
        else:
            X, y = loader(return_X_y=True, **opts)
        return np.asarray(X), np.asarray(y), name
    if "csv" in spec:
        _check_keys(spec, ("csv", "target", "columns"), where + ".")
        path = (base / str(spec["csv"])).resolve()
        if not path.exists():
            raise ConfigError(f"{where}.csv: file {str(path)!r} does not exist")
        if "target" not in spec:
            raise ConfigError(f"{where}.target: missing; name the column to predict")
        import csv

        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            raise ConfigError(f"{where}.csv: {str(path)!r} is empty")
        header, body = rows[0], rows[1:]
        target = str(spec["target"])
        if target not in header:
            raise ConfigError(f"{where}.target: no column {target!r} in {path.name}; columns: {header}")
        feats = [c for c in header if c != target] if not spec.get("columns") else list(spec["columns"])
        missing = [c for c in feats if c not in header]
        if missing:
            raise ConfigError(f"{where}.columns: no column(s) {missing} in {path.name}; columns: {header}")
        idx = [header.index(c) for c in feats]
        try:
            X = np.array([[float(r[i]) for i in idx] for r in body])
        except ValueError as exc:
            raise ConfigError(f"{where}.csv: feature columns must be numeric ({exc})") from None
        y_raw = [r[header.index(target)] for r in body]
        try:
            y = np.array([float(v) for v in y_raw])
        except ValueError:
            y = np.array(y_raw)
        return X, y, path.name
    raise ConfigError(f"{where}: give either 'dataset' or 'csv'")


def _cv(spec: Any, where: str) -> dict[str, Any]:
    if spec is None:
        return {"folds": 5, "shuffle": True, "repeats": 1, "stratified": "auto"}
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = {"folds": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: must be a number of folds or a mapping {{folds: 5, shuffle: true}}")
    _check_keys(spec, ("folds", "shuffle", "repeats", "stratified"), where + ".")
    folds = _positive_int(spec.get("folds", 5), where + ".folds")
    if folds < 2:
        raise ConfigError(f"{where}.folds: needs at least 2 folds, got {folds}")
    stratified = spec.get("stratified", "auto")
    if stratified not in ("auto", True, False):
        raise ConfigError(f"{where}.stratified: must be auto, true or false, got {stratified!r}")
    return {
        "folds": folds,
        "shuffle": bool(spec.get("shuffle", True)),
        "repeats": _positive_int(spec.get("repeats", 1), where + ".repeats"),
        "stratified": stratified,
    }


@dataclass
class SklearnObjective:
    """Cross-validates a scikit-learn estimator with the trial's parameters (picklable for workers)."""

    estimator: str
    params: dict[str, Any]
    data: dict[str, Any]
    cv: dict[str, Any]
    scoring: str | None
    preprocess: str | None
    base: str
    seed: int
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def _prepare(self) -> tuple[Any, Any, Any, type]:
        if not self._cache:
            X, y, _ = _load_data(self.data, Path(self.base), "objective.data")
            cls = _import_dotted(self.estimator, "objective.estimator")
            from sklearn.base import is_classifier
            from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

            strat = self.cv["stratified"]
            if strat == "auto":
                strat = is_classifier(cls())
            kw = {"n_splits": self.cv["folds"]}
            if self.cv["repeats"] > 1:
                split_cls = RepeatedStratifiedKFold if strat else RepeatedKFold
                splitter = split_cls(n_repeats=self.cv["repeats"], random_state=self.seed, **kw)
            else:
                split_cls = StratifiedKFold if strat else KFold
                shuffle = self.cv["shuffle"]
                splitter = split_cls(shuffle=shuffle, random_state=self.seed if shuffle else None, **kw)
            self._cache.update(X=X, y=y, splitter=splitter, cls=cls)
        c = self._cache
        return c["X"], c["y"], c["splitter"], c["cls"]

    def build(self, params: Mapping[str, Any]) -> Any:
        """The estimator (in a pipeline when ``preprocess`` is set) with fixed and tuned parameters."""
        _, _, _, cls = self._prepare()
        est = cls(**{**self.params, **params})
        if self.preprocess:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import MinMaxScaler, StandardScaler

            scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}[self.preprocess]()
            est = make_pipeline(scaler, est)
        return est

    def __call__(self, trial: Any) -> float:
        from hyperdial.sklearn import cross_validate

        X, y, splitter, _ = self._prepare()
        return cross_validate(trial, self.build(dict(trial.params)), X, y, cv=splitter, scoring=self.scoring)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}  # workers load the data themselves
        return state


@dataclass
class TuneConfig:
    """A validated tuning job."""

    study: str
    storage: str
    objective: Callable[..., Any]
    space: SearchSpace | None
    directions: list[str]
    sampler: Any
    pruner: Any
    budget: dict[str, Any]
    seed: int | None
    n_jobs: int
    resolved: dict[str, Any]  # the normalised config, stored with the study


def _plugin(spec: Any, registry: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    if spec is None:
        return ("auto" if registry is SAMPLERS else "none"), {}
    if isinstance(spec, str):
        name, opts = spec, {}
    elif isinstance(spec, Mapping):
        if "name" not in spec:
            raise ConfigError(f"{where}.name: missing; choose one of {sorted(registry)}")
        name, opts = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    else:
        raise ConfigError(f"{where}: must be a name or a mapping with 'name', got {spec!r}")
    if name not in registry:
        raise ConfigError(f"{where}: unknown {where} {name!r}{_suggest(str(name), sorted(registry))}")
    return name, opts


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> TuneConfig:
    """Read, validate and resolve a tuning job. Raises :class:`ConfigError` naming the key path."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path.name}: the top level must be a mapping of keys such as objective, space, budget")
    raw = dict(raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            if key in BUDGET_KEYS:
                raw.setdefault("budget", {})
                raw["budget"] = {**(raw["budget"] or {}), key: value}
            else:
                raw[key] = value
    _check_keys(raw, TOP_KEYS, "")
    base = path.resolve().parent
    resolved: dict[str, Any] = {}

    study = raw.get("study", path.stem)
    if not isinstance(study, str) or not study:
        raise ConfigError(f"study: must be a non-empty name, got {study!r}")
    storage = raw.get("storage", DEFAULT_STORAGE)
    if not isinstance(storage, str):
        raise ConfigError(f"storage: must be a URL such as {DEFAULT_STORAGE}, got {storage!r}")
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        rel = storage[len("sqlite:///") :]
        storage = f"sqlite:///{rel}"  # relative to the working directory, as users expect

    # -- space
    space = None
    if raw.get("space") is not None:
        if not isinstance(raw["space"], Mapping) or not raw["space"]:
            raise ConfigError("space: must be a non-empty mapping of parameter name to its range")
        try:
            space = SearchSpace(raw["space"])
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc)) from None

    # -- objective
    obj = raw.get("objective")
    seed = raw.get("seed")
    if seed is not None:
        _positive_int(seed, "seed", allow_zero=True)
    inferred_direction = None
    if isinstance(obj, str):
        objective = load_function(obj, base)
        resolved["objective"] = obj
    elif isinstance(obj, Mapping):
        _check_keys(obj, OBJECTIVE_KEYS, "objective.")
        if "estimator" not in obj:
            raise ConfigError("objective.estimator: missing; give a dotted path such as sklearn.svm.SVC")
        if "data" not in obj:
            raise ConfigError("objective.data: missing; e.g. {dataset: digits} or {csv: data.csv, target: label}")
        if space is None:
            raise ConfigError("space: missing; a scikit-learn objective needs the parameters to tune")
        cls = _import_dotted(str(obj["estimator"]), "objective.estimator")
        fixed = dict(obj.get("params") or {})
        valid = cls().get_params()
        for name in list(space.names) + list(space.constants) + list(fixed):
            if name not in valid:
                raise ConfigError(
                    f"space.{name}: {cls.__name__} has no parameter {name!r}{_suggest(name, sorted(valid))}"
                    if name not in fixed
                    else f"objective.params.{name}: {cls.__name__} has no parameter {name!r}"
                    f"{_suggest(name, sorted(valid))}"
                )
        _load_data(obj["data"], base, "objective.data")
        scoring = obj.get("scoring")
        if scoring is not None:
            from sklearn.metrics import get_scorer_names

            if scoring not in get_scorer_names():
                close = difflib.get_close_matches(str(scoring), get_scorer_names(), n=3)
                raise ConfigError(f"objective.scoring: {scoring!r} is not a scikit-learn scorer; did you mean {close}?")
        preprocess = obj.get("preprocess")
        if preprocess not in (None, "standard", "minmax"):
            raise ConfigError(f"objective.preprocess: must be standard or minmax, got {preprocess!r}")
        cv = _cv(obj.get("cv"), "objective.cv")
        objective = SklearnObjective(
            str(obj["estimator"]), fixed, dict(obj["data"]), cv, scoring, preprocess, str(base), int(seed or 0)
        )
        inferred_direction = "maximize"  # scikit-learn scorers are all "greater is better"
        resolved["objective"] = {
            "estimator": str(obj["estimator"]),
            "params": fixed,
            "data": dict(obj["data"]),
            "cv": cv,
            "scoring": scoring,
            "preprocess": preprocess,
        }
    else:
        raise ConfigError(
            "objective: missing; give 'module:function' or a scikit-learn target {estimator: ..., data: ...}"
        )

    # -- directions
    if "direction" in raw and "directions" in raw:
        raise ConfigError("direction: give either direction or directions, not both")
    if "directions" in raw:
        dirs = raw["directions"]
        if not isinstance(dirs, list) or not dirs:
            raise ConfigError("directions: must be a list such as [minimize, maximize]")
    else:
        dirs = [raw.get("direction", inferred_direction or "minimize")]
    for i, d in enumerate(dirs):
        if d not in ("minimize", "maximize"):
            key = f"directions[{i}]" if "directions" in raw else "direction"
            raise ConfigError(f"{key}: must be minimize or maximize, got {d!r}")

    # -- plug-ins
    sname, sopts = _plugin(raw.get("sampler"), SAMPLERS, "sampler")
    pname, popts = _plugin(raw.get("pruner"), PRUNERS, "pruner")
    try:
        from hyperdial.pruners import get_pruner
        from hyperdial.samplers import get_sampler

        get_sampler(sname, **sopts)
        get_pruner(pname, **popts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sampler/pruner options: {exc}") from None

    # -- budget
    budget = raw.get("budget") or {}
    if not isinstance(budget, Mapping):
        raise ConfigError("budget: must be a mapping such as {n_trials: 50, timeout: 600}")
    _check_keys(budget, BUDGET_KEYS, "budget.")
    out_budget: dict[str, Any] = {}
    for key in ("n_trials", "max_trials", "patience"):
        if budget.get(key) is not None:
            out_budget[key] = _positive_int(budget[key], f"budget.{key}")
    if budget.get("timeout") is not None:
        out_budget["timeout"] = _number(budget["timeout"], "budget.timeout", positive=True)
    if budget.get("target") is not None:
        out_budget["target"] = _number(budget["target"], "budget.target")
    if not {"n_trials", "timeout", "max_trials", "target", "patience"} & set(out_budget):
        out_budget["n_trials"] = 20
    n_jobs = raw.get("n_jobs", 1)
    if n_jobs != -1:
        _positive_int(n_jobs, "n_jobs")

    resolved.update(
        {
            "study": study,
            "storage": storage,
            "space": None if space is None else space.to_dict(),
            "directions": list(dirs),
            "sampler": {"name": sname, **sopts},
            "pruner": {"name": pname, **popts},
            "budget": out_budget,
            "seed": seed,
            "n_jobs": n_jobs,
        }
    )
    return TuneConfig(
        study=study,
        storage=storage,
        objective=objective,
        space=space,
        directions=list(dirs),
        sampler=(sname, sopts),
        pruner=(pname, popts),
        budget=out_budget,
        seed=seed,
        n_jobs=n_jobs,
        resolved=resolved,
    )
