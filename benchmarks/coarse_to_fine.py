"""Coarse-to-fine against random and grid search at equal budget, from the suite's cached runs.

Run the suite first (one run, every optimizer interleaved per problem and seed):

    python -m benchmarks run --parts sample-efficiency --problems 'bbob-*-2d' \\
        --optimizers hyperdial-coarse_to_fine hyperdial-random hyperdial-grid random-search --seeds 10 --jobs 1

then ``python benchmarks/coarse_to_fine.py [--seeds 10]`` prints, at budgets 25 / 50 / 100:

* the suite's normalised score (mean ± standard error over (problem, seed); only problems with
  a reference in ``benchmarks/reference/reference.json``) and paired bootstrap 95 % intervals of
  coarse-to-fine minus each other optimizer (``python -m benchmarks report`` only pairs hyperdial
  samplers with external anchors, not with hyperdial's grid);
* log10 regret (``log10(best - f_opt)``, floored at -8) on every BBOB problem, references or not,
  with the same paired intervals (lower is better).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from benchmarks.problems import get_problem  # noqa: E402
from benchmarks.report import collect_scores  # noqa: E402
from benchmarks.runner import Task, load_result  # noqa: E402
from benchmarks.scoring import best_so_far, bootstrap_paired_diff, log10_regret, mean_se  # noqa: E402

C2F = "hyperdial-coarse_to_fine"
OTHERS = ["hyperdial-grid", "hyperdial-random", "random-search"]
PROBLEMS = [f"bbob-f{f}-2d" for f in (1, 2, 10, 12, 15, 20, 21, 24)]
BUDGETS = (25, 50, 100)


def regrets(optimizers: list[str], seeds: range, budget: int = 100) -> dict:
    out: dict = {o: {b: {} for b in BUDGETS} for o in optimizers}
    for prob in PROBLEMS:
        opt_value = get_problem(prob).optimum
        for o in optimizers:
            for s in seeds:
                res = load_result(Task(prob, o, s, budget))
                if res is None or res["status"] != "ok":
                    continue
                for b in BUDGETS:
                    out[o][b][(prob, s)] = log10_regret(best_so_far(res["losses"], b), opt_value)
    return out


def _ci(a: dict, b: dict) -> str:
    ci = bootstrap_paired_diff(a, b)
    if ci["n"] == 0:
        return "–"
    txt = f"{ci['mean']:+.2f} [{ci['low']:+.2f}, {ci['high']:+.2f}]"
    return f"**{txt}**" if ci["low"] > 0 or ci["high"] < 0 else txt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args(argv)
    seeds = range(args.seeds)
    opts = [C2F, *OTHERS]
    scores, _, notes = collect_scores(PROBLEMS, opts, list(seeds), 100)
    scored = sorted({p for o in opts for b in scores.get(o, {}) for p, _ in scores[o][b]})
    lines = [
        f"Normalised score (100 = optimum, 0 = median random search; mean ± SE over (problem, seed)), problems "
        f"with a reference: {', '.join(scored)}; {args.seeds} seeds.",
        "",
        "| optimizer | @25 | @50 | @100 |",
        "|---|---:|---:|---:|",
    ]
    for o in opts:
        cells = []
        for b in BUDGETS:
            v = list(scores.get(o, {}).get(b, {}).values())
            m, se = mean_se(v) if v else (math.nan, math.nan)
            cells.append(f"{m:.1f} ± {se:.1f}")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += ["", "coarse_to_fine − other, normalised score, paired bootstrap 95 % CI (**bold**: excludes 0):", ""]
    lines += ["| other | @25 | @50 | @100 |", "|---|---:|---:|---:|"]
    for o in OTHERS:
        cells = [_ci(scores.get(C2F, {}).get(b, {}), scores.get(o, {}).get(b, {})) for b in BUDGETS]
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    reg = regrets(opts, seeds)
    lines += [
        "",
        f"log10 regret on all {len(PROBLEMS)} BBOB 2-d problems (lower is better; mean ± SE over (problem, seed)):",
        "",
        "| optimizer | @25 | @50 | @100 |",
        "|---|---:|---:|---:|",
    ]
    for o in opts:
        cells = []
        for b in BUDGETS:
            v = list(reg[o][b].values())
            m, se = mean_se(v) if v else (math.nan, math.nan)
            cells.append(f"{m:.2f} ± {se:.2f}")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "coarse_to_fine − other, log10 regret, paired bootstrap 95 % CI (negative: coarse_to_fine better):",
        "",
    ]
    lines += ["| other | @25 | @50 | @100 |", "|---|---:|---:|---:|"]
    for o in OTHERS:
        lines.append(f"| {o} | " + " | ".join(_ci(reg[C2F][b], reg[o][b]) for b in BUDGETS) + " |")
    lines += ["", "Per problem, log10 regret at 100 evaluations (mean over seeds):", ""]
    lines += ["| problem | " + " | ".join(opts) + " |", "|---|" + "---:|" * len(opts)]
    for p in PROBLEMS:
        cells = []
        for o in opts:
            v = [x for (pp, _), x in reg[o][100].items() if pp == p]
            cells.append(f"{np.mean(v):.2f}" if v else "–")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "Not scored: " + "; ".join(sorted(set(notes.values())))]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
