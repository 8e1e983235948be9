"""Hypergradient learning rates (hyperdial.gradient.SGDHD) against plain torch SGD, side by side.

An MLP (64-64-10, ReLU) on scikit-learn's digits (1,797 images; 1,000 train / 397
validation / 400 test, standardised), mini-batches of 50, the same number of epochs for
every run, the same initial weights and batch order for every run of a seed:

* **sensitivity**: final validation loss for initial learning rates 1e-4 .. 1e-2 (5 values),
  plain ``torch.optim.SGD`` against ``SGDHD`` (same momentum); the spread (max - min) over
  the five starts;
* **grid vs one run**: a 5-point grid of plain SGD learning rates (1e-3 .. 1, log-spaced, 5 full
  trainings) against one ``SGDHD`` run started at 1e-3 (a fifth of the compute);
* **replay**: the learning-rate schedule ``SGDHD`` recorded on a hyperdial trial, replayed with
  plain ``torch.optim.SGD`` through ``ControlLoop(ReplayController(...))``; the final
  validation losses of the two runs are compared.

With ``--controller`` the rate is adapted by ``HypergradientController`` in a ``ControlLoop``
(any torch optimizer; the same rule one step later) instead of ``SGDHD``.

Usage:
    python benchmarks/hypergradient_lr.py [--seeds 5] [--epochs 15] [--mode additive --beta 0.1 --momentum 0]
        [--controller]

Prints a Markdown table (means and per-seed values); BLAS and torch threads capped at 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import _env  # noqa: E402

_env.setup(1)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import hyperdial  # noqa: E402
from hyperdial.control import ControlLoop, ReplayController, recorded_schedule  # noqa: E402
from hyperdial.gradient import SGDHD, HypergradientController, apply_lr  # noqa: E402

torch.set_num_threads(1)
START_LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
GRID_LRS = [1e-3, 1e-2, 1e-1, 0.3, 1.0]


def data(seed: int):
    x, y = load_digits(return_X_y=True)
    xtr, xrest, ytr, yrest = train_test_split(x, y, train_size=1000, random_state=seed, stratify=y)
    xva, xte, yva, yte = train_test_split(xrest, yrest, test_size=400, random_state=seed, stratify=yrest)
    sc = StandardScaler().fit(xtr)

    def t(a):
        return torch.tensor(sc.transform(a), dtype=torch.float32)

    return (t(xtr), torch.tensor(ytr)), (t(xva), torch.tensor(yva)), (t(xte), torch.tensor(yte))


def train(seed, split, epochs, make_opt, *, loop=None, batch=50):
    (xtr, ytr), (xva, yva), _ = split
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = make_opt(model.parameters())
    if loop is None and hasattr(opt, "loop"):  # a HypergradientController drives this optimizer
        loop = opt.loop
    g = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(xtr.shape[0], generator=g)
        for i in range(0, xtr.shape[0], batch):
            idx = perm[i : i + batch]
            if loop is not None:
                apply_lr(opt, loop.params)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if loop is not None:
                loop.step(step, {"loss": loss.item()})
            step += 1
    with torch.no_grad():
        val = torch.nn.functional.cross_entropy(model(xva), yva).item()
    val = val if np.isfinite(val) else float("inf")
    return val, opt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--beta", type=float, default=0.05, help="hyper-learning-rate")
    ap.add_argument("--mode", default="multiplicative", choices=["multiplicative", "additive"])
    ap.add_argument(
        "--controller",
        action="store_true",
        help="adapt the rate with HypergradientController in a ControlLoop (one step delayed) instead of SGDHD",
    )
    args = ap.parse_args()
    mom = args.momentum

    def hd(lr):
        if args.controller:

            def make(p):
                opt = torch.optim.SGD(p, lr=lr, momentum=mom)
                ctrl = HypergradientController(opt, hypergrad_lr=args.beta, hypergrad_mode=args.mode, lr_max=2.0)
                opt.loop = ControlLoop(ctrl, {"lr": lr})
                return opt

            return make
        return lambda p: SGDHD(p, lr=lr, momentum=mom, hypergrad_lr=args.beta, hypergrad_mode=args.mode, lr_max=2.0)

    def sgd(lr):
        return lambda p: torch.optim.SGD(p, lr=lr, momentum=mom)

    rows = []
    for seed in range(args.seeds):
        split = data(seed)
        t0 = time.perf_counter()
        sgd_vals = [train(seed, split, args.epochs, sgd(lr))[0] for lr in START_LRS]
        t_sgd = time.perf_counter() - t0
        t0 = time.perf_counter()
        hd_runs = [train(seed, split, args.epochs, hd(lr)) for lr in START_LRS]
        t_hd = time.perf_counter() - t0
        hd_vals = [v for v, _ in hd_runs]
        grid_vals = [train(seed, split, args.epochs, sgd(lr))[0] for lr in GRID_LRS]
        one = hd_vals[START_LRS.index(1e-3)]
        final_lrs = [opt.loop.params["lr"] if hasattr(opt, "loop") else opt.param_groups[0]["lr"] for _, opt in hd_runs]

        # replay: record the SGDHD run started at 1e-3 on a trial, replay it with plain SGD
        study = hyperdial.create_study(seed=seed)
        recorded = {}

        def record(trial, seed=seed, split=split, recorded=recorded):
            lr0 = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
            val, opt = train(seed, split, args.epochs, hd(lr0))
            if hasattr(opt, "loop"):
                trial.set_system_attr("schedule", opt.loop.schedule.to_json())
            else:
                opt.record_schedule(trial)
            recorded["val"] = val
            return val

        study.enqueue_trial({"lr": 1e-3})
        study.optimize(record, n_trials=1, show_progress=False)
        sched = recorded_schedule(study.trials[0])
        loop = ControlLoop(ReplayController(sched), {"lr": 1e-3})
        replay_val, _ = train(seed, split, args.epochs, sgd(1e-3), loop=loop)
        rows.append(
            dict(
                seed=seed,
                sgd=sgd_vals,
                hd=hd_vals,
                grid=grid_vals,
                one=one,
                final_lrs=final_lrs,
                replay_diff=abs(replay_val - study.trials[0].value),
                t_sgd=t_sgd,
                t_hd=t_hd,
                sched_len=len(sched.steps),
            )
        )
        r = rows[-1]
        print(
            f"seed {seed}: SGD val {np.round(sgd_vals, 3)} spread {np.ptp(sgd_vals):.3f} | "
            f"SGDHD val {np.round(hd_vals, 3)} spread {np.ptp(hd_vals):.3f} final lrs {np.round(final_lrs, 3)} | "
            f"grid {np.round(grid_vals, 3)} best {min(grid_vals):.3f} vs one HD run {one:.3f} | "
            f"replay |diff| {r['replay_diff']:.2e} ({r['sched_len']} lr changes) | time SGD {t_sgd:.1f}s HD {t_hd:.1f}s",
            flush=True,
        )

    def ms(key, f):
        vals = np.array([f(r[key]) for r in rows])
        return f"{vals.mean():.3f}", " / ".join(f"{v:.3f}" for v in vals)

    print()
    which = "HypergradientController" if args.controller else "SGDHD"
    print(
        f"MLP 64-64-10 on digits, {args.epochs} epochs, batch 50, momentum {mom}, {which} {args.mode} beta={args.beta}"
    )
    print(f"| figure | hyperdial {which} | plain torch SGD | per seed (hyperdial; competitor) |")
    print("|---|---|---|---|")
    a, a_s = ms("hd", np.ptp)
    b, b_s = ms("sgd", np.ptp)
    print(f"| spread of final val loss over lr0 in 1e-4..1e-2 | {a} | {b} | {a_s}; {b_s} |")
    a, a_s = ms("one", float)
    b, b_s = ms("grid", min)
    ratio = np.mean([r["one"] / min(r["grid"]) for r in rows])
    print(
        f"| val loss: one run from 1e-3 (1 training) vs best of 5-point grid (5 trainings) | {a} | {b} | {a_s}; {b_s} |"
    )
    print(f"| ratio one-run / best-grid (mean over seeds) | {ratio:.3f} | | |")
    worst = max(r["replay_diff"] for r in rows)
    print(f"| replay of the recorded schedule with plain SGD: max abs diff of final val loss | {worst:.1e} | | |")
    t_ratio = np.mean([r["t_hd"] / r["t_sgd"] for r in rows])
    print(f"| wall time per training {which} / SGD (contended machine) | {t_ratio:.2f}x | | |")


if __name__ == "__main__":
    main()
