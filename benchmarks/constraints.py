"""Constraints: parameter constraints never violated, and outcome constraints that pay off.

Part 1, parameter constraints: every registered hyperdial sampler runs ``--param-trials`` trials
on a mixed space (log-int batch size, int dataset size, log-float learning rate, a categorical
and a conditional float) under ``batch_size <= n_samples / 10 and lr * batch_size <= 2``; the
table counts violating trials among those stored (must be 0), and how often and how the study
had to redraw (the sampler again, a nearby point, or a uniform point). Optuna has no parameter
constraints, so there is no counterpart.

Part 2, outcome constraints: best feasible value after ``--budget`` evaluations on two
constrained problems, with the constraint reported to the sampler ("aware") or hidden from it
("unaware": the same objective, the constraint only used for scoring), for hyperdial's TPE and
GP, next to Optuna's TPE and GP with ``constraints_func``:

* ``gardner``: the second toy problem of Gardner et al. 2014 ("Bayesian optimization with
  inequality constraints", ICML, section 5.1): ``min sin(x1) + x2`` s.t.
  ``sin(x1) sin(x2) + 0.95 <= 0`` on ``[0, 6]^2``; the feasible region is two small islands
  (about 2 % of the box) and the unconstrained minimum is infeasible;
* ``gramacy``: Gramacy et al. 2016 ("Modeling an augmented Lagrangian for blackbox constrained
  optimization", Technometrics, section 4.1): ``min x1 + x2`` s.t.
  ``1.5 - x1 - 2 x2 - 0.5 sin(2 pi (x1^2 - 2 x2)) <= 0`` and ``x1^2 + x2^2 - 1.5 <= 0`` on
  ``[0, 1]^2``; both constraints bind at the optimum (about 0.5998).

The figure is the regret of the best feasible value (minus the constrained optimum, found on a
2,000 x 2,000 grid), mean ± standard error over seeds; a run with no feasible trial counts as the
worst feasible value on the grid. Runs are interleaved by seed and problem; results are cached
under ``benchmarks/results/constraints/``.

Usage:
    python benchmarks/constraints.py [--budget 50] [--seeds 5] [--param-trials 100]
"""

from __future__ import annotations

import argparse
import contextlib
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
CACHE = HERE / "results" / "constraints"


# -- part 1 -------------------------------------------------------------------------------------------
def param_space() -> Any:
    from hyperdial import Categorical, Float, Int, SearchSpace

    return SearchSpace(
        {
            "n_samples": Int(100, 1000),
            "batch_size": Int(8, 512, log=True),
            "lr": Float(1e-4, 1.0, log=True),
            "optimizer": Categorical(["sgd", "adam"]),
            "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
        }
    )


def admissible(p: dict[str, Any]) -> bool:
    return p["batch_size"] <= p["n_samples"] / 10 and p["lr"] * p["batch_size"] <= 2.0


def param_objective(t: Any) -> float:
    p = t.params
    return (math.log10(p["lr"]) + 1.5) ** 2 - math.log(p["batch_size"]) / 3 + p.get("momentum", 0.3)


