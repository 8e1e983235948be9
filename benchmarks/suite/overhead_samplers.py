"""Library time per trial for every hyperdial sampler against its Optuna counterpart.

Objective cost ~0; a declared 4-parameter space (a float, a log float, an int, a 3-way
categorical) asked and told ``n`` times, in memory and on a SQLite file. Each
measurement runs in its own subprocess (``python -m benchmarks.suite.overhead_samplers
--child ...``) so imports, caches and the allocator start fresh; hyperdial and Optuna are
interleaved. Reported: mean milliseconds per trial of the ask/tell loop, and peak resident
memory added by the loop (``ru_maxrss`` after the loop minus after imports and set-up).

Counterparts: random -> ``RandomSampler``; tpe and auto -> ``TPESampler`` (Optuna's default);
gp -> ``GPSampler``; cmaes -> ``CmaEsSampler``; grid -> ``GridSampler`` over the same cells;
sobol / halton -> ``QMCSampler(qmc_type=...)``; lhs has none. A new hyperdial sampler is
measured automatically (without counterpart until one is added to ``OPTUNA_COUNTERPART``).

A measurement stops after ``--max-seconds`` (default 30) even if fewer than ``n`` trials
ran: model-based samplers at 10,000 trials would otherwise take hours; the table then
says how many trials the figure covers. (This file is independent of the core figures in
``benchmarks/overhead.py``.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["OPTUNA_COUNTERPART", "measure", "run_overhead"]

OPTUNA_COUNTERPART = {
    "random": "random",
    "tpe": "tpe",
    "auto": "tpe",
    "gp": "gp",
    "cmaes": "cmaes",
    "grid": "grid",
    "sobol": "sobol",
    "halton": "halton",
}


def _grid_points(n: int) -> int:
    # enough cells (points^3 * 3 categories) for n trials
    return max(2, math.ceil((n / 3) ** (1 / 3)) + 1)


def _space_hyperdial() -> Any:
    import hyperdial

    return hyperdial.SearchSpace(
        {
            "x": hyperdial.Float(-5.0, 5.0),
            "lr": hyperdial.Float(1e-5, 1.0, log=True),
            "n": hyperdial.Int(1, 1000),
            "act": hyperdial.Categorical(["relu", "tanh", "gelu"]),
        }
    )


def _run_hyperdial(sampler: str, storage: str | None, n: int, max_seconds: float) -> tuple[int, float]:
    import hyperdial
    from hyperdial.samplers import get_sampler

    opts = {"points": _grid_points(n), "shuffle": True} if sampler == "grid" else {}
    study = hyperdial.create_study(
        space=_space_hyperdial(), sampler=get_sampler(sampler, **opts), seed=0, storage=storage
    )
    t0 = time.perf_counter()
    done = 0
    for i in range(n):
        try:
            trial = study.ask()
        except hyperdial.SearchSpaceExhausted:
            break
        study.tell(trial, float(i % 97))
        done += 1
        if time.perf_counter() - t0 > max_seconds:
            break
    return done, time.perf_counter() - t0


def _run_optuna(sampler: str, storage: str | None, n: int, max_seconds: float) -> tuple[int, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    d = optuna.distributions
    dists = {
        "x": d.FloatDistribution(-5.0, 5.0),
        "lr": d.FloatDistribution(1e-5, 1.0, log=True),
        "n": d.IntDistribution(1, 1000),
        "act": d.CategoricalDistribution(["relu", "tanh", "gelu"]),
    }
    s = optuna.samplers
    if sampler == "grid":
        space = _space_hyperdial()
        p = _grid_points(n)
        grid = {k: space[k].grid(p) for k in dists}
        smp = s.GridSampler(grid, seed=0)
    elif sampler in ("sobol", "halton"):
        smp = s.QMCSampler(qmc_type=sampler, seed=0)
    elif sampler == "gp":
        import torch

        torch.set_num_threads(1)
        smp = s.GPSampler(seed=0)
    else:
        smp = {"random": s.RandomSampler, "tpe": s.TPESampler, "cmaes": s.CmaEsSampler}[sampler](seed=0)
    study = optuna.create_study(sampler=smp, storage=storage)
    t0 = time.perf_counter()
    done = 0
    for i in range(n):
        trial = study.ask(dists)
        study.tell(trial, float(i % 97))
        done += 1
        if sampler == "grid" and done >= math.prod(len(v) for v in grid.values()):
            break
        if time.perf_counter() - t0 > max_seconds:
            break
    return done, time.perf_counter() - t0


def _child(lib: str, sampler: str, storage: str, n: int, max_seconds: float) -> dict[str, Any]:
    from benchmarks import _env

    _env.setup()
    if lib == "hyperdial":
        import hyperdial  # noqa: F401
    else:
        import optuna  # noqa: F401
    with tempfile.TemporaryDirectory() as tmp:
        url = None if storage == "memory" else f"sqlite:///{tmp}/study.db"
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run = _run_hyperdial if lib == "hyperdial" else _run_optuna
        done, secs = run(sampler, url, n, max_seconds)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "lib": lib,
        "sampler": sampler,
        "storage": storage,
        "n": n,
        "done": done,
        "seconds": secs,
        "ms_per_trial": 1000 * secs / max(done, 1),
        "peak_rss_mb": (rss1 - rss0) / 1024,
    }


def measure(lib: str, sampler: str, storage: str, n: int, max_seconds: float = 30.0) -> dict[str, Any]:
    """One measurement in a fresh subprocess (its JSON line parsed)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.suite.overhead_samplers",
        "--child",
        lib,
        sampler,
        storage,
        str(n),
        str(max_seconds),
    ]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, timeout=max_seconds * 4 + 120)
    if proc.returncode != 0:
        return {"lib": lib, "sampler": sampler, "storage": storage, "n": n, "error": proc.stderr.strip()[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_overhead(
    trials: Sequence[int] = (100, 1000, 10000),
    samplers: Sequence[str] | None = None,
    storages: Sequence[str] = ("memory", "sqlite"),
    *,
    max_seconds: float = 30.0,
    root: Path | None = None,
    force: bool = False,
    log: Any = print,
) -> list[dict[str, Any]]:
    """Measure every (sampler, storage, n) for hyperdial and its Optuna counterpart; cache and tabulate.

    Results are cached per measurement in ``results/overhead_samplers.json``; the Markdown
    table goes to ``results/overhead_samplers.md``.
    """
    from benchmarks.optimizers.base import missing_module
    from benchmarks.optimizers.hyperdial_adapter import hyperdial_sampler_names
    from benchmarks.runner import RESULTS_DIR

    root = root or RESULTS_DIR
    out_json = root / "overhead_samplers.json"
    cache: dict[str, Any] = json.loads(out_json.read_text()) if out_json.exists() and not force else {}
    samplers = list(samplers or hyperdial_sampler_names())
    optuna_missing = missing_module("optuna")
    if optuna_missing:
        log(f"overhead: Optuna counterparts skipped: {optuna_missing}")
    for storage in storages:
        for n in trials:
            for sampler in samplers:
                jobs = [("hyperdial", sampler)]
                cp = OPTUNA_COUNTERPART.get(sampler)
                if cp and not optuna_missing and not (cp == "gp" and missing_module("torch")):
                    jobs.append(("optuna", cp))
                for lib, name in jobs:
                    key = f"{lib}|{name}|{storage}|{n}|{max_seconds}"
                    if key in cache:
                        continue
                    r = measure(lib, name, storage, n, max_seconds)
                    cache[key] = r
                    root.mkdir(parents=True, exist_ok=True)
                    out_json.write_text(json.dumps(cache, indent=1))
                    log(
                        f"overhead {lib:9s} {name:7s} {storage:6s} n={n:6d}: "
                        + (
                            f"{r['ms_per_trial']:.3f} ms/trial over {r['done']} trials, +{r['peak_rss_mb']:.1f} MB"
                            if "error" not in r
                            else "ERROR " + r["error"][-200:]
                        )
                    )
    md = _table(cache, samplers, storages, trials, max_seconds)
    (root / "overhead_samplers.md").write_text(md)
    log(md)
    return list(cache.values())


def _table(
    cache: dict[str, Any], samplers: Sequence[str], storages: Sequence[str], trials: Sequence[int], max_seconds: float
) -> str:
    lines = [
        "### Overhead per sampler (`python -m benchmarks run --parts overhead`)",
        "",
        "Objective cost ~0, 4 declared parameters, one subprocess per measurement; ms/trial = ask + tell "
        f"time averaged over the trials run (each measurement stops after {max_seconds:.0f} s: `trials run` "
        "says how many the figure covers); peak MB = resident memory added by the loop. "
        "Optuna counterpart in the same run (auto -> TPESampler, Optuna's default).",
        "",
        "| sampler | storage | trials asked | hyperdial ms/trial (trials run) | peak MB | Optuna counterpart | Optuna ms/trial (trials run) | peak MB | Optuna / hyperdial |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for storage in storages:
        for n in trials:
            for s in samplers:
                h = cache.get(f"hyperdial|{s}|{storage}|{n}|{max_seconds}")
                if h is None:
                    continue
                cp = OPTUNA_COUNTERPART.get(s)
                o = cache.get(f"optuna|{cp}|{storage}|{n}|{max_seconds}") if cp else None

                def cell(r: dict[str, Any] | None) -> tuple[str, str]:
                    if r is None:
                        return "–", "–"
                    if "error" in r:
                        return "error", "–"
                    return f"{r['ms_per_trial']:.3f} ({r['done']})", f"{r['peak_rss_mb']:.1f}"

                hc, hm = cell(h)
                oc, om = cell(o)
                ratio = "–"
                if h and o and "error" not in h and "error" not in o:
                    ratio = f"{o['ms_per_trial'] / h['ms_per_trial']:.1f}x"
                lines.append(f"| {s} | {storage} | {n:,} | {hc} | {hm} | {cp or 'none'} | {oc} | {om} | {ratio} |")
    return "\n".join(lines) + "\n"


def _main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", nargs=5, metavar=("LIB", "SAMPLER", "STORAGE", "N", "MAX_SECONDS"), required=True)
    a = p.parse_args(argv)
    lib, sampler, storage, n, max_s = a.child
    print(json.dumps(_child(lib, sampler, storage, int(n), float(max_s))))


if __name__ == "__main__":
    _main()
