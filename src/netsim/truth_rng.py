"""numpy's seeded random streams, reproduced draw for draw inside numba kernels.

The truth keys every random draw by ``numpy.random.SeedSequence(entropy)`` feeding a
``PCG64`` generator (:func:`netsim.truth._rng`): one stream per station, pollutant
and realisation.  Built in Python, a stream costs tens of microseconds before its
first draw and its draws must go through a temporary array; these kernels build the
same streams inside numba and draw from them where the values are used, so a
station's hourly values are one pass of a parallel loop.

Reproduced bit for bit (``tests/test_truth_rng.py`` compares with numpy):

* ``SeedSequence(words).generate_state(4, np.uint64)`` (pool size 4, no spawn key);
* ``PCG64`` seeding, ``next_uint64``, ``next_uint32`` (the two halves of a 64-bit
  output, low half first), ``next_double`` and ``next_float``;
* ``Generator.standard_normal()`` (float64 ziggurat) and
  ``standard_normal(dtype=np.float32)`` (float32 ziggurat), ``random(dtype=np.float32)``,
  ``poisson(lam)`` and ``integers(low, high)`` (int64, ``high - low`` ≤ 2³²).

A stream's state is a ``uint64`` array of :data:`STATE_WORDS`: the 128-bit LCG state
(high, low), its increment (high, low), and the buffered upper half of the last
64-bit output (flag, value).  Every kernel here is ``@njit`` without validation; the
entropy words are built in Python by :func:`entropy_words`.

References
----------
numpy ``random/bit_generator.pyx`` (SeedSequence), ``random/src/pcg64`` and
``random/src/distributions/distributions.c`` (numpy 2.x; ziggurat tables as in
``numba.np.random._constants``, a copy of numpy's ``ziggurat_constants.h``).
O'Neill, M. E. (2014). PCG: a family of simple fast space-efficient statistically
good algorithms for random number generation. HMC-CS-2014-0905.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.np.random import _constants as zig

__all__ = ["STATE_WORDS", "entropy_words", "fill_random_f32", "fill_standard_normal_f32",
           "new_state"]

STATE_WORDS = 6
"""uint64 words of a stream's state: LCG high, low, increment high, low, has-half, half."""

_U = np.uint64
_ZERO, _ONE = _U(0), _U(1)
_S8, _S9, _S11, _S16, _S32, _S58, _S64 = _U(8), _U(9), _U(11), _U(16), _U(32), _U(58), _U(64)
_M32 = _U(0xFFFFFFFF)
_M8 = _U(0xFF)
_M23 = _U(0x7FFFFF)
_M52 = _U(0x000FFFFFFFFFFFFF)
_M6 = _U(63)

# SeedSequence hash constants (numpy bit_generator.pyx)
_INIT_A, _MULT_A = _U(0x43B0D7E5), _U(0x931E8875)
_INIT_B, _MULT_B = _U(0x8B51F9DD), _U(0x58F38DED)
_MIX_L, _MIX_R = _U(0xCA01F9DD), _U(0x4973F715)
_POOL = 4

# PCG64 default 128-bit multiplier
_MULT_HI, _MULT_LO = _U(0x2360ED051FC65DA4), _U(0x4385DF649FCCF645)

_KI_D, _WI_D, _FI_D = zig.ki_double, zig.wi_double, zig.fi_double
_KI_F, _WI_F, _FI_F = zig.ki_float, zig.wi_float, zig.fi_float
_NOR_R, _NOR_INV_R = zig.ziggurat_nor_r, zig.ziggurat_nor_inv_r
_NOR_R_F, _NOR_INV_R_F = np.float32(zig.ziggurat_nor_r_f), np.float32(zig.ziggurat_nor_inv_r_f)
_F32_2M24 = np.float32(1.0 / 16777216.0)
_SIGN_D = np.array([1.0, -1.0])
_SIGN_F = np.array([1.0, -1.0], dtype=np.float32)
_F64_2M53 = 1.0 / 9007199254740992.0


