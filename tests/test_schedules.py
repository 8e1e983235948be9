import itertools
import math

import pytest
import yaml

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace
from hyperdial.control import ControlLoop, ReplayController, recorded_schedule
from hyperdial.samplers import GridSampler
from hyperdial.schedules import (
    Constant,
    Exponential,
    PiecewiseLinear,
    ScheduleController,
    ScheduledValue,
    StepDecay,
    WarmupCosine,
    schedule_from_dict,
    schedules_from_params,
)

T = 40


def test_each_family_has_its_formula():
    assert StepDecay(1.0, factor=0.5, every=10, total_steps=T).build({}).values([0, 9, 10, 39, 45]) == [
        1.0,
        1.0,
        0.5,
        0.125,
        0.0625,
    ]
    exp = Exponential(2.0, final=0.25, total_steps=T).build({})
    assert exp(0) == 2.0 and exp(20) == pytest.approx(1.0) and exp(T) == pytest.approx(0.5) == exp(T + 5)
    cos = WarmupCosine(1.0, warmup=0.25, final=0.1, total_steps=T).build({})
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0) and cos(10) == pytest.approx(1.0)
    assert cos(25) == pytest.approx(0.1 + 0.9 * 0.5) and cos(T) == pytest.approx(0.1)
    values = cos.values(range(10, T + 1))
    assert all(a >= b for a, b in itertools.pairwise(values))
    lin = PiecewiseLinear([1.0, 3.0, 2.0], total_steps=T).build({})
    assert lin(0) == 1.0 and lin(10) == 2.0 and lin(20) == 3.0 and lin(30) == 2.5 and lin(99) == 2.0
    geo = PiecewiseLinear([1.0, 100.0], log=True, total_steps=T).build({})
    assert geo(20) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "family",
    [
        Constant(0.3, total_steps=T),
        StepDecay(0.3, factor=1.0, every=5, total_steps=T),
        Exponential(0.3, final=1.0, total_steps=T),
        WarmupCosine(0.3, warmup=0.0, final=1.0, total_steps=T),
        PiecewiseLinear([0.3, 0.3, 0.3, 0.3], total_steps=T),
        PiecewiseLinear([0.3, 0.3], log=True, total_steps=T),
    ],
    ids=["constant", "step", "exponential", "warmup-cosine", "piecewise", "piecewise-log"],
)
def test_every_family_contains_the_constant_schedule(family):
    sched = family.build({})
    assert all(v == pytest.approx(0.3, rel=1e-15) for v in sched.values(range(0, T + 3)))


