"""The local kernel's Cholesky factor of a neighbour set's covariance matrix and its
triangular solves (``_kernels._cholesky_factor`` and friends) against LAPACK
(numpy.linalg.cholesky / solve / inv), and the eigenvalue bound its rcond check uses."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from netsim.kriging import _kernels
from netsim.kriging._kernels import _cholesky_factor, _cholesky_inverse


def _spherical_covariance(rng: np.random.Generator, k: int) -> np.ndarray:
    """Covariance matrix (µg/m³)² of k random stations, spherical model (sill 100, nugget 10,
    range 20 km) over a 30 km square: symmetric positive definite."""
    xy = rng.uniform(0.0, 30_000.0, (k, 2))
    h = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    r = np.minimum(h / 20_000.0, 1.0)
    return 100.0 - (90.0 * (1.5 * r - 0.5 * r**3) + 10.0 * (h > 0))


@njit
def _solves(lt, k, b):
    """(L⁻¹b, C⁻¹b by two solves, C⁻¹b and C⁻¹1 by the paired solve)."""
    forward = b.copy()
    _kernels._forward_solve(lt, k, forward)
    full = forward.copy()
    _kernels._backward_solve(lt, k, full)
    paired = b.copy()
    ones = np.ones(k)
    _kernels._solve_pair(lt, k, paired, ones)
    return forward, full, paired, ones


@pytest.mark.parametrize("k", [1, 2, 3, 8, 16, 17, 32, 33])
def test_factor_solves_and_inverse_match_lapack(k):
    rng = np.random.default_rng(k)
    a = _spherical_covariance(rng, k)
    lt = np.full((k + 1, k + 1), np.nan)
    pivot = _cholesky_factor(a, k, lt)
    lower = np.linalg.cholesky(a)
    assert pivot == pytest.approx((np.diag(lower) ** 2).min() / np.diag(a).max(), rel=1e-12)
    # Lᵀ by rows above the diagonal, reciprocal pivots on it; nothing written elsewhere
    np.testing.assert_allclose(np.triu(lt[:k, :k], 1), np.triu(lower.T, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.diag(lt[:k, :k]), 1.0 / np.diag(lower), rtol=1e-12)
    assert np.isnan(lt[k]).all() and np.isnan(np.tril(lt[:k, :k], -1)[np.tril_indices(k, -1)]).all()
    b = rng.normal(50.0, 10.0, k)
    forward, full, paired, ones = _solves(lt, k, b)
    np.testing.assert_allclose(forward, np.linalg.solve(lower, b), rtol=1e-10)
    np.testing.assert_allclose(full, np.linalg.solve(a, b), rtol=1e-9)
    assert np.array_equal(paired, full)  # the same operations, interleaved
    np.testing.assert_allclose(ones, np.linalg.solve(a, np.ones(k)), rtol=1e-9)
    inverse = np.full((k + 1, k + 1), np.nan)
    _cholesky_inverse(lt, k, inverse)
    np.testing.assert_allclose(inverse[:k, :k], np.linalg.inv(a), rtol=1e-9, atol=1e-12)


def test_not_positive_definite_gives_a_non_positive_pivot():
    a = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    assert _cholesky_factor(a, 2, np.empty((2, 2))) <= 0.0
    assert _cholesky_factor(np.zeros((2, 2)), 2, np.empty((2, 2))) == 0.0


@pytest.mark.parametrize("model", ["spherical", "exponential", "gaussian", "matern"])
def test_smallest_eigenvalue_bound_holds(model):
    """nugget + min(error variance) bounds every eigenvalue of a bounded model's C from below."""
    from netsim import Variogram

    rng = np.random.default_rng(3)
    k = 24
    v = Variogram(model, 80.0, 25_000.0, 4.0, **({"smoothness": 2.5} if model == "matern" else {}))
    code, psill, rang, nugget, shape = v.code, v.psill, v.range, v.nugget, v.shape
    for _ in range(20):
        xy = rng.uniform(0.0, 40_000.0, (k, 2))
        noise = rng.uniform(0.0, 3.0, k)
        c = np.empty((k, k))
        out = np.empty(k)
        for r in range(k):
            _kernels_member_cov(code, psill, rang, nugget, shape, v.sill, xy[r], xy, out)
            c[r] = out
        c[np.diag_indices(k)] = v.sill + noise
        bound = _kernels._smallest_eigenvalue_bound(nugget, noise.min(), False, k, v.sill)
        assert 0.0 < bound <= np.linalg.eigvalsh(c).min()
    assert _kernels._smallest_eigenvalue_bound(nugget, 0.0, True, k, v.sill) == 0.0  # coincident
    assert _kernels._smallest_eigenvalue_bound(0.0, 0.0, False, k, v.sill) == 0.0  # no nugget


def _kernels_member_cov(code, psill, rang, nugget, shape, sill, p, xy, out):
    _kernels._member_cov(
        code, psill, rang, nugget, shape, True, sill, p[0], p[1],
        np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), xy.shape[0], out,
    )
