"""netsim.distributed: every cluster fault ends in one ClusterError line, in bounded time.

Each fault is staged for real on 127.0.0.1: ports that refuse, stay silent, speak
HTTP or another protocol; a ``dask scheduler`` without workers; a scheduler or
all workers killed (SIGKILL of their process groups) after the first result; a
task that kills its worker.  One killed worker out of two must be survived with
results identical to the in-process run.  Timeouts are set small here; the time
bounds are generous because the machine is shared.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from conftest import free_port, kill_group

from netsim.distributed import WORKER_TIMEOUT_ENV, get_executor
from netsim.errors import ClusterError, NetsimError

# Workers cannot import this test module: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: Upper bound on the time from a fault to the error (s); the timeouts below are 2-3 s.
BOUND_S = 60.0


def _slow_square(item: int, delay_s: float) -> int:
    time.sleep(delay_s)
    return item * item


def _slow_field(seed: int, weights: np.ndarray, delay_s: float) -> np.ndarray:
    """A pure task with a shared (array) argument."""
    time.sleep(delay_s)
    rng = np.random.default_rng(seed)
    return np.sort(rng.normal(size=(32, weights.size)) @ weights)


def _dies(item: str) -> None:
    os._exit(1)


def _raises_key_error(item: int) -> int:
    raise KeyError(f"item {item}")


def _raises_netsim_error(item: int) -> int:
    raise NetsimError(f"item {item}: bad input; fix it")


def _assert_one_line(error: BaseException, address: str) -> str:
    assert isinstance(error, ClusterError)
    message = str(error)
    assert "\n" not in message
    assert address in message
    assert "in-process" in message
    return message


def _assert_quiet(capfd) -> None:
    """Nothing dask logged on stderr: no traceback, no ERROR line."""
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ERROR" not in err, err


@contextlib.contextmanager
def _server(handle) -> Iterator[str]:
    """A TCP server on 127.0.0.1 calling ``handle(conn)`` for each connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conns.append(conn)
                handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for conn in conns:
            conn.close()


def _wait_for_port(address: str, timeout_s: float = 60.0) -> None:
    host, port = address.removeprefix("tcp://").split(":")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listens on {address} after {timeout_s:g} s")
            time.sleep(0.2)


# ---------------------------------------------------------------------------
# connecting


def test_port_with_nothing_listening_says_so():
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        get_executor(address, timeout_s=1.0)
    assert "nothing is listening" in _assert_one_line(info.value, address)
    assert time.monotonic() - start < 15


def test_silent_port_fails_within_the_connect_timeout():
    with _server(lambda conn: None) as address:
        start = time.monotonic()
        with pytest.raises(ClusterError) as info:
            get_executor(address, timeout_s=2.0)
        elapsed = time.monotonic() - start
    assert "no dask handshake within 2 s" in _assert_one_line(info.value, address)
    assert 2.0 <= elapsed < 15


def test_http_server_is_named():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        start = time.monotonic()
        with pytest.raises(ClusterError) as info:
            get_executor(address, timeout_s=2.0)
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP server" in _assert_one_line(info.value, address)
    assert elapsed < 15


def test_other_protocol_is_not_taken_for_dask():
    with _server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")) as address:
        with pytest.raises(ClusterError) as info:
            get_executor(address, timeout_s=2.0)
    message = _assert_one_line(info.value, address)
    assert "SSH-2.0" in message and "not the dask protocol" in message


def test_server_that_stalls_after_a_dask_like_header_hits_the_hard_limit(capfd):
    """dask's own client waits forever for the rest of a handshake; netsim does not."""
    header = (16).to_bytes(8, "little")  # what a dask message starts with: its length
    with _server(lambda conn: conn.sendall(header)) as address:
        start = time.monotonic()
        with pytest.raises(ClusterError) as info:
            get_executor(address, timeout_s=2.0)
        elapsed = time.monotonic() - start
    assert "cannot connect" in _assert_one_line(info.value, address)
    assert elapsed < 15
    _assert_quiet(capfd)


def test_bad_timeout_environment_variable_is_one_line_error(monkeypatch):
    monkeypatch.setenv(WORKER_TIMEOUT_ENV, "soon")
    with pytest.raises(NetsimError, match=f"{WORKER_TIMEOUT_ENV}='soon'.*seconds > 0"):
        get_executor("tcp://127.0.0.1:9")


@pytest.mark.slow
def test_cli_run_against_silent_port_prints_one_error_line(tmp_path):
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2020.yaml"
    with _server(lambda conn: None) as address:
        proc = subprocess.run(
            [sys.executable, "-m", "netsim.cli", "run", str(scenario), "--out",
             str(tmp_path / "run"), "--realisations", "1", "--scheduler", address],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "NETSIM_DASK_CONNECT_TIMEOUT": "2", "COLUMNS": "400"},
        )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    assert address in errors[0] and "no dask handshake" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------
