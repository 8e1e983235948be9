from __future__ import annotations

import numpy as np

import hyperdial
from hyperdial import Categorical, CoarseToFineSampler, Float, Int, SearchSpace

SPACE = SearchSpace(
    {"x": Float(-5, 5), "lr": Float(1e-5, 1.0, log=True), "k": Int(1, 50), "opt": Categorical(["a", "b"])}
)


def f(t):
    p = t.params
    return (p["x"] - 1.3) ** 2 + (np.log10(p["lr"]) + 2.5) ** 2 + (p["k"] - 17) ** 2 / 100 + (p["opt"] == "a")


def test_fine_rounds_stay_inside_their_box_and_the_box_narrows():
    study = hyperdial.create_study(sampler=CoarseToFineSampler(round_size=12), seed=0, space=SPACE)
    study.optimize(f, n_trials=48, show_progress=False)
    widths = []
    for t in study.trials:
        box = t.system_attrs["c2f_box"]
        lo, hi = box["x"]
        assert lo - 1e-9 <= t.params["x"] <= hi + 1e-9
        lo_lr, hi_lr = box["lr"]
        assert lo_lr * (1 - 1e-9) <= t.params["lr"] <= hi_lr * (1 + 1e-9)
        if t.system_attrs["c2f_round"] > 0:
            assert t.params["opt"] == box["opt"][0]  # categoricals fixed to the winner's value
        widths.append((t.system_attrs["c2f_round"], hi - lo))
    by_round = {r: w for r, w in widths}
    assert by_round[0] == 10.0 and by_round[3] < by_round[1] < 10.0


def test_beats_random_and_grid_at_equal_budget():
    def best(sampler, seed):
        study = hyperdial.create_study(sampler=sampler, seed=seed, space=SPACE)
        study.optimize(f, n_trials=60, show_progress=False)
        return study.best_value

    c2f = [best(CoarseToFineSampler(round_size=15), s) for s in range(6)]
    rnd = [best("random", s) for s in range(6)]
    grid = [best(hyperdial.GridSampler(points=3, shuffle=True), s) for s in range(6)]
    assert np.mean(c2f) < np.mean(rnd) and np.mean(c2f) < np.mean(grid)
