"""Numba kernels of the truth world (no validation here; see :mod:`netsim.truth`).

Every kernel is a ``prange`` over independent outputs (lattice rows, points, cells,
stations): each output element is computed by one thread, its sums taken in a fixed
order, so the results do not depend on the number of threads.  No BLAS.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
from numba import njit, prange

from netsim.truth_rng import (
    fill_random_f32,
    fill_standard_normal_f32,
    integer,
    new_state,
    poisson,
    standard_normal,
)

# ----------------------------------------------------------------------------
# Random fields (randomisation method, netsim.truth_fields)
# ----------------------------------------------------------------------------


_ROWS = 8
"""Lattice rows per task: each mode's x-terms are read once for the block, not per row."""


@njit(cache=True)
def _mode_terms(xs: np.ndarray, kx: np.ndarray, z1: np.ndarray, z2: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """a_i(x) = z1 cos(kx x) + z2 sin(kx x), b_i(x) = z2 cos(kx x) − z1 sin(kx x): (N, nx)."""
    a = np.empty((kx.size, xs.size))
    b = np.empty((kx.size, xs.size))
    for i in range(kx.size):
        for ix in range(xs.size):
            c, s = math.cos(xs[ix] * kx[i]), math.sin(xs[ix] * kx[i])
            a[i, ix] = z1[i] * c + z2[i] * s
            b[i, ix] = z2[i] * c - z1[i] * s
    return a, b


@njit(cache=True)
def _add_modes(acc: np.ndarray, lo: int, hi: int, y: float, ky: np.ndarray, a: np.ndarray,
               b: np.ndarray, i: int, m: int) -> None:
    """acc[j] += Σ_{k=i}^{i+m−1} cos(ky_k y) a_k(x_{lo+j}) + sin(ky_k y) b_k(x_{lo+j}), the
    modes added one after the other (four per pass over the row; 0-based loops over views
    so that LLVM vectorises them)."""
    n = hi - lo
    if m == 4:
        c0, c1 = math.cos(y * ky[i]), math.cos(y * ky[i + 1])
        c2, c3 = math.cos(y * ky[i + 2]), math.cos(y * ky[i + 3])
        s0, s1 = math.sin(y * ky[i]), math.sin(y * ky[i + 1])
        s2, s3 = math.sin(y * ky[i + 2]), math.sin(y * ky[i + 3])
        a0, a1, a2, a3 = a[i, lo:hi], a[i + 1, lo:hi], a[i + 2, lo:hi], a[i + 3, lo:hi]
        b0, b1, b2, b3 = b[i, lo:hi], b[i + 1, lo:hi], b[i + 2, lo:hi], b[i + 3, lo:hi]
        for j in range(n):
            acc[j] = ((((acc[j] + (c0 * a0[j] + s0 * b0[j])) + (c1 * a1[j] + s1 * b1[j]))
                       + (c2 * a2[j] + s2 * b2[j])) + (c3 * a3[j] + s3 * b3[j]))
        return
    for k in range(i, i + m):
        c, s = math.cos(y * ky[k]), math.sin(y * ky[k])
        ak, bk = a[k, lo:hi], b[k, lo:hi]
        for j in range(n):
            acc[j] += c * ak[j] + s * bk[j]


@njit(cache=True, parallel=True)
def lattice_field(
    xs: np.ndarray,  # (nx,) float64 easting minus the origin, metres
    ys: np.ndarray,  # (ny,) float64 northing minus the origin, metres
    kx: np.ndarray,  # (N,) wave vector components, rad/m
    ky: np.ndarray,
    z1: np.ndarray,  # (N,) amplitudes
    z2: np.ndarray,
    col_lo: np.ndarray,  # (ny,) int64 first column computed in each row
    col_hi: np.ndarray,  # (ny,) int64 end (exclusive) of the columns computed
    out: np.ndarray,  # (ny, nx) float64; only [iy, col_lo[iy]:col_hi[iy]] is written
) -> None:
    """Σ_i z1 cos(k·x) + z2 sin(k·x), / √N, separated as Σ_i cos(ky y) a_i(x) + sin(ky y) b_i(x)
    (each cell's modes summed in order), :data:`_ROWS` rows per task."""
    a, b = _mode_terms(xs, kx, z1, z2)
    n_modes, ny = kx.size, ys.size
    root = math.sqrt(n_modes)
    for block in prange((ny + _ROWS - 1) // _ROWS):
        first, end = block * _ROWS, min(ny, block * _ROWS + _ROWS)
        offset = col_lo[first:end].min()
        acc = np.zeros((end - first, max(col_hi[first:end].max() - offset, 0)))
        for i in range(0, n_modes, 4):
            for iy in range(first, end):
                lo, hi = col_lo[iy], col_hi[iy]
                _add_modes(acc[iy - first, lo - offset:hi - offset], lo, hi, ys[iy], ky, a, b,
                           i, min(4, n_modes - i))
        for iy in range(first, end):
            for ix in range(col_lo[iy], col_hi[iy]):
                out[iy, ix] = acc[iy - first, ix - offset] / root


@njit(cache=True, parallel=True)
def point_field(
    x: np.ndarray,  # (n,) float64 easting minus the origin, metres
    y: np.ndarray,  # (n,) float64 northing minus the origin
    kx: np.ndarray,
    ky: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    out: np.ndarray,  # (n,) float64
) -> None:
    """Σ_i z1 cos(k·x) + z2 sin(k·x), / √N, at each point (modes summed in order)."""
    n_modes = kx.size
    root = math.sqrt(n_modes)
    for j in prange(x.size):
        acc = 0.0
        for i in range(n_modes):
            phase = x[j] * kx[i] + y[j] * ky[i]
            acc += z1[i] * math.cos(phase) + z2[i] * math.sin(phase)
        out[j] = acc / root


# ----------------------------------------------------------------------------
# exp, vectorised
# ----------------------------------------------------------------------------

_EXP_TABLE_BITS = 6
_EXP_N = 1 << _EXP_TABLE_BITS


def _exp_table() -> np.ndarray:
    """2^(j/64), j = 0..63, correctly rounded (50-digit decimal arithmetic, no libm)."""
    with localcontext() as ctx:
        ctx.prec = 50
        return np.array([float(Decimal(2) ** (Decimal(j) / _EXP_N)) for j in range(_EXP_N)])


_EXP_TABLE = _exp_table()
_EXP_SCALE = _EXP_N / math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01 / _EXP_N  # ln 2 to 32 bits: k · _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10 / _EXP_N
_ROUND = 6755399441055744.0  # 1.5 · 2**52: adding it rounds to an integer (ties to even)
_ROUND_BITS = np.int64(np.float64(_ROUND).view(np.int64))
_EXP_LO, _EXP_HI = -708.0, 709.0


@njit(cache=True)
def exp_array(x: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:
    """out = exp(x) elementwise, within 1 ulp of libm's ``exp``, in loops LLVM vectorises.

    exp(x) = 2^(k/64) · exp(r), k = round(64 x / ln 2), r = x − k ln 2/64 (two-part
    ln 2, |r| ≤ 0.0055), exp(r) − 1 by its Taylor series to r⁵ (truncation < 4e-17),
    2^(k/64) = 2^⌊k/64⌋ (exponent bits) · 2^((k mod 64)/64) (table).  Pure IEEE
    arithmetic in a fixed order: the same bits on every machine.  Outside [-708, 709]
    (and for NaN) it falls back to ``math.exp``.  ``work`` is scratch of ``x``'s size.
    """
    outside = _exp_reduced(x, out, work)
    _exp_scaled(out, work)
    if outside:
        _exp_outside(x, out)


@njit(cache=True)
def _exp_reduced(x: np.ndarray, out: np.ndarray, work: np.ndarray) -> int:
    """First pass of :func:`exp_array`: out = exp(r) − 1, work = k + 1.5 · 2⁵² (k in its low
    bits); returns how many ``x`` are outside [-708, 709] or NaN (counted in the same
    vectorised pass, so the fallback pass runs only when there are any)."""
    outside = 0
    for c in range(x.size):
        xc = x[c]
        outside += (xc < _EXP_LO) | (xc > _EXP_HI) | (xc != xc)
        v = min(max(xc, _EXP_LO), _EXP_HI)
        kf = v * _EXP_SCALE + _ROUND
        k = kf - _ROUND
        r = (v - k * _LN2_HI) - k * _LN2_LO
        out[c] = r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))))
        work[c] = kf
    return outside


