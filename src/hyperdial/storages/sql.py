"""PostgreSQL and MySQL / MariaDB storage through SQLAlchemy: one study shared by many machines.

The same event-log design as the SQLite file (see :mod:`hyperdial.storages.base`):

* an append locks the study's row and takes the next sequence numbers and trial numbers
  from it inside the same transaction, so appends to one study are serialised and the
  sequence order is the commit order: a reader asking for "everything after position p"
  never skips an event that committed late (a plain auto-increment id does not guarantee
  that on PostgreSQL);
* preconditions (trial state, claims, a cap on trials) are checked in that transaction;
* blobs (snapshots, checkpoints, sampler caches) live in their own table.

Round trips, the cost that matters with a server: on PostgreSQL an append is **one**
statement, a call of the PL/pgSQL function ``hyperdial_append_v1`` that runs as its own
transaction (lock the study row and take the numbers with ``UPDATE ... RETURNING``, check
the preconditions, insert the trial, claim and event rows, and return the events the
caller has not seen yet, so the write and the refreshed view come back together:
:meth:`SQLStorage.append_read`). Each statement inside the function takes a fresh snapshot
after the row lock is held, so a precondition sees every append that committed before.
A failed precondition raises inside the function and rolls the whole call back. Reads,
heartbeats (one upsert) and the other single statements run in autocommit mode, one round
trip each instead of BEGIN / statement / ROLLBACK. MySQL / MariaDB keep an explicit
transaction (``SELECT ... FOR UPDATE``) for appends.

URLs: ``postgresql://user@host:5432/db`` (driver psycopg 3), ``mysql://user:pw@host/db``
(driver PyMySQL); explicit ``postgresql+psycopg2://`` or ``mysql+mysqldb://`` also work.
Install with ``pip install 'hyperdial[postgres]'`` or ``'hyperdial[mysql]'``.
"""

from __future__ import annotations

import contextlib
import json
import logging
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

logger = logging.getLogger("hyperdial")

# SQLSTATE raised by hyperdial_append_v1 when a precondition fails ("<index>|<detail>") or the study is missing.
_PRECONDITION_SQLSTATE = "HD001"
_NO_STUDY_SQLSTATE = "HD002"
_APPEND_FUNCTION = "hyperdial_append_v1"  # a new version gets a new name: old clients keep theirs

_PG_APPEND = """
CREATE OR REPLACE FUNCTION hyperdial_append_v1(
    p_study integer, p_after bigint, p_kinds smallint[], p_numbers bigint[], p_ts double precision[],
    p_payloads text[], p_states smallint[], p_pre_numbers bigint[], p_pre_masks integer[],
    p_claims text[], p_max_trials bigint)
RETURNS TABLE (o_seq bigint, o_number bigint, o_kind smallint, o_ts double precision, o_payload text)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    n integer := coalesce(array_length(p_kinds, 1), 0);
    n_new integer := 0;
    v_last bigint;
    v_next bigint;
    v_state smallint;
    v_owner bigint := NULL;
    v_rows integer;
    nums bigint[] := p_numbers;
    k integer := 0;
BEGIN
    FOR i IN 1..n LOOP
        IF p_kinds[i] = 1 AND p_numbers[i] IS NULL THEN n_new := n_new + 1; END IF;
    END LOOP;
    -- Locks the study's row until commit: appends to one study are serialised here.
    UPDATE hyperdial_studies s SET last_seq = s.last_seq + n, next_number = s.next_number + n_new
        WHERE s.id = p_study RETURNING s.last_seq - n, s.next_number - n_new INTO v_last, v_next;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'HD002', MESSAGE = format('no study with id %s', p_study);
    END IF;
    -- Each statement below sees every append committed before the lock was granted.
    FOR i IN 1..coalesce(array_length(p_pre_numbers, 1), 0) LOOP
        SELECT t.state INTO v_state FROM hyperdial_trials t
            WHERE t.study_id = p_study AND t.number = p_pre_numbers[i];
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'HD001',
                MESSAGE = format('%s|trial %s does not exist', i - 1, p_pre_numbers[i]);
        END IF;
        IF (p_pre_masks[i] >> v_state) & 1 = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'HD001', MESSAGE = format('%s|state:%s', i - 1, v_state);
        END IF;
    END LOOP;
    IF p_max_trials IS NOT NULL AND v_next + n_new > p_max_trials THEN
        RAISE EXCEPTION USING ERRCODE = 'HD001', MESSAGE = format('max|the study holds %s trials', v_next);
    END IF;
    FOR i IN 1..n LOOP
        IF p_kinds[i] = 1 AND p_numbers[i] IS NULL THEN
            nums[i] := v_next + k;
            k := k + 1;
            IF v_owner IS NULL THEN v_owner := nums[i]; END IF;
        END IF;
    END LOOP;
    IF v_owner IS NULL THEN
        SELECT x INTO v_owner FROM unnest(nums) AS x WHERE x IS NOT NULL LIMIT 1;
    END IF;
    INSERT INTO hyperdial_trials (study_id, number, state)
        SELECT p_study, nums[i], p_states[i] FROM generate_subscripts(p_kinds, 1) AS i WHERE p_kinds[i] = 1;
    FOR i IN 1..n LOOP
        IF p_kinds[i] = 5 THEN
            UPDATE hyperdial_trials t SET state = p_states[i] WHERE t.study_id = p_study AND t.number = nums[i];
        END IF;
    END LOOP;
    FOR i IN 1..coalesce(array_length(p_claims, 1), 0) LOOP
        INSERT INTO hyperdial_claims (study_id, key, number) VALUES (p_study, p_claims[i], coalesce(v_owner, -1))
            ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'HD001', MESSAGE = format('claim%s|already claimed', i - 1);
        END IF;
    END LOOP;
    INSERT INTO hyperdial_events (study_id, seq, number, kind, ts, payload)
        SELECT p_study, v_last + i, coalesce(nums[i], -1), p_kinds[i], p_ts[i], p_payloads[i]
        FROM generate_subscripts(p_kinds, 1) AS i;
    RETURN QUERY SELECT e.seq, e.number, e.kind, e.ts, e.payload FROM hyperdial_events e
        WHERE e.study_id = p_study AND e.seq > least(coalesce(p_after, v_last), v_last) ORDER BY e.seq;
END
$fn$
"""

