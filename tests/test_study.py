from __future__ import annotations

import math

import pytest

import hyperdial
from hyperdial import FailReason, Float, SearchSpace, TrialState
from hyperdial.storages import DuplicateStudyError


def test_ask_tell_minimal():
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    x = t.suggest_float("x", -1, 1)
    frozen = study.tell(t, x**2)
    assert frozen.state == TrialState.COMPLETE and frozen.value == pytest.approx(x**2)
    assert frozen.params == {"x": x} and frozen.duration >= 0
    assert study.best_trial.number == 0 and study.best_params == {"x": x}


def test_tell_by_number_and_twice():
    study = hyperdial.create_study()
    t = study.ask()
    study.tell(t.number, 1.0)
    with pytest.raises(ValueError, match="already COMPLETE"):
        study.tell(t, 2.0)
    with pytest.raises(ValueError, match="has no trial 5"):
        study.tell(5, 1.0)
    assert study.trials[0].values == (1.0,)


def test_tell_wrong_types_raise_and_keep_the_trial_running():
    study = hyperdial.create_study(directions=["minimize", "maximize"])
    t = study.ask()
    with pytest.raises(TypeError):
        study.tell(t, "bad")
    with pytest.raises(ValueError, match="2 objectives"):
        study.tell(t, 1.0)
    with pytest.raises(ValueError, match="3 values"):
        study.tell(t, [1, 2, 3])
    assert study.trials[0].state == TrialState.RUNNING
    study.tell(t, [1, 2])


def test_tell_nan_fails_the_trial():
    study = hyperdial.create_study()
    t = study.ask()
    with pytest.warns(UserWarning, match="nan"):
        frozen = study.tell(t, math.nan)
    assert frozen.state == TrialState.FAILED and frozen.fail_reason == FailReason.INVALID_VALUE


def test_tell_pruned_keeps_last_intermediate():
    study = hyperdial.create_study()
    t = study.ask()
    t.report(0.7, 1)
    t.report(0.5, 2)
    frozen = study.tell(t, state="pruned")
    assert frozen.state == TrialState.PRUNED and frozen.values == (0.5,)
    assert frozen.intermediate_values == {1: 0.7, 2: 0.5}


def test_redefining_a_parameter_is_an_error():
    study = hyperdial.create_study()
    t = study.ask()
    t.suggest_float("x", 0, 1)
    assert t.suggest_float("x", 0, 1) == t.params["x"]
    with pytest.raises(ValueError, match="already suggested"):
        t.suggest_float("x", 0, 2)
    with pytest.raises(ValueError, match="already suggested"):
        t.suggest_int("x", 0, 1)


def test_bad_names_and_directions():
    with pytest.raises(ValueError, match="unknown direction"):
        hyperdial.create_study(direction="up")
    with pytest.raises(ValueError, match="unknown sampler 'tpee'"):
        hyperdial.create_study(sampler="tpee")
    with pytest.raises(ValueError, match="unknown pruner"):
        hyperdial.create_study(pruner="sometimes")
    with pytest.raises(TypeError, match="seed"):
        hyperdial.create_study(seed=-1)


def test_duplicate_and_missing_studies(sqlite_url):
    hyperdial.create_study("a", sqlite_url)
    hyperdial.create_study("b", sqlite_url)
    with pytest.raises(DuplicateStudyError, match="load_if_exists"):
        hyperdial.create_study("a", sqlite_url)
    assert hyperdial.create_study("a", sqlite_url, load_if_exists=True).name == "a"
    with pytest.raises(ValueError, match="existing studies: 'a', 'b'"):
        hyperdial.load_study("c", sqlite_url)
    hyperdial.delete_study("a", sqlite_url)
    assert [s.name for s in hyperdial.list_studies(sqlite_url)] == ["b"]


def test_space_change_is_refused_with_the_differences(sqlite_url):
    space = SearchSpace({"x": Float(0, 1)})
    study = hyperdial.create_study("s", sqlite_url, space=space, seed=0)
    study.optimize(lambda t: t.params["x"], n_trials=3, show_progress=False)
    new = SearchSpace({"x": Float(0, 2), "y": [1, 2]})
    with pytest.raises(ValueError, match=r"changed x.*\n.*added y"):
        hyperdial.create_study("s", sqlite_url, space=new, load_if_exists=True)
    again = hyperdial.create_study("s", sqlite_url, space=new, load_if_exists=True, allow_space_change=True)
    again.optimize(lambda t: t.params["x"] + t.params["y"], n_trials=3, show_progress=False)
    assert len(again.trials) == 6
    assert again.space == new
    assert again.system_attrs["space_changes"][0]["diff"]
    # trials from the old space stay stored but are not in the new space's columns
    X = again.history.matrix(new)
    assert math.isnan(X[0, 0]) and not math.isnan(X[5, 0])


def test_enqueued_trials_run_first_and_fill_missing_values():
    study = hyperdial.create_study(seed=0)
    study.enqueue_trial({"x": 0.25})
    study.enqueue_trial({"x": 0.75, "k": 3}, user_attrs={"why": "baseline"})
    assert study.enqueue_trial({"x": 0.25}, skip_if_exists=True) is None
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 5), n_trials=3, show_progress=False)
    trials = study.trials
    assert trials[0].params["x"] == 0.25 and 1 <= trials[0].params["k"] <= 5
    assert trials[1].params == {"x": 0.75, "k": 3} and trials[1].user_attrs == {"why": "baseline"}
    assert len(trials) == 3


