"""Gradient-based tuning in hyperdial, three ways (runs in well under a minute on a CPU).

1. An estimator that picks its own penalties by implicit hypergradients.
2. A learning rate that adapts while the model trains (hypergradient descent), recorded on a
   trial and replayed exactly with plain SGD.
3. A learning-rate schedule searched by TPE like any other hyperparameter.

    python examples/gradient_tuning.py
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import hyperdial
from hyperdial import Float
from hyperdial.control import ControlLoop, ReplayController, recorded_schedule
from hyperdial.gradient import SGDHD, HyperLogisticRegression, apply_lr
from hyperdial.schedules import ScheduleController, WarmupCosine

torch.set_num_threads(1)

# 1. the L2 penalty chosen by hypergradients on 3 folds, a guard split picks the kept iterate
x, y = load_breast_cancer(return_X_y=True)
xtr, xte, ytr, yte = train_test_split(x, y, random_state=0, stratify=y)
sc = StandardScaler().fit(xtr)
clf = HyperLogisticRegression(n_steps=25, random_state=0).fit(sc.transform(xtr), ytr)
print(f"HyperLogisticRegression test accuracy {clf.score(sc.transform(xte), yte):.3f}")

# 2. hypergradient learning rate on an MLP for digits, recorded and replayed
x, y = load_digits(return_X_y=True)
x = torch.tensor(StandardScaler().fit_transform(x), dtype=torch.float32)
y = torch.tensor(y)
xtr, ytr, xva, yva = x[:1200], y[:1200], x[1200:], y[1200:]


def train(lr0, make_opt, loop=None, epochs=5):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = make_opt(model.parameters(), lr0)
    step = 0
    for _ in range(epochs):
        for i in range(0, 1200, 50):
            if loop is not None:
                apply_lr(opt, loop.params)  # the replayed rate for this step
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xtr[i : i + 50]), ytr[i : i + 50]).backward()
            opt.step()
            if loop is not None:
                loop.step(step)
            step += 1
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(xva), yva).item(), opt


def adaptive(trial):
    lr0 = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    val, opt = train(
        lr0, lambda p, lr: SGDHD(p, lr=lr, momentum=0.9, hypergrad_lr=0.05, hypergrad_mode="multiplicative")
    )
    opt.record_schedule(trial)  # the learning rate of every step, on the trial
    return val


study = hyperdial.create_study(seed=0)
study.optimize(adaptive, n_trials=3, show_progress=False)
for t in study.trials:
    print(f"SGDHD from lr {t.params['lr']:.1e}: val loss {t.value:.3f}")
best = study.best_trial
replayed, _ = train(
    best.params["lr"],
    lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    loop=ControlLoop(ReplayController(recorded_schedule(best)), {"lr": best.params["lr"]}),
)
print(f"replayed with plain SGD: val loss {replayed:.3f} (recorded {best.value:.3f})")


# 3. a warm-up + cosine schedule searched by TPE: its fields are ordinary parameters
def scheduled(trial):
    lr = trial.suggest_schedule("lr", WarmupCosine(Float(1e-3, 1.0, log=True), total_steps=5 * 24))
    loop = ControlLoop(ScheduleController({"lr": lr}), {"lr": lr(0)}, trial=trial)
    val, _ = train(lr(0), lambda p, lr0: torch.optim.SGD(p, lr=lr0, momentum=0.9), loop=loop)
    return val


study = hyperdial.create_study(sampler="tpe", seed=0)
study.optimize(scheduled, n_trials=12, show_progress=False)
print(f"best schedule {study.best_params}: val loss {study.best_value:.3f}")
