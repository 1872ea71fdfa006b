"""Numba kernels of the HJ 663 daily statistics (no validation; see :mod:`netsim.standards`).

Inputs are C-contiguous (m, D, 24) float64 hourly values (hour-beginning labels,
NaN = missing).  Each kernel is a ``prange`` over the m series; every output is
computed by one thread in a fixed order, and the sums reproduce the NumPy
expressions they replace bit for bit:

* a daily total is NumPy's pairwise sum of 24 values (eight running sums over
  hours ``j, j+8, j+16``, combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``),
  computed on an hour-major copy (24, D) of the series so that consecutive days
  fill the SIMD lanes;
* an 8-hour window total is a difference of running (cumulative) sums of the day.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _hour_major(days: np.ndarray, x: np.ndarray) -> None:
    """``x[k, d] = days[d, k]``: one series' (D, 24) hours as (24, D), so that the per-day
    arithmetic runs over consecutive days (SIMD lanes), each day in its usual order."""
    for d in range(days.shape[0]):
        for k in range(24):
            x[k, d] = days[d, k]


@njit(cache=True, inline="always")
def _valid(v: float) -> float:
    """``v``, or 0 where it is NaN (a mask, not a branch)."""
    return v if v == v else 0.0


@njit(cache=True, inline="always")
def _lane(x: np.ndarray, j: int, d: int) -> float:
    """Running sum r_j = h_j + h_{j+8} + h_{j+16} of the valid hours of day d of ``x`` (24, D)."""
    return (_valid(x[j, d]) + _valid(x[j + 8, d])) + _valid(x[j + 16, d])


@njit(cache=True, error_model="numpy")
def _series_daily_means(x: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """24-h means (D,) of one hour-major series (24, D).

    Branch-free, so that LLVM vectorises over days: a day without values divides 0 by 0
    (NaN under ``error_model="numpy"``) and is masked.
    """
    for d in range(out.shape[0]):
        total = 0.0 + (((_lane(x, 0, d) + _lane(x, 1, d)) + (_lane(x, 2, d) + _lane(x, 3, d)))
                       + ((_lane(x, 4, d) + _lane(x, 5, d)) + (_lane(x, 6, d) + _lane(x, 7, d))))
        count = 0
        for k in range(24):
            count += x[k, d] == x[k, d]
        mean = total / count
        out[d] = mean if (count >= min_hours) & (count > 0) else np.nan


@njit(cache=True, parallel=True)
def daily_means(hourly: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """24-h means (m, D); NaN where fewer than ``min_hours`` hours are valid."""
    m, n_days = out.shape
    for i in prange(m):
        x = np.empty((24, n_days))
        _hour_major(hourly[i], x)
        _series_daily_means(x, min_hours, out[i])


@njit(cache=True, parallel=True)
def daily_max(hourly: np.ndarray, min_hours: int, out: np.ndarray) -> None:
    """Daily maximum 1-h value (m, D); NaN where fewer than ``min_hours`` hours are valid."""
    m, n_days = out.shape
    for i in prange(m):
        for d in range(n_days):
            day = hourly[i, d]
            count = 0
            for h in range(24):
                count += day[h] == day[h]
            out[i, d] = _day_max(day) if count >= min_hours else np.nan


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


@njit(cache=True)
def _best_window(total: np.ndarray, count: np.ndarray, min_hours: int) -> tuple[int, float]:
    """Valid 8-h windows of one day and their largest mean (-inf without one), from the
    running sums of the day."""
    valid, best = 0, -np.inf
    for j in range(17):
        n = count[j + 8] - count[j]
        if n >= min_hours and n > 0:
            mean = (total[j + 8] - total[j]) / n
            if mean == mean:
                valid += 1
                best = max(best, mean)
    return valid, best


@njit(cache=True)
def _day_max(h: np.ndarray) -> float:
    """Largest non-NaN value of one day (24,); -inf without one."""
    best = -np.inf
    for k in range(24):
        v = h[k]
        best = v if v > best else best  # branch-free; NaN never wins
    return best


@njit(cache=True, parallel=True)
def mda8(hourly: np.ndarray, min_hours: int, min_windows: int, exceedance_limit: float,
         min_hours_1h: int, values: np.ndarray, n_windows: np.ndarray,
         max_1h: np.ndarray) -> None:
    """Daily maximum 8-h mean (m, D) with the HJ 663 validity rule, valid windows, and the
    daily maximum 1-h value (as :func:`daily_max`, ``min_hours_1h``) in the same pass."""
    m, n_days = values.shape
    for i in prange(m):
        total = np.empty(25)
        count = np.empty(25, dtype=np.int64)
        for d in range(n_days):
            day = hourly[i, d]
            _running_sums(day, total, count)
            valid, best = _best_window(total, count, min_hours)
            ok = valid >= min_windows or (valid >= 1 and best > exceedance_limit)
            values[i, d] = best if ok else np.nan
            n_windows[i, d] = valid
            max_1h[i, d] = _day_max(day) if count[24] >= min_hours_1h else np.nan


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


# --------------------------------------------------------------- annual values (HJ 663)


@njit(cache=True, parallel=True)
def valid_days(daily: np.ndarray, month_starts: np.ndarray, month_days: np.ndarray,
               total: np.ndarray) -> None:
    """Non-NaN values of each row of ``daily`` (m, D): per month into ``month_days``
    (m, 12; month k spans days ``month_starts[k] … month_starts[k+1] - 1``) and in all
    into ``total`` (m,)."""
    m, n_months = month_days.shape
    for i in prange(m):
        row = daily[i]
        n = 0
        for k in range(n_months):
            in_month = 0
            for d in range(month_starts[k], month_starts[k + 1]):
                in_month += row[d] == row[d]
            month_days[i, k] = in_month
            n += in_month
        total[i] = n


@njit(cache=True)
def _sift_down(heap: np.ndarray, size: int, start: int) -> None:
    """Restore the min-heap order of ``heap[:size]`` below ``start``."""
    i, value = start, heap[start]
    while 2 * i + 1 < size:
        child = 2 * i + 1
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = value


@njit(cache=True)
def _largest(row: np.ndarray, k: int, heap: np.ndarray) -> None:
    """The ``k`` largest non-NaN values of ``row`` (which has at least k) as a min-heap
    ``heap[:k]``: ``heap[0]`` is the k-th largest."""
    size = 0
    for v in row:
        if v != v:
            continue
        if size < k:
            heap[size] = v
            size += 1
            if size == k:
                for start in range(k // 2 - 1, -1, -1):
                    _sift_down(heap, k, start)
        elif v > heap[0]:
            heap[0] = v
            _sift_down(heap, k, 0)


@njit(cache=True)
def _order_statistics(row: np.ndarray, n: int, s: int, heap: np.ndarray) -> tuple[float, float]:
    """X(s) and X(s+1) (0-based; X(s+1) = X(s) when s = n - 1) of the n valid values of
    ``row``: the root of a min-heap of the n - s largest, and the smaller of its children."""
    k = n - s
    _largest(row, k, heap)
    if k == 1:
        return heap[0], heap[0]
    return heap[0], heap[1] if k == 2 else min(heap[1], heap[2])


@njit(cache=True, parallel=True)
def percentiles(values: np.ndarray, fraction: float, out: np.ndarray) -> None:
    """HJ 663 percentile (``fraction`` = p/100) of the non-NaN values of each row (m, D).

    The NumPy expression of :func:`netsim.standards.hj663_percentile`, value for value:
    0-based position ``np.round((n - 1) * fraction, 9)`` (``rint(x * 1e9) / 1e9``),
    s = ⌊position⌋, X(s) + (X(s+1) − X(s))·(position − s) if that is > 0, else X(s);
    NaN without a valid value.  X(s) and X(s+1) are selected, not sorted for.
    """
    m = values.shape[0]
    for i in prange(m):
        row = values[i]
        n = 0
        for v in row:
            n += v == v
        if n == 0:
            out[i] = np.nan
            continue
        position = np.rint((n - 1) * fraction * 1e9) / 1e9
        s = int(np.floor(position))
        frac = position - s
        xs, xh = _order_statistics(row, n, s, np.empty(n - s))
        out[i] = xs + (xh - xs) * frac if frac > 0 else xs


# ------------------------------------------------------------------------ AQI (HJ 633)
# The kernels below reproduce :func:`netsim.standards.round_gbt8170` (array path),
# :func:`netsim.standards.iaqi` and the AQI day counts of :mod:`netsim.timeseries`
# value for value: ``np.round(x, d)`` is ``rint(x * 10**d) / 10**d`` in NumPy.


@njit(cache=True)
def _round_decimals(x: float, scale: float) -> float:
    """``np.round(x, d)`` with ``scale = 10.0**d`` (d >= 0)."""
    return np.rint(x * scale) / scale


@njit(cache=True, parallel=True)
def reported_nonnegative(values: np.ndarray, scale: float, exact_integers: float,
                         out: np.ndarray, needs_decimal: np.ndarray) -> int:
    """``round_gbt8170(np.maximum(values, 0), d)`` away from decimal ties, (m, D).

    ``scale = 10.0**d``.  Values within 1e-6 (in units of the last kept digit) of a
    tie, or too large to scale exactly, are flagged in ``needs_decimal`` (the caller
    rounds them by the decimal path); returns how many.
    """
    m, n_days = values.shape
    flagged = np.zeros(m, dtype=np.int64)
    for i in prange(m):
        for d in range(n_days):
            v = values[i, d]
            if v != v:
                out[i, d] = v
                needs_decimal[i, d] = False
                continue
            if v < 0.0:
                v = 0.0
            scaled = v * scale
            tie = abs(scaled - np.floor(scaled) - 0.5) < 1e-6
            big = abs(scaled) >= exact_integers
            needs_decimal[i, d] = tie or big
            flagged[i] += tie or big
            out[i, d] = np.rint(scaled) / scale
    return flagged.sum()


@njit(cache=True, parallel=True)
def iaqi_max(conc: np.ndarray, breakpoints: np.ndarray, levels: np.ndarray,
             over_value: float, aqi: np.ndarray) -> None:
    """Fold one pollutant's IAQI into ``aqi`` (m, D): ``aqi = max(aqi, iaqi)``, NaN
    sticky (a missing IAQI makes the AQI missing).  ``iaqi`` as
    :func:`netsim.standards.iaqi`; above the last breakpoint ``over_value``."""
    m, n_days = conc.shape
    nb = breakpoints.size
    top = breakpoints[nb - 1]
    for i in prange(m):
        for d in range(n_days):
            c = conc[i, d]
            if c != c or c < 0.0:
                value = np.nan
            elif c > top:
                value = over_value
            else:
                k = 1
                while k < nb - 1 and breakpoints[k] < c:
                    k += 1
                lo_c, hi_c = breakpoints[k - 1], breakpoints[k]
                lo_i, hi_i = levels[k - 1], levels[k]
                val = lo_i + (hi_i - lo_i) * (c - lo_c) / (hi_c - lo_c)
                value = np.ceil(_round_decimals(val, 1e9))
            current = aqi[i, d]
            if current != current:
                continue
            aqi[i, d] = value if (value != value or value > current) else current


@njit(cache=True, parallel=True)
def aqi_day_counts(aqi: np.ndarray, upper_bounds: np.ndarray, meets: float,
                   categories: np.ndarray, meeting: np.ndarray, valid: np.ndarray) -> None:
    """Per row of ``aqi`` (m, D): days per category (``upper_bounds`` ascending, a day
    in the first category whose bound it does not exceed), days with AQI ≤ ``meets``
    and days with an AQI."""
    m, n_days = aqi.shape
    n_cat = upper_bounds.size
    for i in prange(m):
        for k in range(n_cat):
            categories[i, k] = 0.0
        n_meet, n_valid = 0, 0
        for d in range(n_days):
            a = aqi[i, d]
            if a != a:
                continue
            n_valid += 1
            n_meet += a <= meets
            k = 0
            while k < n_cat and upper_bounds[k] < a:
                k += 1
            if k < n_cat:
                categories[i, k] += 1.0
        meeting[i] = n_meet
        valid[i] = n_valid
