import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.preprocessing import scale  # noqa: E402

from hyperdial.gradient import HypergradientWarning, WeightDecayProblem, hyperoptimize  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    # tiny matrices: threads only add contention on a shared machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _mse(out, target):
    return torch.nn.functional.mse_loss(out[:, 0], target)


def _problem(penalty="per_layer"):
    x, y = load_diabetes(return_X_y=True)
    x, y = scale(x), (y - y.mean()) / y.std()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    return WeightDecayProblem(model, _mse, x[:80], y[:80], x[80:160], y[80:160], penalty=penalty), x, y


def test_per_layer_weight_decay_hypergradient_matches_finite_differences():
    problem, _, _ = _problem()
    assert problem.n_hyper == 2 and problem.layer_names == ["0", "2"]
    lam = np.log([3e-2, 3e-3])
    w = problem.solve(lam)
    eps = 1e-4
    fd = np.zeros(2)
    for i in range(2):
        e = np.zeros(2)
        e[i] = eps
        hi = problem.validation(problem.solve(lam + e, w), lam + e)[0]
        lo = problem.validation(problem.solve(lam - e, w), lam - e)[0]
        fd[i] = (hi - lo) / (2 * eps)
    for solver in ("exact", "cg"):
        _, grad, _, _ = problem.hypergradient(lam, w, solver=solver)
        assert np.max(np.abs(grad - fd)) / np.max(np.abs(fd)) < 1e-4
    with pytest.warns(HypergradientWarning, match="too few"):
        problem.hypergradient(lam, w, solver="neumann", neumann_terms=100)


def test_outer_loop_lowers_validation_loss_and_loads_into_a_model():
    problem, x, y = _problem()
    res = hyperoptimize(problem, np.log([1e-2, 1e-2]), n_steps=4, lr=0.5, solver="cg")
    assert res.value < res.history[0]["value"]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    problem.load_into(model, res.w)
    with torch.no_grad():
        out = model(torch.tensor(x[80:160], dtype=torch.float32))
    assert float(_mse(out.double(), torch.tensor(y[80:160]))) == pytest.approx(res.value, rel=1e-5)


def test_penalty_groupings_and_errors():
    assert _problem("per_tensor")[0].n_hyper == 4
    assert _problem("shared")[0].n_hyper == 1
    assert _problem({"0.weight": 0, "2.weight": 0})[0].n_hyper == 1
    with pytest.raises(ValueError, match="unknown parameters"):
        _problem({"3.weight": 0})
    with pytest.raises(ValueError, match="penalty must be"):
        _problem("per_neuron")
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        WeightDecayProblem(lambda x: x, _mse, np.zeros((2, 1)), np.zeros(2), np.zeros((2, 1)), np.zeros(2))


def test_with_validation_slices_the_tensors_for_cross_fitted_folds():
    problem, x, y = _problem()
    lam = np.log([3e-2, 3e-3])
    w = problem.solve(lam)
    part = problem.with_validation(np.arange(0, 80, 2))
    assert part.validation_size() == 40 and problem.validation_size() == 80
    assert part.validation(w, lam)[0] == pytest.approx(problem.loss(w, lam, x[80:160:2], y[80:160:2]))
