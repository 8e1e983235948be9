"""Pruner contract (every pruner) and algorithm checks on hand-built histories."""

from __future__ import annotations

import numpy as np
import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.history import History
from hyperdial.pruners import (
    Decision,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatiencePruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
    hyperband_brackets,
)
from hyperdial.storages import Event, EventKind
from hyperdial.trial import Direction

PRUNER_FACTORIES = {
    "none": NopPruner,
    "median": lambda: MedianPruner(n_startup_trials=2),
    "percentile": lambda: PercentilePruner(25, n_startup_trials=2),
    "asha": lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    "hyperband": lambda: HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3),
    "threshold": lambda: ThresholdPruner(upper=5.0),
    "patience": lambda: PatiencePruner(MedianPruner(n_startup_trials=2), patience=3),
}


def learning_curve(trial):
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    loss = 1.0
    for step in range(1, 28):
        loss = abs(np.log10(lr) + 1.5) + 1.0 / step
        trial.report(loss, step)
        if trial.should_prune():
            raise hyperdial.TrialPruned
    return loss


@pytest.fixture(params=sorted(PRUNER_FACTORIES))
def pruner_factory(request):
    return PRUNER_FACTORIES[request.param]


def test_contract_runs_end_to_end_and_keeps_the_best(pruner_factory):
    study = hyperdial.create_study(sampler="random", seed=0, pruner=pruner_factory())
    study.optimize(learning_curve, n_trials=30, show_progress=False)
    states = [t.state for t in study.trials]
    assert TrialState.COMPLETE in states
    assert all(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    best = study.best_trial
    assert best.state == TrialState.COMPLETE and len(best.intermediate_values) == 27


def test_contract_no_report_means_continue(pruner_factory):
    study = hyperdial.create_study(sampler="random", seed=0, pruner=pruner_factory())
    t = study.ask()
    assert t.should_prune() is False


def test_contract_decisions_are_reproducible(pruner_factory):
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(sampler="random", seed=3, pruner=pruner_factory())
        study.optimize(learning_curve, n_trials=20, show_progress=False)
        runs.append([(t.state, t.last_step) for t in study.trials])
    assert runs[0] == runs[1]


def _history(curves: dict[int, dict[int, float]], directions=(Direction.MINIMIZE,)) -> History:
    h = History(list(directions))
    seq = 0
    events = []
    for number, curve in curves.items():
        seq += 1
        events.append((seq, Event(EventKind.CREATE, number, {"state": int(TrialState.RUNNING)})))
        for step, value in curve.items():
            seq += 1
            events.append((seq, Event(EventKind.REPORT, number, {"step": step, "value": value})))
    h.apply(events)
    return h


def test_asha_promotes_exactly_the_top_third_of_a_rung():
    # Nine trials reached rung 1 (resource 1) with values 0..8; rungs at 1, 3, 9.
    values = [5.0, 2.0, 7.0, 0.0, 8.0, 1.0, 6.0, 3.0, 4.0]
    h = _history({i: {1: v} for i, v in enumerate(values)})
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    promoted = [i for i in range(9) if pruner.decide(h, h.trials[i]) == Decision.CONTINUE]
    assert sorted(values[i] for i in promoted) == [0.0, 1.0, 2.0]
    assert pruner.rungs(h)[:3] == [1.0, 3.0, 9.0]


def test_asha_lets_the_first_trials_of_a_rung_go_on():
    h = _history({0: {1: 10.0}})
    assert SuccessiveHalvingPruner(min_resource=1).decide(h, h.trials[0]) == Decision.CONTINUE


def test_hyperband_brackets_match_the_paper():
    assert hyperband_brackets(3, 81) == [(81, 1.0), (34, 3.0), (15, 9.0), (8, 27.0), (5, 81.0)]


def test_hyperband_assigns_brackets_in_proportion_and_separates_samplers():
    pruner = HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)
    h = History([Direction.MINIMIZE])
    counts = np.bincount([pruner.assign(h, n)["bracket"] for n in range(1430)], minlength=5)
    expected = np.array([81, 34, 15, 8, 5]) / 143 * 1430
    assert np.all(np.abs(counts - expected) <= 0.05 * 1430)
    study = hyperdial.create_study(sampler="tpe", seed=0, pruner=pruner)
    study.optimize(learning_curve, n_trials=25, show_progress=False)
    bracket = study.trials[0].system_attrs["bracket"]
    view = pruner.sampler_view(study.history, {"bracket": bracket})
    assert len(view.trials) == sum(t.system_attrs["bracket"] == bracket for t in study.trials)
    assert [t.number for t in view.trials] == list(range(len(view.trials)))


def test_threshold_and_patience():
    h = _history({0: {1: 1.0, 2: 9.0}, 1: {1: 1.0, 2: float("nan")}, 2: {i: 1.0 for i in range(1, 6)}})
    th = ThresholdPruner(upper=5.0)
    assert th.decide(h, h.trials[0]) == Decision.PRUNE
    assert th.decide(h, h.trials[1]) == Decision.PRUNE
    assert th.decide(h, h.trials[2]) == Decision.CONTINUE
    assert PatiencePruner(patience=3).decide(h, h.trials[2]) == Decision.PRUNE
    improving = _history({0: {i: 1.0 / i for i in range(1, 8)}})
    assert PatiencePruner(patience=3).decide(improving, improving.trials[0]) == Decision.CONTINUE


def test_several_objectives_prune_dominated_vectors():
    study = hyperdial.create_study(
        directions=["minimize", "maximize"], sampler="random", seed=0, pruner=MedianPruner(n_startup_trials=4)
    )

    def objective(t):
        x = t.suggest_float("x", 0, 1)
        for step in range(3):
            t.report((x + step, 1 - x), step)
            if t.should_prune():
                raise hyperdial.TrialPruned
        return x, 1 - x

    study.optimize(objective, n_trials=20, show_progress=False)
    assert all(len(t.intermediate_values) > 0 for t in study.trials)
    h = _history(
        {0: {1: (1.0, 1.0)}, 1: {1: (2.0, 2.0)}, 2: {1: (3.0, 3.0)}, 3: {1: (0.5, 0.5)}},
        directions=(Direction.MINIMIZE, Direction.MINIMIZE),
    )
    for n in range(3):
        h.apply([(h.version + 1, Event(EventKind.STATE, n, {"state": int(TrialState.COMPLETE), "values": [1.0, 1.0]}))])
    p = MedianPruner(n_startup_trials=1)
    assert p.decide(h, h.trials[3]) == Decision.CONTINUE  # dominates everyone
    worst = _history({0: {1: (1.0, 1.0)}}, directions=(Direction.MINIMIZE, Direction.MINIMIZE))
    assert p.decide(worst, worst.trials[0]) == Decision.CONTINUE  # no finished peers yet


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SuccessiveHalvingPruner(reduction_factor=1), "reduction_factor"),
        (lambda: HyperbandPruner(min_resource=10, max_resource=5), "max_resource"),
        (lambda: ThresholdPruner(), "needs lower"),
        (lambda: PatiencePruner(patience=0), "patience"),
        (lambda: PercentilePruner(150), "percentile"),
    ],
)
def test_bad_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()
