"""Genetic algorithm, differential evolution, NSGA-II: operators, bookkeeping, and that they search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace, TrialState
from hyperdial.multi_objective import crowding_distance, hypervolume, non_dominated_sort
from hyperdial.samplers._variation import bounce_back, de_rand_1_bin, polynomial_mutation, sbx

# -- operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_de_recombination_keeps_bounds_and_categories(seed):
    rng = np.random.default_rng(seed)
    d = 7
    is_cat = np.array([False, False, False, True, False, True, False])
    n_choices = np.array([1, 1, 1, 3, 1, 5, 1], dtype=float)
    vecs = rng.random((4, d))
    for j in np.flatnonzero(is_cat):  # categorical genes hold cell centres
        vecs[:, j] = (np.floor(vecs[:, j] * n_choices[j]) + 0.5) / n_choices[j]
    F = float(rng.uniform(0.1, 2.0))
    child = de_rand_1_bin(*vecs, F, float(rng.random()), is_cat, n_choices, rng)
    assert np.all((child >= 0) & (child <= 1))
    for j in np.flatnonzero(is_cat):
        codes = (np.arange(n_choices[j]) + 0.5) / n_choices[j]
        assert np.isclose(codes, child[j]).any()  # a category's code, never a blend


def test_de_binomial_crossover_takes_at_least_one_mutant_gene():
    rng = np.random.default_rng(0)
    target = np.full(5, 0.5)
    r1, r2, r3 = np.full(5, 0.1), np.full(5, 0.3), np.full(5, 0.2)
    child = de_rand_1_bin(target, r1, r2, r3, 0.5, 0.0, np.zeros(5, bool), np.ones(5), rng)
    assert np.sum(child != target) == 1  # CR = 0: exactly the j_rand gene
    child = de_rand_1_bin(target, r1, r2, r3, 0.5, 1.0, np.zeros(5, bool), np.ones(5), rng)
    assert np.allclose(child, 0.15)  # CR = 1: the mutant x_r1 + F (x_r2 - x_r3)


def test_bounce_back_lands_between_target_and_bound():
    v = np.array([-0.5, 1.5, 0.3])
    t = np.array([0.2, 0.6, 0.9])
    assert np.allclose(bounce_back(v, t), [0.1, 0.8, 0.3])


@pytest.mark.parametrize("seed", range(10))
def test_sbx_and_polynomial_mutation_keep_bounds(seed):
    rng = np.random.default_rng(seed)
    p1, p2 = rng.random(20), rng.random(20)
    p1[:3] = [0.0, 1.0, 0.0]
    p2[:3] = [1.0, 0.0, 1e-9]
    for eta in (0.5, 2.0, 15.0, 100.0):
        c = sbx(p1, p2, eta, rng, prob_var=1.0)
        assert np.all((c >= 0) & (c <= 1))
        m = polynomial_mutation(c, eta, 1.0, rng)
        assert np.all((m >= 0) & (m <= 1))


def test_sbx_children_centre_on_parents():
    rng = np.random.default_rng(1)
    p1, p2 = np.array([0.4]), np.array([0.6])
    kids = np.array([sbx(p1, p2, 15.0, rng, prob_var=1.0)[0] for _ in range(4000)])
    assert abs(kids.mean() - 0.5) < 0.01  # SBX preserves the parents' mean
    assert np.mean(np.abs(kids - 0.5) < 0.15) > 0.9  # and with eta=15 stays close to them


# -- multi-objective helpers ------------------------------------------------------------------------


def _brute_force_ranks(L: np.ndarray) -> np.ndarray:
    n = len(L)
    rank = np.full(n, -1)
    left = set(range(n))
    r = 0
    while left:
        front = [i for i in left if not any(np.all(L[j] <= L[i]) and np.any(L[j] < L[i]) for j in left if j != i)]
        for i in front:
            rank[i] = r
        left -= set(front)
        r += 1
    return rank


@pytest.mark.parametrize("seed", range(8))
def test_non_dominated_sort_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = 2 + seed % 3
    L = rng.integers(0, 6, size=(60, m)).astype(float)  # many ties and duplicates
    assert non_dominated_sort(L).tolist() == _brute_force_ranks(L).tolist()
    L = rng.random((80, m))
    assert non_dominated_sort(L).tolist() == _brute_force_ranks(L).tolist()


def test_crowding_distance_known_values():
    L = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    d = crowding_distance(L)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert np.isclose(d[1], (3 - 0) / 4 + (4 - 1) / 4)
    assert np.isclose(d[2], (4 - 1) / 4 + (2 - 0) / 4)


def test_hypervolume_known_values():
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), [3.0, 3.0]) == pytest.approx(3.0)
    assert hypervolume(np.array([[0.0, 0.0, 0.0]]), [1.0, 2.0, 3.0]) == pytest.approx(6.0)
    # A dominated point and points beyond the reference add nothing.
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0], [2.5, 2.5], [0.5, 4.0]]), [3.0, 3.0]) == pytest.approx(3.0)
    # Three objectives: two boxes overlapping in a unit cube.
    P = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    assert hypervolume(P, [2.0, 2.0, 2.0]) == pytest.approx(2 + 2 - 1)
    # The exact 2-d hypervolume of a dense ZDT1 front against (1, 1): 1 - integral of (1 - sqrt x) = 2/3.
    x = np.linspace(0, 1, 20001)
    assert hypervolume(np.column_stack([x, 1 - np.sqrt(x)]), [1.0, 1.0]) == pytest.approx(2 / 3, abs=1e-4)
    assert hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_agrees_with_a_grid_count(m):
    rng = np.random.default_rng(m)
    P = rng.random((12, m))
    ref = np.full(m, 1.1)
    k = 120 if m == 2 else 50
    centres = (np.arange(k) + 0.5) / k * 1.1
    grid = np.array(list(itertools.product(centres, repeat=m)))
    dominated = np.zeros(len(grid), dtype=bool)
    for p in P:
        dominated |= np.all(grid >= p, axis=1)
    estimate = dominated.mean() * 1.1**m
    assert hypervolume(P, ref) == pytest.approx(estimate, rel=0.03)


def test_hypervolume_of_a_study_orients_directions_and_skips_infeasible():
    study = hyperdial.create_study(directions=["minimize", "maximize"], seed=0)
    for x, y in [(1.0, 2.0), (2.0, 3.0)]:
        t = study.ask()
        study.tell(t, (x, y))
    # Minimise x, maximise y, reference (3, 0): boxes [1,3]x[0,2] and [2,3]x[0,3] -> 4 + 1.
    assert hypervolume(study, [3.0, 0.0]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="reference"):
        hypervolume(study, [3.0])
    with pytest.raises(TypeError, match="reference"):
        hypervolume(study, 3.0)


# -- samplers ------------------------------------------------------------------------------------


def _sphere(t):
    return sum((v - 0.3) ** 2 for k, v in t.params.items() if k.startswith("x"))


SPHERE = SearchSpace({f"x{i}": Float(-5, 5) for i in range(4)})


@pytest.mark.parametrize(
    "factory",
    [
        lambda: hyperdial.GeneticSampler(population_size=12),
        lambda: hyperdial.DifferentialEvolutionSampler(population_size=12, variant="rand1bin"),
        lambda: hyperdial.DifferentialEvolutionSampler(population_size=12),
    ],
    ids=["ga", "de", "jde"],
)
def test_ga_and_de_beat_random_on_a_sphere(factory):
    ours, rand = [], []
    for seed in range(3):
        study = hyperdial.create_study(sampler=factory(), space=SPHERE, seed=seed)
        study.optimize(_sphere, n_trials=200, show_progress=False)
        ours.append(study.best_value)
        study = hyperdial.create_study(sampler="random", space=SPHERE, seed=seed)
        study.optimize(_sphere, n_trials=200, show_progress=False)
        rand.append(study.best_value)
    assert np.median(ours) < np.median(rand) / 5


def _zdt1(t):
    x = np.array([t.params[f"x{i}"] for i in range(5)])
    g = 1 + 9 * x[1:].mean()
    return x[0], g * (1 - np.sqrt(x[0] / g))


def test_nsga2_improves_hypervolume_on_zdt1_over_random():
    space = SearchSpace({f"x{i}": Float(0, 1) for i in range(5)})
    hv = {}
    for name, sampler in [("nsga2", lambda: hyperdial.NSGAIISampler(population_size=20)), ("random", lambda: "random")]:
        vals = []
        for seed in range(2):
            study = hyperdial.create_study(directions=["minimize"] * 2, sampler=sampler(), space=space, seed=seed)
            study.optimize(_zdt1, n_trials=300, show_progress=False)
            vals.append(hypervolume(study, [1.1, 11.0]))
        hv[name] = np.mean(vals)
    assert hv["nsga2"] > hv["random"] * 1.05


def test_generations_are_recorded_and_full():
    study = hyperdial.create_study(sampler=hyperdial.NSGAIISampler(population_size=5), space=SPHERE, seed=0)
    study.optimize(lambda t: (_sphere(t),), n_trials=23, show_progress=False)
    gens = [t.system_attrs["evo_gen"] for t in study.trials]
    assert gens == [g for g in range(5) for _ in range(5)][:23]
    assert [t.system_attrs["evo_slot"] for t in study.trials[:10]] == [0, 1, 2, 3, 4] * 2
    for t in study.trials[5:]:
        parents = t.system_attrs["evo_parents"]
        # Parents come from earlier generations only.
        assert all(study.trials[p].system_attrs["evo_gen"] < t.system_attrs["evo_gen"] for p in parents)


def test_de_children_replace_their_target_only_when_better():
    sampler = hyperdial.DifferentialEvolutionSampler(population_size=6)
    study = hyperdial.create_study(sampler=sampler, space=SPHERE, seed=3)
    study.optimize(_sphere, n_trials=60, show_progress=False)
    h = study.history
    lin = sampler._lineage(h, next(iter(sampler._lineages[h])))
    pop = sampler._population(h, SPHERE, lin, 10, 6)
    for slot in range(6):
        # The survivor of each slot is the best trial that ever held or challenged it.
        line = [lin.slots[g][slot] for g in range(10)]
        best = min(line, key=lambda n: study.trials[n].value)
        assert study.trials[pop[slot]].value == study.trials[best].value
    for t in study.trials[6:]:
        assert 0.1 <= t.system_attrs["de_F"] <= 1.0 and 0.0 <= t.system_attrs["de_CR"] <= 1.0


def test_pending_trials_take_distinct_slots_and_population_ignores_them():
    study = hyperdial.create_study(sampler=hyperdial.GeneticSampler(population_size=4), space=SPHERE, seed=0)
    first = [study.ask() for _ in range(4)]
    for t in first:
        study.tell(t, _sphere(t))
    pending = [study.ask() for _ in range(6)]  # gen 1 (4 slots) and gen 2 while gen 1 runs
    assert [(t.number, study.trials[t.number].system_attrs["evo_slot"]) for t in pending] == [
        (4, 0),
        (5, 1),
        (6, 2),
        (7, 3),
        (8, 0),
        (9, 1),
    ]
    # Generation 2's parents are gen-0 survivors only: gen-1 trials were still running.
    for n in (8, 9):
        assert all(p < 4 for p in study.trials[n].system_attrs["evo_parents"])


def test_categorical_genes_are_valid_categories():
    space = SearchSpace({"c": Categorical(["a", "b", "c", "d"]), "k": Int(1, 4), "x": Float(0, 1)})
    study = hyperdial.create_study(sampler=hyperdial.GeneticSampler(population_size=6), space=space, seed=0)
    study.optimize(
        lambda t: (t.params["c"] != "c") + abs(t.params["k"] - 3) + t.params["x"], n_trials=80, show_progress=False
    )
    assert {t.params["c"] for t in study.trials} <= {"a", "b", "c", "d"}
    assert study.best_params["c"] == "c" and study.best_params["k"] == 3


def test_single_objective_samplers_refuse_several_objectives():
    study = hyperdial.create_study(directions=["minimize"] * 2, sampler="ga", space=SPHERE, seed=0)
    with pytest.raises(ValueError, match="nsga2"):
        study.ask()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: hyperdial.GeneticSampler(population_size=1), "population_size"),
        (lambda: hyperdial.DifferentialEvolutionSampler(population_size=3), "population_size"),
        (lambda: hyperdial.DifferentialEvolutionSampler(variant="best2"), "variant"),
        (lambda: hyperdial.DifferentialEvolutionSampler(F=0), "F"),
        (lambda: hyperdial.GeneticSampler(crossover_prob=1.5), "crossover_prob"),
        (lambda: hyperdial.NSGAIISampler(eta_mutation=-1), "eta_mutation"),
    ],
)
def test_invalid_options_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_registry_names():
    for name in ("ga", "de", "jde", "nsga2"):
        study = hyperdial.create_study(
            sampler=name, space=SPHERE, seed=0, directions=["minimize"] * (2 if name == "nsga2" else 1)
        )
        t = study.ask()
        assert study.trials[t.number].system_attrs["sampler"] == name


def test_failed_trials_leave_the_population():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    study = hyperdial.create_study(
        sampler=hyperdial.DifferentialEvolutionSampler(population_size=4), space=space, seed=0
    )

    def f(t):
        if t.params["x"] > 0.5:
            raise RuntimeError("boom")
        return t.params["y"]

    study.optimize(f, n_trials=40, catch=(RuntimeError,), show_progress=False)
    assert study.trials[-1].state in (TrialState.COMPLETE, TrialState.FAILED)
    assert study.best_value < 0.2