def entropy_words(*values: int) -> np.ndarray:
    """The uint32 words ``SeedSequence([values…])`` hashes: each value split into 32-bit
    words, least significant first (0 gives one zero word)."""
    words: list[int] = []
    for v in values:
        v = int(v)
        if v < 0:
            raise ValueError(f"entropy values must be non-negative, got {v}")
        words.append(v & 0xFFFFFFFF)
        v >>= 32
        while v:
            words.append(v & 0xFFFFFFFF)
            v >>= 32
    return np.asarray(words, dtype=np.uint32)


# ----------------------------------------------------------------------------
# SeedSequence
# ----------------------------------------------------------------------------


@njit(cache=True)
def _hashmix(value, hash_const):
    """One word through the SeedSequence hash: (hashed word, next hash constant)."""
    value = (value ^ hash_const) & _M32
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _S16), hash_const


@njit(cache=True)
def _mix(x, y):
    result = (_MIX_L * x - _MIX_R * y) & _M32
    return result ^ (result >> _S16)


@njit(cache=True)
def _pool(words: np.ndarray) -> np.ndarray:
    """``SeedSequence(words).pool``: four uint32 words (in uint64)."""
    pool = np.zeros(_POOL, dtype=np.uint64)
    hc = _INIT_A
    for i in range(_POOL):
        w = _U(words[i]) if i < words.size else _ZERO
        h, hc = _hashmix(w, hc)
        pool[i] = h
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                h, hc = _hashmix(pool[i_src], hc)
                pool[i_dst] = _mix(pool[i_dst], h)
    for i_src in range(_POOL, words.size):
        for i_dst in range(_POOL):
            h, hc = _hashmix(_U(words[i_src]), hc)
            pool[i_dst] = _mix(pool[i_dst], h)
    return pool


