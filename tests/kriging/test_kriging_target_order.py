"""Local kriging: the Hilbert-curve order of the targets changes nothing but speed.

Every target's result must be the same bits whether the targets are curve-sorted
in tiles (the default), each kriged alone in input order, or in a shuffled
order, and whatever numba's thread count.
"""

import itertools

import numba
import numpy as np
import pytest

from netsim import Variogram, krige
from netsim.kriging import _kernels, api

CASES = [
    pytest.param(Variogram("spherical", 100.0, 30_000.0, 10.0), {}, id="spherical-cholesky"),
    pytest.param(Variogram("gaussian", 100.0, 6_000.0, 0.05), {}, id="gaussian-pivot-fallback"),
    pytest.param(Variogram("linear", 0.01, 1.0, 1.0), {}, id="linear-gauss-jordan"),
    pytest.param(
        Variogram("exponential", 100.0, 20_000.0, 5.0),
        {"method": "simple", "mean": 50.0},
        id="simple",
    ),
]


def _problem(layout: str, steps: int):
    rng = np.random.default_rng(7)
    xy = rng.random((400, 2)) * 50_000.0
    z = 50.0 + 20.0 * np.sin(xy[:, 0] / 9_000.0) + rng.normal(0.0, 3.0, (steps, 400))
    if layout == "grid":
        g = (np.arange(60) + 0.5) * (56_000.0 / 60) - 3_000.0  # reaches beyond the stations
        gx, gy = np.meshgrid(g, g)
        targets = np.column_stack([gx.ravel(), gy.ravel()])
    else:
        targets = rng.random((3_000, 2)) * 56_000.0 - 3_000.0
    return xy, z[0] if steps == 1 else z, targets


def _one_tile_each(order):
    """A tiling that puts every target alone in its own tile, visited in ``order``."""

    def tiles(tx, ty, side):
        return order(tx.size), np.arange(tx.size + 1, dtype=np.int64)

    return tiles


def _bits(res):
    return res.estimate.tobytes() + res.variance.tobytes()


@pytest.mark.parametrize("layout", ["grid", "scattered"])
@pytest.mark.parametrize("steps", [1, 3, 12])  # 12 > 8: weights formed per target
@pytest.mark.parametrize(("vg", "kw"), CASES)
def test_curve_order_gives_the_unsorted_bits(monkeypatch, layout, steps, vg, kw):
    xy, z, targets = _problem(layout, steps)
    sorted_ = krige(xy, z, targets, vg, n_neighbours=12, **kw)
    assert np.isfinite(sorted_.estimate).all()
    monkeypatch.setattr(api, "_tile_targets", _one_tile_each(lambda m: np.arange(m)))
    alone = krige(xy, z, targets, vg, n_neighbours=12, **kw)
    shuffle = np.random.default_rng(3).permutation
    monkeypatch.setattr(api, "_tile_targets", _one_tile_each(shuffle))
    shuffled = krige(xy, z, targets, vg, n_neighbours=12, **kw)
    assert _bits(sorted_) == _bits(alone) == _bits(shuffled)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("layout", ["grid", "scattered"])
def test_local_results_do_not_depend_on_thread_count(layout):
    xy, z, targets = _problem(layout, 3)
    targets = np.vstack([targets] * 8)  # above the serial threshold, many groups
    vg = Variogram("spherical", 100.0, 30_000.0, 10.0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = krige(xy, z, targets, vg, n_neighbours=16)
        numba.set_num_threads(2)
        two = krige(xy, z, targets, vg, n_neighbours=16)
    finally:
        numba.set_num_threads(before)
    assert _bits(one) == _bits(two)


@pytest.mark.parametrize("vg, kw", CASES)
def test_a_small_set_cache_changes_nothing_but_speed(monkeypatch, vg, kw):
    """16 entries instead of 256: sets evict each other (also within a tile, where a
    target's set must be refactorised when its entry was taken), same bits."""
    xy, z, targets = _problem("scattered", 3)
    full = krige(xy, z, targets, vg, n_neighbours=12, **kw)
    monkeypatch.setattr(api, "_SET_CACHE_BYTES", 1)
    assert api._set_cache_entries(12, False) == 16
    small = krige(xy, z, targets, vg, n_neighbours=12, **kw)
    assert _bits(full) == _bits(small)


def test_set_cache_entries_keep_the_matrices_within_their_budget():
    assert api._set_cache_entries(32, False) == 256
    for k in (64, 128, 256):
        entries = api._set_cache_entries(k, False)
        assert entries & (entries - 1) == 0 and entries >= 16
        assert entries == 16 or entries * (k + 1) ** 2 * 8 <= api._SET_CACHE_BYTES
        assert entries == 256 or 2 * entries * (k + 1) ** 2 * 8 > api._SET_CACHE_BYTES


def test_hilbert_index_visits_every_cell_once_through_neighbours():
    n = 16
    pos = np.array([[_kernels._hilbert_index(n, x, y) for y in range(n)] for x in range(n)])
    assert np.array_equal(np.sort(pos.ravel()), np.arange(n * n))
    cells = np.argwhere(pos >= 0)[np.argsort(pos.ravel())]
    steps = np.abs(np.diff(cells, axis=0)).sum(axis=1)
    assert (steps == 1).all()  # consecutive positions are edge neighbours
    # the order-1 curve (Hamilton's xy2d convention): (0,0), (0,1), (1,1), (1,0)
    assert [_kernels._hilbert_index(2, x, y) for x, y in [(0, 0), (0, 1), (1, 1), (1, 0)]] == [
        0,
        1,
        2,
        3,
    ]


def test_curve_tile_sort_is_a_permutation_of_tiles_along_the_curve():
    rng = np.random.default_rng(5)
    tx = rng.random(5_000) * 8_000.0
    ty = rng.random(5_000) * 8_000.0
    side = 1_000.0
    perm, start = _kernels.curve_tile_sort(tx, ty, 0.0, 0.0, side, 8, 8, 4)
    assert np.array_equal(np.sort(perm), np.arange(5_000))
    assert start[0] == 0 and start[-1] == 5_000 and (np.diff(start) >= 0).all()
    tile = np.column_stack([np.floor(tx[perm] / side), np.floor(ty[perm] / side)])
    tiles = []
    for a, b in itertools.pairwise(start):
        assert (tile[a:b] == tile[a]).all()  # a tile's targets are contiguous
        tiles.append(tile[a])
    tiles = np.array(tiles)
    assert np.unique(tiles, axis=0).shape[0] == 64
    # on a power-of-two tile grid the curve steps from a tile to an edge neighbour
    assert (np.abs(np.diff(tiles, axis=0)).sum(axis=1) == 1).all()
    again, _ = _kernels.curve_tile_sort(tx, ty, 0.0, 0.0, side, 8, 8, 4)
    assert np.array_equal(perm, again)
