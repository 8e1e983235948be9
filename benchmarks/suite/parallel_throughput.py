"""Parallel throughput: trials per second of a CPU-bound objective, hyperdial vs Optuna ``n_jobs``.

The objective is ~0.1 s of pure Python (it holds the GIL, as most Python-level objectives
do), random sampler, in-memory studies. hyperdial's ``n_jobs`` runs trials in worker
processes; Optuna's in threads. Each measurement runs in a fresh subprocess and its wall
time includes starting the workers (a cold start, as a user sees it). Speed-up is
against the same library's ``n_jobs=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["cpu_objective_value", "run_parallel"]

#: loop length giving ~0.1 s per call on this project's machine
WORK = 1_000_000


def cpu_objective_value(x: float, work: int = WORK) -> float:
    """~0.1 s of pure-Python arithmetic; the result depends on ``x``."""
    acc = 0
    for i in range(work):
        acc += i % 7
    return (x - 0.3) ** 2 + acc * 1e-12


def hyperdial_objective(trial: Any) -> float:
    return cpu_objective_value(trial.suggest_float("x", 0.0, 1.0))


def optuna_objective(trial: Any) -> float:
    return cpu_objective_value(trial.suggest_float("x", 0.0, 1.0))


def _child(lib: str, n_jobs: int, trials: int) -> dict[str, Any]:
    from benchmarks import _env

    _env.setup()
    t0 = time.perf_counter()
    if lib == "hyperdial":
        import hyperdial

        study = hyperdial.create_study(sampler="random", seed=0)
        study.optimize(hyperdial_objective, n_trials=trials, n_jobs=n_jobs, show_progress=False)
        done = len(study.trials)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(optuna_objective, n_trials=trials, n_jobs=n_jobs)
        done = len(study.trials)
    secs = time.perf_counter() - t0
    return {"lib": lib, "n_jobs": n_jobs, "trials": done, "seconds": secs, "trials_per_s": done / secs}


def _measure(lib: str, n_jobs: int, trials: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = f"import json; from benchmarks.suite.parallel_throughput import _child; print(json.dumps(_child({lib!r}, {n_jobs}, {trials})))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, timeout=1800)
    if proc.returncode != 0:
        return {"lib": lib, "n_jobs": n_jobs, "error": proc.stderr.strip()[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_parallel(
    cores: Sequence[int] = (1, 2),
    trials: int = 20,
    *,
    root: Path | None = None,
    force: bool = False,
    log: Any = print,
) -> list[dict[str, Any]]:
    """Measure both libraries at each worker count (0 = all cores); cache JSON, write Markdown."""
    from benchmarks.optimizers.base import missing_module
    from benchmarks.runner import RESULTS_DIR

    root = root or RESULTS_DIR
    out = root / "parallel_throughput.json"
    cache: dict[str, Any] = json.loads(out.read_text()) if out.exists() and not force else {}
    libs = ["hyperdial"] + ([] if missing_module("optuna") else ["optuna"])
    if "optuna" not in libs:
        log(f"parallel: Optuna skipped: {missing_module('optuna')}")
    counts = sorted({c if c > 0 else (os.cpu_count() or 1) for c in cores})
    cpu_objective_value(0.5)  # warm the code path before timing one call
    t0 = time.perf_counter()
    cpu_objective_value(0.5)
    call_s = time.perf_counter() - t0
    for k in counts:
        for lib in libs:
            key = f"{lib}|{k}|{trials}"
            if key in cache:
                continue
            cache[key] = r = _measure(lib, k, trials)
            root.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(cache, indent=1))
            log(
                f"parallel {lib} n_jobs={k}: "
                + (f"{r['trials_per_s']:.2f} trials/s" if "error" not in r else r["error"][-300:])
            )
    lines = [
        "### Parallel throughput (`python -m benchmarks run --parts parallel`)",
        "",
        f"CPU-bound pure-Python objective ({call_s:.3f} s per call measured here), {trials} trials, random sampler, "
        f"in memory; hyperdial n_jobs = processes, Optuna n_jobs = threads; wall time includes worker start-up. "
        f"{os.cpu_count()} cores.",
        "",
        "| n_jobs | hyperdial trials/s | speed-up | Optuna trials/s | speed-up | hyperdial / Optuna |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    base = {lib: cache.get(f"{lib}|{counts[0]}|{trials}", {}).get("trials_per_s") for lib in ("hyperdial", "optuna")}
    for k in counts:
        h = cache.get(f"hyperdial|{k}|{trials}", {}).get("trials_per_s")
        o = cache.get(f"optuna|{k}|{trials}", {}).get("trials_per_s")

        def f(v: float | None, b: float | None) -> tuple[str, str]:
            if v is None:
                return "–", "–"
            return f"{v:.2f}", (f"{v / b:.2f}x" if b else "–")

        hv, hs = f(h, base["hyperdial"])
        ov, os_ = f(o, base["optuna"])
        ratio = f"{h / o:.2f}x" if h and o else "–"
        lines.append(f"| {k} | {hv} | {hs} | {ov} | {os_} | {ratio} |")
    md = "\n".join(lines) + "\n"
    (root / "parallel_throughput.md").write_text(md)
    log(md)
    return list(cache.values())
