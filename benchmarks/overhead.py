"""Core overhead figures: hyperdial against Optuna, side by side, one subprocess per measurement.

What it measures (objective cost ~0; 4 parameters: a float, a log-float, an int, a
3-way categorical; random sampler; progress and logging off; BLAS threads capped at 1):

* ``per-trial``: library time per trial in memory and on a SQLite file, at 1,000 and
  10,000 trials, with the mean of the first and the last 1,000 trials (flatness);
* ``parallel``: 4 processes x 250 trials on one SQLite file: trials stored, numbers
  0..999 each once, "database is locked" errors;
* ``big``: a 100,000-trial SQLite study: memory of its materialised view (tracemalloc,
  intermediate values excluded) and the time to open it in a new process and print
  its best trial.

Usage:
    python benchmarks/overhead.py [--parts per-trial parallel big] [--repeats 3]
        [--trials 1000 10000] [--optuna-sqlite-trials 1000] [--out benchmarks/results/overhead.json]

Measurements alternate between the libraries (hyperdial, optuna, hyperdial, ...) so
that drifts of the machine hit both. The results are cached in ``--out`` and printed as
a Markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
HERE = Path(__file__).resolve()


# --------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON line.
# --------------------------------------------------------------------------------------------
def _hyperdial_objective(trial: Any) -> float:
    a = trial.suggest_float("a", 0.0, 1.0)
    b = trial.suggest_float("b", 1e-5, 1.0, log=True)
    c = trial.suggest_int("c", 1, 100)
    d = trial.suggest_categorical("d", ["x", "y", "z"])
    return a + b + c + (d == "y")


def _tempdir(prefix: str) -> str:
    """A temporary folder removed when this process exits (studies of 100,000 trials are large)."""
    import atexit
    import shutil

    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


def _chunk_means(stamps: list[float], n: int, chunk: int = 1000) -> dict[str, float]:
    deltas = [b - a for a, b in itertools.pairwise(stamps)]
    first = deltas[: min(chunk, len(deltas))]
    last = deltas[-min(chunk, len(deltas)) :]
    return {"first_ms": 1e3 * statistics.fmean(first), "last_ms": 1e3 * statistics.fmean(last)}


def worker_per_trial(lib: str, storage_kind: str, n: int) -> dict[str, Any]:
    tmp = _tempdir("hd-ovh-")
    path = os.path.join(tmp, "study.db")
    stamps: list[float] = []
    if lib == "hyperdial":
        import hyperdial

        storage = None if storage_kind == "memory" else f"sqlite:///{path}"
        study = hyperdial.create_study(storage=storage, sampler="random", seed=0)

        def cb(study: Any, trial: Any) -> None:
            stamps.append(time.perf_counter())

        stamps.append(time.perf_counter())
        t0 = time.perf_counter()
        study.optimize(_hyperdial_objective, n_trials=n, show_progress=False, callbacks=[cb])
        total = time.perf_counter() - t0
        stored = len(study.trials)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        storage = None if storage_kind == "memory" else f"sqlite:///{path}"
        study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))

        def cb(study: Any, trial: Any) -> None:
            stamps.append(time.perf_counter())

        stamps.append(time.perf_counter())
        t0 = time.perf_counter()
        study.optimize(_hyperdial_objective, n_trials=n, show_progress_bar=False, callbacks=[cb])
        total = time.perf_counter() - t0
        stored = len(study.trials)
    return {
        "lib": lib,
        "storage": storage_kind,
        "n": n,
        "ms_per_trial": 1e3 * total / n,
        "stored": stored,
        **_chunk_means(stamps, n),
    }


def worker_sampler(lib: str, sampler: str, n: int) -> dict[str, Any]:
    """Time per trial of a model-based sampler (objective cost ~0), averaged over ``n`` trials."""
    import numpy as np

    def objective(trial: Any) -> float:
        x = [trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(4)]
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        return float(np.sum((np.array(x) - 1.0) ** 2) + (c != "b"))

    if lib == "hyperdial":
        import hyperdial

        study = hyperdial.create_study(sampler=sampler, seed=0)
        t0, c0 = time.perf_counter(), time.process_time()
        study.optimize(objective, n_trials=n, show_progress=False)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = study.best_value
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        make = {
            "tpe": lambda: optuna.samplers.TPESampler(seed=0),
            "gp": lambda: optuna.samplers.GPSampler(seed=0),
            "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=0),
        }[sampler]
        study = optuna.create_study(sampler=make())
        t0, c0 = time.perf_counter(), time.process_time()
        study.optimize(objective, n_trials=n, show_progress_bar=False)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = study.best_value
    # CPU time as well as wall time: on a machine shared with other jobs the wall clock also
    # counts the time the process waited for a core.
    return {
        "lib": lib,
        "sampler": sampler,
        "n": n,
        "ms_per_trial": 1e3 * total / n,
        "cpu_ms_per_trial": 1e3 * cpu / n,
        "best": best,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """Peak resident memory of this worker process (interpreter and imports included)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_parallel_child(path: str, n: int, lib: str) -> dict[str, Any]:
    errors: list[str] = []
    if lib == "hyperdial":
        import hyperdial

        study = hyperdial.create_study("par", f"sqlite:///{path}", sampler="random", load_if_exists=True)
        try:
            study.optimize(_hyperdial_objective, n_trials=n, show_progress=False)
        except Exception as exc:  # report, don't crash: the parent counts errors
            errors.append(repr(exc))
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            study = optuna.create_study(
                study_name="par",
                storage=f"sqlite:///{path}",
                load_if_exists=True,
                sampler=optuna.samplers.RandomSampler(),
            )
            study.optimize(_hyperdial_objective, n_trials=n, show_progress_bar=False)
        except Exception as exc:
            errors.append(repr(exc))
    return {"errors": errors}