def test_enqueue_validates_against_the_declared_space():
    study = hyperdial.create_study(space={"x": Float(0, 1), "c": ["a", "b"]})
    with pytest.raises(ValueError, match="outside"):
        study.enqueue_trial({"x": 5})
    with pytest.raises(ValueError, match="unknown parameter 'z'"):
        study.enqueue_trial({"z": 1})
    study.enqueue_trial({"c": "b"})
    assert study.ask().params["c"] == "b"


def test_user_attrs_on_study_and_trial():
    study = hyperdial.create_study()
    study.set_user_attr("dataset", "digits")
    t = study.ask()
    t.set_user_attr("fold_scores", [0.9, 0.8])
    with pytest.raises(TypeError, match="not JSON"):
        t.set_user_attr("bad", object())
    study.tell(t, 1.0)
    assert study.user_attrs == {"dataset": "digits"}
    assert study.trials[0].user_attrs == {"fold_scores": [0.9, 0.8]}


def test_multi_objective_pareto_front():
    study = hyperdial.create_study(directions=["minimize", "maximize"])
    for a, b in [(1, 1), (2, 3), (3, 3), (0, 0), (2, 2)]:
        study.tell(study.ask(), [a, b])
    assert sorted(t.number for t in study.best_trials) == [0, 1, 3]
    with pytest.raises(ValueError, match="best_trials"):
        _ = study.best_trial


def test_best_trial_direction_and_empty_study():
    study = hyperdial.create_study(direction="maximize")
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        _ = study.best_trial
    for v in [1, 5, 3]:
        study.tell(study.ask(), v)
    assert study.best_value == 5


def test_frozen_trial_is_immutable():
    study = hyperdial.create_study()
    t = study.ask()
    t.suggest_float("x", 0, 1)
    frozen = study.tell(t, 1.0)
    with pytest.raises(AttributeError):
        frozen.state = TrialState.FAILED
    with pytest.raises(TypeError):
        frozen.params["x"] = 3


def test_to_dataframe():
    pytest.importorskip("pandas")
    study = hyperdial.create_study(seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4, show_progress=False)
    df = study.to_dataframe()
    assert list(df.columns) == ["number", "value", "state", "params_x", "duration"]
    assert len(df) == 4


def test_environment_and_seed_are_recorded():
    study = hyperdial.create_study()
    env = study.environment
    assert env["python"] and "numpy" in env["packages"] and env["seed"] == study.seed
    assert study.system_attrs["seed_given"] is False


def test_load_keeps_the_stored_seed(sqlite_url):
    a = hyperdial.create_study("s", sqlite_url)
    assert hyperdial.load_study("s", sqlite_url).seed == a.seed


def test_intersection_space_follows_every_complete_trial(sqlite_url):
    # Trials sharing one distributions dict narrow the intersection once; a later trial with
    # another set (or another range for a name) still narrows it, in memory and on SQLite.
    for storage in (None, sqlite_url):
        study = hyperdial.create_study(storage=storage, seed=0)
        for i in range(6):
            t = study.ask()
            t.suggest_float("x", 0, 1)
            t.suggest_int("n", 1, 9)
            if i >= 2:
                t.suggest_categorical("c", ["a", "b"])
            study.tell(t, float(i))
        assert sorted(study.history.intersection_space) == ["n", "x"]
        t = study.ask()
        t.suggest_float("x", 0, 2)
        t.suggest_int("n", 1, 9)
        study.tell(t, 0.5)
        assert sorted(study.history.intersection_space) == ["n"]
        reopened = hyperdial.load_study(study.name, study.storage)
        assert sorted(reopened.history.intersection_space) == ["n"]


def test_history_built_from_batches_equals_one_event_at_a_time():
    # A tell's PARAMS and STATE events are applied as one change of the trial; the view must be
    # the one that applying every event on its own gives (and the study's own view).
    from hyperdial.history import History

    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        trial.suggest_categorical("c", ["a", "b"])
        if trial.number % 5 == 1:
            trial.set_user_attr("u", trial.number)
        if trial.number % 7 == 3:
            trial.report(x, 0)
            trial.should_prune()  # (the median pruner's look brings the view up to date)
            raise hyperdial.TrialPruned()
        if trial.number % 11 == 4:
            raise ValueError("boom")
        return x * x

    study = hyperdial.create_study(sampler="tpe", pruner="median", seed=0)
    study.enqueue_trial({"x": 0.5})
    study.optimize(objective, n_trials=40, show_progress=False, catch=ValueError)
    events = study.storage.read(study._info.id, 0)
    single = History(study.directions)
    for entry in events:
        single.apply([entry])
    batch = History(study.directions)
    batch.apply(iter(events))
    assert single.to_snapshot() == batch.to_snapshot() == study.history.to_snapshot()
    assert single.intersection_space == batch.intersection_space
    assert single.best_trial.number == batch.best_trial.number == study.best_trial.number
