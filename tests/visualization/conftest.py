"""Real studies the visualization tests draw: stored in SQLite and reopened, as the CLI would."""

from __future__ import annotations

import math

import pytest

import hyperdial


def mixed_objective(trial: hyperdial.Trial) -> float:
    """Log-scale, integer, categorical and conditional parameters; reports; some prune, some fail."""
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    model = trial.suggest_categorical("model", ["mlp", "tree"])
    if model == "mlp":
        width = trial.suggest_float("width", 0.0, 1.0)
    else:
        width = 0.5
    loss = (math.log10(lr) + 2) ** 2 + 0.3 * layers + (width - 0.3) ** 2 + (0.5 if model == "tree" else 0.0)
    for step in range(4):
        trial.report(loss + 1.0 / (step + 1), step)
        if trial.should_prune():
            raise hyperdial.TrialPruned
    if trial.number % 11 == 7:
        raise RuntimeError("diverged")
    return loss


@pytest.fixture
def mixed_study(tmp_path) -> hyperdial.Study:
    url = f"sqlite:///{tmp_path / 'vis.db'}"
    study = hyperdial.create_study(
        "mixed", url, seed=0, sampler="random", pruner=hyperdial.MedianPruner(n_startup_trials=8)
    )
    study.optimize(mixed_objective, n_trials=40, show_progress=False, catch=(RuntimeError,))
    return hyperdial.load_study("mixed", url)


@pytest.fixture
def two_objective_study() -> hyperdial.Study:
    study = hyperdial.create_study(directions=["minimize", "maximize"], seed=1, sampler="random")

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_float("y", 0, 1)
        return x**2 + y, 1 - (x - 1) ** 2 - y

    study.optimize(objective, n_trials=40, show_progress=False)
    return study


@pytest.fixture
def empty_study() -> hyperdial.Study:
    return hyperdial.create_study("nothing-yet", seed=0)