def worker_parallel(lib: str, procs: int, per_proc: int) -> dict[str, Any]:
    tmp = _tempdir("hd-par-")
    path = os.path.join(tmp, "study.db")
    if lib == "hyperdial":
        import hyperdial

        hyperdial.create_study("par", f"sqlite:///{path}", sampler="random", seed=0)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        optuna.create_study(study_name="par", storage=f"sqlite:///{path}")
    t0 = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, str(HERE), "_parallel_child", path, str(per_proc), lib],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **_THREAD_ENV},
        )
        for _ in range(procs)
    ]
    errors = []
    for c in children:
        out, err = c.communicate()
        try:
            errors += json.loads(out.strip().splitlines()[-1])["errors"]
        except (ValueError, IndexError):
            errors.append(err.strip().splitlines()[-1] if err.strip() else f"exit {c.returncode}")
    wall = time.perf_counter() - t0
    if lib == "hyperdial":
        import hyperdial

        numbers = [t.number for t in hyperdial.load_study("par", f"sqlite:///{path}").trials]
    else:
        import optuna

        numbers = [t.number for t in optuna.load_study(study_name="par", storage=f"sqlite:///{path}").trials]
    locked = sum("locked" in e for e in errors)
    return {
        "lib": lib,
        "procs": procs,
        "per_proc": per_proc,
        "stored": len(numbers),
        "numbers_ok": sorted(numbers) == list(range(procs * per_proc)),
        "errors": len(errors),
        "locked_errors": locked,
        "first_error": errors[0] if errors else None,
        "wall_s": wall,
    }


def worker_build_big(path: str, n: int) -> dict[str, Any]:
    import hyperdial

    study = hyperdial.create_study("big", f"sqlite:///{path}?synchronous=OFF", sampler="random", seed=0)
    t0 = time.perf_counter()
    study.optimize(_hyperdial_objective, n_trials=n, show_progress=False)
    return {"built": len(study.trials), "build_s": time.perf_counter() - t0}


