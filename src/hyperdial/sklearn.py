"""scikit-learn integration: a search estimator and cross-validation that reports per fold.

``SearchCV`` is a drop-in for ``GridSearchCV`` / ``RandomizedSearchCV``: the same
``fit`` / ``predict`` / ``cv_results_`` surface, with a hyperdial study underneath, so
the search is model-based, resumable from a storage, and can stop hopeless candidates
after a fold or two.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import SVC
    >>> from hyperdial import Float
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SearchCV(SVC(), {"C": Float(1e-2, 1e2, log=True)}, n_trials=8, cv=3, random_state=0)
    >>> search.fit(X, y).best_score_ > 0.9
    True
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable

from hyperdial.pruners import get_pruner
from hyperdial.space import Categorical, Distribution, Float, Int, ScipyDistribution, SearchSpace
from hyperdial.study import create_study
from hyperdial.trial import PARTIAL_VALUE_ATTR, Trial, TrialPruned

__all__ = [
    "SearchCV",
    "ScipyDistribution",
    "check_holdout",
    "cross_validate",
    "learning_curve_data",
    "nested_cross_validate",
    "space_from_sklearn",
    "validation_curve_data",
]


def _to_distribution(name: str, spec: Any) -> Any:
    if isinstance(spec, (Distribution, Mapping)) or spec is None or isinstance(spec, (str, bool, int, float)):
        return spec
    if hasattr(spec, "ppf") and hasattr(spec, "dist"):
        dname, args, kw = spec.dist.name, spec.args, spec.kwds
        if not kw:
            if dname == "uniform" and len(args) == 2:
                return Float(float(args[0]), float(args[0] + args[1]))
            if dname in ("loguniform", "reciprocal") and len(args) == 2:
                return Float(float(args[0]), float(args[1]), log=True)
            if dname == "randint" and len(args) == 2:
                return Int(int(args[0]), int(args[1]) - 1)
        return ScipyDistribution(spec)
    if isinstance(spec, (list, tuple, np.ndarray)):
        values = [v.item() if isinstance(v, np.generic) else v for v in spec]
        try:
            return Categorical(values)
        except TypeError:
            raise TypeError(
                f"space[{name!r}]: candidate values must be str, int, float, bool or None; for estimator "
                "objects, list their names and map them in a Pipeline step choice"
            ) from None
    raise TypeError(
        f"space[{name!r}]: expected a list of values, a scipy.stats distribution or a hyperdial distribution, "
        f"got {type(spec).__name__}"
    )


def space_from_sklearn(space: Any) -> SearchSpace:
    """A :class:`SearchSpace` from scikit-learn's spellings.

    Accepts a dict of lists (``GridSearchCV``), a dict of scipy.stats frozen distributions
    (``RandomizedSearchCV``), hyperdial distributions, a :class:`SearchSpace`, or a dict
    spelling with ``when`` conditions. Names may use ``step__param`` for pipelines.
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, (list, tuple)):
        raise TypeError(
            "space: a list of grids (GridSearchCV's list of dicts) is not supported; merge them into one space "
            "with a categorical switch and `when` conditions"
        )
    if not isinstance(space, Mapping):
        raise TypeError(f"space: expected a mapping of parameter name to values, got {type(space).__name__}")
    if not space:
        raise ValueError("space is empty; give at least one parameter to tune")
    return SearchSpace({name: _to_distribution(name, spec) for name, spec in space.items()})


def _resolve_scoring(scoring: Any, estimator: Any) -> tuple[dict[str, Callable], bool]:
    """Scorers by name, and whether several metrics were asked for."""
    if scoring is None or callable(scoring) or isinstance(scoring, str):
        if isinstance(scoring, str) and scoring not in get_scorer_names():
            close = [s for s in get_scorer_names() if scoring.split("_")[-1] in s][:5]
            raise ValueError(f"scoring={scoring!r} is not a scikit-learn scorer; did you mean one of {close}?")
        return {"score": check_scoring(estimator, scoring=scoring)}, False
    if isinstance(scoring, (list, tuple, set)):
        scoring = {s: s for s in scoring}
    if isinstance(scoring, Mapping):
        out = {}
        for key, sc in scoring.items():
            if isinstance(sc, str) and sc not in get_scorer_names():
                raise ValueError(f"scoring[{key!r}]={sc!r} is not a scikit-learn scorer")
            out[key] = check_scoring(estimator, scoring=sc)
        if not out:
            raise ValueError("scoring is empty")
        return out, True
    raise TypeError(f"scoring must be None, a name, a callable, a list or a dict, got {type(scoring).__name__}")


