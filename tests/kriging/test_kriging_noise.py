"""Kriging with known measurement error (``noise_variance``).

Independent references: GSTools ``Krige(exact=False, cond_err=...)``, a direct
NumPy solve of the augmented ordinary/simple kriging system with the error
variances on the diagonal, and limiting properties (zero noise = exact
kriging bit for bit; a station with a huge error variance has no weight).
"""

from __future__ import annotations

import gstools as gs
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from netsim.errors import KrigingError
from netsim.kriging import krige
from netsim.variogram import Variogram

SPH = Variogram("spherical", psill=20.0, range=8000.0, nugget=3.0)
EXP = Variogram("exponential", psill=15.0, range=9000.0, nugget=0.0)
LIN = Variogram("linear", psill=10.0, range=10000.0, nugget=1.0)


def _case(n=30, m=200, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 20000.0, (n, 2))
    z = rng.normal(35.0, 5.0, n)
    targets = rng.uniform(0.0, 20000.0, (m, 2))
    nv = rng.uniform(0.0, 12.0, n)
    return xy, z, targets, nv


def _reference(xy, z, t, vg, nv, method="ordinary", mean=0.0):
    """Estimate and variance at targets ``t`` from the augmented system solved with NumPy."""
    n = xy.shape[0]
    g_ss = vg.gamma(cdist(xy, xy))
    np.fill_diagonal(g_ss, 0.0)
    g_st = vg.gamma(cdist(xy, t))
    g_st[cdist(xy, t) < 1e-10] = 0.0
    if method == "simple":
        c = vg.sill - g_ss + np.diag(nv)  # C_ii + σ²_i
        c0 = vg.sill - g_st
        lam = np.linalg.solve(c, c0)
        return mean + lam.T @ (z - mean), vg.sill - np.sum(lam * c0, axis=0)
    a = np.zeros((n + 1, n + 1))
    a[:n, :n] = g_ss - np.diag(nv)  # γ_ii = 0 becomes -σ²_i
    a[:n, n] = a[n, :n] = 1.0
    b = np.vstack([g_st, np.ones((1, t.shape[0]))])
    sol = np.linalg.solve(a, b)
    return sol[:n].T @ z, np.sum(sol * b, axis=0)


# ----------------------------------------------------------------- (a) zero noise


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"method": "simple", "mean": 35.0},
        {"method": "universal", "linear_drift": True},
        {"n_neighbours": 8},
        {"n_neighbours": 8, "method": "simple", "mean": 35.0},
    ],
)
@pytest.mark.parametrize("vg", [SPH, EXP])
def test_zero_noise_is_bit_identical_to_exact_kriging(vg, kw):
    xy, z, targets, _ = _case()
    rng = np.random.default_rng(1)
    zt = z + rng.normal(0.0, 2.0, (12, z.size))  # T > 8: the BLAS estimate path
    zt[3, 4] = zt[7, 10] = np.nan  # availability patterns
    for values in (z, zt, zt[:4]):
        exact = krige(xy, values, targets, vg, **kw)
        zero = krige(xy, values, targets, vg, noise_variance=np.zeros(z.size), **kw)
        assert np.array_equal(exact.estimate, zero.estimate, equal_nan=True)
        assert np.array_equal(exact.variance, zero.variance, equal_nan=True)


# ----------------------------------------------------------------- (b) GSTools


@pytest.mark.parametrize("vg", [SPH, EXP])
def test_ordinary_matches_gstools_cond_err(vg):
    """GSTools' covariance has no nugget at zero lag, so its cond_err is nugget + σ²."""
    xy, z, targets, nv = _case()
    ours = krige(xy, z, targets, vg, noise_variance=nv)
    ok = gs.krige.Ordinary(
        vg.to_gstools(), xy.T, z, exact=False, cond_err=vg.nugget + nv, pseudo_inv=False
    )
    field, var = ok(targets.T, mesh_type="unstructured")
    np.testing.assert_allclose(ours.estimate, field, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.variance, var, rtol=0, atol=1e-8)


def test_simple_matches_gstools_cond_err():
    xy, z, targets, nv = _case(seed=3)
    ours = krige(xy, z, targets, SPH, method="simple", mean=33.0, noise_variance=nv)
    sk = gs.krige.Simple(
        SPH.to_gstools(),
        xy.T,
        z,
        mean=33.0,
        exact=False,
        cond_err=SPH.nugget + nv,
        pseudo_inv=False,
    )
    field, var = sk(targets.T, mesh_type="unstructured")
    np.testing.assert_allclose(ours.estimate, field, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.variance, var, rtol=0, atol=1e-8)


# ----------------------------------------------------------------- (c) direct solve


@pytest.mark.parametrize("vg", [SPH, EXP, LIN])
def test_ordinary_matches_direct_solve_with_minus_sigma2_diagonal(vg):
    xy, z, targets, nv = _case(n=7, m=25, seed=5)
    targets = np.vstack([targets, xy[:2]])  # at a station: no longer exact
    ours = krige(xy, z, targets, vg, noise_variance=nv)
    est, var = _reference(xy, z, targets, vg, nv)
    np.testing.assert_allclose(ours.estimate, est, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.variance, var, rtol=0, atol=1e-9)
    assert abs(ours.estimate[-1] - z[1]) > 1e-6


def test_simple_matches_direct_solve():
    xy, z, targets, nv = _case(n=7, m=25, seed=6)
    ours = krige(xy, z, targets, SPH, method="simple", mean=30.0, noise_variance=nv)
    est, var = _reference(xy, z, targets, SPH, nv, method="simple", mean=30.0)
    np.testing.assert_allclose(ours.estimate, est, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.variance, var, rtol=0, atol=1e-9)