def worker_open_big(path: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    import hyperdial

    study = hyperdial.load_study("big", f"sqlite:///{path}")
    best = study.best_trial
    print(f"best trial {best.number}: {best.values[0]:.6g} {dict(best.params)}", file=sys.stderr)
    return {"open_and_best_s": time.perf_counter() - t0, "n": len(study.trials)}


def worker_memory_big(path: str) -> dict[str, Any]:
    import tracemalloc

    import hyperdial
    from hyperdial.history import History

    info = hyperdial.get_storage(f"sqlite:///{path}").get_study("big")
    storage = hyperdial.get_storage(f"sqlite:///{path}")
    events = storage.read(info.id, 0)  # read outside the measurement: the log is not the view
    tracemalloc.start()
    h = History([hyperdial.Direction.MINIMIZE])
    h.apply(events)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(h.trials)
    return {"n": n, "view_bytes_per_trial": current / n, "peak_bytes_per_trial": peak / n}


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def _run(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **_THREAD_ENV},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["per-trial", "parallel", "big", "samplers"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", nargs="+", type=int, default=[1000, 10000])
    ap.add_argument(
        "--optuna-sqlite-trials",
        type=int,
        default=1000,
        help="Optuna's RDB storage costs ~30 ms/trial; cap its SQLite runs at this many trials",
    )
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--out", default=str(HERE.parent / "results" / "overhead.json"))
    args = ap.parse_args(argv)
    libs = ["hyperdial"] + (["optuna"] if _have("optuna") else [])
    if "optuna" not in libs:
        print("optuna is not installed: pip install -e '.[bench]'; measuring hyperdial alone", file=sys.stderr)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "rows": []}
    if "per-trial" in args.parts:
        for rep in range(args.repeats):
            for storage in ("memory", "sqlite"):
                for n in args.trials:
                    for lib in libs:
                        if lib == "optuna" and storage == "sqlite" and n > args.optuna_sqlite_trials:
                            continue
                        row = _run("_per_trial", lib, storage, str(n))
                        row.update(part="per-trial", repeat=rep)
                        print(json.dumps(row), file=sys.stderr)
                        results["rows"].append(row)
    if "samplers" in args.parts:
        for sampler, n in (("tpe", 1000), ("gp", 200), ("tpe", 10000)):
            for lib in libs:
                if lib == "optuna" and n > 1000:
                    continue  # Optuna's TPE at 10,000 trials takes hours
                try:
                    row = _run("_sampler", lib, sampler, str(n))
                except RuntimeError as exc:
                    print(f"{lib} {sampler} skipped: {str(exc)[-300:]}", file=sys.stderr)
                    continue
                row.update(part="samplers")
                print(json.dumps(row), file=sys.stderr)
                results["rows"].append(row)
    if "parallel" in args.parts:
        for lib in libs:
            row = _run("_parallel", lib, "4", "250")
            row.update(part="parallel")
            print(json.dumps(row), file=sys.stderr)
            results["rows"].append(row)
    if "big" in args.parts:
        tmp = _tempdir("hd-big-")
        path = os.path.join(tmp, "big.db")
        row = _run("_build_big", path, str(args.big))
        for _ in range(args.repeats):
            row.update(_run("_open_big", path))
            results["rows"].append({**row, "part": "big"})
            print(json.dumps(row), file=sys.stderr)
        mem = _run("_memory_big", path)
        results["rows"].append({**mem, "part": "big-memory"})
        print(json.dumps(mem), file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(render(results))
    return 0


def render(results: dict[str, Any]) -> str:
    """Markdown tables of the medians over repeats."""
    rows = results["rows"]
    out = []
    per = [r for r in rows if r.get("part") == "per-trial"]
    if per:
        out.append(
            "| storage | trials | library | ms/trial | first 1k ms | last 1k ms | last/first | ratio vs optuna |"
        )
        out.append("|---|---:|---|---:|---:|---:|---:|---:|")
        keys = sorted({(r["storage"], r["n"], r["lib"]) for r in per})
        med = {}
        for k in keys:
            sel = [r for r in per if (r["storage"], r["n"], r["lib"]) == k]
            med[k] = {f: statistics.median(r[f] for r in sel) for f in ("ms_per_trial", "first_ms", "last_ms")}
        for (storage, n, lib), m in med.items():
            ref = med.get((storage, n, "optuna"))
            ratio = "" if lib == "optuna" or ref is None else f"{ref['ms_per_trial'] / m['ms_per_trial']:.1f}x faster"
            out.append(
                f"| {storage} | {n:,} | {lib} | {m['ms_per_trial']:.3f} | {m['first_ms']:.3f} | {m['last_ms']:.3f} | "
                f"{m['last_ms'] / m['first_ms']:.2f} | {ratio} |"
            )
    par = [r for r in rows if r.get("part") == "parallel"]
    if par:
        out.append("")
        out.append(
            "| library | processes x trials | stored | numbers 0..n-1 once | errors | 'locked' errors | wall s |"
        )
        out.append("|---|---|---:|---|---:|---:|---:|")
        for r in par:
            out.append(
                f"| {r['lib']} | {r['procs']} x {r['per_proc']} | {r['stored']} | {r['numbers_ok']} | {r['errors']} | "
                f"{r['locked_errors']} | {r['wall_s']:.1f} |"
            )
    smp = [r for r in rows if r.get("part") == "samplers"]
    if smp:
        out.append("")
        out.append(
            "| sampler | trials | library | ms/trial | CPU ms/trial | best value | faster by (wall) | faster by (CPU) "
            "| peak RSS MB |"
        )
        out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        ref = {(r["sampler"], r["n"]): r for r in smp if r["lib"] == "optuna"}
        for r in smp:
            o = ref.get((r["sampler"], r["n"]))
            mine = o and r["lib"] == "hyperdial"
            ratio = f"{o['ms_per_trial'] / r['ms_per_trial']:.1f}x" if mine else ""
            cpu = r.get("cpu_ms_per_trial", float("nan"))
            cpu_ratio = f"{o.get('cpu_ms_per_trial', float('nan')) / cpu:.1f}x" if mine else ""
            out.append(
                f"| {r['sampler']} | {r['n']:,} | {r['lib']} | {r['ms_per_trial']:.2f} | {cpu:.2f} | {r['best']:.4g} | "
                f"{ratio} | {cpu_ratio} | {r.get('peak_rss_mb', float('nan')):.0f} |"
            )
    big = [r for r in rows if r.get("part") == "big"]
    mem = [r for r in rows if r.get("part") == "big-memory"]
    if big:
        out.append("")
        t = statistics.median(r["open_and_best_s"] for r in big)
        out.append(
            f"100,000-trial SQLite study: open in a new process and print the best trial: {t:.2f} s "
            f"(median of {len(big)}, interpreter start and imports included)"
        )
    if mem:
        out.append(f"Materialised view of it: {mem[0]['view_bytes_per_trial']:.0f} bytes per trial (tracemalloc)")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        cmd, rest = sys.argv[1], sys.argv[2:]
        if cmd == "_per_trial":
            res = worker_per_trial(rest[0], rest[1], int(rest[2]))
        elif cmd == "_parallel":
            res = worker_parallel(rest[0], int(rest[1]), int(rest[2]))
        elif cmd == "_sampler":
            res = worker_sampler(rest[0], rest[1], int(rest[2]))
        elif cmd == "_parallel_child":
            res = worker_parallel_child(rest[0], int(rest[1]), rest[2])
        elif cmd == "_build_big":
            res = worker_build_big(rest[0], int(rest[1]))
        elif cmd == "_open_big":
            res = worker_open_big(rest[0])
        elif cmd == "_memory_big":
            res = worker_memory_big(rest[0])
        else:
            raise SystemExit(f"unknown worker {cmd}")
        print(json.dumps(res))
    else:
        sys.exit(main())
