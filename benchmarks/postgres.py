"""Many workers on one PostgreSQL study: trials stored exactly once, and storage overhead per trial over time.

``--workers`` processes each run ``--trials`` trials of a zero-cost objective (random
sampler, 4 parameters) on one study; the script checks that exactly workers x trials
trials are stored with numbers 0..n-1 once each, and reports the storage time per trial
(wall time of a worker divided by its trials) for the first and the last 100 trials of
the study, to show the cost stays flat as the study grows. Optuna's RDB storage on the
same server is measured with the same objective when installed.

Usage:
    python benchmarks/postgres.py --url postgresql://postgres@127.0.0.1:5432/test [--workers 8] [--trials 250]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import statistics
import sys
import time
import uuid


def objective(trial):
    a = trial.suggest_float("a", 0.0, 1.0)
    b = trial.suggest_float("b", 1e-5, 1.0, log=True)
    c = trial.suggest_int("c", 1, 100)
    d = trial.suggest_categorical("d", ["x", "y", "z"])
    return a + b + c + (d == "y")


def hd_worker(url: str, name: str, n: int, out: mp.Queue) -> None:
    import hyperdial

    study = hyperdial.load_study(name, url, sampler="random")
    stamps = []
    study.optimize(objective, n_trials=n, show_progress=False,
                   callbacks=[lambda s, t: stamps.append((t.number, time.perf_counter()))])
    out.put(stamps)


def optuna_worker(url: str, name: str, n: int, out: mp.Queue) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=url, sampler=optuna.samplers.RandomSampler())
    stamps = []
    study.optimize(objective, n_trials=n, callbacks=[lambda s, t: stamps.append((t.number, time.perf_counter()))])
    out.put(stamps)


def run(lib: str, url: str, workers: int, trials: int) -> dict:
    name = f"pg-{lib}-{uuid.uuid4().hex[:8]}"
    if lib == "hyperdial":
        import hyperdial

        hyperdial.create_study(name, url, seed=0)
        target = hd_worker
    else:
        import optuna

        optuna.create_study(study_name=name, storage=url)
        target = optuna_worker
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, name, trials, q)) for _ in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    # Per-trial cost seen by a worker: the gap between its consecutive finished trials.
    gaps = []
    for stamps in results:
        for (_, a), (n, b) in itertools.pairwise(stamps):
            gaps.append((n, b - a))
    gaps.sort()
    first = [g for _, g in gaps[:100]]
    last = [g for _, g in gaps[-100:]]
    if lib == "hyperdial":
        import hyperdial

        numbers = sorted(t.number for t in hyperdial.load_study(name, url).trials)
    else:
        import optuna

        numbers = sorted(t.number for t in optuna.load_study(study_name=name, storage=url).trials)
    return {
        "lib": lib, "workers": workers, "trials_each": trials, "stored": len(numbers),
        "numbers_ok": numbers == list(range(workers * trials)), "wall_s": wall,
        "ms_per_trial_per_worker": 1e3 * statistics.fmean(g for _, g in gaps),
        "first100_ms": 1e3 * statistics.fmean(first), "last100_ms": 1e3 * statistics.fmean(last),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--trials", type=int, default=250)
    ap.add_argument("--libs", nargs="+", default=["hyperdial", "optuna"])
    args = ap.parse_args(argv)
    rows = []
    for lib in args.libs:
        try:
            if lib == "optuna":
                import optuna  # noqa: F401
        except ImportError:
            print("optuna not installed: skipped", file=sys.stderr)
            continue
        row = run(lib, args.url, args.workers, args.trials)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print("| library | workers x trials | stored | numbers once | ms/trial per worker | first 100 | last 100 | wall s |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['lib']} | {r['workers']} x {r['trials_each']} | {r['stored']} | {r['numbers_ok']} | "
              f"{r['ms_per_trial_per_worker']:.2f} | {r['first100_ms']:.2f} | {r['last100_ms']:.2f} | {r['wall_s']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