FAMILIES = [
    Constant(Float(0.0, 1.0), total_steps=5),
    StepDecay(Float(1e-3, 1.0, log=True), factor=Float(0.1, 1.0), every=Int(1, 20), total_steps=100),
    Exponential(Categorical([0.1, 0.01]), total_steps=100),
    WarmupCosine(Float(1e-4, 1e-1, log=True), total_steps=100),
    PiecewiseLinear([Float(0.0, 1.0), 0.5, Float(0.0, 1.0, step=0.1)], total_steps=100),
    PiecewiseLinear([Float(1e-3, 1.0, log=True), 1e-2], log=True, total_steps=100),
]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.kind)
def test_families_round_trip_through_dict_yaml_and_search_space(family):
    assert schedule_from_dict(family.to_dict()) == family
    space = SearchSpace({"x": Float(0, 1), "h": family})
    again = SearchSpace.from_yaml(yaml.safe_dump(space.to_dict()))
    assert again == space and again.schedules["h"] == family
    assert set(again.names) == set(space.names) and all(n == "x" or n.startswith("h.") for n in space.names)
    params = space.decode([0.5] * space.dim)
    sched = schedules_from_params(space, params)["h"]
    assert ScheduledValue.from_dict(sched.to_dict()) == sched
    assert math.isfinite(sched(0)) and math.isfinite(sched(1000))


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: StepDecay(0.1, factor=1.5, every=2, total_steps=10), ValueError, r"factor: every value .* \(0"),
        (lambda: StepDecay(0.1, factor=Float(0.0, 1.0), every=2, total_steps=10), ValueError, "factor"),
        (lambda: WarmupCosine(0.1, warmup=1.0, total_steps=10), ValueError, r"warmup: every value must lie in \[0"),
        (lambda: WarmupCosine(0.1, total_steps=0), ValueError, "total_steps must be an integer >= 1"),
        (lambda: Exponential("big", total_steps=5), TypeError, "initial: expected a number"),
        (lambda: Exponential(Categorical(["a", "b"]), total_steps=5), TypeError, "numeric distribution"),
        (lambda: PiecewiseLinear([1.0], total_steps=5), ValueError, "at least 2"),
        (lambda: PiecewiseLinear([1.0, -1.0], log=True, total_steps=5), ValueError, "k1"),
        (lambda: Constant(Float(0, 1, when={"a": 1}), total_steps=5), ValueError, "condition"),
        (lambda: schedule_from_dict({"type": "schedule", "kind": "linear"}), ValueError, "unknown schedule"),
        (lambda: schedule_from_dict({"type": "schedule", "kind": "step", "total_steps": 3}), ValueError, "missing"),
        (
            lambda: SearchSpace({"lr": Exponential(Float(0.1, 1), total_steps=3), "lr.initial": 1.0}),
            ValueError,
            "clashes",
        ),
    ],
)
def test_bad_schedules_are_rejected_with_the_field_named(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_build_checks_values_and_schedule_checks_steps():
    fam = WarmupCosine(Float(1e-3, 1e-1, log=True), total_steps=10)
    with pytest.raises(ValueError, match="no value for field 'peak'"):
        fam.build({}, "lr")
    with pytest.raises(ValueError, match="outside"):
        fam.build({"lr.peak": 1.0, "lr.warmup": 0.1, "lr.final": 0.5}, "lr")
    with pytest.raises(TypeError, match="non-negative integer step"):
        fam.build({"lr.peak": 0.01, "lr.warmup": 0.1, "lr.final": 0.5}, "lr")(-1)


SPACE = {
    "lr": WarmupCosine(Float(1e-3, 1e-1, log=True), warmup=Float(0.0, 0.3), final=Float(0.0, 1.0), total_steps=T),
    "wd": Float(1e-6, 1e-2, log=True),
}


def _cost(params):
    # a made-up training cost: prefers peak ~ 0.02, little warm-up, strong decay
    lr = schedules_from_params(SearchSpace(SPACE), params)["lr"]
    return sum((math.log(lr(s) + 1e-9) - math.log(0.02 * (1 - s / T) + 1e-4)) ** 2 for s in range(T)) / T


@pytest.mark.parametrize("sampler", ["random", "tpe", "qmc", "cmaes", "gp"])
def test_declared_space_with_a_schedule_works_with_every_sampler(sampler):
    study = hyperdial.create_study(space=SearchSpace(SPACE), sampler=sampler, seed=0)
    n = 6 if sampler == "gp" else 14  # the GP's fits dominate: a few trials show it handles the space
    study.optimize(lambda t: _cost(t.params), n_trials=n, show_progress=False)
    assert len(study.trials) == n
    for t in study.trials:
        assert set(t.params) == {"lr.peak", "lr.warmup", "lr.final", "wd"}
    if sampler == "tpe":
        first = min(t.value for t in study.trials[:7])
        assert study.best_value <= first


def test_grid_sampler_enumerates_the_schedule_fields():
    space = SearchSpace(
        {"lr": StepDecay(Categorical([0.1, 0.01]), factor=Categorical([0.5, 1.0]), every=5, total_steps=20)}
    )
    study = hyperdial.create_study(sampler=GridSampler(space), seed=0)
    study.optimize(lambda t: t.suggest_schedule("lr", space.schedules["lr"])(19), show_progress=False)
    combos = {(t.params["lr.initial"], t.params["lr.factor"]) for t in study.trials}
    assert combos == {(0.1, 0.5), (0.1, 1.0), (0.01, 0.5), (0.01, 1.0)}
    assert study.best_value == pytest.approx(0.01 * 0.5**3)


def _train(trial, replay=None):
    # gradient descent on (w - 3)^2 with a scheduled step size, recorded on the trial
    if replay is None:
        lr = trial.suggest_schedule("lr", PiecewiseLinear([Float(0.01, 0.4), Float(0.01, 0.4)], total_steps=20))
        controller = ScheduleController({"lr": lr})
    else:
        controller = ReplayController(replay)
    loop = ControlLoop(controller, {"lr": 0.0}, trial=trial)
    w = 0.0
    for step in range(20):
        w -= loop.params["lr"] * 2 * (w - 3)
        loop.step(step, {"loss": (w - 3) ** 2})
    return (w - 3) ** 2


def test_define_by_run_schedule_is_recorded_and_replays_exactly():
    study = hyperdial.create_study(sampler="tpe", seed=5)
    study.optimize(_train, n_trials=8, show_progress=False)
    for frozen in study.trials:
        assert set(frozen.params) == {"lr.k0", "lr.k1"}
        sched = recorded_schedule(frozen)
        expected = PiecewiseLinear([frozen.params["lr.k0"], frozen.params["lr.k1"]], total_steps=20).build({})
        assert [sched.at(s)["lr"] for s in range(20)] == expected.values(range(20))
        replay = hyperdial.create_study(sampler="random", seed=9)
        replay.optimize(lambda t, s=sched: _train(t, s), n_trials=1, show_progress=False)
        assert replay.trials[0].value == frozen.value
    with pytest.raises(TypeError, match="schedule family"):
        study.ask().suggest_schedule("lr", Float(0, 1))
    with pytest.raises(TypeError, match="ScheduledValue"):
        ScheduleController({"lr": 0.1})
