"""Mathematical properties of kriging, batching/NaN grouping, and bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim import Variogram, krige, krige_chunks
from netsim.errors import KrigingError, NetsimError
from netsim.kriging import _kernels

MODELS = ["spherical", "exponential", "gaussian", "linear", "power", "matern"]


def _net(seed=0, n=25):
    rng = np.random.default_rng(seed)
    return rng.random((n, 2)) * 40_000.0, rng.normal(40.0, 8.0, n), rng


@pytest.mark.parametrize("k", [None, 8])
@pytest.mark.parametrize("model", MODELS)
def test_exact_at_stations_with_zero_nugget_and_variance_zero(model, k):
    xy, z, _ = _net()
    v = Variogram(model, 50.0, 15_000.0, 0.0, smoothness=1.5, exponent=1.2)
    r = krige(xy, z, xy, v, n_neighbours=k)
    np.testing.assert_allclose(r.estimate, z, rtol=1e-9)
    np.testing.assert_allclose(r.variance, 0.0, atol=1e-9 * v.sill)


def test_exact_at_stations_with_nugget_pykrige_convention():
    # gamma(0) = 0 at the target too, so kriging stays exact with a nugget
    xy, z, _ = _net(1)
    r = krige(xy, z, xy, Variogram("spherical", 50.0, 15_000.0, 10.0))
    np.testing.assert_allclose(r.estimate, z, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    model=st.sampled_from(MODELS),
    nugget=st.floats(0.0, 20.0),
    scaling=st.floats(0.3, 3.0),
    angle=st.floats(-90.0, 90.0),
)
def test_weights_sum_to_one_and_variance_non_negative(seed, model, nugget, scaling, angle):
    xy, _, rng = _net(seed, n=12)
    v = Variogram(model, 30.0, 10_000.0, nugget, scaling, angle, smoothness=2.5, exponent=0.8)
    tg = rng.random((40, 2)) * 50_000.0 - 5_000.0
    # Ordinary kriging weights sum to one <=> constant data are reproduced exactly
    r = krige(xy, np.full(12, 7.25), tg, v)
    np.testing.assert_allclose(r.estimate, 7.25, rtol=1e-9)
    assert np.all(r.variance >= 0.0)
    # weights: estimate of unit vectors e_j gives lambda_j
    lam = krige(xy, np.eye(12), tg, v).estimate  # (12, m)
    np.testing.assert_allclose(lam.sum(axis=0), 1.0, atol=1e-9)


def test_weights_sum_to_one_local():
    xy, _, rng = _net(3, n=60)
    tg = rng.random((300, 2)) * 40_000.0
    lam = krige(xy, np.eye(60), tg, Variogram("exponential", 1.0, 8000.0), n_neighbours=7).estimate
    np.testing.assert_allclose(lam.sum(axis=0), 1.0, atol=1e-12)
    assert np.all((np.abs(lam) > 1e-14).sum(axis=0) <= 7)


@pytest.mark.parametrize("k", [None, 6])
@pytest.mark.parametrize("method", ["ordinary", "simple", "universal"])
def test_batched_equals_separate_calls(method, k):
    if method == "universal" and k:
        pytest.skip("universal kriging is global only")
    xy, _, rng = _net(5)
    Z = rng.normal(30.0, 5.0, (7, 25))
    tg = rng.random((100, 2)) * 40_000.0
    kw = {"mean": 30.0} if method == "simple" else {}
    if method == "universal":
        kw["linear_drift"] = True
    v = Variogram("gaussian", 25.0, 12_000.0, 1.0)
    rb = krige(xy, Z, tg, v, method=method, n_neighbours=k, **kw)
    assert rb.estimate.shape == (7, 100) and rb.variance.shape == (1, 100)
    for t in range(7):
        r = krige(xy, Z[t], tg, v, method=method, n_neighbours=k, **kw)
        np.testing.assert_allclose(rb.estimate[t], r.estimate, rtol=1e-12)
        np.testing.assert_allclose(rb.variance[0], r.variance, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [None, 6])
def test_nan_pattern_grouping_equals_per_step(k):
    xy, _, rng = _net(6)
    Z = rng.normal(30.0, 5.0, (9, 25))
    Z[1, [2, 3]] = np.nan
    Z[4, [2, 3]] = np.nan
    Z[5, 10] = np.nan
    Z[7, :23] = np.nan  # only 2 stations: NaN output
    tg = rng.random((50, 2)) * 40_000.0
    v = Variogram("spherical", 25.0, 12_000.0, 1.0)
    rb = krige(xy, Z, tg, v, n_neighbours=k)
    assert rb.variance.shape == (9, 50)
    for t in range(9):
        ok = np.isfinite(Z[t])
        if ok.sum() < 3:
            assert np.all(np.isnan(rb.estimate[t])) and np.all(np.isnan(rb.variance[t]))
            continue
        r = krige(xy[ok], Z[t, ok], tg, v, n_neighbours=k)
        np.testing.assert_allclose(rb.estimate[t], r.estimate, rtol=1e-12)
        np.testing.assert_allclose(rb.variance[t], r.variance, rtol=1e-11, atol=1e-12)


def test_one_d_nan_stations_are_dropped():
    xy, z, rng = _net(7)
    z2 = z.copy()
    z2[[0, 5]] = np.nan
    tg = rng.random((20, 2)) * 40_000.0
    v = Variogram("exponential", 25.0, 12_000.0)
    keep = np.isfinite(z2)
    np.testing.assert_allclose(
        krige(xy, z2, tg, v).estimate, krige(xy[keep], z[keep], tg, v).estimate, rtol=1e-12
    )


def test_chunks_cover_targets_and_match_krige():
    xy, z, rng = _net(8)
    tg = rng.random((1000, 2)) * 40_000.0
    v = Variogram("spherical", 25.0, 12_000.0, 1.0)
    full = krige(xy, z, tg, v)
    got = np.empty(1000, dtype=np.float32)
    for sl, r in krige_chunks(xy, z, tg, v, chunk_size=97, dtype=np.float32):
        got[sl] = r.estimate
    np.testing.assert_allclose(got, full.estimate, rtol=1e-6)
    small = krige(xy, z, tg, v, chunk_size=333)
    np.testing.assert_allclose(small.estimate, full.estimate, rtol=1e-13)


def test_local_with_all_neighbours_equals_global():
    xy, z, rng = _net(9)
    tg = rng.random((100, 2)) * 40_000.0
    v = Variogram("gaussian", 25.0, 12_000.0, 1.0)
    a = krige(xy, z, tg, v, n_neighbours=25)
    b = krige(xy, z, tg, v, n_neighbours=24)
    g = krige(xy, z, tg, v)
    np.testing.assert_allclose(a.estimate, g.estimate, rtol=1e-12)
    assert not np.allclose(b.estimate, g.estimate, rtol=1e-12)


def test_grid_knn_equals_kdtree():
    from scipy.spatial import cKDTree

    from netsim.kriging.api import _Pattern, _Problem

    rng = np.random.default_rng(11)
    xy = rng.random((500, 2)) * 1e5
    xy[:100] *= 0.05  # a dense cluster
    tg = rng.random((3000, 2)) * 1.4e5 - 2e4  # includes targets outside the stations' box
    prob = _Problem(xy, np.zeros(500), Variogram("spherical", 1.0, 1e4), n_neighbours=12)
    pat = _Pattern(steps=np.arange(1), stations=np.arange(500))
    prob.prepare_local(pat)
    start, order, x0, y0, cs, nx, ny, _k = pat.grid
    idx = np.empty((3000, 12), dtype=np.int64)
    _kernels.knn_query(
        tg[:, 0],
        tg[:, 1],
        xy[:, 0].copy(),
        xy[:, 1].copy(),
        start,
        order,
        x0,
        y0,
        cs,
        nx,
        ny,
        12,
        idx,
    )
    _, ref = cKDTree(xy).query(tg, k=12)
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(ref, axis=1))


# ------------------------------------------------------------------ errors
def test_errors_are_netsim_value_errors():
    assert issubclass(KrigingError, NetsimError) and issubclass(KrigingError, ValueError)


@pytest.mark.parametrize(
    "case, match",
    [
        ("two_stations", "at least 3 stations"),
        ("duplicate", "share coordinates"),
        ("nan_xy", "NaN/inf"),
        ("nan_target", "targets: row"),
        ("shape", "values: expected shape"),
        ("xy_shape", r"xy: expected shape \(n, 2\)"),
        ("simple_no_mean", "mean"),
        ("simple_unbounded", "bounded"),
        ("universal_no_drift", "linear_drift"),
        ("drift_shape", "external_drift"),
        ("method", "method"),
        ("singular", "singular"),
        ("not_variogram", "netsim.Variogram"),
        ("few_valid", "only 2 stations"),
    ],
)
def test_bad_input_raises_clear_error(case, match):
    xy, z, _ = _net(12, n=6)
    v = Variogram("spherical", 10.0, 5000.0)
    tg = np.array([[1.0, 2.0]])
    kw: dict = {}
    if case == "two_stations":
        xy, z = xy[:2], z[:2]
    elif case == "duplicate":
        xy[3] = xy[1]
    elif case == "nan_xy":
        xy[2, 0] = np.nan
    elif case == "nan_target":
        tg = np.array([[np.nan, 1.0]])
    elif case == "shape":
        z = z[:5]
    elif case == "xy_shape":
        xy = xy[:, :1]
    elif case == "simple_no_mean":
        kw = {"method": "simple"}
    elif case == "simple_unbounded":
        kw = {"method": "simple", "mean": 1.0}
        v = Variogram("linear", 1.0, 1000.0)
    elif case == "universal_no_drift":
        kw = {"method": "universal"}
    elif case == "drift_shape":
        kw = {"method": "universal", "external_drift": (np.ones(5), np.ones(1))}
    elif case == "method":
        kw = {"method": "cokriging"}
    elif case == "singular":
        # external drift identical to the constant term: drift matrix has rank 1
        kw = {"method": "universal", "external_drift": (np.ones(6), np.ones(1))}
    elif case == "not_variogram":
        v = {"model": "spherical"}
    elif case == "few_valid":
        z = np.array([1.0, 2.0, np.nan, np.nan, np.nan, np.nan])
    with pytest.raises(KrigingError, match=match):
        krige(xy, z, tg, v, **kw)


def test_non_positive_range_or_sill_is_a_variogram_error():
    from netsim.errors import VariogramError

    with pytest.raises(VariogramError, match="range"):
        Variogram("spherical", 1.0, 0.0)
    with pytest.raises(VariogramError, match="psill"):
        Variogram("spherical", -1.0, 10.0)
