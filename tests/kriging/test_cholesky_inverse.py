"""The local kernel's explicit inverse of a neighbour set's covariance matrix
(``_kernels._cholesky_inverse``) against LAPACK (numpy.linalg.inv, Cholesky)."""

from __future__ import annotations

import numpy as np
import pytest

from netsim.kriging._kernels import _cholesky_inverse


def _spherical_covariance(rng: np.random.Generator, k: int) -> np.ndarray:
    """Covariance matrix (µg/m³)² of k random stations, spherical model (sill 100, nugget 10,
    range 20 km) over a 30 km square: symmetric positive definite."""
    xy = rng.uniform(0.0, 30_000.0, (k, 2))
    h = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    r = np.minimum(h / 20_000.0, 1.0)
    return 100.0 - (90.0 * (1.5 * r - 0.5 * r**3) + 10.0 * (h > 0))


@pytest.mark.parametrize("k", [1, 2, 3, 8, 17, 32, 33])
@pytest.mark.parametrize("scratch_columns", ["2k", "k"])
def test_inverse_and_pivot_match_lapack(k, scratch_columns):
    rng = np.random.default_rng(k)
    a = _spherical_covariance(rng, k)
    work = np.empty((k + 1, 2 * (k + 1) if scratch_columns == "2k" else k))
    out = np.full((k + 1, k + 1), np.nan)
    pivot = _cholesky_inverse(a, k, work, out)
    np.testing.assert_allclose(out[:k, :k], np.linalg.inv(a), rtol=1e-9, atol=1e-12)
    assert np.array_equal(out[:k, :k], out[:k, :k].T)  # exactly symmetric
    lower = np.linalg.cholesky(a)
    assert pivot == pytest.approx((np.diag(lower) ** 2).min() / np.diag(a).max(), rel=1e-12)
    assert np.isnan(out[k]).all()  # nothing written beyond the k x k block


def test_not_positive_definite_gives_a_non_positive_pivot():
    a = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    assert _cholesky_inverse(a, 2, np.empty((2, 4)), np.empty((2, 2))) <= 0.0
    assert _cholesky_inverse(np.zeros((2, 2)), 2, np.empty((2, 4)), np.empty((2, 2))) == 0.0
