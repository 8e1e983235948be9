"""Implicit hypergradients (hyperdial.gradient) against TPE (hyperdial's and Optuna's) and a grid, side by side.

Four problems, each split per seed into train / validation / test (standardised features):

* ``synth_logistic``: ``make_classification`` with 50 features of which 5 are informative,
  L2 logistic regression with one penalty per feature (50 hyperparameters);
* ``breast_cancer``: L2 logistic regression, one penalty per feature (30);
* ``kr_diabetes``: RBF kernel ridge on diabetes, one lengthscale per feature + the penalty (11);
* ``kr_friedman1``: the same on ``make_friedman1`` (10 features, 5 relevant; 11).

Methods, each with a budget of 80 inner solves (model fits) on the same splits:

* ``hypergrad``: ``hyperoptimize`` (Adam on log-hyperparameters, exact Hessian solve, warm
  starts) from a default start (penalty 1/n_train, i.e. scikit-learn's C=1; lengthscale
  sqrt(p), kernel penalty 0.1); the kept iterate is the one with the lowest validation loss;
* ``tpe``: hyperdial's TPE, 80 trials over the same hyperparameters (log-uniform boxes);
* ``optuna_tpe``: Optuna's TPESampler, same space, 80 trials;
* ``grid30``: 30 log-spaced values of one shared penalty (kernel ridge: the penalty, at the
  default lengthscale);
* ``hypergrad + guard``: the same run following the gradient of the first half of the
  validation split only, the second half choosing the kept iterate (its validation loss is
  then measured on the whole validation split, like the others);
* ``hypergrad, folds=4``: ``hyperoptimize(..., folds=4)``, the library's guard against
  over-fitting the validation split: the validation samples are divided into 4 folds, one
  path per fold follows the loss of the other 3 (19 inner solves each), and the kept
  log-hyperparameters are the mean of the 4 paths' kept ones (one more solve: 77 in all);
  its validation loss is measured on the whole validation split. The method and its default
  (4 folds, the same ``lr``) were chosen on development seeds 100-104 (``--first-seed 100``)
  before seeds 0-4 were run;
* ``estimator``: the user-facing ``HyperLogisticRegression`` / ``HyperKernelRidge`` fitted on
  train + validation pooled (3-fold averaged hypergradients, a guard split, refit); its test
  loss only (it has no common validation split), with its number of inner solves.

Reported: validation loss (log loss / MSE) of the kept configuration, its test loss, the
number of hypergradient steps until the best-so-far validation loss is at most the grid's best,
and the largest relative error of the hypergradient against central finite differences
(step 1e-4 in log space) at the start and at the end.

Per problem and seed the results are cached in ``benchmarks/results/implicit_hypergradients/``
(a rerun resumes; ``--fresh`` recomputes).

Usage:
    python benchmarks/implicit_hypergradients.py [--seeds 3] [--first-seed 0] [--budget 80] [--folds 4] [--problems ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import _env  # noqa: E402

_env.setup(1)

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification, make_friedman1  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import hyperdial  # noqa: E402
from hyperdial import Float  # noqa: E402
from hyperdial.gradient import (  # noqa: E402
    HyperKernelRidge,
    HyperLogisticRegression,
    KernelRidgeProblem,
    LogisticProblem,
    hyperoptimize,
)


def _splits(x, y, n_train, n_val, seed, stratify):
    xtr, xrest, ytr, yrest = train_test_split(
        x, y, train_size=n_train, random_state=seed, stratify=y if stratify else None
    )
    xva, xte, yva, yte = train_test_split(
        xrest, yrest, train_size=n_val, random_state=seed, stratify=yrest if stratify else None
    )
    sc = StandardScaler().fit(xtr)
    return sc.transform(xtr), ytr, sc.transform(xva), yva, sc.transform(xte), yte


def make_problem(name, seed):
    """(problem, test data, start, box per hyperparameter, grid of (log) starts for the shared grid)."""
    if name in ("synth_logistic", "breast_cancer"):
        if name == "synth_logistic":
            x, y = make_classification(
                n_samples=600, n_features=50, n_informative=5, n_redundant=0, flip_y=0.05, random_state=1000 + seed
            )
        else:
            x, y = load_breast_cancer(return_X_y=True)
        xtr, ytr, xva, yva, xte, yte = _splits(x, y, 200, 150, seed, True)
        p = LogisticProblem(xtr, ytr, xva, yva, penalty="per_feature")
        h = len(yva) // 2
        p.halves = (LogisticProblem(xtr, ytr, xva[:h], yva[:h], penalty="per_feature"), (xva[h:], yva[h:]))
        start = np.full(p.n_hyper, np.log(1.0 / len(ytr)))
        box = [(np.log(1e-6), np.log(1e2))] * p.n_hyper
        grid = [np.full(p.n_hyper, v) for v in np.linspace(np.log(1e-6), np.log(1e2), 30)]
        p.pooled = (np.vstack([xtr, xva]), np.r_[ytr, yva])
        return p, (xte, yte), start, box, grid
    if name == "kr_diabetes":
        x, y = load_diabetes(return_X_y=True)
        xtr, ytr, xva, yva, xte, yte = _splits(x, y, 200, 120, seed, False)
    else:
        x, y = make_friedman1(n_samples=400, noise=1.0, random_state=1000 + seed)
        xtr, ytr, xva, yva, xte, yte = _splits(x, y, 200, 100, seed, False)
    mu, sd = ytr.mean(), ytr.std()
    ytr, yva, yte = (ytr - mu) / sd, (yva - mu) / sd, (yte - mu) / sd
    p = KernelRidgeProblem(xtr, ytr, xva, yva)
    h = len(yva) // 2
    p.halves = (KernelRidgeProblem(xtr, ytr, xva[:h], yva[:h]), (xva[h:], yva[h:]))
    d = xtr.shape[1]
    start = np.r_[np.full(d, np.log(np.sqrt(d))), np.log(0.1)]
    box = [(np.log(0.1), np.log(100.0))] * d + [(np.log(1e-6), np.log(10.0))]
    grid = [np.r_[start[:-1], v] for v in np.linspace(np.log(1e-6), np.log(10.0), 30)]
    p.pooled = (np.vstack([xtr, xva]), np.r_[ytr, yva])
    return p, (xte, yte), start, box, grid


def evaluate(p, lam):
    w = p.solve(lam)
    return p.validation(w, lam)[0], w


def fd_error(p, lam, eps=1e-4):
    w = p.solve(lam)
    _, grad, _, _ = p.hypergradient(lam, w)
    fd = np.zeros_like(lam)
    for i in range(lam.size):
        e = np.zeros_like(lam)
        e[i] = eps
        fd[i] = (evaluate(p, lam + e)[0] - evaluate(p, lam - e)[0]) / (2 * eps)
    return float(np.max(np.abs(grad - fd)) / np.max(np.abs(fd)))


def run_tpe(p, test, box, budget, seed, library):
    names = [f"h{i}" for i in range(p.n_hyper)]
    best = {"val": np.inf, "lam": None}

    def value(lam):
        v, _ = evaluate(p, lam)
        if v < best["val"]:
            best.update(val=v, lam=lam)
        return v

    if library == "hyperdial":
        space = hyperdial.SearchSpace(
            {n: Float(float(np.exp(lo)), float(np.exp(hi)), log=True) for n, (lo, hi) in zip(names, box)}
        )
        study = hyperdial.create_study(space=space, sampler="tpe", seed=seed)
        study.optimize(lambda t: value(np.log([t.params[n] for n in names])), n_trials=budget, show_progress=False)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(
            lambda t: value(
                np.log(
                    [
                        t.suggest_float(n, float(np.exp(lo)), float(np.exp(hi)), log=True)
                        for n, (lo, hi) in zip(names, box)
                    ]
                )
            ),
            n_trials=budget,
        )
    w = p.solve(best["lam"])
    return best["val"], p.loss(w, best["lam"], *test)


def run_estimator(p, test, seed):
    """The user-facing estimator on train + validation pooled: 3-fold averaged hypergradients, guard split, refit."""
    x, y = p.pooled
    xte, yte = test
    if isinstance(p, LogisticProblem):
        est = HyperLogisticRegression(penalty="per_feature", n_steps=25, cv=3, random_state=seed).fit(x, y)
        prob = np.clip(est.predict_proba(xte)[:, 1], 1e-15, 1 - 1e-15)
        return float(np.mean(-(yte * np.log(prob) + (1 - yte) * np.log(1 - prob)))), 5 * 3 + 25 * 3
    est = HyperKernelRidge(n_steps=26, cv=3, random_state=seed).fit(x, y)
    return float(np.mean((est.predict(xte) - yte) ** 2)), 26 * 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=80)
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--fresh", action="store_true", help="recompute cached problem-seeds")
    ap.add_argument("--problems", nargs="*", default=["synth_logistic", "breast_cancer", "kr_diabetes", "kr_friedman1"])
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    cache_dir = Path(__file__).resolve().parent / "results" / "implicit_hypergradients"
    cache_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.problems:
        for seed in seeds:
            cache = cache_dir / f"{name}-seed{seed}-budget{args.budget}-lr{args.lr}-folds{args.folds}.json"
            if cache.exists() and not args.fresh:
                results[(name, seed)] = json.loads(cache.read_text())
                print(name, seed, "(cached)", flush=True)
                continue
            p, test, start, box, grid = make_problem(name, seed)
            t0 = time.perf_counter()
            res = hyperoptimize(
                p, start, n_steps=args.budget, lr=args.lr, bounds=(min(b[0] for b in box), max(b[1] for b in box))
            )
            t_hg = time.perf_counter() - t0
            hg_test = p.loss(res.w, res.log_hyper, *test)
            grid_vals = [(evaluate(p, g)[0], g) for g in grid]
            gv, glam = min(grid_vals, key=lambda a: a[0])
            grid_test = p.loss(p.solve(glam), glam, *test)
            best_so_far = np.minimum.accumulate([h["value"] for h in res.history])
            reach = int(np.argmax(best_so_far <= gv)) + 1 if best_so_far[-1] <= gv else None
            fd = max(fd_error(p, start), fd_error(p, res.log_hyper))
            t0 = time.perf_counter()
            tpe_val, tpe_test = run_tpe(p, test, box, args.budget, seed, "hyperdial")
            t_tpe = time.perf_counter() - t0
            t0 = time.perf_counter()
            otpe_val, otpe_test = run_tpe(p, test, box, args.budget, seed, "optuna")
            t_otpe = time.perf_counter() - t0
            est_test, est_solves = run_estimator(p, test, seed)
            # the same budget, half of the validation split as a guard that picks the kept iterate
            half, (xg, yg) = p.halves
            resg = hyperoptimize(
                half,
                start,
                n_steps=args.budget,
                lr=args.lr,
                bounds=(min(b[0] for b in box), max(b[1] for b in box)),
                guard=lambda w, lam, half=half, xg=xg, yg=yg: half.loss(w, lam, xg, yg),
            )
            hgg_val = p.validation(p.solve(resg.log_hyper), resg.log_hyper)[0]
            hgg_test = p.loss(resg.w, resg.log_hyper, *test)
            # the library's cross-fitted averaging: same problem, same budget, whole validation split scored
            t0 = time.perf_counter()
            resf = hyperoptimize(
                p,
                start,
                n_steps=args.budget,
                lr=args.lr,
                bounds=(min(b[0] for b in box), max(b[1] for b in box)),
                folds=args.folds,
                seed=seed,
            )
            t_hgf = time.perf_counter() - t0
            hgf_test = p.loss(resf.w, resf.log_hyper, *test)
            r = dict(
                hgf_val=resf.value,
                hgf_test=hgf_test,
                hgf_solves=len(resf.history),
                t_hgf=t_hgf,
                hgg_val=hgg_val,
                hgg_test=hgg_test,
                est_test=est_test,
                est_solves=est_solves,
                hg_val=res.value,
                hg_test=hg_test,
                tpe_val=tpe_val,
                tpe_test=tpe_test,
                otpe_val=otpe_val,
                otpe_test=otpe_test,
                grid_val=gv,
                grid_test=grid_test,
                reach=reach,
                fd=fd,
                t_hg=t_hg,
                t_tpe=t_tpe,
                t_otpe=t_otpe,
            )
            results[(name, seed)] = r
            cache.write_text(json.dumps(r))
            print(name, seed, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)

    print()
    print(f"budget {args.budget} inner solves per method, seeds {seeds[0]}-{seeds[-1]} (mean; test in brackets)")
    print(
        f"| problem | hypergrad val [test] | hypergrad folds={args.folds} val [test] | hyperdial TPE val [test] | Optuna TPE val [test] | grid30 shared val [test] | hypergrad + guard half val [test] | estimator test (solves) | steps to grid best (per seed) | max FD rel. error | time hypergrad / hyperdial TPE / Optuna TPE (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.problems:
        rs = [results[(name, s)] for s in seeds]

        def m(k, rs=rs):
            return float(np.mean([r[k] for r in rs]))

        reach = ", ".join(str(r["reach"]) if r["reach"] is not None else "never" for r in rs)
        print(
            f"| {name} | {m('hg_val'):.4f} [{m('hg_test'):.4f}] | {m('hgf_val'):.4f} [{m('hgf_test'):.4f}] | {m('tpe_val'):.4f} [{m('tpe_test'):.4f}] | "
            f"{m('otpe_val'):.4f} [{m('otpe_test'):.4f}] | {m('grid_val'):.4f} [{m('grid_test'):.4f}] | "
            f"{m('hgg_val'):.4f} [{m('hgg_test'):.4f}] | {m('est_test'):.4f} ({rs[0]['est_solves']}) | {reach} | "
            f"{max(r['fd'] for r in rs):.1e} | {m('t_hg'):.1f} / {m('t_tpe'):.1f} / {m('t_otpe'):.1f} "
            f"(folds: {m('t_hgf'):.1f}, {rs[0]['hgf_solves']} solves) |"
        )
    print()
    print("per-seed wins of hypergrad over hyperdial TPE (val; test):")
    for name in args.problems:
        rs = [results[(name, s)] for s in seeds]
        wv = sum(r["hg_val"] < r["tpe_val"] for r in rs)
        wt = sum(r["hg_test"] <= r["tpe_test"] for r in rs)
        wvo = sum(r["hg_val"] < r["otpe_val"] for r in rs)
        wto = sum(r["hg_test"] <= r["otpe_test"] for r in rs)
        print(
            f"  {name}: val {wv}/{len(rs)}, test {wt}/{len(rs)} (vs Optuna TPE: val {wvo}/{len(rs)}, test {wto}/{len(rs)})"
        )
        print(
            "    per-seed test: hypergrad "
            + " / ".join(f"{r['hg_test']:.4f}" for r in rs)
            + "; hyperdial TPE "
            + " / ".join(f"{r['tpe_test']:.4f}" for r in rs)
            + "; estimator "
            + " / ".join(f"{r['est_test']:.4f}" for r in rs)
            + "; hypergrad+guard "
            + " / ".join(f"{r['hgg_test']:.4f}" for r in rs)
        )
        wg = sum(r["hgg_test"] <= r["tpe_test"] for r in rs)
        wgv = sum(r["hgg_val"] < r["tpe_val"] for r in rs)
        print(f"    hypergrad+guard vs hyperdial TPE: val {wgv}/{len(rs)}, test {wg}/{len(rs)}")
        fv, ft = sum(r["hgf_val"] < r["tpe_val"] for r in rs), sum(r["hgf_test"] <= r["tpe_test"] for r in rs)
        fvo, fto = sum(r["hgf_val"] < r["otpe_val"] for r in rs), sum(r["hgf_test"] <= r["otpe_test"] for r in rs)
        print(
            f"    hypergrad folds={args.folds} vs hyperdial TPE: val {fv}/{len(rs)}, test {ft}/{len(rs)} "
            f"(vs Optuna TPE: val {fvo}/{len(rs)}, test {fto}/{len(rs)}); per-seed val / test: "
            + " / ".join(f"{r['hgf_val']:.4f}" for r in rs)
            + "; "
            + " / ".join(f"{r['hgf_test']:.4f}" for r in rs)
        )


if __name__ == "__main__":
    main()
