import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import scale

from hyperdial.gradient.implicit import BilevelProblem, HypergradientWarning, hyperoptimize, solve_hessian
from hyperdial.gradient.problems import KernelRidgeProblem, LogisticProblem, RidgeProblem, penalty_groups


def _fd(problem, log_hyper, eps=1e-4):
    out = np.zeros_like(log_hyper)
    for i in range(log_hyper.size):
        e = np.zeros_like(log_hyper)
        e[i] = eps
        hi = problem.validation(problem.solve(log_hyper + e), log_hyper + e)[0]
        lo = problem.validation(problem.solve(log_hyper - e), log_hyper - e)[0]
        out[i] = (hi - lo) / (2 * eps)
    return out


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _ridge(penalty="per_feature", fit_intercept=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6))
    y = x @ rng.normal(size=6) + 2.0 + rng.normal(size=90)
    return RidgeProblem(x[:60], y[:60], x[60:], y[60:], penalty=penalty, fit_intercept=fit_intercept)


def _logistic(penalty):
    x, y = load_breast_cancer(return_X_y=True)
    x = scale(x)
    return LogisticProblem(x[:150], y[:150], x[150:300], y[150:300], penalty=penalty)


def _kernel(lengthscale="per_feature"):
    x, y = load_diabetes(return_X_y=True)
    x, y = scale(x), (y - y.mean()) / y.std()
    return KernelRidgeProblem(x[:100], y[:100], x[100:170], y[100:170], lengthscale=lengthscale)


