"""Execution backends: a swappable stage that maps a function over batches of work.

- :class:`LocalBackend` (the default): one process, streaming: each batch is processed when
  the previous result has been consumed, so memory holds one batch at a time.
- :class:`DaskBackend`: ``dask.distributed``. ``workers=N`` starts a ``LocalCluster`` of N
  single-threaded worker processes (the rule pass is CPU-bound Python, so threads would share
  one GIL); ``scheduler=ADDRESS`` connects to an existing cluster, whose workers must have
  qualkit installed. Dask is the optional extra ``qualkit[dask]``, imported only here, lazily.

Both offer the same :meth:`Backend.imap`: results come back **in input order**, with at most
``window`` batches in flight, so the client never holds the whole corpus. Objects passed as
``shared`` (a resolved codebook, import options) are sent to each worker once, not per batch.
Only the client process writes to the store.
"""

from __future__ import annotations

import collections
import logging
import os
import resource
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from ..errors import ConfigError, MissingDependencyError

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("local", "dask")


def peak_rss_mb() -> float:
    """Peak resident memory of the calling process, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Backend:
    """The interface every backend offers (a no-op base: runs nothing by itself)."""

    name = "base"

    @property
    def n_workers(self) -> int:
        """How many batches can run at the same time."""
        return 1

    def imap(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        *,
        shared: Sequence[Any] = (),
        window: int | None = None,
    ) -> Iterator[R]:
        """``fn(item, *shared)`` for each item, yielded in input order."""
        raise NotImplementedError

    def worker_memory(self) -> dict[str, float]:
        """Peak resident memory (MB) of each worker process, by worker name."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Plain data for run manifests."""
        return {"backend": self.name, "workers": self.n_workers}

    def close(self) -> None:
        """Release workers and connections (idempotent)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalBackend(Backend):
    """One process, streaming: batches run in this process, one after another."""

    name = "local"

    def imap(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        *,
        shared: Sequence[Any] = (),
        window: int | None = None,  # noqa: ARG002 - one batch at a time by design
    ) -> Iterator[R]:
        for item in items:
            yield fn(item, *shared)

    def worker_memory(self) -> dict[str, float]:
        return {"local": peak_rss_mb()}


def import_distributed() -> Any:
    """``dask.distributed``, or a :class:`MissingDependencyError` that says what to install."""
    try:
        import distributed  # noqa: F401  (dask[distributed] provides it)
        from dask import distributed as dd
    except ImportError as error:
        raise MissingDependencyError(
            "Dask (dask.distributed, for --backend dask)", "pip install 'qualkit[dask]' -c constraints.txt"
        ) from error
    return dd


class DaskBackend(Backend):
    """dask.distributed: a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``.

    The cluster starts (or the connection opens) on first use; :meth:`close` shuts down a
    cluster this backend started and leaves an existing one running.
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        memory_limit: str | None = "auto",
        silence_logs: int = logging.ERROR,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {workers})", hint="pass --workers 2 for two worker processes")
        if workers is not None and scheduler:
            raise ConfigError(
                "--workers and --scheduler cannot be used together",
                hint="--workers N starts a local cluster; --scheduler ADDRESS uses an existing one with its own workers",
            )
        self._dd = import_distributed()
        self.requested_workers = workers
        self.scheduler = scheduler
        self.memory_limit = memory_limit
        self.silence_logs = silence_logs
        self._cluster: Any = None
        self._client: Any = None
        self._seen_workers = 0

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The dask client, starting the cluster or connecting on first use."""
        if self._client is None:
            dd = self._dd
            if self.scheduler:
                try:
                    self._client = dd.Client(self.scheduler, timeout="20s")
                except OSError as error:
                    raise ConfigError(
                        f"cannot connect to the Dask scheduler at {self.scheduler}: {error}",
                        hint="check the address (e.g. tcp://10.0.0.5:8786) and that `dask scheduler` is running",
                    ) from error
            else:
                n = self.requested_workers or os.cpu_count() or 1
                self._cluster = dd.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    memory_limit=self.memory_limit,
                    silence_logs=self.silence_logs,
                )
                self._client = dd.Client(self._cluster)
        return self._client

    @property
    def scheduler_address(self) -> str:
        return str(self.client.scheduler.address)

    @property
    def n_workers(self) -> int:
        if self._client is None:
            if self._seen_workers:
                return self._seen_workers  # after close: what the last connection had
            if self.requested_workers:
                return self.requested_workers
        self._seen_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        return self._seen_workers

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    # -- work ------------------------------------------------------------------------------
    def imap(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        *,
        shared: Sequence[Any] = (),
        window: int | None = None,
    ) -> Iterator[R]:
        client = self.client
        window = window or max(2, 3 * self.n_workers)  # also records the worker count for describe()
        shared_futures = [client.scatter([obj], broadcast=True, hash=False)[0] for obj in shared]
        pending: collections.deque[Any] = collections.deque()
        try:
            for item in items:
                pending.append(client.submit(fn, item, *shared_futures, pure=False))
                if len(pending) >= window:
                    yield self._take(pending)
            while pending:
                yield self._take(pending)
        finally:
            for future in pending:
                future.cancel()
            for future in shared_futures:
                future.release()

    @staticmethod
    def _take(pending: collections.deque[Any]) -> Any:
        future = pending.popleft()
        try:
            return future.result()
        finally:
            future.release()

    def worker_memory(self) -> dict[str, float]:
        if self._client is None:
            return {}
        result = self._client.run(peak_rss_mb)
        return {str(name): float(value) for name, value in sorted(result.items())}

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"backend": self.name, "workers": self.n_workers}
        if self.scheduler:
            data["scheduler"] = self.scheduler
        return data


def get_backend(name: str | None = None, workers: int | None = None, scheduler: str | None = None) -> Backend:
    """The backend called ``name`` (``local`` or ``dask``; default ``local``)."""
    name = (name or "local").strip().lower()
    if name == "local":
        if workers not in (None, 1) or scheduler:
            raise ConfigError(
                "--workers and --scheduler need the dask backend",
                hint="add --backend dask (or set [execution] backend = \"dask\" in qualkit.toml)",
            )
        return LocalBackend()
    if name == "dask":
        return DaskBackend(workers=workers, scheduler=scheduler)
    raise ConfigError(f"unknown execution backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")


def backend_for_study(
    study: Any, name: str | None = None, workers: int | None = None, scheduler: str | None = None
) -> Backend:
    """The backend named by the arguments, else by the study's ``[execution]`` section."""
    section = getattr(getattr(study, "config", None), "execution", None)
    if section is not None:
        if name is None:
            name = section.backend
        if (name or "").strip().lower() == "dask" and workers is None and scheduler is None:
            workers, scheduler = section.workers, section.scheduler
    return get_backend(name, workers=workers, scheduler=scheduler)


__all__ = [
    "BACKENDS",
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "backend_for_study",
    "get_backend",
    "import_distributed",
    "peak_rss_mb",
]
