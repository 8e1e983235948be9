"""Journal file specifics: URLs, several processes and threads on one file, cut-short lines, schema version."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading

import pytest

import hyperdial
from hyperdial.storages import Event, EventKind, JournalFileStorage, StateIn, get_storage
from hyperdial.trial import TrialState


def _create(number=None):
    return Event(EventKind.CREATE, number, {"state": int(TrialState.RUNNING)})


def test_urls(tmp_path):
    s = get_storage(f"journal:///{tmp_path / 'a.log'}?fsync=true")
    assert isinstance(s, JournalFileStorage) and s.fsync and s.path == str(tmp_path / "a.log")
    first = json.loads((tmp_path / "a.log").read_text().splitlines()[0])
    assert first["format"] == "hyperdial-journal"


@pytest.mark.parametrize(
    "url, message",
    [
        ("journal:////no/such/folder/x.log", "does not exist"),
        ("journal:///x.log?fsync=maybe", "fsync must be"),
        ("journal:///x.log?speed=fast", "unknown option"),
        ("journal:///", "no file path"),
    ],
)
def test_bad_urls_say_why(url, message):
    with pytest.raises(ValueError, match=message):
        get_storage(url)


def test_a_folder_is_not_a_journal(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        JournalFileStorage(f"journal:///{tmp_path}")


def test_two_objects_on_one_file_see_each_other_incrementally(tmp_path):
    url = f"journal:///{tmp_path / 's.log'}"
    a, b = JournalFileStorage(url), JournalFileStorage(url)
    sid = a.create_study("s", ["minimize"]).id
    assert b.get_study("s").id == sid
    assert a.append(sid, [_create()]) == [0]
    assert b.append(sid, [_create()]) == [1]
    assert [e.number for _, e in a.read(sid, 0)] == [0, 1]
    assert a.read(sid, 2) == []


def test_threads_append_without_losing_or_repeating_numbers(tmp_path):
    url = f"journal:///{tmp_path / 's.log'}"
    sid = JournalFileStorage(url).create_study("s", ["minimize"]).id
    got: list[int] = []

    def work():
        s = JournalFileStorage(url)  # objects of one process share one descriptor and lock
        for _ in range(50):
            got.extend(s.append(sid, [_create()]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(200))
    fresh = JournalFileStorage(url)  # replays the file from the start
    assert [seq for seq, _ in fresh.read(sid, 0)] == list(range(1, 201))


def _worker(url: str, n: int) -> None:
    study = hyperdial.load_study("par", url, sampler="random")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 5), n_trials=n, show_progress=False)


def test_several_processes_share_one_file(tmp_path):
    url = f"journal:///{tmp_path / 'par.log'}"
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


def test_a_line_cut_short_by_a_killed_writer_is_skipped_and_nothing_else_is_lost(tmp_path, caplog):
    path = tmp_path / "s.log"
    url = f"journal:///{path}"
    s = JournalFileStorage(url)
    sid = s.create_study("s", ["minimize"]).id
    s.append(sid, [_create()])
    with open(path, "ab") as f:  # what a writer killed in the middle of its write leaves behind
        f.write(b'{"op":"append","s":1,"e":[[1,1,0.0,{"sta')
    other = JournalFileStorage(url)
    assert [e.number for _, e in other.read(sid, 0)] == [0]  # the unfinished line is not read as a record
    assert other.append(sid, [_create()]) == [1]
    done = Event(EventKind.STATE, 1, {"state": int(TrialState.COMPLETE), "values": [0.5]})
    s.append(sid, [done], [StateIn(1, (TrialState.RUNNING,))])
    for reader in (s, other, JournalFileStorage(url)):
        events = reader.read(sid, 0)
        assert [(e.kind, e.number) for _, e in events] == [
            (EventKind.CREATE, 0),
            (EventKind.CREATE, 1),
            (EventKind.STATE, 1),
        ]
        assert reader.unreadable_lines == 1
    assert "unreadable line" in caplog.text


def test_blobs_survive_reopening(tmp_path):
    url = f"journal:///{tmp_path / 's.log'}"
    sid = JournalFileStorage(url).create_study("s", ["minimize"]).id
    JournalFileStorage(url).set_blob(sid, "k", b"\x00\xff")
    assert JournalFileStorage(url).get_blob(sid, "k") == b"\x00\xff"
    with pytest.raises(TypeError, match="bytes"):
        JournalFileStorage(url).set_blob(sid, "k", "text")
    assert JournalFileStorage(url).get_blob(sid, "k") == b"\x00\xff"


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "s.log"
    path.write_text('{"op":"header","format":"hyperdial-journal","schema":999}\n')
    with pytest.raises(RuntimeError, match="newer"):
        JournalFileStorage(f"journal:///{path}")
    assert path.read_text().count("\n") == 1


def test_a_truncated_journal_is_reported(tmp_path):
    path = tmp_path / "s.log"
    s = JournalFileStorage(f"journal:///{path}")
    s.create_study("s", ["minimize"])
    path.write_bytes(b"")  # truncated in place by someone else
    with pytest.raises(RuntimeError, match="shrank"):
        s.list_studies()


def test_heartbeats_use_the_file_clock(tmp_path):
    s = JournalFileStorage(f"journal:///{tmp_path / 's.log'}")
    sid = s.create_study("s", ["minimize"]).id
    s.append(sid, [_create(), _create()])
    s.heartbeat(sid, [0, 1], "w")
    assert s.stale_trials(sid, 60.0) == []
    assert s.stale_trials(sid, -1.0) == [0, 1]  # every beat is older than "a second in the future"
    s.append(sid, [Event(EventKind.STATE, 0, {"state": int(TrialState.COMPLETE), "values": [1.0]})])
    assert s.stale_trials(sid, -1.0) == [1]
    import time

    assert abs(s.now() - time.time()) < 60


def test_closing_releases_the_descriptor_and_a_closed_storage_reopens(tmp_path):
    import os

    url = f"journal:///{tmp_path / 's.log'}"
    fds = len(os.listdir("/proc/self/fd"))
    a, b = JournalFileStorage(url), JournalFileStorage(url)
    sid = a.create_study("s", ["minimize"]).id
    a.close()
    assert b.append(sid, [_create()]) == [0]  # b still holds the shared descriptor
    b.close()
    assert len(os.listdir("/proc/self/fd")) == fds  # the last close closed it
    assert a.append(sid, [_create()]) == [1]  # used again: reopened, and caught up incrementally
    assert [e.number for _, e in a.read(sid, 0)] == [0, 1]
    a.close()
    for _ in range(50):  # no descriptor leaks when storages come and go
        JournalFileStorage(url).close()
    assert len(os.listdir("/proc/self/fd")) == fds
