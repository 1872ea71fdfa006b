"""Shared test helpers: real ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1;
no caches on disk for the tests and the commands they start."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """No text caches on disk (:mod:`netsim.glyph_store`) unless a test sets a directory:
    every test draws cold, and nothing is left in the user's ``~/.cache``."""
    os.environ["NETSIM_CACHE_DIR"] = ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_command(sub: str) -> list[str]:
    """The ``dask scheduler`` / ``dask worker`` command of this interpreter's environment."""
    exe = Path(sys.executable).parent / "dask"
    if exe.exists():
        return [str(exe), sub]
    return [sys.executable, "-m", f"distributed.cli.dask_{sub}"]


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a process group started with ``start_new_session``; SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


class DaskProcesses:
    """Start a scheduler and workers as separate process groups; kill them all in :meth:`close`.

    Parameters
    ----------
    tmp
        Directory for logs and worker directories.
    env
        Extra environment variables (e.g. ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``).
    """

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._logs: list = []

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        self._logs.append(log)
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                                env=self.env, start_new_session=True)

    def start_scheduler(self) -> subprocess.Popen:
        args = [*dask_command("scheduler"), "--host", "127.0.0.1", "--port", str(self.port),
                "--no-dashboard"]
        self.scheduler = self._spawn(args, "scheduler")
        return self.scheduler

    def start_worker(self, name: str) -> subprocess.Popen:
        """A single-threaded ``dask worker`` (with its nanny) named ``name``."""
        args = [*dask_command("worker"), self.address, "--nthreads", "1", "--no-dashboard",
                "--local-directory", str(self.tmp / name), "--name", name]
        proc = self._spawn(args, name)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout_s: float = 60.0) -> None:
        """Block until ``n`` workers are connected, or fail the test with the logs."""
        from distributed import Client

        deadline = time.monotonic() + timeout_s
        try:
            with Client(self.address, timeout=timeout_s) as client:
                while len(client.scheduler_info(n_workers=-1)["workers"]) < n:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    time.sleep(0.2)
        except (OSError, TimeoutError):
            logs = "\n".join(p.read_text(errors="replace") for p in self.tmp.glob("*.log"))
            pytest.fail(f"{n} dask workers did not connect within {timeout_s:g} s:\n{logs}")

    def close(self) -> None:
        for proc in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            kill_group(proc)
        for log in self._logs:
            log.close()


@pytest.fixture
def dask_processes(tmp_path):
    """A factory of :class:`DaskProcesses` whose processes are killed after the test."""
    started: list[DaskProcesses] = []

    def make(env: dict[str, str] | None = None) -> DaskProcesses:
        (tmp_path / "dask").mkdir(exist_ok=True)
        procs = DaskProcesses(tmp_path / "dask", env)
        started.append(procs)
        return procs

    yield make
    for procs in started:
        procs.close()
