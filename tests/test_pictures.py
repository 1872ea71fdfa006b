import hashlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from netsim import pictures, workers
from netsim.errors import GeographyError, NetsimError
from netsim.grid import Grid
from netsim.maps import static_map


def _field(grid: Grid, shift: float) -> np.ndarray:
    x, y = grid.targets().T
    return 30.0 + shift + 1e-4 * (x - x.mean()) - 2e-4 * (y - y.mean())


def _with_a_worker(folder) -> None:
    """Draw one picture through the pool, so its worker is running."""
    grid = Grid.for_beijing(5000)
    with pictures.Pictures() as queue:
        queue.add(static_map, grid, _field(grid, 9), pollutant="PM2.5", limit=None,
                  path=folder / "first.png")


def _draw_three(folder, workers: str, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("NETSIM_WORKERS", workers)
    grid = Grid.for_beijing(5000)
    with pictures.Pictures() as queue:
        for i in range(3):
            queue.add(static_map, grid, _field(grid, i), pollutant="PM2.5", limit=35.0,
                      title=f"map {i}", path=folder / f"m{i}.png")
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.glob("*.png")}


def test_workers_and_in_process_draw_the_same_bytes(tmp_path, monkeypatch):
    (tmp_path / "pool").mkdir()
    (tmp_path / "here").mkdir()
    pooled = _draw_three(tmp_path / "pool", "1", monkeypatch)
    here = _draw_three(tmp_path / "here", "0", monkeypatch)
    assert len(pooled) == 3 and pooled == here
    assert len(set(here.values())) == 3  # three different pictures


@pytest.mark.parametrize("jobs", [1, 4])
def test_a_workers_error_is_raised_in_the_run(tmp_path, monkeypatch, jobs):
    """One job (the worker draws it) or several (some drawn in-process): the error of
    static_map reaches the caller, after every started job has ended."""
    monkeypatch.setenv("NETSIM_WORKERS", "1")
    (tmp_path / "warm").mkdir()
    _with_a_worker(tmp_path / "warm")
    grid = Grid.for_beijing(5000)
    with pytest.raises(GeographyError, match="has_value must be 0 booleans"):
        with pictures.Pictures() as queue:
            queue.add(static_map, grid, _field(grid, 0), pollutant="PM2.5", limit=None,
                      has_value=np.zeros(2, bool), path=tmp_path / "bad.png")
            time.sleep(0.5)  # the worker has taken the first job
            for i in range(1, jobs):
                queue.add(static_map, grid, _field(grid, i), pollutant="PM2.5", limit=None,
                          path=tmp_path / f"good{i}.png")
    assert not (tmp_path / "bad.png").exists()
    assert len(list(tmp_path.glob("good*.png"))) == jobs - 1


@pytest.fixture
def drawn_here(tmp_path, monkeypatch) -> list[str]:
    """Names of the jobs drawn in this process (their first argument's file name), with a
    running worker and LEFT_TO_WORKERS = 3."""
    monkeypatch.setenv("NETSIM_WORKERS", "1")
    (tmp_path / "warm").mkdir()
    _with_a_worker(tmp_path / "warm")
    here: list[str] = []
    resolve = workers.resolve

    def recording(job):
        function = resolve(job)
        return lambda *args, **kwargs: here.append(Path(args[0]).name) or function(*args,
                                                                                  **kwargs)

    monkeypatch.setattr(workers, "resolve", recording)
    monkeypatch.setattr(pictures, "LEFT_TO_WORKERS", 3)
    return here


def _keep_the_worker_busy(queue: pictures.Pictures) -> None:
    """Queue a 1.5 s job and wait until the worker runs it."""
    queue.add("time:sleep", 1.5)
    started = time.monotonic()
    while not queue._jobs[0][3].running() and time.monotonic() - started < 10:
        time.sleep(0.01)


def test_finish_draws_the_newest_jobs_beyond_those_left_to_the_workers(tmp_path,
                                                                       drawn_here):
    """While the worker is busy, finish draws in-process the newest of the jobs not yet
    started, leaving the LEFT_TO_WORKERS oldest to the worker; every job is done."""
    with pictures.Pictures() as queue:
        _keep_the_worker_busy(queue)
        for i in range(10):
            queue.add("os:mkdir", str(tmp_path / f"d{i}"))
    assert all((tmp_path / f"d{i}").is_dir() for i in range(10))
    assert drawn_here and not {"d0", "d1", "d2"} & set(drawn_here)  # the worker's three
    newest_first = [f"d{i}" for i in range(9, -1, -1)]
    assert drawn_here == newest_first[:len(drawn_here)]  # the newest, newest first


def test_a_job_added_first_goes_ahead_of_the_jobs_not_started(tmp_path, drawn_here):
    """add_first puts a job before those no worker has been handed yet: finish then leaves
    it, and the two oldest of the others, to the busy worker, and draws the rest here,
    newest first."""
    with pictures.Pictures() as queue:
        _keep_the_worker_busy(queue)
        for i in range(10):
            queue.add("os:mkdir", str(tmp_path / f"d{i}"))
        queue.add_first("os:mkdir", str(tmp_path / "first"))
        # the pool hands a job or two on to its worker's queue at once: those stay ahead
        handed = [Path(entry[1][0]).name for entry in queue._jobs[1:] if entry[3].running()]
        waiting = [Path(entry[1][0]).name for entry in queue._jobs[1:]
                   if not entry[3].running()]
        assert waiting[0] == "first" and waiting[1:] == sorted(waiting[1:],
                                                                key=lambda n: int(n[1:]))
        assert len(handed) <= 2 and "first" not in handed
    assert all((tmp_path / name).is_dir() for name in ["first"] + [f"d{i}" for i in range(10)])
    newest_first = waiting[::-1]
    assert drawn_here == newest_first[:len(drawn_here)]  # the newest, newest first
    assert len(drawn_here) >= len(waiting) - 3 - 1  # (the pool may hand on one more meanwhile)
    assert "first" not in drawn_here  # added last, but the worker's


