"""``python -m benchmarks``: the benchmark suite's command line.

Commands:
    list        problems, optimizers (with availability) and profiles
    run         run parts of the suite (cached; resumable; shardable)
    reference   compute the committed reference values of the normalised score
    report      tables (Markdown) and a plot from cached results; optionally into RESULTS.md

Examples:
    python -m benchmarks run --profile quick --parts sample-efficiency --jobs 2
    python -m benchmarks run --parts sample-efficiency --problems 'bbob-*-2d' --optimizers hyperdial optuna-tpe --seeds 10
    python -m benchmarks run --profile full --shard 0/4
    python -m benchmarks run --parts overhead parallel multifidelity --profile quick
    python -m benchmarks report --profile quick --write-results
"""

from __future__ import annotations

# Threads capped and libraries silenced before anything numerical is imported.
from benchmarks import _env

_env.setup()

import argparse
import sys
from pathlib import Path

PARTS = ("sample-efficiency", "overhead", "parallel", "multifidelity")


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def _seeds(values: list[str] | None, default: int) -> list[int]:
    """``--seeds 10`` means seeds 0..9; ``--seeds 3 7`` means exactly those."""
    if not values:
        return list(range(default))
    if len(values) == 1:
        if int(values[0]) < 1:
            raise SystemExit(f"--seeds {values[0]}: give a count >= 1 (seeds 0..N-1) or two or more seed numbers")
        return list(range(int(values[0])))
    return [int(v) for v in values]


def _parser() -> argparse.ArgumentParser:
    from benchmarks.profiles import PROFILES

    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="problems, optimizers, profiles")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    common.add_argument("--problems", nargs="+", help="names, globs (bbob-*-2d) or categories (sklearn, mixed...)")
    common.add_argument("--optimizers", nargs="+", help="names, globs (optuna-*), 'hyperdial' or 'anchors'")
    common.add_argument("--seeds", nargs="+", help="N (seeds 0..N-1) or an explicit list")
    common.add_argument("--budget", type=int, help="evaluations per run (scores at 25/50/100 read from the trace)")
    common.add_argument("--results", type=Path, help="cache folder (default benchmarks/results)")

    r = sub.add_parser("run", parents=[common], help="run parts of the suite")
    r.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    r.add_argument("--jobs", type=int, default=1, help="worker processes for sample efficiency / reference")
    r.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: run every n-th task starting at i")
    r.add_argument("--force", action="store_true", help="recompute cached results")
    r.add_argument("--trials", nargs="+", type=int, help="overhead: study sizes (default by profile)")
    r.add_argument("--samplers", nargs="+", help="overhead: hyperdial sampler names (default all)")
    r.add_argument("--storages", nargs="+", default=["memory", "sqlite"], choices=["memory", "sqlite"])
    r.add_argument("--cores", nargs="+", type=int, help="parallel: worker counts (default by profile; 0 = all)")
    r.add_argument("--pruners", nargs="+", help="multifidelity: hyperdial pruner names (default all in PRUNERS)")

    ref = sub.add_parser("reference", parents=[common], help="compute reference values")
    ref.add_argument("--runs", type=int, default=50, help="random-search runs for the baseline median")
    ref.add_argument("--jobs", type=int, default=1)
    ref.add_argument("--force", action="store_true")
    ref.add_argument("--no-long-runs", action="store_true", help="reference best from random search only")

    rep = sub.add_parser("report", parents=[common], help="tables and plot from cached results")
    rep.add_argument("--write-results", action="store_true", help="update the suite's section of benchmarks/RESULTS.md")
    rep.add_argument("--plot", type=Path, help="PNG path for the score-vs-evaluations plot")
    rep.add_argument("--note", default="", help="a line saying what subset was run, for RESULTS.md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from benchmarks.profiles import PROFILES
    from benchmarks.runner import RESULTS_DIR

    if args.command == "list":
        return _list()
    prof = PROFILES[args.profile]
    root = args.results or RESULTS_DIR
    from benchmarks.optimizers import get_optimizers
    from benchmarks.problems import select_problems

    problems = select_problems(args.problems, prof.problems)
    seeds = _seeds(args.seeds, prof.seeds)
    budget = args.budget or prof.budget

    if args.command == "reference":
        from benchmarks.reference import compute_reference

        compute_reference(
            problems,
            runs=args.runs,
            budget=max(budget, 100),
            jobs=args.jobs,
            force=args.force,
            long_runs=() if args.no_long_runs else (("optuna-tpe", 0, 300), ("hyperdial-tpe", 0, 300)),
        )
        return 0

    optimizers = get_optimizers(args.optimizers or list(prof.optimizers) or None)
    if args.command == "report":
        from benchmarks.report import build_report

        text = build_report(
            problems,
            [o.name for o in optimizers],
            seeds,
            budget,
            root=root,
            plot=args.plot,
            write_results=args.write_results,
            note=args.note,
        )
        print(text)
        return 0

    # run
    if "sample-efficiency" in args.parts:
        from benchmarks.runner import make_tasks, run_tasks

        for o in optimizers:
            reason = o.unavailable()
            if reason:
                print(f"skipping {o.name}: {reason}", flush=True)
        names = [o.name for o in optimizers if not o.unavailable()]
        run_tasks(
            make_tasks(problems, names, seeds, budget),
            jobs=args.jobs,
            shard=args.shard,
            root=root,
            force=args.force,
            log=lambda s: print(s, flush=True),
        )
    if "overhead" in args.parts:
        from benchmarks.suite.overhead_samplers import run_overhead

        run_overhead(
            trials=args.trials or prof.overhead_trials,
            samplers=args.samplers or prof.overhead_samplers,
            storages=args.storages,
            root=root,
            force=args.force,
        )
    if "parallel" in args.parts:
        from benchmarks.suite.parallel_throughput import run_parallel

        run_parallel(cores=args.cores or prof.parallel_cores, trials=prof.parallel_trials, root=root, force=args.force)
    if "multifidelity" in args.parts:
        from benchmarks.suite.multifidelity import run_multifidelity

        run_multifidelity(
            seeds=_seeds(args.seeds, prof.mf_seeds),
            resource_factor=prof.mf_resource_factor,
            pruners=args.pruners,
            root=root,
            force=args.force,
        )
    return 0


def _list() -> int:
    from benchmarks.optimizers import all_optimizers
    from benchmarks.problems import all_problems
    from benchmarks.profiles import PROFILES

    print("Problems:")
    for p in all_problems():
        print(f"  {p.name:28s} {p.category.value:13s} {p.description}")
    print("\nOptimizers:")
    for o in all_optimizers():
        reason = o.unavailable()
        print(f"  {o.name:20s} {'available' if not reason else 'SKIPPED: ' + reason}")
    print("\nProfiles:")
    for name, prof in PROFILES.items():
        print(f"  {name:6s} {prof.notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