def part1(n_trials: int) -> list[str]:
    import warnings

    import hyperdial
    from hyperdial.samplers import SAMPLERS

    warnings.filterwarnings("ignore")
    space = param_space()
    rng = np.random.default_rng(0)
    share = np.mean([admissible(space.decode(rng.random(space.dim))) for _ in range(20_000)])
    lines = [
        f"Parameter constraint `batch_size <= n_samples / 10 and lr * batch_size <= 2`, {n_trials} trials per "
        f"sampler (60 for gp), seed 0; a uniform draw over the space satisfies it with probability {share:.2f}:",
        "",
        "| sampler | trials stored | violating | trials redrawn | sampler redraws | nearby | uniform | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SAMPLERS:
        if name == "qmc":  # an alias of sobol
            continue
        n = n_trials if name != "gp" else min(n_trials, 60)
        t0 = time.perf_counter()
        study = hyperdial.create_study(sampler=name, space=space, seed=0, param_constraint=admissible)
        with contextlib.suppress(hyperdial.SearchSpaceExhausted):
            study.optimize(param_objective, n_trials=n, show_progress=False)
        secs = time.perf_counter() - t0
        trials = study.trials
        bad = sum(not admissible(t.params) for t in trials)
        redrawn = [t for t in trials if "constraint_redraws" in t.system_attrs]
        how = [t.system_attrs.get("constraint_fallback", "sampler") for t in redrawn]
        lines.append(
            f"| {name} | {len(trials)} | {bad} | {len(redrawn)} | {how.count('sampler')} | {how.count('local')} | "
            f"{how.count('uniform')} | {secs:.1f} |"
        )
        print(lines[-1], file=sys.stderr)
    return lines


# -- part 2 -------------------------------------------------------------------------------------------
def gardner(x1: Any, x2: Any) -> tuple[Any, list[Any]]:
    return np.sin(x1) + x2, [np.sin(x1) * np.sin(x2) + 0.95]


def gramacy(x1: Any, x2: Any) -> tuple[Any, list[Any]]:
    c1 = 1.5 - x1 - 2 * x2 - 0.5 * np.sin(2 * np.pi * (x1**2 - 2 * x2))
    c2 = x1**2 + x2**2 - 1.5
    return x1 + x2, [c1, c2]


PROBLEMS = {
    "gardner": (gardner, (0.0, 6.0), (0.0, 6.0)),
    "gramacy": (gramacy, (0.0, 1.0), (0.0, 1.0)),
}


def grid_optimum(name: str) -> tuple[float, float]:
    """(best feasible value, worst feasible value) on a 2,000 x 2,000 grid."""
    fn, (a1, b1), (a2, b2) = PROBLEMS[name]
    x1, x2 = np.meshgrid(np.linspace(a1, b1, 2000), np.linspace(a2, b2, 2000))
    f, cons = fn(x1, x2)
    feas = f[np.all([c <= 0 for c in cons], axis=0)]
    return float(feas.min()), float(feas.max())


def run_hyperdial(problem: str, sampler: str, aware: bool, budget: int, seed: int) -> list[tuple[float, float]]:
    import hyperdial
    from hyperdial import Float, SearchSpace

    fn, r1, r2 = PROBLEMS[problem]
    space = SearchSpace({"x1": Float(*r1), "x2": Float(*r2)})
    s = {
        "tpe": lambda: hyperdial.TPESampler(),
        "tpe-rank": lambda: hyperdial.TPESampler(constraint_model="rank"),
        "gp": lambda: hyperdial.GPSampler(),
    }[sampler]()
    study = hyperdial.create_study(sampler=s, space=space, seed=seed)
    out = []
    for _ in range(budget):
        t = study.ask()
        f, cons = fn(t.params["x1"], t.params["x2"])
        cons = [float(c) for c in cons]
        if aware:
            t.set_constraints(cons)
        study.tell(t, float(f))
        out.append((float(f), max(cons)))
    return out


def run_optuna(problem: str, sampler: str, budget: int, seed: int) -> list[tuple[float, float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    fn, r1, r2 = PROBLEMS[problem]

    def cons(ft: Any) -> list[float]:
        return ft.user_attrs["c"]

    s = (
        optuna.samplers.TPESampler(seed=seed, constraints_func=cons)
        if sampler == "tpe"
        else optuna.samplers.GPSampler(seed=seed, constraints_func=cons)
    )
    study = optuna.create_study(sampler=s)
    out = []

    def objective(trial: Any) -> float:
        f, cons = fn(trial.suggest_float("x1", *r1), trial.suggest_float("x2", *r2))
        cons = [float(c) for c in cons]
        trial.set_user_attr("c", cons)
        out.append((float(f), max(cons)))
        return float(f)

    study.optimize(objective, n_trials=budget)
    return out


OPTIMIZERS = {
    "hyperdial-tpe": lambda p, b, s: run_hyperdial(p, "tpe", True, b, s),
    "hyperdial-tpe-rank": lambda p, b, s: run_hyperdial(p, "tpe-rank", True, b, s),
    "hyperdial-tpe-unaware": lambda p, b, s: run_hyperdial(p, "tpe", False, b, s),
    "optuna-tpe": lambda p, b, s: run_optuna(p, "tpe", b, s),
    "hyperdial-gp": lambda p, b, s: run_hyperdial(p, "gp", True, b, s),
    "hyperdial-gp-unaware": lambda p, b, s: run_hyperdial(p, "gp", False, b, s),
    "optuna-gp": lambda p, b, s: run_optuna(p, "gp", b, s),
}


def one(problem: str, opt: str, budget: int, seed: int) -> dict[str, Any]:
    path = CACHE / problem / opt / f"b{budget}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    fc = OPTIMIZERS[opt](problem, budget, seed)
    res = {"problem": problem, "optimizer": opt, "seed": seed, "fc": fc, "seconds": time.perf_counter() - t0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res))
    return res


def part2(budget: int, seeds: int, optimizers: list[str], first_seed: int = 0) -> list[str]:
    optimum = {p: grid_optimum(p) for p in PROBLEMS}
    regret: dict[tuple[str, str], list[float]] = {}
    feasible_share: dict[tuple[str, str], list[float]] = {}
    secs: dict[tuple[str, str], list[float]] = {}
    for seed in range(first_seed, first_seed + seeds):
        for p in PROBLEMS:
            for o in optimizers:
                r = one(p, o, budget, seed)
                fc = np.array(r["fc"])
                feas = fc[fc[:, 1] <= 0, 0]
                best = feas.min() if len(feas) else optimum[p][1]
                regret.setdefault((p, o), []).append(best - optimum[p][0])
                feasible_share.setdefault((p, o), []).append(float(np.mean(fc[:, 1] <= 0)))
                secs.setdefault((p, o), []).append(r["seconds"])
                print(f"{p} {o} s{seed}: regret {best - optimum[p][0]:.4f} ({r['seconds']:.1f} s)", file=sys.stderr)
    lines = [
        f"Outcome constraints: regret of the best feasible value after {budget} evaluations (lower is better), "
        f"mean ± SE over seeds {first_seed}-{first_seed + seeds - 1}; in brackets the share of feasible evaluations. Constrained optima (grid): "
        + ", ".join(f"{p} {optimum[p][0]:.4f}" for p in PROBLEMS)
        + ".",
        "",
        "| optimizer | " + " | ".join(PROBLEMS) + " | seconds per run |",
        "|---|" + "---:|" * (len(PROBLEMS) + 1),
    ]
    for o in optimizers:
        cells = []
        for p in PROBLEMS:
            v = np.array(regret[(p, o)])
            se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
            cells.append(f"{v.mean():.4f} ± {se:.4f} ({np.mean(feasible_share[(p, o)]):.0%})")
        t = np.mean([x for p in PROBLEMS for x in secs[(p, o)]])
        lines.append(f"| {o} | " + " | ".join(cells) + f" | {t:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--param-trials", type=int, default=100)
    ap.add_argument("--parts", nargs="+", default=["params", "outcome"])
    ap.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = ap.parse_args(argv)
    out: list[str] = []
    if "params" in args.parts:
        out += [*part1(args.param_trials), ""]
    if "outcome" in args.parts:
        out += part2(args.budget, args.seeds, args.optimizers, args.first_seed)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