CASES = {
    "ridge-per-feature": (lambda: _ridge(), lambda p, r: r.normal(size=p.n_hyper) - 1),
    "ridge-shared-no-intercept": (lambda: _ridge("shared", False), lambda p, r: np.array([-0.5])),
    "ridge-groups": (lambda: _ridge(np.array([0, 0, 1, 1, 2, 2])), lambda p, r: r.normal(size=3) - 1),
    "logistic-groups": (lambda: _logistic(np.arange(30) // 5), lambda p, r: r.normal(size=6) - 3),
    "logistic-per-feature": (lambda: _logistic("per_feature"), lambda p, r: r.normal(size=30) - 3),
    "kernel-ridge-ard": (lambda: _kernel(), lambda p, r: np.r_[r.normal(size=10) + 1.0, -1.0]),
    "kernel-ridge-shared": (lambda: _kernel("shared"), lambda p, r: np.array([1.2, -2.0])),
}


@pytest.mark.parametrize("solver", ["exact", "cg", "neumann"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hypergradient_matches_central_finite_differences(case, solver):
    make, start = CASES[case]
    problem = make()
    log_hyper = start(problem, np.random.default_rng(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HypergradientWarning)
        value, grad, _w, _q = problem.hypergradient(log_hyper, solver=solver, neumann_terms=20000)
    assert grad.shape == (problem.n_hyper,)
    assert value == pytest.approx(problem.validation(problem.solve(log_hyper), log_hyper)[0])
    assert _rel(grad, _fd(problem, log_hyper)) < 1e-4


def test_one_feature_ridge_hypergradient_has_its_closed_form():
    # w(λ) = s_xy / (s_xx + λ), V(λ) = mean((x_v w - y_v)^2): dV/dlog λ = λ V'(λ)
    rng = np.random.default_rng(3)
    x, xv = rng.normal(size=(40, 1)), rng.normal(size=(25, 1))
    y, yv = 1.5 * x[:, 0] + rng.normal(size=40), 1.5 * xv[:, 0] + rng.normal(size=25)
    problem = RidgeProblem(x, y, xv, yv, penalty="shared", fit_intercept=False)
    lam = 0.7
    sxy, sxx = x[:, 0] @ y / 40, x[:, 0] @ x[:, 0] / 40
    w = sxy / (sxx + lam)
    dw = -sxy / (sxx + lam) ** 2
    dv = np.mean(2 * (xv[:, 0] * w - yv) * xv[:, 0]) * dw
    _value, grad, w_hat, _ = problem.hypergradient(np.log([lam]))
    assert w_hat[0] == pytest.approx(w, rel=1e-12)
    assert grad[0] == pytest.approx(lam * dv, rel=1e-10)


def test_neumann_series_warns_when_too_short_for_the_conditioning():
    h = np.diag([1.0, 1e-3])
    with pytest.warns(HypergradientWarning, match="too few for this Hessian"):
        q = solve_hessian(np.ones(2), lambda v: h @ v, solver="neumann", neumann_terms=20)
    assert q[1] < 100  # truncated: far from the true 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error", HypergradientWarning)
        q = solve_hessian(np.ones(2), lambda v: h @ v, solver="neumann", neumann_terms=40000)
    assert q == pytest.approx([1.0, 1000.0], rel=1e-6)
    singular = np.diag([1.0, 0.0])
    with pytest.warns(HypergradientWarning, match="singular"):
        solve_hessian(np.ones(2), lambda v: singular @ v, solver="neumann", hessian=lambda: singular)


def test_linear_solves_agree_and_cg_warns_when_it_cannot_converge():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(8, 8))
    h = m @ m.T + 0.5 * np.eye(8)
    b = rng.normal(size=8)
    exact = solve_hessian(b, lambda v: h @ v, hessian=lambda: h)
    assert solve_hessian(b, lambda v: h @ v, solver="cg") == pytest.approx(exact, rel=1e-8)
    with pytest.warns(HypergradientWarning, match="did not reach"):
        solve_hessian(b, lambda v: h @ v, solver="cg", maxiter=2)
    with pytest.raises(ValueError, match="needs the dense Hessian"):
        solve_hessian(b, lambda v: h @ v, solver="exact")
    with pytest.raises(ValueError, match="solver must be one of"):
        solve_hessian(b, lambda v: h @ v, solver="lu")


def test_outer_loop_lowers_validation_loss_with_warm_starts_and_records_its_path():
    problem = _logistic("per_feature")
    res = hyperoptimize(problem, np.full(30, -2.0), n_steps=15, lr=0.3, solver="cg")
    values = [h["value"] for h in res.history]
    assert len(values) == 15 and res.value == min(values) < values[0]
    assert res.hyper == pytest.approx(np.exp(res.log_hyper))
    assert problem.validation(res.w, res.log_hyper)[0] == pytest.approx(res.value)


def test_guard_split_chooses_the_kept_iterate_and_stops_the_run():
    x, y = load_breast_cancer(return_X_y=True)
    x = scale(x)
    problem = LogisticProblem(x[:120], y[:120], x[120:200], y[120:200], penalty="per_feature")
    xg, yg = x[200:400], y[200:400]

    def guard(w, lam):
        return problem.loss(w, lam, xg, yg)

    res = hyperoptimize(problem, np.full(30, -3.0), n_steps=60, lr=0.5, guard=guard, patience=5)
    guards = [h["guard"] for h in res.history]
    assert res.guard_value == min(guards)
    assert res.guard_value == pytest.approx(guard(res.w, res.log_hyper))
    assert res.stopped_early and len(res.history) < 60
    best_step = int(np.argmin(guards))
    assert len(res.history) == best_step + 6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 0}, "n_steps must be an integer >= 1"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"solver": "lu"}, "solver must be one of"),
        ({"bounds": (3, 1)}, "low < high"),
        ({"log_hyper0": [0.0, 1.0]}, "must hold 6 finite values"),
        ({"log_hyper0": [np.nan]}, "finite values"),
        ({"patience": 0}, "patience must be an integer"),
    ],
)
def test_outer_loop_rejects_bad_input(kwargs, match):
    problem = _ridge()
    kwargs = {"log_hyper0": np.zeros(6), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        hyperoptimize(problem, **kwargs)
    with pytest.raises(TypeError, match="BilevelProblem"):
        hyperoptimize(object(), np.zeros(1))


def test_problems_validate_their_data():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="2-d array"):
        RidgeProblem(np.zeros(5), np.zeros(5), x, np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        RidgeProblem(np.full((5, 2), np.nan), np.zeros(5), x, np.zeros(5))
    with pytest.raises(ValueError, match="features"):
        RidgeProblem(x, np.zeros(5), np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="0/1 labels"):
        LogisticProblem(x, np.arange(5), x, np.zeros(5))
    with pytest.raises(ValueError, match="one group id per feature"):
        penalty_groups([0, 1, 2], 2)
    with pytest.raises(ValueError, match="'shared', 'per_feature'"):
        penalty_groups("each", 2)
    with pytest.raises(ValueError, match="lengthscale"):
        KernelRidgeProblem(x, np.zeros(5), x, np.zeros(5), lengthscale="ard")
    assert issubclass(KernelRidgeProblem, BilevelProblem)


def test_gradient_package_loads_torch_lazily_and_names_the_extra(monkeypatch):
    import subprocess
    import sys

    import hyperdial.gradient as gradient

    code = "import sys, hyperdial.gradient as g; g.HyperRidge; g.hyperoptimize; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'hyperdial\[torch\]'"):
        gradient.SGDHD  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        gradient.Nope  # noqa: B018


