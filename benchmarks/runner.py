"""The sample-efficiency runner: one cached JSON file per (problem, optimizer, seed, budget).

Every task's result goes to
``benchmarks/results/sample_efficiency/{problem}/{optimizer}/b{budget}-s{seed}.json`` as soon
as it finishes, so an interrupted run resumes where it stopped and several machines (or
shells) can split the work with ``--shard i/n`` (task ``k`` of the deterministic task list
belongs to shard ``k % n``). Tasks run in worker processes (``--jobs``), each single-threaded.

A run at budget ``B`` stores every loss in evaluation order, so scores at smaller budgets
``b < B`` are read from the first ``b`` losses (anytime performance, as in Bayesmark's
traces); a cached file with a larger budget therefore serves smaller ones.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_DIR", "Task", "load_result", "make_tasks", "run_tasks", "versions"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_LIBS = (
    "hyperdial",
    "optuna",
    "hyperopt",
    "smac",
    "ConfigSpace",
    "scikit-optimize",
    "ioh",
    "cmaes",
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
)


def versions() -> dict[str, str]:
    """Installed versions of every library the suite touches (``"not installed"`` otherwise)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for lib in _LIBS:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


@dataclass(frozen=True)
class Task:
    """One optimizer run: ``budget`` evaluations of ``problem`` with ``seed``."""

    problem: str
    optimizer: str
    seed: int
    budget: int

    def path(self, root: Path = RESULTS_DIR) -> Path:
        return root / "sample_efficiency" / self.problem / self.optimizer / f"b{self.budget}-s{self.seed}.json"


def make_tasks(problems: Sequence[str], optimizers: Sequence[str], seeds: Iterable[int], budget: int) -> list[Task]:
    """Every combination, seeds outermost so that a partial run covers all problems evenly."""
    return [Task(p, o, s, budget) for s in seeds for p in problems for o in optimizers]


def load_result(task: Task, root: Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The cached result for ``task``, or one with the same key and a larger budget, or ``None``."""
    path = task.path(root)
    if path.exists():
        return json.loads(path.read_text())
    folder = path.parent
    if folder.exists():
        best: tuple[int, Path] | None = None
        for f in folder.glob(f"b*-s{task.seed}.json"):
            try:
                b = int(f.name[1:].split("-")[0])
            except ValueError:
                continue
            if b >= task.budget and (best is None or b < best[0]):
                best = (b, f)
        if best:
            return json.loads(best[1].read_text())
    return None


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def run_task(task: Task, root: Path = RESULTS_DIR) -> dict[str, Any]:
    """Run one task in this process and cache its result (status ``ok``, ``skipped`` or ``error``)."""
    from benchmarks import _env

    _env.setup()
    from benchmarks.optimizers import get_optimizer
    from benchmarks.problems import get_problem

    problem = get_problem(task.problem)
    opt = get_optimizer(task.optimizer)
    base = {"task": task.__dict__, "library": opt.library, "versions": versions()}
    reason = opt.unavailable() or opt.skip_reason(problem, task.budget)
    if reason:
        result = {**base, "status": "skipped", "reason": reason, "losses": []}
    else:
        t0 = time.perf_counter()
        try:
            losses = opt.minimize(problem, task.budget, task.seed)
            result = {**base, "status": "ok", "losses": [float(x) for x in losses]}
        except Exception as exc:
            result = {
                **base,
                "status": "error",
                "reason": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-3000:],
                "losses": [],
            }
        result["seconds"] = time.perf_counter() - t0
    _write_atomic(task.path(root), result)
    return result


def run_tasks(
    tasks: Sequence[Task],
    *,
    jobs: int = 1,
    shard: tuple[int, int] = (0, 1),
    root: Path = RESULTS_DIR,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Run the tasks of this shard that have no cached result; returns counts by status."""
    i, n = shard
    mine = [t for k, t in enumerate(tasks) if k % n == i]
    todo = [t for t in mine if force or load_result(t, root) is None]
    log(f"sample efficiency: {len(mine)} tasks in shard {i}/{n}, {len(mine) - len(todo)} cached, {len(todo)} to run")
    counts: dict[str, int] = {"cached": len(mine) - len(todo)}
    t_start = time.perf_counter()

    def note(k: int, t: Task, r: dict[str, Any]) -> None:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        extra = r.get("reason", "") if r["status"] != "ok" else f"best={min(r['losses'], default=float('nan')):.6g}"
        log(
            f"[{k}/{len(todo)} {time.perf_counter() - t_start:7.0f}s] {t.problem} {t.optimizer} s{t.seed} b{t.budget}: "
            f"{r['status']} {r.get('seconds', 0):.1f}s {extra}"
        )

    if jobs <= 1:
        for k, t in enumerate(todo, 1):
            note(k, t, run_task(t, root))
    else:
        # spawn, not fork: a forked child would inherit torch / BLAS thread pools of the parent
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_task, t, root): t for t in todo}
            for k, fut in enumerate(as_completed(futures), 1):
                note(k, futures[fut], fut.result())
    return counts
