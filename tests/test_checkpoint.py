"""Checkpoints kept by the storage: round trips on every backend and from worker processes, cleanup."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier

import hyperdial
from hyperdial import checkpoint as ck
from hyperdial.trial import TrialState

X, Y = load_digits(return_X_y=True)
X = X[:400] / 16.0
Y = Y[:400]
CLASSES = np.arange(10)


def _fit(clf, epochs):
    for _ in range(epochs):
        clf.partial_fit(X, Y, classes=CLASSES)
    return clf


def test_partial_fit_model_round_trips_and_keeps_training(storage):
    study = hyperdial.create_study("ck", storage, seed=0)
    trial = study.ask()
    clf = _fit(SGDClassifier(random_state=0), 2)
    trial.save_checkpoint(clf, step=2)
    trial.save_checkpoint(b"raw bytes")
    back = trial.load_checkpoint(step=2)
    assert back is not clf and np.array_equal(back.coef_, clf.coef_)
    # Training the restored copy continues exactly as the original would.
    np.testing.assert_array_equal(_fit(back, 1).coef_, _fit(clf, 1).coef_)
    assert trial.load_checkpoint() == b"raw bytes"
    # Another handle on the same stored study (what a worker sees) reads the same blobs.
    other = hyperdial.load_study("ck", storage)
    assert ck.load_checkpoint(other, trial.number, step=2).t_ == 2 * len(Y) + 1
    assert other.trials[trial.number].system_attrs["checkpoint"] == {"keep": "running", "steps": [2, "last"]}


def test_file_checkpoints(tmp_path):
    study = hyperdial.create_study(seed=0)
    trial = study.ask()
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00\x01weights")
    trial.save_checkpoint(src)
    out = trial.load_checkpoint(path=tmp_path / "copy.bin")
    assert out == tmp_path / "copy.bin" and out.read_bytes() == src.read_bytes()
    assert trial.load_checkpoint() == src.read_bytes()
    with pytest.raises(TypeError, match="ambiguous"):
        trial.save_checkpoint(str(src))
    with pytest.raises(FileNotFoundError, match="no such file"):
        trial.save_checkpoint(tmp_path / "missing.bin")


def test_keep_policies_clean_up_when_the_trial_finishes():
    study = hyperdial.create_study(seed=0)
    sid = study._info.id
    trials = [study.ask() for _ in range(4)]
    trials[0].save_checkpoint(b"a")  # keep="running": gone when finished
    trials[1].save_checkpoint(b"b", step=3, keep="complete")
    trials[2].save_checkpoint(b"c", step=1, keep="complete")  # will be pruned: gone
    trials[3].save_checkpoint(b"d", keep="all")
    study.tell(trials[0], 1.0)
    study.tell(trials[1], 1.0)
    study.tell(trials[2], state="pruned")
    study.tell(trials[3], state="pruned")
    assert study.storage.get_blob(sid, ck.checkpoint_key(0, None)) is None
    assert ck.load_checkpoint(study, 1) == b"b"  # the latest step when none is given
    with pytest.raises(KeyError, match="cleaned up"):
        ck.load_checkpoint(study, 2, step=1)
    assert ck.load_checkpoint(study, 3) == b"d"
    assert ck.release_checkpoints(study, keep_complete=True) == 2  # trials 2 (already gone) and 3
    assert ck.load_checkpoint(study, 1, step=3) == b"b"
    with pytest.raises(KeyError):
        ck.load_checkpoint(study, 3)


def test_a_held_checkpoint_survives_its_trial():
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    t.save_checkpoint(b"donor", step=5)
    t.set_system_attr(ck.HOLD_ATTR, True)
    study.tell(t, 0.0)
    assert study.trials[0].system_attrs[ck.HOLD_ATTR] is True
    assert t.load_checkpoint(step=5) == b"donor"


def test_errors_are_clear():
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    with pytest.raises(ValueError, match="keep='forever'"):
        t.save_checkpoint(b"x", keep="forever")
    with pytest.raises(TypeError, match="non-negative integer"):
        t.save_checkpoint(b"x", step=-1)
    with pytest.raises(TypeError, match="cannot pickle"):
        t.save_checkpoint({"f": lambda x: x})
    with pytest.raises(KeyError, match="no checkpoint"):
        t.load_checkpoint()
    study.storage.set_blob(study._info.id, ck.checkpoint_key(t.number, 7), b"not a checkpoint")
    with pytest.raises(ValueError, match="not a hyperdial checkpoint"):
        t.load_checkpoint(step=7)
    t.save_checkpoint(pickle.dumps(1))  # bytes stay bytes
    with pytest.raises(ValueError, match="only torch checkpoints"):
        t.load_checkpoint(into=object())


def test_oversized_checkpoints_are_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(ck, "MAX_CHECKPOINT_BYTES", 10)
    t = hyperdial.create_study(seed=0).ask()
    with pytest.raises(ValueError, match="state_dict without the optimizer"):
        t.save_checkpoint(b"\x00" * 100)
    with pytest.raises(KeyError):
        t.load_checkpoint()  # nothing was stored


def _checkpointing_objective(trial):
    clf = SGDClassifier(alpha=trial.suggest_float("alpha", 1e-5, 1e-2, log=True), random_state=0)
    for epoch in range(1, 3):
        clf.partial_fit(X, Y, classes=CLASSES)
        trial.save_checkpoint(clf, step=epoch, keep="complete")
        trial.report(1 - clf.score(X, Y), epoch)
    resumed = trial.load_checkpoint(step=1)
    resumed.partial_fit(X, Y)  # a worker can read its own checkpoint back and continue
    return 1 - clf.score(X, Y)


@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_checkpoints_from_process_workers(where, sqlite_url):
    storage = None if where == "memory" else sqlite_url
    study = hyperdial.create_study("w", storage, seed=0, sampler="random")
    study.optimize(_checkpointing_objective, n_trials=4, n_jobs=2, show_progress=False)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        clf = ck.load_checkpoint(study, t.number)  # the latest step: 2
        assert isinstance(clf, SGDClassifier) and clf.alpha == t.params["alpha"]
        assert clf.t_ > 1  # two epochs of training


def test_torch_module_round_trip():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(16, 4)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    study = hyperdial.create_study(seed=0)
    t = study.ask()
    t.save_checkpoint(model, step=1)
    t.save_checkpoint(opt, step=2)
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert t.load_checkpoint(step=1, into=fresh) is fresh
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    state = t.load_checkpoint(step=1)
    assert set(state) == set(model.state_dict())
    opt2 = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    t.load_checkpoint(step=2, into=opt2)
    assert opt2.state_dict()["state"][0]["momentum_buffer"].shape == (3, 4)
    with pytest.raises(ValueError, match="only file or bytes"):
        t.load_checkpoint(step=1, path=Path("x"))
