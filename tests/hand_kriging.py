"""Ordinary kriging with measurement error, solved by hand with numpy (a test reference).

The real-readings tests check netsim's held-out estimates against this: the kriging
system in semivariances with the stations' measurement-error variances on the diagonal,
``[[Γ − diag(σ²), 1], [1ᵀ, 0]] [λ; μ] = [γ(x₀); 1]``, estimate ``λᵀ z``.
"""

from __future__ import annotations

import numpy as np


def reference_analyser_noise(z: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Error variance of annual means of reference analysers (netsim.instruments: 2 % unit
    bias, 3 % hourly noise averaged over ``hours``)."""
    return (z * 0.02) ** 2 + (z * 0.03) ** 2 / hours


def noisy_ordinary_kriging(xy: np.ndarray, z: np.ndarray, noise: np.ndarray,
                           targets: np.ndarray, variogram) -> np.ndarray:
    """Estimates (m,) at ``targets`` (m, 2) from values ``z`` (n,) at ``xy`` (n, 2) with
    error variances ``noise`` (n,); ``variogram`` has ``gamma(distance)``."""
    n = len(z)
    a = np.ones((n + 1, n + 1))
    a[n, n] = 0.0
    a[:n, :n] = variogram.gamma(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    a[np.diag_indices(n)] = -noise
    b = np.ones((n + 1, len(targets)))
    b[:n] = variogram.gamma(np.hypot(*(xy[:, None, :] - targets[None, :, :]).transpose(2, 0, 1)))
    return np.linalg.solve(a, b)[:n].T @ z
