"""Data-level tests of every plot builder on real studies."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier

import hyperdial
from hyperdial import Categorical, Int, TrialState
from hyperdial import visualization as vis
from hyperdial.history import pareto_front_mask
from hyperdial.sklearn import SearchCV


def _complete(study):
    return [t for t in study.trials if t.state == TrialState.COMPLETE]


def test_history_best_so_far_and_omitted_trials(mixed_study):
    d = vis.optimization_history(mixed_study)
    done = _complete(mixed_study)
    assert d.numbers.tolist() == [t.number for t in done]
    assert np.allclose(d.values, [t.value for t in done])
    assert np.allclose(d.best, np.minimum.accumulate(d.values))
    n_pruned = sum(t.state == TrialState.PRUNED for t in mixed_study.trials)
    n_failed = sum(t.state == TrialState.FAILED for t in mixed_study.trials)
    assert n_pruned and n_failed
    assert d.notes == [f"{len(done)} complete trials shown; not shown: {n_pruned} pruned, {n_failed} failed"]


def test_history_maximize_and_callable_target(two_objective_study):
    d = vis.optimization_history(two_objective_study, target=1)
    assert d.direction == hyperdial.Direction.MAXIMIZE and d.target_name == "objective 1"
    assert np.allclose(d.best, np.maximum.accumulate(d.values))
    d = vis.optimization_history(two_objective_study, target=lambda t: sum(t.values), target_name="sum")
    assert np.allclose(d.values, [sum(t.values) for t in two_objective_study.trials]) and d.target_name == "sum"


def test_multi_objective_needs_a_target(two_objective_study):
    for builder in (vis.optimization_history, vis.slices, vis.parallel_coordinates, vis.contour, vis.edf):
        with pytest.raises(ValueError, match=r"2 objectives; pass target=0\.\.1"):
            builder(two_objective_study)
    with pytest.raises(ValueError, match="target=2 is out of range"):
        vis.slices(two_objective_study, target=2)
    with pytest.raises(TypeError, match="objective index or a function"):
        vis.slices(two_objective_study, target="first")


def test_parallel_coordinates_conditional_categorical_log(mixed_study):
    d = vis.parallel_coordinates(mixed_study)
    axes = {a.name: a for a in d.axes}
    assert set(axes) == {"lr", "layers", "model", "width"}
    done = _complete(mixed_study)
    assert d.numbers.tolist() == [t.number for t in done]
    assert axes["lr"].log and not axes["layers"].log
    assert axes["model"].choices == ("mlp", "tree")
    for i, t in enumerate(done):
        assert axes["model"].values[i] == ("mlp", "tree").index(t.params["model"])
        assert axes["lr"].values[i] == pytest.approx(t.params["lr"])
        assert axes["layers"].values[i] == t.params["layers"]
        if "width" in t.params:
            assert axes["width"].values[i] == pytest.approx(t.params["width"])
        else:
            assert np.isnan(axes["width"].values[i])
    assert np.isnan(axes["width"].values).any()  # some trials had no width


def test_parallel_subsample_keeps_the_best(mixed_study):
    d = vis.parallel_coordinates(mixed_study, ["lr", "layers"], max_lines=5)
    assert 5 <= len(d.numbers) <= 6 and [a.name for a in d.axes] == ["lr", "layers"]
    assert mixed_study.best_trial.number in d.numbers.tolist()
    assert any("max_lines=5" in n for n in d.notes)
    with pytest.raises(ValueError, match="max_lines must be an integer >= 2"):
        vis.parallel_coordinates(mixed_study, max_lines=0)
    with pytest.raises(ValueError, match=r"\['depth'\] not in study"):
        vis.parallel_coordinates(mixed_study, ["depth"])


def test_slices_only_where_active(mixed_study):
    d = vis.slices(mixed_study)
    by = {a.name: (a, v, n) for a, v, n in zip(d.axes, d.values, d.numbers)}
    trials = mixed_study.trials
    width, values, numbers = by["width"]
    assert all("width" in trials[n].params for n in numbers)
    assert np.allclose(width.values, [trials[n].params["width"] for n in numbers])
    assert np.allclose(values, [trials[n].value for n in numbers])
    assert len(by["lr"][2]) == len(_complete(mixed_study)) > len(numbers)


def test_contour_is_the_binned_mean(mixed_study):
    d = vis.contour(mixed_study, ["lr", "layers", "model"], bins=8)
    assert [(p.x.name, p.y.name) for p in d.pairs] == [("lr", "layers"), ("lr", "model"), ("layers", "model")]
    lr_layers = d.pairs[0]
    assert lr_layers.z.shape == (4, 8)  # one row per integer 1..4, 8 log-spaced bins of lr
    assert np.allclose(lr_layers.y_centers, [1, 2, 3, 4])
    edges = np.linspace(-4, 0, 9)
    assert np.allclose(lr_layers.x_centers, 10 ** ((edges[:-1] + edges[1:]) / 2))
    assert np.isfinite(lr_layers.z).all()  # empty cells filled from the nearest observed one
    done = _complete(mixed_study)
    cells: dict = {}
    for t in done:
        ix = min(int(np.searchsorted(edges, np.log10(t.params["lr"]), side="right") - 1), 7)
        cells.setdefault((t.params["layers"] - 1, ix), []).append(t.value)
    assert lr_layers.observed.sum() == len(cells)
    for (iy, ix), vals in cells.items():
        assert lr_layers.z[iy, ix] == pytest.approx(np.mean(vals))
    cat = d.pairs[1]
    assert cat.y.is_categorical and cat.z.shape == (2, 8)


def test_contour_picks_important_params_and_needs_two(mixed_study):
    d = vis.contour(mixed_study, max_params=2)
    assert len(d.params) == 2 and len(d.pairs) == 1
    assert any("most important" in n for n in d.notes)
    with pytest.raises(ValueError, match="needs two parameters"):
        vis.contour(mixed_study, ["lr"])


def test_importance_data(mixed_study):
    d = vis.param_importances(mixed_study, method="ped-anova")
    assert d.method == "PED-ANOVA" and sorted(d.names) == ["layers", "lr", "model", "width"]
    assert d.importances.sum() == pytest.approx(1.0)
    assert (np.diff(d.importances) <= 0).all()
    d = vis.param_importances(mixed_study)
    assert d.method == "fANOVA" and d.std is not None and len(d.std) == 4


def test_intermediate_values_mark_pruned(mixed_study):
    d = vis.intermediate_values(mixed_study)
    trials = mixed_study.trials
    assert d.numbers.tolist() == [t.number for t in trials if t.intermediate_values]
    for n, s, v, state in zip(d.numbers, d.steps, d.values, d.states):
        iv = trials[n].intermediate_values
        assert s.tolist() == sorted(iv) and np.allclose(v, [iv[k] for k in sorted(iv)])
        assert state == trials[n].state
    pruned = [s for s in d.states if s == TrialState.PRUNED]
    assert pruned and any(f"{len(pruned)} pruned" in n for n in d.notes)
    assert any(len(s) < 4 for s, st in zip(d.steps, d.states) if st == TrialState.PRUNED)


def test_intermediate_values_without_reports():
    study = hyperdial.create_study("quiet", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
    with pytest.raises(vis.EmptyStudyError, match=r"none reported intermediate values: call trial.report"):
        vis.intermediate_values(study)


def test_pareto_front_two_and_three_objectives(two_objective_study):
    d = vis.pareto_front(two_objective_study)
    losses = d.values * np.array([1.0, -1.0])
    assert d.on_front.tolist() == pareto_front_mask(losses).tolist()
    assert sorted(d.numbers[d.on_front].tolist()) == sorted(t.number for t in two_objective_study.best_trials)
    assert d.directions == [hyperdial.Direction.MINIMIZE, hyperdial.Direction.MAXIMIZE]
    study = hyperdial.create_study(directions=["minimize"] * 3, seed=0, sampler="random")
    study.optimize(
        lambda t: (lambda x: (x, 1 - x, (x - 0.5) ** 2))(t.suggest_float("x", 0, 1)), n_trials=12, show_progress=False
    )
    d3 = vis.pareto_front(study, target_names=["a", "b", "c"])
    assert d3.values.shape == (12, 3) and d3.names == ["a", "b", "c"]
    d2 = vis.pareto_front(study, targets=[0, 2])
    assert d2.values.shape == (12, 2)
    with pytest.raises(ValueError, match="2 or 3 distinct objective indices"):
        vis.pareto_front(study, targets=[0, 0])
    single = hyperdial.create_study(seed=0)
    single.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, show_progress=False)
    with pytest.raises(ValueError, match="one objective; use the optimization history"):
        vis.pareto_front(single)


def test_edf_one_and_several_studies(mixed_study, two_objective_study):
    d = vis.edf(mixed_study)
    vals = sorted(t.value for t in _complete(mixed_study))
    assert np.allclose(d.x[0], vals) and d.y[0][-1] == 1.0 and d.labels == ["mixed"]
    d = vis.edf([mixed_study, two_objective_study], target=0)
    assert d.labels == ["mixed", two_objective_study.name] and len(d.x[1]) == 40


def test_timeline_lanes_for_overlapping_trials():
    study = hyperdial.create_study("overlap", seed=0)
    running = [study.ask() for _ in range(3)]  # three at once: three lanes
    for t in running:
        t.suggest_float("x", 0, 1)
    study.tell(running[0], 1.0)
    study.tell(running[1], state=TrialState.PRUNED)
    later = study.ask()  # starts after trial 0 finished: reuses a lane
    study.tell(later, 0.5)
    d = vis.timeline(study)
    assert d.numbers.tolist() == [0, 1, 2, 3]
    # One worker (this process) ran three at once: three sub-rows of its own row.
    assert len(d.lane_labels) == 3 and len(set(d.lanes[:3].tolist())) == 3
    assert d.lane_labels[0].endswith("[0]") and d.lane_labels[0].startswith(study.trials[0].system_attrs["worker"])
    assert (d.finish >= d.start).all() and d.start.min() == 0.0
    assert d.states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.COMPLETE]
    assert not d.notes


def test_trials_record_their_worker_process_and_thread():
    study = hyperdial.create_study(seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=6, n_jobs=2, parallel="thread", show_progress=False)
    workers = {t.system_attrs["worker"] for t in study.trials}
    assert all(w.split(":")[1] == str(os.getpid()) for w in workers)
    assert 1 <= len(workers) <= 2 and all(len(w.split(":")) == 3 for w in workers)  # host:pid:thread
    d = vis.timeline(study)
    assert sorted(set(d.lane_labels)) == sorted(workers) and not d.notes
    study.enqueue_trial({"x": 0.5})
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, show_progress=False)
    assert study.trials[-1].system_attrs["worker"] == f"{socket.gethostname()}:{os.getpid()}"


def test_timeline_uses_recorded_workers():
    study = hyperdial.create_study(seed=0)
    for worker in ["b", "a", "b"]:
        t = study.ask()
        t.set_user_attr("worker", worker)
        study.tell(t, 1.0)
    d = vis.timeline(study)
    assert d.lane_labels == ["a", "b"] and d.lanes.tolist() == [1, 0, 1] and not d.notes


def test_validation_and_learning_curves_reuse_sklearn_helpers():
    X, y = load_iris(return_X_y=True)
    space = {"n_neighbors": Int(1, 25), "weights": Categorical(["uniform", "distance"])}
    search = SearchCV(KNeighborsClassifier(), space, n_trials=6, cv=3, random_state=0).fit(X, y)
    d = vis.validation_curve(search.study_, "n_neighbors")
    assert len(d.x) == 6 and (np.diff(d.x) >= 0).all() and (d.std >= 0).all()
    assert d.metric == "score" and d.choices is None
    dc = vis.validation_curve(search.study_, "weights")
    assert dc.choices == ("uniform", "distance") and set(dc.x.tolist()) <= {0.0, 1.0}
    lc = vis.learning_curve(search, X, y, train_sizes=[0.3, 1.0])
    assert lc.train_sizes.tolist() == [30, 100] and "KNeighborsClassifier" in lc.title
    with pytest.raises(ValueError, match="not a parameter"):
        vis.validation_curve(search.study_, "leaf_size")
    plain = hyperdial.create_study(seed=0)
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, show_progress=False)
    with pytest.raises(vis.EmptyStudyError, match="SearchCV or cross_validate"):
        vis.validation_curve(plain, "x")


@pytest.mark.parametrize("kind", sorted(set(vis.KINDS) - {"validation_curve"}))
def test_empty_study_has_a_clear_message(empty_study, kind):
    if kind == "pareto":
        empty_study = hyperdial.create_study("nothing-yet", directions=["minimize", "minimize"])
    with pytest.raises(vis.EmptyStudyError, match="study 'nothing-yet' has no trials") as info:
        vis.KINDS[kind](empty_study)
    assert "run" in str(info.value) or "report" in str(info.value)


def test_only_failed_trials_is_empty_too():
    study = hyperdial.create_study("all-failed", seed=0)

    def boom(trial):
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("no")

    study.optimize(boom, n_trials=2, show_progress=False, catch=(RuntimeError,))
    with pytest.raises(vis.EmptyStudyError, match="2 trials, none COMPLETE"):
        vis.optimization_history(study)


def test_builders_need_a_study():
    with pytest.raises(TypeError, match="must be a hyperdial Study"):
        vis.optimization_history("mixed")
    with pytest.raises(ValueError, match="not a plot kind"):
        vis.plot(hyperdial.create_study(), "histogram")


def test_a_parameter_whose_range_changed_is_one_axis():
    study = hyperdial.create_study("changed", seed=0, sampler="random")
    study.optimize(
        lambda t: t.suggest_float("x", 0, 1) + len(t.suggest_categorical("c", ["a", "b"])),
        n_trials=4,
        show_progress=False,
    )
    study.optimize(
        lambda t: t.suggest_float("x", 0, 10) + len(t.suggest_categorical("c", ["b", "cc"])),
        n_trials=4,
        show_progress=False,
    )
    d = vis.slices(study)
    x, c = d.axes
    assert (x.low, x.high) == (0.0, 10.0) and len(x.values) == 8
    assert np.allclose(x.values, [t.params["x"] for t in study.trials])
    assert c.choices == ("a", "b", "cc")
    assert [c.choices[int(i)] for i in c.values] == [t.params["c"] for t in study.trials]
