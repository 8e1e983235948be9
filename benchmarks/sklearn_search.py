"""hyperdial's SearchCV against scikit-learn's RandomizedSearchCV and GridSearchCV, side by side.

Five tuning tasks on datasets shipped with scikit-learn; each seed splits off a 25 %
held-out test set first (stratified for classification), tunes on the rest with 5-fold CV, and
reports the best mean CV score and the refitted model's test score:

* ``svm_digits``: RBF SVC on 1,000 digits, C and gamma on log scales;
* ``gb_cancer``: gradient boosting on breast cancer, learning rate, trees, depth, subsample;
* ``pipe_wine``: scaler choice + PCA size + logistic-regression C in one pipeline (20 random
  candidates already reach this space's grid optimum: a ceiling, it cannot separate methods);
* ``pipe_digits``: a pipeline with preprocessing and model choices on all 1,797 digits: scaler
  (standard / min-max / none), optional PCA with 5-40 components, and a classifier choice with
  conditional hyperparameters (RBF SVC: C, gamma; logistic regression: C; k-NN: k, weights).
  RandomizedSearchCV gets the same prior as a list of six dicts (PCA on/off x classifier);
* ``svr_diabetes``: standard scaler + RBF SVR on diabetes (442 rows), C, gamma and epsilon on
  log scales, scored by R^2 (continuous: not limited by one fold's resolution); no grid.

Comparisons (same seed, same splits, same data):

* ``random``: SearchCV (sampler="auto") vs RandomizedSearchCV, both ``--budget`` candidates;
* ``grid``: the same finite grid: GridSearchCV runs every cell, SearchCV at most a third
  of them (categorical lists, model-based);
* ``prune``: SearchCV with and without fold-level median pruning (5 or 1 start-up trials), run
  back to back per seed (a replay of pruning rules on the unpruned searches is printed too):
  total fit cost as CPU seconds of the fitting thread (BLAS at one thread, so load barely
  moves it) and as wall seconds, with paired differences of best CV and test score.

Usage:
    python benchmarks/sklearn_search.py [--seeds 10] [--budget 20] [--tasks svm_digits gb_cancer pipe_wine pipe_digits]
        [--methods searchcv searchcv_pruned searchcv_pruned1 randomized grid searchcv_grid]

Each (task, method, seed) result is cached as JSON under ``benchmarks/results/sklearn/``;
rerunning resumes. The Markdown summary is printed at the end (mean +- standard error).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (threads capped before numpy loads)
import scipy.stats as st  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "sklearn"


def task(name: str) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC

    from hyperdial import Categorical, Float, Int

    if name == "svm_digits":
        X, y = load_digits(return_X_y=True)
        X, y = X[:1000], y[:1000]
        return {
            "X": X,
            "y": y,
            "estimator": SVC(),
            "space": {"C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-5, 1e-1, log=True)},
            "dists": {"C": st.loguniform(1e-2, 1e3), "gamma": st.loguniform(1e-5, 1e-1)},
            "grid": {"C": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0], "gamma": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]},
        }
    if name == "gb_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return {
            "X": X,
            "y": y,
            "estimator": GradientBoostingClassifier(random_state=0),
            "space": {
                "learning_rate": Float(0.01, 1.0, log=True),
                "n_estimators": Int(10, 150, log=True),
                "max_depth": Int(1, 5),
                "subsample": Float(0.5, 1.0),
            },
            "dists": {
                "learning_rate": st.loguniform(0.01, 1.0),
                "n_estimators": st.randint(10, 151),
                "max_depth": st.randint(1, 6),
                "subsample": st.uniform(0.5, 0.5),
            },
            "grid": {
                "learning_rate": [0.01, 0.1, 1.0],
                "n_estimators": [10, 50, 150],
                "max_depth": [1, 3, 5],
                "subsample": [0.5, 1.0],
            },
        }
    if name == "pipe_wine":
        X, y = load_wine(return_X_y=True)
        pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA()), ("clf", LogisticRegression(max_iter=5000))])
        return {
            "X": X,
            "y": y,
            "estimator": pipe,
            "space": {
                "scale": ["standard", "minmax", "passthrough"],
                "pca__n_components": Int(2, 13),
                "clf__C": Float(1e-4, 1e2, log=True),
            },
            "dists": {
                "scale": ["standard", "minmax", "passthrough"],
                "pca__n_components": st.randint(2, 14),
                "clf__C": st.loguniform(1e-4, 1e2),
            },
            "grid": {
                "scale": ["standard", "minmax", "passthrough"],
                "pca__n_components": [2, 5, 9, 13],
                "clf__C": [1e-4, 1e-2, 1.0, 100.0],
            },
            "objects": {
                "scale": {"standard": StandardScaler(), "minmax": MinMaxScaler(), "passthrough": "passthrough"}
            },
        }
    if name == "pipe_digits":
        # Defined (space, priors, budget) before any result was looked at: preprocessing choices
        # and a classifier choice with conditional hyperparameters, wide enough that 20 random
        # candidates do not saturate it. Both searches draw from the same prior: the classifier and
        # the PCA switch uniformly, then that branch's parameters.
        X, y = load_digits(return_X_y=True)
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                ("pca", "passthrough"),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        )
        svc, knn = {"clf": "svc"}, {"clf": "knn"}
        space = {
            "scale": ["standard", "minmax", "passthrough"],
            "pca": ["none", "pca"],
            "pca__n_components": Int(5, 40, when={"pca": "pca"}),
            "clf": ["svc", "logreg", "knn"],
            "clf__C": Float(1e-3, 1e3, log=True, when={"clf": ["svc", "logreg"]}),
            "clf__gamma": Float(1e-5, 1.0, log=True, when=svc),
            "clf__n_neighbors": Int(1, 50, when=knn),
            "clf__weights": Categorical(["uniform", "distance"], when=knn),
        }
        branches = {
            "svc": {"clf__C": st.loguniform(1e-3, 1e3), "clf__gamma": st.loguniform(1e-5, 1.0)},
            "logreg": {"clf__C": st.loguniform(1e-3, 1e3)},
            "knn": {"clf__n_neighbors": st.randint(1, 51), "clf__weights": ["uniform", "distance"]},
        }
        pcas = {"none": {}, "pca": {"pca__n_components": st.randint(5, 41)}}
        dists = [
            {"scale": ["standard", "minmax", "passthrough"], "pca": [p], **pp, "clf": [c], **cp}
            for p, pp in pcas.items()
            for c, cp in branches.items()
        ]
        return {
            "X": X,
            "y": y,
            "estimator": pipe,
            "space": space,
            "dists": dists,
            "objects": {
                "scale": {"standard": StandardScaler(), "minmax": MinMaxScaler(), "passthrough": "passthrough"},
                "pca": {"none": "passthrough", "pca": PCA()},
                "clf": {
                    "svc": SVC(),
                    "logreg": LogisticRegression(max_iter=1000),
                    "knn": KNeighborsClassifier(),
                },
            },
        }
    if name == "svr_diabetes":
        # Added in stop 14 with space, priors and budget fixed before any result was looked at: a
        # regression task (R^2, continuous, so not limited by a fold's resolution) with three
        # log-scale parameters, where random search's 20 draws leave the best region thinly covered.
        from sklearn.datasets import load_diabetes
        from sklearn.svm import SVR

        X, y = load_diabetes(return_X_y=True)
        return {
            "X": X,
            "y": y,
            "regression": True,
            "estimator": Pipeline([("scale", StandardScaler()), ("svr", SVR())]),
            "space": {
                "svr__C": Float(1e-1, 1e4, log=True),
                "svr__gamma": Float(1e-4, 1.0, log=True),
                "svr__epsilon": Float(1e-2, 1e2, log=True),
            },
            "dists": {
                "svr__C": st.loguniform(1e-1, 1e4),
                "svr__gamma": st.loguniform(1e-4, 1.0),
                "svr__epsilon": st.loguniform(1e-2, 1e2),
            },
        }
    raise SystemExit(f"unknown task {name!r}")


def _resolve(params: dict[str, Any], objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from sklearn.base import clone

    def obj(k: str, v: Any) -> Any:
        o = objects[k][v]
        return o if isinstance(o, str) else clone(o)

    return {k: obj(k, v) if k in objects else v for k, v in params.items()}


def run_one(task_name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold, train_test_split

    import hyperdial
    from hyperdial.sklearn import SearchCV

    t = task(task_name)
    if t.get("regression"):
        X_tr, X_te, y_tr, y_te = train_test_split(t["X"], t["y"], test_size=0.25, random_state=seed)
        cv = KFold(5, shuffle=True, random_state=seed)
    else:
        X_tr, X_te, y_tr, y_te = train_test_split(t["X"], t["y"], test_size=0.25, stratify=t["y"], random_state=seed)
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    objects = t.get("objects", {})
    est = t["estimator"]

    if objects:
        # scikit-learn searches take the step objects directly; SearchCV takes their names.
        def objs(d: dict[str, Any]) -> dict[str, Any]:
            return {k: [objects[k][v] for v in vals] if k in objects else vals for k, vals in d.items()}

        ds = t["dists"]
        dists = [objs(d) for d in ds] if isinstance(ds, list) else objs(ds)
        grid = objs(t["grid"]) if "grid" in t else None
    else:
        dists, grid = t["dists"], t.get("grid")

    def searchcv(n_trials: int | None, space: Any, sampler: Any = "auto", pruner: Any = None) -> Any:
        inner = est
        if objects:
            from sklearn.pipeline import Pipeline

            class NamedPipeline(Pipeline):
                def set_params(self, **params: Any) -> Any:
                    return super().set_params(**_resolve(params, objects))

            inner = NamedPipeline(clone(est).steps)
        return SearchCV(inner, space, sampler=sampler, n_trials=n_trials, cv=cv, pruner=pruner, random_state=seed)

    t0 = time.perf_counter()
    if method == "searchcv":
        search = searchcv(budget, t["space"])
    elif method == "searchcv_pruned":
        search = searchcv(budget, t["space"], pruner=hyperdial.MedianPruner(n_startup_trials=5))
    elif method == "searchcv_pruned1":
        search = searchcv(budget, t["space"], pruner=hyperdial.MedianPruner(n_startup_trials=1))
    elif method == "searchcv_pruned3":
        search = searchcv(budget, t["space"], pruner=hyperdial.MedianPruner(n_startup_trials=3))
    elif method == "searchcv_p25":
        search = searchcv(budget, t["space"], pruner=hyperdial.PercentilePruner(25.0, n_startup_trials=5))
    elif method == "randomized":
        search = RandomizedSearchCV(est, dists, n_iter=budget, cv=cv, random_state=seed)
    elif method == "grid":
        search = GridSearchCV(est, grid, cv=cv)
    elif method == "searchcv_grid":
        n_cells = math.prod(len(v) for v in t["grid"].values())
        search = searchcv(max(1, n_cells // 3), {k: list(v) for k, v in t["grid"].items()})
    else:
        raise SystemExit(f"unknown method {method!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # logistic regression at large C
        search.fit(X_tr, y_tr)
    wall = time.perf_counter() - t0
    res = search.cv_results_
    ran = ~np.isnan(np.column_stack([res[f"split{i}_test_score"] for i in range(5)]))  # pruned folds did not run
    n_fits = int(ran.sum())
    fit_time = float(np.nansum(res["mean_fit_time"] * ran.sum(axis=1)))
    # CPU seconds of the fitting thread, summed over every fold that ran (SearchCV records them;
    # BLAS is single-threaded here, so this is the whole fit cost and load barely moves it).
    study = getattr(search, "study_", None)
    fit_cpu = (
        float(sum(sum(t.user_attrs["cv"]["fit_cpu_time"]) for t in study.trials if "cv" in t.user_attrs))
        if study is not None
        else None
    )
    return {
        "task": task_name,
        "method": method,
        "seed": seed,
        "budget": budget,
        "best_cv": float(search.best_score_),
        "test": float(search.score(X_te, y_te)),
        "candidates": len(res["params"]),
        "fits": n_fits,
        "fit_time_s": fit_time,
        "fit_cpu_s": fit_cpu,
        "wall_s": wall,
        "fold_resolution": 1.0 / (len(y_tr) // 5),
        # Per candidate, in trial order: fold scores and fit CPU seconds of the folds that ran
        # (lets pruning rules be replayed on an unpruned search without refitting anything).
        "trials": None
        if study is None
        else [
            {
                "state": t.state.name,
                "scores": t.user_attrs["cv"]["test"]["score"],
                "fit_cpu": t.user_attrs["cv"]["fit_cpu_time"],
            }
            for t in study.trials
            if "cv" in t.user_attrs
        ],
    }


def cached(task_name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    path = CACHE / f"{task_name}-{method}-b{budget}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    res = run_one(task_name, method, seed, budget)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res))
    print(json.dumps(res), file=sys.stderr, flush=True)
    return res


def _mse(values: list[float]) -> str:
    a = np.array(values)
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else float("nan")
    return f"{a.mean():.4f} ± {se:.4f}"


def summary(rows: list[dict[str, Any]], tasks: list[str], budget: int) -> str:
    out = [
        f"### SearchCV vs RandomizedSearchCV ({budget} candidates each, 5-fold CV, mean ± s.e. over seeds)",
        "",
        "| task | seeds | SearchCV best CV | Randomized best CV | paired diff | SearchCV test | Randomized test |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    get = {(r["task"], r["method"], r["seed"]): r for r in rows}
    for tk in tasks:
        seeds = sorted(
            {r["seed"] for r in rows if r["task"] == tk and r["method"] == "searchcv"}
            & {r["seed"] for r in rows if r["task"] == tk and r["method"] == "randomized"}
        )
        if not seeds:
            continue
        a = [get[(tk, "searchcv", s)] for s in seeds]
        b = [get[(tk, "randomized", s)] for s in seeds]
        diff = [x["best_cv"] - y["best_cv"] for x, y in zip(a, b)]
        out.append(
            f"| {tk} | {len(seeds)} | {_mse([x['best_cv'] for x in a])} | {_mse([x['best_cv'] for x in b])} | "
            f"{_mse(diff)} | {_mse([x['test'] for x in a])} | {_mse([x['test'] for x in b])} |"
        )
    out += [
        "",
        "### SearchCV on GridSearchCV's grid with at most a third of the fits",
        "",
        "| task | seeds | Grid best CV | SearchCV best CV | gap (mean) | gap <= one fold's resolution | fits grid / SearchCV |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for tk in tasks:
        seeds = sorted(
            {r["seed"] for r in rows if r["task"] == tk and r["method"] == "grid"}
            & {r["seed"] for r in rows if r["task"] == tk and r["method"] == "searchcv_grid"}
        )
        if not seeds:
            continue
        g = [get[(tk, "grid", s)] for s in seeds]
        h = [get[(tk, "searchcv_grid", s)] for s in seeds]
        gaps = [x["best_cv"] - y["best_cv"] for x, y in zip(g, h)]
        within = sum(gap <= x["fold_resolution"] + 1e-12 for gap, x in zip(gaps, g))
        out.append(
            f"| {tk} | {len(seeds)} | {_mse([x['best_cv'] for x in g])} | {_mse([x['best_cv'] for x in h])} | "
            f"{np.mean(gaps):.4f} | {within}/{len(seeds)} | {g[0]['fits']} / {h[0]['fits']} |"
        )
    for pm, label in (
        ("searchcv_pruned", "MedianPruner(n_startup_trials=5)"),
        ("searchcv_pruned3", "MedianPruner(n_startup_trials=3)"),
        ("searchcv_pruned1", "MedianPruner(n_startup_trials=1)"),
        ("searchcv_p25", "PercentilePruner(25, n_startup_trials=5)"),
    ):
        out += prune_table(rows, get, tasks, pm, label)
    return "\n".join(out)


def prune_table(rows: list[dict[str, Any]], get: dict[Any, Any], tasks: list[str], pm: str, label: str) -> list[str]:
    out = [
        "",
        f"### Fold-level pruning ({label}) against none, same budget, paired by seed",
        "",
        "| task | seeds | best CV, no pruning | best CV, pruning | paired diff best CV | paired diff test | "
        "fits | fit CPU s | CPU saved (pooled) | CPU saved (median of seeds) | wall fit saved (pooled) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tk in tasks:
        seeds = sorted(
            {r["seed"] for r in rows if r["task"] == tk and r["method"] == "searchcv"}
            & {r["seed"] for r in rows if r["task"] == tk and r["method"] == pm}
        )
        if not seeds:
            continue
        a = [get[(tk, "searchcv", s)] for s in seeds]
        p = [get[(tk, pm, s)] for s in seeds]
        cpu_a, cpu_p = [x["fit_cpu_s"] for x in a], [x["fit_cpu_s"] for x in p]
        cpu_saved = 1 - sum(cpu_p) / sum(cpu_a)
        cpu_med = 1 - float(np.median([y / x for x, y in zip(cpu_a, cpu_p)]))
        wall_saved = 1 - sum(x["fit_time_s"] for x in p) / sum(x["fit_time_s"] for x in a)
        fits = f"{sum(x['fits'] for x in a)} / {sum(x['fits'] for x in p)}"
        out.append(
            f"| {tk} | {len(seeds)} | {_mse([x['best_cv'] for x in a])} | {_mse([x['best_cv'] for x in p])} | "
            f"{_mse([y['best_cv'] - x['best_cv'] for x, y in zip(a, p)])} | "
            f"{_mse([y['test'] - x['test'] for x, y in zip(a, p)])} | {fits} | "
            f"{sum(cpu_a):.1f} / {sum(cpu_p):.1f} | {cpu_saved:.0%} | {cpu_med:.0%} | {wall_saved:.0%} |"
        )
    return out


def replay_median_rule(trials: list[dict[str, Any]], percentile: float, n_startup: int) -> dict[str, Any]:
    """Replay :class:`~hyperdial.PercentilePruner`'s fold-level rule on an unpruned search.

    Candidates come in trial order; after fold ``k`` (all but the last) a candidate stops when
    at least ``n_startup`` earlier candidates have finished and its best running mean so far
    is below the ``percentile``-th percentile of the earlier candidates' best running means at
    fold ``k`` (those that reached it), as the pruner decides. The same candidates are kept, so
    this measures the rule alone, not the sampler's reaction to pruned trials.
    """
    n_folds = len(trials[0]["scores"])
    best_run: list[list[float]] = []  # per earlier candidate: best running mean up to each fold it reached
    cpu = fits = 0.0
    complete: list[float] = []
    for t in trials:
        sc = np.asarray(t["scores"], dtype=float)
        run = np.cumsum(sc) / np.arange(1, n_folds + 1)
        mine: list[float] = []
        stopped = False
        for k in range(n_folds):
            cpu += t["fit_cpu"][k]
            fits += 1
            mine.append(max(run[k], mine[-1]) if mine else run[k])
            if k == n_folds - 1 or len(best_run) < n_startup:
                continue
            peers = [b[k] for b in best_run if len(b) > k]
            if peers and mine[-1] < np.percentile(peers, 100 - percentile):
                stopped = True
                break
        best_run.append(mine)
        if not stopped:
            complete.append(float(run[-1]))
    return {"cpu": cpu, "fits": fits, "best_cv": max(complete)}


def replay_table(rows: list[dict[str, Any]], tasks: list[str]) -> str:
    """Fit CPU saved and best-CV change of pruning rules replayed on the unpruned searches."""
    # (percentile as PercentilePruner takes it: 50 = median, 25 = keep only the top quarter; n_startup_trials)
    rules = [(50.0, 5), (50.0, 3), (50.0, 1), (25.0, 5), (25.0, 3), (25.0, 1)]
    head = " | ".join(f"p{int(q)}, start {n}" for q, n in rules)
    out = [
        "### Pruning rules replayed on the unpruned searches (CPU saved / mean change of best CV / seeds with a loss)",
        "",
        f"| task | seeds | {head} |",
        "|---|---:|" + "---:|" * len(rules),
    ]
    for tk in tasks:
        runs = [r for r in rows if r["task"] == tk and r["method"] == "searchcv" and r.get("trials")]
        if not runs:
            continue
        cells = []
        for q, n in rules:
            cpu_full = sum(sum(sum(t["fit_cpu"]) for t in r["trials"]) for r in runs)
            res = [replay_median_rule(r["trials"], q, n) for r in runs]
            saved = 1 - sum(x["cpu"] for x in res) / cpu_full
            d = [x["best_cv"] - r["best_cv"] for x, r in zip(res, runs)]
            cells.append(f"{saved:.0%} / {np.mean(d):+.4f} / {sum(v < -1e-12 for v in d)}")
        out.append(f"| {tk} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="development runs use other seeds (e.g. 100)")
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument(
        "--tasks", nargs="+", default=["svm_digits", "gb_cancer", "pipe_wine", "pipe_digits", "svr_diabetes"]
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        default=["searchcv", "searchcv_pruned", "searchcv_pruned1", "randomized", "grid", "searchcv_grid"],
    )
    args = ap.parse_args(argv)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for tk in args.tasks:
            has_grid = "grid" in task(tk)
            for m in args.methods:  # pruned right after unpruned: the paired runs see the same load
                if m in ("grid", "searchcv_grid") and not has_grid:
                    continue
                rows.append(cached(tk, m, seed, args.budget))
    print(summary(rows, args.tasks, args.budget))
    print()
    print(replay_table(rows, args.tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
