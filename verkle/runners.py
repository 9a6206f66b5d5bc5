"""Where a bulk build's subtree tasks run: this process, a local process pool, or a Dask cluster.

Dask (``distributed``) is the cluster engine: it is pure Python and small (no daemon, no binary),
its scheduler and workers start with one command each (``dask scheduler``, ``dask worker ADDRESS``),
``LocalCluster`` gives the same API on one machine for tests, and its futures fit this job's shape (a
few hundred to a few thousand independent tasks of plain data). Ray would also do, at the cost of a
large binary wheel and a runtime this job does not need.

Every runner maps a function over tasks with a bounded number in flight, so the driver never holds
more than a few subtrees' keys at once, whatever the tree's size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

LOCAL_PREFIX = "local:"


class ClusterError(RuntimeError):
    """A cluster that cannot be started or reached, or a bad --cluster address."""


class Runner(Protocol):
    workers: int
    description: str

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple], in_flight: int) -> Iterator[Any]:
        """fn(*task) for every task, results in completion order, at most `in_flight` pending."""
        ...

    def close(self) -> None: ...


class SerialRunner:
    workers = 1
    description = "this process"

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple], in_flight: int) -> Iterator[Any]:
        for task in tasks:
            yield fn(*task)

    def close(self) -> None:
        pass


def _bounded(submit: Callable[[tuple], Any], wait_some: Callable[[set], set], tasks: Iterable[tuple],
             in_flight: int) -> Iterator[Any]:  # fmt: skip
    pending: set = set()
    for task in tasks:
        pending.add(submit(task))
        while len(pending) >= in_flight:
            done = wait_some(pending)
            pending -= done
            for future in done:
                yield future.result()
    while pending:
        done = wait_some(pending)
        pending -= done
        for future in done:
            yield future.result()


class ProcessRunner:
    """A pool of local worker processes (fork: the parent's loaded scheme is shared)."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.workers = workers
        self.description = f"{workers} local processes"
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple], in_flight: int) -> Iterator[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        return _bounded(
            lambda task: self._pool.submit(fn, *task),
            lambda pending: wait(pending, return_when=FIRST_COMPLETED).done,
            tasks,
            in_flight,
        )

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class DaskRunner:
    """A Dask cluster: ``local:N`` starts N worker processes here; any other address is a running
    scheduler's (``tcp://host:8786``), whose workers must have this package installed."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ClusterError(f"--cluster needs Dask's distributed package: {exc}") from None
        self._cluster = None
        if address.startswith(LOCAL_PREFIX):
            n = _local_workers(address)
            self._cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(address, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        n_workers = len(self.client.scheduler_info().get("workers", {}))
        if n_workers == 0:
            self.close()
            raise ClusterError(f"the Dask scheduler at {address!r} has no workers")
        self.workers = n_workers
        self.description = f"Dask cluster {address} ({n_workers} workers)"

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple], in_flight: int) -> Iterator[Any]:
        from distributed import wait

        return _bounded(
            lambda task: self.client.submit(fn, *task, pure=False),
            lambda pending: wait(pending, return_when="FIRST_COMPLETED").done,
            tasks,
            in_flight,
        )

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


MAX_LOCAL_PER_CORE = 4


def _local_workers(address: str) -> int:
    text = address[len(LOCAL_PREFIX) :]
    if not text.isdigit() or int(text) < 1:
        raise ClusterError(
            f"--cluster {address!r}: expected local:N with N >= 1 workers, or a scheduler address"
        )
    limit = MAX_LOCAL_PER_CORE * (os.cpu_count() or 1)
    if int(text) > limit:
        raise ClusterError(
            f"--cluster {address!r}: {int(text):,} local workers on {os.cpu_count()} cores; at most {limit} "
            "(more processes than cores only compete; a larger cluster is a scheduler address)"
        )
    return int(text)


def check_cluster_address(address: str) -> str:
    """Refuse a malformed --cluster value before anything is read or started."""
    if not isinstance(address, str):
        raise TypeError(
            f"cluster must be a str (local:N or a scheduler address), got {type(address).__name__}"
        )
    if address.startswith(LOCAL_PREFIX):
        _local_workers(address)
    elif not address or any(c.isspace() for c in address):
        raise ClusterError(
            f"--cluster {address!r}: expected local:N or a scheduler address (tcp://host:port)"
        )
    return address


def make_runner(size: int, workers: int | None = None, cluster: str | None = None) -> Runner:
    """The runner for a build of `size` keys: the cluster if one is named; else a local pool of
    `workers` processes (default: every core) for 4,096 keys and more, this process below that."""
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive int or None, got {workers!r}")
    if cluster is not None:
        if workers is not None:
            raise ValueError("workers sets a local pool; with a cluster the cluster's workers run the build")
        return DaskRunner(check_cluster_address(cluster))
    workers = workers or os.cpu_count() or 1
    if workers > 1 and size >= 4096:
        return ProcessRunner(workers)
    return SerialRunner()