def test_many_feature_logistic_solves_without_a_dense_hessian(monkeypatch):
    import hyperdial.gradient.problems as problems

    dense = _logistic("per_feature")
    lam = np.random.default_rng(2).normal(size=30) - 3
    _, g_dense, w_dense, _ = dense.hypergradient(lam, solver="cg")
    monkeypatch.setattr(problems, "_DENSE_LIMIT", 10)  # as if the model had > 2,000 coefficients
    big = _logistic("per_feature")
    assert big.hessian(w_dense, lam) is None
    w = big.solve(lam)
    assert np.abs(w - w_dense).max() < 1e-9
    _, grad, _, _ = big.hypergradient(lam, w, solver="cg")
    assert _rel(grad, g_dense) < 1e-6 and _rel(grad, _fd(big, lam)) < 1e-4
    with pytest.raises(ValueError, match="too large to form it"):
        big.hypergradient(lam, w, solver="exact")


def test_averaged_folds_give_the_mean_loss_and_an_exact_hypergradient():
    from hyperdial.gradient import AveragedProblem

    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 4))
    y = x @ [1.0, 0.0, -2.0, 0.5] + rng.normal(size=60)
    parts = np.split(np.arange(60), 3)
    folds = [RidgeProblem(np.delete(x, idx, 0), np.delete(y, idx), x[idx], y[idx]) for idx in parts]
    avg = AveragedProblem(folds)
    lam = np.log([0.3, 0.1, 0.05, 1.0])
    value, grad, w, _ = avg.hypergradient(lam, solver="cg")
    assert value == pytest.approx(np.mean([f.validation(f.solve(lam), lam)[0] for f in folds]))
    assert _rel(grad, _fd(avg, lam)) < 1e-6
    assert w.size == 3 * 5
    with pytest.raises(ValueError, match="different numbers of hyperparameters"):
        AveragedProblem([folds[0], RidgeProblem(x, y, x, y, penalty="shared")])


def test_with_validation_scores_only_the_chosen_samples_and_leaves_the_problem_alone():
    for problem in (_ridge(), _logistic("per_feature"), _kernel()):
        lam = np.full(problem.n_hyper, -1.0)
        w = problem.solve(lam)
        idx = np.arange(0, problem.validation_size(), 3)
        part = problem.with_validation(idx)
        assert part.validation_size() == idx.size and problem.validation_size() == len(problem.y_val)
        design = part.x_val if isinstance(problem, KernelRidgeProblem) else part.x_val[:, :-1]
        assert part.validation(w, lam)[0] == pytest.approx(problem.loss(w, lam, design, problem.y_val[idx]))
        grad = part.hypergradient(lam, w)[1]
        assert _rel(grad, _fd(part, lam)) < 1e-4


