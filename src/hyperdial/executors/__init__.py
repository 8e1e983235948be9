"""Executors: where trials run when ``optimize`` uses more than one worker.

``optimize(n_jobs=k)`` runs k worker processes (loky, so objectives defined in
``__main__``, closures and lambdas work); ``optimize(executor=...)`` accepts any
``concurrent.futures``-style executor: a ``ProcessPoolExecutor``, a Dask
``distributed.Client`` (or its ``get_executor()``), or :class:`~hyperdial.executors.ray.RayExecutor`.
Workers read
and write the study through its storage, so reports, pruning decisions and pending
trials are shared whatever runs them.
"""

from __future__ import annotations

from hyperdial.executors.local import StorageServer, run_parallel
from hyperdial.executors.worker import WorkerSpec, worker_main

__all__ = ["StorageServer", "WorkerSpec", "run_parallel", "worker_main"]