@njit(cache=True)
def _generate_state64(words: np.ndarray) -> np.ndarray:
    """``SeedSequence(words).generate_state(4, np.uint64)``."""
    pool = _pool(words)
    out = np.zeros(4, dtype=np.uint64)
    hc = _INIT_B
    for i in range(8):
        v = pool[i % _POOL] ^ hc
        hc = (hc * _MULT_B) & _M32
        v = (v * hc) & _M32
        v = v ^ (v >> _S16)
        if i % 2 == 0:
            out[i // 2] = v
        else:
            out[i // 2] |= v << _S32
    return out


# ----------------------------------------------------------------------------
# PCG64
# ----------------------------------------------------------------------------


@intrinsic
def _mulhi(typingctx, a, b):
    """High 64 bits of the 128-bit product of two uint64 (an LLVM ``i128`` multiply)."""
    if a != types.uint64 or b != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@njit(cache=True)
def _advance(hi, lo, inc_hi, inc_lo):
    """The next LCG state (high, low): state · multiplier + increment (mod 2¹²⁸)."""
    new_lo = lo * _MULT_LO
    new_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
    low = new_lo + inc_lo
    carry = _ONE if low < new_lo else _ZERO
    return new_hi + inc_hi + carry, low


@njit(cache=True)
def _output(hi, lo):
    """XSL-RR output of a state: (high ^ low) rotated right by the top 6 bits."""
    value = hi ^ lo
    rot = hi >> _S58
    return (value >> rot) | (value << ((_S64 - rot) & _M6))


@njit(cache=True)
def _step(st: np.ndarray) -> None:
    st[0], st[1] = _advance(st[0], st[1], st[2], st[3])


@njit(cache=True)
def new_state(words: np.ndarray) -> np.ndarray:
    """The state of ``PCG64(SeedSequence(words))`` (``words``: uint32 entropy words)."""
    seed = _generate_state64(words)
    st = np.zeros(STATE_WORDS, dtype=np.uint64)
    st[2] = (seed[2] << _ONE) | (seed[3] >> _U(63))  # inc = (initseq << 1) | 1
    st[3] = (seed[3] << _ONE) | _ONE
    _step(st)
    low = st[1] + seed[1]
    carry = _ONE if low < st[1] else _ZERO
    st[0] = st[0] + seed[0] + carry
    st[1] = low
    _step(st)
    return st


@njit(cache=True)
def next_uint64(st: np.ndarray):
    """Next 64-bit output (XSL-RR)."""
    _step(st)
    return _output(st[0], st[1])


@njit(cache=True)
def next_uint32(st: np.ndarray):
    """Next 32-bit output: the low half of a 64-bit output, then its high half."""
    if st[4] != _ZERO:
        st[4] = _ZERO
        return st[5]
    value = next_uint64(st)
    st[4] = _ONE
    st[5] = value >> _S32
    return value & _M32


@njit(cache=True)
def next_double(st: np.ndarray) -> float:
    """Uniform [0, 1) double (53 bits)."""
    return float(next_uint64(st) >> _S11) * _F64_2M53


@njit(cache=True)
def next_float(st: np.ndarray) -> np.float32:
    """Uniform [0, 1) float32 (24 bits): ``Generator.random(dtype=np.float32)``."""
    return np.float32(next_uint32(st) >> _S8) * _F32_2M24


# ----------------------------------------------------------------------------
# Distributions
# ----------------------------------------------------------------------------


@njit(cache=True)
def _normal_rare(st: np.ndarray, r) -> float:
    """The float64 ziggurat from a first draw ``r`` outside the rectangles (~1 %):
    tail, wedges, and redraws."""
    while True:
        idx = r & _M8
        r = r >> _S8
        rabs = (r >> _ONE) & _M52
        x = float(rabs) * _WI_D[idx] * _SIGN_D[r & _ONE]
        if rabs < _KI_D[idx]:
            return x
        if idx == _ZERO:
            while True:
                xx = -_NOR_INV_R * math.log1p(-next_double(st))
                yy = -math.log1p(-next_double(st))
                if yy + yy > xx * xx:
                    return -(_NOR_R + xx) if (rabs >> _S8) & _ONE else _NOR_R + xx
        elif (_FI_D[idx - _ONE] - _FI_D[idx]) * next_double(st) + _FI_D[idx] < math.exp(
                -0.5 * x * x):
            return x
        r = next_uint64(st)


@njit(cache=True, inline="always")
def standard_normal(st: np.ndarray) -> float:
    """``Generator.standard_normal()`` (float64 ziggurat)."""
    r = next_uint64(st)
    idx = r & _M8
    rabs = (r >> _S9) & _M52
    if rabs < _KI_D[idx]:  # the sign is random: a multiply, not a branch
        return float(rabs) * _WI_D[idx] * _SIGN_D[(r >> _S8) & _ONE]
    return _normal_rare(st, r)


@njit(cache=True)
def _normal_f32_rare(st: np.ndarray, r) -> np.float32:
    """The float32 ziggurat from a first draw ``r`` outside the rectangles (~1 %); the
    wedge test compares with a double ``exp`` as numpy's C code does."""
    while True:
        idx = r & _M8
        rabs = (r >> _S9) & _M23
        x = np.float32(rabs) * _WI_F[idx] * _SIGN_F[(r >> _S8) & _ONE]
        if rabs < _KI_F[idx]:
            return x
        if idx == _ZERO:
            while True:
                xx = -_NOR_INV_R_F * np.float32(math.log1p(-next_float(st)))
                yy = -np.float32(math.log1p(-next_float(st)))
                if yy + yy > xx * xx:
                    return -(_NOR_R_F + xx) if (rabs >> _S8) & _ONE else _NOR_R_F + xx
        else:
            lhs = (_FI_F[idx - _ONE] - _FI_F[idx]) * next_float(st) + _FI_F[idx]
            if float(lhs) < math.exp(-0.5 * float(x) * float(x)):
                return x
        r = next_uint32(st)


@njit(cache=True, inline="always")
def standard_normal_f32(st: np.ndarray) -> np.float32:
    """``Generator.standard_normal(dtype=np.float32)`` (float32 ziggurat)."""
    r = next_uint32(st)
    idx = r & _M8
    rabs = (r >> _S9) & _M23
    if rabs < _KI_F[idx]:
        return np.float32(rabs) * _WI_F[idx] * _SIGN_F[(r >> _S8) & _ONE]
    return _normal_f32_rare(st, r)


@njit(cache=True)
def fill_standard_normal_f32(st: np.ndarray, out: np.ndarray) -> None:
    """``Generator.standard_normal(out=out, dtype=np.float32)``: the draws of
    :func:`standard_normal_f32` in a loop that keeps the state in registers."""
    hi, lo, inc_hi, inc_lo, has, half = st[0], st[1], st[2], st[3], st[4], st[5]
    for i in range(out.size):
        if has != _ZERO:
            r, has = half, _ZERO
        else:
            hi, lo = _advance(hi, lo, inc_hi, inc_lo)
            value = _output(hi, lo)
            r, has, half = value & _M32, _ONE, value >> _S32
        idx = r & _M8
        rabs = (r >> _S9) & _M23
        if rabs < _KI_F[idx]:
            out[i] = np.float32(rabs) * _WI_F[idx] * _SIGN_F[(r >> _S8) & _ONE]
            continue
        st[0], st[1], st[4], st[5] = hi, lo, has, half
        out[i] = _normal_f32_rare(st, r)
        hi, lo, has, half = st[0], st[1], st[4], st[5]
    st[0], st[1], st[4], st[5] = hi, lo, has, half


@njit(cache=True)
def fill_random_f32(st: np.ndarray, out: np.ndarray) -> None:
    """``Generator.random(out=out, dtype=np.float32)``, the state kept in registers."""
    hi, lo, inc_hi, inc_lo, has, half = st[0], st[1], st[2], st[3], st[4], st[5]
    for i in range(out.size):
        if has != _ZERO:
            r, has = half, _ZERO
        else:
            hi, lo = _advance(hi, lo, inc_hi, inc_lo)
            value = _output(hi, lo)
            r, has, half = value & _M32, _ONE, value >> _S32
        out[i] = np.float32(r >> _S8) * _F32_2M24
    st[0], st[1], st[4], st[5] = hi, lo, has, half


@njit(cache=True)
def _loggam(x: float) -> float:
    """log Γ(x) as numpy's ``random_loggam`` (for the Poisson PTRS method)."""
    a = (8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
         -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
         6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
         -1.39243221690590e+00)
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = a[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += a[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453e+00 + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@njit(cache=True)
def _poisson_ptrs(st: np.ndarray, lam: float) -> int:
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = next_double(st) - 0.5
        v = next_double(st)
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
                -lam + k * loglam - _loggam(k + 1)):
            return k


@njit(cache=True)
def poisson(st: np.ndarray, lam: float) -> int:
    """``Generator.poisson(lam)`` (multiplication method below 10, PTRS above)."""
    if lam >= 10:
        return _poisson_ptrs(st, lam)
    if lam == 0:
        return 0
    enlam = math.exp(-lam)
    count, prod = 0, 1.0
    while True:
        prod *= next_double(st)
        if prod > enlam:
            count += 1
        else:
            return count


@njit(cache=True)
def integer(st: np.ndarray, low: int, high: int) -> int:
    """One ``Generator.integers(low, high)`` (int64; requires 0 < high − low ≤ 2³²)."""
    rng = _U(high - low - 1)
    if rng == _ZERO:
        return low
    if rng == _M32:
        return low + int(next_uint32(st))
    rng_excl = rng + _ONE
    m = next_uint32(st) * rng_excl
    leftover = m & _M32
    if leftover < rng_excl:
        threshold = (_M32 - rng) % rng_excl
        while leftover < threshold:
            m = next_uint32(st) * rng_excl
            leftover = m & _M32
    return low + int(m >> _S32)
