"""Multi-objective TPE (MOTPE): hypervolume subset selection, contributions, the split, search."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace, TPESampler, hypervolume
from hyperdial.samplers._motpe import (
    WEIGHT_FLOOR,
    _hv_improvement,
    greedy_hssp,
    hypervolume_contributions,
    motpe_order,
    motpe_ranking,
    motpe_weights,
)
from hyperdial.trial import TrialState

REFERENCE_FILE = Path(__file__).parent / "data" / "tpe_single_objective_reference.json"


def _front(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` mutually non-dominated points (on the unit simplex's positive orthant sphere)."""
    d = np.abs(rng.normal(size=(n, m)))
    return 1.0 - d / np.linalg.norm(d, axis=1, keepdims=True)


def _best_subset_hv(L: np.ndarray, k: int, ref: np.ndarray) -> float:
    return max(hypervolume(L[list(s)], ref) for s in itertools.combinations(range(len(L)), k))


def test_hssp_picks_the_subset_of_maximal_hypervolume_where_crowding_would_not():
    # Two isolated extremes (infinite crowding distance, what a crowding split keeps first) and
    # three points near the knee: the best pair and triple by hypervolume are knee points.
    L = np.array([[0.0, 1.0], [0.1, 0.5], [0.5, 0.1], [0.6, 0.05], [1.0, 0.0]])
    ref = np.array([1.1, 1.1])
    for k, want in ((1, {1}), (2, {1, 2}), (3, {1, 2, 3})):
        chosen = greedy_hssp(L, k, ref)
        best = _best_subset_hv(L, k, ref)
        assert set(chosen.tolist()) == want
        assert hypervolume(L[chosen], ref) == pytest.approx(best, rel=1e-12)
    assert hypervolume(L[[0, 4]], ref) < 0.3 < hypervolume(L[[1, 2]], ref)


@pytest.mark.parametrize("m", [2, 3])
def test_greedy_hssp_against_brute_force(m):
    rng = np.random.default_rng(m)
    for _ in range(15):
        L = _front(7, m, rng)
        ref = L.max(axis=0) + 0.1
        for k in (1, 2, 3, 7):
            chosen = greedy_hssp(L, k, ref)
            assert len(set(chosen.tolist())) == k
            best = _best_subset_hv(L, k, ref)
            got = hypervolume(L[chosen], ref)
            assert got >= (1 - 1 / math.e) * best - 1e-12  # submodular greedy guarantee
            assert got <= best + 1e-12
            if k in (1, 7):
                assert got == pytest.approx(best, rel=1e-12)
        # prefix property: the choice for k is the start of the choice for k + 1
        assert greedy_hssp(L, 3, ref)[:2].tolist() == greedy_hssp(L, 2, ref).tolist()


def test_batched_2d_improvement_equals_exact_hypervolume_differences():
    rng = np.random.default_rng(5)
    for _ in range(20):
        L = rng.random((12, 2))  # dominated points and all
        ref = np.array([1.2, 1.3])
        chosen, cand = L[:5], L[5:]
        base = hypervolume(chosen, ref)
        want = [hypervolume(np.vstack([chosen, c]), ref) - base for c in cand]
        np.testing.assert_allclose(_hv_improvement(cand, chosen, ref), want, atol=1e-12)


@pytest.mark.parametrize("m", [2, 3])
def test_contributions_are_exclusive_hypervolumes_non_negative(m):
    rng = np.random.default_rng(10 + m)
    for _ in range(20):
        L = rng.random((9, m))
        L[3] = L[4]  # an exact duplicate: neither contributes alone
        ref = np.full(m, 1.1)
        c = hypervolume_contributions(L, ref)
        total = hypervolume(L, ref)
        want = [total - hypervolume(np.delete(L, i, axis=0), ref) for i in range(len(L))]
        np.testing.assert_allclose(c, want, atol=1e-12)
        assert np.all(c >= 0)
        assert c[3] == 0 and c[4] == 0
        assert c.sum() <= total + 1e-12


