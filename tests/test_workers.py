"""netsim.workers: the helper processes, and sharing a list of tasks with them.

The tasks below are module-level functions: a worker imports this module by name (pytest
puts the tests folder on ``sys.path``, which the forkserver inherits).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from netsim import workers
from netsim.distributed import LocalExecutor
from netsim.errors import NetsimError


def _square_where(item: int, pause_s: float) -> tuple[int, int]:
    """(item², the pid that computed it), after a pause."""
    time.sleep(pause_s)
    return item * item, os.getpid()


def _fails_at_five(item: int) -> int:
    if item == 5:
        raise NetsimError("item 5: bad input; fix it")
    return item


def _dies_in_a_worker(item: int, main_pid: int) -> int:
    if os.getpid() != main_pid:
        os._exit(3)  # a killed worker: the pool breaks
    time.sleep(0.2)  # the worker dies meanwhile
    return item + 1


def _numba_start_lock_name(item: int) -> str | None:
    """The system name of numba's start-up process lock where this runs (None: unnamed)."""
    import numba
    from numba.np.ufunc import parallel

    numba.get_num_threads()  # numba's threads (and their lock) exist from here on
    return getattr(getattr(parallel._backend_init_process_lock, "_semlock", None), "name",
                   None)


def _numba_threads_here(item: int) -> int:
    import numba

    return numba.get_num_threads()


def _slow_in_a_worker(item: int, main_pid: int, flag: str) -> int:
    """The pid that computed ``item``: a worker's after 0.2 s (then ``flag`` exists); this
    process's once a worker has finished an item, after 0.02 s."""
    if os.getpid() != main_pid:
        time.sleep(0.2)
        Path(flag).touch()
        return os.getpid()
    deadline = time.monotonic() + 30.0
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.02)
    return os.getpid()


def _collector_state(item: int) -> tuple[bool, bool]:
    """(the cyclic collector is on, objects are frozen) where this runs."""
    import gc

    return gc.isenabled(), gc.get_freeze_count() > 0


@pytest.fixture
def one_worker(monkeypatch):
    """A pool of one warm worker (a finished task proves it runs)."""
    monkeypatch.setenv(workers.WORKERS_ENV, "1")
    pool = workers.pool()
    assert pool is not None
    assert workers.submit(pool, _square_where, 3, 0.0).result()[0] == 9
    return pool


def test_shared_tasks_come_back_in_order_and_the_worker_takes_the_last(one_worker):
    results = list(workers.share(_square_where, list(range(10)), (0.05,), one_worker))
    assert [value for value, _ in results] == [i * i for i in range(10)]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid()  # this process starts from the first item
    assert pids[-1] != os.getpid()  # a warm worker takes the last one
    first_worker_item = next(i for i, pid in enumerate(pids) if pid != os.getpid())
    assert set(pids[first_worker_item:]) == {pids[-1]}  # one block at the end
    assert 2 <= first_worker_item <= 8


def test_idle_runs_once_when_this_process_first_waits_for_a_worker(one_worker, tmp_path):
    """The run prepares its web map while it waits for its helpers' last realisations."""
    yielded: list[int] = []
    idle_after: list[int] = []
    args = (os.getpid(), str(tmp_path / "a_worker_finished"))
    for pid in workers.share(_slow_in_a_worker, list(range(16)), args, one_worker,
                             idle=lambda: idle_after.append(len(yielded))):
        yielded.append(pid)
    assert len(idle_after) == 1
    mine = [i for i, pid in enumerate(yielded) if pid == os.getpid()]
    assert mine == list(range(idle_after[0]))  # after every item of this process ...
    assert yielded[idle_after[0]] != os.getpid()  # ... before the first of a worker's


def test_idle_is_not_called_without_helpers():
    called: list[bool] = []
    with LocalExecutor() as alone:
        assert list(alone.imap(_square_where, range(3), 0.0, idle=lambda: called.append(True)))
    assert called == []


def test_local_executor_shares_only_when_asked(one_worker):
    with LocalExecutor(helpers=True) as shared, LocalExecutor() as alone:
        assert {pid for _, pid in shared.map(_square_where, range(8), 0.05)} != {os.getpid()}
        assert {pid for _, pid in alone.map(_square_where, range(8), 0.05)} == {os.getpid()}
        assert (shared.helper_workers, alone.helper_workers) == (1, 0)


