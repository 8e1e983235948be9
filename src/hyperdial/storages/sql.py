"""PostgreSQL and MySQL / MariaDB storage through SQLAlchemy: one study shared by many machines.

The same event-log design as the SQLite file (see :mod:`hyperdial.storages.base`):

* an append locks the study's row (``SELECT ... FOR UPDATE``) and takes the next
  sequence numbers and trial numbers from it inside the same transaction, so appends to
  one study are serialised and the sequence order is the commit order: a reader asking
  for "everything after position p" never skips an event that committed late (a plain
  auto-increment id does not guarantee that on PostgreSQL);
* preconditions (trial state, claims, a cap on trials) are checked in that transaction;
* blobs (snapshots, checkpoints, sampler caches) live in their own table.

URLs: ``postgresql://user@host:5432/db`` (driver psycopg 3), ``mysql://user:pw@host/db``
(driver PyMySQL); explicit ``postgresql+psycopg2://`` or ``mysql+mysqldb://`` also work.
Install with ``pip install 'hyperdial[postgres]'`` or ``'hyperdial[mysql]'``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from hyperdial._imports import require
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
from hyperdial.storages.sqlite import decode_payload, encode_payload
from hyperdial.trial import TrialState

__all__ = ["SQLStorage"]

_KINDS = {int(k): k for k in EventKind}


def _normalise_url(url: str) -> tuple[str, str]:
    """(SQLAlchemy URL, extra that provides its driver)."""
    scheme, _, rest = url.partition("://")
    base = scheme.split("+")[0]
    if base in ("postgresql", "postgres"):
        return (f"postgresql+psycopg://{rest}" if "+" not in scheme else url), "postgres"
    if base in ("mysql", "mariadb"):
        return (f"mysql+pymysql://{rest}" if "+" not in scheme else url), "mysql"
    raise ValueError(f"storage {url!r}: SQLStorage takes postgresql:// or mysql:// URLs")


class SQLStorage(Storage):
    """The event log in a PostgreSQL or MySQL / MariaDB database.

    Args:
        url: ``postgresql://user@host/db`` or ``mysql://user:password@host/db``.
        pool_size: Connections kept open per process.

    Example:
        >>> storage = SQLStorage("postgresql://postgres@127.0.0.1/test")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        sa_url, extra = _normalise_url(url)
        sa = require("sqlalchemy", extra)
        self._sa = sa
        self._dialect = "postgresql" if sa_url.startswith("postgresql") else "mysql"
        driver = "psycopg" if self._dialect == "postgresql" else "pymysql"
        if "+" not in url.split("://")[0]:
            require(driver, extra)
        try:
            # No pre-ping (a round trip per checkout); stale connections are recycled instead.
            self._engine = sa.create_engine(sa_url, pool_size=pool_size, pool_recycle=1800, future=True)
            self._tables = self._define(sa)
            with self._engine.begin() as conn:
                self._ensure_schema(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise ValueError(f"storage {url!r} cannot be opened: {exc.__class__.__name__}: {exc.orig or exc}") from None

    def _define(self, sa: Any) -> dict[str, Any]:
        from sqlalchemy.dialects import mysql

        md = sa.MetaData()
        big_text = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")
        big_blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")
        t = {
            "meta": sa.Table(
                "hyperdial_meta", md, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text)
            ),
            "studies": sa.Table(
                "hyperdial_studies",
                md,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("name", sa.String(512), nullable=False, unique=True),
                sa.Column("directions", sa.Text, nullable=False),
                sa.Column("created", sa.Double, nullable=False),
                sa.Column("last_seq", sa.BigInteger, nullable=False, default=0),
                sa.Column("next_number", sa.BigInteger, nullable=False, default=0),
            ),
            "events": sa.Table(
                "hyperdial_events",
                md,
                sa.Column("study_id", sa.Integer, primary_key=True),
                sa.Column("seq", sa.BigInteger, primary_key=True),
                sa.Column("number", sa.BigInteger, nullable=False),
                sa.Column("kind", sa.SmallInteger, nullable=False),
                sa.Column("ts", sa.Double, nullable=False),
                sa.Column("payload", big_text, nullable=False),
            ),
            "trials": sa.Table(
                "hyperdial_trials",
                md,
                sa.Column("study_id", sa.Integer, primary_key=True),
                sa.Column("number", sa.BigInteger, primary_key=True),
                sa.Column("state", sa.SmallInteger, nullable=False),
            ),
            "claims": sa.Table(
                "hyperdial_claims",
                md,
                sa.Column("study_id", sa.Integer, primary_key=True),
                sa.Column("key", sa.String(255), primary_key=True),
                sa.Column("number", sa.BigInteger, nullable=False),
            ),
            "heartbeats": sa.Table(
                "hyperdial_heartbeats",
                md,
                sa.Column("study_id", sa.Integer, primary_key=True),
                sa.Column("number", sa.BigInteger, primary_key=True),
                sa.Column("worker", sa.String(255), nullable=False),
                sa.Column("ts", sa.Double, nullable=False),
            ),
            "blobs": sa.Table(
                "hyperdial_blobs",
                md,
                sa.Column("study_id", sa.Integer, primary_key=True),
                sa.Column("key", sa.String(255), primary_key=True),
                sa.Column("value", big_blob, nullable=False),
                sa.Column("updated", sa.Double, nullable=False),
            ),
        }
        self._metadata = md
        return t

    def _ensure_schema(self, conn: Any) -> None:
        sa = self._sa
        self._metadata.create_all(conn, checkfirst=True)
        meta = self._tables["meta"]
        row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            # Another process may create it first: a savepoint keeps the transaction usable.
            with contextlib.suppress(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row[0]) > SCHEMA_VERSION:
            raise ValueError(
                f"storage {self.url!r} has schema version {row[0]}, newer than this hyperdial's {SCHEMA_VERSION}; "
                "upgrade hyperdial"
            )

    def close(self) -> None:
        self._engine.dispose()

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    def _server_now(self) -> Any:
        sa = self._sa
        if self._dialect == "postgresql":
            return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Double)
        return sa.cast(sa.func.unix_timestamp(sa.func.now(6)), sa.Double)

    def now(self) -> float:
        with self._engine.connect() as conn:
            return float(conn.execute(self._sa.select(self._server_now())).scalar())

    # Heartbeats are stamped by the database server's clock, so workers' clocks never matter.
    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        hb = self._tables["heartbeats"]
        with self._engine.begin() as conn:
            conn.execute(hb.delete().where(hb.c.study_id == study_id, hb.c.number.in_(list(numbers))))
            for n in numbers:
                conn.execute(hb.insert().values(study_id=study_id, number=n, worker=worker, ts=self._server_now()))

    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        sa = self._sa
        hb, tr = self._tables["heartbeats"], self._tables["trials"]
        q = (
            sa.select(hb.c.number)
            .join(tr, sa.and_(tr.c.study_id == hb.c.study_id, tr.c.number == hb.c.number))
            .where(
                hb.c.study_id == study_id,
                hb.c.ts < self._server_now() - grace,
                tr.c.state.in_([int(TrialState.RUNNING), int(TrialState.PAUSED)]),
            )
            .order_by(hb.c.number)
        )
        with self._engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(q).all()]

    # -- studies ----------------------------------------------------------------------------------
    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        sa, studies = self._sa, self._tables["studies"]
        created = time.time()
        try:
            with self._engine.begin() as conn:
                res = conn.execute(
                    studies.insert().values(
                        name=name, directions=json.dumps(list(directions)), created=created, last_seq=0, next_number=0
                    )
                )
                sid = int(res.inserted_primary_key[0])
        except sa.exc.IntegrityError:
            raise DuplicateStudyError(f"a study named {name!r} already exists in {self.url}") from None
        return StudyInfo(sid, name, tuple(directions), created)

    def get_study(self, name: str) -> StudyInfo | None:
        studies = self._tables["studies"]
        with self._engine.connect() as conn:
            row = conn.execute(
                self._sa.select(studies.c.id, studies.c.directions, studies.c.created).where(studies.c.name == name)
            ).first()
        if row is None:
            return None
        return StudyInfo(int(row[0]), name, tuple(json.loads(row[1])), float(row[2]))

    def list_studies(self) -> list[StudySummary]:
        s = self._tables["studies"]
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._sa.select(s.c.name, s.c.directions, s.c.next_number, s.c.created).order_by(s.c.id)
            ).all()
        return [StudySummary(r[0], tuple(json.loads(r[1])), int(r[2]), float(r[3])) for r in rows]

    def delete_study(self, name: str) -> None:
        info = self.get_study(name)
        if info is None:
            raise KeyError(name)
        with self._engine.begin() as conn:
            for key in ("events", "trials", "claims", "blobs", "heartbeats"):
                t = self._tables[key]
                conn.execute(t.delete().where(t.c.study_id == info.id))
            s = self._tables["studies"]
            conn.execute(s.delete().where(s.c.id == info.id))

    # -- the log ------------------------------------------------------------------------------------
    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        sa = self._sa
        s, tr, ev, cl = (self._tables[k] for k in ("studies", "trials", "events", "claims"))
        n_new = sum(1 for e in events if e.kind == EventKind.CREATE and e.number is None)
        payloads = [encode_payload(e) for e in events]
        numbers: list[int] = []
        try:
            with self._engine.begin() as conn:
                if self._dialect == "postgresql":
                    # One statement locks the study's row and takes the numbers.
                    row = conn.execute(
                        s.update()
                        .where(s.c.id == study_id)
                        .values(last_seq=s.c.last_seq + len(events), next_number=s.c.next_number + n_new)
                        .returning(s.c.last_seq - len(events), s.c.next_number - n_new)
                    ).first()
                else:
                    row = conn.execute(
                        sa.select(s.c.last_seq, s.c.next_number).where(s.c.id == study_id).with_for_update()
                    ).first()
                if row is None:
                    raise KeyError(f"no study with id {study_id} in {self.url}")
                last_seq, next_number = int(row[0]), int(row[1])
                for pre in require:
                    if isinstance(pre, StateIn):
                        st = conn.execute(
                            sa.select(tr.c.state).where(tr.c.study_id == study_id, tr.c.number == pre.number)
                        ).scalar()
                        if st is None:
                            raise PreconditionFailed(pre, f"trial {pre.number} does not exist")
                        if st not in pre.states:
                            raise PreconditionFailed(pre, f"trial {pre.number} is {TrialState(st).name}")
                    elif isinstance(pre, MaxTrials):
                        if next_number + n_new > pre.limit:
                            raise PreconditionFailed(pre, f"the study holds {next_number} trials")
                    elif not isinstance(pre, Claim):
                        raise TypeError(f"unknown precondition {pre!r}")
                rows, trial_rows = [], []
                number = next_number
                for i, (e, payload) in enumerate(zip(events, payloads)):
                    if e.kind == EventKind.CREATE:
                        if e.number is None:
                            e.number = number
                            numbers.append(number)
                            number += 1
                        trial_rows.append({"study_id": study_id, "number": e.number, "state": int(e.data["state"])})
                    elif e.kind == EventKind.STATE:
                        conn.execute(
                            tr.update()
                            .where(tr.c.study_id == study_id, tr.c.number == e.number)
                            .values(state=int(e.data["state"]))
                        )
                    rows.append(
                        {
                            "study_id": study_id,
                            "seq": last_seq + i + 1,
                            "number": -1 if e.number is None else e.number,
                            "kind": int(e.kind),
                            "ts": e.time,
                            "payload": payload,
                        }
                    )
                if trial_rows:
                    conn.execute(tr.insert(), trial_rows)
                owner = numbers[0] if numbers else next((e.number for e in events if e.number is not None), -1)
                for pre in require:
                    if isinstance(pre, Claim):
                        try:
                            with conn.begin_nested():
                                conn.execute(cl.insert().values(study_id=study_id, key=pre.key, number=owner))
                        except sa.exc.IntegrityError:
                            raise PreconditionFailed(pre, "already claimed") from None
                conn.execute(ev.insert(), rows)
                if self._dialect != "postgresql":
                    conn.execute(
                        s.update()
                        .where(s.c.id == study_id)
                        .values(last_seq=last_seq + len(events), next_number=next_number + n_new)
                    )
        except BaseException:
            for e in events:
                if e.kind == EventKind.CREATE and e.number in numbers:
                    e.number = None
            raise
        return numbers

    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        ev = self._tables["events"]
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._sa.select(ev.c.seq, ev.c.number, ev.c.kind, ev.c.ts, ev.c.payload)
                .where(ev.c.study_id == study_id, ev.c.seq > after)
                .order_by(ev.c.seq)
            ).all()
        return [
            (int(seq), Event(_KINDS[int(kind)], int(num), decode_payload(p), float(ts)))
            for seq, num, kind, ts, p in rows
        ]

    # -- side tables ----------------------------------------------------------------------------------
    def get_blob(self, study_id: int, key: str) -> bytes | None:
        b = self._tables["blobs"]
        with self._engine.connect() as conn:
            v = conn.execute(self._sa.select(b.c.value).where(b.c.study_id == study_id, b.c.key == key)).scalar()
        return None if v is None else bytes(v)

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        b = self._tables["blobs"]
        with self._engine.begin() as conn:
            conn.execute(b.delete().where(b.c.study_id == study_id, b.c.key == key))
            if value is not None:
                conn.execute(b.insert().values(study_id=study_id, key=key, value=bytes(value), updated=time.time()))