def test_contributions_sum_with_the_shared_region_to_the_hypervolume():
    # Two non-dominated points: c1 + c2 + (the box both dominate) = HV (inclusion-exclusion).
    rng = np.random.default_rng(0)
    for m in (2, 3):
        for _ in range(10):
            L = _front(2, m, rng)
            ref = np.full(m, 1.5)
            c = hypervolume_contributions(L, ref)
            shared = np.prod(ref - L.max(axis=0))
            assert c.sum() + shared == pytest.approx(hypervolume(L, ref), rel=1e-12)
    # One point: its contribution is the whole hypervolume; dominated points contribute 0.
    assert hypervolume_contributions(np.array([[0.2, 0.3]]), np.array([1.0, 1.0])).tolist() == [pytest.approx(0.56)]
    c = hypervolume_contributions(np.array([[0.2, 0.3], [0.5, 0.5]]), np.array([1.0, 1.0]))
    assert c[1] == 0


def test_weights_normalised_floored_and_infeasible_at_the_floor():
    L = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [2.0, 2.0], [0.5, 0.5]])
    w = motpe_weights(L, feasible=np.array([True, True, True, True, False]))
    assert w.max() == 1.0
    assert np.all(w >= WEIGHT_FLOOR)
    assert w[3] == WEIGHT_FLOOR  # dominated
    assert w[4] == WEIGHT_FLOOR  # infeasible, although it would dominate [1, 1]
    assert w[1] == 1.0 and w[0] == pytest.approx(w[2])
    assert motpe_weights(np.array([[1.0, 1.0]])).tolist() == [1.0]


def test_order_fills_fronts_then_cuts_the_straddling_front_by_hssp():
    rng = np.random.default_rng(3)
    L = np.vstack([_front(4, 2, rng), _front(10, 2, rng) + 0.5, _front(6, 2, rng) + 1.0])
    for n_good in (3, 4, 7, 14, 16):
        order = motpe_order(L, n_good)
        assert sorted(order.tolist()) == list(range(len(L)))
        good = set(order[:n_good].tolist())
        if n_good <= 4:
            assert good <= set(range(4))
            ref_front = L[:4]
        elif n_good <= 14:
            assert set(range(4)) <= good and good <= set(range(14))
            ref_front = L[4:14]
        else:
            assert set(range(14)) <= good
            ref_front = L[14:]
        # the cut front's share is greedy HSSP's choice within that front
        start = {4: 0, 14: 4, 20: 14}[max(e for e in (4, 14, 20) if e - len(ref_front) < n_good <= e)]
        picked = sorted(order[start:n_good].tolist())
        want = sorted((greedy_hssp(ref_front, n_good - start) + start).tolist())
        assert picked == want


def test_validation_names_the_parameter():
    with pytest.raises(ValueError, match="k must be an integer"):
        greedy_hssp(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="losses must be a 2-d array"):
        greedy_hssp(np.zeros(3), 1)


def _zdt1(t, dim=5):
    x = np.array([t.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dim)])
    g = 1.0 + 9.0 * x[1:].mean()
    return float(x[0]), float(g * (1.0 - math.sqrt(x[0] / g)))


def test_motpe_beats_random_hypervolume_on_zdt1_at_small_budget():
    def hv(sampler, seed):
        study = hyperdial.create_study(directions=["minimize", "minimize"], sampler=sampler, seed=seed)
        study.optimize(_zdt1, n_trials=60, show_progress=False)
        return hypervolume(study, reference=[1.1, 11.0])

    tpe = [hv(TPESampler(), s) for s in range(3)]
    rnd = [hv("random", s) for s in range(3)]
    assert np.mean(tpe) > np.mean(rnd) + 0.3
    assert min(tpe) > max(rnd)


def test_multi_objective_proposals_are_reproducible():
    def params(seed):
        study = hyperdial.create_study(directions=["minimize", "maximize"], sampler=TPESampler(), seed=seed)
        study.optimize(lambda t: (lambda a, b: (a, -b))(*_zdt1(t, 3)), n_trials=25, show_progress=False)
        return [t.params for t in study.trials]

    assert params(1) == params(1)
    assert params(1) != params(2)


