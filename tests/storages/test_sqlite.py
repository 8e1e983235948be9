"""SQLite specifics: URLs, durability options, schema version, several processes at once."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest

import hyperdial
from hyperdial.storages import SQLiteStorage, get_storage


def test_urls_and_paths(tmp_path):
    s = get_storage(str(tmp_path / "a.db"))
    assert isinstance(s, SQLiteStorage)
    s2 = get_storage(f"sqlite:///{tmp_path / 'b.db'}?synchronous=FULL&timeout=5")
    assert s2.synchronous == "FULL" and s2.timeout == 5
    mode = sqlite3.connect(tmp_path / "b.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite:////no/such/folder/x.db", "does not exist"),
        ("sqlite:///x.db?synchronous=SOMETIMES", "synchronous must be"),
        ("sqlite:///x.db?speed=fast", "unknown option"),
        ("mongodb://localhost/x", "unknown scheme"),
    ],
)
def test_bad_urls_say_why(url, message):
    with pytest.raises(ValueError, match=message):
        get_storage(url)


def test_a_file_that_is_not_a_database(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="cannot be opened"):
        SQLiteStorage(f"sqlite:///{p}")


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    hyperdial.create_study("s", url)
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="newer"):
        SQLiteStorage(url)
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*) FROM studies").fetchone()[0] == 1


def _worker(url: str, n: int) -> None:
    study = hyperdial.load_study("par", url, sampler="random")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 5), n_trials=n, show_progress=False)


def test_several_processes_share_one_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'par.db'}"
    hyperdial.create_study("par", url, seed=0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(url, 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    trials = hyperdial.load_study("par", url).trials
    assert sorted(t.number for t in trials) == list(range(100))
    assert all(t.state == hyperdial.TrialState.COMPLETE for t in trials)


def test_snapshot_gives_the_same_view(tmp_path, monkeypatch):
    import hyperdial.study as study_mod

    monkeypatch.setattr(study_mod, "_SNAPSHOT_MIN_EVENTS", 10)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = hyperdial.create_study("s", url, seed=1, directions=["minimize", "maximize"])

    def obj(t):
        x = t.suggest_float("x", 0, 1)
        if t.suggest_categorical("c", ["a", "b", None]) == "b":
            t.suggest_int("k", 1, 3)
        t.report((x, 1.0), 0)
        t.set_user_attr("note", [1, "two"])
        if x > 0.8:
            raise ValueError("boom")
        return x, 1 - x

    study.optimize(obj, n_trials=40, show_progress=False, catch=ValueError)
    study.enqueue_trial({"x": 0.5})
    assert SQLiteStorage(url).get_blob(study._info.id, "snapshot") is not None
    fresh = hyperdial.load_study("s", url)
    replayed = study_mod.History(study.directions)
    replayed.apply(SQLiteStorage(url).read(study._info.id, 0))
    assert fresh.trials == replayed.trials
    assert fresh.history.waiting == replayed.waiting
    assert [t.number for t in fresh.best_trials] == [t.number for t in replayed.best_trials()]
    import numpy as np

    np.testing.assert_array_equal(
        fresh.history.matrix({"x": hyperdial.Float(0, 1)}), replayed.matrix({"x": hyperdial.Float(0, 1)})
    )
