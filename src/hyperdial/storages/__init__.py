"""Storages: where studies live. ``get_storage`` turns a URL into one.

* ``None`` or ``"memory"``: :class:`InMemoryStorage` (this process only).
* ``"sqlite:///study.db"`` (or a path ending in ``.db``): :class:`SQLiteStorage`.
* ``"postgresql://user@host/db"``, ``"mysql://user:pw@host/db"``: :class:`SQLStorage` (extras
  ``postgres`` / ``mysql``), for studies shared by many machines.
* ``"journal:///study.log"``: :class:`JournalFileStorage`, a file of JSON lines locked with
  ``fcntl``, for machines that share a file system (NFS) but no database server.
"""

from __future__ import annotations

from hyperdial.storages.base import (
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
from hyperdial.storages.journal import JournalFileStorage
from hyperdial.storages.memory import InMemoryStorage
from hyperdial.storages.sqlite import SQLiteStorage

__all__ = [
    "Claim",
    "DuplicateStudyError",
    "Event",
    "EventKind",
    "InMemoryStorage",
    "JournalFileStorage",
    "MaxTrials",
    "Precondition",
    "PreconditionFailed",
    "SQLiteStorage",
    "StateIn",
    "Storage",
    "StudyInfo",
    "StudySummary",
    "get_storage",
]


def get_storage(storage: str | Storage | None) -> Storage:
    """Return a :class:`Storage` for a URL, a path, or an existing storage object.

    Raises:
        ValueError: the URL's scheme is unknown or the storage cannot be opened.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if not isinstance(storage, str):
        raise TypeError(f"storage must be a URL string or a Storage, got {type(storage).__name__}")
    url = storage.strip()
    if url in ("memory", "memory://", ":memory:"):
        return InMemoryStorage()
    if url.startswith("sqlite:"):
        return SQLiteStorage(url)
    if url.startswith("journal:"):
        return JournalFileStorage(url)
    scheme = url.split("://", 1)[0].split("+")[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres", "mysql", "mariadb"):
        from hyperdial.storages.sql import SQLStorage

        return SQLStorage(url)
    if url.endswith((".db", ".sqlite", ".sqlite3")) and "://" not in url:
        return SQLiteStorage(f"sqlite:///{url}")
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ValueError(
        f"storage {storage!r}: unknown scheme {scheme!r}; use 'memory', 'sqlite:///path/to/study.db', "
        "a path ending in .db, 'journal:///path/to/study.log', 'postgresql://user@host/db' or "
        "'mysql://user:password@host/db'"
    )
