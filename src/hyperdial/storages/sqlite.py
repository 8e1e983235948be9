"""A SQLite file storage: the default for the CLI, safe for several processes on one machine.

Durability (the ``synchronous`` URL option, e.g. ``sqlite:///study.db?synchronous=FULL``):

* ``NORMAL`` (default): WAL mode; a committed trial survives a crash of any process,
  but the last commits may be lost if the machine loses power.
* ``FULL``: also survives a power loss; each commit waits for the disk (about 10x slower).
* ``OFF``: no waiting for the disk at all; for throw-away studies.

Every write is one ``BEGIN IMMEDIATE`` transaction, so writers queue on SQLite's lock
(``timeout`` seconds at most, default 60) instead of failing with "database is locked";
readers never wait for writers in WAL mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

from hyperdial.space import Distribution, distribution_from_dict
from hyperdial.storages.base import (
    SCHEMA_VERSION,
    Claim,
    DuplicateStudyError,
    Event,
    EventKind,
    MaxTrials,
    Precondition,
    PreconditionFailed,
    StateIn,
    Storage,
    StudyInfo,
    StudySummary,
)
from hyperdial.trial import TrialState

__all__ = ["SQLiteStorage"]

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS studies (
        id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, directions TEXT NOT NULL,
        created REAL NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0, next_number INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS events (
        study_id INTEGER NOT NULL, seq INTEGER NOT NULL, number INTEGER NOT NULL, kind INTEGER NOT NULL,
        ts REAL NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (study_id, seq)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS trials (
        study_id INTEGER NOT NULL, number INTEGER NOT NULL, state INTEGER NOT NULL,
        PRIMARY KEY (study_id, number)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS claims (
        study_id INTEGER NOT NULL, key TEXT NOT NULL, number INTEGER NOT NULL,
        PRIMARY KEY (study_id, key)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS heartbeats (
        study_id INTEGER NOT NULL, number INTEGER NOT NULL, worker TEXT NOT NULL, ts REAL NOT NULL,
        PRIMARY KEY (study_id, number)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS blobs (
        study_id INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, updated REAL NOT NULL,
        PRIMARY KEY (study_id, key)) WITHOUT ROWID""",
]

# Schema migrations: MIGRATIONS[v] upgrades a file at version v to v + 1, inside one transaction.
MIGRATIONS: dict[int, Any] = {}

_DIST_CACHE: dict[str, Distribution] = {}


def _dist_from_key(key: str) -> Distribution:
    d = _DIST_CACHE.get(key)
    if d is None:
        d = _DIST_CACHE[key] = distribution_from_dict(json.loads(key))
    return d


def encode_payload(event: Event) -> str:
    data = event.data
    dists = data.get("dists")
    if dists:
        data = dict(data)
        data["dists"] = {n: d.key for n, d in dists.items()}
    return json.dumps(data, separators=(",", ":"))


def decode_payload(payload: str) -> dict[str, Any]:
    data = json.loads(payload)
    dists = data.get("dists")
    if dists:
        data["dists"] = {n: _dist_from_key(k) for n, k in dists.items()}
    return data


