"""Parameter constraints (never violated by a stored trial) and outcome constraints (feasibility)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace, TrialState
from hyperdial.constraints import ConstraintUnsatisfiable, constraint_matrix, feasible_first, violations

SPACE = SearchSpace(
    {
        "n_samples": Int(100, 1000),
        "batch_size": Int(8, 512, log=True),
        "lr": Float(1e-4, 1.0, log=True),
        "opt": Categorical(["sgd", "adam"]),
        "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
    }
)


def batch_fits(p):
    return p["batch_size"] <= p["n_samples"] / 10


def _objective(t):
    p = t.params
    return abs(np.log10(p["lr"]) + 2) + p["batch_size"] / p["n_samples"] + p.get("momentum", 0.5)


def test_no_sampler_ever_stores_a_violating_trial(sampler_factory):
    study = hyperdial.create_study(sampler=sampler_factory(), space=SPACE, seed=0, param_constraint=batch_fits)
    study.optimize(_objective, n_trials=30, show_progress=False)
    assert len(study.trials) == 30
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert batch_fits(t.params), t.params
        SPACE.validate(dict(t.params))


def test_grid_and_claim_based_samplers_move_past_infeasible_points():
    space = SearchSpace({"a": Int(0, 9), "b": Int(0, 9)})
    for sampler in ("grid", "sobol", hyperdial.CoarseToFineSampler(round_size=8)):
        study = hyperdial.create_study(sampler=sampler, space=space, seed=1, param_constraint=lambda p: p["a"] < p["b"])
        study.optimize(lambda t: t.params["a"] - t.params["b"], n_trials=40, show_progress=False)
        assert len(study.trials) == 40
        assert all(t.params["a"] < t.params["b"] for t in study.trials)


def test_constrained_runs_are_reproducible():
    runs = []
    for _ in range(2):
        study = hyperdial.create_study(sampler="tpe", space=SPACE, seed=5, param_constraint=batch_fits)
        study.optimize(_objective, n_trials=25, show_progress=False)
        runs.append([dict(t.params) for t in study.trials])
    assert runs[0] == runs[1]
    assert any("constraint_redraws" in t.system_attrs for t in study.trials)  # the constraint did bite


def test_parallel_workers_respect_the_constraint(sqlite_url):
    study = hyperdial.create_study("p", sqlite_url, sampler="random", space=SPACE, seed=0, param_constraint=batch_fits)
    study.optimize(_objective, n_trials=16, n_jobs=2, show_progress=False)
    assert len(study.trials) == 16
    assert all(batch_fits(t.params) for t in study.trials)


def test_unsatisfiable_constraint_names_itself_and_stores_nothing():
    def never(p):
        return False

    study = hyperdial.create_study(space=SPACE, seed=0, param_constraint=never)
    with pytest.raises(ConstraintUnsatisfiable, match=r"never.*unsatisfiable"):
        study.ask()
    assert study.trials == []


def test_fixed_values_and_the_constraint_together():
    study = hyperdial.create_study(sampler="tpe", space=SPACE, seed=0, param_constraint=batch_fits)
    t = study.ask(fixed={"n_samples": 200})
    assert t.params["n_samples"] == 200 and t.params["batch_size"] <= 20
    with pytest.raises(ConstraintUnsatisfiable, match="fixed values"):
        study.ask(fixed={"n_samples": 100, "batch_size": 500})


def test_enqueued_trials_are_checked():
    study = hyperdial.create_study(space=SPACE, seed=0, param_constraint=batch_fits)
    bad = {"n_samples": 100, "batch_size": 64, "lr": 0.1, "opt": "adam"}
    with pytest.raises(ValueError, match="violates param_constraint batch_fits"):
        study.enqueue_trial(bad)
    assert study.trials == []
    # A partial configuration that no completion can satisfy fails (stored, with the reason) and
    # does not block the queue.
    study.enqueue_trial({"n_samples": 100, "batch_size": 500})
    study.enqueue_trial({"n_samples": 500})
    with pytest.warns(UserWarning, match="enqueued trial 0 failed"):
        t = study.ask()
    assert t.number == 1 and t.params["n_samples"] == 500 and batch_fits(t.params)
    assert study.trials[0].state == TrialState.FAILED and "batch_fits" in study.trials[0].message


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"param_constraint": 3}, TypeError, "param_constraint must be a callable"),
        ({"constraints_func": "x"}, TypeError, "constraints_func must be a callable"),
    ],
)
def test_invalid_constraint_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        hyperdial.create_study(space=SPACE, **kwargs)


def test_param_constraint_needs_a_declared_space():
    with pytest.raises(ValueError, match="declared search space"):
        hyperdial.create_study(param_constraint=lambda p: True)


def test_a_constraint_that_raises_or_returns_a_non_bool_is_reported():
    study = hyperdial.create_study(space=SPACE, seed=0, param_constraint=lambda p: p["missing"] > 0)
    with pytest.raises(ValueError, match="raised KeyError"):
        study.ask()
    study = hyperdial.create_study(space=SPACE, seed=0, param_constraint=lambda p: "yes")
    with pytest.raises(TypeError, match="must return True or False"):
        study.ask()


def test_load_study_takes_the_constraint_again(sqlite_url):
    hyperdial.create_study("s", sqlite_url, space=SPACE, seed=0, param_constraint=batch_fits)
    study = hyperdial.load_study("s", sqlite_url, param_constraint=batch_fits)
    study.optimize(_objective, n_trials=10, show_progress=False)
    assert all(batch_fits(t.params) for t in study.trials)


# -- outcome constraints ------------------------------------------------------------------------------


def _constrained(t):
    x = t.suggest_float("x", -2, 2)
    y = t.suggest_float("y", -2, 2)
    t.set_constraints([1.0 - x - y])  # feasible when x + y >= 1
    return x**2 + y**2


def test_infeasible_trials_are_stored_and_excluded_from_best():
    study = hyperdial.create_study(sampler="random", seed=0)
    study.optimize(_constrained, n_trials=40, show_progress=False)
    infeasible = [t for t in study.trials if not t.feasible]
    assert infeasible and all(t.state == TrialState.COMPLETE for t in infeasible)
    assert all(t.constraints[0] > 0 for t in infeasible)
    best = study.best_trial
    assert best.feasible
    assert best.value == min(t.value for t in study.trials if t.feasible)
    assert min(t.value for t in study.trials) < best.value  # an infeasible trial was better
    assert study.best_trials == [best]
    df = study.to_dataframe()
    assert df["feasible"].tolist() == [t.feasible for t in study.trials]


def test_best_trial_when_nothing_is_feasible():
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    t.set_constraints([1.0])
    study.tell(t, 0.0)
    with pytest.raises(ValueError, match="no feasible COMPLETE trial"):
        _ = study.best_trial
    assert study.best_trials == []


def test_constraints_func_is_stored_like_set_constraints():
    study = hyperdial.create_study(seed=0, constraints_func=lambda ft: [ft.params["x"] - 0.5, -ft.values[0]])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=10, show_progress=False)
    for t in study.trials:
        assert t.constraints == pytest.approx((t.params["x"] - 0.5, -t.value))
        assert t.feasible == (t.params["x"] <= 0.5)


def test_constraints_func_that_raises_fails_the_trial():
    def broken(ft):
        raise RuntimeError("no")

    study = hyperdial.create_study(seed=0, constraints_func=broken)
    t = study.ask()
    t.suggest_float("x", 0, 1)
    with pytest.warns(UserWarning, match=r"constraints_func .*broken raised RuntimeError"):
        frozen = study.tell(t, 1.0)
    assert frozen.state == TrialState.FAILED


@pytest.mark.parametrize("bad, exc", [([float("nan")], ValueError), (["a"], TypeError), ("x", TypeError)])
def test_set_constraints_validates(bad, exc):
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    with pytest.raises(exc, match="set_constraints"):
        t.set_constraints(bad)


def test_feasible_first_and_violations():
    study = hyperdial.create_study(seed=0)
    for v, c in [(0.0, 2.0), (1.0, -1.0), (2.0, 0.5), (3.0, 0.0)]:
        t = study.ask()
        t.set_constraints([c, -1.0])
        study.tell(t, v)
    h = study.history
    assert violations(h).tolist() == [2.0, 0.0, 0.5, 0.0]
    assert feasible_first(h, None, np.arange(4)).tolist() == [1, 3, 2, 0]


def test_violations_incremental_scan_waits_for_unfinished_trials():
    # The scan is cached per history: a trial still running when it was last scanned gets its
    # constraints later, and the cached answer must follow (and match a fresh history's).
    from hyperdial.constraints import any_violation
    from hyperdial.history import History

    study = hyperdial.create_study(seed=0)
    t0 = study.ask()
    t0.suggest_float("x", 0, 1)
    t1 = study.ask()
    t1.set_constraints([-1.0])
    study.tell(t1, 1.0)
    h = study.history
    assert not any_violation(h) and violations(h).tolist() == [0.0, 0.0]
    t0.set_constraints([3.0, -2.0, 0.25])
    study.tell(t0, 0.0)
    for _ in range(70):  # past the first growth of the cached array
        t = study.ask()
        t.set_constraints([-0.5])
        study.tell(t, 2.0)
    assert any_violation(h)
    assert violations(h).tolist() == [3.25] + [0.0] * 71
    assert violations(h, [0, 5]).tolist() == [3.25, 0.0]
    fresh = History(h.directions)
    fresh.apply(study.storage.read(study._info.id, 0))
    assert any_violation(fresh) and violations(fresh).tolist() == violations(h).tolist()


def _feasible_best(sampler, seed, aware, n=40):
    def obj(t):
        x = t.suggest_float("x", -2, 2)
        y = t.suggest_float("y", -2, 2)
        c = 1.0 - x - y
        if aware:
            t.set_constraints([c])
        else:
            t.set_user_attr("c", c)
        return x**2 + y**2

    study = hyperdial.create_study(sampler=sampler, seed=seed)
    study.optimize(obj, n_trials=n, show_progress=False)
    feas = [t.value for t in study.trials if (t.feasible if aware else t.user_attrs["c"] <= 0)]
    return min(feas) if feas else np.inf


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(lambda: hyperdial.TPESampler(n_startup_trials=10), id="tpe"),
        pytest.param(lambda: hyperdial.GPSampler(n_startup_trials=8), id="gp", marks=pytest.mark.slow),
    ],
)
def test_feasibility_aware_samplers_beat_constraint_unaware_sampling(factory):
    seeds, n = (range(5), 60) if "TPE" in repr(factory()) else (range(3), 30)
    aware = [_feasible_best(factory(), s, True, n) for s in seeds]
    unaware = [_feasible_best(factory(), s, False, n) for s in seeds]
    assert np.mean(aware) < 0.8 * np.mean(unaware)
    assert np.median(aware) < 0.6  # the constrained optimum is 0.5 at x = y = 0.5


def test_nsga2_prefers_feasible_trials():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})

    def obj(t):
        x, y = t.params["x"], t.params["y"]
        t.set_constraints([0.7 - x])  # only x >= 0.7 is feasible
        return x, 1 - x + y

    study = hyperdial.create_study(
        directions=["minimize", "minimize"], sampler=hyperdial.NSGAIISampler(population_size=10), space=space, seed=0
    )
    study.optimize(obj, n_trials=80, show_progress=False)
    early = np.mean([t.feasible for t in study.trials[:10]])
    late = np.mean([t.feasible for t in study.trials[-20:]])
    assert late > max(early, 0.7)
    front = study.best_trials
    assert front and all(t.feasible for t in front)
    assert min(t.params["x"] for t in front) < 0.75  # the front hugs the constraint boundary


def test_constraint_matrix_pads_missing_values_with_nan():
    study = hyperdial.create_study(seed=0)
    for cons in ([-1.0, 2.0], [0.5], None):
        t = study.ask()
        if cons is not None:
            t.set_constraints(cons)
        study.tell(t, 0.0)
    C = constraint_matrix(study.history, [0, 1, 2])
    assert C.shape == (3, 2)
    assert C[0].tolist() == [-1.0, 2.0]
    assert C[1, 0] == 0.5 and np.isnan(C[1, 1]) and np.isnan(C[2]).all()


def _gardner(t):
    """Gardner et al. 2014, section 5.1: two small feasible islands (~2 % of the box)."""
    x1, x2 = t.suggest_float("x1", 0.0, 6.0), t.suggest_float("x2", 0.0, 6.0)
    t.set_constraints([math.sin(x1) * math.sin(x2) + 0.95])
    return math.sin(x1) + x2


def _gardner_best(constraint_model, seed, n=50):
    study = hyperdial.create_study(sampler=hyperdial.TPESampler(constraint_model=constraint_model), seed=seed)
    study.optimize(_gardner, n_trials=n, show_progress=False)
    feas = [t.value for t in study.trials if t.feasible]
    return min(feas) if feas else np.inf


def test_ctpe_split_falls_back_to_the_least_violating_while_feasibility_is_scarce():
    sampler = hyperdial.TPESampler()
    X = np.arange(20, dtype=float)[:, None] / 20
    cons = np.linspace(2.0, 0.1, 20)[:, None]  # nothing feasible, the last rows violate least
    n_good, splits = sampler._ctpe_split(cons, X)
    k = sampler.gamma(20)
    assert n_good == k  # the objective keeps its own best k
    ((good, bad),) = splits
    assert len(good) == k and len(bad) == 20 - k
    assert np.allclose(np.sort(good[:, 0]), X[-k:, 0])  # the k least violating
    cons[[3, 7, 11], 0] = -1.0  # three feasible, k = 2: the objective's good group ends at the 2nd
    n_good, ((good, bad),) = sampler._ctpe_split(cons, X)
    assert n_good == 8
    assert sorted(good[:, 0]) == [3 / 20, 7 / 20, 11 / 20]  # enough satisfy it: exactly those
    n_good, splits = sampler._ctpe_split(-np.ones((20, 1)), X)  # all feasible: no constraint factor
    assert splits == [] and n_good == k


def test_ctpe_finds_the_better_feasible_island_on_gardner():
    """c-TPE keeps the objective's signal among infeasible trials: the rank split finds an
    island, often the bad one (f ~ 5.7 against 0.25), and stays there."""
    seeds = range(6)
    ctpe = np.array([_gardner_best("ctpe", s) for s in seeds])
    rank = np.array([_gardner_best("rank", s) for s in seeds])
    assert np.isfinite(ctpe).sum() >= 5
    assert np.sum(ctpe < 1.0) >= max(4, np.sum(rank < 1.0))


def test_constraint_model_is_validated():
    with pytest.raises(ValueError, match="constraint_model"):
        hyperdial.TPESampler(constraint_model="penalty")


def test_ctpe_proposals_are_reproducible_and_define_by_run_works():
    a = [_gardner_best("ctpe", 3, n=25) for _ in range(2)]
    assert a[0] == a[1]
    study = hyperdial.create_study(sampler=hyperdial.TPESampler(multivariate=False), seed=0)
    study.optimize(_gardner, n_trials=25, show_progress=False)
    assert len(study.trials) == 25
