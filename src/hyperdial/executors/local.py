"""Running a study's trials on several workers: processes on this machine or any executor.

An in-memory study lives in the driver process; its storage is served to local
workers over a loopback socket (:class:`StorageServer`), so every report and pruning
question goes through the one storage the driver owns. File and server storages are
opened by each worker from their URL, which also works for workers on other machines.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from multiprocessing.managers import BaseManager
from typing import TYPE_CHECKING, Any

import cloudpickle

from hyperdial.executors.worker import WorkerSpec, worker_main
from hyperdial.storages import Event, EventKind, InMemoryStorage, Precondition, Storage, StudyInfo, StudySummary

if TYPE_CHECKING:
    from hyperdial._progress import ProgressBar
    from hyperdial.stopping import Stopper
    from hyperdial.study import Study
    from hyperdial.trial import FrozenTrial

__all__ = ["StorageServer", "connect_storage", "run_parallel"]

logger = logging.getLogger("hyperdial")

#: Seconds an interrupted driver waits for its workers to store their cancelled trials.
CANCEL_WAIT = 30.0

_EXPOSED = (
    "create_study",
    "get_study",
    "list_studies",
    "delete_study",
    "append",
    "append_read",
    "read",
    "get_blob",
    "set_blob",
    "heartbeat",
    "stale_trials",
)


class _ServerManager(BaseManager):
    pass


class _ClientManager(BaseManager):
    pass


_ClientManager.register("storage")


class StorageServer:
    """Serves a storage of this process to worker processes on this machine (authenticated).

    It listens on a Unix socket where there is one (over TCP loopback, each new
    connection's first exchanges wait on delayed acknowledgements, about 40 ms each).
    One server per storage object, started on first use and kept for the life of the
    process, so repeated ``optimize`` calls reuse it.
    """

    _servers: weakref.WeakKeyDictionary[Storage, StorageServer] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, storage: Storage) -> None:
        self.authkey = secrets.token_bytes(16)
        # address=None: a Unix socket in multiprocessing's own temporary folder (removed at exit)
        # where the platform has them, else a loopback TCP port.
        manager = _ServerManager(address=None, authkey=self.authkey)
        manager.register("storage", callable=lambda: storage, exposed=_EXPOSED)
        self._server = manager.get_server()
        self.address = self._server.address
        self._thread = threading.Thread(target=self._server.serve_forever, name="hyperdial-storage", daemon=True)
        self._thread.start()

    @classmethod
    def for_storage(cls, storage: Storage) -> StorageServer:
        with cls._lock:
            server = cls._servers.get(storage)
            if server is None:
                server = cls._servers[storage] = cls(storage)
            return server

    @property
    def spec(self) -> tuple[Any, bytes]:
        return (self.address, self.authkey)


class _RemoteStorage(Storage):
    """A storage served by another process's :class:`StorageServer`."""

    snapshots = False

    def __init__(self, address: Any, authkey: bytes) -> None:
        self.url = f"driver://{address}"
        manager = _ClientManager(address=address, authkey=authkey)
        manager.connect()
        self._proxy = manager.storage()

    def create_study(self, name: str, directions: Sequence[str]) -> StudyInfo:
        return self._proxy.create_study(name, list(directions))

    def get_study(self, name: str) -> StudyInfo | None:
        return self._proxy.get_study(name)

    def list_studies(self) -> list[StudySummary]:
        return self._proxy.list_studies()

    def delete_study(self, name: str) -> None:
        self._proxy.delete_study(name)

    def append(self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = ()) -> list[int]:
        numbers = self._proxy.append(study_id, list(events), list(require))
        # The server numbered its copies of the events; give this process's events the same numbers.
        it = iter(numbers)
        for e in events:
            if e.kind == EventKind.CREATE and e.number is None:
                e.number = next(it)
        return numbers

    def append_read(
        self, study_id: int, events: Sequence[Event], require: Sequence[Precondition] = (), *, after: int
    ) -> tuple[list[int], list[tuple[int, Event]]]:
        # One exchange with the driver instead of two (tell writes and refreshes its view).
        numbers, new = self._proxy.append_read(study_id, list(events), list(require), after=after)
        it = iter(numbers)
        for e in events:
            if e.kind == EventKind.CREATE and e.number is None:
                e.number = next(it)
        return numbers, new

    def read(self, study_id: int, after: int) -> list[tuple[int, Event]]:
        return self._proxy.read(study_id, after)

    def get_blob(self, study_id: int, key: str) -> bytes | None:
        return self._proxy.get_blob(study_id, key)

    def set_blob(self, study_id: int, key: str, value: bytes | None) -> None:
        self._proxy.set_blob(study_id, key, value)

    def heartbeat(self, study_id: int, numbers: Sequence[int], worker: str) -> None:
        self._proxy.heartbeat(study_id, list(numbers), worker)

    def stale_trials(self, study_id: int, grace: float) -> list[int]:
        return self._proxy.stale_trials(study_id, grace)


def connect_storage(address: Any, authkey: bytes) -> Storage:
    """A storage object that forwards every call to a :class:`StorageServer`."""
    return _RemoteStorage(address, authkey)


def _default_executor(n_jobs: int) -> Any:
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n_jobs, timeout=60)


