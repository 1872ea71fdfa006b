"""Numba kernel of the NetAssess removal bias (no validation; see :mod:`netsim.assessment`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

REMOVAL_BIAS_COLUMNS = ("n_days", "mean_bias", "min_bias", "max_bias", "sd_bias",
                        "mean_relative_bias_pct", "min_relative_bias_pct",
                        "max_relative_bias_pct")
"""Columns of :func:`removal_bias` ``out``, in order."""


@njit(cache=True)
def _estimates(values: np.ndarray, i: int, neighbours: np.ndarray, weights: np.ndarray,
               bias: np.ndarray, measured: np.ndarray) -> int:
    """Daily bias (estimate − measured) of station ``i`` on the days that qualify; their count.

    The estimate is Σ w_j v_j / Σ w_j over the neighbours j with a finite value that day
    (in neighbour order); a day qualifies when station ``i`` and a neighbour have values.
    """
    n_days = values.shape[1]
    numerator = np.zeros(n_days)
    weight = np.zeros(n_days)
    for k in range(neighbours.size):
        w, row = weights[k], values[neighbours[k]]
        for d in range(n_days):
            v = row[d]
            if math.isfinite(v):
                numerator[d] += w * v
                weight[d] += w
    count = 0
    own = values[i]
    for d in range(n_days):
        v = own[d]
        if math.isfinite(v) and weight[d] > 0:
            bias[count] = numerator[d] / weight[d] - v
            measured[count] = v
            count += 1
    return count


@njit(cache=True)
def _summary(bias: np.ndarray, measured: np.ndarray, out: np.ndarray) -> None:
    """Mean, min, max, sd (ddof 1) of the bias and mean, min, max of 100·bias/measured."""
    n = bias.size
    out[:] = np.nan
    out[0] = n
    if n == 0:
        return
    out[1], out[2], out[3] = bias.sum() / n, bias.min(), bias.max()
    if n > 1:
        out[4] = math.sqrt(((bias - out[1]) ** 2).sum() / (n - 1))
    total, count, lo, hi = 0.0, 0, np.inf, -np.inf
    for d in range(n):
        if measured[d] != 0:
            rel = 100.0 * bias[d] / measured[d]
            total += rel
            count += 1
            lo, hi = min(lo, rel), max(hi, rel)
    if count:
        out[5], out[6], out[7] = total / count, lo, hi


@njit(cache=True, parallel=True)
def removal_bias(
    values: np.ndarray,  # (n, n_days) float64 daily values per station, NaN = missing
    indptr: np.ndarray,  # (n + 1,) int64: neighbours of i are indices[indptr[i]:indptr[i+1]]
    indices: np.ndarray,  # int64 neighbour indices
    weights: np.ndarray,  # float64 inverse squared distances, aligned with indices
    out: np.ndarray,  # (n, 8) float64, columns REMOVAL_BIAS_COLUMNS
) -> None:
    """NetAssess removal bias of every station (sums in day and neighbour order)."""
    n, n_days = values.shape
    for i in prange(n):
        bias = np.empty(n_days)
        measured = np.empty(n_days)
        lo, hi = indptr[i], indptr[i + 1]
        count = _estimates(values, i, indices[lo:hi], weights[lo:hi], bias, measured)
        _summary(bias[:count], measured[:count], out[i])