def _fold_scores(
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    scorers: Mapping[str, Callable],
    fit_params: Mapping[str, Any],
    return_train_score: bool,
) -> dict[str, Any]:
    from sklearn.utils._indexing import _safe_indexing

    X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    y_train = None if y is None else _safe_indexing(y, train)
    y_test = None if y is None else _safe_indexing(y, test)
    t0, c0 = time.perf_counter(), time.thread_time()
    estimator.fit(X_train, y_train, **fit_params)
    fit_time, fit_cpu_time = time.perf_counter() - t0, time.thread_time() - c0
    t0 = time.perf_counter()
    test_scores = {k: float(sc(estimator, X_test, y_test)) for k, sc in scorers.items()}
    score_time = time.perf_counter() - t0
    out = {"test": test_scores, "fit_time": fit_time, "fit_cpu_time": fit_cpu_time, "score_time": score_time}
    if return_train_score:
        out["train"] = {k: float(sc(estimator, X_train, y_train)) for k, sc in scorers.items()}
    return out


def cross_validate(
    trial: Trial,
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    cv: Any = 5,
    scoring: Any = None,
    refit_metric: str | None = None,
    groups: Any = None,
    fit_params: Mapping[str, Any] | None = None,
    return_train_score: bool = False,
    prune: bool = True,
) -> float:
    """Cross-validate inside a define-by-run objective, reporting the running mean after each fold.

    With a pruner on the study, a hopeless configuration stops after a fold or two
    (:class:`~hyperdial.TrialPruned` is raised). Per-fold scores, their mean and spread
    and the fit times are stored as user attributes of the trial.

    Returns:
        The mean test score of ``refit_metric`` (the only metric when there is one).

    Example:
        >>> import hyperdial
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> def objective(trial):
        ...     knn = KNeighborsClassifier(n_neighbors=trial.suggest_int("k", 1, 30))
        ...     return hyperdial.cross_validate(trial, knn, X, y, cv=3)
        >>> study = hyperdial.create_study(direction="maximize", seed=0)
        >>> study.optimize(objective, n_trials=5, show_progress=False)
        >>> study.best_value > 0.9
        True
    """
    scorers, _ = _resolve_scoring(scoring, estimator)
    key = refit_metric or next(iter(scorers))
    if key not in scorers:
        raise ValueError(f"refit_metric={refit_metric!r} is not among the metrics {list(scorers)}")
    X, y, groups = indexable(X, y, groups)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    splits = list(splitter.split(X, y, groups))
    per_fold: dict[str, list[float]] = {k: [] for k in scorers}
    fit_times = []
    for i, (train, test) in enumerate(splits):
        res = _fold_scores(clone(estimator), X, y, train, test, scorers, fit_params or {}, return_train_score)
        for k, v in res["test"].items():
            per_fold[k].append(v)
        fit_times.append(res["fit_time"])
        running = float(np.mean(per_fold[key]))
        if prune and i < len(splits) - 1:
            trial.report(running, i)
            if trial.should_prune():
                trial.set_user_attr("split_test_scores", per_fold)
                trial.set_system_attr(PARTIAL_VALUE_ATTR, "unbiased")
                raise TrialPruned(f"pruned after fold {i + 1} of {len(splits)}")
    trial.set_user_attr("split_test_scores", per_fold)
    trial.set_user_attr("mean_test_scores", {k: float(np.mean(v)) for k, v in per_fold.items()})
    trial.set_user_attr("std_test_scores", {k: float(np.std(v)) for k, v in per_fold.items()})
    trial.set_user_attr("fit_times", fit_times)
    return float(np.mean(per_fold[key]))


