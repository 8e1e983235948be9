"""Population-based training against random search at the same compute (issue 5).

    taskset -c 1 python benchmarks/pbt.py                 # the reported configuration, seeds 0-19
    taskset -c 1 python benchmarks/pbt.py --first-seed 100  # development seeds

Problem: scikit-learn's ``MLPClassifier(solver="sgd", hidden_layer_sizes=(64,))`` on digits
(1,797 images), ``EPOCHS`` = 10 epochs of batch 200 per model (50 SGD steps: a short budget,
where how the step size moves over training matters). Every seed draws its own stratified
split (``--train`` 1,000 / ``--val`` 400 rows, the remaining 397 are the held-out test set;
``--split fixed`` keeps the one split of the earlier runs; ``--augment`` adds each image's
one-pixel shifts to the part it is in, 5x the rows). Both contenders rank models by the
validation **log-loss** (``--metric logloss``, the default: continuous where accuracy moves
in steps of one row, and sensitive to how far the optimiser converged) or by validation
accuracy (``--metric accuracy``), and select the model with the best validation value. The
selected model's held-out test log-loss and test accuracy are reported whatever the metric.

* **Random search** (the baseline, not handicapped): ``fit`` with ``max_iter=EPOCHS`` and a
  configuration drawn from learning_rate_init (log 1e-4..1), momentum (0.5..0.99), alpha
  (log 1e-6..0.1) *and* scikit-learn's built-in schedules: ``learning_rate`` in
  {constant, invscaling, adaptive}, ``power_t`` (0.05..0.9, invscaling) and
  ``n_iter_no_change`` (2..10: how soon ``adaptive`` divides the rate by 5; a non-adaptive
  model stops there when the loss stalls). Trials are drawn until ``POPULATION * EPOCHS``
  epochs are spent (``n_iter_`` of each fit counts, so early-stopped models leave room for
  more trials).
* **PBT** (hyperdial.schedulers.PBT): ``POPULATION`` = 16 members drawn from the same ranges
  of learning_rate_init, momentum and alpha, trained with ``partial_fit`` one epoch at a time,
  constant between decisions; every ``INTERVAL`` = 2 epochs the bottom ``--quantile`` (0.25)
  copies a top-quarter member's model (checkpoint) and perturbs its hyperparameters (x0.8 /
  x1.2, or resampled with probability ``--resample`` 0.25: the library's defaults), ranked by
  the same validation metric. The learning rate and momentum are set on the network's
  optimizer (``_optimizer.learning_rate`` / ``.momentum``: the values ``partial_fit`` uses from
  then on). ``--mode sync`` (default): the members train side by side, one thread each, and
  wait for each other before every decision, so each ranks itself against the whole
  population at that step, as in the paper (deterministic: the same run twice gives the same
  numbers). ``--mode sequential``: one member after another (the earlier runs); member n then
  only sees, and copies from, members 0..n-1.
* **Schedule ablation** (``--ablation``, default on; ``--no-ablation``): the selected PBT
  member's lineage schedule (:func:`hyperdial.schedulers.lineage_schedule`) is replayed from
  scratch (it must give the same model), and its first and its last values are each held
  constant over all epochs (same initial weights and random state): does the schedule itself
  matter, or only the values PBT ended with?

Same total epochs for both. BLAS threads capped at 1; threads of the sync mode can overlap in
NumPy, so pin the run to one core (``taskset -c 1``) on a shared machine. Other options:
``--epochs``, ``--interval``, ``--batch``, ``--population``, ``--seeds`` / ``--first-seed``,
``--data synthetic`` (a fallback: a harder synthetic task), ``--json PATH`` (per-seed results).
"""

from __future__ import annotations

import argparse
import json
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
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

EPOCHS = 10
POPULATION = 16
INTERVAL = 2
BATCH = 200
CLASSES = np.arange(10)
PBT_OPTIONS: dict = {"quantile": 0.25, "resample_probability": 0.25}
METRIC = "logloss"
WORST_LOSS = 10.0  # a diverged model's log-loss (NaN weights) is counted as this


