"""Population-based training: exploit copies state, explore perturbs, the schedule is recorded and replays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier

import hyperdial
from hyperdial.checkpoint import checkpoint_key
from hyperdial.control import ControlLoop, ReplayController, recorded_schedule
from hyperdial.schedulers import PBT, PBT_ATTR, lineage_schedule
from hyperdial.space import Float

X, Y = load_digits(return_X_y=True)
X = X / 16.0
XTR, YTR, XVA, YVA = X[:600], Y[:600], X[1200:1500], Y[1200:1500]
CLASSES = np.arange(10)
EPOCHS = 6


def _train(clf, eta0):
    clf.set_params(eta0=eta0)
    clf.partial_fit(XTR, YTR, classes=CLASSES)
    return clf


def make_objective(pbt, barrier=None):
    def objective(trial):
        member = pbt.member(trial)
        loop = ControlLoop(member, {"eta0": trial.suggest_float("eta0", 1e-5, 1.0, log=True)}, trial=trial)
        clf = SGDClassifier(learning_rate="constant", eta0=loop.params["eta0"], random_state=0)
        for epoch in range(EPOCHS):
            clf = _train(clf, loop.params["eta0"])
            score = clf.score(XVA, YVA)
            trial.report(score, epoch)
            if member.save(epoch, clf):
                trial.set_user_attr(f"coef@{epoch}", clf.coef_.tolist())
            if barrier is not None and member.is_ready(epoch):
                barrier.wait()  # a population in step: every member has reported and saved
            loop.step(epoch, {"score": score})
            if member.exploited is not None:
                donor, _ = member.exploited
                clf = member.restore(clf)
                trial.set_user_attr(f"restored@{epoch}", {"donor": donor, "coef": clf.coef_.tolist(), "t": clf.t_})
        trial.set_user_attr("final", clf.coef_.tolist())
        return score

    return objective


def _study(storage=None):
    study = hyperdial.create_study("pbt", storage, direction="maximize", seed=0, sampler="random")
    for eta0 in (0.05, 0.02, 1e-5, 2e-5):  # two good members, two that barely learn
        study.enqueue_trial({"eta0": eta0})
    return study


def _check_exploits(study):
    n_exploits = 0
    for t in study.trials:
        for e in t.system_attrs[PBT_ATTR]["exploits"]:
            n_exploits += 1
            step, donor = e["step"], e["donor"]
            restored = t.user_attrs[f"restored@{step}"]
            assert restored["donor"] == donor
            # The member's model after the exploit is exactly the donor's at that step ...
            assert restored["coef"] == study.trials[donor].user_attrs[f"coef@{step}"]
            assert study.trials[donor].values[0] >= 0  # a donor is a member of the same study
            # ... and its hyperparameters from the next step on are the donor's, perturbed.
            schedule = recorded_schedule(t)
            assert schedule.at(step + 1)["eta0"] == pytest.approx(e["params"]["eta0"])
            donor_eta = recorded_schedule(study.trials[donor]).at(step)["eta0"]
            ratio = e["params"]["eta0"] / donor_eta
            assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2) or 1e-5 <= e["params"]["eta0"] <= 1.0
    return n_exploits


def test_exploit_copies_the_donor_state_and_the_schedule_replays():
    pbt = PBT(interval=2, quantile=0.25, population_size=4, resample_probability=0.0)
    study = _study()
    study.optimize(make_objective(pbt), max_trials=4, show_progress=False)
    assert _check_exploits(study) >= 2
    bad = study.trials[3]  # started with eta0 = 2e-5: must have been replaced at its first decision
    first = bad.system_attrs[PBT_ATTR]["exploits"][0]
    assert first["step"] == 1 and first["donor"] in (0, 1)
    assert bad.values[0] > 0.8  # it went on from a good model
    # Replaying the lineage schedule from scratch gives exactly the member's final weights.
    lineage = lineage_schedule(study, bad.number)
    loop = ControlLoop(ReplayController(lineage), {"eta0": 0.0})
    clf = SGDClassifier(learning_rate="constant", eta0=loop.params["eta0"], random_state=0)
    for epoch in range(EPOCHS):
        clf = _train(clf, loop.params["eta0"])
        loop.step(epoch)
    np.testing.assert_array_equal(clf.coef_, np.array(bad.user_attrs["final"]))
    # The recorded (own) schedule replays value for value.
    own = recorded_schedule(bad)
    replay = ControlLoop(ReplayController(own), {"eta0": 0.0})
    assert [replay.params["eta0"]] + [replay.step(s)["eta0"] for s in range(EPOCHS - 1)] == own.values(
        "eta0", range(EPOCHS)
    )


def test_lineage_ignores_a_donors_exploits_after_the_copy():
    """In a population that trains in step (threads, a barrier before each decision) a donor may
    exploit later itself; the weights it gave away were trained by its lineage as it stood then."""
    import threading

    pbt = PBT(interval=1, quantile=0.25, population_size=4, resample_probability=0.0)
    study = hyperdial.create_study("pbt", direction="maximize", seed=0, sampler="random")
    for eta0 in (0.5, 1e-3, 0.1, 3e-5):
        study.enqueue_trial({"eta0": eta0})
    objective = make_objective(pbt, barrier=threading.Barrier(4, timeout=60))
    study.optimize(objective, n_trials=4, n_jobs=4, parallel="thread", show_progress=False)
    exploits = {t.number: t.system_attrs[PBT_ATTR]["exploits"] for t in study.trials}
    assert any(d["step"] > e["step"] for es in exploits.values() for e in es for d in exploits[e["donor"]]), (
        "this population should hold a donor that exploits after it was copied"
    )
    for t in study.trials:  # replaying each lineage from scratch gives exactly the member's final weights
        loop = ControlLoop(ReplayController(lineage_schedule(study, t.number)), {"eta0": 0.0})
        clf = SGDClassifier(learning_rate="constant", eta0=loop.params["eta0"], random_state=0)
        for epoch in range(EPOCHS):
            clf = _train(clf, loop.params["eta0"])
            loop.step(epoch)
        np.testing.assert_array_equal(clf.coef_, np.array(t.user_attrs["final"]))


def test_checkpoints_no_member_can_copy_are_released():
    pbt = PBT(interval=2, population_size=4)
    study = _study()
    study.optimize(make_objective(pbt), max_trials=4, show_progress=False)
    sid = study._info.id
    assert pbt.release(study) > 0
    for t in study.trials:
        for s in (1, 3, 5):
            assert study.storage.get_blob(sid, checkpoint_key(t.number, s)) is None


def test_population_in_process_workers(sqlite_url):
    pbt = PBT(interval=2, quantile=0.25, population_size=4, resample_probability=0.0)
    for storage in (None, sqlite_url):
        study = _study(storage)
        study.optimize(make_objective(pbt), max_trials=4, n_jobs=2, show_progress=False)
        assert all(t.state == hyperdial.TrialState.COMPLETE for t in study.trials)
        assert _check_exploits(study) >= 1
        assert all(recorded_schedule(t) is not None for t in study.trials)


def test_explore_perturbs_within_bounds_and_is_seeded():
    study = hyperdial.create_study(seed=0)
    pbt = PBT(interval=1, resample_probability=0.3, seed=7)
    trial = study.ask()
    trial.suggest_float("lr", 1e-3, 1.0, log=True)
    trial.suggest_int("depth", 1, 8)
    trial.suggest_categorical("kind", ["a", "b", "c"])
    member = pbt.member(trial)
    outs = [member._explore({"lr": 0.9, "depth": 5, "kind": "a"}, np.random.default_rng(i)) for i in range(200)]
    lrs = np.array([o["lr"] for o in outs])
    assert np.all((lrs >= 1e-3) & (lrs <= 1.0))
    assert np.isclose(lrs, 0.72).sum() > 40 and np.isclose(lrs, 1.0).sum() > 40  # 0.9 * 0.8, 0.9 * 1.2 clipped
    assert {o["kind"] for o in outs} == {"a", "b", "c"}
    assert all(1 <= o["depth"] <= 8 for o in outs)
    again = member._explore({"lr": 0.9, "depth": 5, "kind": "a"}, np.random.default_rng(3))
    assert again == outs[3]


def test_metric_from_the_observation_and_errors():
    study = hyperdial.create_study(seed=0)
    pbt = PBT(interval=1, metric="acc", mode="max")
    trial = study.ask()
    loop = ControlLoop(pbt.member(trial), {"lr": trial.suggest_float("lr", 0.01, 1.0)}, trial=trial)
    with pytest.raises(ValueError, match="has no 'acc'"):
        loop.step(0, {"loss": 1.0})
    loop.step(1, {"acc": 0.5})  # alone in the population: nothing to copy
    assert study.trials[0].system_attrs[PBT_ATTR]["metric"] == {"1": 0.5}
    no_report = PBT(interval=1)
    t2 = study.ask()
    loop2 = ControlLoop(no_report.member(t2), {"lr": t2.suggest_float("lr", 0.01, 1.0)}, trial=t2)
    with pytest.raises(ValueError, match=r"call trial.report\(value, 0\)"):
        loop2.step(0, {})
    member = no_report.member(t2, distributions={"lr": Float(0.01, 1.0)})
    assert member.restore("unchanged") == "unchanged"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interval": 0}, "interval"),
        ({"quantile": 0.7}, "quantile"),
        ({"perturb": (0.0, 1.2)}, "perturb"),
        ({"resample_probability": 2}, "resample_probability"),
        ({"mode": "best"}, "mode"),
        ({"population_size": 1}, "population_size"),
        ({"keep": "never"}, "keep"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PBT(**kwargs)


def test_member_needs_a_live_trial():
    with pytest.raises(TypeError, match="live hyperdial Trial"):
        PBT().member(hyperdial.create_study(seed=0).trials)


def test_torch_member_restores_the_donor_weights_in_place():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(64, 3, generator=gen)
    ys = xs @ torch.tensor([1.0, -2.0, 0.5]) + 0.1

    def objective(trial):
        member = PBT(interval=2, population_size=2, resample_probability=0.0).member(trial)
        loop = ControlLoop(member, {"lr": trial.suggest_float("lr", 1e-4, 0.5, log=True)}, trial=trial)
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        for epoch in range(4):
            opt = torch.optim.SGD(model.parameters(), lr=loop.params["lr"])
            for _ in range(5):
                opt.zero_grad()
                loss = (model(xs).squeeze(1) - ys).pow(2).mean()
                loss.backward()
                opt.step()
            trial.report(loss.item(), epoch)
            if member.save(epoch, model):
                trial.set_user_attr(f"w@{epoch}", model.weight.detach().tolist())
            loop.step(epoch)
            if member.exploited is not None:
                step = member.exploited[1]
                assert member.restore(model) is model  # loaded in place
                trial.set_user_attr(f"restored@{step}", model.weight.detach().tolist())
        return loss.item()

    study = hyperdial.create_study(seed=0, sampler="random")
    study.enqueue_trial({"lr": 0.3})
    study.enqueue_trial({"lr": 1e-4})
    study.optimize(objective, max_trials=2, show_progress=False)
    slow = study.trials[1]
    assert slow.system_attrs[PBT_ATTR]["exploits"][0]["donor"] == 0
    assert slow.user_attrs["restored@1"] == study.trials[0].user_attrs["w@1"]
    assert slow.values[0] < 0.1
