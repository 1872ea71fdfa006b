"""netsim.truth_rng reproduces numpy's SeedSequence/PCG64 streams and distributions bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from netsim import truth_rng as rng_nb

ENTROPIES = [
    [0],
    [1],
    [2020, 3, 4],
    [2020, 7, 3, 0xDEADBEEF, 451_234, 4_432_100],  # more words than the pool (4)
    [2**40 + 5, 0, 0xFFFFFFFF],  # a seed of two words, zero and all-ones words
    list(range(1, 13)),
]


def _numpy(entropy):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


@njit
def _draw(st, kind: int, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        if kind == 0:
            out[i] = rng_nb.standard_normal_f32(st)
        elif kind == 1:
            out[i] = rng_nb.standard_normal(st)
        elif kind == 2:
            out[i] = rng_nb.next_float(st)
        else:
            out[i] = rng_nb.next_double(st)
    return out


@njit
def _raw(st, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = rng_nb.next_uint64(st)
    return out


@njit
def _outage_like(st, lam: float, n: int, low: int, high: int) -> np.ndarray:
    k = rng_nb.poisson(st, lam)
    out = np.empty(1 + 2 * k, dtype=np.int64)
    out[0] = k
    for j in range(k):
        out[1 + j] = rng_nb.integer(st, 0, n)
    for j in range(k):
        out[1 + k + j] = rng_nb.integer(st, low, high)
    return out


def test_entropy_words_split_integers_into_32_bit_words():
    assert rng_nb.entropy_words(0, 5, 2**32 + 7).tolist() == [0, 5, 7, 1]
    with pytest.raises(ValueError, match="non-negative"):
        rng_nb.entropy_words(-1)


@pytest.mark.parametrize("entropy", ENTROPIES)
def test_seeding_gives_numpys_pcg64_state(entropy):
    st = rng_nb.new_state(rng_nb.entropy_words(*entropy))
    ref = np.random.PCG64(np.random.SeedSequence(entropy)).state["state"]
    assert (int(st[0]) << 64 | int(st[1])) == ref["state"]
    assert (int(st[2]) << 64 | int(st[3])) == ref["inc"]


@pytest.mark.parametrize("entropy", ENTROPIES[:4])
def test_raw_outputs_equal_numpy(entropy):
    st = rng_nb.new_state(rng_nb.entropy_words(*entropy))
    bitgen = np.random.PCG64(np.random.SeedSequence(entropy))
    np.testing.assert_array_equal(_raw(st, 5000), bitgen.random_raw(5000))


@pytest.mark.parametrize("seed", [0, 1])
def test_float32_normals_equal_numpy_including_wedges_and_tails(seed):
    n = 3_000_000
    st = rng_nb.new_state(rng_nb.entropy_words(seed, 99))
    ours = _draw(st, 0, n).astype(np.float32)
    ref = _numpy([seed, 99]).standard_normal(n, dtype=np.float32)
    np.testing.assert_array_equal(ours, ref)
    assert (np.abs(ref) > 3.6541529).sum() > 100  # the tail branch (beyond r) was taken


def test_float64_normals_uniforms_and_their_interleaving_equal_numpy():
    """The instrument stream's order: a float64 normal, float32 normals, float32 uniforms —
    the float32 draws use both halves of each 64-bit output, across calls."""
    st = rng_nb.new_state(rng_nb.entropy_words(7, 8, 9))
    gen = _numpy([7, 8, 9])
    np.testing.assert_array_equal(_draw(st, 1, 1), [gen.standard_normal()])
    np.testing.assert_array_equal(_draw(st, 0, 8785).astype(np.float32),
                                  gen.standard_normal(8785, dtype=np.float32))
    np.testing.assert_array_equal(_draw(st, 2, 8785).astype(np.float32),
                                  gen.random(8785, dtype=np.float32))
    np.testing.assert_array_equal(_draw(st, 1, 500_000), gen.standard_normal(500_000))
    np.testing.assert_array_equal(_draw(st, 3, 1000), gen.random(1000))


@pytest.mark.parametrize("lam", [0.0, 1.0026, 6.016, 9.9, 12.5, 40.0])
def test_poisson_and_bounded_integers_equal_numpy(lam):
    for s in range(40):
        st = rng_nb.new_state(rng_nb.entropy_words(s, 5, int(lam * 1000)))
        gen = _numpy([s, 5, int(lam * 1000)])
        k = gen.poisson(lam)
        starts = gen.integers(0, 8784, size=k)
        lengths = gen.integers(2, 49, size=k)
        np.testing.assert_array_equal(_outage_like(st, lam, 8784, 2, 49),
                                      np.concatenate([[k], starts, lengths]))


@pytest.mark.parametrize("low, high", [(0, 1), (3, 4), (0, 2**32), (5, 2**31 + 7), (0, 3)])
def test_integers_at_the_edges_of_the_32_bit_range_equal_numpy(low, high):
    st = rng_nb.new_state(rng_nb.entropy_words(11))
    gen = _numpy([11])

    @njit
    def draws(st, n):
        return np.array([rng_nb.integer(st, low, high) for _ in range(n)])

    np.testing.assert_array_equal(draws(st, 2000), gen.integers(low, high, size=2000))


def test_fills_equal_numpy_and_continue_the_stream():
    """The buffered fills (state in registers) draw what numpy's ``out=`` fills draw, and
    leave the stream where numpy leaves it (odd lengths end on half a 64-bit output)."""
    st = rng_nb.new_state(rng_nb.entropy_words(3, 1, 4))
    gen = _numpy([3, 1, 4])
    for n in (8785, 1, 100_001):
        normals = np.empty(n, dtype=np.float32)
        rng_nb.fill_standard_normal_f32(st, normals)
        np.testing.assert_array_equal(normals, gen.standard_normal(n, dtype=np.float32))
        uniforms = np.empty(n, dtype=np.float32)
        rng_nb.fill_random_f32(st, uniforms)
        np.testing.assert_array_equal(uniforms, gen.random(n, dtype=np.float32))
    np.testing.assert_array_equal(_draw(st, 1, 3), gen.standard_normal(3))
