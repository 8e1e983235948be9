from __future__ import annotations

import numpy as np

import hyperdial
from hyperdial import Categorical, Float, Int, SearchSpace, TPESampler
from hyperdial.multi_objective import non_dominated_sort
from hyperdial.samplers.tpe import _RUNNING, _Parzen, _ramp_of_ranks, _rank_by_number


def test_concentrates_on_the_good_region_of_a_quadratic():
    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=10), seed=0)
    study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 3) ** 2, n_trials=80, show_progress=False)
    late = [t.params["x"] for t in study.trials[-30:]]
    assert np.median(np.abs(np.array(late) - 3)) < 2.0  # uniform sampling gives about 5
    assert abs(study.best_params["x"] - 3) < 0.3


def test_beats_random_on_a_mixed_space_over_seeds():
    space = SearchSpace({"x": Float(-5, 5), "k": Int(0, 20), "c": Categorical(["a", "b", "c", "d"]), "y": Float(-5, 5)})

    def f(t):
        p = t.params
        return (p["x"] - 1) ** 2 + (p["k"] - 13) ** 2 / 10 + (p["c"] != "c") + (p["y"] + 2) ** 2

    def best(sampler, seed):
        study = hyperdial.create_study(sampler=sampler, seed=seed, space=space)
        study.optimize(f, n_trials=60, show_progress=False)
        return study.best_value

    tpe = [best(TPESampler(), s) for s in range(6)]
    rnd = [best("random", s) for s in range(6)]
    assert np.mean(tpe) < np.mean(rnd) / 2


def test_discrete_kernel_puts_mass_on_cells():
    cells = np.array([4.0])
    est = _Parzen(np.array([[0.375]]), np.ones(1), cells, np.array([False]), 1.0)
    x = np.array([[0.125], [0.375], [0.625], [0.875]])
    p = np.exp(est.log_pdf(x))
    assert abs(p.sum() - 1.0) < 1e-9  # a probability per cell, not a density
    assert p.argmax() == 1
    samples = est.sample(200, np.random.default_rng(0))
    assert set(np.round(samples[:, 0] * 8).astype(int)) <= {1, 3, 5, 7}


def test_continuous_kernel_integrates_to_one():
    est = _Parzen(np.array([[0.1], [0.9], [0.5]]), np.ones(3), np.array([0.0]), np.array([False]), 1.0)
    grid = np.linspace(0, 1, 20001)[:, None]
    assert abs(np.exp(est.log_pdf(grid)).mean() - 1.0) < 1e-3


def test_constant_liar_spreads_pending_proposals():
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=5), seed=0, space=space)
    study.optimize(lambda t: (t.params["x"] - 0.5) ** 2 + (t.params["y"] - 0.5) ** 2, n_trials=20, show_progress=False)
    pending = [study.ask() for _ in range(5)]
    xs = np.array([[t.params["x"], t.params["y"]] for t in pending])
    d = np.linalg.norm(xs[:, None] - xs[None], axis=2)[np.triu_indices(5, 1)]
    assert d.min() > 1e-6


def test_conditional_parameters_are_modelled_per_group():
    space = SearchSpace(
        {
            "model": Categorical(["a", "b"]),
            "xa": Float(0, 1, when={"model": "a"}),
            "xb": Float(0, 1, when={"model": "b"}),
        }
    )
    study = hyperdial.create_study(sampler=TPESampler(n_startup_trials=10), seed=1, space=space)
    study.optimize(
        lambda t: (t.params.get("xb", 9) - 0.8) ** 2 if t.params["model"] == "b" else 1 + t.params["xa"],
        n_trials=60,
        show_progress=False,
    )
    late = study.trials[-20:]
    assert sum(t.params["model"] == "b" for t in late) >= 14
    assert abs(study.best_params["xb"] - 0.8) < 0.1