@njit(cache=True)
def _exp_scaled(out: np.ndarray, work: np.ndarray) -> None:
    """Second pass of :func:`exp_array`: out = 2^(k/64) · (1 + out)."""
    table = _EXP_TABLE
    bits = work.view(np.int64)
    for c in range(out.size):
        k = bits[c] - _ROUND_BITS
        t = table[k & (_EXP_N - 1)]
        bits[c] = ((k >> _EXP_TABLE_BITS) + 1023) << 52
        out[c] = (t + t * out[c]) * work[c]


@njit(cache=True)
def _exp_outside(x: np.ndarray, out: np.ndarray) -> None:
    """Last pass of :func:`exp_array`: libm's ``exp`` outside [-708, 709] and for NaN."""
    for c in range(x.size):
        if not _EXP_LO <= x[c] <= _EXP_HI:
            out[c] = math.exp(x[c])


# ----------------------------------------------------------------------------
# Daily fields B · T · A
# ----------------------------------------------------------------------------

_BLOCK = 1024
"""Cells (or points) per task of the daily-field kernel."""


@njit(cache=True)
def _anomaly_exponent(coef: np.ndarray, phi: np.ndarray, d: int, lo: int, s_daily: float,
                      out: np.ndarray) -> None:
    """out[c] = s · Σ_k a_k(d) φ_k(lo + c), the sum taken in k order from 0: in one pass over
    the block for the default six basis fields, two terms a pass otherwise."""
    m, n_basis = out.size, coef.shape[1]
    if n_basis == 6:
        a0, a1, a2 = coef[d, 0], coef[d, 1], coef[d, 2]
        a3, a4, a5 = coef[d, 3], coef[d, 4], coef[d, 5]
        r0, r1, r2 = phi[0, lo:lo + m], phi[1, lo:lo + m], phi[2, lo:lo + m]
        r3, r4, r5 = phi[3, lo:lo + m], phi[4, lo:lo + m], phi[5, lo:lo + m]
        for c in range(m):
            out[c] = ((((((0.0 + a0 * r0[c]) + a1 * r1[c]) + a2 * r2[c]) + a3 * r3[c])
                       + a4 * r4[c]) + a5 * r5[c]) * s_daily
        return
    out[:] = 0.0
    for k in range(0, n_basis - 1, 2):
        a0, a1 = coef[d, k], coef[d, k + 1]
        row0, row1 = phi[k, lo:lo + m], phi[k + 1, lo:lo + m]
        for c in range(m):
            out[c] = (out[c] + a0 * row0[c]) + a1 * row1[c]
    if n_basis % 2:
        a, row = coef[d, n_basis - 1], phi[n_basis - 1, lo:lo + m]
        for c in range(m):
            out[c] += a * row[c]
    for c in range(m):
        out[c] *= s_daily