def test_no_workers_means_everything_in_process(monkeypatch):
    monkeypatch.setenv(workers.WORKERS_ENV, "0")
    assert workers.pool() is None
    with LocalExecutor(helpers=True) as ex:
        assert {pid for _, pid in ex.map(_square_where, range(4), 0.0)} == {os.getpid()}
        assert ex.helper_workers == 0


def test_a_task_error_is_raised_at_its_place_in_the_order(one_worker):
    seen = []
    with pytest.raises(NetsimError, match="item 5: bad input"):
        for value in workers.share(_fails_at_five, list(range(9)), (), one_worker):
            seen.append(value)
    assert seen == [0, 1, 2, 3, 4]


def test_a_killed_worker_leaves_its_tasks_to_this_process(one_worker):
    results = list(workers.share(_dies_in_a_worker, list(range(6)), (os.getpid(),),
                                 one_worker))
    assert results == [1, 2, 3, 4, 5, 6]
    assert workers.pool() is not one_worker  # the broken pool is replaced on next use


def test_worker_count_setting(monkeypatch):
    monkeypatch.delenv(workers.WORKERS_ENV, raising=False)
    monkeypatch.setenv("NETSIM_PICTURE_WORKERS", "3")  # the older name still counts
    assert workers.helper_workers() == 3
    monkeypatch.setenv(workers.WORKERS_ENV, "0")  # the new name wins
    assert workers.helper_workers() == 0


@pytest.mark.slow
def test_a_run_gives_the_same_bytes_with_and_without_a_worker(tmp_path, monkeypatch):
    """4 realisations of a tiny baseline: with one helper worker (it takes realisations
    from the end) and with none, every output is the same."""
    from test_distributed import _assert_same_outputs, _tiny_scenario

    from netsim.run import run_scenario

    scenario = _tiny_scenario(Path(__file__).resolve().parents[1] / "scenarios"
                              / "fyp14_expansion.yaml")
    for count in ("0", "1"):
        monkeypatch.setenv(workers.WORKERS_ENV, count)
        run_scenario(scenario, tmp_path / count, realisations=4, seed=3)
    _assert_same_outputs(tmp_path / "0", tmp_path / "1")
    for count in ("0", "1"):  # the summary says who computed the realisations
        summary = json.loads((tmp_path / count / "summary.json").read_text())
        assert summary["executor"]["helper_workers"] == int(count)


def test_a_worker_holds_no_named_semaphore_that_a_stop_would_leak(one_worker):
    """A named semaphore is recorded by multiprocessing's resource tracker, which prints
    "There appear to be 1 leaked semaphore objects" after a Ctrl-C'd run's one-line
    report when the worker holding it was terminated (seen in CI)."""
    assert workers.submit(one_worker, _numba_start_lock_name, 0).result() is None


def test_a_worker_runs_numba_on_one_thread(one_worker):
    """The run's process has the other core (the workers' tasks, shared or pictures)."""
    assert workers.submit(one_worker, _numba_threads_here, 0).result() == 1
    shared = list(workers.share(_numba_threads_here, list(range(6)), (), one_worker))
    assert shared == [1] * 6  # this process too, while it shares


def test_warm_runs_the_preparation_in_each_worker(one_worker, tmp_path):
    """warm(prepare) runs ``module:function(*args)`` in the (running) worker, before the
    tasks submitted after it."""
    marker = tmp_path / "prepared"
    workers.warm(("os:mkdir", (str(marker),)))
    assert workers.submit(one_worker, _square_where, 2, 0.0).result()[0] == 4
    assert marker.is_dir()
    nested = tmp_path / "with" / "keywords"
    workers.warm(("os:makedirs", (str(nested),), {"exist_ok": True}))
    assert workers.submit(one_worker, _square_where, 3, 0.0).result()[0] == 9
    assert nested.is_dir()


def test_a_worker_freezes_its_imports_and_collects_again(one_worker):
    """The collector is off while a worker imports its modules, then on (imports frozen)."""
    assert workers.submit(one_worker, _collector_state, 0).result() == (True, True)
