"""Multi-fidelity: best value reached against total resource spent, with and without pruning.

Learning-curve problems (a trial reports a value after every epoch and may be stopped):

* ``lc-sgd-digits`` (real): ``SGDClassifier.partial_fit`` one epoch at a time on digits
  (1,797 rows; fixed 70/30 split); value = validation error after each epoch; up to 27 epochs.
  Parameters: ``alpha`` (log), ``eta0`` (log), ``learning_rate`` and ``loss`` (categorical).
* ``lc-synthetic`` (known optimum): ``value(x, t) = branin(x) + a(x) * ((T/t)^0.7 - 1) / (T^0.7 - 1) * 10``
  on Branin's box; ``a(x)`` varies over the box so curves cross (early ranking is not the
  final ranking). At ``t = T`` the value is Branin's, whose optimum is 0.397887.

Contenders. With random sampling, so that only the stopping rule differs: every hyperdial
pruner in ``hyperdial.pruners.PRUNERS`` (``none`` = full-budget random search) through
``trial.report`` / ``trial.should_prune``; Optuna's ``MedianPruner`` and ``HyperbandPruner``
(``min_resource=1, max_resource=T, reduction_factor=3``); a library-free full-budget random
search. With model-based sampling (``SAMPLED``): ``hyperdial-<pruner>@<sampler>`` (e.g. BOHB
= ``hyperdial-bohb@tpe``, ASHA with the default sampler = ``hyperdial-asha@auto``) against
Optuna's TPE with its Hyperband and median pruners (``optuna-tpe-hyperband``,
``optuna-tpe-median``).

Each run spends ``resource_factor * T`` epochs (trials keep starting until the total is
reached). Score: the best *final-epoch* value among trials that ran to the end, at 25%,
50% and 100% of the total resource (regret against the optimum for the synthetic
problem), mean ± SE over seeds.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.space import CatParam, FloatParam, Space

__all__ = ["LC_PROBLEMS", "LearningCurveProblem", "run_multifidelity"]

#: pruner names that repeat another entry, and options some pruners need
PRUNER_ALIASES = {"successive_halving"}
#: model-based contenders: hyperdial pruner@sampler, and Optuna's TPE with its pruners
SAMPLED = (
    "hyperdial-bohb@tpe",
    "hyperdial-bohb@auto",
    "hyperdial-hyperband@tpe",
    "hyperdial-asha@auto",
    "hyperdial-asha@tpe",
    "hyperdial-median@tpe",
    "optuna-tpe-hyperband",
    "optuna-tpe-median",
)
FRACTIONS = (0.25, 0.5, 1.0)


@dataclass
class LearningCurveProblem:
    """A problem whose trials report a value per epoch ``1..max_epochs``.

    Attributes:
        name: Stable name.
        space: Search space.
        max_epochs: ``T``, the full budget of one trial.
        make: Returns ``curve(config) -> iterator of values, one per epoch``.
        optimum: Known optimum of the final value, or ``None``.
    """

    name: str
    space: Space
    max_epochs: int
    make: Callable[[], Callable[[Mapping[str, Any]], Any]]
    optimum: float | None = None


# ------------------------------------------------------------------ SGD on digits
def _sgd_curve_factory():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xva = sc.transform(Xtr), sc.transform(Xva)
    classes = np.unique(y)

    def curve(c: Mapping[str, Any]):
        clf = SGDClassifier(
            alpha=c["alpha"], eta0=c["eta0"], learning_rate=c["learning_rate"], loss=c["loss"], random_state=0
        )
        rng = np.random.default_rng(0)
        for _ in range(SGD_EPOCHS):
            idx = rng.permutation(len(ytr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.partial_fit(Xtr[idx], ytr[idx], classes=classes)
            yield float(1.0 - clf.score(Xva, yva))

    return curve


SGD_EPOCHS = 27
SGD_SPACE = Space(
    [
        FloatParam("alpha", 1e-6, 1e-1, log=True),
        FloatParam("eta0", 1e-4, 1.0, log=True),
        CatParam("learning_rate", ["constant", "invscaling", "adaptive", "optimal"]),
        CatParam("loss", ["hinge", "log_loss", "modified_huber", "perceptron"]),
    ]
)

# ------------------------------------------------------------------ synthetic
SYN_EPOCHS = 27
BRANIN_MIN = 0.397887357729738
SYN_SPACE = Space([FloatParam("x1", -5.0, 10.0), FloatParam("x2", 0.0, 15.0)])


def _branin(x1: float, x2: float) -> float:
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def _syn_curve_factory():
    def curve(c: Mapping[str, Any]):
        x1, x2 = c["x1"], c["x2"]
        a = 1.0 + math.sin(0.9 * x1) * math.cos(0.7 * x2)  # in [0, 2]: slow starters exist everywhere
        final = _branin(x1, x2)
        denom = SYN_EPOCHS**0.7 - 1
        for t in range(1, SYN_EPOCHS + 1):
            yield final + a * ((SYN_EPOCHS / t) ** 0.7 - 1) / denom * 10.0

    return curve


LC_PROBLEMS = {
    "lc-sgd-digits": LearningCurveProblem("lc-sgd-digits", SGD_SPACE, SGD_EPOCHS, _sgd_curve_factory),
    "lc-synthetic": LearningCurveProblem("lc-synthetic", SYN_SPACE, SYN_EPOCHS, _syn_curve_factory, BRANIN_MIN),
}


# ------------------------------------------------------------------ contenders
def _hyperdial_pruner(name: str, T: int) -> Any:
    from hyperdial.pruners import get_pruner

    options = {
        "hyperband": {"min_resource": 1, "max_resource": T},
        "bohb": {"min_resource": 1, "max_resource": T},
        "asha": {"min_resource": 1, "max_resource": T},
    }.get(name, {})
    return get_pruner(name, **options)


def contenders(T: int) -> dict[str, str | None]:
    """Contender name -> ``None`` when runnable, else the reason it is skipped."""
    from benchmarks.optimizers.base import missing_module

    out: dict[str, str | None] = {}
    try:
        from hyperdial.pruners import PRUNERS

        for name in PRUNERS:
            if name in PRUNER_ALIASES:
                continue
            try:
                _hyperdial_pruner(name, T)
                out[f"hyperdial-{name}"] = None
            except (TypeError, ValueError) as exc:
                out[f"hyperdial-{name}"] = f"needs problem-specific options: {exc}"
    except ImportError as exc:
        out["hyperdial"] = str(exc)
    reason = missing_module("optuna")
    out["optuna-median"] = reason
    out["optuna-hyperband"] = reason
    for name in SAMPLED:
        out[name] = reason if name.startswith("optuna-") else out.get("hyperdial")
    out["random-full-budget"] = None
    return out


def _run_one(problem: LearningCurveProblem, contender: str, seed: int, total: int) -> list[tuple[int, float]]:
    """Run until ``total`` epochs are spent.

    Returns:
        ``(resource spent so far, final value)`` for each trial that ran all epochs, in order;
        pruned trials only add to the resource.
    """
    curve = problem.make()
    T = problem.max_epochs
    spent = 0
    completed: list[tuple[int, float]] = []
    if contender == "random-full-budget":
        rng = np.random.default_rng(seed)
        while spent < total:
            v = math.nan
            for v in curve(problem.space.sample(rng)):  # noqa: B007 (the last value counts)
                spent += 1
            completed.append((spent, v))
        return completed
    if contender.startswith("hyperdial-"):
        import hyperdial

        pname, _, sampler = contender.removeprefix("hyperdial-").partition("@")
        study = hyperdial.create_study(
            space=problem.space.to_hyperdial(),
            sampler=sampler or "random",
            pruner=_hyperdial_pruner(pname, T),
            seed=seed,
        )
        while spent < total:
            trial = study.ask()
            pruned = False
            v = math.nan
            for step, v in enumerate(curve(dict(trial.params)), 1):
                spent += 1
                trial.report(v, step)
                if step < T and trial.should_prune():
                    pruned = True
                    break
            if pruned:
                study.tell(trial, state="pruned")
            else:
                study.tell(trial, v)
                completed.append((spent, v))
        return completed
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = (
        optuna.pruners.MedianPruner()
        if contender.endswith("-median")
        else optuna.pruners.HyperbandPruner(min_resource=1, max_resource=T, reduction_factor=3)
    )
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if contender.startswith("optuna-tpe-")
        else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(sampler=sampler, pruner=pruner)
    while spent < total:
        trial = study.ask()
        config = problem.space.suggest_optuna(trial)
        pruned = False
        v = math.nan
        for step, v in enumerate(curve(config), 1):
            spent += 1
            trial.report(v, step)
            if step < T and trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, v)
            completed.append((spent, v))
    return completed


def _best_at(completed: Sequence[tuple[int, float]], budget: float) -> float:
    vals = [v for r, v in completed if r <= budget]
    return min(vals) if vals else math.inf


def run_multifidelity(
    seeds: Sequence[int] = (0, 1, 2),
    resource_factor: int = 20,
    pruners: Sequence[str] | None = None,
    problems: Sequence[str] = tuple(LC_PROBLEMS),
    *,
    root: Path | None = None,
    force: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Run every contender on every learning-curve problem and seed; cache per run; write Markdown."""
    from benchmarks import _env
    from benchmarks.runner import RESULTS_DIR

    _env.setup()
    root = root or RESULTS_DIR
    folder = root / "multifidelity"
    results: dict[str, Any] = {}
    for pname in problems:
        prob = LC_PROBLEMS[pname]
        total = resource_factor * prob.max_epochs
        for cname, reason in contenders(prob.max_epochs).items():
            base = cname.removeprefix("hyperdial-").partition("@")[0]
            if pruners and cname.startswith("hyperdial-") and base not in pruners:
                continue
            if reason:
                log(f"multifidelity: skipping {cname}: {reason}")
                continue
            for seed in seeds:
                path = folder / pname / cname / f"r{total}-s{seed}.json"
                if path.exists() and not force:
                    res = json.loads(path.read_text())
                else:
                    t0 = time.perf_counter()
                    try:
                        completed = _run_one(prob, cname, seed, total)
                        res = {
                            "status": "ok",
                            "completed": completed,
                            "total": total,
                            "seconds": time.perf_counter() - t0,
                        }
                    except Exception as exc:
                        res = {
                            "status": "error",
                            "reason": f"{type(exc).__name__}: {exc}",
                            "completed": [],
                            "total": total,
                        }
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(res))
                    log(f"multifidelity {pname} {cname} s{seed}: {res['status']} {res.get('reason', '')}")
                results[f"{pname}|{cname}|{seed}"] = res
    md = _table(results, problems, seeds, resource_factor)
    root.mkdir(parents=True, exist_ok=True)
    (root / "multifidelity.md").write_text(md)
    log(md)
    return results


