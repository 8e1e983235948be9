"""PostgreSQL / MariaDB specifics: several processes on one study, resume, clocks, bad URLs."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
from tests.conftest import MYSQL_URL, POSTGRES_URL, STORAGE_FACTORIES

import hyperdial

SERVERS = ["postgres", "mysql"]


@pytest.fixture(params=SERVERS)
def server_url(request, tmp_path):
    STORAGE_FACTORIES[request.param](tmp_path).close()  # skips without the server; empties the schema
    return POSTGRES_URL if request.param == "postgres" else MYSQL_URL


def _worker(url: str, n: int) -> None:
    study = hyperdial.load_study("shared", url, sampler="random")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n, show_progress=False)


def test_workers_in_several_processes_share_one_study(server_url):
    hyperdial.create_study("shared", server_url, seed=0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(server_url, 20)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    numbers = sorted(t.number for t in hyperdial.load_study("shared", server_url).trials)
    assert numbers == list(range(80))


def test_resume_and_clock(server_url):
    space = {"x": hyperdial.Float(0, 1), "k": [1, 2, 3]}
    one = hyperdial.create_study(sampler="tpe", seed=5, space=space)
    one.optimize(lambda t: t.params["x"] * t.params["k"], n_trials=15, show_progress=False)
    first = hyperdial.create_study("r", server_url, sampler="tpe", seed=5, space=space)
    first.optimize(lambda t: t.params["x"] * t.params["k"], n_trials=6, show_progress=False)
    again = hyperdial.load_study("r", server_url, sampler="tpe")
    again.optimize(lambda t: t.params["x"] * t.params["k"], n_trials=9, show_progress=False)
    assert [dict(t.params) for t in again.trials] == [dict(t.params) for t in one.trials]
    assert abs(again.storage.now() - time.time()) < 60


def test_unreachable_server_says_so():
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match="cannot be opened"):
        hyperdial.get_storage("postgresql://postgres@127.0.0.1:1/none")


def test_postgres_appends_in_one_statement_and_falls_back_to_a_transaction(tmp_path):
    from hyperdial.storages import Claim, Event, EventKind, PreconditionFailed, StateIn
    from hyperdial.trial import TrialState

    storage = STORAGE_FACTORIES["postgres"](tmp_path)
    assert storage._one_statement  # hyperdial_append_v1 was created with the schema
    running = (TrialState.RUNNING,)
    for one_statement in (True, False):  # False: the path used where functions cannot be created
        storage._one_statement = one_statement
        sid = storage.create_study(f"s{one_statement}", ["minimize"]).id
        create = Event(EventKind.CREATE, None, {"state": int(TrialState.RUNNING)})
        assert storage.append(sid, [create], [Claim("a")]) == [0]
        done = Event(EventKind.STATE, 0, {"state": int(TrialState.COMPLETE), "values": [1.0]})
        numbers, events = storage.append_read(sid, [done], [StateIn(0, running)], after=0)
        assert numbers == [] and [seq for seq, _ in events] == [1, 2]
        with pytest.raises(PreconditionFailed, match="COMPLETE"):
            storage.append(sid, [Event(EventKind.REPORT, 0, {"step": 0, "value": 1.0})], [StateIn(0, running)])
        with pytest.raises(PreconditionFailed):
            storage.append(sid, [Event(EventKind.CREATE, None, {"state": int(TrialState.RUNNING)})], [Claim("a")])
        assert len(storage.read(sid, 0)) == 2
    storage.close()


def _open(url: str, barrier) -> None:
    from hyperdial.storages.sql import SQLStorage

    barrier.wait(30)
    SQLStorage(url).close()


def test_processes_opening_a_new_postgres_database_at_once_all_succeed():
    if not POSTGRES_URL:
        pytest.skip("HYPERDIAL_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    import uuid

    sa = pytest.importorskip("sqlalchemy")
    name = f"hyperdial_fresh_{uuid.uuid4().hex[:10]}"
    driver_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://")
    admin = sa.create_engine(driver_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_open, args=(url, barrier)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        hyperdial.create_study("after", url).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
