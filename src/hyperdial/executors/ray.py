"""Ray as an executor: ``study.optimize(objective, executor=RayExecutor(), n_jobs=8)``.

Each worker is a Ray task that opens the study from its storage URL, so the study must
live where Ray's workers can reach it (a SQLite file on one machine, PostgreSQL / MySQL
for a cluster). Install with ``pip install 'hyperdial[ray]'``.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from hyperdial._imports import require

__all__ = ["RayExecutor"]


class RayExecutor:
    """A ``concurrent.futures``-style executor over Ray tasks.

    Args:
        address: A running cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` starts
            or reuses a local Ray instance.
        num_cpus: CPUs each task reserves (Ray's ``num_cpus`` option).
        init_options: More keyword arguments for ``ray.init`` when this executor starts Ray.

    Example:
        >>> import hyperdial
        >>> from hyperdial.executors.ray import RayExecutor
        >>> study = hyperdial.create_study(storage="sqlite:///ray.db")  # doctest: +SKIP
        >>> study.optimize(objective, n_trials=100, executor=RayExecutor(), n_jobs=4)  # doctest: +SKIP
    """

    def __init__(self, address: str | None = None, *, num_cpus: float = 1, **init_options: Any) -> None:
        self._ray = require("ray", "ray")
        self.num_cpus = num_cpus
        self._started = False
        if not self._ray.is_initialized():
            opts = {"include_dashboard": False, "log_to_driver": False, **init_options}
            self._ray.init(address=address, **opts)
            self._started = True

    @property
    def max_workers(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1) // self.num_cpus))

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        remote = self._ray.remote(num_cpus=self.num_cpus)(fn)
        return remote.remote(*args, **kwargs).future()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the local Ray instance if this executor started it."""
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