def test_multi_objective_ranking_and_search():
    losses = np.array([[1, 1], [2, 0], [0, 2], [2, 2], [3, 3]])
    assert non_dominated_sort(losses).tolist() == [0, 0, 0, 1, 2]
    study = hyperdial.create_study(sampler=TPESampler(), directions=["minimize", "minimize"], seed=0)
    study.optimize(
        lambda t: (t.suggest_float("x", 0, 1), 1 - t.suggest_float("x", 0, 1) ** 0.5), n_trials=40, show_progress=False
    )
    assert len(study.best_trials) >= 5


def test_cached_truncation_masses_give_the_proposals_a_fresh_sampler_gives():
    from hyperdial.study import _Streams

    space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5), "c": Categorical(["a", "b", "c"])})
    study = hyperdial.create_study(sampler=TPESampler(), seed=0, space=space)

    def f(t):
        return (t.params["x"] - 1) ** 2 + abs(t.params["y"]) + (t.params["c"] != "b")

    study.optimize(f, n_trials=120, show_progress=False)
    warm = study.sampler  # has cached the masses of the bad group's kernels along the way
    assert warm._log_z
    history = study._history
    streams = _Streams(7)
    for k in range(3):
        fresh = TPESampler()
        fresh.bind(study.seed)
        a = warm.sample(history, space, streams.get(1000 + k, 0)).params
        b = fresh.sample(history, space, streams.get(1000 + k, 0)).params
        assert a == b


def test_parzen_matches_a_direct_mixture_density():
    from scipy.stats import truncnorm

    from hyperdial.samplers.tpe import bandwidths

    rng = np.random.default_rng(3)
    obs = rng.random((7, 2))
    obs[:, 1] = (np.floor(obs[:, 1] * 3) + 0.5) / 3  # a 3-way categorical
    cells, is_cat = np.array([0.0, 3.0]), np.array([False, True])
    w = rng.random(7) + 0.5
    est = _Parzen(obs, w, cells, is_cat, 1.0)
    x = np.array([[0.3, 0.5], [0.95, 0.1]])
    s = bandwidths(7, cells, is_cat)[0]
    b = 2 / 3 * min(1.0, 8 ** (-1 / 6) + 0.05)
    weights = np.append(w, w.mean()) / np.append(w, w.mean()).sum()
    expected = []
    for row in x:
        cat = int(row[1] * 3)
        dens = [
            truncnorm.pdf(row[0], -mu / s, (1 - mu) / s, loc=mu, scale=s) * ((1 - b) if int(c * 3) == cat else b / 2)
            for mu, c in obs
        ]
        dens.append(truncnorm.pdf(row[0], -0.5, 0.5, loc=0.5, scale=1.0) / 3)
        expected.append(np.log(np.dot(weights, dens)))
    np.testing.assert_allclose(est.log_pdf(x), expected, rtol=1e-10)


def test_pruned_trials_end_the_startup_like_complete_ones():
    # Under ASHA most trials are pruned; they are observations, so the model starts after
    # n_startup_trials of them, not after n_startup_trials COMPLETE ones.
    import hyperdial
    from hyperdial import TrialState

    study = hyperdial.create_study(sampler=hyperdial.TPESampler(n_startup_trials=5), seed=0)
    for i in range(6):
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        t.report(x, 1)
        study.tell(t, x) if i == 0 else study.tell(t, state=TrialState.PRUNED)
    t = study.ask()
    t.suggest_float("x", 0, 1)
    study.tell(t, 0.5)
    assert study.trials[-1].system_attrs["sampler"] == "tpe"


def test_bad_group_weights_rank_by_trial_number_like_a_stable_sort():
    rng = np.random.default_rng(0)
    for m, n_running in ((30, 0), (200, 3), (1, 0), (40, 40)):
        numbers = rng.permutation(5 * m)[:m].astype(np.int64)
        numbers = np.concatenate([numbers, np.full(n_running, _RUNNING)])
        rng.shuffle(numbers)
        expected = np.empty(len(numbers))
        expected[np.argsort(numbers, kind="stable")] = np.arange(len(numbers))
        assert np.array_equal(_rank_by_number(numbers), expected)
    for n in (1, 24, 25, 26, 27, 100, 1000):
        ramp = np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)]) if n >= 25 else np.ones(n)
        ranks = rng.permutation(n)
        np.testing.assert_allclose(_ramp_of_ranks(ranks, n), ramp[ranks], rtol=1e-15)


