"""Numba kernels of the conditioned truth (no validation here; see :mod:`netsim.conditional`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def point_field_serial(
    x: np.ndarray,  # (n,) float64 easting minus the field origin, metres
    y: np.ndarray,  # (n,) float64 northing minus the field origin
    kx: np.ndarray,  # (N,) wave vectors, radians per metre
    ky: np.ndarray,
    z1: np.ndarray,  # (N,) amplitudes
    z2: np.ndarray,
    out: np.ndarray,  # (n,) float64
) -> None:
    """Σ_i z1 cos(k·x) + z2 sin(k·x), / √N, at each point, on one thread.

    The arithmetic of :func:`netsim.truth_kernels.point_field` (same order, same
    values) without its thread pool, whose start-up dominates for the few points
    (stations) the conditioned truth evaluates at a time.
    """
    n_modes = kx.size
    root = math.sqrt(n_modes)
    for j in range(x.size):
        acc = 0.0
        for i in range(n_modes):
            phase = x[j] * kx[i] + y[j] * ky[i]
            acc += z1[i] * math.cos(phase) + z2[i] * math.sin(phase)
        out[j] = acc / root
