"""Issue-5 figures on the learning-curve problems of the suite's multi-fidelity part.

    python benchmarks/multifidelity_figures.py --seeds 10            # run (cached) and print Markdown
    python benchmarks/multifidelity_figures.py --seeds 10 --problems lc-sgd-digits

B = 40 full-length trials (40 x T epochs). Every contender runs until it has spent B's
resource (pruned trials count the epochs they ran), once per seed, all in this run:

1. *Resource to the random-search target*: the target is the median (over seeds) of the best
   final value full-budget random search reaches with B; for each contender, the resource
   spent when a trial that ran to the end first reaches the target, as a fraction of B
   (median over seeds; a seed that never reaches it counts as infinite).
2. *Equal resource*: the mean (± SE) best final value at B's resource, and paired per-seed
   differences against Optuna's TPE + HyperbandPruner and TPE + MedianPruner.

Runs are cached in ``benchmarks/results/multifidelity/`` (shared with
``python -m benchmarks run --parts multifidelity``); ``--force`` reruns them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.suite.multifidelity import LC_PROBLEMS, _run_one  # noqa: E402

CONTENDERS = (
    "random-full-budget",
    "hyperdial-asha",
    "hyperdial-hyperband",
    "hyperdial-bohb@tpe",
    "hyperdial-bohb@auto",
    "hyperdial-hyperband@tpe",
    "hyperdial-asha@auto",
    "hyperdial-asha@tpe",
    "optuna-hyperband",
    "optuna-tpe-hyperband",
    "optuna-tpe-median",
)
ANCHORS = ("optuna-tpe-hyperband", "optuna-tpe-median")
N_FULL = 40
RESULTS = Path(__file__).resolve().parent / "results" / "multifidelity"


def run(problem: str, contender: str, seed: int, force: bool) -> dict:
    prob = LC_PROBLEMS[problem]
    total = N_FULL * prob.max_epochs
    path = RESULTS / problem / contender / f"r{total}-s{seed}.json"
    if path.exists() and not force:
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    completed = _run_one(prob, contender, seed, total)
    res = {"status": "ok", "completed": completed, "total": total, "seconds": time.perf_counter() - t0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res))
    print(f"  {problem} {contender} s{seed}: {res['seconds']:.1f} s", file=sys.stderr, flush=True)
    return res


def best_at(completed, budget):
    vals = [v for r, v in completed if r <= budget]
    return min(vals) if vals else math.inf


def resource_to(completed, target):
    for r, v in completed:
        if v <= target + 1e-12:
            return r
    return math.inf


def mean_se(x):
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def report(problem: str, seeds: list[int], runs: dict, contenders: list[str]) -> str:
    prob = LC_PROBLEMS[problem]
    T = prob.max_epochs
    B = N_FULL * T
    off = prob.optimum or 0.0
    random_best = [best_at(runs["random-full-budget", s]["completed"], B) for s in seeds]
    target = float(np.median(random_best))
    what = "regret to the known optimum" if prob.optimum is not None else "validation error"
    lines = [
        f"**{problem}** (T = {T} epochs; B = {N_FULL} full trials = {B} epochs; {len(seeds)} seeds; "
        f"value: {what}, lower is better). Target = median best of full-budget random search with B = "
        f"{target - off:.4f}.",
        "",
        "| contender | resource to target / B (median) | seeds reaching it | best @ B/3 | best @ B | "
        "Δ vs optuna-tpe-hyperband (wins) | Δ vs optuna-tpe-median (wins) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    anchors = {a: [best_at(runs[a, s]["completed"], B) for s in seeds] for a in ANCHORS}
    for c in contenders:
        comp = [runs[c, s]["completed"] for s in seeds]
        res = [resource_to(x, target) / B for x in comp]
        med = float(np.median(res))
        reached = sum(math.isfinite(r) for r in res)
        third = [best_at(x, B / 3) - off for x in comp]
        full = [best_at(x, B) for x in comp]
        m3, se3 = mean_se(third)
        m, se = mean_se([f - off for f in full])
        cells = []
        for a in ANCHORS:
            d = np.array(full) - np.array(anchors[a])
            wins = int((d < 0).sum())
            ties = int((d == 0).sum())
            dm, dse = mean_se(d)
            cells.append(f"{dm:+.4f} ± {dse:.4f} ({wins}W {ties}T)")
        med_s = "∞" if not math.isfinite(med) else f"{med:.3f}"
        lines.append(
            f"| {c} | {med_s} | {reached}/{len(seeds)} | {m3:.4f} ± {se3:.4f} | {m:.4f} ± {se:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="development seeds: e.g. 100")
    ap.add_argument("--problems", nargs="+", default=["lc-sgd-digits", "lc-synthetic"])
    ap.add_argument("--contenders", nargs="+", default=list(CONTENDERS))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for a in (*ANCHORS, "random-full-budget"):
        if a not in args.contenders:
            ap.error(f"--contenders must include {a} (the table is relative to it)")
    out = []
    for problem in args.problems:
        runs = {}
        for seed in seeds:  # seeds outermost: an interrupted run still has whole seeds for every contender
            for c in args.contenders:
                runs[c, seed] = run(problem, c, seed, args.force)
        out.append(report(problem, seeds, runs, args.contenders))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
