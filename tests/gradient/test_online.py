import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import hyperdial  # noqa: E402
from hyperdial.control import ControlLoop, ReplayController, Schedule, recorded_schedule  # noqa: E402
from hyperdial.gradient import SGDHD, AdamHD, AdamWHD, apply_lr  # noqa: E402


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 8, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    return x, y


def _run(make_opt, steps=200, seed=0):
    model = _model(seed)
    opt = make_opt(model.parameters())
    x, y = _data(seed)
    for i in range(steps):
        batch = slice((i * 16) % 64, (i * 16) % 64 + 16)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        opt.step()
    return model, opt


PAIRS = [
    (lambda p: torch.optim.SGD(p, lr=0.05), lambda p: SGDHD(p, lr=0.05, hypergrad_lr=0.0)),
    (
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3),
        lambda p: SGDHD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3, hypergrad_lr=0.0),
    ),
    (
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: SGDHD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, hypergrad_lr=0.0),
    ),
    (lambda p: torch.optim.Adam(p, lr=3e-3), lambda p: AdamHD(p, lr=3e-3, hypergrad_lr=0.0)),
    (
        lambda p: torch.optim.Adam(p, lr=3e-3, weight_decay=1e-2, amsgrad=True),
        lambda p: AdamHD(p, lr=3e-3, weight_decay=1e-2, amsgrad=True, hypergrad_lr=0.0),
    ),
    (lambda p: torch.optim.AdamW(p, lr=3e-3), lambda p: AdamWHD(p, lr=3e-3, hypergrad_lr=0.0)),
]


@pytest.mark.parametrize("plain, hd", PAIRS, ids=["sgd", "sgd-momentum", "nesterov", "adam", "adam-amsgrad", "adamw"])
def test_zero_hyper_learning_rate_is_bitwise_the_plain_optimizer(plain, hd):
    a, _ = _run(plain)
    b, opt = _run(hd)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert len(opt.lr_history) == 200 and {lr for (lr,) in opt.lr_history} == {opt.param_groups[0]["lr"]}


def test_sgd_hypergradient_on_a_quadratic_matches_the_closed_form():
    # f(θ) = ½ θᵀAθ - bᵀθ: after θ1 = θ0 - a g0, df(θ1)/da = -g0·g1 (Baydin et al., Eq. 5)
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    a = m @ m.T / 5 + np.eye(5)
    b = rng.normal(size=5)
    theta0 = rng.normal(size=5)
    alpha, beta = 0.05, 0.01
    w = torch.tensor(theta0, requires_grad=True)
    at, bt = torch.tensor(a), torch.tensor(b)
    opt = SGDHD([w], lr=alpha, hypergrad_lr=beta)
    for _ in range(2):
        opt.zero_grad()
        (0.5 * w @ at @ w - bt @ w).backward()
        opt.step()
    g0 = a @ theta0 - b
    theta1 = theta0 - alpha * g0
    g1 = a @ theta1 - b
    assert opt.hypergradients[1][0] == pytest.approx(g0 @ g1, rel=1e-12)
    assert opt.lr_history[1][0] == pytest.approx(alpha + beta * (g0 @ g1), rel=1e-12)

    def f(al):
        th = theta0 - al * g0
        return 0.5 * th @ a @ th - b @ th

    eps = 1e-6
    fd = (f(alpha + eps) - f(alpha - eps)) / (2 * eps)
    assert -opt.hypergradients[1][0] == pytest.approx(fd, rel=1e-6)


def test_adam_direction_is_the_step_taken():
    w = torch.tensor(np.random.default_rng(1).normal(size=6), requires_grad=True)
    opt = AdamWHD([w], lr=0.01, weight_decay=0.1, hypergrad_lr=1e-6)
    for _ in range(3):
        before = w.detach().clone()
        opt.zero_grad()
        (w**4).sum().backward()
        opt.step()
        lr = opt.lr_history[-1][0]
        d = opt.state[w]["hd_direction"]
        assert torch.allclose((before - w.detach()) / lr, d, rtol=1e-9, atol=1e-12)


def test_multiplicative_rule_moves_by_the_cosine_and_is_clamped():
    w = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = SGDHD([w], lr=0.01, hypergrad_lr=0.1, hypergrad_mode="multiplicative", lr_max=0.0105)
    for _ in range(5):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    lrs = [lr for (lr,) in opt.lr_history]
    assert lrs[1] == 0.0105  # cos = 1 on a round bowl: 0.011, clamped
    assert max(lrs) <= 0.0105 and lrs[-1] == 0.0105
    w2 = torch.tensor([1.0], requires_grad=True)
    opt2 = SGDHD([w2], lr=1.5, hypergrad_lr=0.5, lr_min=0.2)  # overshooting: the rate falls to lr_min
    for _ in range(6):
        opt2.zero_grad()
        (w2**2).sum().backward()
        opt2.step()
    assert min(lr for (lr,) in opt2.lr_history) == 0.2


