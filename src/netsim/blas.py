"""One BLAS thread inside netsim's own computations: same seed, same bytes.

A multi-threaded BLAS splits a matrix product differently with 1, 2 or N
threads, and the floating-point results differ in their last bits (measured on
a 2-core AMD EPYC: OpenBLAS ``sgemm`` of the truth's random-field lattice changed
364 of 1,369 values by up to 1.3e-6 between 1 and 2 threads).  dask's nanny
starts workers with ``OPENBLAS_NUM_THREADS=1`` while the parent process uses
every core, so a run's outputs would depend on where it ran.

netsim therefore runs every BLAS/LAPACK call of its own computations on one
thread, whatever ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or
``MKL_NUM_THREADS`` say, and does its parallel work in numba kernels whose
reduction order does not depend on the thread count (each output element is
summed by one thread in a fixed order).  The user's own thread settings are
restored on exit.  :func:`single_threaded_blas` is the one switch; the BLAS
libraries are found by :mod:`threadpoolctl` (NumPy's and SciPy's bundled
OpenBLAS, MKL, BLIS).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

__all__ = ["single_threaded_blas"]

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"depth": 0, "saved": []}


@lru_cache(maxsize=1)
def _blas_libraries() -> tuple[Any, ...]:
    """Controllers of the BLAS libraries NumPy and SciPy loaded (found once per process)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS/LAPACK)
    from threadpoolctl import ThreadpoolController

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the enclosed code with every BLAS library on one thread.

    Usable as a context manager or a decorator.  The thread count is a
    process-wide setting, so entries are counted: the first one (in any
    thread) sets one thread, the last one out restores the user's settings.
    Costs a few microseconds (one ``get``/``set`` call per library).
    """
    libraries = _blas_libraries()
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["saved"] = [lib.num_threads for lib in libraries]
            for lib in libraries:
                lib.set_num_threads(1)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0:
                for lib, n in zip(libraries, _STATE["saved"], strict=True):
                    lib.set_num_threads(n)