def _table(results: dict[str, Any], problems: Sequence[str], seeds: Sequence[int], factor: int) -> str:
    from benchmarks.scoring import mean_se

    lines = [
        "### Multi-fidelity (`python -m benchmarks run --parts multifidelity`)",
        "",
        f"Random sampling everywhere; total resource = {factor} x max epochs per run; {len(seeds)} seed(s). "
        "Cells: best final-epoch value among trials run to the end, after 25% / 50% / 100% of the total "
        "resource (lc-synthetic: regret to the known optimum; lc-sgd-digits: validation error), mean ± SE "
        "over seeds; lower is better. 'completed' = trials that ran all epochs (mean).",
        "",
    ]
    for pname in problems:
        prob = LC_PROBLEMS[pname]
        off = prob.optimum or 0.0
        lines += [
            f"**{pname}** (T = {prob.max_epochs} epochs)",
            "",
            "| contender | @25% | @50% | @100% | completed |",
            "|---|---:|---:|---:|---:|",
        ]
        names = sorted({k.split("|")[1] for k in results if k.startswith(pname + "|")})
        for c in names:
            runs = [results.get(f"{pname}|{c}|{s}") for s in seeds]
            runs = [r for r in runs if r and r["status"] == "ok"]
            if not runs:
                lines.append(f"| {c} | error | | | |")
                continue
            cells = []
            for frac in FRACTIONS:
                vals = [_best_at(r["completed"], frac * r["total"]) - off for r in runs]
                m, se = mean_se(vals)
                cells.append("–" if math.isnan(m) else (f"{m:.4f} ± {se:.4f}" if not math.isnan(se) else f"{m:.4f}"))
            n_done = sum(len(r["completed"]) for r in runs) / len(runs)
            lines.append(f"| {c} | " + " | ".join(cells) + f" | {n_done:.1f} |")
        lines.append("")
    return "\n".join(lines)
