"""The sampler contract: every sampler (see ``SAMPLER_FACTORIES`` in conftest) must pass it."""

from __future__ import annotations

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace

SPACE = SearchSpace(
    {
        "lin": Float(-2.0, 3.0),
        "log": Float(1e-5, 1.0, log=True),
        "stepf": Float(0.0, 1.0, step=0.25),
        "int": Int(1, 9),
        "logint": Int(1, 1000, log=True),
        "stepint": Int(0, 20, step=5),
        "cat": Categorical(["a", "b", None, True, 2.5]),
        "model": Categorical(["svm", "tree"]),
        "C": Float(1e-3, 1e3, log=True, when={"model": "svm"}),
        "depth": Int(1, 8, when={"model": "tree"}),
        "const": 7,
    }
)


def _define_by_run(trial):
    v = trial.suggest_float("lin", -2, 3) + trial.suggest_float("log", 1e-5, 1, log=True)
    v += trial.suggest_float("stepf", 0, 1, step=0.25) + trial.suggest_int("int", 1, 9)
    v += trial.suggest_int("logint", 1, 1000, log=True) / 100 + trial.suggest_int("stepint", 0, 20, step=5)
    trial.suggest_categorical("cat", ["a", "b", None, True, 2.5])
    if trial.suggest_categorical("model", ["svm", "tree"]) == "svm":
        v += trial.suggest_float("C", 1e-3, 1e3, log=True)
    else:
        v += trial.suggest_int("depth", 1, 8)
    return v


def _declared(trial):
    p = trial.params
    return p["lin"] + p["int"] + (p.get("C") or 0) + (p.get("depth") or 0)


def test_declared_space_every_kind_and_conditions(sampler_factory):
    study = hyperdial.create_study(sampler=sampler_factory(), seed=0, space=SPACE)
    study.optimize(_declared, n_trials=30, show_progress=False)
    assert len(study.trials) == 30
    for t in study.trials:
        assert t.state == hyperdial.TrialState.COMPLETE
        p = dict(t.params)
        assert p["const"] == 7
        assert ("C" in p) == (p["model"] == "svm")
        assert ("depth" in p) == (p["model"] == "tree")
        SPACE.validate(p)  # every value admissible, every active parameter present


def test_define_by_run_every_kind(sampler_factory):
    study = hyperdial.create_study(sampler=sampler_factory(), seed=0)
    study.optimize(_define_by_run, n_trials=25, show_progress=False)
    for t in study.trials:
        assert t.state == hyperdial.TrialState.COMPLETE, t.message
        for name, value in t.params.items():
            assert t.distributions[name].contains(value)


def test_same_seed_same_trials(sampler_factory):
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(sampler=sampler_factory(), seed=123)
        study.optimize(_define_by_run, n_trials=15, show_progress=False)
        runs.append([dict(t.params) for t in study.trials])
    assert runs[0] == runs[1]
    other = hyperdial.create_study(sampler=sampler_factory(), seed=124)
    other.optimize(_define_by_run, n_trials=15, show_progress=False)
    assert [dict(t.params) for t in other.trials] != runs[0]


def test_resume_gives_the_same_trials(sampler_factory, tmp_path):
    """A seeded study run in one go equals the same study interrupted and resumed from its file."""
    one_go = hyperdial.create_study(sampler=sampler_factory(), seed=7, space=SPACE)
    one_go.optimize(_declared, n_trials=20, show_progress=False)
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = hyperdial.create_study("s", url, sampler=sampler_factory(), seed=7, space=SPACE)
    first.optimize(_declared, n_trials=8, show_progress=False)
    del first
    resumed = hyperdial.load_study("s", url, sampler=sampler_factory())
    resumed.optimize(_declared, n_trials=12, show_progress=False)
    assert [dict(t.params) for t in resumed.trials] == [dict(t.params) for t in one_go.trials]
    assert [t.number for t in resumed.trials] == list(range(20))


def test_pending_trials_get_distinct_proposals(sampler_factory):
    study = hyperdial.create_study(sampler=sampler_factory(), seed=0, space=SPACE)
    pending = [study.ask() for _ in range(6)]
    points = {tuple(sorted((k, repr(v)) for k, v in t.params.items())) for t in pending}
    assert len(points) == 6
    for t in pending:
        study.tell(t, 1.0)


def test_fixed_values_are_respected(sampler_factory):
    study = hyperdial.create_study(sampler=sampler_factory(), seed=0, space=SPACE)
    t = study.ask(fixed={"model": "tree", "int": 4})
    assert t.params["model"] == "tree" and t.params["int"] == 4 and "depth" in t.params and "C" not in t.params
