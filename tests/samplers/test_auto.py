from __future__ import annotations

import math
from collections import Counter

import pytest

import hyperdial
from hyperdial import AutoSampler, Categorical, Float, Int, SearchSpace, TPESampler
from hyperdial.samplers.gp import OPTIMUM_TRIED_ATTR

# Two branches: "a" is a flat plateau at 1.0, "b" holds the optimum 0 at (x, y) = (0.3, -0.2)
# and a shared categorical "act" whose best value is "relu".
SPACE = SearchSpace(
    {
        "branch": Categorical(["a", "b"]),
        "act": Categorical(["relu", "tanh"]),
        "a_w": Float(0.0, 1.0, when={"branch": "a"}),
        "x": Float(-2.0, 2.0, when={"branch": "b"}),
        "y": Float(-2.0, 2.0, when={"branch": "b"}),
        "k": Int(1, 8, when={"branch": "b"}),
    }
)


def branched(t: hyperdial.Trial) -> float:
    p = t.params
    act = 0.0 if p["act"] == "relu" else 0.5
    if p["branch"] == "a":
        return 1.0 + act + 0.1 * p["a_w"]
    return act + (p["x"] - 0.3) ** 2 + 3.0 * (p["y"] + 0.2) ** 2 + 0.01 * (p["k"] - 3) ** 2


def run(sampler, n: int, seed: int = 0) -> hyperdial.Study:
    study = hyperdial.create_study(sampler=sampler, seed=seed, space=SPACE)
    study.optimize(branched, n_trials=n, show_progress=False)
    return study


def test_rule_picks_gp_for_small_flat_spaces_and_tpe_otherwise():
    auto = AutoSampler(gp_max_dim=3, gp_max_trials=50)
    small = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    big = SearchSpace({f"x{i}": Float(0, 1) for i in range(4)})
    study = hyperdial.create_study(sampler=auto, space=small, seed=0)
    history = study.history
    assert auto.choose(history, small) is auto._gp
    assert auto.choose(history, big) is auto._tpe
    assert auto.choose(history, SPACE) is auto._tpe  # conditional: TPE picks the branch


def test_conditional_space_models_the_chosen_branch_with_a_gp():
    study = run(AutoSampler(), 60)
    kinds = Counter(t.system_attrs["sampler"] for t in study.trials)
    assert kinds["tpe+gp"] >= 10, kinds
    for t in study.trials:
        if t.system_attrs["sampler"] == "tpe+gp":
            SPACE.validate(dict(t.params))  # raises if a value is outside its distribution
            active = {"branch", "act", "a_w"} if t.params["branch"] == "a" else {"branch", "act", "x", "y", "k"}
            assert set(t.params) == active
    # The branch GP finds the narrow basin that TPE alone approaches slowly.
    assert study.best_value < 0.01
    assert study.best_params["branch"] == "b" and study.best_params["act"] == "relu"


def test_branch_gp_beats_tpe_alone_over_seeds():
    auto = [run(AutoSampler(), 50, seed).best_value for seed in range(3)]
    tpe = [run(TPESampler(), 50, seed).best_value for seed in range(3)]
    assert sum(math.log10(a + 1e-9) for a in auto) < sum(math.log10(b + 1e-9) for b in tpe)


def test_branch_gp_never_repeats_a_configuration():
    # A plateau branch with a single numeric parameter: a GP settles on its corner quickly.
    space = SearchSpace(
        {
            "model": Categorical(["lin", "flat"]),
            "c": Float(1e-3, 1e3, log=True, when={"model": "lin"}),
            "w": Float(0.0, 1.0, when={"model": "flat"}),
        }
    )

    def f(t: hyperdial.Trial) -> float:
        p = t.params
        return 1.0 / (1.0 + p["c"]) if p["model"] == "lin" else 2.0 + p["w"]

    study = hyperdial.create_study(sampler=AutoSampler(), seed=3, space=space)
    study.optimize(f, n_trials=50, show_progress=False)
    seen = Counter(tuple(sorted(t.params.items())) for t in study.trials)
    assert max(seen.values()) == 1
    assert any(t.system_attrs["sampler"] == "tpe+gp" for t in study.trials)


def test_branch_gp_is_reproducible_and_resumes(sqlite_url):
    a = run(AutoSampler(), 30, seed=5)
    b = run(AutoSampler(), 30, seed=5)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    first = hyperdial.create_study("auto", sqlite_url, sampler=AutoSampler(), seed=5, space=SPACE)
    first.optimize(branched, n_trials=20, show_progress=False)
    resumed = hyperdial.load_study("auto", sqlite_url, sampler=AutoSampler())
    resumed.optimize(branched, n_trials=10, show_progress=False)
    assert [dict(t.params) for t in resumed.trials] == [dict(t.params) for t in a.trials]


def test_several_objectives_on_a_conditional_space_stay_with_tpe():
    study = hyperdial.create_study(sampler=AutoSampler(), seed=0, space=SPACE, directions=["minimize", "minimize"])
    study.optimize(lambda t: (branched(t), len(t.params)), n_trials=25, show_progress=False)
    assert {t.system_attrs["sampler"] for t in study.trials} <= {"tpe", "tpe-startup"}


def test_branch_min_trials_is_checked():
    with pytest.raises(ValueError, match="branch_min_trials"):
        AutoSampler(branch_min_trials=1)


def test_branch_gp_whose_optimum_was_tried_leaves_the_proposal_to_tpe():
    # The lin branch's optimum is its corner c = 1e3: once the branch GP's best point is that
    # tried corner (it flags the proposal), TPE's proposal must stand rather than the GP's
    # next-best point beside the corner.
    space = SearchSpace(
        {
            "model": Categorical(["lin", "flat"]),
            "c": Float(1e-3, 1e3, log=True, when={"model": "lin"}),
            "w": Float(0.0, 1.0, when={"model": "flat"}),
        }
    )
    auto = AutoSampler()
    flagged: list[int] = []
    gp_sample = auto._branch_gp.sample

    def recording(history, sub_space, rng):
        proposal = gp_sample(history, sub_space, rng)
        flagged.append(bool(proposal.attrs.get(OPTIMUM_TRIED_ATTR)))
        return proposal

    auto._branch_gp.sample = recording
    study = hyperdial.create_study(sampler=auto, seed=3, space=space)
    for _ in range(50):
        before = len(flagged)
        trial = study.ask()
        p = trial.params
        study.tell(trial, 1.0 / (1.0 + p["c"]) if p["model"] == "lin" else 2.0 + p["w"])
        if len(flagged) > before and flagged[-1]:
            assert study.trials[-1].system_attrs["sampler"] == "tpe"
    assert any(flagged), "the branch GP never flagged a tried optimum: the test no longer exercises the rule"