def test_infeasible_trials_stay_out_of_the_good_group():
    def cons(ft):
        return [0.3 - ft.params["x0"]]  # feasible only for x0 >= 0.3: the low-f1 end is cut off

    study = hyperdial.create_study(
        directions=["minimize", "minimize"], sampler=TPESampler(), seed=0, constraints_func=cons
    )
    study.optimize(_zdt1, n_trials=40, show_progress=False)
    h = study.sync()
    sampler = TPESampler()
    ordered, _, _ = sampler._ranking(h)
    done = h.numbers(TrialState.COMPLETE)
    n_good = max(1, min(sampler.gamma(len(ordered)), len(ordered) - 1))
    feasible = {t.number for t in study.trials if t.params["x0"] >= 0.3}
    assert len(feasible) > n_good
    assert set(ordered[:n_good].tolist()) <= feasible
    assert set(ordered[len(feasible) :].tolist()) == set(done.tolist()) - feasible
    # the same ranking through the helper alone
    again = motpe_ranking(h, ordered, len(done), n_good)
    assert again[:n_good].tolist() == ordered[:n_good].tolist()
    late = [t.params["x0"] for t in study.trials[20:]]
    assert np.mean(np.array(late) >= 0.3) > 0.6  # the search follows the feasible region


def _single_objective_run(multivariate: bool, define_by_run: bool) -> list[list]:
    """The sequence recorded in data/tpe_single_objective_reference.json (before MOTPE)."""
    space = SearchSpace(
        {"x": Float(-5, 5), "lr": Float(1e-4, 1.0, log=True), "k": Int(0, 20), "c": Categorical(["a", "b", "c"])}
    )
    sampler = TPESampler(multivariate=multivariate, n_startup_trials=5)
    if define_by_run:
        study = hyperdial.create_study(sampler=sampler, seed=3)

        def f(t):
            x, k = t.suggest_float("x", -5, 5), t.suggest_int("k", 0, 20)
            return (x - 1) ** 2 + (k - 13) ** 2 / 10 + (t.suggest_categorical("c", ["a", "b", "c"]) != "b")
    else:
        study = hyperdial.create_study(sampler=sampler, seed=3, space=space)

        def f(t):
            p = t.params
            return (p["x"] - 1) ** 2 + (np.log10(p["lr"]) + 2) ** 2 + (p["k"] - 13) ** 2 / 10 + (p["c"] != "b")

    study.optimize(f, n_trials=30, show_progress=False)
    return [[t.params[n] for n in sorted(t.params)] for t in study.trials]


@pytest.mark.parametrize("multivariate", [True, False])
@pytest.mark.parametrize("define_by_run", [False, True])
def test_single_objective_proposals_unchanged(multivariate, define_by_run):
    want = json.loads(REFERENCE_FILE.read_text())[f"mv{int(multivariate)}_dbr{int(define_by_run)}"]
    got = _single_objective_run(multivariate, define_by_run)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
            else:
                assert a == b


def test_three_objectives_search_and_define_by_run():
    def dtlz2(t):
        x = [t.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)]
        g = sum((v - 0.5) ** 2 for v in x[2:])
        a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
        return (1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)

    def hv(sampler, multivariate=True):
        study = hyperdial.create_study(directions=["minimize"] * 3, sampler=sampler, seed=0)
        study.optimize(dtlz2, n_trials=50, show_progress=False)
        return hypervolume(study, reference=[2.0, 2.0, 2.0])

    tpe, univariate, rnd = hv(TPESampler()), hv(TPESampler(multivariate=False)), hv("random")
    assert tpe > rnd and univariate > rnd


def test_candidate_count_with_several_objectives_grows_with_the_dimension():
    for dims, directions, expected in ((2, 2, 24), (8, 2, 24), (9, 2, 48), (30, 2, 96), (30, 1, 24)):
        space = SearchSpace({f"x{i}": Float(0, 1) for i in range(dims)})
        for given in (None, 7):
            sampler = TPESampler(n_startup_trials=3, n_ei_candidates=given)
            study = hyperdial.create_study(directions=["minimize"] * directions, sampler=sampler, space=space, seed=0)
            for _ in range(5):
                t = study.ask()
                x = [t.params[f"x{i}"] for i in range(dims)]
                study.tell(t, (x[0], 1 - x[0] + sum(x[1:])) if directions == 2 else sum(x))
            assert sampler.n_ei_candidates == given
            assert sampler._ei_count(dims, directions) == (expected if given is None else 7)
            assert sampler._ei_count(1, directions) == (24 if given is None else 7)  # univariate: one dimension
    with pytest.raises(ValueError, match="n_ei_candidates"):
        TPESampler(n_ei_candidates=0)
