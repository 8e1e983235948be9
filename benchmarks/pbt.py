"""Population-based training against random search at the same compute (issue 5).

    python benchmarks/pbt.py --seeds 5

Problem: scikit-learn's ``MLPClassifier(solver="sgd", hidden_layer_sizes=(64,))`` on digits
(1,797 images: 1,000 train / 400 validation / 397 test, fixed split), ``EPOCHS`` epochs
per model. Both contenders select their model on the validation set; the held-out test
accuracy of the selected model is reported too.

* **Random search** (the baseline, not handicapped): ``fit`` with ``max_iter=EPOCHS`` and a
  configuration drawn from learning_rate_init (log 1e-4..1), momentum (0.5..0.99), alpha
  (log 1e-6..0.1) *and* scikit-learn's built-in schedules: ``learning_rate`` in
  {constant, invscaling, adaptive}, ``power_t`` (0.05..0.9, invscaling) and
  ``n_iter_no_change`` (2..10: how soon ``adaptive`` divides the rate by 5; a non-adaptive
  model stops there when the loss stalls). Trials are drawn until ``POPULATION * EPOCHS``
  epochs are spent (``n_iter_`` of each fit counts, so early-stopped models leave room for
  more trials).
* **PBT** (hyperdial.schedulers.PBT, one process): ``POPULATION`` members drawn from the same
  ranges of learning_rate_init, momentum and alpha, trained with ``partial_fit`` one epoch at
  a time, constant schedule; every ``INTERVAL`` epochs the bottom quarter copies a top-quarter
  member's model (checkpoint) and perturbs its hyperparameters. The learning rate and
  momentum are set on the network's optimizer (``_optimizer.learning_rate`` /
  ``.momentum``: the values ``partial_fit`` uses from then on).

Same total epochs for both. BLAS threads capped at 1.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

EPOCHS = 30
POPULATION = 16
INTERVAL = 3
BATCH = 32
CLASSES = np.arange(10)
PBT_OPTIONS: dict = {"quantile": 0.25}


def data(kind: str = "digits"):
    if kind == "digits":
        X, y = load_digits(return_X_y=True)
        a, b = 1000, 1400
    else:  # a harder synthetic task with larger validation and test sets (less selection noise)
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=8000,
            n_features=40,
            n_informative=24,
            n_classes=10,
            n_clusters_per_class=2,
            class_sep=1.2,
            flip_y=0.01,
            random_state=0,
        )
        a, b = 4000, 6000
    idx = np.random.default_rng(12345).permutation(len(y))
    X, y = X[idx], y[idx]
    sc = StandardScaler().fit(X[:a])
    X = sc.transform(X)
    return X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:]


def random_search(seed: int, budget: int, D) -> dict:
    Xtr, ytr, Xva, yva, Xte, yte = D
    rng = np.random.default_rng(seed)
    spent = 0
    best = (-1.0, None, None)
    n = 0
    while spent < budget:
        cfg = {
            "learning_rate_init": float(10 ** rng.uniform(-4, 0)),
            "momentum": float(rng.uniform(0.5, 0.99)),
            "alpha": float(10 ** rng.uniform(-6, -1)),
            "learning_rate": str(rng.choice(["constant", "invscaling", "adaptive"])),
            "power_t": float(rng.uniform(0.05, 0.9)),
            "n_iter_no_change": int(rng.integers(2, 11)),
        }
        clf = MLPClassifier(
            hidden_layer_sizes=(64,),
            solver="sgd",
            max_iter=min(EPOCHS, budget - spent),
            random_state=seed * 1000 + n,
            batch_size=BATCH,
            **cfg,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xtr, ytr)
        spent += clf.n_iter_
        n += 1
        val = clf.score(Xva, yva)
        if val > best[0]:
            best = (val, clf.score(Xte, yte), cfg)
    return {"val": best[0], "test": best[1], "config": best[2], "trials": n, "epochs": spent}


def pbt(seed: int, D, jobs: int = 1) -> dict:
    import hyperdial
    from hyperdial.control import ControlLoop
    from hyperdial.schedulers import PBT

    Xtr, ytr, Xva, yva, Xte, yte = D
    sched = PBT(interval=INTERVAL, population_size=POPULATION, seed=seed, **PBT_OPTIONS)
    spent = [0]

    def objective(trial):
        member = sched.member(trial)
        start = {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "momentum": trial.suggest_float("momentum", 0.5, 0.99),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        }
        loop = ControlLoop(member, start, trial=trial)
        clf = MLPClassifier(
            hidden_layer_sizes=(64,),
            solver="sgd",
            learning_rate_init=start["lr"],
            momentum=start["momentum"],
            alpha=start["alpha"],
            batch_size=BATCH,
            random_state=seed * 1000 + trial.number,
        )
        for epoch in range(EPOCHS):
            p = loop.params
            clf.set_params(alpha=p["alpha"])
            if hasattr(clf, "_optimizer"):
                clf._optimizer.learning_rate = p["lr"]
                clf._optimizer.momentum = p["momentum"]
            else:
                clf.set_params(learning_rate_init=p["lr"], momentum=p["momentum"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.partial_fit(Xtr, ytr, classes=CLASSES)
            spent[0] += 1
            val = clf.score(Xva, yva)
            trial.report(val, epoch)
            member.save(epoch, clf)
            loop.step(epoch, {"val": val})
            clf = member.restore(clf)
        trial.set_user_attr("test", clf.score(Xte, yte))
        return clf.score(Xva, yva)

    study = hyperdial.create_study(direction="maximize", sampler="random", seed=seed)
    study.optimize(objective, n_trials=POPULATION, n_jobs=jobs, show_progress=False)
    best = study.best_trial
    sched.release(study)
    n_exploits = sum(len(t.system_attrs["pbt"]["exploits"]) for t in study.trials)
    return {
        "val": best.value,
        "test": best.user_attrs["test"],
        "schedule": best.system_attrs.get("schedule"),
        "exploits": n_exploits,
        "epochs": POPULATION * EPOCHS,  # every member trains every epoch (also in worker processes)
    }


def mean_se(x):
    x = np.asarray(x, dtype=float)
    return x.mean(), (x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan)


def main() -> int:
    global EPOCHS, INTERVAL, BATCH, POPULATION
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="development seeds: e.g. 100")
    ap.add_argument("--population", type=int, default=POPULATION)
    ap.add_argument("--quantile", type=float, default=0.25)
    ap.add_argument("--resample", type=float, default=0.25, help="PBT resample_probability")
    ap.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--interval", type=int, default=INTERVAL)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--jobs", type=int, default=1, help="PBT members trained at once (process workers)")
    args = ap.parse_args()
    EPOCHS, INTERVAL, BATCH, POPULATION = args.epochs, args.interval, args.batch, args.population
    PBT_OPTIONS.update(quantile=args.quantile, resample_probability=args.resample)
    D = data(args.data)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        p = pbt(seed, D, args.jobs)
        t1 = time.perf_counter()
        r = random_search(seed, p["epochs"], D)
        t2 = time.perf_counter()
        rows.append((p, r))
        print(
            f"seed {seed}: PBT val {p['val']:.4f} test {p['test']:.4f} ({p['exploits']} exploits, {p['epochs']} epochs, "
            f"{t1 - t0:.0f} s) | RS val {r['val']:.4f} test {r['test']:.4f} ({r['trials']} trials, {r['epochs']} epochs, "
            f"{t2 - t1:.0f} s, best {r['config']['learning_rate']})",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"MLPClassifier(sgd) on {args.data} ({len(D[1])}/{len(D[3])}/{len(D[5])} rows), batch {BATCH}, {EPOCHS} epochs, population {POPULATION}, interval {INTERVAL}, PBT n_jobs={args.jobs}, "
        f"{args.seeds} seeds; same epochs for both; selected on validation (400), test = 397 held out.\n"
    )
    print("| | PBT | random search (incl. adaptive / invscaling) | PBT − RS (wins/seeds) |")
    print("|---|---:|---:|---:|")
    for key, label in (
        ("val", "validation accuracy of the selected model"),
        ("test", "test accuracy of the selected model"),
    ):
        a = np.array([p[key] for p, _ in rows])
        b = np.array([r[key] for _, r in rows])
        (ma, sa), (mb, sb), (md, sd) = mean_se(a), mean_se(b), mean_se(a - b)
        print(
            f"| {label} | {ma:.4f} ± {sa:.4f} | {mb:.4f} ± {sb:.4f} | {md:+.4f} ± {sd:.4f} ({int((a > b).sum())}/{len(a)}) |"
        )
    print(
        f"\nRandom search trials per seed: {np.mean([r['trials'] for _, r in rows]):.1f} (mean); "
        f"best RS schedules: {[r['config']['learning_rate'] for _, r in rows]}; "
        f"PBT exploits per seed: {np.mean([p['exploits'] for p, _ in rows]):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