def parse_sqlite_url(url: str) -> tuple[str, dict[str, str]]:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``; options after ``?``."""
    rest = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite://") :]
    path, _, query = rest.partition("?")
    opts = {k: v[-1] for k, v in parse_qs(query).items()}
    return unquote(path), opts


class SQLiteStorage(Storage):
    """The event log in one SQLite file.

    Args:
        url: ``sqlite:///path/to/file.db``; options ``synchronous`` (NORMAL, FULL, OFF) and
            ``timeout`` (seconds a writer waits for the lock) may follow ``?``.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "s.db")
        >>> SQLiteStorage(f"sqlite:///{path}").create_study("demo", ["minimize"]).id
        1
    """

    def __init__(self, url: str) -> None:
        self.url = url
        path, opts = parse_sqlite_url(url)
        if not path:
            raise ValueError(f"storage {url!r}: no file path; write sqlite:///study.db")
        unknown = set(opts) - {"synchronous", "timeout"}
        if unknown:
            raise ValueError(f"storage {url!r}: unknown option(s) {sorted(unknown)}; allowed: synchronous, timeout")
        self.path = path
        self.synchronous = opts.get("synchronous", "NORMAL").upper()
        if self.synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"storage {url!r}: synchronous must be NORMAL, FULL or OFF, got {self.synchronous!r}")
        try:
            self.timeout = float(opts.get("timeout", 60))
        except ValueError:
            raise ValueError(f"storage {url!r}: timeout must be a number of seconds") from None
        self._local = threading.local()
        self._pid = os.getpid()
        self._conn()  # open now, so a bad path fails here with a clear message

    # -- connections ------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._pid == os.getpid():
            return conn
        if self._pid != os.getpid():  # forked: never share a connection across processes
            self._local = threading.local()
            self._pid = os.getpid()
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise ValueError(
                    f"storage {self.url!r} cannot be opened: the folder {parent!r} does not exist; create it first"
                )
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._ensure_schema(conn)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"storage {self.url!r} cannot be opened: {exc}; is it a hyperdial SQLite file?") from None
        self._local.conn = conn
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        row = None
        with contextlib.suppress(sqlite3.OperationalError):
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA:
                conn.execute(stmt)
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = SCHEMA_VERSION if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"storage {self.url!r} has schema version {version}, newer than this hyperdial's "
                    f"{SCHEMA_VERSION}; upgrade hyperdial"
                )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    # -- studies ------------------------------------------------------------------------------
    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        conn = self._conn()
        created = time.time()
        try:
            cur = conn.execute(
                "INSERT INTO studies (name, directions, created) VALUES (?, ?, ?)",
                (name, json.dumps(list(directions)), created),
            )
        except sqlite3.IntegrityError:
            raise DuplicateStudyError(f"a study named {name!r} already exists in {self.url}") from None
        return StudyInfo(int(cur.lastrowid), name, tuple(directions), created)

    def get_study(self, name: str) -> StudyInfo | None:
        row = self._conn().execute("SELECT id, directions, created FROM studies WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        return StudyInfo(int(row[0]), name, tuple(json.loads(row[1])), float(row[2]))

    def list_studies(self) -> list[StudySummary]:
        rows = self._conn().execute("SELECT name, directions, next_number, created FROM studies ORDER BY id").fetchall()
        return [StudySummary(r[0], tuple(json.loads(r[1])), int(r[2]), float(r[3])) for r in rows]

    def delete_study(self, name: str) -> None:
        info = self.get_study(name)
        if info is None:
            raise KeyError(name)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("events", "trials", "claims", "blobs", "heartbeats"):
                conn.execute(f"DELETE FROM {table} WHERE study_id=?", (info.id,))
            conn.execute("DELETE FROM studies WHERE id=?", (info.id,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- the log -------------------------------------------------------------------------------
    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        conn = self._conn()
        n_new = sum(1 for e in events if e.kind == EventKind.CREATE and e.number is None)
        payloads = [encode_payload(e) for e in events]  # before the lock: keep the transaction short
        numbers: list[int] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "UPDATE studies SET last_seq = last_seq + ?, next_number = next_number + ? WHERE id = ? "
                "RETURNING last_seq, next_number",
                (len(events), n_new, study_id),
            ).fetchone()
            if row is None:
                raise KeyError(f"no study with id {study_id} in {self.url}")
            last_seq, next_number = row
            first_number = next_number - n_new
            claims = []
            for pre in require:
                if isinstance(pre, StateIn):
                    r = conn.execute(
                        "SELECT state FROM trials WHERE study_id=? AND number=?", (study_id, pre.number)
                    ).fetchone()
                    if r is None:
                        raise PreconditionFailed(pre, f"trial {pre.number} does not exist")
                    if r[0] not in pre.states:
                        raise PreconditionFailed(pre, f"trial {pre.number} is {TrialState(r[0]).name}")
                elif isinstance(pre, Claim):
                    claims.append(pre)
                elif isinstance(pre, MaxTrials):
                    if next_number > pre.limit:
                        raise PreconditionFailed(pre, f"the study holds {first_number} trials")
                else:
                    raise TypeError(f"unknown precondition {pre!r}")
            rows = []
            trial_rows = []
            seq = last_seq - len(events)
            number = first_number
            for e, payload in zip(events, payloads):
                seq += 1
                if e.kind == EventKind.CREATE:
                    if e.number is None:
                        e.number = number
                        numbers.append(number)
                        number += 1
                    trial_rows.append((study_id, e.number, int(e.data["state"])))
                elif e.kind == EventKind.STATE:
                    conn.execute(
                        "UPDATE trials SET state=? WHERE study_id=? AND number=?",
                        (int(e.data["state"]), study_id, e.number),
                    )
                rows.append((study_id, seq, -1 if e.number is None else e.number, int(e.kind), e.time, payload))
            if trial_rows:
                conn.executemany("INSERT INTO trials VALUES (?, ?, ?)", trial_rows)
            owner = numbers[0] if numbers else next((e.number for e in events if e.number is not None), -1)
            for pre in claims:
                try:
                    conn.execute("INSERT INTO claims VALUES (?, ?, ?)", (study_id, pre.key, owner))
                except sqlite3.IntegrityError:
                    raise PreconditionFailed(pre, "already claimed") from None
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            # The numbers given in the failed transaction are void: let a retry number afresh.
            for e in events:
                if e.kind == EventKind.CREATE and e.number in numbers:
                    e.number = None
            raise
        return numbers

    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        rows = (
            self._conn()
            .execute(
                "SELECT seq, number, kind, ts, payload FROM events WHERE study_id=? AND seq>? ORDER BY seq",
                (study_id, after),
            )
            .fetchall()
        )
        kinds = {int(k): k for k in EventKind}
        out = []
        for seq, number, kind, ts, payload in rows:
            out.append((seq, Event(kinds[kind], number, decode_payload(payload), ts)))
        return out

    # -- side tables ------------------------------------------------------------------------------
    def get_blob(self, study_id: int, key: str) -> bytes | None:
        row = self._conn().execute("SELECT value FROM blobs WHERE study_id=? AND key=?", (study_id, key)).fetchone()
        return None if row is None else bytes(row[0])

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        conn = self._conn()
        if value is None:
            conn.execute("DELETE FROM blobs WHERE study_id=? AND key=?", (study_id, key))
        else:
            conn.execute(
                "INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)", (study_id, key, sqlite3.Binary(value), time.time())
            )

    # A SQLite file lives on one machine, whose clock stamps the heartbeats.
    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        now = time.time()
        self._conn().executemany(
            "INSERT OR REPLACE INTO heartbeats VALUES (?, ?, ?, ?)", [(study_id, n, worker, now) for n in numbers]
        )

    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        rows = (
            self._conn()
            .execute(
                "SELECT h.number FROM heartbeats h JOIN trials t ON t.study_id = h.study_id AND t.number = h.number "
                "WHERE h.study_id = ? AND h.ts < ? AND t.state IN (?, ?) ORDER BY h.number",
                (study_id, time.time() - grace, int(TrialState.RUNNING), int(TrialState.PAUSED)),
            )
            .fetchall()
        )
        return [int(r[0]) for r in rows]
