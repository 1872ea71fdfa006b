"""netsim.memory: freed heap goes back to the operating system."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netsim.memory import release_free_heap


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_freed_heap_is_returned():
    """200 MB of 64 KB blocks freed below a block still in use: glibc keeps those pages
    for reuse until release_free_heap hands them back."""
    blocks = [np.ones(8192) for _ in range(3200)]  # 64 KB each: heap, not mmap
    keep = np.ones(8192)  # above them: the heap cannot shrink from the top
    del blocks
    before = _rss_mb()
    assert release_free_heap()
    assert before - _rss_mb() > 100
    assert keep.sum() == 8192


def test_rebuildable_caches_are_dropped_together():
    from functools import lru_cache

    from netsim.memory import drop_rebuildable_caches, rebuildable

    calls = []

    @rebuildable
    @lru_cache(maxsize=1)
    def world(key: int) -> int:
        calls.append(key)
        return key * 2

    assert world(3) == 6 and world(3) == 6 and calls == [3]
    assert drop_rebuildable_caches()  # it held an entry
    assert world.cache_info().currsize == 0
    assert not any(cached.cache_info().currsize for cached in _rebuildable_list())
    assert not drop_rebuildable_caches()  # nothing held: no heap to hand back
    assert world(3) == 6 and calls == [3, 3]  # built again when needed


def _rebuildable_list() -> list:
    from netsim import memory

    return memory._rebuildable


def test_collector_paused_is_restored_after_a_failure_and_left_off_when_it_was():
    import gc

    from netsim.memory import collector_paused

    with pytest.raises(ValueError), collector_paused():
        assert not gc.isenabled()
        raise ValueError("failed block")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