def data(
    kind: str = "digits",
    split: str = "per-seed",
    seed: int = 0,
    train: int = 1000,
    val: int = 400,
    augment: bool = False,
):
    """Train / validation / test arrays, standardised on the training rows.

    Args:
        kind: ``"digits"`` (real) or ``"synthetic"`` (fallback).
        split: ``"per-seed"``: a stratified split drawn from ``seed``; ``"fixed"``: one
            permutation for every seed (the earlier runs).
        seed: The run's seed (per-seed splits).
        train: Training rows.
        val: Validation rows (the rest is the test set).
        augment: Add each digit's one-pixel shifts to the part it is in (after the split: no leakage).
    """
    if kind == "digits":
        X, y = load_digits(return_X_y=True)
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
        train, val = 4000, 2000
    if split == "fixed":
        idx = np.random.default_rng(12345).permutation(len(y))
        X, y = X[idx], y[idx]
        Xtr, ytr, Xva, yva = X[:train], y[:train], X[train : train + val], y[train : train + val]
        Xte, yte = X[train + val :], y[train + val :]
    else:
        Xtr, Xrest, ytr, yrest = train_test_split(X, y, train_size=train, stratify=y, random_state=seed)
        Xva, Xte, yva, yte = train_test_split(Xrest, yrest, train_size=val, stratify=yrest, random_state=seed + 1)
    if augment:
        Xtr, ytr, Xva, yva, Xte, yte = (*shifted(Xtr, ytr), *shifted(Xva, yva), *shifted(Xte, yte))
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), ytr, sc.transform(Xva), yva, sc.transform(Xte), yte