def test_warm_starts_the_workers_without_waiting(monkeypatch):
    """warm() returns at once; the worker imports the drawing modules meanwhile."""

    monkeypatch.setenv("NETSIM_WORKERS", "1")
    started = time.perf_counter()
    pictures.warm()
    assert time.perf_counter() - started < 0.5
    assert len(workers.pool()._processes) == 1


def test_the_forkserver_imports_nothing_heavy(monkeypatch):
    """The forkserver lives as long as the run: it must not hold matplotlib, numba, pandas
    (~250 MB) besides the workers, which import them themselves."""
    from multiprocessing import forkserver

    monkeypatch.setenv("NETSIM_WORKERS", "1")
    pictures.warm()
    workers.submit(workers.pool(), abs, -1).result(timeout=120)  # a worker has started
    server = forkserver._forkserver._forkserver_pid
    status = Path(f"/proc/{server}/status").read_text()
    rss_kb = next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]
    rss_mb = int(rss_kb) / 1024
    assert rss_mb < 60, f"forkserver holds {rss_mb:.0f} MB"


def test_bad_worker_setting_is_one_line(monkeypatch):
    monkeypatch.setenv("NETSIM_WORKERS", "two")
    with pytest.raises(NetsimError, match="NETSIM_WORKERS='two': expected a whole"):
        pictures.picture_workers()
    monkeypatch.setenv("NETSIM_WORKERS", "3")
    assert pictures.picture_workers() == 3


def test_a_script_without_main_guard_is_not_run_again_by_the_workers(tmp_path):
    script = tmp_path / "planner.py"
    out = tmp_path / "m.png"
    script.write_text(textwrap.dedent(f"""
        import os
        os.environ["NETSIM_WORKERS"] = "2"
        print("script body ran", flush=True)
        from netsim.grid import Grid
        from netsim.maps import static_map
        from netsim.pictures import Pictures
        grid = Grid.for_beijing(5000)
        field = grid.targets()[:, 0] * 0 + 30.0
        with Pictures() as queue:
            for i in range(4):
                queue.add(static_map, grid, field, pollutant="PM2.5", limit=None,
                          path={str(tmp_path)!r} + f"/m{{i}}.png")
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body ran") == 1
    assert len(list(tmp_path.glob("m*.png"))) == 4 and not out.exists()


def _workers_here(queue) -> None:
    queue.put(pictures.picture_workers())


def test_a_daemonic_process_draws_in_process(monkeypatch):
    """A dask worker running a sweep's scenario is daemonic: it may not start processes."""
    import multiprocessing

    monkeypatch.setenv("NETSIM_WORKERS", "2")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_workers_here, args=(queue,), daemon=True)
    child.start()
    child.join(120)
    assert queue.get(timeout=10) == 0
    assert pictures.picture_workers() == 2


def test_workers_peak_memory_is_reported_per_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("NETSIM_WORKERS", "1")
    _with_a_worker(tmp_path)
    peaks = pictures.workers_peak_rss_mb()
    assert len(peaks) == 1 and 20 < peaks[0] < 2000  # a Python with matplotlib imported


def test_a_new_pool_after_a_worker_died(tmp_path, monkeypatch):
    """A worker killed (e.g. by Ctrl-C in a sweep) breaks the pool; the next run gets a new
    one instead of an error."""
    import os
    import signal

    monkeypatch.setenv("NETSIM_WORKERS", "1")
    _with_a_worker(tmp_path)
    for pid in list(workers._pool._processes):
        os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)
    grid = Grid.for_beijing(5000)
    with pictures.Pictures() as queue:
        queue.add(static_map, grid, _field(grid, 0), pollutant="PM2.5", limit=None,
                  path=tmp_path / "after.png")
    assert (tmp_path / "after.png").stat().st_size > 1000


class _Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_a_picture_is_drawn_with_the_collector_paused_and_its_garbage_freed():
    """No automatic collection runs while a job draws (many allocations, cyclic garbage
    left behind); the job's cycles are freed right after it; the collector is on again,
    also after a job that failed, and stays off for a caller that had turned it off."""
    import gc
    import weakref

    collections: list[int] = []
    left: list[weakref.ref] = []

    def job() -> str:
        for _ in range(50_000):  # far beyond the youngest generation's threshold
            left.append(weakref.ref(_Cycle())) if len(left) < 3 else _Cycle()
        return "drawn"

    def record(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(record)
    try:
        assert pictures._drawn(job, (), {}) == "drawn"
        during = collections[:-1]  # the last one: the collection after the job
    finally:
        gc.callbacks.remove(record)
    assert during == [] and collections[-1:] == [0]
    assert all(ref() is None for ref in left)  # the job's cycles are gone
    assert gc.isenabled()

    def failing() -> None:
        raise ValueError("broken picture")

    with pytest.raises(ValueError):
        pictures._drawn(failing, (), {})
    assert gc.isenabled()
    gc.disable()
    try:
        pictures._drawn(job, (), {})
        assert not gc.isenabled()
    finally:
        gc.enable()