@njit(cache=True, parallel=True)
def daily_field(
    scale: np.ndarray,  # (n,) float64 base · persistent anomaly · variance correction
    coef: np.ndarray,  # (n_days, K) float64 daily coefficients a_k(d)
    phi: np.ndarray,  # (K, n) float64 daily basis fields
    temporal: np.ndarray,  # (n_days,) float64 city-wide factor T(d)
    s_daily: float,  # anomaly log amplitude
    daily: np.ndarray,  # (n_days, n) float32 or float64 output, or (0, 0) to skip it
    annual: np.ndarray,  # (n,) float64: mean over the days (float64 sum in day order)
) -> None:
    """Daily truth exp(s Σ_k a_k(d) φ_k) · T(d) · scale at grid cells or points, and its
    annual mean (summed in float64 before any rounding of ``daily``)."""
    n, n_days = scale.size, coef.shape[0]
    keep = daily.shape[0] == n_days
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        lo = b * _BLOCK
        m = min(n, lo + _BLOCK) - lo
        g, v, work, total = np.empty(m), np.empty(m), np.empty(m), np.zeros(m)
        block_scale = scale[lo:lo + m]
        for d in range(n_days):
            _anomaly_exponent(coef, phi, d, lo, s_daily, g)
            exp_array(g, v, work)
            t = temporal[d]
            for c in range(m):
                v[c] = v[c] * t * block_scale[c]
                total[c] += v[c]
            if keep:
                row = daily[d, lo:lo + m]
                for c in range(m):
                    row[c] = v[c]
        block_annual = annual[lo:lo + m]
        for c in range(m):
            block_annual[c] = total[c] / n_days


