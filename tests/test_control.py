import pytest

import hyperdial
from hyperdial.control import Controller, ControlLoop, ReplayController, Schedule, recorded_schedule


class Decay(Controller):
    def __init__(self, every: int) -> None:
        self.every = every

    def update(self, step, observation, params):
        if step % self.every == self.every - 1:
            return {"lr": params["lr"] * 0.5}
        return None


def test_schedule_records_changes_only_and_round_trips():
    s = Schedule({"lr": 0.1, "wd": 0.0})
    assert s.record(5, {"lr": 0.1}) == {}
    assert s.record(5, {"lr": 0.05, "wd": 0.0}) == {"lr": 0.05}
    s.record(9, {"wd": 1e-4})
    assert s.at(4) == {"lr": 0.1, "wd": 0.0}
    assert s.at(7) == {"lr": 0.05, "wd": 0.0}
    assert s.at(100) == {"lr": 0.05, "wd": 1e-4}
    assert Schedule.from_json(s.to_json()) == s
    assert s.values("lr", range(0, 10, 3)) == [0.1, 0.1, 0.05, 0.05]


def test_schedule_rejects_bad_input():
    s = Schedule({"lr": 0.1})
    s.record(3, {"lr": 0.2})
    with pytest.raises(ValueError, match="must not go back"):
        s.record(2, {"lr": 0.3})
    with pytest.raises(TypeError, match="non-negative integer"):
        s.at(-1)
    with pytest.raises(TypeError, match="JSON"):
        s.record(4, {"lr": object()})
    with pytest.raises(ValueError, match="starts at step 0"):
        Schedule.from_json([[1, {"lr": 0.1}]])
    with pytest.raises(ValueError, match="not a recorded schedule"):
        Schedule.from_json({"lr": 0.1})


def test_loop_rejects_unknown_names_and_steps_going_back():
    class Bad(Controller):
        def update(self, step, observation, params):
            return {"momentum": 0.5}

    loop = ControlLoop(Bad(), {"lr": 0.1})
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        loop.step(0)
    loop = ControlLoop(Decay(2), {"lr": 0.1})
    loop.step(0)
    with pytest.raises(ValueError, match="must increase"):
        loop.step(0)
    with pytest.raises(TypeError):
        ControlLoop(lambda *a: None, {"lr": 0.1})


def _train(trial, controller):
    # a tiny deterministic "training": gradient descent on (w - 3)^2 with the controlled lr
    loop = ControlLoop(controller, {"lr": trial.suggest_float("lr", 0.01, 0.5, log=True)}, trial=trial)
    w = 0.0
    for step in range(20):
        w -= loop.params["lr"] * 2 * (w - 3)
        loss = (w - 3) ** 2
        trial.report(loss, step)
        loop.step(step, {"loss": loss})
    return loss


def test_schedule_is_stored_on_the_trial_and_replays_exactly():
    study = hyperdial.create_study(seed=1, sampler="random")
    study.optimize(lambda t: _train(t, Decay(5)), n_trials=3, show_progress=False)
    for frozen in study.trials:
        sched = recorded_schedule(frozen)
        assert sched is not None and sched.steps == [0, 5, 10, 15, 20]
        assert sched.at(0)["lr"] == frozen.params["lr"]
        replay = hyperdial.create_study(seed=2, sampler="random")
        replay.enqueue_trial(dict(frozen.params))
        replay.optimize(lambda t, s=sched: _train(t, ReplayController(s)), n_trials=1, show_progress=False)
        assert replay.trials[0].value == frozen.value
        assert recorded_schedule(replay.trials[0]) == sched


def test_a_schedule_changing_every_step_is_queued_once_per_write():
    class EveryStep(Controller):
        def update(self, step, observation, params):
            return {"lr": params["lr"] * 0.99}

    study = hyperdial.create_study(seed=0, sampler="random")
    trial = study.ask()
    loop = ControlLoop(EveryStep(), {"lr": 0.1}, trial=trial)
    for step in range(200):
        loop.step(step)
    queued = [d for kind, d in trial._pending if kind == "system" and "schedule" in d]
    assert len(queued) == 1 and len(queued[0]["schedule"]) == 201
    study.tell(trial, 1.0)
    assert recorded_schedule(study.trials[0]) == loop.schedule