def test_cross_fitted_folds_average_the_paths_and_spend_the_budget():
    problem = _logistic("per_feature")
    res = hyperoptimize(problem, np.full(30, -3.0), n_steps=25, lr=0.3, folds=4, seed=3)
    assert len(res.paths) == 4 and len(res.history) == 25  # 4 paths x 6 solves + 1 at the mean
    assert [h["path"] for h in res.history] == [k for k in range(4) for _ in range(6)] + [None]
    assert res.log_hyper == pytest.approx(np.mean([p.log_hyper for p in res.paths], axis=0))
    # the kept value is the loss of the mean on the whole validation split
    assert res.value == pytest.approx(problem.validation(problem.solve(res.log_hyper), res.log_hyper)[0])
    assert res.history[-1]["value"] == res.value and np.isnan(res.guard_value)
    # each path keeps its best iterate on the folds it follows; the paths differ, and the folds follow the seed
    for p in res.paths:
        assert p.value == min(h["value"] for h in p.history)
    assert not np.allclose(res.paths[0].log_hyper, res.paths[1].log_hyper)
    again = hyperoptimize(problem, np.full(30, -3.0), n_steps=25, lr=0.3, folds=4, seed=3)
    other = hyperoptimize(problem, np.full(30, -3.0), n_steps=25, lr=0.3, folds=4, seed=4)
    assert np.array_equal(again.log_hyper, res.log_hyper) and not np.allclose(other.log_hyper, res.log_hyper)


def test_cross_fitted_folds_over_fit_the_validation_split_less_than_one_path():
    # 30 penalties, 100 validation samples: one path lowers the validation loss by fitting its noise
    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x, y = scale(x)[order], y[order]
    problem = LogisticProblem(x[:150], y[:150], x[150:250], y[150:250], penalty="per_feature")
    xt, yt = x[250:], y[250:]
    start = np.full(30, np.log(1 / 150))
    one = hyperoptimize(problem, start, n_steps=60, lr=0.3)
    bagged = hyperoptimize(problem, start, n_steps=61, lr=0.3, folds=4)
    assert one.value < bagged.value < one.history[0]["value"]
    assert problem.loss(bagged.w, bagged.log_hyper, xt, yt) < problem.loss(one.w, one.log_hyper, xt, yt)


def test_cross_fitted_folds_with_a_guard_a_callback_and_bad_input():
    problem = _ridge()
    xg_rng = np.random.default_rng(1)
    xg = xg_rng.normal(size=(30, 6))
    yg = xg @ np.ones(6)

    def guard(w, lam):
        return problem.loss(w, lam, xg, yg)

    res = hyperoptimize(problem, np.zeros(6), n_steps=31, folds=3, guard=guard, patience=2)
    for p in res.paths:
        assert p.guard_value == min(h["guard"] for h in p.history)
    assert res.guard_value == pytest.approx(guard(res.w, res.log_hyper))
    seen = []
    res = hyperoptimize(problem, np.zeros(6), n_steps=31, folds=3, callback=lambda e: seen.append(e) or len(seen) == 4)
    assert len(res.paths) == 1 and len(res.history) == 5 and seen[-1]["path"] is None
    assert res.log_hyper == pytest.approx(res.paths[0].log_hyper)
    with pytest.raises(ValueError, match="folds must be an integer >= 2"):
        hyperoptimize(problem, np.zeros(6), folds=1)
    with pytest.raises(ValueError, match="n_steps must be >= 5"):
        hyperoptimize(problem, np.zeros(6), n_steps=4, folds=4)
    with pytest.raises(ValueError, match="needs at least 40 validation samples"):
        hyperoptimize(problem, np.zeros(6), folds=20)
    with pytest.raises(TypeError, match="seed must be an integer"):
        hyperoptimize(problem, np.zeros(6), folds=2, seed=1.5)
    from hyperdial.gradient.implicit import AveragedProblem

    with pytest.raises(NotImplementedError, match="already averages"):
        AveragedProblem([_ridge(), _ridge()]).with_validation([0, 1])
    with pytest.raises(ValueError, match="needs at least 4 validation samples"):
        hyperoptimize(AveragedProblem([_ridge(), _ridge()]), np.zeros(6), folds=2)