@njit(cache=True, parallel=True)
def location_normals(words: np.ndarray, out: np.ndarray) -> None:
    """out[i] = the first ``standard_normal()`` of ``PCG64(SeedSequence(words[i]))``: one
    keyed unit normal per location (the small-scale effect of :mod:`netsim.truth`)."""
    for i in prange(words.shape[0]):
        st = new_state(words[i])
        out[i] = standard_normal(st)


# ----------------------------------------------------------------------------
# Station readings
# ----------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def outage_hours(
    words: np.ndarray,  # (n, m) uint32 entropy words of each station's outage stream
    lam: np.ndarray,  # (n,) expected outages in the year
    shortest: np.ndarray,  # (n,) int64 shortest outage, hours
    longest: np.ndarray,  # (n,) int64 longest outage, hours
    out: np.ndarray,  # (n, n_hours) bool, False on entry
) -> None:
    """Multi-hour outages: k ~ Poisson(lam) starts uniform over the year, then k lengths."""
    n_hours = out.shape[1]
    for i in prange(words.shape[0]):
        st = new_state(words[i])
        k = poisson(st, lam[i])
        starts = np.empty(k, dtype=np.int64)
        for j in range(k):
            starts[j] = integer(st, 0, n_hours)
        for j in range(k):
            length = integer(st, shortest[i], longest[i] + 1)
            out[i, starts[j]:min(starts[j] + length, n_hours)] = True