def test_each_parameter_group_adapts_its_own_rate():
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    opt = SGDHD([{"params": [a]}, {"params": [b], "hypergrad_lr": 0.0, "lr": 0.02}], lr=0.01, hypergrad_lr=0.05)
    for _ in range(10):
        opt.zero_grad()
        ((a - 1) ** 2).sum().add(((b + 1) ** 2).sum()).backward()
        opt.step()
    assert opt.param_groups[0]["lr"] > 0.01
    assert opt.param_groups[1]["lr"] == 0.02
    sched = opt.schedule
    assert set(sched.at(0)) == {"lr/0", "lr/1"} and sched.at(0)["lr/1"] == 0.02
    assert sched.at(9)["lr/0"] == opt.lr_history[9][0]
    c = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="lr_min <= lr <= lr_max"):
        opt.add_param_group({"params": [c], "lr": 5.0, "lr_max": 1.0})


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"hypergrad_lr": -1.0}, ValueError, "hypergrad_lr must be >= 0"),
        ({"hypergrad_mode": "exp"}, ValueError, "hypergrad_mode must be one of"),
        ({"lr": 0.5, "lr_max": 0.1}, ValueError, "lr_min <= lr <= lr_max"),
        ({"lr": torch.tensor(0.1)}, TypeError, "lr must be a real number"),
        ({"lr": 0.0, "hypergrad_mode": "multiplicative"}, ValueError, "cannot move lr away from 0"),
        ({"differentiable": True}, ValueError, "differentiable=True"),
    ],
)
def test_bad_options_are_rejected(kwargs, err, match):
    with pytest.raises(err, match=match):
        SGDHD([torch.zeros(2, requires_grad=True)], **{"lr": 0.1, **kwargs})


def test_state_dict_resumes_identically():
    a, opt_a = _run(lambda p: AdamHD(p, lr=3e-3, hypergrad_lr=1e-4), steps=40)
    model = _model()
    model.load_state_dict(a.state_dict())
    opt_b = AdamHD(model.parameters(), lr=3e-3, hypergrad_lr=1e-4)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # torch shares tensors otherwise
    x, y = _data()
    for m, o in ((a, opt_a), (model, opt_b)):
        for _ in range(5):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for pa, pb in zip(a.parameters(), model.parameters()):
        assert torch.equal(pa, pb)


def _train(trial, replay: Schedule | None):
    model = _model(1)
    x, y = _data(1)
    lr0 = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    if replay is None:
        opt = SGDHD(model.parameters(), lr=lr0, momentum=0.5, hypergrad_lr=1e-3, lr_max=1.0)
        loop = None
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=0.5)
        loop = ControlLoop(ReplayController(replay), {"lr": lr0}, trial=trial)
    for step in range(60):
        if loop is not None:
            apply_lr(opt, loop.params)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if loop is not None:
            loop.step(step, {"loss": loss.item()})
    if replay is None:
        opt.record_schedule(trial)
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(x), y))


def test_recorded_learning_rate_schedule_replays_exactly_with_plain_sgd():
    study = hyperdial.create_study(seed=3, sampler="random")
    study.optimize(lambda t: _train(t, None), n_trials=2, show_progress=False)
    for frozen in study.trials:
        sched = recorded_schedule(frozen)
        assert sched is not None and len(sched.steps) > 10
        assert sched.at(0)["lr"] == frozen.params["lr"]
        replay = hyperdial.create_study(seed=4, sampler="random")
        replay.enqueue_trial(dict(frozen.params))
        replay.optimize(lambda t, s=sched: _train(t, s), n_trials=1, show_progress=False)
        assert replay.trials[0].value == frozen.value
        assert recorded_schedule(replay.trials[0]).at(59) == sched.at(59)


def test_adaptive_rate_rescues_a_too_small_initial_rate_on_digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x[:300] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[:300])
    losses = {}
    for name, make in {
        "sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
        "hd": lambda p: SGDHD(p, lr=1e-3, hypergrad_lr=0.1, lr_max=1.0),
    }.items():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        opt = make(model.parameters())
        for _ in range(100):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        losses[name] = loss.item()
    assert losses["hd"] < 0.5 * losses["sgd"]
    assert math.isfinite(losses["hd"])


def test_controller_sees_the_same_hypergradient_one_step_later_and_works_with_adam():
    from hyperdial.gradient import HypergradientController

    def run(use_controller):
        torch.manual_seed(0)
        w = torch.randn(5, dtype=torch.float64, requires_grad=True)
        target = torch.linspace(-1, 1, 5, dtype=torch.float64)
        if use_controller:
            opt = torch.optim.SGD([w], lr=0.05)
            ctrl = HypergradientController(opt, hypergrad_lr=0.0)
            loop = ControlLoop(ctrl, {"lr": 0.05})
        else:
            opt = SGDHD([w], lr=0.05, hypergrad_lr=1e-300)  # effectively 0, but directions are tracked
        for step in range(8):
            opt.zero_grad()
            ((w - target) ** 4).sum().backward()
            opt.step()
            if use_controller:
                loop.step(step)
        return ctrl.hypergradients if use_controller else [h for (h,) in opt.hypergradients]

    ctrl, hd = run(True), run(False)
    # SGDHD's g_t . d_{t-1} at step t is what the controller sees after step t
    assert math.isnan(ctrl[0]) and math.isnan(hd[0])
    assert ctrl[1:] == pytest.approx(hd[1:], rel=1e-9)

    study = hyperdial.create_study(seed=0)

    def objective(trial):
        model = _model(2)
        x, y = _data(2)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        ctrl = HypergradientController(opt, hypergrad_lr=0.02, hypergrad_mode="multiplicative", lr_max=0.1)
        loop = ControlLoop(ctrl, {"lr": 1e-3}, trial=trial)
        for step in range(40):
            apply_lr(opt, loop.params)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loop.step(step, {"loss": loss.item()})
        return loop.params["lr"]

    study.optimize(objective, n_trials=1, show_progress=False)
    sched = recorded_schedule(study.trials[0])
    assert study.trials[0].value > 1e-3 and sched.at(40)["lr"] == study.trials[0].value
    with pytest.raises(ValueError, match="must include 'lr'"):
        ControlLoop(HypergradientController([torch.zeros(2)]), {"momentum": 0.9})
    with pytest.raises(TypeError, match="non-empty list of tensors"):
        HypergradientController([])
