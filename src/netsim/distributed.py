"""Run independent pieces of work in-process or on a dask.distributed cluster.

Realisations of a scenario run, scenarios of a sweep and chunks of grid cells are
independent tasks: a pure function applied to a list of items with shared
arguments.  :func:`get_executor` chooses where they run; the caller's code is
the same everywhere::

    with get_executor(scheduler) as ex:
        results = ex.map(run_one_realisation, range(200), truth_settings, network)

Schedulers
----------
``None`` (and no ``DASK_SCHEDULER_ADDRESS`` in the environment)
    In-process: a plain loop in the calling process.  No cluster is started and
    dask is not imported.  The numba/BLAS kernels inside each task already use
    every core.
``"tcp://HOST:PORT"`` (also ``tls://``, ``ucx://``, ``inproc://``), or the
``DASK_SCHEDULER_ADDRESS`` environment variable
    An existing dask.distributed scheduler (``dask scheduler`` plus
    ``dask worker`` processes).
``"local:N"`` (or ``"local"`` for one worker per core)
    A throw-away :class:`distributed.LocalCluster` with N single-threaded worker
    processes, closed with the executor.
``"sync"``
    Same as ``None`` but ignores ``DASK_SCHEDULER_ADDRESS``.

Determinism
-----------
Results are returned in the order of the items, whatever the order in which
tasks finish.  Functions must be pure given their arguments (draw random
numbers from a generator seeded by the arguments, never from global state), so
the cluster gives the same numbers as the in-process run.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import queue
import re
import reprlib
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from netsim.errors import ClusterError, NetsimError

__all__ = [
    "CONNECT_TIMEOUT_ENV",
    "SCHEDULER_ENV",
    "WORKER_TIMEOUT_ENV",
    "ClusterTimeouts",
    "DistributedExecutor",
    "Executor",
    "LocalExecutor",
    "ProgressCallback",
    "chunk_slices",
    "get_executor",
    "resolve_scheduler",
    "rich_progress",
]

T = TypeVar("T")

#: Environment variable naming a dask scheduler address (dask's own convention).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

#: ``callback(done, total)`` called after each finished task (``done`` counts up to ``total``).
ProgressCallback = Callable[[int, int], None]

#: Environment variable: seconds to wait for a scheduler's handshake (default 10).
CONNECT_TIMEOUT_ENV = "NETSIM_DASK_CONNECT_TIMEOUT"
#: Environment variable: seconds to wait for a worker (default 30).
WORKER_TIMEOUT_ENV = "NETSIM_DASK_WORKER_TIMEOUT"

_ADDRESS_RE = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$")
_LOCAL_RE = re.compile(r"^local(?::(\d+))?$")
_DEFAULT_CONNECT_TIMEOUT_S = 10.0
_DEFAULT_WORKER_TIMEOUT_S = 30.0
_MAX_FETCH_WAIT_S = 300.0
_IN_PROCESS_HINT = f"or drop --scheduler / unset {SCHEDULER_ENV} to run in-process"


@runtime_checkable
class Executor(Protocol):
    """Where independent tasks run; see :func:`get_executor`."""

    #: ``"in-process"``, ``"local-cluster"`` or ``"distributed"``.
    kind: str
    #: The scheduler address, or ``None`` in-process.
    address: str | None

    def map(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
    ) -> list[T]:
        """Return ``[func(item, *args) for item in items]`` (in item order)."""
        ...

    def imap(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` one by one, in item order; ``idle()`` once if this
        process waits for results computed elsewhere."""
        ...

    @property
    def n_workers(self) -> int:
        """Number of worker processes (1 in-process)."""
        ...

    def close(self) -> None:
        """Release the cluster connection (and the cluster it started)."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class LocalExecutor:
    """Run tasks in the calling process, optionally shared with its helper workers.

    Parameters
    ----------
    progress
        Default progress callback for :meth:`map`.
    helpers
        Let the process's helper workers (:mod:`netsim.workers`, ``NETSIM_WORKERS``) take
        tasks from the end of the list while this process works from the start
        (:func:`netsim.workers.share`).  The function and its arguments must then be
        picklable, and pure: a result has the same bits wherever it is computed.
    """

    kind = "in-process"
    address: str | None = None

    def __init__(self, progress: ProgressCallback | None = None, *,
                 helpers: bool = False) -> None:
        self._progress = progress
        self._helpers = helpers

    @property
    def n_workers(self) -> int:
        """Always 1: the calling process."""
        return 1

    @property
    def helper_workers(self) -> int:
        """Helper processes that may take tasks from the end of the list (0 without
        ``helpers``): :func:`netsim.workers.helper_workers`."""
        if not self._helpers:
            return 0
        from netsim import workers

        return workers.helper_workers()

    def map(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
    ) -> list[T]:
        """Return ``[func(item, *args) for item in items]``.

        Parameters
        ----------
        func
            Pure function called as ``func(item, *args)``.
        items
            One task per item.
        *args
            Shared arguments, passed unchanged to every call.
        progress
            ``callback(done, total)`` after each task (overrides the default).
        """
        return list(self.imap(func, items, *args, progress=progress))

    def imap(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` in item order, each computed when it is asked for.

        Lets the caller reduce results one by one (memory independent of the
        number of items).  Arguments as :meth:`map`; ``idle`` is called once, the first
        time this process waits for a helper's result (:func:`netsim.workers.share`;
        never without helpers).
        """
        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        results = (func(item, *args) for item in items)
        if self._helpers and total > 1:
            from netsim import workers

            pool = workers.pool()
            if pool is not None:
                results = workers.share(func, items, args, pool, idle=idle)
        for i, result in enumerate(results, start=1):
            yield result
            if report is not None:
                report(i, total)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalExecutor()"


