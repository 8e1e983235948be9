"""scikit-learn estimators that choose their own regularisation by implicit hypergradients.

``fit`` splits the data three ways (train / validation / guard), follows the hypergradient
of the validation loss in log space (:func:`~hyperdial.gradient.implicit.hyperoptimize`),
keeps the iterate that does best on the guard split (so a penalty that only fits the
validation split's noise is not kept), then refits on all the data with it. With ``cv=None``,
``folds=K`` adds cross-fitted averaging (``hyperoptimize(folds=K)``): K paths, each following
all but one fold of the validation split, and the mean of their penalties.

Example:
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> x, y = load_diabetes(return_X_y=True)
    >>> model = HyperRidge(penalty="per_feature", n_steps=20, random_state=0).fit(scale(x), y)
    >>> model.alpha_.shape, model.score(scale(x), y) > 0.4
    ((10,), True)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from hyperdial.gradient.implicit import SOLVERS, AveragedProblem, BilevelProblem, HyperResult, hyperoptimize
from hyperdial.gradient.problems import KernelRidgeProblem, LogisticProblem, RidgeProblem, penalty_groups

__all__ = ["HyperKernelRidge", "HyperLogisticRegression", "HyperRidge"]

_MIN_SAMPLES = 6


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if random_state is None or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator / RandomState, got {random_state!r}")


def _split(n: int, fractions: tuple[float, float], rng: np.random.Generator, labels: np.ndarray | None = None):
    """Indices for train / validation / guard; stratified by ``labels`` so each class is in the train split."""
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for idx in groups:
        idx = rng.permutation(idx)
        k = idx.size
        n_val = int(round(fractions[0] * k))
        n_guard = int(round(fractions[1] * k))
        if k >= 3:
            n_val, n_guard = max(n_val, 1), max(n_guard, 1) if fractions[1] > 0 else 0
        n_val = min(n_val, max(k - 1 - n_guard, 0))
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val : n_val + n_guard])
        parts[0].append(idx[n_val + n_guard :])
    out = tuple(np.sort(np.concatenate(p)).astype(int) for p in parts)
    if out[1].size == 0:
        raise ValueError(
            f"validation_fraction leaves no validation sample out of {n}; raise validation_fraction or add data"
        )
    return out


def _guard_split(n: int, fraction: float, rng: np.random.Generator, labels: np.ndarray | None):
    if fraction == 0:
        return np.arange(n), np.arange(0)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    pool, guard = [], []
    for idx in groups:
        idx = rng.permutation(idx)
        k = min(max(int(round(fraction * idx.size)), 1 if idx.size >= 4 else 0), idx.size - 2)
        k = max(k, 0)
        guard.append(idx[:k])
        pool.append(idx[k:])
    return np.sort(np.concatenate(pool)).astype(int), np.sort(np.concatenate(guard)).astype(int)


def _folds(pool: np.ndarray, k: int, rng: np.random.Generator, labels: np.ndarray | None):
    """``k`` (train, validation) index pairs over ``pool``; stratified when every class has ``k`` members."""
    from sklearn.model_selection import KFold, StratifiedKFold

    seed = int(rng.integers(2**31))
    if labels is not None and np.min(np.unique(labels, return_counts=True)[1]) >= k:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(pool, labels)
    else:
        splits = KFold(k, shuffle=True, random_state=seed).split(pool)
    return [(pool[a], pool[b]) for a, b in splits]


class _HyperBase(BaseEstimator):
    """Shared fit logic; subclasses build the problem and store the learned model."""

    _CONSTRAINTS: dict[str, Any] = {
        "n_steps": ("int", 1),
        "lr": ("real", 0.0),
        "validation_fraction": ("fraction", None),
        "guard_fraction": ("fraction0", None),
    }

    def _check_params(self) -> None:
        name = type(self).__name__
        for key, (kind, low) in self._CONSTRAINTS.items():
            value = getattr(self, key)
            bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
            if kind == "int":
                bad = bad or not isinstance(value, numbers.Integral) or value < low
                fix = f"an integer >= {low}"
            elif kind == "real":
                bad = bad or not value > low
                fix = f"a number > {low}"
            elif kind == "fraction":
                bad = bad or not 0 < value < 1
                fix = "a fraction in (0, 1)"
            else:
                bad = bad or not 0 <= value < 1
                fix = "a fraction in [0, 1)"
            if bad:
                raise ValueError(f"{name}({key}={value!r}): {key} must be {fix}")
        if not self.validation_fraction + self.guard_fraction < 0.9:
            raise ValueError(
                f"{name}: validation_fraction + guard_fraction = {self.validation_fraction + self.guard_fraction} "
                "leaves too little for training; keep the sum below 0.9"
            )
        if self.cv is not None and (
            isinstance(self.cv, bool) or not isinstance(self.cv, numbers.Integral) or self.cv < 2
        ):
            raise ValueError(f"{name}(cv={self.cv!r}): cv must be None (one validation split) or an integer >= 2")
        if not self.refit and self.cv is not None:
            raise ValueError(f"{name}(refit=False, cv={self.cv!r}): keeping a split's fit needs cv=None")
        if self.folds is not None:
            if isinstance(self.folds, bool) or not isinstance(self.folds, numbers.Integral) or self.folds < 2:
                raise ValueError(f"{name}(folds={self.folds!r}): folds must be None or an integer >= 2")
            if self.cv is not None:
                raise ValueError(
                    f"{name}(folds={self.folds!r}, cv={self.cv!r}): folds divides the one validation split of cv=None; "
                    "set cv=None to use it (cv already averages several splits)"
                )
            if self.n_steps < self.folds + 1:
                raise ValueError(
                    f"{name}(n_steps={self.n_steps!r}, folds={self.folds!r}): n_steps is shared by the folds' paths "
                    f"and one solve at their mean; it must be >= folds + 1 = {self.folds + 1}"
                )
        if self.solver not in SOLVERS:
            raise ValueError(f"{name}(solver={self.solver!r}): solver must be one of {SOLVERS}")
        if self.patience is not None and (
            isinstance(self.patience, bool) or not isinstance(self.patience, numbers.Integral) or self.patience < 1
        ):
            raise ValueError(f"{name}(patience={self.patience!r}): patience must be None or an integer >= 1")

    def _tune(
        self,
        make: Any,
        x: np.ndarray,
        y: np.ndarray,
        init: Any,
        rng: np.random.Generator,
        labels: np.ndarray | None = None,
    ) -> tuple[HyperResult, BilevelProblem]:
        n = x.shape[0]
        if n < _MIN_SAMPLES:
            raise ValueError(
                f"{type(self).__name__}.fit got {n} sample(s); at least {_MIN_SAMPLES} are needed to hold out "
                "validation and guard splits"
            )
        if self.cv is None:
            tr, va, gu = _split(n, (self.validation_fraction, self.guard_fraction), rng, labels)
            problem = make(x[tr], y[tr], x[va], y[va])
        else:
            pool, gu = _guard_split(n, self.guard_fraction, rng, labels)
            folds = _folds(pool, self.cv, rng, None if labels is None else labels[pool])
            problem = AveragedProblem([make(x[a], y[a], x[b], y[b]) for a, b in folds])
        if callable(init):
            init = init(problem)
        guard = None
        if gu.size:
            xg, yg = x[gu], y[gu]

            def guard(w: np.ndarray, lam: np.ndarray) -> float:
                return problem.loss(w, lam, xg, yg)

        result = hyperoptimize(
            problem,
            init,
            n_steps=self.n_steps,
            lr=self.lr,
            solver=self.solver,
            guard=guard,
            patience=self.patience,
            folds=self.folds,
            seed=int(rng.integers(2**31)) if self.folds is not None else 0,
        )
        return result, problem


def _penalty_init(problem: BilevelProblem, grid: np.ndarray) -> np.ndarray:
    """The best shared log-penalty of a small grid: a starting point that is never far off."""
    best, best_v = grid[0], np.inf
    for g in grid:
        lam = np.full(problem.n_hyper, g)
        v = problem.validation(problem.solve(lam), lam)[0]
        if v < best_v:
            best, best_v = g, v
    return np.full(problem.n_hyper, best)


class HyperRidge(RegressorMixin, _HyperBase):
    """Ridge regression whose penalties (shared, per feature or per group) are tuned by implicit hypergradients.

    The objective is ``‖Xw + b - y‖² / (2n) + ½ Σ_j a_j w_j²`` (note the ``1/n``: ``a`` is a
    per-sample penalty, scikit-learn's ``Ridge(alpha)`` corresponds to ``a = alpha / n``).

    Args:
        penalty: ``"shared"`` (the default), ``"per_feature"`` or an integer array with each
            feature's group. Per-feature penalties pay off when many features are noise; with
            few samples per penalty they can fit the validation folds' noise instead (on breast
            cancer, 30 penalties from ~340 samples lose to one shared penalty on test).
        fit_intercept: Fit an unpenalised intercept.
        n_steps: Hypergradient steps (one inner solve each).
        lr: Adam step size on ``log a``.
        solver: ``"exact"``, ``"cg"`` or ``"neumann"`` for the Hessian solve.
        cv: Follow the validation loss averaged over this many folds (of the data left after
            the guard split); ``None``: one validation split of ``validation_fraction``. Each
            step then costs ``cv`` inner solves, but the penalties fit ``cv`` splits, not the
            noise of one (with one split, per-feature penalties often over-fit it).
        validation_fraction: Share of the data whose loss the hypergradient follows (``cv=None``).
        guard_fraction: Share held out to choose the kept iterate (``0``: keep the best on
            validation).
        patience: Stop after this many steps without a guard improvement (``None``: never).
        folds: With ``cv=None``, ``K >= 2`` divides the validation split into ``K`` folds, runs
            one path per fold on the other folds (``(n_steps - 1) // K`` steps each) and keeps
            the mean of their log-penalties (cross-fitted averaging, see
            :func:`~hyperdial.gradient.implicit.hyperoptimize`); ``None``: one path.
        refit: Refit on all the data with the chosen penalties (``False``, with ``cv=None``: keep the
            train-split fit).
        random_state: Seed of the splits.

    Attributes:
        coef_, intercept_: The fitted linear model.
        alpha_: The chosen penalty per feature.
        hyper_result_: The :class:`~hyperdial.gradient.implicit.HyperResult` (path, guard losses).

    Example:
        >>> from sklearn.datasets import make_regression
        >>> x, y = make_regression(n_samples=120, n_features=8, n_informative=2, noise=5.0, random_state=0)
        >>> model = HyperRidge(penalty="per_feature", n_steps=15, random_state=0).fit(x, y)
        >>> model.coef_.shape, model.score(x, y) > 0.9
        ((8,), True)
    """

    def __init__(
        self,
        *,
        penalty: Any = "shared",
        fit_intercept: bool = True,
        n_steps: int = 50,
        lr: float = 0.3,
        solver: str = "exact",
        cv: int | None = 3,
        validation_fraction: float = 0.25,
        guard_fraction: float = 0.2,
        patience: int | None = None,
        folds: int | None = None,
        refit: bool = True,
        random_state: Any = None,
    ) -> None:
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.n_steps = n_steps
        self.lr = lr
        self.solver = solver
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.guard_fraction = guard_fraction
        self.patience = patience
        self.folds = folds
        self.refit = refit
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> HyperRidge:
        """Tune the penalties on held-out splits, then fit."""
        self._check_params()
        x, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        rng = _rng(self.random_state)

        def make(a, b, c, d):
            return RidgeProblem(a, b, c, d, penalty=self.penalty, fit_intercept=self.fit_intercept)

        scale = np.log(np.mean(x * x) + 1e-12)

        def init(problem):
            return _penalty_init(problem, scale + np.linspace(-9.0, 3.0, 5))

        result, _ = self._tune(make, x, y, init, rng)
        self.hyper_result_ = result
        self.alpha_ = np.exp(result.log_hyper)[penalty_groups(self.penalty, x.shape[1])]
        w = make(x, y, x[:1], y[:1]).solve(result.log_hyper) if self.refit else result.w
        p = x.shape[1]
        self.coef_ = w[:p]
        self.intercept_ = float(w[p]) if self.fit_intercept else 0.0
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return x @ self.coef_ + self.intercept_


class HyperLogisticRegression(ClassifierMixin, _HyperBase):
    """L2 logistic regression whose penalties are tuned by implicit hypergradients (one-vs-rest for >2 classes).

    The objective is the mean log loss plus ``½ Σ_j a_j w_j²``; each binary problem (one per
    class for more than two) tunes its own penalties on the validation log loss.

    Args:
        penalty, fit_intercept, n_steps, lr, solver, cv, validation_fraction, guard_fraction,
        patience, folds, refit, random_state: As for :class:`HyperRidge` (splits are stratified).

    Attributes:
        classes_: The class labels.
        coef_: ``(1, n_features)`` for two classes, ``(n_classes, n_features)`` otherwise.
        intercept_: One per row of ``coef_``.
        alpha_: The chosen penalties, one row per binary problem.
        hyper_results_: One :class:`~hyperdial.gradient.implicit.HyperResult` per binary problem.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import scale
        >>> x, y = load_breast_cancer(return_X_y=True)
        >>> clf = HyperLogisticRegression(penalty="shared", n_steps=10, random_state=0).fit(scale(x), y)
        >>> clf.score(scale(x), y) > 0.95
        True
    """

    def __init__(
        self,
        *,
        penalty: Any = "shared",
        fit_intercept: bool = True,
        n_steps: int = 30,
        lr: float = 0.3,
        solver: str = "exact",
        cv: int | None = 3,
        validation_fraction: float = 0.25,
        guard_fraction: float = 0.2,
        patience: int | None = None,
        folds: int | None = None,
        refit: bool = True,
        random_state: Any = None,
    ) -> None:
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.n_steps = n_steps
        self.lr = lr
        self.solver = solver
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.guard_fraction = guard_fraction
        self.patience = patience
        self.folds = folds
        self.refit = refit
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> HyperLogisticRegression:
        """Tune the penalties on held-out stratified splits, then fit."""
        self._check_params()
        x, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        codes = enc.transform(y)
        if self.classes_.size < 2:
            raise ValueError(
                f"HyperLogisticRegression needs samples of at least 2 classes; got 1 class {self.classes_}"
            )
        rng = _rng(self.random_state)
        targets = [codes == 1] if self.classes_.size == 2 else [codes == k for k in range(self.classes_.size)]

        def make(a, b, c, d):
            return LogisticProblem(a, b, c, d, penalty=self.penalty, fit_intercept=self.fit_intercept)

        grid = np.log(1.0 / max(x.shape[0], 1)) + np.linspace(-3.0, 7.0, 5)
        coefs, intercepts, alphas, results = [], [], [], []
        p = x.shape[1]
        for target in targets:
            t = target.astype(float)
            result, _ = self._tune(
                make, x, t, lambda pr: _penalty_init(pr, grid), np.random.default_rng(rng.integers(2**63)), codes
            )
            w = make(x, t, x[:1], t[:1]).solve(result.log_hyper) if self.refit else result.w
            coefs.append(w[:p])
            intercepts.append(float(w[p]) if self.fit_intercept else 0.0)
            alphas.append(np.exp(result.log_hyper)[penalty_groups(self.penalty, p)])
            results.append(result)
        self.coef_ = np.array(coefs)
        self.intercept_ = np.array(intercepts)
        self.alpha_ = np.array(alphas)
        self.hyper_results_ = results
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        z = x @ self.coef_.T + self.intercept_
        return z[:, 0] if self.classes_.size == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        from scipy.special import expit

        z = self.decision_function(X)
        if self.classes_.size == 2:
            s = expit(z)
            return np.column_stack([1 - s, s])
        s = expit(z)
        return s / s.sum(axis=1, keepdims=True)  # one-vs-rest, normalised as scikit-learn does

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        z = self.decision_function(X)
        idx = (z > 0).astype(int) if self.classes_.size == 2 else np.argmax(z, axis=1)
        return self.classes_[idx]


class HyperKernelRidge(RegressorMixin, _HyperBase):
    """RBF kernel ridge regression with per-feature lengthscales and a penalty tuned by implicit hypergradients.

    Args:
        lengthscale: ``"per_feature"`` (automatic relevance determination) or ``"shared"``.
        n_steps, lr, solver, cv, validation_fraction, guard_fraction, patience, folds, refit,
        random_state: As for :class:`HyperRidge`.

    Attributes:
        lengthscales_: One per feature.
        alpha_: The penalty ``μ`` (on ``K + μI``).
        dual_coef_, X_fit_: The fitted model (predictions are ``K(X, X_fit_) dual_coef_ + y_mean_``).
        hyper_result_: The :class:`~hyperdial.gradient.implicit.HyperResult`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(120, 3)); y = np.sin(2 * x[:, 0])       # features 1, 2 are noise
        >>> m = HyperKernelRidge(n_steps=30, random_state=0).fit(x, y)
        >>> bool(m.lengthscales_[0] < m.lengthscales_[1:].min())
        True
    """

    def __init__(
        self,
        *,
        lengthscale: str = "per_feature",
        n_steps: int = 40,
        lr: float = 0.2,
        solver: str = "exact",
        cv: int | None = 3,
        validation_fraction: float = 0.25,
        guard_fraction: float = 0.2,
        patience: int | None = None,
        folds: int | None = None,
        refit: bool = True,
        random_state: Any = None,
    ) -> None:
        self.lengthscale = lengthscale
        self.n_steps = n_steps
        self.lr = lr
        self.solver = solver
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.guard_fraction = guard_fraction
        self.patience = patience
        self.folds = folds
        self.refit = refit
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> HyperKernelRidge:
        """Tune lengthscales and penalty on held-out splits, then fit."""
        self._check_params()
        if self.lengthscale not in ("per_feature", "shared"):
            raise ValueError(
                f"HyperKernelRidge(lengthscale={self.lengthscale!r}): lengthscale must be 'per_feature' or 'shared'"
            )
        x, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        y = y.astype(float)
        rng = _rng(self.random_state)

        def make(a, b, c, d):
            return KernelRidgeProblem(a, b, c, d, lengthscale=self.lengthscale)

        spread = np.std(x, axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        p = x.shape[1]
        per = self.lengthscale == "per_feature"
        log_ell = np.log(spread * np.sqrt(p)) if per else np.array([np.log(np.sqrt(p) * float(np.mean(spread)))])
        init = np.concatenate([log_ell, [np.log(0.1)]])
        result, problem = self._tune(make, x, y, init, rng)
        final = make(x, y, x[:1], y[:1]) if self.refit else problem
        self.hyper_result_ = result
        self.lengthscales_ = final._ell(result.log_hyper)
        self.alpha_ = float(np.exp(result.log_hyper[-1]))
        self.dual_coef_ = final.solve(result.log_hyper) if self.refit else result.w
        self.X_fit_ = final.x
        self.y_mean_ = final.y_mean
        self._problem = final
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return self._problem.predict(self.dual_coef_, self.hyper_result_.log_hyper, x)
