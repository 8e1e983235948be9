"""Plots and importance on a 10,000-trial study: hyperdial against ``optuna.visualization``, side by side.

Both libraries get the same study: the same 10,000 trials (parameters drawn once with a
seeded numpy generator: a float, a log-float, an int, a 3-way categorical and two more
floats; 5 intermediate values each; every 10th trial pruned after 2 steps, every 50th
failed), built through each library's own API (hyperdial ``ask(fixed=...)`` / ``tell``,
Optuna ``create_trial`` / ``add_trials``), in memory. A second, two-objective study of
the same size serves the Pareto front plots.

Timed per plot: building the data and the plotly figure (hyperdial: builder +
``to_plotly``; Optuna: ``optuna.visualization.plot_*``), and for hyperdial also the
matplotlib path (builder + figure + PNG file). Importance: fANOVA and PED-ANOVA in both
libraries. Optuna's contour plot is also timed at smaller sizes (it interpolates through
every trial, issue #732).

Every measurement runs in a fresh subprocess that builds its study first (not timed) and
then times its calls; processes alternate between the libraries, repeat by repeat, so
drifts of the (shared) machine hit both. A call still running after ``--timeout`` seconds
is reported as "> timeout". Results go to ``--out`` (JSON) and are printed as Markdown.

Usage:
    python benchmarks/visualization.py [--trials 10000] [--repeats 3] [--timeout 300]
        [--contour-sizes 1000 2000 5000] [--out benchmarks/results/visualization.json]
    python benchmarks/visualization.py --worker hyperdial --kinds report fanova-all   # report; fANOVA on all trials
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
HERE = Path(__file__).resolve()

PLOTS = ["history", "parallel", "slice", "contour", "intermediate", "edf", "timeline", "pareto", "importance-plot"]
IMPORTANCE = ["fanova", "ped-anova"]
CONTOUR_PARAMS = ["a", "b", "c", "d"]


# --------------------------------------------------------------------------------------------
# The shared trial data
# --------------------------------------------------------------------------------------------
def trial_data(n: int, seed: int = 0) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 1, n)
    b = np.exp(rng.uniform(np.log(1e-5), 0.0, n))
    c = rng.integers(1, 101, n)
    d = rng.choice(["x", "y", "z"], n)
    e = rng.uniform(-1, 1, n)
    f = rng.uniform(0, 10, n)
    value = (
        (a - 0.3) ** 2 + 0.1 * np.abs(np.log10(b) + 3) + 0.01 * c + (d == "y") * 0.5 + 0.05 * e + rng.normal(0, 0.01, n)
    )
    second = 1 - a + 0.2 * e**2
    return {
        "params": [
            {"a": float(a[i]), "b": float(b[i]), "c": int(c[i]), "d": str(d[i]), "e": float(e[i]), "f": float(f[i])}
            for i in range(n)
        ],
        "value": value.tolist(),
        "second": second.tolist(),
    }


def _steps(v: float) -> list[float]:
    return [v + 1.0 / (s + 1) for s in range(5)]


def build_hyperdial(n: int, multi: bool) -> Any:
    import hyperdial

    data = trial_data(n)
    study = hyperdial.create_study(directions=["minimize", "minimize"] if multi else None, seed=0, sampler="random")
    for i, p in enumerate(data["params"]):
        t = study.ask(fixed=p)
        t.suggest_float("a", 0, 1)
        t.suggest_float("b", 1e-5, 1, log=True)
        t.suggest_int("c", 1, 100)
        t.suggest_categorical("d", ["x", "y", "z"])
        t.suggest_float("e", -1, 1)
        t.suggest_float("f", 0, 10)
        v = data["value"][i]
        if multi:
            study.tell(t, [v, data["second"][i]])
            continue
        for s, iv in enumerate(_steps(v)[: 2 if i % 10 == 0 else 5]):
            t.report(iv, s)
        if i % 50 == 25:
            study.tell(t, state=hyperdial.TrialState.FAILED)
        elif i % 10 == 0:
            study.tell(t, state=hyperdial.TrialState.PRUNED)
        else:
            study.tell(t, v)
    return study


def build_optuna(n: int, multi: bool) -> Any:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = trial_data(n)
    dists = {
        "a": FloatDistribution(0, 1),
        "b": FloatDistribution(1e-5, 1, log=True),
        "c": IntDistribution(1, 100),
        "d": CategoricalDistribution(["x", "y", "z"]),
        "e": FloatDistribution(-1, 1),
        "f": FloatDistribution(0, 10),
    }
    study = optuna.create_study(directions=["minimize", "minimize"] if multi else None)
    trials = []
    State = optuna.trial.TrialState
    for i, p in enumerate(data["params"]):
        v = data["value"][i]
        if multi:
            trials.append(optuna.trial.create_trial(params=p, distributions=dists, values=[v, data["second"][i]]))
            continue
        steps = _steps(v)[: 2 if i % 10 == 0 else 5]
        inter = dict(enumerate(steps))
        if i % 50 == 25:
            trials.append(
                optuna.trial.create_trial(params=p, distributions=dists, state=State.FAIL, intermediate_values=inter)
            )
        elif i % 10 == 0:
            trials.append(
                optuna.trial.create_trial(params=p, distributions=dists, state=State.PRUNED, intermediate_values=inter)
            )
        else:
            trials.append(optuna.trial.create_trial(params=p, distributions=dists, value=v, intermediate_values=inter))
    study.add_trials(trials)
    return study


# --------------------------------------------------------------------------------------------
# Timed calls
# --------------------------------------------------------------------------------------------
def hyperdial_call(kind: str, study: Any, multi: Any, backend: str) -> Any:
    from hyperdial import visualization as vis
    from hyperdial.importance import fanova, ped_anova

    if kind == "fanova":
        return lambda: fanova(study)
    if kind == "ped-anova":
        return lambda: ped_anova(study)
    if kind == "fanova-all":  # no subsampling: every complete trial in the forest
        return lambda: fanova(study, max_trials=None)
    if kind == "report":  # the whole HTML report (every plot, both importances), built as one string
        from hyperdial.visualization.report import build_report

        return lambda: build_report(study)
    builder = {
        "history": lambda: vis.optimization_history(study),
        "parallel": lambda: vis.parallel_coordinates(study),
        "slice": lambda: vis.slices(study),
        "contour": lambda: vis.contour(study, CONTOUR_PARAMS),
        "intermediate": lambda: vis.intermediate_values(study),
        "edf": lambda: vis.edf(study),
        "timeline": lambda: vis.timeline(study),
        "pareto": lambda: vis.pareto_front(multi),
        "importance-plot": lambda: vis.param_importances(study),
    }[kind]
    if backend == "plotly":
        return lambda: vis.to_plotly(builder())

    def png() -> None:
        import io

        vis.to_matplotlib(builder()).savefig(io.BytesIO(), format="png", dpi=80)

    return png


def optuna_call(kind: str, study: Any, multi: Any) -> Any:
    import optuna
    import optuna.visualization as ov

    return {
        "fanova": lambda: optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        ),
        "ped-anova": lambda: optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        ),
        "history": lambda: ov.plot_optimization_history(study),
        "parallel": lambda: ov.plot_parallel_coordinate(study),
        "slice": lambda: ov.plot_slice(study),
        "contour": lambda: ov.plot_contour(study, params=CONTOUR_PARAMS),
        "intermediate": lambda: ov.plot_intermediate_values(study),
        "edf": lambda: ov.plot_edf(study),
        "timeline": lambda: ov.plot_timeline(study),
        "pareto": lambda: ov.plot_pareto_front(multi),
        "importance-plot": lambda: ov.plot_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        ),
    }[kind]


def worker(lib: str, kinds: list[str], n: int, backend: str) -> None:
    sys.path.insert(0, str(HERE.parent))
    import _env  # noqa: F401  (threads capped, logging off)

    _env.cap_threads(1)
    _env.quiet()
    build = build_hyperdial if lib == "hyperdial" else build_optuna
    study = build(n, multi=False)
    multi = build(n, multi=True) if "pareto" in kinds else None
    # Warm-up, the same in every process and untimed: imports and plotly's / matplotlib's
    # first-figure costs, so the first timed plot does not pay them for the others.
    import io

    import plotly.graph_objects as go
    import scipy.ndimage  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).to_dict()
    fig = Figure()
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1])
    fig.savefig(io.BytesIO(), format="png")
    for kind in kinds:
        fn = hyperdial_call(kind, study, multi, backend) if lib == "hyperdial" else optuna_call(kind, study, multi)
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        print(json.dumps({"lib": lib, "kind": kind, "n": n, "backend": backend, "seconds": dt}), flush=True)


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def run_worker(lib: str, kinds: list[str], n: int, backend: str, timeout: float) -> list[dict]:
    cmd = [sys.executable, str(HERE), "--worker", lib, "--kinds", *kinds, "--trials", str(n), "--backend", backend]
    env = {**os.environ, **_THREAD_ENV}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    done = {r["kind"] for r in rows}
    for k in kinds:
        if k not in done:
            rows.append({"lib": lib, "kind": k, "n": n, "backend": backend, "seconds": None, "timeout": timeout})
            if proc.returncode not in (0, -9) and err:
                print(err[-2000:], file=sys.stderr)
    return rows


def _median(rows: list[dict]) -> float | None:
    vals = [r["seconds"] for r in rows if r["seconds"] is not None]
    if len(vals) < len(rows):
        return None
    return statistics.median(vals) if vals else None


def _fmt(v: float | None, timeout: float) -> str:
    return f"> {timeout:.0f} s (stopped)" if v is None else f"{v:.2f} s"


def report(rows: list[dict], n: int, timeout: float) -> str:
    def pick(lib: str, kind: str, backend: str = "plotly", size: int = n) -> list[dict]:
        return [r for r in rows if r["lib"] == lib and r["kind"] == kind and r["backend"] == backend and r["n"] == size]

    lines = [
        f"| {n:,} trials | hyperdial, data + plotly figure | hyperdial, data + matplotlib PNG | Optuna | Optuna / hyperdial |",
        "|---|---|---|---|---|",
    ]
    for kind in PLOTS + IMPORTANCE:
        hd = _median(pick("hyperdial", kind))
        mp = _median(pick("hyperdial", kind, "matplotlib")) if kind in PLOTS else None
        op_rows = pick("optuna", kind)
        op = _median(op_rows)
        ratio = "" if hd is None or not op_rows else (f"{op / hd:.2g}x" if op is not None else f"> {timeout / hd:.0f}x")
        mp_text = _fmt(mp, timeout) if kind in PLOTS else "n/a"
        lines.append(
            f"| {kind} | {_fmt(hd, timeout)} | {mp_text} | {_fmt(op, timeout) if op_rows else '-'} | {ratio} |"
        )
    sizes = sorted({r["n"] for r in rows if r["kind"] == "contour" and r["n"] != n})
    if sizes:
        lines += ["", "| contour plot (4 parameters) | hyperdial | Optuna |", "|---|---|---|"]
        for s in [*sizes, n]:
            lines.append(
                f"| {s:,} trials | {_fmt(_median(pick('hyperdial', 'contour', size=s)), timeout)} | "
                f"{_fmt(_median(pick('optuna', 'contour', size=s)), timeout)} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--contour-sizes", type=int, nargs="*", default=[1000, 2000, 5000])
    ap.add_argument("--out", default=str(HERE.parent / "results" / "visualization.json"))
    ap.add_argument("--worker", choices=["hyperdial", "optuna"])
    ap.add_argument("--kinds", nargs="*")
    ap.add_argument("--backend", default="plotly")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.kinds, args.trials, args.backend)
        return
    rows: list[dict] = []
    fast = [k for k in PLOTS + IMPORTANCE if k not in ("contour", "fanova", "importance-plot")]
    for rep in range(args.repeats):
        print(f"repeat {rep + 1}/{args.repeats}", file=sys.stderr, flush=True)
        # Alternate the libraries; Optuna's slow calls each get their own process and time limit.
        rows += run_worker("hyperdial", PLOTS + IMPORTANCE, args.trials, "plotly", args.timeout)
        rows += run_worker("optuna", fast, args.trials, "plotly", args.timeout)
        rows += run_worker("hyperdial", PLOTS, args.trials, "matplotlib", args.timeout)
        if rep == 0:  # Optuna's slow calls once each, in their own process (fANOVA, contour per size)
            for kind in ("fanova", "importance-plot"):
                rows += run_worker("optuna", [kind], args.trials, "plotly", args.timeout)
            for size in [*args.contour_sizes, args.trials]:
                if size != args.trials:
                    rows += run_worker("hyperdial", ["contour"], size, "plotly", args.timeout)
                rows += run_worker("optuna", ["contour"], size, "plotly", args.timeout)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(report(rows, args.trials, args.timeout))


if __name__ == "__main__":
    main()
