"""Reference values for the normalised score, computed once per problem and committed.

For each problem ``benchmarks/reference/reference.json`` holds:

* ``baseline_median``: for each budget (25, 50, 100, and a grid of others for the plot), the median over ``baseline_runs``
  independent random-search runs (library-free :class:`~benchmarks.optimizers.others.RandomSearch`,
  seeds 100000, 100001, ...) of the best loss after that budget: the score's 0 line.
* ``optimum``: the known optimum (BBOB via ``ioh``, synthetic problems), else ``null``;
* ``reference_best``: the score's 100 line: the optimum when known, else the best loss
  ever seen while computing the reference: every baseline evaluation plus a few long runs
  of model-based optimizers (``reference_runs``).

Recompute with ``python -m benchmarks reference [--problems ...]``: existing entries are kept
unless ``--force``. Changing a problem's definition means recomputing its entry (the
problem's description is stored to make such drift visible).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUDGETS", "HEADLINE_BUDGETS", "REFERENCE_FILE", "compute_reference", "load_reference"]

REFERENCE_FILE = Path(__file__).resolve().parent / "reference" / "reference.json"
#: budgets whose baseline median is stored: the headline 25 / 50 / 100 and a grid for the plot
BUDGETS = (10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 100)
HEADLINE_BUDGETS = (25, 50, 100)
BASELINE_SEED0 = 100_000


def load_reference(path: Path = REFERENCE_FILE) -> dict[str, dict[str, Any]]:
    """The committed reference values by problem name (empty when the file is missing)."""
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _one_problem(name: str, runs: int, budget: int, long_runs: Sequence[tuple[str, int, int]]) -> dict[str, Any]:
    from benchmarks import _env

    _env.setup()
    from benchmarks.optimizers import get_optimizer
    from benchmarks.optimizers.others import RandomSearch
    from benchmarks.problems import get_problem

    problem = get_problem(name)
    t0 = time.perf_counter()
    traces = [RandomSearch().minimize(problem, budget, BASELINE_SEED0 + r) for r in range(runs)]
    medians = {str(b): float(np.median([min(tr[:b]) for tr in traces])) for b in BUDGETS if b <= budget}
    best = min(min(tr) for tr in traces)
    source = [f"random-search {runs}x{budget}"]
    done_long = []
    if problem.optimum is None:
        for opt_name, seed, n in long_runs:
            opt = get_optimizer(opt_name)
            if opt.unavailable():
                continue
            best = min(best, min(opt.minimize(problem, n, seed)))
            done_long.append(f"{opt_name} seed {seed} x{n}")
    return {
        "description": problem.description,
        "category": problem.category.value,
        "optimum": problem.optimum,
        "reference_best": problem.optimum if problem.optimum is not None else best,
        "reference_source": "known optimum" if problem.optimum is not None else ", ".join(source + done_long),
        "baseline_median": medians,
        "baseline_runs": runs,
        "baseline_budget": budget,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def compute_reference(
    problems: Sequence[str],
    *,
    runs: int = 50,
    budget: int = 100,
    long_runs: Sequence[tuple[str, int, int]] = (("optuna-tpe", 0, 300), ("hyperdial-tpe", 0, 300)),
    jobs: int = 1,
    force: bool = False,
    path: Path = REFERENCE_FILE,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Compute missing entries (all with ``force``) and merge them into ``path``."""
    ref = load_reference(path)
    todo = [p for p in problems if force or p not in ref]
    log(f"reference: {len(todo)} problems to compute ({len(problems) - len(todo)} already in {path.name})")

    def save(name: str, entry: dict[str, Any]) -> None:
        ref[name] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        ordered = {k: ref[k] for k in sorted(ref)}
        path.write_text(json.dumps(ordered, indent=1, allow_nan=False) + "\n")
        log(
            f"reference {name}: baseline median {entry['baseline_median']}, best {entry['reference_best']:.6g} ({entry['seconds']}s)"
        )

    if jobs <= 1:
        for name in todo:
            save(name, _one_problem(name, runs, budget, long_runs))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futs = {pool.submit(_one_problem, n, runs, budget, long_runs): n for n in todo}
            for f in as_completed(futs):
                save(futs[f], f.result())
    bad = [
        n
        for n in problems
        if n in ref and not ref[n]["baseline_median"].get("100", math.inf) > ref[n]["reference_best"]
    ]
    if bad:
        log(f"warning: random search reaches the reference best on {bad}; their scores are undefined")
    return ref
