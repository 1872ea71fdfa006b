"""What the helper workers' forkserver imports before forking them (:mod:`netsim.workers`):
the realisation modules (and ``threadpoolctl``, which a realisation's first BLAS setting
imports) and matplotlib's drawing modules, once.  Only that server process imports this
module.

Ctrl-C is the run's business (it stops its workers and reports one line): the server
ignores it from here on, and so do the workers it forks.

The imported objects are then frozen (:func:`gc.freeze`): the workers inherit them for
life, and the cyclic collector's full passes skip them.
"""

import gc
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)

import threadpoolctl  # noqa: E402, F401

import netsim.charts  # noqa: E402
import netsim.maps  # noqa: E402
import netsim.run  # noqa: E402, F401

gc.freeze()  # the workers keep these objects for life: no cyclic collection passes over them
