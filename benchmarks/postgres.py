"""Many workers on one shared study: every trial stored exactly once, and storage time per trial over time.

``--workers`` processes each run ``--trials`` trials of a zero-cost objective (random
sampler, 4 parameters) on one study; the script checks that exactly workers x trials
trials are stored with numbers 0..n-1 once each, and reports per library:

* **storage ms/trial**: time spent *inside* storage calls, measured in each worker by
  wrapping every public method of the storage object the study uses (hyperdial: the
  ``Storage``; Optuna: the storage object of its ``Study``, i.e. its cache over the RDB or
  journal storage) with ``time.perf_counter``; summed per worker and divided by that
  worker's trials. With more processes than cores this includes waiting for a CPU (and
  for the database server, which shares the same cores here).
* **first 100 / last 100**: the same storage time for the first and the last 100 trials
  of the study (by trial number), to show whether the cost grows with the study.
* **worker CPU ms/trial**: CPU time of the worker processes (library, sampler, storage
  client; not the database server) per trial, which waiting for other processes does not inflate.
* **span ms/trial**: the time from the first trial finished (in any worker) to the last,
  divided by the trials in between: the aggregate cost per trial of the whole system
  (clients, server, file system) without process start-up, the fairer figure when cores
  are shared. **wall s** is the whole run, start-up and imports included.

Backends (``--storage``): ``postgres`` (``--url``, required), ``journal`` (a file in a
temporary folder, or ``--dir``) and ``sqlite``. Optuna runs on its counterpart:
RDBStorage on the same server or file, ``JournalStorage(JournalFileBackend)`` for the journal.
Libraries are interleaved ``--repeats`` times; each row is one run.

Usage:
    python benchmarks/postgres.py --url postgresql://postgres@127.0.0.1:5432/test [--workers 8] [--trials 250]
    python benchmarks/postgres.py --storage journal sqlite --workers 4 --trials 250
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import uuid


def objective(trial):
    a = trial.suggest_float("a", 0.0, 1.0)
    b = trial.suggest_float("b", 1e-5, 1.0, log=True)
    c = trial.suggest_int("c", 1, 100)
    d = trial.suggest_categorical("d", ["x", "y", "z"])
    return a + b + c + (d == "y")


class _Clock:
    """Wraps every public method of an object so the time spent inside them is summed."""

    def __init__(self, obj) -> None:
        self.total = 0.0
        self.calls = 0
        self._depth = 0  # only the outermost call counts when one wrapped method calls another
        for name in dir(obj):
            if name.startswith("_"):
                continue
            attr = getattr(obj, name, None)
            if callable(attr) and not isinstance(attr, type):
                setattr(obj, name, self._wrap(attr))

    def _wrap(self, fn):
        def timed(*args, **kwargs):
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0
                self.calls += 1
                self._depth -= 1

        return timed


def hd_worker(url: str, name: str, n: int, out) -> None:
    src = os.environ.get("HD_BENCH_SRC")
    if src:  # a spawned child gets the parent's sys.path, so PYTHONPATH alone would not reach it
        sys.path.insert(0, src)
    import hyperdial

    assert not src or hyperdial.__file__.startswith(src), hyperdial.__file__
    from hyperdial.storages import get_storage

    storage = get_storage(url)
    study = hyperdial.load_study(name, storage, sampler="random")
    clock = _Clock(storage)
    stamps = []  # (trial number, cumulative storage seconds, cumulative calls, clock) after each trial
    cpu = time.process_time()
    study.optimize(
        objective,
        n_trials=n,
        show_progress=False,
        callbacks=[lambda s, t: stamps.append((t.number, clock.total, clock.calls, time.time()))],
    )
    out.put((stamps, time.process_time() - cpu))


def optuna_worker(spec: dict, name: str, n: int, out) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=_optuna_storage(spec), sampler=optuna.samplers.RandomSampler())
    clock = _Clock(study._storage)
    stamps = []
    cpu = time.process_time()
    study.optimize(
        objective, n_trials=n, callbacks=[lambda s, t: stamps.append((t.number, clock.total, clock.calls, time.time()))]
    )
    out.put((stamps, time.process_time() - cpu))


def _optuna_storage(spec: dict):

    if spec["kind"] == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(spec["path"]))
    return spec["url"]


def _specs(kind: str, args, tag: str) -> tuple[str, dict]:
    """(hyperdial URL, Optuna storage spec) for one run on a fresh study / file."""
    if kind == "postgres":
        rest = args.url.split("://", 1)[1]
        return f"postgresql://{rest}", {"kind": "rdb", "url": f"postgresql+psycopg://{rest}"}
    path = os.path.join(args.dir, f"{tag}-{uuid.uuid4().hex[:8]}")
    if kind == "journal":
        return f"journal:///{path}.log", {"kind": "journal", "path": f"{path}.log"}
    if kind == "journal-fsync":  # each write waits for the disk, as Optuna's journal file does
        return f"journal:///{path}.log?fsync=true", {"kind": "journal", "path": f"{path}.log"}
    return f"sqlite:///{path}.db", {"kind": "rdb", "url": f"sqlite:///{path}.db"}


def run(lib: str, kind: str, args, workers: int, trials: int) -> dict:
    name = f"bench-{lib}-{uuid.uuid4().hex[:8]}"
    hd_url, optuna_spec = _specs(kind, args, lib)
    # "hyperdial-baseline": the same workers importing hyperdial from --baseline-src (an older tree).
    if lib == "hyperdial-baseline":
        os.environ["HD_BENCH_SRC"] = args.baseline_src
    if lib.startswith("hyperdial"):
        import hyperdial

        hyperdial.create_study(name, hd_url, seed=0)
        target, where = hd_worker, hd_url
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        optuna.create_study(study_name=name, storage=_optuna_storage(optuna_spec))
        target, where = optuna_worker, optuna_spec
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=target, args=(where, name, trials, q)) for _ in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    os.environ.pop("HD_BENCH_SRC", None)
    results = [q.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    per_trial = []  # (number, storage seconds of that trial in its worker, storage calls)
    totals = []
    finished = []
    cpu = sum(c for _, c in results)
    for stamps, _ in results:
        prev_t = prev_c = 0.0
        for number, tot, calls, clock in stamps:
            per_trial.append((number, tot - prev_t, calls - prev_c))
            prev_t, prev_c = tot, calls
            finished.append(clock)
        totals.append(prev_t / max(1, len(stamps)))
    per_trial.sort()
    if lib.startswith("hyperdial"):
        import hyperdial

        trials_ = hyperdial.load_study(name, hd_url).trials
        numbers = sorted(t.number for t in trials_)
        complete = sum(t.state == hyperdial.TrialState.COMPLETE for t in trials_)
        hyperdial.delete_study(name, hd_url)
    else:
        import optuna

        st = optuna.load_study(study_name=name, storage=_optuna_storage(optuna_spec))
        numbers = sorted(t.number for t in st.trials)
        complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in st.trials)
        optuna.delete_study(study_name=name, storage=_optuna_storage(optuna_spec))
    total = workers * trials
    return {
        "lib": lib,
        "storage": kind,
        "workers": workers,
        "trials_each": trials,
        "stored": len(numbers),
        "complete": complete,
        "numbers_ok": numbers == list(range(total)),
        "wall_s": round(wall, 2),
        "wall_ms_per_trial": 1e3 * wall / total,
        # Without process start-up: from the first trial finished to the last, over the trials in between.
        "span_ms_per_trial": 1e3 * (max(finished) - min(finished)) / max(1, len(finished) - 1),
        "storage_ms_per_trial": 1e3 * statistics.fmean(totals),
        "worker_cpu_ms_per_trial": 1e3 * cpu / total,
        "storage_calls_per_trial": statistics.fmean(c for _, _, c in per_trial),
        "first100_ms": 1e3 * statistics.fmean(s for _, s, _ in per_trial[:100]),
        "last100_ms": 1e3 * statistics.fmean(s for _, s, _ in per_trial[-100:]),
    }


def commit_latency_ms(url: str, n: int = 200) -> dict:
    """Median time of a trivial durable commit and of a trivial read on the server: the floor of any append."""
    import psycopg

    rest = url.split("://", 1)[1]
    out = {}
    table = f"hd_bench_commit_{uuid.uuid4().hex[:8]}"  # a logged table: temporary ones skip the WAL flush
    with psycopg.connect(f"postgresql://{rest}", autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (x int)")
        try:
            for label, sql in (("select_ms", "SELECT 1"), ("commit_ms", f"INSERT INTO {table} VALUES (1)")):
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    conn.execute(sql)
                    times.append(time.perf_counter() - t0)
                out[label] = 1e3 * statistics.median(times)
            out["synchronous_commit"] = conn.execute("SHOW synchronous_commit").fetchone()[0]
        finally:
            conn.execute(f"DROP TABLE {table}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="PostgreSQL URL (for --storage postgres)")
    ap.add_argument(
        "--storage", nargs="+", default=["postgres"], choices=["postgres", "journal", "journal-fsync", "sqlite"]
    )
    ap.add_argument("--baseline-src", help="a src/ folder of an older hyperdial, run as library 'hyperdial-baseline'")
    ap.add_argument("--dir", default=None, help="folder for journal / SQLite files (default: a temporary one)")
    ap.add_argument("--workers", type=int, nargs="+", default=[8])
    ap.add_argument("--trials", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--libs", nargs="+", default=["hyperdial", "optuna"])
    ap.add_argument(
        "--optuna-storages", nargs="+", default=None, help="storages to run Optuna on (default: all of --storage)"
    )
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    if "postgres" in args.storage and not args.url:
        ap.error("--storage postgres needs --url postgresql://user@host:port/db")
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="hd-bench-")
        args.dir = tmp.name
    if args.baseline_src and "hyperdial-baseline" not in args.libs:
        args.libs.insert(0, "hyperdial-baseline")
    libs = []
    for lib in args.libs:
        if lib == "optuna":
            try:
                import optuna  # noqa: F401
            except ImportError:
                print("optuna not installed: skipped", file=sys.stderr)
                continue
        libs.append(lib)
    rows = []
    probes = []
    for kind in args.storage:
        for workers in args.workers:
            for _ in range(args.repeats):
                if kind == "postgres":
                    probe = commit_latency_ms(args.url)
                    print(json.dumps(probe), file=sys.stderr)
                    probes.append(probe)
                for lib in libs:  # interleaved, so both libraries see the same machine load
                    if lib == "optuna" and args.optuna_storages is not None and kind not in args.optuna_storages:
                        continue
                    row = run(lib, kind, args, workers, args.trials)
                    print(json.dumps(row), file=sys.stderr)
                    rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "server_probes": probes}, f, indent=1)
    for p in probes:
        print(
            f"PostgreSQL server: a trivial read {p['select_ms']:.2f} ms, a trivial commit (one row) "
            f"{p['commit_ms']:.2f} ms (synchronous_commit={p['synchronous_commit']})"
        )
    print(
        "| library | storage | workers x trials | stored | numbers once | storage ms/trial | first 100 | "
        "last 100 | storage calls/trial | worker CPU ms/trial | span ms/trial | wall s |"
    )
    print("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['lib']} | {r['storage']} | {r['workers']} x {r['trials_each']} | {r['stored']} | "
            f"{r['numbers_ok']} | {r['storage_ms_per_trial']:.2f} | {r['first100_ms']:.2f} | "
            f"{r['last100_ms']:.2f} | {r['storage_calls_per_trial']:.1f} | {r['worker_cpu_ms_per_trial']:.2f} | "
            f"{r['span_ms_per_trial']:.2f} | "
            f"{r['wall_s']:.1f} |"
        )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
