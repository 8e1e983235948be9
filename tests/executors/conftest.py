"""Helpers shared by the executor tests."""

from __future__ import annotations

import hyperdial


def run_pruned_study(study, n_trials: int, **optimize_kwargs) -> None:
    """A reporting, prunable objective run through ``optimize``; checks what every executor must deliver."""

    def objective(t):
        x = t.suggest_float("x", -3, 3)
        for step in range(3):
            t.report((x - 1) ** 2 + 1 / (step + 1), step)
            if t.should_prune():
                raise hyperdial.TrialPruned
        return (x - 1) ** 2

    study.optimize(objective, n_trials=n_trials, show_progress=False, **optimize_kwargs)
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(n_trials))
    assert all(t.state in (hyperdial.TrialState.COMPLETE, hyperdial.TrialState.PRUNED) for t in trials)
    assert all(t.intermediate_values for t in trials)
