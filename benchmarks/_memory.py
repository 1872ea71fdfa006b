"""Memory of a process tree: a run's own process, its forkserver and its helper workers.

Summing each process's peak RSS (``VmHWM``) counts every shared page once per process:
the shared libraries' code (LLVM alone maps ~70 MB) is counted in each.  The
proportional set size (PSS) splits a shared page between the processes that map it, so
the PSS summed over the tree is the memory the run occupies.  Linux keeps no peak of
it: :class:`TreeMemory` samples it (and the summed RSS) every ``interval`` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(parent, []).append(int(entry.name))
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def rss_and_pss_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB (0, 0 when it is gone)."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                values[key] = int(rest.split()[0]) / 1024
    except (OSError, ValueError):
        return 0.0, 0.0
    return values.get("Rss", 0.0), values.get("Pss", 0.0)


class TreeMemory:
    """Peaks of the summed PSS and RSS of ``pid``'s process tree, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_pss_mb = self.peak_rss_mb = 0.0
        self.processes_at_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        if not os.path.exists("/proc/self/smaps_rollup"):
            return
        while not self._stop.is_set():
            pids = tree(self.pid)
            both = [rss_and_pss_mb(p) for p in pids]
            pss = sum(p for _, p in both)
            if pss > self.peak_pss_mb:
                self.peak_pss_mb, self.processes_at_peak = pss, sum(1 for r, _ in both if r)
            self.peak_rss_mb = max(self.peak_rss_mb, sum(r for r, _ in both))
            time.sleep(self.interval)