def shifted(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 images and their copies shifted by one pixel up, down, left and right (zero-filled): 5x the rows."""
    imgs = X.reshape(-1, 8, 8)
    out = [imgs]
    for axis, shift in ((1, -1), (1, 1), (2, -1), (2, 1)):
        s = np.roll(imgs, shift, axis=axis)
        edge = (slice(None), 0 if shift == 1 else -1)
        if axis == 1:
            s[edge[0], edge[1], :] = 0.0
        else:
            s[edge[0], :, edge[1]] = 0.0
        out.append(s)
    return np.concatenate(out).reshape(-1, 64), np.tile(y, 5)


def scores(clf: MLPClassifier, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(log-loss, accuracy) of ``clf`` on ``X, y``; a diverged model gets ``WORST_LOSS``."""
    with np.errstate(all="ignore"):
        p = clf.predict_proba(X)
    if not np.all(np.isfinite(p)):
        return WORST_LOSS, float(np.mean(y == 0))
    loss = min(float(log_loss(y, p, labels=CLASSES)), WORST_LOSS)
    return loss, float(np.mean(clf.classes_[np.argmax(p, axis=1)] == y))


def objective_value(loss: float, acc: float) -> float:
    """The value both contenders rank by (smaller is better)."""
    return loss if METRIC == "logloss" else -acc


def random_search(seed: int, budget: int, D) -> dict:
    Xtr, ytr, Xva, yva, Xte, yte = D
    rng = np.random.default_rng(seed)
    spent = 0
    best: dict = {"obj": math.inf}
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
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            clf.fit(Xtr, ytr)
        spent += clf.n_iter_
        n += 1
        vl, va = scores(clf, Xva, yva)
        obj = objective_value(vl, va)
        if obj < best["obj"]:
            tl, ta = scores(clf, Xte, yte)
            best = {"obj": obj, "val_loss": vl, "val_acc": va, "test_loss": tl, "test_acc": ta, "config": cfg}
    return {**best, "trials": n, "epochs": spent}


def pbt(seed: int, D, jobs: int = 1, mode: str = "sync", ablation: bool = False) -> dict:
    import threading

    import hyperdial
    from hyperdial.control import ControlLoop
    from hyperdial.schedulers import PBT

    Xtr, ytr, Xva, yva, Xte, yte = D
    sched = PBT(interval=INTERVAL, population_size=POPULATION, seed=seed, **PBT_OPTIONS)
    # "sync": the members train side by side (one thread each, so one core at a time under the GIL)
    # and wait for each other at every decision step, so each member ranks itself against the whole
    # population at that step, as in the paper. "sequential": one member after another; member n
    # then compares with (and copies from) members 0..n-1 only.
    barrier = threading.Barrier(POPULATION, timeout=600) if mode == "sync" else None

    def objective(trial):
        member = sched.member(trial)
        start = {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "momentum": trial.suggest_float("momentum", 0.5, 0.99),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        }
        loop = ControlLoop(member, start, trial=trial)
        clf = network(start, seed * 1000 + trial.number)
        for epoch in range(EPOCHS):
            p = loop.params
            clf.set_params(alpha=p["alpha"])
            if hasattr(clf, "_optimizer"):
                clf._optimizer.learning_rate = p["lr"]
                clf._optimizer.momentum = p["momentum"]
            else:
                clf.set_params(learning_rate_init=p["lr"], momentum=p["momentum"])
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.partial_fit(Xtr, ytr, classes=CLASSES)
            value = objective_value(*scores(clf, Xva, yva))
            trial.report(value, epoch)
            member.save(epoch, clf)
            if barrier is not None and member.is_ready(epoch):
                barrier.wait()  # every member has reported and saved its checkpoint at this step
            loop.step(epoch, {"val": value})
            clf = member.restore(clf)
        vl, va = scores(clf, Xva, yva)
        tl, ta = scores(clf, Xte, yte)
        trial.set_user_attr("scores", {"val_loss": vl, "val_acc": va, "test_loss": tl, "test_acc": ta})
        return objective_value(vl, va)

    study = hyperdial.create_study(direction="minimize", sampler="random", seed=seed)
    out: dict = {}
    if mode == "sync":
        study.optimize(objective, n_trials=POPULATION, n_jobs=POPULATION, parallel="thread", show_progress=False)
    else:
        study.optimize(objective, n_trials=POPULATION, n_jobs=jobs, show_progress=False)
    best = study.best_trial
    sched.release(study)
    n_exploits = sum(len(t.system_attrs["pbt"]["exploits"]) for t in study.trials)
    if ablation:
        out["ablation"] = schedule_ablation(study, best.number, seed, D)
    return {
        "obj": best.value,
        **best.user_attrs["scores"],
        "exploits": n_exploits,
        "epochs": POPULATION * EPOCHS,  # every member trains every epoch (also in worker processes)
        **out,
    }


def _root(trials, number: int, upto: int | None = None) -> int:
    """The member whose initial weights (and random state) member ``number``'s weights descend from."""
    exploits = [e for e in trials[number].system_attrs["pbt"]["exploits"] if upto is None or e["step"] < upto]
    return number if not exploits else _root(trials, exploits[-1]["donor"], exploits[-1]["step"])


def network(p: dict, random_state: int) -> MLPClassifier:
    """The SGD network both PBT members and lineage replays train, with ``p``'s starting values."""
    return MLPClassifier(
        hidden_layer_sizes=(64,),
        solver="sgd",
        learning_rate_init=p["lr"],
        momentum=p["momentum"],
        alpha=p["alpha"],
        batch_size=BATCH,
        random_state=random_state,
    )


def train(params_at, random_state: int, D) -> MLPClassifier:
    """One model trained ``EPOCHS`` epochs with ``params_at(epoch)`` (lr, momentum, alpha) in force at each epoch."""
    Xtr, ytr = D[0], D[1]
    clf = network(params_at(0), random_state)
    for epoch in range(EPOCHS):
        p = params_at(epoch)
        clf.set_params(alpha=p["alpha"])
        if hasattr(clf, "_optimizer"):
            clf._optimizer.learning_rate = p["lr"]
            clf._optimizer.momentum = p["momentum"]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(Xtr, ytr, classes=CLASSES)
    return clf


def schedule_ablation(study, number: int, seed: int, D) -> dict:
    """Does the selected member's schedule matter? Its lineage schedule replayed from scratch (the same
    weights), and the lineage's first and last values each held constant over all epochs (same
    initial weights and random state)."""
    from hyperdial.schedulers import lineage_schedule

    lineage = lineage_schedule(study, number)
    rs = seed * 1000 + _root(study.trials, number)
    first, last = lineage.at(0), lineage.at(EPOCHS - 1)
    res = {"first": first, "last": last, "lr_path": [lineage.at(e)["lr"] for e in range(EPOCHS)]}
    for name, at in (("replay", lineage.at), ("first_const", lambda e: first), ("last_const", lambda e: last)):
        clf = train(at, rs, D)
        vl, va = scores(clf, D[2], D[3])
        tl, ta = scores(clf, D[4], D[5])
        res[name] = {"val_loss": vl, "val_acc": va, "test_loss": tl, "test_acc": ta}
    return res


def mean_se(x):
    x = np.asarray(x, dtype=float)
    return x.mean(), (x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan)


def main() -> int:
    global EPOCHS, INTERVAL, BATCH, POPULATION, METRIC
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0, help="development seeds: 100 and up")
    ap.add_argument("--population", type=int, default=POPULATION)
    ap.add_argument("--quantile", type=float, default=PBT_OPTIONS["quantile"])
    ap.add_argument("--resample", type=float, default=PBT_OPTIONS["resample_probability"])
    ap.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    ap.add_argument("--split", choices=["per-seed", "fixed"], default="per-seed")
    ap.add_argument("--train", type=int, default=1000, help="training rows (digits)")
    ap.add_argument("--val", type=int, default=400, help="validation rows (digits); the rest is the test set")
    ap.add_argument("--augment", action="store_true", help="digits: add one-pixel shifts (x5 rows in each part)")
    ap.add_argument("--metric", choices=["logloss", "accuracy"], default=METRIC)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--interval", type=int, default=INTERVAL)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--mode", choices=["sync", "sequential"], default="sync", help="PBT population (see pbt())")
    ap.add_argument("--jobs", type=int, default=1, help="sequential mode: members trained at once (processes)")
    ap.add_argument(
        "--ablation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay the selected member's schedule and hold it constant",
    )
    ap.add_argument("--json", default=None, help="write the per-seed results here")
    args = ap.parse_args()
    EPOCHS, INTERVAL, BATCH, POPULATION, METRIC = args.epochs, args.interval, args.batch, args.population, args.metric
    PBT_OPTIONS.update(quantile=args.quantile, resample_probability=args.resample)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        D = data(args.data, args.split, seed, args.train, args.val, args.augment)
        t0 = time.perf_counter()
        p = pbt(seed, D, args.jobs, args.mode, args.ablation)
        t1 = time.perf_counter()
        r = random_search(seed, p["epochs"], D)
        t2 = time.perf_counter()
        rows.append((p, r))
        print(
            f"seed {seed}: PBT val {p['val_loss']:.4f}/{p['val_acc']:.4f} test {p['test_loss']:.4f}/{p['test_acc']:.4f} "
            f"({p['exploits']} exploits, {t1 - t0:.0f} s) | RS val {r['val_loss']:.4f}/{r['val_acc']:.4f} "
            f"test {r['test_loss']:.4f}/{r['test_acc']:.4f} ({r['trials']} trials, {r['epochs']} epochs, "
            f"{t2 - t1:.0f} s, best {r['config']['learning_rate']})",
            file=sys.stderr,
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": [{"pbt": p, "rs": r} for p, r in rows]}, f, indent=1)
    print(
        f"MLPClassifier(sgd) on {args.data} ({len(D[1])}/{len(D[3])}/{len(D[5])} rows, {args.split} split), "
        f"batch {BATCH}, {EPOCHS} epochs, population {POPULATION}, interval {INTERVAL}, quantile {args.quantile}, "
        f"resample {args.resample}, PBT {args.mode}, seeds {args.first_seed}-{args.first_seed + args.seeds - 1}; "
        f"same epochs for both; both rank and select by validation {METRIC}.\n"
    )
    print("| | PBT | random search (incl. adaptive / invscaling) | PBT − RS | PBT better (W/T/L) |")
    print("|---|---:|---:|---:|---:|")
    for key, label, sign in (
        ("val_loss", "validation log-loss", -1),
        ("test_loss", "test log-loss", -1),
        ("val_acc", "validation accuracy", 1),
        ("test_acc", "test accuracy", 1),
    ):
        a = np.array([p[key] for p, _ in rows])
        b = np.array([r[key] for _, r in rows])
        (ma, sa), (mb, sb), (md, sd) = mean_se(a), mean_se(b), mean_se(a - b)
        d = sign * (a - b)
        wtl = f"{int((d > 0).sum())}/{int((d == 0).sum())}/{int((d < 0).sum())}"
        print(f"| {label} | {ma:.4f} ± {sa:.4f} | {mb:.4f} ± {sb:.4f} | {md:+.4f} ± {sd:.4f} | {wtl} |")
    if args.ablation:
        print(
            "\nSchedule ablation (the selected PBT member's lineage; same initial weights and random state; "
            "Δ = variant − PBT's selected model, W = seeds where PBT's model is better):\n"
        )
        print("| variant | test log-loss | Δ (W/T/L) | test accuracy | Δ (W/T/L) |")
        print("|---|---:|---:|---:|---:|")
        for name, label in (
            ("replay", "lineage schedule replayed from scratch"),
            ("first_const", "its initial values held constant"),
            ("last_const", "its final values held constant"),
        ):
            cols = []
            for key, sign in (("test_loss", -1), ("test_acc", 1)):
                a = np.array([p["ablation"][name][key] for p, _ in rows])
                b = np.array([p[key] for p, _ in rows])
                (ma, sa), (md, sd) = mean_se(a), mean_se(a - b)
                d = sign * (b - a)
                wtl = f"{int((d > 0).sum())}/{int((d == 0).sum())}/{int((d < 0).sum())}"
                cols.append(f"{ma:.4f} ± {sa:.4f} | {md:+.4f} ± {sd:.4f} ({wtl})")
            print(f"| {label} | {' | '.join(cols)} |")
    print(
        f"\nRandom search trials per seed: {np.mean([r['trials'] for _, r in rows]):.1f} (mean); "
        f"best RS schedules: {[r['config']['learning_rate'] for _, r in rows]}; "
        f"PBT exploits per seed: {np.mean([p['exploits'] for p, _ in rows]):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
