"""Multi-objective search: hyperdial's NSGA-II and multi-objective TPE against Optuna's, side by side.

Problems, two objectives minimised:

* ZDT1, ZDT2, ZDT3 (Zitzler, Deb & Thiele 2000, "Comparison of multiobjective evolutionary
  algorithms: empirical results", Evol. Comput. 8(2)), 30 variables in [0, 1]; reference point
  (1.1, 11), which every point of every ZDT problem dominates except for f2 > 11 (f1 <= 1 and
  g <= 10);
* ``tree-digits``: an accuracy / size trade-off of a scikit-learn model, a
  ``DecisionTreeClassifier(random_state=0)`` on the digits data (1,797 images, 10 classes), mixed
  space (``max_depth`` int 1-24, ``min_samples_leaf`` log-int 1-64, ``max_features`` float
  0.05-1, ``ccp_alpha`` log-float 1e-6-0.1, ``criterion`` gini / entropy); objectives: the
  3-fold cross-validated error (fixed stratified splits, seed 0) and ``log2`` of the mean number
  of leaves over the folds (the size); reference point (1, 11): a tree on a 1,198-row fold has at
  most 1,198 leaves (``log2`` 10.2) and its error is at most 1.

Every optimizer gets the same budget of evaluations per seed; the figure is the hypervolume of
the evaluated points (the exact 2-d hypervolume of :func:`hyperdial.hypervolume`, the same
function for every library) against the problem's fixed reference point.

Optimizers (defaults of each library unless stated):

* ``hyperdial-nsga2``: ``NSGAIISampler(population_size=P)``;
* ``optuna-nsga2``: ``optuna.samplers.NSGAIISampler(population_size=P)``, ``P`` from
  ``--population`` (50; 20 for the 100-evaluation ``tree-digits`` runs);
* ``hyperdial-tpe``: ``TPESampler()`` (MOTPE: fronts, the last cut by greedy hypervolume subset
  selection, good kernels weighted by hypervolume contribution);
* ``optuna-tpe``: ``optuna.samplers.TPESampler()`` (MOTPE);
* ``random``: hyperdial's random sampler, for scale.

Runs are interleaved (seed by seed, problem by problem, optimizer by optimizer) so a loaded
machine slows every library alike; each result is cached as JSON under
``benchmarks/results/multi_objective/`` and reruns resume.

Usage:
    python benchmarks/multi_objective.py [--budget 300] [--seeds 5] [--first-seed 0] [--problems zdt1 zdt2 zdt3]
    python benchmarks/multi_objective.py --problems tree-digits --budget 100 --population 20 --seeds 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (threads capped before numpy loads)

HERE = Path(__file__).resolve().parent
CACHE = HERE / "results" / "multi_objective"
DIM = 30
REFERENCE = (1.1, 11.0)
REFERENCES = {"zdt1": REFERENCE, "zdt2": REFERENCE, "zdt3": REFERENCE, "tree-digits": (1.0, 11.0)}
ZDT = ("zdt1", "zdt2", "zdt3")


def zdt(name: str, x: np.ndarray) -> tuple[float, float]:
    """ZDT1-3 (Zitzler, Deb & Thiele 2000, eq. for T1, T2, T3)."""
    f1 = float(x[0])
    g = 1.0 + 9.0 * float(np.mean(x[1:]))
    if name == "zdt1":
        h = 1.0 - math.sqrt(f1 / g)
    elif name == "zdt2":
        h = 1.0 - (f1 / g) ** 2
    elif name == "zdt3":
        h = 1.0 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10 * math.pi * f1)
    else:
        raise ValueError(f"unknown problem {name!r}; use zdt1, zdt2 or zdt3")
    return f1, g * h


_DIGITS: tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | None = None


def tree_digits(params: dict[str, Any]) -> tuple[float, float]:
    """(3-fold CV error, log2 of the mean number of leaves) of a decision tree on digits."""
    global _DIGITS
    from sklearn.tree import DecisionTreeClassifier

    if _DIGITS is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import StratifiedKFold

        X, y = load_digits(return_X_y=True)
        _DIGITS = (X, y, list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)))
    X, y, folds = _DIGITS
    acc, leaves = [], []
    for train, test in folds:
        model = DecisionTreeClassifier(random_state=0, **params).fit(X[train], y[train])
        acc.append(model.score(X[test], y[test]))
        leaves.append(model.get_n_leaves())
    return 1.0 - float(np.mean(acc)), math.log2(float(np.mean(leaves)))


def tree_space() -> Any:
    from hyperdial import Categorical, Float, Int, SearchSpace

    return SearchSpace(
        {
            "max_depth": Int(1, 24),
            "min_samples_leaf": Int(1, 64, log=True),
            "max_features": Float(0.05, 1.0),
            "ccp_alpha": Float(1e-6, 0.1, log=True),
            "criterion": Categorical(["gini", "entropy"]),
        }
    )


def evaluate(problem: str, params: dict[str, Any]) -> tuple[float, float]:
    if problem == "tree-digits":
        return tree_digits(params)
    return zdt(problem, np.array([params[f"x{i}"] for i in range(DIM)]))


def run_hyperdial(problem: str, sampler_name: str, budget: int, seed: int, population: int = 50) -> np.ndarray:
    import hyperdial
    from hyperdial import Float, SearchSpace

    if problem == "tree-digits":
        space = tree_space()
    else:
        space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(DIM)})
    sampler = {
        "nsga2": lambda: hyperdial.NSGAIISampler(population_size=population),
        "tpe": lambda: hyperdial.TPESampler(),
        "random": lambda: hyperdial.RandomSampler(),
    }[sampler_name]()
    study = hyperdial.create_study(directions=["minimize", "minimize"], sampler=sampler, space=space, seed=seed)
    out = []
    for _ in range(budget):
        t = study.ask()
        v = evaluate(problem, t.params)
        study.tell(t, v)
        out.append(v)
    return np.array(out)


def run_optuna(problem: str, sampler_name: str, budget: int, seed: int, population: int = 50) -> np.ndarray:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = {
        "nsga2": lambda: optuna.samplers.NSGAIISampler(population_size=population, seed=seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
    }[sampler_name]()
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    out = []

    def objective(trial: Any) -> tuple[float, float]:
        if problem == "tree-digits":
            params = {
                "max_depth": trial.suggest_int("max_depth", 1, 24),
                "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 64, log=True),
                "max_features": trial.suggest_float("max_features", 0.05, 1.0),
                "ccp_alpha": trial.suggest_float("ccp_alpha", 1e-6, 0.1, log=True),
                "criterion": trial.suggest_categorical("criterion", ["gini", "entropy"]),
            }
        else:
            params = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(DIM)}
        v = evaluate(problem, params)
        out.append(v)
        return v

    study.optimize(objective, n_trials=budget)
    return np.array(out)


OPTIMIZERS = {
    "hyperdial-nsga2": lambda p, b, s, pop: run_hyperdial(p, "nsga2", b, s, pop),
    "optuna-nsga2": lambda p, b, s, pop: run_optuna(p, "nsga2", b, s, pop),
    "hyperdial-tpe": lambda p, b, s, pop: run_hyperdial(p, "tpe", b, s, pop),
    "optuna-tpe": lambda p, b, s, pop: run_optuna(p, "tpe", b, s, pop),
    "random": lambda p, b, s, pop: run_hyperdial(p, "random", b, s, pop),
}


def one(problem: str, opt: str, budget: int, seed: int, population: int = 50) -> dict[str, Any]:
    tag = "" if population == 50 or "nsga2" not in opt else f"-p{population}"
    path = CACHE / problem / opt / f"b{budget}{tag}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    from hyperdial import hypervolume

    t0 = time.perf_counter()
    points = OPTIMIZERS[opt](problem, budget, seed, population)
    seconds = time.perf_counter() - t0
    ref = REFERENCES[problem]
    res = {
        "problem": problem,
        "optimizer": opt,
        "budget": budget,
        "seed": seed,
        "hypervolume": hypervolume(points, ref),
        "hv_half_budget": hypervolume(points[: budget // 2], ref),
        "seconds": seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--population", type=int, default=50, help="NSGA-II population size (both libraries)")
    ap.add_argument("--problems", nargs="+", default=list(ZDT), choices=list(REFERENCES))
    ap.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for problem in args.problems:
            for opt in args.optimizers:
                r = one(problem, opt, args.budget, seed, args.population)
                rows.append(r)
                print(f"{problem} {opt} s{seed}: hv={r['hypervolume']:.3f} ({r['seconds']:.1f} s)", file=sys.stderr)
    print(report(rows, args))
    return 0


def _mean_se(v: list[float]) -> str:
    a = np.asarray(v, dtype=float)
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else 0.0
    return f"{a.mean():.3f} ± {se:.3f}"


def report(rows: list[dict[str, Any]], args: Any) -> str:
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["problem"], r["optimizer"]), {})[r["seed"]] = r
    refs = "; ".join(f"{p} {REFERENCES[p]}" for p in args.problems)
    lines = [
        f"Hypervolume against the reference point ({refs}), {args.budget} evaluations, seeds {args.first_seed}-"
        f"{args.first_seed + args.seeds - 1}, NSGA-II population {args.population}, mean ± standard error "
        "(higher is better); ratio = hyperdial / Optuna, paired by seed (mean of per-seed ratios).",
        "",
        "| problem | " + " | ".join(args.optimizers) + " | nsga2 ratio | tpe ratio |",
        "|---|" + "---|" * (len(args.optimizers) + 2),
    ]
    for problem in args.problems:
        cells = [_mean_se([r["hypervolume"] for r in by.get((problem, o), {}).values()]) for o in args.optimizers]
        ratios = []
        for lib in ("nsga2", "tpe"):
            a, b = by.get((problem, f"hyperdial-{lib}"), {}), by.get((problem, f"optuna-{lib}"), {})
            seeds = sorted(set(a) & set(b))
            rs = [a[s]["hypervolume"] / b[s]["hypervolume"] for s in seeds if b[s]["hypervolume"] > 0]
            ratios.append(f"{np.mean(rs):.3f} ({sum(x >= 1 for x in rs)}/{len(rs)} seeds >= 1)" if rs else "n/a")
        lines.append(f"| {problem} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    lines += ["", "Seconds per run (mean, machine contended):", ""]
    lines.append("| problem | " + " | ".join(args.optimizers) + " |")
    lines.append("|---|" + "---|" * len(args.optimizers))
    for problem in args.problems:
        cells = [f"{np.mean([r['seconds'] for r in by.get((problem, o), {}).values()]):.1f}" for o in args.optimizers]
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