# a real scheduler


@pytest.mark.cluster
def test_scheduler_without_workers_fails_after_the_worker_timeout(dask_processes, capfd):
    procs = dask_processes()
    procs.start_scheduler()
    _wait_for_port(procs.address)
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        get_executor(procs.address, timeout_s=10.0, worker_timeout_s=2.0)
    elapsed = time.monotonic() - start
    message = _assert_one_line(info.value, procs.address)
    assert "no workers after waiting 2 s" in message and "dask worker" in message
    assert 2.0 <= elapsed < BOUND_S
    _assert_quiet(capfd)


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.parametrize("method", ["map", "imap"])
def test_scheduler_killed_mid_run(dask_processes, capfd, method):
    procs = dask_processes()
    procs.start_scheduler()
    procs.start_worker("w0")
    procs.wait_for_workers(1)
    killed_at: list[float] = []

    def kill_scheduler_after_first(done: int, total: int) -> None:
        if done == 1:
            kill_group(procs.scheduler, signal.SIGKILL)
            killed_at.append(time.monotonic())

    with get_executor(procs.address, timeout_s=3.0, worker_timeout_s=3.0) as ex:
        run = getattr(ex, method)
        with pytest.raises(ClusterError) as info:
            list(run(_slow_square, range(8), 0.3, progress=kill_scheduler_after_first))
    elapsed = time.monotonic() - killed_at[0]
    message = _assert_one_line(info.value, procs.address)
    assert "lost the connection to the dask scheduler" in message and "restart" in message
    assert elapsed < BOUND_S
    _assert_quiet(capfd)


@pytest.mark.cluster
@pytest.mark.slow
def test_all_workers_killed_mid_run(dask_processes, capfd):
    """Tasks, and the shared array lost with the workers, wait for a worker until the timeout."""
    procs = dask_processes()
    procs.start_scheduler()
    for name in ("w0", "w1"):
        procs.start_worker(name)
    procs.wait_for_workers(2)
    killed_at: list[float] = []

    def kill_workers_after_first(done: int, total: int) -> None:
        if done == 1:
            for worker in procs.workers:
                kill_group(worker, signal.SIGKILL)
            killed_at.append(time.monotonic())

    with get_executor(procs.address, timeout_s=3.0, worker_timeout_s=3.0) as ex:
        with pytest.raises(ClusterError) as info:
            ex.map(_slow_field, range(8), np.linspace(0, 1, 8), 0.3,
                   progress=kill_workers_after_first)
    elapsed = time.monotonic() - killed_at[0]
    message = _assert_one_line(info.value, procs.address)
    assert "all workers" in message and "no worker for 3 s" in message
    assert "dask worker" in message
    assert 3.0 <= elapsed < BOUND_S
    _assert_quiet(capfd)


@pytest.mark.cluster
@pytest.mark.slow
def test_one_killed_worker_is_survived_with_identical_results(dask_processes, capfd):
    procs = dask_processes()
    procs.start_scheduler()
    for name in ("w0", "w1"):
        procs.start_worker(name)
    procs.wait_for_workers(2)
    weights = np.linspace(-1.0, 1.0, 16)
    seeds = list(range(10))
    expected = get_executor("sync").map(_slow_field, seeds, weights, 0.0)

    def kill_one_worker_after_first(done: int, total: int) -> None:
        if done == 1:
            kill_group(procs.workers[0], signal.SIGKILL)

    with get_executor(procs.address, timeout_s=3.0, worker_timeout_s=3.0) as ex:
        assert ex.n_workers == 2
        got = list(ex.imap(_slow_field, seeds, weights, 0.3,
                           progress=kill_one_worker_after_first))
        assert ex.n_workers == 1
    assert procs.workers[0].poll() is not None
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    _assert_quiet(capfd)


@pytest.mark.cluster
@pytest.mark.slow
def test_task_that_kills_its_worker_is_named_and_task_errors_keep_their_type(dask_processes):
    """With allowed-failures 0, the first worker death of a task is a KilledWorker.

    dask blames every task queued on a dying worker, so a single task is used.
    """
    procs = dask_processes({"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    procs.start_scheduler()
    procs.start_worker("w0")
    procs.wait_for_workers(1)
    with get_executor(procs.address, timeout_s=3.0, worker_timeout_s=30.0) as ex:
        with pytest.raises(KeyError, match="item 0"):
            ex.map(_raises_key_error, range(2))
        with pytest.raises(NetsimError, match="item 0: bad input") as info:
            ex.map(_raises_netsim_error, range(2))
        assert not isinstance(info.value, ClusterError)
        start = time.monotonic()
        with pytest.raises(ClusterError) as info:
            ex.map(_dies, ["realisation-7"])
    message = _assert_one_line(info.value, procs.address)
    assert "task for item 0 ('realisation-7') killed 1 worker" in message
    assert time.monotonic() - start < BOUND_S

