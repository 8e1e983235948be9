"""Parallel throughput: trials per second of a CPU-bound objective with 1..N workers, hyperdial and Optuna.

The objective burns about ``--work`` seconds of pure-Python arithmetic in one thread
(no BLAS, so thread settings cannot blur the figure). hyperdial runs ``n_jobs`` worker
processes; Optuna runs its ``n_jobs`` (threads) in the same script, interleaved.
Each measurement runs in a fresh interpreter; the study is in memory (hyperdial serves
it to its workers from the driver) unless ``--storage sqlite`` is given.

Usage:
    python benchmarks/parallel.py [--jobs 1 2] [--trials 40] [--work 0.1] [--storage memory|sqlite]
        [--libs hyperdial optuna] [--out benchmarks/results/parallel.json]

Prints a Markdown table: trials/s, speed-up over the same library with 1 worker, and
hyperdial / Optuna at the same ``n_jobs``. Worker start-up (interpreter + imports) is
included, as a user would see it; ``--warm`` runs one small optimize first so pools are up.

``--libs hyperdial-dask`` runs the same study on a ``distributed.LocalCluster`` of ``n_jobs``
single-threaded worker processes (``optimize(..., executor=client)``); the study is then in a
SQLite file the workers share, whatever ``--storage`` says. The cluster is started before the
clock starts (a user's cluster is already up); its workers import hyperdial inside the timed
call, as a fresh cluster's would. Needs ``pip install -e ".[dask]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def calibrate(seconds: float) -> int:
    """Loop count of :func:`burn` that takes about ``seconds`` on this machine."""
    n = 100_000
    while True:
        t0 = time.perf_counter()
        burn(n)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            return max(1, int(n * seconds / dt))
        n *= 2


def burn(n: int) -> float:
    acc = 0.0
    for i in range(n):
        acc += (i * 7919) % 104729 * 1e-9
    return acc


def make_objective(loops: int) -> Any:
    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_float("y", -5.0, 5.0)
        return (x - 1) ** 2 + (y + 2) ** 2 + burn(loops) * 0.0

    return objective


def worker(lib: str, jobs: int, trials: int, loops: int, storage: str, warm: bool) -> dict[str, Any]:
    objective = make_objective(loops)
    url = None
    if storage == "sqlite":
        import atexit
        import shutil

        tmp = tempfile.mkdtemp(prefix="hd-par-")
        atexit.register(shutil.rmtree, tmp, True)
        url = f"sqlite:///{tmp}/s.db"
    if lib == "hyperdial-dask":
        import shutil

        import distributed

        import hyperdial

        tmp = tempfile.mkdtemp(prefix="hd-dask-")
        cluster = distributed.LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None, env=dict(_ENV)
        )
        client = distributed.Client(cluster)
        try:
            study = hyperdial.create_study(storage=f"sqlite:///{tmp}/s.db", sampler="random", seed=0)
            t0 = time.perf_counter()
            study.optimize(objective, n_trials=trials, n_jobs=jobs, executor=client, show_progress=False)
            wall = time.perf_counter() - t0
            n = len(study.trials)
        finally:
            client.close()
            cluster.close()
            shutil.rmtree(tmp, True)
    elif lib == "hyperdial":
        import hyperdial

        if warm and jobs > 1:
            hyperdial.create_study(sampler="random").optimize(
                lambda t: 0.0, n_trials=jobs, n_jobs=jobs, show_progress=False
            )
        study = hyperdial.create_study(storage=url, sampler="random", seed=0)
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=trials, n_jobs=jobs, show_progress=False)
        wall = time.perf_counter() - t0
        n = len(study.trials)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(storage=url, sampler=optuna.samplers.RandomSampler(seed=0))
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=trials, n_jobs=jobs, show_progress_bar=False)
        wall = time.perf_counter() - t0
        n = len(study.trials)
    return {"lib": lib, "jobs": jobs, "trials": n, "wall_s": wall, "trials_per_s": n / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--trials", type=int, default=40, help="trials per worker-count with 1 job (scaled by jobs)")
    ap.add_argument("--work", type=float, default=0.1, help="seconds of CPU per trial")
    ap.add_argument("--storage", choices=["memory", "sqlite"], default="memory")
    ap.add_argument("--libs", nargs="+", default=["hyperdial", "optuna"])
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(HERE.parent / "results" / "parallel.json"))
    args = ap.parse_args(argv)
    loops = calibrate(args.work)
    rows = []
    for _ in range(args.repeats):
        for jobs in args.jobs:
            for lib in args.libs:
                trials = args.trials * jobs
                cmd = [
                    sys.executable,
                    str(HERE),
                    "_worker",
                    lib,
                    str(jobs),
                    str(trials),
                    str(loops),
                    args.storage,
                    str(int(args.warm)),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **_ENV}, check=False)
                if proc.returncode != 0:
                    print(f"{lib} n_jobs={jobs} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cpus": os.cpu_count(), "work_s": args.work, "rows": rows}, indent=1))
    print(render(rows, args.work))
    return 0


def render(rows: list[dict[str, Any]], work: float) -> str:
    import statistics

    runs: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        runs.setdefault((r["lib"], r["jobs"]), []).append(r["trials_per_s"])
    med = {k: statistics.median(v) for k, v in runs.items()}
    out = [
        f"CPU-bound objective, ~{work:g} s of pure Python per trial, {os.cpu_count()} CPUs",
        "",
        "| n_jobs | library | trials/s | speed-up vs 1 worker | hyperdial / optuna |",
        "|---:|---|---:|---:|---:|",
    ]
    for (lib, jobs), tps in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        base = med.get((lib, 1))
        ratio = ""
        if lib.startswith("hyperdial") and ("optuna", jobs) in med:
            ratio = f"{tps / med[('optuna', jobs)]:.2f}x"
        speed = f"{tps / base:.2f}x" if base else ""
        out.append(f"| {jobs} | {lib} | {tps:.2f} | {speed} | {ratio} |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        lib, jobs, trials, loops, storage, warm = sys.argv[2:8]
        print(json.dumps(worker(lib, int(jobs), int(trials), int(loops), storage, warm == "1")))
    else:
        sys.exit(main())
