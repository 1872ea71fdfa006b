"""What every benchmark JSON records about the machine it ran on."""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(*modules: str) -> dict:
    """Platform, CPU, core count, Python, netsim and ``modules``' versions, load average.

    The load average matters on a 2-core machine: another job running doubles timings.
    """
    info = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }
    for name in ("netsim", *modules):
        info[name] = importlib.import_module(name).__version__
    return info