def _estimator_has(attr: str) -> Callable[[Any], bool]:
    def check(self: Any) -> bool:
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class SearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyperparameter search with cross-validation, backed by a hyperdial study.

    Args:
        estimator: A scikit-learn estimator (or pipeline; name parameters ``step__param``).
        space: A dict of lists (a grid), of scipy.stats frozen distributions, or of hyperdial
            distributions (conditions allowed), or a :class:`~hyperdial.SearchSpace`.
        sampler: A sampler name or object (``"auto"``: model-based).
        n_trials: Candidates to evaluate (for a finite grid searched with ``sampler="grid"``,
            ``None`` runs the whole grid).
        cv: Folds, a splitter or an iterable of splits, as in scikit-learn.
        scoring: ``None`` (the estimator's ``score``), a scorer name or callable, or a list /
            dict of them for several metrics.
        refit: Refit the best candidate on all the data; with several metrics, the metric
            name to choose the best by, or a callable taking ``cv_results_`` and returning an index.
        n_jobs: Candidates evaluated at once (threads of this process).
        pruner: Stop candidates after a fold when they are hopeless: ``"percentile"`` (a
            candidate goes on only while its running mean is in the top quarter; on five tasks in
            ``benchmarks/sklearn_search.py`` it saved 29.8-41 % of the fit time, best scores within
            a fold's resolution), ``"median"`` (more cautious), or a pruner. A stopped
            candidate keeps the running mean of its folds as its value, marked as an unbiased
            estimate (:data:`hyperdial.trial.PARTIAL_VALUE_ATTR`), so the GP sampler models it
            rather than proposing near it again; its ``cv_results_`` row has nan for the folds
            that did not run.
        storage / study_name: Keep the study; a ``fit`` with the same name resumes it.
        random_state: Seed of the study (an int), for reproducible searches.
        error_score: Score given to a candidate whose fit raises; ``"raise"`` to propagate.
        return_train_score: Also score the training folds.
        verbose: Print one line per candidate when > 0.
        resource: Successive halving over a resource, as in ``HalvingRandomSearchCV``:
            ``"n_samples"`` (each candidate is first cross-validated on small training subsets)
            or an estimator parameter such as ``"n_estimators"``. Candidates climb rungs
            ``min_resources * factor**k`` up to ``max_resources`` and only the best
            ``1/factor`` of each rung go on (asynchronous successive halving).
        min_resources / max_resources: The resource range (defaults: all training samples of a
            fold, or the estimator's current value of the parameter, divided by ``factor**3``).
        factor: The halving factor.

    With ``random_state`` set and ``n_jobs > 1``, candidates are proposed in deterministic
    parallel mode, so the same search gives the same ``cv_results_``.

    Each trial of ``study_`` keeps its folds in the user attribute ``"cv"``: per-fold
    scores, ``fit_time`` (wall seconds, as in ``cv_results_``) and ``fit_cpu_time`` (CPU
    seconds of the fitting thread, which a busy machine inflates far less than wall time;
    it does not count threads the estimator itself starts).
    """

    def __init__(
        self,
        estimator: Any,
        space: Any,
        *,
        sampler: Any = "auto",
        n_trials: int | None = 50,
        cv: Any = 5,
        scoring: Any = None,
        refit: bool | str | Callable = True,
        n_jobs: int | None = None,
        pruner: Any = None,
        storage: Any = None,
        study_name: str | None = None,
        random_state: int | None = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        verbose: int = 0,
        resource: str | None = None,
        min_resources: int | None = None,
        max_resources: int | None = None,
        factor: int = 3,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.sampler = sampler
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.pruner = pruner
        self.storage = storage
        self.study_name = study_name
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.verbose = verbose
        self.resource = resource
        self.min_resources = min_resources
        self.max_resources = max_resources
        self.factor = factor

    # -- validation (all before any fit) -------------------------------------------------------------
    def _validate(self, X: Any, y: Any) -> tuple[SearchSpace, dict[str, Callable], bool, str]:
        space = space_from_sklearn(self.space)
        valid = self.estimator.get_params(deep=True)
        tuned = set(space.names) | set(space.constants)

        def swapped(name: str) -> bool:
            # ``step__param`` where ``step`` itself is searched (a pipeline step chosen per candidate):
            # the estimator's current step cannot tell which parameters the chosen one will have.
            parts = name.split("__")
            return any("__".join(parts[:i]) in tuned for i in range(1, len(parts)))

        unknown = [n for n in [*space.names, *space.constants] if n not in valid and not swapped(n)]
        if unknown:
            raise ValueError(
                f"space: unknown parameter(s) {unknown} for {type(self.estimator).__name__}; valid names include "
                f"{sorted(valid)[:12]}"
            )
        scorers, multi = _resolve_scoring(self.scoring, self.estimator)
        if multi:
            if self.refit is True:
                raise ValueError(
                    f"with several metrics, refit must name the one to choose by (one of {list(scorers)}), "
                    "be a callable, or be False"
                )
            if isinstance(self.refit, str) and self.refit not in scorers:
                raise ValueError(f"refit={self.refit!r} is not among the metrics {list(scorers)}")
            key = self.refit if isinstance(self.refit, str) else next(iter(scorers))
        else:
            key = "score"
        if self.n_trials is not None and (
            isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int) or self.n_trials < 1
        ):
            raise ValueError(f"n_trials must be a positive integer or None, got {self.n_trials!r}")
        if self.n_trials is None and not (isinstance(self.sampler, str) and self.sampler == "grid"):
            raise ValueError("n_trials=None runs a whole grid: use it with sampler='grid'")
        if not (self.error_score == "raise" or isinstance(self.error_score, numbers.Real)):
            raise ValueError(f"error_score must be a number or 'raise', got {self.error_score!r}")
        return space, scorers, multi, key

    # -- fitting -----------------------------------------------------------------------------------
    def fit(
        self, X: Any, y: Any = None, *, groups: Any = None, holdout: tuple[Any, Any] | None = None, **fit_params: Any
    ) -> SearchCV:
        """Search the space with cross-validation, then refit the best candidate (if ``refit``).

        Args:
            holdout: ``(X_test, y_test)`` kept out of tuning: ``fit`` refuses to start if any of
                its rows is also in ``X`` (a leaked test set), and scores the refit model on it
                afterwards (``holdout_score_``), so a win on CV that overfits the folds shows.
        """
        if holdout is not None:
            check_holdout(X, holdout[0])
        space, scorers, multi, key = self._validate(X, y)
        X, y, groups = indexable(X, y, groups)
        splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(splitter.split(X, y, groups))
        self.n_splits_ = len(splits)
        pruner = get_pruner(self.pruner)
        if self.resource and self.pruner is None:
            from hyperdial.pruners import SuccessiveHalvingPruner

            pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=self.factor)
        study = create_study(
            self.study_name,
            self.storage,
            direction="maximize",
            sampler=self.sampler,
            pruner=pruner,
            seed=self.random_state,
            load_if_exists=self.study_name is not None,
            space=space,
        )
        self.multimetric_ = multi
        self.scorer_ = scorers if multi else scorers["score"]
        error_score = self.error_score

        rungs = self._rungs(splits) if self.resource else [None]
        shuffled = np.random.default_rng(self.random_state or 0)

        # Training indices in a fixed random order per fold, so subsets are nested and reproducible.
        orders = [shuffled.permutation(train) for train, _ in splits]

        def evaluate(trial: Trial, est: Any, resource: float | None, report_folds: bool) -> dict[str, Any]:
            per_fold: dict[str, list[float]] = {k: [] for k in scorers}
            train_fold: dict[str, list[float]] = {k: [] for k in scorers}
            fit_times, fit_cpu_times, score_times = [], [], []
            timing = {"fit_time": fit_times, "fit_cpu_time": fit_cpu_times, "score_time": score_times}
            if resource is not None and self.resource != "n_samples":
                est = clone(est).set_params(**{self.resource: int(resource)})
            for i, (train, test) in enumerate(splits):
                if resource is not None and self.resource == "n_samples":
                    train = np.sort(orders[i][: int(resource)])
                try:
                    res = _fold_scores(clone(est), X, y, train, test, scorers, fit_params, self.return_train_score)
                except Exception as exc:
                    if error_score == "raise":
                        raise
                    trial.set_user_attr("error", repr(exc))
                    res = {
                        "test": dict.fromkeys(scorers, float(error_score)),
                        "train": dict.fromkeys(scorers, float(error_score)),
                        "fit_time": 0.0,
                        "fit_cpu_time": 0.0,
                        "score_time": 0.0,
                    }
                for k in scorers:
                    per_fold[k].append(res["test"][k])
                    if self.return_train_score:
                        train_fold[k].append(res["train"][k])
                fit_times.append(res["fit_time"])
                fit_cpu_times.append(res["fit_cpu_time"])
                score_times.append(res["score_time"])
                running = float(np.mean(per_fold[key]))
                if report_folds and i < len(splits) - 1 and np.isfinite(running):
                    trial.report(running, i)
                    if trial.should_prune():
                        trial.set_system_attr(PARTIAL_VALUE_ATTR, "unbiased")  # a mean of folds: GP observes it
                        trial.set_user_attr("cv", {"test": per_fold, **timing})
                        raise TrialPruned
            cv = {"test": per_fold, "train": train_fold, **timing}
            if resource is not None:
                cv["resource"] = resource
            return cv

        def objective(trial: Trial) -> float:
            params = dict(trial.params)
            est = clone(self.estimator).set_params(**params)
            for r in rungs:
                cv = evaluate(trial, est, r, report_folds=r is None)
                mean = float(np.mean(cv["test"][key]))
                trial.set_user_attr("cv", cv)
                if r is not None and r != rungs[-1] and np.isfinite(mean):
                    trial.report(mean, int(r))
                    if trial.should_prune():
                        raise TrialPruned
            if not np.isfinite(mean):
                return float("nan")  # stored as FAILED (invalid value); cv_results_ still lists it
            if self.verbose > 0:
                print(f"[SearchCV] candidate {trial.number}: {key}={mean:.5f} {params}")
            return mean

        done_before = sum(1 for t in study.trials if t.state.is_finished)
        n_trials = self.n_trials
        if n_trials is not None:
            n_trials = max(n_trials - done_before, 0) if self.study_name is not None else n_trials
        n_jobs = self.n_jobs or 1
        study.optimize(
            objective,
            n_trials=n_trials,
            n_jobs=n_jobs,
            deterministic=self.random_state is not None and n_jobs != 1,
            show_progress=False,
        )
        self.study_ = study
        self.cv_results_ = self._cv_results(study, list(scorers), key)
        if self.refit is not False:
            if callable(self.refit):
                self.best_index_ = int(self.refit(self.cv_results_))
            else:
                self.best_index_ = int(np.argmin(self.cv_results_[f"rank_test_{key if multi else 'score'}"]))
            self.best_params_ = self.cv_results_["params"][self.best_index_]
            self.best_score_ = float(self.cv_results_[f"mean_test_{key if multi else 'score'}"][self.best_index_])
            est = clone(self.estimator).set_params(**self.best_params_)
            t0 = time.perf_counter()
            est.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - t0
            self.best_estimator_ = est
            if hasattr(est, "classes_"):
                self.classes_ = est.classes_
            if hasattr(est, "n_features_in_"):
                self.n_features_in_ = est.n_features_in_
            if holdout is not None:
                self.holdout_score_ = self.score(*holdout)
        return self

    def _rungs(self, splits: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
        """Resources of the halving rungs, the last one being the full resource."""
        if self.factor < 2 or not isinstance(self.factor, int):
            raise ValueError(f"factor must be an integer >= 2, got {self.factor!r}")
        if self.resource == "n_samples":
            top = min(len(train) for train, _ in splits)
        else:
            params = self.estimator.get_params()
            if self.resource not in params:
                raise ValueError(
                    f"resource={self.resource!r} is neither 'n_samples' nor a parameter of "
                    f"{type(self.estimator).__name__}"
                )
            top = self.max_resources or params[self.resource]
            if not isinstance(top, numbers.Integral) or top < 1:
                raise ValueError(f"max_resources: give the largest {self.resource} to try (got {top!r})")
        top = min(top, self.max_resources or top)
        low = self.min_resources or max(1, int(top // self.factor**3))
        if low > top:
            raise ValueError(f"min_resources={low} is larger than max_resources={top}")
        out = []
        r = float(low)
        while r < top:
            out.append(r)
            r *= self.factor
        out.append(float(top))
        return out

    def _cv_results(self, study: Any, metrics: Sequence[str], key: str) -> dict[str, Any]:
        trials = [t for t in study.trials if t.state.is_finished and "cv" in t.user_attrs]
        n = len(trials)
        out: dict[str, Any] = {}
        names = sorted({k for t in trials for k in t.params})
        for name in names:
            col = np.ma.masked_all(n, dtype=object)
            for i, t in enumerate(trials):
                if name in t.params:
                    col[i] = t.params[name]
            out[f"param_{name}"] = col
        out["params"] = [dict(t.params) for t in trials]
        times = {"fit_time": [], "score_time": []}
        for t in trials:
            cv = t.user_attrs["cv"]
            for k in times:
                times[k].append(cv[k] + [np.nan] * (self.n_splits_ - len(cv[k])))
        for k, v in times.items():
            arr = np.array(v, dtype=float).reshape(n, self.n_splits_)
            out[f"mean_{k}"] = np.nanmean(arr, axis=1) if n else np.array([])
            out[f"std_{k}"] = np.nanstd(arr, axis=1) if n else np.array([])
        multi = self.multimetric_
        resources = np.array([t.user_attrs["cv"].get("resource", np.nan) for t in trials], dtype=float)
        if self.resource:
            out["n_resources"] = resources.astype(np.int64) if n else resources
        sets = ["test", "train"] if self.return_train_score else ["test"]
        for which in sets:
            for m in metrics:
                label = m if multi else "score"
                arr = np.full((n, self.n_splits_), np.nan)
                for i, t in enumerate(trials):
                    vals = t.user_attrs["cv"].get(which, {}).get(m, [])
                    arr[i, : len(vals)] = vals
                for s in range(self.n_splits_):
                    out[f"split{s}_{which}_{label}"] = arr[:, s]
                mean = arr.mean(axis=1)  # nan for a candidate pruned before its last fold
                out[f"mean_{which}_{label}"] = mean
                out[f"std_{which}_{label}"] = arr.std(axis=1)
                if which == "test":
                    # Rank like scikit-learn: 1 = best; pruned (incomplete) candidates rank last, and
                    # with a halving resource, candidates that reached more resource rank first.
                    score = np.where(np.isnan(mean), -np.inf, mean)
                    order = np.lexsort((-score, -resources)) if self.resource else np.argsort(-score, kind="stable")
                    ranks = np.empty(n, dtype=np.int32)
                    ranks[order] = np.arange(1, n + 1)
                    out[f"rank_test_{label}"] = ranks
        self.trial_numbers_ = np.array([t.number for t in trials])
        return out

    # -- delegation -------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_is_fitted(
            self, "best_estimator_", msg="This SearchCV is not fitted yet (or refit=False); call fit first."
        )

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        self._check_fitted()
        return self.best_estimator_.inverse_transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """The refit estimator's score with the search's scorer (the refit metric if several)."""
        self._check_fitted()
        scorer = self.scorer_[self.refit] if self.multimetric_ and isinstance(self.refit, str) else self.scorer_
        if isinstance(scorer, dict):
            scorer = next(iter(scorer.values()))
        return float(scorer(self.best_estimator_, X, y))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        sub = clone(self.estimator).__sklearn_tags__()
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = sub.classifier_tags
        tags.regressor_tags = sub.regressor_tags
        tags.input_tags.pairwise = sub.input_tags.pairwise
        return tags


def _row_hashes(X: Any) -> set[int]:
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[:, None]
    arr = np.ascontiguousarray(arr)
    return {hash(row.tobytes()) for row in arr}


def check_holdout(X_tune: Any, X_test: Any, *, max_shared: float = 0.1) -> None:
    """Refuse tuning data that contains the held-out test set.

    Raises ``ValueError`` when more than ``max_shared`` of the test rows also appear in the tuning
    data (a leaked or unsplit test set); warns when a few do, since real data sets can hold
    duplicate rows (iris does).

    Example:
        >>> import numpy as np
        >>> check_holdout(np.eye(3), np.ones((2, 3)))  # no overlap: nothing happens
    """
    test = _row_hashes(X_test)
    shared = len(_row_hashes(X_tune) & test)
    if not shared:
        return
    if shared > max_shared * len(test):
        raise ValueError(
            f"{shared} of {len(test)} rows of the held-out test set are also in the data given for tuning; "
            "split the test set off first (sklearn.model_selection.train_test_split) and tune on the rest"
        )
    warnings.warn(f"{shared} held-out rows also appear in the tuning data (duplicate rows?)", stacklevel=3)


def nested_cross_validate(
    search: SearchCV, X: Any, y: Any = None, *, outer_cv: Any = 5, scoring: Any = None
) -> dict[str, Any]:
    """An unbiased estimate of a whole tuning procedure: tune inside each outer fold, score outside.

    Returns:
        ``{"test_score": array, "best_params": list, "mean", "std"}`` over the outer folds.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> from hyperdial import Int
        >>> X, y = load_iris(return_X_y=True)
        >>> s = SearchCV(KNeighborsClassifier(), {"n_neighbors": Int(1, 20)}, n_trials=4, cv=3, random_state=0)
        >>> 0.8 < nested_cross_validate(s, X, y, outer_cv=3)["mean"] <= 1.0
        True
    """
    from sklearn.model_selection import check_cv as _check_cv
    from sklearn.utils._indexing import _safe_indexing

    X, y = indexable(X, y)
    outer = _check_cv(outer_cv, y, classifier=is_classifier(search.estimator))
    scores, params = [], []
    for train, test in outer.split(X, y):
        inner = clone(search)
        if inner.study_name is not None:
            inner.set_params(study_name=None)  # one fresh study per outer fold
        X_tr, X_te = _safe_indexing(X, train), _safe_indexing(X, test)
        y_tr = None if y is None else _safe_indexing(y, train)
        y_te = None if y is None else _safe_indexing(y, test)
        inner.fit(X_tr, y_tr)
        scorer = check_scoring(inner.best_estimator_, scoring=scoring) if scoring is not None else inner.score
        score = scorer(inner.best_estimator_, X_te, y_te) if scoring is not None else scorer(X_te, y_te)
        scores.append(float(score))
        params.append(inner.best_params_)
    arr = np.array(scores)
    return {"test_score": arr, "best_params": params, "mean": float(arr.mean()), "std": float(arr.std())}


def validation_curve_data(study: Any, param: str, metric: str = "score") -> dict[str, Any]:
    """Cross-validation score against one hyperparameter, with its spread, from a finished search.

    Works on the study of :class:`SearchCV` (``search.study_``) or any study whose trials used
    :func:`cross_validate`. Returns sorted ``param_values``, ``mean``, ``std`` and per-trial
    ``numbers`` for plotting.
    """
    rows = []
    for t in study.trials:
        if param not in t.params:
            continue
        cv = t.user_attrs.get("cv", {}).get("test") or t.user_attrs.get("split_test_scores")
        if not cv or metric not in cv:
            continue
        folds = np.asarray(cv[metric], dtype=float)
        rows.append((t.params[param], float(folds.mean()), float(folds.std()), t.number))
    if not rows:
        raise ValueError(f"no trial of study {study.name!r} has cross-validation scores for parameter {param!r}")
    try:
        rows.sort(key=lambda r: r[0])
    except TypeError:
        rows.sort(key=lambda r: repr(r[0]))
    return {
        "param": param,
        "param_values": [r[0] for r in rows],
        "mean": np.array([r[1] for r in rows]),
        "std": np.array([r[2] for r in rows]),
        "numbers": [r[3] for r in rows],
    }


def learning_curve_data(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    train_sizes: Any = (0.1, 0.325, 0.55, 0.775, 1.0),
    cv: Any = 5,
    scoring: Any = None,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """Score against training-set size (train and CV), with spread, for the best estimator of a search.

    Returns ``train_sizes``, ``train_mean``, ``train_std``, ``test_mean``, ``test_std``.
    """
    from sklearn.model_selection import learning_curve

    sizes, train, test = learning_curve(
        estimator, X, y, train_sizes=train_sizes, cv=cv, scoring=scoring, shuffle=True, random_state=random_state
    )
    return {
        "train_sizes": sizes,
        "train_mean": train.mean(axis=1),
        "train_std": train.std(axis=1),
        "test_mean": test.mean(axis=1),
        "test_std": test.std(axis=1),
    }