_READ = "SELECT seq, number, kind, ts, payload FROM hyperdial_events WHERE study_id = %s AND seq > %s ORDER BY seq"

_PG_CALL = (
    "SELECT o_seq, o_number, o_kind, o_ts, o_payload FROM hyperdial_append_v1("
    "%s, %s, %s::smallint[], %s::bigint[], %s::double precision[], %s::text[], %s::smallint[], "
    "%s::bigint[], %s::integer[], %s::text[], %s)"
)


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
        self._one_statement = False  # appends through hyperdial_append_v1 (PostgreSQL, once it exists)
        driver = "psycopg" if self._dialect == "postgresql" else "pymysql"
        if "+" not in url.split("://")[0]:
            require(driver, extra)
        try:
            # No pre-ping (a round trip per checkout); stale connections are recycled instead.
            self._engine = sa.create_engine(sa_url, pool_size=pool_size, pool_recycle=1800, future=True)
            # Single statements need no BEGIN / ROLLBACK around them: one round trip each.
            self._auto = self._engine.execution_options(isolation_level="AUTOCOMMIT")
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
        if self._dialect == "postgresql":
            # Serialise schema creators until this transaction ends: two processes opening a new
            # database at once would otherwise both CREATE TABLE and one fails on pg_type's index.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7283461)"))
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
        if self._dialect == "postgresql":
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_proc WHERE proname = :name"), {"name": _APPEND_FUNCTION}
            ).first()
            self._one_statement = True
            if exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.text(_PG_APPEND))  # under the schema lock taken above
                except sa.exc.ProgrammingError as exc:  # e.g. no right to create functions in this schema
                    self._one_statement = False
                    logger.warning(
                        "storage %s: cannot create %s (%s); appends use a transaction of several statements",
                        self.url,
                        _APPEND_FUNCTION,
                        getattr(exc, "orig", exc),
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
        with self._auto.connect() as conn:
            return float(conn.execute(self._sa.select(self._server_now())).scalar())

    # Heartbeats are stamped by the database server's clock, so workers' clocks never matter.
    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        if not numbers:
            return
        hb = self._tables["heartbeats"]
        rows = [{"study_id": study_id, "number": int(n), "worker": worker} for n in numbers]
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            stmt = insert(hb).values([{**r, "ts": self._server_now()} for r in rows])
            stmt = stmt.on_conflict_do_update(
                index_elements=[hb.c.study_id, hb.c.number],
                set_={"ts": stmt.excluded.ts, "worker": stmt.excluded.worker},
            )
        else:
            from sqlalchemy.dialects.mysql import insert

            stmt = insert(hb).values([{**r, "ts": self._server_now()} for r in rows])
            stmt = stmt.on_duplicate_key_update(ts=stmt.inserted.ts, worker=stmt.inserted.worker)
        with self._auto.connect() as conn:  # one statement, one round trip
            conn.execute(stmt)

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
        with self._auto.connect() as conn:
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
        with self._auto.connect() as conn:
            row = conn.execute(
                self._sa.select(studies.c.id, studies.c.directions, studies.c.created).where(studies.c.name == name)
            ).first()
        if row is None:
            return None
        return StudyInfo(int(row[0]), name, tuple(json.loads(row[1])), float(row[2]))

    def list_studies(self) -> list[StudySummary]:
        s = self._tables["studies"]
        with self._auto.connect() as conn:
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
        if self._one_statement:
            return self._append_pg(study_id, events, require, None)[0]
        return self._append_tx(study_id, events, require)

    def append_read(
        self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = (), *, after: int
    ) -> tuple[list[int], list[tuple[int, Event]]]:
        if self._one_statement:
            return self._append_pg(study_id, events, require, int(after))
        return super().append_read(study_id, events, require, after=after)

    def _append_pg(
        self, study_id: int, events: Sequence[Event], require: Sequence[Precondition], after: int | None
    ) -> tuple[list[int], list[tuple[int, Event]]]:
        """One round trip: the append function returns the events after ``after`` (ours at the end)."""
        if not events:
            return [], ([] if after is None else self.read(study_id, after))
        pre_numbers, pre_masks, pre_index, claims, claim_index = [], [], [], [], []
        cap: MaxTrials | None = None
        for pre in require:
            if isinstance(pre, StateIn):
                pre_index.append(pre)
                pre_numbers.append(int(pre.number))
                pre_masks.append(sum(1 << int(st) for st in set(pre.states)))
            elif isinstance(pre, Claim):
                claim_index.append(pre)
                claims.append(pre.key)
            elif isinstance(pre, MaxTrials):
                if cap is None or pre.limit < cap.limit:
                    cap = pre
            else:
                raise TypeError(f"unknown precondition {pre!r}")
        kinds, numbers_in, stamps, payloads, states = [], [], [], [], []
        for e in events:
            kinds.append(int(e.kind))
            numbers_in.append(e.number)
            stamps.append(float(e.time))
            payloads.append(encode_payload(e))
            states.append(int(e.data["state"]) if e.kind in (EventKind.CREATE, EventKind.STATE) else None)
        params = (
            study_id, after, kinds, numbers_in, stamps, payloads, states,
            pre_numbers, pre_masks, claims, None if cap is None else int(cap.limit),
        )  # fmt: skip
        sa = self._sa
        try:
            with self._auto.connect() as conn:
                rows = conn.exec_driver_sql(_PG_CALL, params).all()
        except sa.exc.DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code == _NO_STUDY_SQLSTATE:
                raise KeyError(f"no study with id {study_id} in {self.url}") from None
            if code != _PRECONDITION_SQLSTATE:
                raise
            diag = getattr(exc.orig, "diag", None)
            where, _, detail = str(getattr(diag, "message_primary", "") or "").partition("|")
            if where == "max" and cap is not None:
                raise PreconditionFailed(cap, detail) from None
            if where.startswith("claim"):
                raise PreconditionFailed(claim_index[int(where[5:])], detail) from None
            pre = pre_index[int(where)]
            if detail.startswith("state:"):
                detail = f"trial {pre.number} is {TrialState(int(detail[6:])).name}"
            raise PreconditionFailed(pre, detail) from None
        out = [
            (int(seq), Event(_KINDS[int(kind)], int(num), decode_payload(p), float(ts)))
            for seq, num, kind, ts, p in rows
        ]
        numbers = []
        for e, (_, stored) in zip(events, out[len(out) - len(events) :]):
            if e.kind == EventKind.CREATE and e.number is None:
                e.number = stored.number
                numbers.append(stored.number)
        return numbers, out

    def _append_tx(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
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
        # A fixed driver-level statement: the hottest read skips SQLAlchemy's compilation (~0.2 ms a call).
        with self._auto.connect() as conn:
            rows = conn.exec_driver_sql(_READ, (int(study_id), int(after))).all()
        return [
            (int(seq), Event(_KINDS[int(kind)], int(num), decode_payload(p), float(ts)))
            for seq, num, kind, ts, p in rows
        ]

    # -- side tables ----------------------------------------------------------------------------------
    def get_blob(self, study_id: int, key: str) -> bytes | None:
        b = self._tables["blobs"]
        with self._auto.connect() as conn:
            v = conn.execute(self._sa.select(b.c.value).where(b.c.study_id == study_id, b.c.key == key)).scalar()
        return None if v is None else bytes(v)

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        b = self._tables["blobs"]
        with self._auto.connect() as conn:
            if value is None:
                conn.execute(b.delete().where(b.c.study_id == study_id, b.c.key == key))
                return
            # One upsert: a delete-then-insert pair races with another writer of the same key.
            row = {"study_id": study_id, "key": key, "value": bytes(value), "updated": time.time()}
            if self._dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert

                stmt = insert(b).values(row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[b.c.study_id, b.c.key],
                    set_={"value": stmt.excluded.value, "updated": stmt.excluded.updated},
                )
            else:
                from sqlalchemy.dialects.mysql import insert

                stmt = insert(b).values(row)
                stmt = stmt.on_duplicate_key_update(value=stmt.inserted.value, updated=stmt.inserted.updated)
            conn.execute(stmt)