@pytest.mark.parametrize("vg", [SPH, EXP])
def test_time_steps_and_nan_patterns_subset_the_noise(vg):
    """(T, n) values with NaN: each step equals a 1-D kriging of its stations with their σ²."""
    xy, z, targets, nv = _case(n=12, m=60, seed=7)
    rng = np.random.default_rng(8)
    for T in (3, 11):  # fused kernel estimates / one BLAS product
        zt = z + rng.normal(0.0, 3.0, (T, z.size))
        zt[1, [2, 5]] = np.nan
        res = krige(xy, zt, targets, vg, noise_variance=nv)
        for s in range(T):
            ok = np.isfinite(zt[s])
            one = krige(xy[ok], zt[s, ok], targets, vg, noise_variance=nv[ok])
            np.testing.assert_allclose(res.estimate[s], one.estimate, rtol=0, atol=1e-9)
            np.testing.assert_allclose(res.variance[s], one.variance, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("vg", "kw"),
    [
        (SPH, {}),  # Cholesky of the covariance matrix
        (LIN, {}),  # unbounded: Gauss-Jordan on the semivariance system
        (SPH, {"method": "simple", "mean": 34.0}),
    ],
)
def test_local_neighbourhood_adds_member_noise(vg, kw):
    xy, z, targets, nv = _case(n=40, m=80, seed=9)
    k = 9
    res = krige(xy, z, targets, vg, n_neighbours=k, noise_variance=nv, **kw)
    method = kw.get("method", "ordinary")
    for i, t in enumerate(targets):
        near = np.argsort(np.hypot(*(xy - t).T), kind="stable")[:k]
        est, var = _reference(xy[near], z[near], t[None], vg, nv[near], method, kw.get("mean", 0.0))
        assert res.estimate[i] == pytest.approx(est[0], abs=1e-9)
        assert res.variance[i] == pytest.approx(var[0], abs=1e-9)


# ----------------------------------------------------------------- (d) huge noise


@pytest.mark.parametrize("kw", [{}, {"n_neighbours": 10}])
def test_station_with_huge_noise_has_no_weight(kw):
    xy, z, targets, _ = _case(n=25, m=100, seed=11)
    nv = np.zeros(z.size)
    nv[4] = 1e12
    z_bad = z.copy()
    z_bad[4] = 1e4  # an absurd reading: must not leak into the map
    noisy = krige(xy, z_bad, targets, SPH, noise_variance=nv, **kw)
    keep = np.arange(z.size) != 4
    without = krige(xy[keep], z[keep], targets, SPH, **kw)
    if kw:  # local: compare only targets whose neighbourhood holds station 4
        d = np.hypot(*(targets[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        has4 = (np.argsort(d, axis=1)[:, :10] == 4).any(axis=1)
        assert has4.any()
        # with station 4 inert, the set is its 9 other members: kriging from 9 of them
        nine = krige(xy[keep], z[keep], targets, SPH, n_neighbours=9)
        expect = np.where(has4, nine.estimate, without.estimate)
        expect_var = np.where(has4, nine.variance, without.variance)
    else:
        expect, expect_var = without.estimate, without.variance
    np.testing.assert_allclose(noisy.estimate, expect, rtol=0, atol=1e-5)
    np.testing.assert_allclose(noisy.variance, expect_var, rtol=0, atol=1e-5)


def test_noise_lowers_a_station_weight_and_raises_the_variance():
    xy, z, targets, _ = _case(n=20, m=50, seed=12)
    nv = np.zeros(z.size)
    nv[::2] = 5.0
    exact = krige(xy, z, targets, SPH)
    noisy = krige(xy, z, targets, SPH, noise_variance=nv)
    assert np.all(noisy.variance >= exact.variance - 1e-12)


# ----------------------------------------------------------------- (e) bad input


@pytest.mark.parametrize(
    ("nv", "match"),
    [
        (np.zeros(5), r"shape \(10,\)"),
        (np.zeros((10, 1)), r"shape \(10,\)"),
        (np.r_[np.zeros(9), np.nan], "row 9 is NaN"),
        (np.r_[np.zeros(9), np.inf], "row 9 is NaN/inf"),
        (np.r_[np.zeros(3), -1.0, np.zeros(6)], "row 3 is negative"),
    ],
)
def test_bad_noise_variance_is_rejected(nv, match):
    xy, z, targets, _ = _case(n=10, m=5)
    with pytest.raises(KrigingError, match=match):
        krige(xy, z, targets, SPH, noise_variance=nv)


# ----------------------------------------------------------------- netsim run's error model


def test_run_annual_noise_variance_hand_worked():
    """(a/(1 + b/100) · u/100)² + (a·e/100)²/N (netsim.instruments).

    lowcost: b = +10 %, u = 8 %, e = 25 % (own noise_pct) or 20 % (class);
    reference: b = 0, u = 2 %, e = 3 %.
    """
    from types import SimpleNamespace

    import pandas as pd

    from netsim.measure import _annual_noise_variance

    stations = pd.DataFrame(
        {"instrument": ["reference", "lowcost", "lowcost"], "noise_pct": [np.nan, 25.0, np.nan]}
    )
    hourly = np.ones((3, 100))
    hourly[1, :36] = np.nan  # 64 valid hours
    annual = np.array([50.0, 40.0, 30.0])
    got = _annual_noise_variance(SimpleNamespace(stations=stations), hourly, annual)
    expect = [1.0**2 + 1.5**2 / 100, (3.2 / 1.1) ** 2 + 10.0**2 / 64,
              (2.4 / 1.1) ** 2 + 6.0**2 / 100]
    np.testing.assert_allclose(got, expect, rtol=1e-12)
