"""A journal file: an append-only file of JSON lines that several processes or machines share.

For clusters without a database server but with a shared file system (NFS, Lustre, a
mounted volume): every process appends one line per write and replays the lines the
others wrote, so each keeps the whole log in memory and catches up incrementally.

* Every write takes an exclusive POSIX lock on the file (``fcntl.lockf``, which NFS
  forwards to the server's lock manager, unlike ``flock`` on older kernels), reads the
  lines written since its last look, checks the append's preconditions against that
  up-to-date state, and writes one line with a single ``write`` call; nothing is written
  when a precondition fails. The order of lines is the commit order, so sequence and
  trial numbers follow from it and are the same in every process.
* Readers take a shared lock and consume complete lines only. A line cut short by a
  writer killed mid-``write`` is closed by the next writer and then skipped (with a
  warning) by every reader; the lines before and after it stay intact.
* Heartbeats are the modification times of small files beside the journal
  (``<file>.heartbeats/``); on NFS the server stamps them, so workers' clocks never matter
  (:meth:`JournalFileStorage.now` reads the same clock).

URL: ``journal:///relative/path.log`` or ``journal:////absolute/path.log`` (the same
slash convention as SQLite URLs); ``?fsync=true`` makes each write wait for the disk so
it also survives a power loss (a crashed process never loses a committed write either way).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

from hyperdial.storages.base import (
    SCHEMA_VERSION,
    DuplicateStudyError,
    Event,
    EventKind,
    Precondition,
    Storage,
    StudyInfo,
    StudySummary,
    check_held_log,
)
from hyperdial.storages.sqlite import _dist_from_key
from hyperdial.trial import TrialState

__all__ = ["JournalFileStorage"]

logger = logging.getLogger("hyperdial")

_KINDS = {int(k): k for k in EventKind}
_LIVE = (TrialState.RUNNING, TrialState.PAUSED)


def parse_journal_url(url: str) -> tuple[str, dict[str, str]]:
    """``journal:///relative.log``, ``journal:////abs/path.log``; options after ``?``."""
    if url.startswith("journal:///"):
        rest = url[len("journal:///") :]
    elif url.startswith("journal://"):
        rest = url[len("journal://") :]
    else:
        raise ValueError(f"storage {url!r}: a journal URL starts with journal:/// (e.g. journal:///study.log)")
    path, _, query = rest.partition("?")
    return unquote(path), {k: v[-1] for k, v in parse_qs(query).items()}


class _Study:
    __slots__ = ("info", "events", "states", "claims", "blobs")

    def __init__(self, info: StudyInfo) -> None:
        self.info = info
        self.events: list[tuple[int, Event]] = []
        self.states: list[TrialState] = []
        self.claims: dict[str, int] = {}
        self.blobs: dict[str, bytes] = {}


