"""Numba kernels of the truth world (no validation here; see :mod:`netsim.truth`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, fastmath=False)
def hourly_kernel(
    daily: np.ndarray,  # (n, nd) float64 daily truth
    prof: np.ndarray,  # (nd, 24) float64 diurnal profile, mean 1 per day
    z: np.ndarray,  # (n, nh + 1) float32 standard normals (truth fluctuation)
    sigma: float,  # log sd of the hourly fluctuation
    rho: float,  # lag-1 correlation of the hourly fluctuation
    eps: np.ndarray,  # (n, nh) float32 standard normals (instrument noise) or (0, 0)
    gain: np.ndarray,  # (n,) 1 + bias/100
    noise: np.ndarray,  # (n,) noise_pct/100
    drop: np.ndarray,  # (n, nh) bool missing hours or (0, 0)
    out: np.ndarray,  # (n, nh) float64
) -> None:
    """Hourly values: daily × profile × exp(σ AR1 − σ²/2) × gain × (1 + noise ε); NaN if dropped."""
    n, nd = daily.shape
    c = math.sqrt(1.0 - rho * rho)
    half = 0.5 * sigma * sigma
    use_err = eps.shape[0] == n
    use_drop = drop.shape[0] == n
    for i in prange(n):
        a = float(z[i, 0])
        for d in range(nd):
            for h in range(24):
                t = d * 24 + h
                a = rho * a + c * z[i, t + 1]
                v = daily[i, d] * prof[d, h] * math.exp(sigma * a - half)
                if use_err:
                    v *= gain[i] * (1.0 + noise[i] * eps[i, t])
                    if v < 0.0:
                        v = 0.0
                if use_drop and drop[i, t]:
                    v = np.nan
                out[i, t] = v
