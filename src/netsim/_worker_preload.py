"""What the helper workers' forkserver imports before forking them (:mod:`netsim.workers`):
nothing heavy.  Only that server process imports this module.

Ctrl-C is the run's business (it stops its workers and reports one line): the server
ignores it from here on, and so do the workers it forks.

The workers import the realisation and drawing modules themselves
(:func:`netsim.workers._worker_start`).  A server that had imported them would hold
~250 MB for the whole run, and a forked worker shares few of those pages for long:
CPython's reference counts write to nearly every object it touches.
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