@njit(cache=True, parallel=True)
def hourly_readings(
    daily: np.ndarray,  # (n, n_days) float64 daily truth at the stations
    prof: np.ndarray,  # (n_days, 24) float64 diurnal profile, mean 1 per day
    sigma: float,  # log sd of the hourly fluctuation
    rho: float,  # lag-1 correlation of the hourly fluctuation
    fluct_words: np.ndarray,  # (n, m) uint32 entropy of each station's fluctuation stream
    instr_words: np.ndarray,  # (n, m') uint32 entropy of each station's instrument stream
    err: bool,  # apply instrument error
    miss: bool,  # drop missing hours
    bias_pct: np.ndarray,  # (n,) class or own bias, %
    unit_sd_pct: np.ndarray,  # (n,) unit-to-unit bias sd, %
    noise: np.ndarray,  # (n,) hourly relative noise sd (fraction)
    missing: np.ndarray,  # (n,) float32 probability of a missing hour
    outage: np.ndarray,  # (n, n_hours) bool outage hours, or (0, 0) without missing data
    out: np.ndarray,  # (n, n_hours) float64
) -> None:
    """Hourly values: daily × profile × exp(σ AR1 − σ²/2) × gain × (1 + noise ε); NaN if dropped.

    Draws, per station, exactly as ``netsim.truth`` did with numpy: the fluctuation
    stream gives the AR(1) start and innovations (float32 normals); the instrument
    stream gives the unit's bias (a float64 normal), n_hours float32 normals ε, then
    n_hours float32 uniforms for the missing hours.
    """
    n, n_hours = out.shape
    for i in prange(n):
        z = np.empty(n_hours + 1, dtype=np.float32)
        fill_standard_normal_f32(new_state(fluct_words[i]), z)
        factor = _fluctuation(z, sigma, rho)
        instr = new_state(instr_words[i])
        gain = 1.0
        eps = np.empty(n_hours if err or miss else 0, dtype=np.float32)
        uniform = np.empty(n_hours if miss else 0, dtype=np.float32)
        if err or miss:
            gain = 1.0 + (bias_pct[i] + unit_sd_pct[i] * standard_normal(instr)) / 100.0
            fill_standard_normal_f32(instr, eps)
            fill_random_f32(instr, uniform)
        _combine(daily[i], prof, factor, err, gain, noise[i], eps, miss, missing[i], uniform,
                 outage[i] if miss else outage[0:0, 0], out[i])


@njit(cache=True)
def _combine(daily: np.ndarray, prof: np.ndarray, factor: np.ndarray, err: bool, gain: float,
             noise: float, eps: np.ndarray, miss: bool, missing: np.float32,
             uniform: np.ndarray, outage: np.ndarray, out: np.ndarray) -> None:
    """One station's hourly values from its daily truth (n_days,), the fluctuation factor,
    the instrument draws and the missing hours (see :func:`hourly_readings`)."""
    for d in range(daily.size):
        hours = slice(24 * d, 24 * d + 24)
        day_factor, day_out, day_prof = factor[hours], out[hours], prof[d]
        for h in range(24):
            day_out[h] = daily[d] * day_prof[h] * day_factor[h]
        if err:
            day_eps = eps[hours]
            for h in range(24):
                v = day_out[h] * (gain * (1.0 + noise * day_eps[h]))
                day_out[h] = 0.0 if v < 0.0 else v
        if miss:
            day_uniform, day_outage = uniform[hours], outage[hours]
            for h in range(24):
                if day_uniform[h] < missing or day_outage[h]:
                    day_out[h] = np.nan


@njit(cache=True)
def ar1_filter(x: np.ndarray, rho: float, gain: float, state: np.ndarray,
               out: np.ndarray) -> None:
    """``out[i, t] = s + gain·x[i, t]``, ``s = ρ·out[i, t−1]`` (``s = state[i]`` at t = 0):
    ``scipy.signal.lfilter([gain], [1, −ρ], x, axis=-1, zi=state)`` with its operations in
    its order (its delay line ``s = 0·x − (−ρ)·y``), hence the same bits; rows in turn."""
    pole = -rho
    for i in range(x.shape[0]):
        s = state[i]
        for t in range(x.shape[1]):
            y = s + gain * x[i, t]
            out[i, t] = y
            s = 0.0 * x[i, t] - pole * y


@njit(cache=True)
def _fluctuation(z: np.ndarray, sigma: float, rho: float) -> np.ndarray:
    """exp(σ a_t − σ²/2) of the AR(1) a_t = ρ a_{t−1} + √(1−ρ²) z_{t+1}, a_0 = z_0 (n_hours,)."""
    c = math.sqrt(1.0 - rho * rho)
    half = 0.5 * sigma * sigma
    level = np.empty(z.size - 1)
    a = float(z[0])
    for t in range(level.size):
        a = rho * a + c * float(z[t + 1])
        level[t] = sigma * a - half
    factor = np.empty(level.size)
    exp_array(level, factor, np.empty(level.size))
    return factor