def _direct_draws(est: _Parzen, n: int, rng: np.random.Generator) -> np.ndarray:
    """Candidates drawn per draw, without the estimator's precomputed tables (the same random stream)."""
    from scipy.special import ndtr, ndtri

    cdf = np.cumsum(np.exp(est.log_w))
    comp = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)
    is_prior = comp == est.m
    src = np.minimum(comp, max(est.m - 1, 0))
    mu = est.obs[src] if est.m else np.full((n, est.k), 0.5)
    mu[is_prior] = 0.5
    sigma = np.where(is_prior[:, None], 1.0, est.sd[None, :])
    lo = ndtr(-mu / sigma)
    u = lo + rng.random((n, est.k)) * (ndtr((1.0 - mu) / sigma) - lo)
    x = np.clip(mu + sigma * ndtri(np.clip(u, 1e-300, 1 - 1e-16)), 0.0, 1.0)
    kc = est.cells[est.grid]
    x[:, est.grid] = (np.clip(np.floor(x[:, est.grid] * kc), 0, kc - 1) + 0.5) / kc
    for i, j in enumerate(est.cat):
        K = int(est.cells[j])
        obs = est.cat_obs[i][src] if est.m else np.zeros(n, dtype=np.intp)
        keep = rng.random(n) >= est.cat_b[i]
        other = rng.integers(0, max(K - 1, 1), size=n)
        other = other + (other >= obs)
        choice = np.where(keep, obs, np.minimum(other, K - 1))
        choice = np.where(is_prior, rng.integers(0, K, size=n), choice)
        x[:, j] = (choice + 0.5) / K
    return x


def test_draws_from_the_tables_equal_direct_draws_bit_for_bit():
    # The estimator draws from per-component tables built once; the draws (prior ones included)
    # must be the numbers a per-draw computation gives, from the same random stream.
    cells = np.array([0.0, 5.0, 3.0, 0.0, 2.0])
    is_cat = np.array([False, False, True, False, True])
    data = np.random.default_rng(5)
    for m, prior in ((0, 1.0), (1, 1.0), (6, 3.0), (40, 1.0)):
        obs = data.random((m, 5))
        for j in (1, 2, 4):
            obs[:, j] = (np.floor(obs[:, j] * cells[j]) + 0.5) / cells[j]
        est = _Parzen(obs, data.random(m) + 0.1, cells, is_cat, prior)
        for seed in range(3):
            a = est.sample(64, np.random.default_rng(seed))
            b = _direct_draws(est, 64, np.random.default_rng(seed))
            assert a.tobytes() == b.tobytes()
        x, codes = est.draw(64, np.random.default_rng(9))
        for c, j in zip(codes, est.cat):
            assert np.array_equal(c, np.minimum((x[:, j] * cells[j]).astype(int), int(cells[j]) - 1))


def test_cached_masses_with_running_trials_give_a_fresh_samplers_proposals():
    # Constant liar: running trials join the bad group uncached; the warm caches must not matter.
    from hyperdial.study import _Streams

    space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5), "k": Int(0, 9), "c": Categorical(["a", "b"])})
    study = hyperdial.create_study(sampler=TPESampler(), seed=1, space=space)
    study.optimize(lambda t: (t.params["x"] - 1) ** 2 + abs(t.params["y"]), n_trials=90, show_progress=False)
    pending = [study.ask() for _ in range(3)]
    assert pending and study.sampler._log_z
    history = study._history
    streams = _Streams(3)
    for k in range(3):
        fresh = TPESampler()
        fresh.bind(study.seed)
        a = study.sampler.sample(history, space, streams.get(2000 + k, 0)).params
        b = fresh.sample(history, space, streams.get(2000 + k, 0)).params
        assert a == b
