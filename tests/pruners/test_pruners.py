"""Pruner contract (every pruner) and algorithm checks on hand-built histories."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import hyperdial
from hyperdial import TrialState
from hyperdial.history import History
from hyperdial.pruners import (
    BOHBPruner,
    Decision,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatiencePruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
    budget_view,
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
    "hyperband-auto": HyperbandPruner,
    "bohb": lambda: BOHBPruner(min_resource=1, max_resource=27, reduction_factor=3),
    "bohb-auto": BOHBPruner,
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


# -- Hyperband resources, the paper's table, BOHB -------------------------------------------------------


def test_hyperband_table_for_eta_3_and_r_81():
    # Li et al. 2018, Table 1: (n_i, r_i) per rung of each bracket s = 4..0.
    table = {
        4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        3: [(34, 3), (11, 9), (3, 27), (1, 81)],
        2: [(15, 9), (5, 27), (1, 81)],
        1: [(8, 27), (2, 81)],
        0: [(5, 81)],
    }
    for s, (n, r) in zip(range(4, -1, -1), hyperband_brackets(3, 81)):
        rungs = [(int(n * 3.0**-i), r * 3**i) for i in range(s + 1)]
        assert rungs == table[s]
    # The pruner's brackets compare trials exactly at those rungs.
    pruner = HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)
    h = History([Direction.MINIMIZE])
    setup = pruner._setup(h)
    assert [p.rungs(h) for p in setup[1]] == [[1.0, 3.0, 9.0, 27.0], [3.0, 9.0, 27.0], [9.0, 27.0], [27.0], []]


def _complete(h, number, value):
    h.apply([(h.version + 1, Event(EventKind.STATE, number, {"state": int(TrialState.COMPLETE), "values": [value]}))])


def test_hyperband_infers_its_resources_from_the_reports():
    pruner = HyperbandPruner()
    h = _history({0: {s: 1.0 / s for s in range(3, 28, 3)}, 1: {3: 0.5}})
    assert pruner.resources(h) is None and pruner.assign(h, 2) == {}
    assert pruner.decide(h, h.trials[1]) == Decision.CONTINUE  # no bracket: runs to the end
    _complete(h, 0, 1 / 27)
    assert pruner.resources(h) == (3.0, 27.0)  # reports every 3 steps, 27 in all
    assert pruner.brackets(h) == hyperband_brackets(3, 27, 3)
    assert "bracket" in pruner.assign(h, 2)


def test_bohb_model_learns_from_the_largest_budget_with_enough_points():
    # Budgets (eta=3, 1..27): 1, 3, 9, 27. Six trials reached 3, three reached 9, one 27.
    curves = {i: {1: 10.0 - i, 3: 5.0 - i} for i in range(6)}
    for i in (3, 4, 5):
        curves[i][9] = 2.0 - i / 10
    curves[5][27] = 1.0
    curves[6] = {1: 9.5}  # still running below 3
    h = _history(curves)
    for i in range(5):
        h.apply([(h.version + 1, Event(EventKind.STATE, i, {"state": int(TrialState.PRUNED)}))])
    _complete(h, 5, 1.0)
    pruner = BOHBPruner(min_resource=1, max_resource=27, min_points_in_model=1)  # needs 1 + 2 points
    assert pruner.budgets(h) == [1.0, 3.0, 9.0, 27.0]
    assert pruner.model_budget(h) == 9.0
    view = pruner.sampler_view(h, {"bracket": 0})
    assert len(view.trials) == len(h.trials)  # same numbers: index-claiming samplers still work
    done = view.numbers(TrialState.COMPLETE)
    assert done.tolist() == [3, 4, 5]
    assert view.Y[done, 0].tolist() == pytest.approx([1.7, 1.6, 1.5])
    assert view.trials[6].state == TrialState.RUNNING and view.trials[6].values is None
    assert view.trials[0].state == TrialState.PRUNED and view.trials[0].values is None
    assert view.best_trial.number == 5
    assert BOHBPruner(min_resource=1, max_resource=27, min_points_in_model=4).model_budget(h) == 3.0
    random_view = pruner.sampler_view(h, {"bracket": 0, "bohb": "random"})
    assert len(random_view.numbers(TrialState.COMPLETE)) == 0
    assert budget_view(h, 27.0).numbers(TrialState.COMPLETE).tolist() == [5]


def test_bohb_proposes_a_third_at_random_and_beats_random_proposals():
    pruner = BOHBPruner(min_resource=1, max_resource=27)
    h = _history({0: {1: 1.0}})
    share = np.mean([pruner.assign(h, n).get("bohb") == "random" for n in range(3000)])
    assert share == pytest.approx(1 / 3, abs=0.01)
    assert pruner.assign(h, 7) == pruner.assign(h, 7)

    def final_best(sampler, pruner_name, seed):
        study = hyperdial.create_study(sampler=sampler, seed=seed, pruner=pruner_name)
        study.optimize(learning_curve, n_trials=80, show_progress=False)
        return study.best_value

    bohb = np.mean([final_best("tpe", "bohb", s) for s in range(3)])
    hb_random = np.mean([final_best("random", "hyperband", s) for s in range(3)])
    assert bohb < hb_random


def test_bohb_records_the_budget_model_proposals():
    study = hyperdial.create_study(sampler="tpe", seed=0, pruner="bohb")
    study.optimize(learning_curve, n_trials=60, show_progress=False)
    kinds = {t.system_attrs.get("sampler") for t in study.trials if t.system_attrs.get("bohb") != "random"}
    assert "tpe" in kinds  # some proposals came from the model fitted at a budget
    assert study.pruner.resources(study.history) == (1.0, 27.0)


@pytest.mark.parametrize("direction", [Direction.MINIMIZE, Direction.MAXIMIZE])
def test_incremental_decisions_match_a_fresh_pruner(direction):
    # The pruners keep a matrix of intermediate values that refreshes only changed trials;
    # after reports arrive (also at steps between known ones), decisions equal a fresh pruner's.
    rng = np.random.default_rng(1)
    h = _history({i: {s: float(rng.normal()) for s in range(2, 20, 2)} for i in range(40)}, directions=(direction,))
    for i in range(38):  # over 32 rows: the first decision builds the matrix in bulk
        _complete(h, i, 0.0)
    makers = [
        lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
        lambda: MedianPruner(n_startup_trials=2),
        lambda: PercentilePruner(30, n_startup_trials=2),
    ]
    kept = [m() for m in makers]
    for p in kept:
        [p.decide(h, t) for t in h.trials]
    seq = h.version
    for step in (3, 7, 21):  # new steps: columns inserted before, between and after the known ones
        for n in (38, 39):
            seq += 1
            h.apply([(seq, Event(EventKind.REPORT, n, {"step": step, "value": float(rng.normal())}))])
        for make, p in zip(makers, kept):
            fresh = make()
            assert [p.decide(h, t) for t in h.trials] == [fresh.decide(h, t) for t in h.trials]


def test_claims_of_a_bracket_view_are_not_confused_with_a_freed_view():
    # Hyperband gives the sampler a new view per bracket and version; a freed view's id can be
    # reused by the next one. The claim tracker must not carry the old view's scan position over
    # (it did: a QMC index claimed in the bracket was proposed again forever).
    import gc
    import pickle
    import weakref

    from hyperdial.samplers.base import ClaimTracker

    h = _history({0: {1: 1.0}, 1: {1: 2.0}})
    for i, t in enumerate(h.trials):
        h.trials[i] = t._replace(_system={"qmc": i})
    tracker = ClaimTracker("qmc")

    class Gone:
        pass

    dead = Gone()
    ref = weakref.ref(dead)
    del dead
    gc.collect()
    tracker._state[id(h)] = (ref, 2, set(), 0)  # what a freed view with the same id left behind
    assert tracker.first_free(h) == 2
    assert pickle.loads(pickle.dumps(tracker)).first_free(h) == 2


def test_hyperband_with_tpe_keeps_claiming_new_points():
    study = hyperdial.create_study(sampler="tpe", seed=8, pruner=HyperbandPruner(min_resource=1, max_resource=27))
    study.optimize(learning_curve, n_trials=120, show_progress=False)
    assert len(study.trials) == 120


@pytest.mark.slow
def test_bohb_with_the_default_sampler_does_not_propose_a_stopped_point_again():
    # Curves that cross (slow starters lose at low rungs): the GP models the largest budget,
    # where points a rung stopped have no value. Shown to it as pending, they are not proposed
    # again; hidden, the GP re-proposed one point until a bracket let it run (7 times here).
    def crossing(trial):
        x = trial.suggest_float("x", -5.0, 10.0)
        y = trial.suggest_float("y", 0.0, 15.0)
        final = (y - 5.1 / (4 * np.pi**2) * x**2 + 5 / np.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(x) + 10
        slow = 1.0 + np.sin(0.9 * x) * np.cos(0.7 * y)
        for step in range(1, 28):
            trial.report(final + slow * ((27 / step) ** 0.7 - 1) / (27**0.7 - 1) * 10, step)
            if trial.should_prune():
                raise hyperdial.TrialPruned
        return final

    study = hyperdial.create_study(sampler="auto", seed=7, pruner="bohb")
    study.optimize(crossing, n_trials=70, show_progress=False)
    model = [t for t in study.trials if t.system_attrs.get("sampler") == "gp"]
    assert len(model) >= 10
    counts = collections.Counter((round(t.params["x"], 4), round(t.params["y"], 4)) for t in model)
    # A point that reached a lower model budget may be proposed again on purpose (once seen).
    assert max(counts.values()) <= 2 and len(counts) >= 0.9 * len(model)
