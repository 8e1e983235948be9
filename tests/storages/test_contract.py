"""The storage contract: every backend (see ``STORAGE_FACTORIES`` in conftest) must pass it."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import STORAGE_FACTORIES

from hyperdial import Categorical, Float, Int
from hyperdial.storages import (
    Claim,
    DuplicateStudyError,
    Event,
    EventKind,
    InMemoryStorage,
    MaxTrials,
    PreconditionFailed,
    StateIn,
)
from hyperdial.trial import TrialState

RUNNING, COMPLETE = int(TrialState.RUNNING), int(TrialState.COMPLETE)


def create(number=None, state=RUNNING, **data):
    return Event(EventKind.CREATE, number, {"state": state, **data})


def test_studies_are_created_listed_and_deleted(storage):
    a = storage.create_study("a", ["minimize"])
    b = storage.create_study("b", ["maximize", "minimize"])
    assert a.id != b.id
    assert storage.get_study("b").directions == ("maximize", "minimize")
    assert storage.get_study("nope") is None
    with pytest.raises(DuplicateStudyError):
        storage.create_study("a", ["minimize"])
    storage.append(a.id, [create()])
    summaries = {s.name: s for s in storage.list_studies()}
    assert summaries["a"].n_trials == 1 and summaries["b"].n_trials == 0
    storage.delete_study("a")
    assert storage.get_study("a") is None
    assert [s.name for s in storage.list_studies()] == ["b"]


def test_numbers_are_contiguous_and_events_ordered(storage):
    sid = storage.create_study("s", ["minimize"]).id
    numbers = []
    for _ in range(5):
        numbers += storage.append(sid, [create(), create()])
    assert numbers == list(range(10))
    events = storage.read(sid, 0)
    assert [seq for seq, _ in events] == list(range(1, 11))
    assert [e.number for _, e in events] == list(range(10))
    tail = storage.read(sid, 7)
    assert [seq for seq, _ in tail] == [8, 9, 10]
    assert storage.read(sid, 10) == []


def test_payloads_round_trip(storage):
    sid = storage.create_study("s", ["minimize"]).id
    dists = {"x": Float(1e-3, 1.0, log=True), "n": Int(1, 9, step=2), "c": Categorical([None, True, "a", 1.5])}
    params = {"x": 0.01, "n": 3, "c": None}
    storage.append(sid, [create(params=params, dists=dists, system={"k": [1, 2]}, user={"u": "v"})])
    storage.append(sid, [Event(EventKind.REPORT, 0, {"step": 3, "value": 0.5})])
    storage.append(sid, [Event(EventKind.STATE, 0, {"state": COMPLETE, "values": [1.25]})])
    events = [e for _, e in storage.read(sid, 0)]
    assert events[0].data["params"] == params
    assert events[0].data["dists"] == dists
    assert events[0].data["system"] == {"k": [1, 2]}
    assert events[1].data == {"step": 3, "value": 0.5}
    assert events[2].data["values"] == [1.25]
    assert events[0].time <= events[2].time


def test_failed_precondition_writes_nothing(storage):
    sid = storage.create_study("s", ["minimize"]).id
    storage.append(sid, [create()])
    done = Event(EventKind.STATE, 0, {"state": COMPLETE, "values": [1.0]})
    storage.append(sid, [done], [StateIn(0, (TrialState.RUNNING,))])
    before = len(storage.read(sid, 0))
    again = Event(EventKind.STATE, 0, {"state": COMPLETE, "values": [2.0]})
    with pytest.raises(PreconditionFailed, match="COMPLETE"):
        storage.append(sid, [create(), again], [StateIn(0, (TrialState.RUNNING,))])
    assert len(storage.read(sid, 0)) == before
    assert storage.append(sid, [create()]) == [1]  # the failed append used no number
    with pytest.raises(PreconditionFailed, match="does not exist"):
        storage.append(sid, [again], [StateIn(99, (TrialState.RUNNING,))])


def test_claims_are_unique(storage):
    sid = storage.create_study("s", ["minimize"]).id
    storage.append(sid, [create()], [Claim("grid:0")])
    with pytest.raises(PreconditionFailed):
        storage.append(sid, [create()], [Claim("grid:0")])
    storage.append(sid, [create()], [Claim("grid:1")])
    assert len(storage.read(sid, 0)) == 2


def test_max_trials_caps_the_study(storage):
    sid = storage.create_study("s", ["minimize"]).id
    for _ in range(3):
        storage.append(sid, [create()], [MaxTrials(3)])
    with pytest.raises(PreconditionFailed):
        storage.append(sid, [create()], [MaxTrials(3)])
    assert len(storage.read(sid, 0)) == 3


def test_blobs(storage):
    sid = storage.create_study("s", ["minimize"]).id
    assert storage.get_blob(sid, "k") is None
    storage.set_blob(sid, "k", b"\x00\x01")
    assert storage.get_blob(sid, "k") == b"\x00\x01"
    storage.set_blob(sid, "k", b"new")
    assert storage.get_blob(sid, "k") == b"new"
    storage.set_blob(sid, "k", None)
    assert storage.get_blob(sid, "k") is None


def test_studies_are_isolated(storage):
    a = storage.create_study("a", ["minimize"]).id
    b = storage.create_study("b", ["minimize"]).id
    storage.append(a, [create(), create()])
    assert storage.append(b, [create()]) == [0]
    assert len(storage.read(b, 0)) == 1


# A random program of appends (some with preconditions that fail) must leave every backend
# in the same state: the memory backend is the reference.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(1, 3), st.one_of(st.none(), st.integers(0, 4))),
        st.tuples(st.just("finish"), st.integers(0, 12), st.sampled_from([RUNNING, COMPLETE])),
        st.tuples(st.just("report"), st.integers(0, 12), st.integers(0, 5)),
    ),
    max_size=30,
)


@pytest.fixture(params=["sqlite", "journal", "postgres", "mysql"])
def durable(request, tmp_path):
    s = STORAGE_FACTORIES[request.param](tmp_path)
    yield s
    s.close()


@given(program=ops)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_backends_agree_on_random_programs(program, durable):
    backends = [InMemoryStorage(), durable]
    outcomes = []
    name = uuid.uuid4().hex
    for s in backends:
        sid = s.create_study(name, ["minimize"]).id
        log = []
        for op in program:
            try:
                if op[0] == "create":
                    req = [] if op[2] is None else [Claim(f"c{op[2]}")]
                    log.append(s.append(sid, [create() for _ in range(op[1])], req))
                elif op[0] == "finish":
                    ev = Event(EventKind.STATE, op[1], {"state": op[2]})
                    log.append(s.append(sid, [ev], [StateIn(op[1], (TrialState.RUNNING,))]))
                else:
                    ev = Event(EventKind.REPORT, op[1], {"step": op[2], "value": 1.0})
                    log.append(s.append(sid, [ev], [StateIn(op[1], (TrialState.RUNNING,))]))
            except PreconditionFailed:
                log.append("failed")
        events = [(seq, int(e.kind), e.number, e.data) for seq, e in s.read(sid, 0)]
        outcomes.append((log, events))
    assert outcomes[0] == outcomes[1]


def test_append_read_returns_the_write_and_what_the_caller_missed(storage):
    sid = storage.create_study("s", ["minimize"]).id
    storage.append(sid, [create()])
    storage.append(sid, [create()])  # another worker's write, unseen by a reader at position 1
    report = Event(EventKind.REPORT, 0, {"step": 0, "value": 0.5})
    numbers, events = storage.append_read(sid, [create(), report], [StateIn(0, (TrialState.RUNNING,))], after=1)
    assert numbers == [2]
    assert [seq for seq, _ in events] == [2, 3, 4]
    assert [(e.kind, e.number) for _, e in events] == [
        (EventKind.CREATE, 1),
        (EventKind.CREATE, 2),
        (EventKind.REPORT, 0),
    ]
    assert events[-1][1].data == {"step": 0, "value": 0.5}
    for require in ([StateIn(7, (TrialState.RUNNING,))], [MaxTrials(3)]):
        with pytest.raises(PreconditionFailed):
            storage.append_read(sid, [create()], require, after=0)
    storage.append(sid, [create()], [Claim("k")])
    with pytest.raises(PreconditionFailed, match="claim"):
        storage.append_read(sid, [create()], [Claim("k")], after=0)
    assert len(storage.read(sid, 0)) == 5  # the failed calls wrote nothing
    assert storage.append_read(sid, [create()], after=5)[0] == [4]
