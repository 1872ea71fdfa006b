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
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from netsim.errors import NetsimError

__all__ = [
    "SCHEDULER_ENV",
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

_ADDRESS_RE = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$")
_LOCAL_RE = re.compile(r"^local(?::(\d+))?$")
_CONNECT_TIMEOUT_S = 10.0


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
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` one by one, in item order."""
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
    """Run tasks one after another in the calling process.

    Parameters
    ----------
    progress
        Default progress callback for :meth:`map`.
    """

    kind = "in-process"
    address: str | None = None

    def __init__(self, progress: ProgressCallback | None = None) -> None:
        self._progress = progress

    @property
    def n_workers(self) -> int:
        """Always 1: the calling process."""
        return 1

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
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` in item order, each computed when it is asked for.

        Lets the caller reduce results one by one (memory independent of the
        number of items).  Arguments as :meth:`map`.
        """
        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        for i, item in enumerate(items, start=1):
            yield func(item, *args)
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

    Shared arguments are scattered to every worker once per :meth:`map` call
    (large arrays travel once, not once per task); results are gathered in item
    order while progress is reported in completion order
    (:func:`distributed.as_completed`).

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
    """

    def __init__(
        self,
        client: Any,
        *,
        kind: str = "distributed",
        cluster: Any = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.kind = kind
        self._cluster = cluster
        self._progress = progress
        self.address: str | None = client.scheduler.address

    @property
    def n_workers(self) -> int:
        """Number of workers currently connected to the scheduler."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

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
            Shared arguments, scattered once to every worker.
        progress
            ``callback(done, total)`` after each finished task.

        Raises
        ------
        Exception
            The first exception raised by a task, re-raised here with its type
            (a :class:`NetsimError` from a task stays a :class:`NetsimError`).
        """
        from distributed import as_completed

        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        if total == 0:
            return []
        futures, scattered = self._submit(func, items, args)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * total
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                results[index[future.key]] = future.result()
                if report is not None:
                    report(done, total)
        finally:
            for f in futures:
                f.release()
            for s in scattered:
                s.release()
        return results

    def _submit(self, func: Callable[..., T], items: list[Any], args: tuple[Any, ...]
                ) -> tuple[list[Any], list[Any]]:
        """Submit one task per item; large shared arguments are scattered once to every worker.

        Returns the futures (item order) and the scattered arguments to release.
        """
        scattered = []
        shared = []
        for a in args:
            if _worth_scattering(a):
                # Wrap in a list so that containers are scattered whole.
                a = self.client.scatter([a], broadcast=True, hash=False)[0]
                scattered.append(a)
            shared.append(a)
        task = _portable(func)
        futures = [self.client.submit(task, item, *shared, pure=False) for item in items]
        return futures, scattered

    def imap(
        self,
        func: Callable[..., T],
        items: Iterable[Any],
        *args: Any,
        progress: ProgressCallback | None = None,
    ) -> Iterator[T]:
        """Yield ``func(item, *args)`` in item order while the cluster computes them all.

        Every task is submitted at once; each result is fetched and released
        on the cluster as it is yielded, so the caller can reduce results one by
        one.  Progress counts results yielded.  Arguments and errors as :meth:`map`.
        """
        items = list(items)
        report = progress or self._progress
        total = len(items)
        if report is not None:
            report(0, total)
        if total == 0:
            return
        futures, scattered = self._submit(func, items, args)
        try:
            for done, future in enumerate(futures, start=1):
                result = future.result()
                future.release()
                yield result
                if report is not None:
                    report(done, total)
        finally:
            for f in futures:
                f.release()
            for s in scattered:
                s.release()

    def close(self) -> None:
        """Close the client and the local cluster it started (if any)."""
        with contextlib.suppress(Exception):
            self.client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()

    def __enter__(self) -> DistributedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DistributedExecutor(kind={self.kind!r}, address={self.address!r})"


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


def _worth_scattering(arg: Any) -> bool:
    """Small scalars travel inside the task; everything else is scattered once."""
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
    timeout_s: float = _CONNECT_TIMEOUT_S,
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
        Seconds to wait for the scheduler (s).

    Returns
    -------
    LocalExecutor or DistributedExecutor
        Both have ``.map(func, items, *args) -> list`` (item order), ``.kind``,
        ``.address``, ``.n_workers`` and ``.close()``.

    Raises
    ------
    NetsimError
        If the scheduler string is malformed or the scheduler cannot be reached
        within ``timeout_s`` (one line naming the address, with a hint).
    """
    resolved = resolve_scheduler(scheduler)
    if resolved is None:
        return LocalExecutor(progress)

    from distributed import Client, LocalCluster

    match = _LOCAL_RE.match(resolved)
    if match:
        n = int(match.group(1)) if match.group(1) else (os.cpu_count() or 1)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        try:
            client = Client(cluster, timeout=timeout_s)
        except BaseException:
            cluster.close()
            raise
        return DistributedExecutor(client, kind="local-cluster", cluster=cluster, progress=progress)

    try:
        client = Client(resolved, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NetsimError(
            f"cannot reach the dask scheduler at {resolved} within {timeout_s:g} s ({reason}); "
            f"start one with `dask scheduler --port PORT` and `dask worker {resolved}`, "
            f"or drop --scheduler / unset {SCHEDULER_ENV} to run in-process"
        ) from None
    return DistributedExecutor(client, kind="distributed", progress=progress)


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