class _SharedFile:
    """One descriptor and one thread lock per file and process.

    POSIX locks belong to a process, and closing *any* descriptor of a file drops all of
    the process's locks on it, so every storage object of this process that opens the
    same file shares this one descriptor, and threads queue on ``mutex`` first. The
    descriptor is closed when the last storage object using it is closed.
    """

    _registry: dict[tuple[int, str], _SharedFile] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str, key: tuple[int, str]) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.mutex = threading.RLock()
        self.key = key
        self.users = 0

    @classmethod
    def release(cls, f: _SharedFile) -> None:
        # The mutex first: no thread of this process holds the file lock while it is closed, and
        # a new descriptor for the path can only be opened once this one is gone.
        with f.mutex, cls._registry_lock:
            f.users -= 1
            if f.users > 0:
                return
            if cls._registry.get(f.key) is f:
                del cls._registry[f.key]
            os.close(f.fd)
            f.fd = -1

    @classmethod
    def get(cls, path: str) -> _SharedFile:
        key = (os.getpid(), path)  # a forked child opens its own descriptor and lock
        with cls._registry_lock:
            f = cls._registry.get(key)
            if f is not None:
                try:
                    same = os.stat(path).st_ino == os.fstat(f.fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the file was removed or replaced: the old descriptor points elsewhere
                    f = None
            if f is None:
                f = cls._registry[key] = cls(path, key)
            f.users += 1
            return f


class JournalFileStorage(Storage):
    """The event log as a file of JSON lines, locked with ``fcntl`` for shared file systems.

    Each process keeps the whole log in memory (like :class:`InMemoryStorage`) and reads
    only what was appended since its last look, so a call costs a lock, a ``stat`` and the
    new bytes. Use it where several machines share a file system but no database server;
    prefer SQLite on one machine and PostgreSQL for many busy workers.

    Args:
        url: ``journal:///path/to/study.log``; option ``fsync`` (``true`` / ``false``, default
            ``false``) after ``?``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "study.log")
        >>> storage = JournalFileStorage(f"journal:///{path}")
        >>> storage.create_study("demo", ["minimize"]).name
        'demo'
    """

    #: The log is replayed in full by every process anyway: a snapshot would not save reading it.
    snapshots = False

    def __init__(self, url: str) -> None:
        self.url = url
        path, opts = parse_journal_url(url)
        if not path:
            raise ValueError(f"storage {url!r}: no file path; write journal:///study.log")
        unknown = set(opts) - {"fsync"}
        if unknown:
            raise ValueError(f"storage {url!r}: unknown option(s) {sorted(unknown)}; allowed: fsync")
        fsync = opts.get("fsync", "false").lower()
        if fsync not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"storage {url!r}: fsync must be true or false, got {fsync!r}")
        self.fsync = fsync in ("true", "1", "yes")
        self.path = os.path.abspath(path)
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise ValueError(f"storage {url!r} cannot be opened: the folder {parent!r} does not exist; create it first")
        if os.path.isdir(self.path):
            raise ValueError(f"storage {url!r} cannot be opened: {self.path!r} is a folder, not a file")
        self._beats_dir = self.path + ".heartbeats"
        self._reset()
        try:
            with self._locked(exclusive=True):
                if self._offset == 0 and os.fstat(self._fd).st_size == 0:
                    self._write([{"op": "header", "format": "hyperdial-journal", "schema": SCHEMA_VERSION}])
        except OSError as exc:
            raise ValueError(f"storage {url!r} cannot be opened: {exc}") from None

    def _reset(self) -> None:
        self._file: _SharedFile | None = _SharedFile.get(self.path)
        self._fd = -1
        self._pid = os.getpid()
        self._offset = 0  # bytes of the file replayed so far
        self._tail = b""  # bytes of an unfinished line after the last newline
        self._studies: dict[int, _Study] = {}
        self._names: dict[str, int] = {}
        self._next_id = 1
        self._bad_lines = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    # -- the file ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        if self._pid != os.getpid():  # forked: replay afresh through this process's own descriptor
            self._reset()
        while True:
            f = self._file
            if f is None:  # closed: reopen, and carry on from the position already replayed
                f = self._file = _SharedFile.get(self.path)
            f.mutex.acquire()
            if f.fd >= 0:
                break
            f.mutex.release()  # closed by another thread meanwhile
            if self._file is f:
                self._file = None
        try:
            try:
                fcntl.lockf(f.fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            except OSError as exc:
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise OSError(
                        exc.errno,
                        f"journal {self.path!r}: this file system does not support fcntl locks ({exc.strerror}); "
                        "on NFS run the lock manager (rpc.statd / lockd) or use NFSv4, or use a database storage",
                    ) from None
                raise
            self._fd = f.fd
            try:
                self._catch_up()
                yield
            finally:
                fcntl.lockf(f.fd, fcntl.LOCK_UN)
        finally:
            f.mutex.release()

    def _catch_up(self) -> None:
        fd = self._fd
        size = os.fstat(fd).st_size
        if size < self._offset:
            raise RuntimeError(
                f"journal {self.path!r} shrank from {self._offset} to {size} bytes; it was truncated or "
                "replaced while in use. Restore it, or open the storage again to start from the new file"
            )
        if size == self._offset:
            return
        chunks = []
        pos = self._offset
        while pos < size:
            chunk = os.pread(fd, size - pos, pos)
            if not chunk:
                break
            chunks.append(chunk)
            pos += len(chunk)
        data = self._tail + b"".join(chunks)
        end = data.rfind(b"\n")
        self._offset = pos
        if end < 0:
            self._tail = data
            return
        self._tail = data[end + 1 :]
        for line in data[:end].split(b"\n"):
            if line:
                self._apply_line(line)

    def _apply_line(self, line: bytes) -> None:
        try:
            rec = json.loads(line)
            self._apply(rec)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            # A line cut short by a killed writer (closed by the next one): it never committed.
            self._bad_lines += 1
            logger.warning("journal %s: skipping an unreadable line (%s): %.80r", self.path, exc, line)

    def _write(self, records: list[dict[str, Any]]) -> None:
        """Append records (the exclusive lock is held and the state is caught up)."""
        fd = self._fd
        prefix = b""
        if self._tail:  # a line left unfinished by a killed writer: close it so it stays one bad line
            prefix = b"\n"
        data = prefix + b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
            if self.fsync:
                os.fsync(fd)
        except OSError:
            if written:
                # Part of the line reached the file; it ends without a newline and is skipped by everyone.
                logger.warning("journal %s: a write failed after %d of %d bytes", self.path, written, len(data))
            raise
        # Replay what was just written, through the same path as every other process.
        self._catch_up()

    # -- replay ---------------------------------------------------------------------------------
    def _apply(self, rec: dict[str, Any]) -> None:
        op = rec["op"]
        if op == "append":
            log = self._studies.get(rec["s"])
            if log is None:
                return  # a write to a study deleted meanwhile
            seq = len(log.events)
            for kind, number, ts, data in rec["e"]:
                dists = data.get("dists")
                if dists:
                    data["dists"] = {n: _dist_from_key(k) for n, k in dists.items()}
                ev = Event(_KINDS[kind], number, data, ts)
                if ev.kind == EventKind.CREATE:
                    log.states.append(TrialState(data["state"]))
                elif ev.kind == EventKind.STATE:
                    log.states[number] = TrialState(data["state"])
                seq += 1
                log.events.append((seq, ev))
            for key, owner in rec.get("c", ()):
                log.claims[key] = owner
        elif op == "create":
            sid = int(rec["id"])
            info = StudyInfo(sid, rec["name"], tuple(rec["dirs"]), float(rec["t"]))
            self._studies[sid] = _Study(info)
            self._names[info.name] = sid
            self._next_id = max(self._next_id, sid + 1)
        elif op == "delete":
            log = self._studies.pop(rec["s"], None)
            if log is not None:
                self._names.pop(log.info.name, None)
        elif op == "blob":
            log = self._studies.get(rec["s"])
            if log is not None:
                if rec["v"] is None:
                    log.blobs.pop(rec["k"], None)
                else:
                    log.blobs[rec["k"]] = base64.b64decode(rec["v"])
        elif op == "header":
            if int(rec.get("schema", 1)) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"journal {self.path!r} has schema version {rec['schema']}, newer than this hyperdial's "
                    f"{SCHEMA_VERSION}; upgrade hyperdial"
                )
        else:
            raise ValueError(f"unknown journal record {op!r}")

    def _log(self, study_id: int) -> _Study:
        try:
            return self._studies[study_id]
        except KeyError:
            raise KeyError(f"no study with id {study_id} in {self.url}") from None

    # -- studies --------------------------------------------------------------------------------
    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        with self._locked(exclusive=True):
            if name in self._names:
                raise DuplicateStudyError(f"a study named {name!r} already exists in {self.url}")
            sid = self._next_id
            self._write([{"op": "create", "id": sid, "name": name, "dirs": list(directions), "t": time.time()}])
            return self._studies[sid].info

    def get_study(self, name: str) -> StudyInfo | None:
        with self._locked(exclusive=False):
            sid = self._names.get(name)
            return None if sid is None else self._studies[sid].info

    def list_studies(self) -> list[StudySummary]:
        with self._locked(exclusive=False):
            return [
                StudySummary(s.info.name, s.info.directions, len(s.states), s.info.created)
                for s in sorted(self._studies.values(), key=lambda s: s.info.id)
            ]

    def delete_study(self, name: str) -> None:
        with self._locked(exclusive=True):
            sid = self._names.get(name)
            if sid is None:
                raise KeyError(name)
            self._write([{"op": "delete", "s": sid}])
        for path in self._beat_files(sid):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    # -- the log ---------------------------------------------------------------------------------
    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        # Encode before taking the lock: keep the critical section short.
        encoded = []
        for e in events:
            data = e.data
            dists = data.get("dists")
            if dists:
                data = dict(data)
                data["dists"] = {n: d.key for n, d in dists.items()}
            encoded.append([int(e.kind), e.number, e.time, data])
        with self._locked(exclusive=True):
            log = self._log(study_id)
            n_new = sum(1 for e in events if e.kind == EventKind.CREATE and e.number is None)
            claims = check_held_log(require, log.states, log.claims, n_new)
            numbers = []
            number = len(log.states)
            for enc, e in zip(encoded, events):
                if e.kind == EventKind.CREATE and e.number is None:
                    enc[1] = number
                    numbers.append(number)
                    number += 1
            owner = numbers[0] if numbers else next((e.number for e in events if e.number is not None), -1)
            rec: dict[str, Any] = {"op": "append", "s": study_id, "e": encoded}
            if claims:
                rec["c"] = [[key, owner] for key in claims]
            self._write([rec])
        it = iter(numbers)
        for e in events:  # numbered only once the line is written
            if e.kind == EventKind.CREATE and e.number is None:
                e.number = next(it)
        return numbers

    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        with self._locked(exclusive=False):
            return self._log(study_id).events[after:]

    # -- side values --------------------------------------------------------------------------------
    def get_blob(self, study_id: int, key: str) -> bytes | None:
        with self._locked(exclusive=False):
            return self._log(study_id).blobs.get(key)

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        if value is not None and not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"set_blob({key!r}): value must be bytes or None, got {type(value).__name__}")
        encoded = None if value is None else base64.b64encode(bytes(value)).decode("ascii")
        with self._locked(exclusive=True):
            self._log(study_id)
            self._write([{"op": "blob", "s": study_id, "k": key, "v": encoded}])

    # Heartbeats are file modification times: stamped by the file server's clock on NFS.
    def _beat_file(self, study_id: int, number: int) -> str:
        return os.path.join(self._beats_dir, f"{study_id}-{number}")

    def _beat_files(self, study_id: int) -> list[str]:
        prefix = f"{study_id}-"
        try:
            names = os.listdir(self._beats_dir)
        except FileNotFoundError:
            return []
        return [os.path.join(self._beats_dir, n) for n in names if n.startswith(prefix)]

    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        os.makedirs(self._beats_dir, exist_ok=True)
        payload = worker.encode()
        for n in numbers:
            path = self._beat_file(study_id, int(n))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, payload)  # the write sets the modification time to the server's "now"
            finally:
                os.close(fd)

    def now(self) -> float:
        """The file system's clock: the modification time of a file touched just now."""
        os.makedirs(self._beats_dir, exist_ok=True)
        path = os.path.join(self._beats_dir, f"clock-{os.getpid()}-{threading.get_ident()}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b".")
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        with self._locked(exclusive=False):
            states = list(self._log(study_id).states)
        files = self._beat_files(study_id)
        if not files:
            return []
        limit = self.now() - grace
        stale = []
        for path in files:
            number = int(path.rsplit("-", 1)[1])
            try:
                mtime = os.stat(path).st_mtime
            except FileNotFoundError:
                continue
            if number >= len(states):
                continue  # written by a process that is ahead of this one: not ours to judge yet
            if states[number] in _LIVE:
                if mtime < limit:
                    stale.append(number)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # the trial finished: its heartbeat file is no longer needed
        return sorted(stale)

    def close(self) -> None:
        """Release this object's hold on the file; using it again reopens it and carries on."""
        f, self._file = self._file, None
        if f is not None and self._pid == os.getpid():
            _SharedFile.release(f)

    @property
    def unreadable_lines(self) -> int:
        """How many lines were skipped as unreadable (cut short by a writer that was killed)."""
        return self._bad_lines