def _executor_width(executor: Any) -> int:
    for attr in ("_max_workers", "max_workers"):
        n = getattr(executor, attr, None)
        if isinstance(n, int) and n > 0:
            return n
    client = getattr(executor, "_client", executor)  # a dask.distributed Client or its executor
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        return max(1, sum(nthreads().values()))
    return os.cpu_count() or 1


def run_parallel(
    study: Study,
    objective: Callable[..., Any],
    *,
    n_workers: int,
    executor: Any,
    n_trials: int | None,
    timeout: float | None,
    max_trials: int | None,
    catch: tuple[type[BaseException], ...],
    stoppers: Sequence[Stopper],
    callbacks: Sequence[Callable[[Study, FrozenTrial], None]],
    progress: ProgressBar,
    deterministic: int = 0,
) -> str | None:
    """Run workers until the budget is spent; callbacks and the progress bar run here in the driver.

    Returns the reason the run stopped, if one is known.
    """
    storage = study.storage
    remote = executor is not None and not _is_local_pool(executor)
    if isinstance(storage, InMemoryStorage):
        if remote:
            raise ValueError(
                "an in-memory study cannot be shared with workers on other machines; create it with a storage "
                "they can reach, e.g. storage='postgresql://...' (or 'sqlite:///study.db' for one machine)"
            )
        storage_spec: Any = StorageServer.for_storage(storage).spec
    else:
        storage_spec = storage.url
    h = study.sync()
    caps = [c for c in (max_trials, None if n_trials is None else len(h.trials) + n_trials) if c is not None]
    cap = min(caps) if caps else None
    token = uuid.uuid4().hex
    config = {
        "objective": objective,
        "sampler": study.sampler,
        "pruner": study.pruner,
        "catch": catch,
        "deterministic": deterministic,
        "constraints": (study.param_constraint, study.constraints_func, study.max_redraws),
    }
    payload = cloudpickle.dumps({**config, "stoppers": list(stoppers)})
    deadline = None if timeout is None else time.time() + timeout
    spec = WorkerSpec(storage_spec, study.name, study.seed, payload, cap, deadline, token)
    own_pool = executor is None
    pool = _default_executor(n_workers) if own_pool else _as_futures_executor(executor)
    finished_seen: set[int] = {t.number for t in h.trials if t.state.is_finished}
    finished_before = len(finished_seen)
    reason = None
    # Distinct arguments per worker: executors that cache by argument hash (Dask) must run each.
    futures: list[Future] = [pool.submit(worker_main, spec, i) for i in range(n_workers)]
    try:
        while True:
            done, pending = wait(futures, timeout=0.1, return_when=FIRST_EXCEPTION)
            h = study.sync()
            new = [t for t in h.trials if t.state.is_finished and t.number not in finished_seen]
            new.sort(key=lambda t: (t.finished or 0, t.number))
            for t in new:
                finished_seen.add(t.number)
                for cb in callbacks:
                    cb(study, t)
            if new and progress.enabled:
                best = h.best_trial if h.n_objectives == 1 else None
                progress.update(len(finished_seen) - finished_before, None if best is None else best.values[0])
            if study._stop_requested and h.system_attrs.get("stop") != token:
                study._set_system_attrs({"stop": token})
                reason = "study.stop() called"
            failed = [f for f in done if f.exception() is not None]
            if failed:
                study._set_system_attrs({"stop": token})
                for f in pending:
                    f.cancel()
                wait(pending)
                raise failed[0].exception()  # type: ignore[misc]
            if not pending:
                break
    except KeyboardInterrupt:
        # Cancel: workers interrupt their running objectives, store those trials as FAILED
        # (interrupted) and return; queued submissions are dropped. A second Ctrl-C stops waiting.
        study._set_system_attrs({"stop": token, "cancel": token})
        for f in futures:
            f.cancel()
        _, still = wait(futures, timeout=CANCEL_WAIT)
        if still:
            logger.warning(
                "%d worker(s) still running %s s after the cancel; their trials stay RUNNING until they finish "
                "(or, with heartbeats, until they are declared lost)",
                len(still),
                CANCEL_WAIT,
            )
        if own_pool:  # our processes: stop them now rather than leave them idle until the pool's timeout
            pool.shutdown(wait=not still, kill_workers=bool(still))
        raise
    study.sync()
    return reason


def _as_futures_executor(executor: Any) -> Any:
    """A dask.distributed Client returns its own futures; its get_executor() gives concurrent.futures ones."""
    if callable(getattr(executor, "get_executor", None)) and type(executor).__module__.startswith("distributed"):
        return executor.get_executor(pure=False)
    return executor


def _is_local_pool(executor: Any) -> bool:
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if isinstance(executor, (ProcessPoolExecutor, ThreadPoolExecutor)):
        return True
    return type(executor).__module__.startswith("joblib.externals.loky")