class DistributedExecutor:
    """Run tasks on a dask.distributed cluster through a :class:`distributed.Client`.

    Shared arguments go to the cluster once per :meth:`map` call, as the result
    of a task that returns them (large arrays travel once, not once per task;
    workers copy them from each other, and the cluster recomputes them if the
    worker holding them dies); results are gathered in item order while
    progress is reported in completion order.

    While it waits for results the executor watches the cluster: a lost
    scheduler, workers that are all gone for longer than
    ``timeouts.workers_s``, or a task that killed every worker that ran it
    (:class:`distributed.KilledWorker`) end the call with one
    :class:`~netsim.errors.ClusterError` line instead of a traceback or a hang.

    Parameters
    ----------
    client
        A connected client.
    kind
        ``"distributed"`` (external scheduler) or ``"local-cluster"``.
    cluster
        The :class:`distributed.LocalCluster` to close with the executor, if any.
    progress
        Default progress callback for :meth:`map`.
    timeouts
        How long to wait for workers and a silent scheduler (s).
    """

    def __init__(
        self,
        client: Any,
        *,
        kind: str = "distributed",
        cluster: Any = None,
        progress: ProgressCallback | None = None,
        timeouts: ClusterTimeouts | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self._cluster = cluster
        self._progress = progress
        self.timeouts = timeouts or ClusterTimeouts()
        self.address: str | None = client.scheduler.address

    @property
    def n_workers(self) -> int:
        """Number of workers currently connected to the scheduler.

        Raises
        ------
        ClusterError
            If the scheduler does not answer within ``timeouts.connect_s``.
        """
        count = self._worker_count()
        if count is None:
            raise ClusterError(
                f"the dask scheduler at {self.address} does not answer; "
                f"restart it and its workers, {_IN_PROCESS_HINT}"
            )
        return count

    def map(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
    ) -> list[T]:
        """Return ``[func(item, *args) for item in items]`` computed on the cluster.

        Parameters
        ----------
        func
            Pure, picklable function called as ``func(item, *args)``.  It must
            be importable on the workers (module-level in an installed package)
            or registered with ``cloudpickle.register_pickle_by_value``.
        items
            One task per item.
        *args
            Shared arguments, sent to the cluster once (see :meth:`_share`).
        progress
            ``callback(done, total)`` after each finished task.

        Raises
        ------
        ClusterError
            The scheduler was lost, every worker was gone for longer than
            ``timeouts.workers_s``, or a task killed every worker that ran it.
        Exception
            The first exception raised by a task, re-raised here with its type
            (a :class:`NetsimError` from a task stays a :class:`NetsimError`).
        """
        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        if total == 0:
            return []
        results: list[Any] = [None] * total
        with self._submitted(func, items, args) as (futures, watch):
            for done, i in enumerate(self._finished(futures, watch), start=1):
                results[i] = self._result(futures[i], i, items, watch)
                watch.received = done
                if report is not None:
                    report(done, total)
        return results

    def imap(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` in item order while the cluster computes them all.

        Every task is submitted at once; each result is fetched and released
        on the cluster as it is yielded, so the caller can reduce results one by
        one.  Progress counts results yielded.  Arguments and errors as :meth:`map`;
        ``idle`` is called once, once the tasks are submitted (this process then waits).
        """
        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        if total == 0:
            return
        with self._submitted(func, items, args) as (futures, watch):
            if idle is not None:
                idle()
            finished = self._finished(futures, watch)
            ready: set[int] = set()
            for i, future in enumerate(futures):
                while i not in ready:
                    ready.add(next(finished))
                result = self._result(future, i, items, watch)
                future.release()
                watch.received = i + 1
                yield result
                if report is not None:
                    report(i + 1, total)

    @contextlib.contextmanager
    def _submitted(
        self, func: Callable[..., Any], items: list[Any], args: tuple[Any, ...]
    ) -> Iterator[tuple[list[Any], _Watch]]:
        """Submit one task per item; release every future (and shared argument) on exit."""
        self._require_workers()
        watch = _Watch(total=len(items))
        futures: list[Any] = []
        shared: list[Any] = []
        try:
            try:
                self._submit(func, items, args, futures, shared)
            except (OSError, CancelledError) as exc:  # TimeoutError, CommClosedError included
                raise self._fault(exc, watch) from None
            yield futures, watch
        finally:
            for f in (*futures, *shared):
                with contextlib.suppress(Exception):
                    f.release()

    def _submit(self, func: Callable[..., Any], items: list[Any], args: tuple[Any, ...],
                futures: list[Any], shared: list[Any]) -> None:
        """Submit one task per item into ``futures`` (item order).

        Shared arguments other than small scalars go to the cluster once
        (their futures are listed in ``shared``); scalars travel inside each task.
        """
        task_args = []
        for a in args:
            if _worth_sharing(a):
                a = self._share(a)
                shared.append(a)
            task_args.append(a)
        task = _portable(func)
        futures.extend(self.client.submit(task, item, *task_args, pure=False) for item in items)

    def _share(self, value: Any) -> Any:
        """A future of ``value``: a task returning it, computed once, fetched by the workers.

        Unlike ``client.scatter(..., broadcast=True)``, whose replication loops
        for ever when a worker dies during it (dask.distributed 2026.8), a task
        result is recomputed when its worker dies, so a run survives losing a
        worker.  The value is pickled into the task (held by the scheduler).
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph")
            # getitem([value], 0) is value; the list keeps containers whole
            return self.client.submit(operator.getitem, [value], 0, pure=False)

    def _finished(self, futures: list[Any], watch: _Watch) -> Iterator[int]:
        """Yield the index of each future as it finishes; check the cluster while waiting."""
        finished: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i, future in enumerate(futures):
            future.add_done_callback(functools.partial(_put_index, finished, i))
        for _ in futures:
            while True:
                try:
                    index = finished.get(timeout=self.timeouts.poll_s)
                except queue.Empty:
                    self._check_cluster(watch)
                    continue
                yield index
                break

    def _result(self, future: Any, index: int, items: list[Any], watch: _Watch) -> Any:
        """Fetch a finished future's result; translate cluster faults into a ClusterError.

        Exceptions raised by the task itself propagate with their own type.
        """
        from distributed import KilledWorker

        wait_s = self.timeouts.poll_s
        while True:
            try:
                return future.result(timeout=wait_s)
            except KilledWorker as exc:
                raise self._killed_worker_error(exc, index, items) from None
            except Exception as exc:
                if future.status == "error":
                    raise  # the task's own exception
                if isinstance(exc, TimeoutError) and self.client.status == "running":
                    # Recomputed (its worker died) or a slow transfer, which a timeout
                    # restarts: wait twice as long each time, checking the cluster in between.
                    self._check_cluster(watch)
                    wait_s = min(2 * wait_s, _MAX_FETCH_WAIT_S)
                    continue
                raise self._fault(exc, watch) from None

    def _require_workers(self) -> None:
        """Wait up to ``timeouts.workers_s`` for a worker; raise ClusterError if none comes."""
        deadline = time.monotonic() + self.timeouts.workers_s
        while True:
            count = self._worker_count()
            if count:
                return
            if time.monotonic() > deadline or self.client.status != "running":
                break
            time.sleep(min(self.timeouts.poll_s, 0.2))
        if count is None:
            raise self._scheduler_lost("before any task started")
        raise ClusterError(
            f"the dask scheduler at {self.address} has no workers after waiting "
            f"{self.timeouts.workers_s:g} s; start some with `dask worker {self.address}` "
            f"(or wait longer: {WORKER_TIMEOUT_ENV}=SECONDS), {_IN_PROCESS_HINT}"
        )

    def _worker_count(self) -> int | None:
        """Workers known to the scheduler, or None if it does not answer in time."""
        if self.client.status != "running":
            return None
        try:
            return len(self.client.nthreads(callback_timeout=self.timeouts.connect_s))
        except (OSError, CancelledError):  # TimeoutError and CommClosedError included
            return None

    def _check_cluster(self, watch: _Watch) -> None:
        """Raise ClusterError if the scheduler is gone or silent, or no worker is left, too long."""
        if self.client.status != "running":
            raise self._scheduler_lost(watch.describe())
        count = self._worker_count()
        now = time.monotonic()
        watch.silent_since = (watch.silent_since or now) if count is None else None
        watch.idle_since = (watch.idle_since or now) if count == 0 else None
        limit = self.timeouts.workers_s
        if watch.silent_since is not None and now - watch.silent_since > limit:
            raise ClusterError(
                f"the dask scheduler at {self.address} stopped answering for {limit:g} s "
                f"({watch.describe()}); restart the scheduler and its workers and run again, "
                f"{_IN_PROCESS_HINT}"
            )
        if watch.idle_since is not None and now - watch.idle_since > limit:
            raise self._workers_lost(watch, f"no worker for {limit:g} s")

    def _fault(self, exc: BaseException, watch: _Watch) -> ClusterError:
        """The ClusterError for a failure that is not the task's own exception."""
        reason = getattr(exc, "reason", None)
        if self.client.status != "running" or reason == "scheduler-connection-lost":
            return self._scheduler_lost(watch.describe())
        if self._worker_count() == 0:
            return self._workers_lost(watch, "with the data they held")
        if isinstance(exc, CancelledError):
            return ClusterError(
                f"the dask scheduler at {self.address} cancelled the tasks "
                f"(reason: {reason or 'unknown'}; {watch.describe()}); another client or an "
                f"administrator may have cancelled them: run again, {_IN_PROCESS_HINT}"
            )
        return ClusterError(
            f"the dask cluster at {self.address} failed ({_first_line(exc)}; "
            f"{watch.describe()}); restart the scheduler and its workers and run again, "
            f"{_IN_PROCESS_HINT}"
        )

    def _scheduler_lost(self, context: str) -> ClusterError:
        return ClusterError(
            f"lost the connection to the dask scheduler at {self.address} ({context}): "
            f"the scheduler stopped or the network failed; restart the scheduler and its "
            f"workers and run again, {_IN_PROCESS_HINT}"
        )

    def _workers_lost(self, watch: _Watch, detail: str) -> ClusterError:
        return ClusterError(
            f"all workers of the dask scheduler at {self.address} are gone ({detail}; "
            f"{watch.describe()}); restart them with `dask worker {self.address}` and run "
            f"again, {_IN_PROCESS_HINT}"
        )

    def _killed_worker_error(self, exc: Exception, index: int, items: list[Any]) -> ClusterError:
        allowed = getattr(exc, "allowed_failures", None)
        count = (f"{allowed + 1} worker{'s' if allowed else ''}" if isinstance(allowed, int)
                 else "every worker")
        return ClusterError(
            f"the task for item {index} ({reprlib.repr(items[index])}) killed {count} of the "
            f"dask cluster at {self.address}, one after the other (out of memory, or a crash in "
            f"compiled code?); run without --scheduler to see the error in-process, or give "
            f"the workers more memory"
        )

    def close(self) -> None:
        """Close the client and the local cluster it started (if any).

        Bounded by ``timeouts.connect_s`` each, even when the scheduler is gone;
        dask's shutdown log messages are silenced.
        """
        with _quiet_dask_logs():
            with contextlib.suppress(Exception):
                self.client.close(timeout=self.timeouts.connect_s)
            if self._cluster is not None:
                with contextlib.suppress(Exception):
                    self._cluster.close(timeout=self.timeouts.connect_s)

    def __enter__(self) -> DistributedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DistributedExecutor(kind={self.kind!r}, address={self.address!r})"


@dataclass
class _Watch:
    """What one map/imap call has received so far, and since when the cluster looks dead."""

    total: int
    received: int = 0
    idle_since: float | None = None  # time.monotonic() when no worker was first seen
    silent_since: float | None = None  # ... when the scheduler first did not answer

    def describe(self) -> str:
        return f"{self.received} of {self.total} results received"


def _put_index(finished: queue.SimpleQueue[int], index: int, _future: Any) -> None:
    finished.put(index)


def _portable(func: Callable[..., T]) -> Callable[..., T]:
    """Ship ``func`` by value when its module is registered with cloudpickle for that.

    dask pickles task graphs with :mod:`pickle` first, which stores functions by
    reference; functions of a module registered with
    ``cloudpickle.register_pickle_by_value`` (e.g. a test module or script the
    workers cannot import) are wrapped so that their code travels with the task.
    """
    import cloudpickle

    module = getattr(func, "__module__", None)
    if module in cloudpickle.list_registry_pickle_by_value():
        return functools.partial(_call_pickled, cloudpickle.dumps(func))
    return func


def _call_pickled(payload: bytes, *args: Any) -> Any:
    import cloudpickle

    return cloudpickle.loads(payload)(*args)


def _worth_sharing(arg: Any) -> bool:
    """Small scalars travel inside the task; everything else goes to the cluster once."""
    return not isinstance(arg, (int, float, str, bool, bytes, type(None)))


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """Return the scheduler to use: the argument, else ``$DASK_SCHEDULER_ADDRESS``, else None.

    Parameters
    ----------
    scheduler
        ``None``, ``"sync"``, ``"local"``, ``"local:N"`` or a scheduler address
        such as ``"tcp://127.0.0.1:8786"``.

    Returns
    -------
    str or None
        A validated scheduler string, or ``None`` for in-process execution.

    Raises
    ------
    NetsimError
        If the string is none of the accepted forms.
    """
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
        source = f"environment variable {SCHEDULER_ENV}"
    else:
        source = "--scheduler"
    if scheduler is None:
        return None
    scheduler = scheduler.strip()
    if scheduler in ("sync", "in-process", ""):
        return None
    if _LOCAL_RE.match(scheduler) or _ADDRESS_RE.match(scheduler):
        match = _LOCAL_RE.match(scheduler)
        if match and match.group(1) is not None and int(match.group(1)) < 1:
            raise NetsimError(
                f"{source}: {scheduler!r} asks for no workers; use local:N with N >= 1"
            )
        return scheduler
    raise NetsimError(
        f"{source}: {scheduler!r} is not a scheduler; expected tcp://HOST:PORT (a running "
        "`dask scheduler`), local:N (N worker processes on this machine) or sync (in-process)"
    )


def get_executor(
    scheduler: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    timeout_s: float | None = None,
    worker_timeout_s: float | None = None,
    helpers: bool = False,
) -> LocalExecutor | DistributedExecutor:
    """Return an executor for ``scheduler`` (use it as a context manager).

    Parameters
    ----------
    scheduler
        ``None`` -> ``$DASK_SCHEDULER_ADDRESS`` if set, else in-process;
        ``"sync"`` -> in-process; ``"tcp://HOST:PORT"`` -> that dask scheduler;
        ``"local:N"`` -> a new local cluster of N single-threaded worker processes
        (``"local"``: one per core).
    progress
        Default ``callback(done, total)`` for :meth:`~LocalExecutor.map`.
    timeout_s
        Seconds to wait for the scheduler's handshake (s); default
        ``$NETSIM_DASK_CONNECT_TIMEOUT`` or 10 s.
    worker_timeout_s
        Seconds to wait for a first worker, and how long a run tolerates having
        no worker or a silent scheduler (s); default ``$NETSIM_DASK_WORKER_TIMEOUT``
        or 30 s.
    helpers
        In-process only: share the tasks with the process's helper workers
        (:class:`LocalExecutor`'s ``helpers``).

    Returns
    -------
    LocalExecutor or DistributedExecutor
        Both have ``.map(func, items, *args) -> list`` (item order), ``.kind``,
        ``.address``, ``.n_workers`` and ``.close()``.

    Raises
    ------
    NetsimError
        If the scheduler string is malformed.
    ClusterError
        If no dask scheduler answers within ``timeout_s``, or it has no worker
        within ``worker_timeout_s`` (one line naming the address, with a hint).
    """
    resolved = resolve_scheduler(scheduler)
    if resolved is None:
        return LocalExecutor(progress, helpers=helpers)
    timeouts = ClusterTimeouts.from_environment(timeout_s, worker_timeout_s)

    match = _LOCAL_RE.match(resolved)
    if match:
        from distributed import Client, LocalCluster

        n = int(match.group(1)) if match.group(1) else (os.cpu_count() or 1)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        try:
            client = Client(cluster, timeout=timeouts.connect_s)
        except BaseException:
            cluster.close()
            raise
        return DistributedExecutor(client, kind="local-cluster", cluster=cluster,
                                   progress=progress, timeouts=timeouts)

    client = _connect(resolved, timeouts)
    executor = DistributedExecutor(client, kind="distributed", progress=progress,
                                   timeouts=timeouts)
    try:
        executor._require_workers()
    except BaseException:
        executor.close()
        raise
    return executor


# ----------------------------------------------------------------------------- cluster faults


@dataclass(frozen=True)
class ClusterTimeouts:
    """How long an executor waits for a dask cluster before giving up (seconds).

    Defaults come from ``$NETSIM_DASK_CONNECT_TIMEOUT`` and
    ``$NETSIM_DASK_WORKER_TIMEOUT`` when set (see :meth:`from_environment`).
    """

    #: Scheduler handshake; also bounds each query to it and closing the client (s).
    connect_s: float = _DEFAULT_CONNECT_TIMEOUT_S
    #: First worker; and how long the cluster may have no worker, or the scheduler
    #: may not answer, in the middle of a run (s).
    workers_s: float = _DEFAULT_WORKER_TIMEOUT_S
    #: Interval between cluster checks while waiting for results (s).
    poll_s: float = 1.0

    @classmethod
    def from_environment(
        cls, connect_s: float | None = None, workers_s: float | None = None
    ) -> ClusterTimeouts:
        """Explicit values, else the environment variables, else the defaults (s)."""
        if connect_s is None:
            connect_s = _env_seconds(CONNECT_TIMEOUT_ENV, _DEFAULT_CONNECT_TIMEOUT_S)
        if workers_s is None:
            workers_s = _env_seconds(WORKER_TIMEOUT_ENV, _DEFAULT_WORKER_TIMEOUT_S)
        for name, value in (("connect timeout", connect_s), ("worker timeout", workers_s)):
            if not value > 0:
                raise NetsimError(f"the dask {name} must be > 0 s, got {value!r}")
        return cls(connect_s=float(connect_s), workers_s=float(workers_s))


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise NetsimError(f"environment variable {name}={raw!r}: expected a number of seconds > 0")
    return value


def _connect(address: str, timeouts: ClusterTimeouts) -> Any:
    """Return a :class:`distributed.Client` connected to ``address`` within a hard time limit.

    A ``tcp://`` address is first probed with a plain socket, so that nothing
    listening, a silent port and a server speaking another protocol (e.g. HTTP)
    each get their own message instead of dask's retries or an endless wait.

    Raises
    ------
    ClusterError
        If no dask scheduler answers at ``address`` within ``timeouts.connect_s``.
    """
    started = time.monotonic()
    if address.startswith("tcp://"):
        _probe_tcp(address, timeouts.connect_s)
    remaining = max(timeouts.connect_s - (time.monotonic() - started), 1.0)
    return _client_within(address, remaining)


def _probe_tcp(address: str, timeout_s: float) -> None:
    """Check within ``timeout_s`` that a dask server answers at a ``tcp://`` address.

    A dask scheduler writes its handshake as soon as it accepts a connection;
    its messages start with their length as a little-endian 64-bit integer.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        host, port = parse_host_port(parse_address(address)[1])
    except ValueError as exc:
        raise NetsimError(
            f"--scheduler {address!r}: {exc}; expected tcp://HOST:PORT"
        ) from None
    deadline = time.monotonic() + timeout_s
    with _tcp_connect(address, host, port, deadline, timeout_s) as sock:
        head = _read_some(sock, deadline, 8)
        if head is None and _answers_http(sock):
            raise ClusterError(
                f"{address} is an HTTP server, not a dask scheduler (the dask dashboard listens "
                f"on port 8787 by default); point --scheduler at the scheduler's port (8786 by "
                f"default), {_IN_PROCESS_HINT}"
            )
        if head is None:
            raise ClusterError(
                f"{address} accepts connections but sent no dask handshake within "
                f"{timeout_s:g} s: not a dask scheduler, or a hung one; check the port (8786 by "
                f"default) or restart the scheduler, {_IN_PROCESS_HINT}"
            )
        if len(head) < 8 or int.from_bytes(head[:8], "little") >= 2**32:
            said = f"answered {head[:16]!r}" if head else "closed the connection without a word"
            raise ClusterError(
                f"{address} {said}, which is not the dask protocol: not a dask scheduler; "
                f"point --scheduler at the scheduler's port (8786 by default), {_IN_PROCESS_HINT}"
            )


def _tcp_connect(address: str, host: str, port: int, deadline: float,
                 timeout_s: float) -> socket.socket:
    """Open a TCP connection, retrying while it is refused (a scheduler still starting)."""
    while True:
        remaining = deadline - time.monotonic()
        try:
            return socket.create_connection((host, port), timeout=max(remaining, 0.05))
        except ConnectionRefusedError:
            if remaining > 0.1:
                time.sleep(0.1)
                continue
            reason = f"nothing is listening on port {port} (refused for {timeout_s:g} s)"
        except TimeoutError:
            reason = f"no answer to a TCP connection within {timeout_s:g} s (host, firewall?)"
        except OSError as exc:  # unknown host, network unreachable, ...
            reason = exc.strerror or type(exc).__name__
        raise ClusterError(
            f"cannot reach the dask scheduler at {address}: {reason}; start one with "
            f"`dask scheduler --port {port}` and `dask worker {address}`, {_IN_PROCESS_HINT}"
        )


def _read_some(sock: socket.socket, deadline: float, n: int) -> bytes | None:
    """Up to ``n`` bytes the peer sends before ``deadline`` (b"" if it closed, None if silent)."""
    data = b""
    while len(data) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(n - len(data))
        except TimeoutError:
            break
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk
    return data or None


def _answers_http(sock: socket.socket, wait_s: float = 2.0) -> bool:
    """Whether a peer that sent nothing answers an HTTP request within ``wait_s``."""
    try:
        sock.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
    except OSError:
        return False
    head = _read_some(sock, time.monotonic() + wait_s, 5)
    return head == b"HTTP/"


def _client_within(address: str, timeout_s: float) -> Any:
    """``distributed.Client(address)`` with a hard wall-clock limit (dask's own can hang).

    A client that connects after the limit has passed is closed when it does.
    """
    from distributed import Client

    outcome: dict[str, Any] = {"abandoned": False}
    lock = threading.Lock()

    def connect() -> None:
        try:
            client = Client(address, timeout=timeout_s)
        except Exception as exc:
            outcome["error"] = exc
            return
        with lock:
            outcome["client"] = client
            too_late = outcome["abandoned"]
        if too_late:
            with _quiet_dask_logs(), contextlib.suppress(Exception):
                client.close(timeout=timeout_s)

    thread = threading.Thread(target=connect, name="netsim-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 2.0)
    with lock:
        outcome["abandoned"] = "client" not in outcome
    if "client" in outcome:
        return outcome["client"]
    reason = _first_line(outcome["error"]) if "error" in outcome else "no answer"
    raise ClusterError(
        f"cannot connect to the dask scheduler at {address} within {timeout_s:g} s ({reason}); "
        f"check that it is a running `dask scheduler` (restart it if it hangs), "
        f"{_IN_PROCESS_HINT}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: Loggers that report a lost scheduler or a cancelled reconnection while a client closes.
_DASK_LOGGERS = ("distributed", "tornado", "asyncio")


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Silence dask's log records (tracebacks of cancelled reconnections, ...) for a while."""
    import logging

    names = [
        name for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in _DASK_LOGGERS
    ]
    loggers = [logging.getLogger(name) for name in {*names, *_DASK_LOGGERS}]
    saved = [(lg, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, disabled in saved:
            lg.disabled = disabled


@contextlib.contextmanager
def rich_progress(
    description: str = "working", *, console: Any = None, transient: bool = False
) -> Iterator[ProgressCallback]:
    """Yield a ``callback(done, total)`` drawing a rich progress bar.

    Parameters
    ----------
    description
        Text to the left of the bar.
    console
        A :class:`rich.console.Console` (default: stderr).
    transient
        Remove the bar when done.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=transient,
    )
    task_id = progress.add_task(description, total=None)

    def callback(done: int, total: int) -> None:
        progress.update(task_id, completed=done, total=total)

    with progress:
        yield callback


def chunk_slices(n: int, chunk: int) -> Sequence[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``chunk`` items."""
    if chunk < 1:
        raise NetsimError(f"chunk size must be >= 1, got {chunk}")
    return [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]

