"""Chunks of targets: solved on several threads, the same bits as one after another.

Global kriging of more than 8 value vectors forms its estimates with one BLAS-3
product per chunk; the chunks are then solved a window at a time, one per thread.
Each chunk's arithmetic does not depend on the thread that runs it, so the results
must be the bits of the sequential run (numba on one thread), and BLAS's own thread
count must be what it was once the chunks are done.

The compiled kernels must also give the same bits whether numba compiles them in
this process or loads them from its cache: ``fastmath`` flags that let LLVM
approximate a square root or a division made the two differ (by ~1e-12).
"""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from netsim import Variogram, krige, krige_chunks
from netsim.kriging import api

MODELS = [
    Variogram("spherical", 80.0, 20_000.0, 5.0),
    Variogram("exponential", 80.0, 20_000.0, 5.0),
    Variogram("linear", 0.004, 1.0, 5.0),
]


def _problem(steps: int, gaps: bool):
    rng = np.random.default_rng(11)
    xy = rng.uniform(0.0, 50_000.0, (40, 2))
    z = 40.0 + 10.0 * rng.standard_normal((steps, 40))
    if gaps:
        z[::5, 3] = np.nan  # a second availability pattern
        z[::7, 9] = np.nan  # and a third
    targets = rng.uniform(-2_000.0, 52_000.0, (3_300, 2))
    return xy, z, targets


def _with_threads(n: int, func):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(n)
        return func()
    finally:
        numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("gaps", [False, True], ids=["one-pattern", "three-patterns"])
@pytest.mark.parametrize("vg", MODELS, ids=lambda v: v.model)
def test_chunks_on_two_threads_give_the_sequential_bits(vg, gaps):
    xy, z, targets = _problem(20, gaps)
    assert api._chunks_in_parallel(api._Problem(
        xy, z, vg, method="ordinary", n_neighbours=None, mean=None, linear_drift=False,
        external_drift=None, n_targets=None, variance=True, noise_variance=None))
    # 5 chunks: two full windows of two and a last window of one
    one = _with_threads(1, lambda: krige(xy, z, targets, vg, chunk_size=700))
    two = _with_threads(2, lambda: krige(xy, z, targets, vg, chunk_size=700))
    assert one.estimate.tobytes() == two.estimate.tobytes()
    assert one.variance.tobytes() == two.variance.tobytes()
    assert np.isfinite(two.estimate).all()


@pytest.mark.skipif(api._BLAS is None, reason="NumPy's OpenBLAS not found")
def test_blas_threads_are_restored_between_and_after_windows():
    xy, z, targets = _problem(12, False)
    get, _ = api._BLAS
    before = get()
    if before < 2:
        pytest.skip("BLAS runs on one thread anyway")

    def consume() -> list[int]:
        chunks = krige_chunks(xy, z, targets, MODELS[0], chunk_size=500)
        seen = []
        for sl, _ in chunks:  # windows of two chunks: numba has 2 threads here
            seen.append(get())  # the consumer runs with BLAS's own setting
            if sl.start >= 1_500:
                break  # abandoned half-way
        chunks.close()
        return seen

    seen = _with_threads(2, consume)
    assert len(seen) == 4
    assert seen == [before] * len(seen)
    assert get() == before


def test_few_steps_and_local_kriging_stay_on_the_calling_thread():
    xy, z, _ = _problem(8, False)
    kwargs = dict(method="ordinary", mean=None, linear_drift=False, external_drift=None,
                  n_targets=None, variance=True, noise_variance=None)
    assert not api._chunks_in_parallel(api._Problem(xy, z, MODELS[0], n_neighbours=None,
                                                    **kwargs))  # the kernel forms them
    xy, z, _ = _problem(20, False)
    assert not api._chunks_in_parallel(api._Problem(xy, z, MODELS[0], n_neighbours=12,
                                                    **kwargs))  # parallel inside the kernel


_KRIGE_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from netsim import Variogram, krige
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 50_000, (60, 2))
    z = 40 + 10 * rng.standard_normal((3, 60))
    targets = rng.uniform(0, 50_000, (5_000, 2))
    out = []
    for vg in (Variogram("exponential", 80.0, 20_000.0, 5.0),
               Variogram("linear", 0.004, 1.0, 5.0),
               Variogram("spherical", 80.0, 20_000.0, 5.0)):
        for method, mean in (("ordinary", None), ("simple", 40.0)):
            if vg.model == "linear" and method == "simple":
                continue
            r = krige(xy, z, targets, vg, method=method, mean=mean)
            out += [r.estimate, r.variance]
    np.save(sys.argv[1], np.concatenate([a.ravel() for a in out]))
    """
)


def test_global_kernels_give_the_same_bits_compiled_and_loaded_from_cache(tmp_path):
    """First run on a machine (numba compiles) and later runs (cache) agree bit for bit."""
    script = tmp_path / "krige_once.py"
    script.write_text(_KRIGE_SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    for name in ("compiled", "cached"):
        subprocess.run([sys.executable, str(script), str(tmp_path / f"{name}.npy")],
                       env=env, check=True, timeout=600)
    assert any((tmp_path / "numba_cache").rglob("*.nbi"))  # the second run could load them
    compiled = np.load(tmp_path / "compiled.npy")
    cached = np.load(tmp_path / "cached.npy")
    assert compiled.tobytes() == cached.tobytes()
