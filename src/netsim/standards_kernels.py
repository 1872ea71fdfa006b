"""Numba kernels of the HJ 663 daily statistics (no validation; see :mod:`netsim.standards`).

Inputs are C-contiguous (m, D, 24) float64 hourly values (hour-beginning labels,
NaN = missing).  Each kernel is a ``prange`` over the m series; every output is
computed by one thread in a fixed order, and the sums reproduce the NumPy
expressions they replace bit for bit:

* a daily total is NumPy's pairwise sum of 24 values (eight running sums over
  hours ``j, j+8, j+16``, combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``);
* an 8-hour window total is a difference of running (cumulative) sums of the day.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _day_total(h: np.ndarray, r: np.ndarray) -> tuple[float, int]:
    """Sum and count of the valid values of one day (24,), as ``np.where(ok, h, 0).sum()``:
    eight running sums r_j = h_j + h_{j+8} + h_{j+16} (``r``: (8,) scratch), combined
    pairwise."""
    count = 0
    for j in range(8):
        a, b, c = h[j], h[j + 8], h[j + 16]
        count += (a == a) + (b == b) + (c == c)
        r[j] = ((a if a == a else 0.0) + (b if b == b else 0.0)) + (c if c == c else 0.0)
    return 0.0 + (((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))), count


@njit(cache=True, parallel=True)
def daily_means(hourly: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """24-h means (m, D); NaN where fewer than ``min_hours`` hours are valid."""
    m, n_days = out.shape
    for i in prange(m):
        r = np.empty(8)
        for d in range(n_days):
            total, count = _day_total(hourly[i, d], r)
            out[i, d] = total / count if count >= min_hours and count > 0 else np.nan


@njit(cache=True, parallel=True)
def daily_max(hourly: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """Daily maximum 1-h value (m, D); NaN where fewer than ``min_hours`` hours are valid."""
    m, n_days = out.shape
    for i in prange(m):
        for d in range(n_days):
            count, best = 0, -np.inf
            for h in range(24):
                v = hourly[i, d, h]
                if v == v:
                    count += 1
                    best = max(best, v)
            out[i, d] = best if count >= min_hours else np.nan


@njit(cache=True)
def _running_sums(h: np.ndarray, total: np.ndarray, count: np.ndarray) -> None:
    """Cumulative sums (25,) of the valid values and of their count over one day."""
    total[0] = 0.0
    count[0] = 0
    for k in range(24):
        v = h[k]
        valid = v == v
        total[k + 1] = total[k] + (v if valid else 0.0)
        count[k + 1] = count[k] + (1 if valid else 0)


@njit(cache=True, parallel=True)
def eight_hour_means(hourly: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """8-h means of the 17 windows inside each day (m, D, 17); NaN if invalid."""
    m, n_days, n_windows = out.shape
    for i in prange(m):
        total = np.empty(25)
        count = np.empty(25, dtype=np.int64)
        for d in range(n_days):
            _running_sums(hourly[i, d], total, count)
            for j in range(n_windows):
                n = count[j + 8] - count[j]
                out[i, d, j] = (total[j + 8] - total[j]) / n if n >= min_hours and n > 0 \
                    else np.nan


@njit(cache=True, parallel=True)
def mda8(hourly: np.ndarray, min_hours: int, min_windows: int, exceedance_limit: float,
         values: np.ndarray, n_windows: np.ndarray) -> None:
    """Daily maximum 8-h mean (m, D) with the HJ 663 validity rule, and valid windows."""
    m, n_days = values.shape
    for i in prange(m):
        total = np.empty(25)
        count = np.empty(25, dtype=np.int64)
        for d in range(n_days):
            _running_sums(hourly[i, d], total, count)
            valid, best = 0, -np.inf
            for j in range(17):
                n = count[j + 8] - count[j]
                if n >= min_hours and n > 0:
                    mean = (total[j + 8] - total[j]) / n
                    if mean == mean:
                        valid += 1
                        best = max(best, mean)
            ok = valid >= min_windows or (valid >= 1 and best > exceedance_limit)
            values[i, d] = best if ok else np.nan
            n_windows[i, d] = valid


@njit(cache=True, parallel=True)
def has_values(values: np.ndarray, out: np.ndarray) -> None:
    """out[i]: row i of the (m, n) array has a non-NaN value (stops at the first)."""
    for i in prange(values.shape[0]):
        row = values[i]
        found = False
        for k in range(row.size):
            if row[k] == row[k]:
                found = True
                break
        out[i] = found
