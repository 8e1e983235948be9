"""Cost of a pruning decision at 1,000 trials x 100 steps of history (issue 5), against Optuna's.

    python benchmarks/pruning_overhead.py                     # in-memory decisions
    python benchmarks/pruning_overhead.py --storage sqlite postgres \\
        --url postgresql://postgres@127.0.0.1:5432/test      # + the round trip a worker pays

1. **Decision** (history in memory): 999 finished trials with 100 reports each and one
   running trial. Per pruner, the time of ``pruner.decide(history, trial)``:

   * *steady*: the same decision repeated (nothing changed since the last one);
   * *after a report*: the running trial reports step ``s`` (applied to the history outside
     the timer), then the decision at ``s``; ``s = 2..100``, the realistic case in a study
     (median over the steps, and over the rung steps 3, 9, 27, 81 where successive halving
     compares trials; step 1 is the *cold* first decision, which builds the pruner's matrix).

   Optuna: ``pruner.prune(study, frozen_trial)`` on an ``InMemoryStorage`` study holding the
   same values, after ``trial.report`` (outside the timer), for its Median, Percentile,
   SuccessiveHalving and Hyperband pruners.
2. **Round trip** (``--storage``): a worker's ``trial.report(v, s)`` + ``trial.should_prune()``
   on a study of the same size stored in SQLite (a file) or PostgreSQL: one append, reading
   the new events, the decision. Optuna: the same two calls on its RDBStorage (same file
   type / server), median pruner.

Timings are medians of repeated calls with BLAS threads capped at 1; libraries interleaved
in one run; Python's garbage collector is paused while decisions are timed (its full passes
over the ~10^5 objects of such a history cost 20-40 ms in either library, whatever the pruner).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import numpy as np  # noqa: E402

N_TRIALS = 1000
N_STEPS = 100
#: steps where successive halving compares trials (eta=3, min_resource=1; step 1 is the cold first decision)
RUNGS = (3, 9, 27, 81)


def curves(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random(N_TRIALS)[:, None]
    steps = np.arange(1, N_STEPS + 1)[None, :]
    return base + 1.0 / steps + 0.01 * rng.random((N_TRIALS, N_STEPS))


# -- hyperdial -----------------------------------------------------------------------------------------
def hd_events(values: np.ndarray, finished: int):
    from hyperdial.storages import Event, EventKind
    from hyperdial.trial import TrialState

    out = []
    for i in range(finished):
        out.append(Event(EventKind.CREATE, None, {"state": int(TrialState.RUNNING), "system": {"bracket": i % 4}}))
    numbered = []
    for i in range(finished):
        evs = [Event(EventKind.REPORT, i, {"step": s + 1, "value": float(values[i, s])}) for s in range(N_STEPS)]
        evs.append(Event(EventKind.STATE, i, {"state": int(TrialState.COMPLETE), "values": [float(values[i, -1])]}))
        numbered.extend(evs)
    return out, numbered


HD_PRUNERS = {
    "median": lambda: ("median", {}),
    "percentile(25)": lambda: ("percentile", {"percentile": 25.0}),
    "asha": lambda: ("asha", {"min_resource": 1}),
    "hyperband": lambda: ("hyperband", {"min_resource": 1, "max_resource": N_STEPS}),
    "bohb": lambda: ("bohb", {"min_resource": 1, "max_resource": N_STEPS}),
    "threshold": lambda: ("threshold", {"upper": 10.0}),
    "patience(median)": lambda: ("patience", {}),
}


def hd_history(values: np.ndarray):
    from hyperdial.history import History
    from hyperdial.storages import Event, EventKind
    from hyperdial.trial import Direction, TrialState

    h = History([Direction.MINIMIZE])
    seq = 0
    batch = []
    for i in range(N_TRIALS):
        seq += 1
        batch.append((seq, Event(EventKind.CREATE, i, {"state": int(TrialState.RUNNING), "system": {"bracket": 0}})))
    for i in range(N_TRIALS - 1):
        for s in range(N_STEPS):
            seq += 1
            batch.append((seq, Event(EventKind.REPORT, i, {"step": s + 1, "value": float(values[i, s])})))
        seq += 1
        batch.append((seq, Event(EventKind.STATE, i, {"state": int(TrialState.COMPLETE), "values": [values[i, -1]]})))
    h.apply(batch)
    return h, seq


def hd_decisions(values: np.ndarray) -> dict[str, tuple[float, float, float, float]]:
    from hyperdial.pruners import MedianPruner, PatiencePruner, get_pruner
    from hyperdial.storages import Event, EventKind

    out = {}
    for label, make in HD_PRUNERS.items():
        name, kw = make()
        pruner = PatiencePruner(MedianPruner(), patience=200) if name == "patience" else get_pruner(name, **kw)
        h, seq = hd_history(values)
        run = N_TRIALS - 1
        after = []
        for s in range(N_STEPS):
            seq += 1
            h.apply([(seq, Event(EventKind.REPORT, run, {"step": s + 1, "value": float(values[run, s])}))])
            t = h.trials[run]
            t0 = time.perf_counter()
            pruner.decide(h, t)
            after.append(time.perf_counter() - t0)
        first = after[0]  # builds the pruner's matrix of 100,000 values (once per process)
        rungs = [after[r - 1] for r in RUNGS]
        after = after[1:]
        t = h.trials[run]
        steady = []
        for _ in range(300):
            t0 = time.perf_counter()
            pruner.decide(h, t)
            steady.append(time.perf_counter() - t0)
        out[label] = (
            statistics.median(steady) * 1e3,
            statistics.median(after) * 1e3,
            statistics.median(rungs) * 1e3,
            first * 1e3,
        )
    return out


# -- Optuna --------------------------------------------------------------------------------------------
def optuna_study(values: np.ndarray, storage=None, pruner=None):
    import optuna
    from optuna.distributions import FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(storage=storage, pruner=pruner, study_name=f"po-{uuid.uuid4().hex[:8]}")
    trials = [
        optuna.trial.create_trial(
            params={"x": 0.5},
            distributions={"x": FloatDistribution(0, 1)},
            value=float(values[i, -1]),
            intermediate_values={s + 1: float(values[i, s]) for s in range(N_STEPS)},
            # What Optuna's successive halving records when a trial passes a rung (steps 1, 3, 9, 27, 81),
            # so its rung decisions have the same 999 competitors as hyperdial's.
            system_attrs={f"completed_rung_{k}": float(values[i, 3**k - 1]) for k in range(5)},
        )
        for i in range(N_TRIALS - 1)
    ]
    study.add_trials(trials)
    return study


def optuna_decisions(values: np.ndarray) -> dict[str, tuple[float, float, float]]:
    import optuna

    makers = {
        "median": lambda: optuna.pruners.MedianPruner(),
        "percentile(25)": lambda: optuna.pruners.PercentilePruner(25.0),
        "asha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=N_STEPS),
    }
    out = {}
    for label, make in makers.items():
        pruner = make()
        study = optuna_study(values, pruner=pruner)
        trial = study.ask()
        times = []
        run = N_TRIALS - 1
        for s in range(N_STEPS):
            trial.report(float(values[run, s]), s + 1)
            frozen = study._storage.get_trial(trial._trial_id)
            t0 = time.perf_counter()
            pruner.prune(study, frozen)
            times.append(time.perf_counter() - t0)
        first = times[0]
        rungs = [times[r - 1] for r in RUNGS]
        out[label] = (statistics.median(times[1:]) * 1e3, statistics.median(rungs) * 1e3, first * 1e3)
    return out


# -- round trips ---------------------------------------------------------------------------------------
def hd_round_trip(url: str, values: np.ndarray) -> tuple[float, float]:
    import hyperdial
    from hyperdial.storages import get_storage

    storage = get_storage(url)
    name = f"po-{uuid.uuid4().hex[:8]}"
    study = hyperdial.create_study(name, storage, sampler="random", pruner="median", seed=0)
    creates, numbered = hd_events(values, N_TRIALS - 1)
    sid = study._info.id
    for k in range(0, len(creates), 500):
        storage.append(sid, creates[k : k + 500])
    for k in range(0, len(numbered), 5000):
        storage.append(sid, numbered[k : k + 5000])
    t0 = time.perf_counter()
    worker = hyperdial.load_study(name, get_storage(url), pruner="median")  # a worker opening the study
    worker.sync()
    opening = time.perf_counter() - t0
    trial = worker.ask()
    trial.suggest_float("x", 0, 1)
    times = []
    run = N_TRIALS - 1
    for s in range(N_STEPS):
        t0 = time.perf_counter()
        trial.report(float(values[run, s]), s + 1)
        trial.should_prune()
        times.append(time.perf_counter() - t0)
    worker.tell(trial, float(values[run, -1]))
    hyperdial.delete_study(name, storage)
    return statistics.median(times) * 1e3, opening


def optuna_round_trip(url: str, values: np.ndarray) -> float:
    import optuna

    study = optuna_study(values, storage=url, pruner=optuna.pruners.MedianPruner())
    worker = optuna.load_study(study_name=study.study_name, storage=url, pruner=optuna.pruners.MedianPruner())
    trial = worker.ask()
    trial.suggest_float("x", 0, 1)
    times = []
    run = N_TRIALS - 1
    for s in range(N_STEPS):
        t0 = time.perf_counter()
        trial.report(float(values[run, s]), s + 1)
        trial.should_prune()
        times.append(time.perf_counter() - t0)
    worker.tell(trial, float(values[run, -1]))
    optuna.delete_study(study_name=study.study_name, storage=url)
    return statistics.median(times) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--storage", nargs="*", default=[], choices=["sqlite", "postgres"])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-optuna", action="store_true")
    args = ap.parse_args()
    values = curves()
    # The garbage collector's full passes over ~10^5 objects (20-40 ms, in both libraries) would
    # otherwise be the "worst step"; they are not part of a decision.
    gc.collect()
    gc.disable()
    hd = hd_decisions(values)
    op = {} if args.no_optuna else optuna_decisions(values)
    gc.enable()
    print(f"Decision cost, {N_TRIALS} trials x {N_STEPS} steps in memory (median ms per decision):\n")
    print(
        "| pruner | hyperdial: steady | after a report: every step / at rungs 3, 9, 27, 81 | first decision (cold) | "
        "Optuna after a report: every step / at rungs | first (cold) | Optuna / hyperdial (every step; rungs) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, (steady, after, at_rungs, first) in hd.items():
        o = op.get(label)
        ocell = "– | –" if o is None else f"{o[0]:.3f} / {o[1]:.3f} | {o[2]:.3f}"
        ratio = f"{o[0] / after:.1f}x; {o[1] / at_rungs:.1f}x" if o else "–"
        print(f"| {label} | {steady:.3f} | {after:.3f} / {at_rungs:.3f} | {first:.1f} | {ocell} | {ratio} |")
    if args.storage:
        print("\nRound trip of a worker, report + should_prune (median ms per step; median pruner):\n")
        print("| storage | hyperdial | Optuna | Optuna / hyperdial | hyperdial: worker opens the study (s) |")
        print("|---|---:|---:|---:|---:|")
        for kind in args.storage:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/po.db" if kind == "sqlite" else args.url
                t0 = time.perf_counter()
                h_ms, opening = hd_round_trip(url, values)
                print(f"  {kind}: hyperdial done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                o_url = f"sqlite:///{tmp}/optuna.db" if kind == "sqlite" else args.url  # table names overlap
                o_ms = math_nan() if args.no_optuna else optuna_round_trip(o_url, values)
                print(f"| {kind} | {h_ms:.2f} | {o_ms:.1f} | {o_ms / h_ms:.0f}x | {opening:.2f} |", flush=True)
    print(f"\n(python {sys.version.split()[0]}; machine shared with other jobs: compare ratios, not absolutes)")
    return 0


def math_nan() -> float:
    return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
