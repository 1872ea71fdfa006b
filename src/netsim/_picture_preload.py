"""What the drawing workers' forkserver imports before forking them (:mod:`netsim.pictures`).

The server first lowers its own priority (workers forked from it inherit it), so that
importing matplotlib while a run's realisations keep both cores busy takes only the CPU
they leave.  Only that server process imports this module.
"""

import contextlib
import os

with contextlib.suppress(AttributeError, OSError):  # os.nice: POSIX only
    os.nice(10)

import netsim.charts
import netsim.maps  # noqa: F401
